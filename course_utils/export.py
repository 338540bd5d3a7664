"""Export of trained models for deployment, and the checks that the exported files still agree
with Keras.

One trained ``.keras`` model becomes, under ``export_dir(cfg, name)``::

    model.keras           the trained model itself (a copy), for a Python runtime with TensorFlow
    saved_model/          TensorFlow's SavedModel (``model.export``): the input of the TFLite converter
    model_fp32.tflite     LiteRT (TFLite) with float32 weights and activations
    model_fp16.tflite     float16 weights, computed in float32
    model_dynamic.tflite  dynamic-range INT8: int8 weights, float activations
    model_int8.tflite     full INT8: weights and activations int8, calibrated on training clips
    model.onnx            ONNX (tf2onnx), run with ONNX Runtime; TensorRT builds engines from it

and a model card (``runs.write_model_card``) beside every one of them, which is what a reader
(``course_utils.streaming``) needs to feed it: class names, input shape, dtype and value range,
and for integer inputs and outputs their quantisation (``scale``, ``zero_point``).

What the course measured decided the route (design section 5c):

* TFLite is converted from the SavedModel **with builtin ops only**, so an op TFLite lacks fails
  the conversion loudly; ``model.export(format="litert")`` would silently add Flex (TensorFlow)
  ops that LiteRT's interpreter cannot run. :func:`flex_ops` checks every written file anyway.
* "Full INT8" does not promise that every op is integer: ``Conv3D`` has no INT8 kernel and stays
  float without an error. :func:`op_table` lists the op types and tensor dtypes read from the file.
* LSTMs convert to builtins only unrolled (``unroll=True``; the course's heads are): a ``while``
  loop becomes Flex ``TensorList`` ops.
* Latency is measured the way a small device runs: batch 1, one thread, median of N calls.

The deploy packages (``ai-edge-litert``, ``tf2onnx``, ``onnx``, ``onnxruntime``) are imported
only when used; a missing one is a :class:`MissingPackage` naming it and the install command.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from .config import Config
from .jobs import CourseError, atomic_path, ensure_writable_dir, temp_path
from .runs import CARD_FIELDS, card_path, read_model_card, write_model_card

TFLITE_FORMATS = ("fp32", "fp16", "dynamic", "int8")
FILE_NAMES = {"keras": "model.keras", "saved_model": "saved_model", "fp32": "model_fp32.tflite",
              "fp16": "model_fp16.tflite", "dynamic": "model_dynamic.tflite", "int8": "model_int8.tflite",
              "onnx": "model.onnx"}
"""The file (or folder) of each format inside :func:`export_dir`."""
FORMATS = tuple(FILE_NAMES)
PACKAGES = {"ai_edge_litert": "ai-edge-litert", "tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime",
            "tensorrt": "tensorrt", "cuda": "cuda-python"}
"""Import name -> the distribution that provides it."""
GPU_PACKAGES = ("tensorrt", "cuda-python")
"""Not in the deploy extra: they install only where CUDA is (Colab with a GPU, a CUDA machine)."""
INSTALL_HINT = 'pip install "course_utils[deploy]"'


class MissingPackage(CourseError, ImportError):
    """A deploy package is not installed; the message names it and how to install it."""


class ExportError(CourseError):
    """An export failed or produced a file that cannot be deployed; the message names the file."""


def require(module: str) -> Any:
    """Import ``module`` (a deploy package), or raise :class:`MissingPackage` saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = PACKAGES.get(module.split(".")[0], module.split(".")[0])
        install = f"pip install {package} (on a machine with an NVIDIA GPU and CUDA)" if package in GPU_PACKAGES \
            else f"{INSTALL_HINT} (or pip install {package})"
        raise MissingPackage(f"{package} is not installed, and exporting or running this format needs it: "
                             f"{install}") from error


def export_dir(cfg: Config, model_name: str) -> Path:
    """Where the exports of ``model_name`` go: ``<artifacts_dir>/export/<model_name>``."""
    return cfg.artifacts_dir / "export" / model_name


# --------------------------------------------------------------------------- quiet native code


@dataclasses.dataclass
class Printed:
    """What the code inside :func:`quiet_native` printed (filled in when the block ends)."""

    text: str = ""

    def first_error(self) -> str:
        """The first ``error:`` line the converter printed (empty when there is none)."""
        return next((line.split("error:", 1)[1].strip() for line in self.text.splitlines() if "error:" in line), "")


@contextlib.contextmanager
def quiet_native() -> Iterator[Printed]:
    """Silence what TensorFlow's converter, tf2onnx and LiteRT print, through Python loggers and
    warnings and from C++ straight to the process's stdout and stderr (a notebook shows both).
    Yields a :class:`Printed` that holds the text once the block ends, for error messages."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "tf2onnx", "absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    sys.stdout.flush()
    sys.stderr.flush()
    printed = Printed()
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = [os.dup(fd) for fd in (1, 2)]
        try:
            for fd in (1, 2):
                os.dup2(sink.fileno(), fd)
            yield printed
        finally:
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)
            sink.seek(0)
            printed.text = sink.read().decode(errors="replace")


# --------------------------------------------------------------------------- writing files


def check_target(path: Path) -> None:
    """Refuse to replace ``path`` unless the course wrote it (its model card is beside it)."""
    if (path.exists() or path.is_symlink()) and not card_path(path).is_file():
        raise ExportError(f"{path}: exists and was not written by the course (no {card_path(path).name} beside "
                          "it), so it is left alone: move it away or choose another artifacts_dir")


@contextlib.contextmanager
def written(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path`` (a file or a folder) to, moved onto it when the block
    succeeds and removed when it fails: a reader never sees half an export."""
    check_target(path)
    ensure_writable_dir(path.parent)
    tmp = temp_path(path)
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def size_bytes(path: str | Path) -> int:
    """The size of a file, or of every file in a folder (a SavedModel)."""
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


# --------------------------------------------------------------------------- SavedModel and TFLite


def export_saved_model(model: Any, path: str | Path) -> Path:
    """``model`` as a TensorFlow SavedModel folder (``model.export``; dynamic batch size)."""
    path = Path(path)
    with written(path) as tmp, quiet_native():
        model.export(str(tmp), format="tf_saved_model", verbose=False)
    return path


def io_dtype(value_range: Sequence[float]) -> str:
    """The integer type of a full-INT8 model's input and output: ``uint8`` for non-negative inputs
    (pixels 0..255), ``int8`` for signed ones (optical flow)."""
    return "uint8" if value_range[0] >= 0 else "int8"


def convert_tflite(saved_model: str | Path, kind: str, representative: Callable[[], Iterable[list[np.ndarray]]] | None = None,
                   integer_io: str = "uint8") -> bytes:
    """Convert a SavedModel to TFLite, builtin ops only, debug strings stripped (:func:`strip_strings`).

    Args:
        saved_model: the folder of :func:`export_saved_model`.
        kind: ``fp32``; ``fp16`` (float16 weights); ``dynamic`` (int8 weights, float activations);
            ``int8`` (everything int8, integer input and output, calibrated on ``representative``).
        representative: for ``int8``: a callable returning an iterable of ``[x]`` with ``x`` one
            float32 sample of batch 1, as the model sees them in training.
        integer_io: the input and output type of ``int8`` (``uint8`` or ``int8``).

    Returns:
        The ``.tflite`` file's bytes. An op outside the builtins is an :class:`ExportError`.
    """
    import tensorflow as tf

    if kind not in TFLITE_FORMATS:
        raise ValueError(f"kind={kind!r} is not a TFLite format; allowed: {', '.join(TFLITE_FORMATS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if kind != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if kind == "int8":
        if representative is None:
            raise ValueError("full INT8 needs representative data (a few training clips) to calibrate its ranges")
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.as_dtype(integer_io)
    printed = Printed()
    try:
        with quiet_native() as printed:
            return strip_strings(converter.convert())
    except Exception as error:  # the converter raises ConverterError, or RuntimeError from calibration
        reason = printed.first_error() or str(error).strip().splitlines()[-1]
        raise ExportError(f"{saved_model}: the {kind} TFLite conversion with builtin ops only failed ({reason}); "
                          "an op TFLite does not have (MaxPooling3D, a rolled LSTM) is the usual cause") from error


def strip_strings(content: bytes) -> bytes:
    """A ``.tflite`` file's bytes without its debug strings (tensor and graph names, signature
    names), as a release build ships it: the ops, weights and quantisation stay the same bytes.
    Tensor names are long in a quantised graph (fused op names): about 9 % of the INT8 MobileNetV2 + BiLSTM file."""
    tools = require("ai_edge_litert.tools.flatbuffer_utils")
    model = tools.read_model_from_bytearray(content)
    tools.strip_strings(model)
    return bytes(tools.convert_object_to_bytearray(model))


def convert_keras(model: Any, kind: str, representative: Callable[[], Iterable[list[np.ndarray]]] | None = None,
                  integer_io: str = "uint8") -> bytes:
    """:func:`convert_tflite` of ``model`` through a temporary SavedModel: a file's bytes, nothing kept."""
    with tempfile.TemporaryDirectory(prefix="course-export-") as scratch:
        with quiet_native():
            model.export(scratch, format="tf_saved_model", verbose=False)
        return convert_tflite(scratch, kind, representative, integer_io)


def representative_data(data: Any, samples: int) -> Callable[[], Iterator[list[np.ndarray]]]:
    """The calibration data of full INT8: the first ``samples`` clips of epoch 0 of ``data`` (a
    training ``pipeline.ClipDataset``, augmented as in training), one at a time, the same on every call."""
    data.set_epoch(0)  # the same clips whichever pass over the training set this is
    clips = []
    for x, *_ in data.dataset:
        clips.extend(np.asarray(x, np.float32)[:, None])
        if len(clips) >= samples:
            break
    clips = clips[:samples]
    return lambda: ([clip] for clip in clips)


# --------------------------------------------------------------------------- what is in a .tflite file


def tflite_ops(model: str | Path | bytes) -> pd.DataFrame:
    """Every op of a ``.tflite`` file (or its bytes), read from the file: one row per op with
    ``op`` (``CONV_2D``, ``FlexMaxPool3D``...), ``inputs`` and ``outputs`` (the dtypes of its tensors)."""
    schema = require("ai_edge_litert.schema_py_generated")
    buffer = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
    root = schema.Model.GetRootAs(buffer, 0)
    op_names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    type_names = {value: name.lower() for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    rows = []
    for g in range(root.SubgraphsLength()):
        graph = root.Subgraphs(g)
        dtypes = lambda indices: tuple(type_names[graph.Tensors(int(i)).Type()] for i in indices if i >= 0)  # noqa: E731
        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            code = root.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # small codes live in the old field
            name = code.CustomCode().decode() if code.CustomCode() else op_names.get(builtin, str(builtin))
            rows.append({"op": name, "inputs": dtypes(op.InputsAsNumpy()), "outputs": dtypes(op.OutputsAsNumpy())})
    return pd.DataFrame(rows, columns=["op", "inputs", "outputs"])


FLOAT_TYPES = ("float32", "float16")


def op_table(model: str | Path | bytes) -> pd.DataFrame:
    """The op types of a ``.tflite`` file: ``count``, the dtypes of their ``inputs`` (weights
    included) and ``outputs``, and ``computes in`` (``float`` when an output is float, ``integer``
    else; ``DEQUANTIZE`` is ``int8 -> float``, a boundary where the next op runs in float)."""
    ops = tflite_ops(model)
    rows = {}
    for op, group in ops.groupby("op", sort=False):
        inputs = sorted({t for ts in group["inputs"] for t in ts})
        outputs = sorted({t for ts in group["outputs"] for t in ts})
        computes = "float" if set(outputs) & set(FLOAT_TYPES) else "integer"
        rows[op] = {"count": len(group), "inputs": ", ".join(inputs), "outputs": ", ".join(outputs),
                    "computes in": computes}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("op")


def float_ops(model: str | Path | bytes) -> list[str]:
    """The op types of a quantised model that still compute in float (``DEQUANTIZE`` excluded: it
    only hands an int8 tensor to one of them)."""
    table = op_table(model)
    return [op for op in table.index[table["computes in"] == "float"] if op != "DEQUANTIZE"]


def flex_ops(model: str | Path | bytes) -> list[str]:
    """The Flex (TensorFlow) ops of a ``.tflite`` file: LiteRT's interpreter runs none of them."""
    return sorted({op for op in tflite_ops(model)["op"] if op.startswith("Flex")})


# --------------------------------------------------------------------------- ONNX


def export_onnx(model: Any, path: str | Path, sample: np.ndarray) -> Path:
    """``model`` as ONNX (``model.export(format="onnx")``, tf2onnx), checked with ``onnx.checker``
    and strict shape inference. ``sample``: one input batch (a loaded model must have been called
    once before Keras exports it)."""
    require("tf2onnx")
    onnx = require("onnx")
    path = Path(path)
    model(sample[:1], training=False)
    with written(path) as tmp, quiet_native():
        model.export(str(tmp), format="onnx", verbose=False)
        onnx.checker.check_model(str(tmp), full_check=True)
        onnx.shape_inference.infer_shapes(onnx.load(str(tmp)), strict_mode=True)
    return path


# --------------------------------------------------------------------------- runners (batch 1, one thread)


class Runner:
    """Runs one exported file on float32 inputs ``(n, ...)`` and returns float64 probabilities."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([self.run_one(x[i:i + 1]) for i in range(len(x))]).astype(np.float64)

    def run_one(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def latency_ms(self, x: np.ndarray, repeats: int = 20, warmup: int = 3) -> float:
        """Median milliseconds of one call on the sample ``x`` (batch 1) over ``repeats`` calls."""
        for _ in range(warmup):
            self.run_one(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.run_one(x)
            times.append(time.perf_counter() - start)
        return round(1000 * statistics.median(times), 3)


class TFLiteRunner(Runner):
    """A ``.tflite`` file in LiteRT's interpreter (``num_threads``); integer inputs are quantised
    and integer outputs dequantised with the file's own scale and zero point."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        interpreter = require("ai_edge_litert.interpreter")
        self.path = Path(path)
        with quiet_native():  # LiteRT announces its XNNPACK delegate on stderr
            self.interpreter = interpreter.Interpreter(model_path=str(path), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self.input, self.output = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]

    def run_one(self, x: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], quantize(x, self.input))
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)


def quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """``x`` in the dtype of an interpreter tensor ``detail``: ``round(x / scale + zero_point)``, clipped."""
    dtype = np.dtype(detail["dtype"])
    if not np.issubdtype(dtype, np.integer):
        return np.asarray(x, dtype)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x) / scale + zero), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """An interpreter output as float: ``scale * (q - zero_point)`` for integer tensors."""
    if not np.issubdtype(np.dtype(detail["dtype"]), np.integer):
        return np.asarray(q, np.float64)
    scale, zero = detail["quantization"]
    return scale * (np.asarray(q, np.float64) - zero)


class OnnxRunner(Runner):
    """A ``.onnx`` file in ONNX Runtime on the CPU, ``threads`` intra-op threads (and one inter-op)."""

    def __init__(self, path: str | Path, threads: int = 1):
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def run_one(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.asarray(x, np.float32)})[0]


class KerasRunner(Runner):
    """The Keras model itself (the reference), one ``tf.function`` call per batch."""

    def __init__(self, model: Any):
        from .evaluation import inference_function

        self.call = inference_function(model)

    def run_one(self, x: np.ndarray) -> np.ndarray:
        return self.call(np.asarray(x, np.float32)).numpy()


def runner(path: str | Path) -> Runner:
    """The runner of an exported file, chosen by its suffix (``.tflite``, ``.onnx``)."""
    suffix = Path(path).suffix
    if suffix == ".tflite":
        return TFLiteRunner(path)
    if suffix == ".onnx":
        return OnnxRunner(path)
    raise ValueError(f"{path}: no runner for {suffix!r} files; allowed: .tflite, .onnx")


# --------------------------------------------------------------------------- one model, every format


def tflite_card_extra(path: Path) -> dict[str, Any]:
    """What a model card records of a ``.tflite`` file's input and output: dtype and, for
    integer tensors, ``scale`` and ``zero_point`` (real value = scale * (q - zero_point))."""
    run = TFLiteRunner(path)
    extra = {}
    for side, detail in (("input", run.input), ("output", run.output)):
        dtype = np.dtype(detail["dtype"]).name
        extra[f"{side}_dtype"] = dtype
        if np.issubdtype(np.dtype(dtype), np.integer):
            scale, zero = detail["quantization"]
            extra[f"{side}_quantization"] = {"scale": float(scale), "zero_point": int(zero)}
    if "input_quantization" in extra:
        extra["quantization_note"] = ("feed q = clip(round(x / scale + zero_point)) of the input's real values x; "
                                      "the probabilities are scale * (q - zero_point) of the output")
    return extra


@dataclasses.dataclass
class Exported:
    """The files of one model (:func:`export_model`): ``paths[format]``, each with its card, and
    the ``seconds`` each took to write (measured)."""

    name: str
    folder: Path
    paths: dict[str, Path]
    seconds: dict[str, float]

    def relative(self, root: Path) -> dict[str, str]:
        """``{format: path relative to root}`` (for a results JSON)."""
        return {kind: path.relative_to(root).as_posix() for kind, path in self.paths.items()}


def export_model(model: Any, keras_file: str | Path, name: str, folder: str | Path, class_names: Sequence[str],
                 value_range: tuple[float, float], representative: Callable[[], Iterable[list[np.ndarray]]],
                 sample: np.ndarray, formats: Sequence[str] = FORMATS, **card: Any) -> Exported:
    """Export ``model`` (loaded from ``keras_file``) to every one of ``formats``, a card beside each.

    Args:
        model: the trained Keras model.
        keras_file: its ``.keras`` file (copied as the ``keras`` format).
        name: the model's name on its cards (``c3d_v2``).
        folder: where the files go (:func:`export_dir`).
        class_names: the order of the outputs.
        value_range: the real values the input holds (``(0, 255)`` for pixels).
        representative: calibration data of ``int8`` (:func:`representative_data`).
        sample: one input batch (float32), for the ONNX export.
        formats: a subset of :data:`FORMATS` (the TFLite ones need ``saved_model``).
        card: more fields for every card (the flow stack layout, the source notebook).

    Returns:
        An :class:`Exported`. Raises :class:`ExportError` when a file has Flex ops.
    """
    folder = Path(folder)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"formats {sorted(unknown)} are not supported; allowed: {', '.join(FORMATS)}")
    paths = {kind: folder / FILE_NAMES[kind] for kind in formats}
    for path in paths.values():
        check_target(path)  # before any work: a foreign file stops the export, nothing written
    shape = tuple(int(d) for d in model.input_shape[1:])
    common = dict(model=name, class_names=list(class_names), input_shape=shape, value_range=value_range, **card)
    seconds = {}
    for kind, path in paths.items():
        start = time.perf_counter()
        if kind == "keras":
            with written(path) as tmp:
                shutil.copyfile(keras_file, tmp)
        elif kind == "saved_model":
            export_saved_model(model, path)
        elif kind == "onnx":
            export_onnx(model, path, sample)
        else:
            if "saved_model" not in paths:
                raise ValueError("the TFLite formats are converted from the SavedModel: include 'saved_model'")
            content = convert_tflite(paths["saved_model"], kind, representative, io_dtype(value_range))
            if flex_ops(content):
                raise ExportError(f"{path}: needs the Flex ops {flex_ops(content)}, which LiteRT's interpreter "
                                  "does not run")
            with written(path) as tmp:
                tmp.write_bytes(content)
        extra = tflite_card_extra(path) if kind in TFLITE_FORMATS else {"input_dtype": "float32"}
        write_model_card(path, format=kind, **{**common, **extra})
        seconds[kind] = round(time.perf_counter() - start, 2)
    return Exported(name, folder, paths, seconds)


def compare(exported: Exported, model: Any, x: np.ndarray, labels: np.ndarray, repeats: int = 20) -> pd.DataFrame:
    """Every runnable format of ``exported`` against the Keras model on the test clips ``x``.

    Args:
        exported: from :func:`export_model`.
        model: the Keras model (the reference).
        x: float32 test inputs, one clip per video; labels: their classes.
        repeats: calls of the latency median (batch 1, one thread).

    Returns:
        One row per runnable format (``keras`` first; the SavedModel is only the converter's input):
        ``MB``, ``test accuracy``, ``max |p - p_keras|``, ``top-1 agreement`` and ``ms / clip``
        (Keras on TensorFlow's own thread pool, every other file on one thread).
    """
    keras_probs = np.asarray(model.predict(x, verbose=0), np.float64)
    runners: dict[str, Runner] = {"keras": KerasRunner(model)}
    runners.update({kind: runner(path) for kind, path in exported.paths.items() if path.suffix in (".tflite", ".onnx")})
    rows = {}
    for kind, run in runners.items():
        probs = keras_probs if kind == "keras" else run.predict(x)
        rows[kind] = {"MB": size_bytes(exported.paths[kind]) / 1e6 if kind in exported.paths else float("nan"),
                      "test accuracy": float(np.mean(probs.argmax(axis=1) == labels)),
                      "max |p - p_keras|": float(np.abs(probs - keras_probs).max()),
                      "top-1 agreement": float(np.mean(probs.argmax(axis=1) == keras_probs.argmax(axis=1))),
                      "ms / clip": run.latency_ms(x[:1], repeats)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("format")


def describe(name: str, table: pd.DataFrame) -> str:
    """One paragraph of what :func:`compare`'s ``table`` of model ``name`` says, in its numbers."""
    t = table
    change = (t.loc["int8", "test accuracy"] - t.loc["fp32", "test accuracy"]) * 100
    return (f"`{name}`: FP32 TFLite matches Keras to {t.loc['fp32', 'max |p - p_keras|']:.1e}, ONNX to "
            f"{t.loc['onnx', 'max |p - p_keras|']:.1e}, FP16 to {t.loc['fp16', 'max |p - p_keras|']:.1e}. Full INT8 is "
            f"**{t.loc['fp32', 'MB'] / t.loc['int8', 'MB']:.1f}x smaller** than FP32 ({t.loc['int8', 'MB'] * 1e3:.0f} vs "
            f"{t.loc['fp32', 'MB'] * 1e3:.0f} kB); its accuracy {t.loc['int8', 'test accuracy']:.3f} vs "
            f"{t.loc['fp32', 'test accuracy']:.3f} ({change:+.1f} points), top-1 agreement with Keras "
            f"{t.loc['int8', 'top-1 agreement']:.2f}, probabilities off by up to {t.loc['int8', 'max |p - p_keras|']:.3f}; "
            f"{t.loc['int8', 'ms / clip']:.2f} ms per clip against {t.loc['fp32', 'ms / clip']:.2f} ms in FP32.")


def int8_targets(tables: dict[str, pd.DataFrame], exported: dict[str, Exported], max_drop: float = 0.01,
                 min_ratio: float = 3.0) -> pd.DataFrame:
    """Per model: FP32 and INT8 test accuracy, the ``points lost``, the ``x smaller`` ratio of the
    files, whether each target holds (at most ``max_drop`` accuracy lost, at least ``min_ratio``
    smaller) and the number of Flex ops in all its ``.tflite`` files.

    The numbers are those of one test set: on 112 clips one clip is 0.9 points."""
    rows = {}
    for name, t in tables.items():
        drop = t.loc["fp32", "test accuracy"] - t.loc["int8", "test accuracy"]
        ratio = t.loc["fp32", "MB"] / t.loc["int8", "MB"]
        rows[name] = {"FP32 accuracy": t.loc["fp32", "test accuracy"], "INT8 accuracy": t.loc["int8", "test accuracy"],
                      "points lost": round(100 * drop, 2), f"<= {100 * max_drop:g} point": bool(drop <= max_drop + 1e-9),
                      "x smaller": round(float(ratio), 2), f">= {min_ratio:g}x": bool(ratio >= min_ratio),
                      "Flex ops": sum(len(flex_ops(p)) for p in exported[name].paths.values() if p.suffix == ".tflite")}
    return pd.DataFrame.from_dict(rows, orient="index")


def clip_data(cfg: Config, table: pd.DataFrame, input_shape: Sequence[int], augment: Any = None) -> tuple[Any, Any]:
    """``(train, test)`` clip datasets of ``table`` for a model of ``input_shape = (T, S, S, 3)``:
    the training pipeline (``augment``, for calibration) and the test clips, one per video."""
    from .pipeline import make_dataset

    frames, size = int(input_shape[0]), int(input_shape[1])
    common = dict(clip_frames=frames, image_size=size, batch_size=cfg.batch_size, seed=cfg.seed)
    return (make_dataset(table, "train", training=True, augment=augment, **common),
            make_dataset(table, "test", training=False, **common))


def export_and_compare(cfg: Config, name: str, keras_file: str | Path, train: Any, test: Any,
                       value_range: tuple[float, float], calibration_clips: int = 32, repeats: int = 20,
                       **card: Any) -> tuple[Exported, pd.DataFrame]:
    """Load ``keras_file``, export it to every format (:func:`export_model`, calibrated on the first
    ``calibration_clips`` clips of ``train``) and :func:`compare` the files on ``test``.

    Returns:
        The :class:`Exported` files and the comparison table.
    """
    from .pipeline import take_arrays
    from .training import load_model

    model = load_model(keras_file)
    x, labels = take_arrays(test)
    exported = export_model(model, keras_file, name, export_dir(cfg, name), test.class_names, value_range,
                            representative_data(train, calibration_clips), x[:1], **card)
    return exported, compare(exported, model, x, labels, repeats)


# --------------------------------------------------------------------------- TensorRT (from ONNX, on a GPU)


@dataclasses.dataclass
class TensorRTResult:
    """What :func:`tensorrt_engine` did: the ``engines`` built (``{precision: path}``), or why it
    skipped (``skipped``) and the ``commands`` that build them on a machine with a GPU."""

    engines: dict[str, Path]
    skipped: str | None
    commands: list[str]

    def message(self) -> str:
        if self.skipped is None:
            return "built: " + ", ".join(f"{p} -> {path.name}" for p, path in self.engines.items())
        return f"TensorRT skipped: {self.skipped}. On a machine with an NVIDIA GPU:\n" + "\n".join(self.commands)


def gpu_present() -> bool:
    """Whether an NVIDIA GPU answers (``nvidia-smi -L``)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


CALIBRATION_FILE = "calibration_clips.npy"
"""Beside the ONNX file: the training clips a GPU machine calibrates TensorRT's INT8 engine with."""


def tensorrt_commands(onnx_path: Path, input_name: str, shape: Sequence[int], shown_as: str | Path | None = None) -> list[str]:
    """The commands that build FP16 and INT8 engines from ``onnx_path`` (named ``shown_as`` in them)."""
    onnx_file = Path(shown_as or onnx_path)
    engine = lambda precision: onnx_file.with_name(f"model_{precision}.plan").as_posix()  # noqa: E731
    shapes = f"--shapes={input_name}:{'x'.join(str(d) for d in (1, *shape))}"
    clips = onnx_file.with_name(CALIBRATION_FILE).as_posix()
    return ["pip install tensorrt cuda-python   # in the artifacts folder, on a machine with an NVIDIA GPU",
            f"trtexec --onnx={onnx_file.as_posix()} --fp16 {shapes} --saveEngine={engine('fp16')}"
            "   # trtexec: in NVIDIA's TensorRT containers and archives (pip brings the Python builder only)",
            "python -c \"import numpy as np; from course_utils import export; print(export.tensorrt_engine("
            f"'{onnx_file.as_posix()}', calibration=np.load('{clips}')).message())\"   # FP16 and INT8, calibrated",
            f"trtexec --onnx={onnx_file.as_posix()} --int8 --fp16 --calib={onnx_file.with_name('calibration.cache').as_posix()} "
            f"{shapes} --saveEngine={engine('int8')}   # INT8 again from the calibration cache the line above wrote"]


def tensorrt_engine(onnx_path: str | Path, precisions: Sequence[str] = ("fp16", "int8"),
                    calibration: np.ndarray | None = None, shown_as: str | Path | None = None,
                    workspace_bytes: int = 1 << 30) -> TensorRTResult:
    """Build TensorRT engines (``model_<precision>.plan`` beside ``onnx_path``) with the Python builder.

    Needs ``tensorrt`` and an NVIDIA GPU; without them nothing is built and the result says why
    and lists the commands (``trtexec`` and this function) for a machine that has them.

    Args:
        onnx_path: from :func:`export_onnx` (batch 1 engines of its input shape).
        precisions: ``fp16`` and/or ``int8``.
        calibration: float32 training clips for ``int8`` (an entropy calibrator, its cache written
            as ``calibration.cache`` beside the engines); ``int8`` is skipped without them. They are
            also saved as :data:`CALIBRATION_FILE` (with a card) beside the ONNX file, so the printed
            commands run as they are on another machine.
        shown_as: how to name the ONNX file in the commands (a path relative to the artifacts).
        workspace_bytes: the builder's scratch memory on the GPU.
    """
    onnx_path = Path(onnx_path)
    onnx = require("onnx")
    graph = onnx.load(str(onnx_path)).graph
    name = graph.input[0].name
    shape = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim][1:]
    commands = tensorrt_commands(onnx_path, name, shape, shown_as)
    if calibration is not None:
        clips_file = onnx_path.with_name(CALIBRATION_FILE)
        with written(clips_file) as tmp:
            np.save(tmp, np.asarray(calibration, np.float32))
        source = read_model_card(onnx_path)
        write_model_card(clips_file, **{**{k: source[k] for k in CARD_FIELDS}, "format": "calibration_clips"})
    if importlib.util.find_spec("tensorrt") is None:
        return TensorRTResult({}, "the tensorrt package is not installed (it needs CUDA: pip install tensorrt)", commands)
    if not gpu_present():
        return TensorRTResult({}, "no NVIDIA GPU here (nvidia-smi finds none)", commands)
    trt = require("tensorrt")
    logger = trt.Logger(trt.Logger.WARNING)
    engines = {}
    for precision in precisions:
        if precision == "int8" and calibration is None:
            continue
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ExportError(f"{onnx_path}: TensorRT cannot parse it: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
        profile = builder.create_optimization_profile()
        profile.set_shape(name, (1, *shape), (1, *shape), (1, *shape))
        config.add_optimization_profile(profile)
        config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = _calibrator(trt, calibration, onnx_path.with_name("calibration.cache"))
            config.set_calibration_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ExportError(f"{onnx_path}: TensorRT could not build the {precision} engine (see its log above)")
        path = onnx_path.with_name(f"model_{precision}.plan")
        with written(path) as tmp:
            tmp.write_bytes(bytes(serialized))
        engines[precision] = path
    return TensorRTResult(engines, None, commands)


def _calibrator(trt: Any, clips: np.ndarray, cache: Path) -> Any:
    """An entropy calibrator that feeds ``clips`` one at a time from GPU memory (``cuda-python``)."""
    cudart = require("cuda.bindings.runtime")
    clips = np.ascontiguousarray(clips, np.float32)

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.index = 0
            _, self.device = cudart.cudaMalloc(clips[0:1].nbytes)

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            if self.index >= len(clips):
                return None
            host = clips[self.index:self.index + 1]
            cudart.cudaMemcpy(self.device, host.ctypes.data, host.nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice)
            self.index += 1
            return [int(self.device)]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data):
            with atomic_path(cache) as tmp:
                tmp.write_bytes(bytes(data))

    return Calibrator()
