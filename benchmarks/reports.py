"""How long `dkg report ...` and the named queries take, from process start to exit.

    python benchmarks/reports.py                      # the real project, built into a temp folder
    python benchmarks/reports.py --project /tmp/corpus-20k --repeat 3   # a generated corpus

Builds the project once (into a temporary folder unless --build is given), then runs every report
and every query of examples/queries/ as a real `dkg` process, --repeat times each, and prints the
median wall time, its ratio to `dkg --help` (the bare start-up) and to the one-second budget the
reports must stay well under on the two real documents. Generate a large corpus with
benchmarks/generate.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DKG = [sys.executable, "-m", "graph"]
REPORTS = [
    ["coverage"],
    ["gaps"],
    ["show", "secfund"],
    ["money"],
    ["timeline"],
    ["commitments"],
    ["sources"],
]


def timed(args: list[str], env: dict[str, str], repeat: int) -> float:
    """Median seconds of running `dkg ARGS` to completion (output discarded)."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            [*DKG, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        runs.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"dkg {' '.join(args)} failed: {proc.stderr.strip()}")
    return statistics.median(runs)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--project", type=Path, default=ROOT, help="project folder (default: this one)"
    )
    parser.add_argument("--build", type=Path, default=None, help="an existing build folder to use")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median reported)")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dkg-bench-") as tmp:
        out = opts.build or Path(tmp) / "build"
        env = {**os.environ, "DKG_BUILD": str(out), "DKG_HOME": str(opts.project.resolve())}
        if opts.build is None:
            started = time.perf_counter()
            subprocess.run([*DKG, "build", "-q"], env=env, check=True)
            print(f"built {opts.project} in {time.perf_counter() - started:.1f} s")
        base = timed(["--help"], env, opts.repeat)
        print(f"{'command':<48} {'median':>9} {'x start-up':>11} {'x 1 s':>7}")
        print(f"{'dkg --help':<48} {base:>8.3f}s {1.0:>11.1f} {base:>7.2f}")
        commands = [["report", *r] for r in REPORTS]
        if opts.project.resolve() != ROOT and ["report", "show", "secfund"] in commands:
            commands.remove(["report", "show", "secfund"])
        commands += [
            ["query", str(p), "-f", "csv", "--timeout", "0"]
            for p in sorted((ROOT / "examples/queries").glob("*.rq"))
        ]
        for args in commands:
            t = timed(args, env, opts.repeat)
            name = f"query {Path(args[1]).stem}" if args[0] == "query" else " ".join(args)
            print(f"{'dkg ' + name:<48} {t:>8.3f}s {t / base:>11.1f} {t:>7.2f}")


if __name__ == "__main__":
    main()
