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
from pathlib import Path
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
    """Append ``x[t] - x[t-1]`` (zero for the first frame) to the channels of ``(B, T, H, W, C)``,
    or, with ``keep_frames=False``, give the difference alone (TSN's "RGB difference" input).

    The difference of consecutive frames is where something moved; signed, so the direction
    of change in time is in it. A static background cancels out.
    """

    def __init__(self, keep_frames: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.keep_frames = bool(keep_frames)

    def call(self, x):
        difference = x[:, 1:] - x[:, :-1]
        difference = keras.ops.concatenate([keras.ops.zeros_like(x[:, :1]), difference], axis=1)
        return keras.ops.concatenate([x, difference], axis=-1) if self.keep_frames else difference

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1]) if self.keep_frames else tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "keep_frames": self.keep_frames}


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


# --------------------------------------------------------------------------- per-frame backbones (05, 06)

BACKBONES: dict[str, Callable[..., keras.Model]] = {}
register_backbone = registrar(BACKBONES, "backbone")
"""``@register_backbone("name")`` adds an image backbone to :data:`BACKBONES`."""


@register_backbone("mobilenet_v2")
def mobilenet_v2(image_size: int, weights: str | None = None, alpha: float = 0.35) -> keras.Model:
    """``keras.applications.MobileNetV2`` without its classifier, globally average-pooled.

    ``alpha`` is the width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4).
    Takes pixels already scaled to [-1, 1] (:data:`PREPROCESS`)."""
    return keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), alpha=alpha,
                                          include_top=False, weights=weights, pooling="avg")


@register_backbone("resnet50")
def resnet50(image_size: int, weights: str | None = None) -> keras.Model:
    """``keras.applications.ResNet50`` without its classifier, globally average-pooled
    (takes Caffe-style BGR pixels with the ImageNet mean removed: :data:`PREPROCESS`)."""
    return keras.applications.ResNet50(input_shape=(image_size, image_size, 3), include_top=False,
                                       weights=weights, pooling="avg")


PREPROCESS: dict[str, Callable[[], list[layers.Layer]]] = {
    "mobilenet_v2": lambda: [layers.Rescaling(1 / 127.5, offset=-1)],
    "resnet50": lambda: [CaffePreprocess()],
}
"""The layers that turn 0-255 RGB pixels into what each backbone's ImageNet weights expect."""


@keras.saving.register_keras_serializable(package="course_utils")
class CaffePreprocess(layers.Layer):
    """RGB 0-255 -> BGR with the ImageNet channel means subtracted (ResNet-50's preprocessing)."""

    MEAN_BGR = (103.939, 116.779, 123.68)

    def call(self, x):
        return x[..., ::-1] - keras.ops.convert_to_tensor(self.MEAN_BGR, dtype=x.dtype)


def build_backbone(name: str, image_size: int, weights: str | None = None, **options) -> keras.Model:
    """The registered image backbone ``name`` (see :data:`BACKBONES`), BatchNorm momentum 0.9.

    Args:
        name: ``mobilenet_v2`` or ``resnet50`` (or another registered one).
        image_size: side of the square frames.
        weights: ``"imagenet"`` (Keras downloads them once into ``~/.keras/models``), the path of
            a ``.weights.h5`` file saved from the same backbone (the course-made pretrained
            weights of ``pretraining``), or None (random initialisation).
        **options: the backbone's own (``alpha`` for MobileNetV2).

    Returns:
        A ``keras.Model`` from ``(image_size, image_size, 3)`` preprocessed pixels to one feature
        vector per image.
    """
    if name not in BACKBONES:
        raise ValueError(f"backbone={name!r} is not registered; allowed: {', '.join(BACKBONES)}")
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise FileNotFoundError(f"weights file {weights} does not exist (make it with pretraining.pretrain_backbone)")
    backbone = BACKBONES[name](image_size, weights=None if weights is None else str(weights), **options)
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return backbone


# --------------------------------------------------------------------------- MobileNetV2 + (Bi)LSTM (notebook 05)


@register_model("sequence_head")
def sequence_head(input_shape, num_classes, head="bilstm", units=64, dropout=0.3):
    """A classifier over a sequence of per-frame features ``(frames, features)``.

    ``head``: ``lstm`` (the last state of an LSTM that reads the frames in order), ``bilstm``
    (both directions, concatenated) or ``average`` (the mean over time: blind to order). The
    LSTMs are unrolled (``unroll=True``): a short fixed sequence, and the only form that
    converts to builtin TFLite ops. Trains on cached features in seconds (``features`` path)
    and is the head of :func:`mobilenet_lstm`.
    """
    inputs = keras.Input(input_shape)
    x = layers.Dropout(dropout)(inputs)
    if head == "lstm":
        x = layers.LSTM(units, unroll=True)(x)
    elif head == "bilstm":
        x = layers.Bidirectional(layers.LSTM(units, unroll=True))(x)
    elif head == "average":
        x = layers.GlobalAveragePooling1D()(x)
    else:
        raise ValueError(f"head={head!r} is not supported; allowed: lstm, bilstm, average")
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="head")


@register_model("mobilenet_lstm")
def mobilenet_lstm(input_shape, num_classes, alpha=0.35, weights=None, train_backbone=True, head="bilstm",
                   units=64, dropout=0.3, backbone="mobilenet_v2", frames="rgb"):
    """A per-frame image backbone, then a :func:`sequence_head` over time.

    The backbone sees every frame as a separate image: time is folded into the batch
    (:class:`FoldTime`, backbone, :class:`UnfoldTime`), never ``TimeDistributed``.
    ``frames``: what it sees of each frame: ``rgb`` (the picture) or ``difference`` (the picture
    minus the previous one, :class:`FrameDifference`: where and which way something moved).
    With ``weights`` (pretrained) and ``rgb`` frames the backbone's BatchNorm layers are frozen,
    so they run in inference mode and keep the statistics they learnt even while the other
    weights are fine-tuned (``train_backbone=True``). (Calling the backbone with
    ``training=False`` is not enough in Keras 3: ``fit`` passes ``training=True`` down to every
    layer.) From scratch, or on differences (inputs unlike the pictures the statistics come
    from: frozen, they left fine-tuning at chance), BatchNorm learns the statistics of these inputs.
    """
    if frames not in ("rgb", "difference"):
        raise ValueError(f"frames={frames!r} is not supported; allowed: rgb, difference")
    options = {"alpha": alpha} if backbone == "mobilenet_v2" else {}
    image_model = build_backbone(backbone, input_shape[1], weights, **options)
    if weights is not None and frames == "rgb":
        set_trainable(image_model, train_backbone)
    else:
        image_model.trainable = train_backbone
    inputs = keras.Input(input_shape)
    x = frame_features(inputs, image_model, backbone, difference=frames == "difference")  # (B, T, features)
    outputs = sequence_head(x.shape[1:], num_classes, head=head, units=units, dropout=dropout)(x)
    return keras.Model(inputs, outputs, name=f"{backbone}_{head}")


# --------------------------------------------------------------------------- TSN spatial stream (notebook 06)

TRUNK_ENDS = {"resnet50": "conv4_block6_out", "mobilenet_v2": "block_13_expand_relu"}
"""Where each backbone's frozen trunk ends and its last stage (the part fine-tuned) begins."""


def split_backbone(backbone: keras.Model, name: str) -> tuple[keras.Model, keras.Model]:
    """``(trunk, last_stage)`` of a :func:`build_backbone` model, sharing its layers and weights.

    ``last_stage(trunk(x)) == backbone(x)``. With the trunk frozen (BatchNorm in inference mode)
    its output for a frame never changes, so it can be computed once and cached, and only the last
    stage and the classifier train: the cost of fine-tuning the last stage, not the whole network.
    """
    middle = backbone.get_layer(TRUNK_ENDS[name]).output
    return (keras.Model(backbone.input, middle, name=f"{name}_trunk"),
            keras.Model(middle, backbone.output, name=f"{name}_last_stage"))


def set_trainable(stage: keras.Model, trainable: bool) -> None:
    """Freeze (False) or unfreeze (True) ``stage``; its BatchNorm layers stay frozen either way, so
    they run in inference mode with the statistics they were pretrained with (``fit`` would
    otherwise switch them to training mode and update them from each small batch)."""
    stage.trainable = trainable
    for layer in stage.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def classifier_head(features: int, num_classes: int, dropout: float = 0.5) -> keras.Model:
    """Class *logits* from a feature vector: dropout, then one dense layer."""
    inputs = keras.Input((features,))
    return keras.Model(inputs, layers.Dense(num_classes, name="logits", dtype="float32")(layers.Dropout(dropout)(inputs)),
                       name="classifier")


def frame_classifier(stage: keras.Model, head: keras.Model) -> keras.Model:
    """Class logits of one frame (or its trunk features): ``stage`` (a backbone or its last stage),
    then ``head`` (:func:`classifier_head`)."""
    inputs = keras.Input(stage.input_shape[1:])
    return keras.Model(inputs, head(stage(inputs)), name="frame_classifier")


def frame_features(clips, image_model: keras.Model, backbone: str, difference: bool = False):
    """``image_model`` on every frame of ``clips`` ``(B, T, S, S, 3)`` of 0-255 pixels: the backbone's
    preprocessing (``difference``: then each frame minus the one before), time folded into the
    batch, the model, time unfolded, in a layer named ``frame_features`` (what
    ``training.clip_features`` caches). Returns ``(B, T, ...)``."""
    x = clips
    for layer in PREPROCESS[backbone]():
        x = layer(x)
    if difference:
        x = FrameDifference(keep_frames=False)(x)
    x = image_model(FoldTime()(x))                                      # (B*T, S, S, 3): frames
    return UnfoldTime(clips.shape[1], name="frame_features")(x)


def per_frame(image_model: keras.Model, input_shape: tuple[int, ...], backbone: str) -> keras.Model:
    """The model of :func:`frame_features`: clips ``input_shape = (T, S, S, 3)`` -> ``(T, ...)``."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, frame_features(inputs, image_model, backbone), name=f"{backbone}_per_frame")


@register_model("tsn")
def tsn(input_shape, num_classes, frame_model=None):
    """Temporal segment network consensus: one score per frame (``frame_model``, e.g.
    :func:`frame_classifier`), averaged over the ``input_shape[0]`` frames (segments), then softmax.

    The same ``frame_model`` serves any number of frames: train on a few segments per video, test
    on more.
    """
    if frame_model is None:
        raise ValueError("tsn needs frame_model=, a model from one frame (or its features) to class logits")
    inputs = keras.Input(input_shape)
    x = FoldTime()(inputs)                                              # (B*T, ...): frames
    x = UnfoldTime(input_shape[0])(frame_model(x))                      # (B, T, classes)
    x = layers.GlobalAveragePooling1D(name="consensus", dtype="float32")(x)              # the segments' average
    return keras.Model(inputs, layers.Softmax(dtype="float32")(x), name="tsn")


def count_trainable(model: keras.Model) -> int:
    """The number of parameters ``fit`` would update."""
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))
