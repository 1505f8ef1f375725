"""The dkg ontology as a closed Python namespace: a misspelt term fails instead of minting an IRI.

ontology/dkg.ttl is the source of truth; tests/test_ontology.py fails if this file and it differ.
"""

from __future__ import annotations

import inspect
from typing import Any

from graph.constants import ONTOLOGY

# Entity types curators may write in extract/entities.yaml (classes of the ontology).
ENTITY_TYPES: tuple[str, ...] = (
    "GovernmentBody",
    "Company",
    "Association",
    "Organisation",
    "Platform",
    "Person",
    "Country",
    "Action",
    "Instrument",
    "Policy",
    "Project",
    "ConceptScheme",
    "Bottleneck",
    "ActionLine",
    "Topic",
    "Document",
    "Event",
)

# Relations curators may use in claims, with the kind of object each takes.
RELATIONS: dict[str, str] = {
    "addresses": "object",
    "inActionLine": "object",
    "primaryActionLine": "object",
    "secondaryActionLine": "object",
    "partOf": "object",
    "leads": "object",
    "participatesIn": "object",
    "consults": "object",
    "cooperatesWith": "object",
    "establishes": "object",
    "funds": "object",
    "finances": "object",
    "targets": "object",
    "exampleOf": "object",
    "involves": "object",
    "cites": "object",
    "authoredBy": "object",
    "memberOf": "object",
    "implements": "object",
    "informs": "object",
    "identifies": "object",
    "investigates": "object",
    "supports": "object",
    "requires": "object",
    "hinders": "object",
    "concerns": "object",
    "answers": "object",
    "budget": "amount",
    "threshold": "amount",
    "startDate": "date",
    "eventDate": "date",
    "goal": "text",
    "finding": "text",
    "position": "text",
    "keepsDataOn": "text",
    "requests": "text",
    "activity": "text",
}


class _Closed(type):
    """A namespace whose terms are its annotations: DKG.Claim is the IRI of dkg:Claim, and any
    other name fails (AttributeError). Plain Python: rdflib's DefinedNamespace did the same, at
    the price of importing rdflib (60 ms) in every command that compiles."""

    def __getattr__(cls, name: str) -> Any:
        if name in inspect.get_annotations(cls):
            return ONTOLOGY + name
        raise AttributeError(f"dkg:{name} is not a term of the ontology")


class DKG(metaclass=_Closed):
    """The dkg ontology (https://w3id.org/dkg/ontology#)."""

    # classes
    Actor: str
    GovernmentBody: str
    Company: str
    Association: str
    Organisation: str
    Platform: str
    Person: str
    Country: str
    Intervention: str
    Action: str
    Instrument: str
    Policy: str
    Project: str
    ConceptScheme: str
    Bottleneck: str
    ActionLine: str
    Topic: str
    Document: str
    SourceDocument: str
    Section: str
    Event: str
    Claim: str
    Rule: str
    Standing: str
    Polarity: str
    Modality: str
    DateQualifier: str
    # individuals
    Stated: str
    Inferred: str
    Analyst: str
    Affirmed: str
    Negated: str
    Actual: str
    Planned: str
    Possible: str
    Conditional: str
    Begin: str
    Mid: str
    End: str
    Before: str
    After: str
    Around: str
    # claim and document properties
    standing: str
    polarity: str
    modality: str
    quote: str
    locator: str
    section: str
    source: str
    premise: str
    rationale: str
    when: str
    whenQualifier: str
    dateQualifier: str
    lines: str
    sectionKind: str
    question: str
    documentKind: str
    text: str
    kamerstuk: str
    documentNumber: str
    wikidata: str
    answeredBy: str
    onBehalfOf: str
    via: str
    viaPrimary: str
    query: str
    # relations
    addresses: str
    inActionLine: str
    primaryActionLine: str
    secondaryActionLine: str
    partOf: str
    leads: str
    participatesIn: str
    consults: str
    cooperatesWith: str
    establishes: str
    funds: str
    finances: str
    targets: str
    exampleOf: str
    involves: str
    cites: str
    authoredBy: str
    memberOf: str
    implements: str
    informs: str
    identifies: str
    investigates: str
    supports: str
    requires: str
    hinders: str
    concerns: str
    answers: str
    budget: str
    threshold: str
    startDate: str
    eventDate: str
    goal: str
    finding: str
    position: str
    keepsDataOn: str
    requests: str
    activity: str


def term(name: str) -> str:
    """Return the IRI of an ontology term, failing on a name the ontology does not define."""
    return str(getattr(DKG, name))
