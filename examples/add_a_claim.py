"""Walkthrough: add a claim to a copy of the project, make a typo, and watch `dkg check` catch it.

Run it from the project folder: `python examples/add_a_claim.py`. It works on a temporary copy and
leaves your extract/ untouched. examples/walkthrough.md shows its output and explains each step.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = "extract/documents/antwoorden-idea-motie-boswijk-2025.yaml"

CLAIM = """
  # Added in the walkthrough: TTT's purpose, in the words of answer 1.
  - id: ttt-versnelt-dual-use
    subject: {subject}
    relation: goal
    text: versnellen van dual-use innovatie en valorisatie
    locator: a1
    quote: "De inzet in TTT draagt bij aan het {verb} dual-use innovatie en valorisatie"
"""


def dkg(project: Path, *args: str) -> int:
    """Run dkg on the copy, echoing the command and its output."""
    print(f"$ dkg {' '.join(args)}")
    proc = subprocess.run(
        [sys.executable, "-m", "graph", "-C", str(project), *args], capture_output=True, text=True
    )
    print((proc.stdout + proc.stderr).rstrip())
    print(f"(exit {proc.returncode})\n")
    return proc.returncode


def main() -> int:
    """Run the three steps; return 0 if each behaved as the walkthrough says."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "dkg"
        for folder in ("extract", "ontology"):
            shutil.copytree(ROOT / folder, project / folder)
        doc = project / DOC
        original = doc.read_text(encoding="utf-8")

        print(
            "1. A claim with two mistakes: a misspelt subject and a quote that is not verbatim.\n"
        )
        doc.write_text(
            original + CLAIM.format(subject="tt", verb="versnelen van"), encoding="utf-8"
        )
        first = dkg(project, "check", "--no-shapes")

        print("2. Both fixed: the check passes.\n")
        doc.write_text(
            original + CLAIM.format(subject="ttt", verb="versnellen van"), encoding="utf-8"
        )
        second = dkg(project, "check")

        print("3. Build, and ask the graph for the new claim with its source and quote.\n")
        third = dkg(project, "build", "-q", "-o", str(project / "build"))
        from graph.store import open_backend

        rows = (
            open_backend(project, project / "build")
            .select(
                "SELECT ?goal ?doc ?loc ?quote WHERE { ?c rdf:subject id:ttt ; rdf:predicate dkg:goal ;"
                " rdf:object ?goal ; dkg:source ?doc ; dkg:locator ?loc ; dkg:quote ?quote }"
            )
            .rows
        )
        for row in rows:
            print(f'ttt goal: {row["goal"]}  [{row["doc"].local} {row["loc"]}] "{row["quote"]}"')
        return 0 if (first, second, third) == (1, 0, 0) and rows else 1


if __name__ == "__main__":
    sys.exit(main())
