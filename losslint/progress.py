"""A progress bar on stderr for long scans, only when stderr is a terminal.

Nothing is written when stderr is a file or a pipe (CI logs, pre-commit, editors), nor for
runs of fewer than `MIN_FILES` files. The bar is one line redrawn in place with `\\r` at most
ten times a second, and erased when the run ends, so the report that follows starts clean.
"""

from __future__ import annotations

import time
from typing import TextIO

MIN_FILES = 500
_INTERVAL = 0.1
_WIDTH = 30


class Progress:
    def __init__(self, stream: TextIO, min_files: int = MIN_FILES) -> None:
        self.stream = stream
        self.min_files = min_files
        self._last = 0.0
        self._drawn = 0

    @classmethod
    def for_stream(cls, stream: TextIO | None, min_files: int = MIN_FILES) -> "Progress | None":
        """A bar on `stream` if it is a terminal, else None."""
        isatty = getattr(stream, "isatty", None)
        try:
            terminal = bool(isatty and isatty())
        except (ValueError, OSError):  # a closed stream
            terminal = False
        return cls(stream, min_files) if terminal else None

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_files:
            return
        now = time.monotonic()
        if done < total and now - self._last < _INTERVAL:
            return
        self._last = now
        filled = _WIDTH * done // total if total else _WIDTH
        line = f"losslint [{'#' * filled}{'.' * (_WIDTH - filled)}] {done}/{total} files"
        self._write("\r" + line.ljust(self._drawn))
        self._drawn = len(line)

    def close(self) -> None:
        if self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._drawn = 0
