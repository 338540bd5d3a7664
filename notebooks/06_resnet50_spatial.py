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
# # 06 · The spatial stream: ResNet-50 on single frames
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/06_resnet50_spatial.ipynb)
#
# A **two-stream network** (Simonyan and Zisserman, 2014) splits a video into what it *looks like*
# and how it *moves*, and gives each to its own network. This notebook builds the first one, the
# **spatial stream**: an image classifier, ResNet-50, that sees **single RGB frames**. Notebook 07
# builds the temporal stream on optical flow; notebook 08 fuses their scores.
#
# A single frame knows a lot: the scene, the objects, the pose of the moment. It cannot know the
# direction of a movement. This notebook measures both sides of that.
#
# **You will learn to**
#
# 1. fine-tune a large pretrained image network in two phases: a frozen **warm-up** of the new
#    classifier, then the **last stage unfrozen** with a lower learning rate, BatchNorm kept frozen;
# 2. train and test it the **TSN** way: a few frames (segments) per video, their scores averaged;
# 3. read what a single frame can know (the scene: context bias) and what it cannot (the motion-only pairs);
# 4. save per-video scores for late fusion.
#
# **Prerequisites:** notebooks 04 (pipeline, evaluation) and 05 (`weights=`, frozen and fine-tuned
# backbones). **Time:** about 3 minutes to run in the `ci` profile on two CPU cores, 20 minutes to
# read and do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
image_size = None  # None: the profile's (config.VIDEO_MODEL_SETTINGS)
weights = None  # None: the profile's ("imagenet" in full), else course-made; or "imagenet" or a .weights.h5 path
train_segments = 4  # frames (segments) per training video
test_frames = 8  # frames averaged per video at test
warmup_epochs = 30
finetune_epochs = 2
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
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import evaluation, models, plots, pretraining, runs, streams, training

setup = training.start_clip_notebook(profile, dataset, data_dir, artifacts_dir, seed, workers=workers,
                                     image_size=image_size)
cfg, watch, strategy, settings = setup.cfg, setup.watch, setup.strategy, setup.settings
table, NAMES, RUNS = setup.table, setup.class_names, setup.runs_dir
SIZE = cfg.image_size
display(Markdown(f"**{len(table)}** videos, **{len(NAMES)}** classes; frames at {SIZE}x{SIZE}, "
                 f"{train_segments} per training video, {test_frames} per test video."))

# %% [markdown]
# ## 1. ResNet-50 and its weights
#
# `keras.applications.ResNet50` has 23.6 million parameters in five stages; each stage halves the
# resolution. With `weights="imagenet"` (Colab, a GPU) it starts from ImageNet. Offline, as in
# this course's CI, the course makes a stand-in the way notebook 05 did for MobileNetV2: the same
# pretext task (scene and pose questions on single frames of a separate synthetic set), fewer
# epochs because ResNet-50 costs about 20 ms per frame and step on two CPU cores. The file is made
# once and then loaded through the same `weights=` argument.

# %%
if weights is None and cfg.weights is None:  # ci, laptop: the course-made stand-in; full: ImageNet
    WEIGHTS, card = pretraining.pretrain_backbone(cfg, "resnet50", pretext=pretraining.PRETEXTS["resnet50"],
                                                  workers=workers)
    display(pd.Series({"pretext task": card["task"], "frames (train / held-out people)":
                       f"{card['train_frames']} / {card['held_out_frames']}",
                       "scene accuracy (held out)": f"{card['scene_accuracy']:.2f} (chance {card['scene_chance']:.2f})",
                       "pose questions right (held out)": f"{card['attribute_accuracy']:.2f} (always the more "
                                                          f"frequent answer: {card['attribute_majority']:.2f})",
                       "seconds": card["seconds"]}).to_frame("course-made ResNet-50"))
else:
    WEIGHTS, card = weights or cfg.weights, {}
    display(Markdown(f"Using `weights={WEIGHTS!r}`."))

# %% [markdown]
# ## 2. A frozen trunk, computed once
#
# Fine-tuning usually unfreezes only the **last stage** (`conv5`, 15 of the 23.6 million
# parameters here): the early stages detect edges and textures that any task needs. With stages
# 1-4 frozen and their BatchNorm layers in inference mode, their output for a given frame never
# changes. So the course computes it **once** per frame (the trunk, cut at `conv4_block6_out`) and
# trains only `conv5` and the classifier on the cached maps: the same model, at a fraction of the
# cost. (The price: no new crops or flips per epoch. On a GPU, train the whole `tsn` model on
# clips from the pipeline instead, as notebook 04 does.)
#
# **TSN sampling:** a video is cut into segments and one frame taken from each: the
# `train_segments` frames are spread evenly over the whole video. The model scores every frame and
# **averages** the scores (the segmental consensus), so one video gives one prediction.

# %%
backbone = models.build_backbone("resnet50", SIZE, str(WEIGHTS))
trunk, last_stage = models.split_backbone(backbone, "resnet50")
cached = streams.trunk_maps(cfg, table, trunk, "resnet50", Path(str(WEIGHTS)).name,
                            {"train": train_segments, "val": test_frames, "test": test_frames})
maps, labels = cached.maps, cached.labels
display(Markdown(f"Trunk maps of {sum(m.shape[0] * m.shape[1] for m in maps.values()):,} frames, each "
                 f"`{maps['train'].shape[2:]}`, in {cached.seconds:.1f} s (cached for the next run)."))

# %% [markdown]
# ## 3. Warm-up: only the new classifier learns
#
# A new dense layer on top of pretrained features starts random; its first gradients are large.
# If the backbone were unfrozen now, those gradients would flow into it and damage what it learnt.
# So first the backbone stays frozen and only the classifier trains.

# %%
print(models.model_source("tsn"))

# %%
frame_model, head, warm_fit = streams.warm_up(cfg, last_stage, cached, len(NAMES), warmup_epochs)
display(Markdown(f"Warm-up: {models.count_trainable(head):,} trainable parameters (the classifier), "
                 f"{sum(warm_fit.epoch_seconds):.1f} s for {warmup_epochs} epochs; best validation accuracy "
                 f"{max(warm_fit.history['val_accuracy']):.2f}."))

# %% [markdown]
# ## 4. Fine-tuning the last stage
#
# Now `conv5` is unfrozen with a **10x lower learning rate**. Its BatchNorm layers stay frozen:
# in Keras, a frozen BatchNorm layer runs in inference mode, normalising with the mean and variance
# it was pretrained with. Trainable, it would re-estimate them from each batch of 32 frames, and the
# weights around it, tuned to the old statistics, would see different inputs (the Keras
# transfer-learning guide explains this). Training continues from the warm-up's weights.

# %%
tuned, tune_fit = streams.fine_tune(cfg, last_stage, frame_model, cached, finetune_epochs)
fig = plots.training_curves({"warm-up (frozen)": warm_fit.history, "fine-tuned conv5": tune_fit.history})
plots.save_figure(fig, cfg, "06_curves")
display(Markdown(f"Fine-tuning: {models.count_trainable(tuned):,} trainable parameters (conv5 and the classifier), "
                 f"{tune_fit.seconds_per_epoch:.1f} s per epoch; best validation accuracy "
                 f"{max(tune_fit.history['val_accuracy']):.2f} (warm-up: {max(warm_fit.history['val_accuracy']):.2f})."))

# %%
gained = max(tune_fit.history["val_accuracy"]) - max(warm_fit.history["val_accuracy"])
display(Markdown(f"Fine-tuning conv5 changed the best validation accuracy by {gained * 100:+.1f} points in "
                 f"{finetune_epochs} epochs." + (" The course-made weights know scenes more than people "
                                                 "(section 1), and a few epochs on a few hundred videos cannot teach "
                                                 "conv5 much more; with ImageNet weights and the `laptop` profile "
                                                 "there is more to gain." if gained < 0.02 else "")))

# %% [markdown]
# *What you should see:* the warm-up's curves flatten as the classifier alone learns what the frozen
# features allow; fine-tuning then starts from there, at a tenth of the learning rate.
#
# ## 5. Scoring: frames averaged per video
#
# The test model averages `test_frames` frames per video: the same frame classifier, more segments.

# %%
test_model = streams.test_model(frame_model, cached)
arrays = {split: cached.arrays(split, NAMES) for split in ("val", "test")}
spatial = evaluation.evaluate(test_model, arrays["test"], time_checks=False)
one_frame = models.build_model("tsn", (1, *maps["test"].shape[2:]), len(NAMES), frame_model=frame_model)
middle = test_frames // 2
single = evaluation.evaluate(one_frame, evaluation.Arrays(maps["test"][:, middle:middle + 1], labels["test"], NAMES),
                             time_checks=False)
pairs = evaluation.motion_pairs(NAMES)
summary = pd.DataFrame({name: {"test accuracy": s.metrics["test_accuracy"], "low": s.metrics["test_accuracy_low"],
                               "high": s.metrics["test_accuracy_high"], "macro F1": s.metrics["macro_f1"],
                               **{f"{a} / {b}": s.metrics[f"{a}_vs_{b}_accuracy"] for a, b in pairs}}
                        for name, s in {f"{test_frames} frames averaged": spatial, "the middle frame only": single}.items()}).T
summary.round(3)

# %%
averaged, middle_only = spatial.metrics["test_accuracy"], single.metrics["test_accuracy"]
display(Markdown(
    f"{test_frames} frames averaged: {averaged:.3f}; the middle frame alone: {middle_only:.3f}. "
    + ("Averaging helps: each frame is a noisy view of the same video. " if averaged > middle_only + 0.01 else
       "Here averaging adds nothing: what this stream mostly learnt, the scene, is the same in every frame of a video. ")
    + ("On the motion-only pairs: " + ", ".join(f"{a} / {b} {spatial.metrics[f'{a}_vs_{b}_accuracy']:.2f}" for a, b in pairs)
       + " (0.5 is a coin toss)." if pairs else
       "This dataset has no motion-only pairs (the synthetic set's classes that differ only in motion).")))

# %% [markdown]
# *What you should see:* the motion-only pairs near 0.5. *Sit down* and *stand up* contain the same
# frames in the opposite order, and an average of frame scores cannot see order at all; a raised
# hand and a wave pass through the same poses.

# %%
fig = spatial.confusion_figure(title="spatial stream on the test people")
plots.save_figure(fig, cfg, "06_confusion");

# %% [markdown]
# ## 6. What a frame knows: the scene
#
# The synthetic set has a **context bias**: a clip is filmed in its class's typical scene with
# probability `context_bias`, otherwise in a random one (as basketball is usually filmed in a gym).
# Split the test videos by that, and compare.

# %%
test_videos = cached.data["test"].videos.reset_index(drop=True)
if "scene_is_preferred" in test_videos:
    typical = test_videos["scene_is_preferred"].astype(str).str.lower().eq("true").to_numpy()
    right = spatial.probs.argmax(axis=1) == spatial.labels
    context = pd.DataFrame({"videos": [int(typical.sum()), int((~typical).sum())],
                            "spatial accuracy": [right[typical].mean(), right[~typical].mean()]},
                           index=["in the class's typical scene", "in another scene"])
    display(context.round(3))
    display(Markdown(f"Filmed in its typical scene, a test video is recognised "
                     f"{context['spatial accuracy'].iloc[0]:.2f} of the time; elsewhere "
                     f"{context['spatial accuracy'].iloc[1]:.2f}: part of what the spatial stream learnt is the scene."))
else:
    display(Markdown("This dataset records no scene for its videos."))

# %% [markdown]
# ## 7. Scores for fusion
#
# Late fusion (notebook 08) needs this stream's class probabilities for every **validation** video
# (to choose fusion weights) and every **test** video. They go to one file per stream. For
# deployment (notebook 09) the trunk and the frame classifier are joined back into one model on raw
# clips of `test_frames` frames, saved beside the other trained models.

# %%
scores_file = evaluation.save_stream_scores(cfg, "spatial", test_model, arrays)
deployable = streams.clip_model(trunk, frame_model, test_frames)
model_file = training.save_model(deployable, RUNS / "06_spatial" / "best.keras")
display(Markdown(f"Saved `{scores_file.name}`: {len(arrays['val'].labels)} validation and {len(arrays['test'].labels)} "
                 f"test videos; the stream on raw clips `{deployable.input_shape[1:]}` to "
                 f"`{model_file.relative_to(cfg.artifacts_dir)}`."))

# %% [markdown]
# ## Results

# %%
metrics = {"spatial": spatial.metrics, "spatial_middle_frame": single.metrics,
           "spatial_warmup": {"val_accuracy": max(warm_fit.history["val_accuracy"])},
           "spatial_finetuned": {"val_accuracy": max(tune_fit.history["val_accuracy"])}}
if "scene_is_preferred" in test_videos:
    metrics["spatial_by_scene"] = {"typical_scene_accuracy": float(context["spatial accuracy"].iloc[0]),
                                   "other_scene_accuracy": float(context["spatial accuracy"].iloc[1])}
results_path = runs.save_results(
    cfg, "06_resnet50_spatial", metrics=metrics, timings_s={**watch.total(), "trunk_maps": round(cached.seconds, 1)},
    extra={"settings": settings, "weights": weights or cfg.weights or "course-made", "pretraining": card,
           "train_segments": train_segments, "test_frames": test_frames, "warmup_epochs": warmup_epochs,
           "finetune_epochs": finetune_epochs, "scores_file": scores_file.name,
           "seconds": {"warmup": round(sum(warm_fit.epoch_seconds), 1), "finetune": round(sum(tune_fit.epoch_seconds), 1)}})
display(Markdown(f"Results written to `{results_path.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * Fine-tune in two phases: a frozen warm-up of the new classifier, then the last stage with a
#   10x lower learning rate; BatchNorm stays in inference mode throughout.
# * A frozen trunk's output can be cached: only the unfrozen part needs computing every epoch.
# * TSN: a few frames per video, one per segment, their scores averaged.
# * A single frame knows the scene and the pose of the moment, not the direction of a motion:
#   the temporal stream of notebook 07 is there for that.
#
# ## Exercises
#
# **1. How many frames are enough?** Score the test videos with the frame classifier averaged over
# only the first `k = 2` of the `test_frames` cached frames, and put the accuracy in `two_frame_accuracy`.

# %%
two_frame_accuracy = None  # your code: models.build_model("tsn", ...) on maps["test"][:, :2]
### BEGIN SOLUTION
# solution
two_frames = models.build_model("tsn", (2, *maps["test"].shape[2:]), len(NAMES), frame_model=frame_model)
two_frame_accuracy = float(np.mean(two_frames.predict(maps["test"][:, :2], verbose=0).argmax(axis=1) == labels["test"]))
### END SOLUTION

# %%
expected = models.build_model("tsn", (2, *maps["test"].shape[2:]), len(NAMES), frame_model=frame_model)
assert two_frame_accuracy is not None
assert abs(two_frame_accuracy - np.mean(expected.predict(maps["test"][:, :2], verbose=0).argmax(1) == labels["test"])) < 1e-9, \
    "average the frame classifier over maps['test'][:, :2]"
print(f"exercise 1: correct: 2 frames {two_frame_accuracy:.3f}, {test_frames} frames "
      f"{spatial.metrics['test_accuracy']:.3f}, 1 frame {single.metrics['test_accuracy']:.3f}")

# %% [markdown]
# **2. Order-blind.** Show that the spatial stream gives the same probabilities when the test
# frames are reversed in time. Put the largest absolute difference in `reversed_gap`.

# %%
reversed_gap = None  # your code
### BEGIN SOLUTION
# solution
reversed_gap = float(np.abs(test_model.predict(maps["test"][:, ::-1], verbose=0)
                            - test_model.predict(maps["test"], verbose=0)).max())
### END SOLUTION

# %%
assert reversed_gap is not None and reversed_gap < 1e-5, "compare test_model on maps['test'] and maps['test'][:, ::-1]"
print(f"exercise 2: correct: {reversed_gap:.1e}: an average does not depend on the order of what it averages")

# %% [markdown]
# ## References
#
# - K. Simonyan and A. Zisserman. *Two-stream convolutional networks for action recognition in videos.* NeurIPS 2014.
# - L. Wang et al. *Temporal segment networks: towards good practices for deep action recognition.* ECCV 2016.
# - K. He et al. *Deep residual learning for image recognition.* CVPR 2016.
# - Keras guide *Transfer learning and fine-tuning* (BatchNorm in inference mode while fine-tuning).
#
# **Next:** [07_temporal_stream](07_temporal_stream.ipynb) trains the other stream, on optical flow.
