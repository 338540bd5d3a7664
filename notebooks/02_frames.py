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
# change what a model can learn and how fast it trains, and a cache that makes them a one-time cost.
#
# **You will learn to**
#
# 1. **decode** honestly: what is really in a file (how many frames, at what rate), and what to do
#    when the file is broken;
# 2. **sample** `T` frames from clips of any length: uniform, random span, segments (TSN) and
#    sliding windows, and what each one shows the model;
# 3. **resize and crop** frames of any shape (square, 4:3, 16:9) to `H x W` without distorting them;
# 4. build a **frame cache** (every clip decoded, sampled and resized once, stored as a NumPy array),
#    watch it being built and then reused, and measure what it saves on your machine.
#
# **Prerequisites:** [01_eda](01_eda.ipynb) (the dataset and its spread of durations, frame rates
# and sizes). **Time:** about 20 s to run in the `ci` profile on two CPU cores (measured: 19 s),
# 30-45 minutes to read and do the exercises.

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
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import cache, catalog, config, datasets, plots, runs, video

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own console messages; errors come typed below
cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)
manifest = catalog.prepare_dataset(cfg)
videos = pd.Series(datasets.video_paths(manifest), index=manifest.index)
T, SIZE = cfg.clip_frames, cfg.image_size
display(Markdown(f"Dataset **{cfg.dataset_name}**: {len(manifest)} clips of {manifest['frames'].min()} to "
                 f"{manifest['frames'].max()} frames; this profile (`{cfg.profile}`) feeds models "
                 f"**{T} frames of {SIZE}x{SIZE} pixels** per clip."))

# %% [markdown]
# ## 1. What is in a video file?
#
# A video file is a **container** (AVI, MP4, MKV) that holds one or more **streams**. The video
# stream is a sequence of frames compressed by a **codec** (Motion JPEG, MPEG-4 part 2, H.264,
# VP9). Motion JPEG stores every frame on its own; the others store most frames as *differences*
# from earlier ones, and only **keyframes** (I-frames, one per *group of pictures*) stand alone. Two
# consequences:
#
# - decoding is **sequential**: frame 100 needs the keyframe before it and every frame in between,
#   so "seek to frame 100" is never free. This course reads frames in order and stops early.
# - the container's **header** stores a frame count and a frame rate, but they are claims: some
#   containers only store an estimate (duration x rate), a file cut short by a failed download
#   still carries the original count, and a variable-frame-rate phone video has no single rate.
#   `video.probe_video` therefore **decodes** every frame and measures the rate from the
#   frames' timestamps, then reports both.
#
# The table probes one clip of each frame rate in the dataset (up to six).

# %%
sample = manifest.drop_duplicates("fps").sort_values("fps").head(6)
probes = [video.probe_video(videos[i]) for i in sample.index]
probe_table = pd.DataFrame({
    "file": [Path(p).name for p in sample["path"]], "container": [i.container for i in probes],
    "codec": [i.codec for i in probes], "header frames": [i.header_frames for i in probes],
    "decoded frames": [i.frames for i in probes], "header fps": [round(i.header_fps, 3) for i in probes],
    "measured fps": [round(i.fps, 3) for i in probes], "variable fps": [i.variable_fps for i in probes],
    "size": [f"{i.width}x{i.height}" for i in probes], "seconds": [round(i.duration_s, 2) for i in probes],
    "kB": [round(videos[i].stat().st_size / 1e3, 1) for i in sample.index]})
display(probe_table)
agree = int((probe_table["header frames"] == probe_table["decoded frames"]).sum())
same_rate = int((abs(probe_table["header fps"] - probe_table["measured fps"]) < 0.01).sum())
display(Markdown(f"**What you should see:** in {agree} of {len(probes)} clips the header's frame count "
                 f"agrees with the decoded count, and in {same_rate} of {len(probes)} the measured rate "
                 "matches the header's (well-made, constant-rate files). An odd rate such as 29.97 "
                 "(30000/1001, the NTSC television rate) is a real rate, not a rounding error."))

# %% [markdown]
# ### Broken files fail loudly, with the file name
#
# Large real datasets often contain a few broken files. A pipeline that crashes with
# `cv2.error` deep inside a training loop, or worse, silently returns black frames, costs hours.
# Every decoding function here raises a **typed error** (`VideoMissingError`, `VideoEmptyError`,
# `NotAVideoError`, `VideoTruncatedError`, `VideoTooShortError`) that names the file and the problem.
# Watch it on a copy of the clip with the most frames, cut in half as an interrupted download leaves it:

# %%
demo = manifest.loc[manifest["frames"].idxmax()]  # the clip with the most frames shows sampling best
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
with pd.option_context("display.max_colwidth", 200):
    display(pd.Series(outcome, name="result").to_frame())

# %% [markdown]
# **What you should see:** the probe of the half file reports a truncation (or, for an MP4 whose
# index sits at the end, a file that cannot be opened), naming it. Reading the first three frames
# of the same file may still work: decoding stops at the last frame it needs, so damage after that
# point is never reached. Asking for a frame past the end names both lengths.

# %% [markdown]
# ## 2. Sampling: which frames the model sees
#
# A model takes `T` frames; a clip has many more, and not the same number. The strategies used in
# the literature, each a function in `course_utils.video` that turns *a clip's own* frame count into
# frame indices (and each registered by name in `video.SAMPLERS`, so the cache and the input
# pipeline can ask for it by name with `video.sample_indices`):
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
#
# The diagram samples the clip with the most frames:

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
axes[-1].set_xlabel(f"frame index in {Path(demo['path']).name} ({frames_demo} frames at {fps_demo:g} fps, "
                    f"{frames_demo / fps_demo:.1f} s)")
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
# ### The same `T`, very different clips
#
# Because every clip is sampled by its own length, a short and a long clip both fill the `T`
# slots, but the frames stand for very different stretches of time. The table puts the shortest
# and the longest clip (in seconds), and the lowest and the highest frame rate, side by side:

# %%
duration = manifest["frames"] / manifest["fps"]
extremes = {"shortest": duration.idxmin(), "longest": duration.idxmax(),
            "lowest fps": manifest["fps"].idxmin(), "highest fps": manifest["fps"].idxmax()}
rows = {}
for name, i in extremes.items():
    n, rate = int(manifest.at[i, "frames"]), float(manifest.at[i, "fps"])
    uniform = video.uniform_indices(n, T)
    rows[name] = {"clip": Path(manifest.at[i, "path"]).name, "frames": n, "fps": f"{rate:g}",
                  "seconds": f"{n / rate:.2f}", "uniform: frames between samples": f"{np.diff(uniform).mean():.2f}",
                  "uniform: ms between samples": f"{1e3 * np.diff(uniform).mean() / rate:.0f}",
                  f"random span of {T}: seconds seen": f"{min(T, n) / rate:.2f}"}
pd.DataFrame(rows).T

# %% [markdown]
# **What you should see:** uniform sampling of a short clip takes nearly every frame (or repeats
# some, when the clip has fewer than `T`), of a long clip only every few frames: the model sees
# the whole action in both, at different temporal resolutions. A random span of `T` consecutive
# frames lasts `T / fps` seconds: at a low frame rate it sees more than twice as long a stretch of
# the action as at a high one. Datasets with mixed rates are often resampled to one rate first, or
# sampled by time instead of by frame index.
#
# What the model receives from each strategy (eight of the sampled frames of that clip, with their
# index in the clip):

# %%
shown = {"uniform": strategies[f"uniform (T={T})"][0], "random span": strategies[f"random span (T={T}), 3 draws"][0],
         f"TSN test (K={num_segments})": strategies[f"TSN test (K={num_segments})"][0]}
small = video.load_clip(videos[demo.name], None, size=SIZE)  # every frame, already at model size
fig, axes = plt.subplots(len(shown), 8, figsize=(8.4, 1.2 * len(shown)), squeeze=False)
for row, (name, indices) in zip(axes, shown.items()):
    for ax, index in zip(row, indices[np.linspace(0, len(indices) - 1, 8).round().astype(int)]):
        ax.imshow(small[index], interpolation="nearest")
        ax.set_title(f"frame {index}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, fontsize=8)
fig.tight_layout(pad=0.3)
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
#   squashed, and people look thinner than they are.
# - **shorter side + centre crop** (`resize_shorter_side`, `center_crop`, together `fit_frames`):
#   keeps the proportions and drops the borders. The frame cache uses it; actions happen near the
#   centre in most datasets.
# - **random crop** (`random_crop`): training augmentation. Resize a little larger, then cut a
#   random window: **the same window for every frame of a clip**. A window that moved from frame to
#   frame would add camera motion that is not in the video, and motion is what the model must learn.
#
# Shrinking uses OpenCV's area filter, which averages pixels instead of skipping them (no aliasing).
# The demonstration uses the widest frame of the dataset, where the three differ most:

# %%
wide = manifest.loc[(manifest["width"] / manifest["height"]).idxmax()]
frame = video.load_clip(videos[wide.name], [int(wide["frames"]) // 2])[0]
larger = video.resize_shorter_side(frame, round(SIZE * 1.15))
panels = {"decoded": frame, "stretch": video.resize_clip(frame, SIZE),
          "shorter side": video.resize_shorter_side(frame, SIZE),
          "+ centre crop": video.fit_frames(frame, SIZE),
          "random crop 1": video.random_crop(larger, SIZE, rng), "random crop 2": video.random_crop(larger, SIZE, rng)}
fig, axes = plt.subplots(1, len(panels), figsize=(2.0 * len(panels), 2.2),
                         gridspec_kw={"width_ratios": [p.shape[1] / p.shape[0] for p in panels.values()]})
for ax, (name, image) in zip(axes, panels.items()):
    ax.imshow(image)
    ax.set_title(f"{name}\n{image.shape[1]}x{image.shape[0]}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "02_frames_resize_crop")
aspect = frame.shape[1] / frame.shape[0]
display(Markdown(
    f"Frame {int(wide['frames']) // 2} of `{Path(wide['path']).name}`, {frame.shape[1]}x{frame.shape[0]} pixels "
    f"(aspect {aspect:.2f}; sizes are width x height). Stretched, everything in it looks **{1 / aspect:.0%}** as wide "
    f"as it is; the centre crop keeps the proportions and drops **{1 - 1 / aspect:.0%}** of the width."
    + ("" if aspect > 1.01 else " This dataset has only square frames: the three modes coincide here.")))

# %% [markdown]
# **What you should see:** the stretched frame squeezes the person horizontally; the shorter-side
# resize keeps the proportions, and the centre crop then cuts off the left and right borders (the
# person stays whole when they stand near the centre); the two random crops are shifted windows of
# a slightly larger frame. On a square frame all three would be the same.
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
# - built by a pool of worker processes; a broken video is reported by name with the reason and
#   skipped, and the others complete.
#
# To see both sides, the cell below builds the cache into a **fresh, empty folder** (cold: every
# clip is decoded), then calls the same function again on that folder (warm: every file is found
# complete and nothing is decoded).

# %%
demo_cache = cfg.artifacts_dir / "scratch" / "02_frames_cold_cache"
shutil.rmtree(demo_cache, ignore_errors=True)
start = time.perf_counter()
cold_paths, failures = cache.cache_clips(manifest, demo_cache, T, SIZE, workers=2, progress=False)
cold_seconds = watch.lap("cache_cold", start)
cached = [p for p in cold_paths if p is not None]
before = {p: p.stat().st_mtime_ns for p in cached}
start = time.perf_counter()
cache.cache_clips(manifest, demo_cache, T, SIZE, workers=2, progress=False)
warm_seconds = watch.lap("cache_warm", start)
rewritten = sum(p.stat().st_mtime_ns != before[p] for p in cached)
for failure in failures:
    print(f"skipped {failure}")
cache_mb = sum(p.stat().st_size for p in cached) / 1e6
source_mb = sum(videos[i].stat().st_size for i, p in zip(manifest.index, cold_paths) if p is not None) / 1e6
pd.Series({"clips cached": f"{len(cached)}", "clips failed": f"{len(failures)}",
           "array per clip": f"{cache.load_cached(cached[0], mmap=True).shape} uint8",
           "cold build (empty folder)": f"{cold_seconds:.2f} s", "warm rerun (all complete)": f"{warm_seconds:.2f} s",
           "files rewritten by the rerun": f"{rewritten} of {len(cached)}",
           "cache size": f"{cache_mb:.1f} MB ({1e3 * cache_mb / len(cached):.0f} kB per clip)",
           "source videos": f"{source_mb:.1f} MB"}, name="value").to_frame()

# %%
laptop_size = config.resolve_config("laptop").image_size
display(Markdown(
    f"**What you should see:** the cold build decoded {len(cached)} clips in {cold_seconds:.1f} s; the warm "
    f"rerun took {warm_seconds:.2f} s ({cold_seconds / max(warm_seconds, 1e-3):.0f}x less) and rewrote "
    f"{rewritten} files: it only read each file's header. Each clip takes {1e3 * cache_mb / len(cached):.0f} kB "
    f"on disk, {cache_mb / max(source_mb, 1e-9):.1f}x the compressed source videos. Uncompressed arrays grow "
    f"with T x H x W: at the `laptop` profile's {laptop_size} px the same clips would take "
    f"{(laptop_size / SIZE) ** 2:.1f}x as much."))

# %% [markdown]
# The later notebooks read the cache of the run's own folder (`cfg.cache_dir`) with
# `cache.load_cached(path)` (or `mmap=True` to map it without reading). The demonstration folder
# is removed, and the shared cache is built (or, when an earlier run built it, checked):

# %%
shutil.rmtree(demo_cache, ignore_errors=True)
start = time.perf_counter()
cache_paths, failures = cache.cache_clips(manifest, cfg.cache_dir, T, SIZE, workers=2, progress=False)
shared_seconds = watch.lap("cache_shared", start)
ready = manifest.assign(cache=cache_paths).dropna(subset=["cache"])  # the clips that are cached
cache_folder = Path(cache_paths[0]).parent.relative_to(cfg.artifacts_dir).parts[:3] if len(ready) else ()
display(Markdown(f"{len(ready)} clips ready in `{'/'.join(cache_folder)}/` ({shared_seconds:.2f} s)."))

# %% [markdown]
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
ms_per_clip = {name: 1e3 * row["seconds"] / row["clips"] for name, row in throughput.items()}
pd.DataFrame({name: {"clips timed": f"{row['clips']:,}", "frames": f"{row['frames']:,}",
                     "frames per second": f"{row['frames_per_s']:,.0f}", "ms per clip": f"{ms_per_clip[name]:.3g}"}
              for name, row in throughput.items()}).T

# %%
speedup = ms_per_clip["sampled_decode"] / ms_per_clip["cache_load"]
display(Markdown(
    f"Measured with a 1-minute load average of {load_avg:.2f} on {os.cpu_count()} cores. **What you should "
    f"see:** a cached clip loads {speedup:.0f}x faster than decoding its {T} frames from the video "
    f"({ms_per_clip['cache_load']:.3g} ms against {ms_per_clip['sampled_decode']:.3g} ms). "
    f"Decoding only the sampled frames takes {ms_per_clip['sampled_decode']:.3g} ms per clip, decoding "
    f"and resizing all of them {ms_per_clip['decode_resize']:.3g} ms. Uniform sampling reaches the last "
    "frame, so every frame is still decompressed, but the unused ones are never converted to RGB or resized; "
    "a sample that ends early (a random span) also stops the decoder early. These speeds vary from run to "
    "run and machine to machine: the results file keeps them apart from the metrics."))

# %% [markdown]
# ## Results
#
# `metrics` holds only what the seed determines (counts and checks, identical on every run with the
# same profile and seed); the measured speeds and times go to `extra` and `timings_s`.

# %%
metrics = {"dataset": {"clips": len(manifest), "probed_clips": len(probes), "header_frames_agree": agree},
           "sampling": {"demo_clip_frames": frames_demo,
                        "uniform_coverage": round(float(coverage[f"uniform (T={T})"]), 3),
                        "tsn_test_coverage": round(float(coverage[f"TSN test (K={num_segments})"]), 3),
                        "random_span_coverage": round(float(coverage[f"random span (T={T}), 3 draws"]), 3),
                        "sliding_windows": n_windows},
           "frame_cache": {"clips": len(cached), "failed": len(failures), "rewritten_on_rerun": rewritten,
                           "kb_per_clip": round(1e3 * cache_mb / max(len(cached), 1), 1)}}
results_path = runs.save_results(
    cfg, "02_frames", metrics=metrics, timings_s=watch.total(),
    extra={"clip_shape": [T, SIZE, SIZE, 3], "throughput": throughput, "ms_per_clip": ms_per_clip,
           "cache": {"mb": round(cache_mb, 3), "source_mb": round(source_mb, 3), "cold_s": cold_seconds,
                     "warm_s": warm_seconds, "failed": [str(f) for f in failures], "folder": "/".join(cache_folder)},
           "probe": probe_table.to_dict("records"), "bench_clips": int(len(bench)), "load_average_1min": load_avg})
display(Markdown(f"Results written to `{results_path.relative_to(cfg.artifacts_dir)}`."))

# %% [markdown]
# ## Summary
#
# - A file's header is a claim: count frames by decoding and measure the rate from timestamps;
#   broken files raise typed errors that name the file.
# - Sampling decides what the model can see, and every clip is sampled by its own length: uniform
#   and TSN cover the whole action, a random span sees fine motion in `T / fps` seconds of it,
#   sliding windows evaluate densely at a cost.
# - Resize the shorter side and centre-crop to keep proportions; random-crop the same window in
#   every frame for augmentation.
# - The frame cache turns decoding into a one-time cost: built cold once, then found complete; it
#   is atomic and resumable.
#
# The `laptop` profile runs the same code at a larger frame size on a larger synthetic dataset (more
# subjects, larger frames), so the cache and the decode times grow with it.
#
# ## Exercises
#
# Each exercise has a cell for your work and a check cell after it: run the check, and it tells
# you whether your answer holds. In the student version the work cell says `# YOUR CODE HERE`
# and the check fails until you solve it; the instructor's version carries a reference solution there.
# The exercises work on one clip per class (`few`) in their own folder, `exercise_dir`.
#
# **1. A TSN cache.** Cache the clips of `few` with 8 segments (`sampling="segments"`) into
# `exercise_dir` and store the returned paths in `tsn_paths`.

# %%
exercise_dir = cfg.artifacts_dir / "exercises" / "02_frames"
shutil.rmtree(exercise_dir, ignore_errors=True)
few = manifest.groupby("label").head(1)
tsn_paths = []  # your code: cache.cache_clips(...) with 8 segments
### BEGIN SOLUTION
# solution
tsn_paths, _ = cache.cache_clips(few, exercise_dir, 8, SIZE, sampling="segments", progress=False)
### END SOLUTION

# %%
assert len(tsn_paths) == len(few) and all(p is not None for p in tsn_paths), "cache every clip of `few`"
assert cache.load_cached(tsn_paths[0]).shape == (8, SIZE, SIZE, 3), "8 segments give 8 frames per clip"
tsn_folder = Path(tsn_paths[0]).relative_to(exercise_dir).parts[0]
assert "segments" in tsn_folder and tsn_folder != cache_folder[-1], \
    "another sampling must live in another folder, so it never serves the uniform clips"
print(f"exercise 1: correct: {len(tsn_paths)} clips in {tsn_folder}/, the uniform ones in {cache_folder[-1]}/")

# %% [markdown]
# **2. Repeatable randomness.** Write `draw(seed)`: a random span of `T` frames of a 100-frame clip,
# drawn with `np.random.default_rng(seed)`.

# %%
def draw(seed):
    indices = None  # your code: video.random_span_indices(...) with a generator seeded by `seed`
    ### BEGIN SOLUTION
    # solution
    indices = video.random_span_indices(100, T, np.random.default_rng(seed))
    ### END SOLUTION
    return indices

# %%
assert isinstance(draw(0), np.ndarray) and len(draw(0)) == T, f"draw(seed) should return {T} frame indices"
assert np.array_equal(draw(0), draw(0)), "the same seed must give the same span"
assert not np.array_equal(draw(0), draw(1)), "another seed should give another span"
assert np.all(np.diff(draw(0)) == 1), "a span is consecutive frames"
print(f"exercise 2: correct: seed 0 starts at frame {draw(0)[0]}, seed 1 at frame {draw(1)[0]}")

# %% [markdown]
# **3. An empty file.** Write an empty file `empty.mp4` into `exercise_dir`, call `video.probe_video`
# on it and keep the error it raises in `caught`.

# %%
caught = None  # your code: the exception raised by probe_video
### BEGIN SOLUTION
# solution
empty = exercise_dir / "empty.mp4"
empty.write_bytes(b"")
try:
    video.probe_video(empty)
except video.VideoError as error:
    caught = error
### END SOLUTION

# %%
assert isinstance(caught, video.VideoEmptyError), f"expected a VideoEmptyError, got {type(caught).__name__}"
assert caught.path.name == "empty.mp4", "the error should name the file"
print(f"exercise 3: correct: {type(caught).__name__}: {caught.path.name}: {caught.problem}")

# %% [markdown]
# **4. An interrupted cache.** An interrupted build leaves some clips missing. Simulate it: build the
# uniform cache of `few` into `exercise_dir / "uniform"`, delete three of its files, build again,
# and store in `rebuilt` the set of files the second build wrote (compare modification times).

# %%
rebuilt = set()  # your code: the paths the second build wrote
### BEGIN SOLUTION
# solution
first, _ = cache.cache_clips(few, exercise_dir / "uniform", T, SIZE, progress=False)
stamps = {p: p.stat().st_mtime_ns for p in first}
for p in first[:3]:
    p.unlink()
time.sleep(0.01)  # a clock tick between the builds
second, _ = cache.cache_clips(few, exercise_dir / "uniform", T, SIZE, progress=False)
rebuilt = {p for p in second if p.stat().st_mtime_ns != stamps[p]}
### END SOLUTION

# %%
folder = exercise_dir / "uniform"
assert len(rebuilt) == 3, f"three files were missing, so the second build should write three; got {len(rebuilt)}"
files = sorted(folder.rglob("*.npy"))
assert len(files) == len(few) and all(cache.load_cached(p).shape[0] == T for p in files), "every clip is whole again"
print(f"exercise 4: correct: {len(rebuilt)} files rebuilt, {len(files) - len(rebuilt)} kept as they were")

# %% [markdown]
# ## References
#
# - L. Wang, Y. Xiong, Z. Wang, Y. Qiao, D. Lin, X. Tang, L. Van Gool. *Temporal segment networks:
#   towards good practices for deep action recognition.* ECCV 2016 (segment sampling).
# - D. Tran, L. Bourdev, R. Fergus, L. Torresani, M. Paluri. *Learning spatiotemporal features with
#   3D convolutional networks.* ICCV 2015; J. Carreira, A. Zisserman. *Quo vadis, action
#   recognition? A new model and the Kinetics dataset.* CVPR 2017 (training on random spans).
# - TensorFlow tutorials: *Load video data* (a `FrameGenerator` with tf.data) and *Video
#   classification with a 3D convolutional neural network* (tensorflow.org/tutorials).
# - I. E. Richardson. *The H.264 Advanced Video Compression Standard*, 2nd ed., Wiley 2010 (frame
#   types, groups of pictures); the FFmpeg documentation of its formats and codecs (ffmpeg.org).
#
# **Next:** [03_optical_flow](03_optical_flow.ipynb) computes dense optical flow between consecutive
# frames, the input of the temporal stream; [04_cnn3d_scratch](04_cnn3d_scratch.ipynb) trains a 3D CNN
# on the clips cached here (`cache.cache_clips` with the same `T` and size finds them ready in
# `cfg.cache_dir`).
