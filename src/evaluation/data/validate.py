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
:mod:`evaluation.data.crosscheck` applies the cross-table rules; this module validates a table
row by row and runs the whole check on files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.io import read_tables
from evaluation.data.rawtable import PERSONNUMMER, QUARANTINE_COLUMNS, RawTable
from evaluation.data.rules import (
    MASK,
    MAX_VALUE_CHARS,
    CellError,
    ValidationResult,
    code_lookup,
    display_value,
    empty_quarantine,
    parse_cell,
    problems_frame,
    repair_cell,
    rule_messages,
    typed_series,
)
from evaluation.data.safe_text import (
    check_output_folder,
    find_identity_numbers,
    is_identity_header,
    mask_identity_numbers,
    write_csv,
)
from evaluation.errors import DataValidationError

__all__ = [
    "REFUSE_SHARE",
    "ValidationSummary",
    "validate_files",
    "validate_table",
]


#: A column in which at least this share of the filled cells hold valid identity numbers makes
#: the whole file refused as an unpseudonymised extract; rarer ones quarantine their rows.
REFUSE_SHARE = 0.5

_PSEUDONYMISE_FIRST_SV = (
    "Kör `evaluation pseudonymise` på råextraktet först och validera sedan dess utdata "
    "(numren visas aldrig)."
)
_PSEUDONYMISE_FIRST_EN = (
    "Run `evaluation pseudonymise` on the raw extract first, then validate its output "
    "(the numbers are never shown)."
)


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (f" … ({len(rows)})" if len(rows) > 5 else "")


def _refuse_identity(source: str, column: str, rows: list[int] | None, n: int | None) -> None:
    where_sv = f"kolumnen {column}" + (f", rad {_rows_text(rows)}" if rows else "")
    where_en = f"column {column}" + (f", row {_rows_text(rows)}" if rows else "")
    what_sv = (
        f"{n} ifyllda celler med personnummer/samordningsnummer" if n is not None
        else "en kolumn med personnummer/samordningsnummer"
    )
    what_en = (
        f"{n} filled cells with personal identity/coordination numbers" if n is not None
        else "a column of personal identity/coordination numbers"
    )
    raise DataValidationError(
        f"{source}: [{where_sv}; regel identity_number] Filen innehåller {what_sv} och "
        f"valideras inte. {_PSEUDONYMISE_FIRST_SV} / [{where_en}; rule identity_number] The "
        f"file holds {what_en} and is not validated. {_PSEUDONYMISE_FIRST_EN}"
    )


def _identity_hits(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Positions of the cells holding a valid identity number, per column (only columns with
    any). Each distinct value is checked once."""
    hits: dict[str, np.ndarray] = {}
    for c in data.columns:
        col = data[c]
        filled = col[col.notna()]
        if filled.empty:
            continue
        found = [u for u in pd.unique(filled.astype(str)) if find_identity_numbers(u)]
        if found:
            hits[c] = np.flatnonzero(col.astype(object).isin(found).to_numpy())
    return hits


def _check_identity_numbers(raw: RawTable, direct: list[str]) -> dict[str, np.ndarray]:
    """Refuse a table that holds identity numbers as a column; return stray ones by column.

    Raises
    ------
    DataValidationError
        If a personnummer-like column (by header: a direct identifier of the dictionary or an
        extra column such as ``pnr``) has any filled cell, or if some column holds valid identity
        numbers in at least :data:`REFUSE_SHARE` of its filled cells.
    """
    data = raw.data
    rows = list(raw.row_numbers) if len(raw.row_numbers) == len(data) else None
    rows = rows or list(range(2, len(data) + 2))
    for c in data.columns:
        if c in direct or is_identity_header(c):
            filled = np.flatnonzero(data[c].notna().to_numpy())
            if len(filled):
                _refuse_identity(
                    raw.source, mask_identity_numbers(c), [rows[i] for i in filled], len(filled)
                )
    for c in raw.extra_columns:
        if is_identity_header(c):
            _refuse_identity(raw.source, mask_identity_numbers(c), None, None)
    hits = _identity_hits(data.drop(columns=[c for c in data.columns if c in direct]))
    for c, pos in hits.items():
        n_filled = int(data[c].notna().sum())
        if len(pos) >= REFUSE_SHARE * n_filled:
            _refuse_identity(
                raw.source, mask_identity_numbers(c), [rows[i] for i in pos], len(pos)
            )
    return hits


class _Problems:
    """Collects problems as dicts keyed by row position."""

    def __init__(self, table: str, source: str, rows: list[int]) -> None:
        self.table, self.source, self.rows = table, source, rows
        self.items: list[tuple[int, dict[str, Any]]] = []
        #: Repairs: problems that do not reject their row.
        self.notes: list[tuple[int, dict[str, Any]]] = []

    def add(
        self, pos: int, column: str, value: str, rule: str, *, note: bool = False, **kw: Any
    ) -> None:
        sv, en = rule_messages(rule, column, value, **kw)
        (self.notes if note else self.items).append(
            (
                pos,
                {
                    "source_file": self.source,
                    "row": self.rows[pos],
                    "table": self.table,
                    "column": column,
                    "value": mask_identity_numbers(value)[:MAX_VALUE_CHARS],
                    "rule": rule,
                    "message_sv": sv,
                    "message_en": en,
                },
            )
        )


def _row_rule_text(rule: str) -> tuple[str, str]:
    r = load_dictionary().rule(rule)
    return r["description"]["sv"], r["description"]["en"]


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
    keep the first otherwise valid row.
    """
    if raw.table not in TABLES:
        raise DataValidationError(f"{raw.source}: unknown table {raw.table!r}.")
    d = load_dictionary()
    cols = d.table(raw.table)
    data = raw.data
    n = len(data)
    rows = list(raw.row_numbers)
    if len(rows) != n:
        rows = list(range(2, n + 2))
    probs = _Problems(raw.table, raw.source, rows)
    direct = sorted({PERSONNUMMER, *(c for c, col in cols.items() if col.is_direct_identifier)})
    stray = _check_identity_numbers(raw, direct)
    flagged: dict[str, set[int]] = {}
    for c, positions in stray.items():
        for pos in positions:
            probs.add(int(pos), c, str(data[c].iat[pos]), "identity_number")
        flagged[c] = {int(p) for p in positions}
    truthy = {v.casefold() for v in d.true_values}
    falsy = {v.casefold() for v in d.false_values}

    for pos, nf in sorted(raw.field_counts.items()):
        if pos in raw.row_problems:   # told below, with the reader's own rule and words
            continue
        probs.add(
            pos, "", "", "field_count", n=nf, width=len(data.columns) + len(raw.extra_columns)
        )
    for pos, (rule, sv, en) in sorted(raw.row_problems.items()):
        probs.add(pos, "", "", rule, sv=sv, en=en)

    typed: dict[str, Any] = {}
    bad: dict[str, np.ndarray] = {}
    for name, col in cols.items():
        if name in direct:
            continue
        values: list[Any] = [None] * n
        bad_col = np.zeros(n, dtype=bool)
        if name in data.columns:
            raw_values = data[name].tolist()
            codes = code_lookup(col) if col.type == "code" else {}
            cache: dict[str, Any] = {}
            skip = flagged.get(name, set())
            for pos, v in enumerate(raw_values):
                if pos in skip:
                    bad_col[pos] = True
                    continue
                if not isinstance(v, str):
                    if v is None or (isinstance(v, float) and np.isnan(v)):
                        v = None
                    else:
                        v = str(v)
                if v is None or v.strip() == "":
                    if col.required:
                        probs.add(pos, name, "", "required")
                        bad_col[pos] = True
                    continue
                if v not in cache:
                    fixed = repair_cell(v, col)
                    try:
                        parsed = parse_cell(fixed or v, col, codes, truthy, falsy)
                        cache[v] = ("ok", parsed) if fixed is None else ("fixed", parsed)
                    except CellError as err:
                        cache[v] = ("err", err)
                kind, out = cache[v]
                if kind == "fixed":
                    probs.add(pos, name, v, "digit_code_repaired", note=True, repaired=out)
                if kind in ("ok", "fixed"):
                    values[pos] = out
                else:
                    shown = MASK if col.is_direct_identifier else v
                    kw = dict(out.kw)
                    probs.add(pos, name, shown, out.rule, **kw)
                    bad_col[pos] = True
        elif col.required:
            for pos in range(n):
                probs.add(pos, name, "", "required")
                bad_col[pos] = True
        typed[name] = typed_series(values, col)
        bad[name] = bad_col

    acc = pd.DataFrame(
        {
            k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
            for k, v in typed.items()
        },
        index=range(n),
    )
    raw_text = {c: data[c].tolist() for c in data.columns}

    def shown(name: str, pos: int) -> str:
        if name not in raw_text:
            return ""
        return display_value(raw_text[name][pos], cols.get(name))

    def ok(*names: str) -> np.ndarray:
        m = np.ones(n, dtype=bool)
        for c in names:
            if c in bad:
                m &= ~bad[c]
        return m

    if "start_date" in acc and "end_date" in acc and raw.table in ("episodes", "placements"):
        viol = (acc["end_date"] < acc["start_date"]).to_numpy() & ok("start_date", "end_date")
        sv, en = _row_rule_text("end_not_before_start")
        for pos in np.flatnonzero(viol):
            probs.add(
                pos,
                "end_date",
                shown("end_date", pos),
                "end_not_before_start",
                sv=f"{sv} (slutdatum {shown('end_date', pos)}, startdatum "
                f"{shown('start_date', pos)})",
                en=f"{en} (end date {shown('end_date', pos)}, start date "
                f"{shown('start_date', pos)})",
            )

    if raw.table == "episodes":
        rule = d.rule("age_at_start")
        lo, hi = rule.get("min_age", 0), rule.get("max_age", 20)
        age = acc["start_date"].dt.year.astype("Int64") - acc["birth_year"]
        viol = ((age < lo) | (age > hi)).fillna(False).to_numpy(dtype=bool)
        for pos in np.flatnonzero(viol):
            a = int(age.iloc[pos])
            probs.add(
                pos,
                "birth_year",
                shown("birth_year", pos),
                "age_at_start",
                sv=f"Ålder vid start {a} år ligger utanför {lo}–{hi}",
                en=f"Age at start {a} years is outside {lo}–{hi}",
            )

        has_end = acc["end_date"].notna().to_numpy()
        has_reason = acc["end_reason"].notna().to_numpy()
        viol = (has_end != has_reason) & ok("end_date", "end_reason")
        for pos in np.flatnonzero(viol):
            if has_end[pos]:
                sv, en = (
                    "Slutdatum finns men avslutsorsak saknas",
                    "End date given but end reason missing",
                )
                probs.add(pos, "end_reason", "", "end_reason_with_end_date", sv=sv, en=en)
            else:
                sv, en = (
                    "Avslutsorsak finns men slutdatum saknas",
                    "End reason given but end date missing",
                )
                probs.add(
                    pos,
                    "end_reason",
                    shown("end_reason", pos),
                    "end_reason_with_end_date",
                    sv=sv,
                    en=en,
                )

        planned = d.planned_codes()
        expected = pd.array(
            [None if pd.isna(r) else (r in planned) for r in acc["end_reason"]], dtype="boolean"
        )
        given = acc["planned_ending"]
        viol = np.zeros(n, dtype=bool)
        for pos in range(n):
            if pd.isna(given.iloc[pos]) or bad["planned_ending"][pos] or bad["end_reason"][pos]:
                continue
            if pd.isna(expected[pos]) or bool(given.iloc[pos]) != bool(expected[pos]):
                viol[pos] = True
        for pos in np.flatnonzero(viol):
            exp = "tom" if pd.isna(expected[pos]) else ("ja" if expected[pos] else "nej")
            exp_en = "empty" if pd.isna(expected[pos]) else ("yes" if expected[pos] else "no")
            probs.add(
                pos,
                "planned_ending",
                shown("planned_ending", pos),
                "planned_ending_derived",
                sv=f"Planerat avslut '{shown('planned_ending', pos)}' stämmer inte med "
                f"avslutsorsaken '{shown('end_reason', pos)}' (väntat: {exp})",
                en=f"Planned ending '{shown('planned_ending', pos)}' does not agree with "
                f"end reason '{shown('end_reason', pos)}' (expected: {exp_en})",
            )
        acc["planned_ending"] = given.where(given.notna(), expected)

    # unique_key among rows without other problems: the first such row is kept.
    key = d.primary_key(raw.table)
    rejected = np.zeros(n, dtype=bool)
    for pos, _ in probs.items:
        rejected[pos] = True
    if n and all(k in acc for k in key):
        cand = acc.loc[~rejected, key]
        dup = cand.duplicated(keep="first")
        for pos in cand.index[dup.to_numpy()]:
            kv = ", ".join(f"{k}={display_value(acc.at[pos, k], cols[k])}" for k in key)
            probs.add(
                int(pos),
                key[0],
                shown(key[0], int(pos)),
                "unique_key",
                sv=f"Primärnyckeln förekommer redan ({kv})",
                en=f"Duplicate primary key ({kv})",
            )

    first: dict[int, dict[str, Any]] = {}
    for pos, p in probs.items:
        first.setdefault(pos, p)
    # Repairs are listed only for rows that are accepted: a quarantined row is not repaired.
    notes = [(pos, p) for pos, p in probs.notes if pos not in first]
    problems = problems_frame([p for _, p in probs.items + notes])
    quarantine = problems_frame([first[p] for p in sorted(first)])
    keep = np.array([pos not in first for pos in range(n)], dtype=bool)
    quarantined_ids: dict[str, tuple[str, int, str]] = {}
    if key and key[0] in data.columns:
        ids = data[key[0]].tolist()
        for pos in sorted(first):
            v = ids[pos]
            if isinstance(v, str) and v.strip():
                quarantined_ids.setdefault(
                    v.strip(), (raw.source, int(rows[pos]), str(first[pos]["rule"]))
                )
    acc["_row"] = pd.array(rows, dtype="int64") if n else pd.array([], dtype="int64")
    acc["_source"] = raw.source
    accepted = acc.loc[keep].reset_index(drop=True)
    return ValidationResult(
        table=raw.table,
        accepted=accepted,
        quarantine=quarantine,
        problems=problems,
        n_read=n,
        source=raw.source,
        extra_columns=list(raw.extra_columns),
        quarantined_ids=quarantined_ids,
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
        The final results.
    ignored : dict of str to list of str
        Columns of each table that are not in the dictionary and were not read (each is one
        ``ignored_column`` row of ``problems.csv``).
    """

    tables: dict[str, dict[str, int]]
    out_dir: Path
    results: dict[str, ValidationResult] = field(default_factory=dict, repr=False)
    ignored: dict[str, list[str]] = field(default_factory=dict)

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


def _read_masked(path: str | Path) -> dict[str, RawTable]:
    """:func:`read_tables` of one file, its fatal errors with identity numbers masked (a file
    without a header row shows its first data row as column names)."""
    try:
        return read_tables([path])
    except DataValidationError as err:
        raise DataValidationError(mask_identity_numbers(str(err))) from None


def validate_files(
    paths: str | Path | Iterable[str | Path],
    out_dir: str | Path,
    progress: bool | None = None,
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
        listed by their drop-down labels, formats in words.
    progress : bool, optional
        Show a progress bar (one step per file read, per table validated, cross-table rules
        and writing) on standard error; default: only when standard error is a terminal.

    Returns
    -------
    ValidationSummary

    Raises
    ------
    DataValidationError
        On a fatal file problem (see :func:`evaluation.data.io.read_table`; identity numbers in
        its text are masked) or a table holding identity numbers (see :func:`validate_table`).
    """
    import sys

    from tqdm import tqdm

    path_list = [paths] if isinstance(paths, str | Path) else list(paths)
    check_output_folder(out_dir, path_list)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(path_list), desc="validate", unit="step", disable=not show) as bar:
        raws: dict[str, RawTable] = {}
        for p in path_list:
            for t, r in _read_masked(p).items():
                if t in raws:
                    raise DataValidationError(
                        mask_identity_numbers(
                            f"table {t!r} given twice ({raws[t].source} and {r.source}); give "
                            "each table in one file only."
                        )
                    )
                raws[t] = r
            bar.update(1)
        bar.total += len(raws) + 1
        bar.refresh()
        results = {}
        for t, r in raws.items():
            results[t] = validate_table(r)
            bar.update(1)
        results = validate_dataset(results)
        bar.update(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for t, res in results.items():
        write_csv(
            res.accepted.drop(columns=["_row", "_source"]),
            out / f"{t}.csv",
            date_format="%Y-%m-%d",
        )
    quarantine = [r.quarantine for r in results.values() if len(r.quarantine)]
    problems = [r.problems for r in results.values() if len(r.problems)]
    ignored = {t: [str(c) for c in r.extra_columns] for t, r in raws.items() if r.extra_columns}
    notes = []   # columns the user added are not read: say so (problems.csv only)
    for t, r in raws.items():
        msg = r.ignored_columns_messages()
        if msg:
            notes.append({"source_file": r.source, "row": r.header_row, "table": t,
                          "column": ", ".join(map(str, r.extra_columns)), "value": "",
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
    tables = {
        t: {"read": r.n_read, "accepted": r.n_accepted, "quarantined": r.n_quarantined}
        for t, r in results.items()
    }
    return ValidationSummary(tables=tables, out_dir=out, results=results, ignored=ignored)
