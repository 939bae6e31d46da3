// Normalisation: layer_norm, rms_norm, group_norm, batch_norm. Values against NumPy, gradcheck
// for each option (affine or not, 2 normalised dims, groups 1 / C, train / eval), f32 vs f64,
// running-stat updates and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::f64}); }
using Ins = std::vector<Tensor>;

// numpy: mu = X.mean(1); var = X.var(1); (X - mu) / sqrt(var + 1e-5) * w + b
TEST(LayerNorm, MatchesNumpy) {
  Tensor x = f64({1, 2, 4, -1, 0.5, 0.5, 0.5, 3}, {2, 4});
  Tensor w = f64({0.5, 1, -1, 2}, {4}), b = f64({0.1, 0, 0.2, -0.3}, {4});
  EXPECT_TRUE(all_close(layer_norm(x, {4}, w, b), {-0.0386748357106, 0.277349671421, -1.18674835711, -3.07349671421,
                                                  -0.188673902922, -0.577347805844, 0.777347805844, 3.16408683507}));
  // Without affine: zero mean, unit (biased) variance per row.
  Tensor y = layer_norm(rand64({5, 17}, 1, -3, 3).detach(), {17});
  EXPECT_TRUE(all_close(mean(y, {1}), Tensor::zeros({5}, {.dtype = DType::f64}), 0, 1e-12));
  EXPECT_TRUE(all_close(var(y, {1}, 0), Tensor::ones({5}, {.dtype = DType::f64}), 1e-4, 0));
}

TEST(LayerNorm, Gradcheck) {
  Tensor x = rand64({3, 5}, 2, -2, 2), w = rand64({5}, 3), b = rand64({5}, 4);
  EXPECT_TRUE(grad_ok([](const Ins& in) { return layer_norm(in[0], {5}); }, {x}));
  EXPECT_TRUE(grad_ok([](const Ins& in) { return layer_norm(in[0], {5}, in[1], in[2]); }, {x, w, b}));
  EXPECT_TRUE(grad_ok([](const Ins& in) { return layer_norm(in[0], {5}, in[1]); }, {x, w}));
  EXPECT_TRUE(grad_ok([](const Ins& in) { return layer_norm(in[0], {5}, {}, in[1]); }, {x, b}));
  // Two normalised dims, a leading batch of 2 x 2, and a non-contiguous input.
  Tensor x4 = rand64({2, 2, 3, 4}, 5, -2, 2), w2 = rand64({3, 4}, 6), b2 = rand64({3, 4}, 7);
  EXPECT_TRUE(grad_ok([](const Ins& in) { return layer_norm(in[0], {3, 4}, in[1], in[2]); }, {x4, w2, b2}));
  Tensor xt = rand64({5, 3}, 8, -2, 2);
  EXPECT_TRUE(grad_ok([](const Ins& in) { return layer_norm(in[0].t(), {5}, in[1]); }, {xt, w}));
}

TEST(LayerNorm, F32KernelMatchesF64) {
  // Row length 1000 with a large offset: a two-pass variance in double keeps f32 close.
  Tensor x = (rand64({7, 1000}, 9, -1, 1) + 100.0).detach();
  Tensor w = rand64({1000}, 10).detach(), b = rand64({1000}, 11).detach();
  Tensor y64 = layer_norm(x, {1000}, w, b);
  Tensor y32 = layer_norm(x.to(DType::f32), {1000}, w.to(DType::f32), b.to(DType::f32));
  EXPECT_TRUE(all_close(y32, y64, 1e-3, 1e-3));  // f32 rounding of x + 100 itself is ~4e-6 relative
  // Backward too: weight/bias grads are column sums over rows. 130 x 517 is above the kernels'
  // grain, so the row split and the column split both run multi-threaded.
  Tensor xa = rand64({130, 517}, 12, -2, 2).detach();
  Tensor wa = rand64({517}, 13).detach(), ba = rand64({517}, 14).detach();
  Tensor g = rand64({130, 517}, 15).detach();
  std::vector<Tensor> grads[2];
  for (int k = 0; k < 2; ++k) {
    DType dt = k == 0 ? DType::f64 : DType::f32;
    Tensor xi = xa.to(dt).detach().requires_grad_(), wi = wa.to(dt).detach().requires_grad_(),
           bi = ba.to(dt).detach().requires_grad_();
    sum(layer_norm(xi, {517}, wi, bi) * g.to(dt)).backward();
    grads[k] = {xi.grad(), wi.grad(), bi.grad()};
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(all_close(grads[1][i], grads[0][i], 1e-4, 1e-4)) << "grad " << i;
}

TEST(LayerNorm, EmptyBatch) {
  Tensor x = Tensor::zeros({0, 3, 4}, {.dtype = DType::f64});
  EXPECT_EQ(layer_norm(x, {4}).shape(), (Shape{0, 3, 4}));
  EXPECT_EQ(rms_norm(x).shape(), (Shape{0, 3, 4}));
  EXPECT_EQ(group_norm(x, 3).shape(), (Shape{0, 3, 4}));
}

TEST(LayerNorm, Errors) {
  Tensor x = Tensor::zeros({2, 3, 4});
  EXPECT_TRUE(throws_with([&] { layer_norm(x, {3}); }, {"layer_norm", "[3]", "[2,3,4]"}));
  EXPECT_TRUE(throws_with([&] { layer_norm(x, {4}, Tensor::ones({5})); }, {"layer_norm", "weight", "[5]", "[4]"}));
  EXPECT_TRUE(throws_with([&] { layer_norm(x, {3, 4}, {}, Tensor::ones({4})); }, {"layer_norm", "bias", "[3,4]"}));
}

// numpy: X / sqrt((X**2).mean(1) + 1e-6) * w
TEST(RmsNorm, MatchesNumpy) {
  Tensor x = f64({1, 2, 4, -1, 0.5, 0.5, 0.5, 3}, {2, 4});
  Tensor w = f64({0.5, 1, -1, 2}, {4});
  EXPECT_TRUE(all_close(rms_norm(x, w, 1e-6), {0.213200696974, 0.852802787895, -1.70560557579, -0.852802787895,
                                                0.160128120958, 0.320256241917, -0.320256241917, 3.843074903}));
}

TEST(RmsNorm, GradcheckAndF32) {
  Tensor x = rand64({2, 3, 7}, 21, -2, 2), w = rand64({7}, 22);
  EXPECT_TRUE(grad_ok([](const Ins& in) { return rms_norm(in[0]); }, {x}));
  EXPECT_TRUE(grad_ok([](const Ins& in) { return rms_norm(in[0], in[1]); }, {x, w}));
  EXPECT_TRUE(grad_ok([](const Ins& in) { return rms_norm(in[0].transpose(1, 2), {}, 1e-3); },
                      {rand64({2, 7, 3}, 23)}));
  // f32 vs f64, forward and backward, at a size that runs multi-threaded.
  Tensor xb = rand64({200, 257}, 24, -5, 5).detach(), wb = rand64({257}, 25).detach();
  Tensor gb = rand64({200, 257}, 26).detach();
  std::vector<Tensor> out[2];
  for (int k = 0; k < 2; ++k) {
    DType dt = k == 0 ? DType::f64 : DType::f32;
    Tensor xi = xb.to(dt).detach().requires_grad_(), wi = wb.to(dt).detach().requires_grad_();
    Tensor y = rms_norm(xi, wi);
    sum(y * gb.to(dt)).backward();
    out[k] = {y, xi.grad(), wi.grad()};
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(all_close(out[1][i], out[0][i], 1e-4, 1e-4)) << "output " << i;
}

TEST(RmsNorm, Errors) {
  Tensor x = Tensor::zeros({8, 64});
  EXPECT_TRUE(throws_with([&] { rms_norm(x, Tensor::ones({63})); }, {"rms_norm", "[63]", "[64]", "[8,64]"}));
  EXPECT_TRUE(throws_with([&] { rms_norm(x, Tensor::ones({64}, {.dtype = DType::f64})); }, {"rms_norm"}));
}

// numpy: x = (sin(1.7 i) * 2 + 0.1 i).reshape(2, 4, 3), i = 0..23; g = x.reshape(2, 2, 6);
// ((g - g.mean(2)) / sqrt(g.var(2) + 1e-5)).reshape(2, 4, 3) * w[c] + b[c]
TEST(GroupNorm, MatchesNumpy) {
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = std::sin(1.7 * i) * 2 + 0.1 * i;
  Tensor x = f64(v, {2, 4, 3});
  Tensor w = f64({1, 2, -1, 0.5}, {4}), b = f64({0, 0.1, 0.2, 0.3}, {4});
  EXPECT_TRUE(all_close(
      group_norm(x, 2, w, b),
      {-0.45865768286, 1.08842566112,  -0.689667740833, -3.12179942048, 1.24448262075,   2.29711632487,
       1.15774168651,  0.957298191482, -1.36654247487,  0.76951430479,  -0.225675431398, 0.43040982817,
       1.10077165069,  -0.393984679037, -1.54236426213, 0.915473521387, 2.52603340677,   -1.47035234719,
       1.39258596307,  -0.635207013897, -0.381361593632, -0.316748725657, 0.117768961544, 0.986988441882},
      1e-9, 1e-9));
}

TEST(GroupNorm, Gradcheck) {
  Tensor x = rand64({2, 4, 3, 2}, 31, -2, 2), w = rand64({4}, 32), b = rand64({4}, 33);
  for (int64_t g : {1, 2, 4})
    EXPECT_TRUE(grad_ok([g](const Ins& in) { return group_norm(in[0], g, in[1], in[2]); }, {x, w, b}))
        << "groups " << g;
  EXPECT_TRUE(grad_ok([](const Ins& in) { return group_norm(in[0], 2); }, {x}));
  // groups == 1 is layer norm over [C, H, W] (no affine).
  Tensor xd = x.detach();
  EXPECT_TRUE(all_close(group_norm(xd, 1), layer_norm(xd, {4, 3, 2}), 1e-12, 1e-12));
}

TEST(GroupNorm, Errors) {
  Tensor x = Tensor::zeros({2, 6, 5});
  EXPECT_TRUE(throws_with([&] { group_norm(x, 4); }, {"group_norm", "4", "6", "[2,6,5]"}));
  EXPECT_TRUE(throws_with([&] { group_norm(x, 3, Tensor::ones({3})); }, {"group_norm", "weight", "[3]", "[6]"}));
}

// numpy: B [3, 2, 2] below; bm = B.mean((0, 2)); bv = B.var((0, 2)); (B - bm) / sqrt(bv + 1e-5);
// running: 0.9 * rm + 0.1 * bm, 0.9 * rv + 0.1 * B.var((0, 2), ddof=1); eval: (B - rm) / sqrt(rv + 1e-5)
const std::vector<double> kBatch = {1, 2, 0, -1, 3, 5, 2, 2, -1, 0.5, 4, 1};

TEST(BatchNorm, TrainingMatchesNumpyAndUpdatesRunningStats) {
  Tensor x = f64(kBatch, {3, 2, 2});
  Tensor rm = f64({0.5, -0.5}, {2}), rv = f64({2, 0.5}, {2});
  const uint32_t v0 = rm.version(), v1 = rv.version();
  Tensor y = batch_norm(x, rm, rv, {}, {}, /*training=*/true);
  EXPECT_TRUE(all_close(y, {-0.392791663739, 0.13093055458, -0.834056024381, -1.45959804267, 0.654652772899,
                            1.70209720954, 0.417028012191, 0.417028012191, -1.44023610038, -0.654652772899,
                            1.66811204876, -0.208514006095}));
  EXPECT_TRUE(all_close(rm, {0.625, -0.316666666667}, 1e-9, 1e-12));
  EXPECT_TRUE(all_close(rv, {2.2375, 0.756666666667}, 1e-9, 1e-12));
  EXPECT_GT(rm.version(), v0);
  EXPECT_GT(rv.version(), v1);
  // Eval with the updated stats.
  Tensor rm0 = f64({0.5, -0.5}, {2}), rv0 = f64({2, 0.5}, {2});
  EXPECT_TRUE(all_close(batch_norm(x, rm0, rv0, {}, {}, /*training=*/false),
                        {0.353552506713, 1.06065752014, 0.707099710225, -0.707099710225, 1.76776253357,
                         3.18197256042, 3.53549855112, 3.53549855112, -1.06065752014, 0.0, 6.36389739202,
                         2.12129913067}));
  EXPECT_TRUE(all_close(rm0, {0.5, -0.5}));  // eval leaves running stats alone
}

TEST(BatchNorm, Gradcheck) {
  Tensor x = rand64({3, 4, 2, 3}, 41, -2, 2), w = rand64({4}, 42), b = rand64({4}, 43);
  // Running stats are updated on every call; gradcheck only differentiates the output.
  Tensor rm = Tensor::zeros({4}, {.dtype = DType::f64}), rv = Tensor::ones({4}, {.dtype = DType::f64});
  EXPECT_TRUE(grad_ok([&](const Ins& in) { return batch_norm(in[0], rm, rv, in[1], in[2], true); }, {x, w, b}));
  EXPECT_TRUE(grad_ok([&](const Ins& in) { return batch_norm(in[0], {}, {}, {}, {}, true); }, {x}));
  EXPECT_TRUE(grad_ok([&](const Ins& in) { return batch_norm(in[0], rm, rv, in[1], in[2], false); }, {x, w, b}));
  Tensor x2 = rand64({5, 3}, 44, -2, 2);  // [N, C]
  EXPECT_TRUE(grad_ok([&](const Ins& in) { return batch_norm(in[0], {}, {}, in[1], {}, true); },
                      {x2, rand64({3}, 45)}));
}

TEST(BatchNorm, Errors) {
  Tensor x = Tensor::zeros({1, 3});
  EXPECT_TRUE(throws_with([&] { batch_norm(x, {}, {}, {}, {}, true); }, {"batch_norm", "more than 1", "[1,3]"}));
  EXPECT_TRUE(throws_with([&] { batch_norm(Tensor::zeros({2, 3}), Tensor::zeros({4}), Tensor::ones({4}), {}, {}, true); },
                          {"batch_norm", "running_mean", "[4]", "[3]"}));
  EXPECT_TRUE(throws_with([&] { batch_norm(Tensor::zeros({3}), {}, {}, {}, {}, true); }, {"batch_norm", "[3]"}));
}

}  // namespace
}  // namespace ember
