"""Figures shared by the notebooks (matplotlib/seaborn); each returns its Figure."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from .config import Config
from .jobs import atomic_write_bytes


DPI = 100
MAX_PNG_BYTES = 400_000
"""A figure whose full-colour PNG would be larger is stored with a 256-colour palette (frame
grids of noisy video frames compress badly; plots of lines never come near this)."""


def save_figure(fig: plt.Figure, cfg: Config, name: str, dpi: int = DPI) -> Path:
    """Save under a stable name in the run's figures folder and return the path.

    The same figure gives the same bytes on every run (no timestamp in the file).
    """
    path = cfg.figures_dir / f"{name}.png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    data = buffer.getvalue()
    if len(data) > MAX_PNG_BYTES:
        buffer = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(
            buffer, format="png", optimize=True)
        data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return path


def frame_strip(frames: np.ndarray, count: int = 8, title: str | None = None,
                indices: Sequence[int] | None = None) -> plt.Figure:
    """``count`` evenly spaced frames of one clip in a row, labelled with their index."""
    indices = list(indices) if indices is not None else np.linspace(0, len(frames) - 1, count).round().astype(int)
    fig, axes = plt.subplots(1, len(indices), figsize=(1.6 * len(indices), 1.9))
    for ax, index in zip(np.atleast_1d(axes), indices):
        ax.imshow(frames[index], cmap="gray" if frames.ndim == 3 else None)
        ax.set_title(f"t={index}", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def frame_grid(rows: Sequence[tuple[str, np.ndarray]], count: int = 6, cell: float = 1.0) -> plt.Figure:
    """One row per (label, clip): ``count`` evenly spaced frames, the label on the left.

    Clips may differ in length and shape: each row samples its own frames, and a frame keeps
    its aspect ratio inside its cell (a 16:9 clip looks wide, a square one square). ``cell``
    is the size of a cell in inches; at the default 100 dpi, 1.0 shows a 96 px frame at its own size.
    """
    fig, axes = plt.subplots(len(rows), count, figsize=(cell * count + 1.4, cell * 0.8 * len(rows)),
                             squeeze=False)
    for (label, frames), row in zip(rows, axes):
        for ax, index in zip(row, np.linspace(0, len(frames) - 1, count).round().astype(int)):
            ax.imshow(frames[index], interpolation="nearest")
            ax.set_axis_off()
        row[0].text(-0.08, 0.5, label, transform=row[0].transAxes, ha="right", va="center", fontsize=7)
    for ax, where in zip(axes[0], np.linspace(0, 1, count)):
        ax.set_title(f"{where:.0%} of clip", fontsize=7)
    fig.subplots_adjust(left=1.4 / (cell * count + 1.4), right=0.995, top=0.96, bottom=0.005,
                        wspace=0.04, hspace=0.12)
    return fig


def count_bars(frame: pd.DataFrame, by: str = "label", hue: str = "split") -> plt.Figure:
    """Clips per ``by`` value, stacked by ``hue``."""
    table = frame.groupby([by, hue]).size().unstack(fill_value=0)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(table)), 3.2))
    table.plot.bar(stacked=True, ax=ax, width=0.8)
    ax.set_ylabel("clips")
    ax.set_xlabel("")
    ax.legend(title=hue, fontsize=8)
    fig.tight_layout()
    return fig


def distributions(frame: pd.DataFrame, columns: Sequence[str], titles: Sequence[str],
                  max_categories: int = 8) -> plt.Figure:
    """One panel per manifest column: a histogram of a spread-out column (e.g. duration), or
    bars of the values with their counts when it takes few values (e.g. frame rates, sizes).

    A column of text (such as ``"128x96"``) is always drawn as bars.
    """
    fig, axes = plt.subplots(1, len(columns), figsize=(3.3 * len(columns), 2.7), squeeze=False)
    for ax, column, title in zip(axes[0], columns, titles):
        values = frame[column].dropna()
        numeric = pd.api.types.is_numeric_dtype(values)
        if not numeric or values.nunique() <= max_categories:
            counts = values.value_counts().sort_index()
            labels = [f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in counts.index]
            ax.bar(range(len(counts)), counts.to_numpy(), color="tab:blue", width=0.7)
            ax.set_xticks(range(len(counts)), labels, rotation=30 if len(counts) > 3 else 0, fontsize=8)
            for x, n in enumerate(counts.to_numpy()):
                ax.text(x, n, str(n), ha="center", va="bottom", fontsize=7)
            ax.margins(y=0.15)
        else:
            ax.hist(values, bins=min(30, values.nunique()), color="tab:blue", edgecolor="white")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("clips")
    fig.tight_layout()
    return fig


def per_class_curves(curves: dict[str, np.ndarray], xlabel: str, ylabel: str, ncols: int = 7,
                     overlays: dict[str, Sequence[str]] | None = None) -> plt.Figure:
    """Small multiples: one curve (mean over clips, with a band of +-1 std) per class.

    ``curves`` maps a class to its clips' curves ``(clips, points)`` over normalised time.
    ``overlays`` adds panels that draw the mean curves of a few classes on the same axes
    (``{"title": ["sit_down", "stand_up"]}``), to compare them directly, each on its own scale
    (the class panels share one).
    """
    overlays = dict(overlays or {})
    names = list(curves)
    panels = len(names) + len(overlays)
    nrows = int(np.ceil(panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 1.55 * nrows + 0.5), sharex=True,
                             squeeze=False, layout="constrained")
    flat = list(axes.flat)
    for k, ax in enumerate(flat[1:len(names)], start=1):  # the classes share one scale; an overlay its own
        ax.sharey(flat[0])
        if k % ncols:
            ax.tick_params(labelleft=False)
    for ax, name in zip(flat, names):
        values = np.asarray(curves[name])
        mean, std = values.mean(axis=0), values.std(axis=0)
        x = np.linspace(0, 1, len(mean))
        ax.plot(x, mean, color="tab:red")
        ax.fill_between(x, mean - std, mean + std, color="tab:red", alpha=0.2)
        ax.set_title(name, fontsize=8)
    for ax, (title, members) in zip(flat[len(names):], overlays.items()):
        for k, name in enumerate(members):
            mean = np.asarray(curves[name]).mean(axis=0)
            ax.plot(np.linspace(0, 1, len(mean)), mean, color=f"C{k}", label=name)
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=6, loc="upper right", frameon=False)
    for ax in flat[panels:]:
        ax.set_axis_off()
    for ax in flat:
        ax.tick_params(labelsize=7)
    fig.supxlabel(xlabel, fontsize=9)
    fig.supylabel(ylabel, fontsize=9)
    return fig


def accuracy_bars(table: pd.DataFrame, chance: float | None = None, title: str = "") -> plt.Figure:
    """Grouped bars of accuracies (rows: what is scored, columns: probes), with a chance line."""
    table = table.copy()
    table.columns = [" · ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in table.columns]
    table.index = [str(i).replace(" / ", "\n/ ") for i in table.index]  # long pair names on two lines
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(table), 0.3 * table.size + 1.5), 3.2))
    table.plot.bar(ax=ax, width=0.8, rot=0)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", linewidth=1, label="chance")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def training_curves(histories: dict[str, dict[str, Sequence[float]]], metrics: Sequence[str] = ("loss", "accuracy")) -> plt.Figure:
    """Training (solid) and validation (dashed) curves per epoch of several runs, one panel per metric.

    ``histories``: run name -> a Keras history dict (``TrainResult.history``)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.2))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        for color, (name, history) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], histories.items()):
            epochs = np.arange(1, len(history[metric]) + 1)
            ax.plot(epochs, history[metric], color=color, marker="o", markersize=3, label=f"{name} train")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], color=color, marker="o", markersize=3, linestyle="--",
                        label=f"{name} val")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def weight_curves(curves: dict[str, tuple[dict[float, float], float]], reference: float | None = None,
                  reference_label: str = "") -> plt.Figure:
    """Validation accuracy of weighted fusions against the weight of the second stream,
    ``{name: ({weight: accuracy}, chosen weight)}``, each chosen weight marked (and a
    ``reference`` weight, e.g. a paper's)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    for color, (name, (curve, chosen)) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], curves.items()):
        weights = sorted(curve)
        ax.plot(weights, [curve[w] for w in weights], color=color, marker="o", markersize=3, label=name)
        ax.axvline(chosen, color=color, linestyle="--", linewidth=1, label=f"chosen: w = {chosen:.2f}")
    if reference is not None:
        ax.axvline(reference, color="gray", linestyle=":", label=reference_label or f"w = {reference:.2f}")
    ax.set_xlabel("w (0: spatial only, 1: temporal only)")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def timeline_figure(rows: dict[str, np.ndarray], class_names: Sequence[str], fps: float,
                    boundaries: Sequence[int] = ()) -> plt.Figure:
    """Label timelines one above the other (e.g. the truth, then each method's shown labels):
    ``rows`` maps a name to per-frame class indices (-1: no label), each run of one label a bar in
    that class's colour, named where it is wide enough; dotted lines at the true ``boundaries``."""
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.0))
    for y, labels in enumerate(reversed(list(rows.values()))):
        labels = np.asarray(labels)
        change = np.flatnonzero(np.diff(labels)) + 1
        for start, end in zip([0, *change], [*change, len(labels)]):
            label = int(labels[start])
            if label < 0:
                continue
            ax.broken_barh([(start / fps, (end - start) / fps)], (y - 0.4, 0.8), color=colors[label % 20],
                           edgecolor="white", linewidth=0.5)
            if (end - start) / len(labels) > 0.06:
                ax.text((start + end) / 2 / fps, y, class_names[label].replace("_", " "), ha="center", va="center",
                        fontsize=7)
    for frame in boundaries:
        ax.axvline(frame / fps, color="black", linestyle=":", linewidth=0.8)
    shown = sorted({int(v) for labels in rows.values() for v in np.unique(labels) if v >= 0})
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colors[i % 20]) for i in shown],
              labels=[class_names[i].replace("_", " ") for i in shown], fontsize=7, ncol=min(len(shown), 7),
              loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False)
    ax.set_yticks(range(len(rows)), list(reversed(list(rows))), fontsize=8)
    ax.set_xlim(0, max(len(r) for r in rows.values()) / fps)
    ax.set_xlabel("time in the stream (s)")
    fig.tight_layout()
    return fig


def save_gif(frames: Sequence[np.ndarray], cfg: Config, name: str, fps: float = 10.0) -> Path:
    """Write RGB uint8 frames as a looping GIF (one shared palette) under a stable name in the
    run's figures folder and return its path."""
    images = [Image.fromarray(np.asarray(f)) for f in frames]
    palette = images[len(images) // 2].quantize(256, method=Image.Quantize.MEDIANCUT)
    images = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    buffer = io.BytesIO()
    images[0].save(buffer, format="gif", save_all=True, append_images=images[1:], duration=round(1000 / fps),
                   loop=0, optimize=True)
    path = cfg.figures_dir / f"{name}.gif"
    atomic_write_bytes(path, buffer.getvalue())
    return path
