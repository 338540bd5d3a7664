"""Late fusion: per-video class scores of each stream, saved once, combined afterwards.

A *stream* (06 spatial, 07 temporal, 04/05 as optional extras) saves the softmax scores of every
video of the ``val`` and ``test`` splits with :func:`save_scores`; notebook 08 loads them with
:func:`load_scores` and fuses them without running a network:

* :func:`weighted_average` (``weight=0.5``: the plain average), with the weight chosen on the
  validation split by :func:`choose_weight` (never on test; TSN uses RGB:flow = 1:1.5);
* :func:`learned_fusion`: a logistic regression on the concatenated scores of the streams,
  fitted on the validation videos (the two-stream paper fits a linear SVM on them).

Files live in ``artifacts_dir/scores/<dataset folder>-<profile>/<stream>.npz``: the dataset
folder's name changes with the synthetic settings (a set generated without context bias gets its
own scores), and the profile with the clip format.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .config import Config
from .jobs import atomic_path

SPLITS = ("val", "test")


class ScoresError(ValueError):
    """Score files are missing or do not describe the same videos; the message says which."""


@dataclasses.dataclass(frozen=True)
class SplitScores:
    """One split of one stream: ``videos`` (manifest paths), integer ``labels`` and ``probs``
    ``(videos, classes)``, all in the same order."""

    videos: np.ndarray
    labels: np.ndarray
    probs: np.ndarray

    def accuracy(self) -> float:
        return float(np.mean(self.probs.argmax(axis=1) == self.labels))


@dataclasses.dataclass(frozen=True)
class StreamScores:
    """What a stream saved: its ``name``, the ``class_names`` and a :class:`SplitScores` per split."""

    name: str
    class_names: list[str]
    splits: dict[str, SplitScores]

    def __getitem__(self, split: str) -> SplitScores:
        return self.splits[split]


def scores_dir(cfg: Config) -> Path:
    """The folder of ``cfg``'s dataset and profile that holds every stream's scores."""
    return cfg.artifacts_dir / "scores" / f"{cfg.dataset_root.name}-{cfg.profile}"


def save_scores(cfg: Config, stream: str, class_names: Sequence[str],
                splits: Mapping[str, tuple[Sequence[str], np.ndarray, np.ndarray]]) -> Path:
    """Write one stream's per-video scores (atomically) and return the file.

    Args:
        cfg: the notebook's config (where the file goes).
        stream: a short name (``spatial``, ``temporal``, ...), the file's stem.
        class_names: the order of the score columns.
        splits: ``{split: (videos, labels, probs)}``, ``videos`` the manifest paths (rows are
            stored sorted by them, so streams that met the videos in another order still align).
    """
    arrays: dict[str, np.ndarray] = {"class_names": np.asarray(list(class_names))}
    for split, (videos, labels, probs) in splits.items():
        probs = np.asarray(probs, dtype=np.float32)
        if probs.shape != (len(videos), len(class_names)) or len(labels) != len(videos):
            raise ScoresError(f"{stream}/{split}: {len(videos)} videos, {len(labels)} labels and scores of shape "
                              f"{probs.shape} for {len(class_names)} classes do not match")
        order = np.argsort(np.asarray(list(videos)), kind="stable")  # one order for every stream
        arrays.update({f"{split}_videos": np.asarray(list(videos))[order],
                       f"{split}_labels": np.asarray(labels, np.int32)[order], f"{split}_probs": probs[order]})
    path = scores_dir(cfg) / f"{stream}.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as out:
            np.savez(out, **arrays)
    return path


def load_scores(cfg: Config, stream: str) -> StreamScores:
    """The scores :func:`save_scores` wrote for ``stream``; a clear error if there are none."""
    path = scores_dir(cfg) / f"{stream}.npz"
    if not path.is_file():
        raise ScoresError(f"no scores of the {stream} stream in {path.parent}: run its notebook first with the same "
                          "profile, dataset and seed")
    with np.load(path) as data:
        names = [str(n) for n in data["class_names"]]
        splits = {split: SplitScores(data[f"{split}_videos"], data[f"{split}_labels"], data[f"{split}_probs"])
                  for split in SPLITS if f"{split}_probs" in data}
    return StreamScores(stream, names, splits)


def check_aligned(streams: Sequence[StreamScores], split: str) -> None:
    """Refuse to fuse streams whose classes or videos of ``split`` differ (other data, other order)."""
    first = streams[0]
    for other in streams[1:]:
        if other.class_names != first.class_names:
            raise ScoresError(f"{other.name} and {first.name} score different classes")
        a, b = first[split], other[split]
        if len(a.videos) != len(b.videos) or not np.array_equal(a.videos, b.videos):
            raise ScoresError(f"{other.name} and {first.name} scored different {split} videos "
                              f"({len(b.videos)} vs {len(a.videos)}): rerun both on the same dataset")


def weighted_average(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * first + weight * second``: 0.5 is the plain average."""
    return (1.0 - weight) * np.asarray(first) + weight * np.asarray(second)


WEIGHT_GRID = tuple(round(float(w), 2) for w in np.linspace(0, 1, 21))
"""The weights :func:`choose_weight` tries: 0, 0.05, ..., 1."""


def choose_weight(first: SplitScores, second: SplitScores, grid: Sequence[float] = WEIGHT_GRID
                  ) -> tuple[float, dict[float, float]]:
    """The weight of ``second`` with the best accuracy on these (validation) scores.

    Ties go to the weight with the lower log-loss, then to the one nearest 0.5, so the choice is
    deterministic. Returns ``(weight, {weight: accuracy})``.
    """
    labels = first.labels
    accuracy, loss = {}, {}
    for w in grid:
        fused = weighted_average(first.probs, second.probs, w)
        accuracy[float(w)] = float(np.mean(fused.argmax(axis=1) == labels))
        loss[float(w)] = float(-np.mean(np.log(fused[np.arange(len(labels)), labels] + 1e-9)))
    best = min(accuracy, key=lambda w: (-accuracy[w], round(loss[w], 9), abs(w - 0.5)))
    return best, accuracy


def learned_fusion(fit_on: Sequence[SplitScores], apply_to: Sequence[SplitScores], seed: int = 0,
                   strength: float = 1.0) -> np.ndarray:
    """Probabilities of a logistic regression on the concatenated stream scores (the softmax
    outputs themselves, as the two-stream paper's SVM takes them).

    Args:
        fit_on: each stream's scores of the split to fit on (validation).
        apply_to: the same streams' scores of the split to score (test).
        seed, strength: the regression's ``random_state`` and inverse regularisation ``C``.
    """
    from sklearn.linear_model import LogisticRegression

    x_fit = np.concatenate([s.probs for s in fit_on], axis=1)
    x_apply = np.concatenate([s.probs for s in apply_to], axis=1)
    model = LogisticRegression(C=strength, max_iter=2000, random_state=seed).fit(x_fit, fit_on[0].labels)
    probs = np.zeros((len(x_apply), fit_on[0].probs.shape[1]))
    probs[:, model.classes_] = model.predict_proba(x_apply)
    return probs
