"""The data dictionary: well-formed YAML and a registration template that reads straight back."""

from __future__ import annotations

import openpyxl
import pytest
import yaml

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.io import read_tables
from evaluation.data.validate import validate_table
from tests.helpers import ROOT


def _raw_yaml() -> dict:
    return yaml.safe_load((ROOT / "data_dictionary" / "dictionary.yaml").read_text("utf-8"))


@pytest.mark.parametrize("table", TABLES)
def test_every_label_code_and_description_is_text_not_a_yaml_boolean(table):
    """YAML 1.1 reads unquoted Yes/No/On/Off as booleans; every such value must be quoted."""
    for col in _raw_yaml()["tables"][table]["columns"]:
        for part in ("label", "description"):
            assert all(isinstance(col[part][lang], str) for lang in ("sv", "en")), col["name"]
        for code in col.get("codes") or []:
            bad = {k: v for k, v in code.items() if k != "planned" and not isinstance(v, str)}
            assert not bad, f"{table}.{col['name']}: quote {bad} in dictionary.yaml"


def test_every_column_has_the_documented_attributes():
    allowed_types = {"string", "integer", "number", "date", "boolean", "code"}
    for table in TABLES:
        for col in load_dictionary().table(table).values():
            assert col.type in allowed_types
            assert col.stage in {"start", "followup", "end"}
            assert col.source in {"entered", "derived"}
            assert col.identifier in {"none", "key", "pseudonym", "direct"}
            assert (col.type == "code") == bool(col.codes), col.name


def test_planned_ending_codes_exclude_breakdowns_and_absconding():
    planned = load_dictionary().planned_codes()
    assert not {c for c in planned if c.startswith("BREAKDOWN")}
    assert "ABSCONDED" not in planned and "PLANNED" in planned


def test_a_filled_in_registration_template_reads_back_and_validates(tmp_path):
    """A municipality fills the template by hand with Swedish labels; it validates as is."""
    wb = openpyxl.load_workbook(ROOT / "data_dictionary" / "registration_template.xlsx")
    values = {
        "episodes": {
            "episode_id": "E1", "municipality_code": "0180", "start_date": "2023-01-10",
            "end_date": "2023-09-30", "legal_basis": "SoL (frivillig)",
            "placement_type": "Familjehem", "end_reason": "Målet uppnått",
            "problem_neglect": "Ja", "daily_cost_sek": "1 250,50",
        },
        "placements": {
            "episode_id": "E1", "placement_seq": "1", "start_date": "2023-01-10",
            "end_date": "2023-09-30", "placement_type": "Familjehem",
        },
        "followups": {
            "episode_id": "E1", "followup_date": "2023-07-01", "followup_type": "Uppföljning",
            "goal_attainment": "Delvis", "child_heard": "Ja", "theme_safety": "4",
        },
    }
    for table, row in values.items():
        ws = wb[table]
        header = [c.value for c in ws[1]]
        for name, value in row.items():
            ws.cell(row=2, column=header.index(name) + 1, value=value)
    # pseudonymised columns the template leaves out are added as pseudonymisation would
    ws = wb["episodes"]
    header = [c.value for c in ws[1]]
    for i, (name, value) in enumerate(
        {"child_id": "c" * 64, "sex": "F", "birth_year": "2010"}.items()
    ):
        ws.cell(row=1, column=len(header) + 1 + i, value=name)
        ws.cell(row=2, column=len(header) + 1 + i, value=value)
    path = tmp_path / "kommun.xlsx"
    wb.save(path)

    raws = read_tables([path])
    assert {"episodes", "placements", "followups"} <= set(raws)
    results = validate_dataset({t: validate_table(r) for t, r in raws.items()})
    for table in ("episodes", "placements", "followups"):
        res = results[table]
        assert len(res.quarantine) == 0, res.quarantine.to_dict("records")
        assert len(res.accepted) == 1
    ep = results["episodes"].accepted.iloc[0]
    assert ep["placement_type"] == "FH" and ep["end_reason"] == "GOAL_REACHED"
    assert ep["daily_cost_sek"] == pytest.approx(1250.5)
    assert bool(ep["planned_ending"]) is True


def test_measure_entries_are_text_not_yaml_booleans_and_lookup_works():
    from evaluation.errors import ParameterError

    raw = _raw_yaml()["measures"]
    for entry in raw:
        for key, value in entry.items():
            if key == "name":
                assert isinstance(value, str)
                continue
            assert set(value) == {"sv", "en"}, (entry["name"], key)
            assert all(isinstance(v, str) for v in value.values()), (entry["name"], key)
    d = load_dictionary()
    assert d.measure("re_entry_12m")["label"]["en"].startswith("Re-entry")
    with pytest.raises(ParameterError, match="Unknown measure 'nope'"):
        d.measure("nope")


# ---------------------------------------------------------------- municipalities and scales


def test_the_municipality_list_holds_exactly_290_unique_four_digit_scb_codes():
    from evaluation.data.dictionary import municipality_names

    raw = yaml.safe_load((ROOT / "src" / "evaluation" / "data" / "municipalities.yaml")
                         .read_text("utf-8"))
    codes = list(raw["municipalities"])
    assert len(codes) == 290 and len(set(codes)) == 290
    assert all(isinstance(c, str) and len(c) == 4 and c.isdigit() for c in codes)
    assert all(isinstance(n, str) and n.strip() for n in raw["municipalities"].values())
    assert {c[:2] for c in codes} == set(raw["counties"])  # every code in a county
    assert len(raw["counties"]) == 21
    assert municipality_names() == {str(k): str(v) for k, v in raw["municipalities"].items()}


@pytest.mark.parametrize("code, name", [("0114", "Upplands Väsby"), ("0180", "Stockholm"),
                                        ("1480", "Göteborg"), ("0580", "Linköping"),
                                        ("1280", "Malmö"), ("0980", "Gotland"),
                                        ("2584", "Kiruna"), ("1463", "Mark")])
def test_a_municipality_is_shown_with_code_and_scb_name(code, name):
    from evaluation.data.dictionary import municipality_label

    assert municipality_label(code) == f"{code} {name}"


def test_a_code_that_is_not_scbs_is_shown_alone_and_a_missing_one_as_nothing():
    from evaluation.data.dictionary import municipality_label

    assert municipality_label("0199") == "0199"
    assert municipality_label(None) == "" and municipality_label(float("nan")) == ""


def test_the_synthetic_big_city_codes_are_real_municipalities():
    from evaluation.data import synth
    from evaluation.data.dictionary import municipality_names

    codes = synth.generate(n_children=50, n_municipalities=10, seed=1).tables[
        "episodes"]["municipality_code"].unique()
    assert set(codes) <= set(municipality_names())


def test_the_theme_scale_is_documented_with_anchors_in_both_languages():
    from evaluation.errors import ParameterError

    d = load_dictionary()
    scale = d.scale("themes")
    themes = d.group("followups", "themes")
    assert scale["group"] == "themes" and len(themes) == 8
    assert all((d.column("followups", t).min, d.column("followups", t).max)
               == (scale["min"], scale["max"]) for t in themes)
    assert scale["anchors"][0]["value"] == scale["min"]
    assert scale["anchors"][-1]["value"] == scale["max"]
    assert all(isinstance(a["sv"], str) and isinstance(a["en"], str) for a in scale["anchors"])
    with pytest.raises(ParameterError, match="Unknown scale 'nope'"):
        d.scale("nope")
