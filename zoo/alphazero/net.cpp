// The W6 policy/value network and its folded inference path (see net.h).
#include "zoo/alphazero/net.h"

#include <cmath>
#include <cstring>

#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace ember::zoo::alphazero {

PolicyValueNet::PolicyValueNet(NetConfig config) : config_(config) {
  const GameInfo& g = game_info(config.game);
  const int64_t c = config.channels, hw = g.rows * g.cols;
  EMBER_CHECK(c >= 1 && config.blocks >= 0, "PolicyValueNet: channels must be >= 1 and blocks >= 0 (got {}, {})", c,
              config.blocks);
  stem = add_conv_bn("stem", 3, c, 3);
  for (int64_t b = 0; b < config.blocks; ++b) {
    res.push_back(add_conv_bn("res" + std::to_string(b) + "a", c, c, 3));
    res.push_back(add_conv_bn("res" + std::to_string(b) + "b", c, c, 3));
  }
  policy_conv = add_conv_bn("policy", c, 2, 1);
  value_conv = add_conv_bn("value", c, 1, 1);
  policy_fc = register_module("policy_fc", std::make_shared<nn::Linear>(2 * hw, g.actions));
  value_fc1 = register_module("value_fc1", std::make_shared<nn::Linear>(hw, 64));
  value_fc2 = register_module("value_fc2", std::make_shared<nn::Linear>(64, 1));
}

PolicyValueNet::ConvBn PolicyValueNet::add_conv_bn(const std::string& name, int64_t in, int64_t out, int64_t k) {
  ConvBn cb;
  cb.conv = register_module(name + "_conv",
                            std::make_shared<nn::Conv2d>(in, out, k, nn::ConvOptions{.padding = k / 2, .bias = false}));
  cb.bn = register_module(name + "_bn", std::make_shared<nn::BatchNorm2d>(out));
  return cb;
}

std::pair<Tensor, Tensor> PolicyValueNet::forward_pv(const Tensor& x) {
  const GameInfo& g = game_info(config_.game);
  EMBER_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == g.rows && x.size(3) == g.cols,
              "PolicyValueNet: input has shape {}, expected [N,3,{},{}] ({})", shape_str(x.shape()), g.rows, g.cols,
              g.name);
  auto cbr = [](const ConvBn& cb, const Tensor& h) { return cb.bn->forward(cb.conv->forward(h)); };
  Tensor h = relu(cbr(stem, x));
  for (size_t i = 0; i < res.size(); i += 2) {
    Tensor y = relu(cbr(res[i], h));
    h = relu(add(cbr(res[i + 1], y), h));
  }
  Tensor p = policy_fc->forward(flatten(relu(cbr(policy_conv, h)), 1));
  Tensor v = tanh(value_fc2->forward(relu(value_fc1->forward(flatten(relu(cbr(value_conv, h)), 1)))));
  return {p, v};
}

namespace {
// Folds eval-mode BatchNorm (running statistics) into the preceding bias-free convolution.
// w [O, I, k, k] * s[o] with s = gamma / sqrt(var + eps); b = beta - mean * s. Computed in double.
std::pair<Tensor, Tensor> fold(const PolicyValueNet::ConvBn& cb) {
  const Tensor& w = cb.conv->weight;
  const int64_t out = w.size(0), per = w.numel() / out;
  std::vector<float> wf = w.contiguous().to_vector<float>();
  const auto g = cb.bn->weight.to_vector<float>(), beta = cb.bn->bias.to_vector<float>();
  const auto mean = cb.bn->running_mean.to_vector<float>(), var = cb.bn->running_var.to_vector<float>();
  std::vector<float> bias(out);
  for (int64_t o = 0; o < out; ++o) {
    const double s = g[o] / std::sqrt(static_cast<double>(var[o]) + cb.bn->opts.eps);
    for (int64_t i = 0; i < per; ++i) wf[o * per + i] = static_cast<float>(wf[o * per + i] * s);
    bias[o] = static_cast<float>(beta[o] - mean[o] * s);
  }
  return {Tensor::from_vector(wf, w.shape()), Tensor::from_vector(bias, {out})};
}
Tensor copy_of(const Tensor& t) { return t.contiguous().clone(); }
}  // namespace

InferenceNet::InferenceNet(const PolicyValueNet& net) : config_(net.config()) {
  NoGradGuard no_grad;
  auto f = [](const PolicyValueNet::ConvBn& cb) {
    auto [w, b] = fold(cb);
    return Folded{w, b};
  };
  stem_ = f(net.stem);
  for (const auto& cb : net.res) res_.push_back(f(cb));
  policy_conv_ = f(net.policy_conv);
  value_conv_ = f(net.value_conv);
  policy_w_ = copy_of(net.policy_fc->weight);
  policy_b_ = copy_of(net.policy_fc->bias);
  value_w1_ = copy_of(net.value_fc1->weight);
  value_b1_ = copy_of(net.value_fc1->bias);
  value_w2_ = copy_of(net.value_fc2->weight);
  value_b2_ = copy_of(net.value_fc2->bias);
  FoldedNet folded{{{stem_.w, stem_.b}}, policy_w_, policy_b_, value_w1_, value_b1_, value_w2_, value_b2_};
  for (const Folded& r : res_) folded.convs.push_back({r.w, r.b});
  folded.convs.push_back({policy_conv_.w, policy_conv_.b});
  folded.convs.push_back({value_conv_.w, value_conv_.b});
  engine_ = std::make_shared<BoardInference>(config_.game, config_.channels, folded);
}

Tensor InferenceNet::conv(const Tensor& x, const Folded& f, int64_t pad) const {
  return conv2d(x, f.w, f.b, {.pad_h = pad, .pad_w = pad});
}

void InferenceNet::evaluate(const float* planes, int64_t n, float* logits, float* values) {
  engine_->evaluate(planes, n, logits, values);
}

void InferenceNet::evaluate_ops(const float* planes, int64_t n, float* logits, float* values) {
  if (n <= 0) return;
  const GameInfo& g = game_info(config_.game);
  const int64_t plane_size = 3 * g.rows * g.cols;
  NoGradGuard no_grad;
  if (!input_.defined() || input_.size(0) < n) input_ = Tensor::empty({std::max<int64_t>(n, 16), 3, g.rows, g.cols});
  std::memcpy(input_.data<float>(), planes, sizeof(float) * static_cast<size_t>(n * plane_size));
  const Tensor x = input_.narrow(0, 0, n);
  Tensor h = relu(conv(x, stem_, 1));
  for (size_t i = 0; i < res_.size(); i += 2) {
    Tensor y = relu(conv(h, res_[i], 1));
    h = relu(add(conv(y, res_[i + 1], 1), h));
  }
  Tensor p = linear(flatten(relu(conv(h, policy_conv_, 0)), 1), policy_w_, policy_b_).contiguous();
  Tensor v = tanh(linear(relu(linear(flatten(relu(conv(h, value_conv_, 0)), 1), value_w1_, value_b1_)), value_w2_,
                         value_b2_))
                 .contiguous();
  std::memcpy(logits, p.data<float>(), sizeof(float) * static_cast<size_t>(n * g.actions));
  std::memcpy(values, v.data<float>(), sizeof(float) * static_cast<size_t>(n));
}

}  // namespace ember::zoo::alphazero
