"""The lecture's published numbers, and which params make ours comparable with them."""

from __future__ import annotations

from nnreg.params.export import to_dict
from nnreg.params.schema import Params

# The lecture's published MSEs (a Colab GPU), shown beside ours.
LECTURE_TABLE = {
    "keras": {"train_mse": 0.040176, "validate_mse": 0.044817},
    "gd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_sgd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_adam": {"train_mse": 0.035879, "validate_mse": 0.040869},
}

# The validation MSEs of the lecture's Exercise 23.1 solution (one seed: data 14, init 1234).
LECTURE_EXERCISE = {
    "optax_adam": 0.0408687,
    "deep": 0.041686,
    "deep_schedule": 0.041633,
    "deep_schedule_l2": 0.040845,
    "adam_l2": 0.040959,
}



def _differing_keys(mine, theirs, prefix: str) -> list[str]:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return [k for key in {**mine, **theirs}
                for k in _differing_keys(mine.get(key), theirs.get(key), f"{prefix}.{key}")]
    return [] if mine == theirs else [prefix]


def lecture_differences(params: Params, model: str) -> list[str]:
    """The dotted params by which `model`'s single run differs from the lecture's (the
    defaults): the data, the network, the epochs and the model's own entry. Empty: the
    lecture's published numbers are comparable with ours."""
    mine, lecture = to_dict(params), to_dict(Params())
    if model not in lecture["models"]:
        return [f"models.{model}"]
    return [k for section in ("data", "network", "train")
            for k in _differing_keys(mine[section], lecture[section], section)] + _differing_keys(mine["models"][model], lecture["models"][model], f"models.{model}")
