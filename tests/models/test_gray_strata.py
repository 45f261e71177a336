"""Tests of the stratified Gray's test (``cumulative_incidence(..., strata_col=)``).

Reference values come from ``tests/reference/gray_strata_reference.R`` (cmprsk's
``cuminc(time, status, group, strata = , rho = )$Tests``); run it with
``Rscript tests/reference/gray_strata_reference.R`` from the repository root. It reads
``tests/reference/gray_strata_data.csv``, which :func:`gray_strata_frame` writes
(``.venv/bin/python tests/test_gray_strata.py`` regenerates it). The tests need no R.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from evaluation.errors import ParameterError
from evaluation.models.competing_risks import cumulative_incidence
from tests.helpers import REFERENCE

RTOL = 1e-10  # R writes 15 significant digits; the agreement found is ~1e-13 or closer


def gray_strata_frame() -> pd.DataFrame:
    """Seeded synthetic episodes (no real data) whose strata confound group and cause.

    450 rows: ``time`` whole days (many ties), ``status`` 0 ongoing, 1 planned ending,
    2 unplanned ending; groups ``placement`` (family/hvb/other) and ``institution``
    (family/institution); strata ``municipality`` (m1-m3, which shifts both the placement
    mix and the cause-specific hazards), ``age_band`` (0-12/13-17, more teenagers in
    institutions and more unplanned endings among them) and ``sparse`` (the municipality,
    except that the "other" placements of m3 form a stratum m4 of their own, so one stratum
    holds a single group and m3 lacks that group).
    """
    rng = np.random.default_rng(20261130)
    n = 450
    muni = rng.choice(["m1", "m2", "m3"], size=n, p=[0.45, 0.35, 0.20])
    mix = {"m1": [0.6, 0.3, 0.1], "m2": [0.35, 0.4, 0.25], "m3": [0.2, 0.35, 0.45]}
    placement = np.array([rng.choice(["family", "hvb", "other"], p=mix[m]) for m in muni])
    teen = rng.uniform(size=n) < np.where(placement == "family", 0.35, 0.65)
    rate1 = np.select([muni == "m1", muni == "m2"], [1 / 400, 1 / 600], 1 / 900)
    rate2 = (np.select([muni == "m1", muni == "m2"], [1 / 1200, 1 / 700], 1 / 450)
             * np.where(teen, 1.8, 1.0) * np.where(placement == "hvb", 1.3, 1.0))
    t = np.ceil(rng.exponential(1 / (rate1 + rate2)))
    cause = np.where(rng.uniform(size=n) < rate1 / (rate1 + rate2), 1, 2)
    censor = np.ceil(rng.uniform(60, 1500, n))
    return pd.DataFrame({
        "time": np.minimum(t, censor),
        "status": np.where(t <= censor, cause, 0),
        "placement": placement,
        "institution": np.where(placement == "family", "family", "institution"),
        "municipality": muni,
        "age_band": np.where(teen, "13-17", "0-12"),
        "sparse": np.where((muni == "m3") & (placement == "other"), "m4", muni),
    })


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "gray_strata_data.csv")


def test_reference_csv_matches_its_generator(data):
    expected = gray_strata_frame()
    assert_allclose(data[["time", "status"]], expected[["time", "status"]])
    for col in ("placement", "institution", "municipality", "age_band", "sparse"):
        assert (data[col] == expected[col]).all(), col
    assert data["time"].duplicated().sum() > 100  # day resolution: many tied times


def test_reference_versions_are_recorded():
    versions = json.loads((REFERENCE / "gray_strata_versions.json").read_text())
    assert versions["cmprsk"] == "2.2.11"


GROUPS = ("institution", "placement")  # 2 and 3 groups
STRATA = ("none", "age_band", "municipality", "sparse")  # none, 2, 3 and 4 strata
RHOS = (0, 1)


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "gray_strata_tests.csv")


def test_reference_covers_every_case(ref):
    cases = set(ref[["group", "strata", "rho"]].itertuples(index=False, name=None))
    assert cases == {(g, s, r) for g in GROUPS for s in STRATA for r in RHOS}
    assert set(ref["cause"]) == {1, 2}


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("strata", STRATA)
@pytest.mark.parametrize("group", GROUPS)
def test_stratified_gray_test_matches_r_cuminc_strata(data, ref, group, strata, rho):
    """R: cuminc(d$time, d$status, d[[group]], strata = d[[strata]], rho = rho)$Tests
    (strata "none": without strata). p-values: R's 1 - pchisq() is exact only to about
    1e-16 in absolute terms, hence atol 1e-15.
    """
    want = ref[(ref["group"] == group) & (ref["strata"] == strata) & (ref["rho"] == rho)]
    assert len(want) == 2  # one row per cause
    strata_col = None if strata == "none" else strata
    fit = cumulative_incidence(data, "time", "status", 1, group_col=group,
                               strata_col=strata_col)
    got = fit.gray_tests(rho=rho)
    assert_allclose(got["cause"], want["cause"])
    assert_allclose(got["df"], want["df"])
    assert_allclose(got["statistic"], want["statistic"], rtol=RTOL)
    assert_allclose(got["p_value"], want["p_value"], rtol=RTOL, atol=1e-15)
    if rho == 0:
        assert_allclose(fit.gray_test_.statistic, want["statistic"].iloc[0], rtol=RTOL)
        assert fit.gray_test_.df == want["df"].iloc[0]


def test_reference_shows_that_stratifying_matters(ref):
    """Guard on the reference itself: the strata confound group and cause, so the
    stratified statistics differ clearly from the unstratified ones."""
    wide = ref.pivot_table(index=["group", "rho", "cause"], columns="strata",
                           values="statistic")
    for strata in ("age_band", "municipality", "sparse"):
        assert (abs(wide[strata] / wide["none"] - 1) > 0.05).any(), strata


@pytest.mark.parametrize("constant", ["all", 1])
def test_single_stratum_equals_the_unstratified_test(constant):
    """One stratum: crstm sums a single score and variance, so the test is unchanged."""
    placement = pd.read_csv(REFERENCE / "episodes_placement.csv").assign(one=constant)
    for rho in (0, 1):
        plain = cumulative_incidence(placement, "time", "status", 2,
                                     group_col="placement").gray_tests(rho)
        fit = cumulative_incidence(placement, "time", "status", 2, group_col="placement",
                                   strata_col="one")
        assert fit.metadata["n_strata"] == 1
        pd.testing.assert_frame_equal(fit.gray_tests(rho), plain, check_exact=False,
                                      rtol=1e-12)


def test_stratum_with_a_single_group_contributes_nothing(data):
    """Stratum m4 of ``sparse`` holds only "other" placements: dropping its rows leaves
    the stratified test unchanged (but not the unstratified one)."""
    full = cumulative_incidence(data, "time", "status", 1, group_col="placement",
                                strata_col="sparse").gray_tests(1)
    kept = data[data["sparse"] != "m4"]
    without = cumulative_incidence(kept, "time", "status", 1, group_col="placement",
                                   strata_col="sparse").gray_tests(1)
    pd.testing.assert_frame_equal(full, without, check_exact=False, rtol=1e-12)
    plain = cumulative_incidence(kept, "time", "status", 1,
                                 group_col="placement").gray_tests(1)
    assert not np.allclose(plain["statistic"], without["statistic"], rtol=1e-3)


def test_stratified_test_does_not_depend_on_strata_labels(data):
    relabelled = data.assign(municipality=data["municipality"].map({"m1": 3, "m2": 1,
                                                                    "m3": 2}))
    a = cumulative_incidence(data, "time", "status", 2, group_col="placement",
                             strata_col="municipality").gray_tests()
    b = cumulative_incidence(relabelled, "time", "status", 2, group_col="placement",
                             strata_col="municipality").gray_tests()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_strata_leave_the_curves_unchanged_and_are_recorded(data):
    plain = cumulative_incidence(data, "time", "status", 1, group_col="placement")
    strat = cumulative_incidence(data, "time", "status", 1, group_col="placement",
                                 strata_col="municipality")
    pd.testing.assert_frame_equal(plain.summary, strat.summary)
    assert strat.metadata["strata_col"] == "municipality"
    assert strat.metadata["n_strata"] == 3
    assert plain.metadata["strata_col"] is None and plain.metadata["n_strata"] is None


def test_stratified_gray_test_holds_its_level_under_confounding_strata():
    """Known truth: within each stratum both groups share the same cause-specific hazards,
    but stratum 1 has a higher cause-1 and a lower cause-2 hazard and mostly group b, so
    the groups differ only through the strata. In 100 seeded samples of 160 rows (times in
    whole weeks, many ties) the stratified p-values should be uniform: at most 11 % below
    0.05 (the binomial 99.5 % quantile for a 5 % level) and no Kolmogorov-Smirnov
    rejection of uniformity at 1 %. The unstratified test, run on the first 20 samples,
    rejects most of the time. (Offline, 1,000 samples gave a level of 4.8 %.)
    """
    rng = np.random.default_rng(3)
    reps, n = 100, 160
    p_strat, p_plain = [], []
    for i in range(reps):
        stratum = rng.integers(0, 2, n)
        group = np.where(rng.uniform(size=n) < np.where(stratum == 1, 0.8, 0.2), "b", "a")
        rate1 = np.where(stratum == 1, 1 / 150, 1 / 600)  # per day
        rate2 = np.where(stratum == 1, 1 / 600, 1 / 300)
        t = np.ceil(rng.exponential(1 / (rate1 + rate2)) / 7)
        cause = np.where(rng.uniform(size=n) < rate1 / (rate1 + rate2), 1, 2)
        censor = np.ceil(rng.uniform(30, 600, n) / 7)
        df = pd.DataFrame({"weeks": np.minimum(t, censor),
                           "s": np.where(t <= censor, cause, 0), "g": group, "stratum": stratum})
        fit = cumulative_incidence(df, "weeks", "s", 1, group_col="g", strata_col="stratum")
        p_strat.append(fit.gray_test_.p_value)
        if i < 20:
            plain = cumulative_incidence(df, "weeks", "s", 1, group_col="g")
            p_plain.append(plain.gray_test_.p_value)
    p_strat = np.array(p_strat)
    assert np.mean(p_strat < 0.05) <= 0.11
    assert stats.kstest(p_strat, "uniform").pvalue > 0.01
    assert np.mean(np.array(p_plain) < 0.05) > 0.5  # the confounding is real


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"strata_col": "municipality"}, "strata_col='municipality' .* needs group_col"),
    ({"group_col": "placement", "strata_col": "placement"},
     "strata_col='placement' is also group_col"),
    ({"group_col": "placement", "strata_col": "region"},
     "strata_col='region' is not a column of data"),
])
def test_bad_strata_parameters_raise(data, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        cumulative_incidence(data, "time", "status", 1, **kwargs)


def test_missing_strata_values_raise_naming_the_column(data):
    holes = data.assign(municipality=data["municipality"].where(data.index != 7))
    with pytest.raises(ParameterError, match=r"column 'municipality' \(strata_col\) has 1 "
                                             r"missing value\(s\), first at row 7"):
        cumulative_incidence(holes, "time", "status", 1, group_col="placement",
                             strata_col="municipality")


def test_strata_col_is_keyword_only(data):
    with pytest.raises(TypeError):
        cumulative_incidence(data, "time", "status", 1, "placement", 0.05, "municipality")


if __name__ == "__main__":  # one-off: regenerate the CSV that the R script reads
    gray_strata_frame().to_csv(REFERENCE / "gray_strata_data.csv", index=False)
