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
# # 02 · Frames: decoding, sampling, resizing and a frame cache
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/02_frames.ipynb)
#
# A video network never sees a video file. It sees a tensor of shape `(T, H, W, 3)`: a fixed number
# of frames `T` at a fixed size `H x W`. Between the file and that tensor lie three decisions that
# change what a model can learn and how fast it trains:
#
# 1. **decoding**: what is really in the file (how many frames, at what rate), and what to do when
#    the file is broken;
# 2. **sampling**: which `T` of the clip's frames the model sees (a clip has dozens to hundreds);
# 3. **resizing and cropping**: how a 640x480 or 1920x1080 frame becomes `H x W`.
#
# Then you build the **frame cache**: every clip decoded, sampled and resized *once* and stored as
# a NumPy array, so that the training notebooks (3D CNN, MobileNetV2+LSTM, ResNet-50, the tf.data
# pipeline) spend their time on the model and not on the decoder. You will measure how much that
# saves on your machine.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
bench_clips = 8  # clips timed in the throughput table

# %%
import importlib.util, subprocess, sys
if "google.colab" in sys.modules and importlib.util.find_spec("course_utils") is None:
    # Colab's TensorFlow, Keras, NumPy and OpenCV stay as they are: the bare course package, plus
    # an OpenCV (the "opencv" extra) only where there is none: two OpenCV packages clash in cv2/
    extra = "" if importlib.util.find_spec("cv2") else "[opencv]"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"course_utils{extra} @ git+https://github.com/action-recognition-course/action-recognition-course"], check=True)

# %%
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import cache, catalog, config, datasets, plots, runs, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)
manifest = catalog.prepare_dataset(cfg)
videos = pd.Series(datasets.video_paths(manifest), index=manifest.index)
T, SIZE = cfg.clip_frames, cfg.image_size
display(Markdown(f"Dataset **{cfg.dataset_name}**: {len(manifest)} clips; this profile (`{cfg.profile}`) "
                 f"feeds models **{T} frames of {SIZE}x{SIZE} pixels** per clip."))

# %% [markdown]
# ## 1. What is in a video file?
#
# A video file is a **container** (AVI, MP4, MKV) that holds one or more **streams**. The video
# stream is a sequence of frames compressed by a **codec** (MPEG-4 part 2, H.264, VP9). Most frames
# are stored as *differences* from earlier ones; only **keyframes** stand alone. Two consequences:
#
# - decoding is **sequential**: frame 100 needs the keyframe before it and every frame in between,
#   so "seek to frame 100" is never free. This course reads frames in order and stops early.
# - the container's **header** stores a frame count and a frame rate, but they are claims: some
#   containers only store an estimate (duration x rate), a file cut short by a failed download
#   still carries the original count, and a variable-frame-rate phone video has no single rate.
#   `video.probe_video` therefore **decodes** every frame and measures the rate from the
#   frames' timestamps, then reports both.

# %%
sample = manifest.groupby("label").head(1).head(6)
probes = [video.probe_video(videos[i]) for i in sample.index]
probe_table = pd.DataFrame({
    "file": [Path(p).name for p in sample["path"]], "container": [i.container for i in probes],
    "codec": [i.codec for i in probes], "header frames": [i.header_frames for i in probes],
    "decoded frames": [i.frames for i in probes], "header fps": [round(i.header_fps, 3) for i in probes],
    "measured fps": [round(i.fps, 3) for i in probes], "variable fps": [i.variable_fps for i in probes],
    "size": [f"{i.width}x{i.height}" for i in probes], "seconds": [round(i.duration_s, 2) for i in probes],
    "MB": [round(videos[i].stat().st_size / 1e6, 3) for i in sample.index]})
display(probe_table)
agree = int((probe_table["header frames"] == probe_table["decoded frames"]).sum())
display(Markdown(f"**What you should see:** in {agree} of {len(probes)} clips the header's frame count "
                 "agrees with the decoded count (well-made files); the measured frame rate matches the "
                 "header's for constant-rate video."))

# %% [markdown]
# ### Broken files fail loudly, with the file name
#
# Large real datasets often contain a few broken files. A pipeline that crashes with
# `cv2.error` deep inside a training loop, or worse, silently returns black frames, costs hours.
# Every decoding function here raises a **typed error** (`VideoMissingError`, `VideoEmptyError`,
# `NotAVideoError`, `VideoTruncatedError`, `VideoTooShortError`) that names the file and the problem.
# Watch it on a copy of a clip cut in half, as an interrupted download leaves it:

# %%
demo = manifest.loc[manifest["frames"].idxmax()]  # the longest clip shows sampling best
with tempfile.TemporaryDirectory() as scratch:
    broken = Path(scratch) / f"half_of_{Path(demo['path']).name}"
    data = videos[demo.name].read_bytes()
    broken.write_bytes(data[:len(data) // 2])
    checks = {"probe_video(broken)": lambda: video.probe_video(broken),
              "load_clip(broken, [0, 1, 2])": lambda: video.load_clip(broken, [0, 1, 2]).shape,
              f"load_clip(original, [{demo['frames']}])": lambda: video.load_clip(videos[demo.name],
                                                                                    [demo["frames"]])}
    outcome = {}
    for call, run in checks.items():
        try:
            outcome[call] = f"ok: {run()}"
        except video.VideoError as error:
            outcome[call] = f"{type(error).__name__}: {error.path.name}: {error.problem}"
display(pd.Series(outcome, name="result").to_frame())

# %% [markdown]
# **What you should see:** the probe of the half file reports a truncation (or, for an MP4 whose
# index sits at the end, a file that cannot be opened), naming it. Reading the first three frames
# of the same file may still work: decoding stops at the last frame it needs, so damage after that
# point is never reached. Asking for a frame past the end names both lengths.

# %% [markdown]
# ## 2. Sampling: which frames the model sees
#
# A model takes `T` frames; a clip has many more. The strategies used in the literature, each a
# function in `course_utils.video` that turns a frame count into frame indices:
#
# | strategy | indices | used for |
# |---|---|---|
# | **uniform** | `T` frames evenly spread from first to last | testing, and the frame cache: the whole action, deterministic |
# | **random span** | `T` *consecutive* frames (every `stride`-th) from a random start | training 3D CNNs (C3D, I3D): fine motion at the native rate, a different part of the clip each epoch |
# | **segments (TSN)** | the clip cut into `K` equal segments, one frame from each: random in training, the centre at test time | long-range structure at low cost (Temporal Segment Networks, Wang et al. 2016) |
# | **sliding windows** | every window of `T` frames, every `stride` frames | dense evaluation of long videos and streaming recognition (notebook 10): average the windows' scores |
#
# Random strategies take a seeded `np.random.Generator`, so an experiment can be repeated exactly.
# Clips shorter than the request repeat frames *in order* (never wrap around): a model must be
# able to tell "sit down" from "stand up", which are the same frames in reverse order.

# %%
num_segments, window_stride = 8, max(1, T // 2)
frames_demo, fps_demo = int(demo["frames"]), float(demo["fps"])
rng = np.random.default_rng(cfg.seed)
strategies = {
    f"uniform (T={T})": [video.uniform_indices(frames_demo, T)],
    f"random span (T={T}), 3 draws": [video.random_span_indices(frames_demo, T, rng) for _ in range(3)],
    f"TSN train (K={num_segments}), 3 draws": [video.segment_indices(frames_demo, num_segments, True, rng)
                                               for _ in range(3)],
    f"TSN test (K={num_segments})": [video.segment_indices(frames_demo, num_segments, False)],
    f"sliding windows ({T}, stride {window_stride})": list(video.sliding_windows(frames_demo, T, window_stride)),
}
fig, axes = plt.subplots(len(strategies), 1, figsize=(9, 1.0 * len(strategies)), sharex=True)
for ax, (name, draws) in zip(axes, strategies.items()):
    for k, indices in enumerate(draws):
        y = k / max(1, len(draws) - 1) if len(draws) > 1 else 0.5
        ax.plot(indices, np.full(len(indices), y), "|-" if "windows" in name else "o", markersize=5,
                color=f"C{k % 10}", linewidth=2 if "windows" in name else 0)
    for boundary in (np.arange(1, num_segments) * frames_demo / num_segments if "TSN" in name else []):
        ax.axvline(boundary - 0.5, color="gray", linewidth=0.6, linestyle=":")
    ax.set_ylim(-0.3, 1.3)
    ax.set_yticks([])
    ax.set_title(name, fontsize=9, loc="left")
axes[-1].set_xlim(-1, frames_demo)
axes[-1].set_xlabel(f"frame index in {Path(demo['path']).name} ({frames_demo} frames, {frames_demo / fps_demo:.1f} s)")
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "02_frames_sampling")

# %%
coverage = {name: np.mean([(d.max() - d.min() + 1) / frames_demo for d in draws])
            for name, draws in strategies.items() if "windows" not in name}
n_windows = len(strategies[f"sliding windows ({T}, stride {window_stride})"])
display(Markdown(
    "**What you should see:** uniform and TSN samples span the whole clip "
    f"({coverage[f'uniform (T={T})']:.0%} and {coverage[f'TSN test (K={num_segments})']:.0%} of it), while a "
    f"random span of {T} consecutive frames covers only {coverage[f'random span (T={T}), 3 draws']:.0%} "
    f"({T / fps_demo:.2f} s), a different part at each draw. Sliding windows need {n_windows} forward passes "
    "for this one clip: dense evaluation is accurate but expensive."))

# %% [markdown]
# What the model receives from each strategy (eight of the sampled frames, with their index in the clip):

# %%
shown = {"uniform": strategies[f"uniform (T={T})"][0], "random span": strategies[f"random span (T={T}), 3 draws"][0],
         f"TSN test (K={num_segments})": strategies[f"TSN test (K={num_segments})"][0]}
small = video.load_clip(videos[demo.name], None, size=SIZE)  # every frame, already at model size
fig, axes = plt.subplots(len(shown), 8, figsize=(11, 1.6 * len(shown)), squeeze=False)
for row, (name, indices) in zip(axes, shown.items()):
    for ax, index in zip(row, indices[np.linspace(0, len(indices) - 1, 8).round().astype(int)]):
        ax.imshow(small[index])
        ax.set_title(f"frame {index}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, fontsize=8)
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "02_frames_sampled_frames")

# %% [markdown]
# **What you should see:** uniform and TSN rows tell the whole story of the action from start to end;
# the random span shows a short stretch in fine detail, and a single draw can miss the most telling
# moment. Over many epochs random spans visit every part of the clip: that is the augmentation.

# %% [markdown]
# ## 3. Resizing and cropping
#
# Every frame must become `H x W`. Three choices, each a helper in `course_utils.video`:
#
# - **stretch** (`resize_clip`): resize directly. Nothing is lost, but a 4:3 or 16:9 frame is
#   squashed, and people look thinner or wider than they are.
# - **shorter side + centre crop** (`resize_shorter_side`, `center_crop`, together `fit_frames`):
#   keeps the proportions and drops the borders. The frame cache uses it; actions happen near the
#   centre in most datasets.
# - **random crop** (`random_crop`): training augmentation. Resize a little larger, then cut a
#   random window: **the same window for every frame of a clip**. A window that moved from frame to
#   frame would add camera motion that is not in the video, and motion is what the model must learn.
#
# Shrinking uses OpenCV's area filter, which averages pixels instead of skipping them (no aliasing).

# %%
frame = video.load_clip(videos[demo.name], [frames_demo // 2])[0]
larger = video.resize_shorter_side(frame, round(SIZE * 1.15))
panels = {"decoded": frame, "stretch": video.resize_clip(frame, SIZE),
          "shorter side": video.resize_shorter_side(frame, SIZE),
          "+ centre crop": video.fit_frames(frame, SIZE),
          "random crop 1": video.random_crop(larger, SIZE, rng), "random crop 2": video.random_crop(larger, SIZE, rng)}
fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 2.4),
                         gridspec_kw={"width_ratios": [p.shape[1] / p.shape[0] for p in panels.values()]})
for ax, (name, image) in zip(axes, panels.items()):
    ax.imshow(image)
    ax.set_title(f"{name}\n{image.shape[0]}x{image.shape[1]}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "02_frames_resize_crop")

# %% [markdown]
# **What you should see:** the stretched frame is distorted (unless the video is already square);
# the centre crop keeps proportions but loses the borders; the two random crops are shifted copies
# of the slightly larger frame.
#
# ## 4. The frame cache
#
# Training runs over the same clips once per epoch. Decoding and resizing them every time repeats
# identical work, so `cache.cache_clips` does it **once**:
#
# - one `.npy` file per video, an array `(T, H, W, 3)` of `uint8` RGB, under
#   `<artifacts>/cache/<dataset>-<profile>/clips-<sampling>-t<T>-<H>x<W>-<fit>/<video path>-<checksum>.npy`:
#   keyed by the manifest path, the sampling, the size and the file's checksum, so a changed video
#   or another setting never returns a stale clip;
# - written **atomically**: the array goes to a hidden temporary file that is renamed into place
#   when complete; an interrupted run never leaves a half file under the final name, and a rerun
#   skips every clip that is complete;
# - built by a pool of worker processes with a progress bar; a broken video is reported by name
#   with the reason and skipped, and the others complete.
#
# Later notebooks read it with `cache.load_cached(path)` (or `mmap=True` to map it without reading).

# %%
start = time.perf_counter()
cache_paths, failures = cache.cache_clips(manifest, cfg.cache_dir, T, SIZE, workers=2)
build_seconds = watch.lap("cache_build", start)
for failure in failures:
    print(f"skipped {failure}")
cached = [p for p in cache_paths if p is not None]
cache_mb = sum(p.stat().st_size for p in cached) / 1e6
source_mb = sum(videos[i].stat().st_size for i, p in zip(manifest.index, cache_paths) if p is not None) / 1e6
cache_table = pd.Series({"clips cached": len(cached), "clips failed": len(failures),
                         "array per clip": str(cache.load_cached(cached[0], mmap=True).shape) + " uint8",
                         "cache MB": round(cache_mb, 2), "source videos MB": round(source_mb, 2),
                         "KB per clip": round(1e3 * cache_mb / len(cached), 1),
                         "seconds to build (or check)": round(build_seconds, 2)}, name="value").to_frame()
display(cache_table)

# %% [markdown]
# Run it again: nothing is decoded, and no file is rewritten (their modification times do not change).

# %%
before = {p: p.stat().st_mtime_ns for p in cached}
start = time.perf_counter()
again, _ = cache.cache_clips(manifest, cfg.cache_dir, T, SIZE, workers=2)
rerun_seconds = watch.lap("cache_rerun", start)
rewritten = sum(p.stat().st_mtime_ns != before[p] for p in cached)
laptop_size = config.resolve_config("laptop").image_size
display(Markdown(
    f"**What you should see:** the rerun took {rerun_seconds:.2f} s against {build_seconds:.2f} s for the "
    f"first call of this run, and rewrote {rewritten} of {len(cached)} files. Each clip takes "
    f"{1e3 * cache_mb / len(cached):.0f} KB on disk, {cache_mb / max(source_mb, 1e-9):.1f}x the size of the "
    f"compressed source videos. Uncompressed arrays grow with T x H x W: at the `laptop` profile's {laptop_size} px "
    f"the same clips would take {(laptop_size / SIZE) ** 2:.1f}x as much. (If the cache existed from an earlier "
    "run, both calls only checked it.)"))

# %%
ready = manifest.assign(cache=cache_paths).dropna(subset=["cache"])  # the clips that are cached
per_class = ready.groupby("label").head(1)
fig = plots.frame_grid([(row.label, cache.load_cached(row.cache)) for row in per_class.itertuples()], count=8)
figure_path = plots.save_figure(fig, cfg, "02_frames_cached_clips")

# %% [markdown]
# **What you should see:** one cached clip per class, exactly as a model of this profile receives it.
#
# ## 5. Throughput: where the time goes
#
# How many frames per second can each path deliver on this machine? The table times
# `bench_clips` clips four ways (repeating them for at least half a second per way): decoding every
# frame at full resolution; decoding and resizing every frame; decoding only the `T` uniformly sampled
# frames; and loading the cached clip.
# Everything runs in this one process (the cache build above used all workers); the files are in the
# operating system's page cache, so no row waits for the disk.

# %%
bench = ready.sample(n=min(bench_clips, len(ready)), random_state=cfg.seed)
load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
ways = {
    "decode": lambda r: video.read_video(videos[r.Index]),
    "decode_resize": lambda r: video.load_clip(videos[r.Index], None, size=SIZE),
    "sampled_decode": lambda r: video.load_clip(videos[r.Index], video.uniform_indices(int(r.frames), T), size=SIZE),
    "cache_load": lambda r: cache.load_cached(r.cache),
}
throughput = {name: video.frames_per_second(load, list(bench.itertuples()), min_seconds=0.5)
              for name, load in ways.items()}
table = pd.DataFrame(throughput).T[["clips", "frames", "seconds", "frames_per_s", "clips_per_s"]]
table["ms_per_clip"] = (1e3 * table["seconds"] / table["clips"]).round(1)
display(table)
speedup = throughput["cache_load"]["clips_per_s"] / throughput["sampled_decode"]["clips_per_s"]
display(Markdown(
    f"Measured with a 1-minute load average of {load_avg:.2f} on {os.cpu_count()} cores. **What you should "
    f"see:** a cached clip loads {speedup:.0f}x faster than decoding its {T} frames from the video "
    f"({table.loc['cache_load', 'ms_per_clip']} ms against {table.loc['sampled_decode', 'ms_per_clip']} ms). "
    f"Decoding only the sampled frames takes {table.loc['sampled_decode', 'ms_per_clip']} ms per clip, decoding "
    f"and resizing all of them {table.loc['decode_resize', 'ms_per_clip']} ms. Uniform sampling reaches the last "
    "frame, so every frame is still decompressed, but the unused ones are never converted to RGB or resized; "
    "a sample that ends early (a random span) also stops the decoder early."))

# %% [markdown]
# ## Results

# %%
metrics = {name: {"frames_per_s": row["frames_per_s"], "clips_per_s": row["clips_per_s"]}
           for name, row in throughput.items()}
results_path = runs.save_results(
    cfg, "02_frames", metrics=metrics, timings_s=watch.total(),
    extra={"clip_shape": [T, SIZE, SIZE, 3], "cache": {
               "clips": len(cached), "failed": [str(f) for f in failures], "mb": round(cache_mb, 3),
               "source_mb": round(source_mb, 3), "build_s": build_seconds, "rerun_s": rerun_seconds,
               "rewritten_on_rerun": rewritten,
               "folder": Path(*cached[0].relative_to(cfg.artifacts_dir).parts[:3]).as_posix()},
           "sampling_coverage": {k: round(float(v), 3) for k, v in coverage.items()},
           "probe": probe_table.to_dict("records"), "bench_clips": int(len(bench)), "load_average_1min": load_avg})
display(Markdown(f"Results written to `{results_path.name}`."))

# %% [markdown]
# ## Summary
#
# - A file's header is a claim: count frames by decoding and measure the rate from timestamps;
#   broken files raise typed errors that name the file.
# - Sampling decides what the model can see: uniform and TSN cover the whole action, a random span
#   sees fine motion in part of it, sliding windows evaluate densely at a cost.
# - Resize the shorter side and centre-crop to keep proportions; random-crop the same window in
#   every frame for augmentation.
# - The frame cache turns decoding into a one-time cost; it is atomic and resumable.
#
# The `laptop` profile runs the same code at a larger frame size on a larger synthetic dataset (more
# subjects, longer clips at a higher resolution), so the cache and the decode times grow with it.
#
# ## Exercises
#
# 1. Build a TSN cache with 8 segments: `paths, _ = cache.cache_clips(manifest, cfg.cache_dir, 8, SIZE,
#    sampling="segments")`. *Check:* `cache.load_cached(paths[0]).shape == (8, SIZE, SIZE, 3)`, and the
#    file lives in a different folder than `cache_paths[0]`.
# 2. Show that random spans are repeatable: draw twice with `np.random.default_rng(0)`.
#    *Check:* `np.array_equal(video.random_span_indices(100, T, np.random.default_rng(0)),
#    video.random_span_indices(100, T, np.random.default_rng(0)))` is `True`, and with seed 1 it differs.
# 3. Write an empty file `empty.mp4` and call `video.probe_video` on it.
#    *Check:* it raises `video.VideoEmptyError` and `error.path.name == "empty.mp4"`.
# 4. Interrupt the cache: delete the cache folder, start `cache_clips` and interrupt the kernel halfway,
#    then run it again. *Check:* every `cache.load_cached(p)` succeeds, and the second run's progress bar
#    counts only the clips that were missing.
#
# **Next:** [03_optical_flow](03_optical_flow.ipynb) computes dense optical flow between consecutive
# frames, the input of the temporal stream; [04_cnn3d_scratch](04_cnn3d_scratch.ipynb) trains a 3D CNN
# on the clips cached here (`cache.cache_clips` with the same `T` and size finds them ready).
