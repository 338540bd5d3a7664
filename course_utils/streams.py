"""The spatial stream of notebook 06 as steps: cached trunk maps, a frozen warm-up, fine-tuning.

Notebook 06 runs the steps one by one; notebook 08 retrains the same stream on another dataset
with :func:`spatial_stream`, which chains them.

* :func:`trunk_maps`: every video's frames through the frozen trunk of a pretrained backbone
  (``models.split_backbone``), once, cached under ``cache_dir/features``;
* :func:`warm_up`: a new :func:`models.frame_classifier` on the frozen last stage, TSN consensus;
* :func:`fine_tune`: the last stage unfrozen (BatchNorm still frozen), a lower learning rate.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from . import models, pipeline
from .config import Config
from .evaluation import Arrays
from .training import TrainResult, clip_features, configure, fit_arrays


@dataclasses.dataclass
class TrunkMaps:
    """Trunk outputs ``maps[split]`` ``(videos, frames, h, w, c)``, their ``labels``, the evaluation
    ``data`` they came from, and the ``seconds`` they took (0 when read from the cache)."""

    maps: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    data: dict[str, pipeline.ClipDataset]
    seconds: float

    def arrays(self, split: str, class_names: list[str]) -> Arrays:
        """``split`` as :class:`evaluation.Arrays` with its videos (what ``evaluate`` scores)."""
        return Arrays(self.maps[split], self.labels[split], class_names, self.data[split].videos["path"].tolist())


def trunk_maps(cfg: Config, table: pd.DataFrame, trunk: keras.Model, backbone: str, weights_name: str,
               frames_of: dict[str, int]) -> TrunkMaps:
    """The trunk's maps of ``frames_of[split]`` uniform frames of every video of each split.

    Needs: ``table`` with its frame cache (``pipeline.prepare``). Adds: one ``.npy`` per split under
    ``cfg.cache_dir/features/<dataset folder>/<weights_name>-trunk-<size>px/`` (read back by the next run).
    """
    size = cfg.image_size
    folder = cfg.cache_dir / "features" / cfg.dataset_root.name / f"{Path(weights_name).stem}-trunk-{size}px"
    data = {split: pipeline.make_dataset(table, split, n, size, cfg.batch_size, training=False)
            for split, n in frames_of.items()}
    start = time.perf_counter()
    maps = {split: clip_features(models.per_frame(trunk, (n, size, size, 3), backbone), data[split],
                                 folder / f"{split}-{n}.npy") for split, n in frames_of.items()}
    return TrunkMaps(maps, {split: d.labels for split, d in data.items()}, data, time.perf_counter() - start)


def _validation(maps: TrunkMaps) -> tuple[np.ndarray, np.ndarray]:
    """The validation maps at the training videos' frame count (evenly spaced among the cached ones)."""
    frames, val = maps.maps["train"].shape[1], maps.maps["val"]
    picks = np.linspace(0, val.shape[1] - 1, frames).round().astype(int)
    return val[:, picks], maps.labels["val"]


def warm_up(cfg: Config, stage: keras.Model, maps: TrunkMaps, num_classes: int, epochs: int,
            learning_rate: float = 1e-3) -> tuple[keras.Model, keras.Model, TrainResult]:
    """Train a new classifier on the frozen ``stage``: ``(frame_model, head, result)``.

    Frozen, the stage's output is fixed too: it is computed once per frame, and the classifier
    (:func:`models.classifier_head`, TSN consensus over the frames) trains on it in seconds.
    ``frame_model`` is the stage followed by the trained head, ready for :func:`fine_tune`.
    """
    configure(cfg)
    models.set_trainable(stage, False)
    train, val = (maps.maps["train"], maps.labels["train"]), _validation(maps)
    pooled = [_through(stage, x) for x in (train[0], val[0])]
    head = models.classifier_head(pooled[0].shape[-1], num_classes)
    consensus = models.build_model("tsn", pooled[0].shape[1:], num_classes, frame_model=head)
    result = fit_arrays(consensus, (pooled[0], train[1]), (pooled[1], val[1]), epochs=epochs, seed=cfg.seed,
                        learning_rate=learning_rate)
    return models.frame_classifier(stage, head), head, result


def _through(model: keras.Model, clips: np.ndarray) -> np.ndarray:
    """``model`` applied to every frame of ``clips`` ``(N, T, ...)``: ``(N, T, features)``."""
    out = model.predict(clips.reshape(-1, *clips.shape[2:]), batch_size=256, verbose=0)
    return out.reshape(*clips.shape[:2], -1)


def fine_tune(cfg: Config, stage: keras.Model, frame_model: keras.Model, maps: TrunkMaps, epochs: int,
              learning_rate: float = 1e-4) -> tuple[keras.Model, TrainResult]:
    """Continue training ``frame_model`` with ``stage`` unfrozen (BatchNorm kept frozen)."""
    models.set_trainable(stage, True)
    model = models.build_model("tsn", maps.maps["train"].shape[1:], int(frame_model.output_shape[-1]),
                               frame_model=frame_model)
    result = fit_arrays(model, (maps.maps["train"], maps.labels["train"]), _validation(maps), epochs=epochs,
                        seed=cfg.seed, learning_rate=learning_rate)
    return model, result


def test_model(frame_model: keras.Model, maps: TrunkMaps, split: str = "test") -> keras.Model:
    """The TSN model that averages ``frame_model`` over all the cached frames of ``split``."""
    return models.build_model("tsn", maps.maps[split].shape[1:], int(frame_model.output_shape[-1]),
                              frame_model=frame_model)


def clip_model(trunk: keras.Model, frame_model: keras.Model, frames: int, backbone: str = "resnet50") -> keras.Model:
    """The spatial stream on raw clips ``(frames, S, S, 3)`` of 0-255 pixels: the trunk on every
    frame, then the TSN average of ``frame_model``; one file that a deployment (notebook 09) exports."""
    size = int(trunk.input_shape[1])
    inputs = keras.Input((frames, size, size, 3))
    maps = models.per_frame(trunk, (frames, size, size, 3), backbone)(inputs)
    consensus = models.build_model("tsn", tuple(maps.shape[1:]), int(frame_model.output_shape[-1]),
                                   frame_model=frame_model)
    return keras.Model(inputs, consensus(maps), name="spatial_stream")


def spatial_stream(cfg: Config, table: pd.DataFrame, weights: str, train_segments: int, test_frames: int,
                   warmup_epochs: int, finetune_epochs: int, backbone: str = "resnet50") -> tuple[keras.Model, TrunkMaps]:
    """Notebook 06's recipe end to end on ``table``: ``(test_model, maps)``."""
    trunk, stage = models.split_backbone(models.build_backbone(backbone, cfg.image_size, weights), backbone)
    maps = trunk_maps(cfg, table, trunk, backbone, Path(str(weights)).name,
                      {"train": train_segments, "val": test_frames, "test": test_frames})
    frame_model, _, _ = warm_up(cfg, stage, maps, len(table.attrs["class_names"]), warmup_epochs)
    fine_tune(cfg, stage, frame_model, maps, finetune_epochs)
    return test_model(frame_model, maps), maps
