// bf16-precision GEMM (MatmulPrecision::bf16): the rounding itself on its edge cases, then the GEMM
// on both kernels (VDPBF16PS where the CPU has AVX512-BF16, and the portable one forced through a
// lower ISA) against a reference that rounds the operands the same way and sums in double. Awkward
// shapes, every transpose through strides, a general strided view, accumulate, sentinels around C.
// Last, a Linear forward/backward under bf16 stays within bf16 error of f32 and switching back is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_bf16.h"
#include "tensor/matmul_precision.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using cpu::bf16_bits;

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

TEST(Bf16Round, NearestEvenNanInfAndSubnormals) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(bf16_bits(-2.5f), 0xc020);
  EXPECT_EQ(bf16_bits(from_bits(0x3f808000)), 0x3f80);  // 1 + 2^-8: halfway, even neighbour is below
  EXPECT_EQ(bf16_bits(from_bits(0x3f818000)), 0x3f82);  // 1 + 3*2^-8: halfway, even neighbour is above
  EXPECT_EQ(bf16_bits(from_bits(0x3f808001)), 0x3f81);  // just past halfway rounds up
  EXPECT_EQ(bf16_bits(from_bits(0x3f807fff)), 0x3f80);  // just below halfway rounds down
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_bits(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::max()), 0x7f80);  // past the largest bf16: inf
  EXPECT_EQ(bf16_bits(from_bits(0x7f800001)), 0x7fc0);             // signalling NaN with a low payload stays NaN
  EXPECT_EQ(bf16_bits(from_bits(0xffc00000)), 0xffc0);             // sign kept
  EXPECT_EQ(bf16_bits(from_bits(0x00400000)), 0x0000);             // subnormal -> zero, as the hardware does
  EXPECT_EQ(bf16_bits(from_bits(0x80000001)), 0x8000);
  EXPECT_EQ(bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::min()), 0x0080);  // smallest normal survives
}

// The kernels: VDPBF16PS (ISA avx512 on an AVX512-BF16 CPU), the portable one built for AVX2 (ISA
// forced to avx2) and for the baseline (ISA forced to scalar).
enum class Path { avx512_bf16, portable_avx2, portable };

class Bf16Gemm : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    saved_isa_ = cpu::active_isa();
    if (GetParam() == Path::avx512_bf16) {
      if (cpu::best_isa() != cpu::Isa::avx512) GTEST_SKIP() << "no AVX-512";
      cpu::set_isa(cpu::Isa::avx512);
      if (!cpu::has_avx512_bf16()) GTEST_SKIP() << "this CPU lacks AVX512-BF16";
    } else if (GetParam() == Path::portable_avx2) {
      if (cpu::best_isa() < cpu::Isa::avx2) GTEST_SKIP() << "no AVX2";
      cpu::set_isa(cpu::Isa::avx2);  // a lower ISA turns the bf16 kernel off
    } else {
      cpu::set_isa(cpu::Isa::scalar);
    }
    ASSERT_EQ(cpu::has_avx512_bf16(), GetParam() == Path::avx512_bf16);
    set_matmul_precision(MatmulPrecision::bf16);
  }
  void TearDown() override {
    set_matmul_precision(MatmulPrecision::highest);
    cpu::set_isa(saved_isa_);
  }
  cpu::Isa saved_isa_ = cpu::Isa::scalar;
};

// C = A @ B for A [m,1], B [1,1] = 1: every output is the rounded input, whatever it is.
TEST_P(Bf16Gemm, RoundsEdgeValuesLikeTheScalarRounding) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> vals = {1.0f, from_bits(0x3f808000), from_bits(0x3f818000), from_bits(0x3f808001),
                                   -from_bits(0x3f818000), inf, -inf, std::numeric_limits<float>::max(),
                                   from_bits(0x7f800001), std::nanf(""), from_bits(0x00400000), -0.0f, 3e-38f,
                                   std::numeric_limits<float>::min(), 65504.5f, -1e-3f, 1e30f};
  const int64_t m = int64_t(vals.size());
  Tensor a = Tensor::from_vector(vals, {1, m, 1}), one = Tensor::ones({1, 1, 1}), out = Tensor::empty({1, m, 1});
  backend_for(Device::cpu()).gemm(a, one, out, false);
  // The same values as a B row ([1,1] @ [1,m]) go through the B packing.
  Tensor out_b = Tensor::empty({1, 1, m});
  backend_for(Device::cpu()).gemm(one, a.reshape({1, 1, m}), out_b, false);
  auto got = out.to_vector<float>(), got_b = out_b.to_vector<float>();
  for (size_t i = 0; i < vals.size(); ++i) {
    const float want = cpu::round_to_bf16(vals[i]);
    for (float g : {got[i], got_b[i]}) {
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(g)) << "input " << vals[i];
      else EXPECT_EQ(g, want) << "input " << vals[i];
    }
  }
  // K-contiguous packing (A row-major [1,K] times the identity) on the finite values.
  std::vector<float> fin;
  for (float v : vals)
    if (std::isfinite(cpu::round_to_bf16(v))) fin.push_back(v);
  const int64_t k = int64_t(fin.size());
  Tensor row = Tensor::from_vector(fin, {1, 1, k}), id = Tensor::eye(k).reshape({1, k, k}), out_k = Tensor::empty({1, 1, k});
  backend_for(Device::cpu()).gemm(row, id, out_k, false);
  auto gk = out_k.to_vector<float>();
  for (int64_t i = 0; i < k; ++i) EXPECT_EQ(gk[size_t(i)], cpu::round_to_bf16(fin[size_t(i)])) << "input " << fin[size_t(i)];
}

struct Case {
  int64_t bt, m, n, k;
};

// Layouts of a logical [bt, rows, cols] operand: 0 row-major, 1 stored transposed, 2 a general view
// (every other column of a wider matrix, so neither stride is 1).
Tensor operand(int64_t bt, int64_t rows, int64_t cols, int layout, Generator& g) {
  if (layout == 0) return Tensor::rand({bt, rows, cols}, {}, &g) - 0.5;
  if (layout == 1) return (Tensor::rand({bt, cols, rows}, {}, &g) - 0.5).transpose(1, 2);
  Tensor wide = Tensor::rand({bt, rows, 2 * cols}, {}, &g) - 0.5;
  return wide.as_strided({bt, rows, cols}, {rows * 2 * cols, 2 * cols, 2}, 1);
}

void check_case(const Case& c, int la, int lb, bool accumulate) {
  Generator g(c.m * 131 + c.n * 17 + c.k + la * 7 + lb);
  Tensor a = operand(c.bt, c.m, c.k, la, g), b = operand(c.bt, c.k, c.n, lb, g);
  const int64_t guard = 64, size = c.bt * c.m * c.n;
  Tensor buf = Tensor::full({size + 2 * guard}, 12345.0);
  Tensor out = buf.as_strided({c.bt, c.m, c.n}, {c.m * c.n, c.n, 1}, guard);
  Tensor init = Tensor::rand({c.bt, c.m, c.n}, {}, &g);
  if (accumulate) out.copy_(init);
  backend_for(Device::cpu()).gemm(a, b, out, accumulate);

  // Reference: bf16-rounded operands, products and sums in double. Bound: the kernels sum exact f32
  // products with at most K + (K blocks) + 1 <= 2K + 2 roundings in any chain, each off by at most
  // u = 2^-24 relative to the partial sum, so |err| <= gamma(2K+2) * (sum|a*b| + |C0|).
  auto av = a.to_vector<float>(), bv = b.to_vector<float>(), cv = init.to_vector<float>(), got = out.to_vector<float>();
  const double u = std::ldexp(1.0, -24), n_round = double(2 * c.k + 2), gamma = n_round * u / (1 - n_round * u);
  for (int64_t q = 0; q < c.bt; ++q)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        const size_t o = size_t((q * c.m + i) * c.n + j);
        double ref = accumulate ? cv[o] : 0.0, mag = std::abs(ref);
        for (int64_t p = 0; p < c.k; ++p) {
          const double x = double(cpu::round_to_bf16(av[size_t((q * c.m + i) * c.k + p)])) *
                           double(cpu::round_to_bf16(bv[size_t((q * c.k + p) * c.n + j)]));
          ref += x;
          mag += std::abs(x);
        }
        ASSERT_LE(std::abs(got[o] - ref), gamma * mag + 1e-30)
            << "bt=" << c.bt << " m=" << c.m << " n=" << c.n << " k=" << c.k << " layouts " << la << lb
            << " acc=" << accumulate << " at (" << q << "," << i << "," << j << "): got " << got[o] << " ref " << ref;
      }
  auto v = buf.to_vector<float>();
  for (int64_t i = 0; i < guard; ++i) {
    ASSERT_EQ(v[size_t(i)], 12345.0f) << "canary before the output overwritten at " << i;
    ASSERT_EQ(v[size_t(size + guard + i)], 12345.0f) << "canary after the output overwritten at " << i;
  }
}

// 1s, primes, odd K (the k-pair packing pads), sizes around MR=12 / NR=32 / the K block (512) and
// the portable kernel's 6 x 16 and 6 x 8, more than one K block with an odd remainder.
const Case kCases[] = {{1, 1, 1, 1},    {1, 7, 5, 3},    {2, 13, 31, 17},  {1, 12, 32, 2},   {1, 25, 65, 1},
                       {1, 127, 33, 65}, {3, 12, 32, 256}, {1, 97, 70, 151}, {1, 37, 7, 1029}, {1, 1, 1000, 37},
                       {2, 64, 64, 0}};

TEST_P(Bf16Gemm, MatchesRoundedReferenceForEveryLayout) {
  for (const Case& c : kCases)
    for (int la : {0, 1, 2})
      for (int lb : {0, 1, 2}) check_case(c, la, lb, false);
}

TEST_P(Bf16Gemm, AccumulateAddsIntoOutput) {
  check_case({1, 29, 45, 71}, 0, 1, true);
  check_case({2, 12, 32, 600}, 1, 0, true);
  check_case({1, 5, 3, 0}, 0, 0, true);
}

TEST_P(Bf16Gemm, LargeMultithreadedShape) {
  const int saved = get_num_threads();
  set_num_threads(2);
  check_case({1, 150, 200, 301}, 0, 1, false);
  check_case({1, 200, 40, 150}, 1, 0, false);
  set_num_threads(saved);
}

// The general-stride packing rounds in software; it must agree bit for bit with the vector paths
// (same kernel, same summation order, so the whole product is identical).
TEST_P(Bf16Gemm, GeneralStridesMatchContiguousBitForBit) {
  Generator g(3);
  for (int64_t k : {1, 2, 33, 300}) {
    Tensor a = operand(1, 30, k, 2, g), b = operand(1, k, 45, 2, g);
    Tensor o1 = Tensor::empty({1, 30, 45}), o2 = Tensor::empty({1, 30, 45});
    backend_for(Device::cpu()).gemm(a, b, o1, false);
    backend_for(Device::cpu()).gemm(a.contiguous(), b.contiguous(), o2, false);
    EXPECT_EQ(o1.to_vector<float>(), o2.to_vector<float>()) << "k=" << k;
  }
}

TEST_P(Bf16Gemm, F64IsNotRounded) {
  Tensor a = Tensor::full({1, 1, 1}, 1.0 + 1.0 / 1024, {.dtype = DType::f64}), out = Tensor::empty({1, 1, 1}, {.dtype = DType::f64});
  backend_for(Device::cpu()).gemm(a, a, out, false);
  EXPECT_EQ(out.to_vector<double>()[0], (1.0 + 1.0 / 1024) * (1.0 + 1.0 / 1024));
}

INSTANTIATE_TEST_SUITE_P(Cpu, Bf16Gemm, ::testing::Values(Path::avx512_bf16, Path::portable_avx2, Path::portable),
                         [](const auto& info) {
                           return info.param == Path::portable      ? "portable"
                                  : info.param == Path::portable_avx2 ? "portable_avx2"
                                                                      : "avx512_bf16";
                         });

// A Linear layer's forward and backward (forward NT, grad_x NN, grad_w TN) under bf16: each output
// is within the bf16 bound of f32's (operands off by 2^-9 relative each, so a product by ~2^-8, plus
// f32 sums): |bf16 - f32| <= 2^-7 * (|x| @ |w|^T) with room for the sums. Going back to highest
// gives exactly the first f32 results.
TEST(MatmulPrecision, LinearForwardBackwardStaysWithinBf16Error) {
  Generator g(11);
  const Tensor x0 = Tensor::randn({16, 37}, {}, &g), w0 = Tensor::randn({23, 37}, {}, &g), b0 = Tensor::randn({23}, {}, &g);
  const Tensor gy = Tensor::randn({16, 23}, {}, &g);
  auto run = [&] {
    Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    Tensor y = linear(x, w, b0);
    sum(y * gy).backward();
    return std::vector<Tensor>{y.detach(), x.grad(), w.grad()};
  };
  ASSERT_EQ(matmul_precision(), MatmulPrecision::highest);
  const auto f32 = run();
  std::vector<Tensor> bf;
  {
    MatmulPrecisionGuard guard(MatmulPrecision::bf16);
    bf = run();
  }
  const auto again = run();
  // Magnitude bounds for each GEMM: |x| @ |w|^T, |gy| @ |w|, |gy|^T @ |x|.
  NoGradGuard ng;
  const Tensor mags[] = {matmul(abs(x0), abs(w0).transpose(0, 1)), matmul(abs(gy), abs(w0)),
                         matmul(abs(gy).transpose(0, 1), abs(x0))};
  for (int t = 0; t < 3; ++t) {
    auto a = bf[size_t(t)].to_vector<float>(), r = f32[size_t(t)].to_vector<float>(), m = mags[t].to_vector<float>();
    double max_rel = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_LE(std::abs(double(a[i]) - r[i]), std::ldexp(1.0, -7) * m[i] + 1e-6) << "output " << t << " at " << i;
      max_rel = std::max(max_rel, std::abs(double(a[i]) - r[i]) / m[i]);
    }
    EXPECT_GT(max_rel, 0.0) << "output " << t << " was not computed in bf16";
    EXPECT_EQ(again[size_t(t)].to_vector<float>(), r) << "output " << t << " not exact after switching back";
  }
}

// Convolution reaches the same GEMM (im2col): the bf16 output is within 2^-7 * conv(|x|, |w|) of f32.
TEST(MatmulPrecision, Conv2dUsesBf16Too) {
  Generator g(12);
  const Tensor x = Tensor::randn({2, 3, 9, 9}, {}, &g), w = Tensor::randn({5, 3, 3, 3}, {}, &g);
  const Conv2dOptions opts{.pad_h = 1, .pad_w = 1};
  const Tensor f32 = conv2d(x, w, {}, opts), mag = conv2d(abs(x), abs(w), {}, opts);
  Tensor bf;
  {
    MatmulPrecisionGuard guard(MatmulPrecision::bf16);
    bf = conv2d(x, w, {}, opts);
  }
  auto a = bf.to_vector<float>(), r = f32.to_vector<float>(), m = mag.to_vector<float>();
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_LE(std::abs(double(a[i]) - r[i]), std::ldexp(1.0, -7) * m[i] + 1e-6) << "at " << i;
    differs = differs || a[i] != r[i];
  }
  EXPECT_TRUE(differs) << "conv2d was not computed in bf16";
}

TEST(MatmulPrecision, NamesParseAndRejectOthers) {
  EXPECT_EQ(parse_matmul_precision("bf16"), MatmulPrecision::bf16);
  EXPECT_EQ(parse_matmul_precision("highest"), MatmulPrecision::highest);
  EXPECT_EQ(matmul_precision_name(MatmulPrecision::bf16), "bf16");
  EXPECT_THROW(parse_matmul_precision("medium"), Error);
}

}  // namespace
}  // namespace ember
