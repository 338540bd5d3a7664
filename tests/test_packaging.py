"""The conda environment and the package declare the same dependencies."""
import re
import tomllib

from course_utils.config import REPO_ROOT


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement)


def test_environment_yml_pins_equal_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    pip_lines = [line.strip()[2:] for line in (REPO_ROOT / "environment.yml").read_text().splitlines()
                 if line.strip().startswith("- ") and line.startswith(" " * 6)]
    conda_pins = [p for p in pip_lines if p != "-e ."]
    assert sorted(map(_normalise, conda_pins)) == sorted(map(_normalise, declared))


def test_ci_entry_point_calls_the_readme_test_command():
    assert "make test" in (REPO_ROOT / "README.md").read_text()
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
