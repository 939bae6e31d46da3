// Colorizer training loop (AdamW + cosine schedule with warm-up, seeded order, flips and hint
// counts keyed by (seed, epoch, row) so a resumed run repeats the uninterrupted one bit for bit),
// per-epoch validation, checkpoints, metrics.jsonl, curves.png and a sample grid per epoch.
#include <cmath>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "dist/ddp.h"
#include "dist/init.h"
#include "report/gnuplot.h"
#include "nn/optim/adam.h"
#include "nn/optim/scheduler.h"
#include "nn/safetensors.h"
#include "tensor/generator.h"
#include "zoo/colorize/colorize.h"
#include "zoo/common/progress.h"

namespace ember::zoo::colorize {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kStateFile = "train_state.safetensors";
constexpr int64_t kSamples = 8;        // val emoji in the per-epoch grid
constexpr int64_t kSampleHints = 5;    // hints given to them (hint models)
constexpr double kSsimWeight = 0.2;    // loss = L1 + w (1 - SSIM) for --loss l1+ssim

uint64_t mix(uint64_t seed, uint64_t salt) { return seed * 0x9E3779B97F4A7C15ull + salt; }

// A permutation of 0..n-1 drawn from (seed, epoch): Fisher-Yates over a Philox stream.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[size_t(i)], order[philox4x32(mix(seed, 1), uint64_t(epoch), uint64_t(i))[0] % uint64_t(i + 1)]);
  return order;
}

json config_json(const TrainConfig& c) {
  return {{"epochs", c.epochs}, {"batch", c.batch}, {"lr", c.lr},       {"weight_decay", c.weight_decay},
          {"hints", c.hints},   {"loss", c.loss},   {"augment", c.augment}, {"depth", c.depth},
          {"width", c.width},   {"seed", c.seed},   {"size", c.size},   {"train_limit", c.train_limit},
          {"val_limit", c.val_limit}};
}

json metrics_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},       {"train_loss", m.train_loss}, {"val_l1", m.val_l1},
          {"val_psnr", m.val_psnr}, {"val_psnr_mean", m.val_psnr_mean}, {"val_ssim", m.val_ssim},
          {"lr", m.lr},             {"seconds", m.seconds}};
}

EpochMetrics metrics_from_json(const json& j) {
  return {j.at("epoch").get<int64_t>(),     j.at("train_loss").get<double>(), j.at("val_l1").get<double>(),
          j.at("val_psnr").get<double>(),   j.at("val_psnr_mean").get<double>(), j.at("val_ssim").get<double>(),
          j.at("lr").get<double>(),         j.at("seconds").get<double>()};
}


void plot_curves(const fs::path& out, const std::vector<EpochMetrics>& history) {
  std::string rows;
  for (const auto& m : history)
    rows += fmt::format("{} {:.6f} {:.6f} {:.4f} {:.4f}\n", m.epoch, m.train_loss, m.val_l1, m.val_psnr, m.val_ssim);
  const std::string script =
      "set terminal pngcairo size 1000,420\nset output 'out.png'\nset multiplot layout 1,2 title "
      "'OpenMoji colorization'\nset xlabel 'epoch'\nset grid\nset key top right\nset ylabel 'L1'\n"
      "plot 'curves.dat' using 1:2 with linespoints lw 2 title 'train loss', "
      "'' using 1:3 with linespoints lw 2 title 'val L1 (0 hints)'\n"
      "set ylabel 'val PSNR (dB, pooled)'\nset y2label 'val SSIM'\nset y2tics\nset key bottom right\n"
      "plot 'curves.dat' using 1:4 with linespoints lw 2 lc rgb '#2a9d3a' title 'PSNR', "
      "'' using 1:5 axes x1y2 with linespoints lw 2 lc rgb '#7b3294' title 'SSIM'\nunset multiplot\n";
  report::run_gnuplot(script, {{"curves.dat", rows}}, (out / "curves.png").string());
}

}  // namespace

void save_samples(UNet& model, const OpenMoji& set, const std::string& path, int64_t hints, int64_t count,
                  bool zero_hint_column, bool flip_average) {
  const int64_t n = std::min<int64_t>(count, set.line.size(0)), h = set.line.size(1), w = set.line.size(2);
  EMBER_CHECK(n > 0, "colorize: no images for the sample grid {}", path);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  const bool hinted = model.config.hints && hints > 0;
  auto predict = [&](int64_t k, Batch& b) {
    b = make_batch(set, rows, model.config.hints, {}, std::vector<int64_t>(static_cast<size_t>(n), k), 0x5eed);
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    Tensor pred = model.predict(b.input, flip_average).contiguous();
    model.train(was_training);
    return pred;
  };
  Batch b, b0;
  const Tensor pred = predict(hinted ? hints : 0, b);
  const Tensor pred0 = zero_hint_column ? predict(0, b0) : Tensor();
  const int64_t px = h * w, cols = zero_hint_column ? 5 : 4;
  Tensor cells = Tensor::ones({cols * n, 3, h, w});
  float* c = cells.data<float>();
  const float* x = b.input.data<float>();
  auto cell = [&](int64_t i, int64_t col) { return c + (cols * i + col) * 3 * px; };
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * b.input.size(1) * px;
    const int64_t hint_col = zero_hint_column ? 2 : 1;
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t q = 0; q < px; ++q) {
        cell(i, 0)[ch * px + q] = xi[q];
        if (hinted && xi[4 * px + q] > 0) cell(i, hint_col)[ch * px + q] = xi[(1 + ch) * px + q];
      }
    if (zero_hint_column) std::copy_n(pred0.data<float>() + i * 3 * px, 3 * px, cell(i, 1));
    std::copy_n(pred.data<float>() + i * 3 * px, 3 * px, cell(i, hint_col + 1));
    std::copy_n(b.target.data<float>() + i * 3 * px, 3 * px, cell(i, hint_col + 2));
  }
  data::save_grid(path, cells, {.nrow = cols, .padding = 2, .scale = 2, .background = {255, 255, 255}});
}

LoadedModel load_checkpoint(const std::string& path) {
  EMBER_CHECK(fs::exists(path), "colorize: checkpoint '{}' does not exist", path);
  nn::TensorDict dict = nn::load_safetensors(path);
  auto meta = [&](const std::string& k) {
    auto it = dict.metadata.find(k);
    return it == dict.metadata.end() ? std::string() : it->second;
  };
  EMBER_CHECK(meta("ember.model") == "colorize-unet", "colorize: '{}' is not a colorize checkpoint (ember.model is '{}')",
              path, meta("ember.model"));
  LoadedModel m;
  m.model = std::make_shared<UNet>(UNetConfig{.depth = std::stoll(meta("colorize.depth")),
                                              .width = std::stoll(meta("colorize.width")),
                                              .hints = meta("colorize.hints") == "1"});
  m.model->load_state_dict(dict.tensors);
  m.epoch = std::stoll(meta("colorize.epoch"));
  m.size = std::stoi(meta("colorize.size"));
  return m;
}

TrainResult train(const TrainConfig& cfg, dist::CommunicatorPtr comm) {
  EMBER_CHECK(cfg.epochs >= 1, "train colorize: --epochs must be >= 1, got {}", cfg.epochs);
  EMBER_CHECK(cfg.batch >= 2, "train colorize: --batch must be >= 2 (BatchNorm), got {}", cfg.batch);
  EMBER_CHECK(cfg.lr > 0 && std::isfinite(cfg.lr), "train colorize: --lr must be positive, got {}", cfg.lr);
  EMBER_CHECK(cfg.weight_decay >= 0, "train colorize: --weight-decay must be >= 0, got {}", cfg.weight_decay);
  EMBER_CHECK(cfg.hints == "none" || cfg.hints == "random", "train colorize: --hints must be none or random, got '{}'",
              cfg.hints);
  EMBER_CHECK(cfg.loss == "l1" || cfg.loss == "l2" || cfg.loss == "l1+ssim",
              "train colorize: --loss must be l1, l2 or l1+ssim, got '{}'",
              cfg.loss);
  EMBER_CHECK(cfg.augment == "none" || cfg.augment == "flip" || cfg.augment == "flip+shift",
              "train colorize: --augment must be none, flip or flip+shift, got '{}'", cfg.augment);
  if (cfg.threads > 0) set_num_threads(cfg.threads);
  const fs::path out(cfg.out);

  const OpenMoji all = load_openmoji(cfg.data_root, cfg.size);
  OpenMoji train_set = select_split(all, Split::train), val = select_split(all, Split::val);
  auto head = [](const OpenMoji& s, int64_t limit) {
    if (limit <= 0 || limit >= s.line.size(0)) return s;
    std::vector<int64_t> rows(static_cast<size_t>(limit));
    std::iota(rows.begin(), rows.end(), 0);
    return select_rows(s, rows);
  };
  train_set = head(train_set, cfg.train_limit);
  val = head(val, cfg.val_limit);
  const int64_t n = train_set.line.size(0);
  // --distributed: this process is one rank of `ember launch`; the ranks split each global batch.
  if (cfg.distributed && !comm) {
    const auto env = dist::env_from_environment();
    EMBER_CHECK(env, "train colorize --distributed: RANK/WORLD_SIZE are not set (run under `ember launch`)");
    comm = dist::init_process_group(*env);
  }
  std::optional<dist::DistributedSampler> sampler;
  if (comm) sampler.emplace(n, comm->rank(), comm->world_size(), cfg.batch);
  const bool main_rank = !comm || comm->rank() == 0;  // validates, prints, writes the run folder
  const int64_t steps = sampler ? sampler->steps_per_epoch() : (n + cfg.batch - 1) / cfg.batch;
  if (main_rank) fs::create_directories(out);

  const UNetConfig ucfg{.depth = cfg.depth, .width = cfg.width, .hints = cfg.hints != "none", .sync_bn = comm};
  std::shared_ptr<UNet> model;
  {
    // Ranks that are threads of one process (the tests) share the default generator: one at a time.
    static std::mutex init_mu;
    std::lock_guard lock(init_mu);
    manual_seed(cfg.seed);
    model = std::make_shared<UNet>(ucfg);
  }
  EMBER_CHECK(cfg.size % model->stride() == 0, "train colorize: size {} is not a multiple of the U-Net stride {}",
              cfg.size, model->stride());
  nn::AdamW opt(model->parameters(), {.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  const int64_t total = cfg.epochs * steps;
  nn::CosineWithWarmup sched(opt, {.warmup_steps = std::min<int64_t>(std::max<int64_t>(1, total / 30), total - 1),
                                   .total_steps = total, .start_factor = 0.1});

  TrainResult result;
  result.checkpoint = (out / kModelFile).string();
  const fs::path state_path = out / kStateFile;
  int64_t start_epoch = 0;
  if (cfg.resume && fs::exists(state_path) && fs::exists(result.checkpoint)) {
    LoadedModel saved = load_checkpoint(result.checkpoint);
    std::map<std::string, std::string> meta = opt.load(state_path.string());
    const json saved_cfg = json::parse(meta.at("colorize.config"));
    EMBER_CHECK(saved_cfg == config_json(cfg), "train colorize --resume: {} was written by a run with {}, not {}",
                state_path.string(), saved_cfg.dump(), config_json(cfg).dump());
    start_epoch = std::stoll(meta.at("colorize.epoch"));
    EMBER_CHECK(saved.epoch == start_epoch, "train colorize --resume: {} is from epoch {} but {} from epoch {}",
                result.checkpoint, saved.epoch, state_path.string(), start_epoch);
    model->load_state_dict(saved.model->state_dict());
    sched.load_state_dict(meta);
    if (main_rank) {
      for (const auto& j : json::parse(meta.at("colorize.history"))) result.history.push_back(metrics_from_json(j));
      fmt::print("resuming from epoch {}/{} ({})\n", start_epoch, cfg.epochs, out.string());
    }
  } else if (cfg.resume && main_rank) {
    fmt::print("no checkpoint in {}; starting a new run\n", out.string());
  }
  // Every rank starts from rank 0's weights (after a resume too); gradients are averaged per step.
  std::optional<dist::DistributedDataParallel> ddp;
  if (comm) ddp.emplace(model, comm);

  if (main_rank)
    fmt::print("colorize U-Net depth {} width {}{}: {} parameters, {} train / {} val pairs at {}px, {} epochs of {} "
             "steps (batch {}), AdamW lr {} wd {}, loss {}, augment {}, seed {}, {} threads\n",
             cfg.depth, cfg.width, ucfg.hints ? " + hints" : "", model->num_parameters(), n, val.line.size(0), cfg.size,
             cfg.epochs, steps, cfg.batch, cfg.lr, cfg.weight_decay, cfg.loss, cfg.augment, cfg.seed, get_num_threads());
  if (comm && main_rank)
    fmt::print("distributed: {} ranks ({}), {} pairs of each global batch of {} per rank, SyncBatchNorm\n",
               comm->world_size(), comm->backend(), sampler->local_batch(), cfg.batch);
  int64_t run_epochs = 0;
  for (int64_t epoch = start_epoch + 1; epoch <= cfg.epochs; ++epoch) {
    if (cfg.stop_after > 0 && run_epochs == cfg.stop_after) {
      if (main_rank) fmt::print("stopping after {} epoch(s) as asked; continue with --resume\n", run_epochs);
      break;
    }
    std::vector<int64_t> order = epoch_order(n, cfg.seed, epoch);
    if (sampler) order = sampler->shard(order);  // this rank's pairs; they keep their keys
    const int64_t local = sampler ? sampler->local_batch() : cfg.batch, mine = int64_t(order.size());
    Progress progress(fmt::format("epoch {}/{}", epoch, cfg.epochs), steps, cfg.batch, cfg.progress && main_rank);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t s = 0; s < steps; ++s) {
      std::vector<int64_t> rows(order.begin() + s * local, order.begin() + std::min(mine, (s + 1) * local));
      std::vector<Augment> aug(rows.size());
      std::vector<int64_t> counts(rows.size(), 0);
      for (size_t i = 0; i < rows.size(); ++i) {
        const uint64_t key = uint64_t(epoch) * 1000003ull + uint64_t(rows[i]);
        const auto u = philox4x32(mix(cfg.seed, 2), key);
        if (cfg.augment != "none") aug[i].flip = u[0] & 1;
        if (cfg.augment == "flip+shift") {
          aug[i].dy = int64_t(u[1] % (2 * kMaxShift + 1)) - kMaxShift;
          aug[i].dx = int64_t(u[2] % (2 * kMaxShift + 1)) - kMaxShift;
        }
        if (ucfg.hints) counts[i] = sample_hint_count(mix(cfg.seed, 3), key);
      }
      Batch b = make_batch(train_set, rows, ucfg.hints, aug, counts, mix(cfg.seed, 4 + uint64_t(epoch)));
      opt.zero_grad();
      Tensor pred = model->forward(b.input);
      // l2 (mean squared error) is what pooled PSNR measures; l1 gives sharper, more saturated colours.
      Tensor loss = cfg.loss == "l2" ? mse_loss(pred, b.target) : l1_loss(pred, b.target);
      if (cfg.loss == "l1+ssim") loss = loss + kSsimWeight * (1.0 - ssim_loss_term(pred, b.target));
      loss.backward();
      if (ddp) ddp->sync_gradients();
      opt.step();
      sched.step();
      const int64_t world = comm ? comm->world_size() : 1;  // every rank's share has the same size
      const double l = comm ? comm->allreduce(loss.item(), dist::ReduceOp::avg) : loss.item();
      loss_sum += l * double(rows.size() * world);
      seen += int64_t(rows.size()) * world;
      progress.update(s + 1, fmt::format("loss {:.4f}", loss_sum / double(seen)));
    }
    progress.finish();
    if (!main_rank) {  // rank 0 alone validates and saves; the others go on to the next epoch
      ++run_epochs;
      continue;
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.seconds = progress.seconds();
    m.train_loss = loss_sum / double(seen);
    m.lr = opt.lr();
    EvalResult ev = evaluate(*model, val, Tensor(), 0, false);
    m.val_l1 = ev.model.l1;
    m.val_psnr = ev.model.psnr_pooled;
    m.val_psnr_mean = ev.model.psnr_mean;
    m.val_ssim = ev.model.ssim;
    result.history.push_back(m);
    ++run_epochs;

    json hist = json::array();
    for (const auto& e : result.history) hist.push_back(metrics_json(e));
    std::map<std::string, std::string> meta = sched.state_dict();
    meta["colorize.epoch"] = std::to_string(epoch);
    meta["colorize.history"] = hist.dump();
    meta["colorize.config"] = config_json(cfg).dump();
    opt.save(state_path.string(), meta);
    nn::save_safetensors(result.checkpoint, model->state_dict(),
                         {{"ember.model", "colorize-unet"},
                          {"colorize.depth", std::to_string(cfg.depth)},
                          {"colorize.width", std::to_string(cfg.width)},
                          {"colorize.hints", ucfg.hints ? "1" : "0"},
                          {"colorize.size", std::to_string(cfg.size)},
                          {"colorize.epoch", std::to_string(epoch)},
                          {"colorize.val_psnr", fmt::format("{:.17g}", m.val_psnr)}});
    std::string lines;
    for (const auto& e : result.history) lines += metrics_json(e).dump() + "\n";
    data::write_file_atomic((out / "metrics.jsonl").string(), bytes_of(lines));
    fmt::print("epoch {}/{}: train loss {:.4f} | val L1 {:.4f} PSNR {:.2f} dB (per image {:.2f}) SSIM {:.4f} | lr {:.2e}"
               " | {:.1f} s, {:.1f} img/s\n",
               epoch, cfg.epochs, m.train_loss, m.val_l1, m.val_psnr, m.val_psnr_mean, m.val_ssim, m.lr, m.seconds,
               double(seen) / m.seconds);
    if (cfg.plots) {
      plot_curves(out, result.history);
      save_samples(*model, val, (out / fmt::format("samples-epoch{:03d}.png", epoch)).string(),
                   ucfg.hints ? kSampleHints : 0, kSamples);
    }
  }
  return result;
}

}  // namespace ember::zoo::colorize
