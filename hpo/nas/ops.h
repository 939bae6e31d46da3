// The candidate operations of the DARTS search space and the building blocks of its cells, as nn
// modules (x [N, C, H, W] -> [N, C, H/stride, W/stride]):
//   none          zero (a MixedOp skips it: it only takes softmax weight away from the others)
//   max_pool_3x3  avg_pool_3x3 (count_include_pad off)     each + BatchNorm in the supernet
//   skip_connect  identity, or FactorizedReduce for stride 2
//   sep_conv_3x3 / sep_conv_5x5  SepConv: (ReLU, depthwise kxk, pointwise 1x1, BN) twice
//   dil_conv_3x3  DilConv: ReLU, depthwise 3x3 dilation 2, pointwise 1x1, BN
// The depthwise convs are conv2d with groups == C, which runs the dedicated CPU kernel
// (tensor/cpu/depthwise.h). `affine` is false in the supernet (as in DARTS), true once derived.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/container.h"
#include "nn/layers.h"

namespace ember::nas {

// The candidate op names in the order of the alpha columns ("none" first).
const std::vector<std::string>& default_ops();
bool is_known_op(const std::string& name);
// Ops with no weights (zero, pools, identity): the DARTS collapse fills cells with these.
bool is_parameter_free(const std::string& name);

// ReLU, conv k x k (no bias), BatchNorm.
class ReLUConvBN : public nn::Module {
 public:
  ReLUConvBN(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding, bool affine);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLUConvBN"; }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

// ReLU, depthwise k x k (stride, dilation), pointwise 1x1 c_in -> c_out, BatchNorm.
class DilConv : public nn::Module {
 public:
  DilConv(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation, bool affine);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DilConv"; }
  std::string extra_repr() const override;
  std::shared_ptr<nn::Conv2d> depthwise, pointwise;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

// Two DilConv blocks with dilation 1: the first carries the stride.
class SepConv : public nn::Module {
 public:
  SepConv(int64_t c_in, int64_t c_out, int64_t kernel, int64_t stride, int64_t padding, bool affine);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SepConv"; }
  std::shared_ptr<DilConv> first, second;
};

// Halves H and W keeping all pixels in play: ReLU, then two 1x1 stride-2 convs on x and on x
// shifted by one pixel, concatenated (c_out/2 channels each), BatchNorm. H and W must be even.
class FactorizedReduce : public nn::Module {
 public:
  FactorizedReduce(int64_t c_in, int64_t c_out, bool affine);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FactorizedReduce"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

// The zero op: zeros of the output shape (strided).
class Zero : public nn::Module {
 public:
  explicit Zero(int64_t stride) : stride(stride) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Zero"; }
  const int64_t stride;
};

// Candidate `name` on c channels (in = out) with `stride`; the pools get a BatchNorm when
// pool_bn (the supernet's setting). Throws on an unknown name.
nn::ModulePtr make_op(const std::string& name, int64_t c, int64_t stride, bool affine, bool pool_bn = false);

}  // namespace ember::nas
