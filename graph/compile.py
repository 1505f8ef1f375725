"""Compile checked records to quads: one named graph per source document, the registry in its own
graph, each relation as a plain triple (when affirmed and actual) and as a dkg:Claim node.

The compiler only produces pyoxigraph Quads; where they end up (files, an embedded store, a remote
SPARQL server) is decided elsewhere. No blank nodes: every node has a readable IRI from its ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import cache
from urllib.parse import quote as urlquote

from pyoxigraph import Literal, NamedNode, Quad

from graph import constants as C
from graph.models import Amount, Claim, Entity, Extraction, Identifiers, parse_date
from graph.vocab import term

XSD = C.PREFIXES["xsd"]
RDF_TYPE = NamedNode(C.PREFIXES["rdf"] + "type")

_STD_TYPES = {
    # Standard classes are asserted directly too, so plain SPARQL users need no reasoner.
    "ConceptScheme": ["skos:ConceptScheme"],
    "Bottleneck": ["skos:Concept"],
    "ActionLine": ["skos:Concept"],
    "Topic": ["skos:Concept"],
    "Document": ["foaf:Document"],
    "Person": ["foaf:Person"],
}
_STANDING = {"stated": "Stated", "inferred": "Inferred", "analyst": "Analyst"}
_POLARITY = {"affirmed": "Affirmed", "negated": "Negated"}
_MODALITY = {
    "actual": "Actual",
    "planned": "Planned",
    "possible": "Possible",
    "conditional": "Conditional",
}
_QUALIFIER = {
    "begin": "Begin",
    "mid": "Mid",
    "end": "End",
    "before": "Before",
    "after": "After",
    "around": "Around",
}
_SECTION_LABEL = {
    "preamble": ("inleiding", "preamble"),
    "question": ("vraag", "question"),
    "answer": ("antwoord", "answer"),
    "footnote": ("voetnoot", "footnote"),
}


@cache  # a handful of terms, asked for on every claim: looked up once (was a quarter of compiling)
def iri(curie: str) -> NamedNode:
    """Expand 'prefix:local' to a NamedNode."""
    prefix, _, local = curie.partition(":")
    return NamedNode(C.PREFIXES[prefix] + local)


@cache
def dkg(name: str) -> NamedNode:
    """Return the NamedNode of a dkg ontology term (closed: unknown names fail)."""
    return NamedNode(term(name))


def entity_iri(entity_id: str) -> NamedNode:
    """IRI of an entity (or source document) in the registry."""
    return NamedNode(C.ID + entity_id)


def graph_iri(document_id: str) -> NamedNode:
    """IRI of the named graph holding one source document's claims."""
    return NamedNode(C.GRAPH + document_id)


def claim_iri(document_id: str, claim_id: str) -> NamedNode:
    """IRI of a claim node."""
    return NamedNode(f"{C.CLAIM}{document_id}/{claim_id}")


def section_iri(document_id: str, section_id: str) -> NamedNode:
    """IRI of a section (question, answer, footnote) of a source document."""
    return NamedNode(f"{C.ID}{document_id}/{urlquote(section_id, safe='+.-')}")


def date_literal(value: str) -> Literal:
    """A date literal whose datatype keeps the precision: xsd:gYear, xsd:gYearMonth or xsd:date."""
    year, month, day = parse_date(value)
    if day is not None:
        return Literal(value, datatype=NamedNode(XSD + "date"))
    if month is not None:
        return Literal(value, datatype=NamedNode(XSD + "gYearMonth"))
    return Literal(f"{year:04d}", datatype=NamedNode(XSD + "gYear"))


def decimal_literal(value: float) -> Literal:
    """An xsd:decimal without exponent or trailing zeros."""
    text = format(Decimal(str(value)).normalize(), "f")
    return Literal(text, datatype=NamedNode(XSD + "decimal"))


def _texts(node: NamedNode, pred: NamedNode, text: object, g: NamedNode) -> Iterator[Quad]:
    for lang in ("nl", "en"):
        value = getattr(text, lang, None)
        if value:
            yield Quad(node, pred, Literal(value, language=lang), g)


def _identifiers(node: NamedNode, ids: Identifiers, g: NamedNode) -> Iterator[Quad]:
    for k in ids.kamerstuk:
        yield Quad(node, dkg("kamerstuk"), Literal(k), g)
    if ids.document_number:
        yield Quad(node, dkg("documentNumber"), Literal(ids.document_number), g)
    if ids.wikidata:
        wikidata = NamedNode("http://www.wikidata.org/entity/" + ids.wikidata)
        yield Quad(node, dkg("wikidata"), wikidata, g)
    if ids.url:
        yield Quad(node, iri("foaf:page"), NamedNode(ids.url), g)


def compile_entity(ent: Entity, g: NamedNode) -> Iterator[Quad]:
    """Quads describing one registry entity."""
    node = entity_iri(ent.id)
    yield Quad(node, RDF_TYPE, dkg(str(ent.type)), g)
    for std in _STD_TYPES.get(str(ent.type), []):
        yield Quad(node, RDF_TYPE, iri(std), g)
    yield Quad(node, iri("dcterms:identifier"), Literal(ent.id), g)
    yield from _texts(node, iri("skos:prefLabel"), ent.label, g)
    yield from _texts(node, iri("rdfs:label"), ent.label, g)
    for alias in ent.aliases:
        yield Quad(node, iri("skos:altLabel"), Literal(alias), g)
    if ent.description:
        yield from _texts(node, iri("dcterms:description"), ent.description, g)
    yield from _identifiers(node, ent.identifiers, g)
    if ent.in_scheme:
        scheme = entity_iri(ent.in_scheme)
        yield Quad(node, iri("skos:inScheme"), scheme, g)
        yield Quad(node, iri("skos:topConceptOf"), scheme, g)
        yield Quad(scheme, iri("skos:hasTopConcept"), node, g)
    if ent.notation:
        yield Quad(node, iri("skos:notation"), Literal(ent.notation), g)
    if ent.date:
        yield Quad(node, dkg("eventDate"), date_literal(ent.date), g)


def compile_registry(entities: Iterable[Entity]) -> Iterator[Quad]:
    """Quads of the entity registry, in its own named graph."""
    g = NamedNode(C.REGISTRY_GRAPH)
    for ent in entities:
        yield from compile_entity(ent, g)


def _object(
    doc_id: str, claim: Claim, g: NamedNode, lang: str
) -> tuple[NamedNode | Literal, list[Quad]]:
    extra: list[Quad] = []
    if claim.object is not None:
        return entity_iri(claim.object), extra
    if claim.text is not None:
        return Literal(claim.text, language=lang), extra
    if claim.date is not None:
        return date_literal(claim.date), extra
    amount = claim.amount
    assert isinstance(amount, Amount)
    node = NamedNode(claim_iri(doc_id, claim.id).value + "/amount")
    extra += [
        Quad(node, RDF_TYPE, iri("schema:MonetaryAmount"), g),
        Quad(node, iri("schema:value"), decimal_literal(amount.value), g),
        Quad(node, iri("schema:currency"), Literal(amount.currency), g),
    ]
    return node, extra


def compile_claim(doc_id: str, claim: Claim, g: NamedNode, lang: str = "nl") -> Iterator[Quad]:
    """Quads of one claim: its claim node, and the plain triple if it is affirmed and actual."""
    node = claim_iri(doc_id, claim.id)
    subj = entity_iri(claim.subject)
    pred = dkg(str(claim.relation))
    obj, extra = _object(doc_id, claim, g, lang)
    yield from extra
    if claim.polarity == "affirmed" and claim.modality == "actual":
        yield Quad(subj, pred, obj, g)
    yield Quad(node, RDF_TYPE, dkg("Claim"), g)
    yield Quad(node, iri("rdf:subject"), subj, g)
    yield Quad(node, iri("rdf:predicate"), pred, g)
    yield Quad(node, iri("rdf:object"), obj, g)
    yield Quad(node, dkg("standing"), dkg(_STANDING[claim.standing]), g)
    yield Quad(node, dkg("polarity"), dkg(_POLARITY[claim.polarity]), g)
    yield Quad(node, dkg("modality"), dkg(_MODALITY[claim.modality]), g)
    yield Quad(node, dkg("source"), entity_iri(doc_id), g)
    yield Quad(node, dkg("locator"), Literal(claim.locator), g)
    yield Quad(node, dkg("section"), section_iri(doc_id, claim.locator), g)
    yield Quad(node, iri("dcterms:identifier"), Literal(claim.id), g)
    if claim.quote:
        yield Quad(node, dkg("quote"), Literal(claim.quote, language=lang), g)
    if claim.rationale:
        yield Quad(node, dkg("rationale"), Literal(claim.rationale, language="en"), g)
    if claim.rule:
        yield Quad(node, iri("prov:wasGeneratedBy"), NamedNode(C.RULE + claim.rule), g)
    if claim.when:
        yield Quad(node, dkg("when"), date_literal(claim.when), g)
    if claim.when_qualifier:
        yield Quad(node, dkg("whenQualifier"), dkg(_QUALIFIER[claim.when_qualifier]), g)
    if claim.date_qualifier:
        yield Quad(node, dkg("dateQualifier"), dkg(_QUALIFIER[claim.date_qualifier]), g)
    if claim.note:
        yield Quad(node, iri("rdfs:comment"), Literal(claim.note, language="en"), g)


def compile_document(ex: Extraction) -> Iterator[Quad]:
    """Quads of one source document: its description, its sections and its claims."""
    meta = ex.document
    g = graph_iri(meta.id)
    doc = entity_iri(meta.id)
    for cls in ("SourceDocument", "Document"):
        yield Quad(doc, RDF_TYPE, dkg(cls), g)
    yield Quad(doc, RDF_TYPE, iri("foaf:Document"), g)
    yield Quad(doc, iri("dcterms:identifier"), Literal(meta.id), g)
    yield from _texts(doc, iri("dcterms:title"), meta.title, g)
    yield from _texts(doc, iri("skos:prefLabel"), meta.title, g)
    yield from _texts(doc, iri("rdfs:label"), meta.title, g)
    yield Quad(doc, iri("dcterms:date"), date_literal(meta.date), g)
    yield Quad(doc, dkg("documentKind"), Literal(meta.kind), g)
    yield Quad(doc, iri("dcterms:language"), Literal(meta.language), g)
    yield Quad(doc, dkg("text"), Literal(meta.text), g)
    if meta.date_note:
        yield Quad(doc, iri("rdfs:comment"), Literal(meta.date_note, language="en"), g)
    for who in meta.answered_by:
        yield Quad(doc, dkg("answeredBy"), entity_iri(who), g)
    for who in meta.on_behalf_of:
        yield Quad(doc, dkg("onBehalfOf"), entity_iri(who), g)
    yield from _identifiers(doc, meta.identifiers, g)
    for sec in meta.sections:
        node = section_iri(meta.id, sec.id)
        nl, en = _SECTION_LABEL[sec.kind]
        nums = sec.questions
        suffix_nl = " " + " en ".join(map(str, nums)) if nums else ""
        suffix_en = " " + " and ".join(map(str, nums)) if nums else ""
        if sec.kind == "footnote":
            suffix_nl = suffix_en = " " + sec.id.removeprefix("fn")
        yield Quad(node, RDF_TYPE, dkg("Section"), g)
        yield Quad(node, iri("dcterms:isPartOf"), doc, g)
        yield Quad(node, dkg("locator"), Literal(sec.id), g)
        yield Quad(node, dkg("sectionKind"), Literal(sec.kind), g)
        yield Quad(node, dkg("lines"), Literal(sec.lines), g)
        yield Quad(node, iri("rdfs:label"), Literal(nl + suffix_nl, language="nl"), g)
        yield Quad(node, iri("rdfs:label"), Literal(en + suffix_en, language="en"), g)
        for n in nums:
            yield Quad(
                node, dkg("question"), Literal(str(n), datatype=NamedNode(XSD + "integer")), g
            )
    for claim in ex.claims:
        yield from compile_claim(meta.id, claim, g, meta.language)
