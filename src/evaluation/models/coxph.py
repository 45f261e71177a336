"""Cox proportional-hazards regression: Efron or Breslow ties, case weights, delayed entry,
strata and cluster-robust standard errors, matching R's ``survival::coxph``; the
proportional-hazards test of ``cox.zph`` and adjusted (directly standardised) survival curves
with influence-function confidence intervals and contrasts (as R ``riskRegression::ate``).

Public names ``CoxResult`` and ``cox`` are re-exported from :mod:`evaluation.models.survival`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import check_alpha, refuse_missing
from evaluation.errors import ConvergenceError, ParameterError
from evaluation.models.results import Result, forest_plot, package_versions, step_curves_plot

__all__ = ["AdjustedSurvivalResult", "CoxResult", "PHTestResult", "cox"]

# --------------------------------------------------------------------------- Cox regression

_COX_MAX_ITER = 50
_COX_TOL = 1e-12
_PH_TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass
class PHTestResult(Result):
    """Test of proportional hazards on scaled Schoenfeld residuals (R ``cox.zph``).

    ``summary`` is indexed by ``term`` (one row per model term, then ``GLOBAL``) with the
    columns ``statistic`` (score chi-square), ``df`` and ``p_value``.

    Attributes
    ----------
    residuals_ : pandas.DataFrame
        One row per event, ordered by stratum and time: ``time``, ``transformed_time``
        (g(t) before centring, the x axis of R's ``plot.cox.zph``) and one column per term
        with the scaled Schoenfeld residuals (``$y`` of ``cox.zph``; NaN where a covariate is
        constant within the event's stratum).
    """

    residuals_: pd.DataFrame | None = field(default=None, repr=False)
    html_index: ClassVar[bool] = True

    def plot(self, ax=None, term: str | None = None):
        """Scaled Schoenfeld residuals of ``term`` (default: the first) against transformed
        time, with a lowess smooth and the Cox estimate as a dashed line; returns the Axes."""
        import matplotlib.pyplot as plt
        from statsmodels.nonparametric.smoothers_lowess import lowess

        terms = [t for t in self.summary.index if t != "GLOBAL"]
        term = terms[0] if term is None else term
        if term not in terms:
            raise ParameterError(f"term {term!r} is not a term of the model; terms: "
                                 f"{', '.join(terms)}.")
        ax = ax if ax is not None else plt.subplots()[1]
        res = self.residuals_.dropna(subset=[term])
        xt, y = res["transformed_time"].to_numpy(), res[term].to_numpy()
        ax.scatter(xt, y, s=8, alpha=0.5, color="grey")
        if len(np.unique(xt)) > 3:
            smooth = lowess(y, xt, frac=2 / 3, return_sorted=True)
            ax.plot(smooth[:, 0], smooth[:, 1], color="C0")
        level = self.metadata["estimates"].get(term)
        ax.axhline(1.0 if level is None else level, color="C3", linestyle="--", linewidth=1)
        ax.set_xlabel(f"time ({self.metadata['transform']} transform)")
        ax.set_ylabel(f"beta(t) for {term}")
        p = self.summary.loc[term, "p_value"]
        ax.set_title(f"{term}: test of proportional hazards, p = {p:.3g}")
        return ax


@dataclass
class AdjustedSurvivalResult(Result):
    """Survival curves standardised over the rows of a data set, one per level of a
    covariate (see :meth:`CoxResult.adjusted_survival`).

    ``summary`` has the columns ``group`` (the level), ``time``, ``estimate``, then, when
    confidence intervals were asked for, ``se``, and ``ci_lower``, ``ci_upper`` (NaN when
    they were not).

    Attributes
    ----------
    influence_ : numpy.ndarray or None
        Influence functions of the estimates: one row per row of the fit (per cluster when
        the fit used ``cluster_col``), one column per row of ``summary``, scaled so that
        the variance matrix of the estimates is ``influence_.T @ influence_`` (as the
        ``iid`` of R ``riskRegression::ate``). None when no intervals were computed.
    """

    influence_: np.ndarray | None = field(default=None, repr=False)

    def plot(self, ax=None):
        """Step plot of the adjusted survival curves, one per group (with the confidence
        band if computed); returns the Axes."""
        return step_curves_plot(self.summary, ax=ax, start=1.0, ylabel="adjusted survival",
                                ci=self.influence_ is not None,
                                legend_title=self.metadata["variable"])

    def contrast(self, reference: Any = None) -> pd.DataFrame:
        """Risk (1 - survival) differences and ratios of every level against a reference.

        Parameters
        ----------
        reference : optional
            The reference level (a value of ``summary["group"]``). Default: the first level.

        Returns
        -------
        pandas.DataFrame
            One row per level other than the reference and per time, with the columns
            ``group``, ``reference``, ``time``, ``risk`` (1 - S of the level), ``risk_reference``,
            ``difference`` (risk - risk_reference), ``difference_se``,
            ``difference_ci_lower``, ``difference_ci_upper``, ``difference_p_value``
            (Wald test of no difference), ``ratio`` (risk / risk_reference), ``ratio_se``,
            ``ratio_ci_lower``, ``ratio_ci_upper`` and ``ratio_p_value`` (Wald test of
            ratio 1).

        Raises
        ------
        ParameterError
            If the result has no influence functions (``adjusted_survival`` was called
            without ``conf_type``), or ``reference`` is not one of the levels.

        Notes
        -----
        Standard errors come from the joint influence functions of the curves (so the
        correlation between the levels, which share the model and the rows, is accounted
        for): IF(difference) = IF(risk) - IF(risk_reference) and IF(ratio) = IF(risk) /
        risk_reference - ratio IF(risk_reference) / risk_reference. Confidence limits are
        plain Wald limits estimate -+ z_{1-alpha/2} se on the difference and the ratio
        scale, and p-values use z = difference / se and z = (ratio - 1) / se, which is what
        R ``riskRegression::ate`` reports with its default ``diffRisk.transform = "none"``
        and ``ratioRisk.transform = "none"`` (validated against riskRegression 2022.11.28,
        ``tests/reference/adjusted_survival_reference.R``). A reference risk of 0 (a time
        before the first event) gives a NaN ratio.

        Examples
        --------
        >>> rng = np.random.default_rng(3)
        >>> df = pd.DataFrame({"days": rng.integers(1, 400, 300), "ended": rng.integers(0, 2, 300),
        ...                    "age": rng.uniform(0, 17, 300),
        ...                    "placement": rng.choice(["family", "HVB"], 300)})
        >>> fit = cox(df, "days", "ended", ["age", "placement"], ties="breslow")
        >>> adj = fit.adjusted_survival(df, "placement", times=[100, 200], conf_type="plain")
        >>> c = adj.contrast(reference="family")
        >>> c[["group", "reference", "time"]].values.tolist()
        [['HVB', 'family', 100.0], ['HVB', 'family', 200.0]]
        """
        if self.influence_ is None:
            raise ParameterError("this result has no influence functions; call "
                                 "adjusted_survival(..., conf_type='plain') (or 'log-log') "
                                 "to get standard errors and contrasts.")
        levels = list(self.metadata["levels"])
        reference = levels[0] if reference is None else reference
        matches = [i for i, lev in enumerate(levels) if lev == reference]
        if not matches:
            raise ParameterError(f"reference {reference!r} is not one of the levels; levels: "
                                 f"{', '.join(map(str, levels))}.")
        ref_i = matches[0]
        n_times = len(self.summary) // len(levels)
        est = self.summary["estimate"].to_numpy().reshape(len(levels), n_times)
        infl = self.influence_.reshape(len(self.influence_), len(levels), n_times)
        zcrit = stats.norm.ppf(1 - self.metadata["alpha"] / 2)
        times = self.summary["time"].to_numpy()[:n_times]
        risk_ref, if_ref = 1 - est[ref_i], -infl[:, ref_i]
        tables = []
        for i, lev in enumerate(levels):
            if i == ref_i:
                continue
            risk, if_risk = 1 - est[i], -infl[:, i]
            diff = risk - risk_ref
            diff_se = np.sqrt(((if_risk - if_ref) ** 2).sum(axis=0))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(risk_ref > 0, risk / risk_ref, np.nan)
                ratio_se = np.sqrt(((if_risk / risk_ref - ratio * if_ref / risk_ref) ** 2)
                                   .sum(axis=0))
                z_diff = np.where(diff_se > 0, diff / diff_se, np.nan)
                z_ratio = np.where(ratio_se > 0, (ratio - 1) / ratio_se, np.nan)
            tables.append(pd.DataFrame({
                "group": lev, "reference": reference, "time": times, "risk": risk,
                "risk_reference": risk_ref, "difference": diff, "difference_se": diff_se,
                "difference_ci_lower": diff - zcrit * diff_se,
                "difference_ci_upper": diff + zcrit * diff_se,
                "difference_p_value": 2 * stats.norm.sf(np.abs(z_diff)),
                "ratio": ratio, "ratio_se": ratio_se,
                "ratio_ci_lower": ratio - zcrit * ratio_se,
                "ratio_ci_upper": ratio + zcrit * ratio_se,
                "ratio_p_value": 2 * stats.norm.sf(np.abs(z_ratio))}))
        if not tables:
            raise ParameterError("contrast needs at least two levels; the result has only "
                                 f"{reference!r}.")
        return pd.concat(tables, ignore_index=True)


@dataclass
class CoxResult(Result):
    """Cox proportional-hazards fit; see :func:`cox` for the columns of ``summary``.

    Attributes
    ----------
    var_ : numpy.ndarray
        Variance matrix of the estimates used in ``summary`` (robust if clustered or with
        non-integer weights).
    var_naive_ : numpy.ndarray
        Model-based variance, the inverse of the observed information.
    score_residuals_ : numpy.ndarray
        Score residuals (rows of the data used x covariates), at the estimate (unweighted, as
        R ``residuals(fit, type = "score")``).
    """

    var_: np.ndarray | None = None
    var_naive_: np.ndarray | None = None
    score_residuals_: np.ndarray | None = None
    model_: dict[str, Any] | None = field(default=None, repr=False)
    html_index: ClassVar[bool] = True

    def plot(self, ax=None):
        """Forest plot of hazard ratios with confidence intervals (log axis); returns the Axes."""
        return forest_plot(self.summary, ax=ax, xlabel="hazard ratio")

    def ph_test(self, transform: str = "km") -> PHTestResult:
        """Test proportional hazards with the scaled Schoenfeld residuals, as R's
        ``cox.zph(fit, transform = transform)`` (survival 3.x algorithm).

        For each term, the score test of adding x * g(t) for the term's columns to the model
        (evaluated at the fitted estimate, so the score of the original columns is zero); a
        categorical covariate is one term with one df per dummy column (R ``terms = TRUE``).
        ``GLOBAL`` tests all terms together.

        Parameters
        ----------
        transform : {"km", "identity", "rank", "log"}, default "km"
            g(t): "km" is 1 minus the left-continuous Kaplan–Meier estimate of all rows
            (unweighted, ignoring strata, with delayed entry if given), "rank" the rank of
            the row's time among all rows, "log" the log time, "identity" the time itself.
            g is centred at its mean over the events.

        Returns
        -------
        PHTestResult
            ``summary`` indexed by term: ``statistic``, ``df``, ``p_value``; ``residuals_``
            holds the scaled Schoenfeld residuals; ``plot(term=...)`` draws them.

        Notes
        -----
        Validated against R 4.2.2, survival 3.5-3 (``tests/reference/cox_extra_reference.R``):
        statistics agree to a relative 1e-6 with Efron and Breslow ties, case weights,
        strata, delayed entry, a multi-df factor and all four transforms; so do the scaled
        residuals (with strata, delayed entry and a factor; R may order tied events
        differently). Cost: O(n p^2) after sorting.

        Examples
        --------
        >>> rng = np.random.default_rng(2)
        >>> df = pd.DataFrame({"days": rng.integers(1, 400, 300), "ended": rng.integers(0, 2, 300),
        ...                    "age": rng.uniform(0, 17, 300)})
        >>> ph = cox(df, "days", "ended", ["age"]).ph_test()
        >>> list(ph.summary.index), list(ph.summary.columns)
        (['age', 'GLOBAL'], ['statistic', 'df', 'p_value'])
        """
        if transform not in _PH_TRANSFORMS:
            raise ParameterError(f"transform must be one of {', '.join(_PH_TRANSFORMS)}; got "
                                 f"{transform!r}.")
        m = self._fitted()
        return _ph_test(m, transform, self.metadata["alpha"])

    def plot_ph(self, term: str | None = None, transform: str = "km", ax=None):
        """Scaled Schoenfeld residuals of ``term`` against transformed time (see
        :meth:`ph_test`); returns the Axes."""
        return self.ph_test(transform).plot(ax=ax, term=term)

    def adjusted_survival(self, data: pd.DataFrame, variable: str,
                          levels: Sequence[Any] | None = None,
                          times: Sequence[float] | None = None,
                          conf_type: str | None = None, alpha: float | None = None,
                          standardise_over_fit_data: bool | None = None
                          ) -> AdjustedSurvivalResult:
        """Survival curves adjusted by direct standardisation over the rows of ``data``,
        optionally with standard errors and confidence intervals from influence functions.

        For each level of ``variable``, every row of ``data`` gets that value, the model
        predicts the row's survival curve S_i(t) = exp(-H0(t) exp(x_i'beta)) with the Efron
        (or Breslow, as the fit) baseline cumulative hazard H0 of R's ``survfit.coxph``, and
        the curves are averaged over the rows (unweighted): theta(t) = mean_i S_i(t), the
        G-formula estimate of R ``riskRegression::ate`` (which reports 1 - theta).

        Parameters
        ----------
        data : pandas.DataFrame
            Rows to standardise over (usually the data of the fit), with every covariate of
            the model.
        variable : str
            A covariate of the model.
        levels : list, optional
            Values to set. Default: every level of a categorical covariate, or the distinct
            values of a numeric one if it has at most 10 (otherwise levels are required).
        times : list of float, optional
            Times to report (the step function is evaluated there). Default: the distinct
            event times of the fit.
        conf_type : {None, "plain", "log-log"}, default None
            None: no standard errors; ``ci_lower``/``ci_upper`` are NaN (the behaviour of
            earlier versions). "plain": Wald limits theta -+ z se, cut to [0, 1] (R
            ``riskRegression`` default, ``meanRisk.transform = "none"``, which does not
            cut). "log-log": limits from log(-log theta) -+ z se / (theta |log theta|),
            i.e. theta^exp(-+z se / (theta log theta)) (R ``survfit`` "log-log";
            riskRegression ``meanRisk.transform = "cloglog"`` on the risk 1 - theta).
        alpha : float, optional
            Confidence intervals have level 1 - alpha. Default: the ``alpha`` of the fit.
        standardise_over_fit_data : bool, optional
            Whether ``data`` are the rows the model was fitted to (same rows, same order),
            so that the standardised curve is a mean over the sample and its variance has
            the term of averaging over the empirical covariate distribution (as
            riskRegression ``ate`` with its own data). False: ``data`` are a fixed target
            population (e.g. a published case mix) and only the uncertainty of the model
            (beta and H0) enters. None (default): True if ``data`` holds the fit's rows
            (same number, same covariate, stratum, entry, duration and event values in the
            same order), else False. True when ``data`` do not match raises. Only used with
            ``conf_type``.

        Returns
        -------
        AdjustedSurvivalResult
            ``summary`` with columns ``group`` (the level), ``time``, ``estimate``, ``se``
            (only with ``conf_type``), ``ci_lower``, ``ci_upper`` (NaN without
            ``conf_type``); ``influence_`` holds the influence functions (for
            :meth:`AdjustedSurvivalResult.contrast`); ``metadata`` records ``alpha``,
            ``conf_type``, ``standardise_over_fit_data`` and ``variance``.

        Raises
        ------
        ParameterError
            If the variable, a level, a column or a time is invalid, a row of ``data`` is
            in a stratum the fit does not have, ``conf_type`` is unknown, or confidence
            intervals are asked for a fit with case weights (not validated; refused rather
            than returning an unvalidated standard error).

        Notes
        -----
        In a stratified model each row's curve uses the baseline hazard of its own stratum
        (``data`` must hold the strata columns), as ``survfit(fit, newdata = nd)`` does when
        ``nd`` holds the strata variable.
        Validated against R 4.2.2, survival 3.5-3: ``rowMeans(survfit(fit, newdata =
        nd)$surv)`` (stratified: of ``summary(..., times, extend = TRUE)``) agrees to a
        relative 1e-6 (Efron and Breslow ties, delayed entry, weights, strata).

        Standard errors (functional delta method). The influence function of theta(t) for
        row k of the fit is

            IF_k = D_beta(t)' IF_beta,k + mean_i dS_i/dH0 IF_H0,k(t, s_i)
                   [+ (S_k(t) - theta(t)) / n  if standardising over the fit data]

        with D_beta = -mean_i S_i H0(t, s_i) exp(x_i'beta) x_i, dS_i/dH0 = -S_i exp(x_i'beta),
        IF_beta,k = I^-1 U_k (U_k the score residual, I the information) and IF_H0,k the
        influence function of the baseline cumulative hazard of the row's stratum:
        sum over event times t_j <= t of dN_k(t_j) dH0_j / d_j - exp(x_k'beta) Y_k(t_j) sum_l
        w_kl / den_l^2, minus H1(t)' IF_beta,k, H1 = sum_l a_l / den_l (den_l, a_l the
        denominator and mean covariate of event term l; Breslow: one term per event with
        den = S0; Efron: den_l = S0 - (l/d) S0_D and w_kl = 1 - l/d if k is one of the d
        tied events, else 1; this is the exact derivative of the Efron estimator with respect
        to a case weight). The variance is sum_k IF_k^2 (the sum of the squared influence
        functions, without centring, as riskRegression); when the fit used ``cluster_col``
        the influence functions are first summed within clusters (the same sandwich as the
        robust variance of the coefficients).

        Validated (``tests/reference/adjusted_survival_reference.R``, R 4.2.2, survival
        3.5-3, riskRegression 2022.11.28): on untied times, estimates, standard errors,
        plain and log-log limits and contrasts agree with riskRegression ``ate(fit,
        treatment, data, times, estimator = "GFORMULA")`` for Breslow fits with a binary
        and a three-level variable, with strata, and clustered (ate's ``iid`` summed per
        cluster in R) to a relative 1e-6 (in fact about 1e-14). With tied times the
        standard errors agree to 1e-6 with influence functions written out by hand in R
        (Breslow, ``residuals(fit, type = "dfbeta")``; also with delayed entry, where the row
        is at risk on (entry, stop], and clustered) but not with riskRegression, whose
        ``iidCox()$IFbeta`` is not the dfbeta of survival when event times tie (up to 13%
        apart in the SE on weekly data; the estimates agree). For Efron fits riskRegression
        uses the Efron baseline hazard as we do (same estimates); our Efron influence
        function is the exact derivative of the Efron estimator with respect to a case
        weight (checked against finite differences of refits) and its SEs agree with a
        seeded bootstrap. Case weights are refused (not validated).
        Cost: O(rows x levels x times) time and memory.

        Examples
        --------
        >>> rng = np.random.default_rng(3)
        >>> df = pd.DataFrame({"days": rng.integers(1, 400, 300), "ended": rng.integers(0, 2, 300),
        ...                    "age": rng.uniform(0, 17, 300),
        ...                    "placement": rng.choice(["family", "HVB"], 300)})
        >>> fit = cox(df, "days", "ended", ["age", "placement"])
        >>> adj = fit.adjusted_survival(df, "placement", times=[100, 200])
        >>> adj.summary[["group", "time"]].values.tolist()
        [['HVB', 100.0], ['HVB', 200.0], ['family', 100.0], ['family', 200.0]]
        >>> ci = fit.adjusted_survival(df, "placement", times=[100, 200], conf_type="log-log")
        >>> list(ci.summary.columns)
        ['group', 'time', 'estimate', 'se', 'ci_lower', 'ci_upper']
        >>> ci.metadata["standardise_over_fit_data"]
        True
        """
        m = self._fitted()
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
        if variable not in m["coding"]:
            raise ParameterError(f"variable {variable!r} is not a covariate of the model; "
                                 f"covariates: {', '.join(m['coding'])}.")
        for col in [*m["coding"], *m["strata_cols"]]:
            if col not in data.columns:
                raise ParameterError(f"data has no column {col!r}, a covariate of the model.")
            if data[col].isna().any():
                raise ParameterError(f"column {col!r} of data has missing values; drop or "
                                     "impute those rows first.")
        if len(data) == 0:
            raise ParameterError("data has no rows; nothing to standardise over.")
        if conf_type not in (None, "plain", "log-log"):
            raise ParameterError(f"conf_type must be None, 'plain' or 'log-log'; got "
                                 f"{conf_type!r}.")
        alpha = self.metadata["alpha"] if alpha is None else check_alpha(alpha)
        if standardise_over_fit_data not in (None, True, False):
            raise ParameterError("standardise_over_fit_data must be None, True or False; got "
                                 f"{standardise_over_fit_data!r}.")
        coding = m["coding"][variable]
        if levels is None:
            if coding is not None:
                levels = list(coding)
            else:
                levels = sorted(pd.unique(data[variable]))
                if len(levels) > 10:
                    raise ParameterError(f"covariate {variable!r} is numeric with "
                                         f"{len(levels)} distinct values; give levels.")
        levels = list(levels)
        if not levels:
            raise ParameterError("levels is empty; give at least one value.")
        for lev in levels:
            if coding is not None and lev not in coding:
                raise ParameterError(f"level {lev!r} is not a level of {variable!r}; levels: "
                                     f"{', '.join(map(str, coding))}.")
            if coding is None and not (isinstance(lev, (int, float, np.number))
                                       and np.isfinite(lev)):
                raise ParameterError(f"levels of numeric {variable!r} must be finite "
                                     f"numbers; got {lev!r}.")
        ev_time, dh, ev_stratum = m["event_times"], m["hazard_increments"], m["event_strata"]
        if times is None:
            grid = np.unique(ev_time)
        else:
            grid = np.asarray(times, dtype=float).ravel()
            if grid.size == 0 or not np.isfinite(grid).all():
                raise ParameterError("times must be a non-empty list of finite numbers.")
        row_stratum = np.zeros(len(data), dtype=np.int64)
        if m["strata_cols"]:
            keys = pd.MultiIndex.from_frame(data[m["strata_cols"]])
            row_stratum = m["strata_keys"].get_indexer(keys)
            if (row_stratum < 0).any():
                i = int(np.flatnonzero(row_stratum < 0)[0])
                raise ParameterError(f"row {i} of data is in a stratum "
                                     f"({', '.join(m['strata_cols'])}) that the fit does not "
                                     "have; a stratum's baseline hazard is needed.")
        cumhaz = np.zeros((m["n_strata"], len(grid)))   # H0 of each stratum at grid
        for s_ in range(len(cumhaz)):
            sel = ev_stratum == s_
            cumhaz[s_] = np.concatenate([[0.0], np.cumsum(dh[sel])])[
                np.searchsorted(ev_time[sel], grid, side="right")]
        over_fit = None
        if conf_type is not None:
            if self.metadata.get("weights_col") is not None:
                raise ParameterError(
                    "confidence intervals of adjusted survival are not available for a fit "
                    f"with case weights (weights_col={self.metadata['weights_col']!r}): that "
                    "variance has not been validated. Refit without weights, or use "
                    "conf_type=None.")
            over_fit = self._rows_of_fit(data, row_stratum, standardise_over_fit_data)
        tables = []
        step = max(1, 5_000_000 // len(grid))
        influence = []
        if conf_type is not None:
            parts = _baseline_influence(m, grid)
        for lev in levels:
            x = _encode(data.assign(**{variable: lev}), m["coding"]) - m["center"]
            risk = np.exp(x @ m["beta"])
            if conf_type is None:
                est = np.zeros(len(grid))
                for i in range(0, len(risk), step):
                    est += np.exp(-risk[i:i + step, None]
                                  * cumhaz[row_stratum[i:i + step]]).sum(axis=0)
                est = est / len(risk)
            else:
                surv = np.exp(-risk[:, None] * cumhaz[row_stratum])
                est = surv.sum(axis=0) / len(risk)
                influence.append(_standardised_influence(m, parts, x, risk, surv, est,
                                                          row_stratum, cumhaz, over_fit))
            tables.append(pd.DataFrame({"group": lev, "time": grid, "estimate": est,
                                        "ci_lower": np.nan, "ci_upper": np.nan}))
        summary = pd.concat(tables, ignore_index=True)
        infl = None
        variance = None
        if conf_type is not None:
            infl = np.hstack(influence)
            variance = "influence function (functional delta method)"
            if m["cluster"] is not None:
                infl = pd.DataFrame(infl).groupby(m["cluster"]).sum().to_numpy()
                variance += ", summed within clusters (cluster-robust)"
            se = np.sqrt((infl ** 2).sum(axis=0))
            summary.insert(3, "se", se)
            lower, upper = _survival_limits(summary["estimate"].to_numpy(), se, alpha,
                                            conf_type)
            summary["ci_lower"], summary["ci_upper"] = lower, upper
        return AdjustedSurvivalResult(
            summary=summary,
            metadata={"method": "direct standardisation of Cox model survival curves "
                                f"({m['ties']} baseline, survfit.coxph)",
                      "alpha": alpha, "n": len(data), "variable": variable,
                      "levels": levels,
                      "confidence_intervals": ("not computed" if conf_type is None else
                                               f"{conf_type} (influence functions)"),
                      "conf_type": conf_type, "standardise_over_fit_data": over_fit,
                      "variance": variance, "n_clusters": self.metadata.get("n_clusters"),
                      "versions": package_versions("numpy", "pandas", "scipy")},
            influence_=infl)

    def _rows_of_fit(self, data: pd.DataFrame, row_stratum: np.ndarray,
                     requested: bool | None) -> bool:
        """Whether ``data`` are the rows of the fit, in order (see ``adjusted_survival``);
        raises if ``requested`` is True and they are not."""
        m = self.model_
        n = len(m["stop"])
        problem = None
        if len(data) != n:
            problem = f"data has {len(data)} rows, the fit {n}"
        else:
            x = _encode(data, m["coding"]) - m["center"]
            if not np.allclose(x, m["x"], rtol=0, atol=1e-9):
                problem = "a covariate differs from the fit's rows"
            elif not np.array_equal(row_stratum, m["stratum"]):
                problem = "a stratum differs from the fit's rows"
            else:
                checks = [("duration_col", m["stop"]), ("event_col", m["event"])]
                if self.metadata.get("entry_col") is not None:
                    checks.append(("entry_col", m["entry"]))
                for arg, values in checks:
                    col = self.metadata[arg]
                    if col not in data.columns:
                        problem = f"data has no column {col!r} ({arg}) to match the fit"
                        break
                    got = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
                    if not np.array_equal(got, values.astype(float)):
                        problem = f"column {col!r} ({arg}) differs from the fit's rows"
                        break
        if requested and problem is not None:
            raise ParameterError(f"standardise_over_fit_data=True but data are not the rows "
                                 f"of the fit ({problem}); pass the fitted data in the same "
                                 "order, or standardise_over_fit_data=False for a fixed "
                                 "target population.")
        if requested is None:
            return problem is None
        return bool(requested)

    def _fitted(self) -> dict[str, Any]:
        if self.model_ is None:
            raise ParameterError("this CoxResult holds no fitted model data; refit with cox().")
        return self.model_


def _levels(s: pd.Series) -> list[Any]:
    """Levels of a categorical covariate in R's factor order (categories, else sorted);
    categories that do not occur are dropped (as R ``droplevels``), so the reference is the
    first level present."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.remove_unused_categories().cat.categories)
    return list(pd.Categorical(s).categories)


def _encode(data: pd.DataFrame, coding: dict[str, list[Any] | None]) -> np.ndarray:
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


def _cox_design(data: Any, duration_col: str, event_col: str, covariates: Sequence[str],
                entry_col: str | None, strata: str | Sequence[str] | None,
                cluster_col: str | None, weights_col: str | None = None) -> dict[str, Any]:
    """Validate the inputs of :func:`cox` and return arrays (rows with complete data only)."""
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}; "
                             "read the file with evaluation.data.io first.")
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
             "cluster_col": [] if cluster_col is None else [cluster_col],
             "weights_col": [] if weights_col is None else [weights_col]}
    for arg, cols in named.items():
        for col in cols:
            if col not in data.columns:
                raise ParameterError(f"{arg} names {col!r}, which is not a column of data; "
                                     f"available columns: {', '.join(map(str, data.columns))}.")
    for arg, cols in named.items():
        for col in cols:
            refuse_missing(data[col], col, arg)
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
            coding[col] = _levels(s)
            if len(coding[col]) < 2:
                raise ParameterError(f"covariate {col!r} has a single level; drop it.")
            new = [f"{col}{lev}" for lev in coding[col][1:]]
        else:
            raise ParameterError(f"covariate {col!r} has dtype {s.dtype}, which is neither "
                                 "numeric nor categorical; convert it first.")
        terms[col] = list(range(len(names), len(names) + len(new)))
        names.extend(new)
    x = _encode(data, coding)
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


class _EfronRiskSets:
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


def _event_terms(rs: _EfronRiskSets, x: np.ndarray, beta: np.ndarray,
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


def _info_sum(rs: _EfronRiskSets, x: np.ndarray, r: np.ndarray, den: np.ndarray,
              a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum_l c_l (S2_l / den_l - a_l a_l'), S2_l the Efron-adjusted risk-set sum of r x x'."""
    ev, k = rs.event_rows, rs.event_time
    w = r * rs.range_sum(rs.time_sum(c / den))
    w[ev] -= r[ev] * rs.time_sum(c * rs.frac / den)[k]
    return (x * w[:, None]).T @ x - (c[:, None] * a).T @ a


def _efron_pass(rs: _EfronRiskSets, x: np.ndarray, beta: np.ndarray,
                wt: np.ndarray | None = None, residuals: bool = False) -> tuple[Any, ...]:
    """Weighted Efron (or Breslow) log partial likelihood, score, information (and
    unweighted score residuals), as R's coxfit6/agfit4 and coxscore2/agscore3."""
    eta, r, den, a, mw = _event_terms(rs, x, beta, wt)
    ev, k, f = rs.event_rows, rs.event_time, rs.frac
    w_ev = np.ones(len(ev)) if wt is None else wt[ev]
    with np.errstate(invalid="ignore", divide="ignore"):   # non-finite: step halving
        loglik = float(w_ev @ eta[ev] - mw @ np.log(den))
    score = w_ev @ x[ev] - mw @ a
    info = _info_sum(rs, x, r, den, a, mw)
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


def _baseline_influence(m: dict[str, Any], grid: np.ndarray) -> dict[str, np.ndarray]:
    """Pieces of the influence functions of beta and of the baseline cumulative hazard at
    ``grid`` for the rows of an unweighted fit (Breslow or Efron terms).

    Returns ``if_beta`` (rows x p: I^-1 U_k), ``own`` (rows x times: the row's influence on
    H0 of its own stratum, without the beta part) and ``h1`` (strata x times x p: the
    derivative of H0 with respect to beta).
    """
    rs = _EfronRiskSets(m["entry"], m["stop"], m["event"], m["stratum"], m["ties"])
    x, beta = m["x"], m["beta"]
    _, _, den, a, _ = _event_terms(rs, x, beta, None)
    *_, resid = _efron_pass(rs, x, beta, None, residuals=True)
    if_beta = resid @ np.linalg.inv(m["info"])
    ev, k, f = rs.event_rows, rs.event_time, rs.frac
    h = 1.0 / den
    d_haz = rs.time_sum(h)                               # increments of H0 per event time
    prefix_h2 = np.concatenate([[0.0], np.cumsum(rs.time_sum(h * h))])
    tie_h2 = rs.time_sum(f * h * h)                      # Efron: the l/d part; 1 - l/d net with prefix_h2
    prefix_h1 = np.vstack([np.zeros((1, x.shape[1])),
                           np.cumsum(rs.time_sum(h[:, None] * a), axis=0)])
    # last event time index <= grid, per stratum (event times are sorted by stratum, time)
    n_strata = m["n_strata"]
    ev_stratum, ev_time = m["event_strata"], m["event_times"]
    start = np.searchsorted(ev_stratum, np.arange(n_strata), side="left")
    last = np.empty((n_strata, len(grid)), dtype=np.int64)
    for s_ in range(n_strata):
        sel = slice(start[s_], np.searchsorted(ev_stratum, s_, side="right"))
        last[s_] = start[s_] - 1 + np.searchsorted(ev_time[sel], grid, side="right")
    h1 = prefix_h1[last + 1] - prefix_h1[start][:, None, :]
    r = np.exp(x @ beta)
    upper = np.minimum(rs.hi[:, None], last[m["stratum"]])             # rows x times
    lo = rs.lo[:, None]
    own = -r[:, None] * np.where(upper >= lo, prefix_h2[np.maximum(upper, lo - 1) + 1]
                                 - prefix_h2[np.minimum(lo, rs.n_times)], 0.0)
    reached = k[:, None] <= last[m["stratum"][ev]]                      # events x times
    own[ev] += reached * (d_haz[k] / rs.n_dead[k] + r[ev] * tie_h2[k])[:, None]
    return {"if_beta": if_beta, "own": own, "h1": h1}


def _standardised_influence(m: dict[str, Any], parts: dict[str, np.ndarray], x: np.ndarray,
                            risk: np.ndarray, surv: np.ndarray, est: np.ndarray,
                            row_stratum: np.ndarray, cumhaz: np.ndarray,
                            over_fit: bool) -> np.ndarray:
    """Influence functions (fit rows x times) of mean_i S_i(t) over the rows ``x`` (centred
    design with the level set), see :meth:`CoxResult.adjusted_survival`."""
    n_rows = len(risk)
    w = surv * risk[:, None] / n_rows                                  # -dS_i/dH0 / n
    c = np.zeros((m["n_strata"], surv.shape[1]))
    np.add.at(c, row_stratum, -w)                                      # per stratum
    d_beta = -(w * cumhaz[row_stratum]).T @ x                          # times x p
    coef = d_beta - np.einsum("sg,sgp->gp", c, parts["h1"])
    out = parts["if_beta"] @ coef.T + c[m["stratum"]] * parts["own"]
    if over_fit:
        out += (surv - est) / n_rows
    return out


def _survival_limits(est: np.ndarray, se: np.ndarray, alpha: float,
                     conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Confidence limits of survival probabilities: plain Wald (cut to [0, 1]) or log-log;
    where se is 0 or the estimate is 0 or 1 the limits are the estimate."""
    z = stats.norm.ppf(1 - alpha / 2)
    if conf_type == "plain":
        return np.clip(est - z * se, 0.0, 1.0), np.clip(est + z * se, 0.0, 1.0)
    ok = (se > 0) & (est > 0) & (est < 1)
    safe = np.where(ok, est, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.where(ok, z * se / (safe * np.abs(np.log(safe))), 0.0)
    lower = np.where(ok, safe ** np.exp(width), est)      # 0 < S < 1: a larger power is lower
    upper = np.where(ok, safe ** np.exp(-width), est)
    return lower, upper

def _newton_raphson(evaluate: Any, p: int, model: str, likelihood: str,
                    infinite_because: str, max_iter: int = _COX_MAX_ITER,
                    tol: float = _COX_TOL) -> tuple[np.ndarray, float, float, int]:
    """Maximise a log (partial) likelihood by Newton–Raphson with step halving, as R coxph.

    ``evaluate(beta)`` returns (loglik, score, information). Starts at 0 and stops when the
    largest change is below ``tol`` x (1 + max |beta|), or below 1e-9 with the log
    likelihood changing by at most ``tol`` relatively. Returns beta, loglik, the loglik at
    0 and the number of iterations; raises ConvergenceError naming ``model``.
    """
    beta = np.zeros(p)
    loglik, score, info = evaluate(beta)
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
                raise ConvergenceError(
                    f"Newton–Raphson could not increase the {likelihood}; an estimate may be "
                    f"infinite ({infinite_because}), or a covariate has extreme outliers.")
            new = (beta + new) / 2
            new_loglik, new_score, new_info = evaluate(new)
        change = np.max(np.abs(new - beta))
        done = change < tol * (1 + np.max(np.abs(new))) or \
            (change < 1e-9 and abs(new_loglik - loglik) <= tol * abs(new_loglik))
        beta, loglik, score, info = new, new_loglik, new_score, new_info
        if done:
            return beta, loglik, loglik0, it
    exc = ConvergenceError(
        f"{model} did not converge in {max_iter} Newton–Raphson iterations (last change "
        f"{np.max(np.abs(step)):.3g}); an estimate may be infinite ({infinite_because}).")
    exc.beta, exc.step = beta, step  # so a caller can name the diverging covariate
    raise exc


def _cox_newton(rs: _EfronRiskSets, x: np.ndarray,
                wt: np.ndarray | None = None) -> tuple[np.ndarray, float, float, int]:
    """Newton–Raphson with step halving, as R coxph; returns beta, loglik, null loglik, iters."""
    return _newton_raphson(lambda b: _efron_pass(rs, x, b, wt), x.shape[1], "Cox model",
                           "partial likelihood", "a covariate level with no events, or one "
                           "that perfectly predicts the order of events")


def cox(data: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str],
        entry_col: str | None = None, strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None, alpha: float = 0.05,
        weights_col: str | None = None, ties: str = "efron") -> CoxResult:
    """Cox proportional-hazards regression with Efron (or Breslow) ties, case weights,
    delayed entry, strata and cluster-robust standard errors.

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
        categorical columns are dummy coded against their first level (sorted, or the
        category order; categories that do not occur are dropped), as R's factor coding,
        named column + level (e.g. ``placementkin``).
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
    weights_col : str, optional
        Case weights (> 0), as R ``coxph(..., weights = w)``: a weight of 2 counts the row
        twice. See Notes for which variance is then used.
    ties : {"efron", "breslow"}, default "efron"
        Approximation of the partial likelihood for tied event times, as R ``ties=``.

    Returns
    -------
    CoxResult
        ``summary`` has one row per (dummy-coded) covariate, indexed by its name:

        - ``estimate``: log hazard ratio
        - ``se``: standard error used for the CI and p-value (robust if clustered or with
          non-integer weights)
        - ``se_naive``: model-based SE, sqrt of the diagonal of the inverse information
        - ``se_robust``: robust sandwich SE (NaN when the model-based variance is used)
        - ``z``: estimate / se
        - ``ci_lower``, ``ci_upper``: Wald limits estimate -+ z_{1-alpha/2} se (log scale)
        - ``p_value``: two-sided Wald p-value
        - ``exp_estimate``: hazard ratio exp(estimate)

        ``metadata`` holds ``n``, ``n_events`` (rows with an event, unweighted), ``loglik``,
        ``loglik_null``, ``iterations``, ``variance``, ``n_clusters`` and versions;
        ``var_``, ``var_naive_`` and ``score_residuals_`` the matrices. The result also keeps
        the design and baseline hazard for :meth:`CoxResult.ph_test` and
        :meth:`CoxResult.adjusted_survival`.

    Raises
    ------
    ParameterError
        If a column is missing or has missing values, a covariate is constant or neither
        numeric nor categorical, durations are negative, entry is not before duration, event
        codes are not 0/1, there are no events, a weight is not a finite number > 0, ties is
        unknown, or alpha is outside (0, 1).
    ConvergenceError
        If Newton–Raphson does not converge (e.g. an infinite estimate) or covariates are
        collinear.

    Notes
    -----
    Maximises the weighted Efron partial likelihood
    sum_k [sum_{i in D_k} w_i eta_i - wbar_k sum_{l<d_k} log(S0_k - (l/d_k) S0_Dk)] by
    Newton–Raphson (step halving, convergence to 1e-12), where S0_k sums w exp(eta) over
    the risk set of event time k, S0_Dk over the d_k tied events and wbar_k is the mean
    weight of those events (Breslow: l/d_k is replaced by 0). Risk-set sums are prefix-sum
    differences after one sort, so each iteration, the score residuals and the robust
    variance cost O(n p) (plus sorting). The robust variance is I^-1 (sum_c U_c U_c') I^-1,
    with U_c the sum over the rows of cluster c of w_i times the score residual (R
    ``coxph(..., cluster = id)``, i.e. ``crossprod`` of the weighted, collapsed dfbeta
    residuals; no small-sample factor).

    Which variance (as R ``coxph`` 3.5-3 chooses when ``robust`` is not given):

    - ``cluster_col`` given (with or without weights): robust, clustered;
    - weights and any weight is not a whole number, no cluster: robust, each row its own
      cluster (R sets ``robust = TRUE`` for non-integer weights, treating them as sampling
      weights);
    - otherwise (no weights, or whole-number weights treated as replication counts):
      model-based, ``se_robust`` is NaN.

    Validated against R 4.2.2, survival 3.5-3 (``tests/reference/cox_reference.R`` and
    ``cox_extra_reference.R``): coefficients, naive and robust SEs agree to a relative
    tolerance of 1e-6 or better, with and without delayed entry, strata, dummy-coded
    factors, case weights and Breslow ties.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"days": rng.integers(1, 400, 300), "ended": rng.integers(0, 2, 300),
    ...                    "age": rng.uniform(0, 17, 300), "child": rng.integers(0, 200, 300)})
    >>> fit = cox(df, "days", "ended", ["age"], cluster_col="child")
    >>> list(fit.summary.columns[:3])
    ['estimate', 'se', 'se_naive']
    """
    alpha = check_alpha(alpha)
    if ties not in ("efron", "breslow"):
        raise ParameterError(f"ties must be 'efron' or 'breslow', got {ties!r}.")
    d = _cox_design(data, duration_col, event_col, covariates, entry_col, strata, cluster_col,
                    weights_col)
    wt = d["weights"]
    center = d["x"].mean(axis=0)
    x = d["x"] - center                                          # centring, as R coxph
    rs = _EfronRiskSets(d["entry"], d["stop"], d["event"], d["stratum"], ties)
    beta, loglik, loglik0, iterations = _cox_newton(rs, x, wt)
    _, _, info, resid = _efron_pass(rs, x, beta, wt, residuals=True)
    var_naive = np.linalg.inv(info)
    se_naive = np.sqrt(np.diag(var_naive))
    n_clusters = None
    se_robust = np.full(len(beta), np.nan)
    var = var_naive
    variance = "model-based"
    fractional = wt is not None and bool((wt != np.floor(wt)).any())
    if d["cluster"] is not None or fractional:
        wresid = resid if wt is None else resid * wt[:, None]
        if d["cluster"] is not None:
            n_clusters = int(d["cluster"].max()) + 1
            u = np.column_stack([np.bincount(d["cluster"], weights=wresid[:, j],
                                             minlength=n_clusters) for j in range(len(beta))])
            variance = "robust sandwich (clusters)"
        else:
            u = wresid
            variance = "robust sandwich (each row a cluster; non-integer weights, as R)"
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
    # baseline cumulative hazard increments at the event times (survfit.coxph, centred x)
    _, _, den, _, mw = _event_terms(rs, x, beta, wt)
    ev_time, ev_stratum = np.zeros(rs.n_times), np.zeros(rs.n_times, dtype=np.int64)
    ev_time[rs.event_time] = d["stop"][rs.event_rows]
    ev_stratum[rs.event_time] = d["stratum"][rs.event_rows]
    strata_cols = [] if strata is None else [strata] if isinstance(strata, str) else list(strata)
    strata_keys = (pd.MultiIndex.from_frame(data[strata_cols].drop_duplicates().sort_values(
        strata_cols)) if strata_cols else None)        # in the order of groupby().ngroup()
    model = {"x": x, "center": center, "beta": beta, "entry": d["entry"], "stop": d["stop"],
             "event": d["event"], "stratum": d["stratum"], "weights": wt, "ties": ties,
             "coding": d["coding"], "terms": d["terms"], "info": info,
             "strata_cols": strata_cols, "strata_keys": strata_keys, "cluster": d["cluster"],
             "n_strata": int(d["stratum"].max()) + 1,
             "event_times": ev_time, "event_strata": ev_stratum,
             "hazard_increments": rs.time_sum(mw / den)}
    ties_name = "Efron" if ties == "efron" else "Breslow"
    return CoxResult(
        summary=summary,
        metadata={"method": f"Cox proportional hazards ({ties_name} ties)", "alpha": alpha,
                  "n": len(x), "n_events": int(d["event"].sum()), "loglik": loglik,
                  "loglik_null": loglik0, "iterations": iterations, "ties": ties,
                  "variance": variance, "n_clusters": n_clusters,
                  "duration_col": duration_col, "event_col": event_col, "entry_col": entry_col,
                  "strata": strata, "cluster_col": cluster_col, "weights_col": weights_col,
                  "covariates": list(d["names"]),
                  "versions": package_versions("numpy", "pandas", "scipy")},
        var_=var, var_naive_=var_naive, score_residuals_=resid, model_=model)


def _ph_test(m: dict[str, Any], transform: str, alpha: float) -> PHTestResult:
    """The score tests and scaled Schoenfeld residuals of R's ``cox.zph`` (zph1/zph2 C code)."""
    rs = _EfronRiskSets(m["entry"], m["stop"], m["event"], m["stratum"], m["ties"])
    x, beta, wt, stop, entry = m["x"], m["beta"], m["weights"], m["stop"], m["entry"]
    _, r, den, a, mw = _event_terms(rs, x, beta, wt)
    ev, k = rs.event_rows, rs.event_time
    if transform == "km":                   # 1 - left-continuous KM of all rows (survfitKM)
        u = np.unique(stop)
        n_risk = (len(stop) - np.searchsorted(np.sort(stop), u, side="left")
                  - (len(entry) - np.searchsorted(np.sort(entry), u, side="left")))
        dead = np.bincount(np.searchsorted(u, stop[ev]), minlength=len(u))
        surv = np.cumprod(1 - dead / np.maximum(n_risk, 1))
        idx = np.searchsorted(u, stop, side="left") - 1
        ttimes = 1 - np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)
    elif transform == "rank":
        ttimes = stats.rankdata(stop)
    elif transform == "log":
        if (stop <= 0).any():
            raise ParameterError("transform 'log' needs durations > 0; use 'km' or 'rank'.")
        ttimes = np.log(stop)
    else:
        ttimes = stop.astype(float)
    g = (ttimes - ttimes[ev].mean())[ev]
    w_ev = np.ones(len(ev)) if wt is None else wt[ev]
    p = len(beta)
    u_gamma = g @ (w_ev[:, None] * x[ev] - mw[:, None] * a)
    g1 = _info_sum(rs, x, r, den, a, mw * g)
    imat = np.block([[m["info"], g1], [g1, _info_sum(rs, x, r, den, a, mw * g * g)]])
    score = np.concatenate([np.zeros(p), u_gamma])
    terms = m["terms"]
    rows = []
    for name, jj in terms.items():
        kk = list(range(p)) + [p + j for j in jj]
        uk = score[kk]
        rows.append((name, float(uk @ np.linalg.solve(imat[np.ix_(kk, kk)], uk)), len(jj)))
    rows.append(("GLOBAL", float(score @ np.linalg.solve(imat, score)), p))
    summary = pd.DataFrame(rows, columns=["term", "statistic", "df"]).set_index("term")
    summary["df"] = summary["df"].astype(float)
    summary["p_value"] = stats.chi2.sf(summary["statistic"], summary["df"])

    # scaled Schoenfeld residuals, as cox.zph: solve(mean information per event) + coef
    stratum = m["stratum"]
    abar = rs.time_sum(a) / rs.n_dead[:, None]
    schoen = x[ev] - abar[k]
    order = np.lexsort((ev, stop[ev], stratum[ev]))
    schoen, ev_sorted = schoen[order], ev[order]
    n_strata = int(stratum.max()) + 1
    frame = pd.DataFrame(x).groupby(stratum)
    varies = (frame.max() - frame.min()).reindex(range(n_strata)).to_numpy() > 0
    used = varies * np.bincount(stratum[ev], minlength=n_strata)[:, None]
    wtmat = sum(np.minimum.outer(row, row) for row in used)
    vmean = m["info"] / np.where(wtmat == 0, 1, wtmat)
    tmat = np.zeros((p, len(terms)))
    for i, jj in enumerate(terms.values()):
        tmat[jj, i] = 1.0 if len(jj) == 1 else beta[jj]
    sres = schoen @ tmat
    vmean = tmat.T @ vmean @ tmat
    used = used[:, [jj[0] for jj in terms.values()]]
    ev_stratum = stratum[ev_sorted]
    for s in range(n_strata):
        sel = ev_stratum == s
        kk = np.flatnonzero(used[s] > 0)
        if kk.size:
            sres[np.ix_(sel, kk)] = np.linalg.solve(vmean[np.ix_(kk, kk)], sres[np.ix_(sel, kk)].T).T
        sres[np.ix_(sel, np.flatnonzero(used[s] == 0))] = np.nan
    estimates = {name: float(beta[jj[0]]) if len(jj) == 1 else None
                 for name, jj in terms.items()}
    sres += np.array([1.0 if v is None else v for v in estimates.values()])
    residuals = pd.DataFrame(sres, columns=list(terms))
    residuals.insert(0, "transformed_time", ttimes[ev_sorted])
    residuals.insert(0, "time", stop[ev_sorted])
    return PHTestResult(
        summary=summary,
        metadata={"method": "test of proportional hazards on scaled Schoenfeld residuals "
                            "(survival::cox.zph, survival 3.x)", "alpha": alpha,
                  "n": len(stop), "n_events": len(ev), "transform": transform,
                  "estimates": estimates,
                  "versions": package_versions("numpy", "pandas", "scipy")},
        residuals_=residuals)
