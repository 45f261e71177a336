"""The report notebooks opened in JupyterLab from notebooks/ run as they are: their default
``data_dir`` (``reports/demo/data``, relative to the project) is found from the notebook's own
folder, as a teacher or analyst would run them with no parameters (issue 10)."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from evaluation.data import find_data_dir, synth
from evaluation.data.validate import validate_files
from evaluation.errors import ParameterError
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project's layout: notebooks/ and reports/demo/{extract,data}."""
    root = tmp_path_factory.mktemp("project")
    (root / "notebooks").mkdir()
    extract = root / "reports" / "demo" / "extract"
    synth.write(synth.generate(n_children=500, n_municipalities=4, seed=9), extract)
    validate_files(sorted(extract.glob("*.csv")), root / "reports" / "demo" / "data")
    for nb in ROOT.glob("notebooks/0*.ipynb"):
        shutil.copy(nb, root / "notebooks" / nb.name)
    return root


def test_find_data_dir_looks_in_the_working_folder_then_its_parents(project, monkeypatch):
    monkeypatch.chdir(project / "notebooks")
    assert find_data_dir("reports/demo/data") == project / "reports" / "demo" / "data"
    monkeypatch.chdir(project)
    assert find_data_dir("reports/demo/data") == project / "reports" / "demo" / "data"
    with pytest.raises(ParameterError, match="make demo"):
        find_data_dir("reports/nowhere")


@pytest.mark.parametrize("name", ["01-overview", "03-teaching-confounding"])
def test_a_report_notebook_runs_from_its_own_folder_with_no_parameters(project, name):
    from nbclient import NotebookClient

    nb = nbformat.read(project / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "display_data"]
    assert len(shown) > 5
