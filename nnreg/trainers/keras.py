"""The Keras trainer: the lecture's Keras benchmark, a Sequential of Dense layers trained
full-batch with Keras's SGD on its JAX backend, by Keras's `fit` or by the same Keras steps in
one compiled `lax.scan`; and its replicates, Keras-initialised networks trained by Keras's own
step in a vmapped batch.

Keras reads its backend when it is first imported, so this module sets KERAS_BACKEND=jax (unless
it is set) before importing Keras: the one thing a module of nnreg does at import, because
Keras gives no later moment. A different backend set by the user is refused when a model is
built.
"""

from __future__ import annotations

import copy
import os
import time
from typing import TYPE_CHECKING, Sequence

import jax
import jax.numpy as jnp
import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

from nnreg.core.data import Dataset, true_grid  # noqa: E402
from nnreg.core.network import LayerParams, Network  # noqa: E402
from nnreg.core.replicates import Replicate, end_point, replicate_dataset, replicate_keys  # noqa: E402
from nnreg.core.training import History, device_info, first_bad_epoch, first_nonfinite, hold  # noqa: E402
from nnreg.errors import NnregError  # noqa: E402
from nnreg.trainers.base import Progress, Trained, TrainTiming  # noqa: E402

if TYPE_CHECKING:
    from nnreg.params.schema import DataParams, KerasModel, NetworkParams


def keras_layer_widths(layer_sizes: Sequence[int], lecture_layer_count: bool) -> list[int]:
    """Widths of the Dense layers after the input.

    The JAX networks have len(layer_sizes)-1 layers. The lecture's build_keras_model
    adds len(layer_sizes)-1 hidden layers *plus* the output layer: one more hidden
    layer, of the last hidden width, which `lecture_layer_count=True` reproduces.
    """
    widths = list(layer_sizes[1:])
    if lecture_layer_count and len(layer_sizes) > 2:
        widths.insert(-1, layer_sizes[-2])
    return widths


def build_model(layer_sizes: Sequence[int], activation: str, learning_rate: float, lecture_layer_count: bool = False):
    """A compiled Sequential: tanh (or `activation`) Dense layers, linear output, SGD on MSE.

    Keras's default initialisers (Glorot-uniform kernels, zero biases) draw from
    Keras's global seed: set it with `keras.utils.set_random_seed` before calling.
    """
    if keras.backend.backend() != "jax":
        raise NnregError(f"nnreg needs Keras's JAX backend, but KERAS_BACKEND={keras.backend.backend()!r}")
    widths = keras_layer_widths(layer_sizes, lecture_layer_count)
    model = keras.Sequential([keras.Input(shape=(layer_sizes[0],))])
    for w in widths[:-1]:
        model.add(keras.layers.Dense(w, activation=activation))
    model.add(keras.layers.Dense(widths[-1]))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mean_squared_error")
    return model


def get_network(model) -> Network:
    """The model's weights as the JAX models' (W, b) layer list."""
    return network_of(model.get_weights())


def set_network(model, params: Network) -> None:
    """Loads a (W, b) layer list into the model's Dense layers."""
    model.set_weights([a for layer in params for a in (np.asarray(layer.W), np.asarray(layer.b).reshape(-1))])


class _Progress(keras.callbacks.Callback):
    """Hands every epoch's losses to `progress(done, loss, extra)`, which decides what to print."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.progress(epoch + 1, logs.get("loss", float("nan")), f", val_loss {logs.get('val_loss', float('nan')):.6f}")


# --- The trainer's interface (nnreg.trainers.base.Trainer) ----------------------------------


def train(entry: KerasModel, network: NetworkParams, epochs: int, dataset: Dataset,
          progress: Progress | None = None) -> Trained:
    """The single run: Keras's global seed set from `network.init_seed` (Keras's initialisers draw
    from it), the model built from `network`'s sizes and activation, then `fit_model` with the
    entry's loop."""
    keras.utils.set_random_seed(network.init_seed)
    model = build_model(network.layer_sizes, network.activation, entry.learning_rate, entry.lecture_layer_count)
    trained, history, timing = fit_model(model, *dataset, epochs=epochs, progress=progress, loop=entry.loop)
    return Trained(trained, history, timing, network.activation)


def make_replicate(entry: KerasModel, network: NetworkParams, data: DataParams, epochs: int,
                   seed: int) -> Replicate:
    """Replicate `index` of the Keras model `entry` (`network`'s sizes and activation): its own data
    and Keras-initialised network (`initial_weights`, from its init key rather than Keras's global
    seed), trained full-batch by `model.train_step`, the step `fit` runs (Keras's forward pass,
    loss and `SGD.stateless_apply`). A learning rate passed to it goes into the optimizer's state.
    As `fit` stops, the first epoch whose training loss is not finite is applied and the state
    held from then on; the end point is evaluated with `nnreg.core.network.mse`, the same
    function for every model."""
    model = build_model(network.layer_sizes, network.activation, entry.learning_rate, entry.lecture_layer_count)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    optimizer_template = [v.value for v in model.optimizer.variables]  # (iteration, learning_rate)
    names = [v.path.split("/")[-1] for v in model.optimizer.variables]
    if names != ["iteration", "learning_rate"]:  # Keras's SGD state changed: the rate would go elsewhere
        raise RuntimeError(f"Keras's SGD variables are {names}, expected iteration and learning_rate")
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
        reset = _metrics_reset(model)

        def epoch(i, carry):
            state, first_bad = carry
            new, loss = _train_step(model, state, reset, x, y)
            state = hold(first_bad >= 0, state, new)
            return state, first_bad_epoch(first_bad, i, ~jnp.isfinite(loss))

        return jax.lax.fori_loop(begin, end, epoch, carry)

    def finish(carry, index):
        (trainable, _, _), first_bad = carry
        return end_point(network_of(trainable), first_bad, replicate_dataset(seed, index, data), truth,
                         network.activation)

    return Replicate(start, advance, finish, epochs)


# --- The Keras model and its two loops ---------------------------------------------------------


def fit_model(model, x, y, x_validate, y_validate, epochs: int, progress: Progress | None = None,
              loop: str = "fit") -> tuple[Network, History, TrainTiming]:
    """Trains `model` full-batch for `epochs`, validating each epoch: with Keras's `fit` (the
    lecture's benchmark, `loop="fit"`) or `train_scan` (`loop="scan"`, the same steps in one
    compiled program). Returns (network, History, TrainTiming)."""
    if loop == "scan":
        return train_scan(model, x, y, x_validate, y_validate, epochs)
    if loop != "fit":
        raise ValueError(f"loop must be fit or scan, not {loop!r}")
    return train_fit(model, x, y, x_validate, y_validate, epochs, progress)


def train_fit(model, x, y, x_validate, y_validate, epochs: int,
              progress: Progress | None = None) -> tuple[Network, History, TrainTiming]:
    """Full-batch `fit` with validation data each epoch, after a one-epoch warm-up.

    The warm-up fit compiles Keras's train and test steps; the weights and the
    optimizer's step count are then restored, so the timed fit starts where a fresh
    one would (plain SGD keeps no other state). After each epoch, `progress(epochs done,
    training loss, ", val_loss ...")`. Returns (network, History, TrainTiming).
    """
    initial = model.get_weights()
    n = x.shape[0]
    fit_args = dict(batch_size=n, shuffle=False, verbose=0, validation_data=(x_validate, y_validate))
    start = time.perf_counter()
    model.fit(x, y, epochs=1, **fit_args)
    warmup_s = time.perf_counter() - start
    model.set_weights(initial)
    model.optimizer.iterations.assign(0)

    # Stop at the epoch whose training loss is not finite: Keras's saved weights are then the
    # non-finite ones (the freeze rule of nnreg.core.training, as Keras applies it).
    callbacks = [keras.callbacks.TerminateOnNaN()] + ([_Progress(progress)] if progress else [])
    if progress:
        progress(0, float("nan"), "")  # the timed fit starts: the warm-up's compile is not in the estimate
    start = time.perf_counter()
    fit = model.fit(x, y, epochs=epochs, callbacks=callbacks, **fit_args)
    runtime_s = time.perf_counter() - start

    def padded(key):  # after TerminateOnNaN the history is short: NaN up to `epochs` entries
        values = np.full(epochs, np.nan, dtype=np.float32)
        done = fit.history.get(key, [])
        values[: len(done)] = done
        return values

    # The warm-up epoch's time, less one timed epoch, is what compiling cost (an epoch of the
    # ones that ran: TerminateOnNaN may have stopped the fit early).
    ran = len(fit.history.get("loss", []))
    compile_s = max(warmup_s - runtime_s / max(1, ran), 0.0)
    return _result(model, padded("loss"), padded("val_loss"), compile_s, runtime_s, ran, "fit")


def _result(model, train_loss, validate_loss, compile_s: float, runtime_s: float, epochs: int,
            loop: str) -> tuple[Network, History, TrainTiming]:
    """What both loops return: (network, History, TrainTiming)."""
    train_loss, validate_loss = np.asarray(train_loss), np.asarray(validate_loss)
    history = History(train_loss, validate_loss, np.int32(first_nonfinite(train_loss, validate_loss)))
    return get_network(model), history, TrainTiming(compile_s, runtime_s, *device_info(), epochs, loop)


def _metrics_reset(model) -> list:
    """Every metric's state at zero: `fit` resets the metrics before each step."""
    return [jnp.zeros(v.shape, v.dtype) for v in model.metrics_variables]


def _train_step(model, state: tuple, reset: list, x, y) -> tuple[tuple, jax.Array]:
    """One `fit` step on (x, y): the new (trainable, non-trainable, optimizer) state and the loss
    Keras's loss tracker logs."""
    logs, (*new, _) = model.train_step((*state, reset), (x, y))
    return tuple(new), logs["loss"]


def train_scan(model, x, y, x_validate, y_validate, epochs: int) -> tuple[Network, History, TrainTiming]:
    """`fit`'s epochs in one jitted `lax.scan`: Keras's own stateless steps, no Python per epoch.

    Each epoch is what `fit` (one batch of all the data, unshuffled) runs: the metrics
    reset, `model.train_step` (the forward pass by `stateless_call`, Keras's loss, its
    gradients, `optimizer.stateless_apply`), then, for the validation loss, the metrics
    reset and `model.test_step` on the new weights. Both losses are read from Keras's loss
    tracker, as `fit` logs them. As `TerminateOnNaN` stops `fit`, the first epoch whose
    training loss is not finite is the last one applied: later epochs leave the state
    as it is and record NaN (the history `fit` gives, padded).

    The model's variables end as `fit` leaves them. Returns (network, History, TrainTiming);
    TrainTiming.epochs counts every epoch (the scan runs them all, held after a stop).
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    optimizer_vars = [v.value for v in model.optimizer.variables]
    reset = _metrics_reset(model)
    data = tuple(jnp.asarray(a, dtype=jnp.float32) for a in (x, y, x_validate, y_validate))

    def run(state, data, reset):  # `reset` an argument: as a constant, XLA folds the loss tracker's
        x, y, x_validate, y_validate = data  # count into the division and the logged loss loses fit's last bit

        def epoch(carry, index):
            state, first_bad = carry
            new, loss = _train_step(model, state, reset, x, y)
            validate_logs, _ = model.test_step((new[0], new[1], reset), (x_validate, y_validate))
            stopped = first_bad >= 0
            state = hold(stopped, state, new)
            nan = jnp.float32(jnp.nan)
            losses = (jnp.where(stopped, nan, loss), jnp.where(stopped, nan, validate_logs["loss"]))
            return (state, first_bad_epoch(first_bad, index, ~jnp.isfinite(loss))), losses

        (state, _), (train_loss, validate_loss) = jax.lax.scan(epoch, (state, jnp.int32(-1)),
                                                               jnp.arange(epochs, dtype=jnp.int32))
        return state, train_loss, validate_loss

    state = (trainable, non_trainable, optimizer_vars)
    start = time.perf_counter()
    compiled = jax.jit(run).lower(state, data, reset).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    state, train_loss, validate_loss = jax.block_until_ready(compiled(state, data, reset))
    runtime_s = time.perf_counter() - start

    for variables, values in zip((model.trainable_variables, model.non_trainable_variables, model.optimizer.variables),
                                 state, strict=True):
        for v, a in zip(variables, values, strict=True):
            v.assign(a)
    return _result(model, train_loss, validate_loss, compile_s, runtime_s, epochs, "scan")


# --- Replicates: Keras-initialised networks ---------------------------------------------------


def initial_weights(model, key: jax.Array) -> list:
    """The model's trainable variables' initial values, from `key` (one split per layer): each
    Dense layer's own kernel initialiser, asked to draw from the key, and its bias initialiser."""
    weights = []
    for layer in model.layers:
        key, kernel_key = jax.random.split(key)
        kernel_init = copy.copy(layer.kernel_initializer)
        kernel_init.seed = kernel_key  # Keras's JAX backend draws from a key given as the seed
        weights += [kernel_init(layer.kernel.shape, "float32"), layer.bias_initializer(layer.bias.shape, "float32")]
    shapes = [w.shape for w in weights]
    if [v.shape for v in model.trainable_variables] != shapes:  # a layer with other variables than (kernel, bias)
        raise RuntimeError(f"the model's variables are not its Dense layers' kernels and biases ({shapes})")
    return weights


def network_of(weights: list) -> Network:
    """Dense kernels and biases, in order (numpy or traced), as the JAX models' (W, b) layers (a Dense
    kernel is (in, out), as W)."""
    return [LayerParams(W, b.reshape(1, -1)) for W, b in zip(weights[::2], weights[1::2], strict=True)]
