"""What the pipeline's accuracy metrics would be on another machine: every single-run model and
replicate batches, trained and evaluated as their stages do, with XLA's CPU code generation
made to differ (another `--xla_cpu_max_isa`), in a fresh process. Prints JSON.

    python tools/other_machine.py --isa SSE4_2 [--models gd deep ...] [--seeds deep ...]

`--isa native` is this machine's own target with nothing pinned (`NNREG_CPU_TARGET=native`).
Nothing is written under the project: tests/test_portability.py compares what this prints with
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
    from nnreg import machine

    machine.setup()  # the stages' own edge: the pins (as this process's XLA_FLAGS leave them)
    import jax

    from nnreg.config import load_params
    from nnreg.data import true_grid
    from nnreg.evaluate import evaluate
    from nnreg.io import read_dataset

    params = load_params(ROOT / "params.yaml")
    dataset = read_dataset(ROOT / "data/dataset.npz")
    truth = true_grid(params.data)
    out = {"machine": machine.record(), "metrics": {}, "seeds": {}}
    for model in params.model_names() if models is None else models:
        entry = params.models[model]
        if entry.trainer == "keras":
            from nnreg.keras_training import build_model, keras, train

            net = params.network
            keras.utils.set_random_seed(net.init_seed)
            built = build_model(net.layer_sizes, net.activation, entry.learning_rate, entry.lecture_layer_count)
            trained, history, _ = train(built, *dataset, epochs=params.train.epochs, loop="scan")  # fit's bits
            activation = net.activation
        else:
            from nnreg.jax_training import init_model, make_model_train_fn

            spec = params.jax_model(model)
            initial = init_model(spec, jax.random.PRNGKey(params.network.init_seed))
            trained, history = make_model_train_fn(spec, params.train.epochs, shared_x=dataset.shares_x())(
                initial, *dataset)
            activation = spec.activation
        out["metrics"][model] = evaluate(trained, dataset, activation, int(history.first_nonfinite_epoch), truth)
    for model in seeds:
        from nnreg.replicates import diverged, run_batch
        from nnreg.stats import summarize_replicates

        if params.models[model].trainer == "keras":
            from nnreg.keras_replicates import make_replicate_fn

            replicate = make_replicate_fn(params.models[model], params.network, params.data, params.train.epochs,
                                          params.stats.seed)
        else:
            from nnreg.jax_replicates import make_replicate_fn

            replicate = make_replicate_fn(params.jax_model(model), params.data, params.train.epochs,
                                          params.stats.seed)
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
