"""Cox proportional-hazards regression: Efron ties, delayed entry, strata and cluster-robust
standard errors, matching R's ``survival::coxph``.

Public names are re-exported from :mod:`evaluation.survival`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ConvergenceError, ParameterError
from .results import Result, package_versions

__all__ = ["CoxResult", "cox"]

# --------------------------------------------------------------------------- Cox regression

_COX_MAX_ITER = 50
_COX_TOL = 1e-12


@dataclass
class CoxResult(Result):
    """Cox proportional-hazards fit; see :func:`cox` for the columns of ``summary``.

    Attributes
    ----------
    var_ : numpy.ndarray
        Variance matrix of the estimates used in ``summary`` (robust if clustered).
    var_naive_ : numpy.ndarray
        Model-based variance, the inverse of the observed information.
    score_residuals_ : numpy.ndarray
        Score residuals (rows of the data used x covariates), at the estimate.
    """

    var_: np.ndarray | None = None
    var_naive_: np.ndarray | None = None
    score_residuals_: np.ndarray | None = None

    def plot(self, ax=None):
        """Forest plot of hazard ratios with confidence intervals (log axis); returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        s = self.summary
        y = np.arange(len(s))[::-1]
        hr = s["exp_estimate"].to_numpy()
        lo, hi = np.exp(s["ci_lower"].to_numpy()), np.exp(s["ci_upper"].to_numpy())
        ax.errorbar(hr, y, xerr=[hr - lo, hi - hr], fmt="o", capsize=3)
        ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels([str(i) for i in s.index])
        ax.set_xlabel("hazard ratio")
        return ax


def _cox_design(data: Any, duration_col: str, event_col: str, covariates: Sequence[str],
                entry_col: str | None, strata: str | Sequence[str] | None,
                cluster_col: str | None) -> dict[str, Any]:
    """Validate the inputs of :func:`cox` and return arrays (rows with complete data only)."""
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}; "
                             "read the file with evaluation.io first.")
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if not covariates:
        raise ParameterError("covariates is empty; give at least one column name.")
    if len(set(covariates)) != len(covariates):
        raise ParameterError(f"covariates has duplicate names: {covariates}.")
    strata_cols = [] if strata is None else [strata] if isinstance(strata, str) else list(strata)
    named = {"duration_col": [duration_col], "event_col": [event_col], "covariates": covariates,
             "entry_col": [] if entry_col is None else [entry_col], "strata": strata_cols,
             "cluster_col": [] if cluster_col is None else [cluster_col]}
    for arg, cols in named.items():
        for col in cols:
            if col not in data.columns:
                raise ParameterError(f"{arg} names {col!r}, which is not a column of data; "
                                     f"available columns: {', '.join(map(str, data.columns))}.")
    for arg, cols in named.items():
        for col in cols:
            missing = data[col].isna().to_numpy()
            if missing.any():
                raise ParameterError(
                    f"column {col!r} ({arg}) has {int(missing.sum())} missing value(s), first "
                    f"at row {int(np.flatnonzero(missing)[0])}; drop or impute those rows first.")
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to estimate.")

    def numeric(col: str, arg: str) -> np.ndarray:
        if not (pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col])):
            raise ParameterError(f"column {col!r} ({arg}) must be numeric, got dtype "
                                 f"{data[col].dtype}.")
        out = data[col].to_numpy(dtype=float)
        if not np.isfinite(out).all():
            i = int(np.flatnonzero(~np.isfinite(out))[0])
            raise ParameterError(f"column {col!r} ({arg}) must be finite; row {i} has {out[i]!r}.")
        return out

    stop = numeric(duration_col, "duration_col")
    if (stop < 0).any():
        i = int(np.flatnonzero(stop < 0)[0])
        raise ParameterError(f"column {duration_col!r} (duration_col) must hold non-negative "
                             f"durations; row {i} has {stop[i]!r}.")
    event = numeric(event_col, "event_col")
    if not np.isin(event, (0.0, 1.0)).all():
        i = int(np.flatnonzero(~np.isin(event, (0.0, 1.0)))[0])
        raise ParameterError(f"column {event_col!r} (event_col) must be 0/1 or boolean; row {i} "
                             f"has {event[i]!r}. For one cause of several, pass a column such as "
                             "(status == 2).astype(int).")
    if entry_col is None:
        entry = np.full(len(stop), -np.inf)
    else:
        entry = numeric(entry_col, "entry_col")
        bad = entry >= stop
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"entry_col {entry_col!r} must be before duration_col "
                                 f"{duration_col!r} on every row; row {i} has entry "
                                 f"{entry[i]!r} and stop {stop[i]!r}.")
    if event.sum() == 0:
        raise ParameterError(f"column {event_col!r} (event_col) has no events; a Cox model "
                             "needs at least one.")

    blocks, names = [], []
    for col in covariates:
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            blocks.append(s.to_numpy(dtype=float)[:, None])
            names.append(col)
        elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s) \
                or pd.api.types.is_string_dtype(s):
            dummies = pd.get_dummies(s, prefix=col, prefix_sep="", drop_first=True, dtype=float)
            if dummies.shape[1] == 0:
                raise ParameterError(f"covariate {col!r} has a single level; drop it.")
            blocks.append(dummies.to_numpy())
            names.extend(dummies.columns.astype(str))
        else:
            raise ParameterError(f"covariate {col!r} has dtype {s.dtype}, which is neither "
                                 "numeric nor categorical; convert it first.")
    x = np.hstack(blocks)
    if not np.isfinite(x).all():
        raise ParameterError("covariates must be finite (no inf values).")
    const = np.ptp(x, axis=0) == 0
    if const.any():
        raise ParameterError(f"covariate(s) {[names[j] for j in np.flatnonzero(const)]} are "
                             "constant in data; drop them (they are not identifiable).")
    stratum = (np.zeros(len(stop), dtype=np.int64) if not strata_cols
               else data.groupby(strata_cols, sort=True).ngroup().to_numpy().astype(np.int64))
    cluster = None if cluster_col is None else pd.factorize(data[cluster_col])[0]
    return {"stop": stop, "entry": entry, "event": event.astype(bool), "x": x, "names": names,
            "stratum": stratum, "cluster": cluster}


class _EfronRiskSets:
    """Risk-set bookkeeping for (entry, stop] data with strata, after one sort.

    Event times are the distinct (stratum, time) pairs with at least one event, in order;
    row i is at risk at event times ``lo[i] .. hi[i]`` (an empty range if ``lo > hi``).
    Sums over risk sets are prefix-sum differences, so each pass is O(n p).
    """

    def __init__(self, entry: np.ndarray, stop: np.ndarray, event: np.ndarray,
                 stratum: np.ndarray) -> None:
        values = np.unique(np.concatenate([stop, entry[np.isfinite(entry)]]))
        width = len(values) + 1
        stop_key = stratum * width + np.searchsorted(values, stop) + 1
        entry_key = stratum * width + np.where(np.isfinite(entry),
                                               np.searchsorted(values, entry) + 1, 0)
        keys, ev_k = np.unique(stop_key[event], return_inverse=True)
        self.n_times = len(keys)
        self.hi = np.searchsorted(keys, stop_key, side="right") - 1
        lo = np.searchsorted(keys, entry_key, side="right")
        # an event time of another stratum is never in range: clip lo to the stratum's block
        lo = np.maximum(lo, np.searchsorted(keys, stratum * width, side="left"))
        self.lo = lo
        self.at_risk = lo <= self.hi
        self.event_rows = np.flatnonzero(event)
        self.event_time = ev_k                                   # time index of each event
        d = np.bincount(ev_k, minlength=self.n_times)
        order = np.argsort(ev_k, kind="stable")
        rank = np.empty(len(ev_k), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(d)[:-1]])
        rank[order] = np.arange(len(ev_k)) - np.repeat(starts, d)
        self.frac = rank / d[ev_k]                               # Efron l / d for each event

    def risk_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum of w (rows, or rows x columns) over each event time's risk set."""
        w2 = w.reshape(len(w), -1)[self.at_risk]
        k = self.n_times + 1
        lo, hi1 = self.lo[self.at_risk], self.hi[self.at_risk] + 1
        out = np.column_stack([np.bincount(lo, weights=w2[:, j], minlength=k)
                               - np.bincount(hi1, weights=w2[:, j], minlength=k)
                               for j in range(w2.shape[1])])
        out = np.cumsum(out, axis=0)[:-1]
        return out.reshape((self.n_times,) + w.shape[1:])

    def range_sum(self, v: np.ndarray) -> np.ndarray:
        """For each row, the sum of per-event-time values v over the times it is at risk."""
        v2 = v.reshape(len(v), -1)
        prefix = np.vstack([np.zeros((1, v2.shape[1])), np.cumsum(v2, axis=0)])
        out = np.where(self.at_risk[:, None], prefix[self.hi + 1] - prefix[np.minimum(
            self.lo, self.n_times)], 0.0)
        return out.reshape((len(self.lo),) + v.shape[1:])

    def time_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum of per-event values w (events, or events x columns) within each event time."""
        w2 = w.reshape(len(w), -1)
        out = np.column_stack([np.bincount(self.event_time, weights=w2[:, j],
                                           minlength=self.n_times)
                               for j in range(w2.shape[1])])
        return out.reshape((self.n_times,) + w.shape[1:])


def _efron_pass(rs: _EfronRiskSets, x: np.ndarray, beta: np.ndarray,
                residuals: bool = False) -> tuple[Any, ...]:
    """Efron log partial likelihood, score, information (and score residuals)."""
    eta = x @ beta
    r = np.exp(eta)
    ev = rs.event_rows
    k = rs.event_time
    f = rs.frac
    rx = r[:, None] * x
    s0 = rs.risk_sum(r)
    s1 = rs.risk_sum(rx)
    s0d = rs.time_sum(r[ev])
    s1d = rs.time_sum(rx[ev])
    den = s0[k] - f * s0d[k]                                     # one term per event
    a = (s1[k] - f[:, None] * s1d[k]) / den[:, None]
    loglik = float(eta[ev].sum() - np.log(den).sum())
    score = x[ev].sum(axis=0) - a.sum(axis=0)
    # information: sum_j (S2_j - f_j S2d_j) / den_j - a_j a_j', with S2 sums of r x x'
    c1 = rs.time_sum(1.0 / den)
    c2 = rs.time_sum(f / den)
    w = r * rs.range_sum(c1)
    w[ev] -= r[ev] * c2[k]
    info = (x * w[:, None]).T @ x - a.T @ a
    if not residuals:
        return loglik, score, info
    # score residuals (R residuals.coxph type "score", Efron): row i gets
    #   event_i (x_i - mean_l a_l) - r_i sum_{times at risk} sum_l w_il h_l (x_i - a_l)
    # with h_l = 1/den_l and w_il = 1, except (1 - l/d) when i is one of the tied events.
    h = 1.0 / den
    hs = rs.time_sum(h)
    has = rs.time_sum(h[:, None] * a)
    h2 = rs.time_sum((1 - f) * h)
    ha2 = rs.time_sum(((1 - f) * h)[:, None] * a)
    abar = rs.time_sum(a) / np.bincount(k, minlength=rs.n_times)[:, None]
    cum_h = rs.range_sum(hs)
    cum_ha = rs.range_sum(has)
    cum_h[ev] += h2[k] - hs[k]
    cum_ha[ev] += ha2[k] - has[k]
    resid = -r[:, None] * (x * cum_h[:, None] - cum_ha)
    resid[ev] += x[ev] - abar[k]
    return loglik, score, info, resid


def _cox_newton(rs: _EfronRiskSets, x: np.ndarray) -> tuple[np.ndarray, float, float, int]:
    """Newton–Raphson with step halving, as R coxph; returns beta, loglik, null loglik, iters."""
    beta = np.zeros(x.shape[1])
    loglik, score, info = _efron_pass(rs, x, beta)
    loglik0 = loglik
    for it in range(1, _COX_MAX_ITER + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError("the information matrix is singular: covariates are "
                                   "collinear; drop one of the linearly dependent "
                                   "columns.") from exc
        new = beta + step
        new_loglik, new_score, new_info = _efron_pass(rs, x, new)
        halvings = 0
        while not np.isfinite(new_loglik) or new_loglik < loglik - 1e-10 * abs(loglik):
            halvings += 1
            if halvings > 30:
                raise ConvergenceError(
                    "Newton–Raphson could not increase the partial likelihood; an estimate "
                    "may be infinite (a covariate level with no events, or one that perfectly "
                    "predicts the order of events), or a covariate has extreme outliers.")
            new = (beta + new) / 2
            new_loglik, new_score, new_info = _efron_pass(rs, x, new)
        done = np.max(np.abs(new - beta)) < _COX_TOL * (1 + np.max(np.abs(new))) or \
            abs(new_loglik - loglik) <= _COX_TOL * abs(new_loglik) and \
            np.max(np.abs(new - beta)) < 1e-9
        beta, loglik, score, info = new, new_loglik, new_score, new_info
        if done:
            return beta, loglik, loglik0, it
    raise ConvergenceError(
        f"Cox model did not converge in {_COX_MAX_ITER} Newton–Raphson iterations (last change "
        f"{np.max(np.abs(step)):.3g}); an estimate may be infinite (a covariate level with no "
        "events, or one that perfectly predicts the order of events).")


def cox(data: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str],
        entry_col: str | None = None, strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None, alpha: float = 0.05) -> CoxResult:
    """Cox proportional-hazards regression with Efron ties, delayed entry, strata and
    cluster-robust standard errors.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode (or per time interval of an episode, with ``entry_col``).
    duration_col : str
        Time at which follow-up of the row ends (event or censoring), non-negative.
    event_col : str
        1/True if the event happened at ``duration_col``, 0/False if censored. For one cause
        of several, pass e.g. ``(status == 2).astype(int)`` as a column.
    covariates : list of str
        Covariate columns. Numeric and boolean columns enter as they are; object, string and
        categorical columns are dummy coded against their first level (sorted, as R's
        factor coding), named column + level (e.g. ``placementkin``).
    entry_col : str, optional
        Time at which the row enters the risk set (delayed entry / counting process): the row
        is at risk at times t with entry < t <= duration. Must be < duration.
    strata : str or list of str, optional
        Stratify the baseline hazard (separate risk sets per stratum), as R ``strata()``.
    cluster_col : str, optional
        Cluster identifier (e.g. child id when children have several episodes): standard
        errors, CIs and p-values then use the robust sandwich variance, as R ``cluster=``.
    alpha : float, default 0.05
        Confidence intervals have level 1 - alpha.

    Returns
    -------
    CoxResult
        ``summary`` has one row per (dummy-coded) covariate, indexed by its name:

        - ``estimate``: log hazard ratio
        - ``se``: standard error used for the CI and p-value (robust if clustered)
        - ``se_naive``: model-based SE, sqrt of the diagonal of the inverse information
        - ``se_robust``: cluster-robust SE (NaN without ``cluster_col``)
        - ``z``: estimate / se
        - ``ci_lower``, ``ci_upper``: Wald limits estimate -+ z_{1-alpha/2} se (log scale)
        - ``p_value``: two-sided Wald p-value
        - ``exp_estimate``: hazard ratio exp(estimate)

        ``metadata`` holds ``n``, ``n_events``, ``loglik``, ``loglik_null``, ``iterations``,
        ``n_clusters`` and versions; ``var_``, ``var_naive_`` and ``score_residuals_`` the
        matrices.

    Raises
    ------
    ParameterError
        If a column is missing or has missing values, a covariate is constant or neither
        numeric nor categorical, durations are negative, entry is not before duration, event
        codes are not 0/1, there are no events, or alpha is outside (0, 1).
    ConvergenceError
        If Newton–Raphson does not converge (e.g. an infinite estimate) or covariates are
        collinear.

    Notes
    -----
    Maximises the Efron partial likelihood
    sum_k [sum_{i in D_k} eta_i - sum_{l<d_k} log(S0_k - (l/d_k) S0_Dk)] by Newton–Raphson
    (step halving, convergence to 1e-12), where S0_k sums exp(eta) over the risk set of
    event time k and S0_Dk over the d_k tied events. Risk-set sums are prefix-sum
    differences after one sort, so each iteration, the score residuals and the robust
    variance cost O(n p) (plus sorting). The robust variance is I^-1 (sum_c U_c U_c') I^-1,
    with U_c the sum of the score residuals of cluster c (R ``coxph(..., cluster = id)``,
    i.e. ``t(D) %*% D`` of the collapsed dfbeta residuals; no small-sample factor).
    Validated against R 4.2.2, survival 3.5-3 (``tests/reference/cox_reference.R``):
    coefficients, naive and robust SEs agree to a relative tolerance of 1e-6 or better,
    with and without delayed entry, strata and dummy-coded factors. Case weights are not
    supported.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"days": rng.integers(1, 400, 300), "ended": rng.integers(0, 2, 300),
    ...                    "age": rng.uniform(0, 17, 300), "child": rng.integers(0, 200, 300)})
    >>> fit = cox(df, "days", "ended", ["age"], cluster_col="child")
    >>> list(fit.summary.columns[:3])
    ['estimate', 'se', 'se_naive']
    """
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ParameterError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}.")
    d = _cox_design(data, duration_col, event_col, covariates, entry_col, strata, cluster_col)
    x = d["x"]
    x = x - x.mean(axis=0)                                       # centring, as R coxph
    rs = _EfronRiskSets(d["entry"], d["stop"], d["event"], d["stratum"])
    beta, loglik, loglik0, iterations = _cox_newton(rs, x)
    _, _, info, resid = _efron_pass(rs, x, beta, residuals=True)
    var_naive = np.linalg.inv(info)
    se_naive = np.sqrt(np.diag(var_naive))
    n_clusters = None
    se_robust = np.full(len(beta), np.nan)
    var = var_naive
    if d["cluster"] is not None:
        n_clusters = int(d["cluster"].max()) + 1
        u = np.column_stack([np.bincount(d["cluster"], weights=resid[:, j],
                                         minlength=n_clusters) for j in range(len(beta))])
        var = var_naive @ (u.T @ u) @ var_naive
        se_robust = np.sqrt(np.diag(var))
    se = np.sqrt(np.diag(var))
    zcrit = stats.norm.ppf(1 - alpha / 2)
    z = beta / se
    summary = pd.DataFrame(
        {"estimate": beta, "se": se, "se_naive": se_naive, "se_robust": se_robust, "z": z,
         "ci_lower": beta - zcrit * se, "ci_upper": beta + zcrit * se,
         "p_value": 2 * stats.norm.sf(np.abs(z)), "exp_estimate": np.exp(beta)},
        index=pd.Index(d["names"], name="covariate"))
    return CoxResult(
        summary=summary,
        metadata={"method": "Cox proportional hazards (Efron ties)", "alpha": alpha,
                  "n": len(x), "n_events": int(d["event"].sum()), "loglik": loglik,
                  "loglik_null": loglik0, "iterations": iterations,
                  "variance": "robust sandwich (clusters)" if n_clusters else "model-based",
                  "n_clusters": n_clusters, "duration_col": duration_col,
                  "event_col": event_col, "entry_col": entry_col, "strata": strata,
                  "cluster_col": cluster_col, "covariates": list(d["names"]),
                  "versions": package_versions("numpy", "pandas", "scipy")},
        var_=var, var_naive_=var_naive, score_residuals_=resid)
