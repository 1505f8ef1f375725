"""Progress messages for long work: shown on a terminal, silent when output is piped."""

from __future__ import annotations

import sys
from collections.abc import Callable


def reporter(quiet: bool = False) -> Callable[[str], None]:
    """Return a function that shows a step of long work on stderr when stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None

    def say(msg: str) -> None:
        sys.stderr.write(f"\r\033[K… {msg}")
        sys.stderr.flush()

    return say


def done() -> None:
    """Clear the progress line."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
