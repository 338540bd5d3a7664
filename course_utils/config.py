"""Profiles, paths, seeding and the results JSON shared by every notebook.

One function, :func:`resolve_config`, turns the papermill parameters of a notebook
(``profile``, ``dataset``, ``data_dir``, ``artifacts_dir``, ``seed`` and a few overrides)
into a frozen :class:`Config`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = REPO_ROOT / "figures"
DATA_MANIFESTS_DIR = REPO_ROOT / "data_manifests"
REPO_URL = "https://github.com/action-recognition-course/action-recognition-course"

PROFILES = ("ci", "laptop", "full")
PUBLIC_DATASETS = ("hmdb51", "ucf101", "utd_mhad", "kth")
DATASETS = ("synthetic",) + PUBLIC_DATASETS


class ConfigError(ValueError):
    """A notebook parameter has a value the course does not support."""


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Size and difficulty of the generated synthetic dataset."""

    subjects: int = 12
    reps_per_subject: int = 4
    frames: int = 32
    size: int = 96
    fps: float = 15.0
    context_bias: float = 0.5
    imbalance: float = 0.0
    split_subjects: tuple[int, int, int] = (8, 2, 2)

    def slug(self, seed: int) -> str:
        """A folder name that changes whenever the generated data would."""
        parts = [f"s{self.subjects}", f"r{self.reps_per_subject}", f"t{self.frames}",
                 f"px{self.size}", f"cb{self.context_bias:g}", f"im{self.imbalance:g}",
                 f"seed{seed}"]
        return "synthetic-" + "-".join(parts)


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a notebook needs to know about the run it is part of."""

    profile: str
    dataset: str
    data_dir: Path
    artifacts_dir: Path
    seed: int
    clip_frames: int
    image_size: int
    epochs: int
    batch_size: int
    weights: str | None
    mixed_precision: bool
    synthetic: SyntheticSpec
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def is_synthetic(self) -> bool:
        return self.dataset == "synthetic"

    @property
    def dataset_root(self) -> Path:
        """Folder holding the videos and ``manifest.csv`` of the chosen dataset."""
        if self.is_synthetic:
            return self.data_dir / self.synthetic.slug(self.seed)
        if self.dataset in PUBLIC_DATASETS:
            return self.data_dir / self.dataset
        return Path(self.dataset).expanduser().resolve()

    @property
    def dataset_name(self) -> str:
        return self.dataset if self.dataset in DATASETS else Path(self.dataset).name

    @property
    def results_dir(self) -> Path:
        return self.artifacts_dir / "results"

    @property
    def cache_dir(self) -> Path:
        return self.artifacts_dir / "cache" / f"{self.dataset_name}-{self.profile}"

    @property
    def figures_dir(self) -> Path:
        """``figures/`` for the synthetic data the README shows; other datasets under artifacts."""
        folder = FIGURES_DIR if self.is_synthetic else self.artifacts_dir / "figures" / self.dataset_name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["data_dir"] = str(self.data_dir)
        out["artifacts_dir"] = str(self.artifacts_dir)
        out["overrides"] = dict(self.overrides)
        return out


_PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ci": dict(clip_frames=16, image_size=64, epochs=4, batch_size=16, weights=None,
               mixed_precision=False, synthetic=SyntheticSpec()),
    "laptop": dict(clip_frames=16, image_size=112, epochs=15, batch_size=16, weights=None,
                   mixed_precision=False,
                   synthetic=SyntheticSpec(subjects=20, reps_per_subject=6, frames=48, size=128,
                                           split_subjects=(12, 4, 4))),
    "full": dict(clip_frames=16, image_size=224, epochs=30, batch_size=32, weights="imagenet",
                 mixed_precision=True,
                 synthetic=SyntheticSpec(subjects=30, reps_per_subject=8, frames=64, size=160,
                                         split_subjects=(18, 6, 6))),
}
_OVERRIDABLE = {"clip_frames", "image_size", "epochs", "batch_size", "weights", "mixed_precision"}
_SYNTHETIC_OVERRIDES = {f.name for f in dataclasses.fields(SyntheticSpec)}


def _choose(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not supported; allowed: {', '.join(allowed)}")
    return value


def resolve_config(profile: str = "ci", dataset: str = "synthetic", data_dir: str | Path | None = None,
                   artifacts_dir: str | Path | None = None, seed: int = 42,
                   **overrides: Any) -> Config:
    """Turn notebook parameters into a frozen :class:`Config`.

    ``dataset`` is ``synthetic``, a public dataset name or the path of a folder of
    class sub-folders. Overrides may name any training setting (``epochs``, ``weights``,
    ...) or a field of :class:`SyntheticSpec` (``context_bias``, ``imbalance``, ...);
    ``None`` means "keep the profile default". Anything else is an error listing what is
    allowed.
    """
    _choose("profile", profile, PROFILES)
    if dataset not in DATASETS and not Path(str(dataset)).expanduser().is_dir():
        raise ConfigError(f"dataset={dataset!r} is neither a known dataset ({', '.join(DATASETS)}) "
                          "nor an existing folder of class sub-folders")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer")
    settings = dict(_PROFILE_DEFAULTS[profile])
    synthetic_changes = {}
    given = {k: v for k, v in overrides.items() if v is not None}
    for key, value in given.items():
        if key in _OVERRIDABLE:
            settings[key] = value
        elif key in _SYNTHETIC_OVERRIDES:
            synthetic_changes[key] = value
        else:
            allowed = sorted(_OVERRIDABLE | _SYNTHETIC_OVERRIDES)
            raise ConfigError(f"unknown parameter {key!r}; allowed overrides: {', '.join(allowed)}")
    if synthetic_changes:
        settings["synthetic"] = dataclasses.replace(settings["synthetic"], **synthetic_changes)
    if settings["weights"] not in (None, "imagenet") and not Path(settings["weights"]).is_file():
        raise ConfigError(f"weights={settings['weights']!r} must be None, 'imagenet' or an existing file")
    data_dir = Path(data_dir or os.environ.get("COURSE_DATA_DIR") or REPO_ROOT / "data")
    artifacts_dir = Path(artifacts_dir or os.environ.get("COURSE_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
    return Config(profile=profile, dataset=str(dataset), data_dir=data_dir.expanduser().resolve(),
                  artifacts_dir=artifacts_dir.expanduser().resolve(), seed=seed,
                  overrides=given, **settings)


def seed_everything(seed: int, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and, once TensorFlow is imported, Keras/TensorFlow with op determinism.

    Notebooks that train models import their model code (and so TensorFlow) before calling
    this; the data notebooks skip the import, which costs seconds.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "tensorflow" not in sys.modules:
        return
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()


def start_notebook(profile: str, dataset: str, data_dir: str | Path | None, artifacts_dir: str | Path | None,
                   seed: int, **overrides: Any) -> tuple[Config, "Stopwatch"]:
    """The first line of every notebook: resolve the parameters, seed, start the clock."""
    watch = Stopwatch()
    cfg = resolve_config(profile, dataset, data_dir, artifacts_dir, seed, **overrides)
    seed_everything(cfg.seed)
    return cfg, watch


def environment_report() -> dict[str, Any]:
    """Where the course runs: Colab or local, CPU or GPU, library versions."""
    import importlib.metadata as md

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "colab": in_colab(),
    }
    for package in ("tensorflow", "tensorflow-cpu", "keras", "opencv-contrib-python-headless",
                    "opencv-python", "numpy", "pandas", "scikit-learn", "papermill"):
        try:
            report[package] = md.version(package)
        except md.PackageNotFoundError:
            continue
    try:
        import tensorflow as tf

        report["gpus"] = [d.name for d in tf.config.list_physical_devices("GPU")]
    except ImportError:
        report["gpus"] = []
    try:
        import cv2

        report["opencv_tvl1"] = hasattr(cv2, "optflow")
    except ImportError:
        report["opencv_tvl1"] = False
    return report


def in_colab() -> bool:
    return "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ


class Stopwatch:
    """Named wall-clock timings for the ``timings_s`` block of the results JSON."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, name: str, since: float) -> float:
        self.timings[name] = round(time.perf_counter() - since, 3)
        return self.timings[name]

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": round(time.perf_counter() - self._start, 3)}


def save_results(cfg: Config, notebook: str, metrics: Mapping[str, Mapping[str, Any]],
                 timings_s: Mapping[str, float], extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``results/<notebook>.json`` in the one shape every notebook uses."""
    for name, values in metrics.items():
        for key, value in values.items():
            if key.endswith("accuracy") and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"metrics[{name!r}][{key!r}]={value} is not a fraction in [0, 1]")
    payload = {"notebook": notebook, "profile": cfg.profile, "dataset": cfg.dataset_name,
               "seed": cfg.seed, "metrics": _plain(metrics), "timings_s": _plain(timings_s),
               "extra": _plain(extra or {})}
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.results_dir / f"{notebook}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    missing = {"notebook", "profile", "dataset", "seed", "metrics", "timings_s", "extra"} - set(data)
    if missing:
        raise ValueError(f"{path}: results JSON lacks {sorted(missing)}")
    return data


def _plain(value: Any) -> Any:
    """Convert NumPy scalars and containers to JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
