"""Tests of :mod:`evaluation.disclosure`: small counts, secondary suppression and rates.

The central property: on tables WITH totals no suppressed cell can be recomputed from the
visible cells and the totals. Three independent checkers test it: a line-wise one (every
suppressed cell shares each additive line with another suppressed cell), a linear-algebra
one (no suppressed cell is determined by the system of line equations) and, on one small
table, an exhaustive enumeration of every table the reader could reconstruct.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from evaluation.disclosure import ProtectedTable, protect_counts, protect_rates
from evaluation.errors import ParameterError

TOT = "Totalt"


def with_totals(
    interior: np.ndarray, row_total: bool = True, col_total: bool = True
) -> pd.DataFrame:
    """Build a count table with a total row and/or column from interior counts."""
    interior = np.asarray(interior, dtype=int)
    df = pd.DataFrame(
        interior,
        index=[f"r{i}" for i in range(interior.shape[0])],
        columns=[f"c{j}" for j in range(interior.shape[1])],
    )
    if col_total:
        df[TOT] = df.sum(axis=1)
    if row_total:
        df.loc[TOT] = df.sum(axis=0)
    return df


def assert_no_line_reveals_a_cell(prot: ProtectedTable, rows_add: bool, cols_add: bool) -> None:
    """Brute-force line check: every suppressed cell shares each additive line with another.

    A line (a full row or column of the table, its total included when the total is in the
    table) is additive when its cells sum to a total the reader knows or sees. If a suppressed
    cell were the only suppressed cell of such a line, total minus the visible cells gives it.
    """
    s = prot.suppressed.to_numpy()
    for i, j in zip(*np.nonzero(s)):
        if rows_add and s.shape[1] > 1:
            assert s[i, :].sum() >= 2, f"cell ({i}, {j}) recomputable from its row"
        if cols_add and s.shape[0] > 1:
            assert s[:, j].sum() >= 2, f"cell ({i}, {j}) recomputable from its column"


def determined_cells(counts: np.ndarray, supp: np.ndarray) -> list[tuple[int, int]]:
    """Suppressed cells fixed by the linear equations of a table with total row and column.

    Equations: each full row sums interior cells to its last cell, each full column likewise.
    A suppressed cell is determined iff its unit vector lies in the row space of the
    equations restricted to the unknowns.
    """
    n_r, n_c = counts.shape
    unknown = [tuple(c) for c in np.argwhere(supp)]
    pos = {c: k for k, c in enumerate(unknown)}
    eqs = []
    for i in range(n_r):
        eq = np.zeros(len(unknown))
        for j in range(n_c):
            if (i, j) in pos:
                eq[pos[(i, j)]] += -1.0 if j == n_c - 1 else 1.0
        eqs.append(eq)
    for j in range(n_c):
        eq = np.zeros(len(unknown))
        for i in range(n_r):
            if (i, j) in pos:
                eq[pos[(i, j)]] += -1.0 if i == n_r - 1 else 1.0
        eqs.append(eq)
    a = np.array(eqs)
    rank = np.linalg.matrix_rank(a) if len(unknown) else 0
    out = []
    for c, k in pos.items():
        e = np.zeros((1, len(unknown)))
        e[0, k] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.append(c)
    return out


def random_tables(n: int, seed: int = 20241125):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        small = rng.integers(0, 5, size=shape)
        large = rng.integers(5, 40, size=shape)
        yield np.where(rng.random(shape) < 0.35, small, large)


# --- primary suppression -----------------------------------------------------------------


def test_counts_one_to_four_are_suppressed_and_zero_is_shown():
    t = pd.DataFrame({"n": [0, 1, 4, 5, 12]}, index=list("abcde"))
    p = protect_counts(t, totals_public=False)
    assert p.suppressed["n"].tolist() == [False, True, True, False, False]
    assert p.to_display()["n"].tolist() == ["0", "<5", "<5", "5", "12"]
    assert p.values["n"].isna().tolist() == [False, True, True, False, False]
    assert (p.values.dtypes == float).all()


@pytest.mark.parametrize(
    "threshold, expected",
    [
        (3, [False, True, True, False, False, False]),
        (5, [False, True, True, True, True, False]),
        (6, [False, True, True, True, True, True]),
        (1, [False] * 6),
    ],
)
def test_threshold_is_configurable(threshold, expected):
    t = pd.DataFrame({"n": [0, 1, 2, 3, 4, 5]})
    p = protect_counts(t, threshold=threshold, totals_public=False)
    assert p.suppressed["n"].tolist() == expected
    assert p.threshold == threshold
    shown = p.to_display()["n"]
    assert all(v == f"<{threshold}" for v in shown[p.primary["n"]])


# --- 1-D tables --------------------------------------------------------------------------


def test_one_dimensional_table_with_total_row_hides_a_second_cell():
    t = pd.DataFrame({"n": [3, 10, 20, 33]}, index=["a", "b", "c", TOT])
    p = protect_counts(t, total_row=TOT)
    assert p.to_display()["n"].tolist() == ["<5", "..", "20", "33"]
    assert_no_line_reveals_a_cell(p, rows_add=False, cols_add=True)


def test_one_dimensional_table_with_a_small_total_suppresses_the_total():
    t = pd.DataFrame({"n": [2, 1, 0, 3]}, index=["a", "b", "c", TOT])
    p = protect_counts(t, total_row=TOT)
    assert p.to_display()["n"].tolist() == ["<5", "<5", "0", "<5"]
    assert_no_line_reveals_a_cell(p, rows_add=False, cols_add=True)


def test_without_a_total_row_totals_are_assumed_public_unless_told_otherwise():
    t = pd.DataFrame({"n": [3, 10, 20]}, index=list("abc"))
    assert protect_counts(t).to_display()["n"].tolist() == ["<5", "..", "20"]
    assert protect_counts(t, totals_public=False).to_display()["n"].tolist() == ["<5", "10", "20"]


def test_one_dimensional_table_with_only_zeros_beside_the_small_cell_hides_a_zero():
    t = pd.DataFrame({"n": [3, 0, 0, 30, 33]}, index=["a", "b", "c", "d", TOT])
    p = protect_counts(t, total_row=TOT)
    assert p.suppressed["n"].tolist() == [True, False, False, True, False]
    assert_no_line_reveals_a_cell(p, rows_add=False, cols_add=True)


def test_single_suppressed_cell_with_only_zeros_left_hides_a_zero_cell():
    t = pd.DataFrame({"n": [3, 0, 3]}, index=["a", "b", TOT])
    p = protect_counts(t, total_row=TOT)
    assert p.suppressed["n"].tolist() == [True, False, True]  # the total is small itself
    t = pd.DataFrame({"a": [3, 0], "b": [0, 0]}, index=["x", "y"])
    p = protect_counts(t)
    assert_no_line_reveals_a_cell(p, rows_add=True, cols_add=True)


# --- 2-D tables with totals --------------------------------------------------------------


def test_two_dimensional_table_with_totals_hand_example():
    interior = np.array([[3, 20], [10, 8], [12, 1]])
    t = with_totals(interior)
    p = protect_counts(t, total_row=TOT, total_col=TOT)
    shown = p.to_display()
    assert shown.loc["r0", "c0"] == "<5" and shown.loc["r2", "c1"] == "<5"
    assert shown.loc[TOT, TOT] == str(interior.sum())
    assert p.values.shape == t.shape
    assert_no_line_reveals_a_cell(p, rows_add=True, cols_add=True)
    assert determined_cells(t.to_numpy(), p.suppressed.to_numpy()) == []


def test_no_suppressed_cell_of_random_tables_with_totals_can_be_recomputed():
    checked = 0
    for interior in random_tables(300):
        t = with_totals(interior)
        p = protect_counts(t, total_row=TOT, total_col=TOT)
        counts = t.to_numpy()
        supp = p.suppressed.to_numpy()
        assert (supp | ~p.primary.to_numpy()).all()
        assert p.primary.to_numpy().sum() == ((counts >= 1) & (counts <= 4)).sum()
        assert_no_line_reveals_a_cell(p, rows_add=True, cols_add=True)
        assert determined_cells(counts, supp) == [], f"\n{t}\n{p.to_display()}"
        visible = ~supp
        np.testing.assert_array_equal(p.values.to_numpy()[visible], counts[visible])
        checked += supp.any()
    assert checked > 200  # the property was exercised, not vacuous


def test_a_cell_recomputable_only_by_combining_several_lines_is_protected():
    # Found by the random test: with the line-wise rule alone, c3 of r1 followed from
    # column c0 + column c2 - row r2 (then r0/c3 from column c3).
    interior = np.array(
        [[0, 17, 0, 2, 31], [27, 37, 2, 24, 31], [4, 29, 23, 38, 31], [0, 23, 34, 21, 20]]
    )
    t = with_totals(interior)
    p = protect_counts(t, total_row=TOT, total_col=TOT)
    assert determined_cells(t.to_numpy(), p.suppressed.to_numpy()) == []
    assert_no_line_reveals_a_cell(p, rows_add=True, cols_add=True)


def test_big_tables_are_protected_quickly():
    rng = np.random.default_rng(1)
    interior = np.where(
        rng.random((40, 12)) < 0.2, rng.integers(0, 5, (40, 12)), rng.integers(5, 60, (40, 12))
    )
    t = with_totals(interior)
    p = protect_counts(t, total_row=TOT, total_col=TOT)
    assert determined_cells(t.to_numpy(), p.suppressed.to_numpy()) == []
    assert_no_line_reveals_a_cell(p, rows_add=True, cols_add=True)


@pytest.mark.parametrize("row_total, col_total", [(True, False), (False, True)])
def test_tables_with_one_total_are_protected_along_both_directions(row_total, col_total):
    for interior in random_tables(100, seed=5):
        t = with_totals(interior, row_total=row_total, col_total=col_total)
        p = protect_counts(
            t, total_row=TOT if row_total else None, total_col=TOT if col_total else None
        )
        assert_no_line_reveals_a_cell(p, rows_add=True, cols_add=True)


def test_with_only_a_total_row_and_no_public_row_totals_only_columns_are_lines():
    for interior in random_tables(100, seed=9):
        t = with_totals(interior, row_total=True, col_total=False)
        p = protect_counts(t, total_row=TOT, totals_public=False)
        assert_no_line_reveals_a_cell(p, rows_add=False, cols_add=True)


def test_exhaustive_reconstruction_of_a_small_table_leaves_every_hidden_cell_ambiguous():
    interior = np.array([[2, 6, 7], [5, 1, 9], [8, 6, 5]])
    t = with_totals(interior)
    p = protect_counts(t, total_row=TOT, total_col=TOT)
    counts, supp = t.to_numpy(), p.suppressed.to_numpy()
    primary = p.primary.to_numpy()
    cells = [tuple(c) for c in np.argwhere(supp)]
    assert 2 <= len(cells) <= 6
    # A reader knows: visible cells, primary cells are 1..4, '..' cells are >= 0 (bounded by
    # the grand total), and every full row and column adds up. Capping '..' cells at 15 only
    # shrinks the reader's options, so finding two values per cell is still a proof.
    grand = int(counts[-1, -1])
    domains = [range(1, 5) if primary[c] else range(min(grand, 15) + 1) for c in cells]
    possible: dict[tuple[int, int], set[int]] = {c: set() for c in cells}
    for combo in itertools.product(*domains):
        guess = counts.copy()
        for c, v in zip(cells, combo):
            guess[c] = v
        if (guess[:-1, :].sum(axis=0) == guess[-1, :]).all() and (
            guess[:, :-1].sum(axis=1) == guess[:, -1]
        ).all():
            for c, v in zip(cells, combo):
                possible[c].add(v)
    for c in cells:
        assert int(counts[c]) in possible[c]
        assert len(possible[c]) >= 2, f"cell {c} is recomputable"


# --- display -----------------------------------------------------------------------------


def test_display_keeps_label_columns_and_shows_whole_numbers():
    t = pd.DataFrame({"kommun": ["A", "B", "C"], "n": [12.0, 3.0, 40.0], "m": [7, 9, 11]})
    p = protect_counts(t, totals_public=False)
    shown = p.to_display("en")
    assert list(shown.columns) == ["kommun", "n", "m"]
    assert shown["n"].tolist() == ["12", "<5", "40"]
    assert shown["m"].tolist() == ["7", "9", "11"]
    assert all(isinstance(v, str) for v in shown[["n", "m"]].to_numpy().ravel())


def test_display_marks_secondary_suppression_with_two_dots():
    t = pd.DataFrame({"n": [3, 10, 20, 33]}, index=["a", "b", "c", TOT])
    p = protect_counts(t, total_row=TOT)
    assert p.secondary["n"].tolist() == [False, True, False, False]
    assert p.to_display()["n"].tolist()[1] == ".."


def test_explicit_count_columns_leave_other_numeric_columns_as_labels():
    t = pd.DataFrame({"year": [2020, 2021], "n": [3, 50]})
    p = protect_counts(t, ["n"], totals_public=False)
    assert list(p.values.columns) == ["n"]
    assert p.to_display()["year"].tolist() == [2020, 2021]


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, kwargs, match",
    [
        (pd.DataFrame({"n": [1, -2]}), {}, "non-negative whole counts"),
        (pd.DataFrame({"n": [1.5, 2]}), {}, "non-negative whole counts"),
        (pd.DataFrame({"n": [1, np.nan]}), {}, "missing"),
        (pd.DataFrame({"n": [1, 2]}), {"threshold": 0}, "threshold must be"),
        (pd.DataFrame({"n": [1, 2]}), {"threshold": 2.5}, "threshold must be"),
        (pd.DataFrame({"n": [1, 2]}), {"total_row": "Totalt"}, "total_row 'Totalt' is not"),
        (pd.DataFrame({"n": [1, 2]}), {"count_cols": ["m"]}, r"\['m'\] are not in the table"),
        (pd.DataFrame({"label": ["a", "b"]}), {}, "none found"),
        (pd.DataFrame({"n": [1, 2]}, index=["a", "a"]), {}, "index must be unique"),
    ],
)
def test_bad_tables_and_parameters_are_refused(table, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        protect_counts(table, **kwargs)


def test_a_series_is_refused_with_a_hint():
    with pytest.raises(ParameterError, match="to_frame"):
        protect_counts(pd.Series([1, 2]))


def test_unknown_display_language_is_refused():
    with pytest.raises(ParameterError, match="Unknown language"):
        protect_counts(pd.DataFrame({"n": [10]})).to_display("de")


# --- rates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num, den, expected",
    [
        (0, 20, 0.0),  # zero numerator is shown
        (10, 20, 0.5),
        (20, 20, 1.0),  # complement 0 is shown
        (5, 10, 0.5),  # denominator exactly at the minimum
        (5, 9, np.nan),  # denominator below 10
        (0, 0, np.nan),
        (3, 20, np.nan),  # small numerator
        (17, 20, np.nan),  # small complement (3 did not)
        (16, 20, np.nan),  # complement 4 is small
        (15, 20, 0.75),  # complement 5 is shown
    ],
)
def test_rates_are_hidden_on_small_denominators_numerators_and_complements(num, den, expected):
    out = protect_rates(pd.Series([num]), pd.Series([den]))
    np.testing.assert_allclose(out.to_numpy(), [expected])
    assert out.name == "rate"


def test_rate_thresholds_are_configurable():
    num, den = pd.Series([3, 16, 5], index=list("abc")), pd.Series([20, 20, 8], index=list("abc"))
    default = protect_rates(num, den)
    assert default.isna().tolist() == [True, True, True]
    loose = protect_rates(num, den, min_denominator=5, threshold=3)
    np.testing.assert_allclose(loose.to_numpy(), [0.15, 0.8, 0.625])
    assert list(loose.index) == list("abc")


@pytest.mark.parametrize(
    "num, den, match",
    [
        (pd.Series([1, 2]), pd.Series([3, 4], index=[5, 6]), "same index"),
        (pd.Series([5]), pd.Series([4]), "exceeds its denominator"),
        (pd.Series([-1]), pd.Series([4]), "non-negative"),
        (pd.Series([np.nan]), pd.Series([4]), "non-negative"),
        (3, pd.Series([4]), "scalar"),
    ],
)
def test_bad_rate_inputs_are_refused(num, den, match):
    with pytest.raises(ParameterError, match=match):
        protect_rates(num, den)
