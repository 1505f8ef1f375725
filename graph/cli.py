"""The `dkg` command: one click group whose verbs live beside the code they drive.

Commands are imported only when run (click's lazy-group pattern), so `dkg --help` starts in
milliseconds. Errors are mapped to exit codes here and nowhere else: 0 fine, 1 the data is wrong,
2 it could not run; never a traceback (set DKG_DEBUG=1 to see one).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import click

# verb -> (module, attribute, one-line help shown by `dkg --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": (
        "graph.build",
        "check_command",
        "Check extract/ and ontology/; report every problem.",
    ),
    "build": (
        "graph.build",
        "build_command",
        "Check, compile and write the graph to the build folder.",
    ),
    "schema": (
        "graph.schema",
        "schema_command",
        "Write (or verify) the JSON Schemas editors use for extract/.",
    ),
    "push": (
        "graph.push",
        "push_command",
        "Load the build into a SPARQL 1.1 server, one named graph per document.",
    ),
    "serve": (
        "graph.serve",
        "serve_command",
        "Serve the built graph read-only: a SPARQL endpoint and web pages.",
    ),
    "query": (
        "graph.query",
        "query_command",
        "Run a SPARQL query: inline, from a .rq file, or a named query.",
    ),
    "report": (
        "graph.reports",
        "report_command",
        "Reports: coverage, gaps, show, money, timeline, commitments, sources.",
    ),
    "analyze": (
        "graph.analyze",
        "analyze_command",
        "Network analysis: centrality, paths, communities, robustness.",
    ),
    "export": (
        "graph.export",
        "export_command",
        "Export the graph for Gephi and other tools: GraphML, GEXF, CSV, JSON.",
    ),
    "render": (
        "graph.render",
        "render_command",
        "Draw the graph as one self-contained, offline HTML page (or the coverage matrix as SVG).",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from graph.errors import DataError, DkgError, ExitCode, printable

        try:
            return super().invoke(ctx)
        except DataError as exc:
            for problem in exc.problems:
                click.echo(printable(str(problem)), err=True)
            click.echo(exc.summary, err=True)
            ctx.exit(int(exc.exit_code))
        except DkgError as exc:  # may quote a server's answer: shown, never obeyed
            click.echo(printable(f"error: {exc}"), err=True)
            ctx.exit(int(exc.exit_code))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted; the previous build, if any, is untouched", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(int(ExitCode.OK))
        except Exception as exc:  # the CLI boundary: report, never a traceback
            if os.environ.get("DKG_DEBUG"):
                raise
            click.echo(
                printable(
                    f"internal error: {type(exc).__name__}: {exc} (set DKG_DEBUG=1 for details)"
                ),
                err=True,
            )
            ctx.exit(int(ExitCode.RUN))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "-C",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (holding extract/ and ontology/). Default: found from the current folder.",
)
@click.version_option(package_name="dkg")
@click.pass_context
def main(ctx: click.Context, project: Path | None) -> None:
    """dkg: a knowledge graph of Dutch defence-industry financing, from parliamentary documents.

    Every edge comes from a claim with its source document, locator and verbatim quote.
    """
    from graph.constants import project_root

    ctx.obj = {"root": project.resolve() if project else project_root()}


def root_of(ctx: click.Context) -> Path:
    """The project folder chosen on the command line."""
    root = ctx.find_root().obj["root"]
    assert isinstance(root, Path)
    return root


_ENDS_BY_EXIT = False  # set by run(): this process ends with os._exit
_KEPT: list[object] = []  # what it need not free before then (see keep_to_exit)


def keep_to_exit(value: object) -> None:
    """Hold a large value until the process ends, if it ends through run(), rather than free it as
    soon as it is let go of: os._exit gives the whole heap back at once, where freeing the
    in-memory store of 100,000 claims took 0.6 s of the last seconds of a build. A process that
    does not end through run() (a test, a program using the package) frees it as usual."""
    if _ENDS_BY_EXIT:
        _KEPT.append(value)


def run() -> None:
    """The `dkg` and `python -m graph` entry point: run the command, then end the process without
    tearing its heap down.

    A build holds millions of objects (at 100,000 claims, an in-memory store of 1.8 million quads
    among them), and freeing them one by one as the interpreter shuts down took 0.9-1.4 s after the
    output was complete and durable. Everything a normal exit does that matters is done first, in
    the same order: threads that are not daemons are waited for, the exit handlers run and the
    standard streams are flushed. (Outputs never depend on the heap being freed: a build makes its
    files durable before it switches to them, so that a crash cannot leave half of them.)
    """
    global _ENDS_BY_EXIT
    _ENDS_BY_EXIT = True
    try:
        main()
        code: Any = 0  # (click's standalone mode always exits, with SystemExit)
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # as Python does with sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe or stream: nothing more can be said there
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
