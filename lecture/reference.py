"""The lecture's own code, kept verbatim in substance: the reference nnreg is checked against.

Row layout (`x @ W + b`), `jax.grad` and `lax.fori_loop`, exactly as published.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class LayerParams(NamedTuple):
    W: jnp.ndarray
    b: jnp.ndarray


def generate_data(key, data_size=400, x_min=0.0, x_max=5.0):
    x = jnp.linspace(x_min, x_max, num=data_size)
    eps = 0.2 * jax.random.normal(key, shape=(data_size,))
    y = x**0.5 + jnp.sin(x) + eps
    return jnp.reshape(x, (data_size, 1)), jnp.reshape(y, (data_size, 1))


def initialize_network(key, layer_sizes):
    params = []
    for i in range(len(layer_sizes) - 1):
        key, subkey = jax.random.split(key)
        in_dim, out_dim = layer_sizes[i], layer_sizes[i + 1]
        W = jax.random.normal(subkey, shape=(in_dim, out_dim)) * jnp.sqrt(2 / in_dim)
        params.append(LayerParams(W, jnp.ones((1, out_dim))))
    return params


def f(theta, x, sigma=jnp.tanh):
    *hidden, last = theta
    for layer in hidden:
        x = sigma(x @ layer.W + layer.b)
    return x @ last.W + last.b


def loss_fn(theta, x, y):
    return jnp.mean((f(theta, x) - y) ** 2)


loss_gradient = jax.jit(jax.grad(loss_fn))


def train_gd(theta, x, y, epochs, learning_rate):
    def update(_, theta):
        g = loss_gradient(theta, x, y)
        return jax.tree.map(lambda p, g: p - learning_rate * g, theta, g)

    return jax.lax.fori_loop(0, epochs, update, theta)


def loss_fn_l2(theta, x, y, lambda_l2):
    """The exercise's regularised loss: MSE plus lambda_l2 times the squared weights (not biases)."""
    mse = jnp.mean((f(theta, x) - y) ** 2)
    l2_penalty = 0.0
    for W, b in theta:
        l2_penalty += jnp.sum(W**2)
    return mse + lambda_l2 * l2_penalty


def train_optax(theta, x, y, epochs, solver, l2=None):
    """The lecture's Optax loop; with `l2`, its exercise's regularised one."""
    gradient = loss_gradient if l2 is None else jax.jit(jax.grad(lambda t, x, y: loss_fn_l2(t, x, y, l2)))

    def update(_, state):
        theta, opt_state = state
        g = gradient(theta, x, y)
        updates, opt_state = solver.update(g, opt_state, theta)
        return optax.apply_updates(theta, updates), opt_state

    return jax.lax.fori_loop(0, epochs, update, (theta, solver.init(theta)))[0]


def train_armijo(theta, x, y, epochs, init_value=0.01, backtrack_factor=0.5, armijo_c=0.001, max_backtrack_steps=20):
    """The lecture's latest exercise strategy (QuantEcon/lecture-jax e5d26bf, `train_jax_armijo_ls`):
    gradient descent whose step starts at `init_value` at every epoch and is multiplied by
    `backtrack_factor` until loss(theta - a g) <= loss(theta) - armijo_c a sum(g**2), at most
    `max_backtrack_steps` times."""

    def update_step(theta_current):
        current_loss = loss_fn(theta_current, x, y)
        g = loss_gradient(theta_current, x, y)
        g_norm_sq = jax.tree.reduce(lambda a, b: a + jnp.sum(b**2), g, initializer=0.0)

        def cond_fn(args):
            alpha, step_count = args
            threshold = current_loss - armijo_c * alpha * g_norm_sq
            candidate = jax.tree.map(lambda p, g_leaf: p - alpha * g_leaf, theta_current, g)
            return (loss_fn(candidate, x, y) > threshold) & (step_count < max_backtrack_steps)

        def body_fn(args):
            alpha, step_count = args
            return alpha * backtrack_factor, step_count + 1

        alpha, _ = jax.lax.while_loop(cond_fn, body_fn, (init_value, 0))
        return jax.tree.map(lambda p, g_leaf: p - alpha * g_leaf, theta_current, g)

    return jax.lax.fori_loop(0, epochs, lambda _, theta: update_step(theta), theta)
