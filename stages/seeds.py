"""Stage seeds@<model>: the model over `stats.n_seeds` replicates (fresh init and data noise each;
replicate i's data the same for every model) in one compiled, vmapped program over the devices
(two host devices on a CPU) -> plots/seeds/<model>.csv (one row a replicate),
metrics/seeds/<model>.json, metrics/timing/seeds/<model>.json."""

import _machine  # noqa: F401  (first: the environment checked, the CPU target pinned, before JAX starts)

import numpy as np

from nnreg import trainers
from nnreg.core.replicates import diverged, run_batch
from nnreg.core.stats import summarize_replicates
from nnreg.params.load import load_params
from nnreg.runtime import machine
from nnreg.runtime.files import write_csv, write_json
from nnreg.runtime.paths import PARAMS, batch_timing_path, seeds_metrics_path, seeds_path
from nnreg.runtime.progress import Progress, log
from nnreg.runtime.stage import all_or_none, check_memory, model_arg, run_stage


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names())
    entry, n = params.models[model], params.stats.n_seeds
    replicate = trainers.get(entry.trainer).make_replicate(entry, params.network, params.data, params.train.epochs,
                                                           params.stats.seed)
    progress = Progress(f"{model}: {n} replicates", replicate.epochs, "mean training loss")
    result, timing = run_batch(replicate, np.arange(n), progress=lambda done, epochs, loss: progress(done, loss),
                               check=lambda batch: check_memory(batch, f"seeds@{model} (stats.n_seeds: {n})"))
    bad = diverged(result)
    summary = summarize_replicates(result.validate_mse, result.true_mse, bad)

    with all_or_none():
        write_csv(seeds_path(model), {
            "replicate": np.arange(n),
            "validate_mse": np.where(bad, np.nan, result.validate_mse),
            "true_mse": np.where(bad, np.nan, result.true_mse),
            "diverged": bad.astype(int),
        })
        write_json(seeds_metrics_path(model), summary)
        write_json(batch_timing_path("seeds", model), {"model": model, **timing._asdict(),
                                                       "per_network_ms": 1e3 * timing.runtime_s / n,
                                                       "machine": machine.record()})
    v = summary["validate_mse"]
    log(f"{model}: {n} replicates on {timing.n_devices} {timing.device} device(s) in {timing.runtime_s:.2f} s "
        f"(compile {timing.compile_s:.2f} s); validate_mse mean {v['mean']} [{v['ci_low']}, {v['ci_high']}], "
        f"{summary['n_diverged']} diverged")


if __name__ == "__main__":
    run_stage(main)
