"""Synthetic data with known true effects, for tests, demos and teaching.

:func:`generate` simulates children placed in out-of-home care in a set of municipalities and
returns the four tables of the data dictionary (episodes, placements, followups, referrals),
already pseudonymised, together with a ``truth`` dictionary that states every true parameter.
:func:`write` writes the tables as CSV files plus ``truth.json`` and, on request, a deliberately
messy *raw* extract (identity numbers, Swedish labels, cp1252, ``;``) for testing the reading,
validation and pseudonymisation steps.

The data-generating model
-------------------------
* Episode ends are competing risks in continuous time (days). The unplanned ending (breakdown
  or absconding) has a cause-specific Weibull proportional hazard with baseline cumulative
  hazard ``H0(t) = (t / scale) ** shape`` (shape < 1: breakdowns concentrated early) and
  log-hazard ratios for placement type, age 13+ at start, behaviour problems and a normal
  municipality random effect. Planned endings have their own Weibull hazard. Age limits
  (18 or 21 years) end episodes deterministically (planned, ``AGE_LIMIT``); episodes still
  running at ``end`` are administratively censored (empty ``end_date`` and ``end_reason``).
* Confounding is built in: older children with criminality or substance use are sent to HVB
  and SiS much more often *and* break down more, so the naive HVB-versus-family-home hazard
  ratio overstates the true one; adjusting for the true confounders recovers it.
* Age at start is defined as in the dictionary rule ``age_at_start``: start year minus birth
  year. The true age effect uses exactly this definition, so it is recoverable from the
  pseudonymised tables.

True intervention effects
-------------------------
``truth["placement_effects"]`` states the true causal effects of placement type (HVB and SIS
versus family home FH) on the binary outcome "unplanned ending within 365 (or 730) days",
analysed in the frame returned by :func:`evaluation.data.analysis_frame.effect_frame` (one row
per episode with that much possible follow-up): potential risks under each placement type,
ATE (all episodes, and the episodes placed in FH or the compared type) and ATT (episodes
placed in HVB or SIS), as risk differences and ratios. Each episode's risk is computed
exactly from the model (numerical integration of the competing-risks cumulative incidence
given its covariates and municipality effect, truncated by the age limit). The *population*
values, against which bias and coverage should be judged, average these risks over an
independent reference sample of ``TRUTH_REFERENCE_CHILDREN`` children from the same
generator (same municipalities); the *sample* values average them over the generated
episodes. ``EFFECT_CONFOUNDERS`` lists the covariates an adjusted analysis needs.
``effect_frame`` and ``EFFECT_COVARIATES`` live in :mod:`evaluation.data.analysis_frame` (they
apply to real data too).

Modules
-------
* :mod:`~evaluation.data.synth.generator`: :func:`generate` and :class:`SynthData` (the
  simulation of children, episodes, placements, follow-ups and referrals);
* :mod:`~evaluation.data.synth.truth`: the true parameters, the exact true effects and the
  ``truth`` dictionary;
* :mod:`~evaluation.data.synth.raw`: :func:`write` (CSV files, ``truth.json`` and the messy
  raw extract);
* :mod:`~evaluation.data.synth.days`: calendar helpers (dates as day numbers).

Identity numbers and the demo key
---------------------------------
Synthetic identity numbers come from :func:`evaluation.data.pseudonymise.synthetic_personnummer`;
``child_id`` is :func:`evaluation.data.pseudonymise.pseudonymise_id` of that number under a
**public demo key** derived from the seed (:func:`demo_key`). THAT KEY IS PUBLIC AND MUST ONLY
EVER BE USED FOR SYNTHETIC DATA: never pseudonymise real identity numbers with it.

Calibration follows ``DOMAIN.md`` section 3 (family-home share ~70 %, boys ~55 %, >55 % aged
15+, SoL ~70 %, ~1 in 4 episodes ending in breakdown, ~2/3 of breakdowns in the first year,
~22 % of youths 13+ re-referred within a year of ending). The calibration values marked L in
that brief are sensible defaults, not verified facts.

Examples
--------
>>> from evaluation.data import synth
>>> data = synth.generate(n_children=200, n_municipalities=3, seed=1)
>>> sorted(data.tables)
['episodes', 'followups', 'placements', 'referrals']
>>> data.truth["breakdown_model"]["log_hr"]["placement_type[HVB]"]
0.4
>>> effect = data.truth["placement_effects"]["population"]["values"]["365"]
>>> sorted(effect["contrasts"]["HVB vs FH"])
['ATE', 'ATE_FH_or_HVB', 'ATT']
"""

from __future__ import annotations

from evaluation.data.synth.generator import SynthData, demo_key, generate
from evaluation.data.synth.raw import write
from evaluation.data.synth.truth import (
    BREAKDOWN_SCALE_DAYS,
    BREAKDOWN_SHAPE,
    EFFECT_ARMS,
    EFFECT_CONFOUNDERS,
    EFFECT_HORIZONS,
    FAMILY_HOME_TYPES,
    MUNICIPALITY_SD,
    PLACEMENT_TYPES,
    PLANNED_SCALE_DAYS,
    PLANNED_SHAPE,
    TRUE_BREAKDOWN_LOG_HR,
    TRUE_PLANNED_LOG_HR,
    TRUTH_REFERENCE_CHILDREN,
)

__all__ = [
    "BREAKDOWN_SCALE_DAYS",
    "BREAKDOWN_SHAPE",
    "EFFECT_ARMS",
    "EFFECT_CONFOUNDERS",
    "EFFECT_HORIZONS",
    "FAMILY_HOME_TYPES",
    "MUNICIPALITY_SD",
    "PLACEMENT_TYPES",
    "PLANNED_SCALE_DAYS",
    "PLANNED_SHAPE",
    "TRUE_BREAKDOWN_LOG_HR",
    "TRUE_PLANNED_LOG_HR",
    "TRUTH_REFERENCE_CHILDREN",
    "SynthData",
    "demo_key",
    "generate",
    "write",
]
