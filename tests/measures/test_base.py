"""Tests of what every measure shares (:mod:`evaluation.measures.base`): :data:`MEASURES`,
the result columns, the standard groups, and plausible values on synthetic data."""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose

from evaluation import measures as m
from tests.helpers import RESULT

# --------------------------------------------------------------------------- every measure
CALLS = {
    "breakdown_risk": lambda t, g: m.breakdown_risk(
        t["episodes"], "2019-01-01", "2021-12-31", "2024-12-31", group_cols=g
    ),
    "placement_stability": lambda t, g: m.placement_stability(
        t["episodes"], t["placements"], "2020-01-01", "2021-12-31", group_cols=g
    ),
    "three_or_more_placements": lambda t, g: m.three_or_more_placements(
        t["episodes"], t["placements"], 2022, group_cols=g
    ),
    "long_term_stability": lambda t, g: m.long_term_stability(
        t["episodes"], t["placements"], "2023-03-31", group_cols=g
    ),
    "exit_to_permanency_12m": lambda t, g: m.exit_to_permanency_12m(
        t["episodes"], "2019-01-01", "2022-12-31", "2024-12-31", group_cols=g
    ),
    "re_entry_12m": lambda t, g: m.re_entry_12m(
        t["episodes"], "2019-01-01", "2021-12-31", "2024-12-31", group_cols=g
    ),
    "re_referral_12m": lambda t, g: m.re_referral_12m(
        t["episodes"], t["referrals"], "2019-01-01", "2022-12-31", "2024-12-31", group_cols=g
    ),
    "goal_attainment_share": lambda t, g: m.goal_attainment_share(
        t["episodes"], t["followups"], "2019-01-01", "2022-12-31", group_cols=g
    ),
    "planned_ending_share": lambda t, g: m.planned_ending_share(
        t["episodes"], "2019-01-01", "2024-12-31", group_cols=g
    ),
    "child_heard_share": lambda t, g: m.child_heard_share(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", group_cols=g
    ),
    "child_rated_themes": lambda t, g: m.child_rated_themes(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", group_cols=g
    ),
    "reviews_on_time": lambda t, g: m.reviews_on_time(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", "2024-12-31", group_cols=g
    ),
    "length_of_stay": lambda t, g: m.length_of_stay(
        t["episodes"], "2019-01-01", "2021-12-31", "2024-12-31", group_cols=g
    ),
}
KEYS = {"breakdown_risk": "horizon_days", "length_of_stay": "quantile",
        "child_rated_themes": "theme"}  # fmt: skip
GROUPS = ["municipality_code", "placement_type", "age_group", "sex", "legal_basis"]
#: Measures whose unit lies below the child: by default they cluster by child_id and append
#: design_effect and n_effective (test_followup_design_effect.py).
CLUSTERED = ("child_heard_share", "child_rated_themes", "reviews_on_time")


def test_calls_cover_every_measure():
    assert set(CALLS) == set(m.MEASURES)


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_measure_groups_by_the_standard_columns(synth_tables, name, group):
    """Grouped numerators and denominators add up to the overall ones (each unit falls in
    exactly one group, a missing age group included), and the columns are the documented
    ones."""
    overall = CALLS[name](synth_tables, None)
    grouped = CALLS[name](synth_tables, [group])
    key = [KEYS[name]] if name in KEYS else []
    clustered = ["design_effect", "n_effective"] if name in CLUSTERED else []
    assert list(grouped.columns) == ["measure", group, *key, *RESULT, *clustered]
    assert (grouped["measure"] == name).all()
    assert grouped[group].nunique() >= 2
    assert (overall["denominator"] > 0).all()
    if key:
        sums = grouped.groupby(key, sort=False)[["numerator", "denominator"]].sum()
        ref = overall.set_index(key[0])[["numerator", "denominator"]]
        assert_allclose(sums.loc[ref.index].to_numpy(float), ref.to_numpy(float))
    else:
        assert grouped["numerator"].sum() == overall["numerator"].sum()
        assert grouped["denominator"].sum() == overall["denominator"].sum()
    if name in ("length_of_stay", "child_rated_themes", "placement_stability"):
        return
    ok = grouped.dropna(subset=["ci_lower"])
    assert ((ok["ci_lower"] <= ok["value"]) & (ok["value"] <= ok["ci_upper"])).all()


def test_measures_on_synthetic_data_are_plausible(synth_tables):
    t = synth_tables
    e, p, f, r = t["episodes"], t["placements"], t["followups"], t["referrals"]
    shares = [
        m.three_or_more_placements(e, p, 2021, group_cols=["municipality_code"]),
        m.exit_to_permanency_12m(
            e, "2020-01-01", "2020-12-31", "2024-12-31", group_cols=["placement_type"]
        ),
        m.re_referral_12m(e, r, "2020-01-01", "2022-12-31", "2024-12-31"),
        m.planned_ending_share(e, "2019-01-01", "2024-12-31", group_cols=["sex"]),
        m.goal_attainment_share(e, f, "2019-01-01", "2022-12-31", group_cols=["legal_basis"]),
    ]
    for res in shares:
        assert (res["denominator"] > 0).all()
        vals = res[["value", "ci_lower", "ci_upper"]].to_numpy(dtype=float)
        assert ((vals >= 0) & (vals <= 1)).all()
        assert (res["ci_lower"] <= res["value"]).all() and (res["value"] <= res["ci_upper"]).all()
    overall = m.planned_ending_share(e, "2019-01-01", "2024-12-31")
    assert 0.55 <= overall.loc[0, "value"] <= 0.9
    rate = m.placement_stability(e, p, "2020-01-01", "2020-12-31", group_cols=["legal_basis"])
    assert (rate["value"] >= 0).all() and (rate["denominator"] > 0).all()
    assert (rate["ci_lower"] <= rate["value"]).all() and (rate["value"] <= rate["ci_upper"]).all()


def test_new_measures_on_synthetic_data_are_plausible(synth_tables):
    """Theme means lie in 1-5 in dictionary order; the length-of-stay quartiles increase."""
    t = synth_tables
    th = m.child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2023-12-31")
    assert th["theme"].tolist()[:2] == ["theme_treatment", "theme_participation"]
    assert len(th) == 8 and th["value"].between(1, 5).all()
    assert (th["ci_lower"] < th["value"]).all() and (th["value"] < th["ci_upper"]).all()
    los = m.length_of_stay(t["episodes"], "2019-01-01", "2020-12-31", "2024-12-31")
    assert los["value"].is_monotonic_increasing and los["value"].notna().all()
