// Winograd F(2x2,3x3) and F(4x4,3x3) (tensor/cpu/winograd.h) on every ISA path against a direct
// double-precision 3x3 convolution: odd plane sizes (partial tiles), partial output-channel blocks,
// bias / residual / ReLU, a garbage input border (patches must read zeros outside the image),
// sentinels around the output. The error is bounded relative to sum |w| |x| (+ |bias| +
// |residual|) of each output: 1e-5 for F(2x2) (measured about 1e-7), 2e-5 for F(4x4) (measured
// about 1e-6; both printed).
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "tensor/cpu/winograd.h"
#include "tensor/parallel.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember::cpu {
namespace {

constexpr float kSentinel = -777.0f;

struct Case {
  int64_t n, h, w, cin, cout, x_pad, y_pad;
  bool bias, residual, relu;
};

double check_case(const Case& t, Isa isa, int tile) {
  const WinogradTile td = winograd_tile_dims(tile);
  SCOPED_TRACE(testing::Message() << "isa " << isa_name(isa) << " F(" << td.h << "x" << td.w << ") n" << t.n << " "
                                  << t.h << "x" << t.w << " cin " << t.cin << " cout " << t.cout);
  const double bound = tile == kWinograd6x4 ? 3e-5 : tile == 4 ? 2e-5 : 1e-5;
  std::mt19937 rng(unsigned(t.h * 1000 + t.w * 31 + t.cout));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t xh = t.h + 2 * t.x_pad, xw = t.w + 2 * t.x_pad, yh = t.h + 2 * t.y_pad, yw = t.w + 2 * t.y_pad;
  std::vector<float> x(size_t(t.n * xh * xw * t.cin)), w(size_t(t.cout * t.cin * 9)), bias(size_t(t.cout));
  std::vector<float> res(size_t(t.n * yh * yw * t.cout));
  for (auto* v : {&x, &w, &bias, &res})
    for (float& e : *v) e = u(rng);
  auto inside = [](int64_t r, int64_t q, int64_t h, int64_t wd) { return r >= 0 && r < h && q >= 0 && q < wd; };
  // The input's border holds garbage (1e3): a correct kernel never reads it.
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t r = 0; r < xh; ++r)
      for (int64_t q = 0; q < xw; ++q)
        if (!inside(r - t.x_pad, q - t.x_pad, t.h, t.w))
          for (int64_t c = 0; c < t.cin; ++c) x[size_t(((i * xh + r) * xw + q) * t.cin + c)] = 1e3f;

  std::vector<float> uw(size_t(winograd_weights_size(t.cout, t.cin, tile)));
  winograd_transform_weights(w.data(), t.cout, t.cin, tile, uw.data());
  const int64_t guard = 24, ysize = t.n * yh * yw * t.cout;
  std::vector<float> ybuf(size_t(ysize + 2 * guard), kSentinel);
  float* y = ybuf.data() + guard;
  {
    test::IsaScope scope(isa);
    conv_winograd({.n = t.n, .h = t.h, .w = t.w, .cin = t.cin, .cout = t.cout, .k = 3, .x = x.data(),
                   .x_pad = t.x_pad, .packed_w = uw.data(), .bias = t.bias ? bias.data() : nullptr,
                   .residual = t.residual ? res.data() : nullptr, .relu = t.relu, .y = y, .y_pad = t.y_pad},
                  tile);
  }
  for (int64_t g = 0; g < guard; ++g) {
    EXPECT_EQ(ybuf[size_t(g)], kSentinel);
    EXPECT_EQ(ybuf[size_t(guard + ysize + g)], kSentinel);
  }
  double worst = 0;
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t r = 0; r < yh; ++r)
      for (int64_t q = 0; q < yw; ++q)
        for (int64_t o = 0; o < t.cout; ++o) {
          const int64_t at = ((i * yh + r) * yw + q) * t.cout + o;
          const int64_t oh = r - t.y_pad, ow = q - t.y_pad;
          if (!inside(oh, ow, t.h, t.w)) {
            EXPECT_EQ(y[at], kSentinel) << "border written";
            continue;
          }
          double s = t.bias ? bias[size_t(o)] : 0.0, mag = std::fabs(s);
          for (int64_t c = 0; c < t.cin; ++c)
            for (int64_t a = 0; a < 3; ++a)
              for (int64_t b = 0; b < 3; ++b) {
                if (!inside(oh + a - 1, ow + b - 1, t.h, t.w)) continue;
                const double xv = x[size_t(((i * xh + oh + a - 1 + t.x_pad) * xw + ow + b - 1 + t.x_pad) * t.cin + c)];
                const double wv = w[size_t(((o * t.cin + c) * 3 + a) * 3 + b)];
                s += xv * wv;
                mag += std::fabs(xv * wv);
              }
          if (t.residual) {
            s += res[size_t(at)];
            mag += std::fabs(res[size_t(at)]);
          }
          if (t.relu) s = std::max(s, 0.0);
          const double err = std::fabs(y[at] - s) / std::max(mag, 1e-30);
          worst = std::max(worst, err);
          if (err > bound) {
            ADD_FAILURE() << "img " << i << " o " << o << " at " << oh << "," << ow << " got " << y[at] << " want " << s;
            return worst;
          }
        }
  return worst;
}

TEST(CpuWinograd, MatchesTheDirectConvolutionWithinTheBoundOnEveryIsaPath) {
  const std::vector<Case> cases = {
      {1, 6, 7, 64, 64, 1, 1, true, true, true},   // W6 residual conv, batch 1 (odd width: half tiles)
      {2, 5, 3, 7, 19, 1, 0, true, false, false},  // odd everything, a partial channel block
      {1, 1, 1, 3, 5, 2, 2, false, true, true},    // one pixel: every tap but the centre is outside
      {3, 8, 9, 16, 33, 1, 1, false, false, true}, // three blocks, the last with one channel
      {2, 13, 10, 20, 24, 1, 0, true, true, false}, // partial 4x4 tiles in both directions, wider channels
      {3, 12, 6, 32, 17, 0, 1, false, true, true},  // two 6-row tiles high, a partial channel block
  };
  for (int tile : {2, 4, kWinograd6x4}) {
    double worst = 0;
    for (Isa isa : test::cpu_isas())
      for (const Case& c : cases) worst = std::max(worst, check_case(c, isa, tile));
    const WinogradTile td = winograd_tile_dims(tile);
    std::printf("F(%dx%d,3x3): worst error relative to sum |w||x|: %.3g\n", td.h, td.w, worst);
  }
}

TEST(CpuWinograd, ThreadedLargeConvolutionGivesTheSameBound) {
  const int saved = get_num_threads();
  set_num_threads(2);
  for (int tile : {2, 4, kWinograd6x4})
    check_case({6, 6, 7, 64, 64, 1, 1, true, true, true}, best_isa() >= Isa::avx2 ? Isa::avx2 : Isa::scalar, tile);
  set_num_threads(saved);
}

TEST(CpuWinograd, RejectsNon3x3) {
  float dummy[16] = {};
  EXPECT_THROW(conv_winograd({.k = 5, .x = dummy, .x_pad = 2, .packed_w = dummy, .y = dummy}, 2), Error);
  EXPECT_THROW(conv_winograd({.n = 1, .h = 4, .w = 4, .cin = 1, .cout = 1, .k = 3, .x = dummy, .packed_w = dummy,
                              .y = dummy},
                             3),
               Error);
}

}  // namespace
}  // namespace ember::cpu
