"""Manifests of class-folder trees: real clips, codecs and broken files."""
import os

import pandas as pd
import pytest

from course_utils import catalog, config, datasets, jobs


def test_mixed_tree_lists_good_clips_and_names_each_broken_file(mixed_class_tree):
    frame, failures = datasets.scan_class_folder(mixed_class_tree.root, workers=2, progress=False)
    assert sorted(frame["path"]) == sorted(mixed_class_tree.good)
    assert {f.path for f in failures} == set(mixed_class_tree.bad)
    reasons = {f.path: f.reason for f in failures}
    for path, kind in mixed_class_tree.bad.items():
        assert reasons[path], path
        if kind == "empty":
            assert "empty" in reasons[path]
    row = frame.set_index("path").loc["clap/clap_p02_r01.avi"]
    assert row["label"] == "clap" and row["subject"] == "subject002" and row["frames"] == 16
    assert row["sha256"] == jobs.sha256_file(mixed_class_tree.root / "clap/clap_p02_r01.avi")


def test_real_ps7_clips(ps7_class_tree):
    frame, failures = datasets.scan_class_folder(ps7_class_tree, progress=False)
    assert failures == [] and len(frame) == 27
    assert frame.groupby("label").size().to_dict() == {"arms_up_forward": 9, "arms_up_sideways": 9,
                                                       "one_arm_up_sideways": 9}
    assert frame["frames"].between(61, 115).all()
    assert set(frame["fps"].round(2)) == {29.97} and set(frame["width"]) == {640}
    assert sorted(frame["subject"].unique()) == ["subject001", "subject002", "subject003"]
    assert frame.groupby("subject")["split"].nunique().max() == 1
    assert set(frame["split"]) == {"train", "val", "test"}


def test_h264_1080p_mp4_is_described(h264_1080p, tmp_path):
    (tmp_path / "clap").mkdir()
    (tmp_path / "clap" / h264_1080p.path.name).symlink_to(h264_1080p.path)
    frame, failures = datasets.scan_class_folder(tmp_path, workers=1, progress=False)
    assert failures == []
    row = frame.iloc[0]
    assert (row["width"], row["height"], row["frames"]) == (1920, 1080, h264_1080p.frames)
    assert row["fps"] == pytest.approx(h264_1080p.fps, abs=0.01)


def test_subject_splits_are_disjoint_and_sized():
    subjects = [f"s{i % 10}" for i in range(100)]
    splits = datasets.assign_subject_splits(subjects, (0.6, 0.2, 0.2), seed=3)
    by_subject = pd.Series(splits).groupby(subjects).nunique()
    assert by_subject.max() == 1
    assert pd.Series(splits).value_counts().to_dict() == {"train": 60, "val": 20, "test": 20}


@pytest.mark.parametrize("stem, subject", [("clap_p03_r01", "subject003"), ("v_Basketball_g07_c01", "subject007"),
                                           ("person12_walking_d1", "subject012"), ("PS7A2P3T1", "subject003"),
                                           ("brush_hair_April_09_brush_hair_u_nm_np1_ba_goo_0", "brush_hair_April_09_brush_hair_u_nm_np1_ba_goo_0")])
def test_subject_from_name(stem, subject):
    assert datasets.subject_from_name(stem) == subject


def test_manifest_errors_say_what_to_do(tmp_path):
    with pytest.raises(datasets.DatasetError, match="python -m course_utils manifest"):
        datasets.load_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,label\na.avi,x\n")
    with pytest.raises(datasets.DatasetError, match="missing columns"):
        datasets.load_manifest(tmp_path)
    with pytest.raises(datasets.DatasetError, match="no class sub-folders"):
        datasets.find_class_videos(tmp_path)
    with pytest.raises(datasets.DatasetError, match="not a folder"):
        datasets.find_class_videos(tmp_path / "missing")


def test_unknown_split_value_is_rejected(tmp_path):
    row = dict(path="a/x.avi", label="a", subject="s", split="unused", frames=1, fps=1, width=1, height=1, sha256="0")
    pd.DataFrame([row]).to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(datasets.DatasetError, match="unused"):
        datasets.load_manifest(tmp_path)


def test_read_only_folder_gets_its_manifest_under_artifacts(ps7_class_tree, tmp_path):
    cfg = config.resolve_config(dataset=str(ps7_class_tree), artifacts_dir=tmp_path)
    frame = catalog.prepare_dataset(cfg, progress=False)
    assert len(frame) == 27 and not (ps7_class_tree / "manifest.csv").exists()
    assert catalog.scanned_manifest_path(cfg, ps7_class_tree).is_file()
    assert all(p.is_file() for p in datasets.video_paths(frame))
    assert os.path.samefile(datasets.video_paths(frame)[0].parent.parent, ps7_class_tree)
