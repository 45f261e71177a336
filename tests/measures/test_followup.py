"""Tests of :mod:`evaluation.measures.followup` on tiny hand-made tables: the child heard,
the child's theme ratings and reviews on time (clustered intervals:
``test_followup_design_effect.py``).

Each test's docstring derives the numerator and denominator by hand; intervals are compared
with statsmodels/scipy references. All children and dates below are invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation import measures as m
from evaluation.errors import ParameterError
from tests.helpers import RESULT, episodes, frame, wilson


# --------------------------------------------------------------------------- child's voice
@pytest.fixture
def voice_tables():
    ep = episodes(
        [
            {"episode_id": "H1", "birth_year": 2009, "start_date": "2020-01-01"},
            {"episode_id": "H2", "birth_year": 2018, "start_date": "2020-06-01", "sex": "M"},
        ]
    )
    fu = frame(
        [
            {"episode_id": "H1", "followup_date": "2020-12-31", "child_heard": "YES",
             "theme_safety": 1, "theme_leisure": 1},
            {"episode_id": "H1", "followup_date": "2021-03-01", "child_heard": "YES",
             "theme_safety": 4, "theme_leisure": None},
            {"episode_id": "H1", "followup_date": "2021-09-01", "child_heard": "PARTLY",
             "theme_safety": 5, "theme_leisure": 2},
            {"episode_id": "H1", "followup_date": "2022-01-15", "child_heard": "NO",
             "theme_safety": 3, "theme_leisure": None},
            {"episode_id": "H2", "followup_date": "2021-05-01", "child_heard": "NO",
             "theme_safety": None, "theme_leisure": None},
            {"episode_id": "H2", "followup_date": "2021-11-01", "child_heard": None,
             "theme_safety": None, "theme_leisure": None},
            {"episode_id": "H9", "followup_date": "2021-06-01", "child_heard": "YES",
             "theme_safety": 5, "theme_leisure": 5},
        ],
        ("followup_date",),
    )  # fmt: skip
    fu["theme_safety"] = fu["theme_safety"].astype("Int64")
    fu["theme_leisure"] = fu["theme_leisure"].astype("Int64")
    return ep, fu


def test_child_heard_share_by_hand(voice_tables):
    """Follow-ups 2021-2022: H1 YES, PARTLY, NO; H2 NO; H2's missing value and the follow-up
    of an unknown episode (H9) are excluded; H1's 2020 follow-up is outside. YES 1/4,
    YES or PARTLY 2/4. By sex F 1/3, M 0/1. By age at the follow-up (H1 born 2009: 12 in
    2021, 13 in 2022; H2 aged 3): 0-12 = YES, PARTLY, NO -> 1/3; 13-20 = NO -> 0/1."""
    ep, fu = voice_tables
    args = (ep, fu, "2021-01-01", "2022-12-31")
    r = m.child_heard_share(*args, cluster_col=None)
    assert list(r.columns) == ["measure", *RESULT]
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [1, 4]
    lo, hi = wilson(1, 4)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [0.25, lo, hi])
    wide = m.child_heard_share(*args, success=("YES", "PARTLY"))
    assert wide[["numerator", "denominator"]].iloc[0].tolist() == [2, 4]
    g = m.child_heard_share(*args, group_cols=["sex"]).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [1, 3]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [0, 1]
    a = m.child_heard_share(*args, group_cols=["age_group"]).set_index("age_group")
    assert a.loc["0-12", ["numerator", "denominator"]].tolist() == [1, 3]
    assert a.loc["13-20", ["numerator", "denominator"]].tolist() == [0, 1]
    with pytest.raises(ParameterError, match="success codes"):
        m.child_heard_share(*args, success=("MAYBE",))


def test_child_rated_themes_by_hand(voice_tables):
    """2021-2022 safety ratings 4, 5, 3 (H9's 5 has no episode, the 2020 rating 1 is
    outside): n 3, sum 12, mean 4, sd 1 -> 4 +- t(0.975, 2) / sqrt(3). Leisure: one rating,
    2, so no interval. By sex: M (H2) answered nothing, so it has no rows at all."""
    ep, fu = voice_tables
    r = m.child_rated_themes(
        ep, fu, "2021-01-01", "2022-12-31", themes=["theme_safety", "theme_leisure"],
        cluster_col=None,
    )
    assert list(r.columns) == ["measure", "theme", *RESULT]
    assert r["theme"].tolist() == ["theme_safety", "theme_leisure"]
    safety = r.iloc[0]
    assert (safety["numerator"], safety["denominator"], safety["value"]) == (12, 3, 4.0)
    lo, hi = stats_t_interval(4.0, 1.0, 3)
    assert_allclose([safety["ci_lower"], safety["ci_upper"]], [lo, hi], rtol=1e-12)
    # t table: t(0.975, 2 df) = 4.302653 (6 decimals)
    assert_allclose(safety["ci_upper"] - 4.0, 4.302653 / np.sqrt(3), rtol=1e-6)
    leisure = r.iloc[1]
    assert (leisure["denominator"], leisure["value"]) == (1, 2.0)
    assert np.isnan(leisure["ci_lower"]) and np.isnan(leisure["ci_upper"])
    g = m.child_rated_themes(
        ep, fu, "2021-01-01", "2022-12-31", themes="theme_safety", group_cols=["sex"]
    )
    assert g["sex"].tolist() == ["F"]


def stats_t_interval(mean, sd, n, alpha=0.05):
    from scipy import stats

    return stats.t.interval(1 - alpha, n - 1, loc=mean, scale=sd / np.sqrt(n))


def test_child_rated_themes_rejects_ratings_outside_1_to_5(voice_tables):
    ep, fu = voice_tables
    fu = fu.copy()
    fu.loc[1, "theme_safety"] = 7
    with pytest.raises(ParameterError, match="theme_safety"):
        m.child_rated_themes(ep, fu, "2021-01-01", "2022-12-31", themes=["theme_safety"])
    with pytest.raises(ParameterError, match="followups lacks"):
        m.child_rated_themes(ep, fu, "2021-01-01", "2022-12-31", themes=["theme_colour"])


# --------------------------------------------------------------------------- reviews
@pytest.fixture
def review_tables():
    ep = episodes(
        [
            {"episode_id": "V1", "birth_year": 2010, "start_date": "2020-08-15"},
            {"episode_id": "V2", "birth_year": 2010, "start_date": "2021-03-31",
             "end_date": "2021-10-15"},
            {"episode_id": "V3", "birth_year": 2010, "start_date": "2021-01-10",
             "end_date": "2021-07-10"},
            {"episode_id": "V4", "birth_year": 2010, "start_date": "2020-12-20"},
            {"episode_id": "V5", "birth_year": 2005, "start_date": "2018-08-31", "sex": "M"},
        ]
    )  # fmt: skip
    rows = [
        ("V1", "2021-02-20", "FOLLOWUP"), ("V1", "2021-09-05", "FOLLOWUP"),
        ("V2", "2021-09-16", "FOLLOWUP"), ("V2", "2021-10-15", "ENDING"),
        ("V3", "2021-07-10", "ENDING"),
        ("V4", "2021-06-20", "ENDING"),
        ("V5", "2021-03-01", "FOLLOWUP"),
    ]  # fmt: skip
    fu = frame(
        [{"episode_id": i, "followup_date": d, "followup_type": t} for i, d, t in rows],
        ("followup_date",),
    )
    return ep, fu


def test_reviews_on_time_by_hand(review_tables):
    """Due in 2021 (every 6 calendar months from the start, tolerance 14 days):
    V1 15 Feb (held 20 Feb) and 15 Aug (held 5 Sep, 21 days late: missed);
    V2 30 Sep (held 16 Sep, exactly 14 days early: on time);
    V3 10 Jul is its end date, so no review is due;
    V4 20 Jun (only an ENDING assessment: missed) and 20 Dec (nothing: missed);
    V5 (start 31 Aug 2018) 28 Feb (held 1 Mar) and 31 Aug (missed).
    3/7; F (V1-V4) 2/5, M (V5) 1/2."""
    ep, fu = review_tables
    args = (ep, fu, "2021-01-01", "2021-12-31", "2022-06-30")
    r = m.reviews_on_time(*args, cluster_col=None)
    assert list(r.columns) == ["measure", *RESULT]
    assert r.loc[0, "measure"] == "reviews_on_time"
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [3, 7]
    lo, hi = wilson(3, 7)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [3 / 7, lo, hi])
    g = m.reviews_on_time(*args, group_cols=["sex"]).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [2, 5]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [1, 2]


def test_reviews_on_time_tolerance_interval_and_observability(review_tables):
    """Tolerance 30 days: V1's review 21 days late counts -> 4/7. Yearly reviews: due V1
    15 Aug (missed), V4 20 Dec (missed), V5 31 Aug (missed) -> 0/3. data_end 31 Dec 2021: the
    20 Dec due date's window runs to 3 Jan 2022, unobservable -> 3/6."""
    ep, fu = review_tables
    args = (ep, fu, "2021-01-01", "2021-12-31")
    assert m.reviews_on_time(*args, "2022-06-30", tolerance_days=30)[
        ["numerator", "denominator"]
    ].iloc[0].tolist() == [4, 7]
    assert m.reviews_on_time(*args, "2022-06-30", interval_months=12)[
        ["numerator", "denominator"]
    ].iloc[0].tolist() == [0, 3]
    assert m.reviews_on_time(*args, "2021-12-31")[["numerator", "denominator"]].iloc[
        0
    ].tolist() == [3, 6]


def test_reviews_on_time_rejects_bad_input(review_tables):
    ep, fu = review_tables
    args = (ep, fu, "2021-01-01", "2021-12-31", "2022-06-30")
    with pytest.raises(ParameterError, match="tolerance_days"):
        m.reviews_on_time(*args, tolerance_days=-1)
    with pytest.raises(ParameterError, match="interval_months"):
        m.reviews_on_time(*args, interval_months=0)
    with pytest.raises(ParameterError, match="followup_type"):
        m.reviews_on_time(ep, fu.drop(columns="followup_type"), *args[2:])


def test_reviews_on_time_ignores_row_labels_and_missing_follow_up_types():
    """Duplicate row labels must not duplicate due dates. A: due 1 Jul 2020, held that day.
    B: due 1 Sep 2020; the follow-up that day has no type (not a review) and the next is
    30 days late. 1/2."""
    ep = pd.DataFrame(
        {"episode_id": ["A", "B"], "start_date": pd.to_datetime(["2020-01-01", "2020-03-01"]),
         "end_date": pd.NaT, "birth_year": 2010},
        index=[0, 0],
    )  # fmt: skip
    fu = pd.DataFrame(
        {"episode_id": ["A", "B", "B"],
         "followup_date": pd.to_datetime(["2020-07-01", "2020-09-01", "2020-10-01"]),
         "followup_type": pd.array(["FOLLOWUP", None, "FOLLOWUP"], dtype="string")}
    )  # fmt: skip
    r = m.reviews_on_time(ep, fu, "2020-01-01", "2020-12-31", "2021-06-30", cluster_col=None)
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [1, 2]


def test_reviews_and_child_heard_recover_the_synthetic_truth(synth_tables):
    """The generator (evaluation.data.synth.generator._followups) holds a FOLLOWUP every 182 days +- U{-30..30}
    days, each missed with probability 0.08, and records child_heard as YES/PARTLY/NO with
    probabilities 0.62/0.25/0.13 from age 4. Hence: with a tolerance of 45 days every held
    review is on time (truth 0.92); with 14 days, 29 of the 61 equally likely offsets are
    within tolerance (truth 0.92 * 29 / 61 = 0.437; calendar months drift from 182 days by
    < 3 days over the first years, ignored). Among children aged 13-20: heard 0.62, at least
    partly 0.87. Each 95 % interval must cover its truth (fixed seed, n > 1,000)."""
    t = synth_tables
    e, f = t["episodes"], t["followups"]
    args = (e, f, "2020-01-01", "2023-12-31", "2024-12-31")
    for tol, truth in [(45, 0.92), (14, 0.92 * 29 / 61)]:
        r = m.reviews_on_time(*args, tolerance_days=tol).iloc[0]
        assert r["denominator"] > 1000
        assert r["ci_lower"] <= truth <= r["ci_upper"], (tol, r["value"])
    for success, truth in [(("YES",), 0.62), (("YES", "PARTLY"), 0.87)]:
        r = m.child_heard_share(
            e, f, "2019-01-01", "2024-12-31", group_cols="age_group", success=success
        ).set_index("age_group").loc["13-20"]
        assert r["denominator"] > 1000
        assert r["ci_lower"] <= truth <= r["ci_upper"], (success, r["value"])
