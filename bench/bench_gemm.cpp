// f32 GEMM: ember's packed kernel beside OpenBLAS cblas_sgemm on the same shapes, same run.
// FLOPs = 2*M*N*K per product. Shapes: squares and the W1/W2 training GEMMs (WORKLOADS.md):
//   W1 fwd 128x256x784, 128x256x256, 128x10x256; W2 conv1 as im2col 32x784x9 per image,
//   conv2 64x196x288, fc 64x128x3136.
// Run with OPENBLAS_CORETYPE set to the best core this CPU runs (the binary prints the name).
#include <benchmark/benchmark.h>

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

void BM_ember_sgemm(benchmark::State& st) {
  int64_t m = st.range(0), n = st.range(1), k = st.range(2);
  int threads = int(st.range(3));
  set_num_threads(threads);
  Generator g(1);
  Tensor a = Tensor::rand({1, m, k}, {}, &g), b = Tensor::rand({1, k, n}, {}, &g), c = Tensor::empty({1, m, n});
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    be.gemm(a, b, c, false);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_counters(st, m, n, k, threads);
}

#ifdef EMBER_HAVE_OPENBLAS
void BM_openblas_sgemm(benchmark::State& st) {
  int64_t m = st.range(0), n = st.range(1), k = st.range(2);
  int threads = int(st.range(3));
  openblas_set_num_threads(threads);
  Generator g(1);
  Tensor a = Tensor::rand({m, k}, {}, &g), b = Tensor::rand({k, n}, {}, &g), c = Tensor::empty({m, n});
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f, a.data<float>(), int(k),
                b.data<float>(), int(n), 0.0f, c.data<float>(), int(n));
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_counters(st, m, n, k, threads);
}
#endif

void shapes(benchmark::internal::Benchmark* b) {
  for (int t : {1, 2}) {
    for (int s : {128, 256, 512, 1024}) b->Args({s, s, s, t});
    b->Args({128, 256, 784, t});
    b->Args({128, 256, 256, t});
    b->Args({128, 10, 256, t});
    b->Args({64, 196, 288, t});
    b->Args({64, 128, 3136, t});
  }
  // Wall time: with 2 threads the main thread's CPU time would overstate the rate.
  b->ArgNames({"M", "N", "K", "T"})->Unit(benchmark::kMicrosecond)->MinTime(0.2)->UseRealTime();
}

BENCHMARK(BM_ember_sgemm)->Apply(shapes);
#ifdef EMBER_HAVE_OPENBLAS
BENCHMARK(BM_openblas_sgemm)->Apply(shapes);
#endif

}  // namespace

int main(int argc, char** argv) {
  std::printf("ember isa: %s\n", std::string(cpu::isa_name(cpu::active_isa())).c_str());
#ifdef EMBER_HAVE_OPENBLAS
  std::printf("openblas core: %s\n", openblas_get_corename());
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
