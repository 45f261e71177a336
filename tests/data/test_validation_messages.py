"""Messages a municipal user reads in quarantine.csv and problems.csv: repairs of codes Excel
damaged, formats in words rather than regular expressions, drop-down labels rather than internal
codes, where a referenced episode was rejected, and how the two files differ (issue 10)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.rules import code_list
from evaluation.data.safe_text import write_csv
from evaluation.data.validate import validate_files, validate_table
from tests.data.test_validate import ep, fu, pl, raw

REGEX_BITS = re.compile(r"\^|\$|\[0-9\]|\{\d+\}|\\d")


def invariant(res):
    assert len(res.accepted) + len(res.quarantine) == res.n_read


# --------------------------------------------------------------------------- leading zero


@pytest.mark.parametrize("value", ["180", "180.0", " 180 ", "180,0", 180.0, 180])
def test_a_municipality_code_that_lost_its_leading_zero_is_accepted_as_four_digits(value):
    res = validate_table(raw("episodes", [ep(municipality_code=value)]))
    invariant(res)
    assert res.quarantine.empty
    assert res.accepted.at[0, "municipality_code"] == "0180"


@pytest.mark.parametrize("value", ["180", "180.0"])
def test_the_repair_is_recorded_in_problems_in_swedish_and_english(value):
    res = validate_table(raw("episodes", [ep(municipality_code=value)]))
    p = res.problems
    assert len(p) == 1
    row = p.iloc[0]
    assert row["rule"] == "digit_code_repaired"
    assert row["column"] == "municipality_code" and row["value"] == value and row["row"] == 2
    assert "0180" in row["message_sv"] and "inledande nolla" in row["message_sv"]
    assert "godkänd" in row["message_sv"]
    assert "0180" in row["message_en"] and "leading zero" in row["message_en"]
    assert "accepted" in row["message_en"]


def test_a_numeric_cell_with_all_four_digits_is_read_without_its_decimals():
    res = validate_table(raw("episodes", [ep(municipality_code="1480.0")]))
    assert res.accepted.at[0, "municipality_code"] == "1480"
    assert res.problems["rule"].tolist() == ["digit_code_repaired"]
    assert "stored as a number" in res.problems.at[0, "message_en"]
    assert "sparat som tal" in res.problems.at[0, "message_sv"]


def test_a_correct_four_digit_code_is_not_reported_as_repaired():
    res = validate_table(raw("episodes", [ep(municipality_code="0180")]))
    assert res.problems.empty and len(res.accepted) == 1


def test_a_row_rejected_for_another_reason_lists_no_repair():
    res = validate_table(raw("episodes", [ep(municipality_code="180", placement_type="XYZ")]))
    invariant(res)
    assert res.problems["rule"].tolist() == ["code"]


@pytest.mark.parametrize("value", ["18", "01800", "18O", "180.5", "-180"])
def test_codes_that_cannot_be_repaired_safely_are_still_quarantined(value):
    res = validate_table(raw("episodes", [ep(municipality_code=value)]))
    invariant(res)
    assert res.quarantine["rule"].tolist() == ["pattern"]


def test_a_wrong_format_is_described_in_words_never_as_a_regular_expression():
    res = validate_table(raw("episodes", [ep(municipality_code="18")]))
    q = res.quarantine.iloc[0]
    assert q["message_sv"] == (
        "'18' i kolumnen municipality_code har fel format (ska vara fyra siffror, t.ex. 0180)"
    )
    assert q["message_en"] == (
        "'18' in column municipality_code has the wrong format (should be four digits, "
        "e.g. 0180)"
    )


def test_no_pattern_column_of_the_dictionary_shows_a_regular_expression():
    d = load_dictionary()
    for t in TABLES:
        for name, col in d.table(t).items():
            if not col.pattern or col.type != "string":
                continue
            row = {name: "§§"}
            if t == "episodes":
                row = ep(**{name: "§§"})
            res = validate_table(raw(t, [row]))
            msgs = res.problems.loc[res.problems["rule"] == "pattern"]
            assert len(msgs) == 1, (t, name)
            for text in (msgs.iloc[0]["message_sv"], msgs.iloc[0]["message_en"]):
                assert not REGEX_BITS.search(text), text


# --------------------------------------------------------------------------- code labels


def test_swedish_messages_list_the_drop_down_labels_and_english_ones_the_english_labels():
    res = validate_table(raw("episodes", [ep(end="2023-01-01", reason="PLANNED",
                                             destination="hemma")]))
    q = res.quarantine.iloc[0]
    assert q["rule"] == "code"
    assert "tillåtna: Föräldrar (PARENTS), Ny placering (NEW_PLACEMENT)" in q["message_sv"]
    assert "allowed: Parents, New placement (NEW_PLACEMENT), Own home (OWN_HOME)" in q[
        "message_en"
    ]
    assert "PARENTS, NEW_PLACEMENT" not in q["message_sv"] + q["message_en"]


def test_a_label_that_is_its_own_code_is_not_repeated_in_parentheses():
    sv, en = code_list(load_dictionary().column("followups", "child_heard"))
    assert sv == "Ja (YES), Delvis (PARTLY), Nej (NO)"
    assert en == "Yes, Partly, No"
    assert "YES, PARTLY, NO" not in sv


def test_the_list_of_allowed_codes_is_bounded():
    col = load_dictionary().column("episodes", "end_reason")
    assert len(col.codes) == 12
    sv, en = code_list(col)
    assert sv.startswith("Planerat enligt vårdplan (PLANNED), Målet uppnått (GOAL_REACHED)")
    assert sv.endswith(", och 4 till") and en.endswith(", and 4 more")
    assert sv.count("), ") == 8 and "Dödsfall" not in sv and "DEATH" not in en


def test_every_code_column_lists_the_labels_of_the_data_dictionary():
    d = load_dictionary()
    for t in TABLES:
        for name, col in d.table(t).items():
            if col.type != "code":
                continue
            sv, en = code_list(col)
            for c in col.codes[:8]:
                assert c["sv"] in sv and c["en"] in en, (t, name)


def test_a_code_given_by_its_label_is_still_accepted():
    res = validate_table(raw("episodes", [ep(placement_type="Konsulentstött familjehem")]))
    assert res.accepted.at[0, "placement_type"] == "FFH"


# --------------------------------------------------------------------------- missing episodes


def _dataset(episodes, placements=(), followups=()):
    out = {"episodes": validate_table(raw("episodes", list(episodes), source="episoder.csv"))}
    if placements:
        out["placements"] = validate_table(raw("placements", list(placements), "plac.csv"))
    if followups:
        out["followups"] = validate_table(raw("followups", list(followups), "uppf.csv"))
    return validate_dataset(out)


def test_a_row_whose_episode_was_quarantined_says_so_and_where():
    out = _dataset(
        [ep("E1"), ep("E2", child="c2", placement_type="XYZ")],
        placements=[pl("E1", 1, "2022-01-01"), pl("E2", 1, "2022-01-01")],
        followups=[fu("E2", "2022-06-01")],
    )
    for t in ("placements", "followups"):
        q = out[t].quarantine
        assert q["rule"].tolist() == ["episode_exists"], t
        sv, en = q.at[0, "message_sv"], q.at[0, "message_en"]
        assert sv.startswith("Episoden E2 är inte godkänd: den sattes i karantän i episoder.csv, "
                             "rad 3 (regel code")
        assert en.startswith("Episode E2 was not accepted: it was quarantined in episoder.csv, "
                             "row 3 (rule code")
        invariant(out[t])
    assert len(out["placements"].accepted) == 1


def test_a_row_whose_episode_is_absent_says_it_is_not_in_the_episodes_file():
    out = _dataset([ep("E1")], placements=[pl("E9", 1, "2022-01-01")])
    q = out["placements"].quarantine.iloc[0]
    assert q["rule"] == "episode_exists"
    assert q["message_sv"] == "Episoden E9 finns inte i episodfilen (episoder.csv)"
    assert q["message_en"] == "Episode E9 is not in the episodes file (episoder.csv)"


def test_an_episode_quarantined_for_overlap_is_named_with_its_row_and_rule():
    out = _dataset(
        [ep("E1", end="2022-12-31", reason="PLANNED"), ep("E2", start="2022-06-01")],
        placements=[pl("E2", 1, "2022-06-01")],
    )
    assert out["episodes"].quarantine["rule"].tolist() == ["no_overlapping_episodes"]
    msg = out["placements"].quarantine.at[0, "message_en"]
    assert "quarantined in episoder.csv, row 3 (rule no_overlapping_episodes" in msg


def test_a_duplicate_episode_id_still_counts_as_accepted():
    out = _dataset([ep("E1"), ep("E1")], placements=[pl("E1", 1, "2022-01-01")])
    assert out["episodes"].quarantine["rule"].tolist() == ["unique_key"]
    assert out["placements"].quarantine.empty


# --------------------------------------------------------------------------- the two files


def _write(tmp_path, name, rows):
    p = tmp_path / name
    write_csv(pd.DataFrame(rows).replace({np.nan: ""}), p)
    return p


def test_problems_csv_holds_repairs_that_quarantine_csv_does_not(tmp_path):
    path = _write(tmp_path, "episodes.csv", [ep("E1", municipality_code="180"),
                                             ep("E2", child="c2", placement_type="XYZ")])
    s = validate_files([path], tmp_path / "out")
    assert s.n_read == s.n_accepted + s.n_quarantined == 2
    q = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str)
    p = pd.read_csv(tmp_path / "out" / "problems.csv", dtype=str)
    assert q["rule"].tolist() == ["code"]
    assert sorted(p["rule"]) == ["code", "digit_code_repaired"]
    acc = pd.read_csv(tmp_path / "out" / "episodes.csv", dtype=str)
    assert acc["municipality_code"].tolist() == ["0180"]


def test_the_summary_line_says_how_quarantine_and_problems_differ(tmp_path):
    path = _write(tmp_path, "episodes.csv", [ep("E1", municipality_code="180"),
                                             ep("E2", child="c2", placement_type="XYZ")])
    s = validate_files([path], tmp_path / "out")
    assert s.n_problems == 2 and s.n_on_accepted == 1
    line = s.line()
    assert line.startswith("read 2 rows, accepted 1, quarantined 1 -> ")
    assert "quarantine.csv: the 1 rejected rows, one line each" in line
    assert "problems.csv: all 2 problems found, 1 of them repairs on accepted rows" in line


def test_the_docstring_of_validate_files_explains_the_two_files():
    doc = validate_files.__doc__
    assert "``quarantine.csv`` holds the **rejected rows**" in doc
    assert "``problems.csv`` holds **every problem found**" in doc
    assert "Accepted + quarantined = read" in doc
