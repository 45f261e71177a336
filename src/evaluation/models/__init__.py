"""Models: survival, competing risks, Cox and Fine-Gray regression, multi-state models,
intervention effects, the fair comparison of units and the adjusted cost per avoided
breakdown, each validated against R.

Models read data prepared by :mod:`evaluation.data`; they never import from measures or
reporting, and they take no ``lang``: wording belongs to reporting.
"""

from __future__ import annotations

from evaluation.models.comparison import ComparisonResult, check_separation, risk_standardised
from evaluation.models.competing_risks import (
    CumulativeIncidenceResult,
    GrayTestResult,
    cumulative_incidence,
)
from evaluation.models.cost_effect import CostEffectResult, incremental_cost_effect
from evaluation.models.cox_adjusted import AdjustedSurvivalResult, PHTestResult
from evaluation.models.coxph import CoxResult, cox
from evaluation.models.effects import (
    EffectResult,
    estimate_effect,
)
from evaluation.models.effects_survival import (
    WeightedSurvivalResult,
    weighted_survival,
)
from evaluation.models.finegray import (
    FineGrayResult,
    fine_gray,
)
from evaluation.models.funnel import (
    estimate_overdispersion,
    funnel_limits,
    funnel_plot,
    funnel_table,
)
from evaluation.models.multistate import (
    StateOccupationResult,
    state_occupation,
)
from evaluation.models.survival import KaplanMeierResult, LogRankResult, kaplan_meier

__all__ = [
    "AdjustedSurvivalResult",
    "ComparisonResult",
    "CostEffectResult",
    "CoxResult",
    "CumulativeIncidenceResult",
    "EffectResult",
    "FineGrayResult",
    "GrayTestResult",
    "KaplanMeierResult",
    "LogRankResult",
    "PHTestResult",
    "StateOccupationResult",
    "WeightedSurvivalResult",
    "check_separation",
    "cox",
    "cumulative_incidence",
    "estimate_effect",
    "estimate_overdispersion",
    "fine_gray",
    "funnel_limits",
    "funnel_plot",
    "funnel_table",
    "incremental_cost_effect",
    "kaplan_meier",
    "risk_standardised",
    "state_occupation",
    "weighted_survival",
]
