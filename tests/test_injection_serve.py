"""`dkg serve` under attack: a real server on 127.0.0.1 over the hostile corpus of test_injection.

Every page it serves (the query page with results of queries over every literal, the graph view,
every entity's page in both languages, the not-found page for a name full of markup) is opened in
Debian's headless Chromium, and nothing may run. Values from the URL reach a query only bound: an
entity URL with quotes and braces gets a clean "unknown entity". The endpoint refuses SPARQL Update
and Graph Store writes, stops a query that would run forever at the timeout, caps results and
request bodies, serves no path outside its fixed routes however the path is written, and listens on
127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_injection import CHROMIUM, CHROMIUM_ARGS, TEMPLATES, Visit

from tests.serving import start, stop

pytestmark = pytest.mark.server

TIMEOUT = 2.0  # the server's query timeout in these tests
MAX_ROWS = 5000
FOREVER = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


class Server:
    """A real `dkg serve` process (started by tests.serving); .url is where it listens."""

    def __init__(self, root: Path, out: Path, *args: str):
        self.proc, url = start(out, *args, root=root)
        self.url = url + "/"
        where = urllib.parse.urlsplit(self.url)
        assert where.hostname is not None and where.port is not None
        self.host, self.port = where.hostname, where.port

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        """Send one request with the path exactly as given; return status, headers, body."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None and "Content-Length" not in (headers or {}):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def sparql(
        self, query: str, accept: str = "application/sparql-results+json"
    ) -> tuple[int, bytes]:
        """POST a query as a form, the way the query page does."""
        body = urllib.parse.urlencode({"query": query}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept}
        status, _, data = self.request("POST", "/sparql", body, headers)
        return status, data

    def stop(self) -> None:
        """Stop the server (and its workers)."""
        stop(self.proc)


@pytest.fixture(scope="module")
def server(hostile: tuple[Path, Path, dict[str, str]]) -> Iterator[Server]:
    """The hostile corpus served with a short timeout."""
    root, out, _ = hostile
    s = Server(root, out, "--timeout", str(TIMEOUT), "--max-rows", str(MAX_ROWS), "--workers", "2")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """The hostile corpus of test_injection, built."""
    from test_injection import hostile_project

    from graph.build import build

    base = tmp_path_factory.mktemp("hostile-serve")
    root, used = hostile_project(base / "project")
    build(root, base / "build")
    return root, base / "build", used


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def entity_ids(hostile: tuple[Path, Path, dict[str, str]]) -> list[str]:
    """Every entity and document id of the hostile corpus."""
    root = hostile[0]
    reg = yaml.safe_load((root / "extract/entities.yaml").read_text(encoding="utf-8"))
    return [e["id"] for e in reg["entities"]] + ["mini"]


# --- HTML: every page served, in a real browser -----------------------------------------------------


@pytest.mark.browser
def test_query_page_shows_every_literal_and_runs_none(
    server: Server, browser: Any, hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    _, _, used = hostile
    visit = Visit(browser, server.url, allow=server.url)
    try:
        page = visit.page
        query = "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(isLiteral(?o)) }"
        page.fill("#query", query)
        page.click("#run")
        page.wait_for_selector("#status:has-text('rows')")  # no string eval: the CSP forbids it
        shown = page.locator("#results").inner_text()
        for field, text in used.items():
            assert text in shown, f"{field} is not shown as text"
        # an error message that echoes markup is text too
        page.fill("#query", TEMPLATES[0].format(m="error-message"))
        page.click("#run")
        page.wait_for_selector("#results .error")
        visit.assert_nothing_ran()
        assert visit.errors == []
    finally:
        visit.close()
    tally["payloads in served query results, none ran"] += len(used)


@pytest.mark.browser
def test_graph_and_entity_pages_run_no_payload(
    server: Server, browser: Any, hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    from test_injection import explore_graph_page

    _, _, used = hostile
    visit = Visit(browser, server.url + "graph", allow=server.url)
    try:
        shown = explore_graph_page(visit)
        visit.assert_nothing_ran(scripts=3)
        assert used["label-nl-secfund"] in shown
    finally:
        visit.close()
    pages = 1
    for ident in entity_ids(hostile):
        for lang in ("nl", "en"):
            visit = Visit(browser, f"{server.url}entity/{ident}?lang={lang}", allow=server.url)
            try:
                text = visit.page.locator("body").inner_text()
                assert "Traceback" not in text and "internal error" not in text
                visit.assert_nothing_ran()
                if ident == "secfund":
                    assert used[f"label-{lang}-secfund"] in text
                    assert used["quote"] in text
            finally:
                visit.close()
            pages += 1
    tally["served pages with payloads opened in Chromium, none ran"] += pages


@pytest.mark.browser
@pytest.mark.parametrize("n", range(len(TEMPLATES)))
def test_not_found_page_shows_markup_in_the_url_as_text(
    n: int, server: Server, browser: Any, tally: Counter[str]
) -> None:
    name = TEMPLATES[n].format(m=f"url-{n}")
    visit = Visit(
        browser, server.url + "entity/" + urllib.parse.quote(name, safe=""), allow=server.url
    )
    try:
        text = visit.page.locator("body").inner_text()
        assert "unknown entity" in text and f"url-{n}" in text  # shown (as a Python repr)
        visit.assert_nothing_ran()
    finally:
        visit.close()
    tally["entity URLs full of markup, shown as text"] += 1


# --- SPARQL from the URL is bound ---------------------------------------------------------------------

URL_BREAKOUTS = [
    'x" } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o',
    "x' } UNION { ?x ?p ?o } #",
    'secfund" . ?x ?p ?o } #',
    "x\\u0022 } UNION { ?x ?p ?o } #",
    "x\\",
    "{{7*7}}",
    "%00",
    "\ufeffsecfund\u202e",
]


@pytest.mark.parametrize("name", URL_BREAKOUTS)
def test_entity_url_breakout_gets_a_clean_unknown_entity(
    name: str, server: Server, tally: Counter[str]
) -> None:
    status, headers, body = server.request("GET", "/entity/" + urllib.parse.quote(name, safe=""))
    text = body.decode("utf-8", "replace")
    assert status == 404, text
    assert (
        "unknown entity" in text and "syntax" not in text.lower() and "internal error" not in text
    )
    assert headers["content-type"].startswith("text/html")
    tally["SPARQL break-out attempts in entity URLs, all bound"] += 1


@pytest.mark.parametrize("name", URL_BREAKOUTS[:5])
def test_command_line_breakout_through_a_remote_endpoint_stays_bound(
    name: str, server: Server, hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    # the same bound values, sent over the SPARQL protocol to a server (here: dkg serve itself)
    from click.testing import CliRunner

    from graph.cli import main

    root = hostile[0]
    endpoint = server.url + "sparql"
    result = CliRunner().invoke(
        main, ["-C", str(root), "report", "show", name, "--endpoint", endpoint]
    )
    assert result.exit_code == 1 and "unknown entity" in result.stderr, result.output
    assert "syntax" not in result.output.lower() and "internal error" not in result.output
    quoted = '"' + name.replace('"', "") + '"'
    query = 'SELECT ?x WHERE { VALUES ?name { "" } ?x dcterms:identifier ?name }'
    args = ["query", query, "--bind", f"name={quoted}", "--format", "json", "--endpoint", endpoint]
    result = CliRunner().invoke(main, ["-C", str(root), *args])
    assert result.exit_code == 0 and '"bindings": []' in result.stdout, result.output
    tally["SPARQL break-out attempts sent to a remote endpoint, all bound"] += 1


# --- the endpoint only reads ---------------------------------------------------------------------------


def test_sparql_update_and_graph_store_writes_are_refused(
    server: Server, tally: Counter[str]
) -> None:
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    before = server.sparql(count)
    insert = (
        "INSERT DATA { <https://example.org/a> <https://example.org/b> <https://example.org/c> }"
    )
    attempts = [
        ("POST", "/sparql", insert.encode(), {"Content-Type": "application/sparql-update"}),
        ("POST", "/sparql", urllib.parse.urlencode({"update": insert}).encode(),
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("GET", "/sparql?" + urllib.parse.urlencode({"update": insert}), None, {}),
        ("POST", "/sparql", urllib.parse.urlencode({"query": insert}).encode(),
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/sparql", b"DROP ALL", {"Content-Type": "application/sparql-query"}),
        ("PUT", "/sparql?default", b"<a:a> <a:b> <a:c> .", {"Content-Type": "text/turtle"}),
        ("POST", "/sparql?graph=https://example.org/g", b"<a:a> <a:b> <a:c> .", {"Content-Type": "text/turtle"}),
        ("DELETE", "/sparql?default", None, {}),
        ("PATCH", "/sparql", b"x", {"Content-Type": "text/plain"}),
        ("PUT", "/", b"x", {"Content-Type": "text/plain"}),
        ("POST", "/entity/secfund", b"x", {"Content-Type": "text/plain"}),
    ]  # fmt: skip
    for method, path, body, headers in attempts:
        status, _, text = server.request(method, path, body, headers)
        assert 400 <= status < 500, (method, path, status, text)
    assert server.sparql(count) == before  # nothing changed
    tally["write attempts refused by the endpoint"] += len(attempts)


def test_a_query_that_would_run_forever_is_stopped(server: Server, tally: Counter[str]) -> None:
    started = time.monotonic()
    status, body = server.sparql(FOREVER)
    took = time.monotonic() - started
    assert status == 503 and b"stopped after" in body, (status, body)
    assert took < TIMEOUT + 5, took
    for _ in range(3):  # the workers were replaced: the server still answers, quickly
        status, body = server.sparql("ASK { ?s ?p ?o }")
        assert status == 200 and json.loads(body)["boolean"] is True
    tally["runaway queries stopped at the timeout"] += 1


def test_results_are_capped(server: Server) -> None:
    status, body = server.sparql(
        "SELECT ?s ?p ?o ?x WHERE { ?s ?p ?o . VALUES ?x { 1 2 3 4 5 6 7 8 9 } }"
    )
    assert status == 422 and f"more than {MAX_ROWS} rows".encode() in body, (status, body[:200])
    status, body = server.sparql(
        "CONSTRUCT { ?s ?p ?x } WHERE { ?s ?p ?o . VALUES ?x { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 } }",
        "text/turtle",
    )
    assert status == 422, (status, body[:200])
    status, body = server.sparql("SELECT ?s WHERE { ?s ?p ?o } LIMIT 10")
    assert status == 200 and len(json.loads(body)["results"]["bindings"]) == 10


def test_request_bodies_are_capped(server: Server, tally: Counter[str]) -> None:
    # refused from the header, before the body is read
    status, _, _ = server.request(
        "POST",
        "/sparql",
        b"x" * 100,
        {"Content-Type": "application/sparql-query", "Content-Length": str(10**12)},
    )
    assert status == 413
    # and a body that really is too big
    big = b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * (2 << 20)
    try:
        status, _, _ = server.request(
            "POST", "/sparql", big, {"Content-Type": "application/sparql-query"}
        )
        assert status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed while we were still sending: refused too
    for length in ("-1", "abc", "1e6"):
        status, _, _ = server.request(
            "POST",
            "/sparql",
            b"",
            {"Content-Type": "application/sparql-query", "Content-Length": length},
        )
        assert 400 <= status < 500, length
    tally["oversized or malformed request bodies refused"] += 5


TRAVERSALS = [
    "/../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static/..%5c..%5c..%5cetc%5cpasswd",
    "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/static/app.js/../../serve.py",
    "/static/app.js%00.css",
    "//etc/passwd",
    "/entity/../../../../etc/passwd",
    "/entity/..%2f..%2f..%2fetc%2fpasswd",
    "/static/../serve.py",
    "/static/..%2fserve.py",
    "/static/./app.js/..%2f..%2f..%2fserve.py",
    "/graph/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "http://127.0.0.1/../../etc/passwd",
    "/static/\\..\\..\\etc\\passwd",
    "/static/" + "../" * 50 + "etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_outside_the_served_routes(path: str, server: Server, tally: Counter[str]) -> None:
    status, _, body = server.request("GET", path)
    assert status in (400, 404), (status, body[:200])
    assert b"root:" not in body and b"import " not in body and b"def " not in body
    tally["path traversal attempts, nothing outside the routes"] += 1


def test_malformed_requests_get_an_answer_and_the_server_lives_on(server: Server) -> None:
    for raw in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\xff\xfe\r\n\r\n",
                b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"):  # fmt: skip
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert b"Traceback" not in answer
    assert server.sparql("ASK { ?s ?p ?o }")[0] == 200


def test_idle_and_half_sent_requests_do_not_starve_the_others(
    server: Server, tally: Counter[str]
) -> None:
    socks = []
    try:
        for n in range(100):
            sock = socket.create_connection((server.host, server.port), timeout=10)
            if n % 2:  # a POST that promises a body and never sends it
                sock.sendall(b"POST /sparql HTTP/1.1\r\nContent-Type: application/sparql-query\r\n"
                             b"Content-Length: 1000\r\n\r\nSELECT")  # fmt: skip
            socks.append(sock)
        started = time.monotonic()
        status, body = server.sparql("ASK { ?s ?p ?o }")
        assert status == 200 and json.loads(body)["boolean"] is True
        assert time.monotonic() - started < 5
    finally:
        for sock in socks:
            sock.close()
    tally["idle or half-sent connections held open while others were answered"] += len(socks)


def test_it_listens_on_localhost_unless_told_otherwise(
    hostile: tuple[Path, Path, dict[str, str]],
) -> None:
    root, out, _ = hostile
    s = Server(root, out)
    try:
        assert s.host == "127.0.0.1"
        listening = [
            line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if int(line.split()[1].split(":")[1], 16) == s.port and line.split()[3] == "0A"
        ]  # fmt: skip
        assert listening and all(cols[1].split(":")[0] == "0100007F" for cols in listening), (
            listening
        )
        if Path("/proc/net/tcp6").exists():  # and not on any IPv6 address either
            six = [
                line for line in Path("/proc/net/tcp6").read_text().splitlines()[1:]
                if int(line.split()[1].split(":")[1], 16) == s.port and line.split()[3] == "0A"
            ]  # fmt: skip
            assert not six, six
    finally:
        s.stop()
