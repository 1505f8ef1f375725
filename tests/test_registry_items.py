"""The registry read item by item after an edit (graph.yamlio.load_items) is the registry read
whole: the same values, and every problem at the same place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import graph.yamlio as Y
from graph.build import build
from graph.errors import DataError
from tests.conftest import ROOT

REGISTRY = ROOT / "extract" / "entities.yaml"


def whole(raw: bytes) -> Y.Located:
    return Y.load_yaml_bytes(raw, "extract/entities.yaml")


def by_items(raw: bytes, known: dict[str, object]) -> tuple[Y.Located, dict[str, object]]:
    loaded = Y.load_items(raw, "extract/entities.yaml", "entities", known)
    assert loaded is not None
    return loaded


def test_the_project_s_registry_loads_item_by_item_as_it_loads_whole() -> None:
    raw = REGISTRY.read_bytes()
    full = whole(raw)
    located, table = by_items(raw, {})
    assert located.data == full.data
    assert table == Y.item_values(raw, "entities", full.data["entities"])
    # what every build asks is known from the layout, and is what reading it whole finds
    assert located.where(("entities",)) == full.where(("entities",))
    assert located.where(("entities",), key=True) == full.where(("entities",), key=True)
    assert located.where(()) == full.where(())
    assert located.marks.whole.located is None  # type: ignore[attr-defined]
    # every other place is found by reading it whole
    for path in list(full.marks)[::97] + list(full.key_marks)[::89]:
        assert located.where(path) == full.where(path)
        assert located.where(path, key=True) == full.where(path, key=True)


def test_after_an_edit_only_the_edited_item_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = REGISTRY.read_bytes()
    _located, table = by_items(raw, {})
    edited = raw.replace(b"en: Ministry of Defence}", b"en: Ministry of Defense}", 1)
    assert edited != raw
    parsed: list[bytes] = []
    real = Y.load_yaml_bytes

    def spy(data: bytes, name: str) -> Y.Located:
        parsed.append(data)
        return real(data, name)

    monkeypatch.setattr(Y, "load_yaml_bytes", spy)
    located, _table = by_items(edited, table)
    assert len(parsed) == 1 and b"Ministry of Defense" in parsed[0]
    monkeypatch.undo()
    assert located.data == whole(edited).data


@pytest.mark.parametrize(
    "text",
    [
        "entities:\n  - id: a\nother: 1\n",  # a second key
        "title: x\nentities:\n  - id: a\n",  # a key before it
        "entities: [{id: a}]\n",  # a flow list
        "entities:\n  - id: a\n\r\n",  # another line break
        "entities:\n - id: a\n",  # indented otherwise
        "entities:\n  - id: a\n    label: 'one\n  - two'\n",  # an item that does not load alone
        "entities:\n",  # no items
    ],
)
def test_a_file_laid_out_otherwise_is_read_whole(text: str) -> None:
    assert Y.load_items(text.encode(), "f.yaml", "entities", {}) is None


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's extract/, beside its ontology."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "ontology").symlink_to(ROOT / "ontology")
    shutil.copytree(ROOT / "extract", root / "extract")
    return root


def test_a_problem_in_an_edited_registry_is_at_its_place(project: Path, tmp_path: Path) -> None:
    """After a build has kept the registry's items, an edit that breaks one entity far down the
    file is reported at the line and column reading it whole gives."""
    out = tmp_path / "out"
    build(project, out)
    registry = project / "extract" / "entities.yaml"
    text = registry.read_text(encoding="utf-8")
    last = text.rindex("\n  - id: ")
    at = text.index("    type: ", last)
    registry.write_text(text[:at] + "    type: Nonsense\n" + text[at:].split("\n", 1)[1])
    with pytest.raises(DataError) as failed:
        build(project, out)
    reported = [(p.file, p.line, p.col) for p in failed.value.problems]
    line = text[:at].count("\n") + 1
    assert ("extract/entities.yaml", line, 11) in reported, failed.value.problems


def test_after_an_edit_only_the_edited_entity_is_compiled_and_the_graph_equals_a_full_build(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's graph is made entity by entity from the lines each had (graph.cache.
    _registry_chunk), its TriG and JSON-LD spliced: the files equal a full build's."""
    import graph.compile

    out = tmp_path / "out"
    build(project, out)
    registry = project / "extract" / "entities.yaml"
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("en: Ministry of Defence}", "en: Defence Ministry}", 1))
    compiled: list[str] = []
    real = graph.compile.compile_entity

    def spy(entity, graph):  # type: ignore[no-untyped-def]
        compiled.append(entity.id)
        return real(entity, graph)

    with monkeypatch.context() as m:
        m.setattr(graph.compile, "compile_entity", spy)
        build(project, out)
    assert compiled == ["defensie"]
    build(project, tmp_path / "full")
    for name in ("dkg.nq", "dkg.trig", "dkg.jsonld", "dkg.ttl"):
        assert (out / "current" / name).read_bytes() == (
            tmp_path / "full" / "current" / name
        ).read_bytes()
