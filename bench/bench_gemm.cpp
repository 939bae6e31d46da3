// f32 GEMM: ember's packed kernel beside OpenBLAS cblas_sgemm on the same shapes, same run, plus
// the machine's FMA peak. FLOPs = 2*M*N*K per product. Shapes: squares and the W1/W2 training
// GEMMs of WORKLOADS.md in every transpose they run in (see shapes_for). bench/gemm_table.py turns
// --benchmark_format=json into ours/OpenBLAS ratios and fractions of peak.
// Run with OPENBLAS_CORETYPE set to the best core this CPU runs (the binary prints the name).
#include "bench/gemm_common.h"
#include "tensor/backend.h"
#include "tensor/cpu/cpu_features.h"

namespace {
using namespace ember;
using namespace ember::bench;

void set_counters(benchmark::State& st, int64_t m, int64_t n, int64_t k, int threads) {
  flop_counter(st, 2.0 * double(m) * double(n) * double(k));
  st.counters["threads"] = threads;
}

// The machine's f32 FMA peak on one thread, with the widest vectors the active ISA uses. GEMM
// rates divided by this (times the thread count) are the "fraction of peak".
void BM_fma_peak(benchmark::State& st) {
  const bool wide = cpu::active_isa() == cpu::Isa::avx512;
  if (!wide && cpu::active_isa() != cpu::Isa::avx2) {
    st.SkipWithError("no AVX2+FMA");
    return;
  }
  run_peak(st, wide ? fma_peak_avx512 : fma_peak_avx2, wide ? 32 : 16);
  st.SetLabel(wide ? "zmm" : "ymm");
}
BENCHMARK(BM_fma_peak)->Unit(benchmark::kMicrosecond)->MinTime(0.2);

void BM_ember_sgemm(benchmark::State& st) {
  int64_t m = st.range(0), n = st.range(1), k = st.range(2), op = st.range(4);
  int threads = int(st.range(3));
  set_num_threads(threads);
  const Operands o = ember_operands(m, n, k, op);
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    be.gemm(o.a, o.b, o.c, false);
    benchmark::DoNotOptimize(o.c.raw_data());
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
  for (const auto& s : kTrainingShapes) b->Args({s[0], s[1], s[2], t, s[3]});
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
