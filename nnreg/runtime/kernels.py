"""The guard of the portable target: which parts of a compiled XLA CPU program could pick their
arithmetic by the CPU they run on, read from what XLA compiled.

XLA's own code generation (its loops, fusions, reductions and elementwise maths) compiles for
the instruction set that `--xla_cpu_max_isa` allows: the same machine code, so the same bits, on
every CPU that has it. The risk is what runs outside it, in a library that looks at the CPU
when the program runs: YNNPACK (XLA's `__ynn_fusion`s) picks a kernel per CPU, oneDNN and
XNNPACK likewise, and Eigen, which XLA calls for a matrix product it does not hand to YNNPACK,
blocks the product by the cache sizes it detects. `findings()` names every such use in a
program's optimized HLO (`Compiled.as_text()`, or XLA's `--xla_dump_hlo_as_text` dump) that
`ALLOWED` does not list, and every code generation target past AVX2 in the program's debug
options (XLA's dump writes them beside the HLO). `tools/cpu_kernels.py` compiles every kind of
program the pipeline runs and reads them; `tests/training/test_cpu_kernels.py` fails on any
finding. So a new jaxlib, or a user's `XLA_FLAGS`, that hands the pipeline's arithmetic to a
CPU-picked kernel is caught on whatever CPU the tests run.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

# The longest contraction that Eigen sums in one block on every AVX2 CPU (see ALLOWED).
EIGEN_ONE_BLOCK = 400

# Each use a program may make of a kernel outside XLA's code generation, and why its bits are
# the same on every x86-64 CPU with AVX2 and FMA. A use is named `<where>: <operations>`.
ALLOWED = {
    "__ynn_fusion: dot": "a matrix product in YNNPACK under consistent arithmetic (platform-dependent math "
                         "off): every CPU's consistent kernel sums the inner dimension one term at a time with "
                         "FMA, whatever its vector width (YNNPACK's own test checks it)",
    f"dot outside a fusion, contracting at most {EIGEN_ONE_BLOCK} terms (Eigen)":
        "Eigen's matrix product (XLA's DotThunk), which cuts the inner dimension into blocks sized by the L1 "
        f"cache it detects: {EIGEN_ONE_BLOCK} terms or fewer are one block, summed in one order, on every CPU with "
        "32 KB of L1 or more (every AVX2 CPU); measured, docs/reproducibility.md",
}

# The instruction sets up to which XLA's code generation is the same on every x86-64 CPU with
# AVX2 and FMA (nnreg's portable target pins AVX2).
PORTABLE_ISAS = ("SSE4_2", "AVX", "AVX2")

# Operations XLA's CPU runtime hands to a library when they stand outside a fusion of its own
# code generation, and the library (a dot XLA does not give YNNPACK goes to Eigen: DotThunk).
LIBRARY_OPS = {
    "dot": "Eigen",
    "convolution": "Eigen",
    "fft": "DUCC",
    "cholesky": "Eigen",
    "triangular-solve": "Eigen",
}


class Finding(NamedTuple):
    """A use of a CPU-picked kernel that `ALLOWED` does not list."""

    use: str  # e.g. "__ynn_fusion: reduce", "custom-call: __onednn$matmul", "max_isa: AVX512"
    instruction: str  # the HLO instruction (or the debug option) where it was found
    op_name: str  # the JAX operation it came from (XLA's metadata), or ""


class Instruction(NamedTuple):
    name: str
    op: str
    shape: tuple[int, ...] | None  # its array's dimensions; None for a tuple
    line: str
    elements: tuple = ()  # a tuple's elements' dimensions (an operand `%name#i` is element i)


def _type_and_op(rest: str) -> tuple[str, str | None]:
    """The type and operation of an instruction's right-hand side `type op(...)...` (a tuple
    type holds spaces and parentheses)."""
    i = 0
    if rest.startswith("("):
        depth = 0
        for i, c in enumerate(rest):
            depth += (c == "(") - (c == ")")
            if depth == 0:
                break
        i += 1
    else:
        i = max(rest.find(" "), 0)
    m = re.match(r"\s*([A-Za-z][\w\-$.]*)\(", rest[i:])
    return rest[:i], (m.group(1) if m else None)


def _shape(type_: str) -> tuple[int, ...] | None:
    m = re.fullmatch(r"\w+\[([\d,]*)\](?:\{[^}]*\})?", type_.strip())
    return tuple(int(d) for d in m.group(1).split(",") if d) if m else None


def _elements(type_: str) -> tuple:
    """Each top-level element's dimensions of a tuple type `(f32[2]{0}, /*index=1*/s32[])`."""
    if not type_.startswith("("):
        return ()
    inner, parts, depth, start = re.sub(r"/\*.*?\*/", "", type_)[1:-1], [], 0, 0
    for i, c in enumerate(inner):
        depth += (c in "([{") - (c in ")]}")
        if c == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    return tuple(_shape(part) for part in [*parts, inner[start:]])


def computations(hlo: str) -> dict[str, list[Instruction]]:
    """The HLO module's computations by name, each its instructions."""
    out: dict[str, list[Instruction]] = {}
    current = None
    for line in hlo.splitlines():
        header = re.match(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if header and not line.startswith(" "):
            current = out.setdefault(header.group(1), [])
            continue
        m = re.match(r"^\s+(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*)$", line)
        if current is not None and m:
            type_, op = _type_and_op(m.group(2))
            if op:
                current.append(Instruction(m.group(1), op, _shape(type_), line.strip(), _elements(type_)))
    return out


def _attr(line: str, pattern: str) -> str | None:
    m = re.search(pattern, line)
    return m.group(1) if m else None


def uses(hlo: str, platform_dependent_math: bool = False, emitted: set[str] | None = None
         ) -> list[tuple[str, Instruction]]:
    """Every use of a kernel outside XLA's code generation in the optimized HLO `hlo`, named as
    `ALLOWED` names them. `platform_dependent_math`: whether the program was compiled with it
    (XLA's default; nnreg's pins turn it off), under which YNNPACK's matrix products are
    named `__ynn_fusion (platform-dependent math): dot`, not allowed. `emitted`: the
    instructions XLA compiled into kernels of its own (its dump names them: `kernel_names`);
    a dot among them is XLA's code, else it is taken to be Eigen's."""
    comps = computations(hlo)
    emitted_bodies = set()  # the bodies of fusions XLA's code generation compiles
    found = []
    for body in comps.values():
        for ins in body:
            if ins.op != "fusion":
                continue
            called = _attr(ins.line, r"calls=%?([\w.\-]+)")
            kind = _attr(ins.line, r"kind=(k\w+)")
            if kind != "kCustom":
                emitted_bodies.add(called)
                continue
            library = _attr(ins.line, r'"fusion_config":\{[^}]*"kind":"([^"]+)"') or "kCustom"
            ops = sorted({i.op for i in comps.get(called, []) if i.op not in ("parameter", "bitcast")})
            if library == "__ynn_fusion" and platform_dependent_math:
                library += " (platform-dependent math)"
            found.append((f"{library}: {' '.join(ops)}", ins))
    custom_bodies = {_attr(ins.line, r"calls=%?([\w.\-]+)") for _, ins in found}
    for name, body in comps.items():
        if name in custom_bodies:
            continue
        shapes = {ins.name: ins.shape for ins in body}
        shapes.update({f"{ins.name}#{i}": e for ins in body for i, e in enumerate(ins.elements)})
        for ins in body:
            if ins.op == "custom-call":
                target = _attr(ins.line, r'custom_call_target="([^"]+)"')
                found.append((f"custom-call: {target}", ins))
            elif ins.op in LIBRARY_OPS and name not in emitted_bodies and ins.name not in (emitted or ()):
                if ins.op == "dot":
                    k = _contraction(ins, shapes)
                    length = f"at most {EIGEN_ONE_BLOCK}" if k is not None and k <= EIGEN_ONE_BLOCK else str(k or "?")
                    found.append((f"dot outside a fusion, contracting {length} terms (Eigen)", ins))
                else:
                    found.append((f"{ins.op} outside a fusion ({LIBRARY_OPS[ins.op]})", ins))
    return found


def _contraction(dot: Instruction, shapes: dict) -> int | None:
    """How many terms each of a dot's sums adds: the product of its left operand's contracting
    dimensions (None if its shape is not known)."""
    # An operand may be a tuple's element, `%call#1` (jaxlib 0.12 prints them so).
    lhs = _attr(dot.line, r"dot\(%?([\w.\-]+(?:#\d+)?)")
    dims = _attr(dot.line, r"lhs_contracting_dims=\{([\d,]*)\}")
    shape = shapes.get(lhs)
    if shape is None or dims is None:
        return None
    return math.prod(shape[int(d)] for d in dims.split(",") if d)


def debug_option_uses(debug_options: str) -> list[tuple[str, str]]:
    """What XLA's dumped debug options (`module_*.debug_options`, text protobuf) say of the code
    generation's target: `max_isa: <ISA>` when it may go past AVX2, `max_isa: native` when
    it is the host's own."""
    options = dict(re.findall(r"^(\w+): (.*)$", debug_options, flags=re.M))
    isa = options.get("xla_cpu_max_isa", "").strip('"')
    if isa.upper() in PORTABLE_ISAS:
        return []
    return [(f"max_isa: {isa or 'native'}", f"xla_cpu_max_isa: {isa or '(unset: the host CPU)'}")]


def platform_dependent_math(debug_options: str) -> bool:
    """Whether XLA's dumped debug options leave YNNPACK its per-CPU kernels (XLA's default)."""
    return not re.search(r"^xla_cpu_enable_platform_dependent_math: false$", debug_options, flags=re.M)


def kernel_names(files) -> set[str]:
    """The instructions XLA compiled into kernels of its own, from the names of the LLVM modules
    its dump writes for one program (`module_<id>.<name>.<instruction>[_elemental]_kernel_module
    .ir-with-opt.ll`)."""
    out = set()
    for f in files:
        m = re.match(r"^module_\d+\.[^.]+\.(.+?)(?:_elemental)?_kernel_module\.ir-with-opt\.ll$", str(f))
        if m:
            out.add(m.group(1))
    return out


def judge(found: list[tuple[str, Instruction]], debug_options: str | None = None) -> list[Finding]:
    """The uses `found` (by `uses`) that `ALLOWED` does not list, and the debug options' own
    (`debug_option_uses`), as findings."""
    out = [Finding(use, ins.line.split(", metadata=")[0].split(", backend_config=")[0],
                   _attr(ins.line, r'op_name="([^"]+)"') or "")
           for use, ins in found if use not in ALLOWED]
    if debug_options is not None:
        out += [Finding(use, where, "") for use, where in debug_option_uses(debug_options)]
    return out


def findings(hlo: str, debug_options: str | None = None, emitted: set[str] | None = None) -> list[Finding]:
    """The uses of CPU-picked kernels in a compiled program that `ALLOWED` does not list.
    `debug_options`: the program's, as XLA dumps them (None: the HLO alone is read, its
    YNNPACK matrix products taken as under consistent arithmetic). `emitted`: see `uses`."""
    dependent = debug_options is not None and platform_dependent_math(debug_options)
    return judge(uses(hlo, dependent, emitted), debug_options)
