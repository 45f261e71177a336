"""After ``pseudonymise`` then ``validate``, problems name the user's own file, sheet and row.

``evaluation pseudonymise`` writes where each row came from (columns ``source_file`` and
``source_row``); ``evaluation validate`` reads them as the rows' origin: its quarantine,
problems and messages point at the raw extract, not at the intermediate CSV, and the two
columns are neither reported as ignored nor published in the validated tables. Identity numbers
here are SYNTHETIC (``synthetic_personnummer`` from a seeded generator), made at run time.
"""

from __future__ import annotations

import csv

import numpy as np
import openpyxl
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.data.pseudonymise import pseudonymise_files, synthetic_personnummer
from evaluation.data.rawtable import PROVENANCE_COLUMNS, forced_table
from evaluation.data.validate import validate_files
from evaluation.errors import DataValidationError

KEY = bytes(range(32))  # test key, not secret
HEADER = ["episode_id", "personnummer", "municipality_code", "start_date", "legal_basis",
          "placement_type"]


def _episodes(n: int = 6) -> list[list[str]]:
    rng = np.random.default_rng(11)
    return [
        [f"E{i}", synthetic_personnummer(f"2010-0{i % 9 + 1}-15", "F", rng), "0180",
         f"2020-0{i % 9 + 1}-01", "SOL", "FH"]
        for i in range(n)
    ]


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture
def workbook(tmp_path):
    """extract.xlsx: a title row and a blank row above the header (row 3); episode E2 (sheet
    row 6) has an impossible start date, E1 (row 5) an invalid personnummer; its placement
    (sheet Placeringar, row 3) points at E2."""
    rows = _episodes()
    rows[2][3] = "2020-02-30"
    rows[1][1] = rows[1][1][:-1] + str((int(rows[1][1][-1]) + 1) % 10)  # wrong check digit
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Episoder"
    ws.append(["Uttag från verksamhetssystemet"])
    ws.append([])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    pl = wb.create_sheet("Placeringar")
    pl.append(["episode_id", "placement_seq", "start_date", "placement_type"])
    pl.append(["E0", 1, "2020-01-01", "FH"])
    pl.append(["E2", 1, "2020-03-01", "FH"])
    path = tmp_path / "raw" / "extract.xlsx"
    path.parent.mkdir()
    wb.save(path)
    return path


def test_quarantine_after_pseudonymise_names_the_users_sheet_and_row(workbook, tmp_path):
    pseudonymise_files([workbook], KEY, tmp_path / "ps")
    inter = _read(tmp_path / "ps" / "episodes.csv")
    assert list(inter.columns[-2:]) == list(PROVENANCE_COLUMNS)
    summary = validate_files(
        [tmp_path / "ps" / "episodes.csv", tmp_path / "ps" / "placements.csv"], tmp_path / "v"
    )
    q = _read(tmp_path / "v" / "quarantine.csv")
    ep = q[q["table"] == "episodes"]
    assert ep[["source_file", "row", "rule"]].values.tolist() == [
        ["extract.xlsx[episodes]", "6", "type_date"]
    ]
    pl = q[q["table"] == "placements"]
    assert pl[["source_file", "row", "rule"]].values.tolist() == [
        ["extract.xlsx[placements]", "3", "episode_exists"]
    ]
    assert "extract.xlsx[episodes], rad 6" in pl["message_sv"].iloc[0]
    assert "extract.xlsx[episodes], row 6" in pl["message_en"].iloc[0]
    problems = _read(tmp_path / "v" / "problems.csv")
    assert set(problems["source_file"]) == {"extract.xlsx[episodes]", "extract.xlsx[placements]"}
    assert summary.ignored == {}
    for t in ("episodes", "placements"):
        assert not set(PROVENANCE_COLUMNS) & set(_read(tmp_path / "v" / f"{t}.csv").columns)


def test_row_numbers_survive_a_csv_extract_with_rows_left_in_quarantine(tmp_path):
    rows = _episodes()
    rows[1][1] = "not a number"        # line 4: pseudonymise quarantines it
    rows[3][4] = "LVU99"               # line 6: validate quarantines it
    raw = tmp_path / "raw" / "Episoder 2024.csv"
    raw.parent.mkdir()
    with open(raw, "w", encoding="utf-8", newline="") as fh:
        fh.write("Placeringsuttag 2024\n")
        w = csv.writer(fh, delimiter=";")
        w.writerow(HEADER)
        w.writerows(rows)
    assert main(["pseudonymise", str(raw), "--key-file", str(_key(tmp_path)),
                 "--out", str(tmp_path / "ps")]) == 0
    assert _read(tmp_path / "ps" / "quarantine.csv")["row"].tolist() == ["4"]
    assert main(["validate", str(tmp_path / "ps" / "episodes.csv"),
                 "--out", str(tmp_path / "v")]) == 0
    q = _read(tmp_path / "v" / "quarantine.csv")
    assert q[["source_file", "row", "rule"]].values.tolist() == [
        ["Episoder 2024.csv", "6", "code"]
    ]


def _key(tmp_path):
    key = tmp_path / "keys" / "k.key"
    key.parent.mkdir()
    key.write_text(bytes(range(3, 35)).hex())
    key.chmod(0o600)
    return key


def test_unusable_origin_cells_fall_back_to_the_files_own_line(tmp_path):
    rows = _episodes(3)
    pseudo = tmp_path / "ps"
    raw = tmp_path / "raw" / "episoder_uttag.csv"
    raw.parent.mkdir()
    pd.DataFrame(rows, columns=HEADER).to_csv(raw, index=False)
    pseudonymise_files([raw], KEY, pseudo)
    inter = _read(pseudo / "episodes.csv")
    inter.loc[0, "source_row"] = "x"
    inter.loc[1, "start_date"] = "never"
    inter.loc[0, "start_date"] = "never"
    inter.to_csv(pseudo / "episodes.csv", index=False)
    validate_files([pseudo / "episodes.csv"], tmp_path / "v")
    q = _read(tmp_path / "v" / "quarantine.csv")
    assert q[["source_file", "row"]].values.tolist() == [
        ["episodes.csv", "2"],   # the intermediate file's own line: its origin is unreadable
        ["episoder_uttag.csv", "3"],   # the raw extract's row 3
    ]


@pytest.mark.parametrize("how", ["keyword", "context"])
def test_the_table_is_given_directly_or_by_the_context_variable(tmp_path, how):
    raw = tmp_path / "raw" / "uttag.csv"   # a name that names no table
    raw.parent.mkdir()
    pd.DataFrame(_episodes(3), columns=HEADER).to_csv(raw, index=False)
    if how == "keyword":
        pseudonymise_files([raw], KEY, tmp_path / "ps", table="episoder")
        summary = validate_files([tmp_path / "ps" / "episodes.csv"], tmp_path / "v",
                                 table="episodes")
    else:
        with forced_table("episoder"):
            pseudonymise_files([raw], KEY, tmp_path / "ps")
            summary = validate_files([tmp_path / "ps" / "episodes.csv"], tmp_path / "v")
    assert summary.tables["episodes"] == {"read": 3, "accepted": 3, "quarantined": 0}
    with pytest.raises(DataValidationError, match="okänd tabell 'nope'"):
        validate_files([raw], tmp_path / "v2", table="nope")
