"""Another machine, simulated: every single-run model and the deeper network's replicate batch
trained and evaluated as their stages do, with XLA's code generation limited to SSE4.2 (no
AVX, no FMA: every sum rounds otherwise), against the committed metrics.

The committed bits hold on x86-64 CPUs with AVX2 and FMA (the CPU target is pinned:
nnreg/runtime/machine.py; CI compares every output bit for bit). Elsewhere (ARM, a GPU, another
jaxlib) they move, by at most what is stated here, measured under SSE4.2, AVX and this
machine's own target (docs/reproducibility.md has the table). One model is chaotic and named
as such with its measured spread, rather than hidden in a loose tolerance for all.
"""

import json

import pytest

from nnreg.params.load import load_params
from tests.conftest import REPO
from tools import other_machine


# Relative tolerance of every accuracy metric of a single run on another machine (measured: at
# most 3e-6, the true MSE of deep_schedule under SSE4.2).
SINGLE_RUN_RTOL = 1e-5
# Chaotic single runs: rounding differences in the last bit grow until the fourth digit moves.
# Measured relative spread over five targets (a Zen 4's AVX-512, a Zen 3's own kernels, the
# portable pin, AVX, SSE4.2), per metric; the bound is what the test holds them to.
CHAOTIC = {
    "deep": {"measured": {"train_mse": 5.2e-4, "validate_mse": 2.0e-3, "true_mse": 8.0e-2},
             "bound": {"train_mse": 2e-3, "validate_mse": 5e-3, "true_mse": 0.2}},
    # SELU (the lecture's 69d51f2): measured over a Zen 4's own kernels (AVX-512), AVX and SSE4.2.
    "selu": {"measured": {"train_mse": 7.9e-6, "validate_mse": 1.9e-4, "true_mse": 2.2e-3},
             "bound": {"train_mse": 5e-5, "validate_mse": 1e-3, "true_mse": 2e-2}},
}
# The chaotic model's replicate mean over the same perturbation (measured: 6.7e-5 and 1.8e-3).
SEEDS_MODEL = "deep"
SEEDS_RTOL = {"validate_mse": 3e-4, "true_mse": 1e-2}
METRICS = ("train_mse", "validate_mse", "true_mse")


@pytest.fixture(scope="module")
def elsewhere():
    return other_machine.run("SSE4_2", seeds=[SEEDS_MODEL])


def _committed(path):
    return json.loads((REPO / path).read_text())


def _relative(a, b):
    return abs(a - b) / abs(b)


def test_the_simulated_machine_compiles_other_code_and_gets_other_bits(elsewhere):
    assert elsewhere["machine"]["codegen_isa"] == "SSE4_2"
    moved = [m for m, got in elsewhere["metrics"].items() if got != _committed(f"metrics/{m}.json")]
    assert len(moved) >= len(elsewhere["metrics"]) - 1, moved  # a real perturbation, not a rerun


def test_every_single_run_agrees_within_its_stated_tolerance(elsewhere):
    assert list(elsewhere["metrics"]) == load_params(REPO / "params.yaml").model_names()
    for model, got in elsewhere["metrics"].items():
        committed = _committed(f"metrics/{model}.json")
        assert got["diverged"] == committed["diverged"] and got["n_parameters"] == committed["n_parameters"]
        for key in METRICS:
            rtol = CHAOTIC[model]["bound"][key] if model in CHAOTIC else SINGLE_RUN_RTOL
            assert _relative(got[key], committed[key]) <= rtol, (model, key, got[key], committed[key])


def test_the_chaotic_models_are_named_because_they_are():
    """The models listed as chaotic move by more than the others' tolerance on another machine
    (the measured spread), and the bound each is held to covers what was measured."""
    for model, spread in CHAOTIC.items():
        assert max(spread["measured"].values()) > 100 * SINGLE_RUN_RTOL
        assert all(spread["measured"][k] < spread["bound"][k] for k in METRICS)


def test_a_chaotic_model_s_replicate_mean_reproduces(elsewhere):
    """Its single run moves in the third or fourth digit; its mean over the 32 replicates does not."""
    got, committed = elsewhere["seeds"][SEEDS_MODEL], _committed(f"metrics/seeds/{SEEDS_MODEL}.json")
    assert got["n_replicates"] == committed["n_replicates"] and got["n_diverged"] == committed["n_diverged"]
    for key, rtol in SEEDS_RTOL.items():
        assert _relative(got[key]["mean"], committed[key]["mean"]) <= rtol, (key, got[key], committed[key])
    single = (elsewhere["metrics"][SEEDS_MODEL]["validate_mse"],
              _committed(f"metrics/{SEEDS_MODEL}.json")["validate_mse"])
    mean = got["validate_mse"]["mean"], committed["validate_mse"]["mean"]
    assert _relative(*mean) < _relative(*single) / 5
