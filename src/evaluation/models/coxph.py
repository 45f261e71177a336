"""Cox proportional-hazards regression: Efron or Breslow ties, case weights, delayed entry,
strata and cluster-robust standard errors, matching R's ``survival::coxph``.

The fit's proportional-hazards test and adjusted survival curves are methods of
:class:`CoxResult`, computed in :mod:`evaluation.models.cox_adjusted`; the design, risk sets
and Newton–Raphson are in :mod:`evaluation.models.cox_core`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse, stats

from evaluation.checks import check_alpha
from evaluation.errors import ConvergenceError, ParameterError
from evaluation.models.cox_adjusted import (
    PH_TRANSFORMS,
    AdjustedSurvivalResult,
    PHTestResult,
    cox_adjusted_survival,
    cox_ph_test,
)
from evaluation.models.cox_core import (
    EfronLikelihood,
    EfronRiskSets,
    cox_design,
    cox_newton,
    time_order,
)
from evaluation.models.results import Result, forest_plot, package_versions

__all__ = ["CoxResult", "cox"]


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
        if transform not in PH_TRANSFORMS:
            raise ParameterError(f"transform must be one of {', '.join(PH_TRANSFORMS)}; got "
                                 f"{transform!r}.")
        return cox_ph_test(self._fitted(), transform, self.metadata["alpha"])

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
        return cox_adjusted_survival(self._fitted(), self.metadata, data, variable, levels=levels,
                                     times=times, conf_type=conf_type, alpha=alpha,
                                     standardise_over_fit_data=standardise_over_fit_data)

    def _fitted(self) -> dict[str, Any]:
        if self.model_ is None:
            raise ParameterError("this CoxResult holds no fitted model data; refit with cox().")
        return self.model_


def cox(data: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str], *,
        entry_col: str | None = None, strata_col: str | Sequence[str] | None = None,
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
    strata_col : str or list of str, optional
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
    weight of those events (Breslow: l/d_k is replaced by 0). Each iteration makes one
    pass over the rows (x beta, one sparse product giving per event time the sums of w
    exp(eta) and w exp(eta) x over the risk set and over the tied events, and one weighted
    cross product of x for the information); the Efron terms are then summed per distinct
    time, O(T p^2) for T event times, as are the score residuals and the robust variance
    (O(n p) plus sorting). The robust variance is I^-1 (sum_c U_c U_c') I^-1,
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
    d = cox_design(data, duration_col, event_col, covariates, entry_col, strata_col, cluster_col,
                    weights_col)
    wt = d["weights"]
    center = d["x"].mean(axis=0)
    x = d["x"]
    x -= center                                                  # centring, as R coxph
    # fit on the rows sorted by (stratum, time), so that the sums by event time read them in
    # sequence; the residuals are put back in the order of data
    order = time_order(d["stop"], d["stratum"])
    xs, ws = np.take(x, order, axis=0), None if wt is None else wt[order]
    stop_s, stratum_s = d["stop"][order], d["stratum"][order]
    rs = EfronRiskSets(d["entry"][order], stop_s, d["event"][order], stratum_s, ties)
    lik = EfronLikelihood(rs, xs, ws)
    beta, loglik, loglik0, iterations = cox_newton(rs, xs, ws, d["names"], likelihood=lik)
    _, _, info, resid_s, hazard = lik.evaluate(beta, residuals=True)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    resid = np.take(resid_s, back, axis=0)                       # rows in the order of data
    var_naive = np.linalg.inv(info)
    se_naive = np.sqrt(np.diag(var_naive))
    n_clusters = None
    se_robust = np.full(len(beta), np.nan)
    var = var_naive
    variance = "model-based"
    fractional = wt is not None and bool((wt != np.floor(wt)).any())
    if d["cluster"] is not None or fractional:
        wresid = resid_s if ws is None else resid_s * ws[:, None]
        if d["cluster"] is not None:
            n_clusters = int(d["cluster"].max()) + 1
            members = sparse.csr_matrix((np.ones(len(x)), (d["cluster"][order],
                                                           np.arange(len(x)))),
                                        shape=(n_clusters, len(x)))
            u = members @ wresid                             # one pass: sums per cluster
            variance = "robust sandwich (clusters)"
        else:
            u = wresid
            variance = "robust sandwich (each row a cluster; non-integer weights, as R)"
        var = var_naive @ (u.T @ u) @ var_naive
        se_robust = np.sqrt(np.diag(var))
    se = np.sqrt(np.diag(var))
    if not (np.isfinite(beta).all() and np.isfinite(se).all() and np.isfinite(se_naive).all()):
        bad = int(np.flatnonzero(~(np.isfinite(se) & np.isfinite(se_naive)))[0]) \
            if np.isfinite(beta).all() else int(np.flatnonzero(~np.isfinite(beta))[0])
        raise ConvergenceError(f"the Cox model gave a non-finite estimate or standard error "
                               f"for {d['names'][bad]!r}; it may be collinear with other "
                               "covariates, have no events at a level, or extreme values. "
                               "Merge levels, rescale or drop it.")
    zcrit = stats.norm.ppf(1 - alpha / 2)
    z = beta / se
    summary = pd.DataFrame(
        {"estimate": beta, "se": se, "se_naive": se_naive, "se_robust": se_robust, "z": z,
         "ci_lower": beta - zcrit * se, "ci_upper": beta + zcrit * se,
         "p_value": 2 * stats.norm.sf(np.abs(z)), "exp_estimate": np.exp(beta)},
        index=pd.Index(d["names"], name="covariate"))
    # baseline cumulative hazard increments at the event times (survfit.coxph, centred x)
    ev_time, ev_stratum = np.zeros(rs.n_times), np.zeros(rs.n_times, dtype=np.int64)
    ev_time[rs.event_time] = stop_s[rs.event_rows]
    ev_stratum[rs.event_time] = stratum_s[rs.event_rows]
    strata_cols = ([] if strata_col is None else [strata_col] if isinstance(strata_col, str)
                   else list(strata_col))
    strata_keys = (pd.MultiIndex.from_frame(data[strata_cols].drop_duplicates().sort_values(
        strata_cols)) if strata_cols else None)        # in the order of groupby().ngroup()
    model = {"x": x, "center": center, "beta": beta, "entry": d["entry"], "stop": d["stop"],
             "event": d["event"], "stratum": d["stratum"], "weights": wt, "ties": ties,
             "coding": d["coding"], "terms": d["terms"], "info": info,
             "strata_cols": strata_cols, "strata_keys": strata_keys, "cluster": d["cluster"],
             "n_strata": int(d["stratum"].max()) + 1,
             "event_times": ev_time, "event_strata": ev_stratum,
             "hazard_increments": hazard}
    ties_name = "Efron" if ties == "efron" else "Breslow"
    return CoxResult(
        summary=summary,
        metadata={"method": f"Cox proportional hazards ({ties_name} ties)", "alpha": alpha,
                  "n": len(x), "n_events": int(d["event"].sum()), "loglik": loglik,
                  "loglik_null": loglik0, "iterations": iterations, "ties": ties,
                  "variance": variance, "n_clusters": n_clusters,
                  "duration_col": duration_col, "event_col": event_col, "entry_col": entry_col,
                  "strata_col": strata_col, "cluster_col": cluster_col, "weights_col": weights_col,
                  "covariates": list(d["names"]),
                  "versions": package_versions("numpy", "pandas", "scipy")},
        var_=var, var_naive_=var_naive, score_residuals_=resid, model_=model)
