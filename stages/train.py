"""Stage train@<model>: the model's single run (the lecture's data and init seed, the run the
lecture's tables report) by its trainer, then its evaluation -> models/<model>.npz,
plots/history/<model>.csv, metrics/timing/<model>.json, metrics/<model>.json, plots/fit/<model>.csv."""

import _machine  # noqa: F401  (first: the environment checked, the CPU target pinned, before JAX starts)

from nnreg import trainers
from nnreg.core.data import true_grid
from nnreg.core.evaluate import evaluate, predict
from nnreg.params.load import load_params
from nnreg.runtime import machine
from nnreg.runtime.files import read_dataset, read_network, write_csv, write_history, write_json
from nnreg.runtime.files import write_network
from nnreg.runtime.paths import DATASET, PARAMS, fit_path, history_path, metrics_path, model_path
from nnreg.runtime.paths import timing_path
from nnreg.runtime.progress import Progress, log, log_tenths
from nnreg.runtime.stage import all_or_none, model_arg, run_stage


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names())
    entry, epochs = params.models[model], params.train.epochs
    dataset = read_dataset(DATASET)

    trained = trainers.get(entry.trainer).train(entry, params.network, epochs, dataset, Progress(model, epochs))
    history, timing = trained.history, trained.timing
    if timing.loop == "scan":
        log_tenths(model, history)  # one compiled loop: it printed nothing while it ran
    log(f"{model}: {timing.epochs} epochs on {timing.device} in {timing.runtime_s:.4f} s "
        f"(compile {timing.compile_s:.3f} s)")
    first_bad = int(history.first_nonfinite_epoch)
    if first_bad >= 0:  # epochs counted from 1, as in the history CSV and the metrics
        log(f"{model}: DIVERGED at epoch {first_bad + 1}")

    # The evaluation reads back the network file just written: the metrics are the saved model's,
    # computed the same way for every model.
    with all_or_none():  # told to stop: none of the five files, or (told while writing) all of them
        write_network(model_path(model), trained.network)
        write_history(history_path(model), history)
        write_json(timing_path(model), {"model": model, **timing._asdict(), "machine": machine.record()})
        network = read_network(model_path(model))
        metrics = evaluate(network, dataset, trained.activation, first_bad, true_grid(params.data))
        write_json(metrics_path(model), metrics)
        write_csv(fit_path(model), {"x": dataset.x_validate, "y": dataset.y_validate,
                                    "prediction": predict(network, dataset.x_validate, trained.activation)})
    log(f"{model}: train_mse {metrics['train_mse']} validate_mse {metrics['validate_mse']} "
        f"true_mse {metrics['true_mse']}" + (f" DIVERGED at epoch {metrics['first_nonfinite_epoch']}"
                                             if metrics["diverged"] else ""))


if __name__ == "__main__":
    run_stage(main)
