"""One report, complete and reproducible: its own files, typed parameters, atomic writes,
locking, identical reruns; and the batch over units (issue 11, parts 1 and 2)."""

from __future__ import annotations

import json
import re
import shutil
import threading

import jsonschema
import nbformat
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.data import synth
from evaluation.errors import ParameterError, ReportError
from evaluation.reporting import outputs
from evaluation.reporting.batch import run_batch
from evaluation.reporting.params import parameter_specs, parameters_help
from evaluation.reporting.run import run_report
from tests.helpers import ROOT

NOTEBOOK = ROOT / "notebooks" / "01-overview.ipynb"
SUFFIXES = (".html", ".ipynb", ".results.json", ".tables", ".provenance.json")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    synth.write(synth.generate(n_children=600, n_municipalities=4, seed=5), out)
    return out


@pytest.fixture(scope="module")
def units(data_dir):
    return sorted(pd.read_csv(data_dir / "episodes.csv", dtype=str)["municipality_code"].unique())


@pytest.fixture(scope="module")
def first(data_dir, units, tmp_path_factory):
    out = tmp_path_factory.mktemp("first")
    return run_report(NOTEBOOK, data_dir, out, {"municipality": units[0]})


def _bytes(folder, name="01-overview"):
    files = {s: (folder / f"{name}{s}") for s in (".html", ".results.json")}
    got = {s: p.read_bytes() for s, p in files.items()}
    for csv in sorted((folder / f"{name}.tables").glob("*.csv")):
        got[csv.name] = csv.read_bytes()
    return got


def test_a_report_writes_its_own_named_files(first):
    folder = first.parent
    for suffix in SUFFIXES:
        assert (folder / f"01-overview{suffix}").exists(), suffix
    assert not (folder / "provenance.json").exists()
    assert not list(folder.glob(".*staging*")), "staging folder left behind"


def test_results_json_validates_against_the_documented_schema(first):
    results = json.loads(first.with_name("01-overview.results.json").read_text("utf-8"))
    jsonschema.validate(results, outputs.RESULTS_SCHEMA)
    documented = json.loads((ROOT / "docs" / "results.schema.json").read_text("utf-8"))
    assert documented == outputs.RESULTS_SCHEMA, "docs/results.schema.json is out of date"
    assert {t["name"] for t in results["tables"]} >= {"age_group", "sex", "problems",
                                                      "interventions", "results"}
    assert results["values"]["episodes"] > 0
    assert all(f["alt"].strip() for f in results["figures"])


def test_results_hold_exactly_the_numbers_of_the_page_tables(first):
    results = json.loads(first.with_name("01-overview.results.json").read_text("utf-8"))
    page = first.read_text("utf-8")
    for table in results["tables"]:
        csv = pd.read_csv(first.parent / table["file"], dtype=str, keep_default_na=False)
        assert list(csv.columns) == table["columns"]
        assert len(csv) == len(table["rows"])
        for row in table["rows"]:
            for cell in row:
                if cell not in (None, ""):
                    assert f">{cell}<" in page or str(cell) in page, cell
        if "data" in table:
            counts = [r[table["data"]["columns"].index("n")] for r in table["data"]["rows"]]
            assert not any(c is not None and 0 < c < 5 for c in counts), "count 1-4 published"


def test_the_same_report_twice_is_byte_identical_but_for_provenance_time(data_dir, units,
                                                                      first, tmp_path):
    again = run_report(NOTEBOOK, data_dir, tmp_path, {"municipality": units[0]})
    assert _bytes(first.parent) == _bytes(again.parent)
    p1 = json.loads(first.with_name("01-overview.provenance.json").read_text("utf-8"))
    p2 = json.loads(again.with_name("01-overview.provenance.json").read_text("utf-8"))
    for p in (p1, p2):
        p.pop("started"), p.pop("seconds"), p.pop("phases")
        p.pop("data_dir")
        p["outputs"].pop("01-overview.ipynb")  # papermill's timings live in the notebook
    assert p1 == p2


def test_provenance_names_inputs_versions_and_parameters(first, data_dir):
    prov = json.loads(first.with_name("01-overview.provenance.json").read_text("utf-8"))
    names = {f["name"] for f in prov["data_files"]}
    assert "episodes.csv" in names and all(len(f["sha256"]) == 64 for f in prov["data_files"])
    assert prov["parameters"]["municipality"] and "data_dir" not in prov["parameters"]
    assert prov["packages"]["pandas"] and prov["python"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", prov["started"])
    assert prov["seconds"] > 0
    assert prov["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", prov["git_commit"])


def test_two_reports_in_one_folder_keep_their_own_files(data_dir, units, tmp_path):
    a = run_report(NOTEBOOK, data_dir, tmp_path, {"municipality": units[0]}, name="a")
    b = run_report(NOTEBOOK, data_dir, tmp_path, {"municipality": units[1]}, name="b")
    pa = json.loads(a.with_name("a.provenance.json").read_text("utf-8"))
    pb = json.loads(b.with_name("b.provenance.json").read_text("utf-8"))
    assert pa["parameters"]["municipality"] == units[0]
    assert pb["parameters"]["municipality"] == units[1]


FAILING = """{"cells": [
 {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]},
  "outputs": [], "source": "data_dir: str = \\"x\\"  # data\\nmunicipality: str = \\"all\\"  # unit [municipality]\\nfail_for: str = \\"none\\"  # unit that fails"},
 {"cell_type": "code", "execution_count": null, "id": "r", "metadata": {}, "outputs": [],
  "source": "from evaluation.reporting.page import show_text, show_values\\nif municipality == fail_for:\\n    raise ValueError('planned failure')\\nshow_text('# Test ' + municipality)\\nshow_values({'unit_code_length': len(municipality)}, labels={'unit_code_length': 'Length'})"}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4, "nbformat_minor": 5}
"""


@pytest.fixture
def failing(tmp_path):
    path = tmp_path / "nb" / "failing.ipynb"
    path.parent.mkdir()
    path.write_text(FAILING, encoding="utf-8")
    return path


def test_a_failed_rerun_removes_the_old_outputs_and_keeps_the_failed_notebook(failing, data_dir,
                                                                             tmp_path):
    out = tmp_path / "out"
    run_report(failing, data_dir, out, {"municipality": "0180"})
    assert (out / "failing.html").is_file()
    with pytest.raises(ReportError, match="planned failure"):
        run_report(failing, data_dir, out, {"municipality": "0180", "fail_for": "0180"})
    for suffix in SUFFIXES:
        assert not (out / f"failing{suffix}").exists(), suffix
    failed = nbformat.read(out / "failing.failed.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", []))
    run_report(failing, data_dir, out, {"municipality": "0180"})
    assert not (out / "failing.failed.ipynb").exists()


def test_a_second_run_of_the_same_report_into_the_same_folder_is_refused(failing, data_dir,
                                                                       tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with outputs.report_lock(out, "failing"):
        with pytest.raises(ReportError, match="already being written"):
            run_report(failing, data_dir, out, {"municipality": "0180"})
    run_report(failing, data_dir, out, {"municipality": "0180"})  # free again


def test_a_reader_never_sees_a_half_written_page(failing, data_dir, tmp_path):
    out = tmp_path / "out"
    run_report(failing, data_dir, out, {"municipality": "0180"})
    seen, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            text = (out / "failing.html").read_text("utf-8")
            seen.append(text.rstrip().endswith("</html>"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3):
            run_report(failing, data_dir, out, {"municipality": "0180"})
    finally:
        stop.set()
        reader.join()
    assert seen and all(seen)


# ---------------------------------------------------------------- typed parameters

def test_parameters_are_typed_from_the_annotated_cell():
    specs = parameter_specs(NOTEBOOK)
    assert specs["threshold"].type is int and specs["threshold"].minimum == 5
    assert specs["lang"].choices == ("sv", "en")
    assert specs["period_end"].kind == "date"
    text = parameters_help(NOTEBOOK)
    assert "threshold (int, default 5" in text and "smallest positive count" in text


@pytest.mark.parametrize("params, match", [
    ({"threshold": "1"}, "at least 5"),
    ({"threshold": "five"}, "must be int"),
    ({"lang": "de"}, "choose one of sv, en"),
    ({"period_end": "2024-13-01"}, "YYYY-MM-DD"),
    ({"municipality": "Stockholm"}, "four-digit"),
    ({"treshold": "7"}, "Did you mean 'threshold'"),
])
def test_a_wrong_parameter_is_refused_before_execution(params, match, data_dir, tmp_path):
    with pytest.raises(ParameterError, match=match):
        run_report(NOTEBOOK, data_dir, tmp_path / "out", params)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_params_file_and_help_params_on_the_command_line(data_dir, units, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(f"municipality: '{units[1]}'\nthreshold: 6\n", encoding="utf-8")
    assert main(["report", str(NOTEBOOK), "--data", str(data_dir), "-f", str(params),
                 "--out", str(tmp_path / "o"), "--name", "x"]) == 0
    prov = json.loads((tmp_path / "o" / "x.provenance.json").read_text("utf-8"))
    assert prov["parameters"]["threshold"] == 6 and prov["parameters"]["municipality"] == units[1]
    capsys.readouterr()
    assert main(["report", str(NOTEBOOK), "--help-params"]) == 0
    assert "municipality (str" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("threshold: [1, 2]\n", encoding="utf-8")
    assert main(["report", str(NOTEBOOK), "--data", str(data_dir), "-f", str(bad),
                 "--out", str(tmp_path / "o")]) == 1
    assert "plain value" in capsys.readouterr().err


def test_a_three_digit_municipality_code_gets_its_leading_zero(data_dir, tmp_path):
    html = run_report(NOTEBOOK, data_dir, tmp_path, {"municipality": "180"})
    prov = json.loads(html.with_name("01-overview.provenance.json").read_text("utf-8"))
    assert prov["parameters"]["municipality"] == "0180"


# ---------------------------------------------------------------- batch

def test_batch_writes_a_folder_per_unit_and_an_index(data_dir, units, first, tmp_path):
    summary = run_batch(NOTEBOOK, data_dir, tmp_path / "b", workers=2, progress=False)
    assert summary.ok and [d["unit"] for d in summary.done] == units
    index = (tmp_path / "b" / "index.html").read_text("utf-8")
    from evaluation.data.dictionary import municipality_label

    for unit in units:
        assert f'href="{unit}/01-overview.html"' in index
        assert f">{municipality_label(unit)}</a>" in index  # "0180 Stockholm"
        assert (tmp_path / "b" / unit / "01-overview.results.json").is_file()
    # a unit's batch report is identical to the single report of that unit
    assert _bytes(tmp_path / "b" / units[0]) == _bytes(first.parent)
    doc = json.loads((tmp_path / "b" / "index.json").read_text("utf-8"))
    assert [u["unit"] for u in doc["units"]] == units


def test_batch_keeps_going_lists_failures_and_exits_non_zero(failing, data_dir, units, tmp_path,
                                                              capsys):
    code = main(["batch", str(failing), "--data", str(data_dir), "--out", str(tmp_path / "b"),
                 "-p", "fail_for", units[1], "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert units[1] in err and "planned failure" in err
    for unit in units:
        assert (tmp_path / "b" / unit / "failing.html").is_file() == (unit != units[1])
    index = (tmp_path / "b" / "index.html").read_text("utf-8")
    assert "planned failure" in index and "Length" in index


def test_batch_refuses_the_unit_parameter_and_bad_workers(data_dir, tmp_path):
    with pytest.raises(ParameterError, match="set by the batch"):
        run_batch(NOTEBOOK, data_dir, tmp_path, parameters={"municipality": "0180"})
    with pytest.raises(ParameterError, match="at least 1"):
        run_batch(NOTEBOOK, data_dir, tmp_path, workers=0)


def test_batch_on_a_dask_cluster_gives_the_same_reports(data_dir, units, first, tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    # pytest's __main__ cannot be re-imported by spawned workers; fork them instead.
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        summary = run_batch(NOTEBOOK, data_dir, tmp_path / "d", units=units[:2],
                            scheduler=cluster.scheduler_address, progress=False)
    assert summary.ok and len(summary.done) == 2
    assert _bytes(tmp_path / "d" / units[0]) == _bytes(first.parent)


def test_folder_index_links_every_report(first, tmp_path):
    shutil.copytree(first.parent, tmp_path / "r")
    assert main(["index", str(tmp_path / "r")]) == 0
    index = (tmp_path / "r" / "index.html").read_text("utf-8")
    assert 'href="01-overview.html"' in index and '<html lang="sv">' in index


def test_pdf_is_printed_on_a4(failing, data_dir, tmp_path):
    html = run_report(failing, data_dir, tmp_path, {"municipality": "0180"}, pdf=True)
    pdf = html.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    import weasyprint

    first = weasyprint.HTML(string=html.read_text("utf-8")).render().pages[0]
    assert (round(first.width * 25.4 / 96), round(first.height * 25.4 / 96)) == (210, 297)
    prov = json.loads(html.with_name("failing.provenance.json").read_text("utf-8"))
    assert "failing.pdf" in prov["outputs"]
    run_report(failing, data_dir, tmp_path, {"municipality": "0180"})  # no --pdf: old PDF goes
    assert not html.with_suffix(".pdf").exists()
