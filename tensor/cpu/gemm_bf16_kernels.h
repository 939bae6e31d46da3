// Kernels for the bf16 GEMMs (gemm_bf16.h), run by gemm_driver.h's GemmDriver: packing rounds f32
// to bf16, so a packed element is a bf16 k-pair (VDPBF16PS, gemm_bf16_avx512.cpp) or a bf16-valued
// float (PortableKernel below). Included by gemm_bf16_avx512.cpp, gemm_bf16_avx2.cpp and
// gemm_bf16.cpp, each compiling it with its own ISA flags.
//
// Kernel policy K (the GemmDriver hooks):
//   using Packed; static constexpr int MR, NR;
//   static int64_t packed_k(int64_t kc);   // packed steps for kc values of k (k-pairs: ceil(kc/2))
//   template <int W> static void pack(const float* src, int64_t w_stride, int64_t k_stride,
//       int64_t width, int64_t kc, Packed* dst);
//     one panel [packed_k(kc)][W] of src[w*w_stride + p*k_stride], w < width, p < kc; zero-padded
//     to W wide and to a whole last step (K odd). A panels have W = MR (w = row), B panels NR (w = col).
//   static void run(int64_t kp, const Packed* a, const Packed* b, float* c, int64_t ldc, bool accumulate);
//     an MR x NR tile of C from kp packed steps.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/gemm_driver.h"

namespace ember::cpu {

// The bf16 products use the f32 driver's loop nest with a bf16 kernel policy.
template <typename K, int64_t MC, int64_t KC, int64_t NC>
using Bf16GemmDriver = GemmDriver<float, K, MC, KC, NC>;

// Portable kernel: operands rounded to bf16 while packing but kept as floats (so every product is
// exact, as in VDPBF16PS) and summed in f32. Sums live in 8-float GCC vectors (one ymm with AVX2,
// two xmm on the baseline ISA), MR x NR/8 of them in registers across the k loop. Same rounding as
// the AVX512-BF16 kernel; only the order of the f32 sums differs.
template <int MR_, int NR_>
struct PortableKernel {
  using Packed = float;
  using V = float __attribute__((vector_size(32)));
  static constexpr int MR = MR_, NR = NR_, NV = NR_ / 8;
  static_assert(NR % 8 == 0);
  static int64_t packed_k(int64_t kc) { return kc; }

  template <int W>
  static void pack(const float* src, int64_t ws, int64_t ks, int64_t width, int64_t kc, float* dst) {
    for (int64_t p = 0; p < kc; ++p, dst += W) {
      for (int64_t w = 0; w < width; ++w) dst[w] = round_to_bf16(src[w * ws + p * ks]);
      for (int64_t w = width; w < W; ++w) dst[w] = 0.0f;
    }
  }


  static void run(int64_t kp, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    V acc[MR][NV] = {};
    for (int64_t p = 0; p < kp; ++p, a += MR, b += NR) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], b + 8 * v, sizeof(V));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const V av = a[i] - V{};  // broadcast (x - 0 is x for every x, so no add is emitted)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] += av * bv[v];
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) {
        float* out = c + i * ldc + 8 * v;
        V sum = acc[i][v];
        if (accumulate) {
          V old;
          std::memcpy(&old, out, sizeof old);
          sum += old;
        }
        std::memcpy(out, &sum, sizeof sum);
      }
  }
};

}  // namespace ember::cpu
