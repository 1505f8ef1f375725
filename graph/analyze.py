"""Network analysis of the graph (networkx): who brokers, how things connect, which clusters form,
and which conclusions rest on inference rather than on what the sources say.

Every result states the projection it was computed on (which node types and claims counted), and
every number is rounded, sorted and tie-broken by id, so the same build gives the same output.
Negated claims never count as links: "Financiën does not take part" is not a connection.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Any

import click
import networkx as nx

from graph.errors import counted
from graph.network import (
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
from graph.reports import emit, report_options
from graph.reports.base import Column, Report, Section, Source

SEED = 0  # of the Louvain communities
DIGITS = 4


# --- Output: the reports' Report, so analyses print exactly like `dkg report` ---------------------


def _number(value: Any) -> str:
    return f"{value:.{DIGITS}f}" if isinstance(value, float) else str(value)


def _joined(value: Any) -> str:
    return "; ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def _arrows(value: Any) -> str:
    return " → ".join(str(v) for v in value)


def make_report(
    name: str,
    title: str,
    columns: list[tuple[str, str]],
    records: list[dict[str, Any]],
    notes: list[str],
    meta: dict[str, Any],
    cites: bool = False,
) -> Report:
    """An analysis as a Report: one table, its notes, and a JSON form carrying the projection."""
    shows = {"example": _arrows, "members": _joined}
    cols = [Column(key, header, show=shows.get(key, _number)) for key, header in columns]
    json_rows = [
        {
            k: ([s.as_json() for s in v] if k == "sources" else v)
            for k, v in r.items()
            if not k.startswith("_")
        }
        for r in records
    ]
    data = {"analysis": name, "title": title, **meta, "notes": notes, "rows": json_rows}
    heading = f"{name.capitalize()} ({meta['projection']['name']} projection)"
    section = Section(name, title, cols, records, cites=cites)
    return Report(name, heading, [section], data=data, notes=notes)


def emit_report(report: Report, fmt: str, quotes: bool, out: str) -> None:
    """Write an analysis like a report; in CSV, which has no place for them, notes go to stderr."""
    emit(report, fmt, quotes, out)
    if fmt == "csv":
        for note in report.notes:
            click.echo(note, err=True)


# --- Centrality ----------------------------------------------------------------------------------


@dataclass
class Centrality:
    """Degree, betweenness and eigenvector centrality of every node of a projection."""

    degree: dict[str, int]
    betweenness: dict[str, float]
    eigenvector: dict[str, float]

    def ranking(self, metric: str = "betweenness") -> list[str]:
        """Nodes from most to least central by a metric, ties broken by degree then id."""
        values: dict[str, float] = getattr(self, metric)
        return sorted(values, key=lambda n: (-round(values[n], DIGITS), -self.degree[n], n))


def centrality(s: nx.Graph) -> Centrality:
    """Compute the three centralities on an undirected simple graph, with networkx's definitions.

    Betweenness (exact) and eigenvector centrality are computed by igraph's C code. networkx, in
    Python, took 22 s to estimate betweenness from 500 sampled sources on the 5,000-node projection
    of 100,000 claims (the estimate kept 13 of the exact top 20) and 17 s for eigenvector
    centrality; igraph takes 3-4 s for the exact betweenness and 0.01 s for the eigenvector. The
    values are networkx's: betweenness normalised by (n-1)(n-2)/2 pairs, eigenvector scaled to
    unit length (tests/test_analyze.py compares both with networkx).
    """
    import warnings

    import igraph

    nodes = list(s.nodes)
    n = len(nodes)
    index = {v: i for i, v in enumerate(nodes)}
    ig = igraph.Graph(n=n, edges=[(index[a], index[b]) for a, b in s.edges()])
    pairs = (n - 1) * (n - 2) / 2
    betweenness = [b / pairs for b in ig.betweenness(directed=False)] if n > 2 else [0.0] * n
    eigenvector = [0.0] * n
    if ig.ecount():
        with warnings.catch_warnings():  # igraph warns that a disconnected graph has zeros
            warnings.simplefilter("ignore", RuntimeWarning)
            values = ig.eigenvector_centrality()
        length = sum(v * v for v in values) ** 0.5
        eigenvector = [v / length for v in values]
    return Centrality(
        degree={str(v): int(d) for v, d in s.degree()},
        betweenness={
            str(v): round(float(b), DIGITS) for v, b in zip(nodes, betweenness, strict=True)
        },
        eigenvector={
            str(v): round(float(e), DIGITS) for v, e in zip(nodes, eigenvector, strict=True)
        },
    )


def centrality_result(g: nx.MultiDiGraph, projection: Projection, lang: str, top: int) -> Report:
    """The table of the most central nodes (brokers first)."""
    sub = project(g, projection)
    s = simple(sub)
    c = centrality(s)
    ranked = c.ranking("betweenness")
    rows = [
        {
            "rank": i,
            "id": n,
            "label": label(g, n, lang),
            "type": g.nodes[n]["type"],
            "degree": c.degree[n],
            "betweenness": c.betweenness[n],
            "eigenvector": c.eigenvector[n],
        }
        for i, n in enumerate(ranked[:top] if top else ranked, start=1)
    ]
    notes = [
        projection.describe(),
        f"{counted(s.number_of_nodes(), 'node')}, {counted(s.number_of_edges(), 'link')} "
        f"(from {counted(sub.number_of_edges(), 'claim edge')}); "
        "direction ignored, several claims between two entities count as one link",
        "degree: number of linked entities; betweenness: share of shortest paths passing through "
        "(normalised); eigenvector: linked to well-linked entities",
    ]
    return make_report(
        "centrality",
        f"Centrality: top {len(rows)} of {len(ranked)} by betweenness",
        [(k, k) for k in ("rank", "id", "label", "type", "degree", "betweenness", "eigenvector")],
        rows,
        notes,
        {"projection": projection.as_dict()},
    )


def explain_result(
    g: nx.MultiDiGraph, projection: Projection, broker: str, lang: str, limit: int
) -> Report:
    """The pairs whose shortest paths pass through a broker, with one such path each."""
    s = simple(project(g, projection))
    if broker not in s:
        raise _not_in(g, projection, broker, "--explain")
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
        {
            "from": a,
            "to": b,
            "from_label": label(g, a, lang),
            "to_label": label(g, b, lang),
            "share": round(share, DIGITS),
            "example": [label(g, n, lang) for n in path],
        }
        for share, a, b, path in pairs[:limit]
    ]
    notes = [
        projection.describe(),
        f"{counted(len(pairs), 'pair')} of entities "
        f"{'has a shortest path' if len(pairs) == 1 else 'have shortest paths'} "
        f"through {label(g, broker, lang)}; "
        f"showing {len(rows)} (--limit)",
        "share: the fraction of the pair's shortest paths that pass through it",
    ]
    return make_report(
        "explain",
        f"Shortest paths through {label(g, broker, lang)} ({broker})",
        [
            ("from_label", "from"),
            ("to_label", "to"),
            ("share", "share"),
            ("example", "example path"),
        ],
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


def _not_in(g: nx.MultiDiGraph, projection: Projection, node: str, name: str) -> click.BadParameter:
    """An entity the projection leaves out: say why, and which projection has it."""
    kind = g.nodes[node].get("type", "") if node in g else ""
    why = (
        f"the {projection.name} projection leaves out {kind}"
        if kind and kind not in projection.node_types
        else f"it has no link in the {projection.name} projection"
    )
    return click.BadParameter(
        f"{node!r} is not in the graph analysed: {why}; --projection all has every entity",
        param_hint=name,
    )


# --- Paths ---------------------------------------------------------------------------------------


def paths_result(
    g: nx.MultiDiGraph, projection: Projection, start: str, end: str, lang: str, limit: int
) -> Report:
    """The shortest paths between two entities, one row per hop with its claims' standing and source."""
    sub = project(g, projection)
    for name, node in (("FROM", start), ("TO", end)):
        if node not in sub:
            raise _not_in(g, projection, node, name)
    if start == end:
        raise click.BadParameter(f"FROM and TO are both {start!r}; give two entities")
    s = simple(sub)
    rows: list[dict[str, Any]] = []
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
                        {
                            "path": number,
                            "hop": hop,
                            "from": u,
                            "to": v,
                            "from_label": label(g, u, lang),
                            "relation": f"{arrow} {relation}",
                            "to_label": label(g, v, lang),
                            "standing": d["standing"],
                            "claims": d["claims"],
                            "sources": [
                                Source(src["document"], src["locator"], src["quote"] or None)
                                for src in d["sources"]
                            ],
                        }
                    )
        total = len(paths)
    else:
        total = 0
    notes = [projection.describe()]
    if total:
        length = nx.shortest_path_length(s, start, end)
        notes.append(
            f"{counted(total, 'shortest path')} of {counted(length, 'hop')}; showing {found} (--limit)"
        )
        notes.append(
            "→: the claim runs along the path; ←: it runs against it (direction is not required)"
        )
    else:
        notes.append(
            f"no path from {label(g, start, lang)} to {label(g, end, lang)} in this projection"
        )
    return make_report(
        "paths",
        f"Paths from {label(g, start, lang)} ({start}) to {label(g, end, lang)} ({end})",
        [
            ("path", "path"),
            ("hop", "hop"),
            ("from_label", "from"),
            ("relation", "relation"),
            ("to_label", "to"),
            ("standing", "standing"),
        ],
        rows,
        notes,
        {"projection": projection.as_dict(), "from": start, "to": end, "paths": total},
        cites=True,
    )


def _hop_edges(sub: nx.MultiDiGraph, u: str, v: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = [(u, v, d) for d in sub.get_edge_data(u, v, default={}).values()]
    found += [(v, u, d) for d in sub.get_edge_data(v, u, default={}).values()]
    order = {"stated": 0, "analyst": 1, "inferred": 2}
    return sorted(
        found, key=lambda e: (order.get(e[2]["standing"], 3), e[2]["relation"], e[2]["claims"][0])
    )


# --- Communities ---------------------------------------------------------------------------------


def communities_result(g: nx.MultiDiGraph, projection: Projection, lang: str) -> Report:
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
        {
            "community": i,
            "id": central,
            "name": label(g, central, lang),
            "size": len(members),
            "member_ids": members,
            "members": [label(g, m, lang) for m in members],
        }
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
        notes.append(
            f"{counted(alone, 'entity', 'entities')} without a link in this projection "
            f"{'is' if alone == 1 else 'are'} not listed"
        )
    return make_report(
        "communities",
        f"Communities: {counted(len(shown), 'cluster')}",
        [
            ("community", "community"),
            ("name", "named after"),
            ("size", "size"),
            ("members", "members"),
        ],
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


def _key(variant: str) -> str:
    return "rank_" + variant.replace(" ", "_")


def robustness_result(
    g: nx.MultiDiGraph, projection: Projection, lang: str, top: int, metric: str
) -> Report:
    """How the top of the ranking changes when inferred or analyst claims are left out."""
    base_sub = project(g, projection)
    base = centrality(simple(base_sub))
    base_rank = base.ranking(metric)
    variants = []
    for name, standings in VARIANTS:
        kept = tuple(st for st in projection.standings if st in standings)
        sub = project(g, projection.with_(standings=kept))
        c = centrality(simple(sub))
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
            {
                "id": n,
                "label": label(g, n, lang),
                "type": g.nodes[n]["type"],
                "rank_all": base_rank.index(n) + 1,
                **{_key(name): r for (name, *_y), r in zip(variants, ranks, strict=True)},
                metric: getattr(base, metric)[n],
                "note": f"drops out of the top {top} {', '.join(left)}" if left else "",
            }
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
    return make_report(
        "robustness",
        f"Robustness of the {metric} ranking to inferred and analyst claims",
        [
            ("label", "label"),
            ("type", "type"),
            ("rank_all", "rank (all)"),
            *((_key(name), f"rank ({name})") for name, *_x in variants),
            (metric, metric),
            ("note", "note"),
        ],
        rows,
        notes,
        {"projection": projection.as_dict(), "metric": metric, "top": top},
    )


# --- Commands ------------------------------------------------------------------------------------


def _common(func: Any) -> Any:
    return build_option(report_options(projection_options(func)))


@click.group("analyze")
def analyze_command() -> None:
    """Network analysis: centrality, paths, communities and robustness (networkx, igraph).

    Each result says which projection it used: which node types and which claims counted.
    Negated claims never count as links; planned or possible ones only with --modal.
    """


_PROJECTION_HELP = [f"{p.name}: {p.description}." for p in PROJECTIONS.values()]


@analyze_command.command("centrality")
@_common
@click.option(
    "--top", type=click.IntRange(0), default=20, show_default=True, help="Rows to show (0: all)."
)
@click.option(
    "--explain", default=None, metavar="ID", help="Show the shortest paths through this broker."
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Pairs shown by --explain.",
)
@click.option("--exact", is_flag=True, hidden=True)  # betweenness is always exact now
@click.pass_context
def centrality_command(
    ctx: click.Context, top: int, explain: str | None, limit: int, exact: bool, **opts: Any
) -> None:
    """Degree, betweenness and eigenvector centrality: the brokers of the network."""
    g, projection, out = _setup(ctx, opts)
    if explain:
        out(explain_result(g, projection, resolve(g, explain), opts["lang"], limit))
    else:
        out(centrality_result(g, projection, opts["lang"], top))


@analyze_command.command("paths")
@click.argument("start", metavar="FROM")
@click.argument("end", metavar="TO")
@_common
@click.option(
    "--limit", type=click.IntRange(1), default=5, show_default=True, help="Paths to show."
)
@click.pass_context
def paths_command(ctx: click.Context, start: str, end: str, limit: int, **opts: Any) -> None:
    """How FROM connects to TO (ids, labels or aliases): each hop with its standing and source."""
    g, projection, out = _setup(ctx, opts)
    out(paths_result(g, projection, resolve(g, start), resolve(g, end), opts["lang"], limit))


@analyze_command.command("communities")
@_common
@click.pass_context
def communities_command(ctx: click.Context, **opts: Any) -> None:
    """Clusters of closely linked entities, named by their most central member."""
    g, projection, out = _setup(ctx, opts)
    out(communities_result(g, projection, opts["lang"]))


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
@click.option("--exact", is_flag=True, hidden=True)  # betweenness is always exact now
@click.pass_context
def robustness_command(ctx: click.Context, top: int, metric: str, exact: bool, **opts: Any) -> None:
    """How the ranking changes when inferred or analyst claims are left out."""
    g, projection, out = _setup(ctx, opts)
    out(robustness_result(g, projection, opts["lang"], top, metric))


def _setup(ctx: click.Context, opts: dict[str, Any]) -> tuple[nx.MultiDiGraph, Projection, Any]:
    g = graph_for(ctx, opts["build_dir"])
    projection = projection_from(
        opts["projection_name"], opts["types"], opts["relations"], opts["standings"], opts["modal"]
    )

    def out(report: Report) -> None:
        emit_report(report, opts["fmt"], opts["quotes"], opts["out"])

    return g, projection, out


# Click cleans a docstring's indentation only as a whole: clean it before adding to it.
analyze_command.help = "\n\n".join(
    [inspect.cleandoc(analyze_command.help or ""), "Projections (--projection):", *_PROJECTION_HELP]
)
