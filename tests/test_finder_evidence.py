"""Which (y_true, y_pred) functions are losses: the evidence the finder weighs
(losslint/finder.py, `Finder._excluded`), checked through the losses each finding reaches."""

from __future__ import annotations

from pathlib import Path

from losslint.api import check_paths
from losslint.ftypes import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def losses_of(path: Path) -> set[str]:
    report = check_paths([str(path)], Settings(), jobs=1)
    return {name for f in report.findings for name in f.losses}


def test_a_public_function_of_a_losses_module_is_a_loss_even_when_another_loss_calls_it():
    found = losses_of(FIXTURES / "attach" / "segmentation_library")
    # not `_overlap` (a private part), `true_neg` (a metric) nor `jaccard` (its loss is `1 - jaccard(...)`)
    assert found == {"tversky", "focal_tversky", "jaccard_loss", "triplet_margin"}


def test_a_helper_outside_a_losses_module_is_a_part_of_its_loss(tmp_path):
    (tmp_path / "train_utils.py").write_text(
        "import tensorflow as tf\n\n"
        "def overlap(y_true, y_pred):\n    return tf.reduce_sum(y_true * y_pred)\n\n"
        "def dice_loss(y_true, y_pred):\n    return 1.0 - 2.0 * overlap(y_true, y_pred)\n")
    assert losses_of(tmp_path) == {"dice_loss"}


def test_the_head_word_decides_between_loss_and_metric(tmp_path):
    (tmp_path / "objectives.py").write_text(
        "import tensorflow as tf\n\n"
        "def triplet_loss_accuracy(y_true, y_pred):\n    return tf.reduce_mean(y_pred)\n\n"
        "def dice_coef_loss(y_true, y_pred):\n    return 1.0 - tf.reduce_mean(y_true * y_pred)\n\n"
        "def weighted_bce_loss(w):\n"
        "    def weighted_coef(y_true, y_pred):\n        return tf.reduce_mean(w * y_true * y_pred)\n"
        "    return weighted_coef\n")
    assert losses_of(tmp_path) == {"dice_coef_loss", "weighted_bce_loss.<locals>.weighted_coef"}


def test_a_conventional_alias_nothing_binds_is_read_and_said(tmp_path):
    # A notebook cell or snippet whose imports are elsewhere: `K` is keras.backend.
    (tmp_path / "snippet.py").write_text(
        "def dice_loss(y_true, y_pred):\n    return 1.0 - 2.0 * K.sum(y_true * y_pred)\n")
    (finding,) = check_paths([str(tmp_path)], Settings(), jobs=1).findings
    assert finding.code == "LL101"
    assert "(`K` is not imported in this file: read as `keras.backend`)" in finding.message
    # Bound by an import, the alias is the import's and nothing is said.
    (tmp_path / "snippet.py").write_text(
        "from tensorflow.keras import backend as K\n\n"
        "def dice_loss(y_true, y_pred):\n    return 1.0 - 2.0 * K.sum(y_true * y_pred)\n")
    (finding,) = check_paths([str(tmp_path)], Settings(), jobs=1).findings
    assert "not imported" not in finding.message
