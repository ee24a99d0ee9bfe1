"""A `--fix` killed at any point leaves every file either fully old or fully new.

The kill is placed deterministically: a wrapper kills the process (SIGKILL, no clean-up)
right before its k-th `os.replace`, that is after the k-th fixed file was written to its
temporary twin but before it took the original's place.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fixes"
FILES = 12

KILL_AT_REPLACE = """
import os, signal, sys
k = int(sys.argv[1])
seen = [0]
real_replace = os.replace
def replace(src, dst, **kwargs):
    if seen[0] == k:
        os.kill(os.getpid(), signal.SIGKILL)
    seen[0] += 1
    return real_replace(src, dst, **kwargs)
os.replace = replace
from losslint.cli import main
sys.exit(main(["check", "--fix", "--no-cache", "-q", "."]))
"""


@pytest.mark.parametrize("kill_at", [0, 1, 5, FILES - 1])
def test_a_fix_killed_between_files_leaves_each_file_old_or_new(tmp_path, kill_at):
    before = (FIXTURES / "mean_family.in.py").read_bytes()
    after = (FIXTURES / "mean_family.out.py").read_bytes()
    names = [f"losses_{n:02d}.py" for n in range(FILES)]
    for name in names:
        shutil.copy(FIXTURES / "mean_family.in.py", tmp_path / name)
    result = subprocess.run([sys.executable, "-c", KILL_AT_REPLACE, str(kill_at)], cwd=tmp_path,
                            capture_output=True)
    assert result.returncode == -9  # it really was killed mid-run
    states = [(tmp_path / name).read_bytes() for name in names]
    assert all(state in (before, after) for state in states)
    assert states.count(after) == kill_at  # exactly the files replaced before the kill
    # What a kill can leave behind is a hidden temporary twin, never a half-written file.
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name not in names)
    assert all(name.startswith(".losslint-fix-") and name.endswith(".tmp") for name in leftovers)
