"""The frame cache and the flow cache: each video decoded (or its flow computed) once, written
atomically, found again by its manifest path and checksum (:func:`cache_file`).

* frames: :func:`cache_clips` keeps one ``(T, H, W, 3)`` uint8 RGB ``.npy`` per video under
  ``<cache_dir>/clips-<sampling>-<T>-<H>x<W>-<fit>/``; :func:`load_cached` reads one back;
  :func:`cache_side` is their side for a model input (a little larger: room for crops);
* flow: :func:`extract_flow_cache` keeps one uint8 ``(T-1, H, W, 2)`` ``.npy`` per video
  (see ``flow.quantize``), computed while decoding, so a long video never sits in memory;
  :func:`load_flow` reads one back.

Both are resumable: a killed run leaves only whole files, a rerun computes the rest.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from . import flow, video
from .config import Config
from .datasets import load_manifest, video_paths
from .jobs import (Failure, Progress, atomic_path, describe_os_error, ensure_writable_dir, remove_stale_temps,
                   run_jobs, temp_path)

FLOW_META = "flow_cache.json"


def cache_file(folder: str | Path, rel_path: str, sha256: str | None) -> Path:
    """The cache file of one video: its manifest path mirrored under ``folder``, plus the first 12
    digits of its checksum (a changed or regenerated video is never served stale data)."""
    parts = [p for p in Path(rel_path).parts if p not in ("..", ".", "/")]
    digest = sha256[:12] if isinstance(sha256, str) and sha256 else "nosha"
    return Path(folder).joinpath(*parts[:-1], f"{parts[-1]}-{digest}.npy")


def _require_root(manifest: pd.DataFrame) -> None:
    if "root" not in manifest.attrs:
        raise flow.FlowError("the manifest does not say where its videos are: read it with "
                         "datasets.load_manifest or set manifest.attrs['root'] to their folder")


_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}


def npy_is_complete(path: Path, shape: tuple[int | None, ...]) -> bool:
    """True when ``path`` holds a whole C-ordered uint8 array of ``shape`` (reads the header only;
    None in ``shape`` matches any length, e.g. the frame axis of a variable-length array)."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = _NPY_HEADER_READERS.get(version)
            if read_header is None:
                return False
            found, fortran, dtype = read_header(handle)
            data_start = handle.tell()
    except (OSError, ValueError):
        return False
    whole = path.stat().st_size == data_start + int(np.prod(found)) * dtype.itemsize
    same = len(found) == len(shape) and all(e is None or e == f for e, f in zip(shape, found))
    return whole and same and dtype == np.uint8 and not fortran


def save_npy_atomic(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` to ``path`` through a temp file and a rename: ``path`` is never partial."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)
    return Path(path)


def _load_npy(path: Path, what: str, how: str, mmap: bool = False) -> np.ndarray:
    if not path.is_file():
        raise video.CacheError(path, f"no cached {what} here; build it with {how}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise video.CacheError(path, f"unreadable cache file ({error}); delete it and rebuild") from error


# --------------------------------------------------------------------------- frame cache

CACHE_SIZE_FACTOR = 9 / 8
"""Side of the cached frames, as a multiple of the model's input size (room for crops)."""


def cache_side(image_size: int) -> int:
    """The side of the cached frames for a model input of ``image_size`` px.

    Args:
        image_size: side of the (square) frames the model sees.

    Returns:
        ``image_size * CACHE_SIZE_FACTOR`` rounded up to an even number of pixels: training crops
        its input out of frames this large, evaluation (and ``streaming``) their central square.
    """
    return 2 * math.ceil(image_size * CACHE_SIZE_FACTOR / 2)


def clip_cache_path(cache_dir: str | Path, rel_path: str, sha256: str | None, num_frames: int | None,
                    size: video.Size, sampling: str = "uniform", fit: str = "crop") -> Path:
    """Where :func:`cache_clips` keeps one clip: keyed by the sampling, the size and the video."""
    if sampling not in video.SAMPLERS:
        raise ValueError(f"sampling={sampling!r} is not a registered strategy; allowed: {', '.join(video.SAMPLERS)}")
    if fit not in video.FITS:
        raise ValueError(f"fit={fit!r} is not supported; allowed: {', '.join(video.FITS)}")
    if sampling != "all" and not (isinstance(num_frames, (int, np.integer)) and num_frames >= 1):
        raise ValueError(f"sampling={sampling!r} needs num_frames >= 1, got {num_frames!r}")
    height, width = video._hw(size)
    frames = "all" if sampling == "all" else f"t{num_frames}"
    return cache_file(Path(cache_dir) / f"clips-{sampling}-{frames}-{height}x{width}-{fit}", rel_path, sha256)


def _cache_one(job: tuple[Path, Path, np.ndarray, video.Size, str, int | None]) -> Path | str:
    """Decode and save one clip; the problem as a string when the video is unusable."""
    source, out, indices, size, fit, threads = job
    try:
        save_npy_atomic(out, video.load_clip(source, indices, size=size, fit=fit, threads=threads))
    except video.VideoError as error:
        return f"{error.problem} (tried {error.path})"
    except cv2.error as error:
        return f"{type(error).__name__}: {error}"
    return out


def cache_clips(manifest: pd.DataFrame, cache_dir: str | Path, num_frames: int | None, size: video.Size,
                sampling: str = "uniform", fit: str = "crop", workers: int = 2,
                progress: bool = True) -> tuple[list[Path | None], list[Failure]]:
    """Decode every video of ``manifest`` once into the frame cache; skip what is complete.

    Needs: a manifest from ``datasets.load_manifest`` (``path``, ``frames``, ``sha256``).
    Adds: one ``(T, H, W, 3)`` uint8 RGB clip per video, ``T = num_frames`` picked by the
    registered ``sampling`` strategy at test time (``all``: every frame, ``num_frames``
    ignored), ``H, W`` from ``size`` (see ``video.fit_frames``).

    Returns the cache path of every manifest row in order (``None`` where the video failed)
    and the failures, each naming the video (its manifest path) and the reason; the rest completes.
    """
    _require_root(manifest)
    ensure_writable_dir(cache_dir)
    remove_stale_temps(cache_dir)
    rows = list(zip(manifest["path"], manifest["frames"], manifest["sha256"], video_paths(manifest)))
    paths: list[Path | None] = [None] * len(rows)
    failures: dict[int, Failure] = {}
    jobs: dict[int, tuple] = {}
    height, width = video._hw(size)
    for i, (rel, frames, sha, source) in enumerate(rows):
        out = clip_cache_path(cache_dir, rel, sha, num_frames, size, sampling, fit)
        count = int(frames) if frames == frames else 0  # NaN in the manifest counts as unknown
        if count < 1:
            failures[i] = Failure(str(rel), f"the manifest gives {frames!r} frames")
            continue
        indices = video.sample_indices(sampling, count, num_frames)
        if npy_is_complete(out, (len(indices), height, width, 3)):
            paths[i] = out
        else:
            jobs[i] = (source, out, indices, size, fit, 1 if workers > 1 else None)
    with Progress(len(jobs), "caching clips", "clip", enabled=progress) as bar:
        for i, result in run_jobs(_cache_one, jobs, workers):
            if isinstance(result, Path):
                paths[i] = result
            else:
                failures[i] = Failure(str(rows[i][0]), result)
            bar.update()
    return paths, [failures[i] for i in sorted(failures)]


def load_cached(path: str | Path, mmap: bool = False) -> np.ndarray:
    """One cached clip ``(T, H, W, 3)`` uint8 RGB; ``mmap`` maps it instead of reading it."""
    path = Path(path)
    clip = _load_npy(path, "clip", "cache.cache_clips", mmap)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
        raise video.CacheError(path, f"expected a (T, H, W, 3) uint8 clip, found {clip.dtype} {clip.shape}")
    return clip


# --------------------------------------------------------------------------- flow cache

DEFAULT_FLOW_SIZE = 112
"""The frame size the course computes flow at (the temporal stream's input)."""


@dataclasses.dataclass
class FlowSummary:
    """What one :func:`extract_flow_cache` run did.

    ``paths`` has one entry per manifest row, in order: its cache file, or None if it failed.
    """

    out_dir: Path
    paths: list[Path | None]
    done: int
    skipped: int
    failures: list[Failure]
    fields: int
    seconds: float

    @property
    def fields_per_s(self) -> float:
        """Fields computed per second of wall time in this run (0 when nothing was computed)."""
        return self.fields / self.seconds if self.fields and self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (f"{self.done} videos computed ({self.fields} fields, {self.fields_per_s:.0f} fields/s), "
                f"{self.skipped} already complete, {len(self.failures)} failed -> {self.out_dir}")


def flow_cache_dir(cfg: Config, size: int | None = DEFAULT_FLOW_SIZE, method: str = "farneback") -> Path:
    """Where the notebooks keep the flow cache of ``cfg``'s dataset for ``size`` and ``method``."""
    return cfg.cache_dir / f"flow-{method}-{size or 'native'}"


def load_flow(path: str | Path, dequantize_to_pixels: bool = True, bound: float = flow.BOUND) -> np.ndarray:
    """One cached flow ``(T-1, H, W, 2)``: float32 pixels, or the stored uint8 codes."""
    path = Path(path)
    codes = _load_npy(path, "flow", "notebook 03_optical_flow or `python -m course_utils flow MANIFEST OUT`")
    if codes.ndim != 4 or codes.shape[-1] != 2 or codes.dtype != np.uint8:
        raise video.CacheError(path, f"expected (T-1, H, W, 2) uint8 flow, found {codes.dtype} {codes.shape}")
    return flow.dequantize(codes, bound) if dequantize_to_pixels else codes


@dataclasses.dataclass(frozen=True)
class _Job:
    source: Path
    target: Path
    rel_path: str
    size: int | None
    method: str


def _write_npy_from_raw(path: Path, raw: Path, shape: tuple[int, ...]) -> None:
    """``path`` (atomically) = an ``.npy`` header for uint8 ``shape`` followed by the bytes of ``raw``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as out, open(raw, "rb") as data:
        np.lib.format.write_array_header_1_0(out, {"descr": "|u1", "fortran_order": False, "shape": shape})
        shutil.copyfileobj(data, out, 1 << 22)


def _extract_one(job: _Job) -> int | Failure:
    """Decode, resize, flow, quantise and write one video, field by field: its field count, or
    why it failed. Memory holds two frames; the fields stream to a temporary file."""
    flow_of = flow.flow_function(job.method)
    raw = temp_path(job.target.with_suffix(".raw"))
    previous, count, shape = None, 0, None
    try:
        ensure_writable_dir(job.target.parent)
        with open(raw, "wb") as out:
            for gray in flow.iter_gray_frames(job.source, job.size):
                if previous is not None:
                    out.write(flow.quantize(flow_of(previous, gray)).tobytes())
                    count += 1
                previous, shape = gray, gray.shape
        if count == 0:
            return Failure(job.rel_path, "has 1 frame; optical flow needs at least 2")
        _write_npy_from_raw(job.target, raw, (count, *shape, 2))
    except video.VideoError as error:
        return Failure(job.rel_path, f"{error.problem} (tried {error.path})")
    except cv2.error as error:
        return Failure(job.rel_path, f"{type(error).__name__}: {error}")
    except OSError as error:
        problem = describe_os_error(error, job.target)
        if error.errno in _EVERY_VIDEO_WOULD_FAIL:
            raise problem from None  # a full or read-only disk: stop the run, keep what is complete
        return Failure(job.rel_path, str(problem))
    finally:
        raw.unlink(missing_ok=True)
    return count


_EVERY_VIDEO_WOULD_FAIL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def _as_manifest(manifest: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(manifest, pd.DataFrame):
        _require_root(manifest)
        return manifest
    return load_manifest(manifest)


def _claim_cache_settings(out_dir: Path, settings: dict) -> None:
    """Record the settings of the flow in ``out_dir`` (first writer wins, atomically) and refuse
    to mix flow computed with other settings into it."""
    meta = out_dir / FLOW_META
    if not meta.is_file():
        tmp = temp_path(meta)
        tmp.write_text(json.dumps({**settings, "layout": "uint8 (T-1, H, W, 2), channels dx, dy; pixels = "
                                                         "code * 2 * bound / 255 - bound"}, indent=2) + "\n")
        try:
            os.link(tmp, meta)  # fails if another run created it first: then its settings rule
        except FileExistsError:
            pass
        except OSError as error:
            raise describe_os_error(error, meta) from error
        finally:
            tmp.unlink(missing_ok=True)
    found = json.loads(meta.read_text())
    differ = [k for k in settings if found.get(k) != settings[k]]
    if differ:
        raise flow.FlowError(f"{out_dir} holds flow computed with " + ", ".join(f"{k}={found.get(k)!r}" for k in differ)
                             + ", not " + ", ".join(f"{k}={settings[k]!r}" for k in differ)
                             + "; choose another folder or delete this one")


def extract_flow_cache(manifest: str | Path | pd.DataFrame, out_dir: str | Path,
                       size: int | None = DEFAULT_FLOW_SIZE, method: str = "farneback", workers: int = 2,
                       progress: bool = True) -> FlowSummary:
    """Compute the flow of every video of ``manifest`` into ``out_dir``, resumably and in parallel.

    Needs: a manifest CSV, its folder, or a DataFrame from ``datasets.load_manifest``.
    Adds: one uint8 ``(T-1, size, size, 2)`` ``.npy`` per video (see :func:`cache_file` and
    ``flow.quantize``), written atomically, so a killed or interrupted run leaves only whole
    files; a rerun skips them and computes the rest. A video that cannot be decoded is listed
    in ``failures`` (manifest path, the path tried and the reason) and the others are still
    computed. ``size`` resizes frames to ``size x size`` first (None: native size, memory-safe
    but slow on large video); ``workers`` processes share the work, longest videos first.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8):
        raise flow.FlowError(f"size={size!r} must be None or an integer >= 8 (pixels)")
    flow.flow_function(method)  # checks the method (and TV-L1's availability) before any work
    frame = _as_manifest(manifest)
    root, out_dir = Path(frame.attrs["root"]), Path(out_dir)
    size = None if size is None else int(size)
    ensure_writable_dir(out_dir)
    _claim_cache_settings(out_dir, {"method": method, "size": size, "bound": flow.BOUND,
                                    "params": flow.FARNEBACK_PARAMS if method == "farneback" else {}})
    remove_stale_temps(out_dir)
    start = time.perf_counter()
    rel_paths = frame["path"].astype(str).tolist()
    paths: list[Path | None] = [cache_file(out_dir, rel, sha) for rel, sha in zip(rel_paths, frame["sha256"])]
    cost = frame[["frames", "width", "height"]].apply(pd.to_numeric, errors="coerce").fillna(0).prod(axis=1)
    jobs = {i: _Job(root / rel_paths[i], paths[i], rel_paths[i], size, method)
            for i in np.argsort(-cost.to_numpy(), kind="stable")
            if not npy_is_complete(paths[i], (None, size, size, 2))}
    failures, fields = {}, 0
    try:
        with Progress(len(jobs), f"{method} flow", "video", enabled=progress) as bar:
            for i, result in run_jobs(_extract_one, jobs, workers):
                if isinstance(result, Failure):
                    failures[i], paths[i] = result, None
                else:
                    fields += result
                bar.update()
    except BaseException:  # Ctrl-C, a full disk: complete files stay, the stopped workers' temporaries go
        remove_stale_temps(out_dir)
        raise
    return FlowSummary(out_dir, paths, len(jobs) - len(failures), len(frame) - len(jobs),
                       [failures[i] for i in sorted(failures)], fields, time.perf_counter() - start)
