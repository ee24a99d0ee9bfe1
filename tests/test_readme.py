"""The README is the contract: its Quick start must be what CI runs, and its rules real."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from losslint.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S)
    return [block.strip() for block in blocks]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert commands[0].endswith("losslint check demo")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_rule_is_documented_in_the_readme():
    for code, rule in RULES.items():
        assert code in README, code
        assert rule.name in README, rule.name


def test_the_demo_shows_real_findings_of_several_rules():
    result = subprocess.run([sys.executable, "-m", "losslint", "check", "demo", "--format", "json"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    import json

    findings = json.loads(result.stdout)
    assert {f["code"] for f in findings} >= {"LL101", "LL103", "LL104"}
    assert all(f["path"].startswith("demo/") for f in findings)
    # The correct losses and the metric-only dice_coef stay quiet.
    assert not {f["function"] for f in findings} & {"weighted_mse", "SoftDiceLoss.call", "dice_coef"}
