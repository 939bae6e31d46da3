// `ember nas`: DARTS-style architecture search on Fashion-MNIST (hpo/nas) and its helpers:
//   ember nas fmnist  --search-epochs E --cells C --channels K --latency-weight L --out DIR
//       searches (progress line), writing DIR/genotype.json, search.jsonl (one record per epoch:
//       losses, indicators, the genotype so far), alphas.png, indicators.png, genotype_{normal,
//       reduce}.{dot,png} (Graphviz) and latency.json (the op latency table, reused when present)
//   ember nas random  --count N --out DIR      N random genotypes of the space (the baseline)
//   ember nas bench   --genotype FILE...       parameters and batch-1 latency of the networks
// Retraining is `ember train fmnist --genotype DIR/genotype.json` (cli/fmnist.cpp).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "data/fashion_mnist.h"
#include "hpo/nas/latency.h"
#include "hpo/nas/network.h"
#include "hpo/nas/ops.h"
#include "hpo/nas/report.h"
#include "hpo/nas/search.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/parallel.h"
#include "zoo/common/progress.h"
#include "zoo/fmnist/fmnist.h"

namespace ember::cli {
namespace {
namespace fs = std::filesystem;

struct NasArgs {
  nas::SupernetOptions net;
  nas::SearchOptions search{.hessian_iters = 4};
  int64_t images = 10000;  // first N training images: half train, half validation
  double latency_weight = 0;
  int64_t retrain_channels = 16, retrain_cells = 8;
  std::string out = "runs/nas", data_dir;
  int threads = 0;
  bool progress = true, plots = true;
};

void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    EMBER_CHECK(out.good(), "nas: cannot write '{}'", tmp.string());
    out << text;
  }
  fs::rename(tmp, path);
}

// Batch-1 latency (median of 50) and parameter count of a genotype's stand-alone network. Its
// BatchNorm running statistics are first set by 20 training-mode passes over random images, so eval
// mode sees activations of the scale a trained network's would have (not a fresh network's
// identity BNs).
struct NetworkCost {
  double median_ms, min_ms;
  int64_t params;
};
NetworkCost network_cost(const nas::Genotype& g, int64_t channels, int64_t cells) {
  nas::GenotypeNetwork net(g, {.channels = channels, .cells = cells});
  {
    NoGradGuard no_grad;
    Generator gen(0);
    const Tensor x = Tensor::rand({16, 1, 28, 28}, {}, &gen);
    for (int i = 0; i < 20; ++i) (void)net.forward(x);
  }
  NetworkCost c{0, 0, net.num_parameters()};
  c.median_ms = nas::batch1_latency_ms(net, {1, 1, 28, 28}, 50, &c.min_ms);
  return c;
}

void run_nas_fmnist(NasArgs a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const fs::path out(a.out);
  std::error_code ec;
  fs::create_directories(out, ec);
  EMBER_CHECK(!ec && fs::is_directory(out), "nas fmnist: cannot create --out '{}' ({})", a.out, ec.message());
  EMBER_CHECK(a.images >= 4, "nas fmnist: --images must be >= 4, got {}", a.images);
  data::FashionMnist train(data::Split::train, a.data_dir);
  const int64_t n = std::min(a.images, train.size()), half = n / 2;
  const nas::SplitData trn{train.images().narrow(0, 0, half), train.labels().narrow(0, 0, half)};
  const nas::SplitData val{train.images().narrow(0, half, n - half), train.labels().narrow(0, half, n - half)};

  manual_seed(a.search.seed);
  a.net.seed = a.search.seed;
  nas::Supernet net(a.net);
  const auto shapes = net.cell_shapes(28);
  const nas::LatencyTable table = nas::measure_latency(shapes, net.opts.ops, (out / "latency.json").string());
  const nas::LatencyCost cost = nas::latency_cost(table, shapes, net.opts.ops, net.opts.nodes);
  a.search.latency = &cost;
  a.search.latency_weight = a.latency_weight;
  const int64_t steps = std::max<int64_t>(1, trn.x.size(0) / std::min(a.search.batch, trn.x.size(0)));
  fmt::print("nas fmnist: supernet {} cells x {} nodes, C={}, partial channels 1/{}, edge norm {}, aux skip {}, "
             "{} weights; {} train / {} val images, {} epochs of {} steps (batch {}), {} order, latency weight {}, "
             "{} threads, ISA {}\n",
             a.net.cells, a.net.nodes, a.net.channels, a.net.partial, a.net.edge_norm ? "on" : "off",
             a.search.aux_skip, net.num_parameters(), trn.x.size(0), val.x.size(0), a.search.epochs, steps,
             a.search.batch, a.search.second_order ? "second" : "first", a.latency_weight, get_num_threads(),
             cpu::isa_name(cpu::active_isa()));
  std::fflush(stdout);  // logs show the run as it goes

  std::vector<nas::SearchEpoch> history;
  {  // epoch 0: the initial weights, for the alpha plot
    nas::SearchEpoch e0;
    const auto wn = net.weights(false), wr = net.weights(true);
    e0.op_normal = wn.op_weight.to_vector<double>();
    e0.op_reduce = wr.op_weight.to_vector<double>();
    if (wn.edge_weight.defined()) {
      e0.edge_normal = wn.edge_weight.to_vector<double>();
      e0.edge_reduce = wr.edge_weight.to_vector<double>();
    }
    history.push_back(e0);
  }
  std::string jsonl;
  std::unique_ptr<zoo::Progress> bar;
  int64_t epoch_now = 1;
  const auto on_step = [&](int64_t done, int64_t total, const std::string& status) {
    if (!bar) bar = std::make_unique<zoo::Progress>(fmt::format("search {}/{}", epoch_now, a.search.epochs), total,
                                                    2 * a.search.batch, a.progress);
    bar->update(done, status);
  };
  const auto on_epoch = [&](const nas::SearchEpoch& e) {
    if (bar) bar->finish();
    bar.reset();
    ++epoch_now;
    history.push_back(e);
    jsonl += e.to_json().dump() + "\n";
    write_text(out / "search.jsonl", jsonl);
    nas::save_genotype((out / "genotype.json").string(), e.genotype);
    fmt::print("epoch {}/{}: train {:.4f} | val {:.4f} acc {:.2f}% | param-free ops {}/{} | Hessian eig {:.4g} | "
               "E[lat] {:.2f} ms | aux {:.2f} | {:.0f} s\n  {}\n",
               e.epoch, a.search.epochs, e.train_loss, e.val_loss, 100 * e.val_accuracy, e.parameter_free_ops,
               4 * a.net.nodes, e.hessian_eigenvalue, e.expected_latency_ms, e.aux_skip, e.seconds, e.genotype.str());
    std::fflush(stdout);
    if (a.plots) {
      nas::plot_alphas(history, net.opts.ops, a.net.nodes, (out / "alphas.png").string());
      nas::plot_indicators(std::vector<nas::SearchEpoch>(history.begin() + 1, history.end()),
                           (out / "indicators.png").string());
    }
  };
  const auto result = nas::search(net, trn, val, a.search, on_step, on_epoch);
  const nas::Genotype& g = result.back().genotype;
  const bool drew = nas::draw_genotype(g, (out / "genotype").string());
  const NetworkCost cost_g = network_cost(g, a.retrain_channels, a.retrain_cells);
  double search_s = 0;
  for (const auto& e : result) search_s += e.seconds;
  fmt::print("search: {:.0f} s; genotype {} ({} parameter-free ops, table latency {:.2f} ms)\n"
             "stand-alone network (C={}, {} cells): {} parameters, batch-1 latency median {:.2f} ms, min {:.2f} ms\n"
             "wrote {}/genotype.json{}; retrain: ember train fmnist --genotype {}/genotype.json\n",
             search_s, g.str(), nas::parameter_free_ops(g), nas::genotype_latency(g, table, shapes),
             a.retrain_channels, a.retrain_cells, cost_g.params, cost_g.median_ms, cost_g.min_ms, a.out,
             drew ? ", genotype_normal.png, genotype_reduce.png" : " (install graphviz for the cell pictures)", a.out);
}

void add_nas_fmnist(CLI::App& nas_cmd) {
  auto* cmd = nas_cmd.add_subcommand("fmnist", "DARTS-style architecture search on Fashion-MNIST");
  auto a = std::make_shared<NasArgs>();
  cmd->add_option("--search-epochs", a->search.epochs, "search epochs")->check(positive())->capture_default_str();
  cmd->add_option("--cells", a->net.cells, "cells of the supernet (>= 3; reductions at 1/3 and 2/3)")
      ->check(CLI::Range(int64_t{3}, int64_t{64}))->capture_default_str();
  cmd->add_option("--channels", a->net.channels, "channels of the first cell")->check(positive())->capture_default_str();
  cmd->add_option("--nodes", a->net.nodes, "intermediate nodes per cell")->check(CLI::Range(int64_t{2}, int64_t{8}))
      ->capture_default_str();
  cmd->add_option("--partial", a->net.partial, "PC-DARTS: ops see 1/K of the channels (1: all)")->check(positive())
      ->capture_default_str();
  cmd->add_flag_function("--no-edge-norm", [a](int64_t) { a->net.edge_norm = false; }, "no PC-DARTS edge normalisation");
  cmd->add_option("--aux-skip", a->search.aux_skip, "DARTS-: initial auxiliary skip weight, decays to 0 (0: off)")
      ->check(CLI::Range(0.0, 10.0))->capture_default_str();
  cmd->add_option("--latency-weight", a->latency_weight, "loss += L x expected batch-1 latency (ms)")
      ->check(CLI::Range(0.0, 1e6))->capture_default_str();
  cmd->add_option("--arch-lr", a->search.a_lr, "Adam learning rate of alpha/beta (PC-DARTS: 6e-4 over 50 epochs)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_flag("--second-order", a->search.second_order, "second-order DARTS (finite-difference Hessian-vector)");
  cmd->add_option("--warmup-epochs", a->search.warmup_epochs, "epochs of weight steps before alpha moves")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--hessian-iters", a->search.hessian_iters, "power iterations per epoch for the eigenvalue (0: off)")
      ->check(CLI::Range(0, 100))->capture_default_str();
  cmd->add_option("--images", a->images, "first N training images (half train, half validation)")
      ->check(positive())->capture_default_str();
  cmd->add_option("--batch", a->search.batch, "batch size")->check(positive())->capture_default_str();
  cmd->add_option("--seed", a->search.seed, "seed (weights, alpha, batch order)")->capture_default_str();
  cmd->add_option("--retrain-channels", a->retrain_channels, "C of the stand-alone network timed at the end")
      ->check(positive())->capture_default_str();
  cmd->add_option("--retrain-cells", a->retrain_cells, "cells of that network")->check(CLI::Range(int64_t{3}, int64_t{64}))
      ->capture_default_str();
  cmd->add_option("--out", a->out, "output folder")->capture_default_str();
  cmd->add_option("--data", a->data_dir, "Fashion-MNIST folder (default $EMBER_FMNIST_DIR or the Debian path)");
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->add_flag_function("--no-progress", [a](int64_t) { a->progress = false; }, "no progress line");
  cmd->add_flag_function("--no-plots", [a](int64_t) { a->plots = false; }, "skip alphas.png and indicators.png");
  cmd->callback([a] { run_nas_fmnist(*a); });
}

void add_nas_random(CLI::App& nas_cmd) {
  auto* cmd = nas_cmd.add_subcommand("random", "write random genotypes of the search space (the baseline)");
  struct Args {
    int64_t count = 5, nodes = 4;
    uint64_t seed = 0;
    std::string out = "runs/nas-random";
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--count", a->count, "how many")->check(CLI::Range(int64_t{1}, int64_t{1000}))->capture_default_str();
  cmd->add_option("--nodes", a->nodes, "intermediate nodes per cell")->check(CLI::Range(int64_t{2}, int64_t{8}))
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed")->capture_default_str();
  cmd->add_option("--out", a->out, "output folder (random_<i>.json)")->capture_default_str();
  cmd->callback([a] {
    std::error_code ec;
    fs::create_directories(a->out, ec);
    EMBER_CHECK(!ec, "nas random: cannot create --out '{}' ({})", a->out, ec.message());
    for (int64_t i = 0; i < a->count; ++i) {
      const nas::Genotype g = nas::random_genotype(a->nodes, a->seed * 1000003 + uint64_t(i), nas::default_ops());
      const std::string path = (fs::path(a->out) / fmt::format("random_{}.json", i)).string();
      nas::save_genotype(path, g);
      fmt::print("{}: {} ({} parameter-free ops)\n", path, g.str(), nas::parameter_free_ops(g));
    }
  });
}

void add_nas_bench(CLI::App& nas_cmd) {
  auto* cmd = nas_cmd.add_subcommand("bench", "parameters and batch-1 latency of genotypes' networks (and W2)");
  struct Args {
    std::vector<std::string> genotypes;
    int64_t channels = 16, cells = 8;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--genotype", a->genotypes, "genotype JSON files")->required();
  cmd->add_option("--channels", a->channels, "C of the networks")->check(positive())->capture_default_str();
  cmd->add_option("--cells", a->cells, "cells")->check(CLI::Range(int64_t{3}, int64_t{64}))->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    std::vector<nas::Genotype> genotypes;  // all read (and validated) before anything is timed
    for (const auto& path : a->genotypes) genotypes.push_back(nas::load_genotype(path));
    auto w2 = zoo::fmnist::make_model(zoo::fmnist::Arch::cnn);
    double w2_min = 0;
    const double w2_median = nas::batch1_latency_ms(*w2, {1, 1, 28, 28}, 200, &w2_min);
    fmt::print("W2 cnn: {} parameters, batch-1 latency median {:.3f} ms, min {:.3f} ms ({} threads, ISA {})\n",
               w2->num_parameters(), w2_median, w2_min, get_num_threads(), cpu::isa_name(cpu::active_isa()));
    for (size_t i = 0; i < genotypes.size(); ++i) {
      const NetworkCost c = network_cost(genotypes[i], a->channels, a->cells);
      fmt::print("{}: {} parameters, batch-1 latency median {:.3f} ms, min {:.3f} ms (C={}, {} cells)\n",
                 a->genotypes[i], c.params, c.median_ms, c.min_ms, a->channels, a->cells);
    }
  });
}

}  // namespace

void add_nas_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("nas", "architecture search (DARTS with PC-DARTS / DARTS- remedies, latency-aware)");
  cmd->require_subcommand(1);
  add_nas_fmnist(*cmd);
  add_nas_random(*cmd);
  add_nas_bench(*cmd);
}

}  // namespace ember::cli
