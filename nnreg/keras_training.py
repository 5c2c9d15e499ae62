"""The lecture's Keras benchmark: a Sequential of Dense layers, full-batch SGD, JAX backend.

Keras must be told its backend before it is first imported; this module does so
(and refuses a different backend) so that importing it anywhere gives JAX.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Sequence

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

from nnreg import NnregError  # noqa: E402
from nnreg.io import first_nonfinite_epoch  # noqa: E402
from nnreg.network import LayerParams, Network  # noqa: E402
from nnreg.training import History, Timing, device_info  # noqa: E402


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
    """The model's weights as the JAX models' (W, b) layer list (Dense kernels are (in, out))."""
    weights = model.get_weights()
    return [LayerParams(np.asarray(W), np.asarray(b).reshape(1, -1)) for W, b in zip(weights[::2], weights[1::2])]


def set_network(model, params: Network) -> None:
    """Loads a (W, b) layer list into the model's Dense layers."""
    model.set_weights([a for layer in params for a in (np.asarray(layer.W), np.asarray(layer.b).reshape(-1))])


class _Progress(keras.callbacks.Callback):
    """Hands every epoch's losses to `progress(done, loss, extra)`, which decides what to print."""

    def __init__(self, progress: Callable[[int, float, str], None]):
        super().__init__()
        self.progress = progress

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.progress(epoch + 1, logs.get("loss", float("nan")), f", val_loss {logs.get('val_loss', float('nan')):.6f}")


def train(model, x, y, x_validate, y_validate, epochs: int,
          progress: Callable[[int, float, str], None] | None = None, loop: str = "fit"):
    """Trains `model` full-batch for `epochs`, validating each epoch: with Keras's `fit` (the
    lecture's benchmark, `loop="fit"`) or `train_scan` (`loop="scan"`, the same steps in one
    compiled program). Returns (network, History, Timing)."""
    if loop == "scan":
        return train_scan(model, x, y, x_validate, y_validate, epochs)
    if loop != "fit":
        raise ValueError(f"loop must be fit or scan, not {loop!r}")
    return train_fit(model, x, y, x_validate, y_validate, epochs, progress)


def train_fit(model, x, y, x_validate, y_validate, epochs: int,
              progress: Callable[[int, float, str], None] | None = None):
    """Full-batch `fit` with validation data each epoch, after a one-epoch warm-up.

    The warm-up fit compiles Keras's train and test steps; the weights and the
    optimizer's step count are then restored, so the timed fit starts where a fresh
    one would (plain SGD keeps no other state). After each epoch, `progress(epochs done,
    training loss, ", val_loss ...")` (e.g. a `nnreg.cli.Progress`, which prints every
    tenth of the run or 5 s). Returns (network, History, Timing).
    """
    initial = model.get_weights()
    n = x.shape[0]
    fit_args = dict(batch_size=n, shuffle=False, verbose=0, validation_data=(x_validate, y_validate))
    start = time.perf_counter()
    model.fit(x, y, epochs=1, **fit_args)
    warmup_s = time.perf_counter() - start
    model.set_weights(initial)
    model.optimizer.iterations.assign(0)

    # Stop at the epoch whose training loss is not finite (the JAX loop masks instead,
    # keeping the last finite parameters; Keras's saved weights are the non-finite ones).
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


def _result(model, train_loss, validate_loss, compile_s: float, runtime_s: float, epochs: int, loop: str):
    """What both loops return: (network, History, Timing)."""
    train_loss, validate_loss = np.asarray(train_loss), np.asarray(validate_loss)
    history = History(train_loss, validate_loss, np.int32(first_nonfinite_epoch(train_loss, validate_loss)))
    return get_network(model), history, Timing(compile_s, runtime_s, *device_info(), epochs, loop)


def train_scan(model, x, y, x_validate, y_validate, epochs: int):
    """`fit`'s epochs in one jitted `lax.scan`: Keras's own stateless steps, no Python per epoch.

    Each epoch is what `fit` (one batch of all the data, unshuffled) runs: the metrics
    reset, `model.train_step` (the forward pass by `stateless_call`, Keras's loss, its
    gradients, `optimizer.stateless_apply`), then, for the validation loss, the metrics
    reset and `model.test_step` on the new weights. Both losses are read from Keras's loss
    tracker, as `fit` logs them. As `TerminateOnNaN` stops `fit`, the first epoch whose
    training loss is not finite is the last one applied: later epochs leave the state
    as it is and record NaN (the history `fit` gives, padded).

    The model's variables end as `fit` leaves them. Returns (network, History, Timing);
    Timing.epochs counts every epoch (the scan runs them all, masked after a stop).
    """
    import jax
    import jax.numpy as jnp

    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    optimizer_vars = [v.value for v in model.optimizer.variables]
    reset = [jnp.zeros(v.shape, v.dtype) for v in model.metrics_variables]  # every metric's state starts at 0
    data = tuple(jnp.asarray(a, dtype=jnp.float32) for a in (x, y, x_validate, y_validate))

    def run(state, data, reset):  # `reset` an argument: as a constant, XLA folds the loss tracker's
        x, y, x_validate, y_validate = data  # count into the division and the logged loss loses fit's last bit

        def epoch(carry, _):
            state, stopped = carry
            logs, (*new, _) = model.train_step((*state, reset), (x, y))
            validate_logs, _ = model.test_step((new[0], new[1], reset), (x_validate, y_validate))
            loss, validate_loss = logs["loss"], validate_logs["loss"]
            state = jax.tree.map(lambda old, now: jnp.where(stopped, old, now), state, tuple(new))
            nan = jnp.float32(jnp.nan)
            losses = (jnp.where(stopped, nan, loss), jnp.where(stopped, nan, validate_loss))
            return (state, stopped | ~jnp.isfinite(loss)), losses

        (state, _), (train_loss, validate_loss) = jax.lax.scan(epoch, (state, jnp.bool_(False)), length=epochs)
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
