"""The analysis frame for effect estimation: one row per placement episode.

:func:`effect_frame` turns a validated ``episodes`` table (real municipal data or the
synthetic tables of :mod:`evaluation.data.synth`) into the frame that the effect estimators of
:mod:`evaluation.models.effects` and :mod:`evaluation.models.effects_survival` take:

* **one row per episode** (first episodes and re-entries; a child's re-entry is a second row,
  so ``child_id`` is the cluster) that started at least ``h`` days before the end of the data,
  so that its outcome is observed;
* **the treatment** ``placement_type`` (the first placement of the episode);
* **the outcome within h days**: ``unplanned_<h>d`` is 1 if the episode ended unplanned
  (breakdown or absconding) less than ``h`` days after it started;
* **the confounders** as 0/1 columns ready for models (age bands, sex, problems, behaviour,
  care-plan goal, unaccompanied, LVU legal basis). :data:`EFFECT_COVARIATES` is the
  adjustment set of a two-arm comparison against family homes, whose bias and coverage
  ``benchmarks/simulate_effects.py`` checks on the synthetic data.

**Costs** are not part of this frame: the outcomes report
(:meth:`evaluation.reporting.outcomes.OutcomeReport.effect_frame`) adds ``cost_<h>d``, the cost of
the first ``h`` days of each episode, from :func:`evaluation.measures.costs.episode_costs`.

Who uses it: researchers estimating the effect of placement type on unplanned endings, the
outcomes-and-effects report (:mod:`evaluation.reporting.outcomes`, on real data), the teaching
case (:mod:`evaluation.reporting.teaching`) and the coverage simulation. On synthetic data the frame is
exactly the population whose true effects ``truth["placement_effects"]`` states.

The module depends only on the episodes table, not on the generator (which never imports it
either): this is the one address of :func:`effect_frame` and :data:`EFFECT_COVARIATES`.

Examples
--------
>>> from evaluation.data import synth
>>> from evaluation.data.analysis_frame import EFFECT_COVARIATES, effect_frame
>>> frame = effect_frame(synth.generate(n_children=300, n_municipalities=4, seed=1))
>>> set(EFFECT_COVARIATES) <= set(frame.columns), "unplanned_365d" in frame
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd

from evaluation.checks import require_columns
from evaluation.errors import ParameterError

__all__ = ["EFFECT_COVARIATES", "effect_frame"]

#: Columns of :func:`effect_frame` that adjust for the confounders of placement type
#: (:data:`evaluation.data.synth.EFFECT_CONFOUNDERS` in the synthetic data) in a two-arm
#: analysis (X vs FH): age bands with 13 on its own (observed age mixes children either side
#: of 13), behaviour and its interaction with age 13+ (how placement is chosen), the problems
#: and care-plan goal (LONGTERM and CUSTODY_TRANSFER merged: custody transfer is a goal of
#: young children, almost never in HVB, so its own column separates the propensity model).
#: ``benchmarks/simulate_effects.py`` checks bias and coverage with exactly this list.
EFFECT_COVARIATES = ["age_13", "age_14_15", "age_16", "age_17", "age_18", "age_19_20",
                     "behaviour", "teen_behaviour", "unaccompanied", "problem_criminality",
                     "problem_child_substance", "problem_child_mental", "goal_REUNIFICATION",
                     "goal_longterm_or_custody"]


class HasTables(Protocol):
    """Anything with ``tables["episodes"]`` (and optionally a ``truth``), e.g.
    :class:`evaluation.data.synth.SynthData`."""

    tables: Mapping[str, pd.DataFrame]


_AGE_BANDS = (("age_13", 13, 13), ("age_14_15", 14, 15), ("age_16", 16, 16),
              ("age_17", 17, 17), ("age_18", 18, 18), ("age_19_20", 19, 20))
_GOALS = ("REUNIFICATION", "LONGTERM", "CUSTODY_TRANSFER")
_NEEDED = ["episode_id", "child_id", "municipality_code", "placement_type", "start_date",
           "end_date", "planned_ending", "birth_year", "sex", "unaccompanied", "care_plan_goal",
           "legal_basis", "problem_criminality", "problem_child_substance",
           "problem_child_mental"]


def _end_date(end: str) -> pd.Timestamp:
    """Midnight of the day ``end`` (the end of the observation window).

    Numbers (read by pandas as nanoseconds since 1970) and empty or missing values (NaT,
    which would silently give an empty frame) are not dates.
    """
    try:
        if isinstance(end, (bool, int, float, np.number)):
            raise TypeError("a number is not a date")
        ts = pd.Timestamp(end)
        if pd.isna(ts):
            raise ValueError("missing date")
        return pd.Timestamp(ts.date())
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"end={end!r} is not a date (use YYYY-MM-DD).") from exc


def effect_frame(data: HasTables | pd.DataFrame, horizon: int = 365,
                 end: str | None = None) -> pd.DataFrame:
    """One row per episode with ``horizon`` days of follow-up: treatment, outcome, confounders.

    On synthetic data this is the frame whose true placement-type effects
    ``truth["placement_effects"]`` states (for ``horizon`` 365 or 730).

    Parameters
    ----------
    data : SynthData or DataFrame
        A validated ``episodes`` table (then ``end`` is needed), or the output of
        :func:`evaluation.data.synth.generate` (anything with ``tables["episodes"]``; ``end``
        then defaults to its truth's ``generated.end``).
    horizon : int, default 365
        Days. Episodes enter if ``start_date`` is at least ``horizon`` days before the end of
        the observation window, so the outcome is observed for every row.
    end : str, optional
        End of the observation window (ISO date); default the ``generated.end`` of the truth
        of synthetic data.

    Returns
    -------
    DataFrame
        One row per episode (first episodes and re-entries), in the order of ``data``:

        * ``episode_id``, ``child_id`` (pseudonym; a child's re-entry is a second row, so
          use it as ``cluster_col``), ``municipality_code``, ``placement_type`` (the
          treatment), ``care_plan_goal``, ``legal_basis`` (strings);
        * ``unplanned_<horizon>d``: 1 if the episode ended unplanned (``planned_ending``
          false) with ``end_date - start_date < horizon`` days, else 0 (the outcome);
        * ``age_at_start`` (start year minus birth year) and 0/1 floats ready for models:
          ``age_13``, ``age_14_15``, ``age_16``, ``age_17``, ``age_18``, ``age_19_20``
          (reference 0-12), ``age_13plus``, ``male``, ``unaccompanied``,
          ``problem_criminality``, ``problem_child_substance``, ``problem_child_mental``,
          ``behaviour`` (criminality or child substance use), ``teen_behaviour``
          (``age_13plus * behaviour``), ``goal_REUNIFICATION``, ``goal_LONGTERM``,
          ``goal_CUSTODY_TRANSFER`` (reference INDEPENDENT or TREATMENT), their sum
          ``goal_longterm_or_custody`` and ``lvu_behaviour``
          (legal basis LVU3, LVU23 or LVU6).

        In the synthetic data the confounders of placement type are
        :data:`evaluation.data.synth.EFFECT_CONFOUNDERS` (age at start with 13 as its own
        category, criminality, child substance use, child mental illness, unaccompanied,
        care plan goal); municipality is prognostic, not a confounder.
        :data:`EFFECT_COVARIATES` adjusts for them.

    Raises
    ------
    ParameterError
        If ``horizon`` is not a positive integer, ``end`` is missing or not a date, ``data``
        is neither an episodes table nor has ``tables["episodes"]``, the episodes lack a
        column, or an episode has no ``start_date`` or ``birth_year``.

    Notes
    -----
    Missing problem flags and ``unaccompanied`` count as 0; an ended episode with a missing
    ``planned_ending`` counts as planned (outcome 0). Ongoing episodes (no ``end_date``) have
    outcome 0: they entered the frame only if they have run at least ``horizon`` days.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> from evaluation.data.analysis_frame import effect_frame
    >>> data = synth.generate(n_children=400, n_municipalities=5, seed=2)
    >>> frame = effect_frame(data)
    >>> frame[["placement_type", "unplanned_365d", "age_at_start"]].dtypes.astype(str).tolist()
    ['object', 'int64', 'int64']
    >>> bool((frame["unplanned_365d"] == 1).any()), "birth_year" in frame
    (True, False)
    >>> len(effect_frame(data.tables["episodes"], horizon=730, end="2024-12-31")) < len(frame)
    True
    """
    if isinstance(data, pd.DataFrame):
        ep = data
    else:
        tables = getattr(data, "tables", None)
        if not isinstance(tables, Mapping) or "episodes" not in tables:
            raise ParameterError(f"data must be an episodes DataFrame or synthetic data with "
                                 f"tables['episodes'], got {type(data).__name__}.")
        ep = tables["episodes"]
        truth = getattr(data, "truth", None)
        if end is None and isinstance(truth, Mapping):
            end = truth.get("generated", {}).get("end")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParameterError(f"horizon={horizon!r} must be a positive integer (days).")
    if end is None:
        raise ParameterError("end (the end of the observation window) is needed when data is "
                             "an episodes table.")
    d1 = _end_date(end)
    require_columns(ep, _NEEDED, table="episodes")
    for col in ("start_date", "birth_year"):   # required: no row may silently drop out
        gone = ep[col].isna().to_numpy()
        if gone.any():
            raise ParameterError(
                f"episodes has {int(gone.sum())} missing {col}, first in episode_id "
                f"{ep['episode_id'].to_numpy()[gone][0]!r}; effect_frame needs both start_date "
                "and birth_year (validate the episodes, or drop those rows knowingly).")
    ep = ep[(d1 - ep["start_date"]).dt.days >= horizon]
    dur = (ep["end_date"] - ep["start_date"]).dt.days
    unplanned = ep["end_date"].notna() & ~ep["planned_ending"].fillna(True).astype(bool)
    age = (ep["start_date"].dt.year - ep["birth_year"]).astype("int64")

    def flag(x: pd.Series) -> np.ndarray:
        return np.asarray(x, dtype=bool).astype(float)

    out = pd.DataFrame({
        "episode_id": ep["episode_id"].astype(str).to_numpy(),
        "child_id": ep["child_id"].astype(str).to_numpy(),
        "municipality_code": ep["municipality_code"].astype(str).to_numpy(),
        "placement_type": ep["placement_type"].astype(str).to_numpy(dtype=object),
        "care_plan_goal": ep["care_plan_goal"].astype(str).to_numpy(dtype=object),
        "legal_basis": ep["legal_basis"].astype(str).to_numpy(dtype=object),
        f"unplanned_{horizon}d": (unplanned & (dur < horizon)).to_numpy().astype("int64"),
        "age_at_start": age.to_numpy(),
    })
    for name, lo, hi in _AGE_BANDS:
        out[name] = flag(age.between(lo, hi))
    out["age_13plus"] = flag(age >= 13)
    out["male"] = flag(ep["sex"] == "M")
    for col in ("unaccompanied", "problem_criminality", "problem_child_substance",
                "problem_child_mental"):
        out[col] = flag(ep[col].fillna(False))
    out["behaviour"] = np.maximum(out["problem_criminality"], out["problem_child_substance"])
    out["teen_behaviour"] = out["age_13plus"] * out["behaviour"]
    for g in _GOALS:
        out[f"goal_{g}"] = flag(ep["care_plan_goal"] == g)
    out["goal_longterm_or_custody"] = out["goal_LONGTERM"] + out["goal_CUSTODY_TRANSFER"]
    out["lvu_behaviour"] = flag(ep["legal_basis"].isin(["LVU3", "LVU23", "LVU6"]))
    return out
