// The DARTS supernet for small images, with the PC-DARTS and DARTS- remedies against collapse.
//
//   stem: conv 3x3 (in -> stem_multiplier*C) + BN
//   cells 0 .. cells-1: reduction cells (channels doubled, H and W halved) at cells/3 and 2*cells/3,
//     normal cells elsewhere; each reads the two previous cells' outputs
//   global average pool, linear -> classes
// A cell's node i sums, over every earlier state j, edge_weight[e] * MixedOp_e(h_j), and a MixedOp
// is sum over candidate ops of softmax(alpha[e])[o] * op(x). All normal cells share alpha_normal
// [E, O], all reduction cells alpha_reduce; E = nodes*(nodes+3)/2 edges.
//
// Remedies (both optional, on by default): partial channels (PC-DARTS): a MixedOp runs the ops on
// 1/partial of the channels and passes the rest through (max-pooled on stride-2 edges), then
// shuffles channels; edge normalisation: edge_weight = softmax(beta) over a node's incoming edges,
// learned with alpha. DARTS-: an auxiliary skip aux * x on every stride-1 edge, aux set by the
// search (decaying to 0), so skip connections need not win alpha to let gradients through.
//
// alpha/beta are plain leaf tensors, not module parameters: parameters() are the weights only, and
// arch_parameters() the architecture, so each gets its own optimizer on its own data split.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hpo/nas/genotype.h"
#include "nn/container.h"
#include "nn/layers.h"

namespace ember::nas {

struct SupernetOptions {
  int64_t channels = 8;   // C of the first cell
  int64_t cells = 5;      // >= 3
  int64_t nodes = 4;      // intermediate nodes per cell
  int64_t stem_multiplier = 3;
  int64_t in_channels = 1, classes = 10;
  int64_t partial = 4;    // PC-DARTS K: ops see channels/K (1: all channels)
  bool edge_norm = true;  // PC-DARTS edge normalisation (beta)
  std::vector<std::string> ops = {};  // empty: default_ops()
  uint64_t seed = 0;      // alpha/beta init (weights use the default generator)
};

// One edge: the candidate ops on channels/partial channels.
class MixedOp : public nn::Module {
 public:
  MixedOp(int64_t channels, int64_t stride, int64_t partial, const std::vector<std::string>& ops);
  // weights [O] (softmax over ops); aux: the DARTS- skip coefficient (stride-1 edges only).
  Tensor forward_mixed(const Tensor& x, const Tensor& weights, double aux);
  std::string type_name() const override { return "MixedOp"; }
  const int64_t stride, partial;

 private:
  std::vector<std::string> names_;
  std::vector<nn::ModulePtr> ops_;  // nullptr for "none"
};

class SearchCell : public nn::Module {
 public:
  SearchCell(int64_t nodes, int64_t c_pp, int64_t c_p, int64_t c, bool reduction, bool reduction_prev,
             int64_t partial, const std::vector<std::string>& ops);
  // op_weights [E, O]; edge_weights [E] (undefined: all 1).
  Tensor forward_cell(const Tensor& s0, const Tensor& s1, const Tensor& op_weights, const Tensor& edge_weights,
                      double aux);
  std::string type_name() const override { return "SearchCell"; }
  const int64_t nodes, channels;
  const bool reduction;

 private:
  nn::ModulePtr pre0_, pre1_;
  std::vector<std::shared_ptr<MixedOp>> edges_;
};

// Spatial geometry of a cell, for the latency table: channels, input size, reduction.
struct CellShape {
  int64_t channels, size;
  bool reduction;
};

class Supernet : public nn::Module {
 public:
  explicit Supernet(SupernetOptions opts);
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] -> logits [N, classes]
  std::string type_name() const override { return "Supernet"; }

  std::vector<Tensor> arch_parameters() const;  // alpha_normal, alpha_reduce (+ beta_normal, beta_reduce)
  CellWeights weights(bool reduction) const;    // softmax(alpha) [E, O], per-node softmax(beta) [E]
  Genotype genotype() const;                    // the derivation rule on the current weights
  std::vector<CellShape> cell_shapes(int64_t image_size) const;
  int64_t num_edges() const;

  const SupernetOptions opts;
  Tensor alpha_normal, alpha_reduce, beta_normal, beta_reduce;
  double aux_skip = 0;  // DARTS- coefficient, set by the search

 private:
  std::shared_ptr<nn::Sequential> stem_;
  std::vector<std::shared_ptr<SearchCell>> cells_;
  std::shared_ptr<nn::Linear> classifier_;
};

// Softmax of beta [E] within each node's incoming edges (node i owns 2 + i consecutive entries).
Tensor edge_softmax(const Tensor& beta, int64_t nodes);

}  // namespace ember::nas
