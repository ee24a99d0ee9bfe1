"""Decide from a file's bytes, before any parsing, whether it can matter to the analysis.

Parsing with LibCST is the dominant cost of a scan (about 40 ms for a 500-line module on the
machines we measured). A file can only hold a finding, or lead the finder to one, if it names
TensorFlow or Keras, defines a `(y_true, y_pred)` function, compiles or loads a model, reduces
a tensor through an alias module (`tf.`, `K.`, `ops.`), defines a `__call__` (a library's loss
object, `DiceLoss()(gt, pr)`) or assigns a loss attribute (`net.loss = dice`, which a class
compiles later): every finding is reported at a call of one of those APIs, so a file that
mentions none of them has no finding of its own.
A skipped file that another file imports resolves to "unknown", which the evaluator treats as
element-wise: exactly what analysing a module without reductions would conclude.

`__init__.py` files are always kept: their re-exports connect the files that matter.
A skipped file is still checked with Python's parser, so its syntax errors are reported.

Second stage, `may_hold_loss`: most files that pass are Keras code without a loss (model
definitions, data pipelines, layers). The finder starts from a handful of constructs (compile
calls, `(y_true, y_pred)` signatures, `call` of a Loss subclass, wrappers and custom-object
registries) and learns names that exclude candidates from a few more (training-step methods,
GradientTape blocks, per-sample maps, `strategy.run`): `catalogue.LOSS_ENTRY_WORDS`. A group of
files that can reach each other (losslint/incremental.py) none of which contains one of those
words has no loss, so no finding but a file's own syntax errors: such groups are checked with
Python's parser instead of LibCST's, about ten times cheaper. In the other groups, a file
without such a word is parsed only if name resolution leads into it (`Project.add_pending`).

`text_matches` answers, from the text alone, the questions resolution asks of such files (may
it call `name(`, assign `.attr =`, define `def name`): the project parses the files that say
yes, and the cache reuses a group's result when an edit leaves every answer as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

from losslint.catalogue import LOSS_ENTRY_WORDS

_RELEVANT = re.compile(
    rb"tensorflow|keras|y_true|y_pred|(?<!\bre)\.compile\s*\(|custom_object|load_model|LossFunctionWrapper"
    rb"|reduce_|\b(?:K|tf|ops|kb|backend)\.|\bdef\s+__call__\b"  # a loss object of a library
    rb"|\.\w*loss\w*\s*=(?!=)",  # `net.loss = dice`: a loss that a class compiles later
)


# Every alternative of `_RELEVANT` contains one of these: a file with none of them is skipped
# after a few substring searches, four times faster than the regular expression alone.
_RELEVANT_LITERALS = (b"tensorflow", b"keras", b"y_true", b"y_pred", b"compile", b"custom_object",
                      b"load_model", b"LossFunctionWrapper", b"reduce_", b"K.", b"tf.", b"ops.", b"kb.",
                      b"backend.", b"__call__", b"loss")


def may_matter(data: bytes, path: Path) -> bool:
    """False only when the file cannot hold a finding nor lead to one."""
    if path.name == "__init__.py":
        return True
    return _contains_any(data, _RELEVANT_LITERALS) and _RELEVANT.search(data) is not None


def _contains_any(data: bytes, literals: tuple[bytes, ...]) -> bool:
    for literal in literals:  # (a plain loop: any() over a generator costs more than the searches)
        if literal in data:
            return True
    return False


# Calls named `map(` or `run(` only (the words alone are in every other docstring); a class's
# `call` method only as a definition.
_SHORT = {"map", "run"}
_ENTRY = re.compile(
    rb"\b(?:" + b"|".join(sorted(w.encode() for w in LOSS_ENTRY_WORDS - _SHORT)) + rb")\b"
    rb"|\b(?:" + b"|".join(sorted(w.encode() for w in _SHORT)) + rb")\s*\("
    rb"|\bdef\s+(?:__call__|call)\b"
)
_ENTRY_LITERALS = (*sorted(word.encode() for word in LOSS_ENTRY_WORDS), b"call")


def may_hold_loss(data: bytes, path: Path) -> bool:
    """False only when the file can give the finder neither a loss nor a name (see above).
    Notebooks are always kept: their cells are read as one module after masking magics."""
    if path.suffix == ".ipynb":
        return True
    return _contains_any(data, _ENTRY_LITERALS) and _ENTRY.search(data) is not None


def text_matches(query: tuple[str, str], data: bytes) -> bool:
    """Does a file's text answer yes to a question resolution asks of pending modules: may it
    call `name(`, assign `.attr =`, define `def name`? A superset of what parsing would show."""
    kind, name = query
    word = name.encode()
    if word not in data:
        return False
    if kind == "calling":
        return re.search(rb"\b" + re.escape(word) + rb"\s*(?:\\\s*)*\(", data) is not None
    if kind == "assigning":
        return re.search(rb"\." + re.escape(word) + rb"\s*=[^=]", data) is not None
    return re.search(rb"\bdef\s+" + re.escape(word) + rb"\b", data) is not None
