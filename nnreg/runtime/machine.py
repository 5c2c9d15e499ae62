"""The machine a stage runs on: what XLA may compile for and where its compiled programs are
kept, set once at the stage's start (`setup()`), and a record of it for the timing files.

The same params give the same bits on every x86-64 CPU with AVX2 and FMA, whatever else it
has (AVX-512, AMX, another vendor), because `setup()` pins, before JAX starts, the four
things that XLA's CPU backend otherwise decides from the machine:

- its code generation's instruction set (`--xla_cpu_max_isa=AVX2`): without it, XLA's
  LLVM compiles the loops, fusions and reductions for the host's widest vectors
  (AVX-512 where the CPU has it), whose rounding differs;
- the kernels YNNPACK, the library XLA hands matrix products to, picks at run time
  (`--xla_cpu_enable_platform_dependent_math=false`, YNNPACK's "consistent arithmetic"):
  without it, a per-CPU cost model chooses among kernels that sum the inner dimension in
  different orders (docs/reproducibility.md names them); consistent arithmetic sums one term
  at a time on every CPU;
- what XLA hands YNNPACK (`--xla_cpu_experimental_ynn_fusion_type=individual_dot`): matrix
  products only. XLA's default also hands it reductions (every MSE's sum, the training step's
  sums), whose kernel YNNPACK picks by the CPU it detects, consistent arithmetic or not; left
  to XLA, they are compiled under the pinned ISA. The flag names what YNNPACK may take rather
  than subtracting reductions, so a jaxlib whose default hands it more gives it nothing more;
- the number of host devices a batch of networks is split over (two, whatever the number
  of cores): XLA compiles a program for two devices otherwise than for one or four, and the
  replicates' last bits follow.

`setup()` also turns on JAX's persistent compilation cache, in a folder per CPU kind
(`compilation_cache_dir`).

`NNREG_CPU_TARGET=native` leaves all four to XLA (every core a device): faster on some
machines, and bits that belong to this machine (its timing files say so). A user's own
`XLA_FLAGS` are honoured: a flag they set is never overridden, and every timing file
records the flags the stage ran with. `nnreg.runtime.kernels` reads the compiled programs for
anything else that picks its arithmetic by the CPU (the guard of these pins).
docs/reproducibility.md says what holds where.
"""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path

# What `portable` (the default) adds to XLA_FLAGS, unless the user's XLA_FLAGS set it already.
PORTABLE_FLAGS = {
    "--xla_cpu_max_isa": "AVX2",
    "--xla_cpu_enable_platform_dependent_math": "false",
    "--xla_cpu_experimental_ynn_fusion_type": "individual_dot",
    "--xla_force_host_platform_device_count": "2",
}
TARGETS = ("portable", "native")
TARGET_VARIABLE = "NNREG_CPU_TARGET"

# x86 instruction-set extensions that change what XLA may generate, as /proc/cpuinfo names them.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_bf16")


class MachineError(RuntimeError):
    """A stage asked for a target that does not exist, or too late (JAX already started)."""


def target(environ=os.environ) -> str:
    """`NNREG_CPU_TARGET`: portable (the default) or native."""
    value = environ.get(TARGET_VARIABLE, "portable") or "portable"
    if value not in TARGETS:
        raise MachineError(f"{TARGET_VARIABLE}={value!r}: use portable (the default) or native")
    return value


def xla_flags(user_flags: str, cpu_target: str, n_cores: int) -> str:
    """XLA_FLAGS for `cpu_target`: the user's flags, then each pin they do not set themselves."""
    given = {flag.split("=", 1)[0] for flag in user_flags.split()}
    pins = dict(PORTABLE_FLAGS) if cpu_target == "portable" else {
        "--xla_force_host_platform_device_count": str(n_cores)}  # native: every core a device
    added = [f"{name}={value}" for name, value in pins.items() if name not in given]
    return " ".join([*user_flags.split(), *added])


def setup(environ=os.environ, compilation_cache: bool = True) -> None:
    """A JAX stage's first call, before JAX starts computing: pins XLA's CPU target (see the
    module's doc), keeps JAX from taking 75 % of a GPU's memory per process (parallel stages and
    queued experiments need a few MB each), and, with `compilation_cache`, turns on JAX's
    persistent compilation cache (`use_compilation_cache`). Idempotent."""
    import sys

    if "jax" in sys.modules:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():
            raise MachineError("nnreg.runtime.machine.setup() must run before JAX starts (it sets XLA_FLAGS)")
    global _user_flags
    cpu_target = target(environ)
    environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if _user_flags is None:
        _user_flags = environ.get("XLA_FLAGS", "")
    environ["XLA_FLAGS"] = xla_flags(environ.get("XLA_FLAGS", ""), cpu_target, _n_cores())
    if compilation_cache:
        use_compilation_cache(environ)


def compilation_cache_dir(environ=os.environ) -> Path | None:
    """Where the stages keep JAX's persistent compilation cache: a folder per CPU kind
    (`machine_id()`) in $JAX_COMPILATION_CACHE_DIR, or in $XDG_CACHE_HOME/nnreg/jax
    (~/.cache/nnreg/jax); None when NNREG_COMPILE_CACHE=0.

    Per CPU kind because JAX's cache key covers the program, the XLA flags and the versions
    but not the host CPU (its platform version is "cpu"): a cache shared by two machines
    (a home folder on NFS) would hand one CPU's executable to the other, compiled for the
    first one's instruction set (a crash, or the first one's bits under `native`)."""
    if environ.get("NNREG_COMPILE_CACHE", "1") == "0":
        return None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(environ["JAX_COMPILATION_CACHE_DIR"]) / machine_id()
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nnreg" / "jax" / machine_id()


def use_compilation_cache(environ=os.environ) -> None:
    """Turns on JAX's persistent compilation cache for this process: a stage compiles what an
    earlier stage or run compiled already (the small functions every stage shares, a model's
    programs when only its outputs were removed) by reading the executable back. The same
    executable gives the same bits. Outside git and shared by every checkout, queued
    experiment and parallel stage: with a size limit set, JAX reads and writes it under a
    file lock. `make clean-cache` empties it."""
    path = compilation_cache_dir(environ)
    if path is None:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # the small ones add up
    jax.config.update("jax_compilation_cache_max_size", 2**30)  # least recently used out beyond 1 GiB


_user_flags: str | None = None  # XLA_FLAGS as the stage found them, before setup() (for record())


def _n_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_info(path: str | Path = "/proc/cpuinfo") -> dict:
    """The first CPU's model name (with its family and model numbers), vendor and flags (Linux);
    elsewhere what `platform` tells."""
    try:
        fields = {}
        for line in Path(path).read_text().splitlines():
            if not line.strip():
                break  # the first processor's block is enough
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        model = fields.get("model name") or fields.get("Model") or platform.processor()
        if "cpu family" in fields:  # a hypervisor may show only "AMD EPYC": the family tells Zen 3 from Zen 4
            model += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
        return {"model": model, "vendor": fields.get("vendor_id", ""),
                "flags": fields.get("flags", fields.get("Features", "")).split()}
    except OSError:
        return {"model": platform.processor() or platform.machine(), "vendor": "", "flags": []}


def portable_here(info: dict | None = None) -> bool:
    """Whether the pinned target's bits hold here: an x86-64 CPU with AVX2 and FMA."""
    info = info or cpu_info()
    return platform.machine() in ("x86_64", "AMD64") and {"avx2", "fma"} <= set(info["flags"])


def machine_id(info: dict | None = None) -> str:
    """A short name for this CPU kind: its architecture, then a hash of its model and flags."""
    info = info or cpu_info()
    digest = hashlib.sha256(f"{info['vendor']}|{info['model']}|{' '.join(sorted(info['flags']))}".encode())
    return f"{platform.machine()}-{digest.hexdigest()[:12]}"


def codegen_isa(cpu_target: str, flags: str, info: dict) -> str:
    """What XLA's code generation may use: the pinned ISA when there is one, else the CPU's."""
    for flag in flags.split():
        name, _, value = flag.partition("=")
        if name == "--xla_cpu_max_isa":
            return value
    present = [f for f in ISA_FLAGS if f in info["flags"]]
    return f"native ({' '.join(present) or platform.machine()})"


def versions() -> dict:
    """The versions of what computes: jax, jaxlib, keras (read from the installed packages)."""
    out = {}
    for name in ("jax", "jaxlib", "keras"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def record(devices: bool = True) -> dict:
    """What made a result: the CPU, the target and flags XLA compiled for, the devices (JAX is
    started, if it was not), the versions. For the timing files, never the metrics."""
    info = cpu_info()
    cpu_target = target()
    flags = os.environ.get("XLA_FLAGS", "")
    portable = cpu_target == "portable" and portable_here(info)
    out = {
        "cpu": info["model"],
        "cpu_isa": [f for f in ISA_FLAGS if f in info["flags"]],
        "cpu_target": cpu_target,
        "codegen_isa": codegen_isa(cpu_target, flags, info),
        "xla_flags": flags,
        "xla_flags_user": flags if _user_flags is None else _user_flags,
    }
    if devices:
        import jax

        listed = jax.devices()
        out["devices"] = {"count": len(listed), "kind": listed[0].device_kind, "platform": listed[0].platform}
        portable = portable and listed[0].platform == "cpu"
    out["bits"] = "portable (x86-64 with AVX2 and FMA)" if portable else "this machine's"
    return {**out, **versions()}
