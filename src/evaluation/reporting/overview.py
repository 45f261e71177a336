"""The Webbkollen overview: distributions of target groups, problems, interventions and results.

SKL's *Webbkollen Barn och Unga* showed bar charts of four sections (DOMAIN.md, section 1):
target groups (målgrupp), presenting problems (grundproblematik), interventions (insatser) and
results (resultat), for one municipality beside all municipalities. This module computes those
tables; every count and share passes through :mod:`evaluation.disclosure` before it is shown.
"""

from __future__ import annotations

import pandas as pd

from evaluation.checks import LANGUAGES, check_language
from evaluation.data.dictionary import load_dictionary, municipality_label
from evaluation.data.load import attach_latest_followup, select_period
from evaluation.disclosure import SECONDARY_MARK, DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.reporting.plots import chart_alt_text
from evaluation.reporting.tables import table_caption as catalog_caption
from evaluation.reporting.text import format_percent, phrase, phrases

__all__ = [
    "AGE_GROUPS",
    "SECTIONS",
    "alt_text",
    "display_table",
    "distribution",
    "overview_tables",
    "section_heading",
    "section_note",
    "selection_count",
    "section_text",
    "table_caption",
    "variable_table",
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


def _resolve(policy: DisclosurePolicy | None) -> DisclosurePolicy:
    """The policy to use: publication mode with the project defaults when None."""
    if policy is None:
        return DisclosurePolicy()
    if not isinstance(policy, DisclosurePolicy):
        raise ParameterError(
            f"policy must be an evaluation.disclosure.DisclosurePolicy, got {type(policy).__name__}."
        )
    return policy


def _episode_ids(df: pd.DataFrame, policy: DisclosurePolicy) -> pd.Series:
    """Record id of each episode for the cell key: ``child_id + "|" + episode_id``.

    Publication mode needs both columns (the record key comes from the keyed pseudonym);
    internal mode falls back to the row index, since it counts exactly.
    """
    if "child_id" in df.columns and "episode_id" in df.columns:
        return df["child_id"].astype("string") + "|" + df["episode_id"].astype("string")
    if policy.publication:
        raise ParameterError(
            "Publication mode needs the columns child_id (the keyed pseudonym) and episode_id "
            "to protect the counts (cell-key method); pass the pseudonymised episodes."
        )
    return pd.Series(df.index.astype(str), index=df.index, dtype="string")


def _children(df: pd.DataFrame, rows: pd.Series, policy: DisclosurePolicy) -> int:
    """Published number of distinct children (``child_id``) among ``rows``."""
    if "child_id" not in df.columns:
        if policy.publication:
            raise ParameterError("Publication mode needs the column child_id (keyed pseudonym).")
        return int(rows.sum())
    return policy.count(df.loc[rows, "child_id"])


def _shown(n: float, policy: DisclosurePolicy) -> str:
    """A count as text: through :meth:`DisclosurePolicy.label` in publication mode, exact in
    internal mode."""
    if pd.isna(n):
        return ""
    return policy.label(n) if policy.publication else str(int(n))


def _share(n: float, den: float, policy: DisclosurePolicy) -> float:
    """``n / den`` from published counts, NaN unless the policy allows a rate on ``den``;
    rounded in publication mode and kept within [0, 1] (noise could push it past 1)."""
    if not policy.allows_rate(den):
        return float("nan")
    share = min(max(float(n) / float(den), 0.0), 1.0)
    return policy.round_percent(share) / 100.0 if policy.publication else share


def _frame(codes: list[str], labels: list[str], n: list[float], den: list[float],
           policy: DisclosurePolicy, breakdown: bool) -> pd.DataFrame:
    """One scope's rows; without a breakdown every number is empty (NaN, display "")."""
    if not breakdown:
        nan = [float("nan")] * len(codes)
        return pd.DataFrame({"category": labels, "code": codes, "n": nan, "denominator": nan,
                             "share": nan, "display": [""] * len(codes)})
    return pd.DataFrame({
        "category": labels,
        "code": codes,
        "n": [float(x) for x in n],
        "denominator": [float(d) for d in den],
        "share": [_share(x, d, policy) for x, d in zip(n, den)],
        "display": [_shown(x, policy) for x in n],
    })


def _categorical(values: pd.Series, ids: pd.Series, codes: list[str], labels: list[str],
                 policy: DisclosurePolicy, breakdown: bool) -> pd.DataFrame:
    """Published count of each code among non-missing values; the denominator is the
    published count of its own cell (all episodes with a known value), not a sum."""
    known = values.notna()
    n = policy.counts(ids[known], values[known], categories=codes)
    den = policy.count(ids[known])
    return _frame(codes, labels, n.tolist(), [den] * len(codes), policy, breakdown)


def _flags(frame: pd.DataFrame, ids: pd.Series, columns: list[str], labels: list[str],
           policy: DisclosurePolicy, breakdown: bool) -> pd.DataFrame:
    """Published count of episodes with each flag True, among episodes where it is recorded."""
    n, den = [], []
    for c in columns:
        yes = (frame[c] == True).fillna(False).astype(bool)
        n.append(policy.count(ids[yes]))
        den.append(policy.count(ids[frame[c].notna()]))
    return _frame(columns, labels, n, den, policy, breakdown)


def distribution(
    episodes_selected: pd.DataFrame,
    column: str,
    *,
    municipality: str | None = None,
    lang: str = "sv",
    policy: DisclosurePolicy | None = None,
    followups: pd.DataFrame | None = None,
    include_all: bool = True,
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
    policy : evaluation.disclosure.DisclosurePolicy, optional
        How counts are published; None is ``DisclosurePolicy()`` (publication mode). Publication
        mode needs the columns ``child_id`` and ``episode_id``.
    followups : pandas.DataFrame, optional
        Needed for ``goal_attainment`` when the episodes lack that column.
    include_all : bool, default True
        False leaves out the scope "all" (only with a municipality).

    Returns
    -------
    pandas.DataFrame
        One row per category and scope, selected municipality first:

        - ``variable`` : label of the variable in ``lang``.
        - ``category`` : label of the category in ``lang``.
        - ``code`` : the code (or column name for flags).
        - ``scope`` : ``'Vald kommun'``/``'Selected municipality'`` or ``'Alla'``/``'All'``.
        - ``n`` : published count of episodes (float; NaN when the scope is not broken down).
        - ``denominator`` : published count of the episodes with a known value (its own
          cell, not a sum of the rows; NaN when the scope is not broken down).
        - ``share`` : ``n / denominator`` from the published counts, rounded to
          ``policy.percent_decimals`` in publication mode; NaN when the policy allows no rate
          on the denominator or the scope is not broken down.
        - ``display`` : the count as text (``""`` when the scope is not broken down).

    Raises
    ------
    ParameterError
        If the column is unknown, the municipality is not in the data, or ``goal_attainment``
        is asked for without follow-ups.

    Notes
    -----
    Publication mode: every number is :meth:`DisclosurePolicy.count` of the records of its own
    cell (record id ``child_id + "|" + episode_id``), so the same set of episodes gets the same
    published number in every municipality's report and in the all view, and no count of 1 to
    ``threshold - 1`` appears. A scope with fewer than ``policy.min_children`` children
    (published count of distinct ``child_id``) is not broken down: its rows are empty, so zeros
    cannot describe one child. Internal mode shows exact numbers without any suppression.
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

    policy = _resolve(policy)
    ids = _episode_ids(df, policy)
    scopes: list[tuple[str, pd.Series]] = []
    if municipality is not None and str(municipality).lower() != "all":
        muni = str(municipality)
        present = sorted(df["municipality_code"].dropna().unique())
        if muni not in present:
            raise ParameterError(
                f"Municipality {muni!r} has no episodes in the selection; available codes: "
                f"{', '.join(present)} (or 'all')."
            )
        scopes.append(("selected", (df["municipality_code"] == muni).fillna(False).astype(bool)))
    if include_all or not scopes:
        scopes.append(("all", pd.Series(True, index=df.index)))

    parts = []
    for scope, rows in scopes:
        breakdown = policy.allows_breakdown(_children(df, rows, policy))
        if kind == "categorical":
            part = _categorical(values[rows], ids[rows], codes, labels, policy, breakdown)
        else:
            part = _flags(df.loc[rows], ids[rows], flags, labels, policy, breakdown)
        part.insert(2, "scope", phrase("overview", "scopes", scope, lang))
        parts.append(part)
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
    policy: DisclosurePolicy | None = None,
) -> dict[str, pd.DataFrame]:
    """All tables of the overview, one per section.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Output of :func:`load_tables` (``episodes`` and ``followups`` are used).
    municipality : str or None
        Four-digit municipality code, or ``"all"``/None for all municipalities only.
    period_start, period_end : str
        The period; episodes active at any time in it are included. Publication mode snaps
        it to whole months (:meth:`DisclosurePolicy.period`), so periods that differ by a day
        within a month give identical tables.
    lang : {'sv', 'en'}, default 'sv'
    policy : evaluation.disclosure.DisclosurePolicy, optional
        None is ``DisclosurePolicy()`` (publication mode); see :func:`distribution`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keys ``target_groups`` (age group, sex), ``problems``, ``interventions`` (placement
        type, legal basis) and ``results`` (goal attainment, planned vs unplanned ending); each
        frame has the columns of :func:`distribution`, variables stacked in that order
        (:func:`variable_table` takes one out). Goal attainment is left out when no episode
        of the selection has a follow-up with it (:func:`section_note` then says so).

    Raises
    ------
    ParameterError
        If a parameter is invalid (see :func:`distribution`, :func:`select_period`).
    """
    check_language(lang)
    if "episodes" not in tables:
        raise ParameterError("tables must hold 'episodes' (see load_tables).")
    policy = _resolve(policy)
    episodes = select_period(tables["episodes"], *policy.period(period_start, period_end))
    followups = tables.get("followups")
    if followups is not None:
        episodes = attach_latest_followup(episodes, followups)
    everyone = municipality is None or str(municipality).lower() == "all"
    columns_of = {section: [c for c in columns
                            if not (c == "goal_attainment" and (c not in episodes.columns
                                                                or not episodes[c].notna().any()))]
                  for section, columns in SECTIONS.items()}
    key = _scope_all_key(episodes, lang, policy)
    cached = _ALL_SCOPE.get(key)
    if cached is None:
        cached = {section: [distribution(episodes, c, municipality=None, lang=lang,
                                         policy=policy) for c in columns]
                  for section, columns in columns_of.items()}
        _ALL_SCOPE.clear()  # one data set at a time: a batch asks for the same one
        _ALL_SCOPE[key] = cached
    own_rows = episodes
    if not everyone and (episodes["municipality_code"] == str(municipality)).any():
        # the municipality's own scope needs only its rows (the check for a municipality
        # without episodes, and its message, stay with distribution)
        own_rows = episodes[episodes["municipality_code"] == str(municipality)]
    out = {}
    for section, columns in columns_of.items():
        frames = []
        for c, every in zip(columns, cached[section]):
            if everyone:
                frames.append(every.copy())
            else:
                own = distribution(own_rows, c, municipality=municipality, lang=lang,
                                   policy=policy, include_all=False)
                frames.append(pd.concat([own, every], ignore_index=True))
        out[section] = pd.concat(frames, ignore_index=True)
    return out


#: The scope "all" of the last overview computed: the same for every municipality's report.
_ALL_SCOPE: dict = {}


def _scope_all_key(episodes: pd.DataFrame, lang: str, policy: DisclosurePolicy) -> tuple:
    """What the scope "all" depends on: the selected episodes' content, language, policy."""
    content = int(pd.util.hash_pandas_object(episodes, index=False).sum())
    names = tuple(map(str, episodes.columns))
    table = (0 if policy.table is None
             else int(pd.util.hash_pandas_object(policy.table, index=False).sum()))
    return (content, names, len(episodes), lang, policy, table)


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


def selection_count(
    tables: dict[str, pd.DataFrame],
    *,
    municipality: str,
    period_start: str,
    period_end: str,
    policy: DisclosurePolicy | None = None,
) -> float:
    """The published number of episodes in the selection: the number
    :func:`selection_text` shows (for ``results.json`` and the batch index)."""
    policy = _resolve(policy)
    start, end = policy.period(period_start, period_end)
    episodes = select_period(tables["episodes"], start, end)
    if not (municipality is None or str(municipality).lower() == "all"):
        episodes = episodes[episodes["municipality_code"] == str(municipality)]
    return float(policy.count(_episode_ids(episodes, policy)))


def selection_text(
    tables: dict[str, pd.DataFrame],
    *,
    municipality: str,
    period_start: str,
    period_end: str,
    lang: str = "sv",
    policy: DisclosurePolicy | None = None,
) -> str:
    """Markdown stating the selection: unit, period and number of episodes, and why numbers
    may be missing.

    The number of episodes is a published count like those of the tables
    (:meth:`DisclosurePolicy.count`). In publication mode the period is snapped to whole
    months and, when that changed the requested period, a sentence (catalog
    ``disclosure.page.period_snapped``) says so. A selection too small to be broken down
    (fewer than ``policy.min_children`` children) gets the sentence
    ``disclosure.page.small_selection``.

    Returns
    -------
    str
        E.g. ``**Urval:** kommun 0180 Stockholm, perioden 2019-01-01 – 2024-12-31, 871
        episoder.`` (the municipality as :func:`evaluation.data.dictionary.municipality_label`
        writes it: code and SCB name, or the code alone when it is not an SCB code).
    """
    check_language(lang)
    policy = _resolve(policy)
    start, end = policy.period(period_start, period_end)
    episodes = select_period(tables["episodes"], start, end)
    everyone = municipality is None or str(municipality).lower() == "all"
    if not everyone:
        episodes = episodes[episodes["municipality_code"] == str(municipality)]
    n = selection_count(tables, municipality=municipality, period_start=period_start,
                        period_end=period_end, policy=policy)
    unit = (phrase("overview", "labels", "all_units", lang) if everyone
            else phrase("overview", "labels", "unit", lang,
                        code=municipality_label(str(municipality))))
    first, last = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
    text = phrase("overview", "labels", "selection", lang, unit=unit, start=first, end=last,
                  n=_shown(n, policy))
    if (start, end) != (pd.Timestamp(period_start), pd.Timestamp(period_end)):
        text += " " + phrase("disclosure", "page", "period_snapped", lang, start=first, end=last)
    rows = pd.Series(True, index=episodes.index)
    if not policy.allows_breakdown(_children(episodes, rows, policy)):
        text += " " + phrase("disclosure", "page", "small_selection", lang,
                             min_children=policy.min_children)
    return text


def display_table(table: pd.DataFrame, *, lang: str = "sv",
                  policy: DisclosurePolicy | None = None) -> pd.DataFrame:
    """The columns of a distribution table meant for readers, as text.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`distribution` or a value of :func:`overview_tables`.
    lang : {'sv', 'en'}, default 'sv'
    policy : evaluation.disclosure.DisclosurePolicy, optional
        The policy the table was made with (None: publication mode); sets the decimals of
        the shares (``policy.percent_decimals`` in publication mode, one in internal mode).

    Returns
    -------
    pandas.DataFrame
        Columns category, scope, count (the published ``display`` text) and share (percent;
        ``'..'`` where the policy allows no share, empty where the scope is not broken down),
        headed in ``lang``. No identifiers, no raw rows.
    """
    policy = _resolve(policy)
    decimals = policy.percent_decimals if policy.publication else 1
    heads = phrases("overview", "columns", lang)
    shares = [format_percent(s, decimals, lang) or ("" if d == "" else SECONDARY_MARK)
              for s, d in zip(table["share"], table["display"])]
    return pd.DataFrame({
        heads["category"]: table["category"].to_numpy(),
        heads["scope"]: table["scope"].to_numpy(),
        heads["count"]: table["display"].to_numpy(),
        heads["share"]: shares,
    })


def variable_table(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of one variable of a section table, e.g. the age groups of ``target_groups``.

    Parameters
    ----------
    table : pandas.DataFrame
        A value of :func:`overview_tables` (variables stacked, column ``variable``).
    column : str
        The variable as :func:`distribution` names it (``age_group``, ``sex``,
        ``placement_type``, ``legal_basis``, ``goal_attainment``, ``planned_ending``).

    Returns
    -------
    pandas.DataFrame
        Its rows (index reset), ready for :func:`display_table` and
        :func:`evaluation.reporting.plots.bar_comparison`.

    Raises
    ------
    ParameterError
        If the table holds no such variable.
    """
    labels = {_variable_label(column, lang) for lang in LANGUAGES}
    rows = table["variable"].isin(labels)
    if not rows.any():
        raise ParameterError(f"The table holds no variable {column!r}; it holds: "
                             f"{', '.join(dict.fromkeys(table['variable'].astype(str)))}.")
    return table.loc[rows].reset_index(drop=True)


def section_note(section: str, result: dict[str, pd.DataFrame], *, lang: str = "sv") -> str:
    """A note for a section whose table lacks something the reader would expect ('' when
    nothing is missing).

    ``results``: goal attainment comes from the follow-ups; without any follow-up with a
    goal attainment in the selection it is left out of the table and the chart, and the
    note says so; when the selected municipality has none (but others do) its goal
    attainment rows are empty, and the note says that.

    Parameters
    ----------
    section : str
        A key of :data:`SECTIONS`.
    result : dict of str to pandas.DataFrame
        Output of :func:`overview_tables`.
    lang : {'sv', 'en'}, default 'sv'

    Returns
    -------
    str
        Markdown, or ``''``.

    Raises
    ------
    ParameterError
        If the section is unknown.
    """
    check_language(lang)
    if section not in SECTIONS:
        raise ParameterError(f"Unknown section {section!r}; use one of {', '.join(SECTIONS)}.")
    if section != "results" or section not in result:
        return ""
    table = result[section]
    goal = table[table["variable"] == _variable_label("goal_attainment", lang)]
    if goal.empty:
        return phrase("overview", "notes", "no_followups", lang)
    mine = goal[goal["scope"] == phrase("overview", "scopes", "selected", lang)]
    if len(mine) and (mine["denominator"] == 0).all():
        return phrase("overview", "notes", "no_followups_selected", lang)
    return ""


def table_caption(section: str, *, lang: str = "sv") -> str:
    """What the table of an overview section shows and how to read it (catalog
    ``overview.captions``): ``target_groups``, ``problems``, ``interventions``, ``results``,
    or one variable of them (``age_group``, ``sex``).

    Raises
    ------
    ParameterError
        If there is no caption for ``section``.
    """
    return catalog_caption("overview", section, lang)


def alt_text(section: str, *, lang: str = "sv", table: pd.DataFrame | None = None) -> str:
    """What the chart of an overview section shows, in words, for the ``alt`` of its image.

    Parameters
    ----------
    section : str
        ``target_groups``, ``problems``, ``interventions``, ``results``, or one variable of
        them (``age_group``, ``sex``).
    lang : {'sv', 'en'}, default 'sv'
    table : pandas.DataFrame, optional
        The table the chart draws (a value of :func:`overview_tables` or
        :func:`variable_table`). When given, the text goes on with the published shares,
        category by category and scope by scope (hidden shares as "..", nothing for a
        selection not broken down) — the same numbers the table beside the chart shows.

    Returns
    -------
    str
        Plain text.

    Raises
    ------
    ParameterError
        If there is no text for ``section``.
    """
    text = chart_alt_text("overview", section, lang)
    if table is None:
        return text
    parts = []
    for scope, rows in table.groupby("scope", sort=False):
        if (rows["display"] == "").all():
            continue
        shares = [f"{c} {format_percent(v, 0, lang) or SECONDARY_MARK}"
                  for c, v in zip(rows["category"], rows["share"], strict=True)]
        parts.append(f"{scope}: {', '.join(shares)}")
    if parts:
        text += " " + phrase("overview", "labels", "alt_shares", lang,
                             shares="; ".join(parts))
    return text
