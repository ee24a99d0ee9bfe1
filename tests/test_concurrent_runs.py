"""Nothing lost: concurrent `losslint check` runs over the same tree (sharing one cache
folder) print the same report, byte for byte, as a run alone. (`--fix` does not exist yet.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_concurrent_checks_of_one_tree_give_identical_output(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES, tree)
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "losslint", "check", "--isolated", "--format", "json",
               "--cache-dir", str(cache), "."]
    alone = subprocess.run([*command[:-3], "--no-cache", "."], cwd=tree, capture_output=True)
    assert alone.returncode == 1 and alone.stdout.count(b'"code"') > 20

    def run(_):
        done = subprocess.run(command, cwd=tree, capture_output=True)
        return done.returncode, done.stdout, done.stderr

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, range(6)))  # cold: all race to fill the cache
    with ThreadPoolExecutor(max_workers=6) as pool:
        results += list(pool.map(run, range(6)))  # warm: all read it
    for status, out, err in results:
        assert (status, out) == (alone.returncode, alone.stdout)
        assert err == alone.stderr
