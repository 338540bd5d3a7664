"""Decoding, sampling, resizing and the frame cache of course_utils.video."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils import cache, datasets, video

# --- errors: each is typed and names the file -----------------------------------------------

DECODERS = {
    "probe_video": video.probe_video,
    "read_video": video.read_video,
    "load_clip": lambda path: video.load_clip(path, [0]),
    "header_fps": video.header_fps,
}
BAD_KINDS = {"empty": video.VideoEmptyError, "not_a_video": video.NotAVideoError,
             "truncated_avi": video.VideoTruncatedError, "truncated_mp4": video.VideoTruncatedError}


@pytest.mark.parametrize("decoder", DECODERS)
def test_missing_file_is_named(decoder, tmp_path):
    path = tmp_path / "nowhere" / "clip.mp4"
    with pytest.raises(video.VideoMissingError) as caught:
        DECODERS[decoder](path)
    assert caught.value.path == path
    assert str(path) in str(caught.value) and "does not exist" in str(caught.value)


@pytest.mark.parametrize("decoder", ["probe_video", "read_video"])
@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_raises_its_type_naming_the_file(bad_videos, kind, decoder):
    path = bad_videos[kind]
    with pytest.raises(BAD_KINDS[kind]) as caught:
        DECODERS[decoder](path)
    assert caught.value.path == path and path.name in str(caught.value)
    assert caught.value.problem and caught.value.problem in str(caught.value)


def test_error_messages_say_what_is_wrong(bad_videos):
    expected = {"empty": "empty (0 bytes)", "not_a_video": "not a video",
                "truncated_avi": "of the 40 frames in the header", "truncated_mp4": "MP4/MOV signature"}
    for kind, phrase in expected.items():
        with pytest.raises(video.VideoError, match=re.escape(phrase)):
            video.probe_video(bad_videos[kind])


def test_folder_is_not_a_video(tmp_path):
    with pytest.raises(video.NotAVideoError, match="folder"):
        video.probe_video(tmp_path)


def test_too_short_names_both_lengths(mpeg4_avi):
    with pytest.raises(video.VideoTooShortError) as caught:
        video.load_clip(mpeg4_avi.path, [3, 45])
    message = str(caught.value)
    assert mpeg4_avi.path.name in message and "has 40 frames" in message and "at least 46" in message


def test_truncated_tail_past_the_request_is_not_decoded(truncated_avi):
    # Early stop: the first frames of a truncated file are usable...
    assert video.load_clip(truncated_avi, [0, 5]).shape == (2, 240, 320, 3)
    # ...and a request past the damage reports truncation, not "too short".
    with pytest.raises(video.VideoTruncatedError, match="header"):
        video.load_clip(truncated_avi, [35])


@pytest.mark.parametrize("indices", [[], [-1], [[0, 1]], [0.5]])
def test_bad_indices_are_rejected(mpeg4_avi, indices):
    with pytest.raises(ValueError, match=mpeg4_avi.path.name):
        video.load_clip(mpeg4_avi.path, np.array(indices))


# --- probing: counts and fps come from the stream ----------------------------------------------

@pytest.mark.parametrize("name", ["h264_1080p", "mpeg4_avi", "gray_video", "one_frame_video",
                                  "odd_fps_video", "vfr_video"])
def test_probe_matches_what_was_encoded(request, name):
    clip = request.getfixturevalue(name)
    info = video.probe_video(clip.path)
    assert (info.frames, info.width, info.height) == (clip.frames, clip.width, clip.height)
    assert info.fps == pytest.approx(clip.fps, rel=1e-3)
    assert info.variable_fps == clip.variable_fps
    assert info.codec.lower() == clip.codec.lower()
    assert info.duration_s == pytest.approx(clip.frames / clip.fps, rel=1e-3)


def test_vfr_fps_is_measured_not_read_from_header(vfr_video):
    info = video.probe_video(vfr_video.path)
    assert info.variable_fps
    assert info.frames / info.fps == pytest.approx(8 / 3, rel=1e-3)  # 20 frames at 10 fps + 20 at 30


def test_real_ps7_clips_counts_and_fps(ps7_dir):
    infos = [video.probe_video(p) for p in sorted(ps7_dir.glob("*.avi"))]
    assert len(infos) == 27
    assert {(i.width, i.height) for i in infos} == {(640, 480)}
    assert all(i.fps == pytest.approx(29.97, abs=0.01) and not i.variable_fps for i in infos)
    assert all(i.frames == i.header_frames for i in infos)
    assert (min(i.frames for i in infos), max(i.frames for i in infos)) == (61, 115)
    assert {i.container for i in infos} == {"AVI"}


def test_ps7_read_video_agrees_with_probe(ps7_dir):
    path = ps7_dir / "PS7A2P2T1.avi"
    clip = video.read_video(path)
    assert clip.shape == (video.probe_video(path).frames, 480, 640, 3) and clip.dtype == np.uint8


def test_gray_video_decodes_to_equal_channels(gray_video):
    rgb = video.read_video(gray_video.path)
    gray = video.read_video(gray_video.path, gray=True)
    assert rgb.shape == (20, 120, 160, 3) and gray.shape == (20, 120, 160)
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
    assert np.abs(gray.astype(int) - rgb[..., 0]).max() <= 1
    assert video.load_clip(gray_video.path, [0, 5], size=32, gray=True).shape == (2, 32, 32)


def test_iter_frames_in_bgr_and_the_header_fps(mpeg4_avi, gray_video):
    """What streaming decodes: OpenCV's BGR frames unconverted, a chosen decoder thread count."""
    rgb = video.read_video(mpeg4_avi.path)
    assert np.array_equal(np.stack(list(video.iter_frames(mpeg4_avi.path, threads=1, bgr=True))), rgb[..., ::-1])
    assert np.stack(list(video.iter_frames(gray_video.path, bgr=True))).shape == (20, 120, 160, 3)
    assert video.header_fps(mpeg4_avi.path) == pytest.approx(mpeg4_avi.fps)
    kept = list(video.iter_frames(mpeg4_avi.path, threads=1, keep=lambda i: i % 3 == 0))
    assert len(kept) == len(rgb) and all((f is None) == (i % 3 != 0) for i, f in enumerate(kept))
    assert np.array_equal(np.stack(kept[::3]), rgb[::3])


# --- load_clip ----------------------------------------------------------------------------------

def test_load_clip_returns_the_requested_frames_in_order(mpeg4_avi):
    everything = video.read_video(mpeg4_avi.path)
    indices = [7, 2, 2, 39, 0]
    assert np.array_equal(video.load_clip(mpeg4_avi.path, indices), everything[indices])
    assert np.array_equal(video.load_clip(mpeg4_avi.path), everything)


def test_load_clip_resizes_1080p_per_frame(h264_1080p):
    clip = video.load_clip(h264_1080p.path, video.uniform_indices(h264_1080p.frames, 4), size=64)
    assert clip.shape == (4, 64, 64, 3) and clip.dtype == np.uint8
    stretched = video.load_clip(h264_1080p.path, [0], size=(36, 64), fit="stretch")
    assert stretched.shape == (1, 36, 64, 3)


def test_one_frame_clip_can_be_sampled(one_frame_video):
    indices = video.uniform_indices(one_frame_video.frames, 16)
    clip = video.load_clip(one_frame_video.path, indices, size=32)
    assert clip.shape == (16, 32, 32, 3) and np.array_equal(clip[0], clip[-1])


# --- sampling -----------------------------------------------------------------------------------

def test_uniform_covers_first_to_last():
    idx = video.uniform_indices(100, 16)
    assert len(idx) == 16 and idx[0] == 0 and idx[-1] == 99 and np.all(np.diff(idx) > 0)
    assert idx.dtype == np.int64


def test_uniform_on_a_short_clip_repeats_in_order():
    idx = video.uniform_indices(5, 16)
    assert len(idx) == 16 and set(idx) == set(range(5)) and np.all(np.diff(idx) >= 0)


def test_random_span_is_a_strided_run_inside_the_clip():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(1000):
        idx = video.random_span_indices(50, 8, rng, stride=2)
        assert idx.min() >= 0 and idx.max() <= 49 and np.all(np.diff(idx) == 2)
        starts.add(int(idx[0]))
    assert starts == set(range(50 - 15 + 1))  # every start from 0 to 35 occurs


def test_random_span_is_deterministic_per_seed():
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [video.random_span_indices(90, 16, rng) for _ in range(5)]

    assert all(np.array_equal(a, b) for a, b in zip(draw(3), draw(3)))
    assert any(not np.array_equal(a, b) for a, b in zip(draw(3), draw(4)))


def test_random_span_on_a_short_clip_repeats_the_last_frame():
    idx = video.random_span_indices(5, 8, np.random.default_rng(0))
    assert idx.tolist() == [0, 1, 2, 3, 4, 4, 4, 4]


@pytest.mark.parametrize("num_frames, segments", [(100, 8), (61, 16), (16, 16), (5, 8), (1, 4)])
def test_segments_take_one_frame_per_segment(num_frames, segments):
    bounds = np.arange(segments + 1) * num_frames / segments
    for training in (False, True):
        idx = video.segment_indices(num_frames, segments, training=training, rng=np.random.default_rng(1))
        assert len(idx) == segments and idx.min() >= 0 and idx.max() < num_frames
        assert np.all(np.diff(idx) >= 0)
        if num_frames >= segments:  # each index lies in its own segment
            assert np.all((idx >= np.floor(bounds[:-1])) & (idx < np.ceil(bounds[1:])))


def test_segments_at_test_time_are_the_centres_and_fixed():
    assert video.segment_indices(80, 4, training=False).tolist() == [10, 30, 50, 70]
    first = video.segment_indices(80, 4, training=True, rng=7)
    assert np.array_equal(first, video.segment_indices(80, 4, training=True, rng=7))
    with pytest.raises(ValueError, match="rng"):
        video.segment_indices(80, 4, training=True)


def test_sliding_windows():
    windows = video.sliding_windows(40, window=16, stride=8)
    assert windows.shape == (4, 16)
    assert windows[:, 0].tolist() == [0, 8, 16, 24] and windows[-1, -1] == 39
    assert np.all(np.diff(windows, axis=1) == 1)
    short = video.sliding_windows(10, window=16, stride=4)
    assert short.shape == (1, 16) and short.max() == 9 and short[0, -1] == 9


@pytest.mark.parametrize("call", [lambda: video.uniform_indices(0, 4), lambda: video.uniform_indices(10, 0),
                                  lambda: video.sliding_windows(10, 4, 0),
                                  lambda: video.random_span_indices(10, 4, 0, stride=-1)])
def test_sampling_rejects_non_positive_counts(call):
    with pytest.raises(ValueError, match="positive integer"):
        call()


# --- resize and crop ---------------------------------------------------------------------------

def test_resize_and_crop_shapes():
    clip = np.zeros((3, 480, 640, 3), np.uint8)
    assert video.resize_shorter_side(clip, 120).shape == (3, 120, 160, 3)
    assert video.resize_clip(clip, (60, 50)).shape == (3, 60, 50, 3)
    assert video.fit_frames(clip, 64).shape == (3, 64, 64, 3)
    assert video.resize_shorter_side(clip[0], 120).shape == (120, 160, 3)
    assert video.center_crop(np.zeros((2, 30, 40)), 20).shape == (2, 20, 20)  # gray clip


def test_center_crop_takes_the_middle():
    frame = np.arange(6 * 8).reshape(6, 8).astype(np.uint8)
    assert np.array_equal(video.center_crop(frame, (2, 4)), frame[2:4, 2:6])
    with pytest.raises(ValueError, match="cannot crop 7x4 out of frames of 6x8"):
        video.center_crop(frame, (7, 4))


def test_random_crop_is_one_window_for_the_whole_clip_and_seeded():
    clip = np.repeat(np.arange(50 * 60, dtype=np.uint16).reshape(1, 50, 60, 1), 4, axis=0)
    clip = np.repeat(clip, 3, axis=-1)
    crop = video.random_crop(clip, 20, rng=5)
    assert crop.shape == (4, 20, 20, 3) and all(np.array_equal(crop[0], c) for c in crop)
    assert np.array_equal(crop, video.random_crop(clip, 20, rng=5))
    corners = {int(video.random_crop(clip, 20, rng=s)[0, 0, 0, 0]) for s in range(20)}
    assert len(corners) > 1


# --- the frame cache --------------------------------------------------------------------------

@pytest.fixture()
def good_manifest(mixed_class_tree):
    """Manifest of the good clips of the mixed tree (the broken files are reported by the scan)."""
    frame, failures = datasets.scan_class_folder(mixed_class_tree.root, workers=1, progress=False)
    assert sorted(f.path for f in failures) == sorted(mixed_class_tree.bad)
    assert sorted(frame["path"]) == sorted(mixed_class_tree.good)
    frame.attrs["root"] = str(mixed_class_tree.root)
    return frame


def _mtimes(paths):
    return {p: p.stat().st_mtime_ns for p in paths}


def test_cache_builds_clips_that_match_load_clip(good_manifest, tmp_path):
    paths, failures = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    assert not failures and all(p is not None and p.is_relative_to(tmp_path) for p in paths)
    for path, rel, frames in zip(paths, good_manifest["path"], good_manifest["frames"]):
        cached = cache.load_cached(path)
        expected = video.load_clip(Path(good_manifest.attrs["root"]) / rel,
                                   video.uniform_indices(frames, 8), size=32)
        assert cached.shape == (8, 32, 32, 3) and cached.dtype == np.uint8
        assert np.array_equal(cached, expected)


def test_cache_rerun_skips_complete_clips(good_manifest, tmp_path, monkeypatch):
    paths, _ = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    before = _mtimes(paths)
    monkeypatch.setattr(video, "load_clip", lambda *a, **k: pytest.fail("a complete clip was decoded again"))
    again, failures = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    assert again == paths and not failures and _mtimes(again) == before


def test_cache_key_separates_sampling_size_and_content(good_manifest, tmp_path):
    uniform, _ = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    segments, _ = cache.cache_clips(good_manifest, tmp_path, 8, 32, sampling="segments", workers=1,
                                    progress=False)
    bigger, _ = cache.cache_clips(good_manifest, tmp_path, 8, 48, workers=1, progress=False)
    every, _ = cache.cache_clips(good_manifest, tmp_path, None, 32, sampling="all", workers=1, progress=False)
    assert len({*uniform, *segments, *bigger, *every}) == 4 * len(good_manifest)
    assert [len(cache.load_cached(p)) for p in every] == good_manifest["frames"].tolist()
    assert cache.clip_cache_path(tmp_path, good_manifest["path"][0], "0" * 64, 8, 32) != uniform[0]


def test_corrupt_videos_are_reported_and_the_rest_completes(good_manifest, mixed_class_tree, tmp_path):
    broken = pd.DataFrame({"path": list(mixed_class_tree.bad), "label": "clap", "subject": "x", "split": "train",
                           "frames": 40, "fps": 25.0, "width": 320, "height": 240, "sha256": "f" * 64})
    short = good_manifest.iloc[:1].assign(frames=500)  # the manifest claims more than the file has
    manifest = pd.concat([good_manifest, broken, short], ignore_index=True)
    manifest.attrs["root"] = str(mixed_class_tree.root)
    paths, failures = cache.cache_clips(manifest, tmp_path, 8, 32, workers=2, progress=False)
    n_good = len(good_manifest)
    assert all(p is not None and p.is_file() for p in paths[:n_good])
    assert paths[n_good:] == [None] * (len(broken) + 1)
    reasons = {f.path: f.reason for f in failures}
    assert set(reasons) == set(mixed_class_tree.bad) | {short["path"].iloc[0]}
    assert "empty" in reasons[next(r for r, k in mixed_class_tree.bad.items() if k == "empty")]
    assert "needs at least" in reasons[short["path"].iloc[0]]
    assert not list(tmp_path.rglob(".*.tmp*"))


def test_interrupted_write_leaves_no_partial_file(good_manifest, tmp_path, monkeypatch):
    real_save = np.save

    def save_half_then_die(handle, array):
        real_save(handle, array)
        handle.truncate(handle.tell() // 2)
        raise KeyboardInterrupt  # as if the run was stopped mid-write

    monkeypatch.setattr(np, "save", save_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    assert list(tmp_path.rglob("*.npy")) == [] and list(tmp_path.rglob("*.tmp*")) == []
    monkeypatch.undo()
    paths, failures = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    assert not failures and all(cache.load_cached(p).shape == (8, 32, 32, 3) for p in paths)


def test_damaged_cache_file_is_rebuilt(good_manifest, tmp_path):
    paths, _ = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    good = cache.load_cached(paths[0])
    paths[0].write_bytes(paths[0].read_bytes()[:100])  # e.g. a copy cut short by a full disk
    with pytest.raises(video.CacheError, match=paths[0].name):
        cache.load_cached(paths[0])
    again, _ = cache.cache_clips(good_manifest, tmp_path, 8, 32, workers=1, progress=False)
    assert np.array_equal(cache.load_cached(again[0]), good)


_KILLED_RUN = """
import pathlib, sys
from course_utils import cache, datasets
manifest = datasets.load_manifest(sys.argv[1], root=sys.argv[2])
for _ in range(50):  # loop so that the run is still writing when it is killed
    cache.cache_clips(manifest, sys.argv[3], None, 360, sampling="all", workers=1, progress=False)
    for path in pathlib.Path(sys.argv[3]).rglob("*.npy"):
        path.unlink()
"""


def test_killed_run_never_exposes_a_partial_clip(good_manifest, mixed_class_tree, tmp_path):
    manifest, cache_dir = datasets.write_manifest(good_manifest, tmp_path / "manifest.csv"), tmp_path / "cache_dir"
    process = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(manifest), str(mixed_class_tree.root),
                                str(cache_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    finished = lambda: [p for p in cache_dir.rglob("*.npy") if not p.name.startswith(".")]  # noqa: E731 (not temporaries)
    while not finished() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    for path in finished():  # whatever carried its final name at the kill is a whole clip
        assert cache.load_cached(path).shape[1:] == (360, 360, 3)
    paths, failures = cache.cache_clips(good_manifest, cache_dir, None, 360, sampling="all", workers=1,
                                        progress=False)
    assert not failures and [len(cache.load_cached(p)) for p in paths] == good_manifest["frames"].tolist()


def test_cache_arguments_are_checked(good_manifest, tmp_path):
    with pytest.raises(ValueError, match="allowed: uniform, segments, random_span, all"):
        cache.clip_cache_path(tmp_path, "a/b.avi", None, 8, 32, sampling="dense")
    with pytest.raises(ValueError, match="needs num_frames"):
        cache.cache_clips(good_manifest, tmp_path, None, 32, workers=1, progress=False)
    with pytest.raises(ValueError, match="allowed: crop, stretch"):
        video.load_clip("any.mp4", [0], size=32, fit="squash")
    unrooted = good_manifest.copy()
    unrooted.attrs = {}
    with pytest.raises(ValueError, match="load_manifest"):
        cache.cache_clips(unrooted, tmp_path, 8, 32, workers=1, progress=False)


def test_load_cached_errors(tmp_path):
    with pytest.raises(video.CacheError, match="no cached clip"):
        cache.load_cached(tmp_path / "missing.npy")
    wrong = cache.save_npy_atomic(tmp_path / "wrong.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(video.CacheError, match=r"\(T, H, W, 3\) uint8"):
        cache.load_cached(wrong)


def test_frames_per_second_counts_frames_and_clips():
    result = video.frames_per_second(lambda n: np.zeros((n, 2, 2, 3), np.uint8), [3, 5])
    assert (result["frames"], result["clips"]) == (8, 2) and result["frames_per_s"] > 0
    repeated = video.frames_per_second(lambda n: np.zeros((n, 1, 1, 3), np.uint8), [3, 5], min_seconds=0.05)
    assert repeated["clips"] % 2 == 0 and repeated["frames"] == 4 * repeated["clips"]
    with pytest.raises(ValueError, match="at least one item"):
        video.frames_per_second(len, [])


def test_ps7_cache_roundtrip(ps7_manifest, tmp_path):
    subset = ps7_manifest.iloc[::9].copy()
    subset.attrs = dict(ps7_manifest.attrs)
    paths, failures = cache.cache_clips(subset, tmp_path, 16, 64, workers=2, progress=False)
    assert not failures and all(cache.load_cached(p).shape == (16, 64, 64, 3) for p in paths)


def test_npy_completeness_reads_the_header(tmp_path):
    path = cache.save_npy_atomic(tmp_path / "clip.npy", np.zeros((5, 4, 4, 3), np.uint8))
    assert cache.npy_is_complete(path, (5, 4, 4, 3)) and cache.npy_is_complete(path, (None, 4, 4, 3))
    assert not cache.npy_is_complete(path, (6, 4, 4, 3)) and not cache.npy_is_complete(path, (5, 4, 4))
    path.write_bytes(path.read_bytes()[:-1])
    assert not cache.npy_is_complete(path, (5, 4, 4, 3))
