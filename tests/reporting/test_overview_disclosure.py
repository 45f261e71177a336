"""The overview report through the disclosure gate: publication mode by default, counts that
agree across views, no small counts, no breakdown of tiny selections, whole months, and
national figures within the documented noise."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.data import load_tables, synth
from evaluation.disclosure import DisclosurePolicy
from evaluation.reporting import overview
from evaluation.reporting.text import phrase

PERIOD = {"period_start": "2019-01-01", "period_end": "2024-12-31"}
INTERNAL = DisclosurePolicy(mode="internal")
#: Largest deviation of a published count from the true one (the perturbation table's D).
MAX_DEVIATION = 3


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_300_12_7")
    synth.write(synth.generate(n_children=300, n_municipalities=12, seed=7), out)
    return load_tables(out)


@pytest.fixture(scope="module")
def municipalities(tables):
    return sorted(tables["episodes"]["municipality_code"].dropna().unique())


@pytest.fixture(scope="module")
def all_view(tables):
    return overview.overview_tables(tables, municipality="all", **PERIOD)


@pytest.fixture(scope="module")
def every_report(tables, municipalities):
    return {m: overview.overview_tables(tables, municipality=m, **PERIOD)
            for m in municipalities}


def _rows(report: dict[str, pd.DataFrame], scope: str) -> pd.DataFrame:
    frame = pd.concat(report.values(), ignore_index=True)
    return frame[frame["scope"] == phrase("overview", "scopes", scope, "sv")].reset_index(
        drop=True)


def test_publication_is_the_default(tables, all_view):
    published = overview.overview_tables(tables, municipality="all", **PERIOD,
                                         policy=DisclosurePolicy())
    for section, frame in all_view.items():
        pd.testing.assert_frame_equal(frame, published[section])
    assert DisclosurePolicy().mode == "publication"


def test_no_published_count_in_1_to_4_in_any_overview_table(every_report, all_view):
    for report in [*every_report.values(), all_view]:
        for frame in report.values():
            for column in ("n", "denominator"):
                assert not frame[column].dropna().between(1, 4).any()
            assert not frame["display"].isin(["1", "2", "3", "4", "<5"]).any()


def test_the_same_cell_gets_the_same_published_count_in_the_municipality_report_and_the_all_view(
        tables, every_report, all_view, municipalities):
    everyone = _rows(all_view, "all")
    for report in every_report.values():
        pd.testing.assert_frame_equal(_rows(report, "all"), everyone)
    # a municipality's episodes, published alone as "all", give the numbers of its own report
    big = max(municipalities,
              key=lambda m: (tables["episodes"]["municipality_code"] == m).sum())
    alone = {**tables,
             "episodes": tables["episodes"][tables["episodes"]["municipality_code"] == big]}
    own = overview.overview_tables(alone, municipality="all", **PERIOD)
    selected = _rows(every_report[big], "selected")
    assert selected["n"].notna().all()
    pd.testing.assert_frame_equal(selected.drop(columns="scope"),
                                  _rows(own, "all").drop(columns="scope"))


def test_a_municipality_with_fewer_than_10_children_gets_no_breakdown_and_the_sentence(
        tables, every_report, municipalities):
    children = tables["episodes"].groupby("municipality_code")["child_id"].nunique()
    small = [m for m in municipalities if children[m] < 5]  # published count 0 or 5: < 10
    assert small, "the data should have a municipality with very few children"
    for m in small:
        selected = _rows(every_report[m], "selected")
        assert selected[["n", "denominator", "share"]].isna().all().all()
        assert (selected["display"] == "").all()
        shown = overview.display_table(every_report[m]["target_groups"])
        mine = shown[shown["Urval"] == "Vald kommun"]
        assert (mine["Antal"] == "").all() and (mine["Andel"] == "").all()
        text = overview.selection_text(tables, municipality=m, **PERIOD)
        assert phrase("disclosure", "page", "small_selection", "sv", min_children=10) in text
    exact = overview.overview_tables(tables, municipality=small[0], **PERIOD, policy=INTERNAL)
    assert _rows(exact, "selected")["n"].notna().all()  # internal mode breaks everything down


def test_two_periods_ending_30_and_31_december_give_identical_published_tables(tables):
    late = overview.overview_tables(tables, municipality="all", period_start="2019-01-01",
                                    period_end="2023-12-31")
    early = overview.overview_tables(tables, municipality="all", period_start="2019-01-01",
                                     period_end="2023-12-30")
    for section, frame in late.items():
        pd.testing.assert_frame_equal(frame, early[section])
    text = overview.selection_text(tables, municipality="all", period_start="2019-01-01",
                                   period_end="2023-12-30")
    assert "2019-01-01 – 2023-12-31" in text
    assert phrase("disclosure", "page", "period_snapped", "sv", start="2019-01-01",
                  end="2023-12-31") in text
    whole = overview.selection_text(tables, municipality="all", **PERIOD)
    assert "hela månader" not in whole  # nothing to say when the period was already whole


def test_national_figures_are_within_the_documented_noise_of_the_exact_ones(tables, all_view):
    exact = overview.overview_tables(tables, municipality="all", **PERIOD, policy=INTERNAL)
    deviations = []
    for section, frame in all_view.items():
        truth = exact[section]
        for column in ("n", "denominator"):
            deviations += (frame[column] - truth[column]).abs().tolist()
    assert max(deviations) <= MAX_DEVIATION
    assert 0 < sum(d > 0 for d in deviations)  # noise is actually there


def test_internal_mode_shows_exact_small_counts_and_every_share(tables, municipalities):
    children = tables["episodes"].groupby("municipality_code")["child_id"].nunique()
    tiny = children.idxmin()
    exact = overview.overview_tables(tables, municipality=tiny, **PERIOD, policy=INTERNAL)
    selected = _rows(exact, "selected")
    episodes = tables["episodes"]
    assert selected[selected["variable"] == "Kön"]["n"].sum() == (
        (episodes["municipality_code"] == tiny) & episodes["sex"].notna()).sum()
    assert selected["share"].notna().any()


def test_the_disclosure_page_exists_in_both_languages_and_states_the_tables_behaviour():
    from evaluation.disclosure import default_table
    from tests.helpers import ROOT

    table = default_table()
    published = table.assign(out=table["i"] + table["v"])
    assert sorted(published.loc[published["out"] == 0, "i"]) == [0, 1, 2, 3]
    assert sorted(published.loc[published["out"] == 5, "i"].unique()) == [2, 3, 4, 5, 6, 7, 8]
    assert published["v"].abs().max() == MAX_DEVIATION
    for lang, words in (("sv", ["sanna 0, 1, 2 eller 3", "sanna 2 till 8", "--internal"]),
                        ("en", ["true 0, 1, 2 or 3", "true 2 to 8", "--internal"])):
        page = (ROOT / "docs" / f"disclosure.{lang}.md").read_text(encoding="utf-8")
        assert all(w in page for w in words)
        assert f"docs/disclosure.{lang}.md" in phrase("disclosure", "page", "footer", lang,
                                                      min_children=10, min_events=5)
