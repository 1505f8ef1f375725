"""Progress messages for long work: shown on a terminal, silent when output is piped."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


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


@contextlib.contextmanager
def bar(total: int, what: str, enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for `total` steps of long work; silent when stderr is no terminal.

    Yields a function that advances the bar by n steps. rich is imported only when a bar is drawn.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total <= 1:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(what, total=total)
        yield lambda n: progress.advance(task, n)
