"""The command line, and only that: parse options, call `losslint.api`, print, pick the exit code.

Exit status, as in ruff: 0 nothing found, 1 problems found, 2 losslint could not do what was
asked (bad option, unknown rule, missing path, unreadable directory, internal error). A file
error wins over findings: a run that skipped a path must not look like a plain lint failure.

`main(argv) -> int` never raises for bad input and never prints a traceback; set
LOSSLINT_DEBUG=1 to let unexpected exceptions through with their traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence

import click

from losslint import __version__, api
from losslint.discovery import compile_patterns
from losslint.ftypes import Report, Settings
from losslint.output import FORMATS, render, render_rule, render_rule_table
from losslint.rules import RULES, Rule, unknown_codes

# --- configuration files and report destinations (config.py, output.py) --------------------
from losslint import config as configuration
from losslint.output import render_losses, render_statistics

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


def _with_options(command, options: list):
    """`command` decorated with each click option, in the order listed (as --help shows them)."""
    for option in reversed(options):
        command = option(command)
    return command


# --- configuration files and report destinations: check's options ------------------------


def _configuration_options(command):
    """`check`'s options about configuration files and which files are checked."""
    options = [
        click.option(
            "--config",
            "config_file",
            metavar="PATH",
            type=click.Path(dir_okay=False),
            help="Read settings from this pyproject.toml or losslint.toml instead of the "
            "nearest one.",
        ),
        click.option("--isolated", is_flag=True, help="Ignore every configuration file."),
        click.option(
            "--show-settings",
            is_flag=True,
            help="Print the settings in force and where each came from, then exit.",
        ),
        click.option(
            "--force-exclude",
            is_flag=True,
            help="Apply exclude and .gitignore rules to files named on the command line too "
            "(for pre-commit, which names every staged file).",
        ),
    ]
    return _with_options(command, options)


def _report_options(command):
    """`check`'s options about where the report goes and what it holds."""
    options = [
        click.option(
            "--output-file",
            "-o",
            metavar="PATH",
            type=click.Path(dir_okay=False),
            help="Write the report to this file (replaced whole, never half-written) "
            "instead of standard output.",
        ),
        click.option(
            "--statistics",
            is_flag=True,
            help="Print how many problems each rule found (count code name) instead of "
            "the problems.",
        ),
        click.option(
            "--show-losses",
            is_flag=True,
            help="Print every function treated as a loss instead of the problems: where it is, "
            "how it reaches Keras and its verdict (per-sample, collapses, coupled), one per line "
            "(a JSON array with --format json).",
        ),
    ]
    return _with_options(command, options)


# --- performance: the cache, worker processes and the progress bar (losslint/cache.py,
# losslint/parallel.py, losslint/progress.py) ---------------------------------------------


def _performance_options(command):
    """`check`'s options about the cache and worker processes."""
    options = [
        click.option(
            "--cache/--no-cache",
            default=True,
            show_default=True,
            help="Reuse the results of unchanged files from earlier runs.",
        ),
        click.option(
            "--cache-dir",
            metavar="PATH",
            type=click.Path(file_okay=False),
            help="Where the cache lives. Default: $LOSSLINT_CACHE_DIR, else .losslint_cache in "
            "the working directory.",
        ),
        click.option(
            "--jobs",
            "-j",
            type=click.IntRange(min=0),
            default=0,
            metavar="N",
            help="Worker processes for large runs; 0 (the default) means one per CPU, 1 none.",
        ),
    ]
    return _with_options(command, options)


def _check_fast(paths: list[str], settings: Settings, cache: bool, cache_dir: str | None,
                jobs: int) -> Report:
    from losslint import cache as cachelib
    from losslint.progress import Progress

    directory = (cache_dir or cachelib.default_dir()) if cache else None
    bar = Progress.for_stream(sys.stderr)
    try:
        with api.run_options(cache_dir=directory, jobs=jobs or None, progress=bar):
            return api.check_paths(paths, settings)
    finally:
        if bar is not None:
            bar.close()


def _probe_options(command):
    """`check`'s options for the traced shape probe (TensorFlow, in a sandboxed process)."""
    options = [
        click.option(
            "--probe",
            type=click.Choice(PROBE_SCOPES),
            is_flag=False,
            flag_value="flagged",
            default=None,
            help="Run losses in a sandboxed TensorFlow process to confirm or refute findings "
            "(needs `pip install 'losslint[probe]'`); module top-level code is never run. "
            "`--probe` (= `--probe=flagged`): each loss with a finding. `--probe=all`: every "
            "loss found; the verdicts on losses without findings are a trailing section of the "
            "text report only (not in json or other formats; not with --quiet or --statistics) "
            "and never change the exit status. With --fix or --diff: run each fix in the sandbox "
            "first and make only those that keep the batch axis (and, for a safe fix, the loss's "
            "value on random inputs); the findings of the others say why.",
        ),
        click.option(
            "--probe-shape",
            multiple=True,
            metavar="SHAPE",
            help="Input shape for the probe, e.g. 'y_pred=(None,64,64,1)' (y_true defaults to "
            "y_pred's shape; one rank less means integer labels). Default: the shapes of the "
            "model in the loss's file (last Dense(n), or Conv2D with a literal Input shape), "
            "then (None,4), (None,8,8,3), (None,5,4), then sparse labels.",
        ),
        click.option(
            "--drop-refuted",
            is_flag=True,
            help="With --probe: leave out findings the probe refuted.",
        ),
        click.option(
            "--legacy-keras",
            is_flag=True,
            help="With --probe: run every loss under legacy Keras 2 (tf_keras, "
            "TF_USE_LEGACY_KERAS=1). Default: only losses whose modules import tf_keras.",
        ),
        click.option(
            "--probe-timeout",
            type=click.FloatRange(min=0.1),
            default=20.0,
            show_default=True,
            metavar="SECONDS",
            help="With --probe: time limit per loss; the whole probe run is limited to 30 times this.",
        ),
    ]
    return _with_options(command, options)


# --- automatic fixes: check's --fix, --diff, --unsafe-fixes (losslint/fix.py) --------------

FIX_FLAGS = ("fix", "show_diff", "unsafe_fixes", "exit_non_zero_on_fix")


def _fix_options(command):
    """`check`'s options for automatic fixes."""
    options = [
        click.option("--fix", is_flag=True,
                     help="Fix what can be fixed safely (LL101 means without axis, LL103 loss objects "
                     "built in the loss) and write the files; report what remains. With --probe, "
                     "only the fixes the probe verifies by running the fixed loss."),
        click.option("--diff", "show_diff", is_flag=True,
                     help="Print the fixes as a unified diff and write nothing (exit 1 when a file "
                     "would change)."),
        click.option("--unsafe-fixes", is_flag=True,
                     help="With --fix or --diff: also make the unsafe fixes (sums without axis, "
                     "means used non-linearly, tf.nn.l2_loss, a global Dice of flattened tensors), "
                     "which change the loss's value or scale."),
        click.option("--exit-non-zero-on-fix", is_flag=True,
                     help="With --fix: exit 1 when files were changed, even if no problem remains."),
    ]
    return _with_options(command, options)


def _run_fix(paths: list[str], settings: Settings, flags: dict, probe_options: dict, output_format: str,
             quiet: bool, exit_zero: bool, output_file: str | None, statistics: bool) -> int:
    from losslint import fix as fixer

    if not (flags["fix"] or flags["show_diff"]):
        return error("--unsafe-fixes and --exit-non-zero-on-fix need --fix or --diff")
    if probe_options.get("probe") and probe_options.get("drop_refuted"):
        return error("--drop-refuted cannot be combined with --fix or --diff")
    probe_setup = _probe_setup(probe_options)
    if isinstance(probe_setup, int):
        return probe_setup
    unsafe = bool(flags["unsafe_fixes"])
    verifier = None
    if probe_setup is not None:  # --probe: each fix is run in the sandbox before it is kept
        from losslint.probe.verify import FixVerifier

        verifier = FixVerifier(probe_setup[0])
    try:
        run = fixer.fix_paths(paths, settings, unsafe=unsafe, write=not flags["show_diff"], verify=verifier)
    finally:
        if verifier is not None:
            verifier.close()
    not_applied = "" if verifier is None else _not_applied(verifier.not_applied)
    for file_error in run.report.errors:
        error(f"{file_error.path}: {file_error.message}")
    if flags["show_diff"]:
        diff = run.diff()
        if diff:
            click.echo(diff, nl=False)
        remaining = len(run.report.findings)
        click.echo(f"{fixer.summary(run, unsafe, dry=True)[:-1]}; {remaining} "
                   f"problem{'s' if remaining != 1 else ''} would remain{not_applied}.", err=True)
        if run.report.errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if run.fixed else EXIT_OK
    to_stdout = output_format == "text" and output_file is None and not statistics
    lines = [] if quiet else [
        f"{a.where}: {a.finding.code} fixed "
        f"({a.safety}): {a.description}" for a in run.applied]
    color = output_file is None and _stdout_is_terminal() and not os.environ.get("NO_COLOR")
    if statistics:
        text = render_statistics(run.report, "json" if output_format == "json" else "text")
    else:
        text = render(run.report, output_format, quiet=quiet, color=color)
    summary = fixer.summary(run, unsafe)
    if not_applied:
        summary = f"{summary[:-1]}{not_applied}."
    if to_stdout:
        parts = ["\n".join(lines)] if lines else []
        if text:
            parts.append(text)
        if not quiet:
            parts.append(summary)
        click.echo("\n".join(parts), color=color)
    else:
        if output_file is not None:
            try:
                _write_atomically(output_file, text + "\n" if text else "")
            except OSError as exc:
                return error(f"{output_file}: cannot write: {exc.strerror or exc}")
        elif text:
            click.echo(text, color=color)
        for line in lines:
            click.echo(line, err=True)
        if not quiet:
            click.echo(summary, err=True)
    status = _exit_status(run.report, exit_zero)
    if status == EXIT_OK and flags["exit_non_zero_on_fix"] and run.fixed:
        return EXIT_FINDINGS
    return status


def _not_applied(counts) -> str:
    """`; 2 fixes not applied (1 failed the probe's check, 1 probe inconclusive)` or ""."""
    total = sum(counts.values())
    if not total:
        return ""
    return (f"; {total} fix{'es' if total != 1 else ''} not applied ({counts['failed']} failed the "
            f"probe's check, {counts['inconclusive']} probe inconclusive)")


PROBE_SCOPES = ("flagged", "all")


class _CheckCommand(click.Command):
    """`check`, where a bare `--probe` keeps its meaning before `--probe` took a value.

    `--probe` takes an optional value (`--probe=all`); click would then read the word after a
    bare `--probe` as that value, so `losslint check --probe src` would fail with "'src' is
    not one of 'flagged', 'all'". A bare `--probe` followed by anything but `flagged` or
    `all` is therefore read as `--probe=flagged`, and that word stays a path.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _bare_probe(self, args))


def _bare_probe(command: click.Command, args: list[str]) -> list[str]:
    takes_value = {
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        and param.name != "probe"
        for opt in param.opts
    }
    args = list(args)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            break
        if arg in takes_value:  # `--exclude --probe`: the word after it is that option's value
            index += 2
            continue
        if arg == "--probe" and index + 1 < len(args):
            following = args[index + 1]
            if following not in PROBE_SCOPES and not (following.startswith("-") and following != "-"):
                args[index] = "--probe=flagged"
        index += 1
    return args


@cli.command(cls=_CheckCommand, context_settings=CONTEXT_SETTINGS, short_help="Check files and notebooks.")
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
    help="text: one line per problem and a summary; json: an array of objects; concise: "
    "path:line:col: CODE message; github: GitHub Actions annotations; sarif: SARIF 2.1.0 "
    "(code scanning); junit: JUnit XML, a test case per file.",
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
@_configuration_options
@_report_options
@_performance_options
@_probe_options
@_fix_options
def check(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    output_format: str,
    exit_zero: bool,
    quiet: bool,
    exclude: tuple[str, ...],
    respect_gitignore: bool,
    # configuration files and report destinations
    config_file: str | None,
    isolated: bool,
    show_settings: bool,
    force_exclude: bool,
    output_file: str | None,
    statistics: bool,
    show_losses: bool,
    # performance: cache and processes
    cache: bool,
    cache_dir: str | None,
    jobs: int,
    **probe_options: object,
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
    missing path, unreadable directory, invalid configuration).

    Settings are read from the nearest pyproject.toml ([tool.losslint]) or losslint.toml
    above the first path; options given here replace the file's values.
    """
    selected = _split_codes(select)
    ignored = _split_codes(ignore)
    unknown = [code for code in selected + ignored if unknown_codes((code.upper(),))]
    if unknown:
        for code in unknown:
            error(f"unknown rule selector {code!r}")
        return EXIT_ERROR
    try:
        if exclude:  # (pathspec is imported only when there are patterns)
            compile_patterns(exclude)
    except ValueError as exc:
        return error(str(exc))

    # --- configuration files and report destinations -------------------------------------
    overrides: dict[str, object] = {}
    if selected:
        overrides["select"] = tuple(code.upper() for code in selected)
    if ignored:
        overrides["ignore"] = tuple(code.upper() for code in ignored)
    if exclude:
        overrides["exclude"] = exclude
    if _given("respect_gitignore"):
        overrides["respect_gitignore"] = respect_gitignore
    if force_exclude:
        overrides["force_exclude"] = True
    try:
        resolved = configuration.resolve(
            list(paths) or ["."], overrides, config=config_file, isolated=isolated
        )
    except configuration.ConfigError as exc:
        return error(str(exc))
    if show_settings:
        click.echo(configuration.render_settings(resolved))
        return EXIT_OK
    settings: Settings = resolved.settings
    if not _given("probe_shape") and settings.probe_shapes:
        probe_options["probe_shape"] = settings.probe_shapes  # from the configuration file
    if not _given("probe_timeout"):
        probe_options["probe_timeout"] = settings.probe_timeout
    fix_flags = {name: probe_options.pop(name, False) for name in FIX_FLAGS}
    if show_losses and (statistics or any(fix_flags.values())):
        return error("--show-losses cannot be combined with --statistics, --fix or --diff")
    if any(fix_flags.values()):
        return _run_fix(list(paths) or ["."], settings, fix_flags, probe_options,
                        output_format, quiet, exit_zero, output_file, statistics)
    # --- the traced shape probe (--probe) ------------------------------------------------
    probe_setup = _probe_setup(probe_options)
    if isinstance(probe_setup, int):
        return probe_setup
    probed_losses = None  # --probe=all: the verdicts on losses without findings
    if probe_setup is None:
        report = _check_fast(list(paths) or ["."], settings, cache, cache_dir, jobs)
    else:
        report, probed_losses = _probed_report(list(paths) or ["."], settings, *probe_setup)

    for file_error in report.errors:
        error(f"{file_error.path}: {file_error.message}")
    color = output_file is None and _stdout_is_terminal() and not os.environ.get("NO_COLOR")
    if statistics:
        text = render_statistics(report, "json" if output_format == "json" else "text")
    elif show_losses:
        text = render_losses(report, "json" if output_format == "json" else "text", quiet=quiet)
    else:
        text = render(report, output_format, quiet=quiet, color=color)
    text = _with_probed_losses(text, probed_losses, output_format, quiet or statistics or show_losses)
    if output_file is not None:
        try:
            _write_atomically(output_file, text + "\n" if text else "")
        except OSError as exc:
            return error(f"{output_file}: cannot write: {exc.strerror or exc}")
    elif text:
        click.echo(text, color=color)
    return _exit_status(report, exit_zero)


# --- configuration files and report destinations: options and helpers ---------------------


def _given(parameter: str) -> bool:
    """Whether the user set `parameter` on the command line (rather than click's default)."""
    source = click.get_current_context().get_parameter_source(parameter)
    return source is click.core.ParameterSource.COMMANDLINE


def _write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename, so a
    reader (a CI upload step) never sees a half-written report."""
    folder = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", errors="surrogateescape",  # a non-UTF-8 file name's own bytes
        dir=folder, prefix=".losslint-", suffix=".tmp", delete=False,
    )
    try:
        with handle:
            handle.write(text)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


@cli.command(
    "config", context_settings=CONTEXT_SETTINGS, short_help="Show the settings in force."
)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--config",
    "config_file",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Read this pyproject.toml or losslint.toml instead of the nearest one.",
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
def config_command(paths: tuple[str, ...], config_file: str | None, isolated: bool) -> int:
    """Print the settings a check of PATHS would use, and where each came from.

    The configuration file is the nearest pyproject.toml with a [tool.losslint] table, or
    losslint.toml, from the first path (default: the current directory) upward. Each line
    is a TOML setting followed by its origin: default, the file, or the command line.

    \b
    Examples:
      losslint config
      losslint config src --config ci/losslint.toml
    """
    try:
        resolved = configuration.resolve(
            list(paths) or ["."], {}, config=config_file, isolated=isolated
        )
    except configuration.ConfigError as exc:
        return error(str(exc))
    click.echo(configuration.render_settings(resolved))
    return EXIT_OK


def _stdout_is_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _exit_status(report: Report, exit_zero: bool) -> int:
    if report.errors:
        return EXIT_ERROR
    if report.findings and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


# --- the traced shape probe: check's --probe options and the probe command ---------------


def _probe_setup(options: dict):
    """None (no probe), an exit status (bad use, no TensorFlow), or (ProbeOptions,
    drop_refuted, scope) with scope "flagged" (`--probe`) or "all" (`--probe=all`)."""
    if not options.get("probe"):
        for name in ("drop_refuted", "legacy_keras"):  # probe shapes may come from configuration
            if options.get(name):
                return error(f"--{name.replace('_', '-')} needs --probe")
        return None
    setup = _probe_options_from(options.get("probe_shape") or (), bool(options.get("legacy_keras")),
                                float(options.get("probe_timeout") or 20.0), bool(options.get("drop_refuted")))
    if isinstance(setup, int):
        return setup
    return (*setup, str(options["probe"]))


def _probe_options_from(shapes, legacy: bool, timeout: float, drop_refuted: bool = False):
    from losslint import probe

    if not probe.tensorflow_available():
        return error(f"the probe needs TensorFlow: {probe.INSTALL_HINT}")
    if legacy and not probe.legacy_keras_available():
        return error("--legacy-keras needs tf_keras: pip install tf_keras")
    try:
        parsed = probe.parse_shapes(shapes)
    except ValueError as exc:
        return error(str(exc))
    options = probe.ProbeOptions(shapes=parsed, legacy_keras=True if legacy else None,
                                 job_seconds=timeout, run_seconds=30 * timeout)
    return options, drop_refuted


def _probed_report(paths: list[str], settings: Settings, options, drop_refuted: bool, scope: str):
    """(the report with probe verdicts, the verdicts on losses without findings or None)."""
    from losslint import probe

    return probe.probe_check(api.scan_paths(paths, settings), options, scope=scope,
                             drop_refuted=drop_refuted, not_losses=settings.not_losses)


def _with_probed_losses(text: str, probed, output_format: str, quiet: bool) -> str:
    """The text report with `--probe=all`'s trailing section; other formats keep their shape
    (the JSON array is a contract), so they only get a note on stderr."""
    if probed is None:
        return text
    if output_format != "text":
        click.echo("losslint: note: --probe=all shows the verdicts on losses without findings in "
                   "the text format only", err=True)
        return text
    if quiet:
        return text
    from losslint import probe

    section = probe.render_unflagged(probed)
    return f"{text}\n\n{section}" if text else section


@cli.command("probe", context_settings=CONTEXT_SETTINGS, short_help="Run losses to see what they return.")
@click.argument("target", metavar="PATH[::NAME]")
@click.option("--shape", "shapes", multiple=True, metavar="SHAPE",
              help="Input shape, e.g. 'y_pred=(None,64,64,1)' (see check --probe-shape).")
@click.option("--legacy-keras", is_flag=True, help="Run under legacy Keras 2 (tf_keras).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=20.0, show_default=True,
              metavar="SECONDS", help="Time limit per loss.")
def probe_command(target: str, shapes: tuple[str, ...], legacy_keras: bool, timeout: float) -> int:
    """Run losses in a sandboxed TensorFlow process and print what they return.

    PATH is a file or directory; NAME picks one loss by name (`dice_loss`,
    `focal_loss.<locals>.focal`, `MyLoss` for `MyLoss.call`). Without NAME, every loss
    found under PATH is probed, flagged or not. Module top-level code is never run: the
    probe runs a slice of the source with the loss and what it uses.

    \b
    Examples:
      losslint probe train.py::dice_loss
      losslint probe losses.py --shape 'y_pred=(None,64,64,1)'

    \b
    Exit status: 0 nothing confirmed, 1 a loss loses or mixes the batch, 2 error.
    """
    from losslint import probe

    setup = _probe_options_from(shapes, legacy_keras, timeout)
    if isinstance(setup, int):
        return setup
    options, _ = setup
    path, _, name = target.partition("::")
    if not os.path.exists(path):
        return error(f"{path}: no such file or directory")
    scan = api.scan_paths([path], Settings())
    for file_error in scan.report.errors:
        error(f"{file_error.path}: {file_error.message}")
    targets = probe.losses_named(scan.project, name or None)
    if not targets:
        what = f"no function named {name!r}" if name else "no loss"
        return error(f"{what} in {path}")
    results = probe.probe_targets(scan.project, targets, options)
    blocks = []
    for loss in targets:
        result = results[loss]
        lines = [f"{loss.function.module.display}::{loss.function.qualname}"]
        if result.input_shapes:
            lines.append("  traced with " + ", ".join(f"{k} {v}" for k, v in result.input_shapes))
        lines.append(f"  {result.verdict}: {result.evidence}")
        if result.harm:
            lines.append(f"  {result.harm}")
        blocks.append("\n".join(lines))
    click.echo("\n\n".join(blocks))
    return EXIT_FINDINGS if any(results[t].verdict == "confirmed" for t in targets) else EXIT_OK


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
