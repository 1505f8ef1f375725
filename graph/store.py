"""Where queries run: the embedded store of the current build (default), or a SPARQL 1.1 server.

Everything that reads the graph (queries, reports, analysis, rendering, the endpoint) goes through
a Backend, so the same code runs against the embedded pyoxigraph store and a remote server. Results
are plain Python values (graph.store.Term), not any library's objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from graph import constants as C
from graph.errors import QueryError, RunError

XSD = C.PREFIXES["xsd"]


@dataclass(frozen=True)
class Term:
    """An RDF term in a result: kind is 'iri', 'literal' or 'bnode'."""

    kind: str
    value: str
    lang: str | None = None
    datatype: str | None = None

    def __str__(self) -> str:
        return self.value

    @property
    def local(self) -> str:
        """The id part of a dkg IRI (id:secfund -> 'secfund'), else the value."""
        for ns in (C.ID, C.ONTOLOGY, C.CLAIM, C.GRAPH, C.RULE):
            if self.kind == "iri" and self.value.startswith(ns):
                return self.value[len(ns) :]
        return self.value

    def n3(self) -> str:
        """The term in SPARQL/Turtle syntax."""
        if self.kind == "iri":
            return f"<{self.value}>"
        if self.kind == "bnode":
            return f"_:{self.value}"
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        if self.lang:
            return f'"{escaped}"@{self.lang}'
        if self.datatype and self.datatype != XSD + "string":
            return f'"{escaped}"^^<{self.datatype}>'
        return f'"{escaped}"'


Row = dict[str, Term | None]


@dataclass
class Table:
    """The result of a SELECT: variable names and rows."""

    variables: list[str]
    rows: list[Row]


class Backend(Protocol):
    """What every store offers: SPARQL in, plain values out."""

    name: str

    def select(self, query: str) -> Table:
        """Run a SELECT query (prefixes of the ontology are predeclared)."""
        ...

    def ask(self, query: str) -> bool:
        """Run an ASK query."""
        ...

    def construct(self, query: str) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query; return N-Triples."""
        ...


def _term(t: object) -> Term | None:
    from pyoxigraph import BlankNode, Literal, NamedNode

    if t is None:
        return None
    if isinstance(t, NamedNode):
        return Term("iri", t.value)
    if isinstance(t, BlankNode):
        return Term("bnode", t.value)
    if isinstance(t, Literal):
        dt = t.datatype.value if t.datatype else None
        return Term("literal", t.value, t.language, None if t.language else dt)
    return Term("literal", str(t))


class EmbeddedBackend:
    """The pyoxigraph store written by `dkg build`, opened read-only."""

    name = "embedded"

    def __init__(self, path: Path):
        from pyoxigraph import Store

        if not path.is_dir():
            raise RunError(f"no store at {path}; run `dkg build` first")
        try:
            self.store = Store.read_only(str(path))
        except OSError as exc:
            raise RunError(f"cannot open the store at {path}: {exc}") from exc

    def _run(self, query: str) -> object:
        try:
            return self.store.query(C.sparql_prefixes() + query, use_default_graph_as_union=True)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax: {shift_position(str(exc))}") from exc
        except OSError as exc:
            raise QueryError(f"the query failed: {exc}") from exc

    def select(self, query: str) -> Table:
        """Run a SELECT query."""
        from pyoxigraph import QuerySolutions

        res = self._run(query)
        if not isinstance(res, QuerySolutions):
            raise QueryError("expected a SELECT query")
        names = [v.value for v in res.variables]
        rows = [{n: _term(sol[n]) for n in names} for sol in res]
        return Table(names, rows)

    def ask(self, query: str) -> bool:
        """Run an ASK query."""
        from pyoxigraph import QueryBoolean

        res = self._run(query)
        if not isinstance(res, QueryBoolean):
            raise QueryError("expected an ASK query")
        return bool(res)

    def construct(self, query: str) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query; return N-Triples."""
        from pyoxigraph import QueryTriples, RdfFormat

        res = self._run(query)
        if not isinstance(res, QueryTriples):
            raise QueryError("expected a CONSTRUCT or DESCRIBE query")
        return res.serialize(format=RdfFormat.N_TRIPLES) or b""


_PREFIX_LINES = C.sparql_prefixes().count("\n")


def shift_position(message: str) -> str:
    """Make 'line N' in a parser message count from the user's query, not our prefix header."""
    import re

    def fix(m: re.Match[str]) -> str:
        return f"line {max(1, int(m[1]) - _PREFIX_LINES)}, column {m[2]}"

    return re.sub(r"(\d+):(\d+)", fix, message, count=1)


def open_backend(root: Path, out: Path | None = None) -> Backend:
    """Open the embedded store of the current build under out (default: the project's build/)."""
    from graph.build import current_snapshot, default_out

    snapshot = current_snapshot(out or default_out(root))
    return EmbeddedBackend(snapshot / C.OUT_STORE)
