"""The lecture's published numbers, and which params make ours comparable with them."""

from __future__ import annotations

from typing import NamedTuple

from nnreg.params.export import to_dict
from nnreg.report.comparisons import verdict_text
from nnreg.report.labels import fmt, markdown_table, method_name
from nnreg.params.schema import Params

# The lecture's published MSEs (a Colab GPU), shown beside ours.
LECTURE_TABLE = {
    "keras": {"train_mse": 0.040176, "validate_mse": 0.044817},
    "gd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_sgd": {"train_mse": 0.039963, "validate_mse": 0.042119},
    "optax_adam": {"train_mse": 0.035879, "validate_mse": 0.040869},
}

# The validation MSEs of the lecture's Exercise 23.1 solution (one seed: data 14, init 1234), as
# the version nnreg follows prints them, and its current version's winner (the same data).
LECTURE_EXERCISE = {
    "optax_adam": 0.0408687,
    "deep": 0.041686,
    "deep_schedule": 0.041633,
    "deep_schedule_l2": 0.040845,
    "adam_l2": 0.040959,
    "armijo": 0.040810,
}


class LectureVersion(NamedTuple):
    """A version of the lecture's Exercise 23.1 (QuantEcon/lecture-jax): its strategies as
    nnreg's models, the one it called the winner, and the validation MSEs it printed that are
    known (its repository keeps the code, not the output)."""

    commits: str
    date: str
    pull_request: int
    strategies: tuple[str, ...]
    winner: str
    printed: dict  # model -> its validation MSE, as printed
    improvements: dict  # model -> Adam's validation MSE minus its, as printed


LECTURE_VERSIONS = (
    LectureVersion("69d51f2", "2025-11-29", 254, ("deep", "deep_schedule", "elu", "selu"), "deep_schedule",
                   {"deep_schedule": 0.040878}, {}),
    LectureVersion("e544012 to 0039a74", "2025-12-04", 261, ("deep", "deep_schedule", "deep_schedule_l2", "adam_l2"),
                   "deep_schedule_l2", {m: LECTURE_EXERCISE[m] for m in ("deep", "deep_schedule", "deep_schedule_l2",
                                                                          "adam_l2")},
                   {"deep": -0.000817, "deep_schedule": -0.000764, "deep_schedule_l2": 0.000024, "adam_l2": -0.000090}),
    LectureVersion("e5d26bf", "2026-07-09", 268, ("schedule_l2", "armijo"), "armijo", {"armijo": 0.040810},
                   {"armijo": 0.000058}),
)
FOLLOWED = LECTURE_VERSIONS[1]  # the version nnreg's data and defaults follow (the data changed at #261)



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


def versions_markdown(single: dict, compare: dict, baseline: str, n_seeds: int) -> str:
    """Each version of the lecture's exercise, each of its strategies that `models:` holds: the
    validation MSE the lecture printed for it (one seed) where it is known, nnreg's single run,
    and its paired difference from `baseline` over the replicates with the verdict (an improvement is the
    baseline's validation MSE minus the strategy's, as the lecture prints it); then whether
    each version's winner wins."""
    body, winners = [], []
    for v in LECTURE_VERSIONS:
        for model in v.strategies:
            if model not in compare:
                continue
            c = compare[model]
            won = " (its winner)" if model == v.winner else ""
            printed = "" if model not in v.printed else fmt(v.printed[model], 6) + (
                f" ({fmt(v.improvements[model], 6, True)})" if model in v.improvements else "")
            ours = fmt(single.get(model), 6) + ("" if single.get(baseline) is None or single.get(model) is None
                                                else f" ({fmt(single[baseline] - single[model], 6, True)})")
            body.append([f"{v.commits}: {method_name(model)}{won}", f"#{v.pull_request}, {v.date}", printed, ours,
                         f"{fmt(c['mean_diff'], 6, True)} [{fmt(c['ci_low'], 6, True)}, {fmt(c['ci_high'], 6, True)}]",
                         "n/a" if c["p_value"] is None else format(c["p_value"], ".2g"), verdict_text(c)])
            if model == v.winner:
                winners.append(f"{v.commits}'s {method_name(model)} is {c['verdict']}")
    if not body:
        return ""
    table = markdown_table(["Lecture version: strategy", "Pull request, date",
                            "One seed, as printed: validation MSE (improvement)",
                            "nnreg's single run: validation MSE (improvement)",
                            f"Over {n_seeds} replicates: paired difference from {baseline} [95 % CI]", "p (Holm)",
                            "Verdict"], "llrrrrl", body)
    return (table + f"\nnnreg's data and defaults follow {FOLLOWED.commits} (the data changed "
            f"there: 69d51f2's printed numbers are of other data); its single runs of the other versions' strategies "
            f"are on that data. The lecture's repository keeps its code, not its output: a printed number is given "
            f"where it is known. Over the replicates, "
            + ("; ".join(winners) if winners else "no version's winner is among the models") + ".\n")
