// Row-dot decode products (tensor/cpu/qgemm.h) against their double references on every ISA path
// this CPU runs (scalar, avx2, and avx512 where the CPU has it), for M in {1, 2, 3, 5} (2-row
// tiles and the 1-row tail), N not a multiple of the 4-channel tile and K with 8/16-lane tails;
// outputs between sentinels; the int8 quantizer's round trip; shape errors. The low-precision
// activation forms (W8A8, bf16 x bf16) likewise.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/qgemm.h"
#include "tensor/matmul_precision.h"
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

// W8A8: the int32 sums are exact, so every path (scalar, AVX2 maddubs, AVX-512 VNNI where the CPU
// has it) equals the reference bit for bit; M covers the VNNI 4-row tiles and every tail, K the
// 32/64-byte tails, and the weights include -128 (the value whose sign cannot be flipped in int8).
TEST(Qgemm, Int8ActivationRowsEqualTheReferenceBitForBitOnEveryIsa) {
  bool vnni = false;
  if (cpu::best_isa() == cpu::Isa::avx512) {
    IsaScope scope(cpu::Isa::avx512);
    vnni = cpu::has_avx512_vnni();
  }
  std::printf("[ info ] VNNI rows %s\n", vnni ? "tested" : "not on this CPU (AVX2 and scalar rows tested)");
  for (cpu::Isa isa : cpu_isas()) {
    IsaScope scope(isa);
    for (int64_t m : {1, 2, 3, 4, 5, 7})
      for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 13}, {33, 64}, {9, 100}, {130, 259}}) {
        SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " m " << m << " n " << n << " k " << k);
        auto x = randv(size_t(m * k), 11 + m, -3, 2);
        const auto wf = randv(size_t(n * k), 12 + n);
        std::vector<int8_t> wq(size_t(n * k));
        for (size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<int8_t>(std::lround(wf[i] * 127.5f - 0.49f));
        wq[0] = -128;
        wq[wq.size() - 1] = -128;
        const auto sc = randv(size_t(n), 13, 0.001f, 0.02f);
        const size_t g = 16;
        std::vector<float> y(size_t(m * n) + 2 * g, 777.f), ref(size_t(m * n)), wide(size_t(m * n));
        cpu::qgemm_i8_i8(m, n, k, x.data(), wq.data(), sc.data(), y.data() + g);
        cpu::qgemm_i8_i8_ref(m, n, k, x.data(), wq.data(), sc.data(), ref.data());
        for (size_t i = 0; i < g; ++i) ASSERT_TRUE(y[i] == 777.f && y[y.size() - 1 - i] == 777.f);
        for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(y[g + i], ref[i]) << "index " << i;
        // Against the f32 activations: each activation moves by at most half a step xs / 2.
        cpu::qgemm_f32_i8_ref(m, n, k, x.data(), wq.data(), sc.data(), wide.data());
        for (int64_t i = 0; i < m; ++i) {
          float amax = 0;
          for (int64_t p = 0; p < k; ++p) amax = std::max(amax, std::fabs(x[size_t(i * k + p)]));
          for (int64_t j = 0; j < n; ++j) {
            double bound = 0;
            for (int64_t p = 0; p < k; ++p) bound += std::abs(double(wq[size_t(j * k + p)]));
            bound *= sc[size_t(j)] * amax / 127 / 2;
            ASSERT_NEAR(ref[size_t(i * n + j)], wide[size_t(i * n + j)], bound * 1.001 + 1e-5);
          }
        }
      }
    // A row with a NaN gives NaN outputs; the other rows are unaffected.
    auto x = randv(2 * 70, 21);
    x[75] = std::nanf("");
    const auto wf = randv(3 * 70, 22);
    std::vector<int8_t> wq(wf.size());
    for (size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<int8_t>(std::lround(wf[i] * 127));
    const std::vector<float> sc(3, 0.01f);
    std::vector<float> y(6), ref(6);
    cpu::qgemm_i8_i8(2, 3, 70, x.data(), wq.data(), sc.data(), y.data());
    cpu::qgemm_i8_i8_ref(1, 3, 70, x.data(), wq.data(), sc.data(), ref.data());
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(y[size_t(j)], ref[size_t(j)]);
      EXPECT_TRUE(std::isnan(y[size_t(3 + j)]));
    }
  }
}

// Under matmul precision bf16 the bf16-weight rows round the activations to bf16 too (VDPBF16PS
// where the CPU has AVX512-BF16): equal, up to f32 summation order, to the W16A32 reference on the
// rounded activations; and not equal to the unrounded product (the rounding happened).
TEST(Qgemm, Bf16WeightRowsRoundTheActivationsUnderBf16Precision) {
  for (cpu::Isa isa : cpu_isas()) {
    IsaScope scope(isa);
    MatmulPrecisionGuard precision(MatmulPrecision::bf16);
    for (int64_t m : {1, 2, 3})
      for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 13}, {33, 64}, {130, 259}}) {
        SCOPED_TRACE(::testing::Message() << cpu::isa_name(isa) << " m " << m << " n " << n << " k " << k);
        const auto x = randv(size_t(m * k), 31 + m);
        std::vector<float> xr(x.size());
        for (size_t i = 0; i < x.size(); ++i) xr[i] = cpu::round_to_bf16(x[i]);
        const auto wf = randv(size_t(n * k), 32 + n);
        std::vector<uint16_t> wb(size_t(n * k));
        for (size_t i = 0; i < wb.size(); ++i) wb[i] = cpu::bf16_bits(wf[i]);
        const size_t g = 16;
        std::vector<float> y(size_t(m * n) + 2 * g, 777.f), ref(size_t(m * n));
        cpu::gemm_rows_bf16(m, n, k, x.data(), wb.data(), y.data() + g);
        cpu::gemm_rows_bf16_ref(m, n, k, xr.data(), wb.data(), ref.data());
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
  // W8A8 (linear_int8_dynamic): the activation quantizer's rule, then the Tensor form.
  {
    const std::vector<float> xa = {0.5f, -1.0f, 0.25f, 0, 0, 0};
    std::vector<int8_t> xq(6);
    float xs[2];
    int32_t xsum[2];
    cpu::quantize_activation_rows_int8(2, 3, xa.data(), xq.data(), xs, xsum);
    EXPECT_EQ(xq, (std::vector<int8_t>{64, -127, 32, 0, 0, 0}));  // round(63.5) = 64, round(31.75) = 32
    EXPECT_FLOAT_EQ(xs[0], 1.0f / 127);
    EXPECT_EQ(xs[1], 1.0f);
    EXPECT_EQ(xsum[0], 64 - 127 + 32);
  }
  Tensor yd = cpu::linear_int8_dynamic(x, q, s);
  EXPECT_EQ(yd.shape(), (Shape{2, 2, 2}));
  const auto d = yd.to_vector<float>();
  for (size_t i = 0; i < r.size(); ++i) EXPECT_NEAR(d[i], b[i], 2 * 0.5 / 127);  // activations off by half a step
  EXPECT_TRUE(throws_with([&] { cpu::linear_int8_dynamic(Tensor::zeros({2, 4}), q, s); },
                          {"linear_int8_dynamic", "[2,4]", "[2,3]"}));
  EXPECT_TRUE(throws_with([&] { cpu::linear_int8_dynamic(x, w, s); }, {"linear_int8_dynamic", "u8"}));

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
