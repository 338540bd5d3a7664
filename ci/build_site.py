"""Build the course site (static HTML) from the executed notebooks of the last `make course` run.

Sphinx with MyST-NB and sphinx-book-theme (the Jupyter Book 1 stack, configured in ``ci/site/``)
renders the outputs stored in ``<artifacts>/notebooks/*.ipynb``; nothing is executed and nothing
is downloaded. The landing page carries the README's introduction, course map and profiles, and
the results table of ``<artifacts>/results/*.json``. Every course notebook of ``notebooks/``
becomes a page, in order. Output: ``<artifacts>/site/html/index.html``.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
import warnings as warnings_module
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "ci"))
from course_utils import grading  # noqa: E402
from course_utils.paths import REPO_URL  # noqa: E402
from make_readme_table import results_table  # noqa: E402
from run_notebooks import discover  # noqa: E402

CONF_DIR = REPO_ROOT / "ci" / "site"
BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = "_assets/colab-badge.svg"
LANDING_SECTIONS = ("Course map", "Profiles")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def readme_sections(readme: str) -> tuple[str, str, dict[str, str]]:
    """The README's title, its introduction (before the first ``##``) and its ``##`` sections by name."""
    title, _, rest = readme.partition("\n")
    chunks = re.split(r"^## +(.+)$", rest, flags=re.M)
    return title.lstrip("# ").strip(), chunks[0].strip(), {
        chunks[k].strip(): chunks[k + 1].strip() for k in range(1, len(chunks) - 1, 2)}


def rewrite_links(text: str, pages: set[str], base: Path, assets: Path) -> str:
    """Links of README or notebook markdown made to work on the site.

    Notebook links become page links, the Colab badge a local copy, other relative images are
    copied beside the pages, other relative links point at the file in the repository.
    """
    def repl(match: re.Match) -> str:
        bang, label, target = match.groups()
        if target == BADGE_URL:
            return f"{bang}[{label}]({BADGE})"
        if re.match(r"^[a-z]+:|^#", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        stem = Path(path).stem
        if path.endswith((".ipynb", ".py")) and stem in pages:
            return f"{bang}[{label}]({stem}.ipynb{'#' + anchor if anchor else ''})"
        source = (base / path).resolve()
        if bang and source.is_file():
            assets.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, assets / source.name)
            return f"{bang}[{label}](_assets/{source.name})"
        if source.is_relative_to(REPO_ROOT) and not bang:
            return f"[{label}]({REPO_URL}/blob/main/{source.relative_to(REPO_ROOT).as_posix()})"
        return match.group(0)

    return _LINK.sub(repl, text)


def stage_notebook(executed: Path, out: Path, pages: set[str]) -> list[str]:
    """Copy an executed notebook for the site: papermill's cells and hidden tests removed,
    solutions folded, links and images made local. Returns the problems found."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    problems = []
    if notebook.metadata.get("papermill", {}).get("exception"):
        problems.append(f"{executed.name}: the last run failed in this notebook (see its error cell)")
    cells = []
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if {"injected-parameters", "papermill-error-cell-tag"} & set(tags):
            continue
        where = f"{executed.stem}: a cell"
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, pages, REPO_ROOT / "notebooks", out.parent / "_assets")
        elif re.search(r"BEGIN (SOLUTION|HIDDEN TESTS)", cell.source):
            has_solution = "BEGIN SOLUTION" in cell.source
            cell.source = grading.visible_source(cell.source, where)
            if has_solution:  # a reader sees the exercise; the reference solution is one click away
                cell.metadata["tags"] = sorted(set(tags) | {"hide-input"})
        cells.append(cell)
    notebook.cells = cells
    nbformat.write(notebook, out)
    return problems


def landing_page(artifacts: Path, pages: list[str], assets: Path) -> str:
    title, intro, sections = readme_sections((REPO_ROOT / "README.md").read_text())
    timings = artifacts / "timings.json"
    run = json.loads(timings.read_text()) if timings.is_file() else {}
    known = set(pages)
    parts = [f"# {title}", rewrite_links(intro, known, REPO_ROOT, assets)]
    for name in LANDING_SECTIONS:
        if name in sections:
            parts += [f"## {name}", rewrite_links(sections[name], known, REPO_ROOT, assets)]
        if name == LANDING_SECTIONS[0]:
            profile = run.get("profile", "ci")
            parts += ["## Results of the last run",
                      f"Every number below is read from the `results/*.json` files of the run these pages show "
                      f"(profile `{profile}`, dataset `{run.get('dataset', 'synthetic')}`); "
                      "`make course` reproduces them, the same seed giving the same metrics.",
                      results_table(artifacts)]
    parts += ["```{toctree}\n:hidden:\n:maxdepth: 1\n\n" + "\n".join(pages) + "\n```"]
    return "\n\n".join(parts) + "\n"


def build(artifacts_dir: Path, out_dir: Path, quiet: bool = True) -> tuple[Path, list[str]]:
    """Stage the sources and run Sphinx; returns the HTML folder and the problems (warnings)."""
    from sphinx.cmd.build import build_main

    executed_dir = artifacts_dir / "notebooks"
    names = [nb.stem for nb in discover()]
    missing = [n for n in names if not (executed_dir / f"{n}.ipynb").is_file()]
    if missing:
        raise SystemExit(f"no executed notebook for {missing} in {executed_dir}: run `make course` first")
    src, html, doctrees = out_dir / "src", out_dir / "html", out_dir / "doctrees"
    for folder in (src, html, doctrees):
        shutil.rmtree(folder, ignore_errors=True)
    (src / "_assets").mkdir(parents=True)
    shutil.copy(CONF_DIR / "colab-badge.svg", src / BADGE)
    problems = []
    for name in names:
        problems += stage_notebook(executed_dir / f"{name}.ipynb", src / f"{name}.ipynb", set(names))
    (src / "index.md").write_text(landing_page(artifacts_dir, names, src / "_assets"))
    warnings = out_dir / "warnings.txt"
    with warnings_module.catch_warnings():  # the extensions' deprecation notices about Sphinx 11
        warnings_module.simplefilter("ignore", DeprecationWarning)
        warnings_module.simplefilter("ignore", PendingDeprecationWarning)
        code = build_main(["-b", "html", "-c", str(CONF_DIR), "-d", str(doctrees), "-w", str(warnings),
                           "-j", "2", *(["-q"] if quiet else []), str(src), str(html)])
    if code:
        raise SystemExit(f"sphinx-build failed (exit {code}); see {warnings}")
    problems += [line for line in warnings.read_text().splitlines() if line.strip()]
    return html, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts-dir", default=str(REPO_ROOT / "artifacts"),
                        help="the run to show: its notebooks/ and results/ (default: artifacts/)")
    parser.add_argument("--out", default=None, help="site folder (default: <artifacts-dir>/site)")
    args = parser.parse_args(argv)
    artifacts = Path(args.artifacts_dir).resolve()
    start = time.perf_counter()
    html, problems = build(artifacts, Path(args.out).resolve() if args.out else artifacts / "site")
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"site built in {time.perf_counter() - start:.1f} s -> {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
