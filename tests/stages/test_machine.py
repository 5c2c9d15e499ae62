"""A stage's machine, as processes see it: the same bits whatever the core count (faked for a
process), and the record of the machine a stage writes into its timing file."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnreg.core.replicates import run_batch
from tests.conftest import REPO, copy_project
from tests.helpers import TINY, env_for, run, write_params
from tests.shared import PINS, small_replicate

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
from nnreg.runtime import machine
machine.setup(compilation_cache=False)
import json, os
import numpy as np
from nnreg.core.replicates import run_batch
from tests.shared import small_replicate
result, timing = run_batch(small_replicate(), np.arange(6))
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
    here, _ = run_batch(small_replicate(), np.arange(6))
    assert [np.asarray(a).tobytes().hex() for a in here] == runs[0]["bits"]


def test_a_stage_records_its_machine_and_honours_the_user_s_flags(tmp_path):
    """train@gd run with a user's XLA_FLAGS: its own max ISA wins, the other pins are added, and
    the timing file says so (the metrics do not: they hold accuracy only)."""
    root = copy_project(tmp_path)
    write_params(root, TINY)
    env_flags = "--xla_cpu_max_isa=AVX"
    run(root, sys.executable, "stages/data.py")
    out = subprocess.run([sys.executable, "stages/train.py", "gd"], cwd=root, capture_output=True, text=True,
                         env={**env_for(root), "XLA_FLAGS": env_flags})
    assert out.returncode == 0, out.stderr
    record = json.loads((root / "metrics/timing/gd.json").read_text())["machine"]
    assert record["xla_flags_user"] == env_flags and record["codegen_isa"] == "AVX"
    assert record["xla_flags"].split() == [env_flags, *PINS[1:]]
    assert "machine" not in json.loads((root / "metrics/gd.json").read_text())
