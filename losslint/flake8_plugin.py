"""losslint as a flake8 plugin: the static rules for the one file flake8 hands over.

Registered in pyproject.toml as the `flake8.extension` entry point `LL`, so flake8's own
`--select`, `--extend-ignore`, `per-file-ignores` and `# noqa` work on LL codes. Each file is
analysed on its own (`losslint.api.check_source`): a loss defined in one file and compiled in
another is found only when its `(y_true, y_pred)` signature gives it away. `losslint check`
sees the whole project at once and finds more.

losslint's own configuration (the nearest `pyproject.toml` `[tool.losslint]` or
`losslint.toml`) still applies, `keeps-batch` and `not-losses` included; a configuration
error stops the plugin with the same one-line message `losslint check` prints.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterator, Sequence

from losslint import __version__, api
from losslint import config as configuration
from losslint.ftypes import Settings


@functools.lru_cache(maxsize=64)
def _settings_for(folder: str) -> Settings:
    return configuration.resolve([folder], {}).settings


class Plugin:
    """flake8 calls `run()` once per file and reports each (line, column, "CODE text")."""

    name = "losslint"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: Sequence[str]) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        on_disk = self.filename not in ("-", "stdin", "<stdin>")
        folder = os.path.dirname(os.path.abspath(self.filename)) if on_disk else os.getcwd()
        settings = _settings_for(folder)
        source = "".join(self.lines)
        for finding in api.check_source(source, self.filename, settings):
            message = finding.message
            if finding.function is not None:
                message += f" (in loss {finding.function})"
            # flake8 columns are 0-based; losslint's are 1-based like an editor's.
            yield finding.line, finding.column - 1, f"{finding.code} {message}", type(self)
