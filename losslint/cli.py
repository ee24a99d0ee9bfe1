"""The command line, and only that: parse options, call `losslint.api`, print, pick the exit code.

Exit status, as in ruff: 0 nothing found, 1 problems found, 2 losslint could not do what was
asked (bad option, unknown rule, missing path, unreadable directory, internal error). A file
error wins over findings: a run that skipped a path must not look like a plain lint failure.

`main(argv) -> int` never raises for bad input and never prints a traceback; set
LOSSLINT_DEBUG=1 to let unexpected exceptions through with their traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from losslint import __version__, api
from losslint.discovery import compile_patterns
from losslint.ftypes import Report, Settings
from losslint.output import FORMATS, render, render_rule, render_rule_table
from losslint.rules import RULES, Rule, unknown_codes

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's convention for a run stopped with Ctrl-C

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def error(message: str) -> int:
    """Print a one-line error on stderr and return the exit status for it."""
    click.echo(f"losslint: error: {message}", err=True)
    return EXIT_ERROR


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(
    __version__, "--version", prog_name="losslint", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Find custom Keras losses that collapse the batch axis.

    A Keras loss must return one value per sample; a loss that reduces over the batch still
    trains, but silently ignores sample weights, class weights and masks.

    \b
    Examples:
      losslint check                        check every .py and .ipynb file below here
      losslint check src notebooks/eda.ipynb
      losslint check --format json .        machine-readable findings
      losslint rule LL101                   explain a rule
      losslint rule --all                   list every rule
    """


def _split_codes(values: tuple[str, ...]) -> list[str]:
    """`--select LL1,LL2 --select LL9` -> ["LL1", "LL2", "LL9"], as typed."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="Check files and notebooks.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Only report these rules: codes or prefixes, comma-separated (LL101, LL1, ALL). "
    "Default: every rule.",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="CODES",
    help="Do not report these rules: codes or prefixes, comma-separated. The longer prefix "
    "wins over --select: `--select LL1 --ignore LL103`.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: one line per problem and a summary; json: an array of objects.",
)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit with 0 even when problems are found (still 2 on errors).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print the problems only, no summary.")
@click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Skip files and directories matching this gitignore-style pattern, relative to the "
    "working directory (repeatable). Paths named on the command line are always checked.",
)
@click.option(
    "--respect-gitignore/--no-respect-gitignore",
    default=True,
    show_default=True,
    help="Skip files ignored by .gitignore and .git/info/exclude inside a git work tree.",
)
def check(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    output_format: str,
    exit_zero: bool,
    quiet: bool,
    exclude: tuple[str, ...],
    respect_gitignore: bool,
) -> int:
    """Check Python files and notebooks for losses that collapse the batch axis.

    PATHS are files or directories (default: the current directory). Directories are
    searched for .py and .ipynb files, skipping virtual environments, caches, build output
    and whatever .gitignore ignores.

    \b
    Examples:
      losslint check
      losslint check src train.py --select LL1
      losslint check . --ignore LL201 --exclude 'experiments/old_*'
      losslint check notebooks --format json > findings.json

    \b
    Exit status: 0 no problems, 1 problems found, 2 error (bad option, unknown rule,
    missing path, unreadable directory).
    """
    selected = _split_codes(select)
    ignored = _split_codes(ignore)
    unknown = [code for code in selected + ignored if unknown_codes((code.upper(),))]
    if unknown:
        for code in unknown:
            error(f"unknown rule selector {code!r}")
        return EXIT_ERROR
    try:
        compile_patterns(exclude)
    except ValueError as exc:
        return error(str(exc))

    settings = Settings(
        select=tuple(code.upper() for code in selected) or None,
        ignore=tuple(code.upper() for code in ignored),
        exclude=exclude,
        respect_gitignore=respect_gitignore,
    )
    report = api.check_paths(list(paths) or ["."], settings)

    for file_error in report.errors:
        error(f"{file_error.path}: {file_error.message}")
    color = _stdout_is_terminal() and not os.environ.get("NO_COLOR")
    text = render(report, output_format, quiet=quiet, color=color)
    if text:
        click.echo(text, color=color)
    return _exit_status(report, exit_zero)


def _stdout_is_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _exit_status(report: Report, exit_zero: bool) -> int:
    if report.errors:
        return EXIT_ERROR
    if report.findings and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="Explain a rule, or list them all.")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule, one per line.")
def rule(code: str | None, show_all: bool) -> int:
    """Explain a rule: what it flags, why, and what to write instead.

    CODE is a rule code or name (LL101, reduction-without-axis).

    \b
    Examples:
      losslint rule LL101
      losslint rule --all
    """
    if show_all == (code is not None):
        return error("give either a rule code or --all")
    if show_all:
        click.echo(render_rule_table(RULES[c] for c in sorted(RULES)))
        return EXIT_OK
    assert code is not None
    found = _find_rule(code)
    if found is None:
        return error(f"unknown rule {code!r} (see `losslint rule --all`)")
    click.echo(render_rule(found))
    return EXIT_OK


def _find_rule(code_or_name: str) -> Rule | None:
    key = code_or_name.strip()
    if key.upper() in RULES:
        return RULES[key.upper()]
    return next((r for r in RULES.values() if r.name == key.lower()), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); return the exit status."""
    try:
        status = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="losslint",
            standalone_mode=False,
        )
    except click.ClickException as exc:  # usage errors: click's own message, exit 2
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C, which click turns into Abort
        click.echo("losslint: interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("LOSSLINT_DEBUG", "") not in ("", "0"):
            raise
        detail = " ".join(str(exc).split()) or "no message"
        click.echo(
            f"losslint: internal error: {type(exc).__name__}: {detail} "
            "(set LOSSLINT_DEBUG=1 for the traceback)",
            err=True,
        )
        return EXIT_ERROR
    # A command returns its status; --help and --version return None (or 0) after printing.
    return status if isinstance(status, int) else EXIT_OK
