"""Packaging: a wheel built from the project holds every module and template the tool loads, so
that `pip install .` (not only the editable install of the README) gives a working `dkg`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_the_wheel_holds_every_module_and_template(tmp_path: Path) -> None:
    # Built from a copy: setuptools works in build/, which is also dkg's build folder, and
    # what it left there from another build would be packed too.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "graph", source / "graph", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path)]
    subprocess.run([*cmd, str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    held = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        p.relative_to(source).as_posix() for p in (source / "graph").rglob("*") if p.is_file()
    }
    assert any(name.startswith("graph/reports/") for name in wanted)
    assert any(name.startswith("graph/templates/serve/") for name in wanted)
    assert wanted - held == set()
