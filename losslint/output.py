"""Rendering a `Report` for people (`text`) and for programs (`json`).

    render(report, fmt, quiet=False, color=False) -> str
    render_rule(rule) -> str           `losslint rule CODE`
    render_rule_table(rules) -> str    `losslint rule --all`

The text format is the one editors and CI log viewers already link: `path:line:col: CODE
message`, with ruff's `path:cell N:line:col:` for notebook cells. File errors are not part of
either format: they are not findings, and the command line prints them on stderr, so that
stdout stays parseable whatever happens.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable

import click

from losslint.ftypes import Finding, Report, Severity
from losslint.rules import RULES, Rule

FORMATS = ("text", "json")

# The JSON keys, in the order they are written: position first, then what and why.
JSON_KEYS = (
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
)

_SEVERITY_COLOR = {Severity.ERROR: "red", Severity.WARNING: "yellow"}


def render(report: Report, fmt: str, *, quiet: bool = False, color: bool = False) -> str:
    """The report as `fmt` ("text" or "json"), without a trailing newline.

    `quiet` drops the text summary (an empty string if there is nothing to report); `color`
    adds ANSI styles to text. JSON ignores both: it is always the complete array.
    """
    findings = sorted(report.findings, key=Finding.sort_key)
    if fmt == "json":
        return json.dumps([_as_json(finding) for finding in findings], indent=2)
    if fmt == "text":
        lines = [_as_text(finding, color) for finding in findings]
        if not quiet:
            if lines:
                lines.append("")
            lines.append(summary(report))
        return "\n".join(lines)
    raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _as_json(finding: Finding) -> dict[str, object]:
    rule = RULES.get(finding.code)
    values = {
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "end_column": finding.end_column,
        "code": finding.code,
        "name": rule.name if rule is not None else None,
        "severity": finding.severity.value,
        "message": finding.message,
        "function": finding.function,
        "cell": finding.cell,
        "loss_source": finding.loss_source,
    }
    return {key: values[key] for key in JSON_KEYS}


def _as_text(finding: Finding, color: bool) -> str:
    style: Callable[..., str] = click.style if color else _plain
    where = finding.path if finding.cell is None else f"{finding.path}:cell {finding.cell}"
    code = style(finding.code, fg=_SEVERITY_COLOR[finding.severity], bold=True)
    text = f"{style(where, bold=True)}:{finding.line}:{finding.column}: {code} {finding.message}"
    if finding.function is not None:
        text += f" (in loss {finding.function})"
    return text


def _plain(text: str, **_styles: object) -> str:
    return text


def summary(report: Report) -> str:
    """One line: what was found, or that nothing was, and paths that could not be checked."""
    findings = report.findings
    unchecked = ""
    if report.errors:
        unchecked = f"{_count(len(report.errors), 'path')} could not be checked"

    if not findings:
        scanned = f"{_count(report.files_scanned, 'file')} scanned"
        if unchecked:
            return f"No problems found ({scanned}), but {unchecked}."
        return f"All checks passed ({scanned})."

    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = len(findings) - errors
    kinds = ", ".join(
        _count(number, noun)
        for number, noun in ((errors, "error"), (warnings, "warning"))
        if number
    )
    files = len({f.path for f in findings})
    text = f"Found {_count(len(findings), 'problem')} ({kinds}) in {_count(files, 'file')}"
    return f"{text}; {unchecked}." if unchecked else f"{text}."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# --- rule documentation (`losslint rule`) ---------------------------------------------------

_WIDTH = 88


def render_rule(rule: Rule) -> str:
    """A rule's documentation as Markdown, the sections in ruff's order.

    Prose is wrapped for a terminal; code examples are kept verbatim in fenced blocks, so the
    output pastes into an issue or a docs page unchanged.
    """
    parts = [
        f"# {rule.name} ({rule.code})",
        f"Severity: {rule.severity.value}",
        _wrap(rule.summary),
        "## What it does",
        _wrap(rule.what),
        "## Why is this bad?",
        _wrap(rule.why),
        "## Example",
        _code_block(rule.example),
        "## Use instead",
        _code_block(rule.use_instead),
    ]
    if rule.references:
        parts += ["## References", "\n".join(f"- {url}" for url in rule.references)]
    return "\n\n".join(parts)


def render_rule_table(rules: Iterable[Rule]) -> str:
    """One line per rule: `CODE  name  severity  summary`, columns aligned."""
    rules = list(rules)
    if not rules:
        return ""
    name_width = max(len(rule.name) for rule in rules)
    severity_width = max(len(rule.severity.value) for rule in rules)
    return "\n".join(
        f"{rule.code}  {rule.name:<{name_width}}  {rule.severity.value:<{severity_width}}  "
        f"{rule.summary}"
        for rule in rules
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, _WIDTH, break_long_words=False, break_on_hyphens=False)


def _code_block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"
