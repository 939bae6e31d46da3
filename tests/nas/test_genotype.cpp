// Genotypes (hpo/nas/genotype.h): the derivation rule on hand-set weights, JSON and file round
// trips, the validation of bad genotypes, random genotypes, the stand-alone network built from one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "hpo/nas/genotype.h"
#include "hpo/nas/network.h"
#include "hpo/nas/ops.h"
#include "tests/common/expect_close.h"

namespace ember::nas {
namespace {
using test::throws_with;

// 2 nodes: edges 0, 1 (node 0 from states 0, 1), 2, 3, 4 (node 1 from states 0, 1, 2).
// Ops: none max avg skip sep3 sep5 dil3.
Tensor op_weights(const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::from_vector(flat, {int64_t(rows.size()), 7}, {.dtype = DType::f64});
}

TEST(NasGenotype, DerivationKeepsTheTwoStrongestEdgesAndTheirStrongestNonZeroOp) {
  const Tensor w = op_weights({
      {0.90, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01},  // e0: "none" dominates; best real op max_pool (0.02, first)
      {0.10, 0.05, 0.05, 0.10, 0.60, 0.05, 0.05},  // e1: sep_conv_3x3
      {0.10, 0.05, 0.05, 0.50, 0.20, 0.05, 0.05},  // e2: skip 0.5
      {0.10, 0.05, 0.05, 0.05, 0.05, 0.40, 0.30},  // e3: sep_conv_5x5 0.4
      {0.10, 0.05, 0.05, 0.05, 0.05, 0.05, 0.65},  // e4: dil_conv_3x3 0.65
  });
  const auto& ops = default_ops();
  // without edge weights: node 0 keeps both of its edges, node 1 keeps e4 (0.65) and e2 (0.5)
  Genotype g = derive({w, {}}, {w, {}}, ops, 2);
  const std::vector<GenotypeEdge> expect = {
      {"max_pool_3x3", 0}, {"sep_conv_3x3", 1}, {"skip_connect", 0}, {"dil_conv_3x3", 2}};
  EXPECT_EQ(g.normal, expect);
  EXPECT_EQ(g.reduce, expect);
  EXPECT_EQ(g.normal_concat, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(parameter_free_ops(g), 4);  // max_pool and skip in both cells
  // edge weights rescale the strengths: e2 x0.2 drops below e3 x0.5
  const Tensor ew = Tensor::from_vector(std::vector<double>{0.5, 0.5, 0.2, 0.5, 0.3}, {5}, {.dtype = DType::f64});
  g = derive({w, ew}, {w, {}}, ops, 2);
  EXPECT_EQ(g.normal[2], (GenotypeEdge{"sep_conv_5x5", 1}));
  EXPECT_EQ(g.normal[3], (GenotypeEdge{"dil_conv_3x3", 2}));
  EXPECT_THROW(derive({op_weights({{1, 0, 0, 0, 0, 0, 0}}), {}}, {w, {}}, ops, 2), Error);
}

TEST(NasGenotype, JsonAndFileRoundTripAndBadInput) {
  const Genotype g = random_genotype(4, 11, default_ops());
  EXPECT_EQ(Genotype::from_json(g.to_json()), g);
  EXPECT_EQ(random_genotype(4, 11, default_ops()), g);  // deterministic per seed
  EXPECT_NE(random_genotype(4, 12, default_ops()), g);
  for (const auto* cell : {&g.normal, &g.reduce})
    for (size_t k = 0; k < cell->size(); ++k) {
      EXPECT_LT((*cell)[k].from, int64_t(k / 2) + 2);
      EXPECT_NE((*cell)[k].op, "none");
      if (k % 2 == 1) {
        EXPECT_LT((*cell)[k - 1].from, (*cell)[k].from);  // two distinct inputs
      }
    }
  const auto path = std::filesystem::temp_directory_path() / ("ember_genotype_" + std::to_string(::getpid()) + ".json");
  save_genotype(path.string(), g);
  EXPECT_EQ(load_genotype(path.string()), g);

  nlohmann::json j = g.to_json();
  j["normal"][3][1] = 5;  // node 1 cannot read state 5
  EXPECT_TRUE(throws_with([&] { Genotype::from_json(j); }, {"genotype: 'normal' edge 3 of node 1 reads state 5"}));
  j = g.to_json();
  j["reduce"][0][0] = "conv_7x7";
  EXPECT_TRUE(throws_with([&] { Genotype::from_json(j); }, {"unknown op 'conv_7x7'"}));
  j = g.to_json();
  j.erase("normal_concat");
  EXPECT_TRUE(throws_with([&] { Genotype::from_json(j); }, {"'normal_concat' is missing"}));
  std::ofstream(path) << "{not json";
  EXPECT_TRUE(throws_with([&] { load_genotype(path.string()); }, {"is not valid JSON", path.string()}));
  std::filesystem::remove(path);
  EXPECT_TRUE(throws_with([&] { load_genotype(path.string()); }, {"cannot open"}));
  EXPECT_NE(to_dot(g, "reduce").find("c_{k-2}"), std::string::npos);
}

TEST(NasGenotype, NetworkFromGenotypeTrains) {
  manual_seed(3);
  const Genotype g = random_genotype(3, 5, default_ops());
  GenotypeNetwork net(g, {.channels = 4, .cells = 3, .drop_path = 0.2});
  Generator gen(1);
  const Tensor x = Tensor::rand({4, 1, 28, 28}, {}, &gen);
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 3, 7, 9}, {4}, {.dtype = DType::i64});
  Tensor logits = net.forward(x);
  EXPECT_EQ(logits.shape(), (Shape{4, 10}));
  cross_entropy(logits, y).backward();
  for (const auto& [name, p] : net.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  net.eval();
  const Tensor a = net.forward(x), b = net.forward(x);  // eval: no drop-path, deterministic
  EXPECT_TRUE(test::all_close(a, b, 0, 0));
  EXPECT_THROW(GenotypeNetwork(g, {.channels = 5}), Error);
}

}  // namespace
}  // namespace ember::nas
