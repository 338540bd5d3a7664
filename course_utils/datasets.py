"""Dataset manifests: the one contract through which every dataset enters the course.

A manifest is a CSV with one row per clip and the columns :data:`MANIFEST_COLUMNS`; its
``path`` column is relative to the manifest's own folder (``../`` where the videos live
elsewhere). The synthetic generator, the class-folder scanner and the public-dataset builders
all write it.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .jobs import CourseError, Failure, atomic_path, parallel_map, sha256_file
from .video import VideoError, probe_video

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ["path", "label", "subject", "split", "frames", "fps", "width", "height", "sha256"]
SPLITS = ("train", "val", "test")
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv"}


class DatasetError(CourseError):
    """A dataset folder or manifest cannot be used; the message says what to do."""



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
    """Every video file (by suffix, :data:`VIDEO_SUFFIXES`) under a class sub-folder of ``root``.

    Hidden files are skipped, and so is a linked folder that leads back into ``root`` (it would
    make a class of duplicates); images, ground-truth ``.npz`` and other files are not videos.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; expected a folder with one sub-folder per class")
    real_root = root.resolve()
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and not (p.is_symlink() and _inside(p.resolve(), real_root)))
    if not classes:
        raise DatasetError(f"{root}: has no class sub-folders (expected <root>/<class>/<video>)")
    return [f for c in classes for f in sorted(c.rglob("*")) if f.is_file() and not f.name.startswith(".")
            and f.suffix.lower() in VIDEO_SUFFIXES]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents or path in root.parents


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


def carve_validation(frame: pd.DataFrame, groups: pd.Series, fraction: float) -> pd.DataFrame:
    """``frame`` with about ``fraction`` of each class's ``train`` rows moved to ``val``, whole groups at a time.

    For a protocol with no validation split (HMDB51, UCF101): ``groups`` (aligned with ``frame``)
    names the rows that must stay together, e.g. the clips cut from one source video, so no group
    is in both ``train`` and ``val``. Each class goes through its groups in the order of a hash of
    their names (the same on every machine, for every seed) and moves the first one, then each that
    still fits in ``round(fraction * its train rows)``; its last group in that order always stays in
    ``train``. ``test`` rows are untouched.
    """
    frame = frame.copy()
    train = frame["split"] == "train"
    for _, rows in frame[train].groupby("label"):
        sizes = groups[rows.index].value_counts()
        order = sorted(sizes.index, key=lambda g: hashlib.sha256(str(g).encode()).hexdigest())
        target, taken, chosen = max(1, round(fraction * len(rows))), 0, []
        for group in order[:-1]:  # the last group in the order always stays in train
            if taken == 0 or taken + sizes[group] <= target:
                chosen.append(group)
                taken += sizes[group]
        frame.loc[rows.index[groups[rows.index].isin(chosen)], "split"] = "val"
    return frame


def write_manifest(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a manifest atomically; columns in the contract order first.

    When ``frame.attrs["root"]`` (where its paths point from) is not the manifest's folder,
    the paths are rewritten relative to the manifest's folder, so the file works wherever
    it is written.
    """
    path = Path(path)
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {missing}")
    extra = [c for c in frame.columns if c not in MANIFEST_COLUMNS]
    out = frame[MANIFEST_COLUMNS + extra]
    root = frame.attrs.get("root")
    if root is not None and Path(root).resolve() != path.parent.resolve():
        out = out.assign(path=[Path(os.path.relpath(Path(root).resolve() / p, path.parent.resolve())).as_posix()
                               for p in out["path"]])
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
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
    try:
        frame = pd.read_csv(path, dtype={"subject": str, "label": str, "sha256": str})
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: the file is empty, not a course manifest") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        why = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DatasetError(f"{path}: not a course manifest (cannot read it as CSV: {why})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the manifest ({error.strerror or error})") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: not a course manifest, missing columns {missing}")
    bad_splits = sorted(set(frame["split"].dropna()) - set(SPLITS))
    if bad_splits:
        raise DatasetError(f"{path}: unknown split values {bad_splits}; allowed: {', '.join(SPLITS)}")
    frame.attrs["root"] = os.path.abspath(root if root is not None else path.parent)  # errors name full paths
    return frame


def video_paths(frame: pd.DataFrame) -> list[Path]:
    """Absolute paths of the manifest's videos."""
    root = Path(frame.attrs["root"])
    return [root / p for p in frame["path"]]


def class_names(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["label"].unique())
