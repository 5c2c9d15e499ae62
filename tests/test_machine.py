"""The CPU target every stage pins before JAX starts (nnreg/machine.py), the record of the machine
in the timing files, and the compilation cache's folder per CPU kind."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from nnreg import cli, machine
from tests.conftest import REPO

PINS = ["--xla_cpu_max_isa=AVX2", "--xla_cpu_enable_platform_dependent_math=false",
        "--xla_force_host_platform_device_count=2"]

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


def test_the_portable_target_adds_its_three_pins_and_never_overrides_the_user_s():
    assert machine.xla_flags("", "portable", 16).split() == PINS
    user = "--xla_cpu_max_isa=SSE4_2 --xla_dump_to=/tmp/x"
    assert machine.xla_flags(user, "portable", 16).split() == [*user.split(), *PINS[1:]]
    assert machine.xla_flags("--xla_force_host_platform_device_count=8", "portable", 2).split() == [
        "--xla_force_host_platform_device_count=8", *PINS[:2]]
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
    assert cli.compilation_cache_dir() == tmp_path / machine.machine_id()
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cli.compilation_cache_dir() == tmp_path / "nnreg" / "jax" / machine.machine_id()
    here = cli.compilation_cache_dir()
    (tmp_path / "cpuinfo").write_text(ZEN4 if "avx512f" not in machine.cpu_info()["flags"] else ZEN3)
    other = machine.cpu_info(tmp_path / "cpuinfo")
    monkeypatch.setattr(machine, "cpu_info", lambda path=None: other)  # as the other CPU kind sees itself
    assert cli.compilation_cache_dir() == tmp_path / "nnreg" / "jax" / machine.machine_id(other) != here


FAKE_CPUS = r"""
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dlfcn.h>
static int n(void) { return atoi(getenv("FAKE_NCPU")); }
int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *mask) {
  memset(mask, 0, size);
  for (int i = 0; i < n(); i++) CPU_SET_S(i, size, mask);
  return 0;
}
int get_nprocs(void) { return n(); }
int get_nprocs_conf(void) { return n(); }
long sysconf(int name) {
  static long (*real)(int) = 0;
  if (!real) real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
  if (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF) return n();
  return real(name);
}
"""

BATCH = """
from nnreg import machine
machine.setup()
import json, os
import numpy as np
from nnreg.config import DataParams, Params
from nnreg.jax_replicates import make_replicate_fn
from nnreg.replicates import run_batch
model = Params().jax_model("optax_adam").model_copy(update={"layer_sizes": (1, 6, 6, 6, 1)})
result, timing = run_batch(make_replicate_fn(model, DataParams(n_points=64), 200, seed=3), np.arange(6))
print(json.dumps({"cores": len(os.sched_getaffinity(0)), "devices": timing.n_devices,
                  "bits": [np.asarray(a).tobytes().hex() for a in result]}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the shim overrides glibc's CPU count")
def test_a_replicate_batch_has_the_same_bits_whatever_the_number_of_cores(tmp_path):
    """A machine with 1, 2 or 16 cores: the same two host devices, the same bits (the intra-op
    thread pool XLA sizes from the cores changes no sum). The core count is faked for the
    process (LD_PRELOAD over glibc's CPU count), as a machine with that many would report it."""
    shim = tmp_path / "fake_cpus.so"
    (tmp_path / "fake_cpus.c").write_text(FAKE_CPUS)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(tmp_path / "fake_cpus.c"), "-ldl"],
                   check=True)
    runs = []
    for cores in (1, 16):
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        env.update(LD_PRELOAD=str(shim), FAKE_NCPU=str(cores), PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")
        out = subprocess.run([sys.executable, "-c", BATCH], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.splitlines()[-1]))
    assert [r["cores"] for r in runs] == [1, 16] and [r["devices"] for r in runs] == [2, 2]
    assert runs[0]["bits"] == runs[1]["bits"]
    # ...and they are the bits this process (two real cores) computes
    from nnreg.config import DataParams, Params
    from nnreg.jax_replicates import make_replicate_fn
    from nnreg.replicates import run_batch

    model = Params().jax_model("optax_adam").model_copy(update={"layer_sizes": (1, 6, 6, 6, 1)})
    here, _ = run_batch(make_replicate_fn(model, DataParams(n_points=64), 200, seed=3), np.arange(6))
    assert [np.asarray(a).tobytes().hex() for a in here] == runs[0]["bits"]


def test_the_host_device_count_changes_a_batch_s_bits_which_is_why_it_is_pinned():
    """The same six replicates split over one device, not two: XLA compiles another program,
    and the Adam-trained networks' last bits move (what a machine with another core count would
    have computed, before the count was pinned)."""
    from nnreg.config import DataParams, Params
    from nnreg.jax_replicates import make_replicate_fn
    from nnreg.replicates import run_batch

    model = Params().jax_model("optax_adam").model_copy(update={"layer_sizes": (1, 6, 6, 6, 1)})
    one = make_replicate_fn(model, DataParams(n_points=64), 200, seed=3)
    two_devices, _ = run_batch(one, np.arange(6))
    one_device, _ = run_batch(one, np.arange(6), devices=jax.devices()[:1])
    assert not np.array_equal(two_devices.validate_mse, one_device.validate_mse)
    np.testing.assert_allclose(two_devices.validate_mse, one_device.validate_mse, rtol=1e-4)


def test_a_stage_records_its_machine_and_honours_the_user_s_flags(tmp_path):
    """train@gd run with a user's XLA_FLAGS: its own max ISA wins, the other pins are added, and
    the timing file says so (the metrics do not: they hold accuracy only)."""
    from tests.conftest import copy_project
    from tests.helpers import TINY, env_for, run, write_params

    root = copy_project(tmp_path)
    write_params(root, TINY)
    env_flags = "--xla_cpu_max_isa=AVX"
    run(root, sys.executable, "stages/data.py")
    out = subprocess.run([sys.executable, "stages/train_jax.py", "gd"], cwd=root, capture_output=True, text=True,
                         env={**env_for(root), "XLA_FLAGS": env_flags})
    assert out.returncode == 0, out.stderr
    record = json.loads((root / "metrics/timing/gd.json").read_text())["machine"]
    assert record["xla_flags_user"] == env_flags and record["codegen_isa"] == "AVX"
    assert record["xla_flags"].split() == [env_flags, *PINS[1:]]
    assert "machine" not in json.loads((root / "metrics/gd.json").read_text())
