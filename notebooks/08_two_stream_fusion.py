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
# # 08 · Two-stream late fusion, and why it helps
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/08_two_stream_fusion.ipynb)
#
# Notebook 06 trained a **spatial stream** (ResNet-50 on single frames) and notebook 07 a
# **temporal stream** (a CNN on stacked optical flow). Each saved its class probabilities for every
# validation and test video. **Late fusion** combines those probabilities, without running or
# retraining either network. It helps when the two streams make *different* mistakes: the frame
# knows the scene and the pose, the flow knows the direction of the motion.
#
# **You will learn to**
#
# 1. fuse two streams by averaging, by a weighted average whose weight is chosen on the
#    **validation** split (never on test), and by a learned classifier on their scores;
# 2. see **complementarity** per class: where each stream wins, and what fusion gains;
# 3. add further streams (notebooks 04 and 05);
# 4. watch the fusion weight move when the scene stops predicting the action (`context_bias`).
#
# **Prerequisites:** notebooks 06 and 07, run with the same profile, dataset and seed.
# **Time:** about a minute to run in the `ci` profile, 20 minutes to read and do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
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
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import catalog, config, evaluation, fusion, pipeline, plots, pretraining, runs, streams, training
from course_utils import temporal as temporal_stream  # `temporal` below names the temporal stream's scores

settings = config.video_model_settings(profile)
cfg, watch = runs.start_notebook(profile, dataset, data_dir, artifacts_dir, seed, **settings)
spatial, temporal = fusion.load_scores(cfg, "spatial"), fusion.load_scores(cfg, "temporal")
for split in fusion.SPLITS:
    fusion.check_aligned([spatial, temporal], split)
NAMES, PAIRS = spatial.class_names, evaluation.motion_pairs(spatial.class_names)
display(Markdown(f"Scores of **{len(spatial['val'].labels)}** validation and **{len(spatial['test'].labels)}** test "
                 f"videos, {len(NAMES)} classes, from both streams."))

# %% [markdown]
# ## 1. Two streams, one video at a time
#
# Before fusing, count how the two streams' test answers relate: if they were always right and
# wrong on the same videos, no fusion could help.

# %%
right = {name: s["test"].probs.argmax(axis=1) == s["test"].labels for name, s in (("spatial", spatial), ("temporal", temporal))}
agreement = pd.crosstab(pd.Series(right["spatial"], name="spatial right"), pd.Series(right["temporal"], name="temporal right"))
agreement

# %%
only = {name: int((right[name] & ~right[other]).sum()) for name, other in (("spatial", "temporal"), ("temporal", "spatial"))}
display(Markdown(f"On {only['spatial']} test videos only the spatial stream is right, on {only['temporal']} only the "
                 f"temporal one, and on {int((~right['spatial'] & ~right['temporal']).sum())} neither: the room fusion has."))

# %% [markdown]
# ## 2. Three ways to fuse
#
# * **Average**: `(p_spatial + p_temporal) / 2`.
# * **Weighted**: `(1 - w) p_spatial + w p_temporal`, with `w` chosen where the fused
#   **validation** accuracy is highest. Choosing it on test would report a score tuned to those very
#   videos; TSN uses RGB:flow = 1:1.5, that is `w = 0.6`.
# * **Learned**: a logistic regression on the concatenated probabilities, fitted on the validation
#   videos (the two-stream paper fits a linear SVM on the training scores; here the streams have
#   nearly memorised their training videos, so their training scores would teach it little).

# %%
weight, curve = fusion.choose_weight(spatial["val"], temporal["val"])
fig = plots.weight_curves({"validation accuracy": (curve, weight)}, reference=0.6, reference_label="TSN's 1:1.5")
plots.save_figure(fig, cfg, "08_fusion_weight")
display(Markdown(f"The validation split chooses **w = {weight:.2f}** for the temporal stream "
                 f"(validation accuracy {curve[weight]:.3f}; spatial alone {curve[0.0]:.3f}, temporal alone {curve[1.0]:.3f})."))

# %%
labels = spatial["test"].labels
fused = {"spatial": spatial["test"].probs, "temporal": temporal["test"].probs,
         "average": fusion.weighted_average(spatial["test"].probs, temporal["test"].probs, 0.5),
         f"weighted (w = {weight:.2f})": fusion.weighted_average(spatial["test"].probs, temporal["test"].probs, weight),
         "learned (logistic regression)": fusion.learned_fusion([spatial["val"], temporal["val"]],
                                                                [spatial["test"], temporal["test"]], seed=cfg.seed)}
scores = {name: evaluation.score_probabilities(labels, probs, NAMES, PAIRS) for name, probs in fused.items()}
table = pd.DataFrame({name: {"test accuracy": m["test_accuracy"], "low": m["test_accuracy_low"],
                             "high": m["test_accuracy_high"], "macro F1": m["macro_f1"],
                             **{f"{a} / {b}": m[f"{a}_vs_{b}_accuracy"] for a, b in PAIRS}}
                      for name, m in scores.items()}).T
table.round(3)

# %%
best_single = max(("spatial", "temporal"), key=lambda n: scores[n]["test_accuracy"])
best_fusion = max(list(scores)[2:], key=lambda n: scores[n]["test_accuracy"])
gain = scores[best_fusion]["test_accuracy"] - scores[best_single]["test_accuracy"]
display(Markdown(f"The best fusion here, **{best_fusion}**, scores {scores[best_fusion]['test_accuracy']:.3f} on test: "
                 f"{gain * 100:+.1f} points over the better single stream ({best_single}, "
                 f"{scores[best_single]['test_accuracy']:.3f}). Read the intervals before the ranking: "
                 f"{len(labels)} test videos."))

# %% [markdown]
# ## 3. Where each stream wins
#
# Per class, the share of test videos each stream and the weighted fusion get right.

# %%
per_class = pd.DataFrame({name: evaluation.per_class_accuracy(labels, fused[name], NAMES)
                          for name in ("spatial", "temporal", f"weighted (w = {weight:.2f})")})
fig = plots.accuracy_bars(per_class, title="per-class test accuracy: each stream and their fusion")
plots.save_figure(fig, cfg, "08_per_class")
(per_class["temporal"] - per_class["spatial"]).sort_values().to_frame("temporal - spatial").T.round(2)

# %%
gap = per_class["temporal"] - per_class["spatial"]
display(Markdown(f"The temporal stream leads most on {', '.join(gap.nlargest(3).index)}; the spatial stream is level or "
                 f"ahead on {', '.join(gap[gap <= 0].index) or 'no class'}."))

# %% [markdown]
# *What you should see:* the temporal stream far ahead on the motion-only pairs (the same frames in
# another order, or a held pose against a wave); the spatial stream level or ahead only where a
# single frame (its scene, its pose) tells the class; the fusion near the better of the two on most
# classes.
#
# ## 4. More streams
#
# Notebooks 04 (the (2+1)D CNN) and 05 (MobileNetV2 + BiLSTM) saved their scores too. Any stream
# with scores for the same videos can join a fusion.

# %%
extra = {}
for stream in ("c3d_v2", "mobilenet_bilstm"):
    try:
        extra[stream] = fusion.load_scores(cfg, stream)
        fusion.check_aligned([spatial, extra[stream]], "test")
    except fusion.ScoresError as problem:
        extra.pop(stream, None)
        display(Markdown(f"Skipping `{stream}`: {problem}."))
all_streams = [spatial, temporal, *extra.values()]
more = {" + ".join(s.name for s in all_streams[:k]): fusion.learned_fusion([s["val"] for s in all_streams[:k]],
                                                                            [s["test"] for s in all_streams[:k]],
                                                                            seed=cfg.seed)
        for k in range(2, len(all_streams) + 1)}
more.update({f"{s.name} alone": s["test"].probs for s in extra.values()})
pd.DataFrame({name: {"test accuracy": evaluation.score_probabilities(labels, p, NAMES, PAIRS)["test_accuracy"]}
              for name, p in more.items()}).T.round(3)

# %% [markdown]
# ## 5. When the scene stops predicting the action
#
# The synthetic set films a clip in its class's typical scene with probability `context_bias`
# (here 0.5, as on HMDB51, where a pool predicts diving). Notebook 01 rendered a copy of the
# dataset with `context_bias = 0`: the same people and motions, scenes drawn at random. Below, the
# spatial stream is retrained on it with notebook 06's recipe (the course-made weights and cached
# trunk: about a minute), the temporal stream of 07 scores it as it is (flow records motion, not
# the scene's colours), and the validation split chooses the fusion weight again.

# %%
context = None
if cfg.is_synthetic:
    spatial_settings = runs.load_results(cfg.results_dir / "06_resnet50_spatial.json")["extra"]
    temporal_settings = runs.load_results(cfg.results_dir / "07_temporal_stream.json")["extra"]
    unbiased = config.resolve_config(profile, dataset, data_dir, artifacts_dir, seed, context_bias=0.0, **settings)
    manifest = catalog.prepare_dataset(unbiased, workers=workers, progress=False)
    weights = (pretraining.pretrain_backbone(cfg, "resnet50", pretext=pretraining.PRETEXTS["resnet50"])[0]
               if spatial_settings["weights"] == "course-made" else spatial_settings["weights"])
    model, maps = streams.spatial_stream(unbiased, pipeline.prepare(unbiased, manifest, workers=workers, progress=False),
                                         str(weights), spatial_settings["train_segments"], spatial_settings["test_frames"],
                                         spatial_settings["warmup_epochs"], spatial_settings["finetune_epochs"])
    evaluation.save_stream_scores(unbiased, "spatial", model, {split: maps.arrays(split, NAMES) for split in fusion.SPLITS})
    flow_table = temporal_stream.prepare_flow(unbiased, manifest, size=temporal_settings["flow_size"], workers=workers)
    flow_data = temporal_stream.flow_datasets_for(unbiased, flow_table, **temporal_settings["flow_data"])
    flow_model = training.load_model(cfg.artifacts_dir / temporal_settings["model_file"])
    evaluation.save_stream_scores(unbiased, "temporal", flow_model, {split: flow_data[split] for split in fusion.SPLITS})
    spatial0, temporal0 = fusion.load_scores(unbiased, "spatial"), fusion.load_scores(unbiased, "temporal")
    weight0, curve0 = fusion.choose_weight(spatial0["val"], temporal0["val"])
    fused0 = fusion.weighted_average(spatial0["test"].probs, temporal0["test"].probs, weight0)
    context = pd.DataFrame({
        f"context_bias = {cfg.synthetic.context_bias:g}": {
            "spatial": scores["spatial"]["test_accuracy"], "temporal": scores["temporal"]["test_accuracy"],
            "w chosen on validation": weight, "weighted fusion": scores[f"weighted (w = {weight:.2f})"]["test_accuracy"]},
        "context_bias = 0": {
            "spatial": spatial0["test"].accuracy(), "temporal": temporal0["test"].accuracy(), "w chosen on validation": weight0,
            "weighted fusion": float(np.mean(fused0.argmax(axis=1) == spatial0["test"].labels))}})
    fig = plots.weight_curves({f"context_bias = {cfg.synthetic.context_bias:g}": (curve, weight),
                               "context_bias = 0": (curve0, weight0)})
    plots.save_figure(fig, cfg, "08_context_bias")
    display(context.round(3))
else:
    display(Markdown(f"Skipped on `{cfg.dataset_name}`: this comparison needs the same videos filmed again with "
                     "their scenes drawn at random, which only the synthetic dataset can render (`context_bias` is "
                     "a setting of its generator)."))

# %%
if context is not None:
    drop = context.loc["spatial"].iloc[0] - context.loc["spatial"].iloc[1]
    temporal_drop = context.loc["temporal"].iloc[0] - context.loc["temporal"].iloc[1]
    display(Markdown(
        f"Without context the spatial stream drops by {drop * 100:.1f} points (test accuracy "
        f"{context.loc['spatial'].iloc[1]:.3f}, chance {1 / len(NAMES):.3f}): much of what it knew was the place, not "
        f"the action. The temporal stream, trained on the biased set and not retrained, drops by {temporal_drop * 100:.1f} "
        "points: " + ("flow carries little of the scene." if temporal_drop < 0.05 else
                      "it too had learnt something of the scenes (flow is not free of the background: texture, "
                      "camera shake and noise move with it); how much retraining it on this set would win back is not "
                      "measured here (it costs about a minute).")
        + f" The validation split moves the temporal stream's weight from {weight:.2f} to {weight0:.2f}."))

# %% [markdown]
# *What you should see:* the spatial stream losing most when the scene no longer gives the class
# away, and the chosen weight moving towards the temporal stream. On HMDB51 and UCF101 the same
# happens: scene and object cues carry much of the spatial stream's accuracy.
#
# ## 6. What the literature measured
#
# The numbers a learner compares with when running the `full` profile on HMDB51 (51 classes, mean
# over its three official splits) with ImageNet-initialised streams are in the table below (test
# accuracy; the paper's learned fusion is a linear SVM, this notebook's a logistic regression).
# TSN with a ResNet-50 initialised from ImageNet reaches about 49-69 % on HMDB51, depending on the
# setup (modalities, segments, pretraining). On real video, too, the temporal stream is the stronger
# one, and fusion adds a few points because the two streams fail differently.

# %%
TWO_STREAM_HMDB51 = {"spatial": 0.405, "temporal": 0.546, "average": 0.580, "learned (logistic regression)": 0.594}
literature = pd.DataFrame({"two-stream (Simonyan and Zisserman 2014), HMDB51, 3 splits": TWO_STREAM_HMDB51})
if cfg.dataset == "hmdb51":
    literature[f"this run: HMDB51 split 1, {cfg.profile} profile"] = pd.Series(
        {name: scores[name]["test_accuracy"] for name in TWO_STREAM_HMDB51})
    display(Markdown("One split, not the mean of three, and the course's streams, not the paper's networks: compare "
                     "the ordering (temporal above spatial, fusion above both) before the digits."))
else:
    display(Markdown(f"This run is on `{cfg.dataset_name}`, not HMDB51: run notebooks 06-08 with "
                     '`profile="full"`, `dataset="hmdb51"` to put your numbers beside these.'))
literature.T.round(3)

# %% [markdown]
# ## Results

# %%
keys = {"spatial": "spatial", "temporal": "temporal", "average": "fusion_average",
        f"weighted (w = {weight:.2f})": "fusion_weighted", "learned (logistic regression)": "fusion_learned"}
metrics = {keys[name]: m for name, m in scores.items()}
metrics["fusion_weighted"]["weight"] = weight
if context is not None:
    metrics["no_context"] = {"spatial_accuracy": float(context.loc["spatial"].iloc[1]),
                             "temporal_accuracy": float(context.loc["temporal"].iloc[1]), "weight": weight0,
                             "fusion_weighted_accuracy": float(context.loc["weighted fusion"].iloc[1])}
metrics["fusion_streams"] = {f"learned_{name.replace(' + ', '_')}_accuracy":
                             evaluation.score_probabilities(labels, p, NAMES, PAIRS)["test_accuracy"]
                             for name, p in more.items() if " + " in name}
results_path = runs.save_results(cfg, "08_two_stream_fusion", metrics=metrics, timings_s=watch.total(),
                                 extra={"best_fusion": keys[best_fusion], "gain_over_best_stream": gain,
                                        "validation_curve": curve, "streams": [s.name for s in all_streams]})
display(Markdown(f"Results written to `{results_path.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * Late fusion combines saved scores: no network runs, so trying a fusion costs nothing.
# * Tune the weight on validation; test is looked at once, at the end.
# * Fusion gains where the streams' mistakes differ: motion for the pairs, appearance elsewhere.
#
# ## Exercises
#
# **1. The TSN weight.** Compute the test accuracy of the weighted fusion with TSN's `w = 0.6` as `tsn_accuracy`.

# %%
tsn_accuracy = None  # your code: fusion.weighted_average(...)
### BEGIN SOLUTION
# solution
tsn_fused = fusion.weighted_average(spatial["test"].probs, temporal["test"].probs, 0.6)
tsn_accuracy = float(np.mean(tsn_fused.argmax(axis=1) == labels))
### END SOLUTION

# %%
check = fusion.weighted_average(spatial["test"].probs, temporal["test"].probs, 0.6)
assert tsn_accuracy is not None and abs(tsn_accuracy - np.mean(check.argmax(1) == labels)) < 1e-9, \
    "weighted_average(spatial, temporal, 0.6), then the share of argmax equal to the labels"
print(f"exercise 1: correct: w = 0.6 gives {tsn_accuracy:.3f}; the validation-chosen w = {weight:.2f} gives "
      f"{scores[f'weighted (w = {weight:.2f})']['test_accuracy']:.3f}")

# %% [markdown]
# **2. Product instead of sum.** Fuse by the geometric mean (multiply the two probabilities, then
# renormalise) and put its test accuracy in `product_accuracy`.

# %%
product_accuracy = None  # your code
### BEGIN SOLUTION
# solution
product = spatial["test"].probs * temporal["test"].probs
product_accuracy = float(np.mean((product / product.sum(axis=1, keepdims=True)).argmax(axis=1) == labels))
### END SOLUTION

# %%
expected = np.mean(np.argmax(np.log(spatial["test"].probs + 1e-12) + np.log(temporal["test"].probs + 1e-12), 1) == labels)
assert product_accuracy is not None and abs(product_accuracy - expected) < 1e-9, \
    "multiply spatial['test'].probs by temporal['test'].probs"
print(f"exercise 2: correct: product {product_accuracy:.3f} vs average {scores['average']['test_accuracy']:.3f}")

# %% [markdown]
# ## References
#
# - K. Simonyan and A. Zisserman. *Two-stream convolutional networks for action recognition in videos.* NeurIPS 2014.
# - C. Feichtenhofer, A. Pinz and A. Zisserman. *Convolutional two-stream network fusion for video action recognition.* CVPR 2016.
# - L. Wang et al. *Temporal segment networks.* ECCV 2016 (RGB:flow = 1:1.5).
#
# **Next:** notebook 09 exports a trained model to TFLite and ONNX.
