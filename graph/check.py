"""Check the loaded corpus: references resolve, quotes are in their sources and sections, relations
take the right kind of object, nothing is defined twice; and measure how much of each answer the
quotes cover. Graph-level checks (SHACL shapes) run on the compiled graph, in graph.validate."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from graph import constants as C
from graph.errors import Problem, display_path
from graph.load import Corpus, Document, did_you_mean, suggest_id
from graph.models import Entity, Section, Standing
from graph.textmatch import SourceText, normalise
from graph.vocab import RELATIONS

CONCEPT_TYPES = {"Bottleneck": "ConceptScheme", "ActionLine": "ConceptScheme"}


@dataclass
class SectionCoverage:
    """How much of one section's text is covered by at least one quote."""

    document: str
    section: str
    kind: str
    covered: int
    total: int

    @property
    def ratio(self) -> float:
        """Covered share, 0..1."""
        return self.covered / self.total if self.total else 1.0


@dataclass
class CheckResult:
    """Problems found, and what the checks learnt on the way."""

    problems: list[Problem] = field(default_factory=list)
    coverage: list[SectionCoverage] = field(default_factory=list)
    sources: dict[str, SourceText] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    # claim IRI-less key (document id, claim id) -> (file, line), to locate graph-level problems
    claim_lines: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)


def _read_source(doc: Document, corpus: Corpus, result: CheckResult) -> SourceText | None:
    try:
        return _read_source_text(doc, corpus, result)
    except (OSError, ValueError) as exc:  # a name too long, a path loop, unreadable
        text = doc.record.document.text
        message = f"cannot read source text {text!r}: {getattr(exc, 'strerror', None) or exc}"
        result.problems.append(doc.located.problem(("document", "text"), message))
        return None


def _read_source_text(doc: Document, corpus: Corpus, result: CheckResult) -> SourceText | None:
    meta = doc.record.document
    extract = corpus.extract_dir.resolve()
    target = (corpus.extract_dir / meta.text).resolve()
    loc = ("document", "text")
    if not target.is_relative_to(extract):
        result.problems.append(
            doc.located.problem(
                loc,
                f"text path {meta.text!r} leads outside extract/; keep sources in extract/sources/",
            )
        )
        return None
    if not target.is_file():
        result.problems.append(
            doc.located.problem(loc, f"source text {meta.text!r} not found under extract/")
        )
        return None
    if target.stat().st_size > C.MAX_SOURCE_BYTES:
        result.problems.append(doc.located.problem(loc, f"source text {meta.text!r} is too large"))
        return None
    try:
        return SourceText(target.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        result.problems.append(doc.located.problem(loc, f"source text {meta.text!r} is not UTF-8"))
        return None


def _check_registry(corpus: Corpus, result: CheckResult) -> None:
    if corpus.registry is None or corpus.registry_located is None:
        return
    loc = corpus.registry_located
    seen: dict[str, int] = {}
    for i, ent in enumerate(corpus.registry.entities):
        if ent.id in seen:
            line = loc.where(("entities", seen[ent.id], "id"))[0]
            result.problems.append(
                loc.problem(
                    ("entities", i, "id"), f"duplicate id {ent.id!r} (first at line {line})"
                )
            )
            continue
        seen[ent.id] = i
        result.entities[ent.id] = ent
    for i, ent in enumerate(corpus.registry.entities):
        if ent.type in CONCEPT_TYPES and not ent.in_scheme:
            result.problems.append(
                loc.problem(("entities", i), f"a {ent.type} needs 'in_scheme' (its ConceptScheme)")
            )
        if ent.in_scheme:
            scheme = result.entities.get(ent.in_scheme)
            if scheme is None:
                hint = did_you_mean(ent.in_scheme, result.entities)
                result.problems.append(
                    loc.problem(
                        ("entities", i, "in_scheme"), f"unknown entity {ent.in_scheme!r}{hint}"
                    )
                )
            elif scheme.type != "ConceptScheme":
                result.problems.append(
                    loc.problem(
                        ("entities", i, "in_scheme"),
                        f"{ent.in_scheme!r} is a {scheme.type}, not a ConceptScheme",
                    )
                )


def _ref(
    result: CheckResult,
    doc: Document,
    path: tuple[str | int, ...],
    ref: str,
    known: set[str] | None,
) -> None:
    if known is not None and ref not in known:
        result.problems.append(
            doc.located.problem(path, f"unknown entity {ref!r}{did_you_mean(ref, known)}")
        )


# A quote not found in its own source: (document, path of the claim, quote, that source).
Unfound = list[tuple[Document, tuple[str | int, ...], str, SourceText]]


def _check_document(
    doc: Document, corpus: Corpus, result: CheckResult, known: set[str] | None, unfound: Unfound
) -> None:
    meta = doc.record.document
    if doc.path.stem != meta.id:
        result.problems.append(
            doc.located.problem(
                ("document", "id"),
                f"document id {meta.id!r} must equal the file name {doc.path.stem!r}",
            )
        )
    for key in ("answered_by", "on_behalf_of"):
        for j, ref in enumerate(getattr(meta, key)):
            _ref(result, doc, ("document", key, j), ref, known)
    source = _read_source(doc, corpus, result)
    if source is not None:
        result.sources[meta.id] = source
    n_lines = len(source.lines) if source else 0
    sections: dict[str, Section] = {}
    for j, sec in enumerate(meta.sections):
        if sec.id in sections:
            result.problems.append(
                doc.located.problem(
                    ("document", "sections", j, "id"), f"duplicate section {sec.id!r}"
                )
            )
        sections[sec.id] = sec
        a, b = sec.line_range()
        if a < 1 or a > b or (source and b > n_lines):
            result.problems.append(
                doc.located.problem(
                    ("document", "sections", j, "lines"),
                    f"line range {sec.lines} is not within 1-{n_lines}",
                )
            )
    claim_ids: dict[str, int] = {}
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, claim in enumerate(doc.record.claims):
        here = ("claims", i)
        result.claim_lines[(meta.id, claim.id)] = (doc.located.file, doc.located.where(here)[0])
        if claim.id in claim_ids:
            line = doc.located.where(("claims", claim_ids[claim.id], "id"))[0]
            result.problems.append(
                doc.located.problem(
                    (*here, "id"), f"duplicate claim id {claim.id!r} (first at line {line})"
                )
            )
        claim_ids.setdefault(claim.id, i)
        _ref(result, doc, (*here, "subject"), claim.subject, known)
        if claim.object is not None:
            _ref(result, doc, (*here, "object"), claim.object, known)
        want = RELATIONS[str(claim.relation)]
        if claim.object_kind != want:
            result.problems.append(
                doc.located.problem(
                    (*here, "relation"),
                    f"relation {claim.relation!r} takes '{want}', not '{claim.object_kind}'",
                )
            )
        if claim.subject == claim.object and claim.relation == "partOf":
            result.problems.append(
                doc.located.problem(
                    (*here, "object"), f"{claim.subject!r} cannot be part of itself"
                )
            )
        if claim.locator not in sections:
            hint = did_you_mean(claim.locator, sections)
            result.problems.append(
                doc.located.problem((*here, "locator"), f"unknown section {claim.locator!r}{hint}")
            )
        if claim.quote is None or source is None:
            continue
        found = source.find_all(claim.quote)
        if not found:
            unfound.append((doc, here, claim.quote, source))  # reported once all sources are read
            continue
        cited = sections.get(claim.locator)
        if cited is None:
            continue
        a, b = cited.line_range()
        inside = [s for s in found if s.first_line <= b and s.last_line >= a]
        if not inside:
            where = found[0]
            owner = next(
                (
                    s.id
                    for s in meta.sections
                    if s.line_range()[0] <= where.first_line <= s.line_range()[1]
                ),
                None,
            )
            result.problems.append(
                doc.located.problem(
                    (*here, "quote"),
                    f"quote is on line {where.first_line}"
                    + (f" (section {owner!r})" if owner else "")
                    + f", not in section {claim.locator!r} (lines {cited.lines})",
                )
            )
            continue
        if claim.standing != Standing.inferred:
            spans[cited.id] += [(s.start, s.end) for s in inside]
    if source is not None:
        _coverage(meta.id, meta.sections, source, spans, result)


def _report_unfound(unfound: Unfound, corpus: Corpus, result: CheckResult) -> None:
    """Say where each missing quote is: in another document's text, or the closest passage."""
    texts = {d.record.document.id: d.record.document.text for d in corpus.documents}
    for doc, here, quote, source in unfound:
        meta = doc.record.document
        msg = f"quote not found in {meta.text}"
        for other, text in sorted(result.sources.items()):
            spans = text.find_all(quote) if other != meta.id else []
            if spans:
                msg += (
                    f", but it is in {texts[other]} (document {other!r}, line {spans[0].first_line});"
                    f" cite it from {other}.yaml"
                )
                break
        else:
            score, line, passage = source.closest(quote)
            if score > 0.5:
                msg += f"; closest passage (line {line}, {score:.0%} alike): {passage!r}"
        result.problems.append(doc.located.problem((*here, "quote"), msg))


_ANSWER_HEADING = re.compile(r"(?m)^[ \t]*Antwoord\b[^\n]{0,40}:[ \t]*$")


def _coverage(
    doc_id: str, sections: list, source: SourceText, spans: dict, result: CheckResult
) -> None:
    starts = source._line_starts
    for sec in sections:
        a, b = sec.line_range()
        if b > len(starts):
            continue
        lo = starts[a - 1]
        hi = starts[b] if b < len(starts) else len(source.text)
        text = source.text[lo:hi]
        # "Antwoord:" headings are layout, not content a claim could quote
        for m in _ANSWER_HEADING.finditer(text):
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
        # Characters counted by stretches (quotes merged where they overlap), not one by one.
        done, reach = 0, 0
        for s, e in sorted((max(s, lo) - lo, min(e, hi) - lo) for s, e in spans.get(sec.id, [])):
            s = max(s, reach)
            if e > s:
                done += _solid(text[s:e])
                reach = e
        result.coverage.append(SectionCoverage(doc_id, sec.id, sec.kind, done, _solid(text)))


def _solid(text: str) -> int:
    """How many characters of text are not whitespace."""
    return len("".join(text.split()))


def _check_part_of_cycles(corpus: Corpus, result: CheckResult) -> None:
    # A depth-first search that visits each entity once, so a dense partOf graph cannot make it
    # enumerate every path; a cycle shows as an edge back to an entity still on the path.
    parent: dict[str, list[tuple[str, Document, int]]] = defaultdict(list)
    for doc in corpus.documents:
        for i, claim in enumerate(doc.record.claims):
            # a self-part is reported as "part of itself" by _check_document
            part = claim.relation == "partOf" and claim.polarity == "affirmed"
            if part and claim.object and claim.object != claim.subject:
                parent[claim.subject].append((claim.object, doc, i))
    done: set[str] = set()
    for start in sorted(parent):
        if start in done:
            continue
        path, edges = [start], [iter(parent[start])]
        while edges:
            step = next(edges[-1], None)
            if step is None:
                done.add(path.pop())
                edges.pop()
                continue
            nxt, doc, i = step
            if nxt in path:
                chain = " -> ".join([*path[path.index(nxt) :], nxt])
                result.problems.append(
                    doc.located.problem(("claims", i, "object"), f"partOf cycle: {chain}")
                )
            elif nxt not in done:
                path.append(nxt)
                edges.append(iter(parent.get(nxt, [])))


def _spelt_ids(data: object) -> set[str]:
    entities = data.get("entities") if isinstance(data, dict) else None
    if not isinstance(entities, list):
        return set()
    spelt = [e["id"] for e in entities if isinstance(e, dict) and isinstance(e.get("id"), str)]
    return {suggest_id(i) for i in spelt}  # 'SecFund' is reported once, at the registry


def _check_rules(corpus: Corpus, result: CheckResult) -> None:
    rules_dir = corpus.root / C.ONTOLOGY_DIRNAME / C.RULES_DIRNAME
    rules = {p.stem for p in rules_dir.glob("*.rq")}
    for doc in corpus.documents:
        for i, claim in enumerate(doc.record.claims):
            if claim.rule is not None and claim.rule not in rules:
                hint = did_you_mean(claim.rule, rules)
                where = ("claims", i, "rule")
                message = f"unknown rule {claim.rule!r}{hint}; rules are ontology/rules/*.rq"
                result.problems.append(doc.located.problem(where, message))


def check_corpus(corpus: Corpus) -> CheckResult:
    """Run every record-level check; return the problems and the quote coverage."""
    result = CheckResult(problems=list(corpus.problems))
    _check_registry(corpus, result)
    known = set(result.entities)
    doc_ids = Counter(d.record.document.id for d in corpus.documents)
    for doc in corpus.documents:
        did = doc.record.document.id
        if did in result.entities:
            line = corpus.registry_located.where(("entities",))[0] if corpus.registry_located else 0
            result.problems.append(
                doc.located.problem(
                    ("document", "id"),
                    f"document id {did!r} is also an entity id in the registry (near line {line})",
                )
            )
        if doc_ids[did] > 1:
            result.problems.append(
                doc.located.problem(("document", "id"), f"document id {did!r} is used by two files")
            )
    known |= set(doc_ids)
    checkable: set[str] | None = known
    if corpus.registry is None:
        # The registry did not validate: resolve references against the ids it spells, so that
        # one bad entity does not turn every reference in every document into an error; if it
        # could not be read at all, references cannot be checked yet.
        located = corpus.registry_located
        checkable = known | _spelt_ids(located.data) if located is not None else None
    unfound: Unfound = []
    for doc in corpus.documents:
        _check_document(doc, corpus, result, checkable, unfound)
    _report_unfound(unfound, corpus, result)
    _check_rules(corpus, result)
    _check_part_of_cycles(corpus, result)
    return result


def format_coverage(cov: list[SectionCoverage]) -> list[str]:
    """Summarise quote coverage of answers per document, worst sections first."""
    by_doc: dict[str, list[SectionCoverage]] = defaultdict(list)
    for c in cov:
        if c.kind == "answer":
            by_doc[c.document].append(c)
    lines = []
    for doc, secs in sorted(by_doc.items()):
        covered, total = sum(s.covered for s in secs), sum(s.total for s in secs)
        share = covered / total if total else 1.0
        weak = ", ".join(
            f"{s.section} {s.ratio:.0%}"
            for s in sorted(secs, key=lambda s: s.ratio)[:3]
            if s.ratio < 0.5
        )
        lines.append(
            f"{doc}: answers {share:.0%} covered by quotes ({len(secs)} answers)"
            + (f"; least: {weak}" if weak else "")
        )
    return lines


__all__ = [
    "CheckResult",
    "Path",
    "SectionCoverage",
    "check_corpus",
    "display_path",
    "format_coverage",
    "normalise",
]
