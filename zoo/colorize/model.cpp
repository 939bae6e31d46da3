// The colorization U-Net (WORKLOADS.md W3 generalised to any depth and width) built from nn/
// layers: DoubleConv blocks (conv3x3 no bias, BatchNorm, ReLU, twice), 2x max-pool down,
// ConvTranspose2d(k 2, stride 2) up, skip concatenation [up, skip], 1x1 head and sigmoid.
// Data-parallel runs swap BatchNorm2d for dist::SyncBatchNorm2d (UNetConfig::sync_bn).
#include <fmt/format.h>

#include "dist/sync_batchnorm.h"
#include "nn/container.h"
#include "nn/layers.h"
#include "zoo/colorize/colorize.h"

namespace ember::zoo::colorize {

namespace {

nn::ModulePtr double_conv(int64_t cin, int64_t cout, const dist::CommunicatorPtr& sync_bn) {
  using namespace nn;
  const ConvOptions conv{.padding = 1, .bias = false};
  auto norm = [&]() -> ModulePtr {
    if (sync_bn) return std::make_shared<dist::SyncBatchNorm2d>(cout, sync_bn);
    return std::make_shared<BatchNorm2d>(cout);
  };
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(cin, cout, 3, conv), norm(), std::make_shared<ReLU>(),
      std::make_shared<Conv2d>(cout, cout, 3, conv), norm(), std::make_shared<ReLU>()});
}

}  // namespace

UNet::UNet(UNetConfig cfg) : config(cfg) {
  EMBER_CHECK(cfg.depth >= 1 && cfg.depth <= 6, "UNet: depth must be in 1..6, got {}", cfg.depth);
  EMBER_CHECK(cfg.width >= 1 && cfg.width <= 512, "UNet: width must be in 1..512, got {}", cfg.width);
  int64_t cin = in_channels();
  for (int64_t i = 0; i < cfg.depth; ++i) {
    const int64_t c = cfg.width << i;
    down_.push_back(register_module(fmt::format("enc{}", i), double_conv(cin, c, cfg.sync_bn)));
    cin = c;
  }
  bottleneck_ = register_module("bottleneck", double_conv(cin, cin * 2, cfg.sync_bn));
  for (int64_t i = cfg.depth - 1; i >= 0; --i) {
    const int64_t c = cfg.width << i;
    up_.push_back(register_module(fmt::format("up{}", i),
                                  std::make_shared<nn::ConvTranspose2d>(2 * c, c, 2, nn::ConvOptions{.stride = 2})));
    dec_.push_back(register_module(fmt::format("dec{}", i), double_conv(2 * c, c, cfg.sync_bn)));
  }
  head_ = register_module("head", std::make_shared<nn::Conv2d>(cfg.width, 3, 1));
}

Tensor UNet::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == in_channels(), "UNet: input must be [N, {}, H, W], got {}",
              in_channels(), shape_str(x.shape()));
  EMBER_CHECK(x.size(2) % stride() == 0 && x.size(3) % stride() == 0,
              "UNet: height and width must be multiples of {}, got {}x{}", stride(), x.size(2), x.size(3));
  std::vector<Tensor> skips;
  Tensor y = x;
  for (size_t i = 0; i < down_.size(); ++i) {
    y = down_[i]->forward(y);
    skips.push_back(y);
    y = max_pool2d(y);
  }
  y = bottleneck_->forward(y);
  for (size_t i = 0; i < up_.size(); ++i) y = dec_[i]->forward(cat({up_[i]->forward(y), skips[skips.size() - 1 - i]}, 1));
  return sigmoid(head_->forward(y));
}

Tensor UNet::predict(const Tensor& x, bool flip_average) {
  Tensor y = forward(x);
  if (!flip_average) return y;
  const int64_t w = x.size(3);
  std::vector<int64_t> rev(static_cast<size_t>(w));
  for (int64_t i = 0; i < w; ++i) rev[size_t(i)] = w - 1 - i;
  const Tensor idx = Tensor::from_vector(rev, {w}, {.dtype = DType::i64}).to(x.device());
  const Tensor mirrored = index_select(forward(index_select(x, 3, idx)), 3, idx);
  return (y + mirrored) * 0.5;
}

std::string UNet::extra_repr() const {
  return fmt::format("depth={}, width={}, hints={}", config.depth, config.width, config.hints);
}

}  // namespace ember::zoo::colorize
