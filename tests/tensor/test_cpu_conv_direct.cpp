// The direct small-plane convolution (tensor/cpu/conv_direct.h) on every ISA path against the
// plain reference (ref::im2col and a double-precision product): odd sizes, partial channel blocks
// and position tiles, bias / residual / ReLU, input padding wider than k/2, and sentinels in the
// output's border and past its end that must stay untouched.
#include <cmath>
#include <random>
#include <vector>

#include "tensor/cpu/conv_direct.h"
#include "tensor/cpu/ref/conv.h"
#include "tensor/parallel.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember::cpu {
namespace {

constexpr float kSentinel = 12345.0f;

struct Case {
  int64_t n, h, w, cin, cout, k, x_pad, y_pad;
  bool bias, residual, relu;
};

// NCHW x -> padded NHWC
std::vector<float> to_padded_nhwc(const std::vector<float>& x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t p,
                                  float border) {
  const int64_t hp = h + 2 * p, wp = w + 2 * p;
  std::vector<float> out(size_t(n * hp * wp * c), border);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          out[size_t(((i * hp + y + p) * wp + xx + p) * c + ch)] = x[size_t(((i * c + ch) * h + y) * w + xx)];
  return out;
}

void check_case(const Case& t, Isa isa) {
  SCOPED_TRACE(testing::Message() << "isa " << isa_name(isa) << " n" << t.n << " " << t.h << "x" << t.w << " cin "
                                  << t.cin << " cout " << t.cout << " k" << t.k << " xpad " << t.x_pad << " ypad "
                                  << t.y_pad << " bias " << t.bias << " res " << t.residual << " relu " << t.relu);
  std::mt19937 rng(unsigned(t.n * 131 + t.cin * 7 + t.cout));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto fill = [&](int64_t count) {
    std::vector<float> v(static_cast<size_t>(count));
    for (float& e : v) e = u(rng);
    return v;
  };
  const std::vector<float> x = fill(t.n * t.cin * t.h * t.w), w = fill(t.cout * t.cin * t.k * t.k);
  const std::vector<float> bias = fill(t.cout), res_nchw = fill(t.n * t.cout * t.h * t.w);

  // Reference: ref::im2col, then y[n][o][l] = sum_r w[o][r] * col[n][r][l] in double.
  const int64_t kk = t.cin * t.k * t.k, L = t.h * t.w;
  const Tensor xt = Tensor::from_vector(x, {t.n, t.cin, t.h, t.w});
  const Tensor col = Tensor::zeros({t.n, kk, L});
  ref::im2col(xt, {.n = t.n, .c = t.cin, .h = t.h, .w = t.w, .kh = t.k, .kw = t.k, .ph = t.k / 2, .pw = t.k / 2}, col);
  const std::vector<float> cv = col.to_vector<float>();
  std::vector<float> want(size_t(t.n * t.cout * L));
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t o = 0; o < t.cout; ++o)
      for (int64_t l = 0; l < L; ++l) {
        double s = t.bias ? bias[size_t(o)] : 0.0;
        for (int64_t r = 0; r < kk; ++r) s += double(w[size_t(o * kk + r)]) * cv[size_t((i * kk + r) * L + l)];
        if (t.residual) s += res_nchw[size_t((i * t.cout + o) * L + l)];
        want[size_t((i * t.cout + o) * L + l)] = float(t.relu ? std::max(s, 0.0) : s);
      }

  const std::vector<float> xp = to_padded_nhwc(x, t.n, t.cin, t.h, t.w, t.x_pad, 0.0f);
  const std::vector<float> res = to_padded_nhwc(res_nchw, t.n, t.cout, t.h, t.w, t.y_pad, 0.0f);
  std::vector<float> packed(size_t(packed_conv_weights_size(t.cout, t.cin, t.k)));
  pack_conv_weights(w.data(), t.cout, t.cin, t.k, packed.data());
  const int64_t guard = 24, yh = t.h + 2 * t.y_pad, yw = t.w + 2 * t.y_pad, ysize = t.n * yh * yw * t.cout;
  std::vector<float> ybuf(size_t(ysize + 2 * guard), kSentinel);
  float* y = ybuf.data() + guard;

  test::IsaScope scope(isa);
  conv_direct({.n = t.n, .h = t.h, .w = t.w, .cin = t.cin, .cout = t.cout, .k = t.k, .x = xp.data(),
               .x_pad = t.x_pad, .packed_w = packed.data(), .bias = t.bias ? bias.data() : nullptr,
               .residual = t.residual ? res.data() : nullptr, .relu = t.relu, .y = y, .y_pad = t.y_pad});

  for (int64_t g = 0; g < guard; ++g) {
    ASSERT_EQ(ybuf[size_t(g)], kSentinel) << "write before the output";
    ASSERT_EQ(ybuf[size_t(guard + ysize + g)], kSentinel) << "write past the output";
  }
  const float tol = 2e-5f * float(kk);
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t yy = 0; yy < yh; ++yy)
      for (int64_t xx = 0; xx < yw; ++xx)
        for (int64_t o = 0; o < t.cout; ++o) {
          const float got = y[((i * yh + yy) * yw + xx) * t.cout + o];
          const int64_t iy = yy - t.y_pad, ix = xx - t.y_pad;
          if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) {
            ASSERT_EQ(got, kSentinel) << "border written at " << yy << "," << xx;
            continue;
          }
          const float ref = want[size_t(((i * t.cout + o) * t.h + iy) * t.w + ix)];
          ASSERT_NEAR(got, ref, tol) << "img " << i << " o " << o << " at " << iy << "," << ix;
        }
}

TEST(CpuConvDirect, MatchesTheReferenceOnEveryIsaPath) {
  const std::vector<Case> cases = {
      {1, 6, 7, 3, 64, 3, 1, 1, false, false, true},   // W6 stem, batch 1
      {2, 6, 7, 64, 64, 3, 1, 1, true, true, true},    // W6 residual conv
      {3, 6, 7, 64, 2, 1, 1, 0, true, false, true},    // W6 policy head (1x1, partial block)
      {1, 5, 3, 7, 19, 3, 2, 2, true, false, false},   // odd everything, wide input padding
      {2, 1, 1, 5, 17, 5, 2, 1, false, true, false},   // 1x1 plane, 5x5 kernel (all taps but one in the border)
      {1, 7, 7, 9, 33, 3, 1, 0, true, true, true},     // 7x7 map, three blocks, the last with 1 channel
  };
  for (Isa isa : test::cpu_isas())
    for (const Case& c : cases) check_case(c, isa);
}

TEST(CpuConvDirect, LargeWorkSplitsAcrossThreadsWithTheSameResult) {
  const int saved = get_num_threads();
  set_num_threads(2);
  check_case({8, 6, 7, 64, 64, 3, 1, 1, true, true, true}, best_isa() >= Isa::avx2 ? Isa::avx2 : Isa::scalar);
  set_num_threads(saved);
}

TEST(CpuConvDirect, BadGeometryIsAOneLineError) {
  float dummy[64] = {};
  EXPECT_THROW(conv_direct({.k = 2, .x = dummy, .packed_w = dummy, .y = dummy}), Error);  // even kernel
  EXPECT_THROW(conv_direct({.k = 3, .x = dummy, .x_pad = 0, .packed_w = dummy, .y = dummy}), Error);
  EXPECT_THROW(conv_direct({.cin = 0, .x = dummy, .packed_w = dummy, .y = dummy}), Error);
}

}  // namespace
}  // namespace ember::cpu
