// Trainer (trainer.h): the epoch loop, its checkpoints and its metrics log.
//
// Run folder: model.safetensors (weights; metadata trainer.epoch), train_state.safetensors
// (optimizer state, scheduler state, trainer.epoch, trainer.history as JSON, trainer.rng_seed /
// trainer.rng_offset of the default generator, trainer.config), committed together per epoch by
// commit_checkpoint; metrics.jsonl (one JSON object per epoch) rewritten atomically.
#include "zoo/common/trainer.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "data/image.h"
#include "nn/optim/clip_grad.h"
#include "nn/safetensors.h"
#include "tensor/generator.h"
#include "zoo/common/checkpoint.h"
#include "zoo/common/progress.h"

namespace ember::zoo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kStateFile = "train_state.safetensors";

json to_json(const EpochLog& e) {
  json j = {{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"lr", e.lr}, {"seconds", e.seconds},
            {"examples_per_second", e.examples_per_second}};
  for (const auto& [k, v] : e.eval) j[k] = v;
  return j;
}

EpochLog from_json(const json& j) {
  EpochLog e;
  for (const auto& [k, v] : j.items()) {
    EMBER_CHECK(v.is_number(), "trainer: history field '{}' is not a number", k);
    const double x = v.get<double>();
    if (k == "epoch") e.epoch = v.get<int64_t>();
    else if (k == "train_loss") e.train_loss = x;
    else if (k == "lr") e.lr = x;
    else if (k == "seconds") e.seconds = x;
    else if (k == "examples_per_second") e.examples_per_second = x;
    else e.eval[k] = x;
  }
  return e;
}

const std::string& field(const std::map<std::string, std::string>& meta, const std::string& key,
                         const std::string& path) {
  auto it = meta.find(key);
  EMBER_CHECK(it != meta.end(), "trainer: {}: metadata field '{}' is missing", path, key);
  return it->second;
}

template <typename T>
T number(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  const std::string& s = field(meta, key, path);
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  EMBER_CHECK(ec == std::errc() && p == s.data() + s.size(), "trainer: {}: metadata field '{}' is '{}', expected a number",
              path, key, s.substr(0, 40));
  return v;
}

bool finite_eval(const EpochLog& e) {
  for (const auto& [k, v] : e.eval)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

Trainer::Trainer(nn::Module& model, nn::Optimizer& optimizer, TrainerOptions options, nn::LRScheduler* scheduler)
    : model_(model), optimizer_(optimizer), scheduler_(scheduler), options_(std::move(options)) {
  EMBER_CHECK(options_.epochs >= 1, "trainer: epochs must be >= 1 (got {})", options_.epochs);
  EMBER_CHECK(options_.stop_after >= 0, "trainer: stop_after must be >= 0 (got {})", options_.stop_after);
  EMBER_CHECK(!options_.clip_grad_norm || *options_.clip_grad_norm > 0, "trainer: clip_grad_norm must be > 0 (got {})",
              options_.clip_grad_norm.value_or(0));
  EMBER_CHECK(!options_.resume || !options_.out.empty(), "trainer: resume needs a run folder (out)");
}

std::string Trainer::model_path() const {
  return options_.out.empty() || history_.empty() ? "" : committed_path(options_.out, kModelFile);
}
std::string Trainer::state_path() const {
  return options_.out.empty() || history_.empty() ? "" : committed_path(options_.out, kStateFile);
}

bool Trainer::try_resume() {
  std::map<std::string, std::string> meta;
  nn::TensorDict weights;
  auto found = find_checkpoint(options_.out, {kModelFile, kStateFile}, [&](const std::map<std::string, std::string>& p) {
    weights = nn::load_safetensors(p.at(kModelFile));
    // load() validates the optimizer state against this optimizer before changing anything.
    meta = optimizer_.load(p.at(kStateFile));
  });
  if (!found) return false;
  const std::string& path = found->at(kStateFile);
  const std::string saved_config = meta.count("trainer.config") ? meta.at("trainer.config") : "";
  EMBER_CHECK(saved_config == options_.run_config, "trainer: {} was written by a run with settings {}, not {}", path,
              saved_config.empty() ? "(none)" : saved_config, options_.run_config.empty() ? "(none)" : options_.run_config);
  const int64_t epoch = number<int64_t>(meta, "trainer.epoch", path);
  const std::string model_file = found->at(kModelFile);
  EMBER_CHECK(weights.metadata.count("trainer.epoch") && number<int64_t>(weights.metadata, "trainer.epoch", model_file) == epoch,
              "trainer: {} and {} are from different epochs", model_file, path);
  model_.load_state_dict(weights.tensors);
  if (scheduler_ != nullptr) scheduler_->load_state_dict(meta);
  default_generator().manual_seed(number<uint64_t>(meta, "trainer.rng_seed", path));
  default_generator().set_offset(number<uint64_t>(meta, "trainer.rng_offset", path));
  const json hist = json::parse(field(meta, "trainer.history", path), nullptr, false);
  EMBER_CHECK(hist.is_array(), "trainer: {}: metadata field 'trainer.history' is not a JSON array", path);
  history_.clear();
  for (const auto& j : hist) {
    EMBER_CHECK(j.is_object(), "trainer: {}: 'trainer.history' holds a malformed epoch record", path);
    history_.push_back(from_json(j));
  }
  EMBER_CHECK(static_cast<int64_t>(history_.size()) == epoch, "trainer: {}: history has {} epochs, checkpoint is epoch {}",
              path, history_.size(), epoch);
  return true;
}

void Trainer::commit(int64_t epoch) {
  json hist = json::array();
  for (const auto& e : history_) hist.push_back(to_json(e));
  std::map<std::string, std::string> meta = {
      {"trainer.epoch", std::to_string(epoch)},
      {"trainer.history", hist.dump()},
      {"trainer.rng_seed", std::to_string(default_generator().seed())},
      {"trainer.rng_offset", std::to_string(default_generator().offset())},
      {"trainer.config", options_.run_config}};
  if (scheduler_ != nullptr)
    for (const auto& [k, v] : scheduler_->state_dict()) meta[k] = v;
  const nn::NamedTensors weights = model_.state_dict();
  commit_checkpoint(options_.out, epoch,
                    {{kModelFile, [&](const std::string& p) {
                        nn::save_safetensors(p, weights, {{"trainer.epoch", std::to_string(epoch)}});
                      }},
                     {kStateFile, [&](const std::string& p) { optimizer_.save(p, meta); }}});
  write_metrics();
}

void Trainer::write_metrics() const {
  std::string lines;
  for (const auto& e : history_) lines += to_json(e).dump() + "\n";
  data::write_file_atomic((fs::path(options_.out) / "metrics.jsonl").string(), {lines.begin(), lines.end()});
}

std::vector<EpochLog> Trainer::fit(data::DataLoader& train, const LossFn& loss_fn, const EvalFn& evaluate,
                                   const EpochFn& on_epoch) {
  if (!options_.out.empty()) check_writable(options_.out, "trainer");
  if (options_.resume && try_resume())
    fmt::print("resuming from epoch {}/{} ({})\n", history_.size(), options_.epochs, options_.out);
  const int64_t steps = train.size();
  int64_t run_epochs = 0;
  for (int64_t epoch = static_cast<int64_t>(history_.size()) + 1; epoch <= options_.epochs; ++epoch) {
    if (options_.stop_after > 0 && run_epochs == options_.stop_after) {
      fmt::print("stopping after {} epoch(s) as asked; continue with resume\n", run_epochs);
      break;
    }
    train.set_epoch(epoch - 1);
    model_.train();
    Progress progress(fmt::format("{} {}/{}", options_.label, epoch, options_.epochs), steps,
                      train.options().batch_size, options_.progress);
    double loss_sum = 0;
    int64_t seen = 0, step = 0, skipped = 0;
    for (data::Batch& b : train) {
      optimizer_.zero_grad();
      Tensor loss = loss_fn(b);
      const double l = loss.item();
      const int64_t n = b.input.dim() > 0 ? b.input.size(0) : 1;
      ++step;
      if (!std::isfinite(l)) {
        EMBER_CHECK(options_.skip_nonfinite,
                    "trainer: the loss is {} at epoch {} step {}; stopping (the last checkpoint is kept). Lower the "
                    "learning rate, or set skip_nonfinite",
                    l, epoch, step);
        ++skipped;
        if (scheduler_ != nullptr) scheduler_->step();
        continue;
      }
      loss.backward();
      if (options_.clip_grad_norm) nn::clip_grad_norm_(optimizer_.params(), *options_.clip_grad_norm);
      optimizer_.step();
      if (scheduler_ != nullptr) scheduler_->step();
      loss_sum += l * static_cast<double>(n);
      seen += n;
      progress.update(step, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(seen)));
    }
    progress.finish();
    EpochLog log;
    log.epoch = epoch;
    log.seconds = progress.seconds();
    log.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : std::nan("");
    log.examples_per_second = static_cast<double>(seen) / std::max(log.seconds, 1e-9);
    log.lr = optimizer_.lr();
    if (evaluate) {
      model_.eval();
      NoGradGuard no_grad;
      log.eval = evaluate();
      model_.train();
    }
    std::string line = fmt::format("{} {}/{}: train loss {:.4f}", options_.label, epoch, options_.epochs, log.train_loss);
    for (const auto& [k, v] : log.eval) line += fmt::format(" | {} {:.4g}", k, v);
    fmt::print("{} | {:.1f} s, {:.0f} ex/s{}\n", line, log.seconds, log.examples_per_second,
               skipped ? fmt::format(" ({} non-finite steps skipped)", skipped) : "");
    history_.push_back(log);
    ++run_epochs;
    // A model whose evaluation is not finite never replaces the last good checkpoint.
    EMBER_CHECK(finite_eval(log), "trainer: the evaluation after epoch {} is not finite; stopping (the checkpoint of "
                                  "epoch {} is kept)", epoch, epoch - 1);
    if (!options_.out.empty()) commit(epoch);
    if (on_epoch) on_epoch(log, history_);
  }
  return history_;
}

}  // namespace ember::zoo
