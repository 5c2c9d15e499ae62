"""Stage evaluate@<model>: final training, validation and true-function MSE -> metrics/<model>.json,
fit -> plots/fit/."""

from nnreg.cli import DATASET, PARAMS, fit_path, history_path, log, metrics_path, model_arg, model_path, run_stage
from nnreg.config import load_params
from nnreg.data import true_grid
from nnreg.evaluate import evaluate, predict
from nnreg.io import read_dataset, read_history, read_network, write_csv, write_json


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names())
    activation = params.activation_of(model)
    dataset = read_dataset(DATASET)
    network = read_network(model_path(model))
    history = read_history(history_path(model))

    metrics = evaluate(network, dataset, activation, history["first_nonfinite_epoch"], true_grid(params.data))
    write_json(metrics_path(model), metrics)
    write_csv(fit_path(model), {"x": dataset.x_validate, "y": dataset.y_validate,
                                "prediction": predict(network, dataset.x_validate, activation)})
    log(f"{model}: train_mse {metrics['train_mse']} validate_mse {metrics['validate_mse']} "
        f"true_mse {metrics['true_mse']}"
        + (f" DIVERGED at epoch {metrics['first_nonfinite_epoch']}" if metrics["diverged"] else ""))


if __name__ == "__main__":
    run_stage(main)
