"""A long fuzzing campaign: `python bench/fuzz.py [--examples N] [--seed S]`.

Feeds N sources (programs generated from Python's grammar by hypothesmith, and fixture files
with tokens deleted, duplicated or swapped) to `losslint.api.check_source` and checks what
tests/test_fuzz.py checks in CI with a few hundred: it never raises, and a file that does not
parse gets exactly one LL901/LL902 finding. Failures do not stop the campaign; each distinct
one is printed with the source that caused it (saved under bench/fuzz-failures/). Prints how
many examples were tried and how many failed; exits 1 if any did.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.fuzzing import check_never_raises, sources  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tried = [0]
    failures: dict[str, str] = {}
    out = ROOT / "bench" / "fuzz-failures"

    @seed(args.seed)
    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(sources())
    def campaign(source):
        tried[0] += 1
        try:
            check_never_raises(source)
        except Exception as exc:  # noqa: BLE001 - recorded, the campaign goes on
            key = f"{type(exc).__name__}: {str(exc)[:200]}"
            if key not in failures:
                failures[key] = source
                out.mkdir(exist_ok=True)
                (out / f"failure_{len(failures)}.py").write_text(source, encoding="utf-8", errors="surrogateescape")
                print(f"FAILURE {len(failures)}: {key}\n{traceback.format_exc(limit=-3)}", flush=True)
        if tried[0] % 500 == 0:
            print(f"... {tried[0]} examples, {len(failures)} failures", flush=True)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        campaign()
    print(f"examples tried: {tried[0]}")
    print(f"failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
