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
# architecture fixes: classes with ten times fewer clips, clips at different frame rates and
# sizes, a background that gives the answer away, a person who appears in both the training and
# the test set.
#
# **You will learn to**
#
# 1. read a **manifest** (one row per clip) and check balance, splits and subjects;
# 2. measure the spread of **durations, frame rates and resolutions**, which decides how clips
#    must be sampled and resized (notebook 02);
# 3. look at the clips: a **frame grid** across classes, subjects and scenes, and the **motion
#    energy** over time, measured so that it shows the actor's motion and not the camera or the codec;
# 4. run two **lesson probes** (linear classifiers that train in seconds) that measure what the
#    data can teach before any deep model: how far **appearance** (a single frame) gets, and how far
#    **time-ordered motion** gets.
#
# **Prerequisites:** [00_setup](00_setup.ipynb) (the environment and the dataset); pandas and
# NumPy basics. **Time:** about 1 minute to run in the `ci` profile on two CPU cores (measured:
# 52 s, most of it the probes' features and a second copy of the dataset for the context-bias
# experiment), 30-45 minutes to read and do the exercises.
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
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import catalog, config, datasets, features, jobs, plots, runs, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)
manifest = catalog.prepare_dataset(cfg)
classes = datasets.class_names(manifest)
manifest[datasets.MANIFEST_COLUMNS].head()

# %% [markdown]
# ## 1. Balance, splits and subjects
#
# A **manifest** is the dataset's table of contents. The columns every dataset in this course has:
# `path, label, subject, split, frames, fps, width, height, sha256` (the synthetic set adds what it
# knows about each clip: scene, viewpoint, distractors, ...). The checksum lets an instructor
# verify that everybody trains on the same bytes.
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
with pd.option_context("display.max_colwidth", 200):
    display(manifest.groupby("split").agg(clips=("path", "size"),
                                          subjects=("subject", lambda s: ", ".join(sorted(set(s))))))

# %% [markdown]
# **What you should see:** equal bars for the synthetic `ci` set (real datasets are rarely
# balanced; exercise 3 renders an unbalanced one), and every subject in exactly one split.
#
# ## 2. Durations, frame rates and resolutions
#
# Models take a fixed number of frames at a fixed size, so the spread of these numbers decides
# how clips must be sampled (notebook 02) and resized. A panel shows a histogram when the values
# spread out, and one bar per value (with its count) when there are only a few.

# %%
manifest["duration_s"] = manifest["frames"] / manifest["fps"]
sizes = sorted(set(zip(manifest["width"], manifest["height"])))  # in order of width, for the plots
manifest["resolution"] = pd.Categorical(manifest["width"].astype(str) + "x" + manifest["height"].astype(str),
                                        categories=[f"{w}x{h}" for w, h in sizes])
NAMED = {"1:1": 1.0, "4:3": 4 / 3, "3:2": 1.5, "16:9": 16 / 9, "3:4": 3 / 4, "9:16": 9 / 16}
ratio = manifest["width"] / manifest["height"]  # named after the nearest usual ratio (within 2%)
nearest = [min(NAMED, key=lambda n: abs(NAMED[n] / r - 1)) for r in ratio]
manifest["aspect"] = [n if abs(NAMED[n] / r - 1) < 0.02 else f"{r:.2f}" for n, r in zip(nearest, ratio)]
columns = {"duration_s": "duration (s)", "frames": "frames per clip", "fps": "frames per second",
           "resolution": "resolution (width x height)"}
varying = [c for c in columns if manifest[c].nunique() > 1]
constant = {columns[c]: manifest[c].iloc[0] for c in columns if c not in varying}
if varying:
    fig = plots.distributions(manifest, varying, [columns[c] for c in varying])
    plots.save_figure(fig, cfg, "01_eda_distributions")
manifest[["duration_s", "frames", "fps", "width", "height"]].describe().loc[["min", "50%", "max"]].round(2)

# %%
def spread(column, unit="", digits=1):
    values = manifest[column]
    return f"{values.min():.{digits}f} to {values.max():.{digits}f}{unit} (median {values.median():.{digits}f}{unit})"


def shares(column):
    table = manifest[column].value_counts().sort_index()
    return ", ".join(f"{value:g}: {n}" if isinstance(value, float) else f"{value}: {n}" for value, n in table.items())


display(Markdown("\n".join([
    f"- **Duration** {spread('duration_s', ' s')}: the longest clip lasts "
    f"{manifest['duration_s'].max() / manifest['duration_s'].min():.1f}x as long as the shortest.",
    f"- **Frames per clip** {spread('frames', digits=0)}.",
    f"- **Frame rates** (clips per rate): {shares('fps')}.",
    f"- **Resolutions** (clips per size): {shares('resolution')}; aspect ratios: {shares('aspect')}.",
] + [f"- Every clip has the same {name}: {value}." for name, value in constant.items()])))

# %% [markdown]
# **What this means for the models.** A network that takes `T` frames at `H x W` pixels needs
# (notebook 02):
#
# - **sampling** that works for any length: `T` frames picked by each clip's own frame count, so
#   a short clip and one several times longer both fill the `T` slots, from start to end;
# - a sense of **time in seconds**, not frames: at 30 fps, 16 consecutive frames last about half a
#   second, at 12.5 fps more than a second. The same "16-frame window" sees very different
#   stretches of an action when the frame rate varies;
# - **resizing** that respects the aspect ratio: stretching a 16:9 frame to a square makes people
#   thinner; cropping keeps their shape and drops the borders.
#
# ## 3. Looking at the clips
#
# One training clip per class, six frames from start to end. The rows are picked to show the variety
# of the data: a different subject in each row where possible, and the different frame shapes.
# Look for what tells the classes apart: the pose, the background, or only the way the pose *changes*.

# %%
train = manifest[manifest["split"] == "train"]
subjects, aspects = sorted(train["subject"].unique()), sorted(train["aspect"].unique())
picks = []
for k, label in enumerate(classes):
    clips = train[train["label"] == label]
    misses = 2 * (clips["subject"] != subjects[k % len(subjects)]) + (clips["aspect"] != aspects[k % len(aspects)])
    picks.append(misses.idxmin())
examples = manifest.loc[picks]
describe = ["subject", "scene", "resolution"] if "scene" in manifest else ["subject", "resolution"]
rows = [(f"{row.label}\n" + " · ".join(str(getattr(row, c)) for c in describe), video.read_video(path))
        for row, path in zip(examples.itertuples(), datasets.video_paths(examples))]
fig = plots.frame_grid(rows, count=6)
plots.save_figure(fig, cfg, "01_eda_frame_grid")
def count(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


display(Markdown(f"The grid shows {count(examples['subject'].nunique(), 'subject')}, "
                 + (f"{count(examples['scene'].nunique(), 'scene')}, " if "scene" in examples else "")
                 + f"{count(examples['resolution'].nunique(), 'frame size')}."))

# %% [markdown]
# ### Motion energy: measure the motion, not the camera or the codec
#
# **Motion energy** is how much the picture changes from one frame to the next. The naive measure,
# the mean `|frame[t+1] - frame[t]|` over all pixels (`features.frame_difference_energy`), counts
# *everything* that changes: the actor, but also the camera's sway, sensor noise, passers-by and
# compression flicker. (Video codecs such as MPEG-4 and H.264 store a complete **keyframe**, an
# I-frame, every so often, a *group of pictures* of 12 to 250 frames, and only differences in
# between; each keyframe is coded afresh, so its compression noise jumps and the naive difference
# spikes there. The check below looks for such steps.)
#
# `features.motion_energy` measures what we mean, in three steps: frames are made gray at one
# size (clips of any resolution compare), the camera's own shift is taken out
# (`features.stabilised_differences`), and only pixels that change well above the noise count.
# The synthetic set also ships each clip's **person mask**; counting only the motion inside it
# drops the passers-by and thrown balls, and leaves the actor's motion (`region=` in
# `motion_energy`; real datasets have no mask, and the robust whole-frame measure is what you get).
#
# Two normalisations make clips comparable: a frame step lasts `1/fps` seconds, so energies are
# given **per second** (energy per step x fps: at 30 fps each step sees a third of the motion of a
# step at 10 fps); and each clip's curve is resampled to **normalised time** 0 (start) to 1 (end),
# so clips of different lengths can be averaged. Both members of a motion-only pair are taken as
# *twins* (the same subject, scene and random draw, see the manifest's `twin` column).

# %%
points = 32
sample = manifest.sample(frac=1.0, random_state=cfg.seed).groupby("label").head(8)
if "twin" in manifest:  # the second class of a pair: the twins of the first class's clips
    for a, b in features.MOTION_PAIRS:
        twins = manifest[manifest["clip_id"].isin(sample.loc[sample["label"] == a, "twin"])]
        sample = pd.concat([sample[sample["label"] != b], twins]) if len(twins) else sample
sample.attrs = dict(manifest.attrs)
paths = datasets.video_paths(sample)
jobs_in = [(p, Path(manifest.attrs["root"]) / gt) for p, gt in zip(paths, sample["gt"])] if "gt" in sample else paths
start = time.perf_counter()
energies = jobs.parallel_map(features.clip_motion_energy, jobs_in, workers=2, progress=False)
watch.lap("motion_energy", start)
measures = [m for m in ("naive", "robust", "person") if m in energies[0]]
for m in measures:  # per second: energy per frame step x frames per second
    sample[m] = [e[m] * rate for e, rate in zip(energies, sample["fps"])]
shown_measure = measures[-1]
energy_table = pd.DataFrame({m: sample.groupby("label")[m].apply(lambda s: np.concatenate(list(s)).mean())
                             for m in measures}).astype(float).sort_values(shown_measure, ascending=False)
energy_table.round(2).T

# %%
curves = {label: np.stack([features.resample_curve(c, points) for c in group[shown_measure]])
          for label, group in sample.groupby("label")}
overlays = {f"{a} vs {b}": (a, b) for a, b in features.MOTION_PAIRS if a in curves and b in curves}
fig = plots.per_class_curves(curves, "normalised time (0: start of the clip, 1: end)",
                             f"{shown_measure} motion energy (grey levels per pixel per second)", ncols=8,
                             overlays=overlays)
figure_path = plots.save_figure(fig, cfg, "01_eda_motion_energy")

# %%
steps = int(sample["naive"].map(len).min())  # keyframes sit at fixed frame numbers, so compare steps, not time
jump = np.mean([c[1:steps - 1] / (0.5 * (c[:steps - 2] + c[2:steps]) + 1e-6) for c in sample["naive"]], axis=0)
spikes = [k + 1 for k in range(len(jump)) if jump[k] > 1.25]  # steps well above both neighbours, in every class
mean_curve = {label: c.mean(0) for label, c in curves.items()}
col = energy_table[shown_measure]
ranked = (f"most motion: {', '.join(f'`{c}` ({v:.1f})' for c, v in col.nlargest(4).items())}; "
          f"least: {', '.join(f'`{c}` ({v:.2f})' for c, v in col.nsmallest(3).items())}" if len(col) > 7
          else "from most to least motion: " + ", ".join(f"`{c}` ({v:.1f})" for c, v in col.items()))
lines = [f"Energies per second, `{shown_measure}` unless named, over {len(sample)} clips:",
         f"- {ranked[0].upper() + ranked[1:]}.",
         f"- Naive energy, step by step over the first {steps} frames: "
         + (f"it jumps at the steps into frames {', '.join(str(k + 1) for k in spikes)}: keyframes, not motion."
            if spikes else "no step stands out (no keyframe flicker in these files).")]
for a, b in overlays.values():
    values = ", ".join(f"{m} {energy_table.loc[a, m]:.2f} / {energy_table.loc[b, m]:.2f}" for m in measures)
    ratio, naive_ratio = (energy_table.loc[a, m] / energy_table.loc[b, m] for m in (shown_measure, "naive"))
    lines.append(f"- `{a}` / `{b}`: {values} (ratio {ratio:.1f} against {naive_ratio:.1f} naive); their mean curves "
                 f"correlate at {np.corrcoef(mean_curve[a], mean_curve[b])[0, 1]:.3f} as they are, "
                 f"{np.corrcoef(mean_curve[a], mean_curve[b][::-1])[0, 1]:.3f} with the second reversed in time.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **What you should see** on the synthetic set: the whole-body classes (run, jumping jack, jump,
# walk) move most, all through the clip; a clap, a punch or a raised hand move a small part of
# the frame. The naive
# column is many times the others and similar for every class: most of what it measures is noise
# and sway, not the actor. `raise_hand` lifts the arm at the very start and then holds it still
# (its curve drops to almost nothing after the first steps), while `wave_one_hand` sweeps through
# the same angles all the time: inside the person mask it moves several times more, while the
# naive energy barely tells them apart. `sit_down` and `stand_up` have exactly the same energy, and
# their curves are mirror images in time: motion energy ignores direction (a clip played backwards
# has the same energy, reversed). Here the motion sits in the middle of both clips, so even the
# unreversed curves look alike: energy cannot tell which way the person went. A model needs the
# order of the frames and the direction of the motion to separate them.

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
overall.round(3)

# %%
pairwise = pd.DataFrame({name: probes[name]["pairwise"] for name in PROBES})
chance = probes["chance"]
if not pairwise.empty:
    fig = plots.accuracy_bars(pairwise, chance=0.5, title="motion-only pairs: pairwise test accuracy")
    plots.save_figure(fig, cfg, "01_eda_lesson_pairs")
    display(pairwise.round(3))

# %%
lines = [f"- Overall, the appearance probe reaches **{probes['appearance']['test_accuracy']:.0%}** and the "
         f"motion probe **{probes['motion']['test_accuracy']:.0%}** test accuracy; chance is {chance:.0%}."]
for pair, row in pairwise.iterrows():
    lines.append(f"- `{pair}`: appearance **{row['appearance']:.0%}**, motion **{row['motion']:.0%}** "
                 "(chance 50%).")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **What you should see:** both probes well above chance over all classes, because most actions
# have poses of their own. On the motion-only pairs the appearance probe sits at a coin flip while
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
    start = time.perf_counter()
    unbiased = catalog.prepare_dataset(unbiased_cfg)
    watch.lap("prepare_unbiased_dataset", start)
    context = {f"context_bias={cfg.synthetic.context_bias:g}": probes["appearance"],
               "context_bias=0": features.lesson_probes(unbiased, progress=False)["appearance"]}
    gain = context[next(iter(context))]["test_accuracy"] - context["context_bias=0"]["test_accuracy"]
    display(pd.DataFrame({k: {"appearance test accuracy": v["test_accuracy"]} for k, v in context.items()}).round(3))
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
           "clips_per_class": counts.to_dict(), "subjects_in_several_splits": int((subjects_per_split > 1).sum()),
           "distributions": {c: manifest[c].describe()[["min", "50%", "max"]].round(3).to_dict()
                             for c in ("duration_s", "frames", "fps", "width", "height")},
           "motion_energy_per_s": energy_table.round(4).to_dict(), "naive_energy_spike_steps": spikes})
display(Markdown(f"Results written to `{results_path.relative_to(cfg.artifacts_dir)}`."))

# %% [markdown]
# ## Summary
#
# - A manifest with subject-disjoint splits is the starting point of every experiment in the course.
# - Clips differ in duration, frame rate and shape: notebook 02 samples a fixed number of frames
#   from each clip by its own length and resizes without distorting it.
# - Measure what you mean: naive frame differences mix the actor's motion with camera sway, noise
#   and keyframe flicker; stabilised, thresholded differences show the motion.
# - Single frames carry a lot (pose, scene), but not the direction of time: some classes can only
#   be told apart by motion, which is what the temporal models of this course learn.
# - The `laptop` profile renders more subjects and larger clips: the probes' numbers get
#   steadier because the test split is bigger.
#
# ## Exercises
#
# Each exercise has a cell for your work and a check cell after it: run the check, and it tells
# you whether your answer holds. In the student version the work cell says `# YOUR CODE HERE`
# and the check fails until you solve it; the instructor's version carries a reference solution there.
#
# **1. Catch a subject leak.** Write `leaked_subjects(frame)`: the set of subjects that appear in
# more than one split. The check runs it on this manifest (no leak) and on a copy where one
# training clip was moved to the test split.

# %%
def leaked_subjects(frame):
    leaked = set()  # your code: the subjects found in more than one split
    ### BEGIN SOLUTION
    # solution
    splits = frame.groupby("subject")["split"].nunique()
    leaked = set(splits[splits > 1].index)
    ### END SOLUTION
    return leaked

# %%
moved = manifest.copy()
moved.loc[train.index[0], "split"] = "test"
assert leaked_subjects(manifest) == set(), "this manifest is subject-disjoint: expected no leaked subject"
assert leaked_subjects(moved) == {manifest.loc[train.index[0], "subject"]}, \
    "one training clip of this subject is now in the test split: expected exactly that subject"
print("exercise 1: correct")

# %% [markdown]
# **2. Motion energy has no direction.** Take the frames of one `sit_down` clip (any clip if your
# dataset has none), compute the naive energy `features.frame_difference_energy` of the clip played
# backwards (`frames[::-1]`), and store it in `backwards`.

# %%
clip = manifest[manifest["label"] == "sit_down"] if "sit_down" in classes else manifest
frames = video.read_video(datasets.video_paths(clip.head(1))[0])
backwards = None  # your code: the energy of the reversed clip
### BEGIN SOLUTION
# solution
backwards = features.frame_difference_energy(frames[::-1])
### END SOLUTION

# %%
forwards = features.frame_difference_energy(frames)
assert backwards is not None and len(backwards) == len(forwards), "compute the energy of frames[::-1]"
assert not np.allclose(backwards, forwards), "compare it with the forward energy: it is not the same curve..."
assert np.allclose(backwards, forwards[::-1]), "...but the same curve read from the end: energy ignores direction"
print("exercise 2: correct: the reversed clip has the same energy, reversed in time")

# %% [markdown]
# **3. An unbalanced dataset.** Render a small synthetic dataset (3 subjects, 2 repetitions, one
# subject per split) with `imbalance=0.8` (`config.resolve_config(..., imbalance=0.8, ...)`, then
# `catalog.prepare_dataset`) and store its manifest in `unbalanced`. Redraw the class balance
# with `plots.count_bars` to see it.

# %%
unbalanced = manifest  # your code: the manifest of the unbalanced dataset
### BEGIN SOLUTION
# solution
small = dict(subjects=3, reps_per_subject=2, split_subjects=(1, 1, 1))
unbalanced = catalog.prepare_dataset(
    config.resolve_config(profile, "synthetic", data_dir, artifacts_dir, seed, imbalance=0.8, **small), progress=False)
### END SOLUTION

# %%
per_class = unbalanced.groupby("label").size()
assert per_class.max() >= 3 * per_class.min(), \
    f"the largest class should have at least 3x the clips of the smallest; got {per_class.max()} vs {per_class.min()}"
print(f"exercise 3: correct: {per_class.idxmax()} has {per_class.max()} clips, {per_class.idxmin()} {per_class.min()}")

# %% [markdown]
# **Going further** (no check): raise `context_bias` to 1.0 and rerun the context cell. The
# appearance probe gains more, but its pairwise accuracy on `sit_down/stand_up` stays at 50%:
# context cannot separate what happens in the same scene.
#
# ## References
#
# - H. Kuehne, H. Jhuang, E. Garrote, T. Poggio, T. Serre. *HMDB: a large video database for human
#   motion recognition.* ICCV 2011.
# - K. Soomro, A. R. Zamir, M. Shah. *UCF101: a dataset of 101 human actions classes from videos in
#   the wild.* arXiv:1212.0402, 2012.
# - A. F. Bobick, J. W. Davis. *The recognition of human movement using temporal templates.* IEEE
#   TPAMI 23(3), 2001 (motion energy and motion history images).
# - A. Torralba, A. A. Efros. *Unbiased look at dataset bias.* CVPR 2011; Y. Li, Y. Li,
#   N. Vasconcelos. *RESOUND: towards action recognition without representation bias.* ECCV 2018
#   (how much of an action benchmark a single frame or the scene solves).
# - I. E. Richardson. *The H.264 Advanced Video Compression Standard*, 2nd ed., Wiley 2010,
#   chapter on frame types (I-, P- and B-frames, groups of pictures).
#
# **Next:** [02_frames](02_frames.ipynb) decodes and samples clips of any length, resizes them
# without distortion and caches them for training; it uses this notebook's manifest and dataset.
