"""Evaluation: the scores against hand-computed values, the interval, the pairwise accuracy of a
motion pair, video-level averaging, and the two "does it use time" checks on a model that reads
the direction of time (and so must fail on reversed clips)."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras  # noqa: E402

from course_utils import evaluation, pipeline  # noqa: E402
from test_pipeline import S, T, make_table  # noqa: E402

matplotlib.use("Agg")


def test_classification_metrics_by_hand():
    labels = np.array([0, 0, 1, 2])
    probs = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .8, .1], [.3, .3, .4]])
    scores = evaluation.classification_metrics(labels, probs)
    assert scores["accuracy"] == 0.75 and "top5_accuracy" not in scores
    assert scores["macro_recall"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert scores["macro_precision"] == pytest.approx((1 + 0.5 + 1) / 3)
    many = np.eye(7)[[1, 2, 3, 4, 5, 6, 0]] * 0.5 + np.linspace(0.01, 0.07, 7)
    assert evaluation.classification_metrics(np.arange(7), many)["top5_accuracy"] == pytest.approx(5 / 7)


def test_wilson_interval():
    low, high = evaluation.accuracy_interval(84, 112)
    assert low == pytest.approx(0.6624, abs=1e-4) and high == pytest.approx(0.8210, abs=1e-4)  # by hand: 0.7417 +- 0.0793
    assert evaluation.accuracy_interval(0, 10)[0] == 0.0 and evaluation.accuracy_interval(10, 10)[1] == 1.0


def test_pairwise_accuracy_compares_only_the_two_classes():
    labels = np.array([0, 0, 1, 1, 2])
    probs = np.array([[.5, .1, .4], [.1, .2, .7], [.3, .3, .4], [.1, .8, .1], [.5, .5, 0]])
    # clip 0: 0.5 > 0.1 yes; clip 1: 0.1 < 0.2 no (class 2 is ignored); clip 2: tie, half; clip 3: yes
    assert evaluation.pairwise_accuracy(labels, probs, 0, 1) == pytest.approx(2.5 / 4)
    assert np.isnan(evaluation.pairwise_accuracy(labels, probs, 3, 4))
    assert evaluation.pair_accuracies(labels, probs, ["a", "b", "c"], [("a", "b")], "_reversed") == \
        {"a_vs_b_reversed_accuracy": pytest.approx(0.625)}


def test_shuffled_order_moves_every_frame():
    order = evaluation.shuffled_order(16, seed=3)
    assert sorted(order) == list(range(16)) and not np.any(order == np.arange(16))


def time_oracle(num_classes: int, rising: int, falling: int) -> keras.Model:
    """Softmax from the brightness change of a clip: rising favours ``rising``, falling ``falling``."""
    inputs = keras.Input((T, S, S, 3))
    change = keras.layers.Lambda(lambda x: keras.ops.mean(x[:, -1] - x[:, 0], axis=(1, 2, 3))[:, None])(inputs)
    weights = np.zeros((1, num_classes), np.float32)
    weights[0, rising], weights[0, falling] = 0.1, -0.1
    dense = keras.layers.Dense(num_classes, activation="softmax")
    model = keras.Model(inputs, dense(change))
    dense.set_weights([weights, np.zeros(num_classes, np.float32)])
    return model


@pytest.fixture(scope="module")
def test_set(tmp_path_factory) -> pipeline.ClipDataset:
    table = make_table(tmp_path_factory.mktemp("clips"), {"brighten": 3, "darken": 3}, splits=("test",))
    return pipeline.make_dataset(table, "test", T, S, batch_size=4, training=False, clips_per_video=2)


def test_a_model_of_time_fails_on_reversed_clips(test_set):
    names = test_set.class_names
    model = time_oracle(2, names.index("brighten"), names.index("darken"))
    result = evaluation.evaluate(model, test_set, pairs=[("brighten", "darken")], timing=False)
    m = result.metrics
    assert m["test_accuracy"] == 1.0 and m["clip_accuracy"] == 1.0 and m["brighten_vs_darken_accuracy"] == 1.0
    assert m["reversed_accuracy"] == 0.0 and m["brighten_vs_darken_reversed_accuracy"] == 0.0
    assert 0.0 <= m["shuffled_accuracy"] <= 1.0 and "brighten_vs_darken_shuffled_accuracy" in m
    assert m["test_accuracy_low"] < 1.0 == m["test_accuracy_high"] and m["params"] == 2 * 1 + 2
    assert result.extra["test_videos"] == 6 and result.extra["test_clips"] == 12
    assert list(result.report.index) and set(result.report.columns) >= {"precision", "recall", "f1-score", "support"}
    figure = result.confusion_figure()
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == names


def test_video_scores_average_the_clips_of_a_video(test_set):
    probs = np.tile([[0.9, 0.1], [0.3, 0.7]], (len(test_set.videos), 1))  # view 0 says class 0, view 1 class 1
    video_probs, labels = evaluation.video_scores(probs, test_set)
    np.testing.assert_allclose(video_probs, np.tile([0.6, 0.4], (len(test_set.videos), 1)))
    np.testing.assert_array_equal(labels, test_set.videos["label_index"])
    with pytest.raises(ValueError, match="predictions for"):
        evaluation.video_scores(probs[:3], test_set)


def test_inference_time_is_measured_in_milliseconds():
    model = time_oracle(2, 0, 1)
    ms = evaluation.time_inference(model, (T, S, S, 3), repeats=3, warmup=1)
    assert 0 < ms < 10_000 and evaluation.count_params(model) == 4


def test_flops_count_two_per_multiply_add_and_grow_with_the_frames(caplog):
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    assert evaluation.count_flops(dense, (4,)) == 2 * 4 * 3 + 3  # the weights, then the bias
    conv = {frames: keras.Sequential([keras.Input((frames, 6, 6, 2)), keras.layers.Conv3D(5, 3, padding="same", use_bias=False)])
            for frames in (8, 16)}
    flops = {frames: evaluation.count_flops(model, model.input_shape[1:]) for frames, model in conv.items()}
    assert flops[8] == 2 * (8 * 6 * 6 * 5) * (3 * 3 * 3 * 2) and flops[16] == 2 * flops[8]
    assert not [r for r in caplog.records if "TensorFlow v1" in r.getMessage()]  # the profiler's notice stays quiet


def test_arrays_are_scored_like_clips_and_time_checks_reorder_axis_1():
    class Last(keras.layers.Layer):  # probabilities from the last frame's features only
        def call(self, x):
            return keras.ops.softmax(x[:, -1] * 10.0)

    x = np.zeros((4, 3, 2), np.float32)
    x[[0, 1], -1, 0] = 1.0  # class 0 at the end
    x[[2, 3], 0, 0] = 1.0   # class 0 at the start, so the reversed clip looks like class 0
    x[[2, 3], -1, 1] = 1.0
    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, Last()(inputs))
    arrays = evaluation.Arrays(x, np.array([0, 0, 1, 1]), ["a", "b"])
    result = evaluation.evaluate(model, arrays, pairs=[("a", "b")])
    assert result.metrics["test_accuracy"] == 1.0 and result.metrics["reversed_accuracy"] == 0.5
    table = evaluation.time_check_table(result.metrics, ["a", "b"])
    assert list(table.columns) == ["original", "shuffled", "reversed"] and list(table.index) == ["all classes"]
    assert "inference_ms_per_clip" not in result.extra


def test_top_confusions_lists_the_biggest_mistakes_first():
    labels = np.array([0, 0, 0, 1, 1, 2])
    probs = np.eye(3)[[1, 1, 0, 2, 1, 2]]
    top = evaluation.top_confusions(labels, probs, ["a", "b", "c"])
    assert top.iloc[0].tolist() == ["a", "b", 2, pytest.approx(2 / 3)] and len(top) == 2
