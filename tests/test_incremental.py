"""Incremental builds: after editing one extraction file, a rebuild reads only that file again, and
what it writes is byte for byte what a full build of the same input writes (every output file, the
manifest, and the store's quads).

The corpus is a small one from benchmarks/generate.py (eight documents), built for real into tmp
folders.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, RdfFormat, Store, parse

import graph.cache
from graph import constants as C
from graph.build import build
from graph.errors import DataError
from tests.conftest import ROOT

OUTPUTS = ("dkg.nq", "dkg.trig", "dkg.ttl", "dkg.jsonld", "coverage.json", "manifest.json")


def _benchmark(script: str):  # type: ignore[no-untyped-def]
    """A script of benchmarks/ as a module."""
    name = f"benchmarks_{script}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GENERATE = _benchmark("generate")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return GENERATE.generate(tmp_path_factory.mktemp("corpus") / "project", 400)  # type: ignore[no-any-return]


@pytest.fixture
def project(corpus: Path, tmp_path: Path) -> Path:
    """A fresh copy of the generated corpus."""
    return Path(shutil.copytree(corpus, tmp_path / "project"))


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The extraction files each build parses (in this process: no worker processes)."""
    monkeypatch.setattr(graph.cache, "PARALLEL_FROM", 10**9)
    seen: list[str] = []
    real = graph.cache._load_model

    def spy(path, root, model):  # type: ignore[no-untyped-def]
        seen.append(path.relative_to(root).as_posix())
        return real(path, root, model)

    def items(raw, name, key, known):  # type: ignore[no-untyped-def]
        seen.append(name)  # the registry, read item by item (graph.yamlio.load_items)
        return real_items(raw, name, key, known)

    real_items = graph.cache.load_items
    monkeypatch.setattr(graph.cache, "_load_model", spy)
    monkeypatch.setattr(graph.cache, "load_items", items)
    yield seen


def store_quads(out: Path) -> list[bytes]:
    store = Store.read_only(str(out / "current" / "store"))
    return sorted((store.dump(format=RdfFormat.N_QUADS) or b"").splitlines())


def assert_same_build(incremental: Path, full: Path) -> None:
    for name in OUTPUTS:
        a = (incremental / "current" / name).read_bytes()
        b = (full / "current" / name).read_bytes()
        assert a == b, f"{name} differs from a full build"
    assert store_quads(incremental) == store_quads(full)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def documents(project: Path) -> list[Path]:
    return sorted((project / "extract" / "documents").glob("*.yaml"))


def test_a_rebuild_after_one_edit_reads_that_file_and_equals_a_full_build(
    project: Path, tmp_path: Path, parsed: list[str]
) -> None:
    out = tmp_path / "out"
    build(project, out)
    assert len(parsed) == len(documents(project)) + 1  # every file, and the registry
    parsed.clear()
    edited = GENERATE.edit_one(project)
    build(project, out)
    assert parsed == [edited.relative_to(project).as_posix()]
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_a_rebuild_the_rules_do_not_read_loads_nothing_into_memory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an edit no rule reads, the new snapshot's store (the last one, copied, with the
    edited graph replaced) is all the build reads: the rules' questions, the shapes of the edited
    graph and the coverage facts of the cells it can change."""
    out = tmp_path / "out"
    build(project, out)
    GENERATE.edit_one(project)  # a planned claim: no rule reads it

    said = steps_loading_nothing(project, out, monkeypatch)
    assert any("and so is its store" in s for s in said), said
    assert any(s.endswith("(1 changed graph)") for s in said), said  # not the inferred graph
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_a_rebuild_copies_the_unchanged_graphs_from_the_last_merged_files(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The four merged files of a rebuild take every graph but the edited one from the last
    snapshot's files (graph.build._old_files): only the edited graph's piece is read from the
    cache."""
    out = tmp_path / "out"
    build(project, out)
    edited = GENERATE.edit_one(project)
    read: list[str] = []
    real = graph.cache.Project.payload

    def payload(self, unit):  # type: ignore[no-untyped-def]
        read.append(unit.rel)
        return real(self, unit)

    monkeypatch.setattr(graph.cache.Project, "payload", payload)
    build(project, out)
    assert set(read) == {edited.relative_to(project).as_posix()}
    monkeypatch.undo()
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


@pytest.mark.parametrize("name", ["dkg.nq", "dkg.trig", "dkg.ttl", "dkg.jsonld"])
def test_a_merged_file_changed_since_the_last_build_is_not_copied_from(
    project: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    _, snapshot = build(project, out)
    path = snapshot / name
    data = bytearray(path.read_bytes())
    at = len(data) // 10  # in a graph the edit does not touch (it edits a document halfway)
    data[at] = ord("x") if data[at] != ord("x") else ord("y")
    st = path.stat()
    path.write_bytes(bytes(data))  # the same size and modification time; the change time moves on
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    GENERATE.edit_one(project)
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_the_files_of_a_rebuild_after_a_registry_edit_are_begun_early_too(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every document file is as it was, but the registry is not: something will change, so the
    files are begun before the project is read (graph.build._early_files; they were written
    after it, 0.1 s later at 100,000 claims), not written whole after it; built again with
    nothing changed, they are neither."""
    import graph.build

    out = tmp_path / "out"
    build(project, out)
    made: list[str] = []
    for name in ["_early_files", "_write_outputs"]:
        real = getattr(graph.build, name)

        def spy(*args, _name=name, _real=real, **kwargs):  # type: ignore[no-untyped-def]
            made.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(graph.build, name, spy)
    GENERATE.relabel_entity(project)
    build(project, out)
    assert made == ["_early_files"]
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    made.clear()
    build(project, out)
    assert made == []


def test_files_begun_on_a_guess_are_begun_again_if_the_project_turns_out_otherwise(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files of a rebuild are begun before the project is read, with the last build's graphs
    of the files that did not change (graph.build._early_files). After one edit the guess holds;
    a new document that sorts first makes the project begin otherwise: the files are begun
    again. Both equal a full build."""
    import graph.build

    out = tmp_path / "out"
    build(project, out)
    again: list[str] = []
    real = graph.build._write_outputs

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        again.append("again")
        return real(*args, **kwargs)

    monkeypatch.setattr(graph.build, "_write_outputs", spy)
    GENERATE.edit_one(project)
    build(project, out)
    assert again == []
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    last = documents(project)[-1]
    first = last.with_name("aaa-first.yaml")
    first.write_text(
        last.read_text(encoding="utf-8").replace(f"id: {last.stem}", "id: aaa-first", 1),
        encoding="utf-8",
    )
    again.clear()
    build(project, out)
    assert again == ["again"]
    build(project, tmp_path / "full-2")
    assert_same_build(out, tmp_path / "full-2")


def test_a_rebuild_with_nothing_changed_reads_nothing(
    project: Path, tmp_path: Path, parsed: list[str]
) -> None:
    out = tmp_path / "out"
    _, first = build(project, out)
    parsed.clear()
    _, second = build(project, out)
    assert parsed == []
    assert first == second


def test_a_new_entity_checks_no_file_again_and_loads_nothing_into_memory(
    project: Path, tmp_path: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's check learns of the registry only whether the ids it names are known (AskedIds):
    a new id that no file names leaves every unit as it was. The registry's graph is then an
    edited graph like a document's: the edit only adds, and the types rule, which reads the new
    entity's type, infers its superclasses where it is (graph.rebuild.keyed_inferred); the
    shapes check that entity, and nothing is loaded into memory."""

    out = tmp_path / "out"
    build(project, out)
    parsed.clear()
    GENERATE.add_entity(project)  # an organisation that no document names

    said = steps_loading_nothing(project, out, monkeypatch)
    assert parsed == ["extract/entities.yaml"]
    assert "nothing changed in extract/" in said, said
    assert said_any(said, HERE), said
    assert not said_any(said, SLICED), said
    # the new entity: the registry describes it, and the types rule gave it its superclasses
    shapes = "(1 node the rules said something new of and 1 node the registry describes anew)"
    assert any(s.endswith(shapes) for s in said), said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    assert no_slice_kept(out)


def test_a_new_label_in_the_registry_validates_its_entity_and_loads_nothing_into_memory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label no rule reads and the coverage facts do not show: the last inferred graph stands,
    the shapes check the relabelled entity alone, and nothing is loaded into memory."""
    out = tmp_path / "out"
    build(project, out)
    GENERATE.relabel_entity(project)

    said = steps_loading_nothing(project, out, monkeypatch)
    assert any("no rule reads what changed" in s for s in said), said
    assert any(s.endswith("(1 node the registry describes anew)") for s in said), said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


NEW_BOTTLENECK = (
    '  - id: knelpunt-z\n    type: "Bottleneck"\n    label: {nl: "knelpunt Z", en: "bottleneck Z"}\n'
    '    in_scheme: "idea-knelpunten"\n    notation: "Z"\n'
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n  - id: knelpunt-a\n", f"\n{NEW_BOTTLENECK}  - id: knelpunt-a\n"),  # a row of its own
        ('    notation: "A"\n', '    notation: "A1"\n'),
        ('aliases: ["TECHNOLOGIE8"]', 'aliases: ["TECHNOLOGIE8", "TECH8"]'),
        ('en: "A governmentbody."}', 'en: "A government body."}'),
        ('  - id: event-15\n    type: "Event"\n', '  - id: event-15b\n    type: "Event"\n'),
    ],
    ids=["new bottleneck", "notation", "alias", "description", "renamed id"],
)
def test_a_registry_edit_equals_a_full_build(
    project: Path, tmp_path: Path, old: str, new: str
) -> None:
    """Each kind of registry edit, made as an edited graph (its quads through the rules'
    questions, the shapes and the coverage facts' cells), builds what a full build does. (New
    labels and types: see test_facts_whose_names_an_edit_describes_anew_...)"""
    out = tmp_path / "out"
    build(project, out)
    edit(project / "extract" / "entities.yaml", old, new)
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_a_registry_edit_without_the_last_registry_at_hand_builds_as_a_full_build(
    project: Path, tmp_path: Path
) -> None:
    """The last registry is read from the last snapshot's N-Quads file where its layout says it
    is; without the layout, the graph is replaced whole and the rules and shapes run as in a full
    build, with the same result."""
    out = tmp_path / "out"
    build(project, out)
    shutil.rmtree(out / "cache" / "layouts")
    GENERATE.relabel_entity(project)
    said = steps(project, out)
    assert "loading the graph for the rules and shapes" in said, said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_the_files_that_name_an_id_are_checked_again_when_it_goes_and_comes_back(
    project: Path, tmp_path: Path
) -> None:
    """Removing an entity fails the files that name it, as a full build does; once it is back,
    they are checked again (a file that named an unknown id read every id, for its did-you-mean)
    and the build equals a full one."""
    out = tmp_path / "out"
    build(project, out)
    registry = project / "extract" / "entities.yaml"
    before = registry.read_text(encoding="utf-8")
    named = re.findall(r"\n    subject: (\S+)\n", documents(project)[0].read_text(encoding="utf-8"))
    gone = next(i for i in named if before.count(i) == 1 and f"\n  - id: {i}\n" in before)
    start = before.index(f"  - id: {gone}\n")
    end = before.index("\n  - id: ", start) + 1
    registry.write_text(before[:start] + before[end:], encoding="utf-8")
    with pytest.raises(DataError) as caught:
        steps(project, out)
    with pytest.raises(DataError) as full:
        build(project, tmp_path / "full")
    assert caught.value.problems == full.value.problems
    assert {p.message.split(" (")[0] for p in caught.value.problems} == {f"unknown entity {gone!r}"}
    registry.write_text(before, encoding="utf-8")
    said = steps(project, out)
    named_it = [d for d in documents(project) if gone in d.read_text(encoding="utf-8")]
    assert f"reading {len(named_it)} of {len(documents(project))} extraction files" in said, said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_an_entity_typed_anew_in_the_registry_has_the_claims_that_name_it_validated(
    project: Path, tmp_path: Path
) -> None:
    """The registry is not part of the validation context: after an edit to it, the build
    validates the nodes it describes anew and those that name an entity it types anew, and finds
    what a full build finds. A bottleneck made a topic (both are skos:Concepts, so the inferred
    types stay the same) fails every claim that says something addresses it; the test fails if
    the nodes naming it are left out."""
    out = tmp_path / "out"
    build(project, out)
    registry = project / "extract" / "entities.yaml"
    edit(
        registry,
        '  - id: knelpunt-a\n    type: "Bottleneck"',
        '  - id: knelpunt-a\n    type: "Topic"',
    )
    said: list[str] = []
    with pytest.raises(DataError) as caught:
        build(project, out, said.append)
    assert any("the registry describes anew" in s for s in said), said
    with pytest.raises(DataError) as full:
        build(project, tmp_path / "full")
    assert caught.value.problems == full.value.problems
    assert any("should be of type Bottleneck" in p.message for p in caught.value.problems)


def test_an_entity_retyped_or_removed_has_the_types_rule_take_back_and_give_where_it_is(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The types rule reads the types it infers. An organisation made a person loses what only
    an organisation is (org:Organization), keeps what both are (dkg:Actor, prov:Agent: taken
    out with the rest, then made again from the new class, as DRed re-derives) and gains what
    only a person is; removed, it loses them all. Run where the edit is (the rules ran over their
    slice when what they took back was read by a rule), each equals a full build."""
    GENERATE.add_entity(project)  # an organisation that no document names
    out = tmp_path / "out"
    build(project, out)
    registry = project / "extract" / "entities.yaml"
    text = registry.read_text(encoding="utf-8")
    entry = '  - id: new-organisation-1\n    type: "Organisation"\n'
    assert entry in text
    person = text.replace(entry, entry.replace("Organisation", "Person"))
    removed = person[: person.index("  - id: new-organisation-1\n")]
    node = f"<{C.ID}new-organisation-1> <{C.PREFIXES['rdf']}type>"
    expected = [
        {
            "http://xmlns.com/foaf/0.1/Person",
            f"{C.ONTOLOGY}Actor",
            "http://www.w3.org/ns/prov#Agent",
        },
        set(),
    ]
    for n, (edited, types) in enumerate(zip([person, removed], expected, strict=True)):
        registry.write_text(edited, encoding="utf-8")
        said = steps_loading_nothing(project, out, monkeypatch)
        assert said_any(said, HERE) and not said_any(said, SLICED), said
        inferred = {
            line.split(" ")[2][1:-1]
            for line in (out / "current" / "dkg.nq").read_text().splitlines()
            if line.startswith(node) and line.endswith(f"<{C.INFERRED_GRAPH}> .")
        }
        assert inferred == types
        build(project, tmp_path / f"full-{n}")
        assert_same_build(out, tmp_path / f"full-{n}")


def test_a_damaged_parse_cache_in_a_payload_is_parsed_from_the_file_again(
    project: Path, tmp_path: Path, parsed: list[str]
) -> None:
    """The YAML a unit's payload keeps is used only if it reads back as what was kept: one that
    does not unpickle, or unpickles to something else, is parsed from the file again."""
    import pickle

    out = tmp_path / "out"
    build(project, out)
    cache = graph.cache.Cache(out / "cache")
    units = cache.get("index", "units")
    damaged = sorted(units)[:2]
    for rel, blob in zip(damaged, [b"not a pickle", pickle.dumps({"a": "dict"})], strict=True):
        payload = cache.get("units", units[rel].key)
        assert isinstance(payload, graph.cache.Payload) and payload.parsed
        payload.parsed = blob
        cache.put("units", units[rel].key, payload)
    parsed.clear()
    # a new rule: every file is checked again (a claim may name a rule)
    (project / "ontology" / "rules" / "noted.rq").write_text(
        "# Every bottleneck is noted.\n"
        'CONSTRUCT { ?b skos:note "noted" . } WHERE { ?b a dkg:Bottleneck . }\n',
        encoding="utf-8",
    )
    build(project, out)
    assert sorted(parsed) == sorted(damaged)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_editing_the_registry_parses_only_the_registry(
    project: Path, tmp_path: Path, parsed: list[str]
) -> None:
    out = tmp_path / "out"
    build(project, out)
    parsed.clear()
    edit(project / "extract" / "entities.yaml", 'en: "bottleneck A"', 'en: "bottleneck A (IDEA)"')
    build(project, out)
    assert parsed == ["extract/entities.yaml"]  # the documents come from the parse cache
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_removing_and_adding_documents_equals_a_full_build(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(project, out)
    gone = documents(project)[0]
    gone.unlink()
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    assert gone.stem.encode() not in (out / "current" / "dkg.nq").read_bytes()
    GENERATE.generate(tmp_path / "other", 400, seed=2)
    # another corpus's documents, with its registry (they refer to its entities)
    shutil.copy(
        tmp_path / "other" / "extract" / "entities.yaml", project / "extract" / "entities.yaml"
    )
    for doc in documents(tmp_path / "other"):
        shutil.copy(doc, project / "extract" / "documents" / doc.name)
        source = tmp_path / "other" / "extract" / "sources" / f"{doc.stem}.txt"
        shutil.copy(source, project / "extract" / "sources" / source.name)
    build(project, out)
    build(project, tmp_path / "full2")
    assert_same_build(out, tmp_path / "full2")


def test_a_new_violation_in_the_edited_file_is_found(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, before = build(project, out)
    path = documents(project)[2]
    text = path.read_text(encoding="utf-8")
    # 'leads' is for actors (rdfs:domain dkg:Actor); the record checks pass, the shapes do not
    start = text.index("    relation: inActionLine")
    edit(path, text[start : text.index("\n", start)], "    relation: leads")
    with pytest.raises(DataError) as caught:
        build(project, out)
    assert any("should be of type Actor" in p.message for p in caught.value.problems), (
        caught.value.problems
    )
    assert all(p.file == path.relative_to(project).as_posix() for p in caught.value.problems)
    assert (out / "current").resolve() == before  # the failed build left the previous one
    # a later edit elsewhere does not hide it: the graph still differs from the last good build
    GENERATE.edit_one(project)
    with pytest.raises(DataError):
        build(project, out)


def test_a_check_error_is_reported_again_until_fixed(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(project, out)
    path = documents(project)[1]
    text = path.read_text(encoding="utf-8")
    subject = text[text.index("subject: ") : text.index("\n", text.index("subject: "))]
    edit(path, subject, "subject: no-such-entity")
    for _ in range(2):  # the second time from the cache
        with pytest.raises(DataError) as caught:
            build(project, out)
        assert "unknown entity 'no-such-entity'" in str(caught.value.problems)
    edit(path, "subject: no-such-entity", subject)
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_worker_processes_build_the_same_bytes(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph.cache, "PARALLEL_FROM", 1)
    build(project, tmp_path / "parallel")
    monkeypatch.setattr(graph.cache, "PARALLEL_FROM", 10**9)
    build(project, tmp_path / "serial")
    assert_same_build(tmp_path / "parallel", tmp_path / "serial")


def test_a_damaged_cache_is_only_a_miss(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(project, out)
    for entry in sorted((out / "cache").rglob("*.pkl"))[::3]:
        entry.write_bytes(entry.read_bytes()[:10])
    GENERATE.edit_one(project)
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_the_real_project_builds_the_same_incrementally(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for folder in ("extract", "ontology"):
        shutil.copytree(ROOT / folder, project / folder)
    out = tmp_path / "out"
    build(project, out)
    doc = documents(project)[0]
    text = doc.read_text(encoding="utf-8")
    quote = text[text.index("    quote: ") : text.index("\n", text.index("    quote: "))]
    edit(doc, quote, quote + "\n    note: checked against the PDF")  # an rdfs:comment
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


WHOLE_GRAPH_STEPS = ("loading the graph", "applying", "validating", "coverage matrix")


def steps(project: Path, out: Path) -> list[str]:
    """What a build of project into out said it did."""
    said: list[str] = []
    build(project, out, said.append)
    return said


def steps_loading_nothing(project: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a build of project into out said it did; it fails if the build loads the graph into
    memory (graph.build.working_store)."""
    import graph.build

    def no_load(*_args: object) -> Store:
        raise AssertionError("the graph was loaded into memory")

    with monkeypatch.context() as m:
        m.setattr(graph.build, "working_store", no_load)
        return steps(project, out)


HERE = "the rules, run where the edit is"  # (graph.rebuild.keyed_inferred)
SLICED = "to the part of the graph they read"  # (graph.rebuild.sliced_inferred)


def said_any(said: list[str], text: str) -> bool:
    """Whether a build said something with this text."""
    return any(text in s for s in said)


def over_their_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Have the rules run over their slice after an edit they read, not where the edit is."""
    import graph.build

    monkeypatch.setattr(graph.build, "keyed_inferred", lambda *_args, **_kwargs: None)


def test_when_no_graph_changed_nothing_is_inferred_validated_or_computed_again(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = steps(project, out)
    assert all(any(step in s for s in first) for step in WHOLE_GRAPH_STEPS), first
    doc = documents(project)[3]
    doc.write_text(doc.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    notes = project / "ontology" / "rules" / "README.md"  # read by people, not by the build
    notes.write_text(notes.read_text(encoding="utf-8") + "\nReviewed.\n", encoding="utf-8")
    said = steps(project, out)
    assert not [s for s in said if any(step in s for step in WHOLE_GRAPH_STEPS)], said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    assert (out / "current" / "coverage.json").read_bytes() == (
        tmp_path / "full" / "current" / "coverage.json"
    ).read_bytes()


def add_shape(project: Path, constraint: str) -> None:
    """Add a shape to the project: every claim has the property constraint (path first)."""
    shapes = project / "ontology" / "shapes.ttl"
    text = shapes.read_text(encoding="utf-8")
    shape = f"dkgsh:Added a sh:NodeShape ; sh:targetClass dkg:Claim ; sh:property [ sh:path {constraint} ] .\n"
    shapes.write_text(text + "\n" + shape, encoding="utf-8")


def test_changed_shapes_are_checked_although_no_graph_changed(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _, before = build(project, out)
    add_shape(project, 'dkg:reviewedBy ; sh:minCount 1 ; sh:message "a claim names its reviewer"')
    with pytest.raises(DataError) as caught:
        build(project, out)
    assert "a claim names its reviewer" in str(caught.value.problems)
    assert (out / "current").resolve() == before


def test_new_shapes_that_hold_are_checked_once(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, before = build(project, out)
    add_shape(project, "rdf:subject ; sh:minCount 1")
    said = steps(project, out)
    assert "validating against the SHACL shapes" in said, said  # every graph, not a scope
    said = steps(project, out)
    assert not [s for s in said if "validating" in s], said
    assert (out / "current").resolve() == before  # the same graphs: the same snapshot


def test_a_lost_inferred_graph_is_inferred_again(project: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "out"
    _, snapshot = build(project, out)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    key = manifest["graphs"]["https://w3id.org/dkg/graph/inferred"]
    entry = out / "cache" / "graphs" / key[:2] / f"{key}.pkl"
    entry.write_bytes(entry.read_bytes()[:100])  # a damaged entry reads as missing
    said = steps(project, out)
    assert any(s.startswith("applying") for s in said), said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_coverage_facts_from_other_code_are_computed_again(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, snapshot = build(project, out)
    view = snapshot / "coverage.json"
    good = view.read_bytes()
    view.write_bytes(good.replace(b'"code":"', b'"code":"0', 1))
    said = steps(project, out)
    assert any("coverage matrix" in s for s in said), said
    assert view.read_bytes() == good


@pytest.mark.parametrize("inferred_claims", [False, True])
def test_damaged_coverage_facts_are_computed_again_after_an_edit(
    project: Path, tmp_path: Path, inferred_claims: bool
) -> None:
    """A rebuild looks only for the code's mark in the last facts before it relies on them;
    facts that carry it but are damaged are computed again, whole (with the inferred claims, if
    the rules infer any: the small generated corpus needs a bottleneck mapped to a line)."""
    out = tmp_path / "out"
    if inferred_claims:
        mapped(project, out)
    else:
        build(project, out)
    view = out / "current" / "coverage.json"
    good = view.read_bytes()
    cut = good.index(b'"code":"')
    view.write_bytes(good[: cut + 40] + b"]]]")  # the mark is there, the rest is not JSON
    GENERATE.edit_one(project)
    build(project, out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_check_after_a_build_validates_only_what_changed(project: Path, tmp_path: Path) -> None:
    from graph.build import compile_project
    from graph.layout import default_out

    build(project, default_out(project))
    said: list[str] = []
    compile_project(project, said.append)
    assert not [s for s in said if "validating" in s or "applying" in s], said
    path = documents(project)[2]
    text = path.read_text(encoding="utf-8")
    start = text.index("    relation: inActionLine")
    edit(path, text[start : text.index("\n", start)], "    relation: leads")
    said.clear()
    with pytest.raises(DataError) as caught:
        compile_project(project, said.append)
    assert any("should be of type Actor" in p.message for p in caught.value.problems)
    assert any("validating" in s and "changed graph" in s for s in said), said


def test_a_failure_computing_the_views_fails_the_build_and_keeps_the_last(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graph.build
    from graph.errors import RunError

    out = tmp_path / "out"
    _, before = build(project, out)
    GENERATE.edit_one(project)

    def broken(*_args: object) -> dict[str, bytes]:
        raise RunError("the disk is full")

    monkeypatch.setattr(graph.build, "_views", broken)  # runs in its own thread
    with pytest.raises(RunError, match="the disk is full"):
        build(project, out)
    assert (out / "current").resolve() == before
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == [before.name]
    assert not list(out.glob(".tmp-*"))


def add_line_after(path: Path, marker: str, line: str) -> None:
    """Add a line to the first claim with this line (a key of the claim, indented as one)."""
    text = path.read_text(encoding="utf-8")
    at = text.index(marker)
    at = text.index("\n", at) + 1
    path.write_text(text[:at] + line + text[at:], encoding="utf-8")


def test_the_rules_run_again_only_after_an_edit_they_read(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graph.rules

    runs: list[str] = []
    real = graph.rules.apply_rules

    def spy(store, rules, reads=None, whole=True):  # type: ignore[no-untyped-def]
        runs.append("ran")
        return real(store, rules, reads, whole)

    real_here = graph.rules.constructed

    def here(rule, quads):  # type: ignore[no-untyped-def]
        runs.append("ran")
        return real_here(rule, quads)

    monkeypatch.setattr(graph.rules, "apply_rules", spy)
    monkeypatch.setattr(graph.rules, "constructed", here)
    out = tmp_path / "out"
    build(project, out)
    doc = next(d for d in documents(project) if "relation: inActionLine" in d.read_text())
    # a curator's note: no rule reads rdfs:comment, so the last inferred graph stands
    add_line_after(doc, "relation: addresses", "    note: checked against the letter\n")
    runs.clear()
    build(project, out)
    assert runs == []
    build(project, tmp_path / "full-1")
    assert_same_build(out, tmp_path / "full-1")
    # the action-line rule reads the polarity of an intervention's action line
    add_line_after(doc, "relation: inActionLine", "    polarity: negated\n")
    runs.clear()
    build(project, out)
    assert runs and set(runs) == {"ran"}
    build(project, tmp_path / "full-2")
    assert_same_build(out, tmp_path / "full-2")


def claim_block(text: str, marker: str) -> tuple[int, int]:
    """Where the first claim with this line starts and ends in an extraction file."""
    at = text.index(marker)
    start = text.rindex("\n  - id: ", 0, at) + 1
    end = text.find("\n  - id: ", at)
    return start, (len(text) if end < 0 else end + 1)


def shorter_quote(text: str, marker: str) -> str:
    """The first claim with this line, its quote one word shorter (still in the source)."""
    start, end = claim_block(text, marker)
    block = text[start:end]
    q = block.index('quote: "') + len('quote: "')
    quote = block[q : block.index('"', q)]
    return text[:start] + block.replace(quote, quote.rsplit(" ", 1)[0], 1) + text[end:]


def new_cell(text: str, marker: str) -> str:
    """A copy of the first 'addresses' claim, for the intervention of the claim with this line."""
    start, end = claim_block(text, "relation: addresses")
    block = text[start:end]
    other = text[slice(*claim_block(text, marker))]
    subject = other.split("subject: ", 1)[1].split("\n", 1)[0]
    old = block.split("subject: ", 1)[1].split("\n", 1)[0]
    copy = block.replace("  - id: ", "  - id: copied-", 1).replace(
        f"subject: {old}", f"subject: {subject}"
    )
    return text + copy


def with_mapping(text: str) -> str:
    """A copy of the first 'addresses' claim as a claim mapping a bottleneck to an action line
    (that of the first action line claim, if there is one)."""
    start, end = claim_block(text, "relation: addresses")
    lines = text[start:end].splitlines(keepends=True)
    keep = ("locator:", "quote:")
    body = "".join(ln for ln in lines if ln.strip().startswith(keep))
    line = "actielijn-1"
    if "relation: inActionLine" in text:  # the line of the document's first action line claim
        member = text[slice(*claim_block(text, "relation: inActionLine"))]
        line = member.split("object: ", 1)[1].split("\n", 1)[0]
    claim = (
        "  - id: mapped\n    subject: knelpunt-a\n    relation: primaryActionLine\n"
        f"    object: {line}\n" + body
    )
    return text + claim


def without_claim(text: str, marker: str) -> str:
    start, end = claim_block(text, marker)
    return text[:start] + text[end:]


COVERAGE_EDITS = {  # what a document must hold, and the edit
    "a new cell": (
        ("relation: addresses", "relation: inActionLine"),
        lambda t: new_cell(t, "relation: inActionLine"),
    ),
    "a removed 'addresses' claim": (
        ("relation: addresses",),
        lambda t: without_claim(t, "relation: addresses"),
    ),
    "a negated 'addresses' claim": (
        ("relation: addresses",),
        lambda t: t.replace(
            "relation: addresses\n", "relation: addresses\n    polarity: negated\n", 1
        ),
    ),
    "an action line's quote": (
        ("relation: addresses", "relation: inActionLine"),
        lambda t: shorter_quote(t, "relation: inActionLine"),
    ),
    "an action line's quote, by a rule that cites no premise": (
        ("relation: addresses", "relation: inActionLine"),
        lambda t: shorter_quote(t, "relation: inActionLine"),
    ),
    "a bottleneck's line mapping's quote": (
        ("relation: addresses",),
        lambda t: shorter_quote(t, "relation: primaryActionLine"),
    ),
    "a cell's quote": (
        ("relation: addresses",),
        lambda t: shorter_quote(t, "relation: addresses"),
    ),
}


@pytest.mark.parametrize("change", sorted(COVERAGE_EDITS))
def test_the_coverage_facts_after_an_edit_are_updated_cell_by_cell(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """After an edit that keeps the inferred graph, only the cells it can change are queried
    again (graph.reports.coverage.edit_of); the facts equal a full build's all the same."""
    import graph.reports.coverage as coverage

    out = tmp_path / "out"
    if "no premise" in change:  # the inferred claims rest on the line's claims all the same
        rule = project / "ontology" / "rules" / "action-line-coverage.rq"
        edit(
            rule,
            "dkg:viaPrimary ?primary ;\n    dkg:premise ?inLine , ?mapping .",
            "dkg:viaPrimary ?primary .",
        )
    build(project, out)
    needs, change_text = COVERAGE_EDITS[change]
    doc = next(d for d in documents(project) if all(m in d.read_text() for m in needs))
    if "line" in change:  # the small generated corpus maps no bottleneck to a line: map one
        doc.write_text(with_mapping(doc.read_text(encoding="utf-8")), encoding="utf-8")
        build(project, out)
    doc.write_text(change_text(doc.read_text(encoding="utf-8")), encoding="utf-8")
    made: list[str] = []
    real_facts, real_updated = coverage.facts, coverage.updated

    def facts(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.append("all")
        return real_facts(*args, **kwargs)

    def updated(old, backend, edit, langs):  # type: ignore[no-untyped-def]
        made.append(f"{len(edit.cells)} cells")
        return real_updated(old, backend, edit, langs)

    monkeypatch.setattr(coverage, "facts", facts)
    monkeypatch.setattr(coverage, "updated", updated)
    said = steps(project, out)
    assert not any(s.startswith("applying") for s in said), said  # the inferred graph is kept
    assert len(made) == 1 and made[0] != "0 cells" and made[0].endswith("cells"), made
    monkeypatch.setattr(coverage, "facts", real_facts)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('en: "bottleneck A"}', 'en: "bottleneck A (IDEA)"}'),  # a bottleneck's label
        ('en: "instrument 8"}', 'en: "instrument eight"}'),  # an intervention's label
        (
            '  - id: instrument-8\n    type: "Instrument"',
            '  - id: instrument-8\n    type: "Action"',
        ),
    ],
    ids=["bottleneck label", "intervention label", "intervention type"],
)
def test_facts_whose_names_an_edit_describes_anew_are_read_again_not_computed_whole(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    """The updated facts keep the types and labels of what the old ones name, but for what the
    edit describes anew: those are read again, and the rest of the facts is not computed whole
    (which loads the whole graph into memory). The result is a full build's."""
    import graph.reports.coverage as coverage

    out = tmp_path / "out"
    build(project, out)
    edit(project / "extract" / "entities.yaml", old, new)
    made: list[str] = []
    real_facts = coverage.facts

    def facts(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.append("all")
        return real_facts(*args, **kwargs)

    monkeypatch.setattr(coverage, "facts", facts)
    steps_loading_nothing(project, out, monkeypatch)
    assert made == [], made
    monkeypatch.setattr(coverage, "facts", real_facts)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_file_digests_are_remembered_by_stat_and_a_changed_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import os
    import time

    from graph.cache import Cache, FileDigests

    cache = Cache(tmp_path / "cache")
    path = tmp_path / "a.yaml"
    path.write_text("one")
    # a source text found through a link, under extract/ (graph.cache._source_digest)
    sources = tmp_path / "extract" / "sources"
    sources.mkdir(parents=True)
    (sources / "real.txt").write_text("text")
    (tmp_path / "outside.txt").write_text("text")
    (sources / "a.txt").symlink_to(sources / "real.txt")
    fresh = FileDigests(cache)
    assert fresh(path) == hashlib.sha256(b"one").hexdigest()
    fresh.save()
    assert FileDigests(cache).known == {}  # changed less than a second ago: not remembered
    time.sleep(1.1)
    first = FileDigests(cache)
    first(path)
    text = hashlib.sha256(b"text").hexdigest()
    assert graph.cache._source_digest(tmp_path, "sources/a.txt", first) == text
    first.save()
    one = hashlib.sha256(b"one").hexdigest()
    with monkeypatch.context() as m:  # remembered: not read (nor hashed) again
        m.setattr(graph.cache.hashlib, "sha256", None)
        assert FileDigests(cache)(path) == one
    st = path.stat()
    path.write_text("two")  # the same size, and the same modification time put back
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert FileDigests(cache)(path) == hashlib.sha256(b"two").hexdigest()
    # the link now leads outside extract/: the path is resolved again, and refused
    (sources / "a.txt").unlink()
    (sources / "a.txt").symlink_to(tmp_path / "outside.txt")
    assert graph.cache._source_digest(tmp_path, "sources/a.txt", FileDigests(cache)) == "missing"


def mapped(project: Path, out: Path, but: str = "") -> Path:
    """Map a bottleneck to the action line of a document's first action line claim (the small
    generated corpus maps none), so that the rules infer claims via that line (not via line
    but); build; return the document."""
    marker = "relation: inActionLine\n    object: "
    doc = next(
        d
        for d in documents(project)
        if marker in (text := d.read_text()) and not text.split(marker, 1)[1].startswith(f"{but}\n")
    )
    doc.write_text(with_mapping(doc.read_text(encoding="utf-8")), encoding="utf-8")
    build(project, out)
    return doc


@pytest.mark.parametrize("where", [HERE, SLICED])
def test_after_an_edit_a_rule_reads_the_rules_run_where_it_is_or_over_what_they_read(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The graph is not loaded into memory: the rules run where the edit is (graph.rebuild.
    keyed_inferred), or, where they cannot, over a slice of the new snapshot's store
    (graph.rules.slice_of); the shapes are checked on the edited graph and on the nodes the
    rules said something new of, and the coverage facts are updated cell by cell. What the
    negated claim took away is taken back."""
    import graph.build
    import graph.reports.coverage as coverage

    out = tmp_path / "out"
    doc = mapped(project, out)
    inferred = (out / "current" / "dkg.nq").read_text().count("/action-line-coverage/")
    assert inferred > 0
    add_line_after(doc, "relation: inActionLine", "    polarity: negated\n")
    made: list[str] = []
    real_updated = coverage.updated

    def updated(old, backend, edit, langs):  # type: ignore[no-untyped-def]
        made.append(f"{len(edit.cells)} cells")
        return real_updated(old, backend, edit, langs)

    def no_load(*_args: object) -> Store:
        raise AssertionError("the graph was loaded into memory")

    with monkeypatch.context() as m:
        m.setattr(graph.build, "working_store", no_load)
        m.setattr(coverage, "updated", updated)
        if where == SLICED:
            over_their_slice(m)
        said = steps(project, out)
    assert said_any(said, where), said
    assert any("(1 changed graph and" in s and "the rules said something new of" in s for s in said)
    assert made and made[0] != "0 cells", made
    assert (out / "current" / "dkg.nq").read_text().count("/action-line-coverage/") < inferred
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def mark_negated(project: Path, out: Path) -> tuple[Path, str]:
    """Two rules, the second reading what the first infers with a label: a bottleneck that a
    source says an intervention does not address is marked, and a marked bottleneck's label is
    its comment. Build; return a document that says an intervention addresses a bottleneck that
    is not marked, and that bottleneck."""
    rules = project / "ontology" / "rules"
    (rules / "marked.rq").write_text(
        "# A bottleneck that a source says an intervention does not address is marked.\n"
        'CONSTRUCT { ?b skos:note "negated" . } WHERE {\n'
        "  ?c rdf:predicate dkg:addresses ; rdf:object ?b ; dkg:polarity dkg:Negated . }\n",
        encoding="utf-8",
    )
    (rules / "marked-label.rq").write_text(
        "# A marked bottleneck's label is its comment.\n"
        'CONSTRUCT { ?b rdfs:comment ?l . } WHERE { ?b skos:note "negated" ; skos:prefLabel ?l . }\n',
        encoding="utf-8",
    )
    build(project, out)
    marked = {
        q.subject.value
        for q in Store.read_only(str(out / "current" / "store")).quads_for_pattern(
            None, NamedNode("http://www.w3.org/2004/02/skos/core#note"), None, None
        )
    }
    return next(
        (d, b)
        for d in documents(project)
        for b in re.findall(r"relation: addresses\n    object: (\S+)\n", d.read_text())
        if C.ID + b not in marked
    )


@pytest.mark.parametrize("where", [HERE, SLICED])
def test_what_the_rules_infer_anew_of_a_node_reads_that_node_s_other_triples(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """An edit that has the first of two rules (mark_negated) infer something of a bottleneck
    it did not before needs that bottleneck's label. Run where the edit is, the second round
    finds it in the store; the slice made before the rules ran lacks it (graph.rules.Reads.
    beyond), so the rules then run over the whole graph."""
    out = tmp_path / "out"
    doc, bottleneck = mark_negated(project, out)
    edit(
        doc,
        f"relation: addresses\n    object: {bottleneck}\n",
        f"relation: addresses\n    object: {bottleneck}\n    polarity: negated\n",
    )
    with monkeypatch.context() as m:
        if where == SLICED:
            over_their_slice(m)
        said = steps(project, out)
    assert said_any(said, where), said
    assert said_any(said, "loading the graph") == (where == SLICED), said
    nquads = (out / "current" / "dkg.nq").read_text()
    assert f"<{C.ID}{bottleneck}> <http://www.w3.org/2000/01/rdf-schema#comment>" in nquads
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def no_slice_kept(build: Path) -> bool:
    """Whether a build kept no slice of what the rules read beside its snapshot (the rules ran
    where the edit was: graph.rebuild.keyed_inferred)."""
    return not (build / "current" / C.RULES_SLICE).exists()


def test_an_edit_that_only_adds_has_the_rules_infer_from_what_it_added_round_by_round(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new claim that two rules read (mark_negated): the first infers a mark from the claim,
    the second a comment in each language from the mark, in a second round, without running the
    rules over their slice or loading the graph (graph.rebuild.keyed_inferred). The slice kept
    for the next edit a rule reads holds what the new claim adds to it. Without the second
    round, or with a slice that lacks the new claim's solutions, the builds or the slices
    differ."""
    import graph.rules

    out = tmp_path / "out"
    doc, bottleneck = mark_negated(project, out)
    text = doc.read_text(encoding="utf-8")
    start, end = claim_block(text, f"relation: addresses\n    object: {bottleneck}\n")
    copy = text[start:end].replace("  - id: ", "  - id: added-", 1)
    copy = copy.replace("relation: addresses\n", "relation: addresses\n    polarity: negated\n", 1)
    doc.write_text(text + copy, encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(graph.rules, "apply_rules", None)  # (not called)
        said = steps_loading_nothing(project, out, monkeypatch)
    assert said_any(said, f"{HERE}, inferred 3 new triples and took back 0 triples"), said
    nquads = (out / "current" / "dkg.nq").read_text()
    assert f"<{C.ID}{bottleneck}> <http://www.w3.org/2000/01/rdf-schema#comment>" in nquads
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    assert no_slice_kept(out)


def test_an_edit_that_only_adds_can_take_away_what_a_rule_with_not_exists_inferred(
    project: Path, tmp_path: Path
) -> None:
    """A rule that notes every bottleneck no source says goes unaddressed: a new claim that one
    does takes the note away. A rule that reads data under a NOT EXISTS can lose what it made
    to a new quad: it has no Keys (graph.rules.Keys), and the rules run over their slice."""
    rule = project / "ontology" / "rules" / "open.rq"
    rule.write_text(
        "# A bottleneck no source says an intervention does not address is open.\n"
        'CONSTRUCT { ?b skos:editorialNote "open" . } WHERE { ?b a dkg:Bottleneck FILTER NOT EXISTS {\n'
        "  ?c rdf:predicate dkg:addresses ; rdf:object ?b ; dkg:polarity dkg:Negated } }\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    doc, bottleneck = mark_negated(project, out)
    open_note = f'<{C.ID}{bottleneck}> <http://www.w3.org/2004/02/skos/core#editorialNote> "open"'
    assert open_note in (out / "current" / "dkg.nq").read_text()
    text = doc.read_text(encoding="utf-8")
    start, end = claim_block(text, f"relation: addresses\n    object: {bottleneck}\n")
    copy = text[start:end].replace("  - id: ", "  - id: added-", 1)
    copy = copy.replace("relation: addresses\n", "relation: addresses\n    polarity: negated\n", 1)
    doc.write_text(text + copy, encoding="utf-8")
    said = steps(project, out)
    assert any("to the part of the graph they read" in s for s in said), said
    assert open_note not in (out / "current" / "dkg.nq").read_text()
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_an_edit_that_adds_what_a_rule_with_sub_selects_reads_has_it_run_where_the_edit_is(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action-line rule's sub-selects project the variables its solutions are found by: a new
    mapping of a bottleneck to an action line has it run where the mapping is, with the result
    of a full build, and the slice kept for the next edit is a full build's."""
    out = tmp_path / "out"
    build(project, out)
    doc = next(d for d in documents(project) if "relation: inActionLine" in d.read_text())
    doc.write_text(with_mapping(doc.read_text(encoding="utf-8")), encoding="utf-8")
    said = steps_loading_nothing(project, out, monkeypatch)
    assert said_any(said, HERE) and not said_any(said, SLICED), said
    assert (out / "current" / "dkg.nq").read_text().count("/action-line-coverage/") > 0
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")
    assert no_slice_kept(out)


def test_what_an_edit_takes_away_stays_where_a_solution_it_did_not_change_makes_it(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An intervention in two action lines, and a bottleneck mapped to both: once the
    intervention leaves one line, the claim via that line goes, but that it addresses the
    bottleneck stays, as the other line says so still. Run where the edit is, the rule no longer
    makes it from the solutions the edit changed, and makes it again from one it did not change,
    found by what the inferred graph says of the claim (graph.rules.Keys.widened). Without that,
    the triple is taken away and the build differs from a full build."""
    member = re.compile(r"subject: (\S+)\n    relation: inActionLine\n    object: (\S+)\n")
    lines: dict[str, set[str]] = {}
    for d in documents(project):
        for subject, line in member.findall(d.read_text(encoding="utf-8")):
            lines.setdefault(subject, set()).add(line)
    doc = next(d for d in documents(project) if "relation: inActionLine" in d.read_text())
    text = doc.read_text(encoding="utf-8")
    subject, line = next(m for m in member.findall(text) if len(lines[m[0]]) < 4)
    other = min({f"actielijn-{n}" for n in range(1, 5)} - lines[subject])
    start, end = claim_block(text, "relation: addresses")
    cited = ("locator:", "quote:")
    body = "".join(
        x for x in text[start:end].splitlines(keepends=True) if x.strip().startswith(cited)
    )

    def claim(name: str, s: str, relation: str, o: str) -> str:
        return (
            f"  - id: {name}\n    subject: {s}\n    relation: {relation}\n    object: {o}\n{body}"
        )

    also = claim("also-in", subject, "inActionLine", other)
    mappings = claim("mapped-1", "knelpunt-a", "primaryActionLine", line) + claim(
        "mapped-2", "knelpunt-a", "secondaryActionLine", other
    )
    doc.write_text(text + also + mappings, encoding="utf-8")
    out = tmp_path / "out"
    build(project, out)
    addresses = (
        f"<{C.ID}{subject}> <{C.ONTOLOGY}addresses> <{C.ID}knelpunt-a> <{C.INFERRED_GRAPH}> ."
    )
    via = f"/action-line-coverage/{subject}--knelpunt-a--"
    before = (out / "current" / "dkg.nq").read_text()
    assert addresses in before and f"{via}{line}>" in before and f"{via}{other}>" in before
    negated = also.replace(
        "relation: inActionLine\n", "relation: inActionLine\n    polarity: negated\n"
    )
    doc.write_text(text + negated + mappings, encoding="utf-8")
    said = steps_loading_nothing(project, out, monkeypatch)
    assert said_any(said, HERE) and not said_any(said, SLICED), said
    after = (out / "current" / "dkg.nq").read_text()
    assert addresses in after and f"{via}{line}>" in after and f"{via}{other}>" not in after
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_a_violation_on_a_node_the_rules_say_something_new_of_is_found(
    project: Path, tmp_path: Path
) -> None:
    """The inferred claims an edit makes are validated, though their graph is not the edited one:
    a shape that allows no claim via action line 4, and a bottleneck mapped to it."""
    shapes = project / "ontology" / "shapes.ttl"
    lines = " ".join(f"<{C.ID}actielijn-{n}>" for n in (1, 2, 3))
    shapes.write_text(
        shapes.read_text(encoding="utf-8")
        + "\ndkgsh:ViaShape a sh:NodeShape ;\n    sh:targetClass dkg:Claim ;\n"
        f"    sh:property [ sh:path dkg:via ; sh:in ( {lines} ) ;\n"
        '                  sh:message "goes via a line this project leaves aside" ] .\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    doc = mapped(project, out, but="actielijn-4")
    text = doc.read_text(encoding="utf-8")
    start = text.index("relation: primaryActionLine\n    object: ")
    end = text.index("\n", start + len("relation: primaryActionLine\n"))
    assert "actielijn-4" not in text[start:end]
    doc.write_text(
        text[:start] + "relation: primaryActionLine\n    object: actielijn-4" + text[end:],
        encoding="utf-8",
    )
    said: list[str] = []
    with pytest.raises(DataError) as caught:
        build(project, out, said.append)
    assert said_any(said, HERE), said
    assert any("line this project leaves aside" in p.message for p in caught.value.problems)


def test_the_nodes_naming_a_node_the_inferred_graph_types_anew_are_validated_again() -> None:
    """The shapes read the types of what a node names: a node that names one whose inferred type
    changed is validated again, with the nodes the inferred graph says something new of."""
    from graph.cache import make_chunk
    from graph.rebuild import inferred_nodes

    ex = "http://example.org/"
    store = Store()
    store.load(
        f"<{ex}g> {{ <{ex}f> <{ex}p> <{ex}t> . <{ex}h> <{ex}p> <{ex}u> . }}",
        format=RdfFormat.TRIG,
    )
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"

    def inferred(kind: str, note: str) -> graph.cache.Chunk:
        g = f"<{C.INFERRED_GRAPH}>"
        nq = f'<{ex}t> {rdf_type} <{ex}{kind}> {g} .\n<{ex}u> <{ex}q> "{note}" {g} .\n'
        return make_chunk(C.INFERRED_GRAPH, nq.encode())

    old = inferred("A", "x")
    assert inferred_nodes(store, old, inferred("B", "x")) == [f"{ex}f", f"{ex}t"]
    assert inferred_nodes(store, old, inferred("A", "y")) == [f"{ex}u"]
    assert inferred_nodes(store, old, old) == []


def negate_first(doc: Path, relation: str) -> None:
    """Negate the first claim with this relation that has no polarity yet."""
    text = doc.read_text(encoding="utf-8")
    found = re.finditer(f"relation: {relation}\n", text)
    at = next(m.end() for m in found if "polarity:" not in _block(text, m.start()))
    doc.write_text(text[:at] + "    polarity: negated\n" + text[at:], encoding="utf-8")


def move_to_another_line(doc: Path) -> None:
    """Move the intervention of the first affirmed, actual action line claim to the next line."""
    text = doc.read_text(encoding="utf-8")
    found = re.finditer(r"relation: inActionLine\n    object: actielijn-(\d)\n", text)
    m = next(m for m in found if not re.search(r"polarity:|modality:", _block(text, m.start())))
    doc.write_text(text[: m.start(1)] + str(int(m[1]) % 4 + 1) + text[m.end(1) :], encoding="utf-8")


def _block(text: str, at: int) -> str:
    """The claim that this place of an extraction file is in."""
    end = text.find("\n  - id: ", at)
    return text[text.rfind("\n  - id: ", 0, at) : end if end >= 0 else len(text)]


def test_the_part_of_the_graph_the_rules_read_is_kept_beside_the_snapshot_for_the_next_edit(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole build keeps the slice beside its snapshot, and so does an edit a rule reads (which
    updates it from the edited graph instead of reading it from the store again); an edit no rule
    reads links it into the new snapshot (the rules read nothing that changed). Each build equals
    a full build."""
    import graph.rules
    from graph.layout import current_snapshot
    from graph.rebuild import last_slice

    out = tmp_path / "out"
    doc = mapped(project, out)
    assert (current_snapshot(out) / C.RULES_SLICE).is_file()

    def not_again(*_args: object) -> None:
        raise AssertionError("the slice was read from the store again")

    edits = [
        (True, lambda: negate_first(doc, "inActionLine")),
        (False, lambda: GENERATE.edit_one(project)),  # no rule reads it
        (True, lambda: negate_first(doc, "primaryActionLine")),  # takes quads from the slice
        (True, lambda: move_to_another_line(doc)),  # adds some
    ]
    for n, (read, make_edit) in enumerate(edits):
        last = current_snapshot(out) / C.RULES_SLICE
        before = (last.read_bytes(), last.stat().st_ino)
        make_edit()
        with monkeypatch.context() as m:
            m.setattr(graph.rules, "slice_of", not_again)
            over_their_slice(m)
            said = steps(project, out)
        kept = current_snapshot(out) / C.RULES_SLICE
        assert said_any(said, SLICED) == read, said
        assert ((kept.read_bytes(), kept.stat().st_ino) == before) != read  # linked if not read
        build(project, tmp_path / f"full-{n}")
        assert_same_build(out, tmp_path / f"full-{n}")
    manifest = (current_snapshot(out) / "manifest.json").read_text()
    assert C.RULES_SLICE not in manifest  # not an output
    context = json.loads(manifest)["validated"]
    assert last_slice(current_snapshot(out), context) is not None
    assert last_slice(current_snapshot(out), "another context") is None


def test_a_damaged_slice_is_read_from_the_store_again(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    doc = mapped(project, out)
    negate_first(doc, "inActionLine")
    over_their_slice(monkeypatch)
    _, snapshot = build(project, out)
    kept = snapshot / C.RULES_SLICE
    data = bytearray(kept.read_bytes())
    data[-40:-30] = b"<urn:x:y> "  # the body no longer has the digest in its first line
    kept.write_bytes(bytes(data))
    negate_first(doc, "primaryActionLine")
    said = steps(project, out)
    assert said_any(said, SLICED), said
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


def test_after_the_rules_ran_where_an_edit_was_their_slice_is_read_from_the_store(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules need no slice while they run where each edit is, so none is kept then; an edit
    they must run over their slice for reads it from the store again (graph.rules.slice_of), with
    the result of a full build, and keeps it."""
    import graph.rules

    out = tmp_path / "out"
    doc = mapped(project, out)
    negate_first(doc, "inActionLine")
    assert said_any(steps(project, out), HERE)
    assert no_slice_kept(out)
    negate_first(doc, "primaryActionLine")
    asked: list[str] = []
    real = graph.rules.slice_of

    def slice_of(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append("slice")
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(graph.rules, "slice_of", slice_of)
        over_their_slice(m)
        said = steps(project, out)
    assert said_any(said, SLICED) and asked == ["slice"], said
    assert not no_slice_kept(out)
    build(project, tmp_path / "full")
    assert_same_build(out, tmp_path / "full")


@pytest.mark.parametrize("kind", ["an edit no rule reads", "an edit a rule reads"])
def test_check_after_an_edit_reads_a_copy_of_the_store_and_writes_nothing_it_keeps(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """`dkg check` after an edit works on a copy of the snapshot's store in a temporary folder
    (no graph loaded into memory), leaves the build folder as it was and removes the copy."""
    import tempfile

    import graph.build
    from graph.build import compile_project
    from graph.layout import default_out

    out = default_out(project)
    doc = mapped(project, out)
    if kind == "an edit a rule reads":
        move_to_another_line(doc)
    else:
        GENERATE.edit_one(project)
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def no_load(*_args: object) -> Store:
        raise AssertionError("the graph was loaded into memory")

    monkeypatch.setattr(graph.build, "working_store", no_load)
    said: list[str] = []
    compiled = compile_project(project, said.append)
    assert any("changed graph" in s for s in said), said
    after = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert list(scratch.iterdir()) == []
    monkeypatch.undo()
    build(project, tmp_path / "full")
    full = (tmp_path / "full" / "current" / "dkg.nq").read_bytes()
    assert [str(q) for q in compiled.quads] == [
        str(q) for q in parse(full, format=RdfFormat.N_QUADS)
    ]  # what the check compiled is what a full build writes


def test_check_without_a_temporary_folder_loads_the_graph_instead(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from graph.build import compile_project
    from graph.layout import default_out

    build(project, default_out(project))
    path = documents(project)[2]
    text = path.read_text(encoding="utf-8")
    start = text.index("    relation: inActionLine")
    edit(path, text[start : text.index("\n", start)], "    relation: leads")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    said: list[str] = []
    with pytest.raises(DataError) as caught:
        compile_project(project, said.append)
    assert any("loading the graph" in s for s in said), said
    assert any("should be of type Actor" in p.message for p in caught.value.problems)


def test_a_corpus_the_benchmark_kept_is_given_the_projects_ontology(tmp_path: Path) -> None:
    """A corpus is generated once and kept; its rules and shapes must be the project's of the
    day, or the benchmark times yesterday's rules (it did, for a day)."""
    bench = _benchmark("bench")
    project = bench.corpus(tmp_path, 400)
    rule = project / "ontology" / C.RULES_DIRNAME / "action-line-coverage.rq"
    rule.write_text("# the rule as it was written on an earlier day\n", encoding="utf-8")
    (project / "ontology" / "gone.ttl").write_text("", encoding="utf-8")
    kept = documents(project)[0]
    kept.write_text(kept.read_text(encoding="utf-8") + "# kept\n", encoding="utf-8")
    assert bench.corpus(tmp_path, 400) == project
    assert rule.read_bytes() == (ROOT / "ontology" / C.RULES_DIRNAME / rule.name).read_bytes()
    assert not (project / "ontology" / "gone.ttl").exists()
    assert kept.read_text(encoding="utf-8").endswith("# kept\n")  # not generated again
