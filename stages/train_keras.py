"""Stage train@<model> for a model whose trainer is keras: the lecture's Keras benchmark
(JAX backend), full-batch SGD with `fit` (or, with `loop: scan`, the same Keras steps in one
compiled program), then its evaluation."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg import machine

machine.setup()  # before JAX starts: the CPU target every machine compiles for (nnreg/machine.py)

from nnreg.cli import DATASET, PARAMS, Progress, log, log_tenths, model_arg, run_stage  # noqa: E402
from nnreg.config import load_params  # noqa: E402
from nnreg.data import true_grid  # noqa: E402
from nnreg.io import read_dataset  # noqa: E402
from nnreg.keras_training import build_model, keras, train  # noqa: E402  (sets KERAS_BACKEND=jax first)
from nnreg.outputs import write_training_outputs  # noqa: E402


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names("keras"))
    net, k, epochs = params.network, params.models[model], params.train.epochs
    dataset = read_dataset(DATASET)

    keras.utils.set_random_seed(net.init_seed)  # Keras's global seed: its initial weights
    built = build_model(net.layer_sizes, net.activation, k.learning_rate, k.lecture_layer_count)
    log(f"{model}: {built.count_params()} parameters, {epochs} epochs")
    trained, history, timing = train(built, *dataset, epochs=epochs, progress=Progress(model, epochs), loop=k.loop)
    if k.loop == "scan":
        log_tenths(model, history)  # the compiled loop printed nothing
    write_training_outputs(model, trained, history, timing, dataset, net.activation, true_grid(params.data))


if __name__ == "__main__":
    run_stage(main)
