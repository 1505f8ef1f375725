"""Where builds live (the build folder and its current snapshot), and writing files whole.

Kept apart from graph.build so that everything that only reads a build (queries, reports, the
endpoint) finds it without importing the compiler and its libraries (pydantic, rdflib).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
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
        raise RunError(f"no build in {display_path(out)}/; run `dkg build` first")
    return target


def reader_lock(snapshot: Path) -> Path:
    """The file a long-lived reader (dkg serve) holds a shared lock on while it reads a snapshot;
    a build does not remove a snapshot whose file is locked (graph.build._prune)."""
    return snapshot.parent / f".{snapshot.name}.readers"


@contextlib.contextmanager
def held_snapshot(out: Path) -> Iterator[Path]:
    """The current snapshot of out, kept whole while the block runs, however many builds meanwhile
    make newer ones. Where the lock cannot be made (a build folder one may only read), the
    snapshot is read without it."""
    for _ in range(10):  # a build may remove the snapshot between finding it and locking it
        snapshot = current_snapshot(out)
        try:
            fh = reader_lock(snapshot).open("a")
        except OSError:
            yield snapshot
            return
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            if (snapshot / C.OUT_MANIFEST).is_file():
                yield snapshot
                return
    raise RunError(f"the builds in {display_path(out)} change too fast to serve one; try again")


def make_folder(folder: Path, target: Path | None = None) -> None:
    """Make folder and its parents, for writing target (default: the folder itself) into; RunError
    naming what is in the way (a file where a folder should be, no permission) if it cannot."""
    what = display_path(target or folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder
        )
        raise RunError(
            f"cannot write {what}: {display_path(blocker)} is a file, not a folder; "
            "choose another path"
        ) from None
    except OSError as exc:
        raise RunError(f"cannot write {what}: {exc.strerror or exc}; choose another path") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then one rename. Makes the
    folders it needs; RunError naming the path if it cannot (a file in the way, no permission, a
    full disk), and then nothing is left behind."""
    if path.is_dir():
        raise RunError(f"{display_path(path)} is a folder; give a file name")
    make_folder(path.parent, path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RunError(
            f"cannot write {display_path(path)}: {exc.strerror or exc}; choose another path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RunError(f"cannot write {display_path(path)}: {exc.strerror or exc}") from None
        raise
