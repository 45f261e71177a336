"""Teaching material for municipal staff: why a plain comparison of placement types misleads,
shown on synthetic data whose true effects are known (``notebooks/03-teaching-confounding``).

The synthetic generator (:mod:`evaluation.data.synth`) places older children with behaviour
problems in HVB and SiS more often, and those children also break down more often whatever
their placement. A plain comparison of breakdown risks therefore mixes the effect of the
placement with the differences between the children. This module puts the plain comparison,
comparisons within groups of similar children, and adjusted estimates next to the true
effect stated in ``truth.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation import disclosure
from evaluation.data import analysis_frame
from evaluation.errors import ParameterError
from evaluation.models import effects
from evaluation.reporting.outcomes import _confounder_text

__all__ = ["TeachingCase", "load_case"]

_TEXT: dict[str, dict[str, str]] = {
    "title": {"sv": "# Varför räcker det inte att jämföra? Ett övningsexempel",
              "en": "# Why a plain comparison is not enough: a worked example"},
    "intro": {
        "sv": "Uppgifterna här är **påhittade** (syntetiska) men liknar verkliga placeringar. "
              "Fördelen är att vi vet svaret: generatorn har en inbyggd sann effekt av att placeras "
              "i {treated} i stället för {control} på risken för ett oplanerat avslut (sammanbrott "
              "eller avvikning) inom {horizon} dagar. Vi kan därför se vilka jämförelser som "
              "hittar rätt och vilka som inte gör det.",
        "en": "The data here are **invented** (synthetic) but resemble real placements. The "
              "advantage is that we know the answer: the generator has a built-in true effect of "
              "being placed in {treated} rather than {control} on the risk of an unplanned ending "
              "(breakdown or absconding) within {horizon} days. So we can see which comparisons "
              "get it right and which do not."},
    "children": {"sv": "## 1. Barnen skiljer sig åt", "en": "## 1. The children differ"},
    "children_text": {
        "sv": "Andel barn med varje egenskap i de två placeringsformerna. Barnen i {treated} är "
              "äldre och har oftare kriminalitet eller missbruk, och de egenskaperna ökar risken "
              "för sammanbrott oavsett var barnet bor.",
        "en": "Share of children with each characteristic in the two types of placement. "
              "Children in {treated} are older and more often have criminality or substance use, "
              "and these raise the risk of breakdown wherever the child lives."},
    "children_text_mixed": {
        "sv": "Andel barn med varje egenskap i de två placeringsformerna. Skiljer sig barnen åt? "
              "Egenskaper som både styr var barnet placeras och ökar risken för sammanbrott gör "
              "en enkel jämförelse missvisande.",
        "en": "Share of children with each characteristic in the two types of placement. Do the "
              "children differ? Characteristics that both steer where a child is placed and "
              "raise the risk of breakdown make a plain comparison misleading."},
    "strata_text_mixed": {
        "sv": "Risken för oplanerat avslut inom {horizon} dagar i grupper av liknande barn. "
              "Jämför skillnaden mellan {treated} och {control} inom grupperna med den enkla "
              "jämförelsen. Här är den inte mindre i alla grupper: grupperna är små eller "
              "grova, så slumpen och kvarvarande skillnader mellan barnen spelar in.",
        "en": "Risk of an unplanned ending within {horizon} days in groups of similar children. "
              "Compare the difference between {treated} and {control} within the groups with "
              "the plain comparison. Here it is not smaller in every group: the groups are "
              "small or coarse, so chance and remaining differences between children play a "
              "part."},
    "lesson_mixed": {
        "sv": "**Slutsats:** i de här data blev det inte så tydligt som vanligt: antingen "
              "träffade den enkla jämförelsen facit eller så missade någon justerad skattning "
              "det. Med få placeringar blir intervallen breda och slumpen stor. Principen står "
              "kvar: en enkel jämförelse blandar ihop placeringens effekt med skillnader mellan "
              "barnen, och justering hjälper bara för faktorer som finns i data.",
        "en": "**Lesson:** in these data the picture is less clear than usual: either the plain "
              "comparison covered the answer or an adjusted estimate missed it. With few "
              "placements the intervals are wide and chance is large. The principle stands: a "
              "plain comparison mixes the effect of the placement with differences between the "
              "children, and adjustment only helps for factors that are in the data."},
    "strata": {"sv": "## 2. Jämför lika med lika", "en": "## 2. Compare like with like"},
    "strata_text": {
        "sv": "Risken för oplanerat avslut inom {horizon} dagar i grupper av liknande barn. Inom "
              "varje grupp är skillnaden mellan {treated} och {control} mindre än i den enkla "
              "jämförelsen: en del av den skillnaden berodde på vilka barn som placerades var.",
        "en": "Risk of an unplanned ending within {horizon} days in groups of similar children. "
              "Within each group the difference between {treated} and {control} is smaller than "
              "in the plain comparison: part of that difference came from which children were "
              "placed where."},
    "methods": {"sv": "## 3. Fyra sätt att skatta effekten, och facit",
                "en": "## 3. Four ways to estimate the effect, and the answer"},
    "methods_text": {
        "sv": "Skillnad i risk ({treated} minus {control}) med 95 % konfidensintervall. *Ojusterad* "
              "är den enkla jämförelsen. *Regression*, *viktning (IPW)* och *dubbelt robust (AIPW)* "
              "tar hänsyn till {confounders}. Den sanna "
              "effekten kommer från generatorn. Träffar intervallet facit?",
        "en": "Risk difference ({treated} minus {control}) with 95% confidence intervals. "
              "*Naive* is the plain comparison. *Regression*, *weighting (IPW)* and *doubly robust "
              "(AIPW)* take {confounders} into account. "
              "The true effect comes from the generator. Does the interval cover the answer?"},
    "lesson": {
        "sv": "**Slutsats:** en enkel jämförelse mellan placeringsformer säger mest om vilka barn "
              "som placeras var. Justerade skattningar kommer nära det sanna svaret här, men bara "
              "för att alla faktorer som styr både placering och utfall finns med i data. I "
              "verkliga data kan viktiga faktorer saknas; E-värdet i effektrapporten visar hur "
              "starka de skulle behöva vara.",
        "en": "**Lesson:** a plain comparison of placement types mostly tells you which children "
              "are placed where. The adjusted estimates come close to the true answer here, but "
              "only because every factor that drives both placement and outcome is in the data. "
              "In real data important factors may be missing; the E-value in the effects report "
              "shows how strong they would have to be."},
}

_METHOD_LABELS = {"naive": ("ojusterad", "naive"), "regression": ("regression", "regression"),
                  "ipw": ("viktning (IPW)", "weighting (IPW)"),
                  "aipw": ("dubbelt robust (AIPW)", "doubly robust (AIPW)")}

_CHARACTERISTICS = {"age_13plus": ("13 år eller äldre", "aged 13 or over"),
                    "problem_criminality": ("kriminalitet", "criminality"),
                    "problem_child_substance": ("eget missbruk", "own substance use"),
                    "problem_child_mental": ("psykisk ohälsa", "mental ill-health"),
                    "unaccompanied": ("ensamkommande", "unaccompanied")}

#: Confounders adjusted for: the specification whose coverage benchmarks/simulate_effects.py
#: checks (columns of :func:`evaluation.data.analysis_frame.effect_frame`).
ADJUSTMENT = analysis_frame.EFFECT_COVARIATES


def _fmt(x: float, decimals: int = 3, lang: str = "en") -> str:
    """Number with ``decimals`` decimals; decimal comma in Swedish."""
    if pd.isna(x):
        return ""
    s = f"{x:.{decimals}f}"
    return s.replace(".", ",") if lang == "sv" else s


def load_case(data_dir: str | Path, treated: str = "HVB", control: str = "FH",
              horizon: int = 365, lang: str = "sv", threshold: int = 5) -> TeachingCase:
    """Read a synthetic data folder with its ``truth.json`` and set up the teaching case.

    Parameters
    ----------
    data_dir : str or Path
        Folder written by ``evaluation synth`` (``episodes.csv`` and ``truth.json``).
    treated, control : str
        Placement types compared (the truth file states effects against FH).
    horizon : int, default 365
        Days of follow-up of the outcome (365 or 730, the horizons of the truth file).
    lang : {"sv", "en"}
        Language of texts and labels.
    threshold : int, default 5
        Smallest count shown.

    Returns
    -------
    TeachingCase

    Raises
    ------
    ParameterError
        If there is no ``truth.json`` (the lesson needs the known answer), or the truth has no
        effect for this contrast and horizon.
    """
    from evaluation.data.load import load_tables

    folder = Path(data_dir)
    truth_path = folder / "truth.json"
    if not truth_path.is_file():
        raise ParameterError(f"No truth.json in {str(folder)!r}: the teaching notebook needs "
                             "synthetic data written by `evaluation synth` (its known truth).")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    tables = load_tables(folder)
    return TeachingCase(tables["episodes"], truth, treated, control, horizon, lang, threshold)


class TeachingCase:
    """One teaching comparison: ``treated`` against ``control`` on synthetic data with truth.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes of a synthetic dataset.
    truth : dict
        Its truth (``SynthData.truth`` or the parsed ``truth.json``).
    treated, control, horizon, lang, threshold
        As :func:`load_case`.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> data = synth.generate(2000, 10, seed=3)
    >>> case = TeachingCase(data.tables["episodes"], data.truth)
    >>> round(case.true_effect(), 3) > 0
    True
    """

    def __init__(self, episodes: pd.DataFrame, truth: dict[str, Any], treated: str = "HVB",
                 control: str = "FH", horizon: int = 365, lang: str = "sv",
                 threshold: int = 5) -> None:
        if lang not in ("sv", "en"):
            raise ParameterError(f"lang must be 'sv' or 'en', got {lang!r}.")
        self.truth, self.treated, self.control = truth, treated, control
        self.horizon, self.lang, self.threshold = int(horizon), lang, threshold
        end = truth.get("generated", {}).get("end")
        frame = analysis_frame.effect_frame(episodes, horizon=self.horizon, end=end)
        self.frame = frame[frame["placement_type"].isin([treated, control])].reset_index(
            drop=True)
        self.outcome = f"unplanned_{self.horizon}d"
        self.true_effect()  # fail early if the truth has no such contrast

    # ------------------------------------------------------------------ text
    def text(self, key: str) -> str:
        """Heading or text ``key`` in the case's language (Markdown)."""
        if key in ("children_text", "strata_text", "lesson") and not self._holds(key):
            key = f"{key}_mixed"
        return _TEXT[key][self.lang].format(treated=self.treated, control=self.control,
                                            horizon=self.horizon,
                                            confounders=_confounder_text(self.lang))

    def _holds(self, key: str) -> bool:
        """Whether the data bear out the claim of text ``key`` (else a neutral text is used)."""
        f, t, c = self.frame, self.treated, self.control
        if key == "children_text":
            def share(col: str, arm: str) -> float:
                return float(f.loc[f["placement_type"] == arm, col].mean())
            older = share("age_13plus", t) > share("age_13plus", c)
            behaviour = any(share(col, t) > share(col, c)
                            for col in ("problem_criminality", "problem_child_substance"))
            return older and behaviour
        if key == "strata_text":
            diff = self.strata_table().iloc[:, -1]
            values = pd.to_numeric(diff.str.replace(",", ".", regex=False), errors="coerce")
            plain, within = values.iloc[-1], values.iloc[:-1].dropna()
            return bool(pd.notna(plain) and len(within) and (within.abs() < abs(plain)).all())
        e = self.estimates().set_index("method")
        return bool(not e.loc["naive", "covers"]
                    and e.loc[["regression", "ipw", "aipw"], "covers"].all())

    def true_effect(self) -> float:
        """True risk difference for the population of a two-arm analysis (truth file)."""
        try:
            values = self.truth["placement_effects"]["population"]["values"][str(self.horizon)]
            contrast = values["contrasts"][f"{self.treated} vs {self.control}"]
            return float(contrast[f"ATE_{self.control}_or_{self.treated}"]["risk_difference"])
        except KeyError as exc:
            raise ParameterError(
                f"the truth has no effect of {self.treated} vs {self.control} at {self.horizon} "
                f"days (missing key {exc}); use the horizons and contrasts of truth.json."
            ) from exc

    # ------------------------------------------------------------------ tables
    def characteristics_table(self) -> pd.DataFrame:
        """Share of children with each characteristic by arm (counts protected)."""
        i = 0 if self.lang == "sv" else 1
        rows = []
        for col, labels in _CHARACTERISTICS.items():
            row = {"": labels[i]}
            for arm in (self.treated, self.control):
                sub = self.frame.loc[self.frame["placement_type"] == arm, col]
                k, n = int(sub.sum()), len(sub)
                shown = disclosure.protect_rates(pd.Series([k]), pd.Series([n]),
                                                 threshold=self.threshold).iloc[0]
                row[arm] = disclosure.SECONDARY_MARK if pd.isna(shown) else (
                    f"{100 * k / n:.0f}" + (" %" if self.lang == "sv" else "%"))
            rows.append(row)
        n_row = {"": "antal placeringar" if self.lang == "sv" else "placements"}
        counts = self.frame["placement_type"].value_counts()
        n = pd.DataFrame({"n": [int(counts.get(arm, 0)) for arm in (self.treated, self.control)]})
        shown = disclosure.protect_counts(n, threshold=self.threshold).to_display()["n"]
        for arm, value in zip((self.treated, self.control), shown, strict=True):
            n_row[arm] = value
        rows.append(n_row)
        return pd.DataFrame(rows)

    def strata_table(self) -> pd.DataFrame:
        """Risk by arm within groups of similar children (age 13+ x behaviour problems)."""
        f = self.frame
        age = np.where(f["age_13plus"] == 1, "13+", "0-12")
        beh = np.where(f["behaviour"] == 1,
                       "beteendeproblem" if self.lang == "sv" else "behaviour problems",
                       "inga beteendeproblem" if self.lang == "sv" else "no behaviour problems")
        g = pd.DataFrame({"group": pd.Series(age) + ", " + pd.Series(beh),
                          "arm": f["placement_type"], "y": f[self.outcome]})
        rows = []
        for name in [*sorted(g["group"].unique()), None]:
            sub = g if name is None else g[g["group"] == name]
            label = name if name is not None else ("alla (enkel jämförelse)" if self.lang == "sv"
                                                   else "all (plain comparison)")
            row: dict[str, Any] = {"": label}
            risks = {}
            for arm in (self.treated, self.control):
                y = sub.loc[sub["arm"] == arm, "y"]
                shown = disclosure.protect_rates(pd.Series([int(y.sum())]), pd.Series([len(y)]),
                                                 threshold=self.threshold).iloc[0]
                risks[arm] = np.nan if pd.isna(shown) else y.mean()
                row[arm] = (disclosure.SECONDARY_MARK if pd.isna(shown)
                            else _fmt(y.mean(), 3, self.lang))
            diff = risks[self.treated] - risks[self.control]
            row["skillnad" if self.lang == "sv" else "difference"] = (
                disclosure.SECONDARY_MARK if pd.isna(diff) else _fmt(diff, 3, self.lang))
            rows.append(row)
        return pd.DataFrame(rows)

    def estimates(self) -> pd.DataFrame:
        """Risk difference by naive, regression, IPW and AIPW with the truth (numeric).

        Returns
        -------
        pandas.DataFrame
            ``method, estimate, se, ci_lower, ci_upper, truth, covers``. Computed once and
            cached (the table, the plot and the lesson text use it).

        Notes
        -----
        A confounder that is constant in the two arms (e.g. no 13-year-olds with ``horizon``
        days of follow-up in a small dataset) needs no adjustment and cannot be estimated, so
        it is left out of the models.
        """
        if getattr(self, "_estimates", None) is not None:
            return self._estimates.copy()
        adjustment = [c for c in ADJUSTMENT if self.frame[c].nunique(dropna=True) > 1]
        rows = []
        for method in ("naive", "regression", "ipw", "aipw"):
            s = effects.estimate_effect(self.frame, "placement_type", self.outcome, adjustment,
                                        method=method, treated=self.treated,
                                        control=self.control).summary
            r = s[s["measure"] == "risk_difference"].iloc[0]
            rows.append({"method": method, "estimate": r["estimate"], "se": r["se"],
                         "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"]})
        out = pd.DataFrame(rows)
        out["truth"] = self.true_effect()
        out["covers"] = (out["ci_lower"] <= out["truth"]) & (out["truth"] <= out["ci_upper"])
        self._estimates = out
        return out.copy()

    def estimates_table(self) -> pd.DataFrame:
        """:meth:`estimates` as display strings in the case's language."""
        e = self.estimates()
        i = 0 if self.lang == "sv" else 1
        yes, no = ("ja", "nej") if self.lang == "sv" else ("yes", "no")
        sep = "; " if self.lang == "sv" else ", "

        def f(x):
            return _fmt(x, 3, self.lang)

        return pd.DataFrame({
            "metod" if i == 0 else "method": e["method"].map(lambda m: _METHOD_LABELS[m][i]),
            "skattning" if i == 0 else "estimate": e["estimate"].map(f),
            "95 % KI" if i == 0 else "95% CI": "(" + e["ci_lower"].map(f) + sep
            + e["ci_upper"].map(f) + ")",
            "sann effekt" if i == 0 else "true effect": e["truth"].map(f),
            "träffar" if i == 0 else "covers": np.where(e["covers"], yes, no),
        })

    def plot(self, ax=None):
        """Estimates with intervals against the true effect; returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots(figsize=(6, 3))[1]
        e = self.estimates()
        i = 0 if self.lang == "sv" else 1
        y = np.arange(len(e))[::-1]
        ax.errorbar(e["estimate"], y, xerr=[e["estimate"] - e["ci_lower"],
                                           e["ci_upper"] - e["estimate"]], fmt="o", capsize=3)
        ax.axvline(e["truth"].iloc[0], color="tab:red", linestyle="--",
                   label="sann effekt" if i == 0 else "true effect")
        ax.axvline(0, color="grey", linewidth=1)
        ax.set_yticks(y)
        ax.set_yticklabels([_METHOD_LABELS[m][i] for m in e["method"]])
        ax.set_xlabel(f"{'riskskillnad' if i == 0 else 'risk difference'} "
                      f"({self.treated} - {self.control})")
        ax.legend(loc="best", fontsize="small")
        if self.lang == "sv":
            ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:g}".replace(".", ","))
        return ax
