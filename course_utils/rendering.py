"""Drawing a clip: procedural scenes, the figure, props, camera and optics.

:func:`render_clip` renders one clip in memory (frames, joints, person mask): the figure
posed by ``actions`` is projected on the image plane from a random viewpoint and drawn over
a procedural scene, with camera sway (and a pan that follows a walker), occluders, moving
distractors, blur and sensor noise; :func:`draw_skeleton` overlays joints.
"""
from __future__ import annotations

from statistics import NormalDist
from typing import Any, Callable, NamedTuple

import cv2
import numpy as np

from . import actions
from .actions import (_J, BONES, SCENES, Action, Appearance, Motion, _hsv_color, _jitter, forward_kinematics,
                      make_appearance, perform)

_SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel positions, smooth motion
_ONE = 1 << _SHIFT


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


def render_scene(scene: str, rng: np.random.Generator, size: int | tuple[int, int]) -> np.ndarray:
    """A background image (H, W, 3) RGB uint8 of a scene type with random layout.

    ``size`` is the side of a square or ``(height, width)``.
    """
    if scene not in _SCENE_PAINTERS:
        raise ValueError(f"unknown scene {scene!r}; choose from {', '.join(SCENES)}")
    height, width = (size, size) if isinstance(size, (int, np.integer)) else size
    img = np.zeros((height, width, 3), np.uint8)
    _SCENE_PAINTERS[scene](rng, img)
    return img


def choose_scene(label: str, context_bias: float, rng: np.random.Generator) -> tuple[str, bool]:
    """The class's preferred scene with probability ``context_bias``, else a uniform one."""
    preferred = rng.random() < context_bias
    uniform = SCENES[rng.integers(len(SCENES))]
    return (actions.PREFERRED_SCENE[label] if preferred else uniform), bool(preferred)


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


def _distractor(rng, t, canvas_hw, ground, height_px) -> _Prop:
    """A ball bouncing across in front of the figure, or a passer-by crossing behind it.

    It crosses the canvas once per clip; its bounce and gait follow the clock ``t`` (seconds).
    """
    frames, (canvas_h, canvas_w) = len(t), canvas_hw
    kind = "ball" if rng.random() < 0.5 else "passerby"
    step = np.arange(frames)
    direction = 1 if rng.random() < 0.5 else -1
    start = -0.1 * canvas_w if direction > 0 else 1.1 * canvas_w
    speed = rng.uniform(0.5, 1.1) * canvas_w / frames
    x = start + direction * speed * step + direction * rng.uniform(0, 0.4) * canvas_w
    color = _hsv_color(rng, (0.5, 1.0), (0.5, 1.0))
    if kind == "ball":
        r = rng.uniform(0.04, 0.07) * height_px
        bounce = np.abs(np.sin(np.pi * t / rng.uniform(0.4, 0.8) + rng.uniform(0, np.pi)))
        floor = ground + rng.uniform(-0.05, 0.05) * height_px
        y = floor - r - bounce * rng.uniform(0.2, 0.5) * height_px
        return _Prop(kind, [[("circle", (x[i], y[i], r))] for i in range(frames)], color, True)
    tall = rng.uniform(0.25, 0.4) * height_px
    base = ground - rng.uniform(0.1, 0.18) * canvas_h  # further away, so higher up
    top = base - 0.8 * tall - 0.03 * tall * np.abs(np.sin(3.75 * np.pi * t))
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


class _Shot(NamedTuple):
    """Where the camera looks: the figure's projection on a canvas larger than the view."""

    height: int
    width: int
    margin: int  # canvas pixels around the view, room for the sway
    canvas: tuple[int, int]  # (height, width), wider than the view by the pan
    yaw: float
    facing: float
    scale: float  # pixels per body height
    ground: float
    centre: float
    origin_x: float  # canvas x of the view's left edge in the first frame
    pan: float  # pixels the view moves along x over the clip, following a walker

    def project(self, points: np.ndarray) -> np.ndarray:
        """Canvas pixel coordinates ``(..., 2)`` of body-frame points ``(..., 3)``."""
        u = points[..., 0] * np.cos(self.yaw) + points[..., 2] * np.sin(self.yaw)
        return np.stack([self.centre + self.scale * u, self.ground - self.scale * points[..., 1]], -1)

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Distance from the camera along its axis (larger is further), for the drawing order."""
        return -points[..., 0] * np.sin(self.yaw) + points[..., 2] * np.cos(self.yaw)


def _frame_the_shot(rng, motion: Motion, joints3d: np.ndarray, height: int, width: int) -> _Shot:
    """Viewpoint, scale (from the frame height) and placement; the camera pans with a walker.

    A figure that would travel more than 45 % of the frame width is followed by the camera
    so that it crosses only that much of the view, as a hand-held camera tracks someone walking.
    """
    margin = max(2, height // 32)
    yaw_deg = rng.uniform(0, 30) if motion.view == "front" else rng.uniform(65, 110)
    facing = 1.0 if rng.random() < 0.5 else -1.0
    yaw = np.radians(yaw_deg) * facing
    scale = height * rng.uniform(0.5, 0.68)
    ground = margin + height * rng.uniform(0.86, 0.95)
    travel = (joints3d[-1, _J["pelvis"], 2] - joints3d[0, _J["pelvis"], 2]) * np.sin(yaw) * scale
    pan = float(np.sign(travel) * max(0.0, abs(travel) - 0.45 * width))
    origin_x = margin + max(0.0, -pan)
    centre = origin_x + width * rng.uniform(0.35, 0.65) - (travel - pan) / 2
    canvas = (height + 2 * margin, width + 2 * margin + int(np.ceil(abs(pan))))
    return _Shot(height, width, margin, canvas, yaw, facing, scale, ground, centre, origin_x, pan)


def _camera_path(rng, t: np.ndarray, shot: _Shot) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-frame view offsets ``(T, 2)`` (x, y canvas pixels): the pan plus a hand-held sway.

    Returns the offsets, the sway alone (``|sway| <= amplitude``) and the sway amplitude.
    """
    amp = rng.uniform(0, 1.0) * shot.height / 96
    rates = rng.uniform(0.2, 0.8, (2, 2))
    phases = rng.uniform(0, 2 * np.pi, (2, 2))
    weights = rng.dirichlet((1.0, 1.0), 2)
    waves = np.sin(2 * np.pi * rates[:, None, :] * t[None, :, None] + phases[:, None, :])
    sway = (amp * (weights[:, None, :] * waves).sum(-1).T).astype(np.float32)
    progress = (t - t[0]) / (t[-1] - t[0]) if t[-1] > t[0] else np.zeros_like(t)
    view = np.stack([shot.origin_x + shot.pan * progress, np.full_like(t, shot.margin)], -1)
    return (view + sway).astype(np.float32), sway, float(amp)


def _props(rng, entry: Action, body: Appearance, joints3d: np.ndarray, shot: _Shot, t: np.ndarray,
           background: np.ndarray) -> tuple[list[_Prop], dict[str, Any]]:
    """The seat (painted into ``background``: it never moves), an occluder and a distractor."""
    frames = len(t)
    joints_px = shot.project(joints3d[frames // 2, [_J["l_ankle"], _J["r_ankle"]]])
    feet_x = float(joints_px[:, 0].mean())
    seat = _seat(rng, body, joints3d[-1], shot.project, shot.scale) if entry.seat else None
    occluder = _occluder(rng, frames, feet_x, shot.ground, shot.scale) if rng.random() < 0.3 else None
    distractor = _distractor(rng, t, shot.canvas, shot.ground, shot.scale) if rng.random() < 0.4 else None
    if seat:
        lines, color, width = seat
        for a, b in lines:
            cv2.line(background, tuple(_pts(a)), tuple(_pts(b)), color, width, cv2.LINE_AA, _SHIFT)
    info = {"occluder": occluder.kind if occluder else "none",
            "distractor": distractor.kind if distractor else "none", "seat": bool(seat)}
    return [p for p in (distractor, occluder) if p], info


def _composite(background: np.ndarray, props: list[_Prop], figure: _Figure, joints_px: np.ndarray,
               toes_px: np.ndarray, depth: np.ndarray, view: np.ndarray, shot: _Shot):
    """Draw props behind, the figure, props in front, then cut each frame's view out of the canvas.

    Returns frames ``(T, H, W, 3)`` and the visible-person mask ``(T, H, W)``.
    """
    frames = len(view)
    size = (shot.width, shot.height)
    out = np.empty((frames, shot.height, shot.width, 3), np.uint8)
    mask = np.empty((frames, shot.height, shot.width), bool)
    img_buf = np.empty_like(background)
    mask_buf = np.empty(background.shape[:2], np.uint8)
    joints_fixed, toes_fixed = _pts(joints_px), _pts(toes_px)
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
        crop = np.float32([[1, 0, -view[i, 0]], [0, 1, -view[i, 1]]])
        out[i] = cv2.warpAffine(img_buf, crop, size, flags=cv2.INTER_LINEAR)
        mask[i] = cv2.warpAffine(mask_buf, crop, size, flags=cv2.INTER_LINEAR) > 127
    return out, mask


def _optics(rng, frames: np.ndarray, height: int) -> tuple[np.ndarray, dict[str, float]]:
    """Exposure gain, a mild lens blur, then sensor noise."""
    gain = rng.uniform(0.8, 1.15)
    blur = rng.uniform(0.3, 0.9) * height / 96
    noise = rng.uniform(1.5, 5.0)
    for i in range(len(frames)):
        frames[i] = cv2.GaussianBlur(frames[i], (0, 0), blur)
    # One table for value * gain + noise * z, indexed by (pixel value, noise byte): a uint8 gather
    # instead of float arithmetic on every pixel.
    table = np.arange(256, dtype=np.float32)[:, None] * np.float32(gain) + np.float32(noise) * _NORMAL_LUT[None, :]
    table = np.clip(table, 0, 255).astype(np.uint8).ravel()
    raw = np.frombuffer(rng.bytes(frames.size), np.uint8).reshape(frames.shape)
    index = (frames.astype(np.uint16) << 8) | raw
    return table[index], {"noise": round(float(noise), 2)}


def _played_backwards(clip: Clip, label: str, source: str) -> Clip:
    """``clip`` in reverse order, relabelled."""
    offsets = clip.info["camera_offsets"][::-1]
    offsets = offsets - offsets[0]  # again relative to the (new) first frame
    return Clip(clip.frames[::-1].copy(), clip.joints[::-1].copy(), clip.mask[::-1].copy(),
                {**clip.info, "label": label, "reversed_from": source, "camera_offsets": offsets})


def render_clip(label: str, rng: np.random.Generator, size: int = 96, frames: int = 32, fps: float = 15.0,
                scene: str | None = None, appearance: Appearance | None = None, width: int | None = None) -> Clip:
    """Render one clip of ``label``, ``size`` pixels high and ``width`` wide (default: square).

    Everything random comes from ``rng``; ``scene`` defaults to the class's preferred scene,
    ``appearance`` to a random subject. A ``stand_up`` clip is the ``sit_down`` clip of the
    same ``rng`` played backwards, and a ``raise_hand`` clip holds the pose its
    ``wave_one_hand`` twin (same ``rng``) has in the middle frame. ``info`` tells what was
    drawn: scene, view (``front``/``side``), yaw and facing, speed factor, scale (body height
    / frame height), occluder and distractor kinds, whether a seat is there, the camera's
    sway amplitude, its pan in pixels and its per-frame ``camera_offsets`` (T, 2) (the view's
    shift from the first frame's position), the sensor noise level and the format.
    """
    width = size if width is None else width
    if label not in actions.ACTIONS:
        raise ValueError(f"unknown class {label!r}; choose from {', '.join(actions.CLASSES)}")
    entry = actions.ACTIONS[label]
    if entry.reverse_of:
        clip = render_clip(entry.reverse_of, rng, size, frames, fps, scene, appearance, width)
        return _played_backwards(clip, label, entry.reverse_of)
    if frames < 2 or min(size, width) < 32 or fps <= 0:
        raise ValueError(f"need at least 2 frames of 32x32 pixels at a positive fps, got {frames} frames "
                         f"of {width}x{size} at {fps} fps")
    bg_rng, body_rng, cam_rng = rng.spawn(3)
    scene = scene or entry.scene
    body = appearance or make_appearance(body_rng)
    t = np.arange(frames) / fps
    speed = body_rng.uniform(0.8, 1.25)
    motion = perform(label, body_rng, t, speed)
    joints3d, toes3d = forward_kinematics(motion, body, frames)
    shot = _frame_the_shot(body_rng, motion, joints3d, size, width)
    background = render_scene(scene, bg_rng, shot.canvas)
    props, prop_info = _props(cam_rng, entry, body, joints3d, shot, t, background)
    view, _, amp = _camera_path(cam_rng, t, shot)
    joints_px, toes_px = shot.project(joints3d), shot.project(toes3d)
    out, mask = _composite(background, props, _Figure(body, shot.scale, shot.yaw), joints_px, toes_px,
                           shot.depth(joints3d), view, shot)
    out, optics = _optics(cam_rng, out, size)
    info = {"label": label, "scene": scene, "view": motion.view, "yaw_deg": round(float(np.degrees(shot.yaw)), 1),
            "facing": "right" if shot.facing > 0 else "left", "speed": round(float(speed), 3),
            "scale": round(float(shot.scale / size), 3), **prop_info, "jitter_px": round(amp, 2),
            "pan_px": round(shot.pan, 1) + 0.0, **optics, "frames": frames, "fps": float(fps), "width": width,
            "height": size, "camera_offsets": (view - view[0]).astype(np.float32)}
    return Clip(out, (joints_px - view[:, None, :]).astype(np.float32), mask, info)


