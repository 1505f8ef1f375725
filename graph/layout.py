"""Where builds live (the build folder and its current snapshot), and writing files whole.

Kept apart from graph.build so that everything that only reads a build (queries, reports, the
endpoint) finds it without importing the compiler and its libraries (pydantic, rdflib).

Both sides of the folder's locks are here: a reader holds a snapshot (held_snapshot), a build
holds the folder (build_lock) and removes only the snapshots no reader holds (prune). A build
writes each snapshot into a temporary folder and makes it current in one rename (make_current).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from graph import constants as C
from graph.errors import RunError, display_path


def default_out(root: Path) -> Path:
    """The build folder: $DKG_BUILD, else build/ in the project."""
    env = os.environ.get("DKG_BUILD")
    return Path(env) if env else root / C.BUILD_DIRNAME


def current_snapshot(out: Path) -> Path:
    """Return the current build's snapshot folder, or raise RunError if there is none."""
    link = out / C.CURRENT_LINK
    target = link.resolve()
    if not (target / C.OUT_MANIFEST).is_file():
        raise RunError(f"no build in {display_path(out)}/; run `dkg build` first")
    return target


def reader_lock(snapshot: Path) -> Path:
    """The file a long-lived reader (dkg serve) holds a shared lock on while it reads a snapshot;
    a build does not remove a snapshot whose file is locked (prune)."""
    return snapshot.parent / f".{snapshot.name}.readers"


@contextlib.contextmanager
def held_snapshot(out: Path) -> Iterator[Path]:
    """The current snapshot of out, kept whole while the block runs, however many builds meanwhile
    make newer ones. Where the lock cannot be made (a build folder one may only read), the
    snapshot is read without it."""
    for _ in range(10):  # a build may remove the snapshot between finding it and locking it
        snapshot = current_snapshot(out)
        try:
            fh = reader_lock(snapshot).open("a")
        except OSError:
            yield snapshot
            return
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            if (snapshot / C.OUT_MANIFEST).is_file():
                yield snapshot
                return
    raise RunError(f"the builds in {display_path(out)} change too fast to serve one; try again")


def make_folder(folder: Path, target: Path | None = None) -> None:
    """Make folder and its parents, for writing target (default: the folder itself) into; RunError
    naming what is in the way (a file where a folder should be, no permission) if it cannot."""
    what = display_path(target or folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder
        )
        raise RunError(
            f"cannot write {what}: {display_path(blocker)} is a file, not a folder; "
            "choose another path"
        ) from None
    except OSError as exc:
        raise RunError(f"cannot write {what}: {exc.strerror or exc}; choose another path") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then one rename. Makes the
    folders it needs; RunError naming the path if it cannot (a file in the way, no permission, a
    full disk), and then nothing is left behind."""
    if path.is_dir():
        raise RunError(f"{display_path(path)} is a folder; give a file name")
    make_folder(path.parent, path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RunError(
            f"cannot write {display_path(path)}: {exc.strerror or exc}; choose another path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RunError(f"cannot write {display_path(path)}: {exc.strerror or exc}") from None
        raise


# --- The build's side: one build at a time, new snapshots, the switch and the pruning ------------


def write_synced(path: Path, data: bytes) -> None:
    """Write a file and wait until it is on disk (a snapshot's files are renamed into place next)."""
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


_HELD: set[Path] = set()  # build folders this process holds the lock of


@contextlib.contextmanager
def build_lock(out: Path, progress: Callable[[str], None] | None = None) -> Iterator[None]:
    """Serialise builds into one output folder: a second build waits for the first."""
    make_folder(out)
    key = out.resolve()
    if key in _HELD:  # build() holds it around compiling and writing
        yield
        return
    with (out / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                progress("another build is writing to this folder; waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)


def same_as_current(out: Path, graphs: dict[str, str]) -> Path | None:
    """The current snapshot, if it holds exactly these graphs (then there is nothing to write)."""
    try:
        snap = (out / C.CURRENT_LINK).resolve(strict=True)
        manifest = json.loads((snap / C.OUT_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return (
        snap
        if manifest.get("graphs") == graphs and snap.parent == out.resolve() / "snapshots"
        else None
    )


def new_snapshot_folder(out: Path) -> Path:
    """A new temporary snapshot folder in out, as readable as any file the build writes."""
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
    umask = os.umask(0)  # mkdtemp makes the folder private (0700)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def refresh_snapshot(
    snapshot: Path, views: dict[str, bytes], inputs: dict[str, str], validated: str
) -> None:
    """Bring a snapshot that holds the same graphs up to date with this build: the views it lacks
    or has from other code, and in its manifest the input digests (an edit that changes no graph,
    such as a comment, still changes them) and what the validation depended on (new code or
    shapes validate the same graphs again). Views and manifest are derived from the graphs and
    the inputs only, so replacing them (each file in one rename, the manifest last) leaves the
    snapshot whole at every moment."""
    manifest = json.loads((snapshot / C.OUT_MANIFEST).read_text())
    stale = {name: data for name, data in views.items() if read_or_none(snapshot / name) != data}
    if not stale and manifest.get("inputs") == inputs and manifest.get("validated") == validated:
        return
    for name, data in sorted(stale.items()):
        replace_synced(snapshot / name, data)
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
    manifest["inputs"] = inputs
    manifest["validated"] = validated
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    replace_synced(snapshot / C.OUT_MANIFEST, text.encode())


def read_or_none(path: Path) -> bytes | None:
    """The bytes of a file; None if there is none."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def replace_synced(path: Path, data: bytes) -> None:
    """Replace a file in one rename, its new bytes on disk first."""
    part = path.with_name(f".{path.name}.{os.getpid()}")
    write_synced(part, data)
    os.replace(part, path)


def _replaced(out: Path) -> set[str]:
    """The snapshot the last build replaced (kept one build longer, for readers that opened it)."""
    try:
        return {(out / ".previous").read_text().strip()}
    except OSError:
        return set()


def make_current(out: Path, snapshot: Path) -> None:
    """Make snapshot the current one in one rename of the `current` link; then remove the
    snapshots no longer needed (see prune), and note which one this replaced."""
    link = out / C.CURRENT_LINK
    tmp_link = out / f".current-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(Path("snapshots") / snapshot.name, tmp_link)
    os.replace(tmp_link, link)
    prune(out, keep={snapshot.name, *_replaced(out)})
    write_synced(out / ".previous", snapshot.name.encode())


def prune(out: Path, keep: set[str]) -> None:
    """Remove the snapshots but those in keep and those a reader holds (graph.layout.held_snapshot),
    and the reader locks of snapshots that are gone."""
    for old in sorted((out / "snapshots").iterdir()):
        if old.name.startswith("."):  # a reader lock
            if not (old.parent / old.name[1:].removesuffix(".readers")).exists():
                with no_readers(old):
                    pass
        elif old.name not in keep:
            with no_readers(reader_lock(old)) as unread:
                if unread:
                    shutil.rmtree(old, ignore_errors=True)
    for stale in out.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    # under the lock, any other temporary link belongs to a build that was killed mid-switch
    for link in out.glob(".current-*"):
        link.unlink(missing_ok=True)


def early_pruning(out: Path) -> Callable[[], None] | None:
    """Start removing, in a thread, what the end of this build would remove anyway: the snapshots
    but the current one (and the one the last build replaced, if it is still the current one's
    predecessor) that no reader holds, and the temporary folders of killed builds (listed now,
    before this build makes its own). Returns that work, to be run in a thread, or None if there
    is nothing to remove. Removing a snapshot of 100,000 claims takes 0.3 s, which a rebuild no
    longer waits for at its end."""
    keep = set(_replaced(out))
    with contextlib.suppress(OSError):
        keep.add((out / C.CURRENT_LINK).resolve(strict=True).name)
    folder = out / "snapshots"
    names = sorted(folder.iterdir()) if folder.is_dir() else []
    old = [p for p in names if not p.name.startswith(".") and p.name not in keep]
    stale = list(out.glob(".tmp-*"))

    def work() -> None:
        for snapshot in old:
            with no_readers(reader_lock(snapshot)) as unread:
                if unread:
                    shutil.rmtree(snapshot, ignore_errors=True)
        for tmp in stale:
            shutil.rmtree(tmp, ignore_errors=True)

    return work if old or stale else None


@contextlib.contextmanager
def no_readers(lock: Path) -> Iterator[bool]:
    """Whether no reader holds this reader lock. If none does, none can start while the block runs
    (it holds the lock exclusively; a reader arriving waits, then finds its snapshot gone and
    looks again), and the lock file is removed after it."""
    try:
        fh = lock.open("a")
    except OSError:  # no lock can be made here, so no reader holds one
        yield True
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
        lock.unlink(missing_ok=True)
