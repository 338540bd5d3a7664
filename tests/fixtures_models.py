"""Tiny clip models for the streaming and serving tests: an untrained ``c3d_v2`` on 8 frames of
16 px with 3 classes, in every format the recognizer loads (``tiny_models`` in ``conftest.py``)."""
import numpy as np

from course_utils import runs

CLASSES = ["clap", "jump", "wave"]
SHAPE = (8, 16, 16, 3)


def write_tiny_models(folder, formats=("keras", "fp32", "int8", "onnx")):
    """The same untrained model as ``.keras`` (no card), FP32 / INT8 ``.tflite`` and ``.onnx`` (with cards)."""
    import tensorflow as tf

    from course_utils import models

    tf.keras.utils.set_random_seed(0)
    model = models.build_model("c3d_v2", SHAPE, len(CLASSES), filters=(4, 8, 8))
    calibration = np.random.default_rng(0).integers(0, 256, (8, *SHAPE)).astype(np.float32)
    model(calibration[:1])
    paths = {}
    for fmt in formats:
        if fmt == "keras":
            paths[fmt] = folder / "model.keras"
            model.save(paths[fmt])
            continue
        if fmt == "onnx":
            paths[fmt] = folder / "model.onnx"
            model.export(str(paths[fmt]), format="onnx", verbose=False)
        else:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if fmt == "int8"
                                                   else tf.lite.OpsSet.TFLITE_BUILTINS]
            if fmt == "int8":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = lambda: ([c[None]] for c in calibration)
                converter.inference_input_type = converter.inference_output_type = tf.uint8
            paths[fmt] = folder / f"model_{fmt}.tflite"
            paths[fmt].write_bytes(converter.convert())
        runs.write_model_card(paths[fmt], "c3d_v2", fmt, CLASSES, SHAPE, "uint8" if fmt == "int8" else "float32")
    return paths
