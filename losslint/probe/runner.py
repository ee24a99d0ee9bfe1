"""The probe's worker: `python -m losslint.probe.runner MEMORY_BYTES ROOT...`.

Started by losslint/probe/pool.py in a fresh temporary folder. It limits its own address
space, takes out of `sys.path` every folder that holds scanned code (so a user module can only
come from the slices it is sent), imports TensorFlow once, says `{"ready": ...}`, then reads
one job per line on stdin and writes one result per line on its own copy of stdout. User code
printing to stdout goes to stderr instead and cannot corrupt the protocol.

For each job it installs the source slices as modules, takes `__losslint_loss__`, and:

1. traces it with `tf.function` and an input signature whose batch dimension is None, trying
   vector, image, sequence and sparse-label shapes in that order (or the user's shapes); the
   first that traces wins. A result of rank 0, or with a static first dimension, has lost the
   batch axis: `confirmed`.
2. otherwise runs it on batches of 4 and 6 random samples, on the first sample alone, and on
   the batch of 6 with the last sample changed: if a sample's value is not its value alone,
   or the values of the other samples move, the samples are coupled (`confirmed`), else the
   loss returns independent per-sample values (`refuted`). (A loss that does not run on one
   sample, or gives NaN there, skips the sample-alone comparison.)
3. for a confirmed loss, shows the harm: Keras's own reduction with `sample_weight
   [1, 0, 0, 0]` applied to the loss's value on the batch, against the same reduction applied
   to the loss's value on each sample alone.

This module imports nothing from losslint at run time and nothing outside the standard
library until a job arrives.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import traceback

DEFAULT_SHAPES = [
    [("float32", (None, 4)), ("float32", (None, 4))],
    [("float32", (None, 8, 8, 3)), ("float32", (None, 8, 8, 3))],
    [("float32", (None, 5, 4)), ("float32", (None, 5, 4))],
    [("int32", (None,)), ("float32", (None, 4))],
]
LOSS_NAME = "__losslint_loss__"
# A safe fix must keep the loss's value: Keras's mean of the new values against the old value.
VERIFY_RTOL = 1e-4
VERIFY_ATOL = 1e-6


class _CannotRun(Exception):
    """The original loss does not run with any shape tried: verification is inconclusive."""


def _isolate(roots: list[str]) -> None:
    """Drop '' and every sys.path entry that contains scanned code."""
    cwd = os.getcwd()
    kept = []
    for entry in sys.path:
        path = os.path.abspath(entry or cwd)
        if entry in ("", ".") or path == cwd:
            continue
        if any(root == path or root.startswith(path.rstrip(os.sep) + os.sep) for root in roots):
            continue
        kept.append(entry)
    sys.path[:] = kept


def _shape_text(shape) -> str:
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


class Worker:
    def __init__(self) -> None:
        import numpy as np
        import tensorflow as tf

        self.np = np
        self.tf = tf
        self.legacy = os.environ.get("TF_USE_LEGACY_KERAS") == "1"
        if self.legacy:
            import tf_keras as keras
        else:
            import keras
        self.keras = keras

    # -- installing slices -------------------------------------------------------------
    def install(self, modules: list[dict]):
        import types

        installed = []
        main = None
        for spec in modules:
            name = spec["name"]
            parts = name.split(".")
            for cut in range(1, len(parts)):
                parent = ".".join(parts[:cut])
                if parent not in sys.modules:
                    package = types.ModuleType(parent)
                    package.__path__ = []
                    package.__package__ = parent
                    sys.modules[parent] = package
                    installed.append(parent)
            module = types.ModuleType(name)
            module.__package__ = spec["package"]
            module.__file__ = f"<losslint slice of {spec['display']}>"
            if spec["is_package"]:
                module.__path__ = []
            sys.modules[name] = module
            installed.append(name)
            if len(parts) > 1:
                setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)
            code = compile(spec["source"], module.__file__, "exec")
            exec(code, module.__dict__)
            main = module
        return main, installed

    # -- one job -----------------------------------------------------------------------
    def run(self, job: dict) -> dict:
        if job.get("kind") == "verify":
            return self.verify(job)
        installed: list[str] = []
        try:
            try:
                main, installed = self.install(job["modules"])
            except NameError as exc:
                return self._inconclusive_name(exc, job, "while defining the loss")
            except Exception as exc:
                return {"verdict": "inconclusive",
                        "evidence": f"defining the loss failed: {_describe(exc)}"}
            loss = getattr(main, LOSS_NAME, None)
            problem = self._check_identity(loss, job["qualname"])
            if problem:
                return {"verdict": "inconclusive", "evidence": problem}
            shapes = job.get("shapes") or DEFAULT_SHAPES
            shapes = [[(d, tuple(s)) for d, s in pair] for pair in shapes]
            try:
                return self.probe(loss, shapes)
            except NameError as exc:
                return self._inconclusive_name(exc, job, "while running the loss")
        finally:
            for name in installed:
                sys.modules.pop(name, None)

    def _inconclusive_name(self, exc: NameError, job: dict, when: str) -> dict:
        name = getattr(exc, "name", None)
        if not name:  # autograph re-raises NameErrors without the attribute
            match = re.search(r"name '(\w+)' is not defined", str(exc))
            name = match.group(1) if match else None
        why = job.get("skipped", {}).get(name) if name else None
        if why:
            text = f"the loss needs `{name}`, which losslint does not define: {why}"
        else:
            text = f"{when}: {_describe(exc)}"
        return {"verdict": "inconclusive", "evidence": text}

    def _check_identity(self, loss, qualname: str) -> str | None:
        if loss is None or not callable(loss):
            return f"building the loss gave {type(loss).__name__}, not a function"
        func = loss
        while True:
            inner = getattr(func, "func", None) or getattr(func, "__func__", None)
            if inner is None or inner is func:
                break
            func = inner
        name = getattr(func, "__qualname__", None)
        if name is not None and name != qualname and qualname != "<lambda>":
            return f"building the loss gave `{name}`, not `{qualname}`"
        return None

    # -- verifying a fix (losslint/probe/verify.py) --------------------------------------
    def verify(self, job: dict) -> dict:
        """Run the loss before (`old`) and after (`new`) a fix on the same random batches.

        The original picks the input shapes (the first candidate it traces with, else runs
        eagerly with); the fixed loss must then return the batch axis first, for batches of 6
        and 4, give each sample of the first batch the original's value on that sample alone,
        and for a safe fix (`job["safe"]`) the mean of its values must be the original value.
        Each version's slices are installed only while it is defined and
        traced: both use the same module names.
        """
        np = self.np
        shapes = job.get("shapes") or DEFAULT_SHAPES
        candidates = [[(d, tuple(s)) for d, s in pair] for pair in shapes]
        old, problem = self._with_loss(job["old"], lambda loss: self._run_original_and_alone(loss, candidates))
        if problem:
            return {"verdict": "inconclusive", "evidence": f"the original loss: {problem}"}
        pair, symbolic, batches, old_values, alone = old
        shapes = {"y_true": _shape_text(pair[0][1]), "y_pred": _shape_text(pair[1][1])}
        new, problem = self._with_loss(job["new"], lambda loss: self._run_fixed(loss, pair, symbolic, batches))
        if problem:
            return {"verdict": "inconclusive", "evidence": f"the fixed loss: {problem}"}
        failure, new_values, shape_text = new
        result = {"input_shapes": shapes}
        if failure:
            return {**result, "verdict": "failed", "evidence": failure}
        for (y_true, _), value in zip(batches, new_values):
            size = len(y_true)
            if value.ndim == 0 or value.shape[0] != size:
                return {**result, "verdict": "failed",
                        "evidence": f"the fixed loss returns shape {_shape_text(value.shape)} for a batch of "
                                    f"{size}: the batch axis was merged or reduced"}
        if not all(np.all(np.isfinite(v)) for v in [*old_values, *new_values]):
            return {**result, "verdict": "inconclusive",
                    "evidence": "the loss returns NaN or infinity on the probe's random inputs"}
        how = "" if symbolic else " (run eagerly: the original does not trace with a None batch dimension)"
        if alone is not None:
            # What a right fix is: Keras' value for each sample (the mean of its row) is the
            # original loss on a batch holding that sample alone.
            y_true, new_value = batches[0][0], new_values[0]
            rows = new_value.astype("float64").reshape(len(y_true), -1).mean(axis=1)
            for index, (fixed, original) in enumerate(zip(rows, alone)):
                if not np.isclose(fixed, original, rtol=VERIFY_RTOL, atol=VERIFY_ATOL):
                    return {**result, "verdict": "failed",
                            "evidence": f"sample {index} gives {_num(fixed)} fixed, {_num(original)} alone "
                                        f"(batch of {len(y_true)}, y_pred of shape {shapes['y_pred']}): each "
                                        "sample's value must be the original loss on that sample alone"}
        if job.get("safe"):
            for (y_true, _), old_value, new_value in zip(batches, old_values, new_values):
                before = float(np.mean(old_value.astype("float64")))
                after = float(np.mean(new_value.astype("float64")))
                if not np.isclose(after, before, rtol=VERIFY_RTOL, atol=VERIFY_ATOL):
                    return {**result, "verdict": "failed",
                            "evidence": f"the mean of the fixed loss's values is {_num(after)} where the "
                                        f"original returns {_num(before)} (batch of {len(y_true)}, "
                                        f"y_pred of shape {shapes['y_pred']})"}
            evidence = (f"returns shape {shape_text} for y_pred of shape {shapes['y_pred']}, and the mean "
                        f"of its values is the original value on random batches of 6 and 4{how}")
        else:
            evidence = f"returns shape {shape_text} for y_pred of shape {shapes['y_pred']}{how}"
        if alone is not None:
            evidence += ", and each sample's value is the original loss on that sample alone"
        return {**result, "verdict": "verified", "evidence": evidence}

    def _with_loss(self, spec: dict, use):
        """(use(loss), None) with `spec`'s slices installed, or (None, why it cannot run)."""
        installed: list[str] = []
        try:
            try:
                main, installed = self.install(spec["modules"])
            except NameError as exc:
                return None, self._inconclusive_name(exc, spec, "while defining the loss")["evidence"]
            except Exception as exc:
                return None, f"defining the loss failed: {_describe(exc)}"
            loss = getattr(main, LOSS_NAME, None)
            problem = self._check_identity(loss, spec["qualname"])
            if problem:
                return None, problem
            try:
                return use(loss), None
            except NameError as exc:
                return None, self._inconclusive_name(exc, spec, "while running the loss")["evidence"]
            except _CannotRun as exc:
                return None, str(exc)
        finally:
            for name in installed:
                sys.modules.pop(name, None)

    def _traced(self, loss, pair):
        tf = self.tf
        (true_dtype, true_shape), (pred_dtype, pred_shape) = pair
        signature = [tf.TensorSpec(true_shape, true_dtype), tf.TensorSpec(pred_shape, pred_dtype)]
        return tf.function(lambda y_true, y_pred: loss(y_true, y_pred), input_signature=signature,
                           autograph=True).get_concrete_function()

    def _run_original(self, loss, candidates):
        """(pair, traced?, batches, values): the first shapes the original traces and runs with,
        else the first it runs with eagerly. Raises _CannotRun."""
        np, tf = self.np, self.tf
        errors = []
        for pair in candidates:
            batches = [self.batch(pair, 6, seed=0), self.batch(pair, 4, seed=3)]
            try:
                concrete = self._traced(loss, pair)
                values = [np.asarray(concrete(*b)) for b in batches]
            except NameError:
                raise
            except Exception as exc:
                errors.append((_shape_text(pair[1][1]), _describe(exc)))
                continue
            return pair, True, batches, values
        for pair in candidates:
            batches = [self.batch(pair, 6, seed=0), self.batch(pair, 4, seed=3)]
            try:
                values = [np.asarray(loss(tf.constant(a), tf.constant(b))) for a, b in batches]
            except NameError:
                raise
            except Exception:
                continue
            return pair, False, batches, values
        if len(set(message for _, message in errors)) == 1:
            detail = errors[0][1]
        else:
            detail = "; ".join(f"{shape}: {message}" for shape, message in errors)
        raise _CannotRun(f"it does not run with any input shape tried ({detail}); give one with --probe-shape")

    def _run_original_and_alone(self, loss, candidates):
        """`_run_original`'s (pair, traced?, batches, values), and the original's value on each
        sample of the first batch alone (None when it does not run on a batch of one)."""
        pair, symbolic, batches, values = self._run_original(loss, candidates)
        np, tf = self.np, self.tf
        run = self._traced(loss, pair) if symbolic else (lambda a, b: loss(tf.constant(a), tf.constant(b)))
        y_true, y_pred = batches[0]
        try:
            alone = [float(np.mean(np.asarray(run(y_true[i:i + 1], y_pred[i:i + 1])).astype("float64")))
                     for i in range(len(y_true))]
        except NameError:
            raise
        except Exception:
            alone = None  # (a loss that needs two samples at least: pairs, triplets)
        if alone is not None and not all(np.isfinite(alone)):
            alone = None
        return pair, symbolic, batches, values, alone

    def _run_fixed(self, loss, pair, symbolic: bool, batches):
        """(failure or None, values, symbolic shape text)."""
        np, tf = self.np, self.tf
        shape_text = "(None, ...)"
        if symbolic:
            try:
                concrete = self._traced(loss, pair)
            except NameError:
                raise
            except Exception as exc:
                return (f"the fixed loss does not trace where the original does: "
                        f"{_without_graph_noise(_describe(exc))}"), [], shape_text
            output = concrete.structured_outputs
            if not isinstance(output, tf.Tensor):
                return f"the fixed loss returns {type(output).__name__}, not one tensor", [], shape_text
            shape = output.shape
            if shape.rank is not None:
                shape_text = _shape_text(shape.as_list())
                if shape.rank == 0 or shape[0] is not None:
                    return (f"the fixed loss returns shape {shape_text} for y_pred of shape "
                            f"{_shape_text(pair[1][1])}: the batch axis is gone"), [], shape_text
            run = concrete
        else:
            run = lambda a, b: loss(tf.constant(a), tf.constant(b))  # noqa: E731
        try:
            values = [np.asarray(run(*b)) for b in batches]
        except NameError:
            raise
        except Exception as exc:
            return f"running the fixed loss failed: {_without_graph_noise(_describe(exc))}", [], shape_text
        return None, values, shape_text

    # -- the probe ---------------------------------------------------------------------
    def probe(self, loss, candidates) -> dict:
        tf = self.tf
        errors = []
        for pair in candidates:
            (true_dtype, true_shape), (pred_dtype, pred_shape) = pair
            signature = [tf.TensorSpec(true_shape, true_dtype), tf.TensorSpec(pred_shape, pred_dtype)]
            shapes = {"y_true": _shape_text(true_shape), "y_pred": _shape_text(pred_shape)}
            try:
                traced = tf.function(lambda y_true, y_pred: loss(y_true, y_pred),
                                     input_signature=signature, autograph=True)
                concrete = traced.get_concrete_function()
            except NameError:
                raise
            except Exception as exc:
                # The refusal's own message, not the hook's source line quoted in a traceback.
                refusals = [m.group(0) for m in _SANDBOX_REFUSAL.finditer(str(exc)) if "{" not in m.group(0)]
                if refusals:  # the loss reached outside the sandbox: say that, nothing else
                    return {"verdict": "inconclusive", "evidence": refusals[-1]}
                errors.append((shapes["y_pred"], _describe(exc)))
                continue
            result = self.judge(loss, concrete, pair, shapes)
            result["input_shapes"] = shapes
            return result
        # No trace with an open batch dimension (`y_true.shape[0]` used as a number, say): run
        # the loss eagerly on concrete batches, which still shows lost or coupled samples.
        for pair in candidates:
            (true_dtype, true_shape), (pred_dtype, pred_shape) = pair
            shapes = {"y_true": _shape_text(true_shape), "y_pred": _shape_text(pred_shape)}
            eager = lambda a, b: loss(tf.constant(a), tf.constant(b))  # noqa: E731
            try:
                eager(*self.batch(pair, 6, seed=0))
            except NameError:
                raise
            except Exception:
                continue
            result = self.judge(loss, eager, pair, shapes, symbolic=False)
            result["evidence"] += " (run eagerly: it does not trace with a None batch dimension)"
            result["input_shapes"] = shapes
            return result
        if len(set(message for _, message in errors)) == 1:
            detail = errors[0][1]
        else:
            detail = "; ".join(f"{shape}: {message}" for shape, message in errors)
        return {"verdict": "inconclusive",
                "evidence": f"the loss does not trace with any input shape tried ({detail}); give one "
                            "with --probe-shape"}

    def judge(self, loss, concrete, pair, shapes, symbolic: bool = True) -> dict:
        tf, np = self.tf, self.np
        shape_text = "(None, ...)"
        if symbolic:
            output = concrete.structured_outputs
            if not isinstance(output, tf.Tensor):
                return {"verdict": "inconclusive",
                        "evidence": f"the loss returns {type(output).__name__}, not one tensor"}
            shape = output.shape
            if shape.rank is not None and (shape.rank == 0 or shape[0] is not None):
                evidence = (f"returns shape {_shape_text(shape.as_list())} for y_pred of shape "
                            f"{shapes['y_pred']}: the batch axis is gone")
                return self._confirmed(concrete, pair, evidence)
            if shape.rank is not None:
                shape_text = _shape_text(shape.as_list())
        # The batch axis is still there symbolically: look at the numbers.
        data6 = self.batch(pair, 6, seed=0)
        try:
            out6 = np.asarray(concrete(*data6))
            out4 = np.asarray(concrete(data6[0][:4], data6[1][:4]))
            changed = [np.asarray(concrete(*self.batch(pair, 6, seed=0, change_last=mode)))
                       for mode in ("flip", "scale")]
        except Exception as exc:
            return {"verdict": "inconclusive", "evidence": f"running the loss failed: {_describe(exc)}"}
        if out6.ndim == 0 or out6.shape[0] != 6:
            count = f"{out6.shape[0]} values" if out6.ndim else "one number"
            evidence = (f"returns {count} for a batch of 6 (shape {_shape_text(out6.shape)}): "
                        "the batch axis was merged or reduced")
            return self._confirmed(concrete, pair, evidence)
        if not (np.all(np.isfinite(out6)) and np.all(np.isfinite(out4))):
            return {"verdict": "inconclusive",
                    "evidence": "the loss returns NaN or infinity on the probe's random inputs"}
        if not np.allclose(out6[:4], out4, rtol=1e-4, atol=1e-6):
            evidence = (f"keeps the batch axis (shape {shape_text}) but sample 0's value is "
                        f"{_num(_first(out6))} in a batch of 6 and {_num(_first(out4))} in a batch of 4: "
                        "each value depends on the batch")
            return self._confirmed(concrete, pair, evidence)
        alone = self._first_alone(concrete, data6)
        if alone is not None and alone.size == out6[0].size \
                and not np.allclose(out6[0].reshape(-1), alone.reshape(-1), rtol=1e-4, atol=1e-6):
            # What a per-sample loss is: each sample's value is the loss on that sample alone.
            evidence = (f"keeps the batch axis (shape {shape_text}) but sample 0's value is "
                        f"{_num(_first(out6))} in a batch of 6 and {_num(_first(alone))} alone: "
                        "each value depends on the rest of the batch")
            return self._confirmed(concrete, pair, evidence)
        for out6b in changed:
            # NaN in the changed sample itself is fine; anywhere else it is coupling.
            if out6b.shape != out6.shape or not np.allclose(out6[:5], out6b[:5], rtol=1e-4, atol=1e-6):
                evidence = (f"keeps the batch axis (shape {shape_text}) but changing the last sample "
                            f"moves sample 0's value from {_num(_first(out6))} to {_num(_first(out6b))}: "
                            "the samples are coupled")
                return self._confirmed(concrete, pair, evidence)
        return {"verdict": "refuted",
                "evidence": (f"returns shape {shape_text} for y_pred of shape "
                             f"{shapes['y_pred']}, and each sample's value depends on that sample only "
                             "(checked with batches of 4 and 6, a sample alone and by changing one sample)")}

    def _first_alone(self, concrete, data):
        """The loss on a batch holding the first sample of `data` alone, or None when it does
        not run on one sample or gives NaN (a statistic of one sample: a variance)."""
        np = self.np
        try:
            alone = np.asarray(concrete(data[0][:1], data[1][:1]))
        except Exception:
            return None
        return alone if np.all(np.isfinite(alone)) else None

    def batch(self, pair, n: int, seed: int, change_last: str | None = None):
        np = self.np
        rng = np.random.default_rng(seed)
        (true_dtype, true_shape), (pred_dtype, pred_shape) = pair
        pred_dims = (n,) + tuple(d if d is not None else 3 for d in pred_shape[1:])
        true_dims = (n,) + tuple(d if d is not None else 3 for d in true_shape[1:])
        y_pred = rng.uniform(0.05, 0.95, size=pred_dims).astype(pred_dtype)
        if true_dtype.startswith("int"):
            classes = pred_dims[-1] if len(pred_dims) > 1 else 2
            y_true = rng.integers(0, classes, size=true_dims).astype(true_dtype)
        else:
            y_true = (rng.uniform(size=true_dims) > 0.5).astype(true_dtype)
        if change_last == "flip":  # another plausible sample
            other = np.random.default_rng(seed + 1)
            y_pred[-1] = other.uniform(0.05, 0.95, size=pred_dims[1:]).astype(pred_dtype)
            if not true_dtype.startswith("int"):
                y_true[-1] = 1.0 - y_true[-1]
        elif change_last == "scale":  # an outlier: moves batch maxima, sums and norms
            y_pred[-1] = y_pred[-1] * 0.5 + 3.0
            if not true_dtype.startswith("int"):
                y_true[-1] = y_true[-1] * 4.0 + 2.0
        return y_true, y_pred

    def harm_batch(self, pair):
        """Four samples: sample 0 predicted well, the other three badly, so that a loss that
        ignores the weights [1, 0, 0, 0] shows it."""
        np = self.np
        y_true, y_pred = self.batch(pair, 4, seed=2)
        (true_dtype, _), _ = pair
        if true_dtype.startswith("int"):
            classes = y_pred.shape[-1]
            y_true = (np.arange(4 * int(np.prod(y_true.shape[1:], dtype=int))) % classes).reshape(
                y_true.shape).astype(true_dtype)
            one_hot = np.eye(classes, dtype=y_pred.dtype)[y_true]
            y_pred[0] = 0.1 + 0.6 * one_hot[0]
            y_pred[1:] = 0.1 + 0.6 * np.roll(one_hot[1:], 1, axis=-1)
        else:
            y_pred[0] = 0.1 + 0.8 * y_true[0]
            y_pred[1:] = 0.9 - 0.8 * y_true[1:]
        return y_true, y_pred

    # -- the harm of a confirmed finding -------------------------------------------------
    def _confirmed(self, concrete, pair, evidence: str) -> dict:
        result = {"verdict": "confirmed", "evidence": evidence}
        try:
            harm = self.harm(concrete, pair)
        except Exception as exc:  # the verdict stands; only the illustration failed
            harm = None
            result["harm_error"] = _describe(exc)
        if harm:
            result["harm"] = harm
        return result

    def harm(self, concrete, pair) -> str | None:
        tf, np, keras = self.tf, self.np, self.keras
        y_true, y_pred = self.harm_batch(pair)
        per_sample = []
        for i in range(4):
            value = np.asarray(concrete(y_true[i:i + 1], y_pred[i:i + 1]), dtype="float64")
            per_sample.append(float(value.mean()))
        weights = np.array([1.0, 0.0, 0.0, 0.0], dtype="float32")
        if self.legacy and len(pair[1][1]) >= 2:
            weights = weights.reshape(4, 1)  # what tf_keras's compile does for a rank-2 y_pred

        class Wrapped(keras.losses.Loss):
            def __init__(self, fn):
                super().__init__(name="probe")
                self.fn = fn

            def call(self, a, b):
                return self.fn(a, b)

        per_sample_values = tf.constant(per_sample, dtype="float32")
        reported = float(Wrapped(lambda a, b: concrete(a, b))(y_true, y_pred, sample_weight=weights))
        expected = float(Wrapped(lambda a, b: per_sample_values)(y_true, y_pred, sample_weight=weights))
        if not (np.isfinite(reported) and np.isfinite(expected)):
            return None
        if abs(reported - expected) <= 1e-6 + 1e-4 * abs(expected):
            return None
        return (f"with sample_weight [1, 0, 0, 0] Keras would report {_num(reported)} where the "
                f"per-sample loss gives {_num(expected)}")


def _without_graph_noise(text: str) -> str:
    """A TensorFlow error without the graph's node and function names."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[\[\{\{node [^}]*\}\}\]\]", "", text)
    return re.sub(r"\s*\[Op:[^\]]*\]", "", text)


def _first(values) -> float:
    return float(values.reshape(values.shape[0], -1)[0].mean()) if values.ndim else float(values)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if "in user code:" in text:  # autograph prefixes the user-code traceback: keep the message
        text = re.sub(r"^.*\*\*\s*", "", text, flags=re.DOTALL) or text
        text = re.sub(r"^\w+(Error|Exception): ", "", text.strip())
    text = " ".join(text.split())
    if len(text) > 300:
        text = text[:297] + "..."
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith("<losslint slice of "):
            where = f" ({frame.filename[len('<losslint slice of '):-1]}, in `{frame.name}`)"
            break
    return f"{type(exc).__name__}: {text or 'no message'}{where}"


# Audit events through which a loss could reach outside the worker's throwaway folder.
_PATH_EVENTS = frozenset({"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
                          "os.utime", "os.link", "os.symlink", "shutil.rmtree", "shutil.move",
                          "shutil.copyfile", "shutil.copytree", "os.chflags", "os.lchflags"})
_TWO_PATH_EVENTS = frozenset({"os.rename"})
_BLOCKED_EVENTS = frozenset({"socket.connect", "socket.bind", "socket.sendto", "subprocess.Popen",
                             "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile",
                             "ctypes.dlopen", "urllib.Request"})
_SANDBOX_REFUSAL = re.compile(r"the probe sandbox blocks [^\n)]*?(?=[)\n]|$)")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _guard(root: str) -> None:
    """Refuse, from now on, writes outside `root`, network access and new processes.

    Installed with `sys.addaudithook` once TensorFlow is loaded, so it covers the user's loss
    code and whatever Python code it calls. It is a guard against accidents (a loss that saves
    a checkpoint, a helper that downloads weights), not a security boundary: native code,
    TensorFlow's own file ops (`tf.io.write_file`) included, does not raise audit events.
    """
    root = os.path.realpath(root)
    tempfile.tempdir = root  # autograph writes the code it generates to the temporary folder

    def inside(path) -> bool:
        if isinstance(path, int):
            return True  # an open file descriptor: it was allowed when it was opened
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == root or real.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, 0))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and not inside(path):
                raise PermissionError(f"the probe sandbox blocks writing {os.fsdecode(path)!r}")
        elif event in _PATH_EVENTS and args and not inside(args[0]):
            raise PermissionError(f"the probe sandbox blocks {event} on {os.fsdecode(args[0])!r}")
        elif event in _TWO_PATH_EVENTS and args and not (inside(args[0]) and inside(args[1])):
            raise PermissionError(f"the probe sandbox blocks {event} outside its folder")
        elif event in _BLOCKED_EVENTS:
            raise PermissionError(f"the probe sandbox blocks {event}")

    sys.addaudithook(hook)


def main(argv: list[str]) -> int:
    memory = int(argv[0]) if argv else 0
    if memory > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _isolate([os.path.abspath(root) for root in argv[1:]])
    # The protocol gets its own copy of stdout; fd 1 then points at stderr for user prints.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    start = time.perf_counter()
    try:
        worker = Worker()
    except BaseException as exc:  # no TensorFlow, or it cannot start here
        protocol.write(json.dumps({"ready": False, "error": _describe(exc)}) + "\n")
        return 1
    _guard(os.getcwd())  # the worker starts in its own throwaway folder
    protocol.write(json.dumps({
        "ready": True, "startup": time.perf_counter() - start, "tensorflow": worker.tf.__version__,
        "keras": getattr(worker.keras, "__version__", "?"), "legacy": worker.legacy,
    }) + "\n")
    me = os.getpid()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        started = time.perf_counter()
        try:
            result = worker.run(job)
        except BaseException as exc:  # user code raising SystemExit or worse
            result = {"verdict": "inconclusive", "evidence": f"the loss raised {_describe(exc)}"}
        if os.getpid() != me:
            # A child the loss forked: it must not answer, nor read the next job.
            os._exit(0)
        result["id"] = job.get("id")
        result["seconds"] = time.perf_counter() - started
        protocol.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
