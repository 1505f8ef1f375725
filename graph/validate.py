"""Validate the compiled graph against ontology/shapes.ttl, and locate each violation at the file
and line of the claim or entity it concerns.

The shapes are compiled to SPARQL and run on pyoxigraph, the store the build already holds: pySHACL
took 10 s on 174 claims (its SPARQL constraints run on rdflib) and grows with the data, while the
compiled queries take milliseconds and scale with the store. The compiler covers the part of SHACL
Core that the shapes use (targets by class or subjects-of; min/max count, node kind, sh:in,
sh:hasValue, datatype, minInclusive, pattern, class, uniqueLang; sh:or of property conditions) and
SHACL-SPARQL constraints; a shape using anything else is refused with a message rather than skipped
in silence. tests/test_validate.py checks that it agrees with pySHACL, the reference implementation.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import BlankNode, Literal, NamedNode, QuerySolutions, RdfFormat, Store, parse

from graph import constants as C
from graph.errors import Problem

SH = C.PREFIXES["sh"]
RDF = C.PREFIXES["rdf"]
Node = NamedNode | BlankNode | Literal

_PROPERTY_KEYS = {
    "path", "minCount", "maxCount", "nodeKind", "in", "hasValue", "datatype", "minInclusive",
    "pattern", "class", "uniqueLang", "message", "name", "description",
}  # fmt: skip
_NODE_KEYS = {"targetClass", "targetSubjectsOf", "property", "sparql", "or", "message", "declare"}


class ShapeError(Exception):
    """The shapes use SHACL that this validator does not implement."""


@dataclass
class Violation:
    """One focus node that breaks one constraint."""

    focus: str
    message: str


@dataclass
class _Graph:
    by_subject: dict[str, dict[str, list[Node]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def get(self, node: Node, pred: str) -> list[Node]:
        return self.by_subject.get(_key(node), {}).get(SH + pred, [])

    def one(self, node: Node, pred: str) -> Node | None:
        values = self.get(node, pred)
        return values[0] if values else None

    def keys(self, node: Node) -> set[str]:
        return {p[len(SH) :] for p in self.by_subject.get(_key(node), {}) if p.startswith(SH)}

    def items(self, head: Node) -> list[Node]:
        out: list[Node] = []
        while not (isinstance(head, NamedNode) and head.value == RDF + "nil"):
            props = self.by_subject.get(_key(head), {})
            out.append(props[RDF + "first"][0])
            head = props[RDF + "rest"][0]
        return out


def _key(node: Node) -> str:
    return str(node)


def _n3(node: Node) -> str:
    return str(node)  # pyoxigraph prints terms in N-Triples syntax, which SPARQL accepts


def _path(g: _Graph, prop: Node) -> str:
    path = g.one(prop, "path")
    if not isinstance(path, NamedNode):
        raise ShapeError("only simple property paths (one IRI) are supported")
    return _n3(path)


def _condition(g: _Graph, prop: Node) -> str:
    """A SPARQL boolean expression true when ?this meets the property shape (inside sh:or)."""
    unknown = g.keys(prop) - {"path", "minCount", "maxCount", "hasValue"}
    if unknown:
        raise ShapeError(
            f"inside sh:or only minCount 1, maxCount 1 and hasValue are supported, not {sorted(unknown)}"
        )
    p = _path(g, prop)
    parts = []
    if (v := g.one(prop, "hasValue")) is not None:
        parts.append(f"EXISTS {{ ?this {p} {_n3(v)} }}")
    if (n := g.one(prop, "minCount")) is not None:
        if int(str(n.value)) != 1:
            raise ShapeError("inside sh:or only minCount 1 is supported")
        parts.append(f"EXISTS {{ ?this {p} ?_v }}")
    if (n := g.one(prop, "maxCount")) is not None:
        if int(str(n.value)) != 1:
            raise ShapeError("inside sh:or only maxCount 1 is supported")
        parts.append(f"NOT EXISTS {{ ?this {p} ?_a , ?_b . FILTER(!sameTerm(?_a, ?_b)) }}")
    return "(" + " && ".join(parts or ["true"]) + ")"


@dataclass
class Check:
    """One constraint: a query listing the focus nodes that break it, the message for each, and
    the same test as a boolean on ?this (None if it has none), for the screening query."""

    query: str
    message: str
    breaks: str | None = None
    covered: bool = False  # its test is part of another check's (see _property_checks)


@dataclass
class ShapeChecks:
    """The checks of one node shape, and one query that finds whether any of them fails.

    On valid data (the usual case) the screening query is the only one that runs: it visits each
    focus node once, where one query per constraint visited them once per constraint (10x the
    time at 100,000 claims). Only if it finds a node are the checks run, for their messages.
    """

    screen: str | None
    checks: list[Check]


def _property_checks(g: _Graph, prop: Node, target: str) -> list[Check]:
    unknown = g.keys(prop) - _PROPERTY_KEYS
    if unknown:
        raise ShapeError(f"property shape uses unsupported {sorted(unknown)}")
    p = _path(g, prop)
    msg = str(getattr(g.one(prop, "message"), "value", "")) or f"violates a constraint on {p}"
    out: list[Check] = []
    bad: dict[int, str] = {}  # place in out -> what a value must not be, for each such check

    def values(filter_: str) -> None:
        out.append(
            Check(
                f"SELECT DISTINCT ?this ?value WHERE {{ {target} ?this {p} ?value . FILTER({filter_}) }}",
                msg,
                f"EXISTS {{ ?this {p} ?value . FILTER({filter_}) }}",
            )
        )
        bad[len(out) - 1] = filter_

    def nodes(pattern: str) -> None:
        out.append(
            Check(f"SELECT DISTINCT ?this WHERE {{ {target} FILTER({pattern}) }}", msg, pattern)
        )

    # Counts of one are by far the most common and need no grouping.
    at_least_one = at_most_one = None
    if (n := g.one(prop, "minCount")) is not None and (k := int(str(n.value))) == 1:
        nodes(f"NOT EXISTS {{ ?this {p} ?v }}")
        at_least_one = out[-1]
    elif n is not None:
        out.append(Check(
            f"SELECT ?this WHERE {{ {{ SELECT DISTINCT ?this WHERE {{ {target} }} }} "
            f"OPTIONAL {{ ?this {p} ?v }} }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {k})",
            msg,
        ))  # fmt: skip
    if (n := g.one(prop, "maxCount")) is not None and (k := int(str(n.value))) == 1:
        nodes(f"EXISTS {{ ?this {p} ?a , ?b . FILTER(!sameTerm(?a, ?b)) }}")
        at_most_one = out[-1]
    elif n is not None:
        out.append(Check(
            f"SELECT ?this WHERE {{ {target} ?this {p} ?v }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {k})",
            msg,
        ))  # fmt: skip
    if (kind := g.one(prop, "nodeKind")) is not None:
        test = {SH + "IRI": "!isIRI(?value)", SH + "Literal": "!isLiteral(?value)"}.get(
            str(kind.value)
        )
        if test is None:
            raise ShapeError(f"sh:nodeKind {kind} is not supported")
        values(test)
    if (lst := g.one(prop, "in")) is not None:
        values(f"?value NOT IN ({', '.join(_n3(x) for x in g.items(lst))})")
    if (v := g.one(prop, "hasValue")) is not None:
        nodes(f"NOT EXISTS {{ ?this {p} {_n3(v)} }}")
    if (dt := g.one(prop, "datatype")) is not None:
        values(f"!isLiteral(?value) || DATATYPE(?value) != {_n3(dt)}")
    if (lo := g.one(prop, "minInclusive")) is not None:
        values(f"!(?value >= {_n3(lo)})")
    if (pat := g.one(prop, "pattern")) is not None:
        values(f"!REGEX(STR(?value), {_n3(pat)})")
    if (cls := g.one(prop, "class")) is not None:
        values(f"NOT EXISTS {{ ?value a {_n3(cls)} }}")
    if (u := g.one(prop, "uniqueLang")) is not None and str(u.value) == "true":
        nodes(
            f"EXISTS {{ ?this {p} ?a , ?b . "
            f'FILTER(!sameTerm(?a, ?b) && LANG(?a) = LANG(?b) && LANG(?a) != "") }}'
        )
    if at_least_one is not None and at_most_one is not None:
        # Exactly one value, and a good one: one test, where each of those checks looked the
        # values up again (2.5 s to 1.7 s for the claim shape's screen at 100,000 claims).
        good = " && ".join(f"!({f})" for f in bad.values()) or "true"
        for check in [at_most_one, *(out[i] for i in bad)]:
            check.breaks, check.covered = None, True
        at_least_one.breaks = (
            f"NOT EXISTS {{ ?this {p} ?value . FILTER({good}) "
            f"FILTER NOT EXISTS {{ ?this {p} ?_w . FILTER(!sameTerm(?value, ?_w)) }} }}"
        )
    return out


def _sparql_query(g: _Graph, constraint: Node, target: str) -> tuple[str, str]:
    select = str(getattr(g.one(constraint, "select"), "value", ""))
    if not select:
        raise ShapeError("a sh:sparql constraint needs sh:select")
    if re.search(r"\bVALUES\b", select, re.IGNORECASE):
        raise ShapeError("a SPARQL constraint must not contain VALUES (SHACL 5.3.1)")
    body = select.replace("$this", "?this")
    where = re.search(r"\bWHERE\s*\{", body, re.IGNORECASE)
    if where is None:
        raise ShapeError("a sh:sparql constraint needs a WHERE clause")
    body = body[: where.end()] + f" {target} " + body[where.end() :]
    body = re.sub(r"^\s*SELECT\s+", "SELECT DISTINCT ", body.strip(), count=1, flags=re.IGNORECASE)
    msg = str(getattr(g.one(constraint, "message"), "value", "")) or "violates a SPARQL constraint"
    return body, msg


def compile_shapes(
    path: Path, graphs: list[str] | None = None, nodes: list[str] | None = None
) -> list[ShapeChecks]:
    """Compile the shapes file to SPARQL: per node shape, its checks and a screening query.

    Each check is a SELECT returning ?this (and any other variables its message names).

    With graphs or nodes, only focus nodes whose targeting triple is in one of those named graphs,
    or that are one of those nodes (IRIs), are checked (an incremental build validates only what
    changed).
    """
    g = _Graph()
    with path.open("rb") as fh:
        for t in parse(fh, format=RdfFormat.TURTLE, base_iri=C.BASE):
            g.by_subject[_key(t.subject)][t.predicate.value].append(t.object)
    shapes: list[ShapeChecks] = []
    node_shapes = [
        s for s, props in g.by_subject.items()
        if any(k in props for k in (SH + "targetClass", SH + "targetSubjectsOf"))
    ]  # fmt: skip
    for key in sorted(node_shapes):
        shape_props = g.by_subject[key]
        shape = shape_props[SH + "targetClass"][0] if SH + "targetClass" in shape_props else None
        node: Node = NamedNode(key.strip("<>")) if key.startswith("<") else BlankNode(key[2:])
        unknown = g.keys(node) - _NODE_KEYS
        if unknown:
            raise ShapeError(f"{key}: unsupported {sorted(unknown)}")
        targets = [f"{{ ?this a {_n3(c)} }}" for c in g.get(node, "targetClass")]
        targets += [f"{{ ?this {_n3(p)} ?_t }}" for p in g.get(node, "targetSubjectsOf")]
        if graphs is not None or nodes is not None:
            within = " ".join(f"<{iri}>" for iri in graphs or [])
            these = " ".join(f"<{iri}>" for iri in nodes or [])
            targets = [
                *(f"{{ VALUES ?_g {{ {within} }} GRAPH ?_g {t} }}" for t in targets if within),
                *(f"{{ VALUES ?this {{ {these} }} {t} }}" for t in targets if these),
            ]
            if not targets:
                continue
        target = " UNION ".join(targets)
        del shape
        checks: list[Check] = []
        for prop in g.get(node, "property"):
            checks += _property_checks(g, prop, target)
        for constraint in g.get(node, "sparql"):
            checks.append(Check(*_sparql_query(g, constraint, target)))
        for alternatives in g.get(node, "or"):
            conds = []
            for alt in g.items(alternatives):
                props = g.get(alt, "property")
                conds.append("(" + " && ".join(_condition(g, p) for p in props) + ")")
            msg = (
                str(getattr(g.one(node, "message"), "value", "")) or "fits none of the alternatives"
            )
            fits = f"!({' || '.join(conds)})"
            checks.append(
                Check(f"SELECT DISTINCT ?this WHERE {{ {target} FILTER({fits}) }}", msg, fits)
            )
        tests = [c.breaks for c in checks if c.breaks is not None]
        screened = sum(c.breaks is not None or c.covered for c in checks)
        screen = (
            f"SELECT ?this WHERE {{ {target} FILTER({' || '.join(tests)}) }} LIMIT 1"
            if screened > 1
            else None
        )
        shapes.append(ShapeChecks(screen, checks))
    return shapes


def _fill(template: str, row: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        return row.get(m[1].lstrip("?$"), m[0])

    return re.sub(r"\{([?$]\w+)\}", sub, template)


def _short(value: str) -> str:
    for prefix in (C.ID, C.CLAIM, C.ONTOLOGY):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def run_shapes(store: Store, shapes: list[ShapeChecks]) -> list[Violation]:
    """Run compiled shapes over the store's union graph."""
    header = C.sparql_prefixes()
    found = []

    def select(query: str) -> QuerySolutions:
        solutions = store.query(header + query, use_default_graph_as_union=True)
        assert isinstance(solutions, QuerySolutions)
        return solutions

    for shape in shapes:
        clean = shape.screen is not None and next(iter(select(shape.screen)), None) is None
        for check in shape.checks:
            if clean and (check.breaks is not None or check.covered):
                continue  # the screening query found no node that breaks it
            solutions = select(check.query)
            for sol in solutions:
                row = {
                    v.value: _short(sol[v].value) for v in solutions.variables if sol[v] is not None
                }
                row["this"] = row.get("this", "")
                focus = sol["this"]
                found.append(
                    Violation(focus.value if focus is not None else "", _fill(check.message, row))
                )
    return found


def validate(
    store: Store,
    shapes_path: Path,
    locate: Mapping[str, tuple[str, int]],
    graphs: list[str] | None = None,
    nodes: list[str] | None = None,
) -> list[Problem]:
    """Return one Problem per violation; locate maps node IRIs to (file, line).

    graphs and nodes limit the focus nodes to those targeted in those named graphs and to those
    nodes (both None: every node).
    """
    # graphs and nodes are checked apart: targets joined by a UNION read every claim on RocksDB
    # (0.7 s for one graph and seven nodes at 100,000 claims, against 0.02 s apart)
    scopes = [(graphs, None), (None, nodes)] if graphs and nodes else [(graphs, nodes)]
    try:
        queries = [q for g, n in scopes for q in compile_shapes(shapes_path, g, n)]
    except SyntaxError as exc:
        return [Problem(str(shapes_path), 0, 0, f"shapes do not parse: {exc}")]
    except ShapeError as exc:
        return [Problem(str(shapes_path), 0, 0, f"the shapes cannot be used: {exc}")]
    try:
        violations = run_shapes(store, queries)
    except SyntaxError as exc:
        return [Problem(str(shapes_path), 0, 0, f"a shape compiles to invalid SPARQL: {exc}")]
    where = {v.focus: _owner(v.focus, locate) for v in violations}
    premises, rules = _premises(store, {focus for focus, at in where.items() if at is None})
    broken = {v.focus for v in violations}
    problems = set()
    for v in violations:
        text = f"{_short(v.focus)}: {v.message}"
        at = where[v.focus]
        if at is not None:
            problems.add(Problem(*at, 0, text))
            continue
        grounds = premises.get(v.focus, [])
        if any(p in broken for p in grounds):
            continue  # an inferred claim that inherits a premise's fault: the premise is reported
        spot = next((locate[p] for p in grounds if p in locate), ("(compiled graph)", 0))
        if grounds:
            rule = rules.get(v.focus, "").removeprefix(C.RULE)
            text += f" (inferred by rule {rule} from {', '.join(_short(p) for p in grounds)})"
        problems.add(Problem(*spot, 0, text))
    return sorted(problems)


def _owner(focus: str, locate: Mapping[str, tuple[str, int]]) -> tuple[str, int] | None:
    """Where the node is written: its own place, or that of the node it belongs to (a claim's
    amount, <claim>/amount, is written with the claim; a section, <document>/a1, with the
    document)."""
    node = focus
    while node.startswith(C.BASE):
        if node in locate:
            return locate[node]
        node = node.rpartition("/")[0]
    return None


def _premises(store: Store, claims: set[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The premises of each of these (inferred) claims, in order, and the rule that made it."""
    if not claims:
        return {}, {}
    values = " ".join(f"<{c}>" for c in sorted(claims))
    query = (
        f"{C.sparql_prefixes()}SELECT DISTINCT ?c ?p ?rule WHERE {{ VALUES ?c {{ {values} }} "
        "?c dkg:premise ?p ; prov:wasGeneratedBy ?rule } ORDER BY ?c ?p"
    )
    premises: dict[str, list[str]] = defaultdict(list)
    rules: dict[str, str] = {}
    solutions = store.query(query, use_default_graph_as_union=True)
    assert isinstance(solutions, QuerySolutions)
    for row in solutions:
        premises[row["c"].value].append(row["p"].value)
        rules[row["c"].value] = row["rule"].value
    return premises, rules
