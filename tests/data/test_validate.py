"""Tests of :mod:`evaluation.data.validate`: cell, row and cross-table rules and the file runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.rawtable import QUARANTINE_COLUMNS, RawTable
from evaluation.data.rules import parse_date, parse_number
from evaluation.data.validate import validate_files, validate_table
from evaluation.errors import DataValidationError
from tests.helpers import EPISODE_COLUMNS as EP_COLS


def ep(eid="E1", child="c1", start="2022-01-01", end="", reason="", **kw):
    row = dict(zip(EP_COLS, [eid, child, "0180", "M", "2012", start, end, "SOL", "FH", reason]))
    row.update(kw)
    return row


def raw(table: str, rows: list[dict], source: str = "f.csv") -> RawTable:
    rows = [{k: (np.nan if v == "" else v) for k, v in r.items()} for r in rows]
    df = pd.DataFrame(rows, dtype=object)
    return RawTable(table=table, data=df, source=source, row_numbers=list(range(2, len(df) + 2)))


def pl(eid, seq, start, end="", ptype="FH"):
    return {
        "episode_id": eid,
        "placement_seq": str(seq),
        "start_date": start,
        "end_date": end,
        "placement_type": ptype,
    }


def fu(eid, date):
    return {"episode_id": eid, "followup_date": date, "followup_type": "FOLLOWUP"}


def invariant(res):
    assert len(res.accepted) + len(res.quarantine) == res.n_read


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01",
        "20240301",
        "2024/03/01",
        "01.03.2024",
        "1/3/2024",
        "2024-03-01 00:00:00",
        " 2024-3-1 ",
    ],
)
def test_parse_date_accepts_swedish_export_formats(text):
    assert parse_date(text) == pd.Timestamp("2024-03-01")


@pytest.mark.parametrize(
    "text", ["2024-02-30", "2023-02-29", "31/4/2024", "2024-13-01", "mars 2024", "", "0001-01-01"]
)
def test_parse_date_rejects_impossible_dates(text):
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize(
    "text,value",
    [
        ("1 234,50", 1234.5),
        ("1234.5", 1234.5),
        ("1\u00a0234,5", 1234.5),
        ("1\u202f234", 1234),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("-3", -3),
        ("0,5", 0.5),
    ],
)
def test_parse_number_accepts_decimal_comma_and_spaces(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "1,2,3", "nan", "inf", "1e999", "--1"])
def test_parse_number_rejects_non_numbers(text):
    with pytest.raises(ValueError):
        parse_number(text)


def test_accepted_is_typed_per_dictionary_with_row_and_source():
    res = validate_table(
        raw(
            "episodes",
            [ep(end="2023-01-01", reason="PLANNED", daily_cost_sek="1 500,5", unaccompanied="JA")],
        )
    )
    acc = res.accepted
    assert acc["start_date"].dtype == "datetime64[ns]"
    assert acc["birth_year"].dtype == "Int64"
    assert acc["daily_cost_sek"].dtype == "float64"
    assert acc["unaccompanied"].dtype == "boolean" and bool(acc.at[0, "unaccompanied"])
    assert acc.at[0, "_row"] == 2 and acc.at[0, "_source"] == "f.csv"
    assert acc.at[0, "daily_cost_sek"] == 1500.5
    assert bool(acc.at[0, "planned_ending"]) is True
    assert list(res.quarantine.columns) == QUARANTINE_COLUMNS


@pytest.mark.parametrize(
    "value,code",
    [
        ("Familjehem", "FH"),
        (" hvb ", "HVB"),
        ("fh", "FH"),
        ("Family  home", "FH"),
        ("JOURHEM", "JH"),
    ],
)
def test_codes_accept_labels_case_and_whitespace_insensitively(value, code):
    res = validate_table(raw("episodes", [ep(placement_type=value)]))
    assert res.accepted.at[0, "placement_type"] == code


def test_unknown_code_message_lists_allowed_labels_in_both_languages():
    res = validate_table(raw("episodes", [ep(placement_type="XYZ")]))
    q = res.quarantine.iloc[0]
    assert q["rule"] == "code" and q["value"] == "XYZ" and q["row"] == 2
    assert q["message_sv"].startswith(
        "Okänd kod 'XYZ' i kolumnen placement_type; tillåtna: Familjehem (FH), "
        "Nätverkshem (NH), Konsulentstött familjehem (FFH)"
    )
    assert q["message_en"].startswith(
        "Unknown code 'XYZ' in column placement_type; allowed: Family home (FH), "
        "Kinship/network home (NH)"
    )


def test_one_quarantine_row_per_input_row_but_all_problems_kept():
    res = validate_table(
        raw("episodes", [ep(placement_type="XYZ", legal_basis="Q", birth_year="x")])
    )
    assert len(res.quarantine) == 1 and res.quarantine.at[0, "rule"] == "type_integer"
    assert set(res.problems["rule"]) == {"type_integer", "code"}
    assert len(res.problems) == 3


def test_quarantine_value_is_truncated_to_200_characters():
    res = validate_table(raw("episodes", [ep(birth_year="9" * 5000)]))
    assert len(res.quarantine.at[0, "value"]) == 200


def test_a_filled_direct_identifier_column_is_refused_without_its_value():
    with pytest.raises(DataValidationError, match="pseudonymise") as err:
        validate_table(raw("episodes", [ep(personnummer="y" * 10_001)]))
    assert "yyy" not in str(err.value)


def test_a_raw_extract_is_refused_until_pseudonymised():
    row = {k: v for k, v in ep().items() if k not in ("child_id", "sex", "birth_year")}
    row["personnummer"] = "201201011234"
    with pytest.raises(DataValidationError, match="Run `evaluation pseudonymise`"):
        validate_table(raw("episodes", [row]))


def test_missing_required_value_is_quarantined():
    res = validate_table(raw("episodes", [ep(child="  ")]))
    assert res.quarantine.at[0, "rule"] == "required"
    assert res.quarantine.at[0, "column"] == "child_id"


@pytest.mark.parametrize(
    "row,rule",
    [
        (ep(start="2022-05-01", end="2022-04-30", reason="PLANNED"), "end_not_before_start"),
        (ep(birth_year="1997"), "age_at_start"),
        (ep(birth_year="2023"), "age_at_start"),
        (ep(end="2023-01-01"), "end_reason_with_end_date"),
        (ep(reason="PLANNED"), "end_reason_with_end_date"),
        (ep(end="2023-01-01", reason="ABSCONDED", planned_ending="ja"), "planned_ending_derived"),
        (ep(planned_ending="nej"), "planned_ending_derived"),
        (ep(municipality_code="18"), "pattern"),
        (ep(municipality_code="01800"), "pattern"),
        (ep(unaccompanied="kanske"), "type_boolean"),
        (ep(daily_cost_sek="-5"), "range"),
    ],
)
def test_row_rules(row, rule):
    res = validate_table(raw("episodes", [row]))
    assert res.quarantine.at[0, "rule"] == rule, res.problems.to_string()
    invariant(res)


def test_planned_ending_is_derived_when_absent():
    res = validate_table(
        raw(
            "episodes",
            [
                ep("E1", end="2023-01-01", reason="BREAKDOWN_CARER"),
                ep("E2", child="c2", end="2023-01-01", reason="GOAL_REACHED"),
                ep("E3", child="c3"),
            ],
        )
    )
    assert res.accepted["planned_ending"].tolist() == [False, True, pd.NA]


def test_duplicate_key_keeps_the_first_valid_row():
    res = validate_table(raw("episodes", [ep("E1", placement_type="XYZ"), ep("E1"), ep("E1")]))
    assert res.accepted["_row"].tolist() == [3]
    assert res.quarantine["rule"].tolist() == ["code", "unique_key"]
    invariant(res)


def test_duplicate_followup_key_compares_parsed_dates():
    res = validate_table(raw("followups", [fu("E1", "2022-03-01"), fu("E1", "01.03.2022")]))
    assert res.quarantine["rule"].tolist() == ["unique_key"]


def _dataset(episodes, placements=(), followups=()):
    results = {"episodes": validate_table(raw("episodes", list(episodes)))}
    if placements:
        results["placements"] = validate_table(raw("placements", list(placements)))
    if followups:
        results["followups"] = validate_table(raw("followups", list(followups)))
    out = validate_dataset(results)
    for res in out.values():
        invariant(res)
    return out


def test_placements_may_start_on_or_the_day_after_the_previous_end():
    out = _dataset(
        [ep("E1", start="2022-01-01", end="2022-12-31", reason="PLANNED")],
        [
            pl("E1", 1, "2022-01-01", "2022-03-31"),
            pl("E1", 2, "2022-04-01", "2022-06-30"),
            pl("E1", 3, "2022-06-30", "2022-12-31"),
        ],
    )
    assert len(out["placements"].accepted) == 3


def test_ongoing_episode_is_tiled_by_an_open_last_placement():
    out = _dataset([ep("E1")], [pl("E1", 1, "2022-01-01", "2022-05-01"), pl("E1", 2, "2022-05-02")])
    assert out["placements"].quarantine.empty


@pytest.mark.parametrize(
    "placements",
    [
        [pl("E1", 1, "2022-01-02")],  # late first start
        [pl("E1", 1, "2022-01-01", "2022-02-01"), pl("E1", 3, "2022-02-02")],  # seq not 1..k
        [pl("E1", 1, "2022-01-01", "2022-02-01"), pl("E1", 2, "2022-02-05")],  # gap
        [pl("E1", 1, "2022-01-01"), pl("E1", 2, "2022-02-05")],  # open middle
        [pl("E1", 1, "2022-01-01", "2022-02-01")],  # ends, episode ongoing
    ],
)
def test_placements_that_do_not_tile_are_all_quarantined(placements):
    out = _dataset([ep("E1")], placements)
    assert out["placements"].accepted.empty
    assert set(out["placements"].quarantine["rule"]) == {"placements_tile_episode"}
    assert len(out["episodes"].accepted) == 1


def test_overlapping_episode_is_quarantined_with_its_children_rows():
    out = _dataset(
        [
            ep("E1", start="2022-01-01"),
            ep("E2", start="2023-01-01"),
            ep("E3", child="c2", start="2022-01-01", end="2022-06-01", reason="PLANNED"),
            ep("E4", child="c2", start="2022-06-01"),
        ],
        [pl("E2", 1, "2023-01-01")],
        [fu("E2", "2023-02-01")],
    )
    assert out["episodes"].quarantine["rule"].tolist() == ["no_overlapping_episodes"]
    assert out["episodes"].quarantine["row"].tolist() == [3]
    assert out["placements"].quarantine["rule"].tolist() == ["episode_exists"]
    assert out["followups"].quarantine["rule"].tolist() == ["episode_exists"]


@pytest.mark.parametrize(
    "date,ok",
    [("2022-01-01", True), ("2022-12-31", True), ("2021-12-31", False), ("2023-01-01", False)],
)
def test_followups_must_fall_inside_their_episode(date, ok):
    out = _dataset(
        [ep("E1", start="2022-01-01", end="2022-12-31", reason="PLANNED")],
        followups=[fu("E1", date)],
    )
    assert len(out["followups"].accepted) == int(ok)


def test_validate_files_writes_accepted_quarantine_and_problems(tmp_path):
    src = tmp_path / "episodes.csv"
    pd.DataFrame(
        [ep("E1", end="2023-01-01", reason="PLANNED"), ep("E2", child="c2", sex="X")]
    ).to_csv(src, index=False, sep=";")
    summary = validate_files([src], tmp_path / "out")
    assert summary.tables["episodes"] == {"read": 2, "accepted": 1, "quarantined": 1}
    assert summary.line().startswith(
        f"read 2 rows, accepted 1, quarantined 1 -> {tmp_path / 'out'}/ (quarantine.csv: the 1 "
        "rejected rows"
    )
    acc = pd.read_csv(tmp_path / "out" / "episodes.csv", dtype=str)
    assert "_row" not in acc.columns and acc.at[0, "start_date"] == "2022-01-01"
    q = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str)
    assert list(q.columns) == QUARANTINE_COLUMNS and q.at[0, "rule"] == "code"
    assert (tmp_path / "out" / "problems.csv").exists()


def test_validate_dataset_does_not_modify_its_input():
    res = validate_table(raw("episodes", [ep("E1"), ep("E2", start="2022-05-01")]))
    before = len(res.accepted)
    validate_dataset({"episodes": res})
    assert len(res.accepted) == before
