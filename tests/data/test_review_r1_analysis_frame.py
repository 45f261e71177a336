"""Review R1 of evaluation.data.analysis_frame.effect_frame: an ``end`` that is not a date must
be an error, not a silently empty frame (the move from synth lost that check)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.analysis_frame import effect_frame
from evaluation.errors import ParameterError


@pytest.fixture(scope="module")
def episodes():
    return synth.generate(n_children=200, n_municipalities=3, seed=4).tables["episodes"]


@pytest.mark.parametrize("end", ["", "NaT", pd.NaT, np.nan, 20241231])
def test_effect_frame_rejects_an_end_that_is_not_a_date(episodes, end):
    """'' / NaT / NaN gave NaT (every episode compared False: 0 rows), an integer was read
    as nanoseconds since 1970 (0 rows); synth's old parser raised for the first ones."""
    with pytest.raises(ParameterError, match=r"end=.* is not a date \(use YYYY-MM-DD\)"):
        effect_frame(episodes, end=end)


@pytest.mark.parametrize("end", ["2024-12-31", pd.Timestamp("2024-12-31 15:00"),
                                 np.datetime64("2024-12-31")])
def test_effect_frame_accepts_dates_in_any_usual_type(episodes, end):
    frame = effect_frame(episodes, end=end)
    assert len(frame) > 0
    pd.testing.assert_frame_equal(frame, effect_frame(episodes, end="2024-12-31"))


@pytest.mark.parametrize("column", ["birth_year", "start_date"])
def test_effect_frame_names_a_missing_birth_year_or_start_date(episodes, column):
    """birth_year gave pandas' bare 'cannot convert NA to integer'; a missing start_date
    silently dropped the episode. Both are required columns of a validated table."""
    ep = episodes.copy()
    if column == "birth_year":
        ep["birth_year"] = ep["birth_year"].astype("Int64")
        ep.loc[3, "birth_year"] = pd.NA
    else:
        ep.loc[3, "start_date"] = pd.NaT
    first = ep.loc[3, "episode_id"]
    with pytest.raises(ParameterError, match=rf"episodes has 1 missing {column}, first in "
                                             rf"episode_id {first!r}"):
        effect_frame(ep, end="2024-12-31")
