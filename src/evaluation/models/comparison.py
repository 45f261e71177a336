"""Fair comparison of units (municipalities, providers): risk-standardised rates.

:func:`risk_standardised` fits the US CFSR risk-standardised performance model, a multilevel
logistic regression with a random intercept per unit and case-mix fixed effects, by maximum
likelihood with the Laplace approximation (as ``lme4::glmer(..., nAGQ = 1)``), and reports per
unit the observed, expected and predicted events, the risk-standardised rate with an interval
and a flag. Funnel plots of the same units are in
:mod:`evaluation.models.funnel`.

Compare entry cohorts (all episodes starting in a window, followed for the same time), never
exit samples or point-in-time counts: those over-represent long stays (Chapin Hall's rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from evaluation.checks import check_alpha, require_complete_columns, require_dataframe
from evaluation.disclosure import protect_counts
from evaluation.errors import ConvergenceError, ParameterError
from evaluation.models.results import Result, note_units_not_shown, package_versions

__all__ = ["FLAGS", "ComparisonResult", "check_separation", "risk_standardised"]

FLAGS = ("better", "no different", "worse")
_MODE_TOL = 1e-12
_MODE_MAX_ITER = 100


# --------------------------------------------------------------------------- result


@dataclass
class ComparisonResult(Result):
    """Risk-standardised comparison of units; see :func:`risk_standardised` for the columns.

    Attributes
    ----------
    fixed_effects : pandas.DataFrame
        One row per case-mix term (and the intercept): ``estimate, se, z, ci_lower, ci_upper,
        p_value, exp_estimate`` (log-odds scale; ``exp_estimate`` is the odds ratio).
    sigma_ : float
        Estimated standard deviation of the unit random intercepts (log-odds scale).
    vcov_ : numpy.ndarray
        Variance matrix of the fixed effects (inverse observed information of the Laplace
        log-likelihood in (sigma, beta), fixed-effect block; as lme4's ``vcov``).
    rsr_draws_ : numpy.ndarray
        Simulated risk-standardised rates (draws x units) behind the intervals.
    """

    fixed_effects: pd.DataFrame | None = None
    sigma_: float = float("nan")
    vcov_: np.ndarray | None = None
    rsr_draws_: np.ndarray | None = None

    def disclosure_masks(self, threshold: int = 5, min_denominator: int = 10
                         ) -> tuple[pd.Series, pd.Series, np.ndarray, np.ndarray]:
        """Shown n and observed (strings) and the masks ``small`` and ``hidden`` of disclosure
        control, per unit in the order of ``summary``: what :meth:`plot` leaves out and
        :func:`evaluation.reporting.comparison_table.comparison_display` blanks.

        Counts 1 to ``threshold - 1`` of ``n``, ``observed`` and the non-events
        ``n - observed`` are suppressed, with secondary suppression so that no hidden count
        follows from the others (:func:`evaluation.disclosure.protect_counts` on the table
        observed, not observed, n with n as row total).

        ``small``: n below ``min_denominator`` (no rates at all); ``hidden``: ``small`` or an
        observed count that is not shown, i.e. the units whose predicted events,
        risk-standardised rate and interval are hidden.
        """
        counts = self.summary[["n", "observed"]].reset_index(drop=True)
        table = pd.DataFrame({"observed": counts["observed"],
                              "not_observed": counts["n"] - counts["observed"],
                              "n": counts["n"]})
        shown = protect_counts(table, ["observed", "not_observed", "n"], threshold=threshold,
                               total_col="n").to_display("en")
        shown_n, shown_obs = shown["n"], shown["observed"]
        small = (counts["n"] < min_denominator).to_numpy()
        # The unit's effect is a monotone function of its observed count, so the predicted
        # events (and the rate and interval built on them) would let a reader recover a
        # hidden count: they are hidden wherever the observed count is.
        hidden = small | ~shown_obs.astype(str).str.fullmatch(r"\d+").to_numpy()
        return shown_n, shown_obs, small, hidden

    def plot(self, ax=None, disclosure: bool = True, threshold: int = 5,
             min_denominator: int = 10):
        """Risk-standardised rates with intervals, sorted, and the overall rate.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on (a new figure if None).
        disclosure : bool, default True
            Draw only the units whose rate and interval may be shown
            (:meth:`disclosure_masks`, with the same ``threshold`` and
            ``min_denominator``): a unit with fewer than
            ``min_denominator`` episodes, or whose observed count is hidden (a small count of
            events or non-events, or a complementary suppression), is neither drawn nor
            named on the axis, since its rate and n would give the count back. How many
            were left out, and why, is written in the legend (``"3 units not shown (small
            counts)"``, ``"12 units not shown (n < 10)"``). Set False only for analysts
            working on their own data in a secure environment: every unit is then drawn and
            named, and the plot must not be published.
        threshold, min_denominator : int, default 5 and 10
            As :meth:`disclosure_masks`.

        Returns
        -------
        matplotlib.axes.Axes
            Points (coloured by flag) with the interval as error bars, sorted by rate, units
            named on the x axis; the dashed line is the overall rate.

        Raises
        ------
        ParameterError
            If ``disclosure`` is not True or False.

        Examples
        --------
        >>> s = pd.DataFrame({"unit": ["A", "B", "C"], "n": [40, 60, 3],
        ...                   "observed": [12, 15, 1], "expected": [10.0, 16.0, 0.8]})
        >>> s["observed_rate"] = s["observed"] / s["n"]
        >>> s["predicted"] = s["observed"] * 0.9
        >>> s["rsr"] = s["predicted"] / s["expected"] * 0.25
        >>> s["ci_lower"], s["ci_upper"] = s["rsr"] - 0.1, s["rsr"] + 0.1
        >>> s["flag"] = pd.Categorical(["no different"] * 3, categories=FLAGS)
        >>> ax = ComparisonResult(summary=s, metadata={"overall_rate": 0.25}).plot()
        >>> [t.get_text() for t in ax.get_xticklabels()]
        ['B']
        >>> sorted(ax.get_legend_handles_labels()[1])
        ['1 unit not shown (n < 10)', '1 unit not shown (small counts)', 'no different']

        C has 3 episodes; A's 12 events are hidden too (as in :meth:`disclosure_masks`), since with
        the published total of events they would give C's 1 event back.
        """
        import matplotlib.pyplot as plt

        if not isinstance(disclosure, (bool, np.bool_)):
            raise ParameterError(f"disclosure must be True or False, got {disclosure!r}.")
        s = self.summary.reset_index(drop=True)
        if disclosure:
            _, _, small, hidden = self.disclosure_masks(threshold, min_denominator)
        else:
            small = hidden = np.zeros(len(s), dtype=bool)
        ax = ax if ax is not None else plt.subplots()[1]
        s = s[~hidden].sort_values("rsr").reset_index(drop=True)
        x = np.arange(len(s))
        colours = {"better": "tab:green", "no different": "tab:grey", "worse": "tab:red"}
        for flag, part in s.groupby("flag", observed=True):
            idx = part.index.to_numpy()
            rsr = part["rsr"].to_numpy()
            err = np.vstack([rsr - part["ci_lower"].to_numpy(), part["ci_upper"].to_numpy() - rsr])
            ax.errorbar(x[idx], rsr, yerr=err, fmt="o", capsize=2, color=colours[str(flag)],
                        label=str(flag))
        ax.axhline(self.metadata["overall_rate"], color="black", linestyle="--", linewidth=1)
        ax.set_xticks(x)
        ax.set_xticklabels(s["unit"].astype(str), rotation=90)
        n_small = int(small.sum())
        n_counts = int((hidden & ~small).sum())
        note_units_not_shown(ax, [(n_counts, "small counts"),
                                  (n_small, f"n < {min_denominator}")])
        ax.set_ylabel("risk-standardised rate")
        ax.legend()
        return ax


# --------------------------------------------------------------------------- design


def _design(data: Any, outcome_col: str, unit_col: str, case_mix: Sequence[str],
            reference: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate the inputs of :func:`risk_standardised`; return arrays and term names."""
    require_dataframe(data)
    if isinstance(case_mix, str):
        case_mix = [case_mix]
    case_mix = list(case_mix)
    if len(set(case_mix)) != len(case_mix):
        raise ParameterError(f"case_mix has duplicate names: {case_mix}.")
    reference = dict(reference or {})
    require_complete_columns(data, {"outcome_col": outcome_col, "unit_col": unit_col,
                                    "case_mix": case_mix})
    for col in reference:
        if col not in case_mix:
            raise ParameterError(f"reference names {col!r}, which is not in case_mix "
                                 f"{case_mix}.")
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to compare.")
    ys = data[outcome_col]
    if not (pd.api.types.is_numeric_dtype(ys) or pd.api.types.is_bool_dtype(ys)):
        raise ParameterError(f"outcome_col {outcome_col!r} must be 0/1 or boolean, got dtype "
                             f"{ys.dtype}.")
    y = ys.to_numpy(dtype=float)
    if not np.isin(y, (0.0, 1.0)).all():
        i = int(np.flatnonzero(~np.isin(y, (0.0, 1.0)))[0])
        raise ParameterError(f"outcome_col {outcome_col!r} must be 0/1 or boolean; row {i} has "
                             f"{y[i]!r}.")
    if y.min() == y.max():
        raise ParameterError(f"outcome_col {outcome_col!r} is {int(y[0])} on every row; a "
                             "comparison needs both outcomes.")
    unit_codes, units = pd.factorize(data[unit_col], sort=True)
    if len(units) < 2:
        raise ParameterError(f"unit_col {unit_col!r} has {len(units)} unit(s); a comparison "
                             "needs at least 2.")

    blocks, names, levels_used = [np.ones((len(y), 1))], ["(Intercept)"], {}
    for col in case_mix:
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            if col in reference:
                raise ParameterError(f"reference names {col!r}, which is numeric or boolean; "
                                     "a reference level applies only to categorical columns.")
            values = s.to_numpy(dtype=float)
            if not np.isfinite(values).all():
                raise ParameterError(f"case_mix column {col!r} has non-finite values.")
            blocks.append(values[:, None])
            names.append(col)
        elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s) \
                or pd.api.types.is_string_dtype(s):
            levels = sorted(pd.unique(s.astype(str)))
            ref = str(reference.get(col, levels[0]))
            if ref not in levels:
                raise ParameterError(f"reference level {ref!r} of {col!r} does not occur in "
                                     f"data; levels: {', '.join(levels)}.")
            others = [lev for lev in levels if lev != ref]
            if not others:
                raise ParameterError(f"case_mix column {col!r} has a single level ({ref!r}); "
                                     "drop it.")
            text = s.astype(str).to_numpy()
            blocks.append(np.column_stack([(text == lev).astype(float) for lev in others]))
            names.extend(f"{col}{lev}" for lev in others)
            levels_used[col] = ref
        else:
            raise ParameterError(f"case_mix column {col!r} has dtype {s.dtype}, which is "
                                 "neither numeric, boolean nor categorical; convert it first.")
    x = np.hstack(blocks)
    const = np.ptp(x[:, 1:], axis=0) == 0
    if const.any():
        raise ParameterError(f"case-mix term(s) {[names[1 + j] for j in np.flatnonzero(const)]} "
                             "are constant in data; drop them.")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ParameterError("the case-mix terms are collinear (e.g. a level that coincides "
                             "with another column); drop one of them.")
    check_separation(data, y, outcome_col, case_mix)
    return {"y": y, "x": x, "names": names, "unit": unit_codes, "units": units,
            "reference": levels_used}


def check_separation(data: pd.DataFrame, y: np.ndarray, outcome_col: str,
                      case_mix: Sequence[str]) -> None:
    """Raise if one case-mix column on its own separates the outcome (infinite fixed effect).

    Checked per column: every level of a categorical column (the reference level too), both
    values of a two-valued numeric or boolean column, and for other numeric columns a
    threshold below which every row has one outcome and above which every row the other.
    Separation by several columns together is not searched for; the fit then stops with a
    ConvergenceError.
    """
    problems = []
    for col in case_mix:
        s = data[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=float)
            distinct = np.unique(values)
            if len(distinct) > 2:
                lo0, hi0 = values[y == 0].min(), values[y == 0].max()
                lo1, hi1 = values[y == 1].min(), values[y == 1].max()
                for low, high, lo, hi in ((0, 1, hi0, lo1), (1, 0, hi1, lo0)):
                    if lo <= hi:
                        problems.append(
                            f"case_mix column {col!r}: every row with {outcome_col} = {low} "
                            f"has {col} <= {lo:g} and every row with {outcome_col} = {high} "
                            f"has {col} >= {hi:g}, so its fixed effect is infinite "
                            f"(separation); drop {col!r} from case_mix or group it into "
                            "classes that each hold both outcomes")
                continue
            rows = [values == v for v in distinct]
            labels = [s[mask].iloc[0] for mask in rows]
            labels = [lev.item() if isinstance(lev, np.generic) else lev for lev in labels]
            fix = f"drop {col!r} from case_mix or merge it into a broader indicator"
        else:
            text = s.astype(str).to_numpy()
            labels = sorted(pd.unique(text))
            rows = [text == lev for lev in labels]
            fix = None
        for lev, mask in zip(labels, rows, strict=True):
            ys = y[mask]
            if ys.min() == ys.max():
                problems.append(
                    f"case_mix column {col!r}, level {lev!r}: all {int(mask.sum())} row(s) "
                    f"have {outcome_col} = {int(ys[0])}, so its fixed effect is infinite "
                    f"(separation); " + (fix or f"merge {lev!r} with a similar level of "
                                                 f"{col!r} or drop {col!r} from case_mix"))
    if problems:
        raise ParameterError("the model cannot be fitted: " + "; ".join(problems) + ".")


# --------------------------------------------------------------------------- Laplace fit


class _Laplace:
    """Laplace-approximate log-likelihood of a random-intercept logistic model and its gradient.

    With one random intercept per unit the integral factorises by unit: the conditional mode
    of each unit's standardised effect u_j (b_j = sigma u_j) solves a one-dimensional concave
    problem, found for all units at once by a vectorised Newton iteration.
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, unit: np.ndarray) -> None:
        self.y, self.x, self.unit = y, x, unit
        self.n_units = int(unit.max()) + 1
        self.u = np.zeros(self.n_units)             # warm start of the conditional modes

    def _sum(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.unit, weights=v, minlength=self.n_units)

    def modes(self, beta: np.ndarray, sigma: float, u0: np.ndarray | None = None) -> np.ndarray:
        """Conditional modes u_j of sum_i log p(y_i | eta_i) - u_j^2 / 2 (Newton, halving)."""
        off = self.x @ beta
        u = (self.u if u0 is None else u0).copy()

        def objective(u: np.ndarray) -> np.ndarray:
            eta = off + sigma * u[self.unit]
            return self._sum(self.y * eta - np.logaddexp(0.0, eta)) - u ** 2 / 2

        f = objective(u)
        for _ in range(_MODE_MAX_ITER):
            mu = special.expit(off + sigma * u[self.unit])
            grad = sigma * self._sum(self.y - mu) - u
            hess = sigma ** 2 * self._sum(mu * (1 - mu)) + 1.0
            step = grad / hess
            new = u + step
            f_new = objective(new)
            for _ in range(30):                     # step halving where the objective fell
                worse = f_new < f - 1e-12 * (1 + np.abs(f))
                if not worse.any():
                    break
                step = np.where(worse, step / 2, step)
                new = u + step
                f_new = objective(new)
            u, f = new, f_new
            if np.max(np.abs(step)) < _MODE_TOL:
                return u
        raise ConvergenceError("the conditional modes of the unit effects did not converge; "
                               "a unit may have only events or only non-events and an "
                               "extreme case mix. Check the data of the smallest units.")

    def loglik(self, params: np.ndarray, gradient: bool = True) -> tuple[float, np.ndarray]:
        """Laplace log-likelihood at params = (beta..., sigma) and its exact gradient."""
        beta, sigma = params[:-1], float(params[-1])
        u = self.modes(beta, sigma)
        self.u = u
        eta = self.x @ beta + sigma * u[self.unit]
        mu = special.expit(eta)
        w = mu * (1 - mu)
        sw = self._sum(w)
        dd = 1.0 + sigma ** 2 * sw
        ll = float(np.sum(self.y * eta - np.logaddexp(0.0, eta)) - np.sum(u ** 2) / 2
                   - np.sum(np.log(dd)) / 2)
        if not gradient:
            return ll, np.empty(0)
        # Envelope theorem for the penalised term; implicit derivative of u for log(D):
        # du/dbeta = -sigma sum_i w_i x_i / D, du/dsigma = (sum_i (y_i - mu_i) - sigma u S_w) / D.
        w1 = w * (1 - 2 * mu)                       # d w / d eta
        resid = self.y - mu
        swx = np.column_stack([self._sum(w * self.x[:, k]) for k in range(self.x.shape[1])])
        du_db = -sigma * swx / dd[:, None]
        du_ds = (self._sum(resid) - sigma * u * sw) / dd
        sw1 = self._sum(w1)
        sw1x = np.column_stack([self._sum(w1 * self.x[:, k]) for k in range(self.x.shape[1])])
        g_beta = self.x.T @ resid - 0.5 * np.sum(
            (sigma ** 2 * (sw1x + sigma * sw1[:, None] * du_db)) / dd[:, None], axis=0)
        g_sigma = float(np.sum(resid * u[self.unit]) - 0.5 * np.sum(
            (2 * sigma * sw + sigma ** 2 * sw1 * (u + sigma * du_ds)) / dd))
        return ll, np.append(g_beta, g_sigma)

    def hessian(self, params: np.ndarray, step: float = 1e-5) -> np.ndarray:
        """Observed Hessian of the log-likelihood by central differences of the gradient."""
        k = len(params)
        h = np.empty((k, k))
        u_saved = self.u.copy()
        for j in range(k):
            e = np.zeros(k)
            e[j] = step * max(1.0, abs(params[j]))
            self.u = u_saved.copy()
            g_plus = self.loglik(params + e)[1]
            self.u = u_saved.copy()
            g_minus = self.loglik(params - e)[1]
            h[:, j] = (g_plus - g_minus) / (2 * e[j])
        self.u = u_saved
        return (h + h.T) / 2


def _fit_glmm(y: np.ndarray, x: np.ndarray, unit: np.ndarray) -> dict[str, Any]:
    """Maximum-likelihood (Laplace) fit of the random-intercept logistic model."""
    lap = _Laplace(y, x, unit)
    # Start: ordinary logistic regression by a few Newton steps, sigma = 0.5.
    # Newton steps are halved while the deviance gets worse or non-finite (as glm.fit).
    def deviance(b: np.ndarray) -> float:
        eta = x @ b
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    beta = np.zeros(x.shape[1])
    beta[0] = special.logit(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    dev = deviance(beta)
    for _ in range(25):
        mu = special.expit(x @ beta)
        step = np.linalg.solve((x * (mu * (1 - mu))[:, None]).T @ x, x.T @ (y - mu))
        if not np.isfinite(step).all():
            break
        new = beta + np.clip(step, -5, 5)
        new_dev = deviance(new)
        for _ in range(40):
            if np.isfinite(new_dev) and new_dev <= dev + 1e-12 * (abs(dev) + 0.1):
                break
            new = (beta + new) / 2
            new_dev = deviance(new)
        else:
            break
        beta, dev = new, new_dev
        if np.max(np.abs(step)) < 1e-8:
            break
    logistic_beta = beta.copy()
    # (beta, log sigma): sigma = 0 is a stationary point of the Laplace likelihood (it is
    # even in sigma), so a bounded search in sigma can stall there; on the log scale it
    # cannot. A lower-bound solution means the estimate is sigma = 0 (checked below).
    start = np.append(beta, np.log(0.5))
    low, high = np.log(1e-5), np.log(50.0)

    def negative(p: np.ndarray) -> tuple[float, np.ndarray]:
        sigma = np.exp(p[-1])
        ll, g = lap.loglik(np.append(p[:-1], sigma))
        g[-1] *= sigma
        return -ll, -g

    bounds = [(None, None)] * x.shape[1] + [(low, high)]
    res = optimize.minimize(negative, start, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000,
                                     "maxcor": 20})
    params = np.append(res.x[:-1], np.exp(res.x[-1]))
    if res.x[-1] <= low + 1e-6 or res.x[-1] >= high - 1e-6:
        ll_logistic = lap.loglik(np.append(logistic_beta, 0.0), gradient=False)[0]
        if res.x[-1] >= high - 1e-6 or ll_logistic >= -res.fun - 1e-9:
            params = np.append(logistic_beta, 0.0)
    # Polish with Newton steps in (beta, sigma) (L-BFGS stops on a gradient rule).
    for _ in range(5):
        ll, g = lap.loglik(params)
        if params[-1] <= 0 or np.max(np.abs(g)) < 1e-10:
            break
        h = lap.hessian(params)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        trial = params - step
        if trial[-1] <= 0 or lap.loglik(trial, gradient=False)[0] < ll - 1e-10:
            break
        params = trial
    ll, g = lap.loglik(params)
    at_boundary = params[-1] == 0.0
    if not at_boundary and np.max(np.abs(g)) > 1e-3 * max(1.0, abs(ll)) ** 0.5:
        raise ConvergenceError(f"the Laplace likelihood did not converge (largest gradient "
                               f"{np.max(np.abs(g)):.3g}); check for case-mix levels with no "
                               "events or no non-events, and collapse them.")
    h = lap.hessian(params)
    if at_boundary:                                  # sigma = 0: information of beta only
        cov = np.linalg.inv(-h[:-1, :-1])
        vcov = cov
    else:
        cov = np.linalg.inv(-h)
        vcov = cov[:-1, :-1]
        scale = np.append(np.ones(len(params) - 1), 1 / params[-1])
        cov = cov * np.outer(scale, scale)           # (beta, log sigma)
    vcov = (vcov + vcov.T) / 2
    cov = (cov + cov.T) / 2
    beta, sigma = params[:-1], float(params[-1])
    if not (np.isfinite(params).all() and np.isfinite(vcov).all() and np.isfinite(cov).all()
            and (np.diag(vcov) > 0).all()):
        bad = ~(np.isfinite(beta) & np.isfinite(np.diag(vcov)) & (np.diag(vcov) > 0))
        which = (f"the term in column {int(np.flatnonzero(bad)[0]) + 1} of the design"
                 if bad.any() else "the unit variance")
        exc = ConvergenceError(f"the random-intercept model gave a non-finite estimate or "
                               f"variance ({which}); check for case-mix levels with no events "
                               "or no non-events, or extreme values, and collapse them.")
        exc.column = int(np.flatnonzero(bad)[0]) if bad.any() else None
        raise exc
    u = lap.modes(beta, sigma)
    return {"beta": beta, "sigma": sigma, "u": u, "loglik": ll, "vcov": vcov, "cov": cov,
            "iterations": int(res.nit), "laplace": lap, "at_boundary": bool(at_boundary)}


def _unit_cells(x: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows grouped into cells of one unit and one covariate pattern, sorted by unit: the
    cells' covariates (cells x terms), the number of cells of each unit, the rows per cell
    and the first cell of each unit. Rows of one cell have the same linear predictor in
    every draw, so sums over a unit's rows are count-weighted sums over its cells."""
    key = unit.astype(np.int64)
    size = float(unit.max()) + 1
    for col in x.T:                                  # mixed-radix code of (unit, row of x)
        values, code = np.unique(col, return_inverse=True)
        size *= len(values)
        if size >= 2.0 ** 62:                        # too many combinations for one int64
            _, first_row, counts = np.unique(np.column_stack([unit, x]), axis=0,
                                             return_index=True, return_counts=True)
            break
        key = key * len(values) + code.ravel()
    else:
        _, first_row, counts = np.unique(key, return_index=True, return_counts=True)
    cell_unit = unit[first_row]
    return (x[first_row], np.bincount(cell_unit), counts.astype(float),
            np.flatnonzero(np.r_[True, cell_unit[1:] != cell_unit[:-1]]))


def _simulate_rsr(y: np.ndarray, x: np.ndarray, unit: np.ndarray, beta: np.ndarray,
                  sigma: float, cov: np.ndarray, u_hat: np.ndarray, overall: float,
                  n_draws: int, seed: int, max_cells: int = 1_000_000,
                  block_cells: int = 100_000) -> np.ndarray:
    """Draws (n_draws x units) of rsr from the approximate posterior (see risk_standardised).

    ``cov`` is the covariance of (beta, log sigma), or of beta alone when sigma = 0. Rows
    are grouped into cells of one unit and one covariate pattern (:func:`_unit_cells`), so
    the work and memory scale with draws x cells, not draws x rows; per-unit sums are
    count-weighted ``np.add.reduceat`` over the cells. Draws are processed in blocks of
    at most ``block_cells`` draw-cell values (memory: a few arrays of that size, whatever
    the number of draws). The random numbers are drawn in the order of chunks of
    ``max_cells // rows`` draws (each chunk: the (beta, log sigma) normals, then the unit
    effects' normals), so a seed gives the same draws as the earlier implementation, which
    worked on rows in such chunks. Each unit's mode is found by Newton's method, all units
    and draws of a block at once, until the largest step is below 1e-10.
    """
    rng = np.random.default_rng(seed)
    xc, n_cells, counts, starts = _unit_cells(x, unit)
    # the distinct covariate patterns: a draw's linear predictors are computed once per
    # pattern (a small product) and copied to the cells
    patterns, cell_pattern = np.unique(xc, axis=0, return_inverse=True)
    cell_pattern = cell_pattern.ravel()
    n_units, p = len(starts), len(beta)
    y_unit = np.bincount(unit, weights=y, minlength=n_units)

    def per_unit(v: np.ndarray) -> np.ndarray:
        return np.add.reduceat(v * counts, starts, axis=1)

    def at_cells(v: np.ndarray) -> np.ndarray:          # draws x units -> draws x cells
        return np.repeat(v, n_cells, axis=1)

    centre = beta if sigma == 0 else np.append(beta, np.log(sigma))
    chol = np.linalg.cholesky(cov + 1e-14 * np.eye(len(centre)))
    z_theta = np.empty((n_draws, len(centre)))
    z_b = np.empty((n_draws, n_units))
    chunk = max(1, min(n_draws, max_cells // len(y)))
    for first in range(0, n_draws, chunk):
        k = min(chunk, n_draws - first)
        z_theta[first:first + k] = rng.standard_normal((k, len(centre)))
        z_b[first:first + k] = rng.standard_normal((k, n_units))
    out = np.empty((n_draws, n_units))
    block = max(1, min(n_draws, block_cells // len(counts)))
    for first in range(0, n_draws, block):
        sl = slice(first, min(first + block, n_draws))
        k = sl.stop - sl.start
        theta = centre + z_theta[sl] @ chol.T
        lin = np.take(theta[:, :p] @ patterns.T, cell_pattern, axis=1)  # draws x cells
        sig = np.exp(theta[:, p:]) if sigma > 0 else np.zeros((k, 1))
        # start from the estimated unit effects b = sigma u, on this draw's scale
        u = np.where(sig > 0, sigma * u_hat[None, :] / np.where(sig > 0, sig, 1.0), 0.0)
        if sigma > 0:                                           # Newton for the modes
            for _ in range(_MODE_MAX_ITER):
                mu = special.expit(lin + at_cells(sig * u))
                w = mu * counts
                s_mu = np.add.reduceat(w, starts, axis=1)
                w -= w * mu                                     # counts mu (1 - mu)
                step = ((sig * (y_unit - s_mu) - u)
                        / (sig ** 2 * np.add.reduceat(w, starts, axis=1) + 1))
                u = u + np.clip(step, -2.0, 2.0)
                if np.max(np.abs(step)) < 1e-10:
                    break
            else:
                raise ConvergenceError("the conditional modes did not converge in the "
                                       "simulation of the intervals.")
        mu = special.expit(lin + at_cells(sig * u))
        sd_u = 1 / np.sqrt(1 + sig ** 2 * per_unit(mu * (1 - mu)))
        b_draw = sig * (u + sd_u * z_b[sl])
        out[sl] = (per_unit(special.expit(lin + at_cells(b_draw)))
                   / per_unit(special.expit(lin)) * overall)
    return out


# --------------------------------------------------------------------------- main function


def risk_standardised(data: pd.DataFrame, outcome_col: str, unit_col: str,
                      case_mix: Sequence[str], *, alpha: float = 0.05,
                      reference: Mapping[str, Any] | None = None,
                      higher_is_worse: bool = True, n_draws: int = 1000,
                      seed: int = 1) -> ComparisonResult:
    """Risk-standardised rates of units (CFSR): multilevel logistic model with case mix.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode of an entry cohort, each followed for the same time.
    outcome_col : str
        0/1 or boolean outcome (e.g. unplanned ending within 365 days).
    unit_col : str
        Unit to compare (e.g. ``municipality_code`` or provider); any hashable values.
    case_mix : list of str
        Case-mix columns. Numeric and boolean columns enter as they are; object, string and
        categorical columns are dummy coded against their reference level, terms named
        column + level as in R (e.g. ``placement_typeHVB``).
    alpha : float, default 0.05
        Intervals have level 1 - alpha (fixed effects: Wald; units: simulation percentiles).
    reference : dict, optional
        Reference level per categorical column, e.g. ``{"placement_type": "FH"}``; default
        the first level in sorted order (as R's ``factor``).
    higher_is_worse : bool, default True
        Whether a higher rate of the outcome is worse (True for breakdowns; False for e.g.
        exits to permanency).
    n_draws : int, default 1000
        Simulation draws behind the unit intervals.
    seed : int, default 1
        Seed of the simulation (same seed, same intervals).

    Returns
    -------
    ComparisonResult
        ``summary`` has one row per unit, sorted by unit:

        - ``unit``: the unit (label column, values of ``unit_col``)
        - ``n``: episodes; ``observed``: events; ``observed_rate``: observed / n
        - ``expected``: sum over the unit's episodes of the predicted probability with the
          unit effect set to 0 (an average unit with this case mix)
        - ``predicted``: the same sum with the unit's conditional-mode effect
        - ``rsr``: risk-standardised rate, predicted / expected x overall rate
        - ``ci_lower``, ``ci_upper``: simulation percentile interval of ``rsr``
        - ``effect``: conditional mode of the unit's random intercept (log-odds), as
          ``ranef()``; ``effect_sd``: its conditional SD (``condVar``)
        - ``flag``: ordered categorical ``better``, ``no different`` or ``worse``: the interval
          lies wholly below or above the overall rate (which is worse depends on
          ``higher_is_worse``)

        ``fixed_effects`` holds ``estimate, se, z, ci_lower, ci_upper, p_value,
        exp_estimate`` per term; ``sigma_`` the random-intercept SD; ``metadata`` ``n``,
        ``n_units``, ``n_events``, ``overall_rate``, ``loglik``, ``sigma``, reference levels,
        the simulation settings and versions. :func:`evaluation.reporting.comparison_table.comparison_display`
        gives the table with disclosure control.

    Raises
    ------
    ParameterError
        If a column is missing or has missing values, the outcome is not 0/1 or has one value
        only, a case-mix term is constant or collinear, a reference level does not occur,
        or alpha or n_draws is invalid; also, before any fitting, if a case-mix column on its
        own separates the outcome (a level, or a value of a 0/1 column, whose rows all have
        outcome 0 or all 1, or a numeric threshold splitting the outcomes): its fixed effect
        would be infinite. The message names column, level and outcome value; merge the level
        with a similar one or drop the term.
    ConvergenceError
        If the likelihood maximisation or the conditional modes do not converge.

    Notes
    -----
    Model: logit P(y_ij = 1) = x_ij' beta + b_j, b_j ~ N(0, sigma^2). The likelihood is
    approximated by Laplace's method exactly as ``lme4::glmer(y ~ x + (1 | unit), family =
    binomial, nAGQ = 1)``: with u_j = b_j / sigma and u_j* the conditional mode of
    l_j(u) = sum_i log p(y_ij | u) - u^2 / 2, log L = sum_j [l_j(u_j*) - log(1 + sigma^2
    sum_i w_ij) / 2], w = mu (1 - mu) at the mode. The modes are found for all units at once
    by Newton's method; (beta, sigma) maximise log L by L-BFGS-B with the exact gradient
    (on the log scale of sigma, because sigma = 0 is always a stationary point; an estimate
    at the lower bound is replaced by sigma = 0 and the ordinary logistic fit when that has the
    higher likelihood), polished by Newton steps. Fixed-effect SEs come from the inverse
    observed information in (sigma, beta) (central differences of the exact gradient), as
    lme4's ``vcov`` (which differentiates numerically twice). Validated against R 4.2.2,
    lme4 1.1-31 (``tests/reference/comparison_reference.R``, 2,345 episodes, 39 units,
    15 fixed effects): the Laplace deviance at fixed parameter points agrees with glmer's
    ``devFunOnly`` function to 1e-9 relative; at the optimum our log-likelihood is 3.5e-10
    higher than glmer's (bobyqa, rhoend 1e-11), fixed effects differ by up to 7.5e-6
    (3e-5 relative), sigma by 1.4e-7 relative, conditional modes by 2e-7 and their SDs by
    1.4e-7 relative; SEs by up to 5.4e-5 relative.

    Intervals are by simulation from the approximate posterior (seeded): (beta, log sigma)
    is drawn from the normal approximation N(estimate, inverse observed information of the
    Laplace likelihood), then each unit effect from the Laplace approximation of its
    conditional distribution given that draw, b_j ~ N(mode_j, sigma^2 / (1 + sigma^2
    sum_i w_ij)); each draw gives rsr_j = predicted_j / expected_j x overall rate, and the
    interval is the alpha/2 and 1 - alpha/2 percentiles (computed on the rows grouped by
    unit and covariate pattern, so the cost is draws x such cells). The draws include all
    three sources of uncertainty: fixed effects, sigma (with few or small units sigma is
    often underestimated; an earlier check with sigma fixed at sigma_hat found only about 80 %
    coverage with 60 units) and each unit's effect given them. When sigma_hat = 0, sigma is not drawn and
    every unit's rsr is the overall rate. The overall rate is treated as fixed. Shrinkage: a
    unit with few episodes has an effect near 0, so its rsr is near the overall rate and its
    interval is wide; it is rarely flagged. The CMS hospital models use the same ratio (with
    a bootstrap over hospitals).

    Coverage (``benchmarks/simulate_comparison.py``, which documents the design). The truth
    of unit j is overall x sum_i expit(x_i' beta + b_j) / sum_i expit(x_i' beta) with the
    true beta, the true effect b_j and the unit's own case mix. With 290 units of very
    different sizes (about 12,000 episodes, median unit 18), 7 case-mix terms and sigma 0.3,
    over 60 data sets (``--seeds 60 --null-share 0``) the 95 % intervals covered 0.942 of
    the units: 0.943, 0.939, 0.945, 0.936 and 0.942 for units of 1-9, 10-29, 30-99, 100-299
    and 300+ episodes, misses on both sides alike (truth below the interval 3.2 %, above
    2.7 %); sigma_hat was 3 % low on average (0.290, Monte Carlo SE 0.0045). With the true
    (beta, sigma) in place of the estimates the same construction covers 0.946 (and the
    exact conditional distribution of b_j, by quadrature, 0.949; data sets 1-40), so the
    shortfall comes mainly from estimating sigma. With 60 units and 3,000 episodes (100
    data sets) coverage is 0.925 in every size band and sigma_hat is 8 % low. Reweighting
    the (beta, log sigma) draws by importance sampling to the Laplace likelihood with a
    flat prior on sigma changed coverage only to 0.930 with 60 units and not visibly with
    290, and made the intervals noisier, so it was not adopted. Treat the intervals as
    approximate: about 94 % with some 300 units, 92-93 % with 60. Flags: where a tenth of
    the units have no effect at all (``--null-share 0.1``) 0.2 % of those were flagged
    "worse" and 0.1 % "better" (60 data sets, 1,740 such units), and 3 % of all units were
    flagged: none of 1-9 episodes, about 20 % of 100-299 and about 40 % of 300+ (power
    grows with size).

    Separation is an error, not a warning with the term dropped: dropping a dummy level
    silently merges it with the reference level, so the case mix behind the rates would
    depend on which small levels happen to have only one outcome in this year's data, and
    rates would not be comparable between reports. Which levels to merge is a decision
    about the content (e.g. ``EGET`` with supported housing), recorded in the analysis.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(n_children=600, n_municipalities=8, seed=2).tables["episodes"]
    >>> ep = ep[ep["start_date"] <= "2023-12-31"]
    >>> days = (ep["end_date"] - ep["start_date"]).dt.days
    >>> breakdown = ~ep["planned_ending"].fillna(True).astype(bool) & (days <= 365)
    >>> d = pd.DataFrame({"municipality": ep["municipality_code"],
    ...                   "breakdown": breakdown.astype(int),
    ...                   "hvb": ep["placement_type"].isin(["HVB", "SIS"]),
    ...                   "criminality": ep["problem_criminality"]})
    >>> fit = risk_standardised(d, "breakdown", "municipality", ["hvb", "criminality"],
    ...                         n_draws=200)
    >>> list(fit.summary.columns[:6])
    ['unit', 'n', 'observed', 'observed_rate', 'expected', 'predicted']
    >>> set(fit.summary["flag"]) <= {"better", "no different", "worse"}
    True
    """
    alpha = check_alpha(alpha)
    if not isinstance(n_draws, (int, np.integer)) or isinstance(n_draws, bool) or n_draws < 100:
        raise ParameterError(f"n_draws must be a whole number of at least 100, got {n_draws!r}.")
    if not isinstance(higher_is_worse, (bool, np.bool_)):
        raise ParameterError(f"higher_is_worse must be True or False, got {higher_is_worse!r}.")
    d = _design(data, outcome_col, unit_col, case_mix, reference)
    y, x, unit = d["y"], d["x"], d["unit"]
    try:
        fit = _fit_glmm(y, x, unit)
    except ConvergenceError as exc:
        col = getattr(exc, "column", None)
        if col is None:
            raise
        raise ConvergenceError(str(exc).replace(f"the term in column {col + 1} of the design",
                                                f"term {d['names'][col]!r}")) from exc
    beta, sigma, vcov, lap = fit["beta"], fit["sigma"], fit["vcov"], fit["laplace"]
    n_units = lap.n_units

    # Fixed-effect table.
    se = np.sqrt(np.diag(vcov))
    zcrit = stats.norm.ppf(1 - alpha / 2)
    fixed = pd.DataFrame(
        {"estimate": beta, "se": se, "z": beta / se, "ci_lower": beta - zcrit * se,
         "ci_upper": beta + zcrit * se, "p_value": 2 * stats.norm.sf(np.abs(beta / se)),
         "exp_estimate": np.exp(beta)}, index=pd.Index(d["names"], name="term"))

    # Per-unit observed, expected, predicted.
    overall = float(y.mean())
    n = np.bincount(unit, minlength=n_units).astype(float)
    observed = lap._sum(y)
    lin = x @ beta
    effect = sigma * fit["u"]
    mu0 = special.expit(lin)
    mu1 = special.expit(lin + effect[unit])
    expected = lap._sum(mu0)
    predicted = lap._sum(mu1)
    effect_sd = sigma / np.sqrt(1 + sigma ** 2 * lap._sum(mu1 * (1 - mu1)))

    draws = _simulate_rsr(y, x, unit, beta, sigma, fit["cov"], fit["u"], overall, n_draws, seed)
    rsr = predicted / expected * overall
    ci_lower, ci_upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    above, below = ci_lower > overall, ci_upper < overall
    worse, better = (above, below) if higher_is_worse else (below, above)
    flag = np.where(worse, "worse", np.where(better, "better", "no different"))

    summary = pd.DataFrame({
        "unit": np.asarray(d["units"], dtype=object), "n": n.astype(np.int64),
        "observed": observed.round().astype(np.int64), "observed_rate": observed / n,
        "expected": expected, "predicted": predicted, "rsr": rsr, "ci_lower": ci_lower,
        "ci_upper": ci_upper, "effect": effect, "effect_sd": effect_sd,
        "flag": pd.Categorical(flag, categories=list(FLAGS), ordered=True)})
    return ComparisonResult(
        summary=summary,
        metadata={"method": "risk-standardised rates: random-intercept logistic model, "
                            "maximum likelihood (Laplace), as lme4::glmer(nAGQ = 1)",
                  "alpha": alpha, "n": len(y), "n_units": n_units, "n_events": int(y.sum()),
                  "overall_rate": overall, "loglik": fit["loglik"], "sigma": sigma,
                  "sigma_at_boundary": fit["at_boundary"], "outcome_col": outcome_col,
                  "unit_col": unit_col, "case_mix": list(case_mix),
                  "terms": list(d["names"]), "reference": d["reference"],
                  "higher_is_worse": bool(higher_is_worse),
                  "interval": "simulation from the approximate posterior ((beta, log sigma) "
                              "~ normal; unit effect | beta, sigma ~ Laplace), percentiles",
                  "n_draws": int(n_draws), "seed": seed, "iterations": fit["iterations"],
                  "versions": package_versions("numpy", "pandas", "scipy")},
        fixed_effects=fixed, sigma_=sigma, vcov_=vcov, rsr_draws_=draws)
