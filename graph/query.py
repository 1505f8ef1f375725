"""Ask the graph: `dkg query` runs SPARQL given inline, from a .rq file, or by the name of a stored
query in examples/queries/, and writes the results as a table, CSV, TSV, SPARQL results JSON or
Turtle.

Queries go through graph.store's Backend (the embedded store, or a SPARQL server), so a query that
works here works against any SPARQL 1.1 endpoint. The ontology's prefixes are predeclared. The
output helpers here (tables, atomic writes, the backend of a command) are shared with the reports.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from graph import constants as C
from graph.cli import root_of
from graph.errors import (
    QueryError,
    RunError,
    counted,
    display_path,
    has_controls,
    printable,
)
from graph.layout import write_atomic
from graph.store import endpoint_option

if TYPE_CHECKING:
    from graph.store import Backend, Table, Term

T = TypeVar("T")

QUERIES_DIRNAME = "queries"
DEFAULT_TIMEOUT = 60.0
SELECT_FORMATS = ("table", "csv", "tsv", "json")
GRAPH_FORMATS = ("turtle", "ntriples", "table")
XSD_STRING = C.PREFIXES["xsd"] + "string"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$")
_CURIE = re.compile(r"^([A-Za-z][\w-]*):([\w][\w.-]*)$")
_IRI = re.compile(r'^<([^<>"{}|^`\\\s]+)>$')
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARAM = re.compile(r"VALUES\s+\?(\w+)\s*\{([^{}]*)\}", re.IGNORECASE)


# --- The backend of a command -------------------------------------------------------------------


def backend_for(ctx: click.Context) -> Backend:
    """Open the graph a command reads: the one place every query and report gets its backend."""
    from graph.store import open_backend

    return open_backend(root_of(ctx))


# --- Query text ---------------------------------------------------------------------------------

_PROLOGUE = re.compile(r"\s+|#[^\n]*|PREFIX\s+[^\s:]*:\s*<[^>]*>|BASE\s*<[^>]*>", re.IGNORECASE)
_FORM = re.compile(r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)
_UPDATE = re.compile(r"(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.IGNORECASE)


def query_form(text: str) -> str:
    """Return SELECT, ASK, CONSTRUCT or DESCRIBE: the first keyword after comments and prefixes."""
    pos = 0
    while m := _PROLOGUE.match(text, pos):
        if m.end() == pos:
            break
        pos = m.end()
    if m := _FORM.match(text, pos):
        return m[1].upper()
    if _UPDATE.match(text, pos):
        raise QueryError(
            "dkg query only reads: SPARQL updates (INSERT, DELETE, ...) are not allowed"
        )
    if pos >= len(text):
        raise QueryError("the query is empty")
    raise QueryError(
        "not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE after any PREFIX lines"
    )


@dataclass(frozen=True)
class StoredQuery:
    """A named query of examples/queries/: one competency question."""

    name: str
    path: Path
    question: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The query text."""
        return self.path.read_text(encoding="utf-8")


def queries_dir(root: Path) -> Path:
    """The folder of named queries."""
    return root / C.EXAMPLES_DIRNAME / QUERIES_DIRNAME


def parameters(text: str) -> dict[str, str]:
    """The query's parameters: VALUES blocks of one variable and one value (its default)."""
    return {m[1]: m[2].strip() for m in _PARAM.finditer(text) if len(m[2].split()) == 1}


def describe_query(path: Path) -> StoredQuery:
    """Read a stored query's question (its leading # comment) and parameters."""
    text = path.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    question = " ".join(lines[: lines.index("")] if "" in lines else lines)
    return StoredQuery(path.stem, path, question, parameters(text))


def stored_queries(root: Path) -> list[StoredQuery]:
    """Every named query, by name."""
    folder = queries_dir(root)
    return [describe_query(p) for p in sorted(folder.glob("*.rq"))] if folder.is_dir() else []


@dataclass(frozen=True)
class QueryText:
    """A query to run, and where it came from (for messages)."""

    text: str
    origin: str


def resolve_query(root: Path, given: str) -> QueryText:
    """Turn the QUERY argument into text: '-' (stdin), a .rq file, a stored query's name, or SPARQL."""
    if given == "-":
        return QueryText(sys.stdin.read(), "<stdin>")
    stripped = given.strip()
    if re.fullmatch(r"[\w./\\-]+", stripped):
        path = Path(stripped)
        if path.suffix == ".rq" or path.is_file():
            if not path.is_file():
                raise RunError(f"no query file {stripped}")
            return QueryText(path.read_text(encoding="utf-8"), display_path(path))
        stored = queries_dir(root) / f"{stripped}.rq"
        if stored.is_file():
            return QueryText(stored.read_text(encoding="utf-8"), display_path(stored, root))
        if _FORM.match(stripped) is None:
            from graph.load import did_you_mean

            names = [q.name for q in stored_queries(root)]
            hint = did_you_mean(stripped, names)
            raise QueryError(f"no stored query {stripped!r}{hint}; `dkg query --list` shows them")
    return QueryText(given, "<query>")


def parse_value(value: str) -> Term:
    """Read a --bind value: an entity id, <iri>, prefix:local, or a "quoted" literal."""
    from graph.store import Term

    if _ID.match(value):
        return Term("iri", C.ID + value)
    if m := _IRI.match(value):
        return Term("iri", m[1])
    if (m := _CURIE.match(value)) and m[1] in C.PREFIXES:
        return Term("iri", C.PREFIXES[m[1]] + m[2])
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return Term("literal", value[1:-1])
    raise QueryError(
        f'cannot read {value!r} as a value: give an entity id (secfund), <iri>, prefix:local or a "quoted" text'
    )


def bind(text: str, values: dict[str, Term]) -> str:
    """Set the query's parameters: replace `VALUES ?name {...}`, or add a trailing VALUES clause.

    QueryError for a name the query does not use (outside its comments): a trailing VALUES of an
    unused variable changes nothing, so a misspelt name would return every row in silence.
    """
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for name, term in values.items():
        if not _VAR.match(name):
            raise QueryError(f"{name!r} is not a variable name")
        if not re.search(rf"[?$]{name}(?![A-Za-z0-9_])", code):
            known = ", ".join(f"?{p}" for p in parameters(code)) or "none"
            raise QueryError(f"the query has no variable ?{name} to bind (its parameters: {known})")
        block = re.compile(rf"VALUES\s+\?{name}\s*\{{[^{{}}]*\}}", re.IGNORECASE)
        replacement = f"VALUES ?{name} {{ {term.n3()} }}"
        if block.search(text):
            text = block.sub(replacement.replace("\\", "\\\\"), text)
        else:
            text = f"{text.rstrip()}\n{replacement}\n"
    return text


# --- Running ------------------------------------------------------------------------------------


def with_timeout(run: Callable[[], T], seconds: float | None) -> T:
    """Run a query, giving up after `seconds`.

    pyoxigraph cannot cancel a running query, so it runs in a daemon thread that is abandoned on
    timeout (pyoxigraph releases the GIL while it evaluates); the command then ends the process.
    """
    if not seconds:
        return run()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run()
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            box["error"] = exc

    worker = threading.Thread(target=target, name="dkg-query", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise QueryError(
            f"the query was stopped after {seconds:g} s; narrow it down, or raise --timeout"
        )
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def run_query(
    backend: Backend, text: str, timeout: float | None = DEFAULT_TIMEOUT
) -> Table | bool | bytes:
    """Run any query form: a Table for SELECT, a bool for ASK, N-Triples for CONSTRUCT/DESCRIBE."""
    form = query_form(text)

    def run() -> Table | bool | bytes:
        if form == "SELECT":
            return backend.select(text)
        if form == "ASK":
            return backend.ask(text)
        return backend.construct(text)

    return with_timeout(run, timeout)


# --- Writing results ----------------------------------------------------------------------------


def curie(value: str) -> str:
    """Shorten an IRI with the predeclared prefixes (id:secfund); leave others whole."""
    best = ""
    for prefix, ns in C.PREFIXES.items():
        if value.startswith(ns) and len(ns) > len(C.PREFIXES.get(best, "")):
            local = value[len(ns) :]
            if re.fullmatch(r"[\w][\w.+-]*|", local) and not local.endswith("."):
                best = prefix
    return f"{best}:{value[len(C.PREFIXES[best]) :]}" if best else f"<{value}>"


def show_term(term: Term | None) -> str:
    """A term as a person reads it in a table: CURIEs for IRIs, the text of literals."""
    if term is None:
        return ""
    if term.kind == "iri":
        return curie(term.value)
    if term.kind == "bnode":
        return f"_:{term.value}"
    return term.value


def to_csv(table: Table) -> str:
    """SPARQL 1.1 query results CSV: plain values, CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(table.variables)
    for row in table.rows:
        writer.writerow(
            [
                "" if t is None else (f"_:{t.value}" if t.kind == "bnode" else t.value)
                for t in (row.get(v) for v in table.variables)
            ]
        )
    return buf.getvalue()


def _tsv_term(term: Term | None) -> str:
    if term is None:
        return ""
    return term.n3().replace("\t", "\\t")


def to_tsv(table: Table) -> str:
    """SPARQL 1.1 query results TSV: terms in Turtle syntax, '?var' headers."""
    lines = ["\t".join(f"?{v}" for v in table.variables)]
    lines += ["\t".join(_tsv_term(row.get(v)) for v in table.variables) for row in table.rows]
    return "\n".join(lines) + "\n"


def json_term(term: Term) -> dict[str, str]:
    """One term in the SPARQL 1.1 query results JSON format."""
    if term.kind == "iri":
        return {"type": "uri", "value": term.value}
    if term.kind == "bnode":
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.lang:
        out["xml:lang"] = term.lang
    elif term.datatype and term.datatype != XSD_STRING:
        out["datatype"] = term.datatype
    return out


def to_json(result: Table | bool) -> str:
    """SPARQL 1.1 query results JSON, for SELECT and ASK."""
    if isinstance(result, bool):
        doc: dict[str, Any] = {"head": {}, "boolean": result}
    else:
        bindings = [
            {v: json_term(t) for v in result.variables if (t := row.get(v)) is not None}
            for row in result.rows
        ]
        doc = {"head": {"vars": result.variables}, "results": {"bindings": bindings}}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _sorted_triples(ntriples: bytes) -> list[Any]:
    from pyoxigraph import RdfFormat, parse

    triples = list(parse(ntriples, format=RdfFormat.N_TRIPLES))
    return sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def to_rdf(ntriples: bytes, fmt: str) -> str:
    """Graph results as sorted Turtle (with the predeclared prefixes) or N-Triples."""
    from pyoxigraph import RdfFormat, serialize

    triples = _sorted_triples(ntriples)
    if fmt == "ntriples":
        return (serialize(triples, format=RdfFormat.N_TRIPLES) or b"").decode()
    used = ntriples.decode("utf-8", "replace")
    prefixes = {k: v for k, v in C.PREFIXES.items() if f"<{v}" in used}
    return (serialize(triples, format=RdfFormat.TURTLE, prefixes=prefixes) or b"").decode()


def graph_table(ntriples: bytes) -> Table:
    """Graph results as a subject/predicate/object table."""
    from graph.store import Table, _term

    rows = [
        {"subject": _term(t.subject), "predicate": _term(t.predicate), "object": _term(t.object)}
        for t in _sorted_triples(ntriples)
    ]
    return Table(["subject", "predicate", "object"], rows)


RICH_MAX_ROWS = 1000  # rich measures every cell: beyond this, the plain renderer is much faster


WORD_MAX = 24  # a longer word (an IRI, a long id) may be broken to fit


def _column_widths(
    natural: list[int], available: int, words: list[int], floor: int = 10
) -> list[int]:
    """Shrink the widest columns first until the table fits (never below floor, or the header).

    words: the longest word of each column; a column is kept at least that wide (up to
    WORD_MAX, less if the table cannot fit otherwise), so that a type or a name is not broken
    in two while another column can wrap between its words instead.
    """
    if sum(natural) <= available:
        return natural
    least = [min(n, floor) for n in natural]
    for whole in range(WORD_MAX, floor, -1):  # keep the words whole up to the longest that fit
        keep = [min(n, max(floor, min(w, whole))) for n, w in zip(natural, words, strict=True)]
        if sum(keep) <= available:
            least = keep
            break
    lo, hi = 1, max(natural)
    while lo < hi:  # the largest cap at which the table still fits
        cap = (lo + hi + 1) // 2
        if sum(max(min(n, cap), m) for n, m in zip(natural, least, strict=True)) <= available:
            lo = cap
        else:
            hi = cap - 1
    return [max(min(n, lo), m) for n, m in zip(natural, least, strict=True)]


_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # where str.splitlines splits
_PLAIN_WORDS = re.compile(r"[^\s-]+(?: [^\s-]+)*")


def _fill(line: str, width: int) -> list[str]:
    """textwrap.wrap(line, width) for the common case of words without hyphens, one space apart and
    none longer than width (a cell listing many sources): the same lines, ten times faster.
    Empty for any other line."""
    if not _PLAIN_WORDS.fullmatch(line):
        return []
    words = line.split(" ")
    if max(map(len, words)) > width:
        return []
    lines, current = [], words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def plain_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    caption: str | None = None,
    width: int = 120,
) -> str:
    """Render an ASCII table that fits in width, wrapping long cells; fast for any number of rows."""
    import textwrap

    n = len(columns)
    natural = [max(len(line) for line in str(h).splitlines() or [""]) for h in columns]
    for row in rows:
        for i, cell in enumerate(row):
            for line in cell.splitlines():
                natural[i] = max(natural[i], len(line))
    available = max(n, width - (3 * n + 1))
    words = [0] * n
    if sum(natural) > available:  # the longest word of each column, to keep it whole
        for i, h in enumerate(columns):
            words[i] = max(map(len, str(h).split()), default=0)
        for row in rows:
            for i, cell in enumerate(row):
                if len(cell) > words[i]:
                    words[i] = max(words[i], max(map(len, cell.split()), default=0))
    widths = _column_widths(natural, available, words)

    def wrapped(cell: str, w: int) -> list[str]:
        out: list[str] = []
        for line in cell.splitlines() or [""]:
            if len(line) <= w:
                out.append(line)
            else:
                out += (
                    _fill(line, w)
                    or textwrap.wrap(line, w, break_long_words=True, break_on_hyphens=True)
                    or [""]
                )
        return out

    def render_row(cells: Sequence[str]) -> list[str]:
        if all(len(c) <= w and not _BREAK.search(c) for c, w in zip(cells, widths, strict=True)):
            return [
                "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
            ]
        parts = [wrapped(c, w) for c, w in zip(cells, widths, strict=True)]
        height = max(len(p) for p in parts)
        return [
            "| "
            + " | ".join(
                (p[k] if k < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)
            )
            + " |"
            for k in range(height)
        ]

    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [title] if title else []
    lines += [rule, *render_row([str(h) for h in columns]), rule]
    for row in rows:
        lines += render_row(row)
    lines.append(rule)
    if caption:
        lines += textwrap.wrap(caption, width) or [""]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def text_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    caption: str | None = None,
    terminal: bool = False,
) -> str:
    """Render a readable table: boxed and coloured in a terminal (rich), plain text otherwise.

    Every cell is shown as text: a control character (from a remote server, or a query's own
    literal) is written out as an escape rather than sent to the terminal, and a tab as a space.
    """

    def shown(text: str) -> str:
        return printable(text).replace("\t", " ")

    rows = [list(row) for row in rows]
    everything = "\n".join(
        [*columns, *(c for row in rows for c in row), title or "", caption or ""]
    )
    if "\t" in everything or has_controls(everything):  # rare: then cell by cell
        columns = [shown(c) for c in columns]
        rows = [[shown(c) for c in row] for row in rows]
        title = shown(title) if title is not None else None
        caption = shown(caption) if caption is not None else None
    width = int(os.environ.get("COLUMNS") or 120)
    if not terminal or len(rows) > RICH_MAX_ROWS:
        return plain_table(columns, rows, title=title, caption=caption, width=width)
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD if terminal else box.ASCII2,
        title_justify="left",
        caption_justify="left",
        header_style="bold" if terminal else "",
        show_lines=False,
    )
    for header in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=None if terminal else width,
        force_terminal=terminal,
        color_system="auto" if terminal else None,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def is_terminal(out: str) -> bool:
    """Whether output goes to an interactive terminal."""
    return out == "-" and sys.stdout.isatty()


def write_output(out: str, text: str) -> None:
    """Write text to a file whole or not at all (see graph.layout.write_atomic), or to stdout
    for '-'."""
    if out == "-":
        click.echo(text, nl=False)
        return
    write_atomic(Path(out), text.encode("utf-8"))


def format_result(result: Table | bool | bytes, fmt: str | None, terminal: bool) -> str:
    """Render a query result in the chosen format."""
    if isinstance(result, bytes):
        fmt = fmt or "turtle"
        if fmt not in GRAPH_FORMATS:
            raise QueryError(
                f"a CONSTRUCT or DESCRIBE result is a graph: use --format {', '.join(GRAPH_FORMATS)}"
            )
        if fmt == "table":
            return format_result(graph_table(result), "table", terminal)
        return to_rdf(result, fmt)
    fmt = fmt or "table"
    if fmt not in SELECT_FORMATS:
        raise QueryError(
            f"--format {fmt} is for CONSTRUCT and DESCRIBE; a SELECT or ASK result takes {', '.join(SELECT_FORMATS)}"
        )
    if isinstance(result, bool):
        if fmt == "json":
            return to_json(result)
        return ("true" if result else "false") + ("\r\n" if fmt == "csv" else "\n")
    if fmt == "csv":
        return to_csv(result)
    if fmt == "tsv":
        return to_tsv(result)
    if fmt == "json":
        return to_json(result)
    rows = [[show_term(row.get(v)) for v in result.variables] for row in result.rows]
    n = len(rows)
    return text_table(result.variables, rows, caption=counted(n, "row"), terminal=terminal)


def format_list(queries: list[StoredQuery], terminal: bool) -> str:
    """The named queries as a table: name, question, parameters."""
    rows = [
        [q.name, q.question, ", ".join(f"?{k} = {v}" for k, v in q.parameters.items())]
        for q in queries
    ]
    return text_table(
        ["name", "question", "parameters (--bind NAME=VALUE)"], rows, terminal=terminal
    )


# --- The command ---------------------------------------------------------------------------------


@click.command("query")
@click.argument("query", required=False)
@click.option(
    "--list", "list_", is_flag=True, help="List the named queries of examples/queries/ and exit."
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "tsv", "json", "turtle", "ntriples"]),
    default=None,
    help="table (default for SELECT/ASK), csv, tsv, json (SPARQL results JSON), turtle (default for CONSTRUCT/DESCRIBE) or ntriples.",
)
@click.option(
    "-o", "--output", "out", default="-", show_default=True, help="File to write, or - for stdout."
)
@click.option(
    "-b",
    "--bind",
    "binds",
    multiple=True,
    metavar="NAME=VALUE",
    help='Set a parameter (a VALUES ?NAME block, or any variable the query uses) to an entity id, <iri>, prefix:local or "text". Repeatable.',
)
@click.option(
    "-t",
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Stop a query that runs longer than this many seconds (0: no limit).",
)
@endpoint_option
@click.pass_context
def query_command(
    ctx: click.Context,
    query: str | None,
    list_: bool,
    fmt: str | None,
    out: str,
    binds: tuple[str, ...],
    timeout: float,
) -> None:
    """Run a SPARQL query: QUERY is SPARQL text, a .rq file, the name of a stored query, or - for stdin.

    The prefixes of the ontology and the standard vocabularies (dkg:, id:, claim:, skos:, prov:,
    schema:, ...) are predeclared. The default graph is the union of every named graph, unless
    the query names its graphs with FROM.

    \b
    Examples:
      dkg query --list
      dkg query bottlenecks-per-action-line
      dkg query claims-of-document --bind document=antwoorden-mkb-defensiebedrijven-2025
      dkg query 'SELECT ?x ?label WHERE { ?x a dkg:Instrument ; skos:prefLabel ?label }' -f csv
    """
    root = root_of(ctx)
    terminal = is_terminal(out)
    if list_:
        queries = stored_queries(root)
        if not queries:
            folder = display_path(queries_dir(root))
            raise RunError(f"no named queries: no .rq files in {folder}/; add one, or give a QUERY")
        write_output(out, format_list(queries, terminal))
        return
    if not query:
        raise click.UsageError(
            "give a QUERY (SPARQL text, a .rq file or a stored query's name), or --list"
        )
    given = resolve_query(root, query)
    values = {}
    for item in binds:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--bind")
        values[name.lstrip("?$")] = parse_value(value)
    text = bind(given.text, values)
    backend = backend_for(ctx)
    try:
        result = run_query(backend, text, timeout)
    except QueryError as exc:
        if given.origin == "<query>":
            raise
        raise QueryError(f"{given.origin}: {exc}") from exc
    write_output(out, format_result(result, fmt, terminal))
