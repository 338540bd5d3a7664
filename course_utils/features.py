"""Hand-made features and quick linear probes that show what a dataset can teach.

The probes run in seconds on a CPU, before any deep model: a linear classifier on
*appearance* features of the middle of a clip (one frame), and one on *motion* features
(frame differences, no pose). On the synthetic set the appearance probe cannot separate the
motion-only pairs (sit down / stand up, wave / raised hand) while the motion probe can,
and the appearance probe gains from scene-class correlation (context bias). The flow
features describe a clip's optical flow for the same kind of probe (notebook 03).
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from .datasets import video_paths
from .flow import BOUND, dequantize, farneback, magnitude, to_gray
from .jobs import parallel_map
from .synthetic import MOTION_PAIRS, load_ground_truth
from .video import read_video

HOG_SIZE = 64  # the middle frame is described at this many pixels a side
MOTION_SIZE = 96  # frames are resized to this for the motion features
_CAMERA_SIZE = 32  # ... and to this for estimating the camera's own motion
_GRID = 3  # cells a side of the grid laid over the box where the motion happens
_TIME_BINS = 4
_SPECTRUM = 8  # low temporal frequencies of the amount of motion


def appearance_features(frames: np.ndarray) -> np.ndarray:
    """What the middle of a clip shows: HOG (64x64 gray) and an 8x8 colour thumbnail.

    ``frames`` is ``(T, H, W, 3)`` RGB uint8. The middle frame is ``T // 2`` for an odd
    ``T``; for an even ``T`` the descriptors of the two middle frames are averaged, so that
    a clip and the same clip played backwards get exactly the same features.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) RGB, got shape {frames.shape}")
    hog = cv2.HOGDescriptor((HOG_SIZE, HOG_SIZE), (16, 16), (8, 8), (8, 8), 9)

    def describe(frame: np.ndarray) -> np.ndarray:
        gray = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (HOG_SIZE, HOG_SIZE), interpolation=cv2.INTER_AREA)
        thumb = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2LAB), (8, 8), interpolation=cv2.INTER_AREA)
        return np.concatenate([hog.compute(gray).ravel(), thumb.ravel().astype(np.float32) / 255.0])

    middle = {(len(frames) - 1) // 2, len(frames) // 2}
    return np.mean([describe(frames[i]) for i in sorted(middle)], axis=0)


def camera_motion(gray: np.ndarray) -> np.ndarray:
    """The camera's own shift ``(T-1, 2)`` (x, y pixels) between consecutive gray frames.

    The median of a coarse Farneback flow field: the person and any distractor cover less
    than half of the view, so the median is the motion of the background.
    """
    h, w = gray.shape[1:3]
    small = [cv2.resize(g, (_CAMERA_SIZE, _CAMERA_SIZE), interpolation=cv2.INTER_AREA) for g in gray]
    flow = np.stack([farneback(a, b, levels=2, winsize=9, iterations=2, poly_sigma=1.1)
                     for a, b in zip(small[:-1], small[1:])])
    return np.median(flow.reshape(len(flow), -1, 2), axis=1) * [w / _CAMERA_SIZE, h / _CAMERA_SIZE]


def stabilised_differences(gray: np.ndarray, blur: float = 1.0) -> np.ndarray:
    """``next - previous`` for consecutive gray frames ``(T, H, W)``, aligned for the camera.

    Both frames are slightly blurred and each is moved half of the camera's shift, so both
    go through the same resampling and the edges of the still background cancel out.
    """
    gray = np.stack([cv2.GaussianBlur(g, (0, 0), blur) for g in np.asarray(gray, np.float32)])
    h, w = gray.shape[1:3]

    def move(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
        return cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REPLICATE)

    return np.stack([move(b, -dx / 2, -dy / 2) - move(a, dx / 2, dy / 2)
                     for a, b, (dx, dy) in zip(gray[:-1], gray[1:], camera_motion(gray))])


def above_noise(magnitude: np.ndarray) -> np.ndarray:
    """Where ``|difference|`` ``(T-1, H, W)`` stands well above the sensor noise of its frame pair.

    The noise level of each pair is estimated robustly (1.4826 x the median absolute
    difference: most pixels do not move); a pixel moves when it exceeds 3 noise levels plus
    4 grey levels, which also removes faint whole-frame flicker (compression, lighting).
    """
    magnitude = np.asarray(magnitude)
    sample = magnitude[:, ::2, ::2].reshape(len(magnitude), -1)
    sigma = 1.4826 * np.median(sample, axis=1)[:, None, None]  # robust noise level
    return magnitude > 3.0 * sigma + 4.0


def frame_difference_energy(frames: np.ndarray) -> np.ndarray:
    """The naive motion energy ``(T-1,)``: mean ``|frame[t+1] - frame[t]|`` over all pixels.

    Everything that changes counts: the actor, but also camera shake, sensor noise and
    compression flicker. It is the same for a clip played backwards, reversed in time.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or len(frames) < 2:
        raise ValueError(f"frames must be (T, H, W[, 3]) with T >= 2, got shape {frames.shape}")
    axes = tuple(range(1, frames.ndim))
    return np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=axes)


def motion_energy(frames: np.ndarray, size: int = MOTION_SIZE, region: np.ndarray | None = None) -> np.ndarray:
    """Motion energy that measures motion ``(T-1,)``: grey levels per pixel and frame step, at ``size`` px.

    The frames are made gray at ``size`` x ``size`` (so clips of any resolution compare),
    the camera's own shift is taken out (:func:`stabilised_differences`) and only pixels
    that change well above the noise count (:func:`above_noise`); the rest count as zero.
    ``region``, a ``(T, H, W)`` boolean mask such as the person mask of the synthetic ground
    truth, keeps only the motion inside it (dilated by 2 pixels, so the moving edges count):
    passers-by and other distractors drop out. The mean is always over the whole frame.
    """
    gray = to_gray(frames, size).astype(np.float32)
    if len(gray) < 3:
        raise ValueError(f"motion energy needs at least 3 frames, got {len(gray)}")
    magnitude = np.abs(stabilised_differences(gray))
    energy = np.where(above_noise(magnitude), magnitude, 0.0)
    if region is not None:
        region = np.asarray(region)
        if region.ndim != 3 or len(region) != len(gray):
            raise ValueError(f"region must be a (T, H, W) mask with T={len(gray)}, got shape {region.shape}")
        kernel = np.ones((5, 5), np.uint8)
        inside = np.stack([cv2.dilate(cv2.resize(r.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST),
                                      kernel) for r in region]) > 0
        energy = energy * (inside[:-1] | inside[1:])
    return energy.mean(axis=(1, 2))


def resample_curve(values: np.ndarray, points: int = 32) -> np.ndarray:
    """``values`` over a clip's steps, linearly resampled to ``points`` over normalised time 0..1,
    so clips of different lengths (and frame rates) can be averaged."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or points < 2:
        raise ValueError(f"need a non-empty 1-D curve and points >= 2, got shape {values.shape}, points={points}")
    if len(values) == 1:
        return np.full(points, values[0])
    return np.interp(np.linspace(0, 1, points), np.linspace(0, 1, len(values)), values)


def clip_motion_energy(job) -> dict[str, np.ndarray]:
    """The energies of one video, each ``(T-1,)`` per frame step: ``{"naive", "robust"}``, plus
    ``"person"`` (the robust energy inside the person mask) when ``job`` is a pair
    ``(video path, ground-truth .npz path)`` of the synthetic set."""
    path, truth = job if isinstance(job, tuple) else (job, None)
    frames = read_video(path)
    out = {"naive": frame_difference_energy(frames), "robust": motion_energy(frames)}
    if truth is not None:
        out["person"] = motion_energy(frames, region=load_ground_truth(truth)["mask"])
    return out


def motion_features(frames: np.ndarray) -> np.ndarray:
    """How a clip moves, without pose: time-ordered, signed and centred on the actor.

    ``frames`` is ``(T, H, W, 3)`` RGB or ``(T, H, W)`` gray, resized to 96 px. From the
    camera-stabilised differences ``D`` of consecutive frames, kept where they stand well
    above the sensor noise: the actor is where motion stays in place (a passer-by or a ball
    only crosses). Over a box around it, per time bin (4) and cell of a 3x3 grid: the share
    of motion and the signed normal flow ``-D*Ix``, ``-D*Iy`` (which way things move, so
    sitting down and standing up differ). Per time bin: the overall signed flow, the log
    motion and its centroid. For the clip: the spectrum of the amount of motion over time
    (periodic or one-off), the log and share of the in-place motion, and the box's size.
    """
    gray = to_gray(frames, MOTION_SIZE).astype(np.float32)
    if len(gray) < 2 * _TIME_BINS + 1:
        raise ValueError(f"motion features need at least {2 * _TIME_BINS + 1} frames, got {len(gray)}")
    diff = stabilised_differences(gray)
    ix = np.stack([cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1, scale=0.5) for g in gray[:-1]])
    iy = np.stack([cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1, scale=0.5) for g in gray[:-1]])
    mag = np.abs(diff)
    moving = above_noise(mag)
    energy = np.where(moving, mag, 0.0)
    flow_x, flow_y = -diff * ix * moving, -diff * iy * moving
    grad = np.sqrt((ix ** 2 + iy ** 2).mean()) + 1e-6

    bins = np.array_split(np.arange(len(diff)), _TIME_BINS)
    per_bin = np.stack([energy[idx].sum(0) for idx in bins])
    spread = np.stack([cv2.blur(e, (9, 9)) for e in per_bin])
    steady = np.sort(spread, axis=0)[1]  # there in all time bins but one: the actor, not something crossing
    in_place = steady.sum() / (spread.mean(0).sum() + 1e-6)
    rows, cols = motion_box(steady if in_place > 0.05 else spread.sum(0), _GRID)
    box_area = (rows.stop - rows.start) * (cols.stop - cols.start) / _GRID ** 2
    yy, xx = np.mgrid[0:MOTION_SIZE, 0:MOTION_SIZE] / MOTION_SIZE
    total = energy.sum() + 1e-6
    parts = []
    for idx, e in zip(bins, per_bin):
        e_sum = e.sum() + 1e-6
        fx, fy = flow_x[idx].sum(0) / (e_sum * grad), flow_y[idx].sum(0) / (e_sum * grad)
        for m in (e / e_sum, fx, fy):
            cells = cv2.resize(np.ascontiguousarray(m[rows, cols]), (_GRID, _GRID), interpolation=cv2.INTER_AREA)
            parts.append(cells.ravel() * box_area)
        parts.append([fx.sum(), fy.sum(), np.log1p(e_sum / len(idx)), (e * yy).sum() / e_sum,
                      (e * xx).sum() / e_sum, e_sum / total])
    series = energy.sum((1, 2))
    spectrum = np.abs(np.fft.rfft(series - series.mean()))[1:_SPECTRUM + 1]
    parts.append(np.pad(spectrum, (0, _SPECTRUM - len(spectrum))) / (spectrum.sum() + 1e-6))
    parts.append([np.log1p(steady.sum() / len(diff)), in_place, (rows.stop - rows.start) / MOTION_SIZE,
                  (cols.stop - cols.start) / MOTION_SIZE])
    return np.concatenate(parts).astype(np.float32)


def run_probe(X_train: np.ndarray, y_train: Sequence[str], X_test: np.ndarray, y_test: Sequence[str],
              class_names: Sequence[str], pairs: Sequence[tuple[str, str]] = MOTION_PAIRS,
              C: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Fit a linear probe on standardised features and score it on the test clips.

    The probe is a one-vs-rest linear SVM with an L1 penalty: with a few hundred training
    clips it keeps the few features that matter instead of spreading its weight over noise.
    Returns ``test_accuracy``, ``macro_f1``, ``confusion`` (rows: true ``labels``) and
    ``pairwise``: for each pair ``"a/b"`` present in the data, the accuracy on the test clips
    of ``a`` and ``b`` of a binary probe trained on the train clips of ``a`` and ``b`` only
    (0.5 is chance).
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    labels = list(class_names)

    def fit(X: np.ndarray, y: np.ndarray):
        svm = LinearSVC(C=C, penalty="l1", dual=False, max_iter=5000, random_state=seed)
        return make_pipeline(StandardScaler(), svm).fit(X, y)

    predicted = fit(X_train, y_train).predict(X_test)
    result: dict[str, Any] = {
        "test_accuracy": float(accuracy_score(y_test, predicted)),
        "macro_f1": float(f1_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
        "confusion": confusion_matrix(y_test, predicted, labels=labels).tolist(),
        "labels": labels, "pairwise": {},
    }
    for a, b in pairs:
        train, test = np.isin(y_train, (a, b)), np.isin(y_test, (a, b))
        if len(set(y_train[train])) < 2 or not test.any():
            continue
        pair_predicted = fit(X_train[train], y_train[train]).predict(X_test[test])
        result["pairwise"][f"{a}/{b}"] = float(accuracy_score(y_test[test], pair_predicted))
    return result


def _clip_features(path) -> tuple[np.ndarray, np.ndarray]:
    frames = read_video(path)
    return appearance_features(frames), motion_features(frames)


def lesson_probes(manifest: pd.DataFrame, workers: int = 2, progress: bool = True,
                  pairs: Sequence[tuple[str, str]] = MOTION_PAIRS) -> dict[str, Any]:
    """The appearance and the motion probe, trained on the train split, scored on the test split.

    Returns ``{"appearance": run_probe(...), "motion": run_probe(...), "n_train", "n_test",
    "chance"}``; a video that cannot be read raises :class:`~course_utils.video.VideoError`
    naming the file.
    """
    clips = manifest[manifest["split"].isin(["train", "test"])].copy()
    clips.attrs = dict(manifest.attrs)
    if not {"train", "test"} <= set(clips["split"]):
        raise ValueError("lesson probes need clips in both the train and the test split")
    features = parallel_map(_clip_features, video_paths(clips), workers, progress, desc="probe features",
                            unit="clip")
    train = (clips["split"] == "train").to_numpy()
    labels = clips["label"].to_numpy()
    names = sorted(set(labels))
    result: dict[str, Any] = {"n_train": int(train.sum()), "n_test": int((~train).sum()), "chance": 1.0 / len(names)}
    for k, name in enumerate(("appearance", "motion")):
        X = np.stack([f[k] for f in features])
        result[name] = run_probe(X[train], labels[train], X[~train], labels[~train], names, pairs)
    return result


# --------------------------------------------------------------------------- flow features

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


