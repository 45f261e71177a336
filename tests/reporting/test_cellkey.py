"""Tests of the cell-key perturbation kernel: the perturbation table and the keys.

The table's stated properties are checked row by row on several parameter sets, with the
allowed deviations computed here independently of the module; the maximum entropy claim is
checked by its optimality condition (log p is a quadratic in v on the support). The keys are
checked for determinism and invariance, the noise for unbiasedness over many random cells and
for what differencing two cells that differ by one child gives back.
"""

from __future__ import annotations

import importlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import disclosure
from evaluation.disclosure import (
    DEFAULT_PTABLE_FILE,
    cell_key,
    default_table,
    load_table,
    perturb_counts,
    perturbation_table,
    perturbed_count,
    record_keys,
    save_table,
    table_summary,
    validate_table,
)
from evaluation.errors import ParameterError

#: (D, V, threshold): the defaults, smaller and larger noise, a higher threshold, no threshold.
PARAMETERS = [(3, 1.0, 5), (2, 1.0, 5), (4, 2.0, 5), (5, 2.0, 10), (3, 1.0, 1), (5, 4.0, 3),
              (3, 0.5, 7)]


def allowed(i: int, D: int, js: int) -> list[int]:
    """Deviations the constraints allow for count i (computed here, not by the module)."""
    if i == 0:
        return [0]
    return [v for v in range(-D, D + 1) if i + v >= 0 and not 1 <= i + v <= js]


def ids_of(rng: np.random.Generator, n: int) -> list[str]:
    """n random pseudonyms shaped like HMAC-SHA256 hex strings (synthetic)."""
    return [rng.bytes(32).hex() for _ in range(n)]


@pytest.fixture(scope="module", params=PARAMETERS, ids=lambda p: "D{}-V{}-t{}".format(*p))
def table(request) -> pd.DataFrame:
    return perturbation_table(*request.param)


# --- the perturbation table ------------------------------------------------------------------

def test_every_row_sums_to_one_and_its_intervals_tile_the_unit_interval(table):
    for _, g in table.groupby("i"):
        assert g["p"].sum() == pytest.approx(1, abs=1e-12)
        assert g["p_lower"].iloc[0] == 0 and g["p_upper"].iloc[-1] == 1
        np.testing.assert_array_equal(g["p_lower"].to_numpy()[1:], g["p_upper"].to_numpy()[:-1])
        np.testing.assert_allclose(g["p_upper"] - g["p_lower"], g["p"], atol=1e-12)
    validate_table(table)


def test_no_deviation_exceeds_d_and_no_count_becomes_small_or_negative(table):
    D, js = table.attrs["D"], table.attrs["js"]
    assert (table["p"] > 0).all()
    assert table["v"].abs().max() <= D
    published = table["i"] + table["v"]
    assert (published >= 0).all()
    assert not published.between(1, js).any()


def test_zero_stays_zero(table):
    zero = table[table["i"] == 0]
    assert zero[["v", "p"]].values.tolist() == [[0, 1.0]]


def test_the_mean_is_zero_where_feasible_and_otherwise_the_least_bias(table):
    D, js = table.attrs["D"], table.attrs["js"]
    summary = table_summary(table).set_index("i")
    for i, row in summary.iterrows():
        a = allowed(i, D, js)
        if min(a) <= 0 <= max(a):
            assert abs(row["mean"]) < 1e-9, f"i = {i}"
        else:    # every allowed deviation has one sign: the one nearest 0, always
            nearest = min(a, key=abs)
            assert row["mean"] == nearest and row["variance"] == 0, f"i = {i}"


def test_the_rows_stop_changing_where_every_deviation_is_allowed_with_variance_v(table):
    D, V, js = table.attrs["D"], table.attrs["V"], table.attrs["js"]
    last = table.attrs["i_max"]
    assert last == table["i"].max() == (D if js == 0 else js + D + 1)
    assert allowed(last, D, js) == list(range(-D, D + 1))
    assert allowed(last - 1, D, js) != list(range(-D, D + 1))
    summary = table_summary(table).set_index("i")
    assert summary.loc[last, "variance"] == pytest.approx(V, abs=1e-6)
    row = table[table["i"] == last]
    np.testing.assert_allclose(row["p"].to_numpy(), row["p"].to_numpy()[::-1], atol=1e-9)


def test_rows_with_three_or_more_deviations_have_the_maximum_entropy_form(table):
    """Optimality (KKT) of maximum entropy under the two moments: log p = a + b v + c v**2."""
    for i, g in table.groupby("i"):
        if len(g) < 3:
            continue
        v = g["v"].to_numpy(float)
        design = np.column_stack([np.ones_like(v), v, v**2])
        coef, *_ = np.linalg.lstsq(design, np.log(g["p"].to_numpy()), rcond=None)
        np.testing.assert_allclose(design @ coef, np.log(g["p"]), atol=1e-7, err_msg=f"i = {i}")


def test_the_default_table_is_the_one_stated_in_the_documentation():
    """D = 3, V = 1, threshold 5: 1 -> 0 and 4 -> 5 always, 5 is never perturbed."""
    summary = table_summary(perturbation_table()).set_index("i")
    assert summary["mean"].round(9).tolist() == [0, -1, 0, 0, 1, 0, 0, 0, 0]
    assert summary["variance"].round(6).tolist() == [0, 0, 6, 6, 0, 0, 1, 1, 1]
    assert summary["p_stay"].tolist()[:6] == [1, 0, 0, 0, 0, 1]
    t = perturbation_table()
    assert (t[t["i"] == 2][["v", "p"]].round(12).values.tolist() == [[-2, 0.6], [3, 0.4]])


def test_the_shipped_table_equals_the_table_built_from_the_defaults():
    shipped = Path(disclosure.ptable.__file__).parent / DEFAULT_PTABLE_FILE
    assert shipped.is_file()
    built = perturbation_table()
    pd.testing.assert_frame_equal(default_table(), built, check_exact=True)
    assert default_table().attrs == built.attrs


@pytest.mark.parametrize("suffix", [".yaml", ".csv"])
def test_a_saved_table_reads_back_exactly_with_its_parameters(tmp_path, suffix):
    t = perturbation_table(4, 2.0, 5)
    back = load_table(save_table(t, tmp_path / f"pt{suffix}"))
    pd.testing.assert_frame_equal(back, t, check_exact=True)
    assert back.attrs == t.attrs


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"D": 0}, "D .largest deviation. must be a whole number"),
    ({"D": True}, "D .largest deviation. must be a whole number"),
    ({"V": 0}, "V .variance. must be a number above 0"),
    ({"D": 2, "V": 5}, "at most D\\*\\*2 = 4"),
    ({"threshold": 0}, "threshold must be a whole number"),
    ({"D": 3, "threshold": 8}, "threshold 8 needs D of at least 4"),
])
def test_invalid_parameters_are_refused_with_the_reason(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        perturbation_table(**kwargs)


def test_an_inconsistent_or_unknown_table_file_is_refused(tmp_path):
    t = perturbation_table()
    bad = t.copy()
    bad.loc[bad.index[-1], "p"] += 0.01
    with pytest.raises(ParameterError, match="Row i = 8 of the perturbation table"):
        validate_table(bad)
    with pytest.raises(ParameterError, match="needs the columns i, v, p, p_lower, p_upper"):
        validate_table(t.drop(columns="p_upper"))
    with pytest.raises(ParameterError, match="writes .yaml or .csv"):
        save_table(t, tmp_path / "pt.txt")
    with pytest.raises(ParameterError, match="No perturbation table at"):
        load_table(tmp_path / "missing.yaml")


# --- record keys and cell keys ----------------------------------------------------------------

def test_record_keys_are_deterministic_52_bit_numbers_in_the_unit_interval(rng):
    ids = ids_of(rng, 500)
    k = record_keys(ids)
    np.testing.assert_array_equal(k, record_keys(list(ids)))
    assert ((k >= 0) & (k < 1)).all()
    assert (k * 2**52 == np.floor(k * 2**52)).all()
    assert len(np.unique(k)) == 500


def test_the_record_key_derivation_does_not_change_silently():
    """A change would change every published number: pin two keys."""
    assert record_keys(["00" * 32, "ff" * 32]).tolist() == [0.9402377794476071,
                                                          0.9607799112699837]


@pytest.mark.parametrize("bad", [[None], [123], [""]])
def test_record_keys_refuse_ids_that_are_not_pseudonym_strings(bad):
    with pytest.raises(ParameterError, match="Every id must be a non-empty pseudonym string"):
        record_keys(bad)


def test_record_keys_refuse_a_single_string():
    with pytest.raises(ParameterError, match="not one string"):
        record_keys("ab" * 32)


@pytest.mark.parametrize("n", [1, 2, 7, 50, 400])
def test_the_cell_key_is_the_exact_fraction_of_the_sum_of_distinct_record_keys(rng, n):
    keys = record_keys(ids_of(rng, n))
    exact = sum(Fraction(float(k)) for k in keys) % 1
    assert Fraction(cell_key(keys)) == exact
    assert 0 <= cell_key(keys) < 1


@pytest.mark.parametrize("n", [2, 9, 120])
def test_the_cell_key_ignores_the_order_of_records_and_repeated_children(rng, n):
    keys = record_keys(ids_of(rng, n))
    shuffled = rng.permutation(np.r_[keys, keys[: n // 2], keys[:1]])
    assert cell_key(shuffled) == cell_key(keys)
    assert cell_key(pd.Series(keys)) == cell_key(keys.tolist())


def test_a_cell_without_records_has_no_cell_key_and_bad_keys_are_refused():
    assert np.isnan(cell_key([]))
    with pytest.raises(ParameterError, match="Record keys must lie in"):
        cell_key([0.2, 1.0])
    with pytest.raises(ParameterError, match="Record keys must lie in"):
        cell_key([np.nan])


# --- perturbing counts ------------------------------------------------------------------------

def test_perturb_counts_picks_the_deviation_whose_interval_holds_the_cell_key(rng, table):
    counts = rng.integers(0, 40, 3000)
    keys = rng.random(3000)
    out = perturb_counts(counts, keys, table)
    last = table["i"].max()
    for c, k, o in zip(counts[:400], keys[:400], out[:400]):
        rows = table[table["i"] == min(c, last)]
        hit = rows[(rows["p_lower"] <= k) & (k < rows["p_upper"])]
        assert len(hit) == 1 and o == c + hit["v"].iloc[0]
    js = table.attrs["js"]
    assert not ((out >= 1) & (out <= js)).any() and (out >= 0).all()
    assert (out[counts == 0] == 0).all()


def test_perturb_counts_keeps_a_series_index_and_lets_zero_cells_have_no_key():
    counts = pd.Series([0, 12, 30], index=["a", "b", "c"], name="n")
    out = perturb_counts(counts, [np.nan, 0.5, 0.999])
    assert out.index.tolist() == ["a", "b", "c"] and out.name == "n"
    assert out.tolist() == [0, 12, 33]


@pytest.mark.parametrize(("counts", "keys", "match"), [
    ([-1], [0.5], "non-negative whole numbers"),
    ([1.5], [0.5], "non-negative whole numbers"),
    ([3], [np.nan], "Every positive count needs a cell key"),
    ([3], [1.0], "Every positive count needs a cell key"),
    ([3, 4], [0.5], "differ in length"),
])
def test_perturb_counts_refuses_bad_counts_and_keys(counts, keys, match):
    with pytest.raises(ParameterError, match=match):
        perturb_counts(counts, keys)


def test_perturbed_count_is_perturb_counts_on_the_distinct_children(rng):
    for n in [0, 1, 3, 4, 6, 25]:
        ids = ids_of(rng, n)
        keys = record_keys(ids)
        expected = perturb_counts([n], [cell_key(keys) if n else np.nan])[0]
        assert perturbed_count(ids + ids[:2]) == expected


def test_the_same_children_get_the_same_count_in_different_tables_and_views(rng):
    """A municipality whose children are all girls: its cell in the table by municipality and
    its cell in the table by municipality and sex hold the same children; so do a period view
    and a view of episodes in which children recur."""
    children = pd.DataFrame({"child_id": ids_of(rng, 400),
                             "municipality": rng.choice(list("ABCDE"), 400),
                             "sex": rng.choice(["F", "M"], 400)})
    children.loc[children["municipality"] == "E", "sex"] = "F"
    episodes = children.loc[rng.choice(400, 900)].sample(frac=1, random_state=3)

    def protected(frame: pd.DataFrame, by: list[str]) -> pd.Series:
        return frame.groupby(by)["child_id"].agg(perturbed_count)

    by_unit = protected(children, ["municipality"])
    by_unit_sex = protected(children, ["municipality", "sex"])
    from_episodes = protected(episodes, ["municipality"])
    assert by_unit["E"] == by_unit_sex[("E", "F")]
    true_unit = episodes.groupby("municipality")["child_id"].nunique()
    same = children.groupby("municipality")["child_id"].nunique().reindex(true_unit.index)
    for unit in true_unit.index[true_unit == same]:
        assert from_episodes[unit] == by_unit[unit]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 15, 40])
def test_the_mean_perturbed_count_is_the_true_count_plus_the_stated_bias(rng, n):
    cells = 3000
    keys = record_keys(ids_of(rng, n * cells)).reshape(cells, n)
    out = perturb_counts(np.full(cells, n), [cell_key(k) for k in keys])
    row = table_summary(default_table()).set_index("i").loc[min(n, 8)]
    bias = {1: -1, 4: 1}.get(n, 0)           # stated: only 1 and 4 are biased (D = 3)
    assert row["mean"] == pytest.approx(bias, abs=1e-9)
    se = np.sqrt(row["variance"] / cells)
    assert abs(out.mean() - (n + bias)) <= 4 * se + 1e-12


def test_differencing_two_cells_that_differ_by_one_child_rarely_gives_the_child_back(rng):
    """Share of pairs (A, A + one child) whose published difference is exactly 1.

    For counts from i_max on, the two deviations are independent draws of the last row, so the
    share is sum(p**2) (0.282 with the defaults); most differences are not exact."""
    pairs = 3000
    sizes = rng.integers(10, 60, pairs)
    cells = [record_keys(ids_of(rng, int(n) + 1)) for n in sizes]
    with_child = perturb_counts(sizes + 1, [cell_key(k) for k in cells])
    without = perturb_counts(sizes, [cell_key(k[1:]) for k in cells])
    share = float(np.mean(with_child - without == 1))
    p = default_table().query("i == 8")["p"].to_numpy()
    expected = float((p**2).sum())
    assert expected == pytest.approx(0.2817, abs=1e-3)
    assert abs(share - expected) <= 4 * np.sqrt(expected * (1 - expected) / pairs)
    assert share < 0.5


# --- the facade -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ProtectedTable", "protect_counts", "protect_rates",
                                  "SECONDARY_MARK"])
def test_the_names_of_the_former_module_keep_their_address(name):
    assert hasattr(disclosure, name) and name in disclosure.__all__


def test_every_public_name_of_the_facade_is_defined_inside_the_disclosure_package():
    mod = importlib.import_module("evaluation.disclosure")
    for name in mod.__all__:
        home = getattr(getattr(mod, name), "__module__", None)
        if isinstance(home, str) and home.startswith("evaluation."):
            assert home.startswith("evaluation.disclosure."), name
