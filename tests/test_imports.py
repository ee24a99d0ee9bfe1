"""Which files a file's imports can reach (losslint/imports.py): the edges of the groups
losslint/incremental.py analyses apart. Too few edges would split what the whole-project
analysis joins (tests/test_cache_parallel.py compares the two on every fixture folder);
these tests check that the edges follow the resolver's rules and stay few."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslint import api, incremental
from losslint.discovery import module_name_for
from losslint.ftypes import Settings
from losslint.imports import FileImports, ModuleIndex


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def edges(root: Path) -> dict[str, set[str]]:
    """file -> the files its imports reach, by path relative to `root`."""
    paths = sorted(p for p in root.rglob("*.py"))
    named = [(*module_name_for(p), p) for p in paths]
    imports = [FileImports(p.read_text(), name, is_package) for name, is_package, p in named]
    index = ModuleIndex(named, [i.top for i in imports])
    rel = [str(p.relative_to(root)) for p in paths]
    return {rel[i]: {rel[j] for j in index.reachable(imports[i], i) if j != i} for i in range(len(paths))}


def test_from_import_of_a_defined_name_reaches_the_module_not_the_package(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "from .losses import *\nfrom .models import *\n",
        "pkg/losses.py": "import tensorflow as tf\n\ndef dice(y_true, y_pred):\n    return y_pred\n",
        "pkg/models.py": "def build():\n    return None\n",
        "train.py": "from pkg.losses import dice\nmodel.compile(loss=dice)\n",
    })
    assert edges(tmp_path)["train.py"] == {"pkg/losses.py"}
    # The package's own star imports connect it to both modules.
    assert edges(tmp_path)["pkg/__init__.py"] == {"pkg/losses.py", "pkg/models.py"}


def test_a_name_the_module_may_not_bind_falls_back_to_the_package(tmp_path):
    # `dice` is re-exported by the package, not defined in pkg/losses.py: the resolver tries
    # `pkg.losses.dice`, then `pkg` and its members.
    write(tmp_path, {
        "pkg/__init__.py": "from .impl import dice\n",
        "pkg/losses.py": "x = 1\n",
        "pkg/impl.py": "def dice(y_true, y_pred):\n    return y_pred\n",
        "train.py": "from pkg.losses import dice\n",
    })
    assert edges(tmp_path)["train.py"] == {"pkg/losses.py", "pkg/__init__.py"}


def test_import_of_a_dotted_module_reaches_each_package_on_the_way(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/losses.py": "def dice(y_true, y_pred):\n    return y_pred\n",
        "pkg/other.py": "y = 2\n",
        "train.py": "import pkg.sub.losses\nloss = pkg.sub.losses.dice\n",
    })
    assert edges(tmp_path)["train.py"] == {"pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/losses.py"}


def test_scripts_reach_their_nearest_sibling_of_a_shared_name(tmp_path):
    write(tmp_path, {
        "examples/segmentation/utils.py": "def dice(y_true, y_pred):\n    return y_pred\n",
        "examples/segmentation/train.py": "import utils\nloss = utils.dice\n",
        "examples/detection/utils.py": "def iou(a, b):\n    return a\n",
        "examples/detection/train.py": "from utils import iou\n",
    })
    found = edges(tmp_path)
    assert found["examples/segmentation/train.py"] == {"examples/segmentation/utils.py"}
    assert found["examples/detection/train.py"] == {"examples/detection/utils.py"}


def test_relative_and_path_suffix_imports(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/losses.py": "def focal(y_true, y_pred):\n    return y_pred\n",
        "app/train.py": "from .losses import focal\nfrom . import losses as L\n",
        "scripts/models/unet.py": "def build():\n    return None\n",  # models/ is no package
        "scripts/fit.py": "from models.unet import build\n",
    })
    found = edges(tmp_path)
    assert found["app/train.py"] == {"app/losses.py"}
    assert found["scripts/fit.py"] == {"scripts/models/unet.py"}


@pytest.mark.parametrize("statement", [
    "from pkg.losses import (\n    focal,\n    dice,  # the one we use\n)\n",
    "from pkg.losses \\\n    import dice\n",
    "try: from pkg.losses import dice\nexcept ImportError: dice = None\n",
    "x = 1; import pkg.losses as L\nloss = L.dice\n",
    "def get():\n    from pkg.losses import dice\n    return dice\n",
])
def test_every_spelling_of_an_import_is_seen(tmp_path, statement):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/losses.py": "def dice(y_true, y_pred):\n    return y_pred\n\ndef focal(y_true, y_pred):\n    return y_pred\n",
        "train.py": statement,
    })
    assert "pkg/losses.py" in edges(tmp_path)["train.py"]


def test_third_party_names_never_match_local_files(tmp_path):
    # `tf.keras.losses` is TensorFlow's, not the project's losses.py.
    write(tmp_path, {
        "losses.py": "def dice(y_true, y_pred):\n    return y_pred\n",
        "train.py": "import tensorflow as tf\nfrom tensorflow.keras import losses\nloss = tf.keras.losses.Huber()\n",
    })
    assert edges(tmp_path)["train.py"] == set()


def test_unrelated_example_folders_are_analysed_apart_with_the_same_findings(tmp_path):
    loss = "import tensorflow as tf\n\ndef {name}(y_true, y_pred):\n    return tf.reduce_mean(y_pred)\n"
    train = "import tensorflow as tf\nfrom losses import {name}\nmodel = tf.keras.Sequential()\nmodel.compile(loss={name})\n"
    files = {}
    for example in ("cityscapes", "kitti", "voc"):
        files[f"{example}/losses.py"] = loss.format(name=f"{example}_loss")
        files[f"{example}/train.py"] = train.format(name=f"{example}_loss")
    write(tmp_path, files)
    sources, _ = incremental.discover([str(tmp_path)])
    kept = []
    for source in sources:
        file = incremental._File(source.path, source.display, source.path.read_bytes(), "")
        file.name, file.is_package = module_name_for(source.path)
        kept.append(file)
    assert len(incremental.groups_of(kept)) == 3
    whole = api.scan_paths([str(tmp_path)], Settings()).report
    assert api.check_paths([str(tmp_path)], Settings(), jobs=1).findings == whole.findings
    assert len(whole.findings) == 3


def test_import_words_inside_longer_names_are_not_imports(tmp_path):
    # The patterns search for the literal words and check what precedes them.
    write(tmp_path, {
        "losses.py": "def dice(y_true, y_pred):\n    return y_pred\n",
        "report.py": "outfrom losses import dice\nreimport losses\nx = my.losses.dice\n",
    })
    assert edges(tmp_path)["report.py"] == set()
