"""Apply the declared inference rules (ontology/rules/*.rq) to the compiled quads.

Rules are SPARQL CONSTRUCT queries run over the union of all graphs until nothing new appears;
what they construct goes into the inferred graph. What each rule reads (Reads) tells which rules
an edit or a round can change; how its solutions are found by the values of its variables (Keys)
lets a build run it over the quads of the solutions an edit changes only (gathered); and which
part of the graph the rules read (slice_of) lets it run them over that part, where they cannot.
The rules themselves are described as dkg:Rule nodes (label, description, query) in the ontology
graph, so a derived claim's prov:wasGeneratedBy leads to the rule's text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Store,
    Variable,
    parse,
)

from graph import constants as C
from graph.errors import Problem, display_path
from graph.vocab import term

MAX_ROUNDS = 10

Term = NamedNode | BlankNode | Literal  # a term a solution binds


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


def apply_rules(
    store: Store,
    rules: list[Rule],
    reads: Callable[[Rule], Reads] | None = None,
    whole: bool = True,
) -> tuple[bytes, list[Problem]]:
    """Run the rules to a fixpoint over store (which they extend); return the N-Quads they added.
    reads: what a rule reads (default: read it here; a build keeps them in its cache). whole:
    the store is to hold every inferred quad after; else only those a rule's pattern can match
    (by their predicate), which is all the rounds need (the store is a slice, let go after).

    A rule's triples are taken from the engine as N-Triples and de-duplicated as lines: a CONSTRUCT
    repeats its template for every solution, and turning each repeat into a Python object cost
    more than the queries at 100,000 claims.

    After the first round, a rule runs again only if what the rules inferred can change its
    result (see Reads): the action-line rule's own claims never can, and running it a second time
    only to learn that was a third of the rules' time at 100,000 claims.
    """
    read = reads or (lambda rule: _reads(rule.query))
    ending = f" <{C.INFERRED_GRAPH}> .\n".encode()
    header = C.sparql_prefixes()
    readable = None if whole else _predicates([read(rule) for rule in rules])
    added: set[bytes] = set()
    problems: list[Problem] = []
    growing: list[Rule] = []  # the rules that added something in the last round
    due = list(rules)  # the rules to run in this round
    for _ in range(MAX_ROUNDS):
        fresh: set[bytes] = set()
        growing = []
        for rule in due:
            try:
                result = store.query(header + rule.query, use_default_graph_as_union=True)
            except SyntaxError as exc:
                problems.append(Problem(rule.where, 0, 0, f"rule is not valid SPARQL: {exc}"))
                continue
            triples = (
                (result.serialize(format=RdfFormat.N_TRIPLES) or b"")
                if isinstance(result, QueryTriples)
                else None
            )
            # Let go of the result here, in the thread that made it (pyoxigraph refuses to free
            # it in another): rdflib's parser, called below, can leave this frame in a cycle of
            # frames that the collector frees later, in whatever thread it runs.
            del result
            if triples is None:
                problems.append(Problem(rule.where, 0, 0, "a rule must be a CONSTRUCT query"))
                continue
            # each line into the inferred graph (N-Triples escape a literal's line breaks, so
            # " .\n" ends a line only)
            new = set(triples.replace(b" .\n", ending).splitlines(keepends=True)) - added - fresh
            if new:
                fresh |= new
                growing.append(rule)
        if problems or not fresh:
            break
        added |= fresh
        if readable is not None:
            fresh = {line for line in fresh if line.split(b" ", 2)[1] in readable}
        store.load(b"".join(fresh), format=RdfFormat.N_QUADS, lenient=True)
        due = [rule for rule in rules if read(rule).changed_by(store, C.INFERRED_GRAPH)]
    else:
        message = (
            f"the rules never reach a fixpoint: this one still adds triples after {MAX_ROUNDS} "
            "rounds (does a rule build new IRIs from IRIs it built before?)"
        )
        problems = [Problem(rule.where, 0, 0, message) for rule in growing]
    return b"".join(sorted(added)), problems


def _predicates(reads: list[Reads]) -> set[bytes] | None:
    """The predicates (in N-Triples) the rules' triple patterns and paths name; None if one can
    match any predicate (a variable, a negated path) or a rule was not read."""
    found: set[bytes] = set()
    for read in reads:
        if read.asks is None:
            return None
        for ask in read.asks:
            predicate = ask.pattern.split(" ", 2)[1]
            if not predicate.startswith("<"):
                return None
            found.add(predicate.encode())
    return found


# --- Which rules the inferred triples can affect ------------------------------------------------


@dataclass
class Reads:
    """What a rule's WHERE clause reads, as questions that tell whether some triples (those a
    round of the rules inferred, or those an edit added or removed) can change its result.

    Triple patterns are the only way a SPARQL query reads data, so a triple changes a rule's
    result only if it gives a basic graph pattern a solution: it must match one of the block's
    patterns while the others match anything in the store (within what a VALUES clause joined to
    the block allows, and what a FILTER of the block's own variables over it lets through). One
    ASK query per pattern asks that of the engine, with the pattern read from the graph of those
    triples. A property path is not analysed: any such triple with a predicate it names counts,
    and it is no condition on the block's other patterns. A rule that rdflib cannot parse always
    runs again (asks is None).

    Every inferred triple is asked about, not only the last round's: that may run a rule once
    more than needed, never once less.

    Each question is asked in two steps: the pattern's matches in the graph of those triples
    first, then, if there are few, whether the rest of the block matches with one of them (their
    values joined to it). Asked in one query, the engine matches the rest of the block across the
    whole store first and joins after: 0.2 s a question on the RocksDB store of 100,000 claims,
    where the two steps take a millisecond.
    """

    asks: list[Ask] | None
    blocks: tuple[Block, ...] | None = None  # (None: not known, the rule cannot be sliced)
    paths: frozenset[str] | None = frozenset()  # what its property paths name (None: anything)
    keys: Keys | None = None  # how its solutions are found where an edit is (None: they are not)

    def changed_by(self, store: Store, graph: str) -> bool:
        """Whether the triples in this named graph of the store can change the rule's result."""
        if self.asks is None:
            return True
        try:
            return any(ask.holds(store, graph) for ask in self.asks)
        except SyntaxError:  # rdflib wrote what pyoxigraph does not read: assume it can
            return True

    def beyond(self, store: Store, graph: str, sliced: Store, leave: set[str]) -> bool:
        """Whether the triples in this named graph of the store give one of the rule's blocks a
        solution that takes a quad from a graph not in leave that sliced lacks: a slice of the
        store (see slice_of) made before those triples were there is then not enough for them."""
        if self.blocks is None:
            return True
        try:
            lines = {q for b in self.blocks for q in b.through(store, graph, {*leave, graph})}
        except SyntaxError:
            return True
        return any(
            q not in sliced for q in parse("".join(lines).encode(), format=RdfFormat.N_QUADS)
        )


@dataclass(frozen=True, order=True)
class Block:
    """A block of triple patterns of a rule (no property paths), with the VALUES and FILTERs that
    restrict it (see _walk), its variables named ?v0, ?v1, ... in order: a block written twice in
    a rule, or in two rules, is one. A pattern's terms are variables or terms in N-Triples."""

    patterns: tuple[tuple[str, str, str], ...]
    where: str

    def query(self, graphs: list[str], values: str = "") -> str:
        """Its solutions, each pattern's graph in ?_g0, ?_g1, ...: graphs[i] names pattern i's
        graph (a variable, or an IRI in <>); values, a VALUES clause joined to them."""
        body = " ".join(
            f"GRAPH {g} {{ {' '.join(t)} }}" for g, t in zip(graphs, self.patterns, strict=True)
        )
        return f"SELECT DISTINCT * WHERE {{ {values} {body} {self.where} }}"

    def quads(self, row: Any, skip: set[str]) -> Iterator[str]:
        """The quads of one solution (of query()) as N-Quads lines, but those in the graphs skip
        names (in N-Triples)."""
        for i, pattern in enumerate(self.patterns):
            g = row[f"_g{i}"]
            graph = str(g) if g is not None else ""
            if graph in skip:
                continue
            s, p, o = (str(row[t[1:]]) if t.startswith("?") else t for t in pattern)
            yield f"{s} {p} {o} {graph} .\n"

    def through(self, store: Store, graph: str, skip: set[str]) -> set[str]:
        """The quads (N-Quads lines) of the block's solutions in the store in which a pattern
        matches in this named graph, but those in the graphs skip names (IRIs)."""
        skipped = {f"<{g}>" for g in skip}
        return {q for row in self.solutions(store, graph) for q in self.quads(row, skipped)}

    def valued(
        self, store: Store, names: tuple[str, ...], table: set[tuple[str, ...]]
    ) -> Iterator[Any]:
        """The block's solutions (of query()) in the store with these values of some of its
        variables (names; table, the rows of their values, in N-Triples).

        Asked in two steps: the matches, with those values, of the pattern that has the fewest
        of them among those that name one of the variables; then the rest of the block joined
        to them by their values (if they are few). Asked in one query, the engine may begin
        with a pattern that matches thousands of quads: 40 ms a block at 100,000 claims, where
        the two steps take a few. Where every such pattern has many matches, the block is asked
        once for each row, the values bound (substitutions): the engine then plans the query
        around them (40 ms to 5 ms for a bottleneck's mappings to an action line)."""
        cells = " ".join("(" + " ".join(r) + ")" for r in sorted(table))
        values = f"VALUES ({' '.join(f'?{n}' for n in names)}) {{ {cells} }}"
        graphs = [f"?_g{j}" for j in range(len(self.patterns))]
        best: tuple[list[str], list[list[Any]]] | None = None
        for i, pattern in enumerate(self.patterns):
            if not any(f"?{n}" in pattern for n in names):
                continue
            variables, rows = _matching(store, f"{values} GRAPH ?_g{i} {{ {' '.join(pattern)} }}")
            if best is None or len(rows) < len(best[1]):
                best = (variables, rows)
        if best is not None and not best[1]:
            return
        if best is not None and len(best[1]) <= _FEW:
            variables, rows = best
            if not any(isinstance(t, BlankNode) for r in rows for t in r):
                cells = " ".join("(" + " ".join(str(t) for t in r) + ")" for r in rows)
                values = f"VALUES ({' '.join(f'?{v}' for v in variables)}) {{ {cells} }}"
        elif len(table) <= _SUBSTITUTED:  # the values bound before the engine plans the query
            for row in sorted(table):
                found = store.query(
                    self.query(graphs),
                    use_default_graph_as_union=True,
                    substitutions={Variable(n): _term(t) for n, t in zip(names, row, strict=True)},
                )
                assert isinstance(found, QuerySolutions)
                yield from found
            return
        found = store.query(self.query(graphs, values), use_default_graph_as_union=True)
        assert isinstance(found, QuerySolutions)
        yield from found

    def solutions(self, store: Store, graph: str) -> Iterator[Any]:
        """The block's solutions (of query()) in the store in which a pattern matches in this
        named graph.

        Asked in two steps, as Reads.changed_by asks: a pattern's matches in the graph first,
        then the rest of the block joined to them by their values (if they are few)."""
        graphs = [f"?_g{j}" for j in range(len(self.patterns))]
        for i, pattern in enumerate(self.patterns):
            names, rows = _matching(store, f"GRAPH <{graph}> {{ {' '.join(pattern)} }}")
            if not rows:
                continue
            values = f"VALUES ?_g{i} {{ <{graph}> }}"
            if (
                names
                and len(rows) <= _FEW
                and not any(isinstance(t, BlankNode) for r in rows for t in r)
            ):  # (else all in one query)
                table = " ".join("(" + " ".join(str(t) for t in r) + ")" for r in rows)
                values += f" VALUES ({' '.join(f'?{n}' for n in names)}) {{ {table} }}"
            solutions = store.query(self.query(graphs, values), use_default_graph_as_union=True)
            assert isinstance(solutions, QuerySolutions)
            yield from solutions


def slice_of(store: Store, reads: list[Reads], leave: str) -> bytes | None:
    """The quads of store the rules can read, as N-Quads, but those of graph leave (the inferred
    graph, which the rules make again from nothing); None if a rule cannot be sliced (rdflib
    could not read it, or a property path of it can match any predicate).

    A rule reads the data only through its patterns' solutions (see Reads), so it infers from the
    slice what it infers from the whole store: each block's solutions are there, within what its
    VALUES and FILTERs let through, and every triple of a predicate that a property path names.
    So, at a fixpoint, do all the rules, as long as what they infer gives no block a solution with
    a quad the slice lacks (Reads.beyond asks, after). More quads of the store do no harm.

    At 100,000 claims, the rules read about a twentieth of the graph."""
    parts = _sliceable(reads)
    if parts is None:
        return None
    blocks, paths = parts
    skip = {f"<{leave}>"}
    lines: set[str] = set()
    for block in blocks:
        graphs = [f"?_g{i}" for i in range(len(block.patterns))]
        solutions = store.query(block.query(graphs), use_default_graph_as_union=True)
        assert isinstance(solutions, QuerySolutions)
        for row in solutions:
            lines.update(block.quads(row, skip))
    for iri in paths:
        lines.update(_lines(store.quads_for_pattern(None, NamedNode(iri), None, None), skip))
    return "".join(sorted(lines)).encode()


def slice_update(store: Store, reads: list[Reads], graphs: list[str], leave: str) -> bytes | None:
    """What a slice of the store (slice_of) made before these named graphs were replaced in it
    lacks once their quads are removed from it: the quads of every block's solution that takes
    one of theirs, and their triples of a predicate a property path names (a solution that takes
    none of theirs is one the slice was made for). None if a rule cannot be sliced."""
    parts = _sliceable(reads)
    if parts is None:
        return None
    blocks, paths = parts
    lines: set[str] = set()
    for graph in graphs:
        for block in blocks:
            lines |= block.through(store, graph, {leave})
        for iri in paths:
            found = store.quads_for_pattern(None, NamedNode(iri), None, NamedNode(graph))
            lines.update(_lines(found, set()))
    return "".join(sorted(lines)).encode()


def _sliceable(reads: list[Reads]) -> tuple[list[Block], list[str]] | None:
    """The blocks and the predicates of paths of the rules, if every one can be sliced."""
    blocks: set[Block] = set()
    paths: set[str] = set()
    for read in reads:
        if read.blocks is None or read.paths is None:
            return None
        blocks.update(read.blocks)
        paths |= read.paths
    return sorted(blocks), sorted(paths)


def _lines(quads: Iterator[Quad], skip: set[str]) -> Iterator[str]:
    """Quads as N-Quads lines, but those in the graphs skip names (in N-Triples)."""
    for q in quads:
        graph = str(q.graph_name) if isinstance(q.graph_name, NamedNode) else ""
        if graph not in skip:
            yield f"{q.subject} {q.predicate} {q.object} {graph} .\n"


@dataclass(frozen=True)
class Ask:
    """Whether a triple pattern has a match in a graph with which the rest of its block (other
    patterns, VALUES, FILTERs) has a solution in the store."""

    pattern: str
    rest: str = ""
    path: bool = False  # a predicate a property path names (?_s <p> ?_o): no condition else

    def _matches(self, store: Store, graph: str) -> tuple[list[str], list[list[Any]]]:
        """The pattern's variables and their values in its matches in the graph (a few more
        than _FEW at most: more are joined to the rest of the block in one query)."""
        return _matching(store, f"GRAPH <{graph}> {{ {self.pattern} }}")

    def holds(self, store: Store, graph: str) -> bool:
        names, rows = self._matches(store, graph)
        if not rows or not self.rest.strip():
            return bool(rows)
        if not names:  # a pattern without variables: it is in the graph
            where = self.rest
        elif len(rows) > _FEW or any(isinstance(t, BlankNode) for r in rows for t in r):
            where = f"GRAPH <{graph}> {{ {self.pattern} }} {self.rest}"  # all in one
        else:
            vars_ = " ".join(f"?{n}" for n in names)
            lines = " ".join("(" + " ".join(str(t) for t in r) + ")" for r in rows)
            where = f"VALUES ({vars_}) {{ {lines} }} {self.rest}"
        return bool(store.query(f"ASK {{ {where} }}", use_default_graph_as_union=True))


_FEW = 500  # matches of a pattern that are joined to the rest of its block by their values


def _matching(store: Store, where: str) -> tuple[list[str], list[list[Any]]]:
    """The variables of a WHERE clause (a pattern, in a graph) and their values in its
    solutions, a few more than _FEW at most."""
    found = store.query(
        f"SELECT DISTINCT * WHERE {{ {where} }} LIMIT {_FEW + 1}", use_default_graph_as_union=True
    )
    assert isinstance(found, QuerySolutions)
    names = [v.value for v in found.variables]
    return names, [[row[n] for n in names] for row in found]


@cache
def _reads(query: str) -> Reads:
    """The ASK queries of a rule (made once per query text)."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        algebra = prepareQuery(C.sparql_prefixes() + query).algebra
    except Exception:  # rdflib's parser raises many kinds; pyoxigraph is the judge of validity
        return Reads(None)
    asks: list[Ask] = []
    blocks: set[Block] = set()
    paths: set[str] | None = set()
    for triples, allowed, conditions in _walk(
        {k: v for k, v in algebra.items() if k != "template"}, {}, []
    ):
        blocks.add(_block(triples, allowed, conditions)[0])
        for _s, p, _o in triples:
            named = _path(p) if _is_path(p) else frozenset()
            paths = None if named is None or paths is None else paths | named
        values = " ".join(
            f"VALUES ?{var} {{ {' '.join(sorted(terms))} }}"
            for var, terms in sorted(allowed.items())
        )
        # a path is left out of the other patterns: fewer conditions can only say yes more often
        patterns = {
            i: " ".join(_n3(x) for x in triple)
            for i, triple in enumerate(triples)
            if not _is_path(triple[1])
        }
        bound = {str(x) for i in patterns for x in triples[i] if _is_var(x)}
        filters = " ".join(f"FILTER({text})" for text in _filters(conditions, bound))
        for i, (_s, p, _o) in enumerate(triples):
            if i not in patterns:
                iris = _path(p)
                names = ["?_p"] if iris is None else sorted(f"<{iri}>" for iri in iris)
                asks += [Ask(f"?_s {name} ?_o", path=True) for name in names]
                continue
            others = " ".join(f"{q} ." for j, q in patterns.items() if j != i)
            asks.append(Ask(patterns[i], f"{others} {values} {filters}"))
    # a block written twice is asked about once
    return Reads(
        list(dict.fromkeys(asks)),
        tuple(sorted(b for b in blocks if b.patterns)),
        None if paths is None else frozenset(paths),
        _keys(algebra),
    )


def _reads_data(expr: Any) -> bool:
    """Whether an expression holds an EXISTS or a NOT EXISTS."""
    if getattr(expr, "name", None) in {"Builtin_EXISTS", "Builtin_NOTEXISTS"}:
        return True
    if isinstance(expr, dict):
        return any(_reads_data(v) for k, v in expr.items() if k != "_vars")
    if isinstance(expr, (list, tuple)):
        return any(_reads_data(v) for v in expr)
    return False


# --- Where an edit is: a rule run over the solutions it can change ------------------------------

Row = frozenset[tuple[str, str]]  # values of some of a rule's variables: (name, term in N-Triples)


@dataclass(frozen=True)
class Part:
    """A block of triple patterns of a rule (see _block), and the rule's variables its solutions
    show at the top of the rule, each with its name in the block: (the rule's, the block's). A
    variable of a sub-select that the sub-select does not project is the sub-select's own."""

    block: Block
    shown: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Keys:
    """How a rule's solutions are found by the values of its variables, so that the rule can be
    run over only the quads of the solutions an edit can change (see gathered).

    A rule has Keys if its WHERE clause only joins, unites, filters, binds and projects blocks
    of triple patterns (sub-selects among them, with DISTINCT), reads no data in a FILTER or a
    BIND (no EXISTS), and its template has no blank node. Such a rule is monotone: more quads
    only give it more solutions. And a block's variable that its sub-selects project up to the
    top is, in every solution of the rule that takes one of the block's solutions, what it is
    there; so the rule's solutions with given values of such variables take only the block's
    solutions with those values, which a query with them as its VALUES finds quickly.
    """

    parts: tuple[Part, ...]
    certain: frozenset[str]  # the variables every solution binds
    template: tuple[tuple[str, str, str], ...]  # terms in N-Triples, variables as ?name
    paths: frozenset[str]  # the predicates its property paths name

    @property
    def shown(self) -> frozenset[str]:
        """The variables a block shows at the top: those a solution can be found by."""
        return frozenset(name for part in self.parts for name, _ in part.shown)

    def rows(self, store: Store, graph: str) -> set[Row] | None:
        """The values of the shown variables in every solution of the rule that takes a quad of
        this named graph; None if a block with such a solution shows none of its variables."""
        rows: set[Row] = set()
        for part in self.parts:
            for solution in part.block.solutions(store, graph):
                if not part.shown:
                    return None
                rows.add(frozenset((name, str(solution[b])) for name, b in part.shown))
        return rows

    def producing(self, quad: Quad) -> list[dict[str, str]]:
        """The values of the template's variables that make the triple of a quad, one for each
        template triple that can make it."""
        terms = (str(quad.subject), str(quad.predicate), str(quad.object))
        out = []
        for triple in self.template:
            found: dict[str, str] = {}
            for want, have in zip(triple, terms, strict=True):
                if not want.startswith("?"):
                    if want != have:
                        break
                elif found.setdefault(want[1:], have) != have:
                    break
            else:
                out.append(found)
        return out

    def widened(self, store: Store, known: dict[str, str]) -> list[Row] | None:
        """Rows of the shown variables that every solution making what known names must have,
        if it is a solution of the store's inferred graph's last build: known, and the values
        the inferred graph gives a certain variable as the object of a template triple whose
        subject and predicate known names (the solution made that triple too, so it is there).
        None if there are more than a few."""
        shown = self.shown
        values = {name: {term} for name, term in known.items() if name in shown}
        graph = NamedNode(C.INFERRED_GRAPH)
        for s, p, o in self.template:
            name = o[1:]
            if not o.startswith("?") or name in known or name not in self.certain & shown:
                continue
            subject, predicate = (known.get(t[1:], "") if t.startswith("?") else t for t in (s, p))
            if not subject.startswith("<") or not predicate.startswith("<"):
                continue  # (a blank node cannot be asked for by name)
            found = store.quads_for_pattern(
                NamedNode(subject[1:-1]), NamedNode(predicate[1:-1]), None, graph
            )
            terms = {str(quad.object) for quad in found}
            values[name] = values[name] & terms if name in values else terms
            if not values[name]:
                return []
        rows: list[Row] = [frozenset()]
        for name, terms in sorted(values.items()):
            rows = [row | {(name, term)} for row in rows for term in sorted(terms)]
            if len(rows) > _WIDE:
                return None
        return rows


def _term(text: str) -> Term:
    """A term in N-Triples as a pyoxigraph term."""
    quad = next(iter(parse(f"<urn:s> <urn:p> {text} .".encode(), format=RdfFormat.N_TRIPLES)))
    return quad.object


def _queryable(*terms: str) -> bool:
    """Whether terms (in N-Triples) can be written into a query as they are (a blank node would
    be a variable there)."""
    return not any(t.startswith("_:") for t in terms)


def gathered(store: Store, keys: Keys, rows: set[Row], skip: set[str]) -> set[str] | None:
    """The quads (N-Quads lines) of every block's solution in the store that a solution of the
    rule with the values of one of the rows can take, and every quad of a predicate that a
    property path of the rule names; but those of the graphs skip names (IRIs). None if a block
    shows none of a row's variables (all its solutions would be needed), a row has a blank node
    (no query can name it), or a path names too many quads.

    The rule infers from these quads all it infers from its solutions with those values, and
    nothing it does not infer from the whole store (it is monotone: see Keys)."""
    skipped = {f"<{g}>" for g in skip}
    rows = {row for row in rows if not any(other < row for other in rows)}  # (the others hold it)
    asked: set[tuple[Block, tuple[str, ...], frozenset[tuple[str, ...]]]] = set()
    lines: set[str] = set()
    for part in keys.parts:
        tables: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        for row in rows:
            values = dict(row)
            cols = [(b, values[name]) for name, b in part.shown if name in values]
            if not cols or not _queryable(*(t for _, t in cols)):
                return None
            tables.setdefault(tuple(b for b, _ in cols), set()).add(tuple(t for _, t in cols))
        for names, table in sorted(tables.items()):
            question = (part.block, names, frozenset(table))
            if question in asked:  # (a block that two parts share, with the same values)
                continue
            asked.add(question)
            for solution in part.block.valued(store, names, table):
                lines.update(part.block.quads(solution, skipped))
    for iri in sorted(keys.paths):
        quads = list(store.quads_for_pattern(None, NamedNode(iri), None, None))
        if len(quads) > _MANY:
            return None
        lines.update(_lines(iter(quads), skipped))
    return lines


_WIDE = 500  # rows Keys.widened gives at most
_SUBSTITUTED = 20  # rows of values a block is asked about one by one (see Block.valued)
_MANY = 50_000  # quads of a predicate a path names, that a rule run where an edit is reads


def constructed(rule: Rule, quads: bytes) -> set[bytes]:
    """What a rule constructs from these quads alone (N-Quads), as N-Quads lines of the
    inferred graph."""
    store = Store()
    store.load(quads, format=RdfFormat.N_QUADS, lenient=True)
    result = store.query(C.sparql_prefixes() + rule.query, use_default_graph_as_union=True)
    assert isinstance(result, QueryTriples)
    triples = result.serialize(format=RdfFormat.N_TRIPLES) or b""
    del result
    ending = f" <{C.INFERRED_GRAPH}> .\n".encode()
    return set(triples.replace(b" .\n", ending).splitlines(keepends=True))


def _keys(algebra: Any) -> Keys | None:
    """A rule's Keys, if it has them (see Keys)."""
    from rdflib import BNode

    template = algebra.get("template") or []
    if any(isinstance(t, BNode) for triple in template for t in triple):
        return None
    parts: list[Part] = []
    paths: set[str] = set()
    certain = _certain(_part(algebra, "p"), None, {}, [], parts, paths)
    if certain is None:
        return None
    return Keys(
        tuple(dict.fromkeys(parts)),
        certain,
        tuple((_template_term(s), _template_term(p), _template_term(o)) for s, p, o in template),
        frozenset(paths),
    )


def _certain(
    node: Any,
    shown: frozenset[str] | None,
    allowed: dict[str, frozenset[str]],
    conditions: list[Any],
    parts: list[Part],
    paths: set[str],
) -> frozenset[str] | None:
    """The variables every solution of an algebra node binds; the node's blocks go into parts
    (with what VALUES and FILTERs allow them, as in _walk, and the variables shown at the top:
    shown, or all if None), the predicates its paths name into paths. None if the node is not
    of the kinds a rule with Keys has."""
    name = getattr(node, "name", None)
    if name == "BGP":
        triples = list(node.get("triples") or [])
        for _s, p, _o in triples:
            if _is_path(p):
                named = _path(p)
                if named is None:
                    return None
                paths |= named
        block, names = _block(triples, allowed, conditions)
        variables = frozenset(str(x) for t in triples for x in t if _is_var(x))
        visible = variables if shown is None else variables & shown
        if block.patterns:
            parts.append(Part(block, tuple(sorted((v, names[v]) for v in visible if v in names))))
        return variables
    if name in {"Filter", "Extend"}:
        if _reads_data(_part(node, "expr")):
            return None
        inner = _part(node, "p")
        if name == "Filter" and getattr(inner, "name", None) in {"BGP", "Join"}:
            more = [*conditions, *_conjuncts(_part(node, "expr"))]
            return _certain(inner, shown, allowed, more, parts, paths)
        return _certain(inner, shown, {}, [], parts, paths)
    if name in {"ToMultiSet", "Distinct", "Reduced", "OrderBy"}:
        return _certain(_part(node, "p"), shown, {}, [], parts, paths)
    if name == "Project":
        projected = frozenset(str(v) for v in _part(node, "PV", []))
        inner = projected if shown is None else projected & shown
        found = _certain(_part(node, "p"), inner, {}, [], parts, paths)
        return None if found is None else found & projected
    if name == "Join":
        operands = _joined(node)
        here = dict(allowed)
        for operand in operands:
            for var, values in _values(operand).items():
                here[var] = here[var] & values if var in here else values
        bound: frozenset[str] = frozenset()
        for operand in operands:
            more = conditions if getattr(operand, "name", None) == "BGP" else []
            found = _certain(operand, shown, here, more, parts, paths)
            if found is None:
                return None
            bound |= found
        return bound
    if name == "Union":
        left = _certain(_part(node, "p1"), shown, {}, [], parts, paths)
        right = _certain(_part(node, "p2"), shown, {}, [], parts, paths)
        return None if left is None or right is None else left & right
    if name == "values":
        return frozenset(_values(node))
    return None


def _template_term(term: Any) -> str:
    """A term of a rule's template in N-Triples as pyoxigraph writes it (a variable as ?name)."""
    if _is_var(term):
        return f"?{term}"
    text = _n3(term)
    return text if text.startswith("<") else str(_term(text))


def _block(
    triples: list[Any], allowed: dict[str, frozenset[str]], conditions: list[Any]
) -> tuple[Block, dict[str, str]]:
    """A block of _walk as a Block: its patterns but paths, its VALUES and FILTERs; and the
    names it gives the rule's variables."""
    patterns = [t for t in triples if not _is_path(t[1])]
    names: dict[str, str] = {}
    for t in patterns:
        for x in t:
            if _is_var(x) or _is_bnode(x):
                names.setdefault(_n3(x)[1:], f"v{len(names)}")
    for var in sorted(allowed):
        names.setdefault(var, f"v{len(names)}")

    def name(x: Any) -> str:
        return f"?{names[_n3(x)[1:]]}" if _is_var(x) or _is_bnode(x) else _n3(x)

    bound = {str(x) for t in patterns for x in t if _is_var(x)}
    values = " ".join(
        f"VALUES ?{names[var]} {{ {' '.join(sorted(terms))} }}"
        for var, terms in sorted(allowed.items())
    )
    filters = " ".join(f"FILTER({text})" for text in _filters(conditions, bound, names))
    block = Block(tuple((name(s), name(p), name(o)) for s, p, o in patterns), f"{values} {filters}")
    return block, names


def _walk(
    node: Any, allowed: dict[str, frozenset[str]], conditions: list[Any]
) -> Iterator[tuple[list[Any], dict[str, frozenset[str]], list[Any]]]:
    """Every block of triple patterns in an rdflib algebra tree, with the values (in N-Triples)
    that VALUES allows each variable there and the FILTER conditions every solution meets.

    Translated groups hold BGPs; the patterns of EXISTS stay parsed as TriplesBlocks. A VALUES
    clause restricts the blocks it is joined with directly, through nested joins only; so does a
    FILTER, over a block or a join of blocks (a condition on the block's own variables holds of
    every solution the block gives the group).
    """
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue) and node.name == "BGP":
        yield list(node.get("triples") or []), allowed, conditions
        return
    if isinstance(node, CompValue) and node.name == "TriplesBlock":  # (s p o s p o ... lists)
        from rdflib.plugins.sparql.algebra import triples

        yield (triples(node["triples"]) if node.get("triples") else []), allowed, conditions
        return
    if isinstance(node, CompValue) and node.name == "Filter":
        yield from _walk(_part(node, "expr"), {}, [])  # the patterns of its EXISTS
        inner = _part(node, "p")
        if getattr(inner, "name", None) in {"BGP", "Join"}:
            yield from _walk(inner, allowed, [*conditions, *_conjuncts(_part(node, "expr"))])
        else:
            yield from _walk(inner, {}, [])
        return
    if isinstance(node, CompValue) and node.name == "Join":
        operands = _joined(node)
        here = dict(allowed)
        for operand in operands:
            for var, values in _values(operand).items():
                here[var] = here[var] & values if var in here else values
        for operand in operands:
            yield from _walk(
                operand, here, conditions if getattr(operand, "name", None) == "BGP" else []
            )
        return
    if isinstance(node, dict):
        for child in node.values():
            yield from _walk(child, {}, [])
    elif isinstance(node, (list, tuple)):
        for child in node:
            yield from _walk(child, {}, [])


def _conjuncts(expr: Any) -> list[Any]:
    """The conditions a FILTER expression joins with &&."""
    if getattr(expr, "name", None) == "ConditionalAndExpression":
        parts = [_part(expr, "expr"), *_part(expr, "other", [])]
        return [condition for part in parts for condition in _conjuncts(part)]
    return [expr]


def _filters(
    conditions: list[Any], bound: set[str], names: dict[str, str] | None = None
) -> list[str]:
    """The conditions written as SPARQL that only read variables the block binds (renamed as
    names says, if given). Leaving out one that reads others, or that _expression cannot write,
    can only say yes more often (or slice more)."""
    out = []
    for condition in conditions:
        text = _expression(condition, names or {})
        if text is not None and _variables(condition) <= bound:
            out.append(text)
    return out


# The functions of a FILTER condition written back as SPARQL: pure ones on terms, with their
# arguments in order. Anything else (EXISTS, arithmetic, casts) leaves the condition out.
_FUNCTIONS = {
    "Builtin_" + name: name
    for name in [
        "STR",
        "LANG",
        "DATATYPE",
        "isIRI",
        "isURI",
        "isBLANK",
        "isLITERAL",
        "isNUMERIC",
        "BOUND",
        "sameTerm",
        "STRSTARTS",
        "STRENDS",
        "CONTAINS",
        "REGEX",
        "LCASE",
        "UCASE",
        "STRLEN",
        "LANGMATCHES",
    ]
}
_ARGUMENTS = ("arg", "arg1", "arg2", "arg3", "text", "pattern", "flags")


def _expression(expr: Any, names: dict[str, str]) -> str | None:
    """A FILTER expression of rdflib's algebra as SPARQL, its variables renamed as names says, or
    None if it is not one of the kinds written here."""
    from rdflib import Literal, URIRef, Variable

    if isinstance(expr, Variable):
        return f"?{names.get(str(expr), str(expr))}"
    if isinstance(expr, (URIRef, Literal)):
        return str(expr.n3())
    name = getattr(expr, "name", None)
    parts: list[str | None]
    if name in {"ConditionalAndExpression", "ConditionalOrExpression"}:
        parts = [_expression(e, names) for e in [_part(expr, "expr"), *_part(expr, "other", [])]]
        joiner = " && " if name == "ConditionalAndExpression" else " || "
        return None if None in parts else "(" + joiner.join(str(p) for p in parts) + ")"
    if name == "UnaryNot":
        inner = _expression(_part(expr, "expr"), names)
        return None if inner is None else f"(!{inner})"
    if name == "RelationalExpression":
        op, left = _part(expr, "op"), _expression(_part(expr, "expr"), names)
        other = _part(expr, "other")
        if op in {"IN", "NOT IN"}:
            parts = [_expression(e, names) for e in other]
            right = None if None in parts else "(" + ", ".join(str(p) for p in parts) + ")"
        else:
            right = _expression(other, names)
        return None if left is None or right is None else f"({left} {op} {right})"
    if name in _FUNCTIONS:
        parts = [_expression(expr[k], names) for k in _ARGUMENTS if k in expr]
        return None if None in parts else f"{_FUNCTIONS[name]}({', '.join(str(p) for p in parts)})"
    return None


def _variables(expr: Any) -> set[str]:
    """The names of the variables an expression reads."""
    from rdflib import Variable

    if isinstance(expr, Variable):
        return {str(expr)}
    if isinstance(expr, dict):
        return {v for k, child in expr.items() if k != "_vars" for v in _variables(child)}
    if isinstance(expr, (list, tuple)):
        return {v for child in expr for v in _variables(child)}
    return set()


def _part(node: Any, key: str, default: Any = None) -> Any:
    """A part of an algebra node (a CompValue's own get answers a missing key with its name)."""
    return dict.get(node, key, default)


def _is_var(term: Any) -> bool:
    from rdflib import Variable

    return isinstance(term, Variable)


def _is_bnode(term: Any) -> bool:
    from rdflib import BNode

    return isinstance(term, BNode)


def _joined(node: Any) -> list[Any]:
    """The operands of a tree of joins."""
    out = []
    for part in (node.get("p1"), node.get("p2")):
        if getattr(part, "name", None) == "Join":
            out += _joined(part)
        else:
            out.append(part)
    return out


def _values(node: Any) -> dict[str, frozenset[str]]:
    """The values a VALUES clause (an operand of a join) gives each variable it always binds."""
    while getattr(node, "name", None) == "ToMultiSet":
        node = node.get("p")
    if getattr(node, "name", None) != "values":
        return {}
    rows = node.get("res") or []
    out = {}
    for var in {var for row in rows for var in row}:
        terms = [row.get(var) for row in rows]
        if rows and all(t is not None and t != "UNDEF" for t in terms):
            out[str(var)] = frozenset(_n3(t) for t in terms)
    return out


def _is_path(p: Any) -> bool:
    from rdflib.paths import Path as RdflibPath

    return isinstance(p, RdflibPath)


def _path(p: Any) -> frozenset[str] | None:
    """The IRIs a property path names, or None if it can match any predicate."""
    from rdflib import URIRef
    from rdflib.paths import NegatedPath

    if isinstance(p, URIRef):
        return frozenset({str(p)})
    parts = getattr(p, "args", None) or [getattr(p, "path", None) or getattr(p, "arg", None)]
    if isinstance(p, NegatedPath) or None in parts:
        return None
    iris: set[str] = set()
    for part in parts:
        sub = _path(part)
        if sub is None:
            return None
        iris |= sub
    return frozenset(iris)


def _n3(t: Any) -> str:
    """A term in SPARQL syntax; a blank node is a variable (its label is no term of the data)."""
    from rdflib import BNode, Variable

    if isinstance(t, BNode):
        return f"?_b{t}"
    if isinstance(t, Variable):
        return f"?{t}"
    return str(t.n3())
