"""The results committed in git are the lecture's (CI reruns the pipeline and checks they reproduce bit for bit)."""

import json

import pytest

from tests.conftest import REPO


def _metrics(model):
    return json.loads((REPO / f"metrics/{model}.json").read_text())


def test_committed_metrics_are_the_lecture_numbers():
    gd, sgd, adam, keras = (_metrics(m) for m in ("gd", "optax_sgd", "optax_adam", "keras"))
    assert not any(m["diverged"] for m in (gd, sgd, adam, keras))
    assert gd["validate_mse"] == pytest.approx(0.042119, abs=2e-5)
    assert gd["train_mse"] == pytest.approx(0.03996, abs=2e-5)
    assert (sgd["train_mse"], sgd["validate_mse"]) == (gd["train_mse"], gd["validate_mse"])
    assert adam["validate_mse"] == pytest.approx(0.040869, abs=2e-4)
    assert 0.040 <= keras["validate_mse"] <= 0.050


def test_committed_timing_is_separate_from_accuracy():
    for model in ("keras", "gd", "optax_sgd", "optax_adam"):
        assert set(_metrics(model)) == {"train_mse", "validate_mse", "diverged", "first_nonfinite_epoch"}
        timing = json.loads((REPO / f"metrics/timing/{model}.json").read_text())
        assert {"runtime_s", "compile_s", "device", "platform"} <= set(timing)
