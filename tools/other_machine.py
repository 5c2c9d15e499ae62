"""What the pipeline's accuracy metrics would be on another machine: every single-run model and
replicate batches, trained and evaluated as their stages do, with XLA's CPU code generation
made to differ (another `--xla_cpu_max_isa`), in a fresh process. Prints JSON.

    python tools/other_machine.py --isa SSE4_2 [--models gd deep ...] [--seeds deep ...]

`--isa native` is this machine's own target with nothing pinned (`NNREG_CPU_TARGET=native`).
Nothing is written under the project: tests/training/test_portability.py compares what this prints with
the committed metrics (docs/reproducibility.md says within what).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISAS = ("SSE4_2", "AVX", "AVX2", "native")


def environment(isa: str) -> dict:
    """The environment of a stage whose code generation is limited to `isa` (or left native)."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "NNREG_CPU_TARGET")}
    env["JAX_PLATFORMS"] = "cpu"
    env["KERAS_BACKEND"] = "jax"
    if isa == "native":
        env["NNREG_CPU_TARGET"] = "native"
    else:  # the portable pins, with the code generation's ISA replaced: another CPU's compiler output
        env["XLA_FLAGS"] = f"--xla_cpu_max_isa={isa}"
    return env


def run(isa: str, models: list[str] | None = None, seeds: list[str] | None = None, timeout: float = 900) -> dict:
    """Runs this script in a fresh process under `isa`; returns what it printed."""
    args = [sys.executable, str(Path(__file__).resolve()), "--isa", isa, "--inside"]
    if models is not None:
        args += ["--models", *models]
    if seeds:
        args += ["--seeds", *seeds]
    out = subprocess.run(args, cwd=ROOT, env=environment(isa), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def _inside(models: list[str] | None, seeds: list[str]) -> dict:
    """In the perturbed process: the metrics of `models` (default: every model) and the replicate
    summaries of `seeds`, computed as train@<model> and seeds@<model> compute them."""
    from nnreg.runtime import machine

    machine.setup(compilation_cache=False)  # the stages' own edge: the pins (as this process's XLA_FLAGS leave them)

    from nnreg import trainers
    from nnreg.core.data import true_grid
    from nnreg.core.evaluate import evaluate
    from nnreg.core.replicates import diverged, run_batch
    from nnreg.core.stats import summarize_replicates
    from nnreg.params.load import load_params
    from nnreg.runtime.files import read_dataset

    params = load_params(ROOT / "params.yaml")
    dataset = read_dataset(ROOT / "data/dataset.npz")
    truth = true_grid(params.data)
    out = {"machine": machine.record(), "metrics": {}, "seeds": {}}
    for model in params.model_names() if models is None else models:
        entry = params.models[model]
        if entry.trainer == "keras":
            entry = entry.model_copy(update={"loop": "scan"})  # fit's bits, in a fraction of its time
        trained = trainers.get(entry.trainer).train(entry, params.network, params.train.epochs, dataset)
        out["metrics"][model] = evaluate(trained.network, dataset, trained.activation,
                                         int(trained.history.first_nonfinite_epoch), truth)
    for model in seeds:
        entry = params.models[model]
        replicate = trainers.get(entry.trainer).make_replicate(entry, params.network, params.data,
                                                               params.train.epochs, params.stats.seed)
        result, _ = run_batch(replicate, range(params.stats.n_seeds))
        out["seeds"][model] = summarize_replicates(result.validate_mse, result.true_mse, diverged(result))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=ISAS, required=True)
    parser.add_argument("--models", nargs="*", help="single-run models (default: every model)")
    parser.add_argument("--seeds", nargs="*", default=[], help="models whose replicate batch to run too")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv[1:])
    if args.inside:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_inside(args.models, args.seeds)))
    else:
        print(json.dumps(run(args.isa, args.models, args.seeds), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
