"""Every dataclass and enum that crosses module boundaries, in one place.

The analysis produces `Finding`s; the command line renders them; tests compare them. Keeping
the shapes here means no module has to import another's internals to talk about a result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Span:
    """A source range: 1-based lines, 1-based columns, end exclusive as in editors."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    `path` is the path as the user gave it (or relative to the working directory). For a
    notebook, `cell` is the 1-based index of the cell in the notebook's `cells` list and
    `line`/`end_line` count from the first line of that cell.
    `function` is the `__qualname__` of the loss the finding belongs to (`dice_loss`,
    `focal_loss.<locals>.focal`, `MyLoss.call`, `<lambda>`); None for file-level problems
    such as a syntax error.
    """

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    severity: Severity
    message: str
    function: str | None = None
    cell: int | None = None
    # How the loss was found: "compile", "loss-subclass", "custom-objects", "wrapper",
    # "signature" (inferred from a `(y_true, y_pred)` signature with no compile call in sight).
    loss_source: str | None = None
    # What the traced shape probe (`--probe`) saw when it ran this loss; None when not probed.
    probe: "ProbeResult | None" = None
    # The `__qualname__` of the function whose body holds the reduction (`dice_coef` when the
    # loss `hybrid_loss` calls it); None for file-level problems.
    scope: str | None = None
    # Every loss whose value this reduction reaches, sorted: a helper shared by several losses
    # is reported once (under `function`), but belongs to each of them.
    losses: tuple[str, ...] = ()

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code, self.function or "")


@dataclass(frozen=True)
class ProbeResult:
    """The probe's verdict on one loss (losslint/probe): `confirmed` (the traced loss loses
    the batch axis or mixes samples), `refuted` (it returns independent per-sample values) or
    `inconclusive` (it could not be run; `evidence` says why). `input_shapes` are the traced
    shapes (`(("y_true", "(None, 4)"), ("y_pred", "(None, 4)"))`, a tuple so that findings stay
    hashable), `harm` what a confirmed finding does to a weighted batch."""

    verdict: str
    evidence: str
    input_shapes: tuple[tuple[str, str], ...] | None = None
    harm: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "evidence": self.evidence,
            "input_shapes": dict(self.input_shapes) if self.input_shapes is not None else None,
            "harm": self.harm,
        }


@dataclass(frozen=True)
class Place:
    """A line in a file as messages name it (`train.py:40`, `nb.ipynb:cell 3:5`): the display
    path, the 1-based line (counted from its cell in a notebook) and the cell, if any."""

    path: str
    line: int
    cell: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.cell is None else f"{self.path}:cell {self.cell}:{self.line}"


@dataclass(frozen=True)
class LossFinding:
    """A reported finding that a loss's value carries (`LossRecord.findings`): its code and
    where it starts. A helper shared by several losses gives each of them one."""

    code: str
    place: Place
    column: int


@dataclass(frozen=True)
class LossRecord:
    """One function treated as a loss (`losslint check --show-losses`).

    `place` is its `def` line; `source` how it was found (the `Finding.loss_source` kinds),
    `site` where (the `compile(...)`, `custom_objects=...` or wrapper call; None for a Loss
    subclass or a signature), `via` both in words (`compile at train.py:40`). `verdict`:
    "per-sample" (nothing reported), "collapses" (a reported finding other than LL2xx),
    "coupled" (only LL2xx: per-sample values that depend on the rest of the batch),
    "suppressed" (findings, all hidden by `--select`/`--ignore`, `per-file-ignores` or a
    suppression comment) or "not-analysed" (the evaluation gave up: nested too deeply).
    `findings` are the reported ones, the collapses first, then the couplings, each in order
    of place: the first is where the verdict points.
    """

    place: Place
    function: str
    source: str
    via: str
    site: Place | None
    verdict: str
    findings: tuple[LossFinding, ...] = ()

    def sort_key(self) -> tuple:
        return (self.place.path, self.place.cell or 0, self.place.line, self.function)


@dataclass(frozen=True)
class SourceFile:
    """A file discovery chose to analyse.

    `path` is where it is on disk, absolute (symlinks left as they are), so it opens whatever
    the process's working directory. `display` is how every message names it: the argument
    exactly as typed for a file given by name, else the directory argument joined with the
    path found under it (`losslint check src` -> `src/pkg/train.py`, `losslint check .` ->
    `pkg/train.py`).
    """

    path: Path
    display: str

    @property
    def is_notebook(self) -> bool:
        return self.path.suffix == ".ipynb"


@dataclass
class FileError:
    """A path that could not be scanned at all (missing, unreadable): exit code 2."""

    path: str
    message: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_scanned: int = 0
    # The display paths of the files scanned, sorted (JUnit reports a passing test per file).
    paths_scanned: list[str] = field(default_factory=list)
    # Every function treated as a loss, sorted (`--show-losses`).
    losses: list[LossRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    """What a run was asked to do; built by the CLI (and later from configuration)."""

    # ruff-style code prefixes; None means the default set (every rule).
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    # Extra gitignore-style patterns to skip during discovery.
    exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True

    # --- from configuration (losslint/config.py); the defaults change nothing -------------
    # Where `exclude` patterns are anchored: the configuration file's folder when they came
    # from one, None for the working directory (`--exclude`).
    exclude_root: str | None = None
    # More patterns to skip, on top of `exclude` (a command-line `--exclude` replaces the
    # configured `exclude` but keeps these).
    extend_exclude: tuple[str, ...] = ()
    # (gitignore-style file pattern, codes or prefixes not reported in matching files).
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Where `extend_exclude` and `per_file_ignores` patterns are anchored: the folder of the
    # configuration file; None for the working directory.
    config_root: str | None = None
    # Apply exclude and gitignore rules to files named on the command line too (pre-commit
    # passes every staged file by name).
    force_exclude: bool = False
    # Escape hatches for false positives, applied by the engine (finder.py, evaluate.py):
    # functions known to keep the batch axis, by qualified (`mypkg.ops.safe_mean`) or simple
    # name (`safe_mean`): a call to one is element-wise.
    keeps_batch: tuple[str, ...] = ()
    # Functions that are never losses whatever their signature: qualified or simple names,
    # `*` globs allowed (`mypkg.metrics.*`).
    not_losses: tuple[str, ...] = ()
    # The probe (`--probe`): input shapes to try first (`y_pred=(None, 64, 64, 1)`, as
    # `--probe-shape` takes them) and the time limit per loss, in seconds.
    probe_shapes: tuple[str, ...] = ()
    probe_timeout: float = 20.0
