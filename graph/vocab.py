"""The dkg ontology as a closed Python namespace: a misspelt term fails instead of minting an IRI.

ontology/dkg.ttl is the source of truth; tests/test_ontology.py fails if this file and it differ.
"""

from __future__ import annotations

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef

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


class DKG(DefinedNamespace):
    """The dkg ontology (https://w3id.org/dkg/ontology#)."""

    _fail = True
    _NS = Namespace(ONTOLOGY)

    # classes
    Actor: URIRef
    GovernmentBody: URIRef
    Company: URIRef
    Association: URIRef
    Organisation: URIRef
    Platform: URIRef
    Person: URIRef
    Country: URIRef
    Intervention: URIRef
    Action: URIRef
    Instrument: URIRef
    Policy: URIRef
    Project: URIRef
    ConceptScheme: URIRef
    Bottleneck: URIRef
    ActionLine: URIRef
    Topic: URIRef
    Document: URIRef
    SourceDocument: URIRef
    Section: URIRef
    Event: URIRef
    Claim: URIRef
    Rule: URIRef
    Standing: URIRef
    Polarity: URIRef
    Modality: URIRef
    DateQualifier: URIRef
    # individuals
    Stated: URIRef
    Inferred: URIRef
    Analyst: URIRef
    Affirmed: URIRef
    Negated: URIRef
    Actual: URIRef
    Planned: URIRef
    Possible: URIRef
    Conditional: URIRef
    Begin: URIRef
    Mid: URIRef
    End: URIRef
    Before: URIRef
    After: URIRef
    Around: URIRef
    # claim and document properties
    standing: URIRef
    polarity: URIRef
    modality: URIRef
    quote: URIRef
    locator: URIRef
    section: URIRef
    source: URIRef
    premise: URIRef
    rationale: URIRef
    when: URIRef
    whenQualifier: URIRef
    dateQualifier: URIRef
    lines: URIRef
    sectionKind: URIRef
    question: URIRef
    documentKind: URIRef
    text: URIRef
    kamerstuk: URIRef
    documentNumber: URIRef
    wikidata: URIRef
    answeredBy: URIRef
    onBehalfOf: URIRef
    via: URIRef
    viaPrimary: URIRef
    query: URIRef
    # relations
    addresses: URIRef
    inActionLine: URIRef
    primaryActionLine: URIRef
    secondaryActionLine: URIRef
    partOf: URIRef
    leads: URIRef
    participatesIn: URIRef
    consults: URIRef
    cooperatesWith: URIRef
    establishes: URIRef
    funds: URIRef
    finances: URIRef
    targets: URIRef
    exampleOf: URIRef
    involves: URIRef
    cites: URIRef
    authoredBy: URIRef
    memberOf: URIRef
    implements: URIRef
    informs: URIRef
    identifies: URIRef
    investigates: URIRef
    supports: URIRef
    requires: URIRef
    hinders: URIRef
    concerns: URIRef
    answers: URIRef
    budget: URIRef
    threshold: URIRef
    startDate: URIRef
    eventDate: URIRef
    goal: URIRef
    finding: URIRef
    position: URIRef
    keepsDataOn: URIRef
    requests: URIRef
    activity: URIRef


def term(name: str) -> str:
    """Return the IRI of an ontology term, failing on a name the ontology does not define."""
    return str(getattr(DKG, name))
