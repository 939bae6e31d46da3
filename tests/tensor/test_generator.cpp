// Philox4x32-10 against the Random123 known-answer vectors, the unit-interval conversions, and
// GeneratorScope (a thread's own default generator).
#include <gtest/gtest.h>

#include <thread>

#include "tensor/generator.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace ember {
namespace {

// Known-answer tests from Random123's kat_vectors (philox4x32, 10 rounds): counter words
// c0..c3, key words k0 k1 -> outputs. Our API packs (c0,c1) into ctr_lo, (c2,c3) into ctr_hi and
// (k0,k1) into key, low word first.
TEST(Philox, MatchesRandom123KnownAnswers) {
  auto r0 = philox4x32(0, 0, 0);
  EXPECT_EQ(r0, (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  auto r1 = philox4x32(~0ull, ~0ull, ~0ull);
  EXPECT_EQ(r1, (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  auto r2 = philox4x32((0x299f31d0ull << 32) | 0xa4093822ull, (0x85a308d3ull << 32) | 0x243f6a88ull,
                       (0x03707344ull << 32) | 0x13198a2eull);
  EXPECT_EQ(r2, (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, UnitConversionsStayInRange) {
  EXPECT_EQ(uint_to_unit_float(0), 0.0f);
  EXPECT_LT(uint_to_unit_float(0xffffffffu), 1.0f);
  EXPECT_EQ(uints_to_unit_double(0, 0), 0.0);
  EXPECT_LT(uints_to_unit_double(0xffffffffu, 0xffffffffu), 1.0);
}

TEST(Philox, GeneratorHandsOutDisjointRanges) {
  Generator g(5);
  EXPECT_EQ(g.take(10), 0u);
  EXPECT_EQ(g.take(3), 10u);
  g.manual_seed(6);
  EXPECT_EQ(g.take(1), 0u);
  EXPECT_EQ(g.seed(), 6u);
}

// CPU fills are element-wise functions of (seed, offset, index): element i of a uniform f32 fill
// is the (i % 4)-th word of counter block offset + i / 4, whatever the thread split (the fill
// computes each block once and shares it between its elements).
TEST(Philox, CpuFillsFollowTheCounterLayoutAtAnySplit) {
  const int saved_threads = get_num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{(1 << 17) + 3}}) {
      Generator g(42);
      g.take(5);  // a non-zero offset
      const auto u = Tensor::rand({n}, {}, &g).to_vector<float>();
      const auto d = Tensor::rand({n}, {.dtype = DType::f64}, &g).to_vector<double>();
      const auto k = Tensor::randint(0, 1000, {n}, {.dtype = DType::i64}, &g).to_vector<int64_t>();
      Generator h(42);
      h.take(5);
      const uint64_t ou = h.take((uint64_t(n) + 3) / 4 * 2), od = h.take((uint64_t(n) + 1) / 2 * 2),
                     ok = h.take((uint64_t(n) + 1) / 2 * 2);
      for (int64_t i = 0; i < n; i += (n > 100 ? 997 : 1)) {
        const auto i64 = uint64_t(i);
        ASSERT_EQ(u[size_t(i)], uint_to_unit_float(philox4x32(42, ou + i64 / 4)[i64 % 4])) << n << " " << i;
        const auto rd = philox4x32(42, od + i64 / 2);
        ASSERT_EQ(d[size_t(i)], uints_to_unit_double(rd[2 * (i64 % 2)], rd[2 * (i64 % 2) + 1])) << i;
        const auto rk = philox4x32(42, ok + i64 / 2);
        ASSERT_EQ(k[size_t(i)], int64_t(((uint64_t(rk[2 * (i64 % 2)]) << 32) | rk[2 * (i64 % 2) + 1]) % 1000)) << i;
      }
      // The last element (a partial block) too.
      ASSERT_EQ(u.back(), uint_to_unit_float(philox4x32(42, ou + uint64_t(n - 1) / 4)[uint64_t(n - 1) % 4]));
    }
  }
  set_num_threads(saved_threads);
}

}  // namespace

// Two threads drawing through their own scopes at the same time get exactly what each would get
// alone; the process-wide generator is untouched, and scopes nest.
TEST(GeneratorScope, ConcurrentThreadsDrawTheirOwnStreams) {
  auto draws = [](uint64_t seed) {
    Generator g(seed);
    GeneratorScope scope(g);
    std::vector<float> out;
    for (int i = 0; i < 200; ++i) {
      const auto v = Tensor::rand({7}).to_vector<float>();  // no generator passed: the scoped default
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  };
  const auto alone1 = draws(1), alone2 = draws(2);
  EXPECT_NE(alone1, alone2);
  manual_seed(99);
  const uint64_t offset = default_generator().offset();
  std::vector<float> par1, par2;
  std::thread a([&] { par1 = draws(1); }), b([&] { par2 = draws(2); });
  a.join();
  b.join();
  EXPECT_EQ(par1, alone1);
  EXPECT_EQ(par2, alone2);
  EXPECT_EQ(default_generator().seed(), 99u);
  EXPECT_EQ(default_generator().offset(), offset);
  Generator outer(5), inner(6);
  {
    GeneratorScope s1(outer);
    EXPECT_EQ(&default_generator(), &outer);
    {
      GeneratorScope s2(inner);
      EXPECT_EQ(&default_generator(), &inner);
      manual_seed(8);  // seeds the scoped generator
      EXPECT_EQ(inner.seed(), 8u);
    }
    EXPECT_EQ(&default_generator(), &outer);
  }
  EXPECT_EQ(default_generator().seed(), 99u);
}

}  // namespace ember
