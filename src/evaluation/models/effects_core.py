"""The estimation core of :func:`evaluation.models.effects.estimate_effect`: the design
matrix, the weighted linear, logistic and multinomial propensity fits, the balancing weights
of the ATE, ATT and ATO, the arm means with their influence functions (stacked M-estimation),
one bootstrap replicate, and the balance and positivity diagnostics.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, special

from evaluation.checks import require_complete_columns
from evaluation.errors import (
    ConvergenceError,
    ExtremeWeightsWarning,
    OutcomeSeparationWarning,
    ParameterError,
    PositivityWarning,
    PropensitySeparationWarning,
)

__all__ = ["POSITIVITY_PS", "SMD_THRESHOLD", "WEIGHT_SHARE", "arm_means", "balance_table",
           "bootstrap_init", "bootstrap_replicate", "effect_design", "if_covariance",
           "is_binary", "positivity_warnings", "propensity_scores", "treatment_levels",
           "weighted_var"]

SMD_THRESHOLD = 0.1          # |SMD| above this is flagged as imbalanced
POSITIVITY_PS = 0.01         # propensity scores below this trigger a positivity warning
WEIGHT_SHARE = 0.1           # one row carrying more than this share of an arm's weight warns
_MAX_ITER = 100
_MAX_HALVINGS = 40
_TOL = 1e-10


# --------------------------------------------------------------------------- input handling
def is_binary(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return True
    if pd.api.types.is_numeric_dtype(s):
        return bool(np.isin(s.to_numpy(dtype=float), (0.0, 1.0)).all())
    return False


def treatment_levels(s: pd.Series) -> list[Any]:
    """Treatment levels in their natural order (category order, else sorted)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.unique())
        return [c for c in s.cat.categories if c in present]
    values = pd.unique(s)
    try:
        return sorted(values.tolist())
    except TypeError:
        return sorted(values.tolist(), key=str)


def effect_design(data: pd.DataFrame, covariates: Any
                  ) -> tuple[np.ndarray, list[str], dict[str, Any]]:
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
    require_complete_columns(data, {f"covariates[{i}]": c for i, c in enumerate(covariates)})
    blocks, names, refs = [np.ones((len(data), 1))], [], {}
    for col in covariates:
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            blocks.append(s.to_numpy(dtype=float)[:, None])
            names.append(col)
        elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s) \
                or pd.api.types.is_string_dtype(s):
            levels = treatment_levels(s)
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


def _suspects(x: np.ndarray, v: np.ndarray, names: Sequence[str] | None) -> str:
    """The covariate(s) (design columns after the intercept) whose coefficient ``v`` (or
    step) times the column's range is largest, quoted for a message."""
    if v.ndim == 1:
        v = v[:, None]
    size = np.abs(v[1:]).max(axis=1) * np.ptp(x[:, 1:], axis=0) if x.shape[1] > 1 \
        else np.zeros(0)
    size = np.where(np.isfinite(size), size, np.inf)
    if not len(size):
        return "the intercept"
    top = np.flatnonzero(size >= 0.5 * size.max()) if np.isfinite(size.max()) \
        else np.flatnonzero(np.isinf(size))
    labels = [repr(names[j]) if names is not None and j < len(names) else f"column {j + 1}"
              for j in top[np.argsort(-size[top])][:3]]
    return "covariate " + labels[0] if len(labels) == 1 else "covariates " + ", ".join(labels)


def _not_converged(what: str, x: np.ndarray, v: np.ndarray,
                   names: Sequence[str] | None, reason: str) -> ConvergenceError:
    exc = ConvergenceError(
        f"the logistic {what} did not converge ({reason}); {_suspects(x, v, names)} may "
        "(nearly) perfectly predict the outcome or have extreme values (quasi-complete "
        "separation: a covariate level where everyone or no one has the outcome). Merge "
        "sparse levels, rescale or drop that covariate.")
    exc.covariates = _suspects(x, v, names)
    return exc


def _logistic_deviance(x: np.ndarray, y: np.ndarray, sw: np.ndarray, beta: np.ndarray
                       ) -> tuple[float, np.ndarray]:
    eta = x @ beta
    with np.errstate(over="ignore", invalid="ignore"):
        return 2 * float(np.sum(sw * (np.logaddexp(0, eta) - y * eta))), eta


def _fit_glm(x: np.ndarray, y: np.ndarray, binary: bool, sw: np.ndarray,
             what: str = "outcome model", warn: bool = True,
             names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linear (weighted least squares) or logistic (weighted ML by Newton/IRLS) regression
    with case weights ``sw``; returns coef and the 'bread' matrix X' S V X at the estimate
    (S = diag(sw), V = m(1 - m) for logistic, 1 for linear). ``warn=False`` silences the
    separation warning.

    The logistic fit starts, as R's ``glm.fit``, at the intercept-only model (intercept at
    the logit of the weighted mean, zeros elsewhere) and halves a Newton step while the
    deviance it leads to is non-finite or worse than the current one (a full step that
    improves the deviance is taken unchanged, so fits that converge without halving are
    exactly those of plain Newton). It returns a finite estimate or raises
    :class:`ConvergenceError` naming the covariate(s) (``names``: the design columns after
    the intercept) whose coefficients diverge.
    """
    if not binary:
        xtx = (x * sw[:, None]).T @ x
        beta = _solve_spd(xtx, x.T @ (sw * y))
        if not np.isfinite(beta).all():
            raise ConvergenceError(f"the linear {what} could not be fitted: "
                                   f"{_suspects(x, np.nan_to_num(beta, nan=np.inf), names)} "
                                   "gave a non-finite coefficient (collinear or extreme "
                                   "values); rescale or drop it.")
        return beta, xtx
    beta = np.zeros(x.shape[1])
    mean = (sw * y).sum() / sw.sum()
    if 0 < mean < 1:
        beta[0] = np.log(mean / (1 - mean))
    m = _expit(x @ beta)
    cur_dev, _ = _logistic_deviance(x, y, sw, beta)    # deviance of the current iterate
    dev = np.inf                                       # previous deviance (separation rule)
    done, separated = False, False
    for _ in range(_MAX_ITER + 1):
        info = (x * (sw * m * (1 - m))[:, None]).T @ x
        if done:
            if separated and warn:
                warnings.warn(f"logistic {what}: fitted probabilities numerically 0 or 1 "
                              "occurred (separation: a covariate pattern where everyone or no "
                              "one has the outcome); fitted values there are 0 or 1. Merge "
                              "sparse levels or simplify the model.",
                              PropensitySeparationWarning if what == "propensity model"
                              else OutcomeSeparationWarning, stacklevel=4)
            return beta, info
        step = _solve_spd(info, x.T @ (sw * (y - m)))
        if not np.isfinite(step).all():
            raise _not_converged(what, x, np.nan_to_num(step, nan=np.inf), names,
                                 "the Newton step is not finite")
        new = beta + step
        new_dev, eta = _logistic_deviance(x, y, sw, new)
        # step halving, as R's glm.fit: while the deviance is non-finite or worse
        halvings = 0
        while not np.isfinite(new_dev) or new_dev > cur_dev + 1e-12 * (abs(cur_dev) + 0.1):
            halvings += 1
            if halvings > _MAX_HALVINGS:
                break
            new = (beta + new) / 2
            new_dev, eta = _logistic_deviance(x, y, sw, new)
        small_step = np.max(np.abs(step)) < _TOL * (1 + np.max(np.abs(new)))
        if halvings > _MAX_HALVINGS:
            if small_step:      # at the optimum to rounding: the last iterate is the fit
                done, separated = True, False
                continue
            raise _not_converged(what, x, step, names,
                                 "no step along the Newton direction lowers the deviance")
        beta = new
        m = _expit(eta)
        # R glm's rule |dev - dev_old| / (|dev| + 0.1) < eps: also ends (quasi-)separated fits
        fitted = m[sw > 0]
        separated = (not small_step and abs(new_dev - dev) / (abs(new_dev) + 0.1) < 1e-14
                     and (fitted.min() < 1e-10 or fitted.max() > 1 - 1e-10))
        dev = cur_dev = new_dev
        done = small_step or separated
    raise _not_converged(what, x, beta, names, f"{_MAX_ITER} iterations")


def propensity_scores(x: np.ndarray, a: np.ndarray, sw: np.ndarray | None = None,
                      names: Sequence[str] | None = None, warn: bool = True) -> np.ndarray:
    """P(a = 1 | x) from the weighted logistic propensity model (x with an intercept column
    first, a 0/1, case weights ``sw``, default 1), fitted as in :func:`estimate_effect
    <evaluation.models.effects.estimate_effect>`: Newton from the intercept-only model,
    halving a step while the deviance is non-finite or worse (as R's ``glm.fit``).

    Returns the fitted probabilities (finite). Raises :class:`ConvergenceError` naming the
    covariate(s) (``names``: the design columns after the intercept) whose coefficients
    diverge; warns :class:`PropensitySeparationWarning` (unless ``warn=False``) when fitted
    probabilities are numerically 0 or 1.
    """
    sw = np.ones(len(a)) if sw is None else sw
    gamma, _ = _fit_glm(x, np.asarray(a, dtype=float), True, sw, "propensity model",
                        warn=warn, names=names)
    return _expit(x @ gamma)


def _expit(z: np.ndarray) -> np.ndarray:
    return special.expit(z)


def _softmax_ps(x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    eta = np.column_stack([np.zeros(len(x)), x @ gamma])
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def _fit_propensity(x: np.ndarray, a: np.ndarray, k: int, sw: np.ndarray,
                    warn: bool = True, names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
                               warn=warn, names=names)
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

    rows = np.arange(n)

    def deviance(g: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore"):
            e = _softmax_ps(x, g)
            return -2 * float((sw * np.log(np.maximum(e[rows, a], 1e-300))).sum()), e

    cur_dev, _ = deviance(gamma)
    dev = np.inf
    for _ in range(_MAX_ITER):
        e = _softmax_ps(x, gamma)
        score = (x.T @ (sw[:, None] * (ind - e[:, 1:]))).T.reshape(q)
        step = _solve_spd(information(e), score).reshape(k - 1, p).T
        if not np.isfinite(step).all():
            raise _not_converged("propensity model (multinomial)", x,
                                 np.nan_to_num(step, nan=np.inf), names,
                                 "the Newton step is not finite")
        new = gamma + step
        new_dev, e = deviance(new)
        halvings = 0      # step halving while the deviance is non-finite or worse (glm.fit)
        while not np.isfinite(new_dev) or new_dev > cur_dev + 1e-12 * (abs(cur_dev) + 0.1):
            halvings += 1
            if halvings > _MAX_HALVINGS:
                break
            new = (gamma + new) / 2
            new_dev, e = deviance(new)
        small_step = np.max(np.abs(step)) < _TOL * (1 + np.max(np.abs(new)))
        if halvings > _MAX_HALVINGS:
            if not small_step:
                raise _not_converged("propensity model (multinomial)", x, step, names,
                                     "no step along the Newton direction lowers the "
                                     "deviance")
            new_dev, e = cur_dev, _softmax_ps(x, gamma)
        else:
            gamma = new
        # as R glm: a negligible change of deviance ends a (quasi-)separated fit
        fitted = e[sw > 0]
        separated = (abs(new_dev - dev) / (abs(new_dev) + 0.1) < 1e-14
                     and (fitted.min() < 1e-10 or fitted.max() > 1 - 1e-10))
        dev = cur_dev = new_dev
        if small_step or separated:
            if separated and warn:
                warnings.warn("propensity model: fitted probabilities numerically 0 or 1 "
                              "occurred (separation: a covariate pattern occurs in only some "
                              "arms), so positivity fails for those rows. Merge sparse levels, "
                              "drop the covariate, restrict the population or use "
                              "estimand='ATO'.", PropensitySeparationWarning, stacklevel=4)
            return gamma, e, information(e)
    raise _not_converged("propensity model (multinomial)", x, gamma, names,
                         f"{_MAX_ITER} iterations")


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


def arm_means(x: np.ndarray, a: np.ndarray, y: np.ndarray, sw: np.ndarray, k: int, binary: bool,
          method: str, estimand: str, target: int, truncate: float | None, want_if: bool,
          names: Sequence[str] | None = None) -> dict[str, Any]:
    """Arm means (and their influence functions) for one data set with case weights sw.

    Every estimating equation (propensity model, outcome models, arm means) is weighted by
    sw, so the influence functions are sw times the unweighted ones with weighted
    derivatives (survey-style linearisation).
    """
    n, p = x.shape
    if (np.bincount(a, weights=sw, minlength=k) <= 0).any():
        raise ParameterError("an arm has no rows (or only rows of weight 0) in the "
                             "(re)sampled data.")
    _, e_raw, info = _fit_propensity(x, a, k, sw, warn=method != "naive", names=names)
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
            beta, bread = _fit_glm(x[r], y[r], binary, sw[r], names=names)
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


def if_covariance(phi: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Covariance matrix of the estimates whose influence functions are the columns of phi."""
    n = len(phi)
    if cluster is not None:
        phi = np.column_stack([np.bincount(cluster, weights=phi[:, j])
                               for j in range(phi.shape[1])])
    return phi.T @ phi / n ** 2


_BOOT: tuple | None = None      # data of the bootstrap, set once per worker process


def bootstrap_init(shared: tuple) -> None:
    global _BOOT
    _BOOT = shared


def bootstrap_replicate(seed_seq: np.random.SeedSequence) -> np.ndarray:
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
        return arm_means(x[idx], a[idx], y[idx], sw[idx], k, binary, method, estimand, target,
                     truncate, want_if=False)["mu"]
    except (ConvergenceError, ParameterError):
        return np.full(k, np.nan)


# --------------------------------------------------------------------------- diagnostics
def weighted_var(v: np.ndarray, sw: np.ndarray, axis: int = 0) -> np.ndarray:
    """Variance with case weights sw and the 'reliability' divisor sum sw - sum sw^2 / sum sw
    (the usual n - 1 when every weight is 1; cobalt's choice for sampling weights)."""
    s1 = sw.sum()
    mean = np.tensordot(sw, v, axes=(0, axis)) / s1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.tensordot(sw, (v - mean) ** 2, axes=(0, axis)) / (s1 - (sw ** 2).sum() / s1)


def balance_table(x: np.ndarray, names: list[str], a: np.ndarray, sw: np.ndarray,
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
        sd_att = np.sqrt(weighted_var(xs[rg], sw[rg]))
        sd_all = np.sqrt(weighted_var(xs, sw))
        sd_att = np.where(np.isfinite(sd_att) & (sd_att > 0), sd_att, sd_all)
    for t, c in pairs:
        rt, rc = a == t, a == c
        mt = sw[rt] @ xs[rt] / sw[rt].sum()
        mc = sw[rc] @ xs[rc] / sw[rc].sum()
        if estimand == "ATT":
            sd = sd_att
        else:
            sd = np.sqrt((weighted_var(xs[rt], sw[rt]) + weighted_var(xs[rc], sw[rc])) / 2)
            bad = ~(np.isfinite(sd) & (sd > 0))
            if bad.any():       # both arms constant (or one positive-weight row): pair's SD
                rp = rt | rc
                sd = np.where(bad, np.sqrt(weighted_var(xs[rp], sw[rp])), sd)
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


def positivity_warnings(e: np.ndarray, a: np.ndarray, w_obs: np.ndarray, estimand: str,
                        target: int, labels: list[str], truncate: float | None
                        ) -> list[tuple[type[Warning], str]]:
    """The warnings of weak overlap, as (class, message): a :class:`PositivityWarning` per
    arm with propensity scores below ``POSITIVITY_PS``, an :class:`ExtremeWeightsWarning` per
    arm where one row carries more than ``WEIGHT_SHARE`` of the weight."""
    msgs: list[tuple[type[Warning], str]] = []
    if estimand != "ATO":
        for j, lab in enumerate(labels):
            if estimand == "ATT" and j == target:
                continue
            rows = (a == target) if estimand == "ATT" else np.ones(len(a), dtype=bool)
            low = e[rows, j] < POSITIVITY_PS
            if low.any():
                msgs.append((PositivityWarning, (
                    f"positivity: {int(low.sum())} row(s) have an estimated propensity score "
                    f"below {POSITIVITY_PS} for arm {lab!r} (minimum {e[rows, j].min():.2g}); "
                    "their weights are extreme and estimates unstable. Consider "
                    "truncate=0.01 (reported in metadata), estimand='ATO' (overlap weights) "
                    "or restricting the population to where both arms occur."
                    + (f" (truncate={truncate} is in use.)" if truncate is not None else ""))))
    for j, lab in enumerate(labels):
        wj = w_obs[a == j]
        share = wj.max() / wj.sum()
        if share > WEIGHT_SHARE and len(wj) >= 20:
            msgs.append((ExtremeWeightsWarning, (
                f"extreme weights: one row carries {share:.0%} of the total weight of "
                f"arm {lab!r} (effective sample size {wj.sum() ** 2 / (wj ** 2).sum():.1f}"
                f" of {len(wj)}); check overlap with overlap_plot() and consider "
                "truncate= or estimand='ATO'.")))
    return msgs
