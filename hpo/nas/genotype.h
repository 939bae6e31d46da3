// A discrete cell architecture (DARTS' "genotype") and how one is derived from the search.
//
// A cell has two inputs (states 0 and 1: the outputs of the two previous cells) and `nodes`
// intermediate nodes (states 2, 3, ...). Node i sums exactly two ops, each applied to an earlier
// state; the cell's output concatenates the states in `*_concat`. JSON form (DARTS' layout):
//   {"normal": [["sep_conv_3x3", 0], ["skip_connect", 1], ...], "normal_concat": [2, 3, 4, 5],
//    "reduce": [...], "reduce_concat": [...]}
// (two entries per node, node by node). Reduction cells halve H and W on the edges from states 0/1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/tensor.h"

namespace ember::nas {

struct GenotypeEdge {
  std::string op;
  int64_t from = 0;  // the state the op reads
  bool operator==(const GenotypeEdge&) const = default;
};

struct Genotype {
  std::vector<GenotypeEdge> normal, reduce;  // 2 per node
  std::vector<int64_t> normal_concat, reduce_concat;
  bool operator==(const Genotype&) const = default;

  int64_t nodes() const { return static_cast<int64_t>(normal.size() / 2); }
  nlohmann::json to_json() const;
  // Validates everything (op names, 2 edges per node, edges reading only earlier states, concat
  // states in range) and throws "genotype: ..." naming the field.
  static Genotype from_json(const nlohmann::json& j);
  std::string str() const;  // one line, e.g. for logs
};

// Reads / writes a genotype file (write: temp name + rename). Errors name the file.
Genotype load_genotype(const std::string& path);
void save_genotype(const std::string& path, const Genotype& g);

// The derivation rule of DARTS (with PC-DARTS' edge weights): edges are numbered node by node
// (node i has 2 + i incoming edges, from states 0 .. i+1). For each node, the strength of an edge is
// edge_weight[e] * max over ops other than "none" of op_weight[e, op]; the two strongest edges are
// kept (ties: the lower state) and each gets its strongest op other than "none".
// op_weight [E, O] (softmax over ops), edge_weight [E] (softmax within each node, or undefined = 1).
struct CellWeights {
  Tensor op_weight, edge_weight;
};
Genotype derive(const CellWeights& normal, const CellWeights& reduce, const std::vector<std::string>& ops,
                int64_t nodes);

// How many of the kept ops have no weights (skip, pools): the DARTS collapse indicator.
int64_t parameter_free_ops(const Genotype& g);

// A genotype drawn uniformly from the space: each node picks 2 distinct earlier states and an op
// other than "none" for each (the random-search baseline). Deterministic per seed.
Genotype random_genotype(int64_t nodes, uint64_t seed, const std::vector<std::string>& ops);

// Graphviz source of one cell ("normal" or "reduce"): inputs c_{k-2}, c_{k-1}, nodes, output c_{k}.
std::string to_dot(const Genotype& g, const std::string& cell);

}  // namespace ember::nas
