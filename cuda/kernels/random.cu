// Random fills on Philox4x32-10, bit-for-bit the streams of tensor/cpu/random.cpp: element i of a
// fill reads counter block offset + i / per_block under key = seed, so CPU and GPU give the same
// numbers for the same (seed, offset) (normals up to the last ulp of the libm/CUDA log and cos).
//   uniform f32: one u32 per element (4 per block); f64: two u32 (2 per block)
//   normal: Box-Muller (cos branch) in double; f32: 2 elements per block, f64: 1
//   int: 64 bits per element (2 per block), modulo the range
// Work split: one thread per element (grid-stride). The double arithmetic of the CPU is repeated
// with explicit round-to-nearest intrinsics so nvcc cannot contract it into an FMA (which would
// round differently than the host).
#include <cuda_runtime.h>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

struct U4 {
  uint32_t v[4];
};

__device__ __forceinline__ U4 philox(uint64_t key, uint64_t ctr) {
  uint32_t c0 = uint32_t(ctr), c1 = uint32_t(ctr >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    const uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c1 = lo1;
    c3 = lo0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

__device__ __forceinline__ float unit_float(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }
__device__ __forceinline__ double unit_double(uint32_t hi, uint32_t lo) {
  const uint64_t v = (uint64_t(hi) << 21) ^ (uint64_t(lo) >> 11);
  return double(v & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

#define EMBER_GRID_LOOP(e, total) \
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < (total); e += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__global__ void uniform_kernel(T* __restrict__ out, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset) {
  EMBER_GRID_LOOP(i, n) {
    double u;
    if constexpr (sizeof(T) == 4) {
      u = unit_float(philox(seed, offset + uint64_t(i) / 4).v[i % 4]);
    } else {
      const U4 r = philox(seed, offset + uint64_t(i) / 2);
      u = unit_double(r.v[2 * (i % 2)], r.v[2 * (i % 2) + 1]);
    }
    const T v = T(__dadd_rn(lo, __dmul_rn(hi - lo, u)));
    out[i] = v < T(hi) ? v : T(lo);
  }
}

template <typename T>
__global__ void normal_kernel(T* __restrict__ out, int64_t n, double mean, double std, uint64_t seed, uint64_t offset) {
  constexpr double kTwoPi = 6.283185307179586477;
  EMBER_GRID_LOOP(i, n) {
    double u1, u2;
    if constexpr (sizeof(T) == 4) {
      const U4 r = philox(seed, offset + uint64_t(i) / 2);
      u1 = unit_float(r.v[2 * (i % 2)]);
      u2 = unit_float(r.v[2 * (i % 2) + 1]);
    } else {
      const U4 r = philox(seed, offset + uint64_t(i));
      u1 = unit_double(r.v[0], r.v[1]);
      u2 = unit_double(r.v[2], r.v[3]);
    }
    const double radius = sqrt(__dmul_rn(-2.0, log(1.0 - u1)));
    out[i] = T(__dadd_rn(mean, __dmul_rn(__dmul_rn(std, radius), cos(__dmul_rn(kTwoPi, u2)))));
  }
}

template <typename T>
__global__ void int_kernel(T* __restrict__ out, int64_t n, int64_t lo, uint64_t range, uint64_t seed, uint64_t offset) {
  EMBER_GRID_LOOP(i, n) {
    const U4 r = philox(seed, offset + uint64_t(i) / 2);
    const uint64_t bits = (uint64_t(r.v[2 * (i % 2)]) << 32) | r.v[2 * (i % 2) + 1];
    out[i] = T(int64_t(uint64_t(lo) + bits % range));
  }
}

constexpr int kThreads = 256;

}  // namespace

void launch_random_uniform(void* out, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset, DType dt) {
  if (n == 0) return;
  if (dt == DType::f32)
    uniform_kernel<float><<<grid_for(n, kThreads, 4), kThreads, 0, current_stream()>>>(static_cast<float*>(out), n, lo,
                                                                                      hi, seed, offset);
  else
    uniform_kernel<double><<<grid_for(n, kThreads, 4), kThreads, 0, current_stream()>>>(static_cast<double*>(out), n,
                                                                                       lo, hi, seed, offset);
  EMBER_CUDA_LAUNCHED("uniform_kernel");
}

void launch_random_normal(void* out, int64_t n, double mean, double std, uint64_t seed, uint64_t offset, DType dt) {
  if (n == 0) return;
  if (dt == DType::f32)
    normal_kernel<float><<<grid_for(n, kThreads, 4), kThreads, 0, current_stream()>>>(static_cast<float*>(out), n, mean,
                                                                                     std, seed, offset);
  else
    normal_kernel<double><<<grid_for(n, kThreads, 4), kThreads, 0, current_stream()>>>(static_cast<double*>(out), n,
                                                                                      mean, std, seed, offset);
  EMBER_CUDA_LAUNCHED("normal_kernel");
}

void launch_random_int(void* out, int64_t n, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset, DType dt) {
  if (n == 0) return;
  const uint64_t range = uint64_t(hi) - uint64_t(lo);
  const unsigned grid = grid_for(n, kThreads, 4);
  switch (dt) {
    case DType::f32: int_kernel<float><<<grid, kThreads, 0, current_stream()>>>(static_cast<float*>(out), n, lo, range, seed, offset); break;
    case DType::f64: int_kernel<double><<<grid, kThreads, 0, current_stream()>>>(static_cast<double*>(out), n, lo, range, seed, offset); break;
    case DType::i32: int_kernel<int32_t><<<grid, kThreads, 0, current_stream()>>>(static_cast<int32_t*>(out), n, lo, range, seed, offset); break;
    case DType::i64: int_kernel<int64_t><<<grid, kThreads, 0, current_stream()>>>(static_cast<int64_t*>(out), n, lo, range, seed, offset); break;
    case DType::u8: int_kernel<uint8_t><<<grid, kThreads, 0, current_stream()>>>(static_cast<uint8_t*>(out), n, lo, range, seed, offset); break;
  }
  EMBER_CUDA_LAUNCHED("int_kernel");
}

}  // namespace ember::cuda
