"""Who moves and how: the subjects' bodies, the registry of actions and 3-D kinematics.

An articulated figure (head, neck, torso, hips, two-segment arms and legs) is posed by
per-class joint-angle trajectories (:class:`Motion`) and placed by 3-D forward kinematics.
Classes live in one registry, :data:`ACTIONS` (:func:`action` decorates a motion function,
:func:`register_action` adds one): :data:`CLASSES`, :data:`MOTION_PAIRS` and
:data:`PREFERRED_SCENE` are derived from it. ``rendering`` draws what this module poses;
``synthetic`` turns it into a dataset.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Sequence

import cv2
import numpy as np

SCENES = ("street", "park", "beach", "gym", "classroom", "stage", "living_room", "office",
          "garden", "studio", "dojo", "field")
# Filled from the registry of actions (ACTIONS, below), in registration order.
CLASSES: tuple[str, ...] = ()
MOTION_PAIRS: tuple[tuple[str, str], ...] = ()  # (first, second): the second reuses the first's draw
PREFERRED_SCENE: dict[str, str] = {}
JOINT_NAMES = ("head", "neck", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
               "pelvis", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")
BONES = (("head", "neck"), ("neck", "pelvis"), ("neck", "l_shoulder"), ("l_shoulder", "l_elbow"),
         ("l_elbow", "l_wrist"), ("neck", "r_shoulder"), ("r_shoulder", "r_elbow"),
         ("r_elbow", "r_wrist"), ("pelvis", "l_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
         ("pelvis", "r_hip"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"))
_J = {name: i for i, name in enumerate(JOINT_NAMES)}


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


def _cycle(rng: np.random.Generator, t: np.ndarray, hz: tuple[float, float], speed: float,
           span: float) -> np.ndarray:
    """Phase in radians of a periodic action at a random rate and phase.

    The rate is raised, if needed, so that 1.25 cycles fit in the ``span`` seconds the action
    is performed (whatever the phase, one whole cycle is seen): a short clip shows a quicker
    action, a long one more cycles.
    """
    rate = max(rng.uniform(*hz) * speed, 1.25 / max(span, 1e-6))
    return 2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


# --------------------------------------------------------------------------- the registry of actions

class Action(NamedTuple):
    """One class: how it moves, where it is usually filmed, and its role in a motion pair.

    ``motion(rng, t, speed, span)`` returns the :class:`Motion` over the times ``t`` (seconds)
    of a performance of ``span`` seconds. ``twin_of`` (second member of a motion pair) names
    the class whose random draw this one reuses; ``reverse_of`` renders the clip of that
    class played backwards. ``lead_in``: in long clips the subject stands still for a moment
    before starting and after finishing. ``seat``: a chair stands under the final pose.
    """

    name: str
    motion: Callable[..., Motion] | None
    scene: str
    twin_of: str | None = None
    reverse_of: str | None = None
    lead_in: bool = True
    seat: bool = False


ACTIONS: dict[str, Action] = {}
"""Every class, in registration order (which is the order of :data:`CLASSES`)."""


def register_action(name: str, motion: Callable[..., Motion] | None = None, *, scene: str | None = None,
                    twin_of: str | None = None, reverse_of: str | None = None, lead_in: bool = True,
                    seat: bool = False, before: str | None = None) -> Action:
    """Add the class ``name`` (before the class ``before``, else last) and refresh :data:`CLASSES`.

    A clip's randomness depends on its class *name*, never on the position of the class, so
    adding or reordering classes leaves every other clip unchanged. The second member of a
    motion pair (``twin_of``) takes its twin's preferred scene unless one is given.
    """
    if name in ACTIONS:
        raise ValueError(f"class {name!r} is already registered")
    if (motion is None) == (reverse_of is None):
        raise ValueError(f"class {name!r}: give either a motion function or reverse_of, not both or neither")
    for other in (twin_of, reverse_of, before):
        if other is not None and other not in ACTIONS:
            raise ValueError(f"class {name!r}: {other!r} is not a registered class")
    scene = scene or (ACTIONS[twin_of].scene if twin_of else None)
    if scene not in SCENES:
        raise ValueError(f"class {name!r}: unknown scene {scene!r}; choose from {', '.join(SCENES)}")
    if twin_of and ACTIONS[twin_of].scene != scene:
        raise ValueError(f"class {name!r}: a motion pair shares its preferred scene ({ACTIONS[twin_of].scene!r})")
    entry = Action(name, motion, scene, twin_of, reverse_of, lead_in, seat)
    items = list(ACTIONS.items())
    at = [k for k, _ in items].index(before) if before else len(items)
    ACTIONS.clear()
    ACTIONS.update(items[:at] + [(name, entry)] + items[at:])
    _refresh_classes()
    return entry


def action(name: str, **options: Any) -> Callable[[Callable[..., Motion]], Callable[..., Motion]]:
    """Decorator: register the decorated motion function as the class ``name`` (see :func:`register_action`)."""
    def register(motion: Callable[..., Motion]) -> Callable[..., Motion]:
        register_action(name, motion, **options)
        return motion
    return register


def _refresh_classes() -> None:
    """Derive the public tables from :data:`ACTIONS`."""
    global CLASSES, MOTION_PAIRS, PREFERRED_SCENE
    CLASSES = tuple(ACTIONS)
    MOTION_PAIRS = tuple((a.twin_of, a.name) for a in ACTIONS.values() if a.twin_of)
    PREFERRED_SCENE = {a.name: a.scene for a in ACTIONS.values()}


def reversed_pairs(class_names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The pairs ``(a, b)`` of ``class_names`` where ``b`` is rendered as ``a`` played backwards
    (``reverse_of``): a clip of either, reversed, is a clip of the other (``pipeline.Augment.reverse``)."""
    return tuple((a.reverse_of, a.name) for a in ACTIONS.values()
                 if a.reverse_of and a.reverse_of in class_names and a.name in class_names)


def perform(label: str, rng: np.random.Generator, t: np.ndarray, speed: float) -> Motion:
    """The motion of ``label`` over ``t`` (seconds), with a still lead-in and lead-out in long clips.

    A clip longer than 1.8 s may start and end with up to 30 % of the extra time standing
    still, eased in and out over 0.35 s; the middle of the clip is always at full action (the
    raised hand there holds the wave's middle pose).
    """
    entry = ACTIONS[label]
    duration = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    lead = rng.uniform(0.0, 0.3, 2) * max(0.0, duration - 1.8) if entry.lead_in else np.zeros(2)
    rest = _idle(rng, t)
    motion = entry.motion(rng, t, speed, max(duration - lead.sum(), 0.5))
    if not lead.any():
        return motion
    ramp = 0.35
    w = _smoothstep((t - t[0] - lead[0] + ramp) / ramp) * _smoothstep((t[-1] - lead[1] - t + ramp) / ramp)
    frames = len(t)
    angles = {key: motion.get(key, frames) * w + (1 - w) * np.broadcast_to(
        np.asarray(rest.get(key, 0.0), np.float64), (frames,)) for key in set(motion.angles) | set(rest)}
    return Motion(motion.view, motion.plant, angles)


# --------------------------------------------------------------------------- the actions

def _gait(rng, t, speed, span, run: bool) -> Motion:
    s = _cycle(rng, t, (1.25, 1.55) if run else (0.8, 1.0), speed, span)
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


@action("walk", scene="street", lead_in=False)
def _walk(rng, t, speed, span):
    return _gait(rng, t, speed, span, run=False)


@action("run", scene="park", lead_in=False)
def _run(rng, t, speed, span):
    return _gait(rng, t, speed, span, run=True)


@action("jump", scene="beach")
def _jump(rng, t, speed, span):
    u = _cycle(rng, t, (0.8, 1.1), speed, span) / (2 * np.pi)
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


@action("jumping_jack", scene="gym")
def _jumping_jack(rng, t, speed, span):
    s = 0.5 - 0.5 * np.cos(_cycle(rng, t, (0.9, 1.3), speed, span))
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


@action("wave_one_hand", scene="classroom")
def _wave_one_hand(rng, t, speed, span):
    return _wave(rng, t, speed, "one", moving=True)


@action("wave_two_hands", scene="stage")
def _wave_two_hands(rng, t, speed, span):
    return _wave(rng, t, speed, "two", moving=True)


@action("raise_hand", twin_of="wave_one_hand")
def _raise_hand(rng, t, speed, span):
    return _wave(rng, t, speed, "one", moving=False)


@action("clap", scene="office")
def _clap(rng, t, speed, span):
    a = _idle(rng, t)
    open_ = np.abs(np.sin(_cycle(rng, t, (0.9, 1.3), speed, span))) ** 0.7
    closed, opened = rng.uniform(-62, -52), rng.uniform(-10, 15)
    for side in "lr":
        a[f"{side}_sh_flex"], a[f"{side}_sh_abd"] = rng.uniform(20, 40), rng.uniform(3, 10)
        a[f"{side}_el_flex"] = rng.uniform(55, 75)
        a[f"{side}_el_abd"] = closed + (opened - closed) * open_
    return Motion("front", "both", a)


@action("punch", scene="dojo")
def _punch(rng, t, speed, span):
    phase = _cycle(rng, t, (1.1, 1.6), speed, span) / (2 * np.pi)
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


@action("kick", scene="field")
def _kick(rng, t, speed, span):
    u = _cycle(rng, t, (0.7, 1.0), speed, span) / (2 * np.pi)
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


@action("bend", scene="garden")
def _bend(rng, t, speed, span):
    s = 0.5 - 0.5 * np.cos(_cycle(rng, t, (0.35, 0.5), speed, span))
    lean = rng.uniform(70, 100) * s
    a = _idle(rng, t)
    a["lean"] = lean
    for side in "lr":
        a[f"{side}_sh_flex"] = lean * rng.uniform(0.9, 1.1)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + rng.uniform(0, 15)
        a[f"{side}_hip_flex"], a[f"{side}_knee_flex"] = 8 * s, -8 * s
    return Motion("side", "both", a)


@action("squat", scene="studio")
def _squat(rng, t, speed, span):
    s = 0.5 - 0.5 * np.cos(_cycle(rng, t, (0.45, 0.7), speed, span))
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


@action("sit_down", scene="living_room", lead_in=False, seat=True)
def _sit_down(rng, t, speed, span):
    # The whole motion happens inside the clip, its middle at a time drawn symmetrically about
    # the clip's middle: played backwards, sitting-down clips are equally likely standing-up
    # clips. Longer clips show a slower, more deliberate sit.
    margin = 0.1 * t[-1]
    duration = min(rng.uniform(1.0, 1.5) / speed * (1 + 0.25 * max(0.0, t[-1] - 2.0)), t[-1] - 2 * margin)
    centre = t[-1] / 2 + rng.uniform(-0.5, 0.5) * (t[-1] - 2 * margin - duration)
    p = _smoothstep((t - centre) / duration + 0.5)
    a = _idle(rng, t)
    thigh = rng.uniform(80, 95)
    a["lean"] = a["lean"] + rng.uniform(30, 45) * np.sin(np.pi * p) + 8 * p
    for side in "lr":
        a[f"{side}_hip_flex"] = thigh * p
        a[f"{side}_knee_flex"] = -5 * p
        a[f"{side}_sh_flex"] = a[f"{side}_sh_flex"] + 25 * p + 30 * np.sin(np.pi * p)
        a[f"{side}_el_flex"] = a[f"{side}_sh_flex"] + 15 + 40 * p
    return Motion("side", "both", a)


register_action("stand_up", reverse_of="sit_down", twin_of="sit_down")


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


