"""The embedded synthetic human-action dataset, rendered procedurally from a seed.

An articulated figure (head, neck, torso, hips, two-segment arms and legs) is posed by
per-class joint-angle trajectories, placed by 3-D forward kinematics, projected on the
image plane from a random viewpoint and drawn over a procedural scene, with camera
sway, occluders, moving distractors, blur and sensor noise. The data is built to teach:

* motion-only pairs (:data:`MOTION_PAIRS`): a ``stand_up`` clip is a ``sit_down`` clip
  played backwards (noise, sway and distractors included), and ``raise_hand`` holds the
  arm still at an angle drawn from the same distribution as the wave's swinging angle.
  The members of a pair are rendered as *twins*: the second one reuses the random draw of
  the first one's clip of the same subject and repetition, so twins share subject, scene,
  viewpoint and distractors, and differ only in motion. No single frame can tell them apart;
* context bias: with probability ``context_bias`` a clip is filmed in its class's preferred
  scene (shared by the members of a pair), otherwise in a uniformly random one;
* class imbalance and subject-disjoint splits.

:func:`generate_dataset` writes ``<out>/<label>/<clip_id>.mp4`` plus per-frame ground truth
``<clip_id>.npz`` (joints, person mask), ``manifest.csv`` and ``dataset_card.json``;
:func:`render_clip` renders one clip in memory and :func:`draw_skeleton` overlays joints.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from statistics import NormalDist
from typing import Any, Callable, NamedTuple

import cv2
import numpy as np
import pandas as pd

from .config import ConfigError, SyntheticSpec
from .datasets import MANIFEST_COLUMNS, MANIFEST_NAME, SPLITS, DatasetError, load_manifest, write_manifest
from .jobs import atomic_write_bytes, atomic_write_text, parallel_map, process_alive, sha256_file
from .video import write_video

GENERATOR_VERSION = "course-synthetic-humans/1.0"
CARD_NAME = "dataset_card.json"

CLASSES = ("walk", "run", "jump", "jumping_jack", "wave_one_hand", "wave_two_hands", "raise_hand",
           "clap", "punch", "kick", "bend", "squat", "sit_down", "stand_up")
MOTION_PAIRS = (("sit_down", "stand_up"), ("wave_one_hand", "raise_hand"))
SCENES = ("street", "park", "beach", "gym", "classroom", "stage", "living_room", "office",
          "garden", "studio", "dojo", "field")
PREFERRED_SCENE = {
    "walk": "street", "run": "park", "jump": "beach", "jumping_jack": "gym",
    "wave_one_hand": "classroom", "raise_hand": "classroom", "wave_two_hands": "stage",
    "clap": "office", "punch": "dojo", "kick": "field", "bend": "garden", "squat": "studio",
    "sit_down": "living_room", "stand_up": "living_room",
}
JOINT_NAMES = ("head", "neck", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
               "pelvis", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")
BONES = (("head", "neck"), ("neck", "pelvis"), ("neck", "l_shoulder"), ("l_shoulder", "l_elbow"),
         ("l_elbow", "l_wrist"), ("neck", "r_shoulder"), ("r_shoulder", "r_elbow"),
         ("r_elbow", "r_wrist"), ("pelvis", "l_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
         ("pelvis", "r_hip"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"))
_J = {name: i for i, name in enumerate(JOINT_NAMES)}
_SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel positions, smooth motion
_ONE = 1 << _SHIFT


# --------------------------------------------------------------------------- subjects

@dataclasses.dataclass(frozen=True)
class Appearance:
    """How one subject looks: colours (RGB) and body proportions (fractions of height)."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    shoes: tuple[int, int, int]
    long_sleeves: bool
    head_r: float
    neck: float
    torso: float
    shoulder_w: float
    hip_w: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    foot: float
    limb_w: float
    torso_w: float


_SKIN_TONES = ((255, 224, 196), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
               (92, 56, 30))
_HAIR = ((20, 15, 10), (60, 40, 20), (110, 70, 30), (200, 160, 90), (150, 150, 150), (120, 30, 20))


def _hsv_color(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> tuple:
    hsv = np.uint8([[[rng.integers(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _jitter(rng: np.random.Generator, color: tuple, amount: float = 18) -> tuple:
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in color)


def make_appearance(rng: np.random.Generator) -> Appearance:
    """Draw one subject: skin tone, hair, clothes, proportions and build."""
    build = rng.uniform(0.85, 1.25)
    legs = rng.uniform(0.95, 1.05)
    return Appearance(
        skin=_jitter(rng, _SKIN_TONES[rng.integers(len(_SKIN_TONES))], 10),
        hair=_jitter(rng, _HAIR[rng.integers(len(_HAIR))], 10),
        shirt=_hsv_color(rng, (0.3, 0.95), (0.35, 1.0)),
        pants=_hsv_color(rng, (0.1, 0.8), (0.15, 0.7)),
        shoes=_hsv_color(rng, (0.0, 0.6), (0.05, 0.9)),
        long_sleeves=bool(rng.random() < 0.5),
        head_r=rng.uniform(0.062, 0.072), neck=rng.uniform(0.03, 0.045),
        torso=rng.uniform(0.28, 0.31), shoulder_w=rng.uniform(0.095, 0.12) * build ** 0.5,
        hip_w=rng.uniform(0.045, 0.06) * build ** 0.5,
        upper_arm=rng.uniform(0.16, 0.18), forearm=rng.uniform(0.15, 0.17),
        thigh=rng.uniform(0.23, 0.25) * legs, shin=rng.uniform(0.23, 0.25) * legs,
        foot=rng.uniform(0.05, 0.065), limb_w=rng.uniform(0.05, 0.065) * build,
        torso_w=rng.uniform(0.09, 0.12) * build)


def subject_appearance(seed: int, subject: int) -> Appearance:
    """The appearance of ``subject`` in the dataset of ``seed`` (the same in all its clips)."""
    return make_appearance(np.random.default_rng(np.random.SeedSequence([seed, subject], spawn_key=(1,))))


# --------------------------------------------------------------------------- motion

_POSE_KEYS = ("lean", "l_sh_flex", "l_sh_abd", "l_el_flex", "l_el_abd", "r_sh_flex", "r_sh_abd",
              "r_el_flex", "r_el_abd", "l_hip_flex", "l_hip_abd", "l_knee_flex", "l_knee_abd",
              "r_hip_flex", "r_hip_abd", "r_knee_flex", "r_knee_abd", "fwd", "lift")


@dataclasses.dataclass
class Motion:
    """Joint angles in degrees over time (scalars broadcast).

    Arm angles are in the torso frame (which leans forward by ``lean``), leg angles in the
    upright pelvis frame; ``*_el_*``/``*_knee_*`` are the forearm/shin directions, not
    relative flexions. ``flex`` swings a segment forward from hanging straight down,
    ``abd`` swings it sideways away from the body. ``fwd`` is the forward travel and
    ``lift`` the height above the floor, in body heights.
    """

    view: str  # "front" or "side"
    plant: str | None  # which feet stay put on the floor: "both", "l", "r" or None
    angles: dict[str, Any]

    def __post_init__(self) -> None:
        unknown = set(self.angles) - set(_POSE_KEYS)
        if unknown:
            raise ValueError(f"unknown pose keys {sorted(unknown)}; allowed: {', '.join(_POSE_KEYS)}")

    def get(self, key: str, frames: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.angles.get(key, 0.0), dtype=np.float64), (frames,))


def _keyframes(u: np.ndarray, keys: list[tuple[float, float]]) -> np.ndarray:
    """Periodic keyframe curve over ``u`` in [0, 1) with cosine easing between keys."""
    xs = np.array([k[0] for k in keys] + [keys[0][0] + 1.0])
    ys = np.array([k[1] for k in keys] + [keys[0][1]])
    u = np.mod(u - xs[0], 1.0) + xs[0]
    i = np.clip(np.searchsorted(xs, u, side="right") - 1, 0, len(xs) - 2)
    f = (u - xs[i]) / (xs[i + 1] - xs[i])
    ease = 0.5 - 0.5 * np.cos(np.pi * f)
    return ys[i] + (ys[i + 1] - ys[i]) * ease


def _idle(rng: np.random.Generator, t: np.ndarray) -> dict[str, Any]:
    """Standing relaxed, breathing and swaying a little."""
    sway = 2 * np.pi * rng.uniform(0.2, 0.35) * t + rng.uniform(0, 2 * np.pi)
    arm_abd, arm_flex = rng.uniform(4, 10), rng.uniform(-3, 6)
    return {"lean": rng.uniform(-2, 3) + 1.5 * np.sin(sway),
            "l_sh_abd": arm_abd, "r_sh_abd": arm_abd, "l_el_abd": arm_abd, "r_el_abd": arm_abd,
            "l_sh_flex": arm_flex, "r_sh_flex": arm_flex,
            "l_el_flex": arm_flex + rng.uniform(5, 15), "r_el_flex": arm_flex + rng.uniform(5, 15),
            "l_hip_abd": rng.uniform(2, 6), "r_hip_abd": rng.uniform(2, 6)}


def _cycle(rng: np.random.Generator, t: np.ndarray, hz: tuple[float, float], speed: float) -> np.ndarray:
    """Phase in radians of a periodic action at a random rate and phase."""
    return 2 * np.pi * rng.uniform(*hz) * speed * t + rng.uniform(0, 2 * np.pi)


def _gait(rng, t, speed, run: bool) -> Motion:
    s = _cycle(rng, t, (1.25, 1.55) if run else (0.8, 1.0), speed)
    amp = rng.uniform(30, 40) if run else rng.uniform(20, 28)
    bias = 12.0 if run else 0.0
    knee = rng.uniform(70, 100) if run else rng.uniform(25, 40)
    arm_amp = rng.uniform(30, 45) if run else 0.8 * amp
    elbow = rng.uniform(75, 95) if run else rng.uniform(10, 25)
    a = {"lean": rng.uniform(8, 15) if run else rng.uniform(0, 5)}
    for side, shift in (("l", 0.0), ("r", np.pi)):
        hip = bias + amp * np.sin(s + shift)
        a[f"{side}_hip_flex"] = hip
        a[f"{side}_knee_flex"] = hip - knee * np.maximum(0.0, np.cos(s + shift)) ** 1.5 - (10 if run else 3)
        a[f"{side}_sh_flex"] = -arm_amp * np.sin(s + shift)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + elbow
        a[f"{side}_sh_abd"] = a[f"{side}_el_abd"] = rng.uniform(3, 8)
    a["l_hip_abd"] = a["r_hip_abd"] = 2.0
    a["fwd"] = (rng.uniform(0.6, 0.8) if run else rng.uniform(0.4, 0.55)) * speed * t
    a["lift"] = 0.03 * np.maximum(0.0, np.sin(2 * s)) if run else 0.0
    return Motion("side", None, a)


def _walk(rng, t, speed):
    return _gait(rng, t, speed, run=False)


def _run(rng, t, speed):
    return _gait(rng, t, speed, run=True)


def _jump(rng, t, speed):
    u = _cycle(rng, t, (0.8, 1.1), speed) / (2 * np.pi)
    crouch, land, height = rng.uniform(45, 70), rng.uniform(30, 50), rng.uniform(0.1, 0.18)
    bend = _keyframes(u, [(0.0, 0.0), (0.22, crouch), (0.35, 0.0), (0.7, 0.0), (0.8, land), (0.95, 0.0)])
    flight = np.clip((np.mod(u, 1.0) - 0.35) / 0.35, 0.0, 1.0)
    arms = _keyframes(u, [(0.0, 0.0), (0.22, -35.0), (0.45, rng.uniform(140, 170)), (0.7, 60.0),
                          (0.85, 0.0)])
    a = _idle(rng, t)
    for side in "lr":
        a[f"{side}_hip_flex"], a[f"{side}_knee_flex"] = bend, -bend
        a[f"{side}_hip_abd"] = a[f"{side}_knee_abd"] = 4 + 0.15 * bend
        a[f"{side}_sh_flex"], a[f"{side}_el_flex"] = arms, arms + 10
    a["lean"] = 0.3 * bend
    a["lift"] = height * 4 * flight * (1 - flight)
    return Motion("front", "both", a)


def _jumping_jack(rng, t, speed):
    s = 0.5 - 0.5 * np.cos(_cycle(rng, t, (0.9, 1.3), speed))
    arms = rng.uniform(5, 12) + rng.uniform(150, 170) * s
    legs = 3 + rng.uniform(14, 22) * s
    a = _idle(rng, t)
    for side in "lr":
        a[f"{side}_sh_abd"], a[f"{side}_el_abd"] = arms, arms + 8 * s
        a[f"{side}_sh_flex"] = a[f"{side}_el_flex"] = 0.0
        a[f"{side}_hip_abd"] = a[f"{side}_knee_abd"] = legs
    a["lift"] = 0.04 * np.abs(np.sin(np.pi * s))
    return Motion("front", None, a)


def _wave(rng, t, speed, hands: str, moving: bool) -> Motion:
    """A raised arm swinging from the shoulder and elbow; ``moving=False`` holds it still.

    The held arm keeps the pose the swinging arm has in the middle frame, at the random
    phase ``U``: its angle ``centre + amp * sin(2*pi*U)`` has exactly the distribution of
    the swinging angle at any instant, so single frames of a wave and a raised hand match.
    """
    a = _idle(rng, t)
    sides = "lr" if hands == "two" else ("l" if rng.random() < 0.5 else "r")
    rate = rng.uniform(1.6, 2.4) * speed
    clock = t if moving else t[len(t) // 2]
    for side in sides:
        phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * rate * (clock - t[len(t) // 2])
        a[f"{side}_sh_abd"] = rng.uniform(100, 135) + rng.uniform(6, 14) * np.sin(phase)
        a[f"{side}_sh_flex"] = rng.uniform(-5, 15)
        a[f"{side}_el_abd"] = rng.uniform(150, 172) + rng.uniform(28, 42) * np.sin(phase)
        a[f"{side}_el_flex"] = rng.uniform(-5, 10)
    return Motion("front", "both", a)


def _wave_one_hand(rng, t, speed):
    return _wave(rng, t, speed, "one", moving=True)


def _raise_hand(rng, t, speed):
    return _wave(rng, t, speed, "one", moving=False)


def _wave_two_hands(rng, t, speed):
    return _wave(rng, t, speed, "two", moving=True)


def _clap(rng, t, speed):
    a = _idle(rng, t)
    open_ = np.abs(np.sin(_cycle(rng, t, (0.9, 1.3), speed))) ** 0.7
    closed, opened = rng.uniform(-62, -52), rng.uniform(-10, 15)
    for side in "lr":
        a[f"{side}_sh_flex"], a[f"{side}_sh_abd"] = rng.uniform(20, 40), rng.uniform(3, 10)
        a[f"{side}_el_flex"] = rng.uniform(55, 75)
        a[f"{side}_el_abd"] = closed + (opened - closed) * open_
    return Motion("front", "both", a)


def _punch(rng, t, speed):
    phase = _cycle(rng, t, (1.1, 1.6), speed) / (2 * np.pi)
    reach = _keyframes(phase, [(0.0, 0.0), (0.2, 1.0), (0.4, 1.0), (0.7, 0.0)])
    left_turn = np.mod(np.floor(phase), 2) == 0
    guard_arm, guard_fore = rng.uniform(10, 25), rng.uniform(130, 150)
    a = {"lean": rng.uniform(5, 12), "l_hip_flex": 14, "l_knee_flex": 2, "r_hip_flex": -14,
         "r_knee_flex": -16, "l_hip_abd": 3, "r_hip_abd": 3}
    for side, mine in (("l", left_turn), ("r", ~left_turn)):
        e = reach * mine
        a[f"{side}_sh_flex"] = guard_arm + (rng.uniform(80, 92) - guard_arm) * e
        a[f"{side}_el_flex"] = guard_fore + (rng.uniform(84, 94) - guard_fore) * e
        a[f"{side}_sh_abd"] = a[f"{side}_el_abd"] = rng.uniform(5, 15) * (1 - e)
    return Motion("side", "both", a)


def _kick(rng, t, speed):
    u = _cycle(rng, t, (0.7, 1.0), speed) / (2 * np.pi)
    top = rng.uniform(60, 85)
    thigh = _keyframes(u, [(0.0, 0.0), (0.15, -15.0), (0.4, top), (0.55, top), (0.8, 0.0)])
    knee = _keyframes(u, [(0.0, 0.0), (0.15, 20.0), (0.3, 85.0), (0.45, 5.0), (0.55, 5.0),
                          (0.7, 60.0), (0.85, 5.0)])
    kicker, support = ("r", "l") if rng.random() < 0.5 else ("l", "r")
    a = {"lean": -0.15 * np.maximum(thigh, 0) + rng.uniform(0, 5),
         f"{kicker}_hip_flex": thigh, f"{kicker}_knee_flex": thigh - knee,
         f"{support}_hip_flex": -3.0, f"{support}_knee_flex": -3.0, "l_hip_abd": 3, "r_hip_abd": 3}
    for side in "lr":
        a[f"{side}_sh_abd"] = a[f"{side}_el_abd"] = rng.uniform(25, 50)
        a[f"{side}_sh_flex"] = rng.uniform(-10, 25)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + rng.uniform(10, 40)
    return Motion("side", support, a)


def _bend(rng, t, speed):
    s = 0.5 - 0.5 * np.cos(_cycle(rng, t, (0.35, 0.5), speed))
    lean = rng.uniform(70, 100) * s
    a = _idle(rng, t)
    a["lean"] = lean
    for side in "lr":
        a[f"{side}_sh_flex"] = lean * rng.uniform(0.9, 1.1)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + rng.uniform(0, 15)
        a[f"{side}_hip_flex"], a[f"{side}_knee_flex"] = 8 * s, -8 * s
    return Motion("side", "both", a)


def _squat(rng, t, speed):
    s = 0.5 - 0.5 * np.cos(_cycle(rng, t, (0.45, 0.7), speed))
    lean = rng.uniform(30, 45) * s
    a = _idle(rng, t)
    a["lean"] = lean
    reach = rng.uniform(75, 95)
    for side in "lr":
        a[f"{side}_hip_flex"] = rng.uniform(80, 105) * s
        a[f"{side}_knee_flex"] = -rng.uniform(25, 40) * s
        a[f"{side}_sh_flex"] = reach * s - lean + 5 * (1 - s)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + 5
    return Motion("side", "both", a)


def _sit_down(rng, t, speed):
    # The whole motion happens inside the clip, its middle at a time drawn symmetrically about
    # the clip's middle: played backwards, sitting-down clips are equally likely standing-up clips.
    margin = 0.1 * t[-1]
    duration = min(rng.uniform(0.8, 1.2) / speed, t[-1] - 2 * margin)
    centre = t[-1] / 2 + rng.uniform(-0.5, 0.5) * (t[-1] - 2 * margin - duration)
    p = np.clip((t - centre) / duration + 0.5, 0.0, 1.0)
    p = p * p * (3 - 2 * p)
    a = _idle(rng, t)
    thigh = rng.uniform(80, 95)
    a["lean"] = a["lean"] + rng.uniform(30, 45) * np.sin(np.pi * p) + 8 * p
    for side in "lr":
        a[f"{side}_hip_flex"] = thigh * p
        a[f"{side}_knee_flex"] = -5 * p
        a[f"{side}_sh_flex"] = a[f"{side}_sh_flex"] + 25 * p + 30 * np.sin(np.pi * p)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + 15 + 40 * p
    return Motion("side", "both", a)


_MOTIONS: dict[str, Callable[..., Motion]] = {
    "walk": _walk, "run": _run, "jump": _jump, "jumping_jack": _jumping_jack,
    "wave_one_hand": _wave_one_hand, "wave_two_hands": _wave_two_hands, "raise_hand": _raise_hand,
    "clap": _clap, "punch": _punch, "kick": _kick, "bend": _bend, "squat": _squat,
    "sit_down": _sit_down,
}
# Classes rendered as another class played backwards.
_REVERSED = {"stand_up": "sit_down"}
# Each member of a motion pair and its twin; the second member reuses the first one's draw.
_TWINS = {**{a: b for a, b in MOTION_PAIRS}, **{b: a for a, b in MOTION_PAIRS}}
_SECOND_OF_PAIR = {b for _, b in MOTION_PAIRS}


# --------------------------------------------------------------------------- kinematics

def _limb(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """Unit direction (T, 3) in the body frame (x: figure's left, y: up, z: forward)."""
    flex, abd = np.radians(flex), np.radians(abd)
    return np.stack([side * np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], -1)


def _lean(v: np.ndarray, lean: np.ndarray) -> np.ndarray:
    """Rotate body-frame vectors (T, 3) forward about the hips' lateral axis."""
    c, s = np.cos(lean)[:, None], np.sin(lean)[:, None]
    return np.concatenate([v[:, :1], v[:, 1:2] * c - v[:, 2:] * s, v[:, 1:2] * s + v[:, 2:] * c], 1)


def forward_kinematics(motion: Motion, body: Appearance, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions ``(T, J, 3)`` and toe positions ``(T, 2, 3)`` in body heights.

    Feet rest on the floor (y = 0) unless lifted; planted feet keep their first position.
    """
    def g(key: str) -> np.ndarray:
        return motion.get(key, frames)

    lean = np.radians(g("lean"))
    zero = np.zeros(frames)
    joints = np.zeros((frames, len(JOINT_NAMES), 3))
    toes = np.zeros((frames, 2, 3))
    joints[:, _J["neck"]] = _lean(np.stack([zero, zero + body.torso, zero], -1), lean)
    joints[:, _J["head"]] = _lean(np.stack([zero, zero + body.torso + body.neck + body.head_r, zero], -1),
                                  lean)
    for k, (side, sign) in enumerate((("l", 1.0), ("r", -1.0))):
        shoulder = _lean(np.stack([zero + sign * body.shoulder_w, zero + body.torso - 0.02, zero], -1), lean)
        elbow = shoulder + body.upper_arm * _lean(_limb(g(f"{side}_sh_flex"), g(f"{side}_sh_abd"), sign), lean)
        wrist = elbow + body.forearm * _lean(_limb(g(f"{side}_el_flex"), g(f"{side}_el_abd"), sign), lean)
        hip = np.stack([zero + sign * body.hip_w, zero, zero], -1)
        knee = hip + body.thigh * _limb(g(f"{side}_hip_flex"), g(f"{side}_hip_abd"), sign)
        ankle = knee + body.shin * _limb(g(f"{side}_knee_flex"), g(f"{side}_knee_abd"), sign)
        for name, value in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hip", hip),
                            ("knee", knee), ("ankle", ankle)):
            joints[:, _J[f"{side}_{name}"]] = value
        toes[:, k] = ankle + body.foot * _limb(g(f"{side}_knee_flex") + 90, zero, sign)
    ankles = joints[:, [_J["l_ankle"], _J["r_ankle"]]]
    root = np.zeros((frames, 3))
    root[:, 1] = -ankles[:, :, 1].min(1) + body.limb_w / 2 + g("lift")
    root[:, 2] = g("fwd")
    if motion.plant:
        planted = {"both": [0, 1], "l": [0], "r": [1]}[motion.plant]
        foot_z = ankles[:, planted, 2].mean(1)
        root[:, 2] += foot_z[0] - foot_z
    return joints + root[:, None], toes + root[:, None]


# --------------------------------------------------------------------------- scenes

def _noise_field(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth random texture in [-1, 1], shape (h, w, 1)."""
    small = rng.uniform(-1, 1, (max(2, cells), max(2, cells))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]


def _fill(img, y0, y1, color, rng=None, texture=0.0, cells=8):
    h, w = img.shape[:2]
    y0, y1 = int(y0 * h), int(y1 * h)
    band = np.empty((y1 - y0, w, 3), np.float32)
    band[:] = color
    if texture and rng is not None and y1 > y0:
        band += texture * _noise_field(rng, y1 - y0, w, cells)
    img[y0:y1] = np.clip(band, 0, 255).astype(np.uint8)


def _gradient(img, y0, y1, top, bottom):
    h = img.shape[0]
    y0, y1 = int(y0 * h), int(y1 * h)
    f = np.linspace(0, 1, max(1, y1 - y0), dtype=np.float32)[:, None, None]
    img[y0:y1] = (np.array(top, np.float32) * (1 - f) + np.array(bottom, np.float32) * f).astype(np.uint8)


def _rect(img, x0, y0, x1, y1, color, thickness=-1):
    h, w = img.shape[:2]
    cv2.rectangle(img, (int(x0 * w), int(y0 * h)), (int(x1 * w), int(y1 * h)), color, thickness)


def _scene_street(rng, img):
    _gradient(img, 0, 0.4, _jitter(rng, (150, 180, 215)), _jitter(rng, (205, 215, 225)))
    x = -rng.uniform(0, 0.1)
    while x < 1:
        wd, top = rng.uniform(0.15, 0.3), rng.uniform(0.05, 0.3)
        color = _jitter(rng, [(160, 82, 60), (205, 190, 160), (150, 150, 155), (120, 110, 100)][rng.integers(4)], 15)
        _rect(img, x, top, x + wd, 0.58, color)
        for wy in np.arange(top + 0.04, 0.52, 0.08):
            for wx in np.arange(x + 0.03, x + wd - 0.04, 0.06):
                _rect(img, wx, wy, wx + 0.03, wy + 0.045, _jitter(rng, (60, 80, 110), 10))
        x += wd + rng.uniform(0, 0.03)
    _fill(img, 0.58, 0.66, _jitter(rng, (175, 172, 165)), rng, 10)
    _fill(img, 0.66, 1.0, _jitter(rng, (75, 75, 80), 10), rng, 12, 16)
    lane = rng.uniform(0.74, 0.8)
    for x in np.arange(-rng.uniform(0, 0.2), 1, 0.2):
        _rect(img, x, lane, x + 0.1, lane + 0.012, (235, 235, 225))


def _scene_park(rng, img):
    _gradient(img, 0, 0.45, _jitter(rng, (110, 170, 235)), _jitter(rng, (190, 220, 245)))
    h, w = img.shape[:2]
    for _ in range(rng.integers(1, 4)):
        cv2.ellipse(img, (int(rng.uniform(0, 1) * w), int(rng.uniform(0.05, 0.25) * h)),
                    (int(rng.uniform(0.06, 0.14) * w), int(0.04 * h)), 0, 0, 360, (245, 245, 250), -1)
    _fill(img, 0.38, 0.5, _jitter(rng, (45, 95, 45), 10), rng, 25, 12)
    _fill(img, 0.5, 1.0, _jitter(rng, (90, 160, 70), 12), rng, 22, 12)
    path = np.array([[rng.uniform(0.35, 0.5), 0.5], [rng.uniform(0.5, 0.6), 0.5], [1.0, 1.0], [0.15, 1.0]])
    cv2.fillConvexPoly(img, (path * [w, h]).astype(np.int32), _jitter(rng, (200, 180, 140)))
    for _ in range(rng.integers(2, 4)):
        tx, ty = rng.uniform(0, 1), rng.uniform(0.42, 0.55)
        _rect(img, tx - 0.015, ty - 0.12, tx + 0.015, ty, _jitter(rng, (100, 70, 40)))
        cv2.circle(img, (int(tx * w), int((ty - 0.17) * h)), int(rng.uniform(0.06, 0.1) * w),
                   _jitter(rng, (40, 110, 40), 15), -1)


def _scene_beach(rng, img):
    h, w = img.shape[:2]
    _gradient(img, 0, 0.42, _jitter(rng, (70, 170, 230)), _jitter(rng, (180, 225, 245)))
    cv2.circle(img, (int(rng.uniform(0.1, 0.9) * w), int(0.12 * h)), int(0.05 * w), (255, 240, 150), -1)
    _fill(img, 0.42, 0.58, _jitter(rng, (30, 90, 160), 12), rng, 15, 10)
    for y in np.arange(0.45, 0.57, 0.035):
        x = rng.uniform(0, 0.6)
        _rect(img, x, y, x + rng.uniform(0.1, 0.35), y + 0.008, (225, 240, 250))
    _fill(img, 0.58, 1.0, _jitter(rng, (230, 205, 150), 8), rng, 18, 20)
    ux = rng.uniform(0.05, 0.95)
    _rect(img, ux - 0.006, 0.42, ux + 0.006, 0.66, (240, 240, 240))
    cone = np.array([[ux - 0.15, 0.47], [ux, 0.38], [ux + 0.15, 0.47]]) * [w, h]
    cv2.fillConvexPoly(img, cone.astype(np.int32), _hsv_color(rng, (0.7, 1.0), (0.8, 1.0)))


def _scene_gym(rng, img):
    h, w = img.shape[:2]
    _fill(img, 0, 0.62, _jitter(rng, (205, 215, 225), 12), rng, 6)
    _rect(img, 0, 0.3, 1, 0.36, _hsv_color(rng, (0.6, 0.9), (0.5, 0.8)))
    x0 = rng.uniform(0, 0.6)
    for x in np.arange(x0, x0 + 0.4, 0.05):
        _rect(img, x, 0.08, x + 0.012, 0.62, (140, 95, 50))
    for y in np.arange(0.12, 0.6, 0.07):
        _rect(img, x0, y, x0 + 0.39, y + 0.01, (150, 105, 60))
    _fill(img, 0.62, 1.0, _jitter(rng, (200, 135, 70), 10), rng, 12, 10)
    for y in np.arange(0.65, 1.0, 0.06):
        cv2.line(img, (0, int(y * h)), (w, int(y * h)), (170, 110, 55), 1)
    _rect(img, 0, rng.uniform(0.8, 0.9), 1, 0.92, _jitter(rng, (235, 235, 235)), 1)
    mx = rng.uniform(0, 0.7)
    _rect(img, mx, 0.6, mx + 0.3, 0.66, _jitter(rng, (40, 80, 170)))


def _scene_classroom(rng, img):
    h, w = img.shape[:2]
    _fill(img, 0, 0.62, _jitter(rng, (235, 225, 180), 12), rng, 6)
    bx = rng.uniform(0.05, 0.35)
    board = _jitter(rng, [(30, 70, 45), (35, 35, 40)][rng.integers(2)], 8)
    _rect(img, bx - 0.02, 0.08, bx + 0.62, 0.5, (150, 110, 70))
    _rect(img, bx, 0.1, bx + 0.6, 0.48, board)
    for _ in range(rng.integers(3, 7)):
        x, y = bx + rng.uniform(0.03, 0.4), rng.uniform(0.14, 0.44)
        _rect(img, x, y, x + rng.uniform(0.05, 0.18), y + 0.01, (230, 230, 225))
    cv2.circle(img, (int(rng.uniform(0.8, 0.95) * w), int(0.12 * h)), int(0.04 * w), (250, 250, 250), -1)
    _fill(img, 0.62, 1.0, _jitter(rng, (150, 140, 125), 10), rng, 10, 12)
    for x in np.arange(rng.uniform(-0.1, 0.1), 1, rng.uniform(0.25, 0.4)):
        _rect(img, x, 0.58, x + 0.16, 0.62, (160, 110, 60))
        _rect(img, x + 0.01, 0.62, x + 0.025, 0.7, (90, 90, 95))


def _scene_stage(rng, img):
    h, w = img.shape[:2]
    _fill(img, 0, 0.7, _jitter(rng, (25, 15, 35), 8), rng, 8)
    curtain = _jitter(rng, (150, 20, 30), 15)
    xs = np.linspace(0, 1, img.shape[1], dtype=np.float32)
    folds = (0.75 + 0.25 * np.sin(xs * 70 + rng.uniform(0, 6)))[None, :, None]
    edge = rng.uniform(0.12, 0.25)
    side = (xs < edge) | (xs > 1 - edge)
    rows = int(0.7 * h)
    drape = np.broadcast_to(np.array(curtain, np.float32) * folds, (rows, w, 3))
    img[:rows][:, side] = drape[:, side].astype(np.uint8)
    _rect(img, 0, 0, 1, 0.1, curtain)
    _fill(img, 0.7, 1.0, _jitter(rng, (120, 75, 40), 10), rng, 10, 10)
    cx, cy = rng.uniform(0.35, 0.65), 0.72
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    spot = np.exp(-(((xx / w - cx) / 0.22) ** 2 + ((yy / h - cy) / 0.35) ** 2))[:, :, None]
    tint = np.array(_jitter(rng, (120, 110, 70), 20), np.float32)
    img[:] = np.clip(img + spot * tint, 0, 255).astype(np.uint8)


def _scene_living_room(rng, img):
    h, w = img.shape[:2]
    paper = _jitter(rng, (200, 160, 120), 25)
    _fill(img, 0, 0.64, paper, rng, 5)
    for x in np.arange(0, 1, 0.08):
        _rect(img, x, 0, x + 0.025, 0.64, tuple(int(c * 0.88) for c in paper))
    px = rng.uniform(0.05, 0.7)
    _rect(img, px, 0.12, px + 0.2, 0.3, (110, 80, 50))
    _rect(img, px + 0.02, 0.14, px + 0.18, 0.28, _hsv_color(rng, (0.3, 0.8), (0.5, 0.9)))
    sx = rng.uniform(-0.1, 0.5)
    sofa = _hsv_color(rng, (0.3, 0.7), (0.3, 0.6))
    _rect(img, sx, 0.4, sx + 0.55, 0.66, sofa)
    _rect(img, sx, 0.5, sx + 0.55, 0.66, tuple(int(c * 0.8) for c in sofa))
    _fill(img, 0.64, 1.0, _jitter(rng, (130, 90, 60), 10), rng, 10, 10)
    cv2.ellipse(img, (int(rng.uniform(0.3, 0.7) * w), int(0.85 * h)), (int(0.4 * w), int(0.1 * h)), 0, 0,
                360, _hsv_color(rng, (0.4, 0.8), (0.4, 0.8)), -1)
    lx = rng.uniform(0.75, 0.95)
    _rect(img, lx - 0.008, 0.25, lx + 0.008, 0.64, (60, 60, 60))
    cv2.ellipse(img, (int(lx * w), int(0.24 * h)), (int(0.06 * w), int(0.05 * h)), 0, 180, 360,
                (250, 230, 170), -1)


def _scene_office(rng, img):
    h, w = img.shape[:2]
    _fill(img, 0, 0.6, _jitter(rng, (200, 210, 220), 10), rng, 5)
    wx = rng.uniform(0.0, 0.5)
    _rect(img, wx, 0.08, wx + 0.45, 0.45, (235, 240, 245))
    for y in np.arange(0.1, 0.45, 0.03):
        _rect(img, wx, y, wx + 0.45, y + 0.008, (160, 165, 175))
    _fill(img, 0.6, 1.0, _jitter(rng, (110, 115, 125), 10), rng, 14, 24)
    for x in np.arange(rng.uniform(-0.2, 0.0), 1, rng.uniform(0.35, 0.5)):
        _rect(img, x, 0.52, x + 0.3, 0.56, (190, 190, 185))
        _rect(img, x + 0.08, 0.4, x + 0.2, 0.5, (30, 30, 35))
        _rect(img, x + 0.13, 0.5, x + 0.15, 0.52, (30, 30, 35))
        _rect(img, x + 0.02, 0.56, x + 0.04, 0.66, (90, 90, 90))
        _rect(img, x + 0.26, 0.56, x + 0.28, 0.66, (90, 90, 90))
    px = rng.uniform(0.8, 0.95)
    cv2.circle(img, (int(px * w), int(0.5 * h)), int(0.06 * w), (40, 120, 50), -1)


def _scene_garden(rng, img):
    h, w = img.shape[:2]
    _gradient(img, 0, 0.35, _jitter(rng, (140, 190, 235)), _jitter(rng, (215, 230, 240)))
    _fill(img, 0.2, 0.5, _jitter(rng, (35, 85, 35), 10), rng, 30, 16)
    for x in np.arange(rng.uniform(0, 0.05), 1, 0.05):
        _rect(img, x, 0.38, x + 0.025, 0.55, (245, 245, 240))
    _rect(img, 0, 0.43, 1, 0.455, (245, 245, 240))
    _fill(img, 0.55, 1.0, _jitter(rng, (100, 175, 80), 10), rng, 18, 12)
    by = rng.uniform(0.6, 0.68)
    _rect(img, 0, by, 1, by + 0.08, _jitter(rng, (110, 75, 45)))
    for _ in range(25):
        cv2.circle(img, (int(rng.uniform(0, 1) * w), int((by + rng.uniform(0, 0.07)) * h)), max(1, w // 60),
                   _hsv_color(rng, (0.6, 1.0), (0.8, 1.0)), -1)


def _scene_studio(rng, img):
    h, w = img.shape[:2]
    _gradient(img, 0, 0.62, _jitter(rng, (225, 225, 235), 8), _jitter(rng, (190, 195, 210), 8))
    for x in np.arange(rng.uniform(0, 0.2), 1, rng.uniform(0.2, 0.3)):
        _rect(img, x, 0, x + 0.01, 0.62, (150, 150, 160))
        glare = np.array([[x + 0.04, 0.05], [x + 0.08, 0.05], [x + 0.02, 0.5], [x - 0.02, 0.5]]) * [w, h]
        cv2.fillConvexPoly(img, glare.astype(np.int32), (245, 245, 250))
    _rect(img, 0, 0.3, 1, 0.32, _jitter(rng, (120, 85, 55)))
    _rect(img, 0, 0.55, 1, 0.62, _hsv_color(rng, (0.5, 0.9), (0.5, 0.9)))
    _fill(img, 0.62, 1.0, _jitter(rng, (225, 190, 140), 10), rng, 10, 10)
    for x in np.arange(0, 1, 0.12):
        cv2.line(img, (int(x * w), int(0.62 * h)), (int((x - 0.3 + 0.6 * x) * w), h), (200, 165, 120), 1)


def _scene_dojo(rng, img):
    h, w = img.shape[:2]
    _fill(img, 0, 0.6, _jitter(rng, (150, 105, 60), 10), rng, 10)
    for x in np.arange(0, 1, 0.07):
        _rect(img, x, 0, x + 0.004, 0.6, (110, 75, 40))
    sx = rng.uniform(0.0, 0.5)
    _rect(img, sx, 0.1, sx + 0.45, 0.55, (240, 235, 220))
    for x in np.arange(sx, sx + 0.46, 0.075):
        _rect(img, x, 0.1, x + 0.008, 0.55, (60, 40, 25))
    for y in np.arange(0.1, 0.56, 0.09):
        _rect(img, sx, y, sx + 0.45, y + 0.008, (60, 40, 25))
    _fill(img, 0.6, 1.0, _jitter(rng, (190, 190, 120), 10), rng, 10, 10)
    for y in (0.6, 0.73, 0.88):
        _rect(img, 0, y, 1, y + 0.012, (50, 60, 40))
    for x in np.arange(rng.uniform(0, 0.3), 1, 0.3):
        _rect(img, x, 0.6, x + 0.012, 1.0, (50, 60, 40))


def _scene_field(rng, img):
    h, w = img.shape[:2]
    _gradient(img, 0, 0.2, _jitter(rng, (120, 175, 230)), _jitter(rng, (190, 215, 240)))
    _fill(img, 0.2, 0.42, _jitter(rng, (90, 90, 100), 10))
    crowd = rng.uniform(0, 255, (max(2, int(0.2 * h) // 2), max(2, w // 2), 3)).astype(np.uint8)
    y0, y1 = int(0.21 * h), int(0.41 * h)
    img[y0:y1] = cv2.resize(crowd, (w, y1 - y0), interpolation=cv2.INTER_NEAREST) // 2 + 50
    light, dark = _jitter(rng, (95, 170, 75), 10), _jitter(rng, (75, 145, 60), 10)
    for i, y in enumerate(np.arange(0.42, 1.0, 0.08)):
        _rect(img, 0, y, 1, y + 0.08, light if i % 2 else dark)
    _rect(img, 0, rng.uniform(0.55, 0.65), 1, 0.66, (240, 240, 240))
    gx = rng.uniform(0.05, 0.6)
    _rect(img, gx, 0.3, gx + 0.35, 0.52, (250, 250, 250), 2)


_SCENE_PAINTERS: dict[str, Callable[[np.random.Generator, np.ndarray], None]] = {
    "street": _scene_street, "park": _scene_park, "beach": _scene_beach, "gym": _scene_gym,
    "classroom": _scene_classroom, "stage": _scene_stage, "living_room": _scene_living_room,
    "office": _scene_office, "garden": _scene_garden, "studio": _scene_studio, "dojo": _scene_dojo,
    "field": _scene_field,
}


def render_scene(scene: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A background image (size, size, 3) RGB uint8 of a scene type with random layout."""
    if scene not in _SCENE_PAINTERS:
        raise ValueError(f"unknown scene {scene!r}; choose from {', '.join(SCENES)}")
    img = np.zeros((size, size, 3), np.uint8)
    _SCENE_PAINTERS[scene](rng, img)
    return img


def choose_scene(label: str, context_bias: float, rng: np.random.Generator) -> tuple[str, bool]:
    """The class's preferred scene with probability ``context_bias``, else a uniform one."""
    preferred = rng.random() < context_bias
    uniform = SCENES[rng.integers(len(SCENES))]
    return (PREFERRED_SCENE[label] if preferred else uniform), bool(preferred)


# --------------------------------------------------------------------------- drawing

def _pts(p: np.ndarray) -> np.ndarray:
    """Fixed-point pixel coordinates for cv2 drawing with ``shift=_SHIFT``."""
    return np.round(np.asarray(p) * _ONE).astype(np.int32)


def _shade(color, factor):
    return tuple(int(min(255, c * factor)) for c in color)


class _Figure:
    """Draws one subject's figure, far parts first; the same shapes fill the person mask."""

    def __init__(self, body: Appearance, scale: float, yaw: float):
        self.body = body
        self.limb = max(1, int(round(body.limb_w * scale)))
        self.torso = max(2, int(round(body.torso_w * scale)))
        self.head = max(2, int(round(body.head_r * scale)))
        sleeve = body.shirt if body.long_sleeves else body.skin
        # Per side: (first joint, second joint or toe, colour, thickness) of each segment.
        segments = (("hip", "knee", body.pants, self.limb + 1), ("knee", "ankle", body.pants, self.limb),
                    ("ankle", "toe", body.shoes, self.limb), ("shoulder", "elbow", body.shirt, self.limb),
                    ("elbow", "wrist", sleeve, max(1, self.limb - 1)))
        self.segments = {side: [(a, b, (color, _shade(color, 0.8)), width) for a, b, color, width in segments]
                         for side in "lr"}
        self.hand = (body.skin, _shade(body.skin, 0.8))
        # Hair on the back of the head shows which way the figure faces.
        self.hair_offset = np.array([-np.sin(yaw) * 0.45 * self.head, -0.45 * self.head]) * _ONE

    def _parts(self, p: list[tuple[int, int]], toes: list[tuple[int, int]], depth: np.ndarray):
        j = _J
        items = []
        for k, side in enumerate("lr"):
            dark = int(depth[j[f"{side}_shoulder"]] < depth[j["neck"]] - 1e-6)
            for a, b, colors, width in self.segments[side]:
                end = toes[k] if b == "toe" else p[j[f"{side}_{b}"]]
                order = depth[j[f"{side}_{a}"]] - (0.01 if a in ("hip", "knee", "ankle") else 0.0)
                items.append((order, "line", (p[j[f"{side}_{a}"]], end), colors[dark], width))
            wrist = j[f"{side}_wrist"]
            items.append((depth[wrist] + 1e-3, "dot", p[wrist], self.hand[dark], self.limb // 2 + 1))
        quad = np.array([p[j["l_shoulder"]], p[j["r_shoulder"]], p[j["r_hip"]], p[j["l_hip"]]], np.int32)
        items.append((depth[j["neck"]], "torso", (quad, p[j["pelvis"]], p[j["neck"]]), self.body.shirt, self.torso))
        items.append((depth[j["head"]] + 1e-3, "head", (p[j["head"]], p[j["neck"]]), self.body.skin, self.head))
        items.sort(key=lambda item: item[0])
        return items

    def draw(self, img: np.ndarray, mask: np.ndarray, p: np.ndarray, toes: np.ndarray, depth: np.ndarray):
        """Draw at fixed-point coordinates ``p`` (J, 2) and ``toes`` (2, 2) (see :func:`_pts`)."""
        p = [(int(x), int(y)) for x, y in p]
        toes = [(int(x), int(y)) for x, y in toes]
        for _, kind, pts, color, size in self._parts(p, toes, depth):
            for canvas, col, aa in ((img, color, cv2.LINE_AA), (mask, 255, cv2.LINE_8)):
                if kind == "line":
                    cv2.line(canvas, pts[0], pts[1], col, size, aa, _SHIFT)
                elif kind == "dot":
                    cv2.circle(canvas, pts, size * _ONE // 2 + _ONE // 2, col, -1, aa, _SHIFT)
                elif kind == "torso":
                    cv2.fillConvexPoly(canvas, pts[0], col, aa, _SHIFT)
                    cv2.line(canvas, pts[1], pts[2], col, size, aa, _SHIFT)
                else:
                    head, neck = pts
                    cv2.line(canvas, head, neck, col, max(1, size // 2), aa, _SHIFT)
                    cv2.circle(canvas, head, size * _ONE, col, -1, aa, _SHIFT)
                    if canvas is img:
                        back = (int(head[0] + self.hair_offset[0]), int(head[1] + self.hair_offset[1]))
                        cv2.circle(img, back, int(0.75 * size * _ONE), self.body.hair, -1, aa, _SHIFT)


def draw_skeleton(frame: np.ndarray, joints: np.ndarray, color=(255, 255, 0), thickness: int = 1) -> np.ndarray:
    """A copy of ``frame`` (H, W, 3) with the skeleton ``joints`` (J, 2) drawn over it."""
    out = np.ascontiguousarray(frame).copy()
    for a, b in BONES:
        pa, pb = _pts(joints[_J[a]]), _pts(joints[_J[b]])
        cv2.line(out, tuple(pa), tuple(pb), color, thickness, cv2.LINE_AA, _SHIFT)
    for point in joints:
        cv2.circle(out, tuple(_pts(point)), max(1, thickness) * _ONE, (255, 60, 60), -1, cv2.LINE_AA, _SHIFT)
    return out


# --------------------------------------------------------------------------- clips

# Standard-normal quantiles of 256 equally likely bytes: Gaussian noise at the cost of random bytes.
_NORMAL_LUT = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], np.float32)


def _gaussian_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    raw = np.frombuffer(rng.bytes(int(np.prod(shape))), np.uint8)
    return _NORMAL_LUT[raw].reshape(shape)


class Clip(NamedTuple):
    """A rendered clip: frames (T, H, W, 3) uint8 RGB, joints (T, J, 2) float32 pixel
    coordinates (x, y) in the frame, mask (T, H, W) bool of visible person pixels, info."""

    frames: np.ndarray
    joints: np.ndarray
    mask: np.ndarray
    info: dict[str, Any]


class _Prop(NamedTuple):
    """Something drawn besides the figure: per-frame shapes, a colour, behind or in front."""

    kind: str
    shapes: list[list[tuple]]  # per frame: ("rect", (x0, y0, x1, y1)) or ("circle", (x, y, r))
    color: tuple[int, int, int]
    in_front: bool


def _occluder(rng, frames, feet_x, ground, height_px) -> _Prop:
    """A static crate, pole or bush in front of part of the body."""
    kind = ["crate", "pole", "bush"][rng.integers(3)]
    color = _hsv_color(rng, (0.1, 0.7), (0.25, 0.75))
    x = feet_x + rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.4) * height_px
    if kind == "crate":
        w, h = rng.uniform(0.25, 0.45) * height_px, rng.uniform(0.15, 0.3) * height_px
        shape = ("rect", (x - w / 2, ground - h, x + w / 2, ground + 0.03 * height_px))
    elif kind == "pole":
        w = rng.uniform(0.04, 0.08) * height_px
        shape = ("rect", (x - w / 2, 0, x + w / 2, ground + 0.05 * height_px))
    else:
        r = rng.uniform(0.12, 0.2) * height_px
        shape = ("circle", (x, ground - 0.4 * r, r))
        color = _jitter(rng, (50, 120, 50), 20)
    return _Prop(kind, [[shape]] * frames, color, True)


def _distractor(rng, frames, canvas_size, ground, height_px) -> _Prop:
    """A ball bouncing across in front of the figure, or a passer-by crossing behind it."""
    kind = "ball" if rng.random() < 0.5 else "passerby"
    t = np.arange(frames)
    direction = 1 if rng.random() < 0.5 else -1
    start = -0.1 * canvas_size if direction > 0 else 1.1 * canvas_size
    speed = rng.uniform(0.5, 1.1) * canvas_size / frames
    x = start + direction * speed * t + direction * rng.uniform(0, 0.4) * canvas_size
    color = _hsv_color(rng, (0.5, 1.0), (0.5, 1.0))
    if kind == "ball":
        r = rng.uniform(0.04, 0.07) * height_px
        bounce = np.abs(np.sin(np.pi * t / rng.uniform(6, 12) + rng.uniform(0, np.pi)))
        floor = ground + rng.uniform(-0.05, 0.05) * height_px
        y = floor - r - bounce * rng.uniform(0.2, 0.5) * height_px
        return _Prop(kind, [[("circle", (x[i], y[i], r))] for i in range(frames)], color, True)
    tall = rng.uniform(0.25, 0.4) * height_px
    base = ground - rng.uniform(0.1, 0.18) * canvas_size  # further away, so higher up
    top = base - 0.8 * tall - 0.03 * tall * np.abs(np.sin(np.pi * t / 4))
    shapes = [[("rect", (x[i] - 0.12 * tall, top[i], x[i] + 0.12 * tall, top[i] + 0.8 * tall)),
               ("circle", (x[i], top[i] - 0.1 * tall, 0.11 * tall))] for i in range(frames)]
    return _Prop(kind, shapes, color, False)


def _paint(canvas: np.ndarray, shape: tuple, color) -> None:
    kind, geom = shape
    if kind == "rect":
        x0, y0, x1, y1 = _pts(geom)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, -1, cv2.LINE_AA, _SHIFT)
    else:
        x, y, r = _pts(geom)
        cv2.circle(canvas, (x, y), r, color, -1, cv2.LINE_AA, _SHIFT)


def _seat(rng, body, joints_end, project, scale):
    """Chair or stool polygons under the final sitting pose (canvas pixels)."""
    pelvis = joints_end[_J["pelvis"]]
    top = pelvis[1] - body.limb_w
    back, front = pelvis[2] - 0.08, pelvis[2] + rng.uniform(0.12, 0.18)
    color = _jitter(rng, [(120, 80, 45), (60, 60, 65), (170, 40, 40), (200, 200, 200)][rng.integers(4)], 15)
    lines = [((0, top, back), (0, top, front)), ((0, top, back), (0, 0, back)), ((0, top, front), (0, 0, front))]
    if rng.random() < 0.6:  # a chair with a backrest, else a stool
        lines.append(((0, top, back), (0, top + rng.uniform(0.2, 0.3), back - 0.03)))
    width = max(1, int(round(0.035 * scale)))
    return [(project(np.array(a)), project(np.array(b))) for a, b in lines], color, width


def render_clip(label: str, rng: np.random.Generator, size: int = 96, frames: int = 32, fps: float = 15.0,
                scene: str | None = None, appearance: Appearance | None = None) -> Clip:
    """Render one clip of ``label``; everything random comes from ``rng``.

    ``scene`` defaults to the class's preferred scene; ``appearance`` to a random subject.
    A ``stand_up`` clip is the ``sit_down`` clip of the same ``rng`` played backwards, and a
    ``raise_hand`` clip holds the pose its ``wave_one_hand`` twin (same ``rng``) has in the
    middle frame. ``info`` tells what was drawn: scene, view (``front``/``side``), yaw and
    facing, speed factor, scale (body height / frame size), occluder and distractor kinds,
    whether a seat is there, the camera sway amplitude and its per-frame ``camera_offsets``
    (T, 2) in pixels, and the sensor noise level.
    """
    if label in _REVERSED:
        clip = render_clip(_REVERSED[label], rng, size, frames, fps, scene, appearance)
        return Clip(clip.frames[::-1].copy(), clip.joints[::-1].copy(), clip.mask[::-1].copy(),
                    {**clip.info, "label": label, "reversed_from": _REVERSED[label]})
    if label not in _MOTIONS:
        raise ValueError(f"unknown class {label!r}; choose from {', '.join(CLASSES)}")
    if frames < 2 or size < 32:
        raise ValueError(f"need at least 2 frames of 32x32 pixels, got {frames} frames of {size}x{size}")
    bg_rng, body_rng, cam_rng = rng.spawn(3)
    scene = scene or PREFERRED_SCENE[label]
    body = appearance or make_appearance(body_rng)
    t = np.arange(frames) / fps
    speed = body_rng.uniform(0.8, 1.25)
    motion = _MOTIONS[label](body_rng, t, speed)
    joints3d, toes3d = forward_kinematics(motion, body, frames)

    # Viewpoint, placement and scale (pixels per body height) on a canvas with room for the camera sway.
    margin = max(2, size // 32)
    canvas = size + 2 * margin
    yaw_deg = body_rng.uniform(0, 30) if motion.view == "front" else body_rng.uniform(65, 110)
    facing = 1.0 if body_rng.random() < 0.5 else -1.0
    yaw = np.radians(yaw_deg) * facing
    scale = size * body_rng.uniform(0.5, 0.68)
    ground = margin + size * body_rng.uniform(0.86, 0.95)
    travel = (joints3d[-1, _J["pelvis"], 2] - joints3d[0, _J["pelvis"], 2]) * np.sin(yaw) * scale
    centre = margin + size * body_rng.uniform(0.35, 0.65) - travel / 2

    def project(points: np.ndarray) -> np.ndarray:
        u = points[..., 0] * np.cos(yaw) + points[..., 2] * np.sin(yaw)
        return np.stack([centre + scale * u, ground - scale * points[..., 1]], -1)

    depth = -joints3d[..., 0] * np.sin(yaw) + joints3d[..., 2] * np.cos(yaw)
    joints_px, toes_px = project(joints3d), project(toes3d)

    background = render_scene(scene, bg_rng, canvas)
    figure = _Figure(body, scale, yaw)
    joints_fixed, toes_fixed = _pts(joints_px), _pts(toes_px)
    feet_x = float(joints_px[frames // 2, [_J["l_ankle"], _J["r_ankle"]], 0].mean())
    seat = _seat(cam_rng, body, joints3d[-1], project, scale) if label == "sit_down" else None
    occluder = _occluder(cam_rng, frames, feet_x, ground, scale) if cam_rng.random() < 0.3 else None
    distractor = _distractor(cam_rng, frames, canvas, ground, scale) if cam_rng.random() < 0.4 else None
    props = [p for p in (distractor, occluder) if p]
    if seat:  # the seat stays still in the scene: paint it into the background once
        lines, color, width = seat
        for a, b in lines:
            cv2.line(background, tuple(_pts(a)), tuple(_pts(b)), color, width, cv2.LINE_AA, _SHIFT)

    # Hand-held camera: a smooth sub-pixel sway of the whole view, different along x and y.
    amp = cam_rng.uniform(0, 1.0) * size / 96
    rates = cam_rng.uniform(0.2, 0.8, (2, 2))
    phases = cam_rng.uniform(0, 2 * np.pi, (2, 2))
    weights = cam_rng.dirichlet((1.0, 1.0), 2)
    waves = np.sin(2 * np.pi * rates[:, None, :] * t[None, :, None] + phases[:, None, :])
    sway = (weights[:, None, :] * waves).sum(-1)
    offsets = (amp * sway.T).astype(np.float32)  # (T, 2) x, y in pixels, |offset| <= amp
    gain = cam_rng.uniform(0.8, 1.15)
    blur = cam_rng.uniform(0.3, 0.9) * size / 96
    noise = cam_rng.uniform(1.5, 5.0)

    out = np.empty((frames, size, size, 3), np.uint8)
    mask = np.empty((frames, size, size), bool)
    img_buf = np.empty_like(background)
    mask_buf = np.empty(background.shape[:2], np.uint8)
    for i in range(frames):
        img_buf[:] = background
        mask_buf[:] = 0
        for prop in props:
            if not prop.in_front:
                for shape in prop.shapes[i]:
                    _paint(img_buf, shape, prop.color)
        figure.draw(img_buf, mask_buf, joints_fixed[i], toes_fixed[i], depth[i])
        for prop in props:
            if prop.in_front:  # hides the person: cut it out of the mask too
                for shape in prop.shapes[i]:
                    _paint(img_buf, shape, prop.color)
                    _paint(mask_buf, shape, 0)
        view = np.float32([[1, 0, -margin - offsets[i, 0]], [0, 1, -margin - offsets[i, 1]]])
        out[i] = cv2.warpAffine(img_buf, view, (size, size), flags=cv2.INTER_LINEAR)
        mask[i] = cv2.warpAffine(mask_buf, view, (size, size), flags=cv2.INTER_LINEAR) > 127
    joints = (joints_px - margin - offsets[:, None, :]).astype(np.float32)

    # Optics and sensor: exposure gain, mild blur, then noise.
    for i in range(frames):
        out[i] = cv2.GaussianBlur(out[i], (0, 0), blur)
    noisy = out.astype(np.float32) * gain + noise * _gaussian_noise(cam_rng, out.shape)
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    info = {"label": label, "scene": scene, "view": motion.view, "yaw_deg": round(float(np.degrees(yaw)), 1),
            "facing": "right" if facing > 0 else "left", "speed": round(float(speed), 3),
            "scale": round(float(scale / size), 3), "occluder": occluder.kind if occluder else "none",
            "distractor": distractor.kind if distractor else "none", "seat": bool(seat),
            "jitter_px": round(float(amp), 2), "noise": round(float(noise), 2), "camera_offsets": offsets}
    return Clip(out, joints, mask, info)


# --------------------------------------------------------------------------- ground truth files

def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-identical for identical arrays (fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    atomic_write_bytes(path, buffer.getvalue())


def save_ground_truth(path: str | Path, clip: Clip) -> None:
    """Write joints ``(T, J, 2)``, joint names and the bit-packed person mask."""
    _save_npz(Path(path), {"joints": clip.joints, "joint_names": np.array(JOINT_NAMES),
                           "mask_bits": np.packbits(clip.mask, axis=-1),
                           "mask_shape": np.array(clip.mask.shape, np.int64)})


def load_ground_truth(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ground-truth file: ``joints`` (T, J, 2), ``joint_names`` and ``mask`` (T, H, W) bool."""
    with np.load(path) as data:
        shape = tuple(int(v) for v in data["mask_shape"])
        mask = np.unpackbits(data["mask_bits"], axis=-1, count=shape[-1]).astype(bool)
        return {"joints": data["joints"], "joint_names": data["joint_names"], "mask": mask.reshape(shape)}


# --------------------------------------------------------------------------- dataset

def clip_counts(spec: SyntheticSpec) -> dict[str, int]:
    """Clips per class: full for the first class falling geometrically to ``1 - imbalance``."""
    if not 0.0 <= spec.imbalance < 1.0:
        raise ConfigError(f"imbalance={spec.imbalance} must be in [0, 1)")
    full = spec.subjects * spec.reps_per_subject
    last = len(CLASSES) - 1
    return {c: max(1, int(round(full * (1 - spec.imbalance) ** (k / last)))) for k, c in enumerate(CLASSES)}


def subject_splits(spec: SyntheticSpec) -> list[str]:
    """Split of each subject: the first ``n_train`` are train, then val, then test."""
    n_train, n_val, n_test = spec.split_subjects
    if n_train + n_val + n_test != spec.subjects or min(spec.split_subjects) < 0 or n_train < 1:
        raise ConfigError(f"split_subjects={spec.split_subjects} must be non-negative, with at least one "
                         f"train subject, and add up to subjects={spec.subjects}")
    return ["train"] * n_train + ["val"] * n_val + ["test"] * n_test


def plan_clips(spec: SyntheticSpec) -> list[dict[str, Any]]:
    """One row per clip to render: class, subject, repetition, split and a stable clip index.

    The index depends only on (class, subject, repetition), so an imbalanced set is a subset of
    the balanced one with identical clips. Dropped clips are taken from the last repetitions
    first, spread over all subjects. The second class of a motion pair is rendered from the
    random draw (``draw_index``) of its twin, the first class's clip of the same subject and
    repetition: twins differ only in their motion.
    """
    splits = subject_splits(spec)
    counts = clip_counts(spec)

    def index(label: str, subject: int, rep: int) -> int:
        return (CLASSES.index(label) * spec.subjects + subject) * spec.reps_per_subject + rep

    rows = []
    for label in CLASSES:
        grid = [(rep, subject) for rep in range(spec.reps_per_subject) for subject in range(spec.subjects)]
        for rep, subject in sorted(grid[:counts[label]], key=lambda g: (g[1], g[0])):
            twin = _TWINS.get(label)
            source = twin if label in _SECOND_OF_PAIR else label
            rows.append({"label": label, "subject_index": subject, "rep": rep,
                         "clip_index": index(label, subject, rep), "clip_id": f"{label}_s{subject:02d}_r{rep}",
                         "split": splits[subject], "draw_index": index(source, subject, rep),
                         "twin": f"{twin}_s{subject:02d}_r{rep}" if twin else "none"})
    present = {row["clip_id"] for row in rows}
    for row in rows:  # with imbalance a first-of-pair clip may lack its twin
        if row["twin"] not in present:
            row["twin"] = "none"
    return rows


_MANIFEST_INFO = ("view", "yaw_deg", "facing", "speed", "scale", "occluder", "distractor")


def _render_job(job: dict[str, Any]) -> dict[str, Any]:
    """Render, encode and describe one clip."""
    spec: SyntheticSpec = job["spec"]
    scene_seq, clip_seq = np.random.SeedSequence([job["seed"], job["draw_index"]]).spawn(2)
    scene, preferred = choose_scene(job["label"], spec.context_bias, np.random.default_rng(scene_seq))
    clip = render_clip(job["label"], np.random.default_rng(clip_seq), spec.size, spec.frames, spec.fps,
                       scene=scene, appearance=subject_appearance(job["seed"], job["subject_index"]))
    root = Path(job["root"])
    video = Path(job["label"]) / f"{job['clip_id']}.mp4"
    gt = video.with_suffix(".npz")
    write_video(root / video, clip.frames, spec.fps)
    save_ground_truth(root / gt, clip)
    return {"path": video.as_posix(), "label": job["label"], "subject": f"subject{job['subject_index']:03d}",
            "split": job["split"], "frames": spec.frames, "fps": spec.fps, "width": spec.size,
            "height": spec.size, "sha256": sha256_file(root / video), "clip_id": job["clip_id"],
            "clip_index": job["clip_index"], "rep": job["rep"], "twin": job["twin"], "scene": scene,
            "scene_is_preferred": preferred, "gt": gt.as_posix(),
            **{key: clip.info[key] for key in _MANIFEST_INFO}}


def dataset_card(spec: SyntheticSpec, seed: int, manifest: pd.DataFrame) -> dict[str, Any]:
    """What was generated and how: deterministic (no timings or paths)."""
    counts = {split: {c: int(((manifest["split"] == split) & (manifest["label"] == c)).sum()) for c in CLASSES}
              for split in SPLITS}
    return {
        "name": "synthetic human actions", "generator": GENERATOR_VERSION, "seed": seed,
        "spec": dataclasses.asdict(spec), "classes": list(CLASSES),
        "motion_pairs": [list(p) for p in MOTION_PAIRS], "scenes": list(SCENES),
        "preferred_scene": dict(PREFERRED_SCENE), "joint_names": list(JOINT_NAMES),
        "video": {"codec": "mp4v", "container": "mp4", "frames": spec.frames, "fps": spec.fps,
                  "width": spec.size, "height": spec.size},
        "splits": {split: sorted(manifest.loc[manifest["split"] == split, "subject"].unique().tolist())
                   for split in SPLITS},
        "counts": counts, "total_clips": int(len(manifest)),
        "twins": "the second class of each motion pair reuses the random draw of the first class's clip of "
                 "the same subject and repetition (column twin): twins differ only in motion",
        "ground_truth": "per clip <label>/<clip_id>.npz: joints (T, J, 2) float32 pixel x, y; joint_names; "
                        "mask_bits = np.packbits(mask, axis=-1) of the visible-person mask (T, H, W); "
                        "mask_shape. Read with course_utils.synthetic.load_ground_truth.",
    }


def _remove_stale_partials(out_dir: Path) -> None:
    """Delete what interrupted runs (whose process is gone) left beside ``out_dir``."""
    for partial in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        pid = partial.name.split(".partial-", 1)[1].split("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def generate_dataset(out_dir: str | Path, spec: SyntheticSpec, seed: int, workers: int = 2,
                     progress: bool = True, overwrite: bool = False) -> pd.DataFrame:
    """Render the dataset of ``spec`` and ``seed`` into ``out_dir`` and return its manifest.

    Everything is written into a hidden sibling folder that is renamed into place at the
    end, so ``out_dir`` exists only when complete. Each clip's randomness comes from
    ``SeedSequence([seed, clip_index])`` (its twin's index for the second class of a motion
    pair), so the output does not depend on ``workers``. An existing non-empty ``out_dir``
    is an error unless ``overwrite``, which replaces it once the new dataset is complete.
    """
    out_dir = Path(out_dir).expanduser().resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"{out_dir}: exists and is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        what = "a dataset is already there" if (out_dir / MANIFEST_NAME).is_file() else "folder is not empty"
        raise DatasetError(f"{out_dir}: {what}; delete it or pass overwrite=True")
    jobs = plan_clips(spec)  # checks the spec before anything is written
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for job in jobs:
        job.update(spec=spec, seed=seed, root=str(tmp))
    try:
        rows = parallel_map(_render_job, jobs, workers, progress, desc=f"rendering {out_dir.name}", unit="clip")
        manifest = pd.DataFrame(rows)
        extra = [c for c in manifest.columns if c not in MANIFEST_COLUMNS]
        manifest = manifest[MANIFEST_COLUMNS + extra]
        card = dataset_card(spec, seed, manifest)
        atomic_write_text(tmp / CARD_NAME, json.dumps(card, indent=2) + "\n")
        write_manifest(manifest, tmp / MANIFEST_NAME)
        if out_dir.exists():  # empty, or replaced on purpose: move it aside, then swap
            old = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}-old"
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_manifest(out_dir)
