// bf16-precision GEMM (MatmulPrecision::bf16: f32 operands rounded to bf16, f32 sums) beside ours
// in f32, OpenBLAS cblas_sgemm and OpenBLAS cblas_sbgemm (bf16 inputs converted once, outside the
// timed loop, so sbgemm gets the easier job), all on one thread, same shapes, same run. sbgemm is
// only in OpenBLAS builds made with BUILD_BFLOAT16=1 (Debian's 0.3.21 is not); CMake checks for it.
// FLOPs = 2*M*N*K per product. BM_bf16_peak is the VDPBF16PS throughput of one core (and
// BM_f32_peak the AVX-512 FMA one), the denominators for "% of peak".
// Shapes: squares 256..2048 and the W1/W2 training GEMMs (ops as in bench_gemm.cpp).
// Run with OPENBLAS_CORETYPE set to the best core this CPU runs (the binary prints the name).
#include <vector>

#include "bench/gemm_common.h"
#include "tensor/backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/matmul_precision.h"

namespace {
using namespace ember;
using namespace ember::bench;

// BM_bf16_peak: VDPBF16PS throughput of one core (64 FLOPs an instruction); BM_f32_peak: AVX-512 FMA.
void BM_peak(benchmark::State& st, bool bf16) {
  if (cpu::best_isa() != cpu::Isa::avx512 || (bf16 && !__builtin_cpu_supports("avx512bf16"))) {
    st.SkipWithError("CPU lacks the instruction");
    return;
  }
  run_peak(st, bf16 ? bf16_peak_avx512 : fma_peak_avx512, bf16 ? 64 : 32);
}
BENCHMARK_CAPTURE(BM_peak, bf16, true)->Name("BM_bf16_peak")->Unit(benchmark::kMicrosecond)->MinTime(0.2);
BENCHMARK_CAPTURE(BM_peak, f32, false)->Name("BM_f32_peak")->Unit(benchmark::kMicrosecond)->MinTime(0.2);

template <MatmulPrecision P>
void BM_ember(benchmark::State& st) {
  const int64_t m = st.range(0), n = st.range(1), k = st.range(2), op = st.range(3);
  set_num_threads(1);
  MatmulPrecisionGuard precision(P);
  const Operands o = ember_operands(m, n, k, op);
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    be.gemm(o.a, o.b, o.c, false);
    benchmark::DoNotOptimize(o.c.raw_data());
  }
  flop_counter(st, 2.0 * double(m) * double(n) * double(k));
  st.SetLabel(kOps[op]);
}

#ifdef EMBER_HAVE_OPENBLAS
// A [m,k] and B [k,n] (or their transposes per op) as OpenBLAS takes them, row-major.
struct BlasCase {
  int m, n, k, lda, ldb;
  CBLAS_TRANSPOSE ta, tb;
  Tensor a, b, c;
  explicit BlasCase(benchmark::State& st) : m(int(st.range(0))), n(int(st.range(1))), k(int(st.range(2))) {
    const int64_t op = st.range(3);
    ta = op == 2 ? CblasTrans : CblasNoTrans;
    tb = op == 1 ? CblasTrans : CblasNoTrans;
    lda = op == 2 ? m : k;
    ldb = op == 1 ? k : n;
    Generator g(1);
    a = Tensor::rand({m, k}, {}, &g);
    b = Tensor::rand({k, n}, {}, &g);
    c = Tensor::empty({m, n});
    openblas_set_num_threads(1);
    st.SetLabel(kOps[op]);
  }
};

void BM_openblas_sgemm(benchmark::State& st) {
  BlasCase t(st);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, t.ta, t.tb, t.m, t.n, t.k, 1.0f, t.a.data<float>(), t.lda, t.b.data<float>(), t.ldb,
                0.0f, t.c.data<float>(), t.n);
    benchmark::DoNotOptimize(t.c.raw_data());
  }
  flop_counter(st, 2.0 * t.m * t.n * double(t.k));
}
#endif

#ifdef EMBER_HAVE_SBGEMM
void BM_openblas_sbgemm(benchmark::State& st) {
  BlasCase t(st);
  std::vector<bfloat16> ah(size_t(t.m) * size_t(t.k)), bh(size_t(t.k) * size_t(t.n));
  cblas_sbstobf16(t.m * t.k, t.a.data<float>(), 1, ah.data(), 1);
  cblas_sbstobf16(t.k * t.n, t.b.data<float>(), 1, bh.data(), 1);
  for (auto _ : st) {
    cblas_sbgemm(CblasRowMajor, t.ta, t.tb, t.m, t.n, t.k, 1.0f, ah.data(), t.lda, bh.data(), t.ldb, 0.0f,
                 t.c.data<float>(), t.n);
    benchmark::DoNotOptimize(t.c.raw_data());
  }
  flop_counter(st, 2.0 * t.m * t.n * double(t.k));
}
#endif

// Squares, then W1's GEMMs (forward NT, grad_x NN, grad_w TN per layer) and W2's (conv2 per image
// forward NN / grad_w NT / grad_col TN; fc1 forward NT / grad_w TN), as in bench_gemm.cpp.
// One thread, timed on CPU time (the machine is shared).
void shapes(benchmark::internal::Benchmark* b) {
  for (int s : {256, 512, 1024, 2048}) b->Args({s, s, s, 0});
  for (const auto& s : kTrainingShapes) b->Args({s[0], s[1], s[2], s[3]});
  b->ArgNames({"M", "N", "K", "op"})->Unit(benchmark::kMicrosecond)->MinTime(0.2);
}

BENCHMARK(BM_ember<MatmulPrecision::bf16>)->Name("BM_ember_bf16")->Apply(shapes);
BENCHMARK(BM_ember<MatmulPrecision::highest>)->Name("BM_ember_f32")->Apply(shapes);
#ifdef EMBER_HAVE_OPENBLAS
BENCHMARK(BM_openblas_sgemm)->Apply(shapes);
#endif
#ifdef EMBER_HAVE_SBGEMM
BENCHMARK(BM_openblas_sbgemm)->Apply(shapes);
#endif

}  // namespace

int main(int argc, char** argv) {
  std::fprintf(stderr, "ember isa: %s, avx512-bf16 kernel: %s\n", std::string(cpu::isa_name(cpu::active_isa())).c_str(),
               cpu::has_avx512_bf16() ? "yes" : "no (portable)");
#ifdef EMBER_HAVE_OPENBLAS
  std::fprintf(stderr, "openblas core: %s\n", openblas_get_corename());
#endif
#ifndef EMBER_HAVE_SBGEMM
  std::fprintf(stderr, "openblas sbgemm: not in this OpenBLAS build (needs BUILD_BFLOAT16=1)\n");
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
