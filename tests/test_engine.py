"""The engine's contract beyond which line gets which code (that is tests/test_fixtures.py):
names of losses, how they were found, message content, de-duplication, file-level errors,
and the promise that the static path never imports TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from losslint.api import check_paths, check_source
from losslint.ftypes import Settings, Severity


def findings(code: str, path: str = "train.py", **settings):
    return check_source(textwrap.dedent(code), path, Settings(**settings))


def test_factory_inner_function_is_named_by_its_qualname():
    (finding,) = findings(
        """
        import tensorflow as tf

        def focal_loss(gamma=2.0):
            def focal(y_true, y_pred):
                return tf.reduce_mean(tf.pow(1.0 - y_pred, gamma) * y_true)
            return focal

        model = tf.keras.Sequential()
        model.compile(optimizer="adam", loss=focal_loss(gamma=3.0))
        """
    )
    assert (finding.code, finding.function, finding.loss_source) == ("LL101", "focal_loss.<locals>.focal", "compile")
    assert (finding.line, finding.column) == (6, 16)
    assert finding.severity is Severity.ERROR


def test_loss_subclass_and_lambda_names():
    result = findings(
        """
        import keras
        from keras import ops

        class RangeLoss(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return ops.max(ops.abs(y_true - y_pred))

        model = keras.Sequential()
        model.compile(loss=lambda t, p: ops.sum(ops.square(t - p)))
        """
    )
    assert [(f.function, f.loss_source, f.line) for f in result] == [
        ("RangeLoss.call", "loss-subclass", 7),
        ("<lambda>", "compile", 10),
    ]


def test_signature_inferred_losses_say_so():
    (finding,) = findings(
        """
        from tensorflow.keras import backend as K

        def rmse_loss(y_true, y_pred):
            return K.sqrt(K.mean(K.square(y_pred - y_true)))
        """,
        path="losses.py",
    )
    assert finding.loss_source == "signature"
    assert "(y_true, y_pred) signature" in finding.message


def test_messages_say_what_why_and_how_to_fix():
    result = findings(
        """
        import tensorflow as tf

        def total(y_true, y_pred):
            return tf.reduce_sum(tf.square(y_true - y_pred))

        def over_batch(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=0)

        def with_object(y_true, y_pred):
            return tf.keras.losses.CategoricalCrossentropy()(y_true, y_pred)

        def l2(y_true, y_pred):
            return tf.nn.l2_loss(y_true - y_pred)

        def per_batch_size(y_true, y_pred):
            return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1) / tf.cast(tf.shape(y_true)[0], tf.float32)
        """
    )
    by_code = {f.code: f.message for f in result}
    assert set(by_code) == {"LL101", "LL102", "LL103", "LL104", "LL201"}
    for code in ("LL101", "LL102", "LL103", "LL104"):
        assert "sample/class weights" in by_code[code], code
    assert "grows with the batch size" in by_code["LL101"]
    assert "axis=-1" in by_code["LL101"] and "axis=-1" in by_code["LL102"]
    assert 'reduction="none"' in by_code["LL103"]
    assert "tf.nn.l2_loss" in by_code["LL104"]
    assert "batch size" in by_code["LL201"] and "sum_over_batch_size" in by_code["LL201"]
    assert next(f for f in result if f.code == "LL201").severity is Severity.WARNING


def test_a_helper_shared_by_two_losses_is_reported_once():
    result = findings(
        """
        import keras.backend as K

        def dice_coef(y_true, y_pred, smooth=1.0):
            intersection = K.sum(y_true * y_pred)
            return (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)

        def dice_loss(y_true, y_pred):
            return 1.0 - dice_coef(y_true, y_pred)

        def bce_dice_loss(y_true, y_pred):
            return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1) + dice_loss(y_true, y_pred)

        def build(model):
            model.compile(loss=bce_dice_loss, metrics=[dice_coef])
            other = model
            other.compile(loss=dice_loss)
        """
    )
    assert [(f.line, f.code) for f in result] == [(5, "LL101"), (6, "LL101"), (6, "LL101")]
    assert {f.function for f in result} == {"dice_loss"}  # the first loss, in source order, that reaches it
    assert all("(via `dice_coef`)" in f.message for f in result)


def test_select_and_ignore_use_prefixes():
    code = """
        import tensorflow as tf
        def a(y_true, y_pred):
            return tf.reduce_sum(y_true - y_pred, axis=0)
        def b(y_true, y_pred):
            return tf.reduce_sum(y_true - y_pred)
    """
    assert [f.code for f in findings(code, select=("LL10",), ignore=("LL102",))] == ["LL101"]
    assert [f.code for f in findings(code, ignore=("LL1",))] == []


def test_syntax_error_and_undecodable_files_are_reported_and_the_scan_goes_on(tmp_path):
    (tmp_path / "broken.py").write_text("def loss(y_true, y_pred)\n    return y_pred\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9t\xe9'\n")
    (tmp_path / "good.py").write_text(
        "import tensorflow as tf\n\ndef l(y_true, y_pred):\n    return tf.reduce_max(y_pred)\n"
    )
    report = check_paths([str(tmp_path)], Settings())
    codes = {(f.path.rsplit("/", 1)[-1], f.code, f.line) for f in report.findings}
    assert ("broken.py", "LL901", 1) in codes
    assert ("latin.py", "LL902", 1) in codes
    assert ("good.py", "LL101", 4) in codes
    assert report.files_scanned == 3 and report.errors == []


def test_notebook_findings_point_at_cell_and_line():
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
             "source": ["%matplotlib inline\n", "import tensorflow as tf\n"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
             "source": ["def my_loss(y_true, y_pred):\n", "    return tf.reduce_mean(tf.abs(y_true - y_pred))\n"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 3,
             "source": ["model.compile(loss=my_loss)\n"]},
        ],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (finding,) = check_source(json.dumps(notebook), "train.ipynb")
    assert (finding.cell, finding.line, finding.column, finding.code) == (3, 2, 12, "LL101")
    assert finding.loss_source == "compile"


def test_the_static_path_never_imports_tensorflow(tmp_path):
    # A tensorflow (and keras) that explodes on import: any import on the static path fails.
    for name in ("tensorflow", "keras", "tf_keras"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the static path imported me')\n")
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\n\ndef l(y_true, y_pred):\n    return tf.reduce_mean(y_pred)\n"
    )
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from losslint.cli import main; sys.argv = ['losslint', 'check', sys.argv[2]]; sys.exit(main())"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(tmp_path / "train.py")],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "LL101" in result.stdout
    assert "imported me" not in result.stderr


def test_a_loss_passed_through_a_parameter_is_followed_to_its_callers():
    result = findings(
        """
        import tensorflow as tf

        def l1_total(a, b):
            return tf.reduce_sum(tf.abs(a - b))

        def l1_per_sample(a, b):
            return tf.reduce_sum(tf.abs(a - b), axis=-1)

        def train(model, loss_fn, epochs=1):
            model.compile(optimizer="adam", loss=loss_fn)

        class Trainer:
            def fit(self, model, loss):
                model.compile(loss=loss)

        train(tf.keras.Sequential(), l1_total)
        train(tf.keras.Sequential(), loss_fn=l1_per_sample)
        Trainer().fit(None, lambda t, p: tf.reduce_max(t - p))
        """
    )
    assert [(f.line, f.function, f.loss_source) for f in result] == [
        (5, "l1_total", "compile"),
        (19, "<lambda>", "compile"),
    ]


def test_expressions_nested_thousands_deep_are_reported_not_fatal(tmp_path):
    terms = " + ".join(["tf.reduce_mean(y_pred)"] * 1200)  # deeper than the recursion limit
    (tmp_path / "generated.py").write_text(f"import tensorflow as tf\n\ndef l(y_true, y_pred):\n    return {terms}\n")
    (tmp_path / "nested.py").write_text("import tensorflow as tf\nx = " + "(" * 150 + "1" + ")" * 150 + "\n")
    (tmp_path / "good.py").write_text(
        "import tensorflow as tf\n\ndef l(y_true, y_pred):\n    return tf.reduce_sum(y_pred)\n"
    )
    report = check_paths([str(tmp_path)], Settings())
    by_file = {(f.path.rsplit("/", 1)[-1], f.code) for f in report.findings}
    assert ("generated.py", "LL901") in by_file
    assert ("good.py", "LL101") in by_file
    assert not any(name == "nested.py" for name, _ in by_file)


def test_a_reduction_of_two_flattens_names_the_first_one_in_the_source():
    # The flattens are a set inside the evaluator; the message must not depend on its order
    # (found by the fuzz campaign: a recovered file and its repaired text disagreed).
    source = (
        "import tensorflow as tf\nfrom keras import ops\n\n"
        "def flat_mse(y_true, y_pred):\n"
        "    t = ops.reshape(y_true, [-1])\n"
        "    p = tf.reshape(y_pred, (-1,))\n"
        "    return tf.reduce_mean(tf.square(t - p))\n"
    )
    for _ in range(5):
        (finding,) = check_source(source)
        assert finding.code == "LL104"
        assert finding.message.startswith("`tf.reduce_mean` of `ops.reshape(...)` reduces the batch")
