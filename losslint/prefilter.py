"""Decide from a file's bytes, before any parsing, whether it can matter to the analysis.

Parsing with LibCST is the dominant cost of a scan (about 40 ms for a 500-line module on the
machines we measured). A file can only hold a finding, or lead the finder to one, if it names
TensorFlow or Keras, defines a `(y_true, y_pred)` function, compiles or loads a model, or
reduces a tensor through an alias module (`tf.`, `K.`, `ops.`): every finding is reported at a
call of one of those APIs, so a file that mentions none of them has no finding of its own.
A skipped file that another file imports resolves to "unknown", which the evaluator treats as
element-wise: exactly what analysing a module without reductions would conclude.

`__init__.py` files are always kept: their re-exports connect the files that matter.
The cost: a skipped file's syntax errors are not reported (it is not parsed).
"""

from __future__ import annotations

import re
from pathlib import Path

_RELEVANT = re.compile(
    rb"tensorflow|keras|y_true|y_pred|(?<!\bre)\.compile\s*\(|custom_object|load_model|LossFunctionWrapper"
    rb"|reduce_|\b(?:K|tf|ops|kb|backend)\.",
)


def may_matter(data: bytes, path: Path) -> bool:
    """False only when the file cannot hold a finding nor lead to one."""
    if path.name == "__init__.py":
        return True
    return _RELEVANT.search(data) is not None
