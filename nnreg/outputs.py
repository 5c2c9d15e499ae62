"""What every train@<model> stage writes, whichever the trainer: the trained network, its
per-epoch losses and timing, then the network's evaluation (metrics and fit).

The evaluation reads back the network file just written, so the metrics are those of
the saved model, computed the same way for every model (`nnreg.evaluate`). It runs in
the trainer's process: a stage of its own cost more in start-up (a process, JAX's
import, DVC's bookkeeping) than the evaluation itself.
"""

from __future__ import annotations

from nnreg import machine
from nnreg.cli import all_or_none, fit_path, history_path, log, metrics_path, model_path, timing_path
from nnreg.data import Dataset
from nnreg.evaluate import evaluate, predict
from nnreg.io import read_network, write_csv, write_history, write_json, write_network


def write_training_outputs(model: str, trained, history, timing, dataset: Dataset, activation: str,
                           truth: tuple) -> None:
    """A trainer's outputs and closing log lines, all or none (`nnreg.cli.all_or_none`).

    models/<model>.npz, plots/history/<model>.csv, metrics/timing/<model>.json (with the machine
    that made them: `nnreg.machine.record()`), then the
    evaluation: metrics/<model>.json (`truth`: `data.true_grid`'s dense grid and the true
    function there) and plots/fit/<model>.csv (the validation data and the predictions)."""
    first_bad = int(history.first_nonfinite_epoch)
    with all_or_none():  # told to stop: none of the five files, or (told while writing) all of them
        log(f"{model}: {timing.epochs} epochs on {timing.device} in {timing.runtime_s:.4f} s "
            f"(compile {timing.compile_s:.3f} s)")
        if first_bad >= 0:  # epochs counted from 1, as in the history CSV and the metrics
            log(f"{model}: DIVERGED at epoch {first_bad + 1}")
        write_network(model_path(model), trained)
        write_history(history_path(model), history)
        write_json(timing_path(model), {"model": model, **timing._asdict(), "machine": machine.record()})

        network = read_network(model_path(model))
        metrics = evaluate(network, dataset, activation, first_bad, truth)
        write_json(metrics_path(model), metrics)
        write_csv(fit_path(model), {"x": dataset.x_validate, "y": dataset.y_validate,
                                    "prediction": predict(network, dataset.x_validate, activation)})
    log(f"{model}: train_mse {metrics['train_mse']} validate_mse {metrics['validate_mse']} "
        f"true_mse {metrics['true_mse']}" + (f" DIVERGED at epoch {metrics['first_nonfinite_epoch']}" if metrics["diverged"] else ""))
