"""The skeleton stream: joint files, frame sampling, normalisation, the graph and the models."""
import numpy as np
import pandas as pd
import pytest

from course_utils import pipeline, skeleton, training, video
from course_utils.actions import BONES, JOINT_NAMES

J = len(JOINT_NAMES)
WRIST = JOINT_NAMES.index("r_wrist")


def standing(frames: int = 16) -> np.ndarray:
    """A still figure ``(frames, J, 2)`` in pixels: every joint below the head, spread a little sideways."""
    rng = np.random.default_rng(0)
    pose = np.stack([rng.uniform(-5, 5, J), np.linspace(0, 60, J)], axis=1)
    pose[JOINT_NAMES.index("neck")] = (0, 10)
    pose[JOINT_NAMES.index("pelvis")] = (0, 35)
    return np.repeat(pose[None], frames, axis=0).astype(np.float32)


def arm_clip(up: bool, rng: np.random.Generator, frames: int = 16) -> np.ndarray:
    """The right wrist rising (``up``) or falling over the clip, placed and sized at random."""
    clip = standing(frames)
    height = np.linspace(0, 25, frames) if up else np.linspace(25, 0, frames)
    clip[:, WRIST, 1] = 30 - height
    clip += rng.normal(0, 0.3, clip.shape)
    return (clip * rng.uniform(0.5, 2.0) + rng.uniform(0, 100, 2)).astype(np.float32)


def write_joints(path, joints) -> str:
    np.savez(path, joints=joints, joint_names=np.array(JOINT_NAMES))
    return path.name


# --------------------------------------------------------------------------- files and sampling


def test_load_joints_reads_what_was_written(tmp_path):
    clip = standing(12)
    write_joints(tmp_path / "a.npz", clip)
    assert np.array_equal(skeleton.load_joints(tmp_path / "a.npz"), clip)


def test_missing_corrupt_or_misshapen_joint_files_name_the_file(tmp_path):
    with pytest.raises(skeleton.SkeletonError, match="gone.npz"):
        skeleton.load_joints(tmp_path / "gone.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip archive")
    with pytest.raises(skeleton.SkeletonError, match="broken.npz.*unreadable"):
        skeleton.load_joints(tmp_path / "broken.npz")
    np.savez(tmp_path / "nojoints.npz", mask=np.zeros(3))
    with pytest.raises(skeleton.SkeletonError, match="nojoints.npz"):
        skeleton.load_joints(tmp_path / "nojoints.npz")
    write_joints(tmp_path / "flat.npz", np.zeros((5, J, 3)))
    with pytest.raises(skeleton.SkeletonError, match="flat.npz.*shape"):
        skeleton.load_joints(tmp_path / "flat.npz")


@pytest.mark.parametrize("num_frames", [20, 47, 80])
def test_evaluation_frames_are_those_of_the_rgb_clip(num_frames):
    cached = video.uniform_indices(num_frames, pipeline.CACHE_FRAMES_FACTOR * 16)
    expected = cached[video.uniform_indices(len(cached), 16)]
    assert np.array_equal(pipeline.clip_frame_indices(num_frames, 16), expected)


def test_training_frames_are_random_ordered_and_in_range():
    rng = np.random.default_rng(1)
    draws = [pipeline.clip_frame_indices(60, 16, training=True, rng=rng, speed=(0.6, 1.0)) for _ in range(20)]
    assert all(len(d) == 16 and d.min() >= 0 and d.max() < 60 and np.all(np.diff(d) >= 0) for d in draws)
    assert len({tuple(d) for d in draws}) > 1


# --------------------------------------------------------------------------- normalisation and features


def test_features_ignore_where_and_how_large_the_figure_is():
    clip = arm_clip(True, np.random.default_rng(2))
    moved = 2.5 * clip + np.array([37.0, -11.0])
    assert np.allclose(skeleton.joint_features(clip), skeleton.joint_features(moved), atol=1e-5)


def test_normalisation_keeps_the_movement_of_the_whole_body():
    clip = standing(16)
    clip += np.linspace(0, 30, 16)[:, None, None] * np.array([1.0, 0.0])  # walks to the right
    pelvis = skeleton.normalize(clip)[:, JOINT_NAMES.index("pelvis")]
    assert np.allclose(pelvis.mean(axis=0), 0, atol=1e-5)
    assert pelvis[-1, 0] - pelvis[0, 0] == pytest.approx(30 / skeleton.torso_length(clip), rel=1e-4)


def test_features_are_positions_then_velocities():
    clip = arm_clip(False, np.random.default_rng(3))
    features = skeleton.joint_features(clip)
    assert features.shape == (16, J, skeleton.FEATURES_PER_JOINT) and features.dtype == np.float32
    assert np.allclose(features[1:, :, 2:], np.diff(features[:, :, :2], axis=0), atol=1e-6)
    assert np.allclose(features[0, :, 2:], features[1, :, 2:])


def test_mirror_swaps_sides_and_undoes_itself():
    clip = arm_clip(True, np.random.default_rng(4))
    flipped = skeleton.mirror(clip)
    left = JOINT_NAMES.index("l_wrist")
    assert np.allclose(flipped[:, left, 0], -clip[:, WRIST, 0])
    assert np.allclose(skeleton.mirror(flipped), clip)


def test_jitter_scales_with_the_figure():
    rng = np.random.default_rng(5)
    clip = standing(200)
    small = skeleton.add_jitter(clip, 0.1, np.random.default_rng(6)) - clip
    large = skeleton.add_jitter(3 * clip, 0.1, np.random.default_rng(6)) - 3 * clip
    assert np.allclose(large, 3 * small, atol=1e-4)
    assert small.std() == pytest.approx(0.1 * skeleton.torso_length(clip), rel=0.05)
    assert skeleton.add_jitter(clip, 0.0, rng) == pytest.approx(clip)


def test_skeleton_arrays_are_seeded_and_views_are_video_major(tmp_path):
    rng = np.random.default_rng(7)
    rows = pd.DataFrame({"gt": [write_joints(tmp_path / f"{i}.npz", arm_clip(i % 2 == 0, rng, 40)) for i in range(3)],
                         "frames": [40, 40, 40]})
    plain = skeleton.skeleton_arrays(rows, tmp_path, 16)
    assert plain.shape == (3, 16, J, 4)
    views = skeleton.skeleton_arrays(rows, tmp_path, 16, training=True, views=4, seed=1)
    assert views.shape == (12, 16, J, 4)
    assert np.array_equal(views, skeleton.skeleton_arrays(rows, tmp_path, 16, training=True, views=4, seed=1))
    noisy = skeleton.skeleton_arrays(rows, tmp_path, 16, jitter=0.2, seed=1)
    assert not np.allclose(noisy, plain)
    rows.loc[1, "gt"] = "missing.npz"
    with pytest.raises(skeleton.SkeletonError, match="missing.npz"):
        skeleton.skeleton_arrays(rows, tmp_path, 16)


# --------------------------------------------------------------------------- the graph and the models


def test_adjacency_is_symmetric_normalised_and_follows_the_bones():
    graph = skeleton.adjacency()
    assert graph.shape == (J, J) and np.allclose(graph, graph.T)
    linked = {(JOINT_NAMES.index(a), JOINT_NAMES.index(b)) for a, b in BONES}
    linked |= {(b, a) for a, b in linked} | {(i, i) for i in range(J)}
    assert {tuple(ij) for ij in np.argwhere(graph > 0)} == linked
    assert np.linalg.eigvalsh(graph).max() == pytest.approx(1.0, abs=1e-5)  # D^-1/2 (A+I) D^-1/2


def test_graph_conv_mixes_only_neighbours():
    layer = skeleton.GraphConv(8, skeleton.adjacency())
    x = np.random.default_rng(8).normal(size=(1, 4, J, 4)).astype(np.float32)
    changed = x.copy()
    changed[..., JOINT_NAMES.index("l_ankle"), :] += 5.0
    diff = np.abs(np.asarray(layer(changed)) - np.asarray(layer(x))).sum(axis=(0, 1, 3))
    moved = {i for i in range(J) if diff[i] > 1e-5}
    assert moved == {JOINT_NAMES.index(n) for n in ("l_ankle", "l_knee")}
    assert layer.compute_output_shape((None, 4, J, 4)) == (None, 4, J, 8)


def test_pack_inputs_refuses_clips_that_do_not_match():
    with pytest.raises(ValueError, match="same clips"):
        skeleton.pack_inputs(np.zeros((3, 16, J, 4)), np.zeros((2, 16, 8)))
    assert skeleton.pack_inputs(np.zeros((3, 16, J, 4)), np.ones((3, 16, 8))).shape == (3, 16, J * 4 + 8)


@pytest.mark.parametrize("build", [skeleton.temporal_conv_model, skeleton.graph_conv_model])
def test_a_tiny_model_tells_rising_from_falling(build):
    """Up and down are the same poses in another order: only the motion separates them."""
    rng = np.random.default_rng(9)
    def make(n):
        up = np.arange(n) % 2 == 0
        return np.stack([skeleton.joint_features(arm_clip(u, rng)) for u in up]), (~up).astype(np.int32)
    train, val, test = make(48), make(16), make(32)
    model = build((16, J, 4), 2)
    training.fit_arrays(model, train, val, epochs=15, batch_size=16, seed=0)
    accuracy = np.mean(model.predict(test[0], verbose=0).argmax(1) == test[1])
    assert accuracy >= 0.9


def test_fusion_model_trains_on_both_inputs():
    rng = np.random.default_rng(10)
    joints = rng.normal(size=(24, 16, J, 4)).astype(np.float32)
    labels = (np.arange(24) % 2).astype(np.int32)
    rgb = rng.normal(size=(24, 16, 6)).astype(np.float32)
    rgb[:, :, 0] += 3 * labels[:, None]  # only the RGB part tells the classes apart
    model = skeleton.fusion_model(skeleton.temporal_conv_model((16, J, 4), 2), 6, 2)
    packed = skeleton.pack_inputs(joints, rgb)
    training.fit_arrays(model, (packed, labels), (packed, labels), epochs=15, batch_size=8, seed=0)
    assert np.mean(model.predict(packed, verbose=0).argmax(1) == labels) >= 0.9
