"""Streaming recognition: formats, preprocessing, windows, smoothing, timelines, the test stream.

The models are tiny (``fixtures_models``: `c3d_v2` on 8 frames of 16 px, untrained, 3 classes) and
built once per session (the ``tiny_models`` fixture); most tests use a stand-in model instead.
"""
import time

import numpy as np
import pandas as pd
import pytest

from course_utils import cache, runs, streaming, video
from fixtures_models import CLASSES, SHAPE


class FakeRunner:
    """A model stand-in: class = the brightest third of the frame (left, middle, right), optionally slow."""

    input_shape, num_classes = SHAPE, len(CLASSES)

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds

    def predict(self, x):
        time.sleep(self.seconds)
        thirds = np.stack([part.mean(axis=(1, 2, 3, 4)) for part in np.array_split(x.astype(float), 3, axis=3)], 1)
        e = np.exp((thirds - thirds.max(1, keepdims=True)) / 10)
        return (e / e.sum(1, keepdims=True)).astype(np.float32)


def bright_frames(side: int, count: int, size=(48, 64)) -> list[np.ndarray]:
    """``count`` RGB frames whose ``side`` third (0 left, 1 middle, 2 right) is bright."""
    frame = np.full((*size, 3), 30, np.uint8)
    width = size[1] // 3
    frame[:, side * width:(side + 1) * width] = 220
    return [frame.copy() for _ in range(count)]


# --------------------------------------------------------------------------- preprocessing and formats


@pytest.mark.parametrize("shape", [(96, 96), (96, 128), (96, 170), (480, 640), (1080, 1920)])
def test_preprocessing_is_the_training_crop(shape):
    """What the model sees is the evaluation crop of the frame cache training reads
    (``pipeline.cache_spec``): frames fitted to ``cache.cache_side`` (54 px for 48), centre 48 px."""
    runner = FakeRunner()
    runner.input_shape = (SHAPE[0], 48, 48, 3)
    recognizer = streaming.ActionRecognizer(runner, CLASSES)
    assert (recognizer.cover, recognizer.size) == (cache.cache_side(48), 48) == (54, 48)
    rng = np.random.default_rng(1)
    rgb = cv2_blur(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    expected = video.center_crop(video.fit_frames(rgb, 54, "crop"), 48)
    got = recognizer.preprocess(rgb)
    assert got.shape == (48, 48, 3) and got.dtype == np.uint8
    difference = np.abs(got.astype(int) - expected.astype(int))
    if max(shape) < 2 * 2 * 54:  # no halving: identical
        assert difference.max() == 0
    else:  # halved first: equal to rounding
        assert difference.mean() < 1.0 and difference.max() <= 8


def cv2_blur(image):
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 3)


def test_every_format_gives_the_same_probabilities(tiny_models):
    rng = np.random.default_rng(2)
    clip = rng.integers(0, 256, (20, 40, 60, 3), dtype=np.uint8)
    reference = streaming.ActionRecognizer.load(tiny_models["keras"], class_names=CLASSES).predict(clip)
    assert sorted(reference.probabilities) == CLASSES
    assert reference.confidence == max(reference.probabilities.values())
    assert abs(sum(reference.probabilities.values()) - 1) < 1e-4
    for fmt, tolerance in (("fp32", 1e-4), ("onnx", 1e-4), ("int8", 0.05)):
        got = streaming.ActionRecognizer.load(tiny_models[fmt]).predict(clip)
        assert got.label in CLASSES
        assert np.allclose([got.probabilities[c] for c in CLASSES], [reference.probabilities[c] for c in CLASSES],
                           atol=tolerance), fmt


def test_a_model_without_card_needs_class_names(tiny_models, tmp_path):
    with pytest.raises(streaming.StreamingError, match="no model card"):
        streaming.ActionRecognizer.load(tiny_models["keras"])
    with pytest.raises(streaming.StreamingError, match="differ"):
        streaming.ActionRecognizer.load(tiny_models["fp32"], class_names=["a", "b", "c"])
    with pytest.raises(streaming.StreamingError, match="no such model file"):
        streaming.load_runner(tmp_path / "missing.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(streaming.StreamingError, match="broken.tflite: LiteRT cannot load it"):
        streaming.load_runner(broken)
    other = tmp_path / "model.pt"
    other.write_bytes(b"x")
    with pytest.raises(streaming.StreamingError, match="unknown model format"):
        streaming.load_runner(other)


# --------------------------------------------------------------------------- windows and smoothing


def test_windows_cover_the_stream_every_stride():
    recognizer = streaming.ActionRecognizer(FakeRunner(), CLASSES, stride=4, frame_step=2)
    frames = bright_frames(0, 20) + bright_frames(2, 30)
    results = list(recognizer.stream(frames, fps=10))
    span = (SHAPE[0] - 1) * 2 + 1
    assert recognizer.span == span == 15
    assert [r.end for r in results] == list(range(span, 51, 4))
    assert [r.start for r in results] == [e - span for e in range(span, 51, 4)]
    assert recognizer.stats.frames == 50 and recognizer.stats.windows == len(results)
    assert results[0].raw_label == "clap" and results[-1].raw_label == "wave"
    assert not any(r.padded for r in results)


def test_a_file_gives_the_same_windows_whether_unused_frames_are_retrieved_or_not(tmp_path):
    """With frame_step 2 and an even stride, odd frames never reach the model: the recognizer skips
    retrieving them from a file, unless something needs every frame (a live view's on_frame)."""
    path = video.write_video(tmp_path / "clip.avi", np.stack(bright_frames(0, 20) + bright_frames(2, 30)), 10)
    recognizer = streaming.ActionRecognizer(FakeRunner(), CLASSES, stride=4, frame_step=2)
    skipped = [(r.start, r.end, r.raw_label, r.probs.tolist()) for r in recognizer.stream(path)]
    seen = []
    every = [(r.start, r.end, r.raw_label, r.probs.tolist())
             for r in recognizer.stream(path, on_frame=lambda bgr, i, latest: seen.append(bgr is not None))]
    assert skipped == every and len(seen) == recognizer.stats.frames == 50 and all(seen)
    assert skipped[0][2] == "clap" and skipped[-1][2] == "wave"


def test_a_clip_shorter_than_a_window_is_scored_once_padded():
    recognizer = streaming.ActionRecognizer(FakeRunner(), CLASSES)
    results = list(recognizer.stream(bright_frames(1, 3), fps=10))
    assert len(results) == 1 and results[0].padded
    assert (results[0].start, results[0].end, results[0].label) == (0, 3, "jump")
    assert streaming.frame_labels(results, 3, CLASSES).tolist() == [1, 1, 1]
    with pytest.raises(streaming.StreamingError, match="no frame"):
        list(recognizer.stream([], fps=10))


def test_hysteresis_keeps_the_label_through_flicker():
    flicker = [np.array([0.5, 0.45, 0.05]), np.array([0.45, 0.5, 0.05])] * 5
    raw = streaming.Smoother("none")
    smooth = streaming.Smoother("ema", alpha=0.5, hysteresis=0.1)
    raw_labels = [raw.update(p)[0] for p in flicker]
    smooth_labels = [smooth.update(p)[0] for p in flicker]
    assert streaming.label_switches(np.array(raw_labels)) == 9
    assert set(smooth_labels) == {0}
    switch = streaming.Smoother("ema", alpha=0.5, hysteresis=0.1)
    labels = [switch.update(p)[0] for p in [np.array([0.95, 0.05, 0.0])] + [np.array([0.0, 1.0, 0.0])] * 3]
    assert labels == [0, 0, 1, 1]  # 0.475 vs 0.525 is within the margin; 0.24 vs 0.76 is not
    average = streaming.Smoother("average", size=2, hysteresis=0.0)
    average.update(np.array([1.0, 0.0, 0.0]))
    assert np.allclose(average.update(np.array([0.0, 0.0, 1.0]))[1], [0.5, 0.0, 0.5])
    with pytest.raises(ValueError, match="allowed: ema, average, none"):
        streaming.Smoother("median")


def test_frame_skipping_when_the_model_is_slower_than_the_source():
    frames = bright_frames(0, 60)
    slow = streaming.ActionRecognizer(FakeRunner(seconds=0.05), CLASSES, stride=2)
    list(slow.stream(frames, fps=100, realtime=True))
    due = (60 - SHAPE[0]) // 2 + 1
    assert slow.stats.skipped_windows > 0
    assert slow.stats.windows + slow.stats.skipped_windows == due
    assert slow.stats.seconds < 60 / 100 + 0.05 * slow.stats.windows + 0.5  # never fell far behind the source
    offline = streaming.ActionRecognizer(FakeRunner(seconds=0.001), CLASSES, stride=2)
    list(offline.stream(frames, fps=100))
    assert (offline.stats.windows, offline.stats.skipped_windows) == (due, 0)


def test_timeline_switches_and_boundary_delays():
    def result(end, label, confidence=0.5):
        probs = np.eye(3)[CLASSES.index(label)]
        return streaming.WindowResult(0, end - 4, end, label, confidence, label, probs, probs, 0.0)

    results = [result(4, "clap", 0.6), result(6, "clap", 0.8), result(8, "wave", 0.9), result(10, "wave", 0.7)]
    labels = streaming.frame_labels(results, 12, CLASSES)
    assert labels.tolist() == [0] * 7 + [2] * 5  # the first window back-fills frames 0-2
    segments = streaming.timeline(results, 12, 2.0, CLASSES)
    assert [(s.start, s.end, s.label) for s in segments] == [(0, 7, "clap"), (7, 12, "wave")]
    assert segments[0].confidence == pytest.approx(0.7) and segments[1].end_s == 6.0
    truth = np.array([0] * 5 + [2] * 5 + [1] * 2)
    assert streaming.boundary_delays(labels, truth) == [2, None]
    metrics = streaming.stream_metrics(labels, truth)
    assert metrics == {"frame_accuracy": round(8 / 12, 4), "label_switches": 1, "true_switches": 2,
                       "boundaries_found": 1, "boundaries_missed": 1, "mean_delay_frames": 2.0, "max_delay_frames": 2}


def test_two_stream_with_online_flow(tmp_path):
    from course_utils import models, temporal  # noqa: F401 (registers flow_cnn)

    flow_model = models.build_model("flow_cnn", (3, 8, 8, 20), len(CLASSES), filters=(4, 8))
    path = tmp_path / "flow.keras"
    flow_model.save(path)
    runs.write_model_card(path, "flow_cnn", "keras", CLASSES, (3, 8, 8, 20))
    fused = streaming.ActionRecognizer(FakeRunner(), CLASSES, stride=4, flow_runner=streaming.load_runner(path),
                                       flow_weight=0.5)
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(20)]
    results = list(fused.stream(frames, fps=10))
    assert fused.flow.flow_size == 16 and len(fused.flow.fields) == fused.span - 1
    assert fused.stats.flow_s > 0 and fused.stats.summary()["flow_ms_per_frame"] > 0
    rgb_only = streaming.ActionRecognizer(FakeRunner(), CLASSES, stride=4)
    plain = list(rgb_only.stream(frames, fps=10))
    assert len(results) == len(plain)
    assert not np.allclose(results[0].probs, plain[0].probs)  # the flow model's half is in the fused scores
    assert np.allclose(results[0].probs.sum(), 1, atol=1e-5)


# --------------------------------------------------------------------------- the test stream


def test_test_stream_concatenates_held_out_clips(tmp_path, write_clip):
    rows = []
    for label in CLASSES:
        for subject, split in (("p1", "train"), ("p9", "test")):
            rel = f"{label}/{label}_{subject}.avi"
            write_clip(tmp_path / "data" / rel, frames=10 + 3 * CLASSES.index(label), height=48, width=64)
            rows.append({"path": rel, "label": label, "subject": subject, "split": split,
                         "frames": 10 + 3 * CLASSES.index(label), "fps": 15.0, "width": 64, "height": 48})
    manifest = pd.DataFrame(rows)
    manifest.attrs["root"] = str(tmp_path / "data")
    stream = streaming.make_test_stream(manifest, tmp_path / "stream.avi", actions=3, clips_per_action=2, seed=0)
    assert set(stream.clips["source"].str.contains("_p9")) == {True}  # held-out subjects only
    assert sorted(stream.clips["label"]) == CLASSES
    assert stream.clips["start"].tolist() == [0, *stream.clips["end"].tolist()[:-1]]
    info = video.probe_video(stream.path)
    assert (info.frames, info.height, info.width) == (len(stream.labels), 48, 48)
    truth = stream.truth(CLASSES)
    for row in stream.clips.itertuples():
        assert set(truth[row.start:row.end]) == {CLASSES.index(row.label)}


def test_a_missing_webcam_is_a_clear_error():
    with pytest.raises(streaming.StreamingError, match="webcam 97: cannot be opened"):
        streaming.open_source(97)


def test_exported_model_reads_the_export_notebooks_results(tmp_path, tiny_models):
    from course_utils import config

    assert streaming.exported_model(tmp_path) is None
    cfg = config.resolve_config("ci", artifacts_dir=tmp_path)
    target = tmp_path / "export" / "c3d_v2" / "model_int8.tflite"
    target.parent.mkdir(parents=True)
    target.write_bytes(tiny_models["int8"].read_bytes())
    assert streaming.exported_model(tmp_path) == target  # the usual place
    elsewhere = tmp_path / "models" / "mine.tflite"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"x")
    runs.save_results(cfg, "09_export", {}, {}, extra={"exports": {"c3d_v2": {"int8": "models/mine.tflite"}}})
    assert streaming.exported_model(tmp_path) == elsewhere  # what 09 listed wins
    assert streaming.exported_model(tmp_path, "flow_cnn") is None
