"""A file with a syntax error: LL901 where it is, and the definitions that parse still analysed
(losslint/recovery.py), at their true positions, and never rewritten by --fix."""

from __future__ import annotations

import textwrap

from losslint import fix
from losslint.api import check_paths
from losslint.ftypes import Settings
from losslint.recovery import without_broken_definitions

# A loss library as real repositories have it: one function with a misplaced docstring
# (an IndentationError for the whole file), the others fine.
LOSSES = textwrap.dedent('''\
    import tensorflow as tf
    from tensorflow.keras import backend as K


    def dice_loss(smooth=1e-6):
        def loss_function(y_true, y_pred):
            intersection = K.sum(y_true * y_pred)
            return 1 - (2.0 * intersection + smooth) / (K.sum(y_true) + K.sum(y_pred) + smooth)
        return loss_function


    def tversky_loss(delta=0.7):
        def loss_function(y_true, y_pred):
            tp = K.sum(y_true * y_pred, axis=[1, 2])
        """Tversky loss: a docstring one level too far left."""
            return 1 - tp
        return loss_function


    @tf.keras.utils.register_keras_serializable()
    def focal_loss(y_true, y_pred, gamma=2.0):
        p = K.clip(y_pred, 1e-7, 1 - 1e-7)
        return K.mean(-y_true * K.pow(1 - p, gamma) * K.log(p))
    ''')


def scan(tmp_path, text=LOSSES):
    path = tmp_path / "loss_functions.py"
    path.write_text(text)
    return path, sorted((f.line, f.code, f.function) for f in check_paths([str(path)], Settings()).findings)


def test_the_syntax_error_is_reported_and_the_other_losses_are_analysed(tmp_path):
    _, found = scan(tmp_path)
    assert [f for f in found if f[1] == "LL901"] == [(16, "LL901", None)]  # the over-indented return
    assert [f for f in found if f[1] != "LL901"] == [
        (7, "LL101", "dice_loss.<locals>.loss_function"),
        (8, "LL101", "dice_loss.<locals>.loss_function"),
        (8, "LL101", "dice_loss.<locals>.loss_function"),
        (23, "LL101", "focal_loss"),  # the decorator came along with its function
    ]


def test_a_recovered_file_is_never_fixed(tmp_path):
    path, _ = scan(tmp_path)
    before = path.read_bytes()
    run = fix.fix_paths([str(path)], Settings(), unsafe=True)
    assert path.read_bytes() == before
    assert not run.applied and not run.fixed
    assert {plan.reason for plan in run.remaining if plan.finding.code == "LL101"} == {
        "the file has a syntax error: fix it first"}


def test_lines_keep_their_numbers():
    repaired = without_broken_definitions(LOSSES)
    assert repaired is not None
    assert repaired.count("\n") == LOSSES.count("\n")
    kept = [line for line in repaired.splitlines() if line]
    assert "def tversky_loss(delta=0.7):" not in kept
    assert "def dice_loss(smooth=1e-6):" in kept and "def focal_loss(y_true, y_pred, gamma=2.0):" in kept


def test_nothing_to_keep_or_nothing_broken_gives_none():
    assert without_broken_definitions("def f(:\n    pass\n") is None
    assert without_broken_definitions("x = 1\n\ndef f():\n    return x\n") is None


def test_a_file_that_cannot_be_split_stays_a_syntax_error(tmp_path):
    _, found = scan(tmp_path, "import tensorflow as tf\nx = (1,\n")
    assert [code for _, code, _ in found] == ["LL901"]
