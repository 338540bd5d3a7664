"""Serving a recognizer (``streaming.ActionRecognizer``): a whole video in, its action timeline
and optionally the annotated live view out, from Python, the command line or a REST service.

* :func:`recognize` runs the recognizer over a file or a stream of frames and returns a
  :class:`Recognition` (the windows, the timeline, the costs); with ``out`` it also writes the
  live view through a :class:`VideoSink`: every frame with the label shown at that moment
  (:func:`live_view`) drawn on it (:func:`draw_label`);
* :func:`write_timeline_json` is the record ``python -m course_utils recognize --out`` writes
  beside the annotated video;
* :func:`create_app` is the REST service behind ``python -m course_utils serve``.
"""
# No `from __future__ import annotations`: FastAPI reads the annotations of create_app's endpoints
# at run time, and fastapi is imported inside that function only.
import dataclasses
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from . import jobs, video
from .streaming import (DEFAULT_FPS, ActionRecognizer, Segment, StreamingError, StreamStats, WindowResult, open_source,
                        require, timeline)


# --------------------------------------------------------------------------- the live view


def draw_label(bgr: np.ndarray, text: str, confidence: float | None = None, truth: str | None = None,
               scale: int = 1) -> np.ndarray:
    """A copy of ``bgr`` enlarged ``scale`` times with a banner: the label and its confidence
    (and the true label below when given)."""
    frame = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else bgr.copy()
    height = frame.shape[0]
    font = max(0.35, height / 480)
    thick = max(1, round(font * 1.5))
    lines = [f"{text} {confidence:.2f}" if confidence is not None else text] + ([f"true: {truth}"] if truth else [])
    band = int(22 * font) + 4
    cv2.rectangle(frame, (0, 0), (frame.shape[1], band * len(lines) + 2), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        cv2.putText(frame, line, (4, band * (i + 1) - 4), cv2.FONT_HERSHEY_SIMPLEX, font,
                    (80, 255, 80) if i == 0 else (220, 220, 220), thick, cv2.LINE_AA)
    return frame


class VideoSink:
    """Frames written one at a time to ``path`` (``.mp4``: mp4v, ``.avi``: MJPG, as
    ``video.write_video``), atomically: the file appears only when :meth:`close` succeeds."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        self.code = {".mp4": "mp4v", ".avi": "MJPG"}.get(self.path.suffix.lower())
        if self.code is None:
            raise StreamingError(f"{self.path}: unsupported suffix {self.path.suffix!r}; use .mp4 or .avi")
        self._context = jobs.atomic_path(self.path)
        self._tmp = self._context.__enter__()
        self.writer: cv2.VideoWriter | None = None

    def write(self, bgr: np.ndarray) -> None:
        if self.writer is None:
            backend = [cv2.CAP_FFMPEG] if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else []
            height, width = bgr.shape[:2]
            self.writer = cv2.VideoWriter(str(self._tmp), *backend, cv2.VideoWriter_fourcc(*self.code), float(self.fps),
                                          (width - width % 2, height - height % 2))
            if not self.writer.isOpened():
                self.abort()
                raise StreamingError(f"{self.path}: OpenCV cannot write codec {self.code!r}")
        self.writer.write(np.ascontiguousarray(bgr[:bgr.shape[0] - bgr.shape[0] % 2, :bgr.shape[1] - bgr.shape[1] % 2]))

    def close(self) -> Path:
        if self.writer is not None:
            self.writer.release()
        self._context.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        self._tmp.unlink(missing_ok=True)


def live_view(results_so_far: WindowResult | None, window: int, index: int) -> tuple[str, float | None]:
    """The banner text at frame ``index``: the latest label, or how far the first window is."""
    if results_so_far is None:
        return f"warming up {min(index + 1, window)}/{window}", None
    return results_so_far.label, results_so_far.confidence


# --------------------------------------------------------------------------- recognize a file


@dataclasses.dataclass
class Recognition:
    """Everything one pass over a source gave: its windows, the timeline and the costs."""

    source: str
    frames: int
    fps: float
    results: list[WindowResult]
    segments: list[Segment]
    stats: StreamStats
    class_names: list[str]

    @property
    def padded(self) -> bool:
        return any(r.padded for r in self.results)

    def as_json(self) -> dict[str, Any]:
        """The timeline as JSON types (what ``serve`` returns)."""
        return {"frames": self.frames, "fps": round(self.fps, 3), "duration_s": round(self.frames / self.fps, 3),
                "windows": len(self.results), "shorter_than_window": self.padded,
                "timeline": [dataclasses.asdict(s) for s in self.segments],
                "cost": self.stats.summary()}


def recognize(recognizer: ActionRecognizer, source: str | Path | Iterable[np.ndarray], out: str | Path | None = None,
              truth: Sequence[str] | None = None, scale: int = 1, **stream_options: Any) -> Recognition:
    """Run ``recognizer`` over a whole source and build its timeline; with ``out``, also write the
    live view (:func:`draw_label` on every frame, the true label too when ``truth`` is given)."""
    sink: VideoSink | None = None
    src_fps = open_source(source, stream_options.get("fps")).fps if isinstance(source, (str, Path)) else \
        stream_options.get("fps") or DEFAULT_FPS

    def draw(bgr: np.ndarray, index: int, latest: WindowResult | None) -> None:
        text, confidence = live_view(latest, recognizer.span, index)
        sink.write(draw_label(bgr, text, confidence, truth[index] if truth is not None else None, scale))

    if out is not None:
        sink = VideoSink(out, src_fps)
    try:
        results = list(recognizer.stream(source, on_frame=draw if sink else None, **stream_options))
        if sink is not None:
            sink.close()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    stats = recognizer.stats
    segments = timeline(results, stats.frames, src_fps, recognizer.class_names)
    return Recognition(str(source) if isinstance(source, (str, Path)) else "frames", stats.frames, src_fps, results,
                       segments, stats, recognizer.class_names)


def write_timeline_json(recognition: Recognition, path: str | Path, model: str, video_file: Path | None = None) -> Path:
    """Write the timeline JSON beside an annotated video (the command line's record of what it wrote)."""
    payload = {"generator": "course_utils recognize", "model": model, **recognition.as_json()}
    if video_file is not None:
        payload["video"] = {"name": video_file.name, "sha256": jobs.sha256_file(video_file)}
    return jobs.atomic_write_text(path, json.dumps(payload, indent=1) + "\n")


# --------------------------------------------------------------------------- the REST service

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def create_app(recognizer: ActionRecognizer, max_bytes: int = MAX_UPLOAD_BYTES, model_name: str = "model"):
    """The FastAPI app of ``python -m course_utils serve``.

    ``POST /recognize`` (multipart field ``file``: a video) returns the timeline as JSON
    (:meth:`Recognition.as_json`); ``GET /health`` says the service is up and which model it
    runs; ``/docs`` and ``/openapi.json`` describe it. An upload larger than ``max_bytes`` gets
    413, one that is not a readable video 415; the message names the uploaded file's name.
    """
    fastapi = require("fastapi", "the REST service")
    import tempfile
    import threading

    app = fastapi.FastAPI(title="Action recognition", version="1.0",
                          description="Upload a video, get the timeline of the actions in it (start, end, "
                                      "label, confidence), from a sliding-window clip model with temporal smoothing.")
    lock = threading.Lock()  # one interpreter, one request at a time

    @app.middleware("http")
    async def limit_size(request, call_next):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return fastapi.responses.JSONResponse(status_code=413, content={
                "detail": f"upload of {int(length)} bytes is larger than the limit of {max_bytes} bytes"})
        return await call_next(request)

    @app.get("/health", summary="Is the service up, and which model does it run")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "classes": recognizer.class_names,
                "window": recognizer.window, "stride": recognizer.stride, "max_upload_bytes": max_bytes}

    @app.post("/recognize", summary="The action timeline of an uploaded video")
    def recognize_upload(file: fastapi.UploadFile) -> dict[str, Any]:
        name = Path(file.filename or "upload").name
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / f"upload{Path(name).suffix.lower()[:8] or '.bin'}"
            size = 0
            with open(local, "wb") as handle:
                while chunk := file.file.read(1 << 20):
                    size += len(chunk)
                    if size > max_bytes:  # a chunked upload without Content-Length
                        raise fastapi.HTTPException(413, f"{name}: larger than the limit of {max_bytes} bytes")
                    handle.write(chunk)
            try:
                with lock:
                    result = recognize(recognizer, local)
            except (video.VideoError, StreamingError) as error:
                problem = error.problem if isinstance(error, video.VideoError) else str(error).split(": ", 1)[-1]
                raise fastapi.HTTPException(415, f"{name}: {problem}") from None
        return {"file": name, "model": model_name, **result.as_json()}

    return app
