// The DARTS candidate operations (see ops.h).
#include "hpo/nas/ops.h"

#include <algorithm>

#include <fmt/format.h>

namespace ember::nas {

const std::vector<std::string>& default_ops() {
  static const std::vector<std::string> ops = {"none",         "max_pool_3x3", "avg_pool_3x3", "skip_connect",
                                               "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3"};
  return ops;
}

bool is_known_op(const std::string& name) {
  const auto& ops = default_ops();
  return std::find(ops.begin(), ops.end(), name) != ops.end();
}

bool is_parameter_free(const std::string& name) {
  return name == "none" || name == "max_pool_3x3" || name == "avg_pool_3x3" || name == "skip_connect";
}

ReLUConvBN::ReLUConvBN(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding, bool affine) {
  conv = register_module("conv", std::make_shared<nn::Conv2d>(
                                      c_in, c_out, kernel, nn::ConvOptions{.stride = stride, .padding = padding, .bias = false}));
  bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(c_out, nn::BatchNormOptions{.affine = affine}));
}
Tensor ReLUConvBN::forward(const Tensor& x) { return bn->forward(conv->forward(relu(x))); }

DilConv::DilConv(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation,
                 bool affine) {
  depthwise = register_module(
      "depthwise", std::make_shared<nn::Conv2d>(c_in, c_in, kernel,
                                                nn::ConvOptions{.stride = stride, .padding = padding,
                                                                .dilation = dilation, .groups = c_in, .bias = false}));
  pointwise = register_module("pointwise", std::make_shared<nn::Conv2d>(c_in, c_out, 1, nn::ConvOptions{.bias = false}));
  bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(c_out, nn::BatchNormOptions{.affine = affine}));
}
Tensor DilConv::forward(const Tensor& x) { return bn->forward(pointwise->forward(depthwise->forward(relu(x)))); }
std::string DilConv::extra_repr() const {
  return fmt::format("k={}, stride={}, dilation={}", depthwise->kernel_size, depthwise->opts.stride,
                     depthwise->opts.dilation);
}

SepConv::SepConv(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding, bool affine) {
  first = register_module("first", std::make_shared<DilConv>(c_in, c_in, kernel, stride, padding, 1, affine));
  second = register_module("second", std::make_shared<DilConv>(c_in, c_out, kernel, 1, padding, 1, affine));
}
Tensor SepConv::forward(const Tensor& x) { return second->forward(first->forward(x)); }

FactorizedReduce::FactorizedReduce(int64_t c_in, int64_t c_out, bool affine) {
  EMBER_CHECK(c_out % 2 == 0, "FactorizedReduce: output channels {} must be even", c_out);
  const nn::ConvOptions o{.stride = 2, .bias = false};
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(c_in, c_out / 2, 1, o));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(c_in, c_out / 2, 1, o));
  bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(c_out, nn::BatchNormOptions{.affine = affine}));
}
Tensor FactorizedReduce::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4 && x.size(2) % 2 == 0 && x.size(3) % 2 == 0,
              "FactorizedReduce: input {} must be [N, C, H, W] with even H and W", shape_str(x.shape()));
  const Tensor r = relu(x);
  const Tensor shifted = slice(slice(r, 2, 1, r.size(2)), 3, 1, r.size(3));  // x[:, :, 1:, 1:]
  return bn->forward(cat({conv1->forward(r), conv2->forward(shifted)}, 1));
}

Tensor Zero::forward(const Tensor& x) {
  if (stride == 1) return mul(x, 0.0);
  return mul(slice(slice(x, 2, 0, x.size(2), stride), 3, 0, x.size(3), stride), 0.0);
}

namespace {
class Pool : public nn::Module {
 public:
  Pool(bool max, int64_t c, int64_t stride, bool bn) : max_(max) {
    opts_ = {.kernel_h = 3, .kernel_w = 3, .stride_h = stride, .stride_w = stride, .pad_h = 1, .pad_w = 1,
             .count_include_pad = false};
    if (bn) bn_ = register_module("bn", std::make_shared<nn::BatchNorm2d>(c, nn::BatchNormOptions{.affine = false}));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = max_ ? max_pool2d(x, opts_) : avg_pool2d(x, opts_);
    return bn_ ? bn_->forward(y) : y;
  }
  std::string type_name() const override { return max_ ? "MaxPool3x3" : "AvgPool3x3"; }

 private:
  bool max_;
  Pool2dOptions opts_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
};
}  // namespace

nn::ModulePtr make_op(const std::string& name, int64_t c, int64_t stride, bool affine, bool pool_bn) {
  EMBER_CHECK(stride == 1 || stride == 2, "nas: op stride must be 1 or 2, got {}", stride);
  if (name == "none") return std::make_shared<Zero>(stride);
  if (name == "max_pool_3x3") return std::make_shared<Pool>(true, c, stride, pool_bn);
  if (name == "avg_pool_3x3") return std::make_shared<Pool>(false, c, stride, pool_bn);
  if (name == "skip_connect") {
    if (stride == 1) return std::make_shared<nn::Identity>();
    return std::make_shared<FactorizedReduce>(c, c, affine);
  }
  if (name == "sep_conv_3x3") return std::make_shared<SepConv>(c, c, 3, stride, 1, affine);
  if (name == "sep_conv_5x5") return std::make_shared<SepConv>(c, c, 5, stride, 2, affine);
  if (name == "dil_conv_3x3") return std::make_shared<DilConv>(c, c, 3, stride, 2, 2, affine);
  EMBER_CHECK(false, "nas: unknown op '{}' (expected one of {})", name, fmt::join(default_ops(), ", "));
  return nullptr;
}

}  // namespace ember::nas
