"""Building blocks of the outcomes-and-effects report (``notebooks/02-outcomes-and-effects``).

The notebook stays thin: every number, table and figure comes from a function here, which
calls the estimators of :mod:`evaluation.measures`, :mod:`evaluation.survival`,
:mod:`evaluation.effects`, :mod:`evaluation.comparison` and :mod:`evaluation.costs` and
applies disclosure control before anything is shown.

Disclosure rules applied to everything displayed
-----------------------------------------------
* Counts of 1 to ``threshold - 1`` are shown as "<threshold" (:mod:`evaluation.disclosure`).
* Shares and rates are not shown on denominators below 10 or when the numerator (or its
  complement) is a small count; model estimates are shown (they are not counts) but only
  for groups of at least 10 episodes.
* Curves (Kaplan–Meier, cumulative incidence, state occupation) stop where fewer than
  ``2 * threshold`` episodes remain at risk, so the last steps cannot reveal single children.
* No identifiers or pseudonyms ever reach a table: municipalities are the units shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import comparison, costs, disclosure, effects, measures, survival, synth
from .dictionary import load_dictionary
from .errors import ParameterError

__all__ = ["PLACEMENT_GROUPS", "OutcomeReport", "episode_outcomes"]

#: Placement types grouped into the settings compared in the report.
PLACEMENT_GROUPS = {"FH": "family", "NH": "family", "FFH": "family", "JH": "family",
                    "HVB": "institution", "SIS": "institution", "SB": "other", "EGET": "other"}

_TEXT: dict[str, dict[str, str]] = {
    "title": {"sv": "# Utfall och effekter av placeringar",
              "en": "# Outcomes and effects of placements"},
    "intro": {
        "sv": "Rapporten följer barnens placeringar från start till avslut: hur länge de varar, "
              "hur ofta de bryts i förtid, hur barnens väg ser ut, vilken effekt placeringsformen "
              "har när man tar hänsyn till skillnader mellan barnen, hur kommunerna står sig efter "
              "justering för vilka barn de placerar, och vad vården kostar. Alla tal bygger på "
              "ingångskohorter (placeringar som startade under perioden). Små tal visas inte.",
        "en": "The report follows children's placements from start to end: how long they last, "
              "how often they break down, what the journey looks like, what effect the type of "
              "placement has once differences between children are taken into account, how "
              "municipalities compare after adjusting for the children they place, and what care "
              "costs. All figures are for entry cohorts (placements starting in the period). "
              "Small counts are not shown."},
    "measures": {"sv": "## Utfallsmått", "en": "## Outcome measures"},
    "stay": {"sv": "## Vårdtid", "en": "## Length of stay"},
    "stay_text": {
        "sv": "Andel placeringar som fortfarande pågår, efter dagar sedan start (Kaplan–Meier; "
              "pågående placeringar censurerade vid datauttaget).",
        "en": "Share of placements still ongoing by days since start (Kaplan–Meier; ongoing "
              "placements censored at the data extract)."},
    "breakdown": {"sv": "## Sammanbrott", "en": "## Breakdowns"},
    "breakdown_text": {
        "sv": "Kumulativ risk för oplanerat avslut (sammanbrott eller avvikning), med planerat "
              "avslut som konkurrerande händelse (Aalen–Johansen). Grays test jämför grupperna.",
        "en": "Cumulative risk of an unplanned ending (breakdown or absconding), with planned "
              "ending as a competing event (Aalen–Johansen). Gray's test compares the groups."},
    "models": {"sv": "## Vad hänger ihop med sammanbrott?",
               "en": "## What goes with breakdowns?"},
    "models_text": {
        "sv": "Cox-modell för den orsaksspecifika hazarden för oplanerat avslut (robusta "
              "standardfel per barn), test av proportionella hazarder (skalade "
              "Schoenfeld-residualer) och Fine–Gray-modell för risken (subfördelningshazard).",
        "en": "Cox model of the cause-specific hazard of an unplanned ending (robust standard "
              "errors by child), the proportional-hazards test (scaled Schoenfeld residuals) and "
              "the Fine–Gray model of the risk (subdistribution hazard)."},
    "journey": {"sv": "## Barnets väg", "en": "## The child's journey"},
    "journey_text": {
        "sv": "Sannolikheten att befinna sig i varje tillstånd efter dagar sedan placeringens "
              "start (Aalen–Johansen för flertillståndsmodeller).",
        "en": "Probability of being in each state by days since the placement started "
              "(multi-state Aalen–Johansen)."},
    "effect": {"sv": "## Effekt av placeringsform", "en": "## Effect of the type of placement"},
    "effect_text": {
        "sv": "Skillnad i risk för oplanerat avslut inom {horizon} dagar mellan {treated} och "
              "{control}, justerad för barnens ålder, problem, vårdplanens mål och "
              "ensamkommande (dubbelt robust skattning, AIPW). Balanstabellen visar "
              "standardiserade medelvärdesskillnader före och efter viktning (gräns 0,1). "
              "E-värdet anger hur stark en okontrollerad confounder skulle behöva vara för att "
              "förklara bort skattningen.",
        "en": "Difference in the risk of an unplanned ending within {horizon} days between "
              "{treated} and {control}, adjusted for the child's age, problems, care-plan goal "
              "and unaccompanied status (doubly robust AIPW). The balance table shows "
              "standardised mean differences before and after weighting (limit 0.1). The "
              "E-value is how strong an unmeasured confounder would have to be to explain the "
              "estimate away."},
    "comparison": {"sv": "## Rättvis jämförelse av kommuner",
                   "en": "## Fair comparison of municipalities"},
    "comparison_text": {
        "sv": "Riskstandardiserad andel oplanerade avslut inom {horizon} dagar per kommun "
              "(flernivåmodell med slumpmässigt intercept och justering för barnens ålder, kön, "
              "lagrum, placeringsform och problem). Trattdiagrammet visar observerade andelar mot "
              "antal placeringar med 95 %- och 99,8 %-gränser.",
        "en": "Risk-standardised share of unplanned endings within {horizon} days per "
              "municipality (multilevel model with a random intercept, adjusted for age, sex, "
              "legal basis, placement type and problems). The funnel plot shows observed shares "
              "against the number of placements with 95% and 99.8% limits."},
    "costs": {"sv": "## Kostnader", "en": "## Costs"},
    "costs_text": {
        "sv": "Vårddygn och kostnader under perioden per placeringsform, och den justerade "
              "merkostnaden per undvikt sammanbrott ({treated} mot {control}, första {horizon} "
              "dagarna, bootstrap-intervall).",
        "en": "Care days and costs in the period by placement type, and the adjusted extra cost "
              "per avoided breakdown ({treated} against {control}, first {horizon} days, "
              "bootstrap interval)."},
}

_GROUP_LABELS = {"family": {"sv": "Familjehem", "en": "Family homes"},
                 "institution": {"sv": "HVB/SiS", "en": "HVB/SiS"},
                 "other": {"sv": "Övrigt", "en": "Other"}}

_COLUMN_LABELS = {
    "measure": ("Mått", "Measure"), "group": ("Grupp", "Group"),
    "value": ("Värde", "Value"), "ci": ("95 % KI", "95% CI"),
    "denominator": ("Nämnare", "Denominator"), "numerator": ("Täljare", "Numerator"),
    "estimate": ("Skattning", "Estimate"), "p_value": ("p-värde", "p-value"),
    "term": ("Variabel", "Term"), "exp_estimate": ("Kvot", "Ratio"),
    "quantile": ("Kvantil", "Quantile"), "theme": ("Tema", "Theme"), "time": ("Dag", "Day"),
    "ci_lower": ("Nedre gräns", "Lower limit"), "ci_upper": ("Övre gräns", "Upper limit"),
}

_CONFOUNDERS = synth.EFFECT_COVARIATES  # the specification checked by simulate_effects.py


def _label(key: str, lang: str) -> str:
    sv, en = _COLUMN_LABELS.get(key, (key, key))
    return sv if lang == "sv" else en


def _fmt(x: float, decimals: int = 3) -> str:
    return "" if pd.isna(x) else f"{x:.{decimals}f}"


def episode_outcomes(episodes: pd.DataFrame, data_end) -> pd.DataFrame:
    """Time to ending and its cause for each episode, ready for the survival estimators.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Validated episodes table.
    data_end : date-like
        Last date the data cover; ongoing episodes are censored there.

    Returns
    -------
    pandas.DataFrame
        The episodes with ``time`` (days from start to end or ``data_end``), ``ended``
        (0/1), ``cause`` (0 ongoing, 1 unplanned ending, 2 planned ending) and
        ``placement_group`` (family / institution / other, :data:`PLACEMENT_GROUPS`).

    Examples
    --------
    >>> from evaluation import synth
    >>> ep = synth.generate(200, 4, seed=1).tables["episodes"]
    >>> out = episode_outcomes(ep, "2024-12-31")
    >>> sorted(out["cause"].unique().tolist())
    [0, 1, 2]
    """
    end = pd.Timestamp(data_end)
    out = episodes.copy()
    stop = pd.to_datetime(out["end_date"]).fillna(end)
    out["time"] = (stop - pd.to_datetime(out["start_date"])).dt.days.astype(float)
    ended = out["end_date"].notna().to_numpy()
    planned = out["planned_ending"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    out["ended"] = ended.astype(int)
    out["cause"] = np.where(~ended, 0, np.where(planned, 2, 1))
    out["placement_group"] = out["placement_type"].map(PLACEMENT_GROUPS).fillna("other")
    return out


def _truncate_curve(summary: pd.DataFrame, at_risk: pd.DataFrame | None,
                    min_at_risk: int) -> pd.DataFrame:
    """Drop curve points after the number at risk falls below ``min_at_risk`` (per group)."""
    if at_risk is None:
        return summary
    keep = []
    for g, sub in summary.groupby("group", sort=False):
        risk = at_risk[at_risk["group"] == g]
        last = risk.loc[risk["n_risk"] >= min_at_risk, "time"].max()
        keep.append(sub[sub["time"] <= last] if pd.notna(last) else sub.iloc[:0])
    return pd.concat(keep, ignore_index=True)


@dataclass
class OutcomeReport:
    """All sections of the outcomes-and-effects report for one dataset and period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Validated tables (``episodes`` required; ``placements``, ``followups`` and
        ``referrals`` used where present).
    period_start, period_end : str
        Entry window (inclusive dates).
    data_end : str
        Last date the data cover (censoring date).
    lang : {"sv", "en"}
        Language of headings, labels and texts.
    threshold : int
        Smallest count shown.
    treated, control : str
        Placement types compared in the effect and cost sections.
    horizon : int
        Days of follow-up for the binary outcome (unplanned ending within ``horizon`` days).
    seed : int
        Seed of every simulation and bootstrap.
    n_bootstrap : int
        Bootstrap replicates of the cost-effect interval.
    """

    tables: Mapping[str, pd.DataFrame]
    period_start: str
    period_end: str
    data_end: str
    lang: str = "sv"
    threshold: int = 5
    treated: str = "HVB"
    control: str = "FH"
    horizon: int = 365
    seed: int = 1
    n_bootstrap: int = 200
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.lang not in ("sv", "en"):
            raise ParameterError(f"lang must be 'sv' or 'en', got {self.lang!r}.")
        if "episodes" not in self.tables:
            raise ParameterError("tables has no 'episodes' table; the report needs it.")
        ep = self.tables["episodes"]
        s = pd.to_datetime(ep["start_date"])
        cohort = ep[(s >= pd.Timestamp(self.period_start)) & (s <= pd.Timestamp(self.period_end))]
        self.cohort = episode_outcomes(cohort, self.data_end)

    # ------------------------------------------------------------------ text
    def text(self, key: str) -> str:
        """Heading or explanatory text ``key`` in the report's language (Markdown)."""
        return _TEXT[key][self.lang].format(treated=self.treated, control=self.control,
                                            horizon=self.horizon)

    def _group_label(self, g: str) -> str:
        return _GROUP_LABELS.get(g, {}).get(self.lang, str(g))

    # ------------------------------------------------------------------ measures
    def measures_table(self) -> pd.DataFrame:
        """Outcome measures for the whole entry cohort, protected (display strings)."""
        t, ps, pe, de = self.tables, self.period_start, self.period_end, self.data_end
        ep = t["episodes"]
        rows = [measures.planned_ending_share(ep, ps, pe),
                measures.breakdown_risk(ep, ps, pe, de),
                measures.exit_to_permanency_12m(ep, ps, pe, de)]
        if "placements" in t:
            rows.append(measures.placement_stability(ep, t["placements"], ps, pe))
            rows.append(measures.three_or_more_placements(ep, t["placements"],
                                                          pd.Timestamp(pe).year))
        if "referrals" in t:
            rows.append(measures.re_referral_12m(ep, t["referrals"], ps, pe, de))
        if "followups" in t:
            rows.append(measures.goal_attainment_share(ep, t["followups"], ps, pe))
            rows.append(measures.child_heard_share(ep, t["followups"], ps, pe))
            rows.append(measures.reviews_on_time(ep, t["followups"], ps, pe, de))
        if "placements" in t:
            rows.append(measures.long_term_stability(ep, t["placements"], pe))
        rows.append(measures.re_entry_12m(ep, ps, pe, de))
        table = pd.concat(rows, ignore_index=True)
        return self._protect_measures(table)

    def themes_table(self) -> pd.DataFrame:
        """Mean of the child's own ratings (1-5) per theme; themes with n < 10 are hidden."""
        if "followups" not in self.tables:
            return pd.DataFrame()
        t = measures.child_rated_themes(self.tables["episodes"], self.tables["followups"],
                                        self.period_start, self.period_end)
        small = t["denominator"] < 10
        n = disclosure.protect_counts(t[["denominator"]].astype("int64"),
                                      threshold=self.threshold).to_display()["denominator"]
        return pd.DataFrame({
            _label("theme", self.lang): t["theme"].str.replace("theme_", "", regex=False),
            _label("value", self.lang): np.where(small, "", t["value"].map(lambda x: _fmt(x, 2))),
            _label("ci", self.lang): np.where(
                small, "", "(" + t["ci_lower"].map(lambda x: _fmt(x, 2)) + ", "
                + t["ci_upper"].map(lambda x: _fmt(x, 2)) + ")"),
            "n": n.to_numpy(),
        })

    def _protect_measures(self, table: pd.DataFrame) -> pd.DataFrame:
        labels = {m["name"]: m["label"][self.lang] for m in load_dictionary().measures}
        label = table["measure"].map(lambda m: labels.get(m, m))
        if "horizon_days" in table.columns:
            days = table["horizon_days"]
            label = label.where(days.isna(), label.str.replace(
                r" (inom|within) 12 (och|and) 24 (månader|months)", "", regex=True))
            label = label + np.where(days.notna(), ", " + (days.fillna(0) // 365).astype(int)
                                     .astype(str) + (" år" if self.lang == "sv" else " yr"), "")
        if "age_group" in table.columns:
            other = " (övriga åldrar)" if self.lang == "sv" else " (other ages)"
            has_age = table["measure"].isin(table.loc[table["age_group"].notna(), "measure"])
            label = label + np.where(table["age_group"].notna(),
                                     " (" + table["age_group"].astype(str) + ")",
                                     np.where(has_age, other, ""))
        is_rate = table["measure"].astype(str).str.contains("stability")
        shown = disclosure.protect_rates(table["numerator"].round(), table["denominator"],
                                         threshold=self.threshold)
        out = pd.DataFrame({_label("measure", self.lang): label})
        hidden = shown.isna() & ~is_rate
        out[_label("value", self.lang)] = np.where(hidden, disclosure.SECONDARY_MARK,
                                                   table["value"].map(_fmt))
        out[_label("ci", self.lang)] = np.where(
            hidden, "", "(" + table["ci_lower"].map(_fmt) + ", " + table["ci_upper"].map(_fmt)
            + ")")
        den = disclosure.protect_counts(table[["denominator"]].round().astype("int64"),
                                        threshold=self.threshold)
        out[_label("denominator", self.lang)] = den.to_display()["denominator"].to_numpy()
        return out

    # ------------------------------------------------------------------ curves
    def length_of_stay(self):
        """Kaplan–Meier of time to ending by placement group (cached)."""
        if "km" not in self._cache:
            self._cache["km"] = survival.kaplan_meier(self.cohort, "time", "ended",
                                                      group_col="placement_group")
        return self._cache["km"]

    def length_of_stay_plot(self, ax=None):
        """Kaplan–Meier curves, cut where fewer than ``2 * threshold`` remain at risk."""
        km = self.length_of_stay()
        cut = _truncate_curve(km.summary, km.summary, 2 * self.threshold)
        shown = type(km)(summary=cut, metadata=km.metadata)
        ax = shown.plot(ax=ax)
        ax.set_xlabel("dagar sedan start" if self.lang == "sv" else "days since start")
        self._relabel_legend(ax)
        return ax

    def length_of_stay_table(self) -> pd.DataFrame:
        """Median and quartiles of the length of stay (days) with CIs, by placement group."""
        q = self.length_of_stay().quantiles().copy()
        return self._group_table(q, ["quantile", "estimate", "ci_lower", "ci_upper"], 0)

    def breakdowns(self):
        """Cumulative incidence of unplanned endings by placement group (cached)."""
        if "cif" not in self._cache:
            self._cache["cif"] = survival.cumulative_incidence(
                self.cohort, "time", "cause", event_of_interest=1, group_col="placement_group")
        return self._cache["cif"]

    def breakdown_plot(self, ax=None):
        """Cumulative incidence curves of unplanned endings by placement group."""
        cif = self.breakdowns()
        km = self.length_of_stay()
        cut = _truncate_curve(cif.summary, km.summary, 2 * self.threshold)
        ax = type(cif)(summary=cut, metadata=cif.metadata).plot(ax=ax)
        ax.set_xlabel("dagar sedan start" if self.lang == "sv" else "days since start")
        self._relabel_legend(ax)
        return ax

    def breakdown_table(self) -> pd.DataFrame:
        """Risk of an unplanned ending at 1 and 2 years by group, and Gray's test."""
        at = self.breakdowns().at([365, 730])
        return self._group_table(at, ["time", "estimate", "ci_lower", "ci_upper"], 3)

    def gray_test_text(self) -> str:
        """One sentence with Gray's test of equal cumulative incidence across groups."""
        g = self.breakdowns().gray_test_
        stat, p = float(g.statistic), float(g.p_value)
        if self.lang == "sv":
            return f"Grays test: χ² = {stat:.1f}, p = {p:.3g}."
        return f"Gray's test: chi-square = {stat:.1f}, p = {p:.3g}."

    def _relabel_legend(self, ax) -> None:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, [self._group_label(lab) for lab in labels], fontsize="small")

    def _group_table(self, frame: pd.DataFrame, cols: list[str], decimals: int) -> pd.DataFrame:
        n = self.cohort.groupby("placement_group").size()
        frame = frame[frame["group"].map(n).fillna(0) >= 10]
        out = pd.DataFrame({_label("group", self.lang): frame["group"].map(self._group_label)})
        for c in cols:
            d = {"quantile": 2, "time": 0}.get(c, decimals)
            out[_label(c, self.lang)] = frame[c].map(lambda x, d=d: _fmt(x, d))
        return out.reset_index(drop=True)

    # ------------------------------------------------------------------ models
    def _model_frame(self) -> pd.DataFrame:
        c = self.cohort.copy()
        age = pd.to_datetime(c["start_date"]).dt.year - c["birth_year"].astype(float)
        c["age_13plus"] = (age >= 13).astype(float)
        for col in ("problem_criminality", "problem_child_substance", "problem_child_mental"):
            c[col] = c[col].astype("boolean").fillna(False).astype(float)
        c["breakdown"] = (c["cause"] == 1).astype(int)
        return c

    def cox_model(self):
        """Cox model of the cause-specific hazard of an unplanned ending (cached)."""
        if "cox" not in self._cache:
            c = self._model_frame()
            c = c[c["placement_group"] != "other"]
            self._cache["cox"] = survival.cox(
                c, "time", "breakdown",
                ["placement_group", "age_13plus", "problem_criminality",
                 "problem_child_substance", "problem_child_mental"],
                strata="municipality_code", cluster_col="child_id")
        return self._cache["cox"]

    def cox_table(self) -> pd.DataFrame:
        """Hazard ratios with 95% CIs and p-values (display strings)."""
        return self._term_table(self.cox_model().summary)

    def ph_table(self) -> pd.DataFrame:
        """Proportional-hazards test per term and globally (display strings)."""
        out = self.cox_model().ph_test().summary.copy()
        for c in out.columns:
            if pd.api.types.is_float_dtype(out[c]):
                out[c] = out[c].map(lambda x: _fmt(x, 3))
        return out.reset_index()

    def fine_gray_model(self):
        """Fine–Gray model of the risk of an unplanned ending (cached)."""
        if "fg" not in self._cache:
            c = self._model_frame()
            c = c[c["placement_group"] != "other"]
            self._cache["fg"] = survival.fine_gray(
                c, "time", "cause", 1,
                ["placement_group", "age_13plus", "problem_criminality",
                 "problem_child_substance", "problem_child_mental"])
        return self._cache["fg"]

    def fine_gray_table(self) -> pd.DataFrame:
        """Subdistribution hazard ratios with 95% CIs (display strings)."""
        return self._term_table(self.fine_gray_model().summary)

    def _term_table(self, s: pd.DataFrame) -> pd.DataFrame:
        s = s.reset_index()
        term = s.columns[0]
        return pd.DataFrame({
            _label("term", self.lang): s[term].astype(str),
            _label("exp_estimate", self.lang): np.exp(s["estimate"]).map(lambda x: _fmt(x, 2)),
            _label("ci", self.lang): "(" + np.exp(s["ci_lower"]).map(lambda x: _fmt(x, 2))
            + ", " + np.exp(s["ci_upper"]).map(lambda x: _fmt(x, 2)) + ")",
            _label("p_value", self.lang): s["p_value"].map(lambda x: f"{x:.3g}"),
        })

    # ------------------------------------------------------------------ journey
    def journey(self):
        """State occupation of the journey since placement start (cached)."""
        if "journey" not in self._cache:
            from .multistate import journey_states, state_occupation

            tabs = {k: v for k, v in self.tables.items()
                    if k in ("episodes", "placements", "referrals")}
            ep = tabs["episodes"]
            tabs["episodes"] = ep[ep["episode_id"].isin(self.cohort["episode_id"])]
            js = journey_states(tabs, data_end=self.data_end)
            self._cache["journey"] = state_occupation(js, "episode_id", "tstart", "tstop",
                                                       "state", initial_state="istate")
        return self._cache["journey"]

    def journey_plot(self, ax=None):
        """Stacked-area plot of the journey's state occupation.

        The time axis stops where fewer than ``2 * threshold`` placements remain in the
        length-of-stay risk set, as the other curves do.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.subplots(figsize=(8, 4.5))[1]
        ax = self.journey().plot(ax=ax, lang=self.lang)
        km = self.length_of_stay().summary
        at_risk = km.groupby("time")["n_risk"].sum()
        last = at_risk[at_risk >= 2 * self.threshold].index.max()
        if pd.notna(last):
            ax.set_xlim(0, last)
        ax.set_xlabel("dagar sedan start" if self.lang == "sv" else "days since start")
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1),
                      fontsize="small")
        return ax

    # ------------------------------------------------------------------ effects
    def effect_frame(self) -> pd.DataFrame:
        """Episodes with ``horizon`` days of follow-up, outcome, confounders and cost."""
        if "frame" not in self._cache:
            ep = self.tables["episodes"]
            s = pd.to_datetime(ep["start_date"])
            ep = ep[(s >= pd.Timestamp(self.period_start)) & (s <= pd.Timestamp(self.period_end))]
            frame = synth.effect_frame(ep, horizon=self.horizon, end=str(self.data_end)[:10])
            cost = costs.episode_costs(ep, data_end=self.data_end).set_index("episode_id")
            days = np.minimum(cost["care_days"].astype(float), self.horizon)
            frame[f"cost_{self.horizon}d"] = frame["episode_id"].map(
                days * cost["daily_cost_sek"]).to_numpy()
            frame["child_id"] = frame["episode_id"].map(ep.set_index("episode_id")["child_id"])
            self._cache["frame"] = frame
        return self._cache["frame"]

    def effect(self):
        """AIPW estimate of ``treated`` vs ``control`` on the risk of an unplanned ending."""
        if "effect" not in self._cache:
            f = self.effect_frame()
            f = f[f["placement_type"].isin([self.treated, self.control])]
            self._cache["effect"] = effects.estimate_effect(
                f, "placement_type", f"unplanned_{self.horizon}d", _CONFOUNDERS,
                method="aipw", estimand="ATE", treated=self.treated, control=self.control,
                cluster_col="child_id")
        return self._cache["effect"]

    def effect_table(self) -> pd.DataFrame:
        """Naive and adjusted (AIPW) risk difference and ratio (display strings)."""
        f = self.effect_frame()
        f = f[f["placement_type"].isin([self.treated, self.control])]
        naive = effects.estimate_effect(f, "placement_type", f"unplanned_{self.horizon}d",
                                        _CONFOUNDERS, method="naive", treated=self.treated,
                                        control=self.control).summary
        adj = self.effect().summary
        label = {"sv": ("ojusterad", "justerad (AIPW)"), "en": ("naive", "adjusted (AIPW)")}
        rows = []
        for name, s in zip(label[self.lang], (naive, adj), strict=True):
            for _, r in s.iterrows():
                rows.append({_label("measure", self.lang): f"{r['measure']} ({name})",
                             _label("estimate", self.lang): _fmt(r["estimate"]),
                             _label("ci", self.lang): f"({_fmt(r['ci_lower'])}, "
                                                      f"{_fmt(r['ci_upper'])})",
                             _label("p_value", self.lang): f"{r['p_value']:.3g}"})
        return pd.DataFrame(rows)

    def balance_table(self) -> pd.DataFrame:
        """Standardised mean differences before and after weighting (display strings)."""
        b = self.effect().balance.copy()
        for c in b.columns:
            if pd.api.types.is_float_dtype(b[c]):
                b[c] = b[c].map(lambda x: _fmt(x, 3))
        return b

    def e_value_table(self) -> pd.DataFrame:
        """E-values of the adjusted estimate and its confidence limit nearest the null."""
        e = self.effect().e_value().copy()
        for c in e.columns:
            if pd.api.types.is_float_dtype(e[c]):
                e[c] = e[c].map(lambda x: _fmt(x, 2))
        return e

    # ------------------------------------------------------------------ comparison
    def comparison(self):
        """Risk-standardised rates of unplanned ending within ``horizon`` by municipality."""
        if "rsr" not in self._cache:
            f = self.effect_frame().copy()
            self._cache["rsr"] = comparison.risk_standardised(
                f, f"unplanned_{self.horizon}d", "municipality_code",
                ["age_13plus", "male", "lvu_behaviour", "placement_type", "problem_criminality",
                 "problem_child_substance", "problem_child_mental"],
                reference={"placement_type": "FH"}, seed=self.seed)
        return self._cache["rsr"]

    def comparison_table(self) -> pd.DataFrame:
        """Per-municipality table with disclosure control (display strings)."""
        return self.comparison().to_display(lang=self.lang, threshold=self.threshold)

    def funnel_plot(self, ax=None):
        """Funnel plot of observed shares against the number of placements."""
        ax = comparison.funnel_plot(self.comparison(), ax=ax)
        if self.lang == "sv":
            ax.set_xlabel("antal placeringar (n)")
            ax.set_ylabel("andel oplanerade avslut")
        else:
            ax.set_ylabel("share of unplanned endings")
        return ax

    # ------------------------------------------------------------------ costs
    def cost_table(self) -> pd.DataFrame:
        """Care days and costs in the period by placement type (counts protected)."""
        t = costs.care_costs(self.tables["episodes"], self.period_start, self.period_end,
                             group_cols=["placement_type"])
        counts = disclosure.protect_counts(t[["episodes", "children"]].astype("int64"),
                                           threshold=self.threshold).to_display()
        small = t["episodes"] < 10
        out = pd.DataFrame({"placement_type": t["placement_type"]})
        out["episodes"] = counts["episodes"].to_numpy()
        out["children"] = counts["children"].to_numpy()
        for c in ("care_days", "cost_per_day", "cost_per_episode", "cost_per_child"):
            out[c] = np.where(small, disclosure.SECONDARY_MARK,
                              t[c].map(lambda x: "" if pd.isna(x) else f"{x:,.0f}"))
        out["cost_msek"] = np.where(small, disclosure.SECONDARY_MARK,
                                    (t["cost_sek"] / 1e6).map(lambda x: f"{x:,.1f}"))
        return out

    def cost_effect(self):
        """Adjusted extra cost per avoided breakdown, ``treated`` vs ``control`` (cached)."""
        if "ice" not in self._cache:
            f = self.effect_frame()
            f = f[f["placement_type"].isin([self.treated, self.control])
                  & f[f"cost_{self.horizon}d"].notna()]
            self._cache["ice"] = costs.incremental_cost_effect(
                f, "placement_type", f"cost_{self.horizon}d", f"unplanned_{self.horizon}d",
                _CONFOUNDERS, treated=self.treated, control=self.control,
                cluster_col="child_id", n_bootstrap=self.n_bootstrap, seed=self.seed)
        return self._cache["ice"]

    def cost_effect_text(self) -> str:
        """Which quadrant of the cost-effectiveness plane the estimate lies in, in words."""
        m = self.cost_effect().metadata
        quadrant = {"more costly, fewer breakdowns": "dyrare, färre sammanbrott",
                    "less costly, fewer breakdowns (dominant)": "billigare, färre sammanbrott",
                    "more costly, more breakdowns (dominated)": "dyrare, fler sammanbrott",
                    "less costly, more breakdowns": "billigare, fler sammanbrott"}
        if self.lang == "sv":
            return (f"{self.treated} jämfört med {self.control}: {quadrant[m['quadrant']]}. "
                    "Kvoten (kostnad per undvikt sammanbrott) är bara meningsfull i kvadranten "
                    "dyrare, färre sammanbrott.")
        return (f"{self.treated} compared with {self.control}: {m['quadrant']}. The ratio (cost "
                "per avoided breakdown) is only meaningful in the quadrant more costly, fewer "
                "breakdowns.")

    def cost_effect_plot(self, ax=None):
        """Cost-effectiveness plane of the bootstrap replicates."""
        return self.cost_effect().plot(ax=ax)

    def cost_effect_table(self) -> pd.DataFrame:
        """The cost-effect summary (display strings)."""
        s = self.cost_effect().summary
        return pd.DataFrame({
            _label("measure", self.lang): s["measure"],
            _label("estimate", self.lang): s["estimate"].map(lambda x: _fmt(x, 3)),
            _label("ci", self.lang): "(" + s["ci_lower"].map(lambda x: _fmt(x, 3)) + ", "
            + s["ci_upper"].map(lambda x: _fmt(x, 3)) + ")",
        })
