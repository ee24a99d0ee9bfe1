"""The unsafe LL104 fixes of losslint/fix.py: `tf.nn.l2_loss` and reductions of flattened tensors.

fixtures/fixes/{l2_loss,flatten}_unsafe.in.py is fixed with --unsafe-fixes and compared byte for
byte with the .out.py beside it; a second run changes nothing. A TensorFlow run (in a
subprocess, eager and traced with an unknown batch size) checks that each fixed loss returns
one value per sample, and that those values are what numpy computes per sample by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from losslint.cli import main
from tests.tf_compare import compare

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "fixes"
PAIRS = ("l2_loss_unsafe", "flatten_unsafe")


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / f"{name}.py"
    shutil.copyfile(FIXTURES / f"{name}.in.py", target)
    return target


@pytest.mark.parametrize("name", PAIRS)
def test_unsafe_fix_matches_expected_output_and_is_idempotent(tmp_path, capsys, name):
    path = _copy(tmp_path, name)
    main(["check", "--fix", "--unsafe-fixes", str(path)])
    assert path.read_bytes() == (FIXTURES / f"{name}.out.py").read_bytes()
    assert "fixed (unsafe)" in capsys.readouterr().out
    main(["check", "--fix", "--unsafe-fixes", str(path)])
    assert path.read_bytes() == (FIXTURES / f"{name}.out.py").read_bytes()
    assert "Fixed 0 problems" in capsys.readouterr().out


@pytest.mark.parametrize("name, count", [("l2_loss_unsafe", 4), ("flatten_unsafe", 11)])
def test_without_unsafe_fixes_nothing_changes(tmp_path, capsys, name, count):
    path = _copy(tmp_path, name)
    original = path.read_bytes()
    main(["check", "--fix", str(path)])
    assert path.read_bytes() == original
    assert f"Fixed 0 problems ({count} unsafe fixes available with --unsafe-fixes)" in capsys.readouterr().out


def test_messages_say_what_changes(tmp_path, capsys):
    main(["check", "--fix", "--unsafe-fixes", str(_copy(tmp_path, "l2_loss_unsafe"))])
    out = capsys.readouterr().out
    assert "rewrote `tf.nn.l2_loss(x)` as `0.5 * tf.reduce_sum(tf.square(x), axis=-1)`" in out  # known (batch, n)
    assert "axis=tf.range(1, tf.rank(x)))`" in out
    assert "divided by the batch size" in out
    main(["check", "--fix", "--unsafe-fixes", str(_copy(tmp_path, "flatten_unsafe"))])
    out = capsys.readouterr().out
    assert "(`K.flatten` -> `K.batch_flatten`) and reduced with `axis=-1` (3 reductions in `dice_coef`)" in out
    assert "`dice_coef` changes for its other callers too" in out
    assert "a Dice or IoU over the whole batch becomes a per-image one" in out
    assert "`tf.reshape(x, [-1])` -> `tf.reshape(x, [tf.shape(x)[0], -1])`" in out
    assert "`ops.ravel(x)` -> `ops.reshape(x, (ops.shape(x)[0], -1))`" in out


def test_flatten_groups_left_alone_and_why(tmp_path):
    """The flattened values also reach a per-element BCE, or one reduction of the group is
    suppressed: no fix for any reduction of the group, and the findings stay."""
    from losslint import fix

    run = fix.fix_paths([str(_copy(tmp_path, "flatten_unsafe"))], unsafe=True, write=False)
    reasons = {(plan.finding.function, plan.reason) for plan in run.remaining}
    assert reasons == {
        ("dice_and_bce", ("the flattened `K.flatten(y_true)` is used elsewhere than in the reductions "
                          "(or through calls that are not element-wise)")),
        ("partly_suppressed_dice", ("another reduction of the same flattened values (`K.sum(y_true_f * "
                                    "y_pred_f)`) is not reported (suppressed or not selected), and the "
                                    "flattens are shared")),
    }
    assert len(run.remaining) == 6 and all(plan.finding.code == "LL104" for plan in run.remaining)


_NOT_REWRITTEN = {
    # the flattens are made in a helper, the reductions in the loss
    "another function": ("def flat(x):\n    return K.flatten(x)\n\n\ndef loss(y_true, y_pred):\n"
                         "    return K.sum(flat(y_true) * flat(y_pred))\n"),
    # a flattened variable assigned twice
    "used elsewhere": ("def loss(y_true, y_pred):\n    t = K.flatten(y_true)\n    t = K.flatten(y_true) * 2.0\n"
                       "    return K.sum(t * K.flatten(y_pred))\n"),
    # the function returns something batch-shaped next to the flattened sums
    "batch-shaped": ("def loss(y_true, y_pred):\n    s = K.sum(K.flatten(y_true))\n"
                     "    return K.mean(K.square(y_pred - s), axis=-1)\n"),
    # a max of the flattened values: only sums and means are rewritten
    "`max`": "def loss(y_true, y_pred):\n    return K.max(K.flatten(y_true - y_pred))\n",
    # keepdims: the result's shape would change in another way
    "keepdims": "def loss(y_true, y_pred):\n    return K.sum(K.flatten(y_true - y_pred), keepdims=True)\n",
    # the flattened expression is not a name: tf.reshape would have to write it twice
    "not a plain name": "def loss(y_true, y_pred):\n    return tf.reduce_sum(tf.reshape(y_true - y_pred, [-1]))\n",
}


@pytest.mark.parametrize("reason", sorted(_NOT_REWRITTEN))
def test_flatten_not_rewritten(tmp_path, reason):
    from losslint import fix

    source = _NOT_REWRITTEN[reason]
    path = tmp_path / "losses.py"
    text = "import tensorflow as tf\nfrom tensorflow.keras import backend as K\n\n\n" + source
    path.write_text(text)
    run = fix.fix_paths([str(path)], unsafe=True, write=False)
    assert run.applied == [] or all(a.finding.code != "LL104" for a in run.applied)
    # (a flattened sum broadcast back onto per-sample values is reported as LL202, fixed as LL104)
    assert any(reason in plan.reason for plan in run.remaining if plan.finding.code in ("LL104", "LL202")), \
        [plan.reason for plan in run.remaining]


def test_l2_loss_spelled_with_the_files_alias(tmp_path):
    path = tmp_path / "losses.py"
    path.write_text("import tensorflow as tensorflow_v2\n\n\ndef loss(y_true, y_pred):\n"
                    "    return -tensorflow_v2.nn.l2_loss(y_true - y_pred)\n")
    main(["check", "--fix", "--unsafe-fixes", str(path)])
    assert path.read_text().endswith(
        "    return -0.5 * tensorflow_v2.reduce_sum(tensorflow_v2.square(y_true - y_pred), "
        "axis=tensorflow_v2.range(1, tensorflow_v2.rank(y_true - y_pred)))\n")


def _run(tmp_path: Path, name: str, shape: tuple[int, ...], losses: list[str], broadcast=()) -> dict:
    """Each loss's results, before and after the fix; `broadcast`: losses whose original adds
    the batch-wide term to per-sample values (so it already returned shape (batch,))."""
    results = compare(tmp_path, FIXTURES / f"{name}.in.py", FIXTURES / f"{name}.out.py", losses, shape,
                      labels="binary", traced=True)
    for loss, result in results.items():
        # the original: one number for the batch (or one broadcast onto every sample)
        assert result["old_shape"] == ([shape[0]] if loss in broadcast else []), loss
        assert result["new_shape"] == [shape[0]], loss  # the fixed: one per sample
        assert result["graph"] == pytest.approx(result["new"], rel=1e-5), loss
        assert result["static"] in ([None], [shape[0]]), loss
    return results


def _rng_data(shape):
    rng = np.random.default_rng(0)
    y_true = (rng.uniform(size=shape) > 0.6).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, shape).astype("float32")
    return y_true, y_pred


def test_fixed_l2_losses_are_per_sample_half_sums_under_tensorflow(tmp_path):
    # rank 3 exercises the any-rank axis, tf.range(1, tf.rank(x)); mse_with_activity_penalty
    # only at rank 2, where its mean over the last axis is one value per sample (at rank 3 it
    # is (batch, 3), which the per-sample penalty does not broadcast against: README, Fixing)
    for shape, losses in (((6, 4), ["half_sse", "mse_with_activity_penalty", "flat_half_sse", "root_half_sse"]),
                          ((6, 3, 5), ["half_sse", "flat_half_sse", "root_half_sse"])):
        results = _run(tmp_path, "l2_loss_unsafe", shape, losses, broadcast=["mse_with_activity_penalty"])
        y_true, y_pred = _rng_data(shape)
        axes = tuple(range(1, len(shape)))
        half = 0.5 * ((y_true - y_pred) ** 2).sum(axis=axes)
        assert results["half_sse"]["new"] == pytest.approx(half, rel=1e-5)
        assert sum(results["half_sse"]["new"]) == pytest.approx(results["half_sse"]["old"], rel=1e-5)
        assert results["flat_half_sse"]["new"] == pytest.approx(half / 10.0, rel=1e-5)
        assert results["root_half_sse"]["new"] == pytest.approx(np.sqrt(half), rel=1e-5)
        if "mse_with_activity_penalty" in results:
            mse = ((y_true - y_pred) ** 2).mean(axis=-1)
            penalty = 1e-3 * 0.5 * (y_pred ** 2).sum(axis=-1)
            assert results["mse_with_activity_penalty"]["new"] == pytest.approx(mse + penalty, rel=1e-5)


def test_fixed_dice_is_the_per_image_dice_under_tensorflow(tmp_path):
    shape = (5, 8, 8, 1)
    losses = ["dice_coef_loss", "soft_dice_loss", "jaccard_loss", "raveled_l1", "flat_mse"]
    results = _run(tmp_path, "flatten_unsafe", shape, losses)
    y_true, y_pred = _rng_data(shape)
    dice, soft, iou, l1, mse = [], [], [], [], []
    for t, p in zip(y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)):  # by hand, per image
        inter = (t * p).sum()
        dice.append(1.0 - (2.0 * inter + 1.0) / (t.sum() + p.sum() + 1.0))
        soft.append(1.0 - (2.0 * inter + 1e-7) / ((t ** 2).sum() + (p ** 2).sum() + 1e-7))
        iou.append(1.0 - (inter + 1.0) / (t.sum() + p.sum() - inter + 1.0))
        l1.append(np.abs(t - p).sum())
        mse.append(((t - p) ** 2).mean())
    assert results["dice_coef_loss"]["new"] == pytest.approx(dice, rel=1e-5)
    assert results["soft_dice_loss"]["new"] == pytest.approx(soft, rel=1e-5)
    assert results["jaccard_loss"]["new"] == pytest.approx(iou, rel=1e-5)
    assert results["raveled_l1"]["new"] == pytest.approx(l1, rel=1e-5)
    assert results["flat_mse"]["new"] == pytest.approx(mse, rel=1e-5)
    # the global Dice is not the mean of the per-image ones; the flat mean is
    flat_t, flat_p = y_true.ravel(), y_pred.ravel()
    global_dice = 1.0 - (2.0 * (flat_t * flat_p).sum() + 1.0) / (flat_t.sum() + flat_p.sum() + 1.0)
    assert results["dice_coef_loss"]["old"] == pytest.approx(global_dice, rel=1e-5)
    assert float(np.mean(dice)) != pytest.approx(global_dice, rel=1e-3)
    assert float(np.mean(results["flat_mse"]["new"])) == pytest.approx(results["flat_mse"]["old"], rel=1e-5)
