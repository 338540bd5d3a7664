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
# # 04 · A 3D CNN from scratch: parameters are not accuracy
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/action-recognition-course/action-recognition-course/blob/main/notebooks/04_cnn3d_scratch.ipynb)
#
# An image CNN slides 2-D filters over a frame. A **3D CNN** slides them over a *clip*: height,
# width **and time**, so a filter can respond to an edge that moves. Here you train two of them on
# the clips of notebook 02, from random weights:
#
# * **v1**, the C3D recipe (Tran et al. 2015): plain `Conv3D` 3x3x3 layers and a wide dense layer;
# * **v2**, a compact **(2+1)D** network (R(2+1)D, Tran et al. 2018): each 3x3x3 filter factorised
#   into a spatial 3x3 and a temporal 3x1, strided, normalised, with dropout and a head that keeps
#   the order of time.
#
# **You will learn to**
#
# 1. feed clips to Keras with a `tf.data` pipeline (sampling and augmentation per clip);
# 2. build and train both networks, and read their curves;
# 3. evaluate them properly: a confidence interval, the confusion matrix, the motion-only pairs;
# 4. check that a model **uses time**: score it on the same clips shuffled and reversed;
# 5. compare label smoothing, mixup and a video-consistent cutmix in a short ablation.
#
# **Prerequisites:** notebooks 01 (the probes this notebook is compared with) and 02 (sampling, the
# frame cache). **Time:** about 4 minutes to run in the `ci` profile on two CPU cores, 30 minutes to read
# and do the exercises.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42
epochs = None  # None: the profile's (config.VIDEO_MODEL_SETTINGS)
image_size = None
batch_size = None
v1_epochs = None  # None: a sixth of `epochs` (v1 is the baseline; this keeps 04 inside the ci budget)
ablation_epochs = 2  # epochs of each regularisation run; 0 skips the ablation
reverse_pairs = True  # train on clips played backwards where that makes another class (section 1)
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

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from course_utils import actions, evaluation, models, pipeline, plots, runs, training

setup = training.start_clip_notebook(profile, dataset, data_dir, artifacts_dir, seed, workers=workers,
                                     epochs=epochs, image_size=image_size, batch_size=batch_size)
cfg, watch, strategy, settings = setup.cfg, setup.watch, setup.strategy, setup.settings
table, NAMES, CLIP, RUNS = setup.table, setup.class_names, setup.clip_shape, setup.runs_dir
display(Markdown(f"**{len(table)}** videos of **{len(NAMES)}** classes; the models see clips of "
                 f"**{cfg.clip_frames} frames at {cfg.image_size}x{cfg.image_size}**, {cfg.batch_size} clips a batch."))

# %% [markdown]
# ## 1. From videos to batches
#
# Decoding a video costs far more than a training step on a small clip, so every video is decoded
# **once** into the frame cache of notebook 02: `2 x 16` evenly spaced frames, 1/8 larger than the
# model's input. Each epoch, the pipeline cuts a new clip out of them:
#
# * **which frames**: a random window of 85-100 % of the video (a speed change) at a random
#   position (temporal jitter), then TSN-style segments: the window in 16 equal parts, one random
#   frame from each. Evaluation takes the 16 uniform frames of the whole video;
# * **which pixels**: a random square crop of 90-100 % of the frame, a horizontal flip, a
#   brightness and contrast change, **the same for every frame of the clip**: a crop that moved from
#   frame to frame would itself look like motion;
# * **which way time runs**: *sit down* played backwards is *stand up*. Half of the training clips
#   of such a pair are reversed and take the other label, so the pair's clips differ *only* in the
#   direction of time and a model must read it to tell them apart. In this synthetic set *stand
#   up* is rendered as *sit down* reversed, so these clips are exact; on real footage they are close
#   (a person does not stand up quite the way they sat down). Most classes have no such partner
#   (a kick played backwards is no action), and none of their clips is reversed.
#
# Mild on purpose: in the course's trials on this set, this augmentation (with dropout 0.2) reached
# a higher accuracy in a short run than the stronger defaults of `pipeline.Augment` (crops down to
# 80 %, windows down to 60 %, dropout 0.5), which still underfitted after the same epochs. The generator yields uint8 clips; `tf.data` batches them, casts
# them to float in a parallel `map` and prefetches the next batch while the model trains.

# %%
AUGMENT = dataclasses.replace(pipeline.SHORT_RUN_AUGMENT, reverse=actions.reversed_pairs(NAMES) if reverse_pairs else ())
data = pipeline.datasets_for(cfg, table, augment=AUGMENT)
x, y = pipeline.take_arrays(data["train"], batches=1)
fig = plots.frame_grid([(NAMES[label], clip.astype(np.uint8)) for clip, label in zip(x[:4], y[:4])], count=8)
plots.save_figure(fig, cfg, "04_training_clips")
display(Markdown(" · ".join(f"{split}: {d.steps} batches of {d.batch_size}" for split, d in data.items())
                 + "; reversed pairs: " + (", ".join(f"{a} / {b}" for a, b in AUGMENT.reverse) or "none")))

# %% [markdown]
# *What you should see:* four training clips, eight of their sixteen frames each, every one framed and
# coloured consistently over time. A batch is a float32 tensor `(batch, 16, 48, 48, 3)` of pixels in
# 0-255: the models rescale themselves, so an exported model takes raw pixels.
#
# ## 2. v1: the C3D recipe
#
# Every layer is a `Conv3D` with 3x3x3 filters. Downsampling is done with **strides** instead of
# `MaxPooling3D` (whose backward pass is slow on a CPU, and which becomes an op no TFLite interpreter
# here can run). The flattened features feed a wide dense layer: that is where most parameters are.

# %%
print(models.model_source("c3d_v1"))

# %%
with strategy.scope():
    v1 = models.build_model("c3d_v1", CLIP, len(NAMES))
V1_EPOCHS = v1_epochs or max(1, cfg.epochs // 6)
fit_v1 = training.fit(v1, data["train"], data["val"], RUNS / "04_c3d_v1", epochs=V1_EPOCHS, seed=cfg.seed,
                      learning_rate=1e-3)
display(Markdown(f"v1: **{v1.count_params():,}** parameters, {V1_EPOCHS} epochs of "
                 f"{fit_v1.seconds_per_epoch:.1f} s; best validation accuracy "
                 f"{max(fit_v1.history['val_accuracy']):.2f} (epoch {fit_v1.best_epoch + 1})."))

# %% [markdown]
# ## 3. v2: compact, factorised, and aware of time
#
# A 3x3x3 filter mixes space and time in one step. **(2+1)D** splits it: a 3x3 `Conv2D` on every
# frame (time folded into the batch), then a `Conv2D((3, 1))` along time for every pixel: 9 + 3
# multiply-adds per pair of channels instead of 27, so fewer weights and operations at the same
# width, and an extra non-linearity in between. v2 spends part of the savings on keeping more of
# the frame rate (compare the FLOPs in section 4). Three more choices:
#
# * a **frame-difference** input: the signed change `x[t] - x[t-1]` next to the pixels, so motion is
#   visible from the first layer;
# * **BatchNorm with momentum 0.9**: the default 0.99 lags so far behind in a short run that the
#   model scores at chance in inference mode while training accuracy climbs;
# * a head that **keeps time**: each frame's features are averaged over space only (a 2x2 grid) and
#   flattened over time. The usual global pooling over time would make *sit down* and *stand up*
#   (the same frames, reversed) look the same.

# %%
print(models.model_source("c3d_v2"))

# %%
V2_OPTIONS = dict(temporal_strides=(1, 1, 2), dropout=0.2)
training.configure(cfg)  # reseed: v2 starts the same however long v1 trained
with strategy.scope():
    v2 = models.build_model("c3d_v2", CLIP, len(NAMES), **V2_OPTIONS)
fit_v2 = training.fit(v2, data["train"], data["val"], RUNS / "04_c3d_v2", epochs=cfg.epochs, seed=cfg.seed,
                      learning_rate=3e-3)
fig = plots.training_curves({"v1": fit_v1.history, "v2": fit_v2.history})
plots.save_figure(fig, cfg, "04_curves")
display(Markdown(f"v2: **{v2.count_params():,}** parameters ({v1.count_params() / v2.count_params():.0f}x fewer "
                 f"than v1), {cfg.epochs} epochs of {fit_v2.seconds_per_epoch:.1f} s; best validation "
                 f"accuracy {max(fit_v2.history['val_accuracy']):.2f} (epoch {fit_v2.best_epoch + 1})."))

# %% [markdown]
# *What you should see:* solid lines (training) above dashed ones (validation: two people the model
# never saw). A widening gap is overfitting; both lines still rising at the end means more epochs
# would help. `training.fit` restores the epoch with the best validation accuracy before returning.
#
# ## 4. Scoring on the test people
#
# `evaluation.evaluate` scores a model on the test split: accuracy with a 95 % **Wilson interval**
# (one clip of the test set moves accuracy by almost a point, so a difference of a few points between
# two models may be noise), top-5, macro precision/recall/F1, and the **pairwise accuracy** of each
# motion-only pair: among the test clips of the two classes, how often the model gives the true class
# a higher probability than its twin (0.5 is a coin toss). Beside them, what each model costs: its
# parameters, its **FLOPs** per clip (`evaluation.count_flops`: the floating-point operations of one
# forward pass, counted in the model's graph), seconds per training epoch and measured milliseconds
# per clip.

# %%
scores = {"c3d_v1": evaluation.evaluate(v1, data["test"]), "c3d_v2": evaluation.evaluate(v2, data["test"])}
fits = {"c3d_v1": fit_v1, "c3d_v2": fit_v2}
mflops = {name: round(evaluation.count_flops(model, CLIP) / 1e6, 1) for name, model in (("c3d_v1", v1), ("c3d_v2", v2))}
comparison = pd.DataFrame({name: {"parameters": s.metrics["params"], "MFLOPs / clip": mflops[name],
                                  "s / epoch": round(fits[name].seconds_per_epoch, 1),
                                  "ms / clip": s.extra["inference_ms_per_clip"],
                                  "test accuracy": f"{s.metrics['test_accuracy']:.3f} "
                                                   f"[{s.metrics['test_accuracy_low']:.2f}, {s.metrics['test_accuracy_high']:.2f}]",
                                  "macro F1": round(s.metrics["macro_f1"], 3),
                                  **{f"{a} / {b}": round(s.metrics[f"{a}_vs_{b}_accuracy"], 3)
                                     for a, b in evaluation.motion_pairs(NAMES)}}
                           for name, s in scores.items()})
comparison

# %%
fig = scores["c3d_v2"].confusion_figure(title="c3d_v2 on the test people")
plots.save_figure(fig, cfg, "04_confusion_v2")
evaluation.top_confusions(scores["c3d_v2"].labels, scores["c3d_v2"].probs, NAMES)

# %%
best = max(scores, key=lambda name: scores[name].metrics["test_accuracy"])
confused = evaluation.top_confusions(scores["c3d_v2"].labels, scores["c3d_v2"].probs, NAMES, count=3)
display(Markdown(
    f"In this run **{best}** scored higher on test ({scores[best].metrics['test_accuracy']:.3f}), with "
    f"{scores['c3d_v1'].metrics['params'] / scores['c3d_v2'].metrics['params']:.0f}x "
    f"{'more' if best == 'c3d_v1' else 'fewer'} parameters than the other; a v1 clip takes "
    f"{mflops['c3d_v1'] / mflops['c3d_v2']:.1f}x v2's floating-point operations ({mflops['c3d_v1']:,.0f} against "
    f"{mflops['c3d_v2']:,.0f} million). v2's most frequent mistakes: "
    + "; ".join(f"{r.true} taken for {r.predicted} ({r.clips} clips)" for r in confused.itertuples()) + "."))

# %% [markdown]
# *What you should see:* a strong diagonal for some classes and weaker ones between classes that move
# alike. The per-class report gives the numbers, sorted by F1:

# %%
report = scores["c3d_v2"].report
display(Markdown(f"Easiest for v2 here: {', '.join(report.index[-3:][::-1])}; hardest: {', '.join(report.index[:3])}."))
report.round(2)

# %% [markdown]
# ## 5. Does the model use time?
#
# A network could classify a clip from what is *in* it (a scene, a pose) without caring in which
# order it happens. Two checks on the same test clips: **shuffle** the frames (every clip the same
# random order) and **reverse** them. A model that reads time loses accuracy; on *sit down / stand
# up* reversing turns one class into the other, so a model that reads the direction of time falls
# *below* 0.5 there.

# %%
orders = pd.concat({name: evaluation.time_check_table(s.metrics, NAMES) for name, s in scores.items()}, axis=1)
fig = plots.accuracy_bars(orders, chance=0.5, title="the same test clips: original, shuffled and reversed frames")
plots.save_figure(fig, cfg, "04_time_checks")
orders.round(3)

# %% [markdown]
# ## 6. Regularisation: label smoothing, mixup and a video cutmix
#
# Three regularisers from the image world, each applied to whole clips:
#
# * **label smoothing** (0.1): the target gives 10 % of its mass to the other classes;
# * **mixup** (alpha 0.2): a clip is blended with another, and so are their labels;
# * **video cutmix** (alpha 1.0): a box from another clip is pasted **at the same place in every
#   frame** (a box that jumped around would add motion that is not there); labels mix by area.
#
# Each is a short v2 run from the same seed; compare them with each other, not with section 3.

# %%
ABLATION = {"none": {}, "label_smoothing": {"label_smoothing": 0.1}, "mixup": {"mixup_alpha": 0.2},
            "cutmix": {"cutmix_alpha": 1.0}}
ablation = {}
for name, options in (ABLATION.items() if ablation_epochs else []):
    training.configure(cfg)  # the same initial weights and data order for every variant
    with strategy.scope():
        model = models.build_model("c3d_v2", CLIP, len(NAMES), **V2_OPTIONS)
    run = training.fit(model, data["train"], data["val"], RUNS / f"04_ablation_{name}",
                       epochs=ablation_epochs, seed=cfg.seed, learning_rate=3e-3, **options)
    result = evaluation.evaluate(model, data["test"], time_checks=False, timing=False)
    ablation[name] = {"val accuracy": max(run.history["val_accuracy"]), "test accuracy": result.metrics["test_accuracy"],
                      "test low": result.metrics["test_accuracy_low"], "test high": result.metrics["test_accuracy_high"]}
pd.DataFrame(ablation).T.round(3) if ablation else Markdown("Ablation skipped (`ablation_epochs = 0`).")

# %% [markdown]
# *What you should see:* the four runs side by side, each with its test interval: read the intervals
# before the ranking. Mixing regularisers are meant for long runs in which the plain model overfits,
# which a two-epoch run cannot show: try `ablation_epochs = 20` (or the `laptop` profile) to see
# whether they pay off there.
#
# ## 7. Beside the probes of notebook 01
#
# Notebook 01 fitted linear classifiers on hand-made features of the same split: appearance (the
# middle frame) and motion (time-ordered frame differences around the actor).

# %%
probes = runs.load_results(cfg.results_dir / "01_eda.json")["metrics"] if (cfg.results_dir / "01_eda.json").is_file() else {}
beside = pd.DataFrame({**{name: {"test accuracy": m["test_accuracy"], "macro F1": m["macro_f1"]} for name, m in probes.items()},
                       **{name: {"test accuracy": s.metrics["test_accuracy"], "macro F1": s.metrics["macro_f1"]}
                          for name, s in scores.items()}}).T.round(3)
beside if probes else Markdown("Run notebook 01 first to see its probes here.")

# %% [markdown]
# ## Results

# %%
metrics = {name: s.metrics for name, s in scores.items()}
metrics.update({f"ablation_{name}": {"test_accuracy": a["test accuracy"], "val_accuracy": a["val accuracy"]}
                for name, a in ablation.items()})
scores_file = evaluation.save_stream_scores(cfg, "c3d_v2", v2, {"val": data["val"], "test": data["test"]})
results_path = runs.save_results(
    cfg, "04_cnn3d_scratch", metrics=metrics, timings_s=watch.total(),
    extra={"settings": settings, "v1_epochs": V1_EPOCHS, "v2_options": V2_OPTIONS, "ablation_epochs": ablation_epochs,
           "reversed_pairs": [list(pair) for pair in AUGMENT.reverse],
           "seconds_per_epoch": {name: round(f.seconds_per_epoch, 2) for name, f in fits.items()}, "mflops_per_clip": mflops,
           **{f"{name}_evaluation": s.extra for name, s in scores.items()}})
display(Markdown(f"Results written to `{results_path.name}`, v2's per-video scores (for the fusion of notebook 08) to "
                 f"`{scores_file.name}`; this run took {watch.total()['total']:.0f} s."))

# %% [markdown]
# ## Summary
#
# * A `tf.data` pipeline cuts a fresh clip from the frame cache every epoch; augmentation is drawn
#   once per clip and applied to every frame.
# * Parameters are not accuracy: compare v1 and v2 in the table of section 4, together with their
#   intervals and their cost per epoch.
# * The shuffled and reversed checks tell whether a model reads the order of frames at all.
# * Knowing the classes adds data: *sit down* played backwards is *stand up*, so reversed clips of
#   the pair, relabelled, leave the direction of time as the only cue; `reverse_pairs = False` trains
#   without them (try it and compare the pair's column in section 4).
# * In the `laptop` profile (96 px, more people and 40 epochs) every model here has more to learn
#   from and more time to learn it: the profile table of the README gives what one such run scored
#   and how long it took.
#
# ## Exercises
#
# **1. Count a confusion.** `FIRST` and `SECOND` are the first motion pair (on a dataset without
# one: its first two classes). How many test videos of `FIRST` does v2 classify as `SECOND`? Put the
# number in `first_as_second`.

# %%
FIRST, SECOND = (evaluation.motion_pairs(NAMES) or [tuple(NAMES[:2])])[0]
first_as_second = None  # your code: from scores["c3d_v2"].labels and .probs
### BEGIN SOLUTION
# solution
v2_scores = scores["c3d_v2"]
first_as_second = int(np.sum((v2_scores.labels == NAMES.index(FIRST))
                             & (v2_scores.probs.argmax(axis=1) == NAMES.index(SECOND))))
### END SOLUTION

# %%
from sklearn.metrics import confusion_matrix
matrix = confusion_matrix(scores["c3d_v2"].labels, scores["c3d_v2"].probs.argmax(axis=1), labels=range(len(NAMES)))
assert first_as_second == matrix[NAMES.index(FIRST), NAMES.index(SECOND)], \
    f"count the test videos whose true label is {FIRST} and whose highest probability is {SECOND}"
print(f"exercise 1: correct: {first_as_second} of {matrix[NAMES.index(FIRST)].sum()} {FIRST} videos taken for {SECOND}")

# %% [markdown]
# **2. Reverse time yourself.** Take the test clips as arrays (`pipeline.take_arrays(data["test"])`),
# reverse their frames, and compute v2's accuracy on them as `reversed_accuracy`.

# %%
reversed_accuracy = None  # your code
### BEGIN SOLUTION
# solution
test_x, test_y = pipeline.take_arrays(data["test"])
reversed_accuracy = float(np.mean(v2.predict(test_x[:, ::-1], verbose=0).argmax(axis=1) == test_y))
### END SOLUTION

# %%
assert reversed_accuracy is not None
assert abs(reversed_accuracy - scores["c3d_v2"].metrics["reversed_accuracy"]) < 1e-6, \
    "reverse axis 1 (time) of every clip: x[:, ::-1], then compare the argmax with the labels"
print(f"exercise 2: correct: {reversed_accuracy:.3f}, as evaluation.evaluate found")

# %% [markdown]
# **3. Time blind by design.** Build v2 with `head="average"` (global pooling over time, untrained)
# as `blind` and count its parameters as `blind_params`. Where do v2's extra parameters go?

# %%
blind_params = None  # your code
### BEGIN SOLUTION
# solution
blind = models.build_model("c3d_v2", CLIP, len(NAMES), **V2_OPTIONS, head="average")
blind_params = blind.count_params()
### END SOLUTION

# %%
head_inputs = v2.get_layer(index=-1).input.shape[-1]
assert blind_params is not None and blind_params < v2.count_params(), "build c3d_v2 with head='average'"
assert v2.count_params() - blind_params == (head_inputs - head_inputs // (cfg.clip_frames // 2)) * len(NAMES), \
    "the difference is the classifier's weights for the extra time steps"
print(f"exercise 3: correct: {blind_params:,} vs {v2.count_params():,}: the flatten head gives the classifier one "
      f"weight per class for each feature *at each time step*")

# %% [markdown]
# ## References
#
# - D. Tran et al. *Learning spatiotemporal features with 3D convolutional networks* (C3D). ICCV 2015.
# - D. Tran et al. *A closer look at spatiotemporal convolutions for action recognition* (R(2+1)D). CVPR 2018.
# - L. Wang et al. *Temporal segment networks.* ECCV 2016 (segment sampling).
# - H. Zhang et al. *mixup: beyond empirical risk minimization.* ICLR 2018; S. Yun et al. *CutMix.* ICCV 2019.
# - TensorFlow tutorial *Video classification with a 3D convolutional neural network* ((2+1)D in Keras).
#
# **Next:** [05_mobilenetv2_lstm](05_mobilenetv2_lstm.ipynb) starts from a pretrained image network
# instead of random weights, and models time with an LSTM.
