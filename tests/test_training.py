"""Training: the schedule, mixing that treats a clip as one thing, the same weights from the same
seed, resuming an interrupted run, and fitting under a tf.distribute strategy (on the CPU)."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from course_utils import config, models, pipeline, training  # noqa: E402
from test_pipeline import S, T, make_table  # noqa: E402

TINY = dict(filters=(4, 8), temporal_strides=(1, 2))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    table = make_table(tmp_path_factory.mktemp("clips"))
    return {"train": pipeline.make_dataset(table, "train", T, S, batch_size=3, training=True, seed=0),
            "val": pipeline.make_dataset(table, "val", T, S, batch_size=3, training=False)}


def tiny_model() -> keras.Model:
    return models.build_model("c3d_v2", (T, S, S, 3), 3, **TINY)


def test_schedule_warms_up_then_decays():
    schedule = training.learning_rate_schedule(1e-2, total_steps=100, warmup_steps=10, final_fraction=0.01)
    lr = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert lr[0] == pytest.approx(0) and lr[1] == pytest.approx(5e-3) and lr[2] == pytest.approx(1e-2)
    assert lr[2] > lr[3] > lr[4] and lr[4] == pytest.approx(1e-4, rel=1e-3)


def test_mixup_and_cutmix_mix_labels_by_what_they_mix():
    x = tf.concat([tf.zeros((1, T, S, S, 3)), tf.fill((1, T, S, S, 3), 100.0)], axis=0)
    y = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    seed = tf.constant([1, 2], tf.int64)
    mixed_x, mixed_y = training.mixup(x, y, seed, alpha=0.4)
    np.testing.assert_allclose(mixed_y.numpy().sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(mixed_x.numpy()[0].mean() / 100, mixed_y.numpy()[0, 1], rtol=1e-4)
    cut_x, cut_y = training.video_cutmix(x, y, seed, alpha=1.0)
    cut_x = cut_x.numpy()
    np.testing.assert_array_equal(cut_x[0], np.repeat(cut_x[0, :1], T, axis=0))  # one box on every frame
    np.testing.assert_allclose((cut_x[0] > 0).mean(), cut_y.numpy()[0, 1], rtol=1e-5)


def test_the_same_seed_gives_the_same_weights(data, tmp_path):
    cfg = config.resolve_config("ci", artifacts_dir=tmp_path, seed=7)

    def run(name: str) -> list[np.ndarray]:
        training.configure(cfg)
        model = tiny_model()
        training.fit(model, data["train"], data["val"], tmp_path / name, epochs=1, seed=cfg.seed, mixup_alpha=0.2,
                     cutmix_alpha=0.2)
        return model.get_weights()

    first, second = run("a"), run("b")
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_fit_keeps_the_best_model_and_resumes_an_interrupted_run(data, tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    keras.utils.set_random_seed(0)
    with pytest.raises(KeyboardInterrupt):
        training.fit(tiny_model(), data["train"], data["val"], tmp_path, epochs=2, callbacks=[Interrupt()])
    assert (tmp_path / "backup").is_dir()
    strategy = training.choose_strategy(gpus=["gpu:0", "gpu:1"])  # two "GPUs" -> MirroredStrategy (here on the CPU)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    with strategy.scope():
        model = tiny_model()
    result = training.fit(model, data["train"], data["val"], tmp_path, epochs=2, strategy=strategy, label_smoothing=0.1)
    assert len(result.history["loss"]) == 1 and len(result.epoch_seconds) == 1  # epoch 1 was restored
    assert not (tmp_path / "backup").exists()
    assert result.checkpoint is not None and (tmp_path / "log.csv").is_file()
    again = training.load_model(result.checkpoint)
    assert again.count_params() == model.count_params()


def test_configure_uses_mixed_precision_only_on_a_gpu(tmp_path):
    cfg = config.resolve_config("ci", artifacts_dir=tmp_path, mixed_precision=True)
    strategy = training.configure(cfg)
    expected = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    assert keras.mixed_precision.global_policy().name == expected
    assert isinstance(strategy, tf.distribute.Strategy)
    keras.mixed_precision.set_global_policy("float32")


def test_features_are_computed_once_and_a_head_trains_on_them(tmp_path, data):
    model = models.build_model("mobilenet_lstm", (T, S, S, 3), 3, units=4)
    path = tmp_path / "features" / "val.npy"
    features = training.clip_features(model, data["val"], path)
    assert features.shape == (len(data["val"].elements), T, model.get_layer("head").input.shape[-1])
    np.save(path, features + 1)  # a second call reads the cache instead of running the backbone
    np.testing.assert_array_equal(training.clip_features(model, data["val"], path), features + 1)
    head = models.build_model("sequence_head", features.shape[1:], 3, head="lstm", units=4)
    result = training.fit_arrays(head, (features, data["val"].labels), (features, data["val"].labels), epochs=2)
    assert len(result.history["val_accuracy"]) == 2 and len(result.epoch_seconds) == 2
