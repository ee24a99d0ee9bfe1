"""Each rule's documented example is reported with its code, and its `use_instead` is quiet.

The examples are what `losslint rule CODE` prints; a rule whose own example it does not flag
would document behaviour the tool does not have.
"""

from __future__ import annotations

import re

import pytest

from losslint.api import check_source
from losslint.rules import RULES

PRELUDE = (
    "import tensorflow as tf\n"
    "from tensorflow.keras import backend as K\n\n\n"
    "def dice(y_true, y_pred):\n"  # the per-sample helper LL103's example adds to its term
    "    return y_pred\n\n\n"
)
CODED = [code for code in RULES if code.startswith(("LL1", "LL2"))]


def _compiled(source: str) -> str:
    """The example with each of its functions compiled as a loss (a metric-like name such as
    `dice_coef` is then a loss too, as it is in the projects that train with it)."""
    names = re.findall(r"^def (\w+)\(", source, flags=re.M)
    calls = "".join(f"model.compile(optimizer='adam', loss={name})\n" for name in names)
    return PRELUDE + source + "\n\nmodel = tf.keras.Sequential()\n" + calls


@pytest.mark.parametrize("code", CODED)
def test_the_example_is_reported(code):
    findings = check_source(_compiled(RULES[code].example), f"{code.lower()}_example.py")
    assert code in {f.code for f in findings}, [(f.code, f.message) for f in findings]


@pytest.mark.parametrize("code", CODED)
def test_the_fixed_example_is_quiet(code):
    findings = check_source(_compiled(RULES[code].use_instead), f"{code.lower()}_fixed.py")
    assert findings == [], [(f.code, f.line, f.message) for f in findings]
