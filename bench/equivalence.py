"""Does the grouped, cached pipeline say exactly what one whole-project analysis says?
`python bench/equivalence.py PATH ...` (fixture folders, the ecosystem corpus's unpacked trees,
any fetched repository).

For each path: the findings and the losses of `check_paths` (groups, workers, cold and then
warm from a fresh cache) against those of `scan_paths` (every file in one project, the path
`--fix` and `--probe` take), as the JSON output writes them. Prints one line per path and the
first differences; exits 1 if any path differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from losslint import api, cache  # noqa: E402
from losslint.ftypes import Settings  # noqa: E402


def _findings(report) -> list[str]:
    return [json.dumps(cache.finding_to_json(f), sort_keys=True) for f in report.findings]


def _losses(report) -> list[str]:
    return [json.dumps(cache.loss_to_json(r), sort_keys=True) for r in report.losses]


def compare(path: Path, jobs: int | None) -> list[str]:
    """The differences between the pipeline's runs and the whole-project analysis."""
    settings = Settings()
    whole = api.scan_paths([str(path)], settings).report
    expected = (_findings(whole), _losses(whole))
    problems = []
    with tempfile.TemporaryDirectory() as cache_dir:
        for run in ("cold", "warm"):
            grouped = api.check_paths([str(path)], settings, cache_dir=cache_dir, jobs=jobs)
            for what, mine, theirs in (("findings", _findings(grouped), expected[0]),
                                       ("losses", _losses(grouped), expected[1])):
                if mine != theirs:
                    extra = sorted(set(mine) - set(theirs))[:3]
                    missing = sorted(set(theirs) - set(mine))[:3]
                    problems.append(f"{run} {what}: {len(mine)} vs {len(theirs)}; only grouped: {extra}; "
                                    f"only whole: {missing}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--jobs", type=int, default=None, help="workers for the grouped runs (default: automatic)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.paths:
        problems = compare(path, args.jobs)
        print(f"{'same' if not problems else 'DIFFERENT'}  {path}")
        for problem in problems:
            print(f"    {problem}")
        failed += bool(problems)
    print(f"{len(args.paths) - failed} of {len(args.paths)} paths give the same findings and losses")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
