"""Start a real `dkg serve` process on a free port for tests, and stop it."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def start(out: Path, *args: str, root: Path = ROOT) -> tuple[subprocess.Popen[str], str]:
    """Start `dkg serve --port 0` over the build in out; return the process and its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graph",
            "-C",
            str(root),
            "serve",
            "-o",
            str(out),
            "--port",
            "0",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "serving" in line or not line:
                break
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        assert m, f"dkg serve did not start: {line!r}"
        return proc, f"http://{m[1]}:{m[2]}"
    except BaseException:
        stop(proc)
        raise


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a server process (and its workers): politely, then by force after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def serving(out: Path, *args: str, root: Path = ROOT) -> Iterator[str]:
    """Run `dkg serve --port 0` over the build in out; yield its base URL."""
    proc, url = start(out, *args, root=root)
    try:
        yield url
    finally:
        stop(proc)
