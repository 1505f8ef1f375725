"""Apply the declared inference rules (ontology/rules/*.rq) to the compiled quads.

Rules are SPARQL CONSTRUCT queries run over the union of all graphs until nothing new appears;
what they construct goes into the inferred graph. The rules themselves are described as dkg:Rule
nodes (label, description, query) in the ontology graph, so a derived claim's prov:wasGeneratedBy
leads to the rule's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad, QueryTriples, RdfFormat, Store

from graph import constants as C
from graph.errors import Problem, display_path
from graph.vocab import term

MAX_ROUNDS = 10


@dataclass(frozen=True)
class Rule:
    """One declared rule."""

    id: str
    label: str
    description: str
    query: str
    path: Path

    @property
    def where(self) -> str:
        """The rule's file as messages name it: ontology/rules/<id>.rq, under the project."""
        return display_path(self.path, self.path.parents[2])

    @property
    def iri(self) -> NamedNode:
        """The rule's IRI."""
        return NamedNode(C.RULE + self.id)


def load_rules(ontology_dir: Path) -> list[Rule]:
    """Read every rule file, in name order."""
    rules = []
    for path in sorted((ontology_dir / C.RULES_DIRNAME).glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        comments = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")]
        label = comments[0] if comments else path.stem
        rules.append(Rule(path.stem, label, " ".join(comments[1:]), text, path))
    return rules


def describe_rules(rules: list[Rule]) -> list[Quad]:
    """Quads describing the rules, for the ontology graph."""
    g = NamedNode(C.ONTOLOGY_GRAPH)
    rdf_type = NamedNode(C.PREFIXES["rdf"] + "type")
    out = []
    for r in rules:
        out += [
            Quad(r.iri, rdf_type, NamedNode(term("Rule")), g),
            Quad(
                r.iri, NamedNode(C.PREFIXES["rdfs"] + "label"), Literal(r.label, language="en"), g
            ),
            Quad(r.iri, NamedNode(term("query")), Literal(r.query), g),
        ]
        if r.description:
            out.append(
                Quad(
                    r.iri,
                    NamedNode(C.PREFIXES["rdfs"] + "comment"),
                    Literal(r.description, language="en"),
                    g,
                )
            )
    return out


def apply_rules(store: Store, rules: list[Rule]) -> tuple[bytes, list[Problem]]:
    """Run the rules to a fixpoint over store (which they extend); return the N-Quads they added.

    A rule's triples are taken from the engine as N-Triples and de-duplicated as lines: a CONSTRUCT
    repeats its template for every solution, and turning each repeat into a Python object cost
    more than the queries at 100,000 claims.
    """
    graph = f" <{C.INFERRED_GRAPH}> .".encode()
    header = C.sparql_prefixes()
    added: set[bytes] = set()
    problems: list[Problem] = []
    growing: list[Rule] = []  # the rules that added something in the last round
    for _ in range(MAX_ROUNDS):
        fresh: set[bytes] = set()
        growing = []
        for rule in rules:
            try:
                triples = store.query(header + rule.query, use_default_graph_as_union=True)
            except SyntaxError as exc:
                problems.append(Problem(rule.where, 0, 0, f"rule is not valid SPARQL: {exc}"))
                continue
            if not isinstance(triples, QueryTriples):
                problems.append(Problem(rule.where, 0, 0, "a rule must be a CONSTRUCT query"))
                continue
            before = len(fresh)
            for line in (triples.serialize(format=RdfFormat.N_TRIPLES) or b"").splitlines():
                quad = line.removesuffix(b" .") + graph
                if quad not in added:
                    fresh.add(quad)
            if len(fresh) > before:
                growing.append(rule)
        if problems or not fresh:
            break
        added |= fresh
        store.load(b"\n".join(sorted(fresh)) + b"\n", format=RdfFormat.N_QUADS, lenient=True)
    else:
        message = (
            f"the rules never reach a fixpoint: this one still adds triples after {MAX_ROUNDS} "
            "rounds (does a rule build new IRIs from IRIs it built before?)"
        )
        problems = [Problem(rule.where, 0, 0, message) for rule in growing]
    return b"".join(q + b"\n" for q in sorted(added)), problems
