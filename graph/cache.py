"""Incremental builds: what each extraction file contributes is kept between builds, keyed by the
content hash of everything it depends on, so a rebuild after editing one file reads, checks and
compiles only that file, and the result is byte for byte what a full build writes.

Per file (a "unit"): the result of checking it (problems, quote coverage, claim lines), its named
graph, serialised once in every output format, and its loaded YAML (the parse cache, used when the
file's bytes are the same but its unit is not; the registry's is kept by its bytes, and entity
by entity: _parse_registry). The outputs are the concatenation of those pieces in graph order, so
a full build and an incremental one assemble the same bytes from the same pieces.

Also kept: what each rule reads (rule_reads), and the digest of what every graph's validity
depends on but the graphs (validation_context). What a rebuild takes from the previous snapshot,
its store, inferred graph and validation, is graph.rebuild.

Everything lives in OUT/cache/; a missing or unreadable entry is simply computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from pyoxigraph import NamedNode, Quad, RdfFormat, parse, serialize

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
from graph.errors import DataError, Problem, RunError, display_path
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
from graph.yamlio import Located, item_values, load_items

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
    asked: tuple[str, ...] = ()  # the ids its check asked about, and
    whole: bool = False  # whether it read them all (see AskedIds)


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
    "items": lambda v: isinstance(v, dict),
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
        """The digest of the code and the rules, and of whether ids are checked: part of every
        unit key. Of the ids, a key holds only what its file's check asked (see unit_key)."""
        checked = "\0unchecked" if self.known is None else "checked"
        return sha(self.salt, checked, "\n".join(sorted(self.rules)))

    @cached_property
    def known_digest(self) -> str:
        """The digest of every id, for a check that read them all (see AskedIds)."""
        return sha("\n".join(sorted(self.known or ())))


class AskedIds(Collection[str]):
    """The ids references may name, as one file's check sees them: each id it asks about is
    recorded with the answer, and so is a read of them all (a did-you-mean, after an unknown
    id). The unit's key holds those answers (unit_key): a new entity in the registry changes
    no key, and so no file is checked again, unless a file asked about that id."""

    def __init__(self, known: frozenset[str]):
        self.known = known
        self.asked: set[str] = set()
        self.whole = False

    def __contains__(self, ref: object) -> bool:
        if isinstance(ref, str):
            self.asked.add(ref)
        return ref in self.known

    def __iter__(self) -> Iterator[str]:
        self.whole = True
        return iter(self.known)

    def __len__(self) -> int:
        self.whole = True
        return len(self.known)


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
    asked: Iterable[str] = (),
    whole: bool = False,
) -> str:
    """The key of a unit: the context, the file and the source text it quotes, and what its
    check learnt of the ids (see AskedIds): whether each id it asked about is known, and all of
    them if it read them all."""
    source = _source_digest(context.root, text, digests or FileDigests())
    known = context.known or frozenset()
    if whole:
        ids = "every id " + context.known_digest
    elif known.issuperset(asked):  # as when it was checked, unless an id it names is gone
        ids = "known " + "\n".join(asked)
    else:
        ids = "asked " + "".join(f"{ref}\0{int(ref in known)}\n" for ref in sorted(asked))
    return sha(context.digest, rel, yaml, text or "", source, ids)


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


def _parse_registry(
    root: Path, path: Path, key: str, cache: Cache, salt: str
) -> tuple[Any, Located | None, list[Problem], list[str] | None]:
    """The registry, as _parse reads it, and the digests of its entities' texts in order (None if
    not needed: the graph of the same bytes is in the cache); after an edit, item by item
    (graph.yamlio.load_items): only the entities whose text changed are parsed, the others'
    values are the last read's (the cache's "items" entry, by the digest of each entity's text,
    for the code of salt).

    Reading libyaml's events for the 5,000 entities of a 100,000-claim corpus took 0.27 s of
    every rebuild after a registry edit."""
    found = _from_parsed(cache.get("parsed", key), Registry)
    if found is not None:  # (its graph, too, is in the cache)
        return (*found, None)
    name = display_path(path, root)
    try:
        raw = path.read_bytes()
    except OSError:
        return (*_parse(root, path, key, cache, Registry), None)
    kept = cache.get("items", "registry")  # (none: read whole, faster than 5,000 times)
    known = kept.get("items") if isinstance(kept, dict) and kept.get("salt") == salt else None
    loaded = (
        load_items(raw, name, "entities", known)
        if isinstance(known, dict) and known and len(raw) <= C.MAX_YAML_BYTES
        else None
    )
    if loaded is None:  # read whole; its items are kept all the same
        record, located, problems = _parse(root, path, key, cache, Registry)
        data = located.data if located is not None else None
        table = (
            item_values(raw, "entities", data.get("entities")) if isinstance(data, dict) else None
        )
    else:
        located, table = loaded
        cache.put("parsed", key, located)
        record, located, problems = validated(located, Registry)
    if table is not None and (not isinstance(known, dict) or table.keys() != known.keys()):
        cache.put("items", "registry", {"salt": salt, "items": table})
    return record, located, problems, list(table) if table is not None else None


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
    corpus = Corpus(root=root)
    known = AskedIds(context.known) if context.known is not None else None
    found: DocumentCheck = check_document(doc, corpus, known, set(context.rules))
    asked = tuple(sorted(known.asked)) if known is not None else ()
    whole = known is not None and known.whole
    key = unit_key(context, rel, yaml, meta.text, asked=asked, whole=whole)
    unit = Unit(
        rel,
        key,
        yaml,
        asked=asked,
        whole=whole,
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

    corpus = Corpus(root=root)
    result = CheckResult()
    if not path.is_file():
        corpus.problems.append(Problem(display_path(path, root), 0, 0, NO_REGISTRY))
        return corpus, result, None
    yaml = digests(path)
    rel = display_path(path, root)
    key = sha(rel, yaml, "registry")
    keys["parsed"] = key
    corpus.registry, corpus.registry_located, problems, order = _parse_registry(
        root, path, key, cache, salt
    )
    corpus.problems += problems
    _check_registry(corpus, result)
    if result.problems or corpus.registry is None:
        return corpus, result, None
    chunk_key = sha(salt, key)
    keys["graphs"] = chunk_key
    chunk = cache.get("graphs", chunk_key)
    if not isinstance(chunk, Chunk):
        chunk = _registry_chunk(cache, salt, chunk_key, list(result.entities.values()), order)
        cache.put("graphs", chunk_key, chunk)
    return corpus, result, chunk


def _registry_chunk(
    cache: Cache, salt: str, key: str, entities: list[Any], order: list[str] | None
) -> Chunk:
    """The registry's graph (to keep in the cache by key), made entity by entity: an entity
    whose text did not change (order: the digests of the texts, see _parse_registry) has the
    lines it had in the last one made (the cache's "items" entry "registry-graph"), and that
    graph's TriG and JSON-LD are spliced where an entity's lines changed (graph.splice).

    Compiling the 5,000 entities of a 100,000-claim corpus and writing their graph in every
    format took 0.3 s of every rebuild after a registry edit."""
    from graph.compile import compile_entity, compile_registry
    from graph.splice import spliced

    if order is None or len(order) != len(entities):
        return make_chunk(C.REGISTRY_GRAPH, compile_registry(entities))
    kept = cache.get("items", "registry-graph")
    last = kept if isinstance(kept, dict) and kept.get("salt") == salt else {}
    known = last.get("lines") or {}
    graph = NamedNode(C.REGISTRY_GRAPH)
    lines: dict[str, bytes] = {}
    for entity, digest in zip(entities, order, strict=True):
        found = known.get(digest)
        if not isinstance(found, bytes):
            found = serialize(list(compile_entity(entity, graph)), format=RdfFormat.N_QUADS) or b""
        lines[digest] = found
    nq = make_chunk(C.REGISTRY_GRAPH, b"".join(lines.values()), every_format=False).nq
    old = cache.get("graphs", last.get("chunk") or "")
    chunk = None
    if isinstance(old, Chunk):
        before, after = set(old.nq.splitlines(keepends=True)), set(nq.splitlines(keepends=True))
        chunk = spliced(old, nq, before - after, after - before)
    cache.put("items", "registry-graph", {"salt": salt, "chunk": key, "lines": lines})
    return chunk or make_chunk(C.REGISTRY_GRAPH, nq)


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
    whether that is every file, the registry too (then nothing is likely to change)."""
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
        registry = reg_path.is_file() and cache.has(  # (the same bytes were read before)
            "parsed", sha(display_path(reg_path, root), digests(reg_path), "registry")
        )
        on_known(known, len(known) == len(rels) == len(index) and registry)
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
            and old.key
            == unit_key(context, rel, yamls[rel], old.text, digests, old.asked, old.whole)
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


def validation_context(project: Project) -> str:
    """What every graph's validity depends on but the graphs: the ontology, the shapes, the rules
    and the code. If it changed, every graph is validated again. It is also all the inferred graph
    depends on but the graphs (see graph.rebuild.reuse).

    The registry and the inferred graph are not part of it: after either changes, the nodes it
    says something new of are validated again, and the nodes that name one it types anew
    (graph.rebuild.validate_graphs)."""
    ontology = sorted(  # what the build reads there: the ontology, the shapes, the rules
        (p.relative_to(project.root).as_posix(), p.read_bytes())
        for p in (project.root / C.ONTOLOGY_DIRNAME).rglob("*")
        if p.is_file() and p.suffix in {".ttl", ".rq"}
    )
    parts = [f"{n}\0".encode() + b for n, b in ontology]
    here = Path(__file__).parent
    code = [(here / name).read_bytes() for name in ("rules.py", "validate.py", "rebuild.py")]
    return sha(code_salt(), *code, *parts)


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
