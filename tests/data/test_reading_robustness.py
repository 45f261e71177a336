"""Reading never loses rows without a word (issue 10, "Rows lost without a word").

Each case builds a damaged file and checks that every data row of the file is accounted for:
``accepted + quarantined == read == physical data rows``, or that the file is refused with a
message saying why. The files are episodes exports of 342 synthetic rows (31 columns).
"""

from __future__ import annotations

import functools
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evaluation.data.io import read_table, read_tables
from evaluation.data.validate import validate_files
from evaluation.errors import DataValidationError

N_ROWS = 342


@functools.cache
def _episode_lines() -> tuple[str, ...]:
    """Header and 342 valid episode lines of a synthetic export (comma separated)."""
    import tempfile

    from evaluation.data import synth

    data = synth.generate(n_children=420, n_municipalities=2, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        synth.write(data, Path(tmp))
        lines = (Path(tmp) / "episodes.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) > N_ROWS
    return tuple(lines[: N_ROWS + 1])


def episode_lines() -> list[str]:
    return list(_episode_lines())


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[str]]) -> Path:
    """A workbook with one sheet per ``{title: csv lines}`` (cells as text)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, lines in sheets.items():
        ws = wb.create_sheet(title)
        for line in lines:
            ws.append([c or None for c in line.split(",")])
    wb.save(path)
    return path


def falsify_dimension(path: Path, ref: str = "A1:AE11") -> None:
    """Rewrite the ``<dimension ref=...>`` record of every sheet inside the .xlsx zip."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), data
                )
                assert n == 1
            z.writestr(info, data)


def physical_data_rows(path: Path) -> int:
    """Non-blank lines after the header (what a user counts in a text editor)."""
    text = path.read_bytes().decode("utf-8")
    return sum(1 for line in text.splitlines()[1:] if line.strip())


def check_identity(paths: list[Path], out: Path, read: int) -> object:
    summary = validate_files(paths, out)
    res = summary.results["episodes"]
    assert res.n_read == read
    assert len(res.accepted) + len(res.quarantine) == res.n_read
    assert summary.n_accepted + summary.n_quarantined == summary.n_read == read
    return summary


# --------------------------------------------------------------------------- Excel


def test_xlsx_with_a_wrong_dimension_record_reads_every_row(tmp_path):
    p = write_xlsx(tmp_path / "episodes.xlsx", {"episodes": episode_lines()})
    falsify_dimension(p)
    with zipfile.ZipFile(p) as z:
        assert b'<dimension ref="A1:AE11"' in z.read("xl/worksheets/sheet1.xml")
    raw = read_table(p)
    assert raw.n_rows == N_ROWS
    assert raw.row_numbers == list(range(2, N_ROWS + 2))
    summary = check_identity([p], tmp_path / "out", N_ROWS)
    assert summary.n_accepted == N_ROWS


def test_xlsx_with_a_dimension_larger_than_the_data_reads_the_rows_there_are(tmp_path):
    p = write_xlsx(tmp_path / "episodes.xlsx", {"episodes": episode_lines()[:11]})
    falsify_dimension(p, "A1:AE5000")
    check_identity([p], tmp_path / "out", 10)


def test_xlsx_with_two_sheets_for_one_table_is_refused_naming_both(tmp_path):
    lines = episode_lines()
    p = write_xlsx(tmp_path / "mall.xlsx", {"Episodes ": lines[:11], "EPISODES": lines})
    for read in (read_table, read_tables):
        with pytest.raises(DataValidationError, match=r"2 sheets hold table 'episodes'") as e:
            read(p)
        assert "'Episodes '" in str(e.value) and "'EPISODES'" in str(e.value)
    with pytest.raises(DataValidationError, match="keep one sheet per table"):
        validate_files([p], tmp_path / "out")


def test_parquet_nul_character_in_a_cell_is_refused(tmp_path):
    import pandas as pd

    lines = episode_lines()[:11]
    df = pd.DataFrame([line.split(",") for line in lines[1:]], columns=lines[0].split(","))
    df.loc[3, "child_id"] = "abc\x00def"
    p = tmp_path / "episodes.parquet"
    df.to_parquet(p)
    with pytest.raises(DataValidationError, match=r"NUL character .* row\(s\) 5;"):
        validate_files([p], tmp_path / "out")


# --------------------------------------------------------------------------- CSV quotes


def _with_unclosed_quote(lines: list[str], line_no: int, column: int) -> list[str]:
    """Open a quote at the start of field ``column`` (0-based) of line ``line_no`` (1-based)."""
    out = list(lines)
    cells = out[line_no - 1].split(",")
    cells[column] = '"' + cells[column]
    out[line_no - 1] = ",".join(cells)
    return out


@pytest.mark.parametrize("column", [1, 30], ids=["second_column", "last_column"])
def test_csv_unclosed_quote_is_quarantined_and_swallows_no_row(tmp_path, column):
    p = write_csv(tmp_path / "episodes.csv", _with_unclosed_quote(episode_lines(), 12, column))
    raw = read_table(p)
    assert raw.n_rows == N_ROWS
    assert raw.row_numbers == list(range(2, N_ROWS + 2))
    pos = raw.row_numbers.index(12)
    rule, sv, en = raw.row_problems[pos]
    assert rule == "unclosed_quote"
    assert "Line 12" in en and f"lines 12–{N_ROWS + 1}" in en and "Rad 12" in sv
    assert list(raw.row_problems) == [pos]
    summary = check_identity([p], tmp_path / "out", physical_data_rows(p))
    q = summary.results["episodes"].quarantine
    assert q["row"].tolist() == [12]
    assert q["source_file"].tolist() == ["episodes.csv"]
    assert q["rule"].tolist() == ["unclosed_quote"]   # not "field_count": the reader's words
    assert "Line 12" in q["message_en"].iloc[0] and "Rad 12" in q["message_sv"].iloc[0]
    assert summary.n_accepted == N_ROWS - 1


def test_csv_unclosed_quote_later_balanced_by_another_quote_loses_no_row(tmp_path):
    lines = _with_unclosed_quote(episode_lines(), 12, 3)
    cells = lines[99].split(",")
    cells[2] = f'"{cells[2]}"'  # a properly quoted field further down flips the quote parity
    lines[99] = ",".join(cells)
    p = write_csv(tmp_path / "episodes.csv", lines)
    summary = check_identity([p], tmp_path / "out", N_ROWS)
    q = summary.results["episodes"].quarantine
    assert q["row"].tolist() == [12]


def test_csv_quoted_line_break_stays_one_row(tmp_path):
    # A column the user added for notes; one note spans two lines (properly quoted).
    lines = [line + "," for line in episode_lines()]
    lines[0] += "anteckning"
    lines[4] += '"Mål:\nskola, fritid; se plan, sid 2"'
    p = write_csv(tmp_path / "episodes.csv", lines)
    raw = read_table(p)
    assert raw.n_rows == N_ROWS and not raw.row_problems and not raw.field_counts
    assert raw.row_numbers[3:5] == [5, 7]  # the record after the two-line one starts on 7
    summary = check_identity([p], tmp_path / "out", N_ROWS)
    assert summary.n_quarantined == 0


def test_csv_unclosed_quote_in_the_header_is_refused(tmp_path):
    lines = episode_lines()
    lines[0] = lines[0].replace("sex", '"sex', 1)
    p = write_csv(tmp_path / "episodes.csv", lines)
    with pytest.raises(DataValidationError, match=r"the header \(line 1\) has a quote"):
        validate_files([p], tmp_path / "out")


# --------------------------------------------------------------------------- NUL bytes


def test_nul_byte_after_the_first_64_kib_is_refused_with_its_line(tmp_path):
    lines = episode_lines()
    assert len("\n".join(lines[:300])) > 65536
    child_id = lines[300].split(",")[1]
    lines[300] = lines[300].replace(child_id, child_id[:5] + "\x00" + child_id[5:])
    p = write_csv(tmp_path / "episodes.csv", lines)
    assert p.read_bytes().index(b"\x00") > 65536
    with pytest.raises(DataValidationError, match=r"NUL bytes .* line\(s\) 301;"):
        validate_files([p], tmp_path / "out")


def test_nul_bytes_on_many_lines_give_a_bounded_list(tmp_path):
    lines = episode_lines()
    lines[1:] = [line + "\x00" for line in lines[1:]]
    head = "\n".join(lines[:1])
    p = tmp_path / "episodes.csv"
    p.write_bytes((head + "\n" + "x," * 40000 + "\n" + "\n".join(lines[1:])).encode())
    with pytest.raises(DataValidationError) as e:
        read_table(p)
    msg = str(e.value)
    assert "line(s) 3, 4, 5" in msg and "more" in msg and len(msg) < 500


# --------------------------------------------------------------------------- bounded messages


def test_a_million_column_names_give_a_short_message(tmp_path):
    p = tmp_path / "episodes.csv"
    p.write_text(",".join(f"kolumn_{i}" for i in range(1_000_000)) + "\n1\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as e:
        read_table(p)
    msg = str(e.value)
    assert len(msg) < 2000, len(msg)
    assert "Columns found (1000000)" in msg and "and 999980 more" in msg


def test_long_and_duplicated_column_names_are_shortened(tmp_path):
    name = "x" * 100_000
    p = write_csv(tmp_path / "episodes.csv", [f"{episode_lines()[0]},{name},{name}"])
    with pytest.raises(DataValidationError, match="duplicated column name") as e:
        read_table(p)
    assert len(str(e.value)) < 500


# --------------------------------------------------------------------------- the identity


def test_clean_csv_and_xlsx_account_for_every_row(tmp_path):
    p = write_csv(tmp_path / "episodes.csv", episode_lines())
    check_identity([p], tmp_path / "csv", physical_data_rows(p))
    x = write_xlsx(tmp_path / "episodes.xlsx", {"episodes": episode_lines()})
    check_identity([x], tmp_path / "xlsx", N_ROWS)


def test_csv_unclosed_quote_on_the_last_line_is_quarantined(tmp_path):
    lines = _with_unclosed_quote(episode_lines(), N_ROWS + 1, 30)
    p = write_csv(tmp_path / "episodes.csv", lines)
    summary = check_identity([p], tmp_path / "out", N_ROWS)
    assert summary.results["episodes"].quarantine["row"].tolist() == [N_ROWS + 1]


def test_validate_refuses_to_write_into_the_folder_of_its_input(tmp_path):
    from evaluation.data.validate import validate_files
    from evaluation.errors import ParameterError

    p = write_csv(tmp_path / "episodes.csv", episode_lines())
    before = p.read_bytes()
    with pytest.raises(ParameterError, match="is the folder of the input files"):
        validate_files([p], tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ParameterError, match="is a file, not a folder"):
        validate_files([p], tmp_path / "afile")
    assert p.read_bytes() == before and not (tmp_path / "quarantine.csv").exists()


def test_pseudonymise_refuses_two_files_for_one_table_instead_of_overwriting(tmp_path):
    from evaluation.data.pseudonymise import pseudonymise_files
    from evaluation.errors import ParameterError

    a = write_csv(tmp_path / "episodes_2023.csv", episode_lines())
    b = write_csv(tmp_path / "episodes_2024.csv", episode_lines())
    with pytest.raises(ParameterError, match="is in two files .*combine them"):
        pseudonymise_files([a, b], bytes(range(32)), tmp_path / "out")
    assert not (tmp_path / "out").exists()   # nothing half-written


def test_a_column_the_user_added_is_named_as_not_read_in_problems_and_the_summary(tmp_path):
    from evaluation.data.validate import validate_files

    lines = episode_lines()
    lines = [lines[0] + ",Anteckning"] + [row + ",ring mamma" for row in lines[1:]]
    p = write_csv(tmp_path / "episodes.csv", lines)
    summary = validate_files([p], tmp_path / "out")
    assert summary.n_read == summary.n_accepted + summary.n_quarantined
    problems = pd.read_csv(tmp_path / "out" / "problems.csv", dtype=str)
    note = problems[problems["rule"] == "ignored_column"]
    assert len(note) == 1 and "anteckning" in note["column"].iloc[0].lower()
    assert "lästes inte in" in note["message_sv"].iloc[0]
    assert "not read" in summary.line() and "anteckning" in summary.line().lower()
    assert "ring mamma" not in (tmp_path / "out" / "episodes.csv").read_text()
