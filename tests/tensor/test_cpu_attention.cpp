// Fused CPU attention (tensor/cpu/attention*.cpp, reached through scaled_dot_product_attention
// without a mask) against the composite path (the same call with an all-ones mask, which composes
// matmul/where/softmax): outputs and q/k/v gradients, causal and full, grouped-query heads,
// T != S (causal aligned to the end), sizes past the kernel's query/key blocks (16/64), Dv != D,
// head dims past the AVX2 product's 16-column blocks,
// f32 on the AVX2 and scalar builds and f64; plus gradcheck of the fused path in f64.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "tensor/cpu/cpu_features.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

struct Dims {
  int64_t b, h, hkv, t, s, d, dv;
};

struct Result {
  Tensor out, gq, gk, gv;
};

Result run(const Dims& m, bool causal, bool composite, DType dt, uint64_t seed) {
  Generator g(seed);
  auto leaf = [&](const Shape& s) {
    Tensor t = (Tensor::rand(s, {}, &g) * 2.0 - 1.0).to(dt).detach();
    t.requires_grad_(true);
    return t;
  };
  Tensor q = leaf({m.b, m.h, m.t, m.d}), k = leaf({m.b, m.hkv, m.s, m.d}), v = leaf({m.b, m.hkv, m.s, m.dv});
  Tensor w = (Tensor::rand({m.b, m.h, m.t, m.dv}, {}, &g) - 0.5).to(dt);
  Tensor mask = composite ? Tensor::ones({m.t, m.s}, {.dtype = DType::u8}) : Tensor();
  Tensor out = scaled_dot_product_attention(q, k, v, causal, mask);
  sum(out * w).backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

void compare(const Dims& m, bool causal, DType dt, cpu::Isa isa) {
  const cpu::Isa prev = cpu::active_isa();
  cpu::set_isa(isa);
  Result f = run(m, causal, false, dt, 7), c = run(m, causal, true, dt, 7);
  cpu::set_isa(prev);
  const double tol = dt == DType::f32 ? 2e-5 : 1e-12;
  const std::string what = fmt::format("b{} h{}/{} t{} s{} d{} dv{}{} isa {}", m.b, m.h, m.hkv, m.t, m.s, m.d, m.dv,
                                       causal ? " causal" : "", int(isa));
  EXPECT_TRUE(test::all_close(f.out, c.out, tol, tol)) << "out " << what;
  EXPECT_TRUE(test::all_close(f.gq, c.gq, tol, tol)) << "grad q " << what;
  EXPECT_TRUE(test::all_close(f.gk, c.gk, tol, tol)) << "grad k " << what;
  EXPECT_TRUE(test::all_close(f.gv, c.gv, tol, tol)) << "grad v " << what;
}

// The last two have head dims of 16 and more, so every small product (not only the scores) runs
// the AVX2 build's 6 x 16 register tile as well as its masked column tail (d 24, dv 40).
const Dims kDims[] = {{1, 1, 1, 1, 1, 1, 1},    {2, 4, 2, 5, 5, 3, 3},   {1, 8, 2, 3, 7, 4, 5},
                      {1, 2, 2, 37, 37, 8, 8},  {1, 2, 1, 40, 70, 5, 7}, {2, 3, 3, 16, 17, 9, 4},
                      {1, 4, 2, 70, 70, 32, 32}, {2, 2, 1, 33, 45, 24, 40}};

TEST(CpuAttention, FusedMatchesCompositeOnEveryPath) {
  std::vector<cpu::Isa> isas = {cpu::Isa::scalar};
  if (cpu::best_isa() != cpu::Isa::scalar) isas.push_back(cpu::Isa::avx2);
  for (cpu::Isa isa : isas)
    for (const Dims& m : kDims)
      for (bool causal : {false, true}) {
        compare(m, causal, DType::f32, isa);
        compare(m, causal, DType::f64, isa);
      }
}

TEST(CpuAttention, FusedGradcheck) {
  for (bool causal : {false, true}) {
    Tensor q = test::rand64({1, 4, 5, 3}, 1), k = test::rand64({1, 2, 6, 3}, 2), v = test::rand64({1, 2, 6, 2}, 3);
    EXPECT_TRUE(test::grad_ok(
        [&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], causal); },
        {q, k, v}))
        << (causal ? "causal" : "full");
  }
}

TEST(CpuAttention, QueryWithoutKeysIsNanLikeComposite) {
  // Causal with T > S: the first T - S queries see no key (softmax of an all -inf row is nan).
  Tensor q = Tensor::ones({1, 1, 4, 2}), k = Tensor::ones({1, 1, 2, 2}), v = Tensor::ones({1, 1, 2, 2});
  std::vector<float> out = scaled_dot_product_attention(q, k, v, true).to_vector<float>();
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[3]));
  EXPECT_FLOAT_EQ(out[4], 1.0f);
  EXPECT_FLOAT_EQ(out[7], 1.0f);
}

}  // namespace
}  // namespace ember
