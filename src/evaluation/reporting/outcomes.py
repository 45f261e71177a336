"""Building blocks of the outcomes-and-effects report (``notebooks/02-outcomes-and-effects``).

The notebook stays thin: every number, table and figure comes from a method of
:class:`OutcomeReport`, which calls the estimators of :mod:`evaluation.measures`,
:mod:`evaluation.models` and :mod:`evaluation.measures.costs` and applies disclosure control
before anything is shown. This module holds the analysis and the layout only: the wording
(Swedish and English) is in ``catalogs/outcomes.yaml`` and ``catalogs/plots.yaml``, numbers
are written by :mod:`evaluation.reporting.text`, and model warnings become notes in
:mod:`evaluation.reporting.notes`.

Disclosure rules applied to everything displayed
-----------------------------------------------
The report takes a :class:`~evaluation.disclosure.DisclosurePolicy` (``policy``: publication
mode by default, internal only when asked for). In publication mode the entry period snaps to
whole months (the intro says so), every count shown is the cell-key perturbed count of its
cell's records, shares, rates and intervals are computed from those published counts, and no
estimate or model is shown for a group or arm with too few children, events or non-events
(:mod:`evaluation.reporting.outcome_counts` holds the counting and these rules). Curves stop
where fewer than ``policy.min_children`` remain at risk. No identifiers or pseudonyms reach a
table. Internal mode shows exact numbers under :meth:`OutcomeReport.banner_text`; both modes
end with :meth:`OutcomeReport.footer_text`.

Model warnings
--------------
The estimators warn when a result is valid but fragile (separation, positivity, constant
covariates, extreme weights, non-convergence ...). Each section's methods record the warnings
they raise (and pass them on unchanged to the caller's warning filters);
:meth:`OutcomeReport.notes_text` lists them once each, in the report's language, as the
section "Anmärkningar om modellerna" / "Notes on the models". A warning is explained by its
class (:mod:`evaluation.reporting.notes`); a warning of any other class is quoted, with
identifiers and pseudonyms replaced by ``[id]`` and whole numbers from 1 to ``threshold - 1``
(possible small counts) by ``"<threshold"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation import disclosure, measures
from evaluation.checks import LANGUAGES
from evaluation.data import analysis_frame
from evaluation.data.cohort import JOURNEY_LABELS, episode_outcomes, journey_states
from evaluation.data.dictionary import load_dictionary, municipality_label
from evaluation.disclosure import DisclosurePolicy
from evaluation.errors import (
    CaseMixTermDroppedWarning,
    ConvergenceError,
    ParameterError,
)
from evaluation.measures import costs
from evaluation.models import comparison, competing_risks, effects, funnel, survival
from evaluation.models.coxph import cox
from evaluation.models.finegray import fine_gray
from evaluation.models.multistate import state_occupation
from evaluation.reporting.comparison_table import comparison_display
from evaluation.reporting.notes import (
    CapturedWarning,
    WarningRecorder,
    collects,
    escape_markdown,
    notes_markdown,
    notes_table,
    sanitise_text,
)
from evaluation.reporting.outcome_costs import CostSections
from evaluation.reporting.outcome_counts import MODEL_TERMS, PublishedCounts
from evaluation.reporting.plots import chart_alt_text, truncate_curve
from evaluation.reporting.tables import (
    column_label,
    measure_label,
    measures_display,
    ph_test_display,
    ratio_display,
    table_caption,
    themes_display,
    themes_scale_text,
)
from evaluation.reporting.text import (
    confounder_text,
    format_interval,
    format_number,
    format_p_value,
    number_legend,
    number_ticks,
    phrase,
    phrases,
    term_label,
    with_decimal_mark,
)

__all__ = ["OutcomeReport"]

#: Sections of the report in their order, as keys of the section ``text`` of the catalog
#: (notes name their headings).
_SECTIONS = ("measures", "stay", "breakdown", "models", "journey", "effect", "comparison",
             "costs")

#: Case mix of the fair comparison (terms that separate the outcome are left out, with a note).
_COMPARISON_CASE_MIX = ("age_13plus", "male", "lvu_behaviour", "placement_type",
                        "problem_criminality", "problem_child_substance", "problem_child_mental")

#: Covariates of the Cox and Fine–Gray models of breakdowns.
_MODEL_TERMS = MODEL_TERMS




@dataclass
class OutcomeReport(PublishedCounts, CostSections):
    """All sections of the outcomes-and-effects report for one dataset and period.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Validated tables (``episodes`` required; ``placements``, ``followups`` and
        ``referrals`` used where present).
    period_start, period_end : str
        Entry window (inclusive dates). These and all later arguments are keyword-only.
    data_end : str
        Last date the data cover (censoring date).
    lang : {"sv", "en"}
        Language of headings, labels and texts.
    threshold : int
        Smallest count shown: builds the default policy when ``policy`` is None.
    policy : DisclosurePolicy, optional
        None is publication mode (:class:`~evaluation.disclosure.DisclosurePolicy`);
        ``DisclosurePolicy(mode="internal")`` gives exact numbers that must stay inside.
    treated, control : str
        Placement types compared in the effect and cost sections.
    horizon : int
        Days of follow-up for the binary outcome (unplanned ending within ``horizon`` days).
    seed : int
        Seed of every simulation and bootstrap.
    n_bootstrap : int
        Bootstrap replicates of the cost-effect interval.

    Raises
    ------
    ParameterError
        On an unknown ``lang`` (message in both languages), or, in the report's language, on
        a ``threshold``, ``horizon`` or ``n_bootstrap`` that is not a whole number large
        enough, a date that cannot be read, a period that ends before it starts or after
        ``data_end``, a period without placements, or ``treated``/``control`` that are equal
        or absent from the period.

    Notes
    -----
    Every section method records the warnings its models raise; :meth:`notes` and
    :meth:`notes_text` list them in plain words (see the module docstring).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> data = synth.generate(n_children=300, n_municipalities=5, seed=1)
    >>> period = {"period_start": "2019-01-01", "period_end": "2023-12-31",
    ...           "data_end": "2024-12-31"}
    >>> rep = OutcomeReport(data.tables, **period)
    >>> rep.text("notes")
    '## Anmärkningar om modellerna'
    >>> OutcomeReport(data.tables, **period, treated="XYZ")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: treated='XYZ': ingen placering av den formen startar ...
    """

    tables: Mapping[str, pd.DataFrame]
    _: KW_ONLY
    period_start: str
    period_end: str
    data_end: str
    lang: str = "sv"
    threshold: int = 5
    policy: DisclosurePolicy | None = None
    treated: str = "HVB"
    control: str = "FH"
    horizon: int = 365
    seed: int = 1
    n_bootstrap: int = 200
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _recorder: WarningRecorder = field(default_factory=WarningRecorder, repr=False)

    def _error(self, key: str, **fields: Any) -> ParameterError:
        """A parameter error whose message (catalog section ``errors``) is in the report's
        language."""
        return ParameterError(phrase("outcomes", "errors", key, self.lang, **fields))

    def _date(self, name: str) -> pd.Timestamp:
        value = getattr(self, name)
        try:
            return pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise self._error("not_a_date", name=name, value=value) from exc

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:  # the language is unknown: say it in both
            raise ParameterError(" / ".join(phrase("outcomes", "errors", "lang", lang,
                                                   value=self.lang) for lang in LANGUAGES))
        for name, least in (("threshold", 1), ("horizon", 1), ("n_bootstrap", 0)):
            value = getattr(self, name)
            if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                    or value < least):
                raise self._error("whole_number", name=name, least=least, value=value)
        if self.policy is None:
            self.policy = DisclosurePolicy(threshold=int(self.threshold))
        elif not isinstance(self.policy, DisclosurePolicy):
            raise ParameterError(f"policy must be a DisclosurePolicy, got {self.policy!r}.")
        self.threshold = self.policy.threshold
        if "episodes" not in self.tables:
            raise self._error("no_episodes")
        start, end, data_end = (self._date(n) for n in ("period_start", "period_end",
                                                         "data_end"))
        ep = self.tables["episodes"]
        period = {"period_start": self.period_start, "period_end": self.period_end,
                  "data_end": self.data_end}
        if end < start:
            raise self._error("end_before_start", **period)
        if data_end < end:
            raise self._error("data_end_before_end", **period)
        self.requested_period = (self.period_start, self.period_end)
        start, end = self.policy.period(start, end)
        if end > data_end:  # the month of data_end is not complete: stop at the month before
            end = data_end.to_period("M").start_time.normalize() - pd.Timedelta(days=1)
            end = max(end, start)
        if self.policy.publication:
            self.period_start, self.period_end = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
        s = pd.to_datetime(ep["start_date"])
        cohort = ep[(s >= start) & (s <= end)]
        self._child_of = ep.drop_duplicates("episode_id").set_index("episode_id")["child_id"]
        if cohort.empty:
            raise self._error("no_placements", **period, first=f"{s.min():%Y-%m-%d}",
                              last=f"{s.max():%Y-%m-%d}")
        present = sorted(cohort["placement_type"].dropna().astype(str).unique())
        if self.treated == self.control:
            raise self._error("same_arms", treated=self.treated, present=present)
        for name, value in (("treated", self.treated), ("control", self.control)):
            if value not in present:
                raise self._error("arm_absent", name=name, value=value, present=present)
        self.cohort = episode_outcomes(cohort, self.data_end)

    # ------------------------------------------------------------------ text
    def text(self, key: str) -> str:
        """Heading or explanatory text ``key`` in the report's language (Markdown).

        The intro ends with the period (entry window and data end) and, when publication
        mode snapped it to whole months, a sentence saying so."""
        out = phrase("outcomes", "text", key, self.lang, treated=self.arm_label(self.treated),
                     control=self.arm_label(self.control), horizon=self.horizon,
                     confounders=confounder_text(self.lang))
        if key == "intro":
            out += "\n\n" + phrase("outcomes", "period", "entry_window", self.lang,
                                    start=self.period_start, end=self.period_end,
                                    data_end=f"{pd.Timestamp(self.data_end):%Y-%m-%d}")
        if key == "intro" and self.requested_period != (self.period_start, self.period_end):
            out += " " + phrase("disclosure", "page", "period_snapped", self.lang,
                                start=self.period_start, end=self.period_end)
        return out

    def arm_label(self, code: str) -> str:
        """A placement type as the text names it mid-sentence: the dictionary's label in the
        report's language, lower-case unless it is a name ("familjehem", "HVB",
        "SiS särskilt ungdomshem")."""
        column = load_dictionary().column("episodes", "placement_type")
        label = column.code_label(code, self.lang) if code in column.code_values else code
        first = label.split(" ")[0]
        return label if any(c.isupper() for c in first[1:]) else label[:1].lower() + label[1:]

    def _fields(self) -> dict[str, Any]:
        return {"treated": self.arm_label(self.treated), "control": self.arm_label(self.control),
                "horizon": self.horizon,
                "min_children": self.policy.min_children, "min_events": self.policy.min_events,
                "threshold": self.threshold}

    def caption(self, name: str) -> str:
        """What the table made by the method ``name`` shows and how to read it (Markdown, in
        the report's language; catalog ``outcomes.captions``), e.g. ``caption("cox_table")``.
        The caption of ``themes_table`` ends with the scale of the ratings
        (:func:`~evaluation.reporting.tables.themes_scale_text`).

        Raises
        ------
        ParameterError
            If no table of the report has that name.
        """
        text = table_caption("outcomes", name, self.lang, **self._fields())
        if name == "themes_table":
            text += " " + themes_scale_text(self.lang)
        return text

    def alt_text(self, name: str) -> str:
        """What the chart made by the method ``name`` shows, in words, for the ``alt`` of its
        image (catalog ``outcomes.alt_texts``), e.g. ``alt_text("breakdown_plot")``.

        Raises
        ------
        ParameterError
            If no chart of the report has that name.
        """
        return chart_alt_text("outcomes", name, self.lang, **self._fields())

    def _axis(self, key: str) -> str:
        """Axis label ``key`` of the plots catalog, in the report's language."""
        return phrase("plots", "axes", key, self.lang, treated=self.arm_label(self.treated),
                      control=self.arm_label(self.control), horizon=self.horizon)

    def _group_label(self, g: str) -> str:
        return phrases("outcomes", "groups", self.lang).get(g, str(g))

    def _measure_label(self, m: str) -> str:
        return measure_label(m, self.lang, self.horizon)

    # ------------------------------------------------------------------ measures
    @collects("measures")
    def measures_table(self) -> pd.DataFrame:
        """Outcome measures for the whole entry cohort, protected (display strings)."""
        return measures_display(self.measures_counts(), lang=self.lang, policy=self.policy)

    @collects("measures")
    def themes_table(self) -> pd.DataFrame:
        """Mean of the child's own ratings (1-5) per theme; themes with n < 10 are hidden."""
        if "followups" not in self.tables:
            return pd.DataFrame()
        ep, fu = self.tables["episodes"], self.tables["followups"]
        ps, pe = self.period_start, self.period_end
        t = self._published_rows(
            measures.child_rated_themes(ep, fu, ps, pe),
            measures.child_rated_themes(ep, fu, ps, pe, group_cols=["episode_id"]), "followup")
        return themes_display(t, lang=self.lang, policy=self.policy)

    # ------------------------------------------------------------------ curves
    @collects("stay")
    def length_of_stay(self):
        """Kaplan–Meier of time to ending by placement group (cached)."""
        if "km" not in self._cache:
            self._cache["km"] = survival.kaplan_meier(self.cohort, "time", "ended",
                                                      group_col="placement_group")
        return self._cache["km"]

    @collects("stay")
    def length_of_stay_plot(self, ax=None):
        """Kaplan–Meier curves, cut where fewer than ``policy.min_children`` remain at risk."""
        km = self.length_of_stay()
        cut = truncate_curve(km.summary, km.summary, self.policy.min_children)
        ax = type(km)(summary=cut, metadata=km.metadata).plot(ax=ax)
        return self._curve_axes(ax, "share_ongoing")

    @collects("stay")
    def length_of_stay_table(self) -> pd.DataFrame:
        """Median and quartiles of the length of stay (days) with CIs, by placement group."""
        q = self.length_of_stay().quantiles().copy()
        out = self._group_table(q, ["quantile", "estimate", "ci_lower", "ci_upper"], 0,
                                event=self.cohort["ended"].astype(bool), non_events=False)
        unit = phrase("outcomes", "labels", "days_unit", self.lang)
        return out.rename(columns={column_label(c, self.lang): column_label(c, self.lang) + unit
                                   for c in ("estimate", "ci_lower", "ci_upper")})

    @collects("breakdown")
    def breakdowns(self):
        """Cumulative incidence of unplanned endings by placement group (cached)."""
        if "cif" not in self._cache:
            self._cache["cif"] = competing_risks.cumulative_incidence(
                self.cohort, "time", "cause", event_of_interest=1, group_col="placement_group")
        return self._cache["cif"]

    @collects("breakdown")
    def breakdown_plot(self, ax=None):
        """Cumulative incidence curves of unplanned endings by placement group."""
        cif = self.breakdowns()
        km = self.length_of_stay()
        cut = truncate_curve(cif.summary, km.summary, self.policy.min_children)
        ax = type(cif)(summary=cut, metadata=cif.metadata).plot(ax=ax)
        return self._curve_axes(ax, "cumulative_risk")

    def _curve_axes(self, ax, ylabel: str):
        """Axis labels, tick numbers and group legend of a curve by placement group."""
        ax.set_xlabel(self._axis("days_since_start"))
        ax.set_ylabel(self._axis(ylabel))
        number_ticks(ax, self.lang)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, [self._group_label(lab) for lab in labels], fontsize="small")
        return ax

    @collects("breakdown")
    def breakdown_table(self) -> pd.DataFrame:
        """Risk of an unplanned ending at 1 and 2 years by group.

        Only groups with enough children and breakdowns (and placements without one) are
        listed (:meth:`_allowed`), and, as with the curves, a risk is not shown (".."
        instead) where fewer than ``policy.min_children`` placements of the group are still
        followed at that day.
        """
        at = self.breakdowns().at([365, 730]).reset_index(drop=True)
        c = self.cohort
        for i, row in at.iterrows():   # risks follow the published counts (publication mode)
            at.loc[i, ["estimate", "ci_lower", "ci_upper"]] = self.published_risk(
                c[c["placement_group"] == row["group"]], row["time"], row["estimate"],
                row["ci_lower"], row["ci_upper"])
        at_risk = np.array([int(((c["placement_group"] == g) & (c["time"] >= t)).sum())
                            for g, t in zip(at["group"], at["time"], strict=True)])
        event = c["cause"] == 1
        out = self._group_table(at, ["time", "estimate", "ci_lower", "ci_upper"], 3,
                                event=event)
        ok = self._groups_allowed(c, "placement_group", event)
        few = at_risk[at["group"].map(ok).fillna(False).astype(bool).to_numpy()
                      ] < self.policy.min_children
        for col in ("estimate", "ci_lower", "ci_upper"):
            name = column_label(col, self.lang)
            out[name] = np.where(few, disclosure.SECONDARY_MARK, out[name])
        return out.rename(columns={column_label("time", self.lang): column_label("days", self.lang)})

    @collects("breakdown")
    def gray_test_text(self) -> str:
        """One sentence with Gray's test of equal cumulative incidence across groups (the
        withheld sentence when a group does not clear the disclosure policy)."""
        c = self.cohort
        if not all(self._groups_allowed(c, "placement_group", c["cause"] == 1).values()):
            return self.withheld_text()
        g = self.breakdowns().gray_test_
        p = format_p_value(float(g.p_value), self.lang)
        return phrase("outcomes", "sentences", "gray_test", self.lang,
                      statistic=format_number(float(g.statistic), 1, self.lang),
                      p="< " + p[1:] if p.startswith("<") else "= " + p)

    def _group_table(self, frame: pd.DataFrame, cols: list[str], decimals: int,
                     event: pd.Series | None = None, non_events: bool = True) -> pd.DataFrame:
        """Rows of the groups that clear the disclosure policy (children; events and
        non-events of ``event``), numbers written in the report's language."""
        ok = self._groups_allowed(self.cohort, "placement_group", event, non_events)
        frame = frame[frame["group"].map(ok).fillna(False).astype(bool)]
        out = pd.DataFrame({column_label("group", self.lang): frame["group"].map(self._group_label)})
        for c in cols:
            d = {"quantile": 2, "time": 0}.get(c, decimals)
            out[column_label(c, self.lang)] = frame[c].map(
                lambda x, d=d: format_number(x, d, self.lang))
        return out.reset_index(drop=True)

    # ------------------------------------------------------------------ models
    def _model_frame(self) -> pd.DataFrame:
        c = self.cohort.copy()
        age = pd.to_datetime(c["start_date"]).dt.year - c["birth_year"].astype(float)
        c["age_13plus"] = (age >= 13).astype(float)
        for col in ("problem_criminality", "problem_child_substance", "problem_child_mental"):
            c[col] = c[col].astype("boolean").fillna(False).astype(float)
        c["breakdown"] = (c["cause"] == 1).astype(int)
        return c[c["placement_group"] != "other"]

    @collects("models")
    def cox_model(self):
        """Cox model of the cause-specific hazard of an unplanned ending (cached)."""
        if "cox" not in self._cache:
            self._cache["cox"] = cox(self._model_frame(), "time", "breakdown", _MODEL_TERMS,
                                     strata_col="municipality_code", cluster_col="child_id")
        return self._cache["cox"]

    @collects("models")
    def cox_table(self) -> pd.DataFrame:
        """Hazard ratios with 95% CIs and p-values (display strings; empty when the
        disclosure policy withholds the models, see :meth:`models_allowed`)."""
        if not self.models_allowed():
            return pd.DataFrame()
        return ratio_display(self.cox_model().summary, lang=self.lang)

    @collects("models")
    def ph_table(self) -> pd.DataFrame:
        """Proportional-hazards test per term and globally (display; empty if withheld)."""
        if not self.models_allowed():
            return pd.DataFrame()
        return ph_test_display(self.cox_model().ph_test().summary, lang=self.lang)

    @collects("models")
    def fine_gray_model(self):
        """Fine–Gray model of the risk of an unplanned ending (cached)."""
        if "fg" not in self._cache:
            self._cache["fg"] = fine_gray(self._model_frame(), "time", "cause", 1, _MODEL_TERMS)
        return self._cache["fg"]

    @collects("models")
    def fine_gray_table(self) -> pd.DataFrame:
        """Subdistribution hazard ratios with 95% CIs (display; empty if withheld)."""
        if not self.models_allowed():
            return pd.DataFrame()
        return ratio_display(self.fine_gray_model().summary, lang=self.lang)

    # ------------------------------------------------------------------ journey
    @collects("journey")
    def journey(self):
        """State occupation of the journey since placement start (cached)."""
        if "journey" not in self._cache:
            tabs = {k: v for k, v in self.tables.items()
                    if k in ("episodes", "placements", "referrals")}
            ep = tabs["episodes"]
            tabs["episodes"] = ep[ep["episode_id"].isin(self.cohort["episode_id"])]
            js = journey_states(tabs, data_end=self.data_end)
            self._cache["journey"] = state_occupation(js, "episode_id", "tstart", "tstop",
                                                       "state", initial_state="istate")
        return self._cache["journey"]

    @collects("journey")
    def journey_plot(self, ax=None):
        """Stacked-area plot of the journey's state occupation.

        The time axis stops where fewer than ``policy.min_children`` placements remain in
        the length-of-stay risk set, as the other curves do.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.subplots(figsize=(8, 4.5))[1]
        res = self.journey()
        labels = {s: JOURNEY_LABELS.get(s, {}).get(self.lang, s)
                  for s in (*JOURNEY_LABELS, *res.states_)}
        ax = res.plot(ax=ax, labels=labels, xlabel=self._axis("days_since_start"),
                      ylabel=self._axis("probability_in_state"))
        km = self.length_of_stay().summary
        at_risk = km.groupby("time")["n_risk"].sum()
        last = at_risk[at_risk >= self.policy.min_children].index.max()
        if pd.notna(last):
            ax.set_xlim(0, last)
        number_ticks(ax, self.lang)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1),
                      fontsize="small")
        return ax

    # ------------------------------------------------------------------ effects
    def adjustment(self) -> list[str]:
        """The confounders of :data:`evaluation.data.analysis_frame.EFFECT_COVARIATES` that vary
        in the two-arm sample; a column constant there (e.g. no 13-year-olds with ``horizon``
        days of follow-up in a small dataset) needs no adjustment and cannot be estimated."""
        f = self._two_arms()
        return [c for c in analysis_frame.EFFECT_COVARIATES if f[c].nunique(dropna=True) > 1]

    def effect_frame(self) -> pd.DataFrame:
        """Episodes with ``horizon`` days of follow-up, outcome, confounders and cost."""
        if "frame" not in self._cache:
            ep = self.tables["episodes"]
            s = pd.to_datetime(ep["start_date"])
            ep = ep[(s >= pd.Timestamp(self.period_start)) & (s <= pd.Timestamp(self.period_end))]
            frame = analysis_frame.effect_frame(ep, horizon=self.horizon,
                                                end=str(self.data_end)[:10])
            cost = costs.episode_costs(ep, data_end=self.data_end).set_index("episode_id")
            days = np.minimum(cost["care_days"].astype(float), self.horizon)
            frame[f"cost_{self.horizon}d"] = frame["episode_id"].map(
                days * cost["daily_cost_sek"]).to_numpy()
            frame["child_id"] = frame["episode_id"].map(ep.set_index("episode_id")["child_id"])
            self._cache["frame"] = frame
        return self._cache["frame"]

    def _two_arms(self) -> pd.DataFrame:
        """Rows of :meth:`effect_frame` in ``treated`` or ``control``."""
        f = self.effect_frame()
        return f[f["placement_type"].isin([self.treated, self.control])]

    def _estimate_effect(self, method: str, **options: Any):
        return effects.estimate_effect(
            self._two_arms(), "placement_type", f"unplanned_{self.horizon}d", self.adjustment(),
            method=method, treated=self.treated, control=self.control, **options)

    @collects("effect")
    def effect(self):
        """AIPW estimate of ``treated`` vs ``control`` on the risk of an unplanned ending."""
        if "effect" not in self._cache:
            self._cache["effect"] = self._estimate_effect("aipw", estimand="ATE",
                                                          cluster_col="child_id")
        return self._cache["effect"]

    @collects("effect")
    def effect_table(self) -> pd.DataFrame:
        """Naive and adjusted (AIPW) risk difference and ratio (display strings; empty when
        the disclosure policy withholds them, see :meth:`effect_allowed`)."""
        if not self.effect_allowed():
            return pd.DataFrame()
        naive = self.naive_effect()
        lang, rows = self.lang, []
        for name, s in ((phrase("outcomes", "labels", "naive", lang), naive),
                        (phrase("outcomes", "labels", "adjusted", lang), self.effect().summary)):
            for _, r in s.iterrows():
                rows.append({
                    column_label("measure", lang): f"{self._measure_label(r['measure'])}, {name}",
                    column_label("estimate", lang): format_number(r["estimate"], 3, lang),
                    column_label("ci", lang): format_interval(r["ci_lower"], r["ci_upper"], 3, lang),
                    column_label("p_value", lang): format_p_value(r["p_value"], lang)})
        return pd.DataFrame(rows)

    @collects("effect")
    def balance_table(self) -> pd.DataFrame:
        """Standardised mean differences before and after weighting (display strings).

        Only the SMDs are shown, not the covariate means by arm: a mean of a 0/1 covariate
        times the arm's size would give back small counts.
        """
        if not self.effect_allowed():
            return pd.DataFrame()
        b, lang = self.effect().balance, self.lang
        out = pd.DataFrame({column_label("covariate", lang): b["covariate"].map(
            lambda t: term_label(t, lang))})
        for c in ("smd_unadjusted", "smd_adjusted"):
            out[column_label(c, lang)] = b[c].map(lambda x: format_number(x, 3, lang))
        return out

    @collects("effect")
    def love_plot(self, ax=None):
        """Balance (love) plot, labels in the report's language (None if withheld)."""
        if not self.effect_allowed():
            return None
        ax = self.effect().love_plot(ax=ax)
        ax.set_yticklabels([term_label(t.get_text(), self.lang) for t in ax.get_yticklabels()])
        ax.set_xlabel(self._axis("smd"))
        legend = phrases("plots", "legends", self.lang)
        ax.legend(ax.get_legend_handles_labels()[0], [legend["unadjusted"], legend["weighted"]])
        number_ticks(ax, self.lang, "x")
        return ax

    @collects("effect")
    def overlap_plot(self, ax=None):
        """Propensity scores by arm, labels in the report's language (None if withheld)."""
        if not self.effect_allowed():
            return None
        ax = self.effect().overlap_plot(ax=ax, level=self.treated)
        ax.set_xlabel(self._axis("propensity"))
        ax.set_ylabel(self._axis("density"))
        ax.legend(title=phrase("plots", "legends", "observed_arm", self.lang))
        number_ticks(ax, self.lang)
        return ax

    @collects("effect")
    def e_value_table(self) -> pd.DataFrame:
        """E-values of the adjusted estimate and its limit nearest 1 (empty if withheld)."""
        if not self.effect_allowed():
            return pd.DataFrame()
        e = self.effect().e_value()
        lang = self.lang
        out = pd.DataFrame({column_label("measure", lang): e["measure"].map(self._measure_label)})
        for c in ("rr", "rr_limit", "e_value", "e_value_ci"):
            out[column_label(c, lang)] = e[c].map(lambda x: format_number(x, 2, lang))
        return out

    # ------------------------------------------------------------------ comparison
    @collects("comparison")
    def comparison(self):
        """Risk-standardised rates of unplanned ending within ``horizon`` by municipality."""
        if "rsr" not in self._cache:
            f = self.effect_frame().copy()
            outcome = f"unplanned_{self.horizon}d"
            y = f[outcome].to_numpy(dtype=float)
            case_mix = []
            for col in _COMPARISON_CASE_MIX:
                try:  # a term that alone separates the outcome has an infinite effect
                    comparison.check_separation(f, y, outcome, [col])
                    case_mix.append(col)
                except ParameterError:
                    warnings.warn(f"comparison: case-mix term {col!r} left out of the model "
                                  "because one of its groups has only one outcome "
                                  "(separation).", CaseMixTermDroppedWarning, stacklevel=2)
            try:
                self._cache["rsr"] = comparison.risk_standardised(
                    f, outcome, "municipality_code", case_mix,
                    reference={"placement_type": "FH"} if "placement_type" in case_mix
                    else None, seed=self.seed)
            except (ParameterError, ConvergenceError) as exc:
                self._cache["rsr"], self._cache["rsr_error"] = None, str(exc)
        return self._cache["rsr"]

    def comparison_error_text(self) -> str:
        """Why the comparison could not be made ('' when it could), in the report's language."""
        if self.comparison() is not None:
            return ""
        return phrase("outcomes", "sentences", "comparison_failed", self.lang,
                      reason=self._quoted(self._cache["rsr_error"]))

    @collects("comparison")
    def comparison_table(self) -> pd.DataFrame:
        """Per-municipality table with disclosure control (display strings)."""
        res = self.comparison()
        if res is None:
            return pd.DataFrame()
        t = comparison_display(res, lang=self.lang, policy=self.policy,
                               counts=self.comparison_counts())
        t["unit"] = t["unit"].map(municipality_label)  # "0580 Linköping"
        for c in t.columns:
            if c not in ("unit", "flag"):
                t[c] = t[c].astype(str).map(lambda v: with_decimal_mark(v, self.lang))
        return t.rename(columns={c: column_label(c, self.lang) for c in t.columns})

    @collects("comparison")
    def funnel_plot(self, ax=None):
        """Funnel plot of observed shares against the number of placements.

        Only municipalities whose share the table shows are drawn, at their *published* n
        and share; in publication mode the overall rate is published events over placements.
        """
        res = self.comparison()
        if res is None:
            return None
        s = res.summary
        pub = self.comparison_counts().reindex(s["unit"].astype(str).to_numpy()).fillna(0)
        shown = np.array([self.policy.allows_rate(k) and self.policy.allows_rate(n, o)
                          for k, n, o in zip(pub["children"], pub["n"], pub["observed"],
                                             strict=True)], dtype=bool)
        units = pd.DataFrame({"unit": s["unit"].to_numpy(), "n": pub["n"].to_numpy(),
                              "observed": pub["observed"].to_numpy()})[shown]
        units = units.reset_index(drop=True)
        units["unit"] = units["unit"].map(municipality_label)  # labels of points outside
        p0 = res.metadata["overall_rate"]
        if self.policy.publication:
            f = self.effect_frame()
            f = f[f[f"unplanned_{self.horizon}d"].notna()]
            ids = self._episode_ids(f)
            total = self._count(ids)
            if total > 0:
                p0 = self._count(ids[(f[f"unplanned_{self.horizon}d"] == 1).to_numpy()]) / total
        ax = funnel.funnel_plot(units, ax=ax, p0=p0)
        ax.set_xlabel(self._axis("funnel_n"))
        ax.set_ylabel(self._axis("funnel_share"))
        number_ticks(ax, self.lang)
        number_legend(ax, self.lang)  # "95.0%" -> "95 %", "99.8%" -> "99,8 %"
        return ax

    # ------------------------------------------------------------------ notes
    def _identifiers(self) -> frozenset[str]:
        """Every identifier or pseudonym in the tables (columns ending in ``_id``), cached."""
        if "ids" not in self._cache:
            ids: set[str] = set()
            for table in self.tables.values():
                for c in table.columns:
                    if str(c).endswith("_id"):
                        ids.update(table[c].dropna().astype(str))
            self._cache["ids"] = frozenset(ids)
        return self._cache["ids"]

    def _quoted(self, message: str) -> str:
        """An error or warning text safe to show: no identifiers or small counts, Markdown
        escaped."""
        return escape_markdown(sanitise_text(message, self._identifiers(), self.threshold,
                                             all_numbers=self.policy.publication))

    @property
    def recorded_warnings(self) -> list[CapturedWarning]:
        """Every warning the section methods have raised so far (section, class, text)."""
        return list(self._recorder.records)

    def notes(self) -> pd.DataFrame:
        """The warnings the report's models have raised so far, once each, in plain words.

        Warnings are recorded by every section method when it runs (the models are cached,
        so call the sections first, as the notebook does, and the notes last).

        Returns
        -------
        pandas.DataFrame
            One row per section and distinct note, sections in report order:

            ``section``
                Key of the section that raised it (``measures``, ``stay``, ``breakdown``,
                ``models``, ``journey``, ``effect``, ``comparison``, ``costs``).
            ``kind``
                The kind of warning, from its class
                (:data:`evaluation.reporting.notes.WARNING_KINDS`: ``positivity``,
                ``separation_propensity``, ``separation_outcome``, ``separation``,
                ``constant_covariate``, ``extreme_weights``, ``bootstrap_failed``,
                ``follow_up_short``, ``convergence``, ``boundary``, ``small_group``,
                ``numerical``) or ``other``.
            ``note``
                A plain-language sentence in the report's language (Markdown); for ``other``
                the original text, with identifiers and pseudonyms replaced by ``[id]`` and
                whole numbers from 1 to ``threshold - 1`` by ``"<threshold"``.

        Examples
        --------
        >>> from evaluation.data import synth
        >>> data = synth.generate(n_children=300, n_municipalities=5, seed=1)
        >>> rep = OutcomeReport(data.tables, period_start="2019-01-01",
        ...                     period_end="2023-12-31", data_end="2024-12-31", lang="en")
        >>> _ = rep.effect_table()  # a small sample: the effect models warn
        >>> "positivity" in set(rep.notes()["kind"])
        True
        """
        return notes_table(self._recorder.records, lang=self.lang, threshold=self.threshold,
                           identifiers=self._identifiers(), sections=_SECTIONS,
                           all_numbers=self.policy.publication)

    def notes_text(self) -> str:
        """The notes on the models as Markdown: an introduction and one bullet per note.

        Each bullet names the sections (by their headings) where the warning arose; a note
        raised in several sections appears once. Without warnings it says so in one sentence.

        Returns
        -------
        str
            Markdown in the report's language (the heading is ``text("notes")``).

        Examples
        --------
        >>> from evaluation.data import synth
        >>> data = synth.generate(n_children=300, n_municipalities=5, seed=1)
        >>> rep = OutcomeReport(data.tables, period_start="2019-01-01",
        ...                     period_end="2023-12-31", data_end="2024-12-31")
        >>> rep.notes_text()
        'Modellerna gav inga varningar.'
        >>> _ = rep.effect_table()
        >>> "bristande överlapp" in rep.notes_text()
        True
        """
        return notes_markdown(self.notes(), lang=self.lang, intro=self.text("notes_text"),
                              headings=lambda s: self.text(s).lstrip("# "))
