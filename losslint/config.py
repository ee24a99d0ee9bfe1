"""Configuration files: find them, check them, and merge them with the command line.

    find_config(paths) -> Path | None
    load_config(path) -> ConfigFile                      raises ConfigError
    resolve(paths, overrides, config=None, isolated=False) -> Resolved
    render_settings(resolved) -> str                     `losslint config`

Settings live in `pyproject.toml` under `[tool.losslint]` or at the top level of
`losslint.toml`, with the same keys. The nearest file wins: from the folder of the first
scanned path (the path itself when it is a folder) upward, the first folder holding a
`losslint.toml`, or a `pyproject.toml` with a `[tool.losslint]` table (`losslint.toml` first
in the same folder). Files are not merged: one file, then the command line on top, each
command-line option replacing the file's value for that key.

Patterns in a file (`exclude`, `extend-exclude`, `per-file-ignores`) are relative to that
file's folder, as `.gitignore` patterns are to theirs; `--exclude` stays relative to the
working directory.

Every mistake in a file is a `ConfigError` with one line that names the file and the key:
`pyproject.toml: [tool.losslint] unknown key 'selct'`. A linter that silently ignores a
misspelt `ignore` reports everything the user thinks is off.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from losslint.discovery import compile_patterns
from losslint.ftypes import Settings
from losslint.rules import unknown_codes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
LOSSLINT_TOML = "losslint.toml"

DEFAULT = "default"
COMMAND_LINE = "command line"


class ConfigError(Exception):
    """A configuration file that cannot be used; the message is one line, file first."""


# --- the keys -------------------------------------------------------------------------------

# A dotted Python name (`mypkg.ops.safe_mean`, `safe_mean`); `not-losses` also allows `*`.
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_DOTTED_GLOB = re.compile(r"[A-Za-z_*][A-Za-z0-9_*]*(\.[A-Za-z_*][A-Za-z0-9_*]*)*")


@dataclass(frozen=True)
class Key:
    """One configuration key: its name in files, its `Settings` field, how it is checked.

    `convert` turns the TOML value into the `Settings` value; it raises TypeError with the
    expected type ("a list of rule codes") or ValueError with what is wrong with the value.
    """

    name: str
    field: str
    convert: Callable[[object], object]


def _strings(value: object, kind: str = "a list of strings") -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(kind)
    return tuple(value)


def _codes(value: object) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in _strings(value, "a list of rule codes"))
    bad = unknown_codes(codes)
    if bad:
        raise ValueError(f"unknown rule selector {bad[0]!r}")
    return codes


def _patterns(value: object) -> tuple[str, ...]:
    patterns = _strings(value, "a list of gitignore-style patterns")
    compile_patterns(patterns)  # ValueError names the pattern
    return patterns


def _per_file_ignores(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise TypeError("a table of file pattern = [rule codes]")
    result = []
    for pattern, codes in value.items():
        compile_patterns([pattern])
        try:
            result.append((pattern, _codes(codes)))
        except TypeError:
            raise TypeError(f"a table of file pattern = [rule codes] (see {pattern!r})") from None
    return tuple(result)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _names(pattern: re.Pattern[str], what: str) -> Callable[[object], tuple[str, ...]]:
    def convert(value: object) -> tuple[str, ...]:
        names = _strings(value, f"a list of {what}")
        for name in names:
            if not pattern.fullmatch(name):
                raise ValueError(f"{name!r} is not a {what[:-1]}")
        return names

    return convert


def _probe_shapes(value: object) -> tuple[str, ...]:
    from losslint.probe import parse_shapes  # pure parsing: TensorFlow is not imported

    shapes = _strings(value, "a list of shapes like 'y_pred=(None, 64, 64, 1)'")
    parse_shapes(shapes)  # raises ValueError with a readable message
    return shapes


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0.1:
        raise TypeError("a number of seconds, at least 0.1")
    return float(value)


KEYS: tuple[Key, ...] = (
    Key("select", "select", _codes),
    Key("ignore", "ignore", _codes),
    Key("exclude", "exclude", _patterns),
    Key("extend-exclude", "extend_exclude", _patterns),
    Key("per-file-ignores", "per_file_ignores", _per_file_ignores),
    Key("respect-gitignore", "respect_gitignore", _boolean),
    Key("keeps-batch", "keeps_batch", _names(_DOTTED, "dotted names")),
    Key("not-losses", "not_losses", _names(_DOTTED_GLOB, "dotted names")),
    Key("probe-shapes", "probe_shapes", _probe_shapes),
    Key("probe-timeout", "probe_timeout", _seconds),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}
KEYS_BY_FIELD = {key.field: key for key in KEYS}


# --- files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFile:
    """A checked configuration file: its path and its settings by `Settings` field name."""

    path: Path
    values: Mapping[str, object]

    @property
    def root(self) -> Path:
        return self.path.parent


def display_path(path: Path) -> str:
    """How messages name a file: relative to the working directory when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # on another drive (Windows)
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{display_path(path)}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{display_path(path)}: invalid TOML: {exc}") from None


def _table(path: Path, data: dict[str, object]) -> tuple[dict[str, object] | None, str]:
    """The losslint table of a parsed file, and how messages name it."""
    if path.name == PYPROJECT:
        tool = data.get("tool")
        table = tool.get("losslint") if isinstance(tool, dict) else None
        if table is not None and not isinstance(table, dict):
            raise ConfigError(f"{display_path(path)}: [tool.losslint] must be a table")
        return table, "[tool.losslint] "
    return data, ""


def load_config(path: Path) -> ConfigFile:
    """Read and check one file. A `pyproject.toml` without `[tool.losslint]` sets nothing."""
    path = Path(os.path.abspath(path))
    table, section = _table(path, _read_toml(path))
    values: dict[str, object] = {}
    for name, value in (table or {}).items():
        where = f"{display_path(path)}: {section}"
        key = KEYS_BY_NAME.get(name)
        if key is None:
            raise ConfigError(f"{where}unknown key {name!r}")
        try:
            values[key.field] = key.convert(value)
        except TypeError as exc:
            raise ConfigError(f"{where}{name!r} must be {exc}, not {_toml_type(value)}") from None
        except ValueError as exc:
            raise ConfigError(f"{where}{name!r}: {exc}") from None
    return ConfigFile(path, values)


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "an array", dict: "a table"}
    return next((text for kind, text in names.items() if isinstance(value, kind)), "a value")


def _has_table(path: Path) -> bool:
    if path.name != PYPROJECT:
        return True
    try:
        table, _ = _table(path, _read_toml(path))
    except ConfigError:
        return True  # it is ours if it says so; let load_config report what is wrong
    return table is not None


def find_config(paths: Sequence[str]) -> Path | None:
    """The configuration file for a run over `paths`: the nearest, upward from the first."""
    first = Path(os.path.abspath(paths[0] if paths else "."))
    folder = first if first.is_dir() else first.parent
    for candidate in (folder, *folder.parents):
        for name in (LOSSLINT_TOML, PYPROJECT):
            path = candidate / name
            if path.is_file() and _has_table(path):
                return path
    return None


# --- settings in force ----------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The settings of a run, and where each configurable one came from."""

    settings: Settings
    config: Path | None  # the file read, if any
    origins: Mapping[str, str]  # key name -> DEFAULT, COMMAND_LINE or the file's path


def resolve(
    paths: Sequence[str],
    overrides: Mapping[str, object],
    *,
    config: str | None = None,
    isolated: bool = False,
) -> Resolved:
    """Defaults, then the configuration file, then `overrides` (Settings fields set on the
    command line). `config` names the file to use instead of searching; `isolated` reads
    none. Raises ConfigError."""
    unknown = set(overrides) - {f.name for f in fields(Settings)}
    if unknown:
        raise ValueError(f"not Settings fields: {sorted(unknown)}")
    file: ConfigFile | None = None
    if not isolated:
        path = Path(config) if config is not None else find_config(paths)
        if config is not None and not Path(config).is_file():
            raise ConfigError(f"{config}: no such configuration file")
        if path is not None:
            file = load_config(path)

    values: dict[str, object] = {}
    origins = {key.name: DEFAULT for key in KEYS}
    if file is not None:
        values.update(file.values)
        for name in file.values:
            origins[KEYS_BY_FIELD[name].name] = display_path(file.path)
        values["config_root"] = str(file.root)
        if "exclude" in file.values:
            values["exclude_root"] = str(file.root)
    for name, value in overrides.items():
        values[name] = value
        if name in KEYS_BY_FIELD:
            origins[KEYS_BY_FIELD[name].name] = COMMAND_LINE
        if name == "exclude":
            values["exclude_root"] = None  # --exclude is relative to the working directory
    settings = replace(Settings(), **values)
    return Resolved(settings, file.path if file is not None else None, origins)


def render_settings(resolved: Resolved) -> str:
    """The settings in force as TOML lines, each with where it came from (`losslint config`)."""
    settings = resolved.settings
    if resolved.config is not None:
        lines = [f"# configuration file: {display_path(resolved.config)}"]
    else:
        lines = ["# configuration file: none"]
    width = max(len(key.name) for key in KEYS)
    rows = [(f"{key.name:<{width}} = {_toml_value(key, getattr(settings, key.field))}",
             resolved.origins[key.name]) for key in KEYS]
    value_width = max(len(text) for text, _ in rows)
    lines += [f"{text:<{value_width}}  # {origin}" for text, origin in rows]
    return "\n".join(lines)


def _toml_value(key: Key, value: object) -> str:
    if key.name == "select" and value is None:
        return '["ALL"]'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if key.name == "per-file-ignores":
        items = ", ".join(f"{_quote(pattern)} = {_toml_list(codes)}" for pattern, codes in value)
        return "{ " + items + " }" if items else "{}"
    return _toml_list(value)


def _toml_list(values: object) -> str:
    return "[" + ", ".join(_quote(item) for item in values) + "]"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
