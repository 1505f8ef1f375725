"""Generate the JSON Schemas of the extraction format from the models (graph.models)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from graph import constants as C
from graph.cli import root_of
from graph.errors import DataError, Problem
from graph.layout import write_atomic

SCHEMAS = {"entities.schema.json": "Registry", "extraction.schema.json": "Extraction"}


def render_schemas() -> dict[str, str]:
    """Return file name -> JSON Schema text, generated from the models."""
    from graph import models

    out = {}
    for name, model_name in SCHEMAS.items():
        schema = getattr(models, model_name).model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$comment"] = "DERIVED, DO NOT EDIT: generated from graph/models.py by `dkg schema`."
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


@click.command("schema")
@click.option(
    "--check", "verify", is_flag=True, help="Only verify that the committed schemas are up to date."
)
@click.pass_context
def schema_command(ctx: click.Context, verify: bool) -> None:
    """Write extract/schema/*.schema.json from the models, or verify them with --check."""
    folder = root_of(ctx) / C.SCHEMA_DIRNAME
    stale = {name: text for name, text in render_schemas().items() if _read(folder / name) != text}
    if not stale:
        click.echo("schemas are up to date")
    elif verify:
        message = "is stale; run `dkg schema` and commit it"
        raise DataError([Problem(f"{C.SCHEMA_DIRNAME}/{name}", 0, 0, message) for name in stale])
    for name, text in stale.items():
        write_atomic(folder / name, text.encode("utf-8"))
        click.echo(f"wrote {C.SCHEMA_DIRNAME}/{name}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
