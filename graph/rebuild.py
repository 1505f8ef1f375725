"""Rebuilds: what a build takes from the snapshot it starts from.

After the extraction files are read (graph.cache), a build needs the graph as a whole for the
rules and the shapes. A rebuild does not load it into memory: the previous snapshot's RocksDB store
is copied with hard links (its files are immutable) and the changed graphs, a document's or the
registry's, are replaced in it by difference (graph.storefill, replace_graphs). Then, on that store:

- the inferred graph is the previous one if no rule reads the quads the edit added or removed
  (kept_inferred); else, if every rule is monotone, the previous one changed where the edit is:
  what the solutions that took a removed quad made is taken out, what other solutions still make
  is put back, and what the solutions that take an added quad make is added (keyed_inferred,
  graph.rules.Keys); else the rules run over the part of the graph they read, kept beside the
  snapshot and updated from the changed graphs (sliced_inferred); only when what they infer
  reads beyond that part are they run over the whole graph, loaded into memory (working_store,
  infer). The inferred graph's TriG and JSON-LD are spliced where it changed (graph.splice);
- the shapes are checked on the changed documents' graphs and on the nodes that a change of the
  registry or of the inferred graph concerns (validate_graphs, described_anew), unless something
  every graph depends on changed: the ontology, the shapes, the rules or the code
  (graph.cache.validation_context). A node's shapes read its own triples, the ontology and the
  types of what it names, and a document types only its own nodes;
- when no graph changed at all, the inferred graph and the validation are the last build's
  (reuse).

Each of these gives what a full build gives: tests/test_incremental.py compares them byte for byte.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyoxigraph import NamedNode, QuerySolutions, RdfFormat, Store, parse

from graph import constants as C
from graph.cache import (
    Chunk,
    Layout,
    Payload,
    Project,
    Say,
    Unit,
    chunk_stream,
    make_chunk,
    rule_reads,
)
from graph.errors import DataError, counted
from graph.splice import first_line, spliced

if TYPE_CHECKING:
    from graph.rules import Keys, Row, Rule


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


def replace_graphs(store: Store, project: Project, previous: Previous) -> None:
    """Replace the graphs that changed since the previous snapshot (the inferred one aside) in a
    copy of its store: by difference where the previous version is at hand (graph_versions),
    else whole.

    An edit changes a few quads of a graph, and RocksDB deletes quad by quad: clearing and loading
    again the registry's graph of 5,000 entities took 1 s, the difference a few milliseconds."""
    changed = changed_graphs(project, previous) or set()
    now = {x.graph: x for x in project.graphs() if x.graph in changed}
    whole: list[Chunk | Unit] = []
    for g in sorted(changed):
        versions = graph_versions(project, previous, g) if g in now else None
        if versions is None:
            store.clear_graph(NamedNode(g))
            if g in now:
                whole.append(now[g])
            continue
        before, after = versions
        for quad in parse(b"".join(sorted(before - after)), format=RdfFormat.N_QUADS):
            store.remove(quad)
        if after - before:
            store.load(b"".join(sorted(after - before)), format=RdfFormat.N_QUADS, lenient=True)
    if whole:
        store.load(chunk_stream(project, whole), format=RdfFormat.N_QUADS, lenient=True)


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


def inferred_nodes(store: Store, old: Chunk, new: Chunk) -> list[str] | None:
    """The nodes whose validity a change of the inferred graph (old to new, held by the store)
    can change (see described_anew); None: validate the whole graph."""
    removed, added = inferred_changes(old, new)
    return described_anew(store, removed | added)


def described_anew(store: Store, changed: set[bytes]) -> list[str] | None:
    """The nodes whose validity a change of the registry or of the inferred graph (the N-Quads
    lines in one version only; the store holds the new one) can change: those it says something
    new of (the subjects of the lines), and those that name a node it types anew (the shapes read
    the types of what a node names: graph.validate). None: a blank node is among them (validate
    the whole graph). What else a node's validity reads, the ontology, is the validation context."""
    rdf_type = f" <{C.PREFIXES['rdf']}type> ".encode()
    subjects = {line.split(b" ", 1)[0] for line in changed}
    if any(not s.startswith(b"<") for s in subjects):
        return None
    nodes = {s[1:-1].decode() for s in subjects}
    retyped = sorted({line.split(b" ", 1)[0] for line in changed if rdf_type in line})
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


_CHANGED_GRAPH = "urn:dkg:build:changed"  # the quads an edit added or removed, while asked about
# Asked about the edit while its quads are in the store: (the store, the graph that holds them).
Asked = Callable[[Store, str], None]


@dataclass(frozen=True)
class Changes:
    """What changed since the previous snapshot, when only extraction files did (changes_since)."""

    inferred: Chunk  # the previous snapshot's inferred graph
    removed: set[bytes]  # the N-Quads lines of the graphs that differ, gone from them
    added: set[bytes]  # and new in them
    graphs: set[str]  # the named graphs that differ

    @property
    def quads(self) -> bytes:
        """The quads added or removed, as N-Quads in a graph of their own (_CHANGED_GRAPH)."""
        return _in_graph(self.removed | self.added, _CHANGED_GRAPH)


def changes_since(project: Project, previous: Previous | None) -> Changes | None:
    """What changed since the previous snapshot, if only extraction files changed (documents or
    the registry) and it was validated in the same context (the same ontology, shapes, rules and
    code); None if not, or if the previous inferred graph or graphs are not at hand."""
    changed = changed_graphs(project, previous)
    old = _last_inferred(project, previous)
    if not changed or old is None or previous is None:
        return None
    if C.ONTOLOGY_GRAPH in changed:
        return None
    if project.context != previous.validated:
        return None
    removed: set[bytes] = set()
    added: set[bytes] = set()
    for graph in sorted(changed):
        versions = graph_versions(project, previous, graph)
        if versions is None:
            return None  # (an old version is no longer at hand)
        removed |= versions[0] - versions[1]
        added |= versions[1] - versions[0]
    return Changes(old, removed, added, changed)


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
    inferred, problems = apply_rules(
        sliced, rules, lambda rule: rule_reads(project, rule), whole=False
    )
    if problems:
        raise DataError(problems)
    new = Chunk(C.INFERRED_GRAPH, inferred.count(b"\n"), inferred)  # (sorted, each line once)
    removed, added = inferred_changes(old, new)
    new = spliced(old, new.nq, removed, added) or new  # (its TriG and JSON-LD: graph.splice)
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
    del sliced
    if last is not None:  # what the slice store now holds, without dumping it (0.2 s)
        gone = tuple(f" <{graph}> .\n".encode() for graph in changes.graphs)
        lines = {line for line in last.splitlines(keepends=True) if not line.endswith(gone)}
        part = b"".join(sorted(lines | set(part.splitlines(keepends=True))))
    kept = _slice_file(part, previous.validated)
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


def keyed_inferred(
    project: Project,
    store: Store,
    rules: list[Rule],
    changes: Changes,
    say: Say,
    asked: Asked | None = None,
) -> tuple[Chunk, None] | None:
    """After an edit that a rule reads, in a store that holds every new graph and the previous
    inferred graph: the rules run where the edit is, and the store's inferred graph changed by
    what they no longer infer and what they infer anew. Returns that graph, and no slice of the
    graph the rules read to keep beside the new snapshot: the rules need none while they can be
    run this way (updating it cost 0.1 s of every such rebuild at 100,000 claims; when they
    cannot, sliced_inferred reads it from the store). None: a rule has no Keys
    (graph.rules.Keys), or what changed cannot be followed this way; the rules must run over
    their slice, and the store is as it was.

    Each rule is monotone (see Keys), so the solutions an edit changes are those that take one of
    the quads it removed or added, and they are found by the values of their keys: the rules are
    run over the quads of the blocks' solutions with those values only (graph.rules.gathered: a
    few hundred quads), in three steps, as in the DRed algorithm (deletion and re-derivation):

    1. What goes (_overdeleted): everything a solution that took a removed quad made, before the
       edit, and then, round by round, everything a solution that took one of those made;
    2. what comes back (_producers, _made): of that, what a solution over the rest still makes.
       Such a solution is one of the last build's, and it made everything else its template
       makes too, so the inferred graph tells the values of its keys (Keys.widened);
    3. what comes (_grown): what the solutions that take an added quad, or one that came back,
       make, round by round until a round makes nothing new.

    At 100,000 claims, moving an intervention to another action line takes the rules 0.2-0.3 s
    this way, against 2 s over their slice."""
    from graph.rules import MAX_ROUNDS

    removed, added = changes.removed, changes.added
    keys = [rule_reads(project, rule).keys for rule in rules]
    ruled = [(rule, k) for rule, k in zip(rules, keys, strict=True) if k is not None]
    if len(ruled) < len(rules):
        return None
    paths = {f"<{iri}>".encode() for _, k in ruled for iri in k.paths}
    if any(line.split(b" ", 2)[1] in paths for line in removed | added):
        return None  # (a path's solutions are not found by a pattern's)
    old = changes.inferred
    gone: set[bytes] = set()  # inferred lines taken out of the store
    new: set[bytes] = set()  # inferred lines put into it, not in the last inferred graph
    try:
        going = _overdeleted(store, ruled, old.nq, removed, added)
        if going is None:
            return None
        rows = _producers(store, ruled, going)  # (asked of the inferred graph before it goes)
        if rows is None:
            return None
        gone = going
        _remove(store, gone)
        back = _made(store, ruled, rows)
        if back is None:
            raise _NotHere
        back &= gone
        store.load(b"".join(sorted(back)), format=RdfFormat.N_QUADS, lenient=True)
        gone -= back
        fresh = added | back  # the quads a round looks at: the edit's, then those made anew
        for _ in range(MAX_ROUNDS):
            made = _grown(store, ruled, fresh)
            if made is None:
                raise _NotHere
            fresh = {q for q in made if q in gone or not (q in new or _holds_line(old.nq, q))}
            store.load(b"".join(sorted(fresh)), format=RdfFormat.N_QUADS, lenient=True)
            gone -= fresh
            new |= {q for q in fresh if not _holds_line(old.nq, q)}
            if not fresh:
                break
        else:
            raise _NotHere
        return _keyed_result(store, changes, old, gone, new, say, asked), None
    except (_NotHere, SyntaxError):  # (SyntaxError: rdflib wrote what pyoxigraph does not read)
        _remove(store, new)
        store.load(b"".join(sorted(gone)), format=RdfFormat.N_QUADS, lenient=True)
        return None


class _NotHere(Exception):
    """The rules cannot be run where the edit is (keyed_inferred): run them over their slice."""


_REMOVED_GRAPH = "urn:dkg:build:removed"  # quads the rules no longer read, while asked about


def _overdeleted(
    store: Store,
    ruled: list[tuple[Rule, Keys]],
    nq: bytes,
    removed: set[bytes],
    added: set[bytes],
) -> set[bytes] | None:
    """The lines of the last inferred graph (nq) that a solution made, before the edit, that
    took a removed quad, or a line found so; None if that cannot be told here. The store holds
    the new graphs and the last inferred graph: the solutions before the edit are found with the
    removed quads in a graph of their own and run over without the added ones."""
    from graph.rules import MAX_ROUNDS

    gone: set[bytes] = set()
    frontier = removed
    for _ in range(MAX_ROUNDS):
        if not frontier:
            return gone
        made = _made_where(
            store, ruled, frontier, _REMOVED_GRAPH, lambda near: near - added | removed
        )
        if made is None:
            return None
        frontier = {q for q in made - gone if _holds_line(nq, q)}
        gone |= frontier
    return None


def _producers(
    store: Store, ruled: list[tuple[Rule, Keys]], lines: set[bytes]
) -> list[set[Row]] | None:
    """For each rule, the values of its keys in every solution of the last build that made
    one of these inferred lines (Keys.widened, from the store's inferred graph); None if there
    are too many to tell."""
    out: list[set[Row]] = []
    quads = list(parse(b"".join(sorted(lines)), format=RdfFormat.N_QUADS))
    for _rule, keys in ruled:
        rows: set[Row] = set()
        for quad in quads:
            for known in keys.producing(quad):
                widened = keys.widened(store, known)
                if widened is None:
                    return None
                rows.update(widened)
        out.append(rows)
    return out


def _made(store: Store, ruled: list[tuple[Rule, Keys]], rows: list[set[Row]]) -> set[bytes] | None:
    """What the rules make from their solutions in the store with these values of their keys
    (one set of rows a rule); None if that cannot be told here."""
    from graph.rules import constructed, gathered

    made: set[bytes] = set()
    for (rule, keys), wanted in zip(ruled, rows, strict=True):
        if not wanted:
            continue
        near = gathered(store, keys, wanted, set())
        if near is None:
            return None
        made |= constructed(rule, "".join(sorted(near)).encode())
    return made


def _grown(store: Store, ruled: list[tuple[Rule, Keys]], fresh: set[bytes]) -> set[bytes] | None:
    """One round of what comes (keyed_inferred): what the rules make from their solutions in the
    store that take one of the fresh quads (which it holds); None if that cannot be told here."""
    return _made_where(store, ruled, fresh, _CHANGED_GRAPH, lambda near: near | fresh)


def _made_where(
    store: Store,
    ruled: list[tuple[Rule, Keys]],
    quads: set[bytes],
    graph: str,
    state: Callable[[set[bytes]], set[bytes]],
) -> set[bytes] | None:
    """What the rules make from their solutions that take one of these quads, held for the
    asking in this named graph of the store: each rule is run over the quads of its blocks'
    solutions with their keys' values (graph.rules.gathered), as state makes them (those of the
    store before the edit, or after it); None if that cannot be told here."""
    from graph.rules import constructed, gathered

    store.load(_in_graph(quads, graph), format=RdfFormat.N_QUADS, lenient=True)
    made: set[bytes] = set()
    try:
        for rule, keys in ruled:
            rows = keys.rows(store, graph)
            if rows is None:
                return None
            if not rows:
                continue
            near = gathered(store, keys, rows, {graph})
            if near is None:
                return None
            here = state({line.encode() for line in near})
            made |= constructed(rule, b"".join(sorted(here)))
    finally:
        store.clear_graph(NamedNode(graph))
    return made


def _keyed_result(
    store: Store,
    changes: Changes,
    old: Chunk,
    gone: set[bytes],
    new: set[bytes],
    say: Say,
    asked: Asked | None,
) -> Chunk:
    """The end of keyed_inferred: the new inferred graph (the store holds it); asked, if given,
    is called as sliced_inferred calls it."""
    say(
        f"the rules, run where the edit is, inferred {counted(len(new), 'new triple')} "
        f"and took back {counted(len(gone), 'triple')}"
    )
    nq = _edited(old.nq, gone, new)
    chunk = spliced(old, nq, gone, new) if gone or new else old
    if chunk is None:
        chunk = make_chunk(C.INFERRED_GRAPH, nq)
    _CHANGES.clear()
    _CHANGES[(old.digest, chunk.digest)] = (gone, new)
    if asked is not None:
        store.load(changes.quads, format=RdfFormat.N_QUADS, lenient=True)
        store.load(_in_graph(gone | new, _CHANGED_GRAPH), format=RdfFormat.N_QUADS, lenient=True)
        try:
            asked(store, _CHANGED_GRAPH)
        finally:
            store.clear_graph(NamedNode(_CHANGED_GRAPH))
    return chunk


def _remove(store: Store, lines: set[bytes]) -> None:
    """Remove quads (N-Quads lines) from a store."""
    for quad in parse(b"".join(sorted(lines)), format=RdfFormat.N_QUADS):
        store.remove(quad)


def _holds_line(nq: bytes, line: bytes) -> bool:
    """Whether sorted N-Quads hold a line."""
    return nq.startswith(line, first_line(nq, line))


def _edited(nq: bytes, gone: set[bytes], new: set[bytes]) -> bytes:
    """Sorted N-Quads without the lines gone (all of them there) and with the lines new (none of
    them there), still sorted; in one pass over views of the old bytes (two passes, each
    copying 20 MB, took 0.1 s at 100,000 claims)."""
    view = memoryview(nq)
    places = sorted(
        [(first_line(nq, line), 0, line) for line in new]
        + [(first_line(nq, line), 1, line) for line in gone]
    )  # (a line goes in before one that goes out at the same place)
    pieces: list[bytes | memoryview] = []
    at = 0
    for where, out, line in places:
        pieces.append(view[at:where])
        if out:
            at = where + len(line)
        else:
            pieces.append(line)
            at = where
    pieces.append(view[at:])
    return b"".join(pieces)


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


_VERSIONS: dict[tuple[str, str, str, str | None], tuple[set[bytes], set[bytes]] | None] = {}


def graph_versions(
    project: Project, previous: Previous, graph: str
) -> tuple[set[bytes], set[bytes]] | None:
    """The N-Quads lines of a graph, a document's or the registry's, in the previous snapshot and
    now (none for a version that does not exist); None if the previous one is not at hand. A
    document's previous version is its last unit's, in the cache; the registry's is read from the
    previous snapshot's N-Quads file (_old_nquads). Kept for the build that asks: it replaces the
    graphs in the store, asks the rules and validates with them."""
    if graph == C.REGISTRY_GRAPH:
        item: Chunk | Unit | None = next((c for c in project.chunks if c.graph == graph), None)
    else:
        item = next((u for u in project.units if u.graph == graph), None)
    key = (str(previous.snapshot), previous.digest, graph, item.digest if item else None)
    if key in _VERSIONS:
        return _VERSIONS[key]
    old: set[bytes] | None
    new: set[bytes] | None
    if graph == C.REGISTRY_GRAPH:
        data = _old_nquads(project, previous, graph)
        old = set(data.splitlines(keepends=True)) if data is not None else None
        new = set(project.chunk(item).nq.splitlines(keepends=True)) if item else set()
    else:
        unit = item if isinstance(item, Unit) else None
        old = _lines(project, project.before.get(graph), previous.graphs.get(graph))
        new = _lines(project, unit, unit.digest if unit is not None else None)
    found = (old, new) if old is not None and new is not None else None
    if any(k[0] != key[0] or k[1] != key[1] for k in _VERSIONS):
        _VERSIONS.clear()  # another build's
    _VERSIONS[key] = found
    return found


def _old_nquads(project: Project, previous: Previous, graph: str) -> bytes | None:
    """One graph's N-Quads in the previous snapshot, read from its merged N-Quads file where the
    snapshot's Layout puts them, if their digest is the one its manifest records; else None."""
    digest = previous.graphs.get(graph)
    layout = project.cache.get("layouts", previous.digest) if previous.digest else None
    if digest is None or not isinstance(layout, Layout):
        return None
    found = layout.files.get(C.OUT_NQUADS, ((), {}))[1].get(graph)
    if found is None or found[0] != digest:
        return None
    try:
        with open(previous.snapshot / C.OUT_NQUADS, "rb") as fh:
            fh.seek(found[1])
            data = fh.read(found[2])
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None


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

    What changed: the changed documents' graphs, and the nodes that a change of the registry or
    of the inferred graph concerns (described_anew). A node's validity reads its own triples and
    the ontology, which the context covers, and the types of what it names, which only the
    registry and the inferred graph give (a document types only its own nodes)."""
    from graph.validate import validate

    context = project.context
    if not shapes:
        return ""  # unvalidated: the next build validates it all
    scope: list[str] | None = None
    nodes: list[str] | None = None
    described: list[str] | None = []
    if changed is not None and previous is not None and previous.validated == context:
        # only the changed graphs can hold new violations (see the module docstring), and the
        # nodes a change of the inferred graph or the registry concerns
        scope, nodes = sorted(changed - {C.REGISTRY_GRAPH}), []
        if previous.graphs.get(C.INFERRED_GRAPH) != inferred.digest:
            old = _last_inferred(project, previous)
            nodes = inferred_nodes(store, old, inferred) if old is not None else None
        if C.REGISTRY_GRAPH in changed:
            versions = graph_versions(project, previous, C.REGISTRY_GRAPH)
            described = (
                None if versions is None else described_anew(store, versions[0] ^ versions[1])
            )
        if nodes is None or described is None:  # validate every graph
            scope = nodes = None
        elif not scope and not nodes and not described:
            return context
    parts = [counted(len(scope), "changed graph")] if scope else []
    parts += [counted(len(nodes), "node") + " the rules said something new of"] if nodes else []
    parts += [counted(len(described), "node") + " the registry describes anew"] if described else []
    say("validating against the SHACL shapes" + (f" ({' and '.join(parts)})" if parts else ""))
    if nodes is not None and described:
        nodes = sorted({*nodes, *described})
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
