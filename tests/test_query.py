"""`dkg query`: query forms, result formats, stored queries, parameters, errors and the timeout,
run against the real project built once into a temporary folder."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from graph.cli import main
from graph.errors import QueryError
from graph.query import bind, parameters, parse_value, query_form, run_query, stored_queries
from graph.store import Term, declares_dataset

ROOT = Path(__file__).resolve().parent.parent
ID = "https://w3id.org/dkg/id/"


def dkg(built: Path, *args: str, input: str | None = None) -> Result:
    """Run the CLI in-process against the session build."""
    return CliRunner().invoke(
        main, ["-C", str(ROOT), *args], env={"DKG_BUILD": str(built)}, input=input
    )


# --- Query text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("SELECT * WHERE { ?s ?p ?o }", "SELECT"),
        (
            "# a comment with SELECT in it\nPREFIX ex: <http://example.org/x#>\nask { ?s ?p ?o }",
            "ASK",
        ),
        ("BASE <http://example.org/>\n  construct { ?s ?p ?o } WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("DESCRIBE id:secfund", "DESCRIBE"),
    ],
)
def test_query_form_skips_comments_and_prefixes(text: str, form: str) -> None:
    assert query_form(text) == form


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("INSERT DATA { id:a id:b id:c }", "only reads"),
        ("  # nothing but a comment\n", "empty"),
        ("SELEKT * WHERE { ?s ?p ?o }", "not a SPARQL query"),
    ],
)
def test_query_form_refuses_updates_and_nonsense(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        query_form(text)


def test_parse_value_reads_ids_iris_curies_and_quoted_text() -> None:
    assert parse_value("secfund") == Term("iri", ID + "secfund")
    assert parse_value("<https://example.org/x>") == Term("iri", "https://example.org/x")
    assert parse_value("dkg:Instrument") == Term("iri", "https://w3id.org/dkg/ontology#Instrument")
    assert parse_value('"SecFund"') == Term("literal", "SecFund")
    for bad in ["secfund } UNION {", "<a b>", "nope:thing", 'x" . ?s ?p ?o']:
        with pytest.raises(QueryError):
            parse_value(bad)


def test_bind_replaces_the_parameter_block_with_an_escaped_term() -> None:
    text = "SELECT ?c WHERE {\n  VALUES ?document { id:old }\n  ?c dkg:source ?document }"
    assert parameters(text) == {"document": "id:old"}
    bound = bind(text, {"document": Term("literal", 'a "quoted" } text')})
    assert 'VALUES ?document { "a \\"quoted\\" } text" }' in bound
    assert "id:old" not in bound
    # A query without the block gets a trailing VALUES clause.
    assert (
        bind("SELECT ?x WHERE { ?x a dkg:Instrument }", {"x": parse_value("secfund")})
        .rstrip()
        .endswith(f"VALUES ?x {{ <{ID}secfund> }}")
    )


# --- Running, and the result formats --------------------------------------------------------------

INSTRUMENTS = """
SELECT ?instrument ?label WHERE {
  ?instrument a dkg:Instrument ; skos:prefLabel ?label . FILTER(LANG(?label) = "nl")
  VALUES ?instrument { id:secfund id:ttt }
} ORDER BY ?instrument
"""


def test_select_as_a_table(built: Path) -> None:
    result = dkg(built, "query", INSTRUMENTS)
    assert result.exit_code == 0, result.output
    assert "id:secfund" in result.output and "SecFund" in result.output
    assert "2 rows" in result.output


def test_select_as_csv_follows_the_sparql_results_csv_format(built: Path) -> None:
    result = dkg(built, "query", INSTRUMENTS, "-f", "csv")
    assert result.exit_code == 0, result.output
    assert b"\r\n" in result.stdout_bytes
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["instrument", "label"]
    assert rows[1] == [ID + "secfund", "SecFund"]
    assert rows[2][0] == ID + "ttt"


def test_select_as_tsv_writes_terms_in_turtle_syntax(built: Path) -> None:
    result = dkg(built, "query", INSTRUMENTS, "-f", "tsv")
    lines = result.output.splitlines()
    assert lines[0] == "?instrument\t?label"
    assert lines[1] == f'<{ID}secfund>\t"SecFund"@nl'


def test_select_as_sparql_results_json(built: Path) -> None:
    result = dkg(built, "query", INSTRUMENTS, "-f", "json")
    doc = json.loads(result.output)
    assert doc["head"]["vars"] == ["instrument", "label"]
    first = doc["results"]["bindings"][0]
    assert first["instrument"] == {"type": "uri", "value": ID + "secfund"}
    assert first["label"] == {"type": "literal", "value": "SecFund", "xml:lang": "nl"}


def test_typed_literals_keep_their_datatype_in_json(built: Path) -> None:
    query = "SELECT ?v WHERE { ?c rdf:subject id:secfund ; rdf:predicate dkg:budget ; rdf:object ?a . ?a schema:value ?v }"
    doc = json.loads(dkg(built, "query", query, "-f", "json").output)
    values = {b["v"]["value"] for b in doc["results"]["bindings"]}
    assert values == {"100000000"}
    assert (
        doc["results"]["bindings"][0]["v"]["datatype"] == "http://www.w3.org/2001/XMLSchema#decimal"
    )


def test_ask(built: Path) -> None:
    yes = dkg(built, "query", "ASK { id:ez dkg:leads id:financieringstafel }", "-f", "json")
    assert json.loads(yes.output) == {"head": {}, "boolean": True}
    # Financiën does not take part: the plain triple is only asserted for affirmed claims.
    no = dkg(built, "query", "ASK { id:financien dkg:participatesIn id:financieringstafel }")
    assert no.exit_code == 0 and no.output.strip() == "false"


def test_construct_as_turtle_and_ntriples(built: Path) -> None:
    from pyoxigraph import RdfFormat, parse

    query = "CONSTRUCT { ?x dkg:leads id:financieringstafel } WHERE { ?x dkg:leads id:financieringstafel }"
    turtle = dkg(built, "query", query)
    assert turtle.exit_code == 0, turtle.output
    assert "@prefix dkg:" in turtle.output and "@prefix sh:" not in turtle.output
    triples = {str(t) for t in parse(turtle.output.encode(), format=RdfFormat.TURTLE)}
    nt = dkg(built, "query", query, "-f", "ntriples")
    assert triples == {str(t) for t in parse(nt.output.encode(), format=RdfFormat.N_TRIPLES)}
    leaders = {t.split()[0] for t in triples}
    assert {f"<{ID}ez>", f"<{ID}defensie>"} <= leaders


def test_describe_runs(built: Path) -> None:
    result = dkg(built, "query", "DESCRIBE id:secfund", "-f", "ntriples")
    assert result.exit_code == 0, result.output
    assert f"<{ID}secfund>" in result.output


def test_a_format_that_does_not_fit_the_result_is_an_error(built: Path) -> None:
    result = dkg(built, "query", INSTRUMENTS, "-f", "turtle")
    assert result.exit_code == 1
    assert "CONSTRUCT" in result.output


def test_updates_are_refused(built: Path) -> None:
    result = dkg(built, "query", "DELETE WHERE { ?s ?p ?o }")
    assert result.exit_code == 1
    assert "only reads" in result.output


def test_output_file_is_written_whole(built: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = dkg(built, "query", INSTRUMENTS, "-f", "csv", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert target.read_bytes().startswith(b"instrument,label\r\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_query_from_stdin(built: Path) -> None:
    result = dkg(built, "query", "-", "-f", "csv", input=INSTRUMENTS)
    assert result.exit_code == 0, result.output
    assert ID + "ttt" in result.output


# --- Stored queries --------------------------------------------------------------------------------


def test_list_shows_every_stored_query_with_its_question(built: Path) -> None:
    result = dkg(built, "query", "--list")
    assert result.exit_code == 0, result.output
    for q in stored_queries(ROOT):
        assert q.name in result.output
    assert "Which knelpunten touch more than one" in result.output


def test_list_without_named_queries_says_where_they_go(valid_project: Path) -> None:
    result = CliRunner().invoke(main, ["-C", str(valid_project), "query", "--list"])
    assert result.exit_code == 2
    assert "no named queries: no .rq files in " in result.output
    assert "examples/queries/" in result.output


def test_a_stored_query_runs_by_name_and_by_file(built: Path) -> None:
    by_name = dkg(built, "query", "bottlenecks-in-several-action-lines", "-f", "csv")
    by_file = dkg(
        built,
        "query",
        str(ROOT / "examples/queries/bottlenecks-in-several-action-lines.rq"),
        "-f",
        "csv",
    )
    assert by_name.exit_code == 0, by_name.output
    assert by_name.output == by_file.output
    rows = list(csv.DictReader(io.StringIO(by_name.output)))
    assert {(r["code"], r["line"], r["role"]) for r in rows} == {
        ("B", ID + "actielijn-2", "primary"),
        ("B", ID + "actielijn-3", "secondary"),
        ("G", ID + "actielijn-4", "primary"),
        ("G", ID + "actielijn-2", "secondary"),
    }


def test_bind_sets_a_stored_query_parameter(built: Path) -> None:
    doc = "antwoorden-mkb-defensiebedrijven-2025"
    result = dkg(built, "query", "claims-of-document", "--bind", f"document={doc}", "-f", "json")
    assert result.exit_code == 0, result.output
    bindings = json.loads(result.output)["results"]["bindings"]
    assert bindings
    claims = {b["claim"]["value"] for b in bindings}
    assert all(c.startswith(f"https://w3id.org/dkg/claim/{doc}/") for c in claims)


def test_bind_refuses_a_value_that_could_change_the_query(built: Path) -> None:
    result = dkg(built, "query", "claims-of-document", "--bind", "document=x } ?s ?p ?o . {")
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_bind_refuses_a_name_the_query_does_not_use(built: Path) -> None:
    """A misspelt parameter would add a VALUES block that changes nothing: every row, in silence."""
    result = dkg(built, "query", "claims-of-document", "--bind", "documnet=secfund")
    assert result.exit_code == 1
    assert "no variable ?documnet to bind (its parameters: ?document)" in result.output
    # named in the query's comments only is not used either
    text = "# ?x is the instrument\nSELECT ?y WHERE { ?y a dkg:Instrument }"
    with pytest.raises(QueryError, match=r"no variable \?x"):
        bind(text, {"x": parse_value("secfund")})
    # a longer name that starts with it is not it
    with pytest.raises(QueryError, match=r"no variable \?doc "):
        bind(
            "SELECT ?document WHERE { ?document a dkg:SourceDocument }",
            {"doc": Term("literal", "x")},
        )


def test_a_query_that_names_its_graphs_reads_those_only(built: Path) -> None:
    """The default graph is the union of the named graphs, unless the query says FROM."""
    graph = "https://w3id.org/dkg/graph/antwoorden-mkb-defensiebedrijven-2025"
    count = "SELECT (COUNT(*) AS ?n) {} WHERE {{ ?c a dkg:Claim }}"

    def n(query: str) -> int:
        result = dkg(built, "query", query, "-f", "csv")
        assert result.exit_code == 0, result.output
        return int(result.stdout.split()[1])

    everything, one = n(count.format("")), n(count.format(f"FROM <{graph}>"))
    assert one == n(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?c a dkg:Claim }} }}")
    assert 0 < one < everything
    assert n(count.format(f"FROM NAMED <{graph}>")) == 0  # named only: an empty default graph


@pytest.mark.parametrize(
    ("query", "declares"),
    [
        ("SELECT * FROM <g> WHERE {}", True),
        ("select * from named <g> where {}", True),
        ("SELECT * FROM ex:g WHERE {}", True),
        ("SELECT *\nFROM\n<g> WHERE {}", True),
        ("SELECT ?from WHERE { ?from a ?x }", False),
        ("SELECT * WHERE { ?s dkg:fromDate ?d . ?s ex:from ?x }", False),
        ('SELECT * WHERE { ?s ?p "FROM <x>" }', False),
        ("SELECT * WHERE { ?s ?p '''a\nFROM <x>''' }", False),
        ("# FROM <x>\nSELECT * WHERE { ?s ?p ?o }", False),
        ("SELECT * WHERE { ?s <http://e/FROM> ?o FILTER(?a < ?b) }", False),
    ],
)
def test_declares_dataset_finds_the_keyword_only(query: str, declares: bool) -> None:
    assert declares_dataset(query) is declares


def test_an_unknown_stored_query_gets_a_did_you_mean(built: Path) -> None:
    result = dkg(built, "query", "bottlenecks-per-actionline")
    assert result.exit_code == 1
    assert "did you mean 'bottlenecks-per-action-line'" in result.output


# --- Errors ------------------------------------------------------------------------------------------


def test_a_syntax_error_names_the_line_and_column_of_the_users_query(built: Path) -> None:
    result = dkg(built, "query", "SELECT * WHERE {\n  ?s ?p\n}")
    assert result.exit_code == 1
    assert "line 3, column" in result.output
    assert "Traceback" not in result.output


def test_a_syntax_error_in_a_file_names_the_file(built: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.rq"
    bad.write_text("# a broken query\nSELECT ?x WHERE {\n  ?x a dkg:Instrument\n} LIMIT x\n")
    result = dkg(built, "query", str(bad))
    assert result.exit_code == 1
    assert "bad.rq" in result.output and "line 4, column 9" in result.output


def test_no_build_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["-C", str(ROOT), "query", INSTRUMENTS], env={"DKG_BUILD": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "dkg build" in result.output


def test_run_query_returns_the_type_of_each_form(backend) -> None:  # type: ignore[no-untyped-def]
    assert run_query(backend, "ASK { ?s ?p ?o }") is True
    assert isinstance(
        run_query(backend, "CONSTRUCT { id:secfund ?p ?o } WHERE { id:secfund ?p ?o }"), bytes
    )
    table = run_query(backend, "SELECT ?s WHERE { ?s a dkg:Bottleneck }")
    assert not isinstance(table, (bool, bytes)) and len(table.rows) >= 8


@pytest.mark.slow
def test_a_long_query_is_stopped_by_the_timeout_and_the_process_exits(built: Path) -> None:
    """A real process: the abandoned query thread must not keep it alive."""
    endless = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "graph", "-C", str(ROOT), "query", endless, "--timeout", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "DKG_BUILD": str(built)},
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "stopped after 1 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 60  # the query itself would run for hours


def test_plain_tables_fit_the_width_and_keep_every_word() -> None:
    from graph.query import plain_table

    long = "a long label that has to wrap onto several lines to fit " * 3
    text = plain_table(
        ["id", "label"], [["secfund", long], ["ttt", "short"]], title="T", caption="c", width=60
    )
    lines = text.splitlines()
    assert lines[0] == "T" and lines[-1] == "c"
    assert all(len(line) <= 60 for line in lines)
    body = " ".join(
        line.strip("| ").split(" | ")[-1].strip() for line in lines if line.startswith("| ")
    )
    assert " ".join(long.split()) in " ".join(body.split())


def test_plain_tables_wrap_between_words_before_breaking_one() -> None:
    """A column of single words (an entity type) keeps them whole while a column of phrases can
    wrap between its words; only a table too narrow for that breaks words, and it still fits."""
    from graph.query import plain_table

    label = "holding tier-1 companies to their supply-chain responsibility"
    note = "drops out of the top 10 without analyst claims"
    rows = [[label, "GovernmentBody", "1", "1", "2", "3", "0.5372", note]]
    headers = ["label", "type", "rank (all)", "rank (without analyst)", "rank (without inferred)"]
    headers += ["rank (stated only)", "betweenness", "note"]
    text = plain_table(headers, rows, width=120)  # as dkg analyze robustness prints it
    assert all(len(line) <= 120 for line in text.splitlines())
    assert "| GovernmentBody |" in text
    narrow = plain_table(headers, rows, width=106)
    assert all(len(line) <= 106 for line in narrow.splitlines())
    assert "GovernmentBody" not in narrow  # broken, as it must be to fit


def test_plain_word_lists_wrap_as_textwrap_wraps_them() -> None:
    """graph.query._fill is a fast path of textwrap.wrap: where it answers, it must agree."""
    import random
    import textwrap

    from graph.query import _fill, plain_table

    rng = random.Random(7)
    alphabet = "ab1[],.:;()/é"
    answered = 0
    for _ in range(5000):
        words = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            for _ in range(rng.randint(1, 30))
        ]
        line, width = " ".join(words), rng.randint(5, 60)
        got = _fill(line, width)
        if got:
            answered += 1
            assert got == textwrap.wrap(line, width, break_long_words=True, break_on_hyphens=True)
    assert answered > 4000
    for other in ("a-b c", "a  b", "a\tb", "x" * 70):  # hyphens, double spaces, tabs, long words
        assert _fill(other, 60) == []
    table = plain_table(["sources"], [[", ".join(f"[{n}]" for n in range(1, 60))]], width=40)
    assert max(len(line) for line in table.splitlines()) <= 40
    assert "[59]" in table and "[1]," in table


def test_a_query_that_fails_while_its_results_are_read_is_a_query_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error raised while pyoxigraph evaluates the results (here a SERVICE, let through for
    the test, to a port nothing listens on) is the query's, not an internal error; and the
    results, made in the timeout's thread, are dropped there (pyoxigraph refuses otherwise)."""
    import gc

    from pyoxigraph import Store

    import graph.store
    from graph.store import EmbeddedBackend

    dropped: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: dropped.append(repr(u.exc_value)))
    monkeypatch.setattr(graph.store, "_SERVICE", graph.store.re.compile("(?!)"))
    backend = EmbeddedBackend.over(Store())
    for form in ("CONSTRUCT { ?s ?p ?o }", "SELECT *"):
        query = f"{form} WHERE {{ SERVICE <http://127.0.0.1:1/sparql> {{ ?s ?p ?o }} }}"
        with pytest.raises(QueryError, match="the query failed"):
            run_query(backend, query, timeout=5)
        gc.collect()
    assert dropped == []


def test_service_is_refused_on_the_command_line(built: Path) -> None:
    query = "SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"
    result = dkg(built, "query", query)
    assert result.exit_code == 1
    assert "SERVICE is not allowed" in result.output
    # a prefix, a variable, a string, an IRI or a comment of that name is no federated query
    named = (
        'PREFIX service: <https://w3id.org/dkg/id/> SELECT ?service WHERE { BIND("SERVICE" AS'
        " ?service) FILTER(?service != service:x && ?service != <http://e/SERVICE>) } # SERVICE"
    )
    result = dkg(built, "query", named, "-f", "csv")
    assert result.exit_code == 0 and result.output.splitlines() == ["service", "SERVICE"]
