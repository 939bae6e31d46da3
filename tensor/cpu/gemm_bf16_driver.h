// BLIS-style loop nest for the bf16 GEMMs (gemm_bf16.h), the same nest as gemm_driver.h's but with
// packing that rounds f32 to bf16, so a packed element may be a bf16 k-pair (VDPBF16PS) or a
// bf16-valued float (PortableKernel below). Included by gemm_bf16_avx512.cpp, gemm_bf16_avx2.cpp and
// gemm_bf16.cpp, each compiling it with its own ISA flags.
//
// Kernel policy K:
//   using Packed; static constexpr int MR, NR;
//   static int64_t packed_k(int64_t kc);   // packed steps for kc values of k (k-pairs: ceil(kc/2))
//   template <int W> static void pack(const float* src, int64_t w_stride, int64_t k_stride,
//       int64_t width, int64_t kc, Packed* dst);
//     one panel [packed_k(kc)][W] of src[w*w_stride + p*k_stride], w < width, p < kc; zero-padded
//     to W wide and to a whole last step (K odd). A panels have W = MR (w = row), B panels NR (w = col).
//   static void run(int64_t kp, const Packed* a, const Packed* b, float* c, int64_t ldc, bool accumulate);
//     an MR x NR tile of C from kp packed steps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/gemm_driver.h"
#include "tensor/storage.h"

namespace ember::cpu {

template <typename K, int64_t MC, int64_t KC, int64_t NC>
struct Bf16GemmDriver {
  using P = typename K::Packed;
  static constexpr int MR = K::MR, NR = K::NR;

  static void run(const GemmArgs& g) {
    float* c = static_cast<float*>(g.c);
    const float* a = static_cast<const float*>(g.a);
    const float* b = static_cast<const float*>(g.b);
    if (g.k == 0) {
      if (!g.accumulate)
        for (int64_t i = 0; i < g.m; ++i) std::fill(c + i * g.ldc, c + i * g.ldc + g.n, 0.0f);
      return;
    }
    // Equal K blocks of at most KC, each an even length so no k-pair straddles two blocks.
    const int64_t kblocks = (g.k + KC - 1) / KC;
    int64_t kstep = (g.k + kblocks - 1) / kblocks;
    kstep += kstep & 1;
    const int64_t kp_max = K::packed_k(kstep);
    const int64_t mc_max = std::min<int64_t>(MC, g.m), nc_max = std::min<int64_t>(NC, g.n);
    const size_t a_bytes = sizeof(P) * size_t((mc_max + MR - 1) / MR * MR * kp_max);
    const size_t b_bytes = sizeof(P) * size_t((nc_max + NR - 1) / NR * NR * kp_max);
    Allocator& alloc = cpu_allocator();
    P* a_pack = static_cast<P*>(alloc.allocate(a_bytes));
    P* b_pack = static_cast<P*>(alloc.allocate(b_bytes));
    alignas(64) float edge[MR * NR];
    for (int64_t jc = 0; jc < g.n; jc += NC) {
      const int64_t nc = std::min<int64_t>(NC, g.n - jc);
      for (int64_t pc = 0; pc < g.k; pc += kstep) {
        const int64_t kc = std::min<int64_t>(kstep, g.k - pc), kp = K::packed_k(kc);
        const bool acc = g.accumulate || pc > 0;
        for (int64_t jr = 0; jr < nc; jr += NR)
          K::template pack<NR>(b + pc * g.b_rs + (jc + jr) * g.b_cs, g.b_cs, g.b_rs, std::min<int64_t>(NR, nc - jr), kc,
                               b_pack + jr / NR * kp * NR);
        for (int64_t ic = 0; ic < g.m; ic += MC) {
          const int64_t mc = std::min<int64_t>(MC, g.m - ic);
          for (int64_t ir = 0; ir < mc; ir += MR)
            K::template pack<MR>(a + (ic + ir) * g.a_rs + pc * g.a_cs, g.a_rs, g.a_cs, std::min<int64_t>(MR, mc - ir),
                                 kc, a_pack + ir / MR * kp * MR);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t cols = std::min<int64_t>(NR, nc - jr);
            const P* bp = b_pack + jr / NR * kp * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int64_t rows = std::min<int64_t>(MR, mc - ir);
              const P* ap = a_pack + ir / MR * kp * MR;
              float* cp = c + (ic + ir) * g.ldc + jc + jr;
              if (rows == MR && cols == NR) {
                K::run(kp, ap, bp, cp, g.ldc, acc);
                continue;
              }
              K::run(kp, ap, bp, edge, NR, false);  // edge tile: full tile into a buffer, copy the valid part
              for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < cols; ++j)
                  cp[i * g.ldc + j] = acc ? cp[i * g.ldc + j] + edge[i * NR + j] : edge[i * NR + j];
            }
          }
        }
      }
    }
    alloc.deallocate(a_pack, a_bytes);
    alloc.deallocate(b_pack, b_bytes);
  }
};

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
