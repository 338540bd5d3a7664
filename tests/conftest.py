"""Shared fixtures: edge-case and broken video files, the real PS7 clips as a class tree, and tiny
clip models in every format the streaming recognizer loads.

Everything is built once per test session in a temp folder. Generated clips are described by
:class:`Clip` (the facts a decoder must find); broken files are plain paths. The H.264 and
odd-fps clips need the ffmpeg binary of ``imageio-ffmpeg`` (a test extra) and skip without it;
the PS7 fixtures skip when the shared datasets folder is not beside the repository.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from course_utils import config, datasets, video
from course_utils.config import REPO_ROOT
from fixtures_models import write_tiny_models

SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
PS7_DIR = SHARED_DATASETS / "real" / "ps7_arm_actions"
# Action number in the PS7 file names (PS7A{a}P{p}T{t}.avi) -> class folder name.
PS7_CLASSES = {1: "arms_up_sideways", 2: "one_arm_up_sideways", 3: "arms_up_forward"}


@dataclasses.dataclass(frozen=True)
class Clip:
    """A generated test video and what decoding it must report."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    codec: str = ""
    variable_fps: bool = False


def pattern_clip(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A ``(T, H, W, 3)`` uint8 clip: a bright square moving over a seeded noise background."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
    clip = np.repeat(background[None], frames, axis=0)
    side = max(2, min(height, width) // 4)
    for t in range(frames):
        x = (t * max(1, (width - side) // max(1, frames - 1))) % (width - side + 1)
        clip[t, height // 2 - side // 2:height // 2 + side // 2, x:x + side] = (230, 200, 40)
    return clip


@pytest.fixture(scope="session")
def write_clip() -> Callable[..., Path]:
    """``write_clip(path, frames=16, height=48, width=64, fps=15.0, seed=0)`` writes a pattern
    clip with OpenCV (no ffmpeg binary needed) and returns its path."""

    def write(path: Path, frames: int = 16, height: int = 48, width: int = 64, fps: float = 15.0,
              seed: int = 0) -> Path:
        return video.write_video(path, pattern_clip(frames, height, width, seed), fps)

    return write


@pytest.fixture(scope="session")
def ffmpeg() -> Callable[..., Path]:
    """``ffmpeg(out, *output_args, size="160x120", rate="25", frames=20)`` encodes the ffmpeg
    test pattern into ``out``; skips when the imageio-ffmpeg binary is missing."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg (test extra) not installed")
    exe = imageio_ffmpeg.get_ffmpeg_exe()

    def encode(out: Path, *output_args: str, size: str = "160x120", rate: str = "25",
               frames: int = 20, filters: str | None = None) -> Path:
        command = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                   "-i", f"testsrc2=size={size}:rate={rate}", "-frames:v", str(frames)]
        command += ["-vf", filters] if filters else []
        subprocess.run(command + list(output_args) + [str(out)], check=True, capture_output=True)
        return out

    return encode


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


@pytest.fixture(scope="session")
def h264_1080p(ffmpeg, video_dir) -> Clip:
    """1920x1080 H.264 in MP4 at 29.97 fps (30000/1001), 6 frames."""
    path = ffmpeg(video_dir / "h264_1080p.mp4", *_H264, size="1920x1080", rate="30000/1001", frames=6)
    return Clip(path, 6, float(Fraction(30000, 1001)), 1920, 1080, codec="h264")


@pytest.fixture(scope="session")
def mpeg4_avi(ffmpeg, video_dir) -> Clip:
    """MPEG-4 part 2 in AVI (the PS7 and HMDB51 kind), 320x240, 25 fps, 40 frames."""
    path = ffmpeg(video_dir / "mpeg4.avi", "-c:v", "mpeg4", "-q:v", "5", size="320x240", frames=40)
    return Clip(path, 40, 25.0, 320, 240, codec="FMP4")


@pytest.fixture(scope="session")
def gray_video(ffmpeg, video_dir) -> Clip:
    """A single-channel (gray) H.264 MP4, 160x120, 25 fps, 20 frames."""
    path = ffmpeg(video_dir / "gray.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "gray")
    return Clip(path, 20, 25.0, 160, 120, codec="h264")


@pytest.fixture(scope="session")
def one_frame_video(ffmpeg, video_dir) -> Clip:
    path = ffmpeg(video_dir / "one_frame.mp4", *_H264, frames=1)
    return Clip(path, 1, 25.0, 160, 120, codec="h264")


@pytest.fixture(scope="session")
def odd_fps_video(ffmpeg, video_dir) -> Clip:
    """7.5 fps H.264 MP4, 15 frames (2 s)."""
    path = ffmpeg(video_dir / "fps7_5.mp4", *_H264, rate="7.5", frames=15)
    return Clip(path, 15, 7.5, 160, 120, codec="h264")


@pytest.fixture(scope="session")
def vfr_video(ffmpeg, video_dir) -> Clip:
    """Variable frame rate: 20 frames at 10 fps then 20 at 30 fps (40 frames in 8/3 s: 15 fps on average)."""
    path = ffmpeg(video_dir / "vfr.mp4", *_H264, "-fps_mode", "passthrough", rate="30", frames=40,
                  filters="setpts='if(lt(N,20),N/10,2+(N-20)/30)/TB'")
    return Clip(path, 40, 15.0, 160, 120, codec="h264", variable_fps=True)


@pytest.fixture(scope="session")
def empty_video(video_dir) -> Path:
    path = video_dir / "empty.mp4"
    path.write_bytes(b"")
    return path


@pytest.fixture(scope="session")
def not_a_video(video_dir) -> Path:
    """A text file with a video suffix."""
    path = video_dir / "notes.avi"
    path.write_text("this is a text file, not a video\n" * 20)
    return path


def _first_half(source: Path, out: Path) -> Path:
    data = source.read_bytes()
    out.write_bytes(data[:len(data) // 2])
    return out


@pytest.fixture(scope="session")
def truncated_avi(mpeg4_avi, video_dir) -> Path:
    """The first half of :func:`mpeg4_avi`: opens, but decodes about half the header's frames."""
    return _first_half(mpeg4_avi.path, video_dir / "truncated.avi")


@pytest.fixture(scope="session")
def truncated_mp4(ffmpeg, video_dir) -> Path:
    """The first half of an H.264 MP4 whose index ('moov') is at the end: cannot be opened."""
    whole = ffmpeg(video_dir / "whole_for_truncation.mp4", *_H264, size="320x240", frames=40)
    return _first_half(whole, video_dir / "truncated.mp4")


@pytest.fixture(scope="session")
def bad_videos(empty_video, not_a_video, truncated_avi, truncated_mp4) -> dict[str, Path]:
    """Every broken file by kind: empty, not_a_video, truncated_avi, truncated_mp4."""
    return {"empty": empty_video, "not_a_video": not_a_video, "truncated_avi": truncated_avi,
            "truncated_mp4": truncated_mp4}


@pytest.fixture(scope="session")
def ps7_dir() -> Path:
    """The 27 real PS7 clips (read-only); skips when the shared datasets are not available."""
    if not PS7_DIR.is_dir():
        pytest.skip(f"real clips not available: {PS7_DIR.relative_to(REPO_ROOT.parent)} is missing "
                    "beside the repository")
    return PS7_DIR


@pytest.fixture(scope="session")
def ps7_class_tree(ps7_dir, tmp_path_factory) -> Path:
    """``<root>/<class>/PS7A{a}P{p}T{t}.avi`` symlinks to the real clips, 3 classes x 9 clips."""
    root = tmp_path_factory.mktemp("ps7_classes")
    for source in sorted(ps7_dir.glob("PS7A*P*T*.avi")):
        folder = root / PS7_CLASSES[int(source.name[4])]
        folder.mkdir(exist_ok=True)
        (folder / source.name).symlink_to(source)
    return root


@pytest.fixture(scope="session")
def ps7_manifest(ps7_class_tree, tmp_path_factory):
    """The scanned manifest of :func:`ps7_class_tree` (stored outside the tree, so the tree
    itself stays manifest-free for tests of the scanning path)."""
    frame, failures = datasets.scan_class_folder(ps7_class_tree, workers=2, seed=0, progress=False)
    assert not failures, failures
    path = datasets.write_manifest(frame, tmp_path_factory.mktemp("ps7_manifest") / "manifest.csv")
    return datasets.load_manifest(path, root=ps7_class_tree)


@dataclasses.dataclass(frozen=True)
class MixedTree:
    """A class-folder tree of good clips and broken files (paths relative to ``root``)."""

    root: Path
    good: tuple[str, ...]
    bad: dict[str, str]  # relative path -> kind (a key of the ``bad_videos`` fixture)


@pytest.fixture(scope="session")
def mixed_class_tree(tmp_path_factory, write_clip, bad_videos) -> MixedTree:
    """Two classes, three good clips each (subjects p01..p03), plus every broken file."""
    root = tmp_path_factory.mktemp("mixed_classes")
    good = []
    for c, label in enumerate(("clap", "wave")):
        for subject in (1, 2, 3):
            rel = f"{label}/{label}_p{subject:02d}_r01.avi"
            write_clip(root / rel, frames=12 + 2 * subject, seed=10 * c + subject)
            good.append(rel)
    bad = {}
    for i, (kind, source) in enumerate(sorted(bad_videos.items())):
        rel = f"{('clap', 'wave')[i % 2]}/broken_{kind}{source.suffix}"
        (root / rel).write_bytes(source.read_bytes())
        bad[rel] = kind
    return MixedTree(root, tuple(good), bad)


def load_ci_script(name: str):
    """A script of ``ci/`` (for example ``run_notebooks``) imported as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory):
    """The ci dataset rendered by the command line, then every notebook executed on it in order.

    Once per test session: the notebook, site and grading tests share it. Returns the runner's
    exit code, the artifacts folder (``notebooks/``, ``results/``) and the ``generate`` result;
    the data folder is ``<artifacts>/../data``.
    """
    run_notebooks = load_ci_script("run_notebooks")
    root = tmp_path_factory.mktemp("course")
    dataset_root = config.resolve_config("ci", data_dir=root / "data").dataset_root
    generated = subprocess.run([sys.executable, "-m", "course_utils", "generate", str(dataset_root), "--seed", "42",
                                "--quiet"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    code = run_notebooks.main(["--profile", "ci", "--artifacts-dir", str(root / "artifacts"),
                               "--data-dir", str(root / "data")])
    return code, root / "artifacts", generated


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """``fixtures_models.write_tiny_models``: the same untrained model in every format, built once."""
    return write_tiny_models(tmp_path_factory.mktemp("tiny_models"))
