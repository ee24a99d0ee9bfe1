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


def test_a_function_with_extra_parameters_that_a_loss_binds_is_a_part_of_that_loss(tmp_path):
    # `robust_crossentropy(y_true, y_pred, logit_var)` is a loss only once its extra parameter
    # is bound; the wrapper's closure binds it, so the closure is the loss.
    (tmp_path / "losses.py").write_text(
        "import tensorflow as tf\n\n"
        "def robust_crossentropy(y_true, y_pred, logit_var):\n"
        "    return tf.reduce_mean(tf.exp(-logit_var) * tf.square(y_true - y_pred))\n\n"
        "def bayesian_wrapper(logit_var):\n"
        "    def bayesian_crossentropy(y_true, y_pred):\n"
        "        return robust_crossentropy(y_true, y_pred, logit_var)\n"
        "    return bayesian_crossentropy\n\n"
        "def triplet_margin(y_true, y_pred, n_dims):\n"
        "    return tf.reduce_mean(tf.square(y_pred[:, :n_dims] - y_pred[:, n_dims:]))\n")
    assert losses_of(tmp_path) == {"bayesian_wrapper.<locals>.bayesian_crossentropy", "triplet_margin"}


def test_a_backend_handed_over_at_run_time_is_read_and_said(tmp_path):
    (tmp_path / "functional.py").write_text(
        "def bce(gt, pr, **kwargs):\n"
        "    backend = kwargs['backend']\n"
        "    return backend.mean(backend.binary_crossentropy(gt, pr))\n\n"
        "def pixel_bce(gt, pr, backend):\n"
        "    return backend.mean(backend.binary_crossentropy(gt, pr), axis=[1, 2])\n")
    (tmp_path / "losses.py").write_text(
        "import keras\nfrom functional import bce, pixel_bce\n\n"
        "class BCELoss:\n"
        "    def __call__(self, gt, pr):\n        return bce(gt, pr, backend=keras.backend)\n\n"
        "class PixelBCELoss:\n"
        "    def __call__(self, gt, pr):\n        return pixel_bce(gt, pr, keras.backend)\n")
    (finding,) = check_paths([str(tmp_path)], Settings(), jobs=1).findings
    assert (finding.code, Path(finding.path).name, finding.line) == ("LL101", "functional.py", 3)
    assert "(`backend` is set at run time: read as `keras.backend`)" in finding.message
    assert finding.losses == ("BCELoss.__call__",)
