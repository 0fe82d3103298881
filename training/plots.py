"""Matplotlib figures rendered to PNG bytes (embedded in HTML, saved next to Markdown)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STANCE_COLOURS = {"cooperative": "#2a9d8f", "adversarial": "#e76f51", "neutral": "#adb5bd",
                  "positive": "#2a9d8f", "negative": "#e76f51"}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def confusion_matrix_png(matrix: np.ndarray, labels: list[str], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{matrix[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center",
                    color="white" if shares[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def reliability_png(probs: np.ndarray, targets: np.ndarray, title: str, bins: int = 10) -> bytes:
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    centres, accuracy, counts = [], [], []
    for b in range(bins):
        mask = which == b
        if mask.any():
            centres.append(confidence[mask].mean())
            accuracy.append(correct[mask].mean())
            counts.append(mask.sum())
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    ax.plot([0, 1], [0, 1], "--", color="#999", lw=1, label="perfect calibration")
    ax.plot(centres, accuracy, "o-", color="#264653", label="model")
    for x, y, n in zip(centres, accuracy, counts, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def stacked_shares_png(names: list[str], shares: dict[str, list[float]], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(names) + 1.2))
    left = np.zeros(len(names))
    for label, values in shares.items():
        ax.barh(names, values, left=left, color=STANCE_COLOURS.get(label), label=label)
        left += np.array(values)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of rows")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=len(shares), loc="lower right")
    return _png(fig)


def time_series_png(periods: list[str], series: dict[str, list[float]], title: str, ylabel: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for label, values in series.items():
        ax.plot(periods, values, "o-", color=STANCE_COLOURS.get(label), label=label)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig)


def heatmap_png(names: list[str], matrix: np.ndarray, title: str) -> bytes:
    """Actor-by-actor matrix, source rows and target columns, diverging around zero."""
    fig, ax = plt.subplots(figsize=(0.45 * len(names) + 2.5, 0.45 * len(names) + 2))
    limit = max(float(np.abs(matrix).max()), 1.0)
    image = ax.imshow(matrix, cmap="RdYlGn", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.7, label="cooperative minus adversarial")
    return _png(fig)
