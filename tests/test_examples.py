"""Every named query in examples/queries/ runs against the built graph and answers its question.

One test id per query file. Each file opens with a # comment saying its question in plain words,
and returns rows, since the two documents answer every question the library asks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.query import describe_query, run_query

ROOT = Path(__file__).resolve().parent.parent
QUERIES = sorted((ROOT / "examples" / "queries").glob("*.rq"))

# The competency questions the issue names, by the file that answers each.
REQUIRED = {
    "bottlenecks-per-action-line": "knelpunten per actielijn",
    "bottlenecks-in-several-action-lines": "knelpunten that touch more than one actielijn",
    "interventions-per-action-line": "actions per actielijn",
    "interventions-per-bottleneck": "actions per knelpunt with standing",
    "instrument-budgets": "instruments with their budget",
    "financing-table-participants": "who leads and takes part in the financieringstafel, and who not",
    "promises-to-parliament": "what was promised to the Kamer and by when",
    "claims-of-document": "every claim of one source document",
    "sources-of-entity": "every source for one entity",
    "claims-across-documents": "claims that contradict or update each other across documents",
}


def test_every_competency_question_has_a_query() -> None:
    names = {p.stem for p in QUERIES}
    missing = {name: q for name, q in REQUIRED.items() if name not in names}
    assert not missing


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_states_its_question(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and first.rstrip().endswith("?"), first
    assert describe_query(path).question.endswith("?")


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_runs_and_answers(path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    result = run_query(backend, path.read_text(encoding="utf-8"))
    assert not isinstance(result, (bool, bytes))
    assert result.rows, f"{path.name} returned no rows"
    # Rows that cite a source give the document and the locator together.
    if "document" in result.variables and "locator" in result.variables:
        for row in result.rows:
            assert (row["document"] is None) == (row["locator"] is None)


def _rows(backend, name: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    table = run_query(
        backend, (ROOT / "examples" / "queries" / f"{name}.rq").read_text(encoding="utf-8")
    )
    assert not isinstance(table, (bool, bytes))
    return [{k: (v.local if v is not None else "") for k, v in row.items()} for row in table.rows]


def test_bottlenecks_per_action_line_answers_from_the_source(backend) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(backend, "bottlenecks-per-action-line")
    primary = {r["code"]: r["line"] for r in rows if r["role"] == "primary"}
    assert primary == {
        "A": "actielijn-1",
        "F": "actielijn-1",
        "B": "actielijn-2",
        "C": "actielijn-2",
        "H": "actielijn-2",
        "D": "actielijn-3",
        "E": "actielijn-4",
        "G": "actielijn-4",
    }
    secondary = {(r["code"], r["line"]) for r in rows if r["role"] == "secondary"}
    assert secondary == {("B", "actielijn-3"), ("G", "actielijn-2")}
    g2 = next(r for r in rows if (r["code"], r["line"]) == ("G", "actielijn-2"))
    assert "knelpunt G. ook een factor bij het mobiliseren van private financiering" in g2["quote"]
    assert (g2["document"], g2["locator"]) == ("antwoorden-idea-motie-boswijk-2025", "a3")


def test_financing_table_participants_include_the_negated_one(backend) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(backend, "financing-table-participants")
    leads = {r["actor"] for r in rows if r["role"] == "leads" and r["polarity"] == "Affirmed"}
    assert {"ez", "defensie"} <= leads
    financien = [r for r in rows if r["actor"] == "financien"]
    assert financien and all(r["polarity"] == "Negated" for r in financien)
    assert "besloten in deze fase nog niet aan te sluiten" in financien[0]["quote"]


def test_instrument_budgets(backend) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(backend, "instrument-budgets")
    secfund = [r for r in rows if r["instrument"] == "secfund"]
    assert {(r["value"], r["currency"]) for r in secfund} == {("100000000", "EUR")}
    assert "omvang van € 100 miljoen" in secfund[0]["quote"]


def test_promises_to_parliament_include_the_2026_update(backend) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(backend, "promises-to-parliament")
    update = [
        r
        for r in rows
        if r["relation"] == "informs" and r["object"] == "tweede-kamer" and r["when"] == "2026"
    ]
    assert update
    assert "in 2026 geïnformeerd" in update[0]["quote"]
