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
# # 05 · Transfer learning: MobileNetV2 per frame, an LSTM over time
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/05_mobilenetv2_lstm.ipynb)
#
# Notebook 04 learnt everything from a few hundred clips. Most video models instead start from an
# **image network pretrained on another task** (usually ImageNet) and add a model of time on top:
# here **MobileNetV2** reads every frame, and an **LSTM** (or a BiLSTM, or plain averaging) reads
# the sequence of frame features.
#
# **You will learn to**
#
# 1. load pretrained weights through `weights=` (`"imagenet"` on Colab, a local file offline);
# 2. run a 2-D backbone on clips by folding time into the batch;
# 3. train a head in seconds on **precomputed features**, and see what frozen features can and
#    cannot tell a recurrent head;
# 4. **fine-tune** the whole network on what moves (frame differences), and compare it with the
#    same network from scratch, and LSTM, BiLSTM and average pooling on the motion-only pairs.
#
# **Prerequisites:** notebook 04 (pipeline, training, evaluation). **Time:** about 8 minutes to run
# in the `ci` profile on two CPU cores (7 once the course-made weights exist), 30 minutes to read
# and do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
epochs = None  # None: the profile's (config.VIDEO_MODEL_SETTINGS)
image_size = None
batch_size = 16  # None: the profile's (8 in ci, where an epoch then took 1.8x as long on two cores)
alpha = 0.35  # MobileNetV2's width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
weights = None  # None: the profile's ("imagenet" in full), else course-made; or "imagenet" or a .weights.h5 path
head_epochs = 30  # epochs of each head on the cached features
end_to_end_epochs = None  # fine-tuning and scratch (section 4); None: three quarters of `epochs` (15 in ci)
learning_rate = 1e-3  # both end-to-end runs (fine-tuned in trials: 2e-3 scored 0.51, 4e-3 learnt slower)
reverse_pairs = True  # train on clips played backwards where that makes another class (as in notebook 04)
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
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import actions, evaluation, models, pipeline, plots, pretraining, runs, training

setup = training.start_clip_notebook(profile, dataset, data_dir, artifacts_dir, seed, workers=workers,
                                     epochs=epochs, image_size=image_size, batch_size=batch_size)
cfg, watch, strategy, settings = setup.cfg, setup.watch, setup.strategy, setup.settings
table, NAMES, CLIP, RUNS = setup.table, setup.class_names, setup.clip_shape, setup.runs_dir
AUGMENT = dataclasses.replace(pipeline.SHORT_RUN_AUGMENT, reverse=actions.reversed_pairs(NAMES) if reverse_pairs else ())
data = pipeline.datasets_for(cfg, table, augment=AUGMENT, sampling="uniform")  # even steps: differences comparable
display(Markdown(f"**{len(table)}** videos, **{len(NAMES)}** classes, clips of {cfg.clip_frames} frames at "
                 f"{cfg.image_size}x{cfg.image_size}."))

# %% [markdown]
# ## 1. Where pretrained weights come from
#
# `keras.applications.MobileNetV2(weights="imagenet")` downloads weights learnt on 1.3 million
# ImageNet photos. Where nothing can be downloaded (this course's CI), the course makes a stand-in
# the same way, only smaller: it trains MobileNetV2 on single frames of a **separate** synthetic set
# (its own seed: other people, scenes and motions) for a **pretext task** that is not action
# recognition: yes/no questions about the figure's pose (is a wrist above the neck? are the feet
# apart?) and which scene it stands in. The weights go to
# a `.weights.h5` file that is loaded through the very same `weights=` argument. The first run
# trains it (under a minute); later runs load it.

# %%
if weights is None and cfg.weights is None:  # ci, laptop: the course-made stand-in; full: ImageNet
    WEIGHTS, card = pretraining.pretrain_backbone(cfg, "mobilenet_v2", alpha=alpha, workers=workers)
    display(pd.Series({"pretext task": card["task"], "frames (train / held-out people)":
                       f"{card['train_frames']} / {card['held_out_frames']}",
                       "scene accuracy (held out)": f"{card['scene_accuracy']:.2f} (chance {card['scene_chance']:.2f})",
                       "pose questions right (held out)": f"{card['attribute_accuracy']:.2f} (always the more "
                                                          f"frequent answer: {card['attribute_majority']:.2f})",
                       "weights file": WEIGHTS.name}).to_frame("course-made pretraining"))
else:
    WEIGHTS, card = weights or cfg.weights, {}
    display(Markdown(f"Using `weights={WEIGHTS!r}`."))

# %%
if card:
    learnt_pose = card["attribute_accuracy"] > card["attribute_majority"] + 0.02
    display(Markdown(
        f"On people it never saw, the backbone names the scene {card['scene_accuracy'] / card['scene_chance']:.0f}x "
        f"better than chance, and answers the pose questions "
        + ("better than" if learnt_pose else "**no better than**")
        + f" always giving each question's most frequent answer ({card['attribute_accuracy']:.2f} vs "
        f"{card['attribute_majority']:.2f}). "
        + ("" if learnt_pose else f"{card['seconds']:.0f} s of pretraining on {card['train_frames']:,} frames taught "
           "scenes, not pose: expect its features to help where the scene predicts the action (context bias) and little "
           "on the motion-only pairs. ImageNet weights, learnt from 1.3 million photos, know far more.")))

# %% [markdown]
# ## 2. A 2-D backbone on clips, and a head over time
#
# MobileNetV2 takes images `(batch, H, W, 3)`; a clip is `(batch, T, H, W, 3)`. Folding time into
# the batch (`FoldTime`: `(batch * T, H, W, 3)`) lets it see every frame as one image; `UnfoldTime`
# gives back `(batch, T, features)`. (Keras' `TimeDistributed` does the same job but traces the
# backbone once per frame: 121 s instead of 19 s before the first step, measured on this CPU.)
# Two more details: with pretrained weights the backbone's **BatchNorm layers are frozen**, so they
# run in inference mode and keep the statistics they learnt while fine-tuning changes the weights
# around them (the Keras guides call the backbone with `training=False` for this; in Keras 3 `fit`
# overrides that, and a test of the course caught the statistics drifting); and the LSTMs are
# unrolled (16 steps), the form that exports to TFLite (notebook 09).

# %%
print(models.model_source("mobilenet_lstm"))

# %%
print(models.model_source("sequence_head"))

# %% [markdown]
# ## 3. The precomputed-features path
#
# With the backbone frozen, its features of a clip never change: compute them **once**, then train
# only the head, on arrays, in seconds. (The keras-io CNN-RNN example works this way.) The clips are
# the un-augmented ones: features are fixed, so every epoch sees the same training set.

# %%
with strategy.scope():
    frozen = models.build_model("mobilenet_lstm", CLIP, len(NAMES), alpha=alpha, weights=str(WEIGHTS),
                                train_backbone=False, head="bilstm")
plain = {split: pipeline.make_dataset(table, split, cfg.clip_frames, cfg.image_size, cfg.batch_size, training=False)
         for split in ("train", "val", "test")}
FEATURES = cfg.cache_dir / "features" / cfg.dataset_root.name / f"{Path(str(WEIGHTS)).stem}-{cfg.clip_frames}x{cfg.image_size}"
start = time.perf_counter()
features = {split: training.clip_features(frozen, d, FEATURES / f"{split}.npy") for split, d in plain.items()}
feature_seconds = time.perf_counter() - start
arrays = {split: evaluation.Arrays(features[split], plain[split].labels, NAMES, plain[split].videos["path"].tolist())
          for split in plain}
display(Markdown(f"Features of {sum(len(f) for f in features.values())} clips, each `{features['train'].shape[1:]}` "
                 f"(frames x features), in {feature_seconds:.1f} s."))

# %% [markdown]
# Three heads on the same features: an **LSTM** reads the frames in order and keeps a memory; a
# **BiLSTM** also reads them backwards; **average pooling** takes the mean over time, so it cannot
# know the order of frames at all.

# %%
heads, head_scores, head_seconds = {}, {}, {}
for head in ("lstm", "bilstm", "average"):
    training.configure(cfg)
    heads[head] = models.build_model("sequence_head", features["train"].shape[1:], len(NAMES), head=head)
    run = training.fit_arrays(heads[head], (features["train"], arrays["train"].labels),
                              (features["val"], arrays["val"].labels), epochs=head_epochs, seed=cfg.seed)
    head_seconds[head] = sum(run.epoch_seconds)
    head_scores[head] = evaluation.evaluate(heads[head], arrays["test"])
heads_table = pd.concat({head: evaluation.time_check_table(s.metrics, NAMES) for head, s in head_scores.items()}, axis=1)
fig = plots.accuracy_bars(heads_table.xs("original", axis=1, level=1), chance=0.5,
                          title="heads on frozen features: test accuracy")
plots.save_figure(fig, cfg, "05_heads")
heads_table.round(3)

# %% [markdown]
# *What you should see:* the columns `original` of each head. Compare the heads on the motion-only
# pairs: average pooling gives a clip and its reverse the same features, so on *sit down / stand
# up* it can only guess; a recurrent head can read the order. The `reversed` columns show whether
# it does: a head that reads the direction of time falls below 0.5 there.

# %%
display(Markdown(f"Training each head took {', '.join(f'{h} {s:.1f} s' for h, s in head_seconds.items())} "
                 f"for {head_epochs} epochs, after {feature_seconds:.1f} s of feature extraction."))

# %% [markdown]
# ## 4. Fine-tuning on what moves, and training from scratch
#
# The frozen features name the scene well and the pose badly, so the recurrent heads have little
# ordered to read. Fine-tuning the backbone on the same pictures mostly sharpens the scene: in the
# course's trials, six end-to-end epochs on pictures scored 0.41 on test, the frozen heads' level;
# six on the pictures with their frame differences added, 0.50; ten on the differences alone, 0.63.
# So change **what the backbone sees**: each frame minus the one before it
# (`frames="difference"`, the "RGB difference" input of temporal segment networks). The static
# background cancels out; what is left is where the body moved, and the sign says which way. The
# BiLSTM then reads a sequence of movements, whose order is the action.
#
# * **fine-tuned**: MobileNetV2 starts from the course-made weights; every weight moves. The inputs
#   are unlike the pictures those weights learnt from, so BatchNorm learns their statistics (kept
#   frozen at the pictures' statistics, training fell to chance in the course's trials), and the
#   learning rate stays that of the scratch run: every layer has to adapt, not only the last ones;
# * **scratch**: the same network from random weights, the same epochs, clips and learning rate.
#
# Both train on the clips of notebook 04, time-reversed pairs included (*sit down* played
# backwards is *stand up*), with one change: the frames of a training clip are evenly spaced
# (`sampling="uniform"` after the random window) instead of one random frame per segment, so that
# every difference spans the same time and their sizes compare.

# %%
END_TO_END = end_to_end_epochs or cfg.epochs * 3 // 4
end_to_end, fits = {}, {}
for name, start in (("fine-tuned", str(WEIGHTS)), ("scratch", None)):
    training.configure(cfg)  # the same seed and data order for both
    with strategy.scope():
        end_to_end[name] = models.build_model("mobilenet_lstm", CLIP, len(NAMES), alpha=alpha, weights=start,
                                              head="bilstm", frames="difference")
    fits[name] = training.fit(end_to_end[name], data["train"], data["val"], RUNS / f"05_{name.replace('-', '')}",
                              epochs=END_TO_END, seed=cfg.seed, learning_rate=learning_rate)
(finetuned, fit_finetuned), (scratch, fit_scratch) = ((end_to_end[n], fits[n]) for n in ("fine-tuned", "scratch"))

# %%
fig = plots.training_curves({"fine-tuned": fit_finetuned.history, "scratch": fit_scratch.history})
plots.save_figure(fig, cfg, "05_curves")
scores = {"scratch": evaluation.evaluate(scratch, data["test"]),
          "frozen (features)": head_scores["bilstm"],
          "fine-tuned": evaluation.evaluate(finetuned, data["test"])}
summary = pd.DataFrame({name: {"test accuracy": s.metrics["test_accuracy"], "low": s.metrics["test_accuracy_low"],
                               "high": s.metrics["test_accuracy_high"], "macro F1": s.metrics["macro_f1"],
                               **{f"{a} / {b}": s.metrics[f"{a}_vs_{b}_accuracy"] for a, b in evaluation.motion_pairs(NAMES)},
                               "shuffled": s.metrics["shuffled_accuracy"], "reversed": s.metrics["reversed_accuracy"]}
                        for name, s in scores.items()}).T
summary.round(3)

# %%
gain = scores["fine-tuned"].metrics["test_accuracy"] - scores["scratch"].metrics["test_accuracy"]
display(Markdown(
    f"Per end-to-end epoch: fine-tuning {fit_finetuned.seconds_per_epoch:.1f} s, scratch "
    f"{fit_scratch.seconds_per_epoch:.1f} s; the frozen head trained in {head_seconds['bilstm']:.1f} s on features "
    f"that took {feature_seconds:.1f} s to compute. After {END_TO_END} epochs on frame differences, fine-tuned scored "
    f"{scores['fine-tuned'].metrics['test_accuracy']:.3f} and scratch {scores['scratch'].metrics['test_accuracy']:.3f} "
    f"({gain:+.3f} for the course-made weights); the frozen BiLSTM on pictures "
    f"{scores['frozen (features)'].metrics['test_accuracy']:.3f}. With its frames shuffled the fine-tuned model "
    f"scores {scores['fine-tuned'].metrics['shuffled_accuracy']:.3f}"
    + (": it reads the order of the movements." if scores["fine-tuned"].metrics["shuffled_accuracy"]
       < scores["fine-tuned"].metrics["test_accuracy"] - 0.1 else ": the order of frames matters little to it.")))

# %% [markdown]
# *What you should see:* the curves of both runs, then the three models side by side, each with its
# interval (`low`, `high`). Compare the columns of the motion-only pairs and `shuffled`: a model
# that reads movements in order loses accuracy when the order is scrambled; the frozen head on
# pictures hardly does. Where a curve still rises at the last epoch, more epochs
# (`end_to_end_epochs`, at the cost per epoch printed above) would help that run. The `laptop`
# profile (96 px, more people, 30 end-to-end epochs) gives every model more to learn from, at
# four to five times the cost per clip: the profile table of the README says what has been measured there.
#
# ## 5. Beside notebook 04 and the probes

# %%
earlier = {}
for notebook in ("01_eda", "04_cnn3d_scratch"):
    path = cfg.results_dir / f"{notebook}.json"
    if path.is_file():
        earlier.update({f"{notebook[:2]} {name}": m for name, m in runs.load_results(path)["metrics"].items()
                        if "test_accuracy" in m and not name.startswith("ablation")})
earlier.update({f"05 {name}": s.metrics for name, s in scores.items()})
pd.DataFrame({name: {"test accuracy": m["test_accuracy"], "macro F1": m.get("macro_f1")} for name, m in earlier.items()}).T.round(3)

# %% [markdown]
# ## Results

# %%
metrics = {"finetuned_bilstm": scores["fine-tuned"].metrics, "frozen_bilstm": scores["frozen (features)"].metrics,
           "scratch_bilstm": scores["scratch"].metrics,
           **{f"frozen_{head}": s.metrics for head, s in head_scores.items() if head != "bilstm"}}
scores_file = evaluation.save_stream_scores(cfg, "mobilenet_bilstm", heads["bilstm"],
                                           {"val": arrays["val"], "test": arrays["test"]})
results_path = runs.save_results(
    cfg, "05_mobilenetv2_lstm", metrics=metrics, timings_s={**watch.total(), "features": round(feature_seconds, 1)},
    extra={"settings": settings, "alpha": alpha, "weights": "course-made" if card else str(WEIGHTS),
           "pretraining": card, "end_to_end_epochs": END_TO_END, "head_epochs": head_epochs,
           "seconds_per_epoch": {"finetuned": fit_finetuned.seconds_per_epoch, "scratch": fit_scratch.seconds_per_epoch},
           "head_seconds": head_seconds,
           "inference_ms_per_clip": scores["fine-tuned"].extra.get("inference_ms_per_clip")})
display(Markdown(f"Results written to `{results_path.name}`, the frozen BiLSTM's per-video scores (for notebook 08) "
                 f"to `{scores_file.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * `weights=` takes `"imagenet"`, a local `.weights.h5` or `None`: the same code path everywhere.
# * A 2-D backbone reads clips with time folded into the batch; a recurrent head reads the order.
# * Frozen features are computed once, and a head trains on them in seconds; but a head can only
#   read what the features hold, and features learnt on a pretext task of pictures hold the scene.
# * What the backbone sees decides what the model learns: on frame differences the background
#   cancels out, and MobileNetV2 + BiLSTM learns movements and their order.
#
# ## Exercises
#
# **1. Order-blind by construction.** Show that the average-pooling head gives *exactly* the same
# probabilities for the test features and the same features reversed in time. Put the largest
# absolute difference in `average_gap`.

# %%
average_gap = None  # your code: heads["average"].predict(...) on features["test"] and features["test"][:, ::-1]
### BEGIN SOLUTION
# solution
forward = heads["average"].predict(features["test"], verbose=0)
backward = heads["average"].predict(features["test"][:, ::-1], verbose=0)
average_gap = float(np.abs(forward - backward).max())
### END SOLUTION

# %%
assert average_gap is not None and average_gap < 1e-5, "predict on features['test'] and on features['test'][:, ::-1]"
lstm_gap = np.abs(heads["lstm"].predict(features["test"], verbose=0)
                  - heads["lstm"].predict(features["test"][:, ::-1], verbose=0)).max()
print(f"exercise 1: correct: the average head changes by {average_gap:.1e}, the LSTM by {lstm_gap:.2f}")

# %% [markdown]
# **2. A narrower head.** Train a BiLSTM head with 32 units (`units=32`) on the cached features for
# `head_epochs` epochs and put its test accuracy in `narrow_accuracy`.

# %%
narrow_accuracy = None  # your code: models.build_model("sequence_head", ...), training.fit_arrays(...)
### BEGIN SOLUTION
# solution
training.configure(cfg)
narrow = models.build_model("sequence_head", features["train"].shape[1:], len(NAMES), head="bilstm", units=32)
training.fit_arrays(narrow, (features["train"], arrays["train"].labels), (features["val"], arrays["val"].labels),
                    epochs=head_epochs, seed=cfg.seed)
narrow_accuracy = evaluation.evaluate(narrow, arrays["test"], time_checks=False).metrics["test_accuracy"]
### END SOLUTION

# %%
assert narrow_accuracy is not None and 0 <= narrow_accuracy <= 1
assert narrow.count_params() < heads["bilstm"].count_params(), "build the head with units=32"
print(f"exercise 2: correct: 32 units {narrow_accuracy:.3f} vs 64 units "
      f"{head_scores['bilstm'].metrics['test_accuracy']:.3f} ({narrow.count_params():,} vs "
      f"{heads['bilstm'].count_params():,} parameters)")

# %% [markdown]
# ## References
#
# - M. Sandler et al. *MobileNetV2: inverted residuals and linear bottlenecks.* CVPR 2018.
# - J. Donahue et al. *Long-term recurrent convolutional networks for visual recognition and description.* CVPR 2015.
# - J. Yue-Hei Ng et al. *Beyond short snippets: deep networks for video classification.* CVPR 2015.
# - keras-io example *Video classification with a CNN-RNN architecture* (precomputed features).
# - Keras guide *Transfer learning and fine-tuning* (BatchNorm in inference mode while fine-tuning).
#
# **Next:** [06_resnet50_spatial](06_resnet50_spatial.ipynb) fine-tunes a larger backbone on single
# frames, the spatial stream of a two-stream network.
