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
# # 07 · The temporal stream: a CNN on stacked optical flow
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/07_temporal_stream.ipynb)
#
# Notebook 06 gave single RGB frames to an image network: the **spatial stream**, which knows what a
# scene *looks like* but not which way anything moves. *Sit down* and *stand up* show the same
# frames in opposite orders; *wave* and *raise a hand* the same poses, moving or still. The
# **temporal stream** of a two-stream network (Simonyan and Zisserman, 2014) sees motion instead:
# its input is **optical flow**, the displacement of every pixel from one frame to the next
# (notebook 03), several fields stacked as the channels of one image.
#
# **You will learn to**
#
# 1. build the input of the temporal stream: **stacks** of `L` consecutive flow fields (`2L`
#    channels), `K` of them per video as in Temporal Segment Networks (TSN), with the camera's
#    motion subtracted;
# 2. augment flow correctly: a horizontal flip must also **negate the horizontal component**;
# 3. train a small stacked-flow CNN from scratch and check it on the motion-only pairs;
# 4. compare it with a 3D CNN on the same flow, and start a pretrained image backbone on flow with
#    TSN's **cross-modality initialisation**;
# 5. save per-video scores for the fusion of notebook 08.
#
# **Prerequisites:** notebooks 03 (optical flow and its cache), 04 (pipeline, training, evaluation)
# and 06 (the spatial stream). **Time:** about a minute to run in the `ci` profile on two CPU cores
# (15 s more if notebook 03 has not cached the flow yet), 20 minutes to read and do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
epochs = None  # None: the profile's (config.VIDEO_MODEL_SETTINGS)
flow_size = None  # side of the cached flow; None: notebook 03's cache (the profile's frame size, 64 px in ci)
image_size = None  # side of the stacks the model sees; None: half of flow_size
batch_size = 16  # videos per batch (each brings K stacks)
segments = 3  # K: stacks per video
length = 10  # L: consecutive flow fields per stack
c3d_epochs = 3  # epochs of the 3D CNN on flow (section 6); 0 skips it
weights = None  # RGB weights for the cross-modality init.; None: the profile's ("imagenet" in full) or 05's course-made
alpha = 0.35  # MobileNetV2's width multiplier, as in notebook 05
workers = 2

# %%
import importlib.util, subprocess, sys
if "google.colab" in sys.modules and importlib.util.find_spec("course_utils") is None:
    # Colab's TensorFlow, Keras, NumPy and OpenCV stay as they are: the bare course package, plus
    # an OpenCV (the "opencv" extra) only where there is none: two OpenCV packages clash in cv2/
    extra = "" if importlib.util.find_spec("cv2") else "[opencv]"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"course_utils{extra} @ git+https://github.com/action-recognition-course/action-recognition-course"], check=True)

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import (catalog, config, datasets, evaluation, flow, models, plots, pretraining, runs, temporal,
                          training)

FLOW_SIZE = flow_size or temporal.default_flow_size(profile)
settings = config.video_model_settings(profile, epochs=epochs, batch_size=batch_size,
                                       image_size=image_size or FLOW_SIZE // 2)
cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed, **settings)
strategy = training.configure(cfg)
manifest = catalog.prepare_dataset(cfg, workers=workers, progress=False)
start = time.perf_counter()
table = temporal.prepare_flow(cfg, manifest, size=FLOW_SIZE, workers=workers)  # computes only what is missing
watch.lap("flow_cache", start)
NAMES, RUNS = list(table.attrs["class_names"]), cfg.artifacts_dir / "runs"
display(Markdown(f"**{len(table)}** videos of **{len(NAMES)}** classes, their flow cached at {FLOW_SIZE}x{FLOW_SIZE} px; "
                 f"the model sees {segments} stacks of {length} fields per video at {cfg.image_size}x{cfg.image_size}."))

# %% [markdown]
# ## 1. From flow fields to stacks
#
# One flow field is an image with two channels: `dx` (positive: to the right) and `dy` (positive:
# down), in pixels per frame. One field shows an instant; a movement takes several. The
# two-stream paper stacks **`L = 10` consecutive fields** into one input of **`2L = 20`
# channels**, so the first convolution already sees how each pixel moved over ten frames. The
# course's stacks are **interleaved**: channel `2i` is `dx` of field `i`, channel `2i + 1` its `dy`.
#
# Four more decisions, each one line in `course_utils.temporal`:
#
# * **segments (TSN)**: a video is cut into `K = 3` equal segments and each gives one stack, at a
#   random position while training and at the segment's centre at evaluation. The network scores
#   each stack; the video's score is their average (the *consensus*), so the model sees the whole
#   video at the cost of three images;
# * **mean subtraction**: each channel of a stack has its spatial mean removed. A camera that
#   sways moves every pixel alike; what is left is what moved *in* the scene;
# * **a flow-aware flip**: mirroring a video left-right mirrors the fields **and reverses every
#   horizontal displacement**; an image flip alone would keep the arrows pointing the old way;
# * **sizes**: notebook 03 cached flow at the profile's frame size; the stacks are cut (a random
#   square crop in training) and **resized to half of it**, with the vectors scaled alike. Farneback
#   on small frames smooths a thin, fast forearm away, and averaging neighbouring vectors lowers the
#   rounding noise of the uint8 cache: in the course's trials flow at 48 px fed to the model at 48
#   px left a waving hand hard to tell from a still one, flow at 64 px halved to 32 px did not.
#
# A video shorter than `L + 1` frames gets a window centred on it whose edge fields repeat.

# %%
data = temporal.flow_datasets_for(cfg, table, segments=segments, length=length)
x, y = next(iter(data["train"].dataset))
channel_means = np.abs(x.numpy().mean(axis=(2, 3))).max()
display(Markdown(f"A training batch: `x` {tuple(x.shape)} float32 (videos, stacks, height, width, channels), "
                 f"`y` {tuple(y.shape)}; the largest per-stack channel mean is {channel_means:.1e} px. "
                 + " · ".join(f"{split}: {d.steps} batches" for split, d in data.items())))

# %% [markdown]
# ## 2. What a stack looks like
#
# The middle stack of the first validation video of each motion-only class, every field as a colour
# picture (hue: direction, brightness: speed; the key on the right).

# %%
val = data["val"]
pairs = evaluation.motion_pairs(NAMES) or [tuple(NAMES[:2])]
shown = [int(np.flatnonzero(val.videos["label"] == name)[0]) for pair in pairs for name in pair]
rows = [(f"{val.videos.at[i, 'label']}\n{val.videos.at[i, 'path'].rsplit('/', 1)[-1]}",
         val.source.centre_stacks(i)[segments // 2]) for i in shown]
fig = temporal.stack_figure(rows)
plots.save_figure(fig, cfg, "07_flow_stacks");

# %% [markdown]
# *What you should see:* *wave* lights up at the hand, its colour turning as the forearm swings
# back and forth; *raise hand*, the same pose held still, stays dark. *Sit down* and *stand up* move
# a fraction of a pixel per frame at this size: look for faint patches on the body with the colour
# of downward arrows (green-yellow in the key) in one and of upward arrows (violet) in the other.
# The bright streaks along horizontal edges are in both twins: flow along an edge is ill-defined
# (the aperture problem of notebook 03) and the camera sways. The network reads all of it at once,
# 20 channels and 3 stacks per video.
#
# ## 3. A small CNN on stacks
#
# The network is a plain 2-D CNN whose input happens to have 20 channels: four strided 3x3
# convolutions with BatchNorm (momentum 0.9, for short runs) and ReLU, global average pooling,
# dropout and a softmax. The `K` stacks of a video are folded into the batch (`FoldTime`), scored
# one by one, unfolded (`UnfoldTime`) and averaged.

# %%
print(models.model_source("flow_cnn"))

# %%
SHAPE = data["train"].dataset.element_spec[0].shape[1:]
with strategy.scope():
    model = models.build_model("flow_cnn", SHAPE, len(NAMES))
run = training.fit(model, data["train"], data["val"], RUNS / "07_flow_cnn", epochs=cfg.epochs, seed=cfg.seed,
                   learning_rate=3e-3)
fig = plots.training_curves({"flow_cnn": run.history})
plots.save_figure(fig, cfg, "07_curves")
display(Markdown(f"**{model.count_params():,}** parameters, {cfg.epochs} epochs of {run.seconds_per_epoch:.1f} s; "
                 f"best validation accuracy {max(run.history['val_accuracy']):.2f} (epoch {run.best_epoch + 1}), "
                 f"training accuracy {run.history['accuracy'][-1]:.2f} at the end."))

# %% [markdown]
# *What you should see:* training and validation accuracy rising together for the first half of the
# run, then a gap that opens slowly as validation levels off: the stacks carry no scene, colour or
# clothing to memorise, only the motion of people the model has not met. `training.fit` keeps the
# best validation epoch.
#
# ## 4. Scores on the test people

# %%
scores = evaluation.evaluate(model, data["test"], time_checks=False)
m = scores.metrics
PAIR_KEYS = [f"{a}_vs_{b}_accuracy" for a, b in evaluation.motion_pairs(NAMES)]
spatial_file = cfg.results_dir / "06_resnet50_spatial.json"
spatial = runs.load_results(spatial_file)["metrics"] if spatial_file.is_file() else {}
beside = {"temporal: flow_cnn": m, **{f"spatial (06): {name}": s for name, s in spatial.items() if "test_accuracy" in s}}
pd.DataFrame({name: {"test accuracy": s["test_accuracy"], "low": s.get("test_accuracy_low"),
                     "high": s.get("test_accuracy_high"), "macro F1": s.get("macro_f1"),
                     **{key.replace("_accuracy", "").replace("_vs_", " / "): s.get(key) for key in PAIR_KEYS}}
              for name, s in beside.items()}).T.round(3)

# %%
display(Markdown(
    f"Test accuracy **{m['test_accuracy']:.3f}** (95 % interval {m['test_accuracy_low']:.2f}-{m['test_accuracy_high']:.2f}), "
    f"macro F1 {m['macro_f1']:.3f}"
    + ("; on the motion-only pairs "
       + ", ".join(f"{a} / {b} **{m[f'{a}_vs_{b}_accuracy']:.2f}**" for a, b in evaluation.motion_pairs(NAMES))
       + " (0.5 is a coin toss, where a single frame stays)." if PAIR_KEYS else
       ". This dataset has no motion-only pairs (the synthetic set's classes that differ only in motion), so "
       "there is no pairwise score to read here.")
    + ("" if spatial else " Run notebook 06 first to see the spatial stream beside it.")))
fig = scores.confusion_figure(title="flow_cnn on the test people")
plots.save_figure(fig, cfg, "07_confusion")
evaluation.top_confusions(scores.labels, scores.probs, NAMES)

# %% [markdown]
# *What you should see:* the motion-only pairs, where single frames cannot help, mostly right. The
# remaining confusions are between classes that move alike (a kick and a punch: one limb thrown
# forward) rather than between classes that look alike.
#
# ## 5. Flipping flow
#
# A flip that forgets to negate `dx` produces fields no mirrored video has. Two checks:
#
# * **against the real thing**: compute the flow of a mirrored *walk* video and compare it with each
#   flip of the original video's flow (mean endpoint error over the pixels that move, in pixels);
# * **what the model makes of it**: the test stacks mirrored both ways. Trained with flow-aware
#   flips, the model has seen mirrored motion; a naive flip shows it motion that never happens.

# %%
demo = val.videos[val.videos["label"] == ("walk" if "walk" in NAMES else NAMES[0])].iloc[0]
gray = flow.read_gray_video(datasets.video_paths(manifest[manifest["path"] == demo["path"]])[0], FLOW_SIZE)
forward, of_mirrored = flow.compute_flow(gray), flow.compute_flow(np.ascontiguousarray(gray[:, :, ::-1]))
moving = flow.magnitude(of_mirrored) > 0.5  # the pixels that move in the mirrored video
flip_error = {name: float(flow.magnitude(flipped - of_mirrored)[moving].mean()) for name, flipped in
              (("flow-aware", temporal.flip_flow(forward)), ("naive", temporal.flip_flow(forward, naive=True)))}
mirrored = {kind: evaluation.evaluate(model, temporal.mirrored(data["test"], naive=kind == "naive"),
                                      time_checks=False, timing=False).metrics for kind in ("flow-aware", "naive")}
pd.DataFrame({f"{kind} flip": {"endpoint error vs the mirrored video's flow (px)": flip_error[kind],
                               "test accuracy on stacks mirrored this way": mirrored[kind]["test_accuracy"],
                               **{key.replace("_accuracy", ""): mirrored[kind][key] for key in PAIR_KEYS}}
              for kind in mirrored}).round(3)

# %%
gap = mirrored["flow-aware"]["test_accuracy"] - mirrored["naive"]["test_accuracy"]
display(Markdown(
    f"The flow-aware flip matches the flow of the mirrored video to {flip_error['flow-aware']:.1e} px (Farneback "
    f"treats left and right alike); the naive one misses it by {flip_error['naive']:.2f} px on every moving pixel. "
    f"The model scores {m['test_accuracy']:.3f} on the test stacks as recorded, {mirrored['flow-aware']['test_accuracy']:.3f} "
    f"mirrored flow-aware and {mirrored['naive']['test_accuracy']:.3f} mirrored naively. "
    + (f"The naive flip costs it {gap * 100:.1f} points: motion it never trained on." if gap > 0.02 else
       f"Here the two flips score within {abs(gap) * 100:.1f} points of each other: none of these classes is told apart "
       "by the direction of horizontal motion (there is no *swipe left* vs *swipe right*), so the model barely reads "
       "the sign of `dx`. On data where left and right matter, a naive flip turns one class into the other.")
    + " Trained on flipped stacks, the model is symmetric only on average: mirroring the test stacks at all moves its "
    f"accuracy by {(mirrored['flow-aware']['test_accuracy'] - m['test_accuracy']) * 100:+.1f} points, a reminder of how "
    f"wide the interval of {len(data['test'].videos)} test videos is."))

# %% [markdown]
# ## 6. A 3D CNN on flow
#
# Stacking gives the time axis to the channels, where the first layer mixes it at once. A 3D CNN
# keeps it as an axis instead: here notebook 04's compact (2+1)D network `c3d_v2`, fed **clips of
# 16 consecutive flow fields** (2 channels each, the frame-difference input off: flow already is
# motion), trained briefly.

# %%
C3D_DATA = dict(segments=1, length=16, layout="clip")
if c3d_epochs:
    clips = temporal.flow_datasets_for(cfg, table, **C3D_DATA)
    training.configure(cfg)
    with strategy.scope():
        c3d = models.build_model("c3d_v2", clips["train"].dataset.element_spec[0].shape[1:], len(NAMES),
                                 frame_difference=False, dropout=0.2)
    run_c3d = training.fit(c3d, clips["train"], clips["val"], RUNS / "07_c3d_v2_flow", epochs=c3d_epochs,
                           seed=cfg.seed, learning_rate=3e-3)
    c3d_scores = evaluation.evaluate(c3d, clips["test"], time_checks=False, timing=False)
    runs_of = {"flow_cnn (stacks)": (model, run, m), "c3d_v2 (flow clips)": (c3d, run_c3d, c3d_scores.metrics)}
    display(pd.DataFrame.from_dict({name: {
        "parameters": f.count_params(), "epochs": len(r.history["val_accuracy"]), "s / epoch": round(r.seconds_per_epoch, 1),
        f"val accuracy after {c3d_epochs} epochs": r.history["val_accuracy"][c3d_epochs - 1],
        "test accuracy": s["test_accuracy"], **{k.replace("_accuracy", ""): s[k] for k in PAIR_KEYS}}
        for name, (f, r, s) in runs_of.items()}, orient="index").round(3))
    display(Markdown(f"An epoch of `c3d_v2` on flow took {run_c3d.seconds_per_epoch / run.seconds_per_epoch:.1f}x as long "
                     f"as one of the stacks' CNN; after {c3d_epochs} epochs it scores {c3d_scores.metrics['test_accuracy']:.3f} "
                     f"on test."))
else:
    display(Markdown("Skipped (`c3d_epochs = 0`)."))

# %% [markdown]
# *What you should see:* both networks read flow, and with it the motion-only pairs. The short run
# of the 3D network stops far from where it would end, so compare the trend, not the digits: the
# stacks' CNN validation accuracy after the same few epochs is in the table, though on a schedule
# set for all of its epochs. For the stacks' CNN a video costs three 2-D images; for the (2+1)D
# network, 16 frames of spatial and temporal convolutions.
#
# ## 7. Cross-modality initialisation
#
# An ImageNet-pretrained backbone expects 3 input channels; a stack has 20. TSN's answer: average
# the first convolution's RGB filters over their three channels and copy that average to every
# flow channel; all other layers keep their weights. `temporal.flow_backbone` does this for any
# registered backbone from a weights file (`temporal.cross_modality_clone` from a built one): here
# the course-made MobileNetV2 weights of notebook 05 (ImageNet's in the `full` profile).

# %%
COURSE_MADE = weights is None and cfg.weights is None
RGB_WEIGHTS = weights or cfg.weights or pretraining.weights_path(
    cfg, "mobilenet_v2", config.video_model_settings(profile)["image_size"], pretraining.PRETEXTS["mobilenet_v2"], alpha=alpha)
found = RGB_WEIGHTS == "imagenet" or Path(RGB_WEIGHTS).is_file()
rgb = models.build_backbone("mobilenet_v2", cfg.image_size, str(RGB_WEIGHTS) if found else None, alpha=alpha)
flow_net = temporal.cross_modality_clone(rgb, 2 * length)  # what temporal.flow_backbone builds from a weights file
rgb_kernel, flow_kernel = (temporal.first_conv(net).get_weights()[0] for net in (rgb, flow_net))
pd.DataFrame({"RGB backbone": {"first kernel": str(rgb_kernel.shape), "parameters": rgb.count_params()},
              "flow backbone": {"first kernel": str(flow_kernel.shape), "parameters": flow_net.count_params()}}).T

# %%
same = np.allclose(flow_kernel, rgb_kernel.mean(axis=2, keepdims=True))
display(Markdown(
    f"Every one of the {flow_kernel.shape[2]} input slices of the flow kernel equals the mean of the RGB kernel's three: "
    f"**{same}**; {flow_net.count_params() - rgb.count_params():,} more weights, all in that first layer. "
    + ("Started from notebook 05's course-made weights." if found and COURSE_MADE else
       f"Started from `{RGB_WEIGHTS}`." if found else
       "Notebook 05's weights are not there yet, so these are random RGB weights, averaged the same way: run 05 first.")
    + " Training this backbone on flow (`models.build_model(\"flow_backbone_tsn\", ...)`) costs minutes on a CPU: in the "
    "`full` profile, with ImageNet weights, it is the temporal stream of TSN."))

# %% [markdown]
# ## 8. Scores for fusion
#
# Notebook 08 fuses the two streams without running either network again: each saves the
# video-level probabilities of the validation and test videos, keyed by their manifest paths.

# %%
scores_file = evaluation.save_stream_scores(cfg, "temporal", model, {"val": data["val"], "test": data["test"]})
display(Markdown(f"Saved `{scores_file.name}`: {len(data['val'].videos)} validation and {len(data['test'].videos)} "
                 "test videos."))

# %% [markdown]
# ## Results

# %%
metrics = {"flow_cnn": m,
           "flow_cnn_mirrored": {"flow_flip_accuracy": mirrored["flow-aware"]["test_accuracy"],
                                 "naive_flip_accuracy": mirrored["naive"]["test_accuracy"]},
           "cross_modality": {"kernel_is_rgb_mean": int(same), "flow_backbone_params": flow_net.count_params()}}
if c3d_epochs:
    metrics["c3d_v2_flow"] = {**c3d_scores.metrics, "val_accuracy": max(run_c3d.history["val_accuracy"])}
results_path = runs.save_results(
    cfg, "07_temporal_stream", metrics=metrics, timings_s=watch.total(),
    extra={"settings": settings, "flow_size": FLOW_SIZE, "c3d_epochs": c3d_epochs, "c3d_data": C3D_DATA,
           "flow_data": {"segments": segments, "length": length, "image_size": cfg.image_size},
           "model_file": (RUNS / "07_flow_cnn" / "best.keras").relative_to(cfg.artifacts_dir).as_posix(),
           "flip_endpoint_error_px": {k: round(v, 4) for k, v in flip_error.items()},
           "cross_modality_weights": "course-made" if found and COURSE_MADE else str(RGB_WEIGHTS) if found else None,
           "seconds_per_epoch": {"flow_cnn": run.seconds_per_epoch,
                                 **({"c3d_v2_flow": run_c3d.seconds_per_epoch} if c3d_epochs else {})},
           "scores_file": scores_file.name, "evaluation": scores.extra})
display(Markdown(f"Results written to `{results_path.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * The temporal stream is an image CNN whose channels are `L` flow fields (`dx`, `dy`
#   interleaved); TSN takes `K` stacks per video and averages their scores.
# * Subtract each channel's mean (the camera), flip with `dx` negated, and resize the vectors with
#   the fields.
# * Flow knows the direction of a movement, which no single frame does: compare its pairwise
#   accuracies with the spatial stream's, and notebook 08 will fuse the two.
# * The `laptop` profile caches flow at 112 px and feeds 56 px stacks, with 40 epochs; the `full`
#   profile, with ImageNet weights, is where `flow_backbone_tsn` (cross-modality initialised) pays off.
#
# ## Exercises
#
# **1. Mirror a stack by hand.** Take the first test stack, `stack = temporal_stacks[0, 0]` (shape
# `(S, S, 2L)`), and build its flow-aware mirror image with NumPy only (no `temporal.flip_flow`) as
# `my_mirror`.

# %%
temporal_stacks = next(iter(data["test"].dataset))[0].numpy()
stack = temporal_stacks[0, 0]
my_mirror = None  # your code
### BEGIN SOLUTION
# solution
my_mirror = stack[:, ::-1].copy()
my_mirror[..., 0::2] *= -1
### END SOLUTION

# %%
assert my_mirror is not None and my_mirror.shape == stack.shape, "mirror the width axis (axis 1) of the stack"
assert np.allclose(my_mirror[..., 1::2], stack[:, ::-1, 1::2]), "the dy channels (odd) are only mirrored"
assert np.allclose(my_mirror[..., 0::2], -stack[:, ::-1, 0::2]), "the dx channels (even) are mirrored AND negated"
print(f"exercise 1: correct: {stack.shape[-1] // 2} dx channels negated, {stack.shape[-1] // 2} dy channels kept, "
      "as temporal.flip_flow does")

# %% [markdown]
# **2. Cross-modality by hand.** From the RGB backbone's first kernel `rgb_kernel` `(3, 3, 3, f)`,
# compute the kernel for `2 * length` flow channels as `my_kernel`.

# %%
my_kernel = None  # your code
### BEGIN SOLUTION
# solution
my_kernel = np.repeat(rgb_kernel.mean(axis=2, keepdims=True), 2 * length, axis=2)
### END SOLUTION

# %%
assert my_kernel is not None and my_kernel.shape == flow_kernel.shape, f"the shape is {flow_kernel.shape}"
assert np.allclose(my_kernel, flow_kernel), "average over axis 2 (the RGB channels), then repeat it 2L times"
print(f"exercise 2: correct: {my_kernel.shape}, each of the {2 * length} input channels the mean of R, G and B, "
      "as temporal.cross_modality_kernel computes")

# %% [markdown]
# ## References
#
# - K. Simonyan and A. Zisserman. *Two-stream convolutional networks for action recognition in videos.* NeurIPS 2014.
# - L. Wang et al. *Temporal segment networks: towards good practices for deep action recognition.* ECCV 2016
#   (segments, consensus, cross-modality initialisation).
# - G. Farnebäck. *Two-frame motion estimation based on polynomial expansion.* SCIA 2003.
# - D. Tran et al. *A closer look at spatiotemporal convolutions for action recognition* (R(2+1)D). CVPR 2018.
#
# **Next:** [08_two_stream_fusion](08_two_stream_fusion.ipynb) fuses the scores of the spatial and
# temporal streams, and shows where each one helps.
