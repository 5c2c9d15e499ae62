"""The lecture's tables, the exercise's and the replicate statistics' as Markdown, the whole
summary page, and the long-format data of the plots page: rows and text from the pipeline's
small outputs."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from nnreg.report.comparisons import COMPARISON_HEADER, comparison_cells, family_note
from nnreg.report.labels import LECTURE_MODELS, fmt, markdown_table, method_name
from nnreg.report.lecture import LECTURE_EXERCISE, LECTURE_TABLE, versions_markdown
from nnreg.search.space import entry_text, ranked

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


def summary_markdown(rows: list[dict], differences: Mapping[str, Sequence[str]] | None = None) -> str:
    """The lecture's table (method, runtime, training and validation MSE), plus compile time,
    device, the MSE against the true function, and the lecture's published MSEs beside ours
    for each model whose params are the lecture's (`differences`: model -> the params that differ)."""
    differences = differences or {}
    show, note = _lecture_note(rows, LECTURE_TABLE, differences)
    body = []
    for r in rows:
        lecture = {} if differences.get(r["model"]) else LECTURE_TABLE.get(r["model"], {})
        body.append([f"{r['method']}{_flag(r)}", fmt(r["runtime_s"], 3), fmt(r["compile_s"], 3), r["device"] or "n/a",
                     fmt(r["train_mse"], 6), fmt(r["validate_mse"], 6), fmt(r["true_mse"], 6)]
                    + ([_blank(lecture.get("train_mse")), _blank(lecture.get("validate_mse"))] if show else []))
    header = ["Method", "Runtime (s)", "Compile (s)", "Device", "Training MSE", "Validation MSE", "True MSE"]
    if show:
        header += ["Lecture: training", "Lecture: validation"]
    return markdown_table(header, "lrrlrrrrr"[: len(header)], body) + note


def _blank(value) -> str:
    return "" if value is None else fmt(value, 6)


def exercise_markdown(rows: list[dict], baseline: dict, differences: Mapping[str, Sequence[str]] | None = None) -> str:
    """Exercise 23.1's table: strategy, parameters, runtime, validation MSE, improvement over
    the baseline (baseline minus strategy, positive is better, as the lecture counts it), and
    the lecture's number where the params are the lecture's."""
    ordered = [baseline] + [r for r in rows if r["model"] != baseline["model"]]
    differences = differences or {}
    show, note = _lecture_note(ordered, LECTURE_EXERCISE, differences)
    body = []
    for r in ordered:
        improvement = (None if r["validate_mse"] is None or baseline["validate_mse"] is None
                       else baseline["validate_mse"] - r["validate_mse"])
        name = f"Baseline ({r['method']})" if r is baseline else r["method"]
        lecture = None if differences.get(r["model"]) else LECTURE_EXERCISE.get(r["model"])
        body.append([f"{name}{_flag(r)}", str(r["n_parameters"] or "n/a"), fmt(r["runtime_s"], 3),
                     fmt(r["validate_mse"], 6), fmt(improvement, 6, signed=True)]
                    + ([_blank(lecture)] if show else []))
    header = ["Strategy", "Parameters", "Runtime (s)", "Validation MSE", "Improvement"]
    if show:
        header.append("Lecture: validation")
    return markdown_table(header, "lrrrrr"[: len(header)], body) + note


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


def seeds_markdown(rows: list[dict], baseline: str, noise: float) -> str:
    """The ranked table that answers the exercise over replicates, with the noise floor."""
    body = []
    rank = 0
    for r in rows:
        rank += 1
        v, t, c = r["validate_mse"], r["true_mse"], r["vs_baseline"]
        ci = f"[{fmt(v.get('ci_low'), 6)}, {fmt(v.get('ci_high'), 6)}]"
        versus = ["baseline"] + [""] * len(COMPARISON_HEADER) if c is None else comparison_cells(c)
        body.append([str(rank), r["method"], str(r["n_parameters"] or "n/a"), fmt(v.get("mean"), 6), ci,
                     fmt(v.get("median"), 6), fmt(t.get("mean"), 6), f"{r['n_diverged']}/{r['n_replicates']}",
                     *versus])
    table = markdown_table(["Rank", "Model", "Parameters", "Validation MSE: mean", "95 % CI", "median", "True MSE: mean",
                    "Diverged", f"Paired difference from {baseline}: mean", *COMPARISON_HEADER],
                   "rlrrrrrrrrrrrrrl", body)
    compared = {r["model"]: r["vs_baseline"] for r in rows if r["vs_baseline"] is not None}
    return (table + f"\nNoise floor: validation MSE cannot fall below noise² = {noise**2:.6f} on average "
            f"(the true function's own validation MSE); true MSE measures the fit against sqrt(x) + sin(x) "
            f"directly. " + family_note(compared, method_name) + "\n")


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
            cell = fmt(row["validate_mse_mean"], 6)
            if row["diverged_fraction"] > 0:
                cell += f" ({row['diverged_fraction']:.0%} diverged)"
            if best.get(m, {}).get("best_learning_rate") == lr:
                cell = f"**{cell}**"
            cells.append(cell)
        body.append(cells)
    return markdown_table(["Learning rate", *(method_name(m) for m in models)], "r" * (1 + len(models)), body)


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


def search_markdown(search: Mapping, n_seeds: int) -> str:
    """The search's answer, then its confirmed trials on the stats replicates against the baseline."""
    baseline, top = search["baseline"], len(search["confirmed"])
    rows = []
    for rank, c in ranked(search["confirmed"]):
        m = c["validate_mse"]
        rows.append([str(rank), str(c["trial"]), entry_text(c["entry"]), fmt(c["score"], 6),
                     f"{fmt(m['mean'], 6)} [{fmt(m['ci_low'], 6)}, {fmt(m['ci_high'], 6)}]",
                     *comparison_cells(c["vs_baseline"])])
    table = markdown_table(["Rank", "Trial", "Strategy", "Search score", f"Validation MSE: mean [95 % CI], {n_seeds} replicates",
                    f"Paired difference from {baseline}: mean", *COMPARISON_HEADER], "rrlrrrrrrrrrl", rows)
    return (f"{search['answer']}\n\n{table.rstrip()}\n\nThe search score is the mean validation MSE on the search's own "
            f"replicates (a stream no statistic here uses), on which the trials were chosen; the confirmation "
            f"trains the best {top} again, as `models:` entries, on the {n_seeds} stats replicates every model "
            f"above uses, so these differences are paired with {method_name(baseline)}, the {top} confirmed one "
            f"family. " + family_note({f"trial {c['trial']}": c["vs_baseline"] for _, c in ranked(search["confirmed"])})
            + "\n\n" + gap_note(search["confirmed"]) + rungs_note(search.get("rungs", [])))


def rungs_note(rungs: list[dict]) -> str:
    """How well each rung of the pruning ranks the complete trials' final scores."""
    if not rungs:
        return ""
    rho = lambda r, k: "n/a" if r[f"spearman_{k}"] is None else f"{r[f'spearman_{k}']:+.2f}"  # noqa: E731
    each = "; ".join(f"at {r['epochs']:,} epochs {rho(r, 'complete')} over the {r['n_complete']} complete trials, "
                     f"{rho(r, 'best_quarter')} over their best quarter" for r in rungs)
    return (f"\n\nHow well the pruning's rungs predict: the Spearman rank correlation of a complete trial's score at "
            f"a rung with its final score is {each} (near 0 or below, a rung prunes about at random among them).")


def gap_note(confirmed: Mapping[str, dict]) -> str:
    """Why the confirmed means lie above the search scores, in the two parts that add up."""
    gaps = [c["gap"] for _, c in ranked(confirmed) if c.get("gap")]
    if not gaps:
        return ""
    mean = {k: float(np.mean([g[k] for g in gaps])) for k in gaps[0]}
    return (f"The confirmed means lie {mean['total']:.6f} above their search scores on average: "
            f"{mean['noise_floor']:.6f} of it is the lower noise of the search's validation draws, shared by every "
            f"trial (validation minus true MSE is {mean['search_floor']:.6f} on the search replicates, "
            f"{mean['stats_floor']:.6f} on the stats replicates), and {mean['selection']:.6f} the winners' "
            f"flattery (their true MSE is that much higher on the stats replicates than on the search replicates "
            f"they were chosen on).")


def summary_page(params, rows: list[dict], seed_rows: list[dict], search: Mapping, sweeps: Mapping[str, list[dict]],
                 best: Mapping[str, dict], differences: Mapping[str, Sequence[str]]) -> str:
    """plots/summary.md: the lecture's table, the exercise's (if the params have strategies), the
    replicate statistics, the search's answer and the learning-rate sweep. `rows` are
    `summary_rows`, `seed_rows` `seeds_rows`, `differences` each model's params that differ from the
    lecture's (`nnreg.report.lecture.lecture_differences`)."""
    stats, baseline = params.stats, params.stats.baseline
    lecture_rows = [r for r in rows if r["model"] in LECTURE_MODELS]
    exercise_rows = [r for r in rows if r["model"] not in LECTURE_MODELS]
    sections = [f"## The lecture's methods (one run: data seed {params.data.seed}, init seed "
                f"{params.network.init_seed})\n\n" + summary_markdown(lecture_rows or rows, differences)]
    if exercise_rows:
        sections.append(f"## Exercise 23.1: strategies against {method_name(baseline)} (the same single run)\n\n"
                        + exercise_markdown(exercise_rows, next(r for r in rows if r["model"] == baseline),
                                            differences))
    versions = versions_markdown({r["model"]: r["validate_mse"] for r in rows},
                                 {r["model"]: r["vs_baseline"] for r in seed_rows if r["vs_baseline"]}, baseline,
                                 stats.n_seeds)
    if versions:
        sections.append("## Every version of the lecture's Exercise 23.1, judged over the replicates\n\n" + versions)
    sections.append(f"## Over {stats.n_seeds} replicates (fresh init and data noise each, the same for every "
                    f"model; stats.seed {stats.seed}), ranked by mean validation MSE\n\n"
                    + seeds_markdown(seed_rows, baseline, params.data.noise))
    sections.append(f"## Exercise 23.1 by search: {search['n_trials']} trials over the whole space within "
                    f"{params.search.max_parameters} parameters ({search['n_shapes']} shapes), "
                    f"{search['n_pruned']} pruned early\n\n" + search_markdown(search, stats.n_seeds))
    sections.append(f"## Learning-rate sweep ({params.sweep.n_seeds} replicates a rate; mean validation MSE, "
                    f"the best rate in bold)\n\n" + sweep_markdown(sweeps, best)
                    + f"\n\nIn-sample: each bold rate is the best of its column on the same {params.sweep.n_seeds} "
                    f"replicates it is reported on, so it is biased low, and neighbouring rates that differ by less "
                    f"than that selection bias are not told apart; the search above chooses on other replicates.")
    return "\n".join(sections)


def points_long(dataset) -> dict[str, np.ndarray]:
    """plots/data/points.csv: both sets' points, long format (one colour per set on the plots page)."""
    return {"x": np.concatenate([dataset.x_train.reshape(-1), dataset.x_validate.reshape(-1)]),
            "y": np.concatenate([dataset.y_train.reshape(-1), dataset.y_validate.reshape(-1)]),
            "set": np.array(["training"] * dataset.x_train.size + ["validation"] * dataset.x_validate.size,
                            dtype=object)}


def fits_long(fits: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """plots/data/fits.csv: each model's predictions on the validation grid, long format."""
    return {"model": np.array([m for m in fits for _ in fits[m]["x"]], dtype=object),
            "x": np.concatenate([fits[m]["x"] for m in fits]),
            "prediction": np.concatenate([fits[m]["prediction"] for m in fits])}


def replicates_long(single: Mapping[str, float | None], replicates: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """plots/data/replicates.csv: every replicate's validation MSE, long format, each model's single
    run (the lecture's data and init) first as replicate -1."""
    n = len(next(iter(replicates.values())))
    return {"model": np.array([m for m in replicates for _ in range(n + 1)], dtype=object),
            "replicate": np.concatenate([np.arange(-1, n) for _ in replicates]),
            "validate_mse": np.concatenate([[np.nan if single[m] is None else single[m], *replicates[m]]
                                            for m in replicates]),
            "kind": np.array([k for _ in replicates for k in ["single run (lecture's data and init)"]
                              + ["replicate"] * n], dtype=object)}
