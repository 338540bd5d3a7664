"""Benchmark of streaming recognition on one core: decode only, model only, end to end.

One run, one thread everywhere (OpenCV's decoder opened with ``CAP_PROP_N_THREADS = 1``, since
``cv2.setNumThreads(1)`` does not limit it; LiteRT with ``num_threads=1``), on one 640x480 MPEG-4
video made from the ci test stream (``streaming.make_test_stream``, each frame scaled up):

- decode only: frames/s of decoding the file;
- decode + fit: frames/s of decoding and fitting every frame to the model's input (what the
  recognizer does per frame);
- model only: windows/s of the interpreter on prepared windows, and the frames/s that rate
  sustains at the recognizer's stride;
- end to end: frames/s of ``ActionRecognizer.stream`` over the file (decode + window + model),

for notebook 09's FP32 and INT8 LiteRT exports of ``c3d_v2``, against the targets: end to end at
least 0.8x min(decode rate, model-only rate) and at least 300 frames/s (10x real time at 30 fps)
with INT8. The decode rate of the target is decode + fit: no recognizer can skip bringing a
640x480 frame to the model's input, and that resize alone costs about as much as decoding (the
ratio to decode only is printed too). The recognizer retrieves and fits only the frames a window
can use (every second one at ``frame_step=2``); the others are decoded and dropped. Then the
two-stream path (09's INT8 ``flow_cnn`` on Farneback flow computed online), as measured. Each
rate is timed over whole passes for at least ``--seconds``. Usage:
``python ci/bench_stream.py [--artifacts-dir A] [--data-dir D] [--seconds 3]``
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from course_utils import catalog, config, serving, streaming, video

TARGET_RATIO, TARGET_FPS = 0.8, 300.0
SIZE = (480, 640)


def timed(one_pass, seconds: float) -> tuple[int, float]:
    """(items, seconds) of repeated ``one_pass()`` calls (each returns its item count) for at least ``seconds``."""
    items, start = 0, time.perf_counter()
    while items == 0 or time.perf_counter() - start < seconds:
        items += one_pass()
    return items, time.perf_counter() - start


def make_video(manifest, folder: Path, seed: int) -> Path:
    """The test stream at 640x480: written small, then each frame scaled up (cover and crop) and re-encoded."""
    small = streaming.make_test_stream(manifest, folder / "stream.avi", actions=4, clips_per_action=2, seed=seed)
    path = folder / "stream_640x480.mp4"
    sink = serving.VideoSink(path, small.fps)
    for bgr in streaming.open_source(small.path).frames:
        scale = max(SIZE[0] / bgr.shape[0], SIZE[1] / bgr.shape[1])
        big = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        top, left = (big.shape[0] - SIZE[0]) // 2, (big.shape[1] - SIZE[1]) // 2
        sink.write(big[top:top + SIZE[0], left:left + SIZE[1]])
    return sink.close()


def count_frames(path: Path, fit=None) -> int:
    frames = 0
    for bgr in streaming.open_source(path, threads=1).frames:
        if fit is not None:
            fit(bgr)
        frames += 1
    return frames


def stream_pass(recognizer: streaming.ActionRecognizer, path: Path) -> int:
    """One end-to-end pass over ``path`` with a one-thread decoder; the frames it covered."""
    for _ in recognizer.stream(path, threads=1):
        pass
    return recognizer.stats.frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time of each measurement")
    parser.add_argument("--stride", type=int, default=8)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    cfg = config.resolve_config("ci", data_dir=args.data_dir, artifacts_dir=args.artifacts_dir, seed=args.seed)
    models = {fmt: streaming.exported_model(cfg.artifacts_dir, "c3d_v2", fmt) for fmt in ("fp32", "int8")}
    if not all(models.values()):
        print(f"no LiteRT export of c3d_v2 under {cfg.artifacts_dir / 'export'}: run notebook 09 first", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); one thread per stage")
    with tempfile.TemporaryDirectory() as folder:
        path = make_video(catalog.prepare_dataset(cfg, progress=False), Path(folder), cfg.seed)
        frames = count_frames(path)
        print(f"video: {SIZE[1]}x{SIZE[0]} MPEG-4 (mp4v), {frames} frames of the ci test stream")
        n, s = timed(lambda: count_frames(path), args.seconds)
        decode = n / s
        print(f"decode only:          {decode:8.0f} frames/s")
        probe = streaming.ActionRecognizer.load(models["int8"], stride=args.stride, frame_step=2)
        n, s = timed(lambda: count_frames(path, lambda bgr: streaming.fit_frame(bgr, probe.cover, probe.size)), args.seconds)
        decode_fit = n / s
        print(f"decode + fit to {probe.size} px: {decode_fit:6.0f} frames/s")
        windows = np.stack([probe.preprocess(f) for f in video.load_clip(path, np.arange(probe.window))])[None]
        verdicts = []
        for fmt, model in models.items():
            recognizer = streaming.ActionRecognizer.load(model, num_threads=1, stride=args.stride, frame_step=2)
            n, s = timed(lambda: len(recognizer.probabilities(windows)), args.seconds)
            model_rate = n / s
            n, s = timed(lambda: stream_pass(recognizer, path), args.seconds)
            end_to_end = n / s
            bound = min(decode_fit, model_rate * args.stride)
            print(f"{fmt}: model only {model_rate:7.0f} windows/s ({1e3 / model_rate:.2f} ms, = {model_rate * args.stride:.0f} "
                  f"frames/s at stride {args.stride}); end to end {end_to_end:6.0f} frames/s = "
                  f"{end_to_end / bound:.2f}x min(decode + fit, model), {end_to_end / decode:.2f}x decode only; "
                  f"{recognizer.stats.summary()['latency_ms_median']:.2f} ms latency (median)")
            if fmt == "int8":
                verdicts = [("end to end / min(decode + fit, model)", end_to_end / bound, TARGET_RATIO),
                            ("end to end frames/s", end_to_end, TARGET_FPS)]
        for name, value, target in verdicts:
            print(f"INT8 {name}: {value:.2f} ({'meets' if value >= target else 'BELOW'} the target {target:g})")
        flow_model = streaming.exported_model(cfg.artifacts_dir, "flow_cnn", "int8")
        if flow_model:
            fused = streaming.ActionRecognizer.load(models["int8"], num_threads=1, stride=args.stride, frame_step=2,
                                                    flow_model=flow_model)
            n, s = timed(lambda: stream_pass(fused, path), args.seconds)
            cost = fused.stats.summary()
            print(f"two-stream (INT8 c3d_v2 + INT8 flow_cnn, flow at {fused.flow.flow_size} px online): {n / s:.0f} "
                  f"frames/s end to end; flow {cost['flow_ms_per_frame']:.2f} ms per frame, both models "
                  f"{cost['model_ms_per_window']:.2f} ms per window")
        else:
            print("two-stream: no INT8 export of flow_cnn (notebook 09); skipped")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
