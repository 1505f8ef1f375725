"""The build: outputs are complete, byte-identical across builds, isomorphic across formats, and
atomic; the rules derive what they declare; the CLI maps outcomes to exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import rdflib
from click.testing import CliRunner
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, serialize
from rdflib.compare import isomorphic

from graph.build import build, current_snapshot
from graph.cache import PREFIXES, _body, make_chunk, turtle
from graph.cli import main
from graph.store import open_backend
from tests.conftest import DATA, ROOT, copy_project

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
OUTPUTS = ["dkg.trig", "dkg.ttl", "dkg.nq", "dkg.jsonld", "manifest.json"]


def test_build_writes_every_output(valid_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["-C", str(valid_project), "build", "-o", str(out)])
    assert result.exit_code == 0, result.output
    snap = current_snapshot(out)
    for name in OUTPUTS:
        assert (snap / name).stat().st_size > 0
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["stats"]["claims"] == 7
    assert manifest["stats"]["claims_inferred"] == 1
    assert "7 claims (1 analyst, 1 inferred, 5 stated)" in result.output


def test_a_registry_without_documents_builds_and_reports(
    valid_project: Path, tmp_path: Path
) -> None:
    """The first step of a new project: entities curated, no document yet."""
    (valid_project / "extract" / "documents" / "mini.yaml").unlink()
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["-C", str(valid_project), "build", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 source documents" in result.output and " 0 claims, " in result.output
    report = CliRunner().invoke(
        main, ["-C", str(valid_project), "report", "gaps"], env={"DKG_BUILD": str(out)}
    )
    assert report.exit_code == 0, report.output
    assert "Bottlenecks no action addresses" in report.output


def test_a_project_without_a_registry_is_told_how_to_start_one(
    valid_project: Path, tmp_path: Path
) -> None:
    """Step zero of a new project: the message names the file and what to put in it, and doing
    what it says is enough for the check to pass."""
    (valid_project / "extract" / "documents" / "mini.yaml").unlink()
    registry = valid_project / "extract" / "entities.yaml"
    registry.unlink()
    result = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert result.exit_code == 1
    assert "ERROR extract/entities.yaml" in result.output
    advice = re.search(r"`(entities: \[\])`", result.output)
    assert advice, result.output
    registry.write_text(advice[1] + "\n", encoding="utf-8")
    again = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert again.exit_code == 0, again.output


def test_two_builds_in_separate_processes_are_byte_identical(
    valid_project: Path, tmp_path: Path
) -> None:
    digests = []
    for i, seed in enumerate(["1", "2"]):
        out = tmp_path / f"out{i}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "graph",
                "-C",
                str(valid_project),
                "build",
                "-q",
                "-o",
                str(out),
            ],
            check=True,
            env=env,
        )
        snap = current_snapshot(out)
        digests.append({name: (snap / name).read_bytes() for name in OUTPUTS})
    assert digests[0] == digests[1]


def test_formats_hold_the_same_graph(built: Path) -> None:
    snap = current_snapshot(built)
    trig = rdflib.Dataset().parse(snap / "dkg.trig", format="trig")
    nq = rdflib.Dataset().parse(snap / "dkg.nq", format="nquads")
    jsonld = rdflib.Dataset().parse(snap / "dkg.jsonld", format="json-ld")
    assert len(trig) == len(nq) == len(jsonld) > 0
    union = rdflib.Graph()
    for s, p, o, _g in nq.quads((None, None, None, None)):
        union.add((s, p, o))
    assert isomorphic(union, rdflib.Graph().parse(snap / "dkg.ttl", format="turtle"))


def test_a_graph_serialises_the_same_from_quads_and_from_n_quads() -> None:
    """make_chunk sorts quads by their str() and N-Quads by their lines: the same order and bytes,
    whatever the literals hold (escapes, quotes, non-ASCII, tags and datatypes)."""
    g = NamedNode("https://w3id.org/dkg/graph/doc")
    s = [NamedNode(f"https://w3id.org/dkg/id/{x}") for x in ("a", "b", "ä", "a-b", "a/b")]
    p = [NamedNode(RDFS_LABEL), NamedNode("https://w3id.org/dkg/ontology#quote")]
    objects = [
        Literal('he said "ja"\nand \\ left'),
        Literal("Financiën", language="nl"),
        Literal("Financiën", language="en"),
        Literal("tab\there\r"),
        Literal("2025", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#gYear")),
        Literal("€ 1 mld"),
        Literal(""),
        s[1],
    ]
    quads = [Quad(a, b, o, g) for a in s for b in p for o in objects]
    shuffled = [*quads[::-1], *quads[::3]]  # out of order, with repeats
    from_quads = make_chunk(g.value, shuffled)
    from_lines = make_chunk(g.value, serialize(shuffled, format=RdfFormat.N_QUADS) or b"")
    assert from_quads == from_lines
    lines = from_quads.nq.splitlines()
    assert lines == sorted(set(lines)) and from_quads.quads == len(quads)
    # the Turtle read off the TriG is what pyoxigraph writes as Turtle, line breaks in literals too
    ordered = sorted(set(quads), key=str)
    written = serialize([q.triple for q in ordered], format=RdfFormat.TURTLE, prefixes=PREFIXES)
    assert turtle(from_quads.trig) == _body(written or b"")


def test_named_graph_per_source_document(backend) -> None:  # type: ignore[no-untyped-def]
    rows = backend.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?c a dkg:Claim } }").rows
    graphs = {r["g"].local for r in rows}
    assert {"antwoorden-mkb-defensiebedrijven-2025", "antwoorden-idea-motie-boswijk-2025"} <= graphs


def test_no_blank_nodes(built: Path) -> None:
    text = (current_snapshot(built) / "dkg.nq").read_text()
    assert "_:" not in text


def test_failed_build_leaves_previous_output_intact(valid_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(valid_project, out)
    before = {n: (current_snapshot(out) / n).read_bytes() for n in OUTPUTS}
    doc = valid_project / "extract" / "documents" / "mini.yaml"
    doc.write_text(doc.read_text().replace("subject: secfund", "subject: secfnd", 1))
    result = CliRunner().invoke(main, ["-C", str(valid_project), "build", "-o", str(out)])
    assert result.exit_code == 1
    assert "unknown entity 'secfnd' (did you mean 'secfund'?)" in result.output
    after = {n: (current_snapshot(out) / n).read_bytes() for n in OUTPUTS}
    assert before == after


def test_store_answers_after_build(valid_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(valid_project, out)
    b = open_backend(valid_project, out)
    rows = b.select("SELECT ?v WHERE { id:secfund dkg:budget ?a . ?a schema:value ?v }").rows
    assert [r["v"].value for r in rows] == ["100000000"]


def test_negated_claim_has_no_plain_triple(valid_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(valid_project, out)
    b = open_backend(valid_project, out)
    assert not b.ask("ASK { id:financien dkg:participatesIn id:financieringstafel }")
    assert b.ask(
        "ASK { ?c rdf:subject id:financien ; rdf:predicate dkg:participatesIn ; dkg:polarity dkg:Negated ;"
        " dkg:quote ?q ; dkg:source id:mini ; dkg:locator 'a1' }"
    )


def test_rule_derives_inferred_claim_with_premises(valid_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(valid_project, out)
    b = open_backend(valid_project, out)
    rows = b.select(
        """SELECT ?c (COUNT(DISTINCT ?p) AS ?n) ?via WHERE {
             ?c rdf:subject id:secfund ; rdf:predicate dkg:addresses ; rdf:object id:knelpunt-b ;
                dkg:standing dkg:Inferred ; dkg:via ?via ; dkg:premise ?p ;
                prov:wasGeneratedBy rule:action-line-coverage .
           } GROUP BY ?c ?via"""
    ).rows
    assert len(rows) == 1
    assert rows[0]["via"].local == "actielijn-2"
    assert rows[0]["n"].value == "2"
    assert rows[0]["c"].local == "inferred/action-line-coverage/secfund--knelpunt-b--actielijn-2"


def test_dates_keep_their_precision(valid_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(valid_project, out)
    b = open_backend(valid_project, out)
    row = b.select("SELECT ?d WHERE { id:secfund dkg:startDate ?d }").rows[0]
    assert row["d"].value == "2025-04"
    assert row["d"].datatype == "http://www.w3.org/2001/XMLSchema#gYearMonth"


def test_no_build_yet_is_a_run_error(valid_project: Path, tmp_path: Path) -> None:
    from graph.errors import RunError

    with pytest.raises(RunError, match="run `dkg build` first"):
        open_backend(valid_project, tmp_path / "nothing")


def test_missing_extract_folder_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "check"])
    assert result.exit_code == 2
    assert "no extract/ folder" in result.output


def test_help_is_instant_and_lists_the_verbs() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "graph", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "build" in proc.stdout and "check" in proc.stdout
    heavy = [
        m
        for m in ("rdflib", "pyoxigraph", "networkx", "pyvis", "pyshacl", "pydantic")
        if f" {m}\n" in proc.stderr or f"| {m}\n" in proc.stderr
    ]
    assert heavy == [], f"`dkg --help` imports {heavy}"


def _commands(group: click.Group, path: list[str]) -> Iterator[list[str]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield [*path, name]
        if isinstance(command, click.Group):
            yield from _commands(command, [*path, name])


@pytest.mark.parametrize("path", [[], *_commands(main, [])], ids=" ".join)
def test_help_text_is_wrapped_not_raw(path: list[str]) -> None:
    """A help text built from a docstring plus more (as `dkg analyze` lists its projections) keeps
    click's wrapping: no line of the description carries the docstring's own indentation."""
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    description = result.output.split("\nOptions:")[0].splitlines()[1:]
    # click indents by 2 (4 in a \b block of examples); the docstring's own 4 come on top
    raw = [line for line in description if line.startswith(" " * 6) or "   " in line.strip()]
    assert raw == [], f"`dkg {' '.join(path)} --help` shows unwrapped text"


def test_analyze_help_lists_every_projection() -> None:
    from graph.network import PROJECTIONS

    text = CliRunner().invoke(main, ["analyze", "--help"]).output
    for projection in PROJECTIONS.values():
        assert f"\n  {projection.name}: " in text


def test_real_project_checks_clean() -> None:
    result = CliRunner().invoke(main, ["-C", str(ROOT), "check"])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_build_folder_snapshot_is_swapped_not_rewritten(
    valid_project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = build(valid_project, out)[1]
    doc = valid_project / "extract" / "documents" / "mini.yaml"
    doc.write_text(doc.read_text().replace("id: secfund-start", "id: secfund-started", 1))
    second = build(valid_project, out)[1]
    assert first != second
    assert (out / "current").resolve() == second.resolve()
    assert first.is_dir(), "the previous snapshot stays for readers that still have it open"
    shutil.rmtree(out)


def test_store_process_reports_a_bad_task_in_one_line(tmp_path: Path) -> None:
    task = tmp_path / ".store-task.pkl"
    task.write_bytes(b"not a pickle")
    done = subprocess.run(
        [sys.executable, "-m", "graph.storefill", str(task)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: writing the embedded store:")
    assert "Traceback" not in done.stderr


def test_a_build_failing_after_the_store_started_leaves_the_previous_one(tmp_path: Path) -> None:
    from tests.test_invalid import overlay

    project = copy_project(tmp_path / "project")
    out = tmp_path / "out"
    assert (
        CliRunner().invoke(main, ["-C", str(project), "build", "-q", "-o", str(out)]).exit_code == 0
    )
    before = current_snapshot(out)
    overlay(DATA / "invalid" / "shacl-domain", project)  # fails in the shapes, after the files
    result = CliRunner().invoke(main, ["-C", str(project), "build", "-q", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "should be of type Intervention" in result.output
    assert current_snapshot(out) == before
    assert (before / "store").is_dir()
    assert not list(out.glob(".tmp-*")), "the failed build left its temporary snapshot"


def test_write_build_of_a_checked_project_fills_the_store_in_process(
    valid_project: Path, tmp_path: Path
) -> None:
    from pyoxigraph import Store

    from graph.build import compile_project, write_build

    compiled = compile_project(valid_project)  # a read-only cache: nothing for a child to read
    snap = write_build(compiled, tmp_path / "out", valid_project)
    assert len(Store.read_only(str(snap / "store"))) == compiled.stats()["quads"]


def test_an_edit_that_changes_no_graph_updates_the_manifest_inputs(
    valid_project: Path, tmp_path: Path
) -> None:
    """A comment changes a file but no graph: the snapshot is reused, and its manifest must name
    the file's new digest, not the one it was first built from."""
    import hashlib

    from graph.build import build

    out = tmp_path / "out"
    _compiled, first = build(valid_project, out)
    doc = valid_project / "extract" / "documents" / "mini.yaml"
    doc.write_text(doc.read_text() + "# reviewed\n")
    _compiled, again = build(valid_project, out)
    assert again == first
    inputs = json.loads((first / "manifest.json").read_text())["inputs"]
    assert inputs["extract/documents/mini.yaml"] == hashlib.sha256(doc.read_bytes()).hexdigest()
    assert not list(first.glob(".*"))


def test_counts_are_written_in_words(valid_project: Path) -> None:
    """One of a kind is named in the singular: '1 source document', '(1 answer)', '1 problem
    found'; two or more in the plural, and never 'problem(s)'."""
    result = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert result.output.startswith("1 source document, 7 entities, 7 claims ("), result.output
    assert "mini: answers 84% covered by quotes (1 answer)\n" in result.output
    result = CliRunner().invoke(main, ["-C", str(ROOT), "check"])
    assert "source documents, " in result.output and " answers)\n" in result.output
    doc = valid_project / "extract/documents/mini.yaml"
    text = doc.read_text(encoding="utf-8")
    doc.write_text(text.replace("quote: ", "quote: Nergens ", 1), encoding="utf-8")
    result = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "1 problem found"


def test_check_coverage_lists_every_answer_with_aligned_bars() -> None:
    result = CliRunner().invoke(main, ["-C", str(ROOT), "check", "--coverage"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert len(rows) == 6 + 11  # the answers of the two documents
    assert all(re.search(r" +\d+%$", row) for row in rows), rows
    bars = {len(row) for row in rows}  # padded names, a 20-wide bar and a 4-wide share
    assert len(bars) == 1, rows


def test_an_editors_hidden_files_are_not_extractions(valid_project: Path) -> None:
    """Emacs locks a file being edited with a dangling link .#name.yaml; other editors leave
    hidden copies. Neither is read as an extraction file."""
    documents = valid_project / "extract" / "documents"
    (documents / ".#mini.yaml").symlink_to("curator@host.4242:1700000000")
    (documents / ".mini.yaml").write_text("not: an extraction\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 source document,")


def test_an_extraction_in_a_subfolder_is_named_not_skipped(valid_project: Path) -> None:
    documents = valid_project / "extract" / "documents"
    (documents / "2026").mkdir()
    shutil.copy(documents / "mini.yaml", documents / "2026" / "mini-2.yaml")
    result = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert result.exit_code == 1
    assert (
        "ERROR extract/documents/2026/mini-2.yaml is in a subfolder, and only "
        "extract/documents/*.yaml are read; move it up"
    ) in result.output


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_after_a_build_the_collector_runs_but_does_not_walk_what_it_made() -> None:
    """The cycle collector is paused during a build; after it, the objects the build made are in
    the oldest generation (the next collection would walk them all), and garbage cycles among them
    are still collected."""
    import gc
    import weakref

    from graph.build import paused_gc

    if not gc.isenabled():
        pytest.skip("the collector is off in this process")
    gc.collect()
    with paused_gc():
        assert not gc.isenabled()
        made = [[i] for i in range(200_000)]
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        del cycle
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 1_000  # not 200,000 young objects
    tracked = {id(x) for x in gc.get_objects(generation=2)}
    assert id(made[0]) in tracked and id(made[-1]) in tracked
    assert gone() is not None
    gc.collect()
    assert gone() is None


def test_a_build_leaves_no_query_result_for_another_thread_to_free(tmp_path: Path) -> None:
    """pyoxigraph refuses to free a query result in a thread other than the one that made it (it
    says so on stderr and keeps the memory). What a build leaves in reference cycles is freed by
    the cycle collector in whatever thread it next runs, a server's or a client's: none of it may
    be a query result."""
    import gc
    import threading

    from graph.rules import _reads

    _reads.cache_clear()  # the rules' patterns are read (by rdflib) again, as in a fresh process
    build(ROOT, tmp_path / "out")
    caught: list[Any] = []
    hook = sys.unraisablehook
    sys.unraisablehook = caught.append
    try:
        collector = threading.Thread(target=gc.collect)
        collector.start()
        collector.join()
    finally:
        sys.unraisablehook = hook
    assert not caught, [str(c.exc_value) for c in caught]


def test_a_large_build_reads_its_rules_in_a_child_while_it_reads_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """What the rules read (rdflib's parse, 0.4 s) is worked out by a child process at the start
    of a large build, and the build uses it; a child that fails leaves the work to the build, in
    silence. The outputs are the same either way."""
    import graph.cache
    import graph.rules

    project = copy_project(tmp_path / "project")
    reference = tmp_path / "reference"
    build(project, reference)
    pids = tmp_path / "pids"
    real = graph.rules._reads.__wrapped__
    parent = str(os.getpid())

    def recorded(query: str) -> graph.rules.Reads:
        with pids.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(query)

    monkeypatch.setattr(graph.cache, "READ_AHEAD_FROM", 0)  # the project is small
    monkeypatch.setattr(graph.rules, "_reads", recorded)
    ahead = tmp_path / "ahead"
    build(project, ahead)
    readers = set(pids.read_text().split())
    assert readers and parent not in readers, "the build read the rules itself"
    assert len(list((ahead / "cache" / "reads").rglob("*.pkl"))) == 2

    put = graph.cache.Cache.put

    def full_disk_in_the_child(self: graph.cache.Cache, kind: str, key: str, value: Any) -> None:
        if kind == "reads" and str(os.getpid()) != parent:
            raise OSError(28, "No space left on device")
        put(self, kind, key, value)

    monkeypatch.setattr(graph.cache.Cache, "put", full_disk_in_the_child)
    pids.unlink()
    capfd.readouterr()
    alone = tmp_path / "alone"
    build(project, alone)
    assert "Traceback" not in capfd.readouterr().err
    assert parent in set(pids.read_text().split()), "the build did not read the rules itself"
    for out in (ahead, alone):
        for name in ("dkg.nq", "dkg.trig", "coverage.json"):
            assert (current_snapshot(out) / name).read_bytes() == (
                current_snapshot(reference) / name
            ).read_bytes()
