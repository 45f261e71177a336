"""Notes on the models: warnings become sentences by their class, never by their wording."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools import sm_exceptions

from evaluation import errors
from evaluation.reporting.notes import (
    WARNING_KINDS,
    CapturedWarning,
    WarningRecorder,
    mask_small_numbers,
    notes_markdown,
    notes_table,
    sanitise_text,
    warning_kind,
)
from evaluation.reporting.text import phrases

#: Every typed warning of the toolkit and the kind of note it gets.
TYPED = [
    (errors.ConstantCovariateWarning, "constant_covariate"),
    (errors.PropensitySeparationWarning, "separation_propensity"),
    (errors.OutcomeSeparationWarning, "separation_outcome"),
    (errors.SeparationWarning, "separation"),
    (errors.CaseMixTermDroppedWarning, "separation"),
    (errors.PositivityWarning, "positivity"),
    (errors.ExtremeWeightsWarning, "extreme_weights"),
    (errors.BootstrapFailureWarning, "bootstrap_failed"),
    (errors.ShortFollowUpWarning, "follow_up_short"),
    (errors.ConvergenceWarning, "convergence"),
    (errors.BoundaryWarning, "boundary"),
    (errors.SmallGroupWarning, "small_group"),
    (sm_exceptions.ConvergenceWarning, "convergence"),
    (sm_exceptions.PerfectSeparationWarning, "separation"),
    (RuntimeWarning, "numerical"),
    (errors.EvaluationWarning, "other"),
    (UserWarning, "other"),
]


def _note(category, message="a warning", lang="en", threshold=5):
    return notes_table([CapturedWarning("effect", category, message)], lang=lang,
                       threshold=threshold)


def test_every_warning_class_of_the_toolkit_is_mapped():
    typed = {cls for _, cls in vars(errors).items()
             if isinstance(cls, type) and issubclass(cls, errors.EvaluationWarning)}
    assert typed - {errors.EvaluationWarning} <= set(WARNING_KINDS)
    assert {cls for cls, _ in TYPED} >= typed


@pytest.mark.parametrize("category, kind", TYPED, ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_each_warning_class_gets_the_sentence_of_its_kind(category, kind, lang):
    assert warning_kind(category) == kind
    notes = _note(category, "arm 'XYZ': something odd", lang=lang)
    assert notes[["section", "kind"]].values.tolist() == [["effect", kind]]
    sentence = phrases("notes", "kinds", lang)[kind]
    if kind == "other":
        assert notes["note"].iloc[0] == sentence.format(text="arm 'XYZ': something odd")
    else:
        assert notes["note"].iloc[0] == sentence


@pytest.mark.parametrize("message", [
    "logistic outcome model: fitted probabilities numerically 0 or 1 (separation)",
    "propensity model: fitted probabilities numerically 0 or 1",
    "positivity: 3 row(s) with a propensity score below 0.01",
    "model did not converge in 50 iterations",
])
def test_a_plain_user_warning_that_reads_like_a_known_kind_is_other(message):
    """The note comes from the class: the English wording is never matched."""
    notes = _note(UserWarning, message)
    assert notes["kind"].tolist() == ["other"]
    assert notes["note"].iloc[0].startswith("Model warning (original text): ")


def test_a_subclass_takes_the_kind_of_its_nearest_mapped_base():
    class NarrowPositivity(errors.PositivityWarning):
        pass

    class NarrowRuntime(RuntimeWarning):
        pass

    assert warning_kind(NarrowPositivity) == "positivity"
    assert warning_kind(NarrowRuntime) == "numerical"


def test_a_constant_covariate_note_names_variable_and_placement_group_only():
    """The detail comes from the warning's attributes (arm, covariates), not from its text."""
    message = ("outcome model of arm 'HVB': covariate column(s) ['age_13', 'unaccompanied'] are "
               "constant within the arm")

    def note(arm, text, lang="en"):
        rec = WarningRecorder()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rec.capture("effect"):
                warnings.warn(errors.ConstantCovariateWarning(
                    text, arm=arm, covariates=("age_13", "unaccompanied")))
        return notes_table(rec.records, lang=lang, threshold=5)["note"].iloc[0]

    assert note("HVB", message, "sv").endswith(" Variabel: 13 år, ensamkommande; grupp: HVB.")
    assert note("HVB", "wording changed").endswith(" Variable: aged 13, unaccompanied; group: HVB.")
    plain = phrases("notes", "kinds", "en")["constant_covariate"]
    assert note("C123", message) == plain            # not a placement type: not named
    assert _note(errors.ConstantCovariateWarning, message)["note"].iloc[0] == plain  # no attrs


@pytest.mark.parametrize("text, threshold, expected", [
    ("3 row(s) of 120", 5, "<5 row(s) of 120"),
    ("n = 4, total 1,234", 5, "n = <5, total 1,234"),
    ("0 rows; 5 rows", 5, "0 rows; 5 rows"),  # zeros and counts at the threshold are shown
    ("7 rows", 10, "<10 rows"),
    ("truncate=0.01 (minimum 2e-4, 3.4e-13), 22% of weight", 5,
     "truncate=0.01 (minimum 2e-4, 3.4e-13), 22% of weight"),
    ("covariate age_13 in arm 'HVB'", 5, "covariate age_13 in arm 'HVB'"),
])
def test_small_numbers_in_warning_texts_are_masked(text, threshold, expected):
    assert mask_small_numbers(text, threshold) == expected


def test_identifiers_and_pseudonyms_are_replaced_in_quoted_texts():
    pseudonym = "ab" * 32
    text = sanitise_text(f"episode E000017 child {pseudonym} case 19991231-1234, 2 rows "
                         "(case 20010101-2222), 0.12345678", {"E000017"}, 5)
    assert text == "episode [id] child [id] case [id], <5 rows (case [id]), 0.12345678"


def test_recorder_records_once_per_outer_call_and_passes_warnings_on():
    rec = WarningRecorder()
    # nested: recorded under the outer section only
    with (pytest.warns(errors.PositivityWarning, match="outer"), rec.capture("effect"),
          rec.capture("costs")):
        warnings.warn("outer", errors.PositivityWarning, stacklevel=1)
    assert rec.records == [CapturedWarning("effect", errors.PositivityWarning, "outer")]


def test_notes_are_distinct_in_section_order_and_listed_by_heading():
    recs = [CapturedWarning("costs", errors.PositivityWarning, "x"),
            CapturedWarning("effect", errors.PositivityWarning, "y"),
            CapturedWarning("effect", errors.PositivityWarning, "z"),
            CapturedWarning("effect", RuntimeWarning, "divide by zero")]
    notes = notes_table(recs, lang="en", threshold=5, sections=("effect", "costs"))
    assert notes[["section", "kind"]].values.tolist() == [
        ["effect", "positivity"], ["effect", "numerical"], ["costs", "positivity"]]
    text = notes_markdown(notes, lang="en", intro="Intro.",
                          headings={"effect": "Effect", "costs": "Costs"})
    lines = text.splitlines()
    assert lines[0] == "Intro." and lines[2].startswith("- **Effect, Costs:** Some placements")
    assert len(lines) == 4
    empty = notes.iloc[:0]
    assert notes_markdown(empty, lang="en", intro="", headings={}) == (
        "The models raised no warnings.")


def test_numpy_runtime_warnings_are_numerical():
    rec = WarningRecorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rec.capture("models"), np.errstate(divide="warn"):
            np.array([1.0]) / np.array([0.0])
    notes = notes_table(rec.records, lang="sv", threshold=5)
    assert notes["kind"].tolist() == ["numerical"]
    assert isinstance(notes, pd.DataFrame)


def test_in_publication_mode_a_quoted_warning_shows_no_whole_number_at_all():
    """A model's own message quotes exact counts that never passed the cell-key gate."""
    message = "model says: 61 rows of arm 'JH', 3 of them odd; weight 22.5%"
    quoted = notes_table([CapturedWarning("effect", UserWarning, message)], lang="en",
                         threshold=5, all_numbers=True)["note"].iloc[0]
    assert "61" not in quoted
    assert "<5" not in quoted
    assert "\\[n\\] rows" in quoted   # Markdown-escaped brackets
    assert "22.5%" in quoted   # decimals are not counts
    exact = notes_table([CapturedWarning("effect", UserWarning, message)], lang="en",
                        threshold=5)["note"].iloc[0]
    assert "61" in exact and "<5" in exact
