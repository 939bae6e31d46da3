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
#include <type_traits>

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

// Kernel: static constexpr int MR, NR; static void run(int64_t kp, const P* a_panel, const P* b_panel,
// T* c, int64_t ldc, bool accumulate) computing an MR x NR tile from kp packed k steps; optionally
// tile() (edges, strided B) and pack<W>() (vectorized packing), see below. A kernel may also pack
// its panels as another type (`using Packed`, e.g. bf16 k-pairs for VDPBF16PS) in packed_k(kc)
// steps; it then brings its own pack<W>, and K blocks get an even length so that no k-pair
// straddles two blocks (gemm_bf16_kernels.h).
template <typename K, typename T>
struct PackedOf {
  using type = T;
};
template <typename K, typename T>
  requires requires { typename K::Packed; }
struct PackedOf<K, T> {
  using type = typename K::Packed;
};

template <typename T, typename Kernel, int64_t MC, int64_t KC, int64_t NC>
struct GemmDriver {
  using P = typename PackedOf<Kernel, T>::type;
  static constexpr int MR = Kernel::MR, NR = Kernel::NR;
  // Kernels that count their own packed k steps (bf16) get even K blocks: no k-pair is split.
  static constexpr bool kOwnSteps = requires(int64_t kc) { Kernel::packed_k(kc); };
  static int64_t packed_k(int64_t kc) {
    if constexpr (kOwnSteps) return Kernel::packed_k(kc);
    else return kc;
  }
  // A kernel with tile(rows, cols, kc, a, b, ldb, c, ldc, accumulate) handles edge tiles itself
  // (no scratch tile, no wasted rows/columns) and reads B with any row stride.
  static constexpr bool kTiles = requires(const T* p, T* q) { Kernel::tile(1, 1, 1, p, p, 1, q, 1, false); };

  // Packs A[ic:ic+mc, pc:pc+kc] into ceil(mc/MR) panels of [packed_k(kc)][MR].
  static void pack_a(const GemmArgs& g, int64_t ic, int64_t mc, int64_t pc, int64_t kc, P* dst) {
    const T* a = static_cast<const T*>(g.a) + ic * g.a_rs + pc * g.a_cs;
    for (int64_t ir = 0; ir < mc; ir += MR, dst += packed_k(kc) * MR)
      pack_panel<MR>(a + ir * g.a_rs, g.a_rs, g.a_cs, std::min<int64_t>(MR, mc - ir), kc, dst);
  }

  // Packs B[pc:pc+kc, jc:jc+nc] into ceil(nc/NR) panels of [packed_k(kc)][NR].
  static void pack_b(const GemmArgs& g, int64_t pc, int64_t kc, int64_t jc, int64_t nc, P* dst) {
    const T* b = static_cast<const T*>(g.b) + pc * g.b_rs + jc * g.b_cs;
    for (int64_t jr = 0; jr < nc; jr += NR, dst += packed_k(kc) * NR)
      pack_panel<NR>(b + jr * g.b_cs, g.b_cs, g.b_rs, std::min<int64_t>(NR, nc - jr), kc, dst);
  }

  // One panel: dst[p*W + r] = src[r*rs + p*ps] for lanes r < cnt (zero for cnt <= r < W), p < kc.
  // A kernel may bring its own vectorized packer (Kernel::pack<W>; one returning bool may decline a
  // layout, which then comes here); this is the portable one.
  template <int W>
  static void pack_panel(const T* src, int64_t rs, int64_t ps, int64_t cnt, int64_t kc, P* dst) {
    if constexpr (requires { Kernel::template pack<W>(src, rs, ps, cnt, kc, dst); }) {
      if constexpr (std::is_same_v<decltype(Kernel::template pack<W>(src, rs, ps, cnt, kc, dst)), bool>) {
        if (Kernel::template pack<W>(src, rs, ps, cnt, kc, dst)) return;
      } else {
        return Kernel::template pack<W>(src, rs, ps, cnt, kc, dst);
      }
    }
    if constexpr (std::is_same_v<P, T>) {
      if (rs == 1 && cnt == W) {  // lanes contiguous: a row copy per k step
        for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * W, src + p * ps, sizeof(T) * W);
      } else if (ps == 1) {  // each lane contiguous along k (A row-major, B^T row-major): read lane by lane
        for (int64_t r = 0; r < cnt; ++r)
          for (int64_t p = 0; p < kc; ++p) dst[p * W + r] = src[r * rs + p];
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t r = cnt; r < W; ++r) dst[p * W + r] = T(0);
      } else {
        for (int64_t p = 0; p < kc; ++p) {
          for (int64_t r = 0; r < cnt; ++r) dst[p * W + r] = src[r * rs + p * ps];
          for (int64_t r = cnt; r < W; ++r) dst[p * W + r] = T(0);
        }
      }
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
    // K is cut into equal blocks of at most KC (784 -> 4 x 196, not 3 x 256 + 16): a short last
    // block would pay a full C load/store per tile for a few k steps.
    const int64_t kblocks = (g.k + KC - 1) / KC;
    int64_t kstep = (g.k + kblocks - 1) / kblocks;
    if constexpr (kOwnSteps) kstep += kstep & 1;
    // Pack buffers sized to this product (a small GEMM should not take MC x KC + KC x NC).
    const auto round_up = [](int64_t x, int64_t to) { return (x + to - 1) / to * to; };
    const int64_t kp_max = packed_k(kstep);
    const size_t a_bytes = sizeof(P) * size_t(round_up(std::min(MC, g.m), MR) * kp_max);
    // Small M: each B panel would serve one or two row panels, so packing it costs about what the
    // product does; a kernel that masks its own edges reads row-major B in place instead.
    const bool direct_b = kTiles && g.b_cs == 1 && g.m <= 2 * MR;
    const size_t b_bytes = sizeof(P) * size_t(round_up(std::min(NC, g.n), NR) * kp_max);
    ember::Allocator& alloc = ember::cpu_allocator();
    P* a_pack = static_cast<P*>(alloc.allocate(a_bytes));
    P* b_pack = direct_b ? nullptr : static_cast<P*>(alloc.allocate(b_bytes));
    alignas(64) T edge[MR * NR];
    for (int64_t jc = 0; jc < g.n; jc += NC) {
      int64_t nc = std::min<int64_t>(NC, g.n - jc);
      for (int64_t pc = 0; pc < g.k; pc += kstep) {
        const int64_t kc = std::min<int64_t>(kstep, g.k - pc), kp = packed_k(kc);
        bool acc = g.accumulate || pc > 0;
        if (!direct_b) pack_b(g, pc, kc, jc, nc, b_pack);
        for (int64_t ic = 0; ic < g.m; ic += MC) {
          int64_t mc = std::min<int64_t>(MC, g.m - ic);
          pack_a(g, ic, mc, pc, kc, a_pack);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            int64_t cols = std::min<int64_t>(NR, nc - jr);
            // No arithmetic on the null b_pack when B is read in place (UB that clang's UBSan reports).
            const P* bp = direct_b ? nullptr : b_pack + (jr / NR) * kp * NR;
            int64_t ldb = NR;
            if constexpr (kTiles) {
              if (direct_b) bp = static_cast<const T*>(g.b) + pc * g.b_rs + jc + jr, ldb = g.b_rs;
            }
            for (int64_t ir = 0; ir < mc; ir += MR) {
              int64_t rows = std::min<int64_t>(MR, mc - ir);
              const P* ap = a_pack + (ir / MR) * kp * MR;
              T* cp = c + (ic + ir) * g.ldc + jc + jr;
              if constexpr (kTiles) {
                Kernel::tile(rows, cols, kp, ap, bp, ldb, cp, g.ldc, acc);
              } else if (rows == MR && cols == NR) {
                Kernel::run(kp, ap, bp, cp, g.ldc, acc);
              } else {
                Kernel::run(kp, ap, bp, edge, NR, false);  // full tile into a buffer, copy the valid part
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
