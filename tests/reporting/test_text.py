"""Catalogs of report wording and the number formatters (evaluation.reporting.text)."""

from __future__ import annotations

import math
import string

import pytest
import yaml

from evaluation.checks import LANGUAGES
from evaluation.data.analysis_frame import EFFECT_COVARIATES
from evaluation.errors import ParameterError
from evaluation.reporting import text
from evaluation.reporting.text import (
    CATALOG_DIR,
    catalog_names,
    confounder_text,
    format_count,
    format_integer,
    format_interval,
    format_number,
    format_p_value,
    format_percent,
    load_catalog,
    phrase,
    with_decimal_mark,
)


def test_the_catalogs_of_every_report_are_shipped():
    assert {"formats", "notes", "outcomes", "overview", "plots", "teaching",
            "terms"} <= set(catalog_names())


@pytest.mark.parametrize("name", catalog_names())
def test_every_catalog_key_has_a_text_in_both_languages_and_no_other(name):
    raw = yaml.safe_load((CATALOG_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert raw, name
    for section, entries in raw.items():
        assert isinstance(entries, dict) and entries, (name, section)
        for key, entry in entries.items():
            assert isinstance(entry, dict), (name, section, key)
            assert set(entry) == set(LANGUAGES), (name, section, key, sorted(entry))
            assert all(isinstance(v, str) for v in entry.values()), (name, section, key)
            fields = {lang: sorted(f for _, f, _, _ in string.Formatter().parse(v) if f)
                      for lang, v in entry.items()}
            assert fields["sv"] == fields["en"], (name, section, key, fields)  # same {fields}


def test_a_catalog_with_a_key_in_one_language_only_is_refused(tmp_path, monkeypatch):
    (tmp_path / "broken.yaml").write_text("text:\n  title:\n    sv: Titel\n", encoding="utf-8")
    monkeypatch.setattr(text, "CATALOG_DIR", tmp_path)
    load_catalog.cache_clear()
    try:
        with pytest.raises(ParameterError, match=r"text\.title must give a text for each of sv"):
            load_catalog("broken")
    finally:
        load_catalog.cache_clear()


def test_unknown_catalog_section_key_or_language_is_a_clear_error():
    with pytest.raises(ParameterError, match="No catalog 'nope'"):
        load_catalog("nope")
    with pytest.raises(ParameterError, match="no section 'nope'"):
        phrase("outcomes", "nope", "title")
    with pytest.raises(ParameterError, match="no key 'nope'"):
        phrase("outcomes", "text", "nope")
    with pytest.raises(ParameterError, match="Unknown language 'de'"):
        phrase("outcomes", "text", "title", "de")


def test_every_adjusted_confounder_has_a_label_and_is_named_in_the_confounder_text():
    terms = load_catalog("terms")["terms"]
    for lang in LANGUAGES:
        words = confounder_text(lang)
        for c in EFFECT_COVARIATES:
            assert c in terms, c
            if not c.startswith("age_"):
                assert terms[c][lang] in words, (lang, c)


@pytest.mark.parametrize("call, sv, en", [
    (lambda lang: format_number(1234.5678, 2, lang), "1234,57", "1234.57"),
    (lambda lang: format_number(-0.5, 0, lang), "-0", "-0"),
    (lambda lang: format_number(math.nan, 3, lang), "", ""),
    (lambda lang: format_number(99.8, None, lang), "99,8", "99.8"),
    (lambda lang: format_integer(1234567.4, lang), "1\u00a0234\u00a0567", "1,234,567"),
    (lambda lang: format_interval(0.1, 0.2, 3, lang), "(0,100; 0,200)", "(0.100, 0.200)"),
    (lambda lang: format_interval(-1000, 2000, None, lang), "(-1\u00a0000; 2\u00a0000)",
     "(-1,000, 2,000)"),
    (lambda lang: format_interval(math.nan, math.nan, 3, lang), "", ""),
    (lambda lang: format_p_value(0.0004, lang), "<0,001", "<0.001"),
    (lambda lang: format_p_value(0.0456, lang), "0,046", "0.046"),
    (lambda lang: format_count("1234", lang), "1\u00a0234", "1,234"),
    (lambda lang: format_count("<5", lang), "<5", "<5"),
    (lambda lang: format_percent(0.1234, 1, lang), "12,3 %", "12.3%"),
    (lambda lang: format_percent(math.nan, 1, lang), "", ""),
    (lambda lang: with_decimal_mark("0.5 (1.25-2.0), n=10.", lang), "0,5 (1,25-2,0), n=10.",
     "0.5 (1.25-2.0), n=10."),
])
def test_numbers_are_written_in_the_notation_of_the_language(call, sv, en):
    assert (call("sv"), call("en")) == (sv, en)


def test_tick_labels_get_a_decimal_comma_in_swedish_only():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluation.reporting.text import number_ticks

    fig, ax = plt.subplots()
    default = ax.xaxis.get_major_formatter()
    number_ticks(ax, "en")
    assert ax.xaxis.get_major_formatter() is default
    number_ticks(ax, "sv", "x")
    assert ax.xaxis.get_major_formatter()(0.25, 0) == "0,25"
    assert ax.yaxis.get_major_formatter() is not ax.xaxis.get_major_formatter()
    plt.close(fig)


def test_every_flag_of_a_comparison_has_a_label_in_both_languages():
    from evaluation.models.comparison import FLAGS
    from evaluation.reporting.text import phrases

    for lang in ("sv", "en"):
        assert set(phrases("terms", "flags", lang)) == set(FLAGS)
