"""The definition of a right fix (issue: fixes that keep what the loss means), checked with
real TensorFlow on the `--unsafe-fixes` fixture pairs: for every sample, Keras' value for it
(the mean of the fixed loss's row over its remaining axes) equals the original loss run on a
batch holding that sample alone."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from losslint.cli import main

FIXES = Path(__file__).parent.parent / "fixtures" / "fixes"
# The collapsing losses of each pair (`worst` is a max, which has no fix).
LOSSES = {"sum_unsafe": ("sse_tf", "sae_backend", "sse_ops"),
          "image_sums_unsafe": ("dice_masks", "jaccard_backend", "sse_flat")}
CASES = [(pair, name) for pair, names in LOSSES.items() for name in names]


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixed_pairs(tmp_path_factory):
    """(original module, module fixed by `check --fix --unsafe-fixes`) per fixture pair."""
    work = tmp_path_factory.mktemp("batch_of_one")
    modules = {}
    for pair in LOSSES:
        fixed = work / f"{pair}_fixed.py"
        shutil.copyfile(FIXES / f"{pair}.in.py", fixed)
        main(["check", "--fix", "--unsafe-fixes", "--quiet", str(fixed)])
        assert fixed.read_bytes() == (FIXES / f"{pair}.out.py").read_bytes()
        modules[pair] = _module(FIXES / f"{pair}.in.py", f"{pair}_original"), _module(fixed, f"{pair}_fixed")
    return modules


@pytest.mark.parametrize("pair, name", CASES)
def test_each_sample_gets_the_loss_of_that_sample_alone(fixed_pairs, pair, name):
    import tensorflow as tf

    original, fixed = (getattr(module, name) for module in fixed_pairs[pair])
    rng = np.random.default_rng(7)
    y_true = tf.constant((rng.random((5, 64, 64, 1)) > 0.6).astype("float32"))
    y_pred = tf.constant(rng.random((5, 64, 64, 1)).astype("float32"))
    per_sample = np.asarray(fixed(y_true, y_pred))
    assert per_sample.shape[0] == 5
    keras_values = per_sample.reshape(5, -1).mean(axis=1)
    alone = np.array([float(original(y_true[i:i + 1], y_pred[i:i + 1])) for i in range(5)])
    np.testing.assert_allclose(keras_values, alone, rtol=1e-4)
    # and the original really collapsed the batch: one number for all five samples
    assert np.asarray(original(y_true, y_pred)).shape == ()
