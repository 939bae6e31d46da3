// W6 of WORKLOADS.md on zoo/alphazero's network: the training step runs PolicyValueNet (nn/ modules,
// BatchNorm in training mode) with the W6 loss and Adam; the inference rows run InferenceNet, the
// path MCTS uses (BatchNorm folded into the convolutions, no autograd graph, reused input buffer),
// on the W6 inputs, timing one evaluate() of batch 1 and of batch 16 (policy logits and value):
// the engine (infer.h; automatic choice of 3x3 algorithm), the engine forced to the direct kernel
// and to Winograd, and as "(ops)" the same folded net through the tensor ops (the old path).
#include "bench/workloads/common.h"
#include "zoo/alphazero/net.h"

namespace ember::bench {

namespace az = zoo::alphazero;

namespace {
Tensor binary_planes(uint64_t seed, int64_t b) {
  return to_dtype(lt(uniform_stream(seed, {b, 3, 6, 7}), Tensor::scalar(0.5)), DType::f32);
}
void check_w6_count(const az::PolicyValueNet& net) {
  if (net.num_parameters() != 301402)
    std::printf("WARNING W6: %lld parameters, WORKLOADS.md says 301402\n", (long long)net.num_parameters());
}
}  // namespace

void run_w6_train(bool fused_adam) {
  manual_seed(6);
  az::PolicyValueNet net({.game = az::GameKind::connect4});
  check_w6_count(net);
  net.train();
  nn::Adam opt(net.parameters(), {.fused = fused_adam});
  const Tensor x = binary_planes(6001, 256);
  Tensor pi = uniform_stream(6002, {256, 7});
  pi = pi / pi.sum({1}, true);
  const Tensor z = uniform_stream(6003, {256}) * 2.0 - 1.0;
  StepStats s = time_steps(10, 50, [&](int) {
    opt.zero_grad();
    auto [pol, val] = net.forward_pv(x);
    Tensor loss = cross_entropy_probs(pol, pi) + mse_loss(val.reshape({256}), z);
    loss.backward();
    opt.step();
  });
  print_row("W6 az train b256", s, 108);
}

void run_w6_infer() {
  manual_seed(6);
  az::PolicyValueNet net({.game = az::GameKind::connect4});
  check_w6_count(net);
  net.eval();
  az::InferenceNet infer(net);
  for (int64_t b : {1, 16}) {
    const std::vector<float> x = binary_planes(b == 1 ? 6101 : 6116, b).to_vector<float>();
    std::vector<float> logits(b * 7), values(b);
    using Algo = az::BoardInference::Algo;
    const std::pair<const char*, Algo> variants[] = {
        {"", Algo::automatic}, {" (direct)", Algo::direct}, {" (wino)", Algo::winograd}, {" (wino4)", Algo::winograd4},
        {" (wino64)", Algo::winograd6x4},
        {" (ops)", Algo::automatic}};
    for (const auto& [suffix, algo] : variants) {
      const bool ops = std::string(suffix) == " (ops)";
      infer.engine().set_algo(algo);
      StepStats s = time_steps(50, *suffix ? 300 : 1000, [&](int) {
        if (ops) infer.evaluate_ops(x.data(), b, logits.data(), values.data());
        else infer.evaluate(x.data(), b, logits.data(), values.data());
      });
      for (double& v : s.ms) v *= 1000;  // microseconds
      for (double& v : s.cpu_ms) v *= 1000;
      print_row(std::string(b == 1 ? "W6 infer b1" : "W6 infer b16") + suffix, s, b == 1 ? 593 : 2520, "us");
    }
    infer.engine().set_algo(Algo::automatic);
  }
}

}  // namespace ember::bench
