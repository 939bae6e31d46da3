// The W6 policy/value network of WORKLOADS.md (for Connect Four: 301,402 parameters) built from
// nn/ modules, and its inference path.
//
// PolicyValueNet: stem Conv3x3(3->C) BN ReLU, `blocks` residual blocks (Conv3x3 BN ReLU Conv3x3 BN,
// + skip, ReLU), policy head Conv1x1(C->2) BN ReLU Linear(2HW -> actions), value head
// Conv1x1(C->1) BN ReLU Linear(HW -> 64) ReLU Linear(64 -> 1) tanh. Convolutions have no bias.
// Input [N, 3, H, W] planes (game.h), outputs policy logits [N, actions] and value [N, 1].
//
// InferenceNet: an eval-mode snapshot for search. Each BatchNorm is folded into the convolution
// before it (w' = w * g / sqrt(var + eps), b' = beta - mean * g / sqrt(var + eps)), the forward runs
// under NoGradGuard (no graph is recorded), and the input tensor is a buffer reused across calls.
// evaluate() runs BoardInference (infer.h: direct convolutions on reused NHWC buffers, no tensors);
// evaluate_ops() is the same folded network through the tensor ops (a reference for tests/benches).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "nn/layers.h"
#include "zoo/alphazero/game.h"
#include "zoo/alphazero/infer.h"

namespace ember::zoo::alphazero {

struct NetConfig {
  GameKind game = GameKind::connect4;
  int64_t channels = 64, blocks = 4;  // W6: 64 channels, 4 blocks
};

class PolicyValueNet : public nn::Module {
 public:
  explicit PolicyValueNet(NetConfig config);
  // x [N, 3, H, W] -> {policy logits [N, A], value [N, 1]}; BatchNorm follows train()/eval().
  std::pair<Tensor, Tensor> forward_pv(const Tensor& x);
  std::string type_name() const override { return "PolicyValueNet"; }
  const NetConfig& config() const { return config_; }

  struct ConvBn {
    std::shared_ptr<nn::Conv2d> conv;
    std::shared_ptr<nn::BatchNorm2d> bn;
  };
  ConvBn stem, policy_conv, value_conv;
  std::vector<ConvBn> res;  // 2 per block
  std::shared_ptr<nn::Linear> policy_fc, value_fc1, value_fc2;

 private:
  ConvBn add_conv_bn(const std::string& name, int64_t in, int64_t out, int64_t k);
  NetConfig config_;
};

// Policy logits and values for a batch of positions, written into caller buffers. Implementations:
// InferenceNet (the network) and test evaluators. evaluate() may be called from one thread at a time.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // planes [n, 3, H, W] -> logits [n, A], values [n] (for the side to move, in [-1, 1]).
  virtual void evaluate(const float* planes, int64_t n, float* logits, float* values) = 0;
};

class InferenceNet : public Evaluator {
 public:
  explicit InferenceNet(const PolicyValueNet& net);  // folds a snapshot of the current weights
  void evaluate(const float* planes, int64_t n, float* logits, float* values) override;
  void evaluate_ops(const float* planes, int64_t n, float* logits, float* values);
  BoardInference& engine() { return *engine_; }
  const NetConfig& config() const { return config_; }

 private:
  struct Folded {
    Tensor w, b;
  };
  Tensor conv(const Tensor& x, const Folded& f, int64_t pad) const;
  NetConfig config_;
  Folded stem_, policy_conv_, value_conv_;
  std::vector<Folded> res_;
  Tensor policy_w_, policy_b_, value_w1_, value_b1_, value_w2_, value_b2_;
  Tensor input_;  // [capacity, 3, H, W], grown on demand
  std::shared_ptr<BoardInference> engine_;
};

}  // namespace ember::zoo::alphazero
