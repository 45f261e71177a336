"""Tests of evaluation.models.effects_survival (IPW Kaplan–Meier / Aalen–Johansen effects).

R references: tests/reference/effects_survival_reference.R reads effects_survival_data.csv
(FH and HVB episodes of evaluation.data.synth seed 11 with ATE propensity weights ``w``) and writes
effects_survival_{km,aj,rmst}.csv with R 4.2.2 / survival 3.5.3 (see the versions JSON).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.analysis_frame import effect_frame
from evaluation.errors import ParameterError
from evaluation.models.effects_survival import _points, _table, weighted_survival
from tests.helpers import REFERENCE as REF

matplotlib.use("Agg")

RTOL = 1e-6


@pytest.fixture(scope="module")
def ref_data():
    d = pd.read_csv(REF / "effects_survival_data.csv")
    d["any"] = (d["event"] > 0).astype(int)
    return d


def _close(got, want, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol,
                               atol=atol)


def test_weighted_kaplan_meier_matches_r_survfit(ref_data):
    """Curves at 1e-6. The SE is compared at 1e-6 too: with non-integer weights R's survfit
    std.err is the infinitesimal-jackknife SE of the survival probability, which is what
    ``se_risk`` is (SE of 1 - S = SE of S)."""
    r = pd.read_csv(REF / "effects_survival_km.csv")
    res = weighted_survival(ref_data, "time", "any", "arm", weights_col="w",
                            treated="HVB", control="FH")
    assert not res.metadata["competing"]
    for g in ("FH", "HVB"):
        c = res.curves[res.curves["group"] == g]
        rr = r[r["group"] == g]
        assert c["time"].tolist() == rr["time"].tolist()
        for mine, theirs in (("n_risk", "n_risk"), ("n_event", "n_event"),
                             ("n_censor", "n_censor"), ("surv", "surv")):
            _close(c[mine], rr[theirs])
        _close(c["risk"], 1 - rr["surv"])
        _close(c["se_risk"], rr["std_err"])


def test_weighted_aalen_johansen_matches_r_multistate_survfit(ref_data):
    """Cumulative incidence, event-free probability and their IJ SEs (R's default variance
    for multi-state curves) at 1e-6. R's multi-state n.risk/n.event are unweighted counts,
    so the weighted counts are not compared here (they are in the KM test)."""
    r = pd.read_csv(REF / "effects_survival_aj.csv")
    res = weighted_survival(ref_data, "time", "event", "arm", weights_col="w", cause=1,
                            treated="HVB", control="FH")
    assert res.metadata["competing"]
    for g in ("FH", "HVB"):
        c = res.curves[res.curves["group"] == g]
        rr = r[r["group"] == g]
        assert c["time"].tolist() == rr["time"].tolist()
        _close(c["risk"], rr["cif"])
        _close(c["surv"], rr["surv"])
        _close(c["se_risk"], rr["se_cif"])
    # Per-arm risk at the horizon is the curve value at the last time <= horizon.
    arms = res.arms.set_index(["group", "measure"])
    for g in ("FH", "HVB"):
        rr = r[(r["group"] == g) & (r["time"] <= 365)].iloc[-1]
        _close(arms.loc[(g, "risk"), "estimate"], rr["cif"])
        _close(arms.loc[(g, "risk"), "se"], rr["se_cif"])


def test_rmst_matches_r_rmean(ref_data):
    r = pd.read_csv(REF / "effects_survival_rmst.csv").set_index("group")
    for event in ("any", "event"):  # RMST is event-free time of every cause in both cases
        res = weighted_survival(ref_data, "time", event, "arm", weights_col="w",
                                treated="HVB", control="FH", horizons=[365])
        arms = res.arms.set_index(["group", "measure"])
        for g in ("FH", "HVB"):
            _close(arms.loc[(g, "rmst"), "estimate"], r.loc[g, "rmean"])
        d = res.summary.set_index("measure").loc["rmst_difference"]
        _close(d["estimate"], r.loc["HVB", "rmean"] - r.loc["FH", "rmean"])


def test_ij_variances_equal_finite_difference_influence(ref_data):
    """The IJ variance sum_i (w_i dF/dw_i)^2 of the risk and RMST, with dF/dw_i from a
    central finite difference of the estimator itself (independent of the recursion)."""
    d = ref_data[ref_data["arm"] == "FH"].iloc[:120]
    t, e, w = (d[c].to_numpy(float) for c in ("time", "event", "w"))
    a = np.zeros(len(t), dtype=int)
    a[::2] = 1  # two pseudo-arms; take arm 0
    res = weighted_survival(d.assign(a=a), "time", "event", "a", weights_col="w",
                            horizons=[200, 365], tau=300)
    m = a == 0
    t0, e0, w0 = t[m], e[m], w[m]
    hz = np.array([200.0, 365.0])

    def point(ww):
        return _points(t0, e0, ww, np.zeros(len(t0), dtype=int), 1.0, hz, 300.0)[:3]

    grad = np.empty((len(t0), 3))
    for i in range(len(t0)):
        step = np.zeros(len(t0))
        step[i] = 1e-6 * w0[i]
        grad[i] = (point(w0 + step) - point(w0 - step)) / (2e-6 * w0[i])
    se_fd = np.sqrt(np.sum((w0[:, None] * grad) ** 2, axis=0))
    arms = res.arms[res.arms["group"] == "0"]
    _close(arms["se"], se_fd, rtol=1e-5)


def test_estimated_weights_equal_manual_statsmodels_weights(ref_data):
    import statsmodels.api as sm

    d = ref_data
    x = sm.add_constant(d[["age_13plus", "behaviour"]].astype(float))
    a = (d["arm"] == "HVB").astype(float)
    e = sm.GLM(a, x, family=sm.families.Binomial()).fit().fittedvalues.to_numpy()
    for estimand, w in (("ATE", np.where(a == 1, 1 / e, 1 / (1 - e))),
                        ("ATT", np.where(a == 1, 1.0, e / (1 - e)))):
        est = weighted_survival(d, "time", "event", "arm", ["age_13plus", "behaviour"],
                                estimand=estimand, treated="HVB", control="FH")
        given = weighted_survival(d.assign(ww=w), "time", "event", "arm", weights_col="ww",
                                  treated="HVB", control="FH")
        _close(est.summary["estimate"], given.summary["estimate"], rtol=1e-9)
        _close(est.summary["se"], given.summary["se"], rtol=1e-9)
    # ATE weights in the reference file were made by the same model.
    _close(np.where(a == 1, 1 / e, 1 / (1 - e)), d["w"], rtol=1e-9)


def test_summary_is_consistent_with_arms(ref_data):
    res = weighted_survival(ref_data, "time", "event", "arm", weights_col="w",
                            treated="HVB", control="FH", horizons=[180, 365])
    s = res.summary.set_index(["measure", "time"])
    arms = res.arms.set_index(["group", "measure", "time"])
    for h in (180.0, 365.0):
        r1, r0 = arms.loc[("HVB", "risk", h)], arms.loc[("FH", "risk", h)]
        rd = s.loc[("risk_difference", h)]
        assert rd["estimate"] == pytest.approx(r1["estimate"] - r0["estimate"])
        assert rd["se"] == pytest.approx(np.hypot(r1["se"], r0["se"]))
        assert rd["ci_lower"] < rd["estimate"] < rd["ci_upper"]
        rr = s.loc[("risk_ratio", h)]
        assert rr["estimate"] == pytest.approx(r1["estimate"] / r0["estimate"])
    assert set(res.summary.columns) == {"contrast", "measure", "time", "estimate", "se",
                                        "ci_lower", "ci_upper", "p_value", "n"}
    assert (res.summary["contrast"] == "HVB vs FH").all()
    assert (res.summary["n"] == len(ref_data)).all()


@pytest.fixture(scope="module")
def synth_frame():
    data = synth.generate(n_children=6000, n_municipalities=30, seed=21)
    frame = effect_frame(data, horizon=365)
    ep = data.tables["episodes"].set_index("episode_id").loc[frame["episode_id"]]
    end = pd.Timestamp(data.truth["generated"]["end"])
    stop = ep["end_date"].fillna(end)
    ended = ep["end_date"].notna().to_numpy()
    planned = ep["planned_ending"].fillna(True).astype(bool).to_numpy()
    frame["days"] = (stop - ep["start_date"]).dt.days.to_numpy()
    frame["status"] = np.where(ended, np.where(planned, 2, 1), 0)
    frame = frame[frame["placement_type"].isin(["FH", "HVB"])]
    return data, frame


def test_known_truth_ipw_cumulative_incidence_recovers_the_true_risk_difference(synth_frame):
    """At 365 days the weighted AJ risk difference (HVB vs FH; competing planned endings,
    administrative censoring only after 365 days in this frame) is within 3 SE of the
    population truth ATE_FH_or_HVB; the unweighted comparison is biased upwards by > 3 SE.
    (Seed 21, 6,000 children: truth ~0.047, IPW ~0.05, naive ~0.13.)"""
    data, frame = synth_frame
    truth = data.truth["placement_effects"]["population"]["values"]["365"]["contrasts"]
    true = truth["HVB vs FH"]["ATE_FH_or_HVB"]["risk_difference"]
    cov = ["age_13", "age_14_15", "age_16", "age_17", "age_18", "age_19_20", "behaviour",
           "teen_behaviour", "unaccompanied", "problem_child_mental", "goal_REUNIFICATION",
           "goal_LONGTERM", "goal_CUSTODY_TRANSFER"]
    res = weighted_survival(frame, "days", "status", "placement_type", cov,
                            treated="HVB", control="FH", horizons=[365])
    rd = res.summary.set_index("measure").loc["risk_difference"]
    assert abs(rd["estimate"] - true) < 3 * rd["se"]
    naive = weighted_survival(frame.assign(one=1.0), "days", "status", "placement_type",
                              weights_col="one", treated="HVB", control="FH", horizons=[365])
    nrd = naive.summary.set_index("measure").loc["risk_difference"]
    assert nrd["estimate"] - true > 3 * nrd["se"]
    assert res.metadata["competing"]
    # No censoring before 365 days here, so the unweighted AJ risk is the observed proportion.
    for g in ("FH", "HVB"):
        y = frame.loc[frame["placement_type"] == g, "unplanned_365d"]
        got = naive.arms.set_index(["group", "measure"]).loc[(g, "risk"), "estimate"]
        assert got == pytest.approx(y.mean(), rel=1e-12)


def test_bootstrap_se_is_close_to_robust_se(synth_frame):
    _data, frame = synth_frame
    frame = frame.iloc[:1500]
    cov = ["age_13plus", "behaviour", "unaccompanied"]
    rob = weighted_survival(frame, "days", "status", "placement_type", cov, treated="HVB",
                            control="FH", horizons=[365])
    boot = weighted_survival(frame, "days", "status", "placement_type", cov, treated="HVB",
                             control="FH", horizons=[365], se_method="bootstrap", n_bootstrap=60,
                             seed=3)
    pd.testing.assert_series_equal(rob.summary["estimate"], boot.summary["estimate"])
    ratio = boot.summary["se"] / rob.summary["se"]
    assert ratio.between(0.6, 1.5).all(), ratio.tolist()
    again = weighted_survival(frame, "days", "status", "placement_type", cov, treated="HVB",
                              control="FH", horizons=[365], se_method="bootstrap",
                              n_bootstrap=60, seed=3)
    pd.testing.assert_frame_equal(boot.summary, again.summary)


def test_table_handles_ties_and_all_events_at_last_time():
    t = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    e = np.array([1.0, 0.0, 1.0, 2.0, 1.0])
    w = np.array([1.0, 2.0, 1.0, 1.0, 0.5])
    tab = _table(t, e, w, 1.0)
    # By hand: y = 5.5, 2.5, 0.5; events of interest 1, 1, 0.5; competing 0, 1, 0.
    s1 = 1 - 1 / 5.5
    s2 = s1 * (1 - 2 / 2.5)
    _close(tab["surv"], [s1, s2, 0.0])
    _close(tab["risk"], [1 / 5.5, 1 / 5.5 + s1 * 1 / 2.5, 1 / 5.5 + s1 / 2.5 + s2])


def test_plot_returns_axes(ref_data):
    import matplotlib.pyplot as plt

    res = weighted_survival(ref_data, "time", "event", "arm", weights_col="w",
                            treated="HVB", control="FH")
    ax = res.plot()
    assert len(ax.get_lines()) == 2
    assert "cumulative incidence" in ax.get_ylabel()
    plt.close(ax.figure)
    assert "<table" in res.to_html()


@pytest.mark.parametrize("kwargs, match", [
    ({"covariates": None}, "exactly one"),
    ({"weights_col": "w"}, "exactly one"),
    ({"estimand": "ATO"}, "estimand"),
    ({"se_method": "jackknife"}, "se_method"),
    ({"treated": "SIS"}, "not a level"),
    ({"horizons": [-1]}, "horizons"),
    ({"cause": 7}, "cause"),
    ({"alpha": 1.5}, "alpha"),
])
def test_invalid_arguments_raise(ref_data, kwargs, match):
    args = {"covariates": ["age_13plus"], "treated": "HVB", "control": "FH", **kwargs}
    with pytest.raises(ParameterError, match=match):
        weighted_survival(ref_data, "time", "event", "arm", **args)


def test_bad_columns_and_weights_raise(ref_data):
    with pytest.raises(ParameterError, match="'nope'"):
        weighted_survival(ref_data, "nope", "event", "arm", ["age_13plus"])
    with pytest.raises(ParameterError, match="weights > 0"):
        weighted_survival(ref_data.assign(w=-1.0), "time", "event", "arm", weights_col="w")
    with pytest.raises(ParameterError, match="missing"):
        weighted_survival(ref_data.assign(time=np.nan), "time", "event", "arm", ["behaviour"])
    with pytest.raises(ParameterError, match="non-negative"):
        weighted_survival(ref_data.assign(time=-1.0), "time", "event", "arm", ["behaviour"])


def test_default_levels_of_a_two_level_treatment(ref_data):
    full = weighted_survival(ref_data, "time", "event", "arm", weights_col="w",
                             treated="HVB", control="FH")
    for kwargs in ({}, {"treated": "HVB"}, {"control": "FH"}):
        res = weighted_survival(ref_data, "time", "event", "arm", weights_col="w", **kwargs)
        pd.testing.assert_frame_equal(res.summary, full.summary)
    swapped = weighted_survival(ref_data, "time", "event", "arm", weights_col="w",
                                treated="FH")
    assert swapped.summary["contrast"].iloc[0] == "FH vs HVB"
