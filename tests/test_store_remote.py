"""The graph on a real SPARQL 1.1 server: `dkg push` loads the build into the Oxigraph server from
PyPI (one Graph Store Protocol PUT per named graph), and every report, named query and analysis run
against it (`--endpoint`, $DKG_ENDPOINT) answers exactly as against the embedded store.

The server runs as a real process on 127.0.0.1 and a free port, with a temporary data folder.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner, Result

from graph.cli import main
from graph.query import stored_queries
from graph.store import Endpoint, RemoteBackend, derive_graph_store, open_backend
from tests.conftest import ROOT
from tests.serving import stop

pytestmark = pytest.mark.server

OXIGRAPH = Path(sys.executable).with_name("oxigraph")
OTHER_GRAPH = "http://example.org/not-dkg"
REPORTS = [
    ["coverage"],
    ["gaps"],
    ["show", "secfund"],
    ["show", "antwoorden-idea-motie-boswijk-2025"],
    ["money"],
    ["timeline"],
    ["commitments"],
    ["sources"],
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def oxigraph_server(data: Path, *flags: str) -> Iterator[str]:
    """Run `oxigraph serve` on 127.0.0.1:<free port>; yield its base URL once it answers."""
    if not OXIGRAPH.exists():
        pytest.fail(f"{OXIGRAPH} is missing: pip install -e '.[test]' installs the oxigraph server")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(OXIGRAPH), "serve", "--location", str(data), "--bind", f"127.0.0.1:{port}", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ask = urllib.parse.urlencode({"query": "ASK {}"})
                with urllib.request.urlopen(f"{base}/query?{ask}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"oxigraph serve did not start: {err}")
                time.sleep(0.05)
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph"), "--union-default-graph") as base:
        yield base


def dkg(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["-C", str(ROOT), *args], env=env, catch_exceptions=False)


def put(base: str, graph: str, ntriples: str) -> None:
    url = f"{base}/store?graph={urllib.parse.quote(graph, safe='')}"
    req = urllib.request.Request(
        url, data=ntriples.encode(), method="PUT", headers={"Content-Type": "application/n-triples"}
    )
    with urllib.request.urlopen(req, timeout=10):
        pass


def count(base: str, graph: str) -> int:
    q = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    req = urllib.request.Request(
        f"{base}/query",
        data=urllib.parse.urlencode({"query": q}).encode(),
        headers={"Accept": "application/sparql-results+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return int(json.load(r)["results"]["bindings"][0]["n"]["value"])


@pytest.fixture(scope="module")
def pushed(server: str, built: Path) -> str:
    """The session build pushed to the server, over a foreign graph and a stale dkg graph."""
    put(
        server,
        OTHER_GRAPH,
        "<http://example.org/a> <http://example.org/b> <http://example.org/c> .\n",
    )
    stale = "https://w3id.org/dkg/graph/antwoorden-idea-motie-boswijk-2025"
    put(
        server,
        stale,
        "<http://example.org/stale> <http://example.org/b> <http://example.org/c> .\n",
    )
    result = dkg("push", "--endpoint", f"{server}/query", "--build", str(built))
    assert result.exit_code == 0, result.output
    assert "the server's counts match the build" in result.output
    assert "note: the server also holds" not in result.output  # the foreign graph is not dkg's
    return f"{server}/query"


# --- Pushing -------------------------------------------------------------------------------------


def test_push_replaces_each_graph_of_the_build_and_nothing_else(pushed: str, built: Path) -> None:
    base = pushed.removesuffix("/query")
    embedded = open_backend(ROOT, built)
    table = embedded.select(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    )
    local = {r["g"].value: int(r["n"].value) for r in table.rows if r["g"] and r["n"]}
    assert len(local) >= 5  # two documents, registry, ontology, inferred
    for graph, n in local.items():
        assert count(base, graph) == n, graph
    assert count(base, OTHER_GRAPH) == 1  # left alone
    stale = RemoteBackend(Endpoint(pushed)).ask("ASK { <http://example.org/stale> ?p ?o }")
    assert not stale  # the document's graph was replaced, not added to


def test_pushing_again_changes_nothing(pushed: str, built: Path) -> None:
    base = pushed.removesuffix("/query")
    before = count(base, "https://w3id.org/dkg/graph/registry")
    result = dkg("push", "--endpoint", pushed, "--build", str(built), "-q")
    assert result.exit_code == 0 and result.output == ""
    assert count(base, "https://w3id.org/dkg/graph/registry") == before


# --- The same answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: "-".join(r))
def test_reports_answer_the_same_on_the_server(pushed: str, built: Path, report: list[str]) -> None:
    here = dkg("report", *report, "-f", "json", env={"DKG_BUILD": str(built)})
    there = dkg("report", *report, "-f", "json", env={"DKG_ENDPOINT": pushed})
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert json.loads(there.output) == json.loads(here.output)


def _rows(output: str) -> list[str]:
    doc = json.loads(output)
    return sorted(json.dumps(b, sort_keys=True) for b in doc["results"]["bindings"])


@pytest.mark.parametrize("name", [q.name for q in stored_queries(ROOT)])
def test_named_queries_answer_the_same_on_the_server(pushed: str, built: Path, name: str) -> None:
    here = dkg("query", name, "-f", "json", env={"DKG_BUILD": str(built)})
    there = dkg("query", name, "-f", "json", "--endpoint", pushed)
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert _rows(there.output) == _rows(here.output)


def test_analysis_answers_the_same_on_the_server(pushed: str, built: Path) -> None:
    args = ["analyze", "centrality", "-f", "json", "--top", "0"]
    here = dkg(*args, env={"DKG_BUILD": str(built)})
    there = dkg(*args, env={"DKG_ENDPOINT": pushed})
    assert here.exit_code == 0, here.output
    assert json.loads(there.output) == json.loads(here.output)


def test_construct_and_ask_answer_the_same(pushed: str, built: Path) -> None:
    embedded, remote = open_backend(ROOT, built), open_backend(ROOT, endpoint=pushed)
    q = "CONSTRUCT { ?b skos:prefLabel ?l } WHERE { ?b a dkg:Bottleneck ; skos:prefLabel ?l }"
    assert sorted(remote.construct(q).splitlines()) == sorted(embedded.construct(q).splitlines())
    assert remote.ask("ASK { id:secfund a dkg:Instrument }") is True


def test_a_config_file_points_at_the_server(pushed: str, built: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "ontology", project / "ontology")
    (project / "extract").mkdir()
    (project / "dkg.toml").write_text(f'[endpoint]\nurl = "{pushed}"\n')
    query = "SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE { ?b a dkg:Bottleneck }"
    result = CliRunner().invoke(main, ["-C", str(project), "query", query, "-f", "csv"])
    assert result.exit_code == 0, result.output
    expected = open_backend(ROOT, built).select(query).rows[0]["n"]
    assert expected is not None and result.output.split() == ["n", expected.value]
    embedded = CliRunner().invoke(
        main, ["-C", str(project), "query", "--endpoint", "embedded", "ASK {}"]
    )
    assert embedded.exit_code == 2 and "dkg build" in embedded.output  # no build in that project


# --- Errors --------------------------------------------------------------------------------------


def test_a_syntax_error_on_the_server_names_the_users_line(pushed: str) -> None:
    result = dkg("query", "SELECT ?x WHERE {\n  ?x a }", "--endpoint", pushed)
    assert result.exit_code == 1
    assert "line 2" in result.output and "Traceback" not in result.output


def test_a_server_without_the_union_default_graph_is_named(tmp_path: Path, built: Path) -> None:
    with oxigraph_server(tmp_path / "data") as base:
        result = dkg("push", "--endpoint", f"{base}/query", "--build", str(built))
        assert result.exit_code == 0, result.output
        assert "--union-default-graph" in result.output  # the warning after the push
        query = dkg("query", "ASK { ?s ?p ?o }", "--endpoint", f"{base}/query")
        assert query.exit_code == 2
        assert "default graph is empty" in query.output


def test_no_server_is_a_clear_error() -> None:
    port = free_port()
    result = dkg("query", "ASK {}", "--endpoint", f"http://127.0.0.1:{port}/query")
    assert result.exit_code == 2
    assert "cannot reach the SPARQL endpoint" in result.output


def test_credentials_never_on_the_command_line() -> None:
    result = dkg("query", "ASK {}", "--endpoint", "http://me:secret@127.0.0.1:9/query")
    assert result.exit_code == 2
    assert "DKG_ENDPOINT_USER" in result.output


def test_credentials_never_in_the_config_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "extract").mkdir(parents=True)
    (project / "ontology").mkdir()
    (project / "dkg.toml").write_text(
        '[endpoint]\nurl = "http://127.0.0.1:9/query"\npassword = "x"\n'
    )
    result = CliRunner().invoke(main, ["-C", str(project), "query", "ASK {}"])
    assert result.exit_code == 2
    assert "do not belong in a file" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[endpont]\nurl = "http://127.0.0.1:9/query"\n', "unknown key 'endpont'"),
        ('[endpoint]\nurl = "http://127.0.0.1:9/query"\nurll = 1\n', "unknown key 'urll'"),
    ],
)
def test_a_misspelt_config_is_refused_not_ignored(tmp_path: Path, text: str, message: str) -> None:
    """Ignored, a misspelt table would leave every query on the embedded store without a word."""
    project = tmp_path / "project"
    (project / "extract").mkdir(parents=True)
    (project / "ontology").mkdir()
    (project / "dkg.toml").write_text(text)
    result = CliRunner().invoke(main, ["-C", str(project), "query", "ASK {}"])
    assert result.exit_code == 2
    assert message in result.output


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        body = b'{"head": {}, "boolean": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = _answer


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DKG_ENDPOINT_TOKEN": "t0ken"}, "Bearer t0ken"),
        ({"DKG_ENDPOINT_TOKEN": "t0ken\n"}, "Bearer t0ken"),  # as read from a file
        (
            {"DKG_ENDPOINT_USER": "curator", "DKG_ENDPOINT_PASSWORD": "pw"},
            "Basic " + base64.b64encode(b"curator:pw").decode(),
        ),
    ],
)
def test_log_in_comes_from_the_environment(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _Recorder.seen = []
        url = f"http://127.0.0.1:{server.server_address[1]}/sparql"
        assert RemoteBackend(Endpoint(url)).ask("ASK {}") is True
        assert _Recorder.seen and all(auth == expected for _, _, auth in _Recorder.seen)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"DKG_ENDPOINT_TOKEN": "s3cret\r\nX-Injected: 1"}, "$DKG_ENDPOINT_TOKEN"),
        ({"DKG_ENDPOINT_TOKEN": "s3cr\u00e9t"}, "$DKG_ENDPOINT_TOKEN"),
        ({"DKG_ENDPOINT_USER": "s3cret:x", "DKG_ENDPOINT_PASSWORD": "pw"}, "$DKG_ENDPOINT_USER"),
    ],
)
def test_a_log_in_that_cannot_be_sent_is_refused_without_showing_it(
    env: dict[str, str], name: str
) -> None:
    """Not an internal error quoting the header: the variable is named, its value never shown."""
    result = CliRunner().invoke(
        main,
        ["-C", str(ROOT), "query", "ASK {}", "--endpoint", "http://127.0.0.1:9/query"],
        env=env,
    )
    assert result.exit_code == 2
    assert name in result.output and "internal error" not in result.output
    assert "s3cr" not in result.output


def test_graph_store_addresses_of_known_servers() -> None:
    assert derive_graph_store("http://localhost:7878/query") == "http://localhost:7878/store"
    assert derive_graph_store("http://localhost:3030/ds/sparql") == "http://localhost:3030/ds/data"
    assert (
        derive_graph_store("http://localhost:7200/repositories/dkg")
        == "http://localhost:7200/repositories/dkg/rdf-graphs/service"
    )
    assert derive_graph_store("http://localhost:8890/sparql") is None  # Virtuoso: give --store
