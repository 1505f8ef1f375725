"""Where queries run: the embedded store of the current build (default), or a SPARQL 1.1 server.

Everything that reads the graph (queries, reports, analysis, rendering, the endpoint) goes through
a Backend, so the same code runs against the embedded pyoxigraph store and a remote server. Results
are plain Python values (graph.store.Term), not any library's objects.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from graph import constants as C
from graph.errors import QueryError, RunError, display_path

if TYPE_CHECKING:
    import click
    from pyoxigraph import Store

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

    @cached_property  # a result decodes each distinct term once, then asks it again and again
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
        escaped = (
            self.value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
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

    def view(self, name: str) -> bytes | None:
        """A view of the graph stored by the build beside it (see graph.reports.coverage.VIEW),
        or None: the caller queries the graph instead."""
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


_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ESCAPED = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(m: re.Match[str]) -> str:
    code = m[1] or m[2]
    return chr(int(code, 16)) if code else _ESCAPED.get(m[3], m[3])


def _tsv_cell(cell: str) -> Term | None:
    """One term of SPARQL TSV results, as pyoxigraph writes them (see _tsv_table)."""
    if not cell:
        return None
    if cell[0] == "<":
        return Term("iri", cell[1:-1])
    if cell.startswith("_:"):
        return Term("bnode", cell[2:])
    if cell[0] == '"':
        end = cell.rindex('"')
        value = cell[1:end]
        if "\\" in value:
            value = _ESCAPE.sub(_unescape, value)
        suffix = cell[end + 1 :]
        if suffix.startswith("@"):
            return Term("literal", value, suffix[1:])
        return Term("literal", value, None, suffix[3:-1] if suffix else XSD + "string")
    if cell in ("true", "false"):
        return Term("literal", cell, None, XSD + "boolean")
    kind = "double" if "e" in cell or "E" in cell else "decimal" if "." in cell else "integer"
    return Term("literal", cell, None, XSD + kind)


def _tsv_table(data: bytes) -> Table:
    """A Table from SPARQL TSV results.

    Faster than reading pyoxigraph's solutions term by term (a third of the time, on 100,000 rows):
    the engine writes the text in one call, and each distinct term is decoded once, however many
    rows repeat it. Tabs and line breaks inside literals are escaped, so a split is exact.
    """
    lines = data.decode("utf-8").split("\n")[:-1]  # every line ends with a line break
    if not lines:
        return Table([], [])
    names = [v[1:] for v in lines[0].split("\t")] if lines[0] else []
    seen: dict[str, Term | None] = {}
    rows: list[Row] = []
    for line in lines[1:]:  # with no variables, each solution is an empty line
        row = []
        for cell in line.split("\t") if names else []:
            term = seen.get(cell, _MISSING)
            if term is _MISSING:
                term = seen[cell] = _tsv_cell(cell)
            row.append(term)
        rows.append(dict(zip(names, row, strict=True)))
    return Table(names, rows)


_MISSING = Term("bnode", "")


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
        self.folder: Path | None = path.parent

    @classmethod
    def over(cls, store: Store) -> EmbeddedBackend:
        """A backend reading a store at hand (the build's, while it builds); it has no views."""
        backend = cls.__new__(cls)
        backend.store = store
        backend.folder = None
        return backend

    def view(self, name: str) -> bytes | None:
        """The view file of the snapshot this store belongs to, if the build wrote one."""
        if self.folder is None:
            return None
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def _run(self, query: str) -> object:
        try:
            return query_store(self.store, query)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax: {shift_position(str(exc))}") from exc
        except OSError as exc:
            raise QueryError(f"the query failed: {exc}") from exc

    def select(self, query: str) -> Table:
        """Run a SELECT query."""
        from pyoxigraph import QueryResultsFormat, QuerySolutions

        res = self._run(query)
        try:
            if not isinstance(res, QuerySolutions):
                raise QueryError("expected a SELECT query")
            return _tsv_table(res.serialize(format=QueryResultsFormat.TSV) or b"")
        except OSError as exc:  # raised while the results are evaluated
            raise QueryError(f"the query failed: {exc}") from exc
        finally:
            del res  # here: see construct

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
        try:
            if not isinstance(res, QueryTriples):
                raise QueryError("expected a CONSTRUCT or DESCRIBE query")
            return res.serialize(format=RdfFormat.N_TRIPLES) or b""
        except OSError as exc:  # raised while the results are evaluated
            raise QueryError(f"the query failed: {exc}") from exc
        finally:
            # pyoxigraph's results may only be dropped by the thread that made them (a query
            # with a timeout runs in a thread of its own): an error raised while they are
            # serialised would otherwise carry them, in its traceback, to the caller's thread
            del res


_PREFIX_LINES = C.sparql_prefixes().count("\n")


def shift_position(message: str) -> str:
    """Make 'line N' in a parser message count from the user's query, not our prefix header."""
    import re

    def fix(m: re.Match[str]) -> str:
        return f"line {max(1, int(m[1]) - _PREFIX_LINES)}, column {m[2]}"

    return re.sub(r"(\d+):(\d+)", fix, message, count=1)


# Strings, IRIs and comments: what may hold the word FROM without it being the keyword. Long
# strings first; an IRI holds no spaces, so `?a < ?b` is not taken for one.
_NOT_CODE = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r'|<[^<>"{}|^`\\\s]*>'
    r"|#[^\n]*"
)
_FROM = re.compile(r"(?<![\w?$:])FROM\s", re.IGNORECASE)
_SERVICE = re.compile(r"(?<![\w?$:])SERVICE(?![\w:-])", re.IGNORECASE)


def query_store(
    store: Store, query: str, default_graphs: Sequence[str] = (), named_graphs: Sequence[str] = ()
) -> Any:
    """Run a user's query, the prefixes declared, over the union of the named graphs as its
    default graph, unless the request names the dataset (graph IRIs, as the SPARQL 1.1 Protocol
    allows) or the query does (FROM, FROM NAMED): the request's wins over the query's."""
    from pyoxigraph import NamedNode

    if _SERVICE.search(_NOT_CODE.sub(" ", query)):
        # pyoxigraph would send the request: a served endpoint must not fetch what a user names
        raise QueryError(
            "SERVICE is not allowed: queries read the built graph only, and no other endpoint"
        )
    text = C.sparql_prefixes() + query
    if default_graphs or named_graphs:
        return store.query(
            text,
            default_graph=[NamedNode(g) for g in default_graphs],
            named_graphs=[NamedNode(g) for g in named_graphs] or None,
        )
    return store.query(text, use_default_graph_as_union=not declares_dataset(query))


def declares_dataset(query: str) -> bool:
    """Whether the query names its own dataset (FROM or FROM NAMED).

    Queries read the union of the named graphs as their default graph, but pyoxigraph's
    use_default_graph_as_union also overrides a FROM: a query that names its graphs is run as
    written instead.
    """
    return bool(_FROM.search(_NOT_CODE.sub(" ", query)))


# --- A SPARQL 1.1 server -------------------------------------------------------------------------

# Why urllib and not httpx: a command makes a handful of requests (one per query, one per named graph
# when pushing), which urllib does as well, with no dependency to install or import (httpx adds
# ~0.1 s of imports and five packages). Its digest-auth handler also answers Virtuoso's challenge.

TOKEN_ENV = "DKG_ENDPOINT_TOKEN"
USER_ENV = "DKG_ENDPOINT_USER"
PASSWORD_ENV = "DKG_ENDPOINT_PASSWORD"
ENDPOINT_ENV = "DKG_ENDPOINT"
STORE_ENV = "DKG_ENDPOINT_STORE"
CONFIG_FILE = "dkg.toml"
EMBEDDED = "embedded"
DEFAULT_TIMEOUT = 60.0
_SELECT_ACCEPT = "application/sparql-results+json"
_GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9, text/plain;q=0.5"


@dataclass(frozen=True)
class Endpoint:
    """Where a SPARQL server answers: its query URL, its Graph Store Protocol URL, and how to log in."""

    query: str
    store: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    origin: str = "--endpoint"

    @property
    def credentials(self) -> tuple[str, str] | str | None:
        """A bearer token, or (user, password), from the environment; never from files or arguments.

        RunError if one cannot be sent as it is (a line break in a token would end the header);
        the message names the variable, never its value. Surrounding white space, such as the
        line break of a file the variable was read from, is dropped.
        """
        token = os.environ.get(TOKEN_ENV, "").strip()
        if token:
            if re.search(r"[^\x21-\x7e]", token):  # what an HTTP header carries as it is
                raise RunError(
                    f"${TOKEN_ENV} holds a space, a control character or a non-ASCII one; "
                    "set the token alone"
                )
            return token
        user, password = os.environ.get(USER_ENV, "").strip(), os.environ.get(PASSWORD_ENV)
        if user and password is not None:
            if re.search(r"[:\x00-\x1f\x7f]", user):
                raise RunError(
                    f"${USER_ENV} holds a ':' or a control character; set the user name alone"
                )
            return user, password
        return None

    def graph_store(self) -> str:
        """The Graph Store Protocol URL: given, or the usual one next to a known server's query URL."""
        if self.store:
            return self.store
        derived = derive_graph_store(self.query)
        if derived is None:
            raise RunError(
                f"cannot tell the Graph Store Protocol address of {self.query}; give it with --store URL "
                f"(or ${STORE_ENV}, or 'store' under [endpoint] in {CONFIG_FILE})"
            )
        return derived


def derive_graph_store(query_url: str) -> str | None:
    """The Graph Store Protocol URL that Oxigraph, Fuseki and GraphDB serve beside their query URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(query_url)
    segments = parts.path.rstrip("/").split("/")
    if segments[-1] == "query" and len(segments) == 2:  # Oxigraph: /query, /update, /store
        path = "/store"
    elif segments[-1] in {"query", "sparql"} and len(segments) == 3:  # Fuseki: /ds/query, /ds/data
        path = "/".join([*segments[:-1], "data"])
    elif len(segments) >= 3 and segments[-2] == "repositories":  # GraphDB, RDF4J
        path = parts.path.rstrip("/") + "/rdf-graphs/service"
    else:
        return None
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _check_url(url: str, origin: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise RunError(f"{origin}: {url!r} is not an http(s) URL of a SPARQL endpoint")
    if parts.username or parts.password:
        raise RunError(
            f"{origin}: put no user or password in the URL; set ${USER_ENV} and ${PASSWORD_ENV} "
            f"(or ${TOKEN_ENV}) in the environment"
        )
    return url


def _keys(names: list[str]) -> str:
    return ("key " if len(names) == 1 else "keys ") + ", ".join(repr(n) for n in names)


def read_config(root: Path) -> Endpoint | None:
    """The [endpoint] table of dkg.toml in the project, if there is one."""
    import tomllib

    path = root / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{display_path(path)}: {exc}") from exc
    strange = sorted(set(config) - {"endpoint"})
    if strange:  # a misspelt [endpont] would otherwise leave every query on the embedded store
        raise RunError(
            f"{display_path(path)}: unknown {_keys(strange)}; the file holds one table, [endpoint]"
        )
    table = config.get("endpoint")
    if table is None:
        return None
    name = f"{display_path(path)} [endpoint]"
    if not isinstance(table, dict):
        raise RunError(f'{name} must be a table: [endpoint] with url = "..."')
    secret = sorted(k for k in table if k in {"password", "token", "user", "auth"})
    if secret:
        raise RunError(
            f"{name}: credentials ({', '.join(secret)}) do not belong in a file that is shared; set "
            f"${TOKEN_ENV}, or ${USER_ENV} and ${PASSWORD_ENV}, in the environment"
        )
    unknown = sorted(set(table) - {"url", "store", "timeout"})
    if unknown:
        raise RunError(f"{name}: unknown {_keys(unknown)}; use url, store, timeout")
    url = table.get("url")
    if not isinstance(url, str):
        raise RunError(f'{name} needs url = "http://host:port/query"')
    if url == EMBEDDED:
        return None
    store = table.get("store")
    timeout = table.get("timeout", DEFAULT_TIMEOUT)
    if store is not None and not isinstance(store, str):
        raise RunError(f"{name}: store must be a URL")
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise RunError(f"{name}: timeout must be a positive number of seconds")
    return Endpoint(_check_url(url, name), store and _check_url(store, name), float(timeout), name)


class RemoteBackend:
    """A SPARQL 1.1 server, spoken to by the SPARQL 1.1 Protocol (queries as an HTML form POST)."""

    name = "remote"

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._checked_union = False

    def view(self, name: str) -> None:
        """None: a server holds the graph only, so reports query it."""
        return None

    # -- HTTP ---------------------------------------------------------------------------------

    def request(
        self, url: str, method: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        """Send one request with the credentials of the environment; return (status, type, body)."""
        import base64
        import urllib.error
        import urllib.request

        credentials = self.endpoint.credentials
        handlers: list[urllib.request.BaseHandler] = []
        headers = {"User-Agent": "dkg", **headers}
        if isinstance(credentials, str):
            headers["Authorization"] = f"Bearer {credentials}"
        elif credentials is not None:
            user, password = credentials
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
            manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            manager.add_password(None, url, user, password)
            handlers.append(urllib.request.HTTPDigestAuthHandler(manager))  # Virtuoso asks for it
        opener = urllib.request.build_opener(*handlers)
        req = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with opener.open(req, timeout=self.endpoint.timeout) as resp:
                return resp.status, resp.headers.get_content_type(), resp.read()
        except urllib.error.HTTPError as exc:
            detail = _server_message(exc.read())
            if exc.code in (401, 403):
                raise RunError(
                    f"{url} refused access ({exc.code} {exc.reason}){detail}; set ${TOKEN_ENV}, or "
                    f"${USER_ENV} and ${PASSWORD_ENV}, in the environment"
                ) from exc
            if exc.code in (400, 422):
                raise QueryError(
                    f"the server rejected the request ({exc.code}){shift_position(detail)}"
                ) from exc
            raise RunError(f"{url} answered {exc.code} {exc.reason}{detail}") from exc
        except urllib.error.URLError as exc:
            raise RunError(f"cannot reach the SPARQL endpoint {url}: {exc.reason}") from exc
        except TimeoutError as exc:
            raise QueryError(
                f"{url} did not answer within {self.endpoint.timeout:g} s; narrow the query down"
            ) from exc
        except OSError as exc:
            raise RunError(f"cannot talk to {url}: {exc}") from exc

    def _query(self, query: str, accept: str) -> tuple[str, bytes]:
        from urllib.parse import urlencode

        if not self._checked_union:
            self._checked_union = True
            self._check_union()
        body = urlencode({"query": C.sparql_prefixes() + query}).encode()
        headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
        _status, ctype, data = self.request(self.endpoint.query, "POST", body, headers)
        return ctype, data

    def _raw_ask(self, query: str) -> bool:
        from urllib.parse import urlencode

        body = urlencode({"query": query}).encode()
        headers = {"Accept": _SELECT_ACCEPT, "Content-Type": "application/x-www-form-urlencoded"}
        _status, _ctype, data = self.request(self.endpoint.query, "POST", body, headers)
        return bool(_parse_json(data, self.endpoint.query).get("boolean"))

    def union_ready(self) -> bool:
        """Whether the default graph shows the named graphs' data (or the server holds none)."""
        if self._raw_ask("ASK { ?s ?p ?o }"):
            return True
        return not self._raw_ask("ASK { GRAPH ?g { ?s ?p ?o } }")

    def _check_union(self) -> None:
        """Every dkg query reads the union of the named graphs; a server must be set up so."""
        if not self.union_ready():
            raise RunError(
                f"{self.endpoint.query} holds named graphs but its default graph is empty: dkg queries "
                "read the union of the graphs; start Oxigraph with --union-default-graph, or set "
                "tdb2:unionDefaultGraph true in Fuseki (see the README)"
            )

    def select_named(self, query: str) -> Table:
        """Run a SELECT that names its graphs (GRAPH ?g), whatever the server's default graph is."""
        self._checked_union = True
        try:
            return self.select(query)
        finally:
            self._checked_union = False

    # -- Backend ------------------------------------------------------------------------------

    def select(self, query: str) -> Table:
        """Run a SELECT query on the server."""
        _ctype, data = self._query(query, _SELECT_ACCEPT)
        doc = _parse_json(data, self.endpoint.query)
        if "results" not in doc:
            raise QueryError("expected a SELECT query")
        return table_from_json(doc)

    def ask(self, query: str) -> bool:
        """Run an ASK query on the server."""
        _ctype, data = self._query(query, _SELECT_ACCEPT)
        doc = _parse_json(data, self.endpoint.query)
        if "boolean" not in doc:
            raise QueryError("expected an ASK query")
        return bool(doc["boolean"])

    def construct(self, query: str) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query on the server; return N-Triples."""
        from pyoxigraph import RdfFormat, parse, serialize

        ctype, data = self._query(query, _GRAPH_ACCEPT)
        if ctype.startswith("application/sparql-results"):
            raise QueryError("expected a CONSTRUCT or DESCRIBE query")
        fmt = RdfFormat.from_media_type(ctype) or RdfFormat.N_TRIPLES
        if ctype == "text/plain":
            fmt = RdfFormat.N_TRIPLES  # Virtuoso's name for N-Triples
        if fmt == RdfFormat.N_TRIPLES:
            return data
        try:
            triples = list(parse(data, format=fmt))
        except SyntaxError as exc:
            raise RunError(
                f"{self.endpoint.query} sent {ctype} that does not parse: {exc}"
            ) from exc
        return serialize(triples, format=RdfFormat.N_TRIPLES) or b""


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return ""
    if "<html" in text[:200].lower():
        import re

        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return ": " + (text[:400] + "…" if len(text) > 400 else text)


def _parse_json(data: bytes, url: str) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunError(f"{url} did not answer with SPARQL results JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RunError(f"{url} did not answer with SPARQL results JSON")
    return doc


def term_from_json(value: dict[str, str]) -> Term:
    """A term of the SPARQL 1.1 Query Results JSON format."""
    kind = value.get("type")
    text = value.get("value", "")
    if kind == "uri":
        return Term("iri", text)
    if kind == "bnode":
        return Term("bnode", text)
    if kind in ("literal", "typed-literal"):  # typed-literal: the pre-standard form Virtuoso sends
        lang = value.get("xml:lang") or value.get("lang")
        datatype = None if lang else value.get("datatype")
        if datatype in (XSD + "string",):
            datatype = None
        return Term("literal", text, lang or None, datatype)
    raise RunError(f"unknown term type {kind!r} in the results")


def table_from_json(doc: dict[str, Any]) -> Table:
    """A Table from a SPARQL 1.1 Query Results JSON document."""
    names = [str(v) for v in doc.get("head", {}).get("vars", [])]
    rows: list[Row] = []
    for binding in doc.get("results", {}).get("bindings", []):
        rows.append({n: term_from_json(binding[n]) if n in binding else None for n in names})
    return Table(names, rows)


# --- Choosing the backend ------------------------------------------------------------------------

_META = "dkg.endpoint"


def _remember_endpoint(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_META] = value


def endpoint_option(func: Any) -> Any:
    """The --endpoint URL option for a command that reads the graph (add it as a decorator).

    The value is kept in the click context, where open_backend finds it, so a command that opens
    its backend with open_backend(root) needs no other change. Adding it twice adds it once.
    """
    import click

    if any(getattr(p, "name", None) == "endpoint" for p in getattr(func, "__click_params__", [])):
        return func
    return click.option(
        "--endpoint",
        metavar="URL",
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_remember_endpoint,
        help=(
            f"SPARQL 1.1 query URL of a server to read instead of the embedded store (or ${ENDPOINT_ENV}, "
            f"or [endpoint] url in {CONFIG_FILE}); 'embedded' for the store of the build. Log-in from "
            f"${TOKEN_ENV} or ${USER_ENV}/${PASSWORD_ENV}."
        ),
    )(func)


def _command_line_endpoint() -> str | None:
    try:
        import click
    except ImportError:  # pragma: no cover - click is a dependency
        return None
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_META) if ctx is not None else None


def choose_endpoint(root: Path, given: str | None = None) -> Endpoint | None:
    """The server to read: --endpoint, then $DKG_ENDPOINT, then dkg.toml; None for the embedded store."""
    timeout = DEFAULT_TIMEOUT
    origin = "--endpoint"
    if given is None:
        given = _command_line_endpoint()
    if given is None and os.environ.get(ENDPOINT_ENV):
        given, origin = os.environ[ENDPOINT_ENV], f"${ENDPOINT_ENV}"
    if given is None:
        return read_config(root)
    if given.strip() in ("", EMBEDDED):
        return None
    store = os.environ.get(STORE_ENV) or None
    config = read_config(root)
    if config is not None and config.query == given:
        store, timeout = store or config.store, config.timeout
    return Endpoint(
        _check_url(given.strip(), origin),
        store and _check_url(store, f"${STORE_ENV}"),
        timeout,
        origin,
    )


def open_backend(
    root: Path, out: Path | None = None, endpoint: str | Endpoint | None = None
) -> Backend:
    """Open the graph to read: a SPARQL server if one is chosen, else the embedded store of a build.

    The server is the `endpoint` argument, else the command's --endpoint, else $DKG_ENDPOINT, else
    [endpoint] in dkg.toml. A caller that names a build folder (`out`) reads that build, unless an
    endpoint is given explicitly.
    """
    from graph.layout import current_snapshot, default_out

    if isinstance(endpoint, Endpoint):
        return RemoteBackend(endpoint)
    explicit = endpoint if endpoint is not None else _command_line_endpoint()
    if out is None or explicit is not None:
        chosen = choose_endpoint(root, explicit)
        if chosen is not None:
            return RemoteBackend(chosen)
    snapshot = current_snapshot(out or default_out(root))
    return EmbeddedBackend(snapshot / C.OUT_STORE)


def backend_from_context(ctx: click.Context, out: Path | None = None) -> Backend:
    """The backend a command reads, from its --project and --endpoint options."""
    from graph.cli import root_of

    return open_backend(root_of(ctx), out)
