"""dkg export: files other tools read back with every node, edge and attribute; byte-identical twice."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from netdata import build_project

from graph.cli import main


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_project(tmp_path_factory.mktemp("export"))


def export(built: tuple[Path, Path], fmt: str, target: Path, *extra: str) -> Path:
    root, out = built
    result = CliRunner().invoke(
        main,
        [
            "-C",
            str(root),
            "export",
            "--format",
            fmt,
            "-o",
            str(target),
            "--build",
            str(out),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "16 nodes, 15 edges" in result.stderr
    return target


def test_graphml_reads_back_with_labels_types_standings_and_sources(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    g = nx.read_graphml(export(built, "graphml", tmp_path / "dkg.graphml"), force_multigraph=True)
    assert g.is_directed() and g.is_multigraph()
    assert (g.number_of_nodes(), g.number_of_edges()) == (16, 15)
    assert g.nodes["secfund"]["type"] == "Instrument"
    assert g.nodes["secfund"]["label"] == "SecFund"
    assert g.nodes["secfund"]["aliases"] == "Secfund; Security Fund"
    (edge,) = g.get_edge_data("ez", "secfund").values()
    assert edge["relation"] == "funds" and edge["standing"] == "stated"
    assert edge["documents"] == "netdoc" and edge["locators"] == "netdoc a1"
    assert edge["quotes"] == "EZ financiert het SecFund."
    (negated,) = g.get_edge_data("financien", "financieringstafel").values()
    assert negated["polarity"] == "negated"


def test_gexf_reads_back_and_carries_no_date(built: tuple[Path, Path], tmp_path: Path) -> None:
    path = export(built, "gexf", tmp_path / "dkg.gexf", "--lang", "en")
    assert "lastmodifieddate" not in path.read_text()
    g = nx.read_gexf(path)
    assert (g.number_of_nodes(), g.number_of_edges()) == (16, 15)
    assert g.nodes["defensie"]["label"] == "Ministry of Defence"
    standings = sorted(d["standing"] for *_e, d in g.edges(data=True))
    assert standings.count("inferred") == 3 and standings.count("analyst") == 1


def test_csv_has_gephi_columns(built: tuple[Path, Path], tmp_path: Path) -> None:
    folder = export(built, "csv", tmp_path / "csv")
    nodes = list(csv.DictReader((folder / "nodes.csv").open(encoding="utf-8")))
    edges = list(csv.DictReader((folder / "edges.csv").open(encoding="utf-8")))
    assert len(nodes) == 16 and len(edges) == 15
    assert {"Id", "Label", "type"} <= set(nodes[0]) and {
        "Source",
        "Target",
        "Type",
        "standing",
    } <= set(edges[0])
    inferred = [e for e in edges if e["standing"] == "inferred" and e["Target"] == "knelpunt-b"]
    assert inferred[0]["via"] == "actielijn-2"


def test_json_node_link_keeps_lists(built: tuple[Path, Path], tmp_path: Path) -> None:
    data = json.loads(export(built, "json", tmp_path / "dkg.json").read_text())
    g = nx.node_link_graph(data, edges="edges")
    assert (g.number_of_nodes(), g.number_of_edges()) == (16, 15)
    assert g.nodes["secfund"]["aliases"] == ["Secfund", "Security Fund"]
    assert g.nodes["secfund"]["facts"][0]["relation"] == "budget"


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json", "csv"])
def test_exports_are_byte_identical(built: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    a = export(built, fmt, tmp_path / "a")
    b = export(built, fmt, tmp_path / "b")
    files = sorted(p.name for p in a.iterdir()) if a.is_dir() else [""]
    for name in files:
        assert (a / name if name else a).read_bytes() == (b / name if name else b).read_bytes()


def test_stdout_and_default_path(built: tuple[Path, Path]) -> None:
    root, out = built
    result = CliRunner().invoke(
        main, ["-C", str(root), "export", "--format", "json", "-o", "-", "--build", str(out)]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["directed"] is True
    result = CliRunner().invoke(
        main, ["-C", str(root), "export", "--format", "graphml", "--build", str(out)]
    )
    assert result.exit_code == 0
    assert (out / "dkg.graphml").is_file()
    assert not list(out.glob(".dkg.graphml.*"))
    result = CliRunner().invoke(
        main, ["-C", str(root), "export", "--format", "csv", "-o", "-", "--build", str(out)]
    )
    assert result.exit_code == 2


def test_no_build_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["-C", str(tmp_path), "export", "--format", "json", "--build", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "run `dkg build` first" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--format", "json"],
        ["export", "--format", "csv"],
        ["render"],
        ["render", "--view", "coverage", "--format", "svg"],
        ["report", "coverage"],
        ["query", "SELECT ?s WHERE { ?s a dkg:Claim } LIMIT 1"],
        ["build"],
    ],
    ids=lambda c: "-".join(c[:3] if c[0] != "query" else c[:1]),
)
def test_writing_under_a_file_fails_with_the_path_and_writes_nothing(
    built: tuple[Path, Path], tmp_path: Path, command: list[str]
) -> None:
    """A file where the output's folder should be: exit 2 and a message naming it, no traceback."""
    root, out = built
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    target = blocker / "sub" / "result.out"
    result = CliRunner().invoke(
        main, ["-C", str(root), *command, "-o", str(target)], env={"DKG_BUILD": str(out)}
    )
    assert result.exit_code == 2, result.output
    assert str(blocker) in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    assert blocker.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [blocker]
