"""What losslint knows about TensorFlow and Keras APIs, as data.

Every entry is keyed by a *canonical* qualified name. `canonical()` maps the many spellings of
one API onto it: `tf.keras.backend.mean`, `tensorflow.python.keras.backend.mean`,
`tf_keras.backend.mean` and `keras.backend.mean` are all `keras.backend.mean`. The evaluator
(evaluate.py) asks this module what a call does to the batch axis; no other module hard-codes
an API name. To teach losslint a new API, add a line here and a fixture that shows it.

Facts behind the entries: shared/keras-loss-semantics.md, section 3 (shapes measured under
Keras 3.15.1 and tf_keras 2.21.0 on TensorFlow 2.21.0).
"""

from __future__ import annotations

from dataclasses import dataclass

# Spelling -> canonical prefix. Longest prefixes first; the first match wins.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v2.keras.", "keras."),
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("keras.api._v2.keras.", "keras."),
    ("keras._tf_keras.keras.", "keras."),
    ("tf_keras.src.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.ops.numpy.", "keras.ops."),
    ("keras.src.ops.", "keras.ops."),
    ("keras.ops.numpy.", "keras.ops."),
    ("keras.src.backend.", "keras.backend."),
    ("keras.src.losses.losses.", "keras.losses."),
    ("keras.src.losses.loss.", "keras.losses."),
    ("keras.src.losses.", "keras.losses."),
    ("keras.src.metrics.", "keras.metrics."),
    ("keras.losses.loss.", "keras.losses."),
    ("keras.losses.losses.", "keras.losses."),
    ("tensorflow.compat.v2.", "tensorflow."),
    ("tensorflow.math.", "tensorflow."),
    ("tensorflow.linalg.norm", "tensorflow.norm"),
    ("tensorflow.experimental.numpy.", "tensorflow.experimental.numpy."),
    ("keras.layers.core.", "keras.layers."),
)

_EXACT: dict[str, str] = {
    "tensorflow.keras": "keras",
    "tf_keras": "keras",
    "tensorflow.python.keras": "keras",
    # tf.losses in TF2 is tf.keras.losses (classes and per-sample functions); TF1-style
    # calls are recognised by their keywords instead (see V1_LOSS_KEYWORDS).
}


def canonical(qualified: str) -> str:
    """One spelling per API: see the module docstring."""
    if qualified in _EXACT:
        return _EXACT[qualified]
    for prefix, replacement in _PREFIXES:
        if qualified.startswith(prefix):
            return replacement + qualified[len(prefix):]
    return qualified


@dataclass(frozen=True)
class Reduction:
    """A function that reduces over `axis` (None by default: every axis, the batch included).

    `axis_position` is the index of `axis` when passed positionally; `code` is the rule a
    batch-collapsing use reports (count_nonzero is a scalar-by-construction API, LL104).
    """

    family: str
    axis_position: int = 1
    code: str = "LL101"


def _reductions() -> dict[str, Reduction]:
    table: dict[str, Reduction] = {}
    # TensorFlow: tf.reduce_* is tf.math.reduce_* (canonical() folds tf.math.* onto tf.*).
    for family in ("mean", "sum", "max", "min", "prod", "logsumexp", "any", "all", "std",
                   "variance", "euclidean_norm"):
        table[f"tensorflow.reduce_{family}"] = Reduction(family)
    table["tensorflow.norm"] = Reduction("norm", axis_position=2)
    table["tensorflow.count_nonzero"] = Reduction("count_nonzero", code="LL104")
    for family in ("mean", "sum", "max", "min", "prod", "std", "var"):
        table[f"tensorflow.experimental.numpy.{family}"] = Reduction(family)
    # Keras 2 backend (also reachable as tf.keras.backend under Keras 3).
    for family in ("mean", "sum", "max", "min", "prod", "std", "var", "any", "all", "logsumexp"):
        table[f"keras.backend.{family}"] = Reduction(family)
    # keras.ops (Keras 3, every backend).
    for family in ("mean", "sum", "max", "min", "prod", "std", "var", "logsumexp", "amax", "amin",
                   "median", "all", "any"):
        table[f"keras.ops.{family}"] = Reduction(family)
    table["keras.ops.norm"] = Reduction("norm", axis_position=2)
    table["keras.ops.count_nonzero"] = Reduction("count_nonzero", code="LL104")
    # Counts of each value over every element (`axis=None`), the batch included: class
    # frequencies of the batch (`tf.math.bincount(arr, weights, minlength, maxlength, dtype,
    # name, axis)`).
    table["tensorflow.bincount"] = Reduction("bincount", axis_position=6)
    return table


REDUCTIONS: dict[str, Reduction] = _reductions()

# Reductions whose result grows with the number of elements, so a batch-collapsing use also
# makes the loss (and the effective learning rate) scale with the batch size.
SCALE_WITH_BATCH = frozenset({"sum", "logsumexp", "count_nonzero", "norm", "euclidean_norm"})


@dataclass(frozen=True)
class ScalarApi:
    """A call that returns one number for the whole batch by construction (LL104).

    `unless_keyword`: the call keeps the batch when this keyword is given (`axis` for Keras 3's
    dice/tversky, `reduction=NONE` for the TF1 losses).
    """

    description: str
    unless_keyword: str | None = None


SCALAR_APIS: dict[str, ScalarApi] = {
    "tensorflow.nn.l2_loss": ScalarApi("returns sum(x ** 2) / 2 over every element, the batch included"),
    "tensorflow.nn.compute_average_loss": ScalarApi(
        "averages over the global batch; it belongs in custom training loops, not in a compiled loss"
    ),
    "keras.losses.dice": ScalarApi("defaults to axis=None and computes one Dice over the whole batch",
                                   unless_keyword="axis"),
    "keras.losses.tversky": ScalarApi("defaults to axis=None and computes one Tversky index over the whole batch",
                                      unless_keyword="axis"),
}

# TF1 losses: every `tf.compat.v1.losses.<fn>` reduces with SUM_BY_NONZERO_WEIGHTS by default.
V1_LOSSES_PREFIX = "tensorflow.compat.v1.losses."
# `tf.losses.<fn>` means TF1 when called with TF1 keywords (TF2's tf.losses is tf.keras.losses,
# whose functions take y_true/y_pred and are per-sample).
TF_LOSSES_PREFIX = "tensorflow.losses."
V1_LOSS_KEYWORDS = frozenset({"labels", "predictions", "logits", "weights", "scope",
                              "loss_collection", "reduction", "onehot_labels",
                              "multi_class_labels"})


def is_v1_loss_call(qualified: str, keywords: set[str]) -> bool:
    """A TF1 loss function: `tf.compat.v1.losses.<fn>(...)`, or `tf.losses.<fn>(...)` called
    with TF1 keywords (`labels=`, `predictions=`...)."""
    for prefix, needs_v1_keywords in ((V1_LOSSES_PREFIX, False), (TF_LOSSES_PREFIX, True)):
        if qualified.startswith(prefix):
            name = qualified[len(prefix):]
            if "." in name or not name[:1].islower():
                return False
            return not needs_v1_keywords or bool(V1_LOSS_KEYWORDS & keywords)
    return False


# Calls that merge the batch axis into the elements: any reduction afterwards collapses it.
# The diagonal of two axes, axes 0 and 1 unless told (NumPy's convention, which keras.ops
# follows): of a batch tensor, the batch axis is one of them (`tf.linalg.diag_part` takes the
# last two, and is not here).
DIAGONALS = frozenset({"keras.ops.diagonal", "numpy.diagonal", "jax.numpy.diagonal",
                       "tensorflow.experimental.numpy.diagonal"})
FLATTENERS = frozenset({"keras.backend.flatten", "keras.ops.ravel", "tensorflow.experimental.numpy.ravel"})
# reshape(x, shape): flattening when `shape` is the literal [-1] / (-1,).
RESHAPES = frozenset({"tensorflow.reshape", "keras.ops.reshape", "keras.backend.reshape",
                      "tensorflow.experimental.numpy.reshape"})
# Calls that keep the batch and flatten the rest: result is (batch, n).
BATCH_FLATTENERS = frozenset({"keras.backend.batch_flatten"})
# Layer classes that do the same when called: Flatten()(x).
BATCH_FLATTEN_LAYERS = frozenset({"keras.layers.Flatten"})

# Shape queries: `[0]` of the result is the batch size.
SHAPE_FUNCS = frozenset({"tensorflow.shape", "keras.backend.shape", "keras.ops.shape",
                         "tensorflow.compat.v1.shape"})
# Static shapes: their `[0]` is None while tracing, never the batch size as a tensor.
STATIC_SHAPE_FUNCS = frozenset({"keras.backend.int_shape"})
# Number of elements, batch included: dividing a per-sample loss by it mixes the batch in.
SIZE_FUNCS = frozenset({"tensorflow.size", "keras.ops.size", "keras.backend.count_params"})
# Conversions that keep their argument's value: a batch size cast to float is still the batch
# size. Any other call that takes the batch size (`tf.eye(tf.shape(z)[0])`) builds something
# new from it and is not a division by the batch size.
CASTS = frozenset({"tensorflow.cast", "tensorflow.dtypes.cast", "tensorflow.to_float", "tensorflow.saturate_cast",
                   "tensorflow.convert_to_tensor", "tensorflow.identity", "keras.backend.cast",
                   "keras.ops.cast", "keras.ops.convert_to_tensor", "keras.backend.cast_to_floatx",
                   "float", "int"})
# Calls that return plain numbers about a tensor, never the tensor's data.
METADATA_FUNCS = frozenset({"tensorflow.rank", "keras.backend.ndim", "keras.ops.ndim",
                            "keras.backend.dtype", "keras.backend.epsilon", "keras.backend.floatx",
                            "keras.config.epsilon", "keras.config.floatx", "len", "isinstance"})

# Element-wise combinations of several tensors. "additive" ones broadcast a collapsed operand
# back onto every sample (the collapsed term still reaches the result unchanged); the
# "multiplicative" ones scale each sample by it (a batch statistic used as normaliser: LL201).
ADDITIVE = frozenset({
    "tensorflow.add", "tensorflow.subtract", "tensorflow.maximum", "tensorflow.minimum",
    "tensorflow.add_n", "tensorflow.clip_by_value", "tensorflow.where", "tensorflow.where_v2",
    "keras.ops.add", "keras.ops.subtract", "keras.ops.maximum", "keras.ops.minimum",
    "keras.ops.where", "keras.ops.clip",
    "keras.backend.maximum", "keras.backend.minimum", "keras.backend.switch",
    "keras.backend.clip", "tensorflow.experimental.numpy.where",
})
MULTIPLICATIVE = frozenset({
    "tensorflow.multiply", "tensorflow.divide", "tensorflow.truediv", "tensorflow.realdiv",
    "tensorflow.divide_no_nan", "tensorflow.multiply_no_nan", "tensorflow.xdivy",
    "tensorflow.pow", "tensorflow.scalar_mul",
    "keras.ops.multiply", "keras.ops.divide", "keras.ops.true_divide", "keras.ops.divide_no_nan",
    "keras.ops.power", "keras.backend.pow",
})

# Element-wise functions of one tensor (besides ADDITIVE and MULTIPLICATIVE): the flatten fix
# (losslint/fix.py) follows flattened values through them to the reductions it rewrites.
ELEMENTWISE = frozenset({
    f"{namespace}.{name}"
    for namespace in ("tensorflow", "keras.backend", "keras.ops")
    for name in ("square", "abs", "sqrt", "exp", "log", "sigmoid", "cast", "round", "sign")
} | {"tensorflow.clip_by_value", "tensorflow.pow", "tensorflow.log1p", "keras.backend.clip", "keras.backend.pow",
     "keras.ops.clip", "keras.ops.power", "keras.ops.log1p"})

# Products of two tensors: of two batch tensors the result is a pairwise (batch, batch)
# matrix, whose single-axis reductions reduce over *other samples* (contrastive losses).
PRODUCTS = frozenset({
    "tensorflow.matmul", "tensorflow.linalg.matmul", "tensorflow.tensordot", "tensorflow.einsum",
    "tensorflow.linalg.einsum", "keras.ops.matmul", "keras.ops.dot", "keras.ops.tensordot",
    "keras.ops.einsum", "keras.ops.outer", "keras.backend.dot", "tensorflow.experimental.numpy.matmul",
})
# Products that contract their first operand's first axis when told to transpose it
# (`tf.matmul(za, zb, transpose_a=True)`: a features x features matrix of the whole batch,
# as in Barlow Twins and VICReg): by keyword name.
FIRST_AXIS_CONTRACTIONS = {"tensorflow.matmul": ("transpose_a", "adjoint_a"),
                           "tensorflow.linalg.matmul": ("transpose_a", "adjoint_a")}
# Per-sample products: keep the batch axis in place.
BATCH_PRODUCTS = frozenset({"keras.backend.batch_dot"})
# Move the batch axis away from position 0 (unless a perm starting with 0 is given).
TRANSPOSES = frozenset({"tensorflow.transpose", "keras.ops.transpose", "keras.backend.transpose",
                        "tensorflow.linalg.matrix_transpose", "tensorflow.linalg.adjoint"})
EXPAND_DIMS = frozenset({"tensorflow.expand_dims", "keras.ops.expand_dims", "keras.backend.expand_dims"})
# Remove size-1 axes: one less axis per axis named; how many without `axis` is not visible.
SQUEEZES = frozenset({"tensorflow.squeeze", "keras.ops.squeeze", "keras.backend.squeeze",
                      "tensorflow.experimental.numpy.squeeze"})
# Stack a list of tensors along a new axis (0 by default): of per-sample values, the batch.
STACKS = frozenset({"tensorflow.stack", "keras.ops.stack", "keras.backend.stack"})
# Join a list of tensors along an existing axis: the default axis of each.
CONCATS = {"tensorflow.concat": 0, "keras.backend.concatenate": -1, "keras.ops.concatenate": 0,
           "tensorflow.experimental.numpy.concatenate": 0, "keras.layers.concatenate": -1}
# Add up a list of tensors element-wise (`tf.add_n(losses)`, `sum(losses)`).
SEQUENCE_SUMS = frozenset({"sum", "tensorflow.add_n", "tensorflow.accumulate_n"})
# Python builtins that build sequences from sequences (`zip(y_trues, y_preds)`).
ITERATORS = frozenset({"zip", "enumerate", "list", "tuple", "sorted", "reversed", "iter"})
# `functools.partial(fn_or_class, ...)`: calling it calls the first argument.
PARTIALS = frozenset({"functools.partial"})
# Look up rows of a table by index (`tf.gather(class_weights, labels)`): a table computed
# from the batch scales each sample it is looked up for.
LOOKUPS = frozenset({"tensorflow.gather", "tensorflow.gather_nd", "keras.ops.take", "keras.ops.take_along_axis",
                     "keras.backend.gather", "tensorflow.nn.embedding_lookup", "tensorflow.experimental.numpy.take"})
# Sums over segments of rows (every sample's rows into one row per segment): the batch reduced.
SEGMENT_REDUCTIONS = frozenset({
    f"tensorflow.{kind}segment_{op}" for kind in ("", "unsorted_") for op in ("sum", "mean", "max", "min", "prod")
} | {"tensorflow.unsorted_segment_sqrt_n", "keras.ops.segment_sum", "keras.ops.segment_max"})
# Element-wise losses with an argument that scales each element: (keyword, position).
WEIGHT_ARGUMENTS = {"tensorflow.nn.weighted_cross_entropy_with_logits": ("pos_weight", 2)}
# The diagonal of a pairwise matrix: one value per sample.
DIAGONALS = frozenset({"tensorflow.linalg.diag_part", "tensorflow.linalg.tensor_diag_part",
                       "tensorflow.diag_part", "keras.ops.diagonal", "keras.ops.diag"})
# Per-sample mapping: the mapped function sees one sample; the result keeps the batch.
PER_SAMPLE_MAPS = frozenset({"tensorflow.map_fn", "tensorflow.vectorized_map", "keras.ops.vectorized_map",
                             "keras.ops.map", "keras.backend.map_fn"})
# Branches given as callables: the result is one of the branches' values.
CONDS = frozenset({"tensorflow.cond", "keras.ops.cond", "keras.backend.in_train_phase",
                   "keras.backend.in_test_phase", "tensorflow.__internal__.smart_cond.smart_cond",
                   "tensorflow.python.framework.smart_cond.smart_cond", "keras.utils.control_flow_util.smart_cond"})
# Calls whose first argument is a loss function to be wrapped as a Keras loss.
LOSS_WRAPPERS = frozenset({"keras.losses.LossFunctionWrapper", "keras.__internal__.losses.LossFunctionWrapper",
                           "keras.losses.get", "keras.losses.deserialize"})
# Calls whose dict argument registers custom objects by name.
CUSTOM_OBJECT_CALLS = frozenset({
    "keras.models.load_model", "keras.saving.load_model", "keras.utils.custom_object_scope",
    "keras.utils.CustomObjectScope", "keras.saving.custom_object_scope",
    "keras.saving.CustomObjectScope", "keras.models.model_from_json", "keras.models.model_from_config",
    "keras.models.clone_model", "keras.saving.deserialize_keras_object",
    "keras.utils.deserialize_keras_object",
})
# Functions that run their argument in a custom training loop (a scalar is right there).
STRATEGY_RUNS = frozenset({"run", "experimental_run_v2"})
GRADIENT_TAPES = frozenset({"tensorflow.GradientTape"})

# Namespaces of Keras' own Loss and Metric classes (CamelCase names under them are classes).
LOSS_NAMESPACES = ("keras.losses.", "tensorflow.losses.", "tensorflow.compat.v1.keras.losses.")
METRIC_NAMESPACES = ("keras.metrics.", "tensorflow.metrics.")
# Base classes whose subclasses' `call(self, y_true, y_pred)` Keras uses as the per-sample loss.
LOSS_BASES = frozenset({"keras.losses.Loss", "keras.losses.LossFunctionWrapper"})


def is_loss_class(name: str) -> bool:
    """`keras.losses.MeanSquaredError`, `keras.losses.Loss`, ...: CamelCase under a loss namespace."""
    return _camel_under(name, LOSS_NAMESPACES)


def is_metric_class(name: str) -> bool:
    return _camel_under(name, METRIC_NAMESPACES)


def _camel_under(name: str, namespaces: tuple[str, ...]) -> bool:
    for namespace in namespaces:
        if name.startswith(namespace):
            rest = name[len(namespace):]
            return "." not in rest and rest[:1].isupper() and rest != "Reduction"
    return False


# Per-sample loss functions that average (or sum) over the last axis: their result has one
# axis less than their inputs (so of a value that is one number per sample, the batch goes).
# Value: the inputs whose rank counts, by (position, keyword); the sparse ones only y_pred's.
def _last_axis_losses() -> dict[str, tuple[tuple[int, str], ...]]:
    both = ((0, "y_true"), (1, "y_pred"))
    table: dict[str, tuple[tuple[int, str], ...]] = {}
    for namespace in ("keras.losses.", "keras.metrics."):
        for name in ("mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE",
                     "mean_absolute_percentage_error", "mape", "MAPE", "mean_squared_logarithmic_error",
                     "msle", "MSLE", "binary_crossentropy", "categorical_crossentropy",
                     "binary_focal_crossentropy", "categorical_focal_crossentropy", "kl_divergence",
                     "kld", "KLD", "kullback_leibler_divergence", "poisson", "hinge", "squared_hinge",
                     "categorical_hinge", "log_cosh", "logcosh", "huber", "cosine_similarity"):
            table[namespace + name] = both
        table[namespace + "sparse_categorical_crossentropy"] = ((1, "y_pred"),)
    table["keras.backend.categorical_crossentropy"] = ((0, "target"), (1, "output"))
    table["keras.backend.sparse_categorical_crossentropy"] = ((1, "output"),)
    table["tensorflow.nn.softmax_cross_entropy_with_logits"] = ((0, "labels"), (1, "logits"))
    table["tensorflow.nn.sparse_softmax_cross_entropy_with_logits"] = ((1, "logits"),)
    return table


LAST_AXIS_LOSSES = _last_axis_losses()

# NumPy: its functions cannot take the symbolic tensors of a traced loss (NotImplementedError).
NUMPY_PREFIX = "numpy."

# Integer ranges: `axis=tf.range(1, tf.rank(x))` is every axis but the batch.
RANGES = frozenset({"range", "tensorflow.range", "keras.ops.arange", "numpy.arange",
                    "tensorflow.experimental.numpy.arange"})

# Names that mark a `(y_true, y_pred)` function as a metric rather than a loss when no compile
# call says otherwise (a library of metrics returns scalars on purpose).
# Matched against the words of the name (`dice_coef` -> dice, coef), not substrings:
# `jaccard_distance` is not an accuracy.
METRIC_NAME_HINTS = frozenset({"coef", "coeff", "coefficient", "acc", "accuracy", "metric", "iou",
                               "score", "precision", "recall", "f1", "fscore", "auc", "psnr", "ssim",
                               "index", "miou", "r2", "rsquared", "perplexity", "kappa",
                               "corr", "correlation", "pearson", "spearman", "kendall", "kendalls",
                               "tau", "sensitivity", "specificity", "confusion", "tp", "tn",
                               "fp", "fn", "positive", "positives", "negative", "negatives", "similarity"})
# Words that name a metric only as the last word of a name (`true_neg`, not `neg_log_likelihood`).
METRIC_HEAD_WORDS = METRIC_NAME_HINTS | {"neg", "pos"}
# Trailing words that say a name is a function, not what it computes (`loss_fn`, `dice_func`,
# `focal_impl`): the head word is the one before them.
FUNCTION_SUFFIXES = frozenset({"fn", "fns", "func", "function", "fun", "fcn", "impl", "internal",
                               "inner", "wrapper", "wrapped", "closure"})
# Whole names that are metrics when nothing compiles them as a loss (`mae_batch` may be a loss).
METRIC_NAMES = frozenset({"mae", "mape"})
# A name with one of these words is a loss whatever else it says (`dice_coef_loss`).
LOSS_NAME_WORDS = frozenset({"loss", "losses", "objective", "cost", "criterion", "crossentropy", "xent",
                             "nll", "hinge", "huber", "logcosh"})
# Scoring rules of forecasting (`quantile_score`, `brier_score`): named "score", minimised as
# losses. Still a metric's name outside a losses module, like any `score`.
SCORING_RULES = frozenset({"quantile", "pinball", "brier", "crps", "interval"})
# Words that make a variable a table of losses (`LOSSES`, `global_loss_list`, `loss_fns`):
# what it holds may be handed to Keras by name, so a loss-shaped entry is a weak candidate.
LOSS_REGISTRY_WORDS = frozenset({"loss", "losses"})
# Modules whose (y_true, y_pred) functions are evaluation code, unless named like losses.
METRIC_MODULE_NAMES = frozenset({"metrics", "metric", "evaluation", "evaluate", "eval", "stats",
                                 "statistics", "scores", "scoring"})
# NumPy reductions: on symbolic tensors they fail at trace time (not a silent collapse), so a
# (y_true, y_pred) function that uses them is evaluation code, not a Keras loss.
NUMPY_REDUCTIONS = frozenset(f"numpy.{name}" for name in (
    "mean", "sum", "max", "min", "std", "var", "median", "average", "prod", "count_nonzero",
    "nanmean", "nansum", "amax", "amin", "percentile", "quantile", "corrcoef", "argmax", "argmin",
    "unique", "histogram", "bincount", "trapz"))
# What everybody means by these names when a file uses them without importing them (a notebook
# cell whose imports are in an earlier cell, a snippet, a star import the scan cannot see).
CONVENTIONAL_ALIASES = {
    "tf": "tensorflow",
    "K": "keras.backend",
    "np": "numpy",
    "keras": "keras",
}
# Names that mean a module when what binds them is not something the scan can follow: a
# library that is handed its backend at run time (`backend = kwargs["backend"]`,
# `def dice(gt, pr, backend)`, `self.backend`) means the Keras backend by it.
INJECTED_MODULES = {
    "backend": "keras.backend",
    "K": "keras.backend",
}
# Gradients of a value with respect to tensors, as a list: of a batch loss with respect to a
# model input (a WGAN-GP's interpolated samples), each gradient is batch data.
GRADIENTS = frozenset({"keras.backend.gradients", "tensorflow.gradients"})
# Names that mean one API whatever object they are read from, when that object is not one
# the scan can follow (a lazy-import proxy: `KERAS_DEPS.reduce_mean`, `deps.Loss`): TensorFlow's
# `reduce_*` names exist nowhere else, and `Loss` is read only as a class base with `call`.
DUCK_APIS = {
    **{f"reduce_{name}": f"tensorflow.reduce_{name}" for name in (
        "mean", "sum", "max", "min", "prod", "logsumexp", "std", "variance", "euclidean_norm",
        "any", "all")},
    "Loss": "keras.losses.Loss",
    "LossFunctionWrapper": "keras.losses.LossFunctionWrapper",
}
# How packages that re-export TensorFlow under their own names spell them (`tf_reduce_mean`,
# `K_sum`): an imported name with one of these prefixes and a DUCK_APIS name after it.
DUCK_IMPORT_PREFIXES = ("tf_", "K_", "k_", "keras_")
# Class names that are Keras' Loss bases wherever they are imported from, when the scan does
# not hold that module (`from ..base import Loss` in a file checked alone).
LOSS_BASE_NAMES = frozenset({"Loss", "LossFunctionWrapper"})
# Packages whose attributes are their own: never read by DUCK_APIS.
API_ROOTS = frozenset({"tensorflow", "keras", "tf_keras", "numpy", "jax", "torch", "scipy"})
# What builds a functional model from its inputs and outputs (`Model(inputs, outputs)`), and
# the layer that wraps a function (`Lambda(yolo_loss, ...)(tensors)`), by their last name:
# a model whose output is a loss computed by a Lambda layer, compiled with an identity loss.
MODEL_BUILDERS = frozenset({"Model", "Functional"})
LAMBDA_LAYERS = frozenset({"Lambda"})
# Receivers of `.compile` that are not Keras models.
NOT_MODEL_COMPILE = frozenset({"re", "regex", "torch", "jax", "numba", "tensorflow.compat.v1"})

# The words without which a file can give the finder nothing: no loss (compile calls,
# `(y_true, y_pred)` signatures, `call` of a Loss subclass, wrappers, custom-object registries)
# and no name that excludes a candidate (metrics are named in compile calls; training-step
# methods, GradientTape blocks, per-sample maps, `strategy.run`). A group of files none of which
# contains one is not parsed (losslint/prefilter.py, second stage). Keep in step with
# losslint/finder.py and the call names losslint/project.py records.
LOSS_ENTRY_WORDS = frozenset({
    "compile", "y_true", "y_pred", "LossFunctionWrapper", "get_custom_objects", "custom_objects",
    "GradientTape", "map_fn", "vectorized_map", "map", *STRATEGY_RUNS,
    "train_step", "test_step", "predict_step", "compute_loss",
    *(name.rpartition(".")[2] for name in LOSS_WRAPPERS | CUSTOM_OBJECT_CALLS),
}) - {"get"}  # `keras.losses.get(fn)` matters only inside a compile call
