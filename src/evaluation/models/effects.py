"""Intervention effects from observational data: naive comparison, regression
(g-computation), inverse probability weighting (Hajek) and augmented IPW (doubly robust),
for the ATE, ATT and ATO (overlap weights), with influence-function standard errors,
balance and overlap diagnostics and E-values.

The one public entry point is :func:`estimate_effect`, which returns an :class:`EffectResult`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

from evaluation.errors import ConvergenceError, ParameterError
from evaluation.models.results import Result, package_versions

__all__ = ["EffectResult", "estimate_effect"]

METHODS = ("naive", "regression", "ipw", "aipw")
ESTIMANDS = ("ATE", "ATT", "ATO")
CONTRASTS = ("control", "all")
SMD_THRESHOLD = 0.1          # |SMD| above this is flagged as imbalanced
POSITIVITY_PS = 0.01         # propensity scores below this trigger a positivity warning
WEIGHT_SHARE = 0.1           # one row carrying more than this share of an arm's weight warns
_MAX_ITER = 100
_TOL = 1e-10

_METHOD_NAMES = {
    "naive": "naive difference of observed means",
    "regression": "regression standardisation (g-computation)",
    "ipw": "inverse probability weighting (Hajek, normalised weights)",
    "aipw": "augmented inverse probability weighting (doubly robust)",
}


# --------------------------------------------------------------------------- result
@dataclass
class EffectResult(Result):
    """Estimated intervention effects; see :func:`estimate_effect` for every column.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per contrast and measure (``contrast``, ``measure``, ``estimate``, ``se``,
        ``ci_lower``, ``ci_upper``, ``p_value``, ``n``).
    arms : pandas.DataFrame
        Potential-outcome mean (risk) per arm in the target population.
    balance : pandas.DataFrame
        Standardised mean differences before and after weighting, per contrast and
        covariate (design column).
    ess : pandas.Series
        Effective sample size of the balancing weights per arm (Kish).
    propensity_ : numpy.ndarray
        Estimated generalised propensity scores (rows x arms, arms in ``arms`` order), before
        truncation.
    weights_ : numpy.ndarray
        Balancing weight of each row for its own arm (after truncation), times the row's
        sampling weight when ``weights_col`` is given.
    influence_ : numpy.ndarray
        Influence-function values of the arm means (rows x arms), scaled so that
        var = sum(phi**2) / n**2 (summed within clusters first when clustered).
    """

    arms: pd.DataFrame = field(default_factory=pd.DataFrame)
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    ess: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    propensity_: np.ndarray | None = None
    weights_: np.ndarray | None = None
    influence_: np.ndarray | None = None
    treatment_: np.ndarray | None = None
    bootstrap_: pd.DataFrame | None = None

    # ------------------------------------------------------------------ renderings
    def plot(self, ax=None, measure: str | None = None):
        """Forest plot of the contrasts for one measure (default: the first) with CIs.

        Risk ratios are drawn on a log axis with a reference line at 1, differences with a
        reference line at 0. Returns the Axes.
        """
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        s = self.summary
        measure = measure if measure is not None else str(s["measure"].iloc[0])
        if measure not in set(s["measure"]):
            raise ParameterError(f"measure={measure!r} is not in the summary; choose one of "
                                 f"{sorted(set(s['measure']))}.")
        s = s[s["measure"] == measure]
        y = np.arange(len(s))[::-1]
        est = s["estimate"].to_numpy()
        lo, hi = s["ci_lower"].to_numpy(), s["ci_upper"].to_numpy()
        ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", capsize=3)
        ratio = measure == "risk_ratio"
        ax.axvline(1.0 if ratio else 0.0, color="grey", linestyle="--", linewidth=1)
        if ratio:
            from matplotlib.ticker import NullFormatter, ScalarFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(y)
        ax.set_yticklabels(s["contrast"].astype(str).tolist())
        ax.set_ylim(-0.6, len(s) - 0.4)
        ax.set_xlabel(f"{measure.replace('_', ' ')} ({self.metadata.get('estimand', '')}, "
                      f"{1 - self.metadata.get('alpha', 0.05):.0%} CI)")
        return ax

    def love_plot(self, ax=None, contrast: str | None = None):
        """Love plot: absolute SMD per covariate before and after weighting, with the 0.1
        threshold. ``contrast`` picks one contrast (default: the first). Returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        b = self.balance
        contrast = contrast if contrast is not None else str(b["contrast"].iloc[0])
        b = b[b["contrast"] == contrast]
        y = np.arange(len(b))[::-1]
        ax.scatter(b["smd_unadjusted"].abs(), y, marker="o", facecolors="none",
                   edgecolors="C0", label="unadjusted")
        ax.scatter(b["smd_adjusted"].abs(), y, marker="o", color="C1", label="weighted")
        ax.axvline(SMD_THRESHOLD, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(y)
        ax.set_yticklabels(b["covariate"].tolist())
        ax.set_xlabel("absolute standardised mean difference")
        ax.set_title(contrast)
        ax.legend()
        return ax

    def overlap_plot(self, ax=None, level: Any = None, bins: int = 40):
        """Distributions of the propensity score P(A = level | X) by observed arm.

        ``level`` defaults to the first non-control arm. Returns the Axes.
        """
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        labels = [str(v) for v in self.arms["arm"]]
        level = labels[1] if level is None else str(level)
        if level not in labels:
            raise ParameterError(f"level={level!r} is not an arm; arms are {labels}.")
        k = labels.index(level)
        ps = self.propensity_[:, k]
        edges = np.linspace(0, 1, bins + 1)
        for j, lab in enumerate(labels):
            ax.hist(ps[self.treatment_ == j], bins=edges, density=True, alpha=0.5,
                    label=f"{lab}")
        ax.set_xlabel(f"propensity score P(treatment = {level} | covariates)")
        ax.set_ylabel("density")
        ax.legend(title="observed arm")
        return ax

    def e_value(self) -> pd.DataFrame:
        """E-values (VanderWeele & Ding 2017) for each row of ``summary``.

        Returns
        -------
        pandas.DataFrame
            ``contrast``, ``measure``, ``rr`` (the estimate as a risk ratio), ``rr_limit``
            (the CI limit nearest the null, as a risk ratio), ``e_value`` (for the estimate)
            and ``e_value_ci`` (for that limit; 1 if the CI includes the null).

        Notes
        -----
        E = RR + sqrt(RR (RR - 1)) for RR >= 1, and the same for 1/RR when RR < 1.
        Risk ratios are used as they are. A risk difference is converted to a risk ratio
        through the arms' risks, holding the control arm's risk p0 fixed:
        RR = (p0 + RD) / p0 for the estimate and for the CI limit (so the point E-value equals
        that of the risk ratio). A mean difference d is standardised by the pooled
        within-arm SD of the outcome and converted with RR ~ exp(0.91 d) (VanderWeele & Ding's
        approximation for continuous outcomes).
        """
        rows = []
        arm_mu = dict(zip(self.arms["arm"].astype(str), self.arms["estimate"]))
        sd = self.metadata.get("outcome_sd_pooled", {})
        controls = {c["contrast"]: c["control"] for c in self.metadata.get("contrasts", [])}
        for _, r in self.summary.iterrows():
            control = controls[r["contrast"]]
            est, lo, hi = r["estimate"], r["ci_lower"], r["ci_upper"]
            if r["measure"] == "risk_ratio":
                rr, rlo, rhi = est, lo, hi
            elif r["measure"] == "risk_difference":
                p0 = arm_mu[control]
                rr, rlo, rhi = (p0 + est) / p0, (p0 + lo) / p0, (p0 + hi) / p0
            else:
                s = sd[r["contrast"]]
                rr, rlo, rhi = (np.exp(0.91 * v / s) for v in (est, lo, hi))
            if rlo <= 1 <= rhi:
                limit = 1.0
            else:
                limit = rlo if rr > 1 else rhi
            rows.append({"contrast": r["contrast"], "measure": r["measure"], "rr": rr,
                         "rr_limit": limit, "e_value": _e_value(rr),
                         "e_value_ci": _e_value(limit)})
        return pd.DataFrame(rows)

    def to_html(self, decimals: int = 3) -> str:
        """Summary, arm means and balance as HTML tables rounded to ``decimals``."""
        def table(df: pd.DataFrame) -> str:
            numeric = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
            return df.style.format({c: f"{{:.{decimals}f}}" for c in numeric},
                                   na_rep="").hide(axis="index").to_html()

        m = self.metadata
        head = (f"<p>{m.get('method_name', '')}; estimand {m.get('estimand', '')}; "
                f"n = {m.get('n', '')}; variance: {m.get('variance', '')}.</p>")
        return (head + "<h4>Effects</h4>" + table(self.summary) + "<h4>Arms</h4>"
                + table(self.arms) + "<h4>Balance</h4>" + table(self.balance))


@functools.cache
def _versions() -> dict[str, str]:
    """Package versions for ``metadata`` (looked up once per process: the lookup is slow)."""
    return package_versions("numpy", "pandas", "scipy", "patsy")


def _e_value(rr: float) -> float:
    """VanderWeele–Ding E-value of a risk ratio (1 for the null, NaN if undefined)."""
    if not np.isfinite(rr) or rr <= 0:
        return float("nan")
    rr = rr if rr >= 1 else 1 / rr
    return float(rr + np.sqrt(rr * (rr - 1)))


# --------------------------------------------------------------------------- input handling
def _check_columns(data: pd.DataFrame, named: dict[str, str | None]) -> None:
    for arg, col in named.items():
        if col is None:
            continue
        if col not in data.columns:
            raise ParameterError(f"{arg}={col!r} is not a column of data; available columns: "
                                 f"{', '.join(map(str, data.columns))}.")
        missing = data[col].isna().to_numpy()
        if missing.any():
            raise ParameterError(f"column {col!r} ({arg}) has {int(missing.sum())} missing "
                                 f"value(s), first at row {int(np.flatnonzero(missing)[0])}; "
                                 "drop or impute those rows first.")


def _is_binary(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return True
    if pd.api.types.is_numeric_dtype(s):
        return bool(np.isin(s.to_numpy(dtype=float), (0.0, 1.0)).all())
    return False


def _levels(s: pd.Series) -> list[Any]:
    """Treatment levels in their natural order (category order, else sorted)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.unique())
        return [c for c in s.cat.categories if c in present]
    values = pd.unique(s)
    try:
        return sorted(values.tolist())
    except TypeError:
        return sorted(values.tolist(), key=str)


def _design(data: pd.DataFrame, covariates: Any) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Design matrix with intercept, column names and the reference level of each factor."""
    if isinstance(covariates, str):
        import patsy

        try:
            dm = patsy.dmatrix(covariates, data, NA_action="raise", return_type="dataframe")
        except patsy.PatsyError as exc:
            raise ParameterError(f"covariates formula {covariates!r} could not be evaluated: "
                                 f"{exc}. Use the right-hand side only, e.g. "
                                 "'age + C(placement_type)'.") from exc
        if "Intercept" not in dm.columns:
            raise ParameterError("covariates formula must keep the intercept (remove '- 1' / "
                                 "'+ 0'); the models always include one.")
        refs: dict[str, Any] = {}
        for term_codings in dm.design_info.term_codings.values():
            for sub in term_codings:
                for factor, cm in sub.contrast_matrices.items():
                    zero = np.flatnonzero(~np.asarray(cm.matrix).any(axis=1))
                    cats = dm.design_info.factor_infos[factor].categories
                    if len(zero) == 1:
                        refs[factor.name()] = cats[int(zero[0])]
        names = [c for c in dm.columns if c != "Intercept"]
        x = dm[["Intercept", *names]].to_numpy(dtype=float)
        return x, names, refs
    covariates = list(covariates)
    if len(set(covariates)) != len(covariates):
        raise ParameterError(f"covariates has duplicate names: {covariates}.")
    _check_columns(data, {f"covariates[{i}]": c for i, c in enumerate(covariates)})
    blocks, names, refs = [np.ones((len(data), 1))], [], {}
    for col in covariates:
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            blocks.append(s.to_numpy(dtype=float)[:, None])
            names.append(col)
        elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s) \
                or pd.api.types.is_string_dtype(s):
            levels = _levels(s)
            if len(levels) < 2:
                raise ParameterError(f"covariate {col!r} has a single level; drop it.")
            refs[col] = levels[0]
            codes = pd.Categorical(s, categories=levels).codes
            blocks.append((codes[:, None] == np.arange(1, len(levels))[None, :]).astype(float))
            names.extend(f"{col}[{lev}]" for lev in levels[1:])
        else:
            raise ParameterError(f"covariate {col!r} has dtype {s.dtype}, which is neither "
                                 "numeric, boolean nor categorical; convert it first.")
    x = np.hstack(blocks)
    if not np.isfinite(x).all():
        raise ParameterError("covariates must be finite (no inf values).")
    const = np.ptp(x[:, 1:], axis=0) == 0 if len(names) else np.array([], dtype=bool)
    if const.any():
        raise ParameterError(f"covariate column(s) {[names[j] for j in np.flatnonzero(const)]} "
                             "are constant in data; drop them (they are not identifiable).")
    return x, names, refs


def _sampling_weights(data: pd.DataFrame, weights_col: str) -> np.ndarray:
    """The case/sampling weights of ``weights_col`` (already checked for missing values)."""
    s = data[weights_col]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        raise ParameterError(f"weights_col {weights_col!r} must be numeric (non-negative "
                             f"case or sampling weights), got dtype {s.dtype}.")
    sw = s.to_numpy(dtype=float)
    bad = ~np.isfinite(sw) | (sw < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"weights_col {weights_col!r} must be finite and non-negative; "
                             f"{int(bad.sum())} value(s) are not, first at row {i} (value "
                             f"{float(sw[i])}). Fix or drop those rows.")
    if not sw.sum() > 0:
        raise ParameterError(f"weights_col {weights_col!r} is 0 in every row; weights must "
                             "have a positive total.")
    return sw


# --------------------------------------------------------------------------- model fitting
def _spd_solver(a: np.ndarray):
    """Solver of a x = b for a symmetric positive (semi)definite a: Cholesky, or the
    pseudo-inverse (minimum-norm solution) if a is singular. Factorises once."""
    try:
        factor = linalg.cho_factor(a, check_finite=False)
    except linalg.LinAlgError:
        inv = np.linalg.pinv(a, rcond=1e-13, hermitian=True)
        return lambda b: inv @ b
    return lambda b: linalg.cho_solve(factor, b, check_finite=False)


def _solve_spd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _spd_solver(a)(b)


def _fit_glm(x: np.ndarray, y: np.ndarray, binary: bool, sw: np.ndarray,
             what: str = "outcome model", warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Linear (weighted least squares) or logistic (weighted ML by Newton/IRLS) regression
    with case weights ``sw``; returns coef and the 'bread' matrix X' S V X at the estimate
    (S = diag(sw), V = m(1 - m) for logistic, 1 for linear). ``warn=False`` silences the
    separation warning."""
    if not binary:
        xtx = (x * sw[:, None]).T @ x
        return _solve_spd(xtx, x.T @ (sw * y)), xtx
    beta = np.zeros(x.shape[1])
    mean = (sw * y).sum() / sw.sum()
    if 0 < mean < 1:
        beta[0] = np.log(mean / (1 - mean))
    m = _expit(x @ beta)
    dev = np.inf
    done, separated = False, False
    for _ in range(_MAX_ITER + 1):
        info = (x * (sw * m * (1 - m))[:, None]).T @ x
        if done:
            if separated and warn:
                warnings.warn(f"logistic {what}: fitted probabilities numerically 0 or 1 "
                              "occurred (separation: a covariate pattern where everyone or no "
                              "one has the outcome); fitted values there are 0 or 1. Merge "
                              "sparse levels or simplify the model.", UserWarning, stacklevel=4)
            return beta, info
        step = _solve_spd(info, x.T @ (sw * (y - m)))
        beta = beta + step
        if not np.isfinite(beta).all():
            break
        eta = x @ beta
        m = _expit(eta)
        new_dev = 2 * float(np.sum(sw * (np.logaddexp(0, eta) - y * eta)))
        small_step = np.max(np.abs(step)) < _TOL * (1 + np.max(np.abs(beta)))
        # R glm's rule |dev - dev_old| / (|dev| + 0.1) < eps: also ends (quasi-)separated fits
        fitted = m[sw > 0]
        separated = (not small_step and abs(new_dev - dev) / (abs(new_dev) + 0.1) < 1e-14
                     and (fitted.min() < 1e-10 or fitted.max() > 1 - 1e-10))
        dev = new_dev
        done = small_step or separated
    raise ConvergenceError(f"the logistic {what} did not converge; there may be (quasi-)complete "
                           "separation (a covariate level where everyone or no one has the "
                           "outcome). Merge sparse levels or drop covariates.")


def _expit(z: np.ndarray) -> np.ndarray:
    return special.expit(z)


def _softmax_ps(x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    eta = np.column_stack([np.zeros(len(x)), x @ gamma])
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def _fit_propensity(x: np.ndarray, a: np.ndarray, k: int, sw: np.ndarray,
                    warn: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multinomial logistic regression of the arm code (0 = reference) on x by Newton,
    weighted ML with case weights ``sw``. ``warn=False`` silences the separation warnings
    (the naive method fits the model for diagnostics only).

    Returns gamma (p x (k-1)), fitted probabilities (n x k) and the (weighted) Fisher
    information (blocks ordered arm 1 coefficients, arm 2 coefficients, ...). For k = 2 this
    is ordinary logistic regression.
    """
    n, p = x.shape
    if k == 2:
        gamma, info = _fit_glm(x, (a == 1).astype(float), True, sw, "propensity model",
                               warn=warn)
        eta = x @ gamma
        return gamma[:, None], np.column_stack([_expit(-eta), _expit(eta)]), info
    q = (k - 1) * p
    ind = a[:, None] == np.arange(1, k)[None, :]
    gamma = np.zeros((p, k - 1))
    share = np.bincount(a, weights=sw, minlength=k) / sw.sum()
    gamma[0] = np.log(share[1:] / share[0])

    def information(e: np.ndarray) -> np.ndarray:
        info = np.empty((q, q))
        for j in range(1, k):
            for l in range(j, k):
                w = sw * e[:, j] * ((j == l) - e[:, l])
                blk = (x * w[:, None]).T @ x
                info[(j - 1) * p:j * p, (l - 1) * p:l * p] = blk
                info[(l - 1) * p:l * p, (j - 1) * p:j * p] = blk.T
        return info

    dev = np.inf
    rows = np.arange(n)
    for _ in range(_MAX_ITER):
        e = _softmax_ps(x, gamma)
        score = (x.T @ (sw[:, None] * (ind - e[:, 1:]))).T.reshape(q)
        step = _solve_spd(information(e), score).reshape(k - 1, p).T
        gamma = gamma + step
        if not np.isfinite(gamma).all():
            break
        e = _softmax_ps(x, gamma)
        new_dev = -2 * float((sw * np.log(np.maximum(e[rows, a], 1e-300))).sum())
        small_step = np.max(np.abs(step)) < _TOL * (1 + np.max(np.abs(gamma)))
        # as R glm: a negligible change of deviance ends a (quasi-)separated fit
        fitted = e[sw > 0]
        separated = (abs(new_dev - dev) / (abs(new_dev) + 0.1) < 1e-14
                     and (fitted.min() < 1e-10 or fitted.max() > 1 - 1e-10))
        dev = new_dev
        if small_step or separated:
            if separated and warn:
                warnings.warn("propensity model: fitted probabilities numerically 0 or 1 "
                              "occurred (separation: a covariate pattern occurs in only some "
                              "arms), so positivity fails for those rows. Merge sparse levels, "
                              "drop the covariate, restrict the population or use "
                              "estimand='ATO'.", UserWarning, stacklevel=4)
            return gamma, e, information(e)
    raise ConvergenceError("the propensity-score model did not converge; a covariate may "
                           "perfectly predict treatment (no overlap). Check the overlap, merge "
                           "sparse levels or drop that covariate.")


# --------------------------------------------------------------------------- estimation core
def _balancing(e: np.ndarray, a: np.ndarray, estimand: str, target: int
               ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Tilting function h (n), weights w (n x k) with w[:, j] = h / e_j (ATT: e_t / e_j),
    and their derivatives with respect to the propensity scores.

    Returns h, w, dh (list over arms l of dh/de_l) and dw (n x k x k, dw[:, j, l] = dw_j/de_l).
    """
    n, k = e.shape
    dw = np.zeros((n, k, k))
    dh = [np.zeros(n) for _ in range(k)]
    if estimand == "ATE":
        h = np.ones(n)
        w = 1.0 / e
        for j in range(k):
            dw[:, j, j] = -w[:, j] / e[:, j]
    elif estimand == "ATT":
        h = (a == target).astype(float)
        w = e[:, [target]] / e
        for j in range(k):
            dw[:, j, target] += 1.0 / e[:, j]
            dw[:, j, j] -= w[:, j] / e[:, j]
    else:  # ATO: generalised overlap weights, h = 1 / sum_l 1/e_l (binary: e (1 - e))
        h = 1.0 / (1.0 / e).sum(axis=1)
        w = h[:, None] / e
        for l in range(k):
            dh[l] = h ** 2 / e[:, l] ** 2
        for j in range(k):
            for l in range(k):
                dw[:, j, l] = dh[l] / e[:, j] - (j == l) * w[:, j] / e[:, j]
    return h, w, dh, dw


def _core(x: np.ndarray, a: np.ndarray, y: np.ndarray, sw: np.ndarray, k: int, binary: bool,
          method: str, estimand: str, target: int, truncate: float | None, want_if: bool
          ) -> dict[str, Any]:
    """Arm means (and their influence functions) for one data set with case weights sw.

    Every estimating equation (propensity model, outcome models, arm means) is weighted by
    sw, so the influence functions are sw times the unweighted ones with weighted
    derivatives (survey-style linearisation).
    """
    n, p = x.shape
    if (np.bincount(a, weights=sw, minlength=k) <= 0).any():
        raise ParameterError("an arm has no rows (or only rows of weight 0) in the "
                             "(re)sampled data.")
    _, e_raw, info = _fit_propensity(x, a, k, sw, warn=method != "naive")
    e = e_raw
    clipped = np.zeros_like(e_raw, dtype=bool)
    if truncate is not None:
        if k == 2:  # bound into [t, 1 - t]; the two arms' scores still sum to one
            out_of_range = (e_raw[:, 1] < truncate) | (e_raw[:, 1] > 1 - truncate)
            clipped = np.column_stack([out_of_range, out_of_range])
            e1 = np.clip(e_raw[:, 1], truncate, 1 - truncate)
            e = np.column_stack([1 - e1, e1])
        else:
            clipped = e_raw < truncate
            e = np.maximum(e_raw, truncate)
    h, w, dh, dw = _balancing(e, a, estimand, target)
    ind = a[:, None] == np.arange(k)[None, :]
    mu = np.empty(k)
    m = np.zeros((n, k))
    out: dict[str, Any] = {"e": e_raw, "e_used": e, "h": h, "w": w, "clipped": clipped}
    betas, breads = [], []
    if method in ("regression", "aipw"):
        for j in range(k):
            r = ind[:, j]
            beta, bread = _fit_glm(x[r], y[r], binary, sw[r])
            betas.append(beta)
            breads.append(bread)
            eta = x @ beta
            m[:, j] = _expit(eta) if binary else eta
    sh = sw * h
    for j in range(k):
        r = ind[:, j]
        if method == "naive":
            mu[j] = (sw[r] * y[r]).sum() / sw[r].sum()
        elif method == "regression":
            mu[j] = (sh * m[:, j]).sum() / sh.sum()
        elif method == "ipw":
            swr = sw[r] * w[r, j]
            mu[j] = (swr * y[r]).sum() / swr.sum()
        else:
            mu[j] = ((sh * m[:, j]).sum() + (sw[r] * w[r, j] * (y[r] - m[r, j])).sum()) \
                / sh.sum()
    out["mu"] = mu
    if not want_if:
        return out
    # influence functions from the stacked estimating equations (M-estimation):
    # phi = sw (psi_mu + G_gamma' IF_gamma + G_beta' IF_beta) / D, all means over n rows,
    # G and D weighted by sw
    phi = np.empty((n, k))
    de = np.zeros((n, k, k - 1))          # d e_l / d (eta of arm c), c = 1..k-1, as x-coef
    for c in range(1, k):
        de[:, :, c - 1] = e_raw * ((np.arange(k)[None, :] == c) - e_raw[:, [c]])
    de[clipped] = 0.0
    ps_solve = _spd_solver(info / n)
    for j in range(k):
        r = ind[:, j].astype(float)
        if method == "naive":
            psi, dpsi_de, denom = r * (y - mu[j]), None, (sw * r).mean()
        elif method == "regression":
            psi = h * (m[:, j] - mu[j])
            dpsi_de = [sw * dh[l] * (m[:, j] - mu[j]) for l in range(k)]
            denom = sh.mean()
        elif method == "ipw":
            psi = r * w[:, j] * (y - mu[j])
            dpsi_de = [sw * r * dw[:, j, l] * (y - mu[j]) for l in range(k)]
            denom = (sw * r * w[:, j]).mean()
        else:
            resid = y - m[:, j]
            psi = h * (m[:, j] - mu[j]) + r * w[:, j] * resid
            dpsi_de = [sw * (dh[l] * (m[:, j] - mu[j]) + r * dw[:, j, l] * resid)
                       for l in range(k)]
            denom = sh.mean()
        total = psi.copy()
        if dpsi_de is not None and (estimand == "ATO" or method != "regression"):
            # chain rule through e_l(gamma): coefficient of x_i for each gamma block c
            coef = np.zeros((n, k - 1))
            for l in range(k):
                coef += dpsi_de[l][:, None] * de[:, l, :]
            g_gamma = (x.T @ coef / n).T.reshape((k - 1) * p)          # blocks by arm c
            v = ps_solve(g_gamma).reshape(k - 1, p).T                  # p x (k-1)
            total += ((ind[:, 1:] - e_raw[:, 1:]) * (x @ v)).sum(axis=1)
        if method in ("regression", "aipw"):
            vv = m[:, j] * (1 - m[:, j]) if binary else np.ones(n)
            hw = h - r * w[:, j] if method == "aipw" else h
            g_beta = x.T @ (sw * hw * vv) / n
            u = _solve_spd(breads[j] / n, g_beta)
            total += r * (y - m[:, j]) * (x @ u)
        phi[:, j] = sw * total / denom
    out["phi"] = phi
    return out


def _variance(phi: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Covariance matrix of the estimates whose influence functions are the columns of phi."""
    n = len(phi)
    if cluster is not None:
        phi = np.column_stack([np.bincount(cluster, weights=phi[:, j])
                               for j in range(phi.shape[1])])
    return phi.T @ phi / n ** 2


_BOOT: tuple | None = None      # data of the bootstrap, set once per worker process


def _boot_init(shared: tuple) -> None:
    global _BOOT
    _BOOT = shared


def _bootstrap_one(seed_seq: np.random.SeedSequence) -> np.ndarray:
    (x, a, y, sw, k, binary, method, estimand, target, truncate, cluster) = _BOOT
    rng = np.random.default_rng(seed_seq)
    if cluster is None:
        idx = rng.integers(0, len(a), len(a))
    else:
        n_cl = int(cluster.max()) + 1
        order = np.argsort(cluster, kind="stable")
        starts = np.searchsorted(cluster[order], np.arange(n_cl + 1))
        pick = rng.integers(0, n_cl, n_cl)
        sizes = starts[pick + 1] - starts[pick]
        offs = np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        idx = order[np.arange(sizes.sum()) + offs]
    try:
        return _core(x[idx], a[idx], y[idx], sw[idx], k, binary, method, estimand, target,
                     truncate, want_if=False)["mu"]
    except (ConvergenceError, ParameterError):
        return np.full(k, np.nan)


# --------------------------------------------------------------------------- diagnostics
def _weighted_var(v: np.ndarray, sw: np.ndarray, axis: int = 0) -> np.ndarray:
    """Variance with case weights sw and the 'reliability' divisor sum sw - sum sw^2 / sum sw
    (the usual n - 1 when every weight is 1; cobalt's choice for sampling weights)."""
    s1 = sw.sum()
    mean = np.tensordot(sw, v, axes=(0, axis)) / s1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.tensordot(sw, (v - mean) ** 2, axes=(0, axis)) / (s1 - (sw ** 2).sum() / s1)


def _balance_table(x: np.ndarray, names: list[str], a: np.ndarray, sw: np.ndarray,
                   w_obs: np.ndarray, pairs: list[tuple[int, int]], labels: list[str],
                   estimand: str, target: int) -> pd.DataFrame:
    """SMDs before (sampling weights sw only) and after weighting (w_obs, the product of
    sampling and balancing weights), both standardised by the same sw-weighted SD: the
    pooled SD of the pair's arms (ATE, ATO) or the SD of the target arm (ATT). Where that
    is 0 or undefined (an arm with one row of positive weight), the SD of all rows (ATT) or
    of the pair's rows (ATE, ATO) is used instead, as cobalt's zero-SD fallback."""
    rows = []
    xs = x[:, 1:]
    if estimand == "ATT":
        rg = a == target
        sd_att = np.sqrt(_weighted_var(xs[rg], sw[rg]))
        sd_all = np.sqrt(_weighted_var(xs, sw))
        sd_att = np.where(np.isfinite(sd_att) & (sd_att > 0), sd_att, sd_all)
    for t, c in pairs:
        rt, rc = a == t, a == c
        mt = sw[rt] @ xs[rt] / sw[rt].sum()
        mc = sw[rc] @ xs[rc] / sw[rc].sum()
        if estimand == "ATT":
            sd = sd_att
        else:
            sd = np.sqrt((_weighted_var(xs[rt], sw[rt]) + _weighted_var(xs[rc], sw[rc])) / 2)
            bad = ~(np.isfinite(sd) & (sd > 0))
            if bad.any():       # both arms constant (or one positive-weight row): pair's SD
                rp = rt | rc
                sd = np.where(bad, np.sqrt(_weighted_var(xs[rp], sw[rp])), sd)
        wt, wc = w_obs[rt], w_obs[rc]
        wmt = wt @ xs[rt] / wt.sum()
        wmc = wc @ xs[rc] / wc.sum()
        vt = wt @ (xs[rt] - wmt) ** 2 / wt.sum()
        vc = wc @ (xs[rc] - wmc) ** 2 / wc.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            smd_u = np.where(sd > 0, (mt - mc) / sd, 0.0)
            smd_a = np.where(sd > 0, (wmt - wmc) / sd, 0.0)
            vr = vt / vc
        for i, nm in enumerate(names):
            rows.append({"contrast": f"{labels[t]} vs {labels[c]}", "covariate": nm,
                         "smd_unadjusted": float(smd_u[i]), "smd_adjusted": float(smd_a[i]),
                         "variance_ratio_adjusted": float(vr[i]),
                         "imbalanced": bool(abs(smd_a[i]) > SMD_THRESHOLD)})
    return pd.DataFrame(rows, columns=["contrast", "covariate", "smd_unadjusted",
                                       "smd_adjusted", "variance_ratio_adjusted", "imbalanced"])


def _positivity_warnings(e: np.ndarray, a: np.ndarray, w_obs: np.ndarray, estimand: str,
                         target: int, labels: list[str], truncate: float | None) -> list[str]:
    msgs = []
    if estimand != "ATO":
        for j, lab in enumerate(labels):
            if estimand == "ATT" and j == target:
                continue
            rows = (a == target) if estimand == "ATT" else np.ones(len(a), dtype=bool)
            low = e[rows, j] < POSITIVITY_PS
            if low.any():
                msgs.append(
                    f"positivity: {int(low.sum())} row(s) have an estimated propensity score "
                    f"below {POSITIVITY_PS} for arm {lab!r} (minimum {e[rows, j].min():.2g}); "
                    "their weights are extreme and estimates unstable. Consider "
                    "truncate=0.01 (reported in metadata), estimand='ATO' (overlap weights) "
                    "or restricting the population to where both arms occur."
                    + (f" (truncate={truncate} is in use.)" if truncate is not None else ""))
    for j, lab in enumerate(labels):
        wj = w_obs[a == j]
        share = wj.max() / wj.sum()
        if share > WEIGHT_SHARE and len(wj) >= 20:
            msgs.append(f"extreme weights: one row carries {share:.0%} of the total weight of "
                        f"arm {lab!r} (effective sample size {wj.sum() ** 2 / (wj ** 2).sum():.1f}"
                        f" of {len(wj)}); check overlap with overlap_plot() and consider "
                        "truncate= or estimand='ATO'.")
    return msgs


# --------------------------------------------------------------------------- public function
def estimate_effect(data: pd.DataFrame, treatment_col: str, outcome_col: str,
                    covariates: Sequence[str] | str, method: str = "aipw",
                    estimand: str = "ATE", treated: Any = None, control: Any = None,
                    alpha: float = 0.05, *, cluster_col: str | None = None,
                    bootstrap: int = 0, seed: int | None = None, n_jobs: int = 1,
                    truncate: float | None = None, outcome_type: str | None = None,
                    contrasts: str = "control", weights_col: str | None = None
                    ) -> EffectResult:
    """Estimate the effect of an intervention (treatment arm) on an outcome.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode (unit of analysis).
    treatment_col : str
        The arm: 0/1 or boolean, or a categorical/string column with two or more levels.
    outcome_col : str
        Outcome: 0/1 or boolean (binary) or numeric (continuous).
    covariates : list of str or str
        Confounders. A list of column names (numeric and boolean columns enter linearly;
        string and categorical columns are dummy coded against their *first* level: the
        first category of a pandas categorical, else the first in sorted order, as R's
        ``factor``), or a patsy right-hand-side formula such as
        ``"bs(age, df=4) + I(age**2) + C(placement_type, Treatment('FH')) + sex"``
        (patsy's own reference rules). Reference levels are in ``metadata``.
    method : {"aipw", "ipw", "regression", "naive"}, default "aipw"
        ``naive``: difference of observed arm means (no adjustment; the same for every
        estimand). ``regression``: g-computation, averaging per-arm outcome-model predictions
        over the target population. ``ipw``: Hajek (normalised) inverse probability weighting.
        ``aipw``: augmented IPW, doubly robust.
    estimand : {"ATE", "ATT", "ATO"}, default "ATE"
        Average effect in everyone (ATE), in those who received ``treated`` (ATT), or in the
        overlap population (ATO, overlap weights; with more than two arms the generalised
        overlap weights h = 1 / sum_l 1/e_l of Li & Li 2019).
    treated, control : optional
        Levels of ``treatment_col``. ``control`` defaults to 0/False for a binary column, else
        the first level (category order or sorted). Contrasts are every other level versus
        ``control``, or only ``treated`` versus ``control`` when ``treated`` is given. ATT
        with more than two arms needs ``treated`` (the population the effect refers to).
    alpha : float, default 0.05
        Confidence intervals have level 1 - alpha.
    cluster_col : str, optional
        Cluster (e.g. child id for children with several episodes): influence functions are
        summed within clusters before squaring; the bootstrap resamples clusters.
    bootstrap : int, default 0
        Number of bootstrap replicates. If > 0, ``se`` is the bootstrap SD (of log RR for
        risk ratios), the CI the percentile interval and the p-value Wald with that SE; the
        influence-function summary stays in ``metadata['summary_influence']``.
    seed : int, optional
        Seed of the bootstrap (replicate r uses ``SeedSequence(seed).spawn``; results do not
        depend on ``n_jobs``).
    n_jobs : int, default 1
        Processes for the bootstrap (``concurrent.futures``).
    truncate : float, optional
        Bound the estimated propensity scores below at ``truncate`` (for two arms: into
        [truncate, 1 - truncate]) before forming weights; the number of truncated values is
        reported in ``metadata['truncated']``. Truncated scores are treated as fixed in the
        influence functions.
    outcome_type : {"binary", "continuous"}, optional
        Default: binary if the outcome is boolean or only 0/1, else continuous.
    contrasts : {"control", "all"}, default "control"
        Which contrasts to report. ``"control"``: every other arm versus ``control`` (or only
        ``treated`` versus ``control`` when ``treated`` is given). ``"all"``: every pair of
        arms, as (later level) vs (earlier level) in level order with the control first,
        e.g. for FH (control), HVB, SIS: ``HVB vs FH``, ``SIS vs FH``, ``SIS vs HVB``. With
        ``estimand="ATT"``, ``treated`` names the target population and every pair is
        estimated in it; with ATE or ATO, ``treated`` together with ``"all"`` is an error.
        ``summary``, ``balance``, :meth:`EffectResult.e_value`, the forest plot, the
        bootstrap and ``metadata['contrasts']`` follow the pairs.
    weights_col : str, optional
        Non-negative finite case or sampling weights (e.g. inverse sampling probabilities of
        a survey of files). Every model and mean is weighted: the propensity model is a
        weighted ML fit (as R ``glm``/``nnet::multinom`` with ``weights=``), the outcome
        models weighted least squares or weighted logistic ML, the arm means weighted means;
        standard errors are the survey-style linearisation (each row's score multiplied by
        its weight; cluster-robust as without weights). Balance, ``ess`` and ``weights_`` use
        the product of the sampling and the balancing weights; the bootstrap resamples rows
        (or clusters) with their weights. Rows of weight 0 contribute nothing but are
        counted in ``n`` and ``metadata['n_clusters']`` (not in the positivity warnings or
        the pooled outcome SD of the E-values). All weights 1 give exactly the unweighted
        results.

    Returns
    -------
    EffectResult
        ``summary``: one row per contrast and measure with columns

        - ``contrast``: ``"<treated> vs <control>"`` (the later and the earlier level of
          the pair for ``contrasts="all"``)
        - ``measure``: ``risk_difference`` and ``risk_ratio`` (binary outcome) or
          ``mean_difference`` (continuous)
        - ``estimate``: the difference, or the ratio
        - ``se``: standard error of the difference; for ``risk_ratio`` of log(RR)
        - ``ci_lower``, ``ci_upper``: estimate -+ z se; for ratios exp(log RR -+ z se)
        - ``p_value``: two-sided Wald p-value (null 0, or log RR = 0)
        - ``n``: rows in the two arms of the contrast

        ``arms``: ``arm``, ``estimate`` (potential-outcome mean or risk in the target
        population), ``se``, ``ci_lower``, ``ci_upper``, ``n`` (rows), ``ess``.
        ``balance``: ``contrast``, ``covariate`` (design column), ``smd_unadjusted``,
        ``smd_adjusted`` (weighted; both divided by the pooled SD of the pair's arms, for
        ATT by the SD of the target arm, see Notes), ``variance_ratio_adjusted`` (weighted
        treated / control variance), ``imbalanced`` (|smd_adjusted| > 0.1). ``ess``: Kish
        effective sample size per arm. ``metadata``: method, estimand, alpha, n, levels,
        reference levels, truncation, variance type, clusters, ``contrast_set``,
        ``contrasts`` (pairs), ``weights_col``, ``sum_weights``, versions.

    Raises
    ------
    ParameterError
        If a column is missing or has missing values, an option is unknown, a level is not
        in the treatment column, the outcome is not binary when said to be, an arm is
        empty (or has only rows of weight 0), ``treated`` is combined with
        ``contrasts="all"`` for ATE or ATO, ``weights_col`` is not numeric or has a
        missing, negative or infinite value (the message names the first such row), or
        ``cluster_col`` has fewer than two clusters (with positive weight).
    ConvergenceError
        If the propensity or a logistic outcome model does not converge (separation).

    Warns
    -----
    UserWarning
        On positivity problems: (truncated) propensity scores below 0.01 for an arm that is
        weighted by 1/e (ATE: every arm; ATT: the comparison arms, among the treated), or one
        row carrying more than 10 % of an arm's weight (arms of 20 rows or more), or a
        separated propensity model; none of these for ``method="naive"``, which uses no
        propensity score. Also when a covariate column is constant within an arm whose
        outcome model is fitted.

    Notes
    -----
    Propensity model: logistic (two arms) or multinomial logistic (more arms; generalised
    propensity score e_j(x)), fitted by Newton's method on the design [1, X]. Outcome
    model: fitted separately in each arm on [1, X] (equivalent to a full treatment x covariate
    interaction), logistic for binary and linear for continuous outcomes; predictions
    m_j(x) are made for every row.

    With a tilting function h (ATE: 1; ATT: 1{A = t}; ATO: 1 / sum_l 1/e_l) and weights
    w_j = h / e_j (ATT: e_t / e_j), the arm mean mu_j solves sum_i psi_i = 0 with

    - naive: psi = 1{A=j} (Y - mu)
    - regression: psi = h (m_j(X) - mu)
    - ipw: psi = 1{A=j} w_j (Y - mu)
    - aipw: psi = h (m_j(X) - mu) + 1{A=j} w_j (Y - m_j(X))

    Standard errors come from the stacked estimating equations (M-estimation sandwich) of
    the propensity model, the per-arm outcome models and mu: the influence function is
    phi = (psi + G_gamma' I_gamma^-1 s_gamma + G_beta' I_beta^-1 s_beta) / D with
    G the mean derivatives of psi, s the model scores, I their information matrices and
    D the mean of -dpsi/dmu; var = sum(phi^2) / n^2 (HC0-type, no small-sample factor),
    with phi summed within clusters first. Differences of a pair of arms (t, c) use
    phi_t - phi_c, log risk ratios phi_t / mu_t - phi_c / mu_c (delta method).

    With sampling weights s_i (``weights_col``) every estimating equation is multiplied by
    s_i: the models are weighted ML / least-squares fits, mu_j the correspondingly weighted
    means, G, I and D weighted means of the derivatives, and phi_i = s_i (psi_i + ...) / D
    (the linearisation variance of a with-replacement design with the rows, or the
    clusters, as primary sampling units; no n / (n - 1) factor). With integer weights this
    equals the row-clustered analysis of the data with each row repeated s_i times.

    Balance, ``ess`` and ``weights_`` use the weights w_j of the estimand (the IPW weights;
    also reported, as a diagnostic, for the naive and regression methods, which do not use
    them; treated ATT weights are 1). Each SMD is (mean_t - mean_c) / s*, with the same
    standardiser s* before and after weighting, computed from the unweighted arms and
    chosen by the estimand as cobalt's default ``s.d.denom`` is: for ATE and ATO the pooled
    SD sqrt((s_t^2 + s_c^2) / 2) of the pair's two arms; for ATT the SD s_g of the target
    (treated) arm, ``metadata['att_population']``, for every pair (the population the
    weights make the arms resemble). Where that SD is 0 or undefined (a covariate constant
    in the target arm, or in both arms of the pair; an arm with one row of positive weight)
    the SD over all rows (ATT) or over the pair's rows (ATE, ATO) is used instead, as
    cobalt's fallback for a zero SD, so a covariate that separates the arms shows a large
    SMD rather than 0.
    ``variance_ratio_adjusted`` uses weighted variances. With sampling weights, the
    unadjusted means and the SDs use the sampling weights (variance divisor
    sum s - sum s^2 / sum s, as cobalt's ``s.weights``), the adjusted means, ``ess`` and
    ``weights_`` the product of sampling and balancing weights.

    ``method="naive"`` uses no model, but the propensity model is still fitted for the
    balance table, ``ess``, ``weights_``, ``propensity_`` and :meth:`EffectResult.overlap_plot`
    (which show how far the unadjusted comparison is from balance). Its positivity,
    extreme-weight and separation warnings are not raised then, as they concern weights the
    naive estimate does not use; a propensity model that does not converge still raises
    :class:`~evaluation.errors.ConvergenceError`.

    Fits that end in separation (fitted probabilities numerically 0 or 1) stop as R's
    ``glm`` does, on a negligible change of deviance, with a warning. Under near-violations
    of positivity the IF standard errors of 1/e-weighted estimands can be far too small;
    prefer ATO, ATT or truncation then (the warnings say so).

    Validated against base R 4.2.2 (``glm`` plus the formulas above written out,
    ``tests/reference/effects_reference.R``, two arms for every method x estimand x outcome
    type, three arms with a Newton-fitted multinomial model for IPW and AIPW): arm means,
    contrasts and SEs (plain and clustered) agree to 1e-6 (observed: 1e-13). A simulation
    with a closed-form truth checks bias, the SEs against the sampling SD and that the naive
    contrast is biased (``tests/test_effects.py``). Sampling weights: validated against R
    4.2.2 (``tests/reference/effects_weights_reference.R``: ``glm(quasibinomial,
    weights=)``, ``nnet::multinom(weights=)``, the weighted influence functions written out
    and, as a check, the numerically differentiated stacked sandwich) for two and three
    arms, naive, regression, IPW and AIPW, ATE and ATT, binary and continuous outcomes,
    integer and non-integer weights, every pair of arms: estimates and SEs (plain and
    clustered) agree to 1e-6; with integer weights the results equal those of repeated rows
    (``tests/test_effects_pairs_weights.py``).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> n = 1000
    >>> age = rng.uniform(0, 17, n)
    >>> hvb = rng.random(n) < 1 / (1 + np.exp(-(age - 10) / 3))
    >>> breakdown = rng.random(n) < 0.1 + 0.01 * age + 0.1 * hvb
    >>> df = pd.DataFrame({"hvb": hvb, "breakdown": breakdown, "age": age})
    >>> fit = estimate_effect(df, "hvb", "breakdown", ["age"])
    >>> fit.summary[["contrast", "measure"]].values.tolist()
    [['True vs False', 'risk_difference'], ['True vs False', 'risk_ratio']]

    Every pair of three placement types (FH is the control, first in sorted order):

    >>> u = rng.random(n)
    >>> df["placement"] = np.where(u < 0.5, "FH", np.where(u < 0.8, "HVB", "SIS"))
    >>> fit3 = estimate_effect(df, "placement", "breakdown", ["age"], contrasts="all")
    >>> fit3.summary["contrast"].unique().tolist()
    ['HVB vs FH', 'SIS vs FH', 'SIS vs HVB']

    Sampling weights (say children under 10 were sampled with probability 1/2):

    >>> df["w"] = np.where(df["age"] < 10, 2.0, 1.0)
    >>> wfit = estimate_effect(df, "hvb", "breakdown", ["age"], weights_col="w")
    >>> wfit.metadata["weights_col"], wfit.metadata["sum_weights"] == float(df["w"].sum())
    ('w', True)
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}; "
                             "read the file with evaluation.data.io first.")
    if method not in METHODS:
        raise ParameterError(f"method={method!r} is unknown; choose one of {METHODS}.")
    if estimand not in ESTIMANDS:
        raise ParameterError(f"estimand={estimand!r} is unknown; choose one of {ESTIMANDS}.")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ParameterError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}.")
    if truncate is not None and not (isinstance(truncate, (int, float)) and 0 < truncate < 0.5):
        raise ParameterError(f"truncate must be a number in (0, 0.5), e.g. 0.01, got "
                             f"{truncate!r}.")
    if not (isinstance(bootstrap, (int, np.integer)) and bootstrap >= 0) or bootstrap == 1:
        raise ParameterError(f"bootstrap must be 0 (none) or an integer >= 2, got {bootstrap!r}.")
    if not (isinstance(n_jobs, (int, np.integer)) and n_jobs >= 1):
        raise ParameterError(f"n_jobs must be a positive integer, got {n_jobs!r}.")
    if contrasts not in CONTRASTS:
        raise ParameterError(f"contrasts={contrasts!r} is unknown; choose one of {CONTRASTS} "
                             "('control': every arm versus the control; 'all': every pair of "
                             "arms).")
    if outcome_type not in (None, "binary", "continuous"):
        raise ParameterError(f"outcome_type={outcome_type!r} is unknown; choose 'binary', "
                             "'continuous' or None (auto).")
    _check_columns(data, {"treatment_col": treatment_col, "outcome_col": outcome_col,
                          "cluster_col": cluster_col, "weights_col": weights_col})
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to estimate.")
    sw = np.ones(len(data)) if weights_col is None else _sampling_weights(data, weights_col)
    if isinstance(covariates, str) and covariates in data.columns:
        covariates = [covariates]
    x, names, refs = _design(data, covariates)

    # treatment levels, with control first
    s = data[treatment_col]
    binary_treatment = _is_binary(s)
    levels = [False, True] if pd.api.types.is_bool_dtype(s) else _levels(s)
    if binary_treatment and not pd.api.types.is_bool_dtype(s):
        levels = [lv for lv in (0, 1) if (s == lv).any()]
    if len(levels) < 2:
        raise ParameterError(f"treatment_col {treatment_col!r} has a single level "
                             f"({levels}); two or more arms are needed.")

    def find(value: Any, arg: str) -> int:
        for i, lv in enumerate(levels):
            if lv == value or str(lv) == str(value):
                return i
        raise ParameterError(f"{arg}={value!r} is not a level of {treatment_col!r}; levels "
                             f"are {levels}.")

    c0 = 0 if control is None else find(control, "control")
    levels = [levels[c0]] + [lv for i, lv in enumerate(levels) if i != c0]
    k = len(levels)
    labels = [str(lv) for lv in levels]
    a = np.full(len(s), -1, dtype=np.int64)
    for i, lv in enumerate(levels):
        a[(s == lv).to_numpy()] = i
    if (a < 0).any():
        raise ParameterError(f"treatment_col {treatment_col!r} has values outside {levels}.")
    t_idx = None if treated is None else find(treated, "treated")
    if t_idx == 0:
        raise ParameterError(f"treated={treated!r} equals control; choose different levels.")
    if estimand == "ATT" and t_idx is None and k > 2:
        raise ParameterError("estimand='ATT' with more than two arms needs treated=<level>"
                             f" (the population the effect refers to); levels: {labels}.")
    if contrasts == "all" and t_idx is not None and estimand != "ATT":
        raise ParameterError(f"treated={treated!r} with contrasts='all' is only meaningful for "
                             f"estimand='ATT' (treated names the target population); with "
                             f"estimand={estimand!r} drop treated= to get every pair of arms, "
                             "or use contrasts='control' for the single treated-vs-control "
                             "contrast.")
    target = 1 if t_idx is None else t_idx          # the ATT population (used for ATT only)
    if contrasts == "all":      # (later level) vs (earlier level), control first
        pairs = [(t, c) for c in range(k) for t in range(c + 1, k)]
    elif t_idx is not None:
        pairs = [(t_idx, 0)]
    else:
        pairs = [(j, 0) for j in range(1, k)]
    counts = np.bincount(a, minlength=k)
    if (counts == 0).any():
        raise ParameterError(f"arm(s) {[labels[j] for j in np.flatnonzero(counts == 0)]} "
                             "have no rows.")
    empty = np.bincount(a, weights=sw, minlength=k) <= 0
    if empty.any():
        raise ParameterError(f"arm(s) {[labels[j] for j in np.flatnonzero(empty)]} have only "
                             f"rows of weight 0 in weights_col {weights_col!r}; every arm needs "
                             "a positive total weight.")

    # outcome
    ys = data[outcome_col]
    if outcome_type is None:
        outcome_type = "binary" if _is_binary(ys) else "continuous"
    if outcome_type == "binary" and not _is_binary(ys):
        raise ParameterError(f"outcome_col {outcome_col!r} must be 0/1 or boolean for "
                             "outcome_type='binary'.")
    if not (pd.api.types.is_numeric_dtype(ys) or pd.api.types.is_bool_dtype(ys)):
        raise ParameterError(f"outcome_col {outcome_col!r} must be numeric or boolean, got "
                             f"dtype {ys.dtype}.")
    y = ys.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ParameterError(f"outcome_col {outcome_col!r} must be finite.")
    binary = outcome_type == "binary"
    cluster = None if cluster_col is None else pd.factorize(data[cluster_col])[0]
    if cluster is not None:
        n_used = len(np.unique(cluster[sw > 0]))
        if n_used < 2:
            raise ParameterError(
                f"cluster_col {cluster_col!r} has {n_used} cluster"
                + (" with positive weight" if weights_col is not None else "")
                + "; a cluster-robust variance needs at least two (with one, the summed "
                "influence function is 0 and every standard error would be 0). Drop "
                "cluster_col or name the column that identifies the clusters (e.g. the child).")

    if method in ("regression", "aipw"):
        for j in range(k):
            rj = (a == j) & (sw > 0)        # rows of weight 0 do not identify anything
            const = np.flatnonzero(np.ptp(x[rj, 1:], axis=0) == 0) if len(names) else []
            if len(const):
                warnings.warn(
                    f"outcome model of arm {labels[j]!r}: covariate column(s) "
                    f"{[names[i] for i in const]} are constant within the arm, so their "
                    "coefficients are not identified there (a minimum-norm solution is used "
                    "and predictions for other arms' rows extrapolate). Merge sparse levels or "
                    "drop those covariates.", UserWarning, stacklevel=2)
    fit = _core(x, a, y, sw, k, binary, method, estimand, target, truncate, want_if=True)
    mu, phi = fit["mu"], fit["phi"]
    w_obs = sw * fit["w"][np.arange(len(a)), a]          # sampling x balancing weight
    if method != "naive":  # the naive means use no propensity score: nothing to warn about
        pos = sw > 0        # rows of weight 0 take no part in the estimate
        for msg in _positivity_warnings(fit["e_used"][pos], a[pos], w_obs[pos], estimand,
                                        target, labels, truncate):
            warnings.warn(msg, UserWarning, stacklevel=2)

    # contrasts: differences and log ratios as linear combinations of influence functions
    zcrit = stats.norm.ppf(1 - alpha / 2)
    cols, meta_rows = [], []
    for t, c in pairs:
        label = f"{labels[t]} vs {labels[c]}"
        nn = int(counts[t] + counts[c])
        cols.append(phi[:, t] - phi[:, c])
        meta_rows.append((label, "risk_difference" if binary else "mean_difference",
                          mu[t] - mu[c], nn))
        if binary:
            cols.append(phi[:, t] / mu[t] - phi[:, c] / mu[c])
            meta_rows.append((label, "risk_ratio", np.log(mu[t] / mu[c]), nn))
    cov_c = _variance(np.column_stack(cols), cluster)
    cov_a = _variance(phi, cluster)
    se_c = np.sqrt(np.diag(cov_c))
    est_c = np.array([r[2] for r in meta_rows])
    summary = _summary_frame(meta_rows, est_c, se_c, zcrit)
    se_a = np.sqrt(np.diag(cov_a))
    ess = pd.Series([w_obs[a == j].sum() ** 2 / (w_obs[a == j] ** 2).sum() for j in range(k)],
                    index=pd.Index(labels, name="arm"), name="ess")
    arms = pd.DataFrame({"arm": labels, "estimate": mu, "se": se_a,
                         "ci_lower": mu - zcrit * se_a, "ci_upper": mu + zcrit * se_a,
                         "n": counts.astype(np.int64), "ess": ess.to_numpy()})
    balance = _balance_table(x, names, a, sw, w_obs, pairs, labels, estimand, target)
    sd_pooled = {}
    for t, c in pairs:      # rows of weight 0 take no part (nor in the counts)
        rt, rc = (a == t) & (sw > 0), (a == c) & (sw > 0)
        sd_pooled[f"{labels[t]} vs {labels[c]}"] = float(np.sqrt(
            ((rt.sum() - 1) * _weighted_var(y[rt], sw[rt])
             + (rc.sum() - 1) * _weighted_var(y[rc], sw[rc])) / (rt.sum() + rc.sum() - 2)))

    metadata: dict[str, Any] = {
        "method": method, "method_name": _METHOD_NAMES[method], "estimand": estimand,
        "alpha": alpha, "n": len(a), "treatment_col": treatment_col,
        "outcome_col": outcome_col, "outcome_type": outcome_type, "levels": labels,
        "control": labels[0], "treated": None if t_idx is None else labels[t_idx],
        "att_population": labels[target] if estimand == "ATT" else None,
        "covariates": names, "reference_levels": {kk: str(v) for kk, v in refs.items()},
        "propensity_model": "logistic" if k == 2 else "multinomial logistic",
        "outcome_model": (None if method in ("naive", "ipw") else
                          ("logistic" if binary else "linear") + ", fitted per arm"),
        "truncate": truncate,
        "truncated": int(fit["clipped"].any(axis=1).sum() if k == 2 else fit["clipped"].sum()),
        "variance": "influence function (stacked M-estimation sandwich)"
                    + (", cluster-robust" if cluster is not None else ""),
        "cluster_col": cluster_col,
        "n_clusters": None if cluster is None else int(cluster.max()) + 1,
        "weights_col": weights_col, "sum_weights": float(sw.sum()),
        "contrast_set": contrasts,
        "contrasts": [{"contrast": f"{labels[t]} vs {labels[c]}", "treated": labels[t],
                       "control": labels[c]} for t, c in pairs],
        "bootstrap": int(bootstrap), "seed": seed, "outcome_sd_pooled": sd_pooled,
        "versions": dict(_versions()),
    }
    result = EffectResult(summary=summary, metadata=metadata, arms=arms, balance=balance,
                          ess=ess, propensity_=fit["e"], weights_=w_obs, influence_=phi,
                          treatment_=a)
    if bootstrap:
        _apply_bootstrap(result, x, a, y, sw, k, binary, method, estimand, target, truncate,
                         cluster, pairs, bootstrap, seed, n_jobs, alpha, zcrit)
    return result


def _exp_rows(ratio: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``exp`` of the ratio rows (log scale) only; differences stay as they are."""
    out = np.array(v, dtype=float, copy=True)
    out[ratio] = np.exp(out[ratio])
    return out


def _summary_frame(rows: list[tuple], est: np.ndarray, se: np.ndarray, zcrit: float
                   ) -> pd.DataFrame:
    """Summary rows; ``est`` holds differences and log ratios, se on that scale."""
    ratio = np.array([r[1] == "risk_ratio" for r in rows])
    lo, hi = est - zcrit * se, est + zcrit * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    return pd.DataFrame({
        "contrast": [r[0] for r in rows], "measure": [r[1] for r in rows],
        "estimate": _exp_rows(ratio, est), "se": se,
        "ci_lower": _exp_rows(ratio, lo), "ci_upper": _exp_rows(ratio, hi),
        "p_value": p, "n": np.array([r[3] for r in rows], dtype=np.int64)})


def _apply_bootstrap(result: EffectResult, x, a, y, sw, k, binary, method, estimand, target,
                     truncate, cluster, pairs, bootstrap, seed, n_jobs, alpha, zcrit) -> None:
    seqs = np.random.SeedSequence(seed).spawn(bootstrap)
    shared = (x, a, y, sw, k, binary, method, estimand, target, truncate, cluster)
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs, initializer=_boot_init,
                                 initargs=(shared,)) as ex:
            reps = list(ex.map(_bootstrap_one, seqs,
                               chunksize=max(1, bootstrap // (4 * n_jobs))))
    else:
        _boot_init(shared)
        try:
            reps = [_bootstrap_one(sq) for sq in seqs]
        finally:
            _boot_init(None)
    reps = np.array(reps)
    failed = int(np.isnan(reps).any(axis=1).sum())
    reps = reps[~np.isnan(reps).any(axis=1)]
    if len(reps) < 2:
        raise ConvergenceError("fewer than two bootstrap replicates could be fitted.")
    if failed:
        warnings.warn(f"{failed} of {bootstrap} bootstrap replicates failed (an empty arm or "
                      "non-convergence) and were dropped.", UserWarning, stacklevel=3)
    s = result.summary
    est_scale, boot_cols = [], []
    for t, c in pairs:
        boot_cols.append(reps[:, t] - reps[:, c])
        if binary:
            boot_cols.append(np.log(reps[:, t] / reps[:, c]))
    boot = np.column_stack(boot_cols)
    mu = result.arms["estimate"].to_numpy()
    for t, c in pairs:
        est_scale.append(mu[t] - mu[c])
        if binary:
            est_scale.append(np.log(mu[t] / mu[c]))
    est = np.array(est_scale)
    se = boot.std(axis=0, ddof=1)
    lo = np.quantile(boot, alpha / 2, axis=0)
    hi = np.quantile(boot, 1 - alpha / 2, axis=0)
    ratio = (s["measure"] == "risk_ratio").to_numpy()
    result.metadata["summary_influence"] = s.copy()
    new = s.copy()
    new["se"] = se
    new["ci_lower"] = _exp_rows(ratio, lo)
    new["ci_upper"] = _exp_rows(ratio, hi)
    new["p_value"] = 2 * stats.norm.sf(np.abs(est / se))
    result.summary = new
    result.bootstrap_ = pd.DataFrame(reps, columns=result.arms["arm"].tolist())
    result.metadata["variance"] = (f"{'cluster ' if cluster is not None else ''}bootstrap "
                                   f"({len(reps)} replicates, percentile CI, SD as se)")
    result.metadata["bootstrap_failed"] = failed
