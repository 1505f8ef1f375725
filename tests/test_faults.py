"""Faults: a build killed at any moment leaves the previous output whole; builds at once serialise;
the output does not depend on file order, locale or hash seed.

Every test runs real `dkg build` processes on a copy of the real project in a tmp folder. Builds
are killed with SIGKILL (no cleanup, no finally) two ways: at each step of writing the output (a
runner forks one child per step; child k kills itself just before its k-th file-system operation:
every boundary, every time), and at random moments from outside (which also lands inside native
code: RocksDB, the serialisers). After each kill, `current` must lead to a complete snapshot whose
manifest matches its files and whose store opens with every quad, and the next build must succeed
and leave nothing half-written behind.

Bounded for CI; DKG_FAULT_KILLS=50 kills at more random moments.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import pty
import random
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

RANDOM_KILLS = int(os.environ.get("DKG_FAULT_KILLS", "8"))
OUTPUTS = ("dkg.trig", "dkg.ttl", "dkg.nq", "dkg.jsonld", "manifest.json")

# The runner for the step-by-step kills: fork one child per output folder, each running the build
# (graph.build.build: reading the cache, compiling, writing the snapshot, switching, pruning); child
# k kills itself with SIGKILL just before its k-th file-system or store operation. With
# DKG_KILL_MODE=count the one child runs to the end and reports how many steps there were.
HOOK = r"""
import os, shutil, signal, sys, tempfile
from pathlib import Path
import graph.build as build
import graph.cache as cache
import graph.storefill as storefill

root, outs = Path(sys.argv[1]), sys.argv[2:]
kill_at, count = -1, 0

def step():
    global count
    if kill_at >= 0:
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

def counted(real):
    def call(*args, **kwargs):
        step()
        return real(*args, **kwargs)
    return call

for owner, names in ((os, "fsync rename replace symlink link unlink rmdir mkdir"),
                     (shutil, "rmtree copyfile copy2 copytree"), (tempfile, "mkdtemp")):
    for name in names.split():
        setattr(owner, name, counted(getattr(owner, name)))

class Store:  # the stores: opening one and every call on it are steps too
    def __init__(self, *args):
        step()
        self.real = RealStore(*args)
    @staticmethod
    def read_only(*args):
        step()
        store = Store.__new__(Store)
        store.real = RealStore.read_only(*args)
        return store
    def __getattr__(self, name):
        value = getattr(self.real, name)
        return counted(value) if callable(value) else value
    def __len__(self):
        return len(self.real)
    def __iter__(self):
        return iter(self.real)

RealStore = build.Store
build.Store = cache.Store = storefill.Store = Store
counting = os.environ.get("DKG_KILL_MODE") == "count"
for k, out in enumerate(outs, start=1):
    pid = os.fork()
    if pid == 0:
        kill_at = 0 if counting else k
        build.build(root, Path(out))
        print(f"steps={count}", flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(f"{k} {'killed' if os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9 else status}", flush=True)
"""


def dkg(
    root: Path, out: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a real `dkg build -o out` on the project at root."""
    cmd = build_command(root, out)
    return subprocess.run(
        cmd, env=build_env(env), cwd=root, capture_output=True, text=True, timeout=120
    )


def start_dkg(root: Path, out: Path, quiet: bool = True, **kwargs: Any) -> subprocess.Popen[str]:
    """Start a real `dkg build -o out`; the caller waits for it or kills it."""
    cmd = build_command(root, out, quiet)
    return subprocess.Popen(cmd, env=build_env(None), cwd=root, text=True, **kwargs)


def build_command(root: Path, out: Path, quiet: bool = True) -> list[str]:
    """The command line of a build."""
    cmd = [sys.executable, "-m", "graph", "-C", str(root), "build", "-o", str(out)]
    return [*cmd, "--quiet"] if quiet else cmd


def build_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The environment, without a DKG_BUILD that would override -o."""
    env = {k: v for k, v in os.environ.items() if k != "DKG_BUILD"}
    return {**env, **(extra or {})}


def run_hook(root: Path, outs: list[Path], mode: str = "kill") -> list[str]:
    """Run the step-killing runner; return its report, one line per child."""
    cmd = [sys.executable, "-c", HOOK, str(root), *map(str, outs)]
    env = build_env({"DKG_KILL_MODE": mode})
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def copy_real_project(dest: Path) -> Path:
    """The real extract/ and ontology/, copied."""
    for folder in ("extract", "ontology"):
        shutil.copytree(ROOT / folder, dest / folder)
    return dest


def change_input(root: Path, mark: str) -> None:
    """Change the data a little (an alias of the first entity), so the next build differs."""
    path = root / "extract/entities.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = data["entities"][0]
    aliases = [a for a in first.get("aliases", []) if not a.startswith("fault-")]
    first["aliases"] = [*aliases, f"fault-{mark}"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def assert_whole(out: Path) -> str:
    """current leads to a complete snapshot; return its name."""
    link = out / "current"
    assert link.is_symlink(), f"{link} is missing"
    return assert_snapshot_whole(link.resolve())


def assert_snapshot_whole(snapshot: Path) -> str:
    """The manifest matches the files and the store opens holding every quad."""
    from pyoxigraph import Store

    manifest = json.loads((snapshot / "manifest.json").read_text())
    nquads = (snapshot / "dkg.nq").read_bytes()
    assert hashlib.sha256(nquads).hexdigest() == manifest["digest"]
    assert snapshot.name == manifest["digest"][:16]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((snapshot / name).read_bytes()).hexdigest() == digest, name
    store = Store.read_only(str(snapshot / "store"))
    assert len(store) == manifest["stats"]["quads"] == nquads.count(b"\n")
    del store
    return snapshot.name


def assert_tidy(out: Path) -> None:
    """A successful build leaves no half-written folder, link or cache entry, at most two snapshots."""
    litter = sorted(p.name for p in out.iterdir() if p.name.startswith((".tmp-", ".current-")))
    litter += sorted(p.name for p in (out / "cache").rglob(".*") if p.is_file())
    assert not litter, litter
    assert len(list((out / "snapshots").iterdir())) <= 2


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A copy of the real project built once (snapshot A), then changed so the next build is B."""
    base = tmp_path_factory.mktemp("faults")
    root = copy_real_project(base / "project")
    out = base / "out"
    done = dkg(root, out)
    assert done.returncode == 0, done.stderr
    first = assert_whole(out)
    change_input(root, "b")
    return root, out, first


# --- killed builds --------------------------------------------------------------------------------


def test_build_killed_at_every_write_step_leaves_previous_output_whole(
    before: tuple[Path, Path, str], tmp_path: Path, tally: Counter[str]
) -> None:
    from graph.build import build

    root, out_a, first = before
    counted = tmp_path / "count"
    shutil.copytree(out_a, counted, symlinks=True)
    report = run_hook(root, [counted], mode="count")
    steps = int(report[0].removeprefix("steps="))
    second = assert_whole(counted)
    assert steps >= 10 and second != first, report
    outs = [tmp_path / f"out-{k}" for k in range(1, steps + 1)]
    for out in outs:
        shutil.copytree(out_a, out, symlinks=True)
    report = run_hook(root, outs)
    assert report == [f"{k} killed" for k in range(1, steps + 1)], report
    left = [assert_whole(out) for out in outs]
    assert set(left) <= {first, second}
    # the kill points straddle the switch: early kills leave A current, late ones B
    assert left[0] == first and left[-1] == second, left
    middle = outs[steps // 2]
    for out in outs:  # the next build, over each killed one
        if out == middle:  # once through the real command
            done = dkg(root, out)
            assert done.returncode == 0, done.stderr
        else:
            build(root, out)
        assert assert_whole(out) == second
        assert_tidy(out)
    tally["builds killed (SIGKILL) at each write step, previous output whole"] += steps


def test_build_killed_at_random_moments_leaves_previous_output_whole(
    before: tuple[Path, Path, str], tmp_path: Path, tally: Counter[str]
) -> None:
    root, out_a, _ = before
    out = tmp_path / "out"
    shutil.copytree(out_a, out, symlinks=True)
    rng = random.Random(int(os.environ.get("DKG_FAULT_SEED", "6")))
    started = time.monotonic()
    assert dkg(root, tmp_path / "timing").returncode == 0
    full = time.monotonic() - started
    for i in range(RANDOM_KILLS):
        change_input(root, f"random-{i}")
        proc = start_dkg(root, out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i % 2:  # every other time, wait until it is writing the new snapshot
            deadline = time.monotonic() + full * 3
            while (
                not any(out.glob(".tmp-*")) and proc.poll() is None and time.monotonic() < deadline
            ):
                time.sleep(0.002)
            time.sleep(rng.uniform(0, full / 3))
        else:
            time.sleep(rng.uniform(0, full))
        proc.kill()
        proc.wait()
        assert_whole(out)
    change_input(root, "b")
    done = dkg(root, out)
    assert done.returncode == 0, done.stderr
    assert_whole(out)
    assert_tidy(out)
    tally["builds killed (SIGKILL) at random moments, previous output whole"] += RANDOM_KILLS


def test_first_build_killed_at_each_step_and_the_next_succeeds(
    before: tuple[Path, Path, str], tmp_path: Path, tally: Counter[str]
) -> None:
    root = before[0]
    outs = [tmp_path / f"out-{k}" for k in range(1, 9)]  # nothing was ever built there
    report = run_hook(root, outs)
    assert report == [f"{k} killed" for k in range(1, 9)], report
    for out in outs:
        assert not (out / "current").exists()  # the switch is the last step; nothing is current
        done = dkg(root, out) if out == outs[-1] else None
        assert done is None or done.returncode == 0, done and done.stderr
    assert_whole(outs[-1])
    assert_tidy(outs[-1])
    tally["first builds killed (SIGKILL) before anything was current"] += len(outs)


def test_a_corrupt_cache_is_only_a_miss(
    before: tuple[Path, Path, str], tmp_path: Path, tally: Counter[str]
) -> None:
    # a disk error, a bad copy, another version: every cache entry garbled in another way
    root, out_a, _ = before
    out = tmp_path / "out"
    shutil.copytree(out_a, out, symlinks=True)
    entries = sorted((out / "cache").rglob("*.pkl"))
    assert entries
    garbage = [
        b"",
        b"\x80\x05",
        b"not a pickle",
        pickle.dumps({"a": 1}),
        os.urandom(64),
        pickle.dumps(None),
    ]
    for n, path in enumerate(entries):
        data = path.read_bytes()
        path.write_bytes(garbage[n % len(garbage)] if n % 7 else data[: len(data) // 2])
    done = dkg(root, out)
    assert done.returncode == 0, done.stderr
    clean = tmp_path / "clean"
    assert dkg(root, clean).returncode == 0
    assert outputs(out) == outputs(clean)  # the same bytes as a build without any cache
    assert_tidy(out)
    tally["corrupt cache entries read as misses, output unchanged"] += len(entries)


# --- builds at once --------------------------------------------------------------------------------


def test_a_build_waits_for_the_lock_held_by_another(
    before: tuple[Path, Path, str], tmp_path: Path, tally: Counter[str]
) -> None:
    root, out_a, first = before
    out = tmp_path / "out"
    shutil.copytree(out_a, out, symlinks=True)
    primary, replica = pty.openpty()  # on a terminal the build says what it waits for
    try:
        with (out / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # as if another build were writing
            proc = start_dkg(root, out, quiet=False, stdout=subprocess.DEVNULL, stderr=replica)
            said = b""
            deadline = time.monotonic() + 60
            while b"waiting for it to finish" not in said and time.monotonic() < deadline:
                if select.select([primary], [], [], 0.5)[0]:
                    said += os.read(primary, 4096)
            assert b"another build is writing to this folder; waiting" in said, said
            assert proc.poll() is None
            assert assert_whole(out) == first  # it has written nothing while it waits
            assert not any(out.glob(".tmp-*"))
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(primary)
        os.close(replica)
    assert assert_whole(out) != first
    assert_tidy(out)
    tally["builds that waited for the lock, then built whole"] += 1


def test_two_builds_at_once_serialise_and_neither_corrupts(
    tmp_path: Path, tally: Counter[str]
) -> None:
    roots = [copy_real_project(tmp_path / name) for name in ("one", "two")]
    out = tmp_path / "out"
    for attempt in range(2):
        for n, root in enumerate(roots):
            change_input(root, f"concurrent-{attempt}-{n}")
        procs = [start_dkg(root, out, stderr=subprocess.PIPE) for root in roots]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        current = assert_whole(out)
        assert_tidy(out)
        # both snapshots were written whole; the one that lost the race is kept as previous
        names = {p.name for p in (out / "snapshots").iterdir()}
        assert current in names and len(names) == 2, (attempt, names)
        for name in names:
            assert_snapshot_whole(out / "snapshots" / name)
    tally["pairs of builds at once into one folder, both whole"] += 2


# --- determinism -----------------------------------------------------------------------------------


def shuffled_copy(source: Path, dest: Path, seed: int) -> Path:
    """The real project with every entity, claim and key in another order, files written in another
    order: the same data, so the same graph."""
    rng = random.Random(seed)

    def shuffle(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffle(v) for k, v in items}
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return rng.sample([shuffle(v) for v in value], len(value))
        return value  # lists of values (aliases, questions) keep their order: it is data

    files = sorted(
        p for folder in ("extract", "ontology") for p in (source / folder).rglob("*") if p.is_file()
    )
    rng.shuffle(files)
    for path in files:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".yaml" and "schema" not in path.parts:
            data = shuffle(yaml.safe_load(path.read_text(encoding="utf-8")))
            target.write_text(
                yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
        else:
            shutil.copyfile(path, target)
    return dest


def outputs(out: Path) -> dict[str, bytes]:
    """The output files of the current build."""
    snapshot = (out / "current").resolve()
    return {name: (snapshot / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """The real project copied file by file in name order, built with a fixed hash seed."""
    base = tmp_path_factory.mktemp("determinism")
    root = copy_real_project(base / "project")
    done = dkg(root, base / "out", env={"PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"})
    assert done.returncode == 0, done.stderr
    return root, outputs(base / "out")


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONHASHSEED": "1"},
        {"PYTHONHASHSEED": "4242", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"},
        {
            "PYTHONHASHSEED": "random",
            "LANG": "nl_NL.UTF-8",
            "LC_ALL": "nl_NL.UTF-8",
            "TZ": "Pacific/Kiritimati",
        },
    ],
    ids=["hash-seed", "C-locale-ascii", "dutch-locale-timezone"],
)
def test_output_is_byte_identical_under_another_hash_seed_and_locale(
    env: dict[str, str],
    reference: tuple[Path, dict[str, bytes]],
    tmp_path: Path,
    tally: Counter[str],
) -> None:
    root, expected = reference
    done = dkg(root, tmp_path / "out", env=env)
    assert done.returncode == 0, done.stderr
    got = outputs(tmp_path / "out")
    for name in OUTPUTS:
        assert got[name] == expected[name], f"{name} differs under {env}"
    tally["builds under another hash seed or locale, byte-identical"] += 1


def test_output_is_byte_identical_on_shuffled_files_entities_claims_and_keys(
    reference: tuple[Path, dict[str, bytes]], tmp_path: Path, tally: Counter[str]
) -> None:
    # from the reference's copy: the real data may be edited while the tests run
    source, expected = reference
    root = shuffled_copy(source, tmp_path / "project", seed=6)
    done = dkg(root, tmp_path / "out", env={"PYTHONHASHSEED": "7"})
    assert done.returncode == 0, done.stderr
    got = outputs(tmp_path / "out")
    for name in OUTPUTS[:-1]:
        assert got[name] == expected[name], f"{name} differs on shuffled input"
    # the manifest differs only in the digests of the input files, which were rewritten
    manifests = [json.loads(m) for m in (got["manifest.json"], expected["manifest.json"])]
    for m in manifests:
        m.pop("inputs")
    assert manifests[0] == manifests[1]
    tally["builds on shuffled input, byte-identical graph"] += 1
