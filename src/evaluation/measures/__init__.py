"""Measures: the outcome measures on entry cohorts and the cost measures.

Measures use :mod:`evaluation.data` and :mod:`evaluation.models`; reporting uses them.
"""

from __future__ import annotations

from evaluation.measures.costs import (
    CostEffectResult,
    care_costs,
    cost_per_outcome,
    episode_costs,
    incremental_cost_effect,
)
from evaluation.measures.episode import (
    MEASURES,
    breakdown_risk,
    child_heard_share,
    child_rated_themes,
    design_effect,
    exit_to_permanency_12m,
    goal_attainment_share,
    length_of_stay,
    long_term_stability,
    placement_stability,
    planned_ending_share,
    poisson_rate_interval,
    re_entry_12m,
    re_referral_12m,
    reviews_on_time,
    three_or_more_placements,
    wilson_interval,
)

__all__ = [
    "MEASURES",
    "CostEffectResult",
    "breakdown_risk",
    "care_costs",
    "child_heard_share",
    "child_rated_themes",
    "cost_per_outcome",
    "design_effect",
    "episode_costs",
    "exit_to_permanency_12m",
    "goal_attainment_share",
    "incremental_cost_effect",
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
