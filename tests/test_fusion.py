"""Late fusion: score files round-trip and align, the weight is chosen on validation, learned fusion."""
import numpy as np
import pytest

from course_utils import config, fusion


@pytest.fixture
def cfg(tmp_path):
    return config.resolve_config("ci", data_dir=tmp_path / "data", artifacts_dir=tmp_path / "artifacts")


def _split(rng, labels, skill, classes=4):
    """Scores that put extra mass on the true class for the videos where ``skill`` is True."""
    probs = rng.dirichlet(np.ones(classes), size=len(labels))
    probs[np.arange(len(labels)), labels] += np.where(skill, 1.0, 0.0)
    return probs / probs.sum(axis=1, keepdims=True)


def test_scores_round_trip_sorted_by_video(cfg):
    videos = ["b.avi", "a.avi", "c.avi"]
    probs = np.eye(3)[[1, 0, 2]]
    path = fusion.save_scores(cfg, "spatial", ["x", "y", "z"], {"test": (videos, [1, 0, 2], probs)})
    assert path.parent == fusion.scores_dir(cfg) and path.name == "spatial.npz"
    loaded = fusion.load_scores(cfg, "spatial")
    assert loaded.class_names == ["x", "y", "z"]
    assert list(loaded["test"].videos) == ["a.avi", "b.avi", "c.avi"]
    assert list(loaded["test"].labels) == [0, 1, 2] and loaded["test"].accuracy() == 1.0
    assert not list(path.parent.glob("*.tmp*"))


def test_missing_or_mismatched_scores_are_clear_errors(cfg):
    with pytest.raises(fusion.ScoresError, match="no scores of the temporal stream"):
        fusion.load_scores(cfg, "temporal")
    with pytest.raises(fusion.ScoresError, match="do not match"):
        fusion.save_scores(cfg, "bad", ["x", "y"], {"val": (["a"], [0], np.ones((1, 3)))})
    fusion.save_scores(cfg, "one", ["x", "y"], {"val": (["a", "b"], [0, 1], np.eye(2))})
    fusion.save_scores(cfg, "two", ["x", "y"], {"val": (["a", "c"], [0, 1], np.eye(2))})
    streams = [fusion.load_scores(cfg, "one"), fusion.load_scores(cfg, "two")]
    with pytest.raises(fusion.ScoresError, match="different val videos"):
        fusion.check_aligned(streams, "val")


def test_weight_chosen_on_validation_follows_the_better_stream():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    good = fusion.SplitScores(np.arange(400), labels, _split(rng, labels, rng.random(400) < 0.9))
    weak = fusion.SplitScores(np.arange(400), labels, _split(rng, labels, rng.random(400) < 0.2))
    weight, curve = fusion.choose_weight(weak, good)
    assert weight > 0.5 and curve[weight] == max(curve.values())
    assert curve[1.0] == good.accuracy() and curve[0.0] == weak.accuracy()
    assert fusion.choose_weight(good, weak)[0] < 0.5


def test_fusion_of_complementary_streams_beats_each_stream():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 600)
    half = np.arange(600) % 2 == 0  # each stream knows a different half of the videos
    first = fusion.SplitScores(np.arange(600), labels, _split(rng, labels, half))
    second = fusion.SplitScores(np.arange(600), labels, _split(rng, labels, ~half))
    average = fusion.weighted_average(first.probs, second.probs, 0.5)
    assert np.mean(average.argmax(1) == labels) > max(first.accuracy(), second.accuracy()) + 0.1
    fit, test = slice(0, 300), slice(300, 600)
    cut = lambda s, part: fusion.SplitScores(s.videos[part], s.labels[part], s.probs[part])
    learned = fusion.learned_fusion([cut(first, fit), cut(second, fit)], [cut(first, test), cut(second, test)])
    assert learned.shape == (300, 4) and np.allclose(learned.sum(1), 1)
    assert np.mean(learned.argmax(1) == labels[test]) > max(cut(first, test).accuracy(), cut(second, test).accuracy()) + 0.1
