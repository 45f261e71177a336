"""Tests of evaluation.models.cost_effect: the adjusted extra cost per avoided breakdown
with its (cluster) bootstrap, quadrants and acceptability curve, on data with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import BootstrapError, BootstrapFailureWarning, LevelError, ParameterError
from evaluation.models.cost_effect import CostEffectResult, incremental_cost_effect


def _cost_effect_data(n: int, seed: int) -> tuple[pd.DataFrame, float, float]:
    """Confounded data with known truth: x raises cost, breakdown and the chance of B."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = np.where(rng.random(n) < 1 / (1 + np.exp(-0.8 * x)), "B", "A")
    cost = 100_000 + 40_000 * x + 50_000 * (t == "B") + rng.normal(0, 10_000, n)
    eta = -1 + x - 0.6 * (t == "B")
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    child = np.arange(n) // 2  # two episodes per child
    # True risk difference: E[expit(-1.6 + X) - expit(-1 + X)], X ~ N(0, 1), by quadrature.
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    true_rd = float(np.sum(w * (1 / (1 + np.exp(1.6 - z)) - 1 / (1 + np.exp(1 - z)))))
    frame = pd.DataFrame({"t": t, "cost": cost, "y": y, "x": x, "child": child})
    return frame, 50_000.0, true_rd


def test_incremental_cost_effect_recovers_truth_and_naive_does_not():
    d, true_dc, true_rd = _cost_effect_data(4000, seed=11)
    r = incremental_cost_effect(d, "t", "cost", "y", ["x"], treated="B", control="A",
                                cluster_col="child", n_bootstrap=100, seed=5)
    s = r.summary.set_index("measure")
    assert s.loc["cost_difference", "ci_lower"] < true_dc < s.loc["cost_difference", "ci_upper"]
    assert s.loc["risk_difference", "ci_lower"] < true_rd < s.loc["risk_difference", "ci_upper"]
    assert s.loc["cost_per_avoided_breakdown", "estimate"] == pytest.approx(
        s.loc["cost_difference", "estimate"] / -s.loc["risk_difference", "estimate"])
    naive = incremental_cost_effect(d, "t", "cost", "y", ["x"], treated="B", control="A",
                                    method="naive", n_bootstrap=50, seed=5)
    ns = naive.summary.set_index("measure")
    assert not ns.loc["cost_difference", "ci_lower"] < true_dc < ns.loc["cost_difference",
                                                                         "ci_upper"]
    assert r.metadata["quadrant"] == "more costly, fewer breakdowns"
    assert len(r.draws) == r.metadata["n_bootstrap_used"] >= 90


def test_incremental_cost_effect_bootstrap_is_seeded_and_ceac_is_monotone():
    d, _, _ = _cost_effect_data(1200, seed=2)
    a = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A", n_bootstrap=50,
                                seed=9)
    b = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A", n_bootstrap=50,
                                seed=9)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    curve = a.ceac([0, 1e5, 1e6, 1e7])
    p = curve["probability_cost_effective"].to_numpy()
    assert p[0] == 0.0  # it costs more, so at a value of 0 it is never worth it
    assert np.all(np.diff(p) >= 0)  # effect > 0 in (almost) every replicate
    import matplotlib

    matplotlib.use("Agg")
    ax = a.plot(willingness_to_pay=5e5)
    assert ax.get_xlabel().startswith("avoided breakdowns per 100 episodes (B vs A)")


def test_incremental_cost_effect_without_effect_leaves_icer_interval_missing():
    rng = np.random.default_rng(4)
    n = 800
    d = pd.DataFrame({"t": np.where(rng.random(n) < 0.5, "B", "A"), "x": rng.normal(size=n)})
    d["cost"] = 1000 + 100 * (d["t"] == "B") + rng.normal(0, 50, n)
    d["y"] = (rng.random(n) < 0.3).astype(int)  # no effect on breakdown
    r = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A", n_bootstrap=60,
                                seed=1)
    icer = r.summary.set_index("measure").loc["cost_per_avoided_breakdown"]
    assert np.isnan(icer["ci_lower"]) and np.isnan(icer["ci_upper"])
    assert "contains 0" in r.metadata["icer_note"]


def test_incremental_cost_effect_rejects_unknown_level_and_continuous_outcome():
    d, _, _ = _cost_effect_data(200, seed=1)
    with pytest.raises(LevelError, match="treated='C' is not a level of 't'"):
        incremental_cost_effect(d, "t", "cost", "y", ["x"], "C", "A", seed=1)
    with pytest.raises(ParameterError, match="must be 0/1"):
        incremental_cost_effect(d, "t", "cost", "x", ["x"], "B", "A", seed=1)


# --------------------------------------------------------------------------- review (issue 4)
def _quadrant_data(cost_shift: float, risk_b: float, n: int = 600, seed: int = 3
                   ) -> pd.DataFrame:
    """Randomised arms (no confounding): B costs ``cost_shift`` more, breakdown risk 0.3 in
    A and ``risk_b`` in B."""
    rng = np.random.default_rng(seed)
    t = np.where(rng.random(n) < 0.5, "B", "A")
    cost = 100_000 + cost_shift * (t == "B") + rng.normal(0, 1_000, n)
    y = (rng.random(n) < np.where(t == "B", risk_b, 0.3)).astype(int)
    return pd.DataFrame({"t": t, "cost": cost, "y": y, "x": rng.normal(size=n),
                         "child": np.arange(n) // 3})


@pytest.mark.parametrize(("cost_shift", "risk_b", "quadrant"), [
    (20_000, 0.1, "more costly, fewer breakdowns"),
    (-20_000, 0.1, "less costly, fewer breakdowns (dominant)"),
    (20_000, 0.6, "more costly, more breakdowns (dominated)"),
    (-20_000, 0.6, "less costly, more breakdowns"),
])
def test_icer_quadrant_and_ceac_by_hand(cost_shift, risk_b, quadrant):
    """ICER = cost difference / avoided breakdowns (signs as in the cost-effectiveness
    plane), the quadrant of the point estimate, and the CEAC recomputed from the draws:
    P(wtp x avoided - cost difference > 0); at wtp = 0 it is P(cost difference < 0) and
    for a huge wtp P(avoided > 0)."""
    d = _quadrant_data(cost_shift, risk_b)
    r = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A", method="naive",
                                n_bootstrap=60, seed=4)
    s = r.summary.set_index("measure")["estimate"]
    b, a = d[d["t"] == "B"], d[d["t"] == "A"]
    dc = b["cost"].mean() - a["cost"].mean()
    rd = b["y"].mean() - a["y"].mean()
    assert s["cost_difference"] == pytest.approx(dc, rel=1e-10)
    assert s["avoided_breakdowns"] == pytest.approx(-rd, rel=1e-10)
    assert s["cost_per_avoided_breakdown"] == pytest.approx(dc / -rd, rel=1e-10)
    assert r.metadata["quadrant"] == quadrant
    wtp = np.array([0.0, 1e5, 1e6, 1e12])
    curve = r.ceac(wtp)["probability_cost_effective"].to_numpy()
    av, c = r.draws["avoided"].to_numpy(), r.draws["cost_difference"].to_numpy()
    by_hand = [np.mean(w * av - c > 0) for w in wtp]
    assert_allclose(curve, by_hand, rtol=0, atol=0)
    assert curve[0] == np.mean(c < 0)
    assert curve[-1] == np.mean(av > 0)
    # the effect is clear in every case, so the ICER gets a percentile interval
    icer = r.summary.set_index("measure").loc["cost_per_avoided_breakdown"]
    assert_allclose([icer["ci_lower"], icer["ci_upper"]],
                    np.quantile(c / av, [0.025, 0.975]), rtol=1e-12)


def test_cluster_bootstrap_resamples_whole_children_as_documented():
    """Replay the generator: replicate 1 draws n_clusters cluster indices with
    default_rng(seed).integers and takes all rows of each drawn child, in the order drawn.
    The first draws must equal estimates on those resamples."""
    from evaluation.models.effects import estimate_effect

    d = _quadrant_data(20_000, 0.1, n=300, seed=8)
    r = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A", method="ipw",
                                cluster_col="child", n_bootstrap=50, seed=12)
    sub = d.reset_index(drop=True)
    codes, uniq = pd.factorize(sub["child"])
    rng = np.random.default_rng(12)
    for i in range(3):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([np.flatnonzero(codes == k) for k in pick])
        boot = sub.iloc[idx].reset_index(drop=True)
        cost = estimate_effect(boot, "t", "cost", ["x"], method="ipw", treated="B",
                               control="A").summary["estimate"].iloc[0]
        rd = estimate_effect(boot, "t", "y", ["x"], method="ipw", treated="B",
                             control="A").summary["estimate"].iloc[0]
        assert r.draws["cost_difference"].iloc[i] == pytest.approx(cost, rel=1e-12)
        assert r.draws["risk_difference"].iloc[i] == pytest.approx(rd, rel=1e-12)


def test_cluster_bootstrap_is_not_fooled_by_duplicated_episodes():
    """Each episode copied three times within its child: resampling rows treats the copies
    as independent and shrinks the SE by about sqrt(3); resampling children does not. With
    the same seed the children draw the same cluster indices as the rows of the original
    data, and naive means of triplicated rows equal those of the originals, so the child
    bootstrap of the tripled data reproduces the row bootstrap of the original exactly."""
    d = _quadrant_data(20_000, 0.1, n=400, seed=21).assign(child=lambda f: np.arange(len(f)))
    tripled = pd.concat([d, d, d], ignore_index=True)
    args = ("t", "cost", "y", ["x"], "B", "A")
    kw = {"method": "naive", "n_bootstrap": 200, "seed": 2}
    se = {}
    for name, frame, cl in (("once", d, None), ("rows", tripled, None),
                            ("children", tripled, "child")):
        s = incremental_cost_effect(frame, *args, cluster_col=cl, **kw).summary
        se[name] = s.set_index("measure")["se"]
    for m in ("cost_difference", "risk_difference"):
        assert se["children"][m] == pytest.approx(se["once"][m], rel=1e-9)
        assert se["rows"][m] == pytest.approx(se["once"][m] / np.sqrt(3), rel=0.2)


def test_ceac_accepts_a_single_value_and_rejects_invalid_ones():
    draws = pd.DataFrame({"cost_difference": [1000.0, -500.0, 2000.0],
                          "risk_difference": [-0.01, -0.02, 0.01],
                          "avoided": [0.01, 0.02, -0.01]})
    r = CostEffectResult(summary=pd.DataFrame(), metadata={}, draws=draws)
    # wtp 1e5: net benefits 0, 2500, -3000 -> only the second is positive
    assert r.ceac(1e5)["probability_cost_effective"].tolist() == [pytest.approx(1 / 3)]
    assert r.ceac([0, 2e5])["probability_cost_effective"].tolist() == [
        pytest.approx(1 / 3), pytest.approx(2 / 3)]
    for bad in (-1.0, np.nan, [1e5, np.inf]):
        with pytest.raises(ParameterError, match="willingness_to_pay"):
            r.ceac(bad)


def _tiny_arm_data(n_treated: int, n: int = 200, seed: int = 0) -> pd.DataFrame:
    """``n`` episodes of which the first ``n_treated`` are in arm B: a row resample has no
    B row with probability (1 - n_treated / n) ** n, about exp(-n_treated)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = np.where(np.arange(n) < n_treated, "B", "A")
    cost = 100_000 + 20_000 * x + 50_000 * (t == "B") + rng.normal(0, 10_000, n)
    y = (rng.random(n) < 0.3).astype(int)
    return pd.DataFrame({"t": t, "cost": cost, "y": y, "x": x})


def _resamples_without_arm_b(n_treated: int, n: int, n_bootstrap: int, seed: int) -> int:
    """Replay the documented row bootstrap (one ``rng.integers(0, n, n)`` per replicate)."""
    rng = np.random.default_rng(seed)
    return sum(int((rng.integers(0, n, n) >= n_treated).all()) for _ in range(n_bootstrap))


@pytest.mark.filterwarnings("ignore:positivity")
def test_failed_bootstrap_replicates_are_counted_and_warned_about():
    d = _tiny_arm_data(n_treated=3)
    expected_failed = _resamples_without_arm_b(3, len(d), 100, seed=1)
    assert 0 < expected_failed <= 10            # the seed gives some failures, not too many
    with pytest.warns(BootstrapFailureWarning,
                      match=rf"^{expected_failed} of 100 bootstrap replicates"
                            r".*First error: ParameterError: .*single level"):
        r = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A",
                                    method="naive", n_bootstrap=100, seed=1)
    m = r.metadata
    assert m["bootstrap_failed"] == expected_failed
    assert m["n_bootstrap_used"] == len(r.draws) == 100 - expected_failed
    assert "single level" in m["bootstrap_first_error"]


def test_bootstrap_without_failures_neither_warns_nor_records_any():
    import warnings

    d = _tiny_arm_data(n_treated=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        r = incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A",
                                    method="naive", n_bootstrap=50, seed=1)
    assert r.metadata["bootstrap_failed"] == 0 and r.metadata["bootstrap_first_error"] is None
    assert r.metadata["n_bootstrap_used"] == 50


@pytest.mark.filterwarnings("ignore:positivity")
def test_bootstrap_with_more_than_a_tenth_failing_is_refused():
    d = _tiny_arm_data(n_treated=2)
    expected_failed = _resamples_without_arm_b(2, len(d), 100, seed=1)
    assert expected_failed > 10
    with pytest.raises(BootstrapError, match=rf"^{expected_failed} of 100 bootstrap replicates"
                                             r".*more than the 10% allowed.*single level"):
        incremental_cost_effect(d, "t", "cost", "y", ["x"], "B", "A", method="naive",
                                n_bootstrap=100, seed=1)
