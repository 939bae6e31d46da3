// Attention forward: our fused flash kernel (Backend::sdpa_fwd, f32) vs a naive three-kernel
// composition on the same inputs: cuBLAS batched Q K^T into a [B*Hq, T, S] score matrix, our
// row softmax, cuBLAS batched P V (K and V expanded to Hq heads beforehand, untimed; the scale is
// folded into Q, untimed). Non-causal; GQA with Hq = 16, Hkv = 4; seq 128..4096, head_dim 64 / 128.
// FLOPs = 4 B Hq T S D (two GEMMs). The fused backward is timed alone (ours_bwd_ms).
#include <cmath>

#include "bench/cuda/bench_util.h"
#include "cuda/gemm/gemm.h"
#include "cuda/kernels/kernels.h"
#include "tensor/backend.h"

namespace ember::bench {
namespace {

void BM_attention(benchmark::State& s, int64_t seq, int64_t d) {
  if (!have_gpu(s)) return;
  const int64_t b = 1, hq = 16, hkv = 4, grp = hq / hkv;
  Generator g(3);
  const TensorOptions o{.device = Device::cuda()};
  Tensor q = Tensor::randn({b, hq, seq, d}, o, &g), k = Tensor::randn({b, hkv, seq, d}, o, &g);
  Tensor v = Tensor::randn({b, hkv, seq, d}, o, &g);
  const double scale = 1.0 / std::sqrt(double(d));
  Tensor out = Tensor::empty({b, hq, seq, d}, o), lse = Tensor::empty({b, hq, seq}, o);
  Backend& be = backend_for(Device::cuda());
  // Naive operands: K, V repeated per query head; Q pre-scaled.
  std::vector<int64_t> map;
  for (int64_t h = 0; h < hq; ++h) map.push_back(h / grp);
  Tensor idx = Tensor::from_vector(map, {hq}, {.dtype = DType::i64, .device = Device::cuda()});
  Tensor ke = index_select(k, 1, idx).contiguous(), ve = index_select(v, 1, idx).contiguous();
  Tensor qs = (q * scale).contiguous();
  Tensor scores = Tensor::empty({b * hq, seq, seq}, o), probs = Tensor::empty({b * hq, seq, seq}, o);
  Tensor out_naive = Tensor::empty({b, hq, seq, d}, o);
  const int64_t bh = b * hq;
  auto naive = [&] {
    cuda::cublas_gemm_f32({static_cast<const float*>(qs.raw_data()), seq * d, d, 1,
                           static_cast<const float*>(ke.raw_data()), seq * d, 1, d,  // K^T: (k, n) at n*d + k
                           static_cast<float*>(scores.raw_data()), seq * seq, seq, bh, seq, seq, d, false},
                          false);
    cuda::launch_softmax(scores.raw_data(), probs.raw_data(), bh * seq, seq, false, DType::f32);
    cuda::cublas_gemm_f32({static_cast<const float*>(probs.raw_data()), seq * seq, seq, 1,
                           static_cast<const float*>(ve.raw_data()), seq * d, d, 1,
                           static_cast<float*>(out_naive.raw_data()), seq * d, d, bh, seq, d, seq, false},
                          false);
  };
  auto ours = [&] { EMBER_CHECK(be.sdpa_fwd(q, k, v, false, scale, out, lse), "bench: sdpa_fwd declined"); };
  ours();
  naive();
  s.counters["rel_err"] = rel_err(out, out_naive);
  Tensor go = Tensor::randn(out.shape(), o, &g), gq = Tensor::empty(q.shape(), o), gk = Tensor::empty(k.shape(), o),
         gv = Tensor::empty(v.shape(), o);
  s.counters["ours_bwd_ms"] =
      median_ms([&] { be.sdpa_bwd(q, k, v, out, lse, go, false, scale, gq, gk, gv); }, false, 5);
  run(s, ours, naive, false, 4.0 * double(b * hq) * double(seq) * double(seq) * double(d), "TFLOPs", 1e12);
}

void register_all() {
  for (int64_t d : {64, 128})
    for (int64_t seq : {128, 512, 1024, 2048, 4096})
      benchmark::RegisterBenchmark(("attention_fwd/d" + std::to_string(d) + "/seq" + std::to_string(seq)).c_str(),
                                   [=](benchmark::State& st) { BM_attention(st, seq, d); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) { return ember::bench::run_benchmarks(argc, argv, ember::bench::register_all); }
