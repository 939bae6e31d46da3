// Pooling and resampling ops, forward and backward: max_pool2d (with indices), avg_pool2d,
// adaptive_avg_pool2d, upsample (nearest, bilinear). Kernels: tensor/cpu/pool.cpp.
//
// Legend: N batch, C channels, H/W input size, OH/OW output size. Inputs are [N, C, H, W] (any
// strides; made contiguous before the kernel); outputs are contiguous [N, C, OH, OW]. Semantics are
// PyTorch's with ceil_mode false and no dilation; the window/bin/tap formulas are in the kernels.
#include <string>
#include <string_view>
#include <vector>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

void check_image(const Tensor& x, std::string_view op) {
  check_defined(x, op, "input");
  check_floating(x, op);
  EMBER_CHECK(x.dim() == 4, "{}: expected a 4-D input [N, C, H, W], got {}", op, shape_str(x.shape()));
}

// Checks the options and turns them into the kernels' geometry (stride 0 = kernel size).
Pool2dGeom pool_geom(const Tensor& x, const Pool2dOptions& o, std::string_view op) {
  check_image(x, op);
  Pool2dGeom g{.kh = o.kernel_h, .kw = o.kernel_w, .sh = o.stride_h == 0 ? o.kernel_h : o.stride_h,
               .sw = o.stride_w == 0 ? o.kernel_w : o.stride_w, .ph = o.pad_h, .pw = o.pad_w,
               .count_include_pad = o.count_include_pad};
  EMBER_CHECK(g.kh >= 1 && g.kw >= 1, "{}: kernel size ({}, {}) must be positive", op, g.kh, g.kw);
  EMBER_CHECK(g.sh >= 1 && g.sw >= 1, "{}: stride ({}, {}) must be positive (0 means the kernel size)", op,
              o.stride_h, o.stride_w);
  EMBER_CHECK(g.ph >= 0 && g.pw >= 0 && 2 * g.ph <= g.kh && 2 * g.pw <= g.kw,
              "{}: padding ({}, {}) must be between 0 and half the kernel size ({}, {})", op, g.ph, g.pw, g.kh, g.kw);
  EMBER_CHECK(x.size(2) + 2 * g.ph >= g.kh && x.size(3) + 2 * g.pw >= g.kw,
              "{}: input {} padded by ({}, {}) is smaller than the kernel {}x{}", op, shape_str(x.shape()), g.ph,
              g.pw, g.kh, g.kw);
  return g;
}

Shape pooled_shape(const Tensor& x, int64_t oh, int64_t ow) { return {x.size(0), x.size(1), oh, ow}; }

// ---- max_pool2d: y[o] = x[idx[o]], idx = argmax over the window.
// Backward: grad_x[idx[o]] += grad_y[o]   (max_pool2d_bwd, `=` into a fresh grad_x)
class MaxPool2dBackward final : public Node {
 public:
  MaxPool2dBackward(const Tensor& indices, Shape in_shape) : indices_(indices), in_shape_(std::move(in_shape)) {}
  std::string name() const override { return "MaxPool2dBackward"; }
  void release_saved() override { indices_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor idx = indices_.unpack(*this), g = grads[0].contiguous();
    Tensor gx = Tensor::empty(in_shape_, g.options());
    backend_of(g).max_pool2d_bwd(g, idx, gx);
    return {gx};
  }

 private:
  SavedTensor indices_;
  Shape in_shape_;
};

// ---- avg_pool2d: y[o] = sum over window(o) of x / divisor(o).
// Backward: grad_x[window(o)] += grad_y[o] / divisor(o)
class AvgPool2dBackward final : public Node {
 public:
  AvgPool2dBackward(const Pool2dGeom& g, Shape in_shape) : geom_(g), in_shape_(std::move(in_shape)) {}
  std::string name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor g = grads[0].contiguous(), gx = Tensor::empty(in_shape_, g.options());
    backend_of(g).avg_pool2d_bwd(g, geom_, gx);
    return {gx};
  }

 private:
  Pool2dGeom geom_;
  Shape in_shape_;
};

// ---- adaptive_avg_pool2d: y[i, j] = mean of x over bin rows [floor(i*H/OH), ceil((i+1)*H/OH)) and
// the same bin columns. Backward: grad_x[bin(o)] += grad_y[o] / |bin(o)|
class AdaptiveAvgPool2dBackward final : public Node {
 public:
  explicit AdaptiveAvgPool2dBackward(Shape in_shape) : in_shape_(std::move(in_shape)) {}
  std::string name() const override { return "AdaptiveAvgPool2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor g = grads[0].contiguous(), gx = Tensor::empty(in_shape_, g.options());
    backend_of(g).adaptive_avg_pool2d_bwd(g, gx);
    return {gx};
  }

 private:
  Shape in_shape_;
};

// ---- upsample: y[o] = sum over taps t(o) of weight_t * x[t] (one tap for nearest, 2x2 bilinear).
// Backward: grad_x[t] += weight_t * grad_y[o] for every tap of every output pixel.
class Upsample2dBackward final : public Node {
 public:
  Upsample2dBackward(UpsampleMode mode, bool align_corners, Shape in_shape)
      : mode_(mode), align_corners_(align_corners), in_shape_(std::move(in_shape)) {}
  std::string name() const override { return "Upsample2dBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor g = grads[0].contiguous(), gx = Tensor::empty(in_shape_, g.options());
    backend_of(g).upsample2d_bwd(g, mode_, align_corners_, gx);
    return {gx};
  }

 private:
  UpsampleMode mode_;
  bool align_corners_;
  Shape in_shape_;
};

}  // namespace

ValuesIndices max_pool2d_with_indices(const Tensor& x, Pool2dOptions opts) {
  const Pool2dGeom g = pool_geom(x, opts, "max_pool2d");
  const Shape s = pooled_shape(x, g.out_h(x.size(2)), g.out_w(x.size(3)));
  Tensor out = Tensor::empty(s, x.options());
  Tensor indices = Tensor::empty(s, {.dtype = DType::i64, .device = x.device()});
  backend_of(x).max_pool2d_fwd(x.detach().contiguous(), g, out, indices);
  record<MaxPool2dBackward>({x}, {out}, indices, x.shape());
  return {out, indices};
}

Tensor max_pool2d(const Tensor& x, Pool2dOptions opts) { return max_pool2d_with_indices(x, opts).values; }

Tensor avg_pool2d(const Tensor& x, Pool2dOptions opts) {
  const Pool2dGeom g = pool_geom(x, opts, "avg_pool2d");
  Tensor out = Tensor::empty(pooled_shape(x, g.out_h(x.size(2)), g.out_w(x.size(3))), x.options());
  backend_of(x).avg_pool2d_fwd(x.detach().contiguous(), g, out);
  record<AvgPool2dBackward>({x}, {out}, g, x.shape());
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_image(x, "adaptive_avg_pool2d");
  EMBER_CHECK(out_h >= 1 && out_w >= 1, "adaptive_avg_pool2d: output size {}x{} must be positive (input {})", out_h,
              out_w, shape_str(x.shape()));
  EMBER_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "adaptive_avg_pool2d: input {} has an empty spatial dim",
              shape_str(x.shape()));
  Tensor out = Tensor::empty(pooled_shape(x, out_h, out_w), x.options());
  backend_of(x).adaptive_avg_pool2d_fwd(x.detach().contiguous(), out);
  record<AdaptiveAvgPool2dBackward>({x}, {out}, x.shape());
  return out;
}

Tensor upsample(const Tensor& x, int64_t out_h, int64_t out_w, UpsampleMode mode, bool align_corners) {
  check_image(x, "upsample");
  EMBER_CHECK(out_h >= 1 && out_w >= 1, "upsample: output size {}x{} must be positive (input {})", out_h, out_w,
              shape_str(x.shape()));
  EMBER_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "upsample: input {} has an empty spatial dim",
              shape_str(x.shape()));
  const bool ac = mode == UpsampleMode::bilinear && align_corners;  // nearest ignores it
  Tensor out = Tensor::empty(pooled_shape(x, out_h, out_w), x.options());
  backend_of(x).upsample2d_fwd(x.detach().contiguous(), mode, ac, out);
  record<Upsample2dBackward>({x}, {out}, mode, ac, x.shape());
  return out;
}

}  // namespace ember
