"""`dkg serve`: a read-only SPARQL 1.1 Protocol endpoint over the built graph, with a small web page
(a query box with the named queries, the interactive graph view, one page per entity).

Safety by construction: the server only knows fixed routes (no file is served by path, so nothing
outside them is reachable); it never runs SPARQL Update or accepts Graph Store writes; it listens
on 127.0.0.1 unless told otherwise; request bodies and results are capped; and every query runs in
a worker process that is killed when the timeout passes, because pyoxigraph cannot cancel a query
and a thread cannot be stopped. Errors are answered with a 4xx or 5xx status and a plain message.
"""

from __future__ import annotations

import contextlib
import html
import json
import multiprocessing as mp
import queue
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import click

from graph import constants as C
from graph.cli import root_of

MAX_BODY = 1 << 20  # a query is text; a megabyte is generous
TEMPLATES = Path(__file__).parent / "templates" / "serve"

RESULT_TYPES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
GRAPH_TYPES = {
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "nquads": "application/n-quads",
}


@dataclass
class Settings:
    """What the server was started with."""

    store: Path
    root: Path
    timeout: float
    max_rows: int
    workers: int


# --- Query workers ---------------------------------------------------------------------------------


def _worker(
    store_path: str, jobs: Any, results: Any, max_rows: int
) -> None:  # pragma: no cover - child process
    """Answer queries from the jobs pipe until it closes."""
    from pyoxigraph import QueryBoolean, QuerySolutions, RdfFormat, Store, serialize

    from graph import sparql_results as R
    from graph.errors import QueryError
    from graph.store import query_store, shift_position

    store = Store.read_only(store_path)
    while True:
        try:
            query, kind, default, named = jobs.recv()
        except EOFError:
            return
        try:
            res = query_store(store, query, default, named)
            if isinstance(res, QueryBoolean):
                body = R.ask_xml(bool(res)) if kind == "xml" else R.ask_json(bool(res))
                results.send(("ok", RESULT_TYPES["xml" if kind == "xml" else "json"], body))
            elif isinstance(res, QuerySolutions):
                names = [v.value for v in res.variables]
                rows: list[R.Row] = []
                for sol in res:
                    rows.append([sol[n] for n in names])
                    if len(rows) > max_rows:
                        raise OverflowError
                fmt = kind if kind in R.WRITERS else "json"
                results.send(("ok", RESULT_TYPES[fmt], R.WRITERS[fmt](names, rows)))
            else:
                triples = []
                for t in res:
                    triples.append(t)
                    if len(triples) > max_rows:
                        raise OverflowError
                fmt = {"ntriples": RdfFormat.N_TRIPLES}.get(kind, RdfFormat.TURTLE)
                mime = GRAPH_TYPES["ntriples" if kind == "ntriples" else "turtle"]
                results.send(
                    ("ok", mime, serialize(triples, format=fmt, prefixes=C.PREFIXES) or b"")
                )
        except SyntaxError as exc:
            results.send(("error", 400, f"SPARQL syntax: {shift_position(str(exc))}"))
        except QueryError as exc:
            results.send(("error", 400, str(exc)))
        except OverflowError:
            results.send(("error", 422, f"the result has more than {max_rows} rows; add a LIMIT"))
        except OSError as exc:
            results.send(("error", 500, f"the query failed: {exc}"))


class Worker:
    """One query process and the pipes to it."""

    def __init__(self, ctx: Any, settings: Settings):
        self.jobs, child_jobs = ctx.Pipe()
        self.results, child_results = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker,
            args=(str(settings.store), child_jobs, child_results, settings.max_rows),
            daemon=True,
        )
        self.process.start()

    def stop(self) -> None:
        """Kill the process."""
        self.process.kill()
        self.process.join(5)


class Pool:
    """A fixed number of workers; a worker that overruns the timeout is killed and replaced."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.ctx = mp.get_context("spawn")  # fork would copy the server's threads and open store
        self.idle: queue.Queue[Worker] = queue.Queue()
        self.all: list[Worker] = []
        for _ in range(settings.workers):
            self._add()

    def _add(self) -> None:
        w = Worker(self.ctx, self.settings)
        self.all.append(w)
        self.idle.put(w)

    def run(
        self, query: str, kind: str, default: Sequence[str] = (), named: Sequence[str] = ()
    ) -> tuple[int, str, bytes]:
        """Run a query over the union of the named graphs, or over the dataset given by graph
        IRIs (default: merged into the default graph; named: the only named graphs); return
        (status, content type, body)."""
        deadline = time.monotonic() + self.settings.timeout
        try:
            w = self.idle.get(timeout=self.settings.timeout)
        except queue.Empty:
            return 503, "text/plain", b"all query workers are busy; try again\n"
        try:
            w.jobs.send((query, kind, list(default), list(named)))
            if not w.results.poll(max(0.0, deadline - time.monotonic())):
                w.stop()
                self.all.remove(w)
                self._add()
                w = None  # type: ignore[assignment]
                msg = f"the query was stopped after {self.settings.timeout:g} s\n"
                return 503, "text/plain", msg.encode()
            state, a, b = w.results.recv()
        except (EOFError, OSError, BrokenPipeError):
            if w is not None:
                w.stop()
                self.all.remove(w)
                self._add()
                w = None  # type: ignore[assignment]
            return 500, "text/plain", b"the query worker died; try again\n"
        finally:
            if w is not None:
                self.idle.put(w)
        if state == "ok":
            return 200, a, b
        return int(a), "text/plain", (b + "\n").encode()

    def close(self) -> None:
        """Stop every worker."""
        for w in self.all:
            w.stop()


# --- HTTP ------------------------------------------------------------------------------------------


def negotiate(accept: str, graph: bool) -> str:
    """Pick a result format from an Accept header."""
    accept = accept.lower()
    table = (
        [("text/turtle", "turtle"), ("application/n-triples", "ntriples"), ("text/plain", "ntriples")]
        if graph
        else [
            ("application/sparql-results+json", "json"), ("application/json", "json"),
            ("application/sparql-results+xml", "xml"), ("application/xml", "xml"),
            ("text/csv", "csv"), ("text/tab-separated-values", "tsv"),
        ]
    )  # fmt: skip
    best, best_q = ("turtle" if graph else "json"), -1.0
    for part in accept.split(","):
        mime, _, params = part.strip().partition(";")
        m = re.search(r"q=([0-9.]+)", params)
        q = float(m[1]) if m else 1.0
        for candidate, kind in table:
            if mime.strip() == candidate and q > best_q:
                best, best_q = kind, q
    return best


def _is_iri(text: str) -> bool:
    """Whether text is an absolute IRI (as a graph name in a request must be)."""
    from pyoxigraph import NamedNode

    try:
        NamedNode(text)
    except ValueError:
        return False
    return True


_CONSTRUCT = re.compile(
    r"^\s*(?:(?:PREFIX|BASE)\b[^\n]*\n\s*|#[^\n]*\n\s*)*(CONSTRUCT|DESCRIBE)\b", re.I
)


def is_graph_query(query: str) -> bool:
    """Whether the query returns triples (CONSTRUCT, DESCRIBE)."""
    return bool(_CONSTRUCT.match(query))


class App:
    """The pages and the endpoint, with what they need loaded once."""

    def __init__(self, settings: Settings, pool: Pool):
        from jinja2 import Environment, FileSystemLoader

        self.settings = settings
        self.pool = pool
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
        self._graph_html: str | None = None
        self._lock = threading.RLock()

    def backend(self) -> Any:
        """The embedded store, for pages (their queries are ours, and quick)."""
        from graph.store import EmbeddedBackend

        with self._lock:
            if not hasattr(self, "_backend"):
                self._backend = EmbeddedBackend(self.settings.store)
        return self._backend

    def named_queries(self) -> list[dict[str, str]]:
        """The named queries of examples/queries/, with their first comment line as title."""
        folder = self.settings.root / C.EXAMPLES_DIRNAME / "queries"
        out = []
        for path in sorted(folder.glob("*.rq")):
            text = path.read_text(encoding="utf-8")
            comment = next(
                (ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), ""
            )
            out.append({"name": path.stem, "title": comment or path.stem, "query": text})
        return out

    def index(self) -> str:
        """The query page."""
        from graph.render import json_for_html

        queries = self.named_queries()
        return self.env.get_template("index.html.j2").render(
            queries=queries, queries_json=json_for_html(queries), timeout=self.settings.timeout
        )

    def graph_page(self) -> str:
        """The interactive view (dkg render), drawn once."""
        with self._lock:
            if self._graph_html is None:
                from graph.network import load_graph
                from graph.render import render_html

                self._graph_html = render_html(load_graph(self.backend()), lang="nl").html
            return self._graph_html

    def entity_page(self, target: str, lang: str) -> tuple[int, str]:
        """One entity's dossier, or a 404 page naming the closest id."""
        from graph.errors import QueryError
        from graph.reports import show

        try:
            report = show.report(self.backend(), target, lang)
        except QueryError as exc:
            return 404, self.env.get_template("message.html.j2").render(
                title="Not found", message=str(exc)
            )
        return 200, self.env.get_template("entity.html.j2").render(
            report=report, lang=lang, target=target
        )


class Handler(BaseHTTPRequestHandler):
    """Routes: / (query page), /sparql, /graph, /entity/<id>, /static/app.js, /static/app.css."""

    app: App

    def version_string(self) -> str:
        """The Server header: the name only, not the versions of Python and of dkg."""
        return "dkg"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(format, *args)

    def send(
        self, status: int, mime: str, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header(
            "Content-Type", mime + ("; charset=utf-8" if mime.startswith("text/") else "")
        )
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def fail(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        self.send(status, "text/plain", (message + "\n").encode(), extra)

    def page(self, status: int, text: str) -> None:
        csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        self.send(status, "text/html", text.encode(), {"Content-Security-Policy": csp})

    # -- verbs --

    def do_GET(self) -> None:
        self._route(None)

    def do_HEAD(self) -> None:
        self._route(None)

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.fail(411, "a POST needs a Content-Length")
            return
        if int(length) > MAX_BODY:
            if int(length) <= 8 * MAX_BODY:
                self.rfile.read(int(length))  # drain it, so the client can read our answer
            self.close_connection = True
            self.fail(413, f"the request body is over {MAX_BODY} bytes", {"Connection": "close"})
            return
        self._route(self.rfile.read(int(length)))

    def _refuse_write(self) -> None:
        self.fail(
            405,
            "this endpoint is read-only: Graph Store writes are not accepted",
            {"Allow": "GET, HEAD, POST"},
        )

    do_PUT = do_DELETE = do_PATCH = _refuse_write

    def _route(self, body: bytes | None) -> None:
        try:
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path == "/sparql":
                self._sparql(url.query, body)
            elif body is not None:
                self._refuse_write()
            elif path == "/":
                self.page(200, self.app.index())
            elif path == "/graph":
                self.send(200, "text/html", self.app.graph_page().encode())
            elif path.startswith("/entity/"):
                lang = "en" if parse_qs(url.query).get("lang") == ["en"] else "nl"
                status, text = self.app.entity_page(path.removeprefix("/entity/"), lang)
                self.page(status, text)
            elif path in ("/static/app.js", "/static/app.css"):
                name = path.rsplit("/", 1)[1]
                mime = "text/javascript" if name.endswith(".js") else "text/css"
                self.send(200, mime, (TEMPLATES / name).read_bytes())
            else:
                self.fail(404, f"no page at {path!r}; try / or /sparql")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # the boundary of a request: a message, never a stack trace
            with contextlib.suppress(OSError):
                self.fail(500, f"internal error: {type(exc).__name__}")

    def _sparql(self, query_string: str, body: bytes | None) -> None:
        params = parse_qs(query_string, keep_blank_values=True)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if body is not None:
            if ctype == "application/x-www-form-urlencoded":
                params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
            elif ctype == "application/sparql-query":
                params["query"] = [body.decode("utf-8", "replace")]
            elif ctype == "application/sparql-update":
                params["update"] = [""]
            else:
                self.fail(
                    415, "send the query as application/sparql-query or as a form field 'query'"
                )
                return
        if "update" in params:
            self.fail(403, "this endpoint is read-only: SPARQL Update is not accepted")
            return
        queries = params.get("query", [])
        if len(queries) != 1 or not queries[0].strip():
            self.fail(400, "give exactly one 'query' parameter")
            return
        query = queries[0]
        dataset = {k: params.get(k, []) for k in ("default-graph-uri", "named-graph-uri")}
        for name, iris in dataset.items():
            bad = next((i for i in iris if not _is_iri(i)), None)
            if bad is not None:
                self.fail(400, f"{name} {bad!r} is not an absolute IRI")
                return
        kind = negotiate(self.headers.get("Accept") or "", is_graph_query(query))
        status, mime, out = self.app.pool.run(
            query, kind, dataset["default-graph-uri"], dataset["named-graph-uri"]
        )
        self.send(
            status, mime, out, {"Access-Control-Allow-Origin": "*"} if status == 200 else None
        )


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of more clients than that had their
    # connections dropped and retried by TCP a second later (the load test's p99 was that second)
    request_queue_size = 128


def make_server(
    settings: Settings, host: str, port: int, verbose: bool = False
) -> tuple[ThreadingHTTPServer, Pool]:
    """Start the workers and bind the server (not yet serving)."""
    pool = Pool(settings)
    handler = type("BoundHandler", (Handler,), {"app": App(settings, pool)})
    server = _Server((host, port), handler)
    server.daemon_threads = True
    server.verbose = verbose  # type: ignore[attr-defined]
    return server, pool


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 exposes it to the network.",
)
@click.option(
    "--port",
    default=7878,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port).",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a query may run before it is stopped.",
)
@click.option(
    "--max-rows",
    default=10_000,
    show_default=True,
    type=click.IntRange(1),
    help="Largest result (rows or triples) answered.",
)
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 32), help="Query processes."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build folder to serve.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    timeout: float,
    max_rows: int,
    workers: int,
    out: Path | None,
    verbose: bool,
) -> None:
    """Serve the built graph read-only: a SPARQL endpoint at /sparql and web pages at /."""
    from graph.layout import default_out, held_snapshot

    root = root_of(ctx)
    with held_snapshot(out or default_out(root)) as snapshot:  # builds meanwhile leave it whole
        _serve(
            Settings(snapshot / C.OUT_STORE, root, timeout, max_rows, workers),
            snapshot,
            host,
            port,
            verbose,
        )


def _serve(settings: Settings, snapshot: Path, host: str, port: int, verbose: bool) -> None:
    try:
        server, pool = make_server(settings, host, port, verbose)
    except OSError as exc:
        from graph.errors import RunError

        raise RunError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_host, bound_port = str(server.server_address[0]), server.server_address[1]
    click.echo(
        f"serving {snapshot.name} read-only at http://{bound_host}:{bound_port}/ (SPARQL: /sparql); Ctrl-C stops",
        err=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        pool.close()


__all__ = [
    "App",
    "Handler",
    "Pool",
    "Settings",
    "html",
    "json",
    "make_server",
    "negotiate",
    "serve_command",
]
