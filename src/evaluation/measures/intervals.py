"""Confidence intervals of the measures: Wilson (shares), exact Poisson (rates) and the design
effect of clustered units, plus the helpers that turn counted units into the tidy result.

Examples
--------
>>> lo, hi = wilson_interval([3], [10])
>>> round(float(lo[0]), 4), round(float(hi[0]), 4)
(0.1078, 0.6032)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import check_alpha, require_columns, require_dataframe
from evaluation.data.cohort import group_list
from evaluation.errors import ParameterError
from evaluation.measures.base import RESULT_COLUMNS, measure_doc

__all__ = ["check_cluster_col", "design_effect", "poisson_rate_interval", "share_measure",
           "sum_by_group", "wilson_interval", "with_design_effect"]


@measure_doc
def wilson_interval(k, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion, vectorised.

    Parameters
    ----------
    k : array_like
        Number of successes.
    n : array_like
        Number of trials (same shape as ``k`` or broadcastable).
    %(alpha)s

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
    check_alpha(alpha)
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


@measure_doc
def poisson_rate_interval(k, exposure, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval for a Poisson rate ``k / exposure``, vectorised.

    Parameters
    ----------
    k : array_like
        Event counts (non-negative integers).
    exposure : array_like
        Person-time at risk (e.g. days in care); must be positive.
    %(alpha)s

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
    check_alpha(alpha)
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
    require_dataframe(data)
    require_columns(data, {"y_col": y_col, "cluster_col": cluster_col, "by": keys})
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



def sum_by_group(units: pd.DataFrame, groups: list[str], num: str, den: str) -> pd.DataFrame:
    """Sums of ``num`` and ``den`` per group, as ``numerator`` and ``denominator``."""
    if groups:
        out = units.groupby(groups, dropna=False, observed=True)[[num, den]].sum().reset_index()
    else:
        out = pd.DataFrame({num: [units[num].sum()], den: [units[den].sum()]})
    return out.rename(columns={num: "numerator", den: "denominator"})


def share_measure(
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
    out = sum_by_group(units, groups, "_num", "_den")
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
    return with_design_effect(out, units, groups, "_num", cluster_col, "proportion", alpha)


def check_cluster_col(cluster_col, episodes: pd.DataFrame) -> str | None:
    """Check ``cluster_col`` (None or a column of episodes) and return it."""
    if cluster_col is None:
        return None
    if not isinstance(cluster_col, str):
        raise ParameterError(
            f"cluster_col must be a column name such as 'child_id' or None, got {cluster_col!r}."
        )
    require_columns(episodes, {"cluster_col": cluster_col}, table="episodes")
    return cluster_col


def with_design_effect(
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
