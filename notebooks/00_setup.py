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
# first line of model code. This notebook removes all three before the course starts.
#
# **You will learn to**
#
# 1. read an **environment report**: Colab or local, CPU or GPU, and the versions that matter;
# 2. turn the notebook parameters into one **resolved configuration** (the *profile*);
# 3. prepare the **dataset of your profile**: by default the course's own synthetic human-action
#    dataset, rendered here in seconds, so nothing needs to be downloaded;
# 4. decode a first clip, the smallest end-to-end check of video I/O.
#
# **Prerequisites:** Python and a notebook (Jupyter, VS Code or Colab); nothing about video yet.
# **Time:** about 30 s to run in the `ci` profile on two CPU cores (measured: 29 s, 18 s of it
# rendering the dataset the first time; a rerun finds it), 15 minutes to read and do the exercises.
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
import shutil
import time
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from course_utils import catalog, config, datasets, plots, runs, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)


def shown(value):
    """How a setting is printed: paths inside the project relative to it, None as "none", 4/3 as 1.33333."""
    if isinstance(value, Path):
        return value.relative_to(config.REPO_ROOT).as_posix() if value.is_relative_to(config.REPO_ROOT) \
            else f".../{value.name}"
    if isinstance(value, tuple):
        return "(" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + ")"
    return "none" if value is None else value

# %% [markdown]
# ## 1. Where am I running?
#
# The report below reads the versions from the installed packages and asks TensorFlow for GPUs
# (in a separate process, so that TensorFlow's start-up messages stay out of this notebook and the
# data notebooks never load it). On a CPU-only machine the course still runs: the `ci` profile is
# sized for two CPU cores.

# %%
report = runs.environment_report()
display(pd.Series({k: ", ".join(v) or "none" if isinstance(v, list) else v for k, v in report.items()},
                  name="value").astype(str).to_frame())

# %%
gpus = report["gpus"]
display(Markdown(
    f"**{'Colab' if report['colab'] else 'Local machine'}**, {report['cpu_count']} CPU cores, "
    + (f"{len(gpus)} GPU(s): {', '.join(gpus)}." if gpus else "no GPU: TensorFlow runs on the CPU.")
    + (" TV-L1 optical flow is available (opencv-contrib)." if report["opencv_tvl1"]
       else " TV-L1 optical flow is not available (install opencv-contrib-python-headless); notebook 03 skips it.")))

# %% [markdown]
# **What you should see:** TensorFlow 2.20 or newer and Keras 3 (Colab's own versions serve). On a
# GPU machine (Colab: *Runtime → Change runtime type → GPU*) the GPU list is not empty. The `ci`
# profile never needs one.
#
# ## 2. The resolved configuration
#
# `resolve_config` is the one place where notebook parameters become settings. A bad value is an
# error that lists the allowed ones; try `config.resolve_config(profile="huge")`. Folders are shown
# relative to the project folder.

# %%
settings = {k: v for k, v in vars(cfg).items() if k not in ("synthetic", "overrides")}
settings |= {f"synthetic.{k}": v for k, v in vars(cfg.synthetic).items()}
settings["overrides"] = ", ".join(f"{k}={v}" for k, v in cfg.overrides.items()) or None
if cfg.dataset not in config.DATASETS:  # a folder of your own videos
    settings["dataset"] = Path(cfg.dataset)
pd.Series({k: shown(v) for k, v in settings.items()}, name="value").astype(str).to_frame()

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
    f"The dataset `{cfg.dataset_root.name}` has **{len(manifest)} clips** of "
    f"**{manifest['label'].nunique()} classes** performed by **{manifest['subject'].nunique()} subjects**; "
    f"preparing it took {prepare_seconds:.1f} s in this run (a few seconds to render, or well under one "
    "to find it ready)."))

# %% [markdown]
# ## 4. A first look at one clip
#
# Decoding the first training clip and showing eight evenly spaced frames is the smallest check that
# video I/O works end to end.

# %%
first = manifest[manifest["split"] == "train"].iloc[0]
frames = video.read_video(datasets.video_paths(manifest.loc[[first.name]])[0])
fig = plots.frame_strip(frames, title=f"{first['label']} ({first['path']}: {len(frames)} frames, "
                                      f"{frames.shape[2]}x{frames.shape[1]} px, {first['fps']:g} fps)")
figure_path = plots.save_figure(fig, cfg, "00_setup_first_clip")

# %% [markdown]
# **What you should see:** a figure performing the action named in the title, frame by frame.

# %%
results_path = runs.save_results(
    cfg, "00_setup",
    metrics={"dataset": {"clips": len(manifest), "classes": int(manifest["label"].nunique()),
                         "subjects": int(manifest["subject"].nunique())}},
    timings_s=watch.total(),
    extra={"environment": report, "splits": split_table.reset_index().to_dict("records")})
display(Markdown(f"Results written to `{results_path.relative_to(cfg.artifacts_dir)}`."))

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
# Each exercise has a cell for your work and a check cell after it: run the check, and it tells
# you whether your answer holds. In the student version the work cell says `# YOUR CODE HERE`
# and the check fails until you solve it; the instructor's version carries a reference solution there.
#
# **1. Another profile.** Resolve the configuration of the `laptop` profile into `laptop` and
# compare it with the table above.

# %%
laptop = cfg  # your code: the resolved configuration of the laptop profile
### BEGIN SOLUTION
# solution
laptop = config.resolve_config(profile="laptop")
### END SOLUTION

# %%
assert laptop.profile == "laptop", "resolve the laptop profile: config.resolve_config(profile=...)"
ci = config.resolve_config(profile="ci")  # the check holds whichever profile this notebook runs in
assert laptop.image_size > ci.image_size and laptop.synthetic.subjects > ci.synthetic.subjects, \
    "the laptop profile should feed larger frames and render more subjects than ci"
print(f"exercise 1: correct: laptop feeds {laptop.image_size} px frames ({ci.image_size} in ci), "
      f"{laptop.synthetic.subjects} subjects ({ci.synthetic.subjects})")

# %% [markdown]
# **2. Same seed, same bytes.** Render a tiny synthetic dataset (2 subjects, 1 repetition: 28 clips)
# three times, each into its own folder under `exercise_root`: twice with seed 7 (`m7`, `m7_again`)
# and once with seed 8 (`m8`); a folder that holds the dataset already is not rendered again. From the
# command line the same is `python -m course_utils generate FOLDER --seed 7`.

# %%
exercise_root = cfg.artifacts_dir / "exercises" / "00_setup"
tiny = dict(subjects=2, reps_per_subject=1, split_subjects=(1, 0, 1))
m7 = m7_again = m8 = manifest  # your code: the three manifests
### BEGIN SOLUTION
# solution
m7, m7_again, m8 = (catalog.prepare_dataset(config.resolve_config(profile, "synthetic", exercise_root / folder,
                                                                  artifacts_dir, s, **tiny), progress=False)
                    for folder, s in (("a", 7), ("b", 7), ("c", 8)))
### END SOLUTION

# %%
assert len(m7) == len(m8) == 28, "render 2 subjects x 1 repetition x 14 classes = 28 clips each"
assert list(m7["sha256"]) == list(m7_again["sha256"]), "the same seed should give byte-identical videos"
assert set(m7["sha256"]).isdisjoint(m8["sha256"]), "another seed should give different videos"
print("exercise 2: correct: seed 7 twice gives the same 28 files, seed 8 other ones")

# %% [markdown]
# **3. Your own videos.** Any folder with one sub-folder per class is a dataset: pass its path as
# `dataset`. Build such a folder `own_root` (here: copy clips of 3 subjects for each of 3 classes
# of this dataset; with your own videos, skip the copy), resolve a configuration with `dataset=str(own_root)`
# and prepare it into `own`. To run this whole notebook on it, set the `dataset` parameter.

# %%
own_root = exercise_root / "my_videos"
chosen = sorted(manifest["label"].unique())[:3]
picked = manifest[manifest["label"].isin(chosen)].groupby(["label", "subject"]).head(1).groupby("label").head(3)
own = manifest  # your code: copy the `picked` clips into own_root/<label>/, then the manifest of the folder
### BEGIN SOLUTION
# solution
for row, path in zip(picked.itertuples(), datasets.video_paths(picked)):  # up to 3 subjects per class
    (own_root / row.label).mkdir(parents=True, exist_ok=True)
    if not (own_root / row.label / path.name).exists():
        shutil.copy(path, own_root / row.label / path.name)
own = catalog.prepare_dataset(config.resolve_config(profile, str(own_root), data_dir, artifacts_dir, seed),
                              progress=False)
### END SOLUTION

# %%
assert sorted(own["label"].unique()) == chosen, f"expected the classes {chosen} of the folder"
assert len(own) == len(picked) and set(own["split"]) <= {"train", "val", "test"}, \
    f"expected the {len(picked)} copied clips, each in a split"
print(f"exercise 3: correct: {len(own)} clips of {', '.join(chosen)}, split by subject:")
own.groupby("split").size()

# %% [markdown]
# ## References
#
# - TensorFlow, *Install TensorFlow with pip* (tensorflow.org/install/pip): CPU and GPU builds,
#   CUDA requirements.
# - OpenCV on PyPI (`opencv-python` and its variants): install exactly one of the four packages,
#   since they all provide the same `cv2` module.
# - Google Colab, *Runtime → Change runtime type*: how to get a GPU runtime.
# - papermill and jupytext documentation: how the course executes its notebooks (one `parameters`
#   cell) and keeps them as reviewable `.py` files.
#
# **Next:** [01_eda](01_eda.ipynb) explores this dataset (the manifest made here): balance,
# durations, frame rates and sizes, motion, and quick probes that show what a model can learn from
# single frames and what only from motion.
