// Tests for rope_tables, rotary_embedding and scaled_dot_product_attention: spot values computed
// in python3 (f64), a naive loop reference for attention, GQA vs explicitly repeated K/V (forward
// and gradients), causal/masked cases, gradcheck, f32 vs f64 and the validation errors.
#include <cmath>
#include <limits>

#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::i64}); }
Tensor u8(const std::vector<uint8_t>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::u8}); }

// ---- rope ------------------------------------------------------------------------------------
TEST(RopeTables, SpotValues) {
  // python3: inv=[1e4**(-2*i/8) for i in range(4)]; cos/sin(p*inv[i]) for p in (3, 4), halves repeated.
  auto [c, s] = rope_tables(3, 2, 8, 10000.0, {.dtype = DType::f64});
  EXPECT_EQ(c.shape(), Shape({2, 8}));
  const std::vector<double> c3 = {-0.9899924966004454, 0.955336489125606, 0.9995500337489875, 0.999995500003375};
  const std::vector<double> c4 = {-0.6536436208636119, 0.9210609940028851, 0.9992001066609779, 0.9999920000106667};
  const std::vector<double> s3 = {0.1411200080598672, 0.2955202066613396, 0.02999550020249566, 0.002999995500002025};
  const std::vector<double> s4 = {-0.7568024953079282, 0.3894183423086505, 0.03998933418663416, 0.003999989333341867};
  std::vector<double> want_c, want_s;
  for (const auto* half : {&c3, &c3, &c4, &c4}) want_c.insert(want_c.end(), half->begin(), half->end());
  for (const auto* half : {&s3, &s3, &s4, &s4}) want_s.insert(want_s.end(), half->begin(), half->end());
  EXPECT_TRUE(all_close(c, want_c, 1e-14, 1e-15));
  EXPECT_TRUE(all_close(s, want_s, 1e-14, 1e-15));
}

TEST(RopeTables, PositionZeroAndF32) {
  auto [c, s] = rope_tables(0, 5, 32);  // default f32, base 1e4
  EXPECT_EQ(c.dtype(), DType::f32);
  EXPECT_TRUE(all_close(narrow(c, 0, 0, 1), std::vector<double>(32, 1.0), 0, 0));
  EXPECT_TRUE(all_close(narrow(s, 0, 0, 1), std::vector<double>(32, 0.0), 0, 0));
  auto [c64, s64] = rope_tables(0, 5, 32, 10000.0, {.dtype = DType::f64});
  EXPECT_TRUE(all_close(c, c64, 1e-7, 1e-7));
  EXPECT_TRUE(all_close(s, s64, 1e-7, 1e-7));
  EXPECT_TRUE(throws_with([] { rope_tables(0, 4, 7); }, {"rope_tables", "even", "7"}));
}

TEST(Rotary, SpotValues) {
  // python3: x = 0.1*i - 0.7 (i < 16) as [1,1,2,8]; x*cos + rotate_half(x)*sin with the tables above.
  Tensor x = (Tensor::arange(0, 16, 1, {.dtype = DType::f64}) * 0.1 - 0.7).reshape({1, 1, 2, 8});
  auto [c, s] = rope_tables(3, 2, 8, 10000.0, {.dtype = DType::f64});
  EXPECT_TRUE(all_close(rotary_embedding(x, c, s),
                        {0.735330750038272, -0.5140978521430957, -0.4967754668542442, -0.3999982000013499,
                         0.1982137433382265, -0.36837942182192496, -0.11495275347614646, -0.0011999982000006988,
                         0.313036885567603, -0.049438806584613276, 0.2717674980676495, 0.3967968085375933,
                         -0.402502059962599, 0.6305202648634612, 0.711436874918675, 0.8015935957418702},
                        1e-12, 1e-14));
}

TEST(Rotary, PreservesPairNorms) {
  // Each pair (x_i, x_{i+D/2}) is rotated by theta_i, so |y| == |x| per row.
  Tensor x = rand64({2, 3, 5, 6}, 1).detach();
  auto [c, s] = rope_tables(7, 5, 6, 100.0, {.dtype = DType::f64});
  Tensor y = rotary_embedding(x, c, s);
  EXPECT_TRUE(all_close(square(y).sum({-1}), square(x).sum({-1}), 1e-12, 1e-12));
}

TEST(Rotary, GradcheckAndF32) {
  Tensor x = rand64({2, 3, 4, 6}, 2), c = rand64({4, 6}, 3), s = rand64({4, 6}, 4);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return rotary_embedding(in[0], in[1], in[2]); }, {x, c, s}));
  Tensor y64 = rotary_embedding(x.detach(), c.detach(), s.detach());
  Tensor y32 = rotary_embedding(x.detach().to(DType::f32), c.detach().to(DType::f32), s.detach().to(DType::f32));
  EXPECT_TRUE(all_close(y32, y64, 1e-5, 1e-6));
}

TEST(Rotary, Errors) {
  auto tables = rope_tables(0, 4, 6, 10000.0, {.dtype = DType::f64});
  const Tensor c = tables.first, s = tables.second;  // not a structured binding: clang 14 cannot capture one
  EXPECT_TRUE(throws_with([&] { rotary_embedding(rand64({1, 2, 4, 5}, 5), c, s); }, {"rotary_embedding", "even"}));
  EXPECT_TRUE(throws_with(
      [&] {
        rotary_embedding(rand64({1, 2, 3, 6}, 6), c, s);
      },
      {"rotary_embedding", "[3,6]", "[1,2,3,6]", "[4,6]"}));
  EXPECT_TRUE(throws_with([&] { rotary_embedding(rand64({2, 4, 6}, 7), c, s); }, {"rotary_embedding", "[2,4,6]"}));
}

// ---- scaled_dot_product_attention -------------------------------------------------------------
// Naive f64 reference: loops over (b, h, t), query head h reads kv head h / (H/Hkv).
Tensor sdpa_ref(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, const Tensor& mask, double scale) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2), Dv = v.size(3), G = H / Hkv;
  auto Q = q.to_vector<double>(), K = k.to_vector<double>(), V = v.to_vector<double>();
  std::vector<uint8_t> M = mask.defined() ? mask.to_vector<uint8_t>() : std::vector<uint8_t>(T * S, 1);
  std::vector<double> out(B * H * T * Dv, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t kh = h / G;
        std::vector<double> w(S, -std::numeric_limits<double>::infinity());
        double mx = -std::numeric_limits<double>::infinity(), z = 0;
        for (int64_t s = 0; s < S; ++s) {
          if (!M[t * S + s] || (causal && s > t + (S - T))) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += Q[((b * H + h) * T + t) * D + d] * K[((b * Hkv + kh) * S + s) * D + d];
          w[s] = dot * scale;
          mx = std::max(mx, w[s]);
        }
        for (int64_t s = 0; s < S; ++s) z += (w[s] = std::exp(w[s] - mx));
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < Dv; ++d)
            out[((b * H + h) * T + t) * Dv + d] += w[s] / z * V[((b * Hkv + kh) * S + s) * Dv + d];
      }
  return Tensor::from_vector(out, {B, H, T, Dv}, {.dtype = DType::f64});
}

struct Case {
  int64_t b, h, hkv, t, s, d;
  bool causal;
};

TEST(Sdpa, MatchesNaiveReference) {
  const Case cases[] = {{1, 2, 2, 3, 3, 4, false},
                        {2, 4, 2, 5, 7, 3, true},
                        {1, 4, 1, 1, 6, 8, true},
                        {2, 6, 3, 4, 4, 5, true},
                        {1, 3, 3, 7, 2, 1, false}};
  uint64_t seed = 10;
  for (const Case& c : cases) {
    Tensor q = rand64({c.b, c.h, c.t, c.d}, seed++).detach(), k = rand64({c.b, c.hkv, c.s, c.d}, seed++).detach();
    Tensor v = rand64({c.b, c.hkv, c.s, c.d + 1}, seed++).detach();  // Dv may differ from D
    Tensor got = scaled_dot_product_attention(q, k, v, c.causal);
    EXPECT_TRUE(all_close(got, sdpa_ref(q, k, v, c.causal, {}, 1.0 / std::sqrt(double(c.d))), 1e-12, 1e-13))
        << "H " << c.h << " Hkv " << c.hkv << " T " << c.t << " S " << c.s << " causal " << c.causal;
  }
}

TEST(Sdpa, ExplicitMaskAndScale) {
  Tensor q = rand64({2, 4, 3, 4}, 20).detach(), k = rand64({2, 2, 5, 4}, 21).detach();
  Tensor v = rand64({2, 2, 5, 4}, 22).detach();
  Tensor mask = u8({1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1}, {3, 5});
  EXPECT_TRUE(all_close(scaled_dot_product_attention(q, k, v, false, mask, 0.7), sdpa_ref(q, k, v, false, mask, 0.7),
                        1e-12, 1e-13));
  // mask and causal together: both restrictions apply (S - T = 2 -> query 0 sees keys 0..2).
  EXPECT_TRUE(
      all_close(scaled_dot_product_attention(q, k, v, true, mask), sdpa_ref(q, k, v, true, mask, 0.5), 1e-12, 1e-13));
}

TEST(Sdpa, CausalFirstRowIsFirstValue) {
  // With T == S, query 0 may only attend to key 0, so its output is exactly v's row 0 (of its kv head).
  Tensor q = rand64({2, 4, 5, 3}, 30).detach(), k = rand64({2, 2, 5, 3}, 31).detach();
  Tensor v = rand64({2, 2, 5, 3}, 32).detach();
  Tensor y = scaled_dot_product_attention(q, k, v, true);
  for (int64_t h = 0; h < 4; ++h)
    EXPECT_TRUE(all_close(select(select(y, 1, h), 1, 0), select(select(v, 1, h / 2), 1, 0), 1e-14, 1e-15)) << h;
}

TEST(Sdpa, GqaEqualsRepeatedKv) {
  // Repeat each kv head G times (index_select on the head dim) and run as plain multi-head.
  for (auto [h, hkv] : {std::pair<int64_t, int64_t>{4, 2}, {4, 1}}) {
    Tensor q = rand64({2, h, 3, 4}, 40), k = rand64({2, hkv, 5, 4}, 41), v = rand64({2, hkv, 5, 4}, 42);
    std::vector<int64_t> rep;
    for (int64_t i = 0; i < h; ++i) rep.push_back(i / (h / hkv));
    Tensor idx = i64(rep, {h});
    Tensor g = rand64({2, h, 3, 4}, 43).detach();
    for (bool causal : {false, true}) {
      std::vector<Tensor> grads[2];
      Tensor out[2];
      for (int variant = 0; variant < 2; ++variant) {
        q.zero_grad(), k.zero_grad(), v.zero_grad();
        out[variant] = variant == 0
                           ? scaled_dot_product_attention(q, k, v, causal)
                           : scaled_dot_product_attention(q, index_select(k, 1, idx), index_select(v, 1, idx), causal);
        (out[variant] * g).sum().backward();
        grads[variant] = {q.grad(), k.grad(), v.grad()};
      }
      EXPECT_TRUE(all_close(out[0], out[1], 1e-12, 1e-13)) << h << "/" << hkv;
      for (int i = 0; i < 3; ++i) EXPECT_TRUE(all_close(grads[0][i], grads[1][i], 1e-12, 1e-13)) << i;
    }
  }
}

TEST(Sdpa, Gradcheck) {
  auto fn = [](bool causal, const Tensor& mask) {
    return [causal, mask](const std::vector<Tensor>& in) {
      return scaled_dot_product_attention(in[0], in[1], in[2], causal, mask);
    };
  };
  // plain MHA, no mask
  EXPECT_TRUE(grad_ok(fn(false, {}), {rand64({1, 2, 3, 4}, 50), rand64({1, 2, 3, 4}, 51), rand64({1, 2, 3, 4}, 52)}));
  // causal
  EXPECT_TRUE(grad_ok(fn(true, {}), {rand64({2, 2, 4, 3}, 53), rand64({2, 2, 4, 3}, 54), rand64({2, 2, 4, 3}, 55)}));
  // GQA H=4, Hkv=2, T != S, causal
  EXPECT_TRUE(grad_ok(fn(true, {}), {rand64({1, 4, 3, 4}, 56), rand64({1, 2, 5, 4}, 57), rand64({1, 2, 5, 4}, 58)}));
  // GQA H=4, Hkv=1, T != S
  EXPECT_TRUE(grad_ok(fn(false, {}), {rand64({1, 4, 2, 3}, 59), rand64({1, 1, 5, 3}, 60), rand64({1, 1, 5, 3}, 61)}));
  // explicit mask
  Tensor mask = u8({1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {3, 4});
  EXPECT_TRUE(grad_ok(fn(false, mask), {rand64({1, 2, 3, 4}, 62), rand64({1, 2, 4, 4}, 63), rand64({1, 2, 4, 4}, 64)}));
}

TEST(Sdpa, F32MatchesF64) {
  Tensor q = rand64({2, 8, 16, 32}, 70).detach(), k = rand64({2, 2, 16, 32}, 71).detach();
  Tensor v = rand64({2, 2, 16, 32}, 72).detach();
  Tensor y64 = scaled_dot_product_attention(q, k, v, true);
  Tensor y32 = scaled_dot_product_attention(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32), true);
  EXPECT_TRUE(all_close(y32, y64, 1e-4, 1e-5));
}

TEST(Sdpa, Errors) {
  const char* op = "scaled_dot_product_attention";
  Tensor q = rand64({2, 8, 16, 32}, 80), k = rand64({2, 3, 16, 32}, 81), v = rand64({2, 3, 16, 32}, 82);
  EXPECT_TRUE(
      throws_with([&] { scaled_dot_product_attention(q, k, v); },
                  {op, "8 query heads are not divisible by 3 key/value heads", "q [2,8,16,32], k [2,3,16,32]"}));
  Tensor k2 = rand64({2, 2, 16, 31}, 83), v2 = rand64({2, 2, 16, 32}, 84);
  EXPECT_TRUE(throws_with([&] { scaled_dot_product_attention(q, k2, v2); }, {op, "head dims", "[2,2,16,31]"}));
  Tensor k3 = rand64({2, 2, 16, 32}, 85), v3 = rand64({2, 2, 15, 32}, 86);
  EXPECT_TRUE(throws_with([&] { scaled_dot_product_attention(q, k3, v3); }, {op, "[2,2,15,32]"}));
  Tensor k4 = rand64({1, 2, 16, 32}, 87);
  EXPECT_TRUE(throws_with([&] { scaled_dot_product_attention(q, k4, k4); }, {op, "batch", "[1,2,16,32]"}));
  Tensor mask_bad_shape = Tensor::ones({16, 15}, {.dtype = DType::u8});
  EXPECT_TRUE(throws_with([&] { scaled_dot_product_attention(q, k3, k3, false, mask_bad_shape); },
                          {op, "mask", "[16,15]", "[16,16]"}));
  Tensor mask_f = Tensor::ones({16, 16}, {.dtype = DType::f64});
  EXPECT_TRUE(throws_with([&] { scaled_dot_product_attention(q, k3, k3, false, mask_f); }, {op, "u8", "f64"}));
  EXPECT_TRUE(throws_with([&] { scaled_dot_product_attention(rand64({8, 16, 32}, 88), k3, k3); }, {op, "4-D"}));
}

}  // namespace
}  // namespace ember
