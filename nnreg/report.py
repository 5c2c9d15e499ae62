"""The lecture's figures and summary table, from the pipeline's small outputs.

Functions here return matplotlib figures, rows and text; the report stage saves them.
"""

from __future__ import annotations

import io
import math
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnreg import METHOD_NAMES  # noqa: E402

# The lecture's published MSEs (a Colab GPU), shown beside ours.
LECTURE_TABLE = {
    "keras": {"train_mse": 0.040176, "validate_mse": 0.044817},
    "gd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_sgd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_adam": {"train_mse": 0.035879, "validate_mse": 0.040869},
}


def summary_rows(metrics: Mapping[str, dict], timings: Mapping[str, dict]) -> list[dict]:
    """One row per model: method, runtime, compile time, device, training and validation MSE."""
    rows = []
    for model, m in metrics.items():
        t = timings.get(model, {})
        rows.append(
            {
                "model": model,
                "method": METHOD_NAMES.get(model, model),
                "runtime_s": t.get("runtime_s"),
                "compile_s": t.get("compile_s"),
                "device": t.get("device"),
                "train_mse": m.get("train_mse"),
                "validate_mse": m.get("validate_mse"),
                "diverged": bool(m.get("diverged", False)),
                "first_nonfinite_epoch": m.get("first_nonfinite_epoch"),
            }
        )
    return rows


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def summary_markdown(rows: list[dict]) -> str:
    """The lecture's table (method, runtime, training and validation MSE), plus compile time,
    device, and the lecture's published MSEs beside ours."""
    lines = [
        "| Method | Runtime (s) | Compile (s) | Device | Training MSE | Validation MSE "
        "| Lecture: training | Lecture: validation |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        flag = f" **diverged at epoch {r['first_nonfinite_epoch']}**" if r["diverged"] else ""
        lecture = LECTURE_TABLE.get(r["model"], {})
        lines.append(
            f"| {r['method']}{flag} | {_fmt(r['runtime_s'], 3)} | {_fmt(r['compile_s'], 3)} | {r['device'] or 'n/a'} "
            f"| {_fmt(r['train_mse'], 6)} | {_fmt(r['validate_mse'], 6)} "
            f"| {_fmt(lecture.get('train_mse'), 6)} | {_fmt(lecture.get('validate_mse'), 6)} |"
        )
    return "\n".join(lines) + "\n"


def data_figure(x_train, y_train, x_validate, y_validate):
    """The lecture's first figure: training (blue) and validation (red) scatter."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x_train, y_train, alpha=0.5, label="training")
    ax.scatter(x_validate, y_validate, color="red", alpha=0.5, label="validation")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.tight_layout()
    return fig


def fits_figure(x_validate, y_validate, predictions: Mapping[str, np.ndarray], diverged: Mapping[str, bool]):
    """Each model's fit over the validation data, one panel a model."""
    n = len(predictions)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.5), sharey=True, squeeze=False)
    for ax, (model, y_pred) in zip(axes[0], predictions.items()):
        ax.scatter(x_validate, y_validate, color="red", alpha=0.4, s=10, label="validation data")
        ax.plot(x_validate, y_pred, color="black", label="fitted model")
        title = METHOD_NAMES.get(model, model)
        ax.set_title(title + (" (diverged)" if diverged.get(model) else ""), fontsize=10)
        ax.set_xlabel("x")
    axes[0][0].set_ylabel("y")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def loss_figure(histories: Mapping[str, Mapping[str, np.ndarray]]):
    """Per-epoch training (solid) and validation (dashed) MSE of every model, log scale."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (model, h) in enumerate(histories.items()):
        color = f"C{i}"
        name = METHOD_NAMES.get(model, model)
        # Thinner lines for later models, so identical curves (hand GD, Optax SGD) both show.
        width = 3.0 - 0.6 * i
        ax.plot(h["epoch"], h["train_loss"], color=color, linewidth=width, label=f"{name} training")
        ax.plot(h["epoch"], h["validate_loss"], color=color, linewidth=width, linestyle="--",
                label=f"{name} validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary_figure(rows: list[dict]):
    """The summary table as an image, for `dvc plots show`."""
    header = ["Method", "Runtime (s)", "Training MSE", "Validation MSE"]
    cells = [
        [
            r["method"] + (" (diverged)" if r["diverged"] else ""),
            _fmt(r["runtime_s"], 3),
            _fmt(r["train_mse"], 6),
            _fmt(r["validate_mse"], 6),
        ]
        for r in rows
    ]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * (len(rows) + 1) + 0.3))
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="left",
                     colWidths=[0.4, 0.2, 0.2, 0.2])
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)
    fig.tight_layout()
    return fig


def png_bytes(fig) -> bytes:
    """PNG bytes of a figure, without the metadata that would change between runs; closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
