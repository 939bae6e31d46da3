// AVX-512 f32 GEMM: micro-kernels and vectorized panel packing. Compiled with -mavx512f (CMake's
// per-file ISA flags).
//
// Kernels (MR x NR tile of C in zmm accumulators, per k step: NR/16 B loads, MR broadcasts folded
// into the FMAs as {1to16} memory operands):
//   Wide   12 x 32: 24 accumulators, 24 FMAs per 14 loads: the general case.
//   Narrow 24 x 16: 24 accumulators, one B vector: for N <= 16 (a classifier's 10 logits), where
//                   the wide tile would spend 22 of its 32 columns on padding.
// Packing: a panel is [kc][W] (W = MR for A, NR for B). When each lane (row of A, column of B) is
// contiguous along k (A row-major, B^T row-major: the NN/NT forward and data-gradient cases), 16
// lanes x 16 k steps are loaded and transposed in registers; when the lanes themselves are
// contiguous (A^T, B row-major) each k step is one masked row copy.
#include <immintrin.h>

#include <array>
#include <utility>

#include "tensor/cpu/gemm_driver.h"

namespace ember::cpu {
namespace {

// GCC 12's unpack/shuffle intrinsics pass _mm512_undefined_ps() as the unused merge source, which
// -Wmaybe-uninitialized reports once they are inlined here; the value is never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// In-register transpose of a 16x16 block: r[i] holds row i on entry and column i on exit.
// Three stages, each on pairs: 32-bit (unpack), 64-bit (shuffle_ps), 128-bit lanes (shuffle_f32x4 twice).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4g + j], lane l: column 4l + j of rows 4g..4g+3
  for (int g = 0; g < 4; ++g) {
    r[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  // For each j, a 4x4 transpose of 128-bit lanes across r[j], r[4 + j], r[8 + j], r[12 + j].
  for (int j = 0; j < 4; ++j) {
    const __m512 u0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), u1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88),
                 u3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    t[j] = _mm512_shuffle_f32x4(u0, u2, 0x88);      // column j
    t[8 + j] = _mm512_shuffle_f32x4(u0, u2, 0xDD);  // column 8 + j
    t[4 + j] = _mm512_shuffle_f32x4(u1, u3, 0x88);  // column 4 + j
    t[12 + j] = _mm512_shuffle_f32x4(u1, u3, 0xDD); // column 12 + j
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}
#pragma GCC diagnostic pop

inline __mmask16 first(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Panel packer shared by the kernels: dst[p*W + r] = src[r*rs + p*ps], r < cnt, zero-padded to W.
// False for operands contiguous in neither direction: the driver's portable packer takes those.
template <int W>
bool pack_panel(const float* src, int64_t rs, int64_t ps, int64_t cnt, int64_t kc, float* dst) {
  if (ps == 1) {  // lanes contiguous along k: 16 x 16 blocks through registers
    for (int r0 = 0; r0 < W; r0 += 16) {
      const int lanes = std::min(16, W - r0);
      const int64_t valid = std::clamp<int64_t>(cnt - r0, 0, lanes);
      for (int64_t p0 = 0; p0 < kc; p0 += 16) {
        const int64_t steps = std::min<int64_t>(16, kc - p0);
        const __mmask16 kmask = first(steps);
        __m512 v[16];
        for (int r = 0; r < 16; ++r)
          v[r] = r < valid ? _mm512_maskz_loadu_ps(kmask, src + (r0 + r) * rs + p0) : _mm512_setzero_ps();
        transpose16(v);
        for (int64_t p = 0; p < steps; ++p) _mm512_mask_storeu_ps(dst + (p0 + p) * W + r0, first(lanes), v[p]);
      }
    }
  } else if (rs == 1) {  // lanes contiguous: one masked row copy per k step
    for (int64_t p = 0; p < kc; ++p)
      for (int r0 = 0; r0 < W; r0 += 16) {
        const __mmask16 load = first(std::clamp<int64_t>(cnt - r0, 0, 16));
        _mm512_mask_storeu_ps(dst + p * W + r0, first(W - r0), _mm512_maskz_loadu_ps(load, src + p * ps + r0));
      }
  } else {
    return false;
  }
  return true;
}

// C[MR x 16*NV] (=|+=) A panel [kc][MR] @ B [kc][16*NV] (a packed panel, or row-major B in place).
template <int MR_, int NV>
struct Avx512Kernel {
  static constexpr int MR = MR_, NR = 16 * NV;
  using Block = void (*)(int64_t, const float*, const float*, int64_t, float*, int64_t, bool, __mmask16);

  template <int W>
  static bool pack(const float* src, int64_t rs, int64_t ps, int64_t cnt, int64_t kc, float* dst) {
    return pack_panel<W>(src, rs, ps, cnt, kc, dst);
  }

  // C[R rows x (16*(V-1) + columns of `last`)] from A panel rows [0, R) (panel stride MR) and B rows
  // ldb apart. The last B/C vector is masked, so an edge reads and writes only real columns.
  template <int R, int V, bool kMasked = true>
  static void block(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                    bool accumulate, __mmask16 last) {
    __m512 acc[R][V];
#pragma GCC unroll 24
    for (int i = 0; i < R; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);  // C is touched after the k loop
      if constexpr (V == 2) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < kc; ++p, a += MR, b += ldb) {
      _mm_prefetch(reinterpret_cast<const char*>(a + 8 * MR), _MM_HINT_T0);  // A streams from L2
      __m512 bv[V];
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) bv[v] = kMasked && v + 1 == V ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 24
      for (int i = 0; i < R; ++i) {
        const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 2
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
#pragma GCC unroll 24
    for (int i = 0; i < R; ++i) {
      float* row = c + i * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) {
        if (kMasked && v + 1 == V) {
          if (accumulate) acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_maskz_loadu_ps(last, row + 16 * v));
          _mm512_mask_storeu_ps(row + 16 * v, last, acc[i][v]);
        } else {
          if (accumulate) acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_loadu_ps(row + 16 * v));
          _mm512_storeu_ps(row + 16 * v, acc[i][v]);
        }
      }
    }
  }

  template <size_t... I>
  static constexpr std::array<Block, sizeof...(I)> blocks(std::index_sequence<I...>) {
    return {&block<int(I / NV) + 1, int(I % NV) + 1>...};
  }
  static constexpr std::array<Block, MR * NV> kBlocks = blocks(std::make_index_sequence<MR * NV>{});

  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    block<MR, NV, false>(kc, a, b, NR, c, ldc, accumulate, 0xFFFF);
  }
  // Any tile up to MR x NR: the block instance with exactly `rows` rows and ceil(cols/16) vectors.
  static void tile(int64_t rows, int64_t cols, int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                   int64_t ldc, bool accumulate) {
    if (rows == MR && cols == NR) return block<MR, NV, false>(kc, a, b, ldb, c, ldc, accumulate, 0xFFFF);
    const int64_t vecs = (cols + 15) / 16;
    kBlocks[(rows - 1) * NV + vecs - 1](kc, a, b, ldb, c, ldc, accumulate, first(cols - 16 * (vecs - 1)));
  }
};

}  // namespace

// Wide: MC x KC block of A (144 x 384 floats = 216 KiB) stays in L2, a KC x NR panel of B (48 KiB)
// mostly in L1, KC x NC of B in L3. KC 384 measured 0.95 -> 1.01x OpenBLAS at 2048^3 against 256.
void gemm_f32_avx512(const GemmArgs& g) {
  if (g.n <= 16) return GemmDriver<float, Avx512Kernel<24, 1>, 144, 256, 3072>::run(g);
  GemmDriver<float, Avx512Kernel<12, 2>, 144, 384, 3072>::run(g);
}

}  // namespace ember::cpu
