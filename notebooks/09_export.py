# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Export: TFLite, ONNX and TensorRT, and what each one costs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/09_export.ipynb)
#
# A trained `.keras` file runs where Python and TensorFlow run. A phone, a camera or a GPU server
# wants something else: a **TFLite** (LiteRT) flatbuffer, an **ONNX** graph, a **TensorRT** engine.
# Exporting is more than saving: each format supports some operations and not others, and smaller
# numbers (float16, int8) make a model smaller and faster, and possibly wrong. This notebook
# exports the models of notebooks 04-07 and measures, for every file, what it kept.
#
# **You will learn to**
#
# 1. export a SavedModel and convert it to TFLite in four precisions, with **builtin ops only**;
# 2. quantise to full INT8 with a **representative dataset** from the training pipeline, and read
#    the scale and zero point a reader needs to feed the file;
# 3. read a `.tflite` file: which ops it runs and in which dtype, and so **what stays float**;
# 4. export ONNX and run it with ONNX Runtime;
# 5. compare every file with Keras: size, test accuracy, the largest change of a probability,
#    top-1 agreement and latency (batch 1, one thread);
# 6. build TensorRT engines from the ONNX file on a GPU, or know the commands that do it.
#
# **Prerequisites:** notebooks 04-07 (their trained models in `artifacts/runs/`).
# **Time:** about a minute and a half to run in the `ci` profile on two CPU cores, 20 minutes to read and
# do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
calibration_clips = 32  # training clips that calibrate full INT8
latency_repeats = 20  # calls per latency median (batch 1, one thread)
export_spatial = None  # the ResNet-50 spatial stream (minutes of conversion on a CPU); None: in every profile but ci
workers = 2

# %%
import importlib.util, subprocess, sys
if "google.colab" in sys.modules and (importlib.util.find_spec("course_utils") is None
                                      or importlib.util.find_spec("ai_edge_litert") is None):
    # Colab's TensorFlow, Keras, NumPy and OpenCV stay as they are: the course package with its "deploy"
    # extra (LiteRT, tf2onnx, ONNX Runtime: none of them replaces those), plus an OpenCV only where there is none
    extras = "deploy" if importlib.util.find_spec("cv2") else "deploy,opencv"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"course_utils[{extras}] @ git+https://github.com/action-recognition-course/action-recognition-course"], check=True)

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import catalog, export, flow, models, pipeline, runs, temporal, training

setup = training.start_clip_notebook(profile, dataset, data_dir, artifacts_dir, seed, workers=workers)
cfg, watch, table, NAMES, RUNS = setup.cfg, setup.watch, setup.table, setup.class_names, setup.runs_dir
SOURCES = {"c3d_v2": "04_c3d_v2", "mobilenet_bilstm": "05_finetuned", "spatial": "06_spatial", "flow_cnn": "07_flow_cnn"}
FILES = {name: RUNS / run / "best.keras" for name, run in SOURCES.items()}  # each run's folder starts with its notebook
missing = [f"`{name}` (run notebook {SOURCES[name][:2]})" for name, path in FILES.items() if not path.is_file()]
display(Markdown(f"Models found: {', '.join(f'`{n}`' for n, p in FILES.items() if p.is_file()) or 'none'}."
                 + (f" Missing: {', '.join(missing)}; their sections skip." if missing else "")))

# %% [markdown]
# ## 1. From Keras to a SavedModel, then to TFLite
#
# A **SavedModel** is TensorFlow's own format: the computation as a graph plus the weights, with a
# `serve` signature. TensorFlow Serving runs it, and it is what the converters read. The **TFLite
# converter** rewrites that graph into a flatbuffer of *builtin* ops, the kernels LiteRT's small
# interpreter has. An op it lacks can become a **Flex** op (a piece of TensorFlow carried along),
# which LiteRT's interpreter does not run; `model.export(format="litert")` adds them silently, so the
# course converts with **builtins only**: a missing op fails loudly at conversion, not on the device.
#
# Four precisions of the same graph:
#
# | file | weights | activations | how |
# |---|---|---|---|
# | `model_fp32.tflite` | float32 | float32 | the graph as it is |
# | `model_fp16.tflite` | float16 | float32 | weights halved; widened back to float32 when loaded |
# | `model_dynamic.tflite` | int8 | float32 | dynamic range: weights int8, activations quantised on the fly |
# | `model_int8.tflite` | int8 | int8 | full integer: every tensor int8, ranges calibrated |
#
# **Quantisation** maps a real value `x` to an integer `q = round(x / scale) + zero_point`; the
# integer means `scale * (q - zero_point)`. For weights the range is known; for activations the
# converter runs a **representative dataset** (here the first training clips, augmented as in
# training) through the float model and records each tensor's range. The input and output become
# `uint8` too: a camera's pixels go in as they are, if the calibrated input scale is 1.
#
# The first model is notebook 04's compact (2+1)D network, `c3d_v2`.

# %%
train, test = export.clip_data(cfg, table, (cfg.clip_frames, cfg.image_size, cfg.image_size, 3), pipeline.SHORT_RUN_AUGMENT)
exports, tables = {}, {}
if FILES["c3d_v2"].is_file():
    exports["c3d_v2"], tables["c3d_v2"] = export.export_and_compare(
        cfg, "c3d_v2", FILES["c3d_v2"], train, test, (0, 255), calibration_clips, latency_repeats, made_by="04_cnn3d_scratch")
    files = exports["c3d_v2"].paths
    display(pd.DataFrame({"file": [p.relative_to(cfg.artifacts_dir).as_posix() for p in files.values()],
                          "kB": [round(export.size_bytes(p) / 1e3, 1) for p in files.values()],
                          "s to write": list(exports["c3d_v2"].seconds.values())}, index=list(files)))
else:
    display(Markdown("`c3d_v2` is missing: run notebook 04 first."))

# %% [markdown]
# Every file has a **model card** beside it (`<file>.card.json`): the class names, the input shape,
# dtype and value range, and for the INT8 file the quantisation of its input and output. The
# streaming recogniser of notebook 10 reads nothing else to use a file.

# %%
if "c3d_v2" in exports:
    card = runs.read_model_card(exports["c3d_v2"].paths["int8"])
    display(pd.Series({k: card[k] for k in ("format", "input_shape", "input_dtype", "value_range",
                                            "input_quantization", "output_dtype", "output_quantization")}).to_frame("model_int8.tflite"))
    q, seen = card["input_quantization"], np.concatenate([c for (c,) in export.representative_data(train, calibration_clips)()])
    display(Markdown(f"The INT8 file takes `{card['input_dtype']}` clips with scale {q['scale']:g} and zero point "
                     f"{q['zero_point']}; its {len(seen)} calibration clips span pixel values {seen.min():.0f}-{seen.max():.0f}. "
                     + ("Raw 0-255 pixels go in unchanged." if q["scale"] == 1 and q["zero_point"] == 0 else
                        "Pixels must be quantised with that scale first: the scale follows the calibrated range.")))

# %% [markdown]
# ## 2. What is inside a `.tflite` file
#
# "Full INT8" asks the converter for integer kernels; an op that has none stays float and the
# conversion does **not** fail: the file then carries `DEQUANTIZE` ops that hand int8 tensors to the
# float op, and `QUANTIZE` ops after it. `export.op_table` reads the op types and the dtypes of their
# tensors from the file itself.

# %%
if "c3d_v2" in exports:
    ops = export.op_table(exports["c3d_v2"].paths["int8"])
    display(ops)

# %%
if "c3d_v2" in exports:
    still_float = export.float_ops(exports["c3d_v2"].paths["int8"])
    display(Markdown(f"In `c3d_v2`'s INT8 file **{len(ops)}** op types, **{int(ops['count'].sum())}** ops; "
                     + (f"these stay float: {', '.join(f'`{o}`' for o in still_float)}, around "
                        f"{int(ops.loc['DEQUANTIZE', 'count']) if 'DEQUANTIZE' in ops.index else 0} `DEQUANTIZE` ops."
                        if still_float else "every one of them computes in integers.")
                     + (" They are the frame-difference input: `ZEROS_LIKE` (the zero difference of the first frame) "
                        "has no integer kernel, so the concatenation it feeds runs in float too."
                        if "ZEROS_LIKE" in still_float else "")))

# %% [markdown]
# Two layers of earlier notebooks would not survive this step, which is why the course's models
# avoid them:
#
# * **`Conv3D`**: TFLite runs `CONV_3D` in float only. Converted to "full INT8", a Conv3D network
#   keeps every `CONV_3D` float without an error. Below, a small untrained `c3d_v1` (notebook 04's
#   Conv3D recipe) shows it; `MaxPooling3D` would be worse (a Flex op, no conversion at all).
# * **`LSTM`**: a recurrent layer is a loop; with builtins only the converter cannot express a
#   loop over a dynamic batch, and the conversion fails. Unrolled (`unroll=True`, fine for 16
#   frames) the LSTM is 16 copies of its cell, plain matrix products: the course's heads are unrolled.

# %%
probe_data = export.representative_data(train, 4)
conv3d = models.build_model("c3d_v1", train.dataset.element_spec[0].shape[1:], len(NAMES), filters=(8, 16), dense=32)
conv3d_ops = export.op_table(export.convert_keras(conv3d, "int8", probe_data))
rolled = models.keras.Sequential([models.keras.Input((cfg.clip_frames, 8)), models.layers.LSTM(8),
                                  models.layers.Dense(len(NAMES), activation="softmax")])
try:
    export.convert_keras(rolled, "fp32")
    rolled_result = "converted (unexpected)"
except export.ExportError as error:
    rolled_result = "fails, " + str(error).split(": ", 1)[1]  # the message without the temporary folder
display(conv3d_ops.loc[[o for o in ("CONV_3D", "DEQUANTIZE", "QUANTIZE") if o in conv3d_ops.index]])
display(Markdown(f"`c3d_v1` in \"full INT8\": `CONV_3D` computes in **{conv3d_ops.loc['CONV_3D', 'computes in']}** "
                 f"({int(conv3d_ops.loc['CONV_3D', 'count'])} of them). A rolled `LSTM(8)` with builtins only: {rolled_result}."))

# %% [markdown]
# ## 3. ONNX, and every file against Keras
#
# **ONNX** is a framework-neutral graph format. `model.export(path, format="onnx")` converts through
# `tf2onnx`; `onnx.checker` with strict shape inference validates the file without running it, and
# **ONNX Runtime** runs it on the CPU (TensorRT reads the same file on a GPU, section 6).
#
# Each file then scores the test clips (one per video), and is compared with the Keras model on the
# same clips:
#
# * **test accuracy**, and **top-1 agreement** (the share of clips whose predicted class is the
#   one Keras predicts: a file can keep the accuracy and still change which clips it gets right);
# * **max |p - p_keras|**: the largest change of any class probability of any clip;
# * **ms / clip**: the median of `latency_repeats` calls on one clip (batch 1), the LiteRT
#   interpreter with `num_threads=1`, ONNX Runtime with one intra-op thread. Keras runs on
#   TensorFlow's own thread pool (all cores): a reference, not a one-thread number.

# %%
tables["c3d_v2"].round(4) if "c3d_v2" in tables else Markdown("`c3d_v2` is missing: run notebook 04 first.")

# %%
display(Markdown(export.describe("c3d_v2", tables["c3d_v2"]) if "c3d_v2" in tables else ""))

# %% [markdown]
# *What you should see:* FP32 and ONNX equal to Keras up to float rounding, FP16 a little
# further (its weights were rounded), dynamic range and full INT8 further still: a few clips near a
# decision boundary may change class. The `.keras` file is the largest: it also stores the
# optimiser's state for further training.
#
# ## 4. MobileNetV2 + BiLSTM (notebook 05)
#
# A pretrained backbone on every frame, then the unrolled BiLSTM head: many more parameters than
# `c3d_v2` and many more ops (each time step of both directions is its own set of matrix products).

# %%
if FILES["mobilenet_bilstm"].is_file():
    exports["mobilenet_bilstm"], tables["mobilenet_bilstm"] = export.export_and_compare(
        cfg, "mobilenet_bilstm", FILES["mobilenet_bilstm"], train, test, (0, 255), calibration_clips, latency_repeats,
        made_by="05_mobilenetv2_lstm")
    display(tables["mobilenet_bilstm"].round(4))
    mobile_int8 = exports["mobilenet_bilstm"].paths["int8"]
    mobile_float = export.float_ops(mobile_int8)
    display(Markdown(export.describe("mobilenet_bilstm", tables["mobilenet_bilstm"])
                     + f" The INT8 file runs {int(export.op_table(mobile_int8)['count'].sum())} ops; left in float: "
                     + (", ".join(f"`{o}`" for o in mobile_float) if mobile_float else "none") + "."))
else:
    display(Markdown("`mobilenet_bilstm` is missing: run notebook 05 first."))

# %% [markdown]
# ## 5. The two streams (notebooks 06 and 07)
#
# The spatial stream (ResNet-50 on each of a few frames, scores averaged) takes clips of RGB frames
# like the models above; it is exported in every profile but `ci` (`export_spatial`). The temporal stream takes
# stacks of optical flow, signed pixels per frame: its INT8 file has `int8` (signed) input and
# output, and its calibration data are the training stacks of notebook 07's pipeline.

# %%
SPATIAL = export_spatial if export_spatial is not None else profile != "ci"
if FILES["spatial"].is_file() and SPATIAL:
    spatial_model = training.load_model(FILES["spatial"])
    spatial_train, spatial_test = export.clip_data(cfg, table, spatial_model.input_shape[1:], pipeline.SHORT_RUN_AUGMENT)
    exports["spatial"], tables["spatial"] = export.export_and_compare(
        cfg, "spatial", FILES["spatial"], spatial_train, spatial_test, (0, 255), calibration_clips, latency_repeats,
        made_by="06_resnet50_spatial")
    display(tables["spatial"].round(4))
    display(Markdown(export.describe("spatial", tables["spatial"])))
elif FILES["spatial"].is_file():
    display(Markdown("The spatial stream is not exported in the `ci` profile: ResNet-50 is far larger than the other "
                     "models and its seven exports take minutes on a two-core CPU. Set `export_spatial = True` to run them."))
else:
    display(Markdown("The spatial stream's clip model (`runs/06_spatial/best.keras`) is missing: run notebook 06 first."))

# %%
temporal_results = cfg.results_dir / "07_temporal_stream.json"
if FILES["flow_cnn"].is_file() and temporal_results.is_file():
    flow_settings = runs.load_results(temporal_results)["extra"]
    flow_table = temporal.prepare_flow(cfg, catalog.prepare_dataset(cfg, workers=workers, progress=False),
                                       size=flow_settings["flow_size"], workers=workers)
    stacks = temporal.flow_datasets_for(cfg, flow_table, **flow_settings["flow_data"])
    exports["flow_cnn"], tables["flow_cnn"] = export.export_and_compare(
        cfg, "flow_cnn", FILES["flow_cnn"], stacks["train"], stacks["test"], (-flow.BOUND, flow.BOUND),
        calibration_clips, latency_repeats, made_by="07_temporal_stream", flow_data=flow_settings["flow_data"],
        flow_size=flow_settings["flow_size"], input_units="optical flow in pixels per frame, channels dx, dy interleaved")
    display(tables["flow_cnn"].round(4))
    display(Markdown(export.describe("flow_cnn", tables["flow_cnn"])))
else:
    display(Markdown("The temporal stream (`runs/07_flow_cnn/best.keras` and `results/07_temporal_stream.json`) "
                     "is missing: run notebook 07 first."))

# %% [markdown]
# *What you should see:* the same pattern for each model: FP32 and ONNX exact, the quantised files
# smaller and close. How close depends on the model: a probability that sits near another class's
# flips with a small error.
#
# ## 6. The INT8 targets, and every file checked for Flex ops
#
# The course asks of the full-INT8 (2+1)D network and MobileNetV2 + BiLSTM: **at most 1 point** of
# test accuracy lost against FP32, and a file **at least 3x smaller**; the streams are shown beside
# them. And no file may contain a Flex op. One test clip moves an accuracy by `100 / clips` points:
# read a difference of one or two clips as noise of the test set, in either direction.

# %%
targets = export.int8_targets(tables, exports)
targets

# %%
TARGETED = [name for name in ("c3d_v2", "mobilenet_bilstm") if name in targets.index]
held = {name: [t for t in ("<= 1 point", ">= 3x") if targets.loc[name, t]] for name in TARGETED}
display(Markdown(
    "; ".join(f"`{n}`: INT8 accuracy {0.0 - targets.loc[n, 'points lost']:+.1f} points against FP32, "
              f"{targets.loc[n, 'x smaller']:.2f}x smaller, "
              + ("both targets met" if len(held[n]) == 2 else f"missed: {', '.join(t for t in ('<= 1 point', '>= 3x') if t not in held[n])}")
              for n in TARGETED)
    + f". One of the {len(test.labels)} test clips is {100 / len(test.labels):.1f} points. "
    f"Flex ops in all the files: {int(targets['Flex ops'].sum())}. An INT8 file stores, besides one byte per weight, "
    "a 32-bit bias and a scale and zero point per output channel, a scale and zero point per tensor, and the graph "
    "itself: a model of many small ops (the unrolled BiLSTM) carries more of that than one of a few large convolutions. "
    "Every `.tflite` file here, FP32 included, is written without its tensor names (`export.strip_strings`, as a "
    "release build ships it), so the ratio compares weights and graph, not debug strings."))

# %% [markdown]
# ## 7. TensorRT, from the ONNX file
#
# **TensorRT** compiles an ONNX graph into an *engine* for one NVIDIA GPU: it fuses layers, picks
# the fastest kernels for that card and can run them in FP16 or INT8 (calibrated, like TFLite, on
# representative clips). An engine is tied to the GPU and the TensorRT version that built it,
# so it is built where it runs. `export.tensorrt_engine` builds FP16 and INT8 engines when
# `tensorrt` and a GPU are present; otherwise it says so and prints the commands. It also saves the
# calibration clips beside the ONNX file, so the commands run as printed in a copy of the artifacts
# folder on a GPU machine (Colab with a GPU runtime: `pip install tensorrt cuda-python` works there).

# %%
if exports:
    first = next(iter(exports))
    onnx_file = exports[first].paths["onnx"]
    calibration = np.concatenate([clip for (clip,) in export.representative_data(train if first != "flow_cnn" else stacks["train"], 8)()])
    trt = export.tensorrt_engine(onnx_file, calibration=calibration, shown_as=onnx_file.relative_to(cfg.artifacts_dir))
    print(trt.message())

# %% [markdown]
# ## Results

# %%
COLUMNS = {"test_accuracy": "test accuracy", "max_abs_diff": "max |p - p_keras|", "top1_agreement": "top-1 agreement"}
metrics = {name: {"keras_test_accuracy": float(t.loc["keras", "test accuracy"]),
                  **{f"{kind}_{key}": float(t.loc[kind, column]) for kind in t.index.drop("keras") for key, column in COLUMNS.items()},
                  "int8_size_ratio": float(targets.loc[name, "x smaller"])} for name, t in tables.items()}
results_path = runs.save_results(
    cfg, "09_export", metrics=metrics, timings_s=watch.total(),
    extra={"exports": {name: e.relative(cfg.artifacts_dir) for name, e in exports.items()},
           "sizes_bytes": {name: {k: export.size_bytes(p) for k, p in e.paths.items()} for name, e in exports.items()},
           "latency_ms_per_clip": {name: t["ms / clip"].round(3).to_dict() for name, t in tables.items()},
           "export_seconds": {name: e.seconds for name, e in exports.items()},
           "calibration_clips": calibration_clips, "latency_repeats": latency_repeats,
           "tensorrt": {"engines": {k: p.name for k, p in trt.engines.items()}, "skipped": trt.skipped} if exports else None})
display(Markdown(f"Results written to `{results_path.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * Export a SavedModel, then convert to TFLite with builtin ops only; check every file for `Flex` ops.
# * FP16 halves the file; dynamic range and full INT8 shrink it further, full INT8 also makes it
#   integer end to end (where every op has an integer kernel), and its card carries the input and
#   output quantisation. Measure accuracy and agreement for each file: the table says what it cost.
# * Read the op table of an INT8 file: an op without an integer kernel stays float, silently.
# * ONNX through tf2onnx is the most portable route, exact in ONNX Runtime, and the input of TensorRT.
# * The `laptop` profile exports the same models at 96 px: larger files, the same ratios.
#
# ## Exercises
#
# **1. Quantise a clip by hand.** From the card of `c3d_v2`'s INT8 file (`card`), turn the first
# test clip `clip` (float32 pixels) into the integers the file takes, as `my_q`.

# %%
if "c3d_v2" not in exports:
    raise RuntimeError("exercise 1 reads the card of c3d_v2's INT8 file: run notebook 04, then this notebook")
clip = pipeline.take_arrays(test, batches=1)[0][:1]
my_q = None  # your code: the card's input_quantization, then round and clip to the input dtype
### BEGIN SOLUTION
# solution
quant = card["input_quantization"]
info = np.iinfo(card["input_dtype"])
my_q = np.clip(np.round(clip / quant["scale"] + quant["zero_point"]), info.min, info.max).astype(card["input_dtype"])
### END SOLUTION

# %%
expected = export.quantize(clip, export.TFLiteRunner(exports["c3d_v2"].paths["int8"]).input)
assert my_q is not None and my_q.dtype == expected.dtype, f"the file takes {expected.dtype}"
assert np.array_equal(my_q, expected), "q = round(x / scale + zero_point), clipped to the dtype's range"
print(f"exercise 1: correct: {my_q.dtype} clip of shape {my_q.shape}, values {my_q.min()}..{my_q.max()}")

# %% [markdown]
# **2. Find the float ops yourself.** `export.tflite_ops(path)` lists every op of a file with the
# dtypes of its `inputs` and `outputs`. From it, collect the sorted op types of `c3d_v2`'s INT8
# file that have a float32 output, `DEQUANTIZE` left out, as `my_float_ops`.

# %%
my_float_ops = None  # your code
### BEGIN SOLUTION
# solution
all_ops = export.tflite_ops(exports["c3d_v2"].paths["int8"])
my_float_ops = sorted({row.op for row in all_ops.itertuples() if "float32" in row.outputs and row.op != "DEQUANTIZE"})
### END SOLUTION

# %%
assert my_float_ops is not None, "filter the rows of export.tflite_ops"
assert my_float_ops == sorted(export.float_ops(exports["c3d_v2"].paths["int8"])), \
    "keep the ops whose outputs include float32, without DEQUANTIZE"
print(f"exercise 2: correct: {my_float_ops or 'no op'} stay float, as export.float_ops found")

# %% [markdown]
# ## References
#
# - LiteRT (TensorFlow Lite) documentation: *Post-training quantization*, *Model conversion*, *Select TensorFlow ops*.
# - B. Jacob et al. *Quantization and training of neural networks for efficient integer-arithmetic-only
#   inference.* CVPR 2018 (scale and zero point).
# - ONNX and ONNX Runtime documentation; `tf2onnx`.
# - NVIDIA TensorRT documentation: *Working with INT8*, `trtexec`.
#
# **Next:** notebook 10 (realtime) runs these files on a video stream with `ActionRecognizer`,
# sliding windows and temporal smoothing.
