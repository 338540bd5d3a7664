"""The temporal stream: stacks of flow (layout, TSN sampling, mean subtraction, the flow-aware
flip, short videos, seeding), the cross-modality initialisation and the stacked-flow model.

The flow is tiny and known: each video's field ``t`` moves a textured square to the right by
``speed * (t + 1) / T`` pixels and down by a fixed amount, over a still background that a
"camera" shifts by one constant vector per field, written as uint8 codes (``flow.quantize``)
into a flow-cache layout (:func:`make_table`).
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from course_utils import cache, evaluation, flow, models, pipeline, temporal

CLASSES = ("left", "right")
FIELDS, SIDE, K, L, S = 14, 20, 2, 4, 16
CODE_STEP = 2 * flow.BOUND / 255  # one quantisation step in pixels


def known_flow(label: str, seed: int, fields: int = FIELDS, side: int = SIDE) -> np.ndarray:
    """Float flow ``(fields, side, side, 2)``: a moving square (``dx`` sign by class) plus camera motion."""
    rng = np.random.default_rng(seed)
    field = np.zeros((fields, side, side, 2), np.float32)
    sign = 1.0 if label == "right" else -1.0
    for t in range(fields):
        field[t, 4:10, 6:14, 0] = sign * 3.0 * (t + 1) / fields
        field[t, 4:10, 6:14, 1] = 1.0
        field[t] += rng.uniform(-2, 2, 2).astype(np.float32)  # the camera: one shift per field
    return field


def make_table(folder: Path, per_class: int = 4, short: bool = False) -> pd.DataFrame:
    """A :func:`temporal.flow_table` of known flows under ``folder``; ``short`` makes the first video 3 fields long."""
    rows, paths = [], []
    for label in CLASSES:
        for i in range(per_class):
            fields = 3 if short and not rows else FIELDS
            path = Path(folder) / label / f"{label}_{i}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            cache.save_npy_atomic(path, flow.quantize(known_flow(label, i, fields)))
            split = ("train", "train", "val", "test")[i % 4]
            rows.append({"path": f"{label}/{label}_{i}.avi", "label": label, "split": split})
            paths.append(path)
    return temporal.flow_table(pd.DataFrame(rows), paths)


@pytest.fixture
def table(tmp_path) -> pd.DataFrame:
    return make_table(tmp_path)


def batches(data: pipeline.ClipDataset) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in data.dataset]


def dataset(table: pd.DataFrame, split: str = "train", training: bool = True, seed: int = 0, **options):
    return temporal.make_flow_dataset(table, split, K, L, S, batch_size=2, training=training, seed=seed, **options)


def test_flow_table_keeps_cached_videos_and_numbers_classes(tmp_path):
    manifest = pd.DataFrame({"path": ["a/1.avi", "b/2.avi", "b/3.avi"], "label": ["a", "b", "b"],
                             "split": ["train"] * 3})
    table = temporal.flow_table(manifest, [tmp_path / "1.npy", None, tmp_path / "3.npy"])
    assert table["path"].tolist() == ["a/1.avi", "b/3.avi"]
    assert table["label_index"].tolist() == [0, 1] and table.attrs["class_names"] == ["a", "b"]
    with pytest.raises(ValueError, match="2 flow files for 3"):
        temporal.flow_table(manifest, [None, None])


def test_stack_indices_follow_tsn_segments():
    rng = np.random.default_rng(0)
    centres = temporal.stack_indices(40, 3, 10, training=False)
    assert centres.shape == (3, 10) and np.all(np.diff(centres, axis=1) == 1)      # consecutive fields
    assert centres[:, 0].tolist() == [5, 15, 25]                                     # 31 starts in 3 parts
    for _ in range(20):
        starts = temporal.stack_indices(40, 3, 10, training=True, rng=rng)[:, 0]
        assert all(low <= s <= high for s, low, high in zip(starts, (0, 10, 20), (10, 20, 30)))  # one per third


def test_a_short_video_repeats_its_edge_fields():
    picks = temporal.stack_indices(4, 2, 10, training=True, rng=np.random.default_rng(0))
    assert picks.shape == (2, 10) and picks.min() == 0 and picks.max() == 3
    assert picks[0].tolist() == [0, 0, 0, 0, 1, 2, 3, 3, 3, 3]                        # centred, clipped


def test_stack_shape_and_interleaved_channel_layout():
    codes = flow.quantize(known_flow("right", 0))
    picks = temporal.stack_indices(FIELDS, K, L, training=False)
    stacks = temporal.render_stacks(codes, picks, np.array([0, 0, SIDE]), False, SIDE)
    assert stacks.shape == (K, SIDE, SIDE, 2 * L) and stacks.dtype == np.float32
    fields = flow.dequantize(codes)
    for k in range(K):
        for i, t in enumerate(picks[k]):
            for c in (0, 1):  # channel 2i is dx of the stack's i-th field, 2i + 1 its dy
                expected = fields[t, ..., c] - fields[t, ..., c].mean()
                np.testing.assert_allclose(stacks[k, ..., 2 * i + c], expected, atol=1e-5)


def test_clip_layout_keeps_time_as_an_axis():
    codes = flow.quantize(known_flow("right", 0))
    picks = temporal.stack_indices(FIELDS, K, L, training=False)
    box = np.array([0, 0, SIDE])
    stacks = temporal.render_stacks(codes, picks, box, False, SIDE)
    clip = temporal.render_stacks(codes, picks, box, False, SIDE, layout="clip")
    assert clip.shape == (K * L, SIDE, SIDE, 2)
    np.testing.assert_array_equal(clip[L + 1], stacks[1, ..., 2:4])                   # stack 1, field 1


def test_mean_subtraction_removes_the_camera(table):
    for x, _ in batches(dataset(table)):
        assert np.abs(x.mean(axis=(2, 3))).max() < 1e-5                               # every stack, every channel
    # the camera shift is gone, the square's own motion is left: the right class moves right
    x, y = next(iter(dataset(table, "train", training=False).dataset))
    square = x.numpy()[:, :, 4:7, 6:10, 0::2].mean(axis=(1, 2, 3, 4))              # inside the square at 16 px
    assert np.all(np.sign(square) == np.where(y.numpy() == CLASSES.index("right"), 1, -1))


def test_resizing_scales_the_vectors():
    field = np.zeros((1, SIDE, SIDE, 2), np.float32)
    field[..., 0] = np.linspace(-4, 4, SIDE)[None, :]                                 # dx grows left to right
    codes = flow.quantize(field)
    half = temporal.render_stacks(codes, np.zeros((1, 1), int), np.array([0, 0, SIDE]), False, SIDE // 2)
    full = temporal.render_stacks(codes, np.zeros((1, 1), int), np.array([0, 0, SIDE]), False, SIDE)
    assert half.shape == (1, SIDE // 2, SIDE // 2, 2)
    assert np.ptp(half[..., 0]) == pytest.approx(np.ptp(full[..., 0]) / 2, rel=0.1)   # half the pixels, half the px


def test_the_flow_flip_mirrors_and_negates_dx():
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 2 * L)).astype(np.float32)
    flipped = temporal.flip_flow(x)
    np.testing.assert_array_equal(flipped[..., 0::2], -x[:, :, ::-1, 0::2])
    np.testing.assert_array_equal(flipped[..., 1::2], x[:, :, ::-1, 1::2])
    np.testing.assert_array_equal(temporal.flip_flow(x, naive=True), x[:, :, ::-1])
    np.testing.assert_array_equal(temporal.flip_flow(flipped), x)                      # a flip twice is no flip


def test_the_flow_flip_is_the_flow_of_the_mirrored_video():
    codes = flow.quantize(known_flow("right", 0))
    mirrored_codes = flow.quantize(temporal.flip_flow(known_flow("right", 0)))
    picks, box = temporal.stack_indices(FIELDS, K, L, training=False), np.array([1, 2, 16])
    flipped = temporal.render_stacks(codes, picks, box, True, S)
    of_mirror = temporal.render_stacks(mirrored_codes, picks, np.array([1, SIDE - 2 - 16, 16]), False, S)
    np.testing.assert_allclose(flipped, of_mirror, atol=2 * CODE_STEP)
    naive = temporal.render_stacks(codes, picks, box, True, S, naive=True)
    assert np.abs(naive - of_mirror)[..., 0::2].max() > 1.0


def test_the_same_seed_gives_the_same_batches(table):
    first, again, other = dataset(table, seed=3), dataset(table, seed=3), dataset(table, seed=4)
    one, two = batches(first), batches(again)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(one, two))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(one, batches(other)))
    next_epoch = batches(first)                                                        # epochs differ ...
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(one, next_epoch))
    first.set_epoch(0)                                                                 # ... and set_epoch replays one
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(one, batches(first)))


def test_evaluation_sets_are_fixed_ordered_and_score_per_video(table):
    test = dataset(table, "val", training=False)
    assert test.steps == 1 and len(test.elements) == len(test.videos) == 2
    x1, x2 = batches(test)[0][0], batches(test)[0][0]
    np.testing.assert_array_equal(x1, x2)
    model = models.build_model("flow_cnn", x1.shape[1:], len(CLASSES), filters=(4, 8))
    result = evaluation.evaluate(model, test, time_checks=False, timing=False)
    assert result.probs.shape == (2, len(CLASSES))
    np.testing.assert_array_equal(result.labels, test.videos["label_index"].to_numpy())
    mirrored = temporal.mirrored(test)
    np.testing.assert_array_equal(batches(mirrored)[0][0], temporal.flip_flow(x1))
    assert mirrored.videos is test.videos and mirrored.steps == test.steps


def test_a_short_video_gets_full_stacks(tmp_path):
    table = make_table(tmp_path, short=True)
    assert cache.load_flow(table.loc[0, "flow_path"]).shape[0] == 3
    x, _ = next(iter(dataset(table, "train", training=False).dataset))
    assert x.shape == (2, K, S, S, 2 * L) and np.isfinite(x.numpy()).all()


def test_bad_options_are_refused(table):
    with pytest.raises(ValueError, match="flip="):
        dataset(table, flip="sideways")
    with pytest.raises(ValueError, match="layout="):
        dataset(table, layout="cube")
    with pytest.raises(ValueError, match="smaller than image_size"):
        temporal.make_flow_dataset(table, "train", K, L, SIDE + 4, batch_size=2, training=True)


def test_cross_modality_kernel_is_the_rgb_mean_replicated():
    rgb = np.random.default_rng(0).normal(size=(3, 3, 3, 5)).astype(np.float32)
    kernel = temporal.cross_modality_kernel(rgb, 20)
    assert kernel.shape == (3, 3, 20, 5)
    for c in range(20):
        np.testing.assert_allclose(kernel[:, :, c], rgb.mean(axis=2), rtol=1e-6)
    with pytest.raises(ValueError, match="RGB kernel"):
        temporal.cross_modality_kernel(kernel, 4)


def test_flow_backbone_starts_from_rgb_weights(tmp_path):
    rgb = models.build_backbone("mobilenet_v2", 32, None, alpha=0.35)
    weights = tmp_path / "rgb.weights.h5"
    rgb.save_weights(weights)
    flow_net = temporal.flow_backbone("mobilenet_v2", 32, 2 * L, weights, alpha=0.35)
    assert flow_net.input_shape == (None, 32, 32, 2 * L)
    rgb_kernel, flow_kernel = temporal.first_conv(rgb).get_weights()[0], temporal.first_conv(flow_net).get_weights()[0]
    np.testing.assert_allclose(flow_kernel, temporal.cross_modality_kernel(rgb_kernel, 2 * L), rtol=1e-6)
    last = next(layer for layer in reversed(rgb.layers) if layer.weights)
    for a, b in zip(last.get_weights(), flow_net.get_layer(last.name).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert flow_net(np.zeros((1, 32, 32, 2 * L), np.float32)).shape == (1, rgb.output_shape[-1])
    tsn = models.build_model("flow_backbone_tsn", (K, 32, 32, 2 * L), 3, rgb_weights=weights, alpha=0.35)
    inner = next(layer for layer in tsn.layers if isinstance(layer, keras.Model))
    np.testing.assert_allclose(temporal.first_conv(inner).get_weights()[0], flow_kernel)
    assert tsn(np.zeros((2, K, 32, 32, 2 * L), np.float32)).shape == (2, 3)


def test_the_stacked_flow_model_builds_and_averages_its_segments():
    model = models.build_model("flow_cnn", (K, S, S, 2 * L), 3)
    x = np.random.default_rng(0).normal(size=(2, K, S, S, 2 * L)).astype(np.float32)
    probs = model(x, training=False).numpy()
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    per_stack = keras.Model(model.input, model.get_layer("consensus").input)(x, training=False).numpy()
    np.testing.assert_allclose(probs, per_stack.mean(axis=1), atol=1e-6)              # the consensus is the mean
    assert all(layer.momentum == models.BN_MOMENTUM for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    assert not any("Pooling3D" in type(layer).__name__ for layer in model.layers)


def test_a_3d_cnn_reads_flow_clips(table):
    clips = dataset(table, layout="clip")
    x, _ = next(iter(clips.dataset))
    assert x.shape == (2, K * L, S, S, 2)
    model = models.build_model("c3d_v2", x.shape[1:], len(CLASSES), frame_difference=False, filters=(4, 8, 8))
    assert model(x, training=False).shape == (2, len(CLASSES))
