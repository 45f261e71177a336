"""Tests of evaluation.models.effects.estimate_effect against base R, a known truth and hand checks.

Reference values come from ``tests/reference/effects_reference.R`` (run with
``Rscript tests/reference/effects_reference.R`` from the repository root; R 4.2.2, base
``glm`` plus the estimators and influence functions written out). It reads
``tests/reference/effects_data.csv``, which :func:`make_reference_data` writes
(``.venv/bin/python tests/test_effects.py`` regenerates it). The tests need no R.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import (
    BootstrapFailureWarning,
    ExtremeWeightsWarning,
    OutcomeSeparationWarning,
    ParameterError,
    PositivityWarning,
    PropensitySeparationWarning,
    SeparationWarning,
)
from evaluation.models.effects import EffectResult, _e_value, estimate_effect
from tests.helpers import EFFECT_COVARIATES
from tests.helpers import REFERENCE as REF

COVS = EFFECT_COVARIATES


def make_reference_data(n: int = 2000, seed: int = 20261125) -> pd.DataFrame:
    """The 2,000 synthetic rows of ``effects_data.csv``: confounded binary treatment
    ``treat``, three-arm ``arm3`` (FH/HVB/SIS), binary ``yb`` and continuous ``yc`` outcomes,
    ``child`` clusters (about a third of the children have several rows)."""
    rng = np.random.default_rng(seed)
    child = np.sort(rng.integers(1, int(n * 0.75), n))
    age = np.round(rng.uniform(0, 17.99, n), 2)
    sex = rng.integers(0, 2, n)
    behav = (rng.random(n) < 0.2 + 0.03 * np.maximum(age - 10, 0)).astype(int)
    placement = rng.choice(["FH", "NH", "HVB"], n, p=[0.5, 0.2, 0.3])
    lp = -2.2 + 0.12 * age + 0.9 * behav - 0.3 * sex + 0.5 * (placement == "HVB")
    treat = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    eta1 = 0.1 * (age - 9) + 0.8 * behav
    eta2 = -0.5 + 0.2 * (age - 9) + 0.3 * sex
    pr = np.column_stack([np.ones(n), np.exp(eta1), np.exp(eta2)])
    pr /= pr.sum(axis=1, keepdims=True)
    u = rng.random(n)
    arm3 = np.array(["FH", "HVB", "SIS"])[(u[:, None] > np.cumsum(pr, axis=1)[:, :2]).sum(axis=1)]
    yb_lp = -1.5 + 0.06 * age + 0.7 * behav + 0.4 * treat + 0.2 * (placement == "NH")
    yb = (rng.random(n) < 1 / (1 + np.exp(-yb_lp))).astype(int)
    yc = np.round(10 + 0.3 * age + 2 * behav + 1.5 * treat - 0.5 * sex
                  + 0.1 * age * treat + rng.normal(0, 3, n), 3)
    return pd.DataFrame({"child": child, "age": age, "sex": sex, "behav": behav,
                         "placement": placement, "treat": treat, "arm3": arm3,
                         "yb": yb, "yc": yc})


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REF / "effects_estimates.csv")


def test_reference_csv_is_reproduced_by_make_reference_data(ref_data):
    pd.testing.assert_frame_equal(make_reference_data(), ref_data, check_exact=False,
                                  rtol=1e-12)


# --------------------------------------------------------------------------- against R
def _r_cases(reference: pd.DataFrame) -> list[tuple]:
    return sorted({tuple(r) for r in reference[["treatment", "estimand", "method", "outcome",
                                                "truncate"]].itertuples(index=False)})


R_CASES = _r_cases(pd.read_csv(REF / "effects_estimates.csv"))


@pytest.mark.parametrize("cluster", [False, True])
@pytest.mark.parametrize(("treatment", "estimand", "method", "outcome", "truncate"), R_CASES)
def test_estimate_effect_matches_base_r(ref_data, reference, treatment, estimand, method,
                                        outcome, truncate, cluster):
    """R: effects_reference.R, e.g. for treat/ATE/aipw/yb
    ps <- glm(treat ~ age + sex + behav + placement, binomial); per-arm outcome glm()s;
    mu_a = (sum(h m_a) + sum(1{A=a} w_a (y - m_a))) / sum(h), phi from the stacked
    estimating equations; se = sqrt(sum(phi^2)) / n (clustered: rowsum by child first).
    Arm means, differences and log risk ratios and their SEs agree at 1e-6 relative.
    truncate = 0.1: weights from max(e, 0.1) and max(1 - e, 0.1), truncated scores held
    fixed in the influence function."""
    kw = {"treated": "HVB"} if (treatment == "arm3" and estimand == "ATT") else {}
    fit = estimate_effect(ref_data, treatment, outcome, COVS, method=method,
                          estimand=estimand, cluster_col="child" if cluster else None,
                          truncate=truncate or None, **kw)
    ref = reference[(reference["treatment"] == treatment) & (reference["estimand"] == estimand)
                    & (reference["method"] == method) & (reference["outcome"] == outcome)
                    & (reference["truncate"] == truncate)]
    se_col = "se_cluster" if cluster else "se"
    arms = fit.arms.set_index("arm")
    control = "0" if treatment == "treat" else "FH"
    diff = "risk_difference" if outcome == "yb" else "mean_difference"
    checked = 0
    for _, r in ref.iterrows():
        q = r["quantity"]
        if q.startswith("mu_"):
            est, se = arms.loc[q[3:], "estimate"], arms.loc[q[3:], "se"]
        else:
            kind, _, lev = q.partition("_")
            lev = lev or "1"
            if kind == "difference":
                measure = diff
            else:
                measure, lev = "risk_ratio", "1"
            row = fit.summary[(fit.summary["contrast"] == f"{lev} vs {control}")
                              & (fit.summary["measure"] == measure)]
            if row.empty:            # ATT with treated="HVB" reports only HVB vs FH
                assert kw and lev == "SIS"
                continue
            est, se = row["estimate"].iloc[0], row["se"].iloc[0]
            if measure == "risk_ratio":
                est = np.log(est)
        assert_allclose(est, r["estimate"], rtol=1e-6, atol=1e-12, err_msg=q)
        assert_allclose(se, r[se_col], rtol=1e-6, err_msg=q)
        checked += 1
    assert checked >= 3


# --------------------------------------------------------------------------- known truth
# Discrete confounders make the truth exact: x1 in {0, 1, 2} (P 0.3, 0.4, 0.3), x2 ~ Bern(0.5)
# independent. Treatment logit = -1 + 0.9 x1 - 0.8 x2 (a logistic model in x1, x2, so the
# propensity model is correct); continuous outcome Y(a) = 1 + 2 x1 + x2 + a (1 + 1.5 x1) + N(0, 1)
# (linear in each arm, so the per-arm outcome models are correct); binary outcome
# P(Y(a) = 1) = expit(-1.5 + 0.9 x1 - 0.6 x2 + a (0.8 - 0.3 x2)) (logistic in each arm).
X1 = np.array([0, 1, 2])
P1 = np.array([0.3, 0.4, 0.3])


def _cells() -> pd.DataFrame:
    g = pd.DataFrame([(x1, x2, p * 0.5) for x1, p in zip(X1, P1) for x2 in (0, 1)],
                     columns=["x1", "x2", "p"])
    g["e"] = 1 / (1 + np.exp(-(-1 + 0.9 * g["x1"] - 0.8 * g["x2"])))
    g["tau_c"] = 1 + 1.5 * g["x1"]
    lp0 = -1.5 + 0.9 * g["x1"] - 0.6 * g["x2"]
    g["tau_b"] = 1 / (1 + np.exp(-(lp0 + 0.8 - 0.3 * g["x2"]))) - 1 / (1 + np.exp(-lp0))
    return g


def true_effects() -> dict[tuple[str, str], float]:
    """Exact ATE, ATT and ATO by summing over the six covariate cells."""
    g = _cells()
    tilt = {"ATE": g["p"], "ATT": g["p"] * g["e"], "ATO": g["p"] * g["e"] * (1 - g["e"])}
    return {(est, y): float((t * g[f"tau_{y[1]}"]).sum() / t.sum())
            for est, t in tilt.items() for y in ("yc", "yb")}


def simulate_truth_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.choice(X1, n, p=P1)
    x2 = rng.integers(0, 2, n)
    a = (rng.random(n) < 1 / (1 + np.exp(-(-1 + 0.9 * x1 - 0.8 * x2)))).astype(int)
    yc = 1 + 2 * x1 + x2 + a * (1 + 1.5 * x1) + rng.normal(0, 1, n)
    lp = -1.5 + 0.9 * x1 - 0.6 * x2 + a * (0.8 - 0.3 * x2)
    yb = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "a": a, "yc": yc, "yb": yb})


def test_true_effects_closed_form_sanity():
    truth = true_effects()
    # ATE of the continuous outcome: 1 + 1.5 E[x1] = 1 + 1.5 * 1.0
    assert truth[("ATE", "yc")] == pytest.approx(2.5, abs=1e-12)
    # treated children have larger x1, so ATT > ATE for the continuous outcome
    assert truth[("ATT", "yc")] > truth[("ATE", "yc")] + 0.1


@pytest.mark.parametrize("seed", [101, 202])
@pytest.mark.parametrize("outcome", ["yc", "yb"])
@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATO"])
def test_adjusted_methods_recover_the_known_truth_and_naive_does_not(seed, outcome, estimand):
    data = simulate_truth_data(20_000, seed)
    truth = true_effects()[(estimand, outcome)]
    covs = "C(x1) + x2" if outcome == "yb" else ["x1", "x2"]
    for method in ("regression", "ipw", "aipw"):
        if method == "regression" and outcome == "yb":
            covs_m = "C(x1) * x2"    # per-arm logistic model must be saturated-correct
        else:
            covs_m = covs
        s = estimate_effect(data, "a", outcome, covs_m, method=method,
                            estimand=estimand).summary.iloc[0]
        assert abs(s["estimate"] - truth) < 3.5 * s["se"], (method, s["estimate"], truth)
        assert s["se"] < 0.05
    naive = estimate_effect(data, "a", outcome, covs, method="naive").summary.iloc[0]
    assert abs(naive["estimate"] - truth) > 8 * naive["se"]


@pytest.mark.filterwarnings("ignore:positivity")
def test_multinomial_propensity_recovers_three_arm_ate():
    """Three arms with a multinomial-logistic assignment in x1, x2 and an additive arm effect
    (0, 1, -0.5) on a linear outcome: every adjusted ATE contrast is recovered exactly in
    expectation; the naive contrasts are confounded."""
    rng = np.random.default_rng(7)
    n = 30_000
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n)
    eta = np.column_stack([np.zeros(n), 0.8 * x1 + 0.5 * x2, -0.6 * x1 + 0.7 * x2 - 0.3])
    pr = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    arm = (rng.random(n)[:, None] > np.cumsum(pr, axis=1)[:, :2]).sum(axis=1)
    y = 2 * x1 + x2 + np.array([0.0, 1.0, -0.5])[arm] + rng.normal(0, 1, n)
    df = pd.DataFrame({"arm": np.array(["FH", "HVB", "SIS"])[arm], "y": y, "x1": x1, "x2": x2})
    truth = {"HVB vs FH": 1.0, "SIS vs FH": -0.5}
    for method in ("regression", "ipw", "aipw"):
        fit = estimate_effect(df, "arm", "y", ["x1", "x2"], method=method)
        s = fit.summary.set_index("contrast")
        assert fit.metadata["propensity_model"] == "multinomial logistic"
        for con, tr in truth.items():
            assert abs(s.loc[con, "estimate"] - tr) < 3.5 * s.loc[con, "se"], (method, con)
    naive = estimate_effect(df, "arm", "y", ["x1", "x2"], method="naive").summary
    assert (np.abs(naive["estimate"].to_numpy() - [1.0, -0.5]) > 8 * naive["se"]).all()


def test_influence_function_se_matches_sampling_sd():
    """Across 120 seeded replicate data sets (n = 1,500), the mean IF-based SE of the AIPW
    and IPW ATT risk differences is within 20 % of the SD of the estimates (MC error ~6.5 %)."""
    methods = ("ipw", "aipw")
    est, se = np.empty((120, 2)), np.empty((120, 2))
    for rep in range(120):
        d = simulate_truth_data(1500, 10_000 + rep)
        for j, method in enumerate(methods):
            s = estimate_effect(d, "a", "yb", ["x1", "x2"], method=method,
                                estimand="ATT").summary.iloc[0]
            est[rep, j], se[rep, j] = s["estimate"], s["se"]
    ratio = se.mean(axis=0) / est.std(axis=0, ddof=1)
    assert ((ratio > 0.8) & (ratio < 1.2)).all(), dict(zip(methods, ratio))


# --------------------------------------------------------------------------- hand checks
def _logit_ps(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    import statsmodels.api as sm

    return sm.GLM(a, sm.add_constant(x), family=sm.families.Binomial()).fit().fittedvalues


def test_balance_table_and_ess_match_hand_computation(ref_data):
    fit = estimate_effect(ref_data, "treat", "yc", ["age", "sex", "behav"], method="ipw")
    a = ref_data["treat"].to_numpy()
    x = ref_data[["age", "sex", "behav"]].to_numpy(dtype=float)
    e = np.asarray(_logit_ps(x, a))
    w = np.where(a == 1, 1 / e, 1 / (1 - e))
    b = fit.balance.set_index("covariate")
    for j, name in enumerate(["age", "sex", "behav"]):
        x1, x0 = x[a == 1, j], x[a == 0, j]
        sd = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
        assert_allclose(b.loc[name, "smd_unadjusted"], (x1.mean() - x0.mean()) / sd, rtol=1e-10)
        m1 = np.average(x1, weights=w[a == 1])
        m0 = np.average(x0, weights=w[a == 0])
        assert_allclose(b.loc[name, "smd_adjusted"], (m1 - m0) / sd, rtol=1e-6, atol=1e-10)
        v1 = np.average((x1 - m1) ** 2, weights=w[a == 1])
        v0 = np.average((x0 - m0) ** 2, weights=w[a == 0])
        assert_allclose(b.loc[name, "variance_ratio_adjusted"], v1 / v0, rtol=1e-6)
        assert b.loc[name, "imbalanced"] == (abs(b.loc[name, "smd_adjusted"]) > 0.1)
    assert b.loc["age", "smd_unadjusted"] > 0.1          # the data are confounded by age
    for arm, wa in ((1, w[a == 1]), (0, w[a == 0])):
        assert_allclose(fit.ess[str(arm)], wa.sum() ** 2 / (wa ** 2).sum(), rtol=1e-6)
        assert fit.ess[str(arm)] < (a == arm).sum()


def test_att_balance_is_standardised_by_the_sd_of_the_treated_arm(ref_data):
    """ATT: SMD = (mean_treated - mean_control) / sd_treated before and after weighting
    (cobalt's s.d.denom = "treated"); control rows weighted by e / (1 - e), treated by 1."""
    covs = ["age", "sex", "behav"]
    fit = estimate_effect(ref_data, "treat", "yc", covs, method="ipw", estimand="ATT")
    a = ref_data["treat"].to_numpy()
    x = ref_data[covs].to_numpy(dtype=float)
    e = np.asarray(_logit_ps(x, a))
    w0 = (e / (1 - e))[a == 0]
    b = fit.balance.set_index("covariate")
    ratio = []
    for j, name in enumerate(covs):
        x1, x0 = x[a == 1, j], x[a == 0, j]
        sd1 = x1.std(ddof=1)
        ratio.append(sd1 / np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2))
        assert_allclose(b.loc[name, "smd_unadjusted"], (x1.mean() - x0.mean()) / sd1,
                        rtol=1e-10)
        m0 = np.average(x0, weights=w0)
        assert_allclose(b.loc[name, "smd_adjusted"], (x1.mean() - m0) / sd1, rtol=1e-6,
                        atol=1e-10)
        assert b.loc[name, "imbalanced"] == (abs(b.loc[name, "smd_adjusted"]) > 0.1)
    assert max(abs(np.log(ratio))) > 0.05  # treated and pooled SD differ (behav: ~10 %)
    # ATE and ATO keep the pooled SD (checked by hand above and against R in
    # test_effects_sandwich.py); the naive and regression methods show the same ATT balance.
    for method in ("naive", "regression", "aipw"):
        other = estimate_effect(ref_data, "treat", "yc", covs, method=method, estimand="ATT")
        pd.testing.assert_frame_equal(other.balance, fit.balance, check_exact=True)


def test_att_balance_of_every_pair_uses_the_target_arm_sd(ref_data):
    """Three arms, ATT in the HVB population, every pair: each pair's SMD is divided by the
    SD of the HVB arm, also for SIS vs FH (neither arm is the target)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = estimate_effect(ref_data, "arm3", "yb", COVS, method="ipw", estimand="ATT",
                              treated="HVB", contrasts="all")
    arm, x, w = ref_data["arm3"].to_numpy(), ref_data["age"].to_numpy(), fit.weights_
    sd = x[arm == "HVB"].std(ddof=1)
    b = fit.balance.set_index(["contrast", "covariate"])
    for t, c in (("HVB", "FH"), ("SIS", "FH"), ("SIS", "HVB")):
        rt, rc = arm == t, arm == c
        assert_allclose(b.loc[(f"{t} vs {c}", "age"), "smd_unadjusted"],
                        (x[rt].mean() - x[rc].mean()) / sd, rtol=1e-10)
        assert_allclose(b.loc[(f"{t} vs {c}", "age"), "smd_adjusted"],
                        (np.average(x[rt], weights=w[rt]) - np.average(x[rc], weights=w[rc]))
                        / sd, rtol=1e-9)


def test_att_balance_of_a_covariate_constant_among_the_treated_uses_the_overall_sd():
    """No treated row has z = 1, so sd_treated(z) = 0: the SMD of z is divided by the SD of z
    over all rows (cobalt's fallback), not reported as 0."""
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=n)
    a = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    z = np.where(a == 1, 0, (rng.random(n) < 0.3).astype(int))
    df = pd.DataFrame({"a": a, "y": x + a + rng.normal(size=n), "x": x, "z": z})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # z = 1 separates the propensity model
        fit = estimate_effect(df, "a", "y", ["x", "z"], method="ipw", estimand="ATT")
    b = fit.balance.set_index("covariate")
    assert_allclose(b.loc["z", "smd_unadjusted"], (0 - z[a == 0].mean()) / z.std(ddof=1),
                    rtol=1e-10)
    assert b.loc["z", "smd_unadjusted"] < -0.5
    assert_allclose(b.loc["x", "smd_unadjusted"],
                    (x[a == 1].mean() - x[a == 0].mean()) / x[a == 1].std(ddof=1), rtol=1e-10)


def test_overlap_weights_balance_means_exactly(ref_data):
    """With a logistic propensity model, overlap weights balance every covariate in that
    model exactly (Li, Morgan & Zaslavsky 2018), so all adjusted SMDs are ~0."""
    fit = estimate_effect(ref_data, "treat", "yb", COVS, method="ipw", estimand="ATO")
    assert_allclose(fit.balance["smd_adjusted"], 0, atol=1e-8)
    assert not fit.balance["imbalanced"].any()
    assert fit.balance["smd_unadjusted"].abs().max() > 0.1


def test_att_weights_are_one_for_the_treated(ref_data):
    fit = estimate_effect(ref_data, "treat", "yb", COVS, estimand="ATT")
    treated = ref_data["treat"].to_numpy() == 1
    assert_allclose(fit.weights_[treated], 1.0)
    assert fit.ess["1"] == pytest.approx(treated.sum())
    # AIPW ATT: the treated arm's potential-outcome mean is the observed treated mean
    assert fit.arms.set_index("arm").loc["1", "estimate"] == pytest.approx(
        ref_data.loc[treated, "yb"].mean(), rel=1e-12)


def test_e_value_matches_vanderweele_ding_hand_values():
    # VanderWeele & Ding (2017): RR 3.9 -> E-value 7.26; RR 1.8 -> 1.8 + sqrt(1.8 * 0.8) = 3.0
    assert _e_value(3.9) == pytest.approx(3.9 + np.sqrt(3.9 * 2.9))
    assert round(_e_value(3.9), 2) == 7.26
    assert _e_value(1.8) == pytest.approx(3.0)
    assert _e_value(0.5) == pytest.approx(2 + np.sqrt(2))         # protective: use 1/RR
    assert _e_value(1.0) == 1.0


def test_e_value_table_converts_risk_difference_via_arm_risks(ref_data):
    fit = estimate_effect(ref_data, "treat", "yb", COVS)
    ev = fit.e_value().set_index("measure")
    s = fit.summary.set_index("measure")
    p0 = fit.arms.set_index("arm").loc["0", "estimate"]
    rr = s.loc["risk_ratio", "estimate"]
    assert rr > 1 and s.loc["risk_ratio", "ci_lower"] > 1
    assert ev.loc["risk_ratio", "e_value"] == pytest.approx(rr + np.sqrt(rr * (rr - 1)))
    lo = s.loc["risk_ratio", "ci_lower"]
    assert ev.loc["risk_ratio", "e_value_ci"] == pytest.approx(lo + np.sqrt(lo * (lo - 1)))
    # risk difference: RR = (p0 + RD) / p0, the same point E-value as the risk ratio
    assert ev.loc["risk_difference", "rr"] == pytest.approx(rr)
    rd_lo = (p0 + s.loc["risk_difference", "ci_lower"]) / p0
    assert ev.loc["risk_difference", "rr_limit"] == pytest.approx(rd_lo)


def test_e_value_is_one_when_the_interval_includes_the_null():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.integers(0, 2, 400), "y": rng.normal(size=400),
                       "x": rng.normal(size=400)})
    fit = estimate_effect(df, "a", "y", ["x"])
    s = fit.summary.iloc[0]
    assert s["ci_lower"] < 0 < s["ci_upper"]
    ev = fit.e_value().iloc[0]
    assert ev["e_value_ci"] == 1.0
    sd = fit.metadata["outcome_sd_pooled"]["1 vs 0"]
    assert ev["rr"] == pytest.approx(np.exp(0.91 * s["estimate"] / sd))


# --------------------------------------------------------------------------- options
def test_summary_has_the_fixed_columns_and_numeric_values(ref_data):
    fit = estimate_effect(ref_data, "arm3", "yb", COVS, cluster_col="child")
    assert isinstance(fit, EffectResult)
    assert list(fit.summary.columns) == ["contrast", "measure", "estimate", "se", "ci_lower",
                                         "ci_upper", "p_value", "n"]
    assert fit.summary["contrast"].tolist() == ["HVB vs FH"] * 2 + ["SIS vs FH"] * 2
    assert fit.summary["measure"].tolist() == ["risk_difference", "risk_ratio"] * 2
    for c in ["estimate", "se", "ci_lower", "ci_upper", "p_value"]:
        assert pd.api.types.is_float_dtype(fit.summary[c])
    counts = ref_data["arm3"].value_counts()
    assert fit.summary["n"].tolist() == [counts["HVB"] + counts["FH"]] * 2 \
        + [counts["SIS"] + counts["FH"]] * 2
    assert list(fit.arms.columns) == ["arm", "estimate", "se", "ci_lower", "ci_upper", "n",
                                      "ess"]
    assert list(fit.balance.columns) == ["contrast", "covariate", "smd_unadjusted",
                                         "smd_adjusted", "variance_ratio_adjusted",
                                         "imbalanced"]
    assert fit.metadata["reference_levels"] == {"placement": "FH"}
    assert fit.metadata["n_clusters"] == ref_data["child"].nunique()
    assert "child" not in fit.to_html()


def test_risk_ratio_interval_is_symmetric_on_log_scale(ref_data):
    s = estimate_effect(ref_data, "treat", "yb", COVS, alpha=0.1).summary.iloc[1]
    z = 1.6448536269514722
    assert_allclose(np.log(s["ci_upper"]) - np.log(s["estimate"]), z * s["se"], rtol=1e-10)
    assert_allclose(np.log(s["estimate"]) - np.log(s["ci_lower"]), z * s["se"], rtol=1e-10)


def test_formula_covariates_equal_column_list_and_report_reference(ref_data):
    by_list = estimate_effect(ref_data, "treat", "yc", COVS)
    by_formula = estimate_effect(ref_data, "treat", "yc", "age + sex + behav + C(placement)")
    assert_allclose(by_formula.summary["estimate"], by_list.summary["estimate"], rtol=1e-10)
    assert_allclose(by_formula.summary["se"], by_list.summary["se"], rtol=1e-8)
    # another reference level reparametrises the same model: same estimates
    relevel = estimate_effect(ref_data, "treat", "yc",
                              "age + sex + behav + C(placement, Treatment('HVB'))")
    assert_allclose(relevel.summary["estimate"], by_list.summary["estimate"], rtol=1e-8)
    assert list(relevel.metadata["reference_levels"].values()) == ["HVB"]
    spline = estimate_effect(ref_data, "treat", "yc", "bs(age, df=4) + I(age**2) + behav")
    assert len(spline.balance) == 6
    assert np.isfinite(spline.summary["se"]).all()


def test_boolean_string_and_numeric_treatments_agree(ref_data):
    d = ref_data.copy()
    base = estimate_effect(d, "treat", "yb", COVS)
    d["treat_bool"] = d["treat"] == 1
    d["treat_str"] = np.where(d["treat"] == 1, "HVB", "FH")
    as_bool = estimate_effect(d, "treat_bool", "yb", COVS)
    as_str = estimate_effect(d, "treat_str", "yb", COVS, treated="HVB", control="FH")
    flipped = estimate_effect(d, "treat_str", "yb", COVS, treated="FH", control="HVB")
    for other in (as_bool, as_str):
        assert_allclose(other.summary["estimate"], base.summary["estimate"], rtol=1e-12)
    assert as_bool.summary["contrast"].iloc[0] == "True vs False"
    assert flipped.summary["estimate"].iloc[0] == pytest.approx(
        -base.summary["estimate"].iloc[0], rel=1e-10)


def test_truncation_bounds_weights_and_is_reported(ref_data):
    full = estimate_effect(ref_data, "treat", "yb", COVS, method="ipw")
    eps = 0.15
    fit = estimate_effect(ref_data, "treat", "yb", COVS, method="ipw", truncate=eps)
    e = full.propensity_[:, 1]
    expected = int(((e < eps) | (e > 1 - eps)).sum())
    assert fit.metadata["truncate"] == eps
    assert fit.metadata["truncated"] == expected > 0
    assert fit.weights_.max() <= 1 / eps + 1e-12
    assert fit.summary["estimate"].iloc[0] != full.summary["estimate"].iloc[0]


def test_positivity_problems_warn_with_a_clear_message():
    rng = np.random.default_rng(2)
    n = 3000
    x = rng.normal(size=n)
    a = (rng.random(n) < 1 / (1 + np.exp(-4 * x))).astype(int)
    df = pd.DataFrame({"a": a, "y": x + a + rng.normal(size=n), "x": x})
    with pytest.warns(UserWarning) as record:
        estimate_effect(df, "a", "y", ["x"], method="ipw")
    messages = [str(w.message) for w in record]
    assert any(m.startswith("positivity: ") and "propensity score below 0.01" in m
               and "truncate=" in m for m in messages), messages
    assert any(m.startswith("extreme weights: one row carries") for m in messages), messages
    # each kind of warning comes with its class, so reports need not read the wording
    kinds = {(w.category, str(w.message).split(":")[0]) for w in record}
    assert kinds == {(PositivityWarning, "positivity"), (ExtremeWeightsWarning, "extreme weights")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimate_effect(df, "a", "y", ["x"], method="ipw", estimand="ATO")


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_naive_method_raises_no_positivity_warning_but_keeps_the_balance(estimand):
    """The naive means use no propensity score, so the positivity and extreme-weight warnings
    (which the weighting methods raise on these data) are not raised; the balance table,
    weights and ESS, from the propensity model fitted for diagnostics, are those of ipw."""
    rng = np.random.default_rng(2)
    n = 3000
    x = rng.normal(size=n)
    a = (rng.random(n) < 1 / (1 + np.exp(-4 * x))).astype(int)
    df = pd.DataFrame({"a": a, "y": x + a + rng.normal(size=n), "x": x})
    with pytest.warns(UserWarning, match="positivity|extreme weights"):
        ipw = estimate_effect(df, "a", "y", ["x"], method="ipw", estimand=estimand)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        naive = estimate_effect(df, "a", "y", ["x"], method="naive", estimand=estimand)
        boot = estimate_effect(df, "a", "y", ["x"], method="naive", estimand=estimand,
                               n_bootstrap=20, seed=1)
    pd.testing.assert_frame_equal(naive.balance, ipw.balance, check_exact=True)
    assert naive.balance.loc[0, "smd_unadjusted"] > 1  # the diagnostic is still there
    np.testing.assert_array_equal(naive.weights_, ipw.weights_)
    pd.testing.assert_series_equal(naive.ess, ipw.ess, check_exact=True)
    diff = naive.summary.iloc[0]["estimate"]
    assert diff == pytest.approx(df.loc[a == 1, "y"].mean() - df.loc[a == 0, "y"].mean(),
                                 rel=1e-12)
    assert boot.summary.iloc[0]["estimate"] == diff


@pytest.mark.filterwarnings("ignore:positivity")
def test_naive_method_is_silent_about_a_separated_propensity_model():
    """z = 1 only in the control arm separates the propensity model: ipw warns, naive does
    not (and still estimates the plain difference of means)."""
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=n)
    a = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    z = np.where(a == 1, 0, (rng.random(n) < 0.3).astype(int))
    df = pd.DataFrame({"a": a, "y": x + a + rng.normal(size=n), "x": x, "z": z})
    with pytest.warns(PropensitySeparationWarning, match="propensity model: fitted probabilities"):
        estimate_effect(df, "a", "y", ["x", "z"], method="ipw")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        naive = estimate_effect(df, "a", "y", ["x", "z"], method="naive")
    assert naive.summary.iloc[0]["estimate"] == pytest.approx(
        df.loc[a == 1, "y"].mean() - df.loc[a == 0, "y"].mean(), rel=1e-12)


def test_cluster_bootstrap_is_seeded_and_independent_of_n_jobs(ref_data):
    kw = {"method": "aipw", "cluster_col": "child", "n_bootstrap": 150, "seed": 3}
    one = estimate_effect(ref_data, "treat", "yb", COVS, **kw)
    two = estimate_effect(ref_data, "treat", "yb", COVS, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    assert "bootstrap" in one.metadata["variance"]
    influence = one.metadata["summary_influence"]
    # the bootstrap SE estimates the same quantity as the clustered IF SE (MC error ~5 %)
    ratio = one.summary["se"] / influence["se"]
    assert ((ratio > 0.8) & (ratio < 1.25)).all(), ratio
    assert_allclose(one.summary["estimate"], influence["estimate"])
    assert len(one.bootstrap_) == 150


def test_parameter_errors_name_the_problem(ref_data):
    with pytest.raises(ParameterError, match="method='dr' is unknown"):
        estimate_effect(ref_data, "treat", "yb", COVS, method="dr")
    with pytest.raises(ParameterError, match="estimand='ATC'"):
        estimate_effect(ref_data, "treat", "yb", COVS, estimand="ATC")
    with pytest.raises(ParameterError, match="'nope' is not a column"):
        estimate_effect(ref_data, "nope", "yb", COVS)
    with pytest.raises(ParameterError, match="needs treated="):
        estimate_effect(ref_data, "arm3", "yb", COVS, estimand="ATT")
    with pytest.raises(ParameterError, match="treated='FH' equals control"):
        estimate_effect(ref_data, "arm3", "yb", COVS, treated="FH")
    with pytest.raises(ParameterError, match="control='XX' is not a level"):
        estimate_effect(ref_data, "arm3", "yb", COVS, control="XX")
    with pytest.raises(ParameterError, match="must be 0/1 or boolean"):
        estimate_effect(ref_data, "treat", "yc", COVS, outcome_type="binary")
    bad = ref_data.copy()
    bad.loc[5, "age"] = np.nan
    with pytest.raises(ParameterError, match="missing value.*row 5"):
        estimate_effect(bad, "treat", "yb", COVS)
    with pytest.raises(ParameterError, match="truncate"):
        estimate_effect(ref_data, "treat", "yb", COVS, truncate=0.7)


def test_plots_return_axes(ref_data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = estimate_effect(ref_data, "arm3", "yb", COVS)
    for ax in (fit.plot(), fit.plot(measure="risk_ratio"), fit.love_plot(),
               fit.overlap_plot(), fit.overlap_plot(level="SIS")):
        assert ax.has_data()
    assert fit.plot().get_xscale() == "linear"
    assert fit.plot(measure="risk_ratio").get_xscale() == "log"
    html = fit.to_html()
    assert "HVB vs FH" in html and "smd_adjusted" in html
    plt.close("all")


@pytest.mark.parametrize("method", ["regression", "ipw", "aipw"])
def test_ate_se_equals_stratified_variance_in_a_sparse_cell(method):
    """With one binary covariate every model is saturated, so the ATE is the post-stratified
    difference sum_c p_c (ybar_1c - ybar_0c) and its sandwich variance must equal the
    textbook one, sum_c p_c^2 (s2_1c / n_1c + s2_0c / n_0c) + (d_1 - d_0)^2 p (1 - p) / n
    (s2 with divisor n, d_c the cell differences), exactly. The design has the shape that
    drives the ATE undercoverage of ``benchmarks/simulate_effects.py``: a cell of 30 % of the
    rows where only 4 % are treated (about 18 treated rows with two or so events), so this
    checks that the SE there is the right formula, not an approximation gone wrong."""
    rng = np.random.default_rng(5)
    n = 1500
    young = (rng.random(n) < 0.3).astype(int)
    a = (rng.random(n) < np.where(young == 1, 0.04, 0.55)).astype(int)
    risk = np.where(a == 1, np.where(young == 1, 0.12, 0.30), np.where(young == 1, 0.08, 0.20))
    y = (rng.random(n) < risk).astype(int)
    assert 10 <= ((a == 1) & (young == 1)).sum() <= 30 and y[(a == 1) & (young == 1)].sum() >= 1
    est, var, diffs = 0.0, 0.0, []
    for c in (0, 1):
        p = (young == c).mean()
        y1, y0 = y[(a == 1) & (young == c)], y[(a == 0) & (young == c)]
        diffs.append(y1.mean() - y0.mean())
        est += p * diffs[-1]
        var += p ** 2 * (y1.var() / len(y1) + y0.var() / len(y0))
    var += (diffs[1] - diffs[0]) ** 2 * p * (1 - p) / n
    df = pd.DataFrame({"a": a, "y": y, "young": young})
    row = estimate_effect(df, "a", "y", ["young"], method=method, estimand="ATE").summary
    row = row.set_index("measure").loc["risk_difference"]
    assert_allclose(row["estimate"], est, rtol=1e-10)
    assert_allclose(row["se"], np.sqrt(var), rtol=1e-10)


if __name__ == "__main__":
    make_reference_data().to_csv(REF / "effects_data.csv", index=False)


# --------------------------------------------------------------------------- typed warnings
def test_a_separated_outcome_model_warns_with_outcome_separation_warning():
    """In arm 1 everyone with z = 1 has the outcome: the logistic outcome model separates."""
    rng = np.random.default_rng(5)
    n = 400
    x = rng.normal(size=n)
    a = (rng.random(n) < 0.5).astype(int)
    z = (rng.random(n) < 0.3).astype(int)
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    y[(z == 1) & (a == 1)] = 1
    df = pd.DataFrame({"a": a, "y": y, "x": x, "z": z})
    with pytest.warns(OutcomeSeparationWarning,
                      match="logistic outcome model: fitted probabilities") as record:
        estimate_effect(df, "a", "y", ["x", "z"], method="regression")
    assert all(issubclass(w.category, SeparationWarning) for w in record)
    assert not any(w.category is PropensitySeparationWarning for w in record)


def test_failed_bootstrap_replicates_warn_with_bootstrap_failure_warning():
    """Two treated rows of 60: some resamples have no treated row and are dropped."""
    rng = np.random.default_rng(1)
    n = 60
    df = pd.DataFrame({"a": np.r_[1, 1, np.zeros(n - 2, int)], "y": rng.normal(size=n),
                       "x": rng.normal(size=n)})
    with pytest.warns(BootstrapFailureWarning,
                      match=r"\d+ of 50 bootstrap replicates failed"):
        fit = estimate_effect(df, "a", "y", ["x"], method="naive", n_bootstrap=50, seed=1)
    assert 0 < fit.metadata["bootstrap_failed"] < 50
