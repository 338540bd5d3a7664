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
# # 03 · Optical flow: seeing motion, and caching it for the temporal stream
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/03_optical_flow.ipynb)
#
# Some actions cannot be recognised from a single frame. *Sit down* and *stand up* show the same
# poses, in opposite order; a hand *waving* and a hand simply *raised* look the same in any one frame.
# What separates them is **motion**, and the classic way to make motion explicit is **dense optical
# flow**: for every pixel of frame `t`, the displacement `(dx, dy)` that brings it to frame `t+1`.
# The two-stream networks (Simonyan & Zisserman 2014) feed stacks of flow fields to a *temporal
# stream* CNN, and on HMDB51 that stream alone beats the RGB stream (54.6 % against 40.5 %).
#
# In this notebook you will:
#
# 1. compute and **draw** flow (colour code, arrows, speed) between two frames;
# 2. understand **Farneback's parameters** one by one, and measure what the pyramid buys;
# 3. compare Farneback with **TV-L1** on a motion whose true flow is known: accuracy and time;
# 4. store flow as **uint8** the way TSN/MMAction2 do (bound 20 px), and measure the error;
# 5. build the **flow cache** of the whole dataset, in parallel and resumable, and time it;
# 6. see the motion-only pairs separate in flow, and **measure** it with a linear probe: pooled flow
#    features against single-frame features.
#
# Flow conventions used everywhere: channel 0 is `dx` (positive: to the right), channel 1 is `dy`
# (positive: **down**, as image rows grow downwards), in pixels per frame.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
workers = 2  # processes that build the flow cache
flow_size = None  # side of the cached flow fields in pixels; None: the profile's image size
bench_clips = 12  # clips timed for the extraction speed

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

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from course_utils import cache, catalog, config, datasets, features, flow, plots, runs, synthetic, video

cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed)
manifest = catalog.prepare_dataset(cfg)
SIZE = int(flow_size or cfg.image_size)
DEMO = 128  # frames are shown and analysed at this size in sections 1-4
tvl1_note = "available" if flow.tvl1_available() else "not available (install opencv-contrib-python-headless)"
display(Markdown(f"Dataset **{cfg.dataset_name}**: {len(manifest)} clips of {manifest['label'].nunique()} classes. "
                 f"The cache of this profile (`{cfg.profile}`) holds flow at **{SIZE}x{SIZE}** pixels. "
                 f"TV-L1 is **{tvl1_note}**."))

# %% [markdown]
# ## 1. Flow between two frames
#
# Optical flow rests on **brightness constancy**: a point keeps its brightness while it moves, so
# `I(x, y, t) = I(x + dx, y + dy, t + 1)`. One equation per pixel cannot fix two unknowns (the
# *aperture problem*: along a straight edge only the motion across it is visible), so every method
# adds an assumption about neighbouring pixels. Farneback assumes the displacement is the same over a
# small window; TV-L1 assumes the field is piecewise smooth.
#
# We take one clip with plenty of motion, compute Farneback flow between each pair of consecutive
# frames, and look at the pair where the most moves. Three ways to draw a flow field:
#
# - **colour code** (HSV): hue is the direction, brightness the speed; the **colour wheel** is the key
#   (a pixel moving right is coloured like the wheel's right edge);
# - **arrows** on a sparse grid: readable, but only for a few pixels;
# - **speed** `sqrt(dx^2 + dy^2)` alone: where things move, not which way.

# %%
preferred = [c for c in ("jumping_jack", "wave_two_hands", "wave_one_hand") if c in set(manifest["label"])]
demo = (manifest[manifest["label"] == preferred[0]] if preferred else manifest).iloc[0]
demo_path = datasets.video_paths(manifest.loc[[demo.name]])[0]
gray = flow.read_gray_video(demo_path, DEMO)
demo_flow = flow.compute_flow(gray)
t = int(np.argmax(features.motion_curve(demo_flow, points=len(demo_flow), what="speed")))
pair, field = (gray[t], gray[t + 1]), demo_flow[t]
panels = {f"frame {t}": pair[0], f"frame {t + 1}": pair[1], "flow (colour code)": flow.flow_to_rgb(field),
          "arrows (x2)": flow.draw_arrows(pair[0], field, step=8, scale=2.0), "speed (px/frame)": flow.magnitude(field),
          "colour wheel (key)": flow.color_wheel()}
fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.7))
for ax, (name, image) in zip(axes, panels.items()):
    shown = ax.imshow(image, cmap="magma" if name.startswith("speed") else "gray")  # RGB panels ignore cmap
    ax.set_title(name, fontsize=9)
    ax.axis("off")
    if name.startswith("speed"):
        fig.colorbar(shown, ax=ax, fraction=0.046)
fig.suptitle(f"{demo['label']}: {demo['path']}", fontsize=10)
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_pair")

# %%
speed = flow.magnitude(field)
display(Markdown(
    f"**What you should see:** the moving parts of the person are coloured, the still background is black. In "
    f"this pair the fastest pixels move {speed.max():.1f} px per frame and {np.mean(speed > 0.5):.0%} of the frame "
    f"moves faster than 0.5 px. Compare the colours with the wheel: the hue tells you which way each part moves."))

# %% [markdown]
# ## 2. Farneback, parameter by parameter
#
# Farneback (2003) approximates the neighbourhood of every pixel in both frames by a quadratic
# polynomial and reads the displacement off how the polynomial moved. The settings below are
# MMAction2's (its flow-extraction tool), the course's defaults (`flow.FARNEBACK_PARAMS`):
#
# | parameter | default | what it does |
# |---|---|---|
# | `pyr_scale` | 0.5 | size ratio between pyramid levels: 0.5 halves the image at each level |
# | `levels` | 3 | number of half-size pyramid levels below the full image; each doubles the largest motion that can be followed (OpenCV's documentation says "including the full image", but its code adds a level already for `levels=1`; 0 means no pyramid) |
# | `winsize` | 15 | side of the window over which the motion is assumed constant: larger is smoother and more robust, smaller is sharper and noisier |
# | `iterations` | 3 | refinements per pyramid level |
# | `poly_n` | 5 | side of the neighbourhood each polynomial fits (5 or 7); larger is smoother |
# | `poly_sigma` | 1.2 | Gaussian weighting of that fit: about 1.1-1.2 for `poly_n=5`, 1.5 for `poly_n=7` |
# | `flags` | 0 | `cv2.OPTFLOW_FARNEBACK_GAUSSIAN` weights the window with a Gaussian (more accurate, slower) |
#
# First, the effect of the window and of the pyramid on the pair above (same colour scale everywhere):

# %%
winsizes, level_counts = (5, 15, 31), (0, 1, 3)
fields = {(w, lv): flow.farneback(*pair, winsize=w, levels=lv) for w in winsizes for lv in level_counts}
top = max(float(np.percentile(flow.magnitude(f), 99.5)) for f in fields.values())  # robust to a few outliers
fig, axes = plt.subplots(len(level_counts), len(winsizes), figsize=(2.3 * len(winsizes), 2.3 * len(level_counts)))
for (w, lv), f in fields.items():
    ax = axes[level_counts.index(lv), winsizes.index(w)]
    ax.imshow(flow.flow_to_rgb(f, max_magnitude=top))
    ax.set_title(f"winsize={w}, levels={lv}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_farneback_params")

# %% [markdown]
# **What you should see:** small windows give speckled, noisy fields; large ones give smooth blobs that
# bleed over the edges of the moving limbs. More levels mostly matter for fast motion, which the
# next experiment isolates.
#
# **What the pyramid buys.** Real videos come without the true flow, so we *make* a second frame by
# moving a frame of the clip by a known amount (`flow.similarity_motion`) and measure the **endpoint
# error** (EPE): the distance between the estimated and the true displacement, here its median over
# the pixels (the typical pixel; flat regions, which carry no motion information, are the subject of
# section 3). One more fact matters on small frames: OpenCV never builds a pyramid level smaller than
# 32 px, whatever `levels` asks (`flow.pyramid_levels` tells how many it really builds).

# %%
texture_frame = gray[len(gray) // 2]
shifts = np.array([1, 2, 4, 6, 8, 10, 12, 16, 20, 24])


def shift_error(shift: float, levels: int) -> float:
    moved, truth = flow.similarity_motion(texture_frame, shift=(shift, 0.0))
    return flow.endpoint_error(flow.farneback(texture_frame, moved, levels=levels), truth, margin=20,
                               statistic="median")


epe = pd.DataFrame({f"levels={lv}": [shift_error(d, lv) for d in shifts] for lv in (0, 1, 2, 3)},
                   index=pd.Index(shifts, name="shift (px/frame)"))
fig, ax = plt.subplots(figsize=(5.5, 3.2))
epe.plot(ax=ax, style=["o-", "s--", "^-.", "v:"], markersize=5)  # equal curves stay visible
ax.set_ylabel("median endpoint error (px)")
ax.set_title("Farneback on a known horizontal shift", fontsize=10)
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_pyramid_epe")
reach = {c: float(shifts[(epe[c] < 1.0).cummin()].max(initial=0)) for c in epe}  # every smaller shift too
used = {s: flow.pyramid_levels(s, s) for s in (SIZE, DEMO, 224)}
display(Markdown(
    "**What you should see:** each level extends the reach. The largest shift followed with a median error below "
    "1 px (and every smaller one): " + ", ".join(f"{c}: {v:g} px" for c, v in reach.items()) + ". Beyond its reach "
    "the estimate collapses. With the default `levels=3`, OpenCV really builds " + ", ".join(
        f"{n} level(s) at {s}x{s}" for s, n in used.items()) + ": at the cache's size the extra levels are ignored."))

# %% [markdown]
# ## 3. Farneback against TV-L1
#
# **TV-L1** (Zach, Pock & Bischof 2007) minimises the brightness-constancy error in the L1 norm
# (robust to occlusions and outliers) plus the *total variation* of the field (smooth regions,
# sharp motion boundaries). It is the flow of TSN and I3D (the first two-stream network used Brox's
# method), usually computed on a GPU. In OpenCV it lives in the contrib module `cv2.optflow`; `flow.tvl1_available()` tells you
# whether your OpenCV has it. We compare both on known motions of the same frame, and time them on
# one core.

# %%
motions = {"shift (2, 1)": dict(shift=(2.0, 1.0)), "shift (6, -4)": dict(shift=(6.0, -4.0)),
           "rotate 3°, zoom 3%": dict(rotate_deg=3.0, zoom=1.03), "rotate 8°": dict(rotate_deg=8.0)}
methods = ["farneback"] + (["tvl1"] if flow.tvl1_available() else [])
known = {name: flow.similarity_motion(texture_frame, **motion) for name, motion in motions.items()}
estimates = {(m, name): flow.compute_flow(np.stack([texture_frame, moved]), method=m)[0]
             for m in methods for name, (moved, _) in known.items()}
comparison = pd.DataFrame({m: [flow.endpoint_error(estimates[m, name], truth, margin=12)
                               for name, (_, truth) in known.items()] for m in methods}, index=list(motions))
speed_table = {m: flow.time_flow([gray], method=m, max_fields=30 if m == "farneback" else 3)["fields_per_s"]
               for m in methods}
display(comparison.round(3).rename_axis(f"EPE (px) at {DEMO}x{DEMO}"))
display(pd.Series(speed_table, name="fields per second, one core").round(1).to_frame())

# %%
name = "rotate 3°, zoom 3%"
truth = known[name][1]
panels = {"true flow": truth, **{m: estimates[m, name] for m in methods}}
fig, axes = plt.subplots(2, len(panels), figsize=(2.6 * len(panels), 5.2), squeeze=False)
for col, (label, f) in enumerate(panels.items()):
    axes[0, col].imshow(flow.flow_to_rgb(f, max_magnitude=float(flow.magnitude(truth).max())))
    axes[0, col].set_title(label, fontsize=9)
    if col:  # the error of the true flow is zero: nothing to draw
        axes[1, col].imshow(flow.magnitude(f - truth), cmap="magma", vmin=0, vmax=2)
        axes[1, col].set_title(f"{label}: error (black 0, white >= 2 px)", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_farneback_vs_tvl1")

# %%
if "tvl1" in methods:
    ratio = speed_table["farneback"] / speed_table["tvl1"]
    gain = (comparison.loc[list(motions), "farneback"] / comparison.loc[list(motions), "tvl1"]).median()
    verdict = (f"TV-L1's error is {gain:.1f}x smaller (median over the motions) but it is {ratio:.0f}x slower "
               f"({speed_table['tvl1']:.1f} against {speed_table['farneback']:.0f} fields per second on one core).")
else:
    verdict = "TV-L1 is not available in this OpenCV, so only Farneback was measured."
display(Markdown(f"**What you should see:** {verdict} Farneback's errors concentrate in flat, untextured regions "
                 "(the aperture problem: a window with no texture carries no motion information), where TV-L1's "
                 "smoothness term fills in. On a CPU the course uses Farneback for the whole dataset."))

# %% [markdown]
# ## 4. Storing flow as uint8 (bound 20)
#
# A float32 field costs 8 bytes per pixel. TSN and MMAction2 clip every component to `[-20, 20]`
# pixels and map it linearly to `0..255`, one byte per component: four times smaller, and the same
# format as their JPEG flow frames. The 256 codes cut 40 px into 255 steps of 40/255 = 0.157 px, and
# rounding to the nearest code moves a value by at most half a step: **the round-trip error is at
# most 20/255 = 0.078 px** (`flow.quantization_error_bound()`) for flow inside the bound; beyond
# it, the excess is clipped away (fast motion at a small frame size rarely gets there).

# %%
codes = flow.quantize(demo_flow)
error = np.abs(flow.dequantize(codes) - demo_flow)
inside = np.abs(demo_flow) <= flow.BOUND
still = np.abs(demo_flow) < 0.01
fig, ax = plt.subplots(figsize=(5.5, 3.0))
ax.hist([error[inside & ~still], error[still]], bins=40, stacked=True, color=["tab:blue", "tab:gray"],
        label=["moving (|component| >= 0.01 px)", "still (|component| < 0.01 px)"])
ax.axvline(flow.quantization_error_bound(), color="tab:red", linestyle="--", label="bound / 255")
ax.set_yscale("log")
ax.set_xlabel("|dequantised - original| (px)")
ax.set_ylabel("flow components")
ax.legend(fontsize=7)
fig.tight_layout()
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_quantisation")
display(Markdown(
    f"**What you should see:** no error beyond the bound: the largest measured is {error[inside].max():.4f} px against "
    f"the theoretical {flow.quantization_error_bound():.4f} px. Moving components spread from 0 to the bound (mean "
    f"{error[inside & ~still].mean():.4f} px). {still.mean():.0%} of the components are still background, and zero "
    f"lies exactly between codes 127 and 128: they all come back as +{flow.quantization_error_bound():.3f} px, the "
    f"tall gray bar (a constant offset that `features.foreground_flow` removes with the camera motion). "
    f"{np.mean(~inside):.3%} of the components lie beyond ±20 px. The clip's {len(demo_flow)} fields take "
    f"{demo_flow.nbytes / 1e3:.0f} kB as float32, {codes.nbytes / 1e3:.0f} kB as uint8."))

# %% [markdown]
# ## 5. The flow cache
#
# Flow is expensive compared with decoding, and the temporal stream reads every clip once per epoch,
# so `cache.extract_flow_cache` computes it **once** for the whole dataset:
#
# - one uint8 `.npy` of shape `(T-1, H, W, 2)` per video, under
#   `<artifacts>/cache/<dataset>-<profile>/flow-farneback-<size>/<video path>-<checksum>.npy`
#   (`cache.cache_file`), next to a `flow_cache.json` recording the method, size and bound; a folder
#   never mixes settings, and a changed video never returns stale flow;
# - frames decoded at reduced cost (the decoder's gray plane, one decoder thread, fast 2x halvings);
# - a pool of `workers` processes, one OpenCV thread each, longest videos first, with a progress bar;
# - every file written **atomically** (temporary name, then rename): a killed run leaves only whole
#   files, and a rerun skips them; a broken video is reported by name with the reason.
#
# The same runs from a terminal: `python -m course_utils flow MANIFEST OUT --size N --workers N`.

# %%
cache_dir = cache.flow_cache_dir(cfg, SIZE)
start = time.perf_counter()
summary = cache.extract_flow_cache(manifest, cache_dir, size=SIZE, workers=workers)
build_seconds = watch.lap("flow_cache", start)
for failure in summary.failures:
    print(f"skipped {failure}")
start = time.perf_counter()
again = cache.extract_flow_cache(manifest, cache_dir, size=SIZE, workers=workers, progress=False)
rerun_seconds = watch.lap("flow_cache_rerun", start)
cached = [p for p in summary.paths if p is not None]
cache_mb = sum(p.stat().st_size for p in cached) / 1e6
display(pd.Series({"videos computed now": summary.done, "already complete": summary.skipped,
                   "failed": len(summary.failures), "fields computed now": summary.fields,
                   "fields per second (this build)": round(summary.fields_per_s, 1),
                   "cache MB": round(cache_mb, 1), "seconds (build or check)": round(build_seconds, 2),
                   "seconds (rerun)": round(rerun_seconds, 2), "skipped by the rerun": again.skipped},
                  name="value").to_frame())

# %% [markdown]
# **Extraction speed.** How fast is each step? On `bench_clips` clips we time the bare Farneback
# computation on one core (frames decoded beforehand), then the whole pipeline (decode, resize, flow,
# quantise, write) in one process, into a temporary folder so the numbers do not depend on the cache.

# %%
bench = manifest.sample(n=min(bench_clips, len(manifest)), random_state=cfg.seed)
bench.attrs = manifest.attrs
bare = flow.time_flow([flow.read_gray_video(p, SIZE) for p in datasets.video_paths(bench)])
with tempfile.TemporaryDirectory() as scratch:
    pipeline = cache.extract_flow_cache(bench, scratch, size=SIZE, workers=1, progress=False)
load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
extraction = {"bare_farneback_fields_per_s": round(bare["fields_per_s"], 1),
              "pipeline_1_process_fields_per_s": round(pipeline.fields_per_s, 1),
              "pipeline_share_of_bare": round(pipeline.fields_per_s / bare["fields_per_s"], 3)}
display(Markdown(
    f"At {SIZE}x{SIZE}, one core computes **{bare['fields_per_s']:.0f} Farneback fields per second**; the whole "
    f"pipeline delivers **{pipeline.fields_per_s:.0f}** ({extraction['pipeline_share_of_bare']:.0%} of that; the rest "
    f"goes to decoding, resizing, quantising and writing). The cache build above ran {workers} processes"
    + (f" at {summary.fields_per_s:.0f} fields per second" if summary.fields else " (it found the cache complete)")
    + f". Measured with a 1-minute load average of {load_avg:.2f} on {os.cpu_count()} cores."))

# %% [markdown]
# ## 6. Motion-only pairs, seen in flow
#
# Now the question of the introduction: does flow see what single frames cannot? For each clip we
# read its cached flow and summarise it (`features.foreground_flow` first removes the camera's shake,
# the median vector of each field, and the noise floor):
#
# - `features.motion_curves`: over the clip's normalised time, the mean speed (how much moves) and the
#   mean vertical motion of what moves (`dy`, positive: **downwards**); below, the speed of every
#   class (mean over its clips, with a band of ±1 standard deviation), then the motion-only pairs;
# - `features.flow_features`: a fixed-length descriptor for a linear probe: per quarter of the clip,
#   a histogram of motion directions (HOF), a 3x3 map of motion inside the box where the motion
#   happens, and the amount of motion; over the clip, the spectrum of the motion (waving oscillates).

# %%
rows = manifest.assign(cache=summary.paths).dropna(subset=["cache"])
features, per_clip_curves = [], []
for path in tqdm(rows["cache"], desc="flow features", unit="clip"):
    codes = cache.load_flow(path, dequantize_to_pixels=False)
    features.append(features.flow_features(codes))
    per_clip_curves.append(features.motion_curves(codes, points=24))
features = np.stack(features)
curves = {what: np.stack([c[what] for c in per_clip_curves]) for what in features.CURVES}
by_class = {label: curves["speed"][(rows["label"] == label).to_numpy()] for label in datasets.class_names(rows)}
fig = plots.per_class_curves(by_class, "time in the clip (0: start, 1: end)", "mean speed (px/frame)")
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_class_speed")

# %%
pairs = [p for p in synthetic.MOTION_PAIRS if set(p) <= set(rows["label"])]
if pairs:
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 3.2), squeeze=False)
    for ax, pair_names in zip(axes[0], pairs):
        what = "dy" if "sit_down" in pair_names else "speed"
        for color, label in zip(("tab:red", "tab:blue"), pair_names):
            values = curves[what][(rows["label"] == label).to_numpy()]
            x = np.linspace(0, 1, values.shape[1])
            mean, sem = values.mean(0), values.std(0) / np.sqrt(len(values))  # band: the mean's standard error
            ax.plot(x, mean, color=color, label=f"{label} ({len(values)} clips, ± s.e.)")
            ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.2)
        ax.axhline(0, color="gray", linewidth=0.6)
        ax.set_xlabel("time in the clip")
        ax.set_ylabel({"dy": "mean dy of what moves (+ is down)", "speed": "mean speed (px/frame)"}[what])
        ax.legend(fontsize=8)
    fig.tight_layout()
    figure_path = plots.save_figure(fig, cfg, "03_optical_flow_motion_pairs")
else:
    display(Markdown(f"This dataset has none of the motion-only pairs {list(synthetic.MOTION_PAIRS)}; the "
                     "per-class curves above still show how each class moves."))

# %%
def mean_of(what: str, label: str) -> float:
    return float(curves[what][(rows["label"] == label).to_numpy()].mean())


if pairs:
    notes = [f"`{label}` moves {'down' if mean_of('dy', label) > 0 else 'up'} on average "
             f"({mean_of('dy', label):+.3f} px/frame over the clip)" for label in pairs[0]]
    text = (f"**What you should see:** {notes[0]} and {notes[1]}: the order of the motion, which frames alone "
            "cannot show.")
    if len(pairs) > 1:
        a, b = pairs[1]
        text += (f" `{a}` moves {mean_of('speed', a) / max(mean_of('speed', b), 1e-9):.1f}x as much as `{b}` "
                 f"(mean speed {mean_of('speed', a):.3f} against {mean_of('speed', b):.3f} px/frame).")
    display(Markdown(text))

# %% [markdown]
# **Measured with a probe.** A standardised logistic regression (`features.run_probe`) is trained on
# the train split and scored on the test split twice: on the pooled flow features, and on features of
# the single middle frame (`features.appearance_features`: HOG and a colour thumbnail). `pairwise`
# is the accuracy of a binary probe on each motion-only pair (0.5 is chance).

# %%
frames_features = np.stack([features.appearance_features(video.read_video(p))
                            for p in tqdm(datasets.video_paths(rows), desc="frame features", unit="clip")])
train, test = (rows["split"] == "train").to_numpy(), (rows["split"] == "test").to_numpy()
labels, names = rows["label"].to_numpy(), datasets.class_names(rows)
probes = {name: features.run_probe(X[train], labels[train], X[test], labels[test], names, pairs=pairs, seed=cfg.seed)
          for name, X in {"flow_probe": features, "frame_probe": frames_features}.items()}
table = pd.DataFrame({name: {"test accuracy": r["test_accuracy"], "macro F1": r["macro_f1"],
                             **{f"pair {k}": v for k, v in r["pairwise"].items()}} for name, r in probes.items()})
display(table.round(3))
shown = table.drop(index="macro F1").rename(index=lambda k: "all classes" if k == "test accuracy"
                                            else k.removeprefix("pair ").replace("/", " vs\n"))
fig = plots.accuracy_bars(shown, chance=1 / len(names),
                          title=f"linear probes, {int(test.sum())} test clips")
if len(shown) > 1:  # a binary probe's chance is 50 %
    fig.axes[0].hlines(0.5, 0.6, len(shown) - 0.6, colors="gray", linestyles=":", label="chance (pairs)")
    fig.axes[0].legend(fontsize=8)
figure_path = plots.save_figure(fig, cfg, "03_optical_flow_probe")

# %%
flow_r, frame_r = probes["flow_probe"], probes["frame_probe"]
lines = [f"Over all {len(names)} classes (chance {1 / len(names):.0%}) the flow probe reaches "
         f"{flow_r['test_accuracy']:.0%} and the single-frame probe {frame_r['test_accuracy']:.0%}."]
for key in flow_r["pairwise"]:
    lines.append(f"On `{key}` the flow probe scores {flow_r['pairwise'][key]:.0%} against "
                 f"{frame_r['pairwise'][key]:.0%} for the frame probe (chance 50%).")
wins = sum(flow_r["pairwise"][k] > frame_r["pairwise"][k] for k in flow_r["pairwise"])
if flow_r["pairwise"]:
    lines.append(f"Flow beats the single frame on {wins} of {len(flow_r['pairwise'])} motion-only pairs.")
display(Markdown("**What you should see:** " + " ".join(lines) + " Single frames carry the scene and the pose, "
                 "which is enough for many classes" + (" (the synthetic scenes even correlate with the class)"
                                                       if cfg.is_synthetic else "")
                 + ", but not for classes that differ only in the order or the amount of motion."))

# %% [markdown]
# ## Results

# %%
metrics = {name: {"test_accuracy": r["test_accuracy"], "macro_f1": r["macro_f1"],
                  **{f"{k.replace('/', '_vs_')}_accuracy": v for k, v in r["pairwise"].items()}}
           for name, r in probes.items()}
results_path = runs.save_results(
    cfg, "03_optical_flow", metrics=metrics, timings_s=watch.total(),
    extra={"flow_size": SIZE, "cache": {"folder": cache_dir.relative_to(cfg.artifacts_dir).as_posix(),
                                        "videos": len(cached), "failed": [str(f) for f in summary.failures],
                                        "mb": round(cache_mb, 2), "computed_now": summary.done,
                                        "build_fields_per_s": round(summary.fields_per_s, 1), "workers": workers},
           "extraction": {**extraction, "bench_clips": int(len(bench)), "load_average_1min": load_avg},
           "epe_px": comparison.round(4).to_dict(), "pyramid_epe_px": epe.round(4).to_dict(),
           "quantisation": {"max_error_px": float(error[inside].max()), "bound_px": flow.quantization_error_bound(),
                            "share_beyond_bound": float(np.mean(~inside))},
           "n_train": int(train.sum()), "n_test": int(test.sum()), "pairs": ["/".join(p) for p in pairs]})
display(Markdown(f"Results written to `{results_path.name}`."))

# %% [markdown]
# ## Summary
#
# - Dense optical flow gives every pixel a displacement; draw it as colour (hue = direction,
#   brightness = speed), arrows or speed.
# - Farneback's window trades noise for detail; its pyramid levels set how fast a motion it can follow.
# - TV-L1 is far more accurate on flat regions and motion boundaries, and tens of times slower on a CPU.
# - uint8 with bound 20 stores flow in a quarter of the space with at most 0.078 px error inside the bound.
# - The flow cache is computed once, in parallel, atomically and resumably; later notebooks read it.
# - Flow separates the motion-only pairs that single frames cannot.
#
# The `laptop` profile computes flow at 112 px on a larger synthetic dataset with longer clips: about
# three times the cost per field of the 64 px `ci` fields, and finer motion detail for the temporal stream.
#
# ## Exercises
#
# 1. Compute the demo clip's flow with `flow.compute_flow(gray, winsize=31)` and compare how much its
#    speed varies over the frame with the default window's. *Check:*
#    `flow.magnitude(flow.compute_flow(gray, winsize=31)).std() < flow.magnitude(demo_flow).std()`
#    (a larger window smooths the field).
# 2. Quantise with a bound of 5 px instead of 20: `flow.quantize(demo_flow, bound=5)`.
#    *Check:* the largest round-trip error inside ±5 px is at most `flow.quantization_error_bound(5)`
#    (0.0196 px), four times smaller, but more of the flow is clipped:
#    `np.mean(np.abs(demo_flow) > 5) > np.mean(np.abs(demo_flow) > 20)`.
# 3. Interrupt the cache: delete `cache_dir`, start `cache.extract_flow_cache(manifest, cache_dir, size=SIZE)`
#    and interrupt the kernel halfway, then run it again. *Check:* the second summary's `skipped` is the
#    number of files the first run completed, and every `cache.load_flow(p)` succeeds.
# 4. Reverse the demo clip, as `stand_up` reverses `sit_down`: `backwards = flow.compute_flow(gray[::-1])`.
#    *Check:* its vertical motion is the original's, negated and read backwards:
#    `np.corrcoef(features.motion_curve(demo_flow), -features.motion_curve(backwards)[::-1])[0, 1] > 0.9`.
#
# **Next:** [04_cnn3d_scratch](04_cnn3d_scratch.ipynb) learns motion end to end with 3D convolutions
# on the frame cache; [07_temporal_stream](07_temporal_stream.ipynb) trains a CNN on stacks of the flow
# cached here (`cache.flow_cache_dir(cfg, size)` and `cache.load_flow`).
