"""The shapes compiled to SPARQL (graph.validate) agree with pySHACL, the reference implementation:
on the valid corpus both find nothing, and for a mutation breaking each kind of constraint both flag
the same focus nodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import rdflib
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store, serialize
from pyshacl import validate as pyshacl_validate

from graph import constants as C
from graph.build import compile_project
from graph.validate import ShapeError, compile_shapes, run_shapes

SHAPES = Path(__file__).resolve().parent.parent / "ontology" / "shapes.ttl"
G = NamedNode(C.GRAPH + "mini")
CLAIM = NamedNode(C.CLAIM + "mini/secfund-budget")
AMOUNT = NamedNode(C.CLAIM + "mini/secfund-budget/amount")
DKG = C.ONTOLOGY


def n(curie: str) -> NamedNode:
    prefix, _, local = curie.partition(":")
    return NamedNode(C.PREFIXES[prefix] + local)


def drop(pred: str) -> Callable[[list[Quad]], list[Quad]]:
    return lambda qs: [q for q in qs if not (q.subject == CLAIM and q.predicate == n(pred))]


def add(*quad: object) -> Callable[[list[Quad]], list[Quad]]:
    return lambda qs: [*qs, Quad(*quad, G)]  # type: ignore[arg-type]


def replace(subject: NamedNode, pred: str, new: object) -> Callable[[list[Quad]], list[Quad]]:
    def f(qs: list[Quad]) -> list[Quad]:
        kept = [q for q in qs if not (q.subject == subject and q.predicate == n(pred))]
        return [*kept, Quad(subject, n(pred), new, G)]  # type: ignore[arg-type]

    return f


MUTATIONS: dict[str, Callable[[list[Quad]], list[Quad]]] = {
    "valid": lambda qs: qs,
    "claim without subject": drop("rdf:subject"),
    "claim with two objects": add(CLAIM, n("rdf:object"), NamedNode(C.ID + "secfund")),
    "literal as subject": replace(CLAIM, "rdf:subject", Literal("secfund")),
    "standing outside the list": replace(CLAIM, "dkg:standing", n("dkg:Polarity")),
    "stated claim without quote": drop("dkg:quote"),
    "undeclared relation": replace(CLAIM, "rdf:predicate", n("dkg:costs")),
    "subject outside the domain": replace(NamedNode(C.CLAIM + "mini/secfund-addresses-b"), "rdf:subject", NamedNode(C.ID + "financien")),
    "object outside the range": replace(NamedNode(C.CLAIM + "mini/secfund-in-actielijn-2"), "rdf:object", NamedNode(C.ID + "financien")),
    "negative amount": replace(AMOUNT, "schema:value", Literal("-1", datatype=n("xsd:decimal"))),
    "amount not decimal": replace(AMOUNT, "schema:value", Literal("veel")),
    "bad currency": replace(AMOUNT, "schema:currency", Literal("euro")),
    "two Dutch labels": add(NamedNode(C.ID + "secfund"), n("skos:prefLabel"), Literal("Fonds", language="nl")),
    "no English label": lambda qs: [q for q in qs if not (q.subject == NamedNode(C.ID + "secfund") and q.predicate == n("skos:prefLabel") and q.object == Literal("SecFund", language="en"))],
    "concept without scheme": lambda qs: [q for q in qs if not (q.subject == NamedNode(C.ID + "knelpunt-b") and q.predicate == n("skos:inScheme"))],
    "document without date": lambda qs: [q for q in qs if not (q.subject == NamedNode(C.ID + "mini") and q.predicate == n("dcterms:date"))],
}  # fmt: skip


@pytest.fixture(scope="module")
def compiled_quads(tmp_path_factory: pytest.TempPathFactory) -> list[Quad]:
    from tests.conftest import copy_project

    root = copy_project(tmp_path_factory.mktemp("v") / "p")
    return compile_project(root).quads


def focus_ours(quads: list[Quad]) -> set[str]:
    store = Store()
    store.extend(quads)
    return {v.focus for v in run_shapes(store, compile_shapes(SHAPES))}


def focus_pyshacl(quads: list[Quad]) -> set[str]:
    data = rdflib.Graph()
    triples = [Quad(q.subject, q.predicate, q.object) for q in quads]
    data.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES), format="nt")
    _conforms, report, _ = pyshacl_validate(
        data, shacl_graph=str(SHAPES), inference="none", advanced=True
    )
    sh = rdflib.Namespace(C.PREFIXES["sh"])
    return {
        str(report.value(r, sh.focusNode))
        for r in report.subjects(rdflib.RDF.type, sh.ValidationResult)
    }


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_compiled_shapes_agree_with_pyshacl(name: str, compiled_quads: list[Quad]) -> None:
    quads = MUTATIONS[name](list(compiled_quads))
    ours, reference = focus_ours(quads), focus_pyshacl(quads)
    assert ours == reference
    assert bool(ours) == (name != "valid"), (
        f"{name}: expected {'no' if name == 'valid' else 'some'} violation"
    )


def test_unsupported_shape_is_refused(tmp_path: Path) -> None:
    shapes = tmp_path / "s.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n"
        "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:closed true .\n"
    )
    with pytest.raises(ShapeError, match="closed"):
        compile_shapes(shapes)
