"""dkg analyze: numbers checked against a network whose shape is known (see tests/netdata.py)."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from netdata import build_project

from graph import analyze
from graph.cli import main
from graph.network import PROJECTIONS, load_graph, project, simple
from graph.store import open_backend


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_project(tmp_path_factory.mktemp("analyze"))


def run(built: tuple[Path, Path], *args: str) -> tuple[int, str, str]:
    root, out = built
    result = CliRunner().invoke(main, ["-C", str(root), "analyze", *args, "--build", str(out)])
    return result.exit_code, result.stdout, result.stderr


def as_json(built: tuple[Path, Path], *args: str) -> dict:
    code, out, err = run(built, *args, "-f", "json")
    assert code == 0, err
    return json.loads(out)


def test_centrality_finds_the_broker_in_the_middle_of_the_chain(built: tuple[Path, Path]) -> None:
    # actors: ez - secfund - defensie - financieringstafel - defport, plus 3 unlinked actors (n = 8)
    doc = as_json(built, "centrality", "--projection", "actors")
    rows = {r["id"]: r for r in doc["rows"]}
    assert doc["rows"][0]["id"] == "defensie"
    assert rows["defensie"]["betweenness"] == pytest.approx(4 / 21, abs=1e-4)
    assert rows["secfund"]["betweenness"] == pytest.approx(3 / 21, abs=1e-4)
    assert rows["defensie"]["degree"] == 2
    # The negated "Financiën does not take part" is no link.
    assert rows["financien"]["degree"] == 0
    assert doc["projection"]["name"] == "actors"
    assert doc["projection"]["polarities"] == ["affirmed"]


def test_the_table_states_the_projection(built: tuple[Path, Path]) -> None:
    code, out, _ = run(built, "centrality", "--projection", "coverage", "--lang", "nl")
    assert code == 0
    assert "projection 'coverage'" in out
    assert "edges addresses, inActionLine, primaryActionLine, secondaryActionLine" in out
    assert "SecFund" in out


def test_explain_lists_the_pairs_whose_shortest_paths_cross_the_broker(
    built: tuple[Path, Path],
) -> None:
    doc = as_json(built, "centrality", "--projection", "actors", "--explain", "defensie")
    pairs = {(r["from"], r["to"]) for r in doc["rows"]}
    assert pairs == {
        ("financieringstafel", "secfund"),
        ("defport", "secfund"),
        ("ez", "financieringstafel"),
        ("defport", "ez"),
    }
    assert all(r["share"] == 1.0 for r in doc["rows"])
    assert doc["pairs"] == 4


def test_paths_show_each_hop_with_standing_and_source(built: tuple[Path, Path]) -> None:
    doc = as_json(built, "paths", "ez", "knelpunt-b")
    hops = [(r["from"], r["relation"], r["to"], r["standing"]) for r in doc["rows"]]
    assert hops[0] == ("ez", "→ funds", "secfund", "stated")
    assert hops[1][2:] == ("knelpunt-b", "inferred") and "via" in hops[1][1]
    assert doc["rows"][0]["sources"] == [
        {"document": "netdoc", "locator": "a1", "quote": "EZ financiert het SecFund."}
    ]
    # Without inferred claims the way runs through the action line, one hop longer.
    stated = as_json(built, "paths", "ez", "knelpunt-b", "--standing", "stated")
    assert [r["to"] for r in stated["rows"]] == ["secfund", "actielijn-2", "knelpunt-b"]
    assert stated["rows"][2]["relation"].startswith("←")


def test_paths_as_a_table_cite_their_quotes(built: tuple[Path, Path]) -> None:
    code, out, err = run(built, "paths", "ez", "knelpunt-b", "--quotes", "--lang", "nl")
    assert code == 0, err
    assert "→ financiert" in out
    assert "netdoc a1: “EZ financiert het SecFund.”" in out


def test_explain_as_a_table_draws_the_path(built: tuple[Path, Path]) -> None:
    code, out, err = run(
        built, "centrality", "--projection", "actors", "--explain", "defensie", "-f", "markdown"
    )
    assert code == 0, err
    assert "Defport → financing table → Ministry of Defence → SecFund" in out


def test_paths_accept_labels_and_say_when_there_is_none(built: tuple[Path, Path]) -> None:
    code, out, _ = run(built, "paths", "Security Fund", "knelpunt-c", "--quotes")
    assert code == 0
    assert "no path from" in out
    code, _, err = run(built, "paths", "secfnd", "knelpunt-c")
    assert code == 2 and "did you mean 'secfund'" in err


def test_paths_say_why_an_entity_is_left_out_and_refuse_one_entity_twice(
    built: tuple[Path, Path],
) -> None:
    code, _, err = run(built, "paths", "secfund", "netdoc")
    assert code == 2
    assert "the network projection leaves out SourceDocument" in err
    assert "--projection all" in err
    code, _, err = run(built, "paths", "secfund", "netdoc", "--projection", "all")
    assert code == 0, err
    code, _, err = run(built, "paths", "secfund", "Security Fund")
    assert code == 2 and "FROM and TO are both 'secfund'" in err


def test_communities_are_named_after_their_best_linked_member(built: tuple[Path, Path]) -> None:
    doc = as_json(built, "communities")
    names = {r["id"]: set(r["member_ids"]) for r in doc["rows"]}
    assert "financieringstafel" in names
    assert {"defensie", "defport"} <= names["financieringstafel"]
    assert any("modularity" in n for n in doc["notes"])


def test_robustness_shows_what_rests_on_inference(built: tuple[Path, Path]) -> None:
    doc = as_json(built, "robustness", "--top", "5")
    assert next(n for n in doc["notes"] if n.startswith("without inferred")).startswith(
        "without inferred: 3 claim edges left out"
    )
    rows = {r["id"]: r for r in doc["rows"]}
    # Defensie is a top-5 broker only thanks to the inferred addresses-edges.
    assert rows["defensie"]["rank_without_inferred"] > 5
    assert "without inferred" in rows["defensie"]["note"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_every_format_is_deterministic(built: tuple[Path, Path], fmt: str) -> None:
    first = run(built, "centrality", "-f", fmt)
    assert first[0] == 0 and first[1]
    assert run(built, "centrality", "-f", fmt)[1] == first[1]


def test_csv_has_a_header_and_no_notes(built: tuple[Path, Path]) -> None:
    code, out, err = run(built, "centrality", "-f", "csv", "--top", "3")
    assert code == 0
    assert out.splitlines()[0].split(",")[:3] == ["rank", "id", "label"]
    assert "projection 'network'" in err


def test_centrality_matches_networkx_on_the_projection(built: tuple[Path, Path]) -> None:
    root, out = built
    g = load_graph(open_backend(root, out))
    s = simple(project(g, PROJECTIONS["network"]))
    c = analyze.centrality(s)
    between = nx.betweenness_centrality(s)
    eigen = nx.eigenvector_centrality(s, max_iter=1000, tol=1e-9)
    assert all(c.betweenness[n] == pytest.approx(between[n], abs=1e-4) for n in s)
    assert all(c.eigenvector[n] == pytest.approx(eigen[n], abs=1e-4) for n in s)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_centrality_matches_networkx_on_random_graphs(seed: int) -> None:
    """igraph computes them; the values are networkx's, on a connected and a scattered graph."""
    for s in (
        nx.connected_watts_strogatz_graph(300, 4, 0.1, seed=seed),
        nx.gnm_random_graph(300, 330, seed=seed),  # hundreds of components and lone nodes
    ):
        s = nx.relabel_nodes(s, {v: f"n{v}" for v in s})
        c = analyze.centrality(s)
        between = nx.betweenness_centrality(s)
        eigen = nx.eigenvector_centrality(s, max_iter=10_000, tol=1e-12)
        assert all(c.betweenness[n] == pytest.approx(between[n], abs=1e-4) for n in s)
        assert all(c.eigenvector[n] == pytest.approx(eigen[n], abs=1e-3) for n in s)
        assert c.degree == {n: d for n, d in s.degree()}


def test_kendall_tau() -> None:
    assert analyze.kendall_tau(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert analyze.kendall_tau(["a", "b", "c"], ["c", "b", "a"]) == -1.0
