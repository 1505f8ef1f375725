"""`dkg report ...`: the answers the reports give on the real data, each with its sources and quote,
the stable JSON contract of the coverage matrix, the formats, and the rules for money and dates."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from graph.cli import main
from graph.reports.data import When
from graph.store import Backend, Table
from tests.conftest import copy_project

ROOT = Path(__file__).resolve().parent.parent
IDEA = "antwoorden-idea-motie-boswijk-2025"
MKB = "antwoorden-mkb-defensiebedrijven-2025"


def dkg(built: Path, *args: str, root: Path = ROOT) -> Result:
    """Run the CLI in-process against a build."""
    return CliRunner().invoke(main, ["-C", str(root), *args], env={"DKG_BUILD": str(built)})


def report_json(built: Path, *args: str, root: Path = ROOT) -> Any:
    result = dkg(built, "report", *args, "-f", "json", root=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- coverage ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coverage(built: Path) -> dict[str, dict[str, Any]]:
    return {row["bottleneck"]["id"]: row for row in report_json(built, "coverage")}


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("quotes", [True, False])
@pytest.mark.parametrize(
    "focus", [None, ["https://w3id.org/dkg/id/secfund"], ["https://w3id.org/dkg/id/knelpunt-c"]]
)
def test_the_stored_coverage_is_what_the_graph_gives(
    backend: Backend, lang: str, quotes: bool, focus: list[str] | None
) -> None:
    """The build stores the coverage facts beside the store; every report made from them must be
    the report the queries give, in either language, with or without quotes, whole or in focus."""
    from graph.reports import base, coverage

    data = backend.view(coverage.VIEW)
    assert data is not None and coverage.Facts.from_json(data) is not None
    stored = coverage.compute(backend, lang, focus, quotes)
    queried = coverage.compute(backend, lang, focus, quotes, stored=False)
    assert stored.cells and stored.cells == queried.cells
    for fmt in ("json", "table"):
        assert base.render(coverage.report(stored), fmt) == base.render(
            coverage.report(queried), fmt
        )


def test_coverage_stored_by_other_code_is_not_used(built: Path, tmp_path: Path) -> None:
    """Facts written by another version of the reports are ignored: the report queries instead."""
    from graph.reports import coverage
    from graph.store import EmbeddedBackend

    snapshot = (built / "current").resolve()
    stale = json.loads((snapshot / coverage.VIEW).read_bytes())
    assert stale["cells"]
    stale["code"] = "0" * 16
    stale["cells"] = []
    copy = tmp_path / "snapshot"
    (copy / "store").mkdir(parents=True)
    import shutil

    shutil.copytree(snapshot / "store", copy / "store", dirs_exist_ok=True)
    (copy / coverage.VIEW).write_text(json.dumps(stale))
    read = EmbeddedBackend(copy / "store")
    assert coverage.Facts.from_json(read.view(coverage.VIEW) or b"") is None
    assert coverage.compute(read, "en").cells  # queried, not the emptied stored facts


def test_the_manifest_lists_the_stored_coverage(built: Path) -> None:
    import hashlib

    from graph.reports import coverage

    snapshot = (built / "current").resolve()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    data = (snapshot / coverage.VIEW).read_bytes()
    assert manifest["files"][coverage.VIEW] == hashlib.sha256(data).hexdigest()


def test_a_rebuild_gives_an_unchanged_snapshot_the_stored_coverage_it_lacks(
    valid_project: Path, tmp_path: Path
) -> None:
    """A snapshot from before the coverage was stored (or stored by other code) is reused by a build
    of the same graphs, which then writes the coverage into it, manifest included."""
    import hashlib

    from graph.build import build
    from graph.reports import coverage

    out = tmp_path / "out"
    _compiled, snapshot = build(valid_project, out)
    view = snapshot / coverage.VIEW
    written = view.read_bytes()
    view.unlink()
    _compiled, again = build(valid_project, out)
    assert again == snapshot and view.read_bytes() == written
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["files"][coverage.VIEW] == hashlib.sha256(written).hexdigest()
    assert not list(snapshot.glob(".*"))  # no partly written file left behind


def test_coverage_json_is_the_stable_contract(coverage: dict[str, dict[str, Any]]) -> None:
    for row in coverage.values():
        assert set(row) == {"bottleneck", "action_lines", "actions"}
        assert set(row["bottleneck"]) == {"id", "label"}
        for line in row["action_lines"]:
            assert set(line) == {"id", "label", "primary"}
            assert isinstance(line["primary"], bool)
        for action in row["actions"]:
            assert set(action) == {"id", "label", "standing", "via", "sources"}
            assert action["standing"] in {"stated", "inferred", "analyst"}
            assert (action["via"] is not None) == (action["standing"] == "inferred")
            assert action["sources"], f"{action['id']} -> {row['bottleneck']['id']} has no source"
            for source in action["sources"]:
                assert set(source) == {"document", "locator", "quote"}
                assert source["document"] in {IDEA, MKB} and source["locator"] and source["quote"]


def test_coverage_lists_every_bottleneck_of_every_scheme(
    coverage: dict[str, dict[str, Any]],
) -> None:
    idea = {f"knelpunt-{c}" for c in "abcdefgh"}
    assert idea <= set(coverage)
    assert len(coverage) > len(idea), "bottlenecks outside IDEA's scheme are missing"
    assert list(coverage)[:8] == sorted(idea), "IDEA's knelpunten come first, A to H"


def lines_of(row: dict[str, Any]) -> dict[str, bool]:
    return {line["id"]: line["primary"] for line in row["action_lines"]}


def test_knelpunten_b_c_and_h_fall_under_actielijn_2(coverage: dict[str, dict[str, Any]]) -> None:
    for code in "bch":
        assert lines_of(coverage[f"knelpunt-{code}"]).get("actielijn-2") is True


def test_b_and_g_touch_a_second_actielijn(coverage: dict[str, dict[str, Any]]) -> None:
    assert lines_of(coverage["knelpunt-b"]) == {"actielijn-2": True, "actielijn-3": False}
    assert lines_of(coverage["knelpunt-g"]) == {"actielijn-4": True, "actielijn-2": False}
    for code in "acdefh":
        assert list(lines_of(coverage[f"knelpunt-{code}"]).values()) == [True]


def test_the_action_line_mapping_is_quoted(built: Path) -> None:
    result = dkg(built, "report", "coverage", "--quotes")
    assert result.exit_code == 0, result.output
    assert (
        "Zo is knelpunt G. ook een factor bij het mobiliseren van private financiering"
        in result.output
    )
    assert f"{IDEA} a3" in result.output


def test_inferred_cells_name_the_action_line_and_cite_both_premises(
    coverage: dict[str, dict[str, Any]],
) -> None:
    secfund = next(a for a in coverage["knelpunt-c"]["actions"] if a["id"] == "secfund")
    assert (secfund["standing"], secfund["via"]) == ("inferred", "actielijn-2")
    quotes = " ".join(s["quote"] for s in secfund["sources"])
    assert "Secfund opgericht" in quotes  # SecFund is in actielijn 2 ...
    assert "C. marktconform rendement" in quotes  # ... and knelpunt C is mapped to it


def test_inferred_sources_are_exactly_the_premises_sources(backend: Backend) -> None:
    """The coverage gathers an inferred cell's sources per action line; they must be its premises'."""
    from graph.reports import coverage as cov
    from graph.reports.data import claim_sources

    found, _by_line = cov.cited_claims(backend)
    derived = [c for c in found if c.standing == "inferred"]
    assert derived
    walked = claim_sources(backend, [c.iri for c in derived])
    for c in derived:
        assert c.sources == walked[c.iri], c.iri


def test_a_secondary_line_carries_inference_too(coverage: dict[str, dict[str, Any]]) -> None:
    via = {
        a["id"]: a["via"] for a in coverage["knelpunt-g"]["actions"] if a["standing"] == "inferred"
    }
    assert via.get("secfund") == "actielijn-2"  # G touches actielijn 2 as a second line
    assert via.get("financieringstafel") == "actielijn-4"


def test_stated_is_preferred_over_inferred_but_all_sources_are_kept(tmp_path: Path) -> None:
    from graph.build import build

    project = copy_project(tmp_path / "project")
    doc = project / "extract" / "documents" / "mini.yaml"
    doc.write_text(
        doc.read_text(encoding="utf-8")
        + "  - {id: secfund-b-stated, subject: secfund, relation: addresses, object: knelpunt-b, locator: a1,"
        " quote: Afgelopen april is het Secfund opgericht}\n",
        encoding="utf-8",
    )
    out = tmp_path / "build"
    build(project, out)
    [row] = report_json(out, "coverage", root=project)
    [cell] = row["actions"]
    assert (cell["id"], cell["standing"], cell["via"]) == ("secfund", "stated", None)
    quotes = {s["quote"] for s in cell["sources"]}
    assert quotes == {
        "Afgelopen april is het Secfund opgericht",  # stated
        "dit fonds heeft inmiddels een omvang van € 100 miljoen.",  # the analyst's
        "Het valt onder actielijn 2.",  # the inference's premises
        "Knelpunt B hoort hoofdzakelijk bij actielijn 2.",
    }


def test_analyst_cells_keep_their_standing(coverage: dict[str, dict[str, Any]]) -> None:
    analyst = [a for row in coverage.values() for a in row["actions"] if a["standing"] == "analyst"]
    assert analyst and all(a["via"] is None for a in analyst)


def test_coverage_table_and_csv(built: Path) -> None:
    table = dkg(built, "report", "coverage")
    assert "Coverage matrix" in table.output and "S = stated by a source" in table.output
    rows = list(csv.DictReader(io.StringIO(dkg(built, "report", "coverage", "-f", "csv").output)))
    assert {"code", "bottleneck", "intervention_id", "standing", "via", "sources"} <= set(rows[0])
    assert any(r["bottleneck"] == "knelpunt-b" and r["intervention_id"] == "secfund" for r in rows)
    assert all(r["sources"] for r in rows)
    assert "via_line" not in rows[0]  # CSV gives the line's id, a table its number
    secfund_b = next(r for r in rows if r["code"] == "B" and r["intervention_id"] == "secfund")
    assert secfund_b["via"] == "actielijn-2"
    line = next(ln for ln in table.output.splitlines() if ln.startswith("| B    | SecFund "))
    assert line.split("|")[4].strip() == "2"
    assert "actielijn-2" not in table.output


def test_a_bottleneck_s_cells_are_in_label_order_within_a_standing(built: Path) -> None:
    """Within a standing, interventions are listed by the label the reader sees, not by id (the
    ids are Dutch, the labels English: by id the list looked shuffled)."""
    row = report_json(built, "show", "B")["coverage"]
    inferred = [r["intervention"] for r in row if r["standing"] == "inferred"]
    assert len(inferred) > 3 and inferred == sorted(inferred, key=str.lower)
    gaps = report_json(built, "gaps")
    reached = next(r for r in gaps["only_inferred"] if r["code"] == "B")["reached_by"]
    inferred_gaps = [r for r in reached if "(inferred" in r]
    assert inferred_gaps == sorted(inferred_gaps, key=str.lower)


# --- show -----------------------------------------------------------------------------------------


def claims_in(dossier: dict[str, Any]) -> list[dict[str, Any]]:
    return dossier["claims"]


def test_financien_is_not_at_the_financing_table(built: Path) -> None:
    dossier = report_json(built, "show", "financien")
    rows = [
        r
        for r in claims_in(dossier)
        if r["relation_id"] == "participatesIn" and r["other_id"] == "financieringstafel"
    ]
    assert rows and all(r["qualifiers"].startswith("not") for r in rows)
    quotes = [s["quote"] for r in rows for s in r["sources"]]
    assert any("heeft besloten in deze fase nog niet aan te sluiten" in q for q in quotes)
    assert all(s["document"] == MKB and s["locator"] == "a7" for r in rows for s in r["sources"])


def test_secfund_dossier_has_its_size_with_the_quote(built: Path) -> None:
    dossier = report_json(built, "show", "secfund")
    budget = [r for r in claims_in(dossier) if r["relation_id"] == "budget"]
    assert [r["other"] for r in budget] == ["EUR 100 million"]
    assert (
        budget[0]["sources"][0]["quote"]
        == "dit fonds heeft inmiddels een omvang van € 100 miljoen."
    )
    addressed = {r["bottleneck"].split()[0] for r in dossier["coverage"]}
    assert {"B", "C", "G", "H"} <= addressed


@pytest.mark.parametrize("name", ["SecFund", "SECFUND", "secfund", "het SecFund", "  Secfund "])
def test_show_finds_an_entity_by_id_label_or_alias(built: Path, name: str) -> None:
    assert report_json(built, "show", name)["id"] == "secfund"


@pytest.mark.parametrize(
    ("code", "entity"), [("B", "knelpunt-b"), ("h", "knelpunt-h"), ("2", "actielijn-2")]
)
def test_show_finds_a_bottleneck_or_action_line_by_its_code(
    built: Path, code: str, entity: str
) -> None:
    """The codes the coverage matrix shows in its headers (B, 2) name their entities too."""
    assert report_json(built, "show", code)["id"] == entity


def test_show_finds_a_dutch_label_and_answers_in_dutch(built: Path) -> None:
    result = dkg(built, "report", "show", "ministerie van financiën", "--lang", "nl")
    assert result.exit_code == 0, result.output
    assert "Ministerie van Financiën" in result.output and "neemt deel aan" in result.output


def test_show_a_document_lists_every_claim_it_makes(built: Path, backend: Backend) -> None:
    dossier = report_json(built, "show", MKB)
    n = backend.select(
        f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c dkg:source id:{MKB} }}"
    ).rows[0]["n"]
    assert n is not None and len(dossier["made"]) == int(n.value)
    assert all(r["sources"][0]["document"] == MKB for r in dossier["made"])


def test_show_an_unknown_entity_suggests_one(built: Path) -> None:
    result = dkg(built, "report", "show", "secfnd")
    assert result.exit_code == 1
    assert "unknown entity 'secfnd' (did you mean 'secfund'?)" in result.output


def test_show_does_not_let_input_change_the_query(built: Path) -> None:
    result = dkg(built, "report", "show", 'secfund" ) } UNION { ?x ?p ?o . BIND("x')
    assert result.exit_code == 1
    assert "unknown entity" in result.output and "Traceback" not in result.output


# --- commitments and gaps ---------------------------------------------------------------------------


def kamer_2026(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r["relation"] == "informs" and r["object"] == "tweede-kamer" and r["due"] == "2026"
    ]


def test_the_promise_to_inform_the_kamer_in_2026_is_a_commitment(built: Path) -> None:
    data = report_json(built, "commitments", "--as-of", "2026-06-01")
    promise = kamer_2026(data["commitments"])
    assert len(promise) == 1
    row = promise[0]
    assert (row["by_id"], row["kind"], row["status"]) == ("defensie", "promised", "due")
    assert row["sources"] == [
        {
            "document": IDEA,
            "locator": "a5",
            "quote": "waarover uw Kamer in 2026 geïnformeerd zal worden.",
        }
    ]
    declined = [r for r in data["commitments"] if r["kind"] == "declined"]
    assert declined and all(r["status"] == "declined" for r in declined)


@pytest.mark.parametrize(
    ("as_of", "passed"), [("2026-12-31", False), ("2027-01-01", True), ("2030-05-05", True)]
)
def test_a_year_promise_passes_only_after_the_year(built: Path, as_of: str, passed: bool) -> None:
    gaps = report_json(built, "gaps", "--as-of", as_of)
    listed = [
        r for r in gaps["promises_passed"] if r["what"].startswith("informs") and r["due"] == "2026"
    ]
    assert bool(listed) == passed
    if passed:
        assert listed[0]["ended"] == "2026-12-31"
        assert "in 2026 geïnformeerd" in listed[0]["sources"][0]["quote"]
    status = {
        r["status"]
        for r in kamer_2026(report_json(built, "commitments", "--as-of", as_of)["commitments"])
    }
    assert status == ({"overdue"} if passed else {"due"})


def test_gaps_lists_bottlenecks_without_action_and_reached_only_by_inference(
    built: Path, coverage: dict[str, dict[str, Any]]
) -> None:
    gaps = report_json(built, "gaps")
    nothing = {r["bottleneck"] for r in gaps["no_action"]}
    assert nothing == {b for b, row in coverage.items() if not row["actions"]}
    only = {r["bottleneck"] for r in gaps["only_inferred"]}
    expected = {
        b
        for b, row in coverage.items()
        if row["actions"] and all(a["standing"] != "stated" for a in row["actions"])
    }
    assert only == expected
    assert "knelpunt-c" in only  # C is reached only via actielijn 2
    unfunded = {r["id"] for r in gaps["no_money"]}
    assert "financieringstafel" in unfunded and "secfund" not in unfunded


def test_bad_as_of_is_a_usage_error(built: Path) -> None:
    result = dkg(built, "report", "gaps", "--as-of", "next year")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


# --- money ----------------------------------------------------------------------------------------


def test_money_secfund_is_eur_100_million_with_its_quote(built: Path) -> None:
    data = report_json(built, "money")
    secfund = [r for r in data["instruments"] if r["id"] == "secfund"]
    assert len(secfund) == 1
    row = secfund[0]
    assert (row["value"], row["currency"], row["amount"], row["status"]) == (
        100000000,
        "EUR",
        "EUR 100 million",
        "current",
    )
    assert row["sources"][0]["quote"] == "dit fonds heeft inmiddels een omvang van € 100 miljoen."
    line2 = next(r for r in data["action_lines"] if r["id"] == "actielijn-2")
    current = {r["id"]: r["value"] for r in data["instruments"] if r["status"] == "current"}
    assert line2["totals"]["EUR"] == pytest.approx(
        sum(current[i] for i in ("secfund", "ttt", "seed-capital"))
    )


SECOND = """\
document:
  id: later
  title: {{nl: Later, en: Later}}
  kind: answers
  date: "2025-09-01"
  text: sources/later.txt
  sections:
    - {{id: q1, kind: question, questions: [1], lines: "1"}}
    - {{id: a1, kind: answer, questions: [1], lines: "3"}}
claims:
  - id: secfund-budget
    subject: secfund
    relation: budget
    amount: {{value: {value}, currency: EUR}}
    locator: a1
    quote: Het SecFund heeft nu een omvang van € {words} miljoen.
"""


def build_with_second_document(tmp_path: Path, millions: int) -> tuple[Path, Path]:
    from graph.build import build

    project = copy_project(tmp_path / "project")
    extract = project / "extract"
    (extract / "sources" / "later.txt").write_text(
        f"1. Hoe groot is het SecFund nu?\nAntwoord:\nHet SecFund heeft nu een omvang van € {millions} miljoen.\n",
        encoding="utf-8",
    )
    (extract / "documents" / "later.yaml").write_text(
        SECOND.format(value=millions * 1_000_000, words=millions), encoding="utf-8"
    )
    out = tmp_path / "build"
    build(project, out)
    return project, out


def test_one_amount_stated_in_two_documents_counts_once(tmp_path: Path) -> None:
    project, out = build_with_second_document(tmp_path, 100)
    data = report_json(out, "money", root=project)
    assert len(data["instruments"]) == 1
    row = data["instruments"][0]
    assert row["dates"] == ["2025-06-10", "2025-09-01"]
    assert {s["document"] for s in row["sources"]} == {"mini", "later"}
    assert data["total"] == {"EUR": 100_000_000}
    assert data["action_lines"][0]["totals"] == {"EUR": 100_000_000}
    # SecFund reaches knelpunt B twice (an analyst's claim and via actielijn 2): still one amount.
    assert data["bottlenecks"][0]["totals"] == {"EUR": 100_000_000}


def test_a_later_amount_replaces_the_earlier_one_in_totals(tmp_path: Path) -> None:
    project, out = build_with_second_document(tmp_path, 150)
    data = report_json(out, "money", root=project)
    status = {(r["value"], tuple(r["dates"])): r["status"] for r in data["instruments"]}
    assert status == {
        (100_000_000, ("2025-06-10",)): "earlier",
        (150_000_000, ("2025-09-01",)): "current",
    }
    assert data["total"] == {"EUR": 150_000_000}


def test_a_part_is_not_added_to_its_whole(tmp_path: Path) -> None:
    from graph.build import build

    project = copy_project(tmp_path / "project")
    extract = project / "extract"
    registry = extract / "entities.yaml"
    registry.write_text(
        registry.read_text(encoding="utf-8")
        + "  - id: secfund-luik\n    type: Instrument\n    label: {nl: SecFund-luik, en: SecFund window}\n",
        encoding="utf-8",
    )
    doc = extract / "documents" / "mini.yaml"
    doc.write_text(
        doc.read_text(encoding="utf-8")
        + "  - {id: luik-part, subject: secfund-luik, relation: partOf, object: secfund, locator: a1,"
        " quote: dit fonds heeft inmiddels een omvang van € 100 miljoen.}\n"
        "  - {id: luik-budget, subject: secfund-luik, relation: budget, amount: {value: 100000000},"
        " locator: a1, quote: dit fonds heeft inmiddels een omvang van € 100 miljoen.}\n"
        "  - {id: luik-line, subject: secfund-luik, relation: inActionLine, object: actielijn-2, locator: a1,"
        " quote: Het valt onder actielijn 2.}\n",
        encoding="utf-8",
    )
    out = tmp_path / "build"
    build(project, out)
    data = report_json(out, "money", root=project)
    assert {r["id"] for r in data["instruments"]} == {"secfund", "secfund-luik"}
    assert data["total"] == {"EUR": 100_000_000}
    assert data["action_lines"][0]["totals"] == {"EUR": 100_000_000}


# --- timeline and sources ---------------------------------------------------------------------------


def test_timeline_is_in_order_with_the_precision_of_each_date(built: Path) -> None:
    events = report_json(built, "timeline")["events"]
    starts = [e["start"] for e in events]
    assert starts == sorted(starts)
    table = next(
        e
        for e in events
        if e["what"].startswith("Defport financing table") and e["kind"] == "claim"
    )
    assert (table["date"], table["precision"], table["end"]) == (
        "end of 2025-03",
        "month",
        "2025-03-31",
    )
    due = next(e for e in events if e["kind"] == "due" and e["date"] == "2026")
    assert due["precision"] == "year" and due["sources"][0]["locator"] == "a5"
    assert all(e["sources"] for e in events if e["kind"] != "registry")


def test_sources_counts_claims_and_answers_per_document(built: Path, backend: Backend) -> None:
    data = report_json(built, "sources")
    docs = {d["id"]: d for d in data["documents"]}
    assert set(docs) == {IDEA, MKB}
    for doc_id, doc in docs.items():
        n = backend.select(
            f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c dkg:source id:{doc_id} }}"
        ).rows[0]["n"]
        assert n is not None and doc["claims"] == int(n.value) == sum(
            doc["claims_by_standing"].values()
        )
        assert doc["answers_covered"] <= doc["answers"] and doc["answers"] > 0
        assert "secfund" in doc["entity_ids"]
    assert docs[IDEA]["inferred_from_it"] > 0  # the action-line rule rests on the IDEA answers
    assert docs[MKB]["date"] == "2025-06-10"


# --- formats, languages, the backend -----------------------------------------------------------------

REPORTS = [
    ["coverage"],
    ["gaps"],
    ["show", "secfund"],
    ["money"],
    ["timeline"],
    ["commitments"],
    ["sources"],
]


@pytest.mark.parametrize("args", REPORTS, ids=[a[0] for a in REPORTS])
def test_every_report_in_every_format(built: Path, args: list[str]) -> None:
    for fmt in ("table", "markdown", "csv", "json"):
        result = dkg(built, "report", *args, "-f", fmt)
        assert result.exit_code == 0, f"{fmt}: {result.output}"
        assert result.output.strip()
        if fmt == "json":
            json.loads(result.output)
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(result.output)))
            assert len({len(r) for r in rows}) == 1
        if fmt == "markdown":
            assert result.output.startswith("# ") and "\n|" in result.output
    quoted = dkg(built, "report", *args, "--quotes")
    assert quoted.exit_code == 0, quoted.output
    if args[0] != "sources":  # counts per document: nothing to quote
        assert "“" in quoted.output


@pytest.mark.parametrize("args", REPORTS, ids=[a[0] for a in REPORTS])
def test_every_stating_row_carries_its_sources(built: Path, args: list[str]) -> None:
    data = report_json(built, *args)
    if args[0] == "coverage":
        return  # checked against the contract above
    stating = {"claims", "made", "commitments", "instruments", "promises_passed", "only_inferred"}
    for key, rows in data.items():
        if key in stating:
            for row in rows:
                assert row["sources"], f"{args[0]}/{key}: {row}"
                assert all(s["document"] and s["locator"] for s in row["sources"])


def test_lang_picks_the_labels(built: Path) -> None:
    nl = {
        r["bottleneck"]["id"]: r["bottleneck"]["label"]
        for r in report_json(built, "coverage", "--lang", "nl")
    }
    en = {
        r["bottleneck"]["id"]: r["bottleneck"]["label"]
        for r in report_json(built, "coverage", "--lang", "en")
    }
    assert nl["knelpunt-c"] == "marktconform rendement"
    assert en["knelpunt-c"] != nl["knelpunt-c"]


def test_report_to_a_file(built: Path, tmp_path: Path) -> None:
    target = tmp_path / "coverage.md"
    result = dkg(built, "report", "coverage", "-f", "markdown", "-o", str(target))
    assert result.exit_code == 0 and result.output == ""
    assert target.read_text(encoding="utf-8").startswith("# Coverage")


class Recording:
    """A Backend that passes queries on and keeps them: the reports use nothing else."""

    name = "recording"

    def __init__(self, inner: Backend):
        self.inner = inner
        self.queries: list[str] = []

    def select(self, query: str) -> Table:
        self.queries.append(query)
        return self.inner.select(query)

    def ask(self, query: str) -> bool:
        self.queries.append(query)
        return self.inner.ask(query)

    def construct(self, query: str) -> bytes:
        self.queries.append(query)
        return self.inner.construct(query)

    def view(self, name: str) -> bytes | None:
        self.queries.append(f"view {name}")
        return self.inner.view(name)


def test_reports_read_the_graph_only_through_the_backend(backend: Backend) -> None:
    from graph.reports import base, commitments, coverage, gaps, money, show, sources, timeline

    made = [
        lambda b: coverage.report(coverage.compute(b, "en")),
        lambda b: gaps.report(b, date(2027, 1, 1), "en"),
        lambda b: show.report(b, "secfund", "en"),
        lambda b: money.report(b, "en"),
        lambda b: timeline.report(b, "en"),
        lambda b: commitments.report(b, date(2026, 1, 1), "en"),
        lambda b: sources.report(b, "en"),
    ]
    for make in made:
        recording = Recording(backend)
        direct = base.render(make(backend), "json")
        assert base.render(make(recording), "json") == direct
        assert recording.queries


# --- dates --------------------------------------------------------------------------------------


def test_dates_keep_their_precision() -> None:
    year = When("2026", "year")
    assert (year.start, year.end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert not year.passed(date(2026, 12, 31)) and year.passed(date(2027, 1, 1))
    month = When("2024-02", "month", "End")
    assert month.end == date(2024, 2, 29) and month.show() == "end of 2024-02"
    assert (
        sorted([When("2025", "year"), When("2025-01-01", "day")], key=When.sort_key)[0].precision
        == "day"
    )


def test_show_works_for_every_entity_and_document(backend: Backend) -> None:
    from graph.reports import base, show

    ids = backend.select(
        "SELECT DISTINCT ?id WHERE { ?x dcterms:identifier ?id . FILTER(STRSTARTS(STR(?x), STR(id:))) "
        "FILTER NOT EXISTS { ?x a dkg:Claim } }"
    )
    names = sorted(r["id"].value for r in ids.rows if r["id"] is not None)
    assert len(names) > 90
    for name in names:
        report = show.report(backend, name, "en")
        assert json.loads(base.render(report, "json"))["id"] == name
        assert base.render(report, "table")
