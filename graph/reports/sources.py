"""Sources: per source document, what it is, how many claims it holds (and how many inferred claims
rest on it), which entities it speaks of, and how many of its answers the extraction covers.

Coverage here is counted in the graph: an answer is covered when at least one claim cites it. How
much of an answer's text the quotes cover, character by character, needs the source text, which is
not in the graph: `dkg check --coverage` measures that from extract/.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from graph import constants as C
from graph.reports.base import Column, Report, Section
from graph.reports.data import labels, local, natural
from graph.store import Backend

TOP = 8

_DOCS = """
SELECT DISTINCT ?doc ?p ?o WHERE {
  ?doc a dkg:SourceDocument ; ?p ?o .
  VALUES ?p { dkg:documentKind dcterms:date dkg:kamerstuk dkg:documentNumber dkg:answeredBy dkg:onBehalfOf dkg:text }
}
"""

_CLAIMS = """
SELECT ?doc ?standing (COUNT(DISTINCT ?c) AS ?n) WHERE {
  ?c a dkg:Claim ; dkg:source ?doc ; dkg:standing ?standing .
} GROUP BY ?doc ?standing
"""

_INFERRED = """
SELECT ?doc (COUNT(DISTINCT ?c) AS ?n) WHERE {
  ?c a dkg:Claim ; dkg:standing dkg:Inferred ; dkg:premise ?p . ?p dkg:source ?doc .
} GROUP BY ?doc
"""

_ENTITIES = """
SELECT ?doc ?e (COUNT(DISTINCT ?c) AS ?n) WHERE {
  ?c a dkg:Claim ; dkg:source ?doc .
  { ?c rdf:subject ?e } UNION { ?c rdf:object ?e }
  FILTER(isIRI(?e) && STRSTARTS(STR(?e), "%s") && ?e != ?doc)
} GROUP BY ?doc ?e
"""

_SECTIONS = """
SELECT ?doc ?loc ?kind (COUNT(DISTINCT ?c) AS ?n) WHERE {
  ?sec a dkg:Section ; dcterms:isPartOf ?doc ; dkg:locator ?loc ; dkg:sectionKind ?kind .
  OPTIONAL { ?c a dkg:Claim ; dkg:section ?sec }
} GROUP BY ?doc ?loc ?kind
"""


def report(backend: Backend, lang: str) -> Report:
    """The sources report."""
    meta: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    refs: set[str] = set()
    for row in backend.select(_DOCS).rows:
        d, p, o = row["doc"], row["p"], row["o"]
        if d is None or p is None or o is None:
            continue
        meta[d.value][p.value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]].append(o.value)
        if o.kind == "iri":
            refs.add(o.value)
    docs = sorted(meta)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in backend.select(_CLAIMS).rows:
        if row["doc"] is not None and row["standing"] is not None and row["n"] is not None:
            counts[row["doc"].value][local(row["standing"].value).lower()] += int(row["n"].value)
    inferred = {
        r["doc"].value: int(r["n"].value)
        for r in backend.select(_INFERRED).rows
        if r["doc"] and r["n"]
    }
    mentions: dict[str, Counter[str]] = defaultdict(Counter)
    for row in backend.select(_ENTITIES % C.ID).rows:
        d, ent, cnt = row["doc"], row["e"], row["n"]
        if (
            d is not None
            and ent is not None
            and cnt is not None
            and "/" not in ent.value[len(C.ID) :]
        ):
            mentions[d.value][ent.value] = int(cnt.value)
    sections: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for row in backend.select(_SECTIONS).rows:
        if row["doc"] is not None and row["loc"] is not None and row["kind"] is not None:
            n = int(row["n"].value) if row["n"] is not None else 0
            sections[row["doc"].value].append((row["loc"].value, row["kind"].value, n))
    names = labels(backend, [*docs, *refs, *(e for m in mentions.values() for e in m)], lang)

    doc_rows = []
    detail_rows = []
    cited_rows: list[dict[str, object]] = []
    for doc in docs:
        m = meta[doc]
        answers = sorted(
            (s for s in sections[doc] if s[1] == "answer"), key=lambda s: natural(s[0])
        )
        covered = [s for s in answers if s[2] > 0]
        ranked = sorted(
            mentions[doc].items(), key=lambda kv: (-kv[1], names.get(kv[0], "").lower())
        )
        doc_rows.append(
            {
                "id": local(doc),
                "title": names.get(doc, local(doc)),
                "kind": ", ".join(m.get("documentKind", [])),
                "date": ", ".join(m.get("date", [])),
                "kamerstuk": m.get("kamerstuk", []),
                "document_number": m.get("documentNumber", []),
                "answered_by": sorted(names.get(x, local(x)) for x in m.get("answeredBy", [])),
                "claims": sum(counts[doc].values()),
                "claims_by_standing": dict(sorted(counts[doc].items())),
                "inferred_from_it": inferred.get(doc, 0),
                "entities": len(ranked),
                "entity_ids": sorted(local(e) for e, _ in ranked),
                "answers": len(answers),
                "answers_covered": len(covered),
                "covered": f"{len(covered)} of {len(answers)}",
                "answers_uncovered": [s[0] for s in answers if s[2] == 0],
            }
        )
        for e, n in ranked[:TOP]:
            cited_rows.append(
                {
                    "document": local(doc),
                    "entity": names.get(e, local(e)),
                    "entity_id": local(e),
                    "claims": n,
                }
            )
        for loc, kind, n in sorted(sections[doc], key=lambda s: natural(s[0])):
            detail_rows.append(
                {
                    "document": local(doc),
                    "locator": loc,
                    "kind": kind,
                    "claims": n,
                }
            )

    def standing_text(v: dict[str, int]) -> str:
        return ", ".join(f"{n} {k}" for k, n in v.items())

    rep = Report(
        "sources",
        "Sources: what each document is and what the extraction takes from it",
        [
            Section(
                "documents",
                "Source documents",
                [
                    Column("id", "id"),
                    Column("title", "title"),
                    Column("kind", "kind", table=False),
                    Column("date", "date"),
                    Column("kamerstuk", "Kamerstuk", table=False),
                    Column("document_number", "document number", table=False),
                    Column("answered_by", "answered by", table=False),
                    Column("claims", "claims"),
                    Column("claims_by_standing", "by standing", show=standing_text),
                    Column("inferred_from_it", "inferred from it"),
                    Column("entities", "entities"),
                    Column("entity_ids", "entity ids", table=False),
                    Column("covered", "answers with claims"),
                    Column("answers_uncovered", "answers without claims", table=False),
                ],
                doc_rows,
                cites=False,
                note="answers with claims: answer sections at least one claim cites. How much of "
                "each answer's text the quotes cover: `dkg check --coverage`.",
            ),
            Section(
                "most_cited",
                f"Most cited entities (top {TOP} per document; the JSON lists all ids)",
                [
                    Column("document", "document"),
                    Column("entity", "entity"),
                    Column("entity_id", "entity id", table=False),
                    Column("claims", "claims"),
                ],
                cited_rows,
                cites=False,
                in_csv=False,
            ),
            Section(
                "uncovered",
                "Answers no claim cites",
                [
                    Column("document", "document"),
                    Column("locator", "section"),
                ],
                [r for r in detail_rows if r["kind"] == "answer" and r["claims"] == 0],
                cites=False,
                in_csv=False,
            ),
        ],
        notes=[
            f"{r['id']}: answers with claims: {r['answers_covered']} of {r['answers']}."
            for r in doc_rows
        ],
    )
    data = rep.as_json()
    data["sections"] = detail_rows  # every section with its number of claims
    rep.data = data
    return rep
