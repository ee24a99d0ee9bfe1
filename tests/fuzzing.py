"""Strategies and checks shared by tests/test_fuzz.py (bounded, in CI) and bench/fuzz.py (a
long campaign): generated programs, token mutations of the fixture files, and the property
every source must satisfy."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import hypothesmith
from hypothesis import strategies as st

from losslint import api
from losslint.ftypes import Finding
from losslint.recovery import without_broken_definitions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Independent modules (no imports between them): a file's findings cannot depend on the others.
RULE_FILES = sorted((FIXTURES / "rules").glob("*.py"))
SEED_FILES = RULE_FILES + sorted((FIXTURES / "traps").glob("*.py")) + sorted((FIXTURES / "attach").glob("*.py"))

# A prefix that makes the prefilter keep a generated program, so the whole analysis runs.
KERAS_PREFIX = "import tensorflow as tf\nfrom tensorflow import keras\n"


def tokens_of(source: str) -> list[str]:
    """The source's tokens as strings, each with the whitespace that preceded it."""
    out: list[str] = []
    lines = source.splitlines(keepends=True)
    previous = (1, 0)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.ENDMARKER:
                break
            gap = ""
            if token.start[0] == previous[0]:
                gap = lines[token.start[0] - 1][previous[1]:token.start[1]] if token.start[0] <= len(lines) else ""
            elif token.start[0] <= len(lines):
                gap = lines[token.start[0] - 1][:token.start[1]]
            out.append(gap + token.string)
            previous = token.end
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


@st.composite
def mutated_fixture(draw) -> str:
    """A fixture file with tokens deleted, duplicated or swapped."""
    path = draw(st.sampled_from(SEED_FILES))
    tokens = tokens_of(path.read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap"]))
        if action == "delete":
            del tokens[i]
        elif action == "duplicate":
            tokens.insert(i, tokens[i])
        else:
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


def generated_program():
    return st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node()).map(lambda s: KERAS_PREFIX + s)


def sources():
    return st.one_of(generated_program(), mutated_fixture())


def check_never_raises(source: str) -> list[Finding]:
    """`check_source` on `source` must return findings; a file that does not parse gets one
    LL901/LL902 finding, plus the findings of the definitions that parse on their own
    (losslint/recovery.py), which must be what those definitions give without the rest."""
    findings = api.check_source(source, "fuzzed.py")
    assert isinstance(findings, list) and all(isinstance(f, Finding) for f in findings)
    file_level = [f for f in findings if f.code in ("LL901", "LL902")]
    if file_level:
        assert len(file_level) == 1, findings
        rest = [f for f in findings if f not in file_level]
        if rest:
            repaired = without_broken_definitions(source)
            assert repaired is not None, findings
            assert rest == api.check_source(repaired, "fuzzed.py"), findings
    for finding in findings:
        assert finding.line >= 1 and finding.column >= 1 and finding.end_line >= finding.line
    return findings
