"""The lecture's figures and tables, the exercise's, and the replicate statistics, from the
pipeline's small outputs.

Functions here return matplotlib figures, rows and text; the report stage saves them.
"""

from __future__ import annotations

import io
import math
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnreg import method_name  # noqa: E402

# The lecture's published MSEs (a Colab GPU), shown beside ours.
LECTURE_TABLE = {
    "keras": {"train_mse": 0.040176, "validate_mse": 0.044817},
    "gd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_sgd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_adam": {"train_mse": 0.035879, "validate_mse": 0.040869},
}

# The validation MSEs of the lecture's Exercise 23.1 solution (one seed: data 14, init 1234).
LECTURE_EXERCISE = {
    "optax_adam": 0.0408687,
    "deep": 0.041686,
    "deep_schedule": 0.041633,
    "deep_schedule_l2": 0.040845,
    "adam_l2": 0.040959,
}


def summary_rows(metrics: Mapping[str, dict], timings: Mapping[str, dict]) -> list[dict]:
    """One row per model: method, runtime, compile time, device, parameters, training, validation and true MSE."""
    rows = []
    for model, m in metrics.items():
        t = timings.get(model, {})
        rows.append(
            {
                "model": model,
                "method": method_name(model),
                "runtime_s": t.get("runtime_s"),
                "compile_s": t.get("compile_s"),
                "device": t.get("device"),
                "n_parameters": m.get("n_parameters"),
                "train_mse": m.get("train_mse"),
                "validate_mse": m.get("validate_mse"),
                "true_mse": m.get("true_mse"),
                "diverged": bool(m.get("diverged", False)),
                "first_nonfinite_epoch": m.get("first_nonfinite_epoch"),
            }
        )
    return rows


def _fmt(value, digits: int, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _table(header: Sequence[str], align: str, rows: list[list[str]]) -> str:
    """A Markdown table; `align` has one letter a column: l(eft) or r(ight)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _flag(r: dict) -> str:
    return f" **diverged at epoch {r['first_nonfinite_epoch']}**" if r["diverged"] else ""


def _lecture_note(rows: list[dict], published: Mapping, differences: Mapping[str, Sequence[str]]) -> tuple[bool, str]:
    """Whether to show the lecture's columns (some row has the lecture's params and a published
    number), and a note naming the params that make the other rows incomparable."""
    comparable = [r for r in rows if r["model"] in published and not differences.get(r["model"])]
    differ = sorted({k for r in rows if r["model"] in published for k in differences.get(r["model"], ())})
    if not differ:
        return bool(comparable), ""
    where = "blank where" if comparable else "left out, since"
    return bool(comparable), (f"\nThe lecture's columns are {where} the params differ from the lecture's "
                              f"({', '.join(differ)}): its numbers are not comparable there.\n")


def summary_markdown(rows: list[dict], differences: Mapping[str, Sequence[str]] = {}) -> str:
    """The lecture's table (method, runtime, training and validation MSE), plus compile time,
    device, the MSE against the true function, and the lecture's published MSEs beside ours
    for each model whose params are the lecture's (`differences`: model -> the params that differ)."""
    show, note = _lecture_note(rows, LECTURE_TABLE, differences)
    body = []
    for r in rows:
        lecture = {} if differences.get(r["model"]) else LECTURE_TABLE.get(r["model"], {})
        body.append([f"{r['method']}{_flag(r)}", _fmt(r["runtime_s"], 3), _fmt(r["compile_s"], 3), r["device"] or "n/a",
                     _fmt(r["train_mse"], 6), _fmt(r["validate_mse"], 6), _fmt(r["true_mse"], 6)]
                    + ([_blank(lecture.get("train_mse")), _blank(lecture.get("validate_mse"))] if show else []))
    header = ["Method", "Runtime (s)", "Compile (s)", "Device", "Training MSE", "Validation MSE", "True MSE"]
    if show:
        header += ["Lecture: training", "Lecture: validation"]
    return _table(header, "lrrlrrrrr"[: len(header)], body) + note


def _blank(value) -> str:
    return "" if value is None else _fmt(value, 6)


def exercise_markdown(rows: list[dict], baseline: dict, differences: Mapping[str, Sequence[str]] = {}) -> str:
    """Exercise 23.1's table: strategy, parameters, runtime, validation MSE, improvement over
    the baseline (baseline minus strategy, positive is better, as the lecture counts it), and
    the lecture's number where the params are the lecture's."""
    ordered = [baseline] + [r for r in rows if r["model"] != baseline["model"]]
    show, note = _lecture_note(ordered, LECTURE_EXERCISE, differences)
    body = []
    for r in ordered:
        improvement = (None if r["validate_mse"] is None or baseline["validate_mse"] is None
                       else baseline["validate_mse"] - r["validate_mse"])
        name = f"Baseline ({r['method']})" if r is baseline else r["method"]
        lecture = None if differences.get(r["model"]) else LECTURE_EXERCISE.get(r["model"])
        body.append([f"{name}{_flag(r)}", str(r["n_parameters"] or "n/a"), _fmt(r["runtime_s"], 3),
                     _fmt(r["validate_mse"], 6), _fmt(improvement, 6, signed=True)]
                    + ([_blank(lecture)] if show else []))
    header = ["Strategy", "Parameters", "Runtime (s)", "Validation MSE", "Improvement"]
    if show:
        header.append("Lecture: validation")
    return _table(header, "lrrrrr"[: len(header)], body) + note


def seeds_rows(seeds: Mapping[str, dict], compare: Mapping[str, dict], single: Mapping[str, dict],
               n_parameters: Mapping[str, int | None]) -> list[dict]:
    """One row per model over the replicates, ranked by mean validation MSE."""
    rows = []
    for model, s in seeds.items():
        v, t = s.get("validate_mse") or {}, s.get("true_mse") or {}
        rows.append({"model": model, "method": method_name(model), "n_parameters": n_parameters.get(model),
                     "n_replicates": s["n_replicates"], "n_diverged": s["n_diverged"],
                     "validate_mse": v, "true_mse": t, "single_seed_validate_mse": single.get(model),
                     **{"vs_baseline": compare.get(model)}})
    return sorted(rows, key=lambda r: (r["validate_mse"].get("mean") is None,
                                       r["validate_mse"].get("mean") or 0.0))


def seeds_markdown(rows: list[dict], baseline: str, noise: float, n_compared: int) -> str:
    """The ranked table that answers the exercise over replicates, with the noise floor."""
    body = []
    rank = 0
    for r in rows:
        rank += 1
        v, t, c = r["validate_mse"], r["true_mse"], r["vs_baseline"]
        ci = f"[{_fmt(v.get('ci_low'), 6)}, {_fmt(v.get('ci_high'), 6)}]"
        if c is None:
            versus = ["baseline", "", "", ""]
        else:
            versus = [f"{_fmt(c['mean_diff'], 6, signed=True)} [{_fmt(c['ci_low'], 6, True)}, {_fmt(c['ci_high'], 6, True)}]",
                      _fmt(c["win_rate"] * 100 if c["win_rate"] is not None else None, 0) + " %",
                      "n/a" if c["p_value"] is None else f"{c['p_value']:.2g}", c["verdict"]]
        body.append([str(rank), r["method"], str(r["n_parameters"] or "n/a"), _fmt(v.get("mean"), 6), ci,
                     _fmt(v.get("median"), 6), _fmt(t.get("mean"), 6), f"{r['n_diverged']}/{r['n_replicates']}",
                     *versus])
    table = _table(["Rank", "Model", "Parameters", "Validation MSE: mean", "95 % CI", "median", "True MSE: mean",
                    "Diverged", f"Paired difference from {baseline} [95 % CI]", "Lower on", "p (Bonferroni)",
                    "Verdict"], "rlrrrrrrrrrl", body)
    return (table + f"\nNoise floor: validation MSE cannot fall below noise² = {noise**2:.6f} on average "
            f"(the true function's own validation MSE); true MSE measures the fit against sqrt(x) + sin(x) "
            f"directly. p: paired t-test on the replicates where both models stayed finite, times {n_compared} "
            f"(Bonferroni); the verdict is `better` or `worse` when p < 0.05.\n")


def sweep_markdown(tables: Mapping[str, list[dict]], best: Mapping[str, dict]) -> str:
    """Mean validation MSE per learning rate (rows) and swept model (columns); diverged cells marked."""
    models = list(tables)
    rates = sorted({r["learning_rate"] for rows in tables.values() for r in rows})
    body = []
    for lr in rates:
        cells = [f"{lr:g}"]
        for m in models:
            row = next((r for r in tables[m] if r["learning_rate"] == lr), None)
            if row is None:
                cells.append("")
                continue
            cell = _fmt(row["validate_mse_mean"], 6)
            if row["diverged_fraction"] > 0:
                cell += f" ({row['diverged_fraction']:.0%} diverged)"
            if best.get(m, {}).get("best_learning_rate") == lr:
                cell = f"**{cell}**"
            cells.append(cell)
        body.append(cells)
    return _table(["Learning rate", *(method_name(m) for m in models)], "r" * (1 + len(models)), body)


def thinned_epochs(epochs: int, n: int = 200) -> np.ndarray:
    """About `n` epochs (counted from 1), log-spaced, always with the first and the last: enough
    for a loss curve on the plots page, where all 4,000 per model made the page 6 MB."""
    if epochs <= n:
        return np.arange(1, epochs + 1)
    return np.unique(np.round(np.geomspace(1, epochs, num=n)).astype(int))


def losses_long(histories: Mapping[str, Mapping[str, np.ndarray]], n: int = 200) -> dict[str, np.ndarray]:
    """Thinned per-epoch losses of every model in long format: model, epoch, split, loss."""
    columns = {"model": [], "epoch": [], "split": [], "loss": []}
    for model, h in histories.items():
        epochs = thinned_epochs(len(h["train_loss"]), n)
        for split, column in (("training", "train_loss"), ("validation", "validate_loss")):
            columns["model"].append(np.full(len(epochs), model, dtype=object))
            columns["epoch"].append(epochs)
            columns["split"].append(np.full(len(epochs), split, dtype=object))
            columns["loss"].append(np.asarray(h[column])[epochs - 1])
    return {k: np.concatenate(v) for k, v in columns.items()}


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
    """Each model's fit over the validation data, one panel a model, four panels a row."""
    n = len(predictions)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), sharex=True, sharey=True,
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
    fig, ax = plt.subplots(figsize=(11, 5))
    for i, (model, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        name = method_name(model)
        # Thinner lines for later models, so identical curves (hand GD, Optax SGD) both show.
        width = max(0.8, 3.0 - 0.3 * i)
        ax.plot(h["epoch"], h["train_loss"], color=color, linewidth=width, label=f"{name} training")
        ax.plot(h["epoch"], h["validate_loss"], color=color, linewidth=width, linestyle="--",
                label=f"{name} validation")
    ax.set_yscale("log")
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
            _fmt(r["runtime_s"], 3),
            _fmt(r["train_mse"], 6),
            _fmt(r["validate_mse"], 6),
        ]
        for r in rows
    ]
    fig, ax = plt.subplots(figsize=(9, 0.4 * (len(rows) + 1) + 0.3))
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
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(order) + 2), 4.5))
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
    ax.set_yscale("log")
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
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(models) + 1.4))
    for i, m in enumerate(models):
        c = compare[m]
        if c["mean_diff"] is None:
            continue
        low = c["mean_diff"] - (c["ci_low"] if c["ci_low"] is not None else c["mean_diff"])
        high = (c["ci_high"] if c["ci_high"] is not None else c["mean_diff"]) - c["mean_diff"]
        ax.errorbar([c["mean_diff"]], [i], xerr=[[low], [high]], fmt="o", capsize=4, color=colors[c["verdict"]])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(models)), [method_name(m) for m in models], fontsize=8)
    ax.set_xscale("symlog", linthresh=1e-4)
    ax.set_xlabel(f"validation MSE minus {method_name(baseline)}'s, paired by replicate (95 % CI)")
    for verdict, color in colors.items():
        ax.scatter([], [], color=color, label=verdict)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def sweep_figure(tables: Mapping[str, list[dict]], best: Mapping[str, dict]):
    """Mean validation MSE against learning rate (log-log), a 95 % CI band, diverged cells marked."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
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
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation MSE (mean over replicates)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def png_bytes(fig) -> bytes:
    """PNG bytes of a figure, without the metadata that would change between runs; closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
