"""Disclosure control: every report table and chart passes through this module.

Defaults
--------
* Counts 1 to ``threshold - 1`` (1-4 with the default ``threshold=5``) are suppressed and shown
  as ``"<5"``; zeros are shown.
* Secondary (complementary) suppression, so that a hidden cell cannot be recomputed from the
  totals of its row or column; complementary cells are shown as ``".."``.
* No rates on denominators below 10, nor where numerator or complement is a small count.

These are project defaults, NOT verified official thresholds: Socialstyrelsen checks that every
published cell is "large enough" and SCB moved to small random noise (the cell key method) in
2025, but the exact rules were not verified (see DOMAIN.md, section 5). Every threshold is a
parameter; document the values used in each report.

Secondary suppression works in two steps, repeated until nothing changes. First the usual
line-wise rule: in every row and column (and, with both totals, in the margins) the equation
"cells sum to the total" must have no hidden cell or at least two. Then a linear-algebra audit
of all line equations together: a hidden cell whose value still follows from combining several
lines (which the line-wise rule alone allows) gets one more cell of its lines hidden. Bounds
are not audited: a reader who knows that a ``<5`` cell lies in 1-4 can sometimes narrow a
hidden cell to an interval; tables for publication should keep that in mind.

Examples
--------
>>> import pandas as pd
>>> from evaluation.disclosure import protect_counts
>>> t = pd.DataFrame({"n": [3, 20, 40]}, index=["HVB", "FH", "total"])
>>> p = protect_counts(t, ["n"], total_row="total")
>>> p.to_display()["n"].tolist()
['<5', '..', '40']
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.checks import check_language
from evaluation.errors import ParameterError

__all__ = ["ProtectedTable", "protect_counts", "protect_rates"]

SECONDARY_MARK = ".."


@dataclass(frozen=True)
class ProtectedTable:
    """Counts after disclosure control.

    Attributes
    ----------
    values : pandas.DataFrame
        The count cells as float, suppressed cells NaN; same index and columns as the count
        cells of the input.
    suppressed : pandas.DataFrame
        Boolean mask, True where a cell is suppressed (primary or secondary).
    primary : pandas.DataFrame
        Boolean mask, True where a cell is a small count (1 to ``threshold - 1``).
    threshold : int
        Smallest count shown.
    labels : pandas.DataFrame
        The non-count columns of the input (e.g. group labels), unchanged.
    """

    values: pd.DataFrame
    suppressed: pd.DataFrame
    primary: pd.DataFrame
    threshold: int
    labels: pd.DataFrame

    @property
    def secondary(self) -> pd.DataFrame:
        """Boolean mask of cells suppressed only to protect other cells."""
        return self.suppressed & ~self.primary

    def to_display(self, lang: str = "sv") -> pd.DataFrame:
        """Return the table as strings ready to print.

        Parameters
        ----------
        lang : {'sv', 'en'}, default 'sv'
            Language of the report (the marks are the same in both).

        Returns
        -------
        pandas.DataFrame
            Label columns unchanged, then the count cells as integers without decimals;
            small counts shown as ``"<{threshold}"`` and complementary suppressions as ``".."``.
        """
        check_language(lang)
        out = self.values.astype(object).copy()
        for col in out.columns:
            shown = self.values[col].map(lambda v: "" if pd.isna(v) else str(int(v)))
            shown = shown.where(~self.primary[col], f"<{self.threshold}")
            shown = shown.where(~self.secondary[col], SECONDARY_MARK)
            out[col] = shown.astype(object)
        if self.labels.shape[1]:
            out = pd.concat([self.labels, out], axis=1)
        return out


Cell = tuple[int, int]


def _lines(
    n_rows: int, n_cols: int, trow: int | None, tcol: int | None, totals_public: bool
) -> list[tuple[list[Cell], Cell | None]]:
    """Additive lines as (member cells, total cell or None if the total is not in the table)."""
    rows = [i for i in range(n_rows) if i != trow]
    cols = [j for j in range(n_cols) if j != tcol]
    lines: list[tuple[list[Cell], Cell | None]] = []
    row_lines = tcol is not None or (totals_public and len(cols) >= 2)
    col_lines = trow is not None or (totals_public and len(rows) >= 2)
    if row_lines:
        for i in rows + ([trow] if trow is not None else []):
            lines.append(([(i, j) for j in cols], (i, tcol) if tcol is not None else None))
    if col_lines:
        for j in cols + ([tcol] if tcol is not None else []):
            lines.append(([(i, j) for i in rows], (trow, j) if trow is not None else None))
    return lines


def _suppress_lines(arr: np.ndarray, supp: np.ndarray, lines: list) -> None:
    """Line-wise rule, repeated until stable: no line may have exactly one hidden cell."""
    changed = True
    while changed:
        changed = False
        for members, total in lines:
            unknown = sum(supp[c] for c in members) + (supp[total] if total is not None else 0)
            if unknown != 1:
                continue
            visible = [c for c in members if not supp[c]]
            nonzero = [c for c in visible if arr[c] > 0]
            if nonzero:
                pick = min(nonzero, key=lambda c: (arr[c], c))
            elif visible:
                pick = visible[0]
            elif total is not None and not supp[total]:
                pick = total
            else:  # a one-cell line whose total is only known outside the table
                continue
            supp[pick] = True
            changed = True


def _determined(supp: np.ndarray, lines: list) -> list[Cell]:
    """Hidden cells whose value follows from the line equations (linear-algebra audit).

    Each line gives ``sum(members) - total = known``. A hidden cell is determined when every
    solution of the homogeneous system restricted to the hidden cells is zero in that cell,
    i.e. when its row of the null-space basis is zero.
    """
    unknown = [tuple(int(x) for x in c) for c in np.argwhere(supp)]
    if not unknown:
        return []
    pos = {c: k for k, c in enumerate(unknown)}
    rows = []
    for members, total in lines:
        eq = np.zeros(len(unknown))
        for c in members:
            if c in pos:
                eq[pos[c]] += 1.0
        if total is not None and total in pos:
            eq[pos[total]] -= 1.0
        if eq.any():
            rows.append(eq)
    if not rows:
        return []
    a = np.array(rows)
    _, sing, vt = np.linalg.svd(a)
    rank = int((sing > 1e-9 * max(1.0, sing.max())).sum())
    null = vt[rank:].T  # columns span the null space
    if null.shape[1] == 0:
        return unknown
    return [c for c, k in pos.items() if np.abs(null[k]).max() < 1e-9]


def _protect_cell(arr: np.ndarray, supp: np.ndarray, lines: list, cell: Cell) -> bool:
    """Hide one more cell sharing a line with ``cell`` (smallest non-zero first).

    Returns False when no visible cell is left to hide.
    """
    candidates: list[Cell] = []
    for members, total in lines:
        line = members + ([total] if total is not None else [])
        if cell in line:
            candidates += [c for c in members if not supp[c]]
    if not candidates:  # every line of the cell is hidden already: hide any visible cell
        candidates = [tuple(int(x) for x in c) for c in np.argwhere(~supp)]
    if not candidates:
        return False
    pick = min(candidates, key=lambda c: (arr[c] == 0, arr[c], c))
    supp[pick] = True
    return True


def _check_counts(values: pd.DataFrame) -> np.ndarray:
    arr = values.to_numpy(dtype=float)
    if np.isnan(arr).any():
        raise ParameterError(
            "protect_counts needs complete counts; some cells are missing (NaN). Fill true "
            "zeros with 0 before protecting the table."
        )
    if (arr < 0).any() or (arr != np.round(arr)).any():
        raise ParameterError(
            "protect_counts needs non-negative whole counts; found negative or fractional "
            "values. Protect the counts first, then compute rates with protect_rates()."
        )
    return arr


def protect_counts(
    table: pd.DataFrame,
    count_cols: list[str] | None = None,
    *,
    threshold: int = 5,
    total_row: Hashable | None = None,
    total_col: str | None = None,
    totals_public: bool = True,
) -> ProtectedTable:
    """Suppress small counts and the cells that would let a reader recompute them.

    Parameters
    ----------
    table : pandas.DataFrame
        Counts, one row per category (index or label columns) and one column per count
        (a single column for a 1-D table).
    count_cols : list of str, optional
        Columns holding counts; default every numeric column. ``total_col`` is added if absent.
    threshold : int, default 5
        Counts from 1 to ``threshold - 1`` are suppressed (primary suppression); 0 is shown.
        Project default, not a verified official threshold.
    total_row : hashable, optional
        Index label of the row holding column totals.
    total_col : str, optional
        Column holding row totals.
    totals_public : bool, default True
        Assume that a reader knows the total of every row and column even when it is not in
        the table (it is usually printed elsewhere, e.g. as N in a caption), so a line with
        one hidden cell is protected even without a total. Set False only when no total of
        the table is published anywhere.

    Returns
    -------
    ProtectedTable
        Protected values, masks and a display method.

    Raises
    ------
    ParameterError
        If ``threshold`` is below 1, a named column or row is missing, or a count is missing,
        negative or fractional.

    Notes
    -----
    A total that is itself a small count is suppressed like any other cell. Secondary
    suppression repeats until nothing changes: in every line (row, column and, when there are
    both totals, the total row and total column) whose cells sum to a total, if exactly one
    of the cells or the total is hidden, the smallest non-zero visible cell is hidden too
    (a zero cell, then the total, when there is no non-zero cell left). A linear audit of all
    lines together then hides one more cell whenever several lines combined still determine a
    hidden cell, and the line-wise rule runs again.
    """
    if not isinstance(threshold, (int, np.integer)) or isinstance(threshold, bool) or threshold < 1:
        raise ParameterError(f"threshold must be a whole number of at least 1, got {threshold!r}.")
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(
            f"protect_counts needs a pandas DataFrame, got {type(table).__name__}; for a Series "
            "use series.to_frame()."
        )
    if count_cols is None:
        count_cols = [
            c
            for c in table.columns
            if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
        ]
    count_cols = list(count_cols)
    if total_col is not None and total_col not in count_cols:
        count_cols.append(total_col)
    missing = [c for c in count_cols if c not in table.columns]
    if missing or not count_cols:
        raise ParameterError(
            f"Count columns {missing or '(none found)'} are not in the table; available columns: "
            f"{', '.join(map(str, table.columns))}. Pass count_cols= explicitly."
        )
    if total_row is not None and total_row not in table.index:
        raise ParameterError(
            f"total_row {total_row!r} is not in the table index; set the labels as index first."
        )
    if not table.index.is_unique:
        raise ParameterError("The table index must be unique to locate the total row and cells.")

    counts = table[count_cols]
    arr = _check_counts(counts)
    primary = (arr >= 1) & (arr < threshold)
    supp = primary.copy()
    trow = None if total_row is None else int(table.index.get_loc(total_row))
    tcol = None if total_col is None else count_cols.index(total_col)
    lines = _lines(arr.shape[0], arr.shape[1], trow, tcol, totals_public)

    while True:
        _suppress_lines(arr, supp, lines)
        exposed = _determined(supp, lines)
        if not exposed:
            break
        if not _protect_cell(arr, supp, lines, exposed[0]):
            break  # everything is hidden already

    values = pd.DataFrame(np.where(supp, np.nan, arr), index=counts.index, columns=counts.columns)
    return ProtectedTable(
        values=values,
        suppressed=pd.DataFrame(supp, index=counts.index, columns=counts.columns),
        primary=pd.DataFrame(primary, index=counts.index, columns=counts.columns),
        threshold=int(threshold),
        labels=table.drop(columns=count_cols),
    )


def _as_series(x: Any, name: str) -> pd.Series:
    if isinstance(x, pd.Series):
        return x
    if np.ndim(x) == 0:
        raise ParameterError(f"{name} must be a Series or array of counts, got a scalar.")
    return pd.Series(x)


def protect_rates(
    numerator: pd.Series,
    denominator: pd.Series,
    *,
    min_denominator: int = 10,
    threshold: int = 5,
) -> pd.Series:
    """Return ``numerator / denominator`` with NaN where the rate could disclose small counts.

    Parameters
    ----------
    numerator : pandas.Series
        Counts of the event (e.g. children who returned home).
    denominator : pandas.Series
        Counts of the population at risk, same index as ``numerator``.
    min_denominator : int, default 10
        No rate is shown on a denominator below this (project default, not verified).
    threshold : int, default 5
        The count rule of :func:`protect_counts`: counts 1 to ``threshold - 1`` are small.

    Returns
    -------
    pandas.Series
        Rates as float named ``rate``; NaN where suppressed.

    Raises
    ------
    ParameterError
        If the indexes differ, or a count is negative, missing or a numerator exceeds its
        denominator.

    Notes
    -----
    A rate is suppressed when (a) the denominator is below ``min_denominator``; (b) the
    numerator is a small count (1 to ``threshold - 1``), because rate times a published or
    guessable denominator gives it back; or (c) the complement ``denominator - numerator`` is a
    small count, because it would reveal that only a few did not have the event. Zero
    numerators and rates of exactly 1 are shown. Denominators that are themselves small counts
    are covered by (a) whenever ``min_denominator >= threshold``.
    """
    num = _as_series(numerator, "numerator")
    den = _as_series(denominator, "denominator")
    if not num.index.equals(den.index):
        raise ParameterError(
            "numerator and denominator must have the same index (align them first)."
        )
    n = num.to_numpy(dtype=float)
    d = den.to_numpy(dtype=float)
    if np.isnan(n).any() or np.isnan(d).any() or (n < 0).any() or (d < 0).any():
        raise ParameterError("numerator and denominator must be non-negative counts without NaN.")
    if (n > d).any():
        raise ParameterError("A numerator exceeds its denominator; check the two series.")
    comp = d - n
    small = lambda x: (x >= 1) & (x < threshold)
    hide = (d < min_denominator) | (d == 0) | small(n) | small(comp)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(hide, np.nan, n / np.where(d == 0, 1, d))
    return pd.Series(rate, index=num.index, name="rate", dtype=float)
