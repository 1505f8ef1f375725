"""Commitments: what the government promised (modality planned), made conditional, or declined to
do (planned and negated), by whom, to whom, by when, and where each stands on a given day.

Status, relative to --as-of: 'declined'; 'done' when an affirmed, actual claim of the same relation
exists; 'overdue' when the promised period is over (a year only after its 31 December);
'due' when it is not; 'open' without a date; 'conditional' when it depends on something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from graph.reports.base import Column, Report, Section
from graph.reports.data import (
    Claim,
    claims,
    document_dates,
    iri,
    local,
    names_for,
    object_text,
    values,
)
from graph.store import Backend

PROMISE_MODALITIES = "VALUES ?modality { dkg:Planned dkg:Conditional }"


@dataclass
class Commitment:
    """A promise or refusal and where it stands."""

    claim: Claim
    status: str
    to: str | None

    @property
    def due(self) -> str:
        """The promised date as the source gives it."""
        return self.claim.when.show() if self.claim.when else ""


def _done(backend: Backend, found: list[Claim]) -> set[str]:
    """Promises that a later document reports as done: an affirmed, actual claim of the same
    relation, stated in a document dated after the one that made the promise."""
    pending = [c.iri for c in found if c.affirmed]
    if not pending:
        return set()
    table = backend.select(
        "SELECT DISTINCT ?claim ?doc WHERE { "
        + values("claim", map(iri, pending))
        + " ?claim rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ."
        " ?fact a dkg:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;"
        " dkg:polarity dkg:Affirmed ; dkg:modality dkg:Actual ; dkg:source ?doc . }"
    )
    dates = document_dates(backend)
    by_iri = {c.iri: c for c in found}
    done = set()
    for row in table.rows:
        if row["claim"] is None or row["doc"] is None:
            continue
        promise = by_iri[row["claim"].value]
        made = [dates[s.document] for s in promise.sources if s.document in dates]
        fact = dates.get(local(row["doc"].value))
        if fact is not None and made and all(fact.start > m.end for m in made):
            done.add(promise.iri)
    return done


def _addressees(backend: Backend, found: list[Claim]) -> dict[str, str]:
    """Whom each source document answers (a document's dkg:answers), by document IRI."""
    docs = {f"https://w3id.org/dkg/id/{s.document}" for c in found for s in c.sources}
    if not docs:
        return {}
    table = backend.select(
        "SELECT DISTINCT ?doc ?who WHERE { "
        + values("doc", map(iri, sorted(docs)))
        + " ?doc dkg:answers ?who }"
    )
    out: dict[str, str] = {}
    for r in sorted(table.rows, key=lambda r: (str(r["doc"]), str(r["who"]))):
        if r["doc"] is not None and r["who"] is not None:
            out.setdefault(r["doc"].value, r["who"].value)
    return out


def status_of(c: Claim, done: bool, as_of: date) -> str:
    """Where a promise stands on as_of."""
    if not c.affirmed:
        return "declined"
    if done:
        return "done"
    if c.modality == "conditional":
        return "conditional"
    if c.when is None:
        return "open"
    return "overdue" if c.when.passed(as_of) else "due"


def compute(backend: Backend, as_of: date) -> list[Commitment]:
    """Every planned or conditional claim, with its status on as_of."""
    found = claims(backend, "?claim dkg:modality ?modality . " + PROMISE_MODALITIES)
    done = _done(backend, found)
    to_doc = _addressees(backend, found)
    out = []
    for c in found:
        to: str | None
        if c.relation == "informs" and c.object_id:
            to = c.object_id
        else:
            docs = [f"https://w3id.org/dkg/id/{s.document}" for s in c.sources]
            to = next((to_doc[d] for d in docs if d in to_doc), None)
        out.append(Commitment(c, status_of(c, c.iri in done, as_of), to))
    out.sort(
        key=lambda m: (
            m.claim.when is None,
            m.claim.when.sort_key() if m.claim.when else (date.min, 0),
            m.claim.iri,
        )
    )
    return out


def report(backend: Backend, as_of: date, lang: str) -> Report:
    """The commitments report."""
    found = compute(backend, as_of)
    names = names_for(backend, [m.claim for m in found], lang, [m.to for m in found if m.to])
    rows = []
    for m in found:
        c = m.claim
        rows.append(
            {
                "by": names.get(c.subject, local(c.subject)),
                "by_id": local(c.subject),
                "kind": "declined"
                if not c.affirmed
                else "promised"
                if c.modality == "planned"
                else "conditional",
                "relation": c.relation,
                "object": object_id_or_text(c),
                "what": f"{names.get(c.predicate, c.relation)} {object_text(c, names)}",
                "to": names.get(m.to, local(m.to)) if m.to else None,
                "due": m.due or None,
                "status": m.status,
                "claim": c.iri,
                "sources": c.sources,
            }
        )
    columns = [
        Column("by", "by"),
        Column("by_id", "by (id)", table=False),
        Column("kind", "kind"),
        Column("what", "what"),
        Column("relation", "relation", table=False),
        Column("object", "object", table=False),
        Column("to", "to"),
        Column("due", "by when"),
        Column("status", "status"),
        Column("claim", "claim", table=False),
    ]
    note = f"Status as of {as_of.isoformat()}."
    section = Section("commitments", "Promised, conditional and declined", columns, rows, note=note)
    data = {
        "report": "commitments",
        "as_of": as_of.isoformat(),
        "commitments": [_json(r) for r in rows],
    }
    return Report(
        "commitments", "Commitments: what was promised, to whom, by when", [section], data
    )


def object_id_or_text(c: Claim) -> str:
    """The object as data: an entity id, or the literal's text."""
    return local(c.object_id) if c.object_id else c.object.value


def _json(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    out["sources"] = [s.as_json() for s in record["sources"]]
    return out
