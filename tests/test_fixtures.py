"""The fixture corpus under fixtures/: every finding must be announced by an `# expect:` comment.

A line that must be reported carries a trailing `# expect: CODE` comment (several findings on
one line: `# expect: LL101, LL101`, a multiset). Every other line must have no finding. In
notebooks the comment sits in the code cell's source and lines count from the cell's first line.

The engine runs once over the whole fixtures/ directory (cross-file losses need every module),
then each fixture file is compared on its own so a failure names the file and shows the source
of every missing or unexpected line. fixtures/fixes/ is not part of this corpus: it holds the
fixer's before/after pairs (`NAME.in.py`, `NAME.out.py`), which tests/test_fix*.py compare byte
for byte.
"""

from __future__ import annotations

import io
import json
import os
import re
import tokenize
from collections import Counter
from pathlib import Path

import libcst
import pytest

from losslint.api import check_paths
from losslint.ftypes import Settings
from losslint.notebook import load_notebook
from losslint.rules import RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BROKEN = "errors/broken_syntax.py"

EXPECT_RE = re.compile(r"#\s*expect:\s*(LL\d{3}(?:\s*,\s*LL\d{3})*)")

# (relative posix path, cell or None, line, code)
Key = tuple[str, "int | None", int, str]


FIX_PAIRS = "fixes"  # fixtures/fixes/: the fixer's before/after pairs, not `# expect:` fixtures


def _fixture_files() -> list[str]:
    found = [
        p.relative_to(FIXTURES).as_posix()
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix in (".py", ".ipynb") and ".ipynb_checkpoints" not in p.parts
        and p.relative_to(FIXTURES).parts[0] != FIX_PAIRS
    ]
    return sorted(found)


FILES = _fixture_files()


def _codes(comment: str) -> list[str]:
    match = EXPECT_RE.search(comment)
    if not match:
        return []
    return [code.strip() for code in match.group(1).split(",")]


def _expected_in_source(source: str) -> list[tuple[int, str]]:
    """(line, code) for every `# expect:` comment; comments only, never string contents."""
    found: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found.extend((tok.start[0], code) for code in _codes(tok.string))
    except (tokenize.TokenError, SyntaxError):
        # A file the tokenizer rejects: fall back to a plain scan of the lines.
        found = [
            (number, code)
            for number, text in enumerate(source.splitlines(), start=1)
            for code in _codes(text)
        ]
    return found


def _load_notebook(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _blank_magics(source: str) -> str:
    """IPython magics and shell escapes are not Python: blank them, keeping line numbers."""
    lines = source.splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines) + "\n"


def _expected(rel: str) -> Counter:
    path = FIXTURES / rel
    expected: Counter = Counter()
    if path.suffix == ".ipynb":
        for index, cell in enumerate(_load_notebook(path)["cells"], start=1):
            if cell.get("cell_type") != "code":
                continue
            for line, code in _expected_in_source(_blank_magics(_cell_source(cell))):
                expected[(rel, index, line, code)] += 1
    else:
        for line, code in _expected_in_source(path.read_text(encoding="utf-8")):
            expected[(rel, None, line, code)] += 1
    return expected


def _source_line(rel: str, cell: int | None, line: int) -> str:
    path = FIXTURES / rel
    try:
        if path.suffix == ".ipynb":
            cells = _load_notebook(path)["cells"]
            lines = _cell_source(cells[cell - 1]).splitlines() if cell else []
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
        return lines[line - 1].strip() if 0 < line <= len(lines) else "<no such line>"
    except (OSError, ValueError, IndexError, TypeError, KeyError):
        return "<unreadable>"


def _relative(finding_path: str) -> str:
    return Path(os.path.relpath(os.path.abspath(finding_path), FIXTURES)).as_posix()


def _where(cell: int | None, line: int) -> str:
    return f"cell {cell}, line {line}" if cell is not None else f"line {line}"


def _diff(rel: str, expected: Counter, actual: Counter, details: dict[Key, list[str]]) -> str:
    missing = expected - actual
    unexpected = actual - expected
    out = [f"fixtures/{rel}: findings differ from the `# expect:` comments"]
    if missing:
        out.append("  missing (expected, not reported):")
        for key in sorted(missing, key=lambda k: (k[1] or 0, k[2], k[3])):
            _, cell, line, code = key
            count = f" x{missing[key]}" if missing[key] > 1 else ""
            out.append(f"    {_where(cell, line)}: {code}{count}    | {_source_line(rel, cell, line)}")
    if unexpected:
        out.append("  unexpected (reported, not expected):")
        for key in sorted(unexpected, key=lambda k: (k[1] or 0, k[2], k[3])):
            _, cell, line, code = key
            count = f" x{unexpected[key]}" if unexpected[key] > 1 else ""
            out.append(f"    {_where(cell, line)}: {code}{count}    | {_source_line(rel, cell, line)}")
            for detail in details.get(key, [])[:2]:
                out.append(f"        {detail}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def report():
    return check_paths([str(p) for p in sorted(FIXTURES.iterdir()) if p.name != FIX_PAIRS], Settings())


@pytest.fixture(scope="module")
def actual_by_file(report) -> dict[str, tuple[Counter, dict[Key, list[str]]]]:
    grouped: dict[str, tuple[Counter, dict[Key, list[str]]]] = {}
    for finding in report.findings:
        rel = _relative(finding.path)
        counter, details = grouped.setdefault(rel, (Counter(), {}))
        key = (rel, finding.cell, finding.line, finding.code)
        counter[key] += 1
        details.setdefault(key, []).append(
            f"col {finding.column}, in {finding.function or '<module>'}"
            f" ({finding.loss_source or '-'}): {finding.message}"
        )
    return grouped


@pytest.mark.parametrize("rel", FILES)
def test_fixture_findings(rel, actual_by_file):
    actual, details = actual_by_file.get(rel, (Counter(), {}))
    expected = _expected(rel)
    if actual != expected:
        pytest.fail(_diff(rel, expected, actual, details), pytrace=False)


def test_no_findings_outside_the_fixture_files(actual_by_file):
    strays = sorted(set(actual_by_file) - set(FILES))
    assert not strays, f"findings for paths that are not fixture files: {strays}"


def test_report_has_no_errors(report):
    assert report.errors == [], "\n".join(f"{e.path}: {e.message}" for e in report.errors)


def test_syntax_error_is_reported_as_ll901_and_the_rest_is_analysed(report):
    broken = [f for f in report.findings if _relative(f.path) == BROKEN]
    assert sorted(f.code for f in broken) == ["LL101", "LL901"], [(f.line, f.code, f.message) for f in broken]
    expected_lines = [line for (_, _, line, code) in _expected(BROKEN) if code == "LL901"]
    assert [f.line for f in broken if f.code == "LL901"] == expected_lines
    elsewhere = [f"{f.path}:{f.line}" for f in report.findings if f.code == "LL901" and _relative(f.path) != BROKEN]
    assert not elsewhere, f"LL901 outside {BROKEN}: {elsewhere}"


def test_notebook_findings_carry_their_cell(report):
    for finding in report.findings:
        is_notebook = _relative(finding.path).endswith(".ipynb")
        assert (finding.cell is not None) == is_notebook, (finding.path, finding.line, finding.cell)


# --- The corpus itself (these run without the engine) ---------------------------------------


@pytest.mark.parametrize("rel", [f for f in FILES if f.endswith(".py") and f != BROKEN])
def test_python_fixture_parses(rel):
    source = (FIXTURES / rel).read_text(encoding="utf-8")
    compile(source, rel, "exec")
    libcst.parse_module(source)


def test_broken_fixture_does_not_parse():
    source = (FIXTURES / BROKEN).read_text(encoding="utf-8")
    with pytest.raises(libcst.ParserSyntaxError):
        libcst.parse_module(source)


@pytest.mark.parametrize("rel", [f for f in FILES if f.endswith(".ipynb")])
def test_notebook_fixture_is_valid_nbformat4(rel):
    nb = _load_notebook(FIXTURES / rel)
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    kinds = [cell["cell_type"] for cell in nb["cells"]]
    assert "markdown" in kinds and "code" in kinds
    # Every code cell is Python once read as IPython runs it (magics, automagics such as
    # `pip install x`, indented cells: losslint/notebook.py, checked against IPython in
    # tests/test_notebook_ipython.py).
    for cell in load_notebook((FIXTURES / rel).read_text(encoding="utf-8")).cells:
        libcst.parse_module(cell.text)


def test_expected_codes_are_known_rules():
    unknown = sorted({key for rel in FILES for key in _expected(rel) if key[3] not in RULES})
    assert not unknown, unknown


def test_corpus_size():
    total = sum(sum(_expected(rel).values()) for rel in FILES)
    assert 45 <= len(FILES) and 80 <= total, (len(FILES), total)
