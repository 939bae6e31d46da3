// The SIMD max pool planes (2x2, stride 2, no padding; tensor/cpu/pool_avx{2,512}.cpp) against
// the generic loop in pool.cpp (run with the ISA forced to scalar): bitwise-equal values and
// indices on awkward plane sizes (odd H/W, row tails of every length, a plane of 1 output), with
// ties, NaN and infinities; the backward writes every input pixel and nothing outside grad_in;
// indices from another geometry fall back to the generic scatter. The stride-1 pools (max and avg,
// any window and padding; the DARTS search's 3x3 pools) likewise, forward and backward, with the
// edge columns on the generic loop and the rest in 8-wide runs with masked tails.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "tensor/backend.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using test::Guarded;
using test::IsaScope;
using test::same_bits;

// Small integers (many ties inside a window), with NaN, +inf and -inf sprinkled in.
Tensor tie_heavy(const Shape& s, uint64_t seed) {
  Generator g(seed);
  std::vector<float> v = Tensor::randint(-2, 3, s, {.dtype = DType::i64}, &g).to_vector<float>();
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 37 == 5) v[i] = std::numeric_limits<float>::quiet_NaN();
    if (i % 41 == 7) v[i] = -inf;
    if (i % 43 == 11) v[i] = inf;
    if (i % 53 == 3) v[i + 1 < v.size() ? i + 1 : i] = std::numeric_limits<float>::quiet_NaN();  // two NaNs in a row
  }
  // a window made only of -inf: the index stays at the window's first pixel (planes of 2x2 and up)
  if (s[2] >= 2 && s[3] >= 2)
    for (int64_t k = 0; k < 2; ++k) v[size_t(k)] = v[size_t(s[3] + k)] = -inf;
  return Tensor::from_vector(v, s);
}

struct PoolOut {
  Tensor y, idx, gx;
};

PoolOut run_pool(const Tensor& x, const Pool2dGeom& geo, const Tensor& gy_in, cpu::Isa isa) {
  IsaScope scope(isa);
  const Shape os{x.size(0), x.size(1), geo.out_h(x.size(2)), geo.out_w(x.size(3))};
  Guarded y(os, DType::f32, 99), gx(x.shape(), DType::f32, 77);
  Guarded idx(os, DType::i64, -5);
  Backend& be = backend_for(Device::cpu());
  be.max_pool2d_fwd(x, geo, y.view, idx.view);
  EXPECT_TRUE(y.guards_intact(99) && idx.guards_intact(-5)) << "forward wrote outside its output";
  be.max_pool2d_bwd(gy_in.defined() ? gy_in : y.view, idx.view, gx.view);
  EXPECT_TRUE(gx.guards_intact(77)) << "backward wrote outside grad_in";
  return {y.view.clone(), idx.view.clone(), gx.view.clone()};
}

TEST(CpuMaxPool, SimdMatchesGeneric) {
  const Shape shapes[] = {{1, 1, 2, 2},  {2, 3, 28, 28}, {1, 4, 14, 14}, {1, 1, 5, 7},   {1, 2, 3, 67},
                          {1, 1, 2, 33}, {1, 1, 9, 64},  {1, 1, 4, 18},  {2, 1, 31, 17}, {1, 1, 7, 2},
                          {1, 2, 6, 16},  {1, 1, 3, 35}, {1, 1, 4, 49}};
  const Pool2dGeom geo;  // defaults: 2x2, stride 2, no padding
  uint64_t seed = 1;
  for (const Shape& s : shapes) {
    const Tensor x = tie_heavy(s, seed++);
    Generator gen(seed);
    const Shape os{s[0], s[1], geo.out_h(s[2]), geo.out_w(s[3])};
    const Tensor gy = Tensor::randn(os, {}, &gen) * Tensor::randint(0, 2, os, {}, &gen) * -1.0;  // -0.0 too
    const PoolOut ref = run_pool(x, geo, gy, cpu::Isa::scalar);
    for (cpu::Isa isa : test::cpu_isas()) {
      SCOPED_TRACE(shape_str(s) + " isa " + std::string(cpu::isa_name(isa)));
      const PoolOut got = run_pool(x, geo, gy, isa);
      EXPECT_TRUE(same_bits(got.y, ref.y));
      EXPECT_EQ(got.idx.to_vector<int64_t>(), ref.idx.to_vector<int64_t>());
      EXPECT_TRUE(same_bits(got.gx, ref.gx));
    }
  }
}

// Indices whose output shape looks like a 2x2/2 pool but come from a 3x3 / stride 2 / pad 1 pool
// (they leave their 2x2 block): the backward must notice and scatter generically.
TEST(CpuMaxPool, BackwardWithForeignIndicesFallsBack) {
  Generator gen(9);
  const Tensor x = Tensor::randn({2, 3, 8, 42}, {}, &gen);
  const Pool2dGeom geo{.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
  ASSERT_EQ(geo.out_h(8), 4);
  ASSERT_EQ(geo.out_w(42), 21);
  const Tensor gy = Tensor::randn({2, 3, 4, 21}, {}, &gen);
  const PoolOut ref = run_pool(x, geo, gy, cpu::Isa::scalar);
  for (cpu::Isa isa : test::cpu_isas()) {
    SCOPED_TRACE(std::string(cpu::isa_name(isa)));
    EXPECT_TRUE(same_bits(run_pool(x, geo, gy, isa).gx, ref.gx));
  }
}

const Pool2dGeom kStride1[] = {{.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
                               {.kh = 5, .kw = 5, .sh = 1, .sw = 1, .ph = 2, .pw = 2},
                               {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 0, .pw = 0},
                               {.kh = 2, .kw = 2, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
                               {.kh = 3, .kw = 5, .sh = 1, .sw = 1, .ph = 1, .pw = 2}};
const Shape kStride1Shapes[] = {{1, 1, 1, 1}, {2, 3, 28, 28}, {1, 2, 7, 9}, {1, 1, 5, 17}, {1, 1, 3, 33}, {1, 1, 14, 2},
                                {2, 1, 6, 12}};

TEST(CpuMaxPool, Stride1SimdMatchesGeneric) {
  uint64_t seed = 100;
  for (const Pool2dGeom& geo : kStride1)
    for (const Shape& s : kStride1Shapes) {
      if (geo.out_h(s[2]) < 1 || geo.out_w(s[3]) < 1) continue;
      const Tensor x = tie_heavy(s, seed++);
      Generator gen(seed);
      const Shape os{s[0], s[1], geo.out_h(s[2]), geo.out_w(s[3])};
      const Tensor gy = Tensor::randn(os, {}, &gen);
      const PoolOut ref = run_pool(x, geo, gy, cpu::Isa::scalar);
      for (cpu::Isa isa : test::cpu_isas()) {
        SCOPED_TRACE(shape_str(s) + " k " + std::to_string(geo.kh) + "x" + std::to_string(geo.kw) + " pad " +
                     std::to_string(geo.ph) + " isa " + std::string(cpu::isa_name(isa)));
        const PoolOut got = run_pool(x, geo, gy, isa);
        EXPECT_TRUE(same_bits(got.y, ref.y));
        EXPECT_EQ(got.idx.to_vector<int64_t>(), ref.idx.to_vector<int64_t>());
        EXPECT_TRUE(same_bits(got.gx, ref.gx));
      }
    }
}

struct AvgOut {
  Tensor y, gx;
};

AvgOut run_avg(const Tensor& x, const Pool2dGeom& geo, const Tensor& gy, cpu::Isa isa) {
  IsaScope scope(isa);
  const Shape os{x.size(0), x.size(1), geo.out_h(x.size(2)), geo.out_w(x.size(3))};
  Guarded y(os, DType::f32, 99), gx(x.shape(), DType::f32, 77);
  Backend& be = backend_for(Device::cpu());
  be.avg_pool2d_fwd(x, geo, y.view);
  EXPECT_TRUE(y.guards_intact(99)) << "forward wrote outside its output";
  be.avg_pool2d_bwd(gy, geo, gx.view);
  EXPECT_TRUE(gx.guards_intact(77)) << "backward wrote outside grad_in";
  return {y.view.clone(), gx.view.clone()};
}

// Sums in the generic loops' order: the SIMD rows must agree bit for bit (with and without the
// padding counted in the divisor; -0.0 gradients included).
TEST(CpuAvgPool, Stride1SimdMatchesGeneric) {
  uint64_t seed = 300;
  for (bool include_pad : {true, false})
    for (Pool2dGeom geo : kStride1)
      for (const Shape& s : kStride1Shapes) {
        geo.count_include_pad = include_pad;
        if (geo.out_h(s[2]) < 1 || geo.out_w(s[3]) < 1) continue;
        Generator gen(seed++);
        const Tensor x = Tensor::randn(s, {}, &gen);
        const Shape os{s[0], s[1], geo.out_h(s[2]), geo.out_w(s[3])};
        const Tensor gy = Tensor::randn(os, {}, &gen) * Tensor::randint(0, 2, os, {}, &gen) * -1.0;
        const AvgOut ref = run_avg(x, geo, gy, cpu::Isa::scalar);
        for (cpu::Isa isa : test::cpu_isas()) {
          SCOPED_TRACE(shape_str(s) + " k " + std::to_string(geo.kh) + "x" + std::to_string(geo.kw) + " pad " +
                       std::to_string(geo.ph) + (include_pad ? " incl" : " excl") + " isa " +
                       std::string(cpu::isa_name(isa)));
          const AvgOut got = run_avg(x, geo, gy, isa);
          EXPECT_TRUE(same_bits(got.y, ref.y));
          EXPECT_TRUE(same_bits(got.gx, ref.gx));
        }
      }
}

}  // namespace
}  // namespace ember
