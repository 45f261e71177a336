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
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.safe_text import mask_identity_numbers
from evaluation.errors import DataValidationError

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "RawTable",
    "forced_table",
    "normalise_header",
    "read_table",
    "read_tables",
    "resolve_table_name",
]

SUPPORTED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".parquet", ".pq", ".sav")
DELIMITERS = (";", ",", "\t")
# Columns that a raw extract may lack because pseudonymisation derives them from personnummer.
PERSONNUMMER = "personnummer"

_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)

#: The header is looked for within this many non-empty rows at the top of a file or sheet
#: (exports often put a title, a date or a blank row above the column names).
HEADER_SEARCH_ROWS = 10
#: A row is taken as the header when at least this many of its cells are dictionary column
#: names or labels.
HEADER_MIN_MATCHES = 2

#: Words in file and sheet names that name a table (compared without case or diacritics, so
#: ``Uppföljningar`` matches ``uppfoljning``); a name matches when it contains one of them.
TABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "episodes": ("episodes", "episod", "insats"),
    "placements": ("placements", "placement", "placering"),
    "followups": ("followups", "followup", "uppfoljning"),
    "referrals": ("referrals", "referral", "aktualisering"),
}

_FORCED_TABLE: ContextVar[str | None] = ContextVar("evaluation_forced_table", default=None)


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
    header_row : int
        Row (line) number of the header in the user's file: 1 unless title rows above the
        column names were skipped.
    skipped_rows : int
        Rows above the header that were skipped (title rows and blank rows); row numbers still
        count them, so they point at the user's file.
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
    header_row: int = 1
    skipped_rows: int = 0

    @property
    def n_rows(self) -> int:
        """Number of data rows read."""
        return len(self.data)

    def ignored_columns_messages(self) -> tuple[str, str] | None:
        """``(message_sv, message_en)`` saying which columns were ignored, or ``None``.

        Columns the user added that are not in the data dictionary (e.g. ``Anteckning``) are
        not read; this says so, naming the file and the columns, and what to do.
        """
        if not self.extra_columns:
            return None
        names = _name_list([mask_identity_numbers(c) for c in self.extra_columns if c])
        blank = sum(1 for c in self.extra_columns if not c)
        if blank:
            names_sv = (names + ", " if names else "") + f"{blank} kolumn(er) utan namn"
            names_en = (names + ", " if names else "") + f"{blank} column(s) without a name"
        else:
            names_sv = names_en = names
        sv = (
            f"{self.source}: kolumnen/kolumnerna {names_sv} (rubrikrad {self.header_row}) finns "
            "inte i dataordboken och lästes inte in. Byt namn på kolumnen om den ska vara en "
            "av ordbokens kolumner; annars kan den ligga kvar eller tas bort."
        )
        en = (
            f"{self.source}: column(s) {names_en} (header row {self.header_row}) are not in the "
            "data dictionary and were ignored. Rename a column if it is meant to be one of the "
            "dictionary's columns; otherwise it may stay or be deleted."
        )
        return sv, en


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


def _fold(text: str) -> str:
    """Lower-case without diacritics (``Uppföljning`` -> ``uppfoljning``)."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tables_named(name: str) -> list[str]:
    """Tables whose name (English or Swedish, any case or diacritics) ``name`` contains."""
    folded = _fold(name)
    compact = re.sub(r"[\s_\-.]+", "", folded)
    return [
        t for t, words in TABLE_ALIASES.items() if any(w in folded or w in compact for w in words)
    ]


def resolve_table_name(name: str) -> str | None:
    """The dictionary table a name stands for (``Placeringar`` -> ``placements``), or ``None``.

    Parameters
    ----------
    name : str
        A table name in English or Swedish, singular or plural, any case, with or without
        diacritics.

    Returns
    -------
    str or None
    """
    if name in TABLES:
        return name
    found = _tables_named(name)
    return found[0] if len(found) == 1 else None


def _unknown_table(table: str, source: str | None = None) -> DataValidationError:
    where = f"{source}: " if source else ""
    return DataValidationError(
        f"{where}okänd tabell {table!r}; dataordboken har: {', '.join(TABLES)} "
        "(på svenska: episoder/insatser, placeringar, uppföljningar, aktualiseringar). / "
        f"{where}unknown table {table!r}; the dictionary defines: {', '.join(TABLES)}."
    )


def _check_table(table: str, source: str | None = None) -> str:
    resolved = resolve_table_name(table)
    if resolved is None:
        raise _unknown_table(table, source)
    return resolved


@contextmanager
def forced_table(table: str | None) -> Iterator[None]:
    """Within this block, :func:`read_tables` reads every file as ``table`` (``--table``).

    Parameters
    ----------
    table : str or None
        Table name (English or Swedish, see :func:`resolve_table_name`); ``None`` changes
        nothing.

    Raises
    ------
    DataValidationError
        If ``table`` is not a known table.
    """
    resolved = None if table is None else _check_table(table)
    token = _FORCED_TABLE.set(resolved)
    try:
        yield
    finally:
        _FORCED_TABLE.reset(token)


def _infer_table(stem: str, source: str) -> str:
    found = _tables_named(stem)
    if len(found) == 1:
        return found[0]
    what_sv = "flera tabellnamn" if found else "inget tabellnamn"
    what_en = "several table names" if found else "no table name"
    raise DataValidationError(
        f"{source}: det går inte att avgöra vilken tabell filen innehåller ({what_sv} i "
        "filnamnet). Ge filen ett namn efter tabellen (t.ex. placeringar.csv, episoder.csv, "
        "uppföljningar.csv, aktualiseringar.csv) eller ange tabellen med --table, t.ex. "
        f"`evaluation validate --table placements {source} --out ...`. / "
        f"{source}: cannot tell which table the file holds ({what_en} in the file name). "
        f"Name the file after a table ({', '.join(TABLES)}; Swedish names work too) or give "
        f"the table with --table, e.g. `evaluation validate --table placements {source} "
        "--out ...`."
    )


def _header_matches(cells: list[Any], hmap: dict[str, str]) -> int:
    """Number of distinct dictionary columns named by the cells of a row."""
    return len({hmap[n] for n in (normalise_header(c) for c in cells if isinstance(c, str)) if n in hmap})


def _find_header(rows: list[list[Any]], table: str) -> int | None:
    """Position of the header among ``rows`` (non-empty rows from the top of the file): the
    first of the first :data:`HEADER_SEARCH_ROWS` whose cells name at least
    :data:`HEADER_MIN_MATCHES` dictionary columns; ``None`` when no row does."""
    if table not in TABLES:
        return None
    hmap = _header_map(table)
    for i, r in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if _header_matches(r, hmap) >= HEADER_MIN_MATCHES:
            return i
    return None


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
    header_row: int = 1,
) -> RawTable:
    """Check headers, map them to dictionary names and assemble the RawTable."""
    if table not in TABLES:
        raise _unknown_table(table, source)
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
        hint = ""
        if _header_matches(list(headers), hmap) < HEADER_MIN_MATCHES:
            hint = (
                f" Rad {header_row} ser inte ut som en rad med kolumnnamn, och ingen av de "
                f"{HEADER_SEARCH_ROWS} första raderna gör det: om filen har rubrikrader (titel, "
                "datum) ovanför kolumnnamnen, ta bort dem så att kolumnnamnen står på första "
                f"raden. / Row {header_row} does not look like a row of column names, nor does "
                f"any of the first {HEADER_SEARCH_ROWS} rows: if the file has title rows (a "
                "title, a date) above the column names, delete them so that the column names "
                "are on the first row."
            )
        raise DataValidationError(
            f"{source}: table {table!r} lacks required column(s): "
            f"{_name_list(parts, quote=False)}. "
            f"Columns found ({len(norm)}): "
            f"{_name_list([mask_identity_numbers(c) for c in norm]) or 'none'}.{hint}"
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
        header_row=header_row,
        skipped_rows=header_row - 1,
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


def _choose_delimiter(text: str, table: str) -> str:
    """The delimiter sniffed from the first line, unless title rows hide it: then the first
    delimiter with which a header is found within the first rows."""
    sniffed = _sniff_delimiter(text)
    head = text[:65536]
    if len(text) > len(head) and "\n" in head:
        head = head[: head.rindex("\n")]
    old = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        for d in (sniffed, *(d for d in DELIMITERS if d != sniffed)):
            try:
                recs = list(csv.reader(_io.StringIO(head, newline=""), delimiter=d, strict=False))
            except csv.Error:
                continue
            filled = [r for r in recs if any(c.strip() for c in r)][:HEADER_SEARCH_ROWS]
            if _find_header(filled, table) is not None:
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
        found = _find_header([records[i] for i in filled], table)
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
        header_row=start(header_pos),
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


def _sheet_table(title: str) -> str | None:
    """The table a sheet is named after (``Placeringar`` -> ``placements``), or ``None``.

    Only a sheet named exactly after a table counts (English or Swedish, singular or plural,
    any case or diacritics), so that an instruction sheet is never read as a table."""
    folded = re.sub(r"[\s_\-]+", "", _fold(title))
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
            named = _tables_named(path.stem)
            if len(named) == 1:
                titles[named[0]] = [only]
    twice = {t: names for t, names in titles.items() if len(names) > 1}
    if twice:
        wb.close()
        t, names = next(iter(twice.items()))
        raise DataValidationError(
            f"{source}: {len(names)} sheets hold table {t!r} ({_name_list(names)}); keep one "
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
                cells = [_cell_to_str(v) for v in rec]
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
    found = _find_header([c for _, c in top], table)
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
        table = _check_table(table, source)
    if ext == ".xlsx":
        sheets = _xlsx_sheets(p, source, table)
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
        headers, rows, numbers, header_row = sheets[table]
        return _build(
            table, headers, rows, numbers, f"{source}[{table}]", header_row=header_row
        )
    if table is None:
        table = _infer_table(p.stem, source)
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
        table = _FORCED_TABLE.get()
    else:
        table = _check_table(table)
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
                add(_build(t, headers, rows, numbers, f"{p.name}[{t}]", header_row=header_row))
        else:
            add(read_table(p))
    return out
