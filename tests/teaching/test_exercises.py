"""The answer checks and display helpers of :mod:`evaluation.reporting.exercises`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.data import effect_frame, synth
from evaluation.disclosure import DisclosurePolicy
from evaluation.reporting import exercises

WRONG_TYPES = [None, "text", "0,25", "0.25", True, [0.25], (0.1, 0.2), {}, float("nan"),
               np.array([0.25, 0.3]), pd.Series([0.25])]


def _feedback(capsys) -> str:
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1, out
    return out


@pytest.mark.parametrize("answer", [0.25, 0.2504, np.float64(0.2496), np.int64(0) + 0.25])
def test_check_number_says_right_within_the_tolerance(answer, capsys):
    exercises.check_number(answer, 0.25, tolerance=0.001, right="Bra.", hint="Se tabellen.")
    assert _feedback(capsys) == "Rätt! Bra.\n"


@pytest.mark.parametrize("answer", [*WRONG_TYPES, 0.3, -1, 25])
def test_check_number_gives_a_hint_for_a_wrong_or_missing_answer(answer, capsys):
    exercises.check_number(answer, 0.25, tolerance=0.001, right="Bra.", hint="Se tabellen.",
                           share=True)
    out = _feedback(capsys)
    assert "Rätt" not in out and "Ledtråd: Se tabellen." in out


def test_check_number_explains_a_percentage_and_a_number_written_as_text(capsys):
    exercises.check_number(25, 0.25, tolerance=0.001, right="", hint="h", share=True)
    assert "procent" in _feedback(capsys)
    exercises.check_number("0,25", 0.25, tolerance=0.001, right="", hint="h")
    assert "citattecken" in _feedback(capsys)
    exercises.check_number(None, 0.25, tolerance=0.001, right="", hint="h")
    assert "inte svarat" in _feedback(capsys)


@pytest.mark.parametrize("answer", [(0.1, 0.3), [0.1004, 0.2996], np.array([0.1, 0.3])])
def test_check_interval_says_right_for_two_limits(answer, capsys):
    exercises.check_interval(answer, (0.1, 0.3), tolerance=0.001, right="Bra.", hint="h")
    assert _feedback(capsys) == "Rätt! Bra.\n"


@pytest.mark.parametrize("answer", [*WRONG_TYPES, (0.3, 0.1), (0.1, 0.4), ("0.1", "0.3"),
                                    (0.1, None), (0.1, 0.2, 0.3)])
def test_check_interval_gives_a_hint_for_anything_else(answer, capsys):
    exercises.check_interval(answer, (0.1, 0.3), tolerance=0.001, right="Bra.", hint="Se raden.")
    out = _feedback(capsys)
    assert "Rätt" not in out and "Ledtråd: Se raden." in out


@pytest.mark.parametrize("answer", ["B", "b", " B "])
def test_check_choice_ignores_case_and_spaces(answer, capsys):
    exercises.check_choice(answer, "B", options="ABC", right="Bra.", hint="h")
    assert _feedback(capsys) == "Rätt! Bra.\n"


@pytest.mark.parametrize("answer", [*WRONG_TYPES, "A", "D", "", 2])
def test_check_choice_gives_a_hint_for_another_letter_or_type(answer, capsys):
    exercises.check_choice(answer, "B", options="ABC", right="Bra.", hint="Läs igen.")
    out = _feedback(capsys)
    assert "Rätt" not in out and "Ledtråd: Läs igen." in out


@pytest.mark.parametrize("answer", [*WRONG_TYPES, False, "True", 1])
def test_check_choice_with_a_boolean_answer_wants_true_or_false(answer, capsys):
    if answer is True:
        exercises.check_choice(answer, True, right="Bra.", hint="h")
        assert _feedback(capsys) == "Rätt! Bra.\n"
        return
    exercises.check_choice(answer, True, right="Bra.", hint="Jämför.")
    out = _feedback(capsys)
    assert "Rätt" not in out and "Ledtråd: Jämför." in out


@pytest.fixture(scope="module")
def small_frame() -> pd.DataFrame:
    return effect_frame(synth.generate(300, 4, seed=5), horizon=365)


def test_share_table_shows_published_counts_never_one_to_four(small_frame):
    policy = DisclosurePolicy()
    t = exercises.share_table(small_frame, ["municipality_code", "placement_type"],
                              "unplanned_365d", policy)
    assert not t["antal"].isin(["1", "2", "3", "4"]).any()
    shown = t["andel"] != ".."
    assert shown.any() and (~shown).any()   # small groups get no share
    assert t.loc[shown, "andel"].str.endswith(" %").all()


def test_share_table_names_a_missing_column(small_frame):
    from evaluation.errors import ParameterError

    with pytest.raises(ParameterError, match="no column"):
        exercises.share_table(small_frame, "no_such", "unplanned_365d", DisclosurePolicy())


def test_unit_counts_are_published_counts_per_unit(small_frame):
    counts = exercises.unit_counts(small_frame, "municipality_code", "unplanned_365d",
                                   DisclosurePolicy())
    assert list(counts.columns) == ["n", "observed", "children"]
    assert set(counts.index) == set(small_frame["municipality_code"].astype(str))
    assert not counts.isin([1, 2, 3, 4]).any().any()


def test_curve_plot_stops_where_few_remain_at_risk():
    import matplotlib

    matplotlib.use("Agg")
    curve = pd.DataFrame({"time": [1.0, 2.0, 3.0], "estimate": [0.9, 0.8, 0.7],
                          "n_risk": [30, 12, 3]})
    ax = exercises.curve_plot(curve, start=1.0, min_at_risk=10)
    x, y = ax.lines[0].get_data()
    assert list(x) == [0.0, 1.0, 2.0] and list(y) == [1.0, 0.9, 0.8]
