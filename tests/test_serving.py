"""`python -m course_utils recognize` (``serving.recognize``): real AVI / MP4 / 1080p clips, short
and broken ones, the annotated video and its timeline JSON.

The command-line tests use the LiteRT files of the tiny models (``tiny_models`` in ``conftest.py``),
so the child process never imports TensorFlow.
"""
import json
import subprocess
import sys

import pytest

from course_utils import video
from course_utils.config import REPO_ROOT
from fixtures_models import CLASSES, SHAPE


def recognize(*args):
    return subprocess.run([sys.executable, "-m", "course_utils", "recognize", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120)


@pytest.mark.parametrize("clip", ["mpeg4_avi", "h264_1080p"])
def test_recognize_real_avi_and_mp4(clip, request, tiny_models, tmp_path):
    source = request.getfixturevalue(clip)
    out = tmp_path / "annotated.mp4"
    result = recognize(source.path, "--model", tiny_models["int8"], "--out", out)
    assert result.returncode == 0, result.stderr
    assert f"{source.frames} frames" in result.stdout and "start_s" in result.stdout
    assert video.probe_video(out).frames == source.frames
    record = json.loads((tmp_path / "annotated.mp4.timeline.json").read_text())
    assert record["frames"] == source.frames and record["timeline"][0]["start"] == 0
    assert record["timeline"][-1]["end"] == source.frames
    assert record["shorter_than_window"] == (source.frames < SHAPE[0])
    again = recognize(source.path, "--model", tiny_models["int8"], "--out", out)  # its own file: replaced
    assert again.returncode == 0, again.stderr


def test_recognize_a_clip_shorter_than_a_window(write_clip, tmp_path, tiny_models):
    short = write_clip(tmp_path / "short.avi", frames=3)
    result = recognize(short, "--model", tiny_models["fp32"])
    assert result.returncode == 0, result.stderr
    assert "shorter than one window (8 frames): scored once with its last frame repeated" in result.stdout
    assert result.stdout.count("\n") >= 4


def test_recognize_refuses_bad_input_without_traceback(bad_videos, tiny_models, tmp_path, write_clip):
    for kind, path in bad_videos.items():
        result = recognize(path, "--model", tiny_models["fp32"])
        assert result.returncode == 2, (kind, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and str(path) in result.stderr, kind
    clip = write_clip(tmp_path / "clip.avi")
    foreign = tmp_path / "mine.mp4"
    foreign.write_bytes(b"a user's file")
    cases = {"exists and was not written by recognize": ("--model", tiny_models["fp32"], "--out", foreign),
             "no model card": ("--model", tiny_models["keras"]),
             "no such model file": ("--model", tmp_path / "none.tflite")}
    for message, args in cases.items():
        result = recognize(clip, *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, message
    assert foreign.read_bytes() == b"a user's file"


def test_recognize_a_keras_model_with_class_names(tiny_models, write_clip, tmp_path, capsys):
    from course_utils import __main__ as main_module

    clip = write_clip(tmp_path / "clip.avi", frames=20)
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(CLASSES) + "\n")
    for classes in (",".join(CLASSES), str(names)):
        assert main_module.main(["recognize", str(clip), "--model", str(tiny_models["keras"]), "--classes", classes,
                                 "--smoothing", "none"]) == 0
        assert "20 frames at 15.00 fps, 2 window(s)" in capsys.readouterr().out
    assert main_module.main(["recognize", str(clip), "--model", str(tiny_models["keras"]), "--classes", "a,b"]) == 2
    assert "the model has 3 outputs but 2 class names were given" in capsys.readouterr().err
