"""Every script in examples/ runs, and does what its walkthrough says."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


@cache
def run(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_script_runs(script: Path) -> None:
    proc = run(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_walkthrough_catches_both_mistakes() -> None:
    out = run(EXAMPLES / "add_a_claim.py").stdout
    assert "unknown entity 'tt' (did you mean 'ttt'?)" in out
    assert (
        "quote not found in sources/antwoorden-idea-motie-boswijk-2025.txt; closest passage" in out
    )
    assert "ttt goal: versnellen van dual-use innovatie en valorisatie" in out
