"""The prefilter must never drop a file that holds a finding, and must drop Keras-free code."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslint.api import check_paths
from losslint.ftypes import Settings
from losslint.prefilter import may_matter

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted(p for folder in ("fixtures", "demo") for p in (ROOT / folder).rglob("*")
                if p.suffix in (".py", ".ipynb"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fixture_that_holds_or_leads_to_a_finding_passes(path):
    # Every file of the corpus is Keras code or part of a Keras package: none may be dropped.
    assert may_matter(path.read_bytes(), path)


def test_the_corpus_findings_all_come_from_files_the_prefilter_keeps():
    report = check_paths([str(ROOT / "fixtures")], Settings())
    for finding in report.findings:
        path = Path(finding.path)
        assert may_matter(path.read_bytes(), path), finding.path


@pytest.mark.parametrize("text", [
    "import numpy as np\n\ndef mean(values):\n    return np.mean(values)\n",
    "from dataclasses import dataclass\n\n@dataclass\nclass Config:\n    lr: float = 1e-3\n",
    "import re\nPATTERN = re.compile(r'x+')\n",  # re.compile, not Model.compile(
])
def test_keras_free_modules_are_skipped(text, tmp_path):
    path = tmp_path / "util.py"
    path.write_text(text)
    assert not may_matter(path.read_bytes(), path)


def test_package_init_files_are_always_kept(tmp_path):
    path = tmp_path / "__init__.py"
    path.write_text("from .losses import *\n")
    assert may_matter(path.read_bytes(), path)


@pytest.mark.parametrize("text", [
    "from .compat import tf\n\ndef helper(x):\n    return tf.reduce_sum(x)\n",
    "def l(y_true, y_pred):\n    return y_pred\n",
    "def train(model, fn):\n    model.compile(loss=fn)\n",
])
def test_loss_vocabulary_without_a_tensorflow_import_is_kept(text, tmp_path):
    path = tmp_path / "helpers.py"
    path.write_text(text)
    assert may_matter(path.read_bytes(), path)
