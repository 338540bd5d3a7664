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
# # 11 · Attention over time, multi-scale temporal aggregation, and a segmentation side task
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/11_attention_multiscale.ipynb)
#
# Notebook 05 read a clip's frame features with an LSTM. Here the same cached features go through
# **self-attention** (every frame looks at every other frame at once) and through **parallel
# temporal convolutions** at several time scales; then a small clip model learns a **second task**,
# the person's mask in every frame, next to the action.
#
# **You will learn to**
#
# 1. build a temporal Transformer head: position codes, `MultiHeadAttention`, attention pooling;
# 2. aggregate time at several scales (dilated `Conv1D` branches) and measure what each scale adds;
# 3. read the attention weights over time, and Grad-CAM over frames;
# 4. train a classifier with an auxiliary mask decoder (multi-task loss) and score its masks (IoU);
# 5. check that the attention head converts to LiteRT with builtin ops only.
#
# **Prerequisites:** notebook 05 (the cached MobileNetV2 features; run it first), notebook 04
# (pipeline, evaluation). **Time:** about 3 minutes to run in the `ci` profile on two CPU cores,
# 30 minutes to read and do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
image_size = None  # None: the profile's (config.VIDEO_MODEL_SETTINGS), as in notebook 05
batch_size = None
alpha = 0.35  # MobileNetV2's width multiplier: the same backbone as notebook 05
weights = None  # None: the profile's, as in notebook 05
head_epochs = 20  # epochs of every head on the cached features
head_batch = 64  # clips per step of every head
mask_epochs = 8  # epochs of each segmenting clip model
mask_weight = 5.0  # weight of the mask loss in the multi-task loss
mask_frames = 8  # frames per clip of the segmenting model
mask_side = 32  # its input side (its masks are half of it)
workers = 2

# %%
import importlib.util, subprocess, sys
if "google.colab" in sys.modules and (importlib.util.find_spec("course_utils") is None
                                      or importlib.util.find_spec("ai_edge_litert") is None):
    # Colab's TensorFlow, Keras, NumPy and OpenCV stay as they are: the course package with its "deploy"
    # extra (LiteRT, tf2onnx, ONNX Runtime: none of them replaces those), plus an OpenCV only where there is none
    extras = "deploy" if importlib.util.find_spec("cv2") else "deploy,opencv"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"course_utils[{extras}] @ git+https://github.com/action-recognition-course/action-recognition-course"], check=True)

# %%
import inspect
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import evaluation, export, models, pipeline, plots, pretraining, runs, training, video
from course_utils import temporal_attention as ta

setup = training.start_clip_notebook(profile, dataset, data_dir, artifacts_dir, seed, workers=workers,
                                     image_size=image_size, batch_size=batch_size)
cfg, watch, settings, table, NAMES = setup.cfg, setup.watch, setup.settings, setup.table, setup.class_names
if weights is None and cfg.weights is None:
    WEIGHTS, card = pretraining.pretrain_backbone(cfg, "mobilenet_v2", alpha=alpha, workers=workers)
else:
    WEIGHTS, card = weights or cfg.weights, {}
plain = {split: pipeline.make_dataset(table, split, cfg.clip_frames, cfg.image_size, cfg.batch_size, training=False)
         for split in ("train", "val", "test")}
FEATURES = cfg.cache_dir / "features" / cfg.dataset_root.name / f"{Path(str(WEIGHTS)).stem}-{cfg.clip_frames}x{cfg.image_size}"
frozen = None  # notebook 05 cached the features: the backbone is built only if they are missing
if not all((FEATURES / f"{split}.npy").is_file() for split in plain):
    frozen = models.build_model("mobilenet_lstm", setup.clip_shape, len(NAMES), alpha=alpha, weights=str(WEIGHTS),
                                train_backbone=False)
features = {split: training.clip_features(frozen, d, FEATURES / f"{split}.npy") for split, d in plain.items()}
arrays = {split: evaluation.Arrays(features[split], plain[split].labels, NAMES) for split in plain}
display(Markdown(f"**{len(table)}** videos, **{len(NAMES)}** classes; the frozen MobileNetV2 features of notebook 05: "
                 f"`{features['train'].shape}` for training (clips x frames x features)."))

# %% [markdown]
# ## 1. A temporal Transformer head
#
# Self-attention treats the 16 frame features as a *set*: each frame's new feature is a weighted
# mix of all frames, the weights from how well their keys match its query. A set has no order,
# so the position of every frame is added first (the sinusoidal code of *Attention is all you
# need*, or one learnt vector per frame). **Attention pooling** then replaces the average over
# time: a small layer scores every frame, a softmax turns the scores into weights that sum to
# one, and the clip's feature is the weighted mean. The whole head:

# %%
print(inspect.getsource(ta.attention_head))

# %%
code = ta.sinusoidal_positions(cfg.clip_frames, 64)
fig, ax = plt.subplots(figsize=(6, 2.4))
fig.colorbar(ax.imshow(code.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1), ax=ax)
ax.set(xlabel="frame", ylabel="feature", title="sinusoidal position code: fast waves in the first features, slow in the last")
plots.save_figure(fig, cfg, "11_positions");

# %% [markdown]
# Every head below trains on the same features, from the same seed, for the same `head_epochs`
# epochs of `head_batch` clips per step: the three heads of notebook 05 (LSTM, BiLSTM, average), the attention head with each
# kind of position code, and the **hybrid**: multi-scale temporal convolutions (section 2), then
# attention.

# %%
def train_head(model, epochs=head_epochs):
    run = training.fit_arrays(model, (features["train"], arrays["train"].labels),
                              (features["val"], arrays["val"].labels), epochs=epochs, batch_size=head_batch, seed=cfg.seed)
    return model, sum(run.epoch_seconds)


SHAPE = features["train"].shape[1:]
BUILDERS = {
    "lstm": lambda: models.build_model("sequence_head", SHAPE, len(NAMES), head="lstm"),
    "bilstm": lambda: models.build_model("sequence_head", SHAPE, len(NAMES), head="bilstm"),
    "average": lambda: models.build_model("sequence_head", SHAPE, len(NAMES), head="average"),
    "attention": lambda: ta.attention_head(SHAPE, len(NAMES)),
    "attention_learned": lambda: ta.attention_head(SHAPE, len(NAMES), positions="learned"),
    "multiscale_attention": lambda: ta.attention_head(SHAPE, len(NAMES), scales=ta.SCALES),
}
heads, scores, seconds = {}, {}, {}
for name, build in BUILDERS.items():
    training.configure(cfg)
    heads[name], seconds[name] = train_head(build())
    scores[name] = evaluation.evaluate(heads[name], arrays["test"])

# %%
PAIRS = evaluation.motion_pairs(NAMES)


def summary_row(m):
    return {"test accuracy": m["test_accuracy"], "low": m["test_accuracy_low"], "high": m["test_accuracy_high"],
            **{f"{a} / {b}": m[f"{a}_vs_{b}_accuracy"] for a, b in PAIRS},
            "shuffled": m.get("shuffled_accuracy"), "reversed": m.get("reversed_accuracy"), "params": m["params"]}


heads_table = pd.DataFrame({name: summary_row(s.metrics) for name, s in scores.items()}).T
fig = plots.accuracy_bars(heads_table[["test accuracy"] + [f"{a} / {b}" for a, b in PAIRS]].T, chance=0.5,
                          title="heads on the same frozen features: test accuracy and motion pairs")
plots.save_figure(fig, cfg, "11_heads")
heads_table.round(3)

# %%
best = heads_table["test accuracy"].idxmax()
hybrid, bilstm = scores["multiscale_attention"].metrics, scores["bilstm"].metrics
overlap = hybrid["test_accuracy_low"] <= bilstm["test_accuracy_high"] and bilstm["test_accuracy_low"] <= hybrid["test_accuracy_high"]
display(Markdown(
    f"The best head here is **{best}** ({heads_table.loc[best, 'test accuracy']:.3f}). The hybrid scored "
    f"{hybrid['test_accuracy']:.3f} [{hybrid['test_accuracy_low']:.2f}, {hybrid['test_accuracy_high']:.2f}] against the "
    f"BiLSTM's {bilstm['test_accuracy']:.3f} [{bilstm['test_accuracy_low']:.2f}, {bilstm['test_accuracy_high']:.2f}]: "
    + ("the intervals overlap, so on "
       f"{len(arrays['test'].labels)} test clips this run cannot rank them. " if overlap else "the intervals do not overlap. ")
    + f"Training took {', '.join(f'{n} {s:.0f} s' for n, s in seconds.items())} ({head_epochs} epochs each)."))

# %% [markdown]
# *What you should see:* heads that differ in kind (recurrent, order-blind, attention) ending
# close together, within each other's intervals. A head can only combine what the frame features
# hold: the course-made backbone of notebook 05 had a minute of pretraining on a pretext task, and
# with 448 training clips an attention head (more parameters than the average, fewer than the
# LSTMs) has little to learn its weights from. Section 4 tests this reading: a small model trained
# on the raw frames. Watch the motion pairs and the `reversed` column: a head that uses the order
# of frames can move there, the order-blind average cannot. With ImageNet weights (`full`
# profile) the features describe far more of the body.
#
# ## 2. Several time scales at once
#
# A kernel-3 `Conv1D` sees 3 neighbouring frames; dilated by 2 it sees frames 2 apart (5 in
# all), by 4 it spans 9 frames. Run in parallel and fused, the three branches give every frame a
# short, a middle and a long view of the motion around it (the idea of temporal pyramids and of
# TCN / Timeception-style multi-scale blocks). To see what each scale is worth, train the hybrid
# again **without** each branch, and also without any convolution.

# %%
print(inspect.getsource(ta.multiscale_block))

# %%
ablation_scores = {"all scales": scores["multiscale_attention"]}
for removed in ta.SCALES:
    training.configure(cfg)
    model, _ = train_head(ta.attention_head(SHAPE, len(NAMES), scales=tuple(d for d in ta.SCALES if d != removed)))
    ablation_scores[f"without dilation {removed}"] = evaluation.evaluate(model, arrays["test"], time_checks=False)
ablation_scores["no convolution"] = scores["attention"]
ablation_table = pd.DataFrame({name: {k: v for k, v in summary_row(s.metrics).items() if k not in ("shuffled", "reversed")}
                               for name, s in ablation_scores.items()}).T
fig = plots.accuracy_bars(ablation_table[["test accuracy"] + [f"{a} / {b}" for a, b in PAIRS]].T, chance=0.5,
                          title="multi-scale ablation: one branch removed at a time")
plots.save_figure(fig, cfg, "11_ablation")
ablation_table.round(3)

# %% [markdown]
# Which classes lose when a scale goes? Per class, the test accuracy of the full hybrid minus that
# of the hybrid without the shortest (dilation 1) or the longest (dilation 4) branch: a positive
# bar means the class needed that scale. With 8 test clips per class one clip moves a bar by 0.125.

# %%
full_acc = evaluation.per_class_accuracy(ablation_scores["all scales"].labels, ablation_scores["all scales"].probs, NAMES)
drops = pd.DataFrame({f"needs dilation {d}": full_acc - evaluation.per_class_accuracy(
    ablation_scores[f"without dilation {d}"].labels, ablation_scores[f"without dilation {d}"].probs, NAMES)
    for d in (ta.SCALES[0], ta.SCALES[-1])})
fig, ax = plt.subplots(figsize=(8, 3.2))
drops.plot.bar(ax=ax, width=0.8)
ax.axhline(0, color="black", linewidth=0.8)
ax.set(ylabel="accuracy lost", title="per class: accuracy lost without the short / the long branch")
fig.tight_layout()
plots.save_figure(fig, cfg, "11_scales_per_class")
short, long_ = drops.columns
periodic, brief = [c for c in ("walk", "wave_one_hand", "wave_two_hands") if c in NAMES], \
    [c for c in ("kick", "punch") if c in NAMES]
display(Markdown(
    f"Removing the long branch cost most on **{', '.join(drops[long_].nlargest(3).index)}**, removing the short one on "
    f"**{', '.join(drops[short].nlargest(3).index)}**. Accuracy lost on average (negative: gained): the periodic classes ({', '.join(periodic)}) "
    f"{drops.loc[periodic, long_].mean():+.3f} without the long branch and {drops.loc[periodic, short].mean():+.3f} "
    f"without the short one; the brief ones ({', '.join(brief)}) {drops.loc[brief, long_].mean():+.3f} and "
    f"{drops.loc[brief, short].mean():+.3f}. "
    + ("That is the expected pattern: periodic motion needs the long view, a brief strike the short one."
       if drops.loc[periodic, long_].mean() > drops.loc[periodic, short].mean()
       and drops.loc[brief, short].mean() > drops.loc[brief, long_].mean()
       else "That is **not** the textbook pattern (periodic classes need the long view, brief strikes the short "
            "one): on these features and this few test clips, the scale a class needs is not measurable.")))

# %% [markdown]
# ## 3. Where in time the head looks
#
# The attention-pooling weights of the hybrid for a *sit down* clip and its twin *stand up* (the
# same frames played backwards), and a few other test clips. Uniform weight is `1/T`.

# %%
test_videos = plain["test"].videos.reset_index(drop=True)
sit = test_videos.index[test_videos["label"] == "sit_down"][0]
stand = test_videos.index[test_videos["clip_id"] == test_videos.loc[sit, "twin"]][0]
others = [test_videos.index[test_videos["label"] == c][0] for c in ("wave_one_hand", "walk", "kick") if c in NAMES]
shown = [sit, stand, *others]
weights_over_time = ta.attention_weights(heads["multiscale_attention"], features["test"][shown])
predicted = heads["multiscale_attention"].predict(features["test"][shown], verbose=0).argmax(axis=1)
labels = [f"{test_videos.loc[i, 'label']} (predicted {NAMES[p]})" for i, p in zip(shown, predicted)]
fig = ta.weight_lines(dict(zip(labels, weights_over_time)), title="attention pooling weights of the hybrid head")
plots.save_figure(fig, cfg, "11_attention_weights");

# %%
peak = weights_over_time.argmax(axis=1)
common = int(np.bincount(peak).argmax())
near = int(np.sum(np.abs(peak - common) <= 1))
spread = weights_over_time.max(axis=1) * cfg.clip_frames
display(Markdown(
    f"The *sit down* clip's weight peaks at frame {peak[0]}, its reversed twin's at frame {peak[1]} "
    f"(reversed, that is frame {cfg.clip_frames - 1 - peak[1]} of the original). The largest weight is "
    f"{spread.min():.1f}x to {spread.max():.1f}x the uniform one among these clips: "
    + ("the head concentrates on a few frames" if spread.max() > 2 else "the head spreads its weight almost evenly, "
       "close to the average pooling it replaced")
    + f". The peaks, clip by clip: frames {', '.join(map(str, peak))}; "
    + (f"{near} of {len(peak)} lie within a frame of frame {common}, whatever the action and even for a clip and its "
       "reverse: the weights follow the position in the clip more than its content." if near >= len(peak) - 1 else
       "they move with the clip: the weights follow the content.")))

# %% [markdown]
# ## 4. An auxiliary task: segment the person
#
# Every synthetic clip comes with the person's mask in every frame. A clip model trained to
# predict it next to the action gets a dense training signal, *where is the body*, that the
# action label alone gives only indirectly; on little data such a side task can regularise the
# features (multi-task learning). The model: a small strided CNN per frame (time folded into the
# batch), a classifier over time, and a decoder with a skip connection to a mask at half the
# input's side. It reads `mask_frames` frames at `mask_side` px to keep the `ci` run short.

# %%
print(inspect.getsource(ta.segmenting_clip_model))

# %% [markdown]
# The target masks must be cut **exactly** like the frames: the frame cache fitted each video to
# its side, and the evaluation clip is the central square of it. `ta.clip_masks` runs the masks
# through the same steps (`video.fit_frames`, `pipeline.temporal_indices`, `pipeline.crop_box`).

# %%
PICKS = video.uniform_indices(cfg.clip_frames, mask_frames)
MASK = mask_side // 2
clips, masks = {}, {}
for split, data in plain.items():
    x, _ = pipeline.take_arrays(data)
    clips[split] = np.stack([video.resize_clip(c, mask_side) for c in x[:, PICKS].astype(np.uint8)])
    masks[split] = ta.clip_masks(table, split, cfg.clip_frames, cfg.image_size, MASK)[:, PICKS]
fig = ta.frames_with_rows({"train clip": clips["train"][0]}, {"train clip": {"true mask": masks["train"][0]}},
                          count=mask_frames)
plots.save_figure(fig, cfg, "11_mask_alignment")
display(Markdown(f"Clips `{clips['train'].shape[1:]}`, masks `{masks['train'].shape[1:]}`; the person covers "
                 f"{masks['train'].mean():.1%} of the mask pixels. The overlay above shows the mask on the body."))

# %% [markdown]
# Two models from the same seed: one trained on `crossentropy(action) + mask_weight * mask loss`,
# one with the mask loss switched off (`mask_weight = 0`: the decoder is there but never learns).
# The mask loss is binary cross-entropy plus the **Dice** loss (one minus the soft overlap): the
# person covers less than a tenth of the pixels, and with cross-entropy alone "nobody anywhere" is
# an easy answer. The threshold that turns probabilities into a mask is chosen on the validation
# split.

# %%
segmenters, fits = {}, {}
for name, weight in {"with mask loss": mask_weight, "without mask loss": 0.0}.items():
    training.configure(cfg)
    segmenters[name] = ta.segmenting_clip_model(clips["train"].shape[1:], len(NAMES))
    fits[name] = ta.fit_multitask(segmenters[name], (clips["train"], arrays["train"].labels, masks["train"]),
                                  (clips["val"], arrays["val"].labels, masks["val"]), epochs=mask_epochs,
                                  mask_weight=weight, seed=cfg.seed)
share = masks["train"].mean(axis=0)  # the baseline: the pixels most often person, as many as a person covers
prior = share > np.quantile(share, 1 - masks["train"].mean())

# %%
test_labels = arrays["test"].labels
groups = {"occluded": test_videos["occluder"] != "none", "distractor": test_videos["distractor"] != "none",
          "neither": (test_videos["occluder"] == "none") & (test_videos["distractor"] == "none")}
seg_rows, seg_metrics = {}, {}
for name, model in segmenters.items():
    threshold = ta.choose_threshold(model.predict(clips["val"], verbose=0)["mask"], masks["val"])
    out = model.predict(clips["test"], verbose=0)
    probs, predicted_masks = np.asarray(out["label"], np.float64), out["mask"] > threshold
    m = evaluation.score_probabilities(test_labels, probs, NAMES)
    m["mask_iou"], m["mask_threshold"] = ta.mask_iou(predicted_masks, masks["test"]), threshold
    m.update({f"{g}_accuracy": float(np.mean(probs.argmax(1)[mask.to_numpy()] == test_labels[mask.to_numpy()]))
              for g, mask in groups.items()})
    m["params"] = evaluation.count_params(model)
    seg_metrics[name], seg_rows[name] = m, predicted_masks
seg_table = pd.DataFrame({name: {"test accuracy": m["test_accuracy"], "low": m["test_accuracy_low"],
                                 "high": m["test_accuracy_high"], "mask IoU": m["mask_iou"],
                                 **{f"{g} ({int(mask.sum())} clips)": m[f"{g}_accuracy"] for g, mask in groups.items()}}
                          for name, m in seg_metrics.items()}).T
seg_table.loc["where people usually are (no model)", "mask IoU"] = ta.mask_iou(np.broadcast_to(prior, masks["test"].shape), masks["test"])
seg_table.round(3)

# %%
with_, without = seg_metrics["with mask loss"], seg_metrics["without mask loss"]
display(Markdown(
    f"With the mask loss the decoder reaches a test IoU of **{with_['mask_iou']:.2f}** "
    + ("(above the 0.5 target)" if with_["mask_iou"] > 0.5 else "(**below** the 0.5 target in this short run)")
    + f", against {seg_table.loc['where people usually are (no model)', 'mask IoU']:.2f} for the pixels most often "
    f"covered by a person in training, which knows only where people usually stand. Without it the decoder is never trained (its IoU, "
    f"{without['mask_iou']:.2f}, means nothing). Action accuracy: {with_['test_accuracy']:.3f} with the side task, "
    f"{without['test_accuracy']:.3f} without, from the same seed after {mask_epochs} epochs; on occluded clips "
    f"{with_['occluded_accuracy']:.3f} vs {without['occluded_accuracy']:.3f}, with a distractor "
    f"{with_['distractor_accuracy']:.3f} vs {without['distractor_accuracy']:.3f}. "
    + ("The side task did not cost the action here. " if with_["test_accuracy"] >= without["test_accuracy"] else
       f"Here the mask loss, weighted {mask_weight:g}, costs the action "
       f"{(without['test_accuracy'] - with_['test_accuracy']) * 100:.1f} points: the shared layers serve the masks "
       "first. A smaller `mask_weight` leaves more of them to the action (try it, and watch the IoU). ")
    + f"Each epoch took about "
    f"{fits['with mask loss'].seconds_per_epoch:.1f} s. "
    + (f"Both clip models, trained on raw frames of {mask_side} px, score above every head on the frozen features "
       f"(best {heads_table['test accuracy'].max():.3f}): the heads of section 1 were held back by their features."
       if min(with_["test_accuracy"], without["test_accuracy"]) > heads_table["test accuracy"].max() else
       f"The best head on the frozen features scored {heads_table['test accuracy'].max():.3f}.")))

# %%
show = [int(np.flatnonzero(groups["occluded"].to_numpy())[0]), int(np.flatnonzero(groups["distractor"].to_numpy())[0])]
fig = ta.frames_with_rows(
    {f"{test_videos.loc[i, 'label']} ({test_videos.loc[i, 'occluder']}, {test_videos.loc[i, 'distractor']})": clips["test"][i]
     for i in show},
    {f"{test_videos.loc[i, 'label']} ({test_videos.loc[i, 'occluder']}, {test_videos.loc[i, 'distractor']})":
     {"truth": masks["test"][i], "predicted": seg_rows["with mask loss"][i]} for i in show}, count=mask_frames)
plots.save_figure(fig, cfg, "11_masks");

# %% [markdown]
# *What you should see:* one clip with an occluder and one with a moving distractor, the truth
# and the prediction of the model trained with the mask loss. Look at where the prediction fails:
# thin limbs at 16 px, the occluded part of the body, and whether the distractor (motion, but not a
# person) is left out.
#
# ## 5. Grad-CAM over frames, and the attention head in LiteRT
#
# Grad-CAM weighs each channel of the last convolution by the mean gradient of the class's
# probability, sums, and keeps the positive part: where in each frame the evidence for the class
# lies. The channel weights are shared by the clip's frames, so the frames compare: a frame
# without evidence stays dark.

# %%
cam_model = segmenters["with mask loss"]
cams, shares = {}, {}
for i in (sit, stand):
    clip = clips["test"][i]
    guess = int(cam_model.predict(clip[None], verbose=0)["label"].argmax())
    title = f"{test_videos.loc[i, 'label']} (predicted {NAMES[guess]})"
    cams[title] = ta.frame_gradcam(cam_model, clip, guess)
    shares[title] = cams[title].sum(axis=(1, 2)) / max(cams[title].sum(), 1e-9)
fig = ta.frames_with_rows({t: clips["test"][i] for t, i in zip(cams, (sit, stand))},
                          {t: {"Grad-CAM": m} for t, m in cams.items()}, count=mask_frames)
plots.save_figure(fig, cfg, "11_gradcam")
pd.DataFrame(shares, index=[f"frame {t}" for t in range(mask_frames)]).T.round(2)

# %% [markdown]
# The table gives each frame's share of the clip's Grad-CAM (a row of zeros: no positive evidence
# for the predicted class anywhere in the clip). Frames with a large share are the ones whose
# content pushed the prediction; for *sit down* and *stand up* these should be the frames where the
# body moves, if the model reads the motion.

# %%
cam_spread = {t: share.max() * mask_frames for t, share in shares.items()}
display(Markdown("The largest share of a frame is " + ", ".join(f"{v:.1f}x the uniform one for {t}" for t, v in cam_spread.items())
                 + (": the evidence is spread over the whole clip rather than in the frames of the movement."
                    if max(cam_spread.values()) < 1.5 else ": a few frames carry most of the evidence.")
                 + f" The last map is {'x'.join(map(str, next(iter(cams.values())).shape[1:]))} cells a frame, too coarse to "
                 "say where in the frame the evidence lies; a larger `mask_side` gives a finer map."))

# %%
try:
    fp32 = export.convert_keras(heads["multiscale_attention"], "fp32")
    sample = features["train"][:32]
    int8 = export.convert_keras(heads["multiscale_attention"], "int8",
                                lambda: ([s[None]] for s in sample), integer_io="int8")
    export_finding = {"fp32_kb": round(len(fp32) / 1024, 1), "int8_kb": round(len(int8) / 1024, 1),
                      "flex_ops": export.flex_ops(fp32) + export.flex_ops(int8), "int8_float_ops": export.float_ops(int8)}
    display(export.op_table(int8))
except export.ExportError as error:
    export_finding = {"error": str(error).split("failed", 1)[-1].strip()}
display(Markdown(
    f"LiteRT with builtin ops only: " + (f"failed {export_finding['error']}." if "error" in export_finding else
    f"FP32 {export_finding['fp32_kb']} kB, full INT8 {export_finding['int8_kb']} kB, Flex ops: "
    f"{export_finding['flex_ops'] or 'none'}. Ops that still compute in float in the INT8 model: "
    f"{', '.join(export_finding['int8_float_ops']) or 'none'}.")))

# %% [markdown]
# ## Results

# %%
metrics = {**{f"head_{name}": s.metrics for name, s in scores.items()},
           **{f"ablation_{name.replace(' ', '_')}": s.metrics for name, s in ablation_scores.items() if name != "all scales"},
           **{f"segmenter_{name.replace(' ', '_')}": m for name, m in seg_metrics.items()}}
results_path = runs.save_results(
    cfg, "11_attention_multiscale", metrics=metrics, timings_s={**watch.total(), **{f"head_{k}": round(v, 1)
                                                                                    for k, v in seconds.items()}},
    extra={"settings": settings, "head_epochs": head_epochs, "mask_epochs": mask_epochs, "mask_frames": mask_frames,
           "mask_side": mask_side, "export": export_finding,
           "segmenter_seconds_per_epoch": {n: f.seconds_per_epoch for n, f in fits.items()}})
display(Markdown(f"Results written to `{results_path.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * Self-attention over frame features needs position codes; attention pooling learns which frames
#   matter and its weights can be read back.
# * Parallel dilated temporal convolutions give every frame several time scales; an ablation that
#   removes one at a time measures each, per class, with the test set's noise in view.
# * A head is only as good as the features it reads: on weak features and 448 clips the heads end
#   up close together, whatever their design.
# * A mask decoder trained next to the classifier learns where the person is from a few epochs;
#   the masks must be cut exactly like the frames, and the weight of the side task trades the
#   masks against the action.
#
# ## Exercises
#
# **1. Order-blind attention.** Build `ta.attention_head(SHAPE, len(NAMES), positions=None)`
# (untrained is enough) and show that without positions its output does not change when the
# frames are reversed. Put the largest absolute difference in `no_position_gap`.

# %%
no_position_gap = None  # your code: predict on features["test"] and features["test"][:, ::-1]
### BEGIN SOLUTION
# solution
training.configure(cfg)
unordered = ta.attention_head(SHAPE, len(NAMES), positions=None)
no_position_gap = float(np.abs(unordered.predict(features["test"], verbose=0)
                               - unordered.predict(features["test"][:, ::-1], verbose=0)).max())
### END SOLUTION

# %%
assert no_position_gap is not None and no_position_gap < 1e-4, "predict with positions=None on both frame orders"
ordered_gap = np.abs(heads["attention"].predict(features["test"], verbose=0)
                     - heads["attention"].predict(features["test"][:, ::-1], verbose=0)).max()
print(f"exercise 1: correct: without positions {no_position_gap:.1e}, with sinusoidal positions {ordered_gap:.2f}")

# %% [markdown]
# **2. A model that never moves.** Predict every frame's mask of a test clip as the true mask of
# its **first** frame (a person who stands still) and score it with `ta.mask_iou` over the whole
# test set. Put the IoU in `still_iou`. (This predictor cheats: it is given the true mask of one
# frame, which no model sees; it shows how much of the body stays in place during an action.)

# %%
still_iou = None  # your code: np.repeat(masks["test"][:, :1], ..., axis=1), ta.mask_iou(...)
### BEGIN SOLUTION
# solution
still_iou = ta.mask_iou(np.repeat(masks["test"][:, :1], masks["test"].shape[1], axis=1), masks["test"])
### END SOLUTION

# %%
assert still_iou is not None and 0 <= still_iou <= 1
assert abs(still_iou - ta.mask_iou(np.broadcast_to(masks["test"][:, :1], masks["test"].shape), masks["test"])) < 1e-9
print(f"exercise 2: correct: a person standing still {still_iou:.2f}, the decoder "
      f"{seg_metrics['with mask loss']['mask_iou']:.2f}")

# %% [markdown]
# ## References
#
# - A. Vaswani et al. *Attention is all you need.* NeurIPS 2017 (sinusoidal positions, multi-head attention).
# - G. Bertasius, H. Wang, L. Torresani. *Is space-time attention all you need for video understanding?* ICML 2021.
# - N. Hussein, E. Gavves, A. Smeulders. *Timeception for complex action recognition.* CVPR 2019 (multi-scale temporal convolutions).
# - C. Lea et al. *Temporal convolutional networks for action segmentation and detection.* CVPR 2017.
# - R. Caruana. *Multitask learning.* Machine Learning 1997.
# - R. Selvaraju et al. *Grad-CAM: visual explanations from deep networks via gradient-based localization.* ICCV 2017.
#
# **Next:** notebook 12, a skeleton stream and its fusion with RGB.
