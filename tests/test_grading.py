"""Student versions and the autograder: on a small fixture notebook (fast), then on the real 00 and 01."""
import copy
import json
import subprocess
import sys
from types import SimpleNamespace

import jupytext
import nbformat
import pytest

from conftest import load_ci_script
from course_utils import grading
from course_utils.config import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "grading_fixture" / "90_fixture.py"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The fixture as a one-notebook course: its instructor notebook, student version and folders."""
    root = tmp_path_factory.mktemp("grading")
    (root / "notebooks").mkdir()
    (root / "submissions").mkdir()
    instructor = jupytext.read(FIXTURE)
    nbformat.write(instructor, root / "notebooks" / "90_fixture.ipynb")
    return SimpleNamespace(root=root, source=root / "notebooks", instructor=instructor,
                           student=grading.student_notebook(instructor, "90_fixture"))


def submit(course, notebook, name):
    path = course.root / "submissions" / f"{name}_90_fixture.ipynb"
    nbformat.write(notebook, path)
    return path


def grade(course, path, **options):
    return grading.grade_submission(path, course.root / "out", source_dir=course.source, **options)


def points(report):
    return {row["exercise"]: row["points"] for row in report["exercises"]}


def answer(course, grade_id, code, replace=STUB):
    """The student version with the stub of cell ``grade_id`` replaced by ``code``."""
    notebook = copy.deepcopy(course.student)
    cell = next(c for c in notebook.cells if c.get("id") == grade_id)
    assert replace in cell.source
    cell.source = cell.source.replace(replace, code)
    return notebook


def test_exercises_are_found_from_the_markers(course):
    found = grading.find_exercises(course.instructor)
    assert [(e.id, e.answer_cells, e.check_cells) for e in found] == [
        ("ex1", [4], [5]), ("ex2", [7], [7]), ("ex3", [9], [10])]


def test_student_version_replaces_solutions_and_removes_hidden_tests(course):
    text = "\n".join(cell.source for cell in course.student.cells)
    assert "BEGIN SOLUTION" not in text and "ordered = sorted(numbers)" not in text and "return 2 * x" not in text
    assert "double(-3)" not in text and "HIDDEN" not in text
    assert text.count("raise NotImplementedError()") == 3
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in text  # keeps the function's indentation
    assert 'assert total == 14' in text and 'assert double(2) == 4' in text  # visible checks stay
    meta = {c.id: c.metadata["nbgrader"] for c in course.student.cells}
    assert meta["ex1-answer"]["solution"] and not meta["ex1-answer"]["locked"]
    assert meta["ex1-check"]["grade"] and meta["ex1-check"]["locked"] and meta["ex1-check"]["points"] == 1
    assert meta["cell-001"]["locked"] and not meta["cell-001"]["solution"]
    assert course.student.metadata["course_utils"]["notebook"] == "90_fixture"
    assert "BEGIN SOLUTION" in course.instructor.cells[4].source  # the instructor's notebook is left alone


def test_instructor_version_scores_full_marks_with_reproducible_metrics(course):
    first = grade(course, submit(course, course.instructor, "instructor"))
    assert first["status"] == "ran to the end" and first["flags"] == []
    assert points(first) == {"ex1": 1, "ex2": 1, "ex3": 1} and first["score"] == first["max_score"] == 3
    again = grade(course, submit(course, course.instructor, "instructor_again"),
                  reference_dir=course.root / "out" / "instructor_90_fixture" / "artifacts")
    assert again["metrics"] == {"compared": True, "equal": True, "differ": []}


def test_untouched_student_version_scores_zero_and_runs_to_the_end(course):
    report = grade(course, submit(course, course.student, "untouched"))
    assert report["status"] == "ran to the end" and report["flags"] == []
    assert points(report) == {"ex1": 0, "ex2": 0, "ex3": 0}
    assert all("NotImplementedError" in row["reason"] for row in report["exercises"])
    results = course.root / "out" / "untouched_90_fixture" / "artifacts" / "results" / "90_fixture.json"
    assert json.loads(results.read_text())["metrics"]["numbers"]["count"] == 3  # the last cell ran


@pytest.mark.parametrize("grade_id, code, solved", [
    ("ex1-answer", "ordered = sorted(numbers)", "ex1"),
    ("ex2-answer-check", "total = 0\nfor n in numbers:\n    total += n ** 2", "ex2"),
    ("ex3-answer", "    return x + x", "ex3"),
])
def test_one_exercise_solved_scores_exactly_that_one(course, grade_id, code, solved):
    replace = "    " + STUB.replace("\n", "\n    ") if solved == "ex3" else STUB
    report = grade(course, submit(course, answer(course, grade_id, code, replace), f"solved_{solved}"))
    assert report["flags"] == [] and report["status"] == "ran to the end"
    assert points(report) == {e: float(e == solved) for e in ("ex1", "ex2", "ex3")}


def test_deleted_check_cell_and_edited_parameters_cell_are_flagged(course):
    tampered = copy.deepcopy(course.instructor)
    tampered.cells[1].source = tampered.cells[1].source.replace('profile = "ci"', 'profile = "laptop"')
    del tampered.cells[5]  # the check cell of exercise 1
    report = grade(course, submit(course, tampered, "tampered"))
    assert any("parameters cell edited" in flag for flag in report["flags"]), report["flags"]
    assert any("check cell deleted" in flag and "ex1" in flag for flag in report["flags"]), report["flags"]
    assert report["score"] == 3  # graded with the instructor's cells restored


def test_an_edited_check_in_an_answer_cell_is_restored(course):
    cheat = answer(course, "ex2-answer-check", "total = 0")
    cell = next(c for c in cheat.cells if c.get("id") == "ex2-answer-check")
    cell.source = cell.source.replace('assert total == 14, f"expected 14, got {total}"', "assert True")
    report = grade(course, submit(course, cheat, "cheat"))
    assert any("edited outside its answer region" in flag for flag in report["flags"])
    assert points(report)["ex2"] == 0 and "AssertionError: expected 14, got 0" in report["exercises"][1]["reason"]


def test_added_cells_are_kept_and_a_broken_notebook_is_reported(course):
    broken = answer(course, "ex1-answer", "ordered = sorted(numbers)\nnumbers = None")
    broken.cells.insert(3, nbformat.v4.new_code_cell("scratch = 1 / 0"))
    report = grade(course, submit(course, broken, "broken"))
    assert report["status"].startswith("stopped at cell 11: TypeError"), report["status"]
    assert not grading.ran(report) and points(report)["ex1"] == 1
    assert any("added" in note for note in report["notes"])


def test_timeout_and_unreadable_submissions_are_reported(course):
    slow = answer(course, "ex1-answer", "import time\ntime.sleep(60)")
    report = grade(course, submit(course, slow, "slow"), timeout=3)
    assert report["status"].startswith("did not finish: timed out"), report["status"]
    assert points(report) == {"ex1": 0, "ex2": 0, "ex3": 0}
    garbage = course.root / "submissions" / "garbage_90_fixture.ipynb"
    garbage.write_text("{ not json")
    assert grade(course, garbage)["status"].startswith("not graded: garbage_90_fixture.ipynb: not a readable notebook")
    unnamed = submit(course, course.instructor, "x").rename(course.root / "submissions" / "homework.ipynb")
    assert "pass --notebook" in grade(course, unnamed)["status"]


def test_reports_table_in_markdown_and_json(course, tmp_path):
    reports = grading.grade_submissions([submit(course, course.student, "table")], tmp_path, source_dir=course.source)
    table = (tmp_path / "grades.md").read_text()
    assert "| submission | notebook | ex1 | ex2 | ex3 | score | status | flags |" in table
    assert "| table_90_fixture.ipynb | 90_fixture | 0/1 | 0/1 | 0/1 | 0/3 | ran to the end | none |" in table
    assert json.loads((tmp_path / "grades.json").read_text())[0]["score"] == reports[0]["score"] == 0


def test_make_student_writes_every_course_notebook(tmp_path):
    make_student = load_ci_script("make_student")
    assert make_student.main(["--out", str(tmp_path)]) == 0
    for name in grading.course_notebooks():
        source = REPO_ROOT / "notebooks" / f"{name}.ipynb"
        student = nbformat.read(tmp_path / source.name, as_version=4)
        text = "\n".join(cell.source for cell in student.cells if cell.cell_type == "code")
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, source.name
        exercises = grading.find_exercises(grading.load_instructor(name), name)
        assert text.count("raise NotImplementedError()") >= len(exercises)
        assert all(e.check_cells for e in exercises), f"{source.stem}: an exercise without a check cell"


@pytest.mark.notebooks
def test_cli_grades_the_untouched_student_version_of_00_as_zero(ci_run, tmp_path):
    instructor = grading.load_instructor("00_setup")
    if not grading.find_exercises(instructor):
        pytest.skip("00_setup has no exercises")
    nbformat.write(grading.student_notebook(instructor, "00_setup"), tmp_path / "alice_00_setup.ipynb")
    data_dir = ci_run[1].parent / "data"
    done = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(tmp_path / "alice_00_setup.ipynb"),
                           "--out", str(tmp_path / "grades"), "--data-dir", str(data_dir)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "grades" / "grades.json").read_text())[0]
    assert report["status"] == "ran to the end" and report["flags"] == []
    assert report["exercises"] and all(row["points"] == 0 for row in report["exercises"])
    assert "| alice_00_setup.ipynb | 00_setup |" in done.stdout


@pytest.mark.notebooks
def test_instructor_01_scores_full_marks_and_reproduces_the_course_run(ci_run, tmp_path):
    code, artifacts, _ = ci_run
    assert code == 0
    report = grading.grade_submission(REPO_ROOT / "notebooks" / "01_eda.ipynb", tmp_path,
                                      data_dir=artifacts.parent / "data", reference_dir=artifacts)
    assert report["status"] == "ran to the end" and report["flags"] == []
    assert report["score"] == report["max_score"] > 0, report["exercises"]
    assert report["metrics"] == {"compared": True, "equal": True, "differ": []}, report["metrics"]
