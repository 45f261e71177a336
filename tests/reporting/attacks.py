"""The determined reader: attacks on the published reports (issue 9, item 6).

The attacker sees only what a report publishes (the display tables and the selection line of
the overview, the display tables of the outcomes report) and knows how the reports are made
(the documentation, the data dictionary and, in publication mode, the perturbation table that
the package ships as data). From that he tries to learn counts of 1 to 4 or the attributes of a
single child:

(a) :func:`integer_constraints` - every municipality's overview and the all view, solved per
    section as one system of integer constraints (municipalities add up to all, categories to
    their total, a known value to at most the selection, shares to their counts);
(b) :func:`differencing` and :func:`outcome_differencing` - two periods that differ by a day or
    a month, the difference of every cell;
(c) :func:`wilson_inversion`, :func:`denominator_totals` and :func:`naive_effect_inversion` -
    the derived statistics of the outcomes report (a proportion with its Wilson interval, the
    age rows of a measure against a total shown elsewhere, a naive risk difference and ratio
    with the arm sizes of the cost table);
(d) :func:`single_child` - a municipality with one child, whose cells describe him.

How a recovery is counted
-------------------------
Every piece of knowledge is a linear constraint tagged with the *rule* it rests on: "published
numbers are exact", "a published number is the true one plus noise from the perturbation table",
"'<5' means 1 to 4", "municipalities add up to all", "a share is count / known values rounded as
shown", ... The harness knows the true counts (computed here from the microdata) and keeps only
the rules that hold for every constraint of their kind: the strongest attacker whose every
inference is *certain*. A rule that only holds by chance for some cells (for example "exact" for
the cells whose noise happens to be zero) is dropped as a whole, since the reader cannot tell
those cells apart. A value the remaining system pins down (minimum = maximum over the integer
solutions) is then necessarily the true value: that is a **recovery** when it is 1 to 4.

For the record, the naive reader who takes every published number as exact is also run
(``naive_*`` counts): when his system is feasible, the cells it pins to the true value are lucky
guesses, which he cannot tell from the wrong ones once the numbers carry noise.

Every function returns counts (and the cells behind them), so that
``benchmarks/attack_reports.py`` measures the package before and after with the same code.
"""

from __future__ import annotations

import importlib
import math
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, sparse

# --------------------------------------------------------------------------------------------
# The package under attack

SMALL = range(1, 5)
"""The counts that must never be recovered: 1 to 4."""

NOISE_BOUND = 3
"""Largest deviation the attacker allows a published count in the robust variant (``D``)."""

#: Rules (kinds of knowledge). Each constraint carries one.
EXACT = "published counts are exact"
NOISE = "published counts are true counts plus bounded noise"
SMALL_MARK = "'<k' means 1 to k-1"
MUNICIPALITIES_SUM = "municipalities add up to all"
CATEGORIES_SUM = "categories add up to the known values"
KNOWN_LE_SELECTION = "known values are at most the selection"
SHARE_EXACT = "a share is count / known values, rounded as shown"
SHARE_NOISY = "a share is a ratio of noisy counts, rounded as shown"
PERIODS_NEST = "the longer period holds every episode of the shorter one"
REPORT_EXISTS = "a municipality gets a report only if it has episodes in the period"


@dataclass
class Package:
    """How to reach the reports of one version of the package (old module names or new).

    Every call uses keyword arguments and the defaults (publication mode, where the package has
    modes).
    """

    name: str
    synth: Any
    load_tables: Callable[[str], dict[str, pd.DataFrame]]
    overview: Any
    outcome_report: Callable[..., Any]
    measures: Any
    planned_codes: frozenset[str]
    ptable: pd.DataFrame | None = None
    internal: Any = None
    options: dict[str, Any] = field(default_factory=dict)

    def internal_mode(self) -> Package:
        """The same package with every report in internal mode (exact numbers), where the
        package has one; the attacks must recover small counts from it."""
        if self.internal is None:
            raise ValueError(f"package {self.name!r} has no internal mode")
        return Package(self.name + " (internal)", self.synth, self.load_tables, self.overview,
                       self.outcome_report, self.measures, self.planned_codes, None,
                       self.internal, {"policy": self.internal})

    def tables(self, n_children: int = 300, n_municipalities: int = 12, seed: int = 7
               ) -> dict[str, pd.DataFrame]:
        """Synthetic data written and read back as the reports read them."""
        data = self.synth.generate(n_children, n_municipalities, seed=seed)
        with tempfile.TemporaryDirectory() as tmp:
            self.synth.write(data, tmp)
            return self.load_tables(tmp)

    def overview_report(self, tables, municipality: str, period_start: str, period_end: str
                        ) -> dict[str, Any]:
        """What the overview publishes: the selection line and one display table per section
        (with the structure the charts and headings give away: variable, code, scope)."""
        ov = self.overview
        frames = ov.overview_tables(tables, municipality=municipality,
                                    period_start=period_start, period_end=period_end,
                                    **self.options)
        shown = {s: ov.display_table(f) for s, f in frames.items()}
        line = ov.selection_text(tables, municipality=municipality, period_start=period_start,
                                 period_end=period_end, **self.options)
        return {"frames": frames, "display": shown, "selection": line}


def current_package() -> Package:
    """The package as it is now (``evaluation.data``, ``evaluation.reporting``)."""
    from evaluation import disclosure, measures
    from evaluation.data import load_tables, synth
    from evaluation.data.dictionary import load_dictionary
    from evaluation.reporting import OutcomeReport, overview

    table = disclosure.default_table() if hasattr(disclosure, "default_table") else None
    policy = getattr(disclosure, "DisclosurePolicy", None)
    internal = policy(mode="internal") if policy is not None else None
    return Package("current", synth, load_tables, overview, OutcomeReport, measures,
                   frozenset(load_dictionary().planned_codes()), table, internal)


def old_package() -> Package:
    """The package before the refactor (``evaluation.synth``, ``evaluation.overview``,
    ``evaluation.outcome_report``)."""
    synth = importlib.import_module("evaluation.synth")
    overview = importlib.import_module("evaluation.overview")
    report = importlib.import_module("evaluation.outcome_report")
    measures = importlib.import_module("evaluation.measures")
    dictionary = importlib.import_module("evaluation.dictionary")
    return Package("old", synth, overview.load_tables, overview, report.OutcomeReport, measures,
                   frozenset(dictionary.load_dictionary().planned_codes()), None)


# --------------------------------------------------------------------------------------------
# Reading published text


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]")


def _clean(text: Any) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return _SPACES.sub("", str(text)).replace("\u2212", "-").replace("\u2013", "-")


@dataclass(frozen=True)
class Cell:
    """One published count: a whole number, a small-count mark ``<k``, or unknown."""

    kind: str  # "number", "small" or "unknown"
    value: int | None = None

    @classmethod
    def parse(cls, text: Any) -> Cell:
        s = _clean(text)
        if re.fullmatch(r"\d+", s):
            return cls("number", int(s))
        m = re.fullmatch(r"<(\d+)", s)
        if m:
            return cls("small", int(m.group(1)))
        return cls("unknown")


def parse_decimal(text: Any) -> tuple[float, float] | None:
    """A published decimal number as (value, half of its last digit), or None.

    >>> parse_decimal("0,318")
    (0.318, 0.0005)
    >>> parse_decimal("..") is None
    True
    """
    s = _clean(text).replace(",", ".")
    if not re.fullmatch(r"-?\d+(\.\d+)?", s):
        return None
    decimals = len(s.split(".")[1]) if "." in s else 0
    return float(s), 0.5 * 10.0 ** -decimals


def parse_share(text: Any) -> tuple[float, float] | None:
    """A published percentage as (share, half of its last digit as a share), or None.

    >>> parse_share("33,6 %")
    (0.336, 0.0005)
    >>> parse_share("34 %")
    (0.34, 0.005)
    """
    s = _clean(text)
    if not s.endswith("%"):
        return None
    got = parse_decimal(s[:-1])
    if got is None:
        return None
    return got[0] / 100.0, got[1] / 100.0


def parse_interval(text: Any) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """A published interval ``(lo; hi)`` or ``(lo, hi)`` as two (value, half digit) pairs."""
    s = _clean(text)
    m = re.fullmatch(r"\((-?[\d.,]+?)[;,](-?[\d.,]+)\)", s) if ";" in s else re.fullmatch(
        r"\((-?[\d.]+),(-?[\d.]+)\)", s)
    if not m:
        return None
    lo, hi = parse_decimal(m.group(1)), parse_decimal(m.group(2))
    if lo is None or hi is None:
        return None
    return lo, hi


def noise_support(ptable: pd.DataFrame | None, bound: int = NOISE_BOUND
                  ) -> Callable[[int], tuple[int, int]]:
    """For a published count, the smallest and largest true counts that could give it.

    With the package's perturbation table, the hull of the true counts with a positive
    probability of being published as that number; without one, ``published +- bound``.
    """
    if ptable is None:
        return lambda p: (max(0, p - bound), p + bound)
    t = ptable[ptable["p"] > 0]
    i_max = int(t["i"].max())
    moves = {int(i): set(g["v"].astype(int)) for i, g in t.groupby("i")}
    d = max(abs(v) for vs in moves.values() for v in vs)

    def support(p: int) -> tuple[int, int]:
        ok = [i for i in range(max(0, p - d), p + d + 1)
              if (p - i) in moves[min(i, i_max)]]
        if not ok:  # a number the table never publishes: say nothing
            return 0, p + d
        return min(ok), max(ok)

    return support


# --------------------------------------------------------------------------------------------
# Systems of integer constraints


@dataclass
class System:
    """Integer unknowns (true counts) with linear constraints, each tagged with a rule.

    ``truth`` holds the true value of every unknown (the harness knows it, the attacker does
    not); :meth:`sound_rules` keeps the rules that every one of their constraints satisfies.
    """

    upper: float = 1e6
    names: list[Any] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    index: dict[Any, int] = field(default_factory=dict)
    rows: list[tuple[dict[int, float], float, float, str]] = field(default_factory=list)

    def var(self, name: Any, truth: float) -> int:
        """The index of unknown ``name`` (created at the first call)."""
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
            self.truth.append(float(truth))
        return self.index[name]

    def add(self, coef: dict[int, float], lo: float, hi: float, rule: str) -> None:
        """``lo <= sum(coef[i] * x[i]) <= hi`` under ``rule``."""
        self.rows.append((dict(coef), float(lo), float(hi), rule))

    def published(self, i: int, cell: Cell, support: Callable[[int], tuple[int, int]]) -> None:
        """What a published count says about unknown ``i``, under each rule that reads it."""
        if cell.kind == "number":
            self.add({i: 1}, cell.value, cell.value, EXACT)
            lo, hi = support(cell.value)
            self.add({i: 1}, lo, hi, NOISE)
        elif cell.kind == "small":
            self.add({i: 1}, 1, cell.value - 1, SMALL_MARK)

    def share(self, n: int, den: int, share: tuple[float, float] | None, suffix: str = ""
              ) -> None:
        """A published share ``n / den`` (rounded as shown), exact or from noisy counts
        (``suffix`` names the measure when the method is documented per measure)."""
        if share is None:
            return
        s, h = share
        lo, hi = max(s - h - 1e-9, 0.0), min(s + h + 1e-9, 1.0)
        self.add({n: 1, den: -lo}, 0, np.inf, SHARE_EXACT + suffix)
        self.add({n: 1, den: -hi}, -np.inf, 0, SHARE_EXACT + suffix)
        slack = NOISE_BOUND * (1 + hi)
        self.add({n: 1, den: -lo}, -slack, np.inf, SHARE_NOISY + suffix)
        self.add({n: 1, den: -hi}, -np.inf, slack, SHARE_NOISY + suffix)

    def violated_rules(self) -> set[str]:
        """Rules that some constraint breaks at the true values."""
        x = np.asarray(self.truth)
        bad = set()
        for coef, lo, hi, rule in self.rows:
            v = sum(c * x[i] for i, c in coef.items())
            if v < lo - 1e-6 or v > hi + 1e-6:
                bad.add(rule)
        return bad

    def sound_rules(self) -> set[str]:
        """The rules the attacker may use with certainty (none of their constraints fails)."""
        return {r for *_, r in self.rows} - self.violated_rules()

    def solver(self, rules: Iterable[str]) -> Solver:
        """A solver over the constraints of ``rules``."""
        return Solver(self, set(rules))


class Solver:
    """Bounds of linear expressions over the integer solutions of a :class:`System`."""

    def __init__(self, system: System, rules: set[str]):
        rows = [r for r in system.rows if r[3] in rules]
        n = len(system.names)
        self.n = n
        self.upper = system.upper
        if rows:
            a = sparse.lil_matrix((len(rows), n))
            for k, (coef, _, _, _) in enumerate(rows):
                for i, c in coef.items():
                    a[k, i] += c
            self.constraints = [optimize.LinearConstraint(
                a.tocsr(), [r[1] for r in rows], [r[2] for r in rows])]
        else:
            self.constraints = []
        self._feasible: bool | None = None

    def _solve(self, c: np.ndarray) -> float | None:
        res = optimize.milp(c, integrality=np.ones(self.n),
                            bounds=optimize.Bounds(0, self.upper),
                            constraints=self.constraints, options={"disp": False})
        if res.status != 0:
            return None
        return float(res.fun)

    def feasible(self) -> bool:
        """Whether any integer solution exists."""
        if self._feasible is None:
            self._feasible = self._solve(np.zeros(self.n)) is not None
        return self._feasible

    def bounds(self, coef: dict[int, float]) -> tuple[float, float] | None:
        """Smallest and largest value of ``sum(coef[i] * x[i])``; None if infeasible."""
        c = np.zeros(self.n)
        for i, v in coef.items():
            c[i] += v
        lo = self._solve(c)
        if lo is None:
            return None
        hi = self._solve(-c)
        return round(lo), round(-hi)

    def pinned(self, coef: dict[int, float]) -> int | None:
        """The value of the expression if every solution gives the same, else None."""
        b = self.bounds(coef)
        if b is None or b[0] != b[1]:
            return None
        return int(b[0])


def _value(system: System, coef: dict[int, float]) -> float:
    return sum(c * system.truth[i] for i, c in coef.items())


def recoveries(system: System, targets: dict[Any, dict[int, float]], *, naive: bool = True
               ) -> dict[str, Any]:
    """Pin down every target expression whose true value is 1 to 4.

    Returns
    -------
    dict
        ``recovered``: targets pinned by the sound rules (each equals its true value);
        ``dropped``: rules that the truth breaks (so the attacker cannot rely on them);
        ``naive_feasible`` / ``naive_hits``: the reader who takes every number as exact -
        whether his system has a solution, and the targets it pins to their true value.
    """
    small = {k: e for k, e in targets.items() if round(_value(system, e)) in SMALL}
    rules = system.sound_rules()
    solver = system.solver(rules)
    recovered = [k for k, e in small.items() if solver.pinned(e) is not None]
    out: dict[str, Any] = {"recovered": recovered, "dropped": sorted(system.violated_rules()),
                           "targets": len(small)}
    if naive:
        naive_solver = system.solver({EXACT, SMALL_MARK, MUNICIPALITIES_SUM, CATEGORIES_SUM,
                                      KNOWN_LE_SELECTION, SHARE_EXACT, PERIODS_NEST,
                                      REPORT_EXISTS})
        hits = []
        if naive_solver.feasible():
            for k, e in small.items():
                v = naive_solver.pinned(e)
                if v is not None and v == round(_value(system, e)):
                    hits.append(k)
        out["naive_feasible"] = naive_solver.feasible()
        out["naive_hits"] = hits
    return out


# --------------------------------------------------------------------------------------------
# The overview: truth and systems


def _period_of(selection: str, start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period a report states in its selection line (the requested one if none)."""
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", selection)
    if len(dates) >= 2:
        return pd.Timestamp(dates[0]), pd.Timestamp(dates[1])
    return pd.Timestamp(start), pd.Timestamp(end)


def _active(episodes: pd.DataFrame, start, end) -> pd.DataFrame:
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    keep = (episodes["start_date"] <= e) & (episodes["end_date"].isna()
                                            | (episodes["end_date"] >= s))
    return episodes.loc[keep.fillna(False).astype(bool)]


def _latest_goal(episodes: pd.DataFrame, followups: pd.DataFrame | None) -> pd.Series:
    if followups is None or "goal_attainment" not in followups:
        return pd.Series(pd.NA, index=episodes.index, dtype="object")
    fu = followups.loc[followups["goal_attainment"].notna()].sort_values(
        ["episode_id", "followup_date"])
    latest = fu.groupby("episode_id")["goal_attainment"].last()
    return episodes["episode_id"].map(latest)


def _values(pkg: Package, episodes: pd.DataFrame, tables, variable_code: str) -> pd.Series:
    """The value of one overview variable per episode (NA where unknown)."""
    if variable_code == "age_group":
        age = episodes["start_date"].dt.year - episodes["birth_year"].astype("Float64")
        out = pd.Series(pd.NA, index=episodes.index, dtype="object")
        for code, lo, hi in pkg.overview.AGE_GROUPS:
            out[((age >= lo) & (age <= hi)).fillna(False).astype(bool)] = code
        return out
    if variable_code == "planned_ending":
        ended = episodes["end_reason"].notna() & episodes["end_date"].notna()
        out = pd.Series(pd.NA, index=episodes.index, dtype="object")
        planned = episodes["end_reason"].isin(pkg.planned_codes)
        out[ended & planned] = "PLANNED"
        out[ended & ~planned] = "UNPLANNED"
        return out
    if variable_code == "goal_attainment":
        return _latest_goal(episodes, tables.get("followups"))
    return episodes[variable_code].astype("object")


def _section_variables(pkg: Package, section: str) -> list[str | None]:
    """The columns (or derived variables) of a section, in the order the tables show them."""
    cols = [c for c in pkg.overview.SECTIONS[section]]
    return [None if section == "problems" else c for c in cols]


@dataclass
class Overview:
    """Every published overview of one period (each municipality and all), parsed."""

    pkg: Package
    tables: dict[str, pd.DataFrame]
    period_start: str
    period_end: str
    municipalities: list[str]
    reports: dict[str, dict[str, Any]]
    all_label: str
    period: tuple[pd.Timestamp, pd.Timestamp]

    @classmethod
    def publish(cls, pkg: Package, tables, period_start: str, period_end: str,
                municipalities: Iterable[str] | None = None) -> Overview:
        """Render the overview for every municipality (or those given) and for all."""
        ep = _active(tables["episodes"], period_start, period_end)
        munis = (sorted(ep["municipality_code"].dropna().astype(str).unique())
                 if municipalities is None else list(municipalities))
        reports = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m in [*munis, "all"]:
                try:
                    reports[m] = pkg.overview_report(tables, m, period_start, period_end)
                except Exception as exc:  # a report that refuses a selection publishes nothing
                    if m == "all":
                        raise
                    reports[m] = {"error": repr(exc)}
        first = next(iter(reports["all"]["frames"].values()))
        all_label = str(first["scope"].iloc[0])
        period = _period_of(reports["all"]["selection"], period_start, period_end)
        return cls(pkg, tables, period_start, period_end, munis, reports, all_label, period)

    # ------------------------------------------------------------------ truth
    def episodes(self, scope: str) -> pd.DataFrame:
        ep = _active(self.tables["episodes"], *self.period)
        if scope == "all":
            return ep
        return ep[ep["municipality_code"].astype(str) == scope]

    def children(self, scope: str) -> int:
        return int(self.episodes(scope)["child_id"].nunique())

    def structure(self) -> dict[str, list[tuple[str, str, list[str], list[str]]]]:
        """Per section: (variable label, kind, codes, category labels) in display order."""
        out = {}
        for section, frame in self.reports["all"]["frames"].items():
            blocks = []
            for label, block in frame.groupby("variable", sort=False):
                codes = [str(c) for c in block["code"]]
                cats = [str(c) for c in block["category"]]
                kind = "flags" if section == "problems" else "categorical"
                blocks.append((str(label), kind, codes, cats))
            out[section] = blocks
        return out

    def truth(self, scope: str, kind: str, var: str | None, code: str) -> tuple[int, int]:
        """True (count, known values) of one cell: episodes in the category (or with the
        flag) and episodes with a known value of the variable."""
        ep = self.episodes(scope)
        if kind == "flags":
            col = ep[code]
            return int((col == True).sum()), int(col.notna().sum())
        values = _values(self.pkg, ep, self.tables, var)
        return int((values.astype("object") == code).sum()), int(values.notna().sum())

    # ------------------------------------------------------------------ publication
    def cells(self, report: str, section: str):
        """Rows of one published table: (variable, code, scope key, count cell, share)."""
        rep = self.reports[report]
        if "error" in rep:
            return []
        frame, shown = rep["frames"][section], rep["display"][section]
        out = []
        for i in range(len(frame)):
            scope_label = str(frame["scope"].iloc[i])
            scope = "all" if scope_label == self.all_label else report
            out.append((str(frame["variable"].iloc[i]), str(frame["code"].iloc[i]), scope,
                        Cell.parse(shown.iloc[i, 2]), parse_share(shown.iloc[i, 3])))
        return out

    def selection_count(self, report: str) -> Cell:
        """The number of episodes the selection line states."""
        rep = self.reports[report]
        if "error" in rep:
            return Cell("unknown")
        text = _SPACES.sub(" ", rep["selection"])
        m = re.search(r"(<\s?\d+|\d[\d ]*)\s+(episoder|episodes)", text)
        return Cell.parse(m.group(1)) if m else Cell("unknown")


def overview_system(ov: Overview, section: str, system: System | None = None,
                    tag: str = "", scopes: Iterable[str] | None = None) -> tuple[System, dict]:
    """The integer system of one section over the given scopes (all municipalities and all by
    default); unknowns are named ``(tag, kind, scope, variable, code)``.

    Returns the system and the unknowns of the category cells by name.
    """
    system = system or System()
    support = noise_support(ov.pkg.ptable)
    scopes = list(scopes) if scopes is not None else [*ov.municipalities, "all"]
    munis = [s for s in scopes if s != "all"]
    n_var = {}
    for s in scopes:
        n_var[s] = system.var((tag, "N", s), len(ov.episodes(s)))
    cells: dict[Any, int] = {}
    for (label, kind, codes, _cats), var in zip(ov.structure()[section],
                                                _section_variables(ov.pkg, section)):
        for s in scopes:
            if kind == "categorical":
                known = len(ov.episodes(s)) if var is None else int(
                    _values(ov.pkg, ov.episodes(s), ov.tables, var).notna().sum())
                d = system.var((tag, "D", s, label), known)
                idx = []
                for code in codes:
                    t, _ = ov.truth(s, kind, var, code) if var else (0, 0)
                    i = system.var((tag, "cell", s, label, code), t)
                    cells[(tag, "cell", s, label, code)] = i
                    idx.append(i)
                system.add({**{i: 1 for i in idx}, d: -1}, 0, 0, CATEGORIES_SUM)
                system.add({d: 1, n_var[s]: -1}, -np.inf, 0, KNOWN_LE_SELECTION)
            else:
                for code in codes:
                    t, k = ov.truth(s, kind, None, code)
                    i = system.var((tag, "cell", s, label, code), t)
                    cells[(tag, "cell", s, label, code)] = i
                    kk = system.var((tag, "K", s, label, code), k)
                    system.add({i: 1, kk: -1}, -np.inf, 0, KNOWN_LE_SELECTION)
                    system.add({kk: 1, n_var[s]: -1}, -np.inf, 0, KNOWN_LE_SELECTION)
    if "all" in scopes and munis:
        groups: dict[Any, list[int]] = {}
        for name, i in system.index.items():
            if name[0] == tag and name[2] in munis:
                groups.setdefault((name[1], *name[3:]), []).append(i)
        for key, idx in groups.items():
            total = system.index.get((tag, key[0], "all", *key[1:]))
            if total is not None and len(idx) == len(munis):
                system.add({**{i: 1 for i in idx}, total: -1}, 0, 0, MUNICIPALITIES_SUM)
    # What the reports publish.
    for report in scopes:
        system.published(n_var[report], ov.selection_count(report), support)
        if report != "all" and "error" not in ov.reports[report]:
            system.add({n_var[report]: 1}, 1, np.inf, REPORT_EXISTS)
        for label, code, scope, cell, share in ov.cells(report, section):
            if scope not in scopes:
                continue
            i = system.index.get((tag, "cell", scope, label, code))
            if i is None:
                continue
            system.published(i, cell, support)
            den = system.index.get((tag, "D", scope, label)) or system.index.get(
                (tag, "K", scope, label, code))
            if den is not None:
                system.share(i, den, share)
    return system, cells


# --------------------------------------------------------------------------------------------
# (a) integer constraints


def integer_constraints(ov: Overview, *, hidden: bool = False) -> dict[str, Any]:
    """Solve every section's published tables (all municipalities and all) together.

    Parameters
    ----------
    hidden : bool
        Also count the category cells that no report shows as a number and that the sound
        rules pin down (any value), as in the issue's "41 hidden cells".

    Returns
    -------
    dict
        ``recovered`` (count of unknowns with a true value of 1-4 pinned: cells, known-value
        totals and selection sizes), ``cells`` (their names), ``naive_hits``,
        ``naive_infeasible_sections``, ``dropped`` (rules the truth breaks, per section) and,
        with ``hidden``, ``hidden_pinned`` / ``hidden_total``.
    """
    out: dict[str, Any] = {"recovered": 0, "cells": [], "naive_hits": 0,
                           "naive_infeasible_sections": [], "dropped": {}, "targets": 0}
    if hidden:
        out["hidden_pinned"], out["hidden_total"] = 0, 0
    for section in ov.structure():
        system, cells = overview_system(ov, section)
        targets = {name: {i: 1.0} for name, i in system.index.items()}
        r = recoveries(system, targets)
        out["recovered"] += len(r["recovered"])
        out["cells"] += r["recovered"]
        out["targets"] += r["targets"]
        out["naive_hits"] += len(r["naive_hits"])
        if not r["naive_feasible"]:
            out["naive_infeasible_sections"].append(section)
        out["dropped"][section] = r["dropped"]
        if hidden:
            shown = set()
            for report in ov.reports:
                for label, code, scope, cell, _ in ov.cells(report, section):
                    if cell.kind == "number":
                        shown.add(("", "cell", scope, label, code))
            solver = system.solver(system.sound_rules())
            for name, i in cells.items():
                if name in shown:
                    continue
                out["hidden_total"] += 1
                if solver.pinned({i: 1.0}) is not None:
                    out["hidden_pinned"] += 1
    return out


# --------------------------------------------------------------------------------------------
# (d) single child


def single_child(ov: Overview) -> dict[str, Any]:
    """Municipalities with exactly one child: the cells whose value the reader knows for
    certain (surely 0: the child does not have it; surely at least 1: he has it).

    Returns
    -------
    dict
        ``selections`` (municipalities with one child), ``revealed`` (certain cells in them,
        all sections), ``cells`` (their names and what is known).
    """
    ones = [m for m in ov.municipalities if ov.children(m) == 1]
    out: dict[str, Any] = {"selections": ones, "revealed": 0, "cells": []}
    if not ones:
        return out
    for section in ov.structure():
        system, cells = overview_system(ov, section)
        solver = system.solver(system.sound_rules())
        for name, i in cells.items():
            if name[2] not in ones:
                continue
            b = solver.bounds({i: 1.0})
            if b is None:
                continue
            if b[1] == 0 or b[0] >= 1:
                out["revealed"] += 1
                out["cells"].append((name[2:], "has it" if b[0] >= 1 else "has not"))
    return out


# --------------------------------------------------------------------------------------------
# (b) differencing


def differencing(first: Overview, second: Overview) -> dict[str, Any]:
    """The all view of two periods (the second holding the first): differences of every cell,
    known-value total and selection size that the sound rules pin to 1-4.

    Returns
    -------
    dict
        ``recovered`` (count), ``cells`` (names: (section, kind, variable, code)),
        ``naive_hits`` (the reader who takes both as exact and solves), ``chance_matches``
        (categories whose published difference equals their true difference of 1-4: with
        noise, matches by chance that the reader cannot tell from the misses),
        ``chance_targets`` (categories with a true difference of 1-4), ``new_episodes``
        (true number of episodes the second period adds).
    """
    out: dict[str, Any] = {"recovered": 0, "cells": [], "naive_hits": 0, "dropped": {},
                           "chance_matches": 0, "chance_targets": 0,
                           "new_episodes": len(second.episodes("all")) - len(
                               first.episodes("all"))}
    for section, blocks in first.structure().items():
        shown1 = {(lab, code): c for lab, code, _s, c, _ in first.cells("all", section)}
        shown2 = {(lab, code): c for lab, code, _s, c, _ in second.cells("all", section)}
        for (label, kind, codes, _), var in zip(blocks, _section_variables(first.pkg, section)):
            for code in codes:
                true = (second.truth("all", kind, var, code)[0]
                        - first.truth("all", kind, var, code)[0])
                if true not in SMALL:
                    continue
                out["chance_targets"] += 1
                a, b = shown1.get((label, code)), shown2.get((label, code))
                if (a is not None and b is not None and a.kind == b.kind == "number"
                        and b.value - a.value == true):
                    out["chance_matches"] += 1
    for section in first.structure():
        system, _ = overview_system(first, section, tag="1", scopes=["all"])
        system, _ = overview_system(second, section, system=system, tag="2", scopes=["all"])
        targets = {}
        for name, i in list(system.index.items()):
            if name[0] != "1":
                continue
            j = system.index.get(("2", *name[1:]))
            if j is None:
                continue
            system.add({j: 1, i: -1}, 0, np.inf, PERIODS_NEST)
            targets[(section, *name[1:])] = {j: 1.0, i: -1.0}
        n1, n2 = system.index[("1", "N", "all")], system.index[("2", "N", "all")]
        for name, i in list(system.index.items()):
            if name[0] == "1" and name[1] in ("D", "K"):
                j = system.index[("2", *name[1:])]
                system.add({j: 1, i: -1, n2: -1, n1: 1}, -np.inf, 0, PERIODS_NEST)
        r = recoveries(system, targets)
        out["recovered"] += len(r["recovered"])
        out["cells"] += r["recovered"]
        out["naive_hits"] += len(r["naive_hits"])
        out["dropped"][section] = r["dropped"]
    return out


def rises_by_one(first: Overview, second: Overview) -> list[tuple[str, str]]:
    """Categories of the all view whose published count rises by exactly 1 (what the naive
    reader takes for the attributes of one new child)."""
    out = []
    for section in first.structure():
        a = {(lab, code): c for lab, code, s, c, _ in first.cells("all", section)}
        for lab, code, _s, c, _ in second.cells("all", section):
            before = a.get((lab, code))
            if (before is not None and before.kind == c.kind == "number"
                    and c.value - before.value == 1):
                out.append((lab, code))
    return out


# --------------------------------------------------------------------------------------------
# The outcomes report


def _measure_rows(pkg: Package, tables, ps: str, pe: str, de: str) -> pd.DataFrame:
    """The true rows (numerator, denominator) behind the measures table, in its order."""
    m, t, ep = pkg.measures, tables, tables["episodes"]
    rows = [m.planned_ending_share(ep, ps, pe), m.breakdown_risk(ep, ps, pe, de),
            m.exit_to_permanency_12m(ep, ps, pe, de)]
    if "placements" in t:
        rows.append(m.placement_stability(ep, t["placements"], ps, pe))
        rows.append(m.three_or_more_placements(ep, t["placements"], pd.Timestamp(pe).year))
    if "referrals" in t:
        rows.append(m.re_referral_12m(ep, t["referrals"], ps, pe, de))
    if "followups" in t:
        rows.append(m.goal_attainment_share(ep, t["followups"], ps, pe))
        rows.append(m.child_heard_share(ep, t["followups"], ps, pe))
        rows.append(m.reviews_on_time(ep, t["followups"], ps, pe, de))
    if "placements" in t:
        rows.append(m.long_term_stability(ep, t["placements"], pe))
    rows.append(m.re_entry_12m(ep, ps, pe, de))
    return pd.concat(rows, ignore_index=True)


@dataclass
class Outcomes:
    """The published measures, effect and cost tables of one outcomes report, with the true
    numbers behind them."""

    pkg: Package
    report: Any
    measures: pd.DataFrame  # display
    truth: pd.DataFrame  # numerator, denominator per row (NaN where rows do not align)
    effect: pd.DataFrame
    cost: pd.DataFrame

    @classmethod
    def publish(cls, pkg: Package, tables, *, period_start: str, period_end: str,
                data_end: str, treated: str = "JH", effect: bool = True) -> Outcomes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = pkg.outcome_report(tables, period_start=period_start, period_end=period_end,
                                     data_end=data_end, treated=treated, **pkg.options)
            shown = rep.measures_table()
            eff = _safe(rep.effect_table) if effect else pd.DataFrame()
            cost = _safe(rep.cost_table) if effect else pd.DataFrame()
            if pkg.internal is not None and hasattr(rep, "measures_counts"):
                # The exact numbers of the period the report describes (whole months in
                # publication mode): the same report in internal mode.
                exact = pkg.outcome_report(tables, period_start=rep.period_start,
                                           period_end=rep.period_end, data_end=data_end,
                                           treated=treated, policy=pkg.internal)
                truth = exact.measures_counts()[["measure", "numerator", "denominator"]]
            else:
                truth = _measure_rows(pkg, tables, period_start, period_end, data_end)
        if len(truth) != len(shown):
            truth = pd.DataFrame({"measure": [None] * len(shown), "numerator": np.nan,
                                  "denominator": np.nan})
        return cls(pkg, rep, shown, truth, eff, cost)

    def rows(self):
        """(label, value, interval, denominator cell, true numerator, true denominator, measure)
        of every proportion (a rate per 1,000 care days, whose denominator is days and not a
        count of records, is left out)."""
        t = self.measures
        for i in range(len(t)):
            value = parse_decimal(t.iloc[i, 1])
            if value is not None and value[0] > 1:
                continue
            yield (str(t.iloc[i, 0]), parse_decimal(t.iloc[i, 1]),
                   parse_interval(t.iloc[i, 2]) if t.shape[1] > 3 else None,
                   Cell.parse(t.iloc[i, -1]), self.truth["numerator"].iloc[i],
                   self.truth["denominator"].iloc[i], str(self.truth["measure"].iloc[i]))


def _safe(method: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    try:
        out = method()
    except Exception:  # noqa: BLE001 - a section that cannot be shown publishes nothing
        return pd.DataFrame()
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame()


_Z = 1.959963984540054


def _wilson(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    z2 = _Z * _Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return centre - half, centre + half


def _grid(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.repeat(np.arange(1, n_max + 1), np.arange(2, n_max + 2))
    k = np.concatenate([np.arange(0, m + 1) for m in range(1, n_max + 1)])
    return k, n


def _close(x: np.ndarray, target: tuple[float, float]) -> np.ndarray:
    return np.abs(x - target[0]) <= target[1] + 1e-9


def wilson_candidates(value, interval, den: Cell, support, *, n_max: int = 1500,
                      noisy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All (numerator, denominator) that give the published proportion, its Wilson interval
    and its denominator cell.

    ``noisy``: the published numbers were computed from published (perturbed) counts; the
    candidates for the true counts are those within the noise of the published ones (the
    numerator within the noise bound, the denominator within the perturbation table's range).
    """
    k, n = _grid(n_max)
    ok = _close(k / n, value)
    if interval is not None:
        lo, hi = _wilson(k.astype(float), n.astype(float))
        ok &= _close(lo, interval[0]) & _close(hi, interval[1])
    if den.kind == "number":
        ok &= n == den.value
    elif den.kind == "small":
        ok &= (n >= 1) & (n < den.value)
    k, n = k[ok], n[ok]
    if not noisy or not len(k):
        return k, n
    d = np.arange(-NOISE_BOUND, NOISE_BOUND + 1)
    out = set()
    for a, b in zip(k, n, strict=True):
        lo_n, hi_n = support(int(b))
        for kk in a + d:
            for nn in range(lo_n, hi_n + 1):
                if 0 <= kk <= nn and nn >= 1:
                    out.add((int(kk), nn))
    arr = np.array(sorted(out), dtype=int).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _exact_counts(out: Outcomes) -> bool:
    """Whether every count the measures table shows is the true one (the reading "published
    counts are exact" is sound for the whole report, not just for the cells whose noise happens
    to be zero)."""
    return all(r[3].kind != "number" or (not pd.isna(r[5]) and r[3].value == round(r[5]))
               for r in out.rows())


def wilson_inversion(out: Outcomes) -> dict[str, Any]:
    """Invert every shown proportion with its Wilson interval (and denominator cell).

    Two readings of a row: the proportion and interval come from the true counts (the
    denominator cell read as exact if every shown count of the report is exact, else within
    the noise), or from the published counts (the true counts then lie within the noise of
    those). The method is documented per measure, so each row may be read in whichever way is
    true for it; the candidates (k, n) are those of the sound readings. A numerator or
    denominator is recovered when every candidate has the same value and it is 1-4.

    Returns
    -------
    dict
        ``recovered`` (count), ``cells`` (row label, "numerator"/"denominator", value),
        ``pinned_denominators`` ({row: n} for hidden denominators pinned, used by
        :func:`denominator_totals`).
    """
    support = noise_support(out.pkg.ptable)
    exact = _exact_counts(out)
    res: dict[str, Any] = {"recovered": 0, "cells": [], "pinned_denominators": {}}
    for row, (label, value, interval, den, k_true, n_true, _m) in enumerate(out.rows()):
        if value is None or interval is None or value[0] > 1 or pd.isna(n_true):
            continue
        true = (round(k_true), round(n_true))
        found = []
        k, n = wilson_candidates(value, interval, Cell("unknown"), support)
        if den.kind == "number":
            lo, hi = (den.value, den.value) if exact else support(den.value)
            keep = (n >= lo) & (n <= hi)
        elif den.kind == "small":
            keep = (n >= 1) & (n < den.value)
        else:
            keep = np.ones(len(n), bool)
        found.append(set(zip(k[keep].tolist(), n[keep].tolist(), strict=True)))
        k, n = wilson_candidates(value, interval, den, support, noisy=True)
        found.append(set(zip(k.tolist(), n.tolist(), strict=True)))
        sound = [f for f in found if true in f]
        if not sound:
            continue
        cands = set.intersection(*sound)
        for what, pos in (("numerator", 0), ("denominator", 1)):
            uniq = {c[pos] for c in cands}
            if len(uniq) == 1:
                v = uniq.pop()
                if what == "denominator" and den.kind != "number":
                    res["pinned_denominators"][row] = v
                if v in SMALL:
                    res["recovered"] += 1
                    res["cells"].append((label, what, v))
    return res


def denominator_totals(out: Outcomes, pinned: dict[int, int] | None = None) -> dict[str, Any]:
    """The rows of one measure (age groups) against a total shown elsewhere.

    One system holds every row's denominator (as shown, and as pinned by
    :func:`wilson_inversion`); each other single-row measure's denominator is tried as the
    total of a split measure, and a relation that holds in truth is one the documentation
    gives away (the same cohort). A split row pinned to 1-4 counts.
    """
    pinned = pinned or {}
    support = noise_support(out.pkg.ptable)
    rows = list(out.rows())
    res: dict[str, Any] = {"recovered": 0, "cells": []}
    if any(pd.isna(r[5]) for r in rows):
        return res
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r[6], []).append(i)
    split = {m: idx for m, idx in groups.items() if len(idx) > 1}
    single = [idx[0] for idx in groups.values() if len(idx) == 1]
    if not split:
        return res
    system = System()
    xs = {i: system.var(("den", i), r[5]) for i, r in enumerate(rows)}
    for i, r in enumerate(rows):
        system.published(xs[i], r[3], support)
        if i in pinned:
            system.add({xs[i]: 1}, pinned[i], pinned[i], "Wilson inversion")
    for m, idx in split.items():
        for j in single:
            system.add({**{xs[i]: 1 for i in idx}, xs[j]: -1}, 0, 0,
                       f"the rows of {m} add up to {rows[j][0]}")
    targets = {rows[i][0]: {xs[i]: 1.0} for idx in split.values() for i in idx}
    r = recoveries(system, targets, naive=False)
    res["recovered"] = len(r["recovered"])
    res["cells"] = [(label, "denominator") for label in r["recovered"]]
    return res


def _arm_size(cost: pd.DataFrame, arm: str) -> Cell:
    if cost.empty:
        return Cell("unknown")
    first = cost.iloc[:, 0].astype(str)
    hit = cost[first == arm]
    if hit.empty:  # the table names the placement type by its label ("Jourhem", not "JH")
        from evaluation.data.dictionary import load_dictionary

        kind = load_dictionary().column("episodes", "placement_type")
        hit = cost[first.isin({kind.code_label(arm, lang) for lang in ("sv", "en")})]
    if hit.empty:
        hit = cost[first.str.contains(arm, regex=False)]
    return Cell("unknown") if hit.empty else Cell.parse(hit.iloc[0, 1])


def naive_effect_inversion(out: Outcomes, *, n_max: int = 400) -> dict[str, Any]:
    """The naive risk difference and ratio with the arm sizes shown in the cost table: every
    (events, size) of both arms that gives the shown difference and ratio (rounded as shown);
    an arm's event count is recovered if all candidates agree on it and it is 1-4.

    The arm sizes are read as exact, then widened by the noise bound, then not used; the
    first reading under which the true arms are among the candidates is the sound one.
    """
    rep = out.report
    res: dict[str, Any] = {"recovered": 0, "cells": [], "shown": False}
    eff = out.effect
    if eff.empty:
        return res
    labels = eff.iloc[:, 0].astype(str)
    naive = eff[labels.str.contains("ojusterad|unadjusted|naive", case=False, regex=True)]
    if len(naive) < 2:
        return res
    rd, rr = parse_decimal(naive.iloc[0, 1]), parse_decimal(naive.iloc[1, 1])
    if rd is None or rr is None:
        return res
    res["shown"] = True
    frame = rep.effect_frame()
    y = f"unplanned_{rep.horizon}d"
    arms = {}
    for arm in (rep.treated, rep.control):
        f = frame[frame["placement_type"] == arm]
        arms[arm] = (int(f[y].sum()), len(f))
    support = noise_support(out.pkg.ptable)
    for reading in ("exact", "noise", "none"):
        ranges = []
        for arm in (rep.treated, rep.control):
            cell = _arm_size(out.cost, arm)
            if reading == "exact" and cell.kind == "number":
                ranges.append((cell.value, cell.value))
            elif reading == "exact" and cell.kind == "small":
                ranges.append((1, cell.value - 1))
            elif reading == "noise" and cell.kind == "number":
                ranges.append(support(cell.value))
            else:
                ranges.append((1, n_max))
        cands = _effect_candidates(rd, rr, ranges)
        (e1, n1), (e0, n0) = arms[rep.treated], arms[rep.control]
        if cands.size and np.any((cands[:, 0] == e1) & (cands[:, 1] == n1)
                                 & (cands[:, 2] == e0) & (cands[:, 3] == n0)):
            break
    else:
        return res
    res["reading"] = reading
    for col, arm, true in ((0, rep.treated, e1), (2, rep.control, e0)):
        uniq = np.unique(cands[:, col])
        if len(uniq) == 1 and int(uniq[0]) in SMALL:
            res["recovered"] += 1
            res["cells"].append((arm, "events", int(uniq[0])))
    return res


def _effect_candidates(rd, rr, ranges) -> np.ndarray:
    """(e1, n1, e0, n0) with e1/n1 - e0/n0 and (e1/n1)/(e0/n0) as shown."""
    def pairs(lo, hi):
        n = np.concatenate([np.full(m + 1, m) for m in range(max(lo, 1), hi + 1)])
        e = np.concatenate([np.arange(m + 1) for m in range(max(lo, 1), hi + 1)])
        return e, n
    e1, n1 = pairs(*ranges[0])
    e0, n0 = pairs(*ranges[1])
    p1, p0 = e1 / n1, e0 / n0
    found = []
    order = np.argsort(p0)
    p0s = p0[order]
    for a in range(len(p1)):
        # p0 within the risk-difference rounding of p1 - rd
        lo = np.searchsorted(p0s, p1[a] - rd[0] - rd[1] - 1e-9, side="left")
        hi = np.searchsorted(p0s, p1[a] - rd[0] + rd[1] + 1e-9, side="right")
        b = order[lo:hi]
        b = b[p0[b] > 0]
        b = b[np.abs(p1[a] / p0[b] - rr[0]) <= rr[1] + 1e-9]
        found.extend((e1[a], n1[a], e0[j], n0[j]) for j in b)
    return np.array(found, dtype=int).reshape(-1, 4)


def outcome_differencing(first: Outcomes, second: Outcomes) -> dict[str, Any]:
    """Two outcomes reports whose periods differ: the numerator and denominator differences
    of every measure row that the sound rules pin to 1-4.

    One system holds every row of both reports: the reading of the shown counts (exact or
    within the noise) is judged over all of them; the reading of a row's value (count /
    denominator, rounded as shown, from the true or the published counts) per measure, since
    the method of each measure is documented; the longer period holding the shorter one per
    row (an entry cohort grows; a measure for which that is false loses only its own rule).
    """
    support = noise_support(first.pkg.ptable)
    res: dict[str, Any] = {"recovered": 0, "cells": []}
    r1, r2 = list(first.rows()), list(second.rows())
    if len(r1) != len(r2):
        return res
    system = System()
    targets = {}
    for row, (a, b) in enumerate(zip(r1, r2, strict=True)):
        if pd.isna(a[4]) or pd.isna(b[4]):
            continue
        k1, n1 = system.var((row, "k1"), a[4]), system.var((row, "n1"), a[5])
        k2, n2 = system.var((row, "k2"), b[4]), system.var((row, "n2"), b[5])
        for (k, n), r in (((k1, n1), a), ((k2, n2), b)):
            system.published(n, r[3], support)
            system.add({k: 1, n: -1}, -np.inf, 0, KNOWN_LE_SELECTION)
            if r[1] is not None and r[1][0] <= 1:
                system.share(k, n, r[1], suffix=": " + a[0])
        nest = PERIODS_NEST + ": " + a[0]
        system.add({n2: 1, n1: -1}, 0, np.inf, nest)
        system.add({k2: 1, k1: -1}, 0, np.inf, nest)
        system.add({n2: 1, k2: -1, n1: -1, k1: 1}, 0, np.inf, nest)
        targets[(a[0], "numerator")] = {k2: 1, k1: -1}
        targets[(a[0], "denominator")] = {n2: 1, n1: -1}
    r = recoveries(system, targets, naive=False)
    res["recovered"] = len(r["recovered"])
    res["cells"] = r["recovered"]
    res["dropped"] = r["dropped"]
    return res


def _group_risks(report: Any, cost: pd.DataFrame, support) -> dict[str, dict[str, Any]]:
    """The 1-year breakdown risk of each placement group as shown, the group's size as the
    cost table gives it (its placement types' counts within their noise), and the truth."""
    table = _safe(report.breakdown_table)
    c = report.cohort
    horizon = 365
    groups = {report._group_label(g): g for g in c["placement_group"].dropna().unique()}
    types = c.groupby("placement_type")["placement_group"].first()
    out = {}
    for i in range(len(table)):
        label, day = str(table.iloc[i, 0]), _clean(table.iloc[i, 1])
        value = parse_decimal(table.iloc[i, 2])
        if day != str(horizon) or value is None or label not in groups:
            continue
        g = groups[label]
        rows = c["placement_group"] == g
        events = int((rows & (c["cause"] == 1) & (c["time"] <= horizon)).sum())
        lo = hi = 0
        exact_lo = exact_hi = 0
        for t in types[types == g].index:
            cell = _arm_size(cost, t)
            if cell.kind == "number":
                a, b = support(cell.value)
                lo, hi = lo + a, hi + b
                exact_lo, exact_hi = exact_lo + cell.value, exact_hi + cell.value
            else:
                lo, hi = lo + 0, hi + 10 ** 6
                exact_hi += 10 ** 6
        out[label] = {"value": value, "events": events, "size": int(rows.sum()),
                      "noise": (lo, hi), "exact": (exact_lo, exact_hi)}
    return out


def breakdown_differencing(first: Outcomes, second: Outcomes) -> dict[str, Any]:
    """The 1-year risk of an unplanned ending by placement group (breakdown table) in two
    reports whose entry periods differ: the differences of breakdowns and entrants that the
    sound rules pin to 1-4.

    With a year of follow-up for everyone, the Aalen-Johansen risk at one year is breakdowns
    / entrants; the group's entrants are the cost table's placements of its types (the same
    cohort when the data start with the period), read as exact or within the noise.
    """
    support = noise_support(first.pkg.ptable)
    res: dict[str, Any] = {"recovered": 0, "cells": []}
    g1 = _group_risks(first.report, first.cost, support)
    g2 = _group_risks(second.report, second.cost, support)
    system = System()
    targets = {}
    for label in sorted(set(g1) & set(g2)):
        a, b = g1[label], g2[label]
        e1, n1 = system.var((label, "e1"), a["events"]), system.var((label, "n1"), a["size"])
        e2, n2 = system.var((label, "e2"), b["events"]), system.var((label, "n2"), b["size"])
        for (e, n), r in (((e1, n1), a), ((e2, n2), b)):
            system.add({e: 1, n: -1}, -np.inf, 0, KNOWN_LE_SELECTION)
            system.share(e, n, r["value"], suffix=": breakdown risk by group")
            system.add({n: 1}, *r["exact"], EXACT + " (group sizes from the cost table)")
            system.add({n: 1}, *r["noise"], NOISE + " (group sizes from the cost table)")
        nest = PERIODS_NEST + ": " + label
        system.add({n2: 1, n1: -1}, 0, np.inf, nest)
        system.add({e2: 1, e1: -1}, 0, np.inf, nest)
        system.add({n2: 1, e2: -1, n1: -1, e1: 1}, 0, np.inf, nest)
        targets[(label, "breakdowns")] = {e2: 1, e1: -1}
        targets[(label, "entrants")] = {n2: 1, n1: -1}
    if not targets:
        return res
    r = recoveries(system, targets, naive=False)
    res["recovered"] = len(r["recovered"])
    res["cells"] = r["recovered"]
    res["dropped"] = r["dropped"]
    return res


# --------------------------------------------------------------------------------------------
# Everything


PERIOD = ("2019-01-01", "2024-12-31")
OUTCOME_PERIOD = {"period_start": "2019-01-01", "period_end": "2023-12-31",
                  "data_end": "2024-12-31"}


def run_all(pkg: Package, tables: dict[str, pd.DataFrame] | None = None, *,
            hidden: bool = False) -> dict[str, Any]:
    """Every attack on the default reports of ``pkg`` (synthetic data, 300 children, 12
    municipalities, seed 7). Returns a dict of results per attack (see each function)."""
    tables = tables if tables is not None else pkg.tables()
    out: dict[str, Any] = {}
    ov = Overview.publish(pkg, tables, *PERIOD)
    out["a"] = integer_constraints(ov, hidden=hidden)
    out["d"] = single_child(ov)
    day1 = Overview.publish(pkg, tables, "2019-01-01", "2024-12-30", municipalities=[])
    day2 = Overview.publish(pkg, tables, "2019-01-01", "2024-12-31", municipalities=[])
    month1 = Overview.publish(pkg, tables, "2019-01-01", "2024-11-30", municipalities=[])
    out["b_day"] = differencing(day1, day2)
    out["b_day"]["rises_by_one"] = rises_by_one(day1, day2)
    out["b_month"] = differencing(month1, day2)
    rep = Outcomes.publish(pkg, tables, **OUTCOME_PERIOD, treated="JH")
    out["c_wilson"] = wilson_inversion(rep)
    out["c_totals"] = denominator_totals(rep, out["c_wilson"]["pinned_denominators"])
    out["c_effect"] = naive_effect_inversion(rep)
    short = Outcomes.publish(pkg, tables, **{**OUTCOME_PERIOD, "period_end": "2023-12-30"},
                             treated="JH", effect=False)
    out["b_outcomes"] = outcome_differencing(short, rep)
    month = Outcomes.publish(pkg, tables, **{**OUTCOME_PERIOD, "period_end": "2023-11-30"},
                             treated="JH")
    out["b_outcomes_month"] = outcome_differencing(month, rep)
    out["b_breakdown_month"] = breakdown_differencing(month, rep)
    return out


def summary(results: dict[str, Any]) -> dict[str, int]:
    """The headline counts of :func:`run_all`."""
    a, d = results["a"], results["d"]
    return {
        "a_recovered": a["recovered"],
        "a_naive_hits": a["naive_hits"],
        **({"a_hidden_pinned": a["hidden_pinned"], "a_hidden_total": a["hidden_total"]}
           if "hidden_pinned" in a else {}),
        "b_day_recovered": results["b_day"]["recovered"],
        "b_day_rises_by_one": len(results["b_day"]["rises_by_one"]),
        "b_month_recovered": results["b_month"]["recovered"],
        "b_month_naive_hits": results["b_month"]["naive_hits"],
        "b_month_chance_matches": results["b_month"]["chance_matches"],
        "b_month_chance_targets": results["b_month"]["chance_targets"],
        "b_outcomes_day_recovered": results["b_outcomes"]["recovered"],
        "b_outcomes_month_recovered": results["b_outcomes_month"]["recovered"],
        "b_breakdown_groups_month_recovered": results["b_breakdown_month"]["recovered"],
        "c_wilson_recovered": results["c_wilson"]["recovered"],
        "c_wilson_pinned_denominators": len(results["c_wilson"]["pinned_denominators"]),
        "c_totals_recovered": results["c_totals"]["recovered"],
        "c_effect_recovered": results["c_effect"]["recovered"],
        "d_single_child_selections": len(d["selections"]),
        "d_revealed": d["revealed"],
    }
