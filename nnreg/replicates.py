"""Many networks at once: one model over replicate seeds (and learning rates), in one
compiled, vmapped call spread over every local device.

Replicate `i` draws its key as `fold_in(PRNGKey(seed), i)` and splits it into a data
key (fresh noise for the training and validation sets, the same x grid) and an init
key. So replicate `i` is the same whatever the batch size or the number of devices,
and every model sees the same replicates: comparisons between models are paired.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from nnreg import NnregError
from nnreg.config import DataParams, JaxModel
from nnreg.data import dataset_from_key, true_grid
from nnreg.jax_training import init_model, make_model_train_fn
from nnreg.network import mse
from nnreg.training import device_info


class ReplicateResult(NamedTuple):
    """One replicate's end point; under vmap, each field gets a leading (n,) axis."""

    train_mse: jax.Array  # float32 scalar
    validate_mse: jax.Array  # float32 scalar
    true_mse: jax.Array  # float32 scalar: against sqrt(x) + sin(x) on a dense grid
    first_nonfinite_epoch: jax.Array  # int32 scalar, -1 if the training loss stayed finite


def diverged(result: ReplicateResult) -> np.ndarray:
    """(n,) bool: the replicates whose training loss went non-finite, or whose end point is not finite."""
    return ((np.asarray(result.first_nonfinite_epoch) >= 0) | ~np.isfinite(result.train_mse)
            | ~np.isfinite(result.validate_mse) | ~np.isfinite(result.true_mse))


def replicate_keys(seed: int, index: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(data key, init key) of replicate `index`."""
    data_key, init_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), index))
    return data_key, init_key


def make_replicate_fn(model: JaxModel, data: DataParams, epochs: int, seed: int) -> Callable:
    """`one(index, learning_rate=None) -> ReplicateResult`: draws replicate `index`'s data and
    initial network, trains a resolved `model` on it and evaluates it. Pure; vmap it."""
    x_grid, y_true = true_grid(data)

    def one(index, learning_rate=None):
        data_key, init_key = replicate_keys(seed, index)
        dataset = dataset_from_key(data_key, data)
        train = make_model_train_fn(model, epochs, learning_rate, validate_every_epoch=False)
        params, history = train(init_model(model, init_key), *dataset)
        return ReplicateResult(
            mse(params, dataset.x_train, dataset.y_train, model.activation),
            mse(params, dataset.x_validate, dataset.y_validate, model.activation),
            mse(params, x_grid, y_true, model.activation),
            history.first_nonfinite_epoch,
        )

    return one


class BatchTiming(NamedTuple):
    n_networks: int
    n_devices: int
    compile_s: float
    runtime_s: float
    device: str
    platform: str
    memory_bytes: int  # per device, as XLA's compiled memory analysis counts it


def _free_bytes(device) -> int | None:
    """Memory the batch may use on `device`: the accelerator's free memory, or the host's available RAM."""
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return stats["bytes_limit"] - stats.get("bytes_in_use", 0)
        return None
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def compile_batch(one: Callable, indices, learning_rates=None, what: str = "this batch", devices=None):
    """Compiles `jax.vmap(one)` for `indices` (and `learning_rates`, the same length), the batch
    split evenly over `devices` (default: every local device).

    The batch is padded with further replicates to a multiple of the device count (their
    results are to be dropped). Fails, saying how much memory it needs, if the batch would
    not fit. Returns (compiled, its arguments, compile seconds, bytes per device)."""
    indices = np.asarray(indices, dtype=np.int32)
    n = len(indices)
    devices = list(devices or jax.devices())
    pad = (-n) % len(devices)
    args = [np.concatenate([indices, indices.max(initial=0) + 1 + np.arange(pad, dtype=np.int32)])]
    if learning_rates is not None:
        rates = np.asarray(learning_rates, dtype=np.float32)
        args.append(np.concatenate([rates, np.full(pad, rates[-1] if n else 1e-3, dtype=np.float32)]))
    sharding = NamedSharding(Mesh(np.array(devices), ("replica",)), P("replica"))
    args = [jax.device_put(a, sharding) for a in args]

    start = time.perf_counter()
    # On the CPU, LLVM's -O1 halves this program's compile time (about 4.5 s -> 2.2 s on
    # 2 cores) with the same run time and, measured on every default model, the same bits.
    options = {"xla_backend_optimization_level": 1} if devices[0].platform == "cpu" else {}
    compiled = jax.jit(jax.vmap(one)).lower(*args).compile(compiler_options=options)
    compile_s = time.perf_counter() - start
    memory = _memory_needed(compiled)
    free = _free_bytes(devices[0])
    # Host devices share one RAM; accelerators each have their own.
    need = memory * (len(devices) if devices[0].platform == "cpu" else 1)
    if free is not None and need > 0.9 * free:
        raise NnregError(f"{what}: {n} networks need about {_gib(need)} of memory, but {_gib(free)} is free; "
                         f"use fewer replicates, learning rates or data points")
    return compiled, args, compile_s, memory


def run_batch(one: Callable, indices, learning_rates=None, what: str = "this batch",
              devices=None) -> tuple[ReplicateResult, BatchTiming]:
    """Runs `jax.vmap(one)` over `indices` (and `learning_rates`) in one compiled call spread
    over every device (see `compile_batch`). Returns numpy results and the timing."""
    devices = list(devices or jax.devices())
    compiled, args, compile_s, memory = compile_batch(one, indices, learning_rates, what, devices)
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    runtime_s = time.perf_counter() - start
    n = len(indices)
    result = ReplicateResult(*(np.asarray(a)[:n] for a in out))
    device, platform = device_info()
    return result, BatchTiming(n, len(devices), compile_s, runtime_s, device, platform, memory)


def _memory_needed(compiled) -> int:
    """Bytes per device that the compiled program allocates (arguments, outputs, temporaries, code)."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
               + m.generated_code_size_in_bytes - m.alias_size_in_bytes)
