// The standard layers. Each registers its parameters/buffers in the constructor, initialised like
// PyTorch's layer of the same name, and keeps handles to them as public members.
// Shapes: N batch, C channels, H/W spatial, `...` any leading dims.
#pragma once

#include <optional>

#include "nn/module.h"

namespace ember::nn {

// ---- dense ----

// y = x W^T + b; x [..., in] -> [..., out]. W [out, in] and b [out] ~ U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor weight, bias;  // bias undefined when built without
};

// Lookup table [num, dim] ~ N(0, 1); indices i64 of any shape -> [..., dim].
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  Tensor weight;
};

// ---- convolution (weights and bias ~ kaiming_uniform(a=sqrt(5)) as in PyTorch) ----

struct ConvOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
  int64_t output_padding = 0;  // ConvTranspose2d only
  bool bias = true;
};

// x [N, in, H, W] -> [N, out, OH, OW]; weight [out, in/groups, k, k].
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, ConvOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  const int64_t in_channels, out_channels, kernel_size;
  const ConvOptions opts;
};

// The adjoint of Conv2d; weight [in, out/groups, k, k] (PyTorch layout).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, ConvOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  const int64_t in_channels, out_channels, kernel_size;
  const ConvOptions opts;
};

// ---- normalisation (weight 1, bias 0) ----

struct BatchNormOptions {
  double eps = 1e-5, momentum = 0.1;
  bool affine = true, track_running_stats = true;
};
// x [N, C, H, W]: batch statistics in training mode (running stats updated), running stats in
// eval mode. Buffers running_mean (0) and running_var (1).
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias, running_mean, running_var;
  const int64_t num_features;
  const BatchNormOptions opts;
};

// x [N, C, ...] normalised over groups of C/num_groups channels.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  const int64_t num_groups, num_channels;
  const double eps;
};

// Normalises over the trailing dims `normalized_shape`.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  const Shape normalized_shape;
  const double eps;
};

// x * rsqrt(mean(x^2, last dim) + eps) * weight.
class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  Tensor weight;
  const double eps;
};

// ---- pooling, resampling, reshaping, regularisation ----

// kernel k, stride (default k), padding.
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel_size, std::optional<int64_t> stride = std::nullopt, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Pool2dOptions opts;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel_size, std::optional<int64_t> stride = std::nullopt, int64_t padding = 0,
                     bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Pool2dOptions opts;
};

// Scales H and W by an integer factor: nearest or bilinear.
class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale_factor, UpsampleMode mode = UpsampleMode::nearest, bool align_corners = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override;
  const int64_t scale_factor;
  const UpsampleMode mode;
  const bool align_corners;
};

// Flattens dims start_dim..end_dim (default: all but the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return flatten(x, start_dim, end_dim); }
  std::string type_name() const override { return "Flatten"; }
  const int64_t start_dim, end_dim;
};

// Zeroes each element with probability p in training mode (scaling the rest by 1/(1-p)).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override { return dropout(x, p, is_training()); }
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  const double p;
};

// ---- activations ----

#define EMBER_ACTIVATION(Name, expr)                                       \
  class Name : public Module {                                             \
   public:                                                                 \
    Tensor forward(const Tensor& x) override { return expr; }              \
    std::string type_name() const override { return #Name; }               \
  };
EMBER_ACTIVATION(Identity, x)
EMBER_ACTIVATION(ReLU, relu(x))
EMBER_ACTIVATION(Sigmoid, sigmoid(x))
EMBER_ACTIVATION(Tanh, tanh(x))
EMBER_ACTIVATION(SiLU, silu(x))
#undef EMBER_ACTIVATION

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string type_name() const override { return "LeakyReLU"; }
  const double negative_slope;
};

class GELU : public Module {
 public:
  explicit GELU(GeluApprox approx = GeluApprox::none) : approx(approx) {}
  Tensor forward(const Tensor& x) override { return gelu(x, approx); }
  std::string type_name() const override { return "GELU"; }
  const GeluApprox approx;
};

class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& x) override { return softmax(x, dim); }
  std::string type_name() const override { return "Softmax"; }
  const int64_t dim;
};

}  // namespace ember::nn
