"""Stage seeds@<model> for a model whose trainer is keras: `stats.n_seeds` Keras-initialised
networks (the same replicates' data as every model), each trained by Keras's own SGD step, in
one compiled, vmapped call over the devices (two host devices on a CPU) -> plots/seeds/<model>.csv,
metrics/seeds/<model>.json."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg import machine

machine.setup()  # before JAX starts: the CPU target every machine compiles for (nnreg/machine.py)

from nnreg.cli import PARAMS, model_arg, run_stage  # noqa: E402
from nnreg.config import load_params  # noqa: E402
from nnreg.keras_replicates import make_replicate_fn  # noqa: E402  (sets KERAS_BACKEND=jax first)
from nnreg.seeds import run_seeds  # noqa: E402


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names("keras"))
    one = make_replicate_fn(params.models[model], params.network, params.data, params.train.epochs, params.stats.seed)
    run_seeds(model, one, params.stats.n_seeds)


if __name__ == "__main__":
    run_stage(main)
