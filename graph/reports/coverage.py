"""The coverage matrix: every bottleneck (IDEA's knelpunten A-H and any other) against the actions,
instruments and policies that address it, each cell marked by its standing, with its sources.

A cell can rest on several claims: a source may say it (stated), a declared rule may derive it from
an action line (inferred, via that line), a curator may judge it (analyst). The cell shows the
strongest: stated, then inferred (it follows from stated claims by a declared rule), then analyst;
its sources are those of every claim, so nothing a reader could check is hidden.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from graph import constants as C
from graph.reports.base import Column, Report, Section, Source, unique_sources
from graph.reports.data import (
    INTERVENTION_TYPES,
    STANDING_RANK,
    Claim,
    claim_sources,
    iri,
    kind_of,
    labels_in,
    local,
    natural,
    notations,
    types,
    values,
)
from graph.store import Backend

IDEA_SCHEME = C.ID + "idea-knelpunten"


@dataclass
class LineMapping:
    """A bottleneck's action line, primary or secondary, with the sources that say so."""

    line: str
    primary: bool
    sources: list[Source]


@dataclass(frozen=True)
class Cell:
    """Whether and how one intervention addresses one bottleneck: the strongest standing among its
    claims, the action line an inferred cell goes via, and the sources of every claim."""

    bottleneck: str
    intervention: str
    standing: str
    via: str | None
    sources: list[Source]

    @classmethod
    def of(cls, bottleneck: str, intervention: str, claims: list[Claim]) -> Cell:
        """The cell of some claims of 'intervention addresses bottleneck'."""
        standing = min((c.standing for c in claims), key=lambda s: STANDING_RANK.get(s, 9))
        via = None
        if standing == "inferred":  # the primary line first
            inferred = [c for c in claims if c.standing == "inferred" and c.via]
            inferred.sort(key=lambda c: (not c.via_primary, natural(local(c.via))))
            via = inferred[0].via if inferred else None
        sources = unique_sources([s for c in claims for s in c.sources])
        return cls(bottleneck, intervention, standing, via, sources)


@dataclass
class Coverage:
    """Bottlenecks, their action lines, and the cells of the matrix."""

    bottlenecks: list[str]
    notation: dict[str, str]
    lines: dict[str, list[LineMapping]]
    cells: dict[tuple[str, str], Cell]
    interventions: list[str]
    kinds: dict[str, str]
    labels: dict[str, str]
    line_notation: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    @cached_property
    def _rows(self) -> dict[str, list[Cell]]:
        rows: dict[str, list[Cell]] = defaultdict(list)
        for (b, _), c in self.cells.items():
            rows[b].append(c)
        for cells in rows.values():
            cells.sort(key=self._order)
        return rows

    def _order(self, c: Cell) -> tuple[int, str, str]:
        name = self.labels.get(c.intervention, local(c.intervention))
        return STANDING_RANK.get(c.standing, 9), name.lower(), c.intervention

    def row(self, bottleneck: str) -> list[Cell]:
        """The cells of one bottleneck, strongest standing first, then by label."""
        return list(self._rows.get(bottleneck, []))

    def column(self, intervention: str) -> list[Cell]:
        """The cells of one intervention, in bottleneck order."""
        order = {b: i for i, b in enumerate(self.bottlenecks)}
        cells = [c for (_, i), c in self.cells.items() if i == intervention]
        return sorted(cells, key=lambda c: order.get(c.bottleneck, len(order)))

    def code(self, bottleneck: str) -> str:
        """A bottleneck's short code: its notation (A-H), else X1, X2... in matrix order."""
        return self.codes.get(bottleneck) or local(bottleneck)

    def line_code(self, line: str | None) -> str:
        """An action line's number, else its id."""
        if line is None:
            return ""
        return self.line_notation.get(line) or local(line)


def _scan(pattern: str, whole: bool) -> str:
    """A pattern, in its own sub-select when whole: evaluated once and joined by hash, where a plain
    join looks up every claim one by one (about 15 us a lookup on the embedded store)."""
    return f"{{ SELECT * WHERE {{ {pattern} }} }} " if whole else f"{{ {pattern} }} "


def _claim_rows(
    backend: Backend,
    relations: list[str],
    quotes: bool,
    actual: bool = True,
    focus: list[str] | None = None,
    subjects: list[str] | None = None,
    pairs: list[tuple[str, str]] | None = None,
) -> list[Claim]:
    """Affirmed claims of some relations (actual ones only, when actual), one per distinct
    (subject, relation, object, standing, via, source, locator, quote), with their sources;
    only those whose subject or object is in focus, whose subject is in subjects, or whose
    (object, subject) is in pairs, when given.

    A claim's IRI is fetched only when it has no source of its own (decoding 100,000 IRIs costs a
    second on the embedded store), so a source cited by two stated claims of one cell comes back
    once. When the claims are many, every property is scanned once and joined by hash; when they
    are few (or focus or subjects narrow them), they are looked up claim by claim.
    """
    pick = "?claim rdf:predicate ?p . " + values("p", (iri(C.ONTOLOGY + r) for r in relations))
    narrow = focus is not None or subjects is not None or pairs is not None
    whole = not narrow and _many(backend, pick)
    where = ""
    if pairs is not None:
        rows = " ".join(f"({iri(i).n3()} {iri(b).n3()})" for b, i in sorted(set(pairs)))
        where += f"VALUES (?s ?o) {{ {rows} }} ?claim rdf:subject ?s . "
    if focus is not None:
        where += (
            values("focus", map(iri, sorted(set(focus))))
            + " { ?claim rdf:subject ?focus } UNION { ?claim rdf:object ?focus } "
        )
    if subjects is not None:
        where += values("s", map(iri, sorted(set(subjects)))) + " ?claim rdf:subject ?s . "
    if narrow:  # a VALUES joined to claims looked up one by one reads them all (RocksDB: 1 s)
        pick = (
            "?claim rdf:predicate ?p FILTER(?p IN ("
            + ", ".join(iri(C.ONTOLOGY + r).n3() for r in relations)
            + "))"
        )
    where += _scan(pick, whole) + _scan("?claim dkg:polarity dkg:Affirmed", whole)
    if actual:
        where += _scan("?claim dkg:modality dkg:Actual", whole)
    if subjects is None and pairs is None:
        where += _scan("?claim rdf:subject ?s", whole)
    where += _scan("?claim rdf:object ?o", whole) + _scan("?claim dkg:standing ?standing", whole)
    where += "OPTIONAL " + _scan(
        "?claim dkg:via ?via OPTIONAL { ?claim dkg:viaPrimary ?vp }", whole
    )
    where += "OPTIONAL " + _scan("?claim dkg:source ?doc", whole)
    where += "OPTIONAL " + _scan("?claim dkg:locator ?loc", whole)
    if quotes:
        where += "OPTIONAL " + _scan("?claim dkg:quote ?quote", whole)
    # no DISTINCT: on the embedded store it costs more than the query (rows are merged below)
    table = backend.select(
        "SELECT ?s ?p ?o ?standing ?via ?vp ?doc ?loc ?node"
        + (" ?quote" if quotes else "")
        + " WHERE { "
        + where
        + 'BIND(IF(BOUND(?doc) && BOUND(?loc), "", ?claim) AS ?node) }'
    )
    found: dict[tuple[object, ...], Claim] = {}
    for row in table.rows:
        s, p, o, standing, node = row["s"], row["p"], row["o"], row["standing"], row["node"]
        if s is None or p is None or o is None:
            continue
        via, vp = row["via"], row["vp"]
        claim_iri = node.value if node is not None and node.kind == "iri" else ""
        key = (claim_iri, s.value, p.value, o, standing, via, vp)
        c = found.get(key)
        if c is None:
            c = found[key] = Claim(
                iri=claim_iri,
                subject=s.value,
                predicate=p.value,
                object=o,
                standing=local(standing.value).lower() if standing else "stated",
                polarity="affirmed",
                modality="actual" if actual else "",
                via=via.value if via else None,
                via_primary=(vp.value == "true") if vp is not None else None,
            )
        doc, loc, quote = row["doc"], row["loc"], row.get("quote")
        if doc is not None and loc is not None:
            c.sources.append(Source(local(doc.value), loc.value, quote.value if quote else None))
    return sorted(found.values(), key=lambda c: (c.subject, c.object.value, c.iri, c.standing))


def _many(backend: Backend, pick: str) -> bool:
    """Whether a pattern picks so many claims that scanning each property whole is cheaper than
    looking the claims up one by one (a scan reads every claim, a lookup costs ten times more)."""
    row = backend.select(
        "SELECT ?n ?all WHERE { { SELECT (COUNT(*) AS ?n) WHERE { "
        + pick
        + " } } { SELECT (COUNT(*) AS ?all) WHERE { ?claim rdf:predicate ?any } } }"
    ).rows[0]
    n, total = row["n"], row["all"]
    return n is not None and total is not None and int(n.value) * 10 > int(total.value)


def _premise_sources(backend: Backend, found: list[Claim], quotes: bool) -> None:
    """Sources of claims that have none of their own and are not inferred via an action line:
    those of the premises they rest on (dkg:premise, followed to any depth)."""
    pending = [c for c in found if c.iri and not (c.standing == "inferred" and c.via is not None)]
    if not pending:
        return
    walked = claim_sources(backend, (c.iri for c in pending))
    for c in pending:
        c.sources += [s if quotes else Source(s.document, s.locator) for s in walked.get(c.iri, [])]


def _cite(
    found: list[Claim],
    mappings: dict[tuple[str, str], list[Claim]],
    in_line: dict[tuple[str, str], list[Source]],
) -> None:
    """Give each claim inferred via an action line its sources.

    Such a claim rests on two kinds of premise (ontology/rules/action-line-coverage.rq): the
    intervention is in the line, and the bottleneck is mapped to it. Their sources are gathered
    once per (intervention, line) and (bottleneck, line) instead of walking dkg:premise from every
    derived claim, which on a large graph repeats the same few hundred premises for every cell.
    """
    for c in found:
        if c.standing == "inferred" and c.via:
            mapped = [s for m in mappings.get((c.object.value, c.via), []) for s in m.sources]
            c.sources = unique_sources(in_line.get((c.subject, c.via), []) + mapped)
        else:
            c.sources = unique_sources(c.sources)


@dataclass
class Facts:
    """What the matrix is made of, before a language, a focus or quotes are chosen.

    A build stores them for the whole graph (VIEW, in the snapshot), so that the report does not
    join every 'addresses' claim again: at 100,000 claims that takes ten seconds, reading the
    stored facts a fraction of one.
    """

    scheme: dict[str, str]  # bottleneck -> its concept scheme ("" if none)
    notation: dict[str, str]
    lines: dict[str, list[LineMapping]]
    cells: dict[tuple[str, str], Cell]
    kinds: dict[str, str]
    line_notation: dict[str, str]
    labels: dict[str, dict[str, str]]  # language -> IRI -> label

    def to_json(self) -> bytes:
        """The facts as compact JSON, every source written once and referred to by number."""
        pool: dict[Source, int] = {}

        def refs(sources: list[Source]) -> list[int]:
            return [pool.setdefault(s, len(pool)) for s in sources]

        cells = [
            [c.bottleneck, c.intervention, c.standing, c.via, refs(c.sources)]
            for _, c in sorted(self.cells.items())
        ]
        lines = {
            b: [[m.line, m.primary, refs(m.sources)] for m in ms]
            for b, ms in sorted(self.lines.items())
        }
        doc = {
            "code": view_code(),
            "scheme": self.scheme,
            "notation": self.notation,
            "line_notation": self.line_notation,
            "kinds": self.kinds,
            "labels": self.labels,
            "lines": lines,
            "cells": cells,
            "sources": [[s.document, s.locator, s.quote] for s in pool],
        }
        import orjson

        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)  # what json.dumps writes, compact

    @classmethod
    def from_json(cls, data: bytes) -> Facts | None:
        """Facts stored by a build; None if another version of this code wrote them."""
        import orjson

        doc = orjson.loads(data)
        if doc.get("code") != view_code():
            return None
        sources = [Source(d, loc, q) for d, loc, q in doc["sources"]]
        return cls(
            scheme=doc["scheme"],
            notation=doc["notation"],
            lines={
                b: [
                    LineMapping(line, primary, [sources[i] for i in refs])
                    for line, primary, refs in ms
                ]
                for b, ms in doc["lines"].items()
            },
            cells={
                (b, i): Cell(b, i, standing, via, [sources[k] for k in refs])
                for b, i, standing, via, refs in doc["cells"]
            },
            kinds=doc["kinds"],
            line_notation=doc["line_notation"],
            labels=doc["labels"],
        )


VIEW = "coverage.json"  # the file of a build snapshot that holds Facts.to_json() of its graph
LANGS = ["en", "nl"]


def written_here(data: bytes) -> bool:
    """Whether stored facts say this code wrote them, found without reading them (10 MB at 100,000
    claims, on a rebuild's longest path): the top-level "code" is the only key of that name (the
    keys below it are IRIs and languages). Damaged facts may pass: Facts.from_json finds out."""
    return f'"code":"{view_code()}"'.encode() in data


def is_current(data: bytes) -> bool:
    """Whether stored facts were written by this code (else they are computed again)."""
    import orjson

    try:
        return bool(orjson.loads(data).get("code") == view_code())
    except (ValueError, AttributeError):
        return False


def view_code() -> str:
    """What decides the stored facts' form and meaning: the code of the reports that read them."""
    import hashlib

    folder = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("coverage.py", "data.py", "base.py"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:16]


ADDRESSES = "addresses"  # intervention addresses bottleneck: the cells
IN_LINE = "inActionLine"  # intervention in action line: a premise of inferred cells
MAPPINGS = ("primaryActionLine", "secondaryActionLine")  # bottleneck mapped to action line


def cited_claims(
    backend: Backend,
    focus: list[str] | None = None,
    quotes: bool = True,
    pairs: list[tuple[str, str]] | None = None,
) -> tuple[list[Claim], dict[tuple[str, str], list[Claim]]]:
    """The affirmed, actual 'addresses' claims (only those whose subject or object is in focus,
    or only the cells (bottleneck, intervention) in pairs, when given), and the claims mapping
    each (bottleneck, action line), each with its sources."""
    mappings = _claim_rows(backend, list(MAPPINGS), quotes, actual=False)
    _premise_sources(backend, mappings, quotes)
    by_pair: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for m in mappings:
        by_pair[(m.subject, m.object.value)].append(m)
    if pairs is not None and not pairs:
        return [], by_pair
    found = _claim_rows(backend, [ADDRESSES], quotes, focus=focus, pairs=pairs)
    _premise_sources(backend, found, quotes)
    in_line: dict[tuple[str, str], list[Source]] = defaultdict(list)
    derived = sorted({c.subject for c in found if c.standing == "inferred" and c.via})
    if derived:
        narrow = focus is not None or pairs is not None
        members = _claim_rows(backend, [IN_LINE], quotes, subjects=derived if narrow else None)
        _premise_sources(backend, members, quotes)
        for c in members:
            in_line[(c.subject, c.object.value)] += c.sources
    _cite(found, by_pair, in_line)
    return found, by_pair


def facts(
    backend: Backend, langs: list[str], focus: list[str] | None = None, quotes: bool = True
) -> Facts:
    """Query the bottlenecks, their action lines, the cells (see cited_claims) and the labels."""
    scheme, notation = _bottlenecks(backend)
    found, by_pair = cited_claims(backend, focus, quotes)
    cells = _cells(found)
    lines = _line_mappings(by_pair)
    every_line = _every_line(lines, cells)
    interventions = sorted({i for _, i in cells})
    kinds = {i: kind_of(t) for i, t in types(backend, interventions).items()}
    line_notation = _line_notations(backend, lines, every_line)
    names = labels_in(backend, [*scheme, *interventions, *every_line], langs)
    return Facts(scheme, notation, lines, cells, kinds, line_notation, names)


def _bottlenecks(backend: Backend) -> tuple[dict[str, str], dict[str, str]]:
    """Every bottleneck's concept scheme ("" if none) and notation (if it has one)."""
    table = backend.select(
        "SELECT DISTINCT ?b ?scheme ?notation WHERE { ?b a dkg:Bottleneck ."
        " OPTIONAL { ?b skos:inScheme ?scheme } OPTIONAL { ?b skos:notation ?notation } }"
    )
    scheme: dict[str, str] = {}
    notation: dict[str, str] = {}
    for row in table.rows:
        b = row["b"]
        if b is None:
            continue
        scheme.setdefault(b.value, row["scheme"].value if row["scheme"] else "")
        if row["notation"] is not None:
            notation[b.value] = row["notation"].value
    return scheme, notation


def _cells(found: list[Claim]) -> dict[tuple[str, str], Cell]:
    """The cells of some 'addresses' claims, by (bottleneck, intervention)."""
    cell_claims: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for c in found:
        cell_claims[(c.object.value, c.subject)].append(c)
    return {k: Cell.of(k[0], k[1], v) for k, v in cell_claims.items()}


def _line_mappings(by_pair: dict[tuple[str, str], list[Claim]]) -> dict[str, list[LineMapping]]:
    """Each bottleneck's action lines, with the sources of the claims that map it to them."""
    lines: dict[str, list[LineMapping]] = defaultdict(list)
    for (bottleneck, line), stated in by_pair.items():
        primary = any(m.relation == "primaryActionLine" for m in stated)
        sources = unique_sources([s for m in stated for s in m.sources])
        lines[bottleneck].append(LineMapping(line, primary, sources))
    return dict(lines)


def _every_line(
    lines: dict[str, list[LineMapping]], cells: dict[tuple[str, str], Cell]
) -> set[str]:
    """The action lines the matrix names: those mapped to bottlenecks and those its inferred
    cells go via (the line a cell shows; not every line its other claims go via)."""
    return {m.line for ms in lines.values() for m in ms} | {c.via for c in cells.values() if c.via}


def _line_notations(
    backend: Backend, lines: dict[str, list[LineMapping]], every_line: set[str]
) -> dict[str, str]:
    """The action lines' numbers; each bottleneck's lines put in order by them, primary first."""
    line_notation = notations(backend, every_line)
    for ms in lines.values():
        ms.sort(key=lambda m: (not m.primary, natural(line_notation.get(m.line, local(m.line)))))
    return line_notation


# What the facts read of the things they name, beside the claims: their types, labels and codes.
_DESCRIBING = [
    C.PREFIXES[prefix] + name
    for prefix, name in (
        ("rdf", "type"),
        ("rdfs", "label"),
        ("skos", "prefLabel"),
        ("skos", "notation"),
        ("skos", "inScheme"),
    )
]


@dataclass
class Edit:
    """What an edit can change of the facts (see edit_of)."""

    cells: set[tuple[str, str]]  # (bottleneck, intervention)
    described: set[str]  # the things it gives or takes a type, label or code


def edit_of(backend: Backend, graph: str) -> Edit:
    """The cells (bottleneck, intervention) an edit can change, and what it describes anew; asked
    while its added and removed quads are in a named graph of their own beside the new graphs (as
    in graph.rebuild.kept_inferred).

    A cell is made of the 'addresses' claims of its pair, the sources of their premises (followed
    to any depth), and, for a claim inferred via an action line, the sources of the claims that
    put its intervention in that line and map its bottleneck to it. So the cells an edit can
    change are those of a claim whose quads changed or that rests on one, in either version (the
    graph of changes holds the old quads, the store the new ones), and those inferred via a line
    such a claim is about. What else the facts read (the bottlenecks, the mappings, the action
    lines' numbers) is read again whole, but the types and labels of what the old facts name are
    kept (see updated).
    """
    described = backend.select(
        f"SELECT DISTINCT ?x WHERE {{ GRAPH <{graph}> {{ ?x ?p ?y }} "
        + values("p", map(iri, _DESCRIBING))
        + " }"
    )
    # three steps, each joined to the last by its values: the engine looks them up one by one,
    # where one query would read every claim of the store (seconds on RocksDB)
    touched = backend.select(f"SELECT DISTINCT ?t WHERE {{ GRAPH <{graph}> {{ ?t ?x ?y }} }}")
    nodes = sorted({r["t"].value for r in touched.rows if r["t"] is not None})
    resting = backend.select(
        "SELECT DISTINCT ?c WHERE { " + values("t", map(iri, nodes)) + " ?c dkg:premise* ?t }"
    )
    claims = backend.select(
        "SELECT DISTINCT ?p ?s ?o WHERE { "
        + values("c", map(iri, sorted({r["c"].value for r in resting.rows if r["c"]})))
        + " ?c rdf:predicate ?p ; rdf:subject ?s ; rdf:object ?o }"
    )
    cells: set[tuple[str, str]] = set()
    via: dict[str, set[tuple[str, str]]] = {"subject": set(), "object": set()}
    for row in claims.rows:
        p, s, o = row["p"], row["s"], row["o"]
        if p is None or s is None or o is None or s.kind != "iri" or o.kind != "iri":
            continue
        relation = p.value.removeprefix(C.ONTOLOGY)
        if relation == ADDRESSES:
            cells.add((o.value, s.value))
        elif relation == IN_LINE:  # (intervention, line)
            via["subject"].add((s.value, o.value))
        elif relation in MAPPINGS:  # (bottleneck, line)
            via["object"].add((s.value, o.value))
    for end, pairs in via.items():
        if not pairs:
            continue
        rows = " ".join(f"({iri(x).n3()} {iri(line).n3()})" for x, line in sorted(pairs))
        table = backend.select(
            f"SELECT DISTINCT ?b ?i WHERE {{ VALUES (?x ?line) {{ {rows} }} ?d dkg:via ?line ; "
            f"rdf:{end} ?x ; rdf:subject ?i ; rdf:object ?b }}"
        )
        cells |= {(r["b"].value, r["i"].value) for r in table.rows if r["b"] and r["i"]}
    return Edit(cells, {r["x"].value for r in described.rows if r["x"] is not None})


def updated(old: Facts, backend: Backend, edit: Edit, langs: list[str]) -> Facts:
    """The facts of the new graph, from those of the old one and what an edit can change (see
    edit_of): its cells are queried again, the rest kept. What the facts read beyond the cells is
    read again whole, but the types and labels of what the old facts name: those are kept, except
    for the things the edit describes anew (a new label for a bottleneck, say), read again."""
    stale = edit.described
    scheme, notation = _bottlenecks(backend)
    found, by_pair = cited_claims(backend, pairs=sorted(edit.cells))
    cells = {k: c for k, c in old.cells.items() if k not in edit.cells} | _cells(found)
    cells = dict(sorted(cells.items()))
    lines = _line_mappings(by_pair)
    every_line = _every_line(lines, cells)
    interventions = sorted({i for _, i in cells})
    kept = {i for i in interventions if i in old.kinds and i not in stale}
    kinds = {i: old.kinds[i] for i in interventions if i in kept}
    kinds |= {
        i: kind_of(t)
        for i, t in types(backend, [i for i in interventions if i not in kept]).items()
    }
    line_notation = _line_notations(backend, lines, every_line)
    wanted = [x for x in {*scheme, *interventions, *every_line} if x]
    labelled = old.labels.get(langs[0], {})
    fresh = labels_in(backend, [x for x in wanted if x not in labelled or x in stale], langs)
    names: dict[str, dict[str, str]] = {}
    for lang in langs:
        known = old.labels.get(lang, {})
        names[lang] = {x: fresh[lang][x] if x in fresh[lang] else known[x] for x in wanted}
    return Facts(scheme, notation, lines, cells, kinds, line_notation, names)


def assemble(
    facts: Facts, lang: str, focus: list[str] | None = None, quotes: bool = True
) -> Coverage:
    """The matrix in one language, of the cells whose bottleneck or intervention is in focus (all
    when focus is None), with or without the quotes of the sources."""
    cells = facts.cells
    lines = facts.lines
    if focus is not None:
        wanted = set(focus)
        cells = {k: c for k, c in cells.items() if k[0] in wanted or k[1] in wanted}
    if not quotes:

        def bare(sources: list[Source]) -> list[Source]:
            return unique_sources([Source(s.document, s.locator) for s in sources])

        cells = {k: replace(c, sources=bare(c.sources)) for k, c in cells.items()}
        lines = {b: [replace(m, sources=bare(m.sources)) for m in ms] for b, ms in lines.items()}
    names = facts.labels.get(lang, {})
    interventions = {i for _, i in cells}
    kinds = {i: k for i, k in facts.kinds.items() if i in interventions}
    scheme, notation = facts.scheme, facts.notation

    def order(b: str) -> tuple[object, ...]:
        s = scheme.get(b, "")
        return (
            s != IDEA_SCHEME,
            s,
            notation.get(b) is None,
            natural(notation.get(b, "")),
            local(b),
        )

    def by_kind(i: str) -> tuple[object, ...]:
        k = kinds.get(i, "")
        rank = INTERVENTION_TYPES.index(k) if k in INTERVENTION_TYPES else len(INTERVENTION_TYPES)
        return (rank, names.get(i, local(i)).lower(), i)

    ordered = sorted(set(scheme) | {b for b, _ in cells} | set(lines), key=order)
    return Coverage(
        bottlenecks=ordered,
        codes=short_codes(ordered, notation),
        notation=notation,
        lines=lines,
        cells=cells,
        interventions=sorted(interventions, key=by_kind),
        kinds=kinds,
        labels=names,
        line_notation=facts.line_notation,
    )


def compute(
    backend: Backend,
    lang: str,
    focus: list[str] | None = None,
    quotes: bool = True,
    stored: bool = True,
) -> Coverage:
    """The coverage matrix of the graph (see assemble): from the facts the build stored beside the
    embedded store when there are any and stored is true, else queried from the backend."""
    if stored:
        data = backend.view(VIEW)
        found = Facts.from_json(data) if data is not None else None
        if found is not None:
            return assemble(found, lang, focus, quotes)
    return assemble(facts(backend, [lang], focus, quotes), lang, focus, quotes)


def short_codes(bottlenecks: list[str], notation: dict[str, str]) -> dict[str, str]:
    """Matrix headers: a bottleneck's notation when it is unique, else X1, X2, ..."""
    seen = [notation[b] for b in bottlenecks if b in notation]
    codes = {}
    n = 0
    for b in bottlenecks:
        mark = notation.get(b)
        if mark and seen.count(mark) == 1 and len(mark) <= 3:
            codes[b] = mark
        else:
            n += 1
            codes[b] = f"X{n}"
    return codes


def as_json(cov: Coverage) -> list[dict[str, object]]:
    """The stable JSON contract of `dkg report coverage --format json`."""
    out: list[dict[str, object]] = []
    # stored facts share one Source object between all the cells it cites: convert each once
    written: dict[int, dict[str, str | None]] = {}

    def cited(s: Source) -> dict[str, str | None]:
        found = written.get(id(s))
        if found is None:
            found = written[id(s)] = s.as_json()
        return found

    for b in cov.bottlenecks:
        out.append(
            {
                "bottleneck": {"id": local(b), "label": cov.labels.get(b, local(b))},
                "action_lines": [
                    {
                        "id": local(m.line),
                        "label": cov.labels.get(m.line, local(m.line)),
                        "primary": m.primary,
                    }
                    for m in cov.lines.get(b, [])
                ],
                "actions": [
                    {
                        "id": local(c.intervention),
                        "label": cov.labels.get(c.intervention, local(c.intervention)),
                        "standing": c.standing,
                        "via": local(c.via) if c.via else None,
                        "sources": [cited(s) for s in c.sources],
                    }
                    for c in cov.row(b)
                ],
            }
        )
    return out


def mark(cov: Coverage, cell: Cell | None) -> str:
    """A matrix cell: S (stated), ~N (inferred via action line N), A (analyst), or empty."""
    if cell is None:
        return ""
    standing = cell.standing
    if standing == "stated":
        return "S"
    if standing == "inferred":
        return f"~{cov.line_code(cell.via)}"
    return "A"


LEGEND = "S = stated by a source; ~N = inferred via action line N; A = an analyst's judgement"


def report(cov: Coverage) -> Report:
    """The coverage report: action lines per bottleneck, the matrix, and every cell with sources."""
    name = cov.labels.get
    line_rows = []
    for b in cov.bottlenecks:
        ms = cov.lines.get(b, [])
        line_rows.append(
            {
                "code": cov.code(b),
                "bottleneck": name(b, local(b)),
                "primary": [
                    f"{cov.line_code(m.line)} {name(m.line, '')}".strip() for m in ms if m.primary
                ],
                "secondary": [
                    f"{cov.line_code(m.line)} {name(m.line, '')}".strip()
                    for m in ms
                    if not m.primary
                ],
                "sources": unique_sources([s for m in ms for s in m.sources]),
            }
        )
    codes = [cov.code(b) for b in cov.bottlenecks]
    matrix_cols = [Column("intervention", "intervention"), Column("type", "type")]
    matrix_cols += [Column(f"_{i}", code) for i, code in enumerate(codes)]
    matrix = []
    for i in cov.interventions:
        rec: dict[str, object] = {"intervention": name(i, local(i)), "type": cov.kinds.get(i, "")}
        for k, b in enumerate(cov.bottlenecks):
            rec[f"_{k}"] = mark(cov, cov.cells.get((b, i)))
        matrix.append(rec)
    cell_rows = []
    for b in cov.bottlenecks:
        by_label = sorted(
            cov.row(b),
            key=lambda c: (
                STANDING_RANK.get(c.standing, 9),
                name(c.intervention, local(c.intervention)).lower(),
            ),
        )
        for c in by_label:
            cell_rows.append(
                {
                    "code": cov.code(b),
                    "bottleneck": local(b),
                    "intervention": name(c.intervention, local(c.intervention)),
                    "intervention_id": local(c.intervention),
                    "standing": c.standing,
                    "via": local(c.via) if c.via else None,
                    "via_line": cov.line_code(c.via),
                    "sources": c.sources,
                }
            )
    unaddressed = [cov.code(b) for b in cov.bottlenecks if not cov.row(b)]
    notes = []
    if unaddressed:
        notes.append(
            f"No intervention addresses: {', '.join(unaddressed)} (see `dkg report gaps`)."
        )
    sections = [
        Section(
            "action_lines",
            "Bottlenecks and their action lines",
            [
                Column("code", "code"),
                Column("bottleneck", "bottleneck"),
                Column("primary", "primary action line"),
                Column("secondary", "also touches"),
            ],
            line_rows,
            in_csv=False,
        ),
        Section(
            "matrix", "Coverage matrix", matrix_cols, matrix, note=LEGEND, cites=False, in_csv=False
        ),
        Section(
            "cells",
            "Who addresses what, according to whom",
            [
                Column("code", "code"),
                Column("bottleneck", "bottleneck", table=False),
                Column("intervention_id", "intervention id", table=False),
                Column("intervention", "intervention"),
                Column("standing", "standing"),
                Column("via", "via", table=False),
                Column("via_line", "via line", csv=False),
            ],
            cell_rows,
        ),
    ]
    return Report(
        "coverage",
        "Coverage: bottlenecks against actions and instruments",
        sections,
        lambda: as_json(cov),
        notes,
    )
