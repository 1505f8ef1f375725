"""Shared fixtures: the project's real data, built once per test session into a temporary folder.

Tests never write into the working tree's build/ folder: they build into tmp folders, so several
test runs (and a developer's own build) never disturb each other.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The real project folder (extract/, ontology/, examples/)."""
    return ROOT


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real project built once into a temporary build folder; returns that folder."""
    from graph.build import build

    out = tmp_path_factory.mktemp("build")
    build(ROOT, out)
    return out


@pytest.fixture(scope="session")
def backend(built: Path):  # type: ignore[no-untyped-def]
    """The embedded store of the session build."""
    from graph.store import open_backend

    return open_backend(ROOT, built)


def copy_project(dest: Path, extract: Path | None = None) -> Path:
    """Copy the ontology and an extract/ folder (default: tests/data/valid/extract) to dest."""
    shutil.copytree(ROOT / "ontology", dest / "ontology")
    shutil.copytree(extract or DATA / "valid" / "extract", dest / "extract")
    return dest


@pytest.fixture
def valid_project(tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the smallest valid corpus with the real ontology."""
    yield copy_project(tmp_path / "project")


# --- What the robustness tests tried (tests/test_fuzz.py, test_faults.py, test_injection*.py,
# test_load.py): each adds to the tally, and the run ends with a short summary of it.
TALLY = pytest.StashKey[Counter[str]]()


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Counter[str]:
    """Count hostile inputs tried and faults survived, for the summary at the end of the run."""
    return request.config.stash.setdefault(TALLY, Counter())


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print what the robustness tests tried and survived."""
    counts = config.stash.get(TALLY, None)
    if counts:
        terminalreporter.write_sep("-", "hostile inputs tried, faults survived")
        for what, n in sorted(counts.items()):
            terminalreporter.write_line(f"{n:>8,}  {what}")
