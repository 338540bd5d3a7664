"""The tf.data pipeline: shapes, the frame cache behind it, augmentation that treats a clip as one
thing, time order kept, class balance, and the same batches under the same seed.

The clips are tiny arrays written straight into a frame-cache layout (:func:`make_table`): 16
cached frames of 36x36 for 8x32x32 inputs. ``brighten`` clips get brighter frame by frame,
``darken`` clips are the same clips reversed (a motion-only pair), ``still`` clips do not change.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from course_utils import cache, pipeline

CLASSES = ("brighten", "darken", "still")
T, S, CACHE_T, CACHE_S = 8, 32, 16, 36


def ramp_clip(label: str, seed: int, frames: int = CACHE_T, size: int = CACHE_S) -> np.ndarray:
    """A textured clip whose brightness rises (``brighten``), falls (``darken``) or stays (``still``)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 40, (size, size, 3))
    level = {"brighten": np.linspace(40, 200, frames), "darken": np.linspace(200, 40, frames),
             "still": np.full(frames, 120.0)}[label]
    return np.clip(texture[None] + level[:, None, None, None], 0, 255).astype(np.uint8)


def make_table(folder: Path, per_class: dict[str, int] | None = None,
               splits: tuple[str, ...] = ("train", "train", "val", "test")) -> pd.DataFrame:
    """A clip table (as ``pipeline.clip_table`` returns) of ramp clips cached under ``folder``:
    ``per_class`` clips of each class (default 4), split in turn by ``splits``."""
    per_class = per_class or {name: 4 for name in CLASSES}
    rows = []
    for label_index, label in enumerate(sorted(per_class)):
        for i in range(per_class[label]):
            path = Path(folder) / label / f"{label}_{i}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            cache.save_npy_atomic(path, ramp_clip(label, seed=i))
            rows.append({"path": f"{label}/{label}_{i}.avi", "label": label, "subject": f"s{i}",
                         "split": splits[i % len(splits)], "cache_path": str(path), "label_index": label_index})
    table = pd.DataFrame(rows)
    table["label_index"] = table["label_index"].astype(np.int32)
    table.attrs = {"class_names": sorted(per_class), "cache": {"frames": CACHE_T, "size": CACHE_S, "fit": "crop"}}
    return table


@pytest.fixture
def table(tmp_path) -> pd.DataFrame:
    return make_table(tmp_path)


def batches(data: pipeline.ClipDataset) -> list[tuple[np.ndarray, ...]]:
    return [tuple(part.numpy() for part in batch) for batch in data.dataset]


def test_cache_spec_leaves_room_for_crops_and_speed():
    spec = pipeline.cache_spec(16, 64)
    assert (spec.frames, spec.size, spec.sampling) == (32, 72, "uniform")
    assert pipeline.cache_spec(16, 112).size == 126 and pipeline.CacheSpec(None, 72).sampling == "all"


def test_clip_table_caches_real_videos(tmp_path, write_clip):
    from course_utils.jobs import sha256_file

    rows = []
    for i, label in enumerate(["a", "b", "a"]):
        video = write_clip(tmp_path / "videos" / label / f"{label}{i}.avi", frames=12, height=48, width=64, seed=i)
        rows.append({"path": f"{label}/{video.name}", "label": label, "subject": f"s{i}", "split": "train",
                     "frames": 12, "fps": 15.0, "width": 64, "height": 48, "sha256": sha256_file(video)})
    manifest = pd.DataFrame(rows)
    manifest.attrs["root"] = str(tmp_path / "videos")
    table = pipeline.clip_table(manifest, tmp_path / "cache", pipeline.cache_spec(T, S), workers=1, progress=False)
    assert table.attrs["class_names"] == ["a", "b"] and list(table["label_index"]) == [0, 1, 0]
    clip = cache.load_cached(table["cache_path"][0])
    assert clip.shape == (2 * T, CACHE_S, CACHE_S, 3) and clip.dtype == np.uint8


def test_training_batches_have_the_promised_shape(table):
    data = pipeline.make_dataset(table, "train", T, S, batch_size=2, training=True, seed=0)
    assert data.steps == 3 and int(data.dataset.cardinality()) == 3  # 6 training clips, last batch dropped
    x, y = batches(data)[0]
    assert x.shape == (2, T, S, S, 3) and x.dtype == np.float32 and y.dtype == np.int32
    assert 0 <= x.min() and x.max() <= 255


def test_the_same_seed_gives_the_same_batches(table):
    def epochs(seed: int) -> list:
        data = pipeline.make_dataset(table, "train", T, S, batch_size=2, training=True, seed=seed)
        return [batches(data) for _ in range(2)]

    first, again, other = epochs(3), epochs(3), epochs(4)
    for a, b in zip(first, again):
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    flat = lambda run: np.concatenate([x for epoch in run for x, _ in epoch])  # noqa: E731
    assert not np.array_equal(flat(first), flat(other))
    assert not np.array_equal(np.concatenate([x for x, _ in first[0]]), np.concatenate([x for x, _ in first[1]]))


def test_augmentation_is_the_same_on_every_frame(table):
    """A still clip stays still: crop, scale, flip and colour never differ between its frames."""
    still = table[table["label"] == "still"].assign(split="train")
    still.attrs = table.attrs
    data = pipeline.make_dataset(still, "train", T, S, batch_size=4, training=True, seed=1)
    x, _ = batches(data)[0]
    np.testing.assert_allclose(x, np.repeat(x[:, :1], T, axis=1), atol=1e-3)
    assert len({round(float(clip.mean()), 2) for clip in x}) == 4  # each clip its own crop and colour


def test_sampling_keeps_time_in_order(table):
    for training in (True, False):
        data = pipeline.make_dataset(table, ["train", "val", "test"], T, S, batch_size=4, training=training, seed=2,
                                     augment=pipeline.Augment(brightness=0, contrast=0))
        for x, y in batches(data):
            levels = x.mean(axis=(2, 3, 4))
            steps = np.diff(levels, axis=1)
            for name, step in zip(np.array(data.class_names)[y], steps):
                assert {"brighten": (step >= 0).all(), "darken": (step <= 0).all(),
                        "still": np.abs(step).max() < 1e-3}[name]


def test_temporal_indices():
    rng = np.random.default_rng(0)
    for _ in range(20):
        picks = pipeline.temporal_indices(32, 16, True, rng, "segments", (0.6, 1.0))
        assert picks.shape == (16,) and picks.min() >= 0 and picks.max() < 32 and (np.diff(picks) >= 0).all()
        assert picks.max() - picks.min() >= 0.6 * 32 - 16 / 16 * 3
    np.testing.assert_array_equal(pipeline.temporal_indices(32, 16, False, rng), np.rint(np.linspace(0, 31, 16)))
    views = [pipeline.temporal_indices(32, 8, False, rng, view=v, views=3) for v in range(3)]
    assert views[0][0] == 0 and views[2][-1] == 31 and views[0][0] < views[1][0] < views[2][0]


def test_evaluation_is_ordered_and_has_several_clips_per_video(table):
    data = pipeline.make_dataset(table, "test", T, S, batch_size=2, training=False, clips_per_video=2)
    assert len(data.elements) == 2 * len(data.videos) and data.steps == 3
    first, second = batches(data), batches(data)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in first]), data.labels)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in first]), np.concatenate([b[0] for b in second]))
    x = np.concatenate([b[0] for b in first])
    assert not np.array_equal(x[0], x[1])  # two windows of the same video


def test_flip_is_a_per_class_option():
    rng = np.random.default_rng(0)
    augment = pipeline.Augment()
    flips = [pipeline.crop_box(36, 36, 32, True, rng, augment, flippable=True)[1] for _ in range(40)]
    assert 5 < sum(flips) < 35
    assert not any(pipeline.crop_box(36, 36, 32, True, rng, augment, flippable=False)[1] for _ in range(40))
    box, flip = pipeline.crop_box(36, 36, 32, False, rng, augment, True)
    assert box.tolist() == [2, 2, 32] and not flip
    for _ in range(20):
        (top, left, side), _ = pipeline.crop_box(36, 48, 32, True, rng, augment, True)
        assert 0.8 * 36 - 1 <= side <= 36 and top + side <= 36 and left + side <= 48


def test_render_clip_cuts_mirrors_and_recolours_every_frame_alike():
    frames = ramp_clip("brighten", seed=0)
    plain = pipeline.render_clip(frames, np.array([2, 2, 32]), False, np.array([0.0, 1.0]), 32)
    np.testing.assert_array_equal(plain, frames[:, 2:34, 2:34])
    mirrored = pipeline.render_clip(frames, np.array([2, 2, 32]), True, np.array([0.0, 1.0]), 32)
    np.testing.assert_array_equal(mirrored, plain[:, :, ::-1])
    brighter = pipeline.render_clip(frames, np.array([0, 0, 36]), False, np.array([10.0, 1.0]), 32)
    assert brighter.shape == (CACHE_T, 32, 32, 3) and brighter.dtype == np.uint8
    resized = pipeline.render_clip(frames, np.array([0, 0, 36]), False, np.array([0.0, 1.0]), 32)
    np.testing.assert_allclose(brighter.astype(float) - resized, 10, atol=1)


def test_no_flip_classes_are_never_mirrored(tmp_path):
    """A clip brighter on its left stays brighter on its left when its class may not be flipped."""
    table = make_table(tmp_path, {"brighten": 8, "darken": 8}, splits=("train",))
    for path in table["cache_path"]:
        clip = cache.load_cached(path).copy()
        clip[:, :, :18] = 250
        cache.save_npy_atomic(path, clip)
    only_flip = pipeline.Augment(crop_scale=(1.0, 1.0), no_flip=("darken",), brightness=0, contrast=0)
    data = pipeline.make_dataset(table, "train", T, S, batch_size=16, training=True, seed=0, augment=only_flip)
    x, y = batches(data)[0]
    left_brighter = x[..., :16, :].mean(axis=(1, 2, 3, 4)) > x[..., 16:, :].mean(axis=(1, 2, 3, 4))
    names = np.array(data.class_names)[y]
    assert left_brighter[names == "darken"].all() and not left_brighter[names == "brighten"].all()


def test_reversed_pairs_swap_the_label_with_the_direction_of_time(tmp_path):
    """``Augment.reverse``: a training clip of a pair (brighten <-> darken: each other reversed)
    played backwards takes the other label, so every label still matches its direction of change;
    about half of the pair's clips are reversed, still clips and evaluation never."""
    from course_utils import actions

    table = make_table(tmp_path, {"brighten": 8, "darken": 8, "still": 8}, splits=("train",))
    for path, label in zip(table["cache_path"], table["label"]):
        clip = cache.load_cached(path).copy()
        clip[:, :6] = 255 if label == "brighten" else 0  # which class the clip was made as, in every frame
        cache.save_npy_atomic(path, clip)
    augment = pipeline.Augment(crop_scale=(1.0, 1.0), flip=False, brightness=0, contrast=0, reverse=(("brighten", "darken"),))
    data = pipeline.make_dataset(table, "train", T, S, batch_size=24, training=True, seed=0, augment=augment)
    reversed_count = 0
    for _ in range(2):
        x, y = batches(data)[0]
        names = np.array(data.class_names)[y]
        levels = x[:, :, 8:].mean(axis=(2, 3, 4))
        change = levels[:, -1] - levels[:, 0]
        assert (change[names == "brighten"] > 50).all() and (change[names == "darken"] < -50).all()
        made_as = np.where(x[:, 0, :3].mean(axis=(1, 2, 3)) > 200, "brighten", "darken")
        pair = names != "still"
        reversed_count += int((made_as[pair] != names[pair]).sum())
        assert np.bincount(y, minlength=3)[2] == 8
    assert 8 <= reversed_count <= 24  # of 32 pair clips in two epochs
    evaluation = pipeline.make_dataset(table.assign(split="test"), "test", T, S, batch_size=24, training=False, augment=augment)
    assert (batches(evaluation)[0][1] == table["label_index"].to_numpy()).all()
    np.testing.assert_array_equal(pipeline.reversal_labels(["brighten", "darken", "still"], augment.reverse), [1, 0, -1])
    with pytest.raises(ValueError, match="jump"):
        pipeline.reversal_labels(["brighten", "darken"], (("brighten", "jump"),))
    assert actions.reversed_pairs(actions.CLASSES) == (("sit_down", "stand_up"),)
    assert actions.reversed_pairs(["sit_down", "walk"]) == ()


def test_balanced_sampler_and_class_weights(tmp_path):
    table = make_table(tmp_path, {"brighten": 12, "darken": 2, "still": 2}, splits=("train",))
    weights = pipeline.class_weights(table["label_index"], 3)
    np.testing.assert_allclose(weights, [16 / 36, 16 / 6, 16 / 6], rtol=1e-6)
    plain = pipeline.make_dataset(table, "train", T, S, batch_size=16, training=True, seed=0)
    balanced = pipeline.make_dataset(table, "train", T, S, batch_size=16, training=True, seed=0, balanced=True)
    assert np.bincount(batches(plain)[0][1], minlength=3).tolist() == [12, 2, 2]
    assert np.bincount(batches(balanced)[0][1], minlength=3).max() <= 9  # about 16 / 3 each
    weighted = pipeline.make_dataset(table, "train", T, S, batch_size=16, training=True, seed=0, weighted=True)
    x, y, w = batches(weighted)[0]
    np.testing.assert_allclose(w, weights[y])


def test_bad_requests_are_clear_errors(table):
    with pytest.raises(ValueError, match="no clips in split"):
        pipeline.make_dataset(table, "nowhere", T, S, 2, training=True)
    with pytest.raises(ValueError, match="smaller than image_size"):
        pipeline.make_dataset(table, "train", T, 64, 2, training=True)
    with pytest.raises(ValueError, match="fewer than one batch"):
        pipeline.make_dataset(table, "train", T, S, 16, training=True)


class CountingSource:
    """Five elements numbered 0-4, the interface ``pipeline.Stacked`` needs."""

    def __call__(self):
        for i in range(5):
            yield {"frames": np.full((2, 3), i, np.uint8), "label": np.int32(i)}

    def signature(self):
        return {"frames": tf.TensorSpec((2, 3), tf.uint8), "label": tf.TensorSpec((), tf.int32)}


@pytest.mark.parametrize("drop_remainder, sizes", [(True, [2, 2]), (False, [2, 2, 1])])
def test_stacked_batches_keep_the_order_and_drop_like_dataset_batch(drop_remainder, sizes):
    stacks = pipeline.Stacked(CountingSource(), 2, drop_remainder)
    batches = list(stacks())
    assert [len(b["label"]) for b in batches] == sizes
    assert np.concatenate([b["label"] for b in batches]).tolist() == list(range(sum(sizes)))
    assert all((b["frames"][:, 0, 0] == b["label"]).all() for b in batches)
    assert stacks.signature()["frames"].shape.as_list() == [2 if drop_remainder else None, 2, 3]
