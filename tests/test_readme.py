"""The README's tour shows real output: every `$ dkg ...` in it is run on a copy of the project, and
what it prints must be what the README says, line for line. A line `...` in the README stands for
any number of lines it leaves out. The block that talks to a SPARQL server runs against a real
Oxigraph server on a free port; `dkg serve`, which never returns, is tested in test_serve.py."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_store_remote import oxigraph_server

README = ROOT / "README.md"
README_SERVER = "http://127.0.0.1:7878"  # where the README's Oxigraph server listens

Command = tuple[str, str]  # the command line, and what the README shows it print


def blocks(text: str) -> list[list[Command]]:
    """The `$ dkg` commands of each fenced block in text that has any, with their output."""
    found = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        commands: list[list[str]] = []
        lines = iter(block.splitlines(keepends=True))
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.count("'") % 2:  # a quoted query that goes on over several lines
                    command += next(lines)
                commands.append([command.strip(), ""])
            elif commands:
                commands[-1][1] += line
        ours = [(c, out) for c, out in commands if re.match(r"(\w+=\S+ )*dkg ", c)]
        if ours and not any(c.startswith("dkg serve") for c, _ in ours):
            found.append(ours)
    return found


def matches(expected: str, actual: str) -> bool:
    """Whether actual is expected, where a line '...' in expected stands for any lines."""
    parts = [
        "(?:.*\\n)*?" if line == "..." else re.escape(line) + "\\n"
        for line in expected.splitlines()
    ]
    return re.fullmatch("".join(parts), actual) is not None


def run(project: Path, command: str) -> str:
    """Run a README command line in bash, as a reader would, with `dkg` this checkout's; return
    what it prints, stdout and stderr together."""
    script = f'dkg() {{ "{sys.executable}" -m graph "$@"; }}\n{command}'
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    return proc.stdout


ALL = blocks(README.read_text())
TOUR = [c for block in ALL if not any(README_SERVER in c for c, _ in block) for c in block]
SERVER_BLOCK = [c for block in ALL if any(README_SERVER in c for c, _ in block) for c in block]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project, built, as a reader has it after the README's first command."""
    root = tmp_path_factory.mktemp("readme") / "dkg"
    for folder in ("extract", "ontology", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    subprocess.run([sys.executable, "-m", "graph", "build", "-q"], cwd=root, check=True)
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with oxigraph_server(tmp_path / "oxigraph", "--union-default-graph") as base:
        yield base


def test_the_tour_has_the_commands_it_promises() -> None:
    verbs = {shlex.split(c)[1] for c, _ in TOUR}
    assert {"check", "build", "report", "query", "analyze", "export", "render"} <= verbs
    assert len(TOUR) >= 20
    assert any(" push " in c for c, _ in SERVER_BLOCK)


@pytest.mark.parametrize(("command", "expected"), TOUR, ids=[c[:60] for c, _ in TOUR])
def test_readme_shows_what_the_command_prints(project: Path, command: str, expected: str) -> None:
    actual = run(project, command)
    assert matches(expected, actual), (
        f"README.md shows other output for `{command}`; it now prints:\n{actual}"
    )


@pytest.mark.server
def test_readme_server_session_is_what_it_prints(project: Path, server: str) -> None:
    """The block that builds, pushes to Oxigraph and queries it, in order, on a server of its own
    (the README's port 7878 replaced by the free port the server got)."""
    wrong = []
    for command, expected in SERVER_BLOCK:
        actual = run(project, command.replace(README_SERVER, server))
        if not matches(expected.replace(README_SERVER, server), actual):
            wrong.append(f"`{command}` now prints:\n{actual}")
    assert wrong == [], "\n".join(wrong)


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
