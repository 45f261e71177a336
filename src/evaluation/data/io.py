"""Read municipal export files (CSV, Excel, Parquet, SPSS) into raw tables of strings.

Every cell is kept as the text that was in the file (``NaN`` for an empty or blank cell) so
that :mod:`evaluation.data.validate` sees the original values. Only problems that make a whole file
unusable raise :class:`~evaluation.errors.DataValidationError`; row-level problems are left to
validation.
"""

from __future__ import annotations

import csv
import datetime as _dt
import difflib
import io as _io
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.safe_text import mask_identity_numbers
from evaluation.errors import DataValidationError

__all__ = ["SUPPORTED_EXTENSIONS", "RawTable", "normalise_header", "read_table", "read_tables"]

SUPPORTED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".parquet", ".pq", ".sav")
DELIMITERS = (";", ",", "\t")
# Columns that a raw extract may lack because pseudonymisation derives them from personnummer.
PERSONNUMMER = "personnummer"

_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


# Columns of every quarantine table (validation and pseudonymisation write the same shape).
QUARANTINE_COLUMNS = [
    "source_file",
    "row",
    "table",
    "column",
    "value",
    "rule",
    "message_sv",
    "message_en",
]


@dataclass
class RawTable:
    """One table as read from a file, before validation.

    Attributes
    ----------
    table : str
        Dictionary table name (``episodes``, ``placements``, ``followups``, ``referrals``).
    data : pandas.DataFrame
        Dictionary columns only (normalised names), all cells ``str`` or ``NaN``; the index is
        0..n-1.
    source : str
        File name (with sheet as ``file.xlsx[sheet]`` for Excel).
    row_numbers : list of int
        Spreadsheet-style row number of each data row (header = 1, first data row = 2; for
        Excel the sheet row; for CSV the line where the row starts, so a quoted field with a
        line break moves the numbers of the rows after it as in a text editor).
    encoding : str or None
        Text encoding detected (CSV only).
    delimiter : str or None
        Delimiter detected (CSV only).
    extra_columns : list of str
        Normalised names of columns not in the dictionary; they are dropped from ``data``.
    field_counts : dict of int to int
        Data rows (by position) whose number of fields differs from the header (CSV only),
        mapped to the number of fields found. Validation quarantines them (rule
        ``field_count``).
    row_problems : dict of int to tuple of str
        Data rows (by position) the reader could not take at face value, mapped to
        ``(rule, message_sv, message_en)``: ``unclosed_quote`` (CSV line with a quote that is
        never closed; the lines after it are read on their own, not swallowed into one field).
        Each such row is also listed in ``field_counts`` so that it is quarantined.
    """

    table: str
    data: pd.DataFrame
    source: str
    row_numbers: list[int]
    encoding: str | None = None
    delimiter: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    field_counts: dict[int, int] = field(default_factory=dict)
    row_problems: dict[int, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of data rows read."""
        return len(self.data)


def normalise_header(name: Any) -> str:
    """Normalise a column header: strip, lower-case, runs of whitespace to ``_``.

    Parameters
    ----------
    name : object
        Header as read.

    Returns
    -------
    str
    """
    text = "" if name is None else str(name)
    text = text.replace("\ufeff", "").strip().lower()
    return re.sub(r"\s+", "_", text)


def _header_map(table: str) -> dict[str, str]:
    """Map normalised names and Swedish/English labels to dictionary column names."""
    cols = load_dictionary().table(table)
    out: dict[str, str] = {}
    for c in cols.values():
        out[normalise_header(c.name)] = c.name
    for c in cols.values():
        for lang in ("sv", "en"):
            out.setdefault(normalise_header(c.label[lang]), c.name)
    return out


def _infer_table(stem: str, source: str) -> str:
    s = stem.lower()
    if s in TABLES:
        return s
    found = [t for t in TABLES if t in s]
    if len(found) == 1:
        return found[0]
    what = "several table names" if found else "no table name"
    raise DataValidationError(
        f"{source}: cannot tell which table the file holds ({what} in the file name). "
        f"Name the file after a table ({', '.join(TABLES)}) or pass table=..."
    )


def _cell_to_str(v: Any) -> Any:
    """Convert a cell read by a typed reader to its text form (``NaN`` when missing)."""
    if v is None:
        return np.nan
    if isinstance(v, float):
        if math.isnan(v):
            return np.nan
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (np.integer, int)):
        return str(int(v))
    if isinstance(v, np.floating):
        return _cell_to_str(float(v))
    if v is pd.NaT:
        return np.nan
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.strftime("%Y-%m-%d")
        return v.isoformat(sep=" ")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    try:
        if pd.isna(v):
            return np.nan
    except (TypeError, ValueError):
        pass
    return str(v)


def _is_blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return isinstance(v, str) and v.strip() == ""


def _blank_to_nan(v: Any) -> Any:
    if isinstance(v, str) and v.strip() == "":
        return np.nan
    return v


#: At most this many names are listed in a message (then "and N more"), each cut to
#: ``_NAME_CHARS`` characters, so that a header of a million names gives a short message.
_LIST_NAMES = 20
_NAME_CHARS = 60
#: "Did you mean" compares a missing column with at most this many names found.
_CLOSE_CANDIDATES = 1000


def _short_name(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _name_list(names: list[str], *, quote: bool = True, limit: int = _LIST_NAMES) -> str:
    """``'a', 'b', ... and 123 more``: a bounded list of (shortened) names for a message."""
    shown = [_short_name(n) for n in names[:limit]]
    text = ", ".join(repr(n) if quote else n for n in shown)
    if len(names) > limit:
        text += f" and {len(names) - limit} more"
    return text


def _line_list(lines: list[int], limit: int = 10) -> str:
    """``12, 40, 41 and 3 more``: a bounded list of line numbers."""
    text = ", ".join(str(n) for n in lines[:limit])
    return text + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def _refuse_nul_cells(rows: list[list[Any]], row_numbers: list[int], source: str) -> None:
    """Refuse a table read by a typed reader (Excel, Parquet, SPSS) with a NUL character."""
    bad = [
        n for r, n in zip(rows, row_numbers) if any(isinstance(c, str) and "\x00" in c for c in r)
    ]
    if bad:
        raise DataValidationError(
            f"{source}: NUL character (a zero byte) in row(s) {_line_list(bad)}; it is never "
            "part of a valid value and usually means a damaged file. Remove it and try again."
        )


def _build(
    table: str,
    headers: list[Any],
    rows: list[list[Any]],
    row_numbers: list[int],
    source: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    field_counts: dict[int, int] | None = None,
    row_problems: dict[int, tuple[str, str, str]] | None = None,
    check_nul: bool = True,
) -> RawTable:
    """Check headers, map them to dictionary names and assemble the RawTable."""
    if table not in TABLES:
        raise DataValidationError(
            f"{source}: unknown table {table!r}; the dictionary defines: {', '.join(TABLES)}."
        )
    if check_nul:
        _refuse_nul_cells(rows, row_numbers, source)
    norm = [normalise_header(h) for h in headers]
    # Drop trailing unnamed empty columns (common in spreadsheet exports).
    while (
        norm
        and norm[-1] == ""
        and all(len(r) < len(norm) or _is_blank(r[len(norm) - 1]) for r in rows)
    ):
        norm.pop()
    hmap = _header_map(table)
    mapped = [hmap.get(h, h) for h in norm]
    seen: dict[str, int] = {}
    dups = []
    for h, m in zip(norm, mapped):
        if m and m in seen and m not in dups:
            dups.append(m)
        seen[m] = seen.get(m, 0) + 1
    if dups:
        raise DataValidationError(
            f"{source}: duplicated column name(s) {_name_list(dups)} "
            "(after normalising case, spaces and labels); each column must appear once."
        )
    dict_cols = load_dictionary().table(table)
    extra = [m for m in mapped if m not in dict_cols]
    present = [m for m in mapped if m in dict_cols]
    required = load_dictionary().required_columns(table)
    if PERSONNUMMER in present:
        required = [c for c in required if dict_cols[c].source != "derived"]
    missing = [c for c in required if c not in present]
    if missing:
        parts = []
        candidates = [_short_name(c) for c in extra[:_CLOSE_CANDIDATES]]
        for m in missing:
            close = difflib.get_close_matches(m, candidates, n=1, cutoff=0.6)
            parts.append(f"{m} (did you mean {close[0]!r}?)" if close else m)
        raise DataValidationError(
            f"{source}: table {table!r} lacks required column(s): "
            f"{_name_list(parts, quote=False)}. "
            f"Columns found ({len(norm)}): "
            f"{_name_list([mask_identity_numbers(c) for c in norm]) or 'none'}."
        )
    idx = [i for i, m in enumerate(mapped) if m in dict_cols]
    width = len(norm)
    records = []
    for r in rows:
        r = list(r) + [np.nan] * max(0, width - len(r))
        records.append([_blank_to_nan(r[i]) for i in idx])
    data = pd.DataFrame(records, columns=[mapped[i] for i in idx], dtype=object)
    if data.empty:
        data = pd.DataFrame({c: pd.Series([], dtype=object) for c in present})
    return RawTable(
        table=table,
        data=data.reset_index(drop=True),
        source=source,
        row_numbers=list(row_numbers),
        encoding=encoding,
        delimiter=delimiter,
        extra_columns=extra,
        field_counts=dict(field_counts or {}),
        row_problems=dict(row_problems or {}),
    )


def _refuse_nul_bytes(raw: bytes, source: str) -> None:
    """Refuse a text file with a NUL byte anywhere (not only in its first block)."""
    first = raw.find(b"\x00")
    if first < 0:
        return
    lines: list[int] = []
    pos, line, counted = first, 1, 0
    while pos >= 0 and len(lines) <= 10:
        line += raw.count(b"\n", counted, pos)
        counted = pos
        lines.append(line)
        newline = raw.find(b"\n", pos)  # the next NUL on another line
        pos = -1 if newline < 0 else raw.find(b"\x00", newline + 1)
    more = " and more" if len(lines) > 10 else ""
    raise DataValidationError(
        f"{source}: the file contains NUL bytes (zero bytes) on line(s) "
        f"{_line_list(lines[:10])}{more}; a NUL byte is never part of CSV text and usually "
        "means a damaged copy or an export in another encoding. Remove them or export the "
        "file again (as CSV in UTF-8)."
    )


def _decode(raw: bytes, source: str) -> tuple[str, str]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:65536]:
        raise DataValidationError(
            f"{source}: the file is binary or UTF-16 encoded and cannot be read as CSV. "
            "Save it as CSV in UTF-8 (or Windows-1252)."
        )
    _refuse_nul_bytes(raw, source)
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"{source}: cannot decode the file as UTF-8 or Windows-1252 (byte {exc.start}). "
            "Save it as CSV in UTF-8."
        ) from None
    return text, "cp1252"


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    if not sample:
        return False
    ctrl = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return ctrl > max(2, len(sample) // 100)


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    # Ignore quoted parts of the header.
    first = re.sub(r'"[^"]*"', "", first)
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _csv_records(text: str, delimiter: str) -> tuple[list[list[str]], list[int] | None, int]:
    """Parse CSV text: ``(records, starts, n_lines)``.

    ``starts[i]`` is the physical line (1-based) where record ``i`` starts; ``None`` when every
    record is one line (then record ``i`` is line ``i + 1``), which is checked by comparing the
    number of records with the number of lines the parser consumed.
    """
    reader = csv.reader(_io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records = list(reader)
    if len(records) == reader.line_num:
        return records, None, reader.line_num
    # Some record spans several lines (a quoted field with a line break): track the lines.
    reader = csv.reader(_io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records, starts, prev = [], [], 0
    for rec in reader:
        records.append(rec)
        starts.append(prev + 1)
        prev = reader.line_num
    return records, starts, reader.line_num


def _swallows_rows(rec: list[str], delimiter: str, width: int) -> bool:
    """True when a multi-line record holds something that looks like further rows: a field
    whose continuation lines carry many delimiters (a quote that was never closed)."""
    threshold = max(2, width // 2)
    for cell in rec:
        if "\n" not in cell and "\r" not in cell:
            continue
        for part in re.split(r"\r\n|\r|\n", cell)[1:]:
            if part.count(delimiter) >= threshold:
                return True
    return False


def _unclosed_quote_messages(line: int, first: int, last: int) -> tuple[str, str, str]:
    span_sv = f" (raderna {first}–{last} lästes en och en)" if last > first else ""
    span_en = f" (lines {first}–{last} were read one by one)" if last > first else ""
    return (
        "unclosed_quote",
        f'Rad {line} har ett citattecken (") som aldrig stängs; raden kan inte läsas säkert{span_sv}',
        f'Line {line} has a quote (") that is never closed; the line cannot be read safely{span_en}',
    )


def _read_csv(path: Path, table: str, source: str) -> RawTable:
    raw = path.read_bytes()
    if len(raw) == 0:
        raise DataValidationError(f"{source}: the file is empty (0 bytes).")
    text, encoding = _decode(raw, source)
    del raw
    if _looks_binary(text):
        raise DataValidationError(
            f"{source}: the file contains binary data (control characters), not CSV text."
        )
    if text.strip() == "":
        raise DataValidationError(f"{source}: the file is empty (no header line).")
    delimiter = _sniff_delimiter(text)
    old = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        records, starts, n_lines = _csv_records(text, delimiter)
    except csv.Error as exc:
        raise DataValidationError(f"{source}: cannot parse the file as CSV: {exc}.") from None
    finally:
        csv.field_size_limit(old)

    def start(i: int) -> int:
        return i + 1 if starts is None else starts[i]

    def end(i: int) -> int:
        return start(i + 1) - 1 if i + 1 < len(records) else n_lines

    header_pos = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if header_pos is None:
        raise DataValidationError(f"{source}: the file is empty (no header line).")
    headers = records[header_pos]
    width = len(headers)
    if starts is not None and end(header_pos) > start(header_pos):
        raise DataValidationError(
            f'{source}: the header (line {start(header_pos)}) has a quote (") that is not '
            f"closed on its line, so lines {start(header_pos)}–{end(header_pos)} would be read "
            "as column names. Close or remove the quote and try again."
        )
    lines: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    counts: dict[int, int] = {}
    problems: dict[int, tuple[str, str, str]] = {}

    def add(r: list[str], line: int) -> None:
        if not any(c.strip() for c in r):
            return
        if len(r) != width:
            extra = r[width:]
            if len(r) < width or any(c.strip() for c in extra):
                counts[len(rows)] = len(r)
        rows.append(r)
        numbers.append(line)

    for i in range(header_pos + 1, len(records)):
        r = records[i]
        if starts is None or end(i) == start(i):
            if i == len(records) - 1 and any("\n" in c or "\r" in c for c in r):
                # A quote opened on the last line and never closed (the line break is inside).
                problems[len(rows)] = _unclosed_quote_messages(start(i), start(i), start(i))
                counts[len(rows)] = len(r)
                rows.append([c.rstrip("\r\n") for c in r])
                numbers.append(start(i))
                continue
            add(r, start(i))
            continue
        if len(r) == width and not _swallows_rows(r, delimiter, width):
            add(r, start(i))  # a quoted field with a line break: one record
            continue
        # A quote that is never closed swallowed the lines after it: read each physical line on
        # its own and quarantine those whose quotes do not balance.
        if lines is None:
            lines = _io.StringIO(text, newline="").readlines()
        first, last = start(i), end(i)
        for line in range(first, last + 1):
            phys = lines[line - 1]
            rec = next(csv.reader([phys], delimiter=delimiter, strict=False), [])
            rec = [c.rstrip("\r\n") for c in rec]
            if phys.count('"') % 2 == 1 and phys.strip():
                problems[len(rows)] = _unclosed_quote_messages(line, first, last)
                counts[len(rows)] = len(rec)
                rows.append(rec)
                numbers.append(line)
            else:
                add(rec, line)
    return _build(
        table,
        headers,
        rows,
        numbers,
        source,
        encoding=encoding,
        delimiter=delimiter,
        field_counts=counts,
        row_problems=problems,
        check_nul=False,
    )


def _frame_to_raw(df: pd.DataFrame, table: str, source: str) -> RawTable:
    headers = [str(c) for c in df.columns]
    rows = [[_cell_to_str(v) for v in rec] for rec in df.itertuples(index=False, name=None)]
    keep = [i for i, r in enumerate(rows) if not all(_is_blank(v) for v in r)]
    rows = [rows[i] for i in keep]
    return _build(table, headers, rows, [i + 2 for i in keep], source)


def _read_parquet(path: Path, table: str, source: str) -> RawTable:
    try:
        import pyarrow.parquet as pq

        t = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a fatal file problem
        raise DataValidationError(f"{source}: cannot read the file as Parquet: {exc}") from None
    names = t.column_names
    cols = {}
    for i, n in enumerate(names):
        cols[i] = t.column(i).to_pylist()
    n = t.num_rows
    rows = [[_cell_to_str(cols[j][i]) for j in range(len(names))] for i in range(n)]
    keep = [i for i, r in enumerate(rows) if not all(_is_blank(v) for v in r)]
    return _build(table, names, [rows[i] for i in keep], [i + 2 for i in keep], source)


def _read_sav(path: Path, table: str, source: str) -> RawTable:
    try:
        import pyreadstat

        df, _meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    except Exception as exc:  # noqa: BLE001
        raise DataValidationError(f"{source}: cannot read the file as SPSS .sav: {exc}") from None
    return _frame_to_raw(df, table, source)


def _xlsx_sheets(
    path: Path, source: str
) -> dict[str, tuple[list[Any], list[list[Any]], list[int]]]:
    """Read the sheets named after tables: {table: (headers, rows, sheet row numbers)}."""
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise DataValidationError(f"{source}: cannot read the file as Excel .xlsx: {exc}") from None
    titles: dict[str, list[str]] = {}
    for ws in wb.worksheets:
        titles.setdefault(ws.title.strip().lower(), []).append(ws.title)
    twice = {t: names for t, names in titles.items() if t in TABLES and len(names) > 1}
    if twice:
        wb.close()
        t, names = next(iter(twice.items()))
        raise DataValidationError(
            f"{source}: {len(names)} sheets hold table {t!r} ({_name_list(names)}); keep one "
            "sheet per table (move the rows into one sheet and delete or rename the other)."
        )
    out = {}
    try:
        for ws in wb.worksheets:
            name = ws.title.strip().lower()
            if name not in TABLES:
                continue
            # Never trust the sheet's own <dimension> record: read every row there is.
            ws.reset_dimensions()
            headers: list[Any] | None = None
            rows, numbers = [], []
            for rnum, rec in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_cell_to_str(v) for v in rec]
                if headers is None:
                    headers = ["" if isinstance(c, float) else c for c in cells]
                    continue
                if not any(isinstance(c, str) and c.strip() for c in cells):
                    continue
                rows.append(cells)
                numbers.append(rnum)
            out[name] = (headers or [], rows, numbers)
    finally:
        wb.close()
    return out


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"{p.name}: file not found ({p}).")
    if not p.is_file():
        raise DataValidationError(f"{p.name}: not a file ({p}).")
    if p.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise DataValidationError(
            f"{p.name}: unsupported file type {p.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    if p.stat().st_size == 0:
        raise DataValidationError(f"{p.name}: the file is empty (0 bytes).")
    return p


def read_table(path: str | Path, table: str | None = None) -> RawTable:
    """Read one table from a file.

    Parameters
    ----------
    path : str or Path
        CSV (``.csv``, ``.txt``, ``.tsv``; UTF-8 with or without BOM or Windows-1252;
        ``;``, ``,`` or tab delimited), Excel ``.xlsx`` (sheet named after the table),
        Parquet or SPSS ``.sav``.
    table : str, optional
        Table name; inferred from the file name (e.g. ``kommun_episodes_2024.csv``) when
        omitted. For an Excel file with a single table sheet, that sheet is used.

    Returns
    -------
    RawTable

    Raises
    ------
    DataValidationError
        If the file is missing, empty, unsupported, binary or undecodable, the table cannot be
        identified, a column name is duplicated or required columns are missing (listed, each
        with the closest column name found; every list in a message is cut after 20 names), a
        text file holds a NUL byte anywhere (or a typed reader returns a NUL character), the
        CSV header has a quote that is not closed on its line, or an Excel workbook has two
        sheets for one table (e.g. ``"Episodes "`` and ``"EPISODES"``). A header-only file is a
        valid empty table.

    Notes
    -----
    Nothing a file says about its own size is trusted: an Excel sheet's ``<dimension>`` record
    is ignored and every row there is read. A CSV line with a quote that is never closed does
    not swallow the lines after it: those are read one by one and the line itself is listed in
    ``row_problems`` (rule ``unclosed_quote``) and ``field_counts``, so it is quarantined.

    Examples
    --------
    >>> raw = read_table("episodes.csv")  # doctest: +SKIP
    >>> raw.data.columns[:2].tolist()  # doctest: +SKIP
    ['episode_id', 'child_id']
    """
    p = _check_path(path)
    source = p.name
    ext = p.suffix.lower()
    if table is not None and table not in TABLES:
        raise DataValidationError(
            f"{source}: unknown table {table!r}; the dictionary defines: {', '.join(TABLES)}."
        )
    if ext == ".xlsx":
        sheets = _xlsx_sheets(p, source)
        if table is None:
            if len(sheets) == 1:
                table = next(iter(sheets))
            else:
                table = _infer_table(p.stem, source)
        if table not in sheets:
            raise DataValidationError(
                f"{source}: no sheet named {table!r}; sheets must be named after the tables "
                f"({', '.join(TABLES)})."
            )
        headers, rows, numbers = sheets[table]
        return _build(table, headers, rows, numbers, f"{source}[{table}]")
    if table is None:
        table = _infer_table(p.stem, source)
    if ext in (".csv", ".txt", ".tsv"):
        return _read_csv(p, table, source)
    if ext in (".parquet", ".pq"):
        return _read_parquet(p, table, source)
    return _read_sav(p, table, source)


def read_tables(paths: str | Path | Iterable[str | Path]) -> dict[str, RawTable]:
    """Read several files (an Excel file gives every table sheet it has).

    Parameters
    ----------
    paths : path or iterable of paths
        Files to read; the table of each non-Excel file is inferred from its name.

    Returns
    -------
    dict of str to RawTable
        Keyed by table name.

    Raises
    ------
    DataValidationError
        As :func:`read_table`; also when a table is given twice or an Excel file has no
        table sheet.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, RawTable] = {}

    def add(raw: RawTable) -> None:
        if raw.table in out:
            raise DataValidationError(
                f"table {raw.table!r} given twice ({out[raw.table].source} and {raw.source}); "
                "combine the files first."
            )
        out[raw.table] = raw

    for path in paths:
        p = _check_path(path)
        if p.suffix.lower() == ".xlsx":
            sheets = _xlsx_sheets(p, p.name)
            if not sheets:
                raise DataValidationError(
                    f"{p.name}: no sheet named after a table ({', '.join(TABLES)})."
                )
            for t, (headers, rows, numbers) in sheets.items():
                add(_build(t, headers, rows, numbers, f"{p.name}[{t}]"))
        else:
            add(read_table(p))
    return out
