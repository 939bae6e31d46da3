// conv2d and conv_transpose2d, forward and backward, lowered to im2col/col2im + batched GEMM.
//
// Legend: N batch, C conv input channels, M conv output channels (both counted over all G groups),
// H/W conv input size, OH/OW conv output size, L = OH*OW, kk = kh*kw, K = (C/G)*kk the GEMM depth.
// Everything below is phrased in the *conv* direction: an image [N, C, H, W] is convolved with a
// weight [M, C/G, kh, kw] into [N, M, OH, OW]. Three lowered products cover both ops:
//   lower:       out[n, g]  = W_g @ col(img)[n, g]           conv2d forward, conv_transpose2d grad_x
//   raise:       img[n]    += col2im(W_g^T @ out[n, g])      conv2d grad_x, conv_transpose2d forward
//   weight_grad: gW_g       = sum_n out[n, g] @ col(img)[n, g]^T   grad_weight of both
// where col(img) = im2col(img) is [N, G*K, L] (group g's rows are contiguous). conv_transpose2d's
// weight [Cin, Cout/G, kh, kw] is exactly a conv weight mapping Cout -> Cin channels, so it is the
// adjoint of that conv: its forward is the conv's raise, its backward the conv's lower.
// col is built for a chunk of the batch at a time (<= kColBudget elements) and recomputed in
// backward rather than saved. On CPU with groups == 1 each chunk is one wide GEMM (N = images *
// L, see lower_wide); otherwise one GEMM per image, where a 1x1, stride-1, unpadded conv on a
// contiguous image uses the image itself as col.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "tensor/cpu/depthwise.h"  // depthwise hook (issue 13)
#include "tensor/parallel.h"

namespace ember {
namespace {
using namespace autograd;

constexpr int64_t kColBudget = int64_t{1} << 22;  // elements of one col chunk (16 MiB in f32)

// [nb, d1, d2] contiguous view of a contiguous tensor, starting at batch index n0.
Tensor batch_view(const Tensor& t, int64_t n0, int64_t nb, int64_t d1, int64_t d2) {
  return t.as_strided({nb, d1, d2}, {d1 * d2, d2, 1}, t.offset() + n0 * d1 * d2);
}

// The weight [M, C/G, kh, kw] (contiguous) as per-group GEMM operands.
Tensor weight_groups(const Tensor& w, int64_t groups) {  // [G, M/G, K]
  const int64_t mg = w.size(0) / groups, k = w.numel() / w.size(0);
  return w.as_strided({groups, mg, k}, {mg * k, k, 1}, w.offset());
}
Tensor weight_groups_t(const Tensor& w, int64_t groups) {  // [G, K, M/G], transposed view
  const int64_t mg = w.size(0) / groups, k = w.numel() / w.size(0);
  return w.as_strided({groups, k, mg}, {mg * k, 1, k}, w.offset());
}

// out[n, g] (=|+=) A_g @ B[n, g].  A [G, R, K] any strides, shared by the batch;
// B [nb, G*K, L] and out [nb, G*R, L] contiguous. G == 1 is one batched GEMM (A's batch stride 0).
void group_gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const int64_t G = a.size(0), R = a.size(1), K = a.size(2), nb = b.size(0), L = b.size(2);
  Backend& be = backend_of(out);
  if (G == 1) {
    be.gemm(a.as_strided({nb, R, K}, {0, a.stride(1), a.stride(2)}, a.offset()), b, out, accumulate);
    return;
  }
  for (int64_t n = 0; n < nb; ++n)
    be.gemm(a, batch_view(b, n * G, G, K, L), batch_view(out, n * G, G, R, L), accumulate);
}

// A 1x1, stride-1, unpadded conv: col(img) is the image itself.
bool is_pointwise(const Conv2dGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// Per batch chunk of img [N, C, H, W] (any strides): col = im2col(chunk) as [nb, C*kk, L], or the
// chunk itself on the 1x1 fast path. f(n0, nb, col) is called for each chunk in order.
template <typename F>
void for_each_col_chunk(const Tensor& img, const Conv2dGeom& g, F&& f) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  const bool pointwise = is_pointwise(g);
  const int64_t chunk = std::clamp<int64_t>(kColBudget / std::max<int64_t>(1, rows * L), 1, std::max<int64_t>(g.n, 1));
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0);
    Tensor part = img.as_strided({nb, g.c, g.h, g.w}, img.strides(), img.offset() + n0 * img.stride(0));
    if (pointwise && part.is_contiguous()) {
      f(n0, nb, part.as_strided({nb, rows, L}, {rows * L, L, 1}, part.offset()));
      continue;
    }
    Conv2dGeom gc = g;
    gc.n = nb;
    Tensor col = Tensor::empty({nb, rows, L}, img.options());
    backend_of(img).im2col(part, gc, col);
    f(n0, nb, col);
  }
}

// ---- CPU, groups == 1: one wide GEMM per batch chunk ----
// The per-image products above are skinny (W6: [64 x 42] outputs per image; W2: [64 x 196]).
// Here a chunk of nb images is lowered as a single product whose N is nb*L: col is built in a
// "wide" layout [K, nb*L] (the CPU im2col/col2im accept this strided view of [nb, K, L]) and the
// [M, nb*L] result is moved to [nb, M, L] with one copy (grad_y the other way round).

// 1x1 pointwise convs on images of 256+ pixels skip the wide lowering: per image they already
// are a GEMM on the image with a long N. Small images (W6's 6x7 heads) stay wide: one product
// over a chunk beats hundreds of tiny per-image ones.
bool use_wide(const Tensor& t, const Conv2dGeom& g, int64_t groups) {
  return groups == 1 && t.device().is_cpu() && !(is_pointwise(g) && g.oh() * g.ow() >= 256);
}

// Images per wide chunk: col stays within ~1 MiB (L2-sized; a whole-batch col of W6 would be
// 25 MB and stream from memory) while N = nb*L still spans many register tiles, and the batch
// gives at least 8 chunks (chunks are what threads share). Independent of the thread count, so
// results are too.
constexpr int64_t kWideColBudget = int64_t{1} << 18;
int64_t wide_chunk(const Conv2dGeom& g) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  return std::clamp<int64_t>(kWideColBudget / std::max<int64_t>(1, rows * L), 1, std::max<int64_t>((g.n + 7) / 8, 1));
}

// Runs f(n0, nb) for every chunk of the batch, chunks spread over the threads (each chunk's
// im2col, GEMM and copies then run on one thread: no fork/join per kernel).
template <typename F>
void for_each_wide_chunk(const Conv2dGeom& g, F&& f) {
  const int64_t chunk = wide_chunk(g), chunks = (g.n + chunk - 1) / chunk;
  parallel_tasks(chunks, [&](int64_t c) { f(c * chunk, std::min(chunk, g.n - c * chunk)); });
}

// [nb, R, L] view of a wide [R, nb*L] buffer.
Tensor wide_as_batch(const Tensor& wide, int64_t nb, int64_t r, int64_t L) {
  return wide.as_strided({nb, r, L}, {L, nb * L, 1}, wide.offset());
}

// col [K, nb*L] = im2col of images n0 .. n0+nb of img.
Tensor wide_col(const Tensor& img, const Conv2dGeom& g, int64_t n0, int64_t nb) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  Tensor col = Tensor::empty({rows, nb * L}, img.options());
  Conv2dGeom gc = g;
  gc.n = nb;
  const Tensor part = img.as_strided({nb, g.c, g.h, g.w}, img.strides(), img.offset() + n0 * img.stride(0));
  backend_of(img).im2col(part, gc, wide_as_batch(col, nb, rows, L));
  return col;
}

// out [N, M, L] images n0.. as a wide [M, nb*L] copy.
Tensor wide_of(const Tensor& out, int64_t n0, int64_t nb, int64_t M, int64_t L) {
  Tensor w = Tensor::empty({M, nb * L}, out.options());
  backend_of(out).copy(batch_view(out, n0, nb, M, L), wide_as_batch(w, nb, M, L));
  return w;
}

void lower_wide(const Tensor& img, const Tensor& w, const Conv2dGeom& g, const Tensor& out, bool accumulate) {
  const int64_t M = w.size(0), K = w.numel() / M, L = g.oh() * g.ow();
  Backend& be = backend_of(out);
  const Tensor a = w.as_strided({1, M, K}, {0, K, 1}, w.offset());
  for_each_wide_chunk(g, [&](int64_t n0, int64_t nb) {
    const Tensor col = wide_col(img, g, n0, nb);
    Tensor res = Tensor::empty({1, M, nb * L}, out.options());
    be.gemm(a, col.reshape({1, K, nb * L}), res, false);
    const Tensor src = wide_as_batch(res, nb, M, L), dst = batch_view(out, n0, nb, M, L);
    if (accumulate) be.binary(BinaryOp::add, dst, src, dst);
    else be.copy(src, dst);
  });
}

void raise_wide(const Tensor& out, const Tensor& w, const Conv2dGeom& g, const Tensor& img) {
  const int64_t M = w.size(0), K = w.numel() / M, L = g.oh() * g.ow();
  Backend& be = backend_of(img);
  const Tensor at = w.as_strided({1, K, M}, {0, 1, K}, w.offset());  // W^T
  for_each_wide_chunk(g, [&](int64_t n0, int64_t nb) {
    const Tensor src = wide_of(out, n0, nb, M, L);
    Tensor col = Tensor::empty({1, K, nb * L}, img.options());
    be.gemm(at, src.reshape({1, M, nb * L}), col, false);
    Conv2dGeom gc = g;
    gc.n = nb;
    be.col2im(wide_as_batch(col.reshape({K, nb * L}), nb, K, L), gc,
              img.as_strided({nb, g.c, g.h, g.w}, img.strides(), img.offset() + n0 * img.stride(0)));
  });
}

// Chunks are summed in kWeightGradParts fixed groups (a partial gW each, added in order at the
// end), so threads can share the batch and the sum order does not depend on the thread count.
constexpr int64_t kWeightGradParts = 4;
void weight_grad_wide(const Tensor& out, const Tensor& img, const Conv2dGeom& g, const Tensor& gw) {
  const int64_t M = gw.size(0), K = gw.numel() / M, L = g.oh() * g.ow(), chunk = wide_chunk(g);
  Backend& be = backend_of(gw);
  if (g.n == 0) return be.fill(gw, 0);
  const int64_t chunks = (g.n + chunk - 1) / chunk, parts = std::min(chunks, kWeightGradParts);
  std::vector<Tensor> partial(static_cast<size_t>(parts));
  partial[0] = gw.as_strided({1, M, K}, {M * K, K, 1}, gw.offset());
  for (int64_t p = 1; p < parts; ++p) partial[size_t(p)] = Tensor::empty({1, M, K}, gw.options());
  parallel_tasks(parts, [&](int64_t p) {
    for (int64_t c = chunks * p / parts; c < chunks * (p + 1) / parts; ++c) {
      const int64_t n0 = c * chunk, nb = std::min(chunk, g.n - n0);
      const Tensor a = wide_of(out, n0, nb, M, L), col = wide_col(img, g, n0, nb);
      // gW [M, K] (=|+=) gy [M, nb*L] @ col^T [nb*L, K] (col^T as a strided view: an NT product)
      be.gemm(a.reshape({1, M, nb * L}), col.as_strided({1, nb * L, K}, {0, 1, nb * L}, col.offset()),
              partial[size_t(p)], c > chunks * p / parts);
    }
  });
  for (int64_t p = 1; p < parts; ++p) be.binary(BinaryOp::add, partial[0], partial[size_t(p)], partial[0]);
}

// out [N, M, OH, OW] contiguous (=|+=) conv(img, w).
void lower(const Tensor& img, const Tensor& w, const Conv2dGeom& g, int64_t groups, const Tensor& out,
           bool accumulate) {
  if (cpu::depthwise_applies(out, g, groups, w.size(0))) return cpu::depthwise_forward(img, w, g, out, accumulate);
  if (use_wide(out, g, groups)) return lower_wide(img, w, g, out, accumulate);
  const int64_t M = w.size(0), L = g.oh() * g.ow();
  const Tensor a = weight_groups(w, groups);
  for_each_col_chunk(img, g, [&](int64_t n0, int64_t nb, const Tensor& col) {
    group_gemm(a, col, batch_view(out, n0, nb, M, L), accumulate);
  });
}

// img [N, C, H, W] contiguous += conv^T(out), out [N, M, OH, OW] contiguous.
void raise(const Tensor& out, const Tensor& w, const Conv2dGeom& g, int64_t groups, const Tensor& img) {
  if (cpu::depthwise_applies(img, g, groups, w.size(0))) return cpu::depthwise_backward_input(out, w, g, img);
  if (use_wide(img, g, groups)) return raise_wide(out, w, g, img);
  const int64_t M = w.size(0), L = g.oh() * g.ow(), rows = g.c * g.kh * g.kw;
  const Tensor at = weight_groups_t(w, groups);
  const bool pointwise = is_pointwise(g);
  const int64_t chunk = std::clamp<int64_t>(kColBudget / std::max<int64_t>(1, rows * L), 1, std::max<int64_t>(g.n, 1));
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0);
    const Tensor src = batch_view(out, n0, nb, M, L);
    if (pointwise) {  // col2im is the identity: accumulate straight into img
      group_gemm(at, src, batch_view(img, n0, nb, rows, L), true);
      continue;
    }
    Tensor col = Tensor::empty({nb, rows, L}, out.options());
    group_gemm(at, src, col, false);
    Conv2dGeom gc = g;
    gc.n = nb;
    backend_of(img).col2im(col, gc, img.as_strided({nb, g.c, g.h, g.w}, img.strides(), img.offset() + n0 * img.stride(0)));
  }
}

// gw [M, C/G, kh, kw] contiguous = sum_n out[n, g] @ col(img)[n, g]^T, out [N, M, OH, OW] contiguous.
void weight_grad(const Tensor& out, const Tensor& img, const Conv2dGeom& g, int64_t groups, const Tensor& gw) {
  if (cpu::depthwise_applies(gw, g, groups, gw.size(0))) return cpu::depthwise_backward_weight(out, img, g, gw);
  if (use_wide(gw, g, groups)) return weight_grad_wide(out, img, g, gw);
  const int64_t M = gw.size(0), G = groups, R = M / G, K = gw.numel() / M, L = g.oh() * g.ow();
  const Tensor dst = weight_groups(gw, groups);  // [G, R, K], contiguous
  bool first = true;
  for_each_col_chunk(img, g, [&](int64_t n0, int64_t nb, const Tensor& col) {
    for (int64_t n = 0; n < nb; ++n) {
      const Tensor a = batch_view(out, (n0 + n) * G, G, R, L);
      const Tensor bt = col.as_strided({G, L, K}, {K * L, 1, L}, col.offset() + n * G * K * L);
      backend_of(gw).gemm(a, bt, dst, !first);
      first = false;
    }
  });
  if (first) backend_of(gw).fill(gw, 0);  // empty batch
}

// ---- validation shared by both ops ----
void check_args(std::string_view op, const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_defined(x, op, "input");
  check_defined(w, op, "weight");
  check_floating(x, op);
  check_same_dtype(x, w, op);
  check_same_device(x, w, op);
  EMBER_CHECK(x.dim() == 4, "{}: expected a 4-D input [N, C, H, W], got {}", op, shape_str(x.shape()));
  EMBER_CHECK(w.dim() == 4, "{}: expected a 4-D weight, got {} (input {})", op, shape_str(w.shape()),
              shape_str(x.shape()));
  EMBER_CHECK(w.numel() > 0, "{}: weight {} has an empty dim", op, shape_str(w.shape()));
  EMBER_CHECK(x.size(2) > 0 && x.size(3) > 0, "{}: input {} has an empty spatial dim", op, shape_str(x.shape()));
  if (bias.defined()) {
    check_same_dtype(x, bias, op);
    check_same_device(x, bias, op);
  }
}

void check_params(std::string_view op, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw,
                  int64_t groups) {
  EMBER_CHECK(sh >= 1 && sw >= 1, "{}: stride ({}, {}) must be positive", op, sh, sw);
  EMBER_CHECK(ph >= 0 && pw >= 0, "{}: padding ({}, {}) must be non-negative", op, ph, pw);
  EMBER_CHECK(dh >= 1 && dw >= 1, "{}: dilation ({}, {}) must be positive", op, dh, dw);
  EMBER_CHECK(groups >= 1, "{}: groups must be positive, got {}", op, groups);
}

void check_bias(std::string_view op, const Tensor& bias, int64_t cout, const Tensor& w) {
  if (!bias.defined()) return;
  EMBER_CHECK(bias.dim() == 1 && bias.size(0) == cout, "{}: bias has shape {}, expected [{}] (weight {})", op,
              shape_str(bias.shape()), cout, shape_str(w.shape()));
}

// out [N, M, OH, OW] = bias broadcast over N, OH, OW; returns whether out was written.
bool fill_bias(const Tensor& bias, const Tensor& out) {
  if (!bias.defined()) return false;
  const Shape& s = out.shape();
  backend_of(out).copy(bias.as_strided(s, {0, bias.stride(0), 0, 0}, bias.offset()), out);
  return true;
}

// ---- conv2d ----
// y = conv(x, w) + b. Backward, with g = grad_y [N, M, OH, OW]:
//   grad_x = col2im(W_g^T @ g[n, g])                 (raise, `+=` into zeros)
//   grad_w = sum_n g[n, g] @ im2col(x)[n, g]^T        (weight_grad)
//   grad_b = sum of g over N, OH, OW
class Conv2dBackward final : public Node {
 public:
  Conv2dBackward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, int64_t groups, bool has_bias)
      : x_(x), w_(w), geom_(g), groups_(groups), has_bias_(has_bias) {}
  std::string name() const override { return "Conv2dBackward"; }
  void release_saved() override { x_.release(); w_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), w = w_.unpack(*this).contiguous();
    Tensor g = grads[0].contiguous();
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) {
      gx = Tensor::zeros(x.shape(), x.options());
      raise(g, w, geom_, groups_, gx);
    }
    if (needs_input_grad(1)) {
      gw = Tensor::empty(w.shape(), w.options());
      weight_grad(g, x, geom_, groups_, gw);
    }
    if (!has_bias_) return {gx, gw};
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3});
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_;
  Conv2dGeom geom_;
  int64_t groups_;
  bool has_bias_;
};

// ---- conv_transpose2d ----
// y = raise(x) for the conv y -> x with weight w (geometry on y). That conv maps [H', W'] >= [H, W]
// when output_padding >= stride (H' = H + output_pad / stride), so x is zero-padded to [H', W']
// (x_pad) and grad_x cropped back. Backward, with g = grad_y [N, Cout, OH, OW]:
//   grad_x = lower(g)[:, :, :H, :W]                   (the conv itself)
//   grad_w = sum_n x_pad[n, g] @ im2col(g)[n, g]^T    (weight_grad with the roles of x and y swapped)
//   grad_b = sum of g over N, OH, OW
Tensor pad_to_conv_output(const Tensor& x, const Conv2dGeom& g) {
  if (g.oh() == x.size(2) && g.ow() == x.size(3)) return x.detach().contiguous();
  Tensor xp = Tensor::zeros({x.size(0), x.size(1), g.oh(), g.ow()}, x.options());
  backend_of(x).copy(x, xp.as_strided(x.shape(), xp.strides(), xp.offset()));
  return xp;
}

class ConvTranspose2dBackward final : public Node {
 public:
  ConvTranspose2dBackward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, int64_t groups, bool has_bias)
      : x_(x), w_(w), geom_(g), groups_(groups), has_bias_(has_bias) {}
  std::string name() const override { return "ConvTranspose2dBackward"; }
  void release_saved() override { x_.release(); w_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), w = w_.unpack(*this).contiguous();
    Tensor g = grads[0].contiguous();
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) {
      Tensor full = Tensor::empty({x.size(0), x.size(1), geom_.oh(), geom_.ow()}, x.options());
      lower(g, w, geom_, groups_, full, false);
      gx = full.shape() == x.shape() ? full : full.as_strided(x.shape(), full.strides(), full.offset()).contiguous();
    }
    if (needs_input_grad(1)) {
      gw = Tensor::empty(w.shape(), w.options());
      weight_grad(pad_to_conv_output(x, geom_), g, geom_, groups_, gw);
    }
    if (!has_bias_) return {gx, gw};
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3});
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_;
  Conv2dGeom geom_;
  int64_t groups_;
  bool has_bias_;
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions o) {
  constexpr std::string_view op = "conv2d";
  check_args(op, x, weight, bias);
  check_params(op, o.stride_h, o.stride_w, o.pad_h, o.pad_w, o.dilation_h, o.dilation_w, o.groups);
  const int64_t cout = weight.size(0), cin_g = weight.size(1), G = o.groups;
  EMBER_CHECK(cout % G == 0, "{}: weight {} has {} output channels, not divisible by groups={}", op,
              shape_str(weight.shape()), cout, G);
  EMBER_CHECK(x.size(1) == cin_g * G, "{}: weight {} expects {}*groups={} input channels, input {} has {}", op,
              shape_str(weight.shape()), cin_g, cin_g * G, shape_str(x.shape()), x.size(1));
  check_bias(op, bias, cout, weight);
  const Conv2dGeom g{.n = x.size(0), .c = x.size(1), .h = x.size(2), .w = x.size(3),
                     .kh = weight.size(2), .kw = weight.size(3), .sh = o.stride_h, .sw = o.stride_w,
                     .ph = o.pad_h, .pw = o.pad_w, .dh = o.dilation_h, .dw = o.dilation_w};
  const int64_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;
  EMBER_CHECK(g.h + 2 * g.ph >= eh && g.w + 2 * g.pw >= ew,
              "{}: input {} padded to {}x{} is smaller than the (dilated) kernel {}x{} (weight {})", op,
              shape_str(x.shape()), g.h + 2 * g.ph, g.w + 2 * g.pw, eh, ew, shape_str(weight.shape()));

  Tensor out = Tensor::empty({g.n, cout, g.oh(), g.ow()}, x.options());
  const bool has_bias = fill_bias(bias, out);
  lower(x, weight.detach().contiguous(), g, G, out, has_bias);
  if (has_bias) record<Conv2dBackward>({x, weight, bias}, {out}, x, weight, g, G, true);
  else record<Conv2dBackward>({x, weight}, {out}, x, weight, g, G, false);
  return out;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, ConvTranspose2dOptions o) {
  constexpr std::string_view op = "conv_transpose2d";
  check_args(op, x, weight, bias);
  check_params(op, o.stride_h, o.stride_w, o.pad_h, o.pad_w, o.dilation_h, o.dilation_w, o.groups);
  const int64_t cin = weight.size(0), G = o.groups, cout = weight.size(1) * G;
  EMBER_CHECK(x.size(1) == cin, "{}: weight {} expects {} input channels, input {} has {}", op,
              shape_str(weight.shape()), cin, shape_str(x.shape()), x.size(1));
  EMBER_CHECK(cin % G == 0, "{}: input channels {} (weight {}) are not divisible by groups={}", op, cin,
              shape_str(weight.shape()), G);
  EMBER_CHECK(o.output_pad_h >= 0 && o.output_pad_w >= 0 &&
                  (o.output_pad_h < o.stride_h || o.output_pad_h < o.dilation_h) &&
                  (o.output_pad_w < o.stride_w || o.output_pad_w < o.dilation_w),
              "{}: output padding ({}, {}) must be smaller than either stride ({}, {}) or dilation ({}, {})", op,
              o.output_pad_h, o.output_pad_w, o.stride_h, o.stride_w, o.dilation_h, o.dilation_w);
  check_bias(op, bias, cout, weight);
  const int64_t kh = weight.size(2), kw = weight.size(3);
  const int64_t oh = (x.size(2) - 1) * o.stride_h - 2 * o.pad_h + o.dilation_h * (kh - 1) + o.output_pad_h + 1;
  const int64_t ow = (x.size(3) - 1) * o.stride_w - 2 * o.pad_w + o.dilation_w * (kw - 1) + o.output_pad_w + 1;
  EMBER_CHECK(oh >= 1 && ow >= 1, "{}: output size {}x{} is not positive (input {}, weight {}, padding ({}, {}))",
              op, oh, ow, shape_str(x.shape()), shape_str(weight.shape()), o.pad_h, o.pad_w);
  // The conv this op is the adjoint of: y [N, Cout, oh, ow] -> [N, Cin, H', W'] with weight w.
  const Conv2dGeom g{.n = x.size(0), .c = cout, .h = oh, .w = ow, .kh = kh, .kw = kw, .sh = o.stride_h,
                     .sw = o.stride_w, .ph = o.pad_h, .pw = o.pad_w, .dh = o.dilation_h, .dw = o.dilation_w};

  Tensor out = Tensor::empty({g.n, cout, oh, ow}, x.options());
  if (!fill_bias(bias, out)) backend_of(out).fill(out, 0);
  raise(pad_to_conv_output(x, g), weight.detach().contiguous(), g, G, out);
  if (bias.defined()) record<ConvTranspose2dBackward>({x, weight, bias}, {out}, x, weight, g, G, true);
  else record<ConvTranspose2dBackward>({x, weight}, {out}, x, weight, g, G, false);
  return out;
}

}  // namespace ember
