// W3 (WORKLOADS.md): the U-Net colorizer, batch 16 at 64x64, 5 warm-up + 30 timed steps, run on
// the zoo's model (zoo/colorize, hint channels off: exactly the W3 network) with nn::Adam.
#include <cstdio>

#include "bench/workloads/common.h"
#include "zoo/colorize/colorize.h"

namespace ember::bench {

void run_w3(bool fused_adam) {
  manual_seed(3);
  zoo::colorize::UNet net({.depth = 3, .width = 32, .hints = false});
  if (net.num_parameters() != 1926499)
    std::printf("WARNING W3: %lld parameters, WORKLOADS.md says 1926499\n", (long long)net.num_parameters());
  nn::Adam opt(net.parameters(), {.fused = fused_adam});
  const Tensor x = uniform_stream(3001, {16, 1, 64, 64}), t = uniform_stream(3002, {16, 3, 64, 64});
  StepStats s = time_steps(5, 30, [&](int) {
    net.zero_grad();
    Tensor loss = l1_loss(net.forward(x), t);
    loss.backward();
    opt.step();
  });
  print_row("W3 unet train", s, 360);
}

}  // namespace ember::bench
