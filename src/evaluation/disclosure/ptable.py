"""The perturbation table of the cell-key method, built from its parameters and kept as data.

A perturbation table gives, for each original count ``i``, a probability distribution over the
deviations ``v`` in ``-D..D`` added to the count; a cell key (a uniform number in [0, 1), see
:mod:`evaluation.disclosure.cellkey`) picks ``v`` from the cumulative interval
``[p_lower, p_upper)`` of its row. This is the design of the ONS cell key method (Census 2021),
of the ABS TableBuilder (Thompson, Broadfoot & Elazar 2013) and of the ``ptable`` R package of
Destatis and Statistik Austria (``create_cnt_ptable(D, V, js)``), whose constraints and maximum
entropy approach (Giessing 2016) are followed here.

Defaults
--------
``D = 3`` (largest deviation), ``V = 1.0`` (variance of the noise on larger counts) and
``threshold = 5`` (so ``js = 4``: no count of 1-4 is ever published). These are project
defaults (confidence L), not verified official values: DOMAIN.md section 5 says the thresholds
were not verified; every value is a parameter and may be set upward (more noise, a higher
threshold). A higher threshold needs a larger ``D`` (``threshold <= 2 * D + 1``, or some
small count could reach neither 0 nor the threshold). A table records its parameters in
``table.attrs`` and in its file.

With the defaults the small counts are not all perturbed alike (see :func:`perturbation_table`,
Notes): 1 is always published as 0 and 4 always as 5 (bias -1 and +1, no unbiased choice
exists within ``D = 3``), 2 and 3 become 0 or 5, 5 is never perturbed (no unbiased noise
exists when only ``v >= 0`` is allowed), and from 6 on the noise has mean 0 and variance 1.

The table used by the reports is the file :data:`DEFAULT_PTABLE_FILE` shipped in this folder
(:func:`default_table`); it is regenerated with
``save_table(perturbation_table(), <that file>)`` and a test checks that it equals the table
built from the defaults.

Examples
--------
>>> t = perturbation_table()
>>> t.attrs["D"], t.attrs["V"], t.attrs["threshold"], t.attrs["js"]
(3, 1.0, 5, 4)
>>> t[t["i"] == 2][["v", "p"]].round(3).to_numpy().tolist()
[[-2.0, 0.6], [3.0, 0.4]]
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import optimize

from evaluation.errors import ConvergenceError, ParameterError

__all__ = [
    "DEFAULT_MAX_DEVIATION",
    "DEFAULT_PTABLE_FILE",
    "DEFAULT_THRESHOLD",
    "DEFAULT_VARIANCE",
    "default_table",
    "load_table",
    "perturbation_table",
    "save_table",
    "table_summary",
    "validate_table",
]

#: Largest absolute deviation ``D`` (project default, confidence L).
DEFAULT_MAX_DEVIATION = 3
#: Variance ``V`` of the noise on counts large enough for it to be feasible (project default).
DEFAULT_VARIANCE = 1.0
#: Smallest positive count published; ``js = threshold - 1`` (project default, as "<5").
DEFAULT_THRESHOLD = 5
#: The shipped default table (YAML, so that it is package data under ``*/*.yaml``).
DEFAULT_PTABLE_FILE = "default_ptable.yaml"

COLUMNS = ["i", "v", "p", "p_lower", "p_upper"]
METHOD = ("maximum entropy per original count i subject to: sum p = 1; |v| <= D; i + v >= 0; "
          "i + v not in 1..js; 0 stays 0; E[v] = 0 where feasible, else the feasible mean "
          "nearest 0; Var[v] = the feasible value nearest V")
FORMAT_VERSION = 1
_TOL = 1e-10


def _check_parameters(D: object, V: object, threshold: object) -> tuple[int, float, int]:
    def whole(x: object) -> bool:
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    if not whole(D) or D < 1:
        raise ParameterError(f"D (largest deviation) must be a whole number of at least 1, "
                             f"got {D!r}.", parameter="D", value=D, minimum=1)
    if not whole(threshold) or threshold < 1:
        raise ParameterError(f"threshold must be a whole number of at least 1, got "
                             f"{threshold!r}.", parameter="threshold", value=threshold, minimum=1)
    if (isinstance(V, bool) or not isinstance(V, (int, float, np.integer, np.floating))
            or not np.isfinite(V) or not 0 < V <= D * D):
        raise ParameterError(f"V (variance) must be a number above 0 and at most D**2 = {D * D}, "
                             f"got {V!r}.", parameter="V", value=V)
    if threshold > 2 * D + 1:
        raise ParameterError(
            f"threshold {threshold} needs D of at least {threshold // 2}: with D = {D} "
            f"a count between D and threshold - D can reach neither 0 nor the threshold "
            f"(threshold <= 2 * D + 1).", parameter="D", value=D, minimum=threshold // 2)
    return int(D), float(V), int(threshold)


def _allowed(i: int, D: int, js: int) -> np.ndarray:
    """Deviations allowed for count ``i``: |v| <= D, i + v >= 0, i + v not in 1..js."""
    if i == 0:
        return np.array([0])
    v = np.arange(-min(D, i), D + 1)
    target = i + v
    return v[(target == 0) | (target > js)]


def _two_point(a: int, b: int) -> dict[int, float]:
    """The mean-zero distribution on ``a < 0 < b``."""
    return {a: b / (b - a), b: -a / (b - a)}


def _max_entropy(v: np.ndarray, V: float) -> np.ndarray:
    """Maximum entropy p on ``v`` (at least 3 points) with mean 0 and variance V (interior).

    The solution is p_k proportional to exp(l1 v_k + l2 v_k**2); the multipliers minimise the
    convex dual log sum_k exp(l1 v_k + l2 (v_k**2 - V)), whose gradient is the moment error
    and whose Hessian is the covariance of (v, v**2) under p.
    """
    t = np.column_stack([v, v.astype(float) ** 2 - V])

    def probs(lam: np.ndarray) -> np.ndarray:
        z = t @ lam
        w = np.exp(z - z.max())
        return w / w.sum()

    def fun(lam: np.ndarray) -> float:
        z = t @ lam
        return float(z.max() + np.log(np.exp(z - z.max()).sum()))

    def jac(lam: np.ndarray) -> np.ndarray:
        return probs(lam) @ t

    def hess(lam: np.ndarray) -> np.ndarray:
        p = probs(lam)
        m = p @ t
        return (t * p[:, None]).T @ t - np.outer(m, m)

    res = optimize.minimize(fun, np.zeros(2), jac=jac, hess=hess, method="trust-exact",
                            options={"gtol": 1e-8, "maxiter": 500})
    # polish: the dual's stationary point is a root of the moment error (Newton, hybr)
    res = optimize.root(jac, res.x, jac=hess, method="hybr", tol=1e-14)
    p = probs(res.x)
    if np.abs(p @ t).max() > 1e-9:
        raise ConvergenceError(f"The maximum entropy solve for deviations {v.tolist()} with "
                               f"variance {V} did not converge ({res.message}).")
    return p


def _row(i: int, D: int, V: float, js: int) -> dict[int, float]:
    """Distribution of the deviation for original count ``i`` as {v: p}."""
    v = _allowed(i, D, js)
    lo, hi = int(v.min()), int(v.max())
    if lo > 0 or hi < 0:               # no mean-zero distribution: the mean nearest 0
        return {lo if lo > 0 else hi: 1.0}
    if lo == hi == 0:
        return {0: 1.0}
    neg, pos = v[v < 0], v[v > 0]
    # Mean-zero distributions on v have variances from vmin to vmax (two-point vertices).
    vmin = 0.0 if 0 in v else float(-neg.max() * pos.min())
    vmax = float(-lo * hi)
    if V <= vmin + _TOL:
        return {0: 1.0} if 0 in v else _two_point(int(neg.max()), int(pos.min()))
    if V >= vmax - _TOL:
        return _two_point(lo, hi)
    return dict(zip(v.tolist(), _max_entropy(v, V).tolist()))


def _last_row(D: int, js: int) -> int:
    """The count from which every deviation -D..D is allowed, so the rows no longer change."""
    return D if js == 0 else js + D + 1


def _with_intervals(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.sort_values(["i", "v"]).reset_index(drop=True)
    upper = out.groupby("i")["p"].cumsum().to_numpy()
    last = out["i"].ne(out["i"].shift(-1)).to_numpy()
    upper[last] = 1.0
    lower = np.r_[0.0, upper[:-1]]
    lower[out["i"].ne(out["i"].shift(1)).to_numpy()] = 0.0
    out["p_lower"], out["p_upper"] = lower, upper
    return out[COLUMNS]


def perturbation_table(D: int = DEFAULT_MAX_DEVIATION, V: float = DEFAULT_VARIANCE,
                       threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Build the perturbation table of the cell-key method for counts.

    Parameters
    ----------
    D : int, default 3
        Largest absolute deviation added to a count. Project default (confidence L).
    V : float, default 1.0
        Variance of the deviation for counts where it is feasible (all counts from
        ``threshold + D`` on); at most ``D**2``. Project default (confidence L).
    threshold : int, default 5
        Smallest positive count published: ``js = threshold - 1`` and no count is perturbed to
        1..js. Project default, as the ``"<5"`` rule (confidence L).

    Returns
    -------
    pandas.DataFrame
        One row per original count ``i`` (0 to the last count whose distribution differs from
        the next) and deviation ``v`` with probability ``p > 0``, sorted by ``i, v``:

        - ``i`` (int): the original count; counts above the last ``i`` use its row;
        - ``v`` (int): the deviation, ``-D <= v <= D``; the published count is ``i + v``;
        - ``p`` (float): its probability; each ``i`` sums to 1;
        - ``p_lower``, ``p_upper`` (float): the cumulative interval ``[p_lower, p_upper)`` of
          [0, 1) whose cell keys give ``v`` (the last of each ``i`` ends at exactly 1).

        ``attrs`` holds the parameters: ``D, V, threshold, js, i_max, method, format``.

    Raises
    ------
    ParameterError
        If ``D`` or ``threshold`` is not a whole number of at least 1, ``V`` is not in
        ``(0, D**2]``, or ``threshold > 2 * D + 1`` (then a count between ``D`` and
        ``threshold - D`` could reach neither 0 nor the threshold: a higher threshold needs a
        larger ``D``).
    ConvergenceError
        If a maximum entropy solve fails (not seen for any valid parameters tried).

    Notes
    -----
    For each ``i`` the allowed deviations are ``v`` in ``-D..D`` with ``i + v >= 0`` and
    ``i + v`` not in ``1..js``; ``i = 0`` allows only ``v = 0`` (a cell without records has no
    cell key). Among the distributions on them, the row is the one of maximum entropy
    ``-sum p log p`` with mean 0 and variance ``V``, relaxed where that is infeasible:

    1. If every allowed ``v`` has the same sign, no unbiased distribution exists; the row is
       the point mass on the allowed ``v`` nearest 0 (the least bias). With the defaults this
       happens for ``i = 1`` (always published as 0, bias -1) and ``i = 4`` (always 5,
       bias +1).
    2. Otherwise the mean is 0, and mean-zero distributions reach variances from ``vmin`` (the
       two allowed deviations nearest 0 on either side, or 0 when ``v = 0`` is allowed) to
       ``vmax = -min(v) * max(v)`` (the extremes); both ends are attained only by a single
       distribution on at most two points, which is the row when ``V`` lies outside
       ``(vmin, vmax)``. With the defaults: ``i = 2`` and ``i = 3`` have variance 6
       (0 or 5 only), and ``i = 5`` is never perturbed (only ``v >= 0`` is allowed, so the
       mean-zero distribution is ``v = 0``).
    3. Inside ``(vmin, vmax)`` the maximum entropy solution is ``p_v`` proportional to
       ``exp(l1 v + l2 v**2)``; the multipliers minimise the convex dual
       ``log sum_v exp(l1 v + l2 (v**2 - V))`` with :func:`scipy.optimize.minimize`
       (``trust-exact`` with the analytic gradient and Hessian, gradient tolerance 1e-13); the
       moments are checked to 1e-9. From ``i = js + D + 1`` (or ``D`` when ``js = 0``) every
       ``v`` in ``-D..D`` is allowed and the row no longer changes: symmetric, variance ``V``.

    The constraints are those of ``ptable::create_cnt_ptable(D, V, js)`` (Destatis, Statistik
    Austria), with the maximum entropy approach of Giessing (2016); ``ptable`` treats the
    variance as an inequality constraint and has further options (``pstay``, ``mono``) not
    implemented here, so the rows with infeasible constraints may differ from its tables.

    Examples
    --------
    >>> t = perturbation_table(D=3, V=1.0, threshold=5)
    >>> s = table_summary(t).set_index("i")[["mean", "variance", "p_stay"]].round(3) + 0.0
    >>> print(s.to_string(index_names=False))
       mean  variance  p_stay
    0   0.0       0.0   1.000
    1  -1.0       0.0   0.000
    2   0.0       6.0   0.000
    3   0.0       6.0   0.000
    4   1.0       0.0   0.000
    5   0.0       0.0   1.000
    6   0.0       1.0   0.340
    7   0.0       1.0   0.391
    8   0.0       1.0   0.398
    """
    D, V, threshold = _check_parameters(D, V, threshold)
    js = threshold - 1
    last = _last_row(D, js)
    rows = [(i, v, p) for i in range(last + 1) for v, p in _row(i, D, V, js).items() if p > 0]
    table = _with_intervals(pd.DataFrame(rows, columns=["i", "v", "p"]).astype(
        {"i": "int64", "v": "int64", "p": "float64"}))
    table.attrs = {"D": D, "V": V, "threshold": threshold, "js": js, "i_max": last,
                   "method": METHOD, "format": FORMAT_VERSION}
    return table


def table_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The measured properties of each row of a perturbation table.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of :func:`perturbation_table` or :func:`load_table`.

    Returns
    -------
    pandas.DataFrame
        One row per ``i``: ``i``, ``p_sum`` (sum of p), ``mean`` (E[v], the bias), ``variance``
        (Var[v]), ``p_stay`` (P(v = 0)), ``max_deviation`` (largest |v| with p > 0) and
        ``min_published`` (smallest positive ``i + v`` with p > 0, NaN if none).

    Raises
    ------
    ParameterError
        If the table lacks a column of :func:`perturbation_table`.

    Examples
    --------
    >>> last = table_summary(perturbation_table()).iloc[-1]
    >>> bool(abs(last["mean"]) < 1e-12), float(round(last["variance"], 9))
    (True, 1.0)
    >>> int(last["max_deviation"]), int(last["min_published"])
    (3, 5)
    """
    _check_table(table)
    out = []
    for i, g in table.groupby("i"):
        v, p = g["v"].to_numpy(float), g["p"].to_numpy(float)
        mean = float(p @ v)
        published = (i + v)[(p > 0) & (i + v > 0)]
        out.append({"i": int(i), "p_sum": float(p.sum()), "mean": mean,
                    "variance": float(p @ (v - mean) ** 2), "p_stay": float(p[v == 0].sum()),
                    "max_deviation": int(np.abs(v[p > 0]).max()),
                    "min_published": float(published.min()) if published.size else np.nan})
    return pd.DataFrame(out)


def _check_table(table: object) -> None:
    if not isinstance(table, pd.DataFrame) or any(c not in table.columns for c in COLUMNS):
        got = list(table.columns) if isinstance(table, pd.DataFrame) else type(table).__name__
        raise ParameterError(f"A perturbation table needs the columns {', '.join(COLUMNS)}; got "
                             f"{got}. Build one with perturbation_table() or load_table().",
                             parameter="table")


def validate_table(table: pd.DataFrame) -> None:
    """Raise :class:`ParameterError` unless ``table`` is a consistent perturbation table.

    Checks the columns, that the rows are sorted by ``i, v`` and cover every ``i`` from 0 to
    the largest, that each ``i``'s probabilities are non-negative and sum to 1 and its
    intervals ``[p_lower, p_upper)`` tile [0, 1) in order of ``v``, and that 0 stays 0.

    Parameters
    ----------
    table : pandas.DataFrame
        A perturbation table (:func:`perturbation_table`, :func:`load_table`).

    Raises
    ------
    ParameterError
        Naming the first inconsistency found.

    Examples
    --------
    >>> validate_table(perturbation_table())
    """
    _check_table(table)
    i, v = table["i"].to_numpy(), table["v"].to_numpy()
    p, lo, up = (table[c].to_numpy(float) for c in ("p", "p_lower", "p_upper"))
    if len(table) == 0 or i[0] != 0 or np.any(np.diff(i) < 0) or np.any(np.diff(i) > 1):
        raise ParameterError("A perturbation table needs rows for every count 0..i_max, "
                             "sorted by i and v.", parameter="table")
    starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
    ends = np.r_[starts[1:], len(i)] - 1
    inner = np.ones(len(i), dtype=bool)
    inner[starts] = False
    bad = (np.abs(np.add.reduceat(p, starts) - 1) > 1e-9) | (lo[starts] != 0) | (up[ends] != 1)
    bad |= np.logical_or.reduceat((p < 0) | (np.abs(up - lo - p) > 1e-9)
                                  | (inner & (np.r_[np.nan, up[:-1]] != lo))
                                  | (inner & (np.r_[0, np.diff(v)] <= 0)), starts)
    if bad.any():
        raise ParameterError(f"Row i = {i[starts][bad][0]} of the perturbation table is "
                             "inconsistent: its p must sum to 1 and [p_lower, p_upper) tile "
                             "[0, 1) by increasing v.", parameter="table")
    if ends[0] != 0 or v[0] != 0:
        raise ParameterError("In a perturbation table 0 must stay 0 (row i = 0 is v = 0 only).",
                             parameter="table")


def save_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a perturbation table with its parameters to ``.yaml`` or ``.csv``.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of :func:`perturbation_table`.
    path : str or pathlib.Path
        Ends in ``.yaml``/``.yml`` (a mapping ``parameters`` and a list ``rows``) or ``.csv``
        (the parameters as ``# key: value`` lines, then the columns ``i, v, p, p_lower,
        p_upper``). Probabilities are written in full precision (they read back exactly).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ParameterError
        If the table is inconsistent or has no parameters in ``attrs``, or the suffix is
        neither.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = load_table(save_table(perturbation_table(), Path(d) / "pt.csv"))
    >>> back.attrs["V"], len(back) == len(perturbation_table())
    (1.0, True)
    """
    validate_table(table)
    path = Path(path)
    params = {k: table.attrs.get(k) for k in ("D", "V", "threshold", "js", "i_max", "method",
                                              "format")}
    if any(params[k] is None for k in ("D", "V", "threshold")):
        raise ParameterError("The table has no parameters in table.attrs; build it with "
                             "perturbation_table().", parameter="table")
    rows = table[COLUMNS]
    if path.suffix in (".yaml", ".yml"):
        body = {"parameters": params,
                "rows": [{"i": int(r.i), "v": int(r.v), "p": float(r.p),
                          "p_lower": float(r.p_lower), "p_upper": float(r.p_upper)}
                         for r in rows.itertuples()]}
        path.write_text("# Perturbation table of the cell-key method, written by "
                        "evaluation.disclosure.save_table;\n# do not edit: regenerate with "
                        "save_table(perturbation_table(D, V, threshold), path).\n"
                        + yaml.safe_dump(body, sort_keys=False), "utf-8")
    elif path.suffix == ".csv":
        header = "".join(f"# {k}: {json.dumps(v)}\n" for k, v in params.items())
        path.write_text(header + rows.to_csv(index=False, float_format="%.17g"), "utf-8")
    else:
        raise ParameterError(f"save_table writes .yaml or .csv, not {path.suffix!r}.",
                             parameter="path", value=str(path))
    return path


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a perturbation table written by :func:`save_table` and check it.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.yaml``/``.yml`` or ``.csv`` file of :func:`save_table`.

    Returns
    -------
    pandas.DataFrame
        As :func:`perturbation_table`, with the parameters in ``attrs``.

    Raises
    ------
    ParameterError
        If the file is missing, of another suffix, or not a consistent table.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"No perturbation table at {path}.", parameter="path",
                             value=str(path))
    text = path.read_text("utf-8")
    if path.suffix in (".yaml", ".yml"):
        body = yaml.safe_load(text)
        params, table = body["parameters"], pd.DataFrame(body["rows"])
    elif path.suffix == ".csv":
        head = [ln[2:] for ln in text.splitlines() if ln.startswith("# ")]
        params = yaml.safe_load("\n".join(head))
        table = pd.read_csv(path, comment="#", float_precision="round_trip")
    else:
        raise ParameterError(f"load_table reads .yaml or .csv, not {path.suffix!r}.",
                             parameter="path", value=str(path))
    _check_table(table)
    table = table[COLUMNS].astype({"i": "int64", "v": "int64", "p": "float64",
                                   "p_lower": "float64", "p_upper": "float64"})
    validate_table(table)
    table.attrs = dict(params)
    return table


@functools.lru_cache(maxsize=1)
def _default() -> pd.DataFrame:
    with resources.as_file(resources.files(__package__) / DEFAULT_PTABLE_FILE) as path:
        return load_table(path)


def default_table() -> pd.DataFrame:
    """The shipped perturbation table (:data:`DEFAULT_PTABLE_FILE`, the default parameters).

    Returns
    -------
    pandas.DataFrame
        As :func:`perturbation_table` with ``D = 3, V = 1.0, threshold = 5`` (a copy).

    Examples
    --------
    >>> default_table().attrs["threshold"]
    5
    """
    table = _default()
    out = table.copy()
    out.attrs = dict(table.attrs)
    return out
