"""Course-made pretrained backbones: ImageNet weights, made offline and in a minute.

Transfer learning needs weights learnt on *another* task. ImageNet weights cannot be
downloaded everywhere the course runs, so :func:`pretrain_backbone` makes a stand-in the same
way ImageNet weights were made, only smaller: it trains the image backbone on single frames of
a **separate** synthetic set (its own seed, so other people, scenes and clips; no scene
predicts an action there) to solve a pretext task that is not action recognition:

* **pose attributes**: yes/no facts about the figure's pose, read from the per-frame ground-truth
  joints (:data:`POSE_ATTRIBUTES`: a wrist above the neck, an arm stretched out, the hands
  together, the feet apart, the legs folded, the torso bent, a knee raised), which teaches the
  backbone to find a body and the configuration of its limbs;
* **scene**: which of the backgrounds it is (classification), which teaches it textures and layout.

Why attributes and not joint coordinates: the backbone ends in global average pooling, which
keeps *what* is in the frame but not *where*; relative facts about the limbs survive it, while
regressing coordinates from a few thousand frames learnt little more than the average pose.

What a minute of pretraining teaches at 48 px: the scene (held-out accuracy 0.96), not the pose.
The pose answers on held-out people stay at those of always giving the frequent answer (balanced
accuracy 0.49-0.53, measured on two CPU cores) with 16 or 56 pretext people, 4 or 10 epochs, the
pose loss alone or weighted 5x, crops centred on the figure, a 12x12 silhouette as a third target
(IoU 0.06) and a plain 4-layer CNN instead of MobileNetV2; with 112 pretext people (8,232 frames,
6 epochs) or at 96 px (the ``laptop`` profile) too: 0.842 and 0.840 of the answers right, where the
frequent answers get 0.846 and 0.851. A plain 8-layer CNN trained on the pose alone for 30 epochs
at 48 px fits the training frames (balanced accuracy 1.00) and still scores 0.50 on held-out
people: the figure is a few pixels wide, and the network memorises the people instead. The
backbone of notebook 05 therefore brings context, not pose: a lesson about what a pretext task
transfers, which the notebook shows.

The weights are saved with ``save_weights`` under ``artifacts_dir/pretrained/`` and loaded back
through ``models.build_backbone(name, size, weights=<path>)``: the same argument a learner
passes ``"imagenet"`` to on Colab. A JSON card beside them records the task, the settings and
the held-out scores; the same settings load the file instead of training again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from . import actions, models, synthetic, video
from .datasets import load_manifest
from .config import Config
from .jobs import atomic_path, atomic_write_text, parallel_map
from .runs import seed_everything
from .synthetic import generate_dataset, load_ground_truth

PRETEXT_SEED_OFFSET = 7919
"""The pretext set's seed is the course seed plus this: other subjects, scenes and motions."""


@dataclasses.dataclass(frozen=True)
class Pretext:
    """The pretext set and its training: ``subjects`` x ``reps`` clips per class, ``frames``
    per clip; ``epochs`` of AdamW at ``learning_rate``, ``batch_size`` frames a step; the
    frames of ``held_out`` subjects are kept apart to score the task."""

    subjects: int = 16
    reps: int = 1
    frames: int = 6
    held_out: int = 2
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 3e-3


PRETEXTS = {"mobilenet_v2": Pretext(), "resnet50": Pretext(epochs=4, batch_size=64)}
"""The pretext training of each backbone in the notebooks (measured at 48 px on two CPU cores).
MobileNetV2: batches of 16 frames give four times the steps of 64 per epoch, and 4 epochs reached
the held-out scene accuracy (0.93) that 12 epochs of 64 frames did, in 40 % less time. ResNet-50
(about 20 ms per frame and step) keeps 4 epochs of 64 frames (scene accuracy 0.96): 2 epochs of 16
were 25 % faster and named every held-out scene, but the spatial stream of notebook 06 trained on
them added nothing to the temporal stream in notebook 08's fusion."""


def weights_path(cfg: Config, backbone: str, image_size: int, pretext: Pretext, **options: Any) -> Path:
    """Where the course-made weights of ``backbone`` for these settings live (the name changes with
    the pretext settings, the questions asked and the format of the synthetic clips)."""
    parts = [backbone, *(f"{k}{v}" for k, v in sorted(options.items())), f"{image_size}px", f"seed{cfg.seed}"]
    settings = {**dataclasses.asdict(pretext), "attributes": POSE_ATTRIBUTES, "clips": dataclasses.asdict(cfg.synthetic)}
    digest = hash_settings(settings) % 10**8
    return cfg.artifacts_dir / "pretrained" / f"{'-'.join(parts)}-{digest:08d}.weights.h5"


def hash_settings(settings: dict[str, Any]) -> int:
    """A stable integer digest of JSON-able settings."""
    return int(hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:15], 16)


def pretext_dataset(cfg: Config, pretext: Pretext, workers: int = 2, progress: bool = True):
    """Generate (once) the separate synthetic set of the pretext task; its manifest."""
    spec = dataclasses.replace(cfg.synthetic, subjects=pretext.subjects, reps_per_subject=pretext.reps,
                               context_bias=0.0, imbalance=0.0,
                               split_subjects=(pretext.subjects - pretext.held_out, 0, pretext.held_out))
    seed = cfg.seed + PRETEXT_SEED_OFFSET
    root = cfg.data_dir / ("pretext-" + spec.slug(seed))
    if not (root / "manifest.csv").is_file():
        generate_dataset(root, spec, seed=seed, workers=workers, progress=progress)
    return load_manifest(root)


POSE_ATTRIBUTES = ("left_wrist_up", "right_wrist_up", "left_arm_out", "right_arm_out", "hands_together",
                   "feet_apart", "legs_folded", "torso_bent", "knee_raised")
"""What the pretext task asks about each frame's figure (:func:`pose_attributes`)."""


def pose_attributes(joints: np.ndarray) -> np.ndarray:
    """The :data:`POSE_ATTRIBUTES` of figures ``(..., J, 2)`` (image x, y; y down) as 0/1 ``(..., A)``.

    Lengths are measured in torso lengths (neck to pelvis), so the answers do not depend on the
    figure's size or place in the frame; the thresholds sit between the synthetic figure's
    standing pose (legs 1.6 torsos long, knees 0.8 below the pelvis, feet 0.4 apart) and the
    poses the actions reach.
    """
    j = {name: joints[..., i, :] for i, name in enumerate(synthetic.JOINT_NAMES)}
    torso = np.linalg.norm(j["neck"] - j["pelvis"], axis=-1) + 1e-6

    x, y = {k: v[..., 0] for k, v in j.items()}, {k: v[..., 1] for k, v in j.items()}
    wrists_apart = np.linalg.norm(j["l_wrist"] - j["r_wrist"], axis=-1)
    answers = [y["l_wrist"] < y["neck"], y["r_wrist"] < y["neck"],
               np.abs(x["l_wrist"] - x["l_shoulder"]) > 0.6 * torso, np.abs(x["r_wrist"] - x["r_shoulder"]) > 0.6 * torso,
               (wrists_apart < 0.4 * torso) & (np.maximum(y["l_wrist"], y["r_wrist"]) < y["pelvis"] - 0.3 * torso),
               np.abs(x["l_ankle"] - x["r_ankle"]) > 0.7 * torso,
               (y["l_ankle"] + y["r_ankle"]) / 2 - y["pelvis"] < 1.2 * torso,
               np.abs(x["neck"] - x["pelvis"]) > 0.4 * torso,
               np.minimum(y["l_knee"], y["r_knee"]) < y["pelvis"] + 0.5 * torso]
    return np.stack(answers, axis=-1).astype(np.float32)


def _frames_and_targets(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` uniform frames of one video, centre-cropped to ``size``, and their
    :func:`pose_attributes` ``(frames, A)``."""
    path, truth, total, frames, size = job
    indices = video.uniform_indices(total, frames)
    images = video.load_clip(path, indices, size=(size, size), fit="crop", threads=1)
    return images, pose_attributes(load_ground_truth(truth)["joints"][indices].astype(np.float32))


def pretext_arrays(manifest, root: Path, frames: int, size: int, workers: int = 2,
                   progress: bool = True) -> dict[str, np.ndarray]:
    """Frames, pose attributes, scene labels and the split of every frame of the pretext set."""
    jobs = [(str(root / row.path), str(root / row.gt), row.frames, frames, size) for row in manifest.itertuples()]
    out = parallel_map(_frames_and_targets, jobs, workers, progress, desc="pretext frames", unit="clip")
    scenes = {name: i for i, name in enumerate(actions.SCENES)}
    return {"images": np.concatenate([o[0] for o in out]), "pose": np.concatenate([o[1] for o in out]),
            "scene": np.repeat(manifest["scene"].map(scenes).to_numpy(np.int32), frames),
            "split": np.repeat(manifest["split"].to_numpy(), frames)}


def pretext_model(backbone: keras.Model, name: str, attributes: int, scenes: int) -> keras.Model:
    """The backbone with the two pretext heads: ``pose`` (``attributes`` yes/no) and ``scene``."""
    inputs = keras.Input(backbone.input_shape[1:])
    x = inputs
    for layer in models.PREPROCESS[name]():
        x = layer(x)
    features = backbone(x)
    pose = layers.Dense(attributes, activation="sigmoid", name="pose")(features)
    scene = layers.Dense(scenes, activation="softmax", name="scene")(features)
    return keras.Model(inputs, {"pose": pose, "scene": scene}, name=f"{name}_pretext")


def pretrain_backbone(cfg: Config, backbone: str = "mobilenet_v2", image_size: int | None = None,
                      pretext: Pretext = Pretext(), workers: int = 2, progress: bool = True,
                      **options: Any) -> tuple[Path, dict[str, Any]]:
    """The course-made pretrained weights of ``backbone``: trained now, or loaded if made before.

    Args:
        cfg: the notebook's config (seed, data and artifacts folders, the synthetic format).
        backbone: a ``models.BACKBONES`` name.
        image_size: the frame side (default ``cfg.image_size``).
        pretext: the pretext set and training settings.
        workers, progress: for generating and decoding the pretext set.
        **options: the backbone's own (``alpha`` for MobileNetV2).

    Returns:
        ``(path, card)``: the ``.weights.h5`` file for ``build_backbone(..., weights=path)`` and
        what it was trained on with its held-out scores (``scene_accuracy``; ``attribute_accuracy``,
        the share of pose attributes answered right, and ``attribute_majority``, that of always
        giving each attribute's more frequent answer) and the seconds it took.
    """
    size = image_size or cfg.image_size
    path = weights_path(cfg, backbone, size, pretext, **options)
    card_path = path.with_name(path.name.replace(".weights.h5", ".json"))
    if path.is_file() and card_path.is_file():
        return path, json.loads(card_path.read_text())
    start = time.perf_counter()
    manifest = pretext_dataset(cfg, pretext, workers, progress)
    arrays = pretext_arrays(manifest, Path(manifest.attrs["root"]), pretext.frames, size, workers, progress)
    seed_everything(cfg.seed)
    image_model = models.build_backbone(backbone, size, None, **options)
    model = pretext_model(image_model, backbone, len(POSE_ATTRIBUTES), len(actions.SCENES))
    train, held = arrays["split"] == "train", arrays["split"] == "test"
    steps = int(np.ceil(train.sum() / pretext.batch_size)) * pretext.epochs
    schedule = keras.optimizers.schedules.CosineDecay(pretext.learning_rate, steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.AdamW(schedule),
                  loss={"pose": "binary_crossentropy", "scene": "sparse_categorical_crossentropy"},
                  loss_weights={"pose": 1.0, "scene": 1.0}, jit_compile=False)
    x = arrays["images"].astype(np.float32)
    targets = {"pose": arrays["pose"], "scene": arrays["scene"]}
    history = model.fit(x[train], {k: v[train] for k, v in targets.items()}, batch_size=pretext.batch_size,
                        epochs=pretext.epochs, shuffle=True, verbose=0)
    predicted = model.predict(x[held], batch_size=128, verbose=0)
    truth = arrays["pose"][held]
    majority = np.maximum(arrays["pose"][train].mean(axis=0), 1 - arrays["pose"][train].mean(axis=0))
    card = {"backbone": backbone, "options": options, "image_size": size, "pretext": dataclasses.asdict(pretext),
            "task": "pose attributes (9 yes/no) and scene (12 classes) of single frames",
            "dataset": Path(manifest.attrs["root"]).name, "train_frames": int(train.sum()),
            "held_out_frames": int(held.sum()),
            "scene_accuracy": float(np.mean(predicted["scene"].argmax(1) == arrays["scene"][held])),
            "scene_chance": 1 / len(actions.SCENES),
            "attribute_accuracy": float(np.mean((predicted["pose"] > 0.5) == (truth > 0.5))),
            "attribute_majority": float(majority.mean()),
            "final_loss": float(history.history["loss"][-1]),
            "seconds": round(time.perf_counter() - start, 1)}
    with atomic_path(path) as tmp:
        image_model.save_weights(tmp)
    atomic_write_text(card_path, json.dumps(card, indent=1) + "\n")
    return path, card

