"""The build: load and check extract/, compile to quads, apply the rules, validate against the
shapes, and write the outputs (TriG, Turtle, N-Quads, JSON-LD, an embedded store) atomically.

Atomic: every build writes a new snapshot folder beside the old one and then swaps the `current`
symlink in one rename, so a failed or killed build leaves the previous output whole. Deterministic:
quads are sorted, there are no timestamps and no blank nodes, so two builds of the same input are
byte-identical and land in the same snapshot (named by the digest of their N-Quads).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pyoxigraph import Quad, RdfFormat, Store, parse

from graph import constants as C
from graph.cache import (
    CACHE_DIRNAME,
    Cache,
    Chunk,
    FileDigests,
    Project,
    Unit,
    make_chunk,
    read_project,
)
from graph.check import CheckResult
from graph.errors import Problem, RunError, counted, display_path
from graph.layout import (
    build_lock,
    current_snapshot,
    default_out,
    early_pruning,
    make_current,
    new_snapshot_folder,
    no_readers,
    read_or_none,
    reader_lock,
    refresh_snapshot,
    same_as_current,
    write_synced,
)
from graph.load import Corpus
from graph.rebuild import (
    Previous,
    changed_graphs,
    changes_since,
    counts,
    infer,
    kept_inferred,
    keyed_inferred,
    previous_snapshot,
    replace_graphs,
    reuse,
    sliced_inferred,
    validate_graphs,
    whole_slice,
    working_store,
)
from graph.storefill import StoreCopy, StoreWriter, copy_store

if TYPE_CHECKING:
    from graph.outputs import Pieces
    from graph.reports.coverage import Edit

Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass
class Compiled:
    """The result of compiling the project: every named graph, serialised, and what the checks learnt."""

    check: CheckResult
    corpus: Corpus  # the registry; the documents are in project.units
    project: Project
    inferred: Chunk
    validated: str  # what the validation depended on (see graph.cache.validation_context)
    counts: dict[str, int]
    previous: Previous | None = None  # the snapshot whose store the new one is made from
    made: Callable[[], dict[str, bytes]] = dict  # waits for the views, see _views
    # what the rules read, to keep beside the new snapshot (graph.rebuild.sliced_inferred): the
    # file's content, or the previous snapshot's file (the rules read nothing that changed)
    slice: bytes | Path | None = None

    @property
    def views(self) -> dict[str, bytes]:
        """File name -> content of each view (see _views), once they are computed."""
        return self.made()

    def graphs(self) -> list[Chunk | Unit]:
        """Every named graph, in output order."""
        return _in_order(self.project, self.inferred)

    def chunks(self) -> Iterator[Chunk]:
        """The serialised graphs, in output order, read one at a time."""
        return _chunks(self.project, self.inferred)

    @property
    def quads(self) -> list[Quad]:
        """Every quad, sorted by graph, subject, predicate and object (parses the pieces)."""
        return [q for c in self.chunks() for q in parse(c.nq, format=RdfFormat.N_QUADS)]

    def stats(self) -> dict[str, int]:
        """Counts of what was built."""
        return dict(self.counts)


def _in_order(project: Project, inferred: Chunk) -> list[Chunk | Unit]:
    """Every named graph, in output order (by IRI as N-Quads writes it)."""
    return sorted([*project.graphs(), inferred], key=lambda x: f"<{x.graph}>")


def _chunks(project: Project, inferred: Chunk) -> Iterator[Chunk]:
    """The serialised graphs, in output order, read one at a time."""
    for item in _in_order(project, inferred):
        yield project.chunk(item)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cycle collector while building: a build makes millions of objects that live
    until it ends, and every collection walks all of them again (3 s of a 100,000-claim build).
    What the build drops is freed by reference counting as usual.

    Meanwhile every object it made is in the youngest generation, which the first collection
    after would walk (0.7 s at 100,000 claims): they are moved to the oldest one instead, with
    gc.freeze and gc.unfreeze (two list splices), and looked at with it, seldom."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def _compile(
    root: Path,
    cache: Cache,
    previous: Previous | None,
    progress: Progress | None,
    shapes: bool = True,
    on_read: Callable[[Project], Store | None] | None = None,
    views: bool = False,
    on_inferred: Callable[[Project, Chunk, bool], None] | None = None,
    on_known: Callable[[dict[str, Unit], bool], None] | None = None,
) -> Compiled:
    """on_read, if given, is called once the files are read; it may return the new snapshot's
    store, copied from the previous snapshot's with the changed graphs replaced (its inferred
    graph is still the previous one). Then, after an edit, that store is all the build reads
    but what the rules read (see _on_disk). on_inferred, if given, is called with the inferred
    graph, and whether that store holds it already."""
    from graph.progress import bar

    say = progress or (lambda _msg: None)
    say("reading extract/")
    project = read_project(root, cache, say, bar if progress is not None else None, True, on_known)
    disk = on_read(project) if on_read is not None else None
    again = _reused(project, previous, shapes, views)
    made: Callable[[], dict[str, bytes]] = dict
    rules_slice: bytes | Path | None = None
    slicing: Callable[[], bytes | None] | None = None  # the slice of a whole build, if begun
    if again is not None:
        say("no graph changed since the last build: nothing to infer, validate or compute")
        inferred, validated, stored = again
        made = stored.copy
    else:
        changed = changed_graphs(project, previous)
        edits: list[Edit] = []

        def asked(store: Store, graph: str) -> None:
            from graph.reports.coverage import edit_of
            from graph.store import EmbeddedBackend

            edits.append(edit_of(EmbeddedBackend.over(store), graph))

        # the last facts, which the coverage matrix is updated from after an edit
        last = (
            _stored_views(previous.snapshot, whole=False)
            if views and previous is not None
            else None
        )
        old = next(iter(last.values())) if last else None  # (the one view: coverage.json)
        # Whole-graph queries are ten times slower on RocksDB: the snapshot's store is read
        # only if nothing whole is asked of it (the facts, too, only updated).
        tried = (
            disk is not None and previous is not None and shapes and (old is not None or not views)
        )
        kept = on_disk = None
        if tried and disk is not None and previous is not None:
            kept = _on_disk(project, disk, previous, say, asked if views else None)
        if disk is not None and kept is not None:
            store, (inferred, rules_slice) = disk, kept
            on_disk = inferred
        else:
            store = working_store(project, say)
            inferred = infer(
                project,
                store,
                say,
                None if tried else previous,
                every_format=False,  # (made below, beside the shapes)
                asked=asked if views else None,
            )
            if views and shapes:  # the next edit a rule reads needs not ask RocksDB for it
                slicing = _in_background(lambda: whole_slice(project, store))
        del disk
        if views:
            say("computing the coverage matrix, beside the rest of the build")
            edit = edits[0] if edits else None
            whole = (lambda: _whole(project, on_disk)) if on_disk is not None else None
            made = _in_background(lambda: _views(store, old, edit, whole))
        # The shapes read the store and the inferred graph's N-Quads only: they are checked
        # while its other formats are made (0.7 s at 100,000 claims, at the end of a build).
        nquads = inferred
        checked = _in_background(
            lambda: validate_graphs(project, store, nquads, changed, previous, shapes, say)
        )
        if not inferred.jsonld and inferred.quads:
            inferred = make_chunk(C.INFERRED_GRAPH, inferred.nq)
        if on_inferred is not None:
            on_inferred(project, inferred, on_disk is not None)
        validated = checked()
        if slicing is not None:
            rules_slice = slicing()
        del store, nquads
    stats = counts(project, inferred)
    return Compiled(
        project.check,
        project.corpus,
        project,
        inferred,
        validated,
        stats,
        previous,
        made,
        rules_slice,
    )


def _on_disk(
    project: Project,
    store: Store,
    previous: Previous,
    say: Progress,
    asked: Callable[[Store, str], None] | None,
) -> tuple[Chunk, bytes | Path | None] | None:
    """The inferred graph, made in the new snapshot's store, which holds the previous one: that
    one if the rules would infer it again (graph.rebuild.kept_inferred), that one changed by
    what the rules infer where the edit is, if they can be run there
    (graph.rebuild.keyed_inferred), else what they infer from the part of the store they read
    (graph.rebuild.sliced_inferred); and that part, to keep beside the new snapshot (the
    previous snapshot's file, if the rules read nothing that changed: the part they read is the
    same; none, if they ran where the edit is). None: load the graph into memory and run them
    there.

    The rest of such a build reads the snapshot's store too: the shapes of what changed, and the
    coverage facts of the cells the edit can change. Whole-graph queries are about ten times
    slower on RocksDB than in memory, so this is only tried when nothing whole is asked: the
    previous facts must be at hand (see _compile)."""
    from graph.rules import load_rules

    changes = changes_since(project, previous)
    if changes is None:
        return None
    rules = load_rules(project.root / C.ONTOLOGY_DIRNAME)
    kept = kept_inferred(project, store, rules, changes, asked, present=True)
    if kept is not None:
        say(
            "no rule reads what changed: the inferred graph is the last build's, and so is its store"
        )
        return kept, previous.snapshot / C.RULES_SLICE
    keyed = keyed_inferred(project, store, rules, changes, say, asked)
    if keyed is not None:
        return keyed
    return sliced_inferred(project, store, rules, previous, changes, say, asked)


def _whole(project: Project, inferred: Chunk) -> Store:
    """Every graph in an in-memory store (for what must be computed whole)."""
    store = working_store(project, lambda _msg: None)
    if inferred.nq:
        store.load(inferred.nq, format=RdfFormat.N_QUADS, lenient=True)
    return store


def _nothing() -> None:
    """Nothing to wait for."""


def _in_background(work: Callable[[], T]) -> Callable[[], T]:
    """Start work in a thread; return a function that waits for its result (or raises its error).

    pyoxigraph lets go of the GIL while it evaluates a query, and Python while it writes and
    hashes large buffers, so the coverage facts are computed and the files written while the
    shapes are checked (5-8 s of a 100,000-claim build). A daemon thread, so that a build that
    fails meanwhile can exit without waiting for it.
    """
    done: Future[T] = Future()

    def run() -> None:
        nonlocal work
        try:
            result = work()
        except BaseException as exc:  # handed to whoever waits for the result
            del work  # what it holds (a store) is let go of before anyone is told
            done.set_exception(exc)
        else:
            del work
            done.set_result(result)

    threading.Thread(target=run, name="dkg-background", daemon=True).start()
    return done.result


def _let_go(copying: Callable[[], StoreCopy | None] | None) -> None:
    """Wait for a store copied early, if any, to be done with its folder (the caller then lets go
    of it: the folder is about to be removed, or the store is not to be used)."""
    if copying is not None:
        with contextlib.suppress(Exception):
            copying()


def _views(
    store: Store,
    last: bytes | None = None,
    edit: Edit | None = None,
    whole: Callable[[], Store] | None = None,
) -> dict[str, bytes]:
    """What the reports would otherwise compute from the whole graph on every run, computed once
    from the build's store: the facts of the coverage matrix (graph.reports.coverage). After an
    edit, from the last snapshot's facts (last, written by this code) and the cells the edit can
    change (see graph.reports.coverage.edit_of). If they must be computed whole, whole, if given,
    loads a store to do it in (in memory)."""
    from graph.reports import coverage
    from graph.store import EmbeddedBackend

    backend = EmbeddedBackend.over(store)
    facts = None
    old = None
    # damaged (only the code's mark was looked for): computed again
    with contextlib.suppress(ValueError, KeyError, TypeError, IndexError, AttributeError):
        old = coverage.Facts.from_json(last) if last is not None and edit is not None else None
    if old is not None and edit is not None:
        facts = coverage.updated(old, backend, edit, coverage.LANGS)
    if facts is None:
        if whole is not None:
            del backend, store
            backend = EmbeddedBackend.over(whole())
        facts = coverage.facts(backend, coverage.LANGS)
    return {coverage.VIEW: facts.to_json()}


def _reused(
    project: Project, previous: Previous | None, shapes: bool, views: bool
) -> tuple[Chunk, str, dict[str, bytes]] | None:
    """The inferred graph, validation context and views of the previous snapshot, if this build
    would make the same (see graph.rebuild.reuse); None: make them."""
    if previous is None or not shapes:
        return None
    inferred = reuse(project, previous)
    if inferred is None:
        return None
    stored = _stored_views(previous.snapshot) if views else {}
    return (inferred, previous.validated, stored) if stored is not None else None


def _stored_views(snapshot: Path, whole: bool = True) -> dict[str, bytes] | None:
    """The views of a snapshot, if this code would write them the same; else None. whole: read
    them to make sure; else only look for the code's mark (for facts that are only updated, and
    read whole there: see _views)."""
    from graph.reports import coverage

    data = read_or_none(snapshot / coverage.VIEW)
    if data is None:
        return None
    current = coverage.is_current(data) if whole else coverage.written_here(data)
    return {coverage.VIEW: data} if current else None


def _keep_slice(rules_slice: bytes | Path | None, path: Path) -> None:
    """Keep what the rules read beside the new snapshot (see Compiled.slice): a cache, not
    synced (graph.rebuild.last_slice checks it), and not in the manifest."""
    if isinstance(rules_slice, bytes):
        path.write_bytes(rules_slice)
    elif isinstance(rules_slice, Path):
        with contextlib.suppress(OSError):  # there is none
            os.link(rules_slice, path)


def compile_project(root: Path, progress: Progress | None = None, shapes: bool = True) -> Compiled:
    """Load, check, compile, infer and validate; raise DataError listing every problem.

    Reads the build cache and the current snapshot of the default build folder if there are
    any, but never writes them: like a rebuild, it validates only the graphs that changed since
    that snapshot, and nothing if none did.

    After an edit, it reads what a rebuild reads (see _compile): a copy of the snapshot's store
    with the changed graphs replaced, made in a temporary folder outside the build folder (hard
    links where it can) and removed after. Loading the whole graph into memory instead took 4.5
    of the 4.8 s of a check after an edit at 100,000 claims.
    """
    out = default_out(root)
    cache_dir = out / CACHE_DIRNAME
    cache = Cache(cache_dir if cache_dir.is_dir() else None, writable=False)
    previous = previous_snapshot(out) if cache.folder is not None else None
    scratch: list[Path] = []  # the temporary folder, once made

    def copied(project: Project) -> Store | None:
        changed = changed_graphs(project, previous)
        if previous is None or not changed or not shapes:
            return None
        # if the folder cannot be made, or a build prunes the snapshot meanwhile: load the graph
        try:
            scratch.append(Path(tempfile.mkdtemp(prefix="dkg-check-")))
            copy = copy_store(scratch[0] / C.OUT_STORE, cache, previous)
            if copy is None:
                return None
            replace_graphs(copy.store, project, previous)
        except OSError:
            return None
        return copy.store

    try:
        with paused_gc():
            return _compile(root, cache, previous, progress, shapes, on_read=copied)
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)


# --- Writing -----------------------------------------------------------------------------------


def _input_digests(root: Path, digests: FileDigests) -> dict[str, str]:
    """The SHA-256 of every input file, by path under the project (for the manifest)."""
    out = {}
    for folder in (C.EXTRACT_DIRNAME, C.ONTOLOGY_DIRNAME):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in {".yaml", ".yml", ".txt", ".ttl", ".rq"}:
                out[path.relative_to(root).as_posix()] = digests(path)
    return out


def _write_outputs(
    project: Project,
    inferred: Chunk | Callable[[], Chunk],
    folder: Path,
    previous: Previous | None = None,
) -> tuple[dict[str, str], Pieces]:
    """Write TriG, Turtle, N-Quads and JSON-LD (graph.outputs); their SHA-256s and layout.

    inferred may be a function that waits for the inferred graph: the files are then written up
    to it (every document's graph comes first) while the rules run or are found not to need to."""
    from graph.outputs import write_outputs

    items = _items(project, inferred)
    return write_outputs(items, project, project.cache, folder, previous)


def _items(project: Project, inferred: Chunk | Callable[[], Chunk]) -> Iterator[Chunk | Unit]:
    """Every graph in output order; the inferred graph asked for (inferred()) when it is due."""
    if isinstance(inferred, Chunk):
        yield from _in_order(project, inferred)
        return
    key = f"<{C.INFERRED_GRAPH}>"
    waiting = True
    for item in project.graphs():
        if waiting and f"<{item.graph}>" > key:
            waiting = False
            yield inferred()
        yield item
    if waiting:
        yield inferred()


class _Guessed(Exception):
    """The files were begun on a guess that did not hold (see _early_files)."""


class _Stopped(Exception):
    """The files begun early are not needed after all."""


@dataclass
class _Later:
    """The project's graphs, once it is read (the files may ask before)."""

    project: Callable[[], Project]

    def chunk(self, item: Chunk | Unit) -> Chunk:
        return self.project().chunk(item)


def _early_files(
    known: dict[str, Unit],
    project: Callable[[], Project],
    inferred: Callable[[], Chunk],
    stopped: threading.Event,
    cache: Cache,
    folder: Path,
    previous: Previous,
) -> tuple[dict[str, str], Pieces]:
    """Write the files from before the project is read: first the last build's graphs, in its
    order, as long as they are documents whose files did not change (known), copied from its
    files; then, once the project is read, check that it begins with those very graphs and go on
    with it. If it does not (a registry edit changed them, say), begin again."""
    from graph.outputs import write_outputs

    guess: list[Unit] = []
    for graph in sorted(previous.graphs, key=lambda g: f"<{g}>"):
        unit = known.get(graph)
        if unit is None or unit.digest != previous.graphs[graph]:
            break
        guess.append(unit)

    def items() -> Iterator[Chunk | Unit]:
        yield from guess
        read = project()
        if stopped.is_set():
            raise _Stopped
        real = _items(read, inferred)
        for unit in guess:
            item = next(real, None)
            if item is None or (item.graph, item.digest) != (unit.graph, unit.digest):
                raise _Guessed
        yield from real

    try:
        return write_outputs(items(), _Later(project), cache, folder, previous)
    except _Guessed:
        return _write_outputs(project(), inferred, folder, previous)


def write_build(
    compiled: Compiled,
    out: Path,
    root: Path,
    progress: Progress | None = None,
    writer: StoreWriter | None = None,
    written: Callable[[], tuple[dict[str, str], Pieces]] | None = None,
    inputs_read: Callable[[], dict[str, str]] | None = None,
) -> Path:
    """Write a snapshot of the build and make it current; return the snapshot folder.

    writer, if given, is already filling the store of a temporary snapshot folder, and written,
    if given, waits for the files being written there and returns their digests; inputs_read,
    if given, waits for the digests of the input files.
    """
    say = progress or (lambda _msg: None)
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} exists and is not a folder")
    with build_lock(out, progress):
        graphs = {x.graph: x.digest for x in compiled.graphs() if x.graph and x.digest}
        snapshots = out / "snapshots"
        snapshots.mkdir(exist_ok=True)
        same = same_as_current(out, graphs)
        target = same or snapshots / "unwritten"
        tmp = writer.folder.parent if writer is not None else new_snapshot_folder(out)
        try:
            if same is None:
                if writer is None:
                    store = tmp / C.OUT_STORE
                    previous = compiled.previous
                    copied = (
                        copy_store(store, compiled.project.cache, previous) if previous else None
                    )
                    writer = StoreWriter(store, compiled.project, copied)
                    del copied
                say("writing TriG, Turtle, N-Quads and JSON-LD")
                files, pieces = (
                    written()
                    if written is not None
                    else _write_outputs(compiled.project, compiled.inferred, tmp, compiled.previous)
                )
                digest = files[C.OUT_NQUADS]
                target = snapshots / digest[:16]
                views = compiled.views  # waits for them (see _compile): they may read the store
                say("writing the embedded store")
                writer.finish(compiled.inferred)
                for name, data in sorted(views.items()):
                    write_synced(tmp / name, data)
                    files[name] = hashlib.sha256(data).hexdigest()
                _keep_slice(compiled.slice, tmp / C.RULES_SLICE)
                inputs = (
                    inputs_read() if inputs_read else _input_digests(root, compiled.project.digests)
                )
                manifest = {
                    "format": 1,
                    "digest": digest,
                    "stats": compiled.stats(),
                    "inputs": inputs,
                    "files": dict(sorted(files.items())),
                    "graphs": dict(sorted(graphs.items())),
                    "validated": compiled.validated,
                }
                # The manifest is written last: a snapshot without one is incomplete.
                write_synced(
                    tmp / C.OUT_MANIFEST,
                    (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
                )
                with no_readers(reader_lock(target)) as unread:
                    if not unread:  # a server reads this very graph, built before: bring it up
                        refresh_snapshot(target, compiled.views, inputs, compiled.validated)
                    else:
                        if target.exists():
                            shutil.rmtree(target)
                        os.rename(tmp, target)
                from graph.outputs import keep_layout

                keep_layout(compiled.project.cache, digest, target, pieces)
            else:
                inputs = (
                    inputs_read() if inputs_read else _input_digests(root, compiled.project.digests)
                )
                refresh_snapshot(same, compiled.views, inputs, compiled.validated)
        finally:
            if writer is not None:
                writer.abort()  # nothing left to stop unless something above failed
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        make_current(out, target)
    return target


def build(root: Path, out: Path, progress: Progress | None = None) -> tuple[Compiled, Path]:
    """Compile the project and write it; return what was built and where.

    Incremental: files that did not change since the last build in out are taken from its cache,
    and its store is copied and updated rather than loaded again; the result is the same.
    """
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} exists and is not a folder")
    with build_lock(out, progress), paused_gc():
        work = early_pruning(out)
        pruned = _in_background(work) if work is not None else lambda: None
        cache = Cache(out / CACHE_DIRNAME)
        previous = previous_snapshot(out)
        kept: Callable[[], None] = _nothing  # the inferred graph put in the cache (start_files)
        writer: StoreWriter | None = None
        written: Callable[[], tuple[dict[str, str], Pieces]] | None = None

        inferred_ready: Future[Chunk] = Future()
        project_ready: Future[Project] = Future()
        stopped = threading.Event()  # the files begun early are not needed
        inputs_read: Callable[[], dict[str, str]] | None = None
        tmp_folder: Path | None = None  # the new snapshot's, once made
        copying: Callable[[], StoreCopy | None] | None = None  # the store, copied early
        opened = threading.Event()  # the store copied early is open (or failed to be)
        if previous is not None:
            # The previous store is copied first, while the project is read: it takes 0.1 s
            # (hard links), and RocksDB syncs its files as it opens them, which would wait
            # behind the files' writes (0.3-0.6 s at 100,000 claims). Let go of if unused.
            tmp_folder = new_snapshot_folder(out)
            store_folder = tmp_folder / C.OUT_STORE

            def copy() -> StoreCopy | None:
                try:
                    return copy_store(store_folder, cache, previous, opened.set)
                finally:
                    opened.set()  # (if it failed: the error is reported by start_store)

            copying = _in_background(copy)

        def start_early(known: dict[str, Unit], same: bool) -> None:
            # The files are begun before the project is read, with what is likely to be as it
            # was (see _early_files), once the store is open; not if nothing is likely to change.
            nonlocal written
            if previous is None or same or tmp_folder is None:
                return
            folder = tmp_folder

            def files() -> tuple[dict[str, str], Pieces]:
                opened.wait()
                return _early_files(
                    known,
                    project_ready.result,
                    inferred_ready.result,
                    stopped,
                    cache,
                    folder,
                    previous,
                )

            written = _in_background(files)

        def start_store(project: Project) -> Store | None:
            # The store and the files need nothing the rules or the shapes compute but the
            # inferred graph: they are made beside them, the files up to the inferred graph at
            # once, and thrown away with the folder if the build fails. So are the digests of
            # the inputs, for the manifest.
            nonlocal writer, written, tmp_folder, inputs_read, copying
            inputs_read = _in_background(lambda: _input_digests(root, project.digests))
            if changed_graphs(project, previous) == set():  # it is likely the same build
                stopped.set()  # (before the files begun early, if any, learn of the project)
                project_ready.set_result(project)
                if written is not None:
                    with contextlib.suppress(Exception):
                        written()
                    written = None
                _let_go(copying)
                copying = None
                return None
            project_ready.set_result(project)
            folder = tmp_folder = tmp_folder or new_snapshot_folder(out)
            copied, copying = (copying() if copying is not None else None), None
            if written is None:
                written = _in_background(
                    lambda: _write_outputs(project, inferred_ready.result, folder, previous)
                )
            writer = StoreWriter(folder / C.OUT_STORE, project, copied)
            del copied
            return writer.store

        def start_files(project: Project, inferred: Chunk, stored: bool) -> None:
            nonlocal kept
            if writer is not None:
                inferred_ready.set_result(inferred)
                if writer.old is None or writer.old.digest != inferred.digest:  # (else it is)
                    if writer.process is not None:  # which reads it from the cache next
                        cache.put("graphs", inferred.digest, inferred)
                    else:  # in a thread: 0.2 s of a rebuild at 100,000 claims
                        kept = _in_background(
                            lambda: cache.put("graphs", inferred.digest, inferred)
                        )
                if stored:  # the store holds it already (see _on_disk)
                    writer.old = inferred
                writer.add_inferred(inferred)

        try:
            compiled = _compile(
                root,
                cache,
                previous,
                progress,
                on_read=start_store,
                views=True,
                on_inferred=start_files,
                on_known=start_early,
            )
            if writer is None:  # else start_files put it there
                cache.put("graphs", compiled.inferred.digest, compiled.inferred)
            snapshot = write_build(compiled, out, root, progress, writer, written, inputs_read)
            kept()
        finally:
            with contextlib.suppress(Exception):
                kept()  # (before the cache is pruned)
            for ready in (project_ready, inferred_ready):  # the build failed before them
                if not ready.done():
                    ready.set_exception(RunError("the build stopped"))
            if written is not None:
                with contextlib.suppress(Exception):
                    written()  # the folder is removed below: let the files be finished first
            if writer is not None:
                writer.abort()
            _let_go(copying)  # a store copied early and never used (the build failed)
            copying = None
            if tmp_folder is not None:  # (renamed away, if the build was made)
                shutil.rmtree(tmp_folder, ignore_errors=True)
            pruned()
        keep = compiled.project.cache_keys()
        keep["graphs"].add(compiled.inferred.digest)
        made = previous_snapshot(out)
        keep["layouts"] = {made.digest} if made is not None else set()
        compiled.project.digests.save()
        cache.prune(keep)
    return compiled, snapshot


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
    claims = counted(s["claims"], "claim") + (f" ({standings})" if standings else "")
    things = [
        counted(s["documents"], "source document"),
        counted(s["entities"], "entity", "entities"),
        claims,
        counted(s["quads"], "quad"),
    ]
    return [
        ", ".join(things),
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
    2 could not run. After `dkg build`, the shapes are checked again only on what changed since
    (the build folder is read, never written).
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
        answers = [c for c in compiled.check.coverage if c.kind == "answer"]
        width = max((len(f"{c.document} {c.section}") for c in answers), default=0)
        for cov in answers:
            bar = "#" * round(cov.ratio * 20)
            where = f"{cov.document} {cov.section}"
            click.echo(f"  {where:<{width}}  {bar:<20} {cov.ratio:4.0%}")
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
    files = [C.OUT_TRIG, C.OUT_TURTLE, C.OUT_NQUADS, C.OUT_JSONLD, C.OUT_STORE + "/"]
    click.echo(f"wrote {where}/: {', '.join([*files, *sorted(compiled.views)])}")
