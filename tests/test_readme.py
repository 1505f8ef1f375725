"""The README's tour shows real output: every `$ dkg ...` in it is run on a copy of the project, and
what it prints must be what the README says, line for line. A line `...` in the README stands for
any number of lines it leaves out."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"

# Commands that need a server beside them: tests/test_store_remote.py and test_serve.py run those.
NEEDS_SERVER = ("dkg serve", "dkg push", "--endpoint", "DKG_ENDPOINT=")


def commands(text: str) -> list[tuple[str, str]]:
    """(command, expected output) for every `$ dkg` line of the fenced blocks in text, but those
    of a block that needs a server."""
    found: list[tuple[str, str]] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        if any(f"$ {s}" in block or f" {s}" in block for s in NEEDS_SERVER):
            continue
        current: list[str] | None = None  # [command, output]
        lines = iter(block.splitlines(keepends=True))
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.count("'") % 2:  # a quoted query that goes on over several lines
                    command += next(lines)
                current = [command.strip(), ""]
                found.append(current)  # type: ignore[arg-type]
            elif current is not None:
                current[1] += line
    return [(c, out) for c, out in found if c.startswith("dkg ")]


def matches(expected: str, actual: str) -> bool:
    """Whether actual is expected, where a line '...' in expected stands for any lines."""
    parts = [
        "(?:.*\\n)*?" if line == "..." else re.escape(line) + "\\n"
        for line in expected.splitlines()
    ]
    return re.fullmatch("".join(parts), actual) is not None


TOUR = commands(README.read_text())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project, built, as a reader has it after the README's first command."""
    root = tmp_path_factory.mktemp("readme") / "dkg"
    for folder in ("extract", "ontology", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    subprocess.run([sys.executable, "-m", "graph", "build", "-q"], cwd=root, check=True)
    return root


def test_the_tour_has_the_commands_it_promises() -> None:
    verbs = {shlex.split(c)[1] for c, _ in TOUR}
    assert {"check", "build", "report", "query", "analyze", "export", "render"} <= verbs
    assert len(TOUR) >= 20


@pytest.mark.parametrize(("command", "expected"), TOUR, ids=[c[:60] for c, _ in TOUR])
def test_readme_shows_what_the_command_prints(project: Path, command: str, expected: str) -> None:
    args = shlex.split(command, comments=True)[1:]
    proc = subprocess.run(
        [sys.executable, "-m", "graph", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        timeout=300,
    )
    assert matches(expected, proc.stdout), (
        f"README.md shows other output for `{command}`; it now prints:\n{proc.stdout}"
    )


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        ("a\nb\n", "a\nb\n", True),
        ("a\nb\n", "a\nc\n", False),
        ("a\n...\nd\n", "a\nb\nc\nd\n", True),
        ("a\n...\nd\n", "a\nd\n", True),
        ("a\n...\nd\n", "a\nb\nc\n", False),
        ("a\n", "a\nb\n", False),
        ("a.b\n", "axb\n", False),
    ],
)
def test_elision_matches_only_what_it_should(expected: str, actual: str, same: bool) -> None:
    assert matches(expected, actual) is same
