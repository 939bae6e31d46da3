// f32 GEMM: ember's packed kernel beside OpenBLAS cblas_sgemm on the same shapes, same run, plus
// the machine's FMA peak. FLOPs = 2*M*N*K per product. Shapes: squares and the W1/W2 training
// GEMMs of WORKLOADS.md in every transpose they run in (see shapes_for). bench/gemm_table.py turns
// --benchmark_format=json into ours/OpenBLAS ratios and fractions of peak.
// Run with OPENBLAS_CORETYPE set to the best core this CPU runs (the binary prints the name).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/cpu/cpu_features.h"

#ifdef EMBER_HAVE_OPENBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename();
extern "C" void openblas_set_num_threads(int);
#endif

namespace {
using namespace ember;

void set_counters(benchmark::State& st, int64_t m, int64_t n, int64_t k, int threads) {
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k) * double(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  st.counters["threads"] = threads;
}

// The machine's f32 FMA peak on one thread, with the widest vectors the active ISA uses: 12
// independent FMA chains (enough to cover 2 FMA ports x 4-5 cycles latency). GEMM rates divided by
// this (times the thread count) are the "fraction of peak".
__attribute__((target("avx2,fma"))) float fma_peak_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) float fma_peak_avx512(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0] + lanes[15];
}

void BM_fma_peak(benchmark::State& st) {
  const bool wide = cpu::active_isa() == cpu::Isa::avx512;
  if (!wide && cpu::active_isa() != cpu::Isa::avx2) {
    st.SkipWithError("no AVX2+FMA");
    return;
  }
  volatile int64_t n = 1 << 20;  // opaque, so the call is not hoisted out of the timing loop
  const int64_t iters = n;
  for (auto _ : st) {
    int64_t it = iters;
    benchmark::DoNotOptimize(it);
    benchmark::DoNotOptimize(wide ? fma_peak_avx512(it) : fma_peak_avx2(it));
  }
  const double lanes = wide ? 16 : 8;
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * lanes * 12 * double(iters) * double(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  st.SetLabel(wide ? "zmm" : "ymm");
}
BENCHMARK(BM_fma_peak)->Unit(benchmark::kMicrosecond)->MinTime(0.2);

// Op codes (the 5th argument): 0 NN, 1 NT (A @ B^T, B stored [N, K]: linear forward),
// 2 TN (A^T @ B, A stored [K, M]: weight gradients). Ours takes transposes as strided views.
const char* kOps[] = {"NN", "NT", "TN"};

void BM_ember_sgemm(benchmark::State& st) {
  int64_t m = st.range(0), n = st.range(1), k = st.range(2), op = st.range(4);
  int threads = int(st.range(3));
  set_num_threads(threads);
  Generator g(1);
  Tensor a = op == 2 ? Tensor::rand({1, k, m}, {}, &g).transpose(1, 2) : Tensor::rand({1, m, k}, {}, &g);
  Tensor b = op == 1 ? Tensor::rand({1, n, k}, {}, &g).transpose(1, 2) : Tensor::rand({1, k, n}, {}, &g);
  Tensor c = Tensor::empty({1, m, n});
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    be.gemm(a, b, c, false);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_counters(st, m, n, k, threads);
  st.SetLabel(kOps[op]);
}

#ifdef EMBER_HAVE_OPENBLAS
void BM_openblas_sgemm(benchmark::State& st) {
  int64_t m = st.range(0), n = st.range(1), k = st.range(2), op = st.range(4);
  int threads = int(st.range(3));
  openblas_set_num_threads(threads);
  Generator g(1);
  Tensor a = Tensor::rand({m, k}, {}, &g), b = Tensor::rand({k, n}, {}, &g), c = Tensor::empty({m, n});
  const auto ta = op == 2 ? CblasTrans : CblasNoTrans, tb = op == 1 ? CblasTrans : CblasNoTrans;
  const int lda = op == 2 ? int(m) : int(k), ldb = op == 1 ? int(k) : int(n);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), 1.0f, a.data<float>(), lda, b.data<float>(), ldb,
                0.0f, c.data<float>(), int(n));
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_counters(st, m, n, k, threads);
  st.SetLabel(kOps[op]);
}
#endif

// One thread is timed on its CPU time: this machine is shared, and CPU time is what the kernel
// itself consumed (wall time would charge it for other processes' slices). Two threads need wall
// time (the main thread's CPU time would overstate the rate).
// Shapes: squares, then the W1 MLP's GEMMs (forward NT, grad_x NN, grad_w TN per layer) and the
// W2 CNN's (conv2 per image forward NN / grad_w NT / grad_col TN; fc1 forward NT / grad_w TN).
void shapes_for(benchmark::internal::Benchmark* b, int t) {
  for (int s : {128, 256, 512, 1024, 2048}) b->Args({s, s, s, t, 0});
  const int64_t w[][4] = {{128, 256, 784, 1}, {128, 784, 256, 0}, {256, 784, 128, 2}, {128, 256, 256, 1},
                          {256, 256, 128, 2}, {128, 10, 256, 1},  {128, 256, 10, 0},  {10, 256, 128, 2},
                          {64, 196, 288, 0},  {64, 288, 196, 1},  {288, 196, 64, 2},  {64, 128, 3136, 1},
                          {128, 3136, 64, 2}};
  for (const auto& s : w) b->Args({s[0], s[1], s[2], t, s[3]});
  b->ArgNames({"M", "N", "K", "T", "op"})->Unit(benchmark::kMicrosecond)->MinTime(0.2);
  if (t > 1) b->UseRealTime();
}
void shapes1(benchmark::internal::Benchmark* b) { shapes_for(b, 1); }
void shapes2(benchmark::internal::Benchmark* b) { shapes_for(b, 2); }

BENCHMARK(BM_ember_sgemm)->Apply(shapes1);
#ifdef EMBER_HAVE_OPENBLAS
BENCHMARK(BM_openblas_sgemm)->Apply(shapes1);
#endif
BENCHMARK(BM_ember_sgemm)->Apply(shapes2);
#ifdef EMBER_HAVE_OPENBLAS
BENCHMARK(BM_openblas_sgemm)->Apply(shapes2);
#endif

}  // namespace

int main(int argc, char** argv) {
  std::fprintf(stderr, "ember isa: %s\n", std::string(cpu::isa_name(cpu::active_isa())).c_str());
#ifdef EMBER_HAVE_OPENBLAS
  std::fprintf(stderr, "openblas core: %s\n", openblas_get_corename());
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
