"""Rendering a `Report` for people (`text`, `concise`) and for programs (`json`, `github`,
`sarif`, `junit`).

    render(report, fmt, quiet=False, color=False) -> str
    render_statistics(report, fmt) -> str    `--statistics`
    render_losses(report, fmt, quiet=False) -> str    `--show-losses`
    render_rule(rule) -> str           `losslint rule CODE`
    render_rule_table(rules) -> str    `losslint rule --all`

The text format is the one editors and CI log viewers already link: `path:line:col: CODE
message`, with ruff's `path:cell N:line:col:` for notebook cells. File errors are not part of
either format: they are not findings, and the command line prints them on stderr, so that
stdout stays parseable whatever happens.
"""

from __future__ import annotations

import json
import os
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote

import click

from losslint import __version__
from losslint.ftypes import Finding, LossRecord, Place, ProbeResult, Report, Severity
from losslint.rules import RULES, Rule

FORMATS = ("text", "json", "concise", "github", "sarif", "junit")

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
    "scope",
    "losses",
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
        sources = _SourceLines()
        lines = []
        for finding in findings:
            lines.append(_as_text(finding, color))
            snippet = _snippet(finding, sources, color)
            if snippet:
                lines.extend([*snippet, ""])
        if not quiet:
            if lines and lines[-1] != "":
                lines.append("")
            lines.append(summary(report))
        elif lines and lines[-1] == "":
            lines.pop()
        return "\n".join(lines)
    if fmt in _RENDERERS:
        return _RENDERERS[fmt](report, findings)
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
        "scope": finding.scope,
        "losses": list(finding.losses),
    }
    result = {key: values[key] for key in JSON_KEYS}
    if finding.probe is not None:  # only when probing (`--probe`): the keys above stay as they are
        result["probe"] = finding.probe.to_json()
    return result


def _as_text(finding: Finding, color: bool) -> str:
    style: Callable[..., str] = click.style if color else _plain
    where = finding.path if finding.cell is None else f"{finding.path}:cell {finding.cell}"
    code = style(finding.code, fg=_SEVERITY_COLOR[finding.severity], bold=True)
    text = f"{style(where, bold=True)}:{finding.line}:{finding.column}: {code} {finding.message}"
    if finding.function is not None:
        text += f" (in loss {finding.function})"
    if finding.probe is not None:
        text += f" {probe_text(finding.probe)}"
    return text


class _SourceLines:
    """The lines of the files findings point at, read once each; notebooks by cell."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, int | None], list[str] | None] = {}

    def line(self, path: str, cell: int | None, number: int) -> str | None:
        key = (path, cell)
        if key not in self._files:
            self._files[key] = self._read(path, cell)
        lines = self._files[key]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    @staticmethod
    def _read(path: str, cell: int | None) -> list[str] | None:
        try:
            data = Path(path).read_bytes()
            if cell is None:
                text = data.decode("utf-8-sig", errors="replace")
            else:
                source = json.loads(data)["cells"][cell - 1]["source"]
                text = source if isinstance(source, str) else "".join(source)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
        return text.splitlines()


def _snippet(finding: Finding, sources: _SourceLines, color: bool) -> list[str]:
    """The offending line with a caret under the span, as ruff and rustc show it."""
    if finding.code in ("LL901", "LL902") and finding.line == 1 and finding.column == 1:
        return []
    text = sources.line(finding.path, finding.cell, finding.line)
    if text is None:
        return []
    style: Callable[..., str] = click.style if color else _plain
    start = max(finding.column - 1, 0)
    end = finding.end_column - 1 if finding.end_line == finding.line else len(text)
    end = max(end, start + 1)
    # Keep tabs so the caret lines up with the source in any terminal.
    pad = "".join("\t" if ch == "\t" else " " for ch in text[:start])
    gutter = str(finding.line)
    caret = style("^" * max(min(end, len(text)) - start, 1), fg=_SEVERITY_COLOR[finding.severity], bold=True)
    return [f"{gutter} | {text}", f"{' ' * len(gutter)} | {pad}{caret}"]


def probe_text(probe: ProbeResult) -> str:
    """`[probe: confirmed: returns shape () ...; with sample_weight ...]`"""
    detail = probe.evidence if probe.harm is None else f"{probe.evidence}; {probe.harm}"
    return f"[probe: {probe.verdict}: {detail}]"


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


# --- concise, github, sarif, junit ---------------------------------------------------------
# Each renderer gets the report and its findings sorted; none has a summary line.


def _where(finding: Finding) -> str:
    return finding.path if finding.cell is None else f"{finding.path}:cell {finding.cell}"


def _message(finding: Finding) -> str:
    """The message with the loss it belongs to, as the text format words it."""
    if finding.function is None:
        return finding.message
    return f"{finding.message} (in loss {finding.function})"


def _render_concise(_report: Report, findings: list[Finding]) -> str:
    return "\n".join(
        f"{_where(f)}:{f.line}:{f.column}: {f.code} {f.message}" for f in findings
    )


def _github_escape(text: str, *, property_value: bool = False) -> str:
    """GitHub workflow-command escaping: `%`, CR and LF always; `:` and `,` in properties."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _render_github(_report: Report, findings: list[Finding]) -> str:
    """GitHub Actions annotations: `::error file=...,line=...::message`, one per finding.

    A notebook's lines count from its cell, not from the top of the JSON file GitHub shows,
    so notebook findings are annotations on the file with the cell and line in the message.
    """
    lines = []
    for f in findings:
        rule = RULES.get(f.code)
        title = f"{f.code} ({rule.name})" if rule is not None else f.code
        properties = [("file", f.path)]
        message = _message(f)
        if f.cell is None:
            properties += [("line", f.line), ("col", f.column), ("endLine", f.end_line),
                           ("endColumn", f.end_column)]
        else:
            message = f"cell {f.cell}, line {f.line}, column {f.column}: {message}"
        properties.append(("title", title))
        fields = ",".join(
            f"{name}={_github_escape(str(value), property_value=True)}" for name, value in properties
        )
        level = "error" if f.severity is Severity.ERROR else "warning"
        lines.append(f"::{level} {fields}::{_github_escape(message)}")
    return "\n".join(lines)


SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/losslint/losslint"


def _sarif_uri(path: str) -> str:
    """A finding's path as a SARIF artifact URI: relative with forward slashes when it can be
    (GitHub code scanning resolves those against the repository), else a file: URI."""
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path)
        except ValueError:  # on another drive (Windows)
            relative = ".."
        if relative.startswith(".."):
            return Path(path).as_uri()
        path = relative
    # A file name that is not UTF-8 (kept by Python as surrogate escapes) is percent-encoded
    # byte for byte, so the URI still names the file.
    return quote(path.replace(os.sep, "/"), errors="surrogateescape")


def _sarif_rule(rule: Rule) -> dict[str, object]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what},
        "help": {"text": f"{rule.summary} See {rule.help_uri}", "markdown": render_rule(rule)},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": rule.severity.value},
        "properties": {"tags": [rule.severity.value]},
    }


def _sarif_result(finding: Finding, rule_index: dict[str, int]) -> dict[str, object]:
    location: dict[str, object] = {"artifactLocation": {"uri": _sarif_uri(finding.path)}}
    message = _message(finding)
    if finding.cell is None:
        location["region"] = {
            "startLine": finding.line,
            "startColumn": finding.column,
            "endLine": finding.end_line,
            "endColumn": finding.end_column,
        }
    else:  # cell-relative lines do not point into the notebook's JSON
        message = f"cell {finding.cell}, line {finding.line}, column {finding.column}: {message}"
    result: dict[str, object] = {
        "ruleId": finding.code,
        "level": finding.severity.value,
        "message": {"text": message},
        "locations": [{"physicalLocation": location}],
    }
    if finding.code in rule_index:
        result["ruleIndex"] = rule_index[finding.code]
    properties = {
        key: value
        for key, value in (("function", finding.function), ("cell", finding.cell),
                           ("lossSource", finding.loss_source), ("scope", finding.scope),
                           ("losses", list(finding.losses) or None))
        if value is not None
    }
    if properties:
        result["properties"] = properties
    return result


def _render_sarif(_report: Report, findings: list[Finding]) -> str:
    codes = sorted(RULES)
    rule_index = {code: index for index, code in enumerate(codes)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "losslint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_sarif_rule(RULES[code]) for code in codes],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_sarif_result(f, rule_index) for f in findings],
            }
        ],
    }
    return json.dumps(log, indent=2)


def _render_junit(report: Report, findings: list[Finding]) -> str:
    """JUnit XML: one test case per file scanned, one failure per finding in it."""
    by_path: dict[str, list[Finding]] = {path: [] for path in report.paths_scanned}
    for f in findings:
        by_path.setdefault(f.path, []).append(f)
    suites = ET.Element("testsuites", name="losslint", tests=str(len(by_path)),
                        failures=str(len(findings)), errors="0")
    suite = ET.SubElement(suites, "testsuite", name="losslint", tests=str(len(by_path)),
                          failures=str(len(findings)), errors="0", skipped="0")
    for path in sorted(by_path):
        case = ET.SubElement(suite, "testcase", classname="losslint", name=path, file=path)
        for f in by_path[path]:
            failure = ET.SubElement(case, "failure", type=f.code, message=f"{f.code} {f.message}")
            failure.text = f"{_where(f)}:{f.line}:{f.column}: {f.code} {_message(f)}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


_RENDERERS: dict[str, Callable[[Report, list[Finding]], str]] = {
    "concise": _render_concise,
    "github": _render_github,
    "sarif": _render_sarif,
    "junit": _render_junit,
}


def render_statistics(report: Report, fmt: str = "text") -> str:
    """Counts per code, most frequent first: `count code name` lines, or a JSON array."""
    counts = Counter(f.code for f in report.findings)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    names = {code: RULES[code].name if code in RULES else "" for code in counts}
    if fmt == "json":
        return json.dumps(
            [{"count": n, "code": code, "name": names[code]} for code, n in rows], indent=2
        )
    width = max((len(str(n)) for _, n in rows), default=1)
    return "\n".join(f"{n:>{width}} {code} {names[code]}" for code, n in rows)


# --- the inventory of losses (`--show-losses`) ------------------------------------------------

# The keys of each loss in `--show-losses --format json`, in the order they are written.
LOSS_JSON_KEYS = ("path", "line", "cell", "function", "source", "via", "site", "verdict", "findings")


def render_losses(report: Report, fmt: str = "text", *, quiet: bool = False) -> str:
    """Every function treated as a loss, one line each (`path:line: function (how it reaches
    Keras): verdict`) and a summary, or a JSON array with `fmt` "json"."""
    losses = sorted(report.losses, key=LossRecord.sort_key)
    if fmt == "json":
        return json.dumps([_loss_as_json(record) for record in losses], indent=2)
    lines = [_loss_as_text(record) for record in losses]
    if not quiet:
        lines.append(_losses_summary(report))
    return "\n".join(lines)


def _place_json(place: Place | None) -> dict[str, object] | None:
    if place is None:
        return None
    return {"path": place.path, "line": place.line, "cell": place.cell}


def _loss_as_json(record: LossRecord) -> dict[str, object]:
    values = {
        "path": record.place.path,
        "line": record.place.line,
        "cell": record.place.cell,
        "function": record.function,
        "source": record.source,
        "via": record.via,
        "site": _place_json(record.site),
        "verdict": record.verdict,
        "findings": [{"code": f.code, "path": f.place.path, "line": f.place.line, "column": f.column,
                      "cell": f.place.cell} for f in record.findings],
    }
    return {key: values[key] for key in LOSS_JSON_KEYS}


_VERDICT_TEXT = {"not-analysed": "not analysed (nested too deeply)",
                 "suppressed": "suppressed (its findings are not reported)"}


def _loss_as_text(record: LossRecord) -> str:
    """`pkg/losses.py:18: dice_loss (compile at train.py:26): collapses at pkg/losses.py:13 (LL101, and 2 more)`"""
    verdict = _VERDICT_TEXT.get(record.verdict, record.verdict)
    if record.findings:  # the first is the one the verdict rests on
        first, more = record.findings[0], len(record.findings) - 1
        verdict += f" at {first.place} ({first.code}" + (f", and {more} more)" if more else ")")
    return f"{record.place}: {record.function} ({record.via}): {verdict}"


def _losses_summary(report: Report) -> str:
    if not report.losses:
        return f"No losses found ({_count(report.files_scanned, 'file')} scanned)."
    counts = Counter(record.verdict for record in report.losses)
    parts = [f"{counts[verdict]} {verdict}" for verdict in
             ("collapses", "coupled", "per-sample", "suppressed", "not-analysed") if counts[verdict]]
    total = len(report.losses)
    return f"{total} loss{'es' if total != 1 else ''}: {', '.join(parts)}."


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
        "## Fix safety",
        _wrap(rule.fix_safety),
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
