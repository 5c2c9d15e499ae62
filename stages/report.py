"""Stage report: gathers every model into the lecture's figures and tables, the exercise's
table, the replicate statistics, the search's answer and the learning-rate sweep."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from pathlib import Path

import numpy as np
import pandas as pd

from nnreg.params.load import load_params
from nnreg.report import figures, tables
from nnreg.report.labels import LECTURE_MODELS, method_name
from nnreg.report.lecture import lecture_differences
from nnreg.runtime import schemas
from nnreg.runtime.files import atomic_write_bytes, atomic_write_text, read_csv, read_dataset, read_history
from nnreg.runtime.files import read_seeds, read_sweep, write_csv, write_json
from nnreg.runtime.paths import COMPARE, DATASET, PARAMS, REPLICATES, SEARCH_METRICS, SEARCH_TRIALS, SWEEP_METRICS
from nnreg.runtime.paths import fit_path, history_path
from nnreg.runtime.paths import metrics_path, seeds_metrics_path, seeds_path, sweep_path, timing_path
from nnreg.runtime.progress import log
from nnreg.runtime.stage import run_stage
from nnreg.search.space import confirmed_label, ranked

PLOTS = Path("plots")


def main(argv):
    params = load_params(PARAMS)
    models = params.model_names()
    baseline = params.stats.baseline
    dataset = read_dataset(DATASET)
    metrics = {m: schemas.read(metrics_path(m), schemas.MetricsFile) for m in models}
    timings = {m: schemas.read(timing_path(m), schemas.TimingFile) for m in models}
    histories = {m: read_history(history_path(m)) for m in models}
    fits = {m: read_csv(fit_path(m), ["x", "y", "prediction"]) for m in models}
    seeds = {m: schemas.read(seeds_metrics_path(m), schemas.SeedsFile) for m in models}
    replicates = {m: read_seeds(seeds_path(m), params.stats.n_seeds)["validate_mse"] for m in models}
    single = {m: metrics[m].get("validate_mse") for m in models}
    compare = schemas.read(COMPARE, schemas.CompareFile)
    search = schemas.read(SEARCH_METRICS, schemas.SearchFile)
    trials = pd.read_csv(SEARCH_TRIALS)
    sweeps = {m: read_sweep(sweep_path(m)) for m in params.sweep.models}
    best = schemas.read(SWEEP_METRICS, schemas.SweepFile)

    # Long format, one colour per set or model in the DVC plots (.dvc/plots/*.json).
    write_csv(PLOTS / "data/points.csv", {
        "x": np.concatenate([dataset.x_train.reshape(-1), dataset.x_validate.reshape(-1)]),
        "y": np.concatenate([dataset.y_train.reshape(-1), dataset.y_validate.reshape(-1)]),
        "set": np.array(["training"] * dataset.x_train.size + ["validation"] * dataset.x_validate.size, dtype=object),
    })
    write_csv(PLOTS / "data/fits.csv", {
        "model": np.array([m for m in models for _ in fits[m]["x"]], dtype=object),
        "x": np.concatenate([fits[m]["x"] for m in models]),
        "prediction": np.concatenate([fits[m]["prediction"] for m in models]),
    })
    write_csv(PLOTS / "data/losses.csv", tables.losses_long(histories))
    # Every replicate's validation MSE, long format, with each model's single run (replicate -1) marked.
    n = params.stats.n_seeds
    write_csv(REPLICATES, {
        "model": np.array([m for m in models for _ in range(n + 1)], dtype=object),
        "replicate": np.concatenate([np.arange(-1, n) for _ in models]),
        "validate_mse": np.concatenate([[np.nan if single[m] is None else single[m], *replicates[m]]
                                        for m in models]),
        "kind": np.array([k for _ in models for k in ["single run (lecture's data and init)"] + ["replicate"] * n],
                         dtype=object),
    })

    rows = tables.summary_rows(metrics, timings)
    by_model = {r["model"]: r for r in rows}
    lecture_rows = [r for r in rows if r["model"] in LECTURE_MODELS]
    exercise_rows = [r for r in rows if r["model"] not in LECTURE_MODELS]
    seed_rows = tables.seeds_rows(seeds, compare, single, {m: metrics[m].get("n_parameters") for m in models})
    noise = params.data.noise
    differences = {m: lecture_differences(params, m) for m in models}

    sections = [
        "## The lecture's methods (one run: data seed {}, init seed {})\n\n".format(
            params.data.seed, params.network.init_seed) + tables.summary_markdown(lecture_rows or rows, differences),
    ]
    if exercise_rows:
        sections.append(f"## Exercise 23.1: strategies against {method_name(baseline)} (the same single run)\n\n"
                        + tables.exercise_markdown(exercise_rows, by_model[baseline], differences))
    sections.append(f"## Over {params.stats.n_seeds} replicates (fresh init and data noise each, the same for every "
                    f"model; stats.seed {params.stats.seed}), ranked by mean validation MSE\n\n"
                    + tables.seeds_markdown(seed_rows, baseline, noise, len(models) - 1))
    sections.append(f"## Exercise 23.1 by search: {search['n_trials']} trials over the whole space within "
                    f"{params.search.max_parameters} parameters ({search['n_shapes']} shapes), "
                    f"{search['n_pruned']} pruned early\n\n" + tables.search_markdown(search, params.stats.n_seeds))
    sections.append(f"## Learning-rate sweep ({params.sweep.n_seeds} replicates a rate; mean validation MSE, "
                    f"the best rate in bold)\n\n" + tables.sweep_markdown(sweeps, best)
                    + f"\n\nIn-sample: each bold rate is the best of its column on the same {params.sweep.n_seeds} "
                    f"replicates it is reported on, so it is biased low, and neighbouring rates that differ by less "
                    f"than that selection bias are not told apart; the search above chooses on other replicates.")
    summary = "\n".join(sections)

    write_json(PLOTS / "summary.json", {"single_run": rows, "replicates": seed_rows, "sweep": best,
                                        "search": {"answer": search["answer"], "confirmed": search["confirmed"]}})
    atomic_write_text(PLOTS / "summary.md", summary)

    diverged = {m: metrics[m].get("diverged", False) for m in models}
    images = {
        "data.png": figures.data_figure(*dataset),
        "fits.png": figures.fits_figure(dataset.x_validate, dataset.y_validate,
                                       {m: fits[m]["prediction"] for m in models}, diverged),
        "loss.png": figures.loss_figure(histories),
        "summary.png": figures.summary_figure(rows),
        "seeds.png": figures.seeds_figure(replicates, single, noise),
        "differences.png": figures.differences_figure(
            {**compare, **{confirmed_label(rank, c["entry"]): c["vs_baseline"]
                           for rank, c in ranked(search["confirmed"])}}, baseline),
        "search.png": figures.search_figure(trials["trial"].to_numpy(), trials["score"].to_numpy(dtype=float),
                                            trials["state"].to_numpy(), trials["best_so_far"].to_numpy(dtype=float)),
        "sweep.png": figures.sweep_figure(sweeps, best),
    }
    for name, fig in images.items():
        atomic_write_bytes(PLOTS / "images" / name, figures.png_bytes(fig))
    log(summary)


if __name__ == "__main__":
    run_stage(main)
