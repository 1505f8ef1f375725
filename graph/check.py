"""Check the loaded corpus: references resolve, quotes are in their sources and sections, relations
take the right kind of object, nothing is defined twice; and measure how much of each answer the
quotes cover. Graph-level checks (SHACL shapes) run on the compiled graph, in graph.validate."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from graph import constants as C
from graph.errors import Problem, counted, display_path
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
    known: Collection[str] | None,
) -> None:
    if known is not None and ref not in known:
        result.problems.append(
            doc.located.problem(path, f"unknown entity {ref!r}{did_you_mean(ref, known)}")
        )


# A quote not found in its own source: (document, path of the claim, quote, that source).
_Unfound = list[tuple[Document, tuple[str | int, ...], str, SourceText]]


def _check_document(
    doc: Document,
    corpus: Corpus,
    result: CheckResult,
    known: Collection[str] | None,
    unfound: _Unfound,
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
    misplaced: set[str] = set()  # sections with a wrong line range: no quote is checked in them
    for j, sec in enumerate(meta.sections):
        if sec.id in sections:
            result.problems.append(
                doc.located.problem(
                    ("document", "sections", j, "id"), f"duplicate section {sec.id!r}"
                )
            )
        sections[sec.id] = sec
        a, b = sec.line_range()
        if a > b or a < 1 or (source and b > n_lines):
            misplaced.add(sec.id)
        if a > b:
            result.problems.append(
                doc.located.problem(
                    ("document", "sections", j, "lines"),
                    f"line range {sec.lines} runs backwards; write {b}-{a}",
                )
            )
        elif a < 1 or (source and b > n_lines):
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
        if cited is None or cited.id in misplaced:
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


@dataclass(frozen=True)
class Unfound:
    """A quote not found in its own source: which document, where the quote is, and the quote."""

    document: str
    text: str  # the document's source text path, as written
    file: str
    line: int
    col: int
    quote: str


def report_unfound(
    unfound: list[Unfound], sources: dict[str, SourceText], texts: dict[str, str]
) -> list[Problem]:
    """Say where each missing quote is: in another document's text, or the closest passage."""
    problems = []
    for u in unfound:
        msg = f"quote not found in {u.text}"
        for other, text in sorted(sources.items()):
            spans = text.find_all(u.quote) if other != u.document else []
            if spans:
                msg += (
                    f", but it is in {texts[other]} (document {other!r}, line {spans[0].first_line});"
                    f" cite it from {other}.yaml"
                )
                break
        else:
            source = sources[u.document]
            other_case = source.find_other_case(u.quote)
            if other_case is not None:
                line, passage = other_case
                msg += (
                    f"; it is there with other capitals (line {line}): {passage!r};"
                    " quote it as written"
                )
            else:
                score, line, passage = source.closest(u.quote)
                if score > 0.5:
                    msg += f"; closest passage (line {line}, {score:.0%} alike): {passage!r}"
        problems.append(Problem(u.file, u.line, u.col, msg))
    return problems


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


# A partOf edge: (part, whole, where the whole is named: file, line, column).
PartOf = tuple[str, str, str, int, int]


def part_of_edges(doc: Document) -> list[PartOf]:
    """The affirmed partOf claims of a document, as edges for the cycle check."""
    edges = []
    for i, claim in enumerate(doc.record.claims):
        # a self-part is reported as "part of itself" by _check_document
        part = claim.relation == "partOf" and claim.polarity == "affirmed"
        if part and claim.object and claim.object != claim.subject:
            line, col = doc.located.where(("claims", i, "object"))
            edges.append((claim.subject, claim.object, doc.located.file, line, col))
    return edges


def part_of_cycles(edges: list[PartOf]) -> list[Problem]:
    """Every partOf cycle, reported at the claim that closes it."""
    # A depth-first search that visits each entity once, so a dense partOf graph cannot make it
    # enumerate every path; a cycle shows as an edge back to an entity still on the path.
    parent: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
    for part, whole, file, line, col in edges:
        parent[part].append((whole, file, line, col))
    problems = []
    done: set[str] = set()
    for start in sorted(parent):
        if start in done:
            continue
        path, stack = [start], [iter(parent[start])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                done.add(path.pop())
                stack.pop()
                continue
            nxt, file, line, col = step
            if nxt in path:
                chain = " -> ".join([*path[path.index(nxt) :], nxt])
                problems.append(Problem(file, line, col, f"partOf cycle: {chain}"))
            elif nxt not in done:
                path.append(nxt)
                stack.append(iter(parent.get(nxt, [])))
    return problems


def _spelt_ids(data: object) -> set[str]:
    entities = data.get("entities") if isinstance(data, dict) else None
    if not isinstance(entities, list):
        return set()
    spelt = [e["id"] for e in entities if isinstance(e, dict) and isinstance(e.get("id"), str)]
    return {suggest_id(i) for i in spelt}  # 'SecFund' is reported once, at the registry


def rule_names(root: Path) -> set[str]:
    """The ids of the declared rules (ontology/rules/*.rq)."""
    return {p.stem for p in (root / C.ONTOLOGY_DIRNAME / C.RULES_DIRNAME).glob("*.rq")}


def _rule_problems(doc: Document, rules: set[str]) -> list[Problem]:
    problems = []
    for i, claim in enumerate(doc.record.claims):
        if claim.rule is not None and claim.rule not in rules:
            hint = did_you_mean(claim.rule, rules)
            where = ("claims", i, "rule")
            message = f"unknown rule {claim.rule!r}{hint}; rules are ontology/rules/*.rq"
            problems.append(doc.located.problem(where, message))
    return problems


@dataclass
class DocumentCheck:
    """What checking one extraction file on its own found; small enough to keep between builds."""

    problems: list[Problem]
    coverage: list[SectionCoverage]
    claim_lines: dict[tuple[str, str], tuple[str, int]]
    unfound: list[Unfound]
    part_of: list[PartOf]
    source: SourceText | None = None  # not kept: read again when a quote is missing elsewhere


def check_document(
    doc: Document, corpus: Corpus, known: Collection[str] | None, rules: set[str]
) -> DocumentCheck:
    """Check one extraction file against the ids and rules of the project."""
    result = CheckResult()
    unfound: list[tuple[Document, tuple[str | int, ...], str, SourceText]] = []
    _check_document(doc, corpus, result, known, unfound)
    meta = doc.record.document
    missing = []
    for _doc, here, quote, _source in unfound:
        line, col = doc.located.where((*here, "quote"))
        missing.append(Unfound(meta.id, meta.text, doc.located.file, line, col, quote))
    return DocumentCheck(
        result.problems + _rule_problems(doc, rules),
        result.coverage,
        result.claim_lines,
        missing,
        part_of_edges(doc),
        result.sources.get(meta.id),
    )


def document_id_problems(
    docs: list[tuple[str, Problem]], entities: dict[str, Entity], registry_line: int
) -> list[Problem]:
    """Document ids used twice or also by an entity; docs are (id, where its id is written)."""
    counts = Counter(did for did, _ in docs)
    problems = []
    for did, at in docs:
        if did in entities:
            message = f"document id {did!r} is also an entity id in the registry (near line {registry_line})"
            problems.append(Problem(at.file, at.line, at.col, message))
        if counts[did] > 1:
            message = f"document id {did!r} is used by two files"
            problems.append(Problem(at.file, at.line, at.col, message))
    return problems


def known_ids(corpus: Corpus, entities: dict[str, Entity], doc_ids: set[str]) -> set[str] | None:
    """The ids references may name: entities and documents (None: they cannot be checked yet)."""
    known = set(entities) | doc_ids
    if corpus.registry is None:
        # The registry did not validate: resolve references against the ids it spells, so that
        # one bad entity does not turn every reference in every document into an error; if it
        # could not be read at all, references cannot be checked yet.
        located = corpus.registry_located
        return known | _spelt_ids(located.data) if located is not None else None
    return known


def check_corpus(corpus: Corpus) -> CheckResult:
    """Run every record-level check; return the problems and the quote coverage."""
    result = CheckResult(problems=list(corpus.problems))
    _check_registry(corpus, result)
    registry_line = (
        corpus.registry_located.where(("entities",))[0] if corpus.registry_located else 0
    )
    ids = [
        (d.record.document.id, d.located.problem(("document", "id"), "")) for d in corpus.documents
    ]
    result.problems += document_id_problems(ids, result.entities, registry_line)
    checkable = known_ids(corpus, result.entities, {did for did, _ in ids})
    rules = rule_names(corpus.root)
    unfound: list[Unfound] = []
    edges: list[PartOf] = []
    for doc in corpus.documents:
        found = check_document(doc, corpus, checkable, rules)
        result.problems += found.problems
        result.coverage += found.coverage
        result.claim_lines.update(found.claim_lines)
        if found.source is not None:
            result.sources[doc.record.document.id] = found.source
        unfound += found.unfound
        edges += found.part_of
    texts = {d.record.document.id: d.record.document.text for d in corpus.documents}
    result.problems += report_unfound(unfound, result.sources, texts)
    result.problems += part_of_cycles(edges)
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
            f"{doc}: answers {share:.0%} covered by quotes ({counted(len(secs), 'answer')})"
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
