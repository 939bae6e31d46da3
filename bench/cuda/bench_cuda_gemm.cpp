// GEMM: our kernels vs cuBLAS on the same operands, in the same run.
//   f32:  tiled SIMT kernel vs cublasGemmStridedBatchedEx (CUBLAS_COMPUTE_32F)
//   tf32: our mma.sync kernel vs cuBLAS CUBLAS_COMPUTE_32F_FAST_TF32
//   bf16: our mma.sync kernel vs cuBLAS bf16 inputs, f32 accumulate/output
// Shapes: square 1024..8192, and the training GEMMs of WORKLOADS.md (W1 MLP layers and their
// weight gradients, W2 classifier and conv2 lowered to a batched GEMM, W4 projections and MLP).
// FLOPs = 2 M N K per batch item. Inputs stay in L2/HBM as they are (no flush: compute-bound).
#include <cuda_bf16.h>

#include "bench/cuda/bench_util.h"
#include "cuda/gemm/gemm.h"

namespace ember::bench {
namespace {

enum Kind { kF32, kTf32, kBf16 };

void BM_gemm(benchmark::State& s, Kind kind, int64_t bt, int64_t m, int64_t n, int64_t k) {
  if (!have_gpu(s)) return;
  Generator g(1);
  const TensorOptions o{.device = Device::cuda()};
  Tensor a = Tensor::rand({bt, m, k}, o, &g), b = Tensor::rand({bt, k, n}, o, &g);
  Tensor c = Tensor::zeros({bt, m, n}, o), cref = Tensor::zeros({bt, m, n}, o);
  Tensor abf = Tensor::empty({a.numel()}, {.dtype = DType::i32, .device = Device::cuda()});
  Tensor bbf = Tensor::empty({b.numel()}, {.dtype = DType::i32, .device = Device::cuda()});
  const auto* pa = static_cast<const float*>(a.raw_data());
  const auto* pb = static_cast<const float*>(b.raw_data());
  auto ops = [&](const Tensor& out) {
    return cuda::GemmOperands<float>{pa, m * k, k, 1, pb, k * n, n, 1, static_cast<float*>(out.raw_data()),
                                     m * n, n, bt, m, n, k, false};
  };
  auto tc = [&](const Tensor& out, bool half) {
    return cuda::TcGemm{half ? abf.raw_data() : a.raw_data(), k, m * k, half ? bbf.raw_data() : b.raw_data(), n, k * n,
                        static_cast<float*>(out.raw_data()), n, m * n, bt, m, n, k, false};
  };
  std::function<void()> ours, base;
  switch (kind) {
    case kF32:
      ours = [&] { cuda::launch_gemm_tiled(ops(c)); };
      base = [&] { cuda::cublas_gemm_f32(ops(cref), false); };
      break;
    case kTf32:
      ours = [&] { EMBER_CHECK(cuda::launch_gemm_tf32_tc(tc(c, false)), "bench: tf32 layout declined"); };
      base = [&] { cuda::cublas_gemm_f32(ops(cref), true); };
      break;
    case kBf16:
      cuda::launch_f32_to_bf16(pa, static_cast<__nv_bfloat16*>(abf.raw_data()), a.numel());
      cuda::launch_f32_to_bf16(pb, static_cast<__nv_bfloat16*>(bbf.raw_data()), b.numel());
      ours = [&] { EMBER_CHECK(cuda::launch_gemm_bf16_tc(tc(c, true)), "bench: bf16 layout declined"); };
      base = [&] { cuda::cublas_gemm_bf16(tc(cref, true)); };
      break;
  }
  ours();
  base();
  s.counters["rel_err"] = rel_err(c, cref);
  run(s, ours, base, false, 2.0 * double(bt) * double(m) * double(n) * double(k), "TFLOPs", 1e12);
}

void register_all() {
  struct Shape3 {
    const char* name;
    int64_t bt, m, n, k;
  };
  std::vector<Shape3> shapes = {{"sq1024", 1, 1024, 1024, 1024}, {"sq2048", 1, 2048, 2048, 2048},
                                {"sq4096", 1, 4096, 4096, 4096}, {"sq8192", 1, 8192, 8192, 8192},
                                {"W1_fc1", 1, 128, 256, 784},    {"W1_fc1_dW", 1, 784, 256, 128},
                                {"W1_fc2", 1, 128, 256, 256},    {"W1_fc3", 1, 128, 10, 256},
                                {"W2_fc1", 1, 64, 128, 3136},    {"W2_conv2", 64, 64, 196, 288},
                                {"W4_qo", 1, 2048, 256, 256},    {"W4_kv", 1, 2048, 64, 256},
                                {"W4_w13", 1, 2048, 688, 256},   {"W4_w2", 1, 2048, 256, 688},
                                {"W4_w13_dW", 1, 688, 256, 2048}};
  const std::pair<Kind, const char*> kinds[] = {{kF32, "f32"}, {kTf32, "tf32"}, {kBf16, "bf16"}};
  for (const auto& [kind, kname] : kinds)
    for (const auto& sh : shapes) {
      const bool tc = kind != kF32;
      if (tc && (sh.k % 8 != 0 || sh.n % 8 != 0)) continue;  // tensor-core kernels need 16-byte rows
      benchmark::RegisterBenchmark((std::string("gemm_") + kname + "/" + sh.name).c_str(),
                                   [=](benchmark::State& st) { BM_gemm(st, kind, sh.bt, sh.m, sh.n, sh.k); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) { return ember::bench::run_benchmarks(argc, argv, ember::bench::register_all); }
