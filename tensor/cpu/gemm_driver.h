// BLIS-style GEMM driver, templated on the element type and a register-blocked micro-kernel.
// Included (inside an anonymous namespace) by each ISA's translation unit, so every copy is
// compiled with that file's ISA flags; runtime dispatch in gemm.cpp picks one.
//
// Legend: C[M,N] (=|+=) A[M,K] @ B[K,N]. A and B have arbitrary row/column strides (so NN, NT, TN
// need no transposed copies); C is row-major with row stride ldc.
// Loop nest (BLIS): jc over N in NC blocks -> pc over K in KC blocks (pack B block into NR-wide
// panels, k-major) -> ic over M in MC blocks (pack A block into MR-tall panels, k-major)
// -> jr, ir over NR x MR micro-tiles -> micro-kernel (MR*NR accumulators in registers).
// Edge tiles go through a small buffer. Packing zero-pads, so the kernel never reads past a panel.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/storage.h"

struct GemmArgs {
  int64_t m, n, k;
  const void* a;
  int64_t a_rs, a_cs;  // A[i][p] = a[i*a_rs + p*a_cs]
  const void* b;
  int64_t b_rs, b_cs;  // B[p][j] = b[p*b_rs + j*b_cs]
  void* c;
  int64_t ldc;      // C[i][j] = c[i*ldc + j]
  bool accumulate;  // C += A@B instead of C = A@B
};

// Kernel: static constexpr int MR, NR; static void run(int64_t kc, const T* a_panel, const T* b_panel,
// T* c, int64_t ldc, bool accumulate) computing an MR x NR tile.
template <typename T, typename Kernel, int64_t MC, int64_t KC, int64_t NC>
struct GemmDriver {
  static constexpr int MR = Kernel::MR, NR = Kernel::NR;

  // Packs A[ic:ic+mc, pc:pc+kc] into ceil(mc/MR) panels of [kc][MR].
  static void pack_a(const GemmArgs& g, int64_t ic, int64_t mc, int64_t pc, int64_t kc, T* dst) {
    const T* a = static_cast<const T*>(g.a);
    for (int64_t ir = 0; ir < mc; ir += MR) {
      int64_t rows = std::min<int64_t>(MR, mc - ir);
      const T* src = a + (ic + ir) * g.a_rs + pc * g.a_cs;
      if (g.a_cs == 1 && rows == MR) {
        for (int64_t p = 0; p < kc; ++p)
          for (int r = 0; r < MR; ++r) dst[p * MR + r] = src[r * g.a_rs + p];
      } else {
        for (int64_t p = 0; p < kc; ++p) {
          for (int64_t r = 0; r < rows; ++r) dst[p * MR + r] = src[r * g.a_rs + p * g.a_cs];
          for (int64_t r = rows; r < MR; ++r) dst[p * MR + r] = T(0);
        }
      }
      dst += kc * MR;
    }
  }

  // Packs B[pc:pc+kc, jc:jc+nc] into ceil(nc/NR) panels of [kc][NR].
  static void pack_b(const GemmArgs& g, int64_t pc, int64_t kc, int64_t jc, int64_t nc, T* dst) {
    const T* b = static_cast<const T*>(g.b);
    for (int64_t jr = 0; jr < nc; jr += NR) {
      int64_t cols = std::min<int64_t>(NR, nc - jr);
      const T* src = b + pc * g.b_rs + (jc + jr) * g.b_cs;
      if (g.b_cs == 1 && cols == NR) {
        for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * NR, src + p * g.b_rs, sizeof(T) * NR);
      } else if (g.b_rs == 1) {  // B^T stored row-major (NT): read each column contiguously
        for (int64_t j = 0; j < cols; ++j)
          for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = src[j * g.b_cs + p];
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t j = cols; j < NR; ++j) dst[p * NR + j] = T(0);
      } else {
        for (int64_t p = 0; p < kc; ++p) {
          for (int64_t j = 0; j < cols; ++j) dst[p * NR + j] = src[p * g.b_rs + j * g.b_cs];
          for (int64_t j = cols; j < NR; ++j) dst[p * NR + j] = T(0);
        }
      }
      dst += kc * NR;
    }
  }

  // Runs the whole product single-threaded (callers split M or N across threads).
  static void run(const GemmArgs& g) {
    T* c = static_cast<T*>(g.c);
    if (g.k == 0) {
      if (!g.accumulate)
        for (int64_t i = 0; i < g.m; ++i) std::fill(c + i * g.ldc, c + i * g.ldc + g.n, T(0));
      return;
    }
    ember::Allocator& alloc = ember::cpu_allocator();
    const size_t a_bytes = sizeof(T) * size_t((MC + MR) * KC), b_bytes = sizeof(T) * size_t((NC + NR) * KC);
    T* a_pack = static_cast<T*>(alloc.allocate(a_bytes));
    T* b_pack = static_cast<T*>(alloc.allocate(b_bytes));
    alignas(64) T edge[MR * NR];
    // K is cut into equal blocks of at most KC (784 -> 4 x 196, not 3 x 256 + 16): a short last
    // block would pay a full C load/store per tile for a few k steps.
    const int64_t kblocks = (g.k + KC - 1) / KC, kstep = (g.k + kblocks - 1) / kblocks;
    for (int64_t jc = 0; jc < g.n; jc += NC) {
      int64_t nc = std::min<int64_t>(NC, g.n - jc);
      for (int64_t pc = 0; pc < g.k; pc += kstep) {
        int64_t kc = std::min<int64_t>(kstep, g.k - pc);
        bool acc = g.accumulate || pc > 0;
        pack_b(g, pc, kc, jc, nc, b_pack);
        for (int64_t ic = 0; ic < g.m; ic += MC) {
          int64_t mc = std::min<int64_t>(MC, g.m - ic);
          pack_a(g, ic, mc, pc, kc, a_pack);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            int64_t cols = std::min<int64_t>(NR, nc - jr);
            const T* bp = b_pack + (jr / NR) * kc * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              int64_t rows = std::min<int64_t>(MR, mc - ir);
              const T* ap = a_pack + (ir / MR) * kc * MR;
              T* cp = c + (ic + ir) * g.ldc + jc + jr;
              if (rows == MR && cols == NR) {
                Kernel::run(kc, ap, bp, cp, g.ldc, acc);
              } else {
                Kernel::run(kc, ap, bp, edge, NR, false);
                for (int64_t i = 0; i < rows; ++i)
                  for (int64_t j = 0; j < cols; ++j)
                    cp[i * g.ldc + j] = acc ? cp[i * g.ldc + j] + edge[i * NR + j] : edge[i * NR + j];
              }
            }
          }
        }
      }
    }
    alloc.deallocate(a_pack, a_bytes);
    alloc.deallocate(b_pack, b_bytes);
  }
};

// Portable micro-kernel: plain loops over an MR x NR tile (the compiler vectorizes the j loop).
template <typename T, int MR_, int NR_>
struct ScalarKernel {
  static constexpr int MR = MR_, NR = NR_;
  static void run(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool accumulate) {
    T acc[MR][NR] = {};
    for (int64_t p = 0; p < kc; ++p, a += MR, b += NR)
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};
