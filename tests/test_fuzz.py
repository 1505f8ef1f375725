"""Hostile and mutated input: every outcome of `dkg check` is a clean build or located errors.

Hypothesis mutates the smallest valid corpus (tests/data/valid/) at three levels: bytes, lines and
the parsed values (keys deleted or renamed, values of the wrong type, references to nothing,
quotes that are not in the source). Whatever comes out, `dkg check` must either exit 0 with a
build whose manifest matches its files, or exit 1 printing only `ERROR file:line` problems; never a
traceback, an internal error, or a hang. Mutations that certainly break the data must exit 1 with a
problem inside the record that was broken. A fuzz pass throws random bytes at the YAML loader.

Bounded for CI (the whole file takes well under a minute); set DKG_FUZZ_EXAMPLES=2000 for a long
run. The examples are not stored (database=None): nothing is written into the working tree.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.cli import main
from graph.textmatch import normalise
from graph.yamlio import Located, YamlProblem, load_yaml_bytes
from tests.conftest import DATA, ROOT, copy_project

EXAMPLES = int(os.environ.get("DKG_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a hang is caught by the subprocess timeouts below, not by a per-call deadline
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DOC = "extract/documents/mini.yaml"
REG = "extract/entities.yaml"
VALID = {rel: (DATA / "valid" / rel).read_bytes() for rel in (DOC, REG)}
SOURCE = normalise((DATA / "valid/extract/sources/mini.txt").read_text(encoding="utf-8"))

PROBLEM = re.compile(r"ERROR (extract/\S+?):(\d+)(?::(\d+))? \S")
FOUND = re.compile(r"(\d+) (problems?) found")


# --- the project under test ------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the valid corpus; each example rewrites its two YAML files."""
    root = copy_project(tmp_path_factory.mktemp("fuzz") / "project")
    assert check(root, VALID).exit_code == 0  # also warms up the imports
    return root


def check(root: Path, files: dict[str, bytes]) -> Result:
    """Write the files over the project and run `dkg check` in-process."""
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return CliRunner().invoke(main, ["-C", str(root), "check"])


def assert_clean_outcome(result: Result, files: dict[str, bytes]) -> list[tuple[str, int]]:
    """Exit 0 with 'no problems found', or exit 1 with only located problems; return them."""
    output = result.output
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert result.exit_code in (0, 1), f"exit {result.exit_code}: {output}\n{result.exception!r}"
    if result.exit_code == 0:
        assert "no problems found" in output, output
        return []
    located: list[tuple[str, int]] = []
    lines = result.stderr.splitlines()
    for line in lines[:-1]:
        m = PROBLEM.match(line)
        assert m, f"not a located problem: {line!r}\n{output}"
        name, number = m[1], int(m[2])
        assert name in files or (ROOT / name).exists() or name.startswith("extract/"), line
        if name in files:  # the line exists in the file that was written
            rows = files[name].decode("utf-8", "replace").splitlines()  # YAML's line breaks
            assert 1 <= number <= max(len(rows), 1), f"{line!r} is past the end"
        located.append((name, number))
    summary = FOUND.fullmatch(lines[-1]) if lines else None
    assert summary and int(summary[1]) == len(located), output
    assert (summary[2] == "problem") == (len(located) == 1), lines[-1]
    return located


def assert_builds(root: Path, out: Path) -> None:
    """The data passed the check: it must build, and the snapshot must match its manifest."""
    from pyoxigraph import Store

    from graph.build import build, current_snapshot

    build(root, out)
    snapshot = current_snapshot(out)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((snapshot / name).read_bytes()).hexdigest() == digest, name
    store = Store.read_only(str(snapshot / "store"))
    assert len(store) == manifest["stats"]["quads"]


# --- mutations ---------------------------------------------------------------------------------

YAML_BITS = [
    "-", "- ", ": ", ":", "[", "]", "{", "}", ",", "&a ", "*a", "!!python/object:os.system ",
    "!!binary ", "!custom ", '"', "'", "\t", "\n", "  ", "#", "|", ">", "%YAML 1.1\n", "---\n",
    "...\n", "? ", "<<: ", "\\", "\\x1b", "~", "null", "yes", "no", ".inf", ".nan", "0x1F", "1e999",
    "2025-02-30", "é", "\u202e", "\ufeff", "\u00a0", "𝕏", "\x85", "\r", "\x7f", "\x00", "\xff",
]  # fmt: skip


@st.composite
def line_mutations(draw: st.DrawFn) -> dict[str, bytes]:
    """Edit one file as a curator's slip would: lines dropped, doubled, moved, reindented, split."""
    rel = draw(st.sampled_from(sorted(VALID)))
    lines = VALID[rel].decode().split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "double", "swap", "indent", "insert", "truncate"]))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            body = lines[i].lstrip(" ")
            lines[i] = draw(st.sampled_from(["", " ", "  ", "   ", "\t", "      "])) + body
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            bit = draw(st.sampled_from(YAML_BITS) | st.text(max_size=6))
            lines[i] = lines[i][:at] + bit + lines[i][at:]
        else:
            lines = lines[: i + 1]
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return {rel: "\n".join(lines).encode("utf-8", "surrogatepass")}


@st.composite
def byte_mutations(draw: st.DrawFn) -> dict[str, bytes]:
    """Flip, insert and cut bytes: what a bad disk, a bad copy or a binary file looks like."""
    rel = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[rel])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        chunk = draw(st.binary(min_size=1, max_size=4))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        if op == "set":
            data[at : at + len(chunk)] = chunk
        elif op == "insert":
            data[at:at] = chunk
        else:
            del data[at : at + len(chunk)]
    if draw(st.booleans()):
        data = bytearray(b"\xef\xbb\xbf") + data  # a byte-order mark is fine on its own
    return {rel: bytes(data)}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        value = value[p]
    return value


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["2025-02-30", "2025-13", "0000", "２０２５", "secfund", "SecFund", "a1", "\x1b[2J"]
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a moved or copied value is written out again, never as an alias


def _dump(data: Any) -> bytes:
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def value_mutations(draw: st.DrawFn) -> dict[str, bytes]:
    """Change the parsed data: delete or rename a key, or put any value of any type anywhere."""
    rel = draw(st.sampled_from(sorted(VALID)))
    data = yaml.safe_load(VALID[rel])
    for _ in range(draw(st.integers(1, 2))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "rename", "replace", "replace", "move"]))
        if op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            new = draw(
                st.text(max_size=10) | st.sampled_from([str(key).upper(), str(key)[:-1], "id"])
            )
            parent[new] = parent.pop(key)
        elif op == "move":
            parent[key] = copy.deepcopy(_get(data, draw(st.sampled_from(paths))))
        else:
            parent[key] = draw(VALUES)
    return {rel: _dump(data)}


# --- mutations that certainly break the data, and where the error must point --------------------


def _line_range(text: bytes, path: tuple[Any, ...]) -> tuple[int, int]:
    """First and last line of the node at path, by PyYAML's own composer (not graph.yamlio)."""
    node = yaml.compose(text.decode(), Loader=yaml.SafeLoader)
    for p in path:
        if isinstance(node, yaml.MappingNode):
            node = next(v for k, v in node.value if k.value == p)
        else:
            node = node.value[p]
    return node.start_mark.line + 1, max(node.start_mark.line + 1, node.end_mark.line + 1)


@st.composite
def breaking_mutations(draw: st.DrawFn) -> tuple[dict[str, bytes], str, tuple[Any, ...]]:
    """Break one record for certain; return the files, the file and the record's path."""
    doc = yaml.safe_load(VALID[DOC])
    reg = yaml.safe_load(VALID[REG])
    ids = {e["id"] for e in reg["entities"]}
    side = draw(st.sampled_from(["claim", "claim", "claim", "entity", "section"]))
    if side == "entity":
        i = draw(st.integers(0, len(reg["entities"]) - 1))
        ent = reg["entities"][i]
        how = draw(st.sampled_from(["missing", "type", "label", "scheme", "duplicate", "id"]))
        if how == "missing":
            del ent[draw(st.sampled_from(["id", "type", "label"]))]
        elif how == "type":
            ent["type"] = draw(st.sampled_from(["Instrumnt", "instrument", "", "Bottleneck "]))
        elif how == "label":
            ent["label"] = draw(st.sampled_from([{"nl": "x"}, {"en": ""}, "a label", None, []]))
        elif how == "scheme":
            ent["in_scheme"] = draw(st.sampled_from(["nowhere", "financien", "Idea-knelpunten"]))
        elif how == "duplicate":
            reg["entities"].append(dict(ent))
            i = len(reg["entities"]) - 1
        else:
            ent["id"] = draw(st.sampled_from(["SecFund", "financiën", "a b", "-x", "x_y", ""]))
        return {REG: _dump(reg), DOC: VALID[DOC]}, REG, ("entities", i)
    if side == "section":
        j = draw(st.integers(0, len(doc["document"]["sections"]) - 1))
        sec = doc["document"]["sections"][j]
        sec["lines"] = draw(st.sampled_from(["0", "7", "5-3", "1-99", "x", "1-", ""]))
        return {DOC: _dump(doc), REG: VALID[REG]}, DOC, ("document", "sections", j)
    i = draw(st.integers(0, len(doc["claims"]) - 1))
    claim = doc["claims"][i]
    how = draw(
        st.sampled_from(
            [
                "missing",
                "reference",
                "relation",
                "enum",
                "date",
                "amount",
                "quote",
                "locator",
                "duplicate",
            ]
        )
    )
    if how == "missing":
        del claim[draw(st.sampled_from(["id", "subject", "relation", "locator", "quote"]))]
    elif how == "reference":
        word = draw(
            st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True).filter(
                lambda w: w not in ids
            )
        )
        claim["subject"] = word
    elif how == "relation":
        claim["relation"] = draw(st.sampled_from(["adresses", "partof", "", "budget ", "rdf:type"]))
    elif how == "enum":
        key = draw(st.sampled_from(["polarity", "modality", "standing", "when_qualifier"]))
        claim[key] = draw(st.sampled_from(["maybe", "", "Affirmed", "yes"]))
    elif how == "date":
        claim["when"] = draw(
            st.sampled_from(["2025-02-30", "2025-13", "0000", "soon", "25-01-01", "2025-1-1"])
        )
    elif how == "amount":
        for k in ("object", "text", "date"):
            claim.pop(k, None)
        claim["amount"] = {
            "value": draw(st.sampled_from([-1, "veel", True, None, float("inf"), [1]]))
        }
    elif how == "quote":
        quote = draw(
            st.text(min_size=1, max_size=40).filter(
                lambda q: normalise(q) not in SOURCE or not normalise(q)
            )
        )
        claim["quote"] = quote
    elif how == "locator":
        claim["locator"] = draw(st.sampled_from(["a2", "Q1", "", "a1 ", "fn9"]))
    else:
        doc["claims"].append(dict(claim))
        i = len(doc["claims"]) - 1
    return {DOC: _dump(doc), REG: VALID[REG]}, DOC, ("claims", i)


# --- the properties ----------------------------------------------------------------------------


@FUZZ
@given(files=line_mutations() | byte_mutations() | value_mutations())
def test_any_mutation_builds_or_fails_with_located_problems(
    files: dict[str, bytes],
    project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    tally: Counter[str],
) -> None:
    full = {**VALID, **files}
    result = check(project, full)
    assert_clean_outcome(result, full)
    try:  # PyYAML's own constructor on the same parser: what it refuses, we must refuse
        for data in files.values():
            yaml.load(data.decode("utf-8").removeprefix("\ufeff"), Loader=yaml.CSafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError):
        assert result.exit_code == 1, result.output
    except ValueError:
        pass  # PyYAML builds dates from unquoted timestamps; '2025-02-30' is our models' to judge
    if result.exit_code == 0:
        assert_builds(project, tmp_path_factory.mktemp("out"))
        tally["mutated files that passed the check and built whole"] += 1
    else:
        tally["mutated files refused with located problems"] += 1


@FUZZ
@given(case=breaking_mutations())
def test_broken_record_fails_with_a_problem_inside_it(
    case: tuple[dict[str, bytes], str, tuple[Any, ...]], project: Path, tally: Counter[str]
) -> None:
    files, name, path = case
    result = check(project, files)
    problems = assert_clean_outcome(result, files)
    assert result.exit_code == 1, f"broken {name} {path} passed:\n{files[name].decode()}"
    first, last = _line_range(files[name], path)
    assert any(f == name and first <= n <= last for f, n in problems), (
        f"no problem inside {name} lines {first}-{last} ({path}):\n{result.output}"
    )
    tally["certainly broken records refused at their own lines"] += 1


YAMLISH = st.lists(
    st.sampled_from([b.encode("utf-8", "surrogatepass") for b in YAML_BITS])
    | st.binary(max_size=3)
    | st.sampled_from([b"a", b"b", b"id", b"1", b" ", b"\n", b"  - ", b"key: "]),
    max_size=60,
).map(b"".join)


def _plain(value: Any, depth: int = 0) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


@settings(FUZZ, max_examples=EXAMPLES * 10)
@given(raw=st.binary(max_size=200) | YAMLISH)
def test_yaml_loader_returns_plain_values_or_a_located_problem(
    raw: bytes, tally: Counter[str]
) -> None:
    try:
        located = load_yaml_bytes(raw, "fuzz.yaml")
    except YamlProblem as exc:
        assert exc.problem.file == "fuzz.yaml"
        lines = raw.decode("utf-8", "replace").splitlines()  # YAML also breaks lines at \r, \x85
        assert 0 <= exc.problem.line <= max(len(lines), 1)
        assert exc.problem.message
        tally["random byte strings refused by the YAML loader"] += 1
        return
    assert isinstance(located, Located)
    assert _plain(located.data), located.data
    tally["random byte strings loaded as plain values"] += 1


# --- hostile files too big or too deep to keep in tests/data/invalid/ -----------------------------


def run_dkg(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real `dkg` in a fresh interpreter (a crash in C would take pytest down with it)."""
    return subprocess.run(
        [sys.executable, "-m", "graph", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
    )


def test_huge_file_is_refused_by_its_size(tmp_path: Path, tally: Counter[str]) -> None:
    from graph.constants import MAX_YAML_BYTES

    root = copy_project(tmp_path / "project")
    with (root / DOC).open("wb") as fh:
        fh.write(VALID[DOC])
        line = b"# " + b"padding " * 12 + b"\n"
        fh.write(line * (MAX_YAML_BYTES // len(line) + 1))
    done = run_dkg(root, "check")
    assert done.returncode == 1, done.stderr
    assert f"ERROR {DOC}:1:1 file is" in done.stderr
    assert f"over the {MAX_YAML_BYTES:,} limit; split it" in done.stderr
    assert "Traceback" not in done.stderr
    tally["real processes given a file over the size limit"] += 1


@pytest.mark.parametrize(
    "name, payload, message",
    [
        (
            "brackets",
            b"document: " + b"[" * 1_000_000 + b"]" * 1_000_000 + b"\n",
            "nesting deeper than 32",
        ),
        (
            "braces",
            b"document: " + b"{a: " * 200_000 + b"}" * 200_000 + b"\n",
            "nesting deeper than 32",
        ),
        ("dashes", b"document:\n" + b"- " * 500_000 + b"x\n", "nesting deeper than 32"),
        (
            "aliases",
            b"a: &a [1]\n" + b"".join(b"k%d: *a\n" % i for i in range(100_000)),
            "YAML aliases",
        ),
        (
            "keys",
            b"".join(b"k%d: 1\n" % i for i in range(200_000)) + b"k7: 2\n",
            "duplicate key 'k7'",
        ),
    ],
)
def test_deep_and_wide_yaml_fails_cleanly_in_a_real_process(
    name: str, payload: bytes, message: str, tmp_path: Path, tally: Counter[str]
) -> None:
    # 1M '[' used to overflow libyaml's recursive composer: a segfault, exit -11, no message.
    root = copy_project(tmp_path / "project")
    (root / DOC).write_bytes(payload)
    done = run_dkg(root, "check")
    assert done.returncode == 1, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert message in done.stderr and f"ERROR {DOC}:" in done.stderr
    assert "Traceback" not in done.stderr
    tally["real processes given deep or wide YAML"] += 1


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_fail_cleanly_in_a_real_process(
    seed: int, tmp_path: Path, tally: Counter[str]
) -> None:
    import random

    rng = random.Random(seed)
    root = copy_project(tmp_path / "project")
    (root / DOC).write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096))))
    (root / REG).write_bytes(VALID[REG][: rng.randrange(len(VALID[REG]))])
    done = run_dkg(root, "check")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    for line in done.stderr.splitlines()[:-1]:
        assert PROBLEM.match(line), line
    tally["real processes given random bytes"] += 1


def test_byte_order_mark_is_accepted_and_changes_nothing(
    tmp_path: Path, tally: Counter[str]
) -> None:
    # Decision: a UTF-8 BOM is harmless (Windows editors write one), so it is accepted, silently;
    # the build is byte-for-byte the one without it.
    from graph.build import build, current_snapshot

    plain = copy_project(tmp_path / "plain")
    marked = copy_project(tmp_path / "marked")
    for rel in (DOC, REG):
        (marked / rel).write_bytes(b"\xef\xbb\xbf" + VALID[rel])
    outputs = []
    for root in (plain, marked):
        build(root, root / "out")
        outputs.append((current_snapshot(root / "out") / "dkg.nq").read_bytes())
    assert outputs[0] == outputs[1]
    tally["files with a byte-order mark built unchanged"] += 1


def test_a_long_wrong_quote_is_placed_without_hanging(tmp_path: Path, tally: Counter[str]) -> None:
    # difflib is quadratic: a 4,000-character quote with typos took minutes to place
    import random

    rng = random.Random(4)
    words = ["defensie", "industrie", "financiering", "kapitaal", "fonds", "bedrijven", "Kamer"]
    lines = [" ".join(rng.choice(words) for _ in range(14)) + "." for _ in range(300)]
    root = copy_project(tmp_path / "project")
    (root / "extract/sources/mini.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    quote = " ".join(lines[100:140])
    wrong = "".join("x" if rng.random() < 0.03 else c for c in quote)
    doc = yaml.safe_load(VALID[DOC])
    doc["document"]["sections"] = [{"id": "a1", "kind": "answer", "lines": "1-300"}]
    doc["claims"] = [dict(doc["claims"][2], locator="a1", quote=wrong)]
    (root / DOC).write_bytes(_dump(doc))
    done = run_dkg(root, "check", "--no-shapes", timeout=60)
    assert done.returncode == 1, done.stderr
    assert "quote not found in sources/mini.txt; closest passage (line 101" in done.stderr
    tally["real processes given a long quote with typos"] += 1
