"""Dense optical flow: Farneback and TV-L1, uint8 quantisation, pictures of flow and a flow cache.

A flow field between frames ``t`` and ``t+1`` is a float32 array ``(H, W, 2)`` in pixels per
frame: channel 0 is the horizontal displacement ``dx`` (positive: to the right), channel 1 the
vertical ``dy`` (positive: *downwards*, as image rows grow down). Pixel ``(y, x)`` of frame ``t``
is found at ``(y + dy, x + dx)`` in frame ``t+1``. A clip of ``T`` frames has ``T-1`` fields.

The cache stores each video's fields as one uint8 ``.npy`` of shape ``(T-1, H, W, 2)``,
quantised as in TSN/MMAction2 (clip to +-20 px, map linearly to 0..255): four times smaller
than float32, and the temporal stream reads it directly.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import video
from .config import Config, ConfigError
from .datasets import Failure, load_manifest

METHODS = ("farneback", "tvl1")
BOUND = 20.0
CACHE_META = "flow_cache.json"

FARNEBACK_PARAMS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
"""MMAction2's Farneback settings (its flow-extraction tool); :func:`farneback` explains each one."""


class FlowError(ConfigError):
    """Flow cannot be computed or cached with the requested settings; the message says why."""


# --------------------------------------------------------------------------- flow of one pair


def farneback(prev: np.ndarray, nxt: np.ndarray, pyr_scale: float = 0.5, levels: int = 3, winsize: int = 15,
              iterations: int = 3, poly_n: int = 5, poly_sigma: float = 1.2, flags: int = 0) -> np.ndarray:
    """Dense Farneback flow from ``prev`` to ``nxt`` (2-D uint8 or float32 images of equal size).

    Farneback approximates every neighbourhood of both images by a quadratic polynomial and
    reads the displacement off how the polynomial moved; a coarse-to-fine pyramid handles
    motions larger than the neighbourhood. Parameters (defaults: MMAction2's):

    - ``pyr_scale`` (0.5): size ratio between consecutive pyramid levels; 0.5 halves the image
      at each level (the classical pyramid). Closer to 1 means more, finer levels (slower).
    - ``levels`` (3): number of smaller pyramid levels below the full-size image (OpenCV's
      documentation says "including", but its code adds one half-size level already for
      ``levels=1``; 0 means no pyramid). Each level doubles (for 0.5) the largest motion that
      can be followed. OpenCV never builds a level whose smaller side is under 32 px, so small
      frames get fewer levels than asked: see :func:`pyramid_levels`.
    - ``winsize`` (15): side of the window over which the polynomial constraints are averaged.
      Larger windows are robust to noise and catch faster motion, but smear motion boundaries;
      smaller windows give sharper but noisier fields.
    - ``iterations`` (3): refinement iterations at each pyramid level.
    - ``poly_n`` (5): side of the pixel neighbourhood fitted by each polynomial (5 or 7);
      larger means smoother surfaces and a smoother, less detailed flow.
    - ``poly_sigma`` (1.2): standard deviation of the Gaussian weighting that fit; use about
      1.1-1.2 for ``poly_n=5`` and 1.5 for ``poly_n=7``.
    - ``flags`` (0): ``cv2.OPTFLOW_FARNEBACK_GAUSSIAN`` averages with a Gaussian instead of a
      box window (more accurate, slower); ``cv2.OPTFLOW_USE_INITIAL_FLOW`` starts from a given
      flow (not used here).
    """
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, pyr_scale, levels, winsize, iterations, poly_n,
                                        poly_sigma, flags)


def pyramid_levels(height: int, width: int, levels: int = 3, pyr_scale: float = 0.5) -> int:
    """How many levels below full size OpenCV's Farneback really builds for a frame of this size.

    It stops before the first level whose height or width would be under 32 px: for the
    default settings 1 level at 64x64 or 112x112, 2 at 128x128 and 320x240, 3 at 640x480.
    """
    count, scale = 0, 1.0
    while count < levels:
        scale *= pyr_scale
        if width * scale < 32 or height * scale < 32:
            break
        count += 1
    return count


def tvl1_available() -> bool:
    """True when this OpenCV has TV-L1 (the ``cv2.optflow`` module of opencv-contrib)."""
    return hasattr(getattr(cv2, "optflow", None), "DualTVL1OpticalFlow_create")


def require_tvl1() -> None:
    """Raise :class:`FlowError` explaining how to get TV-L1 when it is unavailable."""
    if not tvl1_available():
        raise FlowError(f"TV-L1 optical flow needs OpenCV's contrib modules (cv2.optflow), which this OpenCV "
                        f"{cv2.__version__} lacks; install opencv-contrib-python-headless instead of "
                        "opencv-python(-headless), or use method='farneback'")


@functools.lru_cache(maxsize=1)
def _tvl1_solver():
    return cv2.optflow.DualTVL1OpticalFlow_create()


def tvl1(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Dense TV-L1 flow (Zach et al. 2007, OpenCV's defaults: 5 scales, 5 warps, median filter).

    TV-L1 minimises brightness-constancy error (L1, robust to outliers) plus the total
    variation of the field, so it keeps sharp motion boundaries; it is the flow of TSN and
    I3D, and tens of times slower than Farneback on a CPU.
    """
    require_tvl1()
    return _tvl1_solver().calc(prev, nxt, None)


def flow_function(method: str = "farneback", **params) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f(prev, next) -> (H, W, 2)`` for ``method``; ``params`` override Farneback's settings."""
    if method not in METHODS:
        raise FlowError(f"method={method!r} is not supported; allowed: {', '.join(METHODS)}")
    if method == "tvl1":
        if params:
            raise FlowError(f"TV-L1 takes no parameters here, got {sorted(params)}")
        require_tvl1()
        return tvl1
    unknown = set(params) - set(FARNEBACK_PARAMS)
    if unknown:
        raise FlowError(f"unknown Farneback parameters {sorted(unknown)}; allowed: {', '.join(FARNEBACK_PARAMS)}")
    return functools.partial(farneback, **{**FARNEBACK_PARAMS, **params})


# --------------------------------------------------------------------------- frames


def resize_gray(frame: np.ndarray, size: int | None) -> np.ndarray:
    """``frame`` (2-D uint8) resized to ``size x size``; unchanged when ``size`` is None.

    Large reductions first halve the frame repeatedly by averaging 2x2 blocks (INTER_AREA at
    an exact factor 2: OpenCV's fastest path, and the averaging removes the detail that would
    alias), then bilinear interpolation finishes the last factor below 2. For 640x480 -> 112x112
    this is about 15 times faster than one INTER_AREA resize.
    """
    if size is None:
        return frame
    while frame.shape[0] >= 2 * size and frame.shape[1] >= 2 * size:
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    coarse = frame.shape[0] >= 2 * size or frame.shape[1] >= 2 * size  # very elongated frames
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA if coarse else cv2.INTER_LINEAR)


def to_gray(frames: np.ndarray, size: int | None = None) -> np.ndarray:
    """``(T, H, W, 3)`` RGB or ``(T, H, W)`` gray uint8 frames -> gray ``(T, size, size)``."""
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[-1] == 3:
        frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    elif frames.ndim != 3:
        raise ValueError(f"frames must be (T, H, W, 3) RGB or (T, H, W) gray, got shape {frames.shape}")
    return np.stack([resize_gray(f, size) for f in frames])


# 8-bit pixel formats (OpenCV reports them by FourCC) whose first plane is the luma image.
_LUMA_FIRST = frozenset({"I420", "YV12", "Y42B", "444P", "Y41B", "YUV9", "440P", "NV12", "NV21", "Y800"})


def _fourcc(value: float) -> str:
    code = int(value)
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4))


@contextlib.contextmanager
def _opencv_log(level: int) -> Iterator[None]:
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(level)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def read_gray_video(path: str | Path, size: int | None = None) -> np.ndarray:
    """All frames of ``path`` as gray uint8 ``(T, size, size)`` (native size when ``size`` is None).

    Decodes at reduced cost: one decoder thread (the process pool provides the parallelism),
    and for the usual YUV codecs the decoder's luma plane is taken as the gray image, skipping
    the YUV -> BGR -> gray conversions. Luma may differ from ``cv2.COLOR_RGB2GRAY`` by a
    brightness gain and offset (limited-range video), which Farneback's polynomial fit ignores.
    Errors are :class:`course_utils.video.VideoError` naming the file and the problem.
    """
    path = Path(path)
    with _opencv_log(cv2.utils.logging.LOG_LEVEL_ERROR):  # raw-plane mode warns on every frame
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        if not capture.isOpened():
            # The named errors of `video` (missing, empty, folder, not a video), or a file that
            # only another OpenCV backend can read.
            return to_gray(video.read_video(path, gray=True), size)
        if _fourcc(capture.get(cv2.CAP_PROP_CODEC_PIXEL_FORMAT)) in _LUMA_FIRST:
            capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)  # frames come back as the 2-D luma plane
        header_frames = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        frames = []
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                frames.append(resize_gray(gray, size))
        finally:
            capture.release()
    # The completeness rule of video.iter_frames: headers may overstate the count by 5 %.
    if not frames or header_frames - len(frames) > max(2, 0.05 * header_frames):
        raise video.VideoTruncatedError(path, f"only {len(frames)} of the {header_frames} frames in the header "
                                        "could be decoded (truncated or corrupt file)")
    return np.stack(frames)


def compute_flow(frames: np.ndarray, method: str = "farneback", size: int | None = None,
                 **params) -> np.ndarray:
    """Flow between consecutive frames: ``(T-1, H, W, 2)`` float32 (see the module docstring).

    ``frames``: ``(T, H, W, 3)`` RGB or ``(T, H, W)`` gray uint8, resized to ``size x size``
    first when ``size`` is given. ``params`` override :data:`FARNEBACK_PARAMS`.
    """
    flow_of = flow_function(method, **params)
    gray = to_gray(frames, size)
    if len(gray) < 2:
        raise ValueError(f"optical flow needs at least 2 frames, got {len(gray)}")
    return np.stack([flow_of(a, b) for a, b in zip(gray[:-1], gray[1:])])


def time_flow(clips: Sequence[np.ndarray], method: str = "farneback", threads: int = 1,
              max_fields: int | None = None) -> dict[str, float]:
    """Time the bare flow computation over consecutive frames of gray ``clips`` (decoding excluded).

    OpenCV is limited to ``threads`` threads meanwhile (1: the speed of one core). Stops after
    ``max_fields`` fields when given. Returns fields, seconds and fields per second.
    """
    flow_of = flow_function(method)
    pairs = [(clip[i], clip[i + 1]) for clip in clips for i in range(len(clip) - 1)][:max_fields]
    previous = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        start = time.perf_counter()
        for prev, nxt in pairs:
            flow_of(prev, nxt)
        seconds = time.perf_counter() - start
    finally:
        cv2.setNumThreads(previous)
    return {"fields": len(pairs), "seconds": seconds, "fields_per_s": len(pairs) / seconds if seconds > 0 else 0.0}


# --------------------------------------------------------------------------- quantisation


def quantize(flow: np.ndarray, bound: float = BOUND) -> np.ndarray:
    """Flow in pixels -> uint8: clip to ``[-bound, bound]``, map linearly to 0..255, round.

    Code ``q`` stands for ``q * 2 * bound / 255 - bound``; zero motion falls between codes
    127 and 128 and comes back as +bound/255 (0.078 px for bound 20).
    """
    flow = np.ascontiguousarray(flow, dtype=np.float32)
    scale = 255.0 / (2.0 * bound)
    column = cv2.max(cv2.min(flow.reshape(-1, 1), bound), -bound)
    # OpenCV scales, shifts and rounds half to even in one pass: 10x faster than NumPy here.
    return cv2.addWeighted(column, scale, column, 0.0, bound * scale, dtype=cv2.CV_8U).reshape(flow.shape)


def dequantize(codes: np.ndarray, bound: float = BOUND) -> np.ndarray:
    """uint8 codes -> flow in pixels (float32), the inverse of :func:`quantize` up to rounding."""
    return np.asarray(codes, dtype=np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)


def quantization_error_bound(bound: float = BOUND) -> float:
    """Largest round-trip error for flow inside ``[-bound, bound]``: half a code step.

    The 256 codes split ``2 * bound`` into 255 steps of ``2 * bound / 255``; rounding to the
    nearest code moves a value by at most half a step, ``bound / 255`` (0.078 px for bound 20).
    Beyond the bound the error is the clipped excess ``|flow| - bound``.
    """
    return bound / 255.0


# --------------------------------------------------------------------------- pictures of flow


def magnitude(flow: np.ndarray) -> np.ndarray:
    """Length of the displacement per pixel: ``(..., H, W)`` float32."""
    flow = np.asarray(flow, dtype=np.float32)
    return np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour picture of one field (HSV code): hue = direction, brightness = speed.

    Brightness is ``magnitude / max_magnitude`` (default: the field's largest magnitude), so
    still pixels are black. Read colours with :func:`color_wheel`. Returns RGB uint8.
    """
    flow = np.asarray(flow, dtype=np.float32)
    speed, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    top = float(speed.max()) if max_magnitude is None else float(max_magnitude)
    hsv = np.empty(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV's 8-bit hue runs over 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(speed / max(top, 1e-6) * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def color_wheel(size: int = 151) -> np.ndarray:
    """The key of :func:`flow_to_rgb`: the colour of a displacement pointing from the centre.

    Pixel ``(y, x)`` shows the colour of the flow ``(x - c, y - c)`` with the image's own axes
    (right = +dx, down = +dy); the rim is the largest magnitude. Outside the disc: white.
    """
    c = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    field = np.stack([xs - c, ys - c], axis=-1)
    wheel = flow_to_rgb(field, max_magnitude=c)
    wheel[magnitude(field) > c] = 255
    return wheel


def draw_arrows(image: np.ndarray, flow: np.ndarray, step: int = 8, scale: float = 1.0,
                color: tuple[int, int, int] = (255, 255, 0), min_magnitude: float = 0.2) -> np.ndarray:
    """``image`` (RGB or gray uint8) with one arrow per ``step`` pixels along the flow.

    Arrows are ``scale`` times the displacement; those shorter than ``min_magnitude`` px of
    real motion are left out so still areas stay readable. Returns a new RGB uint8 image.
    """
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image.copy()
    for y in range(step // 2, flow.shape[0], step):
        for x in range(step // 2, flow.shape[1], step):
            dx, dy = flow[y, x]
            if dx * dx + dy * dy >= min_magnitude ** 2:
                tip = (int(round(x + scale * dx)), int(round(y + scale * dy)))
                cv2.arrowedLine(canvas, (x, y), tip, color, 1, cv2.LINE_AA, tipLength=0.3)
    return canvas


# --------------------------------------------------------------------------- known motion


def similarity_motion(image: np.ndarray, rotate_deg: float = 0.0, zoom: float = 1.0,
                      shift: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """A second frame made from ``image`` by a known camera motion, and the true flow.

    The motion turns the picture by ``rotate_deg`` (counter-clockwise on screen) and scales it
    by ``zoom`` about its centre, then moves it by ``shift = (dx, dy)`` pixels. Returns the
    moved image (same size, borders reflected) and the exact flow ``(H, W, 2)`` float32 of
    every pixel of ``image``: the ground truth that real videos never come with.
    """
    height, width = image.shape[:2]
    centre = ((width - 1) / 2, (height - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, rotate_deg, zoom)
    matrix[:, 2] += shift
    moved = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    points = np.stack([xs, ys, np.ones_like(xs)], axis=-1)
    truth = points @ matrix.T.astype(np.float32) - points[..., :2]
    return moved, truth.astype(np.float32)


def endpoint_error(flow: np.ndarray, truth: np.ndarray, margin: int = 0, statistic: str = "mean") -> float:
    """Endpoint error (EPE): the distance in pixels between estimated and true displacement,
    averaged over the pixels (``statistic="mean"``) or their median (``"median"``: the typical
    pixel, blind to a minority of failures), ignoring ``margin`` pixels at the borders."""
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic={statistic!r} is not supported; allowed: mean, median")
    inner = (slice(margin, flow.shape[-3] - margin), slice(margin, flow.shape[-2] - margin))
    errors = magnitude(flow[..., inner[0], inner[1], :] - truth[..., inner[0], inner[1], :])
    return float(np.mean(errors) if statistic == "mean" else np.median(errors))


# --------------------------------------------------------------------------- features

NOISE_FLOOR = 2.0
"""Motion below this many times a field's median speed counts as noise (see :func:`foreground_flow`)."""


def _as_pixels(flow: np.ndarray, bound: float) -> np.ndarray:
    flow = np.asarray(flow)
    return dequantize(flow, bound) if flow.dtype == np.uint8 else flow.astype(np.float32, copy=False)


def foreground_flow(flow: np.ndarray, floor: float = NOISE_FLOOR, bound: float = BOUND) -> np.ndarray:
    """The motion of what moves in the scene: ``(T-1, H, W, 2)`` float32.

    Per field, the median vector (the camera's shake: most pixels are background) is
    subtracted, then each vector is shortened by ``floor`` times the field's median speed,
    so sensor noise and static texture fall to zero and real motion stays. uint8 flow from
    the cache is dequantised first.
    """
    flow = _as_pixels(flow, bound)
    if flow.ndim != 4 or flow.shape[-1] != 2 or len(flow) == 0:
        raise ValueError(f"flow must be (T-1, H, W, 2) with T-1 >= 1, got shape {flow.shape}")
    every_other = (slice(None), slice(None, None, 2), slice(None, None, 2))  # medians from 1/4 of the pixels
    moving = flow - np.median(flow[every_other], axis=(1, 2), keepdims=True)
    speed = magnitude(moving)
    noise = floor * np.median(speed[every_other], axis=(1, 2), keepdims=True)
    return moving * (np.maximum(speed - noise, 0.0) / (speed + 1e-6))[..., None]


def motion_box(energy: np.ndarray, cells: int, lo: float = 0.1, hi: float = 0.9) -> tuple[slice, slice]:
    """Rows and columns holding the central 80 % of the motion energy, padded by 15 %."""
    spans = []
    for axis, length in ((1, energy.shape[0]), (0, energy.shape[1])):
        mass = np.cumsum(energy.sum(axis))
        first, last = np.searchsorted(mass, [lo * mass[-1], hi * mass[-1]]) if mass[-1] > 0 else (0, length - 1)
        pad = 0.15 * (last - first) + 1
        start = int(max(0, first - pad))
        spans.append(slice(start, int(min(length, max(last + 1 + pad, start + cells)))))
    return spans[0], spans[1]


def flow_features(flow: np.ndarray, segments: int = 4, bins: int = 6, grid: int = 3,
                  bound: float = BOUND) -> np.ndarray:
    """A fixed-length motion descriptor of one clip's flow ``(T-1, H, W, 2)`` for quick probes.

    On the :func:`foreground_flow` inside the box where the clip's motion happens (so the
    person's position and size matter little), for each of ``segments`` equal spans of time
    (order matters: sitting down is standing up reversed):

    - a histogram of flow directions in ``bins`` bins, weighted by speed (HOF), with left
      and right folded together (``|dx|``) so a person facing either way looks the same;
    - a ``grid x grid`` map of mean ``|dx|``, ``dy`` and speed (where, and which way);
    - the log of the mean speed (how much).

    Then, over the whole clip, the spectrum of the mean horizontal and vertical motion
    (6 lowest frequencies: waving oscillates, raising a hand does not) and the box's size.
    """
    moving = foreground_flow(flow, bound=bound)
    speed = magnitude(moving)
    rows, cols = motion_box(speed.sum(axis=0), grid)
    moving, speed = moving[:, rows, cols], speed[:, rows, cols]
    direction = np.arctan2(moving[..., 1], np.abs(moving[..., 0]))  # -pi/2 (up) .. pi/2 (down)
    which = np.clip(((direction + np.pi / 2) / np.pi * bins).astype(int), 0, bins - 1)
    maps = np.concatenate([np.abs(moving[..., :1]), moving[..., 1:], speed[..., None]], axis=-1)
    # Everything is relative to the clip's mean speed: the amount of motion stays comparable
    # between spans, and a still span gives small values instead of amplified noise.
    scale = speed.mean() + 1e-3
    edges = np.linspace(0, len(speed), segments + 1)
    parts = []
    for start, stop in zip(edges[:-1], edges[1:]):
        span = slice(min(int(start), len(speed) - 1), max(int(np.ceil(stop)), int(start) + 1))
        weights = speed[span]
        parts.append(np.bincount(which[span].ravel(), weights=weights.ravel(), minlength=bins) / (weights.size * scale))
        parts.append(cv2.resize(maps[span].mean(axis=0), (grid, grid), interpolation=cv2.INTER_AREA).ravel() / scale)
        parts.append([np.log1p(100 * weights.mean())])
    for component in (0, 1):
        series = moving[..., component].mean(axis=(1, 2)) / scale
        spectrum = np.abs(np.fft.rfft(series - series.mean()))[1:7] / len(series)
        parts.append(np.pad(spectrum, (0, 6 - len(spectrum))))
    parts.append([(rows.stop - rows.start) / flow.shape[1], (cols.stop - cols.start) / flow.shape[2]])
    return np.concatenate(parts).astype(np.float32)


CURVES = ("dx", "dy", "speed")


def motion_curves(flow: np.ndarray, points: int = 32, bound: float = BOUND) -> dict[str, np.ndarray]:
    """How what moves in a clip moves over time, resampled to ``points`` over normalised time 0..1.

    Per field of the :func:`foreground_flow`: ``"dx"`` / ``"dy"`` is the mean horizontal /
    vertical displacement of the moving pixels, weighted by their speed (positive: right /
    down); ``"speed"`` is the mean speed over the whole frame (how much moves). Clips of any
    length become comparable curves.
    """
    moving = foreground_flow(flow, bound=bound)
    speed = magnitude(moving)
    total = speed.sum(axis=(1, 2)) + 1e-6
    means = {"dx": (moving[..., 0] * speed).sum(axis=(1, 2)) / total,
             "dy": (moving[..., 1] * speed).sum(axis=(1, 2)) / total, "speed": speed.mean(axis=(1, 2))}
    grid = np.linspace(0, 1, points)
    return {what: np.interp(grid, np.linspace(0, 1, len(mean)), mean).astype(np.float32)
            for what, mean in means.items()}


def motion_curve(flow: np.ndarray, points: int = 32, what: str = "dy", bound: float = BOUND) -> np.ndarray:
    """One of :func:`motion_curves`: ``what`` is ``"dx"``, ``"dy"`` or ``"speed"``."""
    if what not in CURVES:
        raise ValueError(f"what={what!r} is not supported; allowed: {', '.join(CURVES)}")
    return motion_curves(flow, points, bound)[what]


# --------------------------------------------------------------------------- the cache


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


def flow_cache_dir(cfg: Config, size: int | None = None, method: str = "farneback") -> Path:
    """Where the notebooks keep the flow cache of ``cfg``'s dataset for ``size`` and ``method``."""
    return cfg.cache_dir / f"flow-{method}-{size or 'native'}"


def flow_file(cache_dir: str | Path, rel_path: str, sha256: str | None) -> Path:
    """Cache file of a video: its manifest path mirrored under ``cache_dir``, plus the first 12
    digits of its checksum (a regenerated video never reuses stale flow) and ``.npy``."""
    parts = [p for p in Path(rel_path).parts if p not in ("..", ".", "/")]
    digest = sha256[:12] if isinstance(sha256, str) and sha256 else "nosha"
    return Path(cache_dir).joinpath(*parts[:-1], f"{parts[-1]}-{digest}.npy")


def load_flow(path: str | Path, dequantize_to_pixels: bool = True, bound: float = BOUND) -> np.ndarray:
    """One cached flow ``(T-1, H, W, 2)``: float32 pixels, or the stored uint8 codes."""
    path = Path(path)
    if not path.is_file():
        raise video.CacheError(path, "no cached flow here; build it with notebook 03_optical_flow or "
                               "`python -m course_utils flow MANIFEST OUT`")
    try:
        codes = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise video.CacheError(path, f"unreadable flow file ({error}); delete it and rebuild") from error
    if codes.ndim != 4 or codes.shape[-1] != 2 or codes.dtype != np.uint8:
        raise video.CacheError(path, f"expected (T-1, H, W, 2) uint8 flow, found {codes.dtype} {codes.shape}")
    return dequantize(codes, bound) if dequantize_to_pixels else codes


@dataclasses.dataclass(frozen=True)
class _Job:
    source: Path
    target: Path
    rel_path: str
    size: int | None
    method: str


def _extract_one(job: _Job) -> int | Failure:
    """Decode, resize, flow, quantise and write one video: its field count, or why it failed."""
    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads would only compete
    try:
        gray = read_gray_video(job.source, job.size)
        if len(gray) < 2:
            return Failure(job.rel_path, f"has {len(gray)} frame; optical flow needs at least 2")
        flow_of = flow_function(job.method)
        codes = np.empty((len(gray) - 1,) + gray.shape[1:] + (2,), np.uint8)
        for index in range(len(codes)):
            codes[index] = quantize(flow_of(gray[index], gray[index + 1]))
        video.save_npy_atomic(job.target, codes)
    except (video.VideoError, cv2.error) as error:
        return Failure(job.rel_path, getattr(error, "problem", f"{type(error).__name__}: {error}"))
    return len(codes)


def _as_manifest(manifest: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(manifest, pd.DataFrame):
        if "root" not in manifest.attrs:
            raise FlowError("the manifest DataFrame does not say where its videos are: read it with "
                            "datasets.load_manifest or set manifest.attrs['root'] to their folder")
        return manifest
    return load_manifest(manifest)


def _check_cache_settings(out_dir: Path, settings: dict) -> None:
    """Refuse to mix flow computed with other settings into one cache folder."""
    meta = out_dir / CACHE_META
    if meta.is_file():
        found = json.loads(meta.read_text())
        differ = [k for k in settings if found.get(k) != settings[k]]
        if differ:
            raise FlowError(f"{out_dir} holds flow computed with " + ", ".join(f"{k}={found.get(k)!r}" for k in differ)
                            + ", not " + ", ".join(f"{k}={settings[k]!r}" for k in differ)
                            + "; choose another folder or delete this one")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = meta.with_name(f".{meta.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**settings, "layout": "uint8 (T-1, H, W, 2), channels dx, dy; pixels = "
                                                     "code * 2 * bound / 255 - bound"}, indent=2) + "\n")
    tmp.replace(meta)


def _remove_stale_temps(out_dir: Path) -> None:
    """Delete temporary files left by writers that no longer run (a killed run)."""
    for tmp in out_dir.rglob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not video.process_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def extract_flow_cache(manifest: str | Path | pd.DataFrame, out_dir: str | Path, size: int | None = None,
                       method: str = "farneback", workers: int = 2, progress: bool = True) -> FlowSummary:
    """Compute the flow of every video of ``manifest`` into ``out_dir``, resumably and in parallel.

    ``manifest``: a manifest CSV, its folder, or a DataFrame from ``datasets.load_manifest``.
    Each video becomes one uint8 ``.npy`` (see :func:`flow_file` and :func:`quantize`) written
    atomically, so a killed run leaves only whole files; a re-run skips them and computes the
    rest. A video that cannot be decoded is listed in ``failures`` (manifest path and reason)
    and the others are still computed. ``size`` resizes frames to ``size x size`` first (None:
    native size); ``workers`` processes share the work, longest videos first.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8):
        raise FlowError(f"size={size!r} must be None or an integer >= 8 (pixels)")
    flow_function(method)  # checks the method (and TV-L1's availability) before any work
    frame = _as_manifest(manifest)
    root, out_dir = Path(frame.attrs["root"]), Path(out_dir)
    size = None if size is None else int(size)
    _check_cache_settings(out_dir, {"method": method, "size": size, "bound": BOUND,
                                    "params": FARNEBACK_PARAMS if method == "farneback" else {}})
    _remove_stale_temps(out_dir)
    start = time.perf_counter()
    rel_paths = frame["path"].astype(str).tolist()
    paths: list[Path | None] = [flow_file(out_dir, rel, sha) for rel, sha in zip(rel_paths, frame["sha256"])]
    cost = frame[["frames", "width", "height"]].apply(pd.to_numeric, errors="coerce").fillna(0).prod(axis=1)
    jobs = {i: _Job(root / rel_paths[i], paths[i], rel_paths[i], size, method)
            for i in np.argsort(-cost.to_numpy(), kind="stable")
            if not video.npy_is_complete(paths[i], (None, size, size, 2))}
    failures, fields = {}, 0
    with tqdm(total=len(jobs), disable=not progress or not jobs, desc=f"{method} flow", unit="video") as bar:
        for i, result in video.run_jobs(_extract_one, jobs, workers):
            if isinstance(result, Failure):
                failures[i], paths[i] = result, None
            else:
                fields += result
            bar.update()
    return FlowSummary(out_dir, paths, len(jobs) - len(failures), len(frame) - len(jobs),
                       [failures[i] for i in sorted(failures)], fields, time.perf_counter() - start)
