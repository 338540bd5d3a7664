"""Decoding and writing video files with OpenCV, with typed errors that name the file."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np


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


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a full decode of a file found (the header's frame count is not trusted)."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    header_frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else float("nan")


def _open(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.exists():
        raise VideoMissingError(path, "file does not exist")
    if path.is_dir():
        raise NotAVideoError(path, "is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoEmptyError(path, "file is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise NotAVideoError(path, "OpenCV cannot open it as a video (not a video or unknown codec)")
    return capture


def iter_frames(path: str | Path, gray: bool = False) -> Iterator[np.ndarray]:
    """Yield the decoded frames of ``path`` as uint8 arrays (RGB, or 2-D when ``gray``)."""
    capture = _open(path)
    header_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if gray else cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if count == 0:
        raise VideoTruncatedError(path, "no frame could be decoded (truncated or corrupt stream)")
    if header_frames > 0 and count < 0.5 * header_frames:
        raise VideoTruncatedError(path, f"only {count} of the {header_frames} frames in the header "
                                  "could be decoded (truncated file)")


def probe_video(path: str | Path) -> VideoInfo:
    """Decode the whole file once and report frames, fps and size."""
    capture = _open(path)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    header_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    frames, height, width = 0, 0, 0
    for frame in iter_frames(path, gray=True):
        frames += 1
        height, width = frame.shape[:2]
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 0.0
    return VideoInfo(Path(path), frames, fps, width, height, header_frames)


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
