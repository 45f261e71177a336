"""A corpus of malformed municipal exports, each written to ``tmp_path`` at test time.

Every case either raises one :class:`DataValidationError` with a clear message or is read and
validated with the offending rows in quarantine under the expected rule, and
``accepted + quarantined == read`` holds for every table.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from evaluation.data.validate import validate_files
from evaluation.errors import DataValidationError
from tests.helpers import EPISODE_COLUMNS, REFERRAL_COLUMNS

TABLE_NAMES = ("episodes", "placements", "followups", "referrals")


def baseline() -> dict[str, list[dict[str, str]]]:
    """A tiny valid dataset: 3 children, 4 episodes whose placements tile, follow-ups inside."""
    ep = [*EPISODE_COLUMNS, "daily_cost_sek"]
    episodes = [
        dict(
            zip(
                ep,
                [
                    "E1",
                    "a1b2c3",
                    "0180",
                    "M",
                    "2012",
                    "2022-01-10",
                    "2023-03-31",
                    "SOL",
                    "FH",
                    "PLANNED",
                    "1500.5",
                ],
            )
        ),
        dict(
            zip(
                ep,
                ["E2", "a1b2c3", "0180", "M", "2012", "2023-06-01", "", "LVU2", "HVB", "", "4200"],
            )
        ),
        dict(
            zip(
                ep,
                [
                    "E3",
                    "d4e5f6",
                    "1480",
                    "F",
                    "2008",
                    "2022-05-01",
                    "2024-01-15",
                    "LVU3",
                    "SIS",
                    "BREAKDOWN_CHILD",
                    "",
                ],
            )
        ),
        dict(zip(ep, ["E4", "0f0f0f", "0580", "F", "2015", "2023-02-01", "", "SOL", "NH", "", ""])),
    ]
    pl = [
        "episode_id",
        "placement_seq",
        "start_date",
        "end_date",
        "placement_type",
        "change_reason",
    ]
    placements = [
        dict(zip(pl, ["E1", "1", "2022-01-10", "2022-08-31", "FH", ""])),
        dict(zip(pl, ["E1", "2", "2022-09-01", "2023-03-31", "FH", "PLANNED"])),
        dict(zip(pl, ["E2", "1", "2023-06-01", "", "HVB", ""])),
        dict(zip(pl, ["E3", "1", "2022-05-01", "2022-12-31", "SIS", ""])),
        dict(zip(pl, ["E3", "2", "2022-12-31", "2024-01-15", "HVB", "NEEDS_CHANGED"])),
        dict(zip(pl, ["E4", "1", "2023-02-01", "", "NH", ""])),
    ]
    fu = ["episode_id", "followup_date", "followup_type", "goal_attainment", "theme_safety"]
    followups = [
        dict(zip(fu, ["E1", "2022-07-10", "FOLLOWUP", "PARTLY", "4"])),
        dict(zip(fu, ["E1", "2023-03-31", "ENDING", "FULLY", "5"])),
        dict(zip(fu, ["E2", "2024-01-10", "FOLLOWUP", "", "3"])),
        dict(zip(fu, ["E3", "2023-05-01", "FOLLOWUP", "NOT", "2"])),
        dict(zip(fu, ["E4", "2023-08-01", "FOLLOWUP", "", ""])),
    ]
    rf = REFERRAL_COLUMNS
    referrals = [
        dict(zip(rf, ["R1", "a1b2c3", "0180", "2021-11-01", "REPORT", "ja"])),
        dict(zip(rf, ["R2", "d4e5f6", "1480", "2022-03-01", "APPLICATION", "nej"])),
        dict(zip(rf, ["R3", "0f0f0f", "0580", "2022-12-01", "REPORT", "Ja"])),
    ]
    return {
        "episodes": episodes,
        "placements": placements,
        "followups": followups,
        "referrals": referrals,
    }


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    delimiter: str = ",",
    encoding: str = "utf-8",
    header: list[str] | None = None,
) -> Path:
    header = header or list(rows[0])
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


def write_all(tmp: Path, data: dict[str, list[dict[str, str]]], **kw) -> list[Path]:
    return [write_csv(tmp / f"{t}.csv", rows, **kw) for t, rows in data.items()]


def set_cell(data, table, key, column, value):
    """Set ``column`` of the row of ``table`` whose first key column equals ``key``."""
    for r in data[table]:
        if next(iter(r.values())) == key if isinstance(key, str) else key(r):
            r[column] = value
            return data
    raise LookupError(key)


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[Path]]
    error: str | None = None
    rule: str | None = None
    table: str = "episodes"
    check: Callable[[object], None] | None = None


def mutate(fn) -> Callable[[Path], list[Path]]:
    def build(tmp: Path) -> list[Path]:
        data = copy.deepcopy(baseline())
        fn(data)
        return write_all(tmp, data)

    return build


def _accepted(summary, table: str) -> pd.DataFrame:
    return summary.results[table].accepted


# ----------------------------------------------------------------- builders of special files


def cp1252(tmp):
    data = baseline()
    set_cell(data, "episodes", "E4", "placement_type", "Nätverkshem")
    data["episodes"][0]["legal_basis"] = "SoL (frivillig)"
    paths = write_all(tmp, data)
    write_csv(
        tmp / "episodes.csv",
        data["episodes"],
        delimiter=";",
        encoding="cp1252",
        header=[*data["episodes"][0], "anteckning"],
    )
    raw = (tmp / "episodes.csv").read_bytes()
    assert b"N\xe4tverkshem" in raw
    return paths


def check_cp1252(s):
    acc = _accepted(s, "episodes")
    assert acc.set_index("episode_id").at["E4", "placement_type"] == "NH"
    assert acc.set_index("episode_id").at["E1", "legal_basis"] == "SOL"
    assert s.n_quarantined == 0


def bom(tmp):
    paths = write_all(tmp, baseline())
    write_csv(tmp / "episodes.csv", baseline()["episodes"], encoding="utf-8-sig")
    return paths


def check_clean(s):
    assert s.n_quarantined == 0, s.results
    assert s.n_read == 18


def semicolon_decimal_comma(tmp):
    data = baseline()
    data["episodes"][0]["daily_cost_sek"] = "1 234,50"
    data["episodes"][1]["daily_cost_sek"] = "2\u00a0000,25"
    return write_all(tmp, data, delimiter=";")


def check_decimal_comma(s):
    acc = _accepted(s, "episodes").set_index("episode_id")
    assert acc.at["E1", "daily_cost_sek"] == pytest.approx(1234.5)
    assert acc.at["E2", "daily_cost_sek"] == pytest.approx(2000.25)
    assert s.n_quarantined == 0


def tab_delimited(tmp):
    return write_all(tmp, baseline(), delimiter="\t")


def utf16(tmp):
    p = tmp / "episodes.csv"
    p.write_bytes("episode_id,child_id\nE1,abc\n".encode("utf-16"))
    return [p]


def garbage(tmp):
    p = tmp / "episodes.csv"
    p.write_bytes(bytes(range(256)) * 20)
    return [p]


def control_garbage(tmp):
    p = tmp / "episodes.csv"
    p.write_bytes(bytes([1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16]) * 100)
    return [p]


def renamed(mapping: dict[str, str], drop: tuple[str, ...] = ()):
    def build(tmp):
        rows = [
            {mapping.get(k, k): v for k, v in r.items() if k not in drop}
            for r in baseline()["episodes"]
        ]
        return [write_csv(tmp / "episodes.csv", rows)]

    return build


def empty_file(tmp):
    p = tmp / "episodes.csv"
    p.write_bytes(b"")
    return [p]


def header_only(tmp):
    p = tmp / "episodes.csv"
    p.write_text(",".join(baseline()["episodes"][0]) + "\n", encoding="utf-8")
    return [p]


def check_leading_zero_repaired(s):
    check_clean(s)
    assert "0148" in set(s.results["referrals"].accepted["municipality_code"])
    p = s.results["referrals"].problems
    assert p["rule"].tolist() == ["digit_code_repaired"] and p["value"].tolist() == ["148"]


def check_header_only(s):
    assert s.tables["episodes"] == {"read": 0, "accepted": 0, "quarantined": 0}


def one_mb_field(tmp):
    data = baseline()
    data["episodes"][3]["municipality_code"] = "9" * 1_000_000
    return write_all(tmp, data)


def unsupported(tmp):
    p = tmp / "episodes.json"
    p.write_text("[]", encoding="utf-8")
    return [p]


def duplicated_header(tmp):
    p = tmp / "episodes.csv"
    rows = baseline()["episodes"]
    header = list(rows[0])
    text = ",".join(header + ["Start_Date"]) + "\n"
    text += "\n".join(",".join([*r.values(), r["start_date"]]) for r in rows) + "\n"
    p.write_text(text, encoding="utf-8")
    return [p]


def xlsx(tmp):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Instruktioner"
    ws["A1"] = "Fyll i en rad per episod."
    for t, rows in baseline().items():
        ws = wb.create_sheet(t)
        ws.append(list(rows[0]))
        for r in rows:
            ws.append([v if v != "" else None for v in r.values()])
    wb.create_sheet("koder").append(["FH", "Familjehem"])
    p = tmp / "mall.xlsx"
    wb.save(p)
    return [p]


def xlsx_typed_cells(tmp):
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "episodes"
    rows = baseline()["episodes"]
    ws.append(list(rows[0]))
    for r in rows:
        vals = []
        for k, v in r.items():
            if k in ("start_date", "end_date") and v:
                vals.append(dt.datetime.fromisoformat(v))
            elif k in ("birth_year",):
                vals.append(int(v))
            elif k == "daily_cost_sek" and v:
                vals.append(float(v))
            else:
                vals.append(v or None)
        ws.append(vals)
    p = tmp / "episodes.xlsx"
    wb.save(p)
    return [p]


def check_xlsx_typed(s):
    acc = _accepted(s, "episodes").set_index("episode_id")
    assert acc.at["E1", "start_date"] == pd.Timestamp("2022-01-10")
    assert list(acc["_row"]) == [2, 3, 4, 5]
    assert s.n_quarantined == 0


def parquet(tmp):
    paths = []
    for t, rows in baseline().items():
        p = tmp / f"{t}.parquet"
        pd.DataFrame(rows).to_parquet(p)
        paths.append(p)
    return paths


def sav(tmp):
    import pyreadstat

    df = pd.DataFrame(baseline()["episodes"])
    df["birth_year"] = df["birth_year"].astype(float)
    p = tmp / "episodes.sav"
    pyreadstat.write_sav(df, str(p))
    return [p]


def check_sav(s):
    acc = _accepted(s, "episodes")
    assert len(acc) == 4 and acc["birth_year"].tolist() == [2012, 2012, 2008, 2015]


def sav_value_labels(tmp):
    import pyreadstat

    df = pd.DataFrame(baseline()["episodes"])
    df["sex"] = df["sex"].map({"M": 1.0, "F": 2.0})
    df["placement_type"] = [1.0, 2.0, 3.0, 4.0]
    p = tmp / "episodes.sav"
    pyreadstat.write_sav(
        df,
        str(p),
        variable_value_labels={
            "sex": {1.0: "Pojke", 2.0: "Flicka"},
            "placement_type": {
                1.0: "Familjehem",
                2.0: "HVB",
                3.0: "SiS särskilt ungdomshem",
                4.0: "Nätverkshem",
            },
        },
    )
    return [p]


def check_sav_labels(s):
    acc = _accepted(s, "episodes")
    assert acc["sex"].tolist() == ["M", "M", "F", "F"]
    assert acc["placement_type"].tolist() == ["FH", "HVB", "SIS", "NH"]


def parquet_typed(tmp):
    df = pd.DataFrame(baseline()["episodes"])
    for c in ("start_date", "end_date"):
        df[c] = pd.to_datetime(df[c].replace("", None))
    df["birth_year"] = df["birth_year"].astype(int)
    df["daily_cost_sek"] = pd.to_numeric(df["daily_cost_sek"].replace("", None))
    p = tmp / "kommun_episodes.parquet"
    df.to_parquet(p)
    return [p]


def date_formats(tmp):
    data = baseline()
    data["episodes"][0]["start_date"] = "20220110"
    data["episodes"][0]["end_date"] = "31.03.2023"
    data["episodes"][2]["start_date"] = "2022/05/01"
    data["episodes"][2]["end_date"] = "15/1/2024"
    data["episodes"][3]["start_date"] = "2023-02-01 00:00:00"
    return write_all(tmp, data)


def raw_extract_personnummer(tmp):
    data = baseline()
    for i, r in enumerate(data["episodes"]):
        for c in ("child_id", "sex", "birth_year"):
            r.pop(c)
        r["personnummer"] = f"20120{i + 1}01-123{i}"
    data["episodes"][1]["legal_basis"] = "nope"
    return [write_csv(tmp / "episodes.csv", data["episodes"])]


def personnummer_bad_value(tmp):
    data = baseline()
    # 19121212-1212 is Skatteverket's widely published test number ("Tolvan"), not a person.
    data["episodes"][0]["personnummer"] = "x" * 20_000 + "19121212-1212"
    return write_all(tmp, data)


def ragged(tmp):
    paths = write_all(tmp, baseline())
    with open(tmp / "episodes.csv", "a", encoding="utf-8") as fh:
        fh.write("E9,abc,0180\n")
    return paths


def quoted_newline(tmp):
    data = baseline()
    for r in data["episodes"]:
        r["kommentar"] = 'ett "citat", och\nen ny rad; slut'
    return write_all(tmp, data)


def no_table_name(tmp):
    return [write_csv(tmp / "export_2024.csv", baseline()["episodes"])]


def missing_file(tmp):
    return [tmp / "episodes.csv"]


CASES = [
    Case("cp1252_swedish_letters", cp1252, check=check_cp1252),
    Case("utf8_bom", bom, check=check_clean),
    Case("semicolon_decimal_comma", semicolon_decimal_comma, check=check_decimal_comma),
    Case("tab_delimiter", tab_delimited, check=check_clean),
    Case("utf16", utf16, error=r"episodes\.csv: .*UTF-16"),
    Case("garbage_bytes", garbage, error=r"episodes\.csv: .*binary"),
    Case("control_characters", control_garbage, error=r"episodes\.csv: .*binary"),
    Case(
        "missing_columns_suggest",
        renamed({"start_date": "start_datum"}, ("legal_basis",)),
        error=r"lacks required column\(s\): start_date \(did you mean 'start_datum'\?\), "
        r"legal_basis",
    ),
    Case(
        "missing_column_startdate",
        renamed({"start_date": "startdate"}),
        error=r"start_date \(did you mean 'startdate'\?\)",
    ),
    Case(
        "unknown_code",
        mutate(lambda d: set_cell(d, "episodes", "E2", "placement_type", "XYZ")),
        rule="code",
    ),
    Case(
        "swedish_labels",
        mutate(
            lambda d: (
                set_cell(d, "episodes", "E1", "placement_type", "Familjehem"),
                set_cell(d, "episodes", "E2", "placement_type", " hvb "),
                set_cell(d, "episodes", "E3", "placement_type", "SiS särskilt ungdomshem"),
                set_cell(d, "episodes", "E4", "placement_type", "kinship/network home"),
            )
        ),
        check=lambda s: (
            _accepted(s, "episodes")["placement_type"].tolist() == ["FH", "HVB", "SIS", "NH"]
            or pytest.fail("labels not normalised")
        ),
    ),
    Case(
        "impossible_date",
        mutate(lambda d: set_cell(d, "episodes", "E4", "start_date", "2024-02-30")),
        rule="type_date",
    ),
    Case(
        "end_before_start",
        mutate(
            lambda d: (
                set_cell(d, "episodes", "E4", "end_date", "2023-01-01"),
                set_cell(d, "episodes", "E4", "end_reason", "PLANNED"),
            )
        ),
        rule="end_not_before_start",
    ),
    Case(
        "duplicated_ids",
        mutate(lambda d: d["episodes"].append(dict(d["episodes"][0]))),
        rule="unique_key",
    ),
    Case(
        "duplicated_placement_key",
        mutate(lambda d: d["placements"].append(dict(d["placements"][0]))),
        rule="unique_key",
        table="placements",
    ),
    Case(
        "overlapping_episodes",
        mutate(lambda d: set_cell(d, "episodes", "E2", "start_date", "2023-03-01")),
        rule="no_overlapping_episodes",
    ),
    Case(
        "followup_outside_episode",
        mutate(
            lambda d: set_cell(
                d, "followups", lambda r: r["episode_id"] == "E3", "followup_date", "2024-06-01"
            )
        ),
        rule="followup_within_episode",
        table="followups",
    ),
    Case(
        "placements_gap",
        mutate(
            lambda d: set_cell(
                d,
                "placements",
                lambda r: r["episode_id"] == "E1" and r["placement_seq"] == "2",
                "start_date",
                "2022-09-05",
            )
        ),
        rule="placements_tile_episode",
        table="placements",
    ),
    Case(
        "placement_of_unknown_episode",
        mutate(lambda d: d["placements"].append({**d["placements"][2], "episode_id": "E99"})),
        rule="episode_exists",
        table="placements",
    ),
    Case(
        "age_25_at_start",
        mutate(lambda d: set_cell(d, "episodes", "E3", "birth_year", "1997")),
        rule="age_at_start",
    ),
    Case(
        "planned_ending_inconsistent",
        mutate(
            lambda d: (
                [r.setdefault("planned_ending", "") for r in d["episodes"]]
                and set_cell(d, "episodes", "E3", "planned_ending", "ja")
            )
        ),
        rule="planned_ending_derived",
    ),
    Case(
        "end_date_without_reason",
        mutate(lambda d: set_cell(d, "episodes", "E1", "end_reason", "")),
        rule="end_reason_with_end_date",
    ),
    Case(
        "required_missing",
        mutate(lambda d: set_cell(d, "episodes", "E2", "legal_basis", " ")),
        rule="required",
    ),
    Case(
        "not_an_integer",
        mutate(lambda d: set_cell(d, "episodes", "E2", "birth_year", "tvåtusen")),
        rule="type_integer",
    ),
    Case(
        "not_a_number",
        mutate(lambda d: set_cell(d, "episodes", "E2", "daily_cost_sek", "abc")),
        rule="type_number",
    ),
    Case(
        "not_a_boolean",
        mutate(lambda d: set_cell(d, "referrals", "R1", "led_to_investigation", "kanske")),
        rule="type_boolean",
        table="referrals",
    ),
    Case(
        "theme_out_of_range",
        mutate(
            lambda d: set_cell(
                d, "followups", lambda r: r["episode_id"] == "E2", "theme_safety", "7"
            )
        ),
        rule="range",
        table="followups",
    ),
    Case(
        "bad_municipality_pattern",
        mutate(lambda d: set_cell(d, "referrals", "R2", "municipality_code", "14")),
        rule="pattern",
        table="referrals",
    ),
    Case(
        "municipality_code_without_leading_zero",
        mutate(lambda d: set_cell(d, "referrals", "R2", "municipality_code", "148")),
        check=check_leading_zero_repaired,
    ),
    Case("empty_file", empty_file, error=r"episodes\.csv: the file is empty"),
    Case("header_only", header_only, check=check_header_only),
    Case("one_mb_field", one_mb_field, rule="field_too_long"),
    Case("unsupported_extension", unsupported, error=r"unsupported file type '\.json'"),
    Case("duplicated_header", duplicated_header, error=r"duplicated column name.*'start_date'"),
    Case("xlsx_table_sheets", xlsx, check=check_clean),
    Case("xlsx_typed_cells", xlsx_typed_cells, check=check_xlsx_typed),
    Case("parquet", parquet, check=check_clean),
    Case("spss_sav", sav, check=check_sav),
    Case("spss_value_labels", sav_value_labels, check=check_sav_labels),
    Case(
        "parquet_typed_columns",
        parquet_typed,
        check=lambda s: (s.n_quarantined == 0 and s.n_accepted == 4) or pytest.fail(str(s.results)),
    ),
    Case("date_formats", date_formats, check=check_clean),
    Case(
        "raw_extract_with_personnummer",
        raw_extract_personnummer,
        error=r"column personnummer, row 2, 3, 4, 5; rule identity_number.*evaluation pseudonymise",
    ),
    Case(
        "personnummer_column_refused_without_showing_it",
        personnummer_bad_value,
        error=r"^(?!.*1212).*rule identity_number",
    ),
    Case("ragged_row", ragged, rule="field_count"),
    Case("quoted_delimiter_and_newline", quoted_newline, check=check_clean),
    Case("table_not_inferable", no_table_name, error=r"cannot tell which table"),
    Case("missing_file", missing_file, error=r"episodes\.csv: file not found"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_is_rejected_or_quarantined(case: Case, tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    paths = case.build(inp)
    out = tmp_path / "out"
    if case.error is not None:
        with pytest.raises(DataValidationError, match=case.error):
            validate_files(paths, out)
        return
    summary = validate_files(paths, out)
    for t, res in summary.results.items():
        assert len(res.accepted) + len(res.quarantine) == res.n_read, t
        assert (
            res.quarantine.groupby(["source_file", "row"]).size().max() in (1, None)
            or res.quarantine.empty
        )
    if case.rule is not None:
        q = summary.results[case.table].quarantine
        assert case.rule in set(q["rule"]), q.to_string()
        assert (out / "quarantine.csv").exists()
    if case.check is not None:
        case.check(summary)
