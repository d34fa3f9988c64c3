"""Figures of language identification: a confusion matrix of true against predicted languages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .style import GREY, figure_function

__all__ = ["plot_confusion_matrix"]


# --- 8. language identification: confusion matrix -----------------------------------------------------------


@figure_function
def plot_confusion_matrix(
    matrix: Any, labels: Sequence[str] | None = None, predicted_labels: Sequence[str] | None = None, title: str = ""
) -> Figure:
    """Counts of true (rows) vs predicted (columns) labels, coloured by row share, with accuracy per row.

    `matrix` is a 2-D array/list or a DataFrame (e.g. ``pd.crosstab(true, predicted)``, whose index and
    columns give the labels). `predicted_labels` default to `labels` (square matrix).
    """
    what = "plot_confusion_matrix"
    if hasattr(matrix, "columns") and hasattr(matrix, "index"):
        labels = list(map(str, matrix.index)) if labels is None else labels
        predicted_labels = list(map(str, matrix.columns)) if predicted_labels is None else predicted_labels
        matrix = matrix.to_numpy()
    counts = np.asarray(matrix, dtype=float)
    if counts.size == 0:
        raise ValueError(f"{what}: the matrix is empty; pass counts of true (rows) vs predicted (columns) labels")
    if counts.ndim != 2:
        raise ValueError(f"{what}: the matrix must be 2-D (true × predicted), got shape {counts.shape}")
    if labels is None:
        raise ValueError(f"{what}: pass labels (one per row), e.g. the language codes")
    labels = [str(label) for label in labels]
    predicted_labels = labels if predicted_labels is None else [str(label) for label in predicted_labels]
    if len(labels) != counts.shape[0] or len(predicted_labels) != counts.shape[1]:
        raise ValueError(f"{what}: matrix has shape {counts.shape} but there are {len(labels)} row labels and "
                         f"{len(predicted_labels)} column labels")
    totals = counts.sum(axis=1)
    shares = np.divide(counts, totals[:, None], out=np.zeros_like(counts), where=totals[:, None] > 0)
    correct = np.array([counts[i, predicted_labels.index(lab)] if lab in predicted_labels else 0.0
                        for i, lab in enumerate(labels)])

    n_rows, n_cols = counts.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 + 0.62 * n_cols + 1.6), max(3.2, 1.5 + 0.62 * n_rows)),
                           layout="constrained")
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1.15, aspect="equal")
    ax.grid(False)
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(True, which="minor", color="white", lw=2, alpha=1)
    ax.tick_params(which="minor", length=0)
    for i in range(n_rows):
        for j in range(n_cols):
            if counts[i, j]:
                ax.text(j, i, f"{counts[i, j]:g}", ha="center", va="center", fontsize=10, gid="count",
                        color="white" if shares[i, j] > 0.55 else "#222222")
    ax.set_xticks(range(n_cols), predicted_labels)
    ax.set_yticks(range(n_rows), labels)
    ax.set(xlabel="predicted", ylabel="true")
    ax.tick_params(axis="x", labeltop=True, labelbottom=False, top=True, bottom=False)
    ax.xaxis.set_label_position("top")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(n_cols - 0.5 + 0.25, -0.5, "accuracy", va="bottom", ha="left", fontsize=9, color=GREY)
    for i in range(n_rows):
        accuracy = f"{correct[i] / totals[i]:.0%} ({correct[i]:g}/{totals[i]:g})" if totals[i] else "n/a"
        ax.text(n_cols - 0.5 + 0.25, i, accuracy, va="center", ha="left", fontsize=9, clip_on=False, gid="accuracy")
    overall = correct.sum() / totals.sum() if totals.sum() else float("nan")
    ax.set_title(title or f"Language identification: {overall:.0%} correct ({correct.sum():g}/{totals.sum():g})",
                 pad=12)
    return fig
