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
# # 00 · Setup: an environment that runs anywhere, and data in place
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/00_setup.ipynb)
#
# Video models are infamous for "works on my machine": a TensorFlow that cannot see the GPU, an OpenCV
# built without the codec your videos need, a dataset that must be downloaded for hours before the
# first line of model code. This notebook removes all three before the course starts:
#
# 1. it reports **where you run**: Colab or local, CPU or GPU, and the versions that matter;
# 2. it turns the notebook parameters into one **resolved configuration** (the *profile*);
# 3. it prepares the **dataset of your profile**: by default the course's own synthetic
#    human-action dataset, rendered here in seconds, so nothing needs to be downloaded.
#
# **Profiles.** `ci` (the default) runs the whole course in minutes on two CPU cores; `laptop`
# renders a bigger dataset and trains longer; `full` uses a real dataset (HMDB51 split 1),
# ImageNet weights and a GPU. Every notebook takes the same parameters, so you switch all of them at once.

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

import pandas as pd
from IPython.display import Markdown, display

from course_utils import catalog, config, datasets, plots, runs, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)

# %% [markdown]
# ## 1. Where am I running?
#
# The report below reads the versions from the installed packages and asks TensorFlow for GPUs.
# On a CPU-only machine the course still runs: the `ci` profile is sized for two CPU cores.

# %%
report = runs.environment_report()
display(pd.Series(report, name="value").to_frame())

# %%
gpus = report["gpus"]
display(Markdown(
    f"**{'Colab' if report['colab'] else 'Local machine'}**, {report['cpu_count']} CPU cores, "
    + (f"{len(gpus)} GPU(s): {', '.join(gpus)}." if gpus else "no GPU: TensorFlow runs on the CPU.")
    + (" TV-L1 optical flow is available (opencv-contrib)." if report["opencv_tvl1"]
       else " TV-L1 optical flow is not available (install opencv-contrib-python-headless); notebook 03 skips it.")))

# %% [markdown]
# **What you should see:** TensorFlow 2.21 and Keras 3. On a GPU machine (Colab: *Runtime → Change
# runtime type → GPU*) the GPU list is not empty. The `ci` profile never needs one.
#
# ## 2. The resolved configuration
#
# `resolve_config` is the one place where notebook parameters become settings. A bad value is an
# error that lists the allowed ones; try `config.resolve_config(profile="huge")`.

# %%
display(pd.Series(cfg.as_dict(), name="value").astype(str).to_frame())

# %% [markdown]
# ## 3. The dataset of this profile
#
# For `dataset="synthetic"` the course renders its dataset: real video files in a class-folder
# layout, a manifest CSV (path, label, subject, split, frames, fps, size, SHA-256 checksum) and
# per-frame ground truth (joint positions and a person mask). It is deterministic: the same seed
# gives byte-identical files. A second run finds the manifest and skips the work.

# %%
start = time.perf_counter()
manifest = catalog.prepare_dataset(cfg)
prepare_seconds = watch.lap("prepare_dataset", start)
split_table = manifest.groupby(["split"]).agg(clips=("path", "size"), classes=("label", "nunique"),
                                              subjects=("subject", "nunique"))
display(split_table)

# %%
display(Markdown(
    f"The dataset at `{cfg.dataset_root.name}` has **{len(manifest)} clips** of "
    f"**{manifest['label'].nunique()} classes** performed by **{manifest['subject'].nunique()} subjects**; "
    f"preparing it took {prepare_seconds:.1f} s in this run."))

# %% [markdown]
# ## 4. A first look at one clip
#
# Decoding the first training clip and showing eight evenly spaced frames is the smallest check that
# video I/O works end to end.

# %%
first = manifest[manifest["split"] == "train"].iloc[0]
frames = video.read_video(datasets.video_paths(manifest.loc[[first.name]])[0])
fig = plots.frame_strip(frames, title=f"{first['label']} ({first['path']}, {len(frames)} frames)")
plots.save_figure(fig, cfg, "00_setup_first_clip")

# %% [markdown]
# **What you should see:** a figure performing the action named in the title, frame by frame.

# %%
results_path = runs.save_results(
    cfg, "00_setup",
    metrics={"dataset": {"clips": len(manifest), "classes": int(manifest["label"].nunique()),
                         "subjects": int(manifest["subject"].nunique())}},
    timings_s=watch.total(),
    extra={"environment": report, "splits": split_table.reset_index().to_dict("records")})
display(Markdown(f"Results written to `{results_path.name}`."))

# %% [markdown]
# ## Summary
#
# - The environment report tells you what runs where; the course needs no GPU in the `ci` profile.
# - One function resolves the parameters of every notebook into a frozen configuration.
# - The dataset is on disk with a manifest: the contract through which *every* dataset (synthetic,
#   HMDB51, UCF101, KTH, UTD-MHAD or your own folder) enters the course.
#
# ## Exercises
#
# 1. Call `config.resolve_config(profile="laptop")` and compare its `synthetic` spec with the one
#    above. *Check:* `config.resolve_config(profile="laptop").synthetic.size > cfg.synthetic.size`.
# 2. Render a second dataset with another seed:
#    `python -m course_utils generate data/synthetic-s7 --seed 7`, load its manifest with
#    `datasets.load_manifest` and check that the checksums differ.
#    *Check:* `set(m7["sha256"]).isdisjoint(manifest["sha256"])` is `True`.
# 3. Point `dataset` at a folder of your own videos, one sub-folder per class, and run this notebook
#    again. *Check:* the split table lists your classes.
#
# **Next:** [01_eda](01_eda.ipynb) explores this dataset: balance, durations, motion, and quick
# probes that show what a model can learn from single frames and what only from motion.
