"""The ontology: parses, carries bilingual labels and definitions, and matches graph/vocab.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from graph.constants import ONTOLOGY
from graph.vocab import DKG, ENTITY_TYPES, RELATIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def onto() -> rdflib.Graph:
    return rdflib.Graph().parse(ROOT / "ontology" / "dkg.ttl", format="turtle")


def defined_terms(g: rdflib.Graph) -> set[str]:
    return {str(s)[len(ONTOLOGY) :] for s in g.subjects() if str(s).startswith(ONTOLOGY)}


def test_closed_namespace_matches_the_ontology(onto: rdflib.Graph) -> None:
    in_python = {name for name in DKG.__annotations__}
    assert in_python == defined_terms(onto)


def test_misspelt_term_fails() -> None:
    with pytest.raises(AttributeError):
        _ = DKG.adresses  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(RELATIONS))
def test_relation_is_declared_with_its_kind(onto: rdflib.Graph, name: str) -> None:
    p = rdflib.URIRef(ONTOLOGY + name)
    kinds = set(onto.objects(p, RDF.type))
    if RELATIONS[name] == "object":
        assert OWL.ObjectProperty in kinds
    elif RELATIONS[name] == "amount":
        assert onto.value(p, RDFS.range) == rdflib.URIRef("https://schema.org/MonetaryAmount")
    else:
        assert OWL.DatatypeProperty in kinds


@pytest.mark.parametrize("name", ENTITY_TYPES)
def test_entity_type_is_a_class(onto: rdflib.Graph, name: str) -> None:
    assert (rdflib.URIRef(ONTOLOGY + name), RDF.type, OWL.Class) in onto


def test_every_term_has_labels_and_definitions_in_both_languages(onto: rdflib.Graph) -> None:
    missing = []
    for name in sorted(defined_terms(onto)):
        s = rdflib.URIRef(ONTOLOGY + name)
        for pred in (RDFS.label, SKOS.definition):
            langs = {o.language for o in onto.objects(s, pred)}  # type: ignore[union-attr]
            if not {"nl", "en"} <= langs:
                missing.append(f"{name} {pred.n3(onto.namespace_manager)}")
    assert not missing, missing


def test_shapes_parse() -> None:
    g = rdflib.Graph().parse(ROOT / "ontology" / "shapes.ttl", format="turtle")
    assert len(g) > 50
