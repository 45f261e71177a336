"""Validate raw tables against the data dictionary; rejected rows go to quarantine.

Rows are never silently dropped or altered beyond normalisation: every input row ends up either
in ``accepted`` (typed per the dictionary) or in ``quarantine`` (one row holding its first
problem), so ``len(accepted) + len(quarantine) == n_read`` for each table. ``problems`` lists
every problem found. Values of direct identifiers (``personnummer``) are never written to
quarantine or messages.

Rule ids
--------
Cell rules: ``required``, ``type_integer``, ``type_number``, ``type_date``, ``type_boolean``,
``code``, ``range``, ``pattern``, ``field_too_long``; ``field_count`` (CSV row with the wrong
number of fields).
Row rules: ``end_not_before_start``, ``age_at_start``, ``end_reason_with_end_date``,
``planned_ending_derived``, ``unique_key``.
Cross-table rules (:func:`validate_dataset`): ``no_overlapping_episodes``, ``episode_exists``,
``followup_within_episode``, ``placements_tile_episode``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import TABLES, Column, load_dictionary
from evaluation.errors import DataValidationError, ParameterError
from evaluation.data.io import PERSONNUMMER, QUARANTINE_COLUMNS, RawTable, read_tables

__all__ = [
    "MAX_FIELD_LENGTH",
    "QUARANTINE_COLUMNS",
    "ValidationResult",
    "ValidationSummary",
    "validate_dataset",
    "validate_files",
    "validate_table",
]

MAX_FIELD_LENGTH = 10_000
MAX_VALUE_CHARS = 200
MASK = "***"
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f\u2007]+")


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in QUARANTINE_COLUMNS})


@dataclass
class ValidationResult:
    """Outcome of validating one table.

    Attributes
    ----------
    table : str
        Table name.
    accepted : pandas.DataFrame
        Accepted rows, one column per dictionary column (``personnummer`` only when it was in
        the input), typed: date -> ``datetime64[ns]``, integer -> ``Int64``, number ->
        ``float64``, boolean -> ``boolean``, code and string -> ``object`` (str or NaN). Two
        bookkeeping columns follow: ``_row`` (row number in the file, header = 1) and
        ``_source`` (file name), so later rules can still quarantine a row.
    quarantine : pandas.DataFrame
        One row per rejected input row (its first problem); columns ``source_file, row, table,
        column, value, rule, message_sv, message_en``.
    problems : pandas.DataFrame
        Every problem found (same columns); a row may appear several times.
    n_read : int
        Rows read; always ``len(accepted) + len(quarantine)``.
    source : str
        File name.
    extra_columns : list of str
        Input columns not in the dictionary (ignored).
    """

    table: str
    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    problems: pd.DataFrame
    n_read: int
    source: str = ""
    extra_columns: list[str] = field(default_factory=list)

    @property
    def n_accepted(self) -> int:
        return len(self.accepted)

    @property
    def n_quarantined(self) -> int:
        return len(self.quarantine)


# --------------------------------------------------------------------------- messages

_COL = {"sv": "i kolumnen", "en": "in column"}


def _short(value: str, n: int = 60) -> str:
    return value if len(value) <= n else value[:n] + "…"


def _messages(rule: str, column: str, value: str, **kw: Any) -> tuple[str, str]:
    v = _short(value)
    if rule == "required":
        return (
            f"Värde saknas i den obligatoriska kolumnen {column}",
            f"Missing value in required column {column}",
        )
    if rule == "type_integer":
        return (
            f"'{v}' i kolumnen {column} är inte ett heltal",
            f"'{v}' in column {column} is not an integer",
        )
    if rule == "type_number":
        return (
            f"'{v}' i kolumnen {column} är inte ett tal",
            f"'{v}' in column {column} is not a number",
        )
    if rule == "type_date":
        return (
            f"'{v}' i kolumnen {column} är inte ett giltigt datum (använd ÅÅÅÅ-MM-DD)",
            f"'{v}' in column {column} is not a valid date (use YYYY-MM-DD)",
        )
    if rule == "type_boolean":
        return (
            f"'{v}' i kolumnen {column} är inte ja/nej",
            f"'{v}' in column {column} is not yes/no",
        )
    if rule == "code":
        allowed = kw["allowed"]
        return (
            f"Okänd kod '{v}' i kolumnen {column}; tillåtna: {allowed}",
            f"Unknown code '{v}' in column {column}; allowed: {allowed}",
        )
    if rule == "range":
        return (
            f"'{v}' i kolumnen {column} ligger utanför intervallet {kw['lo']}–{kw['hi']}",
            f"'{v}' in column {column} is outside the range {kw['lo']}–{kw['hi']}",
        )
    if rule == "pattern":
        return (
            f"'{v}' i kolumnen {column} har fel format (mönster {kw['pattern']})",
            f"'{v}' in column {column} has the wrong format (pattern {kw['pattern']})",
        )
    if rule == "field_too_long":
        return (
            (
                f"Fältet i kolumnen {column} är för långt ({kw['n']} tecken, högst "
                f"{MAX_FIELD_LENGTH})"
            ),
            (
                f"Field in column {column} is too long ({kw['n']} characters, at most "
                f"{MAX_FIELD_LENGTH})"
            ),
        )
    if rule == "field_count":
        return (
            f"Raden har {kw['n']} fält men rubrikraden {kw['width']}",
            f"The row has {kw['n']} fields but the header {kw['width']}",
        )
    # Row and cross-table rules carry their own text in kw.
    return kw["sv"], kw["en"]


# --------------------------------------------------------------------------- cell parsers


class _CellError(Exception):
    def __init__(self, rule: str, **kw: Any) -> None:
        super().__init__(rule)
        self.rule = rule
        self.kw = kw


_DATE_PATTERNS = [
    (
        re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
        "ymd",
    ),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$"), "dmy"),
]


def parse_date(text: str) -> pd.Timestamp:
    """Parse a date as written in Swedish municipal exports.

    Accepts ``2024-03-01`` (optionally followed by a time), ``20240301``, ``2024/03/01``
    and day-first ``01.03.2024`` / ``1/3/2024`` / ``1-3-2024``. Impossible dates and years
    outside 1900–2100 are rejected.

    Raises
    ------
    ValueError
        If the text is not such a date.
    """
    s = text.strip()
    for rx, order in _DATE_PATTERNS:
        m = rx.match(s)
        if m:
            a, b, c = (int(g) for g in m.groups())
            y, mo, d = (a, b, c) if order == "ymd" else (c, b, a)
            if not 1900 <= y <= 2100:
                raise ValueError(f"implausible year {y}")
            return pd.Timestamp(_dt.date(y, mo, d))
    raise ValueError(f"not a date: {text!r}")


def parse_number(text: str) -> float:
    """Parse a number with decimal comma or point and space/thin-space thousands separators.

    Raises
    ------
    ValueError
        If the text is not a finite number.
    """
    s = _SPACES.sub("", text).replace("\u2212", "-")
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif s.count(",") == 1:
        s = s.replace(",", ".")
    elif s.count(",") > 1:
        if not re.match(r"^[+-]?\d{1,3}(,\d{3})+$", s):
            raise ValueError(text)
        s = s.replace(",", "")
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", s):
        raise ValueError(text)
    x = float(s)
    if not np.isfinite(x):
        raise ValueError(text)
    return x


def _code_lookup(col: Column) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in col.codes:
        out.setdefault(_norm_code(str(c["code"])), str(c["code"]))
    for c in col.codes:
        for lang in ("sv", "en"):
            out.setdefault(_norm_code(str(c[lang])), str(c["code"]))
    return out


def _norm_code(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def _parse_cell(text: str, col: Column, codes: dict[str, str], truthy: set, falsy: set) -> Any:
    if len(text) > MAX_FIELD_LENGTH:
        raise _CellError("field_too_long", n=len(text))
    s = text.strip()
    t = col.type
    if t == "string":
        value: Any = s
        if col.pattern and not re.search(col.pattern, s):
            raise _CellError("pattern", pattern=col.pattern)
        return value
    if t == "code":
        key = _norm_code(s)
        if key not in codes:
            raise _CellError("code", allowed=", ".join(col.code_values))
        return codes[key]
    if t == "boolean":
        key = s.casefold()
        if key in truthy:
            return True
        if key in falsy:
            return False
        raise _CellError("type_boolean")
    if t == "date":
        try:
            return parse_date(s)
        except ValueError:
            raise _CellError("type_date") from None
    if t == "integer":
        compact = _SPACES.sub("", s)
        m = re.match(r"^([+-]?\d{1,18})(?:[.,]0+)?$", compact)
        if not m:
            raise _CellError("type_integer")
        value = int(m.group(1))
    elif t == "number":
        try:
            value = parse_number(s)
        except ValueError:
            raise _CellError("type_number") from None
    else:  # pragma: no cover - dictionary types are fixed
        raise ParameterError(f"Unknown column type {t!r}.")
    if (col.min is not None and value < col.min) or (col.max is not None and value > col.max):
        raise _CellError("range", lo=_fmt_num(col.min), hi=_fmt_num(col.max))
    return value


def _fmt_num(x: Any) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


def _typed_series(values: list[Any], col: Column) -> pd.Series:
    if col.type == "date":
        return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").astype(
            "datetime64[ns]"
        )
    if col.type == "integer":
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    if col.type == "number":
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if col.type == "boolean":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    return pd.Series([np.nan if v is None else v for v in values], dtype=object)


# --------------------------------------------------------------------------- table validation


def _display(value: Any, col: Column | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if col is not None and col.is_direct_identifier:
        return MASK
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.strftime("%Y-%m-%d")
    return str(value)


class _Problems:
    """Collects problems as dicts keyed by row position."""

    def __init__(self, table: str, source: str, rows: list[int]) -> None:
        self.table, self.source, self.rows = table, source, rows
        self.items: list[tuple[int, dict[str, Any]]] = []

    def add(self, pos: int, column: str, value: str, rule: str, **kw: Any) -> None:
        sv, en = _messages(rule, column, value, **kw)
        self.items.append(
            (
                pos,
                {
                    "source_file": self.source,
                    "row": self.rows[pos],
                    "table": self.table,
                    "column": column,
                    "value": value[:MAX_VALUE_CHARS],
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
        If ``raw`` names a table the dictionary does not define.

    Notes
    -----
    When ``personnummer`` is present and ``child_id`` is not (a raw extract before
    pseudonymisation) the ``required`` rule is not applied to the derived columns
    ``child_id``, ``sex`` and ``birth_year``; pseudonymisation derives them. For episodes,
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
    pending_pseudonym = PERSONNUMMER in data.columns and "child_id" not in data.columns
    truthy = {v.casefold() for v in d.true_values}
    falsy = {v.casefold() for v in d.false_values}

    for pos, nf in sorted(raw.field_counts.items()):
        probs.add(
            pos, "", "", "field_count", n=nf, width=len(data.columns) + len(raw.extra_columns)
        )

    typed: dict[str, Any] = {}
    bad: dict[str, np.ndarray] = {}
    for name, col in cols.items():
        if name == PERSONNUMMER and name not in data.columns:
            continue
        values: list[Any] = [None] * n
        bad_col = np.zeros(n, dtype=bool)
        if name in data.columns:
            raw_values = data[name].tolist()
            codes = _code_lookup(col) if col.type == "code" else {}
            cache: dict[str, Any] = {}
            for pos, v in enumerate(raw_values):
                if not isinstance(v, str):
                    if v is None or (isinstance(v, float) and np.isnan(v)):
                        v = None
                    else:
                        v = str(v)
                if v is None or v.strip() == "":
                    if col.required and not (pending_pseudonym and col.source == "derived"):
                        probs.add(pos, name, "", "required")
                        bad_col[pos] = True
                    continue
                if v not in cache:
                    try:
                        cache[v] = ("ok", _parse_cell(v, col, codes, truthy, falsy))
                    except _CellError as err:
                        cache[v] = ("err", err)
                kind, out = cache[v]
                if kind == "ok":
                    values[pos] = out
                else:
                    shown = MASK if col.is_direct_identifier else v
                    kw = dict(out.kw)
                    probs.add(pos, name, shown, out.rule, **kw)
                    bad_col[pos] = True
        elif col.required and not (pending_pseudonym and col.source == "derived"):
            for pos in range(n):
                probs.add(pos, name, "", "required")
                bad_col[pos] = True
        typed[name] = _typed_series(values, col)
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
        return _display(raw_text[name][pos], cols.get(name))

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
            kv = ", ".join(f"{k}={_display(acc.at[pos, k], cols[k])}" for k in key)
            probs.add(
                int(pos),
                key[0],
                shown(key[0], int(pos)),
                "unique_key",
                sv=f"Primärnyckeln förekommer redan ({kv})",
                en=f"Duplicate primary key ({kv})",
            )

    problems = _problems_frame([p for _, p in probs.items])
    first: dict[int, dict[str, Any]] = {}
    for pos, p in probs.items:
        first.setdefault(pos, p)
    quarantine = _problems_frame([first[p] for p in sorted(first)])
    keep = np.array([pos not in first for pos in range(n)], dtype=bool)
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
    )


def _problems_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    if not items:
        return _empty_quarantine()
    df = pd.DataFrame(items, columns=QUARANTINE_COLUMNS)
    df["row"] = df["row"].astype("int64")
    return df


# --------------------------------------------------------------------------- cross-table rules


def _move(
    res: ValidationResult,
    mask: pd.Series | np.ndarray,
    rule: str,
    column: str,
    messages: dict[int, tuple[str, str]] | tuple[str, str],
) -> ValidationResult:
    """Move accepted rows where ``mask`` is true to quarantine (and problems)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return res
    d = load_dictionary()
    cols = d.table(res.table)
    moved = res.accepted.loc[mask]
    items = []
    for idx, rec in moved.iterrows():
        sv, en = messages[idx] if isinstance(messages, dict) else messages
        items.append(
            {
                "source_file": rec["_source"],
                "row": int(rec["_row"]),
                "table": res.table,
                "column": column,
                "value": _display(rec.get(column), cols.get(column))[:MAX_VALUE_CHARS],
                "rule": rule,
                "message_sv": sv,
                "message_en": en,
            }
        )
    new = _problems_frame(items)
    quarantine = pd.concat([res.quarantine, new], ignore_index=True) if len(res.quarantine) else new
    problems = pd.concat([res.problems, new], ignore_index=True) if len(res.problems) else new
    return ValidationResult(
        table=res.table,
        accepted=res.accepted.loc[~mask].reset_index(drop=True),
        quarantine=quarantine,
        problems=problems,
        n_read=res.n_read,
        source=res.source,
        extra_columns=res.extra_columns,
    )


def _day(ts: Any) -> str:
    return "" if pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


def validate_dataset(results: dict[str, ValidationResult]) -> dict[str, ValidationResult]:
    """Apply the cross-table rules, moving offending rows from accepted to quarantine.

    Parameters
    ----------
    results : dict of str to ValidationResult
        Per-table results of :func:`validate_table`.

    Returns
    -------
    dict of str to ValidationResult
        New results (inputs are not modified); ``accepted + quarantine == n_read`` still holds
        per table.

    Notes
    -----
    Order: ``no_overlapping_episodes`` (per child, sorted by start date; an episode starting
    before the end of the previous kept one, open end = infinity, is quarantined), then
    ``episode_exists`` (placements and follow-ups whose episode is not accepted),
    ``followup_within_episode`` and ``placements_tile_episode`` (all placements of an episode
    are quarantined when they do not tile it; the episode stays). Without an episodes table
    the placement and follow-up rules are skipped. Children are identified by ``child_id``,
    or by ``personnummer`` before pseudonymisation.
    """
    out = dict(results)
    ep = out.get("episodes")
    if ep is None:
        return out

    acc = ep.accepted
    child = acc["child_id"] if "child_id" in acc else pd.Series(np.nan, index=acc.index)
    if child.isna().all() and PERSONNUMMER in acc:
        child = acc[PERSONNUMMER]
    far = pd.Timestamp.max
    viol = np.zeros(len(acc), dtype=bool)
    msgs: dict[int, tuple[str, str]] = {}
    order = acc.assign(_child=child).sort_values(
        ["_child", "start_date", "episode_id"], kind="mergesort"
    )
    order = order[order["_child"].notna()]
    # Fast vectorised pre-filter: only children with a start before the latest end of an
    # earlier episode can violate the rule; the exact loop below runs on those alone.
    ends = order["end_date"].fillna(far)
    prev_max = ends.groupby(order["_child"], sort=False).shift().groupby(
        order["_child"], sort=False
    ).cummax()
    suspects = order.loc[(order["start_date"] < prev_max).fillna(False), "_child"].unique()
    order = order[order["_child"].isin(suspects)]
    for _, grp in order.groupby("_child", sort=False):
        prev_end, prev_id = None, None
        for idx, rec in grp.iterrows():
            if prev_end is not None and rec["start_date"] < prev_end:
                viol[acc.index.get_loc(idx)] = True
                msgs[idx] = (
                    (
                        f"Episoden börjar {_day(rec['start_date'])}, innan barnets episod "
                        f"{prev_id} slutar"
                    ),
                    (
                        f"The episode starts {_day(rec['start_date'])}, before the child's episode "
                        f"{prev_id} ends"
                    ),
                )
                continue
            prev_end = far if pd.isna(rec["end_date"]) else rec["end_date"]
            prev_id = rec["episode_id"]
    out["episodes"] = _move(ep, viol, "no_overlapping_episodes", "start_date", msgs)
    episodes = out["episodes"].accepted.set_index("episode_id")

    for t in ("placements", "followups"):
        res = out.get(t)
        if res is None:
            continue
        missing = ~res.accepted["episode_id"].isin(episodes.index)
        out[t] = _move(
            res,
            missing.to_numpy(),
            "episode_exists",
            "episode_id",
            (
                "Episod-id saknas bland godkända episoder",
                "The episode id is not among the accepted episodes",
            ),
        )

    fu = out.get("followups")
    if fu is not None and len(fu.accepted):
        a = fu.accepted
        st = a["episode_id"].map(episodes["start_date"])
        en = a["episode_id"].map(episodes["end_date"])
        viol = (a["followup_date"] < st) | (en.notna() & (a["followup_date"] > en))
        msgs = {
            idx: (
                (
                    f"Uppföljningen {_day(a.at[idx, 'followup_date'])} ligger utanför episoden "
                    f"{_day(st[idx])}–{_day(en[idx])}"
                ),
                (
                    f"The follow-up {_day(a.at[idx, 'followup_date'])} falls outside the episode "
                    f"{_day(st[idx])}–{_day(en[idx])}"
                ),
            )
            for idx in a.index[viol.to_numpy()]
        }
        out["followups"] = _move(
            fu, viol.to_numpy(), "followup_within_episode", "followup_date", msgs
        )

    pl = out.get("placements")
    if pl is not None and len(pl.accepted):
        a = pl.accepted
        viol = np.zeros(len(a), dtype=bool)
        msgs = {}
        one_day = pd.Timedelta(days=1)
        # Fast vectorised pre-filter; the exact loop (which writes the messages) runs only on
        # episodes where some placement fails one of the checks.
        srt = a.sort_values(["episode_id", "placement_seq"], kind="mergesort")
        g = srt.groupby("episode_id", sort=False)
        pos = g.cumcount() + 1
        size = g["placement_seq"].transform("size")
        e_start = srt["episode_id"].map(episodes["start_date"])
        e_end = srt["episode_id"].map(episodes["end_date"])
        gap = srt["start_date"] - g["end_date"].shift()
        ok = (
            (srt["placement_seq"].astype("int64") == pos)
            & ((pos != 1) | (srt["start_date"] == e_start))
            & ((pos == 1) | gap.isin([pd.Timedelta(0), one_day]))
            & (
                (pos != size)
                | (srt["end_date"].isna() & e_end.isna())
                | (srt["end_date"] == e_end)
            )
        )
        bad_episodes = srt.loc[~ok.to_numpy(), "episode_id"].unique()
        for eid, grp in a[a["episode_id"].isin(bad_episodes)].groupby("episode_id", sort=False):
            grp = grp.sort_values("placement_seq")
            e_start = episodes.at[eid, "start_date"]
            e_end = episodes.at[eid, "end_date"]
            reason = None
            seqs = grp["placement_seq"].astype(int).tolist()
            if seqs != list(range(1, len(seqs) + 1)):
                reason = (
                    f"ordningsnumren {seqs} är inte 1..{len(seqs)}",
                    f"sequence numbers {seqs} are not 1..{len(seqs)}",
                )
            elif grp["start_date"].iloc[0] != e_start:
                reason = (
                    (
                        f"första placeringen börjar {_day(grp['start_date'].iloc[0])}, "
                        f"episoden {_day(e_start)}"
                    ),
                    (
                        f"the first placement starts {_day(grp['start_date'].iloc[0])}, "
                        f"the episode {_day(e_start)}"
                    ),
                )
            else:
                starts, ends = grp["start_date"].tolist(), grp["end_date"].tolist()
                for i in range(1, len(starts)):
                    gap = None if pd.isna(ends[i - 1]) else starts[i] - ends[i - 1]
                    if gap is None or gap not in (pd.Timedelta(0), one_day):
                        reason = (
                            (
                                f"placering {i + 1} börjar {_day(starts[i])} men placering {i} "
                                f"slutar {_day(ends[i - 1]) or 'aldrig'}"
                            ),
                            (
                                f"placement {i + 1} starts {_day(starts[i])} but placement {i} "
                                f"ends {_day(ends[i - 1]) or 'never'}"
                            ),
                        )
                        break
                if reason is None:
                    last = ends[-1]
                    if not (
                        (pd.isna(last) and pd.isna(e_end))
                        or (pd.notna(last) and pd.notna(e_end) and last == e_end)
                    ):
                        reason = (
                            (
                                f"sista placeringen slutar {_day(last) or 'aldrig'}, episoden "
                                f"{_day(e_end) or 'pågår'}"
                            ),
                            (
                                f"the last placement ends {_day(last) or 'never'}, the episode "
                                f"{_day(e_end) or 'is ongoing'}"
                            ),
                        )
            if reason is not None:
                for idx in grp.index:
                    viol[a.index.get_loc(idx)] = True
                    msgs[idx] = (
                        f"Placeringarna fyller inte episoden {eid}: {reason[0]}",
                        f"The placements do not tile episode {eid}: {reason[1]}",
                    )
        out["placements"] = _move(pl, viol, "placements_tile_episode", "episode_id", msgs)
    return out


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
    """

    tables: dict[str, dict[str, int]]
    out_dir: Path
    results: dict[str, ValidationResult] = field(default_factory=dict, repr=False)

    @property
    def n_read(self) -> int:
        return sum(t["read"] for t in self.tables.values())

    @property
    def n_accepted(self) -> int:
        return sum(t["accepted"] for t in self.tables.values())

    @property
    def n_quarantined(self) -> int:
        return sum(t["quarantined"] for t in self.tables.values())

    def line(self) -> str:
        """One-line summary, e.g. ``read 1234 rows, accepted 1200, quarantined 34 -> out/``."""
        return (
            f"read {self.n_read} rows, accepted {self.n_accepted}, "
            f"quarantined {self.n_quarantined} -> {self.out_dir}/"
        )


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
        ``_row``/``_source``), ``quarantine.csv`` (one row per rejected input row, all tables)
        and ``problems.csv`` (every problem).
    progress : bool, optional
        Show a progress bar (one step per file read, per table validated, cross-table rules
        and writing) on standard error; default: only when standard error is a terminal.

    Returns
    -------
    ValidationSummary

    Raises
    ------
    DataValidationError
        On a fatal file problem (see :func:`evaluation.data.io.read_table`).
    """
    import sys

    from tqdm import tqdm

    path_list = [paths] if isinstance(paths, str | Path) else list(paths)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(path_list), desc="validate", unit="step", disable=not show) as bar:
        raws: dict[str, RawTable] = {}
        for p in path_list:
            for t, r in read_tables([p]).items():
                if t in raws:
                    raise DataValidationError(
                        f"table {t!r} given twice ({raws[t].source} and {r.source}); give each "
                        "table in one file only."
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
        res.accepted.drop(columns=["_row", "_source"]).to_csv(
            out / f"{t}.csv", index=False, encoding="utf-8", date_format="%Y-%m-%d"
        )
    quarantine = [r.quarantine for r in results.values() if len(r.quarantine)]
    problems = [r.problems for r in results.values() if len(r.problems)]
    (pd.concat(quarantine, ignore_index=True) if quarantine else _empty_quarantine()).to_csv(
        out / "quarantine.csv", index=False, encoding="utf-8"
    )
    (pd.concat(problems, ignore_index=True) if problems else _empty_quarantine()).to_csv(
        out / "problems.csv", index=False, encoding="utf-8"
    )
    tables = {
        t: {"read": r.n_read, "accepted": r.n_accepted, "quarantined": r.n_quarantined}
        for t, r in results.items()
    }
    return ValidationSummary(tables=tables, out_dir=out, results=results)
