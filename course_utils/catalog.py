"""Prepare any dataset: the dispatcher over the synthetic generator, the public benchmarks and a
user's folder of class sub-folders. Everything it returns is a manifest (see ``datasets``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from .config import PUBLIC_DATASETS, Config
from .datasets import (MANIFEST_NAME, DatasetError, find_class_videos, load_manifest, scan_class_folder,
                       video_paths, write_manifest)
from .jobs import atomic_write_text
from .public_datasets import prepare_public_dataset
from .synthetic import generate_dataset


def prepare_dataset(cfg: Config, workers: int = 2, progress: bool = True) -> pd.DataFrame:
    """Make sure the dataset of ``cfg`` is on disk with a manifest and return the manifest.

    Synthetic data is generated once per spec and seed; a public dataset's split 1 is checked and
    probed (HMDB51 and UCF101 with a validation split carved from their training clips, see
    ``public_datasets.prepare_public_dataset``); a user's folder keeps its own ``manifest.csv`` if it
    has one, else it is scanned into ``artifacts_dir/manifests/`` (the folder may be
    read-only) and scanned again whenever its files change.
    """
    root = cfg.dataset_root
    if cfg.is_synthetic:
        if not (root / MANIFEST_NAME).is_file():
            generate_dataset(root, cfg.synthetic, seed=cfg.seed, workers=workers, progress=progress)
        return load_manifest(root)
    if cfg.dataset in PUBLIC_DATASETS:
        return prepare_public_dataset(cfg.dataset, cfg.data_dir, progress=progress, workers=workers)
    if (root / MANIFEST_NAME).is_file():
        frame = load_manifest(root)
        _warn_if_stale(frame, root)
        return frame
    return _scanned_folder(cfg, root, workers, progress)


def _warn_if_stale(frame: pd.DataFrame, root: Path) -> None:
    """Say so when a folder's own manifest no longer lists the videos in it (it is the user's
    file, so it is used as it is, never rewritten)."""
    try:
        on_disk = {f.resolve() for f in find_class_videos(root)}
    except DatasetError:  # not a class-folder tree: the manifest is the only description
        return
    listed = {p.resolve() for p in video_paths(frame)}
    added, gone = sorted(on_disk - listed), sorted(listed - on_disk)
    if added or gone:
        first = (added or gone)[0]
        print(f"{root / MANIFEST_NAME}: {len(added)} video file(s) in the folder are not in it (new, or "
              f"unreadable when it was made) and {len(gone)} it lists are missing (first: {first}); it is used "
              f"as it is. To include new videos, make it again: `python -m course_utils manifest {root}`")


def folder_fingerprint(files: list[Path], root: Path) -> str:
    """Changes whenever a video is added, removed, replaced or edited under ``root``."""
    listing = [(f.relative_to(root).as_posix(), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def scanned_manifest_path(cfg: Config, root: Path) -> Path:
    """Where the scanned manifest of ``root`` lives: named by the folder and its full path, so two
    folders with the same name never share one."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    return cfg.artifacts_dir / "manifests" / f"{root.name}-{key}.csv"


def _scanned_folder(cfg: Config, root: Path, workers: int, progress: bool) -> pd.DataFrame:
    manifest = scanned_manifest_path(cfg, root)
    stamp = manifest.with_suffix(".json")
    fingerprint = folder_fingerprint(find_class_videos(root), root)
    known = json.loads(stamp.read_text()).get("fingerprint") if stamp.is_file() else None
    if manifest.is_file() and known == fingerprint:
        return load_manifest(manifest)
    if manifest.is_file():
        print(f"{root}: its videos changed since the manifest was made; scanning again")
    frame, failures = scan_class_folder(root, workers=workers, seed=cfg.seed, progress=progress)
    for failure in failures:
        print(f"skipped {failure}")
    if frame.empty:
        raise DatasetError(f"{root}: no readable video in any class sub-folder")
    write_manifest(frame, manifest)
    atomic_write_text(stamp, json.dumps({"root": str(root), "fingerprint": fingerprint}, indent=2) + "\n")
    return load_manifest(manifest)
