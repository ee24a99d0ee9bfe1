"""The rule catalogue: every code losslint can report, with its documentation.

Code policy:
  LL1xx  errors: the loss's returned value has lost the batch axis (or never had one).
  LL2xx  warnings: the returned value keeps the batch axis but mixes samples.
  LL9xx  the file itself could not be analysed.

Each rule's documentation lives here, beside its code and severity, so `losslint rule`, the
README and the messages come from one source. The facts quoted are the measured ones in
shared/keras-loss-semantics.md (Keras 3.15 and tf_keras 2.21).
"""

from __future__ import annotations

from dataclasses import dataclass

from losslint.ftypes import Severity

WHY_PER_SAMPLE = (
    "Keras calls a loss with `y_true`, `y_pred` of shape `(batch, ...)` and expects one loss per "
    "sample back, shape `(batch,)` or `(batch, d1, ...)`. Keras itself then applies "
    "`sample_weight`, `class_weight` and masks per sample and reduces with "
    "`sum_over_batch_size`. A loss that returns one number for the whole batch still trains, "
    "but: sample and class weights only rescale the batch (with `sample_weight=[1, 0, 0, 0]` "
    "Keras reports 1.875 where the per-sample loss gives 0.25, and the model learns the "
    "unweighted optimum); masks are ignored; `reduction=\"none\"` returns a scalar; under "
    "Keras 3 with `MirroredStrategy` the gradient is multiplied by the number of replicas; and "
    "a sum makes the loss, and so the effective learning rate, grow with the batch size."
)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    what: str
    why: str
    example: str
    use_instead: str
    references: tuple[str, ...] = ()
    # What `losslint check --fix` does for this rule, and whether it keeps the loss's value
    # (losslint/fix.py): said per rule.
    fix_safety: str = "No automatic fix."

    @property
    def help_uri(self) -> str:
        """The rule's section of the README (`### LL101`), linked from SARIF and the docs."""
        return f"{DOCS_URL}#{self.code.lower()}"


DOCS_URL = "https://github.com/losslint/losslint/blob/main/README.md"

RULES: dict[str, Rule] = {}


def _register(rule: Rule) -> Rule:
    assert rule.code not in RULES, f"duplicate rule code {rule.code}"
    RULES[rule.code] = rule
    return rule


LL101 = _register(
    Rule(
        code="LL101",
        name="reduction-without-axis",
        severity=Severity.ERROR,
        summary="A reduction with no `axis` collapses the batch axis of the loss's return value.",
        what=(
            "Flags `tf.reduce_*`, `tf.math.reduce_*`, `K.mean/sum/max/...`, `keras.ops.mean/sum/...`"
            " and `tf.norm` called without `axis` (or with `axis=None`, `keepdims=True` included) "
            "on a tensor derived from `y_true`/`y_pred`, when the result reaches the value the "
            "loss returns, directly or through variables, arithmetic, branches and helpers. Running "
            "totals and lists of terms are followed too: `total = 0` then `total += term` in a loop "
            "over quantiles, classes or outputs, `losses.append(term)` then `tf.add_n(losses)`, "
            "`tf.stack(losses, axis=-1)` or `sum(losses)`, and per-sample results put back together "
            "(`tf.stack` of a loop over `y_true[i]`, the result of `tf.map_fn`), so a mean of any "
            "of them without `axis` is reported."
        ),
        why=WHY_PER_SAMPLE,
        example=(
            "def mse(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
        ),
        use_instead=(
            "def mse(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)\n"
            "# images: axis=[1, 2, 3], or axis=range(1, len(y_pred.shape))\n"
        ),
        references=(
            "https://keras.io/api/losses/#creating-custom-losses",
            "https://github.com/tensorflow/tensorflow/issues/42446",
        ),
        fix_safety=(
            "`--fix` adds `axis=-1` to a mean (`tf.reduce_mean`, `K.mean`, `keras.ops.mean`...) "
            "whose result reaches the loss only through `+`, `-` and scaling by constants, and "
            "alone (its per-sample values keep every axis but the last, so beside another "
            "per-sample term they may not broadcast): safe, "
            "Keras's mean of the per-sample means is the old value, and each sample's is its loss "
            "alone. A mean used non-linearly (`tf.sqrt(tf.reduce_mean(...))`, a ratio) and a sum "
            "are fixed only with `--unsafe-fixes`, over every axis but the batch (`axis=-1` for "
            "a known `(batch, n)`, `axis=[1, 2, 3]` for a known rank, else `tf.range(1, "
            "tf.rank(x))` or `list(range(1, K.ndim(x)))`), so a Dice over the batch becomes "
            "each image's Dice, numerator and denominator alike; the value or its scale "
            "changes. Other reductions (`max`, `norm`, `std`...) and values "
            "that may already be one number per sample are not fixed."
        ),
    )
)

LL102 = _register(
    Rule(
        code="LL102",
        name="reduction-over-batch-axis",
        severity=Severity.ERROR,
        summary="A reduction over axis 0 (the batch axis) reaches the loss's return value.",
        what=(
            "Flags reductions whose `axis` is `0`, or a list or tuple containing `0`, on a tensor "
            "whose first axis is the batch, and `axis=-1` on a value that is already one number "
            "per sample (after `y_pred[:, 0]` or a per-sample reduction), where axis -1 *is* the "
            "batch axis. Ranks are used only where the code shows them: `y_pred[:, 0]`, "
            "`K.batch_flatten`, a reshape to a literal number of axes, `tf.squeeze(x, axis=-1)`, "
            "`keepdims=True`, earlier reductions with an axis (in helpers too) and the result of "
            "`tf.map_fn`; `axis=range(ndim)` includes the batch, `axis=range(1, ndim)` (or "
            "`tf.range(1, tf.rank(x))`) does not; a Keras loss function (`keras.losses.mse`, "
            "`binary_crossentropy`...) averages the last axis, so of `y_pred[:, 0]` it averages "
            "the batch. Also flagged: a sum of per-sample values over a "
            "loop over the batch (`total += f(y_true[i], y_pred[i])`, `tf.add_n` of them) and a "
            "reduction over axis 1 of a list of per-sample terms (the batch, once the list is "
            "stacked; `axis=0` reduces the list and is fine). Reductions over axis 0 of a pairwise "
            "`(batch, batch)` matrix built with "
            "`matmul`/`einsum`/`transpose` (contrastive, triplet and NT-Xent losses) are not "
            "flagged: they reduce over other samples and keep one value per sample. A reduction "
            "over axis 0 whose result is then combined with per-sample values, so that the loss "
            "keeps its batch axis (VICReg's variance term, class counts of the batch), is LL201. "
            "Also flagged: a loss that returns what it computed from one sample picked by a "
            "constant index on the batch axis (`K.mean(cce(y_true[0], y_pred[0]))`, code written "
            "for a batch of one); combined with every sample's values instead, that index is LL201. "
            "A step on the batch axis (`emb[::3]`, `emb[1::2]`: a batch laid out as triplets or "
            "pairs) regroups the samples, so what the loss computes from it has one row per "
            "group, not per sample. "
            "And the diagonal of a batch tensor over its default axes 0 and 1 "
            "(`keras.ops.diagonal(iou)` of a `(batch, n, n)` IoU matrix); of a `(batch, batch)` "
            "similarity matrix the diagonal is each sample's own pair, and is fine."
        ),
        why=WHY_PER_SAMPLE,
        example=(
            "def weighted_bce(y_true, y_pred):\n"
            "    bce = K.binary_crossentropy(y_true, y_pred)\n"
            "    return K.mean(bce, axis=0)\n"
        ),
        use_instead=(
            "def weighted_bce(y_true, y_pred):\n"
            "    bce = K.binary_crossentropy(y_true, y_pred)\n"
            "    return K.mean(bce, axis=-1)\n"
        ),
        references=("https://keras.io/api/losses/#creating-custom-losses",),
        fix_safety=(
            "No automatic fix: which axes the reduction should keep depends on what axis 0 was "
            "meant to be."
        ),
    )
)

LL103 = _register(
    Rule(
        code="LL103",
        name="loss-object-called-in-loss",
        severity=Severity.ERROR,
        summary="A `keras.losses.Loss` or `keras.metrics.Metric` instance is called inside a loss.",
        what=(
            "Flags calling a loss *object* (`keras.losses.BinaryCrossentropy()(y_true, y_pred)`, "
            "or a `Loss` subclass instance) or a metric object inside a loss function when the "
            "result reaches the return value. `Loss.__call__` applies the default reduction and "
            "returns a scalar; a `Metric` instance also keeps a running mean across batches. "
            "Objects built once and called later are followed: at module level, as an attribute "
            "set in `__init__` (`self.bce = keras.losses.BinaryCrossentropy()`), through "
            "`functools.partial(keras.losses.BinaryCrossentropy, from_logits=True)`, handed to "
            "a combining loss's constructor (`Combined(QuantileLoss(...))` storing it on `self`), "
            "and called "
            "with `sample_weight=` too (the weights then only rescale one batch number). The "
            "lower-case functions (`keras.losses.binary_crossentropy`) are per-sample and fine, "
            "and so is an object built with `reduction=\"none\"` (or `Reduction.NONE`, or "
            "Keras 3's `reduction=None`) anywhere on its way: the constructor, the `partial`, or "
            "a subclass whose `__init__` passes it to `super().__init__`."
        ),
        why=WHY_PER_SAMPLE
        + " Under tf_keras, calling a Loss instance inside a compiled loss also raises a "
        "`ValueError` under `tf.distribute` strategies.",
        example=(
            "def smoothed_bce(y_true, y_pred):\n"
            "    bce = tf.keras.losses.BinaryCrossentropy(label_smoothing=0.1)\n"
            "    return bce(y_true, y_pred)\n"
        ),
        use_instead=(
            "def smoothed_bce(y_true, y_pred):\n"
            "    return tf.keras.losses.binary_crossentropy(y_true, y_pred, label_smoothing=0.1)\n"
            "# or: tf.keras.losses.BinaryCrossentropy(label_smoothing=0.1, reduction=\"none\")\n"
        ),
        references=("https://github.com/tensorflow/tensorflow/issues/55321",),
        fix_safety=(
            "`--fix` adds `reduction=\"none\"` to a Keras loss class built in the loss itself "
            "(inline, or in a local variable assigned once): safe when its result stands alone, "
            "since Keras averages the per-sample values it then returns into the old value; "
            "unsafe beside another per-sample term (its values keep every axis of the inputs but "
            "the last, so with another term they may not broadcast). Objects built elsewhere (`self.bce`, "
            "module globals), metric objects and the project's own Loss subclasses are not fixed."
        ),
    )
)

LL104 = _register(
    Rule(
        code="LL104",
        name="scalar-by-construction",
        severity=Severity.ERROR,
        summary="An API that returns one number for the whole batch reaches the loss's return value.",
        what=(
            "Flags `tf.nn.l2_loss`, `tf.compat.v1.losses.*` (and TF1-style `tf.losses.*` calls), "
            "`tf.nn.compute_average_loss` inside a compiled loss, `tf.math.count_nonzero` without "
            "axis, Keras 3's `keras.losses.dice` / `keras.losses.tversky` without `axis`, and any "
            "reduction of a tensor whose batch axis was flattened into its elements "
            "(`K.flatten`, `tf.reshape(x, [-1])`, `keras.ops.ravel`)."
        ),
        why=WHY_PER_SAMPLE,
        example=(
            "def dice_coef(y_true, y_pred, smooth=1.0):\n"
            "    y_true_f = K.flatten(y_true)\n"
            "    y_pred_f = K.flatten(y_pred)\n"
            "    inter = K.sum(y_true_f * y_pred_f)\n"
            "    return (2.0 * inter + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)\n"
        ),
        use_instead=(
            "def dice_coef(y_true, y_pred, smooth=1.0):\n"
            "    y_true_f = K.batch_flatten(y_true)\n"
            "    y_pred_f = K.batch_flatten(y_pred)\n"
            "    inter = K.sum(y_true_f * y_pred_f, axis=-1)\n"
            "    return (2.0 * inter + smooth) / (\n"
            "        K.sum(y_true_f, axis=-1) + K.sum(y_pred_f, axis=-1) + smooth)\n"
        ),
        references=(
            "https://github.com/keras-team/keras/issues/19637",
            "https://github.com/deepchem/deepchem/issues/145",
        ),
        fix_safety=(
            "Only with `--unsafe-fixes`, since the loss's value or scale changes. "
            "`tf.nn.l2_loss(x)` becomes `0.5 * tf.reduce_sum(tf.square(x), axis=...)`, a half sum "
            "of squares per sample (Keras's mean of it is the old value divided by the batch "
            "size). Reductions of flattened tensors (`K.flatten`, `tf.reshape(x, [-1])`, "
            "`keras.ops.ravel`) become per-sample: the flattens become `K.batch_flatten(x)` or "
            "`reshape(x, [shape(x)[0], -1])` and every reduction of the flattened values gets "
            "`axis=-1`, together, so a global Dice becomes a per-image Dice. That fix is made only "
            "when the flattens and reductions are in one function and the flattened values reach "
            "nothing else. The TF1 losses, `compute_average_loss`, `count_nonzero` and Keras 3's "
            "`dice`/`tversky` without `axis` are not fixed."
        ),
    )
)

LL201 = _register(
    Rule(
        code="LL201",
        name="batch-statistic-scaling",
        severity=Severity.WARNING,
        summary=("A per-sample loss is scaled by, or combined with, a statistic of the whole batch, "
                 "or divided by the batch size."),
        what=(
            "Flags a per-sample value multiplied or divided by a reduction over the whole batch "
            "(`loss / tf.reduce_mean(y_true)`) or divided by the batch size "
            "(`/ tf.shape(y_true)[0]`), class weights computed from the batch's own labels "
            "(`tf.reduce_sum(y_true, axis=0)`, `K.sum(y_true, axis=[0, 1, 2])`, "
            "`tf.math.bincount`, `1 / (counts + eps)`) that reach each sample through `*`, "
            "`tf.gather`, `tf.tensordot`, `sample_weight=` or `pos_weight=`, and statistics of "
            "the batch by design (a reduction over axis 0: VICReg's variance and covariance "
            "terms, a batch centre) combined with per-sample terms, and one fixed sample "
            "(`y_true[0, ...]`) used in every sample's loss. The returned value keeps its "
            "shape, so this is a warning: the loss of each sample now depends on the other "
            "samples of its batch. Reductions of constants and hyper-parameters "
            "(`tf.reduce_sum(CLASS_WEIGHTS)`) are not flagged."
        ),
        why=(
            "Keras already divides by the batch size (`sum_over_batch_size`); dividing again makes "
            "the loss scale with 1/batch size and over-weights the last, partial batch. A batch "
            "statistic as normaliser couples samples: evaluating the same 10 samples at batch "
            "sizes 10, 5, 2 and 1 gives 0.385, 0.55, 0.81 and 1.0, and samples with zero weight "
            "still move the normaliser. Class weights counted on the batch give the same sample a "
            "different weight in every batch it lands in. Contrastive losses that reduce a "
            "pairwise matrix are not flagged."
        ),
        example=(
            "def relative_mse(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) / tf.reduce_mean(y_true)\n"
        ),
        use_instead=(
            "def relative_mse(y_true, y_pred):\n"
            "    scale = tf.reduce_mean(tf.abs(y_true), axis=-1) + 1e-7  # this sample's own scale\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) / scale\n"
        ),
        references=("https://github.com/tensorflow/tensorflow/issues/55321",),
        fix_safety=(
            "No automatic fix: which per-sample normaliser is right depends on what the batch "
            "statistic was meant to do, and any change alters the loss's scale."
        ),
    )
)

LL202 = _register(
    Rule(
        code="LL202",
        name="batch-term-in-per-sample-loss",
        severity=Severity.WARNING,
        summary=("A term reduced over the whole batch is added to a per-sample loss, so every "
                 "sample's loss carries a number of the whole batch."),
        what=(
            "Flags a reduction that would be LL101, LL103 or LL104 on its own (a mean or sum "
            "without `axis`, a loss object, a flattened Dice) whose one number is then combined "
            "with a per-sample term (`bce + dice_loss`, `xent - beta * tf.reduce_mean(entropy)`): "
            "the returned value keeps its batch axis, so this is a warning, not a collapse."
        ),
        why=(
            "Keras applies sample and class weights and masks to each sample's value, so they "
            "weight the per-sample term but only scale the batch term by their mean: a sample "
            "with weight 0 still moves it, and a masked step still counts. Each sample's loss "
            "depends on the rest of its batch, so the same sample gets a different loss in every "
            "batch it lands in, and the value changes with the batch size."
        ),
        example=(
            "def bce_dice_loss(y_true, y_pred):\n"
            "    bce = K.binary_crossentropy(y_true, y_pred)\n"
            "    dice = 2 * K.sum(y_true * y_pred) / (K.sum(y_true) + K.sum(y_pred))\n"
            "    return bce - K.log(dice)\n"
        ),
        use_instead=(
            "def bce_dice_loss(y_true, y_pred):\n"
            "    bce = K.mean(K.binary_crossentropy(y_true, y_pred), axis=[1, 2, 3])\n"
            "    dice = 2 * K.sum(y_true * y_pred, axis=[1, 2, 3]) / (\n"
            "        K.sum(y_true, axis=[1, 2, 3]) + K.sum(y_pred, axis=[1, 2, 3]))\n"
            "    return bce - K.log(dice)\n"
        ),
        references=("https://github.com/keras-team/keras/issues/19637",),
        fix_safety=(
            "As for the reduction's own rule (LL101, LL103, LL104), and unsafe whenever the fixed "
            "term's per-sample values meet the other term: a mean of a `(batch, h, w, c)` tensor "
            "becomes `(batch, h, w)`, which may no longer broadcast against a `(batch,)` term."
        ),
    )
)

LL901 = _register(
    Rule(
        code="LL901",
        name="syntax-error",
        severity=Severity.ERROR,
        summary="The file (or notebook cell) does not parse, so it was not analysed.",
        what="Reports a Python file or notebook cell that LibCST cannot parse.",
        why="A file that is not analysed can hide any of the other findings.",
        example="def loss(y_true, y_pred)\n    return y_pred\n",
        use_instead="def loss(y_true, y_pred):\n    return y_pred\n",
        fix_safety="Nothing to fix automatically: the file has to be made valid Python first.",
    )
)

LL902 = _register(
    Rule(
        code="LL902",
        name="unreadable-source",
        severity=Severity.ERROR,
        summary="The file could not be decoded (bad encoding, or a notebook that is not valid JSON).",
        what="Reports a file whose bytes are not valid in its declared encoding, or a notebook that cannot be read.",
        why="A file that is not analysed can hide any of the other findings.",
        example="# a .py file saved as Latin-1 without a coding declaration\n",
        use_instead="# -*- coding: latin-1 -*-   (or save it as UTF-8)\n",
        fix_safety="Nothing to fix automatically: the file's encoding has to be declared or changed.",
    )
)


def is_selected(code: str, select: tuple[str, ...] | None, ignore: tuple[str, ...]) -> bool:
    """ruff-style selection: codes match by prefix (`LL1` selects LL101-LL199); `ALL` is all.

    The longest matching prefix wins, so `--select LL1 --ignore LL103` keeps LL101, LL102, LL104
    and `--select LL103 --ignore LL1` keeps LL103.
    """

    def best(prefixes: tuple[str, ...]) -> int:
        lengths = [len(p) if p != "ALL" else 0 for p in prefixes if p == "ALL" or code.startswith(p)]
        return max(lengths) if lengths else -1

    chosen = best(select) if select is not None else 0
    dropped = best(ignore)
    if chosen < 0:
        return False
    return dropped < chosen or (dropped < 0)


def unknown_codes(prefixes: tuple[str, ...]) -> list[str]:
    """The prefixes that select no rule at all: a typo in `--select LL10l` is an error, not silence."""
    return [p for p in prefixes if p != "ALL" and not any(code.startswith(p) for code in RULES)]
