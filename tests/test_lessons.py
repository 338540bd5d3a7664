"""The synthetic data teaches what the course claims, checked with quick linear probes.

A small set (10 subjects, 3 repetitions, subject-disjoint 6 train / 4 test, with the clip
formats of the ``ci`` profile: 20-80 frames, 1.2-4 s, 10-29.97 fps, 96 px high, square to
16:9) is generated twice, without and with scene-class correlation. These tests fail if the generator stops teaching a lesson: e.g. if stand-up
clips were not sit-down clips played backwards (motion could not separate them), if a
raised hand were held at a pose the wave does not have (a single frame could), or if
scenes stopped following the class (context would not help).
"""
from __future__ import annotations

import dataclasses

import pytest

from course_utils import features, synthetic
from course_utils.config import SyntheticSpec

LESSON_SPEC = SyntheticSpec(subjects=10, reps_per_subject=3, split_subjects=(6, 0, 4))  # ci formats
PAIRS = [f"{a}/{b}" for a, b in synthetic.MOTION_PAIRS]


def _probe(tmp_path_factory, context_bias: float) -> dict:
    spec = dataclasses.replace(LESSON_SPEC, context_bias=context_bias)
    out = tmp_path_factory.mktemp("lessons") / spec.slug(0)
    manifest = synthetic.generate_dataset(out, spec, seed=0, progress=False)
    return features.lesson_probes(manifest, progress=False)


@pytest.fixture(scope="module")
def no_context(tmp_path_factory) -> dict:
    return _probe(tmp_path_factory, 0.0)


@pytest.fixture(scope="module")
def with_context(tmp_path_factory) -> dict:
    return _probe(tmp_path_factory, 0.9)


@pytest.fixture(params=["no_context", "with_context"])
def probes(request) -> dict:
    return request.getfixturevalue(request.param)


def test_the_probes_see_every_class_and_pair(probes):
    classes = len(synthetic.CLASSES)
    assert probes["chance"] == pytest.approx(1 / classes)
    assert (probes["n_train"], probes["n_test"]) == (6 * 3 * classes, 4 * 3 * classes)
    assert set(probes["appearance"]["pairwise"]) == set(probes["motion"]["pairwise"]) == set(PAIRS)


def test_both_probes_are_well_above_chance(probes):
    chance = probes["chance"]
    assert probes["motion"]["test_accuracy"] > 6 * chance
    assert probes["motion"]["macro_f1"] > 5 * chance
    assert probes["appearance"]["test_accuracy"] > 1.5 * chance  # even from the pose in one frame


@pytest.mark.parametrize("pair", PAIRS)
def test_a_single_frame_cannot_separate_a_motion_pair(probes, pair):
    assert probes["appearance"]["pairwise"][pair] <= 0.60


@pytest.mark.parametrize("pair", PAIRS)
def test_motion_separates_a_motion_pair(probes, pair):
    assert probes["motion"]["pairwise"][pair] >= 0.85


def test_context_bias_helps_the_appearance_probe(no_context, with_context):
    gain = with_context["appearance"]["test_accuracy"] - no_context["appearance"]["test_accuracy"]
    assert gain >= 0.10
    assert with_context["appearance"]["test_accuracy"] > 4 * with_context["chance"]
