"""The model builders: they build by name, end in a softmax, use no layer the design rules out
(MaxPooling3D, TimeDistributed), keep the time axis where they promise to, save and load with
the course's layers, and convert to TFLite builtins."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import models  # noqa: E402

SHAPE = (8, 32, 32, 3)
SMALL = {"c3d_v1": dict(filters=(4, 8), dense=16), "c3d_v2": dict(filters=(4, 8), temporal_strides=(1, 2))}


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_registered_model_builds_a_softmax(name, clips):
    model = models.build_model(name, SHAPE, 5, **SMALL.get(name, {}))
    probs = model.predict(clips, verbose=0)
    assert model.name == name and probs.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert not kinds & {"MaxPooling3D", "TimeDistributed"}, kinds
    assert "def " in models.model_source(name)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="allowed: .*c3d_v1"):
        models.build_model("c4d", SHAPE, 3)


def test_time_folds_into_the_batch_and_back(clips):
    folded = models.FoldTime()(clips)
    assert tuple(folded.shape) == (16, 32, 32, 3)
    np.testing.assert_array_equal(np.asarray(models.UnfoldTime(8)(folded)), clips)


def test_frame_difference_adds_the_signed_change(clips):
    out = np.asarray(models.FrameDifference()(clips))
    assert out.shape == (2, 8, 32, 32, 6)
    np.testing.assert_array_equal(out[:, 0, ..., 3:], 0)
    np.testing.assert_allclose(out[:, 1:, ..., 3:], clips[:, 1:] - clips[:, :-1], atol=1e-4)


def test_c3d_v2_keeps_time_to_the_classifier_unless_asked_to_average():
    keep = models.build_model("c3d_v2", SHAPE, 3, **SMALL["c3d_v2"])
    average = models.build_model("c3d_v2", SHAPE, 3, **SMALL["c3d_v2"], head="average")
    features = lambda m: m.layers[-1].input.shape[-1]  # noqa: E731  (the classifier's inputs)
    assert features(keep) == 4 * features(average)  # 8 frames, one temporal stride of 2: 4 steps
    for norm in ("batch", "group"):
        bn = [l for l in models.build_model("c3d_v2", SHAPE, 3, norm=norm).layers if "Normalization" in type(l).__name__]
        assert bn and all(getattr(layer, "momentum", models.BN_MOMENTUM) == models.BN_MOMENTUM for layer in bn)


def test_models_save_and_load_with_the_course_layers(tmp_path, clips):
    model = models.build_model("c3d_v2", SHAPE, 3, **SMALL["c3d_v2"])
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(clips, verbose=0), model.predict(clips, verbose=0), atol=1e-6)


def test_c3d_v2_converts_to_tflite_builtins(clips):
    import tensorflow as tf

    model = models.build_model("c3d_v2", SHAPE, 3, **SMALL["c3d_v2"])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # fails on any Flex op
    assert len(converter.convert()) > 1000
