"""The graph as networkx sees it: nodes, claim edges with their sources, facts, projections."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from netdata import build_project

from graph.errors import RunError
from graph.network import PROJECTIONS, load_graph, project, projection_from, resolve, simple
from graph.store import open_backend


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> nx.MultiDiGraph:
    root, out = build_project(tmp_path_factory.mktemp("net"))
    return load_graph(open_backend(root, out))


def test_nodes_carry_id_labels_type_and_aliases(net: nx.MultiDiGraph) -> None:
    d = net.nodes["secfund"]
    assert (d["id"], d["type"], d["label_nl"], d["label_en"]) == (
        "secfund",
        "Instrument",
        "SecFund",
        "SecFund",
    )
    assert d["aliases"] == ["Secfund", "Security Fund"]
    assert net.nodes["knelpunt-b"]["notation"] == "B"
    assert net.nodes["netdoc"]["type"] == "SourceDocument"
    assert net.graph["documents"]["netdoc"]["links"] == [
        "https://zoek.officielebekendmakingen.nl/kst-31125-133.html"
    ]


def test_every_claim_between_entities_is_one_edge_with_its_source(net: nx.MultiDiGraph) -> None:
    edges = net.get_edge_data("ez", "secfund")
    assert len(edges) == 1
    (edge,) = edges.values()
    assert edge["relation"] == "funds"
    assert (edge["standing"], edge["polarity"], edge["modality"]) == (
        "stated",
        "affirmed",
        "actual",
    )
    assert edge["sources"] == [
        {"document": "netdoc", "locator": "a1", "quote": "EZ financiert het SecFund."}
    ]
    assert edge["claims"] == ["netdoc/ez-funds-secfund"]


def test_negated_and_planned_claims_are_edges_marked_as_such(net: nx.MultiDiGraph) -> None:
    (negated,) = net.get_edge_data("financien", "financieringstafel").values()
    assert negated["polarity"] == "negated"
    (planned,) = net.get_edge_data("ez", "tweede-kamer").values()
    assert (planned["modality"], planned["when"]) == ("planned", "2026")


def test_inferred_edges_name_their_action_line_and_cite_their_premises(
    net: nx.MultiDiGraph,
) -> None:
    by_standing = {d["standing"]: d for d in net.get_edge_data("secfund", "knelpunt-a").values()}
    inferred = by_standing["inferred"]
    assert inferred["via"] == "actielijn-2"
    assert inferred["via_primary"] is False
    assert inferred["premises"] == ["netdoc/a-secondary-2", "netdoc/secfund-in-2"]
    quotes = sorted(s["quote"] for s in inferred["sources"])
    assert quotes == [
        "Het SecFund valt onder actielijn 2.",
        "Knelpunt A raakt ook aan actielijn 2.",
    ]


def test_literal_claims_become_facts_of_their_subject(net: nx.MultiDiGraph) -> None:
    (fact,) = net.nodes["secfund"]["facts"]
    assert (fact["relation"], fact["value"]) == ("budget", "EUR 100 000 000")
    assert fact["sources"][0]["quote"] == "Het fonds is 100 miljoen euro groot."


def test_load_is_deterministic(tmp_path: Path, net: nx.MultiDiGraph) -> None:
    root, out = build_project(tmp_path)
    again = load_graph(open_backend(root, out))
    assert list(again.nodes(data=True)) == list(net.nodes(data=True))
    assert list(again.edges(keys=True, data=True)) == list(net.edges(keys=True, data=True))


def test_projections_choose_node_types_and_claims(net: nx.MultiDiGraph) -> None:
    actors = project(net, PROJECTIONS["actors"])
    assert "knelpunt-a" not in actors and "netdoc" not in actors
    # A negated claim is no link, a planned one only counts when asked for.
    assert not actors.has_edge("financien", "financieringstafel")
    assert not actors.has_edge("ez", "tweede-kamer")
    modal = project(net, projection_from("actors", None, None, None, True))
    assert modal.has_edge("ez", "tweede-kamer")
    stated = project(net, projection_from("network", None, None, "stated", False))
    assert {d["standing"] for *_e, d in stated.edges(data=True)} == {"stated"}
    coverage = project(net, PROJECTIONS["coverage"])
    assert {d["relation"] for *_e, d in coverage.edges(data=True)} <= {
        "addresses",
        "inActionLine",
        "primaryActionLine",
        "secondaryActionLine",
    }


def test_simple_collapses_parallel_claims(net: nx.MultiDiGraph) -> None:
    s = simple(project(net, PROJECTIONS["network"]))
    assert s["secfund"]["knelpunt-a"]["weight"] == 1
    ttt = simple(project(net, PROJECTIONS["all"]))
    assert not ttt.is_directed()


def test_resolve_finds_ids_labels_and_aliases_and_suggests(net: nx.MultiDiGraph) -> None:
    assert resolve(net, "secfund") == "secfund"
    assert resolve(net, "security fund") == "secfund"
    assert resolve(net, "Ministry of Defence") == "defensie"
    with pytest.raises(RunError, match="did you mean 'secfund'"):
        resolve(net, "secfnd")
