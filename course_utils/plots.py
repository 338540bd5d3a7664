"""Figures shared by the notebooks (matplotlib/seaborn); each returns its Figure."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .config import Config


def save_figure(fig: plt.Figure, cfg: Config, name: str) -> Path:
    """Save under a stable name in the run's figures folder and return the path."""
    path = cfg.figures_dir / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
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


def frame_grid(rows: Sequence[tuple[str, np.ndarray]], count: int = 6) -> plt.Figure:
    """One row per (label, clip): ``count`` evenly spaced frames, the label on the left."""
    fig, axes = plt.subplots(len(rows), count, figsize=(1.35 * count, 1.35 * len(rows)), squeeze=False)
    for (label, frames), row in zip(rows, axes):
        for ax, index in zip(row, np.linspace(0, len(frames) - 1, count).round().astype(int)):
            ax.imshow(frames[index])
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    for ax, index in zip(axes[0], np.linspace(0, 1, count)):
        ax.set_title(f"{index:.0%} of clip", fontsize=7)
    fig.tight_layout(pad=0.2)
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


def distributions(frame: pd.DataFrame, columns: Sequence[str], titles: Sequence[str]) -> plt.Figure:
    """One histogram per manifest column (e.g. duration, fps, width)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(3.4 * len(columns), 2.8))
    for ax, column, title in zip(np.atleast_1d(axes), columns, titles):
        values = frame[column].dropna()
        bins = min(30, max(1, values.nunique()))
        ax.hist(values, bins=bins, color="tab:blue", edgecolor="white")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("clips")
    fig.tight_layout()
    return fig


def per_class_curves(curves: dict[str, np.ndarray], xlabel: str, ylabel: str, ncols: int = 7) -> plt.Figure:
    """Small multiples: one curve (mean over clips, with a band of +-1 std) per class."""
    names = list(curves)
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 1.6 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = np.asarray(curves[name])
        mean, std = values.mean(axis=0), values.std(axis=0)
        x = np.linspace(0, 1, len(mean))
        ax.plot(x, mean, color="tab:red")
        ax.fill_between(x, mean - std, mean + std, color="tab:red", alpha=0.2)
        ax.set_title(name, fontsize=8)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.supxlabel(xlabel, fontsize=9)
    fig.supylabel(ylabel, fontsize=9)
    fig.tight_layout()
    return fig


def accuracy_bars(table: pd.DataFrame, chance: float | None = None, title: str = "") -> plt.Figure:
    """Grouped bars of accuracies (rows: what is scored, columns: probes), with a chance line."""
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(table)), 3.2))
    table.plot.bar(ax=ax, width=0.75, rot=0)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", linewidth=1, label="chance")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
