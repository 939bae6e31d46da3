// zoo/alphazero network: the W6 parameter count, the folded inference path against the module's
// eval-mode forward, batched inference against one position at a time, and input errors.
#include <gtest/gtest.h>

#include <random>

#include "tensor/parallel.h"
#include "tests/common/expect_close.h"
#include "zoo/alphazero/net.h"

namespace ember::zoo::alphazero {
namespace {

// Random but legal-looking planes for n positions of `game`.
std::vector<float> random_planes(GameKind game, int64_t n, uint64_t seed) {
  const GameInfo& g = game_info(game);
  std::mt19937_64 rng(seed);
  std::vector<float> planes(n * 3 * g.rows * g.cols);
  for (int64_t i = 0; i < n; ++i) {
    State s(game);
    const int moves = static_cast<int>(rng() % 12);
    for (int k = 0; k < moves && !s.is_terminal(); ++k) {
      const auto legal = s.legal_actions();
      s.play(legal[rng() % legal.size()]);
    }
    s.write_planes(planes.data() + i * 3 * g.rows * g.cols);
  }
  return planes;
}

// A net whose BatchNorm layers hold non-trivial running statistics and affine parameters.
std::shared_ptr<PolicyValueNet> trained_looking_net(NetConfig cfg) {
  manual_seed(3);
  auto net = std::make_shared<PolicyValueNet>(cfg);
  const GameInfo& g = game_info(cfg.game);
  net->train();
  for (int step = 0; step < 3; ++step) {
    const auto planes = random_planes(cfg.game, 8, 10 + step);
    NoGradGuard no_grad;
    net->forward_pv(Tensor::from_vector(planes, {8, 3, g.rows, g.cols}));
  }
  NoGradGuard no_grad;
  for (auto& [name, p] : net->named_parameters())
    if (name.find("_bn.") != std::string::npos) p.copy_(add(p, mul(Tensor::rand(p.shape()), 0.5)));
  net->eval();
  return net;
}

TEST(AlphaZeroNet, W6ParameterCount) {
  EXPECT_EQ(PolicyValueNet({.game = GameKind::connect4}).num_parameters(), 301402);
  EXPECT_EQ(PolicyValueNet({.game = GameKind::tictactoe, .channels = 8, .blocks = 1}).num_parameters(),
            3 * 8 * 9 + 2 * 8 + 2 * (8 * 8 * 9 + 2 * 8) + (8 * 2 + 4) + (8 + 2) + (18 * 9 + 9) + (9 * 64 + 64) + 65);
}

TEST(AlphaZeroNet, FoldedInferenceMatchesEvalForward) {
  for (GameKind game : {GameKind::connect4, GameKind::tictactoe}) {
    auto net = trained_looking_net({.game = game, .channels = 16, .blocks = 2});
    const GameInfo& g = game_info(game);
    const int64_t n = 5;
    const auto planes = random_planes(game, n, 42);
    Tensor ref_p, ref_v;
    {
      NoGradGuard no_grad;
      std::tie(ref_p, ref_v) = net->forward_pv(Tensor::from_vector(planes, {n, 3, g.rows, g.cols}));
    }
    InferenceNet inf(*net);
    std::vector<float> logits(n * g.actions), values(n);
    inf.evaluate(planes.data(), n, logits.data(), values.data());
    EXPECT_TRUE(test::all_close(Tensor::from_vector(logits, {n, g.actions}), ref_p, 1e-4, 1e-4));
    EXPECT_TRUE(test::all_close(Tensor::from_vector(values, {n, 1}), ref_v, 1e-4, 1e-4));
  }
}

TEST(AlphaZeroNet, BatchedEqualsOneAtATime) {
  auto net = trained_looking_net({.game = GameKind::connect4});
  InferenceNet inf(*net);
  const int64_t n = 16, ps = 3 * 42;
  const auto planes = random_planes(GameKind::connect4, n, 7);
  std::vector<float> logits(n * 7), values(n), l1(7);
  inf.evaluate(planes.data(), n, logits.data(), values.data());
  for (int64_t i = 0; i < n; ++i) {
    float v1 = 0;
    inf.evaluate(planes.data() + i * ps, 1, l1.data(), &v1);
    for (int a = 0; a < 7; ++a) EXPECT_NEAR(l1[a], logits[i * 7 + a], 1e-4f) << i;
    EXPECT_NEAR(v1, values[i], 1e-5f) << i;
  }
}

// evaluate() (BoardInference on NHWC buffers, with Winograd F(2x2) / F(4x4) / F(6x4) and with the direct kernel) against
// evaluate_ops() (the same folded network through the tensor ops), on the W6 net and a tic-tac-toe one, at batch sizes
// that cover the one-thread and the threaded conv paths; the engine's results do not depend on the
// batch or the thread count (bit for bit), so MCTS visits are the same however leaves are batched.
TEST(AlphaZeroNet, EngineMatchesTheOpsPathAndIsBatchAndThreadIndependent) {
  const int saved = get_num_threads();
  for (GameKind game : {GameKind::connect4, GameKind::tictactoe}) {
    auto net = trained_looking_net({.game = game, .channels = game == GameKind::connect4 ? 64 : 16, .blocks = 2});
    const GameInfo& g = game_info(game);
    InferenceNet inf(*net);
    const int64_t n = 16, ps = 3 * g.rows * g.cols;
    const auto planes = random_planes(game, n, 11);
    std::vector<float> ref_l(n * g.actions), ref_v(n), l(n * g.actions), v(n), l1(g.actions);
    inf.evaluate_ops(planes.data(), n, ref_l.data(), ref_v.data());
    for (auto algo : {BoardInference::Algo::direct, BoardInference::Algo::automatic, BoardInference::Algo::winograd,
                      BoardInference::Algo::winograd4, BoardInference::Algo::winograd6x4}) {
      for (int threads : {1, 2}) {
        inf.engine().set_algo(algo);
        set_num_threads(threads);
        inf.evaluate(planes.data(), n, l.data(), v.data());
        EXPECT_TRUE(test::all_close(Tensor::from_vector(l, {n, g.actions}), Tensor::from_vector(ref_l, {n, g.actions}),
                                    1e-4, 1e-4));
        EXPECT_TRUE(test::all_close(Tensor::from_vector(v, {n}), Tensor::from_vector(ref_v, {n}), 1e-4, 1e-4));
        for (int64_t i = 0; i < n; i += 5) {
          float v1 = 0;
          inf.evaluate(planes.data() + i * ps, 1, l1.data(), &v1);
          for (int a = 0; a < g.actions; ++a) ASSERT_EQ(l1[a], l[i * g.actions + a]) << i << " threads " << threads;
          ASSERT_EQ(v1, v[i]) << i;
        }
      }
    }
  }
  set_num_threads(saved);
}

TEST(AlphaZeroNet, RejectsWrongInput) {
  PolicyValueNet net({.game = GameKind::connect4, .channels = 4, .blocks = 1});
  EXPECT_TRUE(test::throws_with([&] { net.forward_pv(Tensor::zeros({2, 3, 3, 3})); },
                                {"PolicyValueNet", "[2,3,3,3]", "[N,3,6,7]"}));
}

}  // namespace
}  // namespace ember::zoo::alphazero
