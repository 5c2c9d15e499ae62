"""The guard's reader (nnreg/runtime/kernels.py) on small optimized-HLO texts in XLA's CPU format:
what it names, what the allow-list passes, what it reports."""

from nnreg.runtime import kernels

HEADER = "HloModule jit_train, is_scheduled=true\n\n"

YNN_DOT = """%fused_computation (param_0: f32[10,400], param_1: f32[10,400]) -> f32[10,10] {
  %param_0 = f32[10,400]{1,0} parameter(0)
  %param_1 = f32[10,400]{1,0} parameter(1)
  ROOT %dot.39 = f32[10,10]{1,0} dot(%param_0, %param_1), lhs_contracting_dims={1}, rhs_contracting_dims={1}
}
"""
YNN_REDUCE = """%region_0 (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %add = f32[] add(%a, %b)
}

%fused_computation.1 (param_0.1: f32[16,1000]) -> f32[16] {
  %param_0.1 = f32[16,1000]{1,0} parameter(0)
  %constant = f32[] constant(0)
  ROOT %reduce.1 = f32[16]{0} reduce(%param_0.1, %constant), dimensions={1}, to_apply=%region_0
}
"""
LOOP = """%fused_computation.2 (param_0.2: f32[10,400], param_1.2: f32[10,1]) -> f32[10,400] {
  %param_0.2 = f32[10,400]{1,0} parameter(0)
  %param_1.2 = f32[10,1]{1,0} parameter(1)
  %dot.5 = f32[10,400]{1,0} dot(%param_1.2, %param_0.2), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ROOT %tanh = f32[10,400]{1,0} tanh(%dot.5)
}
"""


def module(entry_body: str, *computations: str) -> str:
    entry = ("ENTRY %main (p0: f32[10,400], p1: f32[10,400], p2: f32[16,1000], w: f32[10,10], v: f32[1000,10]) "
             "-> (f32[10,10], f32[16]) {\n"
             "  %p0 = f32[10,400]{1,0} parameter(0)\n  %p1 = f32[10,400]{1,0} parameter(1)\n"
             "  %p2 = f32[16,1000]{1,0} parameter(2)\n  %w = f32[10,10]{1,0} parameter(3)\n"
             "  %v = f32[1000,10]{1,0} parameter(4)\n" + entry_body + "}\n")
    return HEADER + "\n".join(computations) + "\n" + entry


YNN_DOT_CALL = ('  %ynn_fusion = f32[10,10]{1,0} fusion(%p0, %p1), kind=kCustom, calls=%fused_computation, '
                'metadata={op_name="jit(train)/transpose" stack_frame_id=80}, '
                'backend_config={"fusion_config":{"kind":"__ynn_fusion"},"outer_dimension_partitions":[]}\n')
YNN_REDUCE_CALL = ('  %ynn_fusion.1 = f32[16]{0} fusion(%p2), kind=kCustom, calls=%fused_computation.1, '
                   'metadata={op_name="jit(finish)/reduce_sum"}, '
                   'backend_config={"fusion_config":{"kind":"__ynn_fusion"},"outer_dimension_partitions":[]}\n')
TUPLE = "  ROOT %tuple = (f32[10,10]{1,0}, /*index=1*/f32[16]{0}) tuple(%ynn_fusion, %ynn_fusion.1)\n"


def test_a_ynnpack_matrix_product_under_consistent_arithmetic_is_allowed():
    hlo = module(YNN_DOT_CALL + "  %r = f32[16]{0} constant({...})\n"
                 "  ROOT %tuple = (f32[10,10]{1,0}, f32[16]{0}) tuple(%ynn_fusion, %r)\n", YNN_DOT)
    assert [use for use, _ in kernels.uses(hlo)] == ["__ynn_fusion: dot"]
    assert kernels.findings(hlo) == []
    # Left to YNNPACK's per-CPU cost model (XLA's default), the same product is reported.
    dependent = kernels.uses(hlo, platform_dependent_math=True)
    assert [use for use, _ in dependent] == ["__ynn_fusion (platform-dependent math): dot"]
    options = "xla_cpu_max_isa: \"AVX2\"\nxla_force_host_platform_device_count: 2\n"
    assert [f.use for f in kernels.findings(hlo, options)] == ["__ynn_fusion (platform-dependent math): dot"]
    assert kernels.findings(hlo, options + "xla_cpu_enable_platform_dependent_math: false\n") == []


def test_a_ynnpack_reduction_is_reported_with_its_operation():
    hlo = module(YNN_DOT_CALL + YNN_REDUCE_CALL + TUPLE, YNN_DOT, YNN_REDUCE)
    found = kernels.findings(hlo)
    assert [f.use for f in found] == ["__ynn_fusion: constant reduce"]  # every operation it fuses
    assert found[0].instruction.startswith("%ynn_fusion.1 = f32[16]{0} fusion(%p2)")
    assert found[0].op_name == "jit(finish)/reduce_sum"
    assert "backend_config" not in found[0].instruction and "metadata" not in found[0].instruction


def test_other_libraries_custom_calls_and_long_eigen_products_are_reported():
    hlo = module('  %cc = f32[10,10]{1,0} custom-call(%p0, %p1), custom_call_target="__onednn$matmul"\n'
                 '  %xnn = f32[10,10]{1,0} fusion(%p0, %p1), kind=kCustom, calls=%fused_computation, '
                 'backend_config={"fusion_config":{"kind":"__xnn_fusion"}}\n'
                 "  %short = f32[10,400]{1,0} dot(%w, %p0), lhs_contracting_dims={0}, rhs_contracting_dims={0}\n"
                 "  %long = f32[10,10]{1,0} dot(%v, %v), lhs_contracting_dims={0}, rhs_contracting_dims={0}\n"
                 "  %f = f32[10,10]{1,0} fft(%w), fft_type=FFT, fft_length={10}\n"
                 "  ROOT %tuple = (f32[10,10]{1,0}, f32[10,10]{1,0}) tuple(%cc, %long)\n", YNN_DOT)
    uses = [use for use, _ in kernels.uses(hlo)]
    assert uses == ["__xnn_fusion: dot", "custom-call: __onednn$matmul",
                    f"dot outside a fusion, contracting at most {kernels.EIGEN_ONE_BLOCK} terms (Eigen)",
                    "dot outside a fusion, contracting 1000 terms (Eigen)", "fft outside a fusion (DUCC)"]
    assert [f.use for f in kernels.findings(hlo)] == [u for u in uses if "at most" not in u]
    # The long product compiled into a kernel of XLA's own (its dump says so) is XLA's code.
    assert "dot outside a fusion, contracting 1000 terms (Eigen)" not in [
        f.use for f in kernels.findings(hlo, emitted={"long"})]


def test_a_product_of_a_tuple_s_elements_is_measured_through_them():
    """jaxlib 0.12's dumps name a tuple's element `%call#i` (no get-tuple-element): the product's
    length comes from that element's shape, not "?"."""
    hlo = module("  %call = (s32[], /*index=1*/f32[2,6,30]{2,1,0}, f32[2,1000,40]{2,1,0}) call(%p0), "
                 "to_apply=%while_body\n"
                 "  %short = f32[2,30,30]{2,1,0} dot(%call#1, %call#1), lhs_batch_dims={0}, lhs_contracting_dims={1}, "
                 "rhs_batch_dims={0}, rhs_contracting_dims={1}\n"
                 "  %long = f32[2,40,40]{2,1,0} dot(%call#2, %call#2), lhs_batch_dims={0}, lhs_contracting_dims={1}, "
                 "rhs_batch_dims={0}, rhs_contracting_dims={1}\n"
                 "  ROOT %tuple = (f32[2,30,30]{2,1,0}, f32[2,40,40]{2,1,0}) tuple(%short, %long)\n")
    assert [use for use, _ in kernels.uses(hlo)] == [
        f"dot outside a fusion, contracting at most {kernels.EIGEN_ONE_BLOCK} terms (Eigen)",
        "dot outside a fusion, contracting 1000 terms (Eigen)"]


def test_a_product_inside_a_loop_fusion_is_xla_s_own_code():
    hlo = module("  %l = f32[10,400]{1,0} fusion(%p0, %p1), kind=kLoop, calls=%fused_computation.2\n"
                 "  ROOT %tuple = (f32[10,400]{1,0}) tuple(%l)\n", LOOP)
    assert kernels.uses(hlo) == [] and kernels.findings(hlo) == []


def test_the_code_generation_target_is_read_from_the_debug_options():
    assert kernels.debug_option_uses('xla_cpu_max_isa: "AVX2"\n') == []
    assert kernels.debug_option_uses('xla_cpu_max_isa: "SSE4_2"\n') == []
    assert [u for u, _ in kernels.debug_option_uses('xla_cpu_max_isa: "AVX512"\n')] == ["max_isa: AVX512"]
    assert [u for u, _ in kernels.debug_option_uses("xla_dump_to: \"/tmp\"\n")] == ["max_isa: native"]


def test_kernel_names_come_from_the_dump_s_llvm_modules():
    files = ["module_0032.jit_train.dot.25_elemental_kernel_module.ir-with-opt.ll",
             "module_0032.jit_train.dot.25_elemental_kernel_module.ir-no-opt.ll",
             "module_0032.jit_train.wrapped_reduce-window.3_kernel_module.ir-with-opt.ll",
             "module_0032.jit_train.cpu_after_optimizations.txt"]
    assert kernels.kernel_names(files) == {"dot.25", "wrapped_reduce-window.3"}


def test_every_allowed_use_says_why_in_one_line():
    assert kernels.ALLOWED
    for use, why in kernels.ALLOWED.items():
        assert "\n" not in why and len(why.split()) >= 10, use
