"""Would the notebooks' Colab setup cell break Colab's TensorFlow, Keras, NumPy or OpenCV?

The setup cell installs the bare course package (no extras; notebooks that export or stream add the ``deploy`` extra:
LiteRT, tf2onnx, ONNX Runtime) into a runtime that already has
``tensorflow`` (CUDA build), ``keras``, ``numpy`` and OpenCV (see ``ci/colab_constraints.txt``).
Every tensorflow* distribution writes ``tensorflow/`` and every OpenCV variant writes ``cv2/``, so
the install must leave all of them alone: no other version, and no other distribution of those
names (``tensorflow-cpu``, ``opencv-contrib-python-headless``, ...).

Two checks, both against ``ci/colab_constraints.txt``:

- offline: the requirements the package declares (markers evaluated for Colab: Linux, its Python)
  against Colab's versions. Fast, no network; blind to requirements of requirements.
- resolution: ``pip install --dry-run --report`` of the package for Colab's Python with the
  constraints, then every distribution pip would install is inspected. Needs the package index.

``python ci/check_colab_install.py`` runs both and prints what the setup cell would install
(``--offline``: the first only). Exit 0 when Colab's packages are left alone, 1 otherwise,
2 when pip cannot reach the package index.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Iterable, Sequence

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO_ROOT / "ci" / "colab_constraints.txt"
PYPROJECT = REPO_ROOT / "pyproject.toml"
PIP_TIMEOUT_S = 300
SETUP_CELL_EXTRAS = ("deploy",)
"""The extras a notebook's Colab setup cell may install (the notebooks that export or stream): checked like the core."""


def is_protected(name: str) -> bool:
    """Distributions the Colab install must not replace or add (they share tensorflow/, keras/, cv2/...)."""
    name = canonicalize_name(name)
    return name.startswith(("tensorflow", "opencv")) or name in {"keras", "tf-keras", "numpy"}


@dataclasses.dataclass(frozen=True)
class Colab:
    """Colab's runtime as the constraints file describes it."""

    python: str
    pins: dict[str, SpecifierSet]  # canonical name -> Colab's version (or release series)
    preinstalled: frozenset[str]  # also there, versions not mirrored

    def has(self, name: str) -> bool:
        name = canonicalize_name(name)
        return name in self.pins or name in self.preinstalled

    def marker_environment(self) -> dict[str, str]:
        environment = default_environment()
        environment.update(python_version=self.python, python_full_version=f"{self.python}.0",
                           platform_system="Linux", sys_platform="linux", os_name="posix",
                           platform_machine="x86_64", implementation_name="cpython",
                           platform_python_implementation="CPython", extra="")
        return environment


def read_constraints(path: Path = CONSTRAINTS) -> Colab:
    """Parse the constraints file: ``name==version`` pins, bare names and a ``# python: X.Y`` line."""
    python, pins, preinstalled = None, {}, set()
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        found = re.match(r"#\s*python:\s*(\d+\.\d+)\s*$", raw.strip())
        if found:
            python = found.group(1)
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        specs = list(requirement.specifier)
        if not specs:
            preinstalled.add(name)
        elif len(specs) == 1 and specs[0].operator in ("==", "==="):
            pins[name] = requirement.specifier
        else:
            raise ValueError(f"{path.name}:{number}: {line!r}: pin one version (name==X.Y.Z or name==X.Y.*)")
    if python is None:
        raise ValueError(f"{path.name}: no '# python: X.Y' line")
    return Colab(python, pins, frozenset(preinstalled))


def colab_versions(pin: SpecifierSet) -> list[Version]:
    """The versions a pin stands for: the exact one, or the first and a late release of a series."""
    (spec,) = list(pin)
    if spec.version.endswith(".*"):
        series = spec.version[:-2]
        return [Version(f"{series}.0"), Version(f"{series}.9999")]
    return [Version(spec.version)]


def declared_requirements(pyproject: Path = PYPROJECT, extras: Iterable[str] = ()) -> list[str]:
    """The package's requirements: the core list plus the named extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return requirements


def requirement_problems(requirements: Sequence[str], colab: Colab) -> list[str]:
    """Offline check: each requirement that applies on Colab, against Colab's versions."""
    environment = colab.marker_environment()
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        if not is_protected(name):
            continue
        if name not in colab.pins:
            problems.append(f"{text}: would add {name}, which Colab does not have; it writes the same "
                            "directory as Colab's own distribution")
            continue
        if requirement.extras:
            problems.append(f"{text}: asks for the extras {sorted(requirement.extras)} of Colab's {name}, "
                            "which would add distributions next to it")
        if not all(requirement.specifier.contains(v, prereleases=True) for v in colab_versions(colab.pins[name])):
            problems.append(f"{text}: would replace Colab's {name} {colab.pins[name]} "
                            "(the requirement does not accept it)")
    return problems


def python_problems(pyproject: Path, colab: Colab) -> list[str]:
    requires = tomllib.loads(pyproject.read_text())["project"].get("requires-python", "")
    if requires and not SpecifierSet(requires).contains(f"{colab.python}.0"):
        return [f"requires-python {requires!r} excludes Colab's Python {colab.python}"]
    return []


class PipUnavailable(RuntimeError):
    """pip could not reach the package index, so the resolution could not be checked."""


_NETWORK_ERRORS = ("Failed to establish a new connection", "Temporary failure in name resolution",
                   "Network is unreachable", "Max retries exceeded", "NewConnectionError",
                   "Could not fetch URL", "ConnectionError", "Read timed out", "SSLError")


_PROGRESS = ("Collecting", "Downloading", "Processing", "Obtaining", "Using cached", "Installing build",
             "Getting requirements", "Preparing metadata", "Preparing editable", "WARNING: Location",
             "Looking in", "Building wheel", "Created wheel", "Stored in")


def resolve_with_pip(target: Path | str = REPO_ROOT, constraints: Path = CONSTRAINTS,
                     colab: Colab | None = None, timeout: float = PIP_TIMEOUT_S) -> list[tuple[str, str]]:
    """``(name, version)`` of every distribution pip would install for ``target`` on Colab.

    ``--ignore-installed`` makes pip list everything, including what Colab already has; the
    constraints hold the protected distributions at Colab's versions, so a requirement that
    needs another version ends the resolution with an error (raised as ``RuntimeError``).
    """
    colab = colab or read_constraints(constraints)
    with tempfile.TemporaryDirectory(prefix="colab-resolution-") as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--report", str(report),
                   "--ignore-installed", "--python-version", colab.python, "--only-binary=:all:",
                   "--target", str(Path(scratch) / "target"), "--timeout", "30", "--retries", "2",
                   "-c", str(constraints), str(target)]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise PipUnavailable(f"pip did not finish the resolution within {timeout:.0f} s") from error
        if run.returncode != 0 or not report.exists():
            message = "\n".join(line for line in (run.stdout + run.stderr).splitlines()
                                if line.strip() and not line.lstrip().startswith(_PROGRESS))
            if any(marker in message for marker in _NETWORK_ERRORS):
                raise PipUnavailable(f"pip could not reach the package index:\n{message[-1500:]}")
            raise RuntimeError(f"pip cannot install the package next to Colab's pinned versions "
                               f"(it would have to replace one):\n{message[-3000:]}")
        installs = json.loads(report.read_text())["install"]
    return [(canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]) for item in installs]


def resolution_problems(installs: Sequence[tuple[str, str]], colab: Colab) -> list[str]:
    """Each protected distribution of a resolution that is not Colab's own, at Colab's version."""
    problems = []
    for name, version in installs:
        if not is_protected(name):
            continue
        if name not in colab.pins:
            problems.append(f"would add {name} {version}, which Colab does not have")
        elif not colab.pins[name].contains(version, prereleases=True):
            problems.append(f"would replace Colab's {name} {colab.pins[name]} with {version}")
    return problems


def split_installs(installs: Sequence[tuple[str, str]], colab: Colab) -> tuple[list[str], list[str]]:
    """(newly installed as ``name version``, already on Colab as ``name`` or ``name (Colab's pin)``).

    pip keeps a distribution Colab already has when its version meets the requirement; the
    pinned ones are held at Colab's version by the constraints, the others are not mirrored.
    """
    new = [f"{name} {version}" for name, version in installs if not colab.has(name)]
    kept = [f"{name} ({colab.pins[name]})" if name in colab.pins else name
            for name, _ in installs if colab.has(name)]
    return sorted(new), sorted(kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", default=str(REPO_ROOT),
                        help="project folder or built wheel to resolve (default: this checkout)")
    parser.add_argument("--constraints", type=Path, default=CONSTRAINTS)
    parser.add_argument("--offline", action="store_true", help="only check the declared requirements")
    args = parser.parse_args(argv)
    colab = read_constraints(args.constraints)
    pyproject = Path(args.target) / "pyproject.toml"
    pyproject = pyproject if pyproject.is_file() else PYPROJECT
    problems = python_problems(pyproject, colab) + requirement_problems(
        declared_requirements(pyproject, extras=SETUP_CELL_EXTRAS), colab)
    print(f"offline check of the declared requirements and the extras {list(SETUP_CELL_EXTRAS)} "
          f"(Colab: Python {colab.python}): {'FAILED' if problems else 'ok'}")
    if not args.offline:
        for target in [args.target, *(f"{args.target}[{extra}]" for extra in SETUP_CELL_EXTRAS)]:
            try:
                installs = resolve_with_pip(target, args.constraints, colab)
            except PipUnavailable as error:
                print(f"resolution not checked: {error}", file=sys.stderr)
                return 2
            except RuntimeError as error:
                problems.append(str(error))
                continue
            found = resolution_problems(installs, colab)
            problems += found
            new, kept = split_installs(installs, colab)
            print(f"pip resolution of {Path(target).name} for Colab: {'FAILED' if found else 'ok'}")
            print("  newly installed:  " + ", ".join(new))
            print("  already on Colab, kept: " + ", ".join(kept))
    for problem in problems:
        print(f"  problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
