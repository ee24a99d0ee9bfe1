"""Which scanned modules a file can reach through its imports, read from its text.

    FileImports(text, module_name, is_package)   what a file imports and names through it
    ModuleIndex(modules, texts).reachable(imports, importer) -> indices of reachable modules

losslint/incremental.py splits a run into groups of files that can see each other, and needs
that relation before anything is parsed. Name resolution (`Project.lookup_qualified`,
`find_module`, `member`) only looks a module up by a dotted name made of a name the file
binds by an import (`import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`;
`from x import y` binds `y` to `x.y`, relative imports resolved against the file's package)
followed by the attributes the code uses on it (`a.b.c.f`), or `X.name` after
`from X import *`. For such a name it tries the longest module prefix first: the exact
dotted name, else (roots other than known third-party and standard modules) a module whose
path ends with the name's parts, the candidate nearest the importer either way; it stops
there unless the attributes that follow fail to resolve, and then tries shorter prefixes.

This module mirrors that on the text, erring towards more edges: the imports and attribute
chains are found with regular expressions (one inside a string only adds edges); every
nearest candidate of a tie counts; a shorter prefix is skipped only when the longer one is a
module of exactly that name, or the one attribute left is bound at the top of every
candidate module (a `def`, `class`, assignment or import at column 0). More edges only make
groups bigger; a missing edge would split what the whole-project analysis joins, which the
tests compare on every fixture folder and on real repositories.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

# Kept in step with losslint/project.py's _EXTERNAL_ROOTS (imports of these only match exactly).
EXTERNAL_ROOTS = frozenset(sys.stdlib_module_names) | {
    "tensorflow", "keras", "tf_keras", "numpy", "scipy", "torch", "jax", "sklearn", "pandas",
    "matplotlib", "cv2", "PIL", "tqdm", "absl", "segmentation_models", "tensorflow_addons",
}

# The patterns start with a literal word, which lets `re` jump from one occurrence to the next
# (twenty times faster over keras' 13 MB than a leading `\b` or look-behind); what must not
# precede the word is checked on each match (`_starts_word`).
_CONTINUATION = re.compile(r"\\\r?\n")
_FROM = re.compile(r"from\s+(\.*)\s*([\w.]*)\s+import\s*(\([^)]*\)?|[^\n;#]*)")
_IMPORT = re.compile(r"import\s+([^\n;#]*)")
_ITEM = re.compile(r"([A-Za-z_][\w.]*)(?:\s+as\s+([A-Za-z_]\w*))?")
_TAIL = r"((?:\s*\.\s*[A-Za-z_]\w*)+)"
_WORD = re.compile(r"\w")
_WORD_OR_DOT = re.compile(r"[\w.]")
_SPACE = re.compile(r"\s+")
_TOP_DEF = re.compile(r"^(?:async\s+def|def|class)\s+(\w+)", re.MULTILINE)
_TOP_ASSIGN = re.compile(r"^(\w+)\s*(?::|=(?!=))", re.MULTILINE)


def _starts_word(text: str, start: int) -> bool:
    """Nothing of a name or an attribute chain right before `start`."""
    return start == 0 or not _WORD_OR_DOT.match(text, start - 1)


_CHAINS: dict[str, re.Pattern] = {}


def _chain_pattern(local: str) -> re.Pattern:
    """`local.a.b` (spaces allowed around the dots), tail in group 1; compiled once a name."""
    pattern = _CHAINS.get(local)
    if pattern is None:
        pattern = _CHAINS[local] = re.compile(re.escape(local) + _TAIL)
    return pattern


class FileImports:
    """The names one file imports: `bound` (local name -> the dotted names it may stand for),
    `stars` (modules star-imported), `chains` (local name -> the attribute tails used on it),
    `top` (names bound at column 0, for files importing from this one)."""

    def __init__(self, text: str, module_name: str, is_package: bool) -> None:
        text = _CONTINUATION.sub(" ", text)
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.bound: dict[str, set[str]] = {}
        self.stars: set[str] = set()
        self.top: set[str] = set(_TOP_DEF.findall(text)) | set(_TOP_ASSIGN.findall(text))
        rest = _FROM.sub(lambda match: self._from(match, text), text)
        for match in _IMPORT.finditer(rest):
            if not _starts_word(rest, match.start()):
                continue
            at_top = match.start() == 0 or rest[match.start() - 1] == "\n"
            for dotted, alias in _ITEM.findall(match.group(1)):
                dotted = dotted.strip(".")
                if not dotted or dotted == "as":
                    continue
                # `import a.b` binds `a` (the code reaches `a.b` as an attribute of `a`).
                self._bind(alias or dotted.split(".")[0], dotted if alias else dotted.split(".")[0], at_top)
        self.chains: dict[str, set[str]] = {}
        for local in self.bound:
            for match in _chain_pattern(local).finditer(text):
                if _starts_word(text, match.start()):
                    self.chains.setdefault(local, set()).add(_SPACE.sub("", match.group(1)))

    def _bind(self, local: str, qualified: str, at_top: bool) -> None:
        self.bound.setdefault(local, set()).add(qualified)
        if at_top:
            self.top.add(local)

    def _absolute(self, dots: str, base: str) -> str:
        if not dots:
            return base
        parts = self.package.split(".") if self.package else []
        up = len(dots) - 1
        if up:
            parts = parts[:-up] if up <= len(parts) else []
        return ".".join(p for p in [*parts, base] if p)

    def _from(self, match: re.Match, text: str) -> str:
        if match.start() and _WORD.match(text, match.start() - 1):
            return match.group(0)  # `outfrom x import y` is no import
        base = self._absolute(match.group(1), match.group(2).strip("."))
        at_top = match.start() == 0 or text[match.start() - 1] == "\n"
        imported = match.group(3).strip("()")
        if imported.strip().startswith("*"):
            if base:
                self.stars.add(base)
        else:
            for name, alias in _ITEM.findall(imported):
                if name != "as":
                    self._bind(alias or name, f"{base}.{name}" if base else name, at_top)
        return " " * len(match.group(0))

    def lookups(self) -> list[tuple[str, set[str]]]:
        """Each dotted name a binding stands for, with the attribute tails (`.b.c`) the code
        puts after the local name."""
        return [(name, self.chains.get(local, set())) for local, names in self.bound.items() for name in names]


class ModuleIndex:
    """The scanned modules by name and path, to answer `reachable` quickly."""

    def __init__(self, modules: Sequence[tuple[str, bool, Path]], top: Sequence[set[str]]) -> None:
        """`modules`: (dotted name, is a package, path) of each scanned file, by index;
        `top`: the names each binds at column 0 (`FileImports.top`)."""
        self.top = top
        self.names = [name for name, _, _ in modules]
        self.by_name: dict[str, list[int]] = {}
        self.by_parent: dict[str, list[int]] = {}  # the modules strictly under a dotted name
        self.by_part: dict[str, list[int]] = {}  # the modules with this folder or stem in their path
        self.parts: list[tuple[str, ...]] = []
        self.paths: list[tuple[str, ...]] = []
        for index, (name, is_package, path) in enumerate(modules):
            self.by_name.setdefault(name, []).append(index)
            pieces = name.split(".")
            for cut in range(1, len(pieces)):
                self.by_parent.setdefault(".".join(pieces[:cut]), []).append(index)
            resolved = Path(path).resolve()  # as Project.find_module sees it
            self.paths.append(resolved.parts)
            parts = resolved.parent.parts if is_package else resolved.with_suffix("").parts
            self.parts.append(parts)
            for part in set(parts):
                self.by_part.setdefault(part, []).append(index)

    def reachable(self, imports: FileImports, importer: int) -> set[int]:
        found: set[int] = set()
        for name, tails in imports.lookups():
            modules = self._lookup(name.split("."), importer)
            found |= modules
            for tail in tails:  # `pkg.sub.f` resolves `pkg`, then its member `sub`...
                found |= self._members(modules, tail.strip(".").split("."))
        for star in imports.stars:
            found |= self._lookup(star.split("."), importer)
            found.update(self.by_parent.get(star, ()))  # `star.name` for any name used
        return found

    def _lookup(self, pieces: list[str], importer: int) -> set[int]:
        """The modules `Project.lookup_qualified` may visit for this dotted name."""
        found: set[int] = set()
        external = pieces[0] in EXTERNAL_ROOTS
        for cut in range(len(pieces), 0, -1):
            requested = tuple(pieces[:cut])
            candidates = self.by_name.get(".".join(requested))
            if not candidates and not external:
                candidates = [i for i in self.by_part.get(requested[-1], ()) if self.parts[i][-cut:] == requested]
            if not candidates:
                continue
            candidates = self._nearest(candidates, importer)
            found.update(candidates)
            found |= self._members(candidates, pieces[cut:])
            if cut == len(pieces):
                break
            if cut == len(pieces) - 1 and all(pieces[cut] in self.top[i] for i in candidates):
                break
        return found

    def _members(self, modules: set[int] | list[int], attributes: list[str]) -> set[int]:
        """Submodules `Project.member` may return for `module.a.b...`: an attribute a module
        does not bind is the module of that dotted name (any of that name)."""
        found: set[int] = set()
        for module in modules:
            prefix = self.names[module]
            for attribute in attributes:
                prefix = f"{prefix}.{attribute}"
                found.update(self.by_name.get(prefix, ()))
        return found

    def _nearest(self, candidates: list[int], importer: int) -> list[int]:
        """`Project._nearest`'s choice, with every tie."""
        if len(candidates) <= 1:
            return candidates
        origin = self.paths[importer]

        def shared(i: int) -> int:
            n = 0
            for a, b in zip(origin, self.paths[i]):
                if a != b:
                    break
                n += 1
            return n

        best = max(shared(i) for i in candidates)
        return [i for i in candidates if shared(i) == best]
