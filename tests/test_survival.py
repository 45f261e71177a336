"""Tests of evaluation.survival against R (survival 3.5-3, cmprsk) and hand computations.

Reference values come from ``tests/reference/survival_reference.R`` (run with
``Rscript tests/reference/survival_reference.R`` from the repository root); it reads
``tests/reference/episodes_survival.csv``, which :func:`episodes_survival_frame` writes
(``.venv/bin/python tests/test_survival.py`` regenerates it). The tests need no R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from evaluation.errors import ParameterError
from evaluation.survival import cumulative_incidence, kaplan_meier

REFERENCE = Path(__file__).parent / "reference"
FAMILY_TYPES = ("FH", "NH", "FFH", "JH")
CENSOR_DATE = pd.Timestamp("2024-12-31")


def episodes_survival_frame() -> pd.DataFrame:
    """Fixed survival data from ``synth.generate(n_children=600, n_municipalities=5, seed=11)``.

    ``time``: days from start_date to end_date, or to 2024-12-31 if the episode is ongoing;
    ``status``: 0 ongoing, 1 planned ending, 2 unplanned ending (``planned_ending`` False);
    ``group``: 'family' for family-home types (FH, NH, FFH, JH), else 'institution'.
    """
    from evaluation.synth import generate

    ep = generate(n_children=600, n_municipalities=5, seed=11).tables["episodes"]
    ended = ep["end_date"].notna().to_numpy()
    end = ep["end_date"].where(ep["end_date"].notna(), CENSOR_DATE)
    time = (end - ep["start_date"]).dt.days.to_numpy(dtype=float)
    planned = ep["planned_ending"].fillna(False).to_numpy(dtype=bool)
    status = np.where(~ended, 0, np.where(planned, 1, 2))
    group = np.where(ep["placement_type"].isin(FAMILY_TYPES).to_numpy(dtype=bool),
                     "family", "institution")
    return pd.DataFrame({"time": time, "status": status, "group": group})


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


if __name__ == "__main__":  # one-off: regenerate the CSV that the R script reads
    episodes_survival_frame().to_csv(REFERENCE / "episodes_survival.csv", index=False)
