"""The entry point (`dkg`, `python -m graph`) ends its process without tearing the heap down
(graph.cli.run): what a normal exit does must still happen, output and exit code included."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT

# output to a pipe is block-buffered unless PYTHONUNBUFFERED says otherwise: what is not flushed
# before os._exit is lost
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=BUFFERED,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_output_to_a_pipe_and_the_exit_code_survive(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "graph", "--help"],
        env=BUFFERED,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Usage:" in ok.stdout and "render" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "graph", "-C", str(tmp_path), "query", "no-such-query"],
        env=BUFFERED,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() and "Traceback" not in bad.stderr


def test_threads_and_exit_handlers_finish_before_the_process_ends(tmp_path: Path) -> None:
    done = tmp_path / "done"
    result = _python(
        f"""
        import atexit, sys, threading, time
        from pathlib import Path
        from graph.cli import run

        def late():
            time.sleep(0.3)
            Path({str(done)!r}).write_text("written")

        threading.Thread(target=late).start()
        atexit.register(lambda: print("exit handler ran"))
        sys.argv = ["dkg", "--version"]
        run()
        """,
        ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "version" in result.stdout
    assert result.stdout.rstrip().endswith("exit handler ran")
    assert done.read_text() == "written"


def test_a_value_kept_to_exit_is_freed_only_outside_run() -> None:
    """graph.cli.keep_to_exit spares a command's process freeing what it holds (a build's
    in-memory store) just before os._exit; anywhere else the value is freed as usual."""
    result = _python(
        """
        import sys
        import click
        from graph import cli

        class Big:
            def __del__(self):
                print("freed", flush=True)

        value = Big()
        cli.keep_to_exit(value)
        del value
        print("let go outside run", flush=True)

        @click.command()
        def demo():
            kept = Big()
            cli.keep_to_exit(kept)
            del kept
            print("let go in a command", flush=True)

        cli.COMMANDS["demo"] = ("__main__", "demo", "a command of this test")
        sys.argv = ["dkg", "demo"]
        cli.run()
        """,
        ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["freed", "let go outside run", "let go in a command"]
