"""Stage train@<model> for a model whose trainer is jax: one jitted scan over epochs, with the
lecture's data and init seed (the single run the lecture's tables report), then its evaluation."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg import machine

machine.setup()  # before JAX starts: the CPU target every machine compiles for (nnreg/machine.py)

import jax  # noqa: E402

from nnreg.cli import DATASET, PARAMS, log, log_tenths, model_arg, run_stage  # noqa: E402
from nnreg.config import load_params  # noqa: E402
from nnreg.data import true_grid  # noqa: E402
from nnreg.io import read_dataset  # noqa: E402
from nnreg.jax_training import init_model, make_model_train_fn  # noqa: E402
from nnreg.outputs import write_training_outputs  # noqa: E402
from nnreg.training import compile_and_time  # noqa: E402


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names("jax"))
    spec, epochs = params.jax_model(model), params.train.epochs
    dataset = read_dataset(DATASET)

    initial = init_model(spec, jax.random.PRNGKey(params.network.init_seed))
    train_fn = make_model_train_fn(spec, epochs, shared_x=dataset.shares_x())  # one forward pass an epoch, not two
    (trained, history), timing = compile_and_time(train_fn, (initial, *dataset))

    log_tenths(model, history)  # the compiled loop (about 0.3 s for 4000 epochs) printed nothing
    log(f"{model}: trained in {timing.runtime_s:.2f} s (compile {timing.compile_s:.2f} s)")
    write_training_outputs(model, trained, history, timing, dataset, spec.activation, true_grid(params.data))


if __name__ == "__main__":
    run_stage(main)
