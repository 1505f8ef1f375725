"""The pages of `dkg serve` in a real headless Chromium (Debian's, driven by Playwright): the query
page runs a named query and shows its table; an entity page links to another entity. Requests to
anything but the server are aborted and must not happen. In CI (CI=true) these tests run; they
skip only when chromium is absent and CI is not set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM
from tests.browser import CHROMIUM_ARGS as ARGS
from tests.serving import serving

pytestmark = [pytest.mark.browser, pytest.mark.server]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def url(built: Path) -> Iterator[str]:
    with serving(built) as base:
        yield base


@pytest.fixture(scope="module")
def page(url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 900})

        def route(r: Any) -> None:
            if r.request.url.startswith(url):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        pg = context.new_page()
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.outside, pg.errors = outside, errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def test_named_query_runs_and_shows_a_table(page: Any, url: str) -> None:
    page.errors.clear()
    page.goto(url + "/")
    page.select_option("#named", "financing-table-participants")
    assert "financieringstafel" in page.input_value("#query")
    page.click("#run")
    page.wait_for_selector("#results table tbody tr", timeout=20000)
    text = page.inner_text("#results")
    assert "financien" in text, text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "serve-query.png"), full_page=True)
    assert page.outside == [] and page.errors == []


def test_the_row_count_is_in_words(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url + "/")
    for query, shown in [
        ("SELECT ?x WHERE { VALUES ?x { 1 } }", "1 row"),
        ("SELECT ?x WHERE { VALUES ?x { 1 2 } }", "2 rows"),
    ]:
        page.fill("#query", query)
        page.click("#run")
        expect(page.locator("#status")).to_have_text(shown, timeout=20000)


def test_query_error_is_shown_as_text(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.fill("#query", "SELECT ?x WHERE { <img src=x onerror=alert(1)> }")
    page.click("#run")
    page.wait_for_selector("#results .error", timeout=20000)
    assert "SPARQL syntax" in page.inner_text("#results .error")
    assert page.locator("#results img").count() == 0


def test_entity_page_links_to_another_entity(page: Any, url: str) -> None:
    page.errors.clear()
    page.goto(url + "/entity/secfund")
    assert "SecFund" in page.inner_text("h1")
    page.click('a[href="/entity/actielijn-2"]')
    page.wait_for_url(url + "/entity/actielijn-2")
    assert "2" in page.inner_text("h1")
    assert page.locator("blockquote").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "serve-entity.png"), full_page=True)
    assert page.outside == [] and page.errors == []
