"""`dkg serve` as a client sees it: a real process on 127.0.0.1, the SPARQL 1.1 Protocol (GET and
POST, content negotiation), read-only, a timeout that really stops a query, caps, and 4xx answers
with a message, never a stack trace."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.serve import is_graph_query, negotiate
from tests.conftest import copy_project
from tests.serving import serving

pytestmark = pytest.mark.server

COUNT = "SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE { ?b a dkg:Bottleneck ; skos:inScheme id:idea-knelpunten }"
FOREVER = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture(scope="module")
def url(built: Path) -> Iterator[str]:
    with serving(built, "--timeout", "2", "--max-rows", "500") as base:
        yield base


def request(
    url: str,
    path: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url + path, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get(
    url: str, query: str, accept: str = "application/sparql-results+json"
) -> tuple[int, dict[str, str], bytes]:
    return request(
        url, "/sparql?" + urllib.parse.urlencode({"query": query}), headers={"Accept": accept}
    )


def test_get_answers_json(url: str) -> None:
    status, headers, body = get(url, COUNT)
    assert status == 200
    assert headers["Content-Type"].startswith("application/sparql-results+json")
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "8"


def test_post_form_and_direct(url: str) -> None:
    form = urllib.parse.urlencode({"query": COUNT}).encode()
    status, _, body = request(
        url, "/sparql", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and json.loads(body)["results"]["bindings"][0]["n"]["value"] == "8"
    status, _, body = request(
        url, "/sparql", COUNT.encode(), {"Content-Type": "application/sparql-query"}
    )
    assert status == 200 and json.loads(body)["results"]["bindings"][0]["n"]["value"] == "8"


@pytest.mark.parametrize(
    ("accept", "mime", "expect"),
    [
        ("text/csv", "text/csv", b"n\r\n8\r\n"),
        (
            "text/tab-separated-values",
            "text/tab-separated-values",
            b'?n\n"8"^^<http://www.w3.org/2001/XMLSchema#integer>\n',
        ),
        ("application/sparql-results+xml", "application/sparql-results+xml", b"<literal datatype="),
        (
            "text/csv;q=0.5, application/sparql-results+xml",
            "application/sparql-results+xml",
            b'<binding name="n">',
        ),
    ],
)
def test_content_negotiation(url: str, accept: str, mime: str, expect: bytes) -> None:
    status, headers, body = get(url, COUNT, accept)
    assert status == 200
    assert headers["Content-Type"].startswith(mime)
    assert expect in body


def test_construct_gives_turtle_or_ntriples(url: str) -> None:
    q = "CONSTRUCT { id:secfund dkg:budget ?a } WHERE { id:secfund dkg:budget ?a }"
    status, headers, body = get(url, q, "text/turtle")
    assert status == 200 and headers["Content-Type"].startswith("text/turtle")
    assert b"id:secfund" in body or b"<https://w3id.org/dkg/id/secfund>" in body
    status, headers, body = get(url, q, "application/n-triples")
    assert headers["Content-Type"].startswith("application/n-triples")
    assert body.startswith(
        b"<https://w3id.org/dkg/id/secfund> <https://w3id.org/dkg/ontology#budget>"
    )


def test_ask(url: str) -> None:
    status, _, body = get(url, "ASK { id:financien dkg:participatesIn id:financieringstafel }")
    assert status == 200 and json.loads(body)["boolean"] is False


def test_update_is_refused_and_changes_nothing(url: str) -> None:
    status, _, body = request(
        url, "/sparql", b"DELETE WHERE { ?s ?p ?o }", {"Content-Type": "application/sparql-update"}
    )
    assert status == 403 and b"read-only" in body
    form = urllib.parse.urlencode({"update": "CLEAR ALL"}).encode()
    status, _, body = request(
        url, "/sparql", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 403
    assert json.loads(get(url, COUNT)[2])["results"]["bindings"][0]["n"]["value"] == "8"


def test_update_sent_as_query_is_a_syntax_error(url: str) -> None:
    status, _, body = get(url, "DROP ALL")
    assert status == 400 and b"SPARQL syntax" in body


def test_service_is_refused_and_nothing_is_fetched(url: str) -> None:
    """A federated query would have the server send a request wherever the query says: refused.
    The word elsewhere (in a string, an IRI, a comment) is no federated query."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    with listener:
        query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}"
        status, _, body = get(url, query)
        assert status == 400 and b"SERVICE is not allowed" in body
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody called
    words = 'SELECT ?x WHERE { BIND("SERVICE" AS ?x) } # SERVICE <http://example.org/>'
    status, _, body = get(url, words)
    assert status == 200 and json.loads(body)["results"]["bindings"][0]["x"]["value"] == "SERVICE"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_graph_store_writes_are_refused(url: str, method: str) -> None:
    status, headers, body = request(
        url, "/store?default", b"<a> <b> <c> .", {"Content-Type": "text/turtle"}, method
    )
    assert status == 405 and b"read-only" in body
    assert "POST" in headers["Allow"]


def test_post_to_a_page_is_refused(url: str) -> None:
    status, _, _body = request(
        url, "/store?graph=x", b"<a> <b> <c> .", {"Content-Type": "text/turtle"}
    )
    assert status == 405


def test_syntax_error_names_line_and_column_of_the_users_query(url: str) -> None:
    status, headers, body = get(url, "SELECT ?x\nWHERE { ?x ?y }")
    assert status == 400
    assert headers["Content-Type"].startswith("text/plain")
    assert b"line 2" in body
    assert b"Traceback" not in body


def test_timeout_stops_the_query_and_the_server_goes_on(url: str) -> None:
    status, _, body = get(url, FOREVER)
    assert status == 503 and b"stopped after 2 s" in body
    status, _, body = get(url, COUNT)
    assert status == 200


def test_result_cap(url: str) -> None:
    status, _, body = get(url, "SELECT * WHERE { ?s ?p ?o }")
    assert status == 422 and b"more than 500 rows" in body


def test_body_cap(url: str) -> None:
    big = b"query=" + b"%20" * (1 << 20)
    status, _, _body = request(
        url, "/sparql", big, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 413


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/static/../serve.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2fserve.py",
        "/nothing",
    ],
)
def test_no_path_outside_the_routes(url: str, path: str) -> None:
    import http.client

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 404
    assert b"root:" not in body and b"import" not in body


def test_bad_requests_get_a_message(url: str) -> None:
    status, _, body = request(url, "/sparql")
    assert status == 400 and b"give exactly one 'query'" in body
    status, _, body = request(url, "/sparql", b"x", {"Content-Type": "image/png"})
    assert status == 415


def test_the_dataset_of_the_request_or_the_query_is_the_one_read(url: str) -> None:
    """SPARQL 1.1 Protocol 2.1.4: default-graph-uri and named-graph-uri, else the query's FROM,
    else the union of the named graphs."""
    mkb = "https://w3id.org/dkg/graph/antwoorden-mkb-defensiebedrijven-2025"
    idea = "https://w3id.org/dkg/graph/antwoorden-idea-motie-boswijk-2025"
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?c a dkg:Claim }"

    def n(query: str, **dataset: list[str]) -> int:
        params = [("query", query)] + [
            (k.replace("_", "-"), v) for k, vs in dataset.items() for v in vs
        ]
        status, _, body = request(url, "/sparql?" + urllib.parse.urlencode(params))
        assert status == 200, body
        return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])

    graph = "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{}> {{ ?c a dkg:Claim }} }}"
    in_mkb, in_idea = n(graph.format(mkb)), n(graph.format(idea))
    assert n(count) > in_mkb + in_idea > 0  # the union holds the inferred claims too
    assert n(count, default_graph_uri=[mkb]) == in_mkb
    assert n(count, default_graph_uri=[mkb, idea]) == in_mkb + in_idea
    assert n(count.replace("WHERE", f"FROM <{idea}> WHERE")) == in_idea
    # the request's dataset wins over the query's
    assert n(count.replace("WHERE", f"FROM <{idea}> WHERE"), default_graph_uri=[mkb]) == in_mkb
    named = "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert n(named, named_graph_uri=[mkb]) == 1
    assert n(count, named_graph_uri=[mkb]) == 0  # an empty default graph
    status, _, body = request(
        url, "/sparql?" + urllib.parse.urlencode({"query": count, "default-graph-uri": "g"})
    )
    assert status == 400 and b"default-graph-uri 'g' is not an absolute IRI" in body


def test_listens_on_localhost_only(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    listening = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if int(p, 16) == port and state == "0A":
            listening.append(addr)
    assert listening == ["0100007F"], listening  # 127.0.0.1, not 0.0.0.0


def test_pages(url: str) -> None:
    status, headers, body = request(url, "/")
    assert status == 200 and b"financing-table-participants" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Server"] == "dkg"  # no versions for a scanner to match
    status, _, body = request(url, "/entity/secfund")
    assert status == 200 and b'href="/entity/actielijn-2"' in body
    status, _, body = request(url, "/entity/secfnd")
    assert status == 404 and b"did you mean &#39;secfund&#39;" in body
    status, _, body = request(url, "/graph")
    assert status == 200 and b'<script type="application/json"' in body


def test_negotiate_defaults() -> None:
    assert negotiate("", graph=False) == "json"
    assert negotiate("*/*", graph=True) == "turtle"
    assert negotiate("text/html,application/sparql-results+xml;q=0.9", graph=False) == "xml"
    assert is_graph_query("PREFIX x: <y>\n# comment\nconstruct { ?s ?p ?o } where { ?s ?p ?o }")
    assert not is_graph_query("SELECT * WHERE { ?s ?p ?o }")


def test_builds_while_serving_leave_the_served_snapshot_whole(tmp_path: Path) -> None:
    """A server reads the snapshot that was current when it started. Builds meanwhile make newer
    ones and remove old ones, but not the one a server holds: a query worker that is replaced
    (after a timeout) opens it again. Once the server stops, builds remove it as any other."""
    from graph.build import build

    root = copy_project(tmp_path / "project")
    out = tmp_path / "build"
    build(root, out)
    served = (out / "current").resolve()
    registry = root / "extract" / "entities.yaml"
    text = registry.read_text(encoding="utf-8")
    with serving(out, "--timeout", "1", "--workers", "1", root=root) as base:
        for n in (1, 2, 3):  # each build keeps the current and the previous snapshot only
            registry.write_text(text.replace("label: {nl: SecFund,", f"label: {{nl: SecFund {n},"))
            build(root, out)
        assert served.is_dir() and (out / "current").resolve() != served
        status, _, _ = get(base, FOREVER)
        assert status == 503  # the worker was killed; its successor opens the snapshot again
        status, _, body = get(base, "ASK { ?s skos:prefLabel 'SecFund'@nl }")
        assert status == 200 and json.loads(body)["boolean"] is True, body  # the served graph
        status, _, body = request(base, "/entity/secfund")
        assert status == 200 and b"SecFund 3" not in body
        registry.write_text(text)  # back to the served graph: its snapshot is current again,
        build(root, out)  # brought up to date in place, not replaced under the server
        assert (out / "current").resolve() == served
        status, _, body = get(base, "ASK { ?s skos:prefLabel 'SecFund'@nl }")
        assert status == 200 and json.loads(body)["boolean"] is True, body
    for n in (4, 5):  # no server holds it now: it goes as any other
        registry.write_text(text.replace("label: {nl: SecFund,", f"label: {{nl: SecFund {n},"))
        build(root, out)
    assert not served.exists()
    assert not list((out / "snapshots").glob(".*.readers"))
