"""Time-to-event estimates: Kaplan–Meier with log-rank test, quantiles and restricted mean
survival time; the validation of time-to-event data shared with
:mod:`evaluation.models.competing_risks` (cumulative incidence and Gray's test).

- :func:`kaplan_meier` returns a :class:`KaplanMeierResult`: the curve with Greenwood SE and
  log-log limits, quantiles (``quantiles_``; :meth:`~KaplanMeierResult.quantiles` adds
  confidence limits, e.g. the median length of stay with its CI), restricted mean survival
  time to a horizon (:meth:`~KaplanMeierResult.rmst`, with :meth:`~KaplanMeierResult.
  rmst_difference` and :meth:`~KaplanMeierResult.rmst_ratio` between groups) and the
  log-rank test (``logrank_``).

The estimates are direct implementations that handle tied times exactly (lifelines'
``AalenJohansenFitter`` jitters ties and is not used), validated against R's survival and
cmprsk packages (``tests/reference/survival_reference.R``,
``survival_extra_reference.R`` and ``gray_strata_reference.R``).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import (
    check_alpha,
    numeric_values,
    refuse_missing,
    require_columns,
    require_dataframe,
)
from evaluation.errors import ParameterError, ShortFollowUpWarning
from evaluation.models.results import (
    Result,
    curves_by_group,
    group_labels,
    package_versions,
    step_curves_plot,
    with_group,
)

__all__ = ["KaplanMeierResult", "LogRankResult", "kaplan_meier", "risk_table", "split_groups",
           "survival_frame", "survival_versions"]

_QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))  # R: sqrt(.Machine$double.eps)


def survival_versions() -> dict[str, str]:
    """Package versions for ``metadata``."""
    return package_versions("numpy", "pandas", "scipy")


# --------------------------------------------------------------------------- validation
def survival_frame(data: Any, duration_col: str, event_col: str,
                   group_col: str | None, strata_col: str | None = None) -> pd.DataFrame:
    """The checked columns of time-to-event ``data`` as a frame with ``time``, ``event`` and,
    if given, ``group`` (labels in their natural order) and ``strata`` (codes 0, 1, ...)."""
    require_dataframe(data)
    cols = {"duration_col": duration_col, "event_col": event_col}
    if group_col is not None:
        cols["group_col"] = group_col
    if strata_col is not None:
        if group_col is None:
            raise ParameterError(f"strata_col={strata_col!r} stratifies Gray's test between "
                                 "groups, so it needs group_col; give group_col too, or drop "
                                 "strata_col.")
        if strata_col == group_col:
            raise ParameterError(f"strata_col={strata_col!r} is also group_col: within each "
                                 "stratum there would be a single group and nothing to "
                                 "compare. Stratify by another column.")
        cols["strata_col"] = strata_col
    require_columns(data, cols)
    frame = data[list(cols.values())]
    for arg, col in cols.items():
        refuse_missing(frame[col], col, arg)
    time = numeric_values(frame[duration_col], duration_col, "duration_col",
                          hint=" (e.g. days of follow-up)")
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"column {duration_col!r} (duration_col) must hold finite "
                             f"non-negative durations; row {i} has {float(time[i])!r}. Check that "
                             "end dates are not before start dates.")
    event = numeric_values(frame[event_col], event_col, "event_col",
                           hint=" or boolean event codes")
    out = pd.DataFrame({"time": time, "event": event})
    if group_col is not None:
        out["group"] = group_labels(frame[group_col])
    if strata_col is not None:
        out["strata"] = group_labels(frame[strata_col]).codes  # 0 .. n_strata - 1
    if len(out) == 0:
        raise ParameterError("data has no rows; nothing to estimate.")
    return out


def split_groups(frame: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    """Rows of each group, in the groups' natural order (see ``results.group_labels``)."""
    if "group" not in frame:
        return [(None, frame)]
    return [(g, frame[frame["group"] == g]) for g in frame["group"].cat.categories]



# --------------------------------------------------------------------------- Kaplan–Meier
def risk_table(time: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct times, number at risk and events (``events`` may be 2-D: one column a cause)."""
    times, inverse = np.unique(time, return_inverse=True)
    n_at = np.bincount(inverse, minlength=len(times))
    n_risk = len(time) - np.concatenate([[0], np.cumsum(n_at)[:-1]])
    if events.ndim == 1:
        d = np.bincount(inverse, weights=events, minlength=len(times))
    else:
        d = np.column_stack([np.bincount(inverse, weights=events[:, k], minlength=len(times))
                             for k in range(events.shape[1])])
    return times, n_risk.astype(float), n_at.astype(float), d


def _km_table(time: np.ndarray, event: np.ndarray, alpha: float) -> pd.DataFrame:
    times, n, n_at, d = risk_table(time, event)
    surv = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        green = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))  # inf once n == d
        se_log = np.sqrt(green)                                      # SE of log S (= of H)
        se = np.where(surv > 0, surv * se_log, np.nan)
        z = stats.norm.ppf(1 - alpha / 2)
        inner = (surv > 0) & (surv < 1)
        ls = np.log(surv)
        shift = z * se_log / ls
        lower = np.where(inner, np.exp(-np.exp(np.log(-ls) - shift)), np.nan)
        upper = np.where(inner, np.exp(-np.exp(np.log(-ls) + shift)), np.nan)
    return pd.DataFrame({"time": times, "n_risk": n, "n_event": d, "n_censor": n_at - d,
                         "estimate": surv, "se": se, "ci_lower": lower, "ci_upper": upper})


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _QUANTILE_TOL) -> float:
    """R survival:::findq for one probability: x times (0 first), y = 1 - S (0 first).

    ``y`` may hold NaN (a confidence band where it is undefined); like R's ``approx`` those
    points are skipped, and the first point (in sorted order of ``y``) at or above ``p`` is used.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()  # NaN duplicates NaN, as R duplicated()
    x, y = x[keep], y[keep]
    valid = np.flatnonzero(~np.isnan(y))
    order = valid[np.argsort(y[valid], kind="stable")]

    def first_at_least(shifted: np.ndarray) -> int | None:
        i = int(np.searchsorted(shifted, p, side="left"))
        return None if i >= len(shifted) or p < shifted[0] else int(order[i])

    i1, i2 = first_at_least(y[order] + tol), first_at_least(y[order] - tol)
    quant = np.nan if i1 is None or i2 is None else float((x[i1] + x[i2]) / 2)
    if p == 0:
        quant = float(x[0])
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:  # p reached on the last flat stretch
        quant = np.nan if i1 is None else float((x[i1] + xmax) / 2)
    return quant


def _check_tau(tau: Any) -> float:
    try:
        value = float(tau)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"tau must be a number (a horizon in the units of duration_col), "
                             f"got {tau!r}.") from exc
    if not (np.isfinite(value) and value > 0):
        raise ParameterError(f"tau must be a finite horizon greater than 0, got {tau!r}.")
    return value


def _rmst_one(time: np.ndarray, surv: np.ndarray, n: np.ndarray, d: np.ndarray,
              tau: float) -> tuple[float, float]:
    """Restricted mean and its SE for one curve, as R ``survival:::survmean``."""
    keep = time <= tau
    if not keep.any():
        return tau, 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_var = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    t = np.append(time[keep], tau)
    h = np.append(hazard_var[keep], 0.0)
    rect = np.diff(np.concatenate([[0.0], t])) * np.concatenate([[1.0], surv[keep]])
    tail = np.cumsum(rect[::-1])[::-1]  # tail[k]: area from t_(k-1) to tau
    return float(rect.sum()), float(np.sqrt(np.sum(tail[1:] ** 2 * h[:-1])))


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test of equal survival between groups (R ``survdiff``, rho = 0).

    As ``survdiff``, groups with no expected event (all censored or gone before the first
    event) are left out and ``df`` is the number of remaining groups - 1. With fewer than two
    remaining groups ``statistic`` is 0 and ``df`` 0 (``p_value`` 1, or NaN without any
    event); if the variance matrix is singular (e.g. everyone at risk has the event),
    ``statistic`` and ``p_value`` are NaN.
    """

    statistic: float
    df: int
    p_value: float


@dataclass
class KaplanMeierResult(Result):
    """Kaplan–Meier estimate; see :func:`kaplan_meier` for the columns of ``summary``.

    Attributes
    ----------
    median_ : float or pandas.Series
        Median survival time (per group, indexed by group, if grouped); NaN if not reached.
    quantiles_ : pandas.DataFrame
        Columns ``q25, q50, q75`` (times by which 25/50/75 % have had the event), plus
        ``group`` if grouped.
    logrank_ : LogRankResult or None
        Log-rank test between groups (None without ``group_col``).

    Methods :meth:`quantile` (one p, point estimate), :meth:`quantiles` (a tidy table with
    confidence limits), :meth:`rmst`, :meth:`rmst_difference` and :meth:`rmst_ratio` read
    further estimates off the fitted curve.
    """

    median_: Any = None
    quantiles_: pd.DataFrame | None = None
    logrank_: LogRankResult | None = None

    def quantile(self, p: float) -> Any:
        """Time at which a fraction ``p`` has had the event, as R ``quantile(fit, p)``.

        The smallest time with S(t) <= 1 - p; where S(t) equals 1 - p (within
        sqrt(machine epsilon)) over a flat stretch, the midpoint of that stretch (its start
        and the next drop, or the last follow-up time). NaN if never reached. A float
        without groups, else a Series indexed by group.

        Examples
        --------
        >>> df = pd.DataFrame({"days": [30, 60, 90, 120], "ended": [1, 1, 1, 1]})
        >>> fit = kaplan_meier(df, "days", "ended")
        >>> fit.quantile(0.5)  # S = 0.5 from 60 to 90: the midpoint
        75.0
        """
        if not (isinstance(p, numbers.Real) and 0 <= p <= 1):
            raise ParameterError(f"p must lie in [0, 1], got {p!r}.")
        values = {}
        for g, tab in self._by_group():
            x = np.concatenate([[0.0], tab["time"].to_numpy()])
            y = np.concatenate([[0.0], 1.0 - tab["estimate"].to_numpy()])
            values[g] = _findq(x, y, p)
        return values[None] if None in values else pd.Series(values, name=f"q{p:g}")

    def quantiles(self, probs: Sequence[float] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Quantiles of the event time with confidence limits, as R ``quantile.survfit``.

        Parameters
        ----------
        probs : sequence of float, default (0.25, 0.5, 0.75)
            Fractions p in [0, 1] that have had the event (0.5 gives the median).

        Returns
        -------
        pandas.DataFrame
            One row per group (if grouped) and p, in the order of ``probs``:

            - ``group``: group label (only with ``group_col``)
            - ``quantile``: p
            - ``estimate``: time at which S(t) reaches 1 - p (see :meth:`quantile`)
            - ``ci_lower``, ``ci_upper``: times at which the upper and lower confidence
              limits of S(t) reach 1 - p (NaN where a limit never does, e.g. when fewer than
              p have had the event, or the curve ends first)

        Raises
        ------
        ParameterError
            If a probability is missing or outside [0, 1].

        Notes
        -----
        The limits are where the pointwise log-log band of ``summary`` crosses 1 - p
        (Brookmeyer and Crowley's idea, in R's form: ``quantile(survfit(...,
        conf.type = "log-log"), conf.int = TRUE)``), using the same rule as the estimate,
        including the midpoint rule on flat stretches. ``ci_lower`` is read off the lower
        band and ``ci_upper`` off the upper band. The level is 1 - ``alpha`` of the fit.
        Validated against R 4.2.2, survival 3.5-3 (``tests/reference/
        survival_extra_reference.R``).

        Examples
        --------
        >>> df = pd.DataFrame({"days": [30, 60, 60, 90, 120, 150, 200, 250],
        ...                    "ended": [1, 1, 0, 1, 1, 1, 0, 1]})
        >>> fit = kaplan_meier(df, "days", "ended")
        >>> fit.quantiles()  # the upper band stays above 0.5: no upper limit for the median
           quantile  estimate  ci_lower  ci_upper
        0      0.25      75.0      30.0     150.0
        1      0.50     120.0      30.0       NaN
        2      0.75     250.0      90.0       NaN
        """
        p_all = np.atleast_1d(np.asarray(probs, dtype=float))
        if p_all.size == 0 or np.isnan(p_all).any() or (p_all < 0).any() or (p_all > 1).any():
            raise ParameterError(f"probs must be probabilities in [0, 1], got {probs!r}.")
        out = []
        for g, tab in self._by_group():
            x = np.concatenate([[0.0], tab["time"].to_numpy()])
            curves = {col: np.concatenate([[0.0], 1.0 - tab[col].to_numpy()])
                      for col in ("estimate", "ci_lower", "ci_upper")}
            rows = {"quantile": p_all}
            for col, y in curves.items():
                rows[col] = np.array([_findq(x, y, p) for p in p_all])
            out.append(with_group(pd.DataFrame(rows), g))
        return pd.concat(out, ignore_index=True)

    def rmst(self, tau: float) -> pd.DataFrame:
        """Restricted mean survival time up to ``tau``, with SE and confidence interval.

        Parameters
        ----------
        tau : float
            Horizon, in the units of ``duration_col`` (e.g. 365 days), greater than 0.

        Returns
        -------
        pandas.DataFrame
            One row per group (if grouped):

            - ``group``: group label (only with ``group_col``)
            - ``tau``: the horizon
            - ``estimate``: area under S(t) from 0 to ``tau`` (expected time event-free
              within the first ``tau``)
            - ``se``: its standard error
            - ``ci_lower``, ``ci_upper``: estimate -+ z se, z = Phi^-1(1 - alpha/2)

        Raises
        ------
        ParameterError
            If ``tau`` is not a finite number greater than 0.

        Warns
        -----
        ShortFollowUpWarning
            If ``tau`` lies beyond a group's last follow-up time while S(t) > 0 there: the
            curve is then carried forward at its last value (as R does), which assumes no
            further events.

        Notes
        -----
        RMST(tau) = sum_j (t_{j+1} - t_j) S(t_j) over the distinct times t_0 = 0 < t_1 <
        ... <= tau, closing at tau. SE from the Greenwood-type delta method, as R's
        ``survival:::survmean``: Var = sum_{t_j <= tau} A_j^2 d_j / (n_j (n_j - d_j)), with
        A_j the area under S from t_j to tau and the term 0 where n_j = d_j (no n/(n-1)
        correction). For tau before the first time, RMST = tau with SE 0 (R's
        ``summary.survfit`` refuses such a tau). Validated against R 4.2.2, survival 3.5-3
        ``summary(survfit(...), rmean = tau)$table`` (``rmean``, ``se(rmean)``;
        ``tests/reference/survival_extra_reference.R``) to a relative tolerance of 1e-10.

        Examples
        --------
        >>> df = pd.DataFrame({"days": [100, 200, 300, 400], "ended": [1, 1, 1, 1]})
        >>> fit = kaplan_meier(df, "days", "ended")
        >>> float(fit.rmst(250)["estimate"].iloc[0])  # (100 + 200 + 250 + 250) / 4
        200.0
        """
        tau = _check_tau(tau)
        z = stats.norm.ppf(1 - self.metadata.get("alpha", 0.05) / 2)
        out, beyond = [], []
        for g, tab in self._by_group():
            if tau > tab["time"].iloc[-1] and tab["estimate"].iloc[-1] > 0:
                beyond.append(f"{tab['time'].iloc[-1]:g}" + ("" if g is None else f" in {g!r}"))
            est, se = _rmst_one(tab["time"].to_numpy(), tab["estimate"].to_numpy(),
                                tab["n_risk"].to_numpy(), tab["n_event"].to_numpy(), tau)
            out.append(with_group(pd.DataFrame({"tau": [tau], "estimate": [est], "se": [se],
                                                 "ci_lower": [est - z * se],
                                                 "ci_upper": [est + z * se]}), g))
        if beyond:
            warnings.warn(f"tau={tau:g} lies beyond the last follow-up time ({'; '.join(beyond)})"
                          ", where S(t) > 0; the curve is carried forward at its last value. "
                          "Choose a tau that every group reaches.", ShortFollowUpWarning,
                          stacklevel=2)
        return pd.concat(out, ignore_index=True)

    def rmst_difference(self, tau: float, reference: Any = None) -> pd.DataFrame:
        """Difference in RMST up to ``tau`` between each group and a reference group.

        Parameters
        ----------
        tau : float
            Horizon, as in :meth:`rmst`.
        reference : optional
            Label of the reference group; default the first group (groups in the order of ``summary``).

        Returns
        -------
        pandas.DataFrame
            One row per non-reference group:

            - ``group``, ``reference``: the two group labels
            - ``tau``: the horizon
            - ``estimate``: RMST(group) - RMST(reference)
            - ``se``: sqrt(se_group^2 + se_reference^2) (independent groups)
            - ``ci_lower``, ``ci_upper``: estimate -+ z se
            - ``p_value``: two-sided Wald test of no difference

        Raises
        ------
        ParameterError
            If the fit has no groups, ``reference`` is not a group, or ``tau`` is invalid.

        Notes
        -----
        The same contrast as ``survRM2::rmst2`` (Uno et al. 2014); the per-group RMST and
        SE are those of :meth:`rmst`. Validated against the same computation in R from
        ``survfit``'s ``rmean`` and ``se(rmean)``.

        Examples
        --------
        >>> df = pd.DataFrame({"days": [100, 200, 300, 400, 150, 250, 350, 450],
        ...                    "ended": [1, 1, 1, 1, 1, 1, 1, 0],
        ...                    "type": ["FH"] * 4 + ["HVB"] * 4})
        >>> fit = kaplan_meier(df, "days", "ended", group_col="type")
        >>> float(fit.rmst_difference(300)["estimate"].iloc[0])  # HVB 250 - FH 225
        25.0
        """
        return self._rmst_contrast(tau, reference, ratio=False)

    def rmst_ratio(self, tau: float, reference: Any = None) -> pd.DataFrame:
        """Ratio of RMST up to ``tau`` between each group and a reference group.

        Parameters
        ----------
        tau : float
            Horizon, as in :meth:`rmst`.
        reference : optional
            Label of the reference group; default the first group (groups in the order of ``summary``).

        Returns
        -------
        pandas.DataFrame
            Columns as :meth:`rmst_difference`, but ``estimate`` is RMST(group) /
            RMST(reference) and ``se`` is the SE of its logarithm,
            sqrt((se_g / RMST_g)^2 + (se_ref / RMST_ref)^2); the limits are
            exp(log estimate -+ z se) and ``p_value`` tests a ratio of 1.

        Raises
        ------
        ParameterError
            If the fit has no groups, ``reference`` is not a group, or ``tau`` is invalid.

        Notes
        -----
        Delta method on the log scale, as ``survRM2::rmst2``.

        Examples
        --------
        >>> df = pd.DataFrame({"days": [100, 200, 300, 400, 150, 250, 350, 450],
        ...                    "ended": [1, 1, 1, 1, 1, 1, 1, 0],
        ...                    "type": ["FH"] * 4 + ["HVB"] * 4})
        >>> fit = kaplan_meier(df, "days", "ended", group_col="type")
        >>> round(float(fit.rmst_ratio(300)["estimate"].iloc[0]), 4)  # HVB 250 / FH 225
        1.1111
        """
        return self._rmst_contrast(tau, reference, ratio=True)

    def _rmst_contrast(self, tau: float, reference: Any, ratio: bool) -> pd.DataFrame:
        if "group" not in self.summary:
            raise ParameterError("RMST contrasts need groups: fit kaplan_meier with group_col.")
        table = self.rmst(tau).set_index("group")
        labels = list(table.index)
        ref = labels[0] if reference is None else str(reference)
        if ref not in labels:
            raise ParameterError(f"reference={reference!r} is not a group; groups: "
                                 f"{', '.join(labels)}.")
        z = stats.norm.ppf(1 - self.metadata.get("alpha", 0.05) / 2)
        m0, s0 = table.loc[ref, "estimate"], table.loc[ref, "se"]
        rows = []
        for g in labels:
            if g == ref:
                continue
            m1, s1 = table.loc[g, "estimate"], table.loc[g, "se"]
            if ratio:
                est = m1 / m0
                se = float(np.sqrt((s1 / m1) ** 2 + (s0 / m0) ** 2))
                centre = np.log(est)
            else:
                est = m1 - m0
                se = float(np.sqrt(s1**2 + s0**2))
                centre = est
            lower, upper = centre - z * se, centre + z * se
            if ratio:
                lower, upper = np.exp(lower), np.exp(upper)
            p = float(2 * stats.norm.sf(abs(centre) / se)) if se > 0 else np.nan
            rows.append({"group": g, "reference": ref, "tau": tau, "estimate": float(est),
                         "se": se, "ci_lower": float(lower), "ci_upper": float(upper),
                         "p_value": p})
        return pd.DataFrame(rows, columns=["group", "reference", "tau", "estimate", "se",
                                           "ci_lower", "ci_upper", "p_value"])

    def _by_group(self) -> list[tuple[Any, pd.DataFrame]]:
        return curves_by_group(self.summary)

    def plot(self, ax=None, ci: bool = True):
        """Step curves of S(t) (one per group) with log-log bands; returns the Axes."""
        return step_curves_plot(self.summary, ax=ax, start=1.0, ylabel="survival probability",
                                ci=ci)


def _logrank(frame: pd.DataFrame) -> LogRankResult:
    labels, g = np.unique(frame["group"].to_numpy(), return_inverse=True)
    t = frame["time"].to_numpy()
    failed = frame["event"].to_numpy() > 0
    times = np.unique(t[failed])
    n_g = np.column_stack([np.sum(g == k) - np.searchsorted(np.sort(t[g == k]), times, "left")
                           for k in range(len(labels))]).astype(float)  # at risk: t >= s
    d_g = np.zeros((len(times), len(labels)))
    np.add.at(d_g, (np.searchsorted(times, t[failed]), g[failed]), 1.0)
    n = n_g.sum(axis=1)
    d = d_g.sum(axis=1)
    expected = (n_g * (d / n)[:, None]).sum(axis=0)
    observed = d_g.sum(axis=0)
    w = np.where(n > 1, d * (n - d) / np.where(n > 1, n - 1, 1), 0.0)
    frac = n_g / n[:, None]
    var = np.einsum("t,tg,gh->gh", w, frac, np.eye(len(labels))) - np.einsum(
        "t,tg,th->gh", w, frac, frac)
    keep = expected > 0                       # as survdiff: drop groups expecting no event
    df = int(keep.sum()) - 1
    if df < 1:                                # R: chi-square 0 (p = 1 on 0 df; NaN if no events)
        return LogRankResult(statistic=0.0, df=max(df, 0), p_value=1.0 if df == 0 else np.nan)
    diff = (observed - expected)[keep][:-1]
    try:
        stat = float(diff @ np.linalg.solve(var[np.ix_(keep, keep)][:-1, :-1], diff))
    except np.linalg.LinAlgError:             # zero variance, e.g. everyone at risk fails
        return LogRankResult(statistic=np.nan, df=df, p_value=np.nan)
    return LogRankResult(statistic=stat, df=df, p_value=float(stats.chi2.sf(stat, df)))


def kaplan_meier(data: pd.DataFrame, duration_col: str, event_col: str, *,
                 group_col: str | None = None, alpha: float = 0.05) -> KaplanMeierResult:
    """Kaplan–Meier (product-limit) survival estimate with Greenwood SE and log-log CIs.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode (or child).
    duration_col : str
        Follow-up time (e.g. days in care), finite and non-negative.
    event_col : str
        1/True if the event happened at the duration, 0/False if censored.
    group_col : str, optional
        Estimate one curve per group and test equality with the log-rank test. Groups are
        labelled as text and ordered naturally: the category order of a categorical column,
        else by value (9 before 10).
    alpha : float, default 0.05
        Confidence intervals have level 1 - alpha.

    Returns
    -------
    KaplanMeierResult
        ``summary`` has one row per distinct time (event or censoring), per group:

        - ``group``: group label (only with ``group_col``)
        - ``time``: the distinct time
        - ``n_risk``: number still followed just before ``time``
        - ``n_event``, ``n_censor``: events and censorings at ``time``
        - ``estimate``: S(time)
        - ``se``: Greenwood standard error of S(time) (NaN once S = 0)
        - ``ci_lower``, ``ci_upper``: log-log confidence limits (NaN where S is 0 or 1)

        plus ``median_``, ``quantiles_`` (``q25, q50, q75``), ``logrank_`` and ``metadata``;
        ``quantiles()`` adds confidence limits to the quantiles, ``rmst(tau)`` gives the
        restricted mean survival time and ``rmst_difference(tau)`` / ``rmst_ratio(tau)``
        compare groups.

    Raises
    ------
    ParameterError
        If a column is missing, has missing values, durations are negative or not numeric,
        event codes are not 0/1, or alpha is outside (0, 1).

    Notes
    -----
    S(t) = prod_{t_j <= t} (1 - d_j / n_j). Greenwood: Var(log S) = sum d_j / (n_j (n_j - d_j)).
    Confidence limits are R's ``conf.type = "log-log"``: the interval for log(-log S) with
    SE = sqrt(Var(log S)) / |log S|, i.e. S^exp(+-z SE), z = Phi^-1(1 - alpha/2). The
    log-rank statistic is R ``survdiff`` (rho = 0) with df = groups - 1. Quantiles follow
    R ``quantile.survfit``. Validated against R 4.2.2, survival 3.5-3
    (``tests/reference/survival_reference.R``) to a relative tolerance of 1e-10.

    Examples
    --------
    >>> from evaluation.data.synth import generate
    >>> ep = generate(n_children=200, n_municipalities=3, seed=1).tables["episodes"]
    >>> end = ep["end_date"].fillna(pd.Timestamp("2024-12-31"))
    >>> df = pd.DataFrame({"days": (end - ep["start_date"]).dt.days,
    ...                    "ended": ep["end_date"].notna().astype(int)})
    >>> fit = kaplan_meier(df, duration_col="days", event_col="ended")
    >>> bool(fit.median_ > 0)
    True
    >>> fit.quantiles([0.5]).columns.tolist()
    ['quantile', 'estimate', 'ci_lower', 'ci_upper']
    >>> bool(0 < fit.rmst(365)["estimate"].iloc[0] <= 365)
    True
    """
    alpha = check_alpha(alpha)
    frame = survival_frame(data, duration_col, event_col, group_col)
    bad = ~np.isin(frame["event"], (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"column {event_col!r} (event_col) must be 0/1 or boolean; row {i} "
                             f"has {float(frame['event'].iloc[i])!r}. For competing causes use "
                             "cumulative_incidence, or pass (status > 0) for any event.")
    tables = [with_group(_km_table(sub["time"].to_numpy(), sub["event"].to_numpy(), alpha), g)
              for g, sub in split_groups(frame)]
    summary = pd.concat(tables, ignore_index=True)
    result = KaplanMeierResult(
        summary=summary,
        metadata={"method": "Kaplan-Meier", "alpha": alpha, "n": len(frame),
                  "se": "Greenwood", "conf_type": "log-log (as R survfit conf.type='log-log')",
                  "duration_col": duration_col, "event_col": event_col, "group_col": group_col,
                  "versions": survival_versions()},
    )
    q = {f"q{int(p * 100)}": result.quantile(p) for p in (0.25, 0.5, 0.75)}
    if group_col is None:
        result.quantiles_ = pd.DataFrame({k: [v] for k, v in q.items()})
        result.median_ = q["q50"]
    else:
        result.quantiles_ = pd.DataFrame(q).rename_axis("group").reset_index()
        result.median_ = q["q50"].rename("median")
        if frame["group"].nunique() > 1:
            result.logrank_ = _logrank(frame)
    return result
