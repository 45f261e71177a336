"""Tests of :mod:`evaluation.data.io`: reading municipal exports into raw string tables."""

from __future__ import annotations

import math
from pathlib import Path

import openpyxl
import pytest

from evaluation.data.io import read_table, read_tables
from evaluation.data.rawtable import normalise_header
from evaluation.errors import DataValidationError
from tests.helpers import REFERRAL_COLUMNS

HEADER = (
    "episode_id,child_id,municipality_code,sex,birth_year,start_date,legal_basis,placement_type"
)
ROW = "E1,abc,0180,M,2012,2022-01-10,SOL,FH"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding, newline="")
    return path


@pytest.mark.parametrize(
    "name",
    [
        "episodes.csv",
        "episodes_2024.csv",
        "kommun_episodes.csv",
        "EPISODES.CSV",
        "x_Episodes_y.txt",
    ],
)
def test_table_name_is_inferred_from_the_file_name(tmp_path, name):
    raw = read_table(write(tmp_path / name, f"{HEADER}\n{ROW}\n"))
    assert raw.table == "episodes"
    assert raw.source == name


def test_explicit_table_overrides_the_file_name(tmp_path):
    raw = read_table(write(tmp_path / "data.csv", f"{HEADER}\n{ROW}\n"), table="episodes")
    assert raw.table == "episodes"


def test_unknown_table_name_is_rejected(tmp_path):
    with pytest.raises(DataValidationError, match="unknown table 'children'"):
        read_table(write(tmp_path / "data.csv", f"{HEADER}\n{ROW}\n"), table="children")


def test_uninferable_table_lists_the_table_names(tmp_path):
    with pytest.raises(DataValidationError, match="episodes, placements, followups, referrals"):
        read_table(write(tmp_path / "data.csv", f"{HEADER}\n{ROW}\n"))


def test_row_numbers_are_spreadsheet_lines_and_blank_lines_are_skipped(tmp_path):
    raw = read_table(
        write(tmp_path / "episodes.csv", f"{HEADER}\n{ROW}\n\n{ROW.replace('E1', 'E2')}\n")
    )
    assert raw.row_numbers == [2, 4]
    assert raw.data["episode_id"].tolist() == ["E1", "E2"]


def test_cells_are_strings_and_blank_cells_are_nan(tmp_path):
    raw = read_table(write(tmp_path / "episodes.csv", f"{HEADER},end_date\n{ROW}, \n"))
    assert raw.data.at[0, "birth_year"] == "2012"
    assert raw.data.at[0, "municipality_code"] == "0180"
    assert math.isnan(raw.data.at[0, "end_date"])


def test_headers_are_normalised_and_labels_accepted(tmp_path):
    header = (
        " Episode ID ,Barn-id (pseudonym),Kommunkod,Kön,Födelseår,Startdatum,Lagrum,Placement type"
    )
    raw = read_table(write(tmp_path / "episodes.csv", f"{header}\n{ROW}\n"))
    assert list(raw.data.columns) == HEADER.split(",")


def test_normalise_header_strips_bom_case_and_spaces():
    assert normalise_header("\ufeff Start  Date ") == "start_date"


def test_extra_columns_are_recorded_and_dropped(tmp_path):
    raw = read_table(write(tmp_path / "episodes.csv", f"{HEADER},Handläggare\n{ROW},Anna\n"))
    assert raw.extra_columns == ["handläggare"]
    assert "handläggare" not in raw.data.columns


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiter_is_sniffed_from_the_header(tmp_path, delimiter):
    text = f"{HEADER}\n{ROW}\n".replace(",", delimiter)
    raw = read_table(write(tmp_path / "episodes.csv", text))
    assert raw.delimiter == delimiter
    assert raw.data.at[0, "placement_type"] == "FH"


@pytest.mark.parametrize(
    "encoding,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")]
)
def test_encoding_is_detected(tmp_path, encoding, expected):
    raw = read_table(
        write(tmp_path / "episodes.csv", f"{HEADER},ort\n{ROW},Västerås\n", encoding=encoding)
    )
    assert raw.encoding == expected
    assert next(iter(raw.data.columns)) == "episode_id"


def test_header_only_is_a_valid_empty_table(tmp_path):
    raw = read_table(write(tmp_path / "episodes.csv", f"{HEADER}\n"))
    assert raw.n_rows == 0 and raw.row_numbers == []
    assert "episode_id" in raw.data.columns


def test_missing_required_columns_are_all_listed(tmp_path):
    text = "episode_id,startdatum_x,placement\nE1,2022-01-01,FH\n"
    with pytest.raises(DataValidationError) as exc:
        read_table(write(tmp_path / "episodes.csv", text))
    msg = str(exc.value)
    for col in (
        "child_id",
        "municipality_code",
        "sex",
        "birth_year",
        "start_date",
        "legal_basis",
        "placement_type",
    ):
        assert col in msg
    assert "did you mean 'placement'" in msg


def test_personnummer_stands_in_for_derived_columns(tmp_path):
    text = (
        "episode_id,personnummer,municipality_code,start_date,legal_basis,placement_type\n"
        "E1,201201011234,0180,2022-01-10,SOL,FH\n"
    )
    raw = read_table(write(tmp_path / "episodes.csv", text))
    assert "child_id" not in raw.data.columns


def test_a_one_megabyte_field_is_read_intact(tmp_path):
    big = "x" * 1_000_000
    raw = read_table(write(tmp_path / "episodes.csv", f'{HEADER},note\n{ROW},"{big}"\n'))
    assert raw.extra_columns == ["note"]
    raw = read_table(write(tmp_path / "episodes.csv", f"{HEADER},end_date\n{ROW},{big}\n"))
    assert len(raw.data.at[0, "end_date"]) == 1_000_000


def test_ragged_rows_are_recorded(tmp_path):
    raw = read_table(write(tmp_path / "episodes.csv", f"{HEADER}\n{ROW}\nE2,abc\n"))
    assert raw.field_counts == {1: 2}


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "empty"),
        (b"\xff\xfee\x00p\x00", "UTF-16"),
        (b"\x00\x01\x02" * 50, "binary"),
    ],
)
def test_unreadable_files_raise_one_clear_error(tmp_path, content, match):
    p = tmp_path / "episodes.csv"
    p.write_bytes(content)
    with pytest.raises(DataValidationError, match=f"episodes.csv: .*{match}"):
        read_table(p)


def test_missing_file_and_unsupported_extension(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        read_table(tmp_path / "episodes.csv")
    with pytest.raises(DataValidationError, match="unsupported file type '.xls'"):
        read_table(write(tmp_path / "episodes.xls", "x"))


def test_corrupt_parquet_and_xlsx_raise(tmp_path):
    with pytest.raises(DataValidationError, match="Parquet"):
        read_table(write(tmp_path / "episodes.parquet", "not parquet"))
    with pytest.raises(DataValidationError, match="Excel"):
        read_table(write(tmp_path / "episodes.xlsx", "not excel"))


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_read_tables_on_xlsx_returns_every_table_sheet(tmp_path):
    p = _workbook(
        tmp_path / "mall.xlsx",
        {
            "Instruktioner": [["Läs mig"]],
            "episodes": [
                HEADER.split(","),
                ROW.split(","),
                [None] * 8,
                ROW.replace("E1", "E2").split(","),
            ],
            "referrals": [REFERRAL_COLUMNS],
            "Koder": [["FH", "Familjehem"]],
        },
    )
    tables = read_tables(p)
    assert set(tables) == {"episodes", "referrals"}
    assert tables["episodes"].row_numbers == [2, 4]
    assert tables["episodes"].source == "mall.xlsx[episodes]"
    assert tables["referrals"].n_rows == 0
    assert read_table(p, "episodes").n_rows == 2


def test_xlsx_without_table_sheets_is_rejected(tmp_path):
    p = _workbook(tmp_path / "x.xlsx", {"Blad1": [["a"]]})
    with pytest.raises(DataValidationError, match="no sheet named after a table"):
        read_tables([p])


def test_the_same_table_twice_is_rejected(tmp_path):
    a = write(tmp_path / "episodes.csv", f"{HEADER}\n{ROW}\n")
    b = write(tmp_path / "episodes_2.csv", f"{HEADER}\n{ROW}\n")
    with pytest.raises(DataValidationError, match="given twice"):
        read_tables([a, b])
