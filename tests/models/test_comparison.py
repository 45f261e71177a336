"""Tests of evaluation.models.comparison: risk-standardised comparison of units and funnel plots.

Reference values: tests/reference/comparison_reference.R (R 4.2.2, lme4 1.1-31), which reads
tests/reference/comparison_data.csv (written by :func:`reference_episodes` below) and writes
the comparison_*.csv files beside it. No R needed to run.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.data import synth
from evaluation.errors import ParameterError
from evaluation.models.comparison import (
    ComparisonResult,
    _design,
    _Laplace,
    risk_standardised,
)
from evaluation.models.funnel import (
    estimate_overdispersion,
    funnel_limits,
    funnel_plot,
    funnel_table,
)
from evaluation.reporting.comparison_table import comparison_display
from tests.helpers import REFERENCE as REF

CASE_MIX = ["age_group", "sex", "lvu", "placement_type", "problem_criminality",
            "problem_child_substance", "problem_child_mental"]
REFERENCE_LEVELS = {"age_group": "0-12", "sex": "F", "placement_type": "FH"}


def reference_episodes(seed: int = 7, n_children: int = 2500, n_municipalities: int = 40
                       ) -> tuple[pd.DataFrame, dict]:
    """Entry cohort with 365 days of follow-up from evaluation.data.synth, and the synth truth.

    y = 1 for an unplanned ending (breakdown or absconding) within 365 days of the start.
    """
    data = synth.generate(n_children=n_children, n_municipalities=n_municipalities, seed=seed)
    e = data.tables["episodes"]
    e = e[e["start_date"] <= pd.Timestamp(data.truth["generated"]["end"])
          - pd.Timedelta(days=365)]
    days = (e["end_date"] - e["start_date"]).dt.days
    unplanned = e["end_date"].notna() & ~e["planned_ending"].fillna(True).astype(bool)
    age = (e["start_date"].dt.year - e["birth_year"]).astype(int)
    out = pd.DataFrame({
        "unit": e["municipality_code"].astype(str),
        "y": (unplanned & (days <= 365)).astype(int),
        "age_group": pd.cut(age, [-1, 12, 15, 99], labels=["0-12", "13-15", "16-20"]).astype(str),
        "sex": e["sex"].astype(str),
        "lvu": (e["legal_basis"] != "SOL").astype(int),
        "placement_type": e["placement_type"].astype(str),
        "problem_criminality": e["problem_criminality"].astype(int),
        "problem_child_substance": e["problem_child_substance"].astype(int),
        "problem_child_mental": e["problem_child_mental"].astype(int),
    }).reset_index(drop=True)
    return out, data.truth


def test_reference_csv_is_reproducible_from_synth():
    stored = pd.read_csv(REF / "comparison_data.csv", dtype={"unit": str})
    made, _ = reference_episodes()
    pd.testing.assert_frame_equal(stored, made, check_dtype=False)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    return pd.read_csv(REF / "comparison_data.csv", dtype={"unit": str})


@pytest.fixture(scope="module")
def fit(episodes) -> ComparisonResult:
    return risk_standardised(episodes, "y", "unit", CASE_MIX, reference=REFERENCE_LEVELS)


def _ref(name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(REF / f"comparison_{name}.csv", **kw)


# --------------------------------------------------------------------------- agreement with R


def test_laplace_loglik_matches_r_glmer_deviance_at_fixed_points(episodes):
    """R: devfun <- glmer(..., nAGQ = 1, devFunOnly = TRUE); devfun(c(theta, beta)) at the
    glmer estimate, a perturbed point and a far point. The deviance is -2 log L (Laplace)."""
    design = _design(episodes, "y", "unit", CASE_MIX, REFERENCE_LEVELS)
    lap = _Laplace(design["y"], design["x"], design["unit"])
    ref = _ref("deviance").set_index("point")
    assert list(ref.columns[2:]) == design["names"]
    for point, row in ref.iterrows():
        params = np.append(row.iloc[2:].to_numpy(dtype=float), row["sigma"])
        ll, _ = lap.loglik(params, gradient=False)
        assert_allclose(-2 * ll, row["deviance"], rtol=1e-9, err_msg=point)


def test_laplace_gradient_matches_finite_differences(episodes):
    design = _design(episodes, "y", "unit", CASE_MIX, REFERENCE_LEVELS)
    lap = _Laplace(design["y"], design["x"], design["unit"])
    params = np.append(np.linspace(-1.5, 0.5, design["x"].shape[1]), 0.45)
    _, grad = lap.loglik(params)
    step = 1e-6
    numeric = [(lap.loglik(params + step * e, gradient=False)[0]
                - lap.loglik(params - step * e, gradient=False)[0]) / (2 * step)
               for e in np.eye(len(params))]
    assert_allclose(grad, numeric, rtol=1e-6, atol=1e-5)


def test_risk_standardised_matches_r_glmer(fit):
    """R (tests/reference/comparison_reference.R):
    glmer(y ~ age_group + sex + lvu + placement_type + problem_criminality +
          problem_child_substance + problem_child_mental + (1 | unit), family = binomial,
          nAGQ = 1, control = glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
          optCtrl = list(rhobeg = 0.02, rhoend = 1e-11)))
    with fixef(), sqrt(diag(vcov())), getME(, "theta"), logLik() and ranef(condVar = TRUE).

    Tolerances. The likelihood itself agrees to 1e-9 (test above), and our maximum is at
    least as high as glmer's. The estimates differ by up to ~1e-5 absolutely because glmer's
    derivative-free optimiser stops where the likelihood is flat to ~1e-9 (nloptwrap with
    tight settings stops at a slightly *lower* log-likelihood still): hence 5e-5 absolute on
    the coefficients (the smallest, lvu = -0.0165, is ~3e-5 off relatively) and 1e-6
    relative on sigma. SEs: lme4 inverts a finite-difference Hessian (deriv12, step 1e-4)
    taken at its own optimum; ours is from central differences of the exact gradient:
    2e-4 relative. Conditional modes: 1e-6 absolute (log-odds).
    """
    fixef = _ref("fixef").set_index("term")
    sigma = _ref("sigma")
    ranef = _ref("ranef", dtype={"unit": str})
    f = fit.fixed_effects
    assert list(f.index) == list(fixef.index)
    assert_allclose(f["estimate"], fixef["estimate"], atol=5e-5, rtol=0)
    assert_allclose(f["estimate"], fixef["estimate"], rtol=1e-4, atol=2e-6)
    assert_allclose(f["se"], fixef["se"], rtol=2e-4)
    assert_allclose(fit.sigma_, sigma["sigma"].iloc[0], rtol=1e-6)
    assert fit.metadata["loglik"] >= sigma["loglik"].iloc[0] - 1e-9
    assert_allclose(fit.metadata["loglik"], sigma["loglik"].iloc[0], rtol=1e-9)
    s = fit.summary
    assert list(s["unit"]) == list(ranef["unit"])
    assert_allclose(s["effect"], ranef["effect"], atol=1e-6)
    assert_allclose(s["effect_sd"], ranef["effect_sd"], rtol=1e-5)


def test_funnel_limits_match_r_qbinom_formula():
    """R: r <- qbinom(p, n, p0); a <- (pbinom(r, n, p0) - p) / (pbinom(r, n, p0) -
    pbinom(r - 1, n, p0)); pmin(pmax((r - a) / n, 0), 1), for 10 sizes x 4 targets x
    4 tail probabilities (0.001, 0.025, 0.975, 0.999)."""
    ref = _ref("funnel")
    for (p0, prob), part in ref.groupby(["p0", "prob"]):
        level = 0.95 if prob in (0.025, 0.975) else 0.998
        side = "lower" if prob < 0.5 else "upper"
        got = funnel_limits(part["n"], p0, levels=[level])[f"{side}_{level:g}"]
        assert_allclose(got, part["limit"], rtol=1e-6, atol=1e-12,
                        err_msg=f"p0={p0}, prob={prob}")


# --------------------------------------------------------------------------- known truth


@pytest.mark.parametrize("seed", [7, 13])
def test_unit_effects_recover_synth_municipality_effects(seed):
    """evaluation.data.synth draws municipality effects N(0, 0.3^2) on the log-hazard of
    breakdown; on the log-odds of a breakdown within 365 days the SD is of the same order.
    Estimated conditional modes must track the true effects."""
    data, truth = reference_episodes(seed=seed, n_children=2500 if seed == 7 else 4000,
                                     n_municipalities=40 if seed == 7 else 50)
    res = risk_standardised(data, "y", "unit", CASE_MIX, reference=REFERENCE_LEVELS,
                            n_draws=100)
    s = res.summary
    true = s["unit"].map(truth["breakdown_model"]["municipality_effects"]).to_numpy()
    assert np.corrcoef(s["effect"], true)[0, 1] > 0.5
    big = (s["n"] >= 30).to_numpy()
    assert np.corrcoef(s["effect"][big], true[big])[0, 1] > 0.6
    assert 0.1 < res.sigma_ < 0.7
    # worse-flagged units have higher true effects than better-flagged ones
    flagged = s["flag"] != "no different"
    assert flagged.sum() >= 1
    worse, better = true[s["flag"] == "worse"], true[s["flag"] == "better"]
    if len(worse) and len(better):
        assert worse.mean() > better.mean()


def _small_units(seed: int) -> pd.DataFrame:
    """150 units with 1-10 episodes and 10 with 300; true sigma 0.4, one covariate."""
    rng = np.random.default_rng(seed)
    sizes = np.concatenate([rng.integers(1, 11, 150), np.full(10, 300)])
    unit = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.binomial(1, 0.4, len(unit))
    eta = -1.5 + 0.8 * x + rng.normal(0, 0.4, len(sizes))[unit]
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame({"unit": [f"U{u:03d}" for u in unit], "y": y, "x": x})


@pytest.mark.parametrize("seed", [0, 3])
def test_small_units_are_shrunk_to_the_overall_rate_and_not_flagged(seed):
    res = risk_standardised(_small_units(seed), "y", "unit", ["x"], n_draws=300)
    s = res.summary
    p = res.metadata["overall_rate"]
    small = s["n"] <= 10
    crude_gap = (s["observed_rate"][small] - p).abs()
    rsr_gap = (s["rsr"][small] - p).abs()
    assert rsr_gap.mean() < 0.25 * crude_gap.mean()
    assert rsr_gap.max() < 0.1
    assert (s["flag"][small] != "no different").mean() <= 0.02
    # intervals of small units are wider than those of the large units
    width = s["ci_upper"] - s["ci_lower"]
    assert width[small].min() > width[~small].max()
    # the large units keep their own rate: less shrinkage
    assert (s["effect_sd"][~small] < s["effect_sd"][small].min()).all()


def test_identical_units_give_sigma_zero_and_the_logistic_fit():
    """Five units with the same 40 episodes: no between-unit variation, so the ML estimate
    is sigma = 0 and the fixed effects are those of ordinary logistic regression
    (statsmodels Logit, IRLS)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    x = rng.normal(size=40)
    y = (rng.random(40) < 1 / (1 + np.exp(-(-0.5 + x)))).astype(int)
    data = pd.DataFrame({"unit": np.repeat(list("ABCDE"), 40), "x": np.tile(x, 5),
                         "y": np.tile(y, 5)})
    res = risk_standardised(data, "y", "unit", ["x"], n_draws=200)
    assert res.sigma_ == 0.0 and res.metadata["sigma_at_boundary"]
    logit = sm.Logit(data["y"], sm.add_constant(data[["x"]])).fit(disp=0, tol=1e-12)
    assert_allclose(res.fixed_effects["estimate"], logit.params, rtol=1e-7)
    assert_allclose(res.fixed_effects["se"], logit.bse, rtol=1e-5)
    s = res.summary
    assert_allclose(s["effect"], 0.0, atol=0)
    assert_allclose(s["rsr"], y.mean())
    assert (s["flag"] == "no different").all()


# --------------------------------------------------------------------------- result shape


def test_summary_is_numeric_with_unit_and_flag_labels(fit, episodes):
    s = fit.summary
    assert list(s.columns) == ["unit", "n", "observed", "observed_rate", "expected",
                               "predicted", "rsr", "ci_lower", "ci_upper", "effect",
                               "effect_sd", "flag"]
    numeric = s.drop(columns=["unit", "flag"])
    assert all(pd.api.types.is_numeric_dtype(numeric[c]) for c in numeric)
    assert list(s["flag"].cat.categories) == ["better", "no different", "worse"]
    counts = episodes.groupby("unit")["y"].agg(["size", "sum"])
    assert (s["n"].to_numpy() == counts["size"].to_numpy()).all()
    assert (s["observed"].to_numpy() == counts["sum"].to_numpy()).all()
    assert fit.metadata["n"] == len(episodes)
    assert_allclose(fit.metadata["overall_rate"], episodes["y"].mean())
    assert_allclose(s["rsr"], s["predicted"] / s["expected"] * episodes["y"].mean())
    assert ((s["ci_lower"] < s["rsr"]) & (s["rsr"] < s["ci_upper"])).all()
    f = fit.fixed_effects
    assert list(f.columns) == ["estimate", "se", "z", "ci_lower", "ci_upper", "p_value",
                               "exp_estimate"]
    assert_allclose(f["ci_upper"] - f["estimate"], 1.959963984540054 * f["se"])


def test_flags_follow_the_interval_and_the_direction(episodes, fit):
    s = fit.summary
    p = fit.metadata["overall_rate"]
    expected = np.where(s["ci_lower"] > p, "worse",
                        np.where(s["ci_upper"] < p, "better", "no different"))
    assert (s["flag"].astype(str).to_numpy() == expected).all()
    assert (s["flag"] != "no different").any()
    flipped = risk_standardised(episodes, "y", "unit", CASE_MIX, reference=REFERENCE_LEVELS,
                                higher_is_worse=False)
    swap = {"better": "worse", "worse": "better", "no different": "no different"}
    assert list(flipped.summary["flag"].astype(str)) == [swap[f] for f in s["flag"].astype(str)]


def test_intervals_are_reproducible_with_the_seed(episodes):
    args = {"reference": REFERENCE_LEVELS, "n_draws": 200}
    first = risk_standardised(episodes, "y", "unit", CASE_MIX, **args).summary
    again = risk_standardised(episodes, "y", "unit", CASE_MIX, **args).summary
    assert_allclose(again["ci_lower"], first["ci_lower"], rtol=0, atol=0)
    other = risk_standardised(episodes, "y", "unit", CASE_MIX, seed=2, **args).summary
    assert not np.allclose(other["ci_lower"], first["ci_lower"], rtol=1e-6)
    # Monte Carlo error of the percentile limits is small next to the interval width
    width = first["ci_upper"] - first["ci_lower"]
    assert ((other["ci_lower"] - first["ci_lower"]).abs() < 0.15 * width).all()


def test_comparison_display_suppresses_small_counts_and_rates(fit):
    shown = comparison_display(fit, lang="sv")
    s = fit.summary
    assert list(shown.columns) == ["unit", "n", "observed", "observed_rate", "expected",
                                   "predicted", "rsr", "ci_lower", "ci_upper", "flag"]
    small_n = (s["n"] >= 1) & (s["n"] <= 4)
    assert small_n.any()
    assert (shown["n"][small_n] == "<5").all()
    small_obs = (s["observed"] >= 1) & (s["observed"] <= 4)
    assert (shown["observed"][small_obs] == "<5").all()
    printed = {col: pd.to_numeric(shown[col], errors="coerce") for col in ("n", "observed")}
    for col in ("n", "observed"):  # no count 1-4 is printed anywhere
        assert not ((printed[col] >= 1) & (printed[col] <= 4)).any()
    # nor can one be derived: a small number of non-events, or one hidden count per row
    rest = printed["n"] - printed["observed"]
    assert not ((rest >= 1) & (rest <= 4)).any()
    assert ((s["n"] - s["observed"]).between(1, 4)).any()   # such rows exist in the data
    for col in ("n", "observed"):  # a single hidden cell would follow from the total
        assert printed[col].isna().sum() != 1
    under10 = s["n"] < 10
    for col in ("observed_rate", "expected", "predicted", "rsr", "ci_lower", "ci_upper"):
        assert (shown[col][under10] == "").all(), col
    big = (s["n"] >= 10) & (s["observed"] >= 5) & (s["n"] - s["observed"] >= 5)
    assert (shown["observed_rate"][big] != "").all()
    # where the count is hidden the model figures that would reveal it are hidden too
    hidden_obs = ~shown["observed"].str.fullmatch(r"\d+")
    assert (hidden_obs & ~under10).any()
    for col in ("predicted", "rsr", "ci_lower", "ci_upper"):
        assert (shown[col][hidden_obs] == "").all(), col
    assert (shown["expected"][hidden_obs & ~under10] != "").all()  # case mix only
    assert (shown["rsr"][big] != "").all()
    assert set(shown["flag"]) <= {"bättre", "ingen skillnad", "sämre"}
    assert set(comparison_display(fit, lang="en")["flag"]) <= set(s["flag"].astype(str))
    # the raw summary is untouched
    assert pd.api.types.is_integer_dtype(s["n"])


def test_result_plots_and_renders(fit):
    import matplotlib.pyplot as plt

    ax = fit.plot()
    assert ax.get_ylabel() == "risk-standardised rate"
    assert "<table" in fit.to_html()
    ax2 = funnel_plot(fit, min_n=1)
    assert ax2.get_xlabel() == "unit size (n)"
    plt.close("all")


def test_funnel_plot_labels_the_units_outside_the_limits():
    import matplotlib.pyplot as plt

    units = pd.DataFrame({"unit": ["a", "b", "c", "d"], "n": [100, 100, 100, 8],
                          "observed": [20, 32, 43, 8]})
    ax = funnel_plot(units, p0=0.2)
    assert [t.get_text() for t in ax.texts] == ["c"]       # d is below min_n = 10
    ax = funnel_plot(units, p0=0.2, min_n=1)
    assert [t.get_text() for t in ax.texts] == ["c"]       # d: 8 of 8 on n < 10, hidden
    ax = funnel_plot(units, p0=0.2, min_n=1, disclosure=False)
    assert sorted(t.get_text() for t in ax.texts) == ["c", "d"]
    plt.close("all")


def _drawn_points(ax) -> set[tuple[float, float]]:
    """(n, proportion) of every point of the Axes' scatter plots."""
    from matplotlib.collections import PathCollection

    return {(float(a), float(b)) for c in ax.collections if isinstance(c, PathCollection)
            for a, b in c.get_offsets()}


def test_funnel_plot_leaves_out_small_counts_unless_disclosure_is_off():
    """b: 2 events of 40 (small numerator); e: 38 of 40 (2 non-events, small complement) and
    far above the limits; f: 3 of 9 (small denominator). Only a, c, d are safe."""
    import matplotlib.pyplot as plt

    units = pd.DataFrame({"unit": list("abcdef"), "n": [40, 40, 100, 60, 40, 9],
                          "observed": [8, 2, 43, 12, 38, 3]})
    every = {(float(n), o / n) for n, o in zip(units["n"], units["observed"], strict=True)}
    ax = funnel_plot(units, p0=0.2)
    assert _drawn_points(ax) == every - {(40.0, 2 / 40), (40.0, 38 / 40), (9.0, 3 / 9)}
    assert [t.get_text() for t in ax.texts] == ["c"]        # e is outside but not drawn
    assert "3 units not shown (small counts)" in ax.get_legend_handles_labels()[1]
    # the limit curves stop at the drawn units: they do not reveal f's n = 9
    assert min(line.get_xdata().min() for line in ax.get_lines() if len(line.get_xdata())
               > 2) >= 10

    ax = funnel_plot(units, p0=0.2, min_n=1, disclosure=False)
    assert _drawn_points(ax) == every
    assert sorted(t.get_text() for t in ax.texts) == ["c", "e"]
    assert not any("not shown" in lab for lab in ax.get_legend_handles_labels()[1])
    ax = funnel_plot(units, p0=0.2, disclosure=False)       # min_n = 10 still applies
    assert (9.0, 3 / 9) not in _drawn_points(ax)
    assert "1 unit not shown (n < 10)" in ax.get_legend_handles_labels()[1]
    plt.close("all")


def test_funnel_plot_hides_small_counts_of_a_comparison_result_too():
    import matplotlib.pyplot as plt

    res = _crafted([("A", 50, 48), ("B", 40, 2), ("E", 100, 30), ("F", 30, 10)])
    s = res.summary
    prop = s["observed"] / s["expected"] * 0.3
    ax = funnel_plot(res)
    assert _drawn_points(ax) == {(float(n), float(p)) for n, p, u in
                                 zip(s["n"], prop, s["unit"], strict=True) if u in ("E", "F")}
    with pytest.raises(ParameterError, match="disclosure must be True or False"):
        funnel_plot(res, disclosure="no")
    plt.close("all")


# --------------------------------------------------------------------------- funnel checks


def test_funnel_limits_hand_calculation():
    """n = 10, p0 = 0.5, 95 %: qbinom(0.975) = 8, P(Y <= 8) = 1013/1024, P(Y <= 7) = 968/1024,
    alpha = (1013/1024 - 0.975) / (45/1024), upper = (8 - alpha) / 10; qbinom(0.025) = 2,
    P(Y <= 2) = 56/1024, P(Y <= 1) = 11/1024, lower = (2 - (56/1024 - 0.025) / (45/1024)) / 10.
    """
    lim = funnel_limits(10, 0.5, levels=[0.95]).iloc[0]
    upper = (8 - (1013 / 1024 - 0.975) / (45 / 1024)) / 10
    lower = (2 - (56 / 1024 - 0.025) / (45 / 1024)) / 10
    assert_allclose([lim["lower_0.95"], lim["upper_0.95"]], [lower, upper], rtol=1e-12)


def test_funnel_limits_approach_normal_limits_for_large_units():
    n = np.array([2000, 20000])
    lim = funnel_limits(n, 0.2, levels=[0.998])
    half = 3.090232306167813 * np.sqrt(0.2 * 0.8 / n)
    assert_allclose(lim["upper_0.998"] - 0.2, half, rtol=0.05)
    assert_allclose(0.2 - lim["lower_0.998"], half, rtol=0.05)
    assert (lim["lower_0.998"] <= lim["lower_0.998"]).all()


def test_funnel_overdispersion_hand_calculation():
    """z = (0.1 - 0.2) / 0.04 = -2.5, 0, 2.5; 10 % and 90 % quantiles (type 7) are -2, 2;
    phi = (4 + 0 + 4) / 3."""
    assert_allclose(estimate_overdispersion([10, 20, 30], [100, 100, 100], 0.2), 8 / 3)
    lim = funnel_limits([100], 0.2, levels=[0.95], overdispersion=8 / 3)
    half = 1.959963984540054 * np.sqrt(8 / 3 * 0.16 / 100)
    assert_allclose(lim[["lower_0.95", "upper_0.95"]].iloc[0], [0.2 - half, 0.2 + half])


def test_funnel_table_marks_units_outside_the_limits():
    units = pd.DataFrame({"unit": ["a", "b", "c"], "n": [100, 100, 100],
                          "observed": [20, 32, 43]})
    table = funnel_table(units, p0=0.2)
    # upper limits at n = 100, p0 = 0.2: 95 % ~0.28, 99.8 % ~0.33
    assert table["outside"].tolist() == [0.0, 0.95, 0.998]
    wide = funnel_table(units, p0=0.2, overdispersion=4.0)
    assert wide["outside"].tolist() == [0.0, 0.0, 0.95]
    est = funnel_table(units, overdispersion="estimate")
    assert (est["upper_0.95"] >= funnel_table(units)["upper_0.95"]).all()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, message", [
    ({"outcome_col": "nope"}, "outcome_col='nope' is not a column of data"),
    ({"case_mix": ["sex", "sex"]}, "duplicate"),
    ({"reference": {"placement_type": "XX"}}, "reference level 'XX'"),
    ({"reference": {"lvu": 1}}, "numeric or boolean"),
    ({"alpha": 1.5}, "alpha"),
    ({"n_draws": 10}, "n_draws"),
])
def test_risk_standardised_rejects_bad_parameters(episodes, kwargs, message):
    args = {"outcome_col": "y", "unit_col": "unit", "case_mix": CASE_MIX,
            "reference": REFERENCE_LEVELS, **kwargs}
    with pytest.raises(ParameterError, match=message):
        risk_standardised(episodes, **args)


def test_risk_standardised_needs_two_units(episodes):
    with pytest.raises(ParameterError, match="at least 2"):
        risk_standardised(episodes.assign(unit="0180"), "y", "unit", ["sex"])


def test_risk_standardised_rejects_bad_outcomes(episodes):
    bad = episodes.assign(y=episodes["y"] * 2)
    with pytest.raises(ParameterError, match="must be 0/1"):
        risk_standardised(bad, "y", "unit", ["sex"])
    with pytest.raises(ParameterError, match="both outcomes"):
        risk_standardised(episodes.assign(y=0), "y", "unit", ["sex"])
    missing = episodes.assign(sex=episodes["sex"].where(episodes.index > 3))
    with pytest.raises(ParameterError, match="4 missing"):
        risk_standardised(missing, "y", "unit", ["sex"])


def test_risk_standardised_rejects_a_level_with_only_events_naming_it(episodes):
    """placement_type EGET (14 episodes) made all breakdowns. R 4.2.2, lme4 1.1-31, glmer
    with the model of comparison_reference.R (default control): placement_typeEGET 18.3 (SE 1080)
    with "Model failed to converge: degenerate Hessian". We stop before fitting and name
    column, level and value."""
    bad = episodes.assign(y=episodes["y"].where(episodes["placement_type"] != "EGET", 1))
    with pytest.raises(ParameterError, match=r"'placement_type', level 'EGET': all 14 row\(s\) "
                                             r"have y = 1.*separation.*merge 'EGET'"):
        risk_standardised(bad, "y", "unit", CASE_MIX, reference=REFERENCE_LEVELS)


_ROW = np.arange(60)
_SEP_Y = ((_ROW >= 20) & (_ROW % 3 != 0)).astype(int)          # rows 0-19: no events


@pytest.mark.parametrize("column, values, message", [
    # the reference level without events separates too (intercept -> -inf)
    ("kind", np.where(_ROW < 20, "a", np.where(_ROW < 40, "b", "c")),
     r"'kind', level 'a': all 20 row\(s\) have y = 0.*merge 'a' with a similar level"),
    ("flag", _ROW < 10, r"'flag', level True: all 10 row\(s\) have y = 0.*drop 'flag'"),
    ("lvu", (_ROW >= 50).astype(int), r"'lvu', level 1: all 10 row\(s\) have y = 1"),
    # events exactly where score >= 120, none below: threshold separation
    ("score", np.where(_SEP_Y == 1, 100 + _ROW, _ROW % 30),
     (r"'score': every row with y = 0 has score <= 27 and every row with y = 1 has "
      r"score >= 120")),
])
def test_design_detects_separation_by_one_case_mix_column(column, values, message):
    data = pd.DataFrame({"y": _SEP_Y, "unit": _ROW % 4, column: values})
    if column == "lvu":
        data.loc[_ROW >= 50, "y"] = 1
    with pytest.raises(ParameterError, match=message):
        _design(data, "y", "unit", [column], None)


def test_design_accepts_case_mix_that_only_makes_events_rare():
    rng = np.random.default_rng(4)
    y = (rng.random(200) < 0.3).astype(int)
    data = pd.DataFrame({"y": y, "unit": np.arange(200) % 5,
                         "kind": np.where(np.arange(200) < 10, "rare", "common"),
                         "score": rng.normal(size=200) + y})
    data.loc[0, "y"] = 1                                        # 'rare' has both outcomes
    data.loc[1, "y"] = 0
    design = _design(data, "y", "unit", ["kind", "score"], None)
    assert design["names"] == ["(Intercept)", "kind" + "rare", "score"]


def test_funnel_limits_reject_bad_input():
    with pytest.raises(ParameterError, match="whole unit sizes"):
        funnel_limits([0, 5], 0.2)
    with pytest.raises(ParameterError, match="p0"):
        funnel_limits([5], 1.2)
    with pytest.raises(ParameterError, match="phi >= 1"):
        funnel_limits([5], 0.2, overdispersion=0.5)


# --------------------------------------------------------------------------- edge cases


def test_rsr_recomputed_from_glmer_estimates_follows_the_cfsr_definition(fit, episodes):
    """Independent route to the CFSR risk-standardised rate: from lme4's own fixef() and
    ranef() (comparison_fixef.csv, comparison_ranef.csv), predicted = sum expit(x'beta + b_j),
    expected = sum expit(x'beta), RSR = predicted / expected x overall observed rate.
    Tolerance 1e-5 relative: glmer's estimates differ from ours by up to 7.5e-6 (bobyqa stop,
    see test_risk_standardised_matches_r_glmer); observed 2e-7 on the rsr, 8e-7 on the sums."""
    design = _design(episodes, "y", "unit", CASE_MIX, REFERENCE_LEVELS)
    beta = _ref("fixef")["estimate"].to_numpy()
    b = _ref("ranef", dtype={"unit": str}).set_index("unit").loc[list(design["units"]),
                                                                   "effect"].to_numpy()
    lin = design["x"] @ beta
    expected = np.bincount(design["unit"], 1 / (1 + np.exp(-lin)))
    predicted = np.bincount(design["unit"], 1 / (1 + np.exp(-(lin + b[design["unit"]]))))
    overall = episodes["y"].sum() / len(episodes)
    s = fit.summary
    assert_allclose(s["expected"], expected, rtol=1e-5)
    assert_allclose(s["predicted"], predicted, rtol=1e-5)
    assert_allclose(s["rsr"], predicted / expected * overall, rtol=1e-5)
    # the expected count of a unit is not its observed count: the model is not a refit of
    # each unit's own rate (a sanity check that case mix enters)
    assert not np.allclose(s["expected"], s["observed"], rtol=0.05)


def _exact_binomial_limit(n: int, p0: Fraction, prob: Fraction) -> float:
    """Spiegelhalter (2005) A.1.1 in exact rational arithmetic (no scipy): r_p is the
    smallest r with P(Y <= r) >= prob, alpha = (P(Y <= r_p) - prob) / P(Y = r_p), limit
    (r_p - alpha) / n cut to [0, 1]."""
    cdf = Fraction(0)
    for r in range(n + 1):
        pmf = comb(n, r) * p0 ** r * (1 - p0) ** (n - r)
        cdf += pmf
        if cdf >= prob:
            alpha = (cdf - prob) / pmf
            return float(min(max((r - alpha) / n, Fraction(0)), Fraction(1)))
    raise AssertionError("unreachable: the cdf reaches 1")


@pytest.mark.parametrize("p0", [Fraction(1, 50), Fraction(3, 20), Fraction(1, 4),
                                Fraction(7, 10)])
def test_funnel_limits_equal_exact_rational_enumeration(p0):
    """The exact binomial limits with Spiegelhalter's interpolation, checked by enumerating
    the binomial distribution in fractions (a route independent of scipy and of R's qbinom,
    which the stored reference uses)."""
    sizes = [1, 2, 5, 9, 10, 23, 50, 97, 200]
    lim = funnel_limits(sizes, float(p0))
    for lev, lo, hi in ((Fraction(95, 100), "lower_0.95", "upper_0.95"),
                        (Fraction(998, 1000), "lower_0.998", "upper_0.998")):
        want_lo = [_exact_binomial_limit(n, p0, (1 - lev) / 2) for n in sizes]
        want_hi = [_exact_binomial_limit(n, p0, (1 + lev) / 2) for n in sizes]
        assert_allclose(lim[lo], want_lo, rtol=1e-9, atol=1e-12)
        assert_allclose(lim[hi], want_hi, rtol=1e-9, atol=1e-12)


def test_funnel_interpolated_limit_is_continuous_in_the_tail_probability():
    """The interpolation makes the limit continuous where r_p jumps: just below and above a
    cdf value P(Y <= r) the limits meet at r / n (Spiegelhalter 2005, A.1.1)."""
    from evaluation.models.funnel import _binomial_limit

    n, p0 = 40, 0.2
    cdf = np.cumsum([comb(n, r) * p0 ** r * (1 - p0) ** (n - r) for r in range(n + 1)])
    for r in (3, 8, 12):
        below = _binomial_limit(np.array([n]), p0, cdf[r] - 1e-9)[0]
        above = _binomial_limit(np.array([n]), p0, cdf[r] + 1e-9)[0]
        assert below == pytest.approx(r / n, abs=1e-6)
        assert above == pytest.approx(r / n, abs=1e-6)


def _crafted(rows: list[tuple[str, int, int]]) -> ComparisonResult:
    s = pd.DataFrame(rows, columns=["unit", "n", "observed"])
    s["observed_rate"] = s["observed"] / s["n"]
    s["expected"] = 0.3 * s["n"]
    s["predicted"] = 0.9 * s["observed"] + 0.03 * s["n"]      # monotone in the count
    s["rsr"] = s["predicted"] / s["expected"] * 0.3
    s["ci_lower"], s["ci_upper"] = s["rsr"] - 0.1, s["rsr"] + 0.1
    s["effect"], s["effect_sd"] = 0.0, 0.1
    s["flag"] = pd.Categorical(["no different"] * len(s),
                               categories=["better", "no different", "worse"], ordered=True)
    return ComparisonResult(summary=s, metadata={"overall_rate": 0.3})


def test_comparison_display_edge_cases_hide_every_route_to_a_small_count():
    """Hand-made units: few non-events (secondary suppression of the events), few events,
    n below 10, n below 5 with no events, all events, no events."""
    res = _crafted([("A", 50, 48), ("B", 12, 9), ("C", 40, 3), ("D", 8, 2), ("E", 100, 30),
                    ("F", 30, 0), ("G", 30, 30), ("H", 14, 12), ("I", 3, 0)])
    shown = comparison_display(res, lang="en").set_index("unit")
    num = {c: pd.to_numeric(shown[c], errors="coerce") for c in ("n", "observed")}
    for c in ("n", "observed"):
        assert not num[c].between(1, 4).any(), c
    assert not (num["n"] - num["observed"]).between(1, 4).any()
    # a hidden count is hidden together with every model figure built on it
    for unit in ("A", "B", "C", "H"):
        assert shown.loc[unit, "observed"] in ("..", "<5")
        assert (shown.loc[unit, ["observed_rate", "predicted", "rsr", "ci_lower",
                                 "ci_upper"]] == "").all(), unit
        assert shown.loc[unit, "expected"] != ""            # case mix only
    for unit in ("D", "I"):                                  # n < 10: no rates at all
        assert (shown.loc[unit, ["observed_rate", "expected", "predicted", "rsr"]] == "").all()
    for unit in ("E", "F", "G"):                             # nothing to hide
        assert shown.loc[unit, "rsr"] != "" and shown.loc[unit, "observed"].isdigit()
    assert shown.loc["E", "predicted"] == "30.0"


def test_tiny_units_with_only_events_converge_shrink_and_are_hidden(episodes):
    """Units of 1 and 2 episodes, all with the event (a known hard case for the conditional
    modes): the fit converges, their rates are shrunk to near the overall rate (nowhere near
    their crude 100 %), they are not flagged, and nothing model-based is displayed."""
    tiny = pd.concat([episodes, episodes.iloc[[0]].assign(unit="ZZ1", y=1),
                      episodes.iloc[[1, 2]].assign(unit="ZZ2", y=1)], ignore_index=True)
    res = risk_standardised(tiny, "y", "unit", CASE_MIX, reference=REFERENCE_LEVELS,
                            n_draws=200)
    s = res.summary.set_index("unit")
    overall = res.metadata["overall_rate"]
    for unit in ("ZZ1", "ZZ2"):
        assert s.loc[unit, "observed_rate"] == 1.0
        assert overall < s.loc[unit, "rsr"] < 1.5 * overall
        assert s.loc[unit, "flag"] == "no different"
    shown = comparison_display(res, lang="en").set_index("unit")
    assert (shown.loc[["ZZ1", "ZZ2"], ["n", "observed"]] == "<5").all().all()
    assert (shown.loc[["ZZ1", "ZZ2"], ["observed_rate", "expected", "predicted", "rsr",
                                       "ci_lower", "ci_upper"]] == "").all().all()


# --------------------------------------------------------------------------- result plot


def _plotted(ax) -> tuple[list[str], list[float]]:
    """Tick labels and the plotted rsr values (all error-bar series) of a result plot."""
    values = sorted(float(v) for c in ax.containers for v in c.lines[0].get_ydata())
    return [t.get_text() for t in ax.get_xticklabels()], values


def test_result_plot_hides_the_units_that_comparison_display_hides():
    """Same units as the comparison_display edge cases: A, B, C, H have a hidden observed count
    (small events, small non-events or complementary suppression), D and I have n < 10."""
    import matplotlib.pyplot as plt

    res = _crafted([("A", 50, 48), ("B", 12, 9), ("C", 40, 3), ("D", 8, 2), ("E", 100, 30),
                    ("F", 30, 0), ("G", 30, 30), ("H", 14, 12), ("I", 3, 0)])
    s = res.summary.set_index("unit")
    shown = comparison_display(res, lang="en").set_index("unit")
    visible = [u for u in s.index if shown.loc[u, "rsr"] != ""]
    assert sorted(visible) == ["E", "F", "G"]
    ax = res.plot()
    labels, values = _plotted(ax)
    assert labels == list(s.loc[visible, "rsr"].sort_values().index)
    assert_allclose(values, sorted(s.loc[visible, "rsr"]))
    legend = ax.get_legend_handles_labels()[1]
    assert "4 units not shown (small counts)" in legend
    assert "2 units not shown (n < 10)" in legend
    # no text anywhere on the Axes names a hidden unit
    texts = [t.get_text() for t in ax.get_xticklabels()] + [t.get_text() for t in ax.texts]
    assert not set(texts) & {"A", "B", "C", "D", "H", "I"}

    ax = res.plot(disclosure=False)
    labels, values = _plotted(ax)
    assert sorted(labels) == sorted(s.index)
    assert_allclose(values, sorted(s["rsr"]))
    assert not any("not shown" in lab for lab in ax.get_legend_handles_labels()[1])
    plt.close("all")


def test_result_plot_follows_comparison_display_thresholds_on_a_fit(fit):
    import matplotlib.pyplot as plt

    for threshold, min_denominator in ((5, 10), (3, 20)):
        shown = comparison_display(fit, lang="en", threshold=threshold, min_denominator=min_denominator)
        visible = set(shown.loc[shown["rsr"] != "", "unit"])
        assert 0 < len(visible) < len(shown)
        ax = fit.plot(threshold=threshold, min_denominator=min_denominator)
        labels, values = _plotted(ax)
        assert set(labels) == visible and len(labels) == len(visible)
        assert len(values) == len(visible)
        s = fit.summary
        n_small = int((s["n"] < min_denominator).sum())
        legend = ax.get_legend_handles_labels()[1]
        assert f"{n_small} units not shown (n < {min_denominator})" in legend
    plt.close("all")


def test_result_plot_with_every_unit_hidden_draws_only_the_note():
    import matplotlib.pyplot as plt

    res = _crafted([("A", 8, 2), ("B", 6, 0)])
    ax = res.plot()
    assert _plotted(ax) == ([], [])
    assert ax.get_legend_handles_labels()[1] == ["2 units not shown (n < 10)"]
    with pytest.raises(ParameterError, match="disclosure must be True or False"):
        res.plot(disclosure="no")
    plt.close("all")
