// End-to-end: a small CNN (conv, relu, max pool, avg pool, linear, cross-entropy) and a small
// GQA attention model (embedding, RMS norm, RoPE, causal attention, SwiGLU, cross-entropy) give the
// same loss and the same gradient for every parameter on the GPU as on the CPU; a few SGD steps
// on the GPU follow the CPU's losses. Tolerance f32: loss rtol 1e-5, grads rtol 1e-3 / atol 1e-5
// (long chains of reductions in a different order).
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::Tol;
using V = std::vector<Tensor>;

// params: conv1 w,b; conv2 w,b; fc w,b. in[6] = images, targets captured.
Tensor cnn(const V& p, const Tensor& x, const Tensor& y) {
  Tensor h = max_pool2d(relu(conv2d(x, p[0], p[1], {.pad_h = 1, .pad_w = 1})));
  h = relu(conv2d(h, p[2], p[3], {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}));
  h = flatten(adaptive_avg_pool2d(h, 3, 3), 1);
  return cross_entropy(linear(h, p[4], p[5]), y);
}

TEST(CudaModels, SmallCnnGradientsMatchCpu) {
  EMBER_REQUIRE_CUDA();
  const V params = {test::randu({6, 1, 3, 3}, 111, -0.5, 0.5), test::randu({6}, 112, -0.1, 0.1),
                    test::randu({10, 6, 3, 3}, 113, -0.2, 0.2), test::randu({10}, 114, -0.1, 0.1),
                    test::randu({7, 90}, 115, -0.1, 0.1),       test::randu({7}, 116, -0.1, 0.1)};
  Tensor x = test::randu({5, 1, 15, 13}, 117, 0, 1), y = test::randi({5}, 118, 0, 7);
  EXPECT_TRUE(test::gpu_matches_cpu(
      [&](const V& p) { return cnn(p, p[0].device().is_cuda() ? gpu(x) : x, p[0].device().is_cuda() ? gpu(y) : y); },
      params, Tol{1e-5, 1e-6}, Tol{1e-3, 1e-5}));
}

// params: emb, norm w, wq, wk, wv, wo, w1, w3, w2, head.
Tensor tiny_lm(const V& p, const Tensor& tok, const Tensor& target) {
  const int64_t b = tok.size(0), t = tok.size(1), hq = 4, hkv = 2, dh = 8;
  const TensorOptions o{.device = tok.device()};
  Tensor x = embedding(p[0], tok);  // [B, T, 32]
  Tensor h = rms_norm(x, p[1]);
  Tensor q = linear(h, p[2]).reshape({b, t, hq, dh}).transpose(1, 2);
  Tensor k = linear(h, p[3]).reshape({b, t, hkv, dh}).transpose(1, 2);
  Tensor v = linear(h, p[4]).reshape({b, t, hkv, dh}).transpose(1, 2);
  auto [cs, sn] = rope_tables(0, t, dh, 10000.0, o);
  q = rotary_embedding(q, cs, sn);
  k = rotary_embedding(k, cs, sn);
  Tensor a = scaled_dot_product_attention(q, k, v, true).transpose(1, 2).reshape({b, t, hq * dh});
  x = x + linear(a, p[5]);
  x = x + linear(silu(linear(x, p[6])) * linear(x, p[7]), p[8]);
  return cross_entropy(linear(rms_norm(x, p[1]), p[9]).reshape({b * t, -1}), target.reshape({-1}));
}

V lm_params() {
  return {test::randu({50, 32}, 121),          test::randu({32}, 122, 0.5, 1.5),  test::randu({32, 32}, 123, -0.2, 0.2),
          test::randu({16, 32}, 124, -0.2, 0.2), test::randu({16, 32}, 125, -0.2, 0.2), test::randu({32, 32}, 126, -0.2, 0.2),
          test::randu({40, 32}, 127, -0.2, 0.2), test::randu({40, 32}, 128, -0.2, 0.2), test::randu({32, 40}, 129, -0.2, 0.2),
          test::randu({50, 32}, 130, -0.2, 0.2)};
}

TEST(CudaModels, SmallAttentionModelGradientsMatchCpu) {
  EMBER_REQUIRE_CUDA();
  Tensor tok = test::randi({3, 11}, 131, 0, 50), tgt = test::randi({3, 11}, 132, 0, 50);
  EXPECT_TRUE(test::gpu_matches_cpu(
      [&](const V& p) {
        const bool g = p[0].device().is_cuda();
        return tiny_lm(p, g ? gpu(tok) : tok, g ? gpu(tgt) : tgt);
      },
      lm_params(), Tol{1e-5, 1e-6}, Tol{1e-3, 1e-5}));
}

TEST(CudaModels, SgdStepsFollowCpu) {
  EMBER_REQUIRE_CUDA();
  Tensor tok = test::randi({2, 9}, 133, 0, 50), tgt = test::randi({2, 9}, 134, 0, 50);
  V pc = lm_params(), pg;
  for (Tensor& t : pc) {
    t.requires_grad_(true);
    Tensor g = gpu(t);
    g.requires_grad_(true);
    pg.push_back(g);
  }
  Tensor gtok = gpu(tok), gtgt = gpu(tgt);
  for (int step = 0; step < 5; ++step) {
    Tensor lc = tiny_lm(pc, tok, tgt), lg = tiny_lm(pg, gtok, gtgt);
    EXPECT_NEAR(lg.item(), lc.item(), 1e-4 * std::abs(lc.item())) << "step " << step;
    lc.backward();
    lg.backward();
    NoGradGuard ng;
    for (size_t i = 0; i < pc.size(); ++i) {
      pc[i].add_(pc[i].grad(), -0.5);
      pg[i].add_(pg[i].grad(), -0.5);
      pc[i].zero_grad();
      pg[i].zero_grad();
    }
  }
}

}  // namespace
}  // namespace ember
