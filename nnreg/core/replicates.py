"""Many networks at once: one model over replicate seeds (and learning rates), in one
compiled, vmapped program spread over the devices. Each trainer makes its `Replicate`
(`nnreg.trainers.base.Trainer.make_replicate`); this module batches and runs it.

Replicate `i` draws its key as `fold_in(PRNGKey(seed), i)` and splits it into a data
key (fresh noise for the training and validation sets, the same x grid) and an init
key. So replicate `i` is the same whatever the batch size or the number of devices.
What "the same replicates for every model" means: replicate `i` of every model trains on
the same data draws (the comparisons between models are paired on them); its initial
network comes from the same init key, so models of the same shape and initializer start
from the same weights, while a network of another shape, another initializer or Keras's
own initialisers draws other weights from that key.
"""

from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from nnreg.core import training
from nnreg.core.data import DataSpec, dataset_from_key
from nnreg.core.network import Activation, mse
from nnreg.core.training import device_info


class ReplicateResult(NamedTuple):
    """One replicate's end point; under vmap, each field gets a leading (n,) axis."""

    train_mse: jax.Array  # float32 scalar
    validate_mse: jax.Array  # float32 scalar
    true_mse: jax.Array  # float32 scalar: against sqrt(x) + sin(x) on a dense grid
    first_nonfinite_epoch: jax.Array  # int32 scalar, -1 if the training loss stayed finite


def diverged(result: ReplicateResult) -> np.ndarray:
    """(n,) bool: the replicates that diverged (`nnreg.core.training.diverged`'s rule)."""
    return training.diverged(result.first_nonfinite_epoch, result.train_mse, result.validate_mse, result.true_mse)


def replicate_keys(seed: int, index: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(data key, init key) of replicate `index`."""
    data_key, init_key = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), index))
    return data_key, init_key


def replicate_dataset(seed: int, index: jax.Array, data: DataSpec) -> tuple:
    """Replicate `index`'s (x, y, x_validate, y_validate): the lecture's generator from its data key.
    Every trainer's replicate draws it inside the program that uses it (see `Replicate`)."""
    data_key, _ = replicate_keys(seed, index)
    return tuple(dataset_from_key(data_key, data))


def end_point(params, first_bad: jax.Array, dataset: tuple, truth: tuple, activation: Activation) -> ReplicateResult:
    """A trained replicate's result: `nnreg.core.network.mse` on its training and validation sets and
    on the true function's dense grid (`truth`), the same function for every trainer."""
    x, y, x_validate, y_validate = dataset
    return ReplicateResult(mse(params, x, y, activation), mse(params, x_validate, y_validate, activation),
                           mse(params, *truth, activation), first_bad)


class Replicate(NamedTuple):
    """One replicate in three pure steps, each to be vmapped over the batch, so that a long
    batch runs in chunks with a progress line between them:

    start(index, learning_rate) -> carry                 the initial network and optimizer state
    advance(carry, index, learning_rate, begin, end) -> carry   trains epochs begin .. end - 1
    finish(carry, index) -> ReplicateResult              evaluates the end point

    `carry` is the training loop's (params, optimizer state, first non-finite epoch). Each
    step draws the replicate's data from its key again rather than carrying it: computed
    inside the program that uses it, it has the same bits as in one program for the whole
    run (the committed replicate results), where a dataset carried between programs did not.
    `learning_rate` is None (the model's own) or a traced rate that overrides it. Called as
    `replicate(index, learning_rate=None)`, it runs all three for every epoch."""

    start: Callable
    advance: Callable
    finish: Callable
    epochs: int

    def __call__(self, index, learning_rate=None) -> ReplicateResult:
        carry = self.advance(self.start(index, learning_rate), index, learning_rate, 0, self.epochs)
        return self.finish(carry, index)


class BatchTiming(NamedTuple):
    n_networks: int
    n_devices: int
    compile_s: float
    runtime_s: float
    device: str
    platform: str
    memory_bytes: int  # per device, as XLA's compiled memory analysis counts it


# A batch runs in chunks with a progress line after each: the first a tenth of the epochs,
# then as many as keep each under PROGRESS_EVERY_S seconds at the first one's pace (at
# most one a tenth). Every chunk boundary costs a barrier between the devices
# (benchmarks/replicates.py measures it), so a batch of a few seconds runs in two.
PROGRESS_EVERY_S = 5.0


class Batch(NamedTuple):
    """A compiled batch of replicates: `run()` trains it from the start, chunk by chunk."""

    start: Callable  # compiled vmap(replicate.start)
    advance: Callable  # compiled vmap(replicate.advance); the epoch bounds are traced
    finish: Callable  # compiled vmap(replicate.finish)
    args: tuple  # (indices, learning rates or None), padded and sharded
    epochs: int
    n: int  # networks asked for (the rest is padding)
    compile_s: float
    memory_bytes: int  # per device, as XLA's compiled memory analysis counts it
    devices: tuple  # the devices the batch is split over

    def run(self, progress: Callable[[int, int, float], None] | None = None,
            every_s: float = PROGRESS_EVERY_S) -> ReplicateResult:
        """Trains every network for all epochs; with `progress`, in chunks (see
        PROGRESS_EVERY_S), calling `progress(epochs done, epochs, mean training MSE of the
        finite networks)` after each (and `progress(0, ...)` as it starts). Without it, in one
        call. Either way, the same bits."""
        indices, rates = self.args
        carry = self.start(indices, rates)
        if progress is None:
            return self._result(self.finish(self.advance(carry, indices, rates, np.int32(0), np.int32(self.epochs)),
                                            indices))
        done, first = 0, max(1, self.epochs // 10)
        progress(0, self.epochs, float("nan"))
        started = time.perf_counter()
        while done < self.epochs:
            if done == 0:
                end = first
            else:  # the rest, at the first chunk's pace, in chunks of at most every_s seconds and a tenth
                pace = (time.perf_counter() - started) / done
                left = pace * (self.epochs - done)
                by_time = math.ceil(left / every_s) if every_s > 0 else self.epochs
                n_chunks = max(1, min(-(-(self.epochs - done) // first), by_time))
                end = done + -(-(self.epochs - done) // n_chunks)
            carry = self.advance(carry, indices, rates, np.int32(done), np.int32(end))
            done = end
            out = self.finish(carry, indices)  # after the last chunk, also the result
            loss = np.asarray(out.train_mse)[: self.n]
            progress(done, self.epochs, float(np.mean(loss[np.isfinite(loss)])) if np.isfinite(loss).any()
                     else float("nan"))
        return self._result(out)

    def _result(self, out) -> ReplicateResult:
        out = jax.block_until_ready(out)
        return ReplicateResult(*(np.asarray(a)[: self.n] for a in out))


def compile_batch(replicate: Replicate, indices, learning_rates=None, devices=None) -> Batch:
    """Compiles `replicate`'s three steps, vmapped, for `indices` (and `learning_rates`, the
    same length), the batch split evenly over `devices` (default: every local device).

    The batch is padded with further replicates to a multiple of the device count (their
    results are dropped). `Batch.memory_bytes` says what it needs per device, before it runs."""
    indices = np.asarray(indices, dtype=np.int32)
    n = len(indices)
    devices = list(devices or jax.devices())
    pad = (-n) % len(devices)
    sharding = NamedSharding(Mesh(np.array(devices), ("replica",)), P("replica"))
    index_arg = jax.device_put(np.concatenate([indices, indices.max(initial=0) + 1 + np.arange(pad, dtype=np.int32)]),
                               sharding)
    rate_arg = None
    if learning_rates is not None:
        rates = np.asarray(learning_rates, dtype=np.float32)
        rate_arg = jax.device_put(np.concatenate([rates, np.full(pad, rates[-1] if n else 1e-3, dtype=np.float32)]),
                                  sharding)
    rate_axis = None if rate_arg is None else 0

    start = time.perf_counter()
    # On the CPU, LLVM's -O1: faster compiles, the same run time and bits on every default model
    # (benchmarks/replicates.py; docs/performance.md).
    options = {"xla_backend_optimization_level": 1} if devices[0].platform == "cpu" else {}
    start_batch = jax.vmap(replicate.start, in_axes=(0, rate_axis))
    start_fn = jax.jit(start_batch, out_shardings=sharding).lower(index_arg, rate_arg).compile(compiler_options=options)
    carry = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
                         jax.eval_shape(start_batch, index_arg, rate_arg))
    scalar = jax.ShapeDtypeStruct((), jnp.int32)
    advance = jax.jit(jax.vmap(replicate.advance, in_axes=(0, 0, rate_axis, None, None)), out_shardings=sharding).lower(
        carry, index_arg, rate_arg, scalar, scalar).compile(compiler_options=options)
    finish = jax.jit(jax.vmap(replicate.finish)).lower(carry, index_arg).compile(compiler_options=options)
    compile_s = time.perf_counter() - start
    return Batch(start_fn, advance, finish, (index_arg, rate_arg), replicate.epochs, n, compile_s,
                 memory_needed(advance), tuple(devices))


def run_batch(replicate: Replicate, indices, learning_rates=None, devices=None,
              progress: Callable[[int, int, float], None] | None = None,
              check: Callable[[Batch], None] | None = None) -> tuple[ReplicateResult, BatchTiming]:
    """Compiles `replicate` over `indices` (and `learning_rates`; see `compile_batch`), then
    trains it (`train_compiled`, with `check` and `progress`). Returns numpy results and the timing."""
    return train_compiled(compile_batch(replicate, indices, learning_rates, devices), progress, check)


def train_compiled(batch: Batch, progress: Callable[[int, int, float], None] | None = None,
                check: Callable[[Batch], None] | None = None) -> tuple[ReplicateResult, BatchTiming]:
    """Hands a compiled batch to `check` (a stage's memory check raises there, before any
    training), then trains it (`Batch.run`, with `progress`). Returns numpy results and the
    timing. A batch compiled elsewhere (in a thread, ahead of time) trains here the same."""
    if check is not None:
        check(batch)
    start = time.perf_counter()
    result = batch.run(progress)
    runtime_s = time.perf_counter() - start
    device, platform = device_info()
    return result, BatchTiming(batch.n, len(batch.devices), batch.compile_s, runtime_s, device, platform,
                               batch.memory_bytes)


def memory_needed(compiled) -> int:
    """Bytes per device that the compiled program allocates (arguments, outputs, temporaries, code)."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
               + m.generated_code_size_in_bytes - m.alias_size_in_bytes)
