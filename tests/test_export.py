"""Export (course_utils.export, notebook 09): every format of a tiny model agrees with Keras, INT8
files are integer where the ops allow and say where not, no file carries Flex ops, every file has
its model card, a foreign file is never replaced, and what is missing (a deploy package, TensorRT
or a GPU) is said in words."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")

from course_utils import config, export, models, runs  # noqa: E402

SHAPE = (8, 16, 16, 3)
CLASSES = ["a", "b", "c"]


def tiny_c3d() -> "keras.Model":
    return models.build_model("c3d_v2", SHAPE, len(CLASSES), filters=(4, 8), temporal_strides=(1, 2))


def clips(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, *SHAPE)).astype(np.float32)


def training_like(x: np.ndarray) -> types.SimpleNamespace:
    """What export.representative_data reads of a training ClipDataset: batches and set_epoch."""
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), np.int32))).batch(4)
    return types.SimpleNamespace(dataset=dataset, set_epoch=lambda epoch: None)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny (2+1)D model exported to every format, its Keras file, test clips and the comparison."""
    folder = tmp_path_factory.mktemp("export")
    model = tiny_c3d()
    keras_file = folder / "best.keras"
    model.save(keras_file)
    test = clips(6, seed=1)
    files = export.export_model(model, keras_file, "c3d_v2", folder / "c3d_v2", CLASSES, (0, 255),
                                export.representative_data(training_like(clips(16)), 16), test[:1], made_by="test")
    table = export.compare(files, model, test, np.array([0, 1, 2, 0, 1, 2]), repeats=3)
    return files, model, test, table


def test_every_format_is_written_with_its_card(exported):
    files = exported[0]
    assert set(files.paths) == set(export.FORMATS)
    for kind, path in files.paths.items():
        assert path.name == export.FILE_NAMES[kind] and path.exists()
        card = runs.read_model_card(path)
        assert card["format"] == kind and card["class_names"] == CLASSES and card["input_shape"] == list(SHAPE)
        assert card["made_by"] == "test"
    int8 = runs.read_model_card(files.paths["int8"])
    assert int8["input_dtype"] == "uint8" and int8["output_dtype"] == "uint8"
    assert set(int8["input_quantization"]) == {"scale", "zero_point"} and int8["output_quantization"]["scale"] > 0
    assert runs.read_model_card(files.paths["fp32"])["input_dtype"] == "float32"


def test_files_agree_with_keras(exported):
    table = exported[3]
    assert list(table.index) == ["keras", "fp32", "fp16", "dynamic", "int8", "onnx"]
    for kind in ("fp32", "onnx"):
        assert table.loc[kind, "max |p - p_keras|"] < 1e-4, kind
        assert table.loc[kind, "top-1 agreement"] == 1.0
    assert table.loc["fp16", "max |p - p_keras|"] < 1e-2
    assert 0 < table.loc["int8", "max |p - p_keras|"] < 0.1  # quantised: close, not equal
    assert (table["ms / clip"] > 0).all()
    sizes = table["MB"]
    assert sizes["int8"] < sizes["fp32"] and sizes["fp16"] < sizes["fp32"]  # a tiny model: mostly graph, not weights


def test_int8_is_integer_where_the_ops_allow_and_the_file_says_where_not(exported):
    files = exported[0]
    ops = export.op_table(files.paths["int8"])
    assert ops.loc["CONV_2D", "computes in"] == "integer" and ops.loc["CONV_2D", "outputs"] == "int8"
    assert ops.loc["QUANTIZE", "inputs"].count("uint8")  # the uint8 input enters through a QUANTIZE
    assert "CONV_2D" not in export.float_ops(files.paths["int8"])
    assert "CONV_2D" in export.float_ops(files.paths["fp32"])
    assert "DEQUANTIZE" not in export.float_ops(files.paths["int8"])
    for kind in export.TFLITE_FORMATS:
        assert export.flex_ops(files.paths[kind]) == [], kind


def test_int8_inputs_quantise_with_the_files_own_scale(exported):
    runner = export.TFLiteRunner(exported[0].paths["int8"])
    scale, zero = runner.input["quantization"]
    x = exported[2][:1]
    q = export.quantize(x, runner.input)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, np.clip(np.round(x / scale + zero), 0, 255).astype(np.uint8))
    np.testing.assert_allclose(export.dequantize(q, runner.input), x, atol=scale / 2 + 1e-6)


def test_signed_inputs_such_as_flow_get_int8_input_and_output(tmp_path):
    from course_utils import temporal  # noqa: F401  (registers flow_cnn)

    model = models.build_model("flow_cnn", (2, 8, 8, 4), len(CLASSES), filters=(4, 8))
    stacks = np.random.default_rng(3).normal(0, 2, (8, 2, 8, 8, 4)).astype(np.float32)
    assert export.io_dtype((-20, 20)) == "int8" and export.io_dtype((0, 255)) == "uint8"
    path = tmp_path / "model_int8.tflite"
    path.write_bytes(export.convert_keras(model, "int8", export.representative_data(training_like(stacks), 8), "int8"))
    runner = export.TFLiteRunner(path)
    assert np.dtype(runner.input["dtype"]) == np.int8 and np.dtype(runner.output["dtype"]) == np.int8
    np.testing.assert_allclose(runner.predict(stacks).sum(axis=1), 1.0, atol=0.05)
    assert np.abs(runner.predict(stacks) - model.predict(stacks, verbose=0)).max() < 0.2


def test_conv3d_stays_float_in_full_int8_without_an_error():
    model = models.build_model("c3d_v1", SHAPE, len(CLASSES), filters=(4, 8), dense=8)
    content = export.convert_keras(model, "int8", export.representative_data(training_like(clips(4)), 4))
    assert export.op_table(content).loc["CONV_3D", "computes in"] == "float"
    assert "CONV_3D" in export.float_ops(content)


def test_a_rolled_lstm_fails_loudly_and_an_unrolled_one_converts():
    rolled = keras.Sequential([keras.Input((8, 4)), keras.layers.LSTM(4), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(export.ExportError, match="builtin ops only failed .*TensorList"):
        export.convert_keras(rolled, "fp32")
    unrolled = models.build_model("sequence_head", (8, 4), 3, units=4)
    assert export.flex_ops(export.convert_keras(unrolled, "fp32")) == []


def test_stripped_files_lose_only_their_names(exported, tmp_path):
    """Every exported .tflite file has no tensor names left; stripping a file again changes
    nothing, and the unstripped conversion computes the same outputs from a larger file."""
    files, model, test = exported[:3]
    schema = export.require("ai_edge_litert.schema_py_generated")
    content = files.paths["int8"].read_bytes()
    graph = schema.Model.GetRootAs(content, 0).Subgraphs(0)
    assert not any(graph.Tensors(i).Name() for i in range(graph.TensorsLength()))
    assert export.strip_strings(content) == content
    converter = tf.lite.TFLiteConverter.from_saved_model(str(files.paths["saved_model"]))
    named = converter.convert()
    assert len(export.strip_strings(named)) < len(named)
    outputs = []
    for source in (named, files.paths["fp32"].read_bytes()):
        path = tmp_path / f"model-{len(outputs)}.tflite"
        path.write_bytes(source)
        outputs.append(export.TFLiteRunner(path).predict(test))
    np.testing.assert_array_equal(*outputs)


def test_flex_ops_are_found_in_a_file():
    inputs = keras.Input((4, 8, 8, 1))
    model = keras.Model(inputs, keras.layers.Flatten()(keras.layers.MaxPooling3D(2)(inputs)))
    with pytest.raises(export.ExportError):
        export.convert_keras(model, "fp32")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    with export.quiet_native():
        content = converter.convert()
    assert export.flex_ops(content) == ["FlexMaxPool3D"]


def test_representative_data_is_the_same_clips_on_every_call():
    data = export.representative_data(training_like(clips(10)), 6)
    first, second = [c for (c,) in data()], [c for (c,) in data()]
    assert len(first) == 6 and all(c.shape == (1, *SHAPE) for c in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_a_foreign_file_is_never_replaced(tmp_path):
    folder = tmp_path / "c3d_v2"
    folder.mkdir()
    foreign = folder / "model_fp32.tflite"
    foreign.write_bytes(b"mine")
    model = tiny_c3d()
    with pytest.raises(export.ExportError, match="model_fp32.tflite: exists and was not written by the course"):
        export.export_model(model, tmp_path / "unused.keras", "c3d_v2", folder, CLASSES, (0, 255), lambda: [],
                            clips(1))
    assert foreign.read_bytes() == b"mine"
    assert sorted(p.name for p in folder.iterdir()) == ["model_fp32.tflite"]  # checked before any work


def test_a_missing_deploy_package_is_named_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(export.MissingPackage, match=r'onnxruntime is not installed.*pip install "course_utils\[deploy\]"'):
        export.OnnxRunner(tmp_path / "model.onnx")
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(export.MissingPackage, match="ai-edge-litert is not installed"):
        export.TFLiteRunner(tmp_path / "model.tflite")


def test_tensorrt_skips_with_the_commands_when_it_or_a_gpu_is_missing(exported, monkeypatch):
    onnx_file = exported[0].paths["onnx"]
    real_find_spec = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorrt" else real_find_spec(name, *a))
    calibration = exported[2][:2]
    result = export.tensorrt_engine(onnx_file, calibration=calibration, shown_as="export/c3d_v2/model.onnx")
    assert result.engines == {} and "tensorrt package is not installed" in result.skipped
    text = result.message()
    assert "pip install tensorrt" in text
    assert "trtexec --onnx=export/c3d_v2/model.onnx --fp16 --shapes=" in text and "x8x16x16x3" in text
    assert "--saveEngine=export/c3d_v2/model_fp16.plan" in text and "--int8 --fp16 --calib=" in text
    assert "export.tensorrt_engine('export/c3d_v2/model.onnx', calibration=np.load('export/c3d_v2/" \
           f"{export.CALIBRATION_FILE}'))" in text
    saved = onnx_file.with_name(export.CALIBRATION_FILE)  # what that command loads, with its card
    np.testing.assert_array_equal(np.load(saved), calibration)
    assert runs.read_model_card(saved)["format"] == "calibration_clips"
    monkeypatch.setattr(export.importlib.util, "find_spec", lambda name, *a: object() if name == "tensorrt"
                        else real_find_spec(name, *a))
    monkeypatch.setattr(export, "gpu_present", lambda: False)
    assert "no NVIDIA GPU" in export.tensorrt_engine(onnx_file).skipped


def test_exports_go_under_the_artifacts_folder(tmp_path):
    cfg = config.resolve_config("ci", artifacts_dir=tmp_path)
    assert export.export_dir(cfg, "c3d_v2") == tmp_path / "export" / "c3d_v2"


# --------------------------------------------------------------------------- the lesson of notebook 09


@pytest.mark.notebooks
def test_the_export_notebook_meets_the_int8_targets_it_reports(ci_run):
    """Notebook 09: FP32 TFLite and ONNX equal Keras; full INT8 of the (2+1)D network loses at most
    one point and is 3x smaller; INT8 of MobileNetV2 + BiLSTM loses at most two of the 112 test clips
    (its 1-point target, which the notebook says it met or missed: the model on pictures, 0.30-0.41,
    with many near ties, moved by +2 and -2 clips on two kinds of CPU; on frame differences, 0.625,
    it gained one, agreement 0.946); every export listed exists with its card."""
    artifacts = ci_run[1]
    result = runs.load_results(artifacts / "results" / "09_export.json")
    metrics = result["metrics"]
    for name, m in metrics.items():
        assert m["fp32_max_abs_diff"] < 1e-4 and m["onnx_max_abs_diff"] < 1e-4, name
        assert m["fp32_top1_agreement"] == 1.0 and m["onnx_top1_agreement"] == 1.0, name
    c3d, mobile = metrics["c3d_v2"], metrics["mobilenet_bilstm"]
    assert c3d["fp32_test_accuracy"] - c3d["int8_test_accuracy"] <= 0.01 + 1e-9
    assert c3d["int8_size_ratio"] >= 3.0 and mobile["int8_size_ratio"] >= 3.0
    assert mobile["fp32_test_accuracy"] - mobile["int8_test_accuracy"] <= 2 / 112 + 1e-9
    assert mobile["int8_top1_agreement"] >= 0.9
    for name, files in result["extra"]["exports"].items():
        assert set(files) == set(export.FORMATS), name
        for path in files.values():
            assert runs.read_model_card(artifacts / path)["model"] == name
