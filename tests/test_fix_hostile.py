"""Nothing lost by `--fix` on hostile files: files it cannot analyse are never touched, and a
fixed file keeps every byte but the edit (BOM, CRLF or lone CR line endings, tabs)."""

from __future__ import annotations

import os

from losslint.cli import main

GOOD = (
    "import tensorflow as tf\n"
    "\n"
    "def mse(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
)
FIXED = GOOD.replace("y_pred))\n", "y_pred), axis=-1)\n")


def test_fix_keeps_every_other_byte_and_never_touches_what_it_cannot_read(tmp_path, capsys):
    variants = {
        "bom.py": (b"\xef\xbb\xbf" + GOOD.encode(), b"\xef\xbb\xbf" + FIXED.encode()),
        "crlf.py": (GOOD.replace("\n", "\r\n").encode(), FIXED.replace("\n", "\r\n").encode()),
        "cr.py": (GOOD.replace("\n", "\r").encode(), FIXED.replace("\n", "\r").encode()),
        "tabs.py": (GOOD.replace("    ", "\t").encode(), FIXED.replace("    ", "\t").encode()),
    }
    untouchable = {
        "undecodable.py": GOOD.encode() + b"x = '\xff'\n",
        "nul.py": GOOD.encode() + b"x = 1\x00\n",
        "deep.py": GOOD.encode() + b"x = " + b"(" * 5000 + b")" * 5000 + b"\n",
        "broken.py": GOOD.encode() + b"def (:\n",
    }
    for name, (before, _) in variants.items():
        (tmp_path / name).write_bytes(before)
    for name, data in untouchable.items():
        (tmp_path / name).write_bytes(data)
    os.chmod(tmp_path / "tabs.py", 0o751)
    main(["check", "--isolated", "--no-cache", "--fix", str(tmp_path)])
    capsys.readouterr()
    for name, (_, after) in variants.items():
        assert (tmp_path / name).read_bytes() == after, name
    for name, data in untouchable.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert os.stat(tmp_path / "tabs.py").st_mode & 0o777 == 0o751
    assert sorted(os.listdir(tmp_path)) == sorted([*variants, *untouchable])  # no temp files left
    status = main(["check", "--isolated", "--no-cache", "--format", "concise", *(str(tmp_path / n) for n in variants)])
    assert status == 0 and capsys.readouterr().out == ""
