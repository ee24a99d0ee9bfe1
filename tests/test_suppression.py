"""Suppression comments: which spellings count, for which codes, on which lines."""

from __future__ import annotations

import pytest

from losslint.suppression import Suppression, Suppressions


def suppressed(source: str, code: str = "LL101", start: int = 1, end: int | None = None) -> bool:
    return Suppressions.from_source(source).is_suppressed(code, start, end)


@pytest.mark.parametrize(
    "comment",
    [
        "# losslint: ignore",
        "# losslint: ignore[LL101]",
        "# losslint: ignore[LL201, LL101]",
        "# losslint: ignore[LL1]",
        "#losslint:ignore[ll101]",
        "# LOSSLINT: IGNORE",
        "# noqa",
        "#noqa",
        "# NOQA",
        "# noqa: LL101",
        "# noqa:LL101,E501",
        "# noqa: E501 LL101",
        "# noqa: E501, LL101 because the batch is always 1",
        "# noqa LL201",  # no colon: flake8 reads this as a bare noqa
        "# type: ignore  # noqa: LL101",
        "# noqa: E501  # losslint: ignore[LL101]",
    ],
)
def test_comments_that_suppress_ll101(comment):
    assert suppressed(f"loss = tf.reduce_mean(x)  {comment}\n")


@pytest.mark.parametrize(
    "comment",
    [
        "# losslint: ignore[LL201]",
        "# losslint: ignore-file",
        "# noqa: E501",
        "# noqa:LL102,LL201",
        "# noqanything",
        "# type: ignore",
        "# see the losslint docs; noqa is not used here",
    ],
)
def test_comments_that_do_not_suppress_ll101(comment):
    assert not suppressed(f"loss = tf.reduce_mean(x)  {comment}\n")


def test_a_directive_inside_a_string_is_not_a_comment():
    assert not suppressed('message = "# noqa"\n')
    assert not suppressed("text = '''\n# losslint: ignore\n'''\n", start=2)


def test_a_directive_applies_to_its_own_line_only():
    source = "a = 1\nb = 2  # noqa: LL101\nc = 3\n"
    assert [suppressed(source, start=line) for line in (1, 2, 3)] == [False, True, False]


def test_a_multi_line_finding_is_suppressed_from_any_of_its_lines():
    source = (
        "loss = tf.reduce_mean(\n"  # line 1
        "    tf.square(y_true - y_pred),\n"  # line 2
        ")  # losslint: ignore[LL101]\n"  # line 3
        "other = 1\n"  # line 4
    )
    assert suppressed(source, start=1, end=3)
    assert not suppressed(source, start=1, end=2)
    assert not suppressed(source, start=4, end=4)
    assert not suppressed(source, "LL201", start=1, end=3)


def test_a_wide_range_is_checked_without_walking_every_line():
    source = "\n" * 50 + "x = 1  # noqa\n"
    assert suppressed(source, start=1, end=10**9)
    assert not suppressed(source, start=52, end=10**9)


def test_an_untokenizable_source_falls_back_to_a_line_search():
    source = "def broken(:\n    x = '''unterminated  # noqa: LL101\n"
    assert suppressed(source, start=2)
    assert not suppressed(source, start=1)


def test_directives_are_listed_in_line_order():
    source = "b = 2  # losslint: ignore[LL101, ll2]\na = 1  # noqa\n"
    assert list(Suppressions.from_source(source)) == [
        Suppression(1, "losslint", frozenset({"LL101", "LL2"})),
        Suppression(2, "noqa", None),
    ]


def test_unused_lists_only_our_directives_that_suppressed_nothing():
    source = (
        "a = 1  # losslint: ignore[LL101]\n"  # used below
        "b = 2  # losslint: ignore\n"  # unused, ours
        "c = 3  # noqa: LL201, E501\n"  # unused, names one of ours
        "d = 4  # noqa: E501\n"  # another tool's business
        "e = 5  # noqa\n"  # bare: every tool's business
    )
    suppressions = Suppressions.from_source(source)
    assert suppressions.is_suppressed("LL101", 1, 1)
    assert not suppressions.is_suppressed("LL101", 4, 4)
    assert [(s.line, s.tool) for s in suppressions.unused()] == [(2, "losslint"), (3, "noqa")]
