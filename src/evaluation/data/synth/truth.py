"""The truth of the synthetic data: true parameters, exact risks and ``truth.json``.

* the true parameters of the data-generating model (module constants, so that tests and
  teaching material can refer to them): the cause-specific Weibull hazards of breakdown and of
  planned endings with their log-hazard ratios, the municipality SD;
* the true causal effects of placement type on "unplanned ending within h days"
  (:func:`potential_risks`, :func:`effect_summary`, :func:`effects_truth`), computed exactly
  per episode by numerical integration of the cumulative incidence;
* :func:`model_truth`, the rest of the ``truth`` dictionary (definitions, models, realised
  shares) that :func:`evaluation.data.synth.write` writes as ``truth.json``.

Nothing here draws random numbers: :mod:`evaluation.data.synth.generator` simulates, this
module states what the simulation's parameters imply.

Examples
--------
>>> import numpy as np
>>> from evaluation.data.synth.truth import cif_unplanned
>>> risk = cif_unplanned(np.zeros(2), np.zeros(2), np.array([0.0, 365.0]))
>>> float(risk[0]), bool(0 < risk[1] < 1)
(0.0, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.synth.days import add_years

__all__ = ["BREAKDOWN_SCALE_DAYS", "BREAKDOWN_SHAPE", "EFFECT_ARMS", "EFFECT_CONFOUNDERS",
           "EFFECT_HORIZONS", "FAMILY_HOME_TYPES", "MUNICIPALITY_SD", "PLACEMENT_TYPES",
           "PLANNED_SCALE_DAYS", "PLANNED_SHAPE", "PROBLEMS", "REFERENCE_STREAM",
           "TRUE_BREAKDOWN_LOG_HR", "TRUE_PLANNED_LOG_HR", "TRUTH_REFERENCE_CHILDREN",
           "cif_unplanned", "effect_summary", "effects_truth", "episode_risks",
           "linear_predictor", "model_truth", "potential_risks"]

# --------------------------------------------------------------------------------------------
# True parameters (module constants so that tests and teaching material can refer to them)
# --------------------------------------------------------------------------------------------

PLACEMENT_TYPES = ("FH", "NH", "FFH", "JH", "HVB", "SIS", "SB", "EGET")
FAMILY_HOME_TYPES = ("FH", "NH", "FFH", "JH")

#: True log-hazard ratios of the breakdown (unplanned ending) cause-specific hazard.
TRUE_BREAKDOWN_LOG_HR: dict[str, float] = {
    "placement_type[NH]": -0.2,
    "placement_type[FFH]": 0.1,
    "placement_type[JH]": 0.3,
    "placement_type[HVB]": 0.4,
    "placement_type[SIS]": 0.6,
    "placement_type[SB]": 0.2,
    "placement_type[EGET]": 0.3,
    "age_13plus": 0.5,
    "problem_criminality": 0.6,
    "problem_child_substance": 0.5,
    "problem_child_mental": 0.2,
}
BREAKDOWN_SHAPE = 0.9
BREAKDOWN_SCALE_DAYS = 4500.0
MUNICIPALITY_SD = 0.3

#: True log-hazard ratios of the planned-ending cause-specific hazard.
TRUE_PLANNED_LOG_HR: dict[str, float] = {
    "placement_type[NH]": -0.2,
    "placement_type[FFH]": 0.0,
    "placement_type[JH]": 1.5,
    "placement_type[HVB]": 0.4,
    "placement_type[SIS]": 0.9,
    "placement_type[SB]": 0.2,
    "placement_type[EGET]": 0.3,
    "age_13plus": 0.3,
    "care_plan_goal[LONGTERM]": -0.8,
    "care_plan_goal[CUSTODY_TRANSFER]": -0.4,
    "care_plan_goal[REUNIFICATION]": 0.2,
}
PLANNED_SHAPE = 1.1
PLANNED_SCALE_DAYS = 1100.0

#: The child-level problem columns (fixed at first entry) of the episodes table.
PROBLEMS = ("problem_neglect", "problem_abuse", "problem_parent_substance",
             "problem_parent_mental", "problem_child_mental", "problem_child_substance",
             "problem_criminality", "problem_school", "problem_family_conflict",
             "problem_honour", "problem_neurodevelopmental")


# --------------------------------------------------------------------------------------------
# True causal effects of placement type on unplanned ending within a horizon
# --------------------------------------------------------------------------------------------

#: Horizons (days) of the binary outcome "unplanned ending within h days" in the truth.
EFFECT_HORIZONS = (365, 730)
#: Placement types whose potential risks the truth states; contrasts are against FH.
EFFECT_ARMS = ("FH", "HVB", "SIS")
#: Children in the independent reference sample from which population truths are computed.
TRUTH_REFERENCE_CHILDREN = 100_000
#: Seed-sequence entropy added to ``seed`` for the reference sample (independent of the data).
REFERENCE_STREAM = 365_730
_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)
_GL_V = ((_GL_X + 1.0) / 2.0) ** 2  # nodes of v = w ** 2, w on [0, 1]
_GL_DV = _GL_W * (_GL_X + 1.0) / 2.0  # weights of w on [0, 1] times dv/dw

#: Columns of :func:`evaluation.data.analysis_frame.effect_frame` that a correct adjustment for
#: placement type needs
#: (:data:`evaluation.data.analysis_frame.EFFECT_COVARIATES` adjusts for them).
EFFECT_CONFOUNDERS = ("age_at_start", "problem_criminality", "problem_child_substance",
                      "problem_child_mental", "unaccompanied", "care_plan_goal")



def cif_unplanned(lp_b: np.ndarray, lp_p: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """P(unplanned ending before ``upper`` days) under the two cause-specific Weibull hazards.

    ``CIF(u) = int_0^u h_b(t) exp(-H_b(t) - H_p(t)) dt``. Substituting ``s = H_b(t)`` and
    ``s = H_b(u) v`` gives ``H_b(u) int_0^1 exp(-H_b(u) v - H_p(u) v ** (k_p / k_b)) dv``
    (``k`` the Weibull shapes). With ``v = w ** 2`` the integrand is smooth on [0, 1] (no
    ``t ** (k_b - 1)`` singularity at 0); 20-point Gauss-Legendre in ``w`` then has absolute
    error < 1e-10 (checked in the tests against adaptive quadrature).
    """
    u = np.maximum(np.asarray(upper, dtype=float), 0.0)
    h_b = np.exp(lp_b) * (u / BREAKDOWN_SCALE_DAYS) ** BREAKDOWN_SHAPE
    h_p = np.exp(lp_p) * (u / PLANNED_SCALE_DAYS) ** PLANNED_SHAPE
    v_p = _GL_V ** (PLANNED_SHAPE / BREAKDOWN_SHAPE)
    out = np.empty(len(u))
    for lo in range(0, len(u), 20_000):
        sl = slice(lo, lo + 20_000)
        f = np.exp(-h_b[sl, None] * _GL_V - h_p[sl, None] * v_p)
        out[sl] = h_b[sl] * (f @ _GL_DV)
    return out


def linear_predictor(coefs: dict[str, float], ptype: str | np.ndarray, goal: np.ndarray,
                      covs: dict[str, np.ndarray]) -> np.ndarray:
    """Log-hazard without the municipality effect, for placement ``ptype`` (one type for
    every row, or one per row)."""
    lp = np.zeros(len(goal))
    for name, b in coefs.items():
        if name.startswith("placement_type["):
            lp += b * (ptype == name[len("placement_type["):-1])
        elif name.startswith("care_plan_goal["):
            lp += b * (goal == name[len("care_plan_goal["):-1])
        else:
            lp += b * covs[name]
    return lp


def potential_risks(ch: dict[str, np.ndarray], ep: dict[str, np.ndarray],
                     muni_eff: np.ndarray) -> dict[tuple[str, int], np.ndarray]:
    """Exact P(unplanned ending within h days | covariates) per episode, for each arm and h.

    Every ending mechanism of the generator is included: the breakdown and planned-ending
    hazards (both depending on placement type) and the deterministic age limit, averaged over
    its random choice (limit 18 with probability 0.7 and 21 otherwise if under 18 at start,
    else 21). Administrative censoring is not an ending: these are risks in the absence of
    censoring.
    """
    covs = {"age_13plus": (ep["age_years"] >= 13).astype(float),
            **{k: ch[k].astype(float) for k in PROBLEMS}}
    goal = ep["care_plan_goal"]
    start = ep["start_day"]
    lims = [np.maximum(add_years(ch["birth"], np.full(len(start), a)) - 1 - start, 0)
            .astype(float) for a in (18, 21)]
    p18 = np.where(ep["age_cont"] >= 18, 0.0, 0.7)
    out: dict[tuple[str, int], np.ndarray] = {}
    for arm in EFFECT_ARMS:
        lp_b = linear_predictor(TRUE_BREAKDOWN_LOG_HR, arm, goal, covs) + muni_eff
        lp_p = linear_predictor(TRUE_PLANNED_LOG_HR, arm, goal, covs)
        for h in EFFECT_HORIZONS:
            u18, u21 = (np.minimum(float(h), lim) for lim in lims)
            risk = cif_unplanned(lp_b, lp_p, u21)
            near = (u18 < u21) & (p18 > 0)  # the limit 18 can end the episode before h
            risk[near] = ((1 - p18[near]) * risk[near]
                          + p18[near] * cif_unplanned(lp_b[near], lp_p[near], u18[near]))
            out[arm, h] = risk
    return out


def episode_risks(ch: dict[str, np.ndarray], ch_muni: np.ndarray, ep1: dict[str, np.ndarray],
                   ep2: dict[str, np.ndarray], ri: np.ndarray, meffects: np.ndarray,
                   d1: int) -> tuple[dict[tuple[str, int], np.ndarray], np.ndarray, np.ndarray]:
    """Potential risks, placement type and start day of every episode that can enter a frame."""
    cidx = np.concatenate([np.arange(len(ch["birth"])), ri])
    keys = ("start_day", "age_years", "age_cont", "care_plan_goal", "placement_type")
    ep = {k: np.concatenate([ep1[k], ep2[k]]) for k in keys}
    keep = ep["start_day"] <= d1 - min(EFFECT_HORIZONS)
    cidx = cidx[keep]
    ep = {k: v[keep] for k, v in ep.items()}
    chk = {k: ch[k][cidx] for k in ("birth", *PROBLEMS)}
    risks = potential_risks(chk, ep, meffects[ch_muni[cidx]])
    return risks, ep["placement_type"], ep["start_day"]


def effect_summary(risks: dict[tuple[str, int], np.ndarray], ptype: np.ndarray,
                    start_day: np.ndarray, d1: int, monte_carlo: bool = False) -> dict[str, Any]:
    """Potential risks, ATE and ATT (risk difference and ratio) per horizon.

    With ``monte_carlo`` (reference sample), also the Monte Carlo SE of each risk difference.
    """
    out: dict[str, Any] = {}
    for h in EFFECT_HORIZONS:
        frame = start_day <= d1 - h
        r = {a: risks[a, h][frame] for a in EFFECT_ARMS}
        pt = ptype[frame]
        contrasts: dict[str, Any] = {}
        for arm in EFFECT_ARMS[1:]:
            pops = {"ATE": np.ones(len(pt), dtype=bool),
                    "ATE_FH_or_" + arm: np.isin(pt, ("FH", arm)),
                    "ATT": pt == arm}
            c: dict[str, Any] = {}
            for est, m in pops.items():
                if not m.any():  # e.g. no SIS episode in a tiny sample
                    c[est] = {"risk_treated": None, "risk_control": None,
                              "risk_difference": None, "risk_ratio": None, "n_episodes": 0}
                    continue
                r1, r0 = r[arm][m], r["FH"][m]
                diff = r1 - r0
                c[est] = {
                    "risk_treated": float(r1.mean()), "risk_control": float(r0.mean()),
                    "risk_difference": float(diff.mean()),
                    "risk_ratio": float(r1.mean() / r0.mean()),
                    "n_episodes": int(m.sum()),
                }
                if monte_carlo:
                    c[est]["mc_se_risk_difference"] = float(diff.std(ddof=1) / np.sqrt(m.sum()))
            contrasts[f"{arm} vs FH"] = c
        out[str(h)] = {"potential_risk": {a: float(v.mean()) if len(v) else None
                                          for a, v in r.items()},
                       "n_episodes": int(frame.sum()), "contrasts": contrasts}
    return out


def effects_truth(population: dict[str, Any], sample: dict[str, Any],
                   end: str) -> dict[str, Any]:
    return {
        "outcome": "unplanned ending (breakdown or absconding: planned_ending false) with "
                   "end_date - start_date < h days, h in horizons; binary, fully observed for "
                   "episodes in the analysis frame",
        "horizons_days": list(EFFECT_HORIZONS),
        # The old address is kept in this text so that truth.json stays byte-identical
        # (effect_frame lives in evaluation.data.analysis_frame).
        "analysis_frame": f"evaluation.data.analysis_frame.effect_frame(data, horizon=h): every episode "
                          f"(first episodes and re-entries) with start_date at least h days "
                          f"before {end}",
        "treatment": "placement_type at start (first placement); contrasts against FH",
        "estimands": {
            "potential_risk": "mean over the frame population of P(Y=1 | covariates, "
                              "placement type set to X)",
            "ATE": "average treatment effect over all episodes of the frame population "
                   "(all placement types)",
            "ATE_FH_or_X": "average effect over the episodes actually placed in FH or X "
                           "(the population of a two-arm analysis of X vs FH)",
            "ATT": "average effect among episodes actually placed in X",
            "risk_difference": "mean risk under X minus mean risk under FH",
            "risk_ratio": "mean risk under X divided by mean risk under FH",
        },
        "computation": "exact per-episode risks given covariates and municipality effect: "
                       "numerical integration (Gauss-Legendre) of the cumulative incidence of "
                       "unplanned ending under the cause-specific Weibull breakdown and "
                       "planned-ending hazards, truncated at the age limit (averaged over its "
                       "random 18/21 choice); administrative censoring plays no part",
        "population": {
            "definition": "expectation over the generator's covariate distribution (children, "
                          "placement choice, re-entries, this seed's municipalities with their "
                          "size weights and effects); judge bias and coverage against these",
            "method": f"average of the exact per-episode risks over an independent reference "
                      f"sample of {TRUTH_REFERENCE_CHILDREN:,} children simulated by the same "
                      f"generator (seed sequence [seed, {REFERENCE_STREAM}]); mc_se_* is its "
                      f"Monte Carlo standard error",
            "values": population,
        },
        "sample": {
            "definition": "average of the exact per-episode risks over this sample's frame "
                          "episodes (conditional on the realised covariates)",
            "values": sample,
        },
        "confounders": list(EFFECT_CONFOUNDERS),
        "adjustment_note": (
            "Placement choice depends on age at start (continuous: 13+ and 16+), behaviour "
            "problems (criminality or child substance use), unaccompanied status and, for SIS, "
            "an LVU legal basis; the 12-month risk depends on placement type, age 13+, "
            "criminality, child substance use, child mental illness, care_plan_goal (planned "
            "hazard), municipality effect and the age limit (age at start). The observed age "
            "(start year minus birth year) equals 13 for some children under 13 in continuous "
            "age, so age 13 needs its own category, and child mental illness and "
            "care_plan_goal (which depend on that continuous age) belong in the adjustment "
            "set. municipality_code is not a confounder (placement choice does not depend on "
            "it) but is prognostic; legal_basis matters only for SIS."),
    }



def model_truth(seed: int, n: int, codes: np.ndarray, effects: np.ndarray, weights: np.ndarray,
           start: str, end: str, tables: dict[str, pd.DataFrame],
           rereferral_share: float) -> dict[str, Any]:
    ep = tables["episodes"]
    ended = ep["end_date"].notna()
    unplanned = ended & ~ep["planned_ending"].fillna(True).astype(bool)
    dur = (ep["end_date"] - ep["start_date"]).dt.days
    age = ep["start_date"].dt.year - ep["birth_year"]
    realised = {
        "n_episodes": len(ep),
        "n_children_placed": int(ep["child_id"].nunique()),
        "n_placements": len(tables["placements"]),
        "n_followups": len(tables["followups"]),
        "n_referrals": len(tables["referrals"]),
        "share_family_home_types": float(ep["placement_type"].isin(FAMILY_HOME_TYPES).mean()),
        "share_boys": float((ep["sex"] == "M").mean()),
        "share_aged_15plus": float((age >= 15).mean()),
        "share_sol": float((ep["legal_basis"] == "SOL").mean()),
        "share_ended": float(ended.mean()),
        "breakdown_share_of_ended": float(unplanned[ended].mean()) if ended.any() else None,
        "share_of_breakdowns_in_first_year":
            float((dur[unplanned] < 365).mean()) if unplanned.any() else None,
        "rereferral_within_12m_share_13plus": None if np.isnan(rereferral_share)
        else rereferral_share,
    }
    placement_ref = "FH (family home)"
    return {
        "description": (
            "Synthetic data with known true effects, generated by evaluation.data.synth. All people, "
            "identity numbers and municipalities' effects are invented. child_id is HMAC-SHA256 "
            "under a PUBLIC demo key (sha256('evaluation-synthetic-demo-key-<seed>')): never "
            "use that key for real data."),
        "generated": {"seed": seed, "n_children": n, "n_municipalities": len(codes),
                      "start": start, "end": end, "generator": "evaluation.data.synth.generate",
                      "demo_key": "sha256('evaluation-synthetic-demo-key-<seed>') - PUBLIC, "
                                  "synthetic data only"},
        "definitions": {
            "age_13plus": "1 if start year minus birth year >= 13 (dictionary rule age_at_start)",
            "problem_*": "the episode's boolean problem columns (child-level, fixed at first entry)",
            "placement_type[X]": "indicator of the episode's placement_type (= first placement) X",
            "care_plan_goal[X]": "indicator of the episode's care_plan_goal X",
            "unplanned ending": "end_reason in BREAKDOWN_CHILD, BREAKDOWN_CARER, "
                                "BREAKDOWN_GUARDIAN, BREAKDOWN_SOCIAL, ABSCONDED "
                                "(planned_ending false)",
            "time": "days from start_date; duration = end_date - start_date",
        },
        "breakdown_model": {
            "type": "cause-specific Weibull proportional hazards",
            "event": "unplanned ending (breakdown or absconded)",
            "time_unit": "days",
            "baseline": "cumulative hazard H0(t) = (t / scale) ** shape",
            "shape": BREAKDOWN_SHAPE,
            "scale": BREAKDOWN_SCALE_DAYS,
            "log_hr": dict(TRUE_BREAKDOWN_LOG_HR),
            "reference": {"placement_type": placement_ref, "age_13plus": "age 0-12 at start",
                          "problems": "problem absent", "municipality": "effect 0"},
            "municipality_sd": MUNICIPALITY_SD,
            "municipality_effects": {str(c): float(e) for c, e in zip(codes, effects)},
            "note": "log-hazard = sum(log_hr * covariate) + municipality effect; no other "
                    "variable affects the breakdown hazard. Confounding: age 13+, criminality "
                    "and child substance use raise both the breakdown hazard and the chance "
                    "of HVB/SIS, so the naive HVB-vs-FH hazard ratio is biased upwards.",
        },
        "planned_model": {
            "type": "cause-specific Weibull proportional hazards",
            "event": "planned ending other than AGE_LIMIT",
            "time_unit": "days",
            "baseline": "cumulative hazard H0(t) = (t / scale) ** shape",
            "shape": PLANNED_SHAPE,
            "scale": PLANNED_SCALE_DAYS,
            "log_hr": dict(TRUE_PLANNED_LOG_HR),
            "reference": {"placement_type": placement_ref, "care_plan_goal": "INDEPENDENT or "
                          "TREATMENT", "age_13plus": "age 0-12 at start"},
        },
        "age_limit": {
            "rule": "episode ends with AGE_LIMIT the day before the 18th or 21st birthday if "
                    "no other ending came first; limit 21 if aged 18+ at start, otherwise 18 "
                    "with probability 0.7 and 21 with probability 0.3",
        },
        "censoring": f"administrative at {end}: ongoing episodes have empty end_date, "
                     "end_reason, planned_ending, destination and aftercare",
        "re_entry": "a second episode (same child_id) for 75 % of first episodes ending with "
                    "destination NEW_PLACEMENT (1-14 days later) and 10 % ending with PARENTS "
                    "(30-720 days later), if it starts before the end of the window",
        "municipalities": {"codes": [str(c) for c in codes],
                           "size_weights": {str(c): float(w) for c, w in zip(codes, weights)}},
        "realised": realised,
    }
