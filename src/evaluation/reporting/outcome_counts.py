"""Published counts of the outcomes report: the disclosure gate of
:class:`evaluation.reporting.outcomes.OutcomeReport` (a mixin it inherits).

Every count the outcomes report shows is counted here, from the records of its cell, by the
report's :class:`~evaluation.disclosure.DisclosurePolicy` (cell-key perturbed in publication
mode, exact in internal mode); the rules on when an estimate or model may be shown (enough
children, events and non-events in every group or arm) live here too, with the naive effect
computed from the published arm counts and the wording of the banner, footer and withheld
sentences. Record ids: ``child_id|episode_id`` for placements, ``child_id`` for children,
``child_id|episode_id|fu<j>`` for follow-ups and due reviews, ``child_id|episode_id|mv<j>``
for moves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evaluation import measures
from evaluation.measures.intervals import wilson_interval
from evaluation.reporting.tables import count_label
from evaluation.reporting.text import phrase

__all__ = ["PublishedCounts"]

#: Covariates of the Cox and Fine–Gray models of breakdowns (``placement_group`` first).
MODEL_TERMS = ["placement_group", "age_13plus", "problem_criminality",
               "problem_child_substance", "problem_child_mental"]


class PublishedCounts:
    """The published counts and disclosure rules of :class:`OutcomeReport` (mixin: it uses
    the report's ``policy``, ``cohort``, tables, period and effect frame)."""

    _cache: dict[str, Any]

    def banner_text(self) -> str:
        """The internal-mode banner (Markdown) for the top of the report; '' in publication
        mode."""
        if self.policy.publication:
            return ""
        return phrase("disclosure", "page", "banner", self.lang)

    def footer_text(self) -> str:
        """The sentence on disclosure control for the end of the report (Markdown)."""
        key = "footer" if self.policy.publication else "footer_internal"
        return phrase("disclosure", "page", key, self.lang,
                      min_children=self.policy.min_children,
                      min_events=self.policy.min_events)

    def _episode_ids(self, frame: pd.DataFrame) -> pd.Series:
        """Record ids of placements (``child_id|episode_id``) for the cell key."""
        child = frame["child_id"] if "child_id" in frame else frame["episode_id"].map(
            self._child_of)
        return child.astype(str) + "|" + frame["episode_id"].astype(str)

    def _count(self, ids) -> int:
        """The published count of the records ``ids`` (exact in internal mode)."""
        return self.policy.count(ids)

    def _allowed(self, frame: pd.DataFrame, event: pd.Series | None = None,
                 non_events: bool = True) -> bool:
        """Whether an estimate or model may be shown for the placements ``frame``: enough
        children and, with ``event`` (0/1 per row), enough placements with the event and
        (with ``non_events``) without it.

        In publication mode both the published and the exact counts must clear the rule:
        a true 4 events published as 5 still gets no estimate (model estimates on so few
        events are fragile, and the naive effect with the arms' sizes could give it back).
        Withholding then tells only that a count is small, never which.
        """
        pol = self.policy
        ids = self._episode_ids(frame)
        ev = np.ones(len(frame), bool) if event is None else np.asarray(event, dtype=bool)
        counters = [self._count]
        if pol.publication:
            counters.append(lambda x: int(pd.Series(list(x), dtype=object).nunique()))
        for count in counters:
            if not pol.allows_rate(count(frame["child_id"].astype(str))):
                return False
            if event is None:
                continue
            if not non_events:
                if pol.publication and count(ids[ev]) < pol.min_events:
                    return False
            elif not pol.allows_rate(count(ids), count(ids[ev])):
                return False
        return True

    def _groups_allowed(self, frame: pd.DataFrame, col: str, event: pd.Series | None,
                        non_events: bool = True) -> dict:
        """:meth:`_allowed` for every level of ``frame[col]``."""
        out = {}
        for g, sub in frame.groupby(col, observed=True):
            out[g] = self._allowed(sub, None if event is None else event.loc[sub.index],
                                   non_events)
        return out

    def withheld_text(self) -> str:
        """The sentence that replaces a model result withheld by the disclosure policy."""
        return phrase("outcomes", "sentences", "withheld", self.lang,
                      min_children=self.policy.min_children,
                      min_events=self.policy.min_events)

    def measures_counts(self) -> pd.DataFrame:
        """The outcome measures with *published* numerators, denominators and children
        (numeric; cached): the table :meth:`measures_table` displays.

        Each measure is computed once for the cohort (its value and interval) and once by
        placement, which gives the records behind its numerator and denominator; those are
        counted by the policy. Units: placements (``child_id|episode_id``), children for
        NI 062 and NI 063 (``child_id``), follow-ups and due reviews
        (``child_id|episode_id|fu<j>``). The breakdown risk takes its records from the
        report's cohort (entrants, breakdowns by each horizon).
        """
        if "measures" in self._cache:
            return self._cache["measures"].copy()
        t, ps, pe, de = self.tables, self.period_start, self.period_end, self.data_end
        ep = t["episodes"]
        year = pd.Timestamp(pe).year
        specs: list[tuple[Callable, str]] = [
            (lambda g: measures.planned_ending_share(ep, ps, pe, group_cols=g), "episode"),
            (None, "breakdown"),
            (lambda g: measures.exit_to_permanency_12m(ep, ps, pe, de, group_cols=g),
             "episode")]
        if "placements" in t:
            pl = t["placements"]
            specs += [
                (lambda g: measures.placement_stability(ep, pl, ps, pe, group_cols=g),
                 "episode_moves"),
                (lambda g: measures.three_or_more_placements(ep, pl, year, group_cols=g),
                 "child")]
        if "referrals" in t:
            specs.append((lambda g: measures.re_referral_12m(ep, t["referrals"], ps, pe, de,
                                                             group_cols=g), "episode"))
        if "followups" in t:
            fu = t["followups"]
            specs += [
                (lambda g: measures.goal_attainment_share(ep, fu, ps, pe, group_cols=g),
                 "episode"),
                (lambda g: measures.child_heard_share(ep, fu, ps, pe, group_cols=g),
                 "followup"),
                (lambda g: measures.reviews_on_time(ep, fu, ps, pe, de, group_cols=g),
                 "followup")]
        if "placements" in t:
            specs.append((lambda g: measures.long_term_stability(ep, t["placements"], pe,
                                                                 group_cols=g), "child"))
        specs.append((lambda g: measures.re_entry_12m(ep, ps, pe, de, group_cols=g),
                      "episode"))
        rows = []
        for fn, unit in specs:
            if unit == "breakdown":
                rows.append(self._breakdown_counts(measures.breakdown_risk(ep, ps, pe, de)))
                continue
            rows.append(self._published_rows(fn(None), fn(["episode_id"]), unit))
        table = pd.concat(rows, ignore_index=True)
        self._cache["measures"] = table
        return table.copy()

    def _record_ids(self, by_episode: pd.DataFrame, count_col: str, unit: str) -> list[str]:
        """Record ids behind ``count_col`` of a measure computed by placement (one row per
        placement, with that placement's count)."""
        counts = by_episode[count_col].round().fillna(0).astype(int).to_numpy()
        episode = by_episode["episode_id"].astype(str)
        child = episode.map(self._child_of).astype(str).to_numpy()
        ids: list[str] = []
        for c, e, k in zip(child, episode.to_numpy(), counts, strict=True):
            if k <= 0:
                continue
            if unit == "child":
                ids.append(c)
            elif unit == "episode":
                ids.append(f"{c}|{e}")
            else:  # several records per placement: follow-ups, due reviews, moves
                ids.extend(f"{c}|{e}|{'mv' if unit == 'episode_moves' else 'fu'}{j}"
                           for j in range(k))
        return ids

    def _published_rows(self, exact: pd.DataFrame, by_episode: pd.DataFrame,
                        unit: str) -> pd.DataFrame:
        """``exact`` (one row, or one per theme) with published counts."""
        out = exact.copy()
        key = "theme" if "theme" in exact.columns else None
        for i, row in exact.iterrows():
            sub = by_episode if key is None else by_episode[by_episode[key] == row[key]]
            den_unit = "followup" if unit == "followup" or key else unit
            if unit == "episode_moves" or key is None:  # numerator: moves; denominator: care days
                out.loc[i, "numerator"] = self._count(self._record_ids(sub, "numerator",
                                                                       unit))
            if unit != "episode_moves":
                out.loc[i, "denominator"] = self._count(self._record_ids(sub, "denominator",
                                                                         den_unit))
            has = sub[sub["denominator"] > 0]
            out.loc[i, "children"] = self._count(has["episode_id"].map(self._child_of)
                                                 .astype(str))
        return out

    def _breakdown_counts(self, exact: pd.DataFrame) -> pd.DataFrame:
        """Breakdown risk with published entrants and breakdowns by each horizon.

        In publication mode the value follows the published counts too: without censoring
        before the horizon the Aalen–Johansen estimate *is* breakdowns / entrants, so it is
        replaced by the published breakdowns over the published entrants with their Wilson
        interval; with censoring, estimate and interval are scaled by the ratio of the
        published to the exact crude share, so that neither pins the exact counts (two
        periods a month apart would otherwise differ by a recoverable small count).
        """
        c = self.cohort
        ids = self._episode_ids(c)
        out = exact.copy()
        for i, row in exact.iterrows():
            h = row["horizon_days"]
            event = ((c["cause"] == 1) & (c["time"] <= h)).to_numpy()
            k, n = self._count(ids[event]), self._count(ids)
            out.loc[i, "numerator"], out.loc[i, "denominator"] = k, n
            out.loc[i, "children"] = self._count(c["child_id"].astype(str))
            out.loc[i, ["value", "ci_lower", "ci_upper"]] = self.published_risk(
                c, h, row["value"], row["ci_lower"], row["ci_upper"])
        return out

    def published_risk(self, cohort: pd.DataFrame, horizon: float, estimate: float,
                       ci_lower: float, ci_upper: float) -> tuple[float, float, float]:
        """An exact cumulative risk of breakdown by ``horizon`` in ``cohort``, as published.

        Internal mode: unchanged. Publication mode: without censoring before the horizon the
        Aalen–Johansen estimate *is* breakdowns / entrants, so it becomes the published
        breakdowns over the published entrants with their Wilson interval; with censoring,
        estimate and interval are scaled by the ratio of the published to the exact crude
        share. Either way two reports a month apart do not differ by a recoverable count.
        """
        if not self.policy.publication or len(cohort) == 0:
            return estimate, ci_lower, ci_upper
        ids = self._episode_ids(cohort)
        event = ((cohort["cause"] == 1) & (cohort["time"] <= horizon)).to_numpy()
        k, n = self._count(ids[event]), self._count(ids)
        if n == 0:
            return float("nan"), float("nan"), float("nan")
        if not ((cohort["cause"] == 0) & (cohort["time"] < horizon)).any():
            lo, hi = wilson_interval(k, n)
            return k / n, float(lo), float(hi)
        crude = event.sum() / len(cohort)
        factor = (k / n) / crude if crude > 0 else float("nan")
        return estimate * factor, ci_lower * factor, ci_upper * factor

    def models_allowed(self) -> bool:
        """Whether the Cox and Fine–Gray models may be shown: every placement group and both
        levels of every 0/1 covariate have enough children, breakdowns and placements
        without one (published counts, :meth:`_allowed`)."""
        if "models_allowed" not in self._cache:
            f = self._model_frame()
            event = f["breakdown"] == 1
            ok = all(self._groups_allowed(f, "placement_group", event).values())
            for col in MODEL_TERMS[1:]:
                levels = self._groups_allowed(f, col, event)
                ok = ok and len(levels) == 2 and all(levels.values())
            self._cache["models_allowed"] = ok
        return self._cache["models_allowed"]

    def models_withheld_text(self) -> str:
        """'' when the models are shown, else the sentence saying why they are not."""
        return "" if self.models_allowed() else self.withheld_text()

    def _arm_counts(self) -> dict[str, dict[str, int]]:
        """Published placements, children and events (unplanned endings within
        ``horizon``) of each arm of the effect frame."""
        f = self._two_arms()
        out = {}
        for arm in (self.treated, self.control):
            sub = f[f["placement_type"] == arm]
            ids = self._episode_ids(sub)
            ev = (sub[f"unplanned_{self.horizon}d"] == 1).to_numpy()
            out[arm] = {"placements": self._count(ids), "children": self._count(
                sub["child_id"].astype(str)), "events": self._count(ids[ev]),
                "non_events": self._count(ids[~ev])}
        return out

    def effect_allowed(self) -> bool:
        """Whether the effect (naive and adjusted), its balance, overlap and E-values and
        the cost effect may be shown: both arms have enough children, events and non-events
        (published counts). A naive risk difference and ratio with the arms' sizes would
        otherwise give a small arm's events back."""
        if "effect_allowed" not in self._cache:
            f = self._two_arms()
            event = f[f"unplanned_{self.horizon}d"] == 1
            arms = self._groups_allowed(f, "placement_type", event)
            self._cache["effect_allowed"] = (
                all(arms.get(a, False) for a in (self.treated, self.control)))
        return self._cache["effect_allowed"]

    def effect_sizes_text(self) -> str:
        """The arms' sizes as published counts (Markdown), or the withheld sentence."""
        if not self.effect_allowed():
            return self.withheld_text()
        n = self._arm_counts()

        def c(arm: str, key: str) -> str:
            return count_label(self.policy, n[arm][key], self.lang)

        return phrase("outcomes", "sentences", "effect_arms", self.lang,
                      treated=self.treated, control=self.control,
                      n_treated=c(self.treated, "placements"),
                      c_treated=c(self.treated, "children"),
                      n_control=c(self.control, "placements"),
                      c_control=c(self.control, "children"))

    def naive_effect(self) -> pd.DataFrame:
        """The naive risk difference and ratio (``measure, estimate, se, ci_lower, ci_upper,
        p_value``).

        In publication mode they are computed from the arms' *published* placements and
        events (Wald intervals, the ratio's on the log scale), so that together with the arm
        sizes they give back only published counts; in internal mode they are the exact
        naive estimates of :func:`evaluation.models.effects.estimate_effect`.
        """
        if not self.policy.publication:
            return self._estimate_effect("naive").summary
        from scipy.stats import norm

        n = self._arm_counts()
        (kt, nt), (kc, nc) = ((n[a]["events"], n[a]["placements"])
                              for a in (self.treated, self.control))
        pt, pc = kt / nt, kc / nc
        z = norm.ppf(0.975)
        rows = []
        rd, se = pt - pc, float(np.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc))
        rows.append(("risk_difference", rd, se, rd - z * se, rd + z * se,
                     2 * norm.sf(abs(rd / se)) if se > 0 else np.nan))
        if pt > 0 and pc > 0:
            lrr = float(np.log(pt / pc))
            se = float(np.sqrt((1 - pt) / kt + (1 - pc) / kc))
            rows.append(("risk_ratio", np.exp(lrr), se, np.exp(lrr - z * se),
                         np.exp(lrr + z * se), 2 * norm.sf(abs(lrr / se)) if se > 0 else np.nan))
        return pd.DataFrame(rows, columns=["measure", "estimate", "se", "ci_lower", "ci_upper",
                                           "p_value"])

    def comparison_counts(self) -> pd.DataFrame:
        """Published placements ``n``, events ``observed`` (unplanned endings within
        ``horizon``) and ``children`` per municipality of the comparison, indexed by unit."""
        if "rsr_counts" not in self._cache:
            f = self.effect_frame()
            f = f[f[f"unplanned_{self.horizon}d"].notna()]
            ids = self._episode_ids(f)
            ev = (f[f"unplanned_{self.horizon}d"] == 1).to_numpy()
            unit = f["municipality_code"].astype(str)
            self._cache["rsr_counts"] = pd.DataFrame({
                "n": self.policy.counts(ids, unit),
                "observed": self.policy.counts(ids[ev], unit[ev]).reindex(
                    unit.unique(), fill_value=0),
                "children": self.policy.counts(f["child_id"].astype(str), unit),
            }).fillna(0).astype(int)
        return self._cache["rsr_counts"]
