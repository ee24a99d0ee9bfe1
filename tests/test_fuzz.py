"""Property-based fuzzing, bounded for CI (bench/fuzz.py runs a long campaign).

Generated programs (hypothesmith) and token mutations of the fixture files must never make
`check_source` / `check_paths` raise, and a file's findings must not depend on which other
independent files are scanned with it, nor in what order.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losslint import api
from tests.fuzzing import RULE_FILES, check_never_raises, sources

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(sources())
def test_check_source_never_raises(source):
    check_never_raises(source)


def _per_file(report, names: dict[str, str]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for f in report.findings:
        out.setdefault(names[Path(f.path).name],
                       []).append((f.line, f.column, f.code, f.message, f.function))
    return out


_ALONE: dict[str, list[tuple]] = {}


def _alone(path: Path) -> list[tuple]:
    if path.name not in _ALONE:
        report = api.check_paths([str(path)], jobs=1, cache_dir=None)
        _ALONE[path.name] = [(f.line, f.column, f.code, f.message, f.function) for f in report.findings]
    return _ALONE[path.name]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.permutations(RULE_FILES).flatmap(
    lambda files: st.integers(2, len(files)).map(lambda n: files[:n])))
def test_a_files_findings_do_not_depend_on_the_other_files_or_their_order(files):
    folder = Path(tempfile.mkdtemp(prefix="losslint-fuzz-"))
    try:
        names = {}
        for position, path in enumerate(files):
            # The position in the name sets the scan order (files are scanned sorted).
            copy = f"m{position:02d}_{path.name}"
            shutil.copy(path, folder / copy)
            names[copy] = path.name
        report = api.check_paths([str(folder)], jobs=1, cache_dir=None)
        assert report.errors == []
        together = _per_file(report, names)
        for path in files:
            assert together.get(path.name, []) == _alone(path), path.name
    finally:
        shutil.rmtree(folder)
