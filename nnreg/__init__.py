"""nnreg: the lecture "Neural Network Regression with JAX" as a reproducible pipeline.

The library is pure: functions take arrays and small records and return them.
Only `nnreg.io` and the scripts in `stages/` touch the disk.
"""

# The lecture's four ways of training the same network. Every model is an entry under
# `models:` in params.yaml; its name is used everywhere (stage names, file names, metrics).
LECTURE_MODELS = ("keras", "gd", "optax_sgd", "optax_adam")

# The four strategies of the lecture's Exercise 23.1, as params.yaml's defaults name them.
EXERCISE_MODELS = ("deep", "deep_schedule", "deep_schedule_l2", "adam_l2")

# Human names, as in the lecture's tables; any other model is shown by its name.
METHOD_NAMES = {
    "keras": "Keras",
    "gd": "Pure JAX (hand-coded GD)",
    "optax_sgd": "JAX + Optax SGD",
    "optax_adam": "JAX + Optax ADAM",
    "deep": "1. Deeper network (6 layers)",
    "deep_schedule": "2. Deeper network + LR schedule",
    "deep_schedule_l2": "3. Strategy 2 + L2 regularization",
    "adam_l2": "4. Baseline + L2 regularization",
}


def method_name(model: str) -> str:
    return METHOD_NAMES.get(model, model)


class NnregError(Exception):
    """An error a user can fix (bad params, a missing or corrupt file); printed as one line."""
