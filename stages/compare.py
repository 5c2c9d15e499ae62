"""Stage compare: gathers the replicate batches. Every model against `stats.baseline`,
paired by replicate, one family corrected by Holm -> metrics/compare.json; each swept model's best learning rate
-> metrics/sweep.json; long-format plot data (differences, sweeps) -> plots/compare/."""

import _env  # noqa: F401  (first: one line, not a traceback, outside the project's environment)
from nnreg.core.stats import DIFFERENCE_COLUMNS, best_learning_rate, compare_family
from nnreg.params.load import load_params
from nnreg.runtime.files import SWEEP_COLUMNS, read_seeds, read_sweep, write_json, write_rows
from nnreg.runtime.paths import COMPARE, DIFFERENCES, PARAMS, SWEEP_LONG, SWEEP_METRICS, seeds_path, sweep_path
from nnreg.runtime.progress import log
from nnreg.runtime.stage import all_or_none, run_stage


def main(argv):
    params = load_params(PARAMS)
    baseline = params.stats.baseline
    models = params.model_names()
    seeds = {m: read_seeds(seeds_path(m), params.stats.n_seeds) for m in models}
    others = [m for m in models if m != baseline]

    base = seeds[baseline]
    compare = compare_family({m: (seeds[m]["validate_mse"], base["validate_mse"], seeds[m]["diverged"],
                                  base["diverged"]) for m in others})
    sweeps = {m: read_sweep(sweep_path(m)) for m in params.sweep.models}
    sweep = {m: best_learning_rate(rows) for m, rows in sweeps.items()}

    with all_or_none():
        write_json(COMPARE, compare)
        write_json(SWEEP_METRICS, sweep)
        write_rows(DIFFERENCES, [{"model": m, **compare[m]} for m in others],
                   DIFFERENCE_COLUMNS)
        write_rows(SWEEP_LONG, [{"model": m, **r} for m, rows in sweeps.items() for r in rows],
                   ["model", *SWEEP_COLUMNS])
    for m in others:
        c = compare[m]
        log(f"{m} - {baseline}: mean_diff {c['mean_diff']} [{c['ci_low']}, {c['ci_high']}] "
            f"win_rate {c['win_rate']} p (Holm, {c['family']}) {c['p_value']}: {c['verdict']}")
    for m, best in sweep.items():
        log(f"{m}: best learning rate {best['best_learning_rate']}")


if __name__ == "__main__":
    run_stage(main)
