"""The committed JSON Schemas are generated from the models and up to date; YAML files point at them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from graph.cli import main
from graph.schema import render_schemas

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "extract" / "schema"


def test_committed_schemas_are_up_to_date() -> None:
    for name, text in render_schemas().items():
        committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"extract/schema/{name} is stale: run `dkg schema` and commit it"


def test_schema_check_command_detects_a_stale_schema(tmp_path: Path) -> None:
    (tmp_path / "extract" / "schema").mkdir(parents=True)
    (tmp_path / "ontology").mkdir()
    (tmp_path / "extract" / "schema" / "entities.schema.json").write_text("{}")
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "schema", "--check"])
    assert result.exit_code == 1
    assert "entities.schema.json is stale" in result.output


def test_schema_writes_what_is_stale_then_says_up_to_date(tmp_path: Path) -> None:
    (tmp_path / "ontology").mkdir()  # a new project: no extract/ yet
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "schema"])
    assert result.exit_code == 0, result.output
    assert result.output.count("wrote extract/schema/") == len(render_schemas())
    for name, text in render_schemas().items():
        assert (tmp_path / "extract" / "schema" / name).read_text(encoding="utf-8") == text
    again = CliRunner().invoke(main, ["-C", str(tmp_path), "schema"])
    assert again.output == "schemas are up to date\n"
    check = CliRunner().invoke(main, ["-C", str(tmp_path), "schema", "--check"])
    assert check.exit_code == 0 and check.output == "schemas are up to date\n"


def test_schema_names_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "ontology").mkdir()
    (tmp_path / "extract").mkdir()
    (tmp_path / "extract" / "schema").write_text("not a folder")
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "schema"])
    assert result.exit_code == 2
    assert "schema is a file, not a folder" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_every_field_has_a_description() -> None:
    undocumented = []
    for name, text in render_schemas().items():
        schema = json.loads(text)
        for model, spec in schema.get("$defs", {}).items():
            for field, prop in spec.get("properties", {}).items():
                if "description" not in prop:
                    undocumented.append(f"{name}: {model}.{field}")
    assert not undocumented, undocumented


def test_every_yaml_file_points_at_its_schema() -> None:
    files = [
        ROOT / "extract" / "entities.yaml",
        *sorted((ROOT / "extract" / "documents").glob("*.yaml")),
    ]
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.is_file(), f"{path.name} points at {target}, which does not exist"
