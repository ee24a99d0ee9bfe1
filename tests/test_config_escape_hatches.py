"""`keeps-batch` and `not-losses`: the configuration's escape hatches for false positives.

The settings are read and checked by losslint/config.py (tests/test_config.py); these tests
are about the engine honouring them, through `losslint.api.check_paths`. Each test first
shows the finding that the setting is there to silence, so it cannot pass vacuously.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from losslint.api import check_paths
from losslint.cli import main
from losslint.ftypes import Settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def found(settings: Settings | None = None) -> set[tuple[str, str, str | None]]:
    report = check_paths(["."], settings or Settings())
    return {(f.path, f.code, f.function) for f in report.findings}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "mypkg" / "__init__.py",
        "",
    )
    # A helper that the analysis sees collapse the batch; the user knows it is only ever
    # called on per-sample values (say it reduces a tensor it builds itself).
    write(
        tmp_path / "mypkg" / "ops.py",
        """\
        import tensorflow as tf

        def safe_mean(x):
            return tf.reduce_mean(x)
        """,
    )
    write(
        tmp_path / "mypkg" / "similarity.py",
        """\
        import tensorflow as tf

        def overlap(y_true, y_pred):
            return tf.reduce_sum(y_true * y_pred)
        """,
    )
    write(
        tmp_path / "train.py",
        """\
        import tensorflow as tf
        from mypkg.ops import safe_mean

        def smooth_l1(y_true, y_pred):
            return safe_mean(tf.abs(y_true - y_pred))

        def overlap(y_true, y_pred):
            return tf.reduce_sum(y_true * y_pred)

        def pixel_agreement(y_true, y_pred):
            return tf.reduce_mean(tf.cast(tf.equal(y_true, y_pred), tf.float32))

        model.compile(loss=smooth_l1)
        """,
    )
    return tmp_path


def test_the_project_has_the_findings_the_hatches_are_for(project):
    assert found() >= {
        ("mypkg/ops.py", "LL101", "smooth_l1"),
        ("train.py", "LL101", "pixel_agreement"),
        ("train.py", "LL101", "overlap"),
        ("mypkg/similarity.py", "LL101", "overlap"),
    }


# --- keeps-batch: calls to these helpers are element-wise -------------------------------------


def test_keeps_batch_by_simple_name(project):
    assert ("mypkg/ops.py", "LL101", "smooth_l1") not in found(Settings(keeps_batch=("safe_mean",)))


def test_keeps_batch_by_qualified_name(project):
    assert ("mypkg/ops.py", "LL101", "smooth_l1") not in found(
        Settings(keeps_batch=("mypkg.ops.safe_mean",))
    )


def test_keeps_batch_with_another_modules_name_changes_nothing(project):
    assert ("mypkg/ops.py", "LL101", "smooth_l1") in found(
        Settings(keeps_batch=("otherpkg.ops.safe_mean",))
    )


def test_keeps_batch_leaves_other_losses_alone(project):
    assert ("train.py", "LL101", "pixel_agreement") in found(Settings(keeps_batch=("safe_mean",)))


# --- not-losses: never losses, whatever their signature ----------------------------------------


def test_not_losses_by_simple_name(project):
    findings = found(Settings(not_losses=("pixel_agreement",)))
    assert ("train.py", "LL101", "pixel_agreement") not in findings
    assert ("mypkg/ops.py", "LL101", "smooth_l1") in findings


def test_not_losses_simple_name_matches_every_module(project):
    findings = found(Settings(not_losses=("overlap",)))
    assert not {f for f in findings if f[2] == "overlap"}


def test_not_losses_by_qualified_glob_is_limited_to_that_module(project):
    findings = found(Settings(not_losses=("mypkg.similarity.*",)))
    assert ("mypkg/similarity.py", "LL101", "overlap") not in findings
    assert ("train.py", "LL101", "overlap") in findings


# --- from a configuration file, end to end ---------------------------------------------------


def test_both_hatches_from_pyproject_through_the_command_line(project, capsys):
    write(
        project / "pyproject.toml",
        """\
        [tool.losslint]
        keeps-batch = ["mypkg.ops.safe_mean"]
        not-losses = ["pixel_agreement", "overlap"]
        """,
    )
    assert main(["check"]) == 0, capsys.readouterr().out
