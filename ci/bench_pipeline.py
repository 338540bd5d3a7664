"""Benchmark of the tf.data input pipeline: training fed by it against training fed from memory.

One run, on the training split of the profile's dataset (the ci synthetic set by default):

- the frame cache the pipeline reads (``pipeline.cache_spec``): its size on disk, and the size
  of the training split's clips (what RAM holds when they are all in the page cache);
- the pipeline alone: batches per second with no model;
- training steps per second of the same model (``c3d_v2`` by default) fed by the pipeline
  (frame cache, sampling and augmentation every epoch) and fed by the same
  tensors from memory (one epoch of the pipeline's batches, materialised beforehand);
- the ratio pipeline / memory against its target (>= 0.9x).

The two feeds train two copies of the model, one epoch each in turn (the first pair is
warm-up and not counted), so load from other work on the machine hits both alike; each speed
is the best of ``--rounds`` epochs. The load average is printed before and after. Usage:
``python ci/bench_pipeline.py [--profile ci] [--model c3d_v2] [--rounds 5] [--in-memory auto|yes|no]``
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_utils import catalog, config, models, pipeline, training  # noqa: E402  (before TensorFlow: it sets oneDNN)

import tensorflow as tf  # noqa: E402

TARGET = 0.9


def megabytes(paths) -> float:
    return sum(os.path.getsize(p) for p in paths) / 1e6


def steps_per_second(model, dataset, steps: int) -> float:
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", choices=config.PROFILES)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default="c3d_v2", choices=sorted(models.MODELS))
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs per feed, after one warm-up epoch")
    parser.add_argument("--in-memory", choices=("auto", "yes", "no"), default="auto",
                        help="the pipeline reads the split into RAM first (auto: when it is under 1 GB)")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    cfg = config.resolve_config(args.profile, args.dataset, args.data_dir, args.artifacts_dir, args.seed)
    training.configure(cfg)
    manifest = catalog.prepare_dataset(cfg, progress=False)
    spec = pipeline.cache_spec(cfg.clip_frames, cfg.image_size)
    table = pipeline.prepare(cfg, manifest, progress=False)
    train_rows = table[table["split"] == "train"]
    all_frames = int(manifest["frames"].sum()) * spec.size * spec.size * 3 / 1e6
    print(f"frame cache: {len(table)} clips of {spec.frames} frames at {spec.size}x{spec.size}: "
          f"{megabytes(table['cache_path']):.0f} MB on disk, training split {megabytes(train_rows['cache_path']):.0f} MB "
          f"(every frame instead: {all_frames:.0f} MB)")

    data = pipeline.make_dataset(table, "train", cfg.clip_frames, cfg.image_size, cfg.batch_size, training=True,
                                 seed=cfg.seed,
                                 in_memory={"auto": None, "yes": True, "no": False}[args.in_memory])
    num_classes = len(data.class_names)
    start = time.perf_counter()
    x, y = pipeline.take_arrays(data)
    seconds = time.perf_counter() - start
    print(f"pipeline alone: {data.steps / seconds:.1f} batches/s ({data.steps} batches of {cfg.batch_size}, "
          f"{cfg.clip_frames}x{cfg.image_size}x{cfg.image_size}, no model)")

    fed = training.one_hot(data.dataset, num_classes)
    memory = tf.data.Dataset.from_tensor_slices((x, tf.one_hot(y, num_classes))).batch(cfg.batch_size).prefetch(2)
    shape = (cfg.clip_frames, cfg.image_size, cfg.image_size, 3)
    copies = {}
    for feed in ("pipeline", "memory"):
        tf.keras.utils.set_random_seed(cfg.seed)
        copies[feed] = training.compile_model(models.build_model(args.model, shape, num_classes), data.steps, 1)
    speeds: dict[str, list[float]] = {"pipeline": [], "memory": []}
    for round_ in range(args.rounds + 1):
        for feed, dataset in (("pipeline", fed), ("memory", memory)):
            rate = steps_per_second(copies[feed], dataset, data.steps)
            if round_ > 0:
                speeds[feed].append(rate)
    best = {feed: max(rates) for feed, rates in speeds.items()}
    ratio = best["pipeline"] / best["memory"]
    for feed, rates in speeds.items():
        print(f"{args.model} fed by {feed:8s}: {best[feed]:.2f} steps/s (epochs: {', '.join(f'{r:.2f}' for r in rates)})")
    verdict = "meets" if ratio >= TARGET else "BELOW"
    print(f"pipeline / memory = {ratio:.2f}x ({verdict} the target {TARGET}x)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
