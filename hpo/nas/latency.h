// The hardware-aware term of the search (ProxylessNAS / FBNet style): a lookup table of each
// candidate op's measured batch-1 forward latency on this CPU at each cell's shape, filled by our
// own micro-benchmark and cached as JSON, and the expected latency of the supernet
//   E[lat] = sum over cells, edges, ops of softmax(alpha)[e, o] * lat(o, cell shape, edge stride)
// which is differentiable in alpha and is added to the search loss with a weight.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hpo/nas/genotype.h"
#include "hpo/nas/supernet.h"

namespace ember::nas {

struct LatencyTable {
  std::string isa;     // CPU ISA the table was measured with
  int threads = 1;     // threads it was measured with
  std::map<std::string, double> ms;  // key(op, c, size, stride) -> median milliseconds

  static std::string key(const std::string& op, int64_t channels, int64_t size, int64_t stride);
  double at(const std::string& op, int64_t channels, int64_t size, int64_t stride) const;  // throws if absent
  nlohmann::json to_json() const;
  static LatencyTable from_json(const nlohmann::json& j);
};

// Fills the table for every op at every cell shape of `shapes` (batch 1, eval mode, no grad;
// median of `repeats` timed runs after warm-up), reusing the entries of `cache_path` when that file
// exists and was measured with the same ISA and thread count, and writing the result back (temp +
// rename; "" = no cache).
LatencyTable measure_latency(const std::vector<CellShape>& shapes, const std::vector<std::string>& ops,
                             const std::string& cache_path, int repeats = 15);

// Per cell type, the [E, O] matrix of summed latencies over the cells of that type: E[lat] is then
// sum(softmax(alpha_normal) * normal) + sum(softmax(alpha_reduce) * reduce).
struct LatencyCost {
  Tensor normal, reduce;  // f32 [E, O], milliseconds
};
LatencyCost latency_cost(const LatencyTable& t, const std::vector<CellShape>& shapes,
                         const std::vector<std::string>& ops, int64_t nodes);
Tensor expected_latency(const Supernet& net, const LatencyCost& cost);  // scalar, differentiable in alpha
// The same sum for a derived genotype (its kept edges only), by the table.
double genotype_latency(const Genotype& g, const LatencyTable& t, const std::vector<CellShape>& shapes);

// Median wall time (ms) of `runs` batch-1 forwards of a module in eval mode (after 3 warm-ups);
// min_ms (optional) receives the fastest run, the steadier figure on a shared, preempting machine.
double batch1_latency_ms(nn::Module& m, const Shape& input, int runs, double* min_ms = nullptr);

}  // namespace ember::nas
