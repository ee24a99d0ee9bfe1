"""Two checkouts of losslint on the same real trees, interleaved in one run: did a change make
the scan slower? `python bench/compare.py --base ../old PATH ...` (`--head` defaults to this
checkout).

Each tree is scanned cold (`--no-cache`), by the default jobs and by `--jobs 1`, alternating
base and head K times so that the machine's noise falls on both alike; the medians and the
ratio head/base are printed, with the number of findings of each (a speed change that comes
with different findings is an analysis change: score it with bench/ecosystem/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def scan(tree: Path, path: Path, jobs: list[str]) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "losslint", "check", str(path), "--no-cache", "--exit-zero",
                          "--format", "json", *jobs], env=env, capture_output=True, text=True, cwd="/")
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"losslint ({tree}) failed on {path}: {run.stderr[-500:]}")
    return elapsed, len(json.loads(run.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="real trees to scan")
    parser.add_argument("--base", type=Path, required=True, help="the losslint checkout to compare with")
    parser.add_argument("--head", type=Path, default=HERE, help="the losslint checkout measured (default: this one)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"nproc {os.cpu_count()}; base {args.base}; head {args.head}; medians of {args.repeat}")
    print(f"{'tree':<40} {'jobs':>6} {'base s':>8} {'head s':>8} {'head/base':>9} {'findings':>13}")
    for path in args.paths:
        for jobs in ([], ["--jobs", "1"]):
            times = {"base": [], "head": []}
            counts = {}
            for _ in range(args.repeat):
                for name, tree in (("base", args.base), ("head", args.head)):
                    elapsed, counts[name] = scan(tree, path, jobs)
                    times[name].append(elapsed)
            base, head = statistics.median(times["base"]), statistics.median(times["head"])
            print(f"{path.name[:40]:<40} {jobs[-1] if jobs else 'auto':>6} {base:>8.2f} {head:>8.2f} "
                  f"{head / base:>9.2f} {counts['base']:>6}->{counts['head']:<6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
