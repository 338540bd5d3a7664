"""The synthetic dataset generator: determinism, manifest contract, varied clip formats, splits,
motion pairs, the registry of actions, context bias, imbalance, ground-truth files, atomic
generation and what it refuses to overwrite. Tiny specs keep it fast."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp

from course_utils import actions, jobs, synthetic, video
from course_utils.config import SyntheticSpec
from course_utils.datasets import MANIFEST_COLUMNS, DatasetError, load_manifest, sha256_file

TINY = SyntheticSpec(subjects=3, reps_per_subject=1, frames=(12, 30), seconds=(0.8, 1.6), height=48,
                     split_subjects=(1, 1, 1))


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """The TINY dataset of seed 7 twice (2 worker processes, then in-process) and of seed 8."""
    root = tmp_path_factory.mktemp("synthetic")
    synthetic.generate_dataset(root / "a", TINY, seed=7, workers=2, progress=False)
    synthetic.generate_dataset(root / "b", TINY, seed=7, workers=1, progress=False)
    synthetic.generate_dataset(root / "c", TINY, seed=8, workers=1, progress=False)
    return {"a": root / "a", "b": root / "b", "c": root / "c"}


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tiny):
    first, second = _files(tiny["a"]), _files(tiny["b"])
    assert len(first) == 2 * 42 + 2  # a video and a ground-truth file per clip, manifest, card
    assert first == second


def test_different_seed_gives_different_videos(tiny):
    a, c = load_manifest(tiny["a"]), load_manifest(tiny["c"])
    assert not set(a["sha256"]) & set(c["sha256"])


def test_manifest_follows_the_contract(tiny):
    manifest = load_manifest(tiny["a"])
    assert list(manifest.columns[:len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    assert {"clip_id", "scene", "gt", "facing", "speed", "twin", "duration_s", "aspect"} <= set(manifest.columns)
    assert sorted(manifest["label"].unique()) == sorted(synthetic.CLASSES)
    assert len(manifest) == TINY.subjects * TINY.reps_per_subject * len(synthetic.CLASSES)
    for _, row in manifest.sample(5, random_state=0).iterrows():
        path = tiny["a"] / row["path"]
        assert path.parent.name == row["label"] and path.stem == row["clip_id"]
        assert sha256_file(path) == row["sha256"]
        info = video.probe_video(path)
        assert (info.frames, info.width, info.height) == (row["frames"], row["width"], row["height"])
        assert info.fps == pytest.approx(row["fps"]) and not info.variable_fps
        assert row["duration_s"] == pytest.approx(row["frames"] / row["fps"], abs=1e-3)


def test_clips_vary_in_duration_fps_and_aspect_the_same_way_for_every_class():
    spec = SyntheticSpec()  # the ci profile's ranges
    formats = [synthetic.draw_format(spec, np.random.default_rng(i)) for i in range(3000)]
    frames = np.array([f["frames"] for f in formats])
    seconds = frames / np.array([f["fps"] for f in formats])
    assert frames.min() >= spec.frames[0] and frames.max() <= spec.frames[1]
    assert np.percentile(frames, 95) > 2.5 * np.percentile(frames, 5)  # several-fold
    assert (frames == spec.frames[0]).mean() < 0.05 and (frames == spec.frames[1]).mean() < 0.05  # no pile-up
    assert seconds.min() >= spec.seconds[0] - 0.05 and seconds.max() <= spec.seconds[1] + 0.05
    assert {f["fps"] for f in formats} == set(spec.fps_choices)
    assert {(f["width"], f["height"]) for f in formats} == {(96, 96), (128, 96), (170, 96)}
    assert {f["aspect"] for f in formats} == {"1:1", "4:3", "16:9"}
    assert all(f["width"] % 2 == 0 for f in formats)


def test_twins_share_duration_fps_and_size(tiny):
    manifest = load_manifest(tiny["a"]).set_index("clip_id")
    columns = ["frames", "fps", "width", "height", "scene", "subject"]
    for _, second in synthetic.MOTION_PAIRS:
        for clip_id, row in manifest[manifest["label"] == second].iterrows():
            assert row[columns].tolist() == manifest.loc[row["twin"], columns].tolist()
    assert manifest["frames"].nunique() > 5 and manifest["fps"].nunique() > 3 and manifest["width"].nunique() == 3


def test_long_and_short_clips_show_the_whole_action():
    head = synthetic.JOINT_NAMES.index("head")
    for frames, fps in ((20, 15.0), (80, 10.0)):  # 1.3 s and 8 s
        clip = synthetic.render_clip("bend", np.random.default_rng(4), size=64, frames=frames, fps=fps, width=86)
        y = clip.joints[:, head, 1]  # grows downwards
        low = int(np.argmax(y))
        assert y[low] - y.min() > 0.2 * 64  # a deep bend ...
        assert y[:low + 1].min() < y[low] - 0.15 * 64 and y[low:].min() < y[low] - 0.15 * 64  # ... from and back up
        assert clip.frames.shape == (frames, 64, 86, 3) and clip.info["fps"] == fps
    walk = synthetic.render_clip("walk", np.random.default_rng(1), size=64, frames=80, fps=10.0, width=64)
    pelvis = walk.joints[:, synthetic.JOINT_NAMES.index("pelvis")]
    assert ((pelvis[:, 0] > 0) & (pelvis[:, 0] < 64)).mean() > 0.9  # the camera follows a long walk
    assert abs(walk.info["pan_px"]) > 10


def test_dataset_card_describes_the_set(tiny):
    card = json.loads((tiny["a"] / synthetic.CARD_NAME).read_text())
    assert card["seed"] == 7 and card["generator"] == synthetic.GENERATOR_VERSION and card["slug"] == TINY.slug(7)
    assert card["video"]["codec"] == "MJPG" and sum(card["video"]["fps"].values()) == 42
    assert card["spec"] == json.loads(json.dumps(dataclasses.asdict(TINY)))
    assert card["classes"] == list(synthetic.CLASSES)
    assert sum(sum(per_class.values()) for per_class in card["counts"].values()) == card["total_clips"] == 42


def test_splits_are_subject_disjoint_with_the_requested_sizes(tiny):
    manifest = load_manifest(tiny["a"])
    assert (manifest.groupby("subject")["split"].nunique() == 1).all()
    subjects = manifest.groupby("split")["subject"].nunique()
    assert [subjects.get(s, 0) for s in ("train", "val", "test")] == list(TINY.split_subjects)


def test_stand_up_is_sit_down_played_backwards():
    sit = synthetic.render_clip("sit_down", np.random.default_rng(5), size=48, frames=12)
    stand = synthetic.render_clip("stand_up", np.random.default_rng(5), size=48, frames=12)
    np.testing.assert_array_equal(stand.frames, sit.frames[::-1])
    np.testing.assert_array_equal(stand.joints, sit.joints[::-1])
    np.testing.assert_array_equal(stand.mask, sit.mask[::-1])
    assert not np.array_equal(stand.frames, sit.frames)  # the clip does change over time


def test_raise_hand_twin_holds_the_wave_pose_of_the_middle_frame():
    wave = synthetic.render_clip("wave_one_hand", np.random.default_rng(3), size=64, frames=16)
    hold = synthetic.render_clip("raise_hand", np.random.default_rng(3), size=64, frames=16)
    np.testing.assert_array_equal(hold.frames[8], wave.frames[8])
    hands = [synthetic.JOINT_NAMES.index(j) for j in ("l_wrist", "r_wrist")]
    raised = hands[int(np.argmin(wave.joints[8, hands, 1]))]  # the higher wrist
    assert np.ptp(wave.joints[:, raised], axis=0).max() > 4 * np.ptp(hold.joints[:, raised], axis=0).max()


def test_held_and_swinging_arm_angles_have_the_same_distribution():
    t = np.arange(32) / 15.0
    rng = np.random.default_rng(0)

    def raised_arm(moving: bool, frame: int) -> tuple[float, float]:
        motion = actions._wave(rng, t, 1.0, "one", moving=moving)
        side = max("lr", key=lambda s: motion.get(f"{s}_el_abd", len(t))[0])  # the raised arm
        return motion.get(f"{side}_sh_abd", len(t))[frame], motion.get(f"{side}_el_abd", len(t))[frame]

    swinging = np.array([raised_arm(True, rng.integers(len(t))) for _ in range(1500)])
    held = np.array([raised_arm(False, rng.integers(len(t))) for _ in range(1500)])
    for k in range(2):  # upper arm, forearm
        assert ks_2samp(swinging[:, k], held[:, k]).pvalue > 0.01
    assert swinging[:, 1].std() > 15  # the forearm angle really varies


def test_twins_in_the_dataset_differ_only_in_motion(tiny):
    manifest = load_manifest(tiny["a"]).set_index("clip_id")
    for first, second in synthetic.MOTION_PAIRS:
        for clip_id, row in manifest[manifest["label"] == second].iterrows():
            twin = manifest.loc[row["twin"]]
            assert twin["label"] == first and twin["twin"] == clip_id
            assert (twin["subject"], twin["rep"], twin["scene"]) == (row["subject"], row["rep"], row["scene"])
    sit = video.read_video(tiny["a"] / manifest.loc["sit_down_s00_r0", "path"]).astype(float)
    stand = video.read_video(tiny["a"] / manifest.loc["stand_up_s00_r0", "path"]).astype(float)
    # Every frame is coded on its own (MJPG, no group of pictures), so the decoded twins are
    # exactly the same frames in reverse order, down to the coding noise.
    np.testing.assert_array_equal(stand[::-1], sit)
    assert np.abs(stand - sit).mean() > 1.0


def test_context_bias_sets_the_share_of_preferred_scenes():
    rng = np.random.default_rng(1)
    for bias in (0.0, 0.3, 0.9, 1.0):
        draws = [synthetic.choose_scene("clap", bias, rng) for _ in range(4000)]
        assert np.mean([preferred for _, preferred in draws]) == pytest.approx(bias, abs=0.03)
        assert all(scene == synthetic.PREFERRED_SCENE["clap"] for scene, preferred in draws if preferred)
        if bias == 0.0:  # uniform over every scene type
            counts = np.unique([scene for scene, _ in draws], return_counts=True)[1]
            assert len(counts) == len(synthetic.SCENES) and counts.min() > 0.7 * 4000 / len(synthetic.SCENES)


def test_members_of_a_motion_pair_share_their_preferred_scene():
    for a, b in synthetic.MOTION_PAIRS:
        assert synthetic.PREFERRED_SCENE[a] == synthetic.PREFERRED_SCENE[b]
    others = [synthetic.PREFERRED_SCENE[c] for c in synthetic.CLASSES if c not in sum(synthetic.MOTION_PAIRS, ())]
    assert len(set(others)) == len(others)  # every other class has a scene of its own


def test_manifest_scenes_follow_the_scene_draw(tiny):
    manifest = load_manifest(tiny["a"])
    preferred = manifest["scene_is_preferred"].astype(bool)
    assert (manifest.loc[preferred, "scene"] == manifest.loc[preferred, "label"].map(synthetic.PREFERRED_SCENE)).all()
    assert set(manifest["scene"]) <= set(synthetic.SCENES)


def test_imbalance_falls_off_geometrically_and_keeps_a_subset_of_the_clips():
    spec = dataclasses.replace(TINY, subjects=4, reps_per_subject=5, split_subjects=(2, 1, 1), imbalance=0.75)
    counts = synthetic.clip_counts(spec)
    full = spec.subjects * spec.reps_per_subject
    assert counts[synthetic.CLASSES[0]] == full and counts[synthetic.CLASSES[-1]] == round(full * 0.25)
    values = [counts[c] for c in synthetic.CLASSES]
    assert values == sorted(values, reverse=True) and len(set(values)) > 5
    balanced = {r["clip_id"]: r["clip_index"] for r in synthetic.plan_clips(dataclasses.replace(spec, imbalance=0))}
    plan = synthetic.plan_clips(spec)
    assert all(balanced[r["clip_id"]] == r["clip_index"] for r in plan)
    assert {c: sum(r["label"] == c for r in plan) for c in synthetic.CLASSES} == counts
    assert set(synthetic.clip_counts(dataclasses.replace(spec, imbalance=0)).values()) == {full}
    with pytest.raises(ValueError, match="imbalance"):
        synthetic.clip_counts(dataclasses.replace(spec, imbalance=1.0))


def test_ground_truth_files_match_the_video(tiny):
    manifest = load_manifest(tiny["a"])
    for _, row in manifest.iloc[::7].iterrows():
        truth = synthetic.load_ground_truth(tiny["a"] / row["gt"])
        assert truth["joints"].shape == (row["frames"], len(synthetic.JOINT_NAMES), 2)
        assert truth["joints"].dtype == np.float32
        assert tuple(truth["joint_names"]) == synthetic.JOINT_NAMES
        assert truth["mask"].shape == (row["frames"], row["height"], row["width"]) and truth["mask"].dtype == bool
        assert truth["mask"].any(axis=(1, 2)).mean() > 0.5
        # the figure's torso joints lie on (or right beside) the person mask
        pelvis = np.round(truth["joints"][:, synthetic.JOINT_NAMES.index("pelvis")]).astype(int)
        inside = (pelvis >= 0).all(1) & (pelvis < [row["width"], row["height"]]).all(1)
        near = [truth["mask"][t, max(0, y - 2):y + 3, max(0, x - 2):x + 3].any()
                for t, (x, y) in zip(np.flatnonzero(inside), pelvis[inside])]
        assert np.mean(near) > 0.7


def test_render_clip_shapes_and_skeleton_overlay():
    clip = synthetic.render_clip("jumping_jack", np.random.default_rng(0), size=64, frames=10, scene="beach")
    assert clip.frames.shape == (10, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.joints.shape == (10, len(synthetic.JOINT_NAMES), 2) and clip.mask.shape == (10, 64, 64)
    assert clip.info["scene"] == "beach"
    wide = synthetic.render_clip("clap", np.random.default_rng(0), size=48, frames=6, width=86)
    assert wide.frames.shape == (6, 48, 86, 3) and wide.mask.shape == (6, 48, 86)
    overlay = synthetic.draw_skeleton(clip.frames[0], clip.joints[0])
    assert overlay.shape == clip.frames[0].shape and (overlay != clip.frames[0]).any()


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown class 'dance'"):
        synthetic.render_clip("dance", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown scene"):
        synthetic.render_clip("walk", np.random.default_rng(0), scene="moon")
    with pytest.raises(ValueError, match="split_subjects"):
        synthetic.generate_dataset(tmp_path / "x", dataclasses.replace(TINY, split_subjects=(1, 1, 2)), seed=0)
    assert not (tmp_path / "x").exists()


def test_the_same_dataset_again_is_returned_without_work(tiny, monkeypatch):
    before = _files(tiny["a"])
    monkeypatch.setattr(synthetic, "parallel_map", lambda *a, **k: pytest.fail("rendered again"))
    manifest = synthetic.generate_dataset(tiny["a"], TINY, seed=7, progress=False)
    assert len(manifest) == 42 and _files(tiny["a"]) == before


def test_another_generated_dataset_is_replaced_only_with_overwrite(tiny, tmp_path):
    out = tmp_path / "set"
    synthetic.generate_dataset(out, TINY, seed=8, workers=1, progress=False)
    before = _files(out)
    with pytest.raises(DatasetError) as error:
        synthetic.generate_dataset(out, TINY, seed=7, workers=1, progress=False)
    message = str(error.value)
    assert str(out) in message and "seed 8" in message and TINY.slug(8) in message and TINY.slug(7) in message
    assert "overwrite=True" in message and "--force" in message
    assert _files(out) == before
    (out / "walk" / "my_notes.txt").write_text("mine")  # a file the course did not make stops the overwrite
    with pytest.raises(DatasetError, match="my_notes.txt: this course did not create it"):
        synthetic.generate_dataset(out, TINY, seed=7, workers=1, progress=False, overwrite=True)
    assert _files(out) == {**before, "walk/my_notes.txt": hashlib.sha256(b"mine").hexdigest()}
    (out / "walk" / "my_notes.txt").unlink()
    synthetic.generate_dataset(out, TINY, seed=7, workers=1, progress=False, overwrite=True)
    assert _files(out) == _files(tiny["a"])
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_a_folder_the_course_did_not_make_is_never_touched(tmp_path):
    mine = tmp_path / "my_videos"
    (mine / "dance").mkdir(parents=True)
    (mine / "dance" / "party.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 my real video")
    (mine / "notes.txt").write_text("do not lose me")
    (mine / synthetic.MANIFEST_NAME).write_text("path,label\n")  # a manifest alone does not make it ours
    before = _files(mine)
    for overwrite in (False, True):
        with pytest.raises(DatasetError, match="not made by the course .*nothing in it was changed, whatever the options"):
            synthetic.generate_dataset(mine, TINY, seed=7, workers=1, progress=False, overwrite=overwrite)
        assert _files(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_videos"]


def test_an_unwritable_parent_is_named_before_any_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(jobs.OutputError, match="a_file"):
        synthetic.generate_dataset(blocker / "set", TINY, seed=7, workers=1, progress=False)


def _render_to_bytes(job: dict, root: Path) -> dict[str, str]:
    synthetic._render_job({**job, "spec": TINY, "seed": 3, "root": str(root)})
    return _files(root)


def test_a_class_added_in_the_middle_changes_no_other_clip(tmp_path, monkeypatch):
    picks = {"walk_s00_r0", "jump_s01_r0", "raise_hand_s02_r0", "sit_down_s00_r0", "stand_up_s00_r0"}
    before = {r["clip_id"]: _render_to_bytes(r, tmp_path / "before" / r["clip_id"])
              for r in synthetic.plan_clips(TINY) if r["clip_id"] in picks}
    _isolate_the_registry(monkeypatch)
    actions.register_action("hop", lambda rng, t, speed, span: actions._jump(rng, t, 1.5 * speed, span),
                            scene="street", before="jump")
    assert synthetic.CLASSES.index("hop") == synthetic.CLASSES.index("jump") - 1
    plan = {r["clip_id"]: r for r in synthetic.plan_clips(TINY)}
    assert "hop_s00_r0" in plan
    after = {clip_id: _render_to_bytes(plan[clip_id], tmp_path / "after" / clip_id) for clip_id in picks}
    assert after == before


def _isolate_the_registry(monkeypatch):
    """Registrations in a test are undone after it (the registry lives in `actions`)."""
    for name in ("CLASSES", "MOTION_PAIRS", "PREFERRED_SCENE"):
        monkeypatch.setattr(actions, name, getattr(actions, name))
    monkeypatch.setattr(actions, "ACTIONS", dict(actions.ACTIONS))


def test_the_registry_checks_what_it_is_given(monkeypatch):
    _isolate_the_registry(monkeypatch)
    with pytest.raises(ValueError, match="already registered"):
        actions.register_action("walk", actions._walk, scene="street")
    with pytest.raises(ValueError, match="unknown scene"):
        actions.register_action("swim", actions._walk, scene="pool")
    with pytest.raises(ValueError, match="shares its preferred scene"):
        actions.register_action("lower_hand", actions._raise_hand, scene="gym", twin_of="wave_one_hand")
    with pytest.raises(ValueError, match="not a registered class"):
        actions.register_action("sit_up", reverse_of="lie_down")


def test_interrupted_generation_leaves_no_dataset(tmp_path, monkeypatch):
    render = synthetic._render_job
    calls = []

    def flaky(job):
        calls.append(job)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return render(job)

    monkeypatch.setattr(synthetic, "_render_job", flaky)
    stale = tmp_path / ".set.partial-4194305"  # left by a process that no longer exists
    stale.mkdir()
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate_dataset(tmp_path / "set", TINY, seed=0, workers=1, progress=False)
    assert len(calls) == 10
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor any partial folder
