"""The persistent cache of `losslint check`: what an unchanged file or group of files gave.

What is kept (losslint/incremental.py decides what the keys are):

  skipped     content hash -> the file-level findings of a file the prefilter skipped
  quiet       content hash -> the same for a file of a group no loss can be in (the
              prefilter's second stage; checked a little more than a skipped file)
  components  hash of every analysed file (path, module name, content) -> the groups of
              files that can see each other through imports
  facts       group key -> the metric and helper names the group contributes to the whole
              run, and the names of its weakly inferred losses
  findings    group key + the names the rest of the run excludes -> the group's findings
              and its losses, each with its verdict (`--show-losses`)

Every key includes `fingerprint()`: the losslint version, the Python version, the size and
modification time of losslint's own modules and of LibCST, so a changed linter never reuses
an old answer. Settings that change results are part of the group keys.

The cache is one JSON file, never pickle: a cache directory may come with a cloned
repository, and reading it must not run code. Writes go to a temporary file in the same
folder and `os.replace` it, so a reader sees the old file or the new one, never half of one;
two runs sharing the folder each merge what is on disk with what they computed just before
replacing (the last one may drop entries the other added: a later miss, never a wrong
answer). A file that does not load, or an entry of the wrong shape, counts as empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from losslint import __version__
from losslint.ftypes import Finding, LossFinding, LossRecord, Place, Severity

# 2: findings carry `scope` and `losses`; a group's result holds its loss records too.
# 3: no "facts" section: a group's findings depend on its own files only.
# 4: "reads": what a group's analysis read, to reuse its result after edits it did not read.
FORMAT = 4
DEFAULT_DIR = ".losslint_cache"
ENV_VAR = "LOSSLINT_CACHE_DIR"
_SECTIONS = ("skipped", "quiet", "components", "findings", "reads")
# Entries kept from earlier runs besides the ones this run used (several trees may share a
# cache folder); beyond this the unused ones go.
_MAX_ENTRIES = 20_000


def default_dir() -> str:
    return os.environ.get(ENV_VAR) or DEFAULT_DIR


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def digest(value: object) -> str:
    """A stable hash of a JSON-able value (a key made of several parts)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


_FINGERPRINT: str | None = None


def fingerprint() -> str:
    """What the linter is: version, Python, and the state of its own and LibCST's sources."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        parts: list[object] = [FORMAT, __version__, sys.version]
        package = Path(__file__).resolve().parent
        for path in sorted(package.rglob("*.py")):
            with contextlib.suppress(OSError):
                stat = path.stat()
                parts.append((str(path.relative_to(package)), stat.st_size, stat.st_mtime_ns))
        import importlib.util

        spec = importlib.util.find_spec("libcst")
        if spec is not None and spec.origin:
            with contextlib.suppress(OSError):
                folder = Path(spec.origin).parent
                parts.append(("libcst", str(folder), (folder / "_version.py").stat().st_mtime_ns))
        _FINGERPRINT = digest(parts)
    return _FINGERPRINT


def finding_to_json(finding: Finding) -> list:
    return [finding.path, finding.line, finding.column, finding.end_line, finding.end_column,
            finding.code, finding.severity.value, finding.message, finding.function, finding.cell,
            finding.loss_source, finding.scope, list(finding.losses)]


def finding_from_json(row: list) -> Finding:
    path, line, column, end_line, end_column, code, severity, message, function, cell, source, scope, losses = row
    if not isinstance(losses, list):
        raise TypeError("losses")
    return Finding(path, line, column, end_line, end_column, code, Severity(severity), message,
                   function, cell, source, scope=scope, losses=tuple(losses))


def _place_to_json(place: Place | None) -> list | None:
    return None if place is None else [place.path, place.line, place.cell]


def _place_from_json(row) -> Place | None:
    if row is None:
        return None
    path, line, cell = row
    return Place(path, line, cell)


def loss_to_json(record: LossRecord) -> list:
    return [_place_to_json(record.place), record.function, record.source, record.via,
            _place_to_json(record.site), record.verdict,
            [[f.code, _place_to_json(f.place), f.column] for f in record.findings]]


def loss_from_json(row: list) -> LossRecord:
    place, function, source, via, site, verdict, findings = row
    if place is None:
        raise TypeError("place")
    return LossRecord(_place_from_json(place), function, source, via, _place_from_json(site), verdict,
                      tuple(LossFinding(code, _place_from_json(where), column) for code, where, column in findings))


class Cache:
    """One cache folder. `get`/`put` by section and key; `save()` writes what changed."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.file = self.directory / f"v{FORMAT}.json"
        self._data = self._read()
        self._used: dict[str, set[str]] = {section: set() for section in _SECTIONS}
        self._new: dict[str, dict[str, object]] = {section: {} for section in _SECTIONS}

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            with open(self.file, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {section: {} for section in _SECTIONS}
        if not isinstance(data, dict) or data.get("fingerprint") != fingerprint():
            return {section: {} for section in _SECTIONS}
        return {section: data[section] if isinstance(data.get(section), dict) else {}
                for section in _SECTIONS}

    def is_empty(self) -> bool:
        """Nothing from earlier runs (a first run, or a changed linter)."""
        return not any(self._data.values())

    def get(self, section: str, key: str):
        if key in self._new[section]:
            return self._new[section][key]
        value = self._data[section].get(key)
        if value is not None:
            self._used[section].add(key)
        return value

    def put(self, section: str, key: str, value: object) -> None:
        self._new[section][key] = value

    def save(self) -> None:
        """Merge with what is on disk now and replace the file atomically; never raises for I/O."""
        if not any(self._new.values()):
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._mark_folder()
            current = self._read()  # another run may have written since we read
            merged = {}
            for section in _SECTIONS:
                entries = dict(current[section])
                for key in self._used[section]:
                    if key in self._data[section]:
                        entries[key] = self._data[section][key]
                entries.update(self._new[section])
                if len(entries) > _MAX_ENTRIES:
                    keep = self._used[section] | set(self._new[section])
                    entries = {k: v for k, v in entries.items() if k in keep}
                merged[section] = entries
            merged["fingerprint"] = fingerprint()
            handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.directory,
                                                 prefix=".tmp-", suffix=".json", delete=False)
            try:
                with handle:
                    json.dump(merged, handle, separators=(",", ":"))
                os.replace(handle.name, self.file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(handle.name)
                raise
        except OSError:
            pass  # a read-only checkout: run without saving, as if there were no cache

    def _mark_folder(self) -> None:
        """Keep the folder out of git and of backups, like other tools' caches."""
        ignore = self.directory / ".gitignore"
        if not ignore.exists():
            with contextlib.suppress(OSError):
                ignore.write_text("# Created by losslint automatically.\n*\n", encoding="utf-8")
        tag = self.directory / "CACHEDIR.TAG"
        if not tag.exists():
            with contextlib.suppress(OSError):
                tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n"
                               "# This file is a cache directory tag created by losslint.\n",
                               encoding="utf-8")
