"""Dataset manifests: the one contract through which every dataset enters the course.

A manifest is a CSV beside the videos with one row per clip and the columns
:data:`MANIFEST_COLUMNS` (paths relative to the manifest's folder). The synthetic
generator, the class-folder scanner and the public-dataset builders all write it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .config import Config
from .video import VideoError, parallel_map, probe_video

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ["path", "label", "subject", "split", "frames", "fps", "width", "height", "sha256"]
SPLITS = ("train", "val", "test")
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv"}


class DatasetError(Exception):
    """A dataset folder or manifest cannot be used; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """One input that could not be processed, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def describe_video(args: tuple[Path, Path]) -> dict | Failure:
    """Manifest fields of ``root/path`` as ``(root, path)`` (one tuple, for process pools), or a Failure."""
    root, path = args
    rel = path.relative_to(root).as_posix()
    try:
        info = probe_video(path)
    except VideoError as error:
        return Failure(rel, error.problem)
    return {"path": rel, "frames": info.frames, "fps": round(info.fps, 3), "width": info.width,
            "height": info.height, "sha256": sha256_file(path)}


def find_class_videos(root: Path) -> list[Path]:
    """Every file one level below a class sub-folder of ``root`` (hidden files skipped)."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; expected a folder with one sub-folder per class")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root}: has no class sub-folders (expected <root>/<class>/<video>)")
    return [f for c in classes for f in sorted(c.rglob("*")) if f.is_file() and not f.name.startswith(".")
            and f.name != MANIFEST_NAME]


def scan_class_folder(root: str | Path, workers: int = 2, seed: int = 0,
                      split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                      progress: bool = True) -> tuple[pd.DataFrame, list[Failure]]:
    """Manifest of ``root/<class>/<video>`` with every file decoded once.

    Unreadable files are returned as failures with the reason, never raised. The subject is
    read from a ``subject`` token in the file name where there is one (``..._p03_...``,
    UCF101 ``_g03_``, KTH ``person03``, PS7 ``P3``), else each video is its own subject;
    splits are assigned by subject so no subject is in two splits.
    """
    root = Path(root).expanduser().resolve()
    files = find_class_videos(root)
    jobs = [(root, f) for f in files]
    rows: list[dict] = []
    failures: list[Failure] = []
    results = parallel_map(describe_video, jobs, workers, progress, desc=f"scanning {root.name}", unit="video")
    for (_, file), result in zip(jobs, results):
        if isinstance(result, Failure):
            failures.append(result)
            continue
        result["label"] = file.relative_to(root).parts[0]
        result["subject"] = subject_from_name(file.stem)
        rows.append(result)
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    frame["split"] = assign_subject_splits(frame["subject"], split_fractions, seed)
    frame = frame[MANIFEST_COLUMNS]
    frame.attrs["root"] = str(root)
    return frame, failures


_SUBJECT_PATTERNS = (r"(?:^|[_\-])(?:p|person|subject|s|g)(\d+)(?=[_\-.]|$)", r"P(\d+)T\d+$",
                     r"person(\d+)")


def subject_from_name(stem: str) -> str:
    """The performer's id if the file name carries one, else the file name itself."""
    import re

    for pattern in _SUBJECT_PATTERNS:
        match = re.search(pattern, stem, flags=re.IGNORECASE)
        if match:
            return f"subject{int(match.group(1)):03d}"
    return stem


def assign_subject_splits(subjects: Iterable[str], fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                          seed: int = 0) -> list[str]:
    """train/val/test per subject (never split one subject), sizes close to ``fractions``."""
    subjects = list(subjects)
    unique = sorted(set(subjects))
    rng = np.random.default_rng(seed)
    order = [unique[i] for i in rng.permutation(len(unique))]
    n = len(order)
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    n_val = max(1, round(fractions[1] * n)) if n >= 3 else 0
    split_of = {}
    for index, subject in enumerate(order):
        split_of[subject] = "test" if index < n_test else "val" if index < n_test + n_val else "train"
    return [split_of[s] for s in subjects]


def write_manifest(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest atomically; columns in the contract order first."""
    path = Path(path)
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {missing}")
    extra = [c for c in frame.columns if c not in MANIFEST_COLUMNS]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame[MANIFEST_COLUMNS + extra].to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def load_manifest(path: str | Path, root: str | Path | None = None) -> pd.DataFrame:
    """Read a manifest and check it against the contract; ``path`` may be its folder.

    Video paths are relative to ``root`` (default: the manifest's folder).
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise DatasetError(f"{path}: no manifest here; create it with "
                           f"`python -m course_utils manifest {path.parent}`")
    frame = pd.read_csv(path, dtype={"subject": str, "label": str, "sha256": str})
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: not a course manifest, missing columns {missing}")
    bad_splits = sorted(set(frame["split"].dropna()) - set(SPLITS))
    if bad_splits:
        raise DatasetError(f"{path}: unknown split values {bad_splits}; allowed: {', '.join(SPLITS)}")
    frame.attrs["root"] = str(Path(root) if root is not None else path.parent)
    return frame


def video_paths(frame: pd.DataFrame) -> list[Path]:
    """Absolute paths of the manifest's videos."""
    root = Path(frame.attrs["root"])
    return [root / p for p in frame["path"]]


def class_names(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["label"].unique())


def prepare_dataset(cfg: Config, workers: int = 2, progress: bool = True) -> pd.DataFrame:
    """Make sure the dataset of ``cfg`` is on disk with a manifest and return the manifest."""
    root = cfg.dataset_root
    if cfg.is_synthetic:
        from .synthetic import generate_dataset

        if not (root / MANIFEST_NAME).is_file():
            generate_dataset(root, cfg.synthetic, seed=cfg.seed, workers=workers, progress=progress)
        return load_manifest(root)
    if cfg.dataset in ("hmdb51", "ucf101", "utd_mhad", "kth"):
        from .public_datasets import prepare_public_dataset

        return prepare_public_dataset(cfg.dataset, cfg.data_dir, progress=progress)
    if (root / MANIFEST_NAME).is_file():
        return load_manifest(root)
    # A user's folder may be read-only: its scanned manifest lives under artifacts_dir.
    manifest = cfg.artifacts_dir / "manifests" / f"{cfg.dataset_name}.csv"
    if not manifest.is_file():
        frame, failures = scan_class_folder(root, workers=workers, seed=cfg.seed, progress=progress)
        for failure in failures:
            print(f"skipped {failure}")
        if frame.empty:
            raise DatasetError(f"{root}: no readable video in any class sub-folder")
        write_manifest(frame, manifest)
    return load_manifest(manifest, root=root)
