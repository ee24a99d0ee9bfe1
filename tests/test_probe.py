"""The traced shape probe, run for real: TensorFlow in a sandboxed worker, Keras 3 and legacy
Keras 2 (tf_keras). One worker per mode is shared by most tests (`pool`); the command-line
tests start their own, as users do."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from losslint import probe
from losslint.api import scan_paths
from losslint.cli import main
from losslint.ftypes import Settings
from losslint.output import JSON_KEYS
from losslint.probe.pool import Pool
from losslint.probe.slicer import LOSS_NAME, JobBuilder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def pool():
    with Pool([str(FIXTURES)], job_seconds=30, run_seconds=600) as shared:
        yield shared


def write(tmp_path: Path, name: str, code: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def probe_named(path: Path, name: str | None, pool=None, **options):
    scan = scan_paths([str(path)], Settings())
    targets = probe.losses_named(scan.project, name)
    assert targets, f"no loss {name} in {path}"
    results = probe.probe_targets(scan.project, targets, probe.ProbeOptions(**options), pool=pool)
    if name is None:
        return {t.function.qualname: results[t] for t in targets}
    (result,) = {results[t] for t in targets}
    return result


# --- verdicts ----------------------------------------------------------------------------


def test_a_collapsing_loss_is_confirmed_with_the_harm_it_does(tmp_path, pool):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf

        def mse_batch(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))
    """)
    result = probe_named(path, "mse_batch", pool)
    assert result.verdict == "confirmed"
    assert result.evidence == "returns shape () for y_pred of shape (None, 4): the batch axis is gone"
    assert dict(result.input_shapes) == {"y_true": "(None, 4)", "y_pred": "(None, 4)"}
    # Sample 0 is predicted with error 0.1 on every element, the others with error 0.9: the
    # batch mean is (0.01 + 3 * 0.81) / 4 = 0.61 and Keras scales it by mean(weights) = 1/4;
    # per sample, only sample 0 counts: 0.01 / 4.
    assert result.harm == ("with sample_weight [1, 0, 0, 0] Keras would report 0.1525 where the "
                           "per-sample loss gives 0.0025")


def test_per_sample_loss_is_refuted_and_batch_coupling_is_confirmed(tmp_path, pool):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf

        def mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

        def over_batch_size(y_true, y_pred):
            per_sample = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            return per_sample / tf.cast(tf.shape(y_true)[0], tf.float32)

        def range_normalised(y_true, y_pred):
            mae = tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
            return mae / (tf.reduce_max(tf.abs(y_true)) + 1e-6)

        def centred(y_true, y_pred):
            err = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            return err - tf.reduce_mean(err)
    """)
    results = probe_named(path, None, pool)
    assert results["mse"].verdict == "refuted"
    assert "each sample's value depends on that sample only" in results["mse"].evidence
    assert results["over_batch_size"].verdict == "confirmed"
    assert "in a batch of 6" in results["over_batch_size"].evidence
    assert results["range_normalised"].verdict == "confirmed"
    assert "the samples are coupled" in results["range_normalised"].evidence
    assert results["centred"].verdict == "confirmed"  # a collapsed value broadcast back


def test_keras_ops_losses_and_image_shapes(pool):
    results = probe_named(FIXTURES / "rules" / "ll101_keras_ops.py", None, pool)
    assert results["mse_batch"].verdict == "confirmed"
    assert results["error_std"].evidence.startswith("returns shape (1, 1)")  # keepdims=True
    assert results["mse"].verdict == "refuted"
    # axis=(1, 2) needs rank 3 at least: the vector shape fails, the image shape traces.
    assert results["sse_spatial"].verdict == "refuted"
    assert dict(results["sse_spatial"].input_shapes)["y_pred"] == "(None, 8, 8, 3)"


def test_factory_partial_subclass_and_lambda_get_their_compile_site_arguments(pool):
    results = probe_named(FIXTURES / "attach" / "factory_closure.py", None, pool)
    assert results["binary_focal_loss.<locals>.focal"].verdict == "confirmed"
    assert results["weighted_mse.<locals>.loss"].verdict == "refuted"  # needs [1.0, 2.0, 0.5]
    partial = probe_named(FIXTURES / "attach" / "functools_partial.py", None, pool)
    assert partial["huber_total"].verdict == "confirmed"
    assert partial["smooth_l1"].verdict == "refuted"
    subclass = probe_named(FIXTURES / "attach" / "loss_subclass_direct.py", None, pool)
    assert subclass["RootMeanSquaredLogError.call"].verdict == "confirmed"
    assert subclass["PerSampleRMSLE.call"].verdict == "refuted"
    # Three lambdas in the `__main__` block share a name: each is lifted out on its own.
    scan = scan_paths([str(FIXTURES / "attach" / "compile_lambda.py")], Settings())
    targets = probe.losses_named(scan.project, "<lambda>")
    verdicts = probe.probe_targets(scan.project, targets, probe.ProbeOptions(), pool=pool)
    assert [verdicts[t].verdict for t in targets] == ["confirmed", "refuted", "confirmed"]


def test_cross_file_losses_are_sliced_from_every_module(pool):
    result = probe_named(FIXTURES / "crossfile", "edge_aware_loss", pool)
    # finetune.py's loss calls losses.edge_l1, which needs images: (None, 8, 8, 3).
    assert result.verdict == "confirmed"
    assert dict(result.input_shapes)["y_pred"] == "(None, 8, 8, 3)"


def test_inconclusive_when_the_loss_needs_what_the_module_computes_or_raises(tmp_path, pool):
    path = write(tmp_path, "train.py", """
        import tensorflow as tf
        import a_package_that_is_not_installed as missing

        scale = build_scale_from_data()

        def uses_scale(y_true, y_pred):
            return tf.reduce_mean(scale * y_pred)

        def raises(y_true, y_pred):
            raise RuntimeError("boom")

        def uses_missing(y_true, y_pred):
            return missing.mean(y_pred)
    """)
    results = probe_named(path, None, pool)
    assert results["uses_scale"].verdict == "inconclusive"
    assert results["uses_scale"].evidence == (
        "the loss needs `scale`, which losslint does not define: line 5: it is computed by "
        "module-level code that losslint does not run")
    assert results["raises"].verdict == "inconclusive"
    assert "RuntimeError: boom" in results["raises"].evidence
    assert results["uses_missing"].verdict == "inconclusive"
    assert "ModuleNotFoundError" in results["uses_missing"].evidence


def test_the_modules_top_level_code_is_never_run(tmp_path, pool):
    sentinel = tmp_path / "sentinel.txt"
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    helpers = write(tmp_path, "helpers.py", f"""
        import tensorflow as tf
        open({str(sentinel)!r}, "a").write("helpers imported\\n")

        def total(x):
            return tf.reduce_sum(x)
    """)
    path = write(tmp_path, "train.py", f"""
        import os
        import numpy as np
        import tensorflow as tf
        from helpers import total

        open({str(sentinel)!r}, "a").write("top level ran\\n")
        os.remove({str(victim)!r})
        while True:
            pass

        def sse_total(y_true, y_pred):
            return total(tf.square(y_true - y_pred))

        model = tf.keras.Sequential([tf.keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=sse_total)
        model.fit(np.zeros((8, 4)), np.zeros((8, 4)), epochs=1000)

        if __name__ == "__main__":
            open({str(sentinel)!r}, "a").write("main ran\\n")
    """)
    # Scanning the folder: helpers.py is a scanned module, sliced like train.py.
    result = probe_named(tmp_path, "sse_total", pool)
    assert result.verdict == "confirmed"  # helpers.total was sliced and ran: reduce_sum
    # Scanning train.py alone: helpers.py is not scanned, and the worker cannot import it
    # (the scanned code's folders are not on its sys.path).
    alone = probe_named(path, "sse_total", pool)
    assert alone.verdict == "inconclusive"
    assert "ModuleNotFoundError: No module named 'helpers'" in alone.evidence
    assert helpers.exists() and not sentinel.exists()
    assert victim.read_text() == "keep me"


def test_a_hanging_loss_hits_the_time_limit_and_the_run_goes_on(tmp_path):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf

        def hangs(y_true, y_pred):
            while True:
                pass

        def mae_batch(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred))
    """)
    results = probe_named(path, None, job_seconds=3)
    assert results["hangs"].verdict == "inconclusive"
    assert results["hangs"].evidence == "the loss timed out after 3 s"
    assert results["mae_batch"].verdict == "confirmed"  # in a fresh worker


def test_user_shapes_replace_the_defaults(tmp_path, pool):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf

        def masks_only(y_true, y_pred):
            y_pred = tf.ensure_shape(y_pred, (None, 64, 64, 1))
            return tf.reduce_mean(tf.square(y_true - y_pred))
    """)
    default = probe_named(path, "masks_only", pool)
    assert default.verdict == "inconclusive"
    assert default.evidence.startswith("the loss does not trace with any input shape tried")
    shapes = probe.parse_shapes(["y_pred=(None, 64, 64, 1)"])
    given = probe_named(path, "masks_only", pool, shapes=shapes)
    assert given.verdict == "confirmed"
    assert dict(given.input_shapes) == {"y_true": "(None, 64, 64, 1)", "y_pred": "(None, 64, 64, 1)"}


def test_parse_shapes():
    assert probe.parse_shapes(["y_pred=(None,64,64,1)"]) == (
        (("float32", [None, 64, 64, 1]), ("float32", [None, 64, 64, 1])),)
    assert probe.parse_shapes(["y_true=(None,)", "y_pred=(None, 10)"]) == (
        (("int32", [None]), ("float32", [None, 10])),)
    assert probe.parse_shapes(["(32, 3)"]) == ((("float32", [None, 3]), ("float32", [None, 3])),)
    with pytest.raises(ValueError):
        probe.parse_shapes(["y_pred=64x64"])


# --- Keras 3 and legacy Keras 2 ------------------------------------------------------------


def test_legacy_keras_runs_for_tf_keras_modules_and_on_request(tmp_path, pool):
    # tf.losses.mean_squared_error exists only in legacy mode (tf.losses is tf_keras there).
    legacy_module = write(tmp_path, "legacy.py", """
        import tensorflow as tf
        import tf_keras

        def mse_total(y_true, y_pred):
            return tf.reduce_sum(tf.losses.mean_squared_error(y_true, y_pred))
    """)
    plain = write(tmp_path, "plain.py", """
        import tensorflow as tf

        def mse_total(y_true, y_pred):
            return tf.reduce_sum(tf.losses.mean_squared_error(y_true, y_pred))
    """)
    result = probe_named(legacy_module, "mse_total", pool)
    assert result.verdict == "confirmed"
    assert result.evidence.endswith("[legacy Keras 2]")
    keras3 = probe_named(plain, "mse_total", pool)
    assert keras3.verdict == "inconclusive"
    assert "AttributeError" in keras3.evidence
    forced = probe_named(plain, "mse_total", pool, legacy_keras=True)
    assert forced.verdict == "confirmed"
    fixture = probe_named(FIXTURES / "attach" / "tf_keras_legacy.py", None, pool)
    assert fixture["HingeTotal.call"].verdict == "confirmed"
    assert fixture["SquaredHinge.call"].verdict == "refuted"
    assert "Keras would report" in fixture["HingeTotal.call"].harm


# --- slices (static: no TensorFlow) ----------------------------------------------------------


def test_slices_keep_definitions_and_drop_everything_that_runs(tmp_path):
    path = write(tmp_path, "train.py", """
        import os, cv2
        import numpy as np
        import tensorflow as tf

        EPS = 1e-7
        WEIGHTS = tf.constant([1.0, 2.0])
        bce = tf.keras.losses.BinaryCrossentropy()
        data = np.load("data.npy")
        print("training")

        def focal(gamma=2.0):
            def loss(y_true, y_pred):
                return tf.reduce_mean(bce(y_true, y_pred) * gamma + EPS * WEIGHTS)
            return loss

        if __name__ == "__main__":
            model = tf.keras.Sequential()
            model.compile(loss=focal(gamma=3.0))
    """)
    scan = scan_paths([str(path)], Settings())
    (target,) = probe.losses_named(scan.project, "loss")
    job = JobBuilder(scan.project).job(target)
    assert job.error is None
    (module,) = job.modules
    assert module.source.splitlines() == [
        "import tensorflow as tf",
        "EPS = 1e-7",
        "WEIGHTS = tf.constant([1.0, 2.0])",
        "bce = tf.keras.losses.BinaryCrossentropy()",
        "def focal(gamma=2.0):",
        "    def loss(y_true, y_pred):",
        "        return tf.reduce_mean(bce(y_true, y_pred) * gamma + EPS * WEIGHTS)",
        "    return loss",
        f"{LOSS_NAME} = focal(gamma=3.0)",
    ]


# --- the command line ------------------------------------------------------------------------


def test_check_probe_json_adds_a_probe_key_and_drop_refuted(capsys):
    fixture = str(FIXTURES / "rules" / "ll101_where_cond.py")
    assert main(["check", "--format", "json", fixture]) == 1
    plain = json.loads(capsys.readouterr().out)
    assert all("probe" not in finding for finding in plain)
    assert main(["check", "--probe", "--format", "json", fixture]) == 1
    probed = json.loads(capsys.readouterr().out)
    assert [list(f)[: len(JSON_KEYS)] for f in probed] == [list(JSON_KEYS)] * len(probed)
    by_loss = {f["function"]: f["probe"] for f in probed}
    # capped_loss only uses its batch mean when a sample's error exceeds 10: not on the probe's
    # inputs, so the probe refutes it (a limit of running code: it sees one path).
    assert by_loss["capped_loss"]["verdict"] == "refuted"
    assert by_loss["switchable_loss"]["verdict"] == "confirmed"
    assert set(by_loss["switchable_loss"]) == {"verdict", "evidence", "input_shapes", "harm"}
    assert main(["check", "--probe", "--drop-refuted", "--format", "json", fixture]) == 1
    kept = json.loads(capsys.readouterr().out)
    assert {f["function"] for f in kept} == {"switchable_loss"}


def test_check_probe_text_and_the_parent_never_imports_tensorflow(tmp_path):
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf

        def mae_batch(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred))
    """)
    script = (
        "import sys; from losslint.cli import main; status = main(['check', '--probe', sys.argv[1]]);"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; sys.exit(status)"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1, result.stderr
    assert "(in loss mae_batch) [probe: confirmed: returns shape () for y_pred of shape (None, 4): " \
           "the batch axis is gone; with sample_weight [1, 0, 0, 0] Keras would report" in result.stdout


def test_probe_command_prints_what_it_saw(capsys):
    target = f"{FIXTURES / 'attach' / 'factory_closure.py'}::focal"
    assert main(["probe", target]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("factory_closure.py::binary_focal_loss.<locals>.focal")
    assert out[1] == "  traced with y_true (None, 4), y_pred (None, 4)"
    assert out[2] == "  confirmed: returns shape () for y_pred of shape (None, 4): the batch axis is gone"
    assert out[3].startswith("  with sample_weight [1, 0, 0, 0] Keras would report")
    assert main(["probe", f"{FIXTURES / 'attach' / 'factory_closure.py'}::nothing_here"]) == 2


def test_probe_needs_tensorflow_and_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(probe, "tensorflow_available", lambda: False)
    assert main(["check", "--probe", str(FIXTURES / "rules" / "ll101_tf_reduce.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["losslint: error: the probe needs TensorFlow: pip install 'losslint[probe]'"]
    assert main(["check", "--drop-refuted", str(FIXTURES / "rules" / "ll101_tf_reduce.py")]) == 2
