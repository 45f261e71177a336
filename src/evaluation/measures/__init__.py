"""Measures: the outcome measures on entry cohorts and the cost measures.

Measures use :mod:`evaluation.data` and :mod:`evaluation.models`; reporting uses them.

* :mod:`~evaluation.measures.base`: :data:`MEASURES`, the result columns, shared conventions;
* :mod:`~evaluation.measures.intervals`: Wilson, Poisson and design-effect intervals;
* :mod:`~evaluation.measures.stability`: placement stability, NI 062, NI 063;
* :mod:`~evaluation.measures.episode`: the other measures counted per episode;
* :mod:`~evaluation.measures.followup`: measures counted per follow-up or due review;
* :mod:`~evaluation.measures.costs`: care days and costs.
"""

from __future__ import annotations

from evaluation.measures.base import MEASURES
from evaluation.measures.costs import (
    care_costs,
    cost_per_outcome,
    episode_costs,
)
from evaluation.measures.episode import (
    breakdown_risk,
    exit_to_permanency_12m,
    goal_attainment_share,
    length_of_stay,
    planned_ending_share,
    re_entry_12m,
    re_referral_12m,
)
from evaluation.measures.followup import (
    child_heard_share,
    child_rated_themes,
    reviews_on_time,
)
from evaluation.measures.intervals import (
    design_effect,
    poisson_rate_interval,
    wilson_interval,
)
from evaluation.measures.stability import (
    long_term_stability,
    placement_stability,
    three_or_more_placements,
)

__all__ = [
    "MEASURES",
    "breakdown_risk",
    "care_costs",
    "child_heard_share",
    "child_rated_themes",
    "cost_per_outcome",
    "design_effect",
    "episode_costs",
    "exit_to_permanency_12m",
    "goal_attainment_share",
    "length_of_stay",
    "long_term_stability",
    "placement_stability",
    "planned_ending_share",
    "poisson_rate_interval",
    "re_entry_12m",
    "re_referral_12m",
    "reviews_on_time",
    "three_or_more_placements",
    "wilson_interval",
]
