"""Tests of evaluation.models.survival against R (survival 3.5-3, cmprsk) and hand computations.

Reference values come from ``tests/reference/survival_reference.R`` (curves, quartiles,
log-rank, cumulative incidence) and ``tests/reference/survival_extra_reference.R`` (quantile
confidence limits, restricted mean survival time and its contrasts, Gray's test); run them
with ``Rscript tests/reference/<script>.R`` from the repository root. They read
``tests/reference/episodes_survival.csv``, ``episodes_placement.csv`` and
``rossi_survival.csv``, which :func:`episodes_survival_frame`, :func:`episodes_placement_frame`
and :func:`rossi_frame` write (``.venv/bin/python tests/test_survival.py`` regenerates them).
The tests need no R.
"""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from evaluation.errors import ParameterError, ShortFollowUpWarning
from evaluation.models.competing_risks import cumulative_incidence
from evaluation.models.survival import kaplan_meier
from tests.helpers import REFERENCE

FAMILY_TYPES = ("FH", "NH", "FFH", "JH")
CENSOR_DATE = pd.Timestamp("2024-12-31")


@functools.lru_cache(maxsize=1)
def _cached_synth_episodes() -> pd.DataFrame:
    from evaluation.data.synth import generate

    return generate(n_children=600, n_municipalities=5, seed=11).tables["episodes"]


def _synth_episodes() -> pd.DataFrame:
    return _cached_synth_episodes().copy()


def episodes_survival_frame() -> pd.DataFrame:
    """Fixed survival data from ``synth.generate(n_children=600, n_municipalities=5, seed=11)``.

    ``time``: days from start_date to end_date, or to 2024-12-31 if the episode is ongoing;
    ``status``: 0 ongoing, 1 planned ending, 2 unplanned ending (``planned_ending`` False);
    ``group``: 'family' for family-home types (FH, NH, FFH, JH), else 'institution'.
    """
    ep = _synth_episodes()
    ended = ep["end_date"].notna().to_numpy()
    end = ep["end_date"].where(ep["end_date"].notna(), CENSOR_DATE)
    time = (end - ep["start_date"]).dt.days.to_numpy(dtype=float)
    planned = ep["planned_ending"].fillna(False).to_numpy(dtype=bool)
    status = np.where(~ended, 0, np.where(planned, 1, 2))
    group = np.where(ep["placement_type"].isin(FAMILY_TYPES).to_numpy(dtype=bool),
                     "family", "institution")
    return pd.DataFrame({"time": time, "status": status, "group": group})


def episodes_placement_frame() -> pd.DataFrame:
    """The episodes of :func:`episodes_survival_frame` with three placement groups.

    ``placement``: 'family' (FH, NH, FFH, JH), 'hvb', or 'other' (SiS, supported housing, own
    home), for tests with two degrees of freedom.
    """
    kind = _synth_episodes()["placement_type"].astype(str).to_numpy()
    placement = np.where(np.isin(kind, FAMILY_TYPES), "family",
                         np.where(kind == "HVB", "hvb", "other"))
    frame = episodes_survival_frame()
    return pd.DataFrame({"time": frame["time"], "status": frame["status"],
                         "placement": placement})


def rossi_frame() -> pd.DataFrame:
    """lifelines' Rossi recidivism data (432 rows, weeks 1-52, many ties): week, arrest, fin.

    Written to CSV for R because carData's ``Rossi`` codes some columns differently.
    """
    from lifelines.datasets import load_rossi

    return load_rossi()[["week", "arrest", "fin"]]


RTOL = 1e-10  # R writes 15 significant digits


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "episodes_survival.csv")
    return d.assign(event=(d["status"] > 0).astype(int))


def _r(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name)


def test_reference_csv_matches_the_synthetic_generator(episodes):
    assert_allclose(episodes_survival_frame()[["time", "status"]], episodes[["time", "status"]])
    assert (episodes_survival_frame()["group"] == episodes["group"]).all()


def test_reference_versions_are_recorded():
    versions = json.loads((REFERENCE / "survival_reference_versions.json").read_text())
    assert versions["survival"] == "3.5.3" and versions["cmprsk"] == "2.2.11"


KM_COLS = ["time", "n_risk", "n_event", "n_censor", "estimate", "se", "ci_lower", "ci_upper"]


def test_kaplan_meier_matches_r_survfit_loglog(episodes):
    """R: summary(survfit(Surv(time, status > 0) ~ 1, conf.type = "log-log"), censored = TRUE)"""
    fit = kaplan_meier(episodes, duration_col="time", event_col="event")
    ref = _r("survival_km.csv").query("group.isna()", engine="python")
    assert list(fit.summary.columns) == KM_COLS
    assert_allclose(fit.summary[KM_COLS].to_numpy(float), ref[KM_COLS].to_numpy(float),
                    rtol=RTOL)


def test_grouped_kaplan_meier_matches_r_survfit_by_group(episodes):
    """R: summary(survfit(Surv(time, status > 0) ~ group, conf.type = "log-log"), censored = TRUE)"""
    fit = kaplan_meier(episodes, "time", "event", group_col="group")
    ref = _r("survival_km.csv").dropna(subset=["group"]).reset_index(drop=True)
    assert list(fit.summary["group"]) == list(ref["group"])
    assert_allclose(fit.summary[KM_COLS].to_numpy(float), ref[KM_COLS].to_numpy(float),
                    rtol=RTOL)


def test_kaplan_meier_tied_tiny_example_matches_r_and_hand():
    """R: survfit(Surv(time, event) ~ 1, conf.type = "log-log") on 8 rows with ties.

    By hand: S(1) = 7/8, S(2) = 7/8 * 6/7 = 3/4, S(3) = 3/4 * 4/5 = 3/5,
    S(4) = 3/5 * 2/4 = 3/10, S(6) = 0 (SE and CI undefined, NA in R).
    """
    tiny = pd.DataFrame({"t": [1, 2, 2, 3, 4, 4, 5, 6], "e": [1, 1, 0, 1, 1, 1, 0, 1]})
    fit = kaplan_meier(tiny, "t", "e")
    assert_allclose(fit.summary["estimate"], [7 / 8, 3 / 4, 3 / 5, 3 / 10, 3 / 10, 0.0])
    assert_allclose(fit.summary["n_risk"], [8, 7, 5, 4, 2, 1])
    assert_allclose(fit.summary["n_censor"], [0, 1, 0, 0, 1, 0])
    # Greenwood at t = 1: S * sqrt(1 / (8 * 7))
    assert_allclose(fit.summary["se"].iloc[0], 7 / 8 * np.sqrt(1 / 56))
    ref = _r("survival_km_tiny.csv")
    assert_allclose(fit.summary[KM_COLS].to_numpy(float), ref[KM_COLS].to_numpy(float),
                    rtol=RTOL)  # NaN positions must agree too


def test_kaplan_meier_quartiles_match_r_quantile(episodes):
    """R: quantile(fit, probs = c(0.25, 0.5, 0.75)) for the overall and by-group fits."""
    ref = _r("survival_km_quantiles.csv")
    fit = kaplan_meier(episodes, "time", "event")
    assert_allclose(fit.quantiles_[["q25", "q50", "q75"]].to_numpy(float),
                    ref.iloc[[0]][["q25", "q50", "q75"]].to_numpy(float))
    assert fit.median_ == ref["q50"].iloc[0]
    fitg = kaplan_meier(episodes, "time", "event", group_col="group")
    assert_allclose(fitg.quantiles_[["q25", "q50", "q75"]].to_numpy(float),
                    ref.iloc[1:][["q25", "q50", "q75"]].to_numpy(float))
    assert list(fitg.median_.index) == ["family", "institution"]


def test_kaplan_meier_quantile_on_flat_stretch_averages_like_r():
    """R: quantile(survfit(Surv(c(1, 2, 3, 4), rep(1, 4)) ~ 1), c(.25, .5, .75)) = 1.5, 2.5, 3.5"""
    flat = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 1]})
    fit = kaplan_meier(flat, "t", "e")
    ref = _r("survival_km_quantiles_flat.csv")
    assert_allclose(fit.quantiles_.to_numpy(float), ref.to_numpy(float))


def test_kaplan_meier_median_not_reached_is_nan():
    fit = kaplan_meier(pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 0, 0, 0]}), "t", "e")
    assert np.isnan(fit.median_)


def test_logrank_matches_r_survdiff(episodes):
    """R: survdiff(Surv(time, status > 0) ~ group)$chisq, df = 1"""
    ref = _r("survival_logrank.csv").iloc[0]
    lr = kaplan_meier(episodes, "time", "event", group_col="group").logrank_
    assert lr.df == 1
    assert_allclose([lr.statistic, lr.p_value], [ref["statistic"], ref["p_value"]], rtol=1e-8)


def test_logrank_two_tiny_groups_by_hand():
    """Group a fails at 1, 3; group b at 2, 4 (no censoring): O_a - E_a = 2 - (1/2+2/3+1/2+0)...

    By hand: times 1..4 with at-risk (a, b) = (2,2), (1,2), (1,1), (0,1).
    O_a - E_a = 2 - (2/4 + 1/3 + 1/2 + 0) = 2/3; V = 1/4 + 2/9 + 1/4 + 0 = 13/18.
    """
    df = pd.DataFrame({"t": [1, 3, 2, 4], "e": [1, 1, 1, 1], "g": ["a", "a", "b", "b"]})
    lr = kaplan_meier(df, "t", "e", group_col="g").logrank_
    stat = (2 / 3) ** 2 / (13 / 18)
    assert_allclose([lr.statistic, lr.p_value], [stat, stats.chi2.sf(stat, 1)])


CIF_COLS = ["estimate", "se"]


@pytest.mark.parametrize("cause", [1, 2])
def test_cumulative_incidence_matches_r_cuminc(episodes, cause):
    """R: timepoints(cuminc(time, status, cencode = 0), sort(unique(time))) est and var"""
    ref = _r(f"survival_cuminc_cause{cause}.csv").query("group.isna()", engine="python")
    fit = cumulative_incidence(episodes, "time", "status", event_of_interest=cause)
    assert_allclose(fit.summary["time"], ref["time"])
    assert_allclose(fit.summary["estimate"], ref["estimate"], rtol=RTOL)
    assert_allclose(fit.summary["se"] ** 2, ref["var"], rtol=RTOL, atol=1e-18)


def test_grouped_cumulative_incidence_at_matches_r_timepoints(episodes):
    """R: timepoints(cuminc(time, status, group, cencode = 0), sort(unique(time))), cause 2

    Read through ``at()`` at every distinct time of the whole data, so the step lookup
    and the NaN beyond a group's last follow-up are checked too.
    """
    ref = _r("survival_cuminc_cause2.csv").dropna(subset=["group"]).reset_index(drop=True)
    fit = cumulative_incidence(episodes, "time", "status", 2, group_col="group")
    got = fit.at(np.sort(episodes["time"].unique()))
    assert list(got["group"]) == list(ref["group"])
    assert_allclose(got["estimate"], ref["estimate"], rtol=RTOL)
    assert_allclose(got["se"] ** 2, ref["var"], rtol=RTOL, atol=1e-18)


def test_cumulative_incidence_loglog_ci_formula(episodes):
    """Limits are CIF^exp(-+z se / (CIF log CIF)) computed from R's cuminc variance."""
    ref = _r("survival_cuminc_cause2.csv").query("group.isna()", engine="python")
    fit = cumulative_incidence(episodes, "time", "status", 2, alpha=0.1)
    f, se = ref["estimate"].to_numpy(), np.sqrt(ref["var"].to_numpy())
    ok = (f > 0) & (f < 1)
    power = np.exp(stats.norm.ppf(0.95) * se[ok] / (f[ok] * np.log(f[ok])))
    assert_allclose(fit.summary["ci_lower"][ok], f[ok] ** (1 / power), rtol=1e-8)
    assert_allclose(fit.summary["ci_upper"][ok], f[ok] ** power, rtol=1e-8)
    assert (fit.summary["ci_lower"] <= fit.summary["estimate"]).all()


def test_cumulative_incidence_tied_example_by_hand():
    """Times 2, 2, 2, 4, 5, 6 with causes 1, 2, 0, 1, 2, 1 (ties at 2 across causes).

    S(2-) = 1, n = 6: CIF_1(2) = 1/6; S(4-) = 4/6, n = 3: CIF_1(4) = 1/6 + 2/9;
    S(5-) = 4/6 * 2/3 = 4/9, CIF_1(6) adds S(6-) * 1/1 = 4/9 * 1/2 = 2/9.
    Cause 1 and cause 2 incidences plus all-cause survival sum to one at every time.
    """
    df = pd.DataFrame({"t": [2, 2, 2, 4, 5, 6], "c": [1, 2, 0, 1, 2, 1]})
    f1 = cumulative_incidence(df, "t", "c", 1).summary
    f2 = cumulative_incidence(df, "t", "c", 2).summary
    assert_allclose(f1["estimate"], [1 / 6, 1 / 6 + 2 / 9, 1 / 6 + 2 / 9, 1 / 6 + 4 / 9])
    km = kaplan_meier(df.assign(e=(df["c"] > 0).astype(int)), "t", "e").summary
    assert_allclose(f1["estimate"] + f2["estimate"] + km["estimate"], 1.0)


def test_at_before_first_time_is_zero_and_beyond_last_is_nan():
    df = pd.DataFrame({"t": [5, 8, 8, 12, 20], "c": [1, 2, 0, 1, 0]})
    got = cumulative_incidence(df, "t", "c", 1).at([1, 10, 20, 365])
    assert_allclose(got["estimate"], [0.0, 0.2, 0.5, np.nan])
    assert list(got["time"]) == [1, 10, 20, 365]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"duration_col": "days"}, "duration_col='days' is not a column"),
        ({"event_col": "nope"}, "event_col='nope' is not a column"),
        ({"group_col": "g"}, "group_col='g' is not a column"),
        ({"alpha": 1.5}, "alpha must be a number strictly between 0 and 1"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    df = pd.DataFrame({"t": [1.0, 2.0], "e": [1, 0]})
    args = {"duration_col": "t", "event_col": "e", **kwargs}
    with pytest.raises(ParameterError, match=match):
        kaplan_meier(df, **args)
    with pytest.raises(ParameterError, match=match):
        cumulative_incidence(df, event_of_interest=1, **args)


def test_negative_duration_raises():
    df = pd.DataFrame({"t": [1.0, -2.0], "e": [1, 0]})
    with pytest.raises(ParameterError, match="non-negative durations; row 1 has -2.0"):
        kaplan_meier(df, "t", "e")


def test_missing_values_raise():
    df = pd.DataFrame({"t": [1.0, np.nan], "e": [1, 0]})
    with pytest.raises(ParameterError, match="1 missing value"):
        kaplan_meier(df, "t", "e")


def test_kaplan_meier_rejects_cause_codes():
    df = pd.DataFrame({"t": [1.0, 2.0], "e": [1, 2]})
    with pytest.raises(ParameterError, match="must be 0/1 or boolean"):
        kaplan_meier(df, "t", "e")


def test_unknown_event_of_interest_raises():
    df = pd.DataFrame({"t": [1.0, 2.0], "c": [1, 0]})
    with pytest.raises(ParameterError, match="event_of_interest=3 is not a cause code"):
        cumulative_incidence(df, "t", "c", 3)


def test_results_render_and_plot(episodes):
    import matplotlib

    matplotlib.use("Agg")
    km = kaplan_meier(episodes, "time", "event", group_col="group")
    ci = cumulative_incidence(episodes, "time", "status", 2, group_col="group")
    for res in (km, ci):
        numeric = res.summary.drop(columns="group")
        assert all(pd.api.types.is_numeric_dtype(numeric[c]) for c in numeric)
        assert res.metadata["n"] == len(episodes) and res.metadata["alpha"] == 0.05
        assert "<table" in res.to_html()
        ax = res.plot()
        assert len(ax.get_lines()) == 2
    assert "0.997" in kaplan_meier(episodes, "time", "event").to_html()


# --------------------------------------------------------------------------- quantile CIs,
# RMST and Gray's test: references from tests/reference/survival_extra_reference.R
TINY = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6], "event": [1, 1, 0, 1, 1, 1, 0, 1]})
FLAT = pd.DataFrame({"time": [1, 2, 3, 4], "event": [1, 1, 1, 1]})
NONE = pd.DataFrame({"time": [1, 2, 2, 3], "event": [0, 0, 0, 0]})


@pytest.fixture(scope="module")
def extra_fits(episodes):
    """The Kaplan–Meier fits named as in survival_extra_reference.R."""
    placement = pd.read_csv(REFERENCE / "episodes_placement.csv")
    placement = placement.assign(event=(placement["status"] > 0).astype(int))
    rossi = pd.read_csv(REFERENCE / "rossi_survival.csv")
    return {
        "episodes": kaplan_meier(episodes, "time", "event"),
        "episodes_group": kaplan_meier(episodes, "time", "event", group_col="group"),
        "episodes_level90": kaplan_meier(episodes, "time", "event", alpha=0.1),
        "placement": kaplan_meier(placement, "time", "event", group_col="placement"),
        "rossi": kaplan_meier(rossi, "week", "arrest"),
        "rossi_fin": kaplan_meier(rossi, "week", "arrest", group_col="fin"),
        "tiny": kaplan_meier(TINY, "time", "event"),
        "flat": kaplan_meier(FLAT, "time", "event"),
        "none": kaplan_meier(NONE, "time", "event"),
    }


def _rmst_quietly(fit, tau):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tau beyond follow-up: tested below
        return fit.rmst(tau)


def test_extra_reference_versions_are_recorded():
    versions = json.loads((REFERENCE / "survival_extra_reference_versions.json").read_text())
    assert versions["survival"] == "3.5.3" and versions["cmprsk"] == "2.2.11"


def test_extra_reference_csvs_match_their_generators():
    placement = pd.read_csv(REFERENCE / "episodes_placement.csv")
    expected = episodes_placement_frame()
    assert_allclose(placement[["time", "status"]], expected[["time", "status"]])
    assert (placement["placement"] == expected["placement"]).all()
    assert_allclose(pd.read_csv(REFERENCE / "rossi_survival.csv"), rossi_frame())


def test_quantile_confidence_limits_match_r_quantile_conf_int(extra_fits):
    """R: quantile(survfit(..., conf.type = "log-log"), probs = c(0, .1, .25, .5, .75, .9),
    conf.int = TRUE) for nine fits: tied days, Rossi's tied weeks (median and upper
    quartile not reached), a 90 % level, a curve ending at S = 0, a flat stretch at
    exactly S = 1 - p and no events at all. NaN (R's NA) positions must agree.
    """
    ref = _r("survival_extra_quantiles.csv")
    cols = ["quantile", "estimate", "ci_lower", "ci_upper"]
    for name, fit in extra_fits.items():
        want = ref[ref["data"] == name].reset_index(drop=True)
        got = fit.quantiles([0, 0.1, 0.25, 0.5, 0.75, 0.9])
        if want["group"].notna().any():
            assert list(got["group"]) == list(want["group"].astype(str)), name
        assert_allclose(got[cols].to_numpy(float), want[cols].to_numpy(float), rtol=RTOL,
                        err_msg=name)
    assert ref["ci_upper"].isna().any() and ref["estimate"].isna().any()  # NaN cases covered


def test_quantiles_table_agrees_with_point_quantiles(extra_fits):
    fit = extra_fits["episodes_group"]
    table = fit.quantiles()
    assert list(table.columns) == ["group", "quantile", "estimate", "ci_lower", "ci_upper"]
    wide = table.pivot(index="group", columns="quantile", values="estimate")
    assert_allclose(wide.to_numpy(), fit.quantiles_[["q25", "q50", "q75"]].to_numpy(float))
    assert (table["ci_lower"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["ci_upper"]).all()


@pytest.mark.parametrize("probs", [[], [0.5, np.nan], [-0.1], [1.5]])
def test_quantiles_reject_bad_probabilities(probs):
    with pytest.raises(ParameterError, match="probs must be probabilities in"):
        kaplan_meier(FLAT, "time", "event").quantiles(probs)


def test_rmst_matches_r_survfit_rmean(extra_fits):
    """R: summary(survfit(...), rmean = tau)$table[, c("rmean", "se(rmean)")], taus at and
    between tied event times, at a group's last time and beyond it (curve carried forward).
    """
    ref = _r("survival_extra_rmst.csv")
    for (name, tau), want in ref.groupby(["data", "tau"], sort=False):
        got = _rmst_quietly(extra_fits[name], tau)
        if want["group"].notna().any():
            assert list(got["group"]) == list(want["group"].astype(str))
        assert_allclose(got["tau"], tau)
        assert_allclose(got[["estimate", "se"]].to_numpy(float),
                        want[["estimate", "se"]].to_numpy(float), rtol=RTOL,
                        err_msg=f"{name} tau={tau}")


def test_rmst_confidence_interval_is_wald(extra_fits):
    got = extra_fits["episodes_level90"].rmst(365).iloc[0]
    z = stats.norm.ppf(0.95)
    assert_allclose([got["ci_lower"], got["ci_upper"]],
                    [got["estimate"] - z * got["se"], got["estimate"] + z * got["se"]])


@pytest.mark.parametrize("contrast", ["difference", "ratio"])
def test_rmst_contrasts_match_r(extra_fits, contrast):
    """R: from summary(fit, rmean = tau)$table, as survRM2::rmst2: difference with
    se = sqrt(se1^2 + se0^2), ratio by the delta method on the log scale, Wald p-values.
    Two groups (episodes, Rossi) and three groups (placement: two rows per tau).
    """
    ref = _r("survival_extra_rmst_contrast.csv").query("contrast == @contrast")
    cols = ["estimate", "se", "ci_lower", "ci_upper", "p_value"]
    for (name, tau), want in ref.groupby(["data", "tau"], sort=False):
        fit = extra_fits[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            got = (fit.rmst_difference(tau) if contrast == "difference"
                   else fit.rmst_ratio(tau))
        assert list(got.columns) == ["group", "reference", "tau", *cols]
        assert list(got["group"]) == list(want["group"].astype(str))
        assert list(got["reference"]) == list(want["reference"].astype(str))
        assert_allclose(got[cols].to_numpy(float), want[cols].to_numpy(float), rtol=1e-9,
                        err_msg=f"{name} tau={tau}")


def test_rmst_difference_reference_can_be_chosen(extra_fits):
    fit = extra_fits["episodes_group"]
    forward = fit.rmst_difference(365)
    backward = fit.rmst_difference(365, reference="institution")
    assert backward["group"].tolist() == ["family"]
    assert_allclose(backward[["estimate", "ci_lower", "ci_upper"]].to_numpy(),
                    -forward[["estimate", "ci_upper", "ci_lower"]].to_numpy())
    assert_allclose(backward[["se", "p_value"]], forward[["se", "p_value"]])
    ratio = fit.rmst_ratio(365, reference="institution")
    assert_allclose(ratio["estimate"], 1 / fit.rmst_ratio(365)["estimate"])


def test_rmst_without_censoring_is_mean_of_truncated_times():
    """No censoring: RMST(tau) = mean(min(T, tau)) and its SE reduces to the plug-in
    sd(min(T, tau)) / sqrt(n) (divisor n), with ties in T.
    """
    t = np.array([3, 5, 5, 8, 8, 8, 12, 15, 20, 20], float)
    fit = kaplan_meier(pd.DataFrame({"t": t, "e": 1}), "t", "e")
    for tau in (4.0, 8.0, 10.5, 20.0):
        x = np.minimum(t, tau)
        got = fit.rmst(tau).iloc[0]
        assert_allclose([got["estimate"], got["se"]], [x.mean(), x.std() / np.sqrt(len(x))])


def test_rmst_before_first_time_is_tau_with_zero_se():
    """R's summary.survfit refuses tau below the first time; S = 1 there, so RMST = tau."""
    got = kaplan_meier(TINY, "time", "event").rmst(0.5).iloc[0]
    assert_allclose([got["estimate"], got["se"], got["ci_lower"]], [0.5, 0.0, 0.5])


def test_rmst_beyond_last_follow_up_warns(extra_fits):
    """Rossi: everyone left is censored at week 52, so S(t) after 52 is unknown."""
    with pytest.warns(ShortFollowUpWarning, match=r"tau=60 lies beyond the last follow-up time "
                      r"\(52 in '0'; 52 in '1'\)"):
        extra_fits["rossi_fin"].rmst(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extra_fits["rossi_fin"].rmst(52)  # the last time itself: no warning
        extra_fits["tiny"].rmst(8)  # beyond the last time, but S = 0 there: nothing assumed
        extra_fits["episodes_group"].rmst(1500)  # institution's curve reaches 0 at 1209


def test_rmst_covers_the_true_exponential_value():
    """Known truth: T ~ Exp(rate 1/100), uniform censoring, tau = 150; the true RMST is
    100 (1 - exp(-1.5)). Over 150 seeded samples of 2 x 150 rows (times rounded up to days,
    so tied), the 95 % intervals for group a and for the difference a - b (truly 0) should
    cover about 95 % of the time (binomial sd 1.8 %).
    """
    rng = np.random.default_rng(20261125)
    truth = 100 * (1 - np.exp(-1.5))
    hits, diff_hits = 0, 0
    for _ in range(150):
        t = np.ceil(rng.exponential(100, 300))
        c = np.ceil(rng.uniform(50, 400, 300))
        df = pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int),
                           "g": np.repeat(["a", "b"], 150)})
        fit = kaplan_meier(df, "t", "e", group_col="g")
        row = fit.rmst(150).iloc[0]
        hits += row["ci_lower"] <= truth <= row["ci_upper"]
        d = fit.rmst_difference(150).iloc[0]
        diff_hits += d["ci_lower"] <= 0 <= d["ci_upper"]  # same distribution in a and b
    assert 0.90 <= hits / 150 <= 0.99
    assert 0.90 <= diff_hits / 150 <= 0.99


@pytest.mark.parametrize("tau", [0, -5, np.inf, np.nan, "a year"])
def test_rmst_rejects_bad_tau(tau):
    with pytest.raises(ParameterError, match="tau must be"):
        kaplan_meier(TINY, "time", "event").rmst(tau)


def test_rmst_contrast_needs_groups_and_a_known_reference(extra_fits):
    with pytest.raises(ParameterError, match="RMST contrasts need groups"):
        extra_fits["tiny"].rmst_difference(3)
    with pytest.raises(ParameterError, match="reference='HVB' is not a group; groups: family"):
        extra_fits["episodes_group"].rmst_ratio(365, reference="HVB")


def test_gray_test_matches_r_cuminc_tests():
    """R: cuminc(time, status, group, rho = rho, cencode = 0)$Tests (stat, pv, df) for two
    groups (rho 0, 1), three groups (rho 0, 0.5; df 2) and Rossi's weeks (one cause).
    R's p-value is 1 - pchisq(), exact only to about 1e-16 in absolute terms.
    """
    ref = _r("survival_extra_gray.csv")
    data = {
        "episodes_group": (pd.read_csv(REFERENCE / "episodes_survival.csv"),
                           "time", "status", "group"),
        "placement": (pd.read_csv(REFERENCE / "episodes_placement.csv"),
                      "time", "status", "placement"),
        "rossi_fin": (pd.read_csv(REFERENCE / "rossi_survival.csv"), "week", "arrest", "fin"),
    }
    for (name, rho), want in ref.groupby(["data", "rho"], sort=False):
        frame, time, status, group = data[name]
        fit = cumulative_incidence(frame, time, status, 1, group_col=group)
        got = fit.gray_tests(rho=rho)
        assert_allclose(got["cause"], want["cause"])
        assert_allclose(got["df"], want["df"])
        assert_allclose(got["rho"], rho)
        assert_allclose(got["statistic"], want["statistic"], rtol=RTOL, err_msg=name)
        assert_allclose(got["p_value"], want["p_value"], rtol=1e-9, atol=1e-15, err_msg=name)
        if rho == 0:
            first = want.iloc[0]
            assert fit.gray_test_.cause == 1 and fit.gray_test_.df == first["df"]
            assert_allclose(fit.gray_test_.statistic, first["statistic"], rtol=RTOL)
            assert_allclose(fit.gray_test_.p_value, first["p_value"], rtol=1e-9, atol=1e-15)


def test_gray_test_does_not_depend_on_group_labels(episodes):
    relabelled = episodes.assign(group=episodes["group"].map({"family": "z", "institution": "a"}))
    a = cumulative_incidence(episodes, "time", "status", 2, group_col="group").gray_test_
    b = cumulative_incidence(relabelled, "time", "status", 2, group_col="group").gray_test_
    assert_allclose(a.statistic, b.statistic, rtol=1e-12)


def test_gray_test_holds_its_level_under_the_null():
    """Known truth: both groups share the same cause-specific hazards (cause 1 rate 1/200,
    cause 2 rate 1/300, uniform censoring), so p < 0.05 should happen in about 5 % of 250
    seeded samples of 2 x 80 rows with tied days (binomial sd 1.4 %).
    """
    rng = np.random.default_rng(7)
    rejections = 0
    for _ in range(250):
        t = np.ceil(rng.exponential(120, 160))  # all-cause rate 1/200 + 1/300 = 1/120
        cause = np.where(rng.uniform(size=160) < 0.6, 1, 2)
        c = np.ceil(rng.uniform(30, 500, 160))
        df = pd.DataFrame({"t": np.minimum(t, c), "s": np.where(t <= c, cause, 0),
                           "g": np.repeat(["a", "b"], 80)})
        rejections += cumulative_incidence(df, "t", "s", 1, group_col="g").gray_test_.p_value < 0.05
    assert 0.02 <= rejections / 250 <= 0.09


def test_gray_test_needs_groups():
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0], "c": [1, 2, 0], "g": ["a", "a", "a"]})
    single = cumulative_incidence(df, "t", "c", 1, group_col="g")
    assert single.gray_test_ is None
    with pytest.raises(ParameterError, match="Gray's test needs at least two groups"):
        single.gray_tests()
    assert cumulative_incidence(df, "t", "c", 1).gray_test_ is None
    two = cumulative_incidence(df.assign(g=["a", "b", "b"]), "t", "c", 1, group_col="g")
    with pytest.raises(ParameterError, match="rho must be a finite number"):
        two.gray_tests(rho=np.inf)
    with pytest.raises(ParameterError, match="rho must be a number"):
        two.gray_tests(rho="early")


def test_gray_test_with_singular_variance_is_nan():
    """Group b is censored at t = 1, before any event: its score and variance are 0.

    R's cuminc reports stat = -1, pv = 1 in this case; we report NaN for both.
    """
    df = pd.DataFrame({"t": [2, 3, 4, 5, 1, 1], "c": [1, 2, 1, 0, 0, 0],
                       "g": ["a", "a", "a", "a", "b", "b"]})
    tests = cumulative_incidence(df, "t", "c", 1, group_col="g").gray_tests()
    assert tests["statistic"].isna().all() and tests["p_value"].isna().all()
    assert (tests["df"] == 1).all()


if __name__ == "__main__":  # one-off: regenerate the CSVs that the R scripts read
    episodes_survival_frame().to_csv(REFERENCE / "episodes_survival.csv", index=False)
    episodes_placement_frame().to_csv(REFERENCE / "episodes_placement.csv", index=False)
    rossi_frame().to_csv(REFERENCE / "rossi_survival.csv", index=False)


def _numeric_groups() -> pd.DataFrame:
    """Three groups coded 9, 10 and 100: as text they sort 10, 100, 9."""
    rng = np.random.default_rng(5)
    n = 90
    return pd.DataFrame({"days": rng.integers(1, 60, n).astype(float),
                         "status": rng.integers(0, 3, n),
                         "code": np.repeat([100, 9, 10], n // 3)})


def test_numeric_groups_are_ordered_by_value_not_as_text():
    df = _numeric_groups()
    df["ended"] = (df["status"] > 0).astype(int)
    km = kaplan_meier(df, "days", "ended", group_col="code")
    assert list(km.summary["group"].unique()) == ["9", "10", "100"]
    assert list(km.median_.index) == ["9", "10", "100"]
    assert list(km.quantiles()["group"].unique()) == ["9", "10", "100"]
    assert list(km.rmst_difference(30)["reference"].unique()) == ["9"]
    cif = cumulative_incidence(df, "days", "status", 1, group_col="code")
    assert list(cif.summary["group"].unique()) == ["9", "10", "100"]
    assert list(cif.at(20)["group"]) == ["9", "10", "100"]


def test_categorical_groups_keep_their_category_order_and_drop_unused_levels():
    df = _numeric_groups()
    df["ended"] = (df["status"] > 0).astype(int)
    df["age"] = pd.Categorical(df["code"].map({9: "13-17", 10: "6-12", 100: "0-5"}),
                               categories=["0-5", "6-12", "13-17", "18+"])
    km = kaplan_meier(df, "days", "ended", group_col="age")
    assert list(km.summary["group"].unique()) == ["0-5", "6-12", "13-17"]
    plain = kaplan_meier(df.assign(age=df["age"].astype(str)), "days", "ended", group_col="age")
    for g in ("0-5", "6-12", "13-17"):  # the same curves, only their order differs
        assert_allclose(km.summary.loc[km.summary["group"] == g, "estimate"],
                        plain.summary.loc[plain.summary["group"] == g, "estimate"])
    assert km.logrank_.statistic == pytest.approx(plain.logrank_.statistic, rel=1e-12)


def test_nullable_pandas_dtypes_give_the_same_estimates():
    df = _numeric_groups()
    df["ended"] = df["status"] > 0
    nullable = df.astype({"days": "Int64", "status": "Int64", "ended": "boolean",
                          "code": "Int64"})
    for fit in (lambda d: kaplan_meier(d, "days", "ended", group_col="code"),
                lambda d: cumulative_incidence(d, "days", "status", 2, group_col="code")):
        a, b = fit(df).summary, fit(nullable).summary
        assert list(a["group"]) == list(b["group"])
        assert_allclose(a.drop(columns="group").to_numpy(float),
                        b.drop(columns="group").to_numpy(float))


@pytest.mark.parametrize("alpha", ["0.05", None, np.nan, True])
def test_non_numeric_alpha_raises_a_parameter_error(alpha):
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [1, 0, 1]})
    with pytest.raises(ParameterError, match="alpha must be a number strictly between 0 and 1"):
        kaplan_meier(df, "t", "e", alpha=alpha)


def test_numpy_alpha_is_accepted_and_stored_as_a_float():
    df = _numeric_groups()
    df["ended"] = (df["status"] > 0).astype(int)
    got = kaplan_meier(df, "days", "ended", alpha=np.float32(0.1))
    want = kaplan_meier(df, "days", "ended", alpha=0.1)
    assert type(got.metadata["alpha"]) is float
    assert_allclose(got.summary["ci_lower"], want.summary["ci_lower"], rtol=1e-6)
    cif = cumulative_incidence(df, "days", "status", 1, alpha=np.float32(0.1))
    assert type(cif.metadata["alpha"]) is float


def test_logrank_drops_groups_without_expected_events_like_r_survdiff():
    """R 4.2.2, survival 3.5-3 (run by hand; survdiff drops groups whose expected count is 0)::

        d4 <- data.frame(t = c(1, 1, 5, 6, 7, 8), e = c(0, 0, 1, 1, 1, 0),
                         g = c("a", "a", "b", "b", "c", "c"))
        s <- survdiff(Surv(t, e) ~ g, d4); print(c(s$chisq, s$pvalue), digits = 15)
        # 2.8823529411764697 0.0895550744136428  (on 1 degree of freedom)
        d3 <- data.frame(t = c(1, 2, 5, 6), e = c(0, 0, 1, 1), g = c("a", "a", "b", "b"))
        survdiff(Surv(t, e) ~ g, d3)   # Chisq = 0 on 0 degrees of freedom, p = 1
    """
    d4 = pd.DataFrame({"t": [1.0, 1, 5, 6, 7, 8], "e": [0, 0, 1, 1, 1, 0],
                       "g": ["a", "a", "b", "b", "c", "c"]})
    test = kaplan_meier(d4, "t", "e", group_col="g").logrank_
    assert test.df == 1
    assert_allclose([test.statistic, test.p_value], [2.8823529411764697, 0.0895550744136428],
                    rtol=1e-10)
    d3 = pd.DataFrame({"t": [1.0, 2, 5, 6], "e": [0, 0, 1, 1], "g": ["a", "a", "b", "b"]})
    test = kaplan_meier(d3, "t", "e", group_col="g").logrank_
    assert (test.statistic, test.df, test.p_value) == (0.0, 0, 1.0)


def test_logrank_without_events_or_with_zero_variance_is_nan():
    no_events = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [0, 0, 0, 0], "g": ["a", "a", "b", "b"]})
    test = kaplan_meier(no_events, "t", "e", group_col="g").logrank_
    assert test.statistic == 0.0 and np.isnan(test.p_value)
    all_fail = pd.DataFrame({"t": [1.0, 1.0], "e": [1, 1], "g": ["a", "b"]})  # n = d: V = 0
    test = kaplan_meier(all_fail, "t", "e", group_col="g").logrank_
    assert np.isnan(test.statistic) and np.isnan(test.p_value) and test.df == 1


@pytest.mark.parametrize("p", ["half", None, np.nan, 1.5])
def test_quantile_rejects_non_probabilities(p):
    fit = kaplan_meier(pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [1, 0, 1]}), "t", "e")
    with pytest.raises(ParameterError, match="p must lie in"):
        fit.quantile(p)


def _all_results() -> dict[str, object]:
    """One fit of each result type of the survival modules, on small synthetic data."""
    from evaluation.models.coxph import cox
    from evaluation.models.finegray import fine_gray
    from evaluation.models.multistate import state_occupation

    df = _numeric_groups()
    df["ended"] = (df["status"] > 0).astype(int)
    df["age"] = np.random.default_rng(6).uniform(0, 17, len(df))
    fit = cox(df, "days", "ended", ["age", "code"])
    ms = pd.DataFrame({"id": [1, 2, 2, 3, 4], "start": [0, 0, 2, 0, 0],
                       "stop": [3, 2, 5, 4, 1], "state": ["HVB", "HVB", "end", 0, "end"]})
    return {
        "KaplanMeierResult": kaplan_meier(df, "days", "ended", group_col="code"),
        "CumulativeIncidenceResult": cumulative_incidence(df, "days", "status", 1,
                                                          group_col="code"),
        "CoxResult": fit,
        "PHTestResult": fit.ph_test(),
        "AdjustedSurvivalResult": fit.adjusted_survival(df, "code"),
        "FineGrayResult": fine_gray(df, "days", "status", 1, ["age"]),
        "StateOccupationResult": state_occupation(ms, "id", "start", "stop", "state",
                                                  initial_state="FH"),
    }


CURVE_COLS = ["time", "estimate", "ci_lower", "ci_upper"]
TERM_COLS = ["estimate", "se", "ci_lower", "ci_upper", "p_value", "exp_estimate"]


def test_every_result_has_the_shared_shape():
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    results = _all_results()
    assert {type(r).__name__: name for name, r in results.items()} == {
        name: name for name in results}
    for name, res in results.items():
        s = res.summary
        text = [c for c in s.columns if not pd.api.types.is_numeric_dtype(s[c])]
        assert set(text) <= {"group", "state"}, name
        if name in ("CoxResult", "FineGrayResult"):
            assert set(TERM_COLS) <= set(s.columns), name
        elif name != "PHTestResult":
            assert set(CURVE_COLS) <= set(s.columns), name
        assert {"method", "alpha", "n", "versions"} <= set(res.metadata), name
        assert res.metadata["alpha"] == 0.05 and res.metadata["n"] > 0, name
        assert "<table" in res.to_html(), name
        assert isinstance(res.plot(ax=None), Axes), name
        plt.close("all")


@pytest.mark.parametrize("times", ["a year", [365, None], [np.nan], []])
def test_at_rejects_times_that_are_not_numbers(times):
    from evaluation.models.multistate import state_occupation

    df = _numeric_groups()
    cif = cumulative_incidence(df, "days", "status", 1)
    ms = pd.DataFrame({"id": [1, 2], "start": [0, 0], "stop": [3, 2], "state": ["HVB", 0]})
    occupation = state_occupation(ms, "id", "start", "stop", "state", initial_state="FH")
    for res in (cif, occupation):
        with pytest.raises(ParameterError, match="times must"):
            res.at(times)


@pytest.mark.parametrize("kind", ["timedelta", "datetime"])
def test_durations_as_timedeltas_or_dates_are_refused_not_read_as_nanoseconds(kind):
    days = pd.to_timedelta([10, 20, 30], unit="D")
    df = pd.DataFrame({"d": days if kind == "timedelta" else pd.Timestamp("2020-01-01") + days,
                       "e": [1, 1, 0], "c": [1, 2, 0]})
    with pytest.raises(ParameterError, match=r"'d' \(duration_col\).*\.dt\.days"):
        kaplan_meier(df, "d", "e")
    with pytest.raises(ParameterError, match=r"'d' \(duration_col\).*\.dt\.days"):
        cumulative_incidence(df, "d", "c", 1)


@pytest.mark.parametrize("bad", [-1, 1.5, np.inf])
def test_cumulative_incidence_refuses_cause_codes_that_are_not_non_negative_integers(bad):
    # a -1 meant as "censored" must not silently become a competing cause
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "c": [1, bad, 0, 2]})
    with pytest.raises(ParameterError, match=r"'c' \(event_col\).*non-negative integer.*row 1"):
        cumulative_incidence(df, "t", "c", 1)


def test_regression_tables_in_html_keep_their_term_names():
    results = _all_results()
    for name, term in (("CoxResult", "age"), ("FineGrayResult", "age"),
                       ("PHTestResult", "GLOBAL")):
        html = results[name].to_html()
        assert f">{term}<" in html, name
    assert ">0<" not in results["KaplanMeierResult"].to_html()  # no row numbers on curves
