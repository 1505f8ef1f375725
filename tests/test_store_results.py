"""The embedded store's SELECT results are read from SPARQL TSV (graph.store._tsv_table): every
kind of term must come back exactly as pyoxigraph's own objects describe it."""

from __future__ import annotations

import pytest
from pyoxigraph import QuerySolutions, Store

from graph.store import EmbeddedBackend, Table, Term, _term

EVERY_KIND = r"""SELECT * WHERE {
  VALUES (?iri ?text ?lang ?int ?dec ?dbl ?bool ?year ?none) {
    (<http://example.org/a%20b?x=1#y> "tab\there \\ back\"quote\nline\r é \U0001F600 \u00e9"
     "Tweede Kamer"@nl-NL 42 1.5 1e3 true "2025"^^<http://www.w3.org/2001/XMLSchema#gYear> UNDEF)
    (UNDEF "" ""@en -7 -0.25 -2.5E-3 false "x"^^<http://example.org/dt> UNDEF)
  }
}"""


def _objects(store: Store, query: str) -> Table:
    res = store.query(query)
    assert isinstance(res, QuerySolutions)
    names = [v.value for v in res.variables]
    return Table(names, [{n: _term(sol[n]) for n in names} for sol in res])


@pytest.mark.parametrize(
    "query",
    [
        EVERY_KIND,
        "SELECT ?a WHERE { VALUES ?a { 1 UNDEF 2 UNDEF } }",
        "SELECT ?a WHERE { VALUES ?a { UNDEF } }",
        "SELECT ?a WHERE { FILTER(false) }",
        "SELECT * WHERE {}",
        "SELECT ?a ?b WHERE { VALUES (?a ?b) { (UNDEF UNDEF) (1 UNDEF) } }",
    ],
)
def test_results_read_from_tsv_equal_the_engine_terms(query: str) -> None:
    store = Store()
    got = EmbeddedBackend.over(store).select(query)
    expected = _objects(store, query)
    assert got.variables == expected.variables
    assert got.rows == expected.rows
    if query is EVERY_KIND:
        assert got.rows[0]["text"] == Term(
            "literal",
            'tab\there \\ back"quote\nline\r é \U0001f600 é',
            None,
            "http://www.w3.org/2001/XMLSchema#string",
        )


def test_blank_nodes_come_back_as_blank_nodes() -> None:
    store = Store()
    store.update("INSERT DATA { GRAPH <http://g> { _:b <http://p> _:c } }")
    rows = EmbeddedBackend.over(store).select("SELECT ?s ?o WHERE { GRAPH ?g { ?s ?p ?o } }").rows
    assert [(r["s"].kind, r["o"].kind) for r in rows if r["s"] and r["o"]] == [("bnode", "bnode")]
    assert rows[0]["s"] != rows[0]["o"]
