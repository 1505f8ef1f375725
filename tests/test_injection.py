"""Injection: text from the data never runs as script, text from the user never runs as SPARQL.

A hostile corpus (the smallest valid one with a script payload in every free-text field: labels,
aliases, descriptions, notations, document titles and date notes, quotes and the source text,
text objects, rationales, notes) is built for real. Every page `dkg render` writes (the graph and
coverage views in both languages, the SVG matrix) is opened in Debian's headless Chromium with the
network cut off; every node is selected and hovered, every payload searched for, and nothing may
run: no dialog, no `window.__pwned`, no request, no event-handler attribute or foreign element in
the DOM, while each payload is shown, as text. The markdown reports escape it too.

SPARQL: values typed on the command line (`dkg report show NAME`, `dkg query --bind`) reach a query
only as a term written by Term.n3() in a VALUES block; strings built to break out of it find
nothing, or are refused, and never produce a syntax error (which would mean they were parsed as
query text).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from graph.cli import main
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import DATA, copy_project

# Each payload, if it ever ran, would set window.__pwned to the field it came from and open a dialog.
TEMPLATES = (
    "<img src=x onerror=\"window.__pwned='{m}';alert('{m}')\">",
    '</script><script>window.__pwned="{m}";alert("{m}")</script>',
    "\"><svg onload=\"window.__pwned='{m}';alert('{m}')\">",
    "<iframe srcdoc=\"<script>parent.__pwned='{m}'</script>\"></iframe>",
    "'-alert('{m}')-'\"-alert(\"{m}\")-\" {{{{7*7}}}} ${{7*7}} javascript:alert('{m}')",
    "<a href=\"javascript:alert('{m}')\">{m}</a><style>body{{display:none}}</style>",
)


def payload(field: str, n: int) -> str:
    """A payload for one field, marked with the field's name."""
    return TEMPLATES[n % len(TEMPLATES)].format(m=field)


def hostile_project(dest: Path) -> tuple[Path, dict[str, str]]:
    """The valid corpus with a payload in every free-text field; return it and field -> payload."""
    root = copy_project(dest)
    used: dict[str, str] = {}

    def put(field: str) -> str:
        used[field] = payload(field, len(used))
        return used[field]

    reg = yaml.safe_load((DATA / "valid/extract/entities.yaml").read_text(encoding="utf-8"))
    for ent in reg["entities"]:
        i = ent["id"]
        ent["label"] = {"nl": f"{i} {put(f'label-nl-{i}')}", "en": f"{i} {put(f'label-en-{i}')}"}
        ent["aliases"] = [*ent.get("aliases", []), put(f"alias-{i}")]
        ent["description"] = {"nl": put(f"description-nl-{i}"), "en": put(f"description-en-{i}")}
        if "notation" in ent:
            ent["notation"] = put(f"notation-{i}")
    _write(root / "extract/entities.yaml", reg)

    source = root / "extract/sources/mini.txt"
    quote = f"Het fonds zegt {put('quote')} en meer."
    source.write_text(source.read_text(encoding="utf-8") + quote + "\n", encoding="utf-8")
    doc = yaml.safe_load((DATA / "valid/extract/documents/mini.yaml").read_text(encoding="utf-8"))
    meta = doc["document"]
    meta["title"] = {"nl": put("title-nl"), "en": put("title-en")}
    meta["date_note"] = put("date-note")
    for sec in meta["sections"]:
        if sec["id"] == "a1":
            sec["lines"] = "3-6"  # the payload quote is line 6
    for claim in doc["claims"]:
        claim["note"] = put(f"note-{claim['id']}")
        if claim["id"] == "secfund-addresses-b":
            claim["rationale"] = put("rationale")
            claim["quote"] = quote
    doc["claims"].append(
        {
            "id": "secfund-goal",
            "subject": "secfund",
            "relation": "goal",
            "text": put("text-object"),
            "locator": "a1",
            "quote": quote,
        }
    )
    _write(root / "extract/documents/mini.yaml", doc)
    return root, used


def _write(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """The hostile corpus, checked clean and built: (project, build folder, field -> payload)."""
    from graph.build import build

    base = tmp_path_factory.mktemp("hostile")
    root, used = hostile_project(base / "project")
    result = CliRunner().invoke(main, ["-C", str(root), "check"])
    assert result.exit_code == 0, result.output  # hostile text is still valid data
    build(root, base / "build")
    return root, base / "build", used


def dkg(root: Path, out: Path, *args: str) -> Result:
    """Run the CLI in-process on a project and its build folder."""
    return CliRunner().invoke(main, ["-C", str(root), *args], env={"DKG_BUILD": str(out)})


# --- HTML: every page the tool writes, in a real browser ------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# What a page may not contain once every payload has been shown: markup that came from the data.
DOM_AUDIT = """() => {
  const bad = [];
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.getAttributeNames()) {
      if (a.toLowerCase().startsWith('on')) bad.push(e.tagName + '[' + a + ']');
    }
    const href = e.getAttribute('href') || e.getAttribute('xlink:href') || '';
    if (/^\\s*javascript:/i.test(href)) bad.push(e.tagName + '[href=javascript:]');
    if (['IMG', 'IFRAME', 'OBJECT', 'EMBED', 'STYLE', 'BASE'].includes(e.tagName.toUpperCase())
        && !e.closest('head')) bad.push(e.tagName);
  }
  return {bad, scripts: document.querySelectorAll('script').length, pwned: window.__pwned ?? null};
}"""


class Visit:
    """One page opened with the network cut off, recording dialogs, requests and errors."""

    def __init__(self, browser: Any, url: str, allow: str):
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1200, "height": 800})
        self.context.route("**/*", lambda route: self._route(route, allow))
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)

    def _route(self, route: Any, allow: str) -> None:
        if route.request.url.startswith(allow):
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def audit(self) -> dict[str, Any]:
        """Wait a moment for anything delayed to fire, then look at the DOM."""
        self.page.wait_for_timeout(300)
        found: dict[str, Any] = self.page.evaluate(DOM_AUDIT)
        return found

    def assert_nothing_ran(self, scripts: int | None = None) -> None:
        """No dialog, no payload flag, no request, no markup from the data."""
        found = self.audit()
        assert self.dialogs == [], self.dialogs
        assert found["pwned"] is None, found
        assert found["bad"] == [], found
        assert self.requests == [], self.requests
        if scripts is not None:
            assert found["scripts"] == scripts, found

    def close(self) -> None:
        self.context.close()


def explore_graph_page(visit: Visit) -> str:
    """Select and hover every node, search every payload; return all the text the panel showed."""
    page = visit.page
    page.wait_for_function("window.dkg !== undefined", timeout=30_000)
    shown = []
    ids = page.evaluate("dkg.nodes.getIds()")
    box = page.locator("#network canvas").bounding_box()
    for node in ids:
        page.evaluate("id => dkg.select(id)", node)
        shown.append(page.locator("#panel").inner_text())
        xy = page.evaluate("id => dkg.network.canvasToDOM(dkg.network.getPosition(id))", node)
        page.mouse.move(box["x"] + xy["x"], box["y"] + xy["y"])
        page.wait_for_timeout(50)
        shown.append(page.locator("body").inner_text())
    for template in TEMPLATES:
        page.fill("#search", template.split("{m}")[0])
        page.press("#search", "Enter")
        shown.append(page.locator("#results").inner_text())
    return "\n".join(shown)


@pytest.mark.browser
@pytest.mark.parametrize(
    "args",
    [
        ["--view", "graph", "--lang", "nl"],
        ["--view", "graph", "--lang", "en"],
        ["--view", "coverage", "--lang", "nl"],
        ["--view", "coverage", "--lang", "en"],
        ["--focus", "secfund", "--depth", "2"],
    ],
    ids=["graph-nl", "graph-en", "coverage-nl", "coverage-en", "focus"],
)
def test_rendered_page_runs_no_payload_and_shows_each_as_text(
    args: list[str], hostile: tuple[Path, Path, dict[str, str]], browser: Any, tmp_path: Path,
    tally: Counter[str],
) -> None:  # fmt: skip
    root, out, used = hostile
    page_path = tmp_path / "page.html"
    result = dkg(root, out, "render", "--build", str(out), "-o", str(page_path), *args)
    assert result.exit_code == 0, result.output
    html = page_path.read_text(encoding="utf-8")
    for text in used.values():
        assert text not in html  # every payload is in the page only escaped, as JSON data
    visit = Visit(browser, page_path.as_uri(), allow="file:")
    try:
        shown = explore_graph_page(visit)
        visit.assert_nothing_ran(scripts=3)  # the data, vis-network, the page's own script
        assert visit.errors == []
        lang = "en" if "en" in args else "nl"
        must_show = [f"label-{lang}-secfund", f"description-{lang}-secfund", "quote", "text-object"]
        for field in must_show:
            assert used[field] in shown, f"{field} is not shown as text"
    finally:
        visit.close()
    tally["payloads shown as text in rendered pages, none ran"] += len(used)


@pytest.mark.browser
def test_coverage_svg_runs_no_payload(
    hostile: tuple[Path, Path, dict[str, str]], browser: Any, tmp_path: Path, tally: Counter[str]
) -> None:
    root, out, used = hostile
    svg = tmp_path / "coverage.svg"
    result = dkg(root, out, "render", "--build", str(out), "--view", "coverage", "--format", "svg",
                 "-o", str(svg))  # fmt: skip
    assert result.exit_code == 0, result.output
    text = svg.read_text(encoding="utf-8")
    for value in used.values():
        assert value not in text
    visit = Visit(browser, svg.as_uri(), allow="file:")
    try:
        visit.assert_nothing_ran(scripts=0)
        shown = visit.page.evaluate("document.documentElement.textContent")
        assert used["label-nl-knelpunt-b"] in shown
    finally:
        visit.close()
    tally["payloads in the coverage SVG, none ran"] += len(used)


# every report, with a target for those that need one
REPORTS = [["coverage"], ["gaps"], ["money"], ["timeline"], ["commitments"], ["sources"],
           ["show", "secfund"], ["show", "mini"]]  # fmt: skip


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: "-".join(r))
def test_markdown_reports_carry_no_markup_from_the_data(
    report: list[str], hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    # Markdown is rendered as HTML by most viewers: raw <, > and & from the data would be markup,
    # [text](javascript:...) a link.
    root, out, _ = hostile
    result = dkg(root, out, "report", *report, "--format", "markdown", "--quotes")
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(?!br>)", result.stdout), result.stdout
    assert not re.search(r"(?<!\\)\[", result.stdout), result.stdout
    assert "&lt;" in result.stdout or "(none)" in result.stdout  # the payloads are there, escaped
    tally["markdown reports with payloads, no markup"] += 1


# --- CSV: text from the data never becomes a spreadsheet formula ---------------------------------------

FORMULAS = (
    '=HYPERLINK("https://example.org/x","click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
)


@pytest.fixture(scope="module")
def formulas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The valid corpus with every label, description and note starting as a formula, built."""
    from graph.build import build

    base = tmp_path_factory.mktemp("formulas")
    root = copy_project(base / "project")
    reg = yaml.safe_load((root / "extract/entities.yaml").read_text(encoding="utf-8"))
    for n, ent in enumerate(reg["entities"]):
        i = ent["id"]
        ent["label"] = {"nl": f"{FORMULAS[n % 4]} {i}", "en": f"{FORMULAS[(n + 1) % 4]} {i}"}
        ent["description"] = {"nl": FORMULAS[(n + 2) % 4], "en": FORMULAS[(n + 3) % 4]}
    _write(root / "extract/entities.yaml", reg)
    doc = yaml.safe_load((root / "extract/documents/mini.yaml").read_text(encoding="utf-8"))
    for n, claim in enumerate(doc["claims"]):
        claim["note"] = FORMULAS[n % 4]
    _write(root / "extract/documents/mini.yaml", doc)
    build(root, base / "build")
    return root, base / "build"


def _cells(text: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _is_formula(cell: str) -> bool:
    return cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not re.fullmatch(
        r"[+-]?\d+(\.\d*)?", cell
    )


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: "-".join(r))
def test_csv_reports_write_formulas_from_the_data_as_text(
    report: list[str], formulas: tuple[Path, Path], tally: Counter[str]
) -> None:
    root, out = formulas
    result = dkg(root, out, "report", *report, "--format", "csv", "--quotes", "--lang", "en")
    assert result.exit_code == 0, result.output
    cells = _cells(result.stdout)
    assert not [c for c in cells if _is_formula(c)]
    if report[0] in {"coverage", "show"}:  # these name entities: their labels are there, as text
        assert any(c.startswith(("'=HYPERLINK", "'+cmd", "'-2+3", "'@SUM")) for c in cells), cells
    tally["CSV reports with formulas in the data, written as text"] += 1


def test_csv_export_writes_formulas_from_the_data_as_text(
    formulas: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = formulas
    result = dkg(root, out, "export", "--format", "csv", "-o", str(tmp_path / "csv"))
    assert result.exit_code == 0, result.output
    for name in ("nodes.csv", "edges.csv"):
        cells = _cells((tmp_path / "csv" / name).read_text(encoding="utf-8"))
        assert not [c for c in cells if _is_formula(c)], name
    nodes = (tmp_path / "csv" / "nodes.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in nodes and "'+cmd" in nodes


# --- SPARQL: values from the command line are bound, never pasted -------------------------------------

BREAKOUTS = [
    'x" } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o',
    "x' } UNION { ?x ?p ?o } #",
    'x" ) } UNION { ?x ?p ?o } #',
    'secfund" . ?x ?p ?o } #',
    'x\\" } UNION { ?x ?p ?o } #',
    "x\\u0022 } UNION { ?x ?p ?o } #",
    "x\\U00000022 } UNION { ?x ?p ?o } #",
    "x\\",
    'x"\n} UNION { ?x ?p ?o } #',
    "<https://w3id.org/dkg/id/secfund>",
    "id:secfund",
    "?x",
    "%s %s %(x)s {0} {}",
    "}}}}]]])))\"\"\"'''",
]


@pytest.mark.parametrize("text", BREAKOUTS)
def test_report_show_binds_the_name_it_is_given(
    text: str, hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    root, out, _ = hostile
    result = dkg(root, out, "report", "show", text)
    assert result.exit_code == 1, result.output
    assert "unknown entity" in result.stderr, result.output
    assert "syntax" not in result.output.lower() and "internal error" not in result.output
    tally["SPARQL break-out attempts on the command line, all bound"] += 1


def test_report_show_finds_an_entity_whose_alias_looks_like_sparql(
    hostile: tuple[Path, Path, dict[str, str]],
) -> None:
    # the alias is a payload full of quotes and braces; as a bound value it matches exactly itself
    root, out, used = hostile
    result = dkg(root, out, "report", "show", used["alias-financieringstafel"])
    assert result.exit_code == 0, result.output
    assert "financieringstafel" in result.stdout


@pytest.mark.parametrize("text", BREAKOUTS)
def test_query_bind_never_becomes_query_text(
    text: str, hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    root, out, _ = hostile
    query = 'SELECT ?x WHERE { VALUES ?name { "" } ?x dcterms:identifier ?name }'
    quoted = '"' + text.replace('"', "") + '"'  # as a text value it must simply match nothing
    for value in (text, quoted):
        result = dkg(root, out, "query", query, "--bind", f"name={value}", "--format", "json")
        assert "syntax" not in result.output.lower() and "internal error" not in result.output
        if result.exit_code == 0:
            assert '"bindings": []' in result.stdout, (value, result.stdout)
        else:
            assert "cannot read" in result.stderr, (value, result.output)
    for name in ("x } ; DROP ALL", "x{", "?"):
        result = dkg(root, out, "query", query, "--bind", f"{name}=secfund")
        assert result.exit_code != 0 and "not a variable name" in result.output, result.output
    tally["SPARQL break-out attempts on the command line, all bound"] += 1


# --- Terminals: text from a query or a server is shown, never obeyed -------------------------------

ESCAPES = ["\x1b[2J\x1b[31m", "\r", "\x07", "\x9b31m", "\u202e", "\x00"]


@pytest.mark.parametrize("escape", ESCAPES, ids=[repr(e) for e in ESCAPES])
def test_a_table_writes_control_characters_out(
    escape: str, hostile: tuple[Path, Path, dict[str, str]], tally: Counter[str]
) -> None:
    """A query's literal (or a remote server's value) reaches the table as an escape, not as the
    control character a terminal would obey; the machine formats keep the value as it is."""
    from graph.errors import printable

    root, out, _ = hostile
    code = "".join(f"\\u{ord(ch):04x}" for ch in escape)
    query = f'SELECT ?x WHERE {{ VALUES ?x {{ "a{code}b" }} }}'
    table = dkg(root, out, "query", query)
    assert table.exit_code == 0, table.output
    assert escape not in table.stdout
    assert f"a{printable(escape)}b" in table.stdout
    as_json = dkg(root, out, "query", query, "-f", "json")
    assert json.loads(as_json.stdout)["results"]["bindings"][0]["x"]["value"] == f"a{escape}b"
    tally["control characters shown as escapes in a table"] += 1


def test_an_error_quoting_a_server_writes_control_characters_out() -> None:
    from graph.errors import printable

    assert printable("answered 500: \x1b]0;pwned\x07 oops\r\n") == (
        "answered 500: \\x1b]0;pwned\\x07 oops\\r\n"
    )
    assert printable("tab\tand\nnewline stay; \u202e does not") == (
        "tab\tand\nnewline stay; \\u202e does not"
    )
