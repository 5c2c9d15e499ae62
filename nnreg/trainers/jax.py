"""The JAX trainer: nnreg's one jitted training loop (`nnreg.core.training`) with the entry's
optimizer (`nnreg.core.optimizers`: hand-written GD or Optax's), learning rate or schedule, L2
penalty, and the network's layer sizes, activation and initialisation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

import jax
import jax.numpy as jnp

from nnreg.core.data import Dataset, true_grid
from nnreg.core.network import Network, init_network
from nnreg.core.optimizers import Optimizer, make_optimizer, make_schedule
from nnreg.core.replicates import Replicate, end_point, replicate_dataset, replicate_keys
from nnreg.core.training import device_info, make_epoch, make_train_fn
from nnreg.trainers.base import Progress, Trained, TrainTiming

if TYPE_CHECKING:
    from nnreg.params.schema import DataParams, JaxModel, NetworkParams


def optimizer_of(model: JaxModel, learning_rate=None) -> Optimizer:
    """The entry's optimizer; `learning_rate` (maybe traced: a sweep) overrides its rate or schedule."""
    if learning_rate is not None:
        rate = learning_rate
    elif model.schedule is not None:
        rate = make_schedule(model.schedule.name, model.schedule.args)
    else:
        rate = model.learning_rate
    return make_optimizer(model.optimizer, rate, model.settings)


def init_model(model: JaxModel, key: jax.Array) -> Network:
    """A resolved entry's initial (W, b) layers, drawn from `key`."""
    return init_network(key, model.layer_sizes, model.init)


def make_model_train_fn(model: JaxModel, epochs: int, learning_rate=None, validate_every_epoch: bool = True,
                        shared_x: bool = False) -> Callable:
    """`train(params, x, y, x_validate, y_validate) -> (params, History)` for a resolved entry
    (`shared_x`: x_validate is x, see `make_train_fn`)."""
    return make_train_fn(optimizer_of(model, learning_rate), epochs, model.activation, model.l2,
                         validate_every_epoch, shared_x)


def compile_and_time(train_fn: Callable, args: tuple) -> tuple[tuple, TrainTiming]:
    """Compiles `train_fn` for `args`, then runs it once; both timed, as the lecture's warm-up does.

    `train_fn` returns (params, History) and runs every epoch (a diverged run is held, not
    stopped). Returns the outputs and a `TrainTiming`. (benchmarks/ takes medians over many runs.)
    """
    start = time.perf_counter()
    compiled = train_fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    runtime_s = time.perf_counter() - start
    return out, TrainTiming(compile_s, runtime_s, *device_info(), epochs=len(out[1].train_loss))


def train(entry: JaxModel, network: NetworkParams, epochs: int, dataset: Dataset,
          progress: Progress | None = None) -> Trained:
    """The single run: the initial network from `PRNGKey(network.init_seed)`, one compiled scan
    over epochs (which reports no progress while it runs)."""
    del progress
    model = entry.resolve(network)
    initial = init_model(model, jax.random.PRNGKey(network.init_seed))
    train_fn = make_model_train_fn(model, epochs, shared_x=dataset.shares_x())  # one forward pass an epoch, not two
    (trained, history), timing = compile_and_time(train_fn, (initial, *dataset))
    return Trained(trained, history, timing, model.activation)


def make_replicate(entry: JaxModel, network: NetworkParams, data: DataParams, epochs: int, seed: int) -> Replicate:
    """Replicate `index`: its own data and initial network, trained without the per-epoch
    validation pass (only the end point is kept), then evaluated."""
    model = entry.resolve(network)
    truth = true_grid(data)

    def start(index, learning_rate=None):
        _, init_key = replicate_keys(seed, index)
        params = init_model(model, init_key)
        return params, optimizer_of(model, learning_rate).init(params), jnp.int32(-1)

    def advance(carry, index, learning_rate, begin, end):
        epoch = make_epoch(optimizer_of(model, learning_rate), model.activation, model.l2, validate_every_epoch=False)
        train = replicate_dataset(seed, index, data)
        return jax.lax.fori_loop(begin, end, lambda i, c: epoch(c, i, train)[0], carry)

    def finish(carry, index):
        params, _, first_bad = carry
        return end_point(params, first_bad, replicate_dataset(seed, index, data), truth, model.activation)

    return Replicate(start, advance, finish, epochs)
