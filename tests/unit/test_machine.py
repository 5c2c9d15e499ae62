"""The CPU target every stage pins before JAX starts (nnreg/runtime/machine.py), the record of the machine
in the timing files, and the compilation cache's folder per CPU kind."""


import jax
import pytest

from nnreg.runtime import machine
from tests.shared import PINS

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9454 48-Core Processor
flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16

processor\t: 1
"""
ZEN3 = ZEN4.replace("model\t\t: 17", "model\t\t: 1").replace("AMD EPYC 9454 48-Core Processor", "AMD EPYC").replace(
    " avx512f avx512bw avx512vl avx512_vnni avx512_bf16", "")
GRAVITON = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 sve\n"


def test_the_portable_target_adds_its_four_pins_and_never_overrides_the_user_s():
    assert machine.xla_flags("", "portable", 16).split() == PINS
    user = "--xla_cpu_max_isa=SSE4_2 --xla_dump_to=/tmp/x"
    assert machine.xla_flags(user, "portable", 16).split() == [*user.split(), *PINS[1:]]
    assert machine.xla_flags("--xla_force_host_platform_device_count=8", "portable", 2).split() == [
        "--xla_force_host_platform_device_count=8", *PINS[:3]]
    # native: XLA's own code generation and kernels, every core a device
    assert machine.xla_flags("", "native", 16) == "--xla_force_host_platform_device_count=16"


def test_an_unknown_target_or_a_late_setup_is_refused():
    with pytest.raises(machine.MachineError, match="NNREG_CPU_TARGET='avx512': use portable"):
        machine.target({"NNREG_CPU_TARGET": "avx512"})
    jax.devices()  # this process's JAX has started: flags set now would be ignored
    with pytest.raises(machine.MachineError, match="before JAX starts"):
        machine.setup({})


def test_this_process_runs_under_the_pins():
    """conftest.py calls machine.setup() as the stages do: the tests compute the committed bits."""
    assert all(pin in machine.record()["xla_flags"].split() for pin in PINS)
    assert len(jax.devices()) == 2


def test_the_record_names_the_cpu_the_target_the_flags_the_devices_and_the_versions():
    record = machine.record()
    assert set(record) == {"cpu", "cpu_isa", "cpu_target", "codegen_isa", "xla_flags", "xla_flags_user", "devices",
                           "bits", "jax", "jaxlib", "keras"}
    assert record["cpu_target"] == "portable" and record["codegen_isa"] == "AVX2"
    assert record["devices"] == {"count": 2, "kind": "cpu", "platform": "cpu"}
    assert record["jax"] == jax.__version__ and record["keras"]
    if machine.portable_here():
        assert record["bits"].startswith("portable") and {"avx2", "fma"} <= set(record["cpu_isa"])


def test_cpu_info_tells_cpu_kinds_apart(tmp_path):
    (tmp_path / "zen4").write_text(ZEN4)
    (tmp_path / "zen3").write_text(ZEN3)
    (tmp_path / "arm").write_text(GRAVITON)
    zen4, zen3, arm = (machine.cpu_info(tmp_path / name) for name in ("zen4", "zen3", "arm"))
    assert zen4["model"] == "AMD EPYC 9454 48-Core Processor (family 25, model 17)"
    assert zen3["model"] == "AMD EPYC (family 25, model 1)"
    assert "avx512f" in zen4["flags"] and "avx512f" not in zen3["flags"] and "sve" in arm["flags"]
    assert len({machine.machine_id(zen4), machine.machine_id(zen3), machine.machine_id(arm)}) == 3
    assert machine.codegen_isa("native", "", zen4).startswith("native (sse4_2 avx avx2 fma avx512f")
    assert machine.codegen_isa("portable", " ".join(PINS), zen4) == "AVX2"
    if machine.platform.machine() == "x86_64":
        assert machine.portable_here(zen4) and machine.portable_here(zen3)
    assert not machine.portable_here(arm)


def test_the_compilation_cache_has_a_folder_per_cpu_kind(monkeypatch, tmp_path):
    """JAX's cache key covers the program, the XLA flags and the versions, not the host CPU: a
    cache shared by two CPU kinds (NFS) keeps each one's programs apart."""
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path))
    assert machine.compilation_cache_dir() == tmp_path / machine.machine_id()
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert machine.compilation_cache_dir() == tmp_path / "nnreg" / "jax" / machine.machine_id()
    here = machine.compilation_cache_dir()
    (tmp_path / "cpuinfo").write_text(ZEN4 if "avx512f" not in machine.cpu_info()["flags"] else ZEN3)
    other = machine.cpu_info(tmp_path / "cpuinfo")
    monkeypatch.setattr(machine, "cpu_info", lambda path=None: other)  # as the other CPU kind sees itself
    assert machine.compilation_cache_dir() == tmp_path / "nnreg" / "jax" / machine.machine_id(other) != here
