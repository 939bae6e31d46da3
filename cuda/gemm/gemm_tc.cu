// Tensor-core GEMM with mma.sync (bf16 x bf16 -> f32, and tf32 x tf32 -> f32).
// Legend: M, N, K; block tile BM x BN = 128 x 128, BK = 32 (bf16) / 16 (tf32) elements = 64 bytes
// of K per row; 8 warps as 2 (M) x 4 (N), each warp owning 64 x 32 of C = 4 x 4 mma tiles of 16 x 8
// (64 f32 accumulators per thread). 3-stage cp.async pipeline (16-byte copies, zero-filled past
// the matrix edge), so global loads of tile k+2 overlap the mma work on tile k.
// Shared layout: As[BM][BK + pad], Bs[BK][BN + pad]; the pads (16 bytes) make the 8 rows that one
// ldmatrix phase (or one fragment load) touches land in distinct banks.
// Fragments: bf16 A via ldmatrix.x4, B via ldmatrix.x4.trans (B is K-major in shared memory);
// tf32 fragments are plain 32-bit shared loads, rounded with cvt.rna.tf32.f32.
// mma shapes (PTX ISA): bf16 m16n8k16, tf32 m16n8k8; accumulator c0,c1 at (row g, cols 2t, 2t+1),
// c2,c3 at row g+8 (g = lane/4, t = lane%4).
// Why 128x128x(64 B) with 3 stages: 2 * 128 * 64 B + padding ~ 18.9 KB per stage (57 KB total),
// two blocks per H100/H200 SM, 16 mma per warp per k-step; wgmma (sm_90a) would be the next step.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "cuda/gemm/gemm.h"

namespace ember::cuda {
namespace {

constexpr int BM = 128, BN = 128, kThreads = 256, kStages = 3;

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes 0 zero-fills (the source is not read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Element traits: E the stored type, BK the K tile, per-16-byte chunk element count.
template <typename E>
struct Tc;
template <>
struct Tc<__nv_bfloat16> {
  static constexpr int BK = 32, kChunk = 8, PADA = 8, PADB = 8;
};
template <>
struct Tc<float> {
  static constexpr int BK = 16, kChunk = 4, PADA = 4, PADB = 8;
};

template <typename E>
struct Smem {
  E a[kStages][BM][Tc<E>::BK + Tc<E>::PADA];
  E b[kStages][Tc<E>::BK][BN + Tc<E>::PADB];
};

// Issues the cp.async copies of k-tile kt into stage s. A tile: BM rows x BK/kChunk chunks;
// B tile: BK rows x BN/kChunk chunks; 256 threads take chunks round-robin.
template <typename E>
__device__ __forceinline__ void load_tile(Smem<E>& sm, int s, const E* a, const E* b, const TcGemm& g, int64_t m0,
                                          int64_t n0, int64_t kt) {
  constexpr int BK = Tc<E>::BK, C = Tc<E>::kChunk;
  const int64_t k0 = kt * BK;
  constexpr int a_chunks = BM * BK / C, b_chunks = BK * BN / C;
  for (int i = threadIdx.x; i < a_chunks; i += kThreads) {
    const int r = i / (BK / C), cc = (i % (BK / C)) * C;
    const int64_t m = m0 + r, k = k0 + cc;
    const bool ok = m < g.m && k < g.k;  // K % C == 0, so a chunk is all in or all out
    cp_async16(&sm.a[s][r][cc], ok ? a + m * g.lda + k : a, ok);
  }
  for (int i = threadIdx.x; i < b_chunks; i += kThreads) {
    const int r = i / (BN / C), cc = (i % (BN / C)) * C;
    const int64_t k = k0 + r, n = n0 + cc;
    const bool ok = k < g.k && n + C <= g.n;
    cp_async16(&sm.b[s][r][cc], ok ? b + k * g.ldb + n : b, ok);  // a ragged N edge is patched later
  }
}

// Ragged N edge: the chunk straddling N was zero-filled; copy its valid elements synchronously.
template <typename E>
__device__ __forceinline__ void patch_b_edge(Smem<E>& sm, int s, const E* b, const TcGemm& g, int64_t n0, int64_t kt) {
  constexpr int BK = Tc<E>::BK, C = Tc<E>::kChunk;
  const int64_t nlast = (g.n / C) * C;  // first column of the straddling chunk
  if (g.n % C == 0 || nlast < n0 || nlast >= n0 + BN) return;
  for (int r = threadIdx.x; r < BK; r += kThreads) {
    const int64_t k = kt * BK + r;
    if (k >= g.k) continue;
    for (int64_t n = nlast; n < g.n; ++n) sm.b[s][r][n - n0] = b[k * g.ldb + n];
  }
}

__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

// One BK slice of mma work for this warp: acc[4][4][4] += A(64 x BK) B(BK x 32).
__device__ __forceinline__ void warp_mma(Smem<__nv_bfloat16>& sm, int s, int wm, int wn, float (&acc)[4][4][4]) {
  const int lane = threadIdx.x & 31;
  for (int kk = 0; kk < Tc<__nv_bfloat16>::BK; kk += 16) {
    uint32_t af[4][4], bf[4][2];
    for (int mi = 0; mi < 4; ++mi) {
      const void* p = &sm.a[s][wm * 64 + mi * 16 + (lane & 15)][kk + (lane >> 4) * 8];
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                   : "=r"(af[mi][0]), "=r"(af[mi][1]), "=r"(af[mi][2]), "=r"(af[mi][3])
                   : "r"(smem_addr(p)));
    }
    for (int nj = 0; nj < 2; ++nj) {
      const int q = lane >> 3;  // matrix q: k half (q & 1), n half (q >> 1)
      const void* p = &sm.b[s][kk + (q & 1) * 8 + (lane & 7)][wn * 32 + nj * 16 + (q >> 1) * 8];
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                   : "=r"(bf[2 * nj][0]), "=r"(bf[2 * nj][1]), "=r"(bf[2 * nj + 1][0]), "=r"(bf[2 * nj + 1][1])
                   : "r"(smem_addr(p)));
    }
    for (int mi = 0; mi < 4; ++mi)
      for (int ni = 0; ni < 4; ++ni) {
        float* c = acc[mi][ni];
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(af[mi][0]), "r"(af[mi][1]), "r"(af[mi][2]), "r"(af[mi][3]), "r"(bf[ni][0]), "r"(bf[ni][1]));
      }
  }
}

__device__ __forceinline__ void warp_mma(Smem<float>& sm, int s, int wm, int wn, float (&acc)[4][4][4]) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  for (int kk = 0; kk < Tc<float>::BK; kk += 8) {
    uint32_t af[4][4], bf[4][2];
    for (int mi = 0; mi < 4; ++mi) {
      const int r = wm * 64 + mi * 16 + g;
      af[mi][0] = to_tf32(sm.a[s][r][kk + t]);
      af[mi][1] = to_tf32(sm.a[s][r + 8][kk + t]);
      af[mi][2] = to_tf32(sm.a[s][r][kk + t + 4]);
      af[mi][3] = to_tf32(sm.a[s][r + 8][kk + t + 4]);
    }
    for (int ni = 0; ni < 4; ++ni) {
      const int n = wn * 32 + ni * 8 + g;
      bf[ni][0] = to_tf32(sm.b[s][kk + t][n]);
      bf[ni][1] = to_tf32(sm.b[s][kk + t + 4][n]);
    }
    for (int mi = 0; mi < 4; ++mi)
      for (int ni = 0; ni < 4; ++ni) {
        float* c = acc[mi][ni];
        asm volatile(
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(af[mi][0]), "r"(af[mi][1]), "r"(af[mi][2]), "r"(af[mi][3]), "r"(bf[ni][0]), "r"(bf[ni][1]));
      }
  }
}

template <typename E>
__global__ void __launch_bounds__(kThreads) gemm_tc_kernel(TcGemm g) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Smem<E>& sm = *reinterpret_cast<Smem<E>*>(smem_raw);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wm = warp >> 2, wn = warp & 3;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const int64_t ktiles = ceil_div(g.k, Tc<E>::BK);
  for (int64_t bz = blockIdx.z; bz < g.batch; bz += gridDim.z) {
    const E* a = static_cast<const E*>(g.a) + bz * g.sa;
    const E* b = static_cast<const E*>(g.b) + bz * g.sb;
    float acc[4][4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

    for (int s = 0; s < kStages - 1; ++s) {
      if (s < ktiles) load_tile(sm, s, a, b, g, m0, n0, s);
      cp_async_commit();
    }
    for (int64_t kt = 0; kt < ktiles; ++kt) {
      cp_async_wait<kStages - 2>();
      __syncthreads();
      const int s = int(kt % kStages);
      patch_b_edge(sm, s, b, g, n0, kt);
      const int64_t next = kt + kStages - 1;
      if (next < ktiles) load_tile(sm, int(next % kStages), a, b, g, m0, n0, next);
      cp_async_commit();
      __syncthreads();  // the ragged-edge patch is visible to every warp
      warp_mma(sm, s, wm, wn, acc);
    }
    cp_async_wait<0>();
    __syncthreads();  // the next batch's prologue overwrites the stages

    float* c = g.c + bz * g.sc;
    const int gr = lane >> 2, t = lane & 3;
    for (int mi = 0; mi < 4; ++mi)
      for (int ni = 0; ni < 4; ++ni)
        for (int h = 0; h < 2; ++h) {
          const int64_t m = m0 + wm * 64 + mi * 16 + gr + h * 8;
          if (m >= g.m) continue;
          for (int e = 0; e < 2; ++e) {
            const int64_t n = n0 + wn * 32 + ni * 8 + 2 * t + e;
            if (n >= g.n) continue;
            float v = acc[mi][ni][2 * h + e];
            if (g.accumulate) v += c[m * g.ldc + n];
            c[m * g.ldc + n] = v;
          }
        }
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

template <typename E>
bool run_tc(const TcGemm& g) {
  constexpr int C = Tc<E>::kChunk;
  if (g.k % C || g.lda % C || g.ldb % C || g.sa % C || g.sb % C || !aligned16(g.a) || !aligned16(g.b)) return false;
  if (g.batch == 0 || g.m == 0 || g.n == 0) return true;
  const size_t smem = sizeof(Smem<E>);
  static bool configured = false;  // per instantiation
  if (!configured) {
    EMBER_CUDA_CHECK(cudaFuncSetAttribute(gemm_tc_kernel<E>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    configured = true;
  }
  const dim3 grid(unsigned(ceil_div(g.n, BN)), unsigned(ceil_div(g.m, BM)), unsigned(std::min<int64_t>(g.batch, 65535)));
  gemm_tc_kernel<E><<<grid, kThreads, smem, current_stream()>>>(g);
  EMBER_CUDA_LAUNCHED("gemm_tc_kernel");
  return true;
}

__global__ void f32_to_bf16_kernel(const float* __restrict__ s, __nv_bfloat16* __restrict__ d, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    d[i] = __float2bfloat16_rn(s[i]);
}

}  // namespace

bool launch_gemm_bf16_tc(const TcGemm& g) { return run_tc<__nv_bfloat16>(g); }
bool launch_gemm_tf32_tc(const TcGemm& g) { return run_tc<float>(g); }

void launch_f32_to_bf16(const float* src, __nv_bfloat16* dst, int64_t n) {
  if (n == 0) return;
  f32_to_bf16_kernel<<<grid_for(n, 256, 4), 256, 0, current_stream()>>>(src, dst, n);
  EMBER_CUDA_LAUNCHED("f32_to_bf16_kernel");
}

}  // namespace ember::cuda
