"""The project's exceptions and the problem records that checks report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

# Characters that can hide or reorder what a reader sees (a regex character class): C0 and C1
# controls but tab and line breaks (terminal escapes, NUL) and the bidirectional overrides of
# "Trojan source" attacks. A curated text never needs them (graph.yamlio refuses them).
CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
# What a terminal obeys instead of showing: those, and a carriage return, which overwrites a line.
# Text from a remote server or a query is shown, never obeyed.
_UNSAFE = re.compile(f"[\r{CONTROLS}]")


def printable(text: str) -> str:
    """text with every control character written out as an escape ('\\x1b'); tabs and line
    breaks stay."""
    return _UNSAFE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def has_controls(text: str) -> bool:
    """Whether printable(text) would change it."""
    return _UNSAFE.search(text) is not None


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """n and the noun, plural unless n is 1: "1 answer", "3 answers", "0 entities"."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


class ExitCode(IntEnum):
    """Exit codes of the CLI, as pySHACL uses them: fine, data wrong, could not run."""

    OK = 0
    DATA = 1
    RUN = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can."""

    file: str
    line: int = 0
    col: int = 0
    message: str = ""
    severity: str = "ERROR"

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.col:
                where += f":{self.col}"
        return f"{self.severity} {where} {self.message}"


class DkgError(Exception):
    """Base of all errors the CLI turns into a message and an exit code."""

    exit_code = ExitCode.RUN


class RunError(DkgError):
    """The tool could not run: missing files, no build yet, a server that does not answer."""

    exit_code = ExitCode.RUN


class DataError(DkgError):
    """The data is wrong; carries every problem found."""

    exit_code = ExitCode.DATA

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        """The closing line of a report of these problems: "1 problem found", "3 problems found"."""
        return counted(len(self.problems), "problem") + " found"


class QueryError(DkgError):
    """A SPARQL query is malformed, or was stopped by the timeout."""

    exit_code = ExitCode.DATA


def display_path(path: Path, root: Path | None = None) -> str:
    """Show a path relative to the project root where possible."""
    try:
        return str(path.absolute().relative_to((root or Path.cwd()).absolute()))
    except ValueError:
        return str(path)
