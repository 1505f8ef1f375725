"""The build: load and check extract/, compile to quads, apply the rules, validate against the
shapes, and write the outputs (TriG, Turtle, N-Quads, JSON-LD, an embedded store) atomically.

Atomic: every build writes a new snapshot folder beside the old one and then swaps the `current`
symlink in one rename, so a failed or killed build leaves the previous output whole. Deterministic:
quads are sorted, there are no timestamps and no blank nodes, so two builds of the same input are
byte-identical and land in the same snapshot (named by the digest of their N-Quads).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyoxigraph import Quad, RdfFormat, Store, Triple, serialize

from graph import constants as C
from graph.check import CheckResult, check_corpus
from graph.compile import compile_document, compile_registry, sort_quads
from graph.errors import DataError, Problem, RunError, display_path
from graph.layout import current_snapshot, default_out
from graph.load import Corpus, load_corpus
from graph.ontology import load_ontology
from graph.rules import apply_rules, describe_rules, load_rules

Progress = Callable[[str], None]


@dataclass
class Compiled:
    """The result of compiling the project: sorted quads and what the checks learnt."""

    quads: list[Quad]
    check: CheckResult
    corpus: Corpus

    def stats(self) -> dict[str, int]:
        """Counts of what was built."""
        rdf_type = C.PREFIXES["rdf"] + "type"
        claim = C.ONTOLOGY + "Claim"
        standings: Counter[str] = Counter()
        claims = 0
        for q in self.quads:
            obj = str(q.object)
            if q.predicate.value == rdf_type and obj == f"<{claim}>":
                claims += 1
            elif q.predicate.value == C.ONTOLOGY + "standing":
                standings[obj.strip("<>").rsplit("#", 1)[-1].lower()] += 1
        return {
            "quads": len(self.quads),
            "entities": len(self.check.entities),
            "documents": len(self.corpus.documents),
            "claims": claims,
            **{f"claims_{k}": v for k, v in sorted(standings.items())},
        }


def _locations(corpus: Corpus, check: CheckResult) -> dict[str, tuple[str, int]]:
    where: dict[str, tuple[str, int]] = {}
    if corpus.registry is not None and corpus.registry_located is not None:
        loc = corpus.registry_located
        for i, ent in enumerate(corpus.registry.entities):
            where.setdefault(C.ID + ent.id, (loc.file, loc.where(("entities", i))[0]))
    for doc in corpus.documents:
        where[C.ID + doc.record.document.id] = (
            doc.located.file,
            doc.located.where(("document",))[0],
        )
    for (doc_id, claim_id), spot in check.claim_lines.items():
        where[f"{C.CLAIM}{doc_id}/{claim_id}"] = spot
    return where


def compile_project(root: Path, progress: Progress | None = None, shapes: bool = True) -> Compiled:
    """Load, check, compile, infer and validate; raise DataError listing every problem."""
    say = progress or (lambda _msg: None)
    say("loading extract/")
    corpus = load_corpus(root)
    say("checking records and quotes")
    check = check_corpus(corpus)
    ontology_dir = root / C.ONTOLOGY_DIRNAME
    onto, problems = load_ontology(ontology_dir)
    problems = check.problems + problems
    if problems:
        raise DataError(problems)
    say("compiling")
    data: list[Quad] = list(compile_registry(check.entities.values()))
    for doc in corpus.documents:
        data.extend(compile_document(doc.record))
    rules = load_rules(ontology_dir)
    onto += describe_rules(rules)
    say(f"applying {len(rules)} rule(s)")
    store = Store()
    store.bulk_extend(onto + data)
    inferred, rule_problems = apply_rules(store, rules)
    if rule_problems:
        raise DataError(rule_problems)
    if shapes:
        say("validating against the SHACL shapes")
        from graph.validate import validate

        violations = validate(store, ontology_dir / C.SHAPES_FILE, _locations(corpus, check))
        if violations:
            raise DataError(violations)
    return Compiled(sort_quads(onto + data + inferred), check, corpus)


# --- Writing -----------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _input_digests(root: Path) -> dict[str, str]:
    out = {}
    for folder in (C.EXTRACT_DIRNAME, C.ONTOLOGY_DIRNAME):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in {".yaml", ".yml", ".txt", ".ttl", ".rq"}:
                out[path.relative_to(root).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return out


def serialise(quads: list[Quad]) -> dict[str, bytes]:
    """The output files' bytes: TriG, Turtle (all graphs merged), N-Quads and JSON-LD."""
    prefixes = {k: v for k, v in C.PREFIXES.items() if k != "sh"}
    triples = sort_quads(Quad(q.subject, q.predicate, q.object) for q in quads)

    def ser(data: Iterable[Quad] | Iterable[Triple], fmt: RdfFormat, **kw: Any) -> bytes:
        out = serialize(data, format=fmt, **kw)
        assert out is not None
        return out

    return {
        C.OUT_TRIG: ser(quads, RdfFormat.TRIG, prefixes=prefixes),
        C.OUT_TURTLE: ser([t.triple for t in triples], RdfFormat.TURTLE, prefixes=prefixes),
        C.OUT_NQUADS: ser(quads, RdfFormat.N_QUADS),
        C.OUT_JSONLD: ser(quads, RdfFormat.JSON_LD),
    }


@contextlib.contextmanager
def build_lock(out: Path, progress: Progress | None = None) -> Iterator[None]:
    """Serialise builds into one output folder: a second build waits for the first."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                progress("another build is writing to this folder; waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def write_build(
    compiled: Compiled, out: Path, root: Path, progress: Progress | None = None
) -> Path:
    """Write a snapshot of the build and make it current; return the snapshot folder."""
    say = progress or (lambda _msg: None)
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} exists and is not a folder")
    with build_lock(out, progress):
        say("serialising")
        files = serialise(compiled.quads)
        digest = hashlib.sha256(files[C.OUT_NQUADS]).hexdigest()
        snapshots = out / "snapshots"
        snapshots.mkdir(exist_ok=True)
        target = snapshots / digest[:16]
        if not (target / C.OUT_MANIFEST).is_file():
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
            try:
                for name, data in files.items():
                    _write(tmp / name, data)
                say("loading the embedded store")
                store = Store(str(tmp / C.OUT_STORE))
                store.bulk_extend(compiled.quads)
                store.flush()
                del store
                gc.collect()
                manifest = {
                    "format": 1,
                    "digest": digest,
                    "stats": compiled.stats(),
                    "inputs": _input_digests(root),
                    "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())},
                }
                # The manifest is written last: a snapshot without one is incomplete.
                _write(
                    tmp / C.OUT_MANIFEST,
                    (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
                )
                if target.exists():
                    shutil.rmtree(target)
                os.rename(tmp, target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        link = out / C.CURRENT_LINK
        tmp_link = out / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp_link.unlink()
        os.symlink(Path("snapshots") / target.name, tmp_link)
        os.replace(tmp_link, link)
        _prune(out, keep={target.name, *_previous(out)})
        _write(out / ".previous", target.name.encode())
    return target


def _previous(out: Path) -> set[str]:
    try:
        return {(out / ".previous").read_text().strip()}
    except OSError:
        return set()


def _prune(out: Path, keep: set[str]) -> None:
    for old in (out / "snapshots").iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in out.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    # under the lock, any other temporary link belongs to a build that was killed mid-switch
    for link in out.glob(".current-*"):
        link.unlink(missing_ok=True)


def build(root: Path, out: Path, progress: Progress | None = None) -> tuple[Compiled, Path]:
    """Compile the project and write it; return what was built and where."""
    compiled = compile_project(root, progress)
    return compiled, write_build(compiled, out, root, progress)


__all__ = ["Compiled", "Problem", "build", "compile_project", "current_snapshot", "write_build"]


# --- Commands ----------------------------------------------------------------------------------

import click  # noqa: E402  (commands sit beside the code they drive)

from graph.cli import root_of  # noqa: E402


def _summary(compiled: Compiled) -> list[str]:
    from graph.check import format_coverage

    s = compiled.stats()
    standings = ", ".join(
        f"{v} {k.removeprefix('claims_')}" for k, v in s.items() if k.startswith("claims_")
    )
    return [
        f"{s['documents']} source documents, {s['entities']} entities, {s['claims']} claims ({standings}), {s['quads']} quads",
        *format_coverage(compiled.check.coverage),
    ]


@click.command("check")
@click.option("--no-shapes", is_flag=True, help="Skip the SHACL validation of the compiled graph.")
@click.option(
    "--coverage", "per_answer", is_flag=True, help="List the quote coverage of every answer."
)
@click.pass_context
def check_command(ctx: click.Context, no_shapes: bool, per_answer: bool) -> None:
    """Check extract/ and ontology/: YAML, types, references, quotes, rules and SHACL shapes.

    Reports every problem as `ERROR file:line:col message`. Exit 0 clean, 1 data errors,
    2 could not run.
    """
    from graph.progress import done, reporter

    root = root_of(ctx)
    try:
        compiled = compile_project(root, reporter(), shapes=not no_shapes)
    finally:
        done()
    for line in _summary(compiled):
        click.echo(line)
    if per_answer:
        for cov in compiled.check.coverage:
            if cov.kind == "answer":
                bar = "#" * round(cov.ratio * 20)
                click.echo(f"  {cov.document} {cov.section:<8} {bar:<20} {cov.ratio:4.0%}")
    click.echo("no problems found")


@click.command("build")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build folder (default: build/ in the project, or $DKG_BUILD).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def build_command(ctx: click.Context, out: Path | None, quiet: bool) -> None:
    """Check, compile and write the graph: TriG, Turtle, N-Quads, JSON-LD and the embedded store.

    Writes a new snapshot and switches OUT/current to it in one step; a failed build leaves the
    previous one in place.
    """
    from graph.progress import done, reporter

    root = root_of(ctx)
    out = out or default_out(root)
    try:
        compiled, _snapshot = build(root, out, reporter(quiet))
    finally:
        done()
    if quiet:
        return
    for line in _summary(compiled):
        click.echo(line)
    where = display_path(out / C.CURRENT_LINK)
    click.echo(
        f"wrote {where}/: {', '.join([C.OUT_TRIG, C.OUT_TURTLE, C.OUT_NQUADS, C.OUT_JSONLD, C.OUT_STORE + '/'])}"
    )
