"""Load: many clients at once against a real `dkg serve` on 127.0.0.1, over the real project.

Sixteen client threads (DKG_LOAD_CLIENTS) send the named queries of examples/queries/, mixed at
random, for 20 seconds (DKG_LOAD_SECONDS=60 for the full minute). Every answer must be a 200 with
exactly the rows a single client got for the same query, and the memory of the server (its own
process and its query workers) must stay flat: after warming up, the resident size may grow by at
most 15% or 24 MB, whichever is larger. Throughput and latency percentiles are printed.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_injection_serve import Server

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.server]

SECONDS = float(os.environ.get("DKG_LOAD_SECONDS", "20"))
CLIENTS = int(os.environ.get("DKG_LOAD_CLIENTS", "16"))
GROWTH, SLACK = 0.15, 24 << 20  # allowed growth of the server's memory after warming up


def named_queries() -> dict[str, str]:
    """The named queries, with their default parameters."""
    return {
        p.stem: p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "examples/queries").glob("*.rq"))
    }


def canonical(body: bytes) -> list[tuple[Any, ...]]:
    """The rows of a JSON result as a sorted list: the same answer whatever the row order."""
    data = json.loads(body)
    if "boolean" in data:
        return [("boolean", data["boolean"])]
    names = data["head"]["vars"]
    rows = [
        tuple(tuple(sorted(b[n].items())) if n in b else None for n in names)
        for b in data["results"]["bindings"]
    ]
    return sorted(rows, key=repr)


def rss(pid: int) -> int:
    """Resident bytes of a process and all its children (the query workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid or int(fields[1]) == pid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue  # a process that ended while we looked
    return total


@pytest.fixture(scope="module")
def server(built: Path) -> Iterator[Server]:
    """The real project's build, served with the default settings."""
    s = Server(ROOT, built)
    yield s
    s.stop()


def test_many_clients_get_the_answers_one_client_gets(
    server: Server, capsys: pytest.CaptureFixture[str], tally: Counter[str]
) -> None:
    queries = named_queries()
    assert len(queries) >= 5
    expected = {}
    for name, text in queries.items():  # one client, one at a time: the reference answers
        status, body = server.sparql(text)
        assert status == 200, (name, body[:300])
        expected[name] = canonical(body)
    assert any(expected.values())

    latencies: list[float] = []
    errors: list[str] = []
    memory: list[tuple[float, int]] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + SECONDS

    def client(n: int) -> None:
        rng = random.Random(n)
        names = sorted(queries)
        while time.monotonic() < deadline:
            name = rng.choice(names)
            began = time.monotonic()
            try:
                status, body = server.sparql(queries[name])
                took = time.monotonic() - began
                problem = (
                    None
                    if status == 200 and canonical(body) == expected[name]
                    else f"{name}: {status} {body[:200]!r}"
                )
            except OSError as exc:
                took, problem = time.monotonic() - began, f"{name}: {exc!r}"
            with lock:
                latencies.append(took)
                if problem:
                    errors.append(problem)

    def sampler() -> None:
        while time.monotonic() < deadline:
            memory.append((time.monotonic() - start, rss(server.proc.pid)))
            time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 120)
    elapsed = time.monotonic() - start

    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p / 100 * len(ms)))]

    # warm: from a quarter of the run on; flat: the last quarter against the second
    warm = [m for t, m in memory if SECONDS * 0.25 <= t < SECONDS * 0.5]
    late = [m for t, m in memory if t >= SECONDS * 0.75]
    base, end = statistics.median(warm), statistics.median(late)
    with capsys.disabled():
        print(
            f"\nload: {len(ms)} queries from {CLIENTS} clients in {elapsed:.1f} s = {len(ms) / elapsed:.1f}/s;"
            f" latency ms p50 {pct(50):.1f}, p90 {pct(90):.1f}, p99 {pct(99):.1f}, max {ms[-1]:.1f};"
            f" {len(errors)} errors; server memory {base / 2**20:.0f} -> {end / 2**20:.0f} MB"
        )
    assert errors == [], errors[:5]
    assert len(ms) >= CLIENTS * 2
    assert end <= max(base * (1 + GROWTH), base + SLACK), (base, end, memory)
    tally[
        f"queries answered by dkg serve under load ({CLIENTS} clients), all as one client got them"
    ] += len(ms)
