"""Profiles and paths: what every notebook's parameters resolve to.

One function, :func:`resolve_config`, turns the papermill parameters of a notebook
(``profile``, ``dataset``, ``data_dir``, ``artifacts_dir``, ``seed`` and a few overrides)
into a frozen :class:`Config`. Run bookkeeping (seeding, timings, results) is in ``runs``.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Mapping

from . import paths
from .jobs import CourseError

# Fixed at import (see paths.py): $COURSE_HOME, else the source checkout, else the working
# directory, so an installed wheel never writes data/, artifacts/ or figures/ into site-packages.
REPO_ROOT = paths.project_root()
FIGURES_DIR = REPO_ROOT / "figures"
DATA_MANIFESTS_DIR = paths.data_manifests_dir()
REPO_URL = paths.REPO_URL

PROFILES = ("ci", "laptop", "full")
PUBLIC_DATASETS = ("hmdb51", "ucf101", "utd_mhad", "kth")
DATASETS = ("synthetic",) + PUBLIC_DATASETS


class ConfigError(CourseError, ValueError):
    """A notebook parameter has a value the course does not support."""


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Size and difficulty of the generated synthetic dataset.

    Every clip draws its own format, the same way for every class (so no format gives the
    class away), and the two members of a motion pair share theirs:

    - ``seconds``: the range of durations, drawn log-uniformly;
    - ``fps_choices``: the frame rates, one drawn uniformly (repeat a value to weight it);
    - ``frames``: the bounds of the frame count ``round(seconds * fps)``;
    - ``height`` in pixels and ``aspects`` (width / height, one drawn uniformly): the width
      is ``height * aspect`` rounded to an even number.

    Ranges and choices are fixed-length tuples; to fix a value give it everywhere, e.g.
    ``fps_choices=(15.0,) * 6`` or ``aspects=(1.0, 1.0, 1.0)``.
    """

    subjects: int = 12
    reps_per_subject: int = 4
    frames: tuple[int, int] = (20, 80)
    seconds: tuple[float, float] = (1.2, 4.0)
    fps_choices: tuple[float, float, float, float, float, float] = (10.0, 12.5, 15.0, 24.0, 25.0, 29.97)
    height: int = 96
    aspects: tuple[float, float, float] = (1.0, 4 / 3, 16 / 9)
    context_bias: float = 0.5
    imbalance: float = 0.0
    split_subjects: tuple[int, int, int] = (8, 2, 2)

    @property
    def size(self) -> int:
        """The frame height in pixels (the name of the square side before clips varied)."""
        return self.height

    def slug(self, seed: int) -> str:
        """A folder name that changes whenever the generated data would."""
        import hashlib  # the digest covers every field, also those the readable parts leave out
        digest = hashlib.sha256(repr(sorted(dataclasses.asdict(self).items())).encode()).hexdigest()[:8]
        parts = [f"s{self.subjects}", f"r{self.reps_per_subject}", f"t{self.frames[0]}-{self.frames[1]}",
                 f"px{self.height}", f"cb{self.context_bias:g}", f"im{self.imbalance:g}", digest,
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
        """``figures/`` for what the README shows (the synthetic data in the ``ci`` profile); other
        profiles and datasets under ``artifacts_dir/figures/``, so a laptop run keeps the course's figures.

        ``$COURSE_FIGURES_DIR`` replaces ``figures/`` (the grader sets it, so a submission never
        overwrites the course's figures)."""
        if self.is_synthetic and self.profile == "ci":
            folder = Path(os.environ.get("COURSE_FIGURES_DIR") or FIGURES_DIR)
        else:
            name = f"synthetic-{self.profile}" if self.is_synthetic else self.dataset_name
            folder = self.artifacts_dir / "figures" / name
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
                   synthetic=SyntheticSpec(subjects=20, reps_per_subject=6, frames=(24, 120),
                                           seconds=(1.2, 5.0), height=128, split_subjects=(12, 4, 4))),
    "full": dict(clip_frames=16, image_size=224, epochs=30, batch_size=32, weights="imagenet",
                 mixed_precision=True,
                 synthetic=SyntheticSpec(subjects=30, reps_per_subject=8, frames=(32, 180),
                                         seconds=(1.5, 6.0), height=160, split_subjects=(18, 6, 6))),
}
VIDEO_MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "ci": dict(image_size=48, batch_size=8, epochs=20),
    "laptop": dict(image_size=96, batch_size=16, epochs=40),
    "full": dict(image_size=112, batch_size=32, epochs=60),
}
"""What the clip models of notebooks 04-05 train with in each profile (48 px in ``ci``: the
profile's 64 px costs twice the time per epoch on two cores, and more epochs gain more)."""


def video_model_settings(profile: str, **given: Any) -> dict[str, Any]:
    """:data:`VIDEO_MODEL_SETTINGS` of ``profile``, with the values in ``given`` that are not None."""
    _choose("profile", profile, PROFILES)
    return {**VIDEO_MODEL_SETTINGS[profile], **{k: v for k, v in given.items() if v is not None}}


_OVERRIDABLE = {"clip_frames", "image_size", "epochs", "batch_size", "weights", "mixed_precision"}
_SYNTHETIC_OVERRIDES = {f.name for f in dataclasses.fields(SyntheticSpec)}


_FRACTIONS = {"context_bias": (0.0, 1.0), "imbalance": (0.0, 0.99)}
MAX_SEED = 2**32 - 1


def _check_override(name: str, value: Any, default: Any) -> Any:
    """``value`` if it fits the type and range of the setting ``name`` (default ``default``), else an error."""
    if name == "weights":
        if value not in (None, "imagenet") and not (isinstance(value, (str, Path)) and Path(value).is_file()):
            raise ConfigError(f"weights={value!r} must be None, 'imagenet' or the path of an existing .weights.h5 file")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} must be True or False")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}={value!r} must be a positive integer (default {default})")
        return value
    if isinstance(default, float):
        low, high = _FRACTIONS.get(name, (0.0, math.inf))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise ConfigError(f"{name}={value!r} must be a number in [{low:g}, {high:g}] (default {default:g})")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, (tuple, list)) or len(value) != len(default) or \
                any(type(v) is not type(d) for v, d in zip(value, default)):
            raise ConfigError(f"{name}={value!r} must be a sequence like {default!r}")
        return tuple(value)
    return value


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
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed={seed!r} must be an integer from 0 to {MAX_SEED} (2**32 - 1)")
    settings = dict(_PROFILE_DEFAULTS[profile])
    synthetic_changes = {}
    given = {k: v for k, v in overrides.items() if v is not None}
    for key, value in given.items():
        if key in _OVERRIDABLE:
            settings[key] = _check_override(key, value, settings[key])
        elif key in _SYNTHETIC_OVERRIDES:
            synthetic_changes[key] = _check_override(key, value, getattr(settings["synthetic"], key))
        else:
            allowed = sorted(_OVERRIDABLE | _SYNTHETIC_OVERRIDES)
            raise ConfigError(f"unknown parameter {key!r}; allowed overrides: {', '.join(allowed)}")
    if synthetic_changes:
        settings["synthetic"] = dataclasses.replace(settings["synthetic"], **synthetic_changes)
    data_dir = Path(data_dir or os.environ.get("COURSE_DATA_DIR") or REPO_ROOT / "data")
    artifacts_dir = Path(artifacts_dir or os.environ.get("COURSE_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
    return Config(profile=profile, dataset=str(dataset), data_dir=data_dir.expanduser().resolve(),
                  artifacts_dir=artifacts_dir.expanduser().resolve(), seed=seed,
                  overrides=given, **settings)
