"""The skeleton stream: actions from joint sequences, and what it adds to the RGB streams.

Joints come from the synthetic set's per-frame ground truth (``gt`` column of the manifest);
a pose estimator's output would enter at the same place, as ``(T, J, 2)`` pixel coordinates.

* :func:`load_joints` reads one video's joints, cut at the frames the RGB clips use by
  ``pipeline.clip_frame_indices``;
* :func:`normalize` centres a clip on the mean pelvis and scales it by the torso length;
  :func:`joint_features` adds velocities, so a clip becomes ``(T, J, 4)``;
* :func:`adjacency` is the skeleton's normalised graph, :class:`GraphConv` a spatial graph
  convolution over it (ST-GCN), and :func:`temporal_conv_model` / :func:`graph_conv_model` the
  two small classifiers;
* :func:`skeleton_arrays` builds a split's features; :func:`fusion_model` the intermediate
  fusion of a skeleton trunk with per-frame RGB features.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import pandas as pd

from . import pipeline
from .actions import BONES, JOINT_NAMES
from .jobs import CourseError

CENTRE, TORSO_TOP = "pelvis", "neck"
FEATURES_PER_JOINT = 4
"""x, y (normalised) and their velocities dx, dy."""


class SkeletonError(CourseError, ValueError):
    """A ground-truth (joints) file is missing or unreadable; the message names the file."""


# --------------------------------------------------------------------------- joints per video


def load_joints(path: str | Path) -> np.ndarray:
    """The joints of one video.

    Args:
        path: a ground-truth ``.npz`` (``synthetic.save_ground_truth``).

    Returns:
        float32 ``(T, J, 2)`` pixel x, y in the order of ``actions.JOINT_NAMES``.

    Raises:
        SkeletonError: the file is missing, corrupt or has no ``(T, J, 2)`` joints.
    """
    path = Path(path)
    if not path.is_file():
        raise SkeletonError(f"no ground-truth file {path.name} (looked in {path.parent.name}/): "
                            "regenerate the dataset, it writes one per clip")
    try:
        with np.load(path) as data:
            joints = np.asarray(data["joints"], np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise SkeletonError(f"ground-truth file {path.name} is unreadable ({type(error).__name__}: {error})") from None
    if joints.ndim != 3 or joints.shape[1:] != (len(JOINT_NAMES), 2) or len(joints) == 0:
        raise SkeletonError(f"ground-truth file {path.name} holds joints of shape {joints.shape}, "
                            f"not (frames, {len(JOINT_NAMES)}, 2)")
    return joints


# --------------------------------------------------------------------------- normalisation and features


def torso_length(joints: np.ndarray) -> float:
    """Mean neck-to-pelvis distance of a ``(T, J, 2)`` clip (pixels), at least 1e-6."""
    top, centre = JOINT_NAMES.index(TORSO_TOP), JOINT_NAMES.index(CENTRE)
    return max(float(np.linalg.norm(joints[:, top] - joints[:, centre], axis=-1).mean()), 1e-6)


def normalize(joints: np.ndarray) -> np.ndarray:
    """Centre a clip on its mean pelvis position and divide by its torso length.

    One centre and one scale for the whole clip: where the figure stands and how large it is
    drawn go away, its movement (a jump's rise, a walk's travel) stays.

    Args:
        joints: ``(T, J, 2)`` pixel coordinates.

    Returns:
        float32 ``(T, J, 2)`` in torso lengths.
    """
    joints = np.asarray(joints, np.float32)
    centre = joints[:, JOINT_NAMES.index(CENTRE)].mean(axis=0)
    return ((joints - centre) / torso_length(joints)).astype(np.float32)


def joint_features(joints: np.ndarray) -> np.ndarray:
    """Normalised coordinates and their frame-to-frame velocities.

    Args:
        joints: ``(T, J, 2)`` pixel coordinates of one clip.

    Returns:
        float32 ``(T, J, 4)``: x, y, dx, dy (the first frame's velocity is the second's).
    """
    position = normalize(joints)
    velocity = np.diff(position, axis=0, prepend=position[:1])
    if len(position) > 1:
        velocity[0] = velocity[1]
    return np.concatenate([position, velocity], axis=-1).astype(np.float32)


def add_jitter(joints: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of ``sigma`` torso lengths on every joint of every frame (a noisy pose estimator)."""
    return (joints + rng.normal(0.0, sigma * torso_length(joints), joints.shape)).astype(np.float32)


MIRROR = np.array([JOINT_NAMES.index(n.replace("l_", "r_") if n.startswith("l_") else n.replace("r_", "l_"))
                   for n in JOINT_NAMES])
"""The joint order after a horizontal flip: left and right change places."""


def mirror(joints: np.ndarray) -> np.ndarray:
    """The clip flipped horizontally (x -> -x, left and right joints swapped)."""
    flipped = joints[:, MIRROR].copy()
    flipped[..., 0] *= -1
    return flipped


def skeleton_arrays(rows: pd.DataFrame, root: str | Path, clip_frames: int, training: bool = False, views: int = 1,
                    seed: int = 0, jitter: float = 0.0, speed: tuple[float, float] = (0.85, 1.0)) -> np.ndarray:
    """The :func:`joint_features` of the clips of ``rows`` (manifest rows with ``gt`` and ``frames``).

    Args:
        rows: the videos, in the order wanted.
        root: the dataset folder the ``gt`` paths are relative to.
        clip_frames: frames per clip, as the RGB models.
        training: random windows (``speed``) and flips, ``views`` per video (video-major order);
            else the deterministic evaluation clip.
        views: training clips per video.
        seed: of the training draws and of the jitter.
        jitter: Gaussian noise on the joints, in torso lengths (0: none).

    Returns:
        float32 ``(len(rows) * views, clip_frames, J, 4)``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for gt, frames in zip(rows["gt"], rows["frames"]):
        joints = load_joints(Path(root) / gt)
        for _ in range(views if training else 1):
            clip = joints[np.minimum(pipeline.clip_frame_indices(int(frames), clip_frames, training, rng, speed),
                                    len(joints) - 1)]
            if training and rng.random() < 0.5:
                clip = mirror(clip)
            if jitter > 0:
                clip = add_jitter(clip, jitter, rng)
            out.append(joint_features(clip))
    return np.stack(out)


# --------------------------------------------------------------------------- the graph


def adjacency(names: Sequence[str] = JOINT_NAMES, bones: Sequence[tuple[str, str]] = BONES) -> np.ndarray:
    """The normalised skeleton graph ``D^-1/2 (A + I) D^-1/2`` (GCN, as ST-GCN's spatial partition).

    Returns:
        float32 ``(J, J)``, symmetric, each joint linked to itself and to the joints it shares a bone with.
    """
    index = {name: i for i, name in enumerate(names)}
    links = np.eye(len(names), dtype=np.float32)
    for a, b in bones:
        links[index[a], index[b]] = links[index[b], index[a]] = 1.0
    scale = 1.0 / np.sqrt(links.sum(axis=1))
    return (links * scale[:, None] * scale[None, :]).astype(np.float32)


@keras.saving.register_keras_serializable(package="course_utils")
class GraphConv(keras.layers.Layer):
    """Mix every joint's features with its neighbours' (``A X W``): ``(B, T, J, C) -> (B, T, J, units)``."""

    def __init__(self, units: int, graph: Sequence[Sequence[float]], **kwargs):
        super().__init__(**kwargs)
        self.units, self.graph = units, np.asarray(graph, np.float32)
        self.dense = keras.layers.Dense(units, use_bias=False)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        return keras.ops.einsum("ij,btjc->btic", keras.ops.convert_to_tensor(self.graph), self.dense(x))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "graph": self.graph.tolist()}


# --------------------------------------------------------------------------- models


def temporal_conv_model(input_shape: tuple[int, int, int], num_classes: int, width: int = 64,
                        dropout: float = 0.3) -> keras.Model:
    """A temporal convolution over the joints' features, flattened per frame.

    Args:
        input_shape: ``(T, J, 4)``.
        num_classes: outputs.
        width: filters of each convolution (and size of the ``skeleton_features`` layer).

    Returns:
        An uncompiled model; its layer ``skeleton_features`` is the clip's embedding.
    """
    clips = keras.Input(input_shape, name="joints")
    x = keras.layers.Reshape((input_shape[0], input_shape[1] * input_shape[2]))(clips)
    x = keras.layers.Conv1D(width, 5, padding="same", activation="relu")(x)
    x = keras.layers.Conv1D(width, 5, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv1D(width, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D(name="skeleton_features")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(keras.layers.Dropout(dropout)(x))
    return keras.Model(clips, outputs, name="skeleton_tcn")


def graph_conv_model(input_shape: tuple[int, int, int], num_classes: int, width: int = 32,
                     dropout: float = 0.3) -> keras.Model:
    """An ST-GCN in miniature: blocks of a graph convolution over the joints then a temporal one.

    Args:
        input_shape: ``(T, J, 4)``.
        num_classes: outputs.
        width: channels per joint.

    Returns:
        An uncompiled model; its layer ``skeleton_features`` is the clip's embedding.
    """
    graph = adjacency()
    clips = keras.Input(input_shape, name="joints")
    x = clips
    for block, stride in enumerate((1, 2, 2)):
        x = GraphConv(width, graph, name=f"graph_{block}")(x)
        x = keras.layers.Conv2D(width, (5, 1), strides=(stride, 1), padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="skeleton_features")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(keras.layers.Dropout(dropout)(x))
    return keras.Model(clips, outputs, name="skeleton_gcn")


def pack_inputs(joints: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """One array per clip for :func:`fusion_model`: each frame's joint features, then its RGB features.

    Args:
        joints: ``(N, T, J, 4)`` from :func:`skeleton_arrays`.
        rgb: ``(N, T, F)`` per-frame RGB features of the same clips, in the same order.

    Returns:
        float32 ``(N, T, J * 4 + F)``.
    """
    if joints.shape[:2] != rgb.shape[:2]:
        raise ValueError(f"joint features {joints.shape} and RGB features {rgb.shape} do not describe the same clips")
    return np.concatenate([joints.reshape(*joints.shape[:2], -1), rgb], axis=-1).astype(np.float32)


def fusion_model(skeleton: keras.Model, rgb_features: int, num_classes: int, width: int = 64,
                 dropout: float = 0.5) -> keras.Model:
    """Intermediate fusion: a fresh skeleton trunk shaped as ``skeleton`` and a small temporal
    convolution over per-frame RGB features, each pooled to a vector, concatenated, then one
    classifier trained on both (the input is :func:`pack_inputs`'s).

    Args:
        skeleton: a skeleton model (its architecture is cloned, its weights are not reused).
        rgb_features: features per frame of the RGB input (notebook 05's cached MobileNetV2 features).
        num_classes: outputs.
        width: filters of the RGB convolution.

    Returns:
        An uncompiled model on ``(T, J * 4 + rgb_features)``.
    """
    trunk = keras.models.clone_model(skeleton)
    trunk = keras.Model(trunk.inputs, trunk.get_layer("skeleton_features").output, name="skeleton_trunk")
    frames, joints, channels = trunk.input_shape[1:]
    packed = keras.Input((frames, joints * channels + rgb_features), name="joints_and_rgb")
    pose = keras.layers.Reshape((frames, joints, channels))(packed[..., : joints * channels])
    rgb = keras.layers.Dropout(dropout)(packed[..., joints * channels:])
    rgb = keras.layers.Conv1D(width, 3, padding="same", activation="relu")(rgb)
    rgb = keras.layers.GlobalAveragePooling1D(name="rgb_embedding")(rgb)
    joined = keras.layers.Concatenate(name="fused_features")([trunk(pose), rgb])
    outputs = keras.layers.Dense(num_classes, activation="softmax")(keras.layers.Dropout(dropout)(joined))
    return keras.Model(packed, outputs, name="skeleton_rgb_fusion")
