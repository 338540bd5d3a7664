"""Video classifiers, small enough to read: a registry of Keras functional-API builders.

Every builder takes ``input_shape = (frames, height, width, 3)`` (float pixels in 0-255, as the
``pipeline`` yields them: the model rescales, so an exported model takes raw pixels) and
``num_classes``, and returns an uncompiled ``keras.Model`` ending in a float32 softmax.

* ``c3d_v1``: the plain C3D recipe: a stack of ``Conv3D`` layers, wide, a big dense layer,
  little regularisation. Many parameters.
* ``c3d_v2``: compact (2+1)D (R(2+1)D, as in the TensorFlow video tutorial): a spatial
  ``Conv2D`` on the frames with time folded into the batch, then a temporal ``Conv2D((3, 1))``
  over each pixel's time series; normalisation that trains in short runs, dropout, a
  frame-difference input channel, and a head that **keeps the time axis**. Few parameters.

What the CPU measurements of the course decided (design sections 5b and 5c):

* downsample with strides, never ``MaxPooling3D`` (slow backward pass on CPU, and a Flex op
  no TFLite interpreter here runs);
* fold time into the batch (:class:`FoldTime` / :class:`UnfoldTime`) instead of wrapping
  layers in ``TimeDistributed`` (which traces the inner model once per frame);
* BatchNorm with momentum 0.9 (the default 0.99 lags so far behind in a short run that
  inference sits at chance) or GroupNormalization;
* global temporal pooling throws away the order of the frames: "sit down" and "stand up" are
  the same frames in reverse, so ``c3d_v2`` pools space only and flattens over time.

All layers convert to TFLite builtins (``Conv3D`` stays float in INT8 conversion).
Add a model with ``@register_model("name")``; :func:`build_model` builds one by name and
:func:`model_source` shows its code in a notebook.
"""
from __future__ import annotations

import inspect
from typing import Callable

import keras
from keras import layers

from .jobs import registrar

Builder = Callable[..., keras.Model]
MODELS: dict[str, Builder] = {}
BN_MOMENTUM = 0.9


register_model = registrar(MODELS, "model")
"""``@register_model("name")`` adds a builder to :data:`MODELS`."""


def build_model(name: str, input_shape: tuple[int, int, int, int], num_classes: int, **options) -> keras.Model:
    """Build the registered model ``name``.

    Args:
        name: a key of :data:`MODELS`.
        input_shape: ``(frames, height, width, 3)``.
        num_classes: size of the softmax.
        **options: the builder's own keyword arguments (see its docstring).

    Returns:
        An uncompiled ``keras.Model`` named ``name``.
    """
    if name not in MODELS:
        raise ValueError(f"model={name!r} is not registered; allowed: {', '.join(MODELS)}")
    return MODELS[name](tuple(input_shape), num_classes, **options)


def model_source(name: str) -> str:
    """The source code of the builder of ``name`` (for a notebook to show)."""
    return inspect.getsource(MODELS[name])


# --------------------------------------------------------------------------- layers for time


@keras.saving.register_keras_serializable(package="course_utils")
class FoldTime(layers.Layer):
    """``(B, T, ...)`` -> ``(B * T, ...)``: every frame becomes a sample, so 2-D layers (and
    2-D backbones) see frames; :class:`UnfoldTime` puts the time axis back."""

    def call(self, x):
        return keras.ops.reshape(x, (-1, *x.shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        return (None if batch is None or steps is None else batch * steps, *input_shape[2:])


@keras.saving.register_keras_serializable(package="course_utils")
class UnfoldTime(layers.Layer):
    """``(B * T, ...)`` -> ``(B, T, ...)`` for a known number of frames ``T``."""

    def __init__(self, frames: int, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def call(self, x):
        return keras.ops.reshape(x, (-1, self.frames, *x.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (None, self.frames, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@keras.saving.register_keras_serializable(package="course_utils")
class FrameDifference(layers.Layer):
    """Append ``x[t] - x[t-1]`` (zero for the first frame) to the channels of ``(B, T, H, W, C)``.

    The difference of consecutive frames is where something moved; signed, so the direction
    of change in time is in it.
    """

    def call(self, x):
        difference = x[:, 1:] - x[:, :-1]
        difference = keras.ops.concatenate([keras.ops.zeros_like(x[:, :1]), difference], axis=1)
        return keras.ops.concatenate([x, difference], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])


def normalization(kind: str, filters: int) -> layers.Layer:
    """``batch`` (BatchNorm, momentum 0.9) or ``group`` (GroupNormalization, up to 8 groups)."""
    if kind == "batch":
        return layers.BatchNormalization(momentum=BN_MOMENTUM)
    if kind == "group":
        return layers.GroupNormalization(groups=next(g for g in (8, 4, 2, 1) if filters % g == 0))
    raise ValueError(f"norm={kind!r} is not supported; allowed: batch, group")


# --------------------------------------------------------------------------- 3D CNNs (notebook 04)


@register_model("c3d_v1")
def c3d_v1(input_shape, num_classes, filters=(32, 64, 128, 128), dense=512, dropout=0.0):
    """C3D-style: ``Conv3D`` 3x3x3 layers, each strided, then a wide dense layer.

    The first layer keeps the frame rate (stride 1 in time, 2 in space), the others halve
    all three axes. ``filters`` and ``dense`` set the width; ``dropout`` (before the classifier) is off by default.
    """
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    for i, width in enumerate(filters):
        strides = (1, 2, 2) if i == 0 else (2, 2, 2)
        x = layers.Conv3D(width, 3, strides=strides, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="c3d_v1")


def conv2plus1d(x, filters, spatial_stride=2, temporal_stride=1, norm="batch"):
    """One (2+1)D block on ``(B, T, H, W, C)``: a 3x3 ``Conv2D`` on every frame, then a
    ``Conv2D((3, 1))`` along time for every pixel, each followed by normalisation and ReLU."""
    steps = x.shape[1]
    x = FoldTime()(x)                                              # (B*T, H, W, C): frames
    x = layers.Conv2D(filters, 3, strides=spatial_stride, padding="same", use_bias=False)(x)
    x = layers.ReLU()(normalization(norm, filters)(x))
    x = UnfoldTime(steps)(x)                                       # (B, T, H', W', F)
    height, width = x.shape[2], x.shape[3]
    x = layers.Reshape((steps, height * width, filters))(x)        # one column per pixel
    x = layers.Conv2D(filters, (3, 1), strides=(temporal_stride, 1), padding="same", use_bias=False)(x)
    x = layers.ReLU()(normalization(norm, filters)(x))
    return layers.Reshape((-1, height, width, filters))(x)         # (B, T', H', W', F)


@register_model("c3d_v2")
def c3d_v2(input_shape, num_classes, filters=(24, 48, 96), temporal_strides=(1, 2, 2),
           frame_difference=True, norm="batch", dropout=0.5, head="flatten", grid=2):
    """Compact (2+1)D network: strided blocks, then a head that keeps the order of time.

    ``frame_difference`` adds the frame-to-frame change as 3 more input channels. ``head``:
    ``flatten`` pools each frame's feature map over space only (to a ``grid`` x ``grid`` of
    averages: 1 is global pooling, 2 keeps top/bottom and left/right) and flattens over time,
    so the classifier sees when (and roughly where) each feature fired; ``average`` also
    averages over time (the usual global pooling, which cannot tell an action from its
    reverse: kept for the comparison).
    """
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    if frame_difference:
        x = FrameDifference()(x)
    for width, stride in zip(filters, temporal_strides):
        x = conv2plus1d(x, width, spatial_stride=2, temporal_stride=stride, norm=norm)
    steps, side, width = x.shape[1], x.shape[2], x.shape[-1]
    x = layers.AveragePooling2D(side // grid)(FoldTime()(x))                # space pooled to grid x grid
    x = UnfoldTime(steps)(layers.Reshape((grid * grid * width,))(x))        # (B, T', grid*grid*F)
    if head == "flatten":
        x = layers.Flatten()(x)
    elif head == "average":
        x = layers.GlobalAveragePooling1D()(x)
    else:
        raise ValueError(f"head={head!r} is not supported; allowed: flatten, average")
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="c3d_v2")


# --------------------------------------------------------------------------- MobileNetV2 + (Bi)LSTM (notebook 05)
# The per-frame backbone and its recurrent heads go here, registered like the models above:
# the backbone runs on time folded into the batch (FoldTime -> MobileNetV2 -> UnfoldTime, never
# TimeDistributed), LSTM / Bidirectional(LSTM) with unroll=True (TFLite builtins), BatchNorm
# momentum 0.9 in the backbone, and ``weights`` = "imagenet" | a path to a .weights.h5 | None.
