"""Confidence intervals of Cox-adjusted (directly standardised) survival curves and their
contrasts, :meth:`evaluation.models.coxph.CoxResult.adjusted_survival` with ``conf_type``.

Reference values: tests/reference/adjusted_survival_reference.R (R 4.2.2, survival 3.5-3,
riskRegression 2022.11.28), which simulates tests/reference/adjusted_survival_data.csv and
writes the adjusted_survival_*.csv files. No R needed to run.

- untied continuous ``time``: R ``riskRegression::ate(fit, treatment, data, times,
  estimator = "GFORMULA")`` with ``coxph(..., ties = "breslow")``;
- tied ``weeks``: influence functions written out by hand in R (Breslow estimator, dfbeta
  from survival), because riskRegression's influence function of beta is not the dfbeta of
  survival when event times tie (see ``test_riskregression_differs_under_ties``);
- Efron ties: the influence functions are checked as derivatives of the estimator with
  respect to a case weight (refits), and the standard errors against a seeded bootstrap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ParameterError
from evaluation.models.coxph import cox
from tests.helpers import REFERENCE as REF

COVS = ["treat", "age", "placement"]
TIMES = [30.0, 90.0, 180.0, 365.0]
WEEKS = [4.0, 13.0, 26.0, 52.0]

# model name in the reference files -> (variable, cox keyword arguments)
ATE_MODELS = {
    # coxph(Surv(time, event) ~ treatf + age + placement, ties = "breslow"); treatment treatf
    "binary": ("treat", {}),
    # coxph(Surv(time, event) ~ treat + age + placement, ties = "breslow"); placement
    "three": ("placement", {}),
    # coxph(Surv(time, event) ~ treat + age + placement + strata(muni), ties = "breslow")
    "strata": ("placement", {"strata_col": "muni"}),
    # "three" with ate's iid summed within child in R (rowsum), then sqrt(colSums(^2))
    "three_cluster": ("placement", {"cluster_col": "child"}),
}


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    return pd.read_csv(REF / "adjusted_survival_data.csv")


def _adjusted(episodes, duration, variable, kwargs, times, conf_type="plain", ties="breslow",
              **options):
    fit = cox(episodes, duration, "event", COVS, ties=ties, **kwargs)
    return fit.adjusted_survival(episodes, variable, times=times, conf_type=conf_type,
                                 **options)


def _merge(summary: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    got = summary.assign(group=summary["group"].astype(str))
    merged = ref.assign(group=ref["group"].astype(str)).merge(
        got, on=["group", "time"], suffixes=("_r", ""), validate="1:1")
    assert len(merged) == len(ref) == len(summary)
    return merged


@pytest.mark.parametrize("model", list(ATE_MODELS))
def test_adjusted_survival_se_matches_r_riskregression_ate(episodes, model):
    """ate(fit, treatment, data = d, times = c(30, 90, 180, 365))$meanRisk: risk = 1 - S,
    se, and the plain Wald limits (meanRisk.transform = "none"); ours are 1 - upper and
    1 - lower on the survival scale (none of these limits is cut at 0 or 1)."""
    variable, kwargs = ATE_MODELS[model]
    adj = _adjusted(episodes, "time", variable, kwargs, TIMES)
    ref = pd.read_csv(REF / "adjusted_survival_ate.csv")
    merged = _merge(adj.summary, ref[ref["model"] == model])
    assert_allclose(1 - merged["estimate"], merged["risk"], rtol=1e-6)
    assert_allclose(merged["se"], merged["se_r"], rtol=1e-6)
    if model != "three_cluster":           # R's limits are of the unclustered ate
        assert_allclose(1 - merged["ci_upper"], merged["lower"], rtol=1e-6)
        assert_allclose(1 - merged["ci_lower"], merged["upper"], rtol=1e-6)
    assert adj.metadata["standardise_over_fit_data"] is True
    assert ("cluster" in adj.metadata["variance"]) == (model == "three_cluster")
    n_units = episodes["child"].nunique() if model == "three_cluster" else len(episodes)
    assert adj.influence_.shape == (n_units, len(adj.summary))


@pytest.mark.parametrize("model", ["binary", "three", "strata"])
def test_log_log_limits_match_riskregression_cloglog(episodes, model):
    """confint(ate, meanRisk.transform = "cloglog"): log(-log(1 - risk)) is log(-log S), so
    the risk limits are 1 - our survival limits."""
    variable, kwargs = ATE_MODELS[model]
    adj = _adjusted(episodes, "time", variable, kwargs, TIMES, conf_type="log-log")
    ref = pd.read_csv(REF / "adjusted_survival_ate_loglog.csv")
    merged = _merge(adj.summary, ref[ref["model"] == model])
    assert_allclose(1 - merged["ci_upper"], merged["lower"], rtol=1e-6)
    assert_allclose(1 - merged["ci_lower"], merged["upper"], rtol=1e-6)
    s = adj.summary
    assert ((s["ci_lower"] < s["estimate"]) & (s["estimate"] < s["ci_upper"])).all()


@pytest.mark.parametrize("model", ["binary", "three", "strata"])
def test_contrast_matches_riskregression_diff_and_ratio(episodes, model):
    """ate(...)$diffRisk and $ratioRisk (B - A, B / A, A the reference; transform "none"):
    estimates, se, Wald limits and p-values, for every level against the first."""
    variable, kwargs = ATE_MODELS[model]
    adj = _adjusted(episodes, "time", variable, kwargs, TIMES)
    ref = pd.read_csv(REF / "adjusted_survival_contrast.csv")
    ref = ref[(ref["model"] == model) & (ref["reference"].astype(str)
                                         == str(adj.metadata["levels"][0]))]
    c = adj.contrast()
    assert list(c.columns) == [
        "group", "reference", "time", "risk", "risk_reference", "difference",
        "difference_se", "difference_ci_lower", "difference_ci_upper", "difference_p_value",
        "ratio", "ratio_se", "ratio_ci_lower", "ratio_ci_upper", "ratio_p_value"]
    merged = _merge(c, ref)
    for ours, theirs in [("difference", "difference_r"), ("difference_se", "difference_se_r"),
                         ("difference_ci_lower", "difference_lower"),
                         ("difference_ci_upper", "difference_upper"),
                         ("difference_p_value", "difference_p"), ("ratio", "ratio_r"),
                         ("ratio_se", "ratio_se_r"), ("ratio_ci_lower", "ratio_lower"),
                         ("ratio_ci_upper", "ratio_upper"), ("ratio_p_value", "ratio_p")]:
        assert_allclose(merged[ours], merged[theirs], rtol=1e-6, err_msg=ours)
    assert_allclose(merged["risk"] - merged["risk_reference"], merged["difference"])


def test_contrast_against_another_reference_flips_the_difference(episodes):
    adj = _adjusted(episodes, "time", "placement", {}, TIMES)
    a = adj.contrast(reference="family")
    b = adj.contrast(reference="kin")
    kin_vs_family = a[a["group"] == "kin"].reset_index(drop=True)
    family_vs_kin = b[b["group"] == "family"].reset_index(drop=True)
    assert_allclose(kin_vs_family["difference"], -family_vs_kin["difference"])
    assert_allclose(kin_vs_family["difference_se"], family_vs_kin["difference_se"])
    assert_allclose(kin_vs_family["ratio"], 1 / family_vs_kin["ratio"])
    assert set(b["group"]) == {"family", "institution"} and set(b["reference"]) == {"kin"}


HAND_MODELS = {
    # coxph(Surv(weeks, event) ~ treat + age + placement, ties = "breslow"); treat 0 and 1
    "binary": ("treat", {}),
    # the same model; each level of placement
    "three": ("placement", {}),
    # the same, influence functions summed within child (rowsum)
    "three_cluster": ("placement", {"cluster_col": "child"}),
    # coxph(Surv(entry_weeks, weeks, event) ~ treat + age + placement, ties = "breslow")
    "entry": ("placement", {"entry_col": "entry_weeks"}),
    "entry_cluster": ("placement", {"entry_col": "entry_weeks", "cluster_col": "child"}),
}


@pytest.mark.parametrize("model", list(HAND_MODELS))
def test_tied_breslow_se_matches_influence_functions_written_by_hand_in_r(episodes, model):
    """Weekly times with many ties (and delayed entry); hand() in
    adjusted_survival_reference.R (independent code: R's uncentred model matrix, dfbeta
    residuals of survival and explicit risk-set loops over entry < t <= stop)."""
    variable, kwargs = HAND_MODELS[model]
    adj = _adjusted(episodes, "weeks", variable, kwargs, WEEKS)
    ref = pd.read_csv(REF / "adjusted_survival_hand.csv")
    merged = _merge(adj.summary, ref[ref["model"] == model])
    assert_allclose(merged["estimate"], merged["estimate_r"], rtol=1e-6)
    assert_allclose(merged["se"], merged["se_r"], rtol=1e-6)


def test_riskregression_differs_under_ties(episodes):
    """Documented difference, not a target: with tied times (weekly data, about 40% of
    events tied) riskRegression 2022.11.28 gives the same estimates but other SEs (up to
    13% here): its iidCox()$IFbeta is not residuals(fit, "dfbeta") when times tie (they
    agree to 1e-15 without ties). Ours equal the hand-written Breslow influence functions
    and the finite-difference derivatives (tests above and below)."""
    adj = _adjusted(episodes, "weeks", "placement", {}, WEEKS)
    ref = pd.read_csv(REF / "adjusted_survival_ate_ties.csv")
    merged = _merge(adj.summary, ref)
    assert_allclose(1 - merged["estimate"], merged["risk"], rtol=1e-6)
    relative = np.abs(merged["se"] / merged["se_r"] - 1)
    assert relative.max() > 0.01 and relative.max() < 0.2


@pytest.mark.parametrize(("ties", "strata", "duration", "entry"), [
    ("efron", None, "weeks", None), ("breslow", None, "weeks", None),
    ("efron", "muni", "weeks", None), ("efron", None, "time", None),
    ("efron", "muni", "weeks", "entry_weeks")])
def test_influence_functions_are_derivatives_with_respect_to_a_case_weight(episodes, ties,
                                                                           strata, duration,
                                                                           entry):
    """Known truth: the model part of the influence function of row k is d theta / d w_k,
    the derivative of the estimate when row k's case weight moves from 1 (refit with
    weights, central difference). This checks the Efron form, which riskRegression does
    not implement exactly."""
    kwargs = {"strata_col": strata, "entry_col": entry}
    fit = cox(episodes, duration, "event", COVS, ties=ties, **kwargs)
    adj = fit.adjusted_survival(episodes, "placement", times=WEEKS if duration == "weeks"
                                else TIMES, conf_type="plain",
                                standardise_over_fit_data=False)
    eps = 1e-5
    for k in (0, 3, 17, 120, 299):
        est = []
        for sign in (1, -1):
            w = np.ones(len(episodes))
            w[k] += sign * eps
            refit = cox(episodes.assign(w=w), duration, "event", COVS, ties=ties,
                        weights_col="w", **kwargs)
            est.append(refit.adjusted_survival(episodes, "placement", times=adj.summary[
                "time"].unique()).summary["estimate"].to_numpy())
        derivative = (est[0] - est[1]) / (2 * eps)
        assert_allclose(adj.influence_[k], derivative, rtol=1e-5, atol=1e-9)


def test_efron_se_agrees_with_a_seeded_bootstrap(episodes):
    """Nonparametric bootstrap (rows resampled, 300 replicates, seed 11) of the Efron
    standardised curves over each replicate's own rows: the SEs agree within 15%
    (Monte Carlo error of a bootstrap SE with 300 replicates is about 4%)."""
    fit = cox(episodes, "weeks", "event", COVS)
    adj = fit.adjusted_survival(episodes, "placement", times=WEEKS, conf_type="plain")
    rng = np.random.default_rng(11)
    boots = []
    for _ in range(300):
        sample = episodes.iloc[rng.integers(0, len(episodes), len(episodes))]
        refit = cox(sample, "weeks", "event", COVS)
        boots.append(refit.adjusted_survival(sample, "placement", times=WEEKS)
                     .summary["estimate"].to_numpy())
    boot_se = np.std(boots, axis=0, ddof=1)
    assert_allclose(adj.summary["se"], boot_se, rtol=0.15)


def test_summary_columns_alpha_and_population_choice(episodes):
    fit = cox(episodes, "weeks", "event", COVS, alpha=0.1)
    adj = fit.adjusted_survival(episodes, "treat", times=WEEKS, conf_type="plain")
    s = adj.summary
    assert list(s.columns) == ["group", "time", "estimate", "se", "ci_lower", "ci_upper"]
    assert all(pd.api.types.is_float_dtype(s[c]) for c in s.columns[1:])
    assert adj.metadata["alpha"] == 0.1                       # the fit's alpha by default
    assert_allclose(s["ci_upper"] - s["estimate"], 1.6448536269514722 * s["se"])
    wide = fit.adjusted_survival(episodes, "treat", times=WEEKS, conf_type="plain",
                                 alpha=0.01).summary
    assert_allclose(wide["ci_upper"] - wide["estimate"], 2.5758293035489004 * wide["se"])
    # a subset is not the fit's rows: fixed target population, model uncertainty only
    sub = fit.adjusted_survival(episodes.iloc[:100], "treat", times=WEEKS, conf_type="plain")
    assert sub.metadata["standardise_over_fit_data"] is False
    fixed = fit.adjusted_survival(episodes, "treat", times=WEEKS, conf_type="plain",
                                  standardise_over_fit_data=False)
    assert fixed.metadata["standardise_over_fit_data"] is False
    assert_allclose(fixed.summary["estimate"], s["estimate"])
    assert not np.allclose(fixed.summary["se"], s["se"])
    # the estimates do not depend on whether intervals are computed
    plain = fit.adjusted_survival(episodes, "treat", times=WEEKS)
    assert_allclose(plain.summary["estimate"], s["estimate"], rtol=1e-12)
    assert "se" not in plain.summary and plain.influence_ is None


def test_times_before_the_first_event_have_zero_se_and_degenerate_limits(episodes):
    adj = _adjusted(episodes, "time", "placement", {}, [0.0, 30.0], conf_type="log-log")
    first = adj.summary[adj.summary["time"] == 0.0]
    assert_allclose(first[["estimate", "se"]].to_numpy(), [[1.0, 0.0]] * 3)
    assert_allclose(first["ci_lower"], 1.0) and assert_allclose(first["ci_upper"], 1.0)
    c = adj.contrast()
    assert c.loc[c["time"] == 0.0, ["ratio", "difference_p_value"]].isna().all().all()


def test_plot_draws_the_confidence_band(episodes):
    import matplotlib

    matplotlib.use("Agg")
    ax = _adjusted(episodes, "weeks", "placement", {}, WEEKS).plot()
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3


def test_adjusted_survival_ci_refuses_what_is_not_validated(episodes):
    w = episodes.assign(w=1.5)
    fit = cox(w, "weeks", "event", COVS, weights_col="w")
    with pytest.raises(ParameterError, match=r"case weights \(weights_col='w'\)"):
        fit.adjusted_survival(w, "treat", times=WEEKS, conf_type="plain")
    fit.adjusted_survival(w, "treat", times=WEEKS)              # estimates still work


def test_adjusted_survival_ci_rejects_bad_parameters(episodes):
    fit = cox(episodes, "weeks", "event", COVS)
    with pytest.raises(ParameterError, match="conf_type must be None, 'plain' or 'log-log'"):
        fit.adjusted_survival(episodes, "treat", conf_type="log")
    with pytest.raises(ParameterError, match="alpha must be"):
        fit.adjusted_survival(episodes, "treat", conf_type="plain", alpha=2)
    with pytest.raises(ParameterError, match="standardise_over_fit_data must be None, True"):
        fit.adjusted_survival(episodes, "treat", conf_type="plain",
                              standardise_over_fit_data="yes")
    with pytest.raises(ParameterError, match=r"data has 100 rows, the fit 300"):
        fit.adjusted_survival(episodes.iloc[:100], "treat", conf_type="plain",
                              standardise_over_fit_data=True)
    shuffled = episodes.iloc[::-1]
    with pytest.raises(ParameterError, match="a covariate differs from the fit's rows"):
        fit.adjusted_survival(shuffled, "treat", conf_type="plain",
                              standardise_over_fit_data=True)
    with pytest.raises(ParameterError, match=r"column 'weeks' \(duration_col\) differs"):
        fit.adjusted_survival(episodes.assign(weeks=1), "treat", conf_type="plain",
                              standardise_over_fit_data=True)
    late = cox(episodes, "weeks", "event", COVS, entry_col="entry_weeks")
    with pytest.raises(ParameterError, match=r"column 'entry_weeks' \(entry_col\) differs"):
        late.adjusted_survival(episodes.assign(entry_weeks=-1), "treat", conf_type="plain",
                               standardise_over_fit_data=True)
    no_ci = fit.adjusted_survival(episodes, "treat", times=WEEKS)
    with pytest.raises(ParameterError, match="has no influence functions"):
        no_ci.contrast()
    adj = fit.adjusted_survival(episodes, "placement", times=WEEKS, conf_type="plain")
    with pytest.raises(ParameterError, match="reference 'home' is not one of the levels"):
        adj.contrast(reference="home")
    one = fit.adjusted_survival(episodes, "placement", levels=["kin"], times=WEEKS,
                                conf_type="plain")
    with pytest.raises(ParameterError, match="contrast needs at least two levels"):
        one.contrast()
