"""What a municipal user stumbles on when reading files (issue 10): Swedish table names,
``--table``, title rows above the header, ``.xls`` files and columns the dictionary lacks."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from evaluation.cli import main
from evaluation.data.io import read_table, read_tables
from evaluation.data.rawtable import forced_table, resolve_table_name
from evaluation.errors import DataValidationError
from tests.data.test_malformed_corpus import baseline


def write_rows(path: Path, rows: list[dict[str, str]], above: list[list[str]] = ()) -> Path:
    header = list(rows[0])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        for r in above:
            w.writerow(r)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("Placeringar 2024.csv", "placements"),
        ("placering.csv", "placements"),
        ("episoder.csv", "episodes"),
        ("Insatser 2023.csv", "episodes"),
        ("uppföljningar.csv", "followups"),
        ("Uppföljning_kommun.csv", "followups"),
        ("UPPFOLJNINGAR.csv", "followups"),
        ("aktualiseringar.csv", "referrals"),
        ("Aktualisering 2024.txt", "referrals"),
    ],
)
def test_swedish_table_names_in_file_names_are_recognised(tmp_path, name, table):
    raw = read_table(write_rows(tmp_path / name, baseline()[table]))
    assert raw.table == table
    assert raw.source == name


def test_swedish_table_names_resolve_whatever_the_case_and_diacritics():
    assert resolve_table_name("Uppföljningar") == "followups"
    assert resolve_table_name("UPPFOLJNING") == "followups"
    assert resolve_table_name("placements") == "placements"
    assert resolve_table_name("barn") is None


def test_an_unnamed_file_says_to_use_the_table_option_in_both_languages(tmp_path):
    path = write_rows(tmp_path / "export_2024.csv", baseline()["placements"])
    with pytest.raises(DataValidationError) as err:
        read_table(path)
    text = str(err.value)
    assert "export_2024.csv" in text and "--table" in text and "table=" not in text
    assert "går inte att avgöra vilken tabell" in text and "cannot tell which table" in text


def test_the_table_option_reads_every_file_as_the_given_table(tmp_path):
    path = write_rows(tmp_path / "export_2024.csv", baseline()["placements"])
    with forced_table("placeringar"):
        raws = read_tables([path])
    assert list(raws) == ["placements"]
    assert read_tables([path], table="placements")["placements"].n_rows == len(
        baseline()["placements"]
    )


def test_validate_accepts_the_table_option_on_the_command_line(tmp_path, capsys):
    inp = tmp_path / "in"
    inp.mkdir()
    paths = [write_rows(inp / f"{t}.csv", rows) for t, rows in baseline().items()]
    odd = inp / "export_2024.csv"
    paths[1].rename(odd)  # placements under a name that says nothing
    others = [p for p in paths if p.exists()]
    out = tmp_path / "out"
    assert main(["validate", str(odd), "--table", "placements", "--out", str(out)]) == 0
    assert (out / "placements.csv").exists()
    assert main(["validate", *map(str, others), str(odd), "--out", str(out / "x")]) == 1
    assert "--table" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate", "pseudonymise"])
def test_an_unknown_table_option_is_refused_naming_the_known_tables(tmp_path, capsys, command):
    path = write_rows(tmp_path / "x.csv", baseline()["placements"])
    with pytest.raises(SystemExit) as exit_:
        main([command, str(path), "--table", "children", "--out", str(tmp_path / "o")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "okänd tabell 'children'" in err and "unknown table 'children'" in err
    assert "placements" in err


def test_title_rows_above_the_header_are_skipped_and_row_numbers_still_point_at_the_file(
    tmp_path,
):
    rows = baseline()["placements"]
    above = [["Placeringar 2024, Exempelkommun"], ["Uttag 2025-01-31"], []]
    raw = read_table(write_rows(tmp_path / "placeringar.csv", rows, above=above))
    assert raw.header_row == 4 and raw.skipped_rows == 3
    assert raw.n_rows == len(rows)
    assert raw.row_numbers[0] == 5
    assert raw.extra_columns == []


def test_title_rows_above_the_header_are_skipped_in_an_excel_sheet(tmp_path):
    rows = baseline()["episodes"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Episoder"
    ws.append(["Rapport: insatser 2024"])
    ws.append([])
    ws.append(list(rows[0]))
    for r in rows:
        ws.append(list(r.values()))
    wb.save(tmp_path / "export.xlsx")
    raws = read_tables([tmp_path / "export.xlsx"])
    raw = raws["episodes"]
    assert raw.header_row == 3 and raw.skipped_rows == 2
    assert raw.row_numbers[0] == 4 and raw.n_rows == len(rows)


def test_a_header_not_found_says_to_delete_the_title_rows(tmp_path):
    with open(tmp_path / "placeringar.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("Placeringar 2024\n" + "\n".join(f"rad {i};x;y" for i in range(12)))
    with pytest.raises(DataValidationError) as err:
        read_table(tmp_path / "placeringar.csv")
    text = str(err.value)
    assert "placeringar.csv" in text and "Row 1" in text and "Rad 1" in text
    assert "ta bort dem" in text and "delete them" in text


def test_an_xls_file_says_to_save_it_as_xlsx_in_excel(tmp_path):
    path = tmp_path / "Placeringar.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(DataValidationError) as err:
        read_table(path)
    text = str(err.value)
    assert "Placeringar.xls" in text
    assert "Spara som" in text and "Excel-arbetsbok (*.xlsx)" in text
    assert "Save As" in text and ".xlsx" in text


def test_an_old_excel_file_renamed_to_xlsx_says_to_save_it_as_xlsx(tmp_path):
    path = tmp_path / "placements.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(DataValidationError, match=r"Save As > Excel Workbook"):
        read_table(path)


def test_a_column_the_user_added_is_recorded_and_said_to_be_ignored(tmp_path):
    rows = [{**r, "Anteckning": "ring tillbaka"} for r in baseline()["placements"]]
    raw = read_table(write_rows(tmp_path / "placeringar.csv", rows))
    assert raw.extra_columns == ["anteckning"]
    assert "Anteckning" not in raw.data.columns and "anteckning" not in raw.data.columns
    sv, en = raw.ignored_columns_messages()
    assert "placeringar.csv" in sv and "'anteckning'" in sv and "lästes inte in" in sv
    assert "placeringar.csv" in en and "'anteckning'" in en and "ignored" in en
    assert "header row 1" in en and "Rename" in en


def test_no_ignored_column_message_when_every_column_is_in_the_dictionary(tmp_path):
    raw = read_table(write_rows(tmp_path / "placeringar.csv", baseline()["placements"]))
    assert raw.ignored_columns_messages() is None


def test_known_table_names_are_the_dictionary_tables():
    for t in ("episodes", "placements", "followups", "referrals"):
        assert resolve_table_name(t) == t


def test_pseudonymise_reads_a_raw_extract_with_title_rows_and_the_table_option(tmp_path, capsys):
    from evaluation.data import synth

    synth.write(synth.generate(n_children=30, n_municipalities=2, seed=3), tmp_path / "s", raw=True)
    raw_files = sorted((tmp_path / "s" / "raw").glob("*.csv"))
    episodes = next(f for f in raw_files if "episod" in f.name.lower())
    titled = tmp_path / "export.csv"  # a Windows-1252 export, as the raw extract is
    titled.write_bytes(b"Utdrag ur verksamhetssystemet\r\n\r\n" + episodes.read_bytes())
    key = tmp_path / "k.key"
    assert main(["keygen", str(key)]) == 0
    out = tmp_path / "ps"
    code = main(
        ["pseudonymise", str(titled), "--table", "episoder", "--key-file", str(key),
         "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "episodes.csv").exists()
