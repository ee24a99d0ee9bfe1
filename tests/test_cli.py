"""The command line: options, output streams and exit statuses.

The analysis is replaced by a fake `check_paths` returning a hand-made Report, so these tests
are about the command line alone. Every test calls `main(argv)` and reads capsys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from losslint import __version__, api, cli
from losslint.cli import main
from losslint.ftypes import FileError, Finding, Report, Settings
from losslint.rules import RULES

REPO = Path(__file__).resolve().parents[1]


def make_finding(path="train.py", code="LL101", cell=None) -> Finding:
    return Finding(
        path=path,
        line=3,
        column=12,
        end_line=3,
        end_column=40,
        code=code,
        severity=RULES[code].severity,
        message="`tf.reduce_mean` without `axis` reduces over the batch",
        function="dice_loss",
        cell=cell,
        loss_source="compile",
    )


class FakeCheck:
    """Stands in for `api.check_paths`, remembering how it was called."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.calls: list[tuple[list[str], Settings]] = []

    def __call__(self, paths, settings):
        self.calls.append((list(paths), settings))
        return self.report


@pytest.fixture
def fake(monkeypatch):
    """Install a fake analysis; set `fake.report` to choose what it returns."""
    check = FakeCheck(Report(files_scanned=2))
    monkeypatch.setattr(api, "check_paths", check)
    monkeypatch.delenv("LOSSLINT_DEBUG", raising=False)
    return check


# --- exit statuses and streams --------------------------------------------------------------


def test_clean_run_exits_0_with_a_summary(fake, capsys):
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert out == "All checks passed (2 files scanned).\n"
    assert err == ""
    assert fake.calls == [(["."], Settings())]


def test_findings_exit_1_and_print_one_line_each(fake, capsys):
    fake.report = Report(findings=[make_finding()], files_scanned=1)
    assert main(["check", "train.py"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "train.py:3:12: LL101 `tf.reduce_mean` without `axis` reduces over the batch"
        " (in loss dice_loss)",
        "",
        "Found 1 problem (1 error) in 1 file.",
    ]
    assert err == ""
    assert fake.calls[0][0] == ["train.py"]


def test_warnings_alone_also_exit_1(fake):
    fake.report = Report(findings=[make_finding(code="LL201")])
    assert main(["check"]) == 1


def test_exit_zero_turns_findings_into_success(fake, capsys):
    fake.report = Report(findings=[make_finding()])
    assert main(["check", "--exit-zero"]) == 0
    assert "LL101" in capsys.readouterr().out


def test_file_errors_go_to_stderr_as_one_liners_and_exit_2(fake, capsys):
    fake.report = Report(
        findings=[make_finding()],
        errors=[
            FileError("nope.py", "No such file or directory"),
            FileError("data/locked", "Permission denied"),
        ],
        files_scanned=1,
    )
    assert main(["check", "nope.py", "data", "--exit-zero"]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "losslint: error: nope.py: No such file or directory",
        "losslint: error: data/locked: Permission denied",
    ]
    assert "nope.py" not in out
    assert (
        out.splitlines()[-1] == "Found 1 problem (1 error) in 1 file; 2 paths could not be checked."
    )


def test_quiet_prints_findings_only(fake, capsys):
    fake.report = Report(findings=[make_finding()])
    assert main(["check", "-q"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "train.py:3:12: LL101 `tf.reduce_mean` without `axis` reduces over the batch"
        " (in loss dice_loss)"
    ]


def test_quiet_clean_run_prints_nothing(fake, capsys):
    assert main(["check", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_notebook_findings_show_the_cell(fake, capsys):
    fake.report = Report(findings=[make_finding("nb/eda.ipynb", cell=5)])
    assert main(["check", "-q", "nb"]) == 1
    assert capsys.readouterr().out.startswith("nb/eda.ipynb:cell 5:3:12: LL101 ")


def test_output_is_not_coloured_when_not_a_terminal(fake, capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    fake.report = Report(findings=[make_finding()])
    main(["check"])
    assert "\x1b[" not in capsys.readouterr().out


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_a_terminal_gets_colour_unless_no_color_is_set(
    fake, capsys, monkeypatch, no_color, coloured
):
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    fake.report = Report(findings=[make_finding()])
    main(["check"])
    assert ("\x1b[31m\x1b[1mLL101\x1b[0m" in capsys.readouterr().out) is coloured


def test_json_output_is_an_array_with_the_documented_keys(fake, capsys):
    fake.report = Report(findings=[make_finding("nb.ipynb", cell=2)], files_scanned=1)
    assert main(["check", "--format", "json"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert [list(item) for item in items] == [
        [
            "path",
            "line",
            "column",
            "end_line",
            "end_column",
            "code",
            "name",
            "severity",
            "message",
            "function",
            "cell",
            "loss_source",
            "scope",
            "losses",
        ]
    ]
    assert items[0]["name"] == "reduction-without-axis"
    assert items[0]["cell"] == 2


def test_json_output_of_a_clean_run_is_an_empty_array(fake, capsys):
    assert main(["check", "--format=json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_json_stdout_stays_parseable_when_paths_are_missing(fake, capsys):
    fake.report = Report(errors=[FileError("nope.py", "No such file or directory")])
    assert main(["check", "--format", "json", "nope.py"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert err == "losslint: error: nope.py: No such file or directory\n"


# --- options reach the analysis -------------------------------------------------------------


def test_options_are_passed_on_as_settings(fake):
    argv = [
        "check",
        "src",
        "nb.ipynb",
        "--select",
        "LL1, ll201",
        "--select",
        "LL9",
        "--ignore",
        "LL103,",
        "--exclude",
        "legacy/",
        "--exclude",
        "*_old.py",
        "--no-respect-gitignore",
    ]
    assert main(argv) == 0
    assert fake.calls == [
        (
            ["src", "nb.ipynb"],
            Settings(
                select=("LL1", "LL201", "LL9"),
                ignore=("LL103",),
                exclude=("legacy/", "*_old.py"),
                respect_gitignore=False,
            ),
        )
    ]


def test_select_all_is_accepted(fake):
    assert main(["check", "--select", "ALL", "--ignore", "LL2"]) == 0
    assert fake.calls[0][1].select == ("ALL",)


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (["--select", "LL10x"], ["LL10x"]),
        (["--ignore", "LL101,E501"], ["E501"]),
        (["--select", "LL3", "--ignore", "XX"], ["LL3", "XX"]),
    ],
)
def test_unknown_rule_selectors_exit_2_before_any_analysis(fake, capsys, argv, bad):
    assert main(["check", *argv]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"losslint: error: unknown rule selector '{code}'" for code in bad]
    assert out == ""
    assert fake.calls == []


def test_an_invalid_exclude_pattern_exits_2(fake, capsys):
    assert main(["check", "--exclude", "!"]) == 2
    assert capsys.readouterr().err.startswith("losslint: error: invalid exclude pattern '!'")
    assert fake.calls == []


@pytest.mark.parametrize(
    "argv",
    [["check", "--format", "xml"], ["check", "--no-such-option"], ["frobnicate"]],
)
def test_usage_errors_exit_2_without_a_traceback(fake, capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Error:" in err
    assert "Traceback" not in err
    assert fake.calls == []


# --- internal errors ------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_line_and_exit_2(fake, capsys, monkeypatch):
    def explode(paths, settings):
        raise RuntimeError("catalogue\nis broken")

    monkeypatch.setattr(api, "check_paths", explode)
    assert main(["check"]) == 2
    out, err = capsys.readouterr()
    assert err == (
        "losslint: internal error: RuntimeError: catalogue is broken "
        "(set LOSSLINT_DEBUG=1 for the traceback)\n"
    )
    assert out == ""


def test_losslint_debug_lets_the_exception_through(fake, monkeypatch):
    def explode(paths, settings):
        raise RuntimeError("catalogue is broken")

    monkeypatch.setattr(api, "check_paths", explode)
    monkeypatch.setenv("LOSSLINT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="catalogue is broken"):
        main(["check"])


# --- version, help and `rule` ---------------------------------------------------------------


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"losslint {__version__}\n"


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["check", "--help"], ["rule", "-h"]])
def test_help_exits_0_and_shows_an_example(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: losslint")
    assert "Examples:" in out
    assert "losslint " in out.split("Examples:")[1]


def test_check_help_documents_the_exit_statuses(capsys):
    main(["check", "--help"])
    assert "Exit status: 0 no problems, 1 problems found, 2 error" in capsys.readouterr().out


@pytest.mark.parametrize("spelling", ["LL101", "ll101", "reduction-without-axis"])
def test_rule_prints_the_documentation(capsys, spelling):
    assert main(["rule", spelling]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# reduction-without-axis (LL101)\n")
    for section in ("What it does", "Why is this bad?", "Example", "Use instead", "References"):
        assert f"\n## {section}\n" in out
    assert RULES["LL101"].summary in out


def test_rule_all_lists_every_rule(capsys):
    assert main(["rule", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(RULES)
    assert lines[0].split()[1:3] == ["reduction-without-axis", "error"]
    assert all(line.endswith(RULES[line.split()[0]].summary) for line in lines)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rule", "LL999"], "losslint: error: unknown rule 'LL999' (see `losslint rule --all`)"),
        (["rule"], "losslint: error: give either a rule code or --all"),
        (["rule", "LL101", "--all"], "losslint: error: give either a rule code or --all"),
    ],
)
def test_rule_errors_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err == message + "\n"
    assert out == ""


# --- `python -m losslint` -------------------------------------------------------------------


def test_python_dash_m_passes_the_exit_status_on():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "losslint", "rule", "LL999"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert result.stderr == "losslint: error: unknown rule 'LL999' (see `losslint rule --all`)\n"
