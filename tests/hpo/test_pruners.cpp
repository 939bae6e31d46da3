// Conformance over every pruner (no decision without data, deterministic, prunes an obvious
// loser, keeps the leader), specific rules of each, and the LC4 learning-curve task in small.
#include <gtest/gtest.h>

#include <cmath>

#include "hpo/pruners/curve.h"
#include "hpo/pruners/hyperband.h"
#include "hpo/pruners/median.h"
#include "hpo/pruners/successive_halving.h"
#include "hpo/study.h"
#include "hpo/suite/problems.h"
#include "tensor/error.h"

using namespace ember::hpo;

namespace {

// A study where trial i's curve is (i % 5) + exp(-step / 5), and its value the last report:
// trials with i % 5 == 0 are the best.
std::shared_ptr<Study> curves_study(std::shared_ptr<Pruner> pruner, int n_trials, int steps) {
  auto study = std::make_shared<Study>(StudyOptions{.name = "c", .pruner = std::move(pruner)});
  study->optimize(
      [&](Trial& t) {
        const double level = static_cast<double>(t.number() % 5);
        t.suggest_float("x", 0, 1);
        double y = 0.0;
        for (int s = 1; s <= steps; ++s) {
          y = level + std::exp(-s / 5.0);
          t.report(s, y);
          if (s < steps && t.should_prune()) throw TrialPruned();
        }
        return y;
      },
      {.n_trials = n_trials});
  return study;
}

class PrunerConformance : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(PrunerConformance, NeverPrunesWithoutReports) {
  auto pruner = make_pruner(GetParam());
  FrozenTrial t;
  t.number = 0;
  EXPECT_FALSE(pruner->prune(History(Direction::kMinimize, {}), t));
}

TEST_P(PrunerConformance, PrunesLosersKeepsLeadersDeterministically) {
  const auto a = curves_study(make_pruner(GetParam()), 40, 27);
  const auto b = curves_study(make_pruner(GetParam()), 40, 27);
  int pruned = 0;
  const auto ta = a->trials(), tb = b->trials();
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_EQ(ta[i]->state, tb[i]->state) << i;
    pruned += ta[i]->state == TrialState::kPruned;
    if (ta[i]->state == TrialState::kPruned) {
      EXPECT_NE(ta[i]->number % 5, 0) << "a leader was pruned";
    }
  }
  if (GetParam() != "none") {
    EXPECT_GT(pruned, 5);
  } else {
    EXPECT_EQ(pruned, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(AllPruners, PrunerConformance, ::testing::Values("none", "median", "asha", "hyperband", "curve"));

TEST(Pruners, UnknownNameAndBadOptionsAreClearErrors) {
  EXPECT_THROW(make_pruner("bogus"), ember::Error);
  EXPECT_THROW(MedianPruner({.interval_steps = 0}), ember::Error);
  EXPECT_THROW(SuccessiveHalvingPruner({.reduction_factor = 1}), ember::Error);
  EXPECT_THROW(HyperbandPruner({.min_resource = 5, .max_resource = 2}), ember::Error);
}

TEST(MedianPruner, StartupAndWarmupAreRespected) {
  // With 1000 warm-up steps nothing is ever pruned.
  const auto s = curves_study(std::make_shared<MedianPruner>(MedianPrunerOptions{.n_warmup_steps = 1000}), 20, 10);
  EXPECT_EQ(s->count(TrialState::kPruned), 0);
  // With 5 startup trials, the first 5 always complete.
  const auto s2 = curves_study(std::make_shared<MedianPruner>(MedianPrunerOptions{.n_startup_trials = 5}), 20, 10);
  for (const auto& t : s2->trials())
    if (t->number < 5) {
      EXPECT_EQ(t->state, TrialState::kComplete);
    }
}

TEST(SuccessiveHalving, WaitsForAFirstCompleteTrialInAutoMode) {
  SuccessiveHalvingPruner p;
  FrozenTrial t;
  t.id = 1;
  t.number = 1;
  t.intermediate = {{1, 100.0}};
  auto other = std::make_shared<FrozenTrial>();
  other->id = 0;
  other->state = TrialState::kRunning;
  other->intermediate = {{1, 0.0}};
  EXPECT_FALSE(p.prune(History(Direction::kMinimize, {other}), t));
  other->state = TrialState::kComplete;
  EXPECT_TRUE(p.prune(History(Direction::kMinimize, {other}), t));
}

TEST(CurvePruner, OptimisticFinalOfAnExponentialCurve) {
  // y = 0.2 + 0.8 exp(-t / 10), observed at t = 1..15 without noise: the extrapolation to
  // t = 100 recovers ~0.2 (0.2 + 0.8 e^-10 = 0.200036).
  std::vector<double> t, y;
  for (int s = 1; s <= 15; ++s) {
    t.push_back(s);
    y.push_back(0.2 + 0.8 * std::exp(-s / 10.0));
  }
  EXPECT_NEAR(CurvePruner::extrapolate(t, y, 100.0, 9.0).optimistic, 0.2, 0.02);
  // A flat curve stays flat.
  std::vector<double> flat(t.size(), 0.5);
  EXPECT_NEAR(CurvePruner::extrapolate(t, flat, 100.0, 9.0).optimistic, 0.5, 1e-9);
}

TEST(Hyperband, BracketsAreDeterministicAndAllUsed) {
  HyperbandPruner h;
  EXPECT_EQ(h.n_brackets(), 5);  // floor(log3(100)) + 1
  std::vector<int> count(5, 0);
  for (int i = 0; i < 1000; ++i) {
    const int b = h.bracket_of(i);
    EXPECT_EQ(b, h.bracket_of(i));
    ++count[static_cast<size_t>(b)];
  }
  for (int c : count) {
    EXPECT_GT(c, 0);
  }
}

TEST(LearningCurve, PruningSavesEpochsOnLc4) {
  auto run = [](std::shared_ptr<Pruner> pruner) {
    Study study(StudyOptions{.name = "lc4", .sampler = make_sampler("random", {.seed = 4}), .pruner = pruner});
    int64_t epochs = 0;
    study.optimize(
        [&](Trial& t) {
          std::array<double, 4> x;
          for (int i = 0; i < 4; ++i) x[i] = t.suggest_float(fmt::format("x{}", i), 0, 1);
          double y = 0;
          for (int e = 1; e <= 100; ++e) {
            ++epochs;
            y = suite::lc4_curve(x, e, 0.0);
            t.report(e, y);
            if (e < 100 && t.should_prune()) throw TrialPruned();
          }
          return y;
        },
        {.n_trials = 40});
    return epochs;
  };
  EXPECT_EQ(run(make_pruner("none")), 4000);
  EXPECT_LT(run(make_pruner("median")), 4000);
  EXPECT_LT(run(make_pruner("hyperband")), 4000);
  EXPECT_LT(run(make_pruner("curve")), 4000);
}
