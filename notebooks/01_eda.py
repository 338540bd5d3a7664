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
# # 01 · Exploring a video dataset, and what it can teach
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/01_eda.ipynb)
#
# Before training a single network, look at the data. Video datasets hide traps that no model
# architecture fixes: classes with ten times fewer clips, clips at different frame rates, a
# background that gives the answer away, a person who appears in both the training and the test set.
#
# In this notebook you will
#
# 1. read the **manifest** (one row per clip) and check balance, splits and subjects;
# 2. plot **durations, frame rates and resolutions**;
# 3. look at the clips: a **frame grid per class** and the **motion energy** over time;
# 4. run two **lesson probes** (linear classifiers that train in seconds) to measure what the data
#    can teach before any deep model: how far **appearance** (a single frame) gets, and how far
#    **time-ordered motion** gets. They show why the course builds temporal models at all.
#
# The same notebook runs on any dataset with a manifest: set `dataset` to a folder of class
# sub-folders of your own clips.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42

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

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import catalog, config, datasets, features, plots, runs, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)
manifest = catalog.prepare_dataset(cfg)
classes = datasets.class_names(manifest)
manifest.head()

# %% [markdown]
# ## 1. Balance, splits and subjects
#
# A **manifest** is the dataset's table of contents. The columns every dataset in this course has:
# `path, label, subject, split, frames, fps, width, height, sha256`. The checksum lets an
# instructor verify that everybody trains on the same bytes.
#
# Splits must be **subject-disjoint**: if the same person appears in training and test clips, a
# model can recognise the *person* (clothes, body shape) instead of the action, and the test score
# overestimates how it does on new people.

# %%
fig = plots.count_bars(manifest, by="label", hue="split")
plots.save_figure(fig, cfg, "01_eda_class_balance")
counts = manifest.groupby("label").size()
subjects_per_split = manifest.groupby("subject")["split"].nunique()
display(Markdown(
    f"**{len(manifest)} clips**, {len(classes)} classes, {manifest['subject'].nunique()} subjects. "
    f"Clips per class range from {counts.min()} to {counts.max()} (ratio {counts.max() / counts.min():.2f}). "
    f"Subjects that appear in more than one split: **{int((subjects_per_split > 1).sum())}**."))

# %%
pd.crosstab(manifest["subject"], manifest["split"]).T

# %% [markdown]
# **What you should see:** near-equal bars for the synthetic `ci` set (raise `imbalance` to make it
# unbalanced, as real datasets are), and every subject in exactly one split.
#
# ## 2. Durations, frame rates and resolutions
#
# Models take a fixed number of frames at a fixed size, so the spread of these three numbers decides
# how clips must be sampled (notebook 02) and resized.

# %%
manifest["duration_s"] = manifest["frames"] / manifest["fps"]
fig = plots.distributions(manifest, ["duration_s", "fps", "frames", "width"],
                          ["duration (s)", "frames per second", "frames", "width (px)"])
plots.save_figure(fig, cfg, "01_eda_distributions")
manifest[["duration_s", "fps", "frames", "width", "height"]].describe().loc[["min", "50%", "max"]]

# %% [markdown]
# ## 3. Looking at the clips
#
# One clip per class, six frames from start to end. Look for what tells the classes apart: the pose,
# the background, or only the way the pose *changes*.

# %%
examples = manifest[manifest["split"] == "train"].groupby("label").head(1).sort_values("label")
clips = {row.label: video.read_video(path) for row, path in
         zip(examples.itertuples(), datasets.video_paths(examples))}
fig = plots.frame_grid(list(clips.items()), count=6)
plots.save_figure(fig, cfg, "01_eda_frame_grid")

# %% [markdown]
# **Motion energy** is the mean absolute difference between consecutive frames: near zero when
# nothing moves, high when much of the frame changes. Averaged over clips of a class and drawn
# against normalised time, it shows *when* a class moves.

# %%
def motion_energy(frames):
    return np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))


sample = manifest.groupby("label").head(8)
energy = {label: [] for label in classes}
for row, path in zip(sample.itertuples(), datasets.video_paths(sample)):
    curve = motion_energy(video.read_video(path))
    energy[row.label].append(np.interp(np.linspace(0, 1, 24), np.linspace(0, 1, len(curve)), curve))
fig = plots.per_class_curves(energy, "normalised time", "mean |frame difference|")
plots.save_figure(fig, cfg, "01_eda_motion_energy")

# %% [markdown]
# **What you should see:** periodic classes (walk, run, wave, clap) move all the time; sit down and
# stand up have one burst; a hand held still barely moves at all. Notice that motion *energy* is the
# same for a clip played forwards or backwards: it cannot tell sit down from stand up. *Where* the
# motion happens over time can.

# %% [markdown]
# ## 4. Lesson probes: what can a single frame tell, and what only motion?
#
# A probe is a deliberately simple model: a linear classifier on hand-made features, trained on the
# training split and scored on the test split, in seconds. It cannot beat the deep models of the
# later notebooks, but it measures what *information* the data offers:
#
# - the **appearance probe** sees one frame (the middle one): a gradient-orientation description of
#   the pose and the scene;
# - the **motion probe** sees only frame differences, pooled on a coarse grid, in time order, plus
#   the path of the centre of motion; no single frame.
#
# On the synthetic data two pairs of classes are built to differ **only in motion**: `stand_up` is
# `sit_down` played backwards, and `raise_hand` holds the arm still at the angles `wave_one_hand`
# sweeps through. The pairwise accuracy is the accuracy of a probe trained on just that pair.

# %%
start = time.perf_counter()
probes = features.lesson_probes(manifest, progress=False)
watch.lap("lesson_probes", start)
PROBES = ("appearance", "motion")
overall = pd.DataFrame({name: {"test accuracy": probes[name]["test_accuracy"], "macro F1": probes[name]["macro_f1"]}
                        for name in PROBES})
display(Markdown(f"Trained on {probes['n_train']} clips, scored on {probes['n_test']} test clips."))
overall

# %%
pairwise = pd.DataFrame({name: probes[name]["pairwise"] for name in PROBES})
chance = probes["chance"]
if not pairwise.empty:
    fig = plots.accuracy_bars(pairwise, chance=0.5, title="motion-only pairs: pairwise test accuracy")
    plots.save_figure(fig, cfg, "01_eda_lesson_pairs")
    display(pairwise)

# %%
lines = [f"- Overall, the appearance probe reaches **{probes['appearance']['test_accuracy']:.0%}** and the "
         f"motion probe **{probes['motion']['test_accuracy']:.0%}** test accuracy; chance is {chance:.0%}."]
for pair, row in pairwise.iterrows():
    lines.append(f"- `{pair}`: appearance **{row['appearance']:.0%}**, motion **{row['motion']:.0%}** "
                 "(chance 50%).")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **What you should see:** both probes well above chance over all classes, because most actions
# have poses of their own. On the motion-only pairs the appearance probe sits near a coin flip while
# the motion probe separates them: a single frame of someone half-way down is the same whether they
# are sitting down or standing up. This is the gap that 3D CNNs (notebook 04), recurrent models (05)
# and the temporal stream (07) close, and that a single-frame spatial stream (06) cannot.
#
# ### Context bias: when the background gives the answer away
#
# In HMDB51 and UCF101 many actions happen in typical places (diving in a pool, golf on grass).
# A model can score well by recognising the place. The synthetic generator has a knob for this,
# `context_bias`: the probability that a clip is filmed in its class's typical scene. The members of
# each motion-only pair share a scene, so context never separates them. Below, the same appearance
# probe on a copy of the dataset rendered with `context_bias=0` (scenes drawn at random).

# %%
context = {}
if cfg.is_synthetic:
    unbiased_cfg = config.resolve_config(profile, dataset, data_dir, artifacts_dir, seed, context_bias=0.0)
    unbiased = catalog.prepare_dataset(unbiased_cfg)
    context = {f"context_bias={cfg.synthetic.context_bias:g}": probes["appearance"],
               "context_bias=0": features.lesson_probes(unbiased, progress=False)["appearance"]}
    gain = context[next(iter(context))]["test_accuracy"] - context["context_bias=0"]["test_accuracy"]
    display(pd.DataFrame({k: {"appearance test accuracy": v["test_accuracy"]} for k, v in context.items()}))
    display(Markdown(f"The scene correlation adds **{gain * 100:+.1f} points** to the appearance probe."))

# %% [markdown]
# **What you should see:** a clear gain with the bias on. Keep it in mind in notebook 06: part of
# what a spatial stream learns on real data is the place, not the action.

# %%
metrics = {f"{name}_probe": {"test_accuracy": probes[name]["test_accuracy"], "macro_f1": probes[name]["macro_f1"]}
           for name in PROBES}
if context:
    metrics["appearance_probe_no_context"] = {k: context["context_bias=0"][k]
                                              for k in ("test_accuracy", "macro_f1")}
results_path = runs.save_results(
    cfg, "01_eda", metrics=metrics, timings_s=watch.total(),
    extra={"pairwise": pairwise.to_dict() if not pairwise.empty else {}, "chance": chance,
           "clips_per_class": counts.to_dict(), "subjects_in_several_splits": int((subjects_per_split > 1).sum())})
display(Markdown(f"Results written to `{results_path.name}`."))

# %% [markdown]
# ## Summary
#
# - A manifest with subject-disjoint splits is the starting point of every experiment in the course.
# - Durations and frame rates vary even in a tidy dataset: notebook 02 samples a fixed number of
#   frames from each clip.
# - Single frames carry a lot (pose, scene), but not the direction of time: some classes can only
#   be told apart by motion, which is what the temporal models of this course learn.
# - The `laptop` profile renders more subjects and longer, larger clips: the probes' numbers get
#   steadier because the test split is bigger.
#
# ## Exercises
#
# 1. Render the dataset with `imbalance=0.8` (`config.resolve_config(..., imbalance=0.8)` then
#    `catalog.prepare_dataset`) and redraw the class balance. *Check:* the largest class has at least
#    three times the clips of the smallest.
# 2. Compute motion energy for one `sit_down` clip and the same clip reversed
#    (`frames[::-1]`). *Check:* `np.allclose(motion_energy(f), motion_energy(f[::-1])[::-1])`: energy
#    alone cannot tell the direction of time.
# 3. Raise `context_bias` to 1.0 and rerun the context cell. *Check:* the appearance probe gains more,
#    but the pairwise accuracy on `sit_down/stand_up` stays near 50%.
#
# **Next:** [02_frames](02_frames.ipynb) decodes and samples clips properly, and caches them for training.
