// conv2d and conv_transpose2d: argument checks and the Backward nodes. The arithmetic is the
// backend's: Backend::conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weight (tensor/backend.h; the CPU
// lowers to im2col + GEMM in tensor/cpu/conv.cpp, CUDA runs implicit-GEMM kernels, cuda/conv.cpp).
//
// Everything below is phrased in the *conv* direction: an image [N, C, H, W] is convolved with a
// weight [M, C/G, kh, kw] into [N, M, OH, OW]. conv_transpose2d's weight [Cin, Cout/G, kh, kw] is
// exactly a conv weight mapping Cout -> Cin channels, so it is the adjoint of that conv: its
// forward is the conv's bwd_data, its backward the conv's fwd (grad_x) and bwd_weight.
#include <string>
#include <string_view>
#include <vector>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

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
//   grad_x = conv^T(g)                                (conv2d_bwd_data, `+=` into zeros)
//   grad_w = sum_n g[n, g] (x) im2col(x)[n, g]        (conv2d_bwd_weight)
//   grad_b = sum of g over N, OH, OW
class Conv2dBackward final : public Node {
 public:
  Conv2dBackward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, bool has_bias)
      : x_(x), w_(w), geom_(g), has_bias_(has_bias) {}
  std::string name() const override { return "Conv2dBackward"; }
  void release_saved() override { x_.release(); w_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), w = w_.unpack(*this).contiguous();
    Tensor g = grads[0].contiguous();
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) {
      gx = Tensor::zeros(x.shape(), x.options());
      backend_of(g).conv2d_bwd_data(g, w, geom_, gx);
    }
    if (needs_input_grad(1)) {
      gw = Tensor::empty(w.shape(), w.options());
      backend_of(g).conv2d_bwd_weight(g, x, geom_, gw);
    }
    if (!has_bias_) return {gx, gw};
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3});
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_;
  Conv2dGeom geom_;
  bool has_bias_;
};

// ---- conv_transpose2d ----
// y = conv^T(x) (conv2d_bwd_data) for the conv y -> x with weight w (geometry on y). That conv maps [H', W'] >= [H, W]
// when output_padding >= stride (H' = H + output_pad / stride), so x is zero-padded to [H', W']
// (x_pad) and grad_x cropped back. Backward, with g = grad_y [N, Cout, OH, OW]:
//   grad_x = conv(g)[:, :, :H, :W]                    (conv2d_fwd)
//   grad_w = sum_n x_pad[n, g] (x) im2col(g)[n, g]     (conv2d_bwd_weight, roles of x and y swapped)
//   grad_b = sum of g over N, OH, OW
Tensor pad_to_conv_output(const Tensor& x, const Conv2dGeom& g) {
  if (g.oh() == x.size(2) && g.ow() == x.size(3)) return x.detach().contiguous();
  Tensor xp = Tensor::zeros({x.size(0), x.size(1), g.oh(), g.ow()}, x.options());
  backend_of(x).copy(x, xp.as_strided(x.shape(), xp.strides(), xp.offset()));
  return xp;
}

class ConvTranspose2dBackward final : public Node {
 public:
  ConvTranspose2dBackward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, bool has_bias)
      : x_(x), w_(w), geom_(g), has_bias_(has_bias) {}
  std::string name() const override { return "ConvTranspose2dBackward"; }
  void release_saved() override { x_.release(); w_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), w = w_.unpack(*this).contiguous();
    Tensor g = grads[0].contiguous();
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) {
      Tensor full = Tensor::empty({x.size(0), x.size(1), geom_.oh(), geom_.ow()}, x.options());
      backend_of(g).conv2d_fwd(g, w, geom_, full, false);
      gx = full.shape() == x.shape() ? full : full.as_strided(x.shape(), full.strides(), full.offset()).contiguous();
    }
    if (needs_input_grad(1)) {
      gw = Tensor::empty(w.shape(), w.options());
      backend_of(g).conv2d_bwd_weight(pad_to_conv_output(x, geom_), g, geom_, gw);
    }
    if (!has_bias_) return {gx, gw};
    if (needs_input_grad(2)) gb = sum(g, {0, 2, 3});
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_;
  Conv2dGeom geom_;
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
                     .ph = o.pad_h, .pw = o.pad_w, .dh = o.dilation_h, .dw = o.dilation_w, .groups = G};
  const int64_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;
  EMBER_CHECK(g.h + 2 * g.ph >= eh && g.w + 2 * g.pw >= ew,
              "{}: input {} padded to {}x{} is smaller than the (dilated) kernel {}x{} (weight {})", op,
              shape_str(x.shape()), g.h + 2 * g.ph, g.w + 2 * g.pw, eh, ew, shape_str(weight.shape()));

  Tensor out = Tensor::empty({g.n, cout, g.oh(), g.ow()}, x.options());
  const bool has_bias = fill_bias(bias, out);
  backend_of(x).conv2d_fwd(x, weight.detach().contiguous(), g, out, has_bias);
  if (has_bias) record<Conv2dBackward>({x, weight, bias}, {out}, x, weight, g, true);
  else record<Conv2dBackward>({x, weight}, {out}, x, weight, g, false);
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
                     .sw = o.stride_w, .ph = o.pad_h, .pw = o.pad_w, .dh = o.dilation_h, .dw = o.dilation_w,
                     .groups = G};

  Tensor out = Tensor::empty({g.n, cout, oh, ow}, x.options());
  if (!fill_bias(bias, out)) backend_of(out).fill(out, 0);
  backend_of(out).conv2d_bwd_data(pad_to_conv_output(x, g), weight.detach().contiguous(), g, out);
  if (bias.defined()) record<ConvTranspose2dBackward>({x, weight, bias}, {out}, x, weight, g, true);
  else record<ConvTranspose2dBackward>({x, weight}, {out}, x, weight, g, false);
  return out;
}

}  // namespace ember
