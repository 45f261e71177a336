"""Validate raw tables against the data dictionary; rejected rows go to quarantine.

Rows are never silently dropped or altered beyond normalisation: every input row ends up either
in ``accepted`` (typed per the dictionary) or in ``quarantine`` (one row holding its first
problem), so ``len(accepted) + len(quarantine) == n_read`` for each table. ``problems`` lists
every problem found, including the repairs made on accepted rows (a digit code such as the
municipality code that lost its leading zero in Excel, ``180`` or ``180.0`` for ``0180``, is
accepted as ``0180`` and recorded with rule ``digit_code_repaired``).

Identity numbers never pass: a file with a filled personnummer/samordningsnummer column (by
header), or with a column where identity numbers are the rule, is refused (run
``evaluation pseudonymise`` first); a stray valid identity number in any cell quarantines its
row (rule ``identity_number``); identifier columns refuse anything shaped like one. No message,
quarantine or problems row shows one: all pass through
:func:`evaluation.data.safe_text.mask_identity_numbers`. Every CSV written goes through
:func:`evaluation.data.safe_text.write_csv` (formula-leading cells neutralised).

Rule ids
--------
Cell rules: ``required``, ``type_integer``, ``type_number``, ``type_date``, ``type_boolean``,
``code``, ``range``, ``pattern``, ``field_too_long``, ``id_format`` (an id starting with a
formula character or holding control characters), ``identity_number`` (an identity number in a
cell); ``field_count`` (CSV row with the wrong number of fields).
Repair (recorded in problems only, the row is accepted): ``digit_code_repaired``.
Row rules: ``end_not_before_start``, ``age_at_start``, ``end_reason_with_end_date``,
``planned_ending_derived``, ``unique_key``.
Cross-table rules
(:func:`evaluation.data.crosscheck.validate_dataset`): ``no_overlapping_episodes``, ``episode_exists``,
``followup_within_episode``, ``placements_tile_episode``.

Modules: :mod:`evaluation.data.rules` parses cells and words the rules,
:mod:`evaluation.data.tablecheck` applies the cell and row rules to a table chunk by chunk,
:mod:`evaluation.data.crosscheck` applies the cross-table rules; this module validates a table
and runs the whole check on files.

Memory is bounded by the chunk size, not by the file: :func:`validate_files` reads a CSV file
:data:`~evaluation.data.csvread.CHUNK_ROWS` rows at a time (a 200 MB file of 800,000 episodes
peaks at about 650 MiB), and its outputs do not depend on the chunk size. A file written by
``evaluation pseudonymise`` names where each row came from (``source_file``, ``source_row``):
quarantine, problems and messages then name the user's own file, sheet and row.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.csvread import CHUNK_ROWS
from evaluation.data.io import open_tables
from evaluation.data.rawtable import FORCED_TABLE, QUARANTINE_COLUMNS, RawTable, check_table
from evaluation.data.rules import ValidationResult, empty_quarantine
from evaluation.data.safe_text import check_output_folder, mask_identity_numbers, write_csv
from evaluation.data.tablecheck import REFUSE_SHARE, TableCheck
from evaluation.errors import DataValidationError

__all__ = [
    "REFUSE_SHARE",
    "ValidationSummary",
    "validate_files",
    "validate_table",
]


def validate_table(raw: RawTable) -> ValidationResult:
    """Validate one raw table cell by cell and row by row.

    Parameters
    ----------
    raw : RawTable
        As returned by :func:`evaluation.data.io.read_table`.

    Returns
    -------
    ValidationResult
        ``accepted`` (typed, with ``_row`` and ``_source``), ``quarantine`` (one row per rejected
        input row), ``problems`` (all problems), ``n_read``.

    Raises
    ------
    DataValidationError
        If ``raw`` names a table the dictionary does not define, or holds identity numbers: a
        filled personnummer/samordningsnummer column (by header), or a column where at least
        :data:`REFUSE_SHARE` of the filled cells are valid identity numbers. The message says
        to run ``evaluation pseudonymise`` first and never shows a number.

    Notes
    -----
    A stray valid identity number in any other cell quarantines its row (rule
    ``identity_number``); an empty personnummer column is ignored. Required columns are
    enforced whenever present (``child_id``, ``sex`` and ``birth_year`` included). For episodes,
    ``planned_ending`` is derived from ``end_reason`` when it is missing. Duplicate primary keys
    keep the first otherwise valid row. Each distinct value of a column is parsed once; the
    work is done by :class:`evaluation.data.tablecheck.TableCheck`, which
    :func:`validate_files` feeds a large file chunk by chunk with the same result.
    """
    check = TableCheck(raw.table, raw.source)
    accepted = check.feed(raw)
    quarantine, problems = check.finish(raw.extra_columns)
    return ValidationResult(
        table=raw.table,
        accepted=accepted,
        quarantine=quarantine,
        problems=problems,
        n_read=check.n_read,
        source=raw.source,
        extra_columns=list(raw.extra_columns),
        quarantined_ids=check.quarantined_ids,
    )


# --------------------------------------------------------------------------- files


@dataclass
class ValidationSummary:
    """Counts per table after :func:`validate_files`.

    Attributes
    ----------
    tables : dict of str to dict
        ``{table: {"read": n, "accepted": n, "quarantined": n}}``.
    out_dir : Path
        Where the files were written.
    results : dict of str to ValidationResult
        The final results. The ``accepted`` frame of a table read in more than one chunk holds
        only the columns the cross-table rules use (keys, dates, ``_row``, ``_source``), so that
        memory stays bounded; the whole table is in ``out_dir/<table>.csv``.
    ignored : dict of str to list of str
        Columns of each table that are not in the dictionary and were not read (each is one
        ``ignored_column`` row of ``problems.csv``).
    timings : dict of str to float
        Seconds spent reading, validating (table rules), on the cross-table rules and writing.
    """

    tables: dict[str, dict[str, int]]
    out_dir: Path
    results: dict[str, ValidationResult] = field(default_factory=dict, repr=False)
    ignored: dict[str, list[str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def n_read(self) -> int:
        return sum(t["read"] for t in self.tables.values())

    @property
    def n_accepted(self) -> int:
        return sum(t["accepted"] for t in self.tables.values())

    @property
    def n_quarantined(self) -> int:
        return sum(t["quarantined"] for t in self.tables.values())

    @property
    def n_problems(self) -> int:
        """Rows of ``problems.csv``: every problem found."""
        return sum(len(r.problems) for r in self.results.values()) + len(self.ignored)

    @property
    def n_on_accepted(self) -> int:
        """Problems (repairs) on rows that were accepted: in ``problems.csv`` only."""
        n = 0
        for r in self.results.values():
            if len(r.problems):
                rejected = set(zip(r.quarantine["source_file"], r.quarantine["row"]))
                n += sum(k not in rejected for k in zip(r.problems["source_file"], r.problems["row"]))
        return n

    def line(self) -> str:
        """One-line summary that also says how ``quarantine.csv`` and ``problems.csv`` differ,
        e.g. ``read 1234 rows, accepted 1200, quarantined 34 -> out/ (quarantine.csv: the 34
        rejected rows, one line each with its first problem; problems.csv: all 40 problems
        found, 2 of them repairs on accepted rows)``."""
        return (
            f"read {self.n_read} rows, accepted {self.n_accepted}, "
            f"quarantined {self.n_quarantined} -> {self.out_dir}/ "
            f"(quarantine.csv: the {self.n_quarantined} rejected rows, one line each with its "
            f"first problem; problems.csv: all {self.n_problems} problems found, "
            f"{self.n_on_accepted} of them repairs on accepted rows)"
            + "".join(f"; {t}: column(s) not read: {', '.join(map(repr, cols[:20]))}"
                      for t, cols in self.ignored.items())
        )


#: Columns of the accepted rows that the cross-table rules read (with the primary key).
_CROSS_COLUMNS = {
    "episodes": ["episode_id", "child_id", "start_date", "end_date"],
    "placements": ["episode_id", "placement_seq", "start_date", "end_date"],
    "followups": ["episode_id", "followup_date"],
}


class _Accepted:
    """The accepted rows of one table: in memory while they are one chunk, otherwise spilled
    to a private folder chunk by chunk, keeping in memory only what the cross-table rules
    read. ``_pos`` numbers the accepted rows so that those moved to quarantine by the
    cross-table rules can be left out when the table is written."""

    def __init__(self, table: str, spill: Path) -> None:
        from evaluation.data.dictionary import load_dictionary

        self.table, self.spill = table, spill
        self.keep = list(
            dict.fromkeys(
                [*load_dictionary().primary_key(table), *_CROSS_COLUMNS.get(table, []),
                 "_row", "_source", "_pos"]
            )
        )
        self.first: pd.DataFrame | None = None
        self.parts: list[tuple[Path, int]] = []
        self.compact: list[pd.DataFrame] = []
        self.n = 0

    def add(self, acc: pd.DataFrame) -> None:
        acc["_pos"] = np.arange(self.n, self.n + len(acc), dtype="int64")
        self.n += len(acc)
        if self.first is None and not self.parts:
            self.first = acc
            return
        if self.first is not None:
            self._spill(self.first)
            self.first = None
        self._spill(acc)

    def _spill(self, acc: pd.DataFrame) -> None:
        path = self.spill / f"{self.table}.{len(self.parts):05d}.pkl"
        acc.to_pickle(path)
        self.parts.append((path, len(acc)))
        self.compact.append(acc[[c for c in self.keep if c in acc.columns]])

    def frame(self) -> pd.DataFrame:
        if self.first is not None:
            return self.first
        return pd.concat(self.compact, ignore_index=True)

    def write(self, path: Path, kept: pd.Series) -> None:
        """Write the accepted rows whose ``_pos`` is in ``kept`` to ``path``."""
        keep = np.zeros(self.n, dtype=bool)
        keep[kept.to_numpy(dtype="int64")] = True
        drop = ["_row", "_source", "_pos"]
        if self.first is not None or not self.parts:
            df = self.first if self.first is not None else pd.DataFrame(columns=drop)
            write_csv(df.loc[keep[: len(df)]].drop(columns=drop), path, date_format="%Y-%m-%d")
            return
        start = 0
        for i, (part, n) in enumerate(self.parts):
            df = pd.read_pickle(part)  # our own file, written above
            part.unlink()
            write_csv(
                df.loc[keep[start : start + n]].drop(columns=drop),
                path,
                date_format="%Y-%m-%d",
                mode="w" if i == 0 else "a",
                header=i == 0,
            )
            start += n


def _open_masked(
    path: str | Path, table: str | None, chunk_rows: int | None
) -> dict[str, object]:
    """:func:`open_tables` of one file, its fatal errors with identity numbers masked (a file
    without a header row shows its first data row as column names)."""
    try:
        return open_tables(path, table, chunk_rows)
    except DataValidationError as err:
        raise DataValidationError(mask_identity_numbers(str(err))) from None


def _masked_chunks(stream: Iterable[RawTable]) -> Iterator[RawTable]:
    try:
        yield from stream
    except DataValidationError as err:
        raise DataValidationError(mask_identity_numbers(str(err))) from None


def validate_files(
    paths: str | Path | Iterable[str | Path],
    out_dir: str | Path,
    progress: bool | None = None,
    *,
    table: str | None = None,
    chunk_rows: int | None = CHUNK_ROWS,
) -> ValidationSummary:
    """Read, validate and write accepted tables, quarantine and problems.

    Parameters
    ----------
    paths : path or iterable of paths
        Input files (see :func:`evaluation.data.io.read_tables`).
    out_dir : str or Path
        Output folder (created): ``<table>.csv`` per table (UTF-8, ``,``, ISO dates, without
        ``_row``/``_source``), ``quarantine.csv`` and ``problems.csv`` (same columns).

        * ``quarantine.csv`` holds the **rejected rows**: one line per input row that was not
          accepted, with its first problem. Accepted + quarantined = read, per table.
        * ``problems.csv`` holds **every problem found**: all problems of a rejected row (a
          row may appear several times), and the repairs made on accepted rows (rule
          ``digit_code_repaired``, e.g. municipality code ``180`` read as ``0180``), which
          are not in ``quarantine.csv``.

        Messages are in Swedish (``message_sv``) and English (``message_en``); codes are
        listed by their drop-down labels, formats in words. Rows of a file written by
        ``evaluation pseudonymise`` are named by the file (and sheet) and row they came from
        (its ``source_file`` and ``source_row`` columns).
    progress : bool, optional
        Show a progress bar (one step per file opened, per table validated, cross-table rules)
        on standard error; default: only when standard error is a terminal.
    table : str, optional
        Read every file as this table (English or Swedish name; the CLI's ``--table``);
        default: the table set by :func:`evaluation.data.rawtable.forced_table`, else
        inferred per file.
    chunk_rows : int, optional
        Rows validated at a time (default :data:`~evaluation.data.csvread.CHUNK_ROWS`);
        ``None`` validates each table in one piece. The outputs do not depend on it.

    Returns
    -------
    ValidationSummary

    Raises
    ------
    DataValidationError
        On a fatal file problem (see :func:`evaluation.data.io.read_table`; identity numbers in
        its text are masked) or a table holding identity numbers (see :func:`validate_table`).
        Nothing is written to ``out_dir`` then.

    Notes
    -----
    Memory is bounded by the chunk size, not the file: a CSV file is read chunk by chunk,
    each chunk is validated and its accepted rows are set aside on disk; the primary keys seen
    and the columns the cross-table rules need are all that is kept of every row. Files of
    other formats are read whole, then validated in chunks.
    """
    import sys

    from tqdm import tqdm

    path_list = [paths] if isinstance(paths, str | Path) else list(paths)
    check_output_folder(out_dir, path_list)
    table = FORCED_TABLE.get() if table is None else check_table(table)
    show = sys.stderr.isatty() if progress is None else progress
    timings = dict.fromkeys(("read", "validate", "cross", "write"), 0.0)
    clock = time.perf_counter
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix=".validate-", dir=out))
    try:
        with tqdm(total=len(path_list), desc="validate", unit="step", disable=not show) as bar:
            streams: dict[str, object] = {}
            t0 = clock()
            for p in path_list:
                for t, st in _open_masked(p, table, chunk_rows).items():
                    if t in streams:
                        raise DataValidationError(
                            mask_identity_numbers(
                                f"table {t!r} given twice ({streams[t].source} and "
                                f"{st.source}); give each table in one file only."
                            )
                        )
                    streams[t] = st
                bar.update(1)
            # The header of every file is checked before any table is validated.
            chunks = {t: _masked_chunks(st) for t, st in streams.items()}
            firsts = {t: next(it) for t, it in chunks.items()}
            timings["read"] += clock() - t0
            bar.total += len(streams) + 1
            bar.refresh()
            results: dict[str, ValidationResult] = {}
            stores: dict[str, _Accepted] = {}
            for t, st in streams.items():
                check = TableCheck(t, st.source)
                store = stores[t] = _Accepted(t, spill)
                it = chain([firsts.pop(t)], chunks[t])
                while True:
                    t0 = clock()
                    raw = next(it, None)
                    t1 = clock()
                    timings["read"] += t1 - t0
                    if raw is None:
                        break
                    acc = check.feed(raw)
                    t2 = clock()
                    timings["validate"] += t2 - t1
                    if not check.refused:
                        store.add(acc)
                    timings["write"] += clock() - t2
                quarantine, problems = check.finish(st.extra_columns)
                results[t] = ValidationResult(
                    table=t,
                    accepted=store.frame(),
                    quarantine=quarantine,
                    problems=problems,
                    n_read=check.n_read,
                    source=st.source,
                    extra_columns=list(st.extra_columns),
                    quarantined_ids=check.quarantined_ids,
                )
                bar.update(1)
            t0 = clock()
            results = validate_dataset(results)
            timings["cross"] += clock() - t0
            bar.update(1)
        t0 = clock()
        for t, res in results.items():
            stores[t].write(out / f"{t}.csv", res.accepted["_pos"])
            res.accepted = res.accepted.drop(columns="_pos")
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(spill, ignore_errors=True)
    quarantine = [r.quarantine for r in results.values() if len(r.quarantine)]
    problems = [r.problems for r in results.values() if len(r.problems)]
    ignored = {
        t: [str(c) for c in st.extra_columns] for t, st in streams.items() if st.extra_columns
    }
    notes = []   # columns the user added are not read: say so (problems.csv only)
    for t, st in streams.items():
        raw = RawTable(t, pd.DataFrame(), st.source, [], extra_columns=list(st.extra_columns),
                       header_row=st.header_row)
        msg = raw.ignored_columns_messages()
        if msg:
            notes.append({"source_file": st.source, "row": st.header_row, "table": t,
                          "column": ", ".join(map(str, st.extra_columns)), "value": "",
                          "rule": "ignored_column", "message_sv": msg[0], "message_en": msg[1]})
    if notes:
        problems.append(pd.DataFrame(notes, columns=QUARANTINE_COLUMNS))
    write_csv(
        pd.concat(quarantine, ignore_index=True) if quarantine else empty_quarantine(),
        out / "quarantine.csv",
        mask=True,
    )
    write_csv(
        pd.concat(problems, ignore_index=True) if problems else empty_quarantine(),
        out / "problems.csv",
        mask=True,
    )
    timings["write"] += clock() - t0
    tables = {
        t: {"read": r.n_read, "accepted": r.n_accepted, "quarantined": r.n_quarantined}
        for t, r in results.items()
    }
    return ValidationSummary(
        tables=tables, out_dir=out, results=results, ignored=ignored, timings=timings
    )
