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
from evaluation.checks import check_language
from evaluation.data import analysis_frame
from evaluation.errors import ParameterError
from evaluation.models import effects
from evaluation.reporting.text import (
    confounder_text,
    format_interval,
    format_number,
    format_percent,
    number_ticks,
    phrase,
    phrases,
    term_label,
)

__all__ = ["ADJUSTMENT", "CHARACTERISTICS", "TeachingCase", "load_case"]

#: Characteristics compared between the arms (labels: :func:`evaluation.reporting.text.term_label`).
CHARACTERISTICS = ("age_13plus", "problem_criminality", "problem_child_substance",
                   "problem_child_mental", "unaccompanied")

#: Confounders adjusted for: the specification whose coverage benchmarks/simulate_effects.py
#: checks (columns of :func:`evaluation.data.analysis_frame.effect_frame`).
ADJUSTMENT = analysis_frame.EFFECT_COVARIATES


def load_case(data_dir: str | Path, *, treated: str = "HVB", control: str = "FH",
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
    return TeachingCase(tables["episodes"], truth, treated=treated, control=control,
                        horizon=horizon, lang=lang, threshold=threshold)


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

    def __init__(self, episodes: pd.DataFrame, truth: dict[str, Any], *, treated: str = "HVB",
                 control: str = "FH", horizon: int = 365, lang: str = "sv",
                 threshold: int = 5) -> None:
        check_language(lang)
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
        return phrase("teaching", "text", key, self.lang, treated=self.treated,
                      control=self.control, horizon=self.horizon,
                      confounders=confounder_text(self.lang))

    def _label(self, key: str) -> str:
        return phrase("teaching", "labels", key, self.lang)

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
        rows = []
        for col in CHARACTERISTICS:
            row = {"": term_label(col, self.lang)}
            for arm in (self.treated, self.control):
                sub = self.frame.loc[self.frame["placement_type"] == arm, col]
                k, n = int(sub.sum()), len(sub)
                shown = disclosure.protect_rates(pd.Series([k]), pd.Series([n]),
                                                 threshold=self.threshold).iloc[0]
                row[arm] = (disclosure.SECONDARY_MARK if pd.isna(shown)
                            else format_percent(100 * k / n, 0, self.lang, scale=1))
            rows.append(row)
        n_row = {"": self._label("placements")}
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
        beh = np.where(f["behaviour"] == 1, self._label("behaviour"), self._label("no_behaviour"))
        g = pd.DataFrame({"group": pd.Series(age) + ", " + pd.Series(beh),
                          "arm": f["placement_type"], "y": f[self.outcome]})
        rows = []
        for name in [*sorted(g["group"].unique()), None]:
            sub = g if name is None else g[g["group"] == name]
            label = name if name is not None else self._label("all_plain")
            row: dict[str, Any] = {"": label}
            risks = {}
            for arm in (self.treated, self.control):
                y = sub.loc[sub["arm"] == arm, "y"]
                shown = disclosure.protect_rates(pd.Series([int(y.sum())]), pd.Series([len(y)]),
                                                 threshold=self.threshold).iloc[0]
                risks[arm] = np.nan if pd.isna(shown) else y.mean()
                row[arm] = (disclosure.SECONDARY_MARK if pd.isna(shown)
                            else format_number(y.mean(), 3, self.lang))
            diff = risks[self.treated] - risks[self.control]
            row[phrase("teaching", "columns", "difference", self.lang)] = (
                disclosure.SECONDARY_MARK if pd.isna(diff) else format_number(diff, 3, self.lang))
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
        e, lang = self.estimates(), self.lang
        heads, methods = phrases("teaching", "columns", lang), phrases("teaching", "methods", lang)

        def f(x):
            return format_number(x, 3, lang)

        return pd.DataFrame({
            heads["method"]: e["method"].map(methods.__getitem__),
            heads["estimate"]: e["estimate"].map(f),
            heads["ci"]: [format_interval(lo, hi, 3, lang)
                          for lo, hi in zip(e["ci_lower"], e["ci_upper"], strict=True)],
            heads["truth"]: e["truth"].map(f),
            heads["covers"]: np.where(e["covers"], self._label("yes"), self._label("no")),
        })

    def plot(self, ax=None):
        """Estimates with intervals against the true effect; returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots(figsize=(6, 3))[1]
        e = self.estimates()
        y = np.arange(len(e))[::-1]
        ax.errorbar(e["estimate"], y, xerr=[e["estimate"] - e["ci_lower"],
                                           e["ci_upper"] - e["estimate"]], fmt="o", capsize=3)
        ax.axvline(e["truth"].iloc[0], color="tab:red", linestyle="--",
                   label=self._label("true_effect"))
        ax.axvline(0, color="grey", linewidth=1)
        ax.set_yticks(y)
        methods = phrases("teaching", "methods", self.lang)
        ax.set_yticklabels([methods[m] for m in e["method"]])
        ax.set_xlabel(phrase("teaching", "labels", "risk_difference_axis", self.lang,
                             treated=self.treated, control=self.control))
        ax.legend(loc="best", fontsize="small")
        number_ticks(ax, self.lang, "x")
        return ax
