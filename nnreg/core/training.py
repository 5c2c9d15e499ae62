"""One jitted training function: `lax.scan` over epochs, full-batch, any optimizer of
`nnreg.core.optimizers`; the per-epoch record (History) and the rule every training loop
here follows when a loss stops being finite.

The training function returns the final parameters and the per-epoch loss history
in one compiled call. Nothing inside it prints or touches disk.

The freeze rule: a network's first epoch whose loss is not finite is recorded
(`first_bad_epoch`), and from then on its state is held as it was (`hold`): no NaN spreads
into the parameters, and a diverged run is a result that says so rather than an error. The
JAX loop holds the state from before that epoch's update (the last finite parameters);
Keras's loops (`nnreg.trainers.keras`) apply it, as Keras's `fit` with `TerminateOnNaN` does.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nnreg.core.network import Activation, Network, forward, mse
from nnreg.core.optimizers import Optimizer

# Epochs a scan iteration of the single run's loop runs: two halve the loop's own work an epoch
# (its counter, its test, the carry's copies) and keep every bit (tested); more compile slower
# for no further gain (benchmarks/epoch_cost.py, docs/performance.md).
UNROLL = 2


class History(NamedTuple):
    """Per-epoch losses, with Keras's conventions."""

    train_loss: Any  # (epochs,) training MSE at the parameters *before* that epoch's update (no L2 term)
    validate_loss: Any  # (epochs,) validation MSE at the parameters *after* that epoch's update; None if not recorded
    first_nonfinite_epoch: Any  # int32 scalar: first epoch (0-based) whose loss was not finite, or -1


def first_bad_epoch(first_bad: jax.Array, index: jax.Array, bad: jax.Array) -> jax.Array:
    """The first bad epoch so far: `first_bad` if one was found already (>= 0), else `index` if
    this epoch is `bad` (a loss not finite), else -1 still."""
    return jnp.where(~(first_bad >= 0) & bad, index, first_bad)


def hold(stopped: jax.Array, old, new):
    """`old` where `stopped`, else `new`, leaf by leaf: a select per leaf, which leaves the
    healthy path's bits unchanged."""
    return jax.tree.map(lambda o, n: jnp.where(stopped, o, n), old, new)


def diverged(first_nonfinite_epoch, *end_point_mses) -> np.ndarray:
    """Whether a run diverged, the one rule every model, replicate and trial is judged by: its
    loss went non-finite in training (a first non-finite epoch >= 0) or a MSE at its end point is
    not finite. Elementwise over numpy arrays (a batch of replicates: (n,) bool) as on scalars."""
    bad = np.asarray(first_nonfinite_epoch) >= 0
    for m in end_point_mses:
        bad = bad | ~np.isfinite(np.asarray(m))
    return bad


def first_nonfinite(*losses) -> int:
    """The first epoch (0-based) at which any of the per-epoch `losses` (numpy) is not finite, or -1."""
    bad = np.flatnonzero(~np.logical_and.reduce([np.isfinite(np.asarray(loss)) for loss in losses]))
    return int(bad[0]) if bad.size else -1


def device_info() -> tuple[str, str]:
    """(device kind, or "cpu"; platform) of the first device JAX computes on."""
    d = jax.devices()[0]
    return (d.device_kind if d.platform != "cpu" else "cpu"), d.platform


def apply_updates(params, updates):
    """params + updates, leaf by leaf."""
    return jax.tree.map(lambda p, u: p + u, params, updates)


def l2_penalty(params: Network) -> jax.Array:
    """Sum of squared weights, biases excluded (the lecture's ridge penalty)."""
    penalty = 0.0
    for layer in params:
        penalty += jnp.sum(layer.W**2)
    return penalty


def make_loss(activation: Activation = "tanh", l2=0.0, with_predictions: bool = False) -> Callable:
    """`loss(params, x, y) -> (objective, mse)`: the MSE, plus `l2` (a number, or a traced scalar)
    times the weights' squares.
    `with_predictions`: `(objective, (mse, predictions))`, the forward pass's (n, 1) outputs too."""

    def loss(params, x, y):
        predictions = forward(params, x, activation)  # (n, 1)
        error = jnp.mean((predictions - y) ** 2)  # network.mse's arithmetic
        aux = (error, predictions) if with_predictions else error
        if isinstance(l2, (int, float)) and l2 == 0.0:  # a Python branch: the lecture's models trace the plain MSE
            return error, aux
        return error + l2 * l2_penalty(params), aux

    return loss


def make_gradient(activation: Activation = "tanh", l2=0.0) -> Callable:
    """`gradient(params, x, y) -> ((objective, mse), grads)`: `make_loss`'s value and gradient."""
    return jax.value_and_grad(make_loss(activation, l2), has_aux=True)


def line_search_args(optimizer: Optimizer, value, grads, value_fn: Callable) -> dict:
    """What a line search's `update` takes beside the gradients (the objective's value, its
    gradient and the objective itself at other params); nothing for any other optimizer."""
    return dict(value=value, grad=grads, value_fn=value_fn) if optimizer.line_search else {}


def make_epoch(optimizer: Optimizer, activation: str = "tanh", l2: float = 0.0,
               validate_every_epoch: bool = True, gradient: Callable | None = None,
               objective: Callable | None = None) -> Callable:
    """`epoch(carry, index, data) -> (carry, (train_loss, validate_loss))`: one full-batch
    step, the body of every training loop here. `carry` is (params, optimizer state,
    first non-finite epoch or -1); `data` is (x, y, x_validate, y_validate). `gradient`
    computes the loss and its gradient (default `make_gradient(activation, l2)`; the search
    passes a switch over several activations' gradients); `objective` is the loss a line search
    evaluates at other params (default `make_loss(activation, l2)`, the search's a switch too)."""
    loss_and_grad = gradient or make_gradient(activation, l2)
    objective = objective or make_loss(activation, l2)

    def epoch(carry, index, data):
        params, opt_state, first_bad = carry
        x, y, x_validate, y_validate = data
        (value, train_loss), grads = loss_and_grad(params, x, y)
        updates, new_state = optimizer.update(grads, opt_state, params, **line_search_args(
            optimizer, value, grads, lambda p: objective(p, x, y)[0]))
        new_params = apply_updates(params, updates)
        bad = ~jnp.isfinite(train_loss)
        if validate_every_epoch:
            validate_loss = mse(new_params, x_validate, y_validate, activation)
            bad = bad | ~jnp.isfinite(validate_loss)
        already_bad = first_bad >= 0
        first_bad = first_bad_epoch(first_bad, index, bad)
        # Once training has blown up, keep the last finite parameters and record NaN losses.
        params, opt_state = hold(first_bad >= 0, (params, opt_state), (new_params, new_state))
        nan = jnp.float32(jnp.nan)
        losses = (jnp.where(already_bad, nan, train_loss),
                  jnp.where(already_bad, nan, validate_loss) if validate_every_epoch else None)
        return (params, opt_state, first_bad), losses

    return epoch


def make_train_fn(optimizer: Optimizer, epochs: int, activation: str = "tanh", l2: float = 0.0,
                  validate_every_epoch: bool = True, shared_x: bool = False) -> Callable:
    """Builds `train(params, x, y, x_validate, y_validate) -> (params, History)`, jitted.

    Full-batch gradient descent on the MSE (+ the L2 penalty) with `optimizer` for
    `epochs` epochs. Once a loss is not finite (divergence), the parameters stop
    changing (the last finite ones are returned), later losses are recorded as NaN,
    and `first_nonfinite_epoch` says where it began. `validate_every_epoch=False`
    skips the per-epoch validation pass (replicates only need the end point): then `History.validate_loss` is None and divergence is
    judged on the training loss.

    `shared_x=True` is for data whose validation inputs are the training inputs (nnreg's
    data: one x grid, `Dataset.shares_x`), and then ignores `x_validate`: see
    `_train_shared_x`. The separate pass's History and parameters (bit for bit with plain
    SGD steps, to float32 rounding with Adam's; one documented difference), in less time
    (one forward pass an epoch instead of two: docs/performance.md).
    """
    if shared_x and validate_every_epoch:
        return jax.jit(_train_shared_x(optimizer, epochs, activation, l2))
    epoch = make_epoch(optimizer, activation, l2, validate_every_epoch)

    def train(params: Network, x, y, x_validate, y_validate):
        data = (x, y, x_validate, y_validate)
        init = (params, optimizer.init(params), jnp.int32(-1))
        (params, _, first_bad), (train_losses, validate_losses) = jax.lax.scan(
            lambda carry, index: epoch(carry, index, data), init, jnp.arange(epochs, dtype=jnp.int32), unroll=UNROLL
        )
        return params, History(train_losses, validate_losses, first_bad)

    return jax.jit(train)


def _train_shared_x(optimizer: Optimizer, epochs: int, activation: str, l2: float) -> Callable:
    """`make_train_fn`'s loop for x_validate == x: no validation forward pass.

    Epoch t's validation loss is the MSE against y_validate of the network after
    update t, whose predictions at x are the ones epoch t + 1's forward pass computes
    anyway (for the last epoch, one forward pass after the loop). Being a step late,
    the divergence check keeps the previous parameters in the carry: when epoch t's
    validation loss turns out non-finite (and its training loss was finite), epoch t is
    the first bad one and the parameters go back to those before update t, as the
    separate pass decides. One recorded difference: the validation loss of an epoch
    whose training loss is not finite is NaN (the separate pass records whatever the
    update made from that epoch's gradients gives: NaN, or a huge finite value when only
    the loss overflowed).

    The plain SGD steps (gd, Optax's sgd) give the separate pass's bits; with Adam's,
    XLA fuses the update differently and the weights move in the last bit after some
    tens of epochs (tested: `test_training.py::test_the_shared_forward_pass_...`).
    """
    loss_and_grad = jax.value_and_grad(make_loss(activation, l2, with_predictions=True), has_aux=True)
    objective = make_loss(activation, l2)
    nan = jnp.float32(jnp.nan)

    def train(params: Network, x, y, x_validate, y_validate):
        del x_validate  # == x

        def epoch(carry, index):
            previous, current, first_bad = carry  # (params, optimizer state) before updates t-1 and t
            (value, (train_loss, predictions)), grads = loss_and_grad(current[0], x, y)
            last_validate = jnp.mean((predictions - y_validate) ** 2)  # epoch t-1's validation loss
            went_bad = (index > 0) & (first_bad < 0) & ~jnp.isfinite(last_validate)
            first_bad = jnp.where(went_bad, index - 1, first_bad)
            already_bad = first_bad >= 0
            updates, new_state = optimizer.update(grads, current[1], current[0], **line_search_args(
                optimizer, value, grads, lambda p: objective(p, x, y)[0]))
            updated = (apply_updates(current[0], updates), new_state)
            first_bad = first_bad_epoch(first_bad, index, ~jnp.isfinite(train_loss))
            kept = hold(went_bad, previous, current)
            following = hold(first_bad >= 0, kept, updated)
            return (current, following, first_bad), (jnp.where(already_bad, nan, train_loss), last_validate)

        state = (params, optimizer.init(params))
        (previous, current, first_bad), (train_losses, validate_losses) = jax.lax.scan(
            epoch, (state, state, jnp.int32(-1)), jnp.arange(epochs, dtype=jnp.int32), unroll=UNROLL)
        last_validate = mse(current[0], x, y_validate, activation)  # the last epoch's
        went_bad = (first_bad < 0) & ~jnp.isfinite(last_validate)
        first_bad = jnp.where(went_bad, epochs - 1, first_bad)
        params = hold(went_bad, previous[0], current[0])
        validate_losses = jnp.concatenate([validate_losses[1:], last_validate[None]])  # (epochs,)
        # As the separate pass records: NaN after the first bad epoch, and at it if its training loss was not finite.
        epoch_index = jnp.arange(epochs)
        train_went_bad = (first_bad >= 0) & ~jnp.isfinite(train_losses[jnp.maximum(first_bad, 0)])
        masked = (first_bad >= 0) & ((epoch_index > first_bad) | ((epoch_index == first_bad) & train_went_bad))
        return params, History(train_losses, jnp.where(masked, nan, validate_losses), first_bad)

    return train
