"""Where a single run's epoch goes: the lecture's 1-10-10-10-1 network, its data, 4,000 epochs,
built up one piece at a time, each piece a jitted loop timed in this process under nnreg's CPU
target (the stages' pins), interleaved, medians of `--repeats` runs:

- lecture: the lecture's own loop (lecture/reference.py: row layout, `fori_loop`, nothing recorded);
- step: nnreg's forward and backward pass (feature-major) and the gradient step, nothing recorded;
- + train loss: the same, the training loss recorded every epoch (`lax.scan`, two epochs an
  iteration as train@'s loop: `training.UNROLL`);
- gd, optax_sgd, optax_adam: nnreg's training function as train@ runs it (both losses every
  epoch from one forward pass, the divergence rule), `make_train_fn`.

For each: µs an epoch, the kernels an epoch (the instructions XLA's CPU runtime runs one by one
in the loop's body: fusions, library calls, copies; read from the compiled program) and µs a
kernel. The arithmetic is tiny (about 0.5 MFLOP an epoch), so an epoch costs what its kernels
cost to run one after another: the table says how many each piece adds.

`--profile`: where the CPU time of gd's and optax_adam's train@ loops goes, by kind of code, from
Linux `perf` (needed on the PATH) attached to a process running each loop `--repeats` x 8 times
once it is compiled: XLA's compiled kernels (the fusions: tanh, the updates), YNNPACK's matrix
products, XLA's runtime (its thunks' dispatch and its thread pool), libc, the OS.

    python benchmarks/epoch_cost.py [--repeats 7] [--epochs 4000] [--profile]
"""

import argparse
import collections
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnreg.runtime import machine  # noqa: E402

machine.setup(compilation_cache=False)

import jax  # noqa: E402

from lecture import reference  # noqa: E402
from nnreg.core.data import make_dataset  # noqa: E402
from nnreg.core.network import init_network  # noqa: E402
from nnreg.core.training import UNROLL, make_gradient, make_train_fn  # noqa: E402
from nnreg.params.schema import DataParams, Params  # noqa: E402
from nnreg.trainers.jax import optimizer_of  # noqa: E402

SIZES, RATE = (1, 10, 10, 10, 1), 0.001
NOT_RUN = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}  # no work at run time


def kernels_per_epoch(compiled, epochs: int) -> float:
    """The instructions of the (single) while loop's body that run, times its trip count, over
    `epochs`: its kernels an epoch (a body may run several epochs: `training.UNROLL`)."""
    text = compiled.as_text()
    loop = re.search(r"while\([^\n]*body=%?([\w.\-]+)[^\n]*", text)
    trips = int(re.search(r'known_trip_count":\{"n":"(\d+)"', loop.group(0)).group(1))
    block = re.search(r"^%?" + re.escape(loop.group(1)) + r" .*?\{\n(.*?)\n\}", text, flags=re.S | re.M).group(1)
    ops = re.findall(r"=\s*(?:\([^=]*\)|\S+)\s+([\w\-]+)\(", block)
    return sum(op not in NOT_RUN for op in ops) * trips / epochs


def pieces(epochs: int, data) -> dict:
    """name -> (jitted function, its arguments)."""
    x, y = data.x_train, data.y_train
    gradient = make_gradient("tanh")

    def step(params):
        (_, loss), grads = gradient(params, x, y)
        return jax.tree.map(lambda p, g: p - RATE * g, params, grads), loss

    def steps(params):
        return jax.lax.fori_loop(0, epochs, lambda _, p: step(p)[0], params)

    def steps_recorded(params):
        return jax.lax.scan(lambda p, _: step(p), params, None, length=epochs, unroll=UNROLL)

    models = Params().models
    out = {"lecture": (jax.jit(lambda t: reference.train_gd(t, x, y, epochs, RATE)), ()),
           "step": (jax.jit(steps), ()), "+ train loss": (jax.jit(steps_recorded), ())}
    for model in ("gd", "optax_sgd", "optax_adam"):
        out[model] = (make_train_fn(optimizer_of(models[model], RATE), epochs, shared_x=data.shares_x()), tuple(data))
    return out


KINDS = (("XLA's compiled kernels", lambda dso, sym: dso.startswith("[JIT]")),
         ("YNNPACK's products", lambda dso, sym: "ynn" in sym or "slinky" in sym),
         ("other products (Eigen, oneDNN)", lambda dso, sym: any(k in sym for k in ("dnnl", "gemm", "Contraction"))),
         ("XLA's runtime: dispatch, thread pool", lambda dso, sym: any(k in sym for k in ("xla::", "Eigen::", "tsl::",
                                                                                       "absl::", "std::"))),
         ("C and C++ libraries: allocation, copies", lambda dso, sym: dso.startswith(("libc", "ld-linux", "libstdc++",
                                                                                       "libgcc", "libm"))),
         ("the OS", lambda dso, sym: "kernel" in dso))


def loop_for_perf(model: str, runs: int, epochs: int) -> int:
    """The child of `--profile`: compiles `model`'s train@ loop, says so, waits for a line on
    stdin (perf attached), then runs it `runs` times."""
    data = make_dataset(DataParams())
    args = (init_network(jax.random.PRNGKey(1234), SIZES), *data)
    compiled = pieces(epochs, data)[model][0].lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    print("compiled", flush=True)
    sys.stdin.readline()
    for _ in range(runs):
        jax.block_until_ready(compiled(*args))
    return 0


def profile(model: str, runs: int, epochs: int) -> dict[str, float]:
    """The share of CPU time (%) of each of KINDS in `runs` runs of `model`'s train@ loop."""
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen([sys.executable, __file__, "--loop", model, "--runs", str(runs), "--epochs",
                                  str(epochs)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "compiled"
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "4999", "-p", str(child.pid), "-o", f"{tmp}/perf.data"],
                                stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attached
        child.stdin.write("go\n")
        child.stdin.close()
        child.wait()
        perf.wait()
        report = subprocess.run(["perf", "report", "-i", f"{tmp}/perf.data", "--no-children", "--sort", "dso,sym",
                                 "--stdio"], capture_output=True, text=True, check=True).stdout
    shares: dict[str, float] = collections.Counter()
    for share, dso, sym in re.findall(r"^\s+([\d.]+)%\s+(\S.*?)\s+\[.\]\s+(.*)$", report, flags=re.M):
        kind = next((k for k, test in KINDS if test(dso, sym)), "other")
        shares[kind] += float(share)
    return shares


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=4000)
    ap.add_argument("--profile", action="store_true", help="where gd's and optax_adam's CPU time goes (Linux perf)")
    ap.add_argument("--loop", help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.loop:
        return loop_for_perf(a.loop, a.runs, a.epochs)
    if a.profile:
        shares = {model: profile(model, 8 * a.repeats, a.epochs) for model in ("gd", "optax_adam")}
        print(f"{machine.cpu_info()['model']}, perf, {8 * a.repeats} runs of {a.epochs} epochs, "
              f"{time.strftime('%Y-%m-%d')}: % of the CPU time")
        print("| code | gd | optax_adam |\n| --- | ---: | ---: |")
        for kind in [k for k, _ in KINDS] + ["other"]:
            print(f"| {kind} | {shares['gd'].get(kind, 0):.1f} | {shares['optax_adam'].get(kind, 0):.1f} |")
        return 0
    data = make_dataset(DataParams())
    theta = init_network(jax.random.PRNGKey(1234), SIZES)
    compiled, runs = {}, {}
    for name, (fn, rest) in pieces(a.epochs, data).items():
        args = (theta, *rest) if rest else (theta,)
        compiled[name] = (fn.lower(*args).compile(), args)
        jax.block_until_ready(compiled[name][0](*args))
        runs[name] = []
    for _ in range(a.repeats):  # interleaved: each round runs every piece once
        for name, (c, args) in compiled.items():
            start = time.perf_counter()
            jax.block_until_ready(c(*args))
            runs[name].append(time.perf_counter() - start)

    dev = jax.devices()[0]
    print(f"{machine.cpu_info()['model']} ({dev.platform}, {machine.target()} target), jax {jax.__version__}, "
          f"{a.epochs} epochs, medians of {a.repeats}, {time.strftime('%Y-%m-%d')}")
    print("| piece | ms | µs/epoch | kernels/epoch | µs/kernel |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (c, _) in compiled.items():
        seconds, k = statistics.median(runs[name]), kernels_per_epoch(c, a.epochs)
        per_epoch = 1e6 * seconds / a.epochs
        print(f"| {name} | {1e3 * seconds:.1f} | {per_epoch:.1f} | {k:g} | {per_epoch / k:.2f} |")
    flops = 2 * 3 * data.x_train.shape[0] * sum(i * o for i, o in zip(SIZES[:-1], SIZES[1:]))
    print(f"the arithmetic: about {flops / 1e6:.2f} MFLOP an epoch (forward and backward passes' products)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
