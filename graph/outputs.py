"""Write a snapshot's four merged files: N-Quads, TriG, Turtle (every graph merged) and JSON-LD.

Each file is its header and the piece of every named graph, in graph order, so a full build and
an incremental one write the same bytes from the same pieces. After an edit, all but the edited
graphs are as they were: their pieces are copied from the previous snapshot's files (where each
graph is in them is kept in the cache, as a Layout) instead of being read from the cache one by
one and converted again (at 100,000 claims, 675 MB of 680).

Each file is written and hashed by a thread of its own (Python lets go of the GIL while it writes
and hashes large buffers), asks the disk to start on what it wrote as it goes, and is made durable
(fsync) as soon as it is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from graph import constants as C
from graph.cache import (
    Cache,
    Chunk,
    ChunkSource,
    Layout,
    Unit,
    code_salt,
    headers,
    sha,
    stamp,
)
from graph.cache import turtle as turtle_of
from graph.errors import RunError
from graph.rebuild import Previous

FILES = (C.OUT_NQUADS, C.OUT_TRIG, C.OUT_TURTLE, C.OUT_JSONLD)
Pieces = dict[str, dict[str, tuple[str, int, int]]]  # file -> graph -> (digest, offset, length)
_BATCH = 4 << 20  # bytes handed to a file's thread at a time
_WRITEBACK = 32 << 20  # bytes written after which the disk is asked to start on them


def write_outputs(
    items: Iterable[Chunk | Unit],
    source: ChunkSource,
    cache: Cache,
    folder: Path,
    previous: Previous | None = None,
) -> tuple[dict[str, str], Pieces]:
    """Write the four files of these graphs (in output order) into folder; return their SHA-256s
    and where each graph is in them (for keep_layout). The graphs that the previous snapshot's
    files hold as they are now are copied from there (see _old_files)."""
    trig_head, ttl_head = headers()
    heads = {C.OUT_TRIG: trig_head, C.OUT_TURTLE: ttl_head, C.OUT_JSONLD: b"["}
    with _old_files(cache, previous) as old:
        files = {
            name: _File(folder / name, old.get(name), b"," if name == C.OUT_JSONLD else b"")
            for name in FILES
        }
        try:
            for name, head in heads.items():
                files[name].add_bytes(head)
            for item in items:
                if not item.quads:
                    continue
                graph, digest = item.graph or "", item.digest or ""
                chunk: Chunk | None = None  # read from the cache once, if a file needs it
                for name, file in files.items():
                    if not file.copy(graph, digest):
                        chunk = chunk or source.chunk(item)
                        file.add(graph, digest, _piece(chunk, name))
            files[C.OUT_JSONLD].add_bytes(b"]")
            for file in files.values():  # every file is complete before any is waited for
                file.end()
            sums = {name: file.finish() for name, file in files.items()}
        finally:
            for file in files.values():
                file.close()
    return sums, {name: file.pieces for name, file in files.items()}


def keep_layout(cache: Cache, digest: str, snapshot: Path, pieces: Pieces) -> None:
    """Keep where each graph is in a snapshot's merged files (as write_outputs said), with the
    files' stamps as they are in the snapshot, for the next build to copy from."""
    files = {}
    for name, where in pieces.items():
        with contextlib.suppress(OSError):
            files[name] = (stamp(snapshot / name), where)
    cache.put("layouts", digest, Layout(_salt(), files))


def _salt() -> str:
    """What decides the bytes of a file from its pieces: the code that made the pieces and this."""
    return sha(code_salt(), Path(__file__).read_bytes())


def _piece(chunk: Chunk, name: str) -> bytes:
    """A graph's piece of one merged file."""
    if name == C.OUT_NQUADS:
        return chunk.nq
    if name == C.OUT_TRIG:
        return chunk.trig
    if name == C.OUT_TURTLE:
        return turtle_of(chunk.trig)
    return chunk.jsonld


@dataclass
class _Old:
    """A merged file of the previous snapshot, open, and where its graphs are."""

    fd: int
    pieces: dict[str, tuple[str, int, int]]  # graph -> (digest, offset, length)

    def find(self, graph: str, digest: str) -> tuple[int, int] | None:
        """Where this graph is, in this version (digest), if the file holds it."""
        found = self.pieces.get(graph)
        return (found[1], found[2]) if found is not None and found[0] == digest else None


@contextlib.contextmanager
def _old_files(cache: Cache, previous: Previous | None) -> Iterator[dict[str, _Old]]:
    """The merged files of the previous snapshot that can be copied from, open: those its Layout
    describes, written by this code, not changed since (the same stamp)."""
    out: dict[str, _Old] = {}
    layout = cache.get("layouts", previous.digest) if previous and previous.digest else None
    try:
        if isinstance(layout, Layout) and layout.salt == _salt() and previous is not None:
            for name, (stamped, pieces) in layout.files.items():
                with contextlib.suppress(OSError):
                    fd = os.open(previous.snapshot / name, os.O_RDONLY)
                    if stamp(fd) == stamped:
                        out[name] = _Old(fd, pieces)
                    else:
                        os.close(fd)
        yield out
    finally:
        for old in out.values():
            os.close(old.fd)


@dataclass
class _File:
    """One merged file as it is assembled: graphs are added in order, each copied from the old
    file (consecutive ones in one range, separator included) or given as bytes; what is
    assembled goes in batches to a thread that writes and hashes it (_Writer)."""

    path: Path
    old: _Old | None
    separator: bytes  # between two graphs' pieces
    size: int = 0
    pieces: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    _pending: list[bytes] = field(default_factory=list)
    _pending_size: int = 0
    _run: tuple[int, int] | None = None  # a range of the old file to copy: (offset, end)
    _graphs: int = 0
    _writer: _Writer | None = None

    def __post_init__(self) -> None:
        self._writer = _Writer(self.path)

    def add_bytes(self, data: bytes) -> None:
        self._copy()
        self._pending.append(data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= _BATCH:
            self._send()

    def add(self, graph: str, digest: str, data: bytes) -> None:
        """Add a graph's piece."""
        if self._graphs:
            self.add_bytes(self.separator)
        self._graphs += 1
        self.pieces[graph] = (digest, self.size, len(data))
        self.add_bytes(data)

    def copy(self, graph: str, digest: str) -> bool:
        """Add a graph's piece from the old file, if it holds it in this version (digest)."""
        found = self.old.find(graph, digest) if self.old is not None else None
        if found is None:
            return False
        sep = self.separator if self._graphs else b""
        self._graphs += 1
        offset, length = found
        if self._run is not None and self._run[1] + len(sep) == offset:
            self._run = (self._run[0], offset + length)  # the separator between is in the range
            self.size += len(sep)
        else:
            if sep:
                self.add_bytes(sep)
            self._copy()
            self._send()
            self._run = (offset, offset + length)
        self.pieces[graph] = (digest, self.size, length)
        self.size += length
        if self._run[1] - self._run[0] >= _WRITEBACK:
            self._copy()  # the writer starts on it while the rest is found (or waited for)
        return True

    def _copy(self) -> None:
        """Hand the range of the old file being copied to the writer, which reads it itself: a
        range can be a hundred megabytes, and the four files are assembled by one thread."""
        if self._run is None:
            return
        assert self.old is not None and self._writer is not None
        self._send()
        start, end = self._run
        self._run = None
        self._writer.put(_Range(self.old.fd, start, end - start))

    def _send(self) -> None:
        if self._pending:
            assert self._writer is not None
            self._writer.put(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def end(self) -> None:
        """Hand the writer what is left: the file is complete (see finish)."""
        self._copy()
        self._send()
        assert self._writer is not None
        self._writer.end()

    def finish(self) -> str:
        """Wait until the file is written and durable; its SHA-256."""
        self.end()
        assert self._writer is not None
        digest = self._writer.finish()
        if self._writer.size != self.size:
            raise RunError(f"{self.path.name}: wrote {self._writer.size} bytes of {self.size}")
        return digest

    def close(self) -> None:
        """Stop the writer if it is still running (the file is not finished: not made durable)."""
        if self._writer is not None and self._writer.thread.is_alive():
            self._writer.abort()


_END = None  # what tells a _Writer that its file is complete


@dataclass(frozen=True)
class _Range:
    """A range of an old file, for a _Writer to copy."""

    fd: int
    offset: int
    length: int


class _Writer:
    """A file written and hashed in a thread of its own, from the batches put to it."""

    def __init__(self, path: Path):
        self.path = path
        self.queue: queue.Queue[bytes | _Range | None] = queue.Queue(maxsize=16)
        self.sha = hashlib.sha256()
        self.size = 0
        self._started = 0  # where the disk was last asked to start writing
        self.error: BaseException | None = None
        self.aborted = False
        self.ended = False
        self.thread = threading.Thread(target=self._run, name=f"dkg-{path.name}", daemon=True)
        self.thread.start()

    def put(self, data: bytes | _Range) -> None:
        self.queue.put(data)

    def _run(self) -> None:
        try:
            with self.path.open("wb", buffering=0) as fh:
                while (data := self.queue.get()) is not _END:
                    if isinstance(data, _Range):
                        self._copy(fh, data)
                    else:
                        self._write(fh, memoryview(data))
                if not self.aborted:
                    os.fsync(fh.fileno())
        except BaseException as exc:  # handed to finish(); what is still put is let go
            self.error = exc
            while self.queue.get() is not _END:
                pass

    def _copy(self, fh: BinaryIO, span: _Range) -> None:
        """Copy a range of an old file, in batches read into one buffer (a new one for each
        would cost the kernel a page fault per page)."""
        buffer = bytearray(min(_BATCH, span.length))
        offset, end = span.offset, span.offset + span.length
        while offset < end and not self.aborted:
            view = memoryview(buffer)[: min(len(buffer), end - offset)]
            read = os.preadv(span.fd, [view], offset)
            if not read:
                raise RunError("the last build's files changed while this one read them")
            self._write(fh, view[:read])
            offset += read

    def _write(self, fh: BinaryIO, data: memoryview) -> None:
        self.sha.update(data)
        done = 0
        while done < len(data):  # a raw file may write part of what it is given
            done += fh.write(data[done:]) or 0
        self.size += len(data)
        if self.size - self._started >= _WRITEBACK:
            _write_back(fh.fileno(), self._started, self.size - self._started)
            self._started = self.size

    def abort(self) -> None:
        """Stop at once: what is written is neither finished nor made durable."""
        self.aborted = True
        with contextlib.suppress(queue.Empty):
            while True:  # make room for the end, whatever is still waiting
                self.queue.get_nowait()
        self.queue.put(_END)
        self.thread.join()

    def end(self) -> None:
        """Tell the thread that the file is complete."""
        if not self.ended:
            self.ended = True
            self.queue.put(_END)

    def finish(self) -> str:
        """Wait until the file is written and durable; its SHA-256. Raises what went wrong."""
        self.end()
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.sha.hexdigest()


def _write_back(fd: int, offset: int, length: int) -> None:
    """Ask Linux to start writing a range of a file to disk, without waiting (sync_file_range
    with SYNC_FILE_RANGE_WRITE): the fsync at the end then waits for the last part only, where
    otherwise the disk would only start when it is called (this machine keeps up to 2.4 GB
    dirty). Nothing elsewhere: the fsync does it all."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, 2)


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


_SYNC_FILE_RANGE = _sync_file_range() if sys.platform.startswith("linux") else None
