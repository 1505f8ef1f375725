"""Where builds live: the build folder and its current snapshot.

Kept apart from graph.build so that everything that only reads a build (queries, reports, the
endpoint) finds it without importing the compiler and its libraries (pydantic, rdflib).
"""

from __future__ import annotations

import os
from pathlib import Path

from graph import constants as C
from graph.errors import RunError, display_path


def default_out(root: Path) -> Path:
    """The build folder: $DKG_BUILD, else build/ in the project."""
    env = os.environ.get("DKG_BUILD")
    return Path(env) if env else root / C.BUILD_DIRNAME


def current_snapshot(out: Path) -> Path:
    """Return the current build's snapshot folder, or raise RunError if there is none."""
    link = out / C.CURRENT_LINK
    target = link.resolve()
    if not (target / C.OUT_MANIFEST).is_file():
        raise RunError(f"no build in {display_path(out)}; run `dkg build` first")
    return target
