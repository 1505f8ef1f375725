"""dkg render: one self-contained page, data escaped, deterministic; the coverage SVG."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from netdata import PAYLOADS, build_project

from graph import render
from graph.cli import main
from graph.network import load_graph
from graph.store import open_backend


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_project(tmp_path_factory.mktemp("render"), payload=True)


@pytest.fixture(scope="module")
def net(built: tuple[Path, Path]) -> nx.MultiDiGraph:
    return load_graph(open_backend(*built))


def run(built: tuple[Path, Path], *args: str) -> tuple[int, str]:
    root, out = built
    result = CliRunner().invoke(main, ["-C", str(root), "render", "--build", str(out), *args])
    return result.exit_code, result.stderr


def script_tags(html: str) -> int:
    """Script elements as a browser's parser sees them (not strings inside scripts)."""
    from html.parser import HTMLParser

    found = []

    class Counter(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag == "script":
                found.append(attrs)

    Counter().feed(html)
    return len(found)


def page_json(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="dkg-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_the_page_is_self_contained(net: nx.MultiDiGraph) -> None:
    html = render.render_html(net).html
    # No tag loads anything: no src, no stylesheet link, no CDN, no Bootstrap.
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", html, re.I)
    assert "<link" not in html
    assert "cdnjs" not in html and "jsdelivr" not in html and "bootstrap" not in html.lower()
    assert script_tags(html) == 3  # the data, vis-network, our script
    assert "sourceMappingURL" not in html
    assert "default-src 'none'" in html


def test_the_csp_allows_exactly_the_two_inline_scripts(net: nx.MultiDiGraph) -> None:
    html = render.render_html(net).html
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 2
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in html
    assert "'unsafe-inline'" not in html.split("script-src", 1)[1].split(";", 1)[0]


def test_data_text_never_appears_as_markup(net: nx.MultiDiGraph) -> None:
    html = render.render_html(net).html
    for payload in PAYLOADS:
        assert payload not in html
    assert "<img src=x" not in html and "<svg onload" not in html
    data = page_json(html)
    # ...but it is all there, as data, to be shown as text.
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    assert labels["ez"] == f"Ministerie van EZ {PAYLOADS[0]}"
    assert PAYLOADS[1] in data["details"]["ez"]["aliases"]


def test_the_page_lists_every_node_and_edge_with_standing_and_kind(net: nx.MultiDiGraph) -> None:
    data = page_json(render.render_html(net).html)
    assert (len(data["nodes"]), len(data["edges"])) == (16, 15)
    kinds = {(e["from"], e["to"]): (e["standing"], e["kind"], e["dashes"]) for e in data["edges"]}
    assert kinds["ez", "secfund"] == ("stated", "fact", False)
    assert kinds["ttt", "knelpunt-a"] == ("analyst", "fact", [2, 6])
    assert kinds["secfund", "knelpunt-b"] == ("inferred", "fact", [10, 7])
    assert kinds["financien", "financieringstafel"][1] == "negated"
    assert kinds["ez", "tweede-kamer"][1] == "modal"
    assert data["physics"] is True
    assert data["details"]["knelpunt-c"]["uncovered"] is True


def test_english_labels(net: nx.MultiDiGraph) -> None:
    data = page_json(render.render_html(net, lang="en").html)
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    assert labels["defensie"] == "Ministry of Defence"
    assert data["ui"]["find"] == "Find"


def test_rendering_is_deterministic(built: tuple[Path, Path], tmp_path: Path) -> None:
    assert run(built, "-o", str(tmp_path / "a.html"))[0] == 0
    assert run(built, "-o", str(tmp_path / "b.html"))[0] == 0
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_default_output_is_dkg_html_in_the_build_folder(built: tuple[Path, Path]) -> None:
    code, err = run(built)
    assert code == 0
    assert "dkg.html: 16 nodes, 15 edges" in err
    assert (built[1] / "dkg.html").is_file()
    assert not list(built[1].glob(".dkg.html.*"))


def test_focus_draws_the_neighbourhood(built: tuple[Path, Path], tmp_path: Path) -> None:
    code, err = run(
        built, "--focus", "Security Fund", "--depth", "1", "-o", str(tmp_path / "f.html")
    )
    assert code == 0, err
    data = page_json((tmp_path / "f.html").read_text())
    ids = {n["id"] for n in data["nodes"]}
    assert ids == {"secfund", "ez", "defensie", "actielijn-2", "knelpunt-a", "knelpunt-b"}
    assert data["focus"] == "secfund"
    code, err = run(built, "--focus", "secfnd")
    assert code == 2 and "did you mean 'secfund'" in err


def test_focus_takes_a_bottlenecks_code(built: tuple[Path, Path], tmp_path: Path) -> None:
    code, err = run(built, "--focus", "b", "--depth", "0", "-o", str(tmp_path / "f.html"))
    assert code == 0, err
    assert page_json((tmp_path / "f.html").read_text())["focus"] == "knelpunt-b"


def test_focus_at_depth_0_is_one_node(built: tuple[Path, Path], tmp_path: Path) -> None:
    code, err = run(built, "--focus", "secfund", "--depth", "0", "-o", str(tmp_path / "f.html"))
    assert code == 0, err
    assert [n["id"] for n in page_json((tmp_path / "f.html").read_text())["nodes"]] == ["secfund"]
    assert "f.html: 1 node, 0 edges" in err


def test_coverage_view_lays_out_columns(built: tuple[Path, Path], tmp_path: Path) -> None:
    assert run(built, "--view", "coverage", "-o", str(tmp_path / "c.html"))[0] == 0
    data = page_json((tmp_path / "c.html").read_text())
    by_type: dict[str, set[float]] = {}
    for n in data["nodes"]:
        by_type.setdefault(n["type"], set()).add(n["x"])
    assert by_type["Bottleneck"] == {0.0} and by_type["ActionLine"] == {380.0}
    assert by_type["Action"] == by_type["Instrument"] == {760.0}
    ys = {n["id"]: n["y"] for n in data["nodes"]}
    assert ys["knelpunt-a"] < ys["knelpunt-b"] < ys["knelpunt-c"]
    assert data["physics"] is False
    assert data["hidden"]["standings"] == ["inferred"]
    assert "defensie" not in ys


def test_coverage_svg(built: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "c.svg"
    assert run(built, "--view", "coverage", "--format", "svg", "-o", str(target))[0] == 0
    text = target.read_text()
    tree = ET.fromstring(text)
    assert tree.tag == "{http://www.w3.org/2000/svg}svg"
    assert not tree.findall(".//{http://www.w3.org/2000/svg}script")
    assert "A  toegang tot kapitaal" in text and "C  certificering" in text
    again = tmp_path / "d.svg"
    run(built, "--view", "coverage", "--format", "svg", "-o", str(again))
    assert again.read_bytes() == target.read_bytes()
    code, err = run(built, "--format", "svg")
    assert code == 2 and "--view coverage" in err


def test_coverage_cells(net: nx.MultiDiGraph) -> None:
    rows, columns, cells = render.coverage_cells(net)
    assert rows == ["knelpunt-a", "knelpunt-b", "knelpunt-c"]
    assert [line for line, _m in columns] == ["actielijn-1", "actielijn-2", ""]
    assert cells["knelpunt-a", "ttt"] == ["analyst"]
    assert cells["knelpunt-a", "secfund"] == ["inferred-secondary"]
    assert cells["knelpunt-b", "secfund"] == ["inferred-primary"]
    assert not any(b == "knelpunt-c" for b, _i in cells)


def big_graph(n: int) -> nx.MultiDiGraph:
    """A synthetic graph with the attributes the view needs (no store involved)."""
    g = nx.MultiDiGraph(
        terms={},
        documents={"doc": {"id": "doc", "label_nl": "doc", "label_en": "doc", "links": []}},
    )
    for i in range(n):
        g.add_node(
            f"n{i}",
            id=f"n{i}",
            type="Company",
            label_nl=f"bedrijf {i}",
            label_en=f"company {i}",
            aliases=[],
            description_nl="",
            description_en="",
            notation="",
            links=[],
            facts=[],
        )
    for i in range(1, n):
        for j in (i // 2, (i * 7) % i):
            g.add_edge(
                f"n{i}",
                f"n{j}",
                key=f"c{i}-{j}",
                relation="cooperatesWith",
                standing="stated",
                polarity="affirmed",
                modality="actual",
                via="",
                via_primary=None,
                claims=[f"doc/c{i}-{j}"],
                sources=[{"document": "doc", "locator": "a1", "quote": "q"}],
                rationale=[],
                premises=[],
                when="",
            )
    return g


def test_large_graphs_get_python_positions_and_no_physics() -> None:
    page = render.render_html(big_graph(render.PHYSICS_MAX_NODES + 1))
    data = page_json(page.html)
    assert data["physics"] is False
    assert data["options"]["physics"]["enabled"] is False
    assert data["options"]["edges"]["smooth"]["enabled"] is False
    assert len({(n["x"], n["y"]) for n in data["nodes"]}) == page.nodes


def test_layout_is_seeded() -> None:
    g = big_graph(60)
    assert render.force_layout(g) == render.force_layout(g)


def test_json_for_html_escapes_what_could_end_the_element() -> None:
    text = render.json_for_html({"a": "</script><!-- & -->"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->"}
