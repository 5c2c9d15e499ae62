"""nnreg: the lecture "Neural Network Regression with JAX" as a reproducible pipeline.

The library is pure: functions take arrays and small records and return them.
Only `nnreg.io` and the scripts in `stages/` touch the disk.
"""

# The four ways of training the same network; these names are used everywhere
# (params.yaml, stage names, file names, metrics).
MODELS = ("keras", "gd", "optax_sgd", "optax_adam")

# Human names, as in the lecture's summary table.
METHOD_NAMES = {
    "keras": "Keras",
    "gd": "Pure JAX (hand-coded GD)",
    "optax_sgd": "JAX + Optax SGD",
    "optax_adam": "JAX + Optax ADAM",
}


class NnregError(Exception):
    """An error a user can fix (bad params, a missing or corrupt file); printed as one line."""
