// Weight initialisation, in place and outside autograd (PyTorch's torch.nn.init semantics).
// Fans follow PyTorch: for a weight [out, in, k...], fan_in = in * prod(k), fan_out = out * prod(k).
// Every function draws from `gen` (the default generator when null), so manual_seed() makes a
// model's initial weights reproducible.
#pragma once

#include <string_view>
#include <utility>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace ember::nn::init {

enum class FanMode { fan_in, fan_out };
enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu, selu };

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t);  // needs dim >= 2
// Recommended gain: 1 for linear/sigmoid, 5/3 tanh, sqrt(2) relu, sqrt(2/(1+a^2)) leaky_relu, 3/4 selu.
double calculate_gain(Nonlinearity nl, double param = 0.01);

Tensor& uniform_(Tensor& t, double lo = 0, double hi = 1, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
// Normal(mean, std) restricted to [a, b] (inverse-CDF sampling, every draw lands inside).
Tensor& trunc_normal_(Tensor& t, double mean = 0, double std = 1, double a = -2, double b = 2,
                      Generator* gen = nullptr);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);

// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)); N(0, gain^2 * 2 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& t, double gain = 1, Generator* gen = nullptr);
Tensor& xavier_normal_(Tensor& t, double gain = 1, Generator* gen = nullptr);
// std = gain(nl, a) / sqrt(fan); uniform bound = sqrt(3) * std.
Tensor& kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                         Nonlinearity nl = Nonlinearity::leaky_relu, Generator* gen = nullptr);
Tensor& kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nl = Nonlinearity::leaky_relu, Generator* gen = nullptr);

}  // namespace ember::nn::init
