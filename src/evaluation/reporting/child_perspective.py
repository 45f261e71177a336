"""The child's perspective (``notebooks/04-child-perspective.ipynb``): whether children were
heard, their own ratings of the Fatta läget themes, and whether the child and the social
worker see things the same way.

Vårdanalys (2018:9 *Fatta läget*) asks that care be followed up from the child's
perspective; the data dictionary holds what the follow-up form records of it: whether the
child was heard (``followups.child_heard``), the child's view of the placement at its start
(``episodes.child_view``), and the child's own 1–5 rating of eight themes
(``followups.theme_*``). Two of the themes have a counterpart that the social worker
assesses at the same follow-up (health, school); :data:`AGREEMENT_PAIRS` pairs them.

Disclosure control
------------------
Everything goes through the report's :class:`~evaluation.disclosure.DisclosurePolicy`
(publication mode by default), as in the overview: every count shown is the published
(cell-key perturbed) count of its own cell's records, so no count of 1 to ``threshold - 1``
appears; shares, means and agreement are shown only where at least ``policy.min_children``
children stand behind them (and, for the share agreeing, ``policy.min_events`` follow-ups
agree and as many disagree); a selection, placement type or year with fewer children is not
broken down. Shares and the weighted kappa are computed from the published counts, never
from the exact ones. Record ids: ``child_id|episode_id|fu<j>`` for follow-ups (the j-th
follow-up of the episode in the cell, the convention of the outcomes report),
``child_id|episode_id`` for episodes and ``child_id`` for children.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.checks import check_language
from evaluation.data.dictionary import load_dictionary, municipality_label
from evaluation.data.load import select_period
from evaluation.disclosure import SECONDARY_MARK, DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.reporting import overview
from evaluation.reporting.plots import bar_comparison, chart_alt_text
from evaluation.reporting.tables import count_label, table_caption, themes_scale_text
from evaluation.reporting.text import format_number, format_percent, number_ticks, phrase, phrases

__all__ = ["AGREEMENT_PAIRS", "LEVELS", "RATING_LEVELS", "WORKER_LEVELS", "ChildPerspective",
           "weighted_kappa"]

#: The child's rating and the social worker's assessment of the same thing at one follow-up:
#: name -> (theme column, social worker's column). A project proposal (confidence L): the
#: form has no social-worker rating of the themes themselves.
AGREEMENT_PAIRS: dict[str, tuple[str, str]] = {
    "health": ("theme_health", "health_status"),
    "school": ("theme_education", "school_status"),
}

#: Ordered levels both assessments are brought to before they are compared.
LEVELS: tuple[str, ...] = ("low", "middle", "high")

#: The child's 1–5 rating as a level: 1–2 poor, 3 neither, 4–5 good (L, configurable).
RATING_LEVELS: dict[int, str] = {1: "low", 2: "low", 3: "middle", 4: "high", 5: "high"}

#: The social worker's codes as levels (L, configurable).
WORKER_LEVELS: dict[str, dict[str, str]] = {
    "health_status": {"SERIOUS": "low", "SOME": "middle", "GOOD": "high"},
    "school_status": {"NONE": "low", "IRREGULAR": "middle", "REGULAR": "high"},
}

#: Ways of breaking a table down: by the episode's placement type or the follow-up's year.
_BY = ("placement_type", "year")


def weighted_kappa(table: np.ndarray | pd.DataFrame, weights: str = "linear") -> float:
    """Cohen's weighted kappa of a square table of counts (rows: one rater, columns: the
    other, categories in the same order).

    Parameters
    ----------
    table : array-like, shape (k, k)
        Counts (published counts in a report).
    weights : {"linear", "quadratic"}, default "linear"
        Agreement weight of cells i, j: ``1 - |i - j| / (k - 1)`` or its square form
        ``1 - ((i - j) / (k - 1))**2``.

    Returns
    -------
    float
        ``(p_o - p_e) / (1 - p_e)`` with weighted observed and chance agreement; NaN for an
        empty table or when chance agreement is 1.

    Notes
    -----
    As ``irr::kappa2(weight = "equal")`` (linear) and ``"squared"`` (quadratic) in R.

    Examples
    --------
    >>> round(weighted_kappa([[10, 2, 0], [3, 12, 4], [0, 5, 14]]), 3)
    0.667
    >>> weighted_kappa([[5, 0], [0, 5]])
    1.0
    """
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ParameterError(f"weighted_kappa needs a square table, got shape {t.shape}.")
    if weights not in ("linear", "quadratic"):
        raise ParameterError(f"weights must be 'linear' or 'quadratic', got {weights!r}.")
    n = t.sum()
    k = t.shape[0]
    if n <= 0 or k < 2:
        return float("nan")
    i, j = np.indices(t.shape)
    d = np.abs(i - j) / (k - 1)
    w = 1 - (d if weights == "linear" else d**2)
    p = t / n
    p_o = float((w * p).sum())
    p_e = float((w * np.outer(p.sum(axis=1), p.sum(axis=0))).sum())
    return float("nan") if np.isclose(p_e, 1.0) else (p_o - p_e) / (1 - p_e)


@dataclass
class ChildPerspective:
    """The sections of the child's-perspective report for one selection.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Validated tables (``episodes`` and ``followups``; :func:`evaluation.data.load_tables`).
    municipality : str
        Four-digit municipality code, or ``"all"`` (keyword-only, as all that follow).
    period_start, period_end : str
        Follow-ups dated in the period are described (episodes active in it, for the child's
        view at start). Publication mode snaps the period to whole months.
    lang : {"sv", "en"}
    policy : DisclosurePolicy, optional
        None is publication mode.

    Raises
    ------
    ParameterError
        On an unknown language, a missing ``episodes`` or ``followups`` table, dates that
        cannot be read, or a municipality without episodes in the period.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> data = synth.generate(n_children=300, n_municipalities=3, seed=1)
    >>> cp = ChildPerspective(data.tables, period_start="2019-01-01", period_end="2024-12-31")
    >>> list(cp.heard_table().columns)
    ['Kategori', 'Urval', 'Antal', 'Andel']
    """

    tables: Any
    _: KW_ONLY
    municipality: str = "all"
    period_start: str = "2019-01-01"
    period_end: str = "2024-12-31"
    lang: str = "sv"
    policy: DisclosurePolicy | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        check_language(self.lang)
        if self.policy is None:
            self.policy = DisclosurePolicy()
        elif not isinstance(self.policy, DisclosurePolicy):
            raise ParameterError(f"policy must be a DisclosurePolicy, got {self.policy!r}.")
        for name in ("episodes", "followups"):
            if name not in self.tables:
                raise ParameterError(self._say("errors", "no_table", table=name))
        self.requested_period = (self.period_start, self.period_end)
        start, end = self.policy.period(self.period_start, self.period_end)
        self.start_, self.end_ = start, end
        ep = self.tables["episodes"]
        self.episodes_ = select_period(ep, start, end)
        self.everyone_ = self.municipality is None or str(self.municipality).lower() == "all"
        if not self.everyone_:
            present = sorted(self.episodes_["municipality_code"].dropna().astype(str).unique())
            if str(self.municipality) not in present:
                raise ParameterError(self._say("errors", "municipality", value=self.municipality,
                                               present=", ".join(present)))
        fu = self.tables["followups"]
        date = pd.to_datetime(fu["followup_date"])
        fu = fu[(date >= start) & (date <= end)]
        info = ep.drop_duplicates("episode_id").set_index("episode_id")[
            ["child_id", "municipality_code", "placement_type"]]
        fu = fu[fu["episode_id"].isin(info.index)].join(info, on="episode_id")
        fu = fu.assign(year=pd.to_datetime(fu["followup_date"]).dt.year.astype(str))
        self.followups_ = fu.sort_values(["episode_id", "followup_date"]).reset_index(drop=True)

    # ------------------------------------------------------------------ wording
    def _say(self, section: str, key: str, **fields: Any) -> str:
        return phrase("child_perspective", section, key, self.lang, **fields)

    def title(self) -> str:
        """Markdown title of the report."""
        return f"# {self._say('title', 'report')}"

    def text(self, key: str) -> str:
        """Heading or explanatory text ``key`` (catalog ``child_perspective.text``): ``intro``,
        ``heard``, ``view``, ``themes``, ``agreement`` ... (Markdown)."""
        return self._say("text", key, min_children=self.policy.min_children)

    def _fields(self) -> dict[str, Any]:
        return {"min_children": self.policy.min_children, "min_events": self.policy.min_events}

    def caption(self, name: str) -> str:
        """What the table made by the method ``name`` shows and how to read it (catalog
        ``child_perspective.captions``); the captions of the theme tables end with the
        rating scale, e.g. ``caption("themes_table")``, ``caption("heard_by_year")``."""
        text = table_caption("child_perspective", name, self.lang, **self._fields())
        if name.startswith("themes"):
            text += " " + themes_scale_text(self.lang)
        return text

    def alt_text(self, name: str) -> str:
        """What the chart made by the method ``name`` shows, in words (catalog
        ``child_perspective.alt_texts``), for the ``alt`` of its image."""
        return chart_alt_text("child_perspective", name, self.lang, **self._fields())

    # ------------------------------------------------------------------ selection
    def _selected(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.everyone_:
            return frame
        return frame[frame["municipality_code"].astype(str) == str(self.municipality)]

    def _children(self, frame: pd.DataFrame) -> int:
        return self.policy.count(frame["child_id"].astype(str))

    def broken_down(self) -> bool:
        """Whether the selection has enough children (published count of the children with
        a follow-up in the period) to be broken down at all."""
        return self.policy.allows_breakdown(self._children(self._selected(self.followups_)))

    def selection_text(self) -> str:
        """Markdown stating the selection: unit, period, published numbers of follow-ups
        and children, and why numbers may be missing (period snapped, small selection)."""
        fu = self._selected(self.followups_)
        unit = (phrase("overview", "labels", "all_units", self.lang) if self.everyone_
                else phrase("overview", "labels", "unit", self.lang,
                            code=municipality_label(str(self.municipality))))
        first, last = f"{self.start_:%Y-%m-%d}", f"{self.end_:%Y-%m-%d}"
        text = self._say("labels", "selection", unit=unit, start=first, end=last,
                         n=self._shown(self.policy.count(self._followup_ids(fu))),
                         children=self._shown(self._children(fu)))
        if (self.start_, self.end_) != (pd.Timestamp(self.requested_period[0]),
                                        pd.Timestamp(self.requested_period[1])):
            text += " " + phrase("disclosure", "page", "period_snapped", self.lang,
                                 start=first, end=last)
        if not self.broken_down():
            text += " " + phrase("disclosure", "page", "small_selection", self.lang,
                                 min_children=self.policy.min_children)
        return text

    # ------------------------------------------------------------------ counting
    @staticmethod
    def _followup_ids(frame: pd.DataFrame) -> pd.Series:
        """Record ids of follow-ups: ``child_id|episode_id|fu<j>``, j counting the
        episode's follow-ups within the cell (as the outcomes report counts them)."""
        j = frame.groupby("episode_id", sort=False).cumcount().astype(str)
        return (frame["child_id"].astype(str) + "|" + frame["episode_id"].astype(str)
                + "|fu" + j)

    def _count(self, frame: pd.DataFrame) -> int:
        """Published number of follow-ups in ``frame`` (its own cell)."""
        return self.policy.count(self._followup_ids(frame))

    def _shown(self, n: float) -> str:
        return count_label(self.policy, n, self.lang)

    def _percent(self, n: float, den: float) -> str:
        """``n / den`` as a percentage of published counts ('' when den is 0)."""
        if not den:
            return ""
        share = min(max(n / den, 0.0), 1.0)
        decimals = self.policy.percent_decimals if self.policy.publication else 1
        return format_percent(share, decimals, self.lang)

    def _groups(self, frame: pd.DataFrame, by: str) -> list[tuple[str, pd.DataFrame]]:
        """(label, rows) of each placement type (dictionary order) or year present."""
        if by not in _BY:
            raise ParameterError(self._say("errors", "by", value=by, allowed=", ".join(_BY)))
        if by == "year":
            return [(y, frame[frame["year"] == y]) for y in sorted(frame["year"].unique())]
        col = load_dictionary().column("episodes", "placement_type")
        kinds = frame["placement_type"].astype(str)
        return [(col.code_label(c, self.lang), frame[kinds == c]) for c in col.code_values
                if (kinds == c).any()]

    def _by_head(self, by: str) -> str:
        return self._say("columns", by)

    # ------------------------------------------------------------------ heard
    def heard(self) -> pd.DataFrame:
        """Whether the child was heard at the follow-ups of the period, selection beside all
        municipalities, in the frame of :func:`evaluation.reporting.overview.distribution`
        (``variable, category, code, scope, n, denominator, share, display``; counts of
        follow-ups, published; the share of the published counts)."""
        if "heard" not in self._cache:
            col = load_dictionary().column("followups", "child_heard")
            self._cache["heard"] = self._categorical(col.label[self.lang], "child_heard",
                                                     list(col.code_values),
                                                     [col.code_label(c, self.lang)
                                                      for c in col.code_values])
        return self._cache["heard"]

    def _categorical(self, variable: str, column: str, codes: list[str],
                     labels: list[str]) -> pd.DataFrame:
        scopes = [] if self.everyone_ else [("selected", self._selected(self.followups_))]
        scopes.append(("all", self.followups_))
        rows = []
        for scope, fu in scopes:
            known = fu[fu[column].notna()]
            ok = self.policy.allows_breakdown(self._children(fu))
            den = float(self._count(known)) if ok else float("nan")
            allowed = ok and self.policy.allows_rate(self._children(known)) and \
                self.policy.allows_rate(den)
            for code, label in zip(codes, labels, strict=True):
                n = float(self._count(known[known[column].astype(str) == code])) if ok \
                    else float("nan")
                share = min(max(n / den, 0.0), 1.0) if allowed and den > 0 else float("nan")
                if allowed and self.policy.publication:
                    share = self.policy.round_percent(share) / 100.0
                rows.append({"variable": variable, "category": label, "code": code,
                             "scope": phrase("overview", "scopes", scope, self.lang),
                             "n": n, "denominator": den, "share": share,
                             "display": "" if not ok else self.policy.label(n)
                             if self.policy.publication else str(int(n))})
        return pd.DataFrame(rows)

    def heard_table(self) -> pd.DataFrame:
        """:meth:`heard` as the table readers see (category, scope, count, share)."""
        return overview.display_table(self.heard(), lang=self.lang, policy=self.policy)

    def heard_plot(self, ax=None):
        """Bars of the shares of :meth:`heard` (selection beside all); returns the Axes."""
        return bar_comparison(self.heard(), title=self._say("headings", "heard"), ax=ax,
                              lang=self.lang)

    def view(self) -> pd.DataFrame:
        """The child's view of the placement at its start (``episodes.child_view``) for the
        episodes active in the period: :func:`evaluation.reporting.overview.distribution`
        (counts of episodes)."""
        return overview.distribution(self.episodes_, "child_view",
                                     municipality=None if self.everyone_ else
                                     str(self.municipality), lang=self.lang,
                                     policy=self.policy)

    def view_table(self) -> pd.DataFrame:
        """:meth:`view` as the table readers see."""
        return overview.display_table(self.view(), lang=self.lang, policy=self.policy)

    def view_plot(self, ax=None):
        """Bars of the shares of :meth:`view`; returns the Axes."""
        return bar_comparison(self.view(), title=self._say("headings", "view"), ax=ax,
                              lang=self.lang)

    def heard_by(self, by: str) -> pd.DataFrame:
        """Child heard by placement type or by year in the selection (numeric): one row per
        group with ``group, followups, children`` (published) and, per code of
        ``child_heard``, the published count and its share (NaN where the group is not
        broken down or the share not allowed)."""
        col = load_dictionary().column("followups", "child_heard")
        rows = []
        for label, fu in self._groups(self._selected(self.followups_), by):
            known = fu[fu["child_heard"].notna()]
            kids = self._children(known)
            ok = self.broken_down() and self.policy.allows_breakdown(kids)
            den = self._count(known)
            row = {"group": label, "followups": den, "children": kids}
            for code in col.code_values:
                n = self._count(known[known["child_heard"].astype(str) == code]) if ok \
                    else float("nan")
                row[code] = n
                row[f"share_{code}"] = (n / den if ok and self.policy.allows_rate(kids)
                                        and self.policy.allows_rate(den) else float("nan"))
            rows.append(row)
        return pd.DataFrame(rows)

    def heard_by_table(self, by: str) -> pd.DataFrame:
        """:meth:`heard_by` for readers: group, follow-ups, and the share heard Yes, Partly,
        No (empty where the group has fewer than ``policy.min_children`` children)."""
        if not self.broken_down():
            return pd.DataFrame()
        t = self.heard_by(by)
        col = load_dictionary().column("followups", "child_heard")
        out = pd.DataFrame({self._by_head(by): t["group"],
                            self._say("columns", "followups"): t["followups"].map(self._shown)})
        for code in col.code_values:
            out[col.code_label(code, self.lang)] = [
                self._percent(n, d) if pd.notna(s) else ("" if pd.isna(n) else SECONDARY_MARK)
                for n, d, s in zip(t[code], t["followups"], t[f"share_{code}"], strict=True)]
        return out

    def heard_by_year_plot(self, ax=None):
        """Line of the share of follow-ups at which the child was heard (Yes, and Yes or
        Partly) by year, in the selection; years whose share is not shown are left out.
        Returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.subplots(figsize=(7.5, 3.5))[1]
        t = self.heard_by("year") if self.broken_down() else pd.DataFrame()
        legend = phrases("child_perspective", "legends", self.lang)
        if len(t):
            yes = t["share_YES"]
            partly = t["share_YES"] + t["share_PARTLY"]
            ax.plot(t["group"], yes, marker="o", label=legend["yes"])
            ax.plot(t["group"], partly.clip(upper=1.0), marker="s", linestyle="--",
                    label=legend["yes_or_partly"])
            ax.legend(fontsize="small", loc="lower right")
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(lambda y, _pos: format_percent(y, 0, self.lang))
        ax.set_xlabel(self._say("columns", "year"))
        ax.set_ylabel(self._say("axes", "share_heard"))
        ax.set_title(self._say("headings", "heard_by_year"))
        return ax

    # ------------------------------------------------------------------ themes
    def _themes(self) -> list[str]:
        return load_dictionary().group("followups", "themes")

    def _theme_label(self, theme: str) -> str:
        label = load_dictionary().label("followups", theme, self.lang)
        label = label.replace(phrase("outcomes", "labels", "rating_prefix", self.lang), "")
        return label[:1].upper() + label[1:]

    def _theme_cell(self, fu: pd.DataFrame, theme: str) -> dict[str, float]:
        """Published ratings and children of one theme in ``fu``, the mean and the share
        rating 4–5 (NaN unless ``policy.min_children`` children rated)."""
        rated = fu[fu[theme].notna()]
        values = pd.to_numeric(rated[theme], errors="coerce")
        n, kids = self._count(rated), self._children(rated)
        ok = self.policy.allows_rate(kids) and self.policy.allows_rate(n)
        good = self._count(rated[(values >= 4).to_numpy()]) if ok else float("nan")
        return {"ratings": n, "children": kids,
                "mean": float(values.mean()) if ok and len(values) else float("nan"),
                "good": good,
                "share_good": min(good / n, 1.0) if ok and n else float("nan")}

    def themes(self) -> pd.DataFrame:
        """The children's own ratings per theme in the selection (numeric): ``theme`` (label),
        ``ratings`` and ``children`` (published), ``mean`` and ``share_good`` (share of
        ratings 4 or 5, of published counts); NaN where fewer than
        ``policy.min_children`` children rated."""
        fu = self._selected(self.followups_)
        rows = [{"theme": self._theme_label(t), **self._theme_cell(fu, t)}
                for t in self._themes()]
        out = pd.DataFrame(rows)
        if not self.broken_down():
            out[["mean", "share_good", "good"]] = float("nan")
        return out

    def themes_table(self) -> pd.DataFrame:
        """:meth:`themes` for readers: theme, mean (two decimals), share rating 4–5 and the
        number of ratings."""
        t = self.themes()
        cols = phrases("child_perspective", "columns", self.lang)
        return pd.DataFrame({
            cols["theme"]: t["theme"],
            cols["mean"]: t["mean"].map(lambda x: format_number(x, 2, self.lang)),
            cols["share_good"]: [self._percent(g, n) if pd.notna(s) else "" for g, n, s in
                                 zip(t["good"], t["ratings"], t["share_good"], strict=True)],
            cols["ratings"]: t["ratings"].map(self._shown),
        })

    def themes_plot(self, ax=None):
        """Horizontal bars of the mean rating per theme on the 1–5 scale (themes whose mean
        is not shown have no bar). Returns the Axes."""
        import matplotlib.pyplot as plt

        t = self.themes()
        if ax is None:
            ax = plt.subplots(figsize=(7.5, 0.4 * len(t) + 1.2))[1]
        scale = load_dictionary().scale("themes")
        y = np.arange(len(t))
        ax.barh(y, t["mean"] - scale["min"], left=scale["min"], color="#0072B2")
        ax.set_yticks(y, labels=t["theme"])
        ax.invert_yaxis()
        ax.set_xlim(scale["min"], scale["max"])
        ax.set_xticks(range(scale["min"], scale["max"] + 1))
        ax.set_xlabel(self._say("axes", "mean_rating"))
        ax.set_title(self._say("headings", "themes"))
        number_ticks(ax, self.lang, "x")
        return ax

    def themes_by_table(self, by: str) -> pd.DataFrame:
        """Mean rating per theme (columns) by placement type or year (rows) in the selection;
        a mean is empty where fewer than ``policy.min_children`` children of the group rated
        the theme. The column after the group is the published number of follow-ups with
        any rating."""
        if not self.broken_down():
            return pd.DataFrame()
        themes = self._themes()
        rows = []
        for label, fu in self._groups(self._selected(self.followups_), by):
            any_rating = fu[fu[themes].notna().any(axis=1)]
            row = {self._by_head(by): label,
                   self._say("columns", "followups"): self._shown(self._count(any_rating))}
            for t in themes:
                row[self._theme_label(t)] = format_number(self._theme_cell(fu, t)["mean"], 2,
                                                          self.lang)
            rows.append(row)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ agreement
    def _pair(self, pair: str) -> tuple[str, str]:
        if pair not in AGREEMENT_PAIRS:
            raise ParameterError(self._say("errors", "pair", value=pair,
                                           allowed=", ".join(AGREEMENT_PAIRS)))
        return AGREEMENT_PAIRS[pair]

    def _levels(self, fu: pd.DataFrame, pair: str) -> pd.DataFrame:
        """Follow-ups with both assessments of ``pair``, with columns ``child_level`` and
        ``worker_level``."""
        theme, worker = self._pair(pair)
        rating = pd.to_numeric(fu[theme], errors="coerce").round()
        child = rating.map(lambda v: RATING_LEVELS.get(int(v)) if pd.notna(v) else None)
        social = fu[worker].astype("object").map(WORKER_LEVELS[worker])
        both = child.notna() & social.notna()
        return fu[both.to_numpy()].assign(child_level=child[both].to_numpy(),
                                          worker_level=social[both].to_numpy())

    def agreement(self, pair: str = "health", frame: pd.DataFrame | None = None
                  ) -> dict[str, Any]:
        """Agreement of the child and the social worker on ``pair`` (numeric).

        Returns
        -------
        dict
            ``table`` (published counts, rows the child's level, columns the social worker's,
            both in :data:`LEVELS` order), ``followups``, ``children``, ``agree`` (published
            counts of their own cells), ``share`` (agree / followups), ``kappa`` (linearly
            weighted, of the published ``table``) and ``shown`` (whether share and kappa may
            be published: enough children, and enough follow-ups agreeing and not).
        """
        fu = self._levels(self._selected(self.followups_) if frame is None else frame, pair)
        table = pd.DataFrame(0.0, index=list(LEVELS), columns=list(LEVELS))
        for a in LEVELS:
            for b in LEVELS:
                table.loc[a, b] = self._count(fu[(fu["child_level"] == a)
                                                 & (fu["worker_level"] == b)])
        n, kids = self._count(fu), self._children(fu)
        agree = self._count(fu[fu["child_level"] == fu["worker_level"]])
        shown = self.policy.allows_rate(kids) and self.policy.allows_rate(n, agree)
        return {"table": table, "followups": n, "children": kids, "agree": agree,
                "share": min(agree / n, 1.0) if shown else float("nan"),
                "kappa": weighted_kappa(table.to_numpy()) if shown else float("nan"),
                "shown": shown}

    def agreement_table(self, pair: str = "health") -> pd.DataFrame:
        """The cross-table of the child's rating (rows: 1–2, 3, 4–5) and the social worker's
        assessment (columns, the dictionary's labels), published counts of follow-ups;
        empty when the selection or the pair's children are too few."""
        a = self.agreement(pair)
        if not self.broken_down() or not self.policy.allows_breakdown(a["children"]):
            return pd.DataFrame()
        _theme, worker = self._pair(pair)
        col = load_dictionary().column("followups", worker)
        by_level = {lvl: code for code, lvl in WORKER_LEVELS[worker].items()}
        rows = phrases("child_perspective", "levels", self.lang)
        out = pd.DataFrame({self._say("columns", "child_rating"): [rows[lvl] for lvl in LEVELS]})
        for lvl in LEVELS:
            out[col.code_label(by_level[lvl], self.lang)] = [
                self._shown(a["table"].loc[r, lvl]) for r in LEVELS]
        return out

    def _kappa(self, kappa: float) -> str:
        """A kappa with two decimals ("0,00", never "-0,00")."""
        return format_number(round(kappa, 2) + 0.0, 2, self.lang)

    def agreement_text(self, pair: str = "health") -> str:
        """One sentence: the share of follow-ups at which both put the pair at the same
        level and the weighted kappa, or why they are not shown."""
        a = self.agreement(pair)
        if not self.broken_down() or not a["shown"]:
            return self._say("sentences", "agreement_withheld",
                             what=self._say("pairs", pair), **self._fields())
        return self._say("sentences", "agreement", what=self._say("pairs", pair),
                         share=self._percent(a["agree"], a["followups"]),
                         n=self._shown(a["followups"]),
                         kappa=self._kappa(a["kappa"]))

    def agreement_by_table(self, by: str, pair: str = "health") -> pd.DataFrame:
        """Agreement on ``pair`` by placement type or year: group, follow-ups with both
        assessments, share agreeing and weighted kappa (empty where not allowed)."""
        if not self.broken_down():
            return pd.DataFrame()
        rows = []
        for label, fu in self._groups(self._selected(self.followups_), by):
            a = self.agreement(pair, frame=fu)
            rows.append({
                self._by_head(by): label,
                self._say("columns", "followups_both"): self._shown(a["followups"]),
                self._say("columns", "share_agree"): (self._percent(a["agree"], a["followups"])
                                                      if a["shown"] else SECONDARY_MARK
                                                      if a["followups"] else ""),
                self._say("columns", "kappa"): self._kappa(a["kappa"]) if a["shown"] else "",
            })
        return pd.DataFrame(rows)
