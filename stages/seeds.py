"""Stage seeds@<model>: the model over `stats.n_seeds` replicates (fresh init and data noise
each, the same replicates for every model) in one compiled, vmapped call over every
device -> plots/seeds/<model>.csv (one row a replicate), metrics/seeds/<model>.json."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg.cli import use_every_cpu_core

use_every_cpu_core()  # before JAX first touches a device

import numpy as np  # noqa: E402

from nnreg.cli import PARAMS, Progress, all_or_none, batch_timing_path, log  # noqa: E402
from nnreg.cli import model_arg, run_stage  # noqa: E402
from nnreg.cli import seeds_metrics_path, seeds_path  # noqa: E402
from nnreg.config import load_params  # noqa: E402
from nnreg.io import SEED_COLUMNS, write_csv, write_json  # noqa: E402
from nnreg.replicates import diverged, make_replicate_fn, run_batch  # noqa: E402
from nnreg.stats import summarize_replicates  # noqa: E402

KERAS_EXCLUDED = ("Keras trains one network at a time (fit: 6 to 9 s on a 2-core CPU; loop scan: about "
                  "0.4 s); a vmapped batch of Keras networks is not built yet")


def main(argv):
    params = load_params(PARAMS)
    model = model_arg(argv, params.model_names())
    if params.models[model].trainer == "keras":
        with all_or_none():
            write_csv(seeds_path(model), {c: np.zeros(0) for c in SEED_COLUMNS})
            write_json(seeds_metrics_path(model), {"n_replicates": 0, "n_diverged": 0, "excluded": KERAS_EXCLUDED})
            write_json(batch_timing_path("seeds", model), {"model": model, "excluded": KERAS_EXCLUDED})
        log(f"{model}: excluded from the replicates ({KERAS_EXCLUDED})")
        return

    n = params.stats.n_seeds
    one = make_replicate_fn(params.jax_model(model), params.data, params.train.epochs, params.stats.seed)
    progress = Progress(f"{model}: {n} replicates", params.train.epochs, "mean training loss")
    result, timing = run_batch(one, np.arange(n), what=f"seeds@{model} (stats.n_seeds: {n})",
                               progress=lambda done, epochs, loss: progress(done, loss))
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
                                                       "per_network_ms": 1e3 * timing.runtime_s / n})
    v = summary["validate_mse"]
    log(f"{model}: {n} replicates on {timing.n_devices} {timing.device} device(s) in {timing.runtime_s:.2f} s "
        f"(compile {timing.compile_s:.2f} s); validate_mse mean {v['mean']} [{v['ci_low']}, {v['ci_high']}], "
        f"{summary['n_diverged']} diverged")


if __name__ == "__main__":
    run_stage(main)
