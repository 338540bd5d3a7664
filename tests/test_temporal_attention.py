"""The attention heads, the multi-scale block, the mask targets and the segmenting clip model."""
import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from course_utils import synthetic, video  # noqa: E402
from course_utils import temporal_attention as ta  # noqa: E402

STEPS, FEATURES, CLASSES = 8, 12, 3


def features(n=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, STEPS, FEATURES)).astype(np.float32)


def test_sinusoidal_positions_follow_the_formula():
    code = ta.sinusoidal_positions(5, 6)
    assert code.shape == (5, 6)
    np.testing.assert_allclose(code[0], [0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(code[3, 2], np.sin(3 / 10000 ** (2 / 6)), rtol=1e-6)
    np.testing.assert_allclose(code[3, 3], np.cos(3 / 10000 ** (2 / 6)), rtol=1e-6)
    assert len({tuple(row) for row in np.round(code, 5)}) == 5  # every frame gets its own code
    with pytest.raises(ValueError):
        ta.sinusoidal_positions(4, 5)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_positions_are_added(kind):
    layer = ta.AddPositions(kind)
    x = np.zeros((2, STEPS, 4), np.float32)
    out = np.asarray(layer(x))
    assert out.shape == x.shape
    np.testing.assert_allclose(out[0], out[1])
    if kind == "sinusoidal":
        np.testing.assert_allclose(out[0], ta.sinusoidal_positions(STEPS, 4), atol=1e-6)
    assert np.abs(out).sum() > 0
    with pytest.raises(ValueError):
        ta.AddPositions("rotary")


@pytest.mark.parametrize("options", [{}, {"scales": ta.SCALES}, {"scales": (1,), "blocks": 0},
                                     {"positions": "learned", "blocks": 2}])
def test_heads_give_distributions_and_weights_that_sum_to_one(options):
    model = ta.attention_head((STEPS, FEATURES), CLASSES, dim=16, heads=2, **options)
    x = features()
    probs = model.predict(x, verbose=0)
    assert probs.shape == (len(x), CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    weights = ta.attention_weights(model, x)
    assert weights.shape == (len(x), STEPS) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-5)


def test_positions_make_the_head_see_the_order():
    keras.utils.set_random_seed(0)
    blind = ta.attention_head((STEPS, FEATURES), CLASSES, dim=16, heads=2, positions=None)
    keras.utils.set_random_seed(0)
    ordered = ta.attention_head((STEPS, FEATURES), CLASSES, dim=16, heads=2, positions="sinusoidal")
    x = features()
    gap = lambda m: np.abs(m.predict(x, verbose=0) - m.predict(x[:, ::-1], verbose=0)).max()  # noqa: E731
    assert gap(blind) < 1e-5
    assert gap(ordered) > 1e-4


def test_each_removed_scale_changes_the_model():
    layer_names = lambda m: {l.name for l in m.layers if l.name.startswith("scale_")}  # noqa: E731
    full = ta.attention_head((STEPS, FEATURES), CLASSES, dim=16, heads=2, scales=ta.SCALES)
    assert layer_names(full) == {f"scale_{d}" for d in ta.SCALES}
    for removed in ta.SCALES:
        kept = tuple(d for d in ta.SCALES if d != removed)
        ablated = ta.attention_head((STEPS, FEATURES), CLASSES, dim=16, heads=2, scales=kept)
        assert layer_names(ablated) == {f"scale_{d}" for d in kept}
        assert ablated.count_params() < full.count_params()
    assert sum(ta.branch_contributions(full).values()) == pytest.approx(1.0)


def test_a_dilated_branch_reaches_further_in_time():
    """A change in one frame moves the output of frames up to the branch's reach, not beyond."""
    for dilation, reach in ((1, 1), (4, 4)):
        inputs = keras.Input((16, 1))
        conv = keras.layers.Conv1D(1, 3, dilation_rate=dilation, padding="same", kernel_initializer="ones")
        model = keras.Model(inputs, conv(inputs))
        x = np.zeros((1, 16, 1), np.float32)
        bumped = x.copy()
        bumped[0, 8] = 1
        changed = np.flatnonzero(np.abs(model.predict(bumped, verbose=0) - model.predict(x, verbose=0))[0, :, 0] > 0)
        assert changed.min() == 8 - reach and changed.max() == 8 + reach


def test_mask_iou_on_known_masks():
    a = np.zeros((2, 4, 4), bool)
    b = np.zeros((2, 4, 4), bool)
    a[0, :2] = True          # 8 pixels
    b[0, :1] = True          # 4 of them: IoU 0.5
    a[1, 0, 0] = True        # disjoint: IoU 0
    b[1, 3, 3] = True
    assert ta.mask_iou(a, b) == pytest.approx(0.25)
    assert ta.mask_iou(a, a) == 1.0
    assert ta.mask_iou(np.zeros((1, 3, 3)), np.zeros((1, 3, 3))) == 1.0  # both empty
    with pytest.raises(ValueError):
        ta.mask_iou(a, b[:, :3])


def test_clip_masks_follow_the_fit_and_crop_of_the_clips(tmp_path):
    """A mask that is True on the video's left half stays on the clip's left half after the
    cover-resize and the centre crop, and a mask moving over time keeps its frame order."""
    frames, height, width = 20, 40, 80
    mask = np.zeros((frames, height, width), bool)
    mask[:, :, : width // 2] = True
    mask[np.arange(frames) >= 10, :, :] = False  # empty from frame 10 on
    path = tmp_path / "a.npz"
    np.savez(path, joints=np.zeros((frames, 1, 2)), joint_names=np.array(["head"]),
             mask_bits=np.packbits(mask, axis=-1), mask_shape=np.array(mask.shape))
    assert (synthetic.load_ground_truth(path)["mask"] == mask).all()
    table = pd.DataFrame({"gt": ["a.npz"], "split": ["test"]})
    table.attrs["root"] = str(tmp_path)
    out = ta.clip_masks(table, "test", clip_frames=8, image_size=16, mask_size=8)
    assert out.shape == (1, 8, 8, 8) and out.dtype == bool
    cached_picks = video.uniform_indices(frames, 16)[video.uniform_indices(16, 8)]
    for t, source in enumerate(cached_picks):
        if source < 10:
            assert out[0, t, :, :4].all() and not out[0, t, :, 4:].any()  # the centre crop holds the boundary
        else:
            assert not out[0, t].any()


def test_segmenting_model_shapes_and_a_tiny_run_learns():
    """Bright square on the left (class 0) or the right (class 1): the model learns both the class
    and the mask above chance within a few epochs."""
    rng = np.random.default_rng(0)
    n, steps, side = 48, 4, 16
    labels = rng.integers(0, 2, n)
    clips = rng.integers(0, 40, (n, steps, side, side, 3)).astype(np.uint8)
    masks = np.zeros((n, steps, side // 2, side // 2), bool)
    for i, label in enumerate(labels):
        columns = slice(1, 7) if label == 0 else slice(9, 15)
        clips[i, :, 4:12, columns] = 250
        masks[i, :, 2:6, slice(columns.start // 2, columns.stop // 2)] = True
    keras.utils.set_random_seed(0)
    model = ta.segmenting_clip_model((steps, side, side, 3), 2, filters=(8, 8, 8), dropout=0.0)
    assert model.output["mask"].shape[1:] == (steps, side // 2, side // 2)
    ta.fit_multitask(model, (clips, labels, masks), (clips, labels, masks), epochs=12, batch_size=8,
                     learning_rate=1e-2, seed=0)
    out = model.predict(clips, verbose=0)
    assert np.mean(out["label"].argmax(axis=1) == labels) > 0.8
    assert ta.mask_iou(out["mask"] > 0.5, masks) > 0.4
    cam = ta.frame_gradcam(model, clips[0], int(labels[0]))
    assert cam.shape == (steps, 2, 2) and cam.max() <= 1.0 + 1e-6 and cam.min() >= 0


def test_the_threshold_is_the_one_with_the_best_iou_and_dice_rewards_overlap():
    truth = np.zeros((1, 2, 4, 4), bool)
    truth[..., :2, :2] = True
    probs = np.where(truth, 0.3, 0.1)  # only thresholds between 0.1 and 0.3 recover the truth
    assert 0.1 <= ta.choose_threshold(probs, truth) < 0.3
    y = truth.astype(np.float32)
    perfect = float(np.asarray(ta.bce_dice_loss(y, np.clip(y, 1e-4, 1 - 1e-4)))[0])
    inverted = float(np.asarray(ta.bce_dice_loss(y, np.clip(1 - y, 1e-4, 1 - 1e-4)))[0])
    assert perfect < 0.01 and inverted > 1.0
