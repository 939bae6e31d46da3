// The board network's inference engine behind InferenceNet::evaluate: no autograd, no tensors, no
// allocation per call once the buffers have grown to the batch (they are reused), BatchNorm folded
// into the convolutions (net.cpp) and conv + bias (+ skip) + ReLU in one pass.
//
// Activations live in padded NHWC buffers ([n][rows+2][cols+2][C], zero border) so every 3x3
// convolution runs Winograd F(4x4,3x3) or F(2x2,3x3) (tensor/cpu/winograd.h) or the direct small-plane kernel
// (tensor/cpu/conv_direct.h) straight from the previous layer's output; the heads' 1x1
// convolutions use the direct kernel and the linear layers
// are plain dot products whose weights are permuted once for the NHWC flatten order. Each
// position's result is computed the same way whatever the batch and thread count, so batched and
// one-at-a-time evaluations agree bit for bit. Threads are used only when a convolution is large
// enough (conv_direct: ~8 MFLOP, i.e. batch >= 3 on Connect Four); batch 1 stays on one thread.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"
#include "zoo/alphazero/game.h"

namespace ember::zoo::alphazero {

// The folded network: convs in order stem, res (2 per block), policy 1x1, value 1x1, each
// {weight [O, I, k, k], bias [O]}; then the head linears as in PolicyValueNet.
struct FoldedNet {
  std::vector<std::pair<Tensor, Tensor>> convs;
  Tensor policy_w, policy_b, value_w1, value_b1, value_w2, value_b2;
};

class BoardInference {
 public:
  // How the 3x3 convolutions run: the direct kernel, Winograd F(2x2,3x3), F(4x4,3x3) or F(6x4,3x3)
  // (tensor/cpu/winograd.h), or automatic: Winograd at every batch size, with the tile the training
  // convolutions pick for the layer's shape (cpu::conv_winograd_tile: F(6x4) for the 64-channel
  // layers on a 6x7 board, F(2x2) for the 3-channel stem; docs/performance.md has the timings).
  // One algorithm for every batch size keeps batched and single evaluations bit-identical.
  enum class Algo { automatic, direct, winograd, winograd4, winograd6x4 };
  BoardInference(GameKind game, int64_t channels, const FoldedNet& net);
  void set_algo(Algo algo);  // a forced Winograd tile transforms the 3x3 weights for it on first use
  // planes [n, 3, rows, cols] -> logits [n, actions], values [n]; one caller at a time.
  void evaluate(const float* planes, int64_t n, float* logits, float* values);

 private:
  struct Conv {
    int64_t cin, cout, k;
    std::vector<float> packed, bias;
    // 3x3 only: the folded weights [cout][cin][3][3] and their Winograd forms by tile code:
    // auto_tile's built with the engine, others by set_algo on first use.
    std::vector<float> weights;
    std::map<int, std::vector<float>> winograd;
    int auto_tile = 2;
  };
  void grow(int64_t n);
  static void add_forms(Conv& c, int tile);
  static int forced_tile(Algo algo);  // 0 for automatic and direct
  void conv(const Conv& c, int64_t n, const float* x, int64_t x_pad, float* y, int64_t y_pad, const float* residual,
            bool relu) const;
  Algo algo_ = Algo::automatic;

  GameInfo g_;
  int64_t channels_, capacity_ = 0;
  std::vector<Conv> convs_;
  std::vector<float> policy_w_, policy_b_, value_w1_, value_b1_, value_w2_, value_b2_;  // policy_w_ in NHWC order
  int64_t hidden_ = 0;
  std::vector<float> in_, a_, b_, t_, p_, v_;  // padded NHWC activations, grown to the batch
};

}  // namespace ember::zoo::alphazero
