"""`--fix` / `--diff` on notebooks (losslint/fix.py, losslint/notebook.py's `rewrite_cells`).

A fix changes a code cell's source and nothing else: the expected file is the original text
with the fixed call's JSON-escaped text replaced, byte for byte, whatever the notebook's
indentation, key order, escapes, final newline, line endings or `source` representation.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from losslint.cli import main
from losslint.notebook import NotebookError, SourceEdit, load_notebook, rewrite_cells

REPO = Path(__file__).resolve().parents[1]
OLD = "tf.reduce_mean(tf.square(y_true - y_pred))"
NEW = "tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"
LOSS_CELL = ["%%time\n", "# %matplotlib inline is neutralised, and so is !ls\n", "import tensorflow as tf\n",
             "!ls data\n", "\n", "\n", "def mse(y_true, y_pred):\n", "    %time print('no')\n",
             f"    return {OLD}  # caf\u00e9\n"]


def _document(loss_source, *, first_key="cell_type"):
    cell = {"cell_type": "code", "execution_count": 3, "metadata": {"tags": ["loss"]},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["\u00e9t\u00e9 42\n"]}],
            "source": loss_source}
    if first_key == "source":
        cell = {"source": cell.pop("source"), **cell}
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# A model \u2014 with a loss\n", "\n", "text"]},
            cell,
            {"cell_type": "code", "execution_count": 4, "metadata": {}, "outputs": [],
             "source": ["model.compile(optimizer=\"adam\", loss=mse)"]},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python", "version": "3.11.4"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _write(path: Path, text: str, bom: bool = False) -> bytes:
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    path.write_bytes(data)
    return data


LAYOUTS = {
    # nbformat's own writer: indent 1, sorted keys, ensure_ascii=False, final newline
    "nbformat": {"dumps": {"indent": 1, "sort_keys": True, "ensure_ascii": False}, "end": "\n"},
    "indent-2-ascii": {"dumps": {"indent": 2, "ensure_ascii": True}, "end": "\n"},
    "indent-4-no-final-newline": {"dumps": {"indent": 4, "ensure_ascii": False}, "end": ""},
    "source-first": {"dumps": {"indent": 1, "ensure_ascii": False}, "end": "\n", "first_key": "source"},
    "source-string": {"dumps": {"indent": 1, "ensure_ascii": False}, "end": "\n", "string": True},
    "crlf-cell": {"dumps": {"indent": 1, "ensure_ascii": False}, "end": "\n", "crlf": True},
    "compact": {"dumps": {"ensure_ascii": False}, "end": ""},
    "bom": {"dumps": {"indent": 1, "ensure_ascii": False}, "end": "\n", "bom": True},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_only_the_fixed_call_changes(tmp_path, capsys, layout):
    options = LAYOUTS[layout]
    lines = [line.replace("\n", "\r\n") for line in LOSS_CELL] if options.get("crlf") else LOSS_CELL
    source = "".join(lines) if options.get("string") else lines
    text = json.dumps(_document(source, first_key=options.get("first_key", "cell_type")),
                      **options["dumps"]) + options["end"]
    path = tmp_path / "train.ipynb"
    original = _write(path, text, options.get("bom", False))
    os.chmod(path, 0o640)

    assert main(["check", "--fix", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:cell 2:9:12: LL101 fixed (safe): added `axis=-1` to `tf.reduce_mean`" in out
    assert OLD in original.decode("utf-8-sig")  # the call is spelled the same inside JSON strings
    assert path.read_bytes() == original.replace(OLD.encode(), NEW.encode(), 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.ipynb"]  # no temporary file left
    # idempotent
    main(["check", "--fix", str(path)])
    assert "Fixed 0 problems" in capsys.readouterr().out
    assert path.read_bytes() == original.replace(OLD.encode(), NEW.encode(), 1)


def test_changed_cell_keeps_its_outputs_magics_and_metadata(tmp_path):
    path = tmp_path / "train.ipynb"
    _write(path, json.dumps(_document(LOSS_CELL), indent=1, ensure_ascii=False) + "\n")
    main(["check", "--fix", str(path)])
    before, after = _document(LOSS_CELL), json.loads(path.read_text(encoding="utf-8"))
    assert after["cells"][1].pop("source") == [line.replace(OLD, NEW) for line in LOSS_CELL]
    before["cells"][1].pop("source")
    assert after == before  # outputs (computed by the old code) are left as they were


def test_fixture_notebook_with_unsafe_fixes(tmp_path, capsys):
    """fixtures/notebooks/unet_segmentation.ipynb: cell 7 holds a global Dice (three LL104) and
    a weighted BCE mean (LL101); only that cell's source lines change."""
    notebook = tmp_path / "seg.ipynb"
    shutil.copyfile(REPO / "fixtures" / "notebooks" / "unet_segmentation.ipynb", notebook)
    original = notebook.read_text(encoding="utf-8")
    assert main(["check", "--fix", "--unsafe-fixes", str(notebook)]) == 0
    out = capsys.readouterr().out
    assert "seg.ipynb:cell 7:4:20: LL104 fixed (unsafe)" in out
    assert "Fixed 4 problems (3 with unsafe fixes)." in out
    fixed = notebook.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(original.splitlines(), fixed.splitlines()) if a != b]
    assert len(original.splitlines()) == len(fixed.splitlines())
    assert changed == [
        ('    "    y_true_f = K.flatten(y_true)\\n",', '    "    y_true_f = K.batch_flatten(y_true)\\n",'),
        ('    "    y_pred_f = K.flatten(y_pred)\\n",', '    "    y_pred_f = K.batch_flatten(y_pred)\\n",'),
        ('    "    intersection = K.sum(y_true_f * y_pred_f)  # expect: LL104\\n",',
         '    "    intersection = K.sum(y_true_f * y_pred_f, axis=-1)  # expect: LL104\\n",'),
        (('    "    return (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)'
          '  # expect: LL104, LL104\\n",'),
         ('    "    return (2.0 * intersection + smooth) / (K.sum(y_true_f, axis=-1) + K.sum(y_pred_f, axis=-1)'
          ' + smooth)  # expect: LL104, LL104\\n",')),
        ('    "    return K.mean(weights * bce)  # expect: LL101"', '    "    return K.mean(weights * bce, axis=-1)  # expect: LL101"'),
    ]
    assert fixed.endswith("\n") and original.endswith("\n")


def test_diff_shows_cell_code_and_writes_nothing(tmp_path, capsys):
    notebook = tmp_path / "seg.ipynb"
    shutil.copyfile(REPO / "fixtures" / "notebooks" / "unet_segmentation.ipynb", notebook)
    original = notebook.read_bytes()
    assert main(["check", "--diff", str(notebook)]) == 1
    captured = capsys.readouterr()
    assert notebook.read_bytes() == original
    assert captured.out.startswith(f"--- {notebook}:cell 7\n+++ {notebook}:cell 7\n")
    assert "-    return K.mean(weights * bce)  # expect: LL101\n" in captured.out
    assert "+    return K.mean(weights * bce, axis=-1)  # expect: LL101\n" in captured.out
    assert '\\n"' not in captured.out  # the code, not its JSON spelling
    assert "Would fix 1 problem (3 unsafe fixes available with --unsafe-fixes); 3 problems would remain." \
        in captured.err


def test_relative_paths_get_a_and_b_prefixes(tmp_path, capsys, monkeypatch):
    shutil.copyfile(REPO / "fixtures" / "notebooks" / "unet_segmentation.ipynb", tmp_path / "seg.ipynb")
    monkeypatch.chdir(tmp_path)
    main(["check", "--diff", "seg.ipynb"])
    assert capsys.readouterr().out.startswith("--- a/seg.ipynb:cell 7\n+++ b/seg.ipynb:cell 7\n")


def test_rewrite_cells_refuses_edits_it_cannot_place():
    text = json.dumps({"cells": [{"cell_type": "code", "source": ["!ls\n", "x = f(1)"]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    notebook = load_notebook(text)
    assert notebook.source == "pass\nx = f(1)\n"
    with pytest.raises(NotebookError, match="IPython syntax"):  # the neutralised `!ls` line
        rewrite_cells(text, notebook, [SourceEdit((1, 1), (1, 5), "pass", "ok")])
    with pytest.raises(NotebookError, match="not where it was expected"):
        rewrite_cells(text, notebook, [SourceEdit((2, 5), (2, 9), "g(2)", "g(3)")])
    assert json.loads(rewrite_cells(text, notebook, [SourceEdit((2, 5), (2, 9), "f(1)", "f(1, 2)")])) \
        ["cells"][0]["source"] == ["!ls\n", "x = f(1, 2)"]
