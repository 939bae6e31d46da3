#include "nn/layers.h"

#include <cmath>

#include "nn/init.h"

namespace ember::nn {
namespace {

// PyTorch's default for Linear/Conv: kaiming_uniform(a = sqrt(5)) on the weight, which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same range.
void default_init(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

void check_positive(int64_t v, const char* layer, const char* what) {
  EMBER_CHECK(v > 0, "{}: {} must be positive, got {}", layer, what, v);
}

// Shared by Conv2d and ConvTranspose2d: positive sizes, channels divisible by groups.
void check_conv_args(const char* layer, int64_t in, int64_t out, int64_t k, const ConvOptions& o) {
  check_positive(in, layer, "in_channels");
  check_positive(out, layer, "out_channels");
  check_positive(k, layer, "kernel_size");
  check_positive(o.groups, layer, "groups");
  EMBER_CHECK(in % o.groups == 0 && out % o.groups == 0, "{}: channels {} -> {} are not divisible by groups {}", layer,
              in, out, o.groups);
}

void check_input(const Tensor& x, const std::string& layer, int64_t dims, int64_t channels) {
  check_defined(x, layer, "input");
  EMBER_CHECK(x.dim() == dims && x.size(1) == channels, "{}: expected input [N, {}, ...] with {} dims, got {}", layer,
              channels, dims, shape_str(x.shape()));
}

std::string pool_repr(const Pool2dOptions& o) {
  return fmt::format("kernel={}, stride={}, padding={}", o.kernel_h, o.stride_h, o.pad_h);
}

Pool2dOptions pool_opts(int64_t k, std::optional<int64_t> stride, int64_t padding, bool include_pad) {
  check_positive(k, "pool", "kernel_size");
  const int64_t s = stride.value_or(k);
  check_positive(s, "pool", "stride");
  EMBER_CHECK(padding >= 0 && 2 * padding <= k, "pool: padding {} must be in [0, kernel/2] (kernel {})", padding, k);
  return {.kernel_h = k, .kernel_w = k, .stride_h = s, .stride_w = s, .pad_h = padding, .pad_w = padding,
          .count_include_pad = include_pad};
}

}  // namespace

// ---- dense ----

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias) {
  check_positive(in_features, "Linear", "in_features");
  check_positive(out_features, "Linear", "out_features");
  weight = register_parameter("weight", Tensor::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", Tensor::empty({out_features}));
  default_init(weight, bias);
}

Tensor Linear::forward(const Tensor& x) {
  check_defined(x, "Linear", "input");
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "Linear({}): expected input [..., {}], got {}",
              extra_repr(), weight.size(1), shape_str(x.shape()));
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in={}, out={}, bias={}", weight.size(1), weight.size(0), bias.defined());
}

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim) {
  check_positive(num_embeddings, "Embedding", "num_embeddings");
  check_positive(embedding_dim, "Embedding", "embedding_dim");
  weight = register_parameter("weight", Tensor::empty({num_embeddings, embedding_dim}));
  init::normal_(weight, 0.0, 1.0);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

std::string Embedding::extra_repr() const { return fmt::format("{}, {}", weight.size(0), weight.size(1)); }

// ---- convolution ----

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, ConvOptions o)
    : in_channels(in), out_channels(out), kernel_size(k), opts(o) {
  check_conv_args("Conv2d", in, out, k, o);
  weight = register_parameter("weight", Tensor::empty({out, in / o.groups, k, k}));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({out}));
  default_init(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) {
  check_input(x, "Conv2d(" + extra_repr() + ")", 4, in_channels);
  return conv2d(x, weight, bias,
                {.stride_h = opts.stride, .stride_w = opts.stride, .pad_h = opts.padding, .pad_w = opts.padding,
                 .dilation_h = opts.dilation, .dilation_w = opts.dilation, .groups = opts.groups});
}

std::string Conv2d::extra_repr() const {
  return fmt::format("{}, {}, kernel={}, stride={}, padding={}{}{}", in_channels, out_channels, kernel_size,
                     opts.stride, opts.padding, opts.groups > 1 ? fmt::format(", groups={}", opts.groups) : "",
                     opts.bias ? "" : ", bias=false");
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, ConvOptions o)
    : in_channels(in), out_channels(out), kernel_size(k), opts(o) {
  check_conv_args("ConvTranspose2d", in, out, k, o);
  weight = register_parameter("weight", Tensor::empty({in, out / o.groups, k, k}));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({out}));
  default_init(weight, bias);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input(x, "ConvTranspose2d(" + extra_repr() + ")", 4, in_channels);
  return conv_transpose2d(x, weight, bias,
                          {.stride_h = opts.stride, .stride_w = opts.stride, .pad_h = opts.padding,
                           .pad_w = opts.padding, .output_pad_h = opts.output_padding,
                           .output_pad_w = opts.output_padding, .dilation_h = opts.dilation,
                           .dilation_w = opts.dilation, .groups = opts.groups});
}

std::string ConvTranspose2d::extra_repr() const {
  return fmt::format("{}, {}, kernel={}, stride={}, padding={}{}", in_channels, out_channels, kernel_size,
                     opts.stride, opts.padding, opts.bias ? "" : ", bias=false");
}

// ---- normalisation ----

BatchNorm2d::BatchNorm2d(int64_t c, BatchNormOptions o) : num_features(c), opts(o) {
  check_positive(c, "BatchNorm2d", "num_features");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", Tensor::zeros({c}));
    running_var = register_buffer("running_var", Tensor::ones({c}));
  }
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  check_input(x, "BatchNorm2d(" + extra_repr() + ")", 4, num_features);
  const bool use_batch_stats = is_training() || !opts.track_running_stats;
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, opts.momentum, opts.eps);
}

std::string BatchNorm2d::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}", num_features, opts.eps, opts.momentum);
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double e, bool affine)
    : num_groups(groups), num_channels(channels), eps(e) {
  check_positive(groups, "GroupNorm", "num_groups");
  EMBER_CHECK(channels > 0 && channels % groups == 0, "GroupNorm: {} channels are not divisible into {} groups",
              channels, groups);
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({channels}));
    bias = register_parameter("bias", Tensor::zeros({channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  check_defined(x, "GroupNorm", "input");
  EMBER_CHECK(x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm({}): expected input [N, {}, ...], got {}",
              extra_repr(), num_channels, shape_str(x.shape()));
  return group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const { return fmt::format("{}, {}, eps={}", num_groups, num_channels, eps); }

LayerNorm::LayerNorm(Shape shape, double e, bool affine) : normalized_shape(std::move(shape)), eps(e) {
  EMBER_CHECK(!normalized_shape.empty() && numel_of(normalized_shape) > 0,
              "LayerNorm: normalized_shape must be non-empty with positive sizes, got {}",
              shape_str(normalized_shape));
  if (affine) {
    weight = register_parameter("weight", Tensor::ones(normalized_shape));
    bias = register_parameter("bias", Tensor::zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const { return fmt::format("{}, eps={}", shape_str(normalized_shape), eps); }

RMSNorm::RMSNorm(int64_t dim, double e) : eps(e) {
  check_positive(dim, "RMSNorm", "dim");
  weight = register_parameter("weight", Tensor::ones({dim}));
}

Tensor RMSNorm::forward(const Tensor& x) {
  check_defined(x, "RMSNorm", "input");
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(0), "RMSNorm({}): expected input [..., {}], got {}",
              extra_repr(), weight.size(0), shape_str(x.shape()));
  return rms_norm(x, weight, eps);
}

std::string RMSNorm::extra_repr() const { return fmt::format("{}, eps={}", weight.size(0), eps); }

// ---- pooling, resampling, regularisation ----

MaxPool2d::MaxPool2d(int64_t k, std::optional<int64_t> stride, int64_t padding)
    : opts(pool_opts(k, stride, padding, true)) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, opts); }
std::string MaxPool2d::extra_repr() const { return pool_repr(opts); }

AvgPool2d::AvgPool2d(int64_t k, std::optional<int64_t> stride, int64_t padding, bool count_include_pad)
    : opts(pool_opts(k, stride, padding, count_include_pad)) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, opts); }
std::string AvgPool2d::extra_repr() const { return pool_repr(opts); }

Upsample::Upsample(int64_t scale, UpsampleMode m, bool align) : scale_factor(scale), mode(m), align_corners(align) {
  check_positive(scale, "Upsample", "scale_factor");
}

Tensor Upsample::forward(const Tensor& x) {
  check_defined(x, "Upsample", "input");
  EMBER_CHECK(x.dim() == 4, "Upsample: expected input [N, C, H, W], got {}", shape_str(x.shape()));
  return upsample(x, x.size(2) * scale_factor, x.size(3) * scale_factor, mode, align_corners);
}

std::string Upsample::extra_repr() const {
  return fmt::format("scale={}, mode={}", scale_factor, mode == UpsampleMode::nearest ? "nearest" : "bilinear");
}

Dropout::Dropout(double prob) : p(prob) {
  EMBER_CHECK(prob >= 0 && prob < 1, "Dropout: p must be in [0, 1), got {}", prob);
}

std::string Dropout::extra_repr() const { return fmt::format("p={}", p); }

}  // namespace ember::nn
