// Row-dot decode products (tensor/cpu/qgemm.h) against their double references on every ISA path
// this CPU runs (scalar, avx2, and avx512 where the CPU has it), for M in {1, 2, 3, 5} (2-row
// tiles and the 1-row tail), N not a multiple of the 4-channel tile and K with 8/16-lane tails;
// outputs between sentinels; the int8 quantizer's round trip; shape errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/qgemm.h"
#include "tests/common/expect_close.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {

using test::cpu_isas;
using test::IsaScope;
using test::throws_with;

std::vector<float> randv(size_t n, uint64_t seed, float lo = -1, float hi = 1) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& x : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = lo + (hi - lo) * static_cast<float>(s >> 40) / 16777216.0f;
  }
  return v;
}

// |got - ref| <= atol + rtol |ref| with rtol ~ sqrt(K) f32 ulps (f32 sums vs the double reference).
void expect_rows_close(const std::vector<float>& got, const std::vector<float>& ref, int64_t k, double scale) {
  const double tol = 4 * std::sqrt(static_cast<double>(k)) * 1.2e-7 * scale;
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(got[i], ref[i], tol + 1e-6 * std::abs(ref[i])) << "index " << i;
}

TEST(Qgemm, Int8AndF32RowsMatchReferenceOnEveryIsa) {
  for (cpu::Isa isa : cpu_isas()) {
    IsaScope scope(isa);
    for (int64_t m : {1, 2, 3, 5})
      for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 13}, {33, 64}, {130, 259}}) {
        SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " m " << m << " n " << n << " k " << k);
        const auto x = randv(size_t(m * k), 1 + m);
        const auto wf = randv(size_t(n * k), 2 + n);
        std::vector<int8_t> wq(size_t(n * k));
        for (size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<int8_t>(std::lround(wf[i] * 127));
        const auto sc = randv(size_t(n), 3, 0.001f, 0.02f);
        // Sentinels around y: the kernels write exactly [m, n].
        const size_t g = 16;
        std::vector<float> y(size_t(m * n) + 2 * g, 777.f), ref(size_t(m * n));
        cpu::qgemm_f32_i8(m, n, k, x.data(), wq.data(), sc.data(), y.data() + g);
        cpu::qgemm_f32_i8_ref(m, n, k, x.data(), wq.data(), sc.data(), ref.data());
        for (size_t i = 0; i < g; ++i) ASSERT_TRUE(y[i] == 777.f && y[y.size() - 1 - i] == 777.f);
        expect_rows_close({y.begin() + g, y.end() - g}, ref, k, 127 * 0.02 * static_cast<double>(k) / 4);
        std::fill(y.begin(), y.end(), 777.f);
        cpu::gemm_rows_f32(m, n, k, x.data(), wf.data(), y.data() + g);
        cpu::gemm_rows_f32_ref(m, n, k, x.data(), wf.data(), ref.data());
        for (size_t i = 0; i < g; ++i) ASSERT_TRUE(y[i] == 777.f && y[y.size() - 1 - i] == 777.f);
        expect_rows_close({y.begin() + g, y.end() - g}, ref, k, static_cast<double>(k) / 4);
        // bf16 weights: the bits of wf rounded to nearest even
        std::vector<uint16_t> wb(size_t(n * k));
        for (size_t i = 0; i < wb.size(); ++i) wb[i] = cpu::bf16_bits(wf[i]);
        std::fill(y.begin(), y.end(), 777.f);
        cpu::gemm_rows_bf16(m, n, k, x.data(), wb.data(), y.data() + g);
        cpu::gemm_rows_bf16_ref(m, n, k, x.data(), wb.data(), ref.data());
        for (size_t i = 0; i < g; ++i) ASSERT_TRUE(y[i] == 777.f && y[y.size() - 1 - i] == 777.f);
        expect_rows_close({y.begin() + g, y.end() - g}, ref, k, static_cast<double>(k) / 4);
      }
  }
}

TEST(Qgemm, TensorFormsQuantizerAndErrors) {
  // w = [[0.5, -1.0, 0.25], [0, 0, 0]] -> scales 1/127 and 1 (zero row), q = [64, -127, 32] (round(63.5) = 64).
  Tensor w = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 0.25f, 0, 0, 0}, {2, 3});
  const auto quantized = cpu::quantize_rows_int8(w);  // no structured binding: lambdas below capture these
  const Tensor& q = quantized.first;
  const Tensor& s = quantized.second;
  const auto qv = q.to_vector<uint8_t>();
  EXPECT_EQ(static_cast<int8_t>(qv[0]), 64);
  EXPECT_EQ(static_cast<int8_t>(qv[1]), -127);
  EXPECT_EQ(static_cast<int8_t>(qv[2]), 32);
  EXPECT_FLOAT_EQ(s.to_vector<float>()[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(s.to_vector<float>()[1], 1.0f);
  const auto dq = cpu::dequantize_rows_int8(q, s).to_vector<float>();  // 64/127, -1, 32/127, 0...
  EXPECT_FLOAT_EQ(dq[0], 64.0f / 127);
  EXPECT_FLOAT_EQ(dq[1], -1.0f);
  EXPECT_EQ(dq[5], 0.0f);
  // x [2, 2, 3] (batched leading dims, a transposed view) -> [2, 2, 2]
  Tensor x = Tensor::from_vector(randv(12, 5), {2, 3, 2}).transpose(1, 2);
  Tensor y8 = cpu::linear_int8(x, q, s), yf = cpu::linear_rows_f32(x, w), ref = linear(x, w);
  EXPECT_EQ(y8.shape(), (Shape{2, 2, 2}));
  const auto r = ref.to_vector<float>(), a = yf.to_vector<float>(), b = y8.to_vector<float>();
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_NEAR(a[i], r[i], 1e-6);
    EXPECT_NEAR(b[i], r[i], 3 * 0.5 / 127);  // each weight off by at most half a step
  }
  EXPECT_TRUE(throws_with([&] { cpu::linear_int8(Tensor::zeros({2, 4}), q, s); }, {"linear_int8", "[2,4]", "[2,3]"}));
  EXPECT_TRUE(throws_with([&] { cpu::linear_rows_f32(Tensor::zeros({2, 4}), w); }, {"linear_rows_f32", "[2,4]"}));
  EXPECT_TRUE(throws_with([&] { cpu::linear_int8(x, w, s); }, {"linear_int8", "u8"}));

  // bf16 (7 mantissa bits, steps of 2^-7 above 1): 0.5, -1, 0.25 are exact; 1 + 2^-9 rounds down
  // to 1 and 1 + 3 * 2^-9 up to 1 + 2^-7 = 1.0078125; converting back is exact.
  Tensor wb = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 0.25f, 1.0f + 1.0f / 512, 1.0f + 3.0f / 512, 0}, {2, 3});
  const Tensor bits = cpu::to_bf16_rows(wb);
  EXPECT_EQ(bits.shape(), (Shape{2, 6}));
  const auto back = cpu::bf16_rows_to_f32(bits).to_vector<float>();
  EXPECT_EQ(back, (std::vector<float>{0.5f, -1.0f, 0.25f, 1.0f, 1.0078125f, 0}));
  Tensor yb = cpu::linear_bf16(x, bits), refb = linear(x, cpu::bf16_rows_to_f32(bits));
  EXPECT_EQ(yb.shape(), (Shape{2, 2, 2}));
  const auto rb = refb.to_vector<float>(), gb = yb.to_vector<float>();
  for (size_t i = 0; i < rb.size(); ++i) EXPECT_NEAR(gb[i], rb[i], 1e-6);
  EXPECT_TRUE(throws_with([&] { cpu::linear_bf16(Tensor::zeros({2, 4}), bits); }, {"linear_bf16", "[2,4]", "[2,6]"}));
  EXPECT_TRUE(throws_with([&] { cpu::to_bf16_rows(bits); }, {"to_bf16_rows", "f32"}));
}

}  // namespace
}  // namespace ember
