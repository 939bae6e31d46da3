// The case table of the backend-ops harness (backend_ops.h): at least one case per primitive of
// tensor/op_list.h (test_backend_ops.cpp fails when one has none). Adding a primitive: add its
// cases here. Adding a unary or binary op: nothing; the loops below cover EMBER_UNARY_OPS and
// EMBER_BINARY_OPS, with the input range from unary_range when the op needs one.
#pragma once

#include "tests/tensor/backend_ops.h"

namespace ember::test::ops {

// Input range of a unary op (its domain, away from kinks where f32 and f64 may branch apart).
struct Range {
  double lo = -3, hi = 3;
};
inline Range unary_range(UnaryOp op) {
  switch (op) {
    case UnaryOp::log: case UnaryOp::sqrt: case UnaryOp::rsqrt: case UnaryOp::reciprocal:
    case UnaryOp::pow_scalar: return {0.5, 2};
    default: return {};
  }
}
inline UnaryParams unary_params(UnaryOp op) {
  if (op == UnaryOp::clamp) return {-0.5, 0.75};
  if (op == UnaryOp::pow_scalar) return {1.5, 0};
  return {0.125, 0};  // leaky slope, scalar operand
}
inline const char* unary_name(UnaryOp op) {
  static const char* names[] = {
#define EMBER_X(name) #name,
      EMBER_UNARY_OPS(EMBER_X)
#undef EMBER_X
  };
  return names[int(op)];
}
inline const char* binary_name(BinaryOp op) {
  static const char* names[] = {
#define EMBER_X(name) #name,
      EMBER_BINARY_OPS(EMBER_X)
#undef EMBER_X
  };
  return names[int(op)];
}

// Elementwise f64 formula reference: f(x) (or g * f'(x)) from the shared numerics.
inline Tensor formula_unary(const Tensor& x, const Tensor* g, UnaryOp op, UnaryParams p) {
  const std::vector<double> xv = x.contiguous().to_vector<double>();
  std::vector<double> gv = g ? g->contiguous().to_vector<double>() : std::vector<double>();
  std::vector<double> r(xv.size());
  for (size_t i = 0; i < xv.size(); ++i)
    r[i] = g ? gv[i] * (op == UnaryOp::relu && !(xv[i] > 0) ? 0.0 : num::unary_derivative<double>(op, xv[i], p.alpha, p.beta))
             : num::unary_scalar<double>(op, xv[i], p.alpha, p.beta);
  return Tensor::from_vector(r, x.shape(), {.dtype = DType::f64});
}

inline std::vector<Case> all_cases() {
  std::vector<Case> v;
  auto add = [&](Case c) { v.push_back(std::move(c)); };
  using S = Shape;

  // ---- memory ----
  add({.prim = Prim::copy, .name = "copy strided [7,13] -> contiguous", .setup = [](Ctx& c) -> Call {
         Tensor x = c.in({7, 13}, -1, 1, true), y = c.out({7, 13});
         return [&be = c.be(), x, y] { be.copy(x, y); };
       }, .tol = [](DType) { return exact(); }, .work = 91});
  add({.prim = Prim::copy, .name = "copy expanded [1,5] -> [3,5]", .setup = [](Ctx& c) -> Call {
         Tensor x = c.in({1, 5}), y = c.out({3, 5});
         return [&be = c.be(), x, y] { be.copy(x.as_strided({3, 5}, {0, 1}, x.offset()), y); };
       }, .tol = [](DType) { return exact(); }});
  add({.prim = Prim::fill, .name = "fill [5,11]", .setup = [](Ctx& c) -> Call {
         Tensor y = c.out({5, 11});
         return [&be = c.be(), y] { be.fill(y, 2.5); };
       }, .tol = [](DType) { return exact(); }, .work = 55});

  // ---- elementwise: every unary op, forward and backward, contiguous (prime length) and strided ----
  for (int o = 0; o <= int(UnaryOp::mul_scalar) + 64; ++o) {
    bool known = false;
#define EMBER_X(name) known = known || o == int(UnaryOp::name);
    EMBER_UNARY_OPS(EMBER_X)
#undef EMBER_X
    if (!known) break;
    const UnaryOp op = UnaryOp(o);
    const Range r = unary_range(op);
    const UnaryParams p = unary_params(op);
    for (const bool strided : {false, true}) {
      const S s = strided ? S{3, 37} : S{1, 131};
      const std::string tag = std::string(unary_name(op)) + (strided ? " strided [3,37]" : " [1,131]");
      add({.prim = Prim::unary, .name = "unary " + tag, .setup = [=](Ctx& c) -> Call {
             Tensor x = c.in(s, r.lo, r.hi, strided), y = c.out(s);
             return [&be = c.be(), x, y, op, p] { be.unary(op, x, y, p); };
           }, .work = double(numel_of(s)),
           .formula = [=](Ctx& c) { return std::vector<Tensor>{formula_unary(c.inputs()[0], nullptr, op, p)}; }});
      add({.prim = Prim::unary_backward, .name = "unary_backward " + tag, .setup = [=](Ctx& c) -> Call {
             Tensor x = c.in(s, r.lo, r.hi, strided), g = c.in(s), gx = c.out(s);
             return [&be = c.be(), x, g, gx, op, p] { be.unary_backward(op, x, g, gx, p); };
           }, .work = double(numel_of(s)),
           .formula = [=](Ctx& c) { return std::vector<Tensor>{formula_unary(c.inputs()[0], &c.inputs()[1], op, p)}; }});
    }
  }
  for (int o = 0; o <= int(BinaryOp::ge); ++o) {
    const BinaryOp op = BinaryOp(o);
    const bool cmp = is_comparison(op);
    add({.prim = Prim::binary, .name = std::string("binary ") + binary_name(op) + " [5,17] (+) [1,17] broadcast",
         .setup = [=](Ctx& c) -> Call {
           const double lo = op == BinaryOp::pow ? 0.5 : -1;
           Tensor a = c.in({5, 17}, lo, 2), b = c.in({1, 17}, lo, 2);
           Tensor y = cmp ? c.out({5, 17}, DType::u8) : c.out({5, 17});
           return [&be = c.be(), a, b, y, op] { be.binary(op, a, b.as_strided({5, 17}, {0, 1}, b.offset()), y); };
         }, .tol = [cmp](DType) { return cmp ? exact() : ew(); }, .work = 85});
  }
  add({.prim = Prim::binary, .name = "binary add i32 [3,7]", .setup = [](Ctx& c) -> Call {
         Tensor a = c.ints({3, 7}, -50, 50, DType::i32), b = c.ints({3, 7}, -50, 50, DType::i32);
         Tensor y = c.out({3, 7}, DType::i32);
         return [&be = c.be(), a, b, y] { be.binary(BinaryOp::add, a, b, y); };
       }, .tol = [](DType) { return exact(); }, .dtypes = {DType::f32}});
  add({.prim = Prim::where, .name = "where [4,19] strided b", .setup = [](Ctx& c) -> Call {
         Tensor cond = c.ints({4, 19}, 0, 2, DType::u8), a = c.in({4, 19}), b = c.in({4, 19}, -1, 1, true);
         Tensor y = c.out({4, 19});
         return [&be = c.be(), cond, a, b, y] { be.where(cond, a, b, y); };
       }, .tol = [](DType) { return exact(); }, .work = 76});

  // ---- reductions ----
  const ReduceOp rops[] = {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::prod};
  const char* rnames[] = {"sum", "max", "min", "prod"};
  for (int i = 0; i < 4; ++i) {
    const ReduceOp op = rops[i];
    const bool prod = op == ReduceOp::prod;
    add({.prim = Prim::reduce, .name = std::string("reduce ") + rnames[i] + " [3,29,5] dims {1}", .setup = [=](Ctx& c) -> Call {
           Tensor x = prod ? c.in({3, 29, 5}, 0.9, 1.1) : c.in({3, 29, 5}), y = c.out({3, 1, 5});
           return [&be = c.be(), x, y, op] { be.reduce(op, x, {1}, y); };
         }, .tol = [](DType) { return acc(29); }, .work = 435});
    add({.prim = Prim::reduce, .name = std::string("reduce ") + rnames[i] + " strided [6,1,67] dims {0,2}",
         .setup = [=](Ctx& c) -> Call {
           Tensor x = prod ? c.in({6, 1, 67}, 0.95, 1.05, true) : c.in({6, 1, 67}, -1, 1, true), y = c.out({1, 1, 1});
           return [&be = c.be(), x, y, op] { be.reduce(op, x, {0, 2}, y); };
         }, .tol = [](DType) { return acc(402); }, .work = 402});
  }
  for (const ReduceOp op : {ReduceOp::max, ReduceOp::min})
    add({.prim = Prim::arg_reduce, .name = std::string("arg_reduce ") + (op == ReduceOp::max ? "max" : "min") + " [5,23,3] dim 1",
         .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({5, 23, 3}), val = c.out({5, 1, 3}), idx = c.out({5, 1, 3}, DType::i64);
           return [&be = c.be(), x, val, idx, op] { be.arg_reduce(op, x, 1, val, idx); };
         }, .tol = [](DType) { return exact(); }, .work = 345});

  // ---- matrix multiply (M, N, K: primes and non-multiples of the register tiles) ----
  for (const bool acc_ : {false, true})
    add({.prim = Prim::gemm, .name = std::string("gemm [2,17,33]@[2,33,19] b transposed") + (acc_ ? " +=" : ""),
         .setup = [=](Ctx& c) -> Call {
           Tensor a = c.in({2, 17, 33}), bt = c.in({2, 19, 33}), y = c.out({2, 17, 19}, std::nullopt, acc_);
           Tensor b = bt.as_strided({2, 33, 19}, {19 * 33, 1, 33}, bt.offset());
           return [&be = c.be(), a, b, y, acc_] { be.gemm(a, b, y, acc_); };
         }, .tol = [](DType) { return acc(33); }, .work = 2.0 * 2 * 17 * 19 * 33});
  add({.prim = Prim::gemm, .name = "gemm [1,1,1] and broadcast a", .setup = [](Ctx& c) -> Call {
         Tensor a = c.in({1, 1, 7}), b = c.in({3, 7, 1}), y = c.out({3, 1, 1});
         return [&be = c.be(), a, b, y] { be.gemm(a.as_strided({3, 1, 7}, {0, 7, 1}, a.offset()), b, y, false); };
       }, .tol = [](DType) { return acc(7); }});
  add({.prim = Prim::gemm_epilogue, .name = "gemm_epilogue [1,13,29]x[29,11] +bias gelu_tanh +residual",
       .setup = [](Ctx& c) -> Call {
         Tensor a = c.in({1, 13, 29}), b = c.in({1, 29, 11}), bias = c.in({11}), res = c.in({1, 13, 11});
         Tensor y = c.out({1, 13, 11});
         return [&be = c.be(), a, b, bias, res, y] {
           if (!be.gemm_epilogue(a, b, bias, UnaryOp::gelu_tanh, res, y)) be.fill(y, Ctx::kSentinel);
         };
       }, .tol = [](DType) { return acc(29); }, .work = 2.0 * 13 * 11 * 29});

  // ---- softmax family ----
  for (const bool log : {false, true}) {
    const std::string tag = log ? "log_softmax" : "softmax";
    add({.prim = Prim::softmax, .name = tag + " [7,1] and rows of 131", .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({7, 131}, -4, 4), y = c.out({7, 131}), x1 = c.in({7, 1}), y1 = c.out({7, 1});
           return [&be = c.be(), x, y, x1, y1, log] { be.softmax(x, y, log); be.softmax(x1, y1, log); };
         }, .tol = [](DType) { return acc(131); }, .work = 7 * 131});
    add({.prim = Prim::softmax_backward, .name = tag + "_backward [5,67]", .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({5, 67}), gy = c.in({5, 67}), y = Tensor::empty({5, 67}, x.options()), gx = c.out({5, 67});
           c.be().softmax(x, y, log);
           return [&be = c.be(), y, gy, gx, log] { be.softmax_backward(y, gy, gx, log); };
         }, .tol = [](DType) { return acc(67); }, .work = 5 * 67});
  }
  auto ce_inputs = [](Ctx& c, Tensor& logits, Tensor& target) {
    logits = c.in({6, 37}, -3, 3);
    target = c.ints({6}, 0, 37);
    target = target.to(Device::cpu());
    target.data<int64_t>()[2] = -100;  // one ignored row
    target = target.to(c.dev());
  };
  add({.prim = Prim::cross_entropy_fwd, .name = "cross_entropy_fwd [6,37] smoothing 0.1, one ignored",
       .setup = [=](Ctx& c) -> Call {
         Tensor logits, target;
         ce_inputs(c, logits, target);
         Tensor loss = c.out({6}), lse = c.out({6});
         return [&be = c.be(), logits, target, loss, lse] { be.cross_entropy_fwd(logits, target, -100, 0.1, loss, lse); };
       }, .tol = [](DType) { return acc(37); }, .work = 6 * 37});
  add({.prim = Prim::cross_entropy_bwd, .name = "cross_entropy_bwd [6,37] smoothing 0.1, one ignored",
       .setup = [=](Ctx& c) -> Call {
         Tensor logits, target;
         ce_inputs(c, logits, target);
         Tensor loss = Tensor::empty({6}, logits.options()), lse = Tensor::empty({6}, logits.options());
         c.be().cross_entropy_fwd(logits, target, -100, 0.1, loss, lse);
         Tensor gl = c.in({6}), gx = c.out({6, 37});
         return [&be = c.be(), logits, target, lse, gl, gx] { be.cross_entropy_bwd(logits, target, lse, gl, -100, 0.1, gx); };
       }, .tol = [](DType) { return acc(37); }, .work = 6 * 37});

  // ---- convolution: wide path, grouped, large 1x1 (per-image path), strided x ----
  struct ConvShape {
    const char* name;
    Conv2dGeom g;
    int64_t m;
    bool strided;
  };
  const ConvShape convs[] = {
      {"3x3 s2 p1 [2,3,9,11]->5", {.n = 2, .c = 3, .h = 9, .w = 11, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1}, 5, true},
      {"3x2 dil2 groups2 [3,4,7,8]->6", {.n = 3, .c = 4, .h = 7, .w = 8, .kh = 3, .kw = 2, .dh = 2, .dw = 2, .groups = 2}, 6, false},
      {"1x1 [2,4,17,17]->3", {.n = 2, .c = 4, .h = 17, .w = 17}, 3, false},
      {"5x5 p2 [1,1,6,7]->1", {.n = 1, .c = 1, .h = 6, .w = 7, .kh = 5, .kw = 5, .ph = 2, .pw = 2}, 1, false},
  };
  for (const ConvShape& cs : convs) {
    const Conv2dGeom g = cs.g;
    const int64_t m = cs.m, K = g.c / g.groups * g.kh * g.kw;
    const bool strided = cs.strided;
    const S xs{g.n, g.c, g.h, g.w}, ws{m, g.c / g.groups, g.kh, g.kw}, ys{g.n, m, g.oh(), g.ow()};
    const double flops = 2.0 * g.n * m * g.oh() * g.ow() * K;
    add({.prim = Prim::conv2d_fwd, .name = std::string("conv2d_fwd ") + cs.name + " +=", .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in(xs, -1, 1, strided), w = c.in(ws), y = c.out(ys, std::nullopt, true);
           return [&be = c.be(), x, w, g, y] { be.conv2d_fwd(x, w, g, y, true); };
         }, .tol = [=](DType) { return acc(K, 2); }, .work = flops});
    add({.prim = Prim::conv2d_bwd_data, .name = std::string("conv2d_bwd_data ") + cs.name, .setup = [=](Ctx& c) -> Call {
           Tensor gy = c.in(ys), w = c.in(ws), gx = c.out(xs, std::nullopt, true);
           return [&be = c.be(), gy, w, g, gx] { be.conv2d_bwd_data(gy, w, g, gx); };
         }, .tol = [=](DType) { return acc(m * g.kh * g.kw, 2); }, .work = flops});
    add({.prim = Prim::conv2d_bwd_weight, .name = std::string("conv2d_bwd_weight ") + cs.name, .setup = [=](Ctx& c) -> Call {
           Tensor gy = c.in(ys), x = c.in(xs, -1, 1, strided), gw = c.out(ws);
           return [&be = c.be(), gy, x, g, gw] { be.conv2d_bwd_weight(gy, x, g, gw); };
         }, .tol = [=](DType) { return acc(g.n * g.oh() * g.ow()); }, .work = flops});
    if (g.groups != 1) continue;
    add({.prim = Prim::im2col, .name = std::string("im2col ") + cs.name, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in(xs, -1, 1, strided), col = c.out({g.n, g.c * g.kh * g.kw, g.oh() * g.ow()});
           return [&be = c.be(), x, g, col] { be.im2col(x, g, col); };
         }, .tol = [](DType) { return exact(); }, .work = double(g.n * g.c * g.kh * g.kw * g.oh() * g.ow())});
    add({.prim = Prim::col2im, .name = std::string("col2im ") + cs.name, .setup = [=](Ctx& c) -> Call {
           Tensor col = c.in({g.n, g.c * g.kh * g.kw, g.oh() * g.ow()}), x = c.out(xs, std::nullopt, true);
           return [&be = c.be(), g, col, x] { be.col2im(col, g, x); };
         }, .tol = [=](DType) { return acc(g.kh * g.kw); }, .work = double(g.n * g.c * g.kh * g.kw * g.oh() * g.ow())});
  }

  // ---- pooling and resampling ----
  const Pool2dGeom pools[] = {{.kh = 2, .kw = 2, .sh = 2, .sw = 2}, {.kh = 3, .kw = 3, .sh = 2, .sw = 1, .ph = 1, .pw = 1, .count_include_pad = false}};
  for (const Pool2dGeom& pg : pools) {
    const S xs{2, 3, 11, 13}, os{2, 3, pg.out_h(11), pg.out_w(13)};
    const std::string tag = pg.kh == 2 ? " 2x2 s2 [2,3,11,13]" : " 3x3 s(2,1) p1 [2,3,11,13]";
    add({.prim = Prim::max_pool2d_fwd, .name = "max_pool2d_fwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in(xs), y = c.out(os), idx = c.out(os, DType::i64);
           return [&be = c.be(), x, pg, y, idx] { be.max_pool2d_fwd(x, pg, y, idx); };
         }, .tol = [](DType) { return exact(); }, .work = double(numel_of(xs))});
    add({.prim = Prim::max_pool2d_bwd, .name = "max_pool2d_bwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in(xs), y = Tensor::empty(os, x.options()), idx = Tensor::empty(os, {.dtype = DType::i64, .device = c.dev()});
           c.be().max_pool2d_fwd(x, pg, y, idx);
           Tensor gy = c.in(os), gx = c.out(xs);
           return [&be = c.be(), gy, idx, gx] { be.max_pool2d_bwd(gy, idx, gx); };
         }, .tol = [](DType) { return acc(4); }, .work = double(numel_of(xs))});
    add({.prim = Prim::avg_pool2d_fwd, .name = "avg_pool2d_fwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in(xs), y = c.out(os);
           return [&be = c.be(), x, pg, y] { be.avg_pool2d_fwd(x, pg, y); };
         }, .tol = [](DType) { return acc(9); }, .work = double(numel_of(xs))});
    add({.prim = Prim::avg_pool2d_bwd, .name = "avg_pool2d_bwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor gy = c.in(os), gx = c.out(xs);
           return [&be = c.be(), gy, pg, gx] { be.avg_pool2d_bwd(gy, pg, gx); };
         }, .tol = [](DType) { return acc(9); }, .work = double(numel_of(xs))});
  }
  add({.prim = Prim::adaptive_avg_pool2d_fwd, .name = "adaptive_avg_pool2d_fwd [2,3,13,7]->[5,3]", .setup = [](Ctx& c) -> Call {
         Tensor x = c.in({2, 3, 13, 7}), y = c.out({2, 3, 5, 3});
         return [&be = c.be(), x, y] { be.adaptive_avg_pool2d_fwd(x, y); };
       }, .tol = [](DType) { return acc(12); }, .work = 2 * 3 * 13 * 7});
  add({.prim = Prim::adaptive_avg_pool2d_bwd, .name = "adaptive_avg_pool2d_bwd [2,3,13,7]<-[5,3]", .setup = [](Ctx& c) -> Call {
         Tensor gy = c.in({2, 3, 5, 3}), gx = c.out({2, 3, 13, 7});
         return [&be = c.be(), gy, gx] { be.adaptive_avg_pool2d_bwd(gy, gx); };
       }, .tol = [](DType) { return acc(4); }, .work = 2 * 3 * 13 * 7});
  for (const UpsampleMode mode : {UpsampleMode::nearest, UpsampleMode::bilinear})
    for (const bool align : {false, true}) {
      if (mode == UpsampleMode::nearest && align) continue;
      const std::string tag = std::string(mode == UpsampleMode::nearest ? " nearest" : " bilinear") +
                              (align ? " align" : "") + " [1,2,5,7]->[11,13]";
      add({.prim = Prim::upsample2d_fwd, .name = "upsample2d_fwd" + tag, .setup = [=](Ctx& c) -> Call {
             Tensor x = c.in({1, 2, 5, 7}), y = c.out({1, 2, 11, 13});
             return [&be = c.be(), x, mode, align, y] { be.upsample2d_fwd(x, mode, align, y); };
           }, .tol = [](DType) { return acc(4); }, .work = 2 * 11 * 13});
      add({.prim = Prim::upsample2d_bwd, .name = "upsample2d_bwd" + tag, .setup = [=](Ctx& c) -> Call {
             Tensor gy = c.in({1, 2, 11, 13}), gx = c.out({1, 2, 5, 7});
             return [&be = c.be(), gy, mode, align, gx] { be.upsample2d_bwd(gy, mode, align, gx); };
           }, .tol = [](DType) { return acc(16); }, .work = 2 * 11 * 13});
    }

  // ---- norms (D = 1, a prime, a multiple of 8 plus a tail) ----
  for (const int64_t d : {int64_t{1}, int64_t{37}, int64_t{67}}) {
    const std::string tag = " [5," + std::to_string(d) + "]";
    add({.prim = Prim::layer_norm_fwd, .name = "layer_norm_fwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({5, d}, -2, 3), w = c.in({d}), b = c.in({d}), y = c.out({5, d}), mean = c.out({5}), rstd = c.out({5});
           return [&be = c.be(), x, w, b, y, mean, rstd] { be.layer_norm_fwd(x, w, b, 1e-5, y, mean, rstd); };
         }, .tol = [=](DType) { return acc(d, 4); }, .work = double(5 * d)});
    add({.prim = Prim::layer_norm_bwd, .name = "layer_norm_bwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({5, d}, -2, 3), w = c.in({d}), gy = c.in({5, d});
           Tensor y = Tensor::empty({5, d}, x.options()), mean = Tensor::empty({5}, x.options()), rstd = Tensor::empty({5}, x.options());
           c.be().layer_norm_fwd(x, w, Tensor(), 1e-5, y, mean, rstd);
           Tensor gx = c.out({5, d}), gw = c.out({d}), gb = c.out({d});
           return [&be = c.be(), x, w, mean, rstd, gy, gx, gw, gb] { be.layer_norm_bwd(x, w, mean, rstd, gy, gx, gw, gb); };
         }, .tol = [=](DType) { return acc(d, 8); }, .work = double(5 * d)});
    add({.prim = Prim::rms_norm_fwd, .name = "rms_norm_fwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({5, d}, -2, 3), w = c.in({d}), y = c.out({5, d}), rstd = c.out({5});
           return [&be = c.be(), x, w, y, rstd] { be.rms_norm_fwd(x, w, 1e-5, y, rstd); };
         }, .tol = [=](DType) { return acc(d, 4); }, .work = double(5 * d)});
    add({.prim = Prim::rms_norm_bwd, .name = "rms_norm_bwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({5, d}, -2, 3), w = c.in({d}), gy = c.in({5, d});
           Tensor y = Tensor::empty({5, d}, x.options()), rstd = Tensor::empty({5}, x.options());
           c.be().rms_norm_fwd(x, w, 1e-5, y, rstd);
           Tensor gx = c.out({5, d}), gw = c.out({d});
           return [&be = c.be(), x, w, rstd, gy, gx, gw] { be.rms_norm_bwd(x, w, rstd, gy, gx, gw); };
         }, .tol = [=](DType) { return acc(d, 8); }, .work = double(5 * d)});
  }

  // batch norm (training): W6-like planes of 6x7 (tails after 5 AVX2 vectors), a 1x1 plane
  // (S = 1: scalar tails only), no affine; inputs offset from 0 so the mean matters
  for (const int64_t s : {int64_t{42}, int64_t{1}}) {
    const std::string tag = " [3,5," + std::to_string(s) + "]";
    const bool affine = s != 1;
    add({.prim = Prim::batch_norm_fwd, .name = "batch_norm_fwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({3, 5, s}, 1, 4), w = affine ? c.in({5}) : Tensor(), b = affine ? c.in({5}) : Tensor();
           Tensor y = c.out({3, 5, s}), mean = c.out({5}), var = c.out({5});
           return [&be = c.be(), x, w, b, y, mean, var] {
             if (!be.batch_norm_fwd(x, w, b, 1e-5, y, mean, var)) be.fill(y, Ctx::kSentinel);
           };
         }, .tol = [=](DType) { return acc(3.0 * s, 8); }, .work = 3.0 * 5 * s});
    add({.prim = Prim::batch_norm_bwd, .name = "batch_norm_bwd" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor x = c.in({3, 5, s}, 1, 4), w = affine ? c.in({5}) : Tensor(), gy = c.in({3, 5, s});
           Tensor y = Tensor::empty({3, 5, s}, x.options()), mean = Tensor::empty({5}, x.options());
           Tensor var = Tensor::empty({5}, x.options());
           if (!c.be().batch_norm_fwd(x, w, Tensor(), 1e-5, y, mean, var)) {
             c.be().fill(mean, 0);
             c.be().fill(var, 1);
           }
           Tensor gx = c.out({3, 5, s}), gw = c.out({5}), gb = c.out({5});
           return [&be = c.be(), x, w, mean, var, gy, gx, gw, gb] {
             if (!be.batch_norm_bwd(x, w, mean, var, 1e-5, gy, gx, gw, gb)) be.fill(gx, Ctx::kSentinel);
           };
         }, .tol = [=](DType) { return acc(3.0 * s, 16); }, .work = 3.0 * 5 * s});
  }

  // ---- indexing (repeated indices) ----
  add({.prim = Prim::index_select, .name = "index_select dim 1 strided [4,9]", .setup = [](Ctx& c) -> Call {
         Tensor x = c.in({4, 9}, -1, 1, true), idx = c.ints({6}, 0, 9), y = c.out({4, 6});
         return [&be = c.be(), x, idx, y] { be.index_select(x, 1, idx, y); };
       }, .tol = [](DType) { return exact(); }, .work = 24});
  add({.prim = Prim::index_add, .name = "index_add dim 0 [7,5] += [11,5]", .setup = [](Ctx& c) -> Call {
         Tensor idx = c.ints({11}, 0, 7), src = c.in({11, 5}), y = c.out({7, 5}, std::nullopt, true);
         return [&be = c.be(), idx, src, y] { be.index_add(y, 0, idx, src); };
       }, .tol = [](DType) { return acc(11); }, .work = 55});
  add({.prim = Prim::gather, .name = "gather dim 1 [3,8] -> [3,5]", .setup = [](Ctx& c) -> Call {
         Tensor x = c.in({3, 8}), idx = c.ints({3, 5}, 0, 8), y = c.out({3, 5});
         return [&be = c.be(), x, idx, y] { be.gather(x, 1, idx, y); };
       }, .tol = [](DType) { return exact(); }, .work = 15});
  add({.prim = Prim::scatter_add, .name = "scatter_add dim 0 [4,6] += [9,6]", .setup = [](Ctx& c) -> Call {
         Tensor idx = c.ints({9, 6}, 0, 4), src = c.in({9, 6}), y = c.out({4, 6}, std::nullopt, true);
         return [&be = c.be(), idx, src, y] { be.scatter_add(y, 0, idx, src); };
       }, .tol = [](DType) { return acc(9); }, .work = 54});

  // ---- random: the same Philox stream on every backend (reference in the target dtype) ----
  add({.prim = Prim::random_uniform, .name = "random_uniform [3,41] offset 5", .setup = [](Ctx& c) -> Call {
         Tensor y = c.out({3, 41});
         return [&be = c.be(), y] { be.random_uniform(y, -2, 3, 1234, 5); };
       }, .tol = [](DType) { return Tol{1e-6, 1e-6}; }, .work = 123, .ref_same_dtype = true});
  add({.prim = Prim::random_normal, .name = "random_normal [3,41] offset 5", .setup = [](Ctx& c) -> Call {
         Tensor y = c.out({3, 41});
         return [&be = c.be(), y] { be.random_normal(y, 1, 2, 1234, 5); };
       }, .tol = [](DType) { return Tol{1e-5, 1e-5}; }, .work = 123, .ref_same_dtype = true});
  add({.prim = Prim::random_int, .name = "random_int [7,3] in [-5, 9)", .setup = [](Ctx& c) -> Call {
         Tensor y = c.out({7, 3}, DType::i64);
         return [&be = c.be(), y] { be.random_int(y, -5, 9, 99, 0); };
       }, .tol = [](DType) { return exact(); }, .dtypes = {DType::f32}, .work = 21, .ref_same_dtype = true});

  // ---- fused kernels (a backend may decline: the outputs then stay at the sentinel, which the
  //      reference cannot match, so decline only where the contract allows it: not here) ----
  add({.prim = Prim::adam_update, .name = "adam_update AdamW [37] step 3", .setup = [](Ctx& c) -> Call {
         Tensor p = c.out({37}, std::nullopt, true), g = c.in({37}), m = c.out({37}, std::nullopt, true);
         Tensor v0 = c.in({37}, 0, 1), v = c.out({37});
         c.be().copy(v0, v);
         return [&be = c.be(), p, g, m, v] {
           be.adam_update(p, g, m, v, {.lr = 0.01, .weight_decay = 0.1, .decoupled = true, .step = 3});
         };
       }, .tol = [](DType) { return ew(); }, .work = 37});
  for (const bool causal : {false, true}) {
    const std::string tag = causal ? " causal" : "";
    add({.prim = Prim::sdpa_fwd, .name = "sdpa_fwd [1,4,5,8] kv [1,2,7,8]" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor q = c.in({1, 4, 5, 8}), k = c.in({1, 2, 7, 8}), v = c.in({1, 2, 7, 8});
           Tensor y = c.out({1, 4, 5, 8}), lse = c.out({1, 4, 5});
           return [&be = c.be(), q, k, v, y, lse, causal] { be.sdpa_fwd(q, k, v, causal, 0.35, y, lse); };
         }, .tol = [](DType) { return acc(8, 2); }, .work = 4.0 * 4 * 5 * 7 * 8});
    add({.prim = Prim::sdpa_bwd, .name = "sdpa_bwd [1,4,5,8] kv [1,2,7,8]" + tag, .setup = [=](Ctx& c) -> Call {
           Tensor q = c.in({1, 4, 5, 8}), k = c.in({1, 2, 7, 8}), v = c.in({1, 2, 7, 8}), go = c.in({1, 4, 5, 8});
           Tensor y = Tensor::empty({1, 4, 5, 8}, q.options()), lse = Tensor::empty({1, 4, 5}, q.options());
           c.be().sdpa_fwd(q, k, v, causal, 0.35, y, lse);
           Tensor gq = c.out({1, 4, 5, 8}), gk = c.out({1, 2, 7, 8}), gv = c.out({1, 2, 7, 8});
           return [&be = c.be(), q, k, v, y, lse, go, gq, gk, gv, causal] {
             be.sdpa_bwd(q, k, v, y, lse, go, causal, 0.35, gq, gk, gv);
           };
         }, .tol = [](DType) { return acc(16, 2); }, .work = 8.0 * 4 * 5 * 7 * 8});
  }
  return v;
}

}  // namespace ember::test::ops
