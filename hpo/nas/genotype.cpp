// Genotypes: JSON, derivation from architecture weights, random sampling, Graphviz (genotype.h).
#include "hpo/nas/genotype.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "hpo/nas/ops.h"
#include "tensor/error.h"

namespace ember::nas {
using json = nlohmann::json;

namespace {

json edges_json(const std::vector<GenotypeEdge>& edges) {
  json a = json::array();
  for (const auto& e : edges) a.push_back(json::array({e.op, e.from}));
  return a;
}

std::vector<GenotypeEdge> edges_from(const json& j, const char* key) {
  EMBER_CHECK(j.contains(key) && j.at(key).is_array(), "genotype: field '{}' is missing or not an array", key);
  std::vector<GenotypeEdge> out;
  for (const auto& e : j.at(key)) {
    EMBER_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number_integer(),
                "genotype: '{}' entries must be [op, state], got {}", key, e.dump());
    out.push_back({e[0].get<std::string>(), e[1].get<int64_t>()});
  }
  return out;
}

std::vector<int64_t> concat_from(const json& j, const char* key) {
  EMBER_CHECK(j.contains(key) && j.at(key).is_array(), "genotype: field '{}' is missing or not an array", key);
  std::vector<int64_t> out;
  for (const auto& v : j.at(key)) {
    EMBER_CHECK(v.is_number_integer(), "genotype: '{}' must hold state numbers, got {}", key, v.dump());
    out.push_back(v.get<int64_t>());
  }
  return out;
}

void check_cell(const std::vector<GenotypeEdge>& edges, const std::vector<int64_t>& concat, const char* cell,
                int64_t nodes) {
  EMBER_CHECK(static_cast<int64_t>(edges.size()) == 2 * nodes, "genotype: '{}' has {} edges, expected 2 per node ({})",
              cell, edges.size(), 2 * nodes);
  for (size_t k = 0; k < edges.size(); ++k) {
    const int64_t node = static_cast<int64_t>(k / 2);
    EMBER_CHECK(is_known_op(edges[k].op) && edges[k].op != "none", "genotype: '{}' edge {} has unknown op '{}'", cell,
                k, edges[k].op);
    EMBER_CHECK(edges[k].from >= 0 && edges[k].from < node + 2,
                "genotype: '{}' edge {} of node {} reads state {}, expected 0..{}", cell, k, node, edges[k].from,
                node + 1);
  }
  EMBER_CHECK(!concat.empty(), "genotype: '{}_concat' is empty", cell);
  for (int64_t s : concat)
    EMBER_CHECK(s >= 2 && s < nodes + 2, "genotype: '{}_concat' names state {}, expected 2..{}", cell, s, nodes + 1);
}

}  // namespace

json Genotype::to_json() const {
  return {{"normal", edges_json(normal)}, {"normal_concat", normal_concat},
          {"reduce", edges_json(reduce)}, {"reduce_concat", reduce_concat}};
}

Genotype Genotype::from_json(const json& j) {
  EMBER_CHECK(j.is_object(), "genotype: expected a JSON object");
  Genotype g{edges_from(j, "normal"), edges_from(j, "reduce"), concat_from(j, "normal_concat"),
             concat_from(j, "reduce_concat")};
  EMBER_CHECK(!g.normal.empty() && g.normal.size() % 2 == 0, "genotype: 'normal' needs 2 edges per node, has {}",
              g.normal.size());
  EMBER_CHECK(g.reduce.size() == g.normal.size(), "genotype: 'reduce' has {} edges, 'normal' {}", g.reduce.size(),
              g.normal.size());
  check_cell(g.normal, g.normal_concat, "normal", g.nodes());
  check_cell(g.reduce, g.reduce_concat, "reduce", g.nodes());
  return g;
}

std::string Genotype::str() const {
  auto cell = [](const std::vector<GenotypeEdge>& edges) {
    std::vector<std::string> parts;
    for (const auto& e : edges) parts.push_back(fmt::format("{}<-{}", e.op, e.from));
    return fmt::format("{}", fmt::join(parts, " "));
  };
  return fmt::format("normal [{}] reduce [{}]", cell(normal), cell(reduce));
}

Genotype load_genotype(const std::string& path) {
  std::ifstream in(path);
  EMBER_CHECK(in.good(), "genotype: cannot open '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  EMBER_CHECK(!j.is_discarded(), "genotype: '{}' is not valid JSON", path);
  try {
    return Genotype::from_json(j);
  } catch (const Error& e) {
    EMBER_CHECK(false, "{} (in '{}')", e.what(), path);
  }
  return {};
}

void save_genotype(const std::string& path, const Genotype& g) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    EMBER_CHECK(out.good(), "genotype: cannot write '{}'", tmp);
    out << g.to_json().dump(2) << "\n";
    EMBER_CHECK(out.good(), "genotype: writing '{}' failed", tmp);
  }
  std::filesystem::rename(tmp, path);
}

namespace {

std::vector<GenotypeEdge> derive_cell(const CellWeights& w, const std::vector<std::string>& ops, int64_t nodes) {
  const int64_t n_ops = static_cast<int64_t>(ops.size()), n_edges = w.op_weight.size(0);
  EMBER_CHECK(w.op_weight.dim() == 2 && w.op_weight.size(1) == n_ops && n_edges == nodes * (nodes + 3) / 2,
              "nas derive: op weights {} do not match {} nodes x {} ops", shape_str(w.op_weight.shape()), nodes, n_ops);
  const auto ow = w.op_weight.contiguous().to_vector<double>();
  std::vector<double> ew(static_cast<size_t>(n_edges), 1.0);
  if (w.edge_weight.defined()) ew = w.edge_weight.contiguous().to_vector<double>();
  std::vector<GenotypeEdge> out;
  int64_t start = 0;
  for (int64_t node = 0; node < nodes; ++node) {
    const int64_t inputs = node + 2;
    std::vector<std::pair<double, GenotypeEdge>> cand;
    for (int64_t s = 0; s < inputs; ++s) {
      const int64_t e = start + s;
      int64_t best = -1;
      for (int64_t o = 0; o < n_ops; ++o)
        if (ops[size_t(o)] != "none" && (best < 0 || ow[size_t(e * n_ops + o)] > ow[size_t(e * n_ops + best)])) best = o;
      cand.push_back({ew[size_t(e)] * ow[size_t(e * n_ops + best)], {ops[size_t(best)], s}});
    }
    std::stable_sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<GenotypeEdge> keep = {cand[0].second, cand[1].second};
    std::sort(keep.begin(), keep.end(), [](const auto& a, const auto& b) { return a.from < b.from; });
    out.insert(out.end(), keep.begin(), keep.end());
    start += inputs;
  }
  return out;
}

std::vector<int64_t> all_nodes(int64_t nodes) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < nodes; ++i) v.push_back(i + 2);
  return v;
}

}  // namespace

Genotype derive(const CellWeights& normal, const CellWeights& reduce, const std::vector<std::string>& ops,
                int64_t nodes) {
  return {derive_cell(normal, ops, nodes), derive_cell(reduce, ops, nodes), all_nodes(nodes), all_nodes(nodes)};
}

int64_t parameter_free_ops(const Genotype& g) {
  int64_t n = 0;
  for (const auto* cell : {&g.normal, &g.reduce})
    for (const auto& e : *cell) n += is_parameter_free(e.op) ? 1 : 0;
  return n;
}

Genotype random_genotype(int64_t nodes, uint64_t seed, const std::vector<std::string>& ops) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> choices;
  for (const auto& o : ops)
    if (o != "none") choices.push_back(o);
  auto cell = [&] {
    std::vector<GenotypeEdge> edges;
    for (int64_t node = 0; node < nodes; ++node) {
      const int64_t a = static_cast<int64_t>(rng() % uint64_t(node + 2));
      int64_t b = static_cast<int64_t>(rng() % uint64_t(node + 1));
      if (b >= a) ++b;  // distinct from a
      for (int64_t s : {std::min(a, b), std::max(a, b)})
        edges.push_back({choices[size_t(rng() % choices.size())], s});
    }
    return edges;
  };
  Genotype g;
  g.normal = cell();
  g.reduce = cell();
  g.normal_concat = g.reduce_concat = all_nodes(nodes);
  return g;
}

std::string to_dot(const Genotype& g, const std::string& cell) {
  const auto& edges = cell == "reduce" ? g.reduce : g.normal;
  const auto& concat = cell == "reduce" ? g.reduce_concat : g.normal_concat;
  auto state = [](int64_t s) { return s == 0 ? std::string("c_{k-2}") : s == 1 ? std::string("c_{k-1}") : std::to_string(s - 2); };
  std::string dot = fmt::format(
      "digraph {} {{\n  rankdir=LR; label=\"{} cell\"; labelloc=t;\n"
      "  node [style=filled, shape=box, fontname=\"helvetica\"];\n  edge [fontname=\"helvetica\", fontsize=10];\n"
      "  \"c_{{k-2}}\" [fillcolor=darkseagreen2]; \"c_{{k-1}}\" [fillcolor=darkseagreen2];\n",
      cell, cell);
  for (int64_t i = 0; i < g.nodes(); ++i) dot += fmt::format("  \"{}\" [fillcolor=lightblue];\n", i);
  dot += "  \"c_{k}\" [fillcolor=palegoldenrod];\n";
  for (size_t k = 0; k < edges.size(); ++k)
    dot += fmt::format("  \"{}\" -> \"{}\" [label=\"{}\", color={}];\n", state(edges[k].from), k / 2, edges[k].op,
                       is_parameter_free(edges[k].op) ? "gray50" : "black");
  for (int64_t s : concat) dot += fmt::format("  \"{}\" -> \"c_{{k}}\" [color=gray];\n", state(s));
  return dot + "}\n";
}

}  // namespace ember::nas
