"""The rendered page in a real headless Chromium (Debian's, driven by Playwright), network off.

Every request that is not for the file itself is aborted and counted; the tests check what a person
would see: the nodes and edges drawn, search, filters, the side panel, and that script-injection
payloads in the data run nothing. Screenshots go to tests/artifacts/ (gitignored) to look at.
In CI (CI=true) these tests must run: they skip only when chromium is absent and CI is not set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netdata import build_project

from graph import render
from graph.network import load_graph
from graph.store import open_backend
from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS as ARGS

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page opened with the network cut off, recording what a person could not see."""

    def __init__(self, browser: Any, path: Path, width: int = 1400, height: int = 850):
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.dkg !== undefined", timeout=30_000)

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def js(self, expr: str) -> Any:
        return self.page.evaluate(expr)

    def settle(self) -> None:
        """Wait until nodes stop moving (bounded; never waits for vis-network's 'stabilized')."""
        self.page.wait_for_function(
            """() => new Promise(ok => { const a = JSON.stringify(dkg.network.getPositions());
                 setTimeout(() => ok(a === JSON.stringify(dkg.network.getPositions())), 300); })""",
            timeout=20_000,
            polling=400,
        )

    def click_node(self, node: str) -> None:
        box = self.page.locator("#network canvas").bounding_box()
        xy = self.js(f"dkg.network.canvasToDOM(dkg.network.getPosition({node!r}))")
        self.page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])

    def hover_node(self, node: str) -> None:
        box = self.page.locator("#network canvas").bounding_box()
        xy = self.js(f"dkg.network.canvasToDOM(dkg.network.getPosition({node!r}))")
        self.page.mouse.move(box["x"] + xy["x"], box["y"] + xy["y"])

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


def write_page(tmp: Path, payload: bool, **kwargs: Any) -> Path:
    root, out = build_project(tmp, payload=payload)
    g = load_graph(open_backend(root, out))
    if kwargs.pop("coverage", False):
        g = render.coverage_graph(g)
        kwargs["view"] = "coverage"
    target = tmp / "dkg.html"
    target.write_text(render.render_html(g, **kwargs).html, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_page(tmp_path_factory.mktemp("browser"), payload=False)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_page(tmp_path_factory.mktemp("hostile"), payload=True)


@pytest.fixture
def page(browser: Any, plain: Path) -> Iterator[Page]:
    p = Page(browser, plain)
    yield p
    p.close()


def test_every_node_and_edge_is_drawn_offline_without_errors(page: Page) -> None:
    page.settle()
    assert page.js("dkg.drawn()") == {"nodes": 16, "edges": 15}
    assert page.js("[dkg.nodes.length, dkg.edges.length]") == [16, 15]
    assert page.page.locator("#status").inner_text().startswith("16 / 16")
    shot = page.screenshot("dkg.png")
    assert shot.stat().st_size > 10_000
    assert page.requests == []
    assert page.errors == []


def test_search_by_alias_focuses_the_node(page: Page) -> None:
    page.page.fill("#search", "security fund")
    page.page.press("#search", "Enter")
    assert page.js("dkg.network.getSelectedNodes()") == ["secfund"]
    assert page.page.locator("#panel h2").inner_text() == "SecFund"
    page.page.fill("#search", "mindef")
    page.page.click("#search-form button")
    assert page.js("dkg.network.getSelectedNodes()") == ["defensie"]
    page.page.fill("#search", "ministerie")
    page.page.press("#search", "Enter")
    assert page.page.locator("#results li button").count() == 3  # EZ, Defensie, Financiën
    assert page.errors == []


def test_filters_hide_what_they_should(page: Page) -> None:
    page.page.locator('input[data-filter="type"][data-value="Bottleneck"]').uncheck()
    # 3 bottlenecks go, with their 7 edges (2 primary, 1 secondary, 1 analyst, 3 inferred).
    assert page.js("dkg.drawn()") == {"nodes": 13, "edges": 8}
    page.page.locator('input[data-filter="kind"][data-value="negated"]').uncheck()
    assert page.js("dkg.drawn()") == {"nodes": 13, "edges": 7}
    page.page.locator('input[data-filter="type"][data-value="Bottleneck"]').check()
    page.page.locator('input[data-filter="standing"][data-value="inferred"]').uncheck()
    assert page.js("dkg.drawn()") == {"nodes": 16, "edges": 11}
    page.page.locator('input[data-filter="document"][data-value="netdoc"]').uncheck()
    assert page.js("dkg.drawn()") == {"nodes": 0, "edges": 0}
    assert page.errors == []


def test_clicking_a_node_shows_its_quotes_and_sources(page: Page) -> None:
    page.settle()
    page.click_node("ttt")
    panel = page.page.locator("#panel")
    assert panel.locator("h2").inner_text() == "Technology Transfer Team"
    assert "Het TTT helpt bedrijven aan kapitaal." in panel.locator("blockquote").first.inner_text()
    assert "Transfer brings capital." in panel.inner_text()
    link = panel.locator("a").first
    assert (
        link.get_attribute("href") == "https://zoek.officielebekendmakingen.nl/kst-31125-133.html"
    )
    assert page.requests == []


def test_injected_markup_runs_nothing_and_shows_as_text(browser: Any, hostile: Path) -> None:
    p = Page(browser, hostile)
    try:
        p.settle()
        assert p.js("dkg.drawn()") == {"nodes": 16, "edges": 15}
        p.hover_node("ez")  # the tooltip shows the label
        p.page.wait_for_timeout(600)
        p.click_node("ez")
        panel = p.page.locator("#panel")
        assert (
            panel.locator("h2").inner_text()
            == 'Ministerie van EZ <img src=x onerror="alert(1);window.__pwned=1">'
        )
        text = panel.inner_text()
        assert "</script><script>alert(1);window.__pwned=1</script>" in text
        assert '"><svg onload="alert(1);window.__pwned=1">' in text
        p.page.fill("#search", "</script>")
        p.page.press("#search", "Enter")
        p.page.wait_for_timeout(300)
        assert (
            p.page.locator("#panel img, #panel svg:not(.glyph), #filters img, #results img").count()
            == 0
        )
        assert p.js("window.__pwned === undefined")
        assert p.dialogs == []
        assert p.requests == []
        assert p.errors == []
        p.screenshot("dkg-hostile.png")
    finally:
        p.close()


def test_coverage_view_reads_as_columns(browser: Any, tmp_path: Path) -> None:
    path = write_page(tmp_path, payload=False, coverage=True, lang="en")
    p = Page(browser, path)
    try:
        # inferred lines start hidden in this view: 9 edges, 3 of them inferred.
        assert p.js("dkg.drawn()") == {"nodes": 8, "edges": 6}
        p.page.locator('input[data-filter="standing"][data-value="inferred"]').check()
        assert p.js("dkg.drawn()") == {"nodes": 8, "edges": 9}
        assert p.js("dkg.network.getPosition('knelpunt-a').x") < p.js(
            "dkg.network.getPosition('actielijn-1').x"
        )
        p.screenshot("dkg-coverage.png")
        assert p.errors == [] and p.requests == []
    finally:
        p.close()


def test_thousands_of_nodes_are_drawn_without_physics(browser: Any, tmp_path: Path) -> None:
    from test_render import big_graph

    path = tmp_path / "big.html"
    path.write_text(render.render_html(big_graph(3000)).html, encoding="utf-8")
    p = Page(browser, path)
    try:
        assert p.js("dkg.drawn().nodes") == 3000
        assert p.js("dkg.network.physics.physicsEnabled") is False
        p.screenshot("dkg-big.png")
        assert p.errors == []
    finally:
        p.close()
