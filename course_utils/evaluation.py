"""Evaluation with scikit-learn: what a trained video model gets right, how sure we can be, and
whether it uses time at all.

* :func:`classification_metrics`: accuracy, top-5, macro precision / recall / F1;
  :func:`per_class_report` and :func:`confusion_figure` (matplotlib) show where it fails;
* clip level vs video level: a test set with several clips per video
  (``pipeline.make_dataset(..., clips_per_video=3)``) is scored per clip and, averaging the
  clips' probabilities, per video (:func:`video_scores`);
* :func:`accuracy_interval`: a Wilson interval, because on 112 test clips one clip moves the
  accuracy by 0.9 points;
* :func:`pairwise_accuracy`: among the test clips of two classes, how often the true class
  gets the higher probability of the two (the motion-only pairs of the synthetic set);
* the two checks that a model uses time: the same test clips with their frames shuffled and
  with time reversed (:func:`predict` ``frame_order``). A model of appearance alone scores the
  same; a model of motion loses accuracy, and on "sit down" / "stand up", which are each
  other's reverse, a reversed clip should be read as the other class;
* :func:`count_params` and :func:`time_inference` (measured: it belongs in a results JSON's
  ``extra``, never in ``metrics``).

:func:`evaluate` runs all of it and returns ``metrics`` (fixed by the seed) and ``extra``.
"""
from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix,
                             precision_recall_fscore_support, top_k_accuracy_score)
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from .config import Config
from .fusion import save_scores
from .pipeline import ClipDataset

FRAME_ORDERS = ("original", "shuffled", "reversed")


# --------------------------------------------------------------------------- predictions


def shuffled_order(frames: int, seed: int = 0) -> np.ndarray:
    """A fixed permutation of ``frames`` indices that moves every frame it can (never the identity)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(frames)
    while frames > 1 and np.any(order == np.arange(frames)):
        order = rng.permutation(frames)
    return order


@dataclasses.dataclass
class Arrays:
    """Clips (or per-frame features of clips, ``(clips, frames, ...)``) already in memory, one per
    video, with their integer ``labels``: what :func:`evaluate` scores for a head trained on
    cached features. ``videos``: their manifest paths (for :func:`save_stream_scores`)."""

    x: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    videos: Sequence[str] | None = None


def predict(model: keras.Model, data: ClipDataset | Arrays, frame_order: str = "original", seed: int = 0) -> np.ndarray:
    """Class probabilities ``(clips, classes)`` of every clip of ``data``, in its order.

    Args:
        model: a trained classifier ending in a softmax.
        data: an evaluation :class:`~course_utils.pipeline.ClipDataset`, or :class:`Arrays`
            (time is axis 1 of ``x``).
        frame_order: ``original``; ``shuffled`` (every clip's frames in one fixed random order,
            :func:`shuffled_order` of ``seed``); ``reversed`` (time played backwards).
    """
    if frame_order not in FRAME_ORDERS:
        raise ValueError(f"frame_order={frame_order!r} is not supported; allowed: {', '.join(FRAME_ORDERS)}")
    if isinstance(data, Arrays):
        order = {"original": slice(None), "reversed": slice(None, None, -1),
                 "shuffled": shuffled_order(data.x.shape[1], seed)}[frame_order]
        return np.asarray(model.predict(data.x[:, order], verbose=0), dtype=np.float64)
    order = tf.constant(shuffled_order(data.dataset.element_spec[0].shape[1], seed))

    @tf.autograph.experimental.do_not_convert  # plain tensor code: nothing for AutoGraph to convert
    def frames_only(x, *rest):
        if frame_order == "reversed":
            return tf.reverse(x, axis=[1])
        return tf.gather(x, order, axis=1) if frame_order == "shuffled" else x

    inputs = data.dataset.map(frames_only)
    return np.asarray(model.predict(inputs, verbose=0), dtype=np.float64)


def video_scores(probs: np.ndarray, data: ClipDataset | Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Average the probabilities of each video's clips: ``(video_probs, video_labels)``."""
    if isinstance(data, Arrays):
        return probs, np.asarray(data.labels)
    elements = data.elements
    if len(elements) != len(probs):
        raise ValueError(f"{len(probs)} predictions for {len(elements)} clips")
    videos = elements["video"].to_numpy()
    count = videos.max() + 1
    sums = np.zeros((count, probs.shape[1]))
    np.add.at(sums, videos, probs)
    labels = elements.groupby("video")["label_index"].first().to_numpy()
    return sums / np.bincount(videos, minlength=count)[:, None], labels


# --------------------------------------------------------------------------- scores


def classification_metrics(labels: Sequence[int], probs: np.ndarray) -> dict[str, float]:
    """``accuracy``, ``top5_accuracy`` (with more than 5 classes), ``macro_precision``,
    ``macro_recall`` and ``macro_f1`` of ``probs`` ``(n, classes)`` against integer ``labels``."""
    labels = np.asarray(labels)
    predicted = probs.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, labels=range(probs.shape[1]),
                                                               average="macro", zero_division=0)
    out = {"accuracy": float(accuracy_score(labels, predicted))}
    if probs.shape[1] > 5:
        out["top5_accuracy"] = float(top_k_accuracy_score(labels, probs, k=5, labels=range(probs.shape[1])))
    out.update(macro_precision=float(precision), macro_recall=float(recall), macro_f1=float(f1))
    return out


def per_class_report(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of every class (one row each), worst F1 first."""
    report = classification_report(labels, probs.argmax(axis=1), labels=range(len(class_names)),
                                   target_names=list(class_names), output_dict=True, zero_division=0)
    table = pd.DataFrame({name: report[name] for name in class_names}).T
    table["support"] = table["support"].astype(int)
    return table.sort_values("f1-score")


def per_class_accuracy(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str]) -> pd.Series:
    """The share of each class's videos whose highest probability is their class (recall)."""
    labels, predicted = np.asarray(labels), np.asarray(probs).argmax(axis=1)
    return pd.Series({name: float(np.mean(predicted[labels == k] == k)) if np.any(labels == k) else np.nan
                      for k, name in enumerate(class_names)})


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy of ``correct / total``.

    Better than the normal approximation near 0 or 1 and for a few hundred clips; for 112 test
    clips at 0.75 it spans about +-0.08.
    """
    if total <= 0:
        raise ValueError("accuracy_interval needs at least one clip")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return round(float(max(0.0, centre - half)), 6), round(float(min(1.0, centre + half)), 6)


def pairwise_accuracy(labels: Sequence[int], probs: np.ndarray, first: int, second: int) -> float:
    """Among the clips labelled ``first`` or ``second``, the share whose true class gets a higher
    probability than the other class of the pair (ties count half). NaN without such clips."""
    labels = np.asarray(labels)
    keep = (labels == first) | (labels == second)
    if not keep.any():
        return float("nan")
    true = np.where(labels[keep] == first, probs[keep, first], probs[keep, second])
    other = np.where(labels[keep] == first, probs[keep, second], probs[keep, first])
    return float(np.mean((true > other) + 0.5 * (true == other)))


def motion_pairs(class_names: Sequence[str]) -> list[tuple[str, str]]:
    """The synthetic set's motion-only pairs whose two classes are both in ``class_names``."""
    from .synthetic import MOTION_PAIRS

    return [(a, b) for a, b in MOTION_PAIRS if a in class_names and b in class_names]


def pair_accuracies(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str],
                    pairs: Sequence[tuple[str, str]], suffix: str = "") -> dict[str, float]:
    """``{"<a>_vs_<b><suffix>_accuracy": pairwise accuracy}`` for every pair."""
    names = list(class_names)
    return {f"{a}_vs_{b}{suffix}_accuracy": pairwise_accuracy(labels, probs, names.index(a), names.index(b))
            for a, b in pairs}


def time_check_table(metrics: dict[str, float], class_names: Sequence[str]) -> pd.DataFrame:
    """The accuracies of :func:`evaluate` on original, shuffled and reversed frames: rows ``all
    classes`` and each motion pair, columns ``original``, ``shuffled``, ``reversed``."""
    rows = {"all classes": [metrics[f"{order}_accuracy"] for order in ("test", "shuffled", "reversed")]}
    for a, b in motion_pairs(class_names):
        rows[f"{a} / {b}"] = [metrics[f"{a}_vs_{b}{suffix}_accuracy"] for suffix in ("", "_shuffled", "_reversed")]
    return pd.DataFrame(rows, index=["original", "shuffled", "reversed"]).T


def top_confusions(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str], count: int = 5) -> pd.DataFrame:
    """The ``count`` most frequent mistakes: ``true``, ``predicted``, ``clips`` and ``share`` of the true class."""
    matrix = confusion_matrix(labels, probs.argmax(axis=1), labels=range(len(class_names)))
    np.fill_diagonal(matrix, 0)
    totals = np.bincount(np.asarray(labels), minlength=len(class_names))
    rows = [(class_names[i], class_names[j], int(matrix[i, j]), matrix[i, j] / max(totals[i], 1))
            for i, j in zip(*np.unravel_index(np.argsort(-matrix, axis=None, kind="stable"), matrix.shape))
            if matrix[i, j] > 0][:count]
    return pd.DataFrame(rows, columns=["true", "predicted", "clips", "share"])


# --------------------------------------------------------------------------- figures


def confusion_figure(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str], normalize: bool = True,
                     title: str = "") -> plt.Figure:
    """The confusion matrix as a heat map: rows the true class, columns the predicted one;
    ``normalize`` shows each row as fractions of that class's clips (counts are printed)."""
    counts = confusion_matrix(labels, probs.argmax(axis=1), labels=range(len(class_names)))
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    side = 2.5 + 0.45 * len(class_names)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class" if normalize else "clips")
    for (i, j), value in np.ndenumerate(counts):
        if value:
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > 0.6 * shown.max() else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"confusion matrix (accuracy {np.trace(counts) / max(counts.sum(), 1):.2f})")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- cost


def count_params(model: keras.Model) -> int:
    """All weights of ``model`` (trainable and not)."""
    return int(model.count_params())


def inference_function(model: keras.Model) -> tf.types.experimental.GenericFunction:
    """``model(x, training=False)`` as a ``tf.function`` (one graph, no AutoGraph conversion)."""
    return tf.function(tf.autograph.experimental.do_not_convert(lambda inputs: model(inputs, training=False)))


def count_flops(model: keras.Model, input_shape: Sequence[int]) -> int:
    """Floating-point operations of ``model(x, training=False)`` on one input of ``input_shape``, as
    TensorFlow's profiler counts them in the model's frozen graph: two per multiply-add of the
    convolutions and dense layers, plus the element-wise ops it has a count for. Fixed by the
    architecture (unlike a measured time), so it belongs in ``metrics``.
    """
    concrete = inference_function(model).get_concrete_function(tf.TensorSpec((1, *input_shape), tf.float32))
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the v1 profiler announces that it is a v1 API
    try:
        with tf.Graph().as_default() as graph:
            tf.graph_util.import_graph_def(graph_def, name="")
            builder = tf.compat.v1.profiler.ProfileOptionBuilder
            options = builder(builder.float_operation()).with_empty_output().build()
            info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op",
                                                 options=options)
    finally:
        logger.setLevel(level)
    return int(info.total_float_ops)


def time_inference(model: keras.Model, input_shape: Sequence[int], batch_size: int = 1, repeats: int = 20,
                   warmup: int = 3) -> float:
    """Measured milliseconds per clip of ``model(x, training=False)`` on random clips (median of
    ``repeats`` calls after ``warmup``). A speed: report it under ``extra``."""
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (batch_size, *input_shape)).astype(np.float32))
    call = inference_function(model)
    for _ in range(warmup):
        call(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(x).numpy()
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)) / batch_size, 3)


# --------------------------------------------------------------------------- all of it


@dataclasses.dataclass
class Evaluation:
    """The outcome of :func:`evaluate`: ``metrics`` (fixed by the seed: for ``results`` JSON
    ``metrics``), ``extra`` (measured times, intervals' settings), the video-level
    ``probs`` / ``labels`` and the per-class ``report``."""

    metrics: dict[str, float]
    extra: dict[str, Any]
    probs: np.ndarray
    labels: np.ndarray
    report: pd.DataFrame
    class_names: list[str]

    def confusion_figure(self, **options: Any) -> plt.Figure:
        return confusion_figure(self.labels, self.probs, self.class_names, **options)


def score_probabilities(labels: Sequence[int], probs: np.ndarray, class_names: Sequence[str],
                        pairs: Sequence[tuple[str, str]] | None = None, confidence: float = 0.95) -> dict[str, float]:
    """The metrics of video-level ``probs`` (from a model or a fusion of several): ``test_accuracy``
    with its Wilson interval (``test_accuracy_low`` / ``_high``), top-5, macro P/R/F1 and the
    pairwise accuracy of each of ``pairs`` (default: :func:`motion_pairs`)."""
    labels = np.asarray(labels)
    pairs = motion_pairs(class_names) if pairs is None else list(pairs)
    scores = classification_metrics(labels, probs)
    low, high = accuracy_interval(int(np.sum(np.asarray(probs).argmax(axis=1) == labels)), len(labels), confidence)
    metrics = {"test_accuracy": scores.pop("accuracy"), "test_accuracy_low": low, "test_accuracy_high": high, **scores}
    metrics.update(pair_accuracies(labels, probs, class_names, pairs))
    return metrics


def evaluate(model: keras.Model, test: ClipDataset | Arrays, pairs: Sequence[tuple[str, str]] | None = None,
             time_checks: bool = True, seed: int = 0, confidence: float = 0.95, timing: bool = True) -> Evaluation:
    """Every score of the course for ``model`` on ``test``.

    Args:
        model: a trained classifier.
        test: the evaluation set (one or several clips per video), or :class:`Arrays`.
        pairs: class pairs for :func:`pairwise_accuracy` (default: :func:`motion_pairs`).
        time_checks: also score the clips with frames shuffled and with time reversed.
        seed: the shuffled order's seed.
        confidence: of the accuracy interval.
        timing: measure the inference time per clip (into ``extra``).

    Returns:
        An :class:`Evaluation`. ``metrics``: ``test_accuracy`` (video level), its interval
        ``test_accuracy_low`` / ``test_accuracy_high``, ``clip_accuracy``, ``top5_accuracy``,
        ``macro_precision``, ``macro_recall``, ``macro_f1``, ``params``, one
        ``<a>_vs_<b>_accuracy`` per pair and, with ``time_checks``, ``shuffled_accuracy``,
        ``reversed_accuracy`` and the pairs' ``<a>_vs_<b>_shuffled_accuracy`` /
        ``..._reversed_accuracy``.
    """
    names = list(test.class_names)
    pairs = motion_pairs(names) if pairs is None else list(pairs)
    clip_probs = predict(model, test)
    probs, labels = video_scores(clip_probs, test)
    metrics = score_probabilities(labels, probs, names, pairs, confidence)
    metrics.update({"clip_accuracy": float(np.mean(clip_probs.argmax(axis=1) == np.asarray(test.labels))),
                    "params": count_params(model)})
    if time_checks:
        for order in ("shuffled", "reversed"):
            changed, _ = video_scores(predict(model, test, order, seed), test)
            metrics[f"{order}_accuracy"] = float(np.mean(changed.argmax(axis=1) == labels))
            metrics.update(pair_accuracies(labels, changed, names, pairs, suffix=f"_{order}"))
    extra: dict[str, Any] = {"test_videos": int(len(labels)), "test_clips": int(len(clip_probs)),
                             "interval": f"Wilson {confidence:.0%}"}
    if timing and not isinstance(test, Arrays):
        extra["inference_ms_per_clip"] = time_inference(model, model.input_shape[1:])
    return Evaluation(metrics, extra, probs, labels, per_class_report(labels, probs, names), names)


def save_stream_scores(cfg: Config, stream: str, model: keras.Model, splits: dict[str, ClipDataset | Arrays]) -> Path:
    """Save ``model``'s video-level probabilities on each of ``splits`` (``val``, ``test``) as the
    scores of ``stream`` for late fusion (``fusion.save_scores``); returns the file."""
    saved = {}
    for split, data in splits.items():
        videos = data.videos["path"].tolist() if isinstance(data, ClipDataset) else data.videos
        if videos is None:
            raise ValueError(f"the {split} arrays of {stream} need videos= (their manifest paths) to be fused")
        probs, labels = video_scores(predict(model, data), data)
        saved[split] = (videos, labels, probs)
    return save_scores(cfg, stream, data.class_names, saved)
