"""Stage report: gathers every model into the lecture's figures and tables, the exercise's
table, the replicate statistics, the search's answer and the learning-rate sweep."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from pathlib import Path

import pandas as pd

from nnreg.params.load import load_params
from nnreg.report import figures, tables
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

    write_csv(PLOTS / "data/points.csv", tables.points_long(dataset))
    write_csv(PLOTS / "data/fits.csv", tables.fits_long(fits))
    write_csv(PLOTS / "data/losses.csv", tables.losses_long(histories))
    write_csv(REPLICATES, tables.replicates_long(single, replicates))
    rows = tables.summary_rows(metrics, timings)
    seed_rows = tables.seeds_rows(seeds, compare, single, {m: metrics[m].get("n_parameters") for m in models})
    summary = tables.summary_page(params, rows, seed_rows, search, sweeps, best,
                                  {m: lecture_differences(params, m) for m in models})
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
        "seeds.png": figures.seeds_figure(replicates, single, params.data.noise),
        "differences.png": figures.differences_figure(
            {**compare, **{confirmed_label(rank, c["entry"]): c["vs_baseline"]
                           for rank, c in ranked(search["confirmed"])}}, params.stats.baseline),
        "search.png": figures.search_figure(trials["trial"].to_numpy(), trials["score"].to_numpy(dtype=float),
                                            trials["state"].to_numpy(), trials["best_so_far"].to_numpy(dtype=float)),
        "sweep.png": figures.sweep_figure(sweeps, best),
    }
    for name, fig in images.items():
        atomic_write_bytes(PLOTS / "images" / name, figures.png_bytes(fig))
    log(summary)


if __name__ == "__main__":
    run_stage(main)
