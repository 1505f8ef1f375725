"""Push the built graph to a SPARQL 1.1 server: one HTTP PUT per named graph, by the SPARQL 1.1
Graph Store Protocol, so that each source document's graph (and the registry, ontology and inferred
graphs) replaces what the server held under that name, and nothing else on the server changes.

Why PUT with ?graph= and never POST: PUT replaces exactly one named graph, so pushing twice leaves
the same data, and a document curated away in the meantime never lingers in a graph it shared with
others; a POST adds, and a POST without ?graph= makes Oxigraph invent a graph name. After the push,
the triples per graph are counted on the server and compared with the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import click

from graph import constants as C
from graph.cli import root_of
from graph.errors import RunError, counted, display_path
from graph.store import Endpoint, RemoteBackend, choose_endpoint


@dataclass(frozen=True)
class Pushed:
    """What a push did."""

    graphs: int
    triples: int
    others: list[str]  # dkg graphs on the server that this build does not have


def graph_url(store_url: str, graph: str) -> str:
    """The Graph Store Protocol address of one named graph (indirect identification, ?graph=)."""
    sep = "&" if "?" in store_url else "?"
    return f"{store_url}{sep}graph={quote(graph, safe='')}"


def local_graphs(snapshot: Path) -> list[tuple[str, bytes]]:
    """Every named graph of a build, as (IRI, N-Triples), in IRI order."""
    from pyoxigraph import RdfFormat, Store

    try:
        store = Store.read_only(str(snapshot / C.OUT_STORE))
    except OSError as exc:
        raise RunError(f"cannot open the store of {display_path(snapshot)}: {exc}") from exc
    out = []
    for g in sorted(store.named_graphs(), key=lambda n: n.value):
        data = store.dump(format=RdfFormat.N_TRIPLES, from_graph=g) or b""
        out.append((g.value, data))
    return out


def server_counts(remote: RemoteBackend) -> dict[str, int]:
    """Triples per dkg named graph on the server."""
    query = (
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
        f'FILTER(STRSTARTS(STR(?g), "{C.GRAPH}")) }} GROUP BY ?g'
    )
    table = remote.select_named(query)
    out = {}
    for row in table.rows:
        g, n = row.get("g"), row.get("n")
        if g is not None and n is not None:
            out[g.value] = int(n.value)
    return out


def push(snapshot: Path, endpoint: Endpoint, progress: bool = False) -> Pushed:
    """PUT every named graph of the build to the server; verify the counts; return what was done."""
    from graph.progress import bar

    remote = RemoteBackend(endpoint)
    store_url = endpoint.graph_store()
    graphs = local_graphs(snapshot)
    expected: dict[str, int] = {}
    with bar(len(graphs), "pushing graphs", enabled=progress) as advance:
        for iri, data in graphs:
            headers = {"Content-Type": "application/n-triples; charset=utf-8"}
            status, _type, _body = remote.request(graph_url(store_url, iri), "PUT", data, headers)
            if status not in (200, 201, 204):
                raise RunError(f"{store_url} answered {status} to the PUT of {iri}")
            expected[iri] = data.count(b"\n")
            advance(1)
    counts = server_counts(remote)
    wrong = [
        f"{iri} ({counts.get(iri, 0)} on the server, {n} built)"
        for iri, n in expected.items()
        if counts.get(iri, 0) != n
    ]
    if wrong:
        raise RunError(
            f"after the push the server holds different graphs than the build: {', '.join(wrong[:5])}"
            + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        )
    others = sorted(set(counts) - set(expected))
    return Pushed(len(expected), sum(expected.values()), others)


@click.command("push")
@click.option(
    "--endpoint",
    metavar="URL",
    default=None,
    help="SPARQL query URL of the server (or $DKG_ENDPOINT, or [endpoint] url in dkg.toml).",
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    default=None,
    help=(
        "Its Graph Store Protocol URL (or $DKG_ENDPOINT_STORE, or [endpoint] store in dkg.toml). "
        "Default: the usual one beside an Oxigraph, Fuseki or GraphDB query URL."
    ),
)
@click.option(
    "--build",
    "build_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build folder to push (default: build/ in the project, or $DKG_BUILD).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def push_command(
    ctx: click.Context,
    endpoint: str | None,
    store_url: str | None,
    build_dir: Path | None,
    quiet: bool,
) -> None:
    """Load the current build into a SPARQL 1.1 server, one named graph per source document.

    Each graph of the build replaces the graph of the same name on the server (an HTTP PUT of the
    Graph Store Protocol); graphs the build does not have are left alone. Log-in comes from the
    environment only: $DKG_ENDPOINT_TOKEN (bearer), or $DKG_ENDPOINT_USER and $DKG_ENDPOINT_PASSWORD.
    """
    import sys
    from dataclasses import replace

    from graph.layout import current_snapshot, default_out

    root = root_of(ctx)
    chosen = choose_endpoint(root, endpoint) if endpoint else choose_endpoint(root)
    if chosen is None:
        raise RunError(
            "no server to push to: give --endpoint URL (or set $DKG_ENDPOINT, or [endpoint] url in dkg.toml)"
        )
    if store_url:
        from graph.store import _check_url

        chosen = replace(chosen, store=_check_url(store_url, "--store"))
    snapshot = current_snapshot(build_dir or default_out(root))
    result = push(snapshot, chosen, progress=not quiet and sys.stderr.isatty())
    remote = RemoteBackend(chosen)
    union = remote.union_ready()
    if quiet:
        return
    click.echo(
        f"pushed {counted(result.graphs, 'named graph')}, {counted(result.triples, 'triple')}, "
        f"to {chosen.graph_store()}; "
        "the server's counts match the build"
    )
    if result.others:
        names = ", ".join(g.removeprefix(C.GRAPH) for g in result.others[:5])
        more = f" and {len(result.others) - 5} more" if len(result.others) > 5 else ""
        click.echo(
            f"note: the server also holds {counted(len(result.others), 'dkg graph')} this build does not have "
            f"({names}{more}); left as they were"
        )
    if not union:
        click.echo(
            "warning: the server's default graph is not the union of its named graphs, so dkg queries "
            "will find nothing there; start Oxigraph with --union-default-graph, or set "
            "tdb2:unionDefaultGraph in Fuseki",
            err=True,
        )
