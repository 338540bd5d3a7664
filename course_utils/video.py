"""Decoding, sampling, resizing and caching video clips, with typed errors that name the file.

Arrays follow one layout everywhere: a frame is ``(H, W, 3)`` uint8 RGB (``(H, W)`` when
grayscale) and a clip is ``(T, H, W, 3)`` uint8 RGB (``(T, H, W)`` when grayscale).

Three layers, in the order data flows:

* decoding: :func:`probe_video` (frame count and fps measured from the stream, checked
  against the header), :func:`header_fps`, :func:`iter_frames`, :func:`read_video` and
  :func:`load_clip`, which reads sequentially and stops after the last frame it needs;
* sampling: functions that turn a frame count into frame indices (:func:`uniform_indices`,
  :func:`random_span_indices`, :func:`segment_indices`, :func:`sliding_windows`) and
  resize/crop helpers;
* the registry of sampling strategies, :data:`SAMPLERS`, behind :func:`sample_indices`.

The frame cache that stores decoded clips is in ``cache``.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from .jobs import atomic_path, registrar

Size = int | tuple[int, int]
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


def fourcc_text(code: float) -> str:
    """The four characters of an OpenCV FourCC property value ("" when it is not printable)."""
    code = int(code)
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
        self.codec = fourcc_text(self.capture.get(cv2.CAP_PROP_FOURCC))
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

    def retrieve(self, gray: bool, bgr: bool = False) -> np.ndarray:
        """The frame last grabbed, RGB (BGR with ``bgr``, 2-D with ``gray``) uint8."""
        ok, frame = self.capture.retrieve()
        if not ok or frame is None:
            raise VideoTruncatedError(self.path, f"frame {self.count - 1} could not be decoded (corrupt stream)")
        if frame.ndim == 2:
            return frame if gray else cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)  # the same in BGR
        if bgr and not gray:
            return frame
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
        check_complete(self.path, self.count, self.header_frames)


def check_complete(path: str | Path, decoded: int, header_frames: int) -> None:
    """Raise :class:`VideoTruncatedError` when a whole decode found no frame, or clearly fewer
    frames than the header announces (containers without a count report an estimate: 5 % slack)."""
    if decoded == 0:
        raise VideoTruncatedError(path, "no frame could be decoded (truncated or corrupt stream)")
    if header_frames - decoded > max(2, 0.05 * header_frames):
        raise VideoTruncatedError(path, f"only {decoded} of the {header_frames} frames in the header "
                                  "could be decoded (truncated file)")


def header_fps(path: str | Path) -> float:
    """The frame rate the container's header announces, without decoding a frame.

    Args:
        path: the video file.

    Returns:
        The header's fps, 0.0 when it gives none or an implausible one (``probe_video`` measures
        it from the stream instead). A file that is missing, empty or not a video raises its
        :class:`VideoError` here, before any decoding.
    """
    with _Decoder(path) as decoder:
        return decoder.header_fps


def iter_frames(path: str | Path, gray: bool = False, *, threads: int | None = None,
                bgr: bool = False, keep: Callable[[int], bool] | None = None) -> Iterator[np.ndarray | None]:
    """Decode ``path`` one frame at a time; at the end, check that the whole stream was decoded.

    Args:
        path: the video file (opened when the first frame is asked for).
        gray: 2-D grayscale frames instead of colour ones.
        threads: FFmpeg decoder threads (None: OpenCV's default; 1 for one-core measurements).
        bgr: colour frames in OpenCV's BGR order, as decoded (no conversion, e.g. to resize a
            large frame before converting the small one); ignored with ``gray``.
        keep: frames whose index it rejects are decoded and counted but not retrieved (no
            copy, no colour conversion), and None is yielded in their place.

    Returns:
        An iterator of uint8 frames ``(H, W, 3)`` RGB (BGR with ``bgr``; ``(H, W)`` with ``gray``).
        It raises the file's :class:`VideoError` (missing, not a video, truncated, a corrupt frame).
    """
    with _Decoder(path, threads) as decoder:
        while decoder.grab():
            yield decoder.retrieve(gray, bgr) if keep is None or keep(decoder.count - 1) else None
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
    """Write RGB uint8 frames ``(T, H, W, 3)`` atomically (temp file + rename), at a constant ``fps``.

    The codec follows the suffix: Motion JPEG (``MJPG``) for ``.avi``, MPEG-4 part 2 (``mp4v``)
    for ``.mp4``. OpenCV's FFmpeg writer, used whenever the build has one (so every machine
    encodes alike), fixes mp4v's group of pictures at 12 frames and offers no setting to
    change it: frames 0, 12, 24, ... are I-frames, quantised differently from the P-frames
    between them, so frame differences of a still scene jump at every 12th step. MJPG codes
    each frame on its own (no such steps, about 3-4x the bytes). FFmpeg drops an odd last
    column or row: give even sizes.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    code = fourcc or {".mp4": "mp4v", ".avi": "MJPG"}.get(path.suffix.lower())
    if code is None:
        raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; use .mp4 or .avi")
    height, width = frames.shape[1:3]
    backend = [cv2.CAP_FFMPEG] if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else []
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), *backend, cv2.VideoWriter_fourcc(*code), float(fps), (width, height))
        if not writer.isOpened():
            raise VideoError(path, f"OpenCV cannot write codec {code!r}")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
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


# --- the registry of sampling strategies ---------------------------------------------------
# A strategy maps (num_frames, n, training, rng) to n indices. Add one with @register_sampler;
# every place that samples by name (the frame cache, the input pipeline) looks it up here.

Sampler = Callable[[int, int, bool, "np.random.Generator | int | None"], np.ndarray]
SAMPLERS: dict[str, Sampler] = {}


register_sampler = registrar(SAMPLERS, "sampling strategy")


def sample_indices(strategy: str, num_frames: int, n: int | None, training: bool = False,
                   rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Indices of ``n`` frames of a ``num_frames`` clip by the registered ``strategy``."""
    if strategy not in SAMPLERS:
        raise ValueError(f"sampling={strategy!r} is not a registered strategy; allowed: {', '.join(SAMPLERS)}")
    return SAMPLERS[strategy](num_frames, n, training, rng)


@register_sampler("uniform")
def _uniform(num_frames, n, training, rng):
    return uniform_indices(num_frames, n)


@register_sampler("segments")
def _segments(num_frames, n, training, rng):
    return segment_indices(num_frames, n, training, rng)


@register_sampler("random_span")
def _random_span(num_frames, n, training, rng):
    """A random span in training; the centred span at test time."""
    if training:
        return random_span_indices(num_frames, n, rng)
    start = max(0, (num_frames - n) // 2)
    return np.minimum(start + np.arange(n), num_frames - 1).astype(np.int64)


@register_sampler("all")
def _all(num_frames, n, training, rng):
    _check_counts(num_frames)
    return np.arange(num_frames, dtype=np.int64)


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
