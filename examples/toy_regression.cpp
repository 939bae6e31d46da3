// A first ember program: a two-layer MLP learns y = sin(3x) + 0.3x on [-1, 1] with plain SGD,
// printing the loss as it falls. Uses only tensors and autograd (the nn library comes later).
#include <cstdio>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

using namespace ember;

int main() {
  manual_seed(0);
  const int64_t n = 256, hidden = 32;
  Tensor x = Tensor::linspace(-1, 1, n).reshape({n, 1});
  Tensor y = sin(x * 3.0) + x * 0.3;

  // Parameters: Kaiming-like uniform init, then marked as leaves that require grad.
  auto param = [](Shape shape, double bound) {
    Tensor p = (Tensor::rand(shape) * 2.0 - 1.0) * bound;
    return p.detach().requires_grad_(true);
  };
  Tensor w1 = param({hidden, 1}, 1.0), b1 = param({hidden}, 1.0);
  Tensor w2 = param({1, hidden}, 0.17), b2 = param({1}, 0.17);
  std::vector<Tensor> params = {w1, b1, w2, b2};

  const double lr = 0.1;
  const int steps = 2000;
  double first = 0, last = 0;
  for (int step = 0; step <= steps; ++step) {
    Tensor h = tanh(linear(x, w1, b1));
    Tensor pred = linear(h, w2, b2);
    Tensor loss = mse_loss(pred, y);
    for (Tensor& p : params) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor& p : params) p.add_(p.grad(), -lr);
    }
    last = loss.item();
    if (step == 0) first = last;
    if (step % 200 == 0) std::printf("step %4d  loss %.6f\n", step, last);
  }
  std::printf("loss fell from %.4f to %.6f (%.0fx)\n", first, last, first / last);
  return last < first / 10 ? 0 : 1;
}
