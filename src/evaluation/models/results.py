"""Base class of fitted results: a numeric ``summary``, provenance ``metadata`` and renderings.

Numbers stay unrounded in ``summary``; rounding happens only in :meth:`Result.to_html`.
Below the class are helpers the survival modules share: argument checks (``check_alpha``,
``check_times``, ``refuse_missing``, ``refuse_date_times``), group handling
(``group_labels``, ``curves_by_group``, ``with_group``), reading a step curve
(``step_values``) and the plots (``step_curves_plot``, ``forest_plot``).
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd


def package_versions(*names: str) -> dict[str, str]:
    """Versions of Python, this package and the named installed packages (for ``metadata``).

    Looked up once per process and set of names (the look-up is slow); each call returns a
    new dict.

    Examples
    --------
    >>> sorted(package_versions("numpy"))
    ['evaluation', 'numpy', 'python']
    """
    return dict(_package_versions(names))


@functools.lru_cache(maxsize=32)
def _package_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("evaluation", *names):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return tuple(out.items())


@dataclass
class Result:
    """A fitted result.

    Attributes
    ----------
    summary : pandas.DataFrame
        Numeric table with fixed snake_case columns; the only non-numeric columns allowed are
        ``group`` in grouped results and ``state`` in state-occupation results. Curves have
        ``time, estimate, ci_lower, ci_upper``; regressions are indexed by term with
        ``estimate, se, ci_lower, ci_upper, p_value, exp_estimate``.
    metadata : dict
        Provenance: ``method``, ``alpha``, ``n`` (rows used), ``versions`` and method details.
    """

    summary: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)

    #: Whether :meth:`to_html` shows the index of ``summary`` as the first column (the term
    #: names of a regression); curve results have a plain row number, which is hidden.
    html_index: ClassVar[bool] = False

    def to_html(self, decimals: int = 3) -> str:
        """Render ``summary`` as an HTML table rounded to ``decimals`` (presentation only)."""
        table = self.summary.reset_index() if self.html_index else self.summary
        numeric = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
        styler = table.style.format({c: f"{{:.{decimals}f}}" for c in numeric}, na_rep="")
        return styler.hide(axis="index").to_html()

    def plot(self, ax=None):  # pragma: no cover - overridden by every subclass
        """Plot the result on ``ax`` (a new figure if None) and return the Axes."""
        raise NotImplementedError(f"{type(self).__name__} has no plot")


# --------------------------------------------------------------------------- shared helpers


def group_labels(values: pd.Series) -> pd.Categorical:
    """Group labels as text, with categories in the groups' natural order.

    The order is the category order of a categorical column (unused categories dropped),
    otherwise the sorted values (numbers numerically, so 9 comes before 10; values of mixed
    types fall back to sorting the text). Results list their groups in this order.

    Examples
    --------
    >>> list(group_labels(pd.Series([10, 9, 100, 9])).categories)
    ['9', '10', '100']
    """
    labels = values.astype(str).to_numpy(dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        used = values.cat.remove_unused_categories().cat.categories
        order = list(dict.fromkeys(pd.Series(used, dtype=values.dtype).astype(str)))
    else:
        pairs = pd.DataFrame({"value": values.to_numpy(), "label": labels})
        pairs = pairs.drop_duplicates("label")
        try:
            order = pairs.sort_values("value", kind="stable")["label"].tolist()
        except TypeError:
            order = sorted(pairs["label"])
    return pd.Categorical(labels, categories=order)








def step_values(time: np.ndarray, values: np.ndarray, horizons: np.ndarray,
                before: Any) -> np.ndarray:
    """Rows of ``values`` (one per sorted ``time``) of a right-continuous step function at
    ``horizons``: the row of the last time <= h, ``before`` before the first time and NaN
    beyond the last time.

    Examples
    --------
    >>> step_values(np.array([1.0, 3.0]), np.array([0.2, 0.5]), np.array([0, 1, 2, 3, 4]), 0.0)
    array([0. , 0.2, 0.2, 0.5, nan])
    """
    idx = np.searchsorted(time, horizons, side="right") - 1
    out = values[np.maximum(idx, 0)].astype(float)
    out[idx < 0] = before
    out[horizons > time[-1]] = np.nan
    return out


def curves_by_group(summary: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    """``(group, rows)`` pairs of a curve summary, in the order the groups appear.

    ``group`` is None when ``summary`` has no ``group`` column.

    Examples
    --------
    >>> s = pd.DataFrame({"group": ["b", "b", "a"], "time": [1.0, 2.0, 1.0]})
    >>> [(g, len(rows)) for g, rows in curves_by_group(s)]
    [('b', 2), ('a', 1)]
    """
    if "group" not in summary:
        return [(None, summary)]
    return list(summary.groupby("group", sort=False))


def with_group(table: pd.DataFrame, group: Any) -> pd.DataFrame:
    """Insert ``group`` as the first column of ``table`` (in place) unless it is None.

    Examples
    --------
    >>> list(with_group(pd.DataFrame({"time": [1.0]}), "FH").columns)
    ['group', 'time']
    """
    if group is not None:
        table.insert(0, "group", group)
    return table


def note_units_not_shown(ax, counts: list[tuple[int, str]]) -> None:
    """Add "k unit(s) not shown (reason)" lines to the legend of ``ax``, one per (count,
    reason) with a count above 0 (disclosure control of unit plots)."""
    for count, reason in counts:
        if count:   # an invisible handle: the note appears as a legend line
            ax.plot([], [], linestyle="none", label=f"{count} unit{'s' if count > 1 else ''} "
                                                    f"not shown ({reason})")


def forest_plot(summary: pd.DataFrame, ax=None, xlabel: str = "hazard ratio"):
    """Ratios exp(``estimate``) with exp(``ci_lower``), exp(``ci_upper``) on a log axis, one
    row per term of ``summary`` (its index labels the rows, first at the top); returns the
    Axes."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots()[1]
    y = np.arange(len(summary))[::-1]
    hr = summary["exp_estimate"].to_numpy()
    lo, hi = np.exp(summary["ci_lower"].to_numpy()), np.exp(summary["ci_upper"].to_numpy())
    ax.errorbar(hr, y, xerr=[hr - lo, hi - hr], fmt="o", capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in summary.index])
    ax.set_xlabel(xlabel)
    return ax


def step_curves_plot(summary: pd.DataFrame, ax=None, start: float = 1.0,
                     ylabel: str = "survival probability", ci: bool = True,
                     legend_title: str | None = None):
    """Right-continuous step curves of ``estimate`` against ``time``, one per group of a curve
    summary, starting at ``start`` at time 0, with the ``ci_lower``/``ci_upper`` band if
    ``ci``; returns the Axes."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots()[1]
    for g, tab in curves_by_group(summary):
        t = np.concatenate([[0.0], tab["time"].to_numpy()])
        est = np.concatenate([[start], tab["estimate"].to_numpy()])
        (line,) = ax.step(t, est, where="post", label=None if g is None else str(g))
        if ci:
            lo = np.concatenate([[start], tab["ci_lower"].to_numpy()])
            hi = np.concatenate([[start], tab["ci_upper"].to_numpy()])
            ax.fill_between(t, lo, hi, step="post", alpha=0.2, color=line.get_color())
    ax.set_xlabel("time")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    if "group" in summary:
        ax.legend(title=legend_title)
    return ax
