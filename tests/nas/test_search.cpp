// The search loop (hpo/nas/search.h) end to end on a small real Fashion-MNIST subset: it runs,
// records its indicators, and is reproducible for a seed; the second-order step and the Hessian
// eigenvalue on their own.
#include <gtest/gtest.h>

#include <cmath>

#include "data/fashion_mnist.h"
#include "hpo/nas/search.h"
#include "tests/common/expect_close.h"
#include "tests/common/sanitizer.h"

namespace ember::nas {
namespace {

class NasSearch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!data::FashionMnist::available(data::Split::test)) return;
    data::FashionMnist test(data::Split::test);  // the 10k test file is the quickest to read
    // the central 16x16 of the first 2n images (a quarter of the work of 28x28; H, W stay even
    // through both reductions)
    const int64_t n = 64;
    const Tensor center = test.images().narrow(2, 6, 16).narrow(3, 6, 16).contiguous();
    train_ = {center.narrow(0, 0, n), test.labels().narrow(0, 0, n)};
    val_ = {center.narrow(0, n, n), test.labels().narrow(0, n, n)};
  }
  void SetUp() override {
    // seconds of training in Release; the -O0 sanitized build (CI's second pass) would take minutes
    if (EMBER_ASAN) GTEST_SKIP() << "slow under ASan at -O0";
    if (!train_.x.defined()) GTEST_SKIP() << "Fashion-MNIST not installed: apt-get install dataset-fashion-mnist";
  }
  static SupernetOptions tiny() { return {.channels = 4, .cells = 3, .nodes = 2, .partial = 2, .seed = 1}; }
  static inline SplitData train_, val_;
};

std::vector<SearchEpoch> run(const SupernetOptions& so, const SplitData& tr, const SplitData& va, SearchOptions o) {
  manual_seed(7);
  Supernet net(so);
  return search(net, tr, va, o);
}

TEST_F(NasSearch, RunsEndToEndAndIsReproducibleForASeed) {
  SearchOptions o{.epochs = 2, .batch = 32, .aux_skip = 0.5, .hessian_iters = 2, .seed = 3};
  const auto a = run(tiny(), train_, val_, o), b = run(tiny(), train_, val_, o);
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(std::isfinite(a[i].train_loss) && std::isfinite(a[i].hessian_eigenvalue)) << i;
    EXPECT_EQ(a[i].train_loss, b[i].train_loss);
    EXPECT_EQ(a[i].val_loss, b[i].val_loss);
    EXPECT_EQ(a[i].op_normal, b[i].op_normal);
    EXPECT_EQ(a[i].genotype, b[i].genotype);
    EXPECT_EQ(a[i].hessian_eigenvalue, b[i].hessian_eigenvalue);
    EXPECT_EQ(a[i].parameter_free_ops, parameter_free_ops(a[i].genotype));
  }
  EXPECT_EQ(a[0].aux_skip, 0.5 * (1 - 0.5 / 1.0 * (double(train_.x.size(0) / 32 - 1) / double(train_.x.size(0) / 32))));
  EXPECT_EQ(a[1].aux_skip, 0.5 * (1 - (1 + double(train_.x.size(0) / 32 - 1) / double(train_.x.size(0) / 32)) / 2));
  // alpha moved away from its 1e-3-scale init and the record is the genotype's JSON
  double spread = 0;
  for (double w : a.back().op_normal) spread = std::max(spread, std::abs(w - 1.0 / 7));
  EXPECT_GT(spread, 1e-4);
  EXPECT_EQ(Genotype::from_json(a.back().to_json().at("genotype")), a.back().genotype);
  // another seed, another batch order
  o.seed = 4;
  o.epochs = 1;
  EXPECT_NE(run(tiny(), train_, val_, o)[0].train_loss, a[0].train_loss);
}

TEST_F(NasSearch, SecondOrderStepAndHessianEigenvalue) {
  SearchOptions o{.epochs = 1, .batch = 32, .second_order = true, .seed = 3};
  const auto h = run(tiny(), train_, val_, o);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(std::isfinite(h[0].val_loss));
  EXPECT_TRUE(std::isnan(h[0].hessian_eigenvalue));  // off

  // Hessian-vector products in f64 on a small supernet: symmetric (u.Hv == v.Hu), linear in v,
  // arch left unchanged; the power iteration's eigenvalue bounds the Rayleigh quotient of u. (The
  // loss has ReLU / max-pool kinks every ~1e-4 in alpha: only steps below that give the exact
  // Hessian; the search's f32 default of 1e-3 measures a slightly smoothed one.)
  manual_seed(7);
  Supernet net({.channels = 2, .cells = 3, .nodes = 2, .partial = 1,
                .ops = {"none", "max_pool_3x3", "skip_connect", "sep_conv_3x3"}, .seed = 2});
  net.to(DType::f64);
  for (Tensor* a : {&net.alpha_normal, &net.alpha_reduce, &net.beta_normal, &net.beta_reduce}) {
    *a = (a->to(DType::f64) * 300.0).detach();
    a->requires_grad_(true);
  }
  const Tensor x = narrow(val_.x, 0, 0, 8).to(DType::f64), y = narrow(val_.y, 0, 0, 8);
  Generator gen(3);
  std::vector<Tensor> u, v, v2;
  for (const Tensor& a : net.arch_parameters()) {
    u.push_back(Tensor::randn(a.shape(), a.options(), &gen));
    v.push_back(Tensor::randn(a.shape(), a.options(), &gen));
    v2.push_back(mul(v.back(), 2.0));
  }
  const Tensor before = net.alpha_normal.detach().clone();
  const auto hv = hessian_vector_product(net, x, y, v, 1e-6), hu = hessian_vector_product(net, x, y, u, 1e-6);
  const auto hv2 = hessian_vector_product(net, x, y, v2, 1e-6);
  EXPECT_TRUE(test::all_close(net.alpha_normal, before, 0, 0));
  double uhv = 0, vhu = 0, uhu = 0, unorm = 0;
  for (size_t i = 0; i < u.size(); ++i) {
    uhv += sum(mul(u[i], hv[i])).item();
    vhu += sum(mul(v[i], hu[i])).item();
    uhu += sum(mul(u[i], hu[i])).item();
    unorm += sum(square(u[i])).item();
    EXPECT_TRUE(test::all_close(hv2[i], mul(hv[i], 2.0), 1e-5, 1e-8));
  }
  EXPECT_NEAR(uhv, vhu, 1e-5 * (std::abs(uhv) + 1));
  EXPECT_GE(std::abs(hessian_eigenvalue(net, x, y, 20, 1, 1e-6)), std::abs(uhu / unorm) * 0.999);
  EXPECT_THROW(search(net, train_, {}, o), Error);
}

}  // namespace
}  // namespace ember::nas
