"""Nothing a user owns is lost, and nothing ends in a traceback.

Each test feeds the input that made the course fail in a reliability pass (a careful user's
tries) and checks the fix: data the course did not create is never deleted or overwritten,
the README's recipes work, settings never mix silently, ordinary environment errors (read-only
folders, a path under a file, a full disk, an empty CSV) give one line naming the path with a
documented exit code, Ctrl-C stops promptly and resumes, a silent server fails in bounded
time, long clips stream, and the resolver names the bad parameter.
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from course_utils import __main__ as cli_main
from course_utils import cache, catalog, config, datasets, jobs, synthetic, transfer
from course_utils.config import REPO_ROOT

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# --------------------------------------------------------------------------- helpers


def cli(*args, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real command line in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "course_utils", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=timeout)


def _ctrl_c_as_in_a_terminal() -> None:
    """A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT:
    restore the default so the command sees Ctrl-C as it does in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "course_utils", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT, preexec_fn=_ctrl_c_as_in_a_terminal)


def run(capsys, *args) -> tuple[int, str, str]:
    """The command line in this process (fast; monkeypatches apply), with one worker."""
    code = cli_main.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (hidden ones too): file checksums, link targets, folders."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = "link -> " + os.readlink(path)
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[rel] = "folder"
    return found


def leftovers(folder: Path) -> list[Path]:
    """Temporaries of writers (``.x.<pid>.tmp...``, ``.partial-``) left under ``folder``."""
    if not folder.exists():
        return []
    return [p for p in folder.rglob("*") if jobs.TEMP_MARK in p.name or ".partial-" in p.name]


def assert_one_clear_line(code: int, err: str, *needles: str, exit_code: int = EXIT_USAGE) -> None:
    assert code == exit_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def class_tree(root: Path, write_clip, per_class: int = 2, frames: int = 12, **kw) -> Path:
    for c, label in enumerate(("clap", "wave")):
        for subject in range(per_class):
            write_clip(root / label / f"{label}_p{subject:02d}_r01.avi", frames=frames, seed=10 * c + subject, **kw)
    return root


@pytest.fixture
def small_tree(tmp_path, write_clip) -> Path:
    """A fresh class tree: 2 classes x 2 short clips."""
    return class_tree(tmp_path / "tree", write_clip)


@pytest.fixture
def small_manifest(small_tree) -> Path:
    frame, failures = datasets.scan_class_folder(small_tree, workers=1, progress=False)
    assert not failures
    return datasets.write_manifest(frame, small_tree / datasets.MANIFEST_NAME)


@pytest.fixture
def tiny_profile(monkeypatch) -> config.SyntheticSpec:
    """The ``ci`` profile's synthetic set shrunk to a few tiny clips (in this process only)."""
    default = config.resolve_config("ci").synthetic
    names = {f.name for f in dataclasses.fields(default)}
    small = {"subjects": 3, "reps_per_subject": 1, "split_subjects": (1, 1, 1), "height": 32, "size": 32}
    spec = dataclasses.replace(default, **{k: v for k, v in small.items() if k in names})
    monkeypatch.setitem(config._PROFILE_DEFAULTS["ci"], "synthetic", spec)
    return spec


def card_seed(folder: Path) -> int:
    return json.loads((folder / synthetic.CARD_NAME).read_text())["seed"]


@pytest.fixture
def read_only(tmp_path, monkeypatch) -> Path:
    """A folder nobody may write into. As root, permissions do not stop writes, so the check
    the command line makes (``os.access``) is told the truth a normal user would get."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real_access = os.access

        def access(path, mode, *args, **kwargs):
            if Path(os.path.abspath(path)) == folder and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)
    yield folder
    folder.chmod(0o755)


def disk_full_under(monkeypatch, folder: Path) -> None:
    """Every file finished under ``folder`` fails as on a full disk (``OSError(ENOSPC)``)."""
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(os.path.abspath(dst)).is_relative_to(folder):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


# --------------------------------------------------------------------------- data loss


@pytest.fixture
def real_clip_folder(ps7_dir, tmp_path) -> Path:
    """The 27 real clips (links) in a class tree, plus a user's notes file."""
    root = tmp_path / "my_videos"
    for source in sorted(ps7_dir.glob("PS7A*P*T*.avi")):
        (root / f"action{source.name[4]}").mkdir(parents=True, exist_ok=True)
        (root / f"action{source.name[4]}" / source.name).symlink_to(source)
    (root / "notes.txt").write_text("my notes\n")
    return root


def test_generate_never_touches_a_folder_of_real_clips_even_with_force(real_clip_folder, tiny_profile, capsys):
    before = snapshot(real_clip_folder)
    assert sum(1 for k in before if k.endswith(".avi")) == 27
    code, _, err = run(capsys, "generate", real_clip_folder, "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(real_clip_folder), "not", "course")
    assert "--force" not in err and "overwrite" not in err  # no advice that would delete the videos
    code, _, err = run(capsys, "generate", real_clip_folder, "--force", "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(real_clip_folder), "nothing in it was changed")
    assert snapshot(real_clip_folder) == before
    assert not leftovers(real_clip_folder.parent)


def test_generate_force_never_deletes_a_users_file_inside_a_generated_dataset(tmp_path, tiny_profile, capsys):
    out = tmp_path / "synthetic"
    assert run(capsys, "generate", out, "--seed", "1", "--workers", "1", "--quiet")[0] == EXIT_OK
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    code, _, err = run(capsys, "generate", out, "--seed", "2", "--force", "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(out / "notes.txt"), "did not create")
    assert snapshot(out) == before and card_seed(out) == 1


def test_generate_same_seed_reuses_and_another_seed_is_refused_not_silently_kept(tmp_path, tiny_profile, capsys):
    out = tmp_path / "synthetic"
    assert run(capsys, "generate", out, "--seed", "1", "--workers", "1", "--quiet")[0] == EXIT_OK
    manifest_stat = (out / datasets.MANIFEST_NAME).stat()
    code, stdout, _ = run(capsys, "generate", out, "--seed", "1", "--workers", "1", "--quiet")
    assert code == EXIT_OK and "nothing to do" in stdout
    assert (out / datasets.MANIFEST_NAME).stat().st_mtime_ns == manifest_stat.st_mtime_ns
    # Another seed used to exit 0 and keep the old data (its card still said seed 42).
    code, _, err = run(capsys, "generate", out, "--seed", "2", "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(out), "seed 1", "--force")
    assert "overwrite=True" not in err and card_seed(out) == 1
    assert run(capsys, "generate", out, "--seed", "2", "--force", "--workers", "1", "--quiet")[0] == EXIT_OK
    assert card_seed(out) == 2 and not leftovers(tmp_path)


@pytest.fixture
def generated(tmp_path, tiny_profile) -> Path:
    from course_utils import synthetic

    return Path(synthetic.generate_dataset(tmp_path / "synthetic", tiny_profile, seed=3, workers=1,
                                           progress=False).attrs["root"])


def test_manifest_never_replaces_a_generated_datasets_manifest(generated, tmp_path, capsys):
    manifest = generated / datasets.MANIFEST_NAME
    before = manifest.read_bytes()
    code, _, err = run(capsys, "manifest", generated, "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(manifest), "generated synthetic dataset")
    assert manifest.read_bytes() == before
    # Scanned elsewhere, its ground-truth .npz files are not videos (they were reported as failures).
    code, _, err = run(capsys, "manifest", generated, "--out", tmp_path / "scan.csv", "--workers", "1", "--quiet")
    assert code == EXIT_OK and "npz" not in err, err
    assert len(datasets.load_manifest(tmp_path / "scan.csv")) == len(datasets.load_manifest(generated))


def test_manifest_never_overwrites_a_file_it_did_not_create(small_tree, tmp_path, capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("my list of things\n")
    code, _, err = run(capsys, "manifest", small_tree, "--out", existing, "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(existing), "not a course manifest")
    assert existing.read_text() == "my list of things\n"
    ours = tmp_path / "ours.csv"  # a course manifest is replaced by a new scan
    assert run(capsys, "manifest", small_tree, "--out", ours, "--workers", "1", "--quiet")[0] == EXIT_OK
    assert run(capsys, "manifest", small_tree, "--out", ours, "--workers", "1", "--quiet")[0] == EXIT_OK


# --------------------------------------------------------------------------- the README's recipe


def test_readme_recipe_manifest_elsewhere_then_flow_on_real_clips(ps7_class_tree, tmp_path):
    manifest = tmp_path / "elsewhere" / "manifest.csv"
    result = cli("manifest", ps7_class_tree, "--out", manifest, "--quiet")
    assert result.returncode == EXIT_OK, result.stderr
    result = cli("flow", manifest, tmp_path / "flow", "--size", "32", "--quiet")
    assert result.returncode == EXIT_OK, result.stderr
    assert "27 videos computed" in result.stdout and "0 failed" in result.stdout
    assert json.loads((tmp_path / "flow" / cache.FLOW_META).read_text())["size"] == 32


def test_a_failed_video_names_the_absolute_path_tried(small_tree, small_manifest, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(small_tree.parent)
    gone = small_tree / "wave" / "wave_p01_r01.avi"
    gone.unlink()
    code, _, err = run(capsys, "flow", Path(small_tree.name) / datasets.MANIFEST_NAME, tmp_path / "flow",
                       "--workers", "1", "--quiet")
    assert code == EXIT_SOME_FAILED and "Traceback" not in err
    assert "FAILED wave/wave_p01_r01.avi" in err and str(gone) in err, err


def test_flow_size_defaults_to_the_course_size():
    parser = cli_main.build_parser()
    assert parser.parse_args(["flow", "m.csv", "out"]).size == cache.DEFAULT_FLOW_SIZE == 112
    assert parser.parse_args(["flow", "m.csv", "out", "--size", "native"]).size is None
    assert parser.parse_args(["flow", "m.csv", "out", "--size", "0"]).size is None
    flow_help = next(a for a in parser._subparsers._group_actions[0].choices["flow"]._actions if a.dest == "size")
    assert f"default {cache.DEFAULT_FLOW_SIZE}" in flow_help.help
    for bad in ("abc", "4", "-1"):
        with pytest.raises(SystemExit) as usage:
            parser.parse_args(["flow", "m.csv", "out", "--size", bad])
        assert usage.value.code == EXIT_USAGE


# --------------------------------------------------------------------------- silent wrong answers


def _user_cfg(folder: Path, artifacts: Path) -> config.Config:
    return config.resolve_config("ci", dataset=str(folder), artifacts_dir=artifacts)


def test_two_folders_with_one_name_get_their_own_manifests(tmp_path, write_clip):
    first = class_tree(tmp_path / "a" / "videos", write_clip)
    second = tmp_path / "b" / "videos"
    write_clip(second / "jump" / "jump_p01.avi", seed=5)
    write_clip(second / "jump" / "jump_p02.avi", seed=6)
    write_clip(second / "squat" / "squat_p01.avi", seed=7)
    artifacts = tmp_path / "artifacts"
    one = catalog.prepare_dataset(_user_cfg(first, artifacts), workers=1, progress=False)
    two = catalog.prepare_dataset(_user_cfg(second, artifacts), workers=1, progress=False)
    assert sorted(one["label"].unique()) == ["clap", "wave"] and len(one) == 4
    assert sorted(two["label"].unique()) == ["jump", "squat"] and len(two) == 3


def test_a_video_added_later_is_seen(small_tree, tmp_path, write_clip, capsys):
    cfg = _user_cfg(small_tree, tmp_path / "artifacts")
    assert len(catalog.prepare_dataset(cfg, workers=1, progress=False)) == 4
    write_clip(small_tree / "wave" / "wave_p07_r01.avi", seed=77)
    frame = catalog.prepare_dataset(cfg, workers=1, progress=False)
    added = (small_tree / "wave" / "wave_p07_r01.avi").resolve()
    assert len(frame) == 5 and added in {p.resolve() for p in datasets.video_paths(frame)}
    assert "scanning again" in capsys.readouterr().out


def test_a_folders_own_manifest_that_misses_a_new_video_is_reported(small_tree, small_manifest, tmp_path,
                                                                      write_clip, capsys):
    write_clip(small_tree / "clap" / "clap_p09_r01.avi", seed=99)
    frame = catalog.prepare_dataset(_user_cfg(small_tree, tmp_path / "artifacts"), workers=1, progress=False)
    assert len(frame) == 4  # the user's manifest is used as it is, never rewritten ...
    out = capsys.readouterr().out
    assert "1 video file(s) in the folder are not in it" in out and "clap_p09_r01.avi" in out  # ... but not silently


def test_concurrent_flow_runs_with_different_sizes_never_mix(small_manifest, tmp_path):
    for attempt in range(3):
        out = tmp_path / f"flow{attempt}"
        runs = {size: popen("flow", small_manifest, out, "--size", size, "--workers", "1", "--quiet")
                for size in (16, 24)}
        results = {size: (p.wait(timeout=120), p.stderr.read()) for size, p in runs.items()}
        codes = sorted(code for code, _ in results.values())
        assert codes == [EXIT_OK, EXIT_USAGE], results
        loser = next(err for code, err in results.values() if code == EXIT_USAGE)
        assert "holds flow computed with size=" in loser and "Traceback" not in loser, loser
        size = json.loads((out / cache.FLOW_META).read_text())["size"]
        files = sorted(p for p in out.rglob("*.npy") if not p.name.startswith("."))
        assert len(files) == 4 and not leftovers(out)
        for path in files:
            assert np.load(path, mmap_mode="r").shape[1:] == (size, size, 2), (attempt, path, size)


def test_images_npz_and_notes_in_a_class_folder_are_not_videos(small_tree):
    cv2.imwrite(str(small_tree / "clap" / "poster.jpg"), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(small_tree / "wave" / "frame_0001.png"), np.zeros((32, 32, 3), np.uint8))
    np.savez(small_tree / "wave" / "wave_p00_r01.npz", joints=np.zeros((3, 2)))
    (small_tree / "wave" / "README.txt").write_text("notes\n")
    frame, failures = datasets.scan_class_folder(small_tree, workers=1, progress=False)
    assert not failures and len(frame) == 4
    assert all(p.endswith(".avi") for p in frame["path"])


def test_a_link_to_the_root_inside_it_does_not_become_a_class_of_duplicates(small_tree):
    (small_tree / "everything").symlink_to(small_tree, target_is_directory=True)
    (small_tree / "clap" / "again").symlink_to(small_tree, target_is_directory=True)
    frame, failures = datasets.scan_class_folder(small_tree, workers=1, progress=False)
    assert not failures and sorted(frame["label"].unique()) == ["clap", "wave"]
    assert len(frame) == 4 and frame["sha256"].is_unique


# --------------------------------------------------------------------------- environment errors


def test_read_only_folders_are_refused_before_any_work(read_only, small_tree, small_manifest, tmp_path,
                                                       monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    monkeypatch.setattr(datasets, "scan_class_folder", no_work)
    monkeypatch.setattr(cache, "extract_flow_cache", no_work)
    for args in (("manifest", small_tree, "--out", read_only / "m.csv"),
                 ("flow", small_manifest, read_only / "flow"),
                 ("generate", read_only / "synthetic"),
                 ("download", "kth", "--data-dir", read_only / "data")):
        code, _, err = run(capsys, *args, "--quiet")
        assert_one_clear_line(code, err, str(read_only), "not writable")
    assert not any(read_only.iterdir())


def test_an_output_that_is_a_folder_or_lies_under_a_file_is_refused(small_tree, small_manifest, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    cases = [(("manifest", small_tree, "--out", tmp_path), f"{tmp_path}: is a folder, not a file"),
             (("manifest", small_tree, "--out", a_file / "m.csv"), f"{a_file}: is a file"),
             (("flow", small_manifest, a_file), f"{a_file}: is a file, not a folder"),
             (("flow", small_manifest, a_file / "flow"), f"{a_file}: is a file"),
             (("generate", a_file / "synthetic"), f"{a_file}: is a file"),
             (("download", "kth", "--data-dir", a_file / "data"), f"{a_file}: is a file")]
    for args, problem in cases:
        code, _, err = run(capsys, *args, "--quiet")
        assert_one_clear_line(code, err, problem)
    assert a_file.read_text() == "mine\n" and not leftovers(tmp_path)


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_no_temporaries(small_tree, small_manifest, tmp_path,
                                                                          tiny_profile, monkeypatch, capsys):
    disk_full_under(monkeypatch, tmp_path / "full")
    cases = [("manifest", small_tree, "--out", tmp_path / "full" / "m.csv"),
             ("flow", small_manifest, tmp_path / "full" / "flow"),
             ("generate", tmp_path / "full" / "synthetic")]
    for args in cases:
        code, _, err = run(capsys, *args, "--workers", "1", "--quiet")
        assert_one_clear_line(code, err, str(tmp_path / "full"), "the disk is full")
        assert "[Errno" not in err
    assert not leftovers(tmp_path)
    assert not (tmp_path / "full" / "synthetic").exists() and not (tmp_path / "full" / "m.csv").exists()


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"name,size\nfoo,3\n", "not a course manifest"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", "not a course manifest"),
    (",".join(datasets.MANIFEST_COLUMNS).encode() + b"\n", "lists no videos"),
])
def test_flow_on_an_empty_or_foreign_csv_is_one_line(tmp_path, capsys, content, problem):
    csv = tmp_path / "manifest.csv"
    csv.write_bytes(content)
    code, _, err = run(capsys, "flow", csv, tmp_path / "flow", "--workers", "1", "--quiet")
    assert_one_clear_line(code, err, str(csv), problem)
    assert not (tmp_path / "flow").exists()


# --------------------------------------------------------------------------- Ctrl-C


@pytest.fixture(scope="module")
def long_manifest(tmp_path_factory, write_clip) -> Path:
    """12 clips of 200 frames (160x120): about 8 s of native-size flow on 2 quiet cores, over 10 s
    on busy ones (the whole of it runs once: the interrupted run plus the rerun)."""
    root = class_tree(tmp_path_factory.mktemp("long_tree"), write_clip, per_class=6, frames=200,
                      height=120, width=160)
    frame, failures = datasets.scan_class_folder(root, workers=2, progress=False)
    assert not failures
    return datasets.write_manifest(frame, root / datasets.MANIFEST_NAME)


def _interrupt(process: subprocess.Popen, ready) -> tuple[float, str, str]:
    """Wait until ``ready()``, send SIGINT (Ctrl-C), return the seconds until exit and the output."""
    deadline = time.monotonic() + 60
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the command ended before it could be interrupted"
    start = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    return time.monotonic() - start, out, err


def test_ctrl_c_stops_flow_promptly_keeps_complete_files_and_the_same_command_resumes(long_manifest, tmp_path):
    out = tmp_path / "flow"
    args = ("flow", long_manifest, out, "--size", "native", "--quiet")
    complete = lambda: [p for p in out.rglob("*.npy") if not p.name.startswith(".")]  # noqa: E731
    seconds, _, err = _interrupt(popen(*args), lambda: len(complete()) >= 2)
    print(f"flow stopped {seconds:.2f} s after Ctrl-C")
    assert seconds < 3.0, err
    assert "Traceback" not in err and "run the same command again" in err, err
    kept = complete()
    assert 2 <= len(kept) < 12 and f"{len(kept)} complete flow file(s) are kept in {out}" in err, err
    assert not leftovers(out)
    for path in kept:
        assert cache.npy_is_complete(path, (199, 120, 160, 2))
    result = cli(*args)
    assert result.returncode == EXIT_OK, result.stderr
    assert f"{12 - len(kept)} videos computed" in result.stdout and f"{len(kept)} already complete" in result.stdout


def test_ctrl_c_stops_generate_promptly_and_leaves_nothing_half_made(tmp_path):
    out = tmp_path / "synthetic"
    started = lambda: any(tmp_path.glob(".synthetic.partial-*/*/*.avi"))  # noqa: E731
    seconds, _, err = _interrupt(popen("generate", out, "--quiet"), started)
    print(f"generate stopped {seconds:.2f} s after Ctrl-C")
    assert seconds < 3.0, err
    assert "Traceback" not in err and "run the same command again" in err and "nothing was written" in err, err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_run_jobs_kills_the_warm_pool_on_ctrl_c():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # also when pytest runs in the background
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in jobs.run_jobs(time.sleep, {i: 30 for i in range(6)}, workers=2):
                pass
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 6  # the queued 30 s sleeps were not waited for
    assert jobs._POOL["executor"] is None


# --------------------------------------------------------------------------- a silent network


@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/dataset.rar"
    stop.set()
    thread.join(timeout=2)
    for connection in held:
        connection.close()
    listener.close()


def test_a_silent_server_fails_within_the_deadline_and_says_what_it_waits_for(silent_server, tmp_path, capsys):
    start = time.monotonic()
    with pytest.raises(transfer.DownloadError) as failure:
        transfer.download(silent_server, tmp_path / "dataset.rar", timeout=0.5, deadline_s=2.0, retry_wait=0.2)
    seconds = time.monotonic() - start
    print(f"silent server: failed after {seconds:.2f} s")
    assert seconds < 4.0
    message = str(failure.value)
    assert silent_server in message and "nothing was kept" in message and "run again" in message
    out = capsys.readouterr().out
    assert "connecting to 127.0.0.1:" in out and "retrying" in out
    assert transfer.DEFAULT_TIMEOUT_S <= 30 and transfer.DEFAULT_DEADLINE_S <= 300  # bounded for real hosts too


@pytest.fixture
def trickling_server():
    """A server on 127.0.0.1 that sends 8 pieces of 1 kB, 0.3 s apart (2.4 s in all)."""
    body = bytes(range(256)) * 32
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection = listener.accept()[0]
            except OSError:
                continue
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
                for start in range(0, len(body), 1024):
                    time.sleep(0.3)
                    connection.sendall(body[start:start + 1024])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow.bin", body
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_a_slow_download_that_keeps_receiving_is_not_cut_off_by_the_deadline(trickling_server, tmp_path):
    url, body = trickling_server
    dest = transfer.download(url, tmp_path / "slow.bin", timeout=1.0, deadline_s=1.0, retries=0, progress=False,
                             sha256=hashlib.sha256(body).hexdigest())
    assert dest.read_bytes() == body  # 2.4 s in all, but never 1 s without data


# --------------------------------------------------------------------------- memory


# Peak RSS of the process itself: Linux's VmHWM (ru_maxrss of a child starts at its parent's
# size at fork, so it would measure pytest), else ru_maxrss.
_RSS_PROBE = textwrap.dedent("""
    import json, resource, sys
    from course_utils import cache

    def peak_kb():
        try:
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    before = peak_kb()
    summary = cache.extract_flow_cache(sys.argv[1], sys.argv[2], size=None, workers=1, progress=False)
    print(json.dumps({"before_kb": before, "after_kb": peak_kb(), "fields": summary.fields}))
""")


def _flow_growth_mb(tmp_path, write_clip, frames: int, height: int, width: int) -> float:
    """RSS growth of a child process while it computes the native-size flow of one clip."""
    tree = tmp_path / f"tree{frames}"
    write_clip(tree / "walk" / "long_p01.avi", frames=frames, height=height, width=width)
    frame, _ = datasets.scan_class_folder(tree, workers=1, progress=False)
    manifest = datasets.write_manifest(frame, tree / datasets.MANIFEST_NAME)
    result = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(manifest), str(tmp_path / f"flow{frames}")],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    assert rss["fields"] == frames - 1
    return (rss["after_kb"] - rss["before_kb"]) / 1024


def test_native_size_flow_of_a_long_clip_streams(tmp_path, write_clip):
    """Memory does not grow with the clip's length (the old code held every frame and field)."""
    height, width, short, long = 240, 320, 100, 500
    grown = {n: _flow_growth_mb(tmp_path, write_clip, n, height, width) for n in (short, long)}
    held_mb = (long - short) * height * width * (1 + 2) / 2**20  # gray frames + uint8 fields, if held
    print(f"native flow 320x240: +{grown[short]:.0f} MB for {short} frames, +{grown[long]:.0f} MB for {long}; "
          f"holding the clip would add {held_mb:.0f} MB more")
    assert grown[long] - grown[short] < held_mb / 4


# --------------------------------------------------------------------------- resolver gaps


@pytest.mark.parametrize("overrides, name", [
    ({"epochs": "abc"}, "epochs"), ({"epochs": -5}, "epochs"), ({"image_size": 0}, "image_size"),
    ({"context_bias": 5}, "context_bias"), ({"seed": 2**64}, "seed"),
])
def test_the_resolver_names_the_bad_parameter(overrides, name):
    with pytest.raises(config.ConfigError, match=name):
        config.resolve_config("ci", **overrides)
