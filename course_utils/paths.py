"""Where the course lives: the repository URL and the folders, from a checkout or an installed wheel.

A leaf module (standard library only, nothing from ``course_utils``), so every stage may use it.

- :func:`project_root` is the folder under which ``data/``, ``artifacts/`` and ``figures/`` are
  created by default: ``$COURSE_HOME`` if set, else the source checkout when the package is
  imported from one, else the current working directory; never inside site-packages.
- :func:`data_manifests_dir` is the folder of the dataset manifests (CSV) and cards, shipped
  inside the wheel as ``course_utils/data_manifests``; from a checkout it is the top-level
  ``data_manifests/`` folder.
"""
from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

#: The course repository: the Colab badges, the notebooks' setup cell and the README name it
#: (``ci/check_notebooks.py`` fails when one of them names another).
REPO_URL = "https://github.com/action-recognition-course/action-recognition-course"

_PACKAGE_DIR = Path(__file__).resolve().parent
_MANIFESTS = "data_manifests"


def checkout_root() -> Path | None:
    """The source checkout the package is imported from, or None for an installed package."""
    candidate = _PACKAGE_DIR.parent
    pyproject = candidate / "pyproject.toml"
    try:
        is_checkout = pyproject.is_file() and 'name = "course_utils"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    return candidate if is_checkout else None


def project_root() -> Path:
    """``$COURSE_HOME`` if set, else the source checkout, else the current working directory."""
    home = os.environ.get("COURSE_HOME")
    if home:
        return Path(home).expanduser().resolve()
    return checkout_root() or Path.cwd().resolve()


def data_manifests_dir() -> Path:
    """The packaged manifests (``course_utils/data_manifests``), else the checkout's ``data_manifests/``."""
    packaged = importlib.resources.files(__package__ or "course_utils") / _MANIFESTS
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    checkout = checkout_root()
    if checkout is not None and (checkout / _MANIFESTS).is_dir():
        return checkout / _MANIFESTS
    return _PACKAGE_DIR / _MANIFESTS
