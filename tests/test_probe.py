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
from losslint.cli import check, main
from losslint.ftypes import Settings
from losslint.output import JSON_KEYS
from losslint.probe.pool import Pool
from losslint.probe.shapes import infer_shapes
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


def test_a_sample_alone_shows_coupling_that_other_batches_hide(tmp_path, pool):
    # Few-shot training: the first two samples of every batch are the support set. Batches of
    # 4 and 6 share them and changing the last sample moves nothing, but sample 0 alone has
    # another prototype: its value is not the loss of that sample alone.
    path = write(tmp_path, "losses.py", """
        import tensorflow as tf

        def prototype_distance(y_true, y_pred):
            prototype = tf.reduce_mean(y_pred[:2], axis=0)
            return tf.reduce_sum(tf.square(y_pred - prototype), axis=-1)
    """)
    result = probe_named(path, "prototype_distance", pool)
    assert result.verdict == "confirmed"
    assert "in a batch of 6 and 0 alone: each value depends on the rest of the batch" in result.evidence


def test_keras_ops_losses_and_image_shapes(pool):
    results = probe_named(FIXTURES / "rules" / "ll101_keras_ops.py", None, pool)
    assert results["mse_batch"].verdict == "confirmed"
    # The fixture's model: Input(shape=(16, 16, 2)) and a last Conv2D(2, ...).
    assert results["error_std"].evidence.startswith("returns shape (1, 1, 1, 1) for y_pred of shape "
                                                    "(None, 16, 16, 2)")  # keepdims=True
    assert results["mse"].verdict == "refuted"
    assert results["sse_spatial"].verdict == "refuted"
    assert dict(results["sse_spatial"].input_shapes)["y_pred"] == "(None, 16, 16, 2)"
    # Without the model's shape: axis=(1, 2) needs rank 3 at least, so the vector shape fails
    # and the default image shape traces.
    blind = probe_named(FIXTURES / "rules" / "ll101_keras_ops.py", None, pool, infer_shapes=False)
    assert blind["error_std"].evidence.startswith("returns shape (1, 1) for y_pred of shape (None, 4)")
    assert dict(blind["sse_spatial"].input_shapes)["y_pred"] == "(None, 8, 8, 3)"


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
    # The file's classifier ends in Dense(3): its shape is tried first.
    assert out[1] == "  traced with y_true (None, 3), y_pred (None, 3)"
    assert out[2] == ("  confirmed: returns shape () for y_pred of shape (None, 3): the batch axis is gone "
                      f"(shapes from the model: `Dense(3)` at {FIXTURES / 'attach' / 'factory_closure.py'}:29)")
    assert out[3].startswith("  with sample_weight [1, 0, 0, 0] Keras would report")
    assert main(["probe", f"{FIXTURES / 'attach' / 'factory_closure.py'}::nothing_here"]) == 2


def test_probe_needs_tensorflow_and_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(probe, "tensorflow_available", lambda: False)
    assert main(["check", "--probe", str(FIXTURES / "rules" / "ll101_tf_reduce.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["losslint: error: the probe needs TensorFlow: pip install 'losslint[probe]'"]
    assert main(["check", "--drop-refuted", str(FIXTURES / "rules" / "ll101_tf_reduce.py")]) == 2


# --- --probe=all: every loss the finder found -------------------------------------------------

MIXED = """
    import tensorflow as tf

    def mse_batch(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    def gram_total(y_true, y_pred):
        err = y_true - y_pred
        return tf.einsum("ij,ij->", err, err)

    def per_sample(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

    scale = compute_scale()

    def scaled(y_true, y_pred):
        return scale * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
"""


def test_probe_all_reports_losses_without_findings_in_a_trailing_text_section(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "losses.py", MIXED)
    # The static rules miss gram_total's einsum: only mse_batch has a finding.
    assert main(["check", "--format", "json", "losses.py"]) == 1
    assert [f["function"] for f in json.loads(capsys.readouterr().out)] == ["mse_batch"]

    assert main(["check", "--probe=all", "losses.py"]) == 1
    out = capsys.readouterr().out
    report, section = out.split("\n\nProbed ")
    assert "(in loss mse_batch) [probe: confirmed: returns shape ()" in report
    assert report.rstrip().endswith("Found 1 problem (1 error) in 1 file.")
    assert section.splitlines() == [
        "3 losses without findings: 1 refuted (per-sample), 1 confirmed collapsed, 1 inconclusive",
        ("  losses.py:7: confirmed: gram_total: returns shape () for y_pred of shape (None, 4): the batch "
         "axis is gone; with sample_weight [1, 0, 0, 0] Keras would report 2.44 where the per-sample loss "
         "gives 0.01"),
        ("  losses.py:16: inconclusive: scaled: the loss needs `scale`, which losslint does not define: "
         "line 14: it is computed by module-level code that losslint does not run"),
    ]

    # A bare --probe still probes the flagged losses only, also with the path right after it.
    assert main(["check", "--probe", "losses.py"]) == 1
    out = capsys.readouterr().out
    assert "[probe: confirmed:" in out and "Probed" not in out and "gram_total" not in out


def test_probe_all_keeps_the_exit_status_the_json_array_and_the_not_losses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "losses.py", MIXED)
    (tmp_path / "losslint.toml").write_text('ignore = ["LL101"]\nnot-losses = ["scaled"]\n')
    # No finding left: exit 0 even though the probe confirms two collapses (`--probe all`,
    # with a space, is the same option).
    assert main(["check", "--probe", "all", "losses.py"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("All checks passed (1 file scanned).\n\n")
    section = out.split("\n\n", 1)[1].splitlines()
    assert section[0] == ("Probed 3 losses without findings: 1 refuted (per-sample), 2 confirmed "
                          "collapsed, 0 inconclusive")
    assert [line.split(": ")[2] for line in section[1:]] == ["mse_batch", "gram_total"]
    # JSON stays the array of findings, with nothing about the other losses; a note says where
    # they are shown. --quiet drops the section.
    assert main(["check", "--probe=all", "--format", "json", "--isolated", "losses.py"]) == 1
    captured = capsys.readouterr()
    findings = json.loads(captured.out)
    assert [(f["function"], f["probe"]["verdict"]) for f in findings] == [("mse_batch", "confirmed")]
    assert "text format only" in captured.err
    assert main(["check", "--probe=all", "-q", "--isolated", "losses.py"]) == 1
    out = capsys.readouterr().out
    assert "mse_batch" in out and "Probed" not in out


def test_probe_keeps_its_meaning_as_a_bare_flag():
    def parsed(*args):
        params = check.make_context("check", list(args)).params
        return params["probe"], params["paths"], params["exclude"]

    assert parsed("--probe", "src") == ("flagged", ("src",), ())
    assert parsed("a", "--probe", "b", "c") == ("flagged", ("a", "b", "c"), ())
    assert parsed("--probe") == ("flagged", (), ())
    assert parsed("--probe", "--format", "json", "src") == ("flagged", ("src",), ())
    assert parsed("--probe", "-", "src") == ("flagged", ("-", "src"), ())
    assert parsed("--probe=all", "src") == ("all", ("src",), ())
    assert parsed("--probe", "all", "src") == ("all", ("src",), ())
    assert parsed("--probe", "flagged") == ("flagged", (), ())
    assert parsed("src") == (None, ("src",), ())
    # The value of another option is left alone, and so is everything after `--`.
    assert parsed("--exclude", "--probe", "src") == (None, ("src",), ("--probe",))
    assert parsed("--probe", "--", "src") == ("flagged", ("src",), ())


def test_probe_rejects_an_unknown_scope(capsys):
    assert main(["check", "--probe=everything", str(FIXTURES / "rules" / "ll101_tf_reduce.py")]) == 2
    assert "'everything' is not one of 'flagged', 'all'" in capsys.readouterr().err


# --- shapes from the model in the loss's file ---------------------------------------------------


def inferred(tmp_path: Path, code: str):
    path = write(tmp_path, "model.py", code)
    scan = scan_paths([str(path)], Settings())
    (module,) = scan.project.modules
    return [(shape.pair, shape.source) for shape in infer_shapes(scan.project, module)]


def test_shapes_are_inferred_from_the_last_dense_or_conv_layer(tmp_path):
    dense = inferred(tmp_path, """
        from tensorflow import keras
        NUM_CLASSES = 10
        inputs = keras.Input(shape=(32,))
        x = keras.layers.Dense(64, activation="relu")(inputs)
        outputs = keras.layers.Dense(units=NUM_CLASSES, activation="softmax")(x)
    """)
    assert dense == [
        ((("float32", (None, 10)), ("float32", (None, 10))), "`Dense(10)` at " + str(tmp_path / "model.py") + ":6"),
        ((("int32", (None,)), ("float32", (None, 10))), "`Dense(10)` at " + str(tmp_path / "model.py") + ":6"),
    ]
    conv = inferred(tmp_path, """
        import tensorflow as tf
        from tensorflow.keras import layers
        IMG = (128, 96, 3)
        inputs = layers.Input(IMG)
        x = layers.Conv2D(16, 3, padding="same")(inputs)
        x = layers.Dense(4)(x)
        outputs = layers.Conv2D(filters=2, kernel_size=1)(x)
    """)
    assert [pair for pair, _ in conv] == [
        (("float32", (None, 128, 96, 2)), ("float32", (None, 128, 96, 2))),
        (("int32", (None, 128, 96)), ("float32", (None, 128, 96, 2))),
    ]
    assert conv[0][1].endswith(":8 and the input shape at " + str(tmp_path / "model.py") + ":5")
    # Keras 2's input_shape= on the first layer; the last layer is a Dense here.
    sequential = inferred(tmp_path, """
        import tensorflow as tf
        model = tf.keras.Sequential([
            tf.keras.layers.Conv2D(8, 3, input_shape=(28, 28, 1)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(7),
        ])
    """)
    assert sequential[0][0] == (("float32", (None, 7)), ("float32", (None, 7)))
    # A Conv2D without a literal input shape: the channels only.
    assert inferred(tmp_path, """
        import keras
        def head(x, size):
            return keras.layers.Conv2D(3, 1)(keras.layers.Input(shape=size))
    """)[0][0] == (("float32", (None, None, None, 3)), ("float32", (None, None, None, 3)))


def test_no_shape_is_inferred_from_what_is_not_literal_or_not_a_keras_layer(tmp_path):
    assert inferred(tmp_path, """
        from tensorflow import keras
        def build(classes):
            return keras.layers.Dense(classes)
    """) == []
    assert inferred(tmp_path, """
        from tensorflow import keras
        n = 4
        n = 5
        out = keras.layers.Dense(n)
    """) == []  # bound twice: which one?
    assert inferred(tmp_path, """
        import tensorflow as tf
        class Dense:
            def __init__(self, n): ...
        layer = tf.keras.layers.Dense(3)
        mine = Dense(12)
    """)[0][0] == (("float32", (None, 3)), ("float32", (None, 3)))  # the user's own Dense is not one
    assert inferred(tmp_path, "import tensorflow as tf\n") == []


INDEXING_LOSS = """
    import tensorflow as tf
    from tensorflow import keras

    NUM_CLASSES = 10

    def last_class_loss(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true[:, 9] - y_pred[:, 9]))

    def build():
        inputs = keras.Input(shape=(32,))
        x = keras.layers.Dense(64, activation="relu")(inputs)
        outputs = keras.layers.Dense(units=NUM_CLASSES, activation="softmax")(x)
        return keras.Model(inputs, outputs)
"""


def test_a_collapse_that_needs_the_models_shape_is_confirmed_thanks_to_inference(tmp_path, pool):
    path = write(tmp_path, "train.py", INDEXING_LOSS)
    # Without inference, y_pred[:, 9] fails on every default shape.
    blind = probe_named(path, "last_class_loss", pool, infer_shapes=False)
    assert blind.verdict == "inconclusive"
    assert blind.evidence.startswith("the loss does not trace with any input shape tried")
    result = probe_named(path, "last_class_loss", pool)
    assert result.verdict == "confirmed"
    assert dict(result.input_shapes) == {"y_true": "(None, 10)", "y_pred": "(None, 10)"}
    assert result.evidence == (
        "returns shape () for y_pred of shape (None, 10): the batch axis is gone "
        f"(shapes from the model: `Dense(10)` at {path}:13)")
    # --probe-shape wins over the model.
    given = probe_named(path, "last_class_loss", pool, shapes=probe.parse_shapes(["y_pred=(None, 12)"]))
    assert dict(given.input_shapes)["y_pred"] == "(None, 12)"
    assert "from the model" not in given.evidence


def test_inferred_shapes_go_first_and_the_defaults_still_follow(tmp_path, pool):
    path = write(tmp_path, "seg.py", """
        import tensorflow as tf
        from tensorflow.keras import layers

        def channel_4(y_true, y_pred):
            return tf.reduce_sum(tf.abs(y_true[..., 4] - y_pred[..., 4]), axis=(1, 2))

        def vector_only(y_true, y_pred):
            y_pred = tf.ensure_shape(y_pred, (None, 4))
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

        inputs = layers.Input((16, 16, 1))
        outputs = layers.Conv2D(filters=5, kernel_size=1)(inputs)
    """)
    results = probe_named(path, None, pool)
    assert results["channel_4"].verdict == "refuted"
    assert dict(results["channel_4"].input_shapes)["y_pred"] == "(None, 16, 16, 5)"
    assert "from the model: `Conv2D(5, ...)`" in results["channel_4"].evidence
    # Not the model's shape: the default (None, 4) is tried after it, and wins.
    assert results["vector_only"].verdict == "refuted"
    assert dict(results["vector_only"].input_shapes)["y_pred"] == "(None, 4)"
    assert "from the model" not in results["vector_only"].evidence


def test_probe_shapes_from_the_configuration_file_are_used(tmp_path, monkeypatch, capsys):
    # No model in the file, so only the configured shape lets y_pred[:, 9] trace.
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "losses.py", """
        import tensorflow as tf

        def last_class_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true[:, 9] - y_pred[:, 9]))
    """)
    write(tmp_path, "losslint.toml", 'probe-shapes = ["y_pred=(None, 12)"]\nprobe-timeout = 60\n')
    assert main(["check", "--probe", "--format", "json", "losses.py"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert finding["probe"]["verdict"] == "confirmed"
    assert finding["probe"]["input_shapes"]["y_pred"] == "(None, 12)"
