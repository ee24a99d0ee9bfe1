"""Benchmark of the traced shape probe: `python bench/probe.py`.

Probes every loss the finder finds in fixtures/ (as `losslint check --probe=all fixtures`
does: the losses with a finding first, then the others, in one worker run) and splits the
wall time into TensorFlow start-up (per worker: Keras 3 and legacy Keras 2) and the cost per
probed function, against a baseline measured in the same run: the time of
`python -c "import tensorflow"`. Also reports the verdicts of each group, how many losses
were traced with shapes inferred from the model in their file, and what that inference costs.
Target: TensorFlow loaded once per mode, under 0.5 s added per probed function.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from losslint import probe  # noqa: E402
from losslint.api import scan_paths  # noqa: E402
from losslint.ftypes import Settings  # noqa: E402
from losslint.probe.pool import Pool  # noqa: E402
from losslint.probe.shapes import infer_shapes  # noqa: E402


def import_tensorflow_seconds(runs: int = 3) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    if not probe.tensorflow_available():
        print(f"the probe needs TensorFlow: {probe.INSTALL_HINT}")
        return 2
    baseline = import_tensorflow_seconds()

    start = time.perf_counter()
    scan = scan_paths([str(ROOT / "fixtures")], Settings())
    static = time.perf_counter() - start
    targets = list(dict.fromkeys(scan.targets[f] for f in scan.report.findings if f in scan.targets))

    start = time.perf_counter()
    inferred_modules = sum(bool(infer_shapes(scan.project, module)) for module in scan.project.modules)
    inference = time.perf_counter() - start

    start = time.perf_counter()
    with Pool(probe._roots(scan.project)) as pool:
        report, unflagged = probe.probe_check(scan, probe.ProbeOptions(), scope="all", pool=pool)
        stats = pool.stats
    total = time.perf_counter() - start
    flagged = {}
    for finding, probed_finding in zip(scan.report.findings, report.findings):  # same order
        if finding in scan.targets:
            flagged.setdefault(scan.targets[finding], probed_finding.probe)
    results = list(flagged.values()) + [loss.result for loss in unflagged]
    startup = sum(stats.startups)
    probed = len(stats.jobs)
    per_function = (total - startup) / probed if probed else 0.0

    def verdicts(group) -> str:
        counts = Counter(result.verdict for result in group)
        return ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none"

    from_model = sum("(shapes from the model:" in result.evidence for result in results)
    print(f"losses in fixtures/: {len(results)} ({len(targets)} with findings, {len(unflagged)} without; "
          f"{probed} run, {len(results) - probed} not runnable from their source)")
    print(f"verdicts, losses with findings:    {verdicts(flagged.values())}")
    print(f"verdicts, losses without findings: {verdicts(loss.result for loss in unflagged)}")
    print(f"traced with shapes from the model in their file: {from_model} "
          f"(inferred for {inferred_modules} of {len(scan.project.modules)} modules in {inference * 1000:.0f} ms)")
    print(f"baseline `python -c 'import tensorflow'`:   {baseline:6.2f} s")
    print(f"static scan (losslint check fixtures):     {static:6.2f} s")
    print(f"probe wall time:                           {total:6.2f} s")
    print(f"  TensorFlow start-up, {len(stats.startups)} worker(s):        {startup:6.2f} s "
          f"({startup / baseline:.2f}x the baseline; "
          + ", ".join(f"{s:.2f} s" for s in stats.startups) + ")")
    print(f"  per probed function (mean):              {per_function:6.3f} s "
          f"({per_function / baseline:.3f}x the baseline; slowest {max(stats.jobs, default=0):.3f} s)")
    print(f"  whole probe / baseline:                  {total / baseline:6.2f}x")
    target_met = per_function < 0.5 and len(stats.startups) <= 2
    print("target (TensorFlow loaded once per Keras mode, < 0.5 s per function): "
          + ("met" if target_met else "NOT met"))
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
