"""Run bookkeeping of a notebook: seeding, the stopwatch, the environment report and the
results JSON (the one shape of design section 3).
"""
from __future__ import annotations

import json
import os
import re
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .config import Config, resolve_config
from .jobs import atomic_write_text


def seed_everything(seed: int, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and, once TensorFlow is imported, Keras/TensorFlow with op determinism.

    Notebooks that train models import their model code (and so TensorFlow) before calling
    this; the data notebooks skip the import, which costs seconds.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "tensorflow" not in sys.modules:
        return
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()


def start_notebook(profile: str, dataset: str, data_dir: str | Path | None, artifacts_dir: str | Path | None,
                   seed: int, **overrides: Any) -> tuple[Config, "Stopwatch"]:
    """The first line of every notebook: resolve the parameters, seed, start the clock."""
    watch = Stopwatch()
    cfg = resolve_config(profile, dataset, data_dir, artifacts_dir, seed, **overrides)
    seed_everything(cfg.seed)
    return cfg, watch


def environment_report() -> dict[str, Any]:
    """Where the course runs: Colab or local, CPU or GPU, library versions."""
    import importlib.metadata as md

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "colab": in_colab(),
    }
    for package in ("tensorflow", "tensorflow-cpu", "keras", "opencv-contrib-python-headless",
                    "opencv-python", "numpy", "pandas", "scikit-learn", "papermill"):
        try:
            report[package] = md.version(package)
        except md.PackageNotFoundError:
            continue
    report["gpus"] = _tensorflow_gpus()
    try:
        import cv2

        report["opencv_tvl1"] = hasattr(cv2, "optflow")
    except ImportError:
        report["opencv_tvl1"] = False
    return report


_GPU_QUERY = "import json, tensorflow as tf; print(json.dumps([d.name for d in tf.config.list_physical_devices('GPU')]))"


def _tensorflow_gpus(timeout: float = 300.0) -> list[str]:
    """The GPUs TensorFlow sees, asked in a child process: TensorFlow's start-up log (oneDNN,
    absl; TF_CPP_MIN_LOG_LEVEL no longer silences all of it) stays out of the notebook, and the
    data notebooks never load TensorFlow. Empty when TensorFlow is missing or fails to start."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    try:
        done = subprocess.run([sys.executable, "-c", _GPU_QUERY], capture_output=True, text=True, env=env,
                              timeout=timeout)
        return [str(name) for name in json.loads(done.stdout.strip().splitlines()[-1])] if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return []


def in_colab() -> bool:
    return "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ


class Stopwatch:
    """Named wall-clock timings for the ``timings_s`` block of the results JSON."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, name: str, since: float) -> float:
        self.timings[name] = round(time.perf_counter() - since, 3)
        return self.timings[name]

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": round(time.perf_counter() - self._start, 3)}


_MEASURED = re.compile(r"per_s$|_per_second|seconds|_ms$|_s$|latency|throughput|fps")


def save_results(cfg: Config, notebook: str, metrics: Mapping[str, Mapping[str, Any]],
                 timings_s: Mapping[str, float], extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``results/<notebook>.json`` in the one shape every notebook uses."""
    for name, values in metrics.items():
        for key, value in values.items():
            if _MEASURED.search(key):
                raise ValueError(f"metrics[{name!r}][{key!r}] is a measured speed or time, which differs run "
                                 "to run: put it in timings_s or extra, so that metrics stay gradable")
            if key.endswith("accuracy") and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"metrics[{name!r}][{key!r}]={value} is not a fraction in [0, 1]")
    payload = {"notebook": notebook, "profile": cfg.profile, "dataset": cfg.dataset_name,
               "seed": cfg.seed, "metrics": _plain(metrics), "timings_s": _plain(timings_s),
               "extra": _plain(extra or {})}
    path = cfg.results_dir / f"{notebook}.json"
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    missing = {"notebook", "profile", "dataset", "seed", "metrics", "timings_s", "extra"} - set(data)
    if missing:
        raise ValueError(f"{path}: results JSON lacks {sorted(missing)}")
    return data


CARD_SUFFIX = ".card.json"
"""A model file's card sits beside it: ``model_int8.tflite`` -> ``model_int8.tflite.card.json``."""

CARD_FIELDS = ("model", "format", "class_names", "input_shape", "input_dtype", "value_range")


def card_path(model_path: str | Path) -> Path:
    """Where the card of ``model_path`` (a file or a SavedModel folder) lives."""
    path = Path(model_path)
    return path.with_name(path.name.rstrip("/") + CARD_SUFFIX)


def write_model_card(model_path: str | Path, model: str, format: str, class_names: list[str],
                     input_shape: tuple[int, ...], input_dtype: str = "float32",
                     value_range: tuple[float, float] = (0.0, 255.0), **extra: Any) -> Path:
    """Write what a reader of ``model_path`` needs to feed it and name its outputs.

    Args:
        model_path: the exported file or folder.
        model: the course model's name (``"c3d_v2"``); format: ``"keras"``, ``"fp32"``, ``"int8"``, ``"onnx"``...
        class_names: the output order.
        input_shape: one sample's shape without the batch axis, e.g. ``(16, 48, 48, 3)``.
        input_dtype, value_range: what the input holds (uint8 or float32 pixels in 0..255 for the clip models).
        extra: anything else worth keeping (quantisation parameters, the stack layout of a flow model).

    Returns:
        The card's path.
    """
    card = {"model": model, "format": format, "class_names": list(class_names),
            "input_shape": [int(d) for d in input_shape], "input_dtype": input_dtype,
            "value_range": [float(v) for v in value_range], **_plain(extra)}
    path = card_path(model_path)
    atomic_write_text(path, json.dumps(card, indent=2) + "\n")
    return path


def read_model_card(model_path: str | Path) -> dict[str, Any]:
    """The card of ``model_path``; a ``ValueError`` naming the file when it is missing or incomplete."""
    path = card_path(model_path)
    if not path.is_file():
        raise ValueError(f"{path}: no model card beside {Path(model_path).name} (written by export.* or "
                         "runs.write_model_card); it says which classes and which input the model has")
    card = json.loads(path.read_text())
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise ValueError(f"{path}: the model card lacks {missing}")
    return card


def _plain(value: Any) -> Any:
    """Convert NumPy scalars and containers to JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
