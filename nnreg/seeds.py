"""What every seeds@<model> stage does, whichever the trainer: the model's replicates in one
batch (`nnreg.replicates`), their summary (`nnreg.stats`), and its files:
plots/seeds/<model>.csv (one row a replicate), metrics/seeds/<model>.json and its timing."""

from __future__ import annotations

import numpy as np

from nnreg import machine
from nnreg.cli import Progress, all_or_none, batch_timing_path, log, seeds_metrics_path, seeds_path
from nnreg.io import write_csv, write_json
from nnreg.replicates import Replicate, diverged, run_batch
from nnreg.stats import summarize_replicates


def run_seeds(model: str, replicate: Replicate, n: int) -> None:
    """Trains replicates 0 .. n-1 of `model` (`replicate`: its trainer's `make_replicate_fn`), then
    writes the three files, all or none."""
    progress = Progress(f"{model}: {n} replicates", replicate.epochs, "mean training loss")
    result, timing = run_batch(replicate, np.arange(n), what=f"seeds@{model} (stats.n_seeds: {n})",
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
                                                       "per_network_ms": 1e3 * timing.runtime_s / n,
                                                       "machine": machine.record()})
    v = summary["validate_mse"]
    log(f"{model}: {n} replicates on {timing.n_devices} {timing.device} device(s) in {timing.runtime_s:.2f} s "
        f"(compile {timing.compile_s:.2f} s); validate_mse mean {v['mean']} [{v['ci_low']}, {v['ci_high']}], "
        f"{summary['n_diverged']} diverged")
