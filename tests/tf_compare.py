"""Run a fixture's losses before and after a fix, in a fresh Python with TensorFlow.

    compare(tmp_path, before, after, losses, shape, labels="uniform", traced=False) -> dict

Shared by the fixer's tests (tests/test_fix.py, tests/test_fix_ll104.py): each loss of the
two modules is called eagerly on the same random batch; with `traced`, the fixed one also runs
under `tf.function` with an unknown batch size, as Keras' fit() calls it. Per loss the result
holds `old_shape`, `old` (values), `new_shape`, `new` and, when traced, `graph` (values) and
`static` (the traced output's static shape).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

_RUNNER = textwrap.dedent('''
    import importlib.util, json, sys
    import numpy as np
    import tensorflow as tf

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    before, after = load("before", sys.argv[1]), load("after", sys.argv[2])
    shape, labels, traced = tuple(json.loads(sys.argv[3])), sys.argv[4], sys.argv[5] == "traced"
    rng = np.random.default_rng(0)
    if labels == "binary":
        y_true = (rng.uniform(size=shape) > 0.6).astype("float32")
    else:
        y_true = rng.uniform(0.05, 0.95, shape).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, shape).astype("float32")
    results = {}
    for name in sys.argv[6:]:
        old = np.asarray(getattr(before, name)(y_true, y_pred))
        new = np.asarray(getattr(after, name)(y_true, y_pred))
        result = {"old_shape": list(old.shape), "old": old.tolist(), "new_shape": list(new.shape),
                  "new": new.tolist()}
        if traced:  # batch size unknown: what Keras does in fit()
            spec = tf.TensorSpec((None,) + shape[1:], tf.float32)
            function = tf.function(getattr(after, name), input_signature=[spec, spec])
            result["graph"] = np.asarray(function(y_true, y_pred)).tolist()
            result["static"] = function.get_concrete_function().structured_outputs.shape.as_list()
        results[name] = result
    print(json.dumps(results))
''')


def compare(tmp_path: Path, before: Path, after: Path, losses: list[str], shape: tuple[int, ...],
            labels: str = "uniform", traced: bool = False) -> dict:
    runner = tmp_path / "runner.py"
    runner.write_text(_RUNNER)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    completed = subprocess.run(
        [sys.executable, str(runner), str(before), str(after), json.dumps(shape), labels,
         "traced" if traced else "eager", *losses],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted(losses)
    return results
