"""Stage train@<model> for the JAX models (gd, optax_sgd, optax_adam): one jitted scan over epochs."""

import jax
import numpy as np

from nnreg.cli import DATASET, PARAMS, log, model_arg, progress_epochs, run_stage, write_training_outputs
from nnreg.config import load_params
from nnreg.io import read_dataset
from nnreg.network import init_network
from nnreg.optimizers import make_optimizer
from nnreg.training import compile_and_time, make_train_fn

JAX_MODELS = ("gd", "optax_sgd", "optax_adam")


def main(argv):
    model = model_arg(argv, JAX_MODELS)
    params = load_params(PARAMS)
    net, epochs = params.network, params.train.epochs
    dataset = read_dataset(DATASET)

    initial = init_network(jax.random.PRNGKey(net.init_seed), net.layer_sizes)
    optimizer = make_optimizer(model, getattr(params.models, model).learning_rate)
    train_fn = make_train_fn(optimizer, epochs, net.activation)
    (trained, history), timing = compile_and_time(train_fn, (initial, *dataset))

    # The compiled loop prints nothing; its recorded losses give the progress lines.
    train_loss, validate_loss = np.asarray(history.train_loss), np.asarray(history.validate_loss)
    for done in sorted(progress_epochs(epochs)):
        log(f"{model}: epoch {done}/{epochs} loss {train_loss[done - 1]:.6f} val_loss {validate_loss[done - 1]:.6f}")
    write_training_outputs(model, trained, history, timing, {"jax": jax.__version__})


if __name__ == "__main__":
    run_stage(main)
