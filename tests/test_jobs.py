"""The leaf helpers: atomic writes, stale temporaries, the warm pool and progress output."""
import errno
import os

import pytest

from course_utils import jobs


def _square(x):
    return x * x


def test_atomic_path_leaves_nothing_partial_on_error(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with jobs.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("stopped mid-write")
    assert list(tmp_path.iterdir()) == []
    jobs.atomic_write_text(target, "whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def test_unwritable_targets_name_the_path(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(jobs.OutputError, match="a_file: is a file"):
        jobs.atomic_write_text(blocker / "sub" / "out.txt", "x")
    with pytest.raises(jobs.OutputError, match="disk is full"):
        with jobs.atomic_path(tmp_path / "full.txt"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert not list(tmp_path.glob(".*"))


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = 2**22 + 12345  # above the default pid_max: no such process
    (tmp_path / f".clip.{dead}.tmp.npy").write_text("partial")
    (tmp_path / f".dataset.{dead}.tmp").mkdir()
    live = jobs.temp_path(tmp_path / "mine.npy")
    live.write_text("being written")
    (tmp_path / "notes.tmp").write_text("the user's")
    assert jobs.remove_stale_temps(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "notes.tmp"])


def test_pool_results_are_complete_and_the_pool_is_reused():
    assert jobs.parallel_map(_square, list(range(20)), workers=2, progress=False) == [x * x for x in range(20)]
    pool = jobs._POOL["executor"]
    assert pool is not None
    assert jobs.parallel_map(_square, [3, 4], workers=2, progress=False) == [9, 16]
    assert jobs._POOL["executor"] is pool  # warm: no second spawn


def test_progress_prints_one_summary_line_where_nobody_watches(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "summary")
    with jobs.Progress(672, "rendering", "clip") as bar:
        for _ in range(672):
            bar.update()
    out = capsys.readouterr()
    assert out.out.startswith("rendering: 672 clips in ") and out.out.count("\n") == 1 and out.err == ""
    with jobs.Progress(3, "quiet", enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().out == ""


def test_a_process_id_of_ours_is_alive():
    assert jobs.process_alive(os.getpid())
    assert not jobs.process_alive(2**22 + 12345)


def test_temporaries_of_keras_weights_keep_their_double_suffix(tmp_path):
    assert jobs.temp_path(tmp_path / "x.weights.h5").name.endswith(".tmp.weights.h5")
    assert jobs.temp_path(tmp_path / "clip.npy").name.endswith(".tmp.npy")
