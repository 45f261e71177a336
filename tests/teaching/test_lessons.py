"""The teaching course (``notebooks/teaching/``): every lesson's structure, and every lesson
executed from its own folder as written, with the solutions of ``solutions.yaml`` filled in,
and with wrong answers of every kind.

Executing runs on a temporary copy of the course folder (``course_copy``), so nothing is
written into the repository; the first lesson to run creates the course data there.
"""

from __future__ import annotations

import re

import nbformat
import pytest
import yaml

from tests.teaching.conftest import COURSE

LESSONS = sorted(p.name for p in COURSE.glob("[0-9][0-9]-*.ipynb"))
SOLUTIONS = yaml.safe_load((COURSE / "solutions.yaml").read_text(encoding="utf-8"))

#: Wrong answers of every kind a learner might write, given in turn to the exercises.
WRONG_ANSWERS = ['"fel svar"', "-12345", "[1, 2, 3]", "None", "True", '"0,5"', "(1, 2, 3)",
                 "{}", "float('nan')", '"Z"']


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(COURSE / name, as_version=4)


def _tagged(nb: nbformat.NotebookNode, tag: str) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if tag in c.get("metadata", {}).get("tags", [])]


def _text(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed (as text)."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"cell {i} ({c.get('id')}): {o['ename']}: {o['evalue']}"
            for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o["output_type"] == "error"]


def _answer_variable(source: str) -> str:
    match = re.search(r"^(svar_\d+)\s*=\s*None\s*$", source, flags=re.MULTILINE)
    assert match, f"the exercise cell does not start with svar_k = None:\n{source}"
    return match.group(1)


# --------------------------------------------------------------------------- structure


def test_the_course_has_five_lessons():
    assert len(LESSONS) == 5, LESSONS


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_has_goals_summary_and_two_to_four_exercises_each_followed_by_a_check(name):
    nb = _read(name)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert markdown and nb.cells[0].cell_type == "markdown"
    assert "## Mål" in nb.cells[0].source, "the first cell states the learning goals"
    assert nb.cells[-1].cell_type == "markdown" and "## Sammanfattning" in nb.cells[-1].source
    exercises, checks = _tagged(nb, "exercise"), _tagged(nb, "check")
    assert 2 <= len(exercises) <= 4, f"{len(exercises)} exercise cells"
    assert checks == [i + 1 for i in exercises], "every exercise cell is followed by its check"
    for i in exercises:
        variable = _answer_variable(nb.cells[i].source)
        assert nb.cells[i].cell_type == nb.cells[i + 1].cell_type == "code"
        assert re.search(rf"\b{variable}\b", nb.cells[i + 1].source), (
            f"the check after {nb.cells[i].id} does not read {variable}")
        assert "exercises.check_" in nb.cells[i + 1].source
        assert nb.cells[i - 1].cell_type == "markdown" and "Övning" in nb.cells[i - 1].source
    setup = nb.cells[1].source
    assert 'DATA = Path("data")' in setup and "truth.json" in setup and "synth.write" in setup


@pytest.mark.parametrize("name", LESSONS)
def test_every_exercise_has_exactly_one_solution(name):
    nb = _read(name)
    ids = [nb.cells[i].id for i in _tagged(nb, "exercise")]
    assert sorted(SOLUTIONS.get(name, {})) == sorted(ids)
    for cell_id in ids:
        variable = _answer_variable(nb.cells[[c.id for c in nb.cells].index(cell_id)].source)
        assert re.search(rf"^{variable}\s*=", SOLUTIONS[name][cell_id], flags=re.MULTILINE)


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_is_saved_clean_with_the_python3_kernel(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert len({c.id for c in nb.cells}) == len(nb.cells)


@pytest.mark.parametrize("name", LESSONS)
def test_teachers_guide_covers_every_lesson_and_exercise(name):
    guide = (COURSE / "README.md").read_text(encoding="utf-8")
    assert name in guide
    for cell_id in SOLUTIONS[name]:
        assert cell_id in guide, f"README.md has no solution for {cell_id}"


def test_course_data_folder_is_git_ignored():
    ignore = (COURSE / "data" / ".gitignore").read_text(encoding="utf-8").split()
    assert "*" in ignore and "!.gitignore" in ignore


# --------------------------------------------------------------------------- execution


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_as_written_and_every_check_gives_a_hint(name, run_lesson):
    nb = run_lesson(_read(name), name, "as written")
    assert not _errors(nb)
    for i in _tagged(nb, "check"):
        out = _text(nb.cells[i])
        assert "Ledtråd" in out and "Rätt" not in out, f"{nb.cells[i].id}: {out!r}"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_with_the_solutions_filled_in_is_right_at_every_check(name, run_lesson):
    nb = _read(name)
    for i in _tagged(nb, "exercise"):
        nb.cells[i].source = SOLUTIONS[name][nb.cells[i].id]
    nb = run_lesson(nb, name, "solutions")
    assert not _errors(nb)
    for i in _tagged(nb, "check"):
        out = _text(nb.cells[i])
        assert out.startswith("Rätt!"), f"{nb.cells[i].id}: {out!r}"


@pytest.mark.parametrize("name", LESSONS)
def test_wrong_answers_of_any_kind_give_a_hint_never_a_traceback(name, run_lesson):
    nb = _read(name)
    offset = LESSONS.index(name)
    given = {}
    for k, i in enumerate(_tagged(nb, "exercise")):
        wrong = WRONG_ANSWERS[(offset * 4 + k) % len(WRONG_ANSWERS)]
        variable = _answer_variable(nb.cells[i].source)
        nb.cells[i].source = f"{variable} = {wrong}"
        given[nb.cells[i].id] = wrong
    nb = run_lesson(nb, name, "wrong answers")
    assert not _errors(nb), given
    for i in _tagged(nb, "check"):
        out = _text(nb.cells[i])
        assert "Ledtråd" in out and "Rätt" not in out, f"{nb.cells[i].id} ({given}): {out!r}"
