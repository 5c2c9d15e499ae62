"""Stage report: gathers every model into the lecture's figures and summary table."""

from pathlib import Path

from nnreg import MODELS
from nnreg.cli import DATASET, fit_path, history_path, log, metrics_path, run_stage, timing_path
from nnreg.io import atomic_write_bytes, atomic_write_text, read_csv, read_dataset, read_history, read_json
from nnreg.io import write_csv, write_json
from nnreg import report

PLOTS = Path("plots")


def main(argv):
    dataset = read_dataset(DATASET)
    metrics = {m: read_json(metrics_path(m)) for m in MODELS}
    timings = {m: read_json(timing_path(m)) for m in MODELS}
    histories = {m: read_history(history_path(m)) for m in MODELS}
    fits = {m: read_csv(fit_path(m), ["x", "y", "prediction"]) for m in MODELS}

    write_csv(PLOTS / "data/train.csv", {"x": dataset.x_train, "y": dataset.y_train})
    write_csv(PLOTS / "data/validate.csv", {"x": dataset.x_validate, "y": dataset.y_validate})

    rows = report.summary_rows(metrics, timings)
    write_json(PLOTS / "summary.json", rows)
    atomic_write_text(PLOTS / "summary.md", report.summary_markdown(rows))

    diverged = {m: metrics[m].get("diverged", False) for m in MODELS}
    figures = {
        "data.png": report.data_figure(*dataset),
        "fits.png": report.fits_figure(dataset.x_validate, dataset.y_validate,
                                       {m: fits[m]["prediction"] for m in MODELS}, diverged),
        "loss.png": report.loss_figure(histories),
        "summary.png": report.summary_figure(rows),
    }
    for name, fig in figures.items():
        atomic_write_bytes(PLOTS / "images" / name, report.png_bytes(fig))
    log(report.summary_markdown(rows))


if __name__ == "__main__":
    run_stage(main)
