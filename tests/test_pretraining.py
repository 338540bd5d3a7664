"""Course-made pretraining: a separate synthetic set, joint targets that land on the figure, weights
that load through ``weights=<path>``, a card with held-out scores, and a second call that loads
instead of training again."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from course_utils import config, models, pretraining, synthetic  # noqa: E402

TINY = pretraining.Pretext(subjects=2, reps=1, frames=2, held_out=1, epochs=1, batch_size=8)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    return config.resolve_config("ci", data_dir=root / "data", artifacts_dir=root / "artifacts", image_size=32,
                                 frames=(20, 24), seconds=(1.0, 1.5))


def test_the_pretext_set_is_a_separate_dataset_without_context_bias(cfg):
    manifest = pretraining.pretext_dataset(cfg, TINY, workers=1, progress=False)
    assert str(cfg.dataset_root) not in manifest.attrs["root"] and "seed" + str(cfg.seed + pretraining.PRETEXT_SEED_OFFSET) in manifest.attrs["root"]
    assert set(manifest["split"]) == {"train", "test"} and manifest.groupby("split")["subject"].nunique().to_dict() == {"train": 1, "test": 1}
    assert not manifest["scene_is_preferred"].all()


def figure(**moves) -> np.ndarray:
    """An upright figure, joints ``(J, 2)`` in pixels (y down), with some joints moved."""
    at = {"head": (50, 10), "neck": (50, 20), "l_shoulder": (45, 22), "l_elbow": (44, 34), "l_wrist": (44, 46),
          "r_shoulder": (55, 22), "r_elbow": (56, 34), "r_wrist": (56, 46), "pelvis": (50, 45), "l_hip": (46, 46),
          "l_knee": (46, 65), "l_ankle": (46, 85), "r_hip": (54, 46), "r_knee": (54, 65), "r_ankle": (54, 85), **moves}
    return np.array([at[name] for name in synthetic.JOINT_NAMES], np.float32)


def test_pose_attributes_answer_for_any_size_and_place():
    names = pretraining.POSE_ATTRIBUTES
    standing = dict(zip(names, pretraining.pose_attributes(figure())))
    assert not any(standing.values())
    raised = dict(zip(names, pretraining.pose_attributes(figure(l_wrist=(44, 5), l_elbow=(45, 12)))))
    assert raised["left_wrist_up"] and not raised["right_wrist_up"]
    sitting = dict(zip(names, pretraining.pose_attributes(figure(l_knee=(60, 48), r_knee=(62, 48), l_ankle=(60, 68),
                                                                 r_ankle=(62, 68)))))
    assert sitting["legs_folded"] and sitting["knee_raised"]
    clap = figure(l_wrist=(50, 32), r_wrist=(52, 32))
    np.testing.assert_array_equal(pretraining.pose_attributes(clap), pretraining.pose_attributes(clap * 3 + 40))
    assert dict(zip(names, pretraining.pose_attributes(clap)))["hands_together"]


def test_pretrain_saves_weights_that_load_and_reuses_them(cfg):
    path, card = pretraining.pretrain_backbone(cfg, "mobilenet_v2", pretext=TINY, workers=1, progress=False, alpha=0.35)
    assert path.is_file() and path.name.endswith(".weights.h5") and path.parent == cfg.artifacts_dir / "pretrained"
    assert 0 <= card["scene_accuracy"] <= 1 and 0.5 <= card["attribute_majority"] <= 1
    assert 0 <= card["attribute_accuracy"] <= 1 and card["held_out_frames"] == 14 * 2
    assert json.loads(path.with_name(path.name.replace(".weights.h5", ".json")).read_text()) == card
    backbone = models.build_backbone("mobilenet_v2", 32, str(path), alpha=0.35)
    assert backbone.count_params() > 0
    stamp = path.stat().st_mtime_ns
    again, card_again = pretraining.pretrain_backbone(cfg, "mobilenet_v2", pretext=TINY, workers=1, progress=False, alpha=0.35)
    assert again == path and card_again == card and path.stat().st_mtime_ns == stamp
    other = pretraining.weights_path(cfg, "mobilenet_v2", 32, dataclasses.replace(TINY, epochs=2), alpha=0.35)
    assert other != path

