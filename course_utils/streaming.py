"""Streaming action recognition: a trained or exported clip model over a video file, a stream of
frames or a webcam, one sliding window at a time.

:class:`ActionRecognizer` is the API. It loads any format the course exports (``.keras``,
``.tflite`` through LiteRT, ``.onnx`` through ONNX Runtime, a SavedModel folder) with the model
card beside it (``runs.read_model_card``: class names, input shape and dtype); a ``.keras`` file
of ``runs/`` without a card takes its class names as an argument. Then:

* :meth:`ActionRecognizer.predict` scores one clip (any length: its frames are taken uniformly,
  as evaluation does in training);
* :meth:`ActionRecognizer.stream` yields one :class:`WindowResult` per sliding window::

      frames (decoded one at a time) -> fit to the model's input exactly as the training pipeline
      does (shorter side to the frame cache's size, the centre crop of the model's size)
      -> a ring of the last (window - 1) * frame_step + 1 frames
      -> every `stride` frames: the window -> the model -> probabilities
      -> smoothing (moving average or EMA) -> hysteresis (the label changes only when another
         class leads by a margin) -> WindowResult

  With ``realtime`` (the default for a webcam) a window whose frames are already older than one
  stride when the model is free is skipped (frame skipping): the model always sees the newest
  frames and never falls behind the source. Optionally a flow model (notebook 07's temporal
  stream) runs beside the clip model on Farneback flow computed online, one field per frame,
  and the two distributions are fused (late fusion, notebook 08); its per-frame cost is counted.

Frames and decisions: a window covering frames ``[start, end)`` is decided when frame ``end - 1``
has arrived. :func:`frame_labels` gives each frame the label shown live at that moment; the
frames before the first decision (the live view says "warming up") get the first window's
label, since that window covers them. A video shorter than one window is scored once, its last
frame repeated to fill the window (as ``video.sliding_windows`` does); the result says ``padded``.

:func:`make_test_stream` builds the held-apart test stream of notebook 10 (test-split clips of
several classes back to back, with their boundaries); :func:`stream_metrics` scores a run
against it (frame-level accuracy, label switches, the delay at each boundary).

``serving`` builds on this module: a whole video in, its timeline (and the annotated live view)
out, and the REST service behind ``python -m course_utils serve``.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import math
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np
import pandas as pd

from . import cache, export, flow, jobs, runs, video
from .datasets import class_names as manifest_class_names, video_paths

DEPLOY_HINT = 'pip install "course_utils[deploy]"'
SMOOTHING = ("ema", "average", "none")
DEFAULT_FPS = 30.0
"""The frame rate assumed for a frame iterator or a webcam that does not report one."""


class StreamingError(jobs.CourseError):
    """A model or a source cannot be used; the message names the file and the problem."""


def require(module: str, what: str):
    """Import ``module`` for ``what``, or a :class:`StreamingError` naming the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise StreamingError(f"{what} needs the {module.split('.')[0]} package: {DEPLOY_HINT}") from None


# --------------------------------------------------------------------------- model runners


class _Runner:
    """One loaded model: ``input_shape`` (one sample), ``num_classes`` and ``predict(x)`` -> ``(N, classes)`` float32."""

    input_shape: tuple[int, ...]
    num_classes: int
    card: dict = {}

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _KerasRunner(_Runner):
    def __init__(self, path: Path):
        from .training import load_model

        self.model = load_model(path)
        self.input_shape = tuple(int(d) for d in self.model.input_shape[1:])
        self.num_classes = int(self.model.output_shape[-1])

    def predict(self, x):
        return np.asarray(self.model.predict_on_batch(x.astype(np.float32)), np.float32)


class _SavedModelRunner(_Runner):
    def __init__(self, path: Path):
        tf = require("tensorflow", f"{path}: a SavedModel")
        self.function = tf.saved_model.load(str(path)).signatures["serving_default"]
        spec = list(self.function.structured_input_signature[1].values())[0]
        self.input_shape = tuple(int(d) for d in spec.shape[1:])
        self.num_classes = int(list(self.function.structured_outputs.values())[0].shape[-1])
        self.tf = tf

    def predict(self, x):
        outputs = self.function(self.tf.constant(x.astype(np.float32)))
        return np.asarray(next(iter(outputs.values())), np.float32)


class _LiteRTRunner(_Runner):
    """:class:`export.TFLiteRunner` (quantising inputs, dequantising outputs) one sample at a time."""

    def __init__(self, path: Path, num_threads: int):
        try:
            self.lite = export.TFLiteRunner(path, num_threads)
        except (RuntimeError, ValueError) as error:
            raise StreamingError(f"{path}: LiteRT cannot load it ({error})") from None
        self.input_shape = tuple(int(d) for d in self.lite.input["shape"][1:])
        self.num_classes = int(self.lite.output["shape"][-1])

    def predict(self, x):
        return np.concatenate([self.lite.run_one(sample[None]) for sample in x]).astype(np.float32)  # batch 1


class _OnnxRunner(_Runner):
    def __init__(self, path: Path, num_threads: int):
        ort = require("onnxruntime", f"{path}: an ONNX model")
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = num_threads, 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise StreamingError(f"{path}: ONNX Runtime cannot load it ({error})") from None
        self.input = self.session.get_inputs()[0]
        self.input_shape = tuple(int(d) if isinstance(d, int) else -1 for d in self.input.shape[1:])
        self.dtype = np.uint8 if "uint8" in self.input.type else np.float32
        self.num_classes = int(self.session.get_outputs()[0].shape[-1])

    def predict(self, x):
        return np.asarray(self.session.run(None, {self.input.name: x.astype(self.dtype)})[0], np.float32)


def load_runner(path: str | Path, num_threads: int = 1) -> _Runner:
    """Load ``path`` by its format: ``.keras``, ``.tflite``, ``.onnx`` or a SavedModel folder; its
    model card, when there is one, is the runner's ``card`` (else ``{}``)."""
    path = Path(path)
    if not path.exists():
        raise StreamingError(f"{path}: no such model file")
    runner = _load(path, num_threads)
    runner.card = json.loads(runs.card_path(path).read_text()) if runs.card_path(path).is_file() else {}
    return runner


def _load(path: Path, num_threads: int) -> _Runner:
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise StreamingError(f"{path}: a folder without saved_model.pb is not a SavedModel")
        return _SavedModelRunner(path)
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return _LiteRTRunner(path, num_threads)
    if suffix == ".onnx":
        return _OnnxRunner(path, num_threads)
    if suffix == ".keras":
        try:
            return _KerasRunner(path)
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise StreamingError(f"{path}: Keras cannot load it ({error})") from None
    raise StreamingError(f"{path}: unknown model format {suffix!r}; expected .keras, .tflite, .onnx or a "
                         "SavedModel folder")


# --------------------------------------------------------------------------- smoothing


class Smoother:
    """Temporal smoothing of window probabilities, then a hysteresis on the label.

    ``kind``: ``ema`` (``s = alpha * p + (1 - alpha) * s``), ``average`` (the mean of the last
    ``size`` windows) or ``none`` (each window on its own, no hysteresis). The label changes only
    when another class's smoothed probability exceeds the current label's by ``hysteresis``.
    """

    def __init__(self, kind: str = "ema", alpha: float = 0.3, size: int = 3, hysteresis: float = 0.1):
        if kind not in SMOOTHING:
            raise ValueError(f"smoothing={kind!r} is not supported; allowed: {', '.join(SMOOTHING)}")
        if not 0 < alpha <= 1 or size < 1 or not 0 <= hysteresis < 1:
            raise ValueError(f"need 0 < alpha <= 1, size >= 1 and 0 <= hysteresis < 1; got alpha={alpha}, "
                             f"size={size}, hysteresis={hysteresis}")
        self.kind, self.alpha, self.size = kind, alpha, size
        self.hysteresis = 0.0 if kind == "none" else hysteresis
        self.reset()

    def reset(self) -> None:
        self.state: np.ndarray | None = None
        self.recent: collections.deque = collections.deque(maxlen=self.size)
        self.label: int | None = None

    def update(self, probs: np.ndarray) -> tuple[int, np.ndarray]:
        """Add one window's probabilities; returns (label index, smoothed probabilities)."""
        probs = np.asarray(probs, np.float64)
        if self.kind == "ema":
            self.state = probs if self.state is None else self.alpha * probs + (1 - self.alpha) * self.state
        elif self.kind == "average":
            self.recent.append(probs)
            self.state = np.mean(self.recent, axis=0)
        else:
            self.state = probs
        best = int(np.argmax(self.state))
        if self.label is None or self.state[best] - self.state[self.label] > self.hysteresis:
            self.label = best
        return self.label, self.state


# --------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One clip's scores: the top ``label``, its ``confidence`` and every class's probability."""

    label: str
    confidence: float
    probabilities: dict[str, float]


@dataclasses.dataclass(frozen=True)
class WindowResult:
    """One window: frames ``[start, end)`` of the source (``end`` is when it was decided), the
    label after smoothing and hysteresis with its smoothed probability, the window's own top
    class, both distributions, and ``latency_s`` from the arrival of its last frame to the result."""

    index: int
    start: int
    end: int
    label: str
    confidence: float
    raw_label: str
    probs: np.ndarray
    smoothed: np.ndarray
    latency_s: float
    padded: bool = False


@dataclasses.dataclass
class StreamStats:
    """What one pass over a source cost (wall-clock seconds per stage)."""

    frames: int = 0
    windows: int = 0
    skipped_windows: int = 0
    seconds: float = 0.0
    decode_s: float = 0.0
    preprocess_s: float = 0.0
    flow_s: float = 0.0
    model_s: float = 0.0
    fps_source: float = DEFAULT_FPS
    latencies_s: list[float] = dataclasses.field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, float]:
        """Rates and per-frame / per-window costs, rounded, for a table or the results JSON."""
        lat = np.asarray(self.latencies_s) * 1e3
        per_frame = 1e3 / max(self.frames, 1)
        return {"frames": self.frames, "windows": self.windows, "skipped_windows": self.skipped_windows,
                "frames_per_s": round(self.frames_per_s, 1),
                "realtime_factor": round(self.frames_per_s / self.fps_source, 1) if self.fps_source else 0.0,
                "decode_ms_per_frame": round(self.decode_s * per_frame, 3),
                "preprocess_ms_per_frame": round(self.preprocess_s * per_frame, 3),
                "flow_ms_per_frame": round(self.flow_s * per_frame, 3),
                "model_ms_per_window": round(self.model_s * 1e3 / max(self.windows, 1), 3),
                "latency_ms_median": round(float(np.median(lat)), 3) if lat.size else 0.0,
                "latency_ms_p95": round(float(np.percentile(lat, 95)), 3) if lat.size else 0.0}


@dataclasses.dataclass(frozen=True)
class Segment:
    """A run of frames with one label: ``[start, end)`` in frames and seconds, mean confidence."""

    start: int
    end: int
    start_s: float
    end_s: float
    label: str
    confidence: float


# --------------------------------------------------------------------------- sources


_END = object()  # the end of a source (None stands for a frame decoded but not retrieved)


@dataclasses.dataclass
class _Source:
    frames: Iterator[np.ndarray | None]  # BGR frames, any size (None: not retrieved, see open_source)
    fps: float
    name: str
    live: bool


def _camera_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def _rgb_to_bgr(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for frame in frames:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {frame.dtype} {frame.shape}")
        yield frame[..., ::-1]


def open_source(source: str | Path | int | Iterable[np.ndarray], fps: float | None = None,
                threads: int | None = None, keep: Callable[[int], bool] | None = None) -> _Source:
    """A video file, a webcam index (``int``) or an iterable of RGB uint8 frames, as a stream.
    ``keep``: of a file, only the frames whose index it accepts are retrieved, None stands for the others."""
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise StreamingError(f"webcam {source}: cannot be opened (no camera with that index, or it is busy)")
        reported = capture.get(cv2.CAP_PROP_FPS) or 0.0
        return _Source(_camera_frames(capture), fps or (reported if 0 < reported <= 240 else DEFAULT_FPS),
                       f"webcam {source}", live=True)
    if isinstance(source, (str, Path)):
        path = Path(source)
        header_fps = video.header_fps(path)  # raises the named errors now: missing, empty, not a video...
        # BGR: the conversion to RGB happens after the resize, on the small image (fit_frame)
        return _Source(video.iter_frames(path, threads=threads, bgr=True, keep=keep), fps or header_fps or DEFAULT_FPS,
                       str(path), live=False)
    return _Source(_rgb_to_bgr(source), fps or DEFAULT_FPS, "frames", live=False)


def fit_frame(frame: np.ndarray, cover: int, size: int) -> np.ndarray:
    """A BGR frame of any size -> the RGB ``size x size`` input the training pipeline makes of it.

    Training caches ``video.fit_frames(frame, cover)`` (shorter side to ``cover``, centre crop)
    and evaluates the central ``size`` square of that. A frame at least four times the needed size
    is first halved by 2x2 averaging until it is not (OpenCV's fast path, several times faster on
    640x480 than one area resize), which the final area resize then matches to rounding.
    """
    height, width = frame.shape[:2]
    scale = max(cover / height, cover / width)
    while height * scale * 2 <= height / 2 and width * scale * 2 <= width / 2:
        frame = cv2.resize(frame, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        height, width = frame.shape[:2]
        scale = max(cover / height, cover / width)
    fitted = video.fit_frames(frame, cover, "crop")
    return np.ascontiguousarray(video.center_crop(fitted, size)[..., ::-1])


# --------------------------------------------------------------------------- the online flow stream


class _FlowStream:
    """Notebook 07's temporal stream fed online: a Farneback field per new frame (gray, resized
    to ``flow_size``, quantised like the flow cache), stacks cut from the window's fields."""

    def __init__(self, runner: _Runner, flow_size: int | None = None):
        # the stacks are cut by 07's own code; `temporal` loads TensorFlow, once, here rather than
        # inside the first window's timing
        from .temporal import render_stacks, stack_indices

        self.render_stacks, self.stack_indices = render_stacks, stack_indices
        segments, side, _, channels = runner.input_shape
        self.runner, self.segments, self.length, self.side = runner, segments, channels // 2, side
        self.flow_size = flow_size or runner.card.get("flow_size") or 2 * side  # 07: flow at twice the stacks' side
        self.previous: np.ndarray | None = None
        self.fields: collections.deque = collections.deque()

    def reset(self, span: int) -> None:
        self.previous, self.fields = None, collections.deque(maxlen=max(span - 1, 1))

    def add(self, bgr: np.ndarray) -> None:
        gray = flow.resize_gray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), self.flow_size)
        if self.previous is not None:
            self.fields.append(flow.quantize(flow.farneback(self.previous, gray, **flow.FARNEBACK_PARAMS)))
        self.previous = gray

    def probs(self) -> np.ndarray:
        codes = np.stack(self.fields) if self.fields else np.full((1, self.flow_size, self.flow_size, 2), 128, np.uint8)
        picks = self.stack_indices(len(codes), self.segments, self.length, training=False)
        stacks = self.render_stacks(codes, picks, np.array([0, 0, self.flow_size]), False, self.side)
        return self.runner.predict(stacks[None])[0]


# --------------------------------------------------------------------------- the recognizer


class ActionRecognizer:
    """A clip model run over a stream of frames, window by window (see the module docstring).

    Args:
        runner: a loaded model (:func:`load_runner`); use :meth:`load` to build one from a file.
        class_names: the output order of the model.
        stride: source frames between the starts of consecutive windows (default 8).
        frame_step: take every ``frame_step``-th source frame into a window, so a window of ``T``
            model frames spans ``(T - 1) * frame_step + 1`` source frames (the clip models were
            trained on ``T`` frames spread over a whole clip).
        smoothing, alpha, average, hysteresis: see :class:`Smoother` (``average`` is its ``size``).
        flow_runner, flow_weight: an optional temporal-stream model on flow stacks and the weight
            of its probabilities in the late fusion ``(1 - w) * rgb + w * flow``.
    """

    def __init__(self, runner: _Runner, class_names: Sequence[str], stride: int = 8, frame_step: int = 1,
                 smoothing: str = "ema", alpha: float = 0.3, average: int = 3, hysteresis: float = 0.1,
                 flow_runner: _Runner | None = None, flow_weight: float = 0.5, name: str = "model"):
        if len(runner.input_shape) != 4 or runner.input_shape[-1] != 3:
            raise StreamingError(f"{name}: expects input {runner.input_shape}, not a clip (frames, height, width, 3)")
        for model, names in ((runner, class_names), (flow_runner, class_names)):
            if model is not None and model.num_classes != len(names):
                raise StreamingError(f"{name}: the model has {model.num_classes} outputs but {len(names)} class names "
                                     "were given")
        if stride < 1 or frame_step < 1:
            raise ValueError(f"stride and frame_step must be positive integers, got {stride} and {frame_step}")
        self.runner, self.class_names, self.name = runner, list(class_names), name
        self.window, side = runner.input_shape[0], runner.input_shape[1]
        self.size, self.cover = side, cache.cache_side(side)
        self.stride, self.frame_step = stride, frame_step
        self.smoother = Smoother(smoothing, alpha, average, hysteresis)
        self.flow = _FlowStream(flow_runner) if flow_runner is not None else None
        self.flow_weight = flow_weight
        self.stats = StreamStats()

    @classmethod
    def load(cls, path: str | Path, class_names: Sequence[str] | None = None, num_threads: int = 1,
             flow_model: str | Path | None = None, **options: Any) -> "ActionRecognizer":
        """Load a model file (any exported format, or ``.keras``) and its card.

        Args:
            path: the model; its card (``runs.card_path``) gives the class names and the input.
            class_names: for a model without a card (a ``.keras`` of ``runs/``).
            num_threads: LiteRT / ONNX Runtime threads.
            flow_model: an optional temporal-stream model (07's ``flow_cnn``) fused with it.
            options: the other arguments of :class:`ActionRecognizer`.
        """
        path = Path(path)
        if not path.exists():
            raise StreamingError(f"{path}: no such model file")
        names = _class_names(path, class_names)
        runner = load_runner(path, num_threads)
        flow_runner = None
        if flow_model is not None:
            _class_names(Path(flow_model), names)  # the same classes in the same order, or an error
            flow_runner = load_runner(flow_model, num_threads)
        return cls(runner, names, flow_runner=flow_runner, name=path.name, **options)

    # ---- one clip

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        """One RGB frame of any size -> the model's ``(size, size, 3)`` uint8 input."""
        return fit_frame(np.ascontiguousarray(rgb[..., ::-1]), self.cover, self.size)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """``(N, T, size, size, 3)`` uint8 preprocessed windows -> ``(N, classes)`` probabilities."""
        return self.runner.predict(windows)

    def predict(self, clip: np.ndarray) -> Prediction:
        """Score one clip ``(T, H, W, 3)`` uint8 RGB of any length and size: ``window`` uniform
        frames of it, each fitted as in training (see :meth:`preprocess`)."""
        clip = np.asarray(clip)
        if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8 or len(clip) == 0:
            raise ValueError(f"a clip is uint8 (T, H, W, 3) RGB with T >= 1, got {clip.dtype} {clip.shape}")
        picks = video.uniform_indices(len(clip), self.window)
        probs = self.probabilities(np.stack([self.preprocess(clip[i]) for i in picks])[None])[0]
        best = int(np.argmax(probs))
        return Prediction(self.class_names[best], float(probs[best]), dict(zip(self.class_names, map(float, probs))))

    # ---- a stream

    @property
    def span(self) -> int:
        """Source frames one window covers."""
        return (self.window - 1) * self.frame_step + 1

    def stream(self, source: str | Path | int | Iterable[np.ndarray], fps: float | None = None,
               realtime: bool | None = None, threads: int | None = None,
               on_frame: Callable[[np.ndarray, int, "WindowResult | None"], None] | None = None
               ) -> Iterator[WindowResult]:
        """Yield a :class:`WindowResult` every ``stride`` frames of ``source``.

        Args:
            source: a video file, a webcam index or an iterable of RGB uint8 frames.
            fps: the source's frame rate (default: the file's, else :data:`DEFAULT_FPS`).
            realtime: pace a file or iterator at ``fps`` as a camera would deliver it, and skip a
                window when its last frame is already more than one stride late (behind the time
                it was due, counted from the last moment the recognizer had to wait for a frame);
                default: only for a webcam. Off, every window is scored as fast as possible.
            threads: decoder threads of a file (None: OpenCV's default; 1 for one-core numbers).
            on_frame: called with every decoded frame (BGR), its index and the latest result
                (None before the first), e.g. to draw the live view (``serving.draw_label``).

        ``self.stats`` holds the costs of the pass (:class:`StreamStats`), complete when the
        generator ends.
        """
        # windows start every `stride` frames and take every `frame_step`-th one: only frames whose
        # index is a multiple of gcd(stride, frame_step) ever reach the model; the others are not
        # fitted, nor retrieved from a file once a window is full (nothing else needs them then)
        used_every, last_bgr = math.gcd(self.stride, self.frame_step), None
        needs_all = self.flow is not None or on_frame is not None or used_every == 1
        keep = None if needs_all else (lambda i: i < self.span or i % used_every == 0)
        src = open_source(source, fps, threads, keep)
        realtime = src.live if realtime is None else realtime
        self.smoother.reset()
        if self.flow is not None:
            self.flow.reset(self.span)
        stats = self.stats = StreamStats(fps_source=src.fps)
        ring: collections.deque = collections.deque(maxlen=self.span)
        latest: WindowResult | None = None
        start = anchor = time.perf_counter()  # frame i is due at anchor + i / fps
        frames = iter(src.frames)
        index = -1
        while True:
            tick = time.perf_counter()
            waited = max(0.0, anchor + (index + 1) / src.fps - tick) if realtime and not src.live else 0.0
            if waited > 0:  # a paced file or iterator: the frame is not there before it is due
                time.sleep(waited)
                tick += waited
            bgr = next(frames, _END)
            arrived = time.perf_counter()
            stats.decode_s += arrived - tick
            if bgr is _END:
                break
            index += 1
            if waited > 0 or (src.live and arrived - tick > 0.5 / src.fps):
                anchor = arrived - index / src.fps  # idle until this frame came: on time again
            ring.append(fit_frame(bgr, self.cover, self.size) if index % used_every == 0 else None)
            if bgr is not None:
                last_bgr = bgr
            fitted = time.perf_counter()
            stats.preprocess_s += fitted - arrived
            if self.flow is not None:
                self.flow.add(bgr)
                stats.flow_s += time.perf_counter() - fitted
            due = len(ring) == self.span and (index + 1 - self.span) % self.stride == 0
            if due and realtime and time.perf_counter() - (anchor + index / src.fps) > self.stride / src.fps:
                stats.skipped_windows += 1  # late: the model skips to the newest frames
            elif due:
                latest = self._decide(ring, index + 1, arrived, stats)
                yield latest
            if on_frame is not None:
                on_frame(bgr, index, latest)
        stats.frames = index + 1
        if stats.windows == 0 and ring:  # shorter than one window: pad with the last frame
            ring.extend([fit_frame(last_bgr, self.cover, self.size)] * (self.span - len(ring)))
            latest = self._decide(ring, index + 1, time.perf_counter(), stats, padded=True)
            yield latest
        stats.seconds = time.perf_counter() - start
        if stats.frames == 0:
            raise StreamingError(f"{src.name}: no frame to recognize")

    def _decide(self, ring: collections.deque, end: int, arrived: float, stats: StreamStats,
                padded: bool = False) -> WindowResult:
        frames = list(ring)[::self.frame_step]
        model_start = time.perf_counter()
        probs = self.probabilities(np.stack(frames)[None])[0]
        if self.flow is not None:
            probs = (1 - self.flow_weight) * probs + self.flow_weight * self.flow.probs()
        stats.model_s += time.perf_counter() - model_start
        label, smoothed = self.smoother.update(probs)
        latency = time.perf_counter() - arrived
        stats.latencies_s.append(latency)
        result = WindowResult(stats.windows, max(0, end - self.span), end, self.class_names[label],
                              float(smoothed[label]), self.class_names[int(np.argmax(probs))], probs,
                              smoothed.astype(np.float32), latency, padded)
        stats.windows += 1
        return result


def _class_names(path: Path, given: Sequence[str] | None) -> list[str]:
    """The card's class names; ``given`` must agree with them, and is needed without a card."""
    card = runs.card_path(path)
    if card.is_file():
        try:
            names = runs.read_model_card(path)["class_names"]
        except ValueError as error:
            raise StreamingError(str(error)) from None
        if given is not None and list(given) != list(names):
            raise StreamingError(f"{card}: its class names differ from the ones given")
        return list(names)
    if given is None:
        raise StreamingError(f"{path}: no model card beside it ({card.name}), so its class names are unknown: "
                             "give them (class_names=..., or --classes on the command line)")
    return list(given)


# --------------------------------------------------------------------------- timelines


def frame_labels(results: Sequence[WindowResult], frames: int, class_names: Sequence[str]) -> np.ndarray:
    """The label index shown at every frame (see the module docstring), ``(frames,)`` int64.

    Frames before the first decision take the first window's label (-1 everywhere when there is
    no result).
    """
    labels = np.full(frames, -1, np.int64)
    position = {name: i for i, name in enumerate(class_names)}
    for result in results:
        labels[min(result.end, frames) - 1:] = position[result.label]
    if results:
        first = labels[min(results[0].end, frames) - 1]
        labels[:min(results[0].end, frames)] = first
    return labels


def timeline(results: Sequence[WindowResult], frames: int, fps: float, class_names: Sequence[str]) -> list[Segment]:
    """The runs of :func:`frame_labels`, each with the mean smoothed confidence of its windows."""
    labels = frame_labels(results, frames, class_names)
    segments = []
    change = np.flatnonzero(np.diff(labels)) + 1
    for start, end in zip([0, *change], [*change, frames]):
        if labels[start] < 0:
            continue
        inside = [r.confidence for r in results if start <= r.end - 1 < end]  # every run holds a decision
        segments.append(Segment(int(start), int(end), round(start / fps, 3), round(end / fps, 3),
                                class_names[labels[start]], round(float(np.mean(inside)), 4)))
    return segments


def timeline_table(segments: Sequence[Segment]) -> pd.DataFrame:
    """The segments as a table, one row each (the columns of :class:`Segment`)."""
    return pd.DataFrame([dataclasses.asdict(s) for s in segments],
                        columns=[f.name for f in dataclasses.fields(Segment)])


def label_switches(labels: np.ndarray) -> int:
    """How often the shown label changes."""
    labels = np.asarray(labels)
    return int(np.count_nonzero(labels[1:] != labels[:-1]))


def boundary_delays(predicted: np.ndarray, truth: np.ndarray) -> list[int | None]:
    """For every frame where the true label changes: frames until the new label is first shown,
    or None when it is never shown before the next change."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    bounds = np.flatnonzero(truth[1:] != truth[:-1]) + 1
    delays: list[int | None] = []
    for b, end in zip(bounds, [*bounds[1:], len(truth)]):
        hits = np.flatnonzero(predicted[b:end] == truth[b])
        delays.append(int(hits[0]) if hits.size else None)
    return delays


def stream_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Frame-level accuracy, label switches (predicted and true) and the delays at boundaries."""
    delays = boundary_delays(predicted, truth)
    found = [d for d in delays if d is not None]
    return {"frame_accuracy": round(float(np.mean(np.asarray(predicted) == np.asarray(truth))), 4),
            "label_switches": label_switches(predicted), "true_switches": label_switches(truth),
            "boundaries_found": len(found), "boundaries_missed": len(delays) - len(found),
            "mean_delay_frames": round(float(np.mean(found)), 2) if found else None,
            "max_delay_frames": max(found) if found else None}


# --------------------------------------------------------------------------- the course's models


def exported_model(artifacts_dir: str | Path, model: str = "c3d_v2", format: str = "int8") -> Path | None:
    """Notebook 09's export of ``model`` in ``format``: the path its results list
    (``extra["exports"][model][format]``, relative to ``artifacts_dir``), else the file at the
    usual place (``export/<model>/model_<format>.tflite``); None when neither exists."""
    artifacts_dir = Path(artifacts_dir)
    for results in sorted((artifacts_dir / "results").glob("09_*.json")):
        try:
            listed = runs.load_results(results)["extra"].get("exports", {}).get(model, {}).get(format)
        except (OSError, ValueError, AttributeError):
            continue
        if listed and (artifacts_dir / listed).exists():
            return artifacts_dir / listed
    usual = artifacts_dir / "export" / model / f"model_{format}.tflite"
    return usual if usual.exists() else None


# --------------------------------------------------------------------------- the held-apart test stream


@dataclasses.dataclass(frozen=True)
class TestStream:
    """A video of test clips back to back: ``path``, ``fps``, the per-frame true labels and the
    clips (one row each: ``label``, ``start``, ``end`` in frames, ``source`` manifest path)."""

    __test__ = False  # not a pytest class

    path: Path
    fps: float
    labels: np.ndarray
    clips: pd.DataFrame

    def truth(self, class_names: Sequence[str]) -> np.ndarray:
        position = {name: i for i, name in enumerate(class_names)}
        return np.array([position[name] for name in self.labels], np.int64)


def choose_stream_clips(manifest: pd.DataFrame, actions: int, clips_per_action: int = 1, seed: int = 0,
                        split: str = "test") -> pd.DataFrame:
    """``actions`` classes of ``split`` (held-out subjects) drawn with ``seed`` in a seeded order,
    each with ``clips_per_action`` of its clips of one subject (the same action repeated)."""
    rng = np.random.default_rng(seed)
    part = manifest[manifest["split"] == split]
    if part.empty:
        raise ValueError(f"the manifest has no {split!r} clips")
    names = manifest_class_names(part)
    rows = []
    for i in rng.choice(len(names), size=min(actions, len(names)), replace=False):
        clips = part[part["label"] == names[i]]
        subject = rng.choice(sorted(clips["subject"].unique()))
        clips = clips[clips["subject"] == subject]
        rows.append(clips.sample(min(clips_per_action, len(clips)), random_state=int(rng.integers(2**31))))
    return pd.concat(rows)


def make_test_stream(manifest: pd.DataFrame, path: str | Path, actions: int = 6, clips_per_action: int = 3,
                     seed: int = 0, size: tuple[int, int] | None = None, fps: float = 25.0,
                     split: str = "test") -> TestStream:
    """Concatenate clips of held-out subjects (:func:`choose_stream_clips`) into one video.

    Args:
        manifest: a dataset manifest (``datasets.load_manifest``).
        path: the ``.avi`` or ``.mp4`` to write (atomically, ``video.write_video``).
        actions: how many actions (each of another class) follow each other.
        clips_per_action: clips of one subject per action, back to back (a longer action).
        seed: which clips and in which order.
        size: ``(height, width)`` of the stream; every clip is fitted by ``video.fit_frames``
            (crop). Default: the clips' height, square: the centre square each model sees anyway.
        fps: the stream's frame rate; every frame of every clip is kept (the models see frames,
            not seconds), so clips recorded at other rates play faster or slower.
        split: the split the clips come from.

    Returns:
        The :class:`TestStream` with the known boundaries.
    """
    chosen = choose_stream_clips(manifest, actions, clips_per_action, seed, split)
    height = int(chosen["height"].min())
    size = size or (height, height)
    pieces, rows, start = [], [], 0
    for source, (_, row) in zip(video_paths(chosen), chosen.iterrows()):
        frames = video.fit_frames(video.read_video(source), size, "crop")
        pieces.append(frames)
        rows.append({"label": row["label"], "start": start, "end": start + len(frames), "source": row["path"]})
        start += len(frames)
    video.write_video(path, np.concatenate(pieces), fps)
    clips = pd.DataFrame(rows)
    labels = np.concatenate([[r["label"]] * (r["end"] - r["start"]) for r in rows])
    return TestStream(Path(path), fps, labels, clips)
