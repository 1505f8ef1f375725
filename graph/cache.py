"""Incremental builds: what each extraction file contributes is kept between builds, keyed by the
content hash of everything it depends on, so a rebuild after editing one file reads, checks and
compiles only that file, and the result is byte for byte what a full build writes.

Per file (a "unit"): the result of checking it (problems, quote coverage, claim lines), its named
graph, serialised once in every output format, and its loaded YAML (the parse cache, used when the
file's bytes are the same but its unit is not; the registry's is kept by its bytes). The outputs
are the concatenation of those pieces in graph order, so a full build and an incremental one
assemble the same bytes from the same pieces.

The graph as a whole is needed for the rules and the shapes: it is loaded into an in-memory store
(whole-graph queries run there about ten times faster than on RocksDB), the rules run again unless
no rule reads the quads that changed (see kept_inferred), and the shapes are checked on the
changed graphs only, unless something every graph depends on
(ontology, shapes, rules, registry, inferred types, this code) changed. Why that is enough: a
focus node's shapes read its own graph, the registry's description of what it refers to, the
ontology and the inferred types, and the focus nodes of a graph are the nodes it defines. The
snapshot's RocksDB store is the previous one, copied with hard links (its files are immutable),
with the changed graphs replaced.

Everything lives in OUT/cache/; a missing or unreadable entry is simply computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from pyoxigraph import NamedNode, Quad, QuerySolutions, RdfFormat, Store, parse, serialize

from graph import constants as C
from graph.check import (
    CheckResult,
    DocumentCheck,
    PartOf,
    SectionCoverage,
    Unfound,
    check_document,
    document_id_problems,
    known_ids,
    part_of_cycles,
    report_unfound,
    rule_names,
)
from graph.errors import DataError, Problem, RunError, counted
from graph.load import (
    NO_REGISTRY,
    Corpus,
    Document,
    _load_model,
    extraction_files,
    nested_extractions,
    validated,
)
from graph.models import Extraction, Registry
from graph.yamlio import Located

if TYPE_CHECKING:
    from graph.rules import Reads, Rule

CACHE_DIRNAME = "cache"
FORMAT = 1
PREFIXES = {k: v for k, v in C.PREFIXES.items() if k != "sh"}
# The modules whose code decides what a file checks and compiles to: a change to any of them
# invalidates the cache (as does the version of pyoxigraph, which writes the pieces).
_CODE = ("cache", "check", "compile", "constants", "load", "models", "textmatch", "vocab", "yamlio")
# Below this many files to read, worker processes cost more to start than they save.
PARALLEL_FROM = 16

Say = Callable[[str], None]
Advance = Callable[[int], None]


def sha(*parts: bytes | str) -> str:
    """The SHA-256 of the parts, each length-prefixed so that no two lists collide."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return h.hexdigest()


def code_salt() -> str:
    """A digest of the code that decides what a file compiles to."""
    import pyoxigraph

    here = Path(__file__).parent
    return sha(
        str(FORMAT), pyoxigraph.__version__, *((here / f"{m}.py").read_bytes() for m in _CODE)
    )


# --- One named graph in every output format ------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One named graph, serialised: N-Quads, and TriG and JSON-LD bodies without headers (the
    Turtle is read off the TriG, see turtle)."""

    graph: str
    quads: int
    nq: bytes
    trig: bytes = b""
    jsonld: bytes = b""

    @cached_property
    def digest(self) -> str:
        """The digest of its N-Quads: what says whether the graph changed."""
        return hashlib.sha256(self.nq).hexdigest()


def _body(data: bytes) -> bytes:
    """Drop the @prefix lines a Turtle or TriG serialiser writes first."""
    at = 0
    while data.startswith(b"@prefix ", at):
        at = data.index(b"\n", at) + 1
    return data[at:]


def make_chunk(graph: str, quads: Iterable[Quad] | bytes, every_format: bool = True) -> Chunk:
    """Sort and serialise the quads of one named graph (deterministic: sorted, no blank nodes).

    quads may be given as N-Quads. The order is that of the N-Quads lines as bytes, which is the
    order of (subject, predicate, object) as N-Triples strings: a quad's str() is its line, and
    UTF-8 keeps the order of code points. (In one graph no line is the start of another: each
    ends with the graph's IRI.)

    Given N-Quads, the lines are sorted (in C, ten times faster than sorting terms in Python) and
    parsed only if the other formats are wanted. They are made unique in their order (a dict, not
    a set): lines that come sorted, as the rules' do, then sort in one pass (0.12 s instead of
    0.25 s for the 184,000 inferred at 100,000 claims). Given quads, they are serialised once and put in
    the order of their lines: parsing them again from N-Quads took twice as long (1.8 million
    quads at 100,000 claims), and sorting by str() formats every quad once more. Either way the
    parse is lenient, as everywhere the build reads N-Quads that pyoxigraph wrote.
    """
    ordered: list[Quad] | None = None
    if isinstance(quads, bytes):
        lines = sorted(dict.fromkeys(quads.splitlines(keepends=True)))
        nq, size = b"".join(lines), len(lines)
    else:
        unique = list(set(quads))
        lines = (serialize(unique, format=RdfFormat.N_QUADS) or b"").splitlines(keepends=True)
        order = sorted(range(len(unique)), key=lines.__getitem__)
        ordered = [unique[i] for i in order]
        nq, size = b"".join([lines[i] for i in order]), len(ordered)
    if not every_format:
        return Chunk(graph, size, nq)
    if ordered is None:
        ordered = list(parse(nq, format=RdfFormat.N_QUADS, lenient=True))
    trig = _body(serialize(ordered, format=RdfFormat.TRIG, prefixes=PREFIXES) or b"")
    jsonld = (serialize(ordered, format=RdfFormat.JSON_LD) or b"[]")[1:-1]
    return Chunk(graph, size, nq, trig, jsonld)


def turtle(trig: bytes) -> bytes:
    """The Turtle of one graph from its TriG body, as pyoxigraph would write it.

    pyoxigraph writes a graph in TriG as its name and `{` on a line, then the Turtle lines of its
    triples with one more tab in front, then `}`; a literal's line breaks and tabs are escaped, so
    every line break starts a line of the graph. Taking one tab off each line costs nothing, where
    writing the Turtle as well was a fifth of compiling (tests/test_build.py compares the two).
    """
    if not trig:
        return b""
    inner = trig[trig.index(b"{\n") + 2 : trig.rindex(b"}")]
    return inner[1:].replace(b"\n\t", b"\n")


def headers() -> tuple[bytes, bytes]:
    """The @prefix lines that open the TriG and the Turtle file."""
    lines = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items()).encode()
    return lines, lines


# --- What one extraction file contributes --------------------------------------------------------


@dataclass
class Unit:
    """What one extraction file contributes, without its graph (that is in the payload file)."""

    rel: str  # path under the project, as messages name it
    key: str  # digest of everything the check and the graph depend on
    yaml: str  # digest of the file
    text: str | None = None  # the source text path the document names
    doc_id: str | None = None
    id_at: Problem | None = None  # where the document id is written
    problems: list[Problem] = field(default_factory=list)
    coverage: list[SectionCoverage] = field(default_factory=list)
    unfound: list[Unfound] = field(default_factory=list)
    part_of: list[PartOf] = field(default_factory=list)
    graph: str | None = None
    digest: str | None = None
    quads: int = 0
    claims: int = 0
    standings: dict[str, int] = field(default_factory=dict)


@dataclass
class Payload:
    """The large part of a unit, read only when needed: its graph and where its claims are; and
    the file's loaded YAML (its parse cache: see _parse_document)."""

    chunk: Chunk | None
    claim_lines: dict[tuple[str, str], tuple[str, int]]
    doc_line: tuple[str, int] | None
    parsed: bytes = b""  # the Located or the Problem of _parse, pickled: read only if asked


# What an entry of each kind must look like to be used (a bad copy or another version may hold a
# readable pickle of something else); anything else is a miss.
@dataclass(frozen=True)
class Layout:
    """Where each graph is in each merged file of a snapshot, so that the next build can copy
    what did not change from there: per file, its stamp (size, modification and change times,
    inode: a file changed since is not copied from) and each graph's (digest, offset, length).
    Kept in the cache by the snapshot's digest, for the code (salt) that serialised the pieces."""

    salt: str
    files: dict[str, tuple[tuple[int, ...], dict[str, tuple[str, int, int]]]]


def _is_reads(value: Any) -> bool:
    from graph.rules import Reads

    return isinstance(value, Reads)


_SHAPES: dict[str, Callable[[Any], bool]] = {
    "reads": _is_reads,
    "digests": lambda v: isinstance(v, dict),
    "layouts": lambda v: isinstance(v, Layout),
    "parsed": lambda v: isinstance(v, (Located, Problem)),
    "units": lambda v: isinstance(v, Payload),
    "graphs": lambda v: isinstance(v, Chunk),
    "index": lambda v: isinstance(v, dict) and all(isinstance(u, Unit) for u in v.values()),
}


class Cache:
    """The cache folder of a build folder (OUT/cache), or none at all (everything is computed)."""

    def __init__(self, folder: Path | None, writable: bool = True):
        self.folder = folder
        self.writable = writable and folder is not None
        self._graphs: dict[str, Chunk] = {}

    def _path(self, kind: str, key: str) -> Path | None:
        return self.folder / kind / key[:2] / f"{key}.pkl" if self.folder else None

    def get(self, kind: str, key: str) -> Any:
        """The entry, or None if absent or unreadable (a killed build, another version). The
        graphs read are remembered for the build (the inferred graph is asked for thrice)."""
        if kind == "graphs" and key in self._graphs:
            return self._graphs[key]
        path = self._path(kind, key)
        if path is None:
            return None
        try:
            with path.open("rb") as fh:
                value = pickle.load(fh)
        except Exception:  # a half-written or foreign file is only a miss
            return None
        shape = _SHAPES.get(kind)
        if shape is not None and not shape(value):
            return None  # a readable entry of another shape too
        if kind == "graphs":
            self._graphs = {key: value}  # the last one only: they can be large
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store an entry atomically (a temporary file beside it, then a rename)."""
        path = self._path(kind, key)
        if path is None or not self.writable:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def has(self, kind: str, key: str) -> bool:
        """Whether an entry exists."""
        path = self._path(kind, key)
        return path is not None and path.is_file()

    def prune(self, keep: dict[str, set[str]]) -> None:
        """Remove every entry not in keep (kind -> keys), so the cache holds one build's worth."""
        if self.folder is None or not self.writable:
            return
        for kind, keys in keep.items():
            for path in (self.folder / kind).glob("*/*.pkl"):
                if path.stem not in keys:
                    path.unlink(missing_ok=True)
        # under the build lock, a temporary entry belongs to a build that was killed mid-put
        for path in self.folder.glob("*/*/.*.pkl.*"):
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Context:
    """What every file's check depends on besides the file: ids, rules, code."""

    root: Path
    known: frozenset[str] | None
    rules: frozenset[str]
    salt: str

    @cached_property
    def digest(self) -> str:
        """Its digest, part of every unit key."""
        known = "\n".join(sorted(self.known)) if self.known is not None else "\0unchecked"
        return sha(self.salt, known, "\n".join(sorted(self.rules)))


def stamp(path: Path | str | int) -> tuple[int, ...]:
    """What says a file (a path, or an open descriptor) is as it was: its size, modification and
    change times, inode and device. The change time moves on with any write and cannot be set
    back. OSError if there is no such file."""
    st = os.fstat(path) if isinstance(path, int) else os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class FileDigests:
    """The SHA-256 of files, remembered between builds (in the cache) by what stat says of them: a
    file whose size, modification and change times and inode are what they were when it was
    hashed is not read again (2,000 extraction files and their source texts: 0.5 s of a rebuild
    at 100,000 claims). A file is remembered only if it had not changed for a second when it was
    hashed, so one changed again within the same tick of the clock is never taken for what it
    was: its change time moves on."""

    def __init__(self, cache: Cache | None = None):
        stored = cache.get("digests", "files") if cache is not None else None
        self.cache = cache
        self.known: dict[str, tuple[tuple[int, ...], str]] = stored if stored else {}
        self.seen: dict[str, tuple[tuple[int, ...], str]] = {}

    def __call__(self, path: Path | str, alias: str | None = None) -> str:
        """The file's SHA-256 ("unreadable" if it cannot be read); remembered under alias too
        (the path it was found by, see remembered)."""
        key = str(path)
        try:
            now = stamp(key)
            hit = self.known.get(key)
            if hit is not None and hit[0] == now:
                digest = hit[1]
            else:
                with open(key, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            return "unreadable"
        if time.time_ns() - max(now[1], now[2]) > 1_000_000_000:  # unchanged for a second
            for name in (key, alias) if alias else (key,):
                self.seen[name] = (now, digest)
        return digest

    def remembered(self, path: str) -> str | None:
        """The SHA-256 of the file this path leads to, if it is the file it led to when it was
        hashed (stat follows links: the same inode, size and times); else None."""
        hit = self.known.get(path)
        if hit is None:
            return None
        try:
            if hit[0] != stamp(path):
                return None
        except OSError:
            return None
        self.seen[path] = hit
        return hit[1]

    def save(self) -> None:
        """Remember the files hashed since this was made, and only those."""
        if self.cache is not None and self.cache.writable and self.seen != self.known:
            self.cache.put("digests", "files", self.seen)


def _source_digest(root: Path, text: str | None, digests: FileDigests) -> str:
    """The SHA-256 of the source text a document names, or why there is none. The text must be a
    file under extract/ (links resolved): a path found so before, leading to the same file, is
    not resolved again (see FileDigests.remembered)."""
    if text is None:
        return ""
    given = os.path.join(root, C.EXTRACT_DIRNAME, text)
    known = digests.remembered(given)
    if known is not None:
        return known
    extract = os.path.realpath(root / C.EXTRACT_DIRNAME)
    try:
        path = os.path.realpath(os.path.join(extract, text))
        if os.path.commonpath([extract, path]) != extract or not os.path.isfile(path):
            return "missing"
        if os.path.getsize(path) > C.MAX_SOURCE_BYTES:
            return "too large"
        return digests(path, alias=given)
    except (OSError, ValueError):
        return "unreadable"


def unit_key(
    context: Context,
    rel: str,
    yaml: str,
    text: str | None,
    digests: FileDigests | None = None,
) -> str:
    """The key of a unit: the context, the file and the source text it quotes."""
    source = _source_digest(context.root, text, digests or FileDigests())
    return sha(context.digest, rel, yaml, text or "", source)


# State of a worker process: set once by _init, so tasks stay small.
_WORKER: dict[str, Any] = {}


def _init(context: Context, cache: Cache, every_format: bool) -> None:
    _WORKER.update(context=context, cache=cache, every_format=every_format)


def _parse(
    root: Path, path: Path, key: str, cache: Cache, model: type[Any]
) -> tuple[Any, Located | None, list[Problem]]:
    """The record a file holds (see graph.load._load_model), through the parse cache.

    The cache keeps the loaded YAML (or the problem that kept it from loading), not the record:
    pickling the records was four fifths of the entry's cost on every new file, and making one
    again from the YAML is cheaper than reading the YAML again, which is what the entry saves.
    """
    found = _from_parsed(cache.get("parsed", key), model)
    if found is not None:
        return found
    record, located, problems = _load_model(path, root, model)
    cache.put("parsed", key, located if located is not None else problems[0])
    return record, located, problems


def _from_parsed(hit: Any, model: type[Any]) -> tuple[Any, Located | None, list[Problem]] | None:
    """What _parse returns, from what the parse cache kept (None: it kept nothing usable)."""
    if isinstance(hit, Located):
        return validated(hit, model)
    if isinstance(hit, Problem):
        return None, None, [hit]
    return None


def _parse_document(
    root: Path, path: Path, cache: Cache, before: str | None
) -> tuple[Any, Located | None, list[Problem], bytes]:
    """An extraction file's record, as _parse reads it, and its loaded YAML (or the problem that
    kept it from loading) pickled, for its unit's payload.

    The parse cache of extraction files is in their units' payloads rather than in entries of
    their own (a file each: creating 2,000 more files took 1.5-2 s of a 100,000-claim build's
    CPU). before: the key of the file's last unit, if the file's bytes are the same (its context
    changed: the registry, say), whose payload then holds what is needed; pickled apart from the
    rest, so that reading a payload for its graph does not unpickle it too."""
    if before is not None:
        old = cache.get("units", before)
        if isinstance(old, Payload) and old.parsed:
            with contextlib.suppress(Exception):  # damaged: parsed again
                found = _from_parsed(pickle.loads(old.parsed), Extraction)
                if found is not None:
                    return (*found, old.parsed)
    record, located, problems = _load_model(path, root, Extraction)
    kept = located if located is not None else problems[0]
    return record, located, problems, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)


def process_file(rel: str, yaml: str, before: str | None = None) -> Unit:
    """Read, check and compile one extraction file (in a worker, or in the main process).
    before: the key of its last unit, if its bytes are the same (see _parse_document)."""
    from graph.compile import compile_document, graph_iri

    context: Context = _WORKER["context"]
    cache: Cache = _WORKER["cache"]
    root = context.root
    path = root / rel
    record, located, problems, parsed = _parse_document(root, path, cache, before)
    if record is None or located is None:
        unit = Unit(rel, sha(context.digest, rel, yaml, "\0failed"), yaml, problems=list(problems))
        cache.put("units", unit.key, Payload(None, {}, None, parsed))
        return unit
    doc = Document(path, located, record)
    meta = record.document
    key = unit_key(context, rel, yaml, meta.text)
    corpus = Corpus(root=root)
    known = set(context.known) if context.known is not None else None
    found: DocumentCheck = check_document(doc, corpus, known, set(context.rules))
    unit = Unit(
        rel,
        key,
        yaml,
        text=meta.text,
        doc_id=meta.id,
        id_at=located.problem(("document", "id"), ""),
        problems=list(problems) + found.problems,
        coverage=found.coverage,
        unfound=found.unfound,
        part_of=found.part_of,
        claims=len(record.claims),
        standings=dict(Counter(str(c.standing) for c in record.claims)),
    )
    chunk = None
    if not unit.problems and not unit.unfound:
        chunk = make_chunk(
            graph_iri(meta.id).value, compile_document(record), _WORKER["every_format"]
        )
        unit.graph, unit.digest, unit.quads = chunk.graph, chunk.digest, chunk.quads
    doc_line = (located.file, located.where(("document",))[0])
    payload = Payload(chunk, found.claim_lines, doc_line, parsed)
    cache.put("units", key, payload)
    if not cache.writable:
        _WORKER.setdefault("kept", {})[key] = payload
    return unit


def _process(task: tuple[str, str, str | None]) -> Unit:
    return process_file(*task)


# --- Reading the project -------------------------------------------------------------------------


@dataclass
class Project:
    """Everything the build assembled from extract/ and ontology/, before the rules and shapes."""

    root: Path
    corpus: Corpus  # the registry; documents are in units
    entities: dict[str, Any]
    units: list[Unit]
    chunks: list[Chunk]  # registry and ontology graphs
    check: CheckResult
    cache: Cache
    kept: dict[str, Payload]  # payloads of units when the cache does not keep them
    registry_keys: dict[str, str] = field(default_factory=dict)  # cache kind -> key
    before: dict[str, Unit] = field(default_factory=dict)  # the last build's units, by graph
    digests: FileDigests = field(default_factory=FileDigests)  # of the files read
    used: dict[str, set[str]] = field(default_factory=dict)  # other cache entries it used

    @cached_property
    def context(self) -> str:
        """What every graph's validity depends on but the graphs (see validation_context)."""
        return validation_context(self)

    def cache_keys(self) -> dict[str, set[str]]:
        """The cache entries this build uses: the ones to keep when pruning."""
        keep: dict[str, set[str]] = {
            "parsed": set(),
            "units": set(),
            "graphs": set(),
            "digests": {"files"},
        }
        for u in self.units:
            keep["units"].add(u.key)
        for kind, key in self.registry_keys.items():
            keep[kind].add(key)
        for kind, keys in self.used.items():
            keep.setdefault(kind, set()).update(keys)
        return keep

    def payload(self, unit: Unit) -> Payload:
        """The payload of a unit."""
        found = self.kept.get(unit.key) or self.cache.get("units", unit.key)
        if not isinstance(found, Payload):
            # damaged or removed since the index was read: compute it again (same key, same bytes)
            process_file(unit.rel, unit.yaml)
            found = self.kept.get(unit.key) or self.cache.get("units", unit.key)
        if not isinstance(found, Payload):
            raise RunError(
                f"cannot keep the graph of {unit.rel} in the build cache; is the disk full?"
            )
        return found

    def graphs(self) -> list[Chunk | Unit]:
        """Every named graph in output order (by IRI as N-Quads writes it)."""
        items: list[Chunk | Unit] = [u for u in self.units if u.graph is not None]
        items += self.chunks
        return sorted(items, key=lambda x: f"<{x.graph}>")

    def chunk(self, item: Chunk | Unit) -> Chunk:
        """The chunk of a graph."""
        if isinstance(item, Chunk):
            return item
        chunk = self.payload(item).chunk
        assert chunk is not None
        return chunk


def _files(root: Path) -> tuple[Path, list[Path]]:
    extract = root / C.EXTRACT_DIRNAME
    if not extract.is_dir():
        raise RunError(f"no {C.EXTRACT_DIRNAME}/ folder in {root}; run dkg from the project folder")
    return extract / C.REGISTRY_FILENAME, extraction_files(extract / C.DOCUMENTS_DIRNAME)


def _registry(
    root: Path, path: Path, cache: Cache, salt: str, keys: dict[str, str], digests: FileDigests
) -> tuple[Corpus, CheckResult, Chunk | None]:
    from graph.check import _check_registry
    from graph.compile import compile_registry
    from graph.errors import display_path

    corpus = Corpus(root=root)
    result = CheckResult()
    if not path.is_file():
        corpus.problems.append(Problem(display_path(path, root), 0, 0, NO_REGISTRY))
        return corpus, result, None
    yaml = digests(path)
    rel = display_path(path, root)
    key = sha(rel, yaml, "registry")
    keys["parsed"] = key
    corpus.registry, corpus.registry_located, problems = _parse(root, path, key, cache, Registry)
    corpus.problems += problems
    _check_registry(corpus, result)
    if result.problems or corpus.registry is None:
        return corpus, result, None
    chunk_key = sha(salt, key)
    keys["graphs"] = chunk_key
    chunk = cache.get("graphs", chunk_key)
    if not isinstance(chunk, Chunk):
        chunk = make_chunk(C.REGISTRY_GRAPH, compile_registry(result.entities.values()))
        cache.put("graphs", chunk_key, chunk)
    return corpus, result, chunk


def read_project(
    root: Path,
    cache: Cache,
    say: Say,
    bar: Callable[[int, str], contextlib.AbstractContextManager[Advance]] | None = None,
    every_format: bool = True,
    on_known: Callable[[dict[str, Unit], bool], None] | None = None,
) -> Project:
    """Read, check and compile extract/ and the ontology, each file only if it changed.

    on_known, if given, is told early (before the registry and the changed files are read) the
    last build's units of the files whose bytes did not change, by graph: what the build will
    most likely make of them, though not certainly (the registry, say, may have changed); and
    whether that is every file (then nothing is likely to change)."""
    from graph.errors import display_path
    from graph.ontology import load_ontology
    from graph.rules import describe_rules, load_rules

    salt = code_salt()
    reg_path, doc_paths = _files(root)
    digests = FileDigests(cache)
    stored = cache.get("index", "units")
    index: dict[str, Unit] = {
        rel: u
        for rel, u in (stored.items() if isinstance(stored, dict) else [])
        if isinstance(u, Unit)
    }
    rels = [display_path(p, root) for p in doc_paths]
    yamls = {rel: digests(root / rel) for rel in rels}
    if on_known is not None:  # what is likely to come out as it did
        known = {u.graph: u for rel, u in index.items() if u.graph and yamls.get(rel) == u.yaml}
        on_known(known, len(known) == len(rels) == len(index))
    say("reading the entity registry")
    registry_keys: dict[str, str] = {}
    changed = sum(1 for rel in rels if rel not in index or index[rel].yaml != yamls[rel])
    with _rules_read_ahead(root, cache, changed):
        corpus, result, reg_chunk = _registry(root, reg_path, cache, salt, registry_keys, digests)
        # The ids documents may cite include every document's id: take last build's for unchanged
        # files and the file name for the others (they must be equal), and check the guess after.
        guess = {
            rel: (index[rel].doc_id if rel in index and index[rel].yaml == yamls[rel] else None)
            or Path(rel).stem
            for rel in rels
        }
        rules = frozenset(rule_names(root))

        def read_units(ids: dict[str, str]) -> list[Unit]:
            return _units(
                root, cache, salt, corpus, result, rels, yamls, ids, rules, index, say, bar,
                every_format, digests,
            )  # fmt: skip

        units = read_units(guess)
        actual = {u.rel: u.doc_id for u in units if u.doc_id is not None}
        if any(actual.get(rel, guess[rel]) != guess[rel] for rel in rels):
            # a file whose document id is not its name: check everything again with the real ids
            units = read_units({**guess, **actual})
    kept: dict[str, Payload] = _WORKER.pop("kept", {}) if not cache.writable else {}
    if cache.writable:
        cache.put("index", "units", {u.rel: u for u in units})

    # Checks across files, as check_corpus makes them.
    check = CheckResult(problems=list(corpus.problems) + result.problems, entities=result.entities)
    registry_line = (
        corpus.registry_located.where(("entities",))[0] if corpus.registry_located else 0
    )
    ids = [(u.doc_id, u.id_at) for u in units if u.doc_id is not None and u.id_at is not None]
    check.problems += document_id_problems(ids, result.entities, registry_line)
    edges: list[PartOf] = []
    unfound: list[Unfound] = []
    for u in units:
        check.problems += u.problems
        check.coverage += u.coverage
        edges += u.part_of
        unfound += u.unfound
    if unfound:
        check.problems += _report_unfound(root, units, unfound)
    check.problems += part_of_cycles(edges)
    check.problems += [
        Problem(
            display_path(path, root),
            0,
            0,
            f"is in a subfolder, and only {C.EXTRACT_DIRNAME}/{C.DOCUMENTS_DIRNAME}/*.yaml are read;"
            " move it up",
        )
        for path in nested_extractions(root / C.EXTRACT_DIRNAME / C.DOCUMENTS_DIRNAME)
    ]
    ontology_dir = root / C.ONTOLOGY_DIRNAME
    onto, onto_problems = load_ontology(ontology_dir)
    if check.problems or onto_problems:
        raise DataError(check.problems + onto_problems)
    onto += describe_rules(load_rules(ontology_dir))
    chunks = [make_chunk(C.ONTOLOGY_GRAPH, onto, every_format)]
    if reg_chunk is not None:
        chunks.append(reg_chunk)
    before = {u.graph: u for u in index.values() if u.graph is not None}
    return Project(
        root,
        corpus,
        result.entities,
        units,
        chunks,
        check,
        cache,
        kept,
        registry_keys,
        before,
        digests,
    )


def _units(
    root: Path,
    cache: Cache,
    salt: str,
    corpus: Corpus,
    result: CheckResult,
    rels: list[str],
    yamls: dict[str, str],
    guess: dict[str, str],
    rules: frozenset[str],
    index: dict[str, Unit],
    say: Say,
    bar: Callable[[int, str], contextlib.AbstractContextManager[Advance]] | None,
    every_format: bool,
    digests: FileDigests,
) -> list[Unit]:
    known = known_ids(corpus, result.entities, set(guess.values()))
    context = Context(root, frozenset(known) if known is not None else None, rules, salt)
    units: dict[str, Unit] = {}
    todo: list[tuple[str, str, str | None]] = []
    for rel in rels:
        old = index.get(rel)
        if (
            old is not None
            and old.yaml == yamls[rel]
            and old.key == unit_key(context, rel, yamls[rel], old.text, digests)
            and cache.has("units", old.key)
        ):
            units[rel] = old
        else:  # with the last unit of the same bytes, whose payload holds the parsed file
            before = old.key if old is not None and old.yaml == yamls[rel] else None
            todo.append((rel, yamls[rel], before))
    say(
        f"reading {len(todo)} of {len(rels)} extraction files"
        if todo
        else "nothing changed in extract/"
    )
    _init(context, cache, every_format)
    if todo:
        with (bar or _no_bar)(len(todo), "reading extract/") as advance:
            for unit in _run(todo, context, cache, every_format):
                units[unit.rel] = unit
                advance(1)
    return [units[rel] for rel in rels]


@contextlib.contextmanager
def _no_bar(_total: int, _what: str) -> Iterator[Advance]:
    yield lambda _n: None


def _run(
    todo: list[tuple[str, str, str | None]], context: Context, cache: Cache, every_format: bool
) -> Iterator[Unit]:
    workers = min(os.cpu_count() or 1, 8)
    if len(todo) < PARALLEL_FROM or workers < 2 or not cache.writable:
        for task in todo:
            yield _process(task)
        return
    import multiprocessing

    # fork: the workers share the imported code and start at once; they get the context by
    # inheritance and write their results to the cache themselves, returning only the small part.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_init, initargs=(context, cache, every_format)) as pool:
        yield from pool.imap_unordered(_process, todo, chunksize=4)


def _report_unfound(root: Path, units: list[Unit], unfound: list[Unfound]) -> list[Problem]:
    """Missing quotes, looked for in every other source (read again: this is the rare case)."""
    from graph.textmatch import SourceText

    sources: dict[str, SourceText] = {}
    texts: dict[str, str] = {}
    extract = (root / C.EXTRACT_DIRNAME).resolve()
    for u in units:
        if u.doc_id is None or u.text is None:
            continue
        texts[u.doc_id] = u.text
        try:
            path = (extract / u.text).resolve()
            if path.is_relative_to(extract) and path.is_file():
                sources[u.doc_id] = SourceText(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return report_unfound([u for u in unfound if u.document in sources], sources, texts)


# --- The store: rules and shapes -----------------------------------------------------------------


class ChunkSource(Protocol):
    """What holds the serialised graphs: a Project, or a CachedChunks in another process."""

    def chunk(self, item: Chunk | Unit) -> Chunk:
        """The chunk of a graph."""
        ...


@dataclass
class CachedChunks:
    """The serialised graphs as another process finds them: in the cache folder by unit key."""

    cache: Cache

    def chunk(self, item: Chunk | Unit) -> Chunk:
        """The chunk of a graph; RunError if the cache no longer holds it."""
        if isinstance(item, Chunk):
            return item
        payload = self.cache.get("units", item.key)
        if not isinstance(payload, Payload) or payload.chunk is None:
            raise RunError(f"the build cache lost the graph of {item.rel}; build again")
        return payload.chunk


class ChunkReader(io.RawIOBase):
    """The N-Quads of many chunks as one stream, for the store's bulk loader."""

    def __init__(self, project: ChunkSource, items: list[Chunk | Unit]):
        self.project = project
        self.items = iter(items)
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self.buffer:
            item = next(self.items, None)
            if item is None:
                return 0
            self.buffer = self.project.chunk(item).nq
        n = min(len(b), len(self.buffer))
        b[:n] = self.buffer[:n]
        self.buffer = self.buffer[n:]
        return n


def chunk_stream(project: ChunkSource, items: list[Chunk | Unit]) -> IO[bytes]:
    """The N-Quads of the graphs, one after the other, as a file to read."""
    return io.BufferedReader(ChunkReader(project, items), buffer_size=1 << 20)


@dataclass
class Previous:
    """The snapshot a build starts from: its store and the digest of each of its graphs."""

    snapshot: Path
    graphs: dict[str, str]
    validated: str
    digest: str = ""  # of its N-Quads: the key of its Layout


def previous_snapshot(out: Path | None) -> Previous | None:
    """The current snapshot of a build folder, if it records its graphs (and so can be reused)."""
    import json

    if out is None:
        return None
    try:
        snap = (out / C.CURRENT_LINK).resolve(strict=True)
        manifest = json.loads((snap / C.OUT_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict) or not (snap / C.OUT_STORE).is_dir():
        return None
    validated, digest = str(manifest.get("validated", "")), str(manifest.get("digest", ""))
    return Previous(snap, graphs, validated, digest)


def working_store(project: Project, say: Say) -> Store:
    """An in-memory store of every graph but the inferred one, for the rules and the shapes.

    In memory, because the rules and shapes query the whole graph: pyoxigraph answers them ten
    times faster there than from RocksDB, which is worth loading the graph for.

    Every load of the build's own N-Quads is lenient: pyoxigraph wrote them from terms it had
    checked, so checking each IRI again only costs a fifth of the load (2 s at 100,000 claims).

    The command that loads it ends soon after it is done with it: the store is not freed before
    then (see graph.cli.keep_to_exit).
    """
    from graph.cli import keep_to_exit

    say("loading the graph for the rules and shapes")
    store = Store()
    keep_to_exit(store)
    store.load(chunk_stream(project, project.graphs()), format=RdfFormat.N_QUADS, lenient=True)
    return store


def changed_graphs(project: Project, previous: Previous | None) -> set[str] | None:
    """The named graphs (inferred aside) that differ from the previous snapshot; None if none."""
    if previous is None:
        return None
    now = {x.graph: x.digest for x in project.graphs() if x.graph is not None}
    old = {g: d for g, d in previous.graphs.items() if g != C.INFERRED_GRAPH}
    return {g for g in now.keys() | old.keys() if now.get(g) != old.get(g)}


def replace_graphs(
    store: Store, project: ChunkSource, fresh: list[Chunk | Unit], changed: set[str]
) -> None:
    """Replace the changed graphs (the inferred one aside) in a copy of the previous store."""
    for g in sorted(changed):
        store.clear_graph(NamedNode(g))
    if fresh:
        store.load(chunk_stream(project, fresh), format=RdfFormat.N_QUADS, lenient=True)


def replace_inferred(store: Store, old: Chunk, new: Chunk) -> None:
    """Replace the inferred graph by difference.

    A one-file edit changes a few of its quads, and deleting all of them would leave RocksDB a
    graph's worth of tombstones to skip in every later query.
    """
    removed, added = inferred_changes(old, new)
    for quad in parse(b"".join(sorted(removed)), format=RdfFormat.N_QUADS):
        store.remove(quad)
    if added:
        store.load(b"".join(sorted(added)), format=RdfFormat.N_QUADS, lenient=True)


_CHANGES: dict[tuple[str, str], tuple[set[bytes], set[bytes]]] = {}


def inferred_changes(old: Chunk, new: Chunk) -> tuple[set[bytes], set[bytes]]:
    """The N-Quads lines of an inferred graph that a new one no longer has, and those it adds
    (kept for the last pair asked about: a rebuild asks three times, 0.1-0.2 s each at
    100,000 claims)."""
    key = (old.digest, new.digest)
    found = _CHANGES.get(key)
    if found is None:
        before = set(old.nq.splitlines(keepends=True))
        after = set(new.nq.splitlines(keepends=True))
        found = (before - after, after - before)
        _CHANGES.clear()
        _CHANGES[key] = found
    return found


def validation_context(project: Project) -> str:
    """What every graph's validity depends on but the graphs: if it changed, every graph is
    validated again. It is also all the inferred graph depends on but the graphs (see reuse).

    The inferred graph is not part of it: after it changes, the nodes it says something new of
    are validated again, and the nodes that name one it types anew (see validate_graphs)."""
    ontology = sorted(  # what the build reads there: the ontology, the shapes, the rules
        (p.relative_to(project.root).as_posix(), p.read_bytes())
        for p in (project.root / C.ONTOLOGY_DIRNAME).rglob("*")
        if p.is_file() and p.suffix in {".ttl", ".rq"}
    )
    parts = [f"{n}\0".encode() + b for n, b in ontology]
    registry = next((c.digest for c in project.chunks if c.graph == C.REGISTRY_GRAPH), "")
    here = Path(__file__).parent
    code = [(here / name).read_bytes() for name in ("rules.py", "validate.py")]
    return sha(code_salt(), *code, registry, *parts)


def inferred_nodes(store: Store, old: Chunk, new: Chunk) -> list[str] | None:
    """The nodes whose validity a change of the inferred graph (old to new, held by the store)
    can change: those it says something new of (the subjects of the quads in one version only),
    and those that name a node it types anew (the shapes read the types of what a node names:
    graph.validate). None: a blank node is among them (validate the whole graph).

    What else a node's validity reads, the ontology and the registry, is the validation context."""
    rdf_type = f" <{C.PREFIXES['rdf']}type> ".encode()
    removed, added = inferred_changes(old, new)
    changed = removed | added
    subjects = {line.split(b" ", 1)[0] for line in changed}
    retyped = sorted({line.split(b" ", 1)[0] for line in changed if rdf_type in line})
    if any(not s.startswith(b"<") for s in subjects):
        return None
    nodes = {s[1:-1].decode() for s in subjects}
    if retyped:
        found = store.query(
            f"SELECT DISTINCT ?f WHERE {{ VALUES ?t {{ {b' '.join(retyped).decode()} }} ?f ?p ?t }}",
            use_default_graph_as_union=True,
        )
        assert isinstance(found, QuerySolutions)
        for row in found:
            f = row["f"]
            if not isinstance(f, NamedNode):
                return None
            nodes.add(f.value)
    return sorted(nodes)


class LazyLocations(Mapping[str, tuple[str, int]]):
    """Where each entity, document, claim and ontology term is written; read only if asked."""

    def __init__(self, project: Project):
        self.project = project
        self._where: dict[str, tuple[str, int]] | None = None

    def _load(self) -> dict[str, tuple[str, int]]:
        if self._where is None:
            where: dict[str, tuple[str, int]] = {}
            corpus = self.project.corpus
            if corpus.registry is not None and corpus.registry_located is not None:
                loc = corpus.registry_located
                for i, ent in enumerate(corpus.registry.entities):
                    where.setdefault(C.ID + ent.id, (loc.file, loc.where(("entities", i))[0]))
            for u in self.project.units:
                if u.doc_id is None:
                    continue
                payload = self.project.payload(u)
                if payload.doc_line is not None:
                    where[C.ID + u.doc_id] = payload.doc_line
                for (doc_id, claim_id), spot in payload.claim_lines.items():
                    where[f"{C.CLAIM}{doc_id}/{claim_id}"] = spot
            where.update(_term_lines(self.project.root))
            self._where = where
        return self._where

    def __getitem__(self, key: str) -> tuple[str, int]:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def _term_lines(root: Path) -> dict[str, tuple[str, int]]:
    """The line where each term of the ontology is described: a line that starts with dkg:Term."""
    rel = f"{C.ONTOLOGY_DIRNAME}/{C.ONTOLOGY_FILE}"
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    where: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"dkg:([\w.-]+)\s", line)
        if m:
            where.setdefault(C.ONTOLOGY + m[1], (rel, number))
    return where


def reuse(project: Project, previous: Previous | None) -> Chunk | None:
    """The previous snapshot's inferred graph, if this build would infer and validate exactly what
    it did: no graph changed (an edit to a comment, or a second build of the same input) and
    neither did the rules, the shapes, the ontology or the code. None: infer and validate."""
    if changed_graphs(project, previous) != set():
        return None
    assert previous is not None
    key = previous.graphs.get(C.INFERRED_GRAPH, "")
    inferred = project.cache.get("graphs", key)
    if not isinstance(inferred, Chunk) or inferred.digest != key:
        return None
    return inferred if project.context == previous.validated else None


def infer(
    project: Project,
    store: Store,
    say: Say,
    previous: Previous | None = None,
    every_format: bool = True,
    asked: Asked | None = None,
) -> Chunk:
    """Run the rules, adding what they infer to the store; return the inferred graph. DataError
    if a rule is wrong. After an edit that no rule reads, the previous snapshot's inferred graph
    is the answer (see kept_inferred, and there asked)."""
    from graph.rules import apply_rules, load_rules

    rules = load_rules(project.root / C.ONTOLOGY_DIRNAME)
    kept = kept_inferred(project, store, rules, changes_since(project, previous), asked)
    if kept is not None:
        say("no rule reads what changed: the inferred graph is the last build's")
        return kept
    say(f"applying {counted(len(rules), 'rule')}")
    inferred, rule_problems = apply_rules(store, rules, lambda rule: rule_reads(project, rule))
    if rule_problems:
        raise DataError(rule_problems)
    for rule in rules:  # for the next build: see rule_reads
        rule_reads(project, rule)
    return make_chunk(C.INFERRED_GRAPH, inferred, every_format)


def _reads_key(rule: Rule) -> str:
    return sha((Path(__file__).parent / "rules.py").read_bytes(), rule.query)


def rule_reads(project: Project, rule: Rule) -> Reads:
    """What a rule reads (graph.rules.Reads), kept in the build cache: reading a rule with
    rdflib's SPARQL parser takes 0.35-0.4 s of a build (its import and the parse)."""
    from graph.rules import _reads

    key = _reads_key(rule)
    project.used.setdefault("reads", set()).add(key)
    found = project.cache.get("reads", key)
    if found is not None:
        return found
    reads = _reads(rule.query)
    project.cache.put("reads", key, reads)
    return reads


def _cache_reads(cache: Cache, rules: list[Rule]) -> None:
    """In a child process: see _rules_read_ahead. Whatever goes wrong is left to rule_reads, in
    silence (a traceback here would reach the user's terminal)."""
    from graph.rules import _reads

    with contextlib.suppress(Exception):
        for rule in rules:
            key = _reads_key(rule)
            if not cache.has("reads", key):
                cache.put("reads", key, _reads(rule.query))


READ_AHEAD_FROM = 200  # files to read: below, the rules are read where they are needed


@contextlib.contextmanager
def _rules_read_ahead(root: Path, cache: Cache, files: int) -> Iterator[None]:
    """Read the rules (rule_reads) into the cache in a child process while this one reads the
    registry and the files, if the cache does not hold them and the files to read are many: the
    start of a large build, when the second core has nothing to do yet, instead of the rules'
    round, on the build's longest path (0.35-0.4 s at 100,000 claims). A fork, so that it starts
    at once; waited for when the files are read, long after it is done. If it fails,
    rule_reads does the work."""
    from graph.rules import load_rules

    rules = load_rules(root / C.ONTOLOGY_DIRNAME)
    if (
        files < READ_AHEAD_FROM
        or not cache.writable
        or (os.cpu_count() or 1) < 2
        or all(cache.has("reads", _reads_key(r)) for r in rules)
    ):
        yield
        return
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(
        target=_cache_reads, args=(cache, rules), name="dkg-rules", daemon=True
    )
    child.start()
    try:
        yield
    finally:
        child.join()


_CHANGED_GRAPH = "urn:dkg:build:changed"  # the quads an edit added or removed, while asked about
# Asked about the edit while its quads are in the store: (the store, the graph that holds them).
Asked = Callable[[Store, str], None]


@dataclass(frozen=True)
class Changes:
    """What changed since the previous snapshot, when only extraction files did (changes_since)."""

    inferred: Chunk  # the previous snapshot's inferred graph
    quads: bytes  # the quads added or removed (see _changed_quads)
    graphs: set[str]  # the named graphs that differ


def changes_since(project: Project, previous: Previous | None) -> Changes | None:
    """What changed since the previous snapshot, if only extraction files changed and it was
    validated in the same context (the same rules, code and registry); None if not, or if the
    previous inferred graph or graphs are not in the cache."""
    changed = changed_graphs(project, previous)
    old = _last_inferred(project, previous)
    if not changed or old is None or previous is None:
        return None
    if changed & {C.REGISTRY_GRAPH, C.ONTOLOGY_GRAPH}:
        return None
    if project.context != previous.validated:
        return None
    delta = _changed_quads(project, previous, changed)
    return None if delta is None else Changes(old, delta, changed)


def kept_inferred(
    project: Project,
    store: Store,
    rules: list[Rule],
    changes: Changes | None,
    asked: Asked | None = None,
    present: bool = False,
) -> Chunk | None:
    """The previous snapshot's inferred graph, added to the store (present: the store holds it
    already), if the rules would infer it again: nothing they depend on changed but extraction
    files (changes, see changes_since; None if anything else did), and no rule reads the quads
    those files added or removed (graph.rules.Reads asks, with the old and the new quads in the
    store, so every solution either version gives a rule is seen). None: run the rules. If the graph is kept, asked, if given, is called while the
    changed quads are in the store (the coverage facts learn what the edit can change of them:
    graph.reports.coverage.edit_of).

    Why that is enough: the rules' result depends on the data only through their patterns'
    solutions, and a solution that no changed quad can take part in is a solution of both
    versions; so each round of the rules goes as it went in the last build.
    """
    if changes is None:
        return None
    old, delta = changes.inferred, changes.quads
    if not present:
        store.load(old.nq, format=RdfFormat.N_QUADS, lenient=True)
    store.load(delta, format=RdfFormat.N_QUADS, lenient=True)
    try:
        read = any(rule_reads(project, rule).changed_by(store, _CHANGED_GRAPH) for rule in rules)
        if not read and asked is not None:
            asked(store, _CHANGED_GRAPH)
    finally:
        store.clear_graph(NamedNode(_CHANGED_GRAPH))
    if read:
        if not present:
            store.clear_graph(NamedNode(C.INFERRED_GRAPH))  # the rules start from nothing
        return None
    return old


def _last_inferred(project: Project, previous: Previous | None) -> Chunk | None:
    """The previous snapshot's inferred graph, from the cache; None if it is not there."""
    if previous is None:
        return None
    key = previous.graphs.get(C.INFERRED_GRAPH, "")
    old = project.cache.get("graphs", key)
    return old if isinstance(old, Chunk) and old.digest == key else None


def sliced_inferred(
    project: Project,
    store: Store,
    rules: list[Rule],
    previous: Previous,
    changes: Changes,
    say: Say,
    asked: Asked | None = None,
) -> tuple[Chunk, bytes] | None:
    """After an edit that a rule reads (changes, see changes_since), in a store that holds every new graph and the previous
    inferred graph (the new snapshot's, see graph.build._on_disk): the rules run in memory over
    the part of the store they can read (graph.rules.slice_of), and the store's inferred graph is
    replaced by what they infer. Returns that graph and the slice, as a file to keep beside the
    new snapshot (see last_slice). asked, if given, is called as kept_inferred calls it, with the
    quads of the inferred graph that changed among the changed quads.

    The slice kept beside the previous snapshot, if any, is updated from the changed graphs
    (graph.rules.slice_update) rather than read from RocksDB again (2 s at 100,000 claims).

    None: the rules must run over the whole graph (a rule cannot be sliced, or what the rules
    inferred anew reads beyond the slice); the store is then as it was.

    Loading the whole graph into memory for the rules took 4.5 s at 100,000 claims; the slice
    is about a twentieth of it."""
    from graph.cli import keep_to_exit
    from graph.rules import apply_rules, slice_of, slice_update

    old, delta = changes.inferred, changes.quads
    reads = [rule_reads(project, rule) for rule in rules]
    sliced = Store()
    keep_to_exit(sliced)
    last = last_slice(previous.snapshot, previous.validated)
    if last is not None:
        sliced.load(last, format=RdfFormat.N_QUADS, lenient=True)
        changed = sorted(changes.graphs)
        for graph in changed:
            sliced.clear_graph(NamedNode(graph))
        part = slice_update(store, reads, changed, C.INFERRED_GRAPH)
    else:
        part = slice_of(store, reads, C.INFERRED_GRAPH)
    if part is None:
        return None
    sliced.load(part, format=RdfFormat.N_QUADS, lenient=True)
    say(f"applying {counted(len(rules), 'rule')} to the part of the graph they read")
    inferred, problems = apply_rules(sliced, rules, lambda rule: rule_reads(project, rule))
    if problems:
        raise DataError(problems)
    new = make_chunk(C.INFERRED_GRAPH, inferred, every_format=False)
    removed, added = inferred_changes(old, new)
    scratch = NamedNode(_CHANGED_GRAPH)
    if added:  # does what was inferred anew read beyond the slice?
        store.load(_in_graph(added, _CHANGED_GRAPH), format=RdfFormat.N_QUADS, lenient=True)
        try:
            beyond = any(
                read.beyond(store, _CHANGED_GRAPH, sliced, {C.INFERRED_GRAPH}) for read in reads
            )
        finally:
            store.clear_graph(scratch)
        if beyond:
            return None
    sliced.clear_graph(NamedNode(C.INFERRED_GRAPH))
    kept = _slice_file(sliced.dump(format=RdfFormat.N_QUADS) or b"", previous.validated)
    del sliced
    replace_inferred(store, old, new)
    if asked is not None:
        store.load(delta, format=RdfFormat.N_QUADS, lenient=True)
        store.load(
            _in_graph(removed | added, _CHANGED_GRAPH), format=RdfFormat.N_QUADS, lenient=True
        )
        try:
            asked(store, _CHANGED_GRAPH)
        finally:
            store.clear_graph(scratch)
    return new, kept


def whole_slice(project: Project, store: Store) -> bytes | None:
    """The part of the graph the rules read (graph.rules.slice_of), as the file to keep beside
    a snapshot, from a store that holds every graph and the inferred one; None if a rule cannot
    be sliced. A whole build makes it beside the shapes (0.75 s at 100,000 claims), so that the
    first edit a rule reads after it does not read it from RocksDB (2 s)."""
    from graph.rules import load_rules, slice_of

    rules = load_rules(project.root / C.ONTOLOGY_DIRNAME)
    part = slice_of(store, [rule_reads(project, rule) for rule in rules], C.INFERRED_GRAPH)
    return _slice_file(part, project.context) if part is not None else None


_SLICE_MARK = b"dkg rules slice 1"  # and the validation context and the body's SHA-256


def _slice_file(body: bytes, context: str) -> bytes:
    """A slice (N-Quads) as the file kept beside a snapshot, marked with the validation context
    it was made in (the rules, the code: what decides what the rules read)."""
    digest = hashlib.sha256(body).hexdigest()
    return b" ".join([_SLICE_MARK, context.encode(), digest.encode()]) + b"\n" + body


def last_slice(snapshot: Path, context: str) -> bytes | None:
    """The slice kept beside a snapshot (N-Quads: see sliced_inferred), if it was made in this
    validation context and is whole (it is not synced to disk: a build writes it again)."""
    try:
        data = (snapshot / C.RULES_SLICE).read_bytes()
    except OSError:
        return None
    head, _, body = data.partition(b"\n")
    parts = head.split(b" ")
    if parts[:-2] != _SLICE_MARK.split(b" ") or parts[-2:-1] != [context.encode()]:
        return None
    return body if hashlib.sha256(body).hexdigest().encode() == parts[-1] else None


def _in_graph(lines: set[bytes], graph: str) -> bytes:
    """N-Quads lines moved to another graph, sorted."""
    suffix = f" <{graph}> .\n".encode()
    return b"".join(line[: line.rindex(b" <")] + suffix for line in sorted(lines))


def _changed_quads(project: Project, previous: Previous, changed: set[str]) -> bytes | None:
    """The quads in the old or the new version of the changed graphs but not in both, as N-Quads
    in a graph of their own; None if an old version is no longer in the cache."""
    now = {u.graph: u for u in project.units if u.graph is not None}
    out: set[bytes] = set()
    for graph in changed:
        unit = now.get(graph)
        old = _lines(project, project.before.get(graph), previous.graphs.get(graph))
        new = _lines(project, unit, unit.digest if unit is not None else None)
        if old is None or new is None:
            return None
        out |= old ^ new
    return _in_graph(out, _CHANGED_GRAPH)


def _lines(project: Project, unit: Unit | None, digest: str | None) -> set[bytes] | None:
    """The N-Quads lines of one version of a graph (none if digest is None, the graph is new or
    gone); None if that version is not at hand."""
    if digest is None:
        return set()
    payload = (project.kept.get(unit.key) or project.cache.get("units", unit.key)) if unit else None
    chunk = payload.chunk if isinstance(payload, Payload) else None
    if chunk is None or chunk.digest != digest:
        return None
    return set(chunk.nq.splitlines(keepends=True))


def validate_graphs(
    project: Project,
    store: Store,
    inferred: Chunk,
    changed: set[str] | None,
    previous: Previous | None,
    shapes: bool,
    say: Say,
) -> str:
    """Check the shapes (on what changed only, when the previous snapshot was validated in the
    same context); DataError listing the violations. Returns the validation context digest, or ""
    if the shapes were not checked.

    What changed: the changed graphs and, if the inferred graph is not the previous snapshot's,
    the nodes its change concerns (inferred_nodes). A node's validity reads its own triples, the
    ontology and the registry, which the context covers, and the types of what it names, which
    only the registry and the inferred graph give (a document types only its own nodes)."""
    from graph.validate import validate

    context = project.context
    if not shapes:
        return ""  # unvalidated: the next build validates it all
    scope: list[str] | None = None
    nodes: list[str] | None = None
    if changed is not None and previous is not None and previous.validated == context:
        # only the changed graphs can hold new violations (see the module docstring), and the
        # nodes a change of the inferred graph concerns
        scope, nodes = sorted(changed), []
        if previous.graphs.get(C.INFERRED_GRAPH) != inferred.digest:
            old = _last_inferred(project, previous)
            nodes = inferred_nodes(store, old, inferred) if old is not None else None
            if nodes is None:  # validate every graph
                scope = None
        if scope is not None and not scope and not nodes:
            return context
    parts = [counted(len(scope), "changed graph")] if scope else []
    parts += [counted(len(nodes), "node") + " the rules said something new of"] if nodes else []
    say("validating against the SHACL shapes" + (f" ({' and '.join(parts)})" if parts else ""))
    violations = validate(
        store,
        project.root / C.ONTOLOGY_DIRNAME / C.SHAPES_FILE,
        LazyLocations(project),
        graphs=scope,
        nodes=nodes,
    )
    if violations:
        raise DataError(violations)
    return context


def counts(project: Project, inferred: Chunk) -> dict[str, int]:
    """What was built, as Compiled.stats reports it."""
    from graph.compile import RDF_TYPE

    standings: Counter[str] = Counter()
    claims = 0
    for u in project.units:
        claims += u.claims
        standings.update(u.standings)
    claim_type = f"{RDF_TYPE} <{C.ONTOLOGY}Claim>".encode()
    claims += inferred.nq.count(claim_type)
    standings["inferred"] += inferred.nq.count(
        f"<{C.ONTOLOGY}standing> <{C.ONTOLOGY}Inferred>".encode()
    )
    quads = (
        sum(u.quads for u in project.units) + sum(c.quads for c in project.chunks) + inferred.quads
    )
    return {
        "quads": quads,
        "entities": len(project.entities),
        "documents": len(project.units),
        "claims": claims,
        **{f"claims_{k}": v for k, v in sorted(standings.items()) if v},
    }
