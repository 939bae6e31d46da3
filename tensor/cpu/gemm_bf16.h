// bf16-precision f32 GEMM, the kernel behind MatmulPrecision::bf16 (tensor/matmul_precision.h):
// C[M,N] (=|+=) bf16(A[M,K]) @ bf16(B[K,N]) with f32 accumulation. A, B, C are f32 and laid out as
// GemmArgs says (arbitrary A/B strides, row-major C); the rounding happens while packing.
// gemm_bf16 picks VDPBF16PS (gemm_bf16_avx512.cpp) when has_avx512_bf16(), else the portable kernel
// (gemm_bf16_kernels.h; built for AVX2 unless the active ISA is scalar) with the same rounding and
// f32 sums. Single-threaded; gemm.cpp splits C into tiles.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/cpu/gemm_driver.h"

namespace ember::cpu {

// f32 -> bf16 bits exactly as VCVTNE(2)PS2BF16 converts: round to nearest even; NaN stays a (quiet)
// NaN with its sign; inf stays inf and values past the largest bf16 round to inf; zero and f32
// subnormals become a zero of the same sign (the instruction treats subnormal inputs as zero).
inline uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0) return uint16_t((u >> 16) & 0x8000u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

inline float round_to_bf16(float x) { return bf16_to_float(bf16_bits(x)); }

void gemm_bf16(const GemmArgs& g);           // dispatches on has_avx512_bf16()
void gemm_bf16_avx512(const GemmArgs& g);    // requires has_avx512_bf16()
void gemm_bf16_portable(const GemmArgs& g);       // any x86-64
void gemm_bf16_portable_avx2(const GemmArgs& g);  // the same kernel built for AVX2

}  // namespace ember::cpu
