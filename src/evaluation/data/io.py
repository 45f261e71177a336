"""Read municipal export files (CSV, Excel, Parquet, SPSS) into raw tables of strings.

Every cell is kept as the text that was in the file (``NaN`` for an empty or blank cell) so
that :mod:`evaluation.data.validate` sees the original values. Only problems that make a whole file
unusable raise :class:`~evaluation.errors.DataValidationError`; row-level problems are left to
validation. CSV text is read by :mod:`evaluation.data.csvread`; :func:`open_tables` hands out
the tables of a file in chunks of rows, for validation in bounded memory.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.data.csvread import CHUNK_ROWS, CsvChunks
from evaluation.data.dictionary import TABLES
from evaluation.data.rawtable import (
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
    name_list,
    tables_named,
)
from evaluation.errors import DataValidationError

__all__ = ["TableChunks", "open_tables", "read_table", "read_tables"]

_CSV = (".csv", ".txt", ".tsv")

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
    if ext in _CSV:
        return CsvChunks(p, table, source).read()
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
        for raw in _read_file(_check_path(path), table).values():
            add(raw)
    return out


def _read_file(p: Path, table: str | None) -> dict[str, RawTable]:
    """The tables of one checked file (every table sheet of an Excel file)."""
    if table is not None:
        raw = read_table(p, table)
        return {raw.table: raw}
    if p.suffix.lower() == ".xlsx":
        sheets = _xlsx_sheets(p, p.name)
        if not sheets:
            raise DataValidationError(
                f"{p.name}: inget blad har namn efter en tabell ({', '.join(TABLES)}; "
                "svenska namn går också); byt namn på bladet eller ange --table. / "
                f"{p.name}: no sheet named after a table ({', '.join(TABLES)}; Swedish "
                "names work too); rename the sheet or give --table."
            )
        return {
            t: build(t, headers, rows, numbers, f"{p.name}[{t}]", header_row=header_row)
            for t, (headers, rows, numbers, header_row) in sheets.items()
        }
    raw = read_table(p)
    return {raw.table: raw}


class TableChunks:
    """A table read whole (Excel, Parquet, SPSS), handed out in chunks of rows as
    :class:`~evaluation.data.csvread.CsvChunks` hands out a CSV file.

    Parameters
    ----------
    raw : RawTable
        The table.
    chunk_rows : int, optional
        At most this many rows per chunk; ``None``: the whole table in one.
    """

    def __init__(self, raw: RawTable, chunk_rows: int | None = None) -> None:
        self.raw, self.chunk_rows = raw, chunk_rows
        self.table, self.source = raw.table, raw.source
        self.header_row, self.extra_columns = raw.header_row, list(raw.extra_columns)

    def read(self) -> RawTable:
        """The whole table."""
        return self.raw

    def __iter__(self) -> Iterator[RawTable]:
        raw, n = self.raw, len(self.raw.data)
        step = self.chunk_rows or n
        if n <= step:
            yield raw
            return
        for a in range(0, n, step):
            b = min(n, a + step)
            yield dataclasses.replace(
                raw,
                data=raw.data.iloc[a:b].reset_index(drop=True),
                row_numbers=list(raw.row_numbers[a:b]),
                field_counts={p - a: v for p, v in raw.field_counts.items() if a <= p < b},
                row_problems={p - a: v for p, v in raw.row_problems.items() if a <= p < b},
                row_sources=None if raw.row_sources is None else raw.row_sources[a:b],
            )


def open_tables(
    path: str | Path, table: str | None = None, chunk_rows: int | None = CHUNK_ROWS
) -> dict[str, CsvChunks | TableChunks]:
    """The tables of one file, each to be read in chunks of at most ``chunk_rows`` rows.

    A CSV file is checked now and read chunk by chunk as it is iterated (only one chunk in
    memory); other formats are read whole and handed out in chunks.

    Parameters
    ----------
    path : str or Path
        As for :func:`read_table`.
    table : str, optional
        As for :func:`read_tables` (default: the table set by :func:`forced_table`, else
        inferred from the file or sheet name).
    chunk_rows : int, optional
        Rows per chunk (default :data:`~evaluation.data.csvread.CHUNK_ROWS`); ``None``: one
        chunk per table.

    Returns
    -------
    dict of str to CsvChunks or TableChunks
        Keyed by table name; each iterates over :class:`RawTable` chunks (at least one) whose
        positions start at 0 in every chunk, and has ``table``, ``source``, ``header_row`` and
        ``extra_columns`` (final once iterated).

    Raises
    ------
    DataValidationError
        As :func:`read_table`; for a CSV file, problems of the header and of parsing are
        raised by the first chunk.
    """
    p = _check_path(path)
    table = FORCED_TABLE.get() if table is None else check_table(table)
    if p.suffix.lower() in _CSV:
        t = infer_table(p.stem, p.name) if table is None else check_table(table, p.name)
        return {t: CsvChunks(p, t, p.name, chunk_rows)}
    return {t: TableChunks(raw, chunk_rows) for t, raw in _read_file(p, table).items()}
