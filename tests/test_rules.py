"""The rules reach the same fixpoint whether or not a rule is run again only when the inferred
triples can change its result; the analysis that decides it reads every triple pattern."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import RdfFormat, Store, Variable

from graph import constants as C
from graph import rules as R
from graph.build import build, current_snapshot

EX = "http://example.org/"
INFERRED = f"<{C.INFERRED_GRAPH}>"


@pytest.fixture(autouse=True, params=["joined by values", "asked in one query"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every question of the analysis is asked both ways (graph.rules.Ask): a pattern's matches
    joined to the rest of its block by their values, and all in one query (as with many)."""
    if request.param == "asked in one query":
        monkeypatch.setattr(R, "_FEW", 0)


def rule(name: str, query: str) -> R.Rule:
    return R.Rule(name, name, "", query, Path(f"/p/ontology/rules/{name}.rq"))


def store_with(document: str = "", inferred: str = "") -> Store:
    """A store holding these Turtle triples in a document graph and in the inferred graph."""
    store = Store()
    store.load(f"<{EX}doc> {{ {document} }} {INFERRED} {{ {inferred} }}", format=RdfFormat.TRIG)
    return store


def changed(query: str, store: Store) -> bool:
    return R._reads(query).changed_by(store, C.INFERRED_GRAPH)


def test_a_rule_fed_by_a_later_rule_still_reaches_the_fixpoint() -> None:
    uses = rule("uses", f"CONSTRUCT {{ ?x <{EX}c> ?y }} WHERE {{ ?x <{EX}b> ?y }}")
    makes = rule("makes", f"CONSTRUCT {{ ?x <{EX}b> ?y }} WHERE {{ ?x <{EX}a> ?y }}")
    out, problems = R.apply_rules(store_with(f"<{EX}s> <{EX}a> <{EX}o> ."), [uses, makes])
    assert problems == []
    assert f"<{EX}s> <{EX}c> <{EX}o> {INFERRED} .".encode() in out.splitlines()


def test_the_real_rules_derive_what_running_every_rule_every_round_derives(
    valid_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(valid_project, tmp_path / "out")
    nquads = (current_snapshot(tmp_path / "out") / C.OUT_NQUADS).read_bytes()
    asserted = b"".join(
        line + b"\n" for line in nquads.splitlines() if not line.endswith(f"{INFERRED} .".encode())
    )
    rules = R.load_rules(valid_project / C.ONTOLOGY_DIRNAME)

    def run() -> tuple[bytes, Store]:
        store = Store()
        store.load(asserted, format=RdfFormat.N_QUADS)
        out, problems = R.apply_rules(store, rules)
        assert problems == []
        return out, store

    analysed, store = run()
    # the action-line rule's claims cannot feed it; the types rule reads its own output
    due = {r.id: R._reads(r.query).changed_by(store, C.INFERRED_GRAPH) for r in rules}
    assert due == {"action-line-coverage": False, "types": True}
    with monkeypatch.context() as m:
        m.setattr(R, "_reads", lambda _query: R.Reads(None))
        every_round, _ = run()
    assert analysed == every_round
    assert b"action-line-coverage" in analysed


def test_a_triple_counts_only_if_the_rest_of_its_block_can_match() -> None:
    query = f"CONSTRUCT {{ ?c <{EX}seen> ?v }} WHERE {{ ?c <{EX}kind> <{EX}K> ; <{EX}val> ?v }}"
    new = f"<{EX}c1> <{EX}val> 1 ."
    assert not changed(query, store_with(inferred=new))
    assert changed(query, store_with(document=f"<{EX}c1> <{EX}kind> <{EX}K> .", inferred=new))
    assert not changed(query, store_with(document=f"<{EX}c2> <{EX}kind> <{EX}K> .", inferred=new))


def test_a_block_written_twice_is_asked_about_once() -> None:
    block = f"?c <{EX}kind> <{EX}K> ; <{EX}val> ?v ."
    once = R._reads(f"CONSTRUCT {{ ?c <{EX}seen> ?v }} WHERE {{ {block} }}")
    twice = R._reads(
        f"CONSTRUCT {{ ?c <{EX}seen> ?v }} WHERE {{ {{ {block} }} UNION {{ {block} }} }}"
    )
    assert once.asks and twice.asks == once.asks


def test_values_joined_to_a_block_limit_what_counts() -> None:
    query = f"CONSTRUCT {{ ?s <{EX}seen> ?o }} WHERE {{ ?s ?p ?o . VALUES ?p {{ <{EX}a> }} }}"
    assert not changed(query, store_with(inferred=f"<{EX}x> <{EX}z> <{EX}y> ."))
    assert changed(query, store_with(inferred=f"<{EX}x> <{EX}a> <{EX}y> ."))


def test_patterns_under_exists_optional_and_subqueries_are_read() -> None:
    new = f"<{EX}s> <{EX}blocked> true ."
    for where in (
        f"?s <{EX}a> ?o FILTER NOT EXISTS {{ ?s <{EX}blocked> true }}",
        f"?s <{EX}a> ?o OPTIONAL {{ ?s <{EX}blocked> ?b }}",
        f"{{ SELECT ?s WHERE {{ ?s <{EX}blocked> ?b }} }}",
        f"?s <{EX}a> ?o MINUS {{ ?s <{EX}blocked> true }}",
    ):
        query = f"CONSTRUCT {{ ?s <{EX}seen> true }} WHERE {{ {where} }}"
        assert changed(query, store_with(f"<{EX}s> <{EX}a> <{EX}o> .", inferred=new)), where
        assert not changed(query, store_with(f"<{EX}s> <{EX}a> <{EX}o> .")), where


def test_patterns_under_exists_written_with_semicolons_and_commas_are_read() -> None:
    """rdflib leaves the patterns of an EXISTS as its parser read them, each subject's in one
    list: a block with `;` or `,` there is read triple by triple (it raised ValueError)."""
    where = f"?s <{EX}a> ?o FILTER NOT EXISTS {{ ?c <{EX}about> ?s ; <{EX}says> <{EX}no> , <{EX}never> }}"
    query = f"CONSTRUCT {{ ?s <{EX}seen> true }} WHERE {{ {where} }}"
    base = f"<{EX}s> <{EX}a> <{EX}o> . <{EX}c> <{EX}says> <{EX}no> "
    about = f"<{EX}c> <{EX}about> <{EX}s> ."
    assert changed(query, store_with(base + f", <{EX}never> .", inferred=about))
    assert not changed(query, store_with(base + ".", inferred=about))  # the block needs all three


def test_a_path_counts_any_triple_with_a_predicate_it_names() -> None:
    query = f"CONSTRUCT {{ ?x <{EX}reach> ?y }} WHERE {{ ?x (<{EX}p>|^<{EX}q>)+ ?y }}"
    assert changed(query, store_with(inferred=f"<{EX}a> <{EX}q> <{EX}b> ."))
    assert not changed(query, store_with(inferred=f"<{EX}a> <{EX}r> <{EX}b> ."))
    negated = f"CONSTRUCT {{ ?x <{EX}reach> ?y }} WHERE {{ ?x !(<{EX}p>|^<{EX}q>) ?y }}"
    assert changed(negated, store_with(inferred=f"<{EX}a> <{EX}r> <{EX}b> ."))
    # a path is no condition on the other patterns of its block
    beside = f"CONSTRUCT {{ ?x <{EX}seen> ?v }} WHERE {{ ?x !(<{EX}p>|^<{EX}q>) ?y ; <{EX}v> ?v }}"
    assert changed(beside, store_with(inferred=f"<{EX}a> <{EX}v> 1 ."))


def test_a_rule_rdflib_cannot_read_always_runs_again() -> None:
    assert R._reads("CONSTRUCT WHERE { this is not SPARQL }").asks is None
    assert changed("CONSTRUCT WHERE { this is not SPARQL }", Store())


def test_a_filter_on_the_block_s_own_variables_limits_what_counts() -> None:
    query = (
        f"CONSTRUCT {{ ?x <{EX}seen> true }} WHERE {{ ?x a ?c ; <{EX}v> ?v "
        f'FILTER(STRSTARTS(STR(?x), "{EX}id/") && ?v != 0) }}'
    )
    document = f"<{EX}id/1> <{EX}v> 1 . <{EX}claim/1> <{EX}v> 1 . <{EX}id/2> <{EX}v> 0 ."
    for typed, counts in (("id/1", True), ("claim/1", False), ("id/2", False)):
        store = store_with(document, inferred=f"<{EX}{typed}> a <{EX}C> .")
        assert changed(query, store) is counts, typed


def test_a_filter_the_analysis_cannot_apply_is_left_out() -> None:
    new = f"<{EX}claim/1> a <{EX}C> ."
    subselect = f"{{ SELECT ?x ?y WHERE {{ ?x <{EX}y> ?y }} }}"
    optional = f"OPTIONAL {{ ?x <{EX}y> ?y }}"
    for other, condition in (
        (subselect, f'STRSTARTS(STR(?y), "{EX}id/")'),  # ?y is bound outside the block
        (optional, f'STRSTARTS(STR(?y), "{EX}id/")'),
        ("", "?n + 1 > 2"),  # arithmetic is not written back
    ):
        query = (
            f"CONSTRUCT {{ ?x <{EX}seen> true }} WHERE {{ ?x a ?c ; <{EX}n> ?n . {other} "
            f"FILTER({condition}) }}"
        )
        store = store_with(f"<{EX}claim/1> <{EX}n> 0 ; <{EX}y> <{EX}id/1> .", inferred=new)
        assert changed(query, store), (other, condition)


# --- The slice of the store the rules read (graph.rules.slice_of) ----------------------------------


def infer_from(store: Store, rules: list[R.Rule]) -> bytes:
    out, problems = R.apply_rules(store, rules)
    assert problems == []
    return out


def test_the_real_rules_infer_from_their_slice_what_they_infer_from_the_whole_graph(
    valid_project: Path, tmp_path: Path
) -> None:
    build(valid_project, tmp_path / "out")
    nquads = (current_snapshot(tmp_path / "out") / C.OUT_NQUADS).read_bytes()
    rules = R.load_rules(valid_project / C.ONTOLOGY_DIRNAME)
    whole = Store()
    whole.load(nquads, format=RdfFormat.N_QUADS)  # with the inferred graph, which is left out
    part = R.slice_of(whole, [R._reads(r.query) for r in rules], C.INFERRED_GRAPH)
    assert part is not None
    sliced = Store()
    sliced.load(part, format=RdfFormat.N_QUADS)
    assert 0 < len(sliced) < len(whole) / 2
    assert not any(q.graph_name.value == C.INFERRED_GRAPH for q in sliced)  # type: ignore[union-attr]
    asserted = Store()
    asserted.load(
        b"".join(
            line + b"\n"
            for line in nquads.splitlines()
            if not line.endswith(f"{INFERRED} .".encode())
        ),
        format=RdfFormat.N_QUADS,
    )
    assert infer_from(sliced, rules) == infer_from(asserted, rules)


def test_a_slice_holds_only_what_a_block_lets_through_in_the_graphs_it_is_in() -> None:
    query = (
        f"CONSTRUCT {{ ?c <{EX}seen> ?v }} WHERE {{ ?c <{EX}kind> <{EX}K> ; <{EX}val> ?v . "
        f"FILTER(?v != 2) }}"
    )
    store = Store()
    store.load(
        f"<{EX}g1> {{ <{EX}c1> <{EX}kind> <{EX}K> . <{EX}c2> <{EX}kind> <{EX}K> . "
        f"<{EX}c3> <{EX}val> 3 . }} "
        f"<{EX}g2> {{ <{EX}c1> <{EX}val> 1 . <{EX}c2> <{EX}val> 2 . <{EX}c1> <{EX}other> 1 . }}",
        format=RdfFormat.TRIG,
    )
    part = R.slice_of(store, [R._reads(query)], C.INFERRED_GRAPH)
    assert part is not None
    assert sorted(part.decode().splitlines()) == [
        f"<{EX}c1> <{EX}kind> <{EX}K> <{EX}g1> .",
        f'<{EX}c1> <{EX}val> "1"^^<http://www.w3.org/2001/XMLSchema#integer> <{EX}g2> .',
    ]


def test_a_slice_holds_every_triple_a_path_names() -> None:
    query = f"CONSTRUCT {{ ?x <{EX}under> ?y }} WHERE {{ ?x <{EX}in> ?z . ?z <{EX}part>+ ?y }}"
    store = store_with(f"<{EX}a> <{EX}part> <{EX}b> . <{EX}b> <{EX}part> <{EX}c> .")
    part = R.slice_of(store, [R._reads(query)], C.INFERRED_GRAPH)
    assert part is not None and part.count(f"<{EX}part>".encode()) == 2


@pytest.mark.parametrize(
    "query",
    [
        f"CONSTRUCT {{ ?x <{EX}near> ?y }} WHERE {{ ?x !<{EX}far> ?y }}",  # any other predicate
        "CONSTRUCT { ?x ?p ?y } WHERE { ?x ?p ?y . FILTER(",  # rdflib cannot read it
    ],
)
def test_a_rule_that_cannot_be_sliced_has_no_slice(query: str) -> None:
    assert R.slice_of(store_with(f"<{EX}a> <{EX}b> <{EX}c> ."), [R._reads(query)], "") is None


def test_what_the_rules_infer_anew_is_asked_whether_it_reads_beyond_the_slice() -> None:
    """A slice is made before the rules run: a triple they infer can give a block a solution
    with a quad the slice lacks (Reads.beyond)."""
    query = f"CONSTRUCT {{ ?x <{EX}named> ?n }} WHERE {{ ?x <{EX}flag> true ; <{EX}name> ?n }}"
    read = R._reads(query)
    store = store_with(
        f'<{EX}a> <{EX}name> "A" . <{EX}b> <{EX}name> "B" .', f"<{EX}a> <{EX}flag> true ."
    )
    part = R.slice_of(store, [read], C.INFERRED_GRAPH)
    assert part is not None and b'"A"' in part and b'"B"' not in part
    sliced = Store()
    sliced.load(part, format=RdfFormat.N_QUADS)
    new = f"{EX}new"
    store.load(f"<{new}> {{ <{EX}a> <{EX}flag> true . }}", format=RdfFormat.TRIG)
    assert not read.beyond(store, new, sliced, {C.INFERRED_GRAPH})
    store.load(f"<{new}> {{ <{EX}b> <{EX}flag> true . }}", format=RdfFormat.TRIG)
    assert read.beyond(store, new, sliced, {C.INFERRED_GRAPH})


@pytest.mark.parametrize(
    ("where", "keyed"),
    [
        (f"?c <{EX}kind> <{EX}K> ; <{EX}val> ?v", True),
        (f"?c <{EX}kind> ?k FILTER(?k != <{EX}K>) BIND(STR(?k) AS ?v)", True),
        (f"?c <{EX}sub>+ ?v", True),
        (f"{{ ?c <{EX}a> ?v }} UNION {{ ?c <{EX}b> ?v }}", True),
        (f"{{ SELECT DISTINCT ?c ?v WHERE {{ ?c <{EX}a> ?v }} }}", True),
        (f"?c <{EX}a> ?v VALUES ?v {{ 1 2 }}", True),
        (f"?c <{EX}a> ?v OPTIONAL {{ ?c <{EX}b> ?w }}", False),
        (f"?c <{EX}a> ?v MINUS {{ ?c <{EX}b> ?v }}", False),
        (f"?c <{EX}a> ?v FILTER NOT EXISTS {{ ?c <{EX}b> ?v }}", False),
        (f"?c <{EX}a> ?v FILTER EXISTS {{ ?c <{EX}b> ?v }}", False),
        (f"?c <{EX}a> ?v BIND(EXISTS {{ ?c <{EX}b> 1 }} AS ?w)", False),
        (f"{{ SELECT ?c (COUNT(*) AS ?v) WHERE {{ ?c <{EX}a> ?x }} GROUP BY ?c }}", False),
        (f"{{ SELECT ?c ?v WHERE {{ ?c <{EX}a> ?v }} LIMIT 1 }}", False),
        (f"GRAPH ?g {{ ?c <{EX}a> ?v }}", False),
    ],
)
def test_a_rule_has_keys_if_more_quads_only_give_it_more_solutions(where: str, keyed: bool) -> None:
    """A rule is run where an edit is only if it is monotone (Keys): with OPTIONAL, MINUS, EXISTS,
    NOT EXISTS or an aggregate, a new quad can take a solution away; with LIMIT, push one out; and
    GRAPH reads one graph where the rule is run over a few quads kept in others."""
    keys = R._reads(f"CONSTRUCT {{ ?c <{EX}seen> ?v }} WHERE {{ {where} }}").keys
    assert (keys is not None) is keyed


def test_a_blank_node_in_the_template_leaves_a_rule_without_keys() -> None:
    """A rule run twice, where an edit was and where it is, would make two blank nodes."""
    assert R._reads(f"CONSTRUCT {{ ?c <{EX}seen> [] }} WHERE {{ ?c <{EX}a> ?v }}").keys is None


def test_a_sub_select_shows_what_it_projects_and_a_union_binds_what_both_branches_do() -> None:
    """The action-line rule's claim that an action line holds an intervention is in a sub-select
    that projects the intervention and the line, not the claim: a solution is found by those.
    The claim's variable outside (?inLine) is another variable, shown at the top; bound in one
    branch of the union only, it is not certain, nor is the IRI a BIND makes."""
    found = {r.id: R._reads(r.query).keys for r in R.load_rules(Path("ontology"))}
    assert set(found) == {"action-line-coverage", "types"}
    keys = found["action-line-coverage"]
    assert keys is not None
    shown = {tuple(name for name, _ in part.shown) for part in keys.parts}
    assert shown == {
        ("intervention", "line"),
        ("bottleneck", "line", "mapsTo"),
        ("inLine", "intervention", "line"),
        ("bottleneck", "line", "mapping", "mapsTo"),
    }
    assert keys.certain == {"intervention", "line", "bottleneck", "mapsTo", "primary"}
    types = found["types"]
    assert types is not None and types.paths == {C.PREFIXES["rdfs"] + "subClassOf"}


SUB_SELECTS = (  # (?x of the third sub-select is its own: not the first's)
    f"CONSTRUCT {{ ?x <{EX}reaches> ?z . ?x <{EX}via> ?y }} WHERE {{\n"
    f"  {{ SELECT DISTINCT ?x ?y WHERE {{ ?c <{EX}from> ?x ; <{EX}to> ?y ; <{EX}ok> true }} }}\n"
    f"  {{ SELECT DISTINCT ?y ?z WHERE {{ ?y <{EX}next> ?z }} }}\n"
    f"  {{ SELECT DISTINCT ?z WHERE {{ ?z <{EX}tag> ?x }} }} }}"
)


def test_the_quads_gathered_for_some_values_make_all_the_rule_makes_with_them_and_no_more() -> None:
    """graph.rules.gathered: over the quads it gathers for some values of the shown variables,
    the rule makes everything it makes over the whole store with its variables bound to them
    (here, through two sub-selects), and nothing it does not make over the whole store."""
    nodes = [f"<{EX}n{i}>" for i in range(12)]
    data = []
    for i in range(40):  # claims from node to node, some not ok; and a chain of next steps
        x, y = nodes[i % 12], nodes[(i * 5 + 1) % 12]
        data.append(
            f"<{EX}c{i}> <{EX}from> {x} ; <{EX}to> {y} ; <{EX}ok> {str(i % 3 > 0).lower()} ."
        )
    data += [f"{nodes[i]} <{EX}next> {nodes[(i * 7 + 2) % 12]} ." for i in range(12)]
    data += [f"{nodes[i]} <{EX}tag> {nodes[(i + 3) % 12]} ." for i in range(12)]
    store = store_with(" ".join(data))
    the_rule = rule("reaches", SUB_SELECTS)
    keys = R._reads(SUB_SELECTS).keys
    assert keys is not None
    whole = R.constructed(the_rule, store.dump(format=RdfFormat.N_QUADS))
    for rows in [
        {frozenset({("y", nodes[3]), ("z", nodes[11])})},
        {frozenset({("x", nodes[1]), ("y", nodes[6]), ("z", nodes[8])})},
    ]:
        lines = R.gathered(store, keys, rows, set())
        assert lines is not None
        made = R.constructed(the_rule, "".join(sorted(lines)).encode())
        assert made <= whole
        for row in rows:
            bound = {Variable(name): R._term(term) for name, term in row}
            result = store.query(
                C.sparql_prefixes() + SUB_SELECTS,
                use_default_graph_as_union=True,
                substitutions=bound,
            )
            triples = (result.serialize(format=RdfFormat.N_TRIPLES) or b"").splitlines()
            assert triples  # (each row has solutions)
            assert {t.removesuffix(b" .") + f" {INFERRED} .\n".encode() for t in triples} <= made


def test_a_block_that_shows_none_of_a_row_s_variables_cannot_be_gathered() -> None:
    """All its solutions could join a solution with those values: gathering would read them all."""
    keys = R._reads(SUB_SELECTS).keys
    assert keys is not None
    store = store_with(f"<{EX}c> <{EX}from> <{EX}a> ; <{EX}to> <{EX}b> ; <{EX}ok> true .")
    only_x = {frozenset({("x", f"<{EX}a>")})}  # the others show y and z, not x
    assert R.gathered(store, keys, only_x, set()) is None
    only_z = {frozenset({("z", f"<{EX}b>")})}  # the first shows x and y, not z
    assert R.gathered(store, keys, only_z, set()) is None
    each = {frozenset({("y", f"<{EX}b>"), ("z", f"<{EX}b>")})}
    assert R.gathered(store, keys, each, set()) is not None


def test_the_inferred_graph_tells_the_values_of_what_made_a_triple() -> None:
    """Keys.widened: a triple made of the IRI a BIND made names no shown variable, but the
    solution that made it made the template's other triples of that IRI too: their objects in
    the inferred graph give the values of the certain variables there."""
    query = (
        f"CONSTRUCT {{ ?n a <{EX}Note> ; <{EX}on> ?x ; <{EX}by> ?y }} WHERE {{ ?x <{EX}p> ?y "
        f'BIND(IRI(CONCAT(STR(?x), "-note")) AS ?n) }}'
    )
    keys = R._reads(query).keys
    assert keys is not None
    note = f"<{EX}a-note>"
    store = store_with(
        inferred=f"{note} a <{EX}Note> ; <{EX}on> <{EX}a> ; <{EX}by> <{EX}b> , <{EX}c> ."
    )
    known = {"n": note}
    rows = keys.widened(store, known)
    assert rows is not None
    assert sorted(dict(row)["y"] for row in rows) == [f"<{EX}b>", f"<{EX}c>"]
    assert {dict(row)["x"] for row in rows} == {f"<{EX}a>"}
    assert keys.widened(store, {"n": f"<{EX}other-note>"}) == []  # it made nothing of that IRI


def test_a_slice_is_given_only_the_inferred_triples_a_rule_can_read() -> None:
    """apply_rules(whole=False), as over a slice: the same triples are inferred, the second
    round included, but the store is given only those with a predicate a rule's pattern names."""
    from pyoxigraph import NamedNode

    rules = [
        rule(
            "kind",
            f"CONSTRUCT {{ ?x <{EX}seen> true . ?x <{EX}kind> <{EX}K> }} WHERE {{ ?x <{EX}p> ?y }}",
        ),
        rule("noted", f"CONSTRUCT {{ ?x <{EX}noted> true }} WHERE {{ ?x <{EX}kind> <{EX}K> }}"),
    ]
    stores = [store_with(f"<{EX}x> <{EX}p> 1 ."), store_with(f"<{EX}x> <{EX}p> 1 .")]
    whole, _ = R.apply_rules(stores[0], rules)
    part, _ = R.apply_rules(stores[1], rules, whole=False)
    assert whole == part and f"<{EX}noted>".encode() in whole  # (two rounds)

    def predicates(store: Store) -> set[str]:
        found = store.quads_for_pattern(None, None, None, NamedNode(C.INFERRED_GRAPH))
        return {q.predicate.value for q in found}

    assert predicates(stores[0]) == {f"{EX}seen", f"{EX}kind", f"{EX}noted"}
    assert predicates(stores[1]) == {f"{EX}kind"}
