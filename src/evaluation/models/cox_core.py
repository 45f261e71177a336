"""The core of the Cox and Fine–Gray fits: the design matrix (R's factor coding), Efron/Breslow
risk sets with their partial-likelihood terms, and Newton–Raphson with step halving as R
``coxph``.

:mod:`evaluation.models.coxph` (Cox regression), :mod:`evaluation.models.cox_adjusted`
(proportional-hazards test, adjusted survival) and :mod:`evaluation.models.finegray`
(Fine–Gray) build on these.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from evaluation.checks import require_complete_columns, require_dataframe
from evaluation.errors import ConvergenceError, ParameterError

__all__ = ["COX_MAX_ITER", "COX_TOL", "EfronLikelihood", "EfronRiskSets", "cox_design",
           "cox_newton", "efron_pass", "encode_design", "event_terms", "factor_levels",
           "info_sum", "newton_raphson", "time_order"]

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
    Each event is one term of the partial likelihood; ``frac`` is its Efron l / d (0 for
    Breslow ties).

    Aggregation by event time: ``aggregate`` is a sparse (2 T x n) matrix, T the number of
    event times. Column i (row i of the data) has +1 in row ``hi'[i]`` = the last time it
    is at risk other than as one of the tied events (``hi - event``), -1 in row
    ``lo[i] - 1`` if it enters after its stratum's first event time (with more than
    ``MAX_BLOCKS`` strata: after the first event time of all) and, if it is an event, +1 in
    row T + its time. So ``A = aggregate @ v`` followed by a reverse cumulative sum of
    ``A[:T]`` (``cumsum_times``, per stratum) gives, per event time, the sum of v over the
    risk set without the tied events, and ``A[T:]`` the sum over the tied events: one pass
    over the rows (a sparse product) for any number of columns. Its transpose ``spread``
    maps per-time values back to rows: ``spread_times(q, q_d)`` is, for each row, the sum of
    q over the times it is at risk other than as an event, plus q_d at its own event time.
    Fitting on rows sorted by (stratum, time) (:func:`time_order`) makes these products
    read the rows in sequence. ``term_time``, ``term_g`` and ``term_start`` describe the
    Efron terms sorted by time (``term_g`` = 1 - l / d; 1 for Breslow).
    """

    #: with at most this many strata, cumulative sums over event times restart at each
    #: stratum (no -1 entries for rows entering at their stratum's first time)
    MAX_BLOCKS = 256

    def __init__(self, entry: np.ndarray, stop: np.ndarray, event: np.ndarray,
                 stratum: np.ndarray, ties: str = "efron") -> None:
        has_entry = np.isfinite(entry)
        values = np.unique(np.concatenate([stop, entry[has_entry]]))
        width = len(values) + 1
        stop_key = stratum * width + np.searchsorted(values, stop) + 1
        ev_key = stop_key[event]
        if len(ev_key) and (ev_key[1:] >= ev_key[:-1]).all():   # rows in time order: no sort
            new_key = np.concatenate([[True], ev_key[1:] != ev_key[:-1]])
            keys, ev_k = ev_key[new_key], np.cumsum(new_key) - 1
        else:
            keys, ev_k = np.unique(ev_key, return_inverse=True)
        self.n_times = t = len(keys)
        self.hi = np.searchsorted(keys, stop_key, side="right") - 1
        # first event time of each stratum; an event time of another stratum is never in range
        n_strata = int(stratum.max()) + 1 if len(stratum) else 1
        first = np.searchsorted(keys, np.arange(n_strata + 1) * width, side="left")
        lo = first[stratum]
        if has_entry.any():
            entry_key = stratum[has_entry] * width + np.searchsorted(values, entry[has_entry]) + 1
            lo[has_entry] = np.maximum(np.searchsorted(keys, entry_key, side="right"),
                                       lo[has_entry])
        self.lo = lo
        self.at_risk = lo <= self.hi
        self.event_rows = np.flatnonzero(event)
        self.event_time = ev_k                                   # time index of each event
        d = np.bincount(ev_k, minlength=self.n_times)
        self.n_dead = d
        starts = np.concatenate([[0], np.cumsum(d)[:-1]])
        self.breslow = ties != "efron"
        # aggregation by event time (see the class docstring), built row by row as the CSR
        # matrix ``spread`` (rows x 2T); ``aggregate`` is its transpose (a CSC view)
        n = len(stop)
        self.blocks = ([(int(a), int(b)) for a, b in itertools.pairwise(first) if b > a]
                       if n_strata <= self.MAX_BLOCKS else None)
        ev_mask = np.asarray(event, dtype=bool)
        hi_x = self.hi - ev_mask                 # last time at risk, not as a tied event
        keep = lo <= hi_x
        minus = keep & (lo > (first[stratum] if self.blocks is not None else 0))
        counts = keep.astype(np.int64) + minus + ev_mask
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int32 if 2 * t < 2 ** 31 else np.int64)
        vals = np.ones(len(indices))
        pos = indptr[:-1].copy()
        indices[pos[keep]] = hi_x[keep]
        pos += keep
        indices[pos[minus]] = lo[minus] - 1
        vals[pos[minus]] = -1.0
        pos += minus
        indices[pos[ev_mask]] = t + ev_k
        self.spread = sparse.csr_matrix((vals, indices, indptr), shape=(n, 2 * t))
        self.aggregate = self.spread.T
        self.entry_row = np.repeat(np.arange(n), counts)         # row of each stored entry
        self.term_start = starts
        self.term_time = np.repeat(np.arange(t), d)
        l_rank = np.arange(len(ev_k)) - np.repeat(starts, d)
        self.term_g = (1.0 - l_rank / d[self.term_time] if ties == "efron"
                       else np.ones(len(ev_k)))

    @functools.cached_property
    def frac(self) -> np.ndarray:
        """Efron l / d of each event (0 for Breslow), l its rank among its time's events."""
        if self.breslow:
            return np.zeros(len(self.event_time))
        d, ev_k = self.n_dead, self.event_time
        order = np.argsort(ev_k, kind="stable")
        rank = np.empty(len(ev_k), dtype=np.int64)
        rank[order] = np.arange(len(ev_k)) - np.repeat(self.term_start, d)
        return rank / d[ev_k]

    def cumsum_times(self, q: np.ndarray, reverse: bool = False) -> np.ndarray:
        """Cumulative sum of per-time values over event times (axis 0), restarting at each
        stratum when there are few strata (``reverse``: from the last time backwards)."""
        def run(a: np.ndarray) -> np.ndarray:
            return np.cumsum(a[::-1], axis=0)[::-1] if reverse else np.cumsum(a, axis=0)

        if self.blocks is None:
            return run(q)
        if len(self.blocks) == 1 and self.blocks[0] == (0, self.n_times):
            return run(q)
        out = np.zeros(q.shape)
        for a, b in self.blocks:
            out[a:b] = run(q[a:b])
        return out

    def time_moments(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per event time, the sums of v (rows x columns) over the risk set without the tied
        events, and over the tied events (one sparse product and a reverse cumsum)."""
        agg = self.aggregate @ v
        t = self.n_times
        return self.cumsum_times(agg[:t], reverse=True), agg[t:]

    def spread_times(self, q: np.ndarray, q_tied: np.ndarray) -> np.ndarray:
        """For each row, the sum of per-time values q over the times it is at risk other
        than as one of the tied events, plus q_tied at its own event time."""
        return self.spread @ np.concatenate([self.cumsum_times(q), q_tied])

    def risk_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum of w (rows, or rows x columns) over each event time's risk set."""
        rest, tied = self.time_moments(w.reshape(len(w), -1))
        return (rest + tied).reshape((self.n_times,) + w.shape[1:])

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


class EfronLikelihood:
    """The weighted Efron (or Breslow) partial likelihood of one data set, evaluated at
    many beta by aggregating by event time, as R's coxfit6/agfit4 (and coxscore2/agscore3
    for the score residuals).

    Each evaluation makes one pass over the rows: eta = x beta, then one sparse product
    (``rs.aggregate`` with its entries scaled by exp(eta)) with the fixed matrix [w, w x]
    gives, per event time, the sums of r = w exp(eta) and r x over the risk set without
    the tied events (s0r, s1r) and over the tied events (s0d, s1d). Everything else is per
    event time: the Efron terms l of a time have den_l = s0r + g_l s0d and mean covariate
    a_l = (s1r + g_l s1d) / den_l, g_l = 1 - l/d (Breslow: g = 1), so each sum over terms
    is a per-time vector times one of the scalar sums over l of log den, 1/den, g/den,
    1/den^2, g/den^2, g^2/den^2 (O(number of events) scalar work). The information's
    risk-set part is one weighted cross product of x, each row weighted by the sum of its
    times' Efron factors (``rs.spread_times``). Cost per evaluation: O(n p^2) in BLAS plus
    O(T p^2), T the number of event times. The results at the last beta are kept, so the
    residuals at the fitted beta reuse the sums of the last Newton–Raphson evaluation.
    """

    #: rows per block of the score residuals
    BLOCK = 65_536

    def __init__(self, rs: EfronRiskSets, x: np.ndarray, wt: np.ndarray | None = None) -> None:
        self.rs, self.x, self.wt = rs, x, wt
        n, p = x.shape
        w = np.ones(n) if wt is None else wt
        self.w1x = np.empty((n, p + 1))                     # [w, w x]
        self.w1x[:, 0] = w
        np.multiply(x, w[:, None], out=self.w1x[:, 1:])
        ev = rs.event_rows
        w_ev = np.zeros(n)
        w_ev[ev] = w[ev]
        self.event_sum = x.T @ w_ev                          # sum of w x over the events
        self.mw = (np.bincount(rs.event_time, weights=w[ev], minlength=rs.n_times)
                   / rs.n_dead)                              # R's meanwt per event time
        self._buffer = np.empty((n, p))
        self._last: tuple[bytes, tuple] | None = None      # the last beta and its results

    def time_sums(self, beta: np.ndarray) -> dict[str, np.ndarray]:
        """eta, exp(eta), s1r, s1d and q (T x 6: the sums over each time's terms of log den,
        1/den, g/den, 1/den^2, g/den^2, g^2/den^2); see the class docstring."""
        rs = self.rs
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            eta = self.x @ beta
            e = np.exp(eta)
            sp = rs.spread
            scaled = sparse.csc_matrix((sp.data * e[rs.entry_row], sp.indices, sp.indptr),
                                       shape=(sp.shape[1], sp.shape[0]))
            sums = scaled @ self.w1x                  # = aggregate @ (exp(eta) [w, w x])
            t = rs.n_times
            rest, tied = rs.cumsum_times(sums[:t], reverse=True), sums[t:]
            if rs.breslow:                           # every term of a time has den = s0
                den = rest[:, 0] + tied[:, 0]
                inv = 1.0 / den
                d = rs.n_dead
                q = np.column_stack([d * np.log(den), d * inv, d * inv, d * inv * inv,
                                     d * inv * inv, d * inv * inv])
            else:
                k, g = rs.term_time, rs.term_g
                terms = np.empty((6, len(k)))
                den = np.add(rest[k, 0], g * tied[k, 0])
                np.log(den, out=terms[0])
                np.divide(1.0, den, out=terms[1])
                np.multiply(g, terms[1], out=terms[2])
                np.multiply(terms[1], terms[1], out=terms[3])
                np.multiply(g, terms[3], out=terms[4])
                np.multiply(g, terms[4], out=terms[5])
                q = np.add.reduceat(terms, rs.term_start, axis=1).T
        return {"eta": eta, "e": e, "s1r": rest[:, 1:], "s1d": tied[:, 1:], "q": q}

    def _information(self, beta: np.ndarray, ts: dict[str, np.ndarray]
                     ) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information from the per-time sums."""
        rs, x, mw = self.rs, self.x, self.mw
        e, s1r, s1d, q = ts["e"], ts["s1r"], ts["s1d"], ts["q"]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # step halving
            loglik = float(self.event_sum @ beta - mw @ q[:, 0])
            score = self.event_sum - (mw * q[:, 1]) @ s1r - (mw * q[:, 2]) @ s1d
            # information: sum_k mw_k sum_l (S2_l / den_l - a_l a_l'), S2_l = S2r + g_l S2d
            row_w = rs.spread_times(mw * q[:, 1], mw * q[:, 2]) * e
            if self.wt is not None:
                row_w *= self.wt
            cross = s1r.T @ ((mw * q[:, 4])[:, None] * s1d)
            aa = (s1r.T @ ((mw * q[:, 3])[:, None] * s1r) + cross + cross.T
                  + s1d.T @ ((mw * q[:, 5])[:, None] * s1d))
            info = np.multiply(x, row_w[:, None], out=self._buffer).T @ x - aa
        return loglik, score, info

    def evaluate(self, beta: np.ndarray, residuals: bool = False) -> tuple[Any, ...]:
        """Log partial likelihood, score and information at beta (and, with ``residuals``,
        the unweighted score residuals, rows x p, and the baseline hazard increments)."""
        rs, x, mw = self.rs, self.x, self.mw
        key = np.asarray(beta, dtype=float).tobytes()
        if self._last is not None and self._last[0] == key:  # e.g. the residuals at the fit
            ts, loglik, score, info = self._last[1]
        else:
            ts = self.time_sums(beta)
            loglik, score, info = self._information(beta, ts)
            self._last = (key, (ts, loglik, score, info))
        if not residuals:
            return loglik, score, info
        e, s1r, s1d, q = ts["e"], ts["s1r"], ts["s1d"], ts["q"]
        # score residuals (R residuals.coxph type "score"): row i gets
        #   event_i (x_i - mean_l a_l) - exp(eta_i) sum_{times at risk} sum_l w_il h_l (x_i - a_l)
        # with h_l = meanwt/den_l and w_il = 1, except g_l = 1 - l/d when i is one of the
        # tied events. Per time: sum_l h_l = mw q1, sum_l g_l h_l = mw q2,
        # sum_l h_l a_l = mw (s1r q3 + s1d q4), sum_l g_l h_l a_l = mw (s1r q4 + s1d q5).
        hazard = mw * q[:, 1]
        has = mw[:, None] * (s1r * q[:, 3:4] + s1d * q[:, 4:5])
        ha2 = mw[:, None] * (s1r * q[:, 4:5] + s1d * q[:, 5:6])
        abar = (s1r * q[:, 1:2] + s1d * q[:, 2:3]) / rs.n_dead[:, None]
        p, t = x.shape[1], rs.n_times
        # spread back to the rows: sum_l h_l, sum_l h_l a_l (over the times at risk,
        # g_l-weighted at the own event time), the event indicator and mean_l a_l; in blocks
        # of rows, so that the temporaries stay small
        per_time = np.vstack([rs.cumsum_times(np.column_stack([hazard, has,
                                                               np.zeros((t, p + 1))])),
                              np.column_stack([mw * q[:, 2], ha2, np.ones(t), abar])])
        resid = np.empty(x.shape)
        for a in range(0, len(x), self.BLOCK):
            rows = slice(a, min(a + self.BLOCK, len(x)))
            cum = rs.spread[rows] @ per_time
            xb, out = x[rows], resid[rows]
            np.multiply(xb, cum[:, :1], out=out)
            out -= cum[:, 1:p + 1]
            out *= -e[rows, None]
            out += xb * cum[:, p + 1:p + 2]
            out -= cum[:, p + 2:]
        return loglik, score, info, resid, hazard


def efron_pass(rs: EfronRiskSets, x: np.ndarray, beta: np.ndarray,
                wt: np.ndarray | None = None, residuals: bool = False) -> tuple[Any, ...]:
    """Weighted Efron (or Breslow) log partial likelihood, score, information (and
    unweighted score residuals) at beta; see :class:`EfronLikelihood`."""
    out = EfronLikelihood(rs, x, wt).evaluate(beta, residuals)
    return out[:4] if residuals else out


def time_order(stop: np.ndarray, stratum: np.ndarray) -> np.ndarray:
    """A row order by stratum, then time: fitting on rows in this order makes the sums by
    event time read the rows in sequence (several times faster on large data)."""
    order = np.argsort(stop)
    if stratum.max(initial=0) > 0:
        order = order[np.argsort(stratum[order], kind="stable")]
    return order



def _largest(v: np.ndarray, scale: Any, names: Sequence[str] | None) -> str:
    """' (covariate NAME)': the covariate whose |v| x scale is largest, for messages."""
    if names is None or not len(v):
        return ""
    if callable(scale):
        scale = scale()
    size = np.abs(v) * (1.0 if scale is None else scale)
    size = np.where(np.isnan(size), np.inf, size)
    return f" (covariate {names[int(np.argmax(size))]!r})"


def newton_raphson(evaluate: Any, p: int, model: str, likelihood: str,
                    infinite_because: str, max_iter: int = COX_MAX_ITER,
                    tol: float = COX_TOL, names: Sequence[str] | None = None,
                    scale: Any = None) -> tuple[np.ndarray, float, float, int]:
    """Maximise a log (partial) likelihood by Newton–Raphson with step halving, as R coxph.

    ``evaluate(beta)`` returns (loglik, score, information). Starts at 0 (as coxph) and
    halves a step while the log likelihood it leads to is non-finite or lower; stops when
    the largest change is below ``tol`` x (1 + max |beta|), or below 1e-9 with the log
    likelihood changing by at most ``tol`` relatively. Returns beta, loglik, the loglik at
    0 and the number of iterations, all finite; otherwise raises ConvergenceError naming
    ``model`` and (given ``names`` and the covariates' ranges ``scale``, or a function
    returning them, called only for a message) the covariate.
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
            if it == 1:                  # at 0: the design itself is singular
                raise ConvergenceError("the information matrix is singular: covariates are "
                                       "collinear; drop one of the linearly dependent "
                                       "columns.") from exc
            # regular at 0 but not here: the information vanished as an estimate ran off
            err = ConvergenceError(f"the information of the {model} vanished along the "
                                   f"Newton–Raphson path{_largest(beta, scale, names)}; an "
                                   f"estimate may be infinite ({infinite_because}).")
            err.beta, err.step = beta, beta
            raise err from exc
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
               names: Sequence[str] | None = None, likelihood: EfronLikelihood | None = None
               ) -> tuple[np.ndarray, float, float, int]:
    """Newton–Raphson with step halving, as R coxph; returns beta, loglik, null loglik, iters
    (``names``, the design columns, name a diverging covariate in a ConvergenceError;
    ``likelihood``, the :class:`EfronLikelihood` of rs, x and wt if already built)."""
    lik = EfronLikelihood(rs, x, wt) if likelihood is None else likelihood
    return newton_raphson(lik.evaluate, x.shape[1], "Cox model", "partial likelihood",
                          "a covariate level with no events, or one that perfectly predicts "
                          "the order of events", names=names,
                          scale=(lambda: np.ptp(x, axis=0)) if len(x) else None)
