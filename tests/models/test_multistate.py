"""Tests of evaluation.models.multistate against R (survival 3.5-3) and hand computations.

Reference values come from ``tests/reference/multistate_reference.R`` (run with
``Rscript tests/reference/multistate_reference.R`` from the repository root); it reads
``tests/reference/multistate_hand.csv`` and ``tests/reference/multistate_journey.csv``,
which this module writes (``.venv/bin/python tests/test_multistate.py`` regenerates them).
The tests need no R.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.data.cohort import JOURNEY_LABELS, journey_states
from evaluation.errors import ParameterError
from evaluation.models.multistate import StateOccupationResult, state_occupation
from tests.helpers import REFERENCE

HAND_STATES = ["FH", "HVB", "end"]
JOURNEY_END = "2024-12-31"


def multistate_hand_frame() -> pd.DataFrame:
    """Twelve made-up ids in two groups, built to exercise R's tie rules.

    Group A at time 5: two transitions of different kinds (FH -> HVB, FH -> end), a
    censoring (id 3), an id moving HVB -> FH (id 4) and rows starting at 5 (ids 1, 4, 6);
    id 4's first row is censored and continued without a gap (R merges such rows); id 6
    enters late (at 2). Group B has two ids starting in HVB and ties at 4; id 9's censored
    row (4, 7] lies between two rows of its own, so R merges it and reports no time 7.
    """
    rows = [  # id, group, tstart, tstop, state entered ("" censored), state during interval
        (1, "A", 0, 5, "HVB", "FH"), (1, "A", 5, 9, "end", "HVB"),
        (2, "A", 0, 5, "end", "FH"),
        (3, "A", 0, 5, "", "FH"),
        (4, "A", 0, 3, "", "HVB"), (4, "A", 3, 5, "FH", "HVB"), (4, "A", 5, 8, "", "FH"),
        (5, "A", 0, 2, "end", "HVB"),
        (6, "A", 2, 5, "HVB", "FH"), (6, "A", 5, 10, "end", "HVB"),
        (7, "A", 0, 7, "end", "FH"),
        (8, "B", 0, 4, "HVB", "FH"), (8, "B", 4, 6, "end", "HVB"),
        (9, "B", 0, 4, "FH", "HVB"), (9, "B", 4, 7, "", "FH"), (9, "B", 7, 9, "", "FH"),
        (10, "B", 0, 4, "end", "FH"),
        (11, "B", 0, 6, "end", "HVB"),
        (12, "B", 0, 3, "", "FH"),
    ]
    return pd.DataFrame(rows, columns=["id", "group", "tstart", "tstop", "state", "istate"])


def multistate_journey_frame() -> pd.DataFrame:
    """Journey data of ``synth.generate(n_children=100, n_municipalities=3, seed=5)``.

    Both origins stacked (column ``origin``); ids prefixed by the origin.
    """
    from evaluation.data.synth import generate

    tables = generate(n_children=100, n_municipalities=3, seed=5).tables
    parts = []
    for origin in ("placement", "referral"):
        d = journey_states(tables, origin=origin, data_end=JOURNEY_END, covariates=())
        parts.append(d.assign(origin=origin, episode_id=origin[0] + d["episode_id"]))
    return pd.concat(parts, ignore_index=True)


def write_reference_inputs() -> None:
    multistate_hand_frame().to_csv(REFERENCE / "multistate_hand.csv", index=False)
    multistate_journey_frame().to_csv(REFERENCE / "multistate_journey.csv", index=False)


if __name__ == "__main__":
    write_reference_inputs()


# --------------------------------------------------------------------------- R agreement
RTOL = 1e-6
COLS = ["n_risk", "n_event", "estimate", "se", "ci_lower", "ci_upper"]


@pytest.fixture(scope="module")
def r_pstate() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "multistate_pstate.csv")


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "multistate_hand.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def journey() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "multistate_journey.csv", keep_default_na=False)


def assert_matches_r(fit: StateOccupationResult, ref: pd.DataFrame) -> None:
    """Same (group, state, time) rows as R and the same numbers (NaN where R has NA)."""
    ours = fit.summary.copy()
    ref = ref.copy()
    if "group" not in ours:
        ours["group"] = "all"
        ref["group"] = "all"
    ours["group"] = ours["group"].astype(str)
    ref["group"] = ref["group"].astype(str)
    key = ["group", "state", "time"]
    ours = ours.sort_values(key).reset_index(drop=True)
    ref = ref.sort_values(key).reset_index(drop=True)
    assert ours[key].equals(ref[key].astype(ours[key].dtypes.to_dict()))
    assert_allclose(ours[COLS].to_numpy(float), ref[COLS].to_numpy(float), rtol=RTOL, atol=0)


def test_reference_csvs_match_the_generators(hand, journey):
    pd.testing.assert_frame_equal(multistate_hand_frame(), hand, check_dtype=False)
    pd.testing.assert_frame_equal(multistate_journey_frame(), journey, check_dtype=False)


def test_reference_versions_are_recorded():
    versions = json.loads((REFERENCE / "multistate_reference_versions.json").read_text())
    assert versions["R"] == "4.2.2" and versions["survival"] == "3.5.3"


def test_state_occupation_matches_r_survfit_on_tied_hand_data_by_group(hand, r_pstate):
    """R: survfit(Surv(tstart, tstop, state) ~ group, data = h, id = id, istate = istate)"""
    fit = state_occupation(hand, "id", "tstart", "tstop", "state", initial_state="istate",
                           group_col="group", states=HAND_STATES)
    assert_matches_r(fit, r_pstate[r_pstate["fit"] == "hand_by_group"])
    # id 9's interior censored row is merged as in R: group B reports no time 7.
    assert 7 not in set(fit.summary.loc[fit.summary["group"] == "B", "time"])


def test_state_occupation_matches_r_survfit_on_tied_hand_data_overall(hand, r_pstate):
    """R: survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id, istate = istate)"""
    fit = state_occupation(hand, "id", "tstart", "tstop", "state", initial_state="istate")
    assert fit.states_ == HAND_STATES
    assert_matches_r(fit, r_pstate[r_pstate["fit"] == "hand"])


def test_state_occupation_without_initial_state_starts_in_r_s0(hand, r_pstate):
    """R: survfit(Surv(tstart, tstop, state) ~ 1, data = h, id = id): all start in (s0)."""
    fit = state_occupation(hand, "id", "tstart", "tstop", "state")
    assert fit.states_ == ["(s0)", *HAND_STATES]
    assert_matches_r(fit, r_pstate[r_pstate["fit"] == "hand_s0"])


@pytest.mark.parametrize("origin", ["placement", "referral"])
def test_state_occupation_matches_r_survfit_on_synthetic_journey(journey, r_pstate, origin):
    """R: survfit(Surv(tstart, tstop, state) ~ first_setting, id = episode_id, istate = istate)"""
    d = journey[journey["origin"] == origin]
    fit = state_occupation(d, "episode_id", "tstart", "tstop", "state", initial_state="istate",
                           group_col="first_setting")
    assert_matches_r(fit, r_pstate[r_pstate["fit"] == f"journey_{origin}_by_setting"])


def test_starting_distribution_matches_r_p0(hand, journey):
    ref = pd.read_csv(REFERENCE / "multistate_p0.csv")
    ref["group"] = ref["group"].astype(str).str.replace(r"^.*=", "", regex=True)
    fits = {
        "hand_by_group": state_occupation(hand, "id", "tstart", "tstop", "state",
                                          initial_state="istate", group_col="group"),
        "journey_referral_by_setting": state_occupation(
            journey[journey["origin"] == "referral"], "episode_id", "tstart", "tstop",
            "state", initial_state="istate", group_col="first_setting"),
    }
    for name, fit in fits.items():
        r = ref[ref["fit"] == name].pivot(index="group", columns="state", values="p0")
        ours = fit.p0_.set_index("group")[r.columns]
        assert_allclose(ours.to_numpy(float), r.loc[ours.index].to_numpy(float), rtol=RTOL)


# --------------------------------------------------------------------------- by hand
def tiny_frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 2, 3, 4], "start": [0, 0, 2, 0, 0],
                         "stop": [3, 2, 5, 4, 1], "state": ["HVB", "HVB", "end", 0, "end"]})


def test_tiny_example_by_hand():
    """Four ids start in FH.

    t=1: id 4 FH -> end, 4 at risk in FH: p = (3/4, 0, 1/4).
    t=2: id 2 FH -> HVB, 3 at risk in FH: p_FH = 3/4 * 2/3 = 1/2, p_HVB = 1/4.
    t=3: id 1 FH -> HVB, 2 at risk in FH (id 3 and id 1): p_FH = 1/4, p_HVB = 1/2.
    t=4: id 3 censored. t=5: id 2 HVB -> end, 1 at risk in HVB: p_HVB = 0, p_end = 3/4.
    SE at t=1 (infinitesimal jackknife of a single step): sqrt(p (1 - p) / n) = sqrt(3/64).
    """
    fit = state_occupation(tiny_frame(), "id", "start", "stop", "state", initial_state="FH")
    wide = fit.summary.pivot(index="time", columns="state", values="estimate")
    assert list(wide.columns) == ["FH", "HVB", "end"]
    assert_allclose(wide.to_numpy(), [[3 / 4, 0, 1 / 4], [1 / 2, 1 / 4, 1 / 4],
                                      [1 / 4, 1 / 2, 1 / 4], [1 / 4, 1 / 2, 1 / 4],
                                      [1 / 4, 0, 3 / 4]])
    se = fit.summary.pivot(index="time", columns="state", values="se")
    assert_allclose(se.loc[1.0, "end"], np.sqrt(3 / 64))
    n_risk = fit.summary.pivot(index="time", columns="state", values="n_risk")
    assert_allclose(n_risk["FH"], [4, 3, 2, 1, 0])
    assert_allclose(n_risk["HVB"], [0, 0, 1, 1, 1])
    assert fit.transitions_.set_index(["from_state", "to_state"])["n"].to_dict() == {
        ("FH", "HVB"): 2, ("FH", "end"): 1, ("HVB", "end"): 1}


def test_probabilities_sum_to_one_at_every_time(hand, journey):
    fits = [state_occupation(hand, "id", "tstart", "tstop", "state", initial_state="istate",
                             group_col="group"),
            state_occupation(journey, "episode_id", "tstart", "tstop", "state",
                             initial_state="istate", group_col="origin")]
    for fit in fits:
        totals = fit.summary.groupby(["group", "time"])["estimate"].sum()
        assert len(totals) > 10
        assert_allclose(totals.to_numpy(), 1.0, rtol=1e-12)
        assert (fit.summary["estimate"] >= -1e-15).all()
        assert (fit.summary["estimate"] <= 1 + 1e-12).all()


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    """time (days, > 0), status 0/1/2 and group from the survival tests' stored CSV."""
    d = pd.read_csv(REFERENCE / "episodes_survival.csv")
    return d.assign(time=d["time"] + 1, id=np.arange(len(d)))


def test_two_state_special_case_equals_one_minus_kaplan_meier(episodes):
    """With states 'in care' -> 'ended', P(ended) = 1 - S_KM at every time, per group.

    Only the estimate is compared: survfit's infinitesimal-jackknife SE is not Greenwood's.
    """
    from evaluation.models.survival import kaplan_meier

    d = episodes.assign(state=np.where(episodes["status"] > 0, "ended", ""), start=0.0)
    fit = state_occupation(d, "id", "start", "time", "state", initial_state="in_care",
                           group_col="group")
    km = kaplan_meier(d.assign(event=(d["status"] > 0).astype(int)), "time", "event",
                      group_col="group")
    ended = fit.summary[fit.summary["state"] == "ended"].reset_index(drop=True)
    assert_allclose(ended["time"], km.summary["time"])
    assert (ended["group"] == km.summary["group"]).all()
    assert_allclose(ended["estimate"], 1 - km.summary["estimate"], rtol=1e-12, atol=1e-14)
    in_care = fit.summary[fit.summary["state"] == "in_care"].reset_index(drop=True)
    assert_allclose(in_care["n_risk"], km.summary["n_risk"])


def test_competing_risks_special_case_equals_cumulative_incidence(episodes):
    """States 'in care' -> 'planned' | 'unplanned': P(state k) = CIF_k (cmprsk), per group.

    Only the estimate is compared: cuminc's delta-method variance differs from survfit's
    infinitesimal jackknife.
    """
    from evaluation.models.competing_risks import cumulative_incidence

    d = episodes.assign(start=0.0, state=episodes["status"].map(
        {0: "", 1: "planned", 2: "unplanned"}))
    fit = state_occupation(d, "id", "start", "time", "state", initial_state="in_care",
                           group_col="group")
    for code, state in ((1, "planned"), (2, "unplanned")):
        cif = cumulative_incidence(d, "time", "status", event_of_interest=code,
                                   group_col="group")
        ours = fit.summary[fit.summary["state"] == state].reset_index(drop=True)
        assert_allclose(ours["time"], cif.summary["time"])
        assert_allclose(ours["estimate"], cif.summary["estimate"], rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- journey_states
def journey_tables() -> dict[str, pd.DataFrame]:
    """Three made-up episodes of two children (no real identifiers).

    E1 (child a): referral 2020-01-01, starts 2020-01-11 in FH, moves to FFH (same state)
    2020-03-01 and to HVB 2020-06-01, ends unplanned 2020-12-31; child a is re-referred
    2021-03-01 (a referral on the end date itself does not count).
    E2 (child b): starts 2021-01-01 in SIS with a zero-day JH placement first, ends as
    planned 2021-01-10; no later referral: censored at the data end 2021-12-31.
    E3 (child a, re-entry): starts 2021-06-01 in NH, still running at the data end.
    """
    t = pd.Timestamp
    episodes = pd.DataFrame({
        "episode_id": ["E1", "E2", "E3"], "child_id": ["a", "b", "a"],
        "start_date": [t("2020-01-11"), t("2021-01-01"), t("2021-06-01")],
        "end_date": [t("2020-12-31"), t("2021-01-10"), pd.NaT],
        "placement_type": ["FH", "JH", "NH"],
        "planned_ending": pd.array([False, True, pd.NA], dtype="boolean"),
        "municipality_code": ["0180", "1480", "0180"]})
    placements = pd.DataFrame({
        "episode_id": ["E1", "E1", "E1", "E2", "E2", "E3"],
        "placement_seq": [1, 2, 3, 1, 2, 1],
        "start_date": [t("2020-01-11"), t("2020-03-01"), t("2020-06-01"), t("2021-01-01"),
                       t("2021-01-01"), t("2021-06-01")],
        "end_date": [t("2020-02-29"), t("2020-05-31"), t("2020-12-31"), t("2021-01-01"),
                     t("2021-01-10"), pd.NaT],
        "placement_type": ["FH", "FFH", "HVB", "JH", "SIS", "NH"]})
    referrals = pd.DataFrame({
        "child_id": ["a", "a", "a", "a", "b"],
        "referral_date": [t("2020-01-01"), t("2020-12-31"), t("2021-03-01"), t("2021-05-20"),
                          t("2020-12-20")],
        "led_to_investigation": [True, False, True, True, True]})
    return {"episodes": episodes, "placements": placements, "referrals": referrals}


def test_journey_states_follow_the_documented_definitions():
    d = journey_states(journey_tables(), data_end="2021-12-31")
    e1 = d[d["episode_id"] == "E1"]
    # FH and FFH are one family-home stay; HVB from day 142 (2020-06-01); the ending takes
    # effect at the end of 2020-12-31 (day 355 + 1); re-referral 2021-03-01 (day 415 + 1).
    assert e1[["tstart", "tstop", "state", "istate"]].values.tolist() == [
        [0.0, 142.0, "residential", "family_home"],
        [142.0, 356.0, "ended_unplanned", "residential"],
        [356.0, 416.0, "re_referred", "ended_unplanned"]]
    e2 = d[d["episode_id"] == "E2"]
    assert e2[["tstart", "tstop", "state", "istate"]].values.tolist() == [
        [0.0, 10.0, "ended_planned", "residential"],
        [10.0, 365.0, "", "ended_planned"]]
    e3 = d[d["episode_id"] == "E3"]
    assert e3[["tstart", "tstop", "state", "istate"]].values.tolist() == [
        [0.0, 214.0, "", "family_home"]]
    assert d["first_setting"].tolist() == ["family_home"] * 3 + ["residential"] * 2 + [
        "family_home"]
    assert d["municipality_code"].tolist()[:3] == ["0180"] * 3


def test_journey_from_referral_adds_the_investigation_phase():
    d = journey_states(journey_tables(), origin="referral", data_end="2021-12-31")
    e1 = d[d["episode_id"] == "E1"]
    assert e1[["tstart", "tstop", "state", "istate"]].values.tolist()[:2] == [
        [0.0, 10.0, "family_home", "investigation"],
        [10.0, 152.0, "residential", "family_home"]]
    # E3 opens with the latest referral after E1 ended: 2021-05-20 (not 2021-03-01).
    e3 = d[d["episode_id"] == "E3"]
    assert e3[["tstart", "tstop", "state", "istate"]].values.tolist() == [
        [0.0, 12.0, "family_home", "investigation"], [12.0, 226.0, "", "family_home"]]


@pytest.fixture(scope="module")
def synth_tables() -> dict[str, pd.DataFrame]:
    from evaluation.data.synth import generate

    return generate(n_children=150, n_municipalities=3, seed=8).tables


def test_journey_of_synthetic_data_is_consistent_with_its_episodes(synth_tables):
    tables = synth_tables
    ep = tables["episodes"]
    d = journey_states(tables, data_end=JOURNEY_END)
    assert set(d["episode_id"]) == set(ep["episode_id"])
    # rows of an episode tile its follow-up: no gaps, no overlaps
    prev_stop = d.groupby("episode_id")["tstop"].shift()
    inner = prev_stop.notna()
    assert (d.loc[inner, "tstart"] == prev_stop[inner]).all()
    ended = ep.set_index("episode_id")["planned_ending"].dropna()
    n_end = d["state"].isin(["ended_planned", "ended_unplanned"]).sum()
    assert n_end == len(ended)
    assert (d["state"] == "ended_unplanned").sum() == int((~ended.astype(bool)).sum())


def test_journey_in_care_probability_equals_kaplan_meier_of_episode_length(synth_tables):
    """With every placement type mapped to one state 'in_care', P(in_care) must be the
    Kaplan–Meier S(t) of time to ending (days from start to end date + 1, censored at the
    end of the data end day): a truth computed from the episodes table alone. (With two
    in-care states the sum of their probabilities is not a Kaplan–Meier curve.)"""
    from evaluation.models.survival import kaplan_meier

    tables = synth_tables
    ep = tables["episodes"]
    stop = ep["end_date"].fillna(pd.Timestamp(JOURNEY_END))
    km = kaplan_meier(pd.DataFrame({"t": (stop - ep["start_date"]).dt.days + 1,
                                    "e": ep["end_date"].notna().astype(int)}), "t", "e")
    one_state = {t: "in_care" for t in ("FH", "NH", "FFH", "JH", "EGET", "HVB", "SIS", "SB")}
    d = journey_states(tables, data_end=JOURNEY_END, placement_states=one_state)
    fit = state_occupation(d, "episode_id", "tstart", "tstop", "state",
                           initial_state="istate")
    at = fit.at(km.summary["time"].to_numpy())
    in_care = at.loc[at["state"] == "in_care", "estimate"].to_numpy()
    assert_allclose(in_care, km.summary["estimate"].to_numpy(), rtol=1e-12)
    assert km.summary["estimate"].iloc[-1] < 0.9  # the check covers many endings


def test_journey_states_rejects_unmapped_types_and_bad_origin():
    tables = journey_tables()
    with pytest.raises(ParameterError, match="origin"):
        journey_states(tables, origin="decision")
    with pytest.raises(ParameterError, match=r"\['HVB'\]"):
        journey_states(tables, placement_states={"FH": "family_home", "FFH": "family_home",
                                                 "NH": "family_home", "JH": "family_home",
                                                 "SIS": "residential"})
    bad = dict(tables, episodes=tables["episodes"].assign(
        planned_ending=pd.array([pd.NA, True, pd.NA], dtype="boolean")))
    with pytest.raises(ParameterError, match="E1.*planned_ending"):
        journey_states(bad)
    with pytest.raises(ParameterError, match="episodes"):
        journey_states({"placements": tables["placements"]})
    backwards = dict(tables, episodes=tables["episodes"].assign(
        end_date=[pd.Timestamp("2019-12-31"), pd.Timestamp("2021-01-10"), pd.NaT]))
    with pytest.raises(ParameterError, match="E1.*ends before it starts"):
        journey_states(backwards)


# --------------------------------------------------------------------------- errors, at, plot
@pytest.mark.parametrize("rows, message", [
    ([(1, 0, 3, ""), (1, 4, 6, "x")], "gap"),
    ([(1, 0, 3, ""), (1, 2, 6, "x")], "overlapping"),
    ([(1, 0, 0, "x")], "stop > start|> start"),
])
def test_state_occupation_rejects_invalid_intervals(rows, message):
    d = pd.DataFrame(rows, columns=["id", "start", "stop", "state"])
    with pytest.raises(ParameterError, match=message):
        state_occupation(d, "id", "start", "stop", "state", initial_state="a")


def test_state_occupation_rejects_bad_parameters(hand):
    with pytest.raises(ParameterError, match="'visit'"):
        state_occupation(hand, "visit", "tstart", "tstop", "state")
    with pytest.raises(ParameterError, match="alpha"):
        state_occupation(hand, "id", "tstart", "tstop", "state", alpha=1.5)
    with pytest.raises(ParameterError, match="lacks"):
        state_occupation(hand, "id", "tstart", "tstop", "state", initial_state="istate",
                         states=["FH", "HVB"])
    clash = hand.copy()
    clash.loc[1, "istate"] = "FH"  # id 1's second row: previous row ended in HVB
    with pytest.raises(ParameterError, match="previous interval ended in 'HVB'"):
        state_occupation(clash, "id", "tstart", "tstop", "state", initial_state="istate")
    with pytest.raises(ParameterError, match="missing"):
        state_occupation(hand.assign(tstart=hand["tstart"].where(hand.index != 2)), "id",
                         "tstart", "tstop", "state")


def test_numeric_state_codes_with_missing_censoring_keep_integer_labels():
    d = pd.DataFrame({"id": [1, 2, 3], "start": [0, 0, 0], "stop": [1, 2, 3],
                      "state": [1.0, np.nan, 2.0]})
    fit = state_occupation(d, "id", "start", "stop", "state", initial_state="0")
    assert fit.states_ == ["0", "1", "2"]
    # t=1: 1 of 3 moves to 1; t=2: censored; t=3: the last one in state 0 moves to 2.
    assert_allclose(fit.at(3)["estimate"], [0, 1 / 3, 2 / 3], atol=1e-15)


def test_at_reads_step_values_p0_before_and_nan_after():
    fit = state_occupation(tiny_frame(), "id", "start", "stop", "state", initial_state="FH")
    at = fit.at([0.5, 2.5, 5, 6])
    wide = at.pivot(index="time", columns="state", values="estimate")
    assert_allclose(wide.loc[0.5], [1, 0, 0])          # p0 before the first time
    assert_allclose(wide.loc[2.5], [1 / 2, 1 / 4, 1 / 4])  # value at t = 2
    assert_allclose(wide.loc[5.0], [1 / 4, 0, 3 / 4])
    assert wide.loc[6.0].isna().all()                  # beyond the last follow-up time
    with pytest.raises(ParameterError):
        fit.at([np.nan])


def test_plot_stacks_states_with_swedish_default_labels():
    import matplotlib.pyplot as plt

    d = journey_states(journey_tables(), data_end="2021-12-31")
    fit = state_occupation(d, "episode_id", "tstart", "tstop", "state",
                           initial_state="istate")
    ax = fit.plot()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [JOURNEY_LABELS[s]["sv"] for s in fit.states_]
    assert len(ax.collections) == len(fit.states_)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("tid", "andel i tillståndet")
    grouped = state_occupation(d, "episode_id", "tstart", "tstop", "state",
                               initial_state="istate", group_col="first_setting")
    axes = grouped.plot()
    assert [a.get_title() for a in axes] == [JOURNEY_LABELS["family_home"]["sv"],
                                             JOURNEY_LABELS["residential"]["sv"]]
    assert axes[0].get_legend() is None and axes[1].get_legend() is not None
    with pytest.raises(ParameterError, match="group"):
        grouped.plot(ax=ax)
    plt.close("all")


def test_plot_draws_the_labels_it_is_given_for_states_groups_and_axes():
    """A report in English passes English labels: the model itself takes no language."""
    import matplotlib.pyplot as plt

    d = journey_states(journey_tables(), data_end="2021-12-31")
    english = {s: labels["en"] for s, labels in JOURNEY_LABELS.items()}
    fit = state_occupation(d, "episode_id", "tstart", "tstop", "state",
                           initial_state="istate")
    ax_en = fit.plot(labels=english, xlabel="time", ylabel="probability in state")
    assert [t.get_text() for t in ax_en.get_legend().get_texts()] == [
        english.get(s, s) for s in fit.states_]
    assert JOURNEY_LABELS["re_referred"]["en"] in [t.get_text()
                                                   for t in ax_en.get_legend().get_texts()]
    assert (ax_en.get_xlabel(), ax_en.get_ylabel()) == ("time", "probability in state")
    grouped = state_occupation(d, "episode_id", "tstart", "tstop", "state",
                               initial_state="istate", group_col="first_setting")
    axes = grouped.plot(labels=english, xlabel="time")
    assert [a.get_title() for a in axes] == [JOURNEY_LABELS["family_home"]["en"],
                                             JOURNEY_LABELS["residential"]["en"]]
    assert [a.get_xlabel() for a in axes] == ["time", "time"]
    plt.close("all")


def test_summary_is_numeric_apart_from_group_and_state_and_has_no_ids(journey):
    fit = state_occupation(journey, "episode_id", "tstart", "tstop", "state",
                           initial_state="istate", group_col="origin")
    assert list(fit.summary.columns) == ["group", "state", "time", *COLS]
    assert all(pd.api.types.is_float_dtype(fit.summary[c]) for c in ["time", *COLS])
    ids = set(journey["episode_id"])
    assert not ids & set(fit.summary.astype(str).to_numpy().ravel())
    assert fit.metadata["method"].startswith("Aalen-Johansen") and fit.metadata["alpha"] == 0.05
    assert "<table" in fit.to_html()


def test_state_occupation_has_one_address_in_the_models_facade():
    from evaluation import models

    assert models.state_occupation is state_occupation
    assert models.StateOccupationResult is StateOccupationResult


def test_numeric_groups_are_ordered_by_value_not_as_text():
    d = pd.DataFrame({"id": [1, 2, 2, 3, 4, 5, 6], "start": [0, 0, 2, 0, 0, 0, 0],
                      "stop": [3, 2, 5, 4, 1, 2, 3],
                      "state": ["HVB", "HVB", "end", 0, "end", "end", 0],
                      "code": [10, 10, 10, 9, 9, 100, 100]})
    fit = state_occupation(d, "id", "start", "stop", "state", initial_state="FH",
                           group_col="code")
    assert list(fit.summary["group"].unique()) == ["9", "10", "100"]
    assert list(fit.p0_["group"]) == ["9", "10", "100"]
    assert list(fit.at(2)["group"].unique()) == ["9", "10", "100"]


def test_interval_times_as_timedeltas_are_refused_not_read_as_nanoseconds():
    d = pd.DataFrame({"id": [1, 2], "start": pd.to_timedelta([0, 0], unit="D"),
                      "stop": pd.to_timedelta([3, 2], unit="D"), "state": ["HVB", 0]})
    with pytest.raises(ParameterError, match=r"'start' \(start_col\).*\.dt\.days"):
        state_occupation(d, "id", "start", "stop", "state", initial_state="FH")
