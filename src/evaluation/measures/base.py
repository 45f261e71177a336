"""What every outcome measure shares: the list of measures, the result columns and conventions.

Outcome measures on entry cohorts (DOMAIN.md section 4), with confidence intervals.

Every measure returns a tidy DataFrame with one row per group and the columns
``measure``, the group columns, ``numerator``, ``denominator``, ``value``, ``ci_lower``
and ``ci_upper``. Shares use the Wilson score interval; rates use the exact (Garwood)
Poisson interval; mean ratings use the Student t interval. Measures read at several points
add one key column before ``numerator`` (``horizon_days``, ``quantile`` or ``theme``). The
unit of analysis is the placement episode unless a measure says otherwise (NI 062 counts
children; child_heard_share and child_rated_themes count follow-ups; reviews_on_time counts
due reviews). :data:`MEASURES` lists the measure functions; each is documented in the
``measures`` section of the data dictionary.

The three measures whose unit lies below the child and recurs over time (child_heard_share,
child_rated_themes, reviews_on_time) take ``cluster_col`` (the child pseudonym column of
episodes, normally ``"child_id"``): the value is unchanged, the interval uses the effective
sample size from the design effect of children as clusters (:func:`design_effect`, Korn &
Graubard 1998), and ``design_effect`` and ``n_effective`` are appended to the output.

Conventions shared by all measures
----------------------------------
* Period bounds are inclusive dates: an episode "starts in the window" when
  ``period_start <= start_date <= period_end``.
* Age is known only through ``birth_year``, so the age at a date is
  ``date.year - birth_year`` (the age reached during that calendar year). This is an
  approximation of at most one year; it is what the register variables allow.
* ``group_cols`` may name any column of the episodes table, and ``"age_group"``, which is
  derived with :func:`age_group` when the table has no such column (from the age at entry;
  at the ending for :func:`re_referral_12m`, at the census date for
  :func:`long_term_stability`, at the follow-up or due date for the follow-up measures).
* "12 months after" a date is the calendar offset ``date + pd.DateOffset(months=12)``.

Modules
-------
* :mod:`~evaluation.measures.intervals`: Wilson, Poisson and design-effect intervals and the
  helpers that turn counted units into the tidy result;
* :mod:`~evaluation.measures.stability`: placement stability, NI 062 and NI 063;
* :mod:`~evaluation.measures.episode`: the other measures counted per episode (permanency,
  re-entry, re-referral, planned endings, goal attainment, breakdown risk, length of stay);
* :mod:`~evaluation.measures.followup`: measures counted per follow-up or due review, with
  design effects.
"""

from __future__ import annotations

import numpy as np

from evaluation.docstrings import shared_doc
from evaluation.errors import ParameterError

__all__ = ["MEASURES", "RESULT_COLUMNS", "positive_int"]

#: Names of the outcome-measure functions, in the order of DOMAIN.md section 4. Each has an
#: entry in the ``measures`` section of the data dictionary (a test checks both ways).
MEASURES = (
    "breakdown_risk",
    "placement_stability",
    "three_or_more_placements",
    "long_term_stability",
    "exit_to_permanency_12m",
    "re_entry_12m",
    "re_referral_12m",
    "goal_attainment_share",
    "planned_ending_share",
    "child_heard_share",
    "child_rated_themes",
    "reviews_on_time",
    "length_of_stay",
)

RESULT_COLUMNS = ["numerator", "denominator", "value", "ci_lower", "ci_upper"]


def positive_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


#: Parameter descriptions shared by the measures' docstrings (``%(name)s`` lines, filled in
#: by :func:`evaluation.docstrings.shared_doc`).
PARAMETER_DOCS: dict[str, str] = {
    'alpha': 'alpha : float, default 0.05\n    One minus the confidence level.',
    'group_cols': 'group_cols : list of str, optional\n    Columns to group by (``"age_group"`` from the age at entry).',
    'data_end': 'data_end : date-like\n    Last date covered by the data; must not precede ``period_end``.',
}

#: Decorator of the measures: fills the shared parameter descriptions in.
measure_doc = shared_doc(PARAMETER_DOCS)
