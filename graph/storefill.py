"""Fill a snapshot's embedded store in a process of its own, while the build goes on.

Run by graph.build.StoreWriter as `python -m graph.storefill TASK`, where TASK is a pickle the
build wrote into its temporary snapshot folder: the store folder, the cache folder and the graphs
in order. Once the graphs are in, the process reads the digest of the inferred graph from its
standard input (the build sends it when the rules are done) and adds that graph from the cache.
(A build that starts from a previous snapshot copies its store instead, in the build itself.)
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import sys
from pathlib import Path

from pyoxigraph import RdfFormat, Store

from graph.cache import Cache, CachedChunks, Chunk, chunk_stream
from graph.errors import RunError


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
