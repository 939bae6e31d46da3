// CUDA fused kernels vs CPU: flash-attention forward (out and lse) and backward (grad q/k/v) of
// Backend::sdpa_fwd/sdpa_bwd against the composite attention of autograd on the CPU (causal aligned
// to the end, grouped-query heads, T != S, head dims 1..128, Dv != D); and the fused Adam/AdamW
// step against the documented formula evaluated in f64 on the host.
// Tolerance f32: out rtol 1e-4 / atol 1e-5, lse 1e-5, grads rtol 1e-4 / atol 1e-4; Adam 1e-6.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::cpu;
using test::gpu;

struct Attn {
  int64_t b, hq, hkv, t, s, d, dv;
  bool causal;
};

// lse reference: logsumexp of the kept scaled scores, GQA by index_select over the head dim.
Tensor reference_lse(const Tensor& q, const Tensor& k, const Attn& a, double scale) {
  std::vector<int64_t> map;
  for (int64_t h = 0; h < a.hq; ++h) map.push_back(h / (a.hq / a.hkv));
  Tensor ke = index_select(k, 1, Tensor::from_vector(map, {a.hq}, {.dtype = DType::i64}));
  Tensor scores = matmul(q, ke.transpose(2, 3)) * scale;
  if (a.causal) {
    std::vector<uint8_t> m(size_t(a.t * a.s));
    for (int64_t t = 0; t < a.t; ++t)
      for (int64_t s = 0; s < a.s; ++s) m[size_t(t * a.s + s)] = s > t + (a.s - a.t);
    scores = masked_fill(scores, Tensor::from_vector(m, {a.t, a.s}, {.dtype = DType::u8}), -INFINITY);
  }
  return logsumexp(scores, {3});
}

TEST(CudaAttention, FlashForwardAndBackwardMatchComposite) {
  EMBER_REQUIRE_CUDA();
  const std::vector<Attn> cases = {{1, 1, 1, 1, 1, 1, 1, false},     {2, 4, 2, 37, 37, 32, 32, true},
                                   {2, 4, 2, 37, 37, 32, 32, false}, {1, 8, 2, 128, 128, 64, 64, true},
                                   {2, 2, 1, 65, 130, 128, 128, true}, {1, 3, 3, 100, 70, 16, 24, false},
                                   {1, 2, 1, 200, 200, 100, 100, true}};
  Backend& be = backend_for(Device::cuda());
  for (const Attn& a : cases) {
    const double scale = 1.0 / std::sqrt(double(a.d));
    Tensor q = test::randu({a.b, a.hq, a.t, a.d}, 101), k = test::randu({a.b, a.hkv, a.s, a.d}, 102);
    Tensor v = test::randu({a.b, a.hkv, a.s, a.dv}, 103), go = test::randu({a.b, a.hq, a.t, a.dv}, 104);
    Tensor qc = q.detach(), kc = k.detach(), vc = v.detach();
    for (Tensor* t : {&qc, &kc, &vc}) t->requires_grad_(true);
    Tensor ref = scaled_dot_product_attention(qc, kc, vc, a.causal, {}, scale);
    sum(ref * go).backward();
    Tensor out = Tensor::empty(ref.shape(), {.device = Device::cuda()});
    Tensor lse = Tensor::empty({a.b, a.hq, a.t}, {.device = Device::cuda()});
    ASSERT_TRUE(be.sdpa_fwd(gpu(q), gpu(k), gpu(v), a.causal, scale, out, lse));
    EXPECT_TRUE(test::all_close(cpu(out), ref, 1e-4, 1e-5)) << "out t=" << a.t << " s=" << a.s << " d=" << a.d;
    EXPECT_TRUE(test::all_close(cpu(lse), reference_lse(q, k, a, scale), 1e-5, 1e-5)) << "lse";
    Tensor gq = Tensor::empty(q.shape(), {.device = Device::cuda()}), gk = Tensor::empty(k.shape(), {.device = Device::cuda()});
    Tensor gv = Tensor::empty(v.shape(), {.device = Device::cuda()});
    ASSERT_TRUE(be.sdpa_bwd(gpu(q), gpu(k), gpu(v), out, lse, gpu(go), a.causal, scale, gq, gk, gv));
    EXPECT_TRUE(test::all_close(cpu(gq), qc.grad(), 1e-4, 1e-4)) << "grad q, t=" << a.t << " causal " << a.causal;
    EXPECT_TRUE(test::all_close(cpu(gk), kc.grad(), 1e-4, 1e-4)) << "grad k";
    EXPECT_TRUE(test::all_close(cpu(gv), vc.grad(), 1e-4, 1e-4)) << "grad v";
  }
  // Declines what it does not cover (head dim > 128, f64) so the caller composes instead.
  Tensor big = Tensor::zeros({1, 1, 4, 129}, {.device = Device::cuda()});
  Tensor o = Tensor::empty({1, 1, 4, 129}, {.device = Device::cuda()}), l = Tensor::empty({1, 1, 4}, {.device = Device::cuda()});
  EXPECT_FALSE(be.sdpa_fwd(big, big, big, false, 1.0, o, l));
}

TEST(CudaAttention, FusedAdamMatchesFormula) {
  EMBER_REQUIRE_CUDA();
  for (bool decoupled : {false, true}) {
    const int64_t n = 100003;
    Tensor p = test::randu({n}, 105), g = test::randu({n}, 106), m = test::randu({n}, 107, -0.1, 0.1);
    Tensor v = test::randu({n}, 108, 0, 0.01);
    Backend::AdamStep s{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1,
                        .decoupled = decoupled, .step = 3};
    Tensor gp = gpu(p), gm = gpu(m), gvv = gpu(v);
    ASSERT_TRUE(backend_for(Device::cuda()).adam_update(gp, gpu(g), gm, gvv, s));
    std::vector<double> P = p.to_vector<double>(), G = g.to_vector<double>(), M = m.to_vector<double>(),
                        W = v.to_vector<double>();
    const double b1 = 1 - std::pow(s.beta1, 3.0), b2 = 1 - std::pow(s.beta2, 3.0);
    for (int64_t i = 0; i < n; ++i) {
      double gi = G[i];
      if (decoupled) P[i] *= 1 - s.lr * s.weight_decay;
      else gi += s.weight_decay * P[i];
      M[i] = s.beta1 * M[i] + (1 - s.beta1) * gi;
      W[i] = s.beta2 * W[i] + (1 - s.beta2) * gi * gi;
      P[i] -= s.lr / b1 * M[i] / (std::sqrt(W[i] / b2) + s.eps);
    }
    EXPECT_TRUE(test::all_close(cpu(gp), Tensor::from_vector(P, {n}), 1e-5, 1e-6)) << "param decoupled " << decoupled;
    EXPECT_TRUE(test::all_close(cpu(gm), Tensor::from_vector(M, {n}), 1e-5, 1e-7));
    EXPECT_TRUE(test::all_close(cpu(gvv), Tensor::from_vector(W, {n}), 1e-5, 1e-9));
  }
}

}  // namespace
}  // namespace ember
