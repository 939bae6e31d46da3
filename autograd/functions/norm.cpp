// Normalisation: layer_norm and rms_norm (fused backend primitives, forward and backward), and
// group_norm / batch_norm built on the layer-norm primitive plus broadcast affine ops.
//
// Legend: N batch, C channels, G groups, D normalised features (product of normalized_shape),
// M elements per normalised row (group_norm: C/G * spatial; batch_norm: N * spatial).
// Every op flattens to contiguous rows [R, D] and calls the backend (kernels: tensor/cpu/norm.cpp,
// cuda/kernels/norm.cu); the derivation of each backward sits beside its node below. Statistics
// (mean, rstd) are saved in x's dtype, shape [R].
//  * group_norm: rows are [N*G, M] (each row is one sample's group), then y * w[c] + b[c].
//  * batch_norm (training): the fused batch_norm_fwd/bwd primitives on [N, C, spatial] in place
//    (CPU); on a backend without them, rows are [C, N*spatial] after moving C first, so the
//    layer-norm kernel normalises each channel over the batch. Running stats are then updated in
//    place.
#include <cmath>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// ---- layer norm on contiguous rows ----
// Inputs (x, weight, bias). The backend's layer_norm_bwd returns, per row of D features, with
// xhat = (x - mean) * rstd and g = grad_y * w (or grad_y without weight):
//   grad_x = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat))
//   grad_w_j = sum_rows grad_y_j * xhat_j,   grad_b_j = sum_rows grad_y_j.
// Derivation: y_j = xhat_j w_j + b_j with d mean / d x_k = 1/D and
//   d rstd / d x_k = -rstd^3 (x_k - mean) / D, so
//   grad_x_k = sum_j g_j d xhat_j / d x_k = rstd g_k - rstd/D sum_j g_j - rstd^3 (x_k - mean)/D sum_j g_j (x_j - mean)
//            = rstd (g_k - mean_j(g_j) - xhat_k mean_j(g_j xhat_j)).
class LayerNormBackward final : public Node {
 public:
  LayerNormBackward(const Tensor& x_rows, const Tensor& w, const Tensor& mean, const Tensor& rstd)
      : x_(x_rows), w_(w), mean_(mean), rstd_(rstd) {}
  std::string name() const override { return "LayerNormBackward"; }
  void release_saved() override {
    x_.release();
    w_.release();
    mean_.release();
    rstd_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), mean = mean_.unpack(*this), rstd = rstd_.unpack(*this);
    Tensor w = w_.defined() ? w_.unpack(*this) : Tensor();
    Tensor gy = grads[0].contiguous().reshape(x.shape());
    const int64_t d = x.size(1);
    Tensor gx = Tensor::empty(x.shape(), x.options());
    Tensor gw = needs_input_grad(1) ? Tensor::empty({d}, x.options()) : Tensor();
    Tensor gb = needs_input_grad(2) ? Tensor::empty({d}, x.options()) : Tensor();
    backend_of(x).layer_norm_bwd(x, w, mean, rstd, gy, gx, gw, gb);
    const Shape& xs = outputs[0].shape;
    return {needs_input_grad(0) ? gx.reshape(xs) : Tensor(), gw.defined() ? gw.reshape(w_shape_) : Tensor(),
            gb.defined() ? gb.reshape(w_shape_) : Tensor()};
  }
  Shape w_shape_;  // normalized_shape, for reshaping grad_weight / grad_bias

 private:
  SavedTensor x_, w_, mean_, rstd_;
};

// ---- RMS norm on contiguous rows ----
// Inputs (x, weight). With r = rstd = (mean_j x_j^2 + eps)^(-1/2) and g_j = grad_y_j * w_j:
//   d r / d x_k = -1/2 (mean x^2 + eps)^(-3/2) * 2 x_k / D = -r^3 x_k / D
//   grad_x_k = sum_j g_j d(x_j r)/d x_k = g_k r + sum_j g_j x_j (-r^3 x_k / D)
//            = r * (g_k - x_k * r^2 * mean_j(g_j x_j))
//   grad_w_j = sum_rows grad_y_j * x_j * r
class RmsNormBackward final : public Node {
 public:
  RmsNormBackward(const Tensor& x_rows, const Tensor& w, const Tensor& rstd) : x_(x_rows), w_(w), rstd_(rstd) {}
  std::string name() const override { return "RmsNormBackward"; }
  void release_saved() override {
    x_.release();
    w_.release();
    rstd_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), rstd = rstd_.unpack(*this);
    Tensor w = w_.defined() ? w_.unpack(*this) : Tensor();
    Tensor gy = grads[0].contiguous().reshape(x.shape());
    Tensor gx = Tensor::empty(x.shape(), x.options());
    Tensor gw = needs_input_grad(1) ? Tensor::empty({x.size(1)}, x.options()) : Tensor();
    backend_of(x).rms_norm_bwd(x, w, rstd, gy, gx, gw);
    return {needs_input_grad(0) ? gx.reshape(outputs[0].shape) : Tensor(), gw};
  }

 private:
  SavedTensor x_, w_, rstd_;
};

// ---- batch norm (training) on the fused primitive ----
// Inputs (x, weight, bias), x contiguous [N, C, *]. The backend's batch_norm_bwd is the layer-norm
// derivation above with each channel's N * spatial values as the row and w[c] a per-row scalar:
//   grad_x = w rstd (grad_y - mean(grad_y) - xhat mean(grad_y xhat)),
//   grad_w[c] = sum grad_y * xhat, grad_b[c] = sum grad_y.
class BatchNormBackward final : public Node {
 public:
  BatchNormBackward(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& var, double eps)
      : x_(x), w_(w), mean_(mean), var_(var), eps_(eps) {}
  std::string name() const override { return "BatchNormBackward"; }
  void release_saved() override {
    x_.release();
    w_.release();
    mean_.release();
    var_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), mean = mean_.unpack(*this), var = var_.unpack(*this);
    Tensor w = w_.defined() ? w_.unpack(*this) : Tensor();
    Tensor gy = grads[0].contiguous();
    const int64_t c = x.size(1);
    Tensor gx = needs_input_grad(0) ? Tensor::empty(x.shape(), x.options()) : Tensor();
    Tensor gw = needs_input_grad(1) ? Tensor::empty({c}, x.options()) : Tensor();
    Tensor gb = needs_input_grad(2) ? Tensor::empty({c}, x.options()) : Tensor();
    EMBER_CHECK(backend_of(x).batch_norm_bwd(x, w, mean, var, eps_, gy, gx, gw, gb),
                "batch_norm: the {} backend ran the fused forward but refused its backward", x.device().str());
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_, mean_, var_;
  double eps_;
};

void check_affine(const Tensor& x, const Tensor& p, const Shape& expect, const char* op, const char* name) {
  if (!p.defined()) return;
  check_same_dtype(x, p, op);
  check_same_device(x, p, op);
  EMBER_CHECK(p.shape() == expect, "{}: {} has shape {}, expected {} (input {})", op, name, shape_str(p.shape()),
              shape_str(expect), shape_str(x.shape()));
}

// Layer norm of x over its trailing dims of total size d; returns y (x's shape) and, when asked,
// the per-row mean (for batch_norm's running stats). Inputs are already validated.
Tensor layer_norm_impl(const Tensor& x, int64_t d, const Shape& normalized_shape, const Tensor& weight,
                       const Tensor& bias, double eps, Tensor* mean_out = nullptr) {
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  Tensor xr = x.detach().contiguous().reshape({rows, d});
  Tensor w = weight.defined() ? weight.detach().contiguous().reshape({d}) : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous().reshape({d}) : Tensor();
  Tensor y = Tensor::empty(xr.shape(), x.options());
  Tensor mean = Tensor::empty({rows}, x.options()), rstd = Tensor::empty({rows}, x.options());
  backend_of(x).layer_norm_fwd(xr, w, b, eps, y, mean, rstd);
  y = y.reshape(x.shape());
  if (auto node = record<LayerNormBackward>({x, weight, bias}, {y}, xr, w, mean, rstd))
    node->w_shape_ = normalized_shape;
  if (mean_out) *mean_out = mean;
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  check_defined(x, op, "x");
  check_floating(x, op);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  EMBER_CHECK(k >= 1 && k <= x.dim() && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
              "{}: normalized_shape {} must be the trailing dims of input {}", op, shape_str(normalized_shape),
              shape_str(x.shape()));
  EMBER_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  check_affine(x, weight, normalized_shape, op, "weight");
  check_affine(x, bias, normalized_shape, op, "bias");
  return layer_norm_impl(x, numel_of(normalized_shape), normalized_shape, weight, bias, eps);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  const char* op = "rms_norm";
  check_defined(x, op, "x");
  check_floating(x, op);
  EMBER_CHECK(x.dim() >= 1, "{}: input must have at least 1 dim, got {}", op, shape_str(x.shape()));
  EMBER_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  const int64_t d = x.size(-1);
  if (weight.defined()) {
    check_same_dtype(x, weight, op);
    check_same_device(x, weight, op);
    EMBER_CHECK(weight.shape() == Shape{d}, "{}: weight has shape {}, expected [{}] (last dim of input {})", op,
                shape_str(weight.shape()), d, shape_str(x.shape()));
  }
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  Tensor xr = x.detach().contiguous().reshape({rows, d});
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor y = Tensor::empty(xr.shape(), x.options());
  Tensor rstd = Tensor::empty({rows}, x.options());
  backend_of(x).rms_norm_fwd(xr, w, eps, y, rstd);
  y = y.reshape(x.shape());
  record<RmsNormBackward>({x, weight}, {y}, xr, w, rstd);
  return y;
}

namespace {
// [1, C, 1, ...] with x.dim() entries: a per-channel parameter broadcast over x [N, C, ...].
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}

Tensor channel_affine(Tensor y, const Tensor& weight, const Tensor& bias) {
  if (weight.defined()) y = y * weight.reshape(channel_shape(y));
  if (bias.defined()) y = y + bias.reshape(channel_shape(y));
  return y;
}
}  // namespace

// x [N, C, *]: each sample's C/G channels of a group (with all spatial positions) form one row
// [N*G, M] normalised by the layer-norm kernel (no affine), then y * w[c] + b[c] by broadcast.
// Gradients flow through the reshape, LayerNormBackward and the broadcast mul/add.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_defined(x, op, "x");
  check_floating(x, op);
  EMBER_CHECK(x.dim() >= 2, "{}: input must be [N, C, *], got {}", op, shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1);
  EMBER_CHECK(num_groups >= 1 && c % num_groups == 0, "{}: num_groups {} must divide the {} channels of input {}",
              op, num_groups, c, shape_str(x.shape()));
  EMBER_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  check_affine(x, weight, {c}, op, "weight");
  check_affine(x, bias, {c}, op, "bias");
  int64_t m = c / num_groups;  // elements per row: C/G channels times every spatial position
  for (int64_t i = 2; i < x.dim(); ++i) m *= x.size(i);
  Tensor rows = x.reshape({n * num_groups, m});
  Tensor y = layer_norm_impl(rows, m, {m}, {}, {}, eps).reshape(x.shape());
  return channel_affine(y, weight, bias);
}

// Training (or no running stats): statistics over every dim but 1, by the fused batch_norm_fwd /
// batch_norm_bwd primitives where the backend has them (CPU); otherwise the channel-first view
// [C, N*spatial] runs through the layer-norm kernel (no affine), so the backward is the fused one;
// running_mean / running_var (if given) become (1 - momentum) * old + momentum * batch stat, with
// the unbiased batch variance (PyTorch), in place under NoGradGuard (their versions are bumped).
// Eval: y = (x - running_mean) / sqrt(running_var + eps), a composite differentiable in x.
// Both then apply y * w[c] + b[c].
void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const Tensor& batch_mean,
                          const Tensor& batch_var_unbiased, double momentum) {
  NoGradGuard no_grad;
  Tensor rm = running_mean, rv = running_var;  // handles: the in-place ops act on the caller's tensors
  rm.mul_(1.0 - momentum).add_(batch_mean.detach(), momentum);
  rv.mul_(1.0 - momentum).add_(batch_var_unbiased.detach(), momentum);
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_defined(x, op, "x");
  check_floating(x, op);
  EMBER_CHECK(x.dim() >= 2, "{}: input must be [N, C, *], got {}", op, shape_str(x.shape()));
  const int64_t c = x.size(1);
  EMBER_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  check_affine(x, weight, {c}, op, "weight");
  check_affine(x, bias, {c}, op, "bias");
  check_affine(x, running_mean, {c}, op, "running_mean");
  check_affine(x, running_var, {c}, op, "running_var");
  EMBER_CHECK(running_mean.defined() == running_var.defined(),
              "{}: running_mean and running_var must both be given or both be undefined", op);

  const bool batch_stats = training || !running_mean.defined();
  if (!batch_stats) {
    Tensor mu = running_mean.reshape(channel_shape(x));
    Tensor inv = rsqrt(running_var + eps).reshape(channel_shape(x));
    return channel_affine((x - mu) * inv, weight, bias);
  }

  const int64_t m = c == 0 ? 0 : x.numel() / c;
  EMBER_CHECK(m > 1, "{}: expected more than 1 value per channel when training, got input {}", op,
              shape_str(x.shape()));
  {  // the fused primitive, where the backend has it
    Tensor xc = x.detach().contiguous();
    Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
    Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
    Tensor y = Tensor::empty(x.shape(), x.options());
    Tensor mean = Tensor::empty({c}, x.options()), var = Tensor::empty({c}, x.options());
    if (backend_of(x).batch_norm_fwd(xc, w, b, eps, y, mean, var)) {
      record<BatchNormBackward>({x, weight, bias}, {y}, xc, w, mean, var, eps);
      if (running_mean.defined())
        update_running_stats(running_mean, running_var, mean,
                             var * (static_cast<double>(m) / static_cast<double>(m - 1)), momentum);
      return y;
    }
  }
  Tensor xt = x.transpose(0, 1);  // [C, N, *]
  Tensor rows = xt.contiguous().reshape({c, m});
  Tensor batch_mean;
  Tensor y = layer_norm_impl(rows, m, {m}, {}, {}, eps, &batch_mean);
  y = y.reshape(xt.shape()).transpose(0, 1).contiguous();
  if (running_mean.defined())
    update_running_stats(running_mean, running_var, batch_mean, var(rows.detach(), {1}, /*correction=*/1),
                         momentum);
  return channel_affine(y, weight, bias);
}

}  // namespace ember
