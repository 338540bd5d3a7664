import dataclasses
import json

import numpy as np
import pytest

from course_utils import config, runs


def test_profiles_resolve_with_defaults(tmp_path):
    cfg = config.resolve_config("ci", data_dir=tmp_path / "d", artifacts_dir=tmp_path / "a")
    assert cfg.profile == "ci" and cfg.weights is None and cfg.dataset == "synthetic"
    assert cfg.dataset_root.parent == (tmp_path / "d").resolve()
    laptop = config.resolve_config("laptop", data_dir=tmp_path)
    assert laptop.synthetic.size > cfg.synthetic.size
    assert config.resolve_config("full", data_dir=tmp_path).weights == "imagenet"


def test_config_is_frozen(tmp_path):
    cfg = config.resolve_config(data_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.profile = "laptop"


@pytest.mark.parametrize("kwargs, words", [
    ({"profile": "huge"}, ["profile='huge'", "ci, laptop, full"]),
    ({"dataset": "no_such_dataset"}, ["no_such_dataset", "synthetic", "hmdb51"]),
    ({"seed": -1}, ["seed=-1"]),
    ({"epochz": 3}, ["epochz", "epochs"]),
    ({"weights": "missing.weights.h5"}, ["missing.weights.h5", "imagenet"]),
])
def test_bad_values_name_the_allowed_ones(kwargs, words):
    with pytest.raises(config.ConfigError) as error:
        config.resolve_config(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_overrides_reach_training_and_synthetic_settings(tmp_path):
    cfg = config.resolve_config(data_dir=tmp_path, epochs=1, context_bias=0.0, weights=None)
    assert cfg.epochs == 1 and cfg.synthetic.context_bias == 0.0
    assert cfg.overrides == {"epochs": 1, "context_bias": 0.0}
    assert "cb0-" in cfg.dataset_root.name


def test_folder_dataset_is_accepted(tmp_path):
    cfg = config.resolve_config(dataset=str(tmp_path), artifacts_dir=tmp_path / "a")
    assert cfg.dataset_root == tmp_path.resolve() and not cfg.is_synthetic
    assert cfg.figures_dir.is_relative_to(tmp_path / "a")


def test_only_the_ci_synthetic_run_draws_the_course_figures(tmp_path):
    laptop = config.resolve_config(profile="laptop", data_dir=tmp_path, artifacts_dir=tmp_path / "a")
    assert laptop.figures_dir == tmp_path / "a" / "figures" / "synthetic-laptop"
    assert config.resolve_config(data_dir=tmp_path, artifacts_dir=tmp_path / "a").figures_dir == config.FIGURES_DIR


def test_seed_everything_repeats_numpy_and_keras():
    import keras  # imports TensorFlow, so seeding covers it

    runs.seed_everything(7)
    first = np.random.rand(3), keras.random.uniform((3,)).numpy()
    runs.seed_everything(7)
    second = np.random.rand(3), keras.random.uniform((3,)).numpy()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_results_json_has_the_one_shape(tmp_path):
    cfg = config.resolve_config(data_dir=tmp_path, artifacts_dir=tmp_path)
    path = runs.save_results(cfg, "99_demo", {"model": {"test_accuracy": np.float32(0.5), "params": np.int64(3)}},
                               {"total": 1.0}, {"note": "x"})
    data = runs.load_results(path)
    assert data == {"notebook": "99_demo", "profile": "ci", "dataset": "synthetic", "seed": 42,
                    "metrics": {"model": {"test_accuracy": 0.5, "params": 3}}, "timings_s": {"total": 1.0},
                    "extra": {"note": "x"}}
    assert not list(tmp_path.rglob("*.tmp*"))


def test_results_reject_accuracy_outside_unit_interval(tmp_path):
    cfg = config.resolve_config(data_dir=tmp_path, artifacts_dir=tmp_path)
    with pytest.raises(ValueError, match="fraction"):
        runs.save_results(cfg, "99_demo", {"model": {"test_accuracy": 83.0}}, {"total": 1.0})


def test_load_results_names_missing_keys(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"notebook": "x"}))
    with pytest.raises(ValueError, match="metrics"):
        runs.load_results(path)


def test_video_model_settings_take_the_profile_and_keep_what_is_given():
    assert config.video_model_settings("ci") == config.VIDEO_MODEL_SETTINGS["ci"]
    assert config.video_model_settings("ci", epochs=3, image_size=None)["epochs"] == 3
    with pytest.raises(config.ConfigError, match="profile"):
        config.video_model_settings("huge")


def test_a_model_card_sits_beside_its_model_and_says_what_it_reads(tmp_path):
    model = tmp_path / "model_int8.tflite"
    model.write_bytes(b"model")
    card = runs.write_model_card(model, "c3d_v2", "int8", ["sit", "stand"], (16, 48, 48, 3), "uint8",
                                 input_scale=np.float32(1.0))
    assert card.name == "model_int8.tflite.card.json" and runs.card_path(model) == card
    assert runs.read_model_card(model) == {"model": "c3d_v2", "format": "int8", "class_names": ["sit", "stand"],
                                           "input_shape": [16, 48, 48, 3], "input_dtype": "uint8",
                                           "value_range": [0.0, 255.0], "input_scale": 1.0}
    assert runs.card_path(tmp_path / "saved_model").name == "saved_model.card.json"
    with pytest.raises(ValueError, match="no model card beside other.onnx"):
        runs.read_model_card(tmp_path / "other.onnx")
    card.write_text(json.dumps({"model": "c3d_v2"}))
    with pytest.raises(ValueError, match="lacks"):
        runs.read_model_card(model)
