"""Exports of the graph for the tools people already use: GraphML and GEXF (Gephi, yEd, Cytoscape),
nodes/edges CSV (spreadsheets, Gephi's import wizard) and a networkx node-link JSON (notebooks, D3).

Every claim edge is exported, negated and planned ones too, with standing, polarity and modality
as attributes to filter on; nothing is dropped silently. Output is deterministic: nodes and edges
sorted, no timestamps (networkx's GEXF writer stamps today's date; we take it out), so two exports
of the same build are byte-identical. Files are written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import click
import networkx as nx

from graph.errors import counted, display_path
from graph.layout import write_atomic
from graph.network import LANGS, build_option, default_build_dir, graph_for

FORMATS = {"graphml": "dkg.graphml", "gexf": "dkg.gexf", "csv": "csv", "json": "dkg.json"}

NODE_COLUMNS = [
    "id",
    "label",
    "label_nl",
    "label_en",
    "type",
    "aliases",
    "notation",
    "description_nl",
    "description_en",
    "links",
]
EDGE_COLUMNS = [
    "relation",
    "relation_label",
    "standing",
    "polarity",
    "modality",
    "via",
    "claims",
    "documents",
    "locators",
    "quotes",
    "when",
    "rationale",
]


def _join(values: list[str], sep: str = "; ") -> str:
    return sep.join(v for v in values if v)


def flat_graph(g: nx.MultiDiGraph, lang: str = "nl") -> nx.MultiDiGraph:
    """A copy whose attributes are all strings, as GraphML, GEXF and CSV need; `label` in one language."""
    terms = g.graph.get("terms", {})
    flat = nx.MultiDiGraph()
    for n in sorted(g.nodes):
        d = g.nodes[n]
        flat.add_node(
            n,
            id=n,
            label=d[f"label_{lang}"],
            label_nl=d["label_nl"],
            label_en=d["label_en"],
            type=d["type"],
            aliases=_join(d["aliases"]),
            notation=d["notation"],
            description_nl=d["description_nl"],
            description_en=d["description_en"],
            links=_join(d["links"], " "),
        )
    edges = sorted(g.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    for u, v, k, d in edges:
        sources = d["sources"]
        flat.add_edge(
            u,
            v,
            key=k,
            label=terms.get(d["relation"], {}).get(lang, d["relation"]),
            relation=d["relation"],
            relation_label=terms.get(d["relation"], {}).get(lang, d["relation"]),
            standing=d["standing"],
            polarity=d["polarity"],
            modality=d["modality"],
            via=d["via"],
            claims=_join(d["claims"]),
            documents=_join(sorted({s["document"] for s in sources})),
            locators=_join([f"{s['document']} {s['locator']}".strip() for s in sources]),
            quotes=_join([s["quote"] for s in sources], " | "),
            when=d["when"],
            rationale=_join(d["rationale"], " | "),
        )
    return flat


def to_graphml(g: nx.MultiDiGraph, lang: str = "nl") -> bytes:
    """GraphML with every attribute declared as a string key."""
    lines = nx.generate_graphml(flat_graph(g, lang), edge_id_from_attribute=None)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join(lines)
    return (text + "\n").encode()


def to_gexf(g: nx.MultiDiGraph, lang: str = "nl") -> bytes:
    """GEXF 1.2 for Gephi, without the writer's date stamp."""
    lines = nx.generate_gexf(flat_graph(g, lang), version="1.2draft")
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join(lines)
    text = re.sub(r'\s+lastmodifieddate="[^"]*"', "", text, count=1)
    return (text + "\n").encode()


def to_json(g: nx.MultiDiGraph) -> bytes:
    """networkx node-link JSON, keeping lists (sources, aliases, facts) as lists."""
    data = nx.node_link_data(g, edges="edges")
    data["graph"] = {k: g.graph[k] for k in sorted(g.graph)}
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def to_csv(g: nx.MultiDiGraph, lang: str = "nl") -> dict[str, bytes]:
    """nodes.csv and edges.csv, with the column names Gephi's spreadsheet import expects; text
    that a spreadsheet would run as a formula is written as text (see spreadsheet_cell)."""
    from graph.reports.base import spreadsheet_cell

    flat = flat_graph(g, lang)
    nodes = io.StringIO()
    w = csv.writer(nodes, lineterminator="\n")
    w.writerow(["Id", "Label", *NODE_COLUMNS[2:]])
    for n, d in flat.nodes(data=True):
        w.writerow(map(spreadsheet_cell, [n, d["label"], *(d[c] for c in NODE_COLUMNS[2:])]))
    edges = io.StringIO()
    w = csv.writer(edges, lineterminator="\n")
    w.writerow(["Source", "Target", "Type", "Id", "Label", *EDGE_COLUMNS])
    for u, v, k, d in flat.edges(keys=True, data=True):
        w.writerow(
            map(spreadsheet_cell, [u, v, "Directed", k, d["label"], *(d[c] for c in EDGE_COLUMNS)])
        )
    return {"nodes.csv": nodes.getvalue().encode(), "edges.csv": edges.getvalue().encode()}


def export(g: nx.MultiDiGraph, fmt: str, lang: str = "nl") -> dict[str, bytes]:
    """The files of an export: one for graphml/gexf/json, nodes.csv and edges.csv for csv."""
    if fmt == "graphml":
        return {"": to_graphml(g, lang)}
    if fmt == "gexf":
        return {"": to_gexf(g, lang)}
    if fmt == "json":
        return {"": to_json(g)}
    return to_csv(g, lang)


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATS)), required=True, help="File format."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="File to write ('-' for stdout); for csv, a folder that gets nodes.csv and edges.csv. "
    "Default: dkg.<format> (csv/ for csv) in the build folder.",
)
@click.option(
    "--lang", type=click.Choice(LANGS), default="nl", show_default=True, help="Language of `label`."
)
@build_option
@click.pass_context
def export_command(
    ctx: click.Context, fmt: str, output: Path | None, lang: str, build_dir: Path | None
) -> None:
    """Export the graph: GraphML or GEXF for Gephi, nodes/edges CSV, or node-link JSON.

    Every claim edge is exported (negated and planned ones too) with standing, polarity, modality,
    documents, locators and quotes as attributes, so they can be filtered in the tool.
    """
    g = graph_for(ctx, build_dir)
    files = export(g, fmt, lang)
    if output is not None and str(output) == "-":
        if fmt == "csv":
            raise click.BadParameter(
                "csv writes two files; give a folder, not '-'", param_hint="-o"
            )
        click.echo(files[""].decode(), nl=False)
        return
    target = output or default_build_dir(ctx, build_dir) / FORMATS[fmt]
    written: list[str] = []
    for name, data in files.items():
        path = target / name if name else target
        write_atomic(path, data)
        written.append(display_path(path))
    click.echo(
        f"wrote {', '.join(written)}: "
        f"{counted(g.number_of_nodes(), 'node')}, {counted(g.number_of_edges(), 'edge')}",
        err=True,
    )


__all__: list[Any] = ["export", "export_command", "flat_graph"]
