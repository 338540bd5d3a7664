"""Optical flow of course_utils.flow: accuracy on known motion, quantisation, pictures, the cache."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from course_utils import __main__ as cli
from course_utils import cache, datasets, features, flow, video
from course_utils.config import REPO_ROOT


def texture(height: int = 96, width: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth random texture (uint8): every neighbourhood has structure for flow to lock on."""
    noise = np.random.default_rng(seed).random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` with its content moved by (dx, dy) pixels (right and down are positive)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def interior(field: np.ndarray, margin: int = 16) -> np.ndarray:
    return field[margin:-margin, margin:-margin].reshape(-1, 2)


# --- flow of one pair ------------------------------------------------------------------------


@pytest.mark.parametrize("dx, dy", [(3.0, -2.0), (-1.5, 0.5), (6.0, 4.0)])
def test_farneback_recovers_a_known_translation(dx, dy):
    image = texture()
    field = flow.farneback(image, shifted(image, dx, dy))
    assert field.shape == (96, 96, 2) and field.dtype == np.float32
    median = np.median(interior(field), axis=0)
    assert np.allclose(median, (dx, dy), atol=0.15), median
    endpoint_error = np.linalg.norm(interior(field) - (dx, dy), axis=1)
    assert np.percentile(endpoint_error, 90) < 0.5


def test_the_pyramid_follows_motion_larger_than_the_window():
    # Without a pyramid a 12 px move is lost; two half-size levels recover it.
    image = texture(128, 128)
    moved = shifted(image, 12.0, 0.0)
    pyramid = np.median(interior(flow.farneback(image, moved, levels=2), 20), axis=0)[0]
    flat = np.median(interior(flow.farneback(image, moved, levels=0), 20), axis=0)[0]
    assert abs(pyramid - 12.0) < 0.2 and abs(flat - 12.0) > 5.0


@pytest.mark.parametrize("size, expected", [(64, 1), (112, 1), (128, 2), (320, 3)])
def test_pyramid_levels_tells_how_many_levels_opencv_really_uses(size, expected):
    assert flow.pyramid_levels(size, size, levels=3) == expected
    image = texture(size, size)
    moved = shifted(image, 3.0, 1.0)
    used = flow.farneback(image, moved, levels=expected)
    assert np.array_equal(flow.farneback(image, moved, levels=expected + 2), used)  # more is ignored
    assert not np.array_equal(flow.farneback(image, moved, levels=expected - 1), used)


def test_similarity_motion_returns_the_true_flow_of_the_moved_image():
    image = texture(128, 128)
    moved, truth = flow.similarity_motion(image, rotate_deg=6.0, zoom=1.05, shift=(2.0, -1.0))
    assert moved.shape == image.shape and truth.shape == (128, 128, 2) and truth.dtype == np.float32
    ys, xs = np.mgrid[0:128, 0:128].astype(np.float32)
    # Every pixel of the first image is found where the true flow says, in the second.
    found = cv2.remap(moved, xs + truth[..., 0], ys + truth[..., 1], cv2.INTER_CUBIC)
    assert np.abs(found.astype(int) - image)[20:-20, 20:-20].mean() < 2.0
    _, shift_only = flow.similarity_motion(image, shift=(3.0, -2.0))
    assert np.allclose(shift_only, (3.0, -2.0), atol=1e-4)


def test_farneback_follows_rotation_and_zoom():
    image = texture(128, 128)
    moved, truth = flow.similarity_motion(image, rotate_deg=4.0, zoom=1.04)
    estimate = flow.farneback(image, moved)
    assert flow.endpoint_error(estimate, truth, margin=20) < 0.25
    assert flow.endpoint_error(np.zeros_like(truth), truth, margin=20) > 2.0  # the motion is not small
    assert flow.endpoint_error(estimate, truth, margin=20, statistic="median") <= flow.endpoint_error(
        estimate, truth, margin=20)


def test_compute_flow_takes_rgb_or_gray_and_resizes():
    base = texture(120, 160)
    gray = np.stack([shifted(base, 2.0 * t, 0.0) for t in range(4)])
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    from_gray = flow.compute_flow(gray)
    assert from_gray.shape == (3, 120, 160, 2) and from_gray.dtype == np.float32
    assert np.allclose(flow.compute_flow(rgb), from_gray, atol=1e-4)
    small = flow.compute_flow(gray, size=40)  # 160 px -> 40 px: 2 px/frame becomes 0.5 px/frame
    assert small.shape == (3, 40, 40, 2)
    assert abs(np.median(interior(small[1], 8)[:, 0]) - 0.5) < 0.1
    with pytest.raises(ValueError, match="at least 2 frames"):
        flow.compute_flow(gray[:1])


def test_methods_and_parameters_are_checked():
    with pytest.raises(flow.FlowError, match="allowed: farneback, tvl1"):
        flow.compute_flow(np.zeros((2, 8, 8), np.uint8), method="lucas")
    with pytest.raises(flow.FlowError, match="unknown Farneback parameters"):
        flow.flow_function("farneback", window=3)


def test_tvl1_availability_check_matches_opencv():
    assert flow.tvl1_available() == hasattr(getattr(cv2, "optflow", None), "DualTVL1OpticalFlow_create")


def test_without_opencv_contrib_tvl1_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delattr(cv2, "optflow", raising=False)
    assert not flow.tvl1_available()
    with pytest.raises(flow.FlowError, match="opencv-contrib-python-headless"):
        flow.require_tvl1()
    with pytest.raises(flow.FlowError, match="cv2.optflow"):
        flow.compute_flow(np.zeros((2, 8, 8), np.uint8), method="tvl1")
    manifest = pd.DataFrame(columns=datasets.MANIFEST_COLUMNS)
    manifest.attrs["root"] = str(tmp_path)
    with pytest.raises(flow.FlowError):
        cache.extract_flow_cache(manifest, tmp_path / "cache", method="tvl1", progress=False)
    assert not (tmp_path / "cache").exists()


@pytest.mark.skipif(not flow.tvl1_available(), reason="this OpenCV has no TV-L1 (opencv-contrib missing)")
def test_tvl1_recovers_a_known_translation():
    image = texture()
    field = flow.compute_flow(np.stack([image, shifted(image, 2.0, -1.0)]), method="tvl1")[0]
    assert np.allclose(np.median(interior(field), axis=0), (2.0, -1.0), atol=0.15)


# --- quantisation ----------------------------------------------------------------------------


def test_quantisation_round_trip_error_is_half_a_step():
    # 256 codes over [-20, 20] are 255 steps of 40/255 px; rounding moves a value by at most
    # half a step, 20/255 = 0.078 px (plus float32 rounding, < 1e-5 px at this range).
    rng = np.random.default_rng(0)
    inside = rng.uniform(-flow.BOUND, flow.BOUND, (64, 32, 32, 2)).astype(np.float32)
    codes = flow.quantize(inside)
    assert codes.dtype == np.uint8 and codes.shape == inside.shape
    error = np.abs(flow.dequantize(codes) - inside)
    assert flow.quantization_error_bound() == pytest.approx(flow.BOUND / 255)
    assert error.max() <= flow.quantization_error_bound() + 1e-5
    assert error.max() > 0.95 * flow.quantization_error_bound()  # the bound is tight, not loose


def test_quantisation_clips_at_the_bound_and_maps_its_ends_to_0_and_255():
    values = np.array([-1e6, -25.0, -20.0, 0.0, 20.0, 25.0, 1e6], np.float32)
    codes = flow.quantize(values)
    assert codes.tolist() == [0, 0, 0, 128, 255, 255, 255]
    restored = flow.dequantize(codes)
    assert np.allclose(restored[[1, 5]], [-20.0, 20.0]) and abs(restored[3]) <= flow.quantization_error_bound() + 1e-5


def test_quantize_matches_the_tsn_formula():
    values = np.random.default_rng(1).uniform(-30, 30, 5000).astype(np.float32)
    expected = np.rint(np.clip((values + 20.0) * 255.0 / 40.0, 0, 255))
    assert np.abs(flow.quantize(values).astype(int) - expected).max() <= 1  # ties may round either way


# --- pictures --------------------------------------------------------------------------------


def test_flow_to_rgb_codes_direction_as_hue_and_speed_as_brightness():
    field = np.zeros((4, 4, 2), np.float32)
    field[0, 0] = (3.0, 4.0)
    field[0, 1] = (-3.0, -4.0)
    assert flow.magnitude(field)[0, 0] == pytest.approx(5.0)
    picture = flow.flow_to_rgb(field)
    assert picture.shape == (4, 4, 3) and picture.dtype == np.uint8
    assert picture[1:].max() == 0  # still pixels are black
    assert picture[0, 0].max() == 255 and not np.array_equal(picture[0, 0], picture[0, 1])
    wheel = flow.color_wheel(101)  # the key shows (3, 4) at centre + (3, 4) * radius / 5
    y, x = 50 + round(4 * 50 / 5), 50 + round(3 * 50 / 5)
    assert np.abs(wheel[y - 1, x - 1].astype(int) - picture[0, 0]).max() <= 12
    assert (wheel[0, 0] == 255).all()  # outside the disc


def test_draw_arrows_marks_moving_pixels_only():
    image = np.zeros((32, 32), np.uint8)
    field = np.zeros((32, 32, 2), np.float32)
    field[:, 16:] = (3.0, 0.0)
    drawn = flow.draw_arrows(image, field, step=8)
    assert drawn.shape == (32, 32, 3) and image.max() == 0
    assert drawn[:, :14].max() == 0 and drawn[:, 16:].max() > 0


# --- features --------------------------------------------------------------------------------


def blob_flow(dy: float = 2.0, moving_fields: int = 4, fields: int = 8, top: int = 10, left: int = 12,
              seed: int = 0) -> np.ndarray:
    """Flow of an 8x8 patch moving vertically by ``dy`` px/field for the first
    ``moving_fields`` fields, then still, over a background of small random noise."""
    rng = np.random.default_rng(seed)
    field = rng.normal(0, 0.05, (fields, 40, 40, 2)).astype(np.float32)
    field[:moving_fields, top:top + 8, left:left + 8, 1] += dy
    return field


def _hof(features: np.ndarray, segment: int, bins: int = 6, grid: int = 3) -> np.ndarray:
    per_segment = bins + 3 * grid * grid + 1
    return features[segment * per_segment:segment * per_segment + bins]


def test_flow_features_keep_direction_and_order_of_motion():
    # "Sit down" (moving down, then still) against its reverse "stand up" (still, then up).
    sit_flow = blob_flow()
    sit, stand = features.flow_features(sit_flow), features.flow_features(-sit_flow[::-1])
    assert sit.shape == (4 * (6 + 27 + 1) + 2 * 6 + 2,) and sit.dtype == np.float32
    assert _hof(sit, 0).argmax() == 5 and _hof(sit, 3).max() < 0.5  # down first, nothing clear at the end
    assert _hof(stand, 3).argmax() == 0 and _hof(stand, 0).max() < 0.5  # up at the end
    from_codes = features.flow_features(flow.quantize(sit_flow))
    assert np.allclose(_hof(from_codes, 0), _hof(sit, 0), rtol=0.1, atol=0.01)


def test_flow_features_ignore_camera_shake_and_where_the_motion_is():
    base = features.flow_features(blob_flow())
    shaken = blob_flow()
    shaken += np.float32([1.5, -0.7])  # the whole picture moves: the camera, not the person
    assert np.allclose(features.flow_features(shaken), base, atol=1e-3)
    elsewhere = features.flow_features(blob_flow(top=24, left=4))
    assert np.allclose(elsewhere, base, atol=0.05)


def test_foreground_flow_keeps_motion_and_drops_noise():
    field = blob_flow()
    moving = features.foreground_flow(field)
    assert moving.shape == field.shape and moving.dtype == np.float32
    noise_left = flow.magnitude(field[:, :10]).mean()  # rows above the patch, and the still fields
    assert flow.magnitude(moving[:, :10]).mean() < 0.1 * noise_left and flow.magnitude(moving[4:]).mean() < 0.01
    assert np.allclose(moving[:4, 10:18, 12:20, 1], 2.0, atol=0.3)


def test_flow_features_of_short_clips_have_the_same_length():
    assert features.flow_features(blob_flow(fields=1, moving_fields=1)).shape == features.flow_features(blob_flow()).shape
    with pytest.raises(ValueError, match="T-1, H, W, 2"):
        features.flow_features(np.ones((0, 8, 8, 2), np.float32))


def test_motion_curve_follows_the_vertical_motion_of_what_moves():
    curve = features.motion_curve(blob_flow(dy=2.0, moving_fields=4, fields=8), points=8)
    assert curve.shape == (8,)
    assert np.all(curve[:3] > 1.5) and np.all(np.abs(curve[-3:]) < 0.1)
    assert np.all(features.motion_curve(-blob_flow(), points=8)[:3] < -1.5)
    assert np.allclose(features.motion_curve(blob_flow(), points=8, what="dx"), 0, atol=0.1)
    speed = features.motion_curve(blob_flow(), points=8, what="speed")
    assert np.all(speed[:3] > 5 * speed[-3:].max())
    with pytest.raises(ValueError, match="dx, dy, speed"):
        features.motion_curve(blob_flow(), what="up")


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mpeg4_avi", "gray_video", "h264_1080p"])
def test_fast_gray_decode_gives_the_flow_of_the_rgb_decode(request, name):
    # The luma plane may differ from RGB->gray by a gain and an offset; the flow must not.
    clip = request.getfixturevalue(name)
    fast = video.read_video(clip.path, gray=True)
    luma = flow.read_gray_video(clip.path)
    assert luma.shape == fast.shape and luma.dtype == np.uint8
    for index in (0, -1):  # the same pictures (each frame its own copy), up to gain and offset
        assert np.corrcoef(luma[index].ravel(), fast[index].ravel())[0, 1] > 0.99
    assert np.array_equal(luma[0], luma[-1]) == np.array_equal(fast[0], fast[-1])
    size = 64
    difference = flow.compute_flow(flow.read_gray_video(clip.path, size)) - flow.compute_flow(fast, size=size)
    assert np.linalg.norm(difference, axis=-1).mean() < 0.05


def test_fast_gray_decode_names_bad_files(bad_videos, tmp_path):
    for kind, path in bad_videos.items():
        with pytest.raises(video.VideoError, match=path.name):
            flow.read_gray_video(path)
    with pytest.raises(video.VideoMissingError):
        flow.read_gray_video(tmp_path / "missing.avi")


# --- the cache -------------------------------------------------------------------------------


@pytest.fixture()
def good_manifest(mixed_class_tree):
    """Manifest of the good clips of the mixed tree."""
    frame, _ = datasets.scan_class_folder(mixed_class_tree.root, workers=1, progress=False)
    frame.attrs["root"] = str(mixed_class_tree.root)
    return frame


def _arrays(paths):
    return {Path(p).name: cache.load_flow(p, dequantize_to_pixels=False) for p in paths}


def test_cache_holds_the_quantised_flow_of_every_video(good_manifest, tmp_path):
    summary = cache.extract_flow_cache(good_manifest, tmp_path, size=32, workers=1, progress=False)
    assert (summary.done, summary.skipped, summary.failures) == (len(good_manifest), 0, [])
    assert summary.fields == int((good_manifest["frames"] - 1).sum()) and summary.fields_per_s > 0
    root = Path(good_manifest.attrs["root"])
    for path, row in zip(summary.paths, good_manifest.itertuples()):
        assert path == cache.cache_file(tmp_path, row.path, row.sha256) and path.is_relative_to(tmp_path)
        expected = flow.quantize(flow.compute_flow(flow.read_gray_video(root / row.path, 32)))
        assert np.array_equal(cache.load_flow(path, dequantize_to_pixels=False), expected)
        assert cache.load_flow(path).dtype == np.float32


def test_cache_file_mirrors_the_manifest_path_and_the_checksum(tmp_path):
    path = cache.cache_file(tmp_path, "wave/p01_r1.mp4", "ab" * 32)
    assert path == tmp_path / "wave" / f"p01_r1.mp4-{'ab' * 6}.npy"
    assert cache.cache_file(tmp_path, "wave/p01_r1.mp4", "cd" * 32) != path


def test_corrupt_videos_are_reported_and_the_rest_completes(good_manifest, mixed_class_tree, tmp_path):
    broken = pd.DataFrame({"path": list(mixed_class_tree.bad), "label": "clap", "subject": "x", "split": "train",
                           "frames": 40, "fps": 25.0, "width": 320, "height": 240, "sha256": "f" * 64})
    manifest = pd.concat([good_manifest, broken], ignore_index=True)
    manifest.attrs["root"] = str(mixed_class_tree.root)
    summary = cache.extract_flow_cache(manifest, tmp_path, size=32, workers=2, progress=False)
    n_good = len(good_manifest)
    assert summary.done == n_good and all(p is not None and p.is_file() for p in summary.paths[:n_good])
    assert summary.paths[n_good:] == [None] * len(broken)
    reasons = {f.path: f.reason for f in summary.failures}
    assert set(reasons) == set(mixed_class_tree.bad)
    by_kind = {kind: reasons[rel] for rel, kind in mixed_class_tree.bad.items()}
    assert "empty" in by_kind["empty"] and "not a video" in by_kind["not_a_video"]
    assert "truncated" in by_kind["truncated_avi"] and "truncated" in by_kind["truncated_mp4"]
    assert not list(tmp_path.rglob(".*.tmp*"))


def test_rerun_skips_complete_files(good_manifest, tmp_path, monkeypatch):
    first = cache.extract_flow_cache(good_manifest, tmp_path, size=32, workers=1, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in first.paths}
    monkeypatch.setattr(cache, "_extract_one", lambda job: pytest.fail(f"{job.rel_path} was computed again"))
    again = cache.extract_flow_cache(good_manifest, tmp_path, size=32, workers=1, progress=False)
    assert (again.done, again.skipped, again.fields) == (0, len(good_manifest), 0)
    assert again.paths == first.paths and {p: p.stat().st_mtime_ns for p in again.paths} == stamps


def test_damaged_cache_file_is_recomputed(good_manifest, tmp_path):
    first = cache.extract_flow_cache(good_manifest, tmp_path, size=32, workers=1, progress=False)
    good = cache.load_flow(first.paths[0], dequantize_to_pixels=False)
    first.paths[0].write_bytes(first.paths[0].read_bytes()[:200])  # e.g. a copy cut short by a full disk
    with pytest.raises(video.CacheError, match=first.paths[0].name):
        cache.load_flow(first.paths[0])
    again = cache.extract_flow_cache(good_manifest, tmp_path, size=32, workers=1, progress=False)
    assert (again.done, again.skipped) == (1, len(good_manifest) - 1)
    assert np.array_equal(cache.load_flow(again.paths[0], dequantize_to_pixels=False), good)


def test_cache_refuses_to_mix_settings(good_manifest, tmp_path):
    cache.extract_flow_cache(good_manifest, tmp_path, size=32, workers=1, progress=False)
    with pytest.raises(flow.FlowError, match="choose another folder"):
        cache.extract_flow_cache(good_manifest, tmp_path, size=48, workers=1, progress=False)
    with pytest.raises(flow.FlowError, match="size=0"):
        cache.extract_flow_cache(good_manifest, tmp_path / "other", size=0, progress=False)


def test_manifest_may_be_a_csv_its_folder_or_a_frame(good_manifest, tmp_path):
    csv = datasets.write_manifest(good_manifest, Path(good_manifest.attrs["root"]) / "flow_test_manifest.csv")
    try:
        from_csv = cache.extract_flow_cache(csv, tmp_path / "a", size=32, workers=1, progress=False)
        assert from_csv.done == len(good_manifest)
    finally:
        csv.unlink()
    loose = good_manifest.copy()
    loose.attrs = {}
    with pytest.raises(flow.FlowError, match="load_manifest"):
        cache.extract_flow_cache(loose, tmp_path / "b", progress=False)


def test_load_flow_errors_name_the_file(tmp_path):
    with pytest.raises(video.CacheError, match="no cached flow"):
        cache.load_flow(tmp_path / "missing.npy")
    wrong = cache.save_npy_atomic(tmp_path / "wrong.npy", np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(video.CacheError, match=r"wrong\.npy.*\(T-1, H, W, 2\) uint8"):
        cache.load_flow(wrong)


_RUN = """
import sys
from course_utils import cache
summary = cache.extract_flow_cache(sys.argv[1], sys.argv[2], size=int(sys.argv[3]), workers=2, progress=False)
assert not summary.failures, summary.failures
"""


@pytest.fixture()
def long_manifest(tmp_path, write_clip):
    """Twelve 40-frame clips: long enough to kill an extraction in the middle."""
    root = tmp_path / "clips"
    for i in range(12):
        write_clip(root / ("left" if i % 2 else "right") / f"clip_p{i:02d}.avi", frames=40, height=96,
                   width=128, seed=i)
    frame, failures = datasets.scan_class_folder(root, workers=2, progress=False)
    assert not failures
    return datasets.write_manifest(frame, root / datasets.MANIFEST_NAME)


def test_killed_extraction_resumes_to_the_uninterrupted_result(long_manifest, tmp_path):
    cache_dir, reference = tmp_path / "cache_dir", tmp_path / "reference"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-c", _RUN, str(long_manifest), str(cache_dir), "112"],
                               stderr=subprocess.PIPE, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    def finished() -> list[Path]:  # files under their final name (a writer's hidden temporary ends in .npy too)
        return [p for p in cache_dir.rglob("*.npy") if not p.name.startswith(".")]

    while not finished() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    assert process.poll() is None, process.stderr.read().decode()
    os.killpg(process.pid, signal.SIGKILL)  # the run and its worker processes, as `kill -9`
    process.wait()
    while time.monotonic() < deadline:  # until the killed workers are gone too
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    visible = finished()
    assert 0 < len(visible) < 12, "the run was not killed in the middle"
    for path in visible:  # whatever carries a final name is a whole file
        assert cache.load_flow(path, dequantize_to_pixels=False).shape == (39, 112, 112, 2)
    resumed = cache.extract_flow_cache(long_manifest, cache_dir, size=112, workers=2, progress=False)
    assert resumed.skipped == len(visible) and resumed.done == 12 - len(visible) and not resumed.failures
    assert not list(cache_dir.rglob(".*.tmp*"))  # the killed writers' temp files are gone
    whole = cache.extract_flow_cache(long_manifest, reference, size=112, workers=1, progress=False)
    resumed_arrays, whole_arrays = _arrays(resumed.paths), _arrays(whole.paths)
    assert resumed_arrays.keys() == whole_arrays.keys()
    assert all(np.array_equal(resumed_arrays[name], whole_arrays[name]) for name in whole_arrays)


def test_command_line_lists_failures_and_exits_1(good_manifest, mixed_class_tree, tmp_path, capsys):
    bad_rel = next(iter(mixed_class_tree.bad))
    manifest = pd.concat([good_manifest, good_manifest.iloc[:1].assign(path=bad_rel)], ignore_index=True)
    csv = datasets.write_manifest(manifest, tmp_path / "manifest.csv")
    for rel in [*good_manifest["path"], bad_rel]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((mixed_class_tree.root / rel).read_bytes())
    code = cli.main(["flow", str(csv), str(tmp_path / "cache"), "--size", "32", "--workers", "1", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and bad_rel in captured.err
    assert f"{len(good_manifest)} videos computed" in captured.out


# --- the real clips --------------------------------------------------------------------------


def test_real_clips_flow_has_one_field_per_frame_pair(ps7_manifest, tmp_path):
    subset = ps7_manifest.iloc[::9].copy()
    subset.attrs = dict(ps7_manifest.attrs)
    summary = cache.extract_flow_cache(subset, tmp_path, size=64, workers=2, progress=False)
    assert not summary.failures
    for path, frames in zip(summary.paths, subset["frames"]):
        field = cache.load_flow(path)
        assert field.shape == (frames - 1, 64, 64, 2)
        # A person raises and lowers the arms in front of a still camera: clear motion, none near 20 px.
        speed = flow.magnitude(field)
        assert speed.mean(axis=(1, 2)).max() > 0.1 and np.mean(speed >= flow.BOUND) < 1e-3
