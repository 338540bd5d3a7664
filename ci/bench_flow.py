"""Benchmark of the optical-flow extraction: bare Farneback against the whole pipeline.

Prints, in one run on the same clips (the real PS7 clips, 640x480 MPEG-4, when the shared
datasets are beside the repository, plus a few synthetic clips):

- bare ``cv2.calcOpticalFlowFarneback`` fields per second on one core (OpenCV limited to one
  thread, frames decoded beforehand) at SIZE x SIZE and at 320x240;
- the whole pipeline of ``cache.extract_flow_cache`` (decode, resize, flow, quantise, write)
  at SIZE x SIZE, in one process and in two;
- the ratios against their targets: pipeline >= 0.85x bare Farneback per core, two processes
  >= 1.8x one process.

Each number is the best of ``--repeats`` interleaved runs. Other work on the machine lowers
them: the load average is printed before and after. Usage:
``python ci/bench_flow.py [--size 112] [--repeats 3] [--workers 2]``
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from course_utils import cache, config, datasets, flow
from course_utils.synthetic import generate_dataset

REPO_ROOT = Path(__file__).resolve().parent.parent
PS7_DIR = REPO_ROOT.parent / "shared" / "datasets" / "real" / "ps7_arm_actions"
TARGETS = {"pipeline_vs_bare": 0.85, "two_vs_one_process": 1.8}


def build_inputs(root: Path, subjects: int) -> tuple[pd.DataFrame, str]:
    """A class-folder tree of the PS7 clips (symlinks) and freshly rendered synthetic clips;
    returns its manifest and a description of what is in it."""
    parts = []
    if PS7_DIR.is_dir():
        for clip in sorted(PS7_DIR.glob("PS7A*P*T*.avi")):
            link = root / "clips" / "ps7" / f"action{clip.name[4]}" / clip.name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(clip)
        parts.append(f"{len(list(PS7_DIR.glob('PS7A*P*T*.avi')))} PS7 clips (640x480 MPEG-4)")
    else:
        parts.append(f"no PS7 clips ({PS7_DIR} is missing)")
    spec = config.resolve_config("ci", subjects=subjects, reps_per_subject=1,
                                 split_subjects=(subjects - 2, 1, 1)).synthetic
    synthetic = generate_dataset(root / "rendered", spec, seed=0, workers=2, progress=False)
    for rel in synthetic["path"]:  # the videos only, not the ground-truth files beside them
        link = root / "clips" / "synthetic" / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(root / "rendered" / rel)
    parts.append(f"{len(synthetic)} synthetic clips (Motion JPEG, {spec.height} px high, "
                 f"{synthetic['frames'].min()}-{synthetic['frames'].max()} frames)")
    frame, failures = datasets.scan_class_folder(root / "clips", workers=2, progress=False)
    if failures:
        raise SystemExit(f"benchmark inputs failed to decode: {[str(f) for f in failures]}")
    frame.attrs["root"] = str(root / "clips")
    return frame, " + ".join(parts)


def gray_clips(manifest: pd.DataFrame, size: int | None, shape: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Every clip decoded once, gray, at SIZE x SIZE (or resized to ``shape`` = (width, height))."""
    clips = [flow.read_gray_video(path, size) for path in datasets.video_paths(manifest)]
    if shape is not None:
        clips = [np.stack([cv2.resize(f, shape, interpolation=cv2.INTER_AREA) for f in clip]) for clip in clips]
    return clips


def pipeline_fields_per_s(manifest: pd.DataFrame, size: int, workers: int) -> float:
    """Wall-clock fields per second of a full extraction into an empty folder (pool start included)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = cache.extract_flow_cache(manifest, out, size=size, workers=workers, progress=False)
        seconds = time.perf_counter() - start
    if summary.failures:
        raise SystemExit(f"extraction failed: {[str(f) for f in summary.failures]}")
    return summary.fields / seconds


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112, help="side of the flow fields of the pipeline")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs; the best counts")
    parser.add_argument("--workers", type=int, default=2, help="processes of the parallel run")
    parser.add_argument("--synthetic-subjects", type=int, default=3, help="14 synthetic clips per subject")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        manifest, described = build_inputs(Path(scratch), args.synthetic_subjects)
        fields = int((manifest["frames"] - 1).sum())
        print(f"flow benchmark: {described}; {fields} fields per pass; best of {args.repeats}")
        print(f"load average before (1, 5, 15 min): {load()} on {os.cpu_count()} cores")
        small = gray_clips(manifest, args.size)
        large = gray_clips(manifest, None, (320, 240))
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            runs = {
                f"bare Farneback, 1 thread, {args.size}x{args.size}": lambda: flow.time_flow(small)["fields_per_s"],
                "bare Farneback, 1 thread, 320x240": lambda: flow.time_flow(large, max_fields=400)["fields_per_s"],
                f"pipeline, 1 process, {args.size}x{args.size}": lambda: pipeline_fields_per_s(manifest, args.size, 1),
                f"pipeline, {args.workers} processes, {args.size}x{args.size}":
                    lambda: pipeline_fields_per_s(manifest, args.size, args.workers),
            }
            for name, run in runs.items():
                best[name] = max(best.get(name, 0.0), run())
        names = list(best)
        ratios = {"pipeline_vs_bare": best[names[2]] / best[names[0]],
                  "two_vs_one_process": best[names[3]] / best[names[2]]}
    width = max(map(len, names)) + 2
    print(f"\n{'what':<{width}}{'fields/s':>10}")
    for name in names:
        print(f"{name:<{width}}{best[name]:>10.1f}")
    labels = {"pipeline_vs_bare": "pipeline / bare Farneback (1 core)",
              "two_vs_one_process": f"{args.workers} processes / 1 process"}
    print()
    for key, value in ratios.items():
        verdict = "meets" if value >= TARGETS[key] else "BELOW"
        print(f"{labels[key]:<{width}}{value:>10.2f}   target >= {TARGETS[key]:.2f}: {verdict}")
    print(f"\nload average after (1, 5, 15 min): {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
