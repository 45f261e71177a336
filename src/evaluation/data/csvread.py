"""Read CSV text files in bounded memory: whole, or as chunks of rows.

:class:`CsvChunks` checks a CSV file (empty, binary, NUL bytes, encoding: UTF-8 with or without
BOM, else Windows-1252) by reading it in blocks, finds the delimiter and the header (title
rows above it are skipped), and then hands out the data rows as :class:`RawTable` chunks of at
most ``chunk_rows`` rows, or all of them in one. Row numbers are the lines where the rows start,
whatever the chunk. Only the rows of one chunk are held in memory at a time.

The rules of reading are those of :func:`evaluation.data.io.read_table`: a line with a quote
that is never closed does not swallow the lines after it (they are read one by one and the line
is quarantined, rule ``unclosed_quote``); rows with the wrong number of fields are listed in
``field_counts``; blank rows are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io as _io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaluation.data.rawtable import (
    DELIMITERS,
    FIELD_LIMIT,
    HEADER_SEARCH_ROWS,
    Layout,
    RawTable,
    find_header,
    header_layout,
    is_blank,
    layout_frame,
    line_list,
    normalise_header,
    row_origins,
)
from evaluation.errors import DataValidationError

__all__ = ["CHUNK_ROWS", "CsvChunks"]

#: Rows per chunk when a file is validated in pieces. Smaller chunks hold less memory at about
#: the same speed (a 200 MB file of 800,000 episodes: 10,000 rows peak at about 650 MiB,
#: 50,000 rows at about 940 MiB, in about 30 s of CPU time either way).
CHUNK_ROWS = 10_000
_BLOCK = 1 << 24
_HEAD_BYTES = 1 << 20
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


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



def _encoding(path: Path, source: str) -> str:
    """The encoding of a CSV file (``utf-8``, ``utf-8-sig`` or ``cp1252``), read in blocks.

    Raises
    ------
    DataValidationError
        If the file is binary or UTF-16, holds a NUL byte anywhere, or is neither UTF-8 nor
        Windows-1252.
    """
    with open(path, "rb") as fh:
        first = fh.read(65536)
        if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first:
            raise DataValidationError(
                f"{source}: the file is binary or UTF-16 encoded and cannot be read as CSV. "
                "Save it as CSV in UTF-8 (or Windows-1252)."
            )
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8, nul, undefined, offset = True, False, None, 0
        while block := fh.read(_BLOCK):
            if b"\x00" in block:
                nul = True
                break
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            if undefined is None and (m := _CP1252_UNDEFINED.search(block)):
                undefined = offset + m.start()
            offset += len(block)
    if nul:
        _refuse_nul_bytes(path.read_bytes(), source)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if utf8:
        return "utf-8-sig" if first.startswith(b"\xef\xbb\xbf") else "utf-8"
    if undefined is not None:
        raise DataValidationError(
            f"{source}: cannot decode the file as UTF-8 or Windows-1252 (byte {undefined}). "
            "Save it as CSV in UTF-8."
        )
    return "cp1252"


def _filled(rec: list[str]) -> bool:
    return bool("".join(rec).strip())


class CsvChunks:
    """The data rows of a CSV file as :class:`RawTable` chunks.

    Parameters
    ----------
    path : Path
        The file.
    table : str
        Dictionary table name.
    source : str
        File name shown in messages.
    chunk_rows : int, optional
        At most this many rows per chunk; ``None``: all rows in one chunk.

    Attributes
    ----------
    encoding, delimiter : str
        As detected when the object is made (the file is checked then).
    header_row : int
        Line of the header (known after the first chunk).
    extra_columns : list of str
        Columns not in the dictionary; final once every chunk has been read (trailing unnamed
        columns that are empty in every row are not counted).

    Raises
    ------
    DataValidationError
        When made: the file is empty, binary, holds a NUL byte or cannot be decoded. When the
        first chunk is read: no header, a header with an unclosed quote, duplicated or missing
        columns (see :func:`evaluation.data.rawtable.build`); a CSV parse error.
    """

    def __init__(
        self, path: str | Path, table: str, source: str, chunk_rows: int | None = None
    ) -> None:
        self.path, self.table, self.source = Path(path), table, source
        self.chunk_rows = chunk_rows
        size = self.path.stat().st_size
        if size == 0:
            raise DataValidationError(f"{source}: the file is empty (0 bytes).")
        self.encoding = _encoding(self.path, source)
        self._codec = "cp1252" if self.encoding == "cp1252" else "utf-8-sig"
        with open(self.path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
        whole = len(head) >= size
        text = codecs.getincrementaldecoder(self._codec)().decode(head, final=whole)
        if _looks_binary(text):
            raise DataValidationError(
                f"{source}: the file contains binary data (control characters), not CSV text."
            )
        if whole and text.strip() == "":
            raise DataValidationError(f"{source}: the file is empty (no header line).")
        self.delimiter = _choose_delimiter(text, table)
        self.header_row = 1
        self.extra_columns: list[str] = []

    def read(self) -> RawTable:
        """All rows as one :class:`RawTable`."""
        keep, self.chunk_rows = self.chunk_rows, None
        try:
            (raw,) = list(self)
        finally:
            self.chunk_rows = keep
        return raw

    def __iter__(self) -> Iterator[RawTable]:
        old = csv.field_size_limit()
        csv.field_size_limit(FIELD_LIMIT)
        try:
            with open(self.path, encoding=self._codec, newline="") as fh:
                yield from self._chunks(self._records(fh))
        except csv.Error as exc:
            raise DataValidationError(
                f"{self.source}: cannot parse the file as CSV: {exc}."
            ) from None
        finally:
            csv.field_size_limit(old)

    def _records(self, fh: Any) -> Iterator[tuple[list[str], int, int, list[str] | None]]:
        """``(record, first line, last line, its physical lines when it spans several)``."""
        buf: list[str] = []

        def lines() -> Iterator[str]:
            for line in fh:
                buf.append(line)
                yield line

        reader = csv.reader(lines(), delimiter=self.delimiter, strict=False)
        prev = 0
        for rec in reader:
            last = reader.line_num
            spans = buf[:] if last - prev > 1 else None
            buf.clear()
            yield rec, prev + 1, last, spans
            prev = last

    def _header(
        self, records: Iterator[tuple[list[str], int, int, list[str] | None]]
    ) -> tuple[tuple[list[str], int, int, Any], Iterator[Any]]:
        head = list(itertools.islice(records, HEADER_SEARCH_ROWS * 4))
        filled = [i for i, rec in enumerate(head) if _filled(rec[0])][:HEADER_SEARCH_ROWS]
        if not filled:
            header = next((rec for rec in records if _filled(rec[0])), None)
            if header is None:
                raise DataValidationError(f"{self.source}: the file is empty (no header line).")
            return header, records
        found = find_header([head[i][0] for i in filled], self.table)
        pos = filled[0 if found is None else found]
        return head[pos], itertools.chain(head[pos + 1 :], records)

    def _rows(
        self, records: Iterator[Any], width: int
    ) -> Iterator[tuple[list[str], int, int | None, tuple[str, str, str] | None]]:
        """``(cells, line, field count when wrong, reader problem)`` of each non-blank row."""
        d = self.delimiter

        def count(r: list[str]) -> int | None:
            if len(r) == width or (len(r) > width and not _filled(r[width:])):
                return None
            return len(r)

        cur = next(records, None)
        while cur is not None:
            nxt = next(records, None)
            r, first, last, lines = cur
            if lines is None:
                if nxt is None and any("\n" in c or "\r" in c for c in r):
                    # A quote opened on the last line and never closed (the line break is inside).
                    yield (
                        [c.rstrip("\r\n") for c in r], first, len(r),
                        _unclosed_quote_messages(first, first, first),
                    )
                elif _filled(r):
                    yield r, first, count(r), None
            elif len(r) == width and not _swallows_rows(r, d, width):
                if _filled(r):
                    yield r, first, None, None  # a quoted field with a line break: one record
            else:
                # A quote that is never closed swallowed the lines after it: read each physical
                # line on its own and quarantine those whose quotes do not balance.
                for k, phys in enumerate(lines):
                    rec = next(csv.reader([phys], delimiter=d, strict=False), [])
                    rec = [c.rstrip("\r\n") for c in rec]
                    if phys.count('"') % 2 == 1 and phys.strip():
                        yield rec, first + k, len(rec), _unclosed_quote_messages(
                            first + k, first, last
                        )
                    elif _filled(rec):
                        yield rec, first + k, count(rec), None
            cur = nxt

    def _chunks(self, records: Iterator[Any]) -> Iterator[RawTable]:
        (headers, first, last, _), rest = self._header(records)
        if last > first:
            raise DataValidationError(
                f'{self.source}: the header (line {first}) has a quote (") that is not '
                f"closed on its line, so lines {first}–{last} would be read "
                "as column names. Close or remove the quote and try again."
            )
        self.header_row = first
        width = len(headers)
        norm = [normalise_header(h) for h in headers]
        blank_tail = len(norm) - len(list(itertools.takewhile(lambda n: n == "", norm[::-1])))
        kept = blank_tail  # trailing unnamed columns are kept up to the last one filled
        rows_iter = self._rows(rest, width)
        try:
            layout = header_layout(self.table, headers, self.source, header_row=first)
        except DataValidationError:
            for r, *_ in rows_iter:  # the message counts the columns kept: read them all
                kept = _kept(r, kept, len(norm))
            header_layout(self.table, headers, self.source, width=kept, header_row=first)
            raise
        self.extra_columns = list(layout.extra)  # final once every row is read
        rows: list[list[str]] = []
        numbers: list[int] = []
        counts: dict[int, int] = {}
        problems: dict[int, tuple[str, str, str]] = {}
        sent = False
        for r, line, nf, prob in rows_iter:
            if nf is not None:
                counts[len(rows)] = nf
            if prob is not None:
                problems[len(rows)] = prob
            if kept < len(norm) and len(r) > kept:
                kept = _kept(r, kept, len(norm))
            rows.append(r)
            numbers.append(line)
            if self.chunk_rows and len(rows) >= self.chunk_rows:
                yield self._raw(layout, rows, numbers, counts, problems)
                rows, numbers, counts, problems, sent = [], [], {}, {}, True
        dropped = len(norm) - kept
        self.extra_columns = layout.extra[: len(layout.extra) - dropped]
        if rows or not sent:
            yield self._raw(layout, rows, numbers, counts, problems)

    def _raw(
        self,
        layout: Layout,
        rows: list[list[str]],
        numbers: list[int],
        counts: dict[int, int],
        problems: dict[int, tuple[str, str, str]],
    ) -> RawTable:
        numbers, sources = row_origins(rows, layout, numbers, self.source)
        return RawTable(
            table=self.table,
            data=layout_frame(rows, layout),
            source=self.source,
            row_numbers=numbers,
            row_sources=sources,
            encoding=self.encoding,
            delimiter=self.delimiter,
            extra_columns=list(self.extra_columns),
            field_counts=counts,
            row_problems=problems,
            header_row=self.header_row,
            skipped_rows=self.header_row - 1,
        )


def _kept(r: list[str], kept: int, width: int) -> int:
    """Header names kept once row ``r`` is seen: up to its last filled cell among the trailing
    unnamed columns."""
    for p in range(min(len(r), width) - 1, kept - 1, -1):
        if not is_blank(r[p]):
            return p + 1
    return kept
