"""Stage sweep@<model>: validation MSE against learning rate, `sweep.learning_rates` times
`sweep.n_seeds` replicates in one compiled, vmapped program over the devices (two host devices on
a CPU) -> plots/sweep/<model>.csv (one row a learning rate), metrics/timing/sweep/<model>.json."""

import _machine  # noqa: F401  (first: the environment checked, the CPU target pinned, before JAX starts)

import numpy as np

from nnreg import trainers
from nnreg.core.replicates import diverged, run_batch
from nnreg.core.stats import sweep_table
from nnreg.params.load import load_params
from nnreg.runtime import machine
from nnreg.runtime.files import SWEEP_COLUMNS, write_json, write_rows
from nnreg.runtime.paths import PARAMS, batch_timing_path, sweep_path
from nnreg.runtime.progress import Progress, log
from nnreg.runtime.stage import all_or_none, check_memory, model_arg, run_stage


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.sweep.models)
    rates, n_seeds = params.sweep.learning_rates, params.sweep.n_seeds
    # The grid, flattened: replicate i at every rate (so the rates are compared on the same draws).
    replicate = np.tile(np.arange(n_seeds), len(rates))
    rate_of = np.repeat(np.asarray(rates, dtype=np.float32), n_seeds)
    entry = params.models[model]
    one = trainers.get(entry.trainer).make_replicate(entry, params.network, params.data, params.train.epochs,
                                                     params.stats.seed)
    progress = Progress(f"{model}: {len(replicate)} networks", params.train.epochs, "mean training loss")
    what = f"sweep@{model} ({len(rates)} sweep.learning_rates x sweep.n_seeds: {n_seeds})"
    result, timing = run_batch(one, replicate, rate_of, progress=lambda done, epochs, loss: progress(done, loss),
                               check=lambda batch: check_memory(batch, what))
    rows = sweep_table(rates, rate_of, result.validate_mse, diverged(result))

    with all_or_none():
        write_rows(sweep_path(model), rows, SWEEP_COLUMNS)
        write_json(batch_timing_path("sweep", model), {"model": model, **timing._asdict(),
                                                       "per_network_ms": 1e3 * timing.runtime_s / len(replicate),
                                                       "machine": machine.record()})
    log(f"{model}: {len(replicate)} networks ({len(rates)} rates x {n_seeds} replicates) on {timing.n_devices} "
        f"{timing.device} device(s) in {timing.runtime_s:.2f} s (compile {timing.compile_s:.2f} s)")
    for r in rows:
        log(f"{model}: learning_rate {r['learning_rate']:g} validate_mse {r['validate_mse_mean']} "
            f"diverged {r['diverged_fraction']:.0%}")


if __name__ == "__main__":
    run_stage(main)
