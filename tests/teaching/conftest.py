"""Fixtures of the teaching-course tests: a temporary copy of ``notebooks/teaching/`` and a
notebook runner that records how long each lesson takes to execute.

The lessons run from their own folder (cwd = the copy), as a learner runs them in
JupyterLab, so that nothing is written into the repository: the course data
(``data/``) are created in the copy by the first lesson that runs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from tests.helpers import ROOT

#: The course folder in the repository.
COURSE = ROOT / "notebooks" / "teaching"
#: Seconds a lesson may take before the run fails (the brief: well under a minute).
LESSON_TIMEOUT = 120

_TIMES: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory) -> Path:
    """A copy of the course folder without its generated data (only ``data/.gitignore``)."""
    target = tmp_path_factory.mktemp("teaching") / "teaching"
    shutil.copytree(COURSE, target, ignore=shutil.ignore_patterns(
        "*.csv", "truth.json", ".ipynb_checkpoints", "raw"))
    return target


@pytest.fixture(scope="session")
def run_lesson(course_copy):
    """Execute a notebook (a ``NotebookNode``) from the course copy; returns the executed
    notebook. ``label`` names the run in the timing summary."""

    def run(nb: nbformat.NotebookNode, name: str, label: str) -> nbformat.NotebookNode:
        client = ExecutePreprocessor(kernel_name="python3", timeout=LESSON_TIMEOUT,
                                     allow_errors=True)
        start = time.perf_counter()
        client.preprocess(nb, {"metadata": {"path": str(course_copy)}})
        _TIMES[(name, label)] = time.perf_counter() - start
        return nb

    return run


def pytest_terminal_summary(terminalreporter):
    """Print the execution time of every lesson run (seconds, kernel start included)."""
    if not _TIMES:
        return
    terminalreporter.section("teaching course: execution time per lesson")
    for (name, label), seconds in sorted(_TIMES.items()):
        terminalreporter.write_line(f"{name:50s} {label:18s} {seconds:6.1f} s")
