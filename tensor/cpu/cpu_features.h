// Runtime CPU feature detection and the ISA the CPU kernels dispatch to. The choice can be forced
// (tests run every path the machine supports) with set_isa() or EMBER_CPU_ISA=avx512|avx2|scalar.
#pragma once

#include <string_view>

namespace ember::cpu {

enum class Isa { scalar, avx2, avx512 };

Isa best_isa();                 // what this CPU supports
Isa active_isa();               // what kernels use now
void set_isa(Isa isa);          // throws if the CPU lacks it
std::string_view isa_name(Isa isa);

// AVX512-BF16 (VDPBF16PS, VCVTNE2PS2BF16) usable now: the CPU has the flag and the active ISA is
// avx512 (forcing avx2/scalar turns the bf16 kernel off too, so tests reach the fallback).
bool has_avx512_bf16();
// AVX512-VNNI (VPDPBUSD: u8 x s8 dot products into i32), under the same rule.
bool has_avx512_vnni();

}  // namespace ember::cpu
