// Fused scaled-dot-product attention (flash-attention style), f32, forward and backward.
// Legend: B batch, Hq query heads, Hkv kv heads (query head h reads kv head h / (Hq/Hkv); K/V are
// never repeated), T queries, S keys, D head dim, Dv value dim (both <= 128). Causal keeps key s
// for query t when s <= t + (S - T) (aligned to the end, as with a KV cache).
// Tiles: 64 queries x 64 keys, 256 threads. Thread (r, c) = (tid / 16, tid % 16) owns rows
// r*4..r*4+3 of a tile and columns c + 16j: score columns (keys) j < 4, output columns j < Dv/16.
// A row's 16 owners are one half-warp, so row max / sum are 4 xor-shuffles.
// Forward: per (b, h, query tile) stream the key tiles once with the online softmax:
//   m' = max(m, rowmax S), l = l e^(m-m') + sum e^(S-m'), O = O e^(m-m') + P V; out = O / l,
//   lse = m + log l. Memory: Q, K, V read once per query tile, no T x S matrix in HBM.
// Backward (FlashAttention-2 split, no atomics): delta = rowsum(dO * O);
//   dQ kernel per query tile over key tiles: P = e^(S - lse), dP = dO V^T, dS = P (dP - delta),
//     dQ = scale * dS K;
//   dK/dV kernel per (b, kv head, key tile) over the group's query heads and query tiles:
//     dV += P^T dO, dK += scale * dS^T Q.
// Shared rows are padded by one float (conflict-free column walks). Fully masked query rows
// give out = 0 and lse = -inf.
#include <cuda_runtime.h>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

constexpr int kTile = 64, kThreads = 256, kMaxD = 128, kNJ = kMaxD / 16;

// Copies rows [row0, row0 + 64) of a [rows, d] matrix into shared (pitch d + 1), zero past the end.
__device__ __forceinline__ void load_rows(float* dst, const float* src, int64_t row0, int64_t rows, int d) {
  for (int i = threadIdx.x; i < kTile * d; i += kThreads) {
    const int r = i / d, k = i % d;
    dst[r * (d + 1) + k] = row0 + r < rows ? src[(row0 + r) * d + k] : 0.f;
  }
}

// acc[i][j] = sum_k A[r*4+i][k] * B[c+16j][k], A and B in shared with pitch d + 1.
__device__ __forceinline__ void tile_dot(const float* A, const float* B, int d, float (&acc)[4][4]) {
  const int r = threadIdx.x / 16, c = threadIdx.x % 16;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
#pragma unroll 4
  for (int k = 0; k < d; ++k) {
    float a[4], b[4];
    for (int i = 0; i < 4; ++i) a[i] = A[(r * 4 + i) * (d + 1) + k];
    for (int j = 0; j < 4; ++j) b[j] = B[(c + 16 * j) * (d + 1) + k];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
  }
}

// out[i][jj] += sum_kk P[r*4+i][kk] * V[kk][c+16jj] for columns c+16jj < dv (P pitch 65, V pitch dv+1).
__device__ __forceinline__ void tile_pv(const float* P, const float* V, int dv, float (&out)[4][kNJ], float scale) {
  const int r = threadIdx.x / 16, c = threadIdx.x % 16;
#pragma unroll 4
  for (int kk = 0; kk < kTile; ++kk) {
    float p[4];
    for (int i = 0; i < 4; ++i) p[i] = P[(r * 4 + i) * (kTile + 1) + kk] * scale;
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj) {
      const int col = c + 16 * jj;
      if (col < dv) {
        const float v = V[kk * (dv + 1) + col];
        for (int i = 0; i < 4; ++i) out[i][jj] += p[i] * v;
      }
    }
  }
}

__device__ __forceinline__ float half_warp_max(float v) {
  for (int o = 8; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float half_warp_sum(float v) {
  for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ bool kept(int64_t t, int64_t s, const SdpaDims& a) {
  return t < a.t && s < a.s && (!a.causal || s <= t + (a.s - a.t));
}

// Number of key tiles a query tile starting at t0 needs (causal skips keys past the last query).
__device__ __forceinline__ int64_t key_tiles(int64_t t0, const SdpaDims& a) {
  int64_t smax = a.s;
  if (a.causal) {
    const int64_t tl = min(t0 + kTile, a.t) - 1;
    smax = min(a.s, max(tl + (a.s - a.t) + 1, int64_t(0)));
  }
  return ceil_div(smax, kTile);
}

__global__ void __launch_bounds__(kThreads) sdpa_fwd_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                                            const float* __restrict__ v, float* __restrict__ out,
                                                            float* __restrict__ lse, SdpaDims a) {
  extern __shared__ float sm[];
  const int d = int(a.d), dv = int(a.dv);
  float* Qs = sm;
  float* Ks = Qs + kTile * (d + 1);
  float* Vs = Ks + kTile * (d + 1);
  float* Ps = Vs + kTile * (dv + 1);
  const int64_t t0 = int64_t(blockIdx.x) * kTile, bh = blockIdx.y, b = bh / a.hq, h = bh % a.hq;
  const int64_t hk = h / (a.hq / a.hkv);
  const float* qb = q + bh * a.t * a.d;
  const float* kb = k + (b * a.hkv + hk) * a.s * a.d;
  const float* vb = v + (b * a.hkv + hk) * a.s * a.dv;
  const int r = threadIdx.x / 16, c = threadIdx.x % 16;
  load_rows(Qs, qb, t0, a.t, d);
  float m[4], l[4], o[4][kNJ];
  for (int i = 0; i < 4; ++i) {
    m[i] = -INFINITY, l[i] = 0.f;
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj) o[i][jj] = 0.f;
  }
  const int64_t tiles = key_tiles(t0, a);
  for (int64_t kt = 0; kt < tiles; ++kt) {
    const int64_t s0 = kt * kTile;
    __syncthreads();
    load_rows(Ks, kb, s0, a.s, d);
    load_rows(Vs, vb, s0, a.s, dv);
    __syncthreads();
    float sc[4][4];
    tile_dot(Qs, Ks, d, sc);
    for (int i = 0; i < 4; ++i) {
      const int64_t t = t0 + r * 4 + i;
      float mt = -INFINITY;
      for (int j = 0; j < 4; ++j) {
        sc[i][j] = kept(t, s0 + c + 16 * j, a) ? sc[i][j] * a.scale : -INFINITY;
        mt = fmaxf(mt, sc[i][j]);
      }
      const float mn = fmaxf(m[i], half_warp_max(mt));
      const float alpha = mn == -INFINITY ? 1.f : __expf(m[i] - mn);
      float ps = 0.f;
      for (int j = 0; j < 4; ++j) {
        const float p = mn == -INFINITY ? 0.f : __expf(sc[i][j] - mn);
        Ps[(r * 4 + i) * (kTile + 1) + c + 16 * j] = p;
        ps += p;
      }
      l[i] = l[i] * alpha + half_warp_sum(ps);
      m[i] = mn;
#pragma unroll
      for (int jj = 0; jj < kNJ; ++jj) o[i][jj] *= alpha;
    }
    __syncthreads();
    tile_pv(Ps, Vs, dv, o, 1.f);
  }
  for (int i = 0; i < 4; ++i) {
    const int64_t t = t0 + r * 4 + i;
    if (t >= a.t) continue;
    const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj)
      if (c + 16 * jj < dv) out[(bh * a.t + t) * a.dv + c + 16 * jj] = o[i][jj] * inv;
    if (c == 0) lse[bh * a.t + t] = l[i] > 0.f ? m[i] + logf(l[i]) : -INFINITY;
  }
}

// delta[row] = sum_j dO[row][j] * O[row][j]; one warp per row.
__global__ void sdpa_delta_kernel(const float* __restrict__ out, const float* __restrict__ gout, float* __restrict__ delta,
                                  int64_t rows, int64_t dv) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32; row < rows;
       row += int64_t(gridDim.x) * (blockDim.x / 32)) {
    float s = 0.f;
    for (int64_t j = lane; j < dv; j += 32) s += out[row * dv + j] * gout[row * dv + j];
    s = warp_sum(s);
    if (lane == 0) delta[row] = s;
  }
}

// P = exp(scale * S - lse) (0 where masked) for the thread's 4 x 4 block of a (query tile, key tile).
__device__ __forceinline__ void probs(float (&s)[4][4], int64_t t0, int64_t s0, const float* lse_tile, const SdpaDims& a,
                                      bool rows_are_queries) {
  const int r = threadIdx.x / 16, c = threadIdx.x % 16;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      // rows_are_queries: (query r*4+i, key c+16j); else (key r*4+i, query c+16j)
      const int64_t t = rows_are_queries ? t0 + r * 4 + i : t0 + c + 16 * j;
      const int64_t sk = rows_are_queries ? s0 + c + 16 * j : s0 + r * 4 + i;
      const float l = lse_tile[rows_are_queries ? r * 4 + i : c + 16 * j];
      s[i][j] = kept(t, sk, a) && l != -INFINITY ? __expf(s[i][j] * a.scale - l) : 0.f;
    }
}

__global__ void __launch_bounds__(kThreads) sdpa_dq_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                                           const float* __restrict__ v, const float* __restrict__ lse,
                                                           const float* __restrict__ delta,
                                                           const float* __restrict__ gout, float* __restrict__ gq,
                                                           SdpaDims a) {
  extern __shared__ float sm[];
  const int d = int(a.d), dv = int(a.dv);
  float* Qs = sm;
  float* dOs = Qs + kTile * (d + 1);
  float* Ks = dOs + kTile * (dv + 1);
  float* Vs = Ks + kTile * (d + 1);
  float* Ps = Vs + kTile * (dv + 1);
  float* Ls = Ps + kTile * (kTile + 1);
  float* Ds = Ls + kTile;
  const int64_t t0 = int64_t(blockIdx.x) * kTile, bh = blockIdx.y, b = bh / a.hq, h = bh % a.hq;
  const int64_t hk = h / (a.hq / a.hkv);
  const float* kb = k + (b * a.hkv + hk) * a.s * a.d;
  const float* vb = v + (b * a.hkv + hk) * a.s * a.dv;
  const int r = threadIdx.x / 16, c = threadIdx.x % 16;
  load_rows(Qs, q + bh * a.t * a.d, t0, a.t, d);
  load_rows(dOs, gout + bh * a.t * a.dv, t0, a.t, dv);
  for (int i = threadIdx.x; i < kTile; i += kThreads) {
    const bool in = t0 + i < a.t;
    Ls[i] = in ? lse[bh * a.t + t0 + i] : -INFINITY;
    Ds[i] = in ? delta[bh * a.t + t0 + i] : 0.f;
  }
  float acc[4][kNJ];
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj) acc[i][jj] = 0.f;
  const int64_t tiles = key_tiles(t0, a);
  for (int64_t kt = 0; kt < tiles; ++kt) {
    const int64_t s0 = kt * kTile;
    __syncthreads();
    load_rows(Ks, kb, s0, a.s, d);
    load_rows(Vs, vb, s0, a.s, dv);
    __syncthreads();
    float p[4][4], dp[4][4];
    tile_dot(Qs, Ks, d, p);
    probs(p, t0, s0, Ls, a, true);
    tile_dot(dOs, Vs, dv, dp);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) Ps[(r * 4 + i) * (kTile + 1) + c + 16 * j] = p[i][j] * (dp[i][j] - Ds[r * 4 + i]);
    __syncthreads();
    tile_pv(Ps, Ks, d, acc, a.scale);  // dQ += scale * dS K (K pitch d + 1)
  }
  for (int i = 0; i < 4; ++i) {
    const int64_t t = t0 + r * 4 + i;
    if (t >= a.t) continue;
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj)
      if (c + 16 * jj < d) gq[(bh * a.t + t) * a.d + c + 16 * jj] = acc[i][jj];
  }
}

__global__ void __launch_bounds__(kThreads) sdpa_dkv_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                                            const float* __restrict__ v, const float* __restrict__ lse,
                                                            const float* __restrict__ delta,
                                                            const float* __restrict__ gout, float* __restrict__ gk,
                                                            float* __restrict__ gv, SdpaDims a) {
  extern __shared__ float sm[];
  const int d = int(a.d), dv = int(a.dv);
  float* Ks = sm;
  float* Vs = Ks + kTile * (d + 1);
  float* Qs = Vs + kTile * (dv + 1);
  float* dOs = Qs + kTile * (d + 1);
  float* Ps = dOs + kTile * (dv + 1);
  float* Ls = Ps + kTile * (kTile + 1);
  float* Ds = Ls + kTile;
  const int64_t s0 = int64_t(blockIdx.x) * kTile, bk = blockIdx.y, b = bk / a.hkv, hk = bk % a.hkv;
  const int64_t group = a.hq / a.hkv;
  const int r = threadIdx.x / 16, c = threadIdx.x % 16;
  load_rows(Ks, k + bk * a.s * a.d, s0, a.s, d);
  load_rows(Vs, v + bk * a.s * a.dv, s0, a.s, dv);
  float dk[4][kNJ], dvv[4][kNJ];
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj) dk[i][jj] = 0.f, dvv[i][jj] = 0.f;
  // Causal: query t sees key s when t >= s - (S - T); the first query tile that can see s0.
  const int64_t tfirst = a.causal ? max(s0 - (a.s - a.t), int64_t(0)) : 0;
  for (int64_t g = 0; g < group; ++g) {
    const int64_t bh = b * a.hq + hk * group + g;
    for (int64_t t0 = (tfirst / kTile) * kTile; t0 < a.t; t0 += kTile) {
      __syncthreads();
      load_rows(Qs, q + bh * a.t * a.d, t0, a.t, d);
      load_rows(dOs, gout + bh * a.t * a.dv, t0, a.t, dv);
      for (int i = threadIdx.x; i < kTile; i += kThreads) {
        const bool in = t0 + i < a.t;
        Ls[i] = in ? lse[bh * a.t + t0 + i] : -INFINITY;
        Ds[i] = in ? delta[bh * a.t + t0 + i] : 0.f;
      }
      __syncthreads();
      float p[4][4], dp[4][4];
      tile_dot(Ks, Qs, d, p);  // rows = keys, columns = queries
      probs(p, t0, s0, Ls, a, false);
      tile_dot(Vs, dOs, dv, dp);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) Ps[(r * 4 + i) * (kTile + 1) + c + 16 * j] = p[i][j];
      __syncthreads();
      tile_pv(Ps, dOs, dv, dvv, 1.f);  // dV += P^T dO
      __syncthreads();
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) Ps[(r * 4 + i) * (kTile + 1) + c + 16 * j] = p[i][j] * (dp[i][j] - Ds[c + 16 * j]);
      __syncthreads();
      tile_pv(Ps, Qs, d, dk, a.scale);  // dK += scale * dS^T Q
    }
  }
  for (int i = 0; i < 4; ++i) {
    const int64_t s = s0 + r * 4 + i;
    if (s >= a.s) continue;
#pragma unroll
    for (int jj = 0; jj < kNJ; ++jj) {
      if (c + 16 * jj < d) gk[(bk * a.s + s) * a.d + c + 16 * jj] = dk[i][jj];
      if (c + 16 * jj < dv) gv[(bk * a.s + s) * a.dv + c + 16 * jj] = dvv[i][jj];
    }
  }
}

size_t set_smem(const void* kernel, size_t bytes) {
  EMBER_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  return bytes;
}

}  // namespace

bool sdpa_supported(const SdpaDims& a) {
  return a.d >= 1 && a.d <= kMaxD && a.dv >= 1 && a.dv <= kMaxD && a.hkv >= 1 && a.hq % a.hkv == 0 &&
         a.b * a.hq <= 65535 && a.b * a.hkv <= 65535;
}

void launch_sdpa_fwd(const float* q, const float* k, const float* v, float* out, float* lse, const SdpaDims& a) {
  if (a.b * a.hq * a.t == 0) return;
  const size_t smem = sizeof(float) * (2 * kTile * (a.d + 1) + kTile * (a.dv + 1) + kTile * (kTile + 1));
  set_smem(reinterpret_cast<const void*>(sdpa_fwd_kernel), smem);
  const dim3 grid(unsigned(ceil_div(a.t, kTile)), unsigned(a.b * a.hq));
  sdpa_fwd_kernel<<<grid, kThreads, smem, current_stream()>>>(q, k, v, out, lse, a);
  EMBER_CUDA_LAUNCHED("sdpa_fwd_kernel");
}

void launch_sdpa_bwd(const float* q, const float* k, const float* v, const float* out, const float* lse,
                     const float* gout, float* gq, float* gk, float* gv, float* scratch, const SdpaDims& a) {
  const int64_t rows = a.b * a.hq * a.t;
  if (rows > 0) {
    sdpa_delta_kernel<<<grid_for(rows, 8), 256, 0, current_stream()>>>(out, gout, scratch, rows, a.dv);
    EMBER_CUDA_LAUNCHED("sdpa_delta_kernel");
    const size_t smem = sizeof(float) * (2 * kTile * (a.d + 1) + 2 * kTile * (a.dv + 1) + kTile * (kTile + 1) + 2 * kTile);
    set_smem(reinterpret_cast<const void*>(sdpa_dq_kernel), smem);
    sdpa_dq_kernel<<<dim3(unsigned(ceil_div(a.t, kTile)), unsigned(a.b * a.hq)), kThreads, smem, current_stream()>>>(
        q, k, v, lse, scratch, gout, gq, a);
    EMBER_CUDA_LAUNCHED("sdpa_dq_kernel");
  }
  if (a.b * a.hkv * a.s > 0) {
    const size_t smem = sizeof(float) * (2 * kTile * (a.d + 1) + 2 * kTile * (a.dv + 1) + kTile * (kTile + 1) + 2 * kTile);
    set_smem(reinterpret_cast<const void*>(sdpa_dkv_kernel), smem);
    sdpa_dkv_kernel<<<dim3(unsigned(ceil_div(a.s, kTile)), unsigned(a.b * a.hkv)), kThreads, smem, current_stream()>>>(
        q, k, v, lse, scratch, gout, gk, gv, a);
    EMBER_CUDA_LAUNCHED("sdpa_dkv_kernel");
  }
}

}  // namespace ember::cuda
