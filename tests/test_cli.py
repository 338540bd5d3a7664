"""`python -m course_utils`: exit codes, failures listed by name, no tracebacks for bad input."""
import subprocess
import sys

import pytest

from course_utils import datasets
from course_utils.config import REPO_ROOT


def cli(*args):
    return subprocess.run([sys.executable, "-m", "course_utils", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def test_manifest_lists_broken_files_and_writes_the_rest(mixed_class_tree, tmp_path):
    out = tmp_path / "m.csv"
    result = cli("manifest", mixed_class_tree.root, "--out", out, "--quiet")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for path in mixed_class_tree.bad:
        assert path in result.stderr
    assert f"{len(mixed_class_tree.bad)} videos failed" in result.stderr
    frame = datasets.load_manifest(out)  # written elsewhere: its paths lead back to the videos
    assert sorted(p.resolve() for p in datasets.video_paths(frame)) == sorted(
        (mixed_class_tree.root / p).resolve() for p in mixed_class_tree.good)


def test_manifest_of_real_clips_exits_zero(ps7_class_tree, tmp_path):
    result = cli("manifest", ps7_class_tree, "--out", tmp_path / "ps7.csv", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "27 videos of 3 classes" in result.stdout


def test_usage_errors_exit_2_without_traceback(tmp_path):
    for args in [(), ("nonsense",), ("manifest", tmp_path / "missing"), ("generate", tmp_path, "--profile", "huge")]:
        result = cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    assert "not a folder" in cli("manifest", tmp_path / "missing").stderr


def test_download_without_network_fails_cleanly(tmp_path, monkeypatch):
    from course_utils import __main__ as main_module
    from course_utils import public_datasets

    def offline(name, data_dir, progress=True):
        raise public_datasets.DownloadError(f"{name}: host unreachable")

    monkeypatch.setattr(public_datasets, "download_public_dataset", offline)
    assert main_module.main(["download", "kth", "--data-dir", str(tmp_path), "--quiet"]) == 1
    with pytest.raises(SystemExit) as usage:
        main_module.main(["download", "nope"])
    assert usage.value.code == 2


def test_help_documents_the_exit_codes_and_the_flow_size():
    from course_utils import __main__ as main_module
    from course_utils import cache

    text = " ".join(main_module.build_parser().format_help().split())
    for code in ("0 all inputs processed", "1 some inputs failed", "2 usage", "130 interrupted"):
        assert code in text
    assert (main_module.EXIT_OK, main_module.EXIT_SOME_FAILED, main_module.EXIT_USAGE,
            main_module.EXIT_INTERRUPTED) == (0, 1, 2, 130)
    flow_help = cli("flow", "--help").stdout
    assert f"default {cache.DEFAULT_FLOW_SIZE}" in " ".join(flow_help.split())
