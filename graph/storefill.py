"""Fill a snapshot's embedded store while the build goes on.

From the previous snapshot's store, copied and updated in the build's own process (StoreWriter,
copy_store); else anew, in a process of its own: StoreWriter runs `python -m graph.storefill
TASK`, where TASK is a pickle the build wrote into its temporary snapshot folder: the store
folder, the cache folder and the graphs in order. Once the graphs are in, that process reads the
digest of the inferred graph from its standard input (the build sends it when the rules are done)
and adds that graph from the cache.
"""

from __future__ import annotations

import contextlib
import pickle
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyoxigraph import RdfFormat, Store

from graph import constants as C
from graph.cache import Cache, CachedChunks, Chunk, chunk_stream
from graph.errors import RunError
from graph.rebuild import replace_graphs, replace_inferred

if TYPE_CHECKING:
    from graph.cache import Project
    from graph.rebuild import Previous


@dataclass
class StoreCopy:
    """The previous snapshot's store, copied into the new snapshot's folder and open, and the
    previous inferred graph (which it holds)."""

    store: Store
    previous: Previous
    inferred: Chunk


def copy_store(
    folder: Path, cache: Cache, previous: Previous, opened: Callable[[], None] = lambda: None
) -> StoreCopy | None:
    """Copy the previous snapshot's store to folder (hard links: RocksDB's files are immutable)
    and open it; None if the previous inferred graph is not in the cache to compare with (then
    the store is made anew, and folder is left as it was: absent)."""
    key = previous.graphs.get(C.INFERRED_GRAPH, "")
    if not cache.has("graphs", key):
        return None
    Store.read_only(str(previous.snapshot / C.OUT_STORE)).backup(str(folder))
    store = Store(str(folder))
    opened()
    old = cache.get("graphs", key)
    if not isinstance(old, Chunk) or old.digest != key:  # damaged since
        del store
        shutil.rmtree(folder)
        return None
    return StoreCopy(store, previous, old)


class StoreWriter:
    """Fills a snapshot's embedded store while the build goes on.

    From the previous snapshot, when there is one: its store is copied with hard links (RocksDB's
    files are immutable) and the changed graphs are replaced, here, in a fraction of a second; the
    build then reads that store (see graph.build._compile) and, if the rules infer another graph, has the
    inferred graph replaced by difference when it finishes.

    Else anew: loading RocksDB is a third of a large build and needs nothing the rules or shapes
    compute but the inferred graph, so a child process (graph.storefill) loads every other graph
    while the parent infers, validates and writes the files; the inferred graph is added last, by
    the child too, once the parent has put it in the cache and sent its digest. A process rather
    than a thread, so that a build that fails meanwhile can stop it at once; a fresh interpreter
    rather than a fork, because RocksDB's background threads do not survive a fork.
    """

    def __init__(self, folder: Path, project: Project, copied: StoreCopy | None):
        """copied: the previous snapshot's store, copied to folder (see copy_store); None: the
        store is made anew."""
        import pickle

        self.folder = folder
        self.project = project
        self.old: Chunk | None = copied.inferred if copied is not None else None
        self.store: Store | None = None  # the copy of the previous store, held here
        self.task = folder.parent / ".store-task.pkl"
        self.process: subprocess.Popen[bytes] | None = None
        self.sent = False
        if copied is not None:
            self.store = copied.store
            replace_graphs(self.store, project, copied.previous)
            return
        if project.cache.folder is None or not project.cache.writable:
            return  # the graphs are held in this process only: finish() loads them here
        self.task.write_bytes(
            pickle.dumps(
                (folder, project.cache.folder, project.graphs()),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "graph.storefill", str(self.task)], stdin=subprocess.PIPE
        )

    def add_inferred(self, inferred: Chunk) -> None:
        """Have the child add the inferred graph once it has loaded the others (it reads it from
        the cache, where it must already be)."""
        if self.process is None or self.sent:
            return
        self.sent = True
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # the child is gone: finish() reports its exit code
            self.process.stdin.write(inferred.digest.encode() + b"\n")
            self.process.stdin.close()

    def finish(self, inferred: Chunk) -> None:
        """Wait for the child to add every graph; RunError if it failed."""
        if self.store is not None:
            if self.old is not None and self.old.digest != inferred.digest:
                replace_inferred(self.store, self.old, inferred)
            self.store.flush()
            self.store = None  # closes it: the folder is renamed next
            return
        if self.process is None:
            store = Store(str(self.folder))
            items = [*self.project.graphs(), inferred]
            store.bulk_load(
                chunk_stream(self.project, items), format=RdfFormat.N_QUADS, lenient=True
            )
            store.flush()
            return
        if not self.sent:
            self.project.cache.put("graphs", inferred.digest, inferred)
            self.add_inferred(inferred)
        code = self.process.wait()
        self.task.unlink(missing_ok=True)
        if code != 0:
            raise RunError(
                f"could not write the embedded store in {self.folder} (exit code {code}); "
                "is the disk full?"
            )

    def abort(self) -> None:
        """Stop the child (the build failed); the caller removes the folder."""
        self.store = None
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the build dies, so a killed build leaves nothing
    writing into its temporary folder; elsewhere the process simply finishes."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def fill(task: Path) -> None:
    """Fill the store the task names from the cache: every graph, then the inferred one."""
    folder, cache_dir, items = pickle.loads(task.read_bytes())
    cache = Cache(cache_dir, writable=False)
    store = Store(str(folder))
    store.bulk_load(
        chunk_stream(CachedChunks(cache), items), format=RdfFormat.N_QUADS, lenient=True
    )
    key = sys.stdin.readline().strip()
    inferred = cache.get("graphs", key) if key else None
    if not isinstance(inferred, Chunk):
        raise RunError("the build sent no inferred graph, or it is not in the cache")
    if inferred.nq:
        store.bulk_load(inferred.nq, format=RdfFormat.N_QUADS, lenient=True)
    store.flush()


def main() -> None:
    """Run one task; exit 1 with a one-line message if it cannot be done."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle
    try:
        fill(Path(sys.argv[1]))
    except (OSError, RunError, pickle.UnpicklingError, ValueError) as exc:
        print(f"error: writing the embedded store: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
