"""`dkg report`: readable answers to the questions people come with, each row with its sources.

Every report reads the graph through the backend of graph.query.backend_for (the embedded store, or
a SPARQL server), so it runs unchanged against either. The report modules are imported only when
their command runs, so `dkg report --help` stays instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

from graph.store import endpoint_option

if TYPE_CHECKING:
    from graph.reports.base import Report

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "markdown", "csv", "json")


def report_options(func: F) -> F:
    """The options every report takes: --format, --lang, --quotes, -o."""
    func = endpoint_option(func)
    func = click.option(
        "-o",
        "--output",
        "out",
        default="-",
        show_default=True,
        help="File to write, or - for stdout.",
    )(func)
    func = click.option("--quotes", is_flag=True, help="Print the verbatim quote of every source.")(
        func
    )
    func = click.option(
        "--lang",
        type=click.Choice(["nl", "en"]),
        default="en",
        show_default=True,
        help="Language of labels.",
    )(func)
    func = click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)
    return func


def as_of_option(func: F) -> F:
    """--as-of DATE: the day against which promised dates count as passed."""
    return click.option(
        "--as-of",
        "as_of",
        default=None,
        metavar="YYYY-MM-DD",
        help="Judge promised dates as on this day (default: today).",
    )(func)


def parse_as_of(value: str | None) -> date:
    """Read --as-of (default today)."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; write YYYY-MM-DD", param_hint="--as-of"
        ) from None


def emit(report: Report, fmt: str, quotes: bool, out: str) -> None:
    """Render a report and write it."""
    from graph.query import is_terminal, write_output
    from graph.reports.base import render

    write_output(
        out, render(report, fmt, quotes=quotes, terminal=is_terminal(out) and fmt == "table")
    )


@click.group("report")
def report_command() -> None:
    """Reports on the graph: which actions address which bottleneck, according to whom, with how
    much money, what was promised, and where nothing is done. Every row cites its sources."""


@report_command.command("coverage")
@report_options
@click.pass_context
def coverage_command(ctx: click.Context, fmt: str, lang: str, quotes: bool, out: str) -> None:
    """The matrix of bottlenecks against actions and instruments, each cell stated, inferred via an
    action line, or an analyst's judgement; with the action lines of each bottleneck.

    The JSON form is a stable contract: a list of {"bottleneck": {"id", "label"}, "action_lines":
    [{"id", "label", "primary"}], "actions": [{"id", "label", "standing", "via", "sources":
    [{"document", "locator", "quote"}]}]}.
    """
    from graph.query import backend_for, write_output
    from graph.reports import coverage
    from graph.reports.base import json_text

    cov = coverage.compute(backend_for(ctx), lang)
    if fmt == "json":  # the contract needs none of the tables (a fifth of the time at 100k claims)
        write_output(out, json_text(coverage.as_json(cov)))
    else:
        emit(coverage.report(cov), fmt, quotes, out)


@report_command.command("gaps")
@as_of_option
@report_options
@click.pass_context
def gaps_command(
    ctx: click.Context, as_of: str | None, fmt: str, lang: str, quotes: bool, out: str
) -> None:
    """Where nothing is done: bottlenecks without any action, bottlenecks reached only by inference,
    actions and instruments without money, promises whose date has passed."""
    from graph.query import backend_for
    from graph.reports import gaps

    day = parse_as_of(as_of)
    emit(gaps.report(backend_for(ctx), day, lang), fmt, quotes, out)


@report_command.command("show")
@click.argument("target")
@report_options
@click.pass_context
def show_command(
    ctx: click.Context, target: str, fmt: str, lang: str, quotes: bool, out: str
) -> None:
    """The dossier of one entity or document, by id, label, alias or code (case-insensitive): what it is,
    every claim about it and from it by relation, with sources, and its place in the coverage matrix."""
    from graph.query import backend_for
    from graph.reports import show

    emit(show.report(backend_for(ctx), target, lang), fmt, quotes, out)


@report_command.command("money")
@report_options
@click.pass_context
def money_command(ctx: click.Context, fmt: str, lang: str, quotes: bool, out: str) -> None:
    """Amounts per instrument (with their dates), per action line and per bottleneck, never
    counting one euro twice."""
    from graph.query import backend_for
    from graph.reports import money

    emit(money.report(backend_for(ctx), lang), fmt, quotes, out)


@report_command.command("timeline")
@report_options
@click.pass_context
def timeline_command(ctx: click.Context, fmt: str, lang: str, quotes: bool, out: str) -> None:
    """Every dated event and claim in order, with the precision of its date."""
    from graph.query import backend_for
    from graph.reports import timeline

    emit(timeline.report(backend_for(ctx), lang), fmt, quotes, out)


@report_command.command("commitments")
@as_of_option
@report_options
@click.pass_context
def commitments_command(
    ctx: click.Context, as_of: str | None, fmt: str, lang: str, quotes: bool, out: str
) -> None:
    """What the government promised or declined to do, to whom, by when, with its status."""
    from graph.query import backend_for
    from graph.reports import commitments

    emit(commitments.report(backend_for(ctx), parse_as_of(as_of), lang), fmt, quotes, out)


@report_command.command("sources")
@report_options
@click.pass_context
def sources_command(ctx: click.Context, fmt: str, lang: str, quotes: bool, out: str) -> None:
    """Per source document: what it is, how many claims, which entities, and how many of its
    answers the extraction covers."""
    from graph.query import backend_for
    from graph.reports import sources

    emit(sources.report(backend_for(ctx), lang), fmt, quotes, out)
