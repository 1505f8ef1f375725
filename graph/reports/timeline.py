"""The timeline: every dated thing in order, with the precision of its date.

Dates come from claims (a date as object, such as a start date, or the date a claim holds or is due,
dkg:when), from the source documents (their date), and from the registry (events and documents with
a date). A date keeps its precision: '2026' is a year, '2025-03' a month, with a qualifier such as
'end of'. Things sort by the start of their period, the finer date first.
"""

from __future__ import annotations

from graph.reports.base import Column, Report, Section, Source
from graph.reports.data import (
    When,
    claims,
    labels,
    local,
    names_for,
    object_text,
    qualifiers,
    when_of,
)
from graph.store import Backend

_DATED = (
    "{ ?claim dkg:when ?date } UNION { ?claim rdf:object ?date ."
    " FILTER(isLiteral(?date) && DATATYPE(?date) IN (xsd:date, xsd:gYear, xsd:gYearMonth)) }"
)

_REGISTRY = """
SELECT DISTINCT ?x ?date ?doc WHERE {
  { ?x dkg:eventDate ?date FILTER NOT EXISTS { ?x a dkg:Claim } BIND(false AS ?doc) }
  UNION { ?x a dkg:SourceDocument ; dcterms:date ?date BIND(true AS ?doc) }
}
"""


def report(backend: Backend, lang: str) -> Report:
    """The timeline report."""
    found = claims(backend, _DATED)
    names = names_for(backend, found, lang)
    items: list[tuple[When, dict[str, object]]] = []
    for c in found:
        about = names.get(c.subject, local(c.subject))
        relation = names.get(c.predicate, c.relation)
        if c.object_date is not None:
            items.append(
                (
                    c.object_date,
                    {
                        "what": f"{about}: {relation}",
                        "kind": "claim",
                        "qualifiers": qualifiers(c, with_when=False),
                        "standing": c.standing,
                        "claim": c.iri,
                        "sources": c.sources,
                    },
                )
            )
        if c.when is not None:
            items.append(
                (
                    c.when,
                    {
                        "what": f"{about} — {relation} — {object_text(c, names)}",
                        "kind": "due" if c.modality != "actual" else "holds",
                        "qualifiers": qualifiers(c, with_when=False),
                        "standing": c.standing,
                        "claim": c.iri,
                        "sources": c.sources,
                    },
                )
            )
    stated = {(c.subject, c.object_date.text) for c in found if c.object_date is not None}
    table = backend.select(_REGISTRY)
    things = {r["x"].value for r in table.rows if r["x"] is not None}
    thing_names = labels(backend, things, lang)
    for row in table.rows:
        x, date_term, doc = row["x"], row["date"], row["doc"]
        when = when_of(date_term)
        if x is None or when is None:
            continue
        is_source = doc is not None and doc.value == "true"
        if not is_source and (x.value, when.text) in stated:
            continue  # a claim gives the same date, with its source
        items.append(
            (
                when,
                {
                    "what": thing_names.get(x.value, local(x.value)),
                    "kind": "source document" if is_source else "registry",
                    "qualifiers": "",
                    "standing": "stated" if is_source else "",
                    "claim": None,
                    "sources": [Source(local(x.value), "")] if is_source else [],
                },
            )
        )
    items.sort(
        key=lambda item: (*item[0].sort_key(), str(item[1]["what"]).lower(), str(item[1]["claim"]))
    )
    rows = [
        {
            "date": w.show(),
            "precision": w.precision,
            "start": w.start.isoformat(),
            "end": w.end.isoformat(),
            **rec,
        }
        for w, rec in items
    ]
    section = Section(
        "events",
        "Timeline",
        [
            Column("date", "date"),
            Column("precision", "precision"),
            Column("start", "start", table=False),
            Column("end", "end", table=False),
            Column("what", "what"),
            Column("kind", "kind"),
            Column("qualifiers", "qualifiers"),
            Column("standing", "standing", table=False),
            Column("claim", "claim", table=False),
        ],
        rows,
        note="kind: claim (a dated fact), due/holds (when a claim is due or holds), source document, "
        "registry (a date in the entity registry, no source document).",
    )
    return Report("timeline", "Timeline: dated events and claims", [section])
