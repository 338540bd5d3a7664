"""Benchmark of the synthetic dataset generator on the set of a profile (default: ``ci``).

Generates the whole set into a temporary folder with 1 and with 2 worker processes
(``--workers``) and prints, for each, the wall-clock time, clips per second and frames per
second (pool start-up included), and the speed-up. Then checks the two runs produced the
same files (the output must not depend on the number of workers) and describes the set:
its size on disk and the spread of the clip formats (frames, seconds, fps, frame sizes).
Other work on the machine slows it down: the load average is printed before and after.
The ``ci`` set should take under 25 s with 2 workers on quiet cores (hard limit 60 s). Usage:
``python ci/bench_generate.py [--profile ci] [--seed 42] [--workers 1 2]``
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from course_utils import config
from course_utils.synthetic import generate_dataset

BUDGET_S = 60.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", choices=config.PROFILES)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    spec = config.resolve_config(args.profile, seed=args.seed).synthetic
    print(f"generator benchmark, profile {args.profile}: {spec}")
    print(f"load average before (1, 5, 15 min): {load()} on {os.cpu_count()} cores")
    rows, checksums = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for workers in args.workers:
            start = time.perf_counter()
            manifest = generate_dataset(Path(scratch) / f"w{workers}", spec, seed=args.seed, workers=workers,
                                        progress=False)
            seconds = time.perf_counter() - start
            frames = int(manifest["frames"].sum())
            rows.append((workers, seconds, len(manifest) / seconds, frames / seconds))
            checksums.append(tuple(manifest["sha256"]))
            folder = Path(scratch) / f"w{workers}"
            videos = sum((folder / rel).stat().st_size for rel in manifest["path"])
            total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"\n{len(manifest)} clips, {videos / 1e6:.1f} MB of video, {total / 1e6:.1f} MB with ground truth")
    for column in ("frames", "duration_s"):
        values = manifest[column]
        print(f"  {column}: min {values.min():g}, median {values.median():g}, max {values.max():g}")
    print("  fps: " + ", ".join(f"{k:g}: {v}" for k, v in manifest["fps"].value_counts().sort_index().items()))
    sizes = manifest.groupby(["width", "height"]).size()
    print("  size: " + ", ".join(f"{w}x{h}: {v}" for (w, h), v in sizes.items()))
    print(f"\n{'workers':>7} {'seconds':>8} {'clips/s':>8} {'frames/s':>9}")
    for workers, seconds, clips, frames in rows:
        print(f"{workers:>7} {seconds:>8.1f} {clips:>8.1f} {frames:>9.0f}")
    if len(rows) > 1:
        print(f"\nspeed-up {rows[-1][0]} vs {rows[0][0]} workers: {rows[0][1] / rows[-1][1]:.2f}x")
    same = all(c == checksums[0] for c in checksums)
    print(f"identical videos whatever the workers: {'yes' if same else 'NO'}")
    if args.profile == "ci":
        best = min(seconds for _, seconds, _, _ in rows)
        print(f"ci set within the {BUDGET_S:.0f} s budget: {'yes' if best < BUDGET_S else 'NO'} ({best:.1f} s)")
    print(f"load average after (1, 5, 15 min): {load()}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
