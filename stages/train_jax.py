"""Stage train_<model> for the JAX models (gd, optax_sgd, optax_adam): one jitted scan over epochs."""

import jax

from nnreg.cli import DATASET, PARAMS, history_path, log, model_arg, model_path, run_stage, timing_path
from nnreg.config import load_params
from nnreg.io import read_dataset, write_history, write_json, write_network
from nnreg.network import init_network
from nnreg.optimizers import make_optimizer
from nnreg.training import compile_and_time, make_train_fn

JAX_MODELS = ("gd", "optax_sgd", "optax_adam")


def main(argv):
    model = model_arg(argv, JAX_MODELS)
    params = load_params(PARAMS)
    net, train = params.network, params.train
    dataset = read_dataset(DATASET)

    initial = init_network(jax.random.PRNGKey(net.init_seed), net.layer_sizes)
    optimizer = make_optimizer(model, getattr(params.models, model).learning_rate)
    train_fn = make_train_fn(optimizer, train.epochs, net.activation)
    (trained, history), timing = compile_and_time(train_fn, (initial, *dataset))

    for epoch in range(train.log_every - 1, train.epochs, train.log_every):
        log(f"{model}: epoch {epoch + 1}/{train.epochs} loss {float(history.train_loss[epoch]):.6f} "
            f"val_loss {float(history.validate_loss[epoch]):.6f}")
    log(f"{model}: {train.epochs} epochs on {timing.device} in {timing.runtime_s:.4f} s "
        f"(compile {timing.compile_s:.3f} s)")
    if int(history.first_nonfinite_epoch) >= 0:
        log(f"{model}: DIVERGED at epoch {int(history.first_nonfinite_epoch)}: kept the last finite parameters")

    write_network(model_path(model), trained)
    write_history(history_path(model), history)
    write_json(timing_path(model), {"model": model, **timing._asdict(), "jax": jax.__version__})


if __name__ == "__main__":
    run_stage(main)
