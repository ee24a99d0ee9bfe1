"""The `losslint` pre-commit hook of .pre-commit-hooks.yaml, run by pre-commit itself.

pre-commit clones a hook repository at a commit and pip-installs it into an environment of
its own, so it only ever sees committed content. To test the working tree as it is, the test
copies it (tracked and untracked-but-not-ignored files) into a throwaway repository, commits
it there and points a throwaway project at that commit. The first run installs losslint and
its dependencies from the package index into PRE_COMMIT_HOME, a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BAD_LOSS = """\
import tensorflow as tf


def mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))
"""
GOOD_LOSS = """\
import tensorflow as tf


def mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
"""

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "losslint tests",
    "GIT_AUTHOR_EMAIL": "tests@losslint.invalid",
    "GIT_COMMITTER_NAME": "losslint tests",
    "GIT_COMMITTER_EMAIL": "tests@losslint.invalid",
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_IDENTITY}
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def snapshot_of_this_checkout(target: Path) -> str:
    """Copy the working tree into a new repository at `target`, commit, return the commit."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree but still in the index
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    git("init", "-q", cwd=target)
    git("add", "-A", cwd=target)
    git("commit", "-q", "-m", "snapshot", cwd=target)
    return git("rev-parse", "HEAD", cwd=target)


@pytest.fixture(scope="module")
def hooked_project(tmp_path_factory):
    """A git project whose .pre-commit-config.yaml uses the losslint hook of this checkout."""
    source = tmp_path_factory.mktemp("losslint-source")
    rev = snapshot_of_this_checkout(source)
    project = tmp_path_factory.mktemp("project")
    git("init", "-q", cwd=project)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n"
        f"  - repo: {source.as_posix()}\n"
        f"    rev: {rev}\n"
        f"    hooks:\n"
        f"      - id: losslint\n",
        encoding="utf-8",
    )
    (project / "losslint.toml").write_text('exclude = ["legacy/"]\n', encoding="utf-8")
    home = tmp_path_factory.mktemp("pre-commit-home")
    return project, home


def pre_commit(project: Path, home: Path, *files: str) -> subprocess.CompletedProcess:
    git("add", "-A", cwd=project)
    env = {**os.environ, **GIT_IDENTITY, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("LOSSLINT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--color", "never", "--files", *files],
        cwd=project,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_hook_fails_on_a_staged_bad_loss(hooked_project):
    project, home = hooked_project
    (project / "bad_loss.py").write_text(BAD_LOSS, encoding="utf-8")
    result = pre_commit(project, home, "bad_loss.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad_loss.py:5:12: LL101 " in result.stdout
    assert "Failed" in result.stdout


def test_the_hook_passes_on_a_staged_good_loss(hooked_project):
    project, home = hooked_project
    (project / "good_loss.py").write_text(GOOD_LOSS, encoding="utf-8")
    result = pre_commit(project, home, "good_loss.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_the_hook_skips_files_the_configuration_excludes(hooked_project):
    project, home = hooked_project
    (project / "legacy").mkdir(exist_ok=True)
    (project / "legacy" / "old_loss.py").write_text(BAD_LOSS, encoding="utf-8")
    result = pre_commit(project, home, "legacy/old_loss.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LL101" not in result.stdout
