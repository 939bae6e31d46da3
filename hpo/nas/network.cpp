// The stand-alone network built from a genotype (network.h).
#include "hpo/nas/network.h"

#include <fmt/format.h>

#include "hpo/nas/ops.h"

namespace ember::nas {
namespace {

// Drops whole samples of x with probability p (scaling the rest by 1/(1-p)): DARTS' drop-path.
Tensor drop_path(const Tensor& x, double p) {
  Tensor keep = Tensor::rand({x.size(0), 1, 1, 1}, x.options());
  keep = ge(keep, Tensor::full({1}, p, x.options())).to(x.dtype());
  return mul(x, mul(keep, 1.0 / (1.0 - p)));
}

}  // namespace

GenotypeCell::GenotypeCell(const Genotype& g, int64_t c_pp, int64_t c_p, int64_t c, bool reduction,
                           bool reduction_prev)
    : reduction(reduction), c_(c) {
  if (reduction_prev) pre0_ = std::make_shared<FactorizedReduce>(c_pp, c, true);
  else pre0_ = std::make_shared<ReLUConvBN>(c_pp, c, 1, 1, 0, true);
  pre1_ = std::make_shared<ReLUConvBN>(c_p, c, 1, 1, 0, true);
  add_child("pre0", pre0_);
  add_child("pre1", pre1_);
  const auto& edges = reduction ? g.reduce : g.normal;
  concat_ = reduction ? g.reduce_concat : g.normal_concat;
  for (size_t k = 0; k < edges.size(); ++k) {
    const int64_t stride = reduction && edges[k].from < 2 ? 2 : 1;
    ops_.push_back(make_op(edges[k].op, c, stride, /*affine=*/true));
    add_child(fmt::format("op{}", k), ops_.back());
    from_.push_back(edges[k].from);
    identity_.push_back(edges[k].op == "skip_connect" && stride == 1);
  }
}

Tensor GenotypeCell::forward_cell(const Tensor& s0, const Tensor& s1, double p) {
  std::vector<Tensor> states = {pre0_->forward(s0), pre1_->forward(s1)};
  for (size_t k = 0; k < ops_.size(); k += 2) {
    Tensor s;
    for (size_t e = k; e < k + 2; ++e) {
      Tensor t = ops_[e]->forward(states[size_t(from_[e])]);
      if (p > 0 && is_training() && !identity_[e]) t = drop_path(t, p);
      s = s.defined() ? add(s, t) : t;
    }
    states.push_back(s);
  }
  std::vector<Tensor> out;
  for (int64_t i : concat_) out.push_back(states[size_t(i)]);
  return cat(out, 1);
}

GenotypeNetwork::GenotypeNetwork(const Genotype& g, NetworkOptions o) : genotype(g), opts(o) {
  EMBER_CHECK(opts.cells >= 3, "nas: network cells must be >= 3, got {}", opts.cells);
  EMBER_CHECK(opts.channels >= 2 && opts.channels % 2 == 0, "nas: network channels must be even and >= 2, got {}",
              opts.channels);
  EMBER_CHECK(opts.drop_path >= 0 && opts.drop_path < 1, "nas: drop-path {} must be in [0, 1)", opts.drop_path);
  const int64_t c_stem = opts.stem_multiplier * opts.channels;
  stem_ = register_module("stem", std::make_shared<nn::Sequential>(
                                      std::make_shared<nn::Conv2d>(opts.in_channels, c_stem, 3,
                                                                   nn::ConvOptions{.padding = 1, .bias = false}),
                                      std::make_shared<nn::BatchNorm2d>(c_stem)));
  int64_t c_pp = c_stem, c_p = c_stem, c = opts.channels;
  bool reduction_prev = false;
  for (int64_t i = 0; i < opts.cells; ++i) {
    const bool reduction = i == opts.cells / 3 || i == 2 * opts.cells / 3;
    if (reduction) c *= 2;
    cells_.push_back(std::make_shared<GenotypeCell>(g, c_pp, c_p, c, reduction, reduction_prev));
    add_child(fmt::format("cell{}", i), cells_.back());
    reduction_prev = reduction;
    c_pp = c_p;
    c_p = cells_.back()->out_channels();
  }
  classifier_ = register_module("classifier", std::make_shared<nn::Linear>(c_p, opts.classes));
}

Tensor GenotypeNetwork::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == opts.in_channels, "nas: network input {} must be [N, {}, H, W]",
              shape_str(x.shape()), opts.in_channels);
  Tensor s0 = stem_->forward(x), s1 = s0;
  for (const auto& cell : cells_) {
    Tensor next = cell->forward_cell(s0, s1, opts.drop_path);
    s0 = s1;
    s1 = next;
  }
  return classifier_->forward(flatten(adaptive_avg_pool2d(s1, 1, 1), 1));
}

std::string GenotypeNetwork::extra_repr() const {
  return fmt::format("channels={}, cells={}, {}", opts.channels, opts.cells, genotype.str());
}

}  // namespace ember::nas
