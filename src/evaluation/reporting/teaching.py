"""Teaching material for municipal staff: why a plain comparison of placement types misleads,
shown on synthetic data whose true effects are known (``notebooks/03-teaching-confounding``).

The synthetic generator (:mod:`evaluation.data.synth`) places older children with behaviour
problems in HVB and SiS more often, and those children also break down more often whatever
their placement. A plain comparison of breakdown risks therefore mixes the effect of the
placement with the differences between the children. This module puts the plain comparison,
comparisons within groups of similar children, and adjusted estimates next to the true
effect stated in ``truth.json``.

The material is shown to municipal staff, on synthetic data, but the disclosure rule is the
same everywhere (:class:`~evaluation.disclosure.DisclosurePolicy`, publication mode by
default): the placements per arm are published counts (cell-key method, record ids
``child_id|episode_id``), and the shares and risks by arm and group are computed from the
published counts and shown only for enough children, events and non-events. The comparison
with the known truth stays exact where it is about the truth: the numbers of ``truth.json``
are parameters of the simulation, not counts.
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
from evaluation.disclosure import DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.models import effects
from evaluation.reporting.tables import count_label
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
              horizon: int = 365, lang: str = "sv", threshold: int = 5,
              policy: DisclosurePolicy | None = None) -> TeachingCase:
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
        Smallest count shown (builds the default policy when ``policy`` is None).
    policy : DisclosurePolicy, optional
        Disclosure policy; None means publication mode with the project defaults.

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
                        horizon=horizon, lang=lang, threshold=threshold, policy=policy)


class TeachingCase:
    """One teaching comparison: ``treated`` against ``control`` on synthetic data with truth.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes of a synthetic dataset.
    truth : dict
        Its truth (``SynthData.truth`` or the parsed ``truth.json``).
    treated, control, horizon, lang, threshold, policy
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
                 threshold: int = 5, policy: DisclosurePolicy | None = None) -> None:
        check_language(lang)
        self.policy = policy if policy is not None else DisclosurePolicy(threshold=threshold)
        self.truth, self.treated, self.control = truth, treated, control
        self.horizon, self.lang, self.threshold = int(horizon), lang, self.policy.threshold
        end = truth.get("generated", {}).get("end")
        frame = analysis_frame.effect_frame(episodes, horizon=self.horizon, end=end)
        child = episodes.drop_duplicates("episode_id").set_index("episode_id")["child_id"]
        frame["child_id"] = frame["episode_id"].map(child).astype(str).to_numpy()
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
        t, c = self.treated, self.control
        if key == "children_text":
            def share(col: str, arm: str) -> float:
                return self._share(self.frame["placement_type"] == arm, col)
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

    # ------------------------------------------------------------------ published counts
    def _ids(self, rows: pd.Series) -> pd.Series:
        """Record ids (``child_id|episode_id``) of the placements selected by ``rows``."""
        f = self.frame[rows.to_numpy()]
        return f["child_id"].astype(str) + "|" + f["episode_id"].astype(str)

    def counts(self, rows: pd.Series, col: str) -> tuple[int, int, int]:
        """Published placements, placements with ``col`` == 1, and children of ``rows``."""
        ids = self._ids(rows)
        has = (self.frame.loc[rows.to_numpy(), col] == 1).to_numpy()
        kids = self.frame.loc[rows.to_numpy(), "child_id"].astype(str)
        return self.policy.count(ids), self.policy.count(ids[has]), self.policy.count(kids)

    def _share(self, rows: pd.Series, col: str) -> float:
        """Share of the placements ``rows`` with ``col`` == 1 from published counts; NaN
        where the policy does not allow it (too few children, events or non-events)."""
        n, k, kids = self.counts(rows, col)
        if not (self.policy.allows_rate(kids) and self.policy.allows_rate(n, k)):
            return float("nan")
        return k / n

    def allowed(self) -> bool:
        """Whether both arms have enough children, breakdowns and placements without one
        (published counts) for the estimates to be shown."""
        return all(not pd.isna(self._share(self.frame["placement_type"] == arm, self.outcome))
                   for arm in (self.treated, self.control))

    # ------------------------------------------------------------------ tables
    def characteristics_table(self) -> pd.DataFrame:
        """Share of placements with each characteristic by arm, from published counts, and
        the published number of placements per arm."""
        rows = []
        arm_rows = {arm: self.frame["placement_type"] == arm
                    for arm in (self.treated, self.control)}
        for col in CHARACTERISTICS:
            row = {"": term_label(col, self.lang)}
            for arm in (self.treated, self.control):
                share = self._share(arm_rows[arm], col)
                row[arm] = (disclosure.SECONDARY_MARK if pd.isna(share)
                            else format_percent(share, 0, self.lang))
            rows.append(row)
        n_row = {"": self._label("placements")}
        for arm in (self.treated, self.control):
            n_row[arm] = count_label(self.policy, self.policy.count(self._ids(arm_rows[arm])),
                                     self.lang)
        rows.append(n_row)
        return pd.DataFrame(rows)

    def strata_table(self) -> pd.DataFrame:
        """Risk by arm within groups of similar children (age 13+ x behaviour problems),
        from published counts; ".." where a group's arm has too few children, breakdowns or
        placements without one."""
        f = self.frame
        age = np.where(f["age_13plus"] == 1, "13+", "0-12")
        beh = np.where(f["behaviour"] == 1, self._label("behaviour"), self._label("no_behaviour"))
        group = pd.Series(age) + ", " + pd.Series(beh)
        rows = []
        for name in [*sorted(group.unique()), None]:
            in_group = pd.Series(True, index=f.index) if name is None else group == name
            label = name if name is not None else self._label("all_plain")
            row: dict[str, Any] = {"": label}
            risks = {}
            for arm in (self.treated, self.control):
                risks[arm] = self._share(in_group & (f["placement_type"] == arm), self.outcome)
                row[arm] = (disclosure.SECONDARY_MARK if pd.isna(risks[arm])
                            else format_number(risks[arm], 3, self.lang))
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
        """:meth:`estimates` as display strings in the case's language (empty when an arm
        does not clear the disclosure policy, see :meth:`allowed`)."""
        if not self.allowed():
            return pd.DataFrame()
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

    def banner_text(self) -> str:
        """The internal-mode banner (Markdown); '' in publication mode."""
        if self.policy.publication:
            return ""
        return phrase("disclosure", "page", "banner", self.lang)

    def footer_text(self) -> str:
        """The sentence on disclosure control for the end of the notebook (Markdown)."""
        key = "footer" if self.policy.publication else "footer_internal"
        return phrase("disclosure", "page", key, self.lang,
                      min_children=self.policy.min_children, min_events=self.policy.min_events)

    def plot(self, ax=None):
        """Estimates with intervals against the true effect; returns the Axes (None when an
        arm does not clear the disclosure policy)."""
        import matplotlib.pyplot as plt

        if not self.allowed():
            return None
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
