"""Training: the runtime (strategy, precision), the optimiser and its schedule, regularisation
by mixing clips, and :func:`fit` with the callbacks every notebook uses.

A notebook trains a model in four lines::

    strategy = training.configure(cfg)                 # precision policy + tf.distribute strategy
    with strategy.scope():
        model = models.build_model("c3d_v2", (T, S, S, 3), len(class_names))
    result = training.fit(model, data["train"], data["val"], run_dir, epochs=cfg.epochs, seed=cfg.seed)

What the course measured decided some defaults: XLA (``jit_compile``) stays off (4-7x slower
on CPU); AdamW with a cosine schedule after a short linear warm-up; the best epoch on the
validation split is restored at the end. The same seed gives the same weights: the pipeline
is seeded, :func:`configure` calls ``runs.seed_everything`` (op determinism) once TensorFlow
is loaded, and mixing draws its randomness from seeded stateless ops.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from .catalog import prepare_dataset
from .config import Config, video_model_settings
from .jobs import atomic_path, atomic_write_text
from .pipeline import ClipDataset, prepare
from .runs import seed_everything, start_notebook


# --------------------------------------------------------------------------- runtime


def choose_strategy(gpus: Sequence[Any] | None = None) -> tf.distribute.Strategy:
    """``MirroredStrategy`` over all GPUs when there are several, else the default strategy.

    Args:
        gpus: the visible GPUs (default: ``tf.config.list_physical_devices("GPU")``).
    """
    gpus = tf.config.list_physical_devices("GPU") if gpus is None else list(gpus)
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def configure(cfg: Config, deterministic: bool = True) -> tf.distribute.Strategy:
    """Seed everything, set the precision policy and choose the strategy for ``cfg``'s profile.

    Mixed precision (``mixed_float16``) is used only when the profile asks for it **and** a GPU
    is present (on a CPU it is slower); the models keep their softmax in float32.

    Args:
        cfg: the resolved notebook config (``seed``, ``mixed_precision``).
        deterministic: TensorFlow op determinism (same seed, same weights).

    Returns:
        The strategy to build and train models under (``with strategy.scope(): ...``).
    """
    seed_everything(cfg.seed, deterministic_ops=deterministic)
    # a notebook builds several small models of the same kind: TensorFlow's notices that it
    # traced a function again are expected there, and would only crowd a reader's cells
    tf.get_logger().setLevel("ERROR")
    gpus = tf.config.list_physical_devices("GPU")
    keras.mixed_precision.set_global_policy("mixed_float16" if cfg.mixed_precision and gpus else "float32")
    return choose_strategy(gpus)


def learning_rate_schedule(learning_rate: float, total_steps: int, warmup_steps: int = 0,
                           final_fraction: float = 0.01) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up from 0 to ``learning_rate`` over ``warmup_steps``, then a cosine decay to
    ``final_fraction * learning_rate`` at ``total_steps``."""
    warmup_steps = min(int(warmup_steps), max(0, int(total_steps) - 1))
    decay_steps = max(1, int(total_steps) - warmup_steps)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=final_fraction)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps, alpha=final_fraction,
                                                  warmup_target=learning_rate, warmup_steps=warmup_steps)


def compile_model(model: keras.Model, steps_per_epoch: int, epochs: int, learning_rate: float = 2e-3,
                  weight_decay: float = 1e-2, warmup_epochs: float = 1.0, label_smoothing: float = 0.0) -> keras.Model:
    """Compile ``model`` with AdamW, :func:`learning_rate_schedule` and categorical cross-entropy.

    Labels are one-hot (:func:`one_hot`), so label smoothing and mixed labels work alike.
    Metrics: ``accuracy`` and, with more than 5 classes, ``top5``.
    """
    total = max(1, steps_per_epoch * epochs)
    schedule = learning_rate_schedule(learning_rate, total, round(warmup_epochs * steps_per_epoch))
    metrics: list[Any] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if model.output_shape[-1] > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5"))
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                  metrics=metrics, jit_compile=False)
    return model


# --------------------------------------------------------------------------- labels and mixing


def one_hot(dataset: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    """``(x, y[, w])`` with integer ``y`` -> the same with one-hot float32 ``y``."""
    return dataset.map(lambda x, y, *w: (x, tf.one_hot(y, num_classes), *w), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True)


def _beta(seed: tf.Tensor, alpha: float, shape: tuple) -> tf.Tensor:
    """Beta(alpha, alpha) samples from two stateless gammas."""
    a = tf.random.stateless_gamma(shape, tf.random.experimental.stateless_fold_in(seed, 1), alpha)
    b = tf.random.stateless_gamma(shape, tf.random.experimental.stateless_fold_in(seed, 2), alpha)
    return a / (a + b)


def mixup(x: tf.Tensor, y: tf.Tensor, seed: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Blend every clip with its partner (the batch reversed) by ``lam ~ Beta(alpha, alpha)``."""
    lam = _beta(seed, alpha, (tf.shape(x)[0],))
    return (lam[:, None, None, None, None] * x + (1 - lam[:, None, None, None, None]) * x[::-1],
            lam[:, None] * y + (1 - lam[:, None]) * y[::-1])


def video_cutmix(x: tf.Tensor, y: tf.Tensor, seed: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Paste a box of the partner clip into every clip: **the same box on every frame**, so the
    pasted region moves as the partner's video does; labels mix by the box's area."""
    batch, height, width = tf.shape(x)[0], tf.shape(x)[2], tf.shape(x)[3]
    lam = _beta(seed, alpha, (batch,))
    cut = tf.sqrt(1.0 - lam)
    centre = tf.random.stateless_uniform((batch, 2), tf.random.experimental.stateless_fold_in(seed, 3))

    def span(size: tf.Tensor, column: int) -> tf.Tensor:
        size_f = tf.cast(size, tf.float32)
        low = tf.clip_by_value(centre[:, column] * size_f - cut * size_f / 2, 0, size_f)
        high = tf.clip_by_value(centre[:, column] * size_f + cut * size_f / 2, 0, size_f)
        pos = tf.cast(tf.range(size), tf.float32)[None, :]
        return tf.cast((pos >= tf.round(low)[:, None]) & (pos < tf.round(high)[:, None]), tf.float32)

    rows, cols = span(height, 0), span(width, 1)
    mask = rows[:, :, None] * cols[:, None, :]                                   # (B, H, W)
    area = tf.reduce_mean(mask, axis=[1, 2])
    mask = mask[:, None, :, :, None]                                             # every frame, every channel
    return x * (1 - mask) + x[::-1] * mask, (1 - area)[:, None] * y + area[:, None] * y[::-1]


def mix_batches(dataset: tf.data.Dataset, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0,
                seed: int = 0) -> tf.data.Dataset:
    """Mixup and/or video cutmix on batches of ``(x, y_one_hot[, w])`` (with both: one of the two
    per batch, by a fair coin). Sample weights mix like the labels. Different draws every epoch,
    the same under the same ``seed``."""
    if mixup_alpha <= 0 and cutmix_alpha <= 0:
        return dataset
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def mix(batch: tuple, draw: tf.Tensor) -> tuple:
        x, y, *w = batch
        key = tf.stack([draw, tf.constant(seed, tf.int64)])
        if mixup_alpha > 0 and cutmix_alpha > 0:
            coin = tf.random.stateless_uniform((), tf.random.experimental.stateless_fold_in(key, 9)) < 0.5
            x, y = tf.cond(coin, lambda: mixup(x, y, key, mixup_alpha), lambda: video_cutmix(x, y, key, cutmix_alpha))
        elif mixup_alpha > 0:
            x, y = mixup(x, y, key, mixup_alpha)
        else:
            x, y = video_cutmix(x, y, key, cutmix_alpha)
        return (x, y, 0.5 * (w[0] + w[0][::-1])) if w else (x, y)

    return tf.data.Dataset.zip(dataset, seeds).map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# --------------------------------------------------------------------------- fit


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch (training and validation), in ``self.seconds``."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(round(time.perf_counter() - self._start, 3))


class DataEpoch(keras.callbacks.Callback):
    """Tell the training set which epoch starts, so epoch ``k`` always sees the same clips and
    augmentations: after a resume, and when one dataset object serves two runs."""

    def __init__(self, data: ClipDataset):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` did: the per-epoch ``history``, the restored ``best_epoch`` (0-based),
    the seconds of each epoch run now, the run folder and the best model's file."""

    history: dict[str, list[float]]
    best_epoch: int
    epoch_seconds: list[float]
    run_dir: Path
    checkpoint: Path | None

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean(self.epoch_seconds)) if self.epoch_seconds else 0.0


def fit(model: keras.Model, train: ClipDataset, val: ClipDataset | None, run_dir: str | Path, epochs: int,
        seed: int = 0, learning_rate: float = 2e-3, weight_decay: float = 1e-2, warmup_epochs: float = 1.0,
        label_smoothing: float = 0.0, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0,
        patience: int | None = None, tensorboard: bool = False, resume: bool = True, verbose: int = 0,
        callbacks: Sequence[keras.callbacks.Callback] = (), strategy: tf.distribute.Strategy | None = None) -> TrainResult:
    """Compile and train ``model``, keeping the best epoch on ``val``.

    Args:
        model: built (under ``strategy.scope()`` when a strategy is used), not compiled.
        train: the training :class:`~course_utils.pipeline.ClipDataset`.
        val: the validation set (None: no model selection, the last epoch is kept).
        run_dir: the run's folder under ``artifacts_dir``: ``best.keras`` (the best model),
            ``log.csv`` (one row per epoch), ``history.json``, ``backup/`` while training
            (``resume``) and ``tensorboard/`` (``tensorboard=True``).
        epochs: the number of epochs (the schedule decays over all of them).
        seed: seeds the mixing (the pipeline and the weights are seeded by :func:`configure`).
        learning_rate, weight_decay, warmup_epochs, label_smoothing: see :func:`compile_model`.
        mixup_alpha, cutmix_alpha: see :func:`mix_batches` (0: off).
        patience: stop after this many epochs without a better validation accuracy (None: never).
        tensorboard: also write TensorBoard logs.
        resume: continue an interrupted run from ``run_dir/backup`` (Keras ``BackupAndRestore``:
            the weights, the optimiser and the epoch); the backup is deleted when training ends.
        verbose: Keras' progress output (0: silent, 2: one line per epoch).
        callbacks: more Keras callbacks, run after the course's.
        strategy: the strategy the model was built under (default: the model's own, the one
            current when it was built: compiling under another one fails at the first step).

    Returns:
        A :class:`TrainResult`; ``model`` holds the weights of the best validation epoch.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    num_classes = int(model.output_shape[-1])
    strategy = strategy or model.distribute_strategy
    with strategy.scope():
        compile_model(model, train.steps, epochs, learning_rate, weight_decay, warmup_epochs, label_smoothing)
    train_ds = mix_batches(one_hot(train.dataset, num_classes), mixup_alpha, cutmix_alpha, seed)
    val_ds = one_hot(val.dataset, num_classes) if val is not None else None
    monitor = "val_accuracy" if val is not None else "accuracy"
    checkpoint = run_dir / "best.keras"
    timer = EpochTimer()
    course_callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor=monitor, mode="max", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=patience or epochs,
                                      restore_best_weights=True),
        keras.callbacks.CSVLogger(run_dir / "log.csv", append=resume and (run_dir / "backup").exists()),
        timer,
        DataEpoch(train),
    ]
    if resume:
        course_callbacks.insert(0, keras.callbacks.BackupAndRestore(run_dir / "backup"))
    if tensorboard:
        course_callbacks.append(keras.callbacks.TensorBoard(run_dir / "tensorboard"))
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=course_callbacks + list(callbacks),
                        verbose=verbose, shuffle=False)  # the pipeline orders (and shuffles) the data itself
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    atomic_write_text(run_dir / "history.json", json.dumps(logs, indent=1) + "\n")
    scores = logs.get(monitor, [])
    best = int(np.argmax(scores)) if scores else 0
    return TrainResult(logs, best, timer.seconds, run_dir, checkpoint if checkpoint.is_file() else None)


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` to ``path`` (``.keras``) atomically: the file is whole or absent."""
    path = Path(path)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def load_model(path: str | Path) -> keras.Model:
    """A model saved by :func:`fit` (``best.keras``), with the course's custom layers."""
    from . import models  # noqa: F401  (registers FoldTime, UnfoldTime, FrameDifference)

    return keras.models.load_model(path)


# --------------------------------------------------------------------------- a notebook that trains on clips


@dataclasses.dataclass
class ClipNotebook:
    """What a notebook that trains clip models starts from (:func:`start_clip_notebook`)."""

    cfg: Config
    watch: Any
    strategy: tf.distribute.Strategy
    settings: dict[str, Any]
    table: Any
    class_names: list[str]
    clip_shape: tuple[int, int, int, int]
    runs_dir: Path


def start_clip_notebook(profile: str, dataset: str, data_dir: str | Path | None, artifacts_dir: str | Path | None,
                        seed: int, workers: int = 2, **given: Any) -> ClipNotebook:
    """The first cell of notebooks 04-05: resolve the parameters with the profile's clip-model
    settings (``config.video_model_settings``; ``given`` overrides them unless None), seed and
    configure TensorFlow (:func:`configure`), prepare the dataset and its frame cache."""
    settings = video_model_settings(profile, **given)
    cfg, watch = start_notebook(profile, dataset, data_dir, artifacts_dir, seed, **settings)
    strategy = configure(cfg)
    table = prepare(cfg, prepare_dataset(cfg, workers=workers), workers=workers)
    return ClipNotebook(cfg, watch, strategy, settings, table, list(table.attrs["class_names"]),
                        (cfg.clip_frames, cfg.image_size, cfg.image_size, 3), cfg.artifacts_dir / "runs")


# --------------------------------------------------------------------------- the precomputed-features path


def clip_features(model: keras.Model, data: ClipDataset, path: str | Path, layer: str = "frame_features") -> np.ndarray:
    """The output of ``model``'s ``layer`` (for ``models.mobilenet_lstm``: the frozen backbone's
    per-frame features, ``(clips, frames, features)``) for every clip of ``data``, computed once and cached.

    The backbone runs once per clip instead of once per clip *and epoch*: a head then trains on the
    cached features in seconds (the keras-io CNN-RNN recipe). ``data`` should be an evaluation set
    (fixed clips, no augmentation), since the features stay the same for every epoch.

    Args:
        model: a model with a layer named ``layer``.
        data: the clips.
        path: the ``.npy`` cache; read back when it exists (name it after the weights and the clips).
        layer: the layer whose output is wanted.

    Returns:
        float32 features, one row per clip of ``data`` in its order.
    """
    path = Path(path)
    if path.is_file():
        return np.load(path)
    extractor = keras.Model(model.inputs, model.get_layer(layer).output)
    features = extractor.predict(data.dataset, verbose=0).astype(np.float32)
    with atomic_path(path) as tmp:
        np.save(tmp, features)
    return features


def fit_arrays(model: keras.Model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
               epochs: int, batch_size: int = 32, learning_rate: float = 3e-3, weight_decay: float = 1e-2,
               seed: int = 0) -> TrainResult:
    """Train ``model`` on arrays in memory (cached features), keeping its best validation epoch.

    Args:
        model: uncompiled; compiled here as :func:`compile_model` does.
        train, val: ``(x, integer labels)``.
        epochs, batch_size, learning_rate, weight_decay: the optimisation.
        seed: the order of the examples (``keras.utils.set_random_seed``).

    Returns:
        A :class:`TrainResult` without a run folder.
    """
    keras.utils.set_random_seed(seed)
    num_classes = int(model.output_shape[-1])
    with model.distribute_strategy.scope():  # the strategy the model was built under
        compile_model(model, int(np.ceil(len(train[0]) / batch_size)), epochs, learning_rate, weight_decay)
    timer = EpochTimer()
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True)
    history = model.fit(train[0], keras.ops.one_hot(train[1], num_classes), batch_size=batch_size, epochs=epochs,
                        validation_data=(val[0], keras.ops.one_hot(val[1], num_classes)), callbacks=[timer, stop],
                        verbose=0, shuffle=True)
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    return TrainResult(logs, int(np.argmax(logs["val_accuracy"])), timer.seconds, Path(), None)
