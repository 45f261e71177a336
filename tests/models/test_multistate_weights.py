"""Tests of case weights in evaluation.models.multistate.state_occupation (``weights_col``).

Reference values come from ``tests/reference/multistate_weights_reference.R`` (run with
``Rscript tests/reference/multistate_weights_reference.R`` from the repository root, R 4.2.2,
survival 3.5-3). It reads the data of the unweighted reference (``multistate_hand.csv``,
``multistate_journey.csv``) and one weight per id from
``tests/reference/multistate_weights_ids.csv``, which this module writes
(``.venv/bin/python tests/test_multistate_weights.py`` regenerates it). The tests need no R.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ParameterError
from evaluation.models.multistate import StateOccupationResult, state_occupation
from tests.helpers import REFERENCE

HAND_STATES = ["FH", "HVB", "end"]
#: Relative tolerance against R (the largest relative difference seen is about 3e-14;
#: values that are 0 in exact arithmetic, +-1e-17 rounding noise in R, agree too).
RTOL = 1e-8
COLS = ["n_risk", "n_event", "estimate", "se", "ci_lower", "ci_upper"]
#: Made-up non-integer (w) and integer (wi) weights of the twelve hand ids.
HAND_W = [1.5, 0.3, 2.25, 1.1, 0.7, 1.2, 2.5, 0.9, 1.15, 3.4, 0.4, 1.8]
HAND_WI = [2, 1, 3, 1, 1, 2, 1, 1, 2, 1, 3, 1]


def weights_ids_frame() -> pd.DataFrame:
    """One weight per id: the hand ids' made-up weights and, for the journey episodes (both
    origins), log-normal weights like inverse probability weights (seed 2026)."""
    journey = pd.read_csv(REFERENCE / "multistate_journey.csv", keep_default_na=False)
    episodes = journey["episode_id"].drop_duplicates().to_numpy()
    rng = np.random.default_rng(2026)
    w = np.round(np.exp(rng.normal(0.0, 0.5, len(episodes))), 6)
    hand = pd.DataFrame({"data": "hand", "id": [str(i) for i in range(1, 13)],
                         "w": HAND_W, "wi": HAND_WI})
    other = pd.DataFrame({"data": "journey", "id": episodes, "w": w, "wi": pd.NA})
    hand["wi"] = hand["wi"].astype("Int64")
    other["wi"] = other["wi"].astype("Int64")
    return pd.concat([hand, other], ignore_index=True)


if __name__ == "__main__":
    weights_ids_frame().to_csv(REFERENCE / "multistate_weights_ids.csv", index=False)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ids() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "multistate_weights_ids.csv", dtype={"id": str})


@pytest.fixture(scope="module")
def hand(ids) -> pd.DataFrame:
    """The unweighted reference's hand data plus w (non-integer) and wi (integer)."""
    d = pd.read_csv(REFERENCE / "multistate_hand.csv", keep_default_na=False)
    w = ids[ids["data"] == "hand"].set_index("id")
    return d.assign(w=d["id"].astype(str).map(w["w"]),
                    wi=d["id"].astype(str).map(w["wi"]).astype(int))


@pytest.fixture(scope="module")
def journey(ids) -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "multistate_journey.csv", keep_default_na=False)
    w = ids[ids["data"] == "journey"].set_index("id")["w"]
    return d.assign(w=d["episode_id"].map(w))


@pytest.fixture(scope="module")
def r_pstate() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "multistate_weights_pstate.csv")


def r_fit(r_pstate: pd.DataFrame, name: str) -> pd.DataFrame:
    ref = r_pstate[r_pstate["fit"] == name]
    assert len(ref) > 0, name
    return ref


def keyed(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows keyed by (group, state, time), sorted; group "all" when ungrouped."""
    out = summary.copy()
    if "group" not in out or out["group"].isna().all():
        out["group"] = "all"
    out["group"] = out["group"].astype(str)
    return out.sort_values(["group", "state", "time"]).reset_index(drop=True)


def assert_matches_r(fit: StateOccupationResult, ref: pd.DataFrame,
                     cols: list[str] = COLS) -> None:
    """Same (group, state, time) rows as R and the same numbers (NaN where R has NA: the
    confidence limits where the estimate is 0)."""
    ours, ref = keyed(fit.summary), keyed(ref)
    key = ["group", "state", "time"]
    assert ours[key].equals(ref[key].astype(ours[key].dtypes.to_dict()))
    assert not ref[["estimate", "se"]].isna().to_numpy().any()
    assert_allclose(ours[cols].to_numpy(float), ref[cols].to_numpy(float), rtol=RTOL, atol=0)


def test_weights_reference_inputs_match_the_generator(ids):
    pd.testing.assert_frame_equal(weights_ids_frame(), ids, check_dtype=False)
    journey_w = ids.loc[ids["data"] == "journey", "w"]
    assert (journey_w != np.round(journey_w)).all()  # non-integer weights
    assert not (np.asarray(HAND_W) == np.round(HAND_W)).any()


def test_weights_reference_versions_are_recorded():
    versions = json.loads((REFERENCE / "multistate_weights_versions.json").read_text())
    assert versions["R"] == "4.2.2" and versions["survival"] == "3.5.3"


# --------------------------------------------------------------------------- R agreement
@pytest.mark.parametrize("name, kwargs", [
    ("hand_by_group", {"initial_state": "istate", "group_col": "group"}),
    ("hand", {"initial_state": "istate"}),
    ("hand_s0", {}),
])
def test_weighted_state_occupation_matches_r_survfit_on_hand_data(hand, r_pstate, name,
                                                                    kwargs):
    """R: survfit(Surv(tstart, tstop, state) ~ group (or 1), data = h, id = id,
    istate = istate (not for hand_s0), weights = w)"""
    fit = state_occupation(hand, "id", "tstart", "tstop", "state", weights_col="w", **kwargs)
    assert_matches_r(fit, r_fit(r_pstate, name))


@pytest.mark.parametrize("origin", ["placement", "referral"])
@pytest.mark.parametrize("grouped", [True, False])
def test_weighted_state_occupation_matches_r_survfit_on_synthetic_journey(
        journey, r_pstate, origin, grouped):
    """R: survfit(Surv(tstart, tstop, state) ~ first_setting (or 1), id = episode_id,
    istate = istate, weights = w): weighted occupation by first placement type."""
    d = journey[journey["origin"] == origin]
    fit = state_occupation(d, "episode_id", "tstart", "tstop", "state",
                           initial_state="istate",
                           group_col="first_setting" if grouped else None, weights_col="w")
    name = f"journey_{origin}_by_setting" if grouped else f"journey_{origin}"
    ref = r_fit(r_pstate, name)
    assert_matches_r(fit, ref)
    assert len(ref) > 500 and ref["se"].max() > 0.01  # a real check, not an empty one


def test_weighted_starting_distribution_matches_r_p0(hand, journey):
    ref = pd.read_csv(REFERENCE / "multistate_weights_p0.csv")
    fits = {
        "hand_by_group": state_occupation(hand, "id", "tstart", "tstop", "state",
                                          initial_state="istate", group_col="group",
                                          weights_col="w"),
        "journey_referral_by_setting": state_occupation(
            journey[journey["origin"] == "referral"], "episode_id", "tstart", "tstop",
            "state", initial_state="istate", group_col="first_setting", weights_col="w"),
    }
    for name, fit in fits.items():
        r = ref[ref["fit"] == name].pivot(index="group", columns="state", values="p0")
        ours = fit.p0_.set_index("group")[r.columns]
        assert_allclose(ours.to_numpy(float), r.loc[ours.index].to_numpy(float), rtol=RTOL)
    # the weights matter: group A's weighted p0 is not the unweighted 2/3 in FH
    assert not np.isclose(fits["hand_by_group"].p0_.loc[0, "FH"], 2 / 3)


# --------------------------------------------------------------------------- properties
@pytest.mark.parametrize("kwargs", [
    {"initial_state": "istate", "group_col": "group"},
    {},
])
def test_unit_weights_give_exactly_the_unweighted_results(hand, kwargs):
    plain = state_occupation(hand, "id", "tstart", "tstop", "state", **kwargs)
    ones = state_occupation(hand.assign(one=1.0), "id", "tstart", "tstop", "state",
                            weights_col="one", **kwargs)
    pd.testing.assert_frame_equal(ones.summary, plain.summary, check_exact=True)
    pd.testing.assert_frame_equal(ones.p0_, plain.p0_, check_exact=True)
    pd.testing.assert_frame_equal(ones.transitions_, plain.transitions_)


def test_unit_weights_give_exactly_the_unweighted_results_on_the_journey(journey):
    plain = state_occupation(journey, "episode_id", "tstart", "tstop", "state",
                             initial_state="istate", group_col="origin")
    ones = state_occupation(journey.assign(one=1), "episode_id", "tstart", "tstop", "state",
                            initial_state="istate", group_col="origin", weights_col="one")
    pd.testing.assert_frame_equal(ones.summary, plain.summary, check_exact=True)


def repeat_ids(d: pd.DataFrame, weights: str) -> pd.DataFrame:
    """Each id's rows repeated ``weights`` times, each copy a new id ("<id>_<copy>")."""
    rep = d.loc[d.index.repeat(d[weights])].copy()
    rep["copy"] = rep.groupby(["id", "tstart"]).cumcount() + 1
    rep["id"] = rep["id"].astype(str) + "_" + rep["copy"].astype(str)
    return rep.drop(columns="copy").reset_index(drop=True)


def test_integer_weights_equal_repeated_ids_in_estimates_but_not_in_se(hand, r_pstate):
    """Estimates: weighting an id by k is repeating it k times. SEs: R's infinitesimal
    jackknife with weights is sum_i (w_i U_i)^2 (an id is one cluster of weight w_i), while
    k separate copies give sum_i w_i U_i^2; both match R (hand_integer: weights = wi;
    hand_repeated: the repeated data without weights)."""
    weighted = state_occupation(hand, "id", "tstart", "tstop", "state",
                                initial_state="istate", weights_col="wi")
    repeated = state_occupation(repeat_ids(hand, "wi"), "id", "tstart", "tstop", "state",
                                initial_state="istate")
    assert_matches_r(weighted, r_fit(r_pstate, "hand_integer"))
    assert_matches_r(repeated, r_fit(r_pstate, "hand_repeated"))
    a, b = keyed(weighted.summary), keyed(repeated.summary)
    assert_allclose(a["estimate"], b["estimate"], rtol=1e-12, atol=1e-15)
    differs = ~np.isclose(a["se"], b["se"], rtol=1e-6)
    assert differs.sum() >= 10
    # weights above 1 count w_i^2 instead of w_i: here the weighted SEs are never smaller
    assert (a["se"] >= b["se"] - 1e-12).all()
    # n_risk and n_event stay counts of ids (as R's n.risk and n.event): those of the
    # unweighted fit, smaller than the repeated data's
    plain = keyed(state_occupation(hand, "id", "tstart", "tstop", "state",
                                   initial_state="istate").summary)
    assert a[["n_risk", "n_event"]].equals(plain[["n_risk", "n_event"]])
    assert a["n_risk"].sum() < b["n_risk"].sum()


def test_zero_weights_equal_dropping_the_id(hand):
    for ids in ([7], [5], [2, 7]):
        zero = hand.assign(w=hand["w"].where(~hand["id"].isin(ids), 0.0))
        fit = state_occupation(zero, "id", "tstart", "tstop", "state",
                               initial_state="istate", group_col="group", weights_col="w",
                               states=HAND_STATES)
        drop = state_occupation(hand[~hand["id"].isin(ids)], "id", "tstart", "tstop",
                                "state", initial_state="istate", group_col="group",
                                weights_col="w", states=HAND_STATES)
        pd.testing.assert_frame_equal(fit.summary, drop.summary, check_exact=True)
        pd.testing.assert_frame_equal(fit.p0_, drop.p0_, check_exact=True)
        assert fit.metadata["n_ids_zero_weight"] == len(ids)
        assert fit.metadata["sum_weights"] == pytest.approx(drop.metadata["sum_weights"])


def test_zero_weight_fit_agrees_with_r_where_r_agrees_with_dropping(hand, r_pstate):
    """Id 7 of weight 0: ours equals R's fit without id 7 everywhere; R's zero-weight fit
    has the same estimates and SEs but also reports id 7's time 7 and counts id 7 in
    n.risk."""
    zero = hand.assign(w=hand["w"].where(hand["id"] != 7, 0.0))
    fit = state_occupation(zero, "id", "tstart", "tstop", "state", initial_state="istate",
                           weights_col="w")
    assert_matches_r(fit, r_fit(r_pstate, "hand_id7_drop"))
    r_zero = keyed(r_fit(r_pstate, "hand_id7_zero"))
    assert set(r_zero["time"]) - set(fit.summary["time"]) == {7.0}
    shared = keyed(fit.summary).merge(r_zero, on=["group", "state", "time"],
                                      suffixes=("", "_r"))
    assert len(shared) == len(fit.summary)
    for col in ("estimate", "se"):
        assert_allclose(shared[col], shared[f"{col}_r"], rtol=RTOL, atol=0)
    assert (shared["n_risk"] <= shared["n_risk_r"]).all()
    assert (shared["n_risk"] < shared["n_risk_r"]).any()


def test_zero_weights_where_r_differs_from_dropping_follow_dropping(hand, r_pstate):
    """R's own zero-weight fits differ from dropping the ids in two cases (stored from R):
    id 5's zero-weight transition at time 2 is the first one, so R takes p0 at time 2, before
    id 6 enters at 2; and in group B, once only ids of weight 0 (9 and 11) are at risk in
    HVB, R divides 0 by 0 and returns NaN. We follow dropping in both."""
    zero5 = hand.assign(w=hand["w"].where(hand["id"] != 5, 0.0))
    fit5 = state_occupation(zero5, "id", "tstart", "tstop", "state", initial_state="istate",
                            weights_col="w")
    assert_matches_r(fit5, r_fit(r_pstate, "hand_id5_drop"))
    r_zero5 = keyed(r_fit(r_pstate, "hand_id5_zero"))
    at3 = r_zero5[(r_zero5["time"] == 3) & (r_zero5["state"] == "FH")]["estimate"].item()
    assert not np.isclose(at3, fit5.at(3).query("state == 'FH'")["estimate"].item())

    b = hand[hand["group"] == "B"]
    zero_b = b.assign(w=b["w"].where(~b["id"].isin([9, 11]), 0.0))
    fit_b = state_occupation(zero_b, "id", "tstart", "tstop", "state",
                             initial_state="istate", weights_col="w", states=HAND_STATES)
    assert_matches_r(fit_b, r_fit(r_pstate, "hand_b_id9_id11_drop"))
    assert r_fit(r_pstate, "hand_b_id9_id11_zero")["estimate"].isna().any()
    assert np.isfinite(fit_b.summary["estimate"]).all()


def test_weights_change_the_estimates_toward_heavier_ids():
    """Four ids start in FH; id 2 (FH -> HVB at 2) has weight 3, the others 1 (total 6).

    t=1: id 4 FH -> end: p_end = 1/6. t=2: id 2 leaves FH (weight 3 of 5 at risk in FH):
    p_FH = 5/6 * 2/5 = 1/3, p_HVB = 1/2. t=3: id 1 FH -> HVB (1 of 2): p_FH = 1/6,
    p_HVB = 2/3. SE at t=1 by hand: U_i = d p_end / d w_i is (1 - 1/6) / 6 for id 4 and
    -1/36 for the other three, so var = (5/36)^2 + 9 (1/36)^2 + 2 (1/36)^2 (weights 3, 1, 1).
    """
    d = pd.DataFrame({"id": [1, 2, 2, 3, 4], "start": [0, 0, 2, 0, 0],
                      "stop": [3, 2, 5, 4, 1], "state": ["HVB", "HVB", "end", 0, "end"],
                      "w": [1.0, 3.0, 3.0, 1.0, 1.0]})
    fit = state_occupation(d, "id", "start", "stop", "state", initial_state="FH",
                           weights_col="w")
    wide = fit.summary.pivot(index="time", columns="state", values="estimate")
    assert_allclose(wide.loc[[1.0, 2.0, 3.0]].to_numpy(),
                    [[5 / 6, 0, 1 / 6], [1 / 3, 1 / 2, 1 / 6], [1 / 6, 2 / 3, 1 / 6]])
    se = fit.summary.pivot(index="time", columns="state", values="se")
    assert_allclose(se.loc[1.0, "end"], np.sqrt((25 + 9 + 2) / 36**2))
    assert fit.metadata["weights_col"] == "w"
    assert fit.metadata["sum_weights"] == 6.0
    assert "w_i U_i" in fit.metadata["se"]
    plain = state_occupation(d, "id", "start", "stop", "state", initial_state="FH")
    assert plain.metadata["weights_col"] is None


# --------------------------------------------------------------------------- errors
def weighted_tiny(w) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 2, 3], "start": [0, 0, 2, 0], "stop": [3, 2, 5, 4],
                         "state": ["HVB", "HVB", "end", 0], "grp": ["a", "a", "a", "b"],
                         "w": w})


@pytest.mark.parametrize("w, message", [
    ([1.0, 1.0, 2.0, 1.0], r"constant within each id.*id 2 has weights from 1\.0 to 2\.0"),
    ([1.0, -1.0, -1.0, 1.0], r"'w' \(weights_col\) must be finite and non-negative.*id 2"),
    ([1.0, np.inf, np.inf, 1.0], "finite and non-negative"),
    ([1.0, np.nan, np.nan, 1.0], r"'w' \(weights_col\) has 2 missing"),
    (["1", "2", "2", "1"], r"must be numeric case weights.*object"),
    ([True, True, True, True], "must be numeric"),
    ([0.0, 0.0, 0.0, 0.0], "0 for every id"),
])
def test_invalid_weights_are_refused_naming_the_column_and_id(w, message):
    with pytest.raises(ParameterError, match=message):
        state_occupation(weighted_tiny(w), "id", "start", "stop", "state",
                         initial_state="FH", weights_col="w")


def test_missing_weights_column_and_zero_weight_group_are_refused():
    d = weighted_tiny([1.0, 1.0, 1.0, 0.0])
    with pytest.raises(ParameterError, match="weights_col='weight' is not a column"):
        state_occupation(d, "id", "start", "stop", "state", weights_col="weight")
    with pytest.raises(ParameterError, match=r"every id of group 'b' \(grp\) has weight 0"):
        state_occupation(d, "id", "start", "stop", "state", initial_state="FH",
                         group_col="grp", weights_col="w")
    with pytest.raises(TypeError):
        state_occupation(d, "id", "start", "stop", "state", "FH", None, 0.05, None, "w")
