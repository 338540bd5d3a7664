"""The ``tf.data`` input pipeline: a manifest and the frame cache in, batches of clips out.

The shape follows the TensorFlow video tutorials: a Python generator cuts one clip at a time
(and stacks them into batches), :meth:`tf.data.Dataset.from_generator` with an explicit
``output_signature`` turns it into a dataset, and ``cache`` / ``map`` / ``prefetch`` finish it::

    manifest -> clip_table (frame cache, once)
             -> generator: clips in a seeded order; for each, a plan (which frames, crop box,
                flip, colour change) carried out on uint8 with OpenCV
             -> batches stacked in the generator -> [cache, evaluation only]
             -> map (parallel): cast to float32 -> prefetch

Each step names what it needs and what it adds (the contract style of MMAction2's
transforms): a plan is a dict (``video``, ``picks``, ``box``, ``flip``, ``color``), an element
a dict ``frames`` (uint8 ``(T, H, W, 3)``), ``label``, ``weight``, and the last step turns a
batch into the ``(x, y)`` or ``(x, y, sample_weight)`` tuple Keras trains on.

Why the clip is cut in the generator, on uint8, with OpenCV (a resize per frame, a 256-entry
lookup table for the colour), and cast to float once per batch: on two shared cores every
millisecond the pipeline spends is taken from the training step. TensorFlow image ops per clip
(``crop_and_resize``, float colour arithmetic) cost more than a small model's step and slowed
training to 0.74x of training from memory; a parallel ``map`` over ``tf.numpy_function`` cost
more in hand-offs than it won (the clip work holds Python's lock). Measured on the ci set: about
1 ms of CPU per clip.

How the frame cache feeds the pipeline
--------------------------------------
Every video is decoded once (``cache.cache_clips``) into ``2 * clip_frames`` uniformly spaced
frames at a size 1/8 larger than the model input (72 px for 64 px): :func:`cache_spec`.

* The cached frames span the whole video, so all temporal sampling happens here, differently
  every epoch, without decoding again: a random window of 60-100 % of the video (speed change)
  at a random position (temporal jitter), then TSN segments or a random span inside it; at
  evaluation the uniform frames of the whole video, or several windows per video.
* ``2 * clip_frames`` uniform frames cost the same for every video, long or short; every frame
  (``sampling="all"``) of the ci set would cost 1.3x as much (431 MB), and on a real dataset
  it grows with the length of its videos.
* The extra eighth of a frame is room for random crops and scale; evaluation centre-crops
  the model's size out of it, the average scale training sees.

Measured on the ci set (672 videos, 16 frames at 64 px, so 32 frames at 72x72 cached):
335 MB on disk (every frame instead would be 431 MB), 223 MB for the training split. Each
clip is read from its file when it is needed, so RAM holds what the operating system keeps in
its page cache; a split smaller than ``IN_MEMORY_LIMIT`` (1 GB) is read into RAM once instead.

Determinism: the generator draws everything random (the order, the frames, the crop, flip
and colour of each clip) from ``numpy.random.default_rng([seed, epoch])``, and the parallel
``map`` keeps the order. So a dataset
built twice with the same seed gives the same batches, epoch after epoch, and a different
seed gives others.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import pandas as pd
import tensorflow as tf

from . import cache, video
from .config import Config
from .datasets import class_names as manifest_class_names

CACHE_FRAMES_FACTOR = 2
"""Frames cached per video, as a multiple of the clip length the model sees (their side: ``cache.cache_side``)."""
EVAL_WINDOW = 0.8
"""With several clips per video at evaluation, each clip covers this share of the video."""
IN_MEMORY_LIMIT = 1e9
"""``in_memory=None`` reads a split into RAM when its cached clips take fewer bytes than this."""


@dataclasses.dataclass(frozen=True)
class CacheSpec:
    """How the frame cache stores each video: ``frames`` uniform frames (None: every frame),
    ``size`` pixels a side, brought there by ``fit`` (see ``video.fit_frames``)."""

    frames: int | None
    size: int
    fit: str = "crop"

    @property
    def sampling(self) -> str:
        return "all" if self.frames is None else "uniform"


def cache_spec(clip_frames: int, image_size: int, fit: str = "crop") -> CacheSpec:
    """The frame cache the pipeline reads for clips of ``clip_frames`` frames at ``image_size`` px.

    Args:
        clip_frames: frames per clip the model sees.
        image_size: side of the (square) frames the model sees.
        fit: ``crop`` (keep the aspect ratio, lose the borders) or ``stretch``.

    Returns:
        ``2 * clip_frames`` frames at ``ceil(image_size * 9 / 8)`` px (rounded up to even,
        ``cache.cache_side``).
    """
    return CacheSpec(CACHE_FRAMES_FACTOR * clip_frames, cache.cache_side(image_size), fit)


@dataclasses.dataclass(frozen=True)
class Augment:
    """Training augmentation, the same for every frame of a clip.

    * ``crop_scale``: the side of a random square crop, as a fraction of the cached frame's
      shorter side, before resizing to the model's size (random crop and scale);
    * ``flip``: horizontal flip with probability 1/2, except for the classes in ``no_flip``
      (an action whose meaning has a side, e.g. "wave the left hand");
    * ``brightness``: a random offset of up to this share of 255; ``contrast``: a random
      factor in ``[1 - contrast, 1 + contrast]``;
    * ``speed``: the share of the video a training clip covers, drawn in this range (a short
      window played at ``clip_frames`` frames is a slower action); its position is random
      (temporal jitter);
    * ``reverse``: pairs of classes that are each other played backwards (*sit down* and *stand
      up*); a training clip of either is reversed with probability 1/2 and takes the other's
      label, so the pair's clips differ only in the direction of time. Empty: no clip is reversed
      (and no random number is drawn for it).
    """

    crop_scale: tuple[float, float] = (0.8, 1.0)
    flip: bool = True
    no_flip: tuple[str, ...] = ()
    brightness: float = 0.15
    contrast: float = 0.2
    speed: tuple[float, float] = (0.6, 1.0)
    reverse: tuple[tuple[str, str], ...] = ()


SHORT_RUN_AUGMENT = Augment(crop_scale=(0.9, 1.0), brightness=0.05, contrast=0.1, speed=(0.85, 1.0))
"""The milder augmentation notebooks 04-05 train with: in a run of tens of epochs on the ci set it
reached a higher accuracy than the defaults, which still underfitted after the same epochs."""
NO_AUGMENT = Augment(crop_scale=(1.0, 1.0), flip=False, brightness=0.0, contrast=0.0, speed=(1.0, 1.0))


# --------------------------------------------------------------------------- the clip table


def clip_table(manifest: pd.DataFrame, cache_dir: str | Path, spec: CacheSpec, workers: int = 2,
               progress: bool = True) -> pd.DataFrame:
    """Cache every video of ``manifest`` once and list the clips the pipeline can read.

    Needs: a manifest from ``datasets.load_manifest`` (``path``, ``label``, ``split``,
    ``frames``, ``sha256``).
    Adds: ``cache_path`` (the clip in the frame cache) and ``label_index`` (the position of
    ``label`` in the sorted class names, kept in ``table.attrs["class_names"]``, over all
    splits so every split numbers classes alike).

    Args:
        manifest: the dataset's manifest.
        cache_dir: the frame cache folder (``cfg.cache_dir`` in the notebooks).
        spec: what to cache, from :func:`cache_spec`.
        workers: decoding processes.
        progress: show a progress bar.

    Returns:
        The manifest rows whose video could be cached (failures are printed and dropped).
    """
    paths, failures = cache.cache_clips(manifest, cache_dir, spec.frames, spec.size, sampling=spec.sampling,
                                        fit=spec.fit, workers=workers, progress=progress)
    for failure in failures:
        print(f"skipped {failure}")
    names = manifest_class_names(manifest)
    table = manifest.assign(cache_path=[str(p) if p else None for p in paths])
    table = table[table["cache_path"].notna()].reset_index(drop=True)
    table["label_index"] = table["label"].map({name: i for i, name in enumerate(names)}).astype(np.int32)
    table.attrs = {**manifest.attrs, "class_names": names, "cache": dataclasses.asdict(spec)}
    return table


def prepare(cfg: Config, manifest: pd.DataFrame, workers: int = 2, progress: bool = True) -> pd.DataFrame:
    """:func:`clip_table` of ``manifest`` in ``cfg``'s frame cache, sized for ``cfg``'s clips."""
    return clip_table(manifest, cfg.cache_dir, cache_spec(cfg.clip_frames, cfg.image_size), workers, progress)


def class_weights(labels: Sequence[int], num_classes: int) -> np.ndarray:
    """Per-class loss weights ``n / (num_classes * count)``: every class weighs the same in total.

    Args:
        labels: the training labels (class indices).
        num_classes: how many classes there are (a class absent from ``labels`` gets 0).

    Returns:
        float32 ``(num_classes,)``; all ones for a balanced set.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    weights = np.divide(counts.sum(), num_classes * counts, out=np.zeros_like(counts), where=counts > 0)
    return weights.astype(np.float32)


# --------------------------------------------------------------------------- temporal sampling (NumPy)


def temporal_indices(num_cached: int, clip_frames: int, training: bool, rng: np.random.Generator,
                     sampling: str = "segments", speed: tuple[float, float] = (1.0, 1.0), view: int = 0,
                     views: int = 1) -> np.ndarray:
    """Which cached frames make one clip.

    Training: a window of ``speed`` (a random share) of the cached frames at a random start,
    then ``clip_frames`` frames from it by the registered ``sampling`` strategy
    (``video.SAMPLERS``: ``segments`` = TSN, ``random_span``, ``uniform``, ...). Evaluation:
    the uniform frames of the whole video, or with ``views`` > 1 the ``view``-th of evenly
    spaced windows that each cover ``EVAL_WINDOW`` of it.

    Returns:
        int64 ``(clip_frames,)`` indices in ``[0, num_cached)``, in temporal order.
    """
    if training:
        share = rng.uniform(*speed) if speed[1] > speed[0] else speed[0]
        length = min(num_cached, max(1, round(num_cached * share)))
        start = int(rng.integers(0, num_cached - length + 1))
        return start + video.sample_indices(sampling, length, clip_frames, training=True, rng=rng)
    if views == 1:
        return video.uniform_indices(num_cached, clip_frames)
    length = max(1, round(num_cached * EVAL_WINDOW))
    start = int(round(view * (num_cached - length) / (views - 1)))
    return start + video.uniform_indices(length, clip_frames)


def clip_frame_indices(num_frames: int, clip_frames: int, training: bool = False,
                       rng: np.random.Generator | None = None, speed: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Which frames of a ``num_frames`` video make a clip: the frame cache's uniform frames
    (:func:`cache_spec`), then :func:`temporal_indices` of them. Per-frame ground truth (joints,
    masks) cut with these indices covers the same instants as the clip the models see.

    Returns:
        int64 ``(clip_frames,)`` frame indices of the video.
    """
    cached = video.uniform_indices(num_frames, CACHE_FRAMES_FACTOR * clip_frames)
    rng = rng if rng is not None else np.random.default_rng(0)
    return cached[temporal_indices(len(cached), clip_frames, training, rng, speed=speed)]


def crop_box(height: int, width: int, image_size: int, training: bool, rng: np.random.Generator,
             augment: Augment, flippable: bool) -> tuple[np.ndarray, bool]:
    """The crop of one clip, ``[top, left, side]`` in cached pixels, and whether to mirror it.

    Training: a random square whose side is a random ``augment.crop_scale`` share of the
    shorter side, at a random place, mirrored with probability 1/2 when ``augment.flip`` and
    the clip's class is ``flippable``. Evaluation: the central ``image_size`` square.
    """
    if training:
        side = max(2, round(min(height, width) * rng.uniform(*augment.crop_scale)))
        top, left = (int(rng.integers(0, n - side + 1)) for n in (height, width))
        flip = bool(flippable and augment.flip and rng.random() < 0.5)
    else:
        side, flip = image_size, False
        top, left = (height - side) // 2, (width - side) // 2
    return np.array([top, left, side], np.int32), flip


def render_clip(frames: np.ndarray, box: np.ndarray, flip: bool, color: np.ndarray, image_size: int) -> np.ndarray:
    """Cut ``box`` out of every frame, mirror it if ``flip``, resize it to ``image_size`` and
    change its colour by ``color = (brightness offset, contrast factor)``: the same on every frame.

    Needs: uint8 ``(T, H, W, 3)`` frames. Returns: uint8 ``(T, image_size, image_size, 3)``.
    The contrast is taken around the clip's mean, and both changes go through one 256-entry
    lookup table, so the clip stays uint8 (and cheap) until the batch is cast to float.
    """
    top, left, side = (int(v) for v in box)
    clip = frames[:, top:top + side, left:left + side]
    if flip:
        clip = clip[:, :, ::-1]
    if side != image_size:
        interpolation = cv2.INTER_AREA if side > image_size else cv2.INTER_LINEAR
        clip = np.stack([cv2.resize(np.ascontiguousarray(f), (image_size, image_size), interpolation=interpolation)
                         for f in clip])
    delta, factor = float(color[0]), float(color[1])
    if delta != 0.0 or factor != 1.0:
        mean = float(clip.mean())
        table = np.clip(np.arange(256) * factor + (1 - factor) * mean + delta, 0, 255).astype(np.uint8)
        clip = np.ascontiguousarray(clip)
        return cv2.LUT(clip.reshape(-1, clip.shape[-2] * 3), table).reshape(clip.shape)
    return np.ascontiguousarray(clip)


class ClipSource:
    """The generator behind a dataset: one clip after another, in a seeded order.

    For each clip it first draws a plan: ``video`` (the row of the table), ``picks`` (which
    cached frames, :func:`temporal_indices`), ``box`` and ``flip`` (:func:`crop_box`) and
    ``color`` (brightness offset in 0-255 units, contrast factor); :meth:`render` carries it
    out; a clip of a class in ``augment.reverse`` may have its ``picks`` run backwards and take
    the other class's label. Needs: a :func:`clip_table` split. Yields: ``frames`` (uint8
    ``(clip_frames, image_size, image_size, 3)``), ``label`` and ``weight`` (the class weight, 1
    without weighting).

    Each call yields epoch ``self.epoch`` and counts on: the order and every random draw come
    from ``default_rng([seed, epoch])``, so two sources built alike yield the same epochs
    (:meth:`ClipDataset.set_epoch` chooses the epoch).
    """

    def __init__(self, table: pd.DataFrame, clip_frames: int, image_size: int, training: bool, seed: int,
                 augment: Augment, sampling: str = "segments", views: int = 1, balanced: bool = False,
                 weights: np.ndarray | None = None, flippable: np.ndarray | None = None, in_memory: bool = False,
                 reversed_label: np.ndarray | None = None):
        self.paths = list(table["cache_path"])
        self.labels = table["label_index"].to_numpy(np.int32)
        self.clip_frames, self.image_size, self.training, self.seed = clip_frames, image_size, training, seed
        self.augment, self.sampling, self.views, self.balanced = augment, sampling, views, balanced
        self.weights, self.flippable, self.reversed_label = weights, flippable, reversed_label
        self.epoch = 0
        self._clips = [cache.load_cached(p) for p in self.paths] if in_memory else None
        shapes = [cache.load_cached(p, mmap=True).shape for p in self.paths]  # reads the .npy headers only
        self.lengths = [shape[0] for shape in shapes]
        self.size = shapes[0][1:3]

    def clip(self, i: int) -> np.ndarray:
        # a plain read (from the page cache, once warm) costs half of memory-mapping the picked frames
        return self._clips[i] if self._clips is not None else cache.load_cached(self.paths[i])

    def order(self, rng: np.random.Generator) -> list[tuple[int, int]]:
        """(row, view) pairs of one epoch: shuffled or class-balanced in training, in table order else."""
        n = len(self.paths)
        if not self.training:
            return [(i, v) for i in range(n) for v in range(self.views)]
        if not self.balanced:
            return [(int(i), 0) for i in rng.permutation(n)]
        classes = np.unique(self.labels)  # each draw: a class uniformly, then one of its clips
        members = {c: np.flatnonzero(self.labels == c) for c in classes}
        return [(int(rng.choice(members[c])), 0) for c in rng.choice(classes, size=n)]

    def color(self, rng: np.random.Generator) -> np.ndarray:
        a = self.augment
        if not self.training or (a.brightness == 0 and a.contrast == 0):
            return np.array([0.0, 1.0], np.float32)
        return np.array([rng.uniform(-a.brightness, a.brightness) * 255,
                         rng.uniform(1 - a.contrast, 1 + a.contrast)], np.float32)

    def __call__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        height, width = self.size
        for i, view in self.order(rng):
            picks = temporal_indices(self.lengths[i], self.clip_frames, self.training, rng, self.sampling,
                                     self.augment.speed, view, self.views)
            label = self.labels[i]
            if self.training and self.reversed_label is not None and self.reversed_label[label] >= 0 \
                    and rng.random() < 0.5:
                picks, label = picks[::-1], self.reversed_label[label]
            flippable = True if self.flippable is None else bool(self.flippable[label])
            box, flip = crop_box(height, width, self.image_size, self.training, rng, self.augment, flippable)
            plan = {"video": i, "picks": picks, "box": box, "flip": flip, "color": self.color(rng)}
            yield {"frames": self.render(**plan), "label": label,
                   "weight": np.float32(1.0 if self.weights is None else self.weights[label])}

    def signature(self) -> dict[str, tf.TensorSpec]:
        """The ``output_signature`` of :meth:`tf.data.Dataset.from_generator`."""
        return {"frames": tf.TensorSpec((self.clip_frames, self.image_size, self.image_size, 3), tf.uint8),
                "label": tf.TensorSpec((), tf.int32), "weight": tf.TensorSpec((), tf.float32)}

    def render(self, video: int, picks: np.ndarray, box: np.ndarray, flip: bool, color: np.ndarray) -> np.ndarray:
        """Carry out one plan: the picked frames of clip ``video``, through :func:`render_clip`."""
        return render_clip(self.clip(video)[picks], box, flip, color, self.image_size)


def to_inputs(batch: dict, weighted: bool) -> tuple:
    """Needs: ``frames`` (uint8), ``label`` (and ``weight``). Returns ``(x, y)`` or
    ``(x, y, weight)``: ``x`` float32 ``(B, T, H, W, 3)`` in [0, 255] (the models rescale),
    ``y`` the int32 classes."""
    x = tf.cast(batch["frames"], tf.float32)
    return (x, batch["label"], batch["weight"]) if weighted else (x, batch["label"])


# --------------------------------------------------------------------------- the dataset


@dataclasses.dataclass
class ClipDataset:
    """A batched ``tf.data.Dataset`` and what is known about its elements.

    ``videos`` are the split's rows of the clip table; ``elements`` has one row per clip in the
    order evaluation yields them (``video``: the row of ``videos``, ``view``: which clip of
    that video, ``label_index``); for a training set it lists each video once (the order
    changes every epoch).
    """

    dataset: tf.data.Dataset
    elements: pd.DataFrame
    videos: pd.DataFrame
    class_names: list[str]
    batch_size: int
    training: bool
    source: ClipSource | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass over ``dataset`` yield epoch ``epoch`` of the seeded sequence
        (``training.fit`` does this at every epoch, so a resumed or repeated run sees the same data)."""
        if self.source is not None:
            self.source.epoch = int(epoch)

    @property
    def steps(self) -> int:
        """Batches per epoch."""
        count = len(self.elements)
        return count // self.batch_size if self.training else math.ceil(count / self.batch_size)

    @property
    def labels(self) -> np.ndarray:
        return self.elements["label_index"].to_numpy()


def make_dataset(table: pd.DataFrame, split: str | Sequence[str], clip_frames: int, image_size: int,
                 batch_size: int, training: bool, seed: int = 0, augment: Augment | None = None,
                 sampling: str | None = None, clips_per_video: int = 1, balanced: bool = False,
                 weighted: bool = False, in_memory: bool | None = None) -> ClipDataset:
    """Batches of clips of one split, ready for ``model.fit`` / ``model.predict``.

    Args:
        table: from :func:`clip_table` (or :func:`prepare`).
        split: ``train``, ``val``, ``test`` (or several).
        clip_frames, image_size: what the model sees, ``(clip_frames, image_size, image_size, 3)``.
        batch_size: clips per batch (training drops the last incomplete batch).
        training: random order, sampling and :class:`Augment`; else the deterministic clips,
            centre-cropped, cached in memory after the first pass.
        seed: the seed of every random choice (order, frames, crops, flips).
        augment: the training augmentation (default :class:`Augment()`; ``NO_AUGMENT`` for none).
        sampling: the ``video.SAMPLERS`` strategy of training clips (default ``segments``, TSN);
            evaluation takes uniform frames.
        clips_per_video: evaluation clips per video (windows spread over it) for video-level scores.
        balanced: training draws a class uniformly, then one of its clips (imbalanced data).
        weighted: add class weights (:func:`class_weights`) as a third element.
        in_memory: read the split's cached clips into RAM once (True), or each when it is needed
            (False); None: in RAM when they take less than ``IN_MEMORY_LIMIT`` bytes (the ci
            training split: 223 MB; it made training fed by the pipeline 0.91x instead of
            0.85x as fast as training from memory, on two busy cores).

    Returns:
        A :class:`ClipDataset`; its ``dataset`` yields ``(x, y)`` (or ``(x, y, w)``), ``x``
        float32 ``(batch, clip_frames, image_size, image_size, 3)`` in [0, 255], ``y`` int32.
    """
    splits = [split] if isinstance(split, str) else list(split)
    part = table[table["split"].isin(splits)].reset_index(drop=True)
    if part.empty:
        raise ValueError(f"no clips in split {splits} (the table has {sorted(table['split'].unique())})")
    names = list(table.attrs["class_names"])
    size = int(table.attrs["cache"]["size"])
    if size < image_size:
        raise ValueError(f"the frame cache holds {size} px frames, smaller than image_size={image_size}")
    augment = (augment or Augment()) if training else NO_AUGMENT
    weights = class_weights(table.loc[table["split"] == "train", "label_index"], len(names)) if weighted else None
    flippable = np.array([name not in augment.no_flip for name in names])
    reversed_label = reversal_labels(names, augment.reverse) if augment.reverse else None
    if in_memory is None:
        in_memory = fits_in_memory(part["cache_path"])
    views = 1 if training else clips_per_video
    source = ClipSource(part, clip_frames, image_size, training, seed, augment, sampling or "segments",
                        views, balanced, weights, flippable, in_memory, reversed_label)
    return batched(source, part, names, batch_size, training, views, weighted)


def reversal_labels(class_names: Sequence[str], pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """For every class index, the index of the class its clips become played backwards (-1: none)."""
    names = list(class_names)
    out = np.full(len(names), -1, np.int32)
    for a, b in pairs:
        if a not in names or b not in names:
            raise ValueError(f"reverse pair ({a!r}, {b!r}) names a class that is not in {names}")
        out[names.index(a)], out[names.index(b)] = names.index(b), names.index(a)
    return out


def fits_in_memory(paths: Sequence[str | Path]) -> bool:
    """Whether the cache files ``paths`` take fewer bytes than :data:`IN_MEMORY_LIMIT`."""
    return sum(Path(p).stat().st_size for p in paths) < IN_MEMORY_LIMIT


class Stacked:
    """The elements of a generator ``source`` stacked ``batch_size`` at a time, the last
    incomplete batch dropped if ``drop_remainder`` (as ``Dataset.batch`` does).

    Batching in Python hands tf.data one array a batch instead of one a clip: on the ci set the
    hand-over cost about half a millisecond per clip, half of what cutting the clip costs.
    """

    def __init__(self, source: Any, batch_size: int, drop_remainder: bool):
        self.source, self.batch_size, self.drop_remainder = source, batch_size, drop_remainder

    def __call__(self) -> Iterator[dict[str, np.ndarray]]:
        elements = iter(self.source())
        while batch := list(itertools.islice(elements, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_remainder:
                return
            yield {key: np.stack([e[key] for e in batch]) for key in batch[0]}

    def signature(self) -> dict[str, tf.TensorSpec]:
        """The source's signature with a batch dimension (known when incomplete batches are dropped)."""
        batch = self.batch_size if self.drop_remainder else None
        return {key: tf.TensorSpec((batch, *spec.shape), spec.dtype) for key, spec in self.source.signature().items()}


def batched(source: Any, part: pd.DataFrame, names: list[str], batch_size: int, training: bool, views: int = 1,
            weighted: bool = False) -> ClipDataset:
    """The ``tf.data`` flow over a generator ``source`` (a :class:`ClipSource` or alike, with a
    ``signature()``) of the videos ``part``, ``views`` elements per video in evaluation:
    ``from_generator`` over :class:`Stacked` batches -> cache (evaluation: the same batches every
    pass) -> a parallel :func:`to_inputs` -> the known number of batches -> prefetch."""
    stacks = Stacked(source, batch_size, drop_remainder=training)
    dataset = tf.data.Dataset.from_generator(stacks, output_signature=stacks.signature())
    if not training:
        dataset = dataset.cache()  # the same clips every pass: cut them once
    dataset = dataset.map(lambda b: to_inputs(b, weighted), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = len(part) // batch_size if training else math.ceil(len(part) * views / batch_size)
    if batches == 0:
        raise ValueError(f"split {sorted(set(part['split']))} has {len(part)} videos, fewer than one batch of {batch_size}")
    # a generator's length is unknown to tf.data: say it, so Keras knows the steps of an epoch
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)
    elements = pd.DataFrame({"video": np.repeat(np.arange(len(part)), views),
                             "view": np.tile(np.arange(views), len(part)),
                             "label_index": np.repeat(part["label_index"].to_numpy(), views)})
    return ClipDataset(dataset, elements, part, names, batch_size, training, source)


def datasets_for(cfg: Config, table: pd.DataFrame, clips_per_video: int = 1, **training_options: Any) -> dict[str, ClipDataset]:
    """The ``train`` / ``val`` / ``test`` datasets of ``cfg``'s clip size, batch size and seed.

    ``training_options`` go to the training set's :func:`make_dataset` (``augment``,
    ``sampling``, ``balanced``, ``weighted``, ``in_memory``); ``clips_per_video`` to the test set.
    """
    common = dict(clip_frames=cfg.clip_frames, image_size=cfg.image_size, batch_size=cfg.batch_size, seed=cfg.seed)
    present = set(table["split"])
    out = {"train": make_dataset(table, "train", training=True, **common, **training_options)}
    if "val" in present:
        out["val"] = make_dataset(table, "val", training=False, **common)
    if "test" in present:
        out["test"] = make_dataset(table, "test", training=False, clips_per_video=clips_per_video, **common)
    return out


def take_arrays(data: ClipDataset, batches: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``batches`` batches (all by default) of ``data`` as NumPy ``(x, y)``."""
    xs, ys = [], []
    for batch in data.dataset.take(-1 if batches is None else batches):
        xs.append(batch[0].numpy())
        ys.append(batch[1].numpy())
    return np.concatenate(xs), np.concatenate(ys)
