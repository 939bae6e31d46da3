// Shared by the CPU GEMM benches (bench_gemm, bench_gemm_bf16): the OpenBLAS declarations, the op
// codes and operands, the W1/W2 training shapes, and the FMA / VDPBF16PS peak loops.
#pragma once

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>

#include "autograd/ops.h"

#ifdef EMBER_HAVE_OPENBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename();
extern "C" void openblas_set_num_threads(int);
#endif

namespace ember::bench {

// Op codes: 0 NN, 1 NT (A @ B^T, B stored [N, K]: linear forward), 2 TN (A^T @ B, A stored [K, M]:
// weight gradients). Ours takes transposes as strided views.
inline const char* kOps[] = {"NN", "NT", "TN"};

struct Operands {
  Tensor a, b, c;  // [1, M, K], [1, K, N] (views of the stored layout), [1, M, N]
};
inline Operands ember_operands(int64_t m, int64_t n, int64_t k, int64_t op) {
  Generator g(1);
  Tensor a = op == 2 ? Tensor::rand({1, k, m}, {}, &g).transpose(1, 2) : Tensor::rand({1, m, k}, {}, &g);
  Tensor b = op == 1 ? Tensor::rand({1, n, k}, {}, &g).transpose(1, 2) : Tensor::rand({1, k, n}, {}, &g);
  return {a, b, Tensor::empty({1, m, n})};
}

inline void flop_counter(benchmark::State& st, double flops_per_iter) {
  // A rate counter in FLOP per second: the console prints it with an SI prefix ("FLOPS=106G/s"),
  // the JSON holds the plain rate (the table scripts divide by 1e9).
  st.counters["FLOPS"] = benchmark::Counter(flops_per_iter * double(st.iterations()), benchmark::Counter::kIsRate);
}

// W1's GEMMs (forward NT, grad_x NN, grad_w TN per layer) and W2's (conv2 per image forward NN /
// grad_w NT / grad_col TN; fc1 forward NT / grad_w TN): {M, N, K, op}.
inline constexpr int64_t kTrainingShapes[][4] = {
    {128, 256, 784, 1}, {128, 784, 256, 0}, {256, 784, 128, 2}, {128, 256, 256, 1}, {256, 256, 128, 2},
    {128, 10, 256, 1},  {128, 256, 10, 0},  {10, 256, 128, 2},  {64, 196, 288, 0},  {64, 288, 196, 1},
    {288, 196, 64, 2},  {64, 128, 3136, 1}, {128, 3136, 64, 2}};

// Peak loops: 12 independent accumulator chains (2 pipes x 4-6 cycles of latency). Each returns
// the sum of ALL twelve accumulators: returning two of them let the compiler delete the other ten
// chains as dead code, and the loop then timed two latency-bound chains while counting twelve
// (6x too many FLOPs for the time: the 346 GFLOP/s "peak" reported on a 117 GFLOP/s Zen 5 core). (Intrinsics need the target attribute on the function
// that holds them, so the three are written out rather than shared through a lambda.)
__attribute__((target("avx2,fma"))) inline float fma_peak_avx2(int64_t iters) {  // 12 x 16 FLOPs
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  return _mm256_cvtss_f32(acc[0]);
}

__attribute__((target("avx512f"))) inline float fma_peak_avx512(int64_t iters) {  // 12 x 32 FLOPs
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  return _mm512_cvtss_f32(acc[0]);
}

// One VDPBF16PS on zmm: 16 lanes x 2 products x (mul + add) = 64 FLOPs; 12 x 64 per iteration.
__attribute__((target("avx512f,avx512bf16"))) inline float bf16_peak_avx512(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512bh a = __m512bh(_mm512_set1_epi32(0x3f803f80)), b = __m512bh(_mm512_set1_epi32(0x33d633d6));
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  for (int i = 1; i < 12; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  return _mm512_cvtss_f32(acc[0]);
}

// Times loop(2^20) per iteration and reports flops_per_step * 12 * 2^20 as GFLOP/s.
inline void run_peak(benchmark::State& st, float (*loop)(int64_t), double flops_per_step) {
  volatile int64_t n = 1 << 20;  // opaque, so the call is not hoisted out of the timing loop
  const int64_t iters = n;
  for (auto _ : st) {
    int64_t it = iters;
    benchmark::DoNotOptimize(it);
    benchmark::DoNotOptimize(loop(it));
  }
  flop_counter(st, flops_per_step * 12 * double(iters));
}

}  // namespace ember::bench
