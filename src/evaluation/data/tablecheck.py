"""Validation of one table, chunk by chunk: cells, row rules, unique keys and identity numbers.

:class:`TableCheck` takes the rows of a table in chunks (:class:`RawTable` pieces in file
order) and returns the accepted rows of each; what a rule needs across chunks is kept in
compact form (the primary keys seen, counts of identity numbers per column). Quarantine and
problems are the same as for the table in one piece: problems are put back in the order one
piece gives (by rule, column and row). Each distinct value of a column is parsed once.

Rule ids are listed in :mod:`evaluation.data.validate`, which uses this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.rawtable import PERSONNUMMER, RawTable
from evaluation.data.rules import (
    MASK,
    MAX_VALUE_CHARS,
    CellError,
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
    find_identity_numbers,
    is_identity_header,
    mask_identity_numbers,
)
from evaluation.errors import DataValidationError

__all__ = ["REFUSE_SHARE", "TableCheck"]

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
# Order in which one piece lists the problems of a table (then by column, then by row).
_IDENTITY, _FIELDS, _READER, _CELLS, _END, _AGE, _REASON, _PLANNED, _KEY = range(9)
_EMPTY, _OK, _FIXED, _ERR, _SKIP = range(5)


def _rows_text(rows: list[int], n: int) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (f" … ({n})" if n > 5 else "")


def _refuse_identity(source: str, column: str, rows: list[int] | None, n: int | None) -> None:
    where_sv = f"kolumnen {column}" + (f", rad {_rows_text(rows, n or 0)}" if rows else "")
    where_en = f"column {column}" + (f", row {_rows_text(rows, n or 0)}" if rows else "")
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


class _Count:
    """Cells counted across chunks: how many, and the first row numbers."""

    def __init__(self) -> None:
        self.n, self.filled, self.rows = 0, 0, []

    def add(self, rows: list[int]) -> None:
        self.n += len(rows)
        self.rows += rows[: max(0, 5 - len(self.rows))]


def _typed(kinds: np.ndarray, codes: np.ndarray, parsed: list[Any], col: Any) -> Any:
    """The typed column from the parsed distinct values (``codes`` index ``parsed``)."""
    n = len(codes)
    good = (kinds == _OK) | (kinds == _FIXED)
    idx = np.where(good, codes, 0)
    if col.type == "date":
        u = np.array(
            [v.to_datetime64() if isinstance(v, pd.Timestamp) else np.datetime64("NaT") for v in parsed]
            or [np.datetime64("NaT")],
            dtype="datetime64[ns]",
        )
        out = np.where(good, u[idx], np.datetime64("NaT", "ns"))
        return pd.Series(out, dtype="datetime64[ns]")
    if col.type == "integer":
        u = np.array([v if isinstance(v, int) else 0 for v in parsed] or [0], dtype="int64")
        return pd.arrays.IntegerArray(np.where(good, u[idx], 0), ~good)
    if col.type == "number":
        u = np.array([v if isinstance(v, float) else np.nan for v in parsed] or [np.nan])
        return pd.Series(np.where(good, u[idx], np.nan), dtype="float64")
    if col.type == "boolean":
        u = np.array([v is True for v in parsed] or [False], dtype=bool)
        return pd.arrays.BooleanArray(np.where(good, u[idx], False), ~good)
    u = np.empty(len(parsed) + 1, dtype=object)
    u[: len(parsed)] = parsed
    u[len(parsed)] = np.nan
    return pd.Series(u[np.where(good, codes, len(parsed))] if n else u[:0], dtype=object)


class TableCheck:
    """Validate the rows of one table given in chunks.

    Parameters
    ----------
    table : str
        Dictionary table name.
    source : str
        File name shown in quarantine and messages.

    Notes
    -----
    Call :meth:`feed` with each chunk in file order, then :meth:`finish`. A file that holds
    identity numbers as a column is refused by :meth:`finish` (after the last chunk); once it is
    certain to be refused, later chunks are only counted.
    """

    def __init__(self, table: str, source: str) -> None:
        if table not in TABLES:
            raise DataValidationError(f"{source}: unknown table {table!r}.")
        d = load_dictionary()
        self.table, self.source = table, source
        self.cols = d.table(table)
        self.direct = sorted(
            {PERSONNUMMER, *(c for c, col in self.cols.items() if col.is_direct_identifier)}
        )
        self.key = d.primary_key(table)
        self.truthy = {v.casefold() for v in d.true_values}
        self.falsy = {v.casefold() for v in d.false_values}
        self.planned = d.planned_codes()
        self.age_rule = d.rule("age_at_start")
        self.n_read = 0
        self.n_accepted = 0
        self.items: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        self.notes: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        self.quarantine: list[pd.DataFrame] = []
        self.quarantined_ids: dict[str, tuple[str, int, str]] = {}
        self.identity_columns: dict[str, _Count] = {}
        self.hits: dict[str, _Count] = {}
        self.extra_columns: list[str] = []
        self._seen: set[Any] = set()
        self._refused = False
        rule = d.rule("end_not_before_start")
        self._end_text = (rule["description"]["sv"], rule["description"]["en"])

    # ------------------------------------------------------------------ identity numbers

    def _count_identity(
        self, raw: RawTable, rows: list[int], factors: dict[str, tuple[np.ndarray, list[str]]]
    ) -> dict[str, np.ndarray]:
        """Count identity numbers of this chunk; return the stray ones (positions by column)."""
        data = raw.data
        for c in data.columns:
            if c in self.direct or is_identity_header(c):
                filled = np.flatnonzero(data[c].notna().to_numpy())
                self.identity_columns.setdefault(c, _Count()).add([rows[i] for i in filled])
        self.extra_columns = list(raw.extra_columns)
        if any(n.n for n in self.identity_columns.values()) or any(
            is_identity_header(c) for c in raw.extra_columns
        ):
            self._refused = True  # refused whatever the other chunks hold
            return {}
        hits: dict[str, np.ndarray] = {}
        for c, (codes, texts) in factors.items():
            count = self.hits.setdefault(c, _Count())
            count.filled += int((codes >= 0).sum())
            found = [j for j, t in enumerate(texts) if find_identity_numbers(t)]
            if found:
                pos = np.flatnonzero(np.isin(codes, found))
                hits[c] = pos
                count.add([rows[i] for i in pos])
        return hits

    def _refuse(self) -> None:
        """Raise when the table holds identity numbers as a column (see validate_table)."""
        for c, cnt in self.identity_columns.items():
            if cnt.n:
                _refuse_identity(self.source, mask_identity_numbers(c), cnt.rows, cnt.n)
        for c in self.extra_columns:
            if is_identity_header(c):
                _refuse_identity(self.source, mask_identity_numbers(c), None, None)
        for c, cnt in self.hits.items():
            if cnt.n and cnt.n >= REFUSE_SHARE * cnt.filled:
                _refuse_identity(self.source, mask_identity_numbers(c), cnt.rows, cnt.n)

    # ------------------------------------------------------------------ chunks

    def feed(self, raw: RawTable) -> pd.DataFrame:
        """Validate the next chunk; return its accepted rows (typed, with ``_row`` and
        ``_source``)."""
        data = raw.data
        n = len(data)
        off = self.n_read
        self.n_read += n
        rows = list(raw.row_numbers)
        if len(rows) != n:
            rows = list(range(off + 2, off + n + 2))
        factors: dict[str, tuple[np.ndarray, list[str]]] = {}
        for c in data.columns:
            if c not in self.direct and not self._refused:
                codes, uniq = pd.factorize(data[c].to_numpy(dtype=object), use_na_sentinel=True)
                factors[c] = (codes, [u if isinstance(u, str) else str(u) for u in uniq])
        sources = raw.row_sources if raw.row_sources and len(raw.row_sources) == n else None
        stray = self._count_identity(raw, rows, factors)
        if self._refused:
            return pd.DataFrame()
        items: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        notes: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        cols = self.cols

        def add(phase: int, sub: int, pos: int, column: str, value: str, rule: str,
                note: bool = False, **kw: Any) -> None:
            sv, en = rule_messages(rule, column, value, **kw)
            (notes if note else items).append(((phase, sub, off + pos), {
                "source_file": sources[pos] if sources else self.source,
                "row": rows[pos],
                "table": self.table,
                "column": column,
                "value": mask_identity_numbers(value)[:MAX_VALUE_CHARS],
                "rule": rule,
                "message_sv": sv,
                "message_en": en,
            }))

        columns = list(data.columns)
        flagged: dict[str, np.ndarray] = {}
        for c, positions in stray.items():
            for pos in positions:
                add(_IDENTITY, columns.index(c), int(pos), c, str(data[c].iat[pos]),
                    "identity_number")
            flagged[c] = positions
        width = len(data.columns) + len(raw.extra_columns)
        for pos, nf in sorted(raw.field_counts.items()):
            if pos not in raw.row_problems:  # told below, with the reader's own rule and words
                add(_FIELDS, 0, pos, "", "", "field_count", n=nf, width=width)
        for pos, (rule, sv, en) in sorted(raw.row_problems.items()):
            add(_READER, 0, pos, "", "", rule, sv=sv, en=en)

        typed: dict[str, Any] = {}
        bad: dict[str, np.ndarray] = {}
        for ci, (name, col) in enumerate(cols.items()):
            if name in self.direct:
                continue
            bad_col = np.zeros(n, dtype=bool)
            if name not in data.columns:
                if col.required:
                    for pos in range(n):
                        add(_CELLS, ci, pos, name, "", "required")
                    bad_col[:] = True
                typed[name] = typed_series([None] * n, col)
                bad[name] = bad_col
                continue
            codes, texts = factors[name]
            lookup = code_lookup(col) if col.type == "code" else {}
            ukind = np.empty(len(texts), dtype=np.int8)
            parsed: list[Any] = [None] * len(texts)
            for j, v in enumerate(texts):
                if v.strip() == "":
                    ukind[j] = _EMPTY
                    continue
                fixed = repair_cell(v, col)
                try:
                    parsed[j] = parse_cell(fixed or v, col, lookup, self.truthy, self.falsy)
                    ukind[j] = _OK if fixed is None else _FIXED
                except CellError as err:
                    parsed[j] = err
                    ukind[j] = _ERR
            kinds = np.where(codes < 0, _EMPTY, ukind[np.maximum(codes, 0)] if len(texts) else 0)
            if name in flagged:
                kinds[flagged[name]] = _SKIP
                bad_col[flagged[name]] = True
            empty_bad = (kinds == _EMPTY) & bool(col.required)
            bad_col |= (kinds == _ERR) | empty_bad
            for pos in np.flatnonzero(empty_bad | (kinds == _FIXED) | (kinds == _ERR)):
                k = kinds[pos]
                if k == _EMPTY:
                    add(_CELLS, ci, int(pos), name, "", "required")
                    continue
                v, out = texts[codes[pos]], parsed[codes[pos]]
                if k == _FIXED:
                    add(_CELLS, ci, int(pos), name, v, "digit_code_repaired", note=True,
                        repaired=out)
                else:
                    shown = MASK if col.is_direct_identifier else v
                    add(_CELLS, ci, int(pos), name, shown, out.rule, **dict(out.kw))
            typed[name] = _typed(kinds, codes, parsed, col)
            bad[name] = bad_col

        acc = pd.DataFrame(
            {k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
             for k, v in typed.items()},
            index=range(n),
        )
        self._row_rules(data, acc, bad, add)

        # unique_key among rows without other problems: the first such row is kept.
        rejected = np.zeros(n, dtype=bool)
        for (_, _, g), _p in items:
            rejected[g - off] = True
        key = self.key
        if n and all(k in acc for k in key):
            cand = acc.loc[~rejected, key]
            values = []
            for k in key:
                s = cand[k]
                if s.dtype.kind == "M":
                    values.append(s.to_numpy().astype("int64").tolist())
                elif isinstance(s.dtype, pd.Int64Dtype):
                    values.append(s.to_numpy(dtype="int64", na_value=0).tolist())
                else:
                    values.append(s.tolist())
            keys = values[0] if len(key) == 1 else list(zip(*values))
            seen = self._seen
            for pos, kv_ in zip(cand.index, keys):
                if kv_ not in seen:
                    seen.add(kv_)
                    continue
                kv = ", ".join(f"{k}={display_value(acc.at[pos, k], cols[k])}" for k in key)
                add(_KEY, 0, int(pos), key[0], self._shown(data, key[0], int(pos)), "unique_key",
                    sv=f"Primärnyckeln förekommer redan ({kv})",
                    en=f"Duplicate primary key ({kv})")

        first: dict[int, dict[str, Any]] = {}
        for (_, _, g), p in items:
            first.setdefault(g - off, p)
        # Repairs are listed only for rows that are accepted: a quarantined row is not repaired.
        self.items += items
        self.notes += [(k, p) for k, p in notes if k[2] - off not in first]
        if first:
            self.quarantine.append(problems_frame([first[p] for p in sorted(first)]))
        if key and key[0] in data.columns:
            ids = data[key[0]]
            for pos in sorted(first):
                v = ids.iat[pos]
                if isinstance(v, str) and v.strip():
                    self.quarantined_ids.setdefault(
                        v.strip(),
                        (sources[pos] if sources else self.source, int(rows[pos]),
                         str(first[pos]["rule"])),
                    )
        keep = np.ones(n, dtype=bool)
        keep[list(first)] = False
        acc["_row"] = pd.array(rows, dtype="int64") if n else pd.array([], dtype="int64")
        acc["_source"] = np.array(sources, dtype=object) if sources else self.source
        accepted = acc.loc[keep].reset_index(drop=True)
        self.n_accepted += len(accepted)
        return accepted

    @property
    def refused(self) -> bool:
        """Whether the table is certain to be refused (identity numbers as a column)."""
        return self._refused

    def _shown(self, data: pd.DataFrame, name: str, pos: int) -> str:
        if name not in data.columns:
            return ""
        return display_value(data[name].iat[pos], self.cols.get(name))

    def _row_rules(self, data: pd.DataFrame, acc: pd.DataFrame, bad: dict[str, np.ndarray],
                   add: Any) -> None:
        n = len(acc)

        def shown(name: str, pos: int) -> str:
            return self._shown(data, name, pos)

        def ok(*names: str) -> np.ndarray:
            m = np.ones(n, dtype=bool)
            for c in names:
                if c in bad:
                    m &= ~bad[c]
            return m

        if "start_date" in acc and "end_date" in acc and self.table in ("episodes", "placements"):
            viol = (acc["end_date"] < acc["start_date"]).to_numpy() & ok("start_date", "end_date")
            sv, en = self._end_text
            for pos in np.flatnonzero(viol):
                add(_END, 0, int(pos), "end_date", shown("end_date", pos), "end_not_before_start",
                    sv=f"{sv} (slutdatum {shown('end_date', pos)}, startdatum "
                    f"{shown('start_date', pos)})",
                    en=f"{en} (end date {shown('end_date', pos)}, start date "
                    f"{shown('start_date', pos)})")
        if self.table != "episodes":
            return
        lo, hi = self.age_rule.get("min_age", 0), self.age_rule.get("max_age", 20)
        age = acc["start_date"].dt.year.astype("Int64") - acc["birth_year"]
        viol = ((age < lo) | (age > hi)).fillna(False).to_numpy(dtype=bool)
        for pos in np.flatnonzero(viol):
            a = int(age.iloc[pos])
            add(_AGE, 0, int(pos), "birth_year", shown("birth_year", pos), "age_at_start",
                sv=f"Ålder vid start {a} år ligger utanför {lo}–{hi}",
                en=f"Age at start {a} years is outside {lo}–{hi}")

        has_end = acc["end_date"].notna().to_numpy()
        has_reason = acc["end_reason"].notna().to_numpy()
        viol = (has_end != has_reason) & ok("end_date", "end_reason")
        for pos in np.flatnonzero(viol):
            if has_end[pos]:
                add(_REASON, 0, int(pos), "end_reason", "", "end_reason_with_end_date",
                    sv="Slutdatum finns men avslutsorsak saknas",
                    en="End date given but end reason missing")
            else:
                add(_REASON, 0, int(pos), "end_reason", shown("end_reason", pos),
                    "end_reason_with_end_date", sv="Avslutsorsak finns men slutdatum saknas",
                    en="End reason given but end date missing")

        reason = acc["end_reason"]
        e_na = reason.isna().to_numpy()
        e_val = reason.isin(self.planned).to_numpy() & ~e_na
        expected = pd.arrays.BooleanArray(e_val, e_na)
        given = acc["planned_ending"]
        g_na = given.isna().to_numpy()
        g_val = given.fillna(False).to_numpy(dtype=bool)
        viol = ~g_na & ~bad["planned_ending"] & ~bad["end_reason"] & (e_na | (g_val != e_val))
        for pos in np.flatnonzero(viol):
            exp = "tom" if e_na[pos] else ("ja" if e_val[pos] else "nej")
            exp_en = "empty" if e_na[pos] else ("yes" if e_val[pos] else "no")
            add(_PLANNED, 0, int(pos), "planned_ending", shown("planned_ending", pos),
                "planned_ending_derived",
                sv=f"Planerat avslut '{shown('planned_ending', pos)}' stämmer inte med "
                f"avslutsorsaken '{shown('end_reason', pos)}' (väntat: {exp})",
                en=f"Planned ending '{shown('planned_ending', pos)}' does not agree with "
                f"end reason '{shown('end_reason', pos)}' (expected: {exp_en})")
        acc["planned_ending"] = given.where(given.notna(), expected)

    def finish(self, extra_columns: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(quarantine, problems)`` of the whole table, after the last chunk.

        Raises
        ------
        DataValidationError
            If the table holds identity numbers as a column (see
            :func:`evaluation.data.validate.validate_table`).
        """
        if extra_columns is not None:
            self.extra_columns = list(extra_columns)
        self._refuse()
        items = sorted(self.items, key=lambda it: it[0])
        notes = sorted(self.notes, key=lambda it: it[0])
        problems = problems_frame([p for _, p in items + notes])
        quarantine = (
            pd.concat(self.quarantine, ignore_index=True) if self.quarantine
            else empty_quarantine()
        )
        return quarantine, problems
