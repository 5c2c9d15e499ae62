"""Stage train_keras: the lecture's Keras benchmark (JAX backend), full-batch SGD."""

import jax

from nnreg.cli import DATASET, PARAMS, history_path, log, model_arg, model_path, run_stage, timing_path
from nnreg.config import load_params
from nnreg.io import read_dataset, write_history, write_json, write_network
from nnreg.keras_training import build_model, keras, train  # sets KERAS_BACKEND=jax first


def main(argv):
    model_arg(argv, ("keras",))
    params = load_params(PARAMS)
    net, k = params.network, params.models.keras
    dataset = read_dataset(DATASET)

    keras.utils.set_random_seed(net.init_seed)  # Keras's global seed: its initial weights
    model = build_model(net.layer_sizes, net.activation, k.learning_rate, k.lecture_layer_count)
    log(f"keras: {model.count_params()} parameters, {params.train.epochs} epochs")
    trained, history, timing = train(model, *dataset, epochs=params.train.epochs,
                                     log_every=params.train.log_every, log=log)
    log(f"keras: {params.train.epochs} epochs on {timing.device} in {timing.runtime_s:.2f} s "
        f"(compile {timing.compile_s:.2f} s)")
    if int(history.first_nonfinite_epoch) >= 0:
        log(f"keras: DIVERGED at epoch {int(history.first_nonfinite_epoch)}: stopped (TerminateOnNaN)")

    write_network(model_path("keras"), trained)
    write_history(history_path("keras"), history)
    write_json(timing_path("keras"), {"model": "keras", **timing._asdict(), "keras": keras.__version__,
                                      "jax": jax.__version__})


if __name__ == "__main__":
    run_stage(main)
