"""Raw tables: what a file held, as strings, before validation.

:class:`RawTable` and the pieces every reader of :mod:`evaluation.data.io` shares: table names
(English and Swedish, ``--table``), header recognition (title rows above the header), cell
conversion to text, bounded name lists for messages, and :func:`build`, which turns read rows
into a :class:`RawTable`. The readers of each file format are in :mod:`evaluation.data.io`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.safe_text import mask_identity_numbers
from evaluation.errors import DataValidationError

__all__ = [
    "DELIMITERS",
    "FIELD_LIMIT",
    "FORCED_TABLE",
    "HEADER_MIN_MATCHES",
    "HEADER_SEARCH_ROWS",
    "PERSONNUMMER",
    "PROVENANCE_COLUMNS",
    "QUARANTINE_COLUMNS",
    "SUPPORTED_EXTENSIONS",
    "TABLE_ALIASES",
    "Layout",
    "RawTable",
    "build",
    "cell_to_str",
    "check_table",
    "find_header",
    "fold",
    "forced_table",
    "header_layout",
    "infer_table",
    "is_blank",
    "layout_frame",
    "line_list",
    "name_list",
    "normalise_header",
    "resolve_table_name",
    "row_origins",
    "tables_named",
    "trailing_blank_width",
]

SUPPORTED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".parquet", ".pq", ".sav")
DELIMITERS = (";", ",", "\t")
# Columns that a raw extract may lack because pseudonymisation derives them from personnummer.
PERSONNUMMER = "personnummer"

FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)

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

#: Columns written by ``evaluation pseudonymise`` naming where each row came from: the user's
#: file (with sheet, ``file.xlsx[sheet]``) and row. Readers take them as the rows' origin
#: instead of as data or as ignored columns.
PROVENANCE_COLUMNS = ("source_file", "source_row")

FORCED_TABLE: ContextVar[str | None] = ContextVar("evaluation_forced_table", default=None)


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
    row_sources : list of str or None
        Where each row came from when the file names it (a file written by ``evaluation
        pseudonymise`` has :data:`PROVENANCE_COLUMNS`): the user's file (and sheet) per row,
        and ``row_numbers`` are then the rows of that file. ``None``: every row is from
        ``source``.
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
    row_sources: list[str] | None = None

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
        names = name_list([mask_identity_numbers(c) for c in self.extra_columns if c])
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


def fold(text: str) -> str:
    """Lower-case without diacritics (``Uppföljning`` -> ``uppfoljning``)."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tables_named(name: str) -> list[str]:
    """Tables whose name (English or Swedish, any case or diacritics) ``name`` contains."""
    folded = fold(name)
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
    found = tables_named(name)
    return found[0] if len(found) == 1 else None


def _unknown_table(table: str, source: str | None = None) -> DataValidationError:
    where = f"{source}: " if source else ""
    return DataValidationError(
        f"{where}okänd tabell {table!r}; dataordboken har: {', '.join(TABLES)} "
        "(på svenska: episoder/insatser, placeringar, uppföljningar, aktualiseringar). / "
        f"{where}unknown table {table!r}; the dictionary defines: {', '.join(TABLES)}."
    )


def check_table(table: str, source: str | None = None) -> str:
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
    resolved = None if table is None else check_table(table)
    token = FORCED_TABLE.set(resolved)
    try:
        yield
    finally:
        FORCED_TABLE.reset(token)


def infer_table(stem: str, source: str) -> str:
    found = tables_named(stem)
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


def find_header(rows: list[list[Any]], table: str) -> int | None:
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


def cell_to_str(v: Any) -> Any:
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
        return cell_to_str(float(v))
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


def is_blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return isinstance(v, str) and v.strip() == ""


#: At most this many names are listed in a message (then "and N more"), each cut to
#: ``_NAME_CHARS`` characters, so that a header of a million names gives a short message.
_LIST_NAMES = 20
_NAME_CHARS = 60
#: "Did you mean" compares a missing column with at most this many names found.
_CLOSE_CANDIDATES = 1000


def _short_name(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def name_list(names: list[str], *, quote: bool = True, limit: int = _LIST_NAMES) -> str:
    """``'a', 'b', ... and 123 more``: a bounded list of (shortened) names for a message."""
    shown = [_short_name(n) for n in names[:limit]]
    text = ", ".join(repr(n) if quote else n for n in shown)
    if len(names) > limit:
        text += f" and {len(names) - limit} more"
    return text


def line_list(lines: list[int], limit: int = 10) -> str:
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
            f"{source}: NUL character (a zero byte) in row(s) {line_list(bad)}; it is never "
            "part of a valid value and usually means a damaged file. Remove it and try again."
        )


def trailing_blank_width(norm: list[str], rows: Iterable[list[Any]]) -> int:
    """How many of the normalised header names ``norm`` are kept: trailing unnamed columns
    that are empty in every row are dropped (common in spreadsheet exports)."""
    width = len(norm)
    rows = list(rows) if norm and norm[-1] == "" else []
    while (
        width
        and norm[width - 1] == ""
        and all(len(r) < width or is_blank(r[width - 1]) for r in rows)
    ):
        width -= 1
    return width


@dataclass
class Layout:
    """Where the dictionary columns of a table are among the fields of its rows.

    Attributes
    ----------
    table : str
        Dictionary table name.
    names : list of str
        Dictionary names of the columns read, in file order.
    positions : list of int
        Field position of each of ``names``.
    extra : list of str
        Normalised names of the columns not in the dictionary (not read).
    provenance : dict of str to int
        Field position of each of :data:`PROVENANCE_COLUMNS` present.
    """

    table: str
    names: list[str]
    positions: list[int]
    extra: list[str]
    provenance: dict[str, int] = field(default_factory=dict)


def header_layout(
    table: str, headers: list[Any], source: str, *, width: int | None = None, header_row: int = 1
) -> Layout:
    """Check the header of a table and map it to dictionary names.

    ``width`` keeps only the first ``width`` header names (see :func:`trailing_blank_width`).

    Raises
    ------
    DataValidationError
        On duplicated column names or missing required columns (see :func:`build`).
    """
    if table not in TABLES:
        raise _unknown_table(table, source)
    norm = [normalise_header(h) for h in headers]
    if width is not None:
        norm = norm[:width]
    hmap = _header_map(table)
    mapped = [hmap.get(h, h) for h in norm]
    seen: dict[str, int] = {}
    dups = []
    for m in mapped:
        if m and m in seen and m not in dups:
            dups.append(m)
        seen[m] = seen.get(m, 0) + 1
    if dups:
        raise DataValidationError(
            f"{source}: duplicated column name(s) {name_list(dups)} "
            "(after normalising case, spaces and labels); each column must appear once."
        )
    dict_cols = load_dictionary().table(table)
    provenance = {m: i for i, m in enumerate(mapped) if m in PROVENANCE_COLUMNS}
    extra = [m for m in mapped if m not in dict_cols and m not in provenance]
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
            f"{name_list(parts, quote=False)}. "
            f"Columns found ({len(norm)}): "
            f"{name_list([mask_identity_numbers(c) for c in norm]) or 'none'}.{hint}"
        )
    positions = [i for i, m in enumerate(mapped) if m in dict_cols]
    return Layout(table, [mapped[i] for i in positions], positions, extra, provenance)


def row_origins(
    rows: list[list[Any]], layout: Layout, numbers: list[int], source: str
) -> tuple[list[int], list[str] | None]:
    """Row numbers and sources of ``rows``: those named by their provenance columns (see
    :data:`PROVENANCE_COLUMNS`) where these are filled and valid, else ``numbers`` in
    ``source``. Without provenance columns: ``(numbers, None)``."""
    if not layout.provenance:
        return numbers, None
    pf = layout.provenance.get("source_file")
    pr = layout.provenance.get("source_row")
    out_numbers, out_sources = list(numbers), [source] * len(rows)
    for i, r in enumerate(rows):
        f = r[pf] if pf is not None and pf < len(r) else None
        n = r[pr] if pr is not None and pr < len(r) else None
        if pf is not None and not (isinstance(f, str) and f.strip()):
            continue
        if pr is not None:
            text = n.strip() if isinstance(n, str) else ""
            if not (text.isascii() and text.isdigit() and int(text) > 0):
                continue
            out_numbers[i] = int(text)
        if pf is not None:
            out_sources[i] = f.strip()
    return out_numbers, out_sources


_SPACE = re.compile(r"\s")


def _spaced_rows(rows: list[list[Any]]) -> list[int]:
    """Positions of the rows holding any whitespace (only these can hold a blank cell that is
    not empty)."""
    out = []
    for i, r in enumerate(rows):
        try:
            if _SPACE.search("".join(r)):
                out.append(i)
        except TypeError:  # cells that are not text (typed readers)
            if any(isinstance(v, str) and _SPACE.search(v) for v in r):
                out.append(i)
    return out


def layout_frame(rows: list[list[Any]], layout: Layout) -> pd.DataFrame:
    """The dictionary columns of ``rows`` as a frame of text cells (``NaN`` when blank or
    missing), index 0..n-1."""
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in layout.names})
    width = max(max(layout.positions) + 1, len(rows[0]))
    if any(len(r) != width for r in rows):
        rows = [
            r if len(r) == width
            else (list(r[:width]) + [np.nan] * (width - len(r)))
            for r in rows
        ]
    cells = np.empty((len(rows), width), dtype=object)
    cells[:] = rows
    cells = cells[:, layout.positions]
    blank = cells == ""
    for i in _spaced_rows(rows):
        for j, v in enumerate(cells[i]):
            if isinstance(v, str) and not v.strip():
                blank[i, j] = True
    cells[blank] = np.nan
    return pd.DataFrame(cells, columns=layout.names, index=pd.RangeIndex(len(rows)))


def build(
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
    width = trailing_blank_width(norm, rows)
    layout = header_layout(table, headers, source, width=width, header_row=header_row)
    numbers, sources = row_origins(rows, layout, list(row_numbers), source)
    return RawTable(
        table=table,
        data=layout_frame(rows, layout),
        source=source,
        row_numbers=numbers,
        row_sources=sources,
        encoding=encoding,
        delimiter=delimiter,
        extra_columns=layout.extra,
        field_counts=dict(field_counts or {}),
        row_problems=dict(row_problems or {}),
        header_row=header_row,
        skipped_rows=header_row - 1,
    )
