"""The core of the Cox and Fine–Gray fits: the design matrix (R's factor coding), Efron/Breslow
risk sets with their partial-likelihood terms, and Newton–Raphson with step halving as R
``coxph``.

:mod:`evaluation.models.coxph` (Cox regression), :mod:`evaluation.models.cox_adjusted`
(proportional-hazards test, adjusted survival) and :mod:`evaluation.models.finegray`
(Fine–Gray) build on these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluation.checks import require_complete_columns, require_dataframe
from evaluation.errors import ConvergenceError, ParameterError

__all__ = ["COX_MAX_ITER", "COX_TOL", "EfronRiskSets", "cox_design", "cox_newton", "efron_pass",
           "encode_design", "event_terms", "factor_levels", "info_sum", "newton_raphson"]

#: Newton–Raphson limits, as R ``coxph.control(eps = 1e-12, iter.max = 50)``.
COX_MAX_ITER = 50
COX_TOL = 1e-12


def factor_levels(s: pd.Series) -> list[Any]:
    """Levels of a categorical covariate in R's factor order (categories, else sorted);
    categories that do not occur are dropped (as R ``droplevels``), so the reference is the
    first level present."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.remove_unused_categories().cat.categories)
    return list(pd.Categorical(s).categories)


def encode_design(data: pd.DataFrame, coding: dict[str, list[Any] | None]) -> np.ndarray:
    """Design matrix: numeric columns as they are, categorical ones as dummies against their
    first level (``coding`` maps covariate -> levels, or None if numeric)."""
    blocks = []
    for col, levels in coding.items():
        s = data[col]
        if levels is None:
            blocks.append(s.to_numpy(dtype=float)[:, None])
        else:
            v = s.to_numpy(dtype=object)
            blocks.append(np.column_stack([(v == lev).astype(float) for lev in levels[1:]]))
    return np.hstack(blocks)


def cox_design(data: Any, duration_col: str, event_col: str, covariates: Sequence[str],
                entry_col: str | None, strata_col: str | Sequence[str] | None,
                cluster_col: str | None, weights_col: str | None = None) -> dict[str, Any]:
    """Validate the inputs of :func:`cox` and return arrays (rows with complete data only)."""
    require_dataframe(data)
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    if not covariates:
        raise ParameterError("covariates is empty; give at least one column name.")
    if len(set(covariates)) != len(covariates):
        raise ParameterError(f"covariates has duplicate names: {covariates}.")
    strata_cols = ([] if strata_col is None else [strata_col] if isinstance(strata_col, str)
                   else list(strata_col))
    require_complete_columns(data, {"duration_col": duration_col, "event_col": event_col,
                                    "covariates": covariates, "entry_col": entry_col,
                                    "strata_col": strata_cols, "cluster_col": cluster_col,
                                    "weights_col": weights_col})
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to estimate.")

    def numeric(col: str, arg: str) -> np.ndarray:
        if not (pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col])):
            raise ParameterError(f"column {col!r} ({arg}) must be numeric, got dtype "
                                 f"{data[col].dtype}.")
        out = data[col].to_numpy(dtype=float)
        if not np.isfinite(out).all():
            i = int(np.flatnonzero(~np.isfinite(out))[0])
            raise ParameterError(f"column {col!r} ({arg}) must be finite; row {i} has {float(out[i])!r}.")
        return out

    stop = numeric(duration_col, "duration_col")
    if (stop < 0).any():
        i = int(np.flatnonzero(stop < 0)[0])
        raise ParameterError(f"column {duration_col!r} (duration_col) must hold non-negative "
                             f"durations; row {i} has {float(stop[i])!r}.")
    event = numeric(event_col, "event_col")
    if not np.isin(event, (0.0, 1.0)).all():
        i = int(np.flatnonzero(~np.isin(event, (0.0, 1.0)))[0])
        raise ParameterError(f"column {event_col!r} (event_col) must be 0/1 or boolean; row {i} "
                             f"has {float(event[i])!r}. For one cause of several, pass a column such as "
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
                                 f"{float(entry[i])!r} and stop {float(stop[i])!r}.")
    if event.sum() == 0:
        raise ParameterError(f"column {event_col!r} (event_col) has no events; a Cox model "
                             "needs at least one.")
    weights = None
    if weights_col is not None:
        weights = numeric(weights_col, "weights_col")
        if (weights <= 0).any():
            i = int(np.flatnonzero(weights <= 0)[0])
            raise ParameterError(f"column {weights_col!r} (weights_col) must hold case weights "
                                 f"> 0 (as R coxph); row {i} has {float(weights[i])!r}. Drop rows "
                                 "with weight 0 instead.")

    coding: dict[str, list[Any] | None] = {}
    names: list[str] = []
    terms: dict[str, list[int]] = {}
    for col in covariates:
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            coding[col] = None
            new = [col]
        elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s) \
                or pd.api.types.is_string_dtype(s):
            coding[col] = factor_levels(s)
            if len(coding[col]) < 2:
                raise ParameterError(f"covariate {col!r} has a single level; drop it.")
            new = [f"{col}{lev}" for lev in coding[col][1:]]
        else:
            raise ParameterError(f"covariate {col!r} has dtype {s.dtype}, which is neither "
                                 "numeric nor categorical; convert it first.")
        terms[col] = list(range(len(names), len(names) + len(new)))
        names.extend(new)
    x = encode_design(data, coding)
    if not np.isfinite(x).all():
        raise ParameterError("covariates must be finite (no inf values).")
    const = np.ptp(x, axis=0) == 0
    if const.any():
        raise ParameterError(f"covariate(s) {[names[j] for j in np.flatnonzero(const)]} are "
                             "constant in data; drop them (they are not identifiable).")
    stratum = (np.zeros(len(stop), dtype=np.int64) if not strata_cols
               else data.groupby(strata_cols, sort=True, observed=True).ngroup().to_numpy().astype(np.int64))
    cluster = None if cluster_col is None else pd.factorize(data[cluster_col])[0]
    return {"stop": stop, "entry": entry, "event": event.astype(bool), "x": x, "names": names,
            "stratum": stratum, "cluster": cluster, "weights": weights, "coding": coding,
            "terms": terms}


class EfronRiskSets:
    """Risk-set bookkeeping for (entry, stop] data with strata, after one sort.

    Event times are the distinct (stratum, time) pairs with at least one event, in order;
    row i is at risk at event times ``lo[i] .. hi[i]`` (an empty range if ``lo > hi``).
    Sums over risk sets are prefix-sum differences, so each pass is O(n p). Each event is
    one term of the partial likelihood; ``frac`` is its Efron l / d (0 for Breslow ties).
    """

    def __init__(self, entry: np.ndarray, stop: np.ndarray, event: np.ndarray,
                 stratum: np.ndarray, ties: str = "efron") -> None:
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
        self.n_dead = d
        order = np.argsort(ev_k, kind="stable")
        rank = np.empty(len(ev_k), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(d)[:-1]])
        rank[order] = np.arange(len(ev_k)) - np.repeat(starts, d)
        self.frac = rank / d[ev_k] if ties == "efron" else np.zeros(len(ev_k))

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


def event_terms(rs: EfronRiskSets, x: np.ndarray, beta: np.ndarray,
                 wt: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Per-event terms: eta, weighted risk r, denominators, means a (events x p) and the
    term weights (the mean case weight of the tied events, R's ``meanwt``)."""
    eta = x @ beta
    r = np.exp(eta) if wt is None else wt * np.exp(eta)
    ev, k, f = rs.event_rows, rs.event_time, rs.frac
    rx = r[:, None] * x
    s0, s1 = rs.risk_sum(r), rs.risk_sum(rx)
    s0d, s1d = rs.time_sum(r[ev]), rs.time_sum(rx[ev])
    den = s0[k] - f * s0d[k]                                     # one term per event
    a = (s1[k] - f[:, None] * s1d[k]) / den[:, None]
    mw = np.ones(len(ev)) if wt is None else (rs.time_sum(wt[ev]) / rs.n_dead)[k]
    return eta, r, den, a, mw


def info_sum(rs: EfronRiskSets, x: np.ndarray, r: np.ndarray, den: np.ndarray,
              a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum_l c_l (S2_l / den_l - a_l a_l'), S2_l the Efron-adjusted risk-set sum of r x x'."""
    ev, k = rs.event_rows, rs.event_time
    w = r * rs.range_sum(rs.time_sum(c / den))
    w[ev] -= r[ev] * rs.time_sum(c * rs.frac / den)[k]
    return (x * w[:, None]).T @ x - (c[:, None] * a).T @ a


def efron_pass(rs: EfronRiskSets, x: np.ndarray, beta: np.ndarray,
                wt: np.ndarray | None = None, residuals: bool = False) -> tuple[Any, ...]:
    """Weighted Efron (or Breslow) log partial likelihood, score, information (and
    unweighted score residuals), as R's coxfit6/agfit4 and coxscore2/agscore3."""
    eta, r, den, a, mw = event_terms(rs, x, beta, wt)
    ev, k, f = rs.event_rows, rs.event_time, rs.frac
    w_ev = np.ones(len(ev)) if wt is None else wt[ev]
    with np.errstate(invalid="ignore", divide="ignore"):   # non-finite: step halving
        loglik = float(w_ev @ eta[ev] - mw @ np.log(den))
    score = w_ev @ x[ev] - mw @ a
    info = info_sum(rs, x, r, den, a, mw)
    if not residuals:
        return loglik, score, info
    # score residuals (R residuals.coxph type "score"): row i gets
    #   event_i (x_i - mean_l a_l) - exp(eta_i) sum_{times at risk} sum_l w_il h_l (x_i - a_l)
    # with h_l = meanwt/den_l and w_il = 1, except (1 - l/d) when i is one of the tied events.
    h = mw / den
    hs = rs.time_sum(h)
    has = rs.time_sum(h[:, None] * a)
    h2 = rs.time_sum((1 - f) * h)
    ha2 = rs.time_sum(((1 - f) * h)[:, None] * a)
    abar = rs.time_sum(a) / rs.n_dead[:, None]
    cum_h = rs.range_sum(hs)
    cum_ha = rs.range_sum(has)
    cum_h[ev] += h2[k] - hs[k]
    cum_ha[ev] += ha2[k] - has[k]
    resid = -np.exp(eta)[:, None] * (x * cum_h[:, None] - cum_ha)
    resid[ev] += x[ev] - abar[k]
    return loglik, score, info, resid



def _largest(v: np.ndarray, scale: np.ndarray | None, names: Sequence[str] | None) -> str:
    """' (covariate NAME)': the covariate whose |v| x scale is largest, for messages."""
    if names is None or not len(v):
        return ""
    size = np.abs(v) * (1.0 if scale is None else scale)
    size = np.where(np.isnan(size), np.inf, size)
    return f" (covariate {names[int(np.argmax(size))]!r})"


def newton_raphson(evaluate: Any, p: int, model: str, likelihood: str,
                    infinite_because: str, max_iter: int = COX_MAX_ITER,
                    tol: float = COX_TOL, names: Sequence[str] | None = None,
                    scale: np.ndarray | None = None) -> tuple[np.ndarray, float, float, int]:
    """Maximise a log (partial) likelihood by Newton–Raphson with step halving, as R coxph.

    ``evaluate(beta)`` returns (loglik, score, information). Starts at 0 (as coxph) and
    halves a step while the log likelihood it leads to is non-finite or lower; stops when
    the largest change is below ``tol`` x (1 + max |beta|), or below 1e-9 with the log
    likelihood changing by at most ``tol`` relatively. Returns beta, loglik, the loglik at
    0 and the number of iterations, all finite; otherwise raises ConvergenceError naming
    ``model`` and (given ``names`` and the covariates' ranges ``scale``) the covariate.
    """
    beta = np.zeros(p)
    loglik, score, info = evaluate(beta)
    if not (np.isfinite(loglik) and np.isfinite(score).all() and np.isfinite(info).all()):
        raise ConvergenceError(f"the {likelihood} of the {model} is not finite at 0; a "
                               "covariate has extreme values: rescale it.")
    loglik0 = loglik
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError("the information matrix is singular: covariates are "
                                   "collinear; drop one of the linearly dependent "
                                   "columns.") from exc
        new = beta + step
        new_loglik, new_score, new_info = evaluate(new)
        halvings = 0
        while not np.isfinite(new_loglik) or new_loglik < loglik - 1e-10 * abs(loglik):
            halvings += 1
            if halvings > 30:
                exc = ConvergenceError(
                    f"Newton–Raphson could not increase the {likelihood}"
                    f"{_largest(step, scale, names)}; an estimate may be "
                    f"infinite ({infinite_because}), or a covariate has extreme outliers.")
                exc.beta, exc.step = beta, step
                raise exc
            new = (beta + new) / 2
            new_loglik, new_score, new_info = evaluate(new)
        change = np.max(np.abs(new - beta))
        done = change < tol * (1 + np.max(np.abs(new))) or \
            (change < 1e-9 and abs(new_loglik - loglik) <= tol * abs(new_loglik))
        beta, loglik, score, info = new, new_loglik, new_score, new_info
        if done:
            if not (np.isfinite(beta).all() and np.isfinite(info).all()):
                raise ConvergenceError(f"{model}: the estimate or its information is not "
                                       f"finite{_largest(beta, scale, names)}; an estimate "
                                       f"may be infinite ({infinite_because}).")
            return beta, loglik, loglik0, it
    exc = ConvergenceError(
        f"{model} did not converge in {max_iter} Newton–Raphson iterations (last change "
        f"{np.max(np.abs(step)):.3g}{_largest(step, scale, names)}); an estimate may be "
        f"infinite ({infinite_because}).")
    exc.beta, exc.step = beta, step  # so a caller can name the diverging covariate
    raise exc


def cox_newton(rs: EfronRiskSets, x: np.ndarray, wt: np.ndarray | None = None,
               names: Sequence[str] | None = None) -> tuple[np.ndarray, float, float, int]:
    """Newton–Raphson with step halving, as R coxph; returns beta, loglik, null loglik, iters
    (``names``, the design columns, name a diverging covariate in a ConvergenceError)."""
    return newton_raphson(lambda b: efron_pass(rs, x, b, wt), x.shape[1], "Cox model",
                           "partial likelihood", "a covariate level with no events, or one "
                           "that perfectly predicts the order of events", names=names,
                           scale=np.ptp(x, axis=0) if len(x) else None)
