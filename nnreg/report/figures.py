"""The lecture's figures and the replicate statistics' as matplotlib figures, and their PNG bytes.

Figures are `matplotlib.figure.Figure` objects, not pyplot's: no backend to choose, no global
state, nothing to close."""

from __future__ import annotations

import io
import math
from typing import Mapping

from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter
import numpy as np

from nnreg.report.labels import fmt, method_name


def log_scale(ax, which: str, scale: str = "log", **kwargs) -> None:
    """`ax`'s x or y axis on a log (or symlog) scale, its ticks labelled in plain text (0.04,
    1e-05) where matplotlib's default labels are mathtext ($10^{-2}$): the same ticks, but the
    first mathtext label starts its parser, a large part of the report stage's time."""
    getattr(ax, f"set_{which}scale")(scale, **kwargs)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(LogFormatter())
    if scale == "log":
        axis.set_minor_formatter(LogFormatter(labelOnlyBase=False))


def data_figure(x_train, y_train, x_validate, y_validate):
    """The lecture's first figure: training (blue) and validation (red) scatter."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.scatter(x_train, y_train, alpha=0.5, label="training")
    ax.scatter(x_validate, y_validate, color="red", alpha=0.5, label="validation")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.tight_layout()
    return fig


def fits_figure(x_validate, y_validate, predictions: Mapping[str, np.ndarray], diverged: Mapping[str, bool]):
    """Each model's fit over the validation data, one panel a model, four panels a row."""
    n = len(predictions)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.6 * ncols, 3.0 * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True,
                        squeeze=False)
    for ax, (model, y_pred) in zip(axes.flat, predictions.items()):
        ax.scatter(x_validate, y_validate, color="red", alpha=0.4, s=8, label="validation data")
        ax.plot(x_validate, y_pred, color="black", label="fitted model")
        ax.set_title(method_name(model) + (" (diverged)" if diverged.get(model) else ""), fontsize=9)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("x")
    for ax in axes[:, 0]:
        ax.set_ylabel("y")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def loss_figure(histories: Mapping[str, Mapping[str, np.ndarray]]):
    """Per-epoch training (solid) and validation (dashed) MSE of every model, log scale."""
    fig = Figure(figsize=(11, 5))
    ax = fig.subplots()
    for i, (model, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        name = method_name(model)
        # Thinner lines for later models, so identical curves (hand GD, Optax SGD) both show.
        width = max(0.8, 3.0 - 0.3 * i)
        ax.plot(h["epoch"], h["train_loss"], color=color, linewidth=width, label=f"{name} training")
        ax.plot(h["epoch"], h["validate_loss"], color=color, linewidth=width, linestyle="--",
                label=f"{name} validation")
    log_scale(ax, "y")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    # Beside the axes, not over them: the early epochs fill the top of the plot.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return fig


def summary_figure(rows: list[dict]):
    """The summary table as an image, for `dvc plots show`."""
    header = ["Method", "Parameters", "Runtime (s)", "Training MSE", "Validation MSE"]
    cells = [
        [
            r["method"] + (" (diverged)" if r["diverged"] else ""),
            str(r["n_parameters"] or "n/a"),
            fmt(r["runtime_s"], 3),
            fmt(r["train_mse"], 6),
            fmt(r["validate_mse"], 6),
        ]
        for r in rows
    ]
    fig = Figure(figsize=(9, 0.4 * (len(rows) + 1) + 0.3))
    ax = fig.subplots()
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="left",
                     colWidths=[0.4, 0.12, 0.14, 0.17, 0.17])
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)
    fig.tight_layout()
    return fig


def seeds_figure(replicates: Mapping[str, np.ndarray], single: Mapping[str, float | None], noise: float):
    """Validation MSE of every replicate, one strip a model (ranked by mean), the single-seed
    value (the lecture's data and init) marked, and the noise floor."""
    order = sorted(replicates, key=lambda m: np.nanmean(replicates[m]) if np.isfinite(replicates[m]).any() else np.inf)
    fig = Figure(figsize=(max(6.0, 1.1 * len(order) + 2), 4.5))
    ax = fig.subplots()
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, size=max((len(v) for v in replicates.values()), default=0))
    for i, m in enumerate(order):
        v = np.asarray(replicates[m], dtype=float)
        ax.scatter(i + jitter[: len(v)], v, s=12, alpha=0.55, color=f"C{i % 10}")
        finite = v[np.isfinite(v)]
        if finite.size:
            ax.plot([i - 0.3, i + 0.3], [finite.mean()] * 2, color="black", linewidth=1.5,
                    label="mean over replicates" if i == 0 else None)
        if single.get(m) is not None:
            ax.scatter([i], [single[m]], marker="D", s=45, color="red", zorder=3,
                       label="single seed (lecture's data and init)" if i == 0 else None)
    ax.axhline(noise**2, color="grey", linestyle=":", label=f"noise floor {noise**2:.3f}")
    ax.set_xticks(range(len(order)), [method_name(m) for m in order], rotation=25, ha="right", fontsize=8)
    log_scale(ax, "y")
    ax.set_ylabel("validation MSE")
    title = f"{max((len(v) for v in replicates.values()), default=0)} replicates per model"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")  # the best models (left) sit low: the corner is empty
    fig.tight_layout()
    return fig


def differences_figure(compare: Mapping[str, dict], baseline: str):
    """Each model's mean paired difference from the baseline with its 95 % CI; colour by verdict."""
    models = sorted(compare, key=lambda m: (compare[m]["mean_diff"] is None, compare[m]["mean_diff"] or 0.0))
    colors = {"better": "tab:green", "worse": "tab:red", "no detectable difference": "tab:grey"}
    fig = Figure(figsize=(7.5, 0.45 * len(models) + 1.4))
    ax = fig.subplots()
    for i, m in enumerate(models):
        c = compare[m]
        if c["mean_diff"] is None:
            continue
        low = c["mean_diff"] - (c["ci_low"] if c["ci_low"] is not None else c["mean_diff"])
        high = (c["ci_high"] if c["ci_high"] is not None else c["mean_diff"]) - c["mean_diff"]
        ax.errorbar([c["mean_diff"]], [i], xerr=[[low], [high]], fmt="o", capsize=4, color=colors[c["verdict"]])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(models)), [method_name(m) for m in models], fontsize=8)
    log_scale(ax, "x", "symlog", linthresh=1e-4)
    ax.set_xlabel(f"validation MSE minus {method_name(baseline)}'s, paired by replicate (95 % CI)")
    for verdict, color in colors.items():
        ax.scatter([], [], color=color, label=verdict)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def sweep_figure(tables: Mapping[str, list[dict]], best: Mapping[str, dict]):
    """Mean validation MSE against learning rate (log-log), a 95 % CI band, diverged cells marked."""
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    for i, (m, rows) in enumerate(tables.items()):
        color = f"C{i % 10}"
        lr = np.array([r["learning_rate"] for r in rows])
        mean = np.array([np.nan if r["validate_mse_mean"] is None else r["validate_mse_mean"] for r in rows])
        low = np.array([np.nan if r["ci_low"] is None else r["ci_low"] for r in rows])
        high = np.array([np.nan if r["ci_high"] is None else r["ci_high"] for r in rows])
        frac = np.array([r["diverged_fraction"] for r in rows])
        ax.plot(lr, mean, "o-", color=color, label=method_name(m), markersize=4)
        ax.fill_between(lr, low, high, color=color, alpha=0.2, linewidth=0)
        bad = frac > 0
        if bad.any():
            top = np.nanmax(np.concatenate([mean, high])) if np.isfinite(mean).any() else 1.0
            ax.scatter(lr[bad], np.full(bad.sum(), top * 1.5), marker="x", color=color, s=40,
                       label=f"{method_name(m)}: some replicates diverged")
        b = best.get(m, {})
        if b.get("best_learning_rate") is not None:
            ax.scatter([b["best_learning_rate"]], [b["best_validate_mse"]], marker="*", s=160, color=color,
                       edgecolor="black", zorder=3)
    log_scale(ax, "x")
    log_scale(ax, "y")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation MSE (mean over replicates)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def png_bytes(fig) -> bytes:
    """PNG bytes of a figure, without the metadata that would change between runs; closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def search_figure(trial: np.ndarray, score: np.ndarray, state: np.ndarray, best_so_far: np.ndarray):
    """Every trial's search score (grey: pruned at an earlier rung) and the best complete so far."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    finite = np.isfinite(score)
    pruned = state == "pruned"
    ax.scatter(trial[finite & pruned], score[finite & pruned], s=8, color="0.7", label="pruned (score at its last rung)")
    ax.scatter(trial[finite & ~pruned], score[finite & ~pruned], s=12, color="tab:blue", label="complete")
    shown = np.isfinite(best_so_far)
    ax.step(trial[shown], best_so_far[shown], where="post", color="black", label="best complete so far")
    log_scale(ax, "y")
    ax.set_xlabel("trial")
    ax.set_ylabel("search score: mean validation MSE")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
