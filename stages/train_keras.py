"""Stage train@<model> for a model whose trainer is keras: the lecture's Keras benchmark
(JAX backend), full-batch SGD with `fit` (or, with `loop: scan`, the same Keras steps in one
compiled program), then its evaluation."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
import jax

from nnreg.cli import DATASET, PARAMS, Progress, log, log_tenths, model_arg, run_stage
from nnreg.config import load_params
from nnreg.data import true_grid
from nnreg.io import read_dataset
from nnreg.keras_training import build_model, keras, train  # sets KERAS_BACKEND=jax first
from nnreg.outputs import write_training_outputs


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
    write_training_outputs(model, trained, history, timing, {"keras": keras.__version__, "jax": jax.__version__},
                           dataset, net.activation, true_grid(params.data))


if __name__ == "__main__":
    run_stage(main)
