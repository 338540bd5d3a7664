"""Student versions and autograding of the course notebooks, in nbgrader's format (no JupyterHub).

The instructor version is the notebook itself (``notebooks/NN_name.py``). Reference solutions sit
between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, tests that students must not see
between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``. An *exercise* is found from the cells
alone, so a notebook joins grading by being written this way:

* a code cell holding a solution region starts an exercise (its *answer* cell);
* the code cells right after it that assert (``assert ...``) or hold hidden tests are its *check*
  cells; a cell may be both, an answer region followed by the asserts on it;
* nbgrader metadata written into the source (``nbgrader={"grade_id": ..., "points": ...}``) names
  the exercise and its points; without it exercises are ``ex1``, ``ex2``, ... worth 1 point.

:func:`student_notebook` replaces each solution region by ``# YOUR CODE HERE`` /
``raise NotImplementedError()``, removes the hidden tests and writes nbgrader's cell metadata
(answer cells ``solution``, check cells ``grade`` and ``locked``, every other cell ``locked``).
:func:`grade_submission` rebuilds the instructor notebook around the submission's answers (every
other cell as the instructor wrote it, hidden tests restored), runs it with papermill in the
``ci`` profile, and scores each exercise: full points when its answer and check cells ran without
an error, else zero. Edits outside the answer regions are undone for grading and reported.

papermill and nbformat are development tools, imported inside the functions that need them.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import difflib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config import REPO_ROOT
from .jobs import CourseError, atomic_write_text

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
MARKERS = {"BEGIN SOLUTION": ("solution", True), "END SOLUTION": ("solution", False),
           "BEGIN HIDDEN TESTS": ("hidden", True), "END HIDDEN TESTS": ("hidden", False)}
_MARKER = re.compile(r"^\s*#*\s*(BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS)\s*$")
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
MARKDOWN_STUB = "YOUR ANSWER HERE"
ALLOWED_TO_FAIL = "raises-exception"  # nbclient's tag: an error in such a cell does not stop the run
GRADE_PARAMETERS = {"profile": "ci", "dataset": "synthetic", "seed": 42}


class GradingError(CourseError):
    """A submission or a source that cannot be graded (named, with the reason)."""


# ---------------------------------------------------------------------------------------------
# Regions inside one cell


@dataclasses.dataclass
class Part:
    kind: str  # "locked" | "solution" | "hidden"
    lines: list[str]


def split_regions(source: str, where: str = "cell") -> list[Part]:
    """The lines of ``source`` as locked, solution and hidden-test parts (marker lines dropped)."""
    parts: list[Part] = [Part("locked", [])]
    open_kind = None
    for number, line in enumerate(source.splitlines(), 1):
        match = _MARKER.match(line)
        if not match:
            if parts[-1].kind != (open_kind or "locked"):
                parts.append(Part(open_kind or "locked", []))
            parts[-1].lines.append(line)
            continue
        kind, begins = MARKERS[match.group(1)]
        if begins == (open_kind is not None) or (not begins and open_kind != kind):
            raise GradingError(f"{where}, line {number}: unbalanced '{match.group(1)}'")
        open_kind = kind if begins else None
        parts.append(Part(open_kind or "locked", []))
    if open_kind:
        raise GradingError(f"{where}: '### BEGIN {open_kind.upper()}' is never closed")
    return [p for p in parts if p.lines or p.kind == "solution"]


def _indent(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            return line[:len(line) - len(line.lstrip())]
    return ""


def student_source(source: str, markdown: bool = False, where: str = "cell") -> str:
    """``source`` with solutions replaced by the stub and hidden tests removed."""
    out: list[str] = []
    for part in split_regions(source, where):
        if part.kind == "locked":
            out += part.lines
        elif part.kind == "solution":
            out += [MARKDOWN_STUB] if markdown else [_indent(part.lines) + s for s in CODE_STUB]
    return "\n".join(out)


def visible_source(source: str, where: str = "cell") -> str:
    """``source`` as a reader of the executed course sees it: marker lines and hidden tests removed."""
    return "\n".join(line for p in split_regions(source, where) if p.kind != "hidden" for line in p.lines)


def _is_code_line(line: str) -> bool:
    text = line.strip()
    return bool(text) and not text.startswith("#")


def _has_assert(source: str) -> bool:
    text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


# ---------------------------------------------------------------------------------------------
# Exercises of a notebook


@dataclasses.dataclass
class Exercise:
    id: str
    points: float
    answer_cells: list[int] = dataclasses.field(default_factory=list)
    check_cells: list[int] = dataclasses.field(default_factory=list)
    title: str = ""

    @property
    def cells(self) -> list[int]:
        return sorted(set(self.answer_cells) | set(self.check_cells))


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def find_exercises(notebook, name: str = "notebook") -> list[Exercise]:
    """The exercises of an instructor notebook, in order (see the module docstring)."""
    exercises: list[Exercise] = []
    current: Exercise | None = None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}: cell {index}"
        parts = split_regions(cell.source, where)
        has_solution = any(p.kind == "solution" for p in parts)
        outside = "\n".join(line for p in parts if p.kind == "locked" for line in p.lines)
        is_check = (any(p.kind == "hidden" for p in parts) or _has_assert(outside)
                    or bool(_nbgrader_meta(cell).get("grade")))
        meta = _nbgrader_meta(cell)
        if has_solution:
            if current is None or current.check_cells:
                current = Exercise(meta.get("grade_id") or f"ex{len(exercises) + 1}", 0.0)
                current.title = _title(parts)
                exercises.append(current)
            current.answer_cells.append(index)
        elif not (is_check and current is not None):
            current = None
            continue
        if is_check:
            current.check_cells.append(index)
            current.points += float(meta.get("points", 0) or 0)
    for exercise in exercises:
        exercise.points = exercise.points or 1.0
    return exercises


def _title(parts: list[Part]) -> str:
    for part in parts:
        for line in part.lines:
            if line.strip().startswith("#") and line.strip("# ").strip():
                return line.strip("# ").strip()
            if line.strip():
                return ""
    return ""


def cell_roles(notebook, exercises: Sequence[Exercise]) -> dict[int, tuple[str, str]]:
    """``{cell index: (role, exercise id)}`` for answer, check and answer+check cells."""
    roles: dict[int, tuple[str, str]] = {}
    for exercise in exercises:
        for index in exercise.cells:
            answer, check = index in exercise.answer_cells, index in exercise.check_cells
            roles[index] = ("answer+check" if answer and check else "answer" if answer else "check", exercise.id)
    return roles


def _grade_ids(notebook, exercises: Sequence[Exercise]) -> list[str]:
    roles = cell_roles(notebook, exercises)
    ids, seen = [], set()
    for index, cell in enumerate(notebook.cells):
        role = roles.get(index)
        base = f"{role[1]}-{role[0].replace('+', '-')}" if role else f"cell-{index:03d}"
        grade_id, k = base, 2
        while grade_id in seen:
            grade_id, k = f"{base}-{k}", k + 1
        seen.add(grade_id)
        ids.append(re.sub(r"[^A-Za-z0-9_-]", "-", grade_id)[:64])
    return ids


def course_notebooks(source_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """The ``NN_name`` of every course notebook in ``source_dir`` (jupytext source or ``.ipynb``)."""
    return sorted({p.stem for p in Path(source_dir).glob("[0-9][0-9]_*") if p.suffix in (".py", ".ipynb")})


def load_instructor(name: str, source_dir: Path = NOTEBOOKS_DIR):
    """The instructor notebook ``NN_name``: its jupytext source (the source of truth), else its ``.ipynb``."""
    import nbformat

    source = Path(source_dir) / f"{name}.py"
    if source.is_file():
        import jupytext

        return jupytext.read(source)
    path = source.with_suffix(".ipynb")
    if not path.is_file():
        raise GradingError(f"no course notebook {name!r} in {Path(source_dir).name}/ "
                           f"(known: {', '.join(course_notebooks(source_dir))})")
    return nbformat.read(path, as_version=4)


def student_notebook(instructor, name: str):
    """The student version of ``instructor`` (a new notebook; the argument is left alone)."""
    exercises = find_exercises(instructor, name)
    roles = cell_roles(instructor, exercises)
    points = {index: e.points / max(1, len(e.check_cells)) for e in exercises for index in e.check_cells}
    student = copy.deepcopy(instructor)
    for index, (cell, grade_id) in enumerate(zip(student.cells, _grade_ids(instructor, exercises))):
        role = roles.get(index, ("locked", ""))[0]
        where = f"{name}: cell {index}"
        cell.source = student_source(cell.source, markdown=cell.cell_type != "code", where=where)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        grade = role in ("check", "answer+check")
        meta = {"grade": grade, "grade_id": grade_id, "locked": role in ("check", "locked"),
                "schema_version": 3, "solution": role in ("answer", "answer+check"), "task": False}
        if grade:
            meta["points"] = points[index]
        cell.metadata["nbgrader"] = meta
        cell["id"] = grade_id
    student.metadata["course_utils"] = {"notebook": name, "version": "student",
                                        "exercises": [e.id for e in exercises]}
    student.nbformat_minor = max(student.nbformat_minor, 5)
    return student


def write_student_versions(out_dir: Path, source_dir: Path = NOTEBOOKS_DIR,
                           names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Write the student version of every course notebook into ``out_dir``; one row per notebook."""
    import nbformat

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names or course_notebooks(source_dir):
        instructor = load_instructor(name, source_dir)
        student = student_notebook(instructor, name)
        path = out_dir / f"{name}.ipynb"
        atomic_write_text(path, nbformat.writes(student) + "\n")
        exercises = find_exercises(instructor, name)
        rows.append({"notebook": name, "path": path, "exercises": [e.id for e in exercises],
                     "points": sum(e.points for e in exercises)})
    return rows


# ---------------------------------------------------------------------------------------------
# Rebuilding the instructor notebook around a submission's answers


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def _groups(parts: list[Part]) -> list[tuple[str, list[Part]]]:
    """Parts as enforced ("locked") and editable ("answer") groups of the student's view.

    Locked parts holding only comments and blank lines join a neighbouring answer group (a student
    may edit them); hidden parts are their own group (invisible to the student, never enforced).
    """
    code = [p.kind == "locked" and any(_is_code_line(line) for line in p.lines) for p in parts]
    groups: list[tuple[str, list[Part]]] = []
    for index, part in enumerate(parts):
        if part.kind == "hidden":
            kind = "hidden"
        elif part.kind == "solution" or not code[index] and any(
                p.kind == "solution" for p in parts[max(0, index - 1):index + 2]):
            kind = "answer"
        else:
            kind = "locked"
        if groups and groups[-1][0] == kind and kind != "hidden":
            groups[-1][1].append(part)
        else:
            groups.append((kind, [part]))
    return groups


def _find_block(haystack: list[str], needle: list[str], start: int) -> int:
    needle = [line for line in needle if line.strip()]
    if not needle:
        return start
    for at in range(start, len(haystack) - len(needle) + 1):
        if all(haystack[at + k].strip() == needle[k].strip() for k in range(len(needle))):
            return at
    return -1


def merge_answer(instructor_source: str, submitted: str, where: str) -> tuple[str, list[str]]:
    """The instructor cell with the submission's answer lines in place, and the edits found outside them."""
    try:
        submitted = visible_source(submitted, where)  # an instructor copy carries markers and hidden tests
    except GradingError:
        pass
    groups = _groups(split_regions(instructor_source, where))
    lines, pos, out, deferred, problems = _lines(submitted), 0, [], [], []
    if not any(kind == "locked" for kind, _ in groups):  # a pure answer cell: every line is the student's
        return "\n".join(lines + [line for kind, ps in groups if kind == "hidden" for p in ps for line in p.lines]), []
    answer_open = False
    for kind, parts in groups:
        text = [line for p in parts for line in p.lines]
        if kind == "answer":
            answer_open = True
        elif kind == "hidden":
            (deferred if answer_open else out).extend(text)
        else:
            at = _find_block(lines, text, pos)
            if at >= 0:
                end = at + len([line for line in text if line.strip()])
            else:  # edited: the answer runs up to the first line that still matches the locked text
                problems.append(f"{where}: edited outside its answer region (restored for grading)")
                blocks = [b for b in difflib.SequenceMatcher(None, lines[pos:], text, autojunk=False)
                          .get_matching_blocks() if b.size]
                at = pos + blocks[0].a if blocks else len(lines)
                end = pos + blocks[-1].a + blocks[-1].size if blocks else len(lines)
            if answer_open:
                out += lines[pos:at] + deferred
            elif any(line.strip() for line in lines[pos:at]):
                problems.append(f"{where}: lines added outside its answer region (dropped for grading)")
            out += text
            deferred, answer_open, pos = [], False, max(end, at)
    if answer_open:
        out += lines[pos:]
    elif any(line.strip() for line in lines[pos:]):
        problems.append(f"{where}: lines added outside its answer region (dropped for grading)")
    return "\n".join(out + deferred), sorted(set(problems), key=problems.index)


def _answer_only(source: str, where: str) -> str:
    """``source`` as one solution region (its hidden tests kept), for a cell that is all the student's."""
    hidden = [p for p in split_regions(source, where) if p.kind == "hidden"]
    return "\n".join(["### BEGIN SOLUTION", "### END SOLUTION"] + [
        line for p in hidden for line in ["### BEGIN HIDDEN TESTS", *p.lines, "### END HIDDEN TESTS"]])


@dataclasses.dataclass
class Assembly:
    notebook: Any
    exercises: list[Exercise]
    flags: list[str]
    notes: list[str]


def _key(cell) -> str:
    source = cell.source or ""
    try:
        source = visible_source(source)
    except GradingError:
        pass
    return f"{cell.cell_type}:{_norm(source)}"


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _pair_cells(instructor, student, submitted: list, answers: set[int], grade_ids: list[str]) -> dict[int, int]:
    """Instructor cell index -> submitted cell index: by grade_id, then identical text, then position."""
    pairs: dict[int, int] = {}
    for j, cell in enumerate(submitted):
        gid = _nbgrader_meta(cell).get("grade_id")
        if gid in grade_ids:
            i = grade_ids.index(gid)
            if i not in pairs and instructor.cells[i].cell_type == cell.cell_type:
                pairs[i] = j
    taken = {j: i for i, j in pairs.items()}
    keys_i = [f"paired:{i}" if i in pairs else f"answer:{i}" if i in answers else _key(c)
              for i, c in enumerate(student.cells)]
    keys_s = [f"paired:{taken[j]}" if j in taken else _key(c) for j, c in enumerate(submitted)]
    for block in difflib.SequenceMatcher(None, keys_i, keys_s, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            pairs.setdefault(block.a + k, block.b + k)
    bounds = [(-1, -1)] + sorted(pairs.items()) + [(len(student.cells), len(submitted))]
    for (i0, j0), (i1, j1) in zip(bounds, bounds[1:]):
        free = [j for j in range(j0 + 1, j1) if submitted[j].cell_type == "code"]
        for i in range(i0 + 1, i1):
            if student.cells[i].cell_type != "code" or not free:
                continue
            targets = (student.cells[i].source, instructor.cells[i].source)
            score = {j: max(_similarity(t, submitted[j].source) for t in targets) for j in free}
            best = max(free, key=lambda j: score[j])
            if i in answers or score[best] >= 0.5:
                pairs[i] = best
                free = [j for j in free if j > best]
    return pairs


def assemble(instructor, submission, name: str) -> Assembly:
    """The notebook to execute: the instructor's cells with the submission's answers in them."""
    import nbformat

    exercises = find_exercises(instructor, name)
    roles = cell_roles(instructor, exercises)
    student = student_notebook(instructor, name)
    skip = {"papermill-error-cell-tag", "injected-parameters"}
    submitted = [c for c in submission.cells if c.cell_type in ("code", "markdown")
                 and not skip & set(c.get("metadata", {}).get("tags", []))]
    answers = {i for i, (role, _) in roles.items() if role.startswith("answer")}
    pairs = _pair_cells(instructor, student, submitted, answers, _grade_ids(instructor, exercises))
    paired = set(pairs.values())
    flags: list[str] = []
    notes: list[str] = []
    cells = []
    for i, cell in enumerate(instructor.cells):
        role, exercise = roles.get(i, ("locked", ""))
        new = copy.deepcopy(cell)
        tags = [t for t in new.metadata.get("tags", []) if t != ALLOWED_TO_FAIL]
        if cell.cell_type == "code":
            new.outputs, new.execution_count = [], None
            where = f"cell {i}" + (f" (exercise {exercise})" if exercise else "")
            mine = submitted[pairs[i]] if i in pairs else None
            if i in answers:
                if mine is None:
                    flags.append(f"{where}: answer cell deleted (graded as unanswered)")
                    new.source = student.cells[i].source
                elif role == "answer":  # nbgrader's solution cell: every line is the student's
                    new.source = merge_answer(_answer_only(cell.source, where), mine.source, where)[0]
                else:  # the asserts sharing the cell stay the instructor's
                    new.source, problems = merge_answer(cell.source, mine.source, where)
                    flags += problems
            else:
                what = ("parameters cell" if "parameters" in tags else "check cell" if role == "check" else "cell")
                if mine is None:
                    flags.append(f"{where}: {what} deleted (restored for grading)")
                elif _key(mine) != _key(student.cells[i]):
                    flags.append(f"{where}: {what} edited (restored for grading)")
        if role != "locked":
            tags.append(ALLOWED_TO_FAIL)
        new.metadata["tags"] = tags
        new.metadata["course_utils"] = {"role": role, "exercise": exercise, "cell": i}
        cells.append(new)
        j = pairs.get(i, -2) + 1
        while 0 <= j < len(submitted) and j not in paired:  # cells the student added: kept, allowed to fail
            if submitted[j].cell_type == "code" and submitted[j].source.strip():
                added = nbformat.v4.new_code_cell(submitted[j].source)
                added.metadata["tags"] = [ALLOWED_TO_FAIL]
                added.metadata["course_utils"] = {"role": "added", "exercise": "", "cell": None}
                cells.append(added)
                notes.append(f"a code cell added after cell {i} was kept (its errors do not stop grading)")
            j += 1
    graded = copy.deepcopy(instructor)
    graded.cells = cells
    for cell in graded.cells:
        cell.pop("id", None)
    graded.nbformat_minor = 4
    return Assembly(graded, exercises, flags, notes)


# ---------------------------------------------------------------------------------------------
# Running and scoring


def identify(path: Path, submission, known: Sequence[str]) -> str:
    """Which course notebook a submission is: its metadata, else a ``NN_name`` in its file name."""
    meta = submission.get("metadata", {}).get("course_utils", {})
    if isinstance(meta, dict) and meta.get("notebook") in known:
        return meta["notebook"]
    found = [name for name in known if name in path.name]
    if found:
        return max(found, key=len)
    raise GradingError(f"{path.name}: cannot tell which course notebook this is; pass --notebook NN_name")


def _error_text(output) -> str:
    value = str(output.get("evalue", "")).strip()
    return f"{output.get('ename', 'Error')}: {value.splitlines()[-1] if value else ''}".strip().rstrip(":")


def _executed(cell) -> str:
    """"error: ...", "ok" or "not run" for one executed cell."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return "error: " + _error_text(output)
    if cell.get("execution_count") is None and cell.source.strip():
        return "not run"
    return "ok"


def run_graded(notebook_path: Path, out_path: Path, parameters: dict, timeout: float, cwd: Path) -> tuple[Any, str]:
    """Execute with papermill; returns the executed notebook and the run's status line."""
    import nbformat
    import papermill as pm

    status = "ran to the end"
    figures = os.environ.get("COURSE_FIGURES_DIR")
    os.environ["COURSE_FIGURES_DIR"] = str(Path(parameters["artifacts_dir"]) / "figures")  # the kernel inherits it
    try:
        pm.execute_notebook(str(notebook_path), str(out_path), parameters=parameters, kernel_name="python3",
                            language="python", cwd=str(cwd), progress_bar=False, execution_timeout=timeout)
    except pm.PapermillExecutionError as error:
        status = f"stopped at cell In [{error.exec_count}]: {error.ename}: {str(error.evalue).strip()[:200]}"
    except Exception as error:  # timeouts, a dead kernel: the cells run so far are saved
        kind = type(error).__name__
        reason = "timed out" if "Timeout" in kind else "the kernel died" if "DeadKernel" in kind else kind
        status = f"did not finish: {reason} ({str(error).strip().splitlines()[0][:200] if str(error).strip() else kind})"
    finally:
        if figures is None:
            os.environ.pop("COURSE_FIGURES_DIR", None)
        else:
            os.environ["COURSE_FIGURES_DIR"] = figures
    if not out_path.is_file():
        return nbformat.read(notebook_path, as_version=4), status
    executed = nbformat.read(out_path, as_version=4)
    executed.cells = [c for c in executed.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    if status == "ran to the end" or status.startswith("stopped"):
        stopped = [c for c in executed.cells if c.metadata.get("course_utils", {}).get("role") == "locked"
                   and _executed(c).startswith("error")]
        if not stopped and status.startswith("stopped"):
            status = "ran to the end"  # only answer and check cells failed: they are allowed to
        elif stopped:
            index = stopped[0].metadata["course_utils"]["cell"]
            status = f"stopped at cell {index}: {_executed(stopped[0])[7:]}"
    return executed, status


def score(executed, exercises: Sequence[Exercise]) -> list[dict[str, Any]]:
    """Per exercise: points when every answer and check cell ran without an error, else 0."""
    by_cell = {c.metadata.get("course_utils", {}).get("cell"): c for c in executed.cells}
    rows = []
    for exercise in exercises:
        reasons = []
        for index in exercise.cells:
            cell = by_cell.get(index)
            state = _executed(cell) if cell is not None else "not run"
            if state != "ok":
                reasons.append(f"cell {index}: {state}")
        passed = not reasons
        rows.append({"exercise": exercise.id, "title": exercise.title, "points": exercise.points if passed else 0.0,
                     "max_points": exercise.points, "passed": passed, "reason": reasons[0] if reasons else ""})
    return rows


def compare_metrics(results: Path, reference_dir: Path | None) -> dict[str, Any] | None:
    """Whether the graded run's ``metrics`` equal those of a reference run of the same profile and seed."""
    if reference_dir is None:
        return None
    reference = Path(reference_dir)
    reference = reference / "results" / results.name if (reference / "results").is_dir() else reference / results.name
    if not reference.is_file() or not results.is_file():
        return {"compared": False, "reason": f"no {results.name} " + ("in the reference" if results.is_file()
                                                                      else "written by the graded run")}
    mine, theirs = json.loads(results.read_text()), json.loads(reference.read_text())
    for key in ("profile", "dataset", "seed"):
        if mine.get(key) != theirs.get(key):
            return {"compared": False, "reason": f"the reference ran with {key}={theirs.get(key)!r}"}
    differ = sorted(f"{m}.{k}" for m in set(mine["metrics"]) | set(theirs["metrics"])
                    for k in set(mine["metrics"].get(m, {})) | set(theirs["metrics"].get(m, {}))
                    if mine["metrics"].get(m, {}).get(k) != theirs["metrics"].get(m, {}).get(k))
    return {"compared": True, "equal": not differ, "differ": differ}


def grade_submission(path: str | Path, out_dir: str | Path, notebook: str | None = None,
                     source_dir: Path = NOTEBOOKS_DIR, data_dir: str | Path | None = None,
                     reference_dir: str | Path | None = None, timeout: float = 600.0,
                     seed: int = 42) -> dict[str, Any]:
    """Grade one submission; writes the graded notebook and returns its report (see :func:`write_reports`)."""
    import nbformat


    path = Path(path)
    start = time.perf_counter()
    report: dict[str, Any] = {"submission": path.name, "notebook": notebook, "status": "", "score": 0.0,
                              "max_score": 0.0, "exercises": [], "flags": [], "notes": []}
    try:
        try:
            submission = nbformat.read(path, as_version=4)
        except FileNotFoundError:
            raise GradingError(f"{path}: no such file") from None
        except Exception as error:  # not JSON, not a notebook
            raise GradingError(f"{path.name}: not a readable notebook ({type(error).__name__}: "
                               f"{str(error).splitlines()[0][:120] if str(error) else ''})") from None
        known = course_notebooks(source_dir)
        name = notebook or identify(path, submission, known)
        report["notebook"] = name
        assembly = assemble(load_instructor(name, source_dir), submission, name)
    except GradingError as error:
        report.update(status=f"not graded: {error}", seconds=round(time.perf_counter() - start, 1))
        return report
    report["flags"], report["notes"] = assembly.flags, sorted(set(assembly.notes))
    report["max_score"] = sum(e.points for e in assembly.exercises)
    work = Path(out_dir) / path.stem
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    parameters = {**GRADE_PARAMETERS, "seed": seed, "artifacts_dir": str(artifacts.resolve()),
                  "data_dir": str(Path(data_dir).resolve()) if data_dir else None}
    to_grade = work / f"{path.stem}.to_grade.ipynb"
    atomic_write_text(to_grade, nbformat.writes(assembly.notebook) + "\n")
    graded_path = work / f"{path.stem}.graded.ipynb"
    executed, status = run_graded(to_grade, graded_path, parameters, timeout, Path(source_dir))
    report["status"] = status
    report["exercises"] = score(executed, assembly.exercises)
    report["score"] = sum(row["points"] for row in report["exercises"])
    report["graded_notebook"] = str(graded_path)
    report["metrics"] = compare_metrics(artifacts / "results" / f"{name}.json",
                                        Path(reference_dir) if reference_dir else None)
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def ran(report: dict[str, Any]) -> bool:
    return report["status"] == "ran to the end"


def markdown_table(reports: Sequence[dict[str, Any]]) -> str:
    """One row per submission: each exercise's points, the total, the status and the flags."""
    ids: list[str] = []
    for report in reports:
        ids += [row["exercise"] for row in report["exercises"] if row["exercise"] not in ids]
    lines = ["| submission | notebook | " + " | ".join(ids) + (" | " if ids else "") + "score | status | flags |",
             "|---|---|" + "---:|" * len(ids) + "---:|---|---|"]
    for report in reports:
        got = {row["exercise"]: row for row in report["exercises"]}
        cells = [f"{got[i]['points']:g}/{got[i]['max_points']:g}" if i in got else "" for i in ids]
        flags = "<br>".join(report["flags"]) or "none"
        lines.append(f"| {report['submission']} | {report['notebook'] or '?'} | " + " | ".join(cells)
                     + (" | " if ids else "") + f"{report['score']:g}/{report['max_score']:g} | {report['status']} | {flags} |")
    failed = [(r["submission"], row) for r in reports for row in r["exercises"] if not row["passed"]]
    if failed:
        lines += ["", "Why an exercise scored zero:", ""]
        lines += [f"- {sub}, {row['exercise']}: {row['reason']}" for sub, row in failed]
    return "\n".join(lines)


def write_reports(reports: Sequence[dict[str, Any]], out_dir: str | Path) -> tuple[Path, Path]:
    """``grades.json`` (every report) and ``grades.md`` (the score table) in ``out_dir``."""
    out_dir = Path(out_dir)
    json_path = atomic_write_text(out_dir / "grades.json", json.dumps(list(reports), indent=2) + "\n")
    md_path = atomic_write_text(out_dir / "grades.md", "# Grades\n\n" + markdown_table(reports) + "\n")
    return json_path, md_path


def grade_submissions(paths: Sequence[str | Path], out_dir: str | Path, **options: Any) -> list[dict[str, Any]]:
    """Grade each submission in turn (a file that cannot be graded is reported, the rest go on),
    then write ``grades.json``, ``grades.md`` and one graded notebook per submission under ``out_dir``."""
    reports = []
    for path in paths:
        report = grade_submission(path, out_dir, **options)
        reports.append(report)
        print(f"{report['submission']}: {report['score']:g}/{report['max_score']:g} ({report['status']})"
              + "".join(f"\n  flagged: {flag}" for flag in report["flags"]), flush=True)
    write_reports(reports, out_dir)
    return reports
