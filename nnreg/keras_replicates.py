"""The Keras model over replicate seeds: a vmapped batch of Keras-initialised networks, each
trained by Keras's own stateless step, for `nnreg.replicates`' batches.

Replicate `i` sees the same data as every JAX model's replicate `i` (its data key), so
the comparisons stay paired. Its initial weights are the Keras model's own initialisers
(Glorot-uniform kernels, zero biases), drawn from its init key rather than Keras's global
seed; each epoch is `model.train_step`, the step `fit` runs (and `loop: scan` compiles):
Keras's forward pass, loss and `SGD.stateless_apply`. As with the JAX replicates, the
first epoch whose training loss is not finite freezes the state, and the end point is
evaluated with `nnreg.network.mse`, the same function for every model.
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp

from nnreg.config import DataParams, KerasModel, NetworkParams
from nnreg.data import true_grid
from nnreg.keras_training import build_model
from nnreg.network import LayerParams
from nnreg.replicates import Replicate, end_point, replicate_dataset, replicate_keys


def initial_weights(model, key: jax.Array) -> list:
    """The model's trainable variables' initial values, from `key` (one split per layer): each
    Dense layer's own kernel initialiser, asked to draw from the key, and its bias initialiser."""
    weights = []
    for layer in model.layers:
        key, kernel_key = jax.random.split(key)
        kernel_init = copy.copy(layer.kernel_initializer)
        kernel_init.seed = kernel_key  # Keras's JAX backend draws from a key given as the seed
        weights += [kernel_init(layer.kernel.shape, "float32"), layer.bias_initializer(layer.bias.shape, "float32")]
    assert [v.shape for v in model.trainable_variables] == [w.shape for w in weights]
    return weights


def network_of(trainable: list) -> list:
    """Dense kernels and biases as the JAX models' (W, b) layers."""
    return [LayerParams(W, b.reshape(1, -1)) for W, b in zip(trainable[::2], trainable[1::2], strict=True)]


def make_replicate_fn(entry: KerasModel, network: NetworkParams, data: DataParams, epochs: int,
                      seed: int) -> Replicate:
    """Replicate `index` of the Keras model `entry` (network: `network`'s sizes and activation):
    its own data and Keras-initialised network, trained full-batch with Keras's SGD step."""
    model = build_model(network.layer_sizes, network.activation, entry.learning_rate, entry.lecture_layer_count)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    optimizer_template = [v.value for v in model.optimizer.variables]  # (iteration, learning_rate)
    assert [v.path.split("/")[-1] for v in model.optimizer.variables] == ["iteration", "learning_rate"]
    truth = true_grid(data)

    def start(index, learning_rate=None):
        _, init_key = replicate_keys(seed, index)
        rate = optimizer_template[1] if learning_rate is None else jnp.asarray(learning_rate, jnp.float32)
        optimizer_vars = [jnp.zeros_like(optimizer_template[0]), rate]
        state = (initial_weights(model, init_key), [v.value for v in model.non_trainable_variables], optimizer_vars)
        return state, jnp.int32(-1)

    def advance(carry, index, learning_rate, begin, end):
        del learning_rate  # in the optimizer's state since `start`
        x, y, _, _ = replicate_dataset(seed, index, data)
        reset = [jnp.zeros(v.shape, v.dtype) for v in model.metrics_variables]

        def epoch(i, carry):
            state, first_bad = carry
            logs, (*new, _) = model.train_step((*state, reset), (x, y))
            first_bad = jnp.where((first_bad < 0) & ~jnp.isfinite(logs["loss"]), i, first_bad)
            state = jax.tree.map(lambda old, now: jnp.where(first_bad >= 0, old, now), state, tuple(new))
            return state, first_bad

        return jax.lax.fori_loop(begin, end, epoch, carry)

    def finish(carry, index):
        (trainable, _, _), first_bad = carry
        return end_point(network_of(trainable), first_bad, replicate_dataset(seed, index, data), truth,
                         network.activation)

    return Replicate(start, advance, finish, epochs)
