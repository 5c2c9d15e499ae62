"""The guard of the portable target (docs/reproducibility.md): every kind of program the pipeline
compiles, compiled here as its stage compiles it and read from XLA's dump (tools/cpu_kernels.py),
uses no kernel that picks its arithmetic by the CPU it runs on but those nnreg.runtime.kernels
allows, each for a stated reason. So the promise is checked on whatever CPU runs the tests,
for this jaxlib and these XLA_FLAGS: `XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=reduce
make test` fails here."""

import pytest

from tools import cpu_kernels

# The trainers' own programs, by the name XLA gives each: the JAX trainer's loop, Keras's fit
# step and its scan loop, a replicate batch's three steps, the search's program.
PROGRAMS = {"single": {"jit_train", "jit_train_step", "jit_run"}, "seeds": {"jit_start", "jit_advance", "jit_finish"},
            "sweep": {"jit_start", "jit_advance", "jit_finish"}, "search": {"jit_run"},
            "confirm": {"jit_start", "jit_advance", "jit_finish"}}


@pytest.fixture(scope="module")
def every_program():
    return cpu_kernels.run()


def test_every_program_the_pipeline_compiles_keeps_its_sums_off_cpu_picked_kernels(every_program):
    findings = "\n".join(map(cpu_kernels.describe, every_program["findings"]))
    assert not every_program["findings"], f"kernels that pick their arithmetic by the CPU:\n{findings}"


def test_the_guard_read_every_kind_of_program(every_program):
    kinds = every_program["kinds"]
    assert list(kinds) == list(cpu_kernels.KINDS)
    assert all(seen["modules"] > 0 for seen in kinds.values()), kinds
    for kind, names in PROGRAMS.items():
        assert names <= set(kinds[kind]["programs"]), (kind, kinds[kind]["programs"])
    # What it judges is there to judge: the programs' matrix products run in libraries.
    uses = {use for seen in kinds.values() for use in seen["uses"]}
    assert any(" dot" in use or use.startswith("dot ") for use in uses), uses


def test_the_guard_fails_when_a_user_s_flags_hand_reductions_back_to_ynnpack():
    hostile = cpu_kernels.run(["seeds"], "--xla_cpu_experimental_ynn_fusion_type=reduce", models=["optax_adam"])
    assert "--xla_cpu_experimental_ynn_fusion_type=reduce" in hostile["machine"]["xla_flags"].split()
    found = {f["use"] for f in hostile["findings"]}
    assert found and all(use.startswith("__ynn_fusion: ") and "reduce" in use for use in found), found
    # The training step's sums at least (jaxlib 0.10.2 handed over the evaluation's too, jit_finish).
    assert "jit_advance" in {f["module"].split()[1] for f in hostile["findings"]}
