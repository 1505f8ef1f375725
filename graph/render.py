"""The interactive view: one self-contained HTML file that works with the network off.

pyvis holds the node and edge lists (filled in bulk: its add_node/add_edge are quadratic) and ships
vis-network, whose script and style are inlined here; the page itself comes from our own template
(graph/templates/), rendered with autoescaping, without pyvis's template, its CDN links, Bootstrap or
its innerHTML tooltips. All data (labels, quotes, descriptions) goes into the page once, as JSON in a
`<script type="application/json">` element with <, > and & escaped, and the page's script shows it
with textContent only. A Content-Security-Policy with the hashes of the two inline scripts means no
other script can run and nothing can be fetched, even if something slipped through.

Layout: positions are computed in Python (igraph's Fruchterman-Reingold, seeded, so the same graph
gives the same picture); vis-network's physics only refines graphs below PHYSICS_MAX_NODES, because
it takes minutes to settle thousands of nodes. The coverage view places bottlenecks, action lines
and interventions in columns, and has a static SVG twin (`--format svg`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import networkx as nx

from graph.errors import counted, display_path
from graph.layout import write_atomic
from graph.network import (
    COVERAGE_RELATIONS,
    INTERVENTION_TYPES,
    LANGS,
    build_option,
    default_build_dir,
    graph_for,
    resolve,
)

TEMPLATES = Path(__file__).parent / "templates"
# Above this many nodes vis-network's physics is switched off and the Python layout is final.
PHYSICS_MAX_NODES = 300
# Above this many edges, edge labels and curved edges cost more than they tell.
EDGE_LABELS_MAX = 250
SEED = 1
EDGE_LENGTH = 160.0  # pixels between linked nodes in the Python layout

# Colour and vis-network shape per entity type; the legend is built from this table.
STYLE: dict[str, tuple[str, str]] = {
    "GovernmentBody": ("#1f77b4", "dot"),
    "Company": ("#17becf", "dot"),
    "Association": ("#9467bd", "dot"),
    "Organisation": ("#8c564b", "dot"),
    "Platform": ("#e377c2", "dot"),
    "Person": ("#7f7f7f", "dot"),
    "Country": ("#bcbd22", "dot"),
    "Action": ("#2ca02c", "square"),
    "Instrument": ("#ff7f0e", "diamond"),
    "Policy": ("#8fbc5a", "triangle"),
    "Project": ("#c49c94", "triangleDown"),
    "Bottleneck": ("#d62728", "star"),
    "ActionLine": ("#393b79", "hexagon"),
    "Topic": ("#9edae5", "dot"),
    "Event": ("#dbdb8d", "triangleDown"),
    "Document": ("#a0a0a0", "square"),
    "SourceDocument": ("#707070", "square"),
    "ConceptScheme": ("#c7c7c7", "dot"),
}
# Edges by standing: solid stated, dashed inferred, dotted analyst (vis-network dash arrays).
DASHES: dict[str, bool | list[int]] = {"stated": False, "inferred": [10, 7], "analyst": [2, 6]}
# Negated and not-actual claims are drawn in their own colour (and can be filtered away), so a
# "does not take part" never looks like a fact.
EDGE_COLOUR = {"fact": "#555555", "negated": "#d62728", "modal": "#d08c00"}

UI: dict[str, dict[str, str]] = {
    "nl": {
        "title": "dkg: financiering van de defensie-industrie",
        "search": "Zoek op naam of alias…",
        "find": "Zoek",
        "types": "Soorten",
        "standings": "Status van beweringen",
        "kinds": "Soort bewering",
        "documents": "Brondocumenten",
        "fact": "feit (bevestigd, feitelijk)",
        "negated": "ontkend (niet, nog niet)",
        "modal": "gepland, mogelijk of voorwaardelijk",
        "stated": "vermeld in de bron",
        "inferred": "afgeleid door een regel",
        "analyst": "oordeel van een analist",
        "nothing": "Klik op een knoop of lijn voor de beweringen, citaten en bronnen.",
        "claims": "Beweringen",
        "facts": "Gegevens",
        "aliases": "Ook genoemd",
        "links": "Links",
        "via": "via",
        "rationale": "Onderbouwing",
        "not": "niet",
        "nomatch": "Niets gevonden",
        "matches": "treffers",
        "shown": "getoond",
        "uncovered": "knelpunt zonder interventie",
        "inferred_hidden": "afgeleide lijnen volgen de actielijnen: vink ze aan om ze te zien",
        "close": "Sluiten",
    },
    "en": {
        "title": "dkg: defence-industry financing",
        "search": "Search by name or alias…",
        "find": "Find",
        "types": "Types",
        "standings": "Standing of claims",
        "kinds": "Kind of claim",
        "documents": "Source documents",
        "fact": "fact (affirmed, actual)",
        "negated": "negated (not, not yet)",
        "modal": "planned, possible or conditional",
        "stated": "stated in the source",
        "inferred": "inferred by a rule",
        "analyst": "an analyst's judgement",
        "nothing": "Click a node or line to see its claims, quotes and sources.",
        "claims": "Claims",
        "facts": "Facts",
        "aliases": "Also called",
        "links": "Links",
        "via": "via",
        "rationale": "Rationale",
        "not": "not",
        "nomatch": "Nothing found",
        "matches": "matches",
        "shown": "shown",
        "uncovered": "bottleneck without intervention",
        "inferred_hidden": "inferred lines follow the action lines: tick to show them",
        "close": "Close",
    },
}


def edge_kind(d: dict[str, Any]) -> str:
    """'negated', 'modal' (planned, possible, conditional) or 'fact'."""
    if d["polarity"] == "negated":
        return "negated"
    return "fact" if d["modality"] == "actual" else "modal"


# --- Choosing what to draw -----------------------------------------------------------------------


def neighbourhood(g: nx.MultiDiGraph, centre: str, depth: int) -> nx.MultiDiGraph:
    """The entities within `depth` links of one entity (either direction), with their claims."""
    keep = nx.single_source_shortest_path_length(
        g.to_undirected(as_view=True), centre, cutoff=depth
    )
    return g.subgraph(sorted(keep)).copy()


def coverage_graph(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Bottlenecks, action lines and the interventions linked to them by the coverage relations."""
    core = {n for n, t in g.nodes(data="type") if t in ("Bottleneck", "ActionLine")}
    edges = [
        (u, v, k)
        for u, v, k, r in g.edges(keys=True, data="relation")
        if r in COVERAGE_RELATIONS
        and g.nodes[u]["type"] in (*INTERVENTION_TYPES, "Bottleneck")
        and g.nodes[v]["type"] in ("Bottleneck", "ActionLine")
    ]
    nodes = core | {u for u, _v, _k in edges}
    sub = nx.MultiDiGraph()
    sub.graph.update(g.graph)
    sub.add_nodes_from((n, g.nodes[n]) for n in sorted(nodes))
    sub.add_edges_from((u, v, k, g.edges[u, v, k]) for u, v, k in sorted(edges))
    return sub


# --- Layout --------------------------------------------------------------------------------------


def force_layout(g: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """Seeded Fruchterman-Reingold positions (igraph), scaled so linked nodes sit EDGE_LENGTH apart."""
    import igraph

    nodes = sorted(g.nodes)
    if not nodes:
        return {}
    index = {n: i for i, n in enumerate(nodes)}
    pairs = sorted(
        {(min(index[u], index[v]), max(index[u], index[v])) for u, v in g.edges() if u != v}
    )
    ig = igraph.Graph(n=len(nodes), edges=pairs)
    rng = random.Random(SEED)
    start = [
        [rng.uniform(-1, 1) * math.sqrt(len(nodes)), rng.uniform(-1, 1) * math.sqrt(len(nodes))]
        for _ in nodes
    ]
    # igraph draws from a global generator (Python's random module by default): seed it for the
    # layout, then hand the default back.
    igraph.set_random_number_generator(random.Random(SEED))
    try:
        coords = ig.layout_fruchterman_reingold(seed=start, niter=500).coords
    finally:
        igraph.set_random_number_generator(random)
    lengths = sorted(math.dist(coords[a], coords[b]) for a, b in pairs) or [1.0]
    scale = EDGE_LENGTH / max(lengths[len(lengths) // 2], 1e-6)
    return {
        n: (round(coords[i][0] * scale, 1), round(coords[i][1] * scale, 1))
        for n, i in index.items()
    }


def _notation_key(g: nx.MultiDiGraph, n: str) -> tuple[str, str]:
    return (str(g.nodes[n].get("notation") or "~"), n)


def coverage_layout(g: nx.MultiDiGraph, lang: str) -> dict[str, tuple[float, float]]:
    """Columns: bottlenecks (by notation) | action lines | interventions grouped by action line."""
    bottlenecks = sorted(
        (n for n, t in g.nodes(data="type") if t == "Bottleneck"), key=lambda n: _notation_key(g, n)
    )
    lines = sorted(
        (n for n, t in g.nodes(data="type") if t == "ActionLine"), key=lambda n: _notation_key(g, n)
    )
    groups: dict[str, list[str]] = {line: [] for line in [*lines, ""]}
    for n, t in g.nodes(data="type"):
        if t in INTERVENTION_TYPES:
            own = sorted(
                v
                for _u, v, r in g.out_edges(n, data="relation")
                if r == "inActionLine" and v in groups
            )
            groups[own[0] if own else ""].append(n)
    row = 64.0
    pos: dict[str, tuple[float, float]] = {}
    y = 0.0
    line_y: dict[str, float] = {}
    for line, members in groups.items():
        members.sort(key=lambda n: (g.nodes[n][f"label_{lang}"].casefold(), n))
        block = max(len(members), 1)
        if line:
            line_y[line] = y + (block - 1) * row / 2
        for i, n in enumerate(members):
            pos[n] = (760.0, y + i * row)
        y += block * row + row
    height = max(y - 2 * row, row * max(len(bottlenecks), 1))
    for i, n in enumerate(bottlenecks):
        pos[n] = (0.0, i * height / max(len(bottlenecks) - 1, 1) if len(bottlenecks) > 1 else 0.0)
    for line in lines:
        pos[line] = (380.0, round(line_y.get(line, 0.0), 1))
    return pos


# --- The page ------------------------------------------------------------------------------------


@dataclass
class Page:
    """What the template needs: the data as escaped JSON, and the inline assets."""

    html: str
    nodes: int
    edges: int


def _vis_assets() -> tuple[str, str]:
    """vis-network's script and style as shipped inside the pyvis package."""
    import pyvis

    folder = Path(pyvis.__file__).parent / "templates" / "lib" / "vis-9.1.2"
    js = (folder / "vis-network.min.js").read_text(encoding="utf-8")
    css = (folder / "vis-network.css").read_text(encoding="utf-8")
    # No source map to look for: the page must never ask for anything.
    js = js.replace("//# sourceMappingURL=vis-network.min.js.map", "")
    # Inlining is only safe if the asset cannot close its own element, nor open an HTML comment
    # (which with "<script" would put the parser in the double-escaped state).
    if "</script" in js.lower() or "<!--" in js or "</style" in css.lower():
        raise click.ClickException("the vis-network asset contains a closing tag; cannot inline it")
    return js, css


def json_for_html(data: Any) -> str:
    """JSON that is inert inside an HTML <script type="application/json"> element."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def page_data(
    g: nx.MultiDiGraph, lang: str, view: str = "graph", focus: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The page's data (details, documents, legend, strings) and the vis node and edge lists."""
    terms = g.graph.get("terms", {})

    def term(name: str) -> str:
        return str(terms.get(name, {}).get(lang, name))

    physics = view != "coverage" and g.number_of_nodes() <= PHYSICS_MAX_NODES
    pos = coverage_layout(g, lang) if view == "coverage" else force_layout(g)
    degree = dict(g.to_undirected(as_view=True).degree())
    covered = {
        v
        for _u, v, d in g.edges(data=True)
        if d["relation"] == "addresses" and d["polarity"] == "affirmed"
    }
    nodes: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for n in sorted(g.nodes):
        d = g.nodes[n]
        colour, shape = STYLE.get(d["type"], ("#999999", "dot"))
        text = d[f"label_{lang}"]
        if view == "coverage" and d["notation"] and d["type"] in ("Bottleneck", "ActionLine"):
            text = f"{d['notation']} · {text}"
        uncovered = d["type"] == "Bottleneck" and n not in covered
        x, y = pos.get(n, (0.0, 0.0))
        node: dict[str, Any] = {
            "id": n,
            "label": text,
            "title": f"{text} ({term(d['type'])})",
            "type": d["type"],
            "shape": shape,
            # A bottleneck nothing addresses is drawn hollow: nothing fills it.
            "color": {"background": "#ffffff" if uncovered else colour, "border": colour},
            "borderWidth": 3 if uncovered else 1,
            "value": 1 if view == "coverage" else degree.get(n, 0) + 1,
            "x": x,
            "y": y,
            "search": sorted(
                {
                    d["label_nl"].casefold(),
                    d["label_en"].casefold(),
                    n,
                    *(a.casefold() for a in d["aliases"]),
                }
            ),
        }
        if n == focus:
            node["borderWidth"] = 5
            node["color"]["border"] = "#000000"
        nodes.append(node)
        details[n] = {
            "label": d[f"label_{lang}"],
            "type": term(d["type"]),
            "aliases": d["aliases"],
            "description": d[f"description_{lang}"],
            "links": [u for u in d["links"] if u.startswith(("https://", "http://"))],
            "uncovered": uncovered,
            "facts": [
                {
                    "relation": term(f["relation"]),
                    "value": f["value"],
                    "standing": f["standing"],
                    "kind": edge_kind(f),
                    "modality": term(f["modality"].capitalize()),
                    "sources": f["sources"],
                }
                for f in d["facts"]
            ],
        }
    edges: list[dict[str, Any]] = []
    edge_details: dict[str, Any] = {}
    labels = g.number_of_edges() <= EDGE_LABELS_MAX and view != "coverage"
    for i, (u, v, _k, d) in enumerate(
        sorted(g.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    ):
        kind = edge_kind(d)
        relation = term(d["relation"])
        if kind == "negated":
            relation = f"{UI[lang]['not']}: {relation}"
        elif kind == "modal":
            relation = f"{relation} ({term(d['modality'].capitalize())})"
        eid = f"e{i}"
        documents = sorted({s["document"] for s in d["sources"]})
        edges.append(
            {
                "id": eid,
                "from": u,
                "to": v,
                "label": relation if labels else "",
                "title": f"{g.nodes[u][f'label_{lang}']} → {relation} → {g.nodes[v][f'label_{lang}']}",
                "dashes": DASHES.get(d["standing"], False),
                "color": {"color": EDGE_COLOUR[kind], "highlight": "#000000"},
                "width": 2 if d["standing"] == "stated" else 1.5,
                "arrows": "to",
                "standing": d["standing"],
                "kind": kind,
                "documents": documents,
            }
        )
        edge_details[eid] = {
            "claims": d["claims"],
            "from": u,
            "to": v,
            "relation": relation,
            "standing": d["standing"],
            "kind": kind,
            "via": g.nodes[d["via"]][f"label_{lang}"] if d["via"] in g else d["via"],
            "rationale": d["rationale"],
            "when": d["when"],
            "sources": d["sources"],
        }
    documents_used = sorted({doc for e in edges for doc in e["documents"]})
    all_docs = g.graph.get("documents", {})
    docs = {
        doc: {
            "label": all_docs.get(doc, {}).get(f"label_{lang}", doc),
            "date": all_docs.get(doc, {}).get("date", ""),
            "links": [
                u
                for u in all_docs.get(doc, {}).get("links", [])
                if u.startswith(("https://", "http://"))
            ],
        }
        for doc in sorted(
            set(documents_used)
            | {
                s["document"]
                for det in details.values()
                for f in det["facts"]
                for s in f["sources"]
            }
        )
    }
    types = sorted(
        {n["type"] for n in nodes}, key=lambda t: list(STYLE).index(t) if t in STYLE else 99
    )
    legend = {
        "types": [
            {
                "type": t,
                "label": term(t),
                "color": STYLE.get(t, ("#999999", "dot"))[0],
                "shape": STYLE.get(t, ("#999999", "dot"))[1],
                "count": sum(1 for n in nodes if n["type"] == t),
            }
            for t in types
        ],
        "standings": [
            {
                "standing": s,
                "dashes": DASHES[s],
                "count": sum(1 for e in edges if e["standing"] == s),
            }
            for s in DASHES
        ],
        "kinds": [
            {"kind": k, "color": c, "count": sum(1 for e in edges if e["kind"] == k)}
            for k, c in EDGE_COLOUR.items()
        ],
    }
    hidden_standings = ["inferred"] if view == "coverage" else []
    data = {
        "lang": lang,
        "view": view,
        "focus": focus,
        "physics": physics,
        "ui": UI[lang],
        "details": details,
        "edgeDetails": edge_details,
        "documents": docs,
        "legend": legend,
        "hidden": {"standings": hidden_standings},
    }
    return data, nodes, edges


def vis_options(physics: bool, edges: int, view: str) -> dict[str, Any]:
    """vis-network options: Python positions always; physics only for small graphs."""
    return {
        "autoResize": True,
        "nodes": {
            "font": {"size": 14, "face": "sans-serif", "strokeWidth": 3, "strokeColor": "#ffffff"},
            "scaling": {
                "min": 10,
                "max": 34,
                "label": {"enabled": True, "min": 14, "max": 22, "drawThreshold": 4},
            },
        },
        "edges": {
            "font": {
                "size": 10,
                "align": "middle",
                "strokeWidth": 3,
                "strokeColor": "#ffffff",
                "color": "#333333",
            },
            "smooth": {
                "enabled": edges <= EDGE_LABELS_MAX,
                "type": "curvedCW" if view == "coverage" else "dynamic",
                "roundness": 0.15,
            },
            "arrows": {"to": {"scaleFactor": 0.5}},
        },
        "physics": {
            "enabled": physics,
            "solver": "forceAtlas2Based",
            "forceAtlas2Based": {
                "gravitationalConstant": -60,
                "springLength": 120,
                "avoidOverlap": 0.4,
            },
            "stabilization": {"enabled": physics, "iterations": 200, "fit": True},
        },
        "interaction": {
            "hover": True,
            "tooltipDelay": 150,
            "hideEdgesOnDrag": edges > EDGE_LABELS_MAX,
        },
        "layout": {"improvedLayout": False, "randomSeed": SEED},
    }


def render_html(
    g: nx.MultiDiGraph,
    lang: str = "nl",
    view: str = "graph",
    focus: str | None = None,
    title: str | None = None,
) -> Page:
    """The whole page as one string: vis-network, our script and style, and the data, all inline."""
    from jinja2 import Environment, FileSystemLoader
    from markupsafe import Markup
    from pyvis.network import Network

    data, nodes, edges = page_data(g, lang, view, focus)
    # pyvis holds the lists and options; filled in bulk, as its add_node/add_edge are quadratic.
    net = Network(directed=True, cdn_resources="in_line")
    net.nodes, net.edges = nodes, edges
    net.node_ids = [n["id"] for n in nodes]
    net.node_map = {n["id"]: n for n in nodes}
    net.options = vis_options(data["physics"], len(edges), view)
    vis_nodes, vis_edges, _heading, _h, _w, options = net.get_network_data()
    data.update(nodes=vis_nodes, edges=vis_edges, options=json.loads(options))

    vis_js, vis_css = _vis_assets()
    app_js = (TEMPLATES / "dkg.js").read_text(encoding="utf-8")
    app_css = (TEMPLATES / "dkg.css").read_text(encoding="utf-8")
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=True
    )
    html = env.get_template("dkg.html.j2").render(
        lang=lang,
        title=title or UI[lang]["title"],
        ui=UI[lang],
        vis_js=Markup(vis_js),
        vis_css=Markup(vis_css),
        app_js=Markup(app_js),
        app_css=Markup(app_css),
        data_json=Markup(json_for_html(data)),
        csp_scripts=Markup(" ".join([_csp_hash(vis_js), _csp_hash(app_js)])),
    )
    return Page(html, len(vis_nodes), len(vis_edges))


# --- The coverage matrix as SVG ------------------------------------------------------------------


_MARKS = ("stated", "analyst", "inferred-primary", "inferred-secondary", "modal", "negated")


def coverage_cells(
    g: nx.MultiDiGraph,
) -> tuple[list[str], list[tuple[str, list[str]]], dict[tuple[str, str], list[str]]]:
    """Rows (bottlenecks), column groups (action line -> interventions) and the marks in each cell."""
    bottlenecks = sorted(
        (n for n, t in g.nodes(data="type") if t == "Bottleneck"), key=lambda n: _notation_key(g, n)
    )
    lines = sorted(
        (n for n, t in g.nodes(data="type") if t == "ActionLine"), key=lambda n: _notation_key(g, n)
    )
    cells: dict[tuple[str, str], list[str]] = {}
    for u, v, d in g.edges(data=True):
        if d["relation"] != "addresses" or g.nodes[v]["type"] != "Bottleneck":
            continue
        kind = edge_kind(d)
        if kind != "fact":
            mark = kind
        elif d["standing"] == "inferred":
            mark = "inferred-primary" if d.get("via_primary") is not False else "inferred-secondary"
        else:
            mark = d["standing"]
        cells.setdefault((v, u), []).append(mark)
    groups: dict[str, list[str]] = {line: [] for line in [*lines, ""]}
    addressing = {u for _b, u in cells}
    for n, t in g.nodes(data="type"):
        if t not in INTERVENTION_TYPES:
            continue
        own = sorted(
            v for _u, v, r in g.out_edges(n, data="relation") if r == "inActionLine" and v in groups
        )
        if own or n in addressing:
            groups[own[0] if own else ""].append(n)
    columns = [
        (line, sorted(m, key=lambda n: (g.nodes[n]["label_nl"].casefold(), n)))
        for line, m in groups.items()
        if m
    ]
    for marks in cells.values():
        marks.sort(key=_MARKS.index)
    return bottlenecks, columns, cells


def coverage_svg(g: nx.MultiDiGraph, lang: str = "nl") -> str:
    """The coverage matrix as a standalone SVG: bottlenecks by interventions, grouped by action line."""
    from xml.sax.saxutils import escape, quoteattr

    ui = UI[lang]
    terms = g.graph.get("terms", {})
    bottlenecks, columns, cells = coverage_cells(g)

    def name(n: str) -> str:
        return str(g.nodes[n][f"label_{lang}"])

    def clip(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 1] + "…"

    cell, char = 24, 6.4
    row_labels = [clip(f"{g.nodes[b]['notation']}  {name(b)}".strip(), 58) for b in bottlenecks]
    col_nodes = [n for _line, members in columns for n in members]
    left = 20 + char * max([len(t) for t in row_labels] + [10])
    longest = max([len(clip(name(n), 40)) for n in col_nodes] + [8])
    top = 70 + longest * char * 0.82
    width = max(left + cell * (len(col_nodes) + 2) + 40, 940)
    height = top + cell * max(len(bottlenecks), 1) + 190
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
        f"<title>{escape(ui['title'])}</title>",
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    heading = (
        "Dekking: knelpunten × interventies"
        if lang == "nl"
        else "Coverage: bottlenecks × interventions"
    )
    out.append(f'<text x="20" y="24" font-size="15" font-weight="bold">{escape(heading)}</text>')
    x = left
    group_names = []
    for line, members in columns:
        code = str(g.nodes[line]["notation"] or "?") if line else "–"
        group = name(line) if line else ("zonder actielijn" if lang == "nl" else "no action line")
        group_names.append(f"{code} = {group}")
        span = cell * len(members)
        out.append(
            f'<line x1="{x + 2:.0f}" y1="{top - 4:.0f}" x2="{x + span - 2:.0f}" y2="{top - 4:.0f}" '
            'stroke="#393b79" stroke-width="3"/>'
        )
        out.append(
            f'<text x="{x + span / 2:.0f}" y="{top + 16 + cell * len(bottlenecks):.0f}" text-anchor="middle" '
            f'fill="#393b79" font-weight="bold">{escape(code)}<title>{escape(group)}</title></text>'
        )
        for i, n in enumerate(members):
            cx = x + i * cell + cell / 2
            out.append(
                f'<text transform="translate({cx + 4:.1f},{top - 10:.1f}) rotate(-55)">{escape(clip(name(n), 40))}'
                f"<title>{escape(name(n))}</title></text>"
            )
        x += span
    total_x = x + cell
    out.append(
        f'<text x="{total_x:.0f}" y="{top - 10:.0f}" text-anchor="middle" font-weight="bold">Σ</text>'
    )
    for r, b in enumerate(bottlenecks):
        y = top + r * cell
        count = len(
            {
                u
                for (bb, u), marks in cells.items()
                if bb == b and any(m != "negated" for m in marks)
            }
        )
        fill = "#fde0dd" if count == 0 else ("#f6f6f6" if r % 2 else "#ffffff")
        out.append(
            f'<rect x="10" y="{y:.0f}" width="{total_x + cell - 10:.0f}" height="{cell}" fill="{fill}"/>'
        )
        out.append(
            f'<text x="16" y="{y + 16:.0f}">{escape(row_labels[r])}<title>{escape(name(b))}</title></text>'
        )
        out.append(
            f'<text x="{total_x:.0f}" y="{y + 16:.0f}" text-anchor="middle" font-weight="bold"'
            f"{' fill=' + quoteattr('#b01d1d') if count == 0 else ''}>{count or '—'}</text>"
        )
        for c, n in enumerate(col_nodes):
            marks = cells.get((b, n))
            if not marks:
                continue
            cx, cy = left + c * cell + cell / 2, y + cell / 2
            tip = "; ".join(f"{ui.get(m.split('-')[0], m)}" for m in marks)
            out.append(_mark(marks[0], cx, cy, f"{name(n)} → {name(b)}: {tip}"))
    for c in range(len(col_nodes) + 1):
        gx = left + c * cell
        out.append(
            f'<line x1="{gx:.0f}" y1="{top:.0f}" x2="{gx:.0f}" y2="{top + cell * len(bottlenecks):.0f}" stroke="#e0e0e0"/>'
        )
    legend_y = top + cell * len(bottlenecks) + 50
    relation = terms.get("addresses", {}).get(lang, "addresses")
    items = [
        ("stated", ui["stated"]),
        ("analyst", ui["analyst"]),
        (
            "inferred-primary",
            f"{ui['inferred']} ({ui['via']} hoofdactielijn)"
            if lang == "nl"
            else f"{ui['inferred']} (via primary action line)",
        ),
        (
            "inferred-secondary",
            f"{ui['inferred']} ({ui['via']} tweede actielijn)"
            if lang == "nl"
            else f"{ui['inferred']} (via secondary action line)",
        ),
        ("modal", ui["modal"]),
        ("negated", ui["negated"]),
    ]
    out.append(
        f'<text x="20" y="{legend_y - 14:.0f}" font-weight="bold">{escape(relation)}:</text>'
    )
    for i, (mark, text) in enumerate(items):
        lx = 20 + (i % 3) * 300
        ly = legend_y + (i // 3) * 24
        out.append(_mark(mark, lx + 8, ly, text))
        out.append(f'<text x="{lx + 22}" y="{ly + 4:.0f}">{escape(text)}</text>')
    lines_label = "actielijnen" if lang == "nl" else "action lines"
    out.append(
        f'<text x="20" y="{legend_y + 60:.0f}" fill="#393b79">{escape(lines_label + ": " + "; ".join(group_names))}</text>'
    )
    out.append(
        f'<text x="20" y="{legend_y + 84:.0f}" fill="#b01d1d">{escape("Σ = 0: " + ui["uncovered"])}</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _mark(mark: str, x: float, y: float, tip: str) -> str:
    from xml.sax.saxutils import escape

    title = f"<title>{escape(tip)}</title>"
    if mark == "stated":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="#222222">{title}</circle>'
    if mark == "analyst":
        return f'<path d="M{x:.1f},{y - 8:.1f} L{x + 8:.1f},{y:.1f} L{x:.1f},{y + 8:.1f} L{x - 8:.1f},{y:.1f} Z" fill="#a0620a">{title}</path>'
    if mark == "inferred-primary":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="#1a55a0" stroke-width="2.5">{title}</circle>'
    if mark == "inferred-secondary":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="#1a55a0" stroke-width="1.5" stroke-dasharray="2 2">{title}</circle>'
    if mark == "modal":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="#d08c00" stroke-width="2.5" stroke-dasharray="4 2">{title}</circle>'
    return (
        f'<path d="M{x - 6:.1f},{y - 6:.1f} L{x + 6:.1f},{y + 6:.1f} M{x + 6:.1f},{y - 6:.1f} L{x - 6:.1f},{y + 6:.1f}" '
        f'stroke="#d62728" stroke-width="2.5">{title}</path>'
    )


# --- Command -------------------------------------------------------------------------------------


@click.command("render")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write ('-' for stdout). Default: dkg.html (coverage.svg for --format svg) in the build folder.",
)
@click.option(
    "--lang", type=click.Choice(LANGS), default="nl", show_default=True, help="Language of labels."
)
@click.option(
    "--view",
    type=click.Choice(["graph", "coverage"]),
    default="graph",
    show_default=True,
    help="graph: every entity and claim; coverage: bottlenecks, action lines and interventions in columns.",
)
@click.option(
    "--focus", default=None, metavar="ID", help="Draw only the neighbourhood of this entity."
)
@click.option(
    "--depth", type=click.IntRange(0), default=1, show_default=True, help="Links around --focus."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "svg"]),
    default="html",
    show_default=True,
    help="html: the interactive page; svg: a picture of the coverage matrix (with --view coverage).",
)
@build_option
@click.pass_context
def render_command(
    ctx: click.Context,
    output: Path | None,
    lang: str,
    view: str,
    focus: str | None,
    depth: int,
    fmt: str,
    build_dir: Path | None,
) -> None:
    """Draw the graph as one self-contained HTML page that works offline.

    Nodes are coloured and shaped by type; edges are solid when stated, dashed when inferred and
    dotted when an analyst's judgement; negated claims are red and planned or possible ones amber.
    Search, filters by type, standing, kind of claim and source document, and a side panel with
    each claim's quotes, locators and sources.
    """
    g = graph_for(ctx, build_dir)
    if fmt == "svg" and view != "coverage":
        raise click.BadParameter(
            "--format svg draws the coverage matrix; add --view coverage", param_hint="--format"
        )
    centre = None
    if focus:
        centre = resolve(g, focus)
        g = neighbourhood(g, centre, depth)
    if fmt == "svg":
        body = coverage_svg(g, lang).encode()
        counts = ""
    else:
        sub = coverage_graph(g) if view == "coverage" else g
        page = render_html(sub, lang, view, centre)
        body = page.html.encode()
        counts = f": {counted(page.nodes, 'node')}, {counted(page.edges, 'edge')}"
    if output is not None and str(output) == "-":
        click.echo(body.decode(), nl=False)
        return
    target = output or default_build_dir(ctx, build_dir) / (
        "coverage.svg" if fmt == "svg" else "dkg.html"
    )
    write_atomic(target, body)
    click.echo(f"wrote {display_path(target)}{counts}", err=True)
