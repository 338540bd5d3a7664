# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10 · Real-time recognition: sliding windows, smoothing and a live view
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/10_realtime.ipynb)
#
# Until now every model scored **trimmed clips**: one action, start to end, already cut out. A camera
# delivers something else: an endless stream in which actions begin and end whenever they like. A
# deployed recognizer must decide, again and again, *what is happening now*, from the last second or
# so of frames, fast enough to keep up, and without its label flickering between classes.
#
# **You will learn to**
#
# 1. load an exported model with its **model card** through one API, `ActionRecognizer`;
# 2. build a **test stream** of held-out people doing several actions back to back, with known boundaries;
# 3. run a **sliding window** over it, and match the window's time scale to what the model was trained on;
# 4. **smooth** the window scores (moving average, EMA) with a **hysteresis**, and measure what it buys
#    (fewer label switches) and costs (a later reaction at each boundary);
# 5. draw the **live view**, measure **frames per second and latency**, and see frame skipping keep
#    the recognizer on time when the source is faster than the model;
# 6. run the same thing from the command line and as a REST service.
#
# **Prerequisites:** notebook 04 (the (2+1)D model `c3d_v2`), notebook 09 (its INT8 export; without it
# this notebook falls back to the Keras model of 04), notebook 07 (the flow model, for the two-stream
# path). **Time:** under a minute to run in the `ci` profile on two CPU cores, 20 minutes to read and
# do the exercise.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
model_path = None  # None: 09's INT8 export of c3d_v2, else 04's runs/04_c3d_v2/best.keras
actions = 6  # actions in the test stream, each of another class
clips_per_action = 3  # clips of one held-out person per action, back to back
stride = 8  # frames between two windows
frame_step = None  # None: matched to the training clips (see section 3)
alpha = 0.3  # EMA weight of the newest window
hysteresis = 0.1  # margin another class must lead by before the label changes

# %%
import importlib.util, subprocess, sys
if "google.colab" in sys.modules and importlib.util.find_spec("course_utils") is None:
    # Colab's TensorFlow, Keras, NumPy and OpenCV stay as they are: the course package with its
    # deploy extra (LiteRT, ONNX Runtime, FastAPI), plus an OpenCV only where there is none
    extra = "[deploy]" if importlib.util.find_spec("cv2") else "[opencv,deploy]"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"course_utils{extra} @ git+https://github.com/action-recognition-course/action-recognition-course"], check=True)

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

from course_utils import catalog, datasets, plots, runs, serving, streaming, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)
manifest = catalog.prepare_dataset(cfg, progress=False)
NAMES = datasets.class_names(manifest)
OUT = cfg.artifacts_dir / "streaming"
exported = streaming.exported_model(cfg.artifacts_dir)
MODEL = Path(model_path) if model_path else exported or cfg.artifacts_dir / "runs" / "04_c3d_v2" / "best.keras"
if not MODEL.exists():
    raise FileNotFoundError("no clip model yet: run notebook 04 (and 09 for its INT8 export) first")
display(Markdown(f"**{len(NAMES)}** classes; the model: `{MODEL.relative_to(cfg.artifacts_dir) if MODEL.is_relative_to(cfg.artifacts_dir) else MODEL.name}`"
                 + ("" if model_path or exported else " (notebook 09's INT8 export is not there yet: this is "
                    "notebook 04's Keras model, slower, same scores to rounding; run 09 for the deployed one)")))

# %% [markdown]
# ## 1. One API for every format
#
# Notebook 09 exported the model several ways (TFLite FP32/FP16/INT8 for LiteRT, ONNX, SavedModel). Each
# file has a **model card** beside it: the class names in output order, the input shape and dtype, the
# value range. `ActionRecognizer.load(path)` reads the card and picks the runtime by the file's suffix:
# LiteRT's `Interpreter` for `.tflite`, ONNX Runtime for `.onnx`, Keras for `.keras` (a `.keras` of
# `runs/` has no card: its class names are given instead). Every frame is prepared **exactly as in
# training**: the shorter side resized to the frame cache's size (1/8 larger than the model's input),
# then the central square of the model's size, so the model sees what it was trained on.

# %%
recognizer = streaming.ActionRecognizer.load(MODEL, class_names=None if runs.card_path(MODEL).is_file() else NAMES,
                                             stride=stride, num_threads=1)
card = runs.read_model_card(MODEL) if runs.card_path(MODEL).is_file() else {"format": MODEL.suffix.lstrip(".")}
pd.Series({"format": card["format"], "input (one window)": recognizer.runner.input_shape,
           "classes": len(recognizer.class_names), "frames are fitted to": f"{recognizer.cover} px, then the central "
           f"{recognizer.size} px", "file size (kB)": round(MODEL.stat().st_size / 1e3, 1)}, name=MODEL.name).to_frame()

# %% [markdown]
# ## 2. A test stream with known boundaries
#
# The test split holds people no model has seen. `make_test_stream` draws `actions` classes, takes
# `clips_per_action` clips of one test person for each, and writes them back to back into one video,
# every clip fitted to the square the models look at. Because we built it, we know which action every
# frame shows: the ground truth of every number below.

# %%
stream = streaming.make_test_stream(manifest, OUT / "test_stream.avi", actions=actions,
                                    clips_per_action=clips_per_action, seed=cfg.seed)
TRUTH = stream.truth(NAMES)
BOUNDS = [int(b) for b in np.flatnonzero(np.diff(TRUTH)) + 1]
segments = stream.clips.groupby((stream.clips["label"] != stream.clips["label"].shift()).cumsum()).agg(
    label=("label", "first"), start=("start", "min"), end=("end", "max"), clips=("source", "size"))
display(segments.assign(frames=segments["end"] - segments["start"]).set_index("label").T)
middles = ((segments["start"] + segments["end"]) // 2).tolist()
fig = plots.frame_strip(video.load_clip(stream.path, middles), indices=range(len(middles)))
for ax, label, frame in zip(fig.axes, segments["label"], middles):
    ax.set_title(f"{label}\nframe {frame}", fontsize=8)
plots.save_figure(fig, cfg, "10_test_stream");

# %% [markdown]
# ## 3. Sliding windows, and the time scale of a window
#
# The recognizer keeps the last frames in a ring. Every `stride` frames it hands a **window** of `T = 16`
# of them to the model, so it decides `fps / stride` times a second. The decision for a window is known
# only when its last frame has arrived: the label on screen always describes the *recent past*.
#
# Which 16 frames? The model was trained on 16 frames spread **evenly over a whole clip** (notebook 04):
# on a 40-frame clip, about every second or third frame. Sixteen *consecutive* frames are a slower,
# shorter piece of motion than anything it saw. `frame_step` takes every `k`-th frame into the window,
# so a window spans `15 k + 1` frames. Below: the model without smoothing, windows of consecutive frames
# against windows matched to the median training clip.

# %%
train_frames = float(manifest.loc[manifest["split"] == "train", "frames"].median())
STEP = frame_step or max(1, round(train_frames / recognizer.window))


def run(step, smoothing="none", **options):
    """One pass over the test stream; returns the recognition and the labels shown at every frame."""
    recognizer.frame_step, recognizer.smoother = step, streaming.Smoother(smoothing, alpha=alpha, hysteresis=hysteresis)
    result = serving.recognize(recognizer, stream.path, **options)
    return result, streaming.frame_labels(result.results, result.frames, NAMES)


steps = {k: run(k) for k in sorted({1, STEP})}
step_scores = {k: streaming.stream_metrics(labels, TRUTH) for k, (_, labels) in steps.items()}
pd.DataFrame.from_dict({f"frame_step {k} (span {(recognizer.window - 1) * k + 1} frames)": m
                        for k, m in step_scores.items()}, orient="index")

# %%
accuracy = {k: m["frame_accuracy"] for k, m in step_scores.items()}
display(Markdown(
    f"The median training clip has {train_frames:.0f} frames, so windows take every **{STEP}** frame(s). "
    + (f"Frame-level accuracy: {accuracy[1]:.3f} with consecutive frames, {accuracy[STEP]:.3f} with every {STEP}: "
       + ("matching the time scale of training helps." if accuracy[STEP] > accuracy[1] else
          "here the longer span does not help, because a longer window straddles boundaries for longer.")
       if STEP != 1 else f"Frame-level accuracy {accuracy[1]:.3f}.")))

# %% [markdown]
# *What you should see:* without smoothing the label changes far more often than the actions do (the
# `label_switches` column against the stream's `true_switches`): windows that straddle a boundary, or
# that catch a pose two classes share, flip to another class for one decision and back.
#
# ## 4. Smoothing and hysteresis
#
# Two ways to average the recent windows' probabilities, then one rule for the label:
#
# * **moving average** of the last 3 windows: every window weighs the same, then drops out;
# * **EMA** (exponential moving average), `s = alpha * p + (1 - alpha) * s` with `alpha = 0.3`: the
#   newest window counts most, old ones fade; one number of state per class;
# * **hysteresis**: the label changes only when another class's smoothed probability exceeds the
#   current label's by a margin (0.1), so two classes at nearly equal scores cannot take turns.
#
# Both average over time, so both react later at a real boundary: the price, measured below as the
# **delay**, the frames from a true boundary until the new action's label first appears.

# %%
methods = {"no smoothing": steps[STEP], "moving average": run(STEP, "average"), "EMA + hysteresis": run(STEP, "ema")}
scores = {name: streaming.stream_metrics(labels, TRUTH) for name, (_, labels) in methods.items()}
table = pd.DataFrame.from_dict(scores, orient="index")
fig = plots.timeline_figure({"truth": TRUTH, **{name: labels for name, (_, labels) in methods.items()}}, NAMES,
                            stream.fps, BOUNDS)
plots.save_figure(fig, cfg, "10_timeline")
table

# %%
raw, ema = scores["no smoothing"], scores["EMA + hysteresis"]
display(Markdown(
    f"Smoothing cuts the label switches from **{raw['label_switches']}** to **{ema['label_switches']}** (the stream "
    f"has {raw['true_switches']} true ones) and moves frame-level accuracy from {raw['frame_accuracy']:.3f} to "
    f"{ema['frame_accuracy']:.3f}; the mean delay at a boundary goes from {raw['mean_delay_frames']} to "
    f"{ema['mean_delay_frames']} frames ({ema['mean_delay_frames'] / stream.fps:.1f} s at {stream.fps:g} fps). "
    "In the figure, compare each row with the truth at the dotted boundaries: the smoothed rows change colour "
    "less often, and a little later."))

# %% [markdown]
# *What you should see:* the unsmoothed row broken into many short bars, the smoothed rows into a few
# long ones that start a little after each boundary. A delay of several windows is the cost of every
# smoother; `alpha` and the margin trade it against the flicker. Where a whole action is mislabelled
# in every row, smoothing cannot help: that is the model (its clip accuracy in notebook 04), not the stream.
#
# ## 5. The live view
#
# `serving.recognize(..., out=path)` writes what a viewer would see: every frame with the label on
# screen at that moment ("warming up" until the first window is full), here with the true label below
# it. A GIF of every eighth frame, at a quarter of the size:

# %%
methods["EMA + live view written"] = run(STEP, "ema", out=OUT / "test_stream_live.mp4", truth=stream.labels, scale=2)
live = video.load_clip(OUT / "test_stream_live.mp4", np.arange(0, len(TRUTH), 8), size=2 * 64, fit="stretch")
gif = plots.save_gif(live, cfg, "10_live_view", fps=stream.fps / 8)
display(Image(data=gif.read_bytes(), format="gif"))
display(Markdown(f"{len(live)} frames, {gif.stat().st_size / 1e3:.0f} kB; the full live view is "
                 f"`{(OUT / 'test_stream_live.mp4').relative_to(cfg.artifacts_dir)}` in the artifacts folder."))

# %% [markdown]
# ## 6. Speed: frames per second, latency, frame skipping
#
# Every pass above timed itself (`recognizer.stats`): decoding, fitting frames to the model's input, the
# model, and the **latency** of each decision (from the arrival of its last frame to the result). The
# last row also drew and encoded the live view.

# %%
speed = pd.DataFrame.from_dict({name: result.stats.summary() for name, (result, _) in methods.items()}, orient="index")
display(speed[["frames_per_s", "realtime_factor", "decode_ms_per_frame", "preprocess_ms_per_frame",
               "model_ms_per_window", "latency_ms_median", "latency_ms_p95"]])
fast = speed.loc["EMA + hysteresis"]
per_frame = {"decoding": fast["decode_ms_per_frame"], "fitting frames": fast["preprocess_ms_per_frame"],
             "the model": fast["model_ms_per_window"] / stride}
display(Markdown(
    f"With EMA smoothing the recognizer ran at **{fast['frames_per_s']:.0f} frames/s**, {fast['realtime_factor']:.0f}x "
    f"the stream's {stream.fps:g} fps, and a decision was ready {fast['latency_ms_median']:.1f} ms (median) after its "
    f"last frame. Per frame: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per_frame.items())
    + f" (one window every {stride} frames): {max(per_frame, key=per_frame.get)} costs the most. `ci/bench_stream.py` "
    "measures the same on a 640x480 video on one core."))

# %% [markdown]
# A live camera cannot wait. With `realtime=True` (the default for a webcam) the source is paced at its
# frame rate and, when a window is due, the recognizer checks how old its newest frame already is; a
# window more than one stride late is **skipped**, so the model always sees the newest frames instead of
# falling further behind. To see it without a camera and a slow device: the stream played at 10x real
# time, and the model slowed down to `slow_ms` per window, more than the time between two windows.

# %%
class Slowed:
    """The same model on a slower device: every call takes at least `seconds` longer."""
    def __init__(self, runner, seconds):
        self.runner, self.seconds = runner, seconds
        self.input_shape, self.num_classes = runner.input_shape, runner.num_classes

    def predict(self, x):
        time.sleep(self.seconds)
        return self.runner.predict(x)


fast_fps, slow_ms = 10 * stream.fps, 2000 * stride / (10 * stream.fps)  # twice the time between windows
slow = streaming.ActionRecognizer(Slowed(recognizer.runner, slow_ms / 1e3), NAMES, stride=stride, frame_step=STEP,
                                  alpha=alpha, hysteresis=hysteresis)
paced = serving.recognize(slow, stream.path, fps=fast_fps, realtime=True)
skipped = paced.stats.summary()
display(Markdown(
    f"A window is due every {1e3 * stride / fast_fps:.0f} ms and the slowed model needs {slow_ms:.0f} ms: "
    f"{skipped['windows']} windows were scored, {skipped['skipped_windows']} skipped, and the pass took "
    f"{paced.stats.seconds:.1f} s for a {len(TRUTH) / fast_fps:.1f} s stream: the recognizer stayed on time. Frame-level "
    f"accuracy {streaming.stream_metrics(streaming.frame_labels(paced.results, paced.frames, NAMES), TRUTH)['frame_accuracy']:.3f} "
    f"(every window scored: {ema['frame_accuracy']:.3f})."))

# %% [markdown]
# ## 7. The two-stream path: flow computed online
#
# Notebook 08 fused the RGB model with the temporal stream of notebook 07, a CNN on stacks of optical
# flow. Live, the flow must be computed as frames arrive: one Farneback field per frame, at the size
# 07 cached flow at, kept in a ring beside the frames; at each window the stacks are cut from it as in
# training and the two distributions are averaged. The flow model is 09's INT8 export of `flow_cnn`
# (07's Keras model without it). The cost of flow is per frame, whatever the model.

# %%
FLOW_MODEL = streaming.exported_model(cfg.artifacts_dir, "flow_cnn") or cfg.artifacts_dir / "runs" / "07_flow_cnn" / "best.keras"
if FLOW_MODEL.is_file():
    two_stream = streaming.ActionRecognizer(recognizer.runner, NAMES, stride=stride, frame_step=STEP, alpha=alpha,
                                            hysteresis=hysteresis, flow_runner=streaming.load_runner(FLOW_MODEL))
    fused = serving.recognize(two_stream, stream.path)
    fused_metrics = streaming.stream_metrics(streaming.frame_labels(fused.results, fused.frames, NAMES), TRUTH)
    cost = fused.stats.summary()
    display(Markdown(
        f"RGB + flow: frame-level accuracy **{fused_metrics['frame_accuracy']:.3f}** (RGB alone, same smoothing: "
        f"{ema['frame_accuracy']:.3f}), {fused_metrics['label_switches']} switches; flow costs "
        f"**{cost['flow_ms_per_frame']:.2f} ms per frame** at {two_stream.flow.flow_size} px, the two models "
        f"{cost['model_ms_per_window']:.2f} ms per window (`{FLOW_MODEL.name}` beside the clip model): "
        f"{cost['frames_per_s']:.0f} frames/s in all, against {fast['frames_per_s']:.0f} for RGB alone."))
else:
    fused_metrics, cost = None, None
    display(Markdown("Notebook 07's flow model is not there yet: run 07 to see the two-stream path."))

# %% [markdown]
# ## 8. From the command line, and as a service
#
# The same recognizer without a notebook (`--classes` only for a model without a card):
#
# ```bash
# python -m course_utils recognize video.mp4 --model artifacts/export/c3d_v2/model_int8.tflite --frame-step 2 --out annotated.mp4
# python -m course_utils serve --model artifacts/export/c3d_v2/model_int8.tflite --port 8000
# curl -F file=@video.mp4 http://127.0.0.1:8000/recognize      # the timeline as JSON; docs at /docs
# ```
#
# `recognize` prints the timeline (start, end, label, confidence) and, with `--out`, writes the live view
# and its timeline JSON beside it; a video shorter than one window is scored once with its last frame
# repeated; a corrupt file is a one-line error naming it. From a webcam, in Python:
# `for result in recognizer.stream(0): print(result.label, result.confidence)`.

# %% [markdown]
# ## Results

# %%
metrics = {name.replace(" + ", "_").replace(" ", "_").lower(): m for name, m in scores.items()}
metrics["consecutive_frames"] = step_scores[1]
if fused_metrics:
    metrics["two_stream"] = fused_metrics
results_path = runs.save_results(
    cfg, "10_realtime", metrics=metrics, timings_s=watch.total(),
    extra={"model": MODEL.name, "model_format": card["format"], "stride": stride, "frame_step": STEP,
           "alpha": alpha, "hysteresis": hysteresis, "stream": {"frames": len(TRUTH), "fps": stream.fps,
           "boundaries": BOUNDS, "clips": stream.clips.to_dict("records")},
           "speed": speed.to_dict("index"), "frame_skipping": {"source_fps": round(fast_fps), **skipped},
           "two_stream_speed": cost, "two_stream_flow_model": FLOW_MODEL.name if fused_metrics else None})
display(Markdown(f"Results written to `{results_path.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * A stream is scored one **sliding window** at a time; a decision describes the window's recent past,
#   so there is always a delay, and the window should span the time scale the model was trained on.
# * Raw window labels **flicker**. A moving average or an EMA of the probabilities plus a **hysteresis**
#   margin removes most switches, at the cost of a later reaction at each boundary: measure both.
# * Speed is decode + fitting frames + the model; with a small INT8 model, decoding dominates. Frame
#   skipping keeps a live recognizer current when the source is faster than it.
# * The `laptop` profile renders longer, larger clips (more frames per action) and trains at 96 px.
#
# ## Exercise
#
# **Smoothing by hand.** `window_probs` holds the raw probabilities of the unsmoothed run, one row per
# window. Compute the label after each window with an EMA (`alpha`) and the hysteresis rule (switch only
# when the best class leads the current label by more than `hysteresis`; the first window sets the label)
# as the list `my_labels` of class indices, NumPy only.

# %%
window_probs = np.stack([r.probs for r in methods["no smoothing"][0].results])
my_labels = None  # your code
### BEGIN SOLUTION
state, label, my_labels = None, None, []
for p in window_probs.astype(np.float64):
    state = p if state is None else alpha * p + (1 - alpha) * state
    best = int(np.argmax(state))
    if label is None or state[best] - state[label] > hysteresis:
        label = best
    my_labels.append(label)
### END SOLUTION

# %%
reference = streaming.Smoother("ema", alpha=alpha, hysteresis=hysteresis)
expected = [reference.update(p)[0] for p in window_probs]
assert my_labels is not None and len(my_labels) == len(window_probs), "one label per window"
assert list(my_labels) == expected, "EMA first (the first window starts the state), then the margin rule"
print(f"exercise: correct: {len(my_labels)} windows, {streaming.label_switches(np.array(my_labels))} label switches "
      f"(raw: {streaming.label_switches(window_probs.argmax(1))})")

# %% [markdown]
# ## References
#
# - D. Tran et al. *A closer look at spatiotemporal convolutions for action recognition* (R(2+1)D). CVPR 2018.
# - O. Köpüklü et al. *Real-time hand gesture detection and classification using convolutional neural
#   networks* (a detector and a classifier over sliding windows, with a delay measure). FG 2019.
# - LiteRT (TensorFlow Lite) and ONNX Runtime documentation: the interpreters behind `ActionRecognizer.load`.
#
# **Next steps:** this is the last notebook of the core course. Point `recognize` at your own videos or
# a webcam; train on a real dataset in the `full` profile and export it with notebook 09; or go on to
# the extensions: notebook 11 (attention over time, several time scales, a mask side task, Grad-CAM
# over frames) and notebook 12 (a skeleton stream and its fusion with RGB).
