"""Fill a snapshot's embedded store in a process of its own, while the build goes on.

Run by graph.build.StoreWriter as `python -m graph.storefill TASK`, where TASK is a pickle the
build wrote into its temporary snapshot folder: the store folder, the cache folder, the graphs in
order, the previous snapshot's store (or None) and the graphs that changed since it.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import sys
from pathlib import Path

from pyoxigraph import RdfFormat, Store

from graph.cache import Cache, CachedChunks, chunk_stream, replace_graphs
from graph.errors import RunError


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the build dies, so a killed build leaves nothing
    writing into its temporary folder; elsewhere the process simply finishes."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def fill(task: Path) -> None:
    """Fill the store the task names: from the cache, or from a copy of the previous store."""
    folder, cache_dir, items, previous, changed = pickle.loads(task.read_bytes())
    source = CachedChunks(Cache(cache_dir, writable=False))
    if previous is not None:
        Store.read_only(str(previous)).backup(str(folder))
        store = Store(str(folder))
        replace_graphs(store, source, [x for x in items if x.graph in changed], changed)
    else:
        store = Store(str(folder))
        store.bulk_load(chunk_stream(source, items), format=RdfFormat.N_QUADS, lenient=True)
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
