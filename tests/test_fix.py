"""`losslint check --fix / --diff / --unsafe-fixes` (losslint/fix.py).

fixtures/fixes/NAME.in.py is fixed in a temporary folder and compared byte for byte with
NAME.out.py (mean_family and loss_objects with safe fixes only, sum_unsafe with
--unsafe-fixes). A TensorFlow run checks that a safe fix keeps the loss's value on average.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from losslint.cli import main
from tests.tf_compare import compare

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "fixes"
PAIRS = {"mean_family": [], "loss_objects": [], "sum_unsafe": ["--unsafe-fixes"],
         "image_sums_unsafe": ["--unsafe-fixes"]}


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / f"{name}.py"
    shutil.copyfile(FIXTURES / f"{name}.in.py", target)
    return target


def _expected(name: str) -> bytes:
    return (FIXTURES / f"{name}.out.py").read_bytes()


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_fix_matches_expected_output_and_is_idempotent(tmp_path, capsys, name):
    path = _copy(tmp_path, name)
    main(["check", "--fix", *PAIRS[name], str(path)])
    assert path.read_bytes() == _expected(name)
    first = capsys.readouterr().out
    assert "fixed (" in first
    main(["check", "--fix", *PAIRS[name], str(path)])
    assert path.read_bytes() == _expected(name)
    assert "Fixed 0 problems" in capsys.readouterr().out


def test_only_the_reduction_calls_change(tmp_path):
    """Comments, blank lines and every untouched line are kept byte for byte."""
    before = (FIXTURES / "mean_family.in.py").read_text().splitlines()
    after = _expected("mean_family").decode().splitlines()
    changed = [line for line in after if line not in before]
    assert [line for line in changed if "axis=-1" not in line and not line.endswith(", -1)")] \
        == ["        tf.abs(err),"]
    assert "    # a comment before the return stays" in after
    assert any(line.endswith("# trailing comment stays") and "axis=-1" in line for line in after)
    assert "        tf.square(y_true - y_pred),  # the error" in after
    # left alone: rmse (unsafe), a rank-1 column, a flatten (LL104), a mean of row means,
    # a suppressed line
    for kept in ("return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))",
                 "return tf.reduce_mean(tf.square(y_true[:, 0] - y_pred[:, 0]))",
                 "return K.mean(K.square(K.flatten(y_true) - K.flatten(y_pred)))",
                 "return tf.reduce_mean(tf.reduce_mean(tf.square(y_true - y_pred), axis=-1))",
                 "return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: LL101"):
        assert "    " + kept in after


def test_loss_objects_left_alone_when_not_built_in_the_loss(tmp_path):
    after = _expected("loss_objects").decode()
    assert "GLOBAL_BCE = keras.losses.BinaryCrossentropy()\n" in after
    assert "keras.metrics.MeanAbsoluteError()(y_true, y_pred)" in after
    assert 'BinaryCrossentropy(reduction="sum")(y_true, y_pred)' in after
    assert "bce = keras.losses.BinaryCrossentropy()  # noqa: LL103" in after


def test_crlf_and_mode_are_kept(tmp_path):
    path = tmp_path / "crlf.py"
    path.write_bytes((FIXTURES / "mean_family.in.py").read_bytes().replace(b"\n", b"\r\n"))
    os.chmod(path, 0o751)
    main(["check", "--fix", str(path)])
    assert path.read_bytes() == _expected("mean_family").replace(b"\n", b"\r\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".losslint-fix-")]


def test_declared_encoding_is_kept(tmp_path):
    path = tmp_path / "latin.py"
    source = ("# -*- coding: latin-1 -*-\nimport tensorflow as tf\n\n\n"
              "def mse(y_true, y_pred):\n    # \u00e9cart\n    return tf.reduce_mean(tf.square(y_true - y_pred))\n")
    path.write_bytes(source.encode("latin-1"))
    main(["check", "--fix", str(path)])
    assert path.read_bytes() == source.replace("y_pred))\n", "y_pred), axis=-1)\n").encode("latin-1")


def test_sums_need_unsafe_fixes(tmp_path, capsys):
    path = _copy(tmp_path, "sum_unsafe")
    original = path.read_bytes()
    status = main(["check", "--fix", str(path)])
    out = capsys.readouterr().out
    assert path.read_bytes() == original
    assert status == 1
    assert "Fixed 0 problems (3 unsafe fixes available with --unsafe-fixes)." in out
    main(["check", "--fix", "--unsafe-fixes", str(path)])
    out = capsys.readouterr().out
    assert "fixed (unsafe)" in out and "scale changes" in out
    assert "Fixed 3 problems (3 with unsafe fixes)." in out


def test_the_sums_of_a_ratio_say_the_ratio_is_now_per_sample(tmp_path, capsys):
    path = _copy(tmp_path, "image_sums_unsafe")
    main(["check", "--fix", "--unsafe-fixes", str(path)])
    lines = capsys.readouterr().out.splitlines()
    ratio = [line for line in lines if "the ratio this sum is part of, a Dice, IoU or Tversky index, is now "
             "computed per sample" in line]
    # the Dice's three sums and the Jaccard's three (its union reaches the division through a
    # variable); the plain sum of squares says its scale changes instead
    assert [line.split(":")[1] for line in ratio] == ["12", "13", "13", "18", "19", "19"]
    (plain,) = [line for line in lines if "fixed (unsafe)" in line and line not in ratio]
    assert ":26:" in plain and "Keras averages the per-sample sums, so the loss's scale changes" in plain


def test_diff_writes_nothing(tmp_path, capsys):
    path = _copy(tmp_path, "mean_family")
    original = path.read_bytes()
    status = main(["check", "--diff", str(path)])
    captured = capsys.readouterr()
    assert path.read_bytes() == original
    assert status == 1
    assert "-    return tf.reduce_mean(tf.square(y_true - y_pred))\n" in captured.out
    assert "+    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n" in captured.out
    # unsafe: rmse's mean under a sqrt, and the K.flatten mean (losslint/fix.py's flatten fix)
    assert "Would fix 11 problems (2 unsafe fixes available with --unsafe-fixes); 4 problems would remain." in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mean_family.py"]


def test_diff_of_nothing_to_fix_exits_zero(tmp_path, capsys):
    path = tmp_path / "ok.py"
    path.write_text("import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
                    "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n")
    assert main(["check", "--diff", str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_exit_codes(tmp_path, capsys):
    # findings remain after the fixes: 1
    assert main(["check", "--fix", str(_copy(tmp_path, "mean_family"))]) == 1
    # everything fixed: 0, unless --exit-non-zero-on-fix
    clean = tmp_path / "clean.py"
    clean.write_text("import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
                     "    return tf.reduce_mean(tf.square(y_true - y_pred))\n")
    assert main(["check", "--fix", str(clean)]) == 0
    assert "axis=-1" in clean.read_text()
    clean.write_text(clean.read_text().replace(", axis=-1", ""))
    assert main(["check", "--fix", "--exit-non-zero-on-fix", str(clean)]) == 1
    # nothing left to change: 0 even with --exit-non-zero-on-fix
    assert main(["check", "--fix", "--exit-non-zero-on-fix", str(clean)]) == 0
    # --unsafe-fixes alone is a usage error
    assert main(["check", "--unsafe-fixes", str(clean)]) == 2
    capsys.readouterr()


def test_json_report_stays_json(tmp_path, capsys):
    path = _copy(tmp_path, "sum_unsafe")
    main(["check", "--fix", "--format", "json", str(path)])
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 4
    assert "Fixed 0 problems (3 unsafe fixes available with --unsafe-fixes)." in captured.err


def test_fix_that_would_not_parse_is_not_made(tmp_path, monkeypatch):
    from losslint import fix

    path = _copy(tmp_path, "mean_family")
    original = path.read_bytes()
    checked = []
    monkeypatch.setattr(fix, "_parses", lambda code: checked.append(code) and False)
    run = fix.fix_paths([str(path)])
    assert checked and "axis=-1" in checked[0]
    assert path.read_bytes() == original
    assert run.applied == [] and run.fixed == {}


@pytest.mark.parametrize("name, losses", [
    ("mean_family", ["mse_tf", "mae_tf_math", "mse_backend", "mse_ops", "mae_numpy", "mse_keepdims",
                     "mae_axis_none", "mae_positional_none", "weighted_multiline",
                     "multiline_no_trailing_comma"]),
    ("loss_objects", ["bce_inline", "huber_local", "mse_legacy"]),
])
def test_safe_fixes_keep_the_value_under_tensorflow(tmp_path, name, losses):
    """Keras 3 and tf_keras: the fixed loss returns one value per sample, whose batch mean
    is the old scalar (reduction="none" is accepted by both)."""
    before = tmp_path / "before.py"
    shutil.copyfile(FIXTURES / f"{name}.in.py", before)
    results = compare(tmp_path, before, FIXTURES / f"{name}.out.py", losses, (8, 5))
    for loss, result in results.items():
        assert result["old_shape"] == [], loss
        assert result["new_shape"] == [8], loss
        new_mean = sum(result["new"]) / len(result["new"])
        assert new_mean == pytest.approx(result["old"], rel=1e-5, abs=1e-6), loss


def test_remaining_findings_are_exactly_what_check_reports(tmp_path):
    """The fixer's report after fixing is the linter's, not its cautious evaluator's."""
    from losslint import api, fix
    from losslint.ftypes import Settings

    copy = tmp_path / "fixtures"
    shutil.copytree(REPO / "fixtures", copy, ignore=shutil.ignore_patterns("fixes"))  # the corpus only
    run = fix.fix_paths([str(copy)], Settings(), write=False)
    key = lambda f: (f.path, f.line, f.column, f.code, f.message)  # noqa: E731
    original = sorted(map(key, api.scan_paths([str(copy)], Settings()).report.findings))
    fixed = {(a.finding.path, a.finding.line, a.finding.column, a.finding.code, a.finding.message)
             for a in run.applied}
    count = len(run.applied)  # (asserting on run.applied itself would print whole LibCST trees)
    # 41 in .py files (3 of them the means of accumulated terms in rules/ll101_accumulated_terms.py,
    # and the no-axis means of attach/injected_backend/functional.py,
    # attach/trainer_attribute/segmentation.py, attach/filled_registry/losses.py,
    # attach/reexported_aliases.py and attach/loss_table.py), and the LL101 mean in
    # notebooks/unet_segmentation.ipynb
    assert count == 42
    assert fixed <= set(original)
    # a fresh check of the fixed sources reports what the fixer says remains
    for path, data in run.fixed.items():
        path.write_bytes(data)
    assert sorted(map(key, api.scan_paths([str(copy)], Settings()).report.findings)) \
        == sorted(map(key, run.report.findings))


def test_a_fix_whose_values_meet_another_per_sample_term_is_unsafe(tmp_path):
    # A per-sample mean of an image tensor is (batch, h, w): alone Keras averages it into the
    # old value, but beside a (batch,) Dice the sum no longer broadcasts.
    from losslint import fix
    from losslint.ftypes import Settings

    (tmp_path / "seg.py").write_text(
        "import tensorflow as tf\n\n\n"
        "def per_image_dice(y_true, y_pred):\n"
        "    inter = tf.reduce_sum(y_true * y_pred, axis=[1, 2, 3])\n"
        "    return 1.0 - 2.0 * inter / (tf.reduce_sum(y_true + y_pred, axis=[1, 2, 3]) + 1.0)\n\n\n"
        "def bce_dice(y_true, y_pred):\n"
        "    bce = tf.keras.backend.binary_crossentropy(y_true, y_pred)\n"
        "    return tf.reduce_mean(bce) + per_image_dice(y_true, y_pred)\n\n\n"
        "def plain_mae(y_true, y_pred):\n"
        "    loss = tf.reduce_mean(tf.abs(y_true - y_pred))\n"
        "    return 0.5 * loss\n\n\n"
        "def bce_loss(y_true, y_pred):\n"
        "    return mean_bce(y_true, y_pred) + per_image_dice(y_true, y_pred)\n\n\n"
        "def mean_bce(y_true, y_pred):\n"
        "    return tf.reduce_mean(tf.keras.backend.binary_crossentropy(y_true, y_pred))\n\n\n"
        "model = tf.keras.Sequential()\n"
        "model.compile(loss=bce_dice)\nmodel.compile(loss=plain_mae)\nmodel.compile(loss=bce_loss)\n")
    run = fix.fix_paths([str(tmp_path)], Settings(), write=False)
    safety = {(p.finding.function, p.safety) for p in run.remaining if p.safety}
    safety |= {(a.finding.function, a.safety) for a in run.applied}
    assert safety == {("bce_dice", "unsafe"), ("plain_mae", "safe"), ("bce_loss", "unsafe")}
    reasons = [p.reason for p in run.remaining if p.safety == "unsafe"]
    assert any("they meet `per_image_dice(y_true, y_pred)`, whose shape may differ" in r for r in reasons), reasons
