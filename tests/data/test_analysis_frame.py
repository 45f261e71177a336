"""Tests of the analysis frame for effect estimation (evaluation.data.analysis_frame)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.analysis_frame import EFFECT_COVARIATES, effect_frame
from evaluation.errors import ParameterError

END = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def data():
    return synth.generate(n_children=3000, n_municipalities=30, seed=1)


def _episodes() -> pd.DataFrame:
    """Five hand-made episodes (invented pseudonyms) with end of data 2024-12-31.

    E1 breakdown after 100 days (outcome 1 at 365 days), E2 breakdown after 400 days (0 at
    365, 1 at 730), E3 planned ending after 50 days (0), E4 ongoing (0), E5 starts 200 days
    before the end of data (not in the 365-day frame).
    """
    start = pd.to_datetime(["2021-01-01", "2021-01-01", "2022-03-01", "2020-06-01",
                            "2024-06-14"])
    end = pd.Series([start[0] + pd.Timedelta(days=100), start[1] + pd.Timedelta(days=400),
                     start[2] + pd.Timedelta(days=50), pd.NaT, pd.NaT],
                    dtype="datetime64[ns]")
    return pd.DataFrame({
        "episode_id": ["E1", "E2", "E3", "E4", "E5"],
        "child_id": ["c1", "c2", "c3", "c4", "c1"],
        "municipality_code": ["0180", "0180", "1480", "1480", "0180"],
        "placement_type": ["HVB", "FH", "FH", "SIS", "FH"],
        "start_date": start,
        "end_date": end,
        "planned_ending": pd.array([False, False, True, None, None], dtype="boolean"),
        "birth_year": pd.array([2006, 2012, 2008, 2003, 2006], dtype="Int64"),
        "sex": ["M", "F", "M", "F", "M"],
        "unaccompanied": pd.array([False, False, None, True, False], dtype="boolean"),
        "care_plan_goal": ["TREATMENT", "REUNIFICATION", "CUSTODY_TRANSFER", "LONGTERM",
                           "TREATMENT"],
        "legal_basis": ["LVU3", "SOL", "SOL", "LVU6", "SOL"],
        "problem_criminality": pd.array([True, False, False, False, True], dtype="boolean"),
        "problem_child_substance": pd.array([False, False, False, True, False],
                                            dtype="boolean"),
        "problem_child_mental": pd.array([False, True, None, False, False], dtype="boolean"),
    })


def test_effect_frame_of_hand_made_episodes_matches_hand_computation():
    f = effect_frame(_episodes(), horizon=365, end="2024-12-31")
    assert f["episode_id"].tolist() == ["E1", "E2", "E3", "E4"]  # E5: < 365 days of data
    assert f["unplanned_365d"].tolist() == [1, 0, 0, 0]
    assert f["age_at_start"].tolist() == [15, 9, 14, 17]
    assert f["age_14_15"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert f["age_17"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert f["age_13plus"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert f["male"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert f["unaccompanied"].tolist() == [0.0, 0.0, 0.0, 1.0]  # missing counts as 0
    assert f["problem_child_mental"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert f["behaviour"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert f["teen_behaviour"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert f["goal_REUNIFICATION"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert f["goal_longterm_or_custody"].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert f["lvu_behaviour"].tolist() == [1.0, 0.0, 0.0, 1.0]
    f730 = effect_frame(_episodes(), horizon=730, end="2024-12-31")
    assert f730["episode_id"].tolist() == ["E1", "E2", "E3", "E4"]
    assert f730["unplanned_730d"].tolist() == [1, 1, 0, 0]
    # An earlier end of data drops the episodes with too little follow-up.
    assert effect_frame(_episodes(), horizon=365, end="2022-12-31")["episode_id"].tolist() == [
        "E1", "E2", "E4"]


def test_effect_frame_rows_outcome_and_covariates(data):
    ep = data.tables["episodes"]
    frame = effect_frame(data)
    start_ok = (END - ep["start_date"]).dt.days >= 365
    assert len(frame) == start_ok.sum()
    assert frame["episode_id"].tolist() == ep.loc[start_ok, "episode_id"].tolist()
    assert "birth_year" not in frame and "sex" not in frame
    assert frame["child_id"].tolist() == ep.loc[start_ok, "child_id"].tolist()
    sub = ep[start_ok].reset_index(drop=True)
    dur = (sub["end_date"] - sub["start_date"]).dt.days
    y = sub["end_reason"].isin(["BREAKDOWN_CHILD", "BREAKDOWN_CARER", "BREAKDOWN_GUARDIAN",
                                "BREAKDOWN_SOCIAL", "ABSCONDED"]) & (dur < 365)
    assert frame["unplanned_365d"].tolist() == y.astype(int).tolist()
    age = sub["start_date"].dt.year - sub["birth_year"]
    bands = frame[["age_13", "age_14_15", "age_16", "age_17", "age_18", "age_19_20"]]
    assert (bands.sum(axis=1) == (age >= 13).astype(float)).all()
    assert (frame["teen_behaviour"] == frame["age_13plus"] * frame["behaviour"]).all()
    assert set(synth.EFFECT_CONFOUNDERS) <= set(frame.columns)
    assert set(EFFECT_COVARIATES) <= set(frame.columns)
    # Works from the episodes table with an explicit end; longer horizon -> fewer rows.
    f730 = effect_frame(ep, horizon=730, end="2024-12-31")
    assert 0 < len(f730) < len(frame)
    pd.testing.assert_frame_equal(effect_frame(ep, end="2024-12-31"), frame)


@pytest.mark.parametrize("covariate", EFFECT_COVARIATES)
def test_every_effect_covariate_varies_in_the_synthetic_frame(data, covariate):
    f = effect_frame(data)
    f = f[f["placement_type"].isin(["FH", "HVB"])]
    assert f[covariate].nunique() == 2


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"horizon": 0}, "horizon=0"),
    ({"horizon": 365.0}, "horizon=365.0"),
    ({"horizon": True}, "horizon=True"),
    ({"end": "2024-13-45"}, "end='2024-13-45' is not a date"),
])
def test_effect_frame_rejects_bad_horizon_and_end(data, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        effect_frame(data, **kwargs)


def test_effect_frame_errors_name_the_missing_input(data):
    ep = data.tables["episodes"]
    with pytest.raises(ParameterError, match="end .the end of the observation window"):
        effect_frame(ep)
    with pytest.raises(ParameterError, match="sex"):
        effect_frame(ep.drop(columns="sex"), end="2024-12-31")
    with pytest.raises(ParameterError, match="episodes DataFrame.*got dict"):
        effect_frame({"episodes": ep}, end="2024-12-31")


def test_analysis_frame_does_not_import_synth():
    """The frame is for real data too: importing it must not pull in the generator."""
    code = ("import sys, evaluation.data.analysis_frame; "
            "print('evaluation.data.synth' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- the end date and
# required values: an ``end`` that is not a date is an error, not a silently empty frame, and a
# missing birth_year or start_date is named
@pytest.fixture(scope="module")
def small_episodes():
    return synth.generate(n_children=200, n_municipalities=3, seed=4).tables["episodes"]


@pytest.mark.parametrize("end", ["", "NaT", pd.NaT, np.nan, 20241231])
def test_effect_frame_rejects_an_end_that_is_not_a_date(small_episodes, end):
    """'' / NaT / NaN gave NaT (every episode compared False: 0 rows), an integer was read
    as nanoseconds since 1970 (0 rows); synth's old parser raised for the first ones."""
    with pytest.raises(ParameterError, match=r"end=.* is not a date \(use YYYY-MM-DD\)"):
        effect_frame(small_episodes, end=end)


@pytest.mark.parametrize("end", ["2024-12-31", pd.Timestamp("2024-12-31 15:00"),
                                 np.datetime64("2024-12-31")])
def test_effect_frame_accepts_dates_in_any_usual_type(small_episodes, end):
    frame = effect_frame(small_episodes, end=end)
    assert len(frame) > 0
    pd.testing.assert_frame_equal(frame, effect_frame(small_episodes, end="2024-12-31"))


@pytest.mark.parametrize("column", ["birth_year", "start_date"])
def test_effect_frame_names_a_missing_birth_year_or_start_date(small_episodes, column):
    """birth_year gave pandas' bare 'cannot convert NA to integer'; a missing start_date
    silently dropped the episode. Both are required columns of a validated table."""
    ep = small_episodes.copy()
    if column == "birth_year":
        ep["birth_year"] = ep["birth_year"].astype("Int64")
        ep.loc[3, "birth_year"] = pd.NA
    else:
        ep.loc[3, "start_date"] = pd.NaT
    first = ep.loc[3, "episode_id"]
    with pytest.raises(ParameterError, match=rf"episodes has 1 missing {column}, first in "
                                             rf"episode_id {first!r}"):
        effect_frame(ep, end="2024-12-31")
