"""The package's imports point down the pipeline only: no cycle, no import of a later stage.

Every import of a course module is checked, at module level and inside functions, so a cycle
cannot hide behind a function-level import.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.config import REPO_ROOT

PACKAGE = REPO_ROOT / "course_utils"

# Rank of each module: a module may import only modules of a lower rank (design section 2).
RANKS = {
    "paths": 0, "jobs": 0,
    "config": 1,
    "runs": 2, "fusion": 2, "video": 2, "transfer": 2, "plots": 2, "actions": 2,
    "datasets": 3, "flow": 3, "rendering": 3,
    "synthetic": 4, "public_datasets": 4,
    "catalog": 5, "cache": 5, "features": 5,
    "pipeline": 6, "models": 6,
    "training": 7, "evaluation": 7, "temporal": 7, "skeleton": 7, "streams": 8,
    "export": 8, "grading": 8, "pretraining": 8,
    "temporal_attention": 8,
    "streaming": 9,
    "serving": 10,
    "__main__": 11,
}


def course_imports(source: str, module: str) -> set[str]:
    """Course modules that ``source`` (the text of ``course_utils/<module>.py``) imports, anywhere."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or base == "course_utils" or base.startswith("course_utils."):
                base = base.removeprefix("course_utils").lstrip(".") if node.level == 0 else base
                if base:
                    found.add(base.split(".")[0])
                else:  # from . import a, b / from course_utils import a, b
                    found.update(alias.name for alias in node.names if alias.name != "__version__")
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("course_utils."))
    return found - {module}


def upward_imports(package: Path = PACKAGE, ranks: dict[str, int] = RANKS) -> list[str]:
    problems = []
    for path in sorted(package.glob("*.py")):
        module = path.stem
        if module == "__init__":
            continue
        if module not in ranks:
            problems.append(f"{module}: not in the rank table of tests/test_imports.py; give it a rank")
            continue
        for target in sorted(course_imports(path.read_text(), module)):
            if target not in ranks:
                problems.append(f"{module} imports {target}, which is not a course module")
            elif ranks[target] >= ranks[module]:
                problems.append(f"{module} (rank {ranks[module]}) imports {target} (rank {ranks[target]})")
    return problems


def test_every_import_points_down_the_pipeline():
    assert upward_imports() == []


def test_the_check_catches_a_function_level_upward_import(tmp_path):
    (tmp_path / "video.py").write_text("def f():\n    from .datasets import load_manifest\n")
    (tmp_path / "datasets.py").write_text("from . import video\n")
    (tmp_path / "flow.py").write_text("import course_utils.cache\n")
    assert upward_imports(tmp_path) == ["flow (rank 3) imports cache (rank 5)",
                                        "video (rank 2) imports datasets (rank 3)"]


@pytest.mark.parametrize("module", ["config", "datasets", "flow", "video", "cache", "catalog", "features"])
def test_data_stages_do_not_import_tensorflow(module):
    """The data notebooks start fast: TensorFlow is imported only from `pipeline` up."""
    source = (PACKAGE / f"{module}.py").read_text()
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"tensorflow", "keras"}


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_the_package_asks_for_onednn_unless_the_user_chose(given, expected):
    """TensorFlow's fast CPU kernels on every CPU (they are off by default on AVX2-only ones)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    code = "import os, course_utils; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == expected
