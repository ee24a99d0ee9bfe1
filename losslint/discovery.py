"""Which files a run looks at: turn the command line's paths into `SourceFile`s.

    discover(paths, exclude=(), respect_gitignore=True, cwd=None,
             exclude_groups=(), force_exclude=False) -> (files, errors)

The rules, in the order they are applied to everything found *inside* a directory argument:

1. Directory symlinks are never entered (file symlinks are read). That is the whole loop
   protection: a tree without followed links cannot contain a cycle.
2. Directories that never hold the user's own code are skipped by name (`SKIPPED_DIR_NAMES`,
   `*.egg-info`), and so are environments: any directory holding `pyvenv.cfg` (written by
   `venv`, virtualenv >= 20, uv, poetry, pdm) or `conda-meta/` (a conda environment created
   inside the project with `conda create -p`). Environments are recognised by those markers,
   not by names like `env` or `venv`, because a package called `env` is common and a marker
   is certain. An old-style environment without a marker still has its third-party code under
   `site-packages`, which is skipped by name.
3. `--exclude` patterns (gitignore syntax, anchored at the working directory), and the
   configuration's `exclude`/`extend-exclude` (`exclude_groups`: anchored at the folder of
   the configuration file).
4. `.gitignore` files, nested ones included, and `.git/info/exclude`, but only inside a git
   work tree, as git itself does. A user-wide `core.excludesFile` is not read: what a run
   checks should not depend on who runs it.
5. Only `.py` and `.ipynb` files are collected.

Paths named on the command line are taken as given: a named file is scanned even when a rule
above would skip it (if it ends in `.py`, `.pyi` or `.ipynb`; other files are passed over
silently), and a named directory is walked even if it is ignored or is an environment.

`force_exclude=True` (`--force-exclude`, for pre-commit, which names every staged file) makes
rules 2 to 4 apply to named files as well: a file is skipped when it, or a folder between the
working directory and it, would have been skipped by a walk. Named directories are still
walked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from losslint.ftypes import FileError, Settings, SourceFile

if TYPE_CHECKING:  # pathspec is imported when there are patterns: it costs a fifth of a warm run
    from pathspec import GitIgnoreSpec

# What a directory walk collects. `.pyi` stubs hold no loss bodies worth a walk, but a stub
# named on the command line is accepted.
WALK_SUFFIXES = (".py", ".ipynb")
EXPLICIT_SUFFIXES = (".py", ".pyi", ".ipynb")

SKIPPED_DIR_NAMES = frozenset(
    {
        # version control
        ".git",
        ".hg",
        ".svn",
        # caches and tool state
        "__pycache__",
        ".ipynb_checkpoints",  # Jupyter's autosaved copies would duplicate every finding
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".losslint_cache",  # losslint's own (losslint/cache.py)
        # build output and installed third-party code
        "node_modules",
        "build",
        "dist",
        "site-packages",
        ".eggs",
    }
)
SKIPPED_DIR_SUFFIXES = (".egg-info",)
ENVIRONMENT_MARKERS = ("pyvenv.cfg", "conda-meta")

NO_SUCH_FILE = "No such file or directory"


def compile_patterns(patterns: Iterable[str]) -> GitIgnoreSpec:
    """Compile gitignore-style patterns; raise ValueError naming the first invalid one.

    Public so the command line can reject a bad `--exclude` before any work starts.
    """
    from pathspec import GitIgnoreSpec

    lines = list(patterns)
    for line in lines:
        try:
            GitIgnoreSpec.from_lines([line])
        except ValueError as exc:
            raise ValueError(f"invalid exclude pattern {line!r}: {exc}") from None
    return GitIgnoreSpec.from_lines(lines)


def discover(
    paths: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    respect_gitignore: bool = True,
    cwd: Path | None = None,
    exclude_groups: Sequence[tuple[str, Sequence[str]]] = (),
    force_exclude: bool = False,
) -> tuple[list[SourceFile], list[FileError]]:
    """Find the files to analyse under `paths`, sorted by display path, each once.

    Relative paths are taken relative to `cwd` (default: the process's working directory).
    `exclude` patterns are anchored at `cwd`; each `(folder, patterns)` of `exclude_groups`
    at its folder (relative folders are taken relative to `cwd`).
    Raises ValueError for an invalid `exclude` pattern; every problem with the file system
    is returned as a `FileError` instead, and the scan goes on.
    """
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    exclude_specs = [
        (compile_patterns(patterns), os.path.normpath(os.path.join(base, folder)))
        for folder, patterns in ((base, exclude), *exclude_groups)
        if patterns
    ]
    found: dict[str, SourceFile] = {}
    errors: list[FileError] = []

    for arg in paths:
        target = os.path.normpath(os.path.join(base, arg))
        if os.path.isdir(target):
            walker = _Walker(
                root=target,
                display_root=arg,
                exclude_specs=exclude_specs,
                respect_gitignore=respect_gitignore,
            )
            for source, key in walker.walk(errors):
                _add(found, source, key)
        elif os.path.exists(target):
            if target.endswith(EXPLICIT_SUFFIXES) and not (
                force_exclude
                and _named_file_is_excluded(target, base, exclude_specs, respect_gitignore)
            ):
                _add(found, SourceFile(path=Path(target), display=arg))
        else:
            # Also a dangling symlink or a symlink loop: there is nothing to read either way.
            errors.append(FileError(path=arg, message=_why_unreachable(target)))

    files = sorted(found.values(), key=lambda source: source.display)
    return files, errors


def _why_unreachable(target: str) -> str:
    """Why `target` cannot be read: the system's words (a symlink loop, say), else NO_SUCH_FILE."""
    try:
        os.stat(target)
    except OSError as exc:
        if exc.strerror and not isinstance(exc, FileNotFoundError):
            return exc.strerror
    return NO_SUCH_FILE


def _add(found: dict[str, SourceFile], source: SourceFile, real: str | None = None) -> None:
    """Record `source` unless the same file is already there. `real` is its real path when
    known (the walk knows it without asking the file system for each file).

    `a.py`, `./a.py` and a symlink to it are one file, reported once: under the name it was
    first found by, except that a real file's own name beats a symlink's.
    """
    key = os.path.normcase(real if real is not None else os.path.realpath(source.path))
    known = found.get(key)
    if known is None or (known.path.is_symlink() and not source.path.is_symlink()):
        found[key] = source


# --- ignore rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Level:
    """The patterns of one ignore file, and how to express a walked path relative to it.

    Patterns in a `.gitignore` are relative to its own folder. An entry of the walk is known
    by its path below the walk's root (`parts`); seen from the ignore file it is
    `anchor + parts[strip:]`: a `.gitignore` above the root sees the root as `anchor`, one
    found during the walk at depth `strip` sees only what lies below it.
    """

    spec: GitIgnoreSpec
    anchor: tuple[str, ...] = ()
    strip: int = 0

    def verdict(self, parts: tuple[str, ...], is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by a `!` pattern, None: no pattern matched."""
        relative = "/".join(self.anchor + parts[self.strip :])
        if not relative:
            return None  # the ignore file's own folder: its patterns are about what is inside
        if is_dir:
            relative += "/"  # how pathspec tells a directory, so `build/` matches only those
        if not any(
            pattern.include is not None and pattern.match_file(relative) is not None
            for pattern in self.spec.patterns
        ):
            return None
        return self.spec.match_file(relative)


def _read_ignore_file(path: str) -> GitIgnoreSpec | None:
    """The valid patterns of one ignore file; None if there is none.

    Git skips a pattern it cannot parse and carries on, and so do we: one odd line must not
    make a whole repository unscannable. An unreadable ignore file is likewise passed over.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    from pathspec import GitIgnoreSpec

    valid = []
    for line in lines:
        try:
            GitIgnoreSpec.from_lines([line])
        except ValueError:
            continue
        valid.append(line)
    spec = GitIgnoreSpec.from_lines(valid)
    return spec if any(p.include is not None for p in spec.patterns) else None


def _git_dir(work_tree: str) -> str | None:
    """The repository directory of a work tree: `.git` itself, or where a `.git` file points.

    Worktrees and submodules have a `.git` *file* (`gitdir: ...`); a worktree's `info/exclude`
    lives in the common directory named by its `commondir` file.
    """
    dot_git = os.path.join(work_tree, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    try:
        with open(dot_git, encoding="utf-8") as handle:
            first = handle.readline().strip()
    except OSError:
        return None
    if not first.startswith("gitdir:"):
        return None
    git_dir = os.path.join(work_tree, first[len("gitdir:") :].strip())
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            return os.path.join(git_dir, handle.read().strip())
    except OSError:
        return git_dir


def _repository_levels(work_tree: str, anchor: tuple[str, ...], strip: int) -> list[_Level]:
    """The ignore levels a git work tree starts with: its `.gitignore`, then `info/exclude`.

    Returned highest priority first; `info/exclude` ranks below every `.gitignore`.
    """
    levels = []
    spec = _read_ignore_file(os.path.join(work_tree, ".gitignore"))
    if spec is not None:
        levels.append(_Level(spec, anchor, strip))
    git_dir = _git_dir(work_tree)
    if git_dir is not None:
        spec = _read_ignore_file(os.path.join(git_dir, "info", "exclude"))
        if spec is not None:
            levels.append(_Level(spec, anchor, strip))
    return levels


def _ancestor_levels(root: str) -> tuple[list[_Level], bool]:
    """The ignore levels that apply at `root` from the repository around it, if any.

    Returns (levels highest priority first, whether `root` is inside a git work tree).
    Searched from the real path, as git does: a symlink into a repository is in it.
    """
    real = Path(os.path.realpath(root))
    for top in (real, *real.parents):
        if os.path.exists(top / ".git"):
            break
    else:
        return [], False
    # Every folder from `real` up to `top` may hold a .gitignore; the deepest one wins.
    levels: list[_Level] = []
    folder = real
    while True:
        anchor = real.relative_to(folder).parts
        if folder == top:
            levels.extend(_repository_levels(str(folder), anchor, 0))
            break
        spec = _read_ignore_file(str(folder / ".gitignore"))
        if spec is not None:
            levels.append(_Level(spec, anchor, 0))
        folder = folder.parent
    return levels, True


# --- the walk ------------------------------------------------------------------------------


def _is_skipped_directory(name: str, path: str) -> bool:
    if name in SKIPPED_DIR_NAMES or name.endswith(SKIPPED_DIR_SUFFIXES):
        return True
    return any(os.path.exists(os.path.join(path, marker)) for marker in ENVIRONMENT_MARKERS)


class _Walker:
    """One directory argument's walk: depth first, entries in name order, no recursion limit."""

    def __init__(
        self,
        *,
        root: str,
        display_root: str,
        exclude_specs: Sequence[tuple[GitIgnoreSpec, str]],
        respect_gitignore: bool,
    ) -> None:
        self.root = root
        self.display_root = display_root
        self.respect_gitignore = respect_gitignore

        # Exclude patterns are anchored at their folder (the working directory for
        # `--exclude`); for a directory outside it there is no such anchor, and they are
        # matched relative to the directory itself. Each set of patterns has its say: a path
        # is skipped if any of them excludes it.
        self.excludes = [_Level(spec, _inside(root, folder)) for spec, folder in exclude_specs]

        self.levels: list[_Level] = []
        self.in_repository = False
        if respect_gitignore:
            self.levels, self.in_repository = _ancestor_levels(root)

        # The user named this directory, so whatever would ignore it does not apply inside
        # it: `losslint check build/gen` scans build/gen even though `build/` is ignored.
        self.excludes = [level for level in self.excludes if not level.verdict((), is_dir=True)]
        if self._ignored_by(self.levels, (), is_dir=True):
            self.levels = []

    def display(self, parts: tuple[str, ...]) -> str:
        return os.path.normpath(os.path.join(self.display_root, *parts))

    @staticmethod
    def _ignored_by(levels: list[_Level], parts: tuple[str, ...], is_dir: bool) -> bool:
        # A deeper .gitignore overrides a shallower one: the first level with an opinion wins.
        for level in levels:
            verdict = level.verdict(parts, is_dir)
            if verdict is not None:
                return verdict
        return False

    def _skipped(self, parts: tuple[str, ...], is_dir: bool, levels: list[_Level]) -> bool:
        if any(level.verdict(parts, is_dir) for level in self.excludes):
            return True
        return self._ignored_by(levels, parts, is_dir)

    def walk(self, errors: list[FileError]) -> list[tuple[SourceFile, str | None]]:
        """Each file with its real path, or None for a symlink (resolved by `_add`). The walk
        never enters a linked folder, so below the root's real path every name is real."""
        found: list[tuple[SourceFile, str | None]] = []
        real_root = os.path.realpath(self.root)
        # Each stack item: a directory below the root, the ignore levels that apply inside it
        # (highest priority first) and whether it is in a git work tree.
        stack: list[tuple[tuple[str, ...], list[_Level], bool]] = [
            ((), self.levels, self.in_repository)
        ]
        while stack:
            parts, levels, in_repository = stack.pop()
            directory = os.path.join(self.root, *parts)
            if parts and self.respect_gitignore:
                levels, in_repository = self._enter(directory, parts, levels, in_repository)
            try:
                with os.scandir(directory) as iterator:
                    entries = sorted(iterator, key=lambda entry: entry.name)
            except OSError as exc:
                errors.append(FileError(self.display(parts), exc.strerror or str(exc)))
                continue

            subdirectories = []
            for entry in entries:
                child = (*parts, entry.name)
                is_dir = is_file = False
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    is_file = not is_dir and entry.is_file()
                except OSError:  # a symlink loop, say: judged below
                    pass
                if is_dir:
                    if _is_skipped_directory(entry.name, entry.path):
                        continue
                    if not self._skipped(child, True, levels):
                        subdirectories.append((child, levels, in_repository))
                elif (
                    is_file
                    and entry.name.endswith(WALK_SUFFIXES)
                    and not self._skipped(child, False, levels)
                ):
                    real = None if entry.is_symlink() else os.path.join(real_root, *child)
                    found.append((SourceFile(Path(entry.path), self.display(child)), real))
                elif (
                    not is_dir
                    and entry.name.endswith(WALK_SUFFIXES)
                    and entry.is_symlink()
                    and not self._skipped(child, False, levels)
                ):
                    # A link that leads nowhere: a dangling one (an editor's lock file, say)
                    # is passed over, a loop is reported, since it stands for a file.
                    reason = _why_unreachable(entry.path)
                    if reason != NO_SUCH_FILE:
                        errors.append(FileError(self.display(child), reason))
            # Reversed so the stack pops them in name order.
            stack.extend(reversed(subdirectories))
        return found

    @staticmethod
    def _enter(
        directory: str, parts: tuple[str, ...], levels: list[_Level], in_repository: bool
    ) -> tuple[list[_Level], bool]:
        """The ignore levels inside `directory`, given those of its parent."""
        if os.path.exists(os.path.join(directory, ".git")):
            # A nested repository (a submodule, a vendored clone): git does not apply the
            # outer repository's patterns inside it, and neither do we.
            return _repository_levels(directory, (), len(parts)), True
        if in_repository:
            spec = _read_ignore_file(os.path.join(directory, ".gitignore"))
            if spec is not None:
                return [_Level(spec, (), len(parts)), *levels], True
        return levels, in_repository


def _inside(path: str, folder: str) -> tuple[str, ...]:
    """`path` relative to `folder` as parts; () when it is not below `folder`."""
    try:
        inside = Path(os.path.relpath(path, folder)).parts
    except ValueError:  # on another drive (Windows)
        return ()
    return () if ".." in inside[:1] else inside


# --- named files under --force-exclude -----------------------------------------------------


def _named_file_is_excluded(
    target: str,
    base: str,
    exclude_specs: Sequence[tuple[GitIgnoreSpec, str]],
    respect_gitignore: bool,
) -> bool:
    """Would a walk from the working directory (or from the patterns' folder) skip `target`?

    Each folder on the way is judged as the walk would judge it, then the file itself: a file
    inside an excluded or ignored folder is skipped even when no pattern names the file.
    """
    below_base = _inside(target, base)
    folder = base
    for name in below_base[:-1]:
        folder = os.path.join(folder, name)
        if _is_skipped_directory(name, folder):
            return True
    for spec, spec_folder in exclude_specs:
        parts = _inside(target, spec_folder) or (os.path.basename(target),)
        level = _Level(spec)
        if any(level.verdict(parts[:depth], is_dir=True) for depth in range(1, len(parts))):
            return True
        if level.verdict(parts, is_dir=False):
            return True
    return respect_gitignore and _ignored_by_git(target)


def _ignored_by_git(target: str) -> bool:
    """Whether git ignores `target` or one of its folders below the work tree's top."""
    real = Path(os.path.realpath(target))
    chain = [real]
    for folder in real.parents:
        if os.path.exists(folder / ".git"):
            break
        chain.append(folder)
    else:
        return False  # not in a git work tree: no ignore file applies
    # From the top down: a folder's verdict comes from the ignore files around its parent.
    for path in reversed(chain):
        levels, _ = _ancestor_levels(str(path.parent))
        if _Walker._ignored_by(levels, (path.name,), is_dir=path is not real):
            return True
    return False


def module_name_for(path: Path, packages: dict[Path, list[str]] | None = None) -> tuple[str, bool]:
    """Dotted module name from the package structure (folders with `__init__.py`).
    `packages` remembers each folder's package parts across the calls of one run."""
    path = path.resolve()
    is_package = path.name == "__init__.py"
    package = _package_parts(path.parent, {} if packages is None else packages)
    parts = package if is_package else [*package, path.stem]
    return ".".join(parts) or path.parent.name, is_package


def _package_parts(directory: Path, known: dict[Path, list[str]]) -> list[str]:
    """The package names down to `directory` (empty when it is not a package)."""
    chain: list[Path] = []  # packages whose names are not known yet, innermost first
    base: list[str] = []
    while True:
        if directory in known:
            base = known[directory]
            break
        if not (directory / "__init__.py").is_file():
            known[directory] = []
            break
        chain.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for folder in reversed(chain):
        base = known[folder] = [*base, folder.name]
    return base


def exclude_groups(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """Exclude patterns with the folder each set is anchored at ("." is the working directory)."""
    groups = []
    if settings.exclude:
        groups.append((settings.exclude_root or ".", settings.exclude))
    if settings.extend_exclude:
        groups.append((settings.config_root or ".", settings.extend_exclude))
    return groups
