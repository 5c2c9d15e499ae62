"""A trial's networks in one compiled program, one program per depth: a trial's widths,
activation, optimizer, settings, learning rates and L2 penalty are traced values, so the whole
search compiles as many programs as the space has depths.

The maths is the single network's (`nnreg.core.network`, `nnreg.core.training.make_epoch`,
`nnreg.core.optimizers`, `nnreg.core.replicates.end_point`), applied to a padded network:

- widths: a trial's networks are zero-padded to the widest shape of their depth in the space
  (`padded_shape`). A padded unit has zero incoming and outgoing weights and a zero bias, and
  its updates are masked to zero, so it adds exact zeros: the real units compute what the
  unpadded network computes (XLA may round the longer sums differently in the last bit).
- initial weights: drawn in the program from the replicate's init key, layer by layer as
  `nnreg.core.network.init_network` splits it, each layer by its initializer at the padded
  shape rescaled to the real one (`nnreg.core.initializers.init_within`: the same
  distribution; drawing each real shape would compile a program per shape, about a second each).
- activation: picked by index (`lax.switch` on a scalar shared by the call: only the chosen
  one runs), once an epoch, over the loss and its gradient.
- optimizer: every searched optimizer is built from traced settings (Optax's functions take
  traced numbers) and the trial's own is selected by index (an optimizer's update on 251
  parameters costs little beside the forward and backward passes over the data), all stepping
  the parameters as one flat vector (`optax.flatten`: a few kernels an optimizer, not a few per
  leaf, so the programs compile and train faster: docs/performance.md).
- learning rate: a table of one rate per epoch, evaluated on the host by Optax's schedule
  (`nnreg.search.space.rate_table`).
- epochs: traced bounds (`begin`, `end`) and the training state in and out (`Carry`), so each
  rung of successive halving goes on from the last one's state in the same program.

A call trains T trials of one depth and one activation on N search replicates each, M = T x N
networks (`search.trials_per_call` trials; N is `search.n_seeds` padded to a multiple of the
devices), split over the devices: per network `index` () int32, `widths` (depth + 2,) int32,
`init` () int32, `rates` (epochs,) float32, `optimizer` () int32, `settings` one () float32 per
searched setting, `l2` () float32; per call `activation` () int32 (a switch on a scalar shared
by the call runs only the chosen function; a per-network activation would compute all five).
Every network's numbers are the same whatever shares its call (tested).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from nnreg.core.activations import ACTIVATIONS
from nnreg.core.data import true_grid
from nnreg.core.initializers import init_within
from nnreg.core.network import LayerParams, Network
from nnreg.core.optimizers import FIXED_RATE, LINE_SEARCH, Optimizer, make_optimizer
from nnreg.core.replicates import ReplicateResult, end_point, memory_needed, replicate_dataset, replicate_keys
from nnreg.core.training import make_epoch, make_gradient, make_loss

if TYPE_CHECKING:
    from nnreg.params.schema import DataParams

# Search replicate i is replicate SEARCH_STREAM + i of `search.seed`: indices no stats or
# sweep replicate uses (those are below stats' MAX_SEEDS), so no reported statistic shares them.
SEARCH_STREAM = 2**30


def padded_shape(shapes) -> tuple[int, ...]:
    """The widest of `shapes` (all of one depth), layer by layer."""
    return tuple(int(n) for n in np.max(np.asarray(shapes), axis=0))


def masked(optimizer: Optimizer, where: Network) -> Optimizer:
    """`optimizer` whose updates are zero where `where` is 0 (the padding)."""

    def update(grads, state, params=None, **line_search):
        updates, state = optimizer.update(grads, state, params, **line_search)
        return jax.tree.map(lambda u, m: u * m, updates, where), state

    return Optimizer(optimizer.init, update, optimizer.line_search)


def only_if(flag: jax.Array, optimizer: Optimizer) -> Optimizer:
    """`optimizer`, stepping only when `flag` (a scalar of the whole call, so a real branch under
    vmap) is set; else zero updates and its state as it was. A line search costs no call of
    trials that did not choose it a single evaluation."""

    def update(grads, state, params=None, **line_search):
        return jax.lax.cond(flag, lambda: optimizer.update(grads, state, params, **line_search),
                            lambda: (jax.tree.map(jnp.zeros_like, grads), state))

    return Optimizer(optimizer.init, update, optimizer.line_search)


def selected(optimizers: list[Optimizer], index: jax.Array) -> Optimizer:
    """Every optimizer of `optimizers` steps (each keeps its own state); the updates are those of
    `optimizers[index]`."""

    def init(params):
        return tuple(o.init(params) for o in optimizers)

    def update(grads, state, params=None, **line_search):  # a line search's value, grad and value_fn
        steps = [o.update(grads, s, params, **(line_search if o.line_search else {})) for o, s in zip(optimizers, state)]
        updates = steps[0][0]
        for i, (u, _) in enumerate(steps[1:], start=1):
            updates = jax.tree.map(lambda a, b, i=i: jnp.where(index == i, b, a), updates, u)
        return updates, tuple(s for _, s in steps)

    return Optimizer(init, update, any(o.line_search for o in optimizers))


def searched_optimizer(optimizers: list[Optimizer], index: jax.Array, where: Network) -> Optimizer:
    """The program's optimizer: every one of `optimizers` steps, `optimizers[index]`'s updates
    are taken (`selected`), zero in the padding (`masked`, by `where`), all on the flat vector. A
    line search among them is handed the gradient flat and the objective of the flat vector."""
    inner = masked(selected(optimizers, index), ravel_pytree(where)[0])
    flat = optax.flatten(optax.GradientTransformationExtraArgs(inner.init, inner.update))  # extra args handed on

    def update(grads, state, params=None, **line_search):
        if line_search:
            unravel = ravel_pytree(params)[1]
            objective = line_search["value_fn"]
            line_search = dict(value=line_search["value"], grad=ravel_pytree(line_search["grad"])[0],
                               value_fn=lambda vector: objective(unravel(vector)))
        return flat.update(grads, state, params, **line_search)

    return Optimizer(flat.init, update, any(o.line_search for o in optimizers))


class SearchedOptimizers(NamedTuple):
    """The optimizers a program can select from, and the settings each searches."""

    optimizers: tuple[str, ...]
    settings: tuple[tuple[str, ...], ...]  # per optimizer, the names of its searched settings

    def keys(self) -> list[str]:
        return [f"{o}.{k}" for o, names in zip(self.optimizers, self.settings) for k in names]


class Inputs(NamedTuple):
    """A call's arguments: its M networks' (leading (M,) axis: trial by trial, each trial's
    replicates together) and the call's activation."""

    index: np.ndarray  # (M,) int32: search replicate
    widths: np.ndarray  # (M, depth + 2) int32: the network's layer sizes
    init: np.ndarray  # (M,) int32: index into the searched initializers
    rates: np.ndarray  # (M, epochs) float32
    optimizer: np.ndarray  # (M,) int32: index into SearchedOptimizers.optimizers
    settings: dict  # SearchedOptimizers.keys() -> (M,) float32
    l2: np.ndarray  # (M,) float32
    activation: np.ndarray  # () int32: index into the searched activations, for the whole call
    line_search: np.ndarray  # () bool: whether the call's trials chose a line search (armijo), for the whole call


BATCHED = Inputs(0, 0, 0, 0, 0, 0, 0, None, None)  # the vmapped axes


def stack(calls: list[Inputs]) -> Inputs:
    """One call of the networks of `calls` (each a trial's, of one activation), in order."""
    assert len({int(c.activation) for c in calls}) == 1, "a call has one activation"
    assert len({bool(c.line_search) for c in calls}) == 1, "a call's trials all chose a line search or none did"
    return Inputs(*(jax.tree.map(lambda *a: np.concatenate(a), *fields) if axis == 0 else fields[0]
                    for fields, axis in zip(zip(*calls), BATCHED)))


def initial_network(key: jax.Array, widths: jax.Array, padded: tuple[int, ...], inits: tuple[str, ...],
                    init: jax.Array) -> tuple[Network, Network]:
    """(the network of layer sizes `widths` drawn by `inits[init]` from `key`, padded to `padded`;
    its mask: 1 where it has a weight or bias, 0 in the padding)."""
    params, where = [], []
    for layer, (a, b) in enumerate(zip(padded[:-1], padded[1:])):
        key, subkey = jax.random.split(key)  # as init_network splits it
        drawn = [init_within(name, subkey, widths[layer], widths[layer + 1], a, b) for name in inits]
        W, bias = drawn[0]
        for i, (w_i, b_i) in enumerate(drawn[1:], start=1):
            W, bias = jnp.where(init == i, w_i, W), jnp.where(init == i, b_i, bias)
        params.append(LayerParams(W, bias))
        rows, cols = jnp.arange(a)[:, None] < widths[layer], jnp.arange(b)[None, :] < widths[layer + 1]
        where.append(LayerParams((rows & cols).astype(jnp.float32), cols.astype(jnp.float32)))
    return params, where


class Carry(NamedTuple):
    """A network's training state between calls (leading (M,) axis in a call): the training
    loop's carry, `nnreg.core.training.make_epoch`'s."""

    params: Network  # padded, as `initial_network` draws it
    state: tuple  # every searched optimizer's state
    first_bad: jax.Array  # () int32: the first non-finite epoch, or -1


def make_network_fn(searched: SearchedOptimizers, activations: tuple[str, ...], inits: tuple[str, ...],
                    padded: tuple[int, ...], data: DataParams, seed: int) -> Callable:
    """`run(carry, index, widths, init, rates, optimizer, settings, l2, activation, begin, end)
    -> (carry, ReplicateResult)`: one network trained on search replicate `index`'s data from
    epoch `begin` to `end` (without the per-epoch validation pass), then evaluated. At `begin`
    0 the network is drawn afresh and `carry` is ignored (any values of its shape); otherwise
    `carry` is what the call that trained it to `begin` returned, so a rung of successive
    halving goes on from the last one's state rather than from the initial weights, through
    the same loop body: a run to 4,000 epochs in three calls has the bits of one call
    (tested)."""
    truth = true_grid(data)
    functions = [ACTIVATIONS[a] for a in activations]

    def chosen(activation_index, options: list[Callable]) -> Callable:
        """`options[activation_index]` (one per searched activation), by a switch on the call's
        scalar: only the chosen one runs."""
        if len(options) == 1:
            return options[0]
        return lambda *args: jax.lax.switch(activation_index, options, *args)

    def run(carry, index, widths, init, rates, optimizer, settings, l2, activation_index, line_search, begin, end):
        schedule = lambda count: rates[jnp.minimum(count, rates.shape[0] - 1)]  # noqa: E731
        optimizers = []
        params, where = initial_network(replicate_keys(seed, index)[1], widths, padded, inits, init)
        for name, names in zip(searched.optimizers, searched.settings):
            own = {k: settings[f"{name}.{k}"] for k in names}
            if name in LINE_SEARCH:  # its direction masked too (no candidate moves the padding), and
                own["mask"] = ravel_pytree(where)[0]  # it steps only in calls of trials that chose it
            made = make_optimizer(name, rates[0] if name in FIXED_RATE else schedule, own)
            optimizers.append(only_if(line_search, made) if name in LINE_SEARCH else made)
        optimizer = searched_optimizer(optimizers, optimizer, where)
        fresh = Carry(params, optimizer.init(params), jnp.int32(-1))
        if carry is None:  # only the carry's shapes are asked for (`compile_program`): no training traced
            return fresh, None
        carry = jax.tree.map(lambda new, old: jnp.where(begin == 0, new, old), fresh, Carry(*carry))
        # One switch an epoch, over the loss and its gradient: a switch at each layer's activation
        # splits the layers' fused kernels (slower training: docs/performance.md).
        gradient = chosen(activation_index, [make_gradient(f, l2) for f in functions])
        objective = chosen(activation_index, [make_loss(f, l2) for f in functions])  # a line search's
        sigma = chosen(activation_index, functions)  # for the end point, once
        epoch = make_epoch(optimizer, l2=l2, validate_every_epoch=False, gradient=gradient, objective=objective)
        dataset = replicate_dataset(seed, index, data)
        carry = Carry(*jax.lax.fori_loop(begin, end, lambda i, c: epoch(c, i, dataset)[0], tuple(carry)))
        return carry, end_point(carry.params, carry.first_bad, dataset, truth, sigma)

    return run


class Program(NamedTuple):
    """A depth's compiled program for M networks: `dispatch(inputs, begin, end, carry)`."""

    compiled: Callable
    shardings: Inputs  # per argument: split over the devices (batched) or copied to each
    n: int
    compile_s: float
    memory_bytes: int  # per device, as XLA's compiled memory analysis counts it
    devices: tuple
    carry: Carry  # its shapes and dtypes (jax.ShapeDtypeStruct), with the leading (M,) axis
    zeros: Carry  # on the devices: the carry of a call from epoch 0 (its values are ignored)

    def dispatch(self, inputs: Inputs, begin: int, end: int, carry: Carry | None = None
                 ) -> tuple[Carry, ReplicateResult]:
        """Starts training the networks from epoch `begin` (`carry`: their state there, as a call
        returned it; None at 0) to `end` and returns (their carries, their results) on the
        devices, at once: JAX runs the call while Python prepares the next."""
        assert (begin == 0) == (carry is None), "a carry goes on from a later epoch than 0"
        split = self.shardings.index
        args = jax.device_put((self.zeros if carry is None else carry, *inputs),
                              (jax.tree.map(lambda _: split, self.carry), *self.shardings))
        return self.compiled(*args, np.int32(begin), np.int32(end))

    def __call__(self, inputs: Inputs, begin: int, end: int, carry: Carry | None = None
                 ) -> tuple[Carry, ReplicateResult]:
        """`dispatch`, waited for: (carries, results) in numpy."""
        carry, out = self.dispatch(inputs, begin, end, carry)
        return Carry(*jax.tree.map(np.asarray, tuple(carry))), ReplicateResult(*(np.asarray(a) for a in out))


# On the CPU, LLVM's -O1 and none of its expensive passes: faster compiles, the same bits and run
# time (benchmarks/search.py; docs/performance.md).
CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1, "xla_llvm_disable_expensive_passes": True}


def compile_program(run: Callable, example: Inputs, devices=None) -> Program:
    """Compiles `jax.vmap(run)` over the carry and the batched arguments (`BATCHED`) for inputs
    shaped as `example` (M a multiple of the devices), the networks split over `devices`
    (default: every local device)."""
    devices = list(devices or jax.devices())
    mesh = Mesh(np.array(devices), ("replica",))
    split, copied = NamedSharding(mesh, P("replica")), NamedSharding(mesh, P())
    shardings = Inputs(*(split if axis == 0 else copied for axis in BATCHED))
    n = len(example.index)
    fn = jax.vmap(run, in_axes=(0, *BATCHED, None, None))
    struct = lambda a, s: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype, sharding=s)  # noqa: E731
    args = tuple(jax.tree.map(lambda a, s=s: struct(a, s), arg) for arg, s in zip(example, shardings))
    scalar = jax.ShapeDtypeStruct((), jnp.int32)
    # The carry's shapes: those of a fresh start (`run` without a carry: traced only, nothing computed).
    carry = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=split), jax.eval_shape(
        lambda *a: jax.vmap(run, in_axes=(None, *BATCHED, None, None))(None, *a)[0], *args, scalar, scalar))
    start = time.perf_counter()
    options = CPU_COMPILER_OPTIONS if devices[0].platform == "cpu" else {}
    compiled = jax.jit(fn).lower(carry, *args, scalar, scalar).compile(compiler_options=options)
    zeros = jax.device_put(jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), carry), split)
    return Program(compiled, shardings, n, time.perf_counter() - start, memory_needed(compiled), tuple(devices),
                   Carry(*carry), Carry(*zeros))
