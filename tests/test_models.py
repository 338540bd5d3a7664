"""The model builders: they build by name, end in a softmax, use no layer the design rules out
(MaxPooling3D, TimeDistributed), keep the time axis where they promise to, save and load with
the course's layers, and convert to TFLite builtins."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import models, temporal  # noqa: E402,F401  (temporal registers the flow models)

SHAPE = (8, 32, 32, 3)
SMALL = {"c3d_v1": dict(filters=(4, 8), dense=16), "c3d_v2": dict(filters=(4, 8), temporal_strides=(1, 2)),
         "mobilenet_lstm": dict(units=4)}
FEATURE_SHAPE = (8, 6)  # sequence_head: frames x features


def tiny_frame_model(classes: int = 5) -> "models.keras.Model":
    """A per-frame model for ``tsn``: a strided convolution, global pooling, a classifier head."""
    keras = models.keras
    inputs = keras.Input(SHAPE[1:])
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=2)(inputs))
    return models.frame_classifier(keras.Model(inputs, x), models.classifier_head(4, classes))


SMALL["tsn"] = dict(frame_model=tiny_frame_model())


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_registered_model_builds_a_softmax(name, clips):
    shape = FEATURE_SHAPE if name == "sequence_head" else SHAPE
    model = models.build_model(name, shape, 5, **SMALL.get(name, {}))
    inputs = clips[..., 0, 0, :2].repeat(3, axis=-1) if name == "sequence_head" else clips
    probs = model.predict(inputs, verbose=0)
    assert probs.shape == (2, 5)
    assert model.name == {"mobilenet_lstm": "mobilenet_v2_bilstm", "sequence_head": "head",
                          "flow_backbone_tsn": "mobilenet_v2_flow_tsn"}.get(name, name)
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


def test_frame_difference_alone_is_the_signed_change_and_cancels_a_static_scene(clips):
    out = np.asarray(models.FrameDifference(keep_frames=False)(clips))
    assert out.shape == clips.shape
    np.testing.assert_allclose(out[:, 1:], clips[:, 1:] - clips[:, :-1], atol=1e-4)
    still = np.repeat(clips[:, :1], clips.shape[1], axis=1)
    np.testing.assert_array_equal(np.asarray(models.FrameDifference(keep_frames=False)(still)), 0)


def test_a_backbone_on_frame_differences_learns_its_batchnorm_statistics(tmp_path):
    """On differences the pretrained statistics (of pictures) do not fit: BatchNorm trains, and
    the model ignores a scene that does not move."""
    path = tmp_path / "course.weights.h5"
    models.build_backbone("mobilenet_v2", 32, None).save_weights(path)
    model = models.build_model("mobilenet_lstm", SHAPE, 3, weights=str(path), units=4, frames="difference")
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name != "head")
    assert all(layer.trainable for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))
    rng = np.random.default_rng(0)
    scenes = np.repeat(rng.uniform(0, 255, (2, 1, *SHAPE[1:])).astype(np.float32), SHAPE[0], axis=1)
    probs = model.predict(scenes, verbose=0)
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-6)
    with pytest.raises(ValueError, match="frames='flow'"):
        models.build_model("mobilenet_lstm", SHAPE, 3, frames="flow")


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


# --------------------------------------------------------------------------- backbones and heads (05, 06)


@pytest.mark.parametrize("head", ["lstm", "bilstm", "average"])
def test_mobilenet_lstm_runs_the_backbone_on_folded_frames(head, clips):
    model = models.build_model("mobilenet_lstm", SHAPE, 3, head=head, units=4)
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name != "head")
    assert backbone.input_shape == (None, 32, 32, 3)
    assert model.get_layer("head").input.shape[1] == SHAPE[0]  # one feature vector per frame
    assert all(layer.momentum == models.BN_MOMENTUM for layer in backbone.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    recurrent = [layer for layer in model.get_layer("head").layers if isinstance(layer, (keras.layers.LSTM, keras.layers.Bidirectional))]
    assert bool(recurrent) == (head != "average")
    assert all((layer.forward_layer if hasattr(layer, "forward_layer") else layer).unroll for layer in recurrent)


def test_the_average_head_cannot_tell_the_order_of_frames():
    features = np.random.default_rng(1).normal(size=(3, *FEATURE_SHAPE)).astype(np.float32)
    average = models.build_model("sequence_head", FEATURE_SHAPE, 4, head="average")
    lstm = models.build_model("sequence_head", FEATURE_SHAPE, 4, head="lstm", units=4)
    np.testing.assert_allclose(average.predict(features, verbose=0), average.predict(features[:, ::-1], verbose=0), atol=1e-6)
    assert np.abs(lstm.predict(features, verbose=0) - lstm.predict(features[:, ::-1], verbose=0)).max() > 1e-4


def test_weights_from_a_file_load_through_the_weights_argument(tmp_path):
    source = models.build_backbone("mobilenet_v2", 32, None)
    path = tmp_path / "course.weights.h5"
    source.save_weights(path)
    loaded = models.build_backbone("mobilenet_v2", 32, str(path))
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        models.build_backbone("mobilenet_v2", 32, str(tmp_path / "missing.weights.h5"))


def test_imagenet_weights_take_the_keras_download_path(tmp_path, monkeypatch):
    """The "imagenet" route, offline: the file Keras would download is placed in its cache first."""
    from keras.src.backend import config as keras_config
    from keras.src.legacy.saving import legacy_h5_format
    import h5py

    reference = models.build_backbone("mobilenet_v2", 96, None)
    cached = tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    cached.parent.mkdir(parents=True)
    with h5py.File(cached, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, reference)
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    loaded = models.build_backbone("mobilenet_v2", 96, "imagenet")
    for a, b in zip(reference.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_pretrained_backbone_keeps_its_batchnorm_statistics_while_fine_tuning(tmp_path, clips):
    path = tmp_path / "b.weights.h5"
    models.build_backbone("mobilenet_v2", 32, None).save_weights(path)
    model = models.build_model("mobilenet_lstm", SHAPE, 3, weights=str(path), units=4)
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name != "head")
    bn = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))
    before = bn.moving_mean.numpy().copy()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(clips, np.array([0, 1]), epochs=1, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)
    assert backbone.trainable and any(w.trainable for w in backbone.weights)  # the convolutions still learn


@pytest.mark.parametrize("name", sorted(models.BACKBONES))
def test_every_backbone_gives_one_feature_vector_per_image_after_its_preprocessing(name):
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    backbone = models.build_backbone(name, 32, None)
    x = images
    for layer in models.PREPROCESS[name]():
        x = layer(x)
    features = backbone.predict(np.asarray(x), verbose=0)
    assert features.shape[0] == 2 and features.ndim == 2 and np.isfinite(features).all()


def test_caffe_preprocessing_swaps_to_bgr_and_removes_the_imagenet_mean():
    rgb = np.array([[[[10.0, 20.0, 30.0]]]], np.float32)
    np.testing.assert_allclose(models.CaffePreprocess()(rgb).numpy()[0, 0, 0],
                               [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-5)


def test_tsn_averages_frame_scores_whatever_their_number_or_order(clips):
    clips = clips / 255.0
    frame_model = tiny_frame_model()
    model = models.build_model("tsn", SHAPE, 5, frame_model=frame_model)
    logits = frame_model.predict(clips.reshape(-1, *SHAPE[1:]), verbose=0).reshape(2, SHAPE[0], 5)
    expected = np.exp(logits.mean(axis=1)) / np.exp(logits.mean(axis=1)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(clips, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(clips[:, ::-1], verbose=0), expected, rtol=1e-5, atol=1e-6)
    fewer = models.build_model("tsn", (2, *SHAPE[1:]), 5, frame_model=frame_model)  # the same weights
    assert fewer.predict(clips[:, :2], verbose=0).shape == (2, 5)
    with pytest.raises(ValueError, match="frame_model"):
        models.build_model("tsn", SHAPE, 5)


def test_a_split_backbone_is_the_backbone_and_fine_tuning_keeps_batchnorm_frozen():
    backbone = models.build_backbone("mobilenet_v2", 32, None)
    trunk, stage = models.split_backbone(backbone, "mobilenet_v2")
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(stage.predict(trunk.predict(x, verbose=0), verbose=0), backbone.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    models.set_trainable(stage, False)
    assert models.count_trainable(stage) == 0
    models.set_trainable(stage, True)
    norms = [layer for layer in stage.layers if isinstance(layer, models.layers.BatchNormalization)]
    assert norms and not any(layer.trainable for layer in norms)
    assert 0 < models.count_trainable(stage) < stage.count_params()
