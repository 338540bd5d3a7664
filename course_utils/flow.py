"""Dense optical flow: Farneback and TV-L1, uint8 quantisation, pictures of flow, known-motion tests.

A flow field between frames ``t`` and ``t+1`` is a float32 array ``(H, W, 2)`` in pixels per
frame: channel 0 is the horizontal displacement ``dx`` (positive: to the right), channel 1 the
vertical ``dy`` (positive: *downwards*, as image rows grow down). Pixel ``(y, x)`` of frame ``t``
is found at ``(y + dy, x + dx)`` in frame ``t+1``. A clip of ``T`` frames has ``T-1`` fields.

:func:`quantize` turns fields into uint8 (clip to +-20 px, map linearly to 0..255): the mapping
of the TSN/MMAction2 flow images, rounded where they truncate, and four times smaller than
float32. The flow cache (``cache``) stores them; probe features computed from flow are in
``features``.
"""
from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from . import video
from .config import ConfigError

METHODS = ("farneback", "tvl1")
BOUND = 20.0

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
      ``levels=1``; 0 means no pyramid). Each level extends the largest motion that can be
      followed, by a factor that depends on the image rather than a fixed doubling (notebook
      03 measures it on a known shift). OpenCV never builds a level whose smaller side is
      under 32 px, so small frames get fewer levels than asked: see :func:`pyramid_levels`.
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
    variation of the field, which fills flat, untextured regions in from their neighbours;
    it is the flow of TSN and I3D, and about a hundred times slower than Farneback on a CPU.
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


@contextlib.contextmanager
def _opencv_log(level: int) -> Iterator[None]:
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(level)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def iter_gray_frames(path: str | Path, size: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of ``path`` one at a time as gray uint8 ``(size, size)`` (native size when
    ``size`` is None), so a long video never has to fit in memory.

    Decodes at reduced cost: one decoder thread (the process pool provides the parallelism),
    and for the usual YUV codecs the decoder's luma plane is taken as the gray image, skipping
    the YUV -> BGR -> gray conversions. Luma may differ from ``cv2.COLOR_RGB2GRAY`` by a
    brightness gain and offset (limited-range video), which Farneback's polynomial fit ignores.
    Errors are :class:`course_utils.video.VideoError` naming the file and the problem; a
    truncated file raises after its last readable frame.
    """
    path = Path(path)
    with _opencv_log(cv2.utils.logging.LOG_LEVEL_ERROR):  # raw-plane mode warns on every frame
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not capture.isOpened():
        # The named errors of `video` (missing, empty, folder, not a video), or a file that
        # only another OpenCV backend can read.
        for frame in video.iter_frames(path, gray=True):
            yield resize_gray(frame, size)
        return
    count = 0
    try:
        if video.fourcc_text(capture.get(cv2.CAP_PROP_CODEC_PIXEL_FORMAT)) in _LUMA_FIRST:
            capture.set(cv2.CAP_PROP_CONVERT_RGB, 0)  # frames come back as the 2-D luma plane
        header_frames = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        while True:
            with _opencv_log(cv2.utils.logging.LOG_LEVEL_ERROR):
                ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield resize_gray(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), size)
    finally:
        capture.release()
    video.check_complete(path, count, header_frames)


def read_gray_video(path: str | Path, size: int | None = None) -> np.ndarray:
    """All frames of ``path`` as one gray uint8 array ``(T, size, size)`` (see :func:`iter_gray_frames`)."""
    return np.stack(list(iter_gray_frames(path, size)))


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
    127 and 128 and comes back as +bound/255 (0.078 px for bound 20). Rounding (half to
    even) keeps the error within half a code step. MMAction2's flow images use the same
    mapping but truncate (``astype(np.uint8)``: errors up to a whole step, half a step low
    on average, zero motion stored as 127) and are then JPEG-compressed, which adds loss;
    codes from both therefore differ by up to one step.
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
