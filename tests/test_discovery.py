"""File discovery: what a directory walk collects, skips and how it names what it finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from losslint import discovery
from losslint.discovery import discover
from losslint.ftypes import FileError, SourceFile


def make(root: Path, *names: str) -> None:
    """Create files (and their folders) under root; a name ending in `/` is a directory."""
    for name in names:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x = 1\n")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def found(root: Path, *paths: str, **options: object) -> list[str]:
    files, errors = discover(list(paths) or ["."], cwd=root, **options)
    assert errors == []
    return [f.display for f in files]


# --- what a walk collects -------------------------------------------------------------------


def test_walk_collects_py_and_ipynb_recursively_in_sorted_order(tmp_path):
    make(
        tmp_path,
        "pkg/train.py",
        "pkg/nb.ipynb",
        "pkg/sub/deep.py",
        "pkg/notes.txt",
        "pkg/stub.pyi",
        "pkg/data.pyc",
        "a.py",
    )
    assert found(tmp_path) == ["a.py", "pkg/nb.ipynb", "pkg/sub/deep.py", "pkg/train.py"]


def test_source_file_path_is_absolute_and_readable(tmp_path):
    make(tmp_path, "pkg/train.py", "pkg/nb.ipynb")
    files, _ = discover(["pkg"], cwd=tmp_path)
    assert files == [
        SourceFile(tmp_path / "pkg" / "nb.ipynb", "pkg/nb.ipynb"),
        SourceFile(tmp_path / "pkg" / "train.py", "pkg/train.py"),
    ]
    assert [f.is_notebook for f in files] == [True, False]
    assert all(f.path.is_absolute() and f.path.read_text() == "x = 1\n" for f in files)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (".", "pkg/train.py"),
        ("./", "pkg/train.py"),
        ("pkg", "pkg/train.py"),
        ("pkg/", "pkg/train.py"),
        ("./pkg", "pkg/train.py"),
    ],
)
def test_display_is_relative_in_the_spelling_of_the_argument(tmp_path, argument, expected):
    make(tmp_path, "pkg/train.py")
    assert found(tmp_path, argument) == [expected]


def test_display_of_a_directory_named_from_elsewhere_keeps_its_prefix(tmp_path):
    make(tmp_path, "proj/src/loss.py", "elsewhere/")
    assert found(tmp_path / "elsewhere", "../proj/src") == ["../proj/src/loss.py"]


def test_display_of_an_absolute_argument_is_absolute(tmp_path):
    make(tmp_path, "src/loss.py")
    absolute = str(tmp_path / "src")
    assert found(tmp_path, absolute) == [os.path.join(absolute, "loss.py")]


def test_relative_paths_default_to_the_process_working_directory(tmp_path, monkeypatch):
    make(tmp_path, "src/loss.py")
    monkeypatch.chdir(tmp_path)
    files, errors = discover(["src"])
    assert errors == []
    assert [f.display for f in files] == ["src/loss.py"]
    assert files[0].path == tmp_path / "src" / "loss.py"


# --- built-in skips -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "directory",
    [
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".ipynb_checkpoints",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
        "build",
        "dist",
        "site-packages",
        ".eggs",
        "losslint.egg-info",
    ],
)
def test_tool_and_build_directories_are_skipped_at_any_depth(tmp_path, directory):
    make(tmp_path, f"{directory}/a.py", f"pkg/{directory}/b.py", "pkg/keep.py")
    assert found(tmp_path) == ["pkg/keep.py"]


def test_virtual_environment_is_recognised_by_pyvenv_cfg_whatever_its_name(tmp_path):
    make(tmp_path, "tools/pyvenv.cfg", "tools/lib/python3.11/helper.py", "keep.py")
    assert found(tmp_path) == ["keep.py"]


def test_conda_environment_is_recognised_by_conda_meta(tmp_path):
    make(tmp_path, "envs/conda-meta/", "envs/lib/helper.py", "keep.py")
    assert found(tmp_path) == ["keep.py"]


def test_directories_named_env_or_venv_without_a_marker_are_ordinary_packages(tmp_path):
    make(tmp_path, "env/__init__.py", "env/losses.py", "venv/losses.py")
    assert found(tmp_path) == ["env/__init__.py", "env/losses.py", "venv/losses.py"]


def test_a_named_environment_directory_is_walked_but_its_site_packages_is_not(tmp_path):
    make(tmp_path, ".venv/pyvenv.cfg", ".venv/bin/tool.py", ".venv/lib/site-packages/dep.py")
    assert found(tmp_path) == []
    assert found(tmp_path, ".venv") == [".venv/bin/tool.py"]


# --- .gitignore -----------------------------------------------------------------------------


def test_gitignore_patterns_negations_directory_and_anchored_patterns(tmp_path):
    make(tmp_path, ".git/")
    write(
        tmp_path / ".gitignore",
        "# generated code\ngenerated/\n*_gen.py\n!keep_gen.py\n/top_only.py\nmodels.py/\n",
    )
    make(
        tmp_path,
        "generated/a.py",
        "x_gen.py",
        "keep_gen.py",
        "top_only.py",
        "sub/top_only.py",
        "sub/y_gen.py",
        "models.py",  # a file: the directory-only pattern does not match it
        "sub/models.py/inner.py",  # a directory called models.py: ignored
        "ok.py",
    )
    assert found(tmp_path) == ["keep_gen.py", "models.py", "ok.py", "sub/top_only.py"]


def test_nested_gitignore_is_anchored_at_its_folder_and_overrides_the_root(tmp_path):
    make(tmp_path, ".git/")
    write(tmp_path / ".gitignore", "*_gen.py\n")
    write(tmp_path / "sub" / ".gitignore", "/local.py\n!x_gen.py\n")
    make(
        tmp_path,
        "other_gen.py",
        "local.py",
        "sub/local.py",
        "sub/deeper/local.py",
        "sub/x_gen.py",
        "sub/y_gen.py",
    )
    assert found(tmp_path) == ["local.py", "sub/deeper/local.py", "sub/x_gen.py"]


def test_git_info_exclude_is_respected(tmp_path):
    write(tmp_path / ".git" / "info" / "exclude", "scratch.py\n")
    make(tmp_path, "scratch.py", "pkg/scratch.py", "keep.py")
    assert found(tmp_path) == ["keep.py"]


def test_gitignore_outside_a_git_work_tree_is_not_read(tmp_path):
    write(tmp_path / ".gitignore", "*.py\n")
    make(tmp_path, "a.py")
    assert found(tmp_path) == ["a.py"]


def test_git_work_tree_is_found_above_the_scanned_directory(tmp_path):
    make(tmp_path, ".git/")
    write(tmp_path / ".gitignore", "src/gen/\n*.tmp.py\n")
    write(tmp_path / "src" / ".gitignore", "/local.py\n")
    make(tmp_path, "src/gen/x.py", "src/a.tmp.py", "src/local.py", "src/keep.py")
    assert found(tmp_path, "src") == ["src/keep.py"]
    assert found(tmp_path / "src", ".") == ["keep.py"]


def test_no_respect_gitignore_scans_ignored_files(tmp_path):
    make(tmp_path, ".git/")
    write(tmp_path / ".gitignore", "ignored.py\n")
    make(tmp_path, "ignored.py", "keep.py")
    assert found(tmp_path) == ["keep.py"]
    assert found(tmp_path, respect_gitignore=False) == ["ignored.py", "keep.py"]


def test_a_named_directory_inside_an_ignored_one_is_scanned(tmp_path):
    make(tmp_path, ".git/")
    write(tmp_path / ".gitignore", "out/\n")
    make(tmp_path, "out/pkg/a.py", "keep.py")
    assert found(tmp_path) == ["keep.py"]
    assert found(tmp_path, "out/pkg") == ["out/pkg/a.py"]


def test_outer_patterns_do_not_apply_inside_a_nested_repository(tmp_path):
    make(tmp_path, ".git/", "vendor/lib/.git/")
    write(tmp_path / ".gitignore", "*_gen.py\n")
    write(tmp_path / "vendor" / "lib" / ".gitignore", "private.py\n")
    make(tmp_path, "a_gen.py", "vendor/lib/b_gen.py", "vendor/lib/private.py")
    assert found(tmp_path) == ["vendor/lib/b_gen.py"]


def test_worktree_git_file_points_to_info_exclude_in_the_common_directory(tmp_path):
    common = tmp_path / "main-repo" / ".git"
    write(common / "info" / "exclude", "scratch.py\n")
    write(common / "worktrees" / "wt" / "commondir", "../..\n")
    write(tmp_path / "wt" / ".git", f"gitdir: {common / 'worktrees' / 'wt'}\n")
    make(tmp_path, "wt/scratch.py", "wt/keep.py")
    assert found(tmp_path / "wt") == ["keep.py"]


def test_an_invalid_line_in_gitignore_is_skipped_not_fatal(tmp_path):
    make(tmp_path, ".git/")
    write(tmp_path / ".gitignore", "!\nignored.py\n")
    make(tmp_path, "ignored.py", "keep.py")
    assert found(tmp_path) == ["keep.py"]


# --- --exclude ------------------------------------------------------------------------------


def test_exclude_patterns_use_gitignore_syntax_even_outside_git(tmp_path):
    make(
        tmp_path,
        "legacy/a.py",
        "pkg/legacy/b.py",
        "top.py",
        "pkg/top.py",
        "x_old.py",
        "keep.py",
    )
    exclude = ["legacy/", "/top.py", "*_old.py"]
    assert found(tmp_path, exclude=exclude) == ["keep.py", "pkg/top.py"]


def test_exclude_patterns_are_anchored_at_the_working_directory(tmp_path):
    make(tmp_path, "src/skip/a.py", "src/keep.py", "other/skip/b.py")
    assert found(tmp_path, "src", exclude=["/src/skip"]) == ["src/keep.py"]
    assert found(tmp_path, ".", exclude=["/src/skip"]) == ["other/skip/b.py", "src/keep.py"]


def test_an_invalid_exclude_pattern_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="invalid exclude pattern '!'"):
        discover(["."], exclude=["!"], cwd=tmp_path)


# --- paths named on the command line --------------------------------------------------------


def test_named_files_are_scanned_even_when_a_walk_would_skip_them(tmp_path):
    make(tmp_path, ".git/", "ignored.py", "excluded.py", "build/gen.py", "stub.pyi", "nb.ipynb")
    write(tmp_path / ".gitignore", "ignored.py\n")
    names = ["ignored.py", "./excluded.py", "build/gen.py", "stub.pyi", "nb.ipynb"]
    assert found(tmp_path, *names, exclude=["excluded.py"]) == sorted(names)


def test_named_files_of_other_types_are_passed_over(tmp_path):
    make(tmp_path, "README.md", "a.py")
    assert found(tmp_path, "README.md", "a.py") == ["a.py"]


def test_a_missing_path_is_a_file_error_and_the_rest_is_scanned(tmp_path):
    make(tmp_path, "a.py")
    files, errors = discover(["nope.py", "a.py", "missing_dir"], cwd=tmp_path)
    assert [f.display for f in files] == ["a.py"]
    assert errors == [
        FileError("nope.py", "No such file or directory"),
        FileError("missing_dir", "No such file or directory"),
    ]


def test_a_directory_named_like_a_python_file_is_walked(tmp_path):
    make(tmp_path, "weird.py/inner.py", "weird.py/notes.txt")
    assert found(tmp_path, "weird.py") == ["weird.py/inner.py"]


def test_the_same_file_given_twice_is_reported_once(tmp_path):
    make(tmp_path, "a.py", "b.py")
    assert found(tmp_path, "a.py", "./a.py", ".", "a.py") == ["a.py", "b.py"]


# --- symlinks and unreadable directories ----------------------------------------------------


def test_directory_symlinks_are_not_followed_so_loops_are_harmless(tmp_path):
    make(tmp_path, "pkg/a.py", "outside/b.py")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path / "pkg", target_is_directory=True)
    (tmp_path / "pkg" / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert found(tmp_path, "pkg") == ["pkg/a.py"]


def test_a_named_directory_symlink_is_walked(tmp_path):
    make(tmp_path, "real/a.py")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert found(tmp_path, "link") == ["link/a.py"]


def test_a_file_symlink_is_read_once_under_the_real_files_name(tmp_path):
    make(tmp_path, "pkg/real.py")
    (tmp_path / "alias.py").symlink_to(tmp_path / "pkg" / "real.py")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    assert found(tmp_path) == ["pkg/real.py"]


def test_an_unreadable_directory_is_a_file_error_and_the_scan_goes_on(tmp_path, monkeypatch):
    # chmod cannot lock out root, who may run the tests, so the refusal is simulated.
    make(tmp_path, "pkg/locked/a.py", "pkg/open/b.py")
    real_scandir = os.scandir
    locked = str(tmp_path / "pkg" / "locked")

    def scandir(path):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(discovery.os, "scandir", scandir)
    files, errors = discover(["."], cwd=tmp_path)
    assert [f.display for f in files] == ["pkg/open/b.py"]
    assert errors == [FileError("pkg/locked", "Permission denied")]
