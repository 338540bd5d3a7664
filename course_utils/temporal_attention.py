"""Attention over time, multi-scale temporal convolutions, and a clip model that also segments
the person (an auxiliary task).

Heads over per-frame features ``(frames, features)`` (the cached MobileNetV2 features of
notebook 05)::

    features -> dropout -> Dense(dim)                         one token per frame
             -> [multi-scale] Conv1D k=3, dilations 1, 2, 4   (receptive fields 3, 5, 9 frames)
                in parallel, concatenated, Dense(dim)          each branch sees its own time scale
             -> + positions (sinusoidal or learned)            attention alone is blind to order
             -> MultiHeadAttention block(s)                    every frame looks at every frame
             -> AttentionPooling                               a softmax over time, one weight per frame
             -> Dense softmax

:func:`attention_head` builds them all (``scales=()`` is plain attention, ``blocks=0`` a
multi-scale convolution without self-attention); :func:`attention_weights` reads the pooling
weights of each frame back.

The segmenting clip model (:func:`segmenting_clip_model`) reads raw frames with time folded into
the batch: a small strided CNN per frame, a classifier over time, and a decoder that predicts the
person's mask of every frame; :func:`clip_masks` cuts the ground-truth masks exactly as the
pipeline cuts the evaluation clips, :func:`fit_multitask` trains both outputs with a weighted
loss, :func:`mask_iou` scores the masks and :func:`frame_gradcam` shows where (and when) the
classifier looked.
"""
from __future__ import annotations

from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers

from . import pipeline, synthetic, video
from .models import FoldTime, FrameDifference, UnfoldTime, normalization
from .training import EpochTimer, TrainResult, learning_rate_schedule

SCALES = (1, 2, 4)
"""Dilations of the parallel temporal convolutions (kernel 3: 3, 5 and 9 frames)."""


# --------------------------------------------------------------------------- positions and pooling


def sinusoidal_positions(steps: int, dim: int) -> np.ndarray:
    """The Transformer's fixed position code, float32 ``(steps, dim)``.

    Args:
        steps: sequence length.
        dim: feature size (even).

    Returns:
        Row ``t``: ``sin(t / 10000^(2i/dim))`` in columns ``2i`` and ``cos(...)`` in ``2i + 1``.
    """
    if dim % 2:
        raise ValueError(f"dim={dim} must be even")
    rates = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
    angles = np.arange(steps)[:, None] * rates[None, :]
    code = np.zeros((steps, dim), np.float32)
    code[:, 0::2], code[:, 1::2] = np.sin(angles), np.cos(angles)
    return code


@keras.saving.register_keras_serializable(package="course_utils")
class AddPositions(layers.Layer):
    """``x + position code`` on ``(B, T, D)``: ``sinusoidal`` (fixed) or ``learned`` (one vector per frame)."""

    def __init__(self, kind: str = "sinusoidal", **kwargs):
        super().__init__(**kwargs)
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"positions={kind!r} is not supported; allowed: sinusoidal, learned, None")
        self.kind = kind

    def build(self, input_shape):
        steps, dim = int(input_shape[1]), int(input_shape[2])
        if self.kind == "learned":
            self.code = self.add_weight(shape=(steps, dim), initializer=keras.initializers.RandomNormal(stddev=0.02),
                                        name="positions")
        else:
            self.code = keras.ops.convert_to_tensor(sinusoidal_positions(steps, dim))

    def call(self, x):
        return x + keras.ops.cast(self.code, x.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="course_utils")
class AttentionPooling(layers.Layer):
    """A learnt weighted mean over time: ``w = softmax_t(v . tanh(W x_t))``, output ``sum_t w_t x_t``.

    Returns ``(pooled (B, D), weights (B, T))``; the weights sum to one over the frames.
    """

    def __init__(self, units: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="tanh")
        self.score = layers.Dense(1, use_bias=False)

    def call(self, x):
        scores = self.score(self.hidden(x))[..., 0]                       # (B, T)
        weights = keras.ops.softmax(scores, axis=-1)
        return keras.ops.sum(x * weights[..., None], axis=1), weights

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2]), (input_shape[0], input_shape[1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


# --------------------------------------------------------------------------- the heads


def multiscale_block(x, dim: int, scales=SCALES, dropout: float = 0.1):
    """Parallel ``Conv1D(dim, 3)`` branches with dilations ``scales`` (named ``scale_<d>``),
    concatenated and fused by a ``Dense(dim)``, added to ``x`` (residual) and normalised."""
    branches = [layers.Conv1D(dim, 3, dilation_rate=d, padding="same", activation="relu", name=f"scale_{d}")(x)
                for d in scales]
    fused = branches[0] if len(branches) == 1 else layers.Concatenate()(branches)
    fused = layers.Dropout(dropout)(layers.Dense(dim, name="fuse_scales")(fused))
    return layers.LayerNormalization()(x + fused)


def attention_block(x, dim: int, heads: int = 4, dropout: float = 0.1):
    """A Transformer encoder block: self-attention over time and a feed-forward layer, each residual, post-norm."""
    attended = layers.MultiHeadAttention(heads, key_dim=dim // heads, dropout=dropout)(x, x)
    x = layers.LayerNormalization()(x + attended)
    forward = layers.Dense(dim)(layers.Dense(2 * dim, activation="gelu")(x))
    return layers.LayerNormalization()(x + layers.Dropout(dropout)(forward))


def attention_head(input_shape, num_classes, dim: int = 64, heads: int = 4, blocks: int = 1, scales=(),
                   positions: str | None = "sinusoidal", dropout: float = 0.3, name: str = "attention_head") -> keras.Model:
    """A classifier over per-frame features: projection, optional multi-scale convolutions,
    positions, self-attention blocks, attention pooling, softmax.

    Args:
        input_shape: ``(frames, features)``.
        num_classes: size of the softmax.
        dim: token size after the projection.
        heads: attention heads per block.
        blocks: self-attention blocks (0: none).
        scales: dilations of :func:`multiscale_block` (empty: no temporal convolution).
        positions: ``sinusoidal``, ``learned`` or None.
        dropout: on the input features and before the classifier.
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``; its layer ``attention_pooling`` gives the weights over time.
    """
    inputs = keras.Input(input_shape)
    x = layers.Dense(dim, name="project")(layers.Dropout(dropout)(inputs))           # (B, T, dim)
    if scales:
        x = multiscale_block(x, dim, scales)
    if positions:
        x = AddPositions(positions)(x)
    for _ in range(blocks):
        x = attention_block(x, dim, heads)
    pooled, _ = AttentionPooling(name="attention_pooling")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(layers.Dropout(dropout)(pooled))
    return keras.Model(inputs, outputs, name=name)


def attention_weights(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The ``attention_pooling`` weights of ``model`` for features ``x``: ``(clips, frames)``, rows sum to one."""
    reader = keras.Model(model.inputs, model.get_layer("attention_pooling").output[1])
    return np.asarray(reader.predict(x, verbose=0), np.float64)


def branch_contributions(model: keras.Model, scales=SCALES) -> dict[int, float]:
    """The share of the fusing layer's weight magnitude that reads each branch (``scale_<d>``)."""
    kernel = np.abs(model.get_layer("fuse_scales").get_weights()[0])
    parts = np.split(kernel, len(scales), axis=0)
    total = sum(p.sum() for p in parts)
    return {d: float(p.sum() / total) for d, p in zip(scales, parts)}


# --------------------------------------------------------------------------- masks


def clip_masks(table: pd.DataFrame, split: str, clip_frames: int, image_size: int, mask_size: int) -> np.ndarray:
    """The person masks of the evaluation clips of ``split``, cut like the frames.

    An evaluation clip takes the frames ``pipeline.clip_frame_indices`` names, brought to the
    cache's side by ``video.fit_frames``, and their central ``image_size`` square
    (``pipeline.crop_box``). The masks go the same way (as fractions of the person in each
    pixel), then to ``mask_size`` pixels (area), then to True where more than half of a pixel is
    person.

    Args:
        table: a ``pipeline.prepare`` table of a synthetic set (its ``gt`` column and ``attrs["root"]``).
        split: ``train``, ``val`` or ``test``.
        clip_frames, image_size: the clips' shape.
        mask_size: the side of the returned masks.

    Returns:
        bool ``(clips, clip_frames, mask_size, mask_size)`` in the order of ``make_dataset``.
    """
    spec = pipeline.cache_spec(clip_frames, image_size)
    root = Path(table.attrs["root"])
    out = []
    for _, row in table[table["split"] == split].iterrows():
        mask = synthetic.load_ground_truth(root / row["gt"])["mask"].astype(np.float32)
        fitted = video.fit_frames(mask[pipeline.clip_frame_indices(len(mask), clip_frames)], spec.size, spec.fit)
        (top, left, side), _ = pipeline.crop_box(*fitted.shape[1:3], image_size, False, None, pipeline.NO_AUGMENT, False)
        clip = fitted[:, top:top + side, left:left + side]
        out.append(video.resize_clip(clip, mask_size) > 0.5)
    return np.stack(out)


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """The mean intersection over union of boolean masks ``(..., H, W)``, one per frame (a frame
    where both are empty counts as 1)."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    if predicted.shape != truth.shape:
        raise ValueError(f"masks of shapes {predicted.shape} and {truth.shape}")
    inter = (predicted & truth).sum(axis=(-2, -1))
    union = (predicted | truth).sum(axis=(-2, -1))
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


def choose_threshold(probs: np.ndarray, truth: np.ndarray, candidates=np.linspace(0.05, 0.7, 14)) -> float:
    """The probability threshold among ``candidates`` whose masks have the highest :func:`mask_iou`
    with ``truth`` (choose it on the validation split, then apply it to the test split)."""
    scores = [mask_iou(probs > c, truth) for c in candidates]
    return float(candidates[int(np.argmax(scores))])


# --------------------------------------------------------------------------- a clip model that segments


def segmenting_clip_model(input_shape, num_classes, filters=(24, 48, 64), dropout: float = 0.4) -> keras.Model:
    """Frames in; a class and a person mask per frame out.

    A strided 2-D CNN reads every frame (time folded into the batch; the input's frame
    differences as 3 more channels), its last map (layer ``last_conv``) feeds a classifier that
    keeps the order of time (per-frame pooling, a temporal ``Conv1D``, flatten) and a decoder
    (upsampling with a skip from the previous stage) to a mask at half the input's side.

    Args:
        input_shape: ``(frames, side, side, 3)``, 0-255 pixels; ``side`` divisible by 8.
        num_classes: size of the softmax.
        filters: widths of the three strided stages. The first stage is the decoder's skip at the
            mask's side: widening it from 16 to 24 filters (with the rest) lifted the ci run's test
            mask IoU from 0.48 to 0.51 at the same epochs.
        dropout: before the classifier.

    Returns:
        An uncompiled model with outputs ``{"label": (B, classes), "mask": (B, T, side/2, side/2)}``.
    """
    steps = input_shape[0]
    inputs = keras.Input(input_shape)
    x = FoldTime()(FrameDifference()(layers.Rescaling(1 / 255)(inputs)))          # (B*T, S, S, 6)
    skips = []
    for i, width in enumerate(filters):
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False,
                          name="last_conv" if i == len(filters) - 1 else None)(x)
        x = layers.ReLU()(normalization("batch", width)(x))
        skips.append(x)
    per_frame = UnfoldTime(steps)(layers.GlobalAveragePooling2D()(x))              # (B, T, F)
    y = layers.Conv1D(filters[-1], 3, padding="same", activation="relu")(per_frame)
    y = layers.Dropout(dropout)(layers.Flatten()(y))
    label = layers.Dense(num_classes, activation="softmax", dtype="float32", name="label")(y)
    m = x
    for skip, width in zip(skips[-2::-1], filters[-2::-1]):                         # up to the first stage's side
        m = layers.Concatenate()([layers.UpSampling2D()(m), skip])
        m = layers.Conv2D(width, 3, padding="same", activation="relu")(m)
    m = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(m)              # (B*T, S/2, S/2, 1)
    mask = layers.Reshape((steps, *m.shape[1:3]), name="mask")(UnfoldTime(steps)(m))
    return keras.Model(inputs, {"label": label, "mask": mask}, name="segmenting_clip_model")


def bce_dice_loss(y_true, y_pred, smooth: float = 1.0):
    """Per clip: binary cross-entropy plus the soft Dice loss ``1 - 2|A B| / (|A| + |B|)`` over all
    its mask pixels. Dice weighs the (small) person as much as the (large) background, which
    cross-entropy alone does not: with the person on 8 % of the pixels, "nobody anywhere" is a
    deep minimum of cross-entropy."""
    y_true = keras.ops.cast(y_true, y_pred.dtype)
    axes = tuple(range(1, len(y_pred.shape)))
    bce = keras.ops.mean(keras.losses.binary_crossentropy(y_true[..., None], y_pred[..., None]), axis=axes)
    overlap = keras.ops.sum(y_true * y_pred, axis=axes)
    dice = 1 - (2 * overlap + smooth) / (keras.ops.sum(y_true, axis=axes) + keras.ops.sum(y_pred, axis=axes) + smooth)
    return bce + dice


def fit_multitask(model: keras.Model, train: tuple, val: tuple, epochs: int, mask_weight: float = 1.0,
                  batch_size: int = 16, learning_rate: float = 3e-3, weight_decay: float = 1e-2,
                  seed: int = 0) -> TrainResult:
    """Train :func:`segmenting_clip_model` on ``crossentropy(label) + mask_weight * bce_dice_loss(mask)``.

    Args:
        model: uncompiled.
        train, val: ``(clips, integer labels, bool masks)`` arrays.
        epochs, batch_size, learning_rate, weight_decay: AdamW, cosine schedule after a 1-epoch warm-up.
        mask_weight: weight of the mask loss (0: the classifier alone).
        seed: weights and order (``keras.utils.set_random_seed``).

    Returns:
        A :class:`~course_utils.training.TrainResult`; ``model`` keeps its best validation-accuracy epoch.
    """
    keras.utils.set_random_seed(seed)
    classes = int(model.output["label"].shape[-1])
    steps = int(np.ceil(len(train[0]) / batch_size))
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate_schedule(learning_rate, steps * epochs, steps),
                                                   weight_decay=weight_decay),
                  loss={"label": keras.losses.CategoricalCrossentropy(), "mask": bce_dice_loss},
                  loss_weights={"label": 1.0, "mask": float(mask_weight)},
                  metrics={"label": [keras.metrics.CategoricalAccuracy(name="accuracy")]}, jit_compile=False)

    def targets(labels, masks):
        return {"label": keras.ops.one_hot(labels, classes), "mask": np.asarray(masks, np.float32)}

    timer = EpochTimer()
    monitor = "val_label_accuracy"
    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=epochs, restore_best_weights=True)
    history = model.fit(train[0], targets(*train[1:]), batch_size=batch_size, epochs=epochs,
                        validation_data=(val[0], targets(*val[1:])), callbacks=[timer, stop], verbose=0, shuffle=True)
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    return TrainResult(logs, int(np.argmax(logs[monitor])), timer.seconds, Path(), None)


def frame_gradcam(model: keras.Model, clip: np.ndarray, class_index: int, layer: str = "last_conv",
                  output: str = "label") -> np.ndarray:
    """Grad-CAM of one clip over its frames: ``relu(sum_c mean(dy/dA_c) A_c)`` on ``layer``'s map of
    every frame, for the probability of ``class_index``.

    Args:
        model: a model with time folded into the batch before ``layer`` (``(B*T, h, w, C)``).
        clip: ``(T, H, W, 3)``.
        class_index: the class explained.
        layer, output: the map and the (dict) output of ``model``.

    Returns:
        float ``(T, h, w)``, scaled so that the clip's largest value is 1 (zeros if none is positive);
        the channel weights are shared by all the frames, so frames compare.
    """
    reader = keras.Model(model.inputs, [model.get_layer(layer).output, model.output[output]])
    x = tf.convert_to_tensor(np.asarray(clip, np.float32)[None])
    with tf.GradientTape() as tape:
        maps, probs = reader(x, training=False)
        score = probs[0, class_index]
    grads = tape.gradient(score, maps)                                       # (T, h, w, C)
    channel_weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(maps * channel_weights, axis=-1)).numpy()
    return cam / cam.max() if cam.max() > 0 else cam


# --------------------------------------------------------------------------- figures


def frames_with_rows(clips: dict[str, np.ndarray], rows: dict[str, dict[str, np.ndarray]], count: int = 8,
                     cell: float = 1.0) -> plt.Figure:
    """A grid: for each clip (title -> ``(T, H, W, 3)`` frames) a row of ``count`` evenly spaced
    frames, then one row per entry of ``rows[title]`` (name -> ``(T, h, w)`` maps in [0, 1]:
    masks, Grad-CAM), at the same frames."""
    lines = []
    for title, frames in clips.items():
        lines.append((title, frames, None))
        lines += [(f"{title}: {name}", frames, maps) for name, maps in rows.get(title, {}).items()]
    fig, axes = plt.subplots(len(lines), count, figsize=(count * cell, len(lines) * cell * 1.1), squeeze=False)
    for r, (title, frames, maps) in enumerate(lines):
        picks = video.uniform_indices(len(frames), count)
        for c, t in enumerate(picks):
            ax = axes[r, c]
            if maps is None:
                ax.imshow(np.asarray(frames[t], np.uint8))
            else:
                ax.imshow(np.asarray(frames[t], np.uint8), alpha=0.6)
                ax.imshow(np.ma.masked_less_equal(np.asarray(maps[t], float), 0.05), cmap="autumn", vmin=0, vmax=1,
                          alpha=0.8,
                          extent=(-0.5, frames.shape[2] - 0.5, frames.shape[1] - 0.5, -0.5))
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(f"frame {t}", fontsize=8)
    fig.tight_layout()
    return fig


def weight_lines(weights: dict[str, np.ndarray], title: str = "attention over time") -> plt.Figure:
    """Attention-pooling weights of several clips (label -> ``(T,)``) against the frame, with uniform weight dashed."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for label, w in weights.items():
        ax.plot(np.arange(len(w)), w, marker="o", markersize=3, label=label)
    steps = len(next(iter(weights.values())))
    ax.axhline(1 / steps, color="grey", linestyle="--", linewidth=1, label="uniform (1/T)")
    ax.set_xlabel("frame")
    ax.set_ylabel("weight")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig
