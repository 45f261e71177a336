"""The Webbkollen overview: distributions of target groups, problems, interventions and results.

SKL's *Webbkollen Barn och Unga* showed bar charts of four sections (DOMAIN.md, section 1):
target groups (målgrupp), presenting problems (grundproblematik), interventions (insatser) and
results (resultat), for one municipality beside all municipalities. This module computes those
tables; every count and share passes through :mod:`evaluation.disclosure` before it is shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.checks import check_language
from evaluation.data.dictionary import load_dictionary
from evaluation.data.load import attach_latest_followup, select_period
from evaluation.disclosure import SECONDARY_MARK, protect_counts, protect_rates
from evaluation.errors import ParameterError
from evaluation.reporting.text import format_percent, phrase, phrases

__all__ = [
    "AGE_GROUPS",
    "SECTIONS",
    "display_table",
    "distribution",
    "overview_tables",
    "section_heading",
    "section_text",
]

AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("0-3", 0, 3),
    ("4-6", 4, 6),
    ("7-12", 7, 12),
    ("13-15", 13, 15),
    ("16-17", 16, 17),
    ("18-20", 18, 20),
)
"""Age groups at the start of an episode: (code, lowest age, highest age)."""

SECTIONS: dict[str, tuple[str, ...]] = {
    "target_groups": ("age_group", "sex"),
    "problems": ("problems",),
    "interventions": ("placement_type", "legal_basis"),
    "results": ("goal_attainment", "planned_ending"),
}
"""Sections of the overview and the variables shown in each (Webbkollen's four views)."""

# --------------------------------------------------------------------------------------------
# Distributions


def _age_group(episodes: pd.DataFrame) -> pd.Series:
    age = episodes["start_date"].dt.year - episodes["birth_year"].astype("Float64")
    out = pd.Series(pd.NA, index=episodes.index, dtype="object")
    for code, lo, hi in AGE_GROUPS:
        out[((age >= lo) & (age <= hi)).fillna(False).astype(bool)] = code
    return out


def _planned(episodes: pd.DataFrame) -> pd.Series:
    planned = load_dictionary().planned_codes()
    ended = episodes["end_reason"].notna()
    if "end_date" in episodes:
        ended &= episodes["end_date"].notna()
    out = pd.Series(pd.NA, index=episodes.index, dtype="object")
    reason = episodes["end_reason"]
    out[ended & reason.isin(planned)] = "PLANNED"
    out[ended & ~reason.isin(planned)] = "UNPLANNED"
    return out


def _variable_label(column: str, lang: str) -> str:
    derived = phrases("overview", "variables", lang)
    if column in derived:
        return derived[column]
    dic = load_dictionary()
    for table in ("episodes", "followups"):
        if column in dic.table(table):
            return dic.label(table, column, lang)
    raise ParameterError(f"Unknown column {column!r} for an overview distribution.")


def _categorical(
    values: pd.Series, codes: list[str], labels: list[str], *, threshold: int,
    min_denominator: int,
) -> pd.DataFrame:
    """Counts of each code among non-missing values, protected, with shares."""
    counts = values.dropna().value_counts().reindex(codes, fill_value=0).astype(int)
    table = pd.DataFrame({"n": counts.to_numpy()}, index=codes)
    total_key = "__total__"
    table.loc[total_key] = int(counts.sum())
    prot = protect_counts(table, ["n"], threshold=threshold, total_row=total_key)
    den = pd.Series(int(counts.sum()), index=codes)
    share = protect_rates(counts, den, min_denominator=min_denominator, threshold=threshold)
    n_shown = prot.values["n"].loc[codes]
    den_shown = prot.values["n"].loc[total_key]
    share = share.where(n_shown.notna() & pd.notna(den_shown))
    marks = prot.to_display()["n"].loc[codes]
    return pd.DataFrame({
        "category": labels,
        "code": codes,
        "n": n_shown.to_numpy(),
        "denominator": float(den_shown),
        "share": share.to_numpy(),
        "display": marks.to_numpy(),
    })


def _flags(
    frame: pd.DataFrame, columns: list[str], labels: list[str], *, threshold: int,
    min_denominator: int,
) -> pd.DataFrame:
    """Share of episodes with each flag True, among episodes where the flag is recorded."""
    yes = [int((frame[c] == True).sum()) for c in columns]
    known = [int(frame[c].notna().sum()) for c in columns]
    table = pd.DataFrame(
        {"yes": yes, "no": [k - y for k, y in zip(known, yes)], "total": known}, index=columns
    )
    prot = protect_counts(table, ["yes", "no"], threshold=threshold, total_col="total",
                          totals_public=False)
    share = protect_rates(pd.Series(yes, index=columns), pd.Series(known, index=columns),
                          min_denominator=min_denominator, threshold=threshold)
    n_shown = prot.values["yes"]
    den_shown = prot.values["total"]
    share = share.where(n_shown.notna() & den_shown.notna())
    return pd.DataFrame({
        "category": labels,
        "code": columns,
        "n": n_shown.to_numpy(),
        "denominator": den_shown.to_numpy(),
        "share": share.to_numpy(),
        "display": prot.to_display()["yes"].to_numpy(),
    })


def _complement_mask(
    selected: np.ndarray, total: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which selected-unit and all-units counts to hide so that the rest is protected too.

    The report shows the selected municipality beside all municipalities, so a reader can
    subtract one from the other and obtain the counts of the *other* municipalities. The
    counts are therefore protected as one table with columns selected, rest and all (the
    total column, taken as public): a small count among the rest forces suppression of the
    selected-unit cell in the same line, and the usual secondary suppression follows.
    """
    rest = np.asarray(total) - np.asarray(selected)
    table = pd.DataFrame({"selected": selected, "rest": rest, "all": total})
    table.loc["__total__"] = table.sum()
    prot = protect_counts(
        table, ["selected", "rest"], threshold=threshold, total_row="__total__", total_col="all"
    )
    mask = prot.suppressed
    return (
        mask["selected"].iloc[:-1].to_numpy(dtype=bool),
        mask["all"].iloc[:-1].to_numpy(dtype=bool),
    )


def distribution(
    episodes_selected: pd.DataFrame,
    column: str,
    *,
    municipality: str | None = None,
    lang: str = "sv",
    threshold: int = 5,
    min_denominator: int = 10,
    followups: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Distribution of one variable for a municipality beside all municipalities, protected.

    Parameters
    ----------
    episodes_selected : pandas.DataFrame
        Episodes to describe (usually :func:`select_period` output), all municipalities.
    column : str
        A coded column of episodes (``sex``, ``placement_type``, ``legal_basis``, ...), a
        boolean column (one row: share with True), or a derived variable: ``age_group``
        (age at start = ``start_date.year - birth_year``, groups :data:`AGE_GROUPS`),
        ``problems`` (one row per problem flag of the dictionary group ``problems``),
        ``goal_attainment`` (latest follow-up per episode; taken from the column if present,
        otherwise from ``followups``), ``planned_ending`` (derived from ``end_reason`` with
        the dictionary's planned codes; ended episodes only).
    municipality : str, optional
        Four-digit municipality code. None or ``"all"`` gives the scope "all" only.
    lang : {'sv', 'en'}, default 'sv'
        Language of labels.
    threshold : int, default 5
        Smallest count shown (counts 1 to ``threshold - 1`` are suppressed).
    min_denominator : int, default 10
        No share on a denominator below this.
    followups : pandas.DataFrame, optional
        Needed for ``goal_attainment`` when the episodes lack that column.

    Returns
    -------
    pandas.DataFrame
        One row per category and scope, selected municipality first:

        - ``variable`` : label of the variable in ``lang``.
        - ``category`` : label of the category in ``lang``.
        - ``code`` : the code (or column name for flags).
        - ``scope`` : ``'Vald kommun'``/``'Selected municipality'`` or ``'Alla'``/``'All'``.
        - ``n`` : count, float, NaN where suppressed.
        - ``denominator`` : episodes with a known value (float, NaN where suppressed).
        - ``share`` : ``n / denominator``, NaN where suppressed or the denominator is small.
        - ``display`` : the count as text: ``'<5'`` for small counts, ``'..'`` for
          secondary suppression.

    Raises
    ------
    ParameterError
        If the column is unknown, the municipality is not in the data, or ``goal_attainment``
        is asked for without follow-ups.

    Notes
    -----
    Counts are protected with :func:`evaluation.disclosure.protect_counts` (with the total as
    a row, or for flags yes/no/total per row) and shares with
    :func:`evaluation.disclosure.protect_rates`; a share is also hidden whenever its count or
    denominator is hidden. The two scopes are protected separately: differences between
    "all" and the selected municipality are not audited.
    """
    check_language(lang)
    dic = load_dictionary()
    df = episodes_selected
    if column == "goal_attainment" and column not in df.columns:
        if followups is None:
            raise ParameterError(
                "goal_attainment comes from follow-ups: pass followups= (the followups table)."
            )
        df = attach_latest_followup(df, followups)

    if column == "age_group":
        values = _age_group(df)
        codes = [c for c, _, _ in AGE_GROUPS]
        unit = phrase("overview", "labels", "years", lang)
        labels = [c.replace("-", "–") + unit for c in codes]
        kind = "categorical"
    elif column == "planned_ending":
        values = _planned(df)
        codes = ["PLANNED", "UNPLANNED"]
        labels = [phrase("overview", "endings", c, lang) for c in codes]
        kind = "categorical"
    elif column == "problems":
        flags = dic.group("episodes", "problems")
        flags = [c for c in flags if c in df.columns]
        labels = [dic.label("episodes", c, lang).split(": ", 1)[-1] for c in flags]
        labels = [lab[:1].upper() + lab[1:] for lab in labels]
        kind = "flags"
    else:
        table = "followups" if column == "goal_attainment" else "episodes"
        if column not in dic.table(table) or column not in df.columns:
            raise ParameterError(
                f"Column {column!r} is not in the episodes; use a coded or boolean column of "
                "the dictionary or one of: age_group, problems, goal_attainment, planned_ending."
            )
        col = dic.column(table, column)
        if col.type == "code":
            values = df[column]
            codes = list(col.code_values)
            labels = [col.code_label(c, lang) for c in codes]
            kind = "categorical"
        elif col.type == "boolean":
            flags, labels, kind = [column], [col.label[lang]], "flags"
        else:
            raise ParameterError(
                f"Column {column!r} has type {col.type!r}; distribution needs a coded or boolean "
                "column."
            )

    scopes: list[tuple[str, pd.Series]] = []
    all_rows = pd.Series(True, index=df.index)
    if municipality is not None and str(municipality).lower() != "all":
        muni = str(municipality)
        present = sorted(df["municipality_code"].dropna().unique())
        if muni not in present:
            raise ParameterError(
                f"Municipality {muni!r} has no episodes in the selection; available codes: "
                f"{', '.join(present)} (or 'all')."
            )
        scopes.append(("selected", df["municipality_code"] == muni))
    scopes.append(("all", all_rows))

    parts = []
    for scope, rows in scopes:
        rows = rows.fillna(False).astype(bool)
        if kind == "categorical":
            part = _categorical(values[rows], codes, labels, threshold=threshold,
                                min_denominator=min_denominator)
        else:
            part = _flags(df.loc[rows], flags, labels, threshold=threshold,
                          min_denominator=min_denominator)
        part.insert(2, "scope", phrase("overview", "scopes", scope, lang))
        parts.append(part)
    if len(scopes) == 2:
        sel_rows = scopes[0][1].fillna(False).astype(bool)
        if kind == "categorical":
            sel = values[sel_rows].dropna().value_counts().reindex(codes, fill_value=0)
            tot = values.dropna().value_counts().reindex(codes, fill_value=0)
            hide_sel, hide_all = _complement_mask(sel.to_numpy(), tot.to_numpy(), threshold)
        else:
            hide_sel = np.zeros(len(flags), dtype=bool)
            hide_all = np.zeros(len(flags), dtype=bool)
            for i, c in enumerate(flags):
                s_yes = int((df.loc[sel_rows, c] == True).sum())
                s_no = int((df.loc[sel_rows, c] == False).sum())
                a_yes = int((df[c] == True).sum())
                a_no = int((df[c] == False).sum())
                hs, ha = _complement_mask(
                    np.array([s_yes, s_no]), np.array([a_yes, a_no]), threshold
                )
                hide_sel[i], hide_all[i] = hs[0], ha[0]
        for part, hide in ((parts[0], hide_sel), (parts[1], hide_all)):
            newly = hide & part["n"].notna().to_numpy()
            part.loc[newly, ["n", "share"]] = np.nan
            part.loc[newly, "display"] = SECONDARY_MARK
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "variable", _variable_label(column, lang))
    out["n"] = out["n"].astype(float)
    out["denominator"] = out["denominator"].astype(float)
    out["share"] = out["share"].astype(float)
    return out


def overview_tables(
    tables: dict[str, pd.DataFrame],
    *,
    municipality: str | None,
    period_start: str,
    period_end: str,
    lang: str = "sv",
    threshold: int = 5,
    min_denominator: int = 10,
) -> dict[str, pd.DataFrame]:
    """All tables of the overview, one per section.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Output of :func:`load_tables` (``episodes`` and ``followups`` are used).
    municipality : str or None
        Four-digit municipality code, or ``"all"``/None for all municipalities only.
    period_start, period_end : str
        The period; episodes active at any time in it are included.
    lang : {'sv', 'en'}, default 'sv'
    threshold : int, default 5
        Smallest count shown.
    min_denominator : int, default 10
        No share on a smaller denominator.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``target_groups`` (age group, sex), ``problems``, ``interventions`` (placement
        type, legal basis) and ``results`` (goal attainment, planned vs unplanned ending); each
        frame has the columns of :func:`distribution`, variables stacked in that order.

    Raises
    ------
    ParameterError
        If a parameter is invalid (see :func:`distribution`, :func:`select_period`).
    """
    check_language(lang)
    if "episodes" not in tables:
        raise ParameterError("tables must hold 'episodes' (see load_tables).")
    episodes = select_period(tables["episodes"], period_start, period_end)
    followups = tables.get("followups")
    if followups is not None:
        episodes = attach_latest_followup(episodes, followups)
    out = {}
    for section, columns in SECTIONS.items():
        frames = [
            distribution(episodes, c, municipality=municipality, lang=lang, threshold=threshold,
                         min_denominator=min_denominator)
            for c in columns
            if not (c == "goal_attainment" and c not in episodes.columns)
        ]
        out[section] = pd.concat(frames, ignore_index=True)
    return out


# --------------------------------------------------------------------------------------------
# Presentation


def section_heading(section: str, *, lang: str = "sv") -> str:
    """Heading of an overview section (``target_groups``, ``problems``, ...) in ``lang``.

    Raises
    ------
    ParameterError
        If the section is unknown.
    """
    return _section_phrase("headings", section, lang)


def section_text(section: str, *, lang: str = "sv") -> str:
    """Narrative text of an overview section, or of ``"intro"``, in ``lang`` (Swedish default).

    Returns
    -------
    str
        Markdown text: for a section, ``## heading`` followed by the explanation.

    Raises
    ------
    ParameterError
        If the section is unknown.
    """
    text = _section_phrase("texts", section, lang)
    if section == "intro":
        return text
    return f"## {section_heading(section, lang=lang)}\n\n{text}"


def _section_phrase(kind: str, section: str, lang: str) -> str:
    """Text of ``section`` in the catalog section ``kind`` (``headings`` or ``texts``)."""
    texts = phrases("overview", kind, lang)
    if section not in texts:
        raise ParameterError(f"Unknown section {section!r}; use one of {', '.join(texts)}.")
    return texts[section]


def report_title(*, lang: str = "sv") -> str:
    """Markdown title of the overview report in ``lang``."""
    return f"# {phrase('overview', 'title', 'overview', lang)}"


def selection_text(
    tables: dict[str, pd.DataFrame],
    *,
    municipality: str,
    period_start: str,
    period_end: str,
    lang: str = "sv",
    threshold: int = 5,
) -> str:
    """One Markdown line stating the selection: unit, period and number of episodes.

    The number of episodes passes the same small-count rule as the tables (below
    ``threshold`` it is shown as ``<threshold``).

    Returns
    -------
    str
        E.g. ``**Urval:** kommun 0180, perioden 2019-01-01 – 2024-12-31, 871 episoder.``
    """
    check_language(lang)
    episodes = select_period(tables["episodes"], period_start, period_end)
    everyone = str(municipality).lower() == "all"
    if not everyone:
        episodes = episodes[episodes["municipality_code"] == str(municipality)]
    n = len(episodes)
    shown = f"<{threshold}" if 0 < n < threshold else str(n)
    unit = (phrase("overview", "labels", "all_units", lang) if everyone
            else phrase("overview", "labels", "unit", lang, code=municipality))
    return phrase("overview", "labels", "selection", lang, unit=unit, start=period_start,
                  end=period_end, n=shown)


def display_table(table: pd.DataFrame, *, lang: str = "sv") -> pd.DataFrame:
    """The columns of a distribution table meant for readers, as text.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`distribution` or a value of :func:`overview_tables`.
    lang : {'sv', 'en'}, default 'sv'

    Returns
    -------
    pandas.DataFrame
        Columns category, scope, count (the protected ``display`` text) and share (percent
        with one decimal, ``'..'`` where hidden), headed in ``lang``. No identifiers, no raw
        rows.
    """
    heads = phrases("overview", "columns", lang)
    return pd.DataFrame({
        heads["category"]: table["category"].to_numpy(),
        heads["scope"]: table["scope"].to_numpy(),
        heads["count"]: table["display"].to_numpy(),
        heads["share"]: [format_percent(s, 1, lang) or SECONDARY_MARK for s in table["share"]],
    })
