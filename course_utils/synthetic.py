"""The embedded synthetic human-action dataset, rendered procedurally from a seed.

An articulated figure (head, neck, torso, hips, two-segment arms and legs) is posed by
per-class joint-angle trajectories, placed by 3-D forward kinematics, projected on the
image plane from a random viewpoint and drawn over a procedural scene, with camera
sway (and a pan that follows a walker), occluders, moving distractors, blur and sensor
noise. Clips vary as real ones do: each draws a duration, a frame rate and an aspect ratio
(:func:`draw_format`, ranges in :class:`~course_utils.config.SyntheticSpec`), the same way
for every class; a short clip shows a quicker action, a long one more cycles and a still
lead-in and lead-out. The data is built to teach:

* motion-only pairs (:data:`MOTION_PAIRS`): a ``stand_up`` clip is a ``sit_down`` clip
  played backwards (noise, sway and distractors included), and ``raise_hand`` holds the
  arm still at an angle drawn from the same distribution as the wave's swinging angle.
  The members of a pair are rendered as *twins*: the second one reuses the random draw of
  the first one's clip of the same subject and repetition, so twins share format, subject,
  scene, viewpoint and distractors, and differ only in motion. No single frame can tell
  them apart;
* context bias: with probability ``context_bias`` a clip is filmed in its class's preferred
  scene (shared by the members of a pair), otherwise in a uniformly random one;
* class imbalance and subject-disjoint splits.

Three modules share the work: ``actions`` holds the bodies, the registry of classes
(``actions.ACTIONS``; :func:`action` decorates a motion function, :func:`register_action`
adds one; :data:`CLASSES`, :data:`MOTION_PAIRS` and :data:`PREFERRED_SCENE` are derived from
it) and the kinematics; ``rendering`` draws a clip; this module plans, writes and describes
the dataset. A clip's randomness depends on its class name, never on the position of the
class (:func:`clip_seed`).

:func:`generate_dataset` writes ``<out>/<label>/<clip_id>.avi`` (intra-only Motion JPEG: no
group-of-pictures steps in frame differences) plus per-frame ground truth ``<clip_id>.npz``
(joints, person mask), ``manifest.csv`` and ``dataset_card.json``, and never writes into a
folder it did not make; :func:`render_clip` renders one clip in memory and
:func:`draw_skeleton` overlays joints.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import actions
from .actions import JOINT_NAMES, action, register_action, subject_appearance  # noqa: F401 (API)
from .config import ConfigError, SyntheticSpec
from .datasets import MANIFEST_COLUMNS, MANIFEST_NAME, SPLITS, DatasetError, load_manifest, write_manifest
from .jobs import (atomic_write_bytes, atomic_write_text, ensure_writable_dir, parallel_map, process_alive,
                   sha256_file)
from .rendering import Clip, choose_scene, draw_skeleton, render_clip  # noqa: F401 (API)
from .video import write_video

_GENERATOR_NAME = "course-synthetic-humans"
GENERATOR_VERSION = f"{_GENERATOR_NAME}/2.0"
CARD_NAME = "dataset_card.json"


def __getattr__(name: str) -> Any:
    """`CLASSES`, `MOTION_PAIRS`, `PREFERRED_SCENE` and `SCENES`: the current values of the registry in `actions`."""
    if name in ("CLASSES", "MOTION_PAIRS", "PREFERRED_SCENE", "SCENES"):
        return getattr(actions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    last = max(1, len(actions.CLASSES) - 1)
    return {c: max(1, int(round(full * (1 - spec.imbalance) ** (k / last)))) for k, c in enumerate(actions.CLASSES)}


def subject_splits(spec: SyntheticSpec) -> list[str]:
    """Split of each subject: the first ``n_train`` are train, then val, then test."""
    n_train, n_val, n_test = spec.split_subjects
    if n_train + n_val + n_test != spec.subjects or min(spec.split_subjects) < 0 or n_train < 1:
        raise ConfigError(f"split_subjects={spec.split_subjects} must be non-negative, with at least one "
                         f"train subject, and add up to subjects={spec.subjects}")
    return ["train"] * n_train + ["val"] * n_val + ["test"] * n_test


def check_spec(spec: SyntheticSpec) -> None:
    """Raise :class:`ConfigError` naming the field if the clip formats of ``spec`` cannot be drawn."""
    (lo, hi), (short, long_) = spec.frames, spec.seconds
    if not 2 <= lo <= hi:
        raise ConfigError(f"frames={spec.frames} must be a range (min, max) with 2 <= min <= max")
    if not 0 < short <= long_:
        raise ConfigError(f"seconds={spec.seconds} must be a range (min, max) with 0 < min <= max")
    if min(spec.fps_choices) <= 0:
        raise ConfigError(f"fps_choices={spec.fps_choices} must all be positive")
    if spec.height < 32 or spec.height % 2 or min(spec.aspects) * spec.height < 32:
        raise ConfigError(f"height={spec.height} must be even and, with aspects={spec.aspects}, give frames "
                          "at least 32 pixels wide and high")


def stable_hash(name: str) -> int:
    """A 32-bit hash of ``name`` that is the same in every process and Python version (CRC-32)."""
    return zlib.crc32(name.encode("utf-8"))


def clip_seed(seed: int, label: str, subject: int, rep: int) -> np.random.SeedSequence:
    """The randomness of one clip: from the dataset seed, the class *name*, subject and repetition.

    No class position enters, so adding, removing or reordering classes leaves every other
    clip byte-identical. Both members of a motion pair are rendered from the seed of the first.
    """
    source = actions.ACTIONS[label].twin_of or label
    return np.random.SeedSequence([seed, stable_hash(source), subject, rep])


def _even(x: float) -> int:
    return int(2 * round(x / 2))


def draw_format(spec: SyntheticSpec, rng: np.random.Generator) -> dict[str, Any]:
    """A clip's format: frame rate, duration, frame count and size.

    The fps is one of ``spec.fps_choices``; the duration is log-uniform over the part of
    ``spec.seconds`` whose frame count fits ``spec.frames`` at that fps (a 30 fps clip is
    shorter in seconds than a 10 fps one of as many frames), so no count piles up at a bound.
    """
    check_spec(spec)
    fps = float(spec.fps_choices[rng.integers(len(spec.fps_choices))])
    low = max(spec.seconds[0], spec.frames[0] / fps)
    high = max(low, min(spec.seconds[1], spec.frames[1] / fps))
    seconds = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    frames = int(np.clip(round(seconds * fps), *spec.frames))
    aspect = float(spec.aspects[rng.integers(len(spec.aspects))])
    ratio = Fraction(aspect).limit_denominator(20)
    return {"frames": frames, "fps": fps, "height": spec.height, "width": _even(spec.height * aspect),
            "aspect": f"{ratio.numerator}:{ratio.denominator}"}


def plan_clips(spec: SyntheticSpec) -> list[dict[str, Any]]:
    """One row per clip to render: class, subject, repetition, split and a clip index.

    ``clip_index`` numbers the clips of the balanced set (class by class); it is an id only:
    the randomness of a clip comes from :func:`clip_seed`. An imbalanced set is a subset of the
    balanced one with identical clips: dropped clips are taken from the last repetitions
    first, spread over all subjects. The second class of a motion pair is rendered from the
    random draw of its twin, the first class's clip of the same subject and repetition:
    twins share format, scene and everything else, and differ only in their motion.
    """
    check_spec(spec)
    splits = subject_splits(spec)
    counts = clip_counts(spec)
    twins = {**{a: b for a, b in actions.MOTION_PAIRS}, **{b: a for a, b in actions.MOTION_PAIRS}}
    rows = []
    for k, label in enumerate(actions.CLASSES):
        grid = [(rep, subject) for rep in range(spec.reps_per_subject) for subject in range(spec.subjects)]
        for rep, subject in sorted(grid[:counts[label]], key=lambda g: (g[1], g[0])):
            twin = twins.get(label)
            rows.append({"label": label, "subject_index": subject, "rep": rep,
                         "clip_index": (k * spec.subjects + subject) * spec.reps_per_subject + rep,
                         "clip_id": f"{label}_s{subject:02d}_r{rep}", "split": splits[subject],
                         "twin": f"{twin}_s{subject:02d}_r{rep}" if twin else "none"})
    present = {row["clip_id"] for row in rows}
    for row in rows:  # with imbalance a first-of-pair clip may lack its twin
        if row["twin"] not in present:
            row["twin"] = "none"
    return rows


VIDEO_SUFFIX = ".avi"
"""Intra-only Motion JPEG in AVI (see :func:`course_utils.video.write_video`): no I-frame steps."""
_MANIFEST_INFO = ("view", "yaw_deg", "facing", "speed", "scale", "occluder", "distractor", "pan_px")


def _render_job(job: dict[str, Any]) -> dict[str, Any]:
    """Render, encode and describe one clip."""
    spec: SyntheticSpec = job["spec"]
    format_seq, scene_seq, clip_seq = clip_seed(job["seed"], job["label"], job["subject_index"], job["rep"]).spawn(3)
    fmt = draw_format(spec, np.random.default_rng(format_seq))
    scene, preferred = choose_scene(job["label"], spec.context_bias, np.random.default_rng(scene_seq))
    clip = render_clip(job["label"], np.random.default_rng(clip_seq), fmt["height"], fmt["frames"], fmt["fps"],
                       scene=scene, appearance=subject_appearance(job["seed"], job["subject_index"]),
                       width=fmt["width"])
    root = Path(job["root"])
    video = Path(job["label"]) / f"{job['clip_id']}{VIDEO_SUFFIX}"
    gt = video.with_suffix(".npz")
    write_video(root / video, clip.frames, fmt["fps"])
    save_ground_truth(root / gt, clip)
    return {"path": video.as_posix(), "label": job["label"], "subject": f"subject{job['subject_index']:03d}",
            "split": job["split"], "frames": fmt["frames"], "fps": fmt["fps"], "width": fmt["width"],
            "height": fmt["height"], "sha256": sha256_file(root / video), "clip_id": job["clip_id"],
            "clip_index": job["clip_index"], "rep": job["rep"], "twin": job["twin"],
            "duration_s": round(fmt["frames"] / fmt["fps"], 3), "aspect": fmt["aspect"], "scene": scene,
            "scene_is_preferred": preferred, "gt": gt.as_posix(),
            **{key: clip.info[key] for key in _MANIFEST_INFO}}


def dataset_card(spec: SyntheticSpec, seed: int, manifest: pd.DataFrame) -> dict[str, Any]:
    """What was generated and how: deterministic (no timings or paths)."""
    counts = {split: {c: int(((manifest["split"] == split) & (manifest["label"] == c)).sum()) for c in actions.CLASSES}
              for split in SPLITS}

    def spread(column: str) -> dict[str, float]:
        values = manifest[column].astype(float)
        return {"min": float(values.min()), "median": float(values.median()), "max": float(values.max())}

    return {
        "name": "synthetic human actions", "generator": GENERATOR_VERSION, "seed": seed,
        "slug": spec.slug(seed), "spec": dataclasses.asdict(spec), "classes": list(actions.CLASSES),
        "motion_pairs": [list(p) for p in actions.MOTION_PAIRS], "scenes": list(actions.SCENES),
        "preferred_scene": dict(actions.PREFERRED_SCENE), "joint_names": list(JOINT_NAMES),
        "video": {"codec": "MJPG", "container": VIDEO_SUFFIX.lstrip("."), "keyframes": "every frame (intra-only)",
                  "frames": spread("frames"), "duration_s": spread("duration_s"),
                  "fps": {f"{k:g}": int(v) for k, v in manifest["fps"].value_counts().sort_index().items()},
                  "size": {f"{w}x{h}": int(v) for (w, h), v in
                           manifest.groupby(["width", "height"]).size().sort_index().items()}},
        "splits": {split: sorted(manifest.loc[manifest["split"] == split, "subject"].unique().tolist())
                   for split in SPLITS},
        "counts": counts, "total_clips": int(len(manifest)),
        "twins": "the second class of each motion pair reuses the random draw of the first class's clip of "
                 "the same subject and repetition (column twin): twins share duration, fps, size, scene and "
                 "subject, and differ only in motion",
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


def read_card(folder: str | Path) -> dict[str, Any] | None:
    """The dataset card of a folder this generator made, else ``None`` (no card, or not ours)."""
    try:
        card = json.loads((Path(folder) / CARD_NAME).read_text())
    except (OSError, ValueError):
        return None
    generator = card.get("generator") if isinstance(card, dict) else None
    return card if isinstance(generator, str) and generator.startswith(_GENERATOR_NAME + "/") else None


def _files_not_generated(folder: Path) -> list[Path]:
    """Files in a generated dataset that its manifest and card do not account for."""
    try:
        manifest = pd.read_csv(folder / MANIFEST_NAME, usecols=lambda c: c in ("path", "gt"))
        made = {CARD_NAME, MANIFEST_NAME, *manifest.get("path", []), *manifest.get("gt", [])}
    except (OSError, ValueError):
        made = {CARD_NAME, MANIFEST_NAME}
    return [f for f in sorted(folder.rglob("*")) if not f.is_dir() and f.relative_to(folder).as_posix() not in made]


def _existing_dataset(out_dir: Path, spec: SyntheticSpec, seed: int, overwrite: bool) -> bool:
    """Whether ``out_dir`` already holds exactly this dataset; raise if it holds anything else.

    A non-empty folder without this generator's card is never written into (not even with
    ``overwrite``); a generated dataset of another seed or spec is replaced only with ``overwrite``.
    """
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise DatasetError(f"{out_dir}: exists and is not a folder")
    if not any(out_dir.iterdir()):
        return False
    card = read_card(out_dir)
    if card is None:
        raise DatasetError(f"{out_dir}: this folder was not made by the course (it has no {CARD_NAME}); nothing "
                           "in it was changed, whatever the options. Choose a new or empty folder for the "
                           "synthetic dataset.")
    wanted = json.loads(json.dumps(dataclasses.asdict(spec)))
    if (card.get("generator"), card.get("seed"), card.get("spec")) == (GENERATOR_VERSION, seed, wanted) \
            and (out_dir / MANIFEST_NAME).is_file():
        return True
    if overwrite:
        foreign = _files_not_generated(out_dir)
        if foreign:
            raise DatasetError(f"{foreign[0]}: this course did not create it ({len(foreign)} such file(s) in "
                               f"{out_dir}); refusing to replace the dataset: move them away first")
        return False
    held = card.get("slug") or f"spec {json.dumps(card.get('spec'), sort_keys=True)}"
    raise DatasetError(f"{out_dir}: holds another generated dataset ({card.get('generator')}, seed "
                       f"{card.get('seed')}, {held}), not the one asked for ({GENERATOR_VERSION}, seed {seed}, "
                       f"{spec.slug(seed)}); pass overwrite=True (--force on the command line) to replace "
                       "it, or choose another folder")


def generate_dataset(out_dir: str | Path, spec: SyntheticSpec, seed: int, workers: int = 2,
                     progress: bool = True, overwrite: bool = False) -> pd.DataFrame:
    """Render the dataset of ``spec`` and ``seed`` into ``out_dir`` and return its manifest.

    Everything is written into a hidden sibling folder that is renamed into place at the
    end, so ``out_dir`` exists only when complete. Each clip's randomness comes from
    :func:`clip_seed` (class name, subject, repetition), so the output depends neither on
    ``workers`` nor on the order of the classes. If ``out_dir`` already holds this very
    dataset (same generator, seed and spec) its manifest is returned without any work; a
    generated dataset of another seed or spec is an error unless ``overwrite``, which
    replaces it once the new one is complete; a non-empty folder this course did not
    generate is never touched (:class:`DatasetError`, whatever ``overwrite``).
    """
    out_dir = Path(out_dir).expanduser().resolve()
    jobs = plan_clips(spec)  # checks the spec before anything is written
    if _existing_dataset(out_dir, spec, seed, overwrite):
        return load_manifest(out_dir)
    ensure_writable_dir(out_dir.parent)
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
