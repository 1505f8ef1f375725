"""Tests of the curated data, one test id per record: every claim has a source and a quote found in
its section of the source text, every id resolves, every document file is named after its id."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.check import check_corpus
from graph.load import Corpus, load_corpus
from graph.models import Claim, Standing
from graph.textmatch import SourceText

ROOT = Path(__file__).resolve().parent.parent
CORPUS: Corpus = load_corpus(ROOT)
CHECK = check_corpus(CORPUS)
KNOWN = set(CHECK.entities) | {d.record.document.id for d in CORPUS.documents}
CLAIMS = [(d.record.document.id, c) for d in CORPUS.documents for c in d.record.claims]
SOURCES: dict[str, SourceText] = CHECK.sources


def test_corpus_loads_without_problems() -> None:
    assert [str(p) for p in CHECK.problems] == []


@pytest.mark.parametrize("doc", CORPUS.documents, ids=lambda d: d.path.name)
def test_document_file_is_named_after_its_id(doc) -> None:  # type: ignore[no-untyped-def]
    assert doc.path.stem == doc.record.document.id


@pytest.mark.parametrize("doc", CORPUS.documents, ids=lambda d: d.path.name)
def test_every_answer_has_a_quoted_claim(doc) -> None:  # type: ignore[no-untyped-def]
    doc_id = doc.record.document.id
    cited = {c.locator for c in doc.record.claims}
    answers = [s.id for s in doc.record.document.sections if s.kind == "answer"]
    assert answers, "a document of answers lists its answer sections"
    assert [a for a in answers if a not in cited] == [], f"{doc_id}: answers without claims"


@pytest.mark.parametrize(("doc_id", "claim"), CLAIMS, ids=[f"{d}/{c.id}" for d, c in CLAIMS])
def test_claim(doc_id: str, claim: Claim) -> None:
    assert claim.subject in KNOWN
    if claim.object:
        assert claim.object in KNOWN
    if claim.standing == Standing.inferred:
        assert claim.rule
        return
    assert claim.quote, "a stated or analyst claim carries its quote"
    spans = SOURCES[doc_id].find_all(claim.quote)
    assert spans, f"quote not in the source: {claim.quote!r}"
    if claim.standing == Standing.analyst:
        assert claim.rationale


@pytest.mark.parametrize("entity", sorted(CHECK.entities), ids=str)
def test_entity_has_both_labels(entity: str) -> None:
    ent = CHECK.entities[entity]
    assert ent.label.nl.strip() and ent.label.en.strip()


def test_source_texts_are_the_seed_documents() -> None:
    seeds = ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("../shared/seeds is not beside the project")
    for doc in CORPUS.documents:
        meta = doc.record.document
        if meta.seed:
            kept = (ROOT / "extract" / meta.text).read_bytes()
            assert kept == (seeds / meta.seed).read_bytes(), (
                f"{meta.text} differs from seed {meta.seed}"
            )
