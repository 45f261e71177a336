"""Clustering-aware intervals of the follow-up-level measures (children as clusters).

child_heard_share, child_rated_themes and reviews_on_time count follow-ups, ratings and due
reviews; a child contributes several correlated units. With ``cluster_col`` the interval uses
the effective sample size ``n / design_effect`` (Korn & Graubard 1998), the design effect
coming from the ratio-estimator (linearisation) variance with children as clusters. The
variance is checked against R ``survey::svymean`` on stored data
(tests/reference/measures_cluster_reference.R). All children and dates below are invented.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from pandas.testing import assert_frame_equal
from scipy import stats

from evaluation import measures as m
from evaluation.data import synth
from evaluation.errors import ParameterError
from tests.helpers import REFERENCE as REF
from tests.helpers import RESULT, wilson

NEW = ["design_effect", "n_effective"]
WINDOW = ("2021-01-01", "2021-12-31")


@pytest.fixture(scope="module")
def synth_tables():
    return synth.generate(n_children=600, n_municipalities=4, seed=11).tables


def voice_tables(children: pd.DataFrame, theme: str = "theme_safety"):
    """Episodes (one per child) and follow-ups in 2021 from rows of child_id, heard (0/1),
    rating and optionally age_group (kept on the follow-ups, so it is used as is)."""
    ids = pd.unique(children["child_id"])
    ep = pd.DataFrame({"episode_id": [f"E-{c}" for c in ids], "child_id": ids,
                       "birth_year": 2008})  # fmt: skip
    fu = pd.DataFrame(
        {
            "episode_id": "E-" + children["child_id"].astype(str),
            "followup_date": pd.Timestamp("2021-06-01"),
            "child_heard": np.where(children["heard"] == 1, "YES", "NO"),
            theme: children["rating"].astype(float),
        }
    )
    if "age_group" in children:
        fu["age_group"] = children["age_group"].to_numpy()
    return ep, fu


# --------------------------------------------------------------------------- R reference
@pytest.fixture(scope="module")
def reference():
    data = pd.read_csv(REF / "measures_cluster_data.csv", dtype={"child_id": str})
    var = pd.read_csv(REF / "measures_cluster_variance.csv", keep_default_na=False,
                      dtype={"group": str})  # fmt: skip
    return data, var


def _ours(data: pd.DataFrame, variable: str, kind: str) -> pd.DataFrame:
    overall = m.design_effect(data, variable, "child_id", kind=kind).assign(age_group="")
    by_age = m.design_effect(data, variable, "child_id", by="age_group", kind=kind)
    return pd.concat([overall, by_age], ignore_index=True)


@pytest.mark.parametrize(("variable", "kind"), [("heard", "proportion"), ("rating", "mean")])
def test_design_effect_variance_matches_r_survey(reference, variable, kind):
    """R 4.2.2, survey 4.1.1: ``SE(svymean(~y, svydesign(ids = ~child_id, data = d)))^2``
    overall and within each age group (one design per group), and the textbook formula
    ``C / (C - 1) * sum_c (y_c - r m_c)^2 / n^2`` in base R. Six children change age group.
    svymean's own design effect (``deff = "replace"``) divides by ``svyvar(~y) / n`` (the
    sample variance with ``n - 1``): equal to ours for a mean, ``(n - 1) / n`` times ours
    for a share (ours divides by the binomial ``r (1 - r) / n``)."""
    data, var = reference
    ref = var[var["variable"] == variable]
    merged = ref.merge(_ours(data, variable, kind), left_on="group", right_on="age_group",
                       suffixes=("_r", ""), validate="1:1")  # fmt: skip
    assert len(merged) == len(ref) == 3
    assert_allclose(merged["variance"], merged["variance_r"], rtol=1e-10)
    assert_allclose(merged["variance"], merged["variance_textbook"], rtol=1e-10)
    assert_allclose(merged["estimate"], merged["estimate_r"], rtol=1e-12)
    assert (merged["n"] == merged["n_r"]).all()
    assert (merged["n_clusters"] == merged["n_clusters_r"]).all()
    ratio = merged["variance"] / merged["variance_srs"]
    n = merged["n"].to_numpy(float)
    factor = (n - 1) / n if kind == "proportion" else 1.0
    assert_allclose(ratio * factor, merged["deff_survey"], rtol=1e-10)
    assert_allclose(merged["design_effect"], np.maximum(ratio, 1.0), rtol=1e-15)
    assert_allclose(merged["n_effective"], n / merged["design_effect"], rtol=1e-15)


def test_reference_versions_are_recorded():
    versions = json.loads((REF / "measures_cluster_versions.json").read_text())
    assert {"R", "survey", "platform"} <= set(versions)


def test_child_heard_share_interval_uses_r_variance(reference):
    """End to end on the stored data: the measure's design effect is
    ``max(1, svymean variance / (p (1 - p) / n))`` and its interval is statsmodels' Wilson
    interval with ``k / deff`` successes of ``n / deff`` trials, overall and by age group."""
    data, var = reference
    ep, fu = voice_tables(data)
    ref = var[var["variable"] == "heard"].set_index("group")
    overall = m.child_heard_share(ep, fu, *WINDOW, cluster_col="child_id")
    by_age = m.child_heard_share(ep, fu, *WINDOW, group_cols=["age_group"],
                                 cluster_col="child_id")  # fmt: skip
    assert list(overall.columns) == ["measure", *RESULT, *NEW]
    assert list(by_age.columns) == ["measure", "age_group", *RESULT, *NEW]
    rows = pd.concat([overall.assign(age_group=""), by_age], ignore_index=True)
    r = ref.loc[rows["age_group"]]
    n, k = rows["denominator"].to_numpy(float), rows["numerator"].to_numpy(float)
    p = k / n
    deff = np.maximum(r["variance"].to_numpy() / (p * (1 - p) / n), 1.0)
    assert (deff > 1.5).all()  # the stored data are clearly clustered
    assert_allclose(rows["design_effect"], deff, rtol=1e-10)
    assert_allclose(rows["n_effective"], n / deff, rtol=1e-10)
    lo, hi = wilson(k / deff, n / deff)
    assert_allclose(rows["ci_lower"], lo, rtol=1e-9)
    assert_allclose(rows["ci_upper"], hi, rtol=1e-9)
    assert_allclose(rows["value"], p, rtol=1e-15)


def test_child_rated_themes_interval_uses_r_variance(reference):
    """Mean ratings: with a design effect above 1 the half-width is
    ``t(0.975, C - 1) * sqrt(svymean variance)`` (C children in the row), since
    ``sd / sqrt(n / deff) = sqrt(variance)`` when ``deff = variance / (sd^2 / n)``."""
    data, var = reference
    ep, fu = voice_tables(data)
    ref = var[var["variable"] == "rating"].set_index("group")
    overall = m.child_rated_themes(ep, fu, *WINDOW, themes="theme_safety",
                                   cluster_col="child_id")  # fmt: skip
    by_age = m.child_rated_themes(ep, fu, *WINDOW, themes="theme_safety",
                                  group_cols=["age_group"], cluster_col="child_id")  # fmt: skip
    assert list(by_age.columns) == ["measure", "age_group", "theme", *RESULT, *NEW]
    rows = pd.concat([overall.assign(age_group=""), by_age], ignore_index=True)
    r = ref.loc[rows["age_group"]]
    assert (rows["design_effect"] > 1).all()
    assert_allclose(rows["value"], r["estimate"], rtol=1e-12)
    half = stats.t.ppf(0.975, r["n_clusters"].to_numpy() - 1) * np.sqrt(r["variance"].to_numpy())
    assert_allclose(rows["ci_upper"] - rows["value"], half, rtol=1e-9)
    assert_allclose(rows["value"] - rows["ci_lower"], half, rtol=1e-9)


# --------------------------------------------------------------------------- by hand
def test_child_heard_share_design_effect_by_hand():
    """Children A (3 follow-ups, all heard), B (3, none), C (2: heard, not heard).
    n = 8, k = 4, r = 0.5. Cluster residuals y_c - r m_c: 1.5, -1.5, 0, so the variance is
    3/2 * 4.5 / 64 = 0.10546875; binomial 0.25 / 8 = 0.03125; design effect 3.375,
    n_eff = 8 / 3.375 = 2.370..., Wilson with 4 / 3.375 of 8 / 3.375."""
    kids = pd.DataFrame({"child_id": list("AAABBBCC"), "heard": [1, 1, 1, 0, 0, 0, 1, 0],
                         "rating": 3})  # fmt: skip
    ep, fu = voice_tables(kids)
    r = m.child_heard_share(ep, fu, *WINDOW, cluster_col="child_id").iloc[0]
    assert (r["numerator"], r["denominator"], r["value"]) == (4, 8, 0.5)
    assert_allclose(r["design_effect"], 3.375, rtol=1e-14)
    assert_allclose(r["n_effective"], 8 / 3.375, rtol=1e-14)
    lo, hi = wilson(4 / 3.375, 8 / 3.375)
    assert_allclose([r["ci_lower"], r["ci_upper"]], [lo, hi], rtol=1e-12)
    plain_lo, plain_hi = wilson(4, 8)
    assert r["ci_lower"] < plain_lo and r["ci_upper"] > plain_hi


def test_reviews_on_time_design_effect_by_hand():
    """Child K has two episodes: P (start 1 Jan 2020; due 1 Jul 2020, 1 Jan 2021 and
    1 Jul 2021 in the window, all held on the day) and Q (start 1 Mar 2020, ended 30 Apr
    2021: due 1 Sep 2020 and 1 Mar 2021, both missed); child L's episode R (start 1 Feb
    2020) has due 1 Aug 2020 and 1 Feb 2021 held, 1 Aug 2021 missed. Window 2020-2021,
    data end 2022-06-30: K 3 held of 5, L 2 of 3; n = 8, k = 5, r = 5/8. Residuals
    y_c - r m_c: 3 - 25/8 = -1/8 and 2 - 15/8 = 1/8, variance 2 * (2/64) / 64 = 1/1024,
    far below the binomial 15/512: the design effect is 1 and the interval is the plain
    Wilson interval on 5 of 8. By episode instead (P 3/3, Q 0/2, R 2/3): residuals 9/8,
    -10/8, 1/8, variance 3/2 * (182/64) / 64 = 273/4096, design effect
    (273/4096) / (15/512) = 2.275."""
    ep = pd.DataFrame({
        "episode_id": ["P", "Q", "R"], "child_id": ["K", "K", "L"], "birth_year": 2010,
        "start_date": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-02-01"]),
        "end_date": pd.to_datetime([None, "2021-04-30", None]),
    })  # fmt: skip
    held = ["2020-07-01", "2021-01-01", "2021-07-01", "2022-01-01"]
    fu = pd.DataFrame({
        "episode_id": ["P"] * 4 + ["R", "R"],
        "followup_date": pd.to_datetime([*held, "2020-08-01", "2021-02-01"]),
        "followup_type": "FOLLOWUP",
    })  # fmt: skip
    args = (ep, fu, "2020-01-01", "2021-12-31", "2022-06-30")
    r = m.reviews_on_time(*args, cluster_col="child_id")
    assert list(r.columns) == ["measure", *RESULT, *NEW]
    row = r.iloc[0]
    assert (row["numerator"], row["denominator"]) == (5, 8)
    assert (row["design_effect"], row["n_effective"]) == (1.0, 8.0)
    lo, hi = wilson(5, 8)
    assert_allclose([row["ci_lower"], row["ci_upper"]], [lo, hi], rtol=1e-12)
    by_episode = m.reviews_on_time(*args, cluster_col="episode_id").iloc[0]
    assert_allclose(by_episode["design_effect"], 2.275, rtol=1e-12)
    lo, hi = wilson(5 / 2.275, 8 / 2.275)
    assert_allclose([by_episode["ci_lower"], by_episode["ci_upper"]], [lo, hi], rtol=1e-12)


def test_single_child_in_a_row_gives_no_interval():
    """A group row holding one child's follow-ups has no between-child variance: the
    interval, design effect and effective n are NaN (the values stay)."""
    kids = pd.DataFrame({"child_id": list("AAAB"), "heard": [1, 0, 1, 0],
                         "rating": [2, 4, 3, 5], "age_group": ["13-20"] * 3 + ["0-12"]})  # fmt: skip
    ep, fu = voice_tables(kids)
    r = m.child_heard_share(ep, fu, *WINDOW, group_cols=["age_group"], cluster_col="child_id")
    r = r.set_index("age_group")
    assert r.loc["13-20", "value"] == pytest.approx(2 / 3)
    assert r.loc[["13-20", "0-12"], ["ci_lower", "ci_upper", *NEW]].isna().all().all()
    t = m.child_rated_themes(ep, fu, *WINDOW, themes="theme_safety", cluster_col="child_id",
                             group_cols=["age_group"]).set_index("age_group")  # fmt: skip
    assert t.loc["13-20", "value"] == 3.0
    assert t.loc["13-20", ["ci_lower", "ci_upper", *NEW]].isna().all()


def test_one_rating_per_child_gives_the_plain_t_interval():
    """Every child rated once: design effect 1 and C - 1 = n - 1 degrees of freedom, so the
    clustered interval equals the plain one."""
    kids = pd.DataFrame({"child_id": list("ABCDE"), "heard": [1, 0, 1, 1, 0],
                         "rating": [1, 4, 5, 2, 4]})  # fmt: skip
    ep, fu = voice_tables(kids)
    plain = m.child_rated_themes(ep, fu, *WINDOW, themes="theme_safety")
    clus = m.child_rated_themes(ep, fu, *WINDOW, themes="theme_safety", cluster_col="child_id")
    assert_allclose(clus["design_effect"], 1.0, rtol=1e-12)
    assert_allclose(
        clus[["value", "ci_lower", "ci_upper"]],
        plain[["value", "ci_lower", "ci_upper"]],
        rtol=1e-12,
    )
    # a share with one unit per child: design effect n / (n - 1) (with-replacement factor)
    share = m.child_heard_share(ep, fu, *WINDOW, cluster_col="child_id")
    assert_allclose(share["design_effect"], 5 / 4, rtol=1e-12)


# --------------------------------------------------------------------------- off switch
SHARE_CALLS = {
    "child_heard_share": lambda t, g, **kw: m.child_heard_share(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", group_cols=g, **kw
    ),
    "reviews_on_time": lambda t, g, **kw: m.reviews_on_time(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", "2024-12-31", group_cols=g, **kw
    ),
}


@pytest.mark.parametrize("group", [None, ["age_group"], ["municipality_code", "sex"]])
@pytest.mark.parametrize("name", sorted(SHARE_CALLS))
def test_cluster_col_none_gives_the_plain_wilson_output(synth_tables, name, group):
    """``cluster_col=None``: exactly the columns and numbers of the plain measure (Wilson on
    the unit counts, no new columns). With children as clusters the value and counts are
    the same, the new columns come last, and the interval is at least as wide."""
    plain = SHARE_CALLS[name](synth_tables, group, cluster_col=None)
    groups = group or []
    assert list(plain.columns) == ["measure", *groups, *RESULT]
    lo, hi = m.wilson_interval(plain["numerator"], plain["denominator"])
    assert np.array_equal(plain["ci_lower"].to_numpy(), lo, equal_nan=True)
    assert np.array_equal(plain["ci_upper"].to_numpy(), hi, equal_nan=True)
    clus = SHARE_CALLS[name](synth_tables, group, cluster_col="child_id")
    assert list(clus.columns) == [*plain.columns, *NEW]
    assert_frame_equal(clus[plain.columns[:-2]], plain[plain.columns[:-2]])
    ok = clus.dropna(subset=["design_effect"])
    assert len(ok) >= 0.8 * len(clus) and (ok["design_effect"] >= 1).all()
    p = plain.loc[ok.index]
    assert (ok["ci_lower"] <= p["ci_lower"] + 1e-12).all()
    assert (ok["ci_upper"] >= p["ci_upper"] - 1e-12).all()


def test_cluster_col_none_gives_the_plain_t_output(synth_tables):
    """Themes without clustering: the t interval on the ratings, no new columns."""
    t = synth_tables
    plain = m.child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2023-12-31",
                                 group_cols=["sex"], cluster_col=None)  # fmt: skip
    assert list(plain.columns) == ["measure", "sex", "theme", *RESULT]
    clus = m.child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2023-12-31",
                                group_cols=["sex"], cluster_col="child_id")  # fmt: skip
    assert list(clus.columns) == [*plain.columns, *NEW]
    assert_frame_equal(clus[plain.columns[:-2]], plain[plain.columns[:-2]])
    assert (clus["design_effect"] >= 1).all()
    assert (clus["ci_upper"] - clus["ci_lower"] >= plain["ci_upper"] - plain["ci_lower"]).all()


# --------------------------------------------------------------------------- errors
def test_cluster_col_errors_name_the_problem():
    kids = pd.DataFrame({"child_id": list("AAB"), "heard": [1, 0, 1], "rating": [2, 3, 4]})
    ep, fu = voice_tables(kids)
    with pytest.raises(ParameterError, match="cluster_col='kid' is not a column of episodes"):
        m.child_heard_share(ep, fu, *WINDOW, cluster_col="kid")
    with pytest.raises(ParameterError, match="cluster_col must be a column name"):
        m.child_rated_themes(ep, fu, *WINDOW, themes="theme_safety", cluster_col=["child_id"])
    with pytest.raises(ParameterError, match="cluster_col='child_id' is not a column"):
        m.reviews_on_time(
            ep.drop(columns="child_id").assign(start_date=pd.Timestamp("2020-01-01"),
                                               end_date=pd.NaT),
            fu.assign(followup_type="FOLLOWUP"), *WINDOW, "2022-06-30", cluster_col="child_id",
        )  # fmt: skip
    ep.loc[1, "child_id"] = None
    with pytest.raises(ParameterError, match="'child_id' is missing for 1 unit"):
        m.child_heard_share(ep, fu, *WINDOW, cluster_col="child_id")


def test_design_effect_rejects_bad_input():
    d = pd.DataFrame({"child_id": ["A", "A", "B"], "y": [1.0, None, 0.0], "g": "x"})
    with pytest.raises(ParameterError, match="kind must be 'proportion' or 'mean'"):
        m.design_effect(d.dropna(), "y", "child_id", kind="ratio")
    with pytest.raises(ParameterError, match="column 'y' must be numeric without missing"):
        m.design_effect(d, "y", "child_id")
    with pytest.raises(ParameterError, match="by='h' is not a column of data"):
        m.design_effect(d.dropna(), "y", "child_id", by="h")


# --------------------------------------------------------------------------- coverage
def _clustered_voice(rng, reps: int, children: int):
    """``reps`` independent samples of ``children`` children with 4-12 follow-ups each.
    Heard: child probability ~ Beta(0.5, 0.5) (mean 0.5, intra-child correlation 0.5).
    Rating: child level 2, 3 or 4 plus -1, 0 or +1 (mean 3, intra-child correlation 0.5)."""
    n = reps * children
    sizes = rng.integers(4, 13, n)
    p = rng.beta(0.5, 0.5, n)
    level = rng.integers(2, 5, n)
    ep = pd.DataFrame({"episode_id": np.arange(n).astype(str), "child_id": np.arange(n),
                       "birth_year": 2008, "replicate": np.repeat(np.arange(reps), children)})  # fmt: skip
    idx = np.repeat(np.arange(n), sizes)
    fu = pd.DataFrame({
        "episode_id": ep["episode_id"].to_numpy()[idx],
        "followup_date": pd.Timestamp("2021-06-01"),
        "child_heard": np.where(rng.random(idx.size) < p[idx], "YES", "NO"),
        "theme_safety": (level[idx] + rng.integers(-1, 2, idx.size)).astype(float),
    })  # fmt: skip
    return ep, fu


@pytest.mark.parametrize(
    ("name", "truth"), [("child_heard_share", 0.5), ("child_rated_themes", 3.0)]
)
def test_clustered_interval_covers_where_plain_undercovers(name, truth):
    """600 samples of 60 strongly clustered children (design effect about 5): the plain
    interval covers the truth about 60 % of the time, the clustered one about 95 %
    (binomial SE of a coverage near 0.95 over 600 samples: 0.009)."""
    ep, fu = _clustered_voice(np.random.default_rng(20261130), reps=600, children=60)
    kw = {"group_cols": ["replicate"]}
    if name == "child_rated_themes":
        kw["themes"] = "theme_safety"
    fn = getattr(m, name)
    plain = fn(ep, fu, *WINDOW, cluster_col=None, **kw)
    clus = fn(ep, fu, *WINDOW, cluster_col="child_id", **kw)
    assert len(plain) == len(clus) == 600

    def coverage(r):
        return float(((r["ci_lower"] <= truth) & (truth <= r["ci_upper"])).mean())

    assert coverage(plain) < 0.75
    assert 0.92 < coverage(clus) < 0.98
    assert clus["design_effect"].median() > 3


# --------------------------------------------------------------------------- empty periods
# A period without any unit gives the 0/0 row as without clusters, not a crash.
def _tables_without_units_in_2021():
    """Two invented children, one episode each from 2020, follow-ups only in June 2019."""
    ep = pd.DataFrame({"episode_id": ["E-A", "E-B"], "child_id": ["A", "B"],
                       "birth_year": 2008,
                       "start_date": pd.to_datetime(["2020-01-01", "2020-02-01"]),
                       "end_date": pd.NaT})
    fu = pd.DataFrame({"episode_id": ["E-A", "E-B"],
                       "followup_date": pd.to_datetime(["2019-06-01", "2019-06-01"]),
                       "child_heard": ["YES", "NO"], "followup_type": "FOLLOWUP"})
    return ep, fu


EMPTY_PERIOD_CALLS = {
    # no follow-up dated in 2021
    "child_heard_share": lambda ep, fu, **kw: m.child_heard_share(
        ep, fu, "2021-01-01", "2021-12-31", **kw),
    # no review falls due in Jan-Mar 2020 (the first is due in July)
    "reviews_on_time": lambda ep, fu, **kw: m.reviews_on_time(
        ep, fu, "2020-01-01", "2020-03-31", "2022-01-01", **kw),
}


@pytest.mark.parametrize("name", sorted(EMPTY_PERIOD_CALLS))
def test_a_period_without_units_gives_the_empty_row_with_the_default_cluster_col(name):
    """cluster_col defaults to 'child_id' (so the outcomes report uses it); with no unit in
    the period the plain measure returns one row 0/0 with NaN value and interval, and the
    clustered one raised ValueError ('Length of values (0) does not match')."""
    ep, fu = _tables_without_units_in_2021()
    plain = EMPTY_PERIOD_CALLS[name](ep, fu, cluster_col=None)
    clus = EMPTY_PERIOD_CALLS[name](ep, fu)
    assert len(plain) == len(clus) == 1
    assert list(clus.columns) == [*plain.columns, *NEW]
    pd.testing.assert_frame_equal(clus[plain.columns], plain)
    assert (clus.loc[0, "numerator"], clus.loc[0, "denominator"]) == (0, 0)
    assert clus.loc[0, NEW].isna().all()
    assert np.isnan(clus.loc[0, "ci_lower"]) and np.isnan(clus.loc[0, "ci_upper"])


def test_design_effect_of_no_rows_is_an_empty_table():
    d = pd.DataFrame({"child_id": pd.Series(dtype=str), "y": pd.Series(dtype=float)})
    out = m.design_effect(d, "y", "child_id")
    assert len(out) == 0
    assert list(out.columns) == ["n", "n_clusters", "estimate", "variance", "variance_srs",
                                 "design_effect", "n_effective"]


def test_design_effect_of_a_share_refuses_values_other_than_0_and_1():
    """kind='proportion' (the default) divides by the binomial r (1 - r) / n, which is
    negative for a mean rating of 3: it reported variance_srs = -1 and a design effect of 1
    instead of naming the problem (kind='mean' is the right call)."""
    d = pd.DataFrame({"child_id": list("AABBCC"), "rating": [1.0, 5, 1, 5, 3, 3]})
    with pytest.raises(ParameterError, match=r"column 'rating' has values other than 0 "
                                               r"and 1 \(first 5.0\).*kind='mean'"):
        m.design_effect(d, "rating", "child_id")
    assert m.design_effect(d, "rating", "child_id", kind="mean")["variance_srs"].iloc[0] > 0
    ok = d.assign(heard=[True, False, True, True, False, False])
    assert m.design_effect(ok, "heard", "child_id")["estimate"].iloc[0] == 0.5
