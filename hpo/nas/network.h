// The stand-alone network of a genotype (DARTS' NetworkCIFAR for small gray images, without the
// auxiliary head): stem conv 3x3 + BN, `cells` cells with reductions at cells/3 and 2*cells/3,
// global average pool, linear. Each cell preprocesses its two inputs to C channels (1x1
// ReLUConvBN, or FactorizedReduce after a reduction) and runs the genotype's two ops per node
// (affine BatchNorms). Optional drop-path on the non-identity ops in training.
#pragma once

#include <memory>

#include "hpo/nas/genotype.h"
#include "nn/container.h"
#include "nn/layers.h"

namespace ember::nas {

struct NetworkOptions {
  int64_t channels = 16, cells = 8;
  int64_t stem_multiplier = 3;
  int64_t in_channels = 1, classes = 10;
  double drop_path = 0;  // probability of dropping an op's output per sample (training only)
};

class GenotypeCell : public nn::Module {
 public:
  GenotypeCell(const Genotype& g, int64_t c_pp, int64_t c_p, int64_t c, bool reduction, bool reduction_prev);
  Tensor forward_cell(const Tensor& s0, const Tensor& s1, double drop_path);
  std::string type_name() const override { return "GenotypeCell"; }
  const bool reduction;
  int64_t out_channels() const { return c_ * static_cast<int64_t>(concat_.size()); }

 private:
  int64_t c_;
  nn::ModulePtr pre0_, pre1_;
  std::vector<nn::ModulePtr> ops_;
  std::vector<int64_t> from_, concat_;
  std::vector<bool> identity_;
};

class GenotypeNetwork : public nn::Module {
 public:
  GenotypeNetwork(const Genotype& g, NetworkOptions opts);
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> [N, classes]
  std::string type_name() const override { return "GenotypeNetwork"; }
  std::string extra_repr() const override;
  const Genotype genotype;
  const NetworkOptions opts;

 private:
  std::shared_ptr<nn::Sequential> stem_;
  std::vector<std::shared_ptr<GenotypeCell>> cells_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace ember::nas
