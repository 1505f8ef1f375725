"""Every kind of error has a counter-example in tests/data/invalid/ that must fail with its message.

A case is a folder of files laid over a copy of the smallest valid corpus (tests/data/valid/):
`extract/...` files replace or add files, a file named `<path>.delete` removes one, and
`expected.txt` lists lines that must each appear in `dkg check`'s output (as substrings, in any
order). `dkg check` must exit 1 and print no traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph.cli import main
from tests.conftest import DATA, copy_project

CASES = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())


def overlay(case: Path, project: Path) -> None:
    """Lay the case's files over the project."""
    for path in sorted(case.rglob("*")):
        if path.is_dir() or path.name == "expected.txt":
            continue
        rel = path.relative_to(case)
        target = project / rel
        if path.suffix == ".delete":
            target.with_suffix("").unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_case_fails_with_its_message(case: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    overlay(case, project)
    result = CliRunner().invoke(main, ["-C", str(project), "check"])
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            assert line.strip() in output, f"expected {line.strip()!r} in:\n{output}"


def test_every_case_names_what_it_expects() -> None:
    assert CASES, "tests/data/invalid/ holds no cases"
    for case in CASES:
        assert (case / "expected.txt").is_file(), f"{case.name} has no expected.txt"


def test_valid_corpus_is_clean(valid_project: Path) -> None:
    result = CliRunner().invoke(main, ["-C", str(valid_project), "check"])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_a_wrong_section_range_is_reported_once(tmp_path: Path) -> None:
    """Not again for every quote in that section: the range is what to fix."""
    project = copy_project(tmp_path / "project")
    overlay(DATA / "invalid" / "line-range-backwards", project)
    result = CliRunner().invoke(main, ["-C", str(project), "check"])
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert errors == [
        "ERROR extract/documents/mini.yaml:10:53 line range 5-3 runs backwards; write 3-5"
    ]


def test_an_inferred_claim_is_not_blamed_for_its_premise(tmp_path: Path) -> None:
    """secfund typed as a ConceptScheme breaks the claims that put it in an action line; the claim
    the rules infer from them breaks the same shape, but only the premises, which have a file and
    a line, are reported."""
    project = copy_project(tmp_path / "project")
    overlay(DATA / "invalid" / "inferred-from-wrong-type", project)
    result = CliRunner().invoke(main, ["-C", str(project), "check"])
    assert result.exit_code == 1
    assert "(compiled graph)" not in result.output
    assert "inferred/" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, result.output


def test_a_term_of_the_ontology_is_located_in_dkg_ttl(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    ttl = project / "ontology" / "dkg.ttl"
    lines = ttl.read_text(encoding="utf-8").count("\n")
    with ttl.open("a", encoding="utf-8") as fh:
        fh.write('dkg:Fund a owl:Class ; skos:prefLabel "fonds"@nl .\n')
    result = CliRunner().invoke(main, ["-C", str(project), "check"])
    assert result.exit_code == 1
    assert (
        f"ERROR ontology/dkg.ttl:{lines + 1} Fund: Fund needs a label in Dutch and in English"
        in result.output
    )
