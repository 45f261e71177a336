"""Time-to-event effects of an intervention with inverse probability weights.

:func:`weighted_survival` compares two arms (e.g. HVB versus family home) on a time-to-event
outcome such as "unplanned ending": per arm an inverse-probability-weighted Kaplan–Meier curve
or, with competing events (e.g. planned ending), a weighted Aalen–Johansen cumulative incidence
curve, and from them the risk difference and ratio at chosen horizons and the difference in
restricted mean event-free time (RMST). Tied times are handled exactly (no jittering). The
weighted curves equal R's ``survfit(Surv(time, status) ~ arm, weights = w)`` and, with
competing events, ``survfit(Surv(time, factor(status)) ~ arm, weights = w)`` (checked in the
tests against stored R output).

Standard errors are of two kinds (``se_method``):

* ``"robust"`` (default): infinitesimal-jackknife (IJ) variance of each arm's estimate,
  ``sum_i (w_i dF/dw_i)^2``, as R's robust ``survfit`` variance. It treats the weights as
  fixed, so it ignores the uncertainty of an estimated propensity score (usually somewhat
  conservative for the ATE).
* ``"bootstrap"``: rows are resampled within each arm (arm sizes fixed), the propensity
  model is refitted (when estimated from ``covariates``) and everything recomputed; SE = SD
  of the replicates (log scale for ratios), Wald intervals. This accounts for the estimation
  of the propensity score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import (
    check_alpha,
    check_option,
    numeric_values,
    require_complete_columns,
    require_dataframe,
)
from evaluation.errors import ConvergenceError, LevelError, ParameterError
from evaluation.models.effects_core import propensity_scores
from evaluation.models.results import Result, package_versions

__all__ = ["WeightedSurvivalResult", "weighted_survival"]

ESTIMANDS = ("ATE", "ATT")
SE_METHODS = ("robust", "bootstrap")


# --------------------------------------------------------------------------- result
@dataclass
class WeightedSurvivalResult(Result):
    """Weighted time-to-event comparison of two arms; see :func:`weighted_survival`.

    Attributes
    ----------
    summary : DataFrame
        One row per contrast measure: ``contrast`` ("<treated> vs <control>"), ``measure``
        (``risk_difference``, ``risk_ratio``, ``rmst_difference``), ``time`` (horizon or
        RMST bound), ``estimate``, ``se`` (of log RR for ``risk_ratio``), ``ci_lower``,
        ``ci_upper``, ``p_value``, ``n`` (rows in the two arms).
    arms : DataFrame
        Per arm: ``group``, ``measure`` (``risk`` or ``rmst``), ``time``, ``estimate``,
        ``se``, ``ci_lower``, ``ci_upper``, ``n`` (rows), ``ess`` (Kish effective size).
    curves : DataFrame
        Per arm and distinct time: ``group``, ``time``, ``n_risk``, ``n_event`` (event of
        interest), ``n_competing``, ``n_censor`` (all weighted), ``surv`` (event-free of every
        cause), ``risk`` (cumulative incidence of the event of interest; ``1 - surv`` without
        competing events), ``se_risk`` (IJ), ``se_surv_greenwood`` (weighted Greenwood SE of
        ``surv``, as R's non-robust ``survfit``), ``ci_lower``, ``ci_upper`` (Wald limits of
        ``risk``, clipped to [0, 1]).
    """

    arms: pd.DataFrame = field(default_factory=pd.DataFrame)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)

    def plot(self, ax=None, ci: bool = True):
        """Weighted risk curves (cumulative incidence or 1 - KM) per arm; returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        for group, c in self.curves.groupby("group", sort=False):
            t = np.r_[0.0, c["time"].to_numpy()]
            line = ax.step(t, np.r_[0.0, c["risk"].to_numpy()], where="post", label=str(group))
            if ci:
                ax.fill_between(t, np.r_[0.0, c["ci_lower"].to_numpy()],
                                np.r_[0.0, c["ci_upper"].to_numpy()], step="post", alpha=0.2,
                                color=line[0].get_color(), linewidth=0)
        ax.set_xlabel(f"time ({self.metadata.get('time_unit', 'days')})")
        kind = "cumulative incidence" if self.metadata.get("competing") else "1 - Kaplan-Meier"
        ax.set_ylabel(f"weighted risk ({kind}, {self.metadata.get('estimand', '')})")
        ax.set_ylim(0, None)
        ax.legend(title=self.metadata.get("treatment_col"))
        return ax


# --------------------------------------------------------------------------- estimation
def _table(time: np.ndarray, event: np.ndarray, w: np.ndarray, cause: float
           ) -> dict[str, np.ndarray]:
    """Weighted KM / Aalen-Johansen at every distinct time (vectorised, exact ties)."""
    times, inv = np.unique(time, return_inverse=True)
    k = len(times)
    w_all = np.bincount(inv, weights=w, minlength=k)
    n_risk = np.cumsum(w_all[::-1])[::-1]
    d1 = np.bincount(inv, weights=w * (event == cause), minlength=k)
    d_any = np.bincount(inv, weights=w * (event != 0), minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam1 = np.where(n_risk > 0, d1 / n_risk, 0.0)
        lam = np.where(n_risk > 0, d_any / n_risk, 0.0)
    surv = np.cumprod(1.0 - lam)
    s_prev = np.r_[1.0, surv[:-1]]
    risk = np.cumsum(s_prev * lam1)
    return {"time": times, "n_risk": n_risk, "n_event": d1, "n_competing": d_any - d1,
            "n_censor": w_all - d_any, "surv": surv, "risk": risk}


def _step(times: np.ndarray, values: np.ndarray, at: float, start: float) -> float:
    i = int(np.searchsorted(times, at, side="right")) - 1
    return start if i < 0 else float(values[i])


def _rmst(times: np.ndarray, surv: np.ndarray, tau: float) -> float:
    keep = times < tau
    t = np.r_[0.0, times[keep], tau]
    s = np.r_[1.0, surv[keep]]
    return float(np.sum(np.diff(t) * s))


def _ij_variance(time: np.ndarray, event: np.ndarray, w: np.ndarray, cause: float,
                 horizons: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Infinitesimal-jackknife variances: of ``risk`` at every distinct time, of the risk at
    each horizon and of the RMST at ``tau``.

    The influence of row i is the derivative of the estimate with respect to its weight,
    propagated exactly through the product-limit recursions ``S_k = S_{k-1} (1 - lam_k)`` and
    ``F_k = F_{k-1} + S_{k-1} lam1_k``; the variance is ``sum_i (w_i dF/dw_i)^2``.
    """
    order = np.argsort(time, kind="stable")
    t, e, ww = time[order], event[order], w[order]
    times, first = np.unique(t, return_index=True)
    bounds = np.r_[first, len(t)]
    n = len(t)
    d_s = np.zeros(n)          # dS/dw_i
    d_f = np.zeros(n)          # dF/dw_i (cause of interest)
    d_rm = np.zeros(n)         # dRMST/dw_i
    s_prev, f_prev, t_prev = 1.0, 0.0, 0.0
    var_risk = np.zeros(len(times))
    var_h = np.full(len(horizons), np.nan)
    tail = np.cumsum(ww[::-1])[::-1]
    hz = np.sort(horizons)
    done_rm = False
    for k, tk in enumerate(times):
        if not done_rm:
            width = min(tk, tau) - t_prev
            d_rm += d_s * width
            t_prev = min(tk, tau)
            done_rm = tk >= tau
        lo, hi = bounds[k], bounds[k + 1]
        ev = e[lo:hi]
        any_ev = ev != 0
        if any_ev.any():
            y = tail[lo]
            one = ev == cause
            lam1 = float(ww[lo:hi][one].sum()) / y
            lam = float(ww[lo:hi][any_ev].sum()) / y
            # d lam_j / dw_i = (1{event j at t_k} - lam_j 1{at risk}) / y
            d_f += d_s * lam1
            d_f[lo:] -= s_prev * lam1 / y
            d_f[lo:hi][one] += s_prev / y
            d_s *= 1.0 - lam
            d_s[lo:] += s_prev * lam / y
            d_s[lo:hi][any_ev] -= s_prev / y
            f_prev += s_prev * lam1
            s_prev *= 1.0 - lam
        var_risk[k] = float(np.sum((ww * d_f) ** 2))
    if not done_rm:
        d_rm += d_s * (tau - t_prev)
    for j, h in enumerate(hz):
        i = int(np.searchsorted(times, h, side="right")) - 1
        var_h[j] = 0.0 if i < 0 else var_risk[i]
    var_h = var_h[np.argsort(np.argsort(horizons))]
    return var_risk, var_h, float(np.sum((ww * d_rm) ** 2))


def _design(data: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Design matrix (intercept first) and the names of its columns after the intercept."""
    parts = []
    for c in covariates:
        s = data[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            parts.append(s.astype(float).to_frame(c))
        else:
            levels = sorted(s.astype(str).unique())
            parts.extend((s.astype(str) == lev).astype(float).rename(f"{c}[{lev}]").to_frame()
                         for lev in levels[1:])
    x = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    return (np.column_stack([np.ones(len(data)), x.to_numpy(dtype=float)]),
            [str(c) for c in x.columns])


def _estimated_weights(x: np.ndarray, a: np.ndarray, estimand: str,
                       names: Sequence[str] | None = None, warn: bool = True) -> np.ndarray:
    """Weights from the logistic propensity model, fitted as in
    :mod:`evaluation.models.effects` (:func:`~evaluation.models.effects_core.propensity_scores`:
    step halving as R's glm.fit, a finite fit or ConvergenceError naming the covariate,
    PropensitySeparationWarning when fitted probabilities are numerically 0 or 1). The
    weights must be finite and > 0, else ConvergenceError."""
    w = _weights(propensity_scores(x, a, names=names, warn=warn), a, estimand)
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        raise ConvergenceError(f"the propensity model predicts an arm with certainty for "
                               f"{int(bad.sum())} row(s) (separation), so their weights are "
                               "not finite and positive; merge covariate levels or drop the "
                               "covariate that predicts the arm.")
    return w


def _weights(e: np.ndarray, a: np.ndarray, estimand: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):   # only the other arm's branch
        if estimand == "ATE":
            return np.where(a == 1, 1.0 / e, 1.0 / (1.0 - e))
        return np.where(a == 1, 1.0, e / (1.0 - e))


def _points(time, event, w, a, cause, horizons, tau) -> np.ndarray:
    """Per arm (control, treated): risks at the horizons and the RMST, as one vector."""
    out = []
    for arm in (0, 1):
        m = a == arm
        tab = _table(time[m], event[m], w[m], cause)
        out.extend(_step(tab["time"], tab["risk"], h, 0.0) for h in horizons)
        out.append(_rmst(tab["time"], tab["surv"], tau))
    return np.asarray(out)


# --------------------------------------------------------------------------- entry point
def weighted_survival(data: pd.DataFrame, duration_col: str, event_col: str,
                      treatment_col: str, covariates: Sequence[str] | None = None, *,
                      weights_col: str | None = None, estimand: str = "ATE",
                      treated: Any = None, control: Any = None,
                      horizons: Sequence[float] = (365.0,), tau: float | None = None,
                      cause: Any = 1, alpha: float = 0.05, se_method: str = "robust",
                      n_bootstrap: int = 200, seed: int | None = None
                      ) -> WeightedSurvivalResult:
    """Inverse-probability-weighted survival / cumulative incidence comparison of two arms.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode.
    duration_col : str
        Follow-up time (event or censoring), non-negative.
    event_col : str
        0 = censored, ``cause`` = the event of interest, any other value = a competing event
        (then the Aalen–Johansen estimator is used). Booleans count as 0/1.
    treatment_col : str
        The arm. With two levels, ``treated`` defaults to 1/True (or the second level in
        sorted order) and either of ``treated``/``control`` implies the other; with more
        levels give both: other rows are dropped.
    covariates : list of str, optional
        Confounders of a logistic propensity model (maximum likelihood by Newton with step
        halving, as in :func:`evaluation.models.effects.estimate_effect`; numeric and boolean
        columns enter linearly, other columns are dummy coded against their first sorted
        level). Exactly one of ``covariates`` and ``weights_col`` must be given.
    weights_col : str, optional
        Ready-made weights (finite, > 0), e.g. from :func:`evaluation.models.effects.estimate_effect`.
    estimand : {"ATE", "ATT"}, default "ATE"
        Weights 1/e and 1/(1 - e) (ATE) or 1 and e/(1 - e) (ATT, treated population); used
        only with ``covariates``.
    treated, control : optional
        Levels of ``treatment_col``.
    horizons : sequence of float, default (365,)
        Times at which risks are compared.
    tau : float, optional
        Upper bound of the restricted mean event-free time (default: the largest horizon).
        Event-free means free of every event type (of interest and competing).
    cause : default 1
        Code of the event of interest in ``event_col``.
    alpha : float, default 0.05
        Intervals have level 1 - alpha.
    se_method : {"robust", "bootstrap"}, default "robust"
        See the module description: IJ variance with fixed weights, or a nonparametric
        bootstrap that refits the propensity model.
    n_bootstrap : int, default 200
        Bootstrap replicates (``se_method="bootstrap"``).
    seed : int, optional
        Seed of the bootstrap.

    Returns
    -------
    WeightedSurvivalResult
        ``summary`` (contrasts), ``arms`` (per-arm risks and RMST), ``curves`` (weighted
        curves with IJ SEs) and ``metadata``.

    Raises
    ------
    ParameterError
        On missing columns or values, negative durations, unknown options or levels, an
        empty arm, invalid weights, or both/neither of ``covariates`` and ``weights_col``.
    ConvergenceError
        If the propensity model does not converge (a covariate's coefficient diverges; the
        message names it) or predicts an arm with certainty for rows whose weight would
        then not be finite and positive (separation).

    Warns
    -----
    PropensitySeparationWarning
        If fitted propensity scores are numerically 0 or 1 but all weights are finite (a
        covariate pattern occurs in one arm only: positivity fails there).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from evaluation.models.effects_survival import weighted_survival
    >>> rng = np.random.default_rng(1)
    >>> n = 400
    >>> old = rng.random(n) < 0.5
    >>> arm = (rng.random(n) < np.where(old, 0.7, 0.3)).astype(int)
    >>> t = rng.exponential(np.where(old, 300, 600) / np.where(arm == 1, 1.5, 1.0))
    >>> df = pd.DataFrame({"days": np.minimum(np.ceil(t), 730), "arm": arm,
    ...                    "event": (t < 730).astype(int), "old": old})
    >>> res = weighted_survival(df, "days", "event", "arm", ["old"], horizons=[365])
    >>> res.summary[["measure", "time"]].values.tolist()
    [['risk_difference', 365.0], ['risk_ratio', 365.0], ['rmst_difference', 365.0]]
    >>> bool(res.summary["estimate"].iloc[0] > 0)
    True
    """
    require_dataframe(data)
    check_option(estimand, "estimand", ESTIMANDS)
    check_option(se_method, "se_method", SE_METHODS)
    alpha = check_alpha(alpha)
    if (covariates is None) == (weights_col is None):
        raise ParameterError("give exactly one of covariates (to estimate propensity weights) "
                             "and weights_col (ready-made weights).")
    if isinstance(covariates, str):
        covariates = [covariates]
    require_complete_columns(data, {"duration_col": duration_col, "event_col": event_col,
                                    "treatment_col": treatment_col, "covariates": covariates,
                                    "weights_col": weights_col})
    if se_method == "bootstrap" and (not isinstance(n_bootstrap, int) or n_bootstrap < 2):
        raise ParameterError(f"n_bootstrap must be an integer >= 2, got {n_bootstrap!r}.")
    hz = np.asarray(list(horizons), dtype=float)
    if hz.size == 0 or not np.all(np.isfinite(hz) & (hz > 0)):
        raise ParameterError(f"horizons must be positive finite times, got {list(horizons)!r}.")
    tau_v = float(hz.max() if tau is None else tau)
    if not (np.isfinite(tau_v) and tau_v > 0):
        raise ParameterError(f"tau must be a positive finite time, got {tau!r}.")

    levels = sorted(data[treatment_col].unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(levels) == 2 and treated is None and control is None:
        control, treated = levels
    elif len(levels) == 2 and (treated is None) != (control is None):
        given = control if treated is None else treated
        other = [v for v in levels if v != given]
        if given in levels:
            treated, control = (other[0], given) if treated is None else (given, other[0])
    if treated is None or control is None:
        raise ParameterError(f"{treatment_col!r} has levels {levels}; give treated and control.")
    for arg, v in (("treated", treated), ("control", control)):
        if v not in levels:
            raise LevelError(f"{arg}={v!r} is not a level of {treatment_col!r} {levels}.",
                             parameter=arg, value=v)
    df = data[data[treatment_col].isin([treated, control])]
    a = (df[treatment_col] == treated).to_numpy().astype(int)
    if a.sum() == 0 or a.sum() == len(a):
        raise ParameterError(f"arm {control if a.sum() else treated!r} has no rows.")
    time = numeric_values(df[duration_col], duration_col, "duration_col")
    event = numeric_values(df[event_col], event_col, "event_col")
    if np.any(~np.isfinite(time) | (time < 0)):
        raise ParameterError(f"column {duration_col!r} must hold finite non-negative times.")
    cause = float(cause)
    if not np.any(event == cause):
        raise ParameterError(f"no row of {event_col!r} has the event code cause={cause!r}.")

    if weights_col is not None:
        w = pd.to_numeric(df[weights_col]).to_numpy(dtype=float)
        if np.any(~np.isfinite(w) | (w <= 0)):
            raise ParameterError(f"column {weights_col!r} must hold finite weights > 0.")
        x = None
    else:
        x, names = _design(df, covariates)
        w = _estimated_weights(x, a, estimand, names)

    est = _points(time, event, w, a, cause, hz, tau_v)
    nh = len(hz)
    z = stats.norm.ppf(1 - alpha / 2)
    curves, var_arm = [], []
    for arm, label in ((0, control), (1, treated)):
        m = a == arm
        tab = _table(time[m], event[m], w[m], cause)
        v_curve, v_h, v_rm = _ij_variance(time[m], event[m], w[m], cause, hz, tau_v)
        var_arm.append(np.r_[v_h, v_rm])
        c = pd.DataFrame(tab)
        c["se_risk"] = np.sqrt(v_curve)
        c["ci_lower"] = np.clip(c["risk"] - z * c["se_risk"], 0, 1)
        c["ci_upper"] = np.clip(c["risk"] + z * c["se_risk"], 0, 1)
        c.insert(0, "group", str(label))
        curves.append(c[["group", "time", "n_risk", "n_event", "n_competing", "n_censor",
                         "surv", "risk", "se_risk", "ci_lower", "ci_upper"]])
    se_arm = np.sqrt(np.r_[var_arm[0], var_arm[1]])
    r0, r1 = est[:nh], est[nh + 1:2 * nh + 1]
    rm0, rm1 = est[nh], est[2 * nh + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        se_rd = np.sqrt(se_arm[:nh] ** 2 + se_arm[nh + 1:2 * nh + 1] ** 2)
        se_lrr = np.sqrt((se_arm[:nh] / r0) ** 2 + (se_arm[nh + 1:2 * nh + 1] / r1) ** 2)
        se_rm = float(np.hypot(se_arm[nh], se_arm[2 * nh + 1]))
        if se_method == "bootstrap":
            boot = _bootstrap(time, event, w, a, x, estimand, cause, hz, tau_v, n_bootstrap, seed)
            se_arm = boot.std(axis=0, ddof=1)
            b0, b1 = boot[:, :nh], boot[:, nh + 1:2 * nh + 1]
            se_rd = (b1 - b0).std(axis=0, ddof=1)
            se_lrr = (np.log(b1) - np.log(b0)).std(axis=0, ddof=1)
            se_rm = float((boot[:, 2 * nh + 1] - boot[:, nh]).std(ddof=1))

    label = f"{treated} vs {control}"
    n_rows = len(a)
    rows = []
    for j, h in enumerate(hz):
        rd, lrr = r1[j] - r0[j], np.log(r1[j] / r0[j])
        rows.append((label, "risk_difference", h, rd, se_rd[j], rd - z * se_rd[j],
                     rd + z * se_rd[j], 2 * stats.norm.sf(abs(rd / se_rd[j])), n_rows))
        rows.append((label, "risk_ratio", h, r1[j] / r0[j], se_lrr[j],
                     np.exp(lrr - z * se_lrr[j]), np.exp(lrr + z * se_lrr[j]),
                     2 * stats.norm.sf(abs(lrr / se_lrr[j])), n_rows))
    drm = rm1 - rm0
    rows.append((label, "rmst_difference", tau_v, drm, se_rm, drm - z * se_rm, drm + z * se_rm,
                 2 * stats.norm.sf(abs(drm / se_rm)), n_rows))
    summary = pd.DataFrame(rows, columns=["contrast", "measure", "time", "estimate", "se",
                                          "ci_lower", "ci_upper", "p_value", "n"])
    arm_rows = []
    for arm, lab in ((0, control), (1, treated)):
        m = a == arm
        ess = float(w[m].sum() ** 2 / np.sum(w[m] ** 2))
        off = arm * (nh + 1)
        for j in range(nh + 1):
            e_, s_ = est[off + j], se_arm[off + j]
            arm_rows.append((str(lab), "risk" if j < nh else "rmst",
                             hz[j] if j < nh else tau_v, e_, s_, e_ - z * s_, e_ + z * s_,
                             int(m.sum()), ess))
    arms = pd.DataFrame(arm_rows, columns=["group", "measure", "time", "estimate", "se",
                                           "ci_lower", "ci_upper", "n", "ess"])
    competing = bool(np.any((event != 0) & (event != cause)))
    meta = {"method": ("inverse-probability-weighted Aalen-Johansen" if competing
                       else "inverse-probability-weighted Kaplan-Meier"),
            "estimand": estimand if weights_col is None else "as given by weights_col",
            "alpha": alpha, "n": n_rows, "competing": competing, "cause": cause,
            "treatment_col": treatment_col, "treated": treated, "control": control,
            "weights": "estimated (logistic propensity model)" if weights_col is None
            else f"column {weights_col!r}",
            "se_method": se_method,
            "n_bootstrap": n_bootstrap if se_method == "bootstrap" else None,
            "time_unit": "days", "versions": package_versions("numpy", "pandas", "scipy",
                                                              "statsmodels")}
    return WeightedSurvivalResult(summary=summary, metadata=meta, arms=arms,
                                  curves=pd.concat(curves, ignore_index=True))


def _bootstrap(time, event, w, a, x, estimand, cause, hz, tau, n_bootstrap, seed) -> np.ndarray:
    """Replicates of the per-arm points; resampling within arms keeps both arms non-empty."""
    rng = np.random.default_rng(seed)
    idx0, idx1 = np.flatnonzero(a == 0), np.flatnonzero(a == 1)
    out = np.empty((n_bootstrap, 2 * (len(hz) + 1)))
    for b in range(n_bootstrap):
        i = np.r_[rng.choice(idx0, len(idx0)), rng.choice(idx1, len(idx1))]
        wb = w[i] if x is None else _estimated_weights(x[i], a[i], estimand, warn=False)
        out[b] = _points(time[i], event[i], wb, a[i], cause, hz, tau)
    return out
