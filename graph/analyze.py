"""Network analysis of the graph (networkx): who brokers, how things connect, which clusters form,
and which conclusions rest on inference rather than on what the sources say.

Every result states the projection it was computed on (which node types and claims counted), and
every number is rounded, sorted and tie-broken by id, so the same build gives the same output.
Negated claims never count as links: "Financiën does not take part" is not a connection.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise
from typing import Any

import click
import networkx as nx

from graph.network import (
    LANGS,
    PROJECTIONS,
    Projection,
    build_option,
    graph_for,
    label,
    project,
    projection_from,
    projection_options,
    resolve,
    simple,
    term_label,
)

FORMATS = ("table", "markdown", "csv", "json")
# Exact betweenness is O(nm): above this many nodes it is estimated from sampled sources.
EXACT_BETWEENNESS_MAX_NODES = 1500
BETWEENNESS_SAMPLES = 500
SEED = 0
DIGITS = 4


# --- Output: one result, four formats (shared with any command that prints a table) --------------


@dataclass
class Result:
    """A titled table with notes: what every analysis prints, in any of the output formats."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{DIGITS}f}"
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def format_result(result: Result, fmt: str) -> str:
    """Render a result as an aligned text table, Markdown, CSV or JSON (always ending in a newline)."""
    if fmt == "json":
        doc = {
            "title": result.title,
            **result.meta,
            "notes": result.notes,
            "columns": result.columns,
            "rows": [dict(zip(result.columns, row, strict=True)) for row in result.rows],
        }
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    cells = [[_cell(v) for v in row] for row in result.rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(cells)
        return buf.getvalue()
    if fmt == "markdown":

        def md(text: str) -> str:
            return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

        lines = [f"## {md(result.title)}", ""]
        lines += [f"{md(n)}  " for n in result.notes]
        if result.notes:
            lines.append("")
        lines.append("| " + " | ".join(md(c) for c in result.columns) + " |")
        lines.append("|" + "|".join("---" for _ in result.columns) + "|")
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [result.title, ""]
    out += [line(result.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    if not cells:
        out.append("(none)")
    if result.notes:
        out += ["", *result.notes]
    return "\n".join(out) + "\n"


def output_options(func: Any) -> Any:
    """--format and --lang, as every table-printing command has them."""
    func = click.option(
        "--lang",
        type=click.Choice(LANGS),
        default="nl",
        show_default=True,
        help="Language of labels.",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)


def emit(result: Result, fmt: str) -> None:
    """Print a result; in CSV, which has no place for them, notes go to stderr."""
    click.echo(format_result(result, fmt), nl=False)
    if fmt == "csv":
        for note in result.notes:
            click.echo(note, err=True)


# --- Centrality ----------------------------------------------------------------------------------


@dataclass
class Centrality:
    """Degree, betweenness and eigenvector centrality of every node of a projection."""

    degree: dict[str, int]
    betweenness: dict[str, float]
    eigenvector: dict[str, float]
    notes: list[str]

    def ranking(self, metric: str = "betweenness") -> list[str]:
        """Nodes from most to least central by a metric, ties broken by degree then id."""
        values: dict[str, float] = getattr(self, metric)
        return sorted(values, key=lambda n: (-round(values[n], DIGITS), -self.degree[n], n))


def centrality(s: nx.Graph, exact: bool = False) -> Centrality:
    """Compute the three centralities on an undirected simple graph, sampling betweenness if large."""
    notes: list[str] = []
    n = s.number_of_nodes()
    if n > EXACT_BETWEENNESS_MAX_NODES and not exact:
        k = min(BETWEENNESS_SAMPLES, n)
        betweenness = nx.betweenness_centrality(s, k=k, seed=SEED, normalized=True)
        notes.append(
            f"betweenness estimated from {k} sampled source nodes (seed {SEED}) because the "
            f"projection has {n} nodes (> {EXACT_BETWEENNESS_MAX_NODES}); use --exact for the exact value"
        )
    else:
        betweenness = nx.betweenness_centrality(s, normalized=True)
    eigenvector: dict[str, float] = dict.fromkeys(s.nodes, 0.0)
    if s.number_of_edges():
        try:
            eigenvector = nx.eigenvector_centrality(s, max_iter=1000, tol=1e-9)
        except nx.PowerIterationFailedConvergence:
            notes.append("eigenvector centrality did not converge in 1000 iterations; shown as 0")
    return Centrality(
        degree={str(v): int(d) for v, d in s.degree()},
        betweenness={str(v): round(float(b), DIGITS) for v, b in betweenness.items()},
        eigenvector={str(v): round(float(e), DIGITS) for v, e in eigenvector.items()},
        notes=notes,
    )


def centrality_result(
    g: nx.MultiDiGraph, projection: Projection, lang: str, top: int, exact: bool
) -> Result:
    """The table of the most central nodes (brokers first)."""
    sub = project(g, projection)
    s = simple(sub)
    c = centrality(s, exact)
    ranked = c.ranking("betweenness")
    rows = [
        [
            i,
            n,
            label(g, n, lang),
            g.nodes[n]["type"],
            c.degree[n],
            c.betweenness[n],
            c.eigenvector[n],
        ]
        for i, n in enumerate(ranked[:top] if top else ranked, start=1)
    ]
    notes = [
        projection.describe(),
        f"{s.number_of_nodes()} nodes, {s.number_of_edges()} links (from {sub.number_of_edges()} claim edges); "
        "direction ignored, several claims between two entities count as one link",
        "degree: number of linked entities; betweenness: share of shortest paths passing through "
        "(normalised); eigenvector: linked to well-linked entities",
        *c.notes,
    ]
    return Result(
        f"Centrality: top {len(rows)} of {len(ranked)} by betweenness",
        ["rank", "id", "label", "type", "degree", "betweenness", "eigenvector"],
        rows,
        notes,
        {"projection": projection.as_dict()},
    )


def explain_result(
    g: nx.MultiDiGraph, projection: Projection, broker: str, lang: str, limit: int
) -> Result:
    """The pairs whose shortest paths pass through a broker, with one such path each."""
    s = simple(project(g, projection))
    if broker not in s:
        raise click.BadParameter(
            f"{broker!r} is not in {projection.describe()}", param_hint="--explain"
        )
    to_broker = nx.single_source_shortest_path_length(s, broker)
    from_broker = _path_counts(s, broker)
    via_paths = nx.single_source_shortest_path(s, broker)
    pairs: list[tuple[float, str, str, list[str]]] = []
    reach = sorted(n for n in to_broker if n != broker)
    for i, a in enumerate(reach):
        counts_a = _path_counts(s, a)
        for b in reach[i + 1 :]:
            dist, total = counts_a.get(b, (None, 0))
            if dist is None or to_broker[a] + to_broker[b] != dist:
                continue
            through = counts_a[broker][1] * from_broker[b][1]
            path = [*reversed(via_paths[a]), *via_paths[b][1:]]
            pairs.append((through / total, a, b, path))
    pairs.sort(key=lambda p: (-p[0], len(p[3]), p[1], p[2]))
    rows = [
        [
            label(g, a, lang),
            label(g, b, lang),
            round(share, DIGITS),
            " → ".join(label(g, n, lang) for n in path),
        ]
        for share, a, b, path in pairs[:limit]
    ]
    notes = [
        projection.describe(),
        f"{len(pairs)} pairs of entities have a shortest path through {label(g, broker, lang)}; "
        f"showing {len(rows)} (--limit)",
        "share: the fraction of the pair's shortest paths that pass through it",
    ]
    return Result(
        f"Shortest paths through {label(g, broker, lang)} ({broker})",
        ["from", "to", "share", "example path"],
        rows,
        notes,
        {"projection": projection.as_dict(), "broker": broker, "pairs": len(pairs)},
    )


def _path_counts(s: nx.Graph, source: str) -> dict[str, tuple[int, int]]:
    """Distance to and number of shortest paths to every reachable node (one BFS)."""
    dist = {source: 0}
    sigma = {source: 1}
    frontier = [source]
    while frontier:
        nxt: list[str] = []
        for u in frontier:
            for v in s[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    sigma[v] = 0
                    nxt.append(v)
                if dist[v] == dist[u] + 1:
                    sigma[v] += sigma[u]
        frontier = nxt
    return {n: (dist[n], sigma[n]) for n in dist}


# --- Paths ---------------------------------------------------------------------------------------


def _source_text(sources: Iterable[dict[str, str]]) -> str:
    return "; ".join(f"{s['document']} {s['locator']}".strip() for s in sources)


def paths_result(
    g: nx.MultiDiGraph, projection: Projection, start: str, end: str, lang: str, limit: int
) -> Result:
    """The shortest paths between two entities, one row per hop with its claims' standing and source."""
    sub = project(g, projection)
    for name, node in (("FROM", start), ("TO", end)):
        if node not in sub:
            raise click.BadParameter(f"{node!r} is not in {projection.describe()}", param_hint=name)
    s = simple(sub)
    rows: list[list[Any]] = []
    found = 0
    if nx.has_path(s, start, end):
        paths = sorted(islice(nx.all_shortest_paths(s, start, end), 1000))
        for number, path in enumerate(paths[:limit], start=1):
            found += 1
            for hop, (u, v) in enumerate(pairwise(path), start=1):
                for a, b, d in _hop_edges(sub, u, v):
                    arrow = "→" if (a, b) == (u, v) else "←"
                    relation = term_label(g, d["relation"], lang)
                    if d["via"]:
                        relation += f" (via {label(g, d['via'], lang)})"
                    rows.append(
                        [
                            number,
                            hop,
                            label(g, u, lang),
                            f"{arrow} {relation}",
                            label(g, v, lang),
                            d["standing"],
                            _source_text(d["sources"]),
                            [src["quote"] for src in d["sources"] if src["quote"]],
                        ]
                    )
        total = len(paths)
    else:
        total = 0
    notes = [projection.describe()]
    if total:
        length = nx.shortest_path_length(s, start, end)
        notes.append(f"{total} shortest path(s) of {length} hop(s); showing {found} (--limit)")
        notes.append(
            "→: the claim runs along the path; ←: it runs against it (direction is not required)"
        )
    else:
        notes.append(
            f"no path from {label(g, start, lang)} to {label(g, end, lang)} in this projection"
        )
    return Result(
        f"Paths from {label(g, start, lang)} ({start}) to {label(g, end, lang)} ({end})",
        ["path", "hop", "from", "relation", "to", "standing", "source", "quote"],
        rows,
        notes,
        {"projection": projection.as_dict(), "from": start, "to": end, "paths": total},
    )


def _hop_edges(sub: nx.MultiDiGraph, u: str, v: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = [(u, v, d) for d in sub.get_edge_data(u, v, default={}).values()]
    found += [(v, u, d) for d in sub.get_edge_data(v, u, default={}).values()]
    order = {"stated": 0, "analyst": 1, "inferred": 2}
    return sorted(
        found, key=lambda e: (order.get(e[2]["standing"], 3), e[2]["relation"], e[2]["claims"][0])
    )


# --- Communities ---------------------------------------------------------------------------------


def communities_result(g: nx.MultiDiGraph, projection: Projection, lang: str) -> Result:
    """Clusters of closely linked entities (Louvain, fixed seed), named by their most central member."""
    from networkx.algorithms.community import louvain_communities, modularity

    s = simple(project(g, projection))
    if s.number_of_edges() == 0:
        groups: list[set[str]] = [{n} for n in s.nodes]
    else:
        groups = louvain_communities(s, weight="weight", seed=SEED)
    clusters = []
    for group in groups:
        members = sorted(group)
        inner = s.subgraph(members)
        central = min(members, key=lambda n: (-inner.degree(n), -s.degree(n), n))
        others = sorted((m for m in members if m != central), key=lambda n: (-inner.degree(n), n))
        clusters.append((central, [central, *others]))
    clusters.sort(key=lambda c: (-len(c[1]), c[0]))
    shown = [c for c in clusters if len(c[1]) > 1]
    rows = [
        [i, label(g, central, lang), len(members), [label(g, m, lang) for m in members]]
        for i, (central, members) in enumerate(shown, start=1)
    ]
    notes = [
        projection.describe(),
        f"Louvain communities (networkx, seed {SEED}), named by their best-linked member",
    ]
    if s.number_of_edges():
        notes.append(f"modularity {modularity(s, groups, weight='weight'):.{DIGITS}f}")
    alone = len(clusters) - len(shown)
    if alone:
        notes.append(f"{alone} entities have no link in this projection and are not listed")
    return Result(
        f"Communities: {len(shown)} clusters",
        ["community", "named after", "size", "members"],
        rows,
        notes,
        {"projection": projection.as_dict()},
    )


# --- Robustness ----------------------------------------------------------------------------------


def kendall_tau(a: list[str], b: list[str]) -> float:
    """Kendall's tau between two rankings of the same items (1 same order, -1 reversed)."""
    pos_b = {n: i for i, n in enumerate(b)}
    items = [n for n in a if n in pos_b]
    concordant = discordant = 0
    for i, x in enumerate(items):
        for y in items[i + 1 :]:
            if pos_b[x] < pos_b[y]:
                concordant += 1
            else:
                discordant += 1
    pairs = concordant + discordant
    return (concordant - discordant) / pairs if pairs else 1.0


VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("without analyst", ("stated", "inferred")),
    ("without inferred", ("stated", "analyst")),
    ("stated only", ("stated",)),
)


def robustness_result(
    g: nx.MultiDiGraph, projection: Projection, lang: str, top: int, metric: str, exact: bool
) -> Result:
    """How the top of the ranking changes when inferred or analyst claims are left out."""
    base_sub = project(g, projection)
    base = centrality(simple(base_sub), exact)
    base_rank = base.ranking(metric)
    variants = []
    for name, standings in VARIANTS:
        kept = tuple(st for st in projection.standings if st in standings)
        sub = project(g, projection.with_(standings=kept))
        c = centrality(simple(sub), exact)
        variants.append(
            (name, base_sub.number_of_edges() - sub.number_of_edges(), c, c.ranking(metric))
        )
    top_base = base_rank[:top]
    listed = list(top_base)
    for *_x, ranking in variants:
        listed += [n for n in ranking[:top] if n not in listed and getattr(base, metric)[n] > 0]
    rows = []
    for n in listed:
        ranks = [ranking.index(n) + 1 for *_x, ranking in variants]
        left = [
            name
            for (name, *_y), r in zip(variants, ranks, strict=True)
            if r > top >= base_rank.index(n) + 1
        ]
        rows.append(
            [
                label(g, n, lang),
                g.nodes[n]["type"],
                base_rank.index(n) + 1,
                *ranks,
                getattr(base, metric)[n],
                "drops out of the top " + str(top) + " " + ", ".join(left) if left else "",
            ]
        )
    notes = [
        projection.describe(),
        f"ranking by {metric}; the top {top} with all standings, and where each lands",
    ]
    for name, removed, _c, ranking in variants:
        overlap = len(set(top_base) & set(ranking[:top]))
        union = sorted(set(top_base) | set(ranking[:top]))
        tau = kendall_tau([n for n in base_rank if n in union], [n for n in ranking if n in union])
        notes.append(
            f"{name}: {removed} claim edges left out; top-{top} overlap {overlap}/{len(top_base)}; "
            f"Kendall tau over the top {tau:.{DIGITS}f}"
        )
    notes += base.notes
    return Result(
        f"Robustness of the {metric} ranking to inferred and analyst claims",
        [
            "label",
            "type",
            "rank (all)",
            *(f"rank ({name})" for name, *_x in variants),
            metric,
            "note",
        ],
        rows,
        notes,
        {"projection": projection.as_dict(), "metric": metric, "top": top},
    )


# --- Commands ------------------------------------------------------------------------------------


def _common(func: Any) -> Any:
    return build_option(output_options(projection_options(func)))


@click.group("analyze")
def analyze_command() -> None:
    """Network analysis: centrality, paths, communities and robustness (networkx).

    Each result says which projection it used: which node types and which claims counted.
    Negated claims never count as links; planned or possible ones only with --modal.
    """


_PROJECTION_HELP = "; ".join(f"{p.name}: {p.description}" for p in PROJECTIONS.values())


@analyze_command.command("centrality")
@_common
@click.option(
    "--top", type=click.IntRange(0), default=20, show_default=True, help="Rows to show (0: all)."
)
@click.option(
    "--explain",
    "explain",
    default=None,
    metavar="ID",
    help="Show the shortest paths through this broker.",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Pairs shown by --explain.",
)
@click.option("--exact", is_flag=True, help="Exact betweenness even on large graphs (slow).")
@click.pass_context
def centrality_command(
    ctx: click.Context,
    fmt: str,
    lang: str,
    build_dir: Any,
    top: int,
    explain: str | None,
    limit: int,
    exact: bool,
    **proj: Any,
) -> None:
    """Degree, betweenness and eigenvector centrality: the brokers of the network."""
    g = graph_for(ctx, build_dir)
    projection = projection_from(**proj)
    if explain:
        emit(explain_result(g, projection, resolve(g, explain), lang, limit), fmt)
    else:
        emit(centrality_result(g, projection, lang, top, exact), fmt)


@analyze_command.command("paths")
@click.argument("start", metavar="FROM")
@click.argument("end", metavar="TO")
@_common
@click.option(
    "--limit", type=click.IntRange(1), default=5, show_default=True, help="Paths to show."
)
@click.pass_context
def paths_command(
    ctx: click.Context,
    start: str,
    end: str,
    fmt: str,
    lang: str,
    build_dir: Any,
    limit: int,
    **proj: Any,
) -> None:
    """How FROM connects to TO (ids, labels or aliases): each hop with its standing and source."""
    g = graph_for(ctx, build_dir)
    emit(
        paths_result(g, projection_from(**proj), resolve(g, start), resolve(g, end), lang, limit),
        fmt,
    )


@analyze_command.command("communities")
@_common
@click.pass_context
def communities_command(
    ctx: click.Context, fmt: str, lang: str, build_dir: Any, **proj: Any
) -> None:
    """Clusters of closely linked entities, named by their most central member."""
    g = graph_for(ctx, build_dir)
    emit(communities_result(g, projection_from(**proj), lang), fmt)


@analyze_command.command("robustness")
@_common
@click.option(
    "--top", type=click.IntRange(1), default=10, show_default=True, help="Size of the top compared."
)
@click.option(
    "--metric",
    type=click.Choice(["betweenness", "degree", "eigenvector"]),
    default="betweenness",
    show_default=True,
)
@click.option("--exact", is_flag=True, help="Exact betweenness even on large graphs (slow).")
@click.pass_context
def robustness_command(
    ctx: click.Context,
    fmt: str,
    lang: str,
    build_dir: Any,
    top: int,
    metric: str,
    exact: bool,
    **proj: Any,
) -> None:
    """How the ranking changes when inferred or analyst claims are left out."""
    g = graph_for(ctx, build_dir)
    emit(robustness_result(g, projection_from(**proj), lang, top, metric, exact), fmt)


analyze_command.help = (analyze_command.help or "") + "\n\nProjections: " + _PROJECTION_HELP
