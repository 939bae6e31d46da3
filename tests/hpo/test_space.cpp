// Distributions: validation errors, unit-interval maps, legality, JSON; the declarative Space.
#include <gtest/gtest.h>

#include <cmath>

#include "hpo/space.h"
#include "hpo/study.h"
#include "tensor/error.h"

using namespace ember::hpo;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Distribution, InvalidRangesAreClearErrors) {
  EXPECT_NE(error_of([] { Distribution::make_float("lr", 1.0, 0.5); }).find("'lr' has low > high"), std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_float("lr", 0.0, 1.0, {.log = true}); }).find("log-scaled but low = 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_float("x", -1.0, 1.0, {.log = true}); }).find("must be > 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_float("x", 0.0, NAN); }).find("non-finite"), std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_int("n", 5, 1); }).find("'n' has low > high"), std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_int("n", 0, 10, {.log = true}); }).find("must be >= 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_int("n", 0, 10, {.step = 0}); }).find("step 0"), std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_categorical("c", {}); }).find("no choices"), std::string::npos);
  EXPECT_NE(error_of([] { Distribution::make_categorical("c", {"a", "a"}); }).find("twice"), std::string::npos);
}

TEST(Distribution, UnitMapsRoundTripAndStayLegal) {
  const auto f = Distribution::make_float("f", -2.0, 3.0);
  const auto lg = Distribution::make_float("l", 1e-5, 1.0, {.log = true});
  const auto st = Distribution::make_float("s", 0.0, 1.0, {.step = 0.25});
  const auto i = Distribution::make_int("i", 1, 64);
  const auto il = Distribution::make_int("il", 1, 1000, {.log = true});
  const auto is = Distribution::make_int("is", 0, 10, {.step = 3});  // 0,3,6,9
  const auto c = Distribution::make_categorical("c", {"a", "b", "c"});
  EXPECT_DOUBLE_EQ(is.high, 9.0);
  EXPECT_EQ(is.cardinality(), 4u);
  EXPECT_DOUBLE_EQ(lg.to_unit(1e-3), 0.4);  // log10: -3 is 2/5 of the way from -5 to 0
  for (const auto* d : {&f, &lg, &st, &i, &il, &is, &c}) {
    for (int k = 0; k <= 100; ++k) {
      const double v = d->from_unit(k / 100.0);
      EXPECT_TRUE(d->contains(v)) << d->describe() << " " << v;
      EXPECT_NEAR(d->from_unit(d->to_unit(v)), v, 1e-9 * std::max(1.0, std::fabs(v))) << d->describe();
    }
    EXPECT_EQ(Distribution::from_json(d->to_json()), *d);
  }
  EXPECT_FALSE(i.contains(2.5));
  EXPECT_FALSE(is.contains(4.0));
  EXPECT_FALSE(c.contains(3.0));
  EXPECT_FALSE(f.contains(NAN));
  // Every int gets an equal share of the unit interval.
  std::vector<int> hits(64, 0);
  for (int k = 0; k < 6400; ++k) ++hits[static_cast<size_t>(i.from_unit((k + 0.5) / 6400.0)) - 1];
  for (int h : hits) {
    EXPECT_EQ(h, 100);
  }
}

TEST(Distribution, ParamValuesAreValidated) {
  const auto c = Distribution::make_categorical("opt", {"sgd", "adam"});
  EXPECT_EQ(c.from_param_value("opt", std::string("adam")), 1.0);
  EXPECT_NE(error_of([&] { c.from_param_value("opt", std::string("rmsprop")); }).find("not one of its choices"),
            std::string::npos);
  const auto i = Distribution::make_int("n", 1, 8);
  EXPECT_EQ(i.from_param_value("n", int64_t{3}), 3.0);
  EXPECT_NE(error_of([&] { i.from_param_value("n", int64_t{9}); }).find("outside"), std::string::npos);
}

TEST(Space, ConditionalParametersFollowTheirParent) {
  Space s;
  s.add_categorical("opt", {"sgd", "adam"})
      .add_float("momentum", 0.0, 0.99, {}, Condition{"opt", {"sgd"}})
      .add_float("beta1", 0.8, 0.999, {}, Condition{"opt", {"adam"}});
  EXPECT_FALSE(s.is_flat());
  EXPECT_TRUE(s.is_active(*s.find("momentum"), {{"opt", 0.0}}));
  EXPECT_FALSE(s.is_active(*s.find("beta1"), {{"opt", 0.0}}));
  EXPECT_NE(error_of([&] { Space().add_float("x", 0, 1, {}, Condition{"missing", {"a"}}); }).find("declared before"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Space().add_float("x", 0, 1).add_float("x", 0, 1); }).find("twice"), std::string::npos);
  Study study(StudyOptions{.name = "cond"});
  study.optimize(
      [&](Trial& t) {
        const auto v = s.suggest_all(t);
        EXPECT_EQ(v.count("momentum"), v.at("opt") == 0.0 ? 1u : 0u);
        EXPECT_EQ(v.count("beta1"), v.at("opt") == 1.0 ? 1u : 0u);
        return 0.0;
      },
      {.n_trials = 20});
  EXPECT_EQ(study.count(TrialState::kComplete), 20);
}
