"""The search's cost against the plain replicate batch's, side by side in one process.

1. Runs the search of params.yaml (`--n-trials` to change its size) into a temporary journal,
   compiling cold (no persistent cache), as a first `dvc repro` does: its wall time, the
   programs it compiled and their compile time, its training time per network-epoch, and the
   sampler's share of the wall time.
2. For one strategy per depth (the search's best complete trial of that depth), times the
   search's program (one trial on its `search.n_seeds` replicates, every hyperparameter traced,
   padded to the depth's widest shape), the same program with `--per-call` trials a call (as
   `search.trials_per_call` makes it), the plain replicate batch of the same strategy as a
   `models:` entry (the JAX trainer's `make_replicate`, `--n` replicates in one program, as a
   seeds@ stage runs it) and the plain batch at the padded shape (what the padding alone
   costs), over `--epochs` epochs, alternating, `--repeats` times: medians per network-epoch
   and the ratio search / plain (the target: at most 1.5).

    python benchmarks/search.py [--n-trials 256] [--epochs 1000] [--n 32] [--per-call 8] [--repeats 5]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)  # as the search stage does, but compiling cold

import numpy as np  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from nnreg import trainers  # noqa: E402
from nnreg.core.replicates import compile_batch  # noqa: E402
from nnreg.params.load import load_params, parse_params  # noqa: E402
from nnreg.params.export import to_dict  # noqa: E402
from nnreg.params.schema import JaxModel  # noqa: E402
from nnreg.search.space import model_entry, shape_label  # noqa: E402
from nnreg.search.programs import stack  # noqa: E402
from nnreg.search.journal import finished  # noqa: E402
from nnreg.search.space import strategy_of  # noqa: E402
from nnreg.search.study import SearchPrograms, run_search  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-trials", type=int, default=None, help="default: search.n_trials")
    ap.add_argument("--epochs", type=int, default=1000, help="epochs of each timed run")
    ap.add_argument("--n", type=int, default=32, help="networks in the plain replicate batch")
    ap.add_argument("--per-call", type=int, default=8, help="trials a call in the second search column")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    raw = to_dict(load_params(Path(__file__).resolve().parents[1] / "params.yaml"))
    if a.n_trials is not None:
        raw["search"]["n_trials"] = a.n_trials
    params = parse_params(raw)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        study, stats, _ = run_search(params, Path(tmp) / "study.journal", "benchmark")
        wall = time.perf_counter() - start
    print(f"{machine.cpu_info()['model']}, {time.strftime('%Y-%m-%d')}")
    print(f"search: {params.search.n_trials} trials in {wall:.1f} s; {stats.compiles} programs compiled "
          f"({stats.compile_s:.1f} s of compiling, two at a time); training {stats.train_s:.1f} s, "
          f"{1e6 * stats.train_s / stats.network_epochs:.1f} us a network-epoch over {stats.network_epochs:,} "
          f"network-epochs ({stats.padded_network_epochs:,} with the padding replicates and trials); the sampler {stats.sampler_s:.1f} s ({100 * stats.sampler_s / wall:.0f} % of the wall "
          f"time)")

    best = {}
    for t in finished(study):
        if t.state == TrialState.COMPLETE and np.isfinite(t.value):
            s = strategy_of(t, params)
            depth = len(s.layer_sizes) - 2
            if depth not in best or t.value < best[depth][0]:
                best[depth] = (t.value, s)
    search_epochs = parse_params({**raw, "train": {"epochs": a.epochs}})
    trainer = SearchPrograms(search_epochs)
    trainer.wait()
    many = SearchPrograms(parse_params({**raw, "train": {"epochs": a.epochs},
                                 "search": {**raw["search"], "trials_per_call": a.per_call}}))
    many.wait()
    rows = []
    for depth, (_, s) in sorted(best.items()):
        inputs = trainer.inputs(s)
        calls = {"search": (trainer.program(depth + 2), inputs, len(inputs.index)),
                 "many": (many.program(depth + 2), stack([many.inputs(s)] * a.per_call), a.per_call * len(inputs.index))}
        for name, sizes in (("plain", s.layer_sizes), ("padded", trainer.padded[depth + 2])):
            entry = model_entry(s._replace(layer_sizes=tuple(sizes)), a.epochs)
            model = JaxModel.of(entry["optimizer"],
                                **{k: v for k, v in entry.items() if k not in ("trainer", "optimizer")})
            batch = compile_batch(trainers.get("jax").make_replicate(model, params.network, params.data, a.epochs,
                                                                     params.stats.seed), np.arange(a.n))
            calls[name] = (batch, None, a.n)
        times = {k: [] for k in calls}
        for _ in range(a.repeats + 1):  # the first round warms up, not counted
            for name, (fn, inputs_, n) in calls.items():
                start = time.perf_counter()
                fn(inputs_, 0, a.epochs) if inputs_ is not None else fn.run()
                times[name].append((time.perf_counter() - start) / (n * a.epochs))
        us = {k: 1e6 * statistics.median(v[1:]) for k, v in times.items()}
        rows.append((shape_label(s.layer_sizes), shape_label(trainer.padded[depth + 2]), s.activation, s.optimizer,
                     us))
    print(f"\nPer network-epoch (us), medians of {a.repeats} alternating runs of {a.epochs} epochs "
          f"(search: one trial, {len(trainer.indices)} networks a call; search x{a.per_call}: {a.per_call} copies of "
          f"the trial a call; plain: {a.n} networks a call, its own shape or the padded one)\n")
    print(f"| Shape | Padded to | Activation | Optimizer | Search | Search x{a.per_call} | Plain | Plain, padded "
          f"| Search / plain | Padded / plain |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape, padded, act, opt, us in rows:
        print(f"| {shape} | {padded} | {act} | {opt} | {us['search']:.1f} | {us['many']:.1f} | {us['plain']:.1f} "
              f"| {us['padded']:.1f} | {us['search'] / us['plain']:.2f} | {us['padded'] / us['plain']:.2f} |")


if __name__ == "__main__":
    main()
