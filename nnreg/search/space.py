"""A trial's strategy: what Optuna's trial suggests from the `search:` space, and the same
strategy as a `models:` entry (so a user can paste it, and the confirmation trains it with the
JAX trainer's own code).

Optuna's parameter names: `depth` and `width.d<depth>` (every hidden layer `width` wide; the
widths eligible at that depth), or `shape` (a label such as `1-10-10-10-1`) for a list of
`search.shapes`; `activation`, `init`,
`optimizer`, `<optimizer>.<setting>` (only the chosen optimizer's), `learning_rate`,
`schedule` (not asked for gd or armijo, which take a fixed rate), `<schedule>.<argument>`, `l2`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import optuna

from nnreg.core.optimizers import FIXED_RATE, make_schedule

if TYPE_CHECKING:
    from nnreg.params.schema import Params
    from nnreg.params.search import SearchParams


class Strategy(NamedTuple):
    """One point of the space."""

    layer_sizes: tuple[int, ...]
    activation: str
    init: str
    optimizer: str
    settings: dict  # the optimizer's own settings, as Optax names them
    learning_rate: float
    schedule: str  # none, or a schedule of nnreg.core.optimizers.SCHEDULES
    schedule_arg: float  # its one argument (see nnreg.params.search); 0 for none
    l2: float


def shape_label(layer_sizes) -> str:
    return "-".join(str(n) for n in layer_sizes)


def rank_key(rank: int) -> str:
    """A confirmed trial's key in metrics/search.json's `confirmed` (rank 1 is the best)."""
    return f"rank_{rank}"


def ranked(confirmed: dict) -> list[tuple[int, dict]]:
    """metrics/search.json's confirmed trials as (rank, trial), best first."""
    return sorted(((int(key.removeprefix("rank_")), c) for key, c in confirmed.items()), key=lambda p: p[0])


def confirmed_label(rank: int, entry: dict) -> str:
    """A confirmed trial's name beside the models' in the plots and the report."""
    return f"search #{rank}: {shape_label(entry['layer_sizes'])} {entry['activation']} {entry['optimizer']}"


def suggest(trial: optuna.Trial, space: SearchParams) -> Strategy:
    """The strategy `trial` samples from `space` (in a fixed order of questions)."""
    eligible = space.shapes_eligible()
    if space.shapes is not None:
        shapes = {shape_label(s): s for s in eligible}
        layer_sizes = shapes[trial.suggest_categorical("shape", list(shapes))]
    else:  # depth first, so that the many widths of one hidden layer do not crowd out the deep shapes
        widths: dict[int, list[int]] = {}
        for s in eligible:
            widths.setdefault(len(s) - 2, []).append(s[1])
        depth = trial.suggest_categorical("depth", list(widths))
        width = trial.suggest_int(f"width.d{depth}", min(widths[depth]), max(widths[depth]))
        layer_sizes = (1, *([width] * depth), 1)
    activation = trial.suggest_categorical("activation", list(space.activations))
    init = trial.suggest_categorical("init", list(space.inits))
    ranges = space.optimizer_ranges()
    optimizer = trial.suggest_categorical("optimizer", list(ranges))
    settings = {k: trial.suggest_float(f"{optimizer}.{k}", low, high, log=log)
                for k, (low, high, log) in ranges[optimizer].items()}
    learning_rate = trial.suggest_float("learning_rate", *space.learning_rate, log=True)
    schedules = space.schedules.given()
    schedule = "none" if optimizer in FIXED_RATE else trial.suggest_categorical("schedule", list(schedules))
    arg = 0.0
    if schedule != "none":
        (name, (low, high)), = schedules[schedule].model_dump().items()
        arg = trial.suggest_float(f"{schedule}.{name}", low, high, log=schedule == "exponential_decay")
    l2 = trial.suggest_float("l2", *space.l2, log=True) if space.l2 is not None else 0.0
    return Strategy(tuple(layer_sizes), activation, init, optimizer, settings, learning_rate, schedule, arg, l2)


def schedule_entry(strategy: Strategy, epochs: int) -> dict | None:
    """The strategy's schedule as params.yaml's `schedule:` (Optax's arguments), or None."""
    rate, arg = strategy.learning_rate, strategy.schedule_arg
    if strategy.schedule == "none":
        return None
    if strategy.schedule == "exponential_decay":  # from the rate to decay_rate times it after the last epoch
        return {"name": "exponential_decay", "init_value": rate, "transition_steps": epochs, "decay_rate": arg}
    if strategy.schedule == "cosine_decay":
        return {"name": "cosine_decay", "init_value": rate, "decay_steps": epochs, "alpha": arg}
    return {"name": "warmup_cosine_decay", "init_value": 0.0, "peak_value": rate,
            "warmup_steps": int(round(arg * epochs)), "decay_steps": epochs}


def model_entry(strategy: Strategy, epochs: int) -> dict:
    """The strategy as a `models:` entry of params.yaml (plain Python values)."""
    schedule = schedule_entry(strategy, epochs)
    entry = {"trainer": "jax", "optimizer": strategy.optimizer, **strategy.settings}
    entry.update({"schedule": schedule} if schedule else {"learning_rate": strategy.learning_rate})
    if strategy.l2:
        entry["l2"] = strategy.l2
    entry.update(layer_sizes=list(strategy.layer_sizes), activation=strategy.activation, init=strategy.init)
    return entry


def rate_table(strategy: Strategy, epochs: int) -> np.ndarray:
    """(epochs,) float32: the learning rate at each epoch, by Optax's schedule (or constant)."""
    schedule = schedule_entry(strategy, epochs)
    if schedule is None:
        return np.full(epochs, strategy.learning_rate, dtype=np.float32)
    args = {k: v for k, v in schedule.items() if k != "name"}
    return np.asarray(make_schedule(schedule["name"], args)(np.arange(epochs)), dtype=np.float32)


def entry_text(entry: dict) -> str:
    """A models: entry in a few words: shape, activation, init, optimizer, rate or schedule, settings."""
    shape = "-".join(str(n) for n in entry["layer_sizes"])
    if "learning_rate" in entry:
        rate = f"rate {entry['learning_rate']:.3g}"
    else:
        s = entry["schedule"]
        arg = {k: v for k, v in s.items() if k in ("decay_rate", "alpha", "warmup_steps")}
        rate = f"{s['name']} from {s.get('peak_value', s.get('init_value')):.3g}" + "".join(
            f", {k} {v:.3g}" for k, v in arg.items())
    settings = "".join(f", {k} {v:.4g}" for k, v in entry.items() if k not in (
        "trainer", "optimizer", "learning_rate", "schedule", "layer_sizes", "activation", "init"))
    return f"{shape} {entry['activation']}, {entry['init']}, {entry['optimizer']} {rate}{settings}"


def strategy_of(trial: optuna.trial.FrozenTrial, params: Params) -> Strategy:
    """The strategy a finished trial trained (its recorded parameters)."""
    return suggest(optuna.trial.FixedTrial(trial.params), params.search)
