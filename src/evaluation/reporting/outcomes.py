"""Building blocks of the outcomes-and-effects report (``notebooks/02-outcomes-and-effects``).

The notebook stays thin: every number, table and figure comes from a function here, which
calls the estimators of :mod:`evaluation.measures`, :mod:`evaluation.models.survival`,
:mod:`evaluation.models.effects`, :mod:`evaluation.models.comparison` and :mod:`evaluation.measures.costs` and
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

Model warnings
--------------
The estimators warn when a result is valid but fragile (separation, positivity, constant
covariates, extreme weights, non-convergence ...). Each section's methods record the warnings
they raise (and pass them on unchanged to the caller's warning filters);
:meth:`OutcomeReport.notes_text` lists them once each, in the report's language, as the
section "Anmärkningar om modellerna" / "Notes on the models". A warning of a kind it
recognises becomes a plain-language sentence; any other is quoted, with identifiers and
pseudonyms replaced by ``[id]`` and whole numbers from 1 to ``threshold - 1`` (possible small
counts) by ``"<threshold"``.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation import disclosure, measures
from evaluation.data import analysis_frame
from evaluation.data.cohort import PLACEMENT_GROUPS, episode_outcomes
from evaluation.data.dictionary import load_dictionary
from evaluation.errors import ConvergenceError, ParameterError
from evaluation.measures import costs
from evaluation.models import comparison, effects, survival
from evaluation.models.coxph import cox
from evaluation.models.finegray import fine_gray

__all__ = ["OutcomeReport"]


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
        "sv": "Cox-modell för den orsaksspecifika hazarden för oplanerat avslut (stratifierad "
              "per kommun, robusta standardfel per barn), test av proportionella hazarder (skalade "
              "Schoenfeld-residualer) och Fine–Gray-modell för risken (subfördelningshazard).",
        "en": "Cox model of the cause-specific hazard of an unplanned ending (stratified by "
              "municipality, robust standard errors by child), the proportional-hazards test (scaled Schoenfeld residuals) and "
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
              "{control}, justerad för {confounders} (dubbelt robust skattning, AIPW). "
              "Balansdiagrammet visar standardiserade medelvärdesskillnader före och efter "
              "viktning (gräns 0,1) och diagrammet under det hur väl grupperna överlappar. "
              "E-värdet anger hur stark en okontrollerad confounder skulle behöva vara för att "
              "förklara bort skattningen.",
        "en": "Difference in the risk of an unplanned ending within {horizon} days between "
              "{treated} and {control}, adjusted for {confounders} (doubly robust AIPW). The "
              "balance plot shows standardised mean differences before and after weighting "
              "(limit 0.1), and the plot below it how well the groups overlap. The "
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
    "notes": {"sv": "## Anmärkningar om modellerna", "en": "## Notes on the models"},
    "notes_text": {
        "sv": "Modellerna ovan varnade för följande. Resultaten visas ändå, men de avsnitt som "
              "nämns ska läsas med större försiktighet.",
        "en": "The models above warned about the following. The results are still shown, but "
              "the sections named should be read with more caution."},
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

_COLUMN_LABELS.update({
    "statistic": ("Teststorhet", "Statistic"), "df": ("Frihetsgrader", "df"),
    "contrast": ("Jämförelse", "Contrast"), "rr": ("Riskkvot", "Risk ratio"),
    "rr_limit": ("Riskkvot, gräns närmast 1", "Risk ratio, limit nearest 1"),
    "e_value": ("E-värde", "E-value"), "e_value_ci": ("E-värde, KI-gräns", "E-value, CI limit"),
    "covariate": ("Variabel", "Covariate"),
    "smd_unadjusted": ("SMD ojusterad", "SMD unadjusted"),
    "smd_adjusted": ("SMD viktad", "SMD weighted"),
    "unit": ("Kommun", "Municipality"), "n": ("Placeringar", "Placements"),
    "observed": ("Oplanerade avslut", "Unplanned endings"),
    "observed_rate": ("Observerad andel", "Observed share"),
    "expected": ("Förväntat antal", "Expected number"),
    "predicted": ("Predikterat antal", "Predicted number"),
    "rsr": ("Riskstandardiserad andel", "Risk-standardised share"),
    "flag": ("Bedömning", "Assessment"),
    "placement_type": ("Placeringsform", "Placement type"),
    "episodes": ("Placeringar", "Placements"), "children": ("Barn", "Children"),
    "care_days": ("Vårddygn", "Care days"), "cost_per_day": ("Kr per dygn", "SEK per day"),
    "cost_per_episode": ("Kr per placering", "SEK per placement"),
    "cost_per_child": ("Kr per barn", "SEK per child"),
    "cost_msek": ("Kostnad, mnkr", "Cost, SEK million"),
    "days": ("Dagar", "Days"),
})

#: Readable labels (sv, en) of model terms and effect-model covariates. Every entry of
#: analysis_frame.EFFECT_COVARIATES must be here (a test checks it) so the texts stay in step
#: with it.
_TERM_LABELS = {
    "placement_groupinstitution": ("HVB/SiS (mot familjehem)",
                                   "HVB/SiS (against family homes)"),
    "placement_group": ("placeringsform", "placement type"),
    "age_13plus": ("13 år eller äldre", "aged 13 or over"),
    "age_13": ("13 år", "aged 13"), "age_14_15": ("14-15 år", "aged 14-15"),
    "age_16": ("16 år", "aged 16"), "age_17": ("17 år", "aged 17"),
    "age_18": ("18 år", "aged 18"), "age_19_20": ("19-20 år", "aged 19-20"),
    "behaviour": ("beteendeproblem", "behaviour problems"),
    "teen_behaviour": ("beteendeproblem och 13 år eller äldre",
                       "behaviour problems and aged 13 or over"),
    "unaccompanied": ("ensamkommande", "unaccompanied"),
    "problem_criminality": ("kriminalitet", "criminality"),
    "problem_child_substance": ("eget missbruk", "own substance use"),
    "problem_child_mental": ("psykisk ohälsa", "mental ill-health"),
    "goal_REUNIFICATION": ("mål: återförening", "goal: reunification"),
    "goal_longterm_or_custody": ("mål: långsiktigt familjehem eller vårdnadsöverflyttning",
                                 "goal: long-term family home or custody transfer"),
    "GLOBAL": ("alla (globalt test)", "all (global test)"),
}

_MEASURE_LABELS = {
    "risk_difference": ("riskskillnad", "risk difference"),
    "risk_ratio": ("riskkvot", "risk ratio"),
    "cost_difference": ("merkostnad per placering (kr, första {h} dagarna)",
                        "extra cost per placement (SEK, first {h} days)"),
    "avoided_breakdowns": ("undvikta sammanbrott per placering",
                           "avoided breakdowns per placement"),
    "cost_per_avoided_breakdown": ("kostnad per undvikt sammanbrott (kr)",
                                   "cost per avoided breakdown (SEK)"),
}

_CONFOUNDERS = analysis_frame.EFFECT_COVARIATES  # the specification simulate_effects.py checks


def _label(key: str, lang: str) -> str:
    sv, en = _COLUMN_LABELS.get(key, (key, key))
    return sv if lang == "sv" else en


def _term(key: str, lang: str) -> str:
    sv, en = _TERM_LABELS.get(str(key), (str(key), str(key)))
    return sv if lang == "sv" else en


def _fmt(x: float, decimals: int = 3, lang: str = "en") -> str:
    """Number with ``decimals`` decimals; decimal comma in Swedish."""
    if pd.isna(x):
        return ""
    s = f"{x:.{decimals}f}"
    return s.replace(".", ",") if lang == "sv" else s


def _fmt_int(x: float, lang: str = "en") -> str:
    """Rounded number with thousands separators (space in Swedish, comma in English)."""
    if pd.isna(x):
        return ""
    s = f"{x:,.0f}"
    return s.replace(",", "\u00a0") if lang == "sv" else s


def _fmt_ci(lo: float, hi: float, decimals: int = 3, lang: str = "en") -> str:
    """Interval ``(lo, hi)``; ``(lo; hi)`` in Swedish, where the comma is the decimal sign."""
    if pd.isna(lo) and pd.isna(hi):
        return ""
    sep = "; " if lang == "sv" else ", "
    return f"({_fmt(lo, decimals, lang)}{sep}{_fmt(hi, decimals, lang)})"


def _fmt_p(p: float, lang: str = "en") -> str:
    """p-value with three decimals, ``<0.001`` below that."""
    if pd.isna(p):
        return ""
    return ("<" + _fmt(0.001, 3, lang)) if p < 0.001 else _fmt(p, 3, lang)


def _decimal_comma_ticks(ax, axes: str = "xy") -> None:
    """Tick labels with a decimal comma (Swedish figures); ``axes`` picks x, y or both."""
    def fmt(v, _pos):
        return f"{v:g}".replace(".", ",")
    if "x" in axes:
        ax.xaxis.set_major_formatter(fmt)
    if "y" in axes:
        ax.yaxis.set_major_formatter(fmt)


def _fmt_count(shown: str, lang: str) -> str:
    """A protected count from ``to_display`` with thousands separators ("<5", ".." kept)."""
    return _fmt_int(int(shown), lang) if str(shown).isdigit() else str(shown)


def _confounder_text(lang: str) -> str:
    """The adjustment set of the effect section in words, from
    analysis_frame.EFFECT_COVARIATES."""
    ages = [c for c in _CONFOUNDERS if c.startswith("age_")]
    words = []
    if ages:
        words.append("ålder (ettårs- och tvåårsgrupper från 13 år)" if lang == "sv"
                     else "age (one- and two-year bands from 13)")
    words += [_term(c, lang) for c in _CONFOUNDERS if not c.startswith("age_")]
    last = " och " if lang == "sv" else " and "
    return ", ".join(words[:-1]) + last + words[-1] if len(words) > 1 else "".join(words)


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


#: Sections of the report in their order, as keys of ``_TEXT`` (notes name their headings).
_SECTIONS = ("measures", "stay", "breakdown", "models", "journey", "effect", "comparison",
             "costs")

#: Kinds of model warning the notes recognise, most specific first: kind -> pattern searched
#: (case-insensitive) in "Category: message" of the warning.
_WARNING_PATTERNS: dict[str, str] = {
    "constant_covariate": r"constant within|\bis constant\b|\bare constant\b",
    "separation_propensity": r"propensity(-score)? model: fitted probabilities numerically 0 or 1",
    "separation_outcome": r"outcome model: fitted probabilities numerically 0 or 1",
    "separation": r"fitted probabilities numerically 0 or 1|\bseparation\b",
    "extreme_weights": r"extreme weights|effective sample size",
    "positivity": r"\bpositivity\b|propensity score below",
    "bootstrap_failed": r"bootstrap replicates?\b.*\b(failed|could not)",
    "follow_up_short": r"beyond the last follow-up",
    "convergence": r"converge",
    "boundary": r"\bsingular\b|\bboundary\b",
    "small_group": r"\btoo small\b|\bsmall (arm|group|sample)s?\b|\bfew(er)? than\b",
    "numerical": r"divide by zero|overflow|underflow|invalid value",
}

#: The plain-language sentence of each kind of warning, in Swedish and English.
_WARNING_TEXT: dict[str, dict[str, str]] = {
    "constant_covariate": {
        "sv": "En bakgrundsvariabel har samma värde för alla placeringar i en av grupperna, så "
              "modellen kan inte ta hänsyn till den där; för den variabeln vilar jämförelsen på "
              "antaganden om hur den andra gruppen ser ut.",
        "en": "A background variable has the same value for every placement in one of the "
              "groups, so the model cannot take it into account there; for that variable the "
              "comparison rests on assumptions drawn from the other group."},
    "separation_propensity": {
        "sv": "Vissa kombinationer av barnens egenskaper förekommer bara i den ena "
              "placeringsformen, så det finns inga jämförbara barn i den andra (separation i "
              "modellen för vilken placering barnet får). För de barnen bygger den justerade "
              "jämförelsen på antaganden snarare än på data.",
        "en": "Some combinations of the children's characteristics occur in only one of the "
              "placement types, so there are no comparable children in the other (separation in "
              "the model of which placement a child gets). For those children the adjusted "
              "comparison rests on assumptions rather than data."},
    "separation_outcome": {
        "sv": "I vissa grupper av barn hade antingen alla eller inga ett oplanerat avslut, så "
              "utfallsmodellen förutsäger 0 eller 100 % för dem (separation). Skattningen kan "
              "vara osäkrare än intervallet visar.",
        "en": "In some groups of children either all or none had an unplanned ending, so the "
              "outcome model predicts 0 or 100% for them (separation). The estimate may be less "
              "certain than its interval shows."},
    "separation": {
        "sv": "En modell kunde inte skilja vissa grupper av barn åt eftersom alla eller inga i "
              "gruppen hade samma utfall eller placering (separation); resultaten för de "
              "grupperna är osäkra.",
        "en": "A model could not tell some groups of children apart because everyone or no one "
              "in the group had the same outcome or placement (separation); results for those "
              "groups are uncertain."},
    "positivity": {
        "sv": "Några placeringar hade nästan ingen chans att hamna i den ena placeringsformen, "
              "givet barnets egenskaper (bristande överlapp). De får mycket stor vikt och "
              "effektskattningen blir instabil; överlappsdiagrammet visar var grupperna inte "
              "överlappar.",
        "en": "Some placements had almost no chance of being in one of the placement types, "
              "given the child's characteristics (lack of overlap, or positivity). They get very "
              "large weights and the effect estimate becomes unstable; the overlap plot shows "
              "where the groups do not overlap."},
    "extreme_weights": {
        "sv": "Några få placeringar väger mycket tungt i den viktade jämförelsen (extrema "
              "vikter), så resultatet hänger på ett fåtal barn.",
        "en": "A few placements carry a very large share of the weight in the weighted "
              "comparison (extreme weights), so the result depends on a handful of children."},
    "bootstrap_failed": {
        "sv": "En del bootstrap-omdragningar kunde inte skattas (för små grupper eller ingen "
              "konvergens) och togs bort; osäkerhetsintervallet bygger på färre omdragningar än "
              "begärt.",
        "en": "Some bootstrap replicates could not be estimated (groups too small or no "
              "convergence) and were dropped; the uncertainty interval rests on fewer replicates "
              "than requested."},
    "follow_up_short": {
        "sv": "Uppföljningstiden räcker inte hela vägen i någon grupp; kurvan har förlängts med "
              "sitt sista värde.",
        "en": "Follow-up does not reach the whole period in some group; the curve has been "
              "carried forward at its last value."},
    "convergence": {
        "sv": "En modell nådde inte en stabil lösning (ingen konvergens); dess skattningar kan "
              "vara opålitliga.",
        "en": "A model did not reach a stable solution (no convergence); its estimates may be "
              "unreliable."},
    "boundary": {
        "sv": "En modell skattade en variation till noll eller blev singulär (ett gränsfall), "
              "till exempel för skillnaderna mellan kommunerna; osäkerheten kan vara "
              "underskattad.",
        "en": "A model estimated a variance at zero or became singular (a boundary case), for "
              "example for the differences between municipalities; the uncertainty may be "
              "underestimated."},
    "small_group": {
        "sv": "En grupp i jämförelsen är liten, så skattningen är osäker och kan ändras mycket "
              "med några få barn fler eller färre.",
        "en": "A group in the comparison is small, so the estimate is uncertain and could change "
              "a lot with a few more or fewer children."},
    "numerical": {
        "sv": "En beräkning stötte på numeriska problem (division med noll eller för stora tal); "
              "de berörda talen kan saknas eller vara opålitliga.",
        "en": "A calculation ran into numerical problems (division by zero or numbers too "
              "large); the numbers affected may be missing or unreliable."},
}

# Case mix of the fair comparison (terms that separate the outcome are left out, with a note).
_COMPARISON_CASE_MIX = ("age_13plus", "male", "lvu_behaviour", "placement_type",
                        "problem_criminality", "problem_child_substance", "problem_child_mental")

_OTHER_WARNING = {"sv": "Varning från en modell (originaltext): {text}",
                  "en": "Model warning (original text): {text}"}

# A whole number standing alone: not part of a decimal ("0.01", "1,234"), a percentage, a
# name ("age_13") or an exponent ("2e-14").
_WHOLE_NUMBER = re.compile(r"(?<![\w.,])(?<![eE][-+])\d+(?![\w%]|[.,]\d)")
_PERSONAL_NUMBER = re.compile(r"(?<![\w.,])(?:\d{2})?\d{6}[-+]\d{4}(?![\w.,])")  # (YY)YYMMDD-NNNN
_LONG_DIGITS = re.compile(r"(?<![\w.,])\d{8,}(?![\w.,])")  # personal or case numbers
_HEX = re.compile(r"\b[0-9a-fA-F]{16,}\b")  # pseudonyms


def _mask_small_numbers(text: str, threshold: int) -> str:
    """Replace whole numbers that could be small counts (1 to ``threshold - 1``) by "<threshold".

    The numbers are protected with :func:`evaluation.disclosure.protect_counts` (primary
    suppression only: a warning gives no totals to recompute a hidden number from).
    """
    found = list(_WHOLE_NUMBER.finditer(text))
    if not found:
        return text
    counts = pd.DataFrame({"n": [int(m.group(0)) for m in found]})
    shown = disclosure.protect_counts(counts, threshold=threshold,
                                      totals_public=False).to_display()["n"].tolist()
    out, last = [], 0
    for m, s in zip(found, shown, strict=True):
        out += [text[last:m.start()], s]
        last = m.end()
    return "".join(out + [text[last:]])


def _sanitise(text: str, ids: frozenset[str], threshold: int) -> str:
    """A warning or error text without identifiers, pseudonyms or small counts."""
    text = _HEX.sub("[id]", text)
    text = _PERSONAL_NUMBER.sub("[id]", text)
    text = _LONG_DIGITS.sub("[id]", text)
    if ids:
        text = re.sub(r"[\w\-]+", lambda m: "[id]" if m.group(0) in ids else m.group(0), text)
    return _mask_small_numbers(text, threshold)


def _escape_markdown(text: str) -> str:
    """Backslash-escape the characters Markdown would read as formatting or HTML."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _warning_kind(category: str, message: str) -> str:
    """The kind of a model warning (a key of ``_WARNING_PATTERNS``), or "other"."""
    text = f"{category}: {message}"
    for kind, pattern in _WARNING_PATTERNS.items():
        if re.search(pattern, text, flags=re.IGNORECASE):
            return kind
    return "other"


def _collects(section: str) -> Callable:
    """Decorator of report methods: record the warnings the method raises under ``section``.

    Only the outermost decorated call records (a section's table calling its cached model
    does not record twice). The warnings are passed on afterwards, so the caller's own
    filters (e.g. ``warnings.simplefilter("ignore")`` in the notebook) still decide whether
    they are shown.
    """
    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self._capturing:
                return method(self, *args, **kwargs)
            caught: list[warnings.WarningMessage] = []
            self._capturing = True
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    return method(self, *args, **kwargs)
            finally:
                self._capturing = False
                for w in caught:
                    self._warnings.append((section, w.category.__name__, str(w.message)))
                for w in caught:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return wrapper
    return decorate


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
    >>> rep = OutcomeReport(data.tables, "2019-01-01", "2023-12-31", "2024-12-31")
    >>> rep.text("notes")
    '## Anmärkningar om modellerna'
    >>> OutcomeReport(data.tables, "2019-01-01", "2023-12-31", "2024-12-31",
    ...               treated="XYZ")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: treated='XYZ': ingen placering av den formen startar ...
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
    _warnings: list[tuple[str, str, str]] = field(default_factory=list, repr=False)
    _capturing: bool = field(default=False, repr=False)

    def _error(self, sv: str, en: str) -> ParameterError:
        """A parameter error whose message is in the report's language."""
        return ParameterError(sv if self.lang == "sv" else en)

    def _date(self, name: str) -> pd.Timestamp:
        value = getattr(self, name)
        try:
            return pd.Timestamp(value)
        except (ValueError, TypeError) as exc:
            raise self._error(f"{name}={value!r} är inget datum; skriv det som ÅÅÅÅ-MM-DD.",
                              f"{name}={value!r} is not a date; write it as YYYY-MM-DD.") from exc

    def __post_init__(self) -> None:
        if self.lang not in ("sv", "en"):  # the language is unknown: say it in both
            raise ParameterError(f"lang måste vara 'sv' eller 'en', angivet: {self.lang!r}. / "
                                 f"lang must be 'sv' or 'en', got {self.lang!r}.")
        for name, least in (("threshold", 1), ("horizon", 1), ("n_bootstrap", 0)):
            value = getattr(self, name)
            if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                    or value < least):
                raise self._error(
                    f"{name} måste vara ett heltal som är minst {least}, angivet: {value!r}.",
                    f"{name} must be a whole number of at least {least}, got {value!r}.")
        if "episodes" not in self.tables:
            raise self._error("tables saknar tabellen 'episodes'; rapporten behöver den.",
                              "tables has no 'episodes' table; the report needs it.")
        start, end, data_end = (self._date(n) for n in ("period_start", "period_end",
                                                         "data_end"))
        ep = self.tables["episodes"]
        s = pd.to_datetime(ep["start_date"])
        cohort = ep[(s >= start) & (s <= end)]
        if end < start:
            raise self._error(
                f"period_end {self.period_end!r} ligger före period_start {self.period_start!r}; "
                "periodens slut ska komma efter dess början.",
                f"period_end {self.period_end!r} is before period_start {self.period_start!r}.")
        if data_end < end:
            raise self._error(
                f"data_end {self.data_end!r} ligger före period_end {self.period_end!r}; "
                "data_end är det sista datum som data täcker och får inte ligga före perioden.",
                f"data_end {self.data_end!r} is before period_end {self.period_end!r}; "
                "data_end is the last date the data cover and must not precede the period.")
        if cohort.empty:
            raise self._error(
                f"Inga placeringar startar mellan {self.period_start} och {self.period_end}; "
                f"välj en period inom data (starter från {s.min():%Y-%m-%d} till "
                f"{s.max():%Y-%m-%d}).",
                f"No placements start between {self.period_start} and {self.period_end}; "
                f"choose a period inside the data (starts from {s.min():%Y-%m-%d} to "
                f"{s.max():%Y-%m-%d}).")
        present = sorted(cohort["placement_type"].dropna().astype(str).unique())
        if self.treated == self.control:
            raise self._error(
                f"treated och control är båda {self.treated!r}; välj två olika "
                f"placeringsformer (placeringsformer som finns: {present}).",
                f"treated and control are both {self.treated!r}; choose two different "
                f"placement types (present: {present}).")
        for name, value in (("treated", self.treated), ("control", self.control)):
            if value not in present:
                raise self._error(
                    f"{name}={value!r}: ingen placering av den formen startar under perioden; "
                    f"placeringsformer som finns: {present}.",
                    f"{name}={value!r}: no placement of that type starts in the period; "
                    f"placement types present: {present}.")
        self.cohort = episode_outcomes(cohort, self.data_end)

    # ------------------------------------------------------------------ text
    def text(self, key: str) -> str:
        """Heading or explanatory text ``key`` in the report's language (Markdown)."""
        return _TEXT[key][self.lang].format(treated=self.treated, control=self.control,
                                            horizon=self.horizon,
                                            confounders=_confounder_text(self.lang))

    def _group_label(self, g: str) -> str:
        return _GROUP_LABELS.get(g, {}).get(self.lang, str(g))

    # ------------------------------------------------------------------ measures
    @_collects("measures")
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

    @_collects("measures")
    def themes_table(self) -> pd.DataFrame:
        """Mean of the child's own ratings (1-5) per theme; themes with n < 10 are hidden."""
        if "followups" not in self.tables:
            return pd.DataFrame()
        t = measures.child_rated_themes(self.tables["episodes"], self.tables["followups"],
                                        self.period_start, self.period_end)
        small = (t["denominator"] < 10).to_numpy()
        n = disclosure.protect_counts(t[["denominator"]].astype("int64"),
                                      threshold=self.threshold).to_display()["denominator"]
        names = {k: c.label[self.lang]
                 for k, c in load_dictionary().table("followups").items()}
        prefix = ("Barnets betyg: ", "Child's rating: ")[self.lang == "en"]
        theme = t["theme"].map(lambda c: names.get(c, c).replace(prefix, ""))
        ci = [_fmt_ci(lo, hi, 2, self.lang) for lo, hi in zip(t["ci_lower"], t["ci_upper"],
                                                                strict=True)]
        return pd.DataFrame({
            _label("theme", self.lang): theme.str.replace("theme_", "", regex=False),
            _label("value", self.lang): np.where(
                small, "", t["value"].map(lambda x: _fmt(x, 2, self.lang))),
            _label("ci", self.lang): np.where(small, "", ci),
            "n": [_fmt_count(v, self.lang) for v in n],
        })

    def _protect_measures(self, table: pd.DataFrame) -> pd.DataFrame:
        lang = self.lang
        labels = {m["name"]: m["label"][lang] for m in load_dictionary().measures}
        label = table["measure"].map(lambda m: labels.get(m, m))
        if "horizon_days" in table.columns:
            days = table["horizon_days"]
            label = label.where(days.isna(), label.str.replace(
                r" (inom|within) 12 (och|and) 24 (månader|months)", "", regex=True))
            label = label + np.where(days.notna(), ", " + (days.fillna(0) // 365).astype(int)
                                     .astype(str) + (" år" if lang == "sv" else " yr"), "")
        if "age_group" in table.columns:
            # Rows without an age group: ages outside 0-20 at ending (by birth year a few
            # endings get age 21) or an unknown birth year (see measures.re_referral_12m).
            other = (" (21 år eller okänd ålder)" if lang == "sv"
                     else " (aged 21 or age unknown)")
            has_age = table["measure"].isin(table.loc[table["age_group"].notna(), "measure"])
            label = label + np.where(table["age_group"].notna(),
                                     " (" + table["age_group"].astype(str) + ")",
                                     np.where(has_age, other, ""))
        # Moves per 1,000 care days: the denominator is care days, not children, so the rate
        # rules do not apply; but rate x days gives the number of moves back, so the rate is
        # hidden when that number is small.
        # (long_term_stability is a share of children and follows the share rules.)
        is_rate = (table["measure"].astype(str) == "placement_stability").to_numpy()
        num = table["numerator"].round().to_numpy()
        small_num = (num >= 1) & (num < self.threshold)
        den = table["denominator"].round()
        shown = disclosure.protect_rates(table["numerator"].round().clip(upper=den), den,
                                         threshold=self.threshold)
        hidden = np.where(is_rate, small_num, shown.isna().to_numpy())
        out = pd.DataFrame({_label("measure", lang): label})
        out[_label("value", lang)] = np.where(
            hidden, disclosure.SECONDARY_MARK, table["value"].map(lambda x: _fmt(x, 3, lang)))
        out[_label("ci", lang)] = np.where(
            hidden, "", [_fmt_ci(lo, hi, 3, lang)
                         for lo, hi in zip(table["ci_lower"], table["ci_upper"], strict=True)])
        out[_label("denominator", lang)] = self._protect_denominators(table)
        return out

    def _protect_denominators(self, table: pd.DataFrame) -> np.ndarray:
        """Denominators as display strings, with secondary suppression within each measure.

        The age-group rows of one measure add up to a total that is shown elsewhere in the
        report (e.g. all ended placements), so a single hidden row could be recomputed from
        it: each measure's rows are protected as one column whose total is public.
        """
        shown = np.empty(len(table), dtype=object)
        den = table["denominator"].round().astype("int64").reset_index(drop=True)
        measure = table["measure"].astype(str).to_numpy()
        for name in pd.unique(measure):
            rows = np.flatnonzero(measure == name)
            col = pd.DataFrame({"denominator": den.iloc[rows].to_numpy()})
            disp = disclosure.protect_counts(col, threshold=self.threshold).to_display()
            shown[rows] = [_fmt_count(v, self.lang) for v in disp["denominator"]]
        return shown

    # ------------------------------------------------------------------ curves
    @_collects("stay")
    def length_of_stay(self):
        """Kaplan–Meier of time to ending by placement group (cached)."""
        if "km" not in self._cache:
            self._cache["km"] = survival.kaplan_meier(self.cohort, "time", "ended",
                                                      group_col="placement_group")
        return self._cache["km"]

    @_collects("stay")
    def length_of_stay_plot(self, ax=None):
        """Kaplan–Meier curves, cut where fewer than ``2 * threshold`` remain at risk."""
        km = self.length_of_stay()
        cut = _truncate_curve(km.summary, km.summary, 2 * self.threshold)
        shown = type(km)(summary=cut, metadata=km.metadata)
        ax = shown.plot(ax=ax)
        ax.set_xlabel("dagar sedan start" if self.lang == "sv" else "days since start")
        ax.set_ylabel("andel pågående placeringar" if self.lang == "sv"
                      else "share of placements ongoing")
        if self.lang == "sv":
            _decimal_comma_ticks(ax)
        self._relabel_legend(ax)
        return ax

    @_collects("stay")
    def length_of_stay_table(self) -> pd.DataFrame:
        """Median and quartiles of the length of stay (days) with CIs, by placement group."""
        q = self.length_of_stay().quantiles().copy()
        out = self._group_table(q, ["quantile", "estimate", "ci_lower", "ci_upper"], 0)
        unit = " (dagar)" if self.lang == "sv" else " (days)"
        return out.rename(columns={_label(c, self.lang): _label(c, self.lang) + unit
                                   for c in ("estimate", "ci_lower", "ci_upper")})

    @_collects("breakdown")
    def breakdowns(self):
        """Cumulative incidence of unplanned endings by placement group (cached)."""
        if "cif" not in self._cache:
            self._cache["cif"] = survival.cumulative_incidence(
                self.cohort, "time", "cause", event_of_interest=1, group_col="placement_group")
        return self._cache["cif"]

    @_collects("breakdown")
    def breakdown_plot(self, ax=None):
        """Cumulative incidence curves of unplanned endings by placement group."""
        cif = self.breakdowns()
        km = self.length_of_stay()
        cut = _truncate_curve(cif.summary, km.summary, 2 * self.threshold)
        ax = type(cif)(summary=cut, metadata=cif.metadata).plot(ax=ax)
        ax.set_xlabel("dagar sedan start" if self.lang == "sv" else "days since start")
        ax.set_ylabel("kumulativ risk för oplanerat avslut" if self.lang == "sv"
                      else "cumulative risk of an unplanned ending")
        if self.lang == "sv":
            _decimal_comma_ticks(ax)
        self._relabel_legend(ax)
        return ax

    @_collects("breakdown")
    def breakdown_table(self) -> pd.DataFrame:
        """Risk of an unplanned ending at 1 and 2 years by group.

        As with the curves, a risk is not shown (".." instead) where fewer than
        ``2 * threshold`` placements of the group are still followed at that day.
        """
        at = self.breakdowns().at([365, 730]).reset_index(drop=True)
        c = self.cohort
        at_risk = np.array([int(((c["placement_group"] == g) & (c["time"] >= t)).sum())
                            for g, t in zip(at["group"], at["time"], strict=True)])
        out = self._group_table(at, ["time", "estimate", "ci_lower", "ci_upper"], 3)
        n = self.cohort.groupby("placement_group").size()
        few = at_risk[(at["group"].map(n).fillna(0) >= 10).to_numpy()] < 2 * self.threshold
        for col in ("estimate", "ci_lower", "ci_upper"):
            name = _label(col, self.lang)
            out[name] = np.where(few, disclosure.SECONDARY_MARK, out[name])
        return out.rename(columns={_label("time", self.lang): _label("days", self.lang)})

    @_collects("breakdown")
    def gray_test_text(self) -> str:
        """One sentence with Gray's test of equal cumulative incidence across groups."""
        g = self.breakdowns().gray_test_
        stat, p = float(g.statistic), float(g.p_value)
        shown = {lang: _fmt_p(p, lang) for lang in ("sv", "en")}
        rel = {lang: "< " + v[1:] if v.startswith("<") else "= " + v
               for lang, v in shown.items()}
        if self.lang == "sv":
            return f"Grays test: χ² = {_fmt(stat, 1, 'sv')}, p {rel['sv']}."
        return f"Gray's test: chi-square = {stat:.1f}, p {rel['en']}."

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
            out[_label(c, self.lang)] = frame[c].map(lambda x, d=d: _fmt(x, d, self.lang))
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

    @_collects("models")
    def cox_model(self):
        """Cox model of the cause-specific hazard of an unplanned ending (cached)."""
        if "cox" not in self._cache:
            c = self._model_frame()
            c = c[c["placement_group"] != "other"]
            self._cache["cox"] = cox(
                c, "time", "breakdown",
                ["placement_group", "age_13plus", "problem_criminality",
                 "problem_child_substance", "problem_child_mental"],
                strata="municipality_code", cluster_col="child_id")
        return self._cache["cox"]

    @_collects("models")
    def cox_table(self) -> pd.DataFrame:
        """Hazard ratios with 95% CIs and p-values (display strings)."""
        return self._term_table(self.cox_model().summary)

    @_collects("models")
    def ph_table(self) -> pd.DataFrame:
        """Proportional-hazards test per term and globally (display strings)."""
        ph = self.cox_model().ph_test().summary.reset_index()
        term = ph.columns[0]
        return pd.DataFrame({
            _label("term", self.lang): ph[term].map(lambda t: _term(t, self.lang)),
            _label("statistic", self.lang): ph["statistic"].map(
                lambda x: _fmt(x, 2, self.lang)),
            _label("df", self.lang): ph["df"].map(lambda x: _fmt(x, 0, self.lang)),
            _label("p_value", self.lang): ph["p_value"].map(lambda x: _fmt_p(x, self.lang)),
        })

    @_collects("models")
    def fine_gray_model(self):
        """Fine–Gray model of the risk of an unplanned ending (cached)."""
        if "fg" not in self._cache:
            c = self._model_frame()
            c = c[c["placement_group"] != "other"]
            self._cache["fg"] = fine_gray(
                c, "time", "cause", 1,
                ["placement_group", "age_13plus", "problem_criminality",
                 "problem_child_substance", "problem_child_mental"])
        return self._cache["fg"]

    @_collects("models")
    def fine_gray_table(self) -> pd.DataFrame:
        """Subdistribution hazard ratios with 95% CIs (display strings)."""
        return self._term_table(self.fine_gray_model().summary)

    def _term_table(self, s: pd.DataFrame) -> pd.DataFrame:
        s = s.reset_index()
        term = s.columns[0]
        lang = self.lang
        return pd.DataFrame({
            _label("term", lang): s[term].map(lambda t: _term(t, lang)),
            _label("exp_estimate", lang): np.exp(s["estimate"]).map(lambda x: _fmt(x, 2, lang)),
            _label("ci", lang): [_fmt_ci(lo, hi, 2, lang) for lo, hi in
                                 zip(np.exp(s["ci_lower"]), np.exp(s["ci_upper"]), strict=True)],
            _label("p_value", lang): s["p_value"].map(lambda x: _fmt_p(x, lang)),
        })

    # ------------------------------------------------------------------ journey
    @_collects("journey")
    def journey(self):
        """State occupation of the journey since placement start (cached)."""
        if "journey" not in self._cache:
            from evaluation.data.cohort import journey_states
            from evaluation.models.multistate import state_occupation

            tabs = {k: v for k, v in self.tables.items()
                    if k in ("episodes", "placements", "referrals")}
            ep = tabs["episodes"]
            tabs["episodes"] = ep[ep["episode_id"].isin(self.cohort["episode_id"])]
            js = journey_states(tabs, data_end=self.data_end)
            self._cache["journey"] = state_occupation(js, "episode_id", "tstart", "tstop",
                                                       "state", initial_state="istate")
        return self._cache["journey"]

    @_collects("journey")
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
        if self.lang == "sv":
            _decimal_comma_ticks(ax)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1),
                      fontsize="small")
        return ax

    # ------------------------------------------------------------------ effects
    def adjustment(self) -> list[str]:
        """The confounders of :data:`evaluation.data.analysis_frame.EFFECT_COVARIATES` that vary in
        the two-arm sample; a column constant there (e.g. no 13-year-olds with ``horizon`` days
        of follow-up in a small dataset) needs no adjustment and cannot be estimated."""
        f = self.effect_frame()
        f = f[f["placement_type"].isin([self.treated, self.control])]
        return [c for c in _CONFOUNDERS if f[c].nunique(dropna=True) > 1]

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

    @_collects("effect")
    def effect(self):
        """AIPW estimate of ``treated`` vs ``control`` on the risk of an unplanned ending."""
        if "effect" not in self._cache:
            f = self.effect_frame()
            f = f[f["placement_type"].isin([self.treated, self.control])]
            self._cache["effect"] = effects.estimate_effect(
                f, "placement_type", f"unplanned_{self.horizon}d", self.adjustment(),
                method="aipw", estimand="ATE", treated=self.treated, control=self.control,
                cluster_col="child_id")
        return self._cache["effect"]

    @_collects("effect")
    def effect_table(self) -> pd.DataFrame:
        """Naive and adjusted (AIPW) risk difference and ratio (display strings)."""
        f = self.effect_frame()
        f = f[f["placement_type"].isin([self.treated, self.control])]
        naive = effects.estimate_effect(f, "placement_type", f"unplanned_{self.horizon}d",
                                        self.adjustment(), method="naive", treated=self.treated,
                                        control=self.control).summary
        adj = self.effect().summary
        label = {"sv": ("ojusterad", "justerad (AIPW)"), "en": ("naive", "adjusted (AIPW)")}
        lang = self.lang
        rows = []
        for name, s in zip(label[lang], (naive, adj), strict=True):
            for _, r in s.iterrows():
                measure = _MEASURE_LABELS.get(r["measure"], (r["measure"],) * 2)[lang == "en"]
                rows.append({_label("measure", lang): f"{measure}, {name}",
                             _label("estimate", lang): _fmt(r["estimate"], 3, lang),
                             _label("ci", lang): _fmt_ci(r["ci_lower"], r["ci_upper"], 3, lang),
                             _label("p_value", lang): _fmt_p(r["p_value"], lang)})
        return pd.DataFrame(rows)

    @_collects("effect")
    def balance_table(self) -> pd.DataFrame:
        """Standardised mean differences before and after weighting (display strings).

        Only the SMDs are shown, not the covariate means by arm: a mean of a 0/1 covariate
        times the arm's size would give back small counts.
        """
        b = self.effect().balance
        return pd.DataFrame({
            _label("covariate", self.lang): b["covariate"].map(lambda t: _term(t, self.lang)),
            _label("smd_unadjusted", self.lang): b["smd_unadjusted"].map(
                lambda x: _fmt(x, 3, self.lang)),
            _label("smd_adjusted", self.lang): b["smd_adjusted"].map(
                lambda x: _fmt(x, 3, self.lang)),
        })

    @_collects("effect")
    def love_plot(self, ax=None):
        """Balance (love) plot of the effect model, with labels in the report's language."""
        ax = self.effect().love_plot(ax=ax)
        ax.set_yticklabels([_term(t.get_text(), self.lang) for t in ax.get_yticklabels()])
        if self.lang == "sv":
            ax.set_xlabel("absolut standardiserad medelvärdesskillnad")
            ax.legend(ax.get_legend_handles_labels()[0], ["ojusterad", "viktad"])
            _decimal_comma_ticks(ax, "x")
        return ax

    @_collects("effect")
    def overlap_plot(self, ax=None):
        """Propensity-score distributions by arm, with labels in the report's language."""
        ax = self.effect().overlap_plot(ax=ax, level=self.treated)
        if self.lang == "sv":
            ax.set_xlabel(f"sannolikhet att placeras i {self.treated} givet egenskaperna "
                          "(propensity score)")
            ax.set_ylabel("täthet")
            ax.legend(title="faktisk placering")
            _decimal_comma_ticks(ax)
        return ax

    @_collects("effect")
    def e_value_table(self) -> pd.DataFrame:
        """E-values of the adjusted estimate and its confidence limit nearest the null."""
        e = self.effect().e_value()
        lang = self.lang
        out = pd.DataFrame({
            _label("measure", lang): e["measure"].map(
                lambda m: _MEASURE_LABELS.get(m, (m, m))[lang == "en"])})
        for c in ("rr", "rr_limit", "e_value", "e_value_ci"):
            out[_label(c, lang)] = e[c].map(lambda x: _fmt(x, 2, lang))
        return out

    # ------------------------------------------------------------------ comparison
    @_collects("comparison")
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
                                  "(separation).", UserWarning, stacklevel=2)
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
        reason = _escape_markdown(_sanitise(self._cache["rsr_error"], self._identifiers(),
                                            self.threshold))
        if self.lang == "sv":
            return ("Kommunerna kunde inte jämföras med en riskjusterad modell för dessa data "
                    f"(modellen gick inte att skatta: {reason})")
        return ("The municipalities could not be compared with a risk-adjusted model for these "
                f"data (the model could not be fitted: {reason})")

    @_collects("comparison")
    def comparison_table(self) -> pd.DataFrame:
        """Per-municipality table with disclosure control (display strings)."""
        res = self.comparison()
        if res is None:
            return pd.DataFrame()
        t = res.to_display(lang=self.lang, threshold=self.threshold)
        if self.lang == "sv":
            for c in t.columns:
                if c not in ("unit", "flag"):
                    t[c] = t[c].astype(str).str.replace(r"(?<=\d)\.(?=\d)", ",", regex=True)
        return t.rename(columns={c: _label(c, self.lang) for c in t.columns})

    @_collects("comparison")
    def funnel_plot(self, ax=None):
        """Funnel plot of observed shares against the number of placements.

        Only municipalities whose share the table shows are drawn: a point's position gives
        its n and count back, so units with a small n, a small count or a small complement
        (:func:`evaluation.disclosure.protect_rates`) are left out.
        """
        res = self.comparison()
        if res is None:
            return None
        s = res.summary
        shown = disclosure.protect_rates(s["observed"].round(), s["n"].round(),
                                         threshold=self.threshold).notna().to_numpy()
        units = s.loc[shown, ["unit", "n", "observed"]].reset_index(drop=True)
        ax = comparison.funnel_plot(units, ax=ax, p0=res.metadata["overall_rate"])
        if self.lang == "sv":
            ax.set_xlabel("antal placeringar (n)")
            ax.set_ylabel("andel oplanerade avslut")
            _decimal_comma_ticks(ax)
            handles, labels = ax.get_legend_handles_labels()
            if handles:  # "95.0%" -> "95 %", "99.8%" -> "99,8 %"
                ax.legend(handles, [f"{float(lab.rstrip('%')):g} %".replace(".", ",")
                                    if lab.rstrip("%").replace(".", "").isdigit() else lab
                                    for lab in labels])
        else:
            ax.set_xlabel("number of placements (n)")
            ax.set_ylabel("share of unplanned endings")
        return ax

    # ------------------------------------------------------------------ costs
    @_collects("costs")
    def cost_table(self) -> pd.DataFrame:
        """Care days and costs in the period by placement type (counts protected).

        Counts of placements and children are protected with secondary suppression (the total
        may be known from elsewhere). Every cost figure of a row with a hidden count, or with
        fewer than 10 placements, is hidden too: cost divided by cost per placement (or per
        child) would give the count back.
        """
        lang = self.lang
        t = costs.care_costs(self.tables["episodes"], self.period_start, self.period_end,
                             group_cols=["placement_type"])
        prot = disclosure.protect_counts(t[["episodes", "children"]].astype("int64"),
                                         threshold=self.threshold)
        counts = prot.to_display()
        hide = ((t["episodes"] < 10).to_numpy()
                | prot.suppressed.any(axis=1).to_numpy())
        out = pd.DataFrame({_label("placement_type", lang): t["placement_type"].to_numpy()})
        for c in ("episodes", "children"):
            out[_label(c, lang)] = [_fmt_count(v, lang) for v in counts[c]]
        for c in ("care_days", "cost_per_day", "cost_per_episode", "cost_per_child"):
            out[_label(c, lang)] = np.where(hide, disclosure.SECONDARY_MARK,
                                            t[c].map(lambda x: _fmt_int(x, lang)))
        out[_label("cost_msek", lang)] = np.where(
            hide, disclosure.SECONDARY_MARK, (t["cost_sek"] / 1e6).map(lambda x: _fmt(x, 1, lang)))
        return out

    @_collects("costs")
    def cost_effect(self):
        """Adjusted extra cost per avoided breakdown, ``treated`` vs ``control`` (cached).

        Returns None when it cannot be estimated (e.g. arms too small for the bootstrap);
        :meth:`cost_effect_text` then says why.
        """
        if "ice" not in self._cache:
            f = self.effect_frame()
            f = f[f["placement_type"].isin([self.treated, self.control])
                  & f[f"cost_{self.horizon}d"].notna()]
            try:
                self._cache["ice"] = costs.incremental_cost_effect(
                    f, "placement_type", f"cost_{self.horizon}d", f"unplanned_{self.horizon}d",
                    self.adjustment(), treated=self.treated, control=self.control,
                    cluster_col="child_id", n_bootstrap=self.n_bootstrap, seed=self.seed)
            except ParameterError as exc:
                self._cache["ice"] = None
                self._cache["ice_error"] = str(exc)
        return self._cache["ice"]

    @_collects("costs")
    def cost_effect_text(self) -> str:
        """Which quadrant of the cost-effectiveness plane the estimate lies in, in words."""
        res = self.cost_effect()
        if res is None:
            if self.lang == "sv":
                return ("Merkostnaden per undvikt sammanbrott kunde inte skattas för dessa "
                        f"data: {self._cost_error_reason()}")
            return ("The extra cost per avoided breakdown could not be estimated for these "
                    f"data: {self._cost_error_reason()}")
        m = res.metadata
        quadrant = {"more costly, fewer breakdowns": "dyrare, färre sammanbrott",
                    "less costly, fewer breakdowns (dominant)": "billigare, färre sammanbrott",
                    "more costly, more breakdowns (dominated)": "dyrare, fler sammanbrott",
                    "less costly, more breakdowns": "billigare, fler sammanbrott"}
        if self.lang == "sv":
            return (f"{self.treated} jämfört med {self.control}: {quadrant[m['quadrant']]}. "
                    "Kvoten (kostnad per undvikt sammanbrott) är bara meningsfull i kvadranten "
                    "dyrare, färre sammanbrott, och visas bara där.")
        return (f"{self.treated} compared with {self.control}: {m['quadrant']}. The ratio (cost "
                "per avoided breakdown) is only meaningful in the quadrant more costly, fewer "
                "breakdowns, and is shown only there.")

    def _cost_error_reason(self) -> str:
        """Why the cost effect could not be estimated, in the report's language.

        The reasons the costs module gives are recognised and translated; any other message is
        quoted without identifiers or small counts.
        """
        msg, sv = self._cache["ice_error"], self.lang == "sv"
        m = re.search(r"n_bootstrap must be at least (\d+), got (.+?)\.?$", msg)
        if m:
            return (f"n_bootstrap måste vara minst {m[1]} (angivet: {m[2]}); öka parametern "
                    "n_bootstrap." if sv else
                    f"n_bootstrap must be at least {m[1]} (given: {m[2]}); increase the "
                    "parameter n_bootstrap.")
        if re.search(r"bootstrap replicates.*could not be estimated", msg):
            return ("för många bootstrap-omdragningar kunde inte skattas, eftersom grupperna är "
                    "för små. Slå ihop placeringsformer eller välj en längre period." if sv else
                    "too many bootstrap replicates could not be estimated because the groups "
                    "are too small. Merge placement types or choose a longer period.")
        if re.search(r"is not a level of", msg):
            return (f"{self.treated} eller {self.control} saknas bland placeringarna med "
                    f"{self.horizon} dagars uppföljning; välj andra placeringsformer, en "
                    "tidigare period eller en kortare horizon." if sv else
                    f"{self.treated} or {self.control} is missing among the placements with "
                    f"{self.horizon} days of follow-up; choose other placement types, an "
                    "earlier period or a shorter horizon.")
        text = _escape_markdown(_sanitise(msg, self._identifiers(), self.threshold))
        return f"(originaltext) {text}" if sv else text

    @_collects("costs")
    def cost_effect_plot(self, ax=None):
        """Cost-effectiveness plane of the bootstrap replicates (None if not estimable)."""
        res = self.cost_effect()
        if res is None:
            return None
        ax = res.plot(ax=ax)
        ax.yaxis.set_major_formatter(
            lambda y, _: _fmt_int(y, self.lang))
        if self.lang == "sv":
            ax.set_xlabel(f"undvikta sammanbrott per 100 placeringar ({self.treated} mot "
                          f"{self.control})")
            ax.set_ylabel(f"merkostnad per placering (kr, första {self.horizon} dagarna)")
            handles, labels = ax.get_legend_handles_labels()
            names = {"bootstrap": "bootstrap", "estimate": "skattning"}
            ax.legend(handles, [names.get(lab, lab) for lab in labels], fontsize="small")
            _decimal_comma_ticks(ax, "x")
        else:
            ax.set_ylabel(f"extra cost per placement (SEK, first {self.horizon} days)")
        return ax

    @_collects("costs")
    def cost_effect_table(self) -> pd.DataFrame:
        """The cost-effect summary (display strings); empty if it cannot be estimated.

        Costs are in SEK per placement over the first ``horizon`` days. The ratio is shown
        only when the estimate lies in the quadrant "more costly, fewer breakdowns"; elsewhere
        a negative ratio has no meaning as a price of an avoided breakdown.
        """
        res = self.cost_effect()
        if res is None:
            return pd.DataFrame()
        lang, s = self.lang, res.summary
        meaningful = res.metadata["quadrant"] == "more costly, fewer breakdowns"
        rows = []
        for _, r in s.iterrows():
            m = r["measure"]
            money = m in ("cost_difference", "cost_per_avoided_breakdown")
            if m == "cost_per_avoided_breakdown" and not meaningful:
                est = ci = "–"
            elif money:
                est = _fmt_int(r["estimate"], lang)
                ci = "" if pd.isna(r["ci_lower"]) else (
                    f"({_fmt_int(r['ci_lower'], lang)}{'; ' if lang == 'sv' else ', '}"
                    f"{_fmt_int(r['ci_upper'], lang)})")
            else:
                est = _fmt(r["estimate"], 3, lang)
                ci = _fmt_ci(r["ci_lower"], r["ci_upper"], 3, lang)
            label = _MEASURE_LABELS.get(m, (m, m))[lang == "en"].format(h=self.horizon)
            rows.append({_label("measure", lang): label, _label("estimate", lang): est,
                         _label("ci", lang): ci})
        return pd.DataFrame(rows)

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
                The kind of warning recognised (``positivity``, ``separation_propensity``,
                ``separation_outcome``, ``separation``, ``constant_covariate``,
                ``extreme_weights``, ``bootstrap_failed``, ``follow_up_short``,
                ``convergence``, ``boundary``, ``small_group``, ``numerical``) or ``other``.
            ``note``
                A plain-language sentence in the report's language (Markdown); for ``other``
                the original text, with identifiers and pseudonyms replaced by ``[id]`` and
                whole numbers from 1 to ``threshold - 1`` by ``"<threshold"``.

        Examples
        --------
        >>> from evaluation.data import synth
        >>> data = synth.generate(n_children=300, n_municipalities=5, seed=1)
        >>> rep = OutcomeReport(data.tables, "2019-01-01", "2023-12-31", "2024-12-31",
        ...                     lang="en")
        >>> _ = rep.effect_table()  # a small sample: the effect models warn
        >>> "positivity" in set(rep.notes()["kind"])
        True
        """
        ids, rows = self._identifiers(), []
        for section, category, message in self._warnings:
            kind = _warning_kind(category, message)
            if kind == "other":
                text = _escape_markdown(_sanitise(message, ids, self.threshold))
                note = _OTHER_WARNING[self.lang].format(text=text)
            else:
                note = _WARNING_TEXT[kind][self.lang]
                if kind == "constant_covariate":
                    note += self._constant_detail(message)
            rows.append((section, kind, note))
        out = pd.DataFrame(rows, columns=["section", "kind", "note"]).drop_duplicates()
        order = {s: i for i, s in enumerate(_SECTIONS)}
        out = out.assign(_order=out["section"].map(order)).sort_values("_order", kind="stable")
        return out.drop(columns="_order").reset_index(drop=True)

    def _constant_detail(self, message: str) -> str:
        """" Variable: ...; group: ..." for a constant-covariate warning, if readable."""
        m = re.search(r"arm '([^']+)'.*?\[([^\]]*)\]", message)
        if not m or m[1] not in PLACEMENT_GROUPS:  # only placement types are safe to name
            return ""
        names = [_term(v.strip(" '\""), self.lang) for v in m[2].split(",") if v.strip()]
        if not names:
            return ""
        if self.lang == "sv":
            return f" Variabel: {', '.join(names)}; grupp: {m[1]}."
        return f" Variable: {', '.join(names)}; group: {m[1]}."

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
        >>> rep = OutcomeReport(data.tables, "2019-01-01", "2023-12-31", "2024-12-31")
        >>> rep.notes_text()
        'Modellerna gav inga varningar.'
        >>> _ = rep.effect_table()
        >>> "bristande överlapp" in rep.notes_text()
        True
        """
        notes = self.notes()
        if notes.empty:
            return ("Modellerna gav inga varningar." if self.lang == "sv"
                    else "The models raised no warnings.")
        lines = [self.text("notes_text"), ""]
        for note, sub in notes.groupby("note", sort=False):
            where = ", ".join(self.text(s).lstrip("# ") for s in pd.unique(sub["section"]))
            lines.append(f"- **{where}:** {note}")
        return "\n".join(lines)
