"""The evaluator the fixer uses: the linter's, remembering for each reduction the values it
was given and each function's returns, and more cautious about ranks (it decides fixes, never
findings)."""

from __future__ import annotations

from dataclasses import replace

from losslint import catalogue
from losslint.evaluate import Evaluator, LossObject, Value
from losslint.project import Project


# Calls whose result has lost axes the evaluator does not see (a per-sample loss function
# reduces the last axis; a boolean mask flattens): a mean of their result with `axis=-1` may
# reduce the batch. Their results count as "maybe one number per sample" here.
_AXIS_LOSING = frozenset({
    "keras.backend.categorical_crossentropy", "keras.backend.sparse_categorical_crossentropy",
    "keras.ops.categorical_crossentropy", "keras.ops.sparse_categorical_crossentropy",
    "keras.ops.binary_crossentropy",
    "tensorflow.nn.softmax_cross_entropy_with_logits", "tensorflow.nn.softmax_cross_entropy_with_logits_v2",
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits",
    "tensorflow.boolean_mask", "tensorflow.gather_nd", "tensorflow.unique", "tensorflow.dynamic_partition",
    "tensorflow.squeeze", "keras.backend.squeeze", "keras.ops.squeeze", "tensorflow.linalg.diag_part",
})


_PER_SAMPLE_FUNCTION_NAMESPACES = ("keras.losses.", "tensorflow.losses.", "keras.metrics.")


def _loses_axes(qualified: str) -> bool:
    if qualified in _AXIS_LOSING:
        return True
    for namespace in _PER_SAMPLE_FUNCTION_NAMESPACES:
        if qualified.startswith(namespace):
            rest = qualified[len(namespace):]
            return "." not in rest and rest[:1].islower()
    return False


class RecordingEvaluator(Evaluator):
    """The evaluator, remembering for each reduction call the tensors it was given.

    It is also more cautious than the linter's about ranks (it only decides fixes, never
    findings): a value that went through a reduction with an axis, a per-sample loss function
    or a `reduction="none"` loss object may be one number per sample, so it gets rank 1 and a
    later mean of it is not given `axis=-1`.
    """

    def __init__(self, project: Project, keeps_batch: tuple[str, ...] = ()) -> None:
        super().__init__(project, keeps_batch=keeps_batch)
        self.inputs: dict[int, list[tuple[catalogue.Reduction, Value]]] = {}
        self._last_args: dict[int, tuple[list[Value], dict[str, Value]]] = {}
        self.returns: dict[int, list[Value]] = {}  # by id of the function's node

    def call_function(self, function, args, kwargs, closure, depth):
        result = super().call_function(function, args, kwargs, closure, depth)
        self.returns.setdefault(id(function.node), []).append(result)
        return result

    def _args(self, node, frame):
        result = super()._args(node, frame)
        self._last_args[id(node)] = result
        return result

    def _reduction(self, node, reduction, spelled, frame):
        result = super()._reduction(node, reduction, spelled, frame)
        positional, keywords = self._last_args.get(id(node), ([], {}))
        tensor = positional[0] if positional else next(
            (keywords[k] for k in ("input_tensor", "x", "input", "tensor", "a") if k in keywords), None)
        if tensor is not None:
            self.inputs.setdefault(id(node), []).append((reduction, tensor))
        return _maybe_per_sample(result)

    def _external_call(self, node, qualified, frame):
        result = super()._external_call(node, qualified, frame)
        return _maybe_per_sample(result) if _loses_axes(qualified) else result

    def _call_loss_object(self, node, obj: LossObject, frame):
        result = super()._call_loss_object(node, obj, frame)
        return _maybe_per_sample(result) if obj.per_sample else result


def _maybe_per_sample(value: Value) -> Value:
    if value.batchy and value.rank is None:
        return replace(value, rank=1)
    return value
