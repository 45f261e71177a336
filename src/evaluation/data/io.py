"""Read municipal export files (CSV, Excel, Parquet, SPSS) into raw tables of strings.

Every cell is kept as the text that was in the file (``NaN`` for an empty or blank cell) so
that :mod:`evaluation.data.validate` sees the original values. Only problems that make a whole file
unusable raise :class:`~evaluation.errors.DataValidationError`; row-level problems are left to
validation.
"""

from __future__ import annotations

import csv
import io as _io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.data.dictionary import TABLES
from evaluation.data.rawtable import (
    DELIMITERS,
    FIELD_LIMIT,
    FORCED_TABLE,
    HEADER_SEARCH_ROWS,
    SUPPORTED_EXTENSIONS,
    TABLE_ALIASES,
    RawTable,
    build,
    cell_to_str,
    check_table,
    find_header,
    fold,
    infer_table,
    is_blank,
    line_list,
    name_list,
    tables_named,
)
from evaluation.errors import DataValidationError

__all__ = ["read_table", "read_tables"]

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
        f"{line_list(lines[:10])}{more}; a NUL byte is never part of CSV text and usually "
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


def _choose_delimiter(text: str, table: str) -> str:
    """The delimiter sniffed from the first line, unless title rows hide it: then the first
    delimiter with which a header is found within the first rows."""
    sniffed = _sniff_delimiter(text)
    head = text[:65536]
    if len(text) > len(head) and "\n" in head:
        head = head[: head.rindex("\n")]
    old = csv.field_size_limit()
    csv.field_size_limit(FIELD_LIMIT)
    try:
        for d in (sniffed, *(d for d in DELIMITERS if d != sniffed)):
            try:
                recs = list(csv.reader(_io.StringIO(head, newline=""), delimiter=d, strict=False))
            except csv.Error:
                continue
            filled = [r for r in recs if any(c.strip() for c in r)][:HEADER_SEARCH_ROWS]
            if find_header(filled, table) is not None:
                return d
    finally:
        csv.field_size_limit(old)
    return sniffed


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
    delimiter = _choose_delimiter(text, table)
    old = csv.field_size_limit()
    csv.field_size_limit(FIELD_LIMIT)
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

    filled = [
        i
        for i, r in enumerate(records[: HEADER_SEARCH_ROWS * 4])
        if any(c.strip() for c in r)
    ][:HEADER_SEARCH_ROWS]
    if not filled:
        header_pos = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
        if header_pos is None:
            raise DataValidationError(f"{source}: the file is empty (no header line).")
    else:
        found = find_header([records[i] for i in filled], table)
        header_pos = filled[0 if found is None else found]
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
    return build(
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
        header_row=start(header_pos),
    )


def _frame_to_raw(df: pd.DataFrame, table: str, source: str) -> RawTable:
    headers = [str(c) for c in df.columns]
    rows = [[cell_to_str(v) for v in rec] for rec in df.itertuples(index=False, name=None)]
    keep = [i for i, r in enumerate(rows) if not all(is_blank(v) for v in r)]
    rows = [rows[i] for i in keep]
    return build(table, headers, rows, [i + 2 for i in keep], source)


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
    rows = [[cell_to_str(cols[j][i]) for j in range(len(names))] for i in range(n)]
    keep = [i for i, r in enumerate(rows) if not all(is_blank(v) for v in r)]
    return build(table, names, [rows[i] for i in keep], [i + 2 for i in keep], source)


def _read_sav(path: Path, table: str, source: str) -> RawTable:
    try:
        import pyreadstat

        df, _meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    except Exception as exc:  # noqa: BLE001
        raise DataValidationError(f"{source}: cannot read the file as SPSS .sav: {exc}") from None
    return _frame_to_raw(df, table, source)


def _sheet_table(title: str) -> str | None:
    """The table a sheet is named after (``Placeringar`` -> ``placements``), or ``None``.

    Only a sheet named exactly after a table counts (English or Swedish, singular or plural,
    any case or diacritics), so that an instruction sheet is never read as a table."""
    folded = re.sub(r"[\s_\-]+", "", fold(title))
    for t, words in TABLE_ALIASES.items():
        if folded == t or any(folded in (w, w + "ar", w + "er", w + "s") for w in words):
            return t
    return None


def _old_excel(source: str) -> DataValidationError:
    return DataValidationError(
        f"{source}: filen är i det gamla Excel-formatet (.xls), som inte kan läsas. Öppna den "
        "i Excel och välj Arkiv > Spara som > Excel-arbetsbok (*.xlsx), och ge sedan "
        f"programmet .xlsx-filen. / {source}: unsupported file type '.xls' (the old Excel "
        "format). Open it in Excel, choose File > Save As > Excel Workbook (*.xlsx), and give "
        "the .xlsx file instead."
    )


def _xlsx_sheets(
    path: Path, source: str, table: str | None = None
) -> dict[str, tuple[list[Any], list[list[Any]], list[int], int]]:
    """Read the sheets named after tables: {table: (headers, rows, sheet row numbers,
    header row)}.

    With ``table``, a workbook with one sheet is read as that table whatever the sheet's name.
    Without it, a workbook whose only sheet is not named after a table is read as the table the
    file name names (``Placeringar 2024.xlsx`` with sheet ``Blad1``)."""
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        with open(path, "rb") as fh:
            if fh.read(8) == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # an .xls renamed .xlsx
                raise _old_excel(source) from None
        raise DataValidationError(f"{source}: cannot read the file as Excel .xlsx: {exc}") from None
    titles: dict[str, list[str]] = {}
    for ws in wb.worksheets:
        t = _sheet_table(ws.title)
        if t is not None:
            titles.setdefault(t, []).append(ws.title)
    if not titles and len(wb.worksheets) == 1:
        only = wb.worksheets[0].title
        if table is not None:
            titles[table] = [only]
        else:
            named = tables_named(path.stem)
            if len(named) == 1:
                titles[named[0]] = [only]
    twice = {t: names for t, names in titles.items() if len(names) > 1}
    if twice:
        wb.close()
        t, names = next(iter(twice.items()))
        raise DataValidationError(
            f"{source}: {len(names)} sheets hold table {t!r} ({name_list(names)}); keep one "
            "sheet per table (move the rows into one sheet and delete or rename the other)."
        )
    by_title = {names[0]: t for t, names in titles.items()}
    out = {}
    try:
        for ws in wb.worksheets:
            name = by_title.get(ws.title)
            if name is None:
                continue
            # Never trust the sheet's own <dimension> record: read every row there is.
            ws.reset_dimensions()
            top: list[tuple[int, list[Any]]] = []  # non-empty rows until the header is known
            header_at: int | None = None
            headers: list[Any] = []
            rows, numbers = [], []
            for rnum, rec in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [cell_to_str(v) for v in rec]
                filled = any(isinstance(c, str) and c.strip() for c in cells)
                if header_at is None:
                    if filled:
                        top.append((rnum, cells))
                    if len(top) < HEADER_SEARCH_ROWS:
                        continue
                    header_at, headers, rows, numbers = _split_header(top, name)
                    continue
                if not filled:
                    continue
                rows.append(cells)
                numbers.append(rnum)
            if header_at is None:
                header_at, headers, rows, numbers = _split_header(top, name)
            out[name] = (headers, rows, numbers, header_at)
    finally:
        wb.close()
    return out


def _split_header(
    top: list[tuple[int, list[Any]]], table: str
) -> tuple[int, list[Any], list[list[Any]], list[int]]:
    """Split the first non-empty rows of a sheet into (header row number, headers, data rows,
    their row numbers), skipping title rows above the header."""
    if not top:
        return 1, [], [], []
    found = find_header([c for _, c in top], table)
    k = 0 if found is None else found
    rnum, cells = top[k]
    headers = ["" if isinstance(c, float) else c for c in cells]
    rest = top[k + 1 :]
    return rnum, headers, [c for _, c in rest], [n for n, _ in rest]


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"{p.name}: file not found ({p}).")
    if not p.is_file():
        raise DataValidationError(f"{p.name}: not a file ({p}).")
    if p.suffix.lower() == ".xls":
        raise _old_excel(p.name)
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
        Table name (English or Swedish, e.g. ``placeringar``); inferred from the file name
        (e.g. ``kommun_episodes_2024.csv``, ``Placeringar 2024.csv``, ``uppföljningar.csv``;
        any case, with or without diacritics) when omitted. For an Excel file with a single
        table sheet, that sheet is used; a workbook with one sheet of any name is read as
        ``table``.

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
    Title rows above the header (a title, a date, blank rows: common in exports) are skipped:
    the header is the first of the first :data:`HEADER_SEARCH_ROWS` non-empty rows whose cells
    name at least :data:`HEADER_MIN_MATCHES` dictionary columns (names or labels). Row numbers
    still count the skipped rows (``header_row``, ``skipped_rows``). When no row qualifies, the
    first non-empty row is the header and a missing-column error says to delete title rows.
    An ``.xls`` file is refused with "save as .xlsx in Excel". Columns not in the dictionary
    are listed in ``extra_columns`` (see :meth:`RawTable.ignored_columns_messages`).

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
    if table is not None:
        table = check_table(table, source)
    if ext == ".xlsx":
        sheets = _xlsx_sheets(p, source, table)
        if table is None:
            if len(sheets) == 1:
                table = next(iter(sheets))
            else:
                table = infer_table(p.stem, source)
        if table not in sheets:
            raise DataValidationError(
                f"{source}: no sheet named {table!r}; sheets must be named after the tables "
                f"({', '.join(TABLES)})."
            )
        headers, rows, numbers, header_row = sheets[table]
        return build(
            table, headers, rows, numbers, f"{source}[{table}]", header_row=header_row
        )
    if table is None:
        table = infer_table(p.stem, source)
    if ext in (".csv", ".txt", ".tsv"):
        return _read_csv(p, table, source)
    if ext in (".parquet", ".pq"):
        return _read_parquet(p, table, source)
    return _read_sav(p, table, source)


def read_tables(
    paths: str | Path | Iterable[str | Path], table: str | None = None
) -> dict[str, RawTable]:
    """Read several files (an Excel file gives every table sheet it has).

    Parameters
    ----------
    paths : path or iterable of paths
        Files to read; the table of each non-Excel file is inferred from its name (English
        or Swedish, e.g. ``Placeringar 2024.csv``).
    table : str, optional
        Read every file as this table (the CLI's ``--table``); default: the table set by
        :func:`forced_table`, else inferred per file.

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

    if table is None:
        table = FORCED_TABLE.get()
    else:
        table = check_table(table)
    for path in paths:
        p = _check_path(path)
        if table is not None:
            add(read_table(p, table))
        elif p.suffix.lower() == ".xlsx":
            sheets = _xlsx_sheets(p, p.name)
            if not sheets:
                raise DataValidationError(
                    f"{p.name}: inget blad har namn efter en tabell ({', '.join(TABLES)}; "
                    "svenska namn går också); byt namn på bladet eller ange --table. / "
                    f"{p.name}: no sheet named after a table ({', '.join(TABLES)}; Swedish "
                    "names work too); rename the sheet or give --table."
                )
            for t, (headers, rows, numbers, header_row) in sheets.items():
                add(build(t, headers, rows, numbers, f"{p.name}[{t}]", header_row=header_row))
        else:
            add(read_table(p))
    return out
