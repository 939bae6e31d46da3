// Philox4x32-10 against the Random123 known-answer vectors, and the unit-interval conversions.
#include <gtest/gtest.h>

#include "tensor/generator.h"

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

}  // namespace
}  // namespace ember
