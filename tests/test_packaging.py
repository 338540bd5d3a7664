"""Packaging: the declared dependencies, the Colab install that leaves Colab's packages alone, and a wheel
that works outside the checkout."""
import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import types
from pathlib import Path

import jupytext
import pytest
from packaging.requirements import Requirement

from course_utils import paths

CHECKOUT = Path(__file__).resolve().parent.parent  # not config.REPO_ROOT: $COURSE_HOME may move that
COURSE_ENV = ("COURSE_HOME", "COURSE_DATA_DIR", "COURSE_ARTIFACTS_DIR", "PYTHONPATH")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, CHECKOUT / "ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check_colab = _load("check_colab_install")


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement)


def _makefile_extras() -> list[str]:
    found = re.search(r"^EXTRAS \?= *(\S+)", (CHECKOUT / "Makefile").read_text(), re.MULTILINE)
    assert found, "Makefile: no EXTRAS ?= line"
    return found.group(1).split(",")


# --- the declared dependencies -------------------------------------------------------------------

def test_environment_yml_pins_equal_pyproject_and_the_makefile_extras():
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]
    extras = _makefile_extras()
    assert extras == ["cpu", "opencv", "test", "deploy"]
    declared = project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]
    pip_lines = [line.strip()[2:] for line in (CHECKOUT / "environment.yml").read_text().splitlines()
                 if line.strip().startswith("- ") and line.startswith(" " * 6)]
    conda_pins = [p for p in pip_lines if p != "-e ."]
    assert sorted(map(_normalise, conda_pins)) == sorted(map(_normalise, declared))


def test_ci_entry_point_calls_the_readme_test_command():
    assert "make test" in (CHECKOUT / "README.md").read_text()
    assert "make test" in (CHECKOUT / ".ci" / "run").read_text()


def test_core_leaves_tensorflow_opencv_and_the_notebook_tools_to_extras():
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]
    core = {Requirement(r).name for r in project["dependencies"]}
    assert not {n for n in core if check_colab.is_protected(n) and n != "numpy"}, core
    assert not core & {"papermill", "jupytext", "ipykernel", "pytest", "nbformat", "imageio-ffmpeg"}
    assert "rarfile" in core  # course_utils.transfer imports it at module level
    extras = project["optional-dependencies"]
    assert {"cpu", "gpu", "opencv", "test"} <= set(extras)
    assert any(r.startswith("tensorflow[and-cuda]") for r in extras["gpu"])


# --- the Colab install ---------------------------------------------------------------------------

def test_constraints_file_mirrors_colab_with_its_date_and_source():
    text = (CHECKOUT / "ci" / "colab_constraints.txt").read_text()
    assert "2026-12" in text and "published package list" in text and "5d" in text and "Refresh" in text
    colab = check_colab.read_constraints()
    assert colab.python == "3.13"
    expected = {"tensorflow": "2.20.0", "keras": "3.13.0", "tf-keras": "2.20.0", "numpy": "2.1.0",
                "opencv-python": "5.0.0", "opencv-contrib-python": "4.14.0"}
    for name, version in expected.items():
        assert colab.pins[name].contains(version), (name, colab.pins[name])
    assert "tensorflow-cpu" not in colab.pins and "opencv-contrib-python-headless" not in colab.pins


def test_offline_check_passes_for_what_the_setup_cell_installs():
    colab = check_colab.read_constraints()
    assert check_colab.python_problems(CHECKOUT / "pyproject.toml", colab) == []
    assert check_colab.requirement_problems(check_colab.declared_requirements(), colab) == []


def test_offline_check_reports_tensorflow_cpu_and_opencv_headless():
    colab = check_colab.read_constraints()
    problems = check_colab.requirement_problems([
        "tensorflow-cpu>=2.21",
        "opencv-contrib-python-headless",
        "keras>=3.13,<4",  # Colab's 3.13 serves
        "numpy>=2.1.2",  # would not accept every 2.1 release Colab may have
        "pandas>=2.2",  # not protected
        "tensorflow-cpu>=2.21; platform_system == 'Darwin'",  # does not apply on Colab
        "tensorflow[and-cuda]>=2.20",  # Colab's version, but the extra adds distributions
    ], colab)
    assert len(problems) == 4, problems
    assert "tensorflow-cpu>=2.21: would add tensorflow-cpu" in problems[0]
    assert "opencv-contrib-python-headless: would add opencv-contrib-python-headless" in problems[1]
    assert "would replace Colab's numpy" in problems[2]
    assert "extras ['and-cuda']" in problems[3]


@pytest.mark.parametrize("extra, culprit", [("cpu", "tensorflow-cpu"), ("gpu", "tensorflow"),
                                            ("opencv", "opencv-contrib-python-headless")])
def test_the_extras_would_break_colab_so_the_setup_cell_leaves_them_out(extra, culprit):
    problems = check_colab.requirement_problems(check_colab.declared_requirements(extras=[extra]),
                                                check_colab.read_constraints())
    assert any(p.startswith(culprit) for p in problems), problems


def test_the_deploy_extra_of_the_export_notebooks_leaves_colab_alone():
    """Notebooks 09 on install `course_utils[deploy]` on Colab: LiteRT and ONNX, no TensorFlow or OpenCV."""
    colab = check_colab.read_constraints()
    assert "deploy" in check_colab.SETUP_CELL_EXTRAS
    assert check_colab.requirement_problems(check_colab.declared_requirements(extras=["deploy"]), colab) == []
    try:
        installs = check_colab.resolve_with_pip(f"{CHECKOUT}[deploy]", colab=colab)
    except check_colab.PipUnavailable as error:
        pytest.skip(f"no package index, the Colab resolution of the deploy extra was not checked ({error})")
    assert check_colab.resolution_problems(installs, colab) == []


def test_resolution_check_reports_added_and_replaced_distributions():
    colab = check_colab.read_constraints()
    installs = [("course-utils", "0.1.0"), ("rarfile", "4.5"), ("numpy", "2.1.3"), ("keras", "3.13.2"),
                ("tensorflow-cpu", "2.21.0"), ("opencv-contrib-python-headless", "4.14.0.94"),
                ("opencv-python", "4.14.0.94"), ("pandas", "3.1.1")]
    problems = check_colab.resolution_problems(installs, colab)
    assert problems == ["would add tensorflow-cpu 2.21.0, which Colab does not have",
                        "would add opencv-contrib-python-headless 4.14.0.94, which Colab does not have",
                        "would replace Colab's opencv-python ==5.0.* with 4.14.0.94"]
    new, kept = check_colab.split_installs(installs, colab)
    assert new == ["course-utils 0.1.0", "opencv-contrib-python-headless 4.14.0.94", "rarfile 4.5",
                   "tensorflow-cpu 2.21.0"]
    assert "numpy (==2.1.*)" in kept and "pandas" in kept


def test_pip_resolution_for_colab_leaves_its_packages_alone():
    """The real thing: pip resolves the package for Colab's Python against Colab's pins."""
    colab = check_colab.read_constraints()
    try:
        installs = check_colab.resolve_with_pip(CHECKOUT, colab=colab)
    except check_colab.PipUnavailable as error:
        pytest.skip(f"no package index, the Colab resolution was not checked ({error})")
    assert check_colab.resolution_problems(installs, colab) == []
    new, _ = check_colab.split_installs(installs, colab)
    assert [n.split()[0] for n in new] == ["course-utils", "rarfile"], new


# --- the notebooks' Colab setup cell -------------------------------------------------------------

def _setup_cell(py_path: Path) -> str:
    cells = [c.source for c in jupytext.read(py_path).cells
             if c.cell_type == "code" and '"google.colab" in sys.modules' in c.source]
    assert len(cells) == 1, f"{py_path.name}: {len(cells)} Colab setup cells"
    return cells[0]


def _run_setup_cell(source: str, monkeypatch, cv2_module) -> list[list[str]]:
    """Execute a setup cell as on Colab without the course package; returns the commands it runs."""
    commands, real_find_spec = [], importlib.util.find_spec
    fake_specs = {"course_utils": None, "cv2": object() if cv2_module else None}
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    if cv2_module:
        monkeypatch.setitem(sys.modules, "cv2", cv2_module)
    else:
        monkeypatch.delitem(sys.modules, "cv2", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: fake_specs[name] if name in fake_specs else real_find_spec(name, *a))
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: commands.append(list(command)))
    exec(compile(source, "<setup cell>", "exec"), {})
    return commands


NOTEBOOK_SOURCES = sorted((CHECKOUT / "notebooks").glob("[0-9][0-9]_*.py"))


def needs_deploy(py_path: Path) -> bool:
    """A notebook that exports or streams (09, 10, ...) runs LiteRT and ONNX Runtime: its setup cell
    adds the deploy extra; the others install the bare package."""
    return re.search(r"^from course_utils import .*\b(export|streaming|serving)\b", py_path.read_text(), re.M) is not None


@pytest.mark.parametrize("py_path", NOTEBOOK_SOURCES, ids=lambda p: p.stem)
def test_setup_cell_installs_the_bare_package_and_opencv_only_where_there_is_none(py_path, monkeypatch):
    source = _setup_cell(py_path)
    deploy = {"deploy"} if needs_deploy(py_path) else set()
    assert len(source.strip().splitlines()) <= 8, "keep the setup cell short"
    with_contrib = types.ModuleType("cv2")
    with_contrib.optflow = types.ModuleType("cv2.optflow")
    # Never a second OpenCV: without contrib, notebook 03 skips TV-L1 and says so.
    cases = {"opencv-contrib (Colab)": (with_contrib, set()), "opencv without contrib": (types.ModuleType("cv2"), set()),
             "no opencv": (None, {"opencv"})}
    for case, (cv2_module, extras) in cases.items():
        commands = _run_setup_cell(source, monkeypatch, cv2_module)
        assert len(commands) == 1 and commands[0][1:4] == ["-m", "pip", "install"], (case, commands)
        targets = [Requirement(arg) for arg in commands[0][4:] if not arg.startswith("-")]
        assert len(targets) == 1, (case, commands)
        assert targets[0].name == "course_utils" and targets[0].extras == extras | deploy, (case, commands)
        assert targets[0].url == f"git+{paths.REPO_URL}", (case, commands)


def test_notebook_check_catches_a_badge_or_setup_cell_of_another_repository():
    check_notebooks = _load("check_notebooks")
    text = _setup_cell(CHECKOUT / "notebooks" / "00_setup.py") + "\n" + \
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]" \
        f"(https://colab.research.google.com/github/{paths.REPO_URL.removeprefix('https://github.com/')}" \
        "/blob/main/notebooks/00_setup.ipynb)"
    assert check_notebooks.repo_url_problems(text, "00_setup.py", notebook="00_setup") == []
    forked = text.replace("action-recognition-course/action-recognition-course", "someone/fork")
    problems = check_notebooks.repo_url_problems(forked, "00_setup.py", notebook="00_setup")
    assert len(problems) == 2 and "badge opens github.com/someone/fork" in problems[0], problems
    assert "installs git+https://github.com/someone/fork" in problems[1]
    wrong_notebook = check_notebooks.repo_url_problems(text.replace("00_setup.ipynb", "01_eda.ipynb"),
                                                       "00_setup.py", notebook="00_setup")
    assert wrong_notebook == ["00_setup.py: Colab badge opens notebooks/01_eda.ipynb, not notebooks/00_setup.ipynb"]
    assert "no Colab setup cell" in check_notebooks.repo_url_problems("", "x.py", notebook="x")[1]


# --- paths that work from a wheel ----------------------------------------------------------------

def test_paths_is_a_leaf_module():
    tree = ast.parse((CHECKOUT / "course_utils" / "paths.py").read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n for n in imported if isinstance(n, ast.ImportFrom) and (n.level or "course_utils" in (n.module or ""))]
    assert not [a.name for n in imported if isinstance(n, ast.Import) for a in n.names if "course_utils" in a.name]


def test_project_root_is_course_home_else_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()
    monkeypatch.delenv("COURSE_HOME")
    assert paths.project_root() == CHECKOUT
    assert (paths.data_manifests_dir() / "hmdb51_split1.csv").is_file()


def _site_packages_tree(site: Path) -> set[str]:
    return {str(p.relative_to(site)) for p in site.rglob("*")
            if "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_the_built_wheel_works_outside_the_checkout(tmp_path):
    """Build the wheel, install it (not editable) in a fresh venv, run the CLI in an empty folder."""
    src = tmp_path / "src"  # build from a copy: the checkout gets no build/ or egg-info from the test
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (src / name).write_bytes((CHECKOUT / name).read_bytes())
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(CHECKOUT / "course_utils", src / "course_utils", ignore=ignore)
    shutil.copytree(CHECKOUT / "data_manifests", src / "data_manifests", ignore=ignore)
    try:  # the test extra brings setuptools >= 77 (the build backend), so no download is needed
        offline_build = int(importlib.metadata.version("setuptools").split(".")[0]) >= 77
    except importlib.metadata.PackageNotFoundError:
        offline_build = False
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(src), "-w", str(tmp_path / "dist")]
    built = subprocess.run(build + (["--no-build-isolation"] if offline_build else []),
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("course_utils-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--no-index", "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The heavy dependencies come from this environment: plain path lines, so its .pth files
    # (the editable finder of the checkout among them) are not run.
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "course_test_deps.pth").write_text("\n".join(ours) + "\n")
    before = _site_packages_tree(site)

    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in COURSE_ENV}
    probe = ("import json, course_utils\nfrom course_utils import config, paths\n"
             "c = config.resolve_config('ci')\n"
             "print(json.dumps({'file': course_utils.__file__, 'root': str(config.REPO_ROOT),"
             " 'figures': str(config.FIGURES_DIR), 'manifests': str(paths.data_manifests_dir()),"
             " 'config_manifests': str(config.DATA_MANIFESTS_DIR), 'data': str(c.data_dir),"
             " 'artifacts': str(c.artifacts_dir)}))")
    seen = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert seen.returncode == 0, seen.stderr[-3000:]
    where = json.loads(seen.stdout.strip().splitlines()[-1])
    assert Path(where["file"]).is_relative_to(site), where  # the wheel, not the checkout
    assert Path(where["root"]) == work.resolve() and Path(where["figures"]) == work.resolve() / "figures"
    assert Path(where["data"]) == work.resolve() / "data" and Path(where["artifacts"]) == work.resolve() / "artifacts"
    manifests = Path(where["manifests"])
    assert manifests == site / "course_utils" / "data_manifests" == Path(where["config_manifests"])
    assert (manifests / "hmdb51_split1.csv").is_file() and (manifests / "README.md").is_file()

    home = tmp_path / "home"
    seen = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=work,
                          env={**env, "COURSE_HOME": str(home)}, timeout=120)
    assert Path(json.loads(seen.stdout.strip().splitlines()[-1])["root"]) == home.resolve(), seen.stderr[-2000:]

    generated = subprocess.run([str(python), "-m", "course_utils", "generate", "data/synthetic", "--quiet"],
                               capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert sorted(p.name for p in work.iterdir()) == ["data"]
    assert (work / "data" / "synthetic" / "manifest.csv").is_file()
    assert len(list((work / "data" / "synthetic").rglob("*.avi")) + list((work / "data" / "synthetic").rglob("*.mp4"))) > 100
    assert _site_packages_tree(site) == before, "the course wrote into site-packages"
    assert not home.exists()
