"""Tests for the generated data dictionary pages and the Excel registration template."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.pages import render_html, render_markdown, write_excel_template
from tests.helpers import ROOT

DD = ROOT / "data_dictionary"
REGEN = (
    "The generated file is stale: run `evaluation dictionary` or `make dictionary` and commit it."
)


def _label_text(value) -> str:
    if isinstance(value, bool):  # YAML 1.1 reads bare Yes/No as booleans
        return "Yes" if value else "No"
    return str(value)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_markdown_not_stale(lang):
    path = DD / f"dictionary.{lang}.md"
    assert path.exists(), f"{path.name} is missing. {REGEN}"
    assert path.read_text(encoding="utf-8") == render_markdown(lang), f"{path.name}: {REGEN}"


def test_html_not_stale():
    path = DD / "dictionary.html"
    assert path.exists(), f"{path.name} is missing. {REGEN}"
    assert path.read_text(encoding="utf-8") == render_html(), f"{path.name}: {REGEN}"


def test_render_is_deterministic():
    assert render_markdown("sv") == render_markdown("sv")
    assert render_html() == render_html()


def test_html_self_contained():
    page = render_html()
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page.lower()
    assert "<style>" in page
    # Swedish first, English second, each with an anchor.
    assert 0 < page.index('id="sv"') < page.index('id="en"')


def test_markdown_headings_in_language():
    sv, en = render_markdown("sv"), render_markdown("en")
    for word in (
        "Tabell",
        "Kolumn",
        "Etikett",
        "Typ",
        "Enhet",
        "Obligatorisk",
        "Skede",
        "Registreras/Härleds",
        "Identifierare",
        "Beskrivning",
        "Koder",
        "Regler",
    ):
        assert word in sv, word
    for word in ("Table", "Column", "Label", "Required", "Stage", "Codes", "Rules"):
        assert word in en, word
    assert "BBIC" in sv and "BBIC" in en


def test_every_column_code_and_rule_in_both_pages():
    d = load_dictionary()
    pages = {lang: render_markdown(lang) for lang in ("sv", "en")}
    html_page = render_html()
    for lang, page in pages.items():
        for tname, cols in d.columns.items():
            assert "## " + ("Tabell" if lang == "sv" else "Table") + f" {tname}:" in page
            for col in cols.values():
                assert f"`{col.name}`" in page, f"{tname}.{col.name} missing from {lang} page"
                assert col.label[lang] in page, f"label of {tname}.{col.name} missing ({lang})"
                for c in col.codes:
                    assert f"`{c['code']}`" in page
                    assert _label_text(c["sv"]) in page and _label_text(c["en"]) in page
        for r in d.rules:
            assert f"`{r['id']}`" in page
            assert r["description"][lang].replace("|", "\\|") in page
    for tname, cols in d.columns.items():
        for col in cols.values():
            assert f"<code>{col.name}</code>" in html_page


def test_invalid_language():
    from evaluation.errors import ParameterError

    with pytest.raises(ParameterError):
        render_markdown("de")


# ---------------------------------------------------------------------------------- Excel


def _sheet_dump(ws):
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            if c.value is not None:
                cells[c.coordinate] = c.value
            if c.comment is not None:
                cells[c.coordinate + "#comment"] = c.comment.text
    dvs = sorted(
        (dv.type, dv.operator, dv.formula1, dv.formula2, str(dv.sqref), dv.allow_blank)
        for dv in ws.data_validations.dataValidation
    )
    return cells, dvs, ws.freeze_panes, ws.sheet_state


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory):
    return write_excel_template(tmp_path_factory.mktemp("tpl") / "registration_template.xlsx")


@pytest.fixture(scope="module")
def committed_template():
    path = DD / "registration_template.xlsx"
    assert path.exists(), f"{path.name} is missing. {REGEN}"
    return path


def test_template_not_stale(fresh_template, committed_template):
    new = openpyxl.load_workbook(fresh_template)
    old = openpyxl.load_workbook(committed_template)
    assert old.sheetnames == new.sheetnames, f"sheet names differ. {REGEN}"
    for name in new.sheetnames:
        assert _sheet_dump(old[name]) == _sheet_dump(new[name]), f"sheet {name!r} differs. {REGEN}"


def test_template_regeneration_is_byte_identical(tmp_path, fresh_template):
    again = write_excel_template(tmp_path / "again.xlsx")
    assert again.read_bytes() == Path(fresh_template).read_bytes()


def test_template_sheets_and_headers(committed_template):
    d = load_dictionary()
    wb = openpyxl.load_workbook(committed_template)
    assert wb.sheetnames[0] == "instruktioner"
    assert [s for s in wb.sheetnames if s in TABLES] == list(TABLES)
    assert "kodlistor" in wb.sheetnames
    derived = {"child_id", "sex", "birth_year", "planned_ending"}
    for tname in TABLES:
        ws = wb[tname]
        headers = [c.value for c in ws[1] if c.value is not None]
        expected = [c.name for c in d.columns[tname].values() if c.source != "derived"]
        assert headers == expected
        assert not derived & set(headers)
        assert ws.freeze_panes == "A2"
        for cell in ws[1]:
            assert cell.font.bold
            col = d.columns[tname][cell.value]
            assert cell.comment is not None and col.label["sv"] in cell.comment.text
    assert "personnummer" in [c.value for c in wb["episodes"][1]]
    assert "personnummer" in [c.value for c in wb["referrals"][1]]


def test_instructions(committed_template):
    wb = openpyxl.load_workbook(committed_template)
    text = "\n".join(str(c.value) for c in wb["instruktioner"]["A"] if c.value)
    for phrase in ("ÅÅÅÅ-MM-DD", "sjätte månad", "evaluation pseudonymise", "namn", "Personnummer"):
        assert phrase in text, phrase


def test_every_code_label_in_kodlistor(committed_template):
    d = load_dictionary()
    wb = openpyxl.load_workbook(committed_template)
    ws = wb["kodlistor"]
    columns = {}
    for col_cells in ws.iter_cols():
        header = col_cells[0].value
        columns[header] = [c.value for c in col_cells[1:] if c.value is not None]
    for tname, cols in d.columns.items():
        for col in cols.values():
            if col.codes:
                key = f"{tname}.{col.name}"
                assert key in columns, f"{key} missing from kodlistor"
                assert columns[key] == [_label_text(c["sv"]) for c in col.codes]


def test_validations(committed_template):
    d = load_dictionary()
    wb = openpyxl.load_workbook(committed_template)
    for tname in TABLES:
        ws = wb[tname]
        by_col = {}
        for dv in ws.data_validations.dataValidation:
            for rng in str(dv.sqref).split():
                by_col[re.match(r"[A-Z]+", rng).group(0)] = dv
        for cell in ws[1]:
            col = d.columns[tname][cell.value]
            dv = by_col.get(cell.column_letter)
            if col.type == "code":
                assert dv is not None and dv.type == "list"
                assert dv.formula1.startswith("=kodlistor!")
            elif col.type == "boolean":
                assert dv is not None and dv.type == "list" and dv.formula1 == '"Ja,Nej"'
            elif col.type == "date":
                assert dv is not None and dv.type == "date"
            elif col.type == "integer":
                assert dv is not None and dv.type == "whole"
                if col.min is not None:
                    assert float(dv.formula1) == col.min
                if col.max is not None:
                    assert float(dv.formula2) == col.max


def test_template_readable_by_io(committed_template):
    """The template's table sheets are found by the reader (headers only, no data rows)."""
    from evaluation.data import io as eio

    reader = getattr(eio, "_xlsx_sheets", None)
    if reader is None:
        pytest.skip("io has no Excel sheet reader to check against")
    out = reader(committed_template, committed_template.name)
    assert set(out) == set(TABLES)


def test_yaml_copies_identical():
    repo = DD / "dictionary.yaml"
    pkg = ROOT / "src" / "evaluation" / "data" / "dictionary.yaml"
    assert repo.read_bytes() == pkg.read_bytes(), (
        "src/evaluation/dictionary.yaml differs from data_dictionary/dictionary.yaml: copy it "
        "(cp data_dictionary/dictionary.yaml src/evaluation/dictionary.yaml, or `make dictionary`)."
    )


# ---------------------------------------------------------------------------------- measures


def _measure_functions() -> set[str]:
    """Public functions of evaluation.measures that compute an outcome measure (take
    ``group_cols``; the cost measures of ``evaluation.measures.costs`` are not outcome
    measures and are documented with their functions)."""
    import inspect

    from evaluation import measures

    return {
        name
        for name in measures.__all__
        if inspect.isfunction(getattr(measures, name))
        and "group_cols" in inspect.signature(getattr(measures, name)).parameters
        and getattr(measures, name).__module__ != "evaluation.measures.costs"
    }


def test_every_measure_function_is_documented_in_the_dictionary_and_vice_versa():
    from evaluation import measures

    documented = [e["name"] for e in load_dictionary().measures]
    assert len(documented) == len(set(documented)), "a measure is documented twice"
    functions = _measure_functions()
    assert functions == set(measures.MEASURES), "MEASURES and the measure functions disagree"
    assert set(documented) - functions == set(), "dictionary documents measures that do not exist"
    assert functions - set(documented) == set(), (
        "measure functions without an entry in the `measures` section of dictionary.yaml"
    )


def test_every_measure_entry_has_all_fields_in_both_languages():
    from evaluation.data.pages import MEASURE_FIELDS

    for entry in load_dictionary().measures:
        for field in ("label", *MEASURE_FIELDS):
            assert field in entry, f"{entry['name']} lacks {field}"
            for lang in ("sv", "en"):
                text = entry[field][lang]
                assert isinstance(text, str) and text.strip(), (entry["name"], field, lang)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_measure_is_rendered_with_its_fields(lang):
    page = render_markdown(lang)
    html_page = render_html()
    heading = {"sv": "## Utfallsmått", "en": "## Outcome measures"}[lang]
    assert heading in page
    section = page[page.index(heading):]
    for entry in load_dictionary().measures:
        assert f"### `{entry['name']}`: {entry['label'][lang]}" in section
        for field in ("definition", "numerator", "denominator", "exclusions", "source"):
            assert entry[field][lang].replace("|", "\\|") in section, (entry["name"], field)
        assert f'id="{lang}-measure-{entry["name"]}"' in html_page
    assert f'href="#{lang}-measures"' in html_page
