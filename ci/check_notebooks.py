"""Static checks of the course notebooks; prints the problems and exits 1 if there are any.

- every ``notebooks/NN_name.py`` (jupytext percent) has its ``.ipynb`` twin with the same cells;
- the ``.ipynb`` carries no outputs or execution counts;
- exactly one cell is tagged ``parameters`` and it assigns exactly the shared names
  (plus notebook-specific overrides);
- the notebook has an Open-in-Colab badge, saves ``results/NN_name.json`` and keeps cells short;
- the badges (of the notebook and of the README) and the Colab setup cell name the repository of
  ``course_utils.paths.REPO_URL``, and a badge opens its own notebook.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from course_utils.paths import REPO_URL  # noqa: E402  (the one place the repository URL is written)

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
SHARED_PARAMETERS = ("profile", "dataset", "data_dir", "artifacts_dir", "seed")
MAX_CODE_CELL_LINES = 40


def _sources(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


_BADGE = re.compile(r"https://colab\.research\.google\.com/github/([^/\s)]+/[^/\s)]+)/blob/[^/\s)]+/([^\s)]+)")
_GIT_URL = re.compile(r"git\+(https?://[^\s\"'@#]+)")


def repo_url_problems(text: str, where: str, notebook: str | None = None, repo_url: str = REPO_URL) -> list[str]:
    """Colab badges and ``git+`` install URLs in ``text`` that name another repository than ``repo_url``.

    With ``notebook`` (``NN_name``), ``text`` must have a badge and a setup cell installing
    ``git+<repo_url>``, and its badges must open ``notebooks/NN_name.ipynb``.
    """
    problems = []
    expected = repo_url.removesuffix(".git").rstrip("/")
    badges = _BADGE.findall(text)
    for slug, path in badges:
        if f"https://github.com/{slug}" != expected:
            problems.append(f"{where}: Colab badge opens github.com/{slug}, not {expected} (course_utils.paths.REPO_URL)")
        if notebook and path != f"notebooks/{notebook}.ipynb":
            problems.append(f"{where}: Colab badge opens {path}, not notebooks/{notebook}.ipynb")
    installs = _GIT_URL.findall(text)
    for url in installs:
        if url.removesuffix(".git").rstrip("/") != expected:
            problems.append(f"{where}: setup cell installs git+{url}, not git+{expected} (course_utils.paths.REPO_URL)")
    if notebook and not badges:
        problems.append(f"{where}: no Colab badge linking {expected}")
    if notebook and not installs:
        problems.append(f"{where}: no Colab setup cell installing git+{expected}")
    return problems


def check_pair(py_path: Path) -> list[str]:
    """Problems of one notebook pair (empty list when fine)."""
    problems = []
    name = py_path.stem
    ipynb_path = py_path.with_suffix(".ipynb")
    source = jupytext.read(py_path)
    if not ipynb_path.exists():
        return [f"{py_path.name}: no paired {ipynb_path.name} (run `jupytext --to ipynb {py_path.name}`)"]
    paired = nbformat.read(ipynb_path, as_version=4)
    if _sources(source) != _sources(paired):
        problems.append(f"{ipynb_path.name}: cells differ from {py_path.name} (run `jupytext --sync` or "
                        f"`jupytext --to ipynb {py_path.name}`)")
    for index, cell in enumerate(paired.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{ipynb_path.name}: cell {index} has outputs; commit it stripped")
    parameter_cells = [c for c in source.cells if "parameters" in c.metadata.get("tags", [])]
    if len(parameter_cells) != 1:
        problems.append(f"{py_path.name}: {len(parameter_cells)} cells tagged 'parameters' (need exactly one)")
    else:
        assigned = [t.id for node in ast.parse(parameter_cells[0].source).body
                    if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]
        missing = [p for p in SHARED_PARAMETERS if p not in assigned]
        if missing:
            problems.append(f"{py_path.name}: parameters cell lacks {missing}")
    text = py_path.read_text()
    if "colab.research.google.com/assets/colab-badge.svg" not in text:
        problems.append(f"{py_path.name}: no Open-in-Colab badge")
    problems += repo_url_problems(text, py_path.name, notebook=name)
    if f'"{name}"' not in text or "save_results" not in text:
        problems.append(f"{py_path.name}: does not save results/{name}.json with runs.save_results")
    for index, cell in enumerate(source.cells):
        lines = cell.source.count("\n") + 1
        if cell.cell_type == "code" and lines > MAX_CODE_CELL_LINES:
            problems.append(f"{py_path.name}: code cell {index} has {lines} lines (max {MAX_CODE_CELL_LINES}); "
                            "move logic into course_utils")
    return problems


def check_all(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    problems = []
    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.py"))
    for ipynb in sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb")):
        if not ipynb.with_suffix(".py").exists():
            problems.append(f"{ipynb.name}: no jupytext source {ipynb.with_suffix('.py').name}")
    for py_path in sources:
        problems += check_pair(py_path)
    readme = notebooks_dir.parent / "README.md"
    if readme.is_file():
        problems += repo_url_problems(readme.read_text(), readme.name)
    return problems


if __name__ == "__main__":
    found = check_all()
    print("\n".join(found) or "all notebooks pass the checks")
    sys.exit(1 if found else 0)
