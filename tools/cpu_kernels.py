"""The portable target's guard: every kind of program the pipeline compiles, compiled in a fresh
process with XLA's dump on, then read for kernels that pick their arithmetic by the CPU they run
on (`nnreg.runtime.kernels`). Prints what each kind of program uses; exits 1 on a finding.

    python tools/cpu_kernels.py [--kinds data single ...] [--flags "--xla_..."]

The programs are the stages' own, at params.yaml's shapes, under the stages' machine set-up
(the pins, with your XLA_FLAGS honoured; `--flags` adds more) and without the compilation cache
(a program read back from it is not compiled, so not dumped):

- data: the data set and the true-function grid (the data stage);
- single: every model's single run by its trainer (Keras's `fit` for a few epochs: it compiles
  one step whatever the epochs), then its evaluation and predictions, as train@ does; the
  Keras model's `scan` loop too;
- seeds: every model's replicate batch (start, advance, finish), compiled;
- sweep: every swept model's batch over its learning rates, compiled;
- search: the search's programs for its shallowest depth (the widest layers) and its deepest
  (every depth's is the same program, wider or deeper), compiled;
- confirm: the batches of the committed search's confirmed entries (metrics/search.json),
  compiled.

tests/training/test_cpu_kernels.py runs it in `make test`: it fails on any finding, so a new
jaxlib or a user's XLA_FLAGS that hands the pipeline's arithmetic to a CPU-picked kernel is
caught on whatever CPU runs the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("data", "single", "seeds", "sweep", "search", "confirm")
FIT_EPOCHS = 3  # Keras's fit compiles its step once, whatever the epochs


def run(kinds=KINDS, flags: str = "", models: list[str] | None = None, timeout: float = 900) -> dict:
    """Compiles the programs of `kinds` (of `models` only, default every model) in a fresh
    process, under this environment's XLA_FLAGS with `flags` in place of any of the same name,
    and reads them. Returns {"machine": the process's record, "kinds": {kind: {"modules": how
    many programs, "uses": {use: count}}}, "findings": [{"kind", "module", "use",
    "instruction", "op_name"}]}, each kind with its programs' names too."""
    with tempfile.TemporaryDirectory(prefix="nnreg-cpu-kernels-") as dump:
        env = dict(os.environ, JAX_PLATFORMS="cpu", KERAS_BACKEND="jax", PYTHONPATH=str(ROOT))
        given = {flag.split("=", 1)[0] for flag in flags.split()}
        kept = [flag for flag in env.get("XLA_FLAGS", "").split() if flag.split("=", 1)[0] not in given]
        env["XLA_FLAGS"] = " ".join([*kept, *flags.split(), f"--xla_dump_to={dump}", "--xla_dump_hlo_as_text"])
        args = [sys.executable, str(Path(__file__).resolve()), "--inside", "--kinds", *kinds]
        args += ["--models", *models] if models else []
        out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
        inside = json.loads(out.stdout.splitlines()[-1])
        return {"machine": inside["machine"], **read_dump(Path(dump), inside["modules"])}


def read_dump(dump: Path, modules: dict[str, list[str]]) -> dict:
    """What XLA's dump in `dump` holds, by kind (`modules`: kind -> the module ids it compiled)."""
    from nnreg.runtime import kernels

    out = {"kinds": {}, "findings": []}
    for kind, ids in modules.items():
        counts: dict[str, int] = {}
        names = set()
        for module in ids:
            [hlo] = dump.glob(f"module_{module}.*.cpu_after_optimizations.txt")
            options = next(dump.glob(f"module_{module}.*debug_options"), None)
            options = options.read_text() if options else None
            dependent = options is not None and kernels.platform_dependent_math(options)
            emitted = kernels.kernel_names(p.name for p in dump.glob(f"module_{module}.*_kernel_module.ir-with-opt.ll"))
            found = kernels.uses(hlo.read_text(), dependent, emitted)
            for use, _ in found:
                counts[use] = counts.get(use, 0) + 1
            name = hlo.name.split(".")[1]
            names.add(name)
            out["findings"] += [{"kind": kind, "module": f"{module} {name}", **f._asdict()}
                                for f in kernels.judge(found, options)]
        out["kinds"][kind] = {"modules": len(ids), "programs": sorted(names), "uses": dict(sorted(counts.items()))}
    return out


def describe(finding: dict) -> str:
    """One finding of `run` in a line: where, what, the instruction and the JAX operation."""
    return (f"[{finding['kind']} {finding['module']}] {finding['use']}: {finding['instruction']}"
            + (f" ({finding['op_name']})" if finding["op_name"] else ""))


def _module_ids(dump: Path) -> set[str]:
    return {m.group(1) for p in dump.iterdir() if (m := re.match(r"module_(\d+)\..*cpu_after_optimizations\.txt$",
                                                                  p.name))}


def _inside(kinds: list[str], models: list[str] | None) -> dict:
    """In the fresh process: compiles each kind's programs; returns the module ids each made."""
    from nnreg.runtime import machine

    machine.setup(compilation_cache=False)

    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from nnreg import trainers
    from nnreg.core.data import make_dataset, true_grid
    from nnreg.core.evaluate import evaluate, predict
    from nnreg.core.network import LayerParams
    from nnreg.core.replicates import compile_batch
    from nnreg.params.load import load_params
    from nnreg.params.schema import JaxModel
    from nnreg.search.study import SearchPrograms

    params = load_params(ROOT / "params.yaml")
    epochs, n = params.train.epochs, params.stats.n_seeds
    chosen = {m: e for m, e in params.models.items() if models is None or m in models}
    pool = ThreadPoolExecutor(max_workers=2)  # XLA compiles outside Python's lock

    def compile_all(batches):  # [(replicate, indices, learning rates or None)]
        list(pool.map(lambda b: compile_batch(*b), batches))

    def replicate(entry):
        return trainers.get(entry.trainer).make_replicate(entry, params.network, params.data, epochs,
                                                          params.stats.seed)

    def single():
        dataset, truth = make_dataset(params.data), true_grid(params.data)
        for entry in chosen.values():
            loops = [entry] if entry.trainer != "keras" else [entry.model_copy(update={"loop": loop})
                                                              for loop in ("fit", "scan")]
            for e in loops:
                trained = trainers.get(e.trainer).train(e, params.network, FIT_EPOCHS if getattr(e, "loop", "") == "fit"
                                                        else epochs, dataset)
                network = [LayerParams(*map(np.asarray, layer)) for layer in trained.network]  # as read back
                evaluate(network, dataset, trained.activation, int(trained.history.first_nonfinite_epoch), truth)
                predict(network, dataset.x_validate, trained.activation)

    def seeds():
        compile_all([(replicate(entry), np.arange(n), None) for entry in chosen.values()])

    def sweep():
        rates, k = params.sweep.learning_rates, params.sweep.n_seeds
        compile_all([(replicate(params.models[model]), np.tile(np.arange(k), len(rates)),
                      np.repeat(np.asarray(rates, dtype=np.float32), k)) for model in params.sweep.models
                     if model in chosen])

    def search():  # the shallowest depth's program (the widest layers) and the deepest's
        eligible = params.search.shapes_eligible()
        ends = [s for s in eligible if len(s) in (len(eligible[0]), len(eligible[-1]))]
        SearchPrograms(params.model_copy(update={"search": params.search.model_copy(update={"shapes": ends})})).wait()

    def confirm():
        committed = json.loads((ROOT / "metrics/search.json").read_text()).get("confirmed", {})
        entries = [{k: v for k, v in confirmed["entry"].items() if k != "trainer"} for confirmed in committed.values()]
        compile_all([(replicate(JaxModel.of(e.pop("optimizer"), **e)), np.arange(n), None) for e in entries])

    steps = {"data": lambda: (make_dataset(params.data), true_grid(params.data)), "single": single, "seeds": seeds,
             "sweep": sweep, "search": search, "confirm": confirm}
    dump = Path(re.search(r"--xla_dump_to=(\S+)", os.environ["XLA_FLAGS"]).group(1))
    modules = {}
    for kind in kinds:
        before = _module_ids(dump) if dump.exists() else set()
        steps[kind]()
        modules[kind] = sorted(_module_ids(dump) - before)
    return {"machine": machine.record(), "modules": modules}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="*", choices=KINDS, default=list(KINDS))
    parser.add_argument("--flags", default="", help="XLA flags in place of this environment's of the same name")
    parser.add_argument("--models", nargs="*", help="the models of single, seeds and sweep (default: every model)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv[1:])
    if args.inside:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_inside(args.kinds, args.models)))
        return 0
    sys.path.insert(0, str(ROOT))
    result = run(args.kinds, args.flags, args.models)
    print(f"XLA_FLAGS: {result['machine']['xla_flags']}")
    print(f"{'kind':<8} {'programs':>8}  kernels outside XLA's code generation")
    for kind, seen in result["kinds"].items():
        uses = ", ".join(f"{use} x{count}" for use, count in seen["uses"].items()) or "none"
        print(f"{kind:<8} {seen['modules']:>8}  {uses}")
    for f in result["findings"]:
        print(f"FINDING {describe(f)}")
    print(f"{len(result['findings'])} findings")
    return 1 if result["findings"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
