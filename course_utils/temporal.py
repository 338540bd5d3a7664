"""The temporal stream of a two-stream network: stacks of optical flow in, a 2-D CNN over them.

Simonyan & Zisserman (2014) gave a 2-D CNN, instead of one RGB frame, ``L`` consecutive flow
fields stacked as ``2L`` input channels: the first layer then sees how every pixel moved over
``L`` frames. Temporal Segment Networks (TSN, Wang et al. 2016) take ``K`` such stacks per video,
one from each of ``K`` equal segments, score each and average the scores (the *consensus*)::

    flow cache (cache.extract_flow_cache, uint8 (T-1, H, W, 2); by default notebook 03's, at the
                profile's frame size: :func:`default_flow_size`)
      -> flow_table: the cache file of every video
      -> FlowStackSource: per video K stacks of L fields (training: a random start in each
         segment; evaluation: the segment centres), one random crop and flip for all of them
         (the flip mirrors the fields AND negates dx), resized to the model's size with the
         vectors scaled alike, each channel's mean removed
      -> batch -> (B, K, S, S, 2L) float32 flow in pixels
      -> flow_cnn: the K stacks folded into the batch, a small strided CNN, a softmax per stack,
         the average over the K stacks (consensus): one video-level distribution

Channel layout (``layout="stack"``): **interleaved**, channel ``2i`` is ``dx`` (right +) and
``2i + 1`` is ``dy`` (down +) of the stack's ``i``-th field, the order the cache stores them
in. ``layout="clip"`` keeps the fields as a time axis instead, ``(K * L, S, S, 2)``, for 3-D CNNs.

Mean subtraction: every channel of a stack (one field's ``dx`` or ``dy``) has its spatial mean
removed, a cheap estimate of the camera's motion (TSN and the two-stream paper do the same).

Short videos: a video with fewer than ``L`` fields (``L + 1`` frames) gets a window centred on
it with the indices clipped to its first and last field, so the edge fields repeat.

Determinism: as in ``pipeline.ClipSource``, every random draw of an epoch comes from
``numpy.random.default_rng([seed, epoch])`` and :meth:`ClipDataset.set_epoch` chooses the
epoch, so the result is a ``pipeline.ClipDataset`` that ``training.fit`` and
``evaluation.evaluate`` take unchanged.

Cross-modality initialisation (TSN): :func:`flow_backbone` builds a registered image backbone
for ``2L`` channels and starts it from RGB weights, its first kernel averaged over R, G, B and
replicated to the ``2L`` channels (:func:`cross_modality_kernel`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers

from . import cache, flow, models, pipeline
from .config import Config, resolve_config
from .datasets import class_names as manifest_class_names

SEGMENTS = 3
"""Stacks per video, K (TSN used 3 in training)."""
STACK_LENGTH = 10
"""Consecutive flow fields per stack, L (10 in the two-stream paper and TSN)."""
FLOW_AUGMENT = pipeline.Augment(crop_scale=(0.85, 1.0), brightness=0.0, contrast=0.0, speed=(1.0, 1.0))
"""Training augmentation of flow: a random square crop (resized back, the vectors scaled with it)
and a horizontal flip; no colour change (flow has no colour) and no speed change (skipping frames
would change the vectors)."""
FLIPS = ("flow", "naive")
LAYOUTS = ("stack", "clip")
FLOW_PREPROCESS = {"mobilenet_v2": 1 / flow.BOUND, "resnet50": 255 / (2 * flow.BOUND)}
"""Scale from flow in pixels to the input range of each backbone's RGB weights: +-BOUND px maps to
[-1, 1] (MobileNetV2) or +-127.5 (ResNet-50, mean-subtracted pixels), as TSN maps flow to images."""


# --------------------------------------------------------------------------- the flow table


def flow_table(manifest: pd.DataFrame, paths: list[Path | None]) -> pd.DataFrame:
    """The videos whose flow is cached, ready for :func:`make_flow_dataset`.

    Needs: a manifest (``path``, ``label``, ``split``) and, per row in order, its flow cache
    file or None (``FlowSummary.paths`` of ``cache.extract_flow_cache``).
    Adds: ``flow_path`` and ``label_index`` (the position of ``label`` in the sorted class
    names of the whole manifest, kept in ``table.attrs["class_names"]``, as ``pipeline.clip_table``).

    Returns:
        The manifest rows with cached flow (videos without are dropped).
    """
    if len(paths) != len(manifest):
        raise ValueError(f"{len(paths)} flow files for {len(manifest)} manifest rows")
    names = manifest_class_names(manifest)
    table = manifest.assign(flow_path=[str(p) if p else None for p in paths])
    table = table[table["flow_path"].notna()].reset_index(drop=True)
    table["label_index"] = table["label"].map({name: i for i, name in enumerate(names)}).astype(np.int32)
    table.attrs = {**manifest.attrs, "class_names": names}
    return table


def default_flow_size(profile: str) -> int:
    """The side notebook 03 caches flow at in ``profile``: the profile's frame size (64 px in ``ci``),
    larger than the stacks the model sees (Farneback on small frames misses thin limbs)."""
    return resolve_config(profile).image_size


def prepare_flow(cfg: Config, manifest: pd.DataFrame, size: int | None = None, workers: int = 2,
                 progress: bool = False) -> pd.DataFrame:
    """Make sure ``cfg``'s flow cache at ``size`` px (default :func:`default_flow_size`, the cache
    of notebook 03) is complete, computing only what is missing so a notebook also works on its
    own, and return its :func:`flow_table`."""
    size = size or default_flow_size(cfg.profile)
    summary = cache.extract_flow_cache(manifest, cache.flow_cache_dir(cfg, size), size=size, workers=workers,
                                       progress=progress)
    for failure in summary.failures:
        print(f"skipped {failure}")
    return flow_table(manifest, summary.paths)


# --------------------------------------------------------------------------- stacks (NumPy)


def stack_indices(num_fields: int, segments: int, length: int, training: bool,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Which fields make the ``segments`` stacks of one video (TSN sampling).

    The possible starts ``0 .. num_fields - length`` are cut into ``segments`` equal parts;
    training draws a start in each part, evaluation takes each part's centre. A video shorter
    than ``length`` fields gets a centred window, clipped: its edge fields repeat.

    Returns:
        int64 ``(segments, length)`` indices in ``[0, num_fields)``.
    """
    starts = num_fields - length + 1                       # how many windows fit
    if starts < 1:
        first = np.full(segments, (num_fields - length) // 2, dtype=np.float64)
    else:
        edges = np.arange(segments + 1) * starts / segments
        first = rng.uniform(edges[:-1], edges[1:]) if training else (edges[:-1] + edges[1:]) / 2
        first = np.minimum(np.floor(first), starts - 1)
    return np.clip(first.astype(np.int64)[:, None] + np.arange(length), 0, num_fields - 1)


def flip_flow(x: Any, naive: bool = False) -> Any:
    """Mirror flow left-right: the width axis reversed and every ``dx`` negated.

    Works on NumPy arrays and tensors alike, any shape ``(..., W, C)`` with interleaved channels
    (``dx`` at even positions). ``naive=True`` only mirrors, as an image flip would: the vectors
    then still point the old way, a motion the mirrored video does not have.
    """
    mirrored = x[..., ::-1, :]
    if naive:
        return mirrored
    signs = np.tile(np.array([-1.0, 1.0], np.float32), x.shape[-1] // 2)
    return mirrored * signs


def render_stacks(codes: np.ndarray, picks: np.ndarray, box: np.ndarray, flip: bool, image_size: int,
                  naive: bool = False, layout: str = "stack") -> np.ndarray:
    """Carry out one plan on the flow of one video.

    Needs: the video's uint8 flow codes ``(T-1, H, W, 2)`` (the cache's layout), ``picks``
    ``(K, L)`` from :func:`stack_indices`, ``box = [top, left, side]`` and ``flip`` from
    :func:`flow_box`. Each picked field is turned into pixels, cropped to ``box`` and resized to
    ``image_size`` with its vectors scaled by the same factor (flow is measured in pixels of its
    frame), mirrored by :func:`flip_flow`, and every channel has its spatial mean removed.

    Returns:
        float32 ``(K, S, S, 2L)`` (``layout="stack"``, channels interleaved) or ``(K * L, S, S, 2)``
        (``layout="clip"``), ``S = image_size``, in pixels per frame.
    """
    top, left, side = (int(v) for v in box)
    segments, length = picks.shape
    x = flow.dequantize(codes[picks.ravel()][:, top:top + side, left:left + side])   # (K*L, side, side, 2) px
    if side != image_size:  # bilinear: flow is smooth, and INTER_AREA is 4x slower at these factors
        x = np.stack([cv2.resize(field, (image_size, image_size), interpolation=cv2.INTER_LINEAR) for field in x])
        x *= np.float32(image_size / side)
    if layout == "stack":  # (K, L, S, S, 2) -> (K, S, S, L, 2), each (dx, dy) pair moved as one 8-byte item
        pairs = x.view(np.int64).reshape(segments, length, image_size, image_size)
        x = pairs.transpose(0, 2, 3, 1).copy().view(np.float32).reshape(segments, image_size, image_size, 2 * length)
    if flip:
        x = flip_flow(x, naive)
    x -= (np.einsum("nhwc->nc", x) / (image_size * image_size))[:, None, None]  # x.mean((1, 2)), 4x faster
    return x


def flow_box(height: int, width: int, image_size: int, training: bool, rng: np.random.Generator,
             augment: pipeline.Augment, flippable: bool) -> tuple[np.ndarray, bool]:
    """The crop of one video's stacks, ``[top, left, side]`` in cached pixels, and whether to mirror.

    Training: ``pipeline.crop_box`` (a random square of ``augment.crop_scale`` of the shorter side,
    a flip with probability 1/2). Evaluation: the central square of the whole shorter side, so a
    cache larger than ``image_size`` is resized, never cropped, and the vectors keep the scale
    training saw.
    """
    if training:
        return pipeline.crop_box(height, width, image_size, True, rng, augment, flippable)
    side = min(height, width)
    return np.array([(height - side) // 2, (width - side) // 2, side], np.int32), False


class FlowStackSource:
    """The generator behind a flow dataset: the stacks of one video after another, seeded.

    For each video it draws a plan (:meth:`plan`: ``picks`` from :func:`stack_indices`, ``box``
    and ``flip`` from :func:`flow_box`, the same for all K stacks); :meth:`render` carries it out.
    Needs: a :func:`flow_table` split. Yields: ``frames`` (float32, see :func:`render_stacks`)
    and ``label``.

    Each call yields epoch ``self.epoch`` and counts on: the order and every draw come from
    ``default_rng([seed, epoch])`` (``pipeline.ClipDataset.set_epoch`` chooses the epoch).
    """

    def __init__(self, table: pd.DataFrame, segments: int, length: int, image_size: int, training: bool,
                 seed: int, augment: pipeline.Augment, flip: str = "flow", layout: str = "stack",
                 flippable: np.ndarray | None = None, in_memory: bool = True):
        self.paths = list(table["flow_path"])
        self.labels = table["label_index"].to_numpy(np.int32)
        self.segments, self.length, self.image_size = segments, length, image_size
        self.training, self.seed, self.augment, self.flip, self.layout = training, seed, augment, flip, layout
        self.flippable = flippable
        self.epoch = 0
        self._codes = [cache.load_flow(p, dequantize_to_pixels=False) for p in self.paths] if in_memory else None
        shapes = [np.load(p, mmap_mode="r").shape for p in self.paths]  # reads the .npy headers only
        self.lengths = [shape[0] for shape in shapes]
        self.size = shapes[0][1:3]
        if min(self.size) < image_size:
            raise ValueError(f"the flow cache holds {self.size[0]}x{self.size[1]} fields, smaller than "
                             f"image_size={image_size}")

    def codes(self, i: int) -> np.ndarray:
        """The uint8 flow codes of video ``i`` (from RAM, or read from its cache file)."""
        return self._codes[i] if self._codes is not None else cache.load_flow(self.paths[i], dequantize_to_pixels=False)

    def __call__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self.paths)) if self.training else range(len(self.paths))
        for i in order:
            yield {"frames": self.render(int(i), *self.plan(int(i), rng, self.training)), "label": self.labels[i]}

    def plan(self, video: int, rng: np.random.Generator | None,
             training: bool) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(picks, box, flip)`` of one video: random in training, the deterministic ones else."""
        picks = stack_indices(self.lengths[video], self.segments, self.length, training, rng)
        flippable = self.flippable is None or bool(self.flippable[self.labels[video]])
        box, flip = flow_box(*self.size, self.image_size, training, rng, self.augment, flippable)
        return picks, box, flip

    def render(self, video: int, picks: np.ndarray, box: np.ndarray, flip: bool) -> np.ndarray:
        """The stacks of ``video`` for one plan, through :func:`render_stacks`."""
        return render_stacks(self.codes(video), picks, box, flip, self.image_size, self.flip == "naive", self.layout)

    def centre_stacks(self, video: int) -> np.ndarray:
        """The evaluation stacks of ``video`` (segment centres, whole frame, not mirrored)."""
        return self.render(video, *self.plan(video, None, False))

    def signature(self) -> dict[str, tf.TensorSpec]:
        """The ``output_signature`` of :meth:`tf.data.Dataset.from_generator`."""
        size, k, n = self.image_size, self.segments, self.length
        shape = (k, size, size, 2 * n) if self.layout == "stack" else (k * n, size, size, 2)
        return {"frames": tf.TensorSpec(shape, tf.float32), "label": tf.TensorSpec((), tf.int32)}


# --------------------------------------------------------------------------- the dataset


def make_flow_dataset(table: pd.DataFrame, split: str, segments: int, length: int, image_size: int,
                      batch_size: int, training: bool, seed: int = 0, augment: pipeline.Augment | None = None,
                      flip: str = "flow", layout: str = "stack", in_memory: bool | None = None) -> pipeline.ClipDataset:
    """Batches of flow stacks of one split, for ``training.fit`` and ``evaluation.evaluate``.

    Args:
        table: from :func:`flow_table` (or :func:`prepare_flow`).
        split: ``train``, ``val`` or ``test``.
        segments, length: K stacks of L fields per video.
        image_size: side of the square stacks the model sees.
        batch_size: videos per batch (training drops the last incomplete batch).
        training: random order, starts, crops and flips; else the segment centres, the central
            crop, in table order, cached in memory after the first pass.
        seed: the seed of every random choice.
        augment: the crop and flip of training (default :data:`FLOW_AUGMENT`; classes in its
            ``no_flip`` are never flipped).
        flip: ``flow`` (mirror and negate ``dx``) or ``naive`` (mirror only, for comparison).
        layout: ``stack`` (``(K, S, S, 2L)``) or ``clip`` (``(K * L, S, S, 2)``, for 3-D CNNs).
        in_memory: keep the split's uint8 flow in RAM (None: when under ``pipeline.IN_MEMORY_LIMIT``).

    Returns:
        A ``pipeline.ClipDataset`` with one element per video; its ``dataset`` yields ``(x, y)``,
        ``x`` float32 ``(batch, K, S, S, 2L)`` (or ``(batch, K * L, S, S, 2)``), ``y`` int32.
    """
    if flip not in FLIPS:
        raise ValueError(f"flip={flip!r} is not supported; allowed: {', '.join(FLIPS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not supported; allowed: {', '.join(LAYOUTS)}")
    part = table[table["split"] == split].reset_index(drop=True)
    if part.empty:
        raise ValueError(f"no videos in split {split!r} (the table has {sorted(table['split'].unique())})")
    names = list(table.attrs["class_names"])
    augment = (augment or FLOW_AUGMENT) if training else pipeline.NO_AUGMENT
    if in_memory is None:
        in_memory = pipeline.fits_in_memory(part["flow_path"])
    source = FlowStackSource(part, segments, length, image_size, training, seed, augment, flip, layout,
                             np.array([name not in augment.no_flip for name in names]), in_memory)
    return pipeline.batched(source, part, names, batch_size, training)


def flow_datasets_for(cfg: Config, table: pd.DataFrame, segments: int = SEGMENTS, length: int = STACK_LENGTH,
                      image_size: int | None = None, layout: str = "stack",
                      **training_options: Any) -> dict[str, pipeline.ClipDataset]:
    """The ``train`` / ``val`` / ``test`` flow datasets of ``cfg``'s batch size and seed.

    ``image_size`` defaults to ``cfg.image_size``; ``layout`` goes to all three splits and
    ``training_options`` to the training set's :func:`make_flow_dataset` (``augment``, ``flip``,
    ``in_memory``).
    """
    common = dict(segments=segments, length=length, image_size=image_size or cfg.image_size,
                  batch_size=cfg.batch_size, seed=cfg.seed, layout=layout)
    out = {"train": make_flow_dataset(table, "train", training=True, **common, **training_options)}
    for split in ("val", "test"):
        if split in set(table["split"]):
            out[split] = make_flow_dataset(table, split, training=False, **common)
    return out


def mirrored(data: pipeline.ClipDataset, naive: bool = False) -> pipeline.ClipDataset:
    """``data`` with every stack mirrored by :func:`flip_flow` (``naive``: without negating ``dx``),
    the same videos in the same order: a test-time check of what a model makes of flipped motion."""
    dataset = data.dataset.map(lambda x, *rest: (flip_flow(x, naive), *rest))
    return pipeline.ClipDataset(dataset, data.elements, data.videos, data.class_names, data.batch_size,
                                data.training)


def stack_figure(rows: Sequence[tuple[str, np.ndarray]]) -> plt.Figure:
    """One row per ``(label, stack)``, a stack ``(S, S, 2L)`` with interleaved channels: its L fields
    as colour pictures (``flow.flow_to_rgb``: hue the direction, brightness the speed, one scale for
    the whole figure so that rows compare), and the colour key."""
    length = rows[0][1].shape[-1] // 2
    fields = [stack.reshape(*stack.shape[:2], length, 2).transpose(2, 0, 1, 3) for _, stack in rows]  # (L, S, S, 2)
    top = max(float(flow.magnitude(f).max()) for f in fields)
    width = 0.9 * (length + 1) + 1.2
    fig, axes = plt.subplots(len(rows), length + 1, figsize=(width, 0.95 * len(rows) + 0.3), squeeze=False)
    for (label, _), stack_fields, row in zip(rows, fields, axes):
        for ax, field in zip(row, stack_fields):
            ax.imshow(flow.flow_to_rgb(field, max_magnitude=top), interpolation="nearest")
        row[-1].imshow(flow.color_wheel(63))
        row[0].text(-0.1, 0.5, label, transform=row[0].transAxes, ha="right", va="center", fontsize=7)
        for ax in row:
            ax.set_axis_off()
    for i, ax in enumerate(axes[0][:-1]):
        ax.set_title(f"field {i}", fontsize=7)
    axes[0][-1].set_title("key", fontsize=7)
    fig.suptitle(f"one stack per row; full brightness = {top:.1f} px per frame", fontsize=8)
    fig.subplots_adjust(left=1.2 / width, right=0.995, top=1 - 0.45 / (0.95 * len(rows) + 0.3), bottom=0.01,
                        wspace=0.05, hspace=0.1)
    return fig


# --------------------------------------------------------------------------- cross-modality initialisation


def cross_modality_kernel(rgb_kernel: np.ndarray, channels: int) -> np.ndarray:
    """TSN's cross-modality initialisation of a first convolution for ``channels`` flow channels.

    Args:
        rgb_kernel: ``(kh, kw, 3, filters)`` weights learnt on RGB.
        channels: input channels of the flow network (``2L``).

    Returns:
        ``(kh, kw, channels, filters)``: the mean over R, G, B, the same for every channel.
    """
    rgb_kernel = np.asarray(rgb_kernel)
    if rgb_kernel.ndim != 4 or rgb_kernel.shape[2] != 3:
        raise ValueError(f"expected an RGB kernel (kh, kw, 3, filters), got shape {rgb_kernel.shape}")
    return np.repeat(rgb_kernel.mean(axis=2, keepdims=True), channels, axis=2)


def first_conv(model: keras.Model) -> layers.Layer:
    """The first ``Conv2D`` layer of ``model``: in an image backbone, the one that reads the input's channels."""
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            return layer
    raise ValueError(f"{model.name} has no Conv2D layer")


def cross_modality_clone(rgb: keras.Model, channels: int) -> keras.Model:
    """``rgb`` (an image backbone) rebuilt for ``channels`` input channels, with all its weights
    copied and its first convolution's kernel replaced by :func:`cross_modality_kernel`."""
    size = rgb.input_shape[1:3]
    target = keras.models.clone_model(rgb, input_tensors=keras.Input((*size, channels)))
    first = first_conv(rgb)
    for layer in (layer for layer in rgb.layers if layer.weights):  # weightless layers may be renamed
        weights = layer.get_weights()
        if layer is first:
            weights[0] = cross_modality_kernel(weights[0], channels)
        target.get_layer(layer.name).set_weights(weights)
    return target


def flow_backbone(name: str, image_size: int, channels: int, rgb_weights: str | Path | None = None,
                  **options: Any) -> keras.Model:
    """The registered image backbone ``name`` for ``channels`` flow channels, initialised from RGB.

    Builds the RGB backbone (``models.build_backbone``, loading ``rgb_weights``) and returns its
    :func:`cross_modality_clone`.

    Args:
        name: a ``models.BACKBONES`` name.
        image_size: side of the square stacks.
        channels: ``2L``.
        rgb_weights: a ``.weights.h5`` of the RGB backbone (the course-made weights of
            ``pretraining.pretrain_backbone``), ``"imagenet"``, or None (random RGB weights).
        **options: the backbone's own (``alpha`` for MobileNetV2).

    Returns:
        A ``keras.Model`` from ``(image_size, image_size, channels)`` to one feature vector.
    """
    rgb = models.build_backbone(name, image_size, None if rgb_weights is None else str(rgb_weights), **options)
    return cross_modality_clone(rgb, channels)


# --------------------------------------------------------------------------- models


@models.register_model("flow_cnn")
def flow_cnn(input_shape, num_classes, filters=(24, 48, 96, 192), dropout=0.5):
    """A small 2-D CNN on stacked flow, TSN-style over ``K`` stacks.

    ``input_shape = (K, S, S, 2L)``: flow in pixels (a few per frame: no rescaling, BatchNorm
    after the first convolution sets the scale). The K stacks are folded into the batch; each
    goes through strided 3x3 convolutions (``filters``), global average pooling, dropout and a
    softmax; the consensus averages the K distributions into one per video.
    """
    segments = input_shape[0]
    inputs = keras.Input(input_shape)                                  # (B, K, S, S, 2L)
    x = models.FoldTime()(inputs)                                      # (B*K, S, S, 2L): stacks
    for width in filters:
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=models.BN_MOMENTUM)(x))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)   # a score per stack
    x = models.UnfoldTime(segments)(x)                                 # (B, K, classes)
    outputs = layers.GlobalAveragePooling1D(name="consensus", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="flow_cnn")


@models.register_model("flow_backbone_tsn")
def flow_backbone_tsn(input_shape, num_classes, backbone="mobilenet_v2", rgb_weights=None, dropout=0.5, **options):
    """A registered image backbone on stacked flow (:func:`flow_backbone`, cross-modality
    initialised from ``rgb_weights``), TSN-style over ``K`` stacks like :func:`flow_cnn`.

    ``input_shape = (K, S, S, 2L)``; flow is scaled to the range the RGB weights expect
    (:data:`FLOW_PREPROCESS`). ``options`` go to the backbone (``alpha`` for MobileNetV2).
    """
    segments, size, channels = input_shape[0], input_shape[1], input_shape[-1]
    image_model = flow_backbone(backbone, size, channels, rgb_weights, **options)
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(FLOW_PREPROCESS[backbone])(inputs)
    x = models.FoldTime()(x)                                           # (B*K, S, S, 2L)
    x = image_model(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    x = models.UnfoldTime(segments)(x)
    outputs = layers.GlobalAveragePooling1D(name="consensus", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"{backbone}_flow_tsn")
