"""Funnel plots of units (Spiegelhalter 2005): proportions against unit size with exact
binomial control limits, optionally widened for overdispersion.

:func:`funnel_limits` gives the limits, :func:`funnel_table` places each unit (raw counts or a
:class:`~evaluation.models.comparison.ComparisonResult`) and :func:`funnel_plot` draws them
with disclosure control; :func:`estimate_overdispersion` estimates the factor phi.

Examples
--------
>>> funnel_limits([20, 200], p0=0.25, levels=[0.95]).round(3).to_dict("list")
{'n': [20, 200], 'lower_0.95': [0.051, 0.189], 'upper_0.95': [0.429, 0.309]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import require_columns
from evaluation.disclosure import protect_rates
from evaluation.errors import ParameterError
from evaluation.models.comparison import ComparisonResult
from evaluation.models.results import note_units_not_shown

__all__ = ["estimate_overdispersion", "funnel_limits", "funnel_plot", "funnel_table"]


def funnel_limits(n: Any, p0: float, *, levels: Sequence[float] = (0.95, 0.998),
                  overdispersion: float | None = None) -> pd.DataFrame:
    """Control limits of a funnel plot for a proportion (Spiegelhalter 2005).

    Parameters
    ----------
    n : int or array of int
        Unit sizes (denominators), at least 1.
    p0 : float
        Target proportion, strictly between 0 and 1 (usually the overall rate).
    levels : sequence of float, default (0.95, 0.998)
        Two-sided coverage of each pair of limits (about 2 and 3 standard errors).
    overdispersion : float, optional
        Multiplicative overdispersion factor phi >= 1 (see :func:`estimate_overdispersion`).
        With it the limits are the normal approximation p0 -+ z sqrt(phi p0 (1 - p0) / n),
        cut to [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per ``n``: ``n``, then ``lower_<level>`` and ``upper_<level>`` per level (e.g.
        ``lower_0.95``, ``upper_0.998``), all proportions.

    Raises
    ------
    ParameterError
        If ``n`` has values below 1 or not whole, ``p0`` is not in (0, 1), a level is not in
        (0, 1), or ``overdispersion`` is below 1.

    Notes
    -----
    Without overdispersion the limits are exact binomial with Spiegelhalter's interpolation
    (2005, appendix A.1.1), so that they are smooth in n: for the tail probability p (e.g.
    0.025 and 0.975 for 95 %), r_p = the smallest r with P(Y <= r) >= p for Y ~ Bin(n, p0)
    (R ``qbinom``), alpha = (P(Y <= r_p) - p) / (P(Y <= r_p) - P(Y <= r_p - 1)), and the
    limit is (r_p - alpha) / n, cut to [0, 1] (it is negative when r_p = 0). Validated against the same formula written in R with
    ``qbinom``/``pbinom`` (``tests/reference/comparison_reference.R``) to 1e-6.
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
    Statistics in Medicine 24, 1185-1202.

    Examples
    --------
    >>> lim = funnel_limits([10, 100, 1000], p0=0.2)
    >>> list(lim.columns)
    ['n', 'lower_0.95', 'upper_0.95', 'lower_0.998', 'upper_0.998']
    >>> bool((lim["upper_0.95"].diff().dropna() < 0).all())   # the funnel narrows
    True
    """
    nn = np.atleast_1d(np.asarray(n, dtype=float))
    if nn.ndim != 1 or (nn < 1).any() or (nn != np.round(nn)).any() or not np.isfinite(nn).all():
        raise ParameterError("n must hold whole unit sizes of at least 1.")
    if not (isinstance(p0, (int, float, np.floating)) and 0 < p0 < 1):
        raise ParameterError(f"p0 must be a proportion strictly between 0 and 1, got {p0!r}.")
    levels = [float(lev) for lev in levels]
    if not levels or any(not 0 < lev < 1 for lev in levels):
        raise ParameterError(f"levels must be coverages strictly between 0 and 1, got {levels}.")
    if overdispersion is not None and not (np.isfinite(overdispersion) and overdispersion >= 1):
        raise ParameterError(f"overdispersion must be a factor phi >= 1 (or None), got "
                             f"{overdispersion!r}; use max(phi, 1) for an estimate below 1.")
    out = {"n": nn.astype(np.int64)}
    for lev in levels:
        for side, prob in (("lower", (1 - lev) / 2), ("upper", (1 + lev) / 2)):
            if overdispersion is None:
                limit = _binomial_limit(nn, p0, prob)
            else:
                z = stats.norm.ppf(prob)
                limit = np.clip(p0 + z * np.sqrt(overdispersion * p0 * (1 - p0) / nn), 0, 1)
            out[f"{side}_{lev:g}"] = limit
    return pd.DataFrame(out)


def _binomial_limit(n: np.ndarray, p0: float, prob: float) -> np.ndarray:
    """Spiegelhalter's interpolated exact binomial limit (r_p - alpha) / n."""
    r = stats.binom.ppf(prob, n, p0)
    cdf_r = stats.binom.cdf(r, n, p0)
    cdf_below = stats.binom.cdf(r - 1, n, p0)
    a = (cdf_r - prob) / (cdf_r - cdf_below)
    return np.clip((r - a) / n, 0.0, 1.0)


def estimate_overdispersion(observed: Any, n: Any, p0: float, *,
                            winsor: float = 0.1) -> float:
    """Multiplicative overdispersion phi from winsorised z-scores (Spiegelhalter 2005).

    Parameters
    ----------
    observed, n : array of int
        Events and unit sizes, one value per unit.
    p0 : float
        Target proportion in (0, 1).
    winsor : float, default 0.1
        Share of z-scores set to the percentile at each end (10 % as in the paper).

    Returns
    -------
    float
        phi = mean of the squared winsorised z-scores, z_i = (y_i/n_i - p0) /
        sqrt(p0 (1 - p0) / n_i). Values near 1 mean no overdispersion; Spiegelhalter
        compares I phi with a chi-squared distribution on I - 1 degrees of freedom.

    Raises
    ------
    ParameterError
        If the arrays differ in length, have fewer than 3 units, or hold invalid counts.

    Notes
    -----
    Percentiles are numpy's default (linear interpolation, R ``quantile`` type 7); the
    paper does not fix the definition.

    Examples
    --------
    >>> round(estimate_overdispersion([5, 20, 9, 14], [50, 100, 60, 80], p0=0.15), 3)
    0.559
    """
    obs = np.asarray(observed, dtype=float)
    nn = np.asarray(n, dtype=float)
    if obs.shape != nn.shape or obs.ndim != 1 or len(obs) < 3:
        raise ParameterError("observed and n must be equally long 1-D arrays of at least 3 "
                             "units.")
    if (nn < 1).any() or (obs < 0).any() or (obs > nn).any():
        raise ParameterError("counts must satisfy 0 <= observed <= n and n >= 1.")
    if not 0 < p0 < 1 or not 0 <= winsor < 0.5:
        raise ParameterError("p0 must be in (0, 1) and winsor in [0, 0.5).")
    z = (obs / nn - p0) / np.sqrt(p0 * (1 - p0) / nn)
    lo, hi = np.quantile(z, [winsor, 1 - winsor])
    return float(np.mean(np.clip(z, lo, hi) ** 2))


def funnel_table(data: pd.DataFrame | ComparisonResult, *, p0: float | None = None,
                 levels: Sequence[float] = (0.95, 0.998),
                 overdispersion: float | str | None = None, unit_col: str = "unit",
                 n_col: str = "n", observed_col: str = "observed") -> pd.DataFrame:
    """Units with their proportion, funnel limits and whether they fall outside them.

    Parameters
    ----------
    data : pandas.DataFrame or ComparisonResult
        One row per unit with counts (``n_col``, ``observed_col``) and a ``unit_col``, or a
        result of :func:`risk_standardised` (its ``summary``; the proportion plotted is then
        the indirectly standardised rate observed / expected x overall rate, and the
        binomial limits for n episodes at the overall rate are an approximation for it:
        exact only when every episode has the same expected probability).
    p0 : float, optional
        Target proportion; default the overall proportion sum(observed) / sum(n).
    levels : sequence of float, default (0.95, 0.998)
        Coverages of the limits.
    overdispersion : float or 'estimate', optional
        phi for :func:`funnel_limits`; ``'estimate'`` uses :func:`estimate_overdispersion`
        (an estimate below 1 is set to 1: no underdispersion correction).
    unit_col, n_col, observed_col : str
        Column names for a DataFrame.

    Returns
    -------
    pandas.DataFrame
        ``unit, n, observed, proportion``, the limit columns of :func:`funnel_limits` and
        ``outside``: the largest level whose limits the proportion is outside (0.0 if
        inside all).

    Raises
    ------
    ParameterError
        If a column is missing or ``overdispersion`` is not a number, 'estimate' or None.

    Examples
    --------
    >>> units = pd.DataFrame({"unit": ["a", "b", "c", "d"], "n": [40, 200, 90, 15],
    ...                       "observed": [30, 30, 14, 3]})
    >>> funnel_table(units)["outside"].tolist()
    [0.998, 0.95, 0.0, 0.0]
    """
    if isinstance(data, ComparisonResult):
        s = data.summary
        p0 = data.metadata["overall_rate"] if p0 is None else p0
        prop = (s["observed"] / s["expected"] * data.metadata["overall_rate"]).to_numpy()
        table = pd.DataFrame({"unit": s["unit"], "n": s["n"], "observed": s["observed"],
                              "proportion": prop})
    elif isinstance(data, pd.DataFrame):
        require_columns(data, {"unit_col": unit_col, "n_col": n_col,
                               "observed_col": observed_col})
        table = pd.DataFrame({"unit": data[unit_col].to_numpy(),
                              "n": data[n_col].to_numpy(dtype=np.int64),
                              "observed": data[observed_col].to_numpy(dtype=np.int64)})
        table["proportion"] = table["observed"] / table["n"]
        p0 = float(table["observed"].sum() / table["n"].sum()) if p0 is None else p0
    else:
        raise ParameterError(f"data must be a DataFrame of unit counts or a ComparisonResult, "
                             f"got {type(data).__name__}.")
    if isinstance(overdispersion, str):
        if overdispersion != "estimate":
            raise ParameterError(f"overdispersion must be a number, 'estimate' or None, got "
                                 f"{overdispersion!r}.")
        overdispersion = max(1.0, estimate_overdispersion(table["proportion"] * table["n"],
                                                          table["n"], p0))
    limits = funnel_limits(table["n"], p0, levels=levels, overdispersion=overdispersion)
    out = pd.concat([table.reset_index(drop=True), limits.drop(columns="n")], axis=1)
    outside = np.zeros(len(out))
    for lev in sorted(float(v) for v in levels):
        beyond = (out["proportion"] < out[f"lower_{lev:g}"]) | \
                 (out["proportion"] > out[f"upper_{lev:g}"])
        outside = np.where(beyond, lev, outside)
    out["outside"] = outside
    return out


def funnel_plot(data: pd.DataFrame | ComparisonResult, ax=None, *, p0: float | None = None,
                levels: Sequence[float] = (0.95, 0.998),
                overdispersion: float | str | None = None, min_n: int = 10,
                label_outside: bool = True, disclosure: bool = True, **columns: str):
    """Funnel plot: proportion against unit size with control limits (Spiegelhalter 2005).

    Parameters
    ----------
    data : pandas.DataFrame or ComparisonResult
        As :func:`funnel_table`.
    ax : matplotlib Axes, optional
        Axes to draw on (a new figure if None).
    p0, levels, overdispersion
        As :func:`funnel_table` (computed from all units, drawn or not).
    min_n : int, default 10
        Units smaller than this are not drawn. With ``disclosure=False`` set 1 to draw all.
    label_outside : bool, default True
        Write the unit next to drawn points outside the outermost limits (a unit that is
        not drawn is never named).
    disclosure : bool, default True
        Leave out every unit whose rate :func:`evaluation.disclosure.protect_rates` would
        hide with its project defaults (denominator below 10, or a small count of events or
        of non-events): a point's position gives its n and proportion, hence its count. How
        many were left out is written in the legend (``"3 units not shown (small
        counts)"``). Set False only for analysts working on their own data in a secure
        environment: every unit with ``n >= min_n`` is then drawn, small counts included,
        and the plot must not be published.
    **columns
        ``unit_col``, ``n_col``, ``observed_col`` for a DataFrame.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes; points outside the limits are drawn in red (95 %) or dark red (99.8 %).

    Raises
    ------
    ParameterError
        As :func:`funnel_table`, or if ``disclosure`` is not True or False.

    Notes
    -----
    For a :class:`ComparisonResult` the plotted proportion is the risk-standardised
    observed / expected x overall rate; it is hidden by the same rule on the unit's
    observed events and n, since the expected events may be published beside it. The limit
    curves are drawn over the range of the drawn units (from ``min_n``), so that their end
    does not give away the size of a unit left out.

    Examples
    --------
    >>> units = pd.DataFrame({"unit": list("abcd"), "n": [40, 200, 90, 15],
    ...                       "observed": [30, 30, 14, 3]})
    >>> ax = funnel_plot(units)          # d (3 events of 15) is left out
    >>> ax.get_xlabel()
    'unit size (n)'
    >>> ax.get_legend_handles_labels()[1][-1]
    '1 unit not shown (small counts)'
    """
    import matplotlib.pyplot as plt

    if not isinstance(disclosure, (bool, np.bool_)):
        raise ParameterError(f"disclosure must be True or False, got {disclosure!r}.")
    table = funnel_table(data, p0=p0, levels=levels, overdispersion=overdispersion, **columns)
    if isinstance(data, ComparisonResult):
        p0 = data.metadata["overall_rate"] if p0 is None else p0
    elif p0 is None:
        p0 = float(table["observed"].sum() / table["n"].sum())
    if isinstance(overdispersion, str):
        overdispersion = max(1.0, estimate_overdispersion(table["proportion"] * table["n"],
                                                          table["n"], p0))
    ax = ax if ax is not None else plt.subplots()[1]
    large = (table["n"] >= min_n).to_numpy()
    if disclosure:
        safe = protect_rates(table["observed"].astype(float),
                             table["n"].astype(float)).notna().to_numpy()
    else:
        safe = np.ones(len(table), dtype=bool)
    shown = table[large & safe]
    if disclosure:   # the limits must not show where a left-out unit lies
        low = max(1, min_n)
        high = shown["n"].max() if len(shown) else 10 * low
    else:
        low = max(1, min(min_n, table["n"].min()))
        high = table["n"].max()
    grid = np.unique(np.round(np.geomspace(low, max(high, low + 1, 2) * 1.05, 200)))
    lim = funnel_limits(grid, p0, levels=levels, overdispersion=overdispersion)
    styles = ["--", ":", "-."]
    for k, lev in enumerate(float(v) for v in levels):
        style = styles[k % len(styles)]
        ax.plot(lim["n"], lim[f"lower_{lev:g}"], color="grey", linestyle=style,
                label=f"{lev:.1%}")
        ax.plot(lim["n"], lim[f"upper_{lev:g}"], color="grey", linestyle=style)
    ax.axhline(p0, color="black", linewidth=1)
    top = max(float(v) for v in levels)
    colour = np.where(shown["outside"] >= top, "darkred",
                      np.where(shown["outside"] > 0, "red", "tab:blue"))
    ax.scatter(shown["n"], shown["proportion"], c=list(colour), zorder=3)
    if label_outside:
        for _, row in shown[shown["outside"] >= top].iterrows():
            ax.annotate(str(row["unit"]), (row["n"], row["proportion"]), fontsize=8,
                        xytext=(3, 3), textcoords="offset points")
    n_small = int((~safe).sum())
    n_below = int((safe & ~large).sum())
    note_units_not_shown(ax, [(n_small, "small counts"), (n_below, f"n < {min_n}")])
    ax.set_xlabel("unit size (n)")
    ax.set_ylabel("proportion")
    ax.legend()
    return ax
