// SIMT GEMM: shared-memory tiled, register-blocked (the default for Backend::gemm), and the same
// kernel with gathering loaders as the implicit-GEMM convolution: forward (B = im2col(x)),
// backward data (A = W^T, B = dY gathered at the output positions each input pixel feeds) and
// backward weight (A = dY, B = im2col(x)^T, K = N*OH*OW split over grid z, slices summed in order).
// Legend: M, N, K; BM x BN = 128 x 128 block tile, BK = 8; 256 threads, each owning an 8 x 8 block
// of C split as rows {ty*4 + 0..3, 64 + ty*4 + 0..3} x cols {tx*4 + 0..3, 64 + tx*4 + 0..3}
// (ty = tid / 16, tx = tid % 16) so shared-memory reads are conflict-free broadcasts.
// Per k-tile each thread loads 4 elements of A and 4 of B into registers (the mapping follows
// whichever operand axis has unit stride, so global reads coalesce for both A and A^T), stores
// them to the other shared buffer while the tile in hand is multiplied: one __syncthreads per
// k-tile. A is stored transposed (As[k][m]) so both operands are read along rows.
// Every load and store is bounds-checked: any M, N, K, strides and batch (grid z, grid-stride).
// FLOPs 2*M*N*K; per k-tile 8*(128+128) loads feed 128*128*8 FMAs (arithmetic intensity 64/elem).
#include <cuda_runtime.h>

#include "cuda/gemm/gemm.h"
#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

constexpr int BM = 128, BN = 128, BK = 8, kThreads = 256, PAD = 4;

template <typename T>
struct Dense {  // element (i, j) of batch b at p + b*sb + i*s0 + j*s1
  const T* p;
  int64_t sb, s0, s1;
  __device__ __forceinline__ T operator()(int64_t b, int64_t i, int64_t j) const { return p[b * sb + i * s0 + j * s1]; }
};

// B operand of the convolution: (k, l) of image b = x[b, c, ih, iw] with k = (c, i, j), l = (oh, ow).
struct Im2colB {
  const float* x;
  int64_t xs0, xs1, xs2, xs3;
  int64_t h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow;
  __device__ __forceinline__ float operator()(int64_t b, int64_t k, int64_t l) const {
    const int64_t kk = kh * kw, c = k / kk, r = k % kk, i = r / kw, j = r % kw;
    const int64_t ih = (l / ow) * sh - ph + i * dh, iw = (l % ow) * sw - pw + j * dw;
    return (ih >= 0 && ih < h && iw >= 0 && iw < w) ? x[b * xs0 + c * xs1 + ih * xs2 + iw * xs3] : 0.0f;
  }
};

// a_kfast: A's unit stride is along k (row-major A); b_nfast: B's unit stride is along n.
template <typename T, typename AL, typename BL>
__global__ void __launch_bounds__(kThreads) gemm_tiled_kernel(AL al, BL bl, T* __restrict__ c, int64_t sc, int64_t ldc,
                                                              int64_t batch, int64_t M, int64_t N, int64_t K,
                                                              bool accumulate, bool a_kfast, bool b_nfast) {
  __shared__ __align__(16) T As[2][BK][BM + PAD];
  __shared__ __align__(16) T Bs[2][BK][BN + PAD];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const int64_t ktiles = ceil_div(K, BK);

  // This thread's 4 load slots (row within tile, k within tile) for A and (k, col) for B.
  int am[4], ak[4], bk[4], bn[4];
  for (int i = 0; i < 4; ++i) {
    if (a_kfast) am[i] = tid / 8 + 32 * i, ak[i] = tid % 8;
    else am[i] = tid % 128, ak[i] = tid / 128 + 2 * i;
    if (b_nfast) bk[i] = tid / 128 + 2 * i, bn[i] = tid % 128;
    else bk[i] = tid % 8, bn[i] = tid / 8 + 32 * i;
  }

  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    T ra[4], rb[4];
    auto load = [&](int64_t kt) {
      const int64_t kbase = kt * BK;
      for (int i = 0; i < 4; ++i) {
        const int64_t m = m0 + am[i], k = kbase + ak[i];
        ra[i] = (m < M && k < K) ? al(b, m, k) : T(0);
        const int64_t kb = kbase + bk[i], n = n0 + bn[i];
        rb[i] = (kb < K && n < N) ? bl(b, kb, n) : T(0);
      }
    };
    auto store = [&](int buf) {
      for (int i = 0; i < 4; ++i) {
        As[buf][ak[i]][am[i]] = ra[i];
        Bs[buf][bk[i]][bn[i]] = rb[i];
      }
    };

    T acc[8][8];
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) acc[i][j] = T(0);

    load(0);
    store(0);
    __syncthreads();
    for (int64_t kt = 0; kt < ktiles; ++kt) {
      const int cur = int(kt & 1);
      if (kt + 1 < ktiles) load(kt + 1);
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) {
        T a[8], bv[8];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          a[i] = As[cur][kk][ty * 4 + i];
          a[4 + i] = As[cur][kk][64 + ty * 4 + i];
          bv[i] = Bs[cur][kk][tx * 4 + i];
          bv[4 + i] = Bs[cur][kk][64 + tx * 4 + i];
        }
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[i][j] += a[i] * bv[j];
      }
      if (kt + 1 < ktiles) store(cur ^ 1);
      __syncthreads();
    }

    T* cb = c + b * sc;
    for (int i = 0; i < 8; ++i) {
      const int64_t m = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
      if (m >= M) continue;
      for (int j = 0; j < 8; ++j) {
        const int64_t n = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
        if (n >= N) continue;
        T v = acc[i][j];
        if (accumulate) v += cb[m * ldc + n];
        cb[m * ldc + n] = v;
      }
    }
  }
}

// ---- implicit-GEMM convolution backward (same SIMT kernel, other loaders) ----

// Backward data, per image b: dX[c, p] = sum_k W^T(c, k) dY-gather(k, p), M = C, N = H*W,
// K = Cout*kh*kw with k = (co, i, j).
struct WeightT {  // A(c, k) = w[co, c, i, j]
  const float* w;
  int64_t c, kk;
  __device__ __forceinline__ float operator()(int64_t, int64_t ci, int64_t k) const {
    return w[((k / kk) * c + ci) * kk + k % kk];
  }
};
struct DyGather {  // B(k, p) = dy[b, co, oh, ow] where oh*sh - ph + i*dh == ih (and likewise w), else 0
  const float* dy;
  int64_t cout, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, w;
  __device__ __forceinline__ float operator()(int64_t b, int64_t k, int64_t p) const {
    const int64_t kk = kh * kw, co = k / kk, r = k % kk, i = r / kw, j = r % kw;
    const int64_t th = p / w + ph - i * dh, tw = p % w + pw - j * dw;
    if (th < 0 || tw < 0 || th % sh != 0 || tw % sw != 0 || th / sh >= oh || tw / sw >= ow) return 0.0f;
    return dy[((b * cout + co) * oh + th / sh) * ow + tw / sw];
  }
};

// Backward weight, split over K in `splits` slices (grid z): dW[co, q] = sum_k dY(co, k) col(k, q),
// M = Cout, N = C*kh*kw, K = N_img * L with k = (n, l); slice z covers k in [z*chunk, (z+1)*chunk).
struct DySplit {  // A(co, k) = dy[n, co, l]
  const float* dy;
  int64_t cout, l_size, chunk, k_total;
  __device__ __forceinline__ float operator()(int64_t z, int64_t co, int64_t k) const {
    const int64_t kg = z * chunk + k;
    if (kg >= k_total) return 0.0f;
    return dy[((kg / l_size) * cout + co) * l_size + kg % l_size];
  }
};
struct ColSplit {  // B(k, q) = im2col(x)[n, q, l]
  Im2colB col;
  int64_t l_size, chunk, k_total;
  __device__ __forceinline__ float operator()(int64_t z, int64_t k, int64_t q) const {
    const int64_t kg = z * chunk + k;
    if (kg >= k_total) return 0.0f;
    return col(kg / l_size, q, kg % l_size);
  }
};

__global__ void sum_slices_kernel(const float* __restrict__ part, int64_t slices, int64_t n, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    for (int64_t z = 0; z < slices; ++z) acc += part[z * n + i];
    out[i] = acc;
  }
}

template <typename T>
void run_dense(const GemmOperands<T>& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  const dim3 grid(unsigned(ceil_div(g.n, BN)), unsigned(ceil_div(g.m, BM)), unsigned(std::min<int64_t>(g.batch, 65535)));
  gemm_tiled_kernel<T, Dense<T>, Dense<T>><<<grid, kThreads, 0, current_stream()>>>(
      Dense<T>{g.a, g.sa, g.sam, g.sak}, Dense<T>{g.b, g.sb, g.sbk, g.sbn}, g.c, g.sc, g.ldc, g.batch, g.m, g.n, g.k,
      g.accumulate, g.sak == 1, g.sbn == 1);
  EMBER_CUDA_LAUNCHED("gemm_tiled_kernel");
}

}  // namespace

void launch_gemm_tiled(const GemmOperands<float>& g) { run_dense(g); }
void launch_gemm_tiled(const GemmOperands<double>& g) { run_dense(g); }

void launch_conv2d_implicit_gemm(const float* x, const int64_t (&xs)[4], const float* w, float* y, const Conv2dGeom& g,
                                 int64_t cout) {
  const int64_t L = g.oh() * g.ow(), K = g.c * g.kh * g.kw;
  if (g.n == 0 || cout == 0 || L == 0) return;
  const dim3 grid(unsigned(ceil_div(L, BN)), unsigned(ceil_div(cout, BM)), unsigned(std::min<int64_t>(g.n, 65535)));
  Im2colB bl{x, xs[0], xs[1], xs[2], xs[3], g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ow()};
  gemm_tiled_kernel<float, Dense<float>, Im2colB><<<grid, kThreads, 0, current_stream()>>>(
      Dense<float>{w, 0, K, 1}, bl, y, cout * L, L, g.n, cout, L, K, false, true, true);
  EMBER_CUDA_LAUNCHED("gemm_tiled_kernel<im2col>");
}

void launch_conv2d_bwd_data_implicit_gemm(const float* dy, const float* w, float* dx, const Conv2dGeom& g, int64_t cout) {
  const int64_t hw = g.h * g.w, kk = g.kh * g.kw;
  if (g.n == 0 || g.c == 0 || hw == 0) return;
  const dim3 grid(unsigned(ceil_div(hw, BN)), unsigned(ceil_div(g.c, BM)), unsigned(std::min<int64_t>(g.n, 65535)));
  gemm_tiled_kernel<float, WeightT, DyGather><<<grid, kThreads, 0, current_stream()>>>(
      WeightT{w, g.c, kk}, DyGather{dy, cout, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh(), g.ow(), g.w}, dx,
      g.c * hw, hw, g.n, g.c, hw, cout * kk, false, true, true);
  EMBER_CUDA_LAUNCHED("gemm_tiled_kernel<conv bwd data>");
}

void launch_conv2d_bwd_weight_implicit_gemm(const float* x, const int64_t (&xs)[4], const float* dy, float* dw,
                                            const Conv2dGeom& g, int64_t cout) {
  const int64_t L = g.oh() * g.ow(), q = g.c * g.kh * g.kw, k_total = g.n * L;
  if (cout == 0 || q == 0) return;
  // Split K so that about two waves of blocks run: the output alone has few 128x128 tiles.
  const int64_t tiles = ceil_div(cout, BM) * ceil_div(q, BN);
  int64_t splits = std::max<int64_t>(1, std::min<int64_t>(2 * sm_count() / tiles, ceil_div(k_total, 256)));
  splits = std::min<int64_t>(splits, 64);
  const int64_t chunk = ceil_div(k_total, splits);
  splits = ceil_div(k_total, chunk);
  DeviceBuffer part(size_t(splits * cout * q) * sizeof(float));
  Im2colB col{x, xs[0], xs[1], xs[2], xs[3], g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ow()};
  const dim3 grid(unsigned(ceil_div(q, BN)), unsigned(ceil_div(cout, BM)), unsigned(splits));
  float* out = splits == 1 ? dw : part.as<float>();
  gemm_tiled_kernel<float, DySplit, ColSplit><<<grid, kThreads, 0, current_stream()>>>(
      DySplit{dy, cout, L, chunk, k_total}, ColSplit{col, L, chunk, k_total}, out, cout * q, q, splits, cout, q, chunk,
      false, true, false);
  EMBER_CUDA_LAUNCHED("gemm_tiled_kernel<conv bwd weight>");
  if (splits > 1) {
    sum_slices_kernel<<<grid_for(cout * q, 256), 256, 0, current_stream()>>>(part.as<float>(), splits, cout * q, dw);
    EMBER_CUDA_LAUNCHED("sum_slices_kernel");
  }
}

}  // namespace ember::cuda
