// BoardInference (infer.h): the W6 forward on padded NHWC buffers with Winograd and direct conv kernels.
#include "zoo/alphazero/infer.h"

#include <algorithm>
#include <cmath>

#include "tensor/cpu/conv_direct.h"
#include "tensor/cpu/winograd.h"
#include "tensor/error.h"

namespace ember::zoo::alphazero {

BoardInference::BoardInference(GameKind game, int64_t channels, const FoldedNet& net)
    : g_(game_info(game)), channels_(channels) {
  EMBER_CHECK(net.convs.size() >= 3, "BoardInference: expected stem, residual and head convolutions, got {}",
              net.convs.size());
  for (const auto& [w, b] : net.convs) {
    EMBER_CHECK(w.dim() == 4 && w.size(2) == w.size(3) && b.numel() == w.size(0),
                "BoardInference: bad folded convolution {} / bias {}", shape_str(w.shape()), shape_str(b.shape()));
    Conv c{w.size(1), w.size(0), w.size(2), {}, b.to_vector<float>(), w.contiguous().to_vector<float>(), {}, 2};
    c.packed.resize(size_t(cpu::packed_conv_weights_size(c.cout, c.cin, c.k)));
    cpu::pack_conv_weights(c.weights.data(), c.cout, c.cin, c.k, c.packed.data());
    if (c.k == 3) {
      // Automatic: the training convolutions' per-shape rule (F(6x4) for 32+ channels on a 6x7
      // board), the same for every batch size, so batched and single evaluations agree bit for bit.
      c.auto_tile = cpu::conv_winograd_tile(g_.rows, g_.cols, c.cin, c.cout);
      add_forms(c, c.auto_tile);
    } else {
      c.weights.clear();  // only the 3x3 convolutions may need another Winograd form later
    }
    convs_.push_back(std::move(c));
  }
  // Policy linear [A, 2*HW] reads the NCHW flatten (c*HW + hw); our head output is NHWC (hw*2 + c).
  const int64_t hw = g_.rows * g_.cols;
  const std::vector<float> pw = net.policy_w.contiguous().to_vector<float>();
  policy_w_.resize(pw.size());
  for (int64_t a = 0; a < g_.actions; ++a)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < hw; ++i) policy_w_[size_t(a * 2 * hw + i * 2 + c)] = pw[size_t(a * 2 * hw + c * hw + i)];
  policy_b_ = net.policy_b.to_vector<float>();
  value_w1_ = net.value_w1.contiguous().to_vector<float>();  // [hidden, HW]: 1 channel, same order
  value_b1_ = net.value_b1.to_vector<float>();
  value_w2_ = net.value_w2.contiguous().to_vector<float>();
  value_b2_ = net.value_b2.to_vector<float>();
  hidden_ = int64_t(value_b1_.size());
}

void BoardInference::grow(int64_t n) {
  if (n <= capacity_) return;
  capacity_ = std::max<int64_t>(n, 16);
  const int64_t padded = capacity_ * (g_.rows + 2) * (g_.cols + 2);
  in_.assign(size_t(padded * 3), 0.0f);  // borders are zero from here on: only interiors are written
  for (auto* buf : {&a_, &b_, &t_}) buf->assign(size_t(padded * channels_), 0.0f);
  p_.assign(size_t(capacity_ * g_.rows * g_.cols * 2), 0.0f);
  v_.assign(size_t(capacity_ * g_.rows * g_.cols), 0.0f);
}

void BoardInference::add_forms(Conv& c, int tile) {
  auto& u = c.winograd[tile];
  if (!u.empty()) return;
  u.resize(size_t(cpu::winograd_weights_size(c.cout, c.cin, tile)));
  cpu::winograd_transform_weights(c.weights.data(), c.cout, c.cin, tile, u.data());
}

int BoardInference::forced_tile(Algo algo) {
  return algo == Algo::winograd ? 2 : algo == Algo::winograd4 ? 4 : algo == Algo::winograd6x4 ? cpu::kWinograd6x4 : 0;
}

void BoardInference::set_algo(Algo algo) {
  if (const int tile = forced_tile(algo))
    for (Conv& c : convs_)  // another Winograd form, on first use
      if (c.k == 3) add_forms(c, tile);
  algo_ = algo;
}

void BoardInference::conv(const Conv& c, int64_t n, const float* x, int64_t x_pad, float* y, int64_t y_pad,
                          const float* residual, bool relu) const {
  const bool wino = c.k == 3 && algo_ != Algo::direct;
  const int forced = forced_tile(algo_), tile = forced ? forced : c.auto_tile;
  const float* wino_w = wino ? c.winograd.at(tile).data() : nullptr;
  const cpu::DirectConv a{.n = n, .h = g_.rows, .w = g_.cols, .cin = c.cin, .cout = c.cout, .k = c.k, .x = x,
                          .x_pad = x_pad, .packed_w = wino ? wino_w : c.packed.data(),
                          .bias = c.bias.data(), .residual = residual, .relu = relu, .y = y, .y_pad = y_pad};
  if (wino) cpu::conv_winograd(a, tile);
  else cpu::conv_direct(a);
}

void BoardInference::evaluate(const float* planes, int64_t n, float* logits, float* values) {
  if (n <= 0) return;
  grow(n);
  const int64_t rows = g_.rows, cols = g_.cols, hw = rows * cols, wp = cols + 2, plane = (rows + 2) * wp;
  for (int64_t i = 0; i < n; ++i)  // NCHW planes -> padded NHWC interior
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t q = 0; q < cols; ++q)
          in_[size_t(((i * plane) + (r + 1) * wp + q + 1) * 3 + c)] = planes[((i * 3 + c) * rows + r) * cols + q];
  const size_t blocks = convs_.size() - 3;  // residual convs
  float *h = a_.data(), *other = b_.data();
  conv(convs_[0], n, in_.data(), 1, h, 1, nullptr, true);
  for (size_t i = 0; i < blocks; i += 2) {
    conv(convs_[1 + i], n, h, 1, t_.data(), 1, nullptr, true);
    conv(convs_[2 + i], n, t_.data(), 1, other, 1, h, true);
    std::swap(h, other);
  }
  conv(convs_[convs_.size() - 2], n, h, 1, p_.data(), 0, nullptr, true);  // policy 1x1 -> [n][hw][2]
  conv(convs_.back(), n, h, 1, v_.data(), 0, nullptr, true);              // value 1x1 -> [n][hw]
  for (int64_t i = 0; i < n; ++i) {
    const float* p = p_.data() + i * hw * 2;
    for (int64_t a = 0; a < g_.actions; ++a) {
      float s = policy_b_[size_t(a)];
      const float* w = policy_w_.data() + a * hw * 2;
      for (int64_t j = 0; j < hw * 2; ++j) s += w[j] * p[j];
      logits[i * g_.actions + a] = s;
    }
    const float* v = v_.data() + i * hw;
    float out = value_b2_[0];
    for (int64_t u = 0; u < hidden_; ++u) {
      float s = value_b1_[size_t(u)];
      const float* w = value_w1_.data() + u * hw;
      for (int64_t j = 0; j < hw; ++j) s += w[j] * v[j];
      out += value_w2_[size_t(u)] * std::max(s, 0.0f);
    }
    values[i] = std::tanh(out);
  }
}

}  // namespace ember::zoo::alphazero
