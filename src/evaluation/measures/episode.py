"""Outcome measures on entry cohorts (DOMAIN.md section 4), with confidence intervals.

Every measure returns a tidy DataFrame with one row per group and the columns
``measure``, the group columns, ``numerator``, ``denominator``, ``value``, ``ci_lower``
and ``ci_upper``. Shares use the Wilson score interval; rates use the exact (Garwood)
Poisson interval; mean ratings use the Student t interval. Measures read at several points
add one key column before ``numerator`` (``horizon_days``, ``quantile`` or ``theme``). The
unit of analysis is the placement episode unless a measure says otherwise (NI 062 counts
children; child_heard_share and child_rated_themes count follow-ups; reviews_on_time counts
due reviews). :data:`MEASURES` lists the measure functions; each is documented in the
``measures`` section of the data dictionary.

The three measures whose unit lies below the child and recurs over time (child_heard_share,
child_rated_themes, reviews_on_time) take ``cluster_col`` (the child pseudonym column of
episodes, normally ``"child_id"``): the value is unchanged, the interval uses the effective
sample size from the design effect of children as clusters (:func:`design_effect`, Korn &
Graubard 1998), and ``design_effect`` and ``n_effective`` are appended to the output.

Conventions shared by all measures
----------------------------------
* Period bounds are inclusive dates: an episode "starts in the window" when
  ``period_start <= start_date <= period_end``.
* Age is known only through ``birth_year``, so the age at a date is
  ``date.year - birth_year`` (the age reached during that calendar year). This is an
  approximation of at most one year; it is what the register variables allow.
* ``group_cols`` may name any column of the episodes table, and ``"age_group"``, which is
  derived with :func:`age_group` when the table has no such column (from the age at entry;
  at the ending for :func:`re_referral_12m`, at the census date for
  :func:`long_term_stability`, at the follow-up or due date for the follow-up measures).
* "12 months after" a date is the calendar offset ``date + pd.DateOffset(months=12)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import check_alpha
from evaluation.data.cohort import (
    age_at_start,
    as_date,
    data_end_date,
    entrants,
    group_list,
    period_bounds,
    require_table,
    stay_days,
    with_groups,
)
from evaluation.errors import ParameterError

__all__ = [
    "MEASURES",
    "breakdown_risk",
    "child_heard_share",
    "child_rated_themes",
    "design_effect",
    "exit_to_permanency_12m",
    "goal_attainment_share",
    "length_of_stay",
    "long_term_stability",
    "placement_stability",
    "planned_ending_share",
    "poisson_rate_interval",
    "re_entry_12m",
    "re_referral_12m",
    "reviews_on_time",
    "three_or_more_placements",
    "wilson_interval",
]

#: Names of the outcome-measure functions, in the order of DOMAIN.md section 4. Each has an
#: entry in the ``measures`` section of the data dictionary (a test checks both ways).
MEASURES = (
    "breakdown_risk",
    "placement_stability",
    "three_or_more_placements",
    "long_term_stability",
    "exit_to_permanency_12m",
    "re_entry_12m",
    "re_referral_12m",
    "goal_attainment_share",
    "planned_ending_share",
    "child_heard_share",
    "child_rated_themes",
    "reviews_on_time",
    "length_of_stay",
)

RESULT_COLUMNS = ["numerator", "denominator", "value", "ci_lower", "ci_upper"]
_YEAR = pd.DateOffset(months=12)


# --------------------------------------------------------------------------- intervals
def _check_alpha(alpha: float) -> None:
    check_alpha(alpha)


def wilson_interval(k, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion, vectorised.

    Parameters
    ----------
    k : array_like
        Number of successes.
    n : array_like
        Number of trials (same shape as ``k`` or broadcastable).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray
        Interval bounds (float); NaN where ``n == 0``.

    Raises
    ------
    ParameterError
        If ``alpha`` is not in (0, 1), or ``k`` is negative or larger than ``n``.

    Notes
    -----
    With ``p = k / n`` and ``z = Phi^-1(1 - alpha / 2)``::

        centre = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))

    The bounds are set to exactly 0 when ``k == 0`` and 1 when ``k == n``. Validated
    against ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    Examples
    --------
    >>> lo, hi = wilson_interval([3], [10])
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.1078, 0.6032)
    """
    _check_alpha(alpha)
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(k < 0) or np.any(k > n):
        raise ParameterError("wilson_interval needs 0 <= k <= n for every element.")
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        # k == 0 and k == n give exactly 0 and 1 in theory; avoid rounding residue
        lower = np.where(k == 0, 0.0, np.clip(centre - half, 0, 1))
        upper = np.where(k == n, 1.0, np.clip(centre + half, 0, 1))
        lower = np.where(n > 0, lower, np.nan)
        upper = np.where(n > 0, upper, np.nan)
    return lower, upper


def poisson_rate_interval(k, exposure, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval for a Poisson rate ``k / exposure``, vectorised.

    Parameters
    ----------
    k : array_like
        Event counts (non-negative integers).
    exposure : array_like
        Person-time at risk (e.g. days in care); must be positive.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray
        Bounds of the rate per unit of exposure (multiply by e.g. 1,000 for "per 1,000
        days"); NaN where ``exposure == 0``.

    Raises
    ------
    ParameterError
        If ``alpha`` is not in (0, 1) or ``k`` is negative.

    Notes
    -----
    ``lower = chi2.ppf(alpha / 2, 2k) / 2 / exposure`` (0 when ``k == 0``) and
    ``upper = chi2.ppf(1 - alpha / 2, 2k + 2) / 2 / exposure``. Validated against
    ``statsmodels.stats.rates.confint_poisson(method="exact-c")`` and the hand value
    ``upper = -log(0.025) = 3.689`` for ``k = 0``, exposure 1.

    Examples
    --------
    >>> lo, hi = poisson_rate_interval([0], [1.0])
    >>> float(lo[0]), round(float(hi[0]), 4)
    (0.0, 3.6889)
    """
    _check_alpha(alpha)
    k = np.asarray(k, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    if np.any(k < 0):
        raise ParameterError("poisson_rate_interval needs non-negative counts k.")
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
        lower = np.where(exposure > 0, lo / exposure, np.nan)
        upper = np.where(exposure > 0, hi / exposure, np.nan)
    return lower, upper


def design_effect(
    data: pd.DataFrame,
    y_col: str,
    cluster_col: str,
    by=None,
    kind: str = "proportion",
) -> pd.DataFrame:
    """Cluster (linearisation) variance of a mean or share, its design effect and effective n.

    Rows are units (follow-ups, due reviews, ratings) and ``cluster_col`` names the cluster
    they belong to (the child). The mean of ``y_col`` is a ratio estimator
    ``r = sum(y) / n``; its variance is estimated from the cluster totals, so correlated
    units of one child count as one independent draw, not several.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit with ``y_col``, ``cluster_col`` and the ``by`` columns.
    y_col : str
        Numeric outcome (0/1 for a share, e.g. a rating for a mean); no missing values.
    cluster_col : str
        Cluster identifier (e.g. ``"child_id"``); no missing values.
    by : str or list of str, optional
        Columns whose value combinations each get their own row (missing values form a
        group of their own). By default one row for all data.
    kind : {"proportion", "mean"}, default "proportion"
        Reference variance the design effect divides by: the binomial ``r (1 - r) / n`` for
        a share of 0/1 values, or ``s^2 / n`` (sample variance, ``ddof=1``) for a mean.

    Returns
    -------
    pandas.DataFrame
        One row per group (sorted by the ``by`` columns): the ``by`` columns, ``n`` (units),
        ``n_clusters``, ``estimate`` (``r``), ``variance`` (cluster linearisation variance
        of ``r``), ``variance_srs`` (the reference variance of ``kind``), ``design_effect``
        (``max(1, variance / variance_srs)``) and ``n_effective`` (``n / design_effect``).
        With fewer than two clusters ``variance``, ``design_effect`` and ``n_effective``
        are NaN (the variance between clusters cannot be estimated).

    Raises
    ------
    ParameterError
        If a column is missing, ``y_col`` is not numeric or has missing values (or, for
        ``kind="proportion"``, values other than 0 and 1), ``cluster_col`` has missing
        values, or ``kind`` is unknown.

    Notes
    -----
    With ``y_c`` and ``m_c`` the total of ``y`` and the number of units in cluster ``c``,
    ``C`` clusters and ``n = sum m_c`` units, the linearisation (Taylor) variance of the
    ratio ``r = sum y_c / n`` with clusters drawn with replacement is::

        variance = C / (C - 1) * sum_c (y_c - r m_c)^2 / n^2

    and the design effect is ``variance / variance_srs``, set to 1 when it is smaller (a
    clustering-aware interval is never narrower than the plain one) and to 1 when both
    variances are 0 (all units equal). With one unit per cluster the design effect of a
    share is ``n / (n - 1)`` (the with-replacement factor ``C / (C - 1)`` against the
    binomial variance) and that of a mean is 1. Each row of ``by`` is treated as a sample
    of its own (its clusters only); R's domain estimation (``svyby``) instead uses the
    clusters of all rows, which changes ``C / (C - 1)`` slightly when a group has few
    children.

    ``n_effective = n / design_effect`` is the effective sample size of Korn & Graubard
    (1998), used by the measures for a Wilson interval of a share and a t interval of a
    mean. Korn & Graubard further scale it by ``(t(n - 1) / t(C - 1))^2``, a
    degrees-of-freedom correction for few clusters, which is not applied here (so with
    few children the share interval is somewhat optimistic). Validated against R
    ``survey::svymean(~y, svydesign(ids = ~child, data = d))`` (squared SE) in
    ``tests/reference/measures_cluster_reference.R``.

    References
    ----------
    Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with small
    expected number of positive counts estimated from survey data. *Survey Methodology*
    24(2), 193-201.

    Examples
    --------
    Four children with three follow-ups each, heard at all or at none of them: the twelve
    follow-ups carry the information of three independent ones.

    >>> d = pd.DataFrame({"child_id": list("AAABBBCCCDDD"),
    ...                   "heard": [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0]})
    >>> r = design_effect(d, "heard", "child_id")
    >>> r[["n", "n_clusters", "estimate", "design_effect", "n_effective"]]
        n  n_clusters  estimate  design_effect  n_effective
    0  12           4       0.5            4.0          3.0
    """
    keys = group_list(by)
    if not isinstance(y_col, str) or not isinstance(cluster_col, str):
        raise ParameterError(
            f"y_col and cluster_col must be column names, got {y_col!r} and {cluster_col!r}."
        )
    if kind not in ("proportion", "mean"):
        raise ParameterError(f"kind must be 'proportion' or 'mean', got {kind!r}.")
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    missing = [c for c in [y_col, cluster_col, *keys] if c not in data.columns]
    if missing:
        raise ParameterError(
            f"data lacks column(s) {missing} named by y_col, cluster_col or by; "
            f"its columns are {list(data.columns)}."
        )
    y = data[y_col]
    if not (pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y)) or y.isna().any():
        raise ParameterError(
            f"column {y_col!r} must be numeric without missing values to compute a design "
            "effect; drop or recode the missing units first."
        )
    if kind == "proportion":
        other = ~y.astype(float).isin([0.0, 1.0]).to_numpy()
        if other.any():
            raise ParameterError(
                f"column {y_col!r} has values other than 0 and 1 (first "
                f"{float(y.to_numpy()[other][0])!r}); kind='proportion' is for shares of 0/1 "
                "values, use kind='mean' for a mean (e.g. of ratings)."
            )
    if data[cluster_col].isna().any():
        raise ParameterError(
            f"cluster column {cluster_col!r} is missing for {int(data[cluster_col].isna().sum())}"
            " unit(s); every unit needs its cluster (child), or pass cluster_col=None to the "
            "measure for the plain interval."
        )
    key_cols = keys or ["_all"]
    d = data[[*keys, cluster_col]].copy()
    d["_all"] = 0
    d["_y"] = y.astype(float).to_numpy()
    by_group = d.groupby(key_cols, dropna=False, observed=True)["_y"]
    d["_e"] = d["_y"] - by_group.transform("mean")  # y_i - r: sums to y_c - r m_c by cluster
    d["_e2"] = d["_e"] ** 2
    ct = (
        d.groupby([*key_cols, cluster_col], dropna=False, observed=True)
        .agg(_m=("_y", "size"), _ysum=("_y", "sum"), _e=("_e", "sum"), _e2=("_e2", "sum"))
        .reset_index()
    )
    ct["_ec2"] = ct["_e"] ** 2
    out = (
        ct.groupby(key_cols, dropna=False, observed=True)
        .agg(
            n=("_m", "sum"),
            n_clusters=("_m", "size"),
            _ysum=("_ysum", "sum"),
            _ss=("_ec2", "sum"),
            _tss=("_e2", "sum"),
        )
        .reset_index()
    )
    n = out["n"].to_numpy(dtype=float)
    c = out["n_clusters"].to_numpy(dtype=float)
    r = out["_ysum"].to_numpy(dtype=float) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(c >= 2, c / (c - 1) * out["_ss"].to_numpy() / n**2, np.nan)
        if kind == "proportion":
            var_srs = r * (1 - r) / n
        else:
            var_srs = np.where(n > 1, out["_tss"].to_numpy() / (n - 1) / n, np.nan)
        ratio = np.where(var_srs > 0, var / var_srs, np.where(np.isnan(var), np.nan, 1.0))
    deff = np.where(np.isnan(ratio), np.nan, np.maximum(ratio, 1.0))
    out["estimate"] = r
    out["variance"] = var
    out["variance_srs"] = var_srs
    out["design_effect"] = deff
    out["n_effective"] = n / deff
    out["n"] = out["n"].astype("int64")
    out["n_clusters"] = out["n_clusters"].astype("int64")
    cols = ["n", "n_clusters", "estimate", "variance", "variance_srs", "design_effect",
            "n_effective"]  # fmt: skip
    return out[[*keys, *cols]]


# --------------------------------------------------------------------------- ages


# --------------------------------------------------------------------------- helpers


def _aggregate(units: pd.DataFrame, groups: list[str], num: str, den: str) -> pd.DataFrame:
    if groups:
        out = units.groupby(groups, dropna=False, observed=True)[[num, den]].sum().reset_index()
    else:
        out = pd.DataFrame({num: [units[num].sum()], den: [units[den].sum()]})
    return out.rename(columns={num: "numerator", den: "denominator"})


def _share(
    units: pd.DataFrame,
    groups: list[str],
    measure: str,
    alpha: float,
    cluster_col: str | None = None,
) -> pd.DataFrame:
    """Units carry ``_num`` (0/1) and ``_den`` (1); returns the tidy Wilson result.

    With ``cluster_col`` the Wilson interval uses the effective sample size of
    :func:`design_effect` per group row, and ``design_effect`` and ``n_effective`` are
    appended.
    """
    out = _aggregate(units, groups, "_num", "_den")
    out["numerator"] = out["numerator"].astype("int64")
    out["denominator"] = out["denominator"].astype("int64")
    n = out["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["value"] = np.where(n > 0, out["numerator"] / n, np.nan)
    out["ci_lower"], out["ci_upper"] = wilson_interval(out["numerator"], n, alpha)
    out.insert(0, "measure", measure)
    out = out[["measure", *groups, *RESULT_COLUMNS]]
    if cluster_col is None:
        return out
    return _with_design_effect(out, units, groups, "_num", cluster_col, "proportion", alpha)


def _cluster_col(cluster_col, episodes: pd.DataFrame) -> str | None:
    """Check ``cluster_col`` (None or a column of episodes) and return it."""
    if cluster_col is None:
        return None
    if not isinstance(cluster_col, str):
        raise ParameterError(
            f"cluster_col must be a column name such as 'child_id' or None, got {cluster_col!r}."
        )
    if cluster_col not in episodes.columns:
        raise ParameterError(
            f"cluster_col {cluster_col!r} is not a column of episodes; name the child "
            "pseudonym column, or pass cluster_col=None for the plain interval (units "
            "treated as independent)."
        )
    return cluster_col


def _with_design_effect(
    out: pd.DataFrame,
    units: pd.DataFrame,
    keys: list[str],
    y_col: str,
    cluster_col: str,
    kind: str,
    alpha: float,
) -> pd.DataFrame:
    """Append ``design_effect`` and ``n_effective`` and recompute the interval with n_eff.

    ``out`` has one row per combination of ``keys`` in ``units``; shares get the Wilson
    interval of ``value`` on ``n_effective`` units, means ``value +- t(C - 1) * sd /
    sqrt(n_effective)`` with ``sd`` in ``out["_sd"]`` and ``C`` clusters.
    """
    de = design_effect(units, y_col, cluster_col, by=keys, kind=kind)
    de = de[[*keys, "n_clusters", "design_effect", "n_effective"]]
    if keys:
        out = out.merge(de, on=keys, how="left", validate="1:1")
    elif len(de):
        out = out.assign(**{c: de[c].to_numpy() for c in de.columns})
    else:  # no unit in the period: the single 0/0 row has no design effect
        out = out.assign(n_clusters=0, design_effect=np.nan, n_effective=np.nan)
    deff = out["design_effect"].to_numpy(dtype=float)
    n = out["denominator"].to_numpy(dtype=float)
    if kind == "proportion":
        k = out["numerator"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            lo, hi = wilson_interval(k / deff, n / deff, alpha)
    else:
        c = out["n_clusters"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            half = (
                stats.t.ppf(1 - alpha / 2, c - 1)
                * out["_sd"].to_numpy(dtype=float)
                / np.sqrt(n / deff)
            )
        ok = (c > 1) & (n > 1) & ~np.isnan(deff)
        lo = np.where(ok, out["value"] - half, np.nan)
        hi = np.where(ok, out["value"] + half, np.nan)
    out["ci_lower"], out["ci_upper"] = lo, hi
    return out.drop(columns=["n_clusters"])


# --------------------------------------------------------------------------- measures
def placement_stability(
    episodes: pd.DataFrame,
    placements: pd.DataFrame,
    period_start,
    period_end,
    per: float = 1000,
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Placement moves per ``per`` days in care for an entry cohort (US CFSR).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year and group columns).
    placements : pandas.DataFrame
        Placements table (episode_id, placement_seq, start_date).
    period_start, period_end : date-like
        Entry window, inclusive (CFSR uses 12 months).
    per : float, default 1000
        Days of exposure the rate is expressed per.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` is derived from the age at entry).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per group with columns ``measure`` ("placement_stability"), the group
        columns, ``numerator`` (moves), ``denominator`` (days in care), ``value``
        (moves per ``per`` days), ``ci_lower`` and ``ci_upper`` (exact Poisson, per ``per``).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        non-positive ``per``.

    Notes
    -----
    * Cohort: episodes starting in the window.
    * Exclusions: episodes that ended after a stay of fewer than 8 days
      (``end_date - start_date < 8``), and entry age >= 18.
    * Observation: from entry to the exit or to ``period_end``, whichever comes first (CFSR:
      "the end of the 12-month period"). Days in care are counted inclusively,
      ``min(end_date, period_end) - start_date + 1``.
    * Numerator: placements of the episode that start within the observation, excluding the
      first placement of the episode (ordered by ``placement_seq``): each later placement is
      one move. An episode without placement rows has one placement and no move.
    * Denominator: summed days in care. Rate: numerator / denominator * ``per``.
    * Source: CFSR Round 3/4 statewide data indicator "placement stability" (DOMAIN.md 4.2),
      adapted to episodes as the unit.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = placement_stability(t["episodes"], t["placements"], "2020-01-01", "2020-12-31")
    >>> list(r.columns)[-5:]
    ['numerator', 'denominator', 'value', 'ci_lower', 'ci_upper']
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    require_table(placements, ["episode_id", "placement_seq", "start_date"], "placements")
    start, end = period_bounds(period_start, period_end)
    if not per > 0:
        raise ParameterError(f"per must be positive, got {per!r}.")
    ep = entrants(episodes, start, end)
    age = age_at_start(ep)
    keep = ~(stay_days(ep) < 8) & (age < 18).fillna(False).astype(bool)
    ep = ep[keep]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    obs_end = pd.to_datetime(ep["end_date"]).where(lambda d: d.notna() & (d <= end), end)
    ep["_den"] = (obs_end - pd.to_datetime(ep["start_date"])).dt.days + 1
    pl = placements[placements["episode_id"].isin(ep["episode_id"])].copy()
    pl = pl.sort_values(["episode_id", "placement_seq"])
    pl["_first"] = ~pl.duplicated("episode_id")
    pl = pl.merge(
        pd.DataFrame({"episode_id": ep["episode_id"], "_obs_end": obs_end}), on="episode_id"
    )
    pl["_move"] = (~pl["_first"]) & (pd.to_datetime(pl["start_date"]) <= pl["_obs_end"])
    moves = pl.groupby("episode_id")["_move"].sum()
    ep["_num"] = ep["episode_id"].map(moves).fillna(0).astype("int64")
    out = _aggregate(ep, groups, "_num", "_den")
    out["numerator"] = out["numerator"].astype("int64")
    out["denominator"] = out["denominator"].astype("int64")
    d = out["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["value"] = np.where(d > 0, out["numerator"] / d * per, np.nan)
    lo, hi = poisson_rate_interval(out["numerator"], d, alpha)
    out["ci_lower"], out["ci_upper"] = lo * per, hi * per
    out.insert(0, "measure", "placement_stability")
    return out[["measure", *groups, *RESULT_COLUMNS]]


def three_or_more_placements(
    episodes: pd.DataFrame,
    placements: pd.DataFrame,
    year: int,
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of children in care during a year with three or more placements (England NI 062).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, start_date, end_date, birth_year, group columns).
    placements : pandas.DataFrame
        Placements table (episode_id, start_date, end_date).
    year : int
        Calendar year.
    group_cols : list of str, optional
        Columns to group by; the child takes the values of its latest episode (by start)
        that is in care during the year; ``"age_group"`` uses the age at that episode's start.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("three_or_more_placements"), group columns, ``numerator`` (children
        with >= 3 placements in the year), ``denominator`` (children in care during the
        year), ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns or a non-integer year.

    Notes
    -----
    * This is a period-prevalence measure by definition, not an entry cohort.
    * Unit: child. In care during the year: an episode with ``start_date <= 31 Dec`` and
      ``end_date`` missing or ``>= 1 Jan``.
    * Numerator: children for whom the placements overlapping the year (over all their
      episodes; a placement counts if it starts on or before 31 Dec and its end date is
      missing or on or after 1 Jan) number three or more. Placements continuing from the
      previous year count, as in NI 062.
    * No age exclusion (Swedish care covers ages 0-20; NI 062 covers under-18s: group by
      ``age_group`` to separate them).
    * Source: England NI 062 "stability of placements: number of moves" (DOMAIN.md 4.3).

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "child_id": ["A", "B"],
    ...                    "start_date": pd.to_datetime(["2020-05-01", "2021-02-01"]),
    ...                    "end_date": pd.NaT, "birth_year": 2010})
    >>> pl = pd.DataFrame({"episode_id": ["E1", "E1", "E1", "E2"],
    ...                    "start_date": pd.to_datetime(["2020-05-01", "2021-01-10",
    ...                                                  "2021-06-01", "2021-02-01"]),
    ...                    "end_date": pd.to_datetime(["2021-01-09", "2021-05-31", None, None])})
    >>> three_or_more_placements(ep, pl, 2021)[["numerator", "denominator", "value"]]
       numerator  denominator  value
    0          1            2    0.5
    """
    groups = group_list(group_cols)
    require_table(
        episodes, ["episode_id", "child_id", "start_date", "end_date", "birth_year"], "episodes"
    )
    require_table(placements, ["episode_id", "start_date", "end_date"], "placements")
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
        raise ParameterError(f"year must be an integer such as 2022, got {year!r}.")
    y0, y1 = pd.Timestamp(int(year), 1, 1), pd.Timestamp(int(year), 12, 31)

    def overlaps(df: pd.DataFrame) -> pd.Series:
        s, e = pd.to_datetime(df["start_date"]), pd.to_datetime(df["end_date"])
        return (s <= y1) & (e.isna() | (e >= y0))

    ep = episodes[overlaps(episodes)].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    pl = placements[placements["episode_id"].isin(ep["episode_id"])]
    pl = pl[overlaps(pl)].merge(ep[["episode_id", "child_id"]], on="episode_id")
    n_pl = pl.groupby("child_id").size()
    children = ep.sort_values(["child_id", "start_date"]).drop_duplicates("child_id", keep="last")
    children["_num"] = (children["child_id"].map(n_pl).fillna(0) >= 3).astype("int64")
    children["_den"] = 1
    return _share(children, groups, "three_or_more_placements", alpha)


def exit_to_permanency_12m(
    episodes: pd.DataFrame, period_start, period_end, data_end, group_cols=None, alpha: float = 0.05
) -> pd.DataFrame:
    """Share of entrants who exit to permanency within 12 months of entry (US CFSR).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, end_reason,
        destination, group columns).
    period_start, period_end : date-like
        Entry window, inclusive.
    data_end : date-like
        Last date covered by the data; must not precede ``period_end``.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at entry).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("exit_to_permanency_12m"), group columns, ``numerator``,
        ``denominator``, ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        ``data_end`` before ``period_end``.

    Notes
    -----
    * Denominator: episodes starting in the window, excluding stays shorter than 8 days
      (ended with ``end_date - start_date < 8``), entry age >= 18, and entrants whose
      12 months are not observable (``start_date + 12 months > data_end``).
    * Numerator: of these, episodes ending on or before ``start_date + 12 months`` with
      destination ``PARENTS`` (reunification) or end reason ``CUSTODY_TRANSFER``, while the
      child was under 18 (``end_date.year - birth_year < 18``).
    * Source: CFSR Round 3/4 "permanency in 12 months for children entering care"
      (DOMAIN.md 4.5); guardianship/adoption are represented by custody transfer.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "birth_year": 2012,
    ...                    "start_date": pd.to_datetime(["2020-02-01", "2020-03-01"]),
    ...                    "end_date": pd.to_datetime(["2020-09-01", None]),
    ...                    "end_reason": ["PLANNED", None], "destination": ["PARENTS", None]})
    >>> r = exit_to_permanency_12m(ep, "2020-01-01", "2020-12-31", "2021-12-31")
    >>> r[["numerator", "denominator", "value"]]
       numerator  denominator  value
    0          1            2    0.5
    """
    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "start_date", "end_date", "birth_year", "end_reason", "destination"],
        "episodes",
    )
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    ep = entrants(episodes, start, end)
    age = age_at_start(ep)
    s = pd.to_datetime(ep["start_date"])
    keep = ~(stay_days(ep) < 8) & (age < 18).fillna(False).astype(bool) & (s + _YEAR <= dend)
    ep = ep[keep]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    s, e = pd.to_datetime(ep["start_date"]), pd.to_datetime(ep["end_date"])
    exit_age = age_at_start(ep, date_col="end_date")
    permanent = (ep["destination"] == "PARENTS").fillna(False) | (
        ep["end_reason"] == "CUSTODY_TRANSFER"
    ).fillna(False)
    ok = e.notna() & (e <= s + _YEAR) & permanent & (exit_age < 18).fillna(False)
    ep["_num"] = ok.astype("int64").to_numpy()
    ep["_den"] = 1
    return _share(ep, groups, "exit_to_permanency_12m", alpha)


def re_referral_12m(
    episodes: pd.DataFrame,
    referrals: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    group_cols=("age_group",),
    require_investigation: bool = False,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of ended episodes followed by a new referral within 12 months (Swedish benchmark).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, end_date, birth_year, group columns).
    referrals : pandas.DataFrame
        Referrals table (child_id, referral_date, and ``led_to_investigation`` when
        ``require_investigation`` is true).
    period_start, period_end : date-like
        Window of end dates, inclusive.
    data_end : date-like
        Last date covered by the data; must not precede ``period_end``.
    group_cols : list of str or None, default ("age_group",)
        Columns to group by. By default the benchmark split 0-12 / 13-20, with
        ``age_group`` derived from the age at the ending. ``None`` gives one overall row.
    require_investigation : bool, default False
        Count only referrals that led to an investigation (the benchmark's "new
        investigation"); by default any new referral counts.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("re_referral_12m"), group columns, ``numerator``, ``denominator``,
        ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        ``data_end`` before ``period_end``.

    Notes
    -----
    * Denominator: episodes with ``end_date`` in the window whose following 12 months are
      observable (``end_date + 12 months <= data_end``). This is an exit cohort by
      definition.
    * Numerator: episodes whose child has a referral with
      ``end_date < referral_date <= end_date + 12 months``.
    * Source: Swedish municipal benchmark (DOMAIN.md 3 and 4.7: ~22 % of youths 13-20
      re-referred within a year).
    * With ages from birth years, a few endings get age 21 (``end_date.year - birth_year``);
      they fall outside 0-20 and form a row with a missing ``age_group``.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "child_id": ["A", "B"],
    ...                    "end_date": pd.to_datetime(["2021-03-01", "2021-06-01"]),
    ...                    "birth_year": [2005, 2004]})
    >>> ref = pd.DataFrame({"child_id": ["A"], "referral_date": pd.to_datetime(["2021-09-01"])})
    >>> r = re_referral_12m(ep, ref, "2021-01-01", "2021-12-31", "2022-12-31")
    >>> r[["age_group", "numerator", "denominator", "value"]]
      age_group  numerator  denominator  value
    0     13-20          1            2    0.5
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "child_id", "end_date", "birth_year"], "episodes")
    ref_cols = ["child_id", "referral_date"] + (
        ["led_to_investigation"] if require_investigation else []
    )
    require_table(referrals, ref_cols, "referrals")
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    e = pd.to_datetime(episodes["end_date"])
    ep = episodes[(e >= start) & (e <= end) & (e + _YEAR <= dend)].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep, date_col="end_date"))
    ref = referrals
    if require_investigation:
        ref = ref[ref["led_to_investigation"].fillna(False).astype(bool)]
    pairs = ep[["episode_id", "child_id", "end_date"]].merge(
        ref[["child_id", "referral_date"]], on="child_id"
    )
    rd, ed = pd.to_datetime(pairs["referral_date"]), pd.to_datetime(pairs["end_date"])
    hit = set(pairs.loc[(rd > ed) & (rd <= ed + _YEAR), "episode_id"])
    ep["_num"] = ep["episode_id"].isin(hit).astype("int64")
    ep["_den"] = 1
    return _share(ep, groups, "re_referral_12m", alpha)


def planned_ending_share(
    episodes: pd.DataFrame, period_start, period_end, group_cols=None, alpha: float = 0.05
) -> pd.DataFrame:
    """Share of episodes ending in a period that ended as planned.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, end_date, planned_ending, birth_year, group columns).
    period_start, period_end : date-like
        Window of end dates, inclusive.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at entry).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("planned_ending_share"), group columns, ``numerator`` (planned
        endings), ``denominator`` (endings), ``value``, ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns or ``period_end`` before ``period_start``.

    Notes
    -----
    * Exit cohort by definition: episodes with ``end_date`` in the window.
    * Numerator: ``planned_ending`` true (derived from ``end_reason``: not a breakdown and
      not absconded). Episodes with a missing ``planned_ending`` are excluded from both.
    * Source: DOMAIN.md 4.9; Socialstyrelsen's ~1 in 4 premature endings.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2", "E3", "E4"], "birth_year": 2010,
    ...                    "start_date": pd.to_datetime(["2020-01-01"] * 4),
    ...                    "end_date": pd.to_datetime(["2021-02-01"] * 4),
    ...                    "planned_ending": [True, True, True, False]})
    >>> planned_ending_share(ep, "2021-01-01", "2021-12-31")[["numerator", "denominator"]]
       numerator  denominator
    0          3            4
    """
    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "start_date", "end_date", "planned_ending", "birth_year"],
        "episodes",
    )
    start, end = period_bounds(period_start, period_end)
    e = pd.to_datetime(episodes["end_date"])
    ep = episodes[(e >= start) & (e <= end) & episodes["planned_ending"].notna()].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    ep["_num"] = ep["planned_ending"].astype(bool).astype("int64")
    ep["_den"] = 1
    return _share(ep, groups, "planned_ending_share", alpha)


def goal_attainment_share(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    group_cols=None,
    success=("FULLY", "PARTLY"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of entrants whose latest assessable follow-up shows the goal (partly) attained.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, goal_attainment).
    period_start, period_end : date-like
        Entry window, inclusive.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at entry).
    success : tuple of str, default ("FULLY", "PARTLY")
        Goal-attainment codes counted as success; use ``("FULLY",)`` for a strict version.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("goal_attainment_share"), group columns, ``numerator``,
        ``denominator``, ``value``, ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, unknown success codes or ``period_end``
        before ``period_start``.

    Notes
    -----
    * Cohort: episodes starting in the window.
    * For each, the latest follow-up (FOLLOWUP or ENDING, by ``followup_date``) whose
      ``goal_attainment`` is assessable (FULLY, PARTLY or NOT; NOT_ASSESSABLE and missing
      are skipped). All follow-ups recorded in the data count, whatever their date.
    * Denominator: entrants with at least one assessable follow-up (entrants without are
      excluded, so compare the denominator with the cohort size).
    * Numerator: those whose latest assessable value is in ``success``.
    * Source: BBIC goal attainment as used by SKL's Webbkollen (DOMAIN.md 1 and 4.8).

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "birth_year": 2010,
    ...                    "start_date": pd.to_datetime(["2020-01-01", "2020-02-01"])})
    >>> fu = pd.DataFrame({"episode_id": ["E1", "E1", "E2"],
    ...                    "followup_date": pd.to_datetime(["2020-07-01", "2021-01-01",
    ...                                                     "2020-08-01"]),
    ...                    "goal_attainment": ["NOT", "PARTLY", "NOT"]})
    >>> goal_attainment_share(ep, fu, "2020-01-01", "2020-12-31")[["numerator", "denominator"]]
       numerator  denominator
    0          1            2
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", "goal_attainment"], "followups")
    assessable = ("FULLY", "PARTLY", "NOT")
    bad = [c for c in success if c not in assessable]
    if bad or not success:
        raise ParameterError(
            f"success codes must be a non-empty subset of {assessable}, got {success!r}."
        )
    start, end = period_bounds(period_start, period_end)
    ep = entrants(episodes, start, end)
    fu = followups[
        followups["goal_attainment"].isin(assessable).fillna(False)
        & followups["episode_id"].isin(ep["episode_id"])
    ]
    latest = fu.sort_values(["episode_id", "followup_date"]).drop_duplicates(
        "episode_id", keep="last"
    )
    ep = ep[ep["episode_id"].isin(latest["episode_id"])]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    status = ep["episode_id"].map(latest.set_index("episode_id")["goal_attainment"])
    ep["_num"] = status.isin(list(success)).astype("int64").to_numpy()
    ep["_den"] = 1
    return _share(ep, groups, "goal_attainment_share", alpha)


def breakdown_risk(
    episodes: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    horizons: Sequence[float] = (365, 730),
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Risk of an unplanned ending (breakdown) within 12 and 24 months of entry.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, planned_ending, birth_year and the
        group columns).
    period_start, period_end : date-like
        Entry window (start dates, inclusive).
    data_end : date-like
        Last date the data cover; episodes still running then are censored there.
    horizons : sequence of float, default (365, 730)
        Horizons in days since entry.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at entry).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per group and horizon: ``measure`` ("breakdown_risk"), group columns,
        ``horizon_days``, ``numerator`` (unplanned endings observed by the horizon),
        ``denominator`` (entrants), ``value`` (Aalen–Johansen cumulative incidence),
        ``ci_lower``, ``ci_upper`` (as :func:`evaluation.models.survival.cumulative_incidence`). With
        no unplanned ending in a group the value is 0 and the interval is not estimable
        (NaN); beyond a group's last follow-up the value is NaN.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        ``data_end`` before ``period_end``.

    Notes
    -----
    * Entry cohort: episodes starting in the window (DOMAIN.md 4.1). Time is days from
      ``start_date`` to ``end_date``, or to ``data_end`` for episodes ongoing then (censored,
      status 0).
    * Competing risks: status 1 planned ending, status 2 unplanned ending (``planned_ending``
      false: breakdown or absconding). Ended episodes with a missing ``planned_ending`` are
      excluded (they cannot be classified).
    * Estimator: Aalen–Johansen, exact with tied days, validated against R ``cmprsk::cuminc``
      in ``tests/test_survival.py``. A naive share (breakdowns / entrants) would be biased
      down by the censoring of recent entrants; this is why the measure is not a proportion.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> from evaluation.measures import breakdown_risk
    >>> ep = synth.generate(n_children=400, n_municipalities=3, seed=2).tables["episodes"]
    >>> r = breakdown_risk(ep, "2019-01-01", "2022-12-31", "2024-12-31")
    >>> r["horizon_days"].tolist()
    [365.0, 730.0]
    """
    from evaluation.models.survival import cumulative_incidence

    _check_alpha(alpha)
    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "start_date", "end_date", "planned_ending", "birth_year"],
        "episodes",
    )
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    hz = np.atleast_1d(np.asarray(horizons, dtype=float))
    if hz.size == 0 or np.isnan(hz).any() or (hz <= 0).any():
        raise ParameterError(f"horizons must be positive numbers of days, got {horizons!r}.")
    ep = entrants(episodes, start, end)
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    s = pd.to_datetime(ep["start_date"])
    e = pd.to_datetime(ep["end_date"])
    ended = e.notna() & (e <= dend)
    planned = ep["planned_ending"].astype("boolean")
    ep = ep[~(ended & planned.isna())].copy()
    ended, s, e, planned = ended[ep.index], s[ep.index], e[ep.index], planned[ep.index]
    ep["_time"] = (e.where(ended, dend) - s).dt.days.astype(float)
    ep["_status"] = np.where(~ended, 0, np.where(planned.fillna(True).to_numpy(bool), 1, 2))

    rows = []
    parts = ep.groupby(groups, dropna=False, observed=True) if groups else [((), ep)]
    for key, sub in parts:
        key = key if isinstance(key, tuple) else (key,)
        if (sub["_status"] == 2).any():
            at = cumulative_incidence(sub, "_time", "_status", 2, alpha=alpha).at(hz)
            value, lo, hi = (at[c].to_numpy() for c in ("estimate", "ci_lower", "ci_upper"))
        else:
            value = np.where(hz <= sub["_time"].max(), 0.0, np.nan)
            lo = hi = np.full(hz.size, np.nan)
        for i, h in enumerate(hz):
            rows.append({
                **dict(zip(groups, key)),
                "horizon_days": h,
                "numerator": int(((sub["_status"] == 2) & (sub["_time"] <= h)).sum()),
                "denominator": len(sub),
                "value": value[i],
                "ci_lower": lo[i],
                "ci_upper": hi[i],
            })
    out = pd.DataFrame(rows, columns=[*groups, "horizon_days", *RESULT_COLUMNS])
    out.insert(0, "measure", "breakdown_risk")
    return out


# --------------------------------------------------------------------------- NI 063


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def long_term_stability(
    episodes: pd.DataFrame,
    placements: pd.DataFrame,
    census_date,
    group_cols=None,
    min_care_months: int = 30,
    min_placement_months: int = 24,
    max_age: int = 16,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of children long in care who have been in the same placement >= 2 years (NI 063).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, group columns).
    placements : pandas.DataFrame
        Placements table (episode_id, placement_seq, start_date).
    census_date : date-like
        The day the children in care are counted (NI 063 uses 31 March).
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at ``census_date``).
    min_care_months : int, default 30
        Months in care (continuously, in the current episode) for the denominator (2.5 years).
    min_placement_months : int, default 24
        Months in the current placement for the numerator (2 years).
    max_age : int, default 16
        Children aged ``max_age`` or older at ``census_date`` are excluded.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("long_term_stability"), group columns, ``numerator`` (children in the
        same placement >= ``min_placement_months``), ``denominator`` (children under
        ``max_age`` in care >= ``min_care_months`` on ``census_date``), ``value`` (share),
        ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, a census date that is not a date, or month
        and age limits that are not positive integers.

    Notes
    -----
    * A point-in-time (census) measure by definition, like NI 063; not an entry cohort.
    * In care on ``census_date``: an episode with ``start_date <= census_date`` and
      ``end_date`` missing or ``>= census_date`` (``end_date`` is the last day in care).
      One child has at most one such episode (episodes do not overlap).
    * Denominator: those episodes with ``start_date + min_care_months <= census_date`` and
      age ``census_date.year - birth_year < max_age``.
    * Numerator: the current placement (the one with the highest ``placement_seq`` among the
      episode's placements starting on or before ``census_date``) started on or before
      ``census_date - min_placement_months``. An episode without placement rows has one
      placement starting with the episode.
    * Adaptation: NI 063 also counts children "placed for adoption". Swedish care has no
      ongoing equivalent (a custody transfer ends the episode), so that clause is left out.
      "Continuously looked after" is read as "in the same episode".
    * Source: England NI 063 "stability of placements: length of placement" (DOMAIN.md 4.4).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(600, 3, seed=1).tables
    >>> r = long_term_stability(t["episodes"], t["placements"], "2023-03-31")
    >>> bool(r.loc[0, "numerator"] <= r.loc[0, "denominator"])
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    require_table(placements, ["episode_id", "placement_seq", "start_date"], "placements")
    census = as_date(census_date, "census_date")
    care = _positive_int(min_care_months, "min_care_months")
    stay = _positive_int(min_placement_months, "min_placement_months")
    max_age = _positive_int(max_age, "max_age")
    s, e = pd.to_datetime(episodes["start_date"]), pd.to_datetime(episodes["end_date"])
    age = census.year - episodes["birth_year"].astype("Int64")
    keep = (
        (s <= census)
        & (e.isna() | (e >= census))
        & (s + pd.DateOffset(months=care) <= census)
        & (age < max_age).fillna(False).astype(bool)
    )
    ep = episodes[keep].copy()
    ep = with_groups(ep, groups, "episodes", census.year - ep["birth_year"].astype("Int64"))
    pl = placements[
        placements["episode_id"].isin(ep["episode_id"])
        & (pd.to_datetime(placements["start_date"]) <= census)
    ]
    current = pl.sort_values(["episode_id", "placement_seq"]).drop_duplicates(
        "episode_id", keep="last"
    )
    since = ep["episode_id"].map(current.set_index("episode_id")["start_date"])
    since = pd.to_datetime(since).fillna(pd.to_datetime(ep["start_date"]))
    ep["_num"] = (since + pd.DateOffset(months=stay) <= census).astype("int64").to_numpy()
    ep["_den"] = 1
    return _share(ep, groups, "long_term_stability", alpha)


# --------------------------------------------------------------------------- re-entry
def re_entry_12m(
    episodes: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    group_cols=None,
    destinations=("PARENTS",),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of children going home within 12 months of entry who re-enter within 12 months (CFSR).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, start_date, end_date, birth_year, destination,
        group columns).
    period_start, period_end : date-like
        Entry window, inclusive.
    data_end : date-like
        Last date covered by the data; must not precede ``period_end``.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at entry).
    destinations : tuple of str, default ("PARENTS",)
        Destination codes counted as an exit home (reunification).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("re_entry_12m"), group columns, ``numerator`` (re-entries),
        ``denominator`` (exits home), ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, unknown destination codes, ``period_end``
        before ``period_start`` or ``data_end`` before ``period_end``.

    Notes
    -----
    * Cohort: episodes starting in the window, excluding stays shorter than 8 days, entry
      age >= 18, and entrants whose 24 months after entry are not observable
      (``start_date + 24 months > data_end``): an exit may come up to 12 months after entry
      and its re-entry up to 12 months later, so the whole entry window needs 24 months of
      follow-up (excluding late exits instead would bias the cohort towards early exits).
    * Denominator: of these, episodes ending on or before ``start_date + 12 months`` with a
      destination in ``destinations``, while the child was under 18
      (``end_date.year - birth_year < 18``; a child who turns 18 has no CFSR re-entry).
    * Numerator: those whose child has another episode starting after the exit
      (``end_date < start_date' <= end_date + 12 months``), whatever its length.
    * Source: CFSR Round 3/4 statewide data indicator "re-entry to foster care in 12 months"
      (DOMAIN.md 4.6). CFSR also counts exits to relatives and guardianship: pass e.g.
      ``destinations=("PARENTS", "OWN_HOME")`` for a wider reading.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(600, 3, seed=1).tables["episodes"]
    >>> r = re_entry_12m(ep, "2019-01-01", "2021-12-31", "2024-12-31")
    >>> r["measure"].tolist()
    ['re_entry_12m']
    """
    from evaluation.data.dictionary import load_dictionary

    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "child_id", "start_date", "end_date", "birth_year", "destination"],
        "episodes",
    )
    known = load_dictionary().column("episodes", "destination").code_values
    dest = (destinations,) if isinstance(destinations, str) else tuple(destinations)
    bad = [c for c in dest if c not in known]
    if bad or not dest:
        raise ParameterError(
            f"destinations must be a non-empty subset of {known}, got {destinations!r}."
        )
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    ep = entrants(episodes, start, end)
    s, e = pd.to_datetime(ep["start_date"]), pd.to_datetime(ep["end_date"])
    home = ep["destination"].isin(dest).fillna(False).astype(bool)
    keep = (
        ~(stay_days(ep) < 8)
        & (age_at_start(ep) < 18).fillna(False).astype(bool)
        & (s + pd.DateOffset(months=24) <= dend)
        & e.notna()
        & (e <= s + _YEAR)
        & home
        & (age_at_start(ep, date_col="end_date") < 18).fillna(False).astype(bool)
    )
    ep = ep[keep]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    later = episodes[["child_id", "start_date"]].rename(columns={"start_date": "_next"})
    pairs = ep[["episode_id", "child_id", "end_date"]].merge(later, on="child_id")
    nxt, ed = pd.to_datetime(pairs["_next"]), pd.to_datetime(pairs["end_date"])
    hit = set(pairs.loc[(nxt > ed) & (nxt <= ed + _YEAR), "episode_id"])
    ep["_num"] = ep["episode_id"].isin(hit).astype("int64")
    ep["_den"] = 1
    return _share(ep, groups, "re_entry_12m", alpha)


# --------------------------------------------------------------------------- child's voice
def _followups_in_window(
    followups: pd.DataFrame,
    episodes: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    groups: list[str],
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Follow-ups dated in the window, with the episode's group columns and birth year.

    ``extra`` names further episode columns to carry (e.g. the cluster column); like the
    group columns, a column the follow-ups already have is taken from the follow-ups.
    """
    d = pd.to_datetime(followups["followup_date"])
    fu = followups[(d >= start) & (d <= end)]
    ep_cols = ["episode_id", "birth_year"] + [
        g
        for g in [*groups, *extra]
        if g in episodes.columns and g not in fu.columns and g != "episode_id"
    ]
    fu = fu.merge(episodes[list(dict.fromkeys(ep_cols))], on="episode_id", how="inner")
    age = pd.to_datetime(fu["followup_date"]).dt.year.astype("Int64") - fu["birth_year"].astype(
        "Int64"
    )
    return with_groups(fu, groups, "episodes or followups", age)


def child_heard_share(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    group_cols=None,
    success=("YES",),
    alpha: float = 0.05,
    cluster_col: str | None = "child_id",
) -> pd.DataFrame:
    """Share of follow-ups in a period at which the child was heard.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, child_heard).
    period_start, period_end : date-like
        Window of follow-up dates, inclusive.
    group_cols : list of str, optional
        Columns of episodes or followups to group by (``"age_group"`` from the age at the
        follow-up).
    success : tuple of str, default ("YES",)
        ``child_heard`` codes counted as heard. The default is strict; report
        ``("YES", "PARTLY")`` beside it as "heard at least partly".
    alpha : float, default 0.05
        One minus the confidence level.
    cluster_col : str or None, default "child_id"
        Column of ``episodes`` identifying the child (the pseudonym, normally
        ``"child_id"``). When given, the interval allows for the correlation of follow-ups of
        one child (see Notes); ``None`` gives the plain interval, which treats follow-ups as
        independent.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("child_heard_share"), group columns, ``numerator`` (follow-ups with
        ``child_heard`` in ``success``), ``denominator`` (follow-ups with ``child_heard``
        recorded), ``value``, ``ci_lower``, ``ci_upper`` (Wilson); with ``cluster_col``
        also ``design_effect`` and ``n_effective`` (last), and the Wilson interval on
        ``n_effective``.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, unknown success codes, ``period_end``
        before ``period_start``, or a ``cluster_col`` that is not a column of ``episodes``
        or has missing values.

    Notes
    -----
    * Unit: the follow-up (FOLLOWUP and ENDING), since the child should be heard at every
      one. A process measure of the period, by follow-up date, not a cohort.
    * Exclusions: follow-ups with a missing ``child_heard``, and follow-ups whose episode is
      not in ``episodes``.
    * Interval: follow-ups of one child are correlated, so the plain Wilson interval
      (``cluster_col=None``) is too narrow when children have several follow-ups. With
      ``cluster_col`` the value is unchanged and the interval is Wilson's with the
      effective sample size ``n_effective = denominator / design_effect`` (Korn &
      Graubard 1998), where ``design_effect`` is the ratio-estimator (linearisation)
      variance with children as clusters over the binomial variance, at least 1, computed
      per group row by :func:`design_effect` (validated against R ``survey::svymean``).
      With follow-ups of a single child (or none) in a group row the between-child
      variance cannot be estimated and the interval, ``design_effect`` and ``n_effective``
      are NaN.
    * Young children are included (synthetic and real data record NO for infants); group by
      ``age_group`` to separate them.
    * Source: UN Convention on the Rights of the Child art. 12, SoL 11 kap. 10 §, and the
      participation theme of Vårdanalys 2018:9 *Fatta läget* (DOMAIN.md 1 and 4.10).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = child_heard_share(t["episodes"], t["followups"], "2020-01-01", "2022-12-31")
    >>> bool(0 <= r.loc[0, "value"] <= 1)
    True
    >>> c = child_heard_share(t["episodes"], t["followups"], "2020-01-01", "2022-12-31",
    ...                       cluster_col="child_id")
    >>> bool(c.loc[0, "design_effect"] >= 1 and c.loc[0, "ci_lower"] <= r.loc[0, "ci_lower"])
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", "child_heard"], "followups")
    codes = ("YES", "PARTLY", "NO")
    succ = (success,) if isinstance(success, str) else tuple(success)
    bad = [c for c in succ if c not in codes]
    if bad or not succ:
        raise ParameterError(
            f"success codes must be a non-empty subset of {codes}, got {success!r}."
        )
    cluster = _cluster_col(cluster_col, episodes)
    start, end = period_bounds(period_start, period_end)
    fu = _followups_in_window(followups, episodes, start, end, groups, [cluster] if cluster else [])
    fu = fu[fu["child_heard"].notna()].copy()
    fu["_num"] = fu["child_heard"].isin(succ).astype("int64")
    fu["_den"] = 1
    return _share(fu, groups, "child_heard_share", alpha, cluster)


def child_rated_themes(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    themes=None,
    group_cols=None,
    alpha: float = 0.05,
    cluster_col: str | None = "child_id",
) -> pd.DataFrame:
    """Mean of the child's own 1-5 ratings per theme (Fatta läget), with t intervals.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date and the theme columns).
    period_start, period_end : date-like
        Window of follow-up dates, inclusive.
    themes : list of str, optional
        Theme columns; by default the dictionary's ``themes`` group of the followups table
        (theme_treatment ... theme_independence).
    group_cols : list of str, optional
        Columns of episodes or followups to group by (``"age_group"`` from the age at the
        follow-up).
    alpha : float, default 0.05
        One minus the confidence level.
    cluster_col : str or None, default "child_id"
        Column of ``episodes`` identifying the child (the pseudonym, normally
        ``"child_id"``). When given, the interval allows for the correlation of ratings of
        one child (see Notes); ``None`` gives the plain interval, which treats ratings as
        independent.

    Returns
    -------
    pandas.DataFrame
        One row per group and theme (themes in the order given): ``measure``
        ("child_rated_themes"), group columns, ``theme`` (column name), ``numerator`` (sum
        of the ratings), ``denominator`` (n: ratings given), ``value`` (mean rating),
        ``ci_lower``, ``ci_upper`` (Student t). A theme nobody answered in a group has no row.
        With ``cluster_col`` also ``design_effect`` and ``n_effective`` (last), and the
        interval described in Notes.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ratings outside 1-5, ``period_end``
        before ``period_start``, or a ``cluster_col`` that is not a column of ``episodes``
        or has missing values.

    Notes
    -----
    * Unit: the answered theme on a follow-up dated in the window; missing ratings are
      excluded theme by theme, so ``denominator`` differs between themes.
    * Interval: ``mean +- t(1 - alpha/2, n - 1) * sd / sqrt(n)`` with the sample SD
      (``ddof=1``); NaN for n = 1. Validated against ``scipy.stats.t.interval``. The
      interval is not clipped to 1-5. Without ``cluster_col`` it treats the ratings of one
      child as independent, and is too narrow when children rate at several follow-ups.
    * Clustering-aware interval (``cluster_col`` given): the mean is unchanged and the
      interval is ``mean +- t(1 - alpha/2, C - 1) * sd / sqrt(n_effective)`` with ``C``
      children in the group row, ``n_effective = n / design_effect`` (Korn & Graubard
      1998) and ``design_effect`` the ratio-estimator (linearisation) variance of the mean
      with children as clusters over ``sd^2 / n``, at least 1 (:func:`design_effect`,
      validated against R ``survey::svymean``). When the design effect exceeds 1 the
      half-width is ``t * sqrt(linearisation variance)``. The degrees of freedom are those
      of the design (children - 1), so the interval equals the plain one when every child
      gave one rating. NaN when the ratings come from a single child.
    * Small n: ``denominator`` is the number of answers, so disclosure control can suppress
      means based on few answers (treat ``denominator`` as the count to protect); a mean of
      very few ratings can reveal individual answers. ``numerator`` is not a count of
      children: do not pass it to ``disclosure.protect_rates``.
    * Source: the eight themes of Vårdanalys 2018:9 *Fatta läget* (DOMAIN.md 1 and 4.10).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2022-12-31")
    >>> bool(r["value"].between(1, 5).all())
    True
    >>> c = child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2022-12-31",
    ...                        cluster_col="child_id")
    >>> bool((c["value"] == r["value"]).all() and (c["design_effect"] >= 1).all())
    True
    """
    groups = group_list(group_cols)
    if themes is None:
        from evaluation.data.dictionary import load_dictionary

        themes = load_dictionary().group("followups", "themes")
    themes = [themes] if isinstance(themes, str) else list(themes)
    if not themes:
        raise ParameterError("themes must name at least one theme column of followups.")
    _check_alpha(alpha)
    require_table(episodes, ["episode_id", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", *themes], "followups")
    cluster = _cluster_col(cluster_col, episodes)
    start, end = period_bounds(period_start, period_end)
    extra = [cluster] if cluster else []
    fu = _followups_in_window(followups, episodes, start, end, groups, extra)
    id_vars = list(dict.fromkeys([*groups, *extra]))
    long = fu.melt(id_vars=id_vars, value_vars=themes, var_name="theme", value_name="_score")
    long = long[long["_score"].notna()].copy()
    long["_score"] = pd.to_numeric(long["_score"], errors="coerce").astype(float)
    bad = long[~long["_score"].between(1, 5)]
    if len(bad):
        raise ParameterError(
            f"theme ratings must be numbers 1-5; column {bad['theme'].iloc[0]!r} holds "
            f"{bad['_score'].iloc[0]!r}. Validate the followups table first."
        )
    long["theme"] = pd.Categorical(long["theme"], categories=themes, ordered=True)
    agg = (
        long.groupby([*groups, "theme"], dropna=False, observed=True)["_score"]
        .agg(numerator="sum", denominator="count", value="mean", _sd="std")
        .reset_index()
    )
    n = agg["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(1 - alpha / 2, n - 1) * agg["_sd"].to_numpy() / np.sqrt(n)
    agg["ci_lower"] = np.where(n > 1, agg["value"] - half, np.nan)
    agg["ci_upper"] = np.where(n > 1, agg["value"] + half, np.nan)
    agg.insert(0, "measure", "child_rated_themes")
    if cluster:
        agg = _with_design_effect(agg, long, [*groups, "theme"], "_score", cluster, "mean", alpha)
    agg["theme"] = agg["theme"].astype(str)
    agg["denominator"] = agg["denominator"].astype("int64")
    extra_cols = ["design_effect", "n_effective"] if cluster else []
    return agg[["measure", *groups, "theme", *RESULT_COLUMNS, *extra_cols]]


# --------------------------------------------------------------------------- reviews
def reviews_on_time(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    group_cols=None,
    interval_months: int = 6,
    tolerance_days: int = 14,
    alpha: float = 0.05,
    cluster_col: str | None = "child_id",
) -> pd.DataFrame:
    """Share of six-monthly reviews due in a period that were held on time.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, followup_type).
    period_start, period_end : date-like
        Window of due dates, inclusive.
    data_end : date-like
        Last date covered by the data; must not precede ``period_end``.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at the due date).
    interval_months : int, default 6
        Months between reviews, counted from the episode start.
    tolerance_days : int, default 14
        A review is on time if held at most this many days before or after its due date.
    alpha : float, default 0.05
        One minus the confidence level.
    cluster_col : str or None, default "child_id"
        Column of ``episodes`` identifying the child (the pseudonym, normally
        ``"child_id"``). When given, the interval allows for the correlation of due reviews of
        one child (see Notes); ``None`` gives the plain interval, which treats due reviews as
        independent.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("reviews_on_time"), group columns, ``numerator`` (due reviews held on
        time), ``denominator`` (reviews due), ``value``, ``ci_lower``, ``ci_upper`` (Wilson);
        with ``cluster_col`` also ``design_effect`` and ``n_effective`` (last), and the
        Wilson interval on ``n_effective``.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, a non-integer interval or tolerance,
        ``period_end`` before ``period_start``, ``data_end`` before ``period_end``, or a
        ``cluster_col`` that is not a column of ``episodes`` or has missing values.

    Notes
    -----
    * Due dates: ``start_date + k * interval_months`` for k = 1, 2, ... (calendar months),
      while the child is in care, i.e. ``end_date`` missing or after the due date.
    * Denominator: due dates in the window whose tolerance window is observable
      (``due + tolerance_days <= data_end``).
    * Numerator: due dates with a follow-up of type FOLLOWUP dated within
      ``[due - tolerance_days, due + tolerance_days]``. ENDING assessments do not count as
      reviews; an episode ending after a due date but before its review is a missed review.
      With the defaults the windows of successive due dates cannot overlap.
    * Unit: the due review. Reviews of one child are correlated, so the plain Wilson
      interval (``cluster_col=None``) is too narrow. With ``cluster_col`` the interval is
      Wilson's on ``n_effective = denominator / design_effect`` (Korn & Graubard 1998),
      with the design effect of the ratio-estimator (linearisation) variance with children
      as clusters over the binomial variance, at least 1, per group row
      (:func:`design_effect`); as for :func:`child_heard_share`.
    * Adaptation: Swedish law requires the placement to be considered (SoL 6 kap. 8 §) or
      reviewed (LVU 13 §) at least every six months; the fixed schedule from the start date
      and the symmetric tolerance are the toolkit's operational definition (configurable).
    * Source: DOMAIN.md 4.11; the "six-month review" of the follow-up cycle (section 2).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = reviews_on_time(t["episodes"], t["followups"], "2021-01-01", "2022-12-31",
    ...                     "2024-12-31", tolerance_days=30)
    >>> bool(r.loc[0, "denominator"] > 0)
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", "followup_type"], "followups")
    months = _positive_int(interval_months, "interval_months")
    tol = _positive_int(tolerance_days, "tolerance_days", minimum=0)
    cluster = _cluster_col(cluster_col, episodes)
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    episodes = episodes.reset_index(drop=True)  # row labels below must be unique
    s, e = pd.to_datetime(episodes["start_date"]), pd.to_datetime(episodes["end_date"])
    live = episodes[(s <= end) & (e.isna() | (e > start))]
    s, e = s[live.index], e[live.index]
    parts, k = [], 1
    while len(s):
        due = s + pd.DateOffset(months=months * k)
        ok = due <= end
        if not ok.any():
            break
        sel = ok & (due >= start) & (e.isna() | (e > due)) & (due + pd.Timedelta(days=tol) <= dend)
        parts.append(
            pd.DataFrame({"_row": live.index[sel.to_numpy()], "_due": due[sel].to_numpy()})
        )
        keep = ok & (e.isna() | (e > due))
        s, e, live = s[keep], e[keep], live[keep.to_numpy()]
        k += 1
    dues = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"_row": pd.Series(dtype="int64"), "_due": pd.Series(dtype="datetime64[ns]")}
    )
    rows = episodes.loc[dues["_row"]].reset_index(drop=True)
    rows["_due"] = dues["_due"].to_numpy()
    rows["_id"] = np.arange(len(rows))
    age = rows["_due"].dt.year.astype("Int64") - rows["birth_year"].astype("Int64")
    rows = with_groups(rows, groups, "episodes", age)
    is_review = followups["followup_type"].eq("FOLLOWUP").fillna(False).astype(bool)
    fu = followups[is_review][["episode_id", "followup_date"]]
    pairs = rows[["_id", "episode_id", "_due"]].merge(fu, on="episode_id")
    gap = (pd.to_datetime(pairs["followup_date"]) - pairs["_due"]).dt.days.abs()
    held = set(pairs.loc[gap <= tol, "_id"])
    rows["_num"] = rows["_id"].isin(held).astype("int64")
    rows["_den"] = 1
    return _share(rows, groups, "reviews_on_time", alpha, cluster)


# --------------------------------------------------------------------------- length of stay
def _km_quantiles(fit, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantile times of a one-group Kaplan–Meier fit and their confidence limits."""
    q = fit.quantiles(probs)
    return tuple(q[c].to_numpy(dtype=float) for c in ("estimate", "ci_lower", "ci_upper"))


def length_of_stay(
    episodes: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75),
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Median and quartiles of the length of stay of an entry cohort (Kaplan–Meier).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, group columns).
    period_start, period_end : date-like
        Entry window (start dates, inclusive).
    data_end : date-like
        Last date the data cover; episodes still running then are censored there.
    quantiles : sequence of float, default (0.25, 0.5, 0.75)
        Fractions of the cohort that have left care, each in (0, 1).
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at entry).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per group and quantile: ``measure`` ("length_of_stay"), group columns,
        ``quantile``, ``numerator`` (episodes ended by ``data_end``), ``denominator``
        (entrants), ``value`` (days by which that fraction had left care; NaN if not
        reached), ``ci_lower``, ``ci_upper`` (NaN where the confidence band never reaches
        the fraction).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, quantiles outside (0, 1), ``period_end``
        before ``period_start`` or ``data_end`` before ``period_end``.

    Notes
    -----
    * Entry cohort (DOMAIN.md 4.12 and 4.13): episodes starting in the window; never a
      sample of exits or of children in care on a day, which over-represent long stays.
    * Time: ``end_date - start_date`` in days for episodes ended by ``data_end`` (event),
      otherwise ``data_end - start_date`` (censored). All endings count as exits, including
      the age limit (a child turning 18 under LVU, or 21); no exclusions.
    * Estimator: :func:`evaluation.models.survival.kaplan_meier` (validated against R ``survfit``),
      quantiles as R ``quantile.survfit``: the smallest time with S(t) <= 1 - q (the
      midpoint where S equals 1 - q over a flat stretch).
    * Confidence limits: where the pointwise log-log band of S(t) crosses 1 - q
      (Brookmeyer–Crowley in R's form, :meth:`KaplanMeierResult.quantiles`). Validated
      against R ``quantile(survfit(..., conf.type = "log-log"), conf.int = TRUE)`` in
      ``tests/reference/length_of_stay_reference.R``.
    * Source: Chapin Hall / CFSR practice of entry-cohort length of stay.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(400, 3, seed=2).tables["episodes"]
    >>> r = length_of_stay(ep, "2019-01-01", "2020-12-31", "2024-12-31")
    >>> r["quantile"].tolist()
    [0.25, 0.5, 0.75]
    """
    from evaluation.models.survival import kaplan_meier

    _check_alpha(alpha)
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    qs = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if qs.size == 0 or np.isnan(qs).any() or (qs <= 0).any() or (qs >= 1).any():
        raise ParameterError(f"quantiles must be numbers in (0, 1), got {quantiles!r}.")
    ep = entrants(episodes, start, end)
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    s, e = pd.to_datetime(ep["start_date"]), pd.to_datetime(ep["end_date"])
    ended = e.notna() & (e <= dend)
    ep["_time"] = (e.where(ended, dend) - s).dt.days.astype(float)
    ep["_event"] = ended.astype("int64").to_numpy()

    rows = []
    parts = ep.groupby(groups, dropna=False, observed=True) if groups else [((), ep)]
    for key, sub in parts:
        key = key if isinstance(key, tuple) else (key,)
        fit = kaplan_meier(sub, "_time", "_event", alpha=alpha)
        value, lo, hi = _km_quantiles(fit, qs)
        for i, q in enumerate(qs):
            rows.append({
                **dict(zip(groups, key)),
                "quantile": q,
                "numerator": int(sub["_event"].sum()),
                "denominator": len(sub),
                "value": value[i],
                "ci_lower": lo[i],
                "ci_upper": hi[i],
            })
    out = pd.DataFrame(rows, columns=[*groups, "quantile", *RESULT_COLUMNS])
    out.insert(0, "measure", "length_of_stay")
    return out
