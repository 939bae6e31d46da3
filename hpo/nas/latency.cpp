// Latency lookup table, its micro-benchmark and the expected-latency term (latency.h).
#include "hpo/nas/latency.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "hpo/nas/ops.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/parallel.h"

namespace ember::nas {
using json = nlohmann::json;

namespace {
// The input size of an edge of cell s: stride-2 edges read the cell's input, the others run at
// the cell's output size (halved in a reduction cell).
int64_t edge_size(const CellShape& s, int64_t stride) { return stride == 2 || !s.reduction ? s.size : s.size / 2; }
}  // namespace

std::string LatencyTable::key(const std::string& op, int64_t channels, int64_t size, int64_t stride) {
  return fmt::format("{} c{} s{} x{}", op, channels, stride, size);
}

double LatencyTable::at(const std::string& op, int64_t channels, int64_t size, int64_t stride) const {
  auto it = ms.find(key(op, channels, size, stride));
  EMBER_CHECK(it != ms.end(), "nas latency: no entry for '{}'", key(op, channels, size, stride));
  return it->second;
}

json LatencyTable::to_json() const { return {{"isa", isa}, {"threads", threads}, {"ms", ms}}; }

LatencyTable LatencyTable::from_json(const json& j) {
  EMBER_CHECK(j.is_object() && j.contains("isa") && j.contains("threads") && j.contains("ms") && j.at("ms").is_object(),
              "nas latency: expected {{\"isa\", \"threads\", \"ms\"}}");
  LatencyTable t;
  t.isa = j.at("isa").get<std::string>();
  t.threads = j.at("threads").get<int>();
  for (const auto& [k, v] : j.at("ms").items()) {
    EMBER_CHECK(v.is_number() && v.get<double>() >= 0, "nas latency: entry '{}' is not a non-negative number", k);
    t.ms[k] = v.get<double>();
  }
  return t;
}

double batch1_latency_ms(nn::Module& m, const Shape& input, int runs, double* min_ms) {
  const bool was_training = m.is_training();
  m.eval();
  NoGradGuard no_grad;
  Generator gen(0);
  const Tensor x = Tensor::randn(input, {}, &gen);
  for (int i = 0; i < 3; ++i) (void)m.forward(x);
  std::vector<double> t;
  for (int i = 0; i < std::max(1, runs); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)m.forward(x);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  m.train(was_training);
  if (min_ms) *min_ms = *std::min_element(t.begin(), t.end());
  std::nth_element(t.begin(), t.begin() + long(t.size() / 2), t.end());
  return t[t.size() / 2];
}

LatencyTable measure_latency(const std::vector<CellShape>& shapes, const std::vector<std::string>& ops,
                             const std::string& cache_path, int repeats) {
  LatencyTable t{std::string(cpu::isa_name(cpu::active_isa())), get_num_threads(), {}};
  if (!cache_path.empty() && std::filesystem::exists(cache_path)) {
    std::ifstream in(cache_path);
    std::stringstream ss;
    ss << in.rdbuf();
    const json j = json::parse(ss.str(), nullptr, false);
    EMBER_CHECK(!j.is_discarded(), "nas latency: cache '{}' is not valid JSON", cache_path);
    LatencyTable cached = LatencyTable::from_json(j);
    if (cached.isa == t.isa && cached.threads == t.threads) t.ms = cached.ms;
  }
  bool changed = false;
  for (const auto& s : shapes)
    for (int64_t stride : {int64_t{1}, int64_t{2}}) {
      if (stride == 2 && !s.reduction) continue;
      const int64_t size = edge_size(s, stride);
      for (const auto& op : ops) {
        const std::string k = LatencyTable::key(op, s.channels, size, stride);
        if (t.ms.count(k)) continue;
        if (op == "none") {
          t.ms[k] = 0;
          continue;
        }
        nn::ModulePtr m = make_op(op, s.channels, stride, /*affine=*/true);
        t.ms[k] = batch1_latency_ms(*m, {1, s.channels, size, size}, repeats);
        changed = true;
      }
    }
  if (changed && !cache_path.empty()) {
    const std::string tmp = cache_path + ".tmp";
    {
      std::ofstream out(tmp);
      EMBER_CHECK(out.good(), "nas latency: cannot write '{}'", tmp);
      out << t.to_json().dump(2) << "\n";
    }
    std::filesystem::rename(tmp, cache_path);
  }
  return t;
}

LatencyCost latency_cost(const LatencyTable& t, const std::vector<CellShape>& shapes,
                         const std::vector<std::string>& ops, int64_t nodes) {
  const int64_t e_count = nodes * (nodes + 3) / 2, n_ops = static_cast<int64_t>(ops.size());
  std::vector<float> normal(size_t(e_count * n_ops), 0.f), reduce(normal.size(), 0.f);
  for (const auto& s : shapes) {
    int64_t e = 0;
    for (int64_t i = 0; i < nodes; ++i)
      for (int64_t j = 0; j < i + 2; ++j, ++e) {
        const int64_t stride = s.reduction && j < 2 ? 2 : 1, size = edge_size(s, stride);
        for (int64_t o = 0; o < n_ops; ++o)
          (s.reduction ? reduce : normal)[size_t(e * n_ops + o)] += float(t.at(ops[size_t(o)], s.channels, size, stride));
      }
  }
  return {Tensor::from_vector(normal, {e_count, n_ops}), Tensor::from_vector(reduce, {e_count, n_ops})};
}

Tensor expected_latency(const Supernet& net, const LatencyCost& cost) {
  return add(sum(mul(softmax(net.alpha_normal, -1), cost.normal)), sum(mul(softmax(net.alpha_reduce, -1), cost.reduce)));
}

double genotype_latency(const Genotype& g, const LatencyTable& t, const std::vector<CellShape>& shapes) {
  double total = 0;
  for (const auto& s : shapes)
    for (const auto& e : s.reduction ? g.reduce : g.normal) {
      const int64_t stride = s.reduction && e.from < 2 ? 2 : 1, size = edge_size(s, stride);
      total += t.at(e.op, s.channels, size, stride);
    }
  return total;
}

}  // namespace ember::nas
