"""`--force-exclude`: exclude and gitignore rules applied to files named on the command line.

pre-commit names every staged file, so without it an excluded or ignored file is checked
whenever it is staged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from losslint.cli import main
from losslint.discovery import discover

BAD = "import tensorflow as tf\n\ndef mse(y_true, y_pred):\n    return tf.reduce_mean(y_true - y_pred)\n"


def touch(root: Path, relative: str, text: str = "") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def named(tmp_path: Path, names: list[str], **options) -> list[str]:
    files, errors = discover(names, cwd=tmp_path, **options)
    assert errors == []
    return [source.display for source in files]


def test_a_named_file_in_an_excluded_folder_is_skipped_only_with_force_exclude(tmp_path):
    touch(tmp_path, "old/sub/a.py")
    touch(tmp_path, "new/b.py")
    groups = [(".", ["old/"])]
    names = ["old/sub/a.py", "new/b.py"]
    assert named(tmp_path, names, exclude_groups=groups) == sorted(names)
    assert named(tmp_path, names, exclude_groups=groups, force_exclude=True) == ["new/b.py"]


def test_exclude_patterns_are_matched_from_their_own_folder(tmp_path):
    touch(tmp_path, "proj/src/gen.py")
    groups = [(str(tmp_path / "proj"), ["/src/gen.py"])]
    assert named(tmp_path, ["proj/src/gen.py"], exclude_groups=groups, force_exclude=True) == []
    # The same anchored pattern from the working directory names another file.
    assert named(tmp_path, ["proj/src/gen.py"], exclude_groups=[(".", ["/src/gen.py"])],
                 force_exclude=True) == ["proj/src/gen.py"]


def test_gitignored_files_and_files_in_ignored_folders_are_skipped(tmp_path):
    (tmp_path / ".git").mkdir()
    touch(tmp_path, ".gitignore", "*_gen.py\n!keep_gen.py\nvendor/\n")
    for name in ("a_gen.py", "keep_gen.py", "vendor/lib/x.py", "src/ok.py"):
        touch(tmp_path, name)
    names = ["a_gen.py", "keep_gen.py", "vendor/lib/x.py", "src/ok.py"]
    assert named(tmp_path, names, force_exclude=True) == ["keep_gen.py", "src/ok.py"]
    assert named(tmp_path, names, force_exclude=True, respect_gitignore=False) == sorted(names)


def test_a_nested_gitignore_applies_to_named_files(tmp_path):
    (tmp_path / ".git").mkdir()
    touch(tmp_path, "pkg/.gitignore", "/scratch.py\n")
    touch(tmp_path, "pkg/scratch.py")
    touch(tmp_path, "scratch.py")
    assert named(tmp_path, ["pkg/scratch.py", "scratch.py"], force_exclude=True) == ["scratch.py"]


def test_gitignore_is_not_read_outside_a_work_tree(tmp_path):
    touch(tmp_path, ".gitignore", "*.py\n")
    touch(tmp_path, "a.py")
    assert named(tmp_path, ["a.py"], force_exclude=True) == ["a.py"]


@pytest.mark.parametrize("folder", ["build", "node_modules", "pkg.egg-info", ".tox"])
def test_files_in_folders_a_walk_skips_are_skipped(tmp_path, folder):
    touch(tmp_path, f"{folder}/x.py")
    assert named(tmp_path, [f"{folder}/x.py"], force_exclude=True) == []
    assert named(tmp_path, [f"{folder}/x.py"]) == [f"{folder}/x.py"]


def test_files_in_a_virtual_environment_are_skipped(tmp_path):
    touch(tmp_path, "myenv/pyvenv.cfg")
    touch(tmp_path, "myenv/lib/x.py")
    assert named(tmp_path, ["myenv/lib/x.py"], force_exclude=True) == []


def test_named_directories_are_still_walked(tmp_path):
    touch(tmp_path, "old/a.py")
    assert named(tmp_path, ["old"], exclude_groups=[(".", ["old/"])], force_exclude=True) == [
        "old/a.py"
    ]


def test_command_line_force_exclude_with_a_configured_exclude(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    touch(tmp_path, "losslint.toml", 'exclude = ["experiments/"]\n')
    touch(tmp_path, "experiments/try.py", BAD)
    assert main(["check", "experiments/try.py"]) == 1
    capsys.readouterr()
    assert main(["check", "--force-exclude", "experiments/try.py"]) == 0
    assert capsys.readouterr().out == "All checks passed (0 files scanned).\n"
