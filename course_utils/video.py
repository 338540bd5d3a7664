"""Decoding, sampling, resizing and caching video clips, with typed errors that name the file.

Arrays follow one layout everywhere: a frame is ``(H, W, 3)`` uint8 RGB (``(H, W)`` when
grayscale) and a clip is ``(T, H, W, 3)`` uint8 RGB (``(T, H, W)`` when grayscale).

Three layers, in the order data flows:

* decoding: :func:`probe_video` (frame count and fps measured from the stream, checked
  against the header), :func:`iter_frames`, :func:`read_video` and :func:`load_clip`, which
  reads sequentially and stops after the last frame it needs;
* sampling: functions that turn a frame count into frame indices (:func:`uniform_indices`,
  :func:`random_span_indices`, :func:`segment_indices`, :func:`sliding_windows`) and
  resize/crop helpers;
* the frame cache: :func:`cache_clips` decodes every clip of a manifest once into
  ``<cache_dir>/<clips-...>/<video path>-<sha256>.npy`` (one ``(T, H, W, 3)`` uint8 RGB array
  per video, written atomically); :func:`load_cached` reads one back.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import cv2
import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    import pandas as pd

    from .datasets import Failure

Size = int | tuple[int, int]
SAMPLINGS = ("uniform", "segments", "all")
FITS = ("crop", "stretch")


class VideoError(Exception):
    """A video could not be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class VideoMissingError(VideoError):
    pass


class VideoEmptyError(VideoError):
    pass


class NotAVideoError(VideoError):
    pass


class VideoTruncatedError(VideoError):
    pass


class VideoTooShortError(VideoError):
    pass


class CacheError(VideoError):
    """A cached clip is unreadable or not a ``(T, H, W, 3)`` uint8 array."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a full decode of a file found (the header's frame count is not trusted).

    ``fps`` is measured from the frame timestamps of the stream (the header's value when the
    two agree within 1 %); ``variable_fps`` is true when the frame intervals differ.
    """

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    header_frames: int
    header_fps: float = 0.0
    variable_fps: bool = False
    codec: str = ""
    container: str = ""

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else float("nan")


# (offset, magic bytes, container): recognises a video file even when OpenCV cannot open it.
_SIGNATURES = (
    (0, b"RIFF", "AVI"), (4, b"ftyp", "MP4/MOV"), (4, b"moov", "MOV"), (4, b"mdat", "MOV"),
    (4, b"wide", "MOV"), (0, b"\x1aE\xdf\xa3", "Matroska/WebM"), (0, b"\x00\x00\x01\xba", "MPEG-PS"),
    (0, b"0&\xb2u\x8ef\xcf\x11", "ASF/WMV"), (0, b"FLV", "FLV"), (0, b"OggS", "Ogg"),
)


def container_of(path: str | Path) -> str:
    """The container format named by the file's first bytes ("" when none is recognised)."""
    with open(path, "rb") as handle:
        head = handle.read(189)
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    if len(head) == 189 and head[0] == head[188] == 0x47:
        return "MPEG-TS"
    return ""


def _open(path: str | Path, threads: int | None = None) -> cv2.VideoCapture:
    """Open ``path`` for decoding (``threads``: FFmpeg decoder threads, None for OpenCV's default)."""
    path = Path(path)
    if not path.exists():
        raise VideoMissingError(path, "file does not exist")
    if path.is_dir():
        raise NotAVideoError(path, "is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoEmptyError(path, "file is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads]) if threads else None
    if capture is None or not capture.isOpened():  # no FFmpeg backend for it: let OpenCV choose
        capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        container = container_of(path)
        if container:
            raise VideoTruncatedError(path, f"starts with a valid {container} signature but cannot be "
                                      "opened (truncated or corrupt, e.g. its index is missing)")
        raise NotAVideoError(path, "not a video: no known container signature and OpenCV cannot open it")
    return capture


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    text = code.to_bytes(4, "little").decode("latin-1") if 0 < code < 2**32 else ""
    return text.strip() if text.isprintable() else ""


def _plausible_fps(value: float) -> float:
    return float(value) if np.isfinite(value) and 0 < value <= 1000 else 0.0


class _Decoder:
    """Sequential reader that counts frames and records their timestamps."""

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        self.capture = _open(path, threads)
        self.header_frames = max(0, int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.header_fps = _plausible_fps(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.codec = _fourcc(self.capture)
        self.count = 0
        self.stamps_ms: list[float] = []

    def __enter__(self) -> "_Decoder":
        return self

    def __exit__(self, *exc) -> None:
        self.capture.release()

    def grab(self) -> bool:
        """Decode the next frame without converting it; False at the end of the stream."""
        if not self.capture.grab():
            return False
        self.count += 1
        self.stamps_ms.append(self.capture.get(cv2.CAP_PROP_POS_MSEC))
        return True

    def retrieve(self, gray: bool) -> np.ndarray:
        """The frame last grabbed, RGB (or 2-D gray) uint8."""
        ok, frame = self.capture.retrieve()
        if not ok or frame is None:
            raise VideoTruncatedError(self.path, f"frame {self.count - 1} could not be decoded (corrupt stream)")
        if frame.ndim == 2:
            return frame if gray else cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if gray else cv2.COLOR_BGR2RGB)

    def stream_fps(self) -> tuple[float, bool]:
        """(fps, variable) from the timestamps; the header's fps when they cannot tell."""
        stamps = np.asarray(self.stamps_ms, dtype=float)
        steps = np.diff(stamps)
        if len(steps) == 0 or not np.all(steps > 0):
            return self.header_fps, False
        # n frames last from the first timestamp to one interval after the last one.
        measured = _plausible_fps(1000.0 * len(stamps) / (stamps[-1] - stamps[0] + steps[-1]))
        variable = bool(steps.max() > 1.25 * steps.min())
        if not variable and self.header_fps and abs(measured - self.header_fps) <= 0.01 * self.header_fps:
            return self.header_fps, False
        return measured or self.header_fps, variable

    def check_complete(self) -> None:
        """Call at the end of the stream: too few frames compared with the header means truncation."""
        if self.count == 0:
            raise VideoTruncatedError(self.path, "no frame could be decoded (truncated or corrupt stream)")
        # Containers without a frame count in the header report an estimate: allow 5 % slack.
        if self.header_frames - self.count > max(2, 0.05 * self.header_frames):
            raise VideoTruncatedError(self.path, f"only {self.count} of the {self.header_frames} frames in "
                                      "the header could be decoded (truncated file)")


def iter_frames(path: str | Path, gray: bool = False) -> Iterator[np.ndarray]:
    """Yield the decoded frames of ``path`` as uint8 arrays (RGB, or 2-D when ``gray``)."""
    with _Decoder(path) as decoder:
        while decoder.grab():
            yield decoder.retrieve(gray)
        decoder.check_complete()


def probe_video(path: str | Path) -> VideoInfo:
    """Decode the whole file once and report frames, fps (from timestamps), size and codec."""
    with _Decoder(path) as decoder:
        height = width = 0
        while decoder.grab():
            if decoder.count == 1:
                height, width = decoder.retrieve(gray=True).shape
        decoder.check_complete()
        fps, variable = decoder.stream_fps()
        return VideoInfo(Path(path), decoder.count, fps, width, height, decoder.header_frames,
                         decoder.header_fps, variable, decoder.codec, container_of(path))


def read_video(path: str | Path, gray: bool = False) -> np.ndarray:
    """All frames of ``path`` as one array ``(T, H, W, 3)`` (or ``(T, H, W)`` when ``gray``)."""
    return np.stack(list(iter_frames(path, gray=gray)))


def write_video(path: str | Path, frames: np.ndarray, fps: float, fourcc: str | None = None) -> Path:
    """Write RGB uint8 frames ``(T, H, W, 3)`` atomically (temp file + rename).

    The codec follows the suffix: MPEG-4 part 2 (``mp4v``) for ``.mp4``, ``MJPG`` for ``.avi``.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    code = fourcc or {".mp4": "mp4v", ".avi": "MJPG"}.get(path.suffix.lower())
    if code is None:
        raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; use .mp4 or .avi")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*code), float(fps), (width, height))
    if not writer.isOpened():
        raise VideoError(path, f"OpenCV cannot write codec {code!r}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    tmp.replace(path)
    return path


# --- sampling: frame count -> frame indices ------------------------------------------------
# Every strategy returns int64 indices in [0, num_frames), in temporal order. A clip shorter
# than the request repeats frames (the last one, for spans) rather than wrapping around, so
# the order of events is kept: "sit down" must never turn into "stand up".

def _check_counts(num_frames: int, **counts: int) -> None:
    for name, value in {"num_frames": num_frames, **counts}.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def uniform_indices(num_frames: int, n: int) -> np.ndarray:
    """``n`` indices spread evenly from the first to the last frame (deterministic)."""
    _check_counts(num_frames, n=n)
    return np.rint(np.linspace(0, num_frames - 1, n)).astype(np.int64)


def random_span_indices(num_frames: int, n: int, rng: np.random.Generator | int | None,
                        stride: int = 1) -> np.ndarray:
    """``n`` consecutive frames (every ``stride``-th) from a random start: training-time sampling.

    When the span ``(n - 1) * stride + 1`` is longer than the clip it starts at frame 0 and
    the missing tail repeats the last frame.
    """
    _check_counts(num_frames, n=n, stride=stride)
    span = (n - 1) * stride + 1
    start = np.random.default_rng(rng).integers(0, num_frames - span + 1) if span <= num_frames else 0
    return np.minimum(start + stride * np.arange(n), num_frames - 1).astype(np.int64)


def segment_indices(num_frames: int, segments: int, training: bool,
                    rng: np.random.Generator | int | None = None) -> np.ndarray:
    """TSN sampling: split the clip into ``segments`` equal parts and take one frame from each.

    In training the frame is random within its segment (needs ``rng``); at test time it is
    the segment's centre, so evaluation is deterministic.
    """
    _check_counts(num_frames, segments=segments)
    bounds = np.arange(segments + 1) * (num_frames / segments)
    if training:
        if rng is None:
            raise ValueError("segment_indices(training=True) needs an rng (a seed or np.random.Generator)")
        offsets = np.random.default_rng(rng).random(segments)
    else:
        offsets = np.full(segments, 0.5)
    picks = np.floor(bounds[:-1] + offsets * np.diff(bounds))
    return np.clip(picks, 0, num_frames - 1).astype(np.int64)


def sliding_windows(num_frames: int, window: int, stride: int) -> np.ndarray:
    """Dense windows ``(num_windows, window)``: starts at 0, stride, ... while a full window fits.

    Frames after the last full window are not covered; a clip shorter than ``window`` gives
    one window that repeats its last frame.
    """
    _check_counts(num_frames, window=window, stride=stride)
    starts = np.arange(0, max(num_frames - window, 0) + 1, stride)
    return np.minimum(starts[:, None] + np.arange(window)[None, :], num_frames - 1).astype(np.int64)


# --- resize and crop ----------------------------------------------------------------------
# Each helper takes a frame (H, W[, 3]) or a clip (T, H, W[, 3]); a 3-D array whose last axis
# is 3 is read as one colour frame. Sizes are an int (square) or (height, width).

def _hw(size: Size) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, (int, np.integer)) else size
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return int(height), int(width)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; allowed: {', '.join(allowed)}")


def _has_channels(array: np.ndarray) -> bool:
    return array.ndim == 4 or (array.ndim == 3 and array.shape[-1] == 3)


def _spatial_shape(array: np.ndarray) -> tuple[int, int]:
    if array.ndim not in (2, 3, 4):
        raise ValueError(f"expected a frame or a clip, got an array of shape {array.shape}")
    return array.shape[-3:-1] if _has_channels(array) else array.shape[-2:]


def _crop(array: np.ndarray, size: Size, top: int | None = None, left: int | None = None) -> np.ndarray:
    """The ``size`` window at (top, left) of every frame; centred where not given."""
    height, width = _hw(size)
    in_h, in_w = _spatial_shape(np.asarray(array))
    if height > in_h or width > in_w:
        raise ValueError(f"cannot crop {height}x{width} out of frames of {in_h}x{in_w}")
    top = (in_h - height) // 2 if top is None else top
    left = (in_w - width) // 2 if left is None else left
    rows, cols = slice(top, top + height), slice(left, left + width)
    return array[..., rows, cols, :] if _has_channels(array) else array[..., rows, cols]


def resize_clip(frames: np.ndarray, size: Size) -> np.ndarray:
    """Resize every frame to exactly ``size`` (aspect ratio not kept); area filter when shrinking."""
    height, width = _hw(size)
    frames = np.asarray(frames)
    in_h, in_w = _spatial_shape(frames)
    if (in_h, in_w) == (height, width):
        return frames
    interpolation = cv2.INTER_AREA if height * width < in_h * in_w else cv2.INTER_LINEAR
    single = frames.ndim - _has_channels(frames) == 2
    out = np.stack([cv2.resize(f, (width, height), interpolation=interpolation)
                    for f in (frames[None] if single else frames)])
    return out[0] if single else out


def _cover(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale, keeping the aspect ratio, to the smallest size that covers ``height x width``."""
    in_h, in_w = _spatial_shape(np.asarray(frames))
    scale = max(height / in_h, width / in_w)
    return resize_clip(frames, (max(height, round(in_h * scale)), max(width, round(in_w * scale))))


def resize_shorter_side(frames: np.ndarray, size: int) -> np.ndarray:
    """Scale so that the shorter side is ``size`` pixels, keeping the aspect ratio."""
    return _cover(frames, size, size)


def center_crop(frames: np.ndarray, size: Size) -> np.ndarray:
    """The central ``size`` window of every frame."""
    return _crop(frames, size)


def random_crop(frames: np.ndarray, size: Size, rng: np.random.Generator | int | None) -> np.ndarray:
    """A random ``size`` window, the same for every frame of the clip (training augmentation)."""
    height, width = _hw(size)
    in_h, in_w = _spatial_shape(np.asarray(frames))
    rng = np.random.default_rng(rng)
    top, left = (int(rng.integers(0, max(0, n - k) + 1)) for n, k in ((in_h, height), (in_w, width)))
    return _crop(frames, size, top, left)


def fit_frames(frames: np.ndarray, size: Size, fit: str = "crop") -> np.ndarray:
    """Bring frames to ``size``: ``crop`` resizes the shorter side then centre-crops (aspect
    kept, borders lost); ``stretch`` resizes directly (everything kept, shapes distorted)."""
    _choice("fit", fit, FITS)
    return resize_clip(frames, size) if fit == "stretch" else _crop(_cover(frames, *_hw(size)), size)


def load_clip(path: str | Path, indices: Sequence[int] | np.ndarray | None = None, size: Size | None = None,
              gray: bool = False, fit: str = "crop", threads: int | None = None) -> np.ndarray:
    """Decode the frames ``indices`` of ``path`` as ``(len(indices), H, W, 3)`` uint8 RGB.

    Frames are read sequentially and decoding stops after the largest index (frames in
    between are decoded but not converted), so a short sample of a long video is cheap; a
    damaged tail after that index goes unnoticed (``probe_video`` checks the whole file).
    Indices may repeat and come in any order. ``None`` means every frame. Each frame is
    brought to ``size`` as it is decoded (see :func:`fit_frames`), so 1080p input never
    needs a full-resolution clip in memory. ``threads`` sets the decoder's threads (None:
    OpenCV's default, which helps on large frames; 1 in worker pools, which parallelise by clip).
    """
    _choice("fit", fit, FITS)
    wanted = None if indices is None else np.asarray(indices)
    if wanted is not None and (wanted.ndim != 1 or wanted.size == 0 or wanted.dtype.kind not in "iu"
                               or wanted.min() < 0):
        raise ValueError(f"{path}: indices must be a non-empty 1-D array of non-negative integers")
    needed = None if wanted is None else set(wanted.tolist())
    last = None if wanted is None else int(wanted.max())
    frames: dict[int, np.ndarray] = {}
    with _Decoder(path, threads) as decoder:
        while last is None or decoder.count <= last:
            if not decoder.grab():
                break
            index = decoder.count - 1
            if needed is None or index in needed:
                frame = decoder.retrieve(gray)
                frames[index] = frame if size is None else fit_frames(frame, size, fit)
        if last is None or decoder.count <= last:
            decoder.check_complete()
            if last is not None:
                raise VideoTooShortError(path, f"has {decoder.count} frames but frame index {last} was "
                                         f"requested (needs at least {last + 1} frames)")
    order = sorted(frames) if wanted is None else wanted.tolist()
    return np.stack([frames[i] for i in order])


# --- frame cache ------------------------------------------------------------------------------

def _cache_indices(sampling: str, num_frames: int, n: int | None) -> np.ndarray:
    if sampling == "all":
        return np.arange(num_frames, dtype=np.int64)
    if sampling == "uniform":
        return uniform_indices(num_frames, n)
    return segment_indices(num_frames, n, training=False)


def cache_path(cache_dir: str | Path, video: str, sha256: str | None, num_frames: int | None, size: Size,
               sampling: str = "uniform", fit: str = "crop") -> Path:
    """Where :func:`cache_clips` keeps one clip: keyed by the manifest path, the file's
    checksum (a changed video is decoded again), the sampling and the size."""
    _choice("sampling", sampling, SAMPLINGS)
    _choice("fit", fit, FITS)
    if sampling != "all" and not (isinstance(num_frames, (int, np.integer)) and num_frames >= 1):
        raise ValueError(f"sampling={sampling!r} needs num_frames >= 1, got {num_frames!r}")
    height, width = _hw(size)
    frames = "all" if sampling == "all" else f"t{num_frames}"
    folder = Path(cache_dir) / f"clips-{sampling}-{frames}-{height}x{width}-{fit}"
    parts = [p for p in Path(video).parts if p not in ("..", ".", "/")]
    digest = str(sha256)[:12] if isinstance(sha256, str) and sha256 else "nosha"
    return folder.joinpath(*parts[:-1], f"{parts[-1]}-{digest}.npy")


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _cache_one(job: tuple[Path, Path, np.ndarray, Size, str, int | None]) -> Path | str:
    """Decode and save one clip; the problem as a string when the video is unusable."""
    video, out, indices, size, fit, threads = job
    try:
        save_npy_atomic(out, load_clip(video, indices, size=size, fit=fit, threads=threads))
    except (VideoError, cv2.error, OSError) as error:
        return getattr(error, "problem", f"{type(error).__name__}: {error}")
    return out


def cache_clips(manifest: "pd.DataFrame", cache_dir: str | Path, num_frames: int | None, size: Size,
                sampling: str = "uniform", fit: str = "crop", workers: int = 2,
                progress: bool = True) -> tuple[list[Path | None], list["Failure"]]:
    """Decode every video of ``manifest`` once into the frame cache; skip what is complete.

    Each clip is ``(T, H, W, 3)`` uint8 RGB with ``T = num_frames`` chosen by ``sampling``
    (``uniform``: :func:`uniform_indices`; ``segments``: TSN centres; ``all``: every frame,
    ``num_frames`` ignored) and ``H, W`` from ``size`` (see :func:`fit_frames`). Returns the
    cache path of every manifest row in order (``None`` where the video failed) and the
    failures, each naming the video (its manifest path) and the reason; the rest completes.
    """
    from .datasets import Failure, video_paths

    if "root" not in manifest.attrs:
        raise ValueError("the manifest does not say where its videos are: read it with "
                         "datasets.load_manifest or set manifest.attrs['root'] to their folder")
    rows = list(zip(manifest["path"], manifest["frames"], manifest["sha256"], video_paths(manifest)))
    paths: list[Path | None] = [None] * len(rows)
    failures: dict[int, Failure] = {}
    jobs: dict[int, tuple] = {}
    height, width = _hw(size)
    for i, (rel, frames, sha, video) in enumerate(rows):
        out = cache_path(cache_dir, rel, sha, num_frames, size, sampling, fit)
        count = int(frames) if frames == frames else 0  # NaN in the manifest counts as unknown
        if count < 1:
            failures[i] = Failure(str(rel), f"the manifest gives {frames!r} frames")
            continue
        indices = _cache_indices(sampling, count, num_frames)
        if npy_is_complete(out, (len(indices), height, width, 3)):
            paths[i] = out
        else:
            jobs[i] = (video, out, indices, size, fit, 1 if workers > 1 else None)
    bar = tqdm(total=len(jobs), disable=not progress or not jobs, desc="caching clips", unit="clip")
    for i, result in run_jobs(_cache_one, jobs, workers):
        if isinstance(result, Path):
            paths[i] = result
        else:
            failures[i] = Failure(str(rows[i][0]), result)
        bar.update()
    bar.close()
    return paths, [failures[i] for i in sorted(failures)]


def run_jobs(function: Callable, jobs: dict, workers: int) -> Iterator[tuple[object, object]]:
    """(key, function(job)) as jobs finish: in this process for one worker, else in a pool.

    The pool spawns fresh interpreters: forking a process whose OpenCV or TensorFlow threads
    have run (a notebook kernel, a benchmark) can deadlock the children.

    Pool workers use one OpenCV thread each (the processes already share the cores); OpenCV's
    thread count, which a job may lower, is restored after an in-process run.
    """
    if workers <= 1 or len(jobs) <= 1:
        threads = cv2.getNumThreads()
        try:
            for key, job in jobs.items():
                yield key, function(job)
        finally:
            cv2.setNumThreads(threads)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        futures = {pool.submit(function, job): key for key, job in jobs.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()


def parallel_map(function: Callable, items: Sequence, workers: int = 2, progress: bool = True,
                 desc: str = "", unit: str = "item") -> list:
    """``[function(x) for x in items]`` in order, over ``workers`` processes, with a progress bar."""
    results: dict[int, object] = {}
    with tqdm(total=len(items), disable=not progress, desc=desc, unit=unit) as bar:
        for index, result in run_jobs(function, dict(enumerate(items)), workers):
            results[index] = result
            bar.update()
    return [results[i] for i in range(len(items))]


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a killed process nobody reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def load_cached(path: str | Path, mmap: bool = False) -> np.ndarray:
    """One cached clip ``(T, H, W, 3)`` uint8 RGB; ``mmap`` maps it instead of reading it."""
    path = Path(path)
    if not path.is_file():
        raise CacheError(path, "no cached clip here; build the cache with video.cache_clips")
    try:
        clip = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CacheError(path, f"unreadable cache file ({error}); delete it and rebuild") from error
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
        raise CacheError(path, f"expected a (T, H, W, 3) uint8 clip, found {clip.dtype} {clip.shape}")
    return clip


def frames_per_second(load: Callable[[object], np.ndarray], items: Sequence[object],
                      min_seconds: float = 0.0) -> dict[str, float]:
    """Time ``load`` (which returns a clip) over ``items``: frames, clips, seconds and rates.

    Passes over ``items`` repeat until ``min_seconds`` have elapsed, so that fast loads of
    small clips are timed over long enough to be stable.
    """
    if not items:
        raise ValueError("frames_per_second needs at least one item to time")
    frames = clips = 0
    start = time.perf_counter()
    while clips == 0 or time.perf_counter() - start < min_seconds:
        for item in items:
            frames += len(load(item))
            clips += 1
    seconds = time.perf_counter() - start
    return {"frames": frames, "clips": clips, "seconds": round(seconds, 4),
            "frames_per_s": round(frames / seconds, 1), "clips_per_s": round(clips / seconds, 2)}
