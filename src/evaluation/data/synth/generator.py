"""The synthetic data generator: children, episodes, placements, follow-ups and referrals.

:func:`generate` simulates the four tables of the data dictionary under the model whose
parameters :mod:`evaluation.data.synth.truth` states, pseudonymises the synthetic identity
numbers under the PUBLIC demo key (:func:`demo_key`) and returns them with the ``truth``
dictionary as :class:`SynthData`. The same seed gives the same data, to the byte.

Examples
--------
>>> from evaluation.data.synth.generator import generate
>>> data = generate(n_children=100, n_municipalities=2, seed=3)
>>> list(data.tables["episodes"].columns[:3])
['episode_id', 'child_id', 'municipality_code']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import load_dictionary
from evaluation.data.synth.days import add_years, parse_date, to_date, year_of
from evaluation.data.synth.truth import (
    BREAKDOWN_SCALE_DAYS,
    BREAKDOWN_SHAPE,
    MUNICIPALITY_SD,
    PLACEMENT_TYPES,
    PLANNED_SCALE_DAYS,
    PLANNED_SHAPE,
    PROBLEMS,
    REFERENCE_STREAM,
    TRUE_BREAKDOWN_LOG_HR,
    TRUE_PLANNED_LOG_HR,
    TRUTH_REFERENCE_CHILDREN,
    effect_summary,
    effects_truth,
    episode_risks,
    linear_predictor,
    model_truth,
)
from evaluation.errors import ParameterError

__all__ = ["SynthData", "demo_key", "generate", "municipalities"]

_BREAKDOWN_CODES = ("BREAKDOWN_CHILD", "BREAKDOWN_CARER", "BREAKDOWN_GUARDIAN",
                    "BREAKDOWN_SOCIAL", "ABSCONDED")
# Plausible 4-digit municipality codes: county prefixes of Sweden (SCB) + 2 digits.
_COUNTIES = (1, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 17, 18, 19, 20, 21, 22, 23, 24, 25)
_KNOWN_CODES = ("0180", "1480", "1280", "0380", "0580", "1880", "1281", "2480", "0680", "1980")


def demo_key(seed: int) -> bytes:
    """Return the PUBLIC demo pseudonymisation key of the synthetic data for ``seed``.

    Warning
    -------
    This key is derived from a public string and the seed; anybody can recompute it. It exists
    only so that synthetic data are reproducible. Never use it for real identity numbers.

    Parameters
    ----------
    seed : int
        The generator seed.

    Returns
    -------
    bytes
        32-byte key, ``sha256(b"evaluation-synthetic-demo-key-{seed}")``.
    """
    return hashlib.sha256(f"evaluation-synthetic-demo-key-{seed}".encode()).digest()


@dataclass
class SynthData:
    """Synthetic tables with their known truth.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``episodes``, ``placements``, ``followups`` and ``referrals`` with exactly the
        dictionary's columns (in dictionary order) except ``personnummer``.
    truth : dict
        Every true parameter of the data-generating model, with definitions in words
        (JSON-serialisable; written as ``truth.json``).
    raw_ids : dict of str to str
        Private mapping ``child_id -> personnummer`` (synthetic), used only to write the raw
        extract. Not shown in ``repr``.
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, Any]
    raw_ids: dict[str, str] = field(default_factory=dict, repr=False)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one category index per row of a (n, k) matrix of (unnormalised) weights."""
    p = np.asarray(probs, dtype=float)
    cum = np.cumsum(p, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(p))
    return np.minimum((u[:, None] > cum).sum(axis=1), p.shape[1] - 1)


def _pick(rng: np.random.Generator, codes: tuple[str, ...], probs: np.ndarray) -> np.ndarray:
    return np.asarray(codes, dtype=object)[_choice_rows(rng, probs)]


def _rows(n: int, weights: list[float]) -> np.ndarray:
    return np.tile(np.asarray(weights, dtype=float), (n, 1))



# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def municipalities(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes, size weights and random effects of ``n`` municipalities (the first draws of
    :func:`generate`; ``benchmarks/simulate_effects.py`` fixes them across seeds)."""
    pool = [f"{c:02d}{k:02d}" for c in _COUNTIES for k in range(1, 100)]
    known = [c for c in _KNOWN_CODES][: min(n, len(_KNOWN_CODES))]
    rest = sorted(set(pool) - set(known))
    if n > len(known) + len(rest):
        raise ParameterError(f"n_municipalities must be at most {len(known) + len(rest)}.")
    extra = list(rng.choice(np.array(rest), size=n - len(known), replace=False)) if n > len(known) else []
    codes = np.array(known + extra, dtype=object)
    # Very unequal sizes: the first ("big city") codes get the largest weights.
    size = np.sort(rng.lognormal(mean=0.0, sigma=1.3, size=n))[::-1]
    weights = size / size.sum()
    effects = rng.normal(0.0, MUNICIPALITY_SD, size=n)
    return codes, weights, effects


def _children(rng: np.random.Generator, n: int, start: int, end: int) -> dict[str, np.ndarray]:
    """Child-level attributes and the first episode's start date and age."""
    start_day = rng.integers(start, end + 1, size=n)
    age_w = np.array([3.0, 2.2, 2.0, 1.8, 1.4, 1.3, 1.3, 1.3, 1.3, 1.3, 1.4, 1.6, 2.0, 3.2,
                      4.5, 8.0, 10.5, 10.5, 4.0, 2.0])  # ages 0..19
    age_int = rng.choice(20, size=n, p=age_w / age_w.sum())
    age_days = np.minimum((age_int + rng.random(n)) * 365.25, 20 * 365.25 - 2).astype(int)
    birth = start_day - age_days
    teen = age_int >= 13
    p_boy = np.where(teen, 0.58, 0.5)
    sex = np.where(rng.random(n) < p_boy, "M", "F")
    boy = sex == "M"
    p_unacc = np.where(boy & (age_int >= 15) & (age_int <= 17), 0.22,
                       np.where((age_int >= 13) & (age_int <= 17), 0.03, 0.0))
    unacc = rng.random(n) < p_unacc
    region = np.where(
        unacc,
        _pick(rng, ("SE", "NORDIC", "EUROPE", "OUTSIDE_EUROPE", "UNKNOWN"), _rows(n, [0, 0, 5, 88, 7])),
        _pick(rng, ("SE", "NORDIC", "EUROPE", "OUTSIDE_EUROPE", "UNKNOWN"), _rows(n, [80, 3, 5, 10, 2])),
    )
    young = age_int < 13

    def u(p: np.ndarray) -> np.ndarray:
        return rng.random(n) < p

    prob = {
        "problem_neglect": u(np.where(young, 0.45, 0.15)),
        "problem_abuse": u(np.where(young, 0.25, 0.15)),
        "problem_parent_substance": u(np.where(young, 0.35, 0.12)),
        "problem_parent_mental": u(np.where(young, 0.30, 0.15)),
        "problem_child_mental": u(np.where(young, 0.05, 0.30)),
        "problem_child_substance": u(np.where(young, 0.0, np.where(boy, 0.30, 0.20))),
        "problem_criminality": u(np.where(age_int < 12, 0.01, np.where(boy, 0.40, 0.18))),
        "problem_school": u(np.where(age_int < 6, 0.0, 0.35)),
        "problem_family_conflict": u(np.where(young, 0.15, 0.35)),
        "problem_honour": u(np.where(teen & ~boy, 0.07, 0.01)),
        "problem_neurodevelopmental": u(np.where(age_int < 4, 0.02, 0.2)),
    }
    for k in ("problem_neglect", "problem_parent_substance", "problem_criminality",
              "problem_child_substance"):
        prob[k] &= ~unacc | (rng.random(n) < 0.2)
    return {"start_day": start_day, "birth": birth, "sex": sex, "unaccompanied": unacc,
            "birth_region": region, **prob}


def _episode_attrs(rng: np.random.Generator, ch: dict[str, np.ndarray], start_day: np.ndarray,
                   muni_eff: np.ndarray, end: int) -> dict[str, np.ndarray]:
    """Episode attributes, placement choice (with confounding) and the competing-risk end."""
    n = len(start_day)
    age_days = start_day - ch["birth"]
    age_cont = age_days / 365.25
    age_years = year_of(start_day) - year_of(ch["birth"])  # dictionary definition
    teen = age_cont >= 13
    behav = ch["problem_criminality"] | ch["problem_child_substance"]
    unacc = ch["unaccompanied"]
    young_care = (~teen) & (ch["problem_neglect"] | ch["problem_abuse"]
                            | ch["problem_parent_substance"])

    # legal basis: SOL LVU2 LVU3 LVU23 LVU6
    w = np.where(behav[:, None] & teen[:, None], [58, 2, 30, 5, 5],
                 np.where(young_care[:, None], [55, 36, 0, 1, 8], [86, 10, 1, 0, 3]))
    w = np.where(unacc[:, None], [97, 1, 1, 0, 1], w)
    legal = _pick(rng, ("SOL", "LVU2", "LVU3", "LVU23", "LVU6"), w)
    lvu_behav = np.isin(legal, ("LVU3", "LVU23", "LVU6"))

    # placement type: FH NH FFH JH HVB SIS SB EGET  (confounding: behaviour teens -> HVB/SIS)
    w = np.where(teen[:, None],
                 np.where(behav[:, None], [14, 3, 14, 4, 48, 8, 7, 2],
                          [37, 12, 15, 6, 16, 0, 11, 3]),
                 [50, 20, 14, 14, 2, 0, 0, 0]).astype(float)
    w[:, 5] = np.where(lvu_behav & behav & teen, 35.0, 0.0)
    w[:, 6] = np.where(age_cont >= 16, w[:, 6] * 1.6, 0.0)
    w[:, 7] = np.where(age_cont >= 16, w[:, 7], 0.0)
    w = np.where(unacc[:, None], [22, 20, 5, 3, 30, 0, 20, 0], w)
    ptype_idx = _choice_rows(rng, w)
    ptype = np.asarray(PLACEMENT_TYPES, dtype=object)[ptype_idx]
    provider = _provider(rng, ptype)

    goal = np.where(
        unacc, _pick(rng, ("INDEPENDENT", "LONGTERM"), _rows(n, [60, 40])),
        np.where(~teen, _pick(rng, ("REUNIFICATION", "LONGTERM", "CUSTODY_TRANSFER"),
                              _rows(n, [50, 40, 10])),
                 np.where(behav, _pick(rng, ("TREATMENT", "REUNIFICATION", "INDEPENDENT"),
                                       _rows(n, [60, 30, 10])),
                          _pick(rng, ("REUNIFICATION", "LONGTERM", "INDEPENDENT", "TREATMENT"),
                                _rows(n, [35, 25, 30, 10])))))
    sol = legal == "SOL"
    consent = np.where(
        unacc, "NA",
        np.where(sol, _pick(rng, ("YES", "PARTLY", "NA"), _rows(n, [85, 10, 5])),
                 _pick(rng, ("NO", "PARTLY", "YES", "NA"), _rows(n, [60, 25, 5, 10]))))
    view = np.where(age_cont < 4, "NOT_ASKED",
                    np.where(behav, _pick(rng, ("POSITIVE", "NEUTRAL", "NEGATIVE", "NOT_ASKED"),
                                          _rows(n, [20, 30, 42, 8])),
                             _pick(rng, ("POSITIVE", "NEUTRAL", "NEGATIVE", "NOT_ASKED"),
                                   _rows(n, [42, 30, 18, 10]))))
    cost = _daily_cost(rng, ptype)

    # ---- competing risks (days) -------------------------------------------------------
    covs = {"age_13plus": (age_years >= 13).astype(float),
            **{k: ch[k].astype(float) for k in PROBLEMS}}
    lp_b = linear_predictor(TRUE_BREAKDOWN_LOG_HR, ptype, goal, covs) + muni_eff
    lp_p = linear_predictor(TRUE_PLANNED_LOG_HR, ptype, goal, covs)
    t_b = BREAKDOWN_SCALE_DAYS * (rng.exponential(size=n) * np.exp(-lp_b)) ** (1 / BREAKDOWN_SHAPE)
    t_p = PLANNED_SCALE_DAYS * (rng.exponential(size=n) * np.exp(-lp_p)) ** (1 / PLANNED_SHAPE)
    limit_age = np.where(age_cont >= 18, 21, np.where(rng.random(n) < 0.7, 18, 21))
    limit_day = add_years(ch["birth"], limit_age) - 1  # last day before the birthday
    t_lim = (limit_day - start_day).astype(float)
    t_lim = np.maximum(t_lim, 0.0)
    dur = np.floor(np.minimum(np.minimum(t_b, t_p), t_lim)).astype(np.int64)
    cause = np.where(t_lim <= np.minimum(t_b, t_p), "L", np.where(t_b < t_p, "B", "P"))
    ended = start_day + dur <= end
    end_day = np.where(ended, start_day + dur, -1)
    return {"start_day": start_day, "age_years": age_years, "age_cont": age_cont,
            "legal_basis": legal, "placement_type": ptype, "ptype_weights": w,
            "provider": provider, "care_plan_goal": goal, "consent_guardian": consent,
            "child_view": view, "daily_cost_sek": cost, "ended": ended, "end_day": end_day,
            "cause": np.where(ended, cause, ""), "behav": behav, "teen": teen}


def _provider(rng: np.random.Generator, ptype: np.ndarray) -> np.ndarray:
    n = len(ptype)
    kom_share = pd.Series(ptype).map({"FH": 0.8, "NH": 0.9, "FFH": 0.0, "JH": 0.7, "HVB": 0.2,
                                      "SIS": 0.0, "SB": 0.4, "EGET": 1.0}).to_numpy()
    out = np.where(rng.random(n) < kom_share, "KOM", "PRIV").astype(object)
    out[ptype == "SIS"] = "STAT"
    return out


def _daily_cost(rng: np.random.Generator, ptype: np.ndarray) -> np.ndarray:
    lo = pd.Series(ptype).map({"FH": 1000, "NH": 800, "FFH": 1800, "JH": 1500, "HVB": 3000,
                               "SIS": 5000, "SB": 1500, "EGET": 300}).to_numpy(float)
    hi = pd.Series(ptype).map({"FH": 2000, "NH": 1500, "FFH": 3200, "JH": 2500, "HVB": 6000,
                               "SIS": 6000, "SB": 2500, "EGET": 1000}).to_numpy(float)
    return np.round(lo + (hi - lo) * rng.random(len(ptype)), 2)


def _end_details(rng: np.random.Generator, ep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """end_reason, destination and aftercare consistent with the simulated cause."""
    n = len(ep["cause"])
    cause = ep["cause"]
    inst = np.isin(ep["placement_type"], ("HVB", "SIS"))
    w_b = np.where(inst[:, None], [28, 30, 6, 14, 22], [30, 45, 8, 12, 5])
    br = _pick(rng, _BREAKDOWN_CODES, w_b)
    custody_ok = (np.isin(ep["care_plan_goal"], ("LONGTERM", "CUSTODY_TRANSFER"))
                  & (ep["age_cont"] < 15))
    w_p = np.where(custody_ok[:, None], [40, 20, 30, 6, 3, 0.05], [55, 33, 0, 7, 5, 0.05])
    pl = _pick(rng, ("PLANNED", "GOAL_REACHED", "CUSTODY_TRANSFER", "MOVED_MUNICIPALITY",
                     "OTHER", "DEATH"), w_p)
    reason = np.where(cause == "B", br, np.where(cause == "P", pl,
                                                 np.where(cause == "L", "AGE_LIMIT", "")))
    adult = ep["age_cont"] >= 17.5
    dests = ("PARENTS", "NEW_PLACEMENT", "OWN_HOME", "SIS_PRISON", "UNKNOWN")
    d_break = _pick(rng, dests, np.where(adult[:, None], [10, 35, 35, 8, 12], [20, 65, 0, 8, 7]))
    d_absc = _pick(rng, dests, _rows(n, [10, 30, 0, 20, 40]))
    d_plan = _pick(rng, dests, np.where(adult[:, None], [20, 5, 70, 0, 5], [85, 8, 0, 0, 7]))
    d_lim = _pick(rng, dests, _rows(n, [28, 2, 62, 0, 8]))
    dest = np.where(reason == "ABSCONDED", d_absc,
                    np.where(cause == "B", d_break,
                             np.where(cause == "L", d_lim,
                                      np.where(cause == "P", d_plan, None))))
    dest = np.where(np.isin(reason, ("CUSTODY_TRANSFER", "MOVED_MUNICIPALITY")), "UNKNOWN", dest)
    dest = np.where(reason == "DEATH", None, dest)
    p_after = np.where(cause == "B", 0.25, np.where(cause == "L", 0.6, 0.45))
    after = np.where(cause == "", None, rng.random(n) < p_after).astype(object)
    after[dest == "NEW_PLACEMENT"] = False
    after[reason == "DEATH"] = None
    return {"end_reason": reason, "destination": dest, "aftercare": after}


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _placements(rng: np.random.Generator, ep: pd.DataFrame, end: int,
                ptype_w: np.ndarray) -> pd.DataFrame:
    """Placements tiling each episode; moves more frequent in HVB, JH and for teenagers."""
    n = len(ep)
    s = ep["_start"].to_numpy()
    e = np.where(ep["_ended"].to_numpy(), ep["_end"].to_numpy(), end)
    span = e - s  # days available for move offsets 1..span
    pt = ep["placement_type"].to_numpy()
    rate = (0.25 + 0.55 * np.isin(pt, ("HVB", "SIS")) + 1.6 * (pt == "JH")
            + 0.25 * ep["_teen"].to_numpy())  # moves per year
    k = np.minimum(rng.poisson(rate * span / 365.25), np.minimum(span, 12))
    idx = np.repeat(np.arange(n), k)
    off = 1 + np.floor(rng.random(len(idx)) * span[idx]).astype(np.int64)
    mv = pd.DataFrame({"i": idx, "off": off}).drop_duplicates().sort_values(["i", "off"])
    mi = mv["i"].to_numpy()
    mo = mv["off"].to_numpy()
    # Rows: one first placement per episode + one per move.
    all_i = np.concatenate([np.arange(n), mi])
    all_start = np.concatenate([s, s[mi] + mo])
    order = np.lexsort((all_start, all_i))
    all_i, all_start = all_i[order], all_start[order]
    first = np.r_[True, all_i[1:] != all_i[:-1]]
    last = np.r_[all_i[1:] != all_i[:-1], True]
    seq = np.arange(len(all_i)) - np.maximum.accumulate(np.where(first, np.arange(len(all_i)), 0)) + 1
    nxt = np.r_[all_start[1:], 0]
    ended = ep["_ended"].to_numpy()[all_i]
    end_day = np.where(last, np.where(ended, e[all_i], -1), nxt - 1)
    m = (~first).sum()
    types = np.asarray(pt, dtype=object)[all_i]
    new_types = np.asarray(PLACEMENT_TYPES, dtype=object)[_choice_rows(rng, ptype_w[all_i[~first]])]
    # Emergency homes are followed by a family home more often than not.
    was_jh = np.r_[False, types[:-1] == "JH"][~first]
    new_types = np.where(was_jh & (rng.random(m) < 0.6), "FH", new_types)
    types[~first] = new_types
    reason = np.full(len(all_i), None, dtype=object)
    reason[~first] = _pick(rng, ("PLANNED", "BREAKDOWN", "NEEDS_CHANGED", "OTHER"),
                           _rows(m, [35, 35, 20, 10]))
    return pd.DataFrame({
        "episode_id": ep["episode_id"].to_numpy()[all_i],
        "placement_seq": seq,
        "start_date": all_start,
        "end_date": end_day,
        "placement_type": types,
        "provider": _provider(rng, types),
        "change_reason": reason,
    })


def _followups(rng: np.random.Generator, ep: pd.DataFrame, end: int) -> pd.DataFrame:
    """Six-monthly follow-ups (+-30 days, ~8 % missed) and an ENDING one for ended episodes."""
    n = len(ep)
    s = ep["_start"].to_numpy()
    ended = ep["_ended"].to_numpy()
    e = np.where(ended, ep["_end"].to_numpy(), end)
    span = e - s
    kmax = (span + 30) // 182 + 1
    idx = np.repeat(np.arange(n), kmax)
    j = np.arange(len(idx)) - np.repeat(np.cumsum(kmax) - kmax, kmax) + 1
    off = 182 * j + rng.integers(-30, 31, size=len(idx))
    keep = (off < span[idx]) | ((~ended[idx]) & (off <= span[idx]))
    keep &= rng.random(len(idx)) > 0.08
    idx, off = idx[keep], off[keep]
    end_i = np.flatnonzero(ended)
    all_i = np.concatenate([idx, end_i])
    all_off = np.concatenate([off, span[end_i]])
    ftype = np.concatenate([np.full(len(idx), "FOLLOWUP", dtype=object),
                            np.full(len(end_i), "ENDING", dtype=object)])
    order = np.lexsort((all_off, all_i))
    all_i, all_off, ftype = all_i[order], all_off[order], ftype[order]
    m = len(all_i)
    cause = ep["_cause"].to_numpy()[all_i]
    is_end = ftype == "ENDING"
    good = np.where(is_end & (cause == "B"), 0, np.where(is_end, 2, 1))  # 0 bad, 1 mid, 2 good
    ga = np.where(good[:, None] == 2, [45, 40, 10, 5],
                  np.where(good[:, None] == 0, [5, 30, 55, 10], [20, 55, 15, 10]))
    goal = _pick(rng, ("FULLY", "PARTLY", "NOT", "NOT_ASSESSABLE"), ga)
    age = ep["_age"].to_numpy()[all_i] + all_off / 365.25
    behav = ep["_behav"].to_numpy()[all_i]
    school = np.where(age < 6, None,
                      np.where(behav,
                               _pick(rng, ("REGULAR", "IRREGULAR", "NONE"), _rows(m, [45, 35, 20])),
                               _pick(rng, ("REGULAR", "IRREGULAR", "NONE"), _rows(m, [78, 16, 6]))))
    school = np.where(age >= 19, np.where(rng.random(m) < 0.6, "NONE", school), school)
    health = _pick(rng, ("GOOD", "SOME", "SERIOUS"),
                   np.where(behav[:, None], [45, 40, 15], [70, 25, 5]))
    contact = _pick(rng, ("REGULAR", "SPORADIC", "NONE"), _rows(m, [55, 30, 15]))
    heard = np.where(age < 4, "NO", _pick(rng, ("YES", "PARTLY", "NO"), _rows(m, [62, 25, 13])))
    out = pd.DataFrame({
        "episode_id": ep["episode_id"].to_numpy()[all_i],
        "followup_date": s[all_i] + all_off,
        "followup_type": ftype,
        "goal_attainment": goal,
        "school_status": school,
        "health_status": health,
        "parent_contact": contact,
        "child_heard": heard,
    })
    rated = (age >= 7) & (heard != "NO")
    base = 3.7 - 0.8 * (is_end & (cause == "B")) - 0.3 * behav
    for name in load_dictionary().group("followups", "themes"):
        v = np.clip(np.rint(base + rng.normal(0, 0.9, m)), 1, 5)
        miss = ~rated | (rng.random(m) < 0.12)
        out[name] = pd.array(np.where(miss, 0, v).astype(int), dtype="Int64")
        out.loc[miss, name] = pd.NA
    return out


def _referrals(rng: np.random.Generator, ep: pd.DataFrame, end: int,
               extra: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Referrals before each episode, re-referrals after endings, and never-placed children."""
    n = len(ep)
    s = ep["_start"].to_numpy()
    prev_end = ep["_prev_end"].to_numpy()
    lo = np.where(prev_end >= 0, np.maximum(s - 180, prev_end + 1), s - 180)
    k = rng.choice([1, 2, 3], size=n, p=[0.55, 0.3, 0.15])
    idx = np.repeat(np.arange(n), k)
    r = rng.random(len(idx))
    dates = lo[idx] + np.floor(r * (s[idx] - lo[idx] + 1)).astype(np.int64)
    led = np.zeros(len(idx), dtype=bool)
    # The latest referral before the episode opened the investigation.
    tmp = pd.DataFrame({"i": idx, "d": dates, "pos": np.arange(len(idx))})
    led[tmp.sort_values(["i", "d", "pos"]).groupby("i")["pos"].last().to_numpy()] = True
    led |= rng.random(len(idx)) < 0.1
    # Re-referrals within 12 months of ending for episodes not followed by a new episode.
    ended = ep["_ended"].to_numpy()
    has_next = ep["_next_start"].to_numpy() >= 0
    e = ep["_end"].to_numpy()
    p = np.where(ep["_cause"].to_numpy() == "B", 0.15, 0.08)
    re = ended & ~has_next & (rng.random(n) < p)
    re_i = np.flatnonzero(re)
    re_d = e[re_i] + rng.integers(1, 366, size=len(re_i))
    ok = re_d <= end
    re_i, re_d = re_i[ok], re_d[ok]
    child = np.concatenate([ep["child_id"].to_numpy()[idx], ep["child_id"].to_numpy()[re_i],
                            extra["child_id"].to_numpy()])
    muni = np.concatenate([ep["municipality_code"].to_numpy()[idx],
                           ep["municipality_code"].to_numpy()[re_i],
                           extra["municipality_code"].to_numpy()])
    date = np.concatenate([dates, re_d, extra["_date"].to_numpy()])
    led_all = np.concatenate([led, rng.random(len(re_i)) < 0.7,
                              rng.random(len(extra)) < 0.3])
    m = len(child)
    rtype = _pick(rng, ("REPORT", "APPLICATION", "OTHER"), _rows(m, [80, 14, 6]))
    out = pd.DataFrame({"child_id": child, "municipality_code": muni, "referral_date": date,
                        "referral_type": rtype, "led_to_investigation": led_all})
    out = out.sort_values(["referral_date", "child_id"], kind="mergesort").reset_index(drop=True)
    out.insert(0, "referral_id", [f"R{i:07d}" for i in range(1, len(out) + 1)])
    # Realised re-referral share (DOMAIN §3: ~22 % of youths 13-20 within a year of ending).
    elig = ended & (ep["_age"].to_numpy() >= 13) & (e + 365 <= end)
    nxt = ep["_next_start"].to_numpy()
    rr = np.zeros(n, dtype=bool)
    rr[re_i] = True
    rr |= has_next & (nxt - e <= 365)
    share = float(rr[elig].mean()) if elig.any() else float("nan")
    return out, share


def _simulate_episodes(rng_c: np.random.Generator, rng_e: np.random.Generator, n: int, d0: int,
                       d1: int, mweights: np.ndarray, meffects: np.ndarray) -> tuple:
    """Children, their municipality, first episodes and re-entries (the core of the model)."""
    ch = _children(rng_c, n, d0, d1)
    ch_muni = rng_c.choice(len(mweights), size=n, p=mweights)

    # First episodes.
    ep1 = _episode_attrs(rng_e, ch, ch["start_day"], meffects[ch_muni], d1)
    ep1.update(_end_details(rng_e, ep1))
    # Re-entry: after a breakdown into a new placement (days later) or after going home.
    dest = ep1["destination"]
    p_re = np.where(dest == "NEW_PLACEMENT", 0.75, np.where(dest == "PARENTS", 0.10, 0.0))
    gap = np.where(dest == "NEW_PLACEMENT", rng_e.integers(1, 15, size=n),
                   rng_e.integers(30, 720, size=n))
    s2 = ep1["end_day"] + gap
    re = (ep1["ended"] & (rng_e.random(n) < p_re) & (s2 <= d1)
          & (s2 - ch["birth"] <= 7300) & (ep1["end_reason"] != "DEATH"))
    ri = np.flatnonzero(re)
    ch2 = {k: v[ri] for k, v in ch.items()}
    ep2 = _episode_attrs(rng_e, ch2, s2[ri], meffects[ch_muni[ri]], d1)
    ep2.update(_end_details(rng_e, ep2))
    return ch, ch_muni, ep1, ep2, ri, s2


def _reference_effects(seed: int, d0: int, d1: int, mweights: np.ndarray,
                       meffects: np.ndarray) -> dict[str, Any]:
    """Population truths from an independent reference sample of the same generator."""
    ss = np.random.SeedSequence([int(seed), REFERENCE_STREAM])
    rng_c, rng_e = (np.random.default_rng(s) for s in ss.spawn(2))
    ch, ch_muni, ep1, ep2, ri, _s2 = _simulate_episodes(rng_c, rng_e, TRUTH_REFERENCE_CHILDREN,
                                                        d0, d1, mweights, meffects)
    return effect_summary(*episode_risks(ch, ch_muni, ep1, ep2, ri, meffects, d1), d1,
                           monte_carlo=True)



def generate(n_children: int = 2000, n_municipalities: int = 30, seed: int = 1,
             start: str = "2019-01-01", end: str = "2024-12-31") -> SynthData:
    """Generate synthetic, pseudonymised tables with known true effects.

    Parameters
    ----------
    n_children : int, default 2000
        Children with at least one placement episode (roughly 10-15 % get a second
        episode, a re-entry). 15 % as many never-placed children appear in ``referrals``
        only.
    n_municipalities : int, default 30
        Municipalities, with 4-digit codes and very unequal sizes (at most 2,079).
    seed : int, default 1
        Seed of the random generator; the same seed gives the same data (and bytes).
    start, end : str, default "2019-01-01", "2024-12-31"
        Observation window (ISO dates). Episodes start inside it; episodes still running
        at ``end`` are censored (empty ``end_date``).

    Returns
    -------
    SynthData
        ``tables`` (episodes, placements, followups, referrals), ``truth`` and the private
        ``raw_ids`` mapping.

    Raises
    ------
    ParameterError
        If a count is not positive or the window is not a valid pair of dates.
    """
    if int(n_children) < 1 or int(n_municipalities) < 1:
        raise ParameterError("n_children and n_municipalities must be at least 1.")
    d0, d1 = parse_date(start, "start"), parse_date(end, "end")
    if d1 <= d0:
        raise ParameterError(f"end ({end}) must be after start ({start}).")
    n = int(n_children)
    ss = np.random.SeedSequence(int(seed))
    rng_m, rng_c, rng_e, rng_p, rng_f, rng_r, rng_id = (np.random.default_rng(s)
                                                         for s in ss.spawn(7))

    codes, mweights, meffects = municipalities(rng_m, int(n_municipalities))
    ch, ch_muni, ep1, ep2, ri, s2 = _simulate_episodes(rng_c, rng_e, n, d0, d1, mweights,
                                                       meffects)

    # Identity numbers (synthetic) and pseudonyms under the public demo key.
    from evaluation.data.pseudonymise import pseudonymise_id, synthetic_personnummer

    n_extra = round(0.15 * n)
    extra_birth = d0 - rng_c.integers(0, 18 * 365, size=n_extra)
    extra_sex = np.where(rng_c.random(n_extra) < 0.55, "M", "F")
    births = np.concatenate([ch["birth"], extra_birth])
    sexes = np.concatenate([ch["sex"], extra_sex])
    key = demo_key(int(seed))
    pnrs: list[str] = []
    seen: set[str] = set()
    for b, sx in zip(to_date(births).tolist(), sexes.tolist()):
        p = synthetic_personnummer(b, sx, rng_id)
        while p in seen:
            p = synthetic_personnummer(b, sx, rng_id)
        seen.add(p)
        pnrs.append(p)
    ids = np.array([pseudonymise_id(p, key) for p in pnrs], dtype=object)
    raw_ids = dict(zip(ids.tolist(), pnrs))

    # Episodes table.
    both = _concat({k: v for k, v in ep1.items() if k != "ptype_weights"},
                   {k: v for k, v in ep2.items() if k != "ptype_weights"})
    weights = np.concatenate([ep1["ptype_weights"], ep2["ptype_weights"]])
    cidx = np.concatenate([np.arange(n), ri])
    nxt = np.full(len(cidx), -1, dtype=np.int64)
    nxt[ri] = s2[ri]
    prev = np.full(len(cidx), -1, dtype=np.int64)
    prev[n:] = ep1["end_day"][ri]
    ep = pd.DataFrame({
        "child_id": ids[cidx],
        "municipality_code": codes[ch_muni[cidx]],
        "sex": ch["sex"][cidx],
        "birth_year": year_of(ch["birth"][cidx]),
        "birth_region": ch["birth_region"][cidx],
        "unaccompanied": ch["unaccompanied"][cidx],
        "start_date": both["start_day"],
        "end_date": np.where(both["ended"], both["end_day"], -1),
        "legal_basis": both["legal_basis"],
        "placement_type": both["placement_type"],
        "provider": both["provider"],
        **{k: ch[k][cidx] for k in PROBLEMS},
        "care_plan_goal": both["care_plan_goal"],
        "consent_guardian": both["consent_guardian"],
        "child_view": both["child_view"],
        "end_reason": np.where(both["ended"], both["end_reason"], None),
        "destination": np.where(both["ended"], both["destination"], None),
        "aftercare": np.where(both["ended"], both["aftercare"], None),
        "daily_cost_sek": both["daily_cost_sek"],
        "_start": both["start_day"], "_end": both["end_day"], "_ended": both["ended"],
        "_cause": both["cause"], "_age": both["age_cont"], "_behav": both["behav"],
        "_teen": both["teen"], "_next_start": nxt, "_prev_end": prev,
    })
    order = np.lexsort((ep["child_id"].to_numpy(), ep["_start"].to_numpy()))
    ep = ep.iloc[order].reset_index(drop=True)
    weights = weights[order]
    ep.insert(0, "episode_id", [f"E{i:06d}" for i in range(1, len(ep) + 1)])
    planned = load_dictionary().planned_codes()
    ep["planned_ending"] = np.where(ep["_ended"], ep["end_reason"].isin(planned), None)

    pl = _placements(rng_p, ep, d1, weights)
    fu = _followups(rng_f, ep, d1)
    extra = pd.DataFrame({
        "child_id": ids[n:],
        "municipality_code": codes[rng_r.choice(len(codes), size=n_extra, p=mweights)],
        "_date": rng_r.integers(d0, d1 + 1, size=n_extra),
    })
    rf, rereferral_share = _referrals(rng_r, ep, d1, extra)

    tables = {"episodes": ep, "placements": pl, "followups": fu, "referrals": rf}
    tables = {t: _finalise(t, df) for t, df in tables.items()}
    truth = model_truth(int(seed), n, codes, meffects, mweights, start, end, tables,
                   rereferral_share)
    truth["placement_effects"] = effects_truth(
        _reference_effects(int(seed), d0, d1, mweights, meffects),
        effect_summary(*episode_risks(ch, ch_muni, ep1, ep2, ri, meffects, d1), d1), end)
    return SynthData(tables=tables, truth=truth, raw_ids=raw_ids)


def _finalise(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Dictionary columns in dictionary order, with pandas types per dictionary type."""
    cols = [c for c in load_dictionary().table(table).values() if c.name != "personnummer"]
    out = {}
    for c in cols:
        v = df[c.name]
        if c.type == "date":
            days = v.to_numpy().astype(np.int64)
            d = to_date(days).astype("datetime64[ns]")
            out[c.name] = pd.Series(np.where(days < 0, np.datetime64("NaT"), d),
                                    dtype="datetime64[ns]")
        elif c.type == "boolean":
            out[c.name] = pd.array(v.tolist(), dtype="boolean")
        elif c.type == "integer":
            out[c.name] = pd.array(v.tolist(), dtype="Int64")
        elif c.type == "number":
            out[c.name] = v.astype(float).to_numpy()
        else:
            out[c.name] = pd.array([None if x is None or x == "" else str(x) for x in v.tolist()],
                                   dtype="string")
    return pd.DataFrame(out)
