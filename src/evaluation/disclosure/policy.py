"""The disclosure policy: publication or internal mode, and the one gate every count passes.

*Publication* is the default everywhere. In publication mode every count a report shows is
the **cell-key perturbed** count of the records in its cell (:mod:`evaluation.disclosure.cellkey`
with the perturbation table of :mod:`evaluation.disclosure.ptable`): the same set of records
gets the same noise in every report, period and municipality view, and no count of 1 to
``threshold - 1`` is ever published. Shares, rates and intervals are computed from the
published counts, and none is shown for fewer than ``min_children`` children or fewer than
``min_events`` events (or non-events). Periods snap to whole months.

*Internal* mode shows exact numbers for analysts with access to the microdata; it must be asked
for explicitly, and every page then carries a banner saying the report must not leave the
organisation (the wording is in the reporting catalogs).

The thresholds are project defaults, not verified official rules (see DOMAIN.md, section 5):
they may be raised, never lowered, in publication mode.

Examples
--------
>>> policy = DisclosurePolicy()
>>> policy.publication, policy.threshold
(True, 5)
>>> policy.count([])
0
>>> policy.count(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]) in range(7, 14)
True
>>> DisclosurePolicy(mode="internal").count(["a", "b", "b"])
2
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.disclosure.cellkey import perturbed_count
from evaluation.disclosure.ptable import default_table
from evaluation.errors import ParameterError

__all__ = ["MODES", "DisclosurePolicy", "month_period"]

#: The two modes: ``"publication"`` (the default) and ``"internal"``.
MODES = ("publication", "internal")

#: Lowest values allowed in publication mode (the project defaults; raise, never lower).
_FLOORS = {"threshold": 5, "min_children": 10, "min_events": 5}


def month_period(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Snap a period to whole calendar months: the first day of the start's month to the last
    day of the end's month.

    Two requests whose ends differ by a day within one month give the same period, so their
    reports are identical and cannot be differenced.

    Examples
    --------
    >>> [str(d.date()) for d in month_period("2024-03-15", "2024-12-30")]
    ['2024-03-01', '2024-12-31']
    """
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    if pd.isna(s) or pd.isna(e):
        raise ParameterError(f"period bounds must be dates, got {start!r}, {end!r}.")
    return s.to_period("M").start_time.normalize(), e.to_period("M").end_time.normalize()


@dataclass(frozen=True)
class DisclosurePolicy:
    """How counts and the statistics derived from them are published.

    Parameters
    ----------
    mode : {"publication", "internal"}, default "publication"
        ``"internal"`` shows exact numbers and must never leave the organisation.
    threshold : int, default 5
        Smallest positive count published (the perturbation table publishes none of
        ``1 .. threshold - 1``). At least 5 in publication mode.
    min_children : int, default 10
        No share, rate, interval, mean, median, cost per unit or model estimate on fewer
        children (published count), and no breakdown of a selection with fewer. At least 10
        in publication mode.
    min_events : int, default 5
        No rate or estimate where the events, or the non-events, number fewer (published
        count). At least 5 in publication mode.
    percent_decimals : int, default 0
        Decimals of published percentages (whole percent by default).
    table : pandas.DataFrame, optional
        Perturbation table; default :func:`evaluation.disclosure.ptable.default_table`.

    Raises
    ------
    ParameterError
        For an unknown mode, or a threshold, ``min_children`` or ``min_events`` below the
        project floor in publication mode.
    """

    mode: str = "publication"
    threshold: int = 5
    min_children: int = 10
    min_events: int = 5
    percent_decimals: int = 0
    table: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"mode={self.mode!r} is unknown; choose one of {MODES} "
                                 "('internal' only for analysts with access to the microdata).")
        for name, floor in _FLOORS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ParameterError(f"{name} must be a whole number, got {value!r}.",
                                     parameter=name, value=value)
            if self.publication and value < floor:
                raise ParameterError(
                    f"{name}={value} is below the publication floor {floor}; it may be raised, "
                    "never lowered, in publication mode (use mode='internal' only for "
                    "reports that stay inside the organisation).",
                    parameter=name, value=value, minimum=floor)
        if self.table is None and self.publication:
            table = default_table()
            if int(table.attrs.get("threshold", 5)) != self.threshold:
                from evaluation.disclosure.ptable import perturbation_table
                table = perturbation_table(threshold=self.threshold,
                                           D=max(3, math.ceil((self.threshold - 1) / 2)))
            object.__setattr__(self, "table", table)

    # ------------------------------------------------------------------ the gate
    @property
    def publication(self) -> bool:
        """True in publication mode."""
        return self.mode == "publication"

    def count(self, ids: Iterable[Any]) -> int:
        """The published count of the records ``ids`` of one cell (distinct ids are counted).

        Publication mode: the cell-key perturbed count (never ``1 .. threshold - 1``);
        internal mode: the exact number of distinct ids.
        """
        series = ids if isinstance(ids, pd.Series) else pd.Series(list(ids), dtype=object)
        distinct = pd.unique(series.dropna().astype(str).to_numpy(dtype=object))
        if not self.publication:
            return len(distinct)
        return int(perturbed_count(distinct, self.table))

    def counts(self, ids: pd.Series, by: pd.Series | list[pd.Series],
               categories: Iterable[Any] | None = None) -> pd.Series:
        """Published counts of ``ids`` in the cells defined by ``by`` (a groupby key).

        ``categories`` lists the cells to report (missing cells count 0).
        """
        frame = pd.DataFrame({"_id": ids.to_numpy()})
        keys = by if isinstance(by, list) else [by]
        names = []
        for k, key in enumerate(keys):
            frame[f"_k{k}"] = pd.Series(key).to_numpy()
            names.append(f"_k{k}")
        out = frame.dropna(subset=names).groupby(names, sort=False, observed=True)["_id"].agg(
            self.count)
        if len(names) == 1:
            out.index = out.index.get_level_values(0)
        if categories is not None:
            out = out.reindex(list(categories), fill_value=0)
        return out.astype(int)

    def label(self, count: float) -> str:
        """A published count as text: ``"<5"`` for ``1 .. threshold - 1`` (not produced by the
        perturbation, kept for exact counts passed through), otherwise the whole number."""
        if count is None or (isinstance(count, float) and math.isnan(count)):
            return ""
        c = round(float(count))
        return f"<{self.threshold}" if 0 < c < self.threshold else str(c)

    # ------------------------------------------------------------------ derived statistics
    def allows_rate(self, n: float, events: float | None = None) -> bool:
        """Whether a share, rate, interval or estimate may be shown for ``n`` children (and
        ``events`` events): published counts of at least ``min_children`` and, with events,
        at least ``min_events`` events and non-events. Internal mode allows every rate with a
        positive denominator."""
        if n is None or pd.isna(n) or n <= 0:
            return False
        if not self.publication:
            return True
        if n < self.min_children:
            return False
        if events is None:
            return True
        if pd.isna(events):
            return False
        return events >= self.min_events and n - events >= self.min_events

    def allows_breakdown(self, n_children: float) -> bool:
        """Whether a selection (municipality, group, arm) may be broken down: at least
        ``min_children`` children (published count) in publication mode."""
        return (not self.publication) or (not pd.isna(n_children)
                                           and n_children >= self.min_children)

    def round_percent(self, share: float) -> float:
        """A share as a percentage rounded to ``percent_decimals`` in publication mode
        (NaN stays NaN)."""
        if share is None or pd.isna(share):
            return float("nan")
        pct = 100.0 * float(share)
        return round(pct, self.percent_decimals) if self.publication else pct

    def period(self, start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The report period: whole months in publication mode (:func:`month_period`),
        as given in internal mode."""
        if self.publication:
            return month_period(start, end)
        return pd.Timestamp(start), pd.Timestamp(end)
