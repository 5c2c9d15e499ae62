"""Stage seeds@<model> for a model whose trainer is jax: the model over `stats.n_seeds` replicates
(fresh init and data noise each, the same replicates for every model) in one compiled, vmapped
call over the devices (two host devices on a CPU) -> plots/seeds/<model>.csv (one row a replicate),
metrics/seeds/<model>.json."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg import machine

machine.setup()  # before JAX starts: the CPU target every machine compiles for (nnreg/machine.py)

from nnreg.cli import PARAMS, model_arg, run_stage  # noqa: E402
from nnreg.config import load_params  # noqa: E402
from nnreg.jax_replicates import make_replicate_fn  # noqa: E402
from nnreg.seeds import run_seeds  # noqa: E402


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names("jax"))
    spec = params.jax_model(model)
    run_seeds(model, make_replicate_fn(spec, params.data, params.train.epochs, params.stats.seed), params.stats.n_seeds)


if __name__ == "__main__":
    run_stage(main)
