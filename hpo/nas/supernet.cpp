// The DARTS supernet with partial channels, edge normalisation and the auxiliary skip (supernet.h).
#include "hpo/nas/supernet.h"

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "hpo/nas/ops.h"
#include "tensor/generator.h"

namespace ember::nas {
namespace {

// [N, C, H, W] -> channels interleaved across `groups` (PC-DARTS' channel shuffle).
Tensor channel_shuffle(const Tensor& x, int64_t groups) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return reshape(contiguous(transpose(reshape(x, {n, groups, c / groups, h, w}), 1, 2)), {n, c, h, w});
}

}  // namespace

Tensor edge_softmax(const Tensor& beta, int64_t nodes) {
  std::vector<Tensor> parts;
  for (int64_t i = 0, start = 0; i < nodes; start += i + 2, ++i) parts.push_back(softmax(narrow(beta, 0, start, i + 2), 0));
  return cat(parts, 0);
}

MixedOp::MixedOp(int64_t channels, int64_t stride, int64_t partial, const std::vector<std::string>& ops)
    : stride(stride), partial(partial), names_(ops) {
  EMBER_CHECK(partial >= 1 && channels % partial == 0,
              "nas: {} channels are not divisible by the partial-channel factor {}", channels, partial);
  bool any = false;
  for (size_t o = 0; o < ops.size(); ++o) {
    if (ops[o] == "none") {
      ops_.push_back(nullptr);
      continue;
    }
    ops_.push_back(make_op(ops[o], channels / partial, stride, /*affine=*/false, /*pool_bn=*/true));
    add_child(std::to_string(o), ops_.back());
    any = true;
  }
  EMBER_CHECK(any, "nas: the candidate ops [{}] hold nothing but 'none'", fmt::join(ops, ", "));
}

Tensor MixedOp::forward_mixed(const Tensor& x, const Tensor& weights, double aux) {
  const int64_t c = x.size(1), cp = c / partial;
  const Tensor xa = partial > 1 ? narrow(x, 1, 0, cp) : x;
  Tensor out;
  for (size_t o = 0; o < ops_.size(); ++o) {
    if (!ops_[o]) continue;  // zero: contributes nothing but its share of the softmax
    Tensor t = mul(ops_[o]->forward(xa), select(weights, 0, static_cast<int64_t>(o)));
    out = out.defined() ? add(out, t) : t;
  }
  if (partial > 1) {
    Tensor rest = narrow(x, 1, cp, c - cp);
    if (stride == 2) rest = max_pool2d(rest, {.kernel_h = 2, .kernel_w = 2});
    out = channel_shuffle(cat({out, rest}, 1), partial);
  }
  if (aux > 0 && stride == 1) out = add(out, mul(x, aux));
  return out;
}

SearchCell::SearchCell(int64_t nodes, int64_t c_pp, int64_t c_p, int64_t c, bool reduction, bool reduction_prev,
                       int64_t partial, const std::vector<std::string>& ops)
    : nodes(nodes), channels(c), reduction(reduction) {
  if (reduction_prev) pre0_ = std::make_shared<FactorizedReduce>(c_pp, c, false);
  else pre0_ = std::make_shared<ReLUConvBN>(c_pp, c, 1, 1, 0, false);
  pre1_ = std::make_shared<ReLUConvBN>(c_p, c, 1, 1, 0, false);
  add_child("pre0", pre0_);
  add_child("pre1", pre1_);
  for (int64_t i = 0; i < nodes; ++i)
    for (int64_t j = 0; j < i + 2; ++j) {
      edges_.push_back(std::make_shared<MixedOp>(c, reduction && j < 2 ? 2 : 1, partial, ops));
      add_child(fmt::format("edge{}", edges_.size() - 1), edges_.back());
    }
}

Tensor SearchCell::forward_cell(const Tensor& s0, const Tensor& s1, const Tensor& op_weights,
                                const Tensor& edge_weights, double aux) {
  std::vector<Tensor> states = {pre0_->forward(s0), pre1_->forward(s1)};
  int64_t e = 0;
  for (int64_t i = 0; i < nodes; ++i) {
    Tensor s;
    for (int64_t j = 0; j < i + 2; ++j, ++e) {
      Tensor t = edges_[size_t(e)]->forward_mixed(states[size_t(j)], select(op_weights, 0, e), aux);
      if (edge_weights.defined()) t = mul(t, select(edge_weights, 0, e));
      s = s.defined() ? add(s, t) : t;
    }
    states.push_back(s);
  }
  return cat(std::vector<Tensor>(states.begin() + 2, states.end()), 1);
}

namespace {
SupernetOptions with_default_ops(SupernetOptions o) {
  if (o.ops.empty()) o.ops = default_ops();
  return o;
}
}  // namespace

Supernet::Supernet(SupernetOptions o) : opts(with_default_ops(std::move(o))) {
  for (const auto& name : opts.ops) EMBER_CHECK(is_known_op(name), "nas: unknown op '{}'", name);
  EMBER_CHECK(opts.cells >= 3, "nas: --cells must be >= 3 (two of them are reduction cells), got {}", opts.cells);
  EMBER_CHECK(opts.nodes >= 2, "nas: nodes must be >= 2, got {}", opts.nodes);
  EMBER_CHECK(opts.channels >= 1 && opts.partial >= 1 && opts.channels % opts.partial == 0,
              "nas: --channels {} must be a positive multiple of --partial {}", opts.channels, opts.partial);
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
    cells_.push_back(std::make_shared<SearchCell>(opts.nodes, c_pp, c_p, c, reduction, reduction_prev, opts.partial,
                                                  opts.ops));
    add_child(fmt::format("cell{}", i), cells_.back());
    reduction_prev = reduction;
    c_pp = c_p;
    c_p = opts.nodes * c;
  }
  classifier_ = register_module("classifier", std::make_shared<nn::Linear>(c_p, opts.classes));

  Generator gen(opts.seed);
  const int64_t e = num_edges(), n_ops = static_cast<int64_t>(opts.ops.size());
  auto leaf = [&](Shape s) {
    Tensor t = (Tensor::randn(s, {}, &gen) * 1e-3).detach();
    t.requires_grad_(true);
    return t;
  };
  alpha_normal = leaf({e, n_ops});
  alpha_reduce = leaf({e, n_ops});
  beta_normal = leaf({e});
  beta_reduce = leaf({e});
}

int64_t Supernet::num_edges() const { return opts.nodes * (opts.nodes + 3) / 2; }

std::vector<Tensor> Supernet::arch_parameters() const {
  if (opts.edge_norm) return {alpha_normal, alpha_reduce, beta_normal, beta_reduce};
  return {alpha_normal, alpha_reduce};
}

Tensor Supernet::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == opts.in_channels, "nas: supernet input {} must be [N, {}, H, W]",
              shape_str(x.shape()), opts.in_channels);
  const Tensor wn = softmax(alpha_normal, -1), wr = softmax(alpha_reduce, -1);
  Tensor en, er;
  if (opts.edge_norm) {
    en = edge_softmax(beta_normal, opts.nodes);
    er = edge_softmax(beta_reduce, opts.nodes);
  }
  Tensor s0 = stem_->forward(x), s1 = s0;
  for (const auto& cell : cells_) {
    Tensor next = cell->reduction ? cell->forward_cell(s0, s1, wr, er, aux_skip) : cell->forward_cell(s0, s1, wn, en, aux_skip);
    s0 = s1;
    s1 = next;
  }
  return classifier_->forward(flatten(adaptive_avg_pool2d(s1, 1, 1), 1));
}

CellWeights Supernet::weights(bool reduction) const {
  NoGradGuard no_grad;
  const Tensor& a = reduction ? alpha_reduce : alpha_normal;
  const Tensor& b = reduction ? beta_reduce : beta_normal;
  return {softmax(a, -1).detach(), opts.edge_norm ? edge_softmax(b, opts.nodes).detach() : Tensor()};
}

Genotype Supernet::genotype() const { return derive(weights(false), weights(true), opts.ops, opts.nodes); }

std::vector<CellShape> Supernet::cell_shapes(int64_t image_size) const {
  std::vector<CellShape> out;
  int64_t size = image_size;
  for (const auto& cell : cells_) {
    out.push_back({cell->channels, size, cell->reduction});
    if (cell->reduction) size /= 2;
  }
  return out;
}

}  // namespace ember::nas
