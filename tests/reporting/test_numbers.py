"""Shown numbers read back for results.json (reporting.numbers)."""

from __future__ import annotations

import pytest

from evaluation.reporting.numbers import read_number, table_numbers


@pytest.mark.parametrize("text, lang, expected", [
    ("1\u00a0234", "sv", 1234), ("12 345 678", "sv", 12345678), ("0,126", "sv", 0.126),
    ("-0,008", "sv", -0.008), ("\u22120,5", "sv", -0.5), ("13 %", "sv", 0.13),
    ("7,5 %", "sv", 0.075), ("1,234", "en", 1234), ("1,234.5", "en", 1234.5),
    ("0.25", "en", 0.25), ("12%", "en", 0.12), ("0", "sv", 0), ("", "sv", None),
    ("0132", "sv", "0132"), ("<0,001", "sv", "<0,001"), ("..", "sv", ".."),
    ("<5", "sv", "<5"), ("0180 Stockholm", "sv", "0180 Stockholm"), ("1 23", "sv", "1 23"),
    ("1,2,3", "en", "1,2,3"), ("1.5", "sv", "1.5"), ("Familjehem", "sv", "Familjehem"),
    ("12,", "sv", "12,"),
])
def test_read_number(text, lang, expected):
    got = read_number(text, lang)
    assert got == expected and type(got) is type(expected)


def test_an_interval_column_is_split_and_other_columns_read_back():
    out = table_numbers(["Mått", "Värde", "95 % KI", "p"],
                        [["a", "0,5", "(0,1; 0,9)", "<0,001"], ["b", "1\u00a0000", "", "0,02"]])
    assert out["columns"] == ["Mått", "Värde", "95 % KI (lower)", "95 % KI (upper)", "p"]
    assert out["rows"] == [["a", 0.5, 0.1, 0.9, "<0,001"], ["b", 1000, None, None, 0.02]]


def test_a_column_that_is_not_all_intervals_stays_as_shown():
    out = table_numbers(["x"], [["(1; 2)"], ["3"]])
    assert out == {"columns": ["x"], "rows": [["(1; 2)"], [3]]}
