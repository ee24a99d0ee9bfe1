"""Probe-verified fixes: `losslint check --fix --probe` / `--diff --probe` (losslint/probe/verify.py).

Real TensorFlow runs. The in-process tests share one Keras 3 worker (`pool`); the command-line
test starts its own, as users do.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from losslint import fix, fix_edits
from losslint.cli import main
from losslint.ftypes import Settings
from losslint.probe import ProbeOptions
from losslint.probe.pool import Pool
from losslint.probe.verify import FixVerifier

# A training script as people write them: the losses, then a model, then training at the top
# level (which must never run: it would leave `trained.marker` behind).
TRAIN = '''\
"""Train a 2-D keypoint regressor."""
import numpy as np
import tensorflow as tf
from tensorflow import keras


def mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))


def sse(y_true, y_pred):
    return tf.reduce_sum(tf.square(y_true - y_pred))


def rmse(y_true, y_pred):
    mse = tf.reduce_mean(tf.square(y_true - y_pred))
    return tf.sqrt(mse)


def x_error(y_true, y_pred):
    x_true = tf.gather(y_true, 0, axis=-1)
    x_pred = tf.gather(y_pred, 0, axis=-1)
    return tf.reduce_mean(tf.abs(x_true - x_pred))


model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(2)])
model.compile("adam", loss=[mse, sse, rmse, x_error])
open("trained.marker", "w").write("the training script ran")
model.fit(np.zeros((8, 16)), np.zeros((8, 2)), epochs=1)
'''


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with Pool([str(tmp_path_factory.getbasetemp())], job_seconds=60) as shared:
        yield shared


def write(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


def fixed(path: Path, pool, unsafe: bool = False, write_files: bool = True, **options):
    verifier = FixVerifier(ProbeOptions(**options), pool=pool)
    run = fix.fix_paths([str(path)], Settings(), unsafe=unsafe, write=write_files, verify=verifier)
    return run, verifier


def messages(run) -> dict[str, str]:
    return {f.function: f.message for f in run.report.findings}


# --- safe fixes -----------------------------------------------------------------------------


def test_a_safe_fix_is_written_only_when_the_probe_sees_the_same_value_per_batch(tmp_path, pool):
    path = write(tmp_path, "train.py", TRAIN)
    run, verifier = fixed(path, pool)
    after = path.read_text()
    # Verified and written: the batch mean of the per-sample values is the old scalar.
    assert "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n" in after
    (applied,) = run.applied
    assert applied.finding.function == "mse" and applied.safety == "safe"
    assert "[probe: verified: returns shape (None,) for y_pred of shape (None, 2)" in applied.description
    # The static planner calls this one safe (it cannot see the rank); running it shows it is not.
    assert "    return tf.reduce_mean(tf.abs(x_true - x_pred))\n" in after
    found = messages(run)
    assert found["x_error"].endswith("[fix not applied: the probe found the fixed loss returns shape () "
                                     "for y_pred of shape (None, 2): the batch axis is gone]")
    assert verifier.not_applied == {"failed": 1}
    # The sum and the mean used in `tf.sqrt` a statement later are unsafe: without
    # --unsafe-fixes they are neither run nor written.
    assert "    return tf.reduce_sum(tf.square(y_true - y_pred))\n" in after
    assert "    mse = tf.reduce_mean(tf.square(y_true - y_pred))\n    return tf.sqrt(mse)\n" in after
    assert "fix not applied" not in found["sse"] and "fix not applied" not in found["rmse"]
    assert run.unsafe_available == 2
    assert not (tmp_path / "trained.marker").exists()  # the script's top level never ran
    # A second run changes nothing.
    again, _ = fixed(path, pool)
    assert path.read_text() == after and not again.applied


def test_a_fix_that_changes_the_value_is_refused(tmp_path, pool, monkeypatch):
    # Were the planner to call the RMSE fix safe, the probe's value check would refuse it:
    # the mean of per-sample roots is not the root of the mean.
    monkeypatch.setattr(fix, "_other_terms", lambda *args, **kwargs: None)
    path = write(tmp_path, "train.py", TRAIN)
    run, verifier = fixed(path, pool)
    found = messages(run)
    assert "[fix not applied: the probe found the mean of the fixed loss's values is " in found["rmse"]
    assert "where the original returns" in found["rmse"]
    assert "    mse = tf.reduce_mean(tf.square(y_true - y_pred))\n    return tf.sqrt(mse)\n" in path.read_text()
    assert verifier.not_applied == {"failed": 2}


def test_an_unsafe_fix_needs_only_the_batch_axis(tmp_path, pool):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf


        def sse(y_true, y_pred):
            return tf.reduce_sum(tf.square(y_true - y_pred))


        def summed_mean(y_true, y_pred):
            return tf.reduce_sum(tf.reduce_mean(tf.square(y_true - y_pred)))
    """)
    run, verifier = fixed(path, pool, unsafe=True)
    after = path.read_text()
    # The per-sample sums have a different scale, by design: the batch axis and each sample
    # alone are checked, not the batch mean.
    assert ("return tf.reduce_sum(tf.square(y_true - y_pred), "
            "axis=tf.range(1, tf.rank(tf.square(y_true - y_pred))))") in after
    (applied,) = run.applied
    assert applied.safety == "unsafe"
    assert applied.description.endswith("[probe: verified: returns shape (None,) for y_pred of shape (None, 4), "
                                        "and each sample's value is the original loss on that sample alone]")
    # The planner only fixes the inner mean here; the outer sum still takes the batch away.
    assert "return tf.reduce_sum(tf.reduce_mean(tf.square(y_true - y_pred)))" in after
    assert messages(run)["summed_mean"].endswith(
        "[fix not applied: the probe found the fixed loss returns shape () for y_pred of shape (None, 4): "
        "the batch axis is gone]")
    assert verifier.counts == {"verified": 1, "failed": 1}


DICE = """
    import tensorflow as tf


    def dice_loss(y_true, y_pred, smooth=1.0):
        inter = tf.reduce_sum(y_true * y_pred)
        return 1.0 - (2.0 * inter + smooth) / (tf.reduce_sum(y_true) + tf.reduce_sum(y_pred) + smooth)
"""
MASKS = ((("float32", (None, 8, 8, 1)), ("float32", (None, 8, 8, 1))),)


def test_a_fix_is_right_only_when_each_sample_gets_its_loss_alone(tmp_path, pool, monkeypatch):
    # The Dice of each (8, 8, 1) mask, over every axis but the batch: verified sample by sample.
    path = write(tmp_path, "losses.py", DICE)
    run, _ = fixed(path, pool, unsafe=True, shapes=MASKS)
    assert path.read_text().count("axis=tf.range(1, tf.rank(") == 3 and len(run.applied) == 3
    assert all(a.description.endswith("and each sample's value is the original loss on that sample alone]")
               for a in run.applied)
    # `axis=-1` (what losslint once wrote) keeps the batch axis, and the probe's shape check
    # passes it; but it is a per-pixel Dice, which no sample alone gives.
    monkeypatch.setattr(fix, "batch_axes", lambda *args: "-1")
    path = write(tmp_path, "losses.py", DICE)
    run, verifier = fixed(path, pool, unsafe=True, shapes=MASKS)
    assert path.read_text() == textwrap.dedent(DICE) and not run.applied
    message = messages(run)["dice_loss"]
    assert "[fix not applied: the probe found sample 0 gives " in message
    assert " fixed, " in message and " alone (batch of 6, y_pred of shape (None, 8, 8, 1))" in message
    assert verifier.not_applied == {"failed": 3}


def test_a_bad_edit_is_caught_before_it_is_written(tmp_path, pool, monkeypatch):
    """Were the planner to write `axis=0`, the fixed loss would reduce the batch: not written."""
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf


        def mae(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred))
    """)
    before = path.read_bytes()
    monkeypatch.setattr(fix_edits, "minus_one", lambda: cst.Integer("0"))
    run, _ = fixed(path, pool)
    assert path.read_bytes() == before
    assert not run.applied and not run.fixed
    assert messages(run)["mae"].endswith(
        "[fix not applied: the probe found the fixed loss returns shape (4,) for y_pred of shape (None, 4): "
        "the batch axis is gone]")
    (plan,) = run.remaining
    assert plan.safety is None and plan.reason.startswith("fix not applied: the probe found")


# --- inconclusive probes ------------------------------------------------------------------


def test_an_inconclusive_probe_leaves_the_file_unchanged(tmp_path, pool):
    path = write(tmp_path, "losses.py", """
        import os

        import tensorflow as tf
        from augment.noise import NOISE_FLOOR  # a package outside the scanned folder

        SCALE = float(os.environ.get("LOSS_SCALE", "1"))


        def floor_mse(y_true, y_pred):
            return tf.reduce_mean(tf.maximum(tf.square(y_true - y_pred), NOISE_FLOOR))


        def scaled_mae(y_true, y_pred):
            return SCALE * tf.reduce_mean(tf.abs(y_true - y_pred))
    """)
    before = path.read_bytes()
    run, verifier = fixed(path, pool)
    assert path.read_bytes() == before and not run.applied
    found = messages(run)
    assert "[fix not applied: probe inconclusive: the original loss: defining the loss failed: " \
           "ModuleNotFoundError: No module named 'augment'" in found["floor_mse"]
    assert "[fix not applied: probe inconclusive: the original loss: the loss needs `SCALE`, which " \
           "losslint does not define: line 7: it is computed by module-level code" in found["scaled_mae"]
    assert verifier.not_applied == {"inconclusive": 2}


def test_a_worker_that_cannot_load_tensorflow_lets_no_fix_through(tmp_path):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf


        def mae(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred))
    """)
    before = path.read_bytes()
    with FixVerifier(ProbeOptions(memory=64 << 20)) as verifier:  # too little for TensorFlow
        run = fix.fix_paths([str(path)], Settings(), verify=verifier)
    assert path.read_bytes() == before and not run.applied
    assert "[fix not applied: probe inconclusive: the probe worker" in messages(run)["mae"]


# --- rounds ---------------------------------------------------------------------------------


def test_every_round_is_verified(tmp_path, pool, monkeypatch):
    """With one fix planned per round (the planner held back), each round's fix is run."""
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf


        def mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))


        def mae(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred))


        def rmse(y_true, y_pred):
            mse = tf.reduce_mean(tf.square(y_true - y_pred))
            return tf.sqrt(mse)
    """)
    real_round = fix._round
    done: set[str] = set()

    def one_fix_per_round(*args, **kwargs):
        report, plans = real_round(*args, **kwargs)
        fixable = [p for p in plans if p.safety == "safe" and p.finding.function not in done]
        for plan in fixable[1:]:
            plan.safety, plan.reason = None, "held back for the next round"
        done.update(p.finding.function for p in fixable[:1])
        return report, plans

    rounds = []
    real_apply = FixVerifier.apply_round

    def counting(self, groups, *args):
        rounds.append(sorted(p.finding.function for group in groups for p in group))
        return real_apply(self, groups, *args)

    monkeypatch.setattr(fix, "_round", one_fix_per_round)
    monkeypatch.setattr(FixVerifier, "apply_round", counting)
    monkeypatch.setattr(fix, "_other_terms", lambda *args, **kwargs: None)  # RMSE planned safe
    run, verifier = fixed(path, pool)
    # (a round whose only fix is refused changes nothing, which ends the run, as without --probe)
    assert rounds == [["mse"], ["mae"], ["rmse"]]
    assert [a.finding.function for a in run.applied] == ["mse", "mae"]
    assert all("[probe: verified: " in a.description for a in run.applied)
    after = path.read_text()
    assert after.count("axis=-1") == 2 and "    mse = tf.reduce_mean(tf.square(y_true - y_pred))\n" in after
    assert verifier.counts == {"verified": 2, "failed": 1}


# --- the command line -----------------------------------------------------------------------


def test_diff_probe_writes_nothing_and_fix_probe_writes_what_it_showed(tmp_path, capsys):
    path = write(tmp_path, "train.py", TRAIN)
    status = main(["check", "--diff", "--probe", "--unsafe-fixes", str(path)])
    out, err = capsys.readouterr()
    assert status == 1 and path.read_text() == TRAIN
    added = [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    # The RMSE fix is unsafe (the mean is used in tf.sqrt): it needs only the batch axis.
    assert added == ["    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)",
                     "    return tf.reduce_sum(tf.square(y_true - y_pred), "
                     "axis=tf.range(1, tf.rank(tf.square(y_true - y_pred))))",
                     "    mse = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"]
    assert err.strip().endswith("Would fix 3 problems (2 with unsafe fixes); 1 problem would remain; "
                                "1 fix not applied (1 failed the probe's check, 0 probe inconclusive).")
    status = main(["check", "--fix", "--probe", "--unsafe-fixes", str(path)])
    out, _ = capsys.readouterr()
    assert status == 1
    lines = path.read_text().splitlines()
    assert [line for line in lines if line not in TRAIN.splitlines()] == added
    assert out.count("[probe: verified: ") == 3
    assert "(in loss x_error)" in out and "[fix not applied: the probe found the fixed loss returns shape ()" in out
    assert out.rstrip().endswith("Fixed 3 problems (2 with unsafe fixes); 1 fix not applied "
                                 "(1 failed the probe's check, 0 probe inconclusive).")
    assert not (tmp_path / "trained.marker").exists()


def test_fix_without_probe_runs_nothing_and_never_imports_tensorflow(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    code = textwrap.dedent(f"""
        import sys
        from losslint import fix
        run = fix.fix_paths([{str(tmp_path)!r}], write=False)
        assert len(run.applied) == 2, [a.finding for a in run.applied]
        assert not any("probe" in a.description for a in run.applied)
        assert "tensorflow" not in sys.modules and "losslint.probe.verify" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_drop_refuted_is_refused_with_fix(tmp_path, capsys):
    path = write(tmp_path, "train.py", TRAIN)
    assert main(["check", "--fix", "--probe", "--drop-refuted", str(path)]) == 2
    assert "--drop-refuted cannot be combined with --fix or --diff" in capsys.readouterr().err
    assert path.read_text() == TRAIN
