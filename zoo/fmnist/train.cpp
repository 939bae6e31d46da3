// Fashion-MNIST training loop, evaluation and checkpoints (see fmnist.h for the run folder).
#include <charconv>
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "dist/ddp.h"
#include "dist/init.h"
#include "report/gnuplot.h"
#include "nn/layers.h"
#include "nn/optim/adam.h"
#include "nn/optim/scheduler.h"
#include "nn/safetensors.h"
#include "zoo/common/checkpoint.h"
#include "zoo/common/progress.h"
#include "zoo/fmnist/fmnist.h"

namespace ember::zoo::fmnist {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int64_t kEvalBatch = 1000;
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kStateFile = "train_state.safetensors";

// Everything that shapes the trajectory; a resumed run must match the checkpoint's.
struct Resolved {
  Arch arch;
  std::string name;  // arch_name(arch), or TrainConfig::model_name
  int64_t epochs, batch;
  double lr;
  uint64_t seed;
  std::string augment;
  int64_t train_limit, test_limit;

  json to_json() const {
    return {{"model", name}, {"epochs", epochs}, {"batch", batch},
            {"lr", lr},                 {"seed", seed},     {"augment", augment},
            {"train_limit", train_limit}, {"test_limit", test_limit}};
  }
};

Resolved resolve(const TrainConfig& c) {
  const bool cnn = c.arch == Arch::cnn;
  Resolved r{c.arch,    c.model_name.empty() ? arch_name(c.arch) : c.model_name, cnn ? 5 : 10,  cnn ? 64 : 128, cnn ? 2e-3 : 1e-3,
             c.seed,    c.augment,     c.train_limit,  c.test_limit};
  if (c.epochs) r.epochs = *c.epochs;
  if (c.batch) r.batch = *c.batch;
  if (c.lr) r.lr = *c.lr;
  // Upper bounds keep epochs x steps and the schedule's arithmetic far from overflow.
  EMBER_CHECK(r.epochs >= 1, "train fmnist: --epochs must be >= 1, got {}", r.epochs);
  EMBER_CHECK(r.batch >= 1, "train fmnist: --batch must be >= 1, got {}", r.batch);
  EMBER_CHECK(r.epochs <= 1'000'000, "train fmnist: --epochs must be <= 1000000, got {}", r.epochs);
  EMBER_CHECK(r.batch <= 1'000'000, "train fmnist: --batch must be <= 1000000, got {}", r.batch);
  EMBER_CHECK(r.lr > 0 && std::isfinite(r.lr), "train fmnist: --lr must be positive, got {}", r.lr);
  EMBER_CHECK(r.augment == "none" || r.augment == "flip" || r.augment == "crop" || r.augment == "flip+crop",
              "train fmnist: --augment must be none, flip, crop or flip+crop, got '{}'", r.augment);
  EMBER_CHECK(r.train_limit >= 0 && r.test_limit >= 0, "train fmnist: limits must be >= 0");
  return r;
}

json metrics_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},     {"train_loss", m.train_loss}, {"test_loss", m.test_loss},
          {"test_accuracy", m.test_accuracy}, {"lr", m.lr}, {"seconds", m.seconds},
          {"examples_per_second", m.examples_per_second}};
}

EpochMetrics metrics_from_json(const json& j) {
  return {j.at("epoch").get<int64_t>(),   j.at("train_loss").get<double>(), j.at("test_loss").get<double>(),
          j.at("test_accuracy").get<double>(), j.at("lr").get<double>(),   j.at("seconds").get<double>(),
          j.at("examples_per_second").get<double>()};
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// A metadata field of a checkpoint as a number, or an error naming the file and the field (a
// bare std::stoll said only "stoll").
template <typename T>
T meta_number(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  EMBER_CHECK(it != meta.end(), "fmnist: {}: metadata field '{}' is missing", path, key);
  T v{};
  const char* end = it->second.data() + it->second.size();
  auto [p, ec] = std::from_chars(it->second.data(), end, v);
  EMBER_CHECK(ec == std::errc() && p == end, "fmnist: {}: metadata field '{}' is '{}', expected a number", path, key,
              it->second.substr(0, 40));
  return v;
}

json meta_json(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  EMBER_CHECK(it != meta.end(), "fmnist: {}: metadata field '{}' is missing", path, key);
  json j = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  EMBER_CHECK(!j.is_discarded(), "fmnist: {}: metadata field '{}' is not valid JSON", path, key);
  return j;
}

// The first `limit` rows of a dataset as a new in-memory dataset (limit 0: all of it).
std::shared_ptr<const data::TensorDataset> head(const data::FashionMnist& ds, int64_t limit) {
  const int64_t n = limit > 0 ? std::min(limit, ds.size()) : ds.size();
  return std::make_shared<data::TensorDataset>(ds.images().narrow(0, 0, n), ds.labels().narrow(0, 0, n));
}

void write_metrics(const fs::path& out, const std::vector<EpochMetrics>& history) {
  std::string lines;
  for (const auto& m : history) lines += metrics_json(m).dump() + "\n";
  data::write_file_atomic((out / "metrics.jsonl").string(), bytes_of(lines));
}

void plot_curves(const fs::path& out, const std::vector<EpochMetrics>& history) {
  std::string rows;
  for (const auto& m : history)
    rows += fmt::format("{} {:.6f} {:.6f} {:.4f}\n", m.epoch, m.train_loss, m.test_loss, 100 * m.test_accuracy);
  const std::string script =
      "set terminal pngcairo size 1000,420\nset output 'out.png'\nset multiplot layout 1,2 title "
      "'Fashion-MNIST training'\nset xlabel 'epoch'\nset xtics 1\nset grid\nset key top right\nset ylabel 'cross-entropy'\n"
      "plot 'curves.dat' using 1:2 with linespoints lw 2 title 'train loss', "
      "'' using 1:3 with linespoints lw 2 title 'test loss'\n"
      "set ylabel 'test accuracy (%)'\nset key bottom right\n"
      "plot 'curves.dat' using 1:4 with linespoints lw 2 lc rgb '#2a9d3a' title 'test accuracy'\n"
      "unset multiplot\n";
  report::run_gnuplot(script, {{"curves.dat", rows}}, (out / "curves.png").string());
}

void plot_predictions(const fs::path& out, const data::FashionMnist& test, const Tensor& predictions) {
  static constexpr const char* kShort[10] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Boot"};
  const int64_t n = std::min<int64_t>(64, predictions.numel());
  const auto pred = predictions.narrow(0, 0, n).to_vector<int64_t>();
  const auto truth = test.labels().narrow(0, 0, n).to_vector<int64_t>();
  data::GridOptions grid{.nrow = 8, .padding = 2, .scale = 3};
  for (int64_t i = 0; i < n; ++i) {
    grid.captions.push_back(pred[i] == truth[i] ? kShort[pred[i]]
                                                : fmt::format("{}/{}", kShort[pred[i]], kShort[truth[i]]));
    grid.caption_colors.push_back(pred[i] == truth[i] ? data::Rgb{90, 220, 90} : data::Rgb{250, 80, 80});
  }
  data::save_grid((out / "predictions.png").string(), test.images().narrow(0, 0, n), grid);
}

// A resume must use the run's own settings; name the ones that differ as flags ("was trained with
// --model mlp (not cnn)") rather than failing later on mismatched optimizer state.
void check_resume_config(const json& saved, const json& now, const fs::path& out) {
  if (saved == now) return;
  std::vector<std::string> diffs;
  for (const auto& [key, value] : saved.items()) {
    const json other = now.contains(key) ? now.at(key) : json();
    if (value == other) continue;
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    diffs.push_back(fmt::format("--{} {} (not {})", flag, value.is_string() ? value.get<std::string>() : value.dump(),
                                other.is_string() ? other.get<std::string>() : other.dump()));
  }
  EMBER_CHECK(false,
              "train fmnist --resume: the run in {} was trained with {}; resume with the same settings or start a "
              "new run with --overwrite or another --out",
              out.string(), fmt::format("{}", fmt::join(diffs, ", ")));
}

// model.safetensors (what `ember eval fmnist --checkpoint` is pointed at) becomes a hard link to
// the committed generation's weights (a copy where links are not supported), swapped in by rename.
void publish_model(const fs::path& out) {
  const fs::path src = committed_path(out, kModelFile), tmp = out / (std::string(kModelFile) + ".tmp.link");
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(src, tmp, ec);
  if (ec) fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, out / kModelFile);
}

}  // namespace

Arch parse_arch(const std::string& name) {
  if (name == "mlp") return Arch::mlp;
  if (name == "cnn") return Arch::cnn;
  EMBER_CHECK(false, "fmnist: unknown model '{}' (expected mlp or cnn)", name);
  return Arch::cnn;
}

std::string arch_name(Arch arch) { return arch == Arch::mlp ? "mlp" : "cnn"; }

std::shared_ptr<nn::Sequential> make_model(Arch arch) {
  using namespace nn;
  if (arch == Arch::mlp)
    return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
        std::make_shared<Flatten>(), std::make_shared<Linear>(784, 256), std::make_shared<ReLU>(),
        std::make_shared<Linear>(256, 256), std::make_shared<ReLU>(), std::make_shared<Linear>(256, 10)});
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(1, 32, 3, ConvOptions{.padding = 1}), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(32, 64, 3, ConvOptions{.padding = 1}),
      std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(3136, 128), std::make_shared<ReLU>(), std::make_shared<Linear>(128, 10)});
}

EvalResult evaluate(nn::Module& model, const data::FashionMnist& test, int64_t limit) {
  const int64_t n = limit > 0 ? std::min(limit, test.size()) : test.size();
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult r;
  std::vector<Tensor> preds;
  double loss_sum = 0;
  for (int64_t start = 0; start < n; start += kEvalBatch) {
    const int64_t len = std::min(kEvalBatch, n - start);
    Tensor x = test.images().narrow(0, start, len), y = test.labels().narrow(0, start, len);
    Tensor logits = model.forward(x);
    loss_sum += cross_entropy(logits, y, {.reduction = Reduction::sum}).item();
    Tensor pred = argmax(logits, 1);
    r.correct += static_cast<int64_t>(sum(eq(pred, y)).item());
    preds.push_back(pred);
  }
  model.train(was_training);
  r.total = n;
  r.loss = n > 0 ? loss_sum / static_cast<double>(n) : 0;
  r.accuracy = n > 0 ? static_cast<double>(r.correct) / static_cast<double>(n) : 0;
  r.predictions = preds.empty() ? Tensor::empty({0}, {.dtype = DType::i64}) : cat(preds, 0);
  return r;
}

LoadedModel load_checkpoint(const std::string& path) {
  EMBER_CHECK(fs::exists(path), "eval fmnist: checkpoint '{}' does not exist", path);
  nn::TensorDict dict = nn::load_safetensors(path);
  auto it = dict.metadata.find("ember.model");
  const std::string kind = it == dict.metadata.end() ? "" : it->second;
  EMBER_CHECK(kind == "fmnist-mlp" || kind == "fmnist-cnn",
              "eval fmnist: '{}' is not a Fashion-MNIST checkpoint (metadata ember.model is '{}')", path, kind);
  LoadedModel m{parse_arch(kind.substr(7)), nullptr, 0, std::nullopt};
  m.model = make_model(m.arch);
  m.model->load_state_dict(dict.tensors);
  if (dict.metadata.count("fmnist.epoch")) m.epoch = meta_number<int64_t>(dict.metadata, "fmnist.epoch", path);
  if (dict.metadata.count("fmnist.test_accuracy"))
    m.recorded_accuracy = meta_number<double>(dict.metadata, "fmnist.test_accuracy", path);
  return m;
}

TrainResult train(const TrainConfig& config) {
  const Resolved cfg = resolve(config);
  if (config.threads > 0) set_num_threads(config.threads);
  const fs::path out(config.out);
  check_writable(out, "train fmnist");  // a read-only --out fails now, not after the first epoch
  // A finished or interrupted run is never overwritten by accident.
  EMBER_CHECK(config.resume || config.overwrite ||
                  !(fs::exists(out / "checkpoint.json") || fs::exists(out / kModelFile) || fs::exists(out / kStateFile)),
              "train fmnist: {} already holds a run; pass --resume to continue it, --overwrite to start over, or "
              "choose another --out",
              out.string());

  data::FashionMnist train_set(data::Split::train, config.data_dir), test_set(data::Split::test, config.data_dir);
  auto train_data = head(train_set, cfg.train_limit);
  data::Compose augment;
  if (cfg.augment.find("crop") != std::string::npos) augment.stages.push_back(data::RandomCrop{.size = 28, .padding = 2});
  if (cfg.augment.find("flip") != std::string::npos) augment.stages.push_back(data::RandomHorizontalFlip{.p = 0.5});
  data::DataLoader loader(train_data, {.batch_size = cfg.batch, .shuffle = true, .seed = cfg.seed,
                                       .transform = augment.stages.empty() ? data::Transform{} : augment});
  // --distributed: this process is one rank of `ember launch`; ranks split each global batch.
  dist::CommunicatorPtr comm;
  std::optional<dist::DistributedSampler> sampler;
  if (config.distributed) {
    const auto env = dist::env_from_environment();
    EMBER_CHECK(env, "train fmnist --distributed: RANK/WORLD_SIZE are not set (run under `ember launch`)");
    comm = dist::init_process_group(*env);
    sampler.emplace(train_data->size(), env->rank, env->world_size, cfg.batch);
  }
  const bool main_rank = !comm || comm->rank() == 0;  // logs, checkpoints and plots
  const int64_t steps = sampler ? sampler->steps_per_epoch() : loader.size();

  manual_seed(cfg.seed);
  auto model = config.model_factory ? config.model_factory() : make_model(cfg.arch);
  nn::Adam opt(model->parameters(), {.lr = cfg.lr});
  const int64_t total_steps = cfg.epochs * steps;
  nn::CosineWithWarmup sched(opt, {.warmup_steps = std::min<int64_t>(total_steps / 50, total_steps - 1),
                                   .total_steps = total_steps, .start_factor = 0.1});

  TrainResult result;
  result.checkpoint = (out / kModelFile).string();
  int64_t start_epoch = 0;
  // The newest complete (weights, state) pair: a kill between the two writes falls back a generation.
  std::optional<LoadedModel> saved;
  std::map<std::string, std::string> meta;
  std::optional<std::map<std::string, std::string>> found;
  if (config.resume && fs::exists(committed_path(out, kStateFile))) {
    // Settings first: an optimizer built for another model would make every generation "fail to
    // load" and the run would silently start over.
    std::optional<json> saved_cfg;
    try {
      const std::string committed = committed_path(out, kStateFile);
      saved_cfg = meta_json(nn::load_safetensors(committed).metadata, "fmnist.config", committed);
    } catch (const std::exception&) {  // a damaged newest file: find_checkpoint falls back below
    }
    if (saved_cfg) check_resume_config(*saved_cfg, cfg.to_json(), out);
  }
  if (config.resume)
    found = find_checkpoint(out, {kModelFile, kStateFile}, [&](const std::map<std::string, std::string>& paths) {
      const std::string& state_path = paths.at(kStateFile);
      saved = load_checkpoint(paths.at(kModelFile));
      meta = opt.load(state_path);
      const int64_t epoch = meta_number<int64_t>(meta, "fmnist.epoch", state_path);
      EMBER_CHECK(saved->epoch == epoch, "train fmnist --resume: {} is from epoch {} but {} from epoch {}",
                  paths.at(kModelFile), saved->epoch, state_path, epoch);
    });
  if (found) {
    const std::string& state_path = found->at(kStateFile);
    const json saved_cfg = meta_json(meta, "fmnist.config", state_path);
    check_resume_config(saved_cfg, cfg.to_json(), out);
    start_epoch = saved->epoch;
    model->load_state_dict(saved->model->state_dict());
    sched.load_state_dict(meta);
    const json hist = meta_json(meta, "fmnist.history", state_path);
    EMBER_CHECK(hist.is_array(), "fmnist: {}: metadata field 'fmnist.history' is not a JSON array", state_path);
    try {
      for (const auto& j : hist) result.history.push_back(metrics_from_json(j));
    } catch (const json::exception&) {
      EMBER_CHECK(false, "fmnist: {}: metadata field 'fmnist.history' holds a malformed epoch record", state_path);
    }
    if (main_rank)
      fmt::print("resuming {} from epoch {}/{} ({})\n", cfg.name, start_epoch, cfg.epochs, out.string());
    else
      result.history.clear();  // rank 0 alone reports
  } else if (config.resume && main_rank) {
    fmt::print("no checkpoint in {}; starting a new run\n", out.string());
  }

  // Every rank starts from rank 0's weights (after a resume too); gradients are averaged per step.
  std::optional<dist::DistributedDataParallel> ddp;
  if (comm) ddp.emplace(model, comm);
  if (main_rank)
    fmt::print("fmnist {}: {} parameters, {} train / {} test images, {} epochs of {} steps (batch {}), lr {}, "
             "augment {}, seed {}, {} threads\n",
             cfg.name, model->num_parameters(), train_data->size(),
             cfg.test_limit > 0 ? std::min(cfg.test_limit, test_set.size()) : test_set.size(), cfg.epochs, steps,
             cfg.batch, cfg.lr, cfg.augment, cfg.seed, get_num_threads());
  if (comm && main_rank)
    fmt::print("distributed: {} ranks ({}), {} images of each global batch of {} per rank\n", comm->world_size(),
               comm->backend(), sampler->local_batch(), cfg.batch);
  int64_t run_epochs = 0;
  for (int64_t epoch = start_epoch + 1; epoch <= cfg.epochs; ++epoch) {
    if (config.stop_after > 0 && run_epochs == config.stop_after) {
      if (main_rank) fmt::print("stopping after {} epoch(s) as asked; continue with --resume\n", run_epochs);
      break;
    }
    loader.set_epoch(epoch - 1);
    Progress progress(fmt::format("epoch {}/{}", epoch, cfg.epochs), steps, cfg.batch, config.progress && main_rank);
    double loss_sum = 0;
    int64_t seen = 0, step = 0;
    int64_t skipped = 0;
    auto train_step = [&](const data::Batch& b) {
      opt.zero_grad();
      Tensor loss = cross_entropy(model->forward(b.input), b.target);
      // Every rank sees the same (mean) loss, so all of them stop or skip the same steps.
      const double l = comm ? comm->allreduce(loss.item(), dist::ReduceOp::avg) : loss.item();
      ++step;
      if (!std::isfinite(l)) {
        // Stop before the bad step reaches the weights (the last checkpoint stays), or skip it.
        EMBER_CHECK(config.skip_nonfinite,
                    "train fmnist: the loss is {} at epoch {} step {}; stopping (the checkpoint of epoch {} in {} "
                    "is kept). Lower --lr, or pass --skip-nonfinite to skip such steps",
                    l, epoch, step, epoch - 1, out.string());
        ++skipped;
        sched.step();
        return;
      }
      loss.backward();
      if (ddp) ddp->sync_gradients();
      opt.step();
      sched.step();
      const int64_t n = comm ? b.target.numel() * comm->world_size() : b.target.numel();
      loss_sum += l * static_cast<double>(n);
      seen += n;
      progress.update(step, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(seen)));
    };
    if (sampler)
      for (int64_t s = 0; s < steps; ++s) train_step(sampler->batch(loader, epoch - 1, s));
    else
      for (data::Batch& b : loader) train_step(b);
    if (skipped > 0 && main_rank) fmt::print("epoch {}: skipped {} step(s) with a non-finite loss\n", epoch, skipped);
    progress.finish();
    if (!main_rank) {  // rank 0 alone evaluates and saves; the others go on to the next epoch
      ++run_epochs;
      continue;
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.seconds = progress.seconds();
    m.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : std::nan("");
    m.examples_per_second = static_cast<double>(seen) / m.seconds;
    m.lr = opt.lr();
    EvalResult ev = evaluate(*model, test_set, cfg.test_limit);
    m.test_loss = ev.loss;
    m.test_accuracy = ev.accuracy;
    result.history.push_back(m);
    ++run_epochs;

    // A model that evaluates to a non-finite loss never replaces the last good checkpoint.
    EMBER_CHECK(std::isfinite(ev.loss) && seen > 0,
                "train fmnist: epoch {} ends with a non-finite test loss ({}); not saving it (the checkpoint of "
                "epoch {} in {} is kept)",
                epoch, ev.loss, epoch - 1, out.string());

    // Checkpoint: weights and training state, both stamped with the epoch, committed together.
    json hist = json::array();
    for (const auto& h : result.history) hist.push_back(metrics_json(h));
    std::map<std::string, std::string> state_meta = sched.state_dict();
    state_meta["fmnist.epoch"] = std::to_string(epoch);
    state_meta["fmnist.history"] = hist.dump();
    state_meta["fmnist.config"] = cfg.to_json().dump();
    std::map<std::string, std::string> model_meta = {
        {"ember.model", "fmnist-" + cfg.name},
        {"fmnist.epoch", std::to_string(epoch)},
        {"fmnist.test_accuracy", fmt::format("{:.17g}", ev.accuracy)},
        {"fmnist.test_loss", fmt::format("{:.17g}", ev.loss)}};
    model_meta.insert(config.model_metadata.begin(), config.model_metadata.end());
    commit_checkpoint(out, epoch,
                      {{kModelFile, [&](const std::string& p) { nn::save_safetensors(p, model->state_dict(), model_meta); }},
                       {kStateFile, [&](const std::string& p) { opt.save(p, state_meta); }}},
                      config.checkpoint_hook);
    publish_model(out);
    write_metrics(out, result.history);
    fmt::print("epoch {}/{}: train loss {:.4f} | test loss {:.4f} | test accuracy {:.2f}% ({}/{}) | {:.1f} s, "
               "{:.0f} ex/s\n",
               epoch, cfg.epochs, m.train_loss, m.test_loss, 100 * m.test_accuracy, ev.correct, ev.total, m.seconds,
               m.examples_per_second);
    if (config.plots) {
      plot_curves(out, result.history);
      plot_predictions(out, test_set, ev.predictions);
    }
  }
  return result;
}

}  // namespace ember::zoo::fmnist
