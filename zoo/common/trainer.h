// Trainer: the training loop every zoo demo and most users' scripts need, in one place: epochs of
// (zero_grad, loss, backward, optional gradient clipping, optimizer step, scheduler step) with a
// progress line, an evaluation after each epoch, metrics.jsonl, and a run folder that commits the
// weights, the optimizer + scheduler state, the default generator's position and the history
// together (zoo/common/checkpoint.h), so `resume` continues bit for bit from the last epoch.
//
//   zoo::Trainer trainer(*model, opt, {.epochs = 5, .out = "runs/mine", .resume = true}, &sched);
//   trainer.fit(loader,
//               [&](const data::Batch& b) { return cross_entropy(model->forward(b.input), b.target); },
//               [&] { return std::map<std::string, double>{{"val_accuracy", accuracy(*model, val)}}; });
//
// Determinism: the loader's order is a function of (seed, epoch) and the default generator's
// position is saved with each epoch, so a resumed run draws the same dropout masks and augmentations.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"

namespace ember::zoo {

struct TrainerOptions {
  int64_t epochs = 1;
  std::string out{};                     // run folder: checkpoints + metrics.jsonl ("" = write nothing)
  bool resume = false;                   // continue from the newest complete checkpoint in `out`
  bool progress = true;                  // the one-line progress display
  std::string label = "epoch";           // progress line prefix
  std::optional<double> clip_grad_norm{};  // clip the global gradient norm before each step
  bool skip_nonfinite = false;           // skip steps whose loss is NaN/inf (default: stop with an error)
  int64_t stop_after = 0;                // stop after this many epochs of this call (0: run to `epochs`)
  std::string run_config{};              // any text (e.g. JSON of the settings): a resume must match it
};

struct EpochLog {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0;
  double lr = 0;
  double seconds = 0;
  double examples_per_second = 0;
  std::map<std::string, double> eval{};  // what the evaluation callback returned
};

class Trainer {
 public:
  // The loss of one batch (a scalar that requires grad); the evaluation after each epoch (runs with
  // the model in eval mode and grad mode off; its numbers go to the log and metrics.jsonl).
  using LossFn = std::function<Tensor(const data::Batch&)>;
  using EvalFn = std::function<std::map<std::string, double>()>;
  // Called after each epoch's checkpoint (plots, sample grids): the epoch and the history so far.
  using EpochFn = std::function<void(const EpochLog&, const std::vector<EpochLog>&)>;

  Trainer(nn::Module& model, nn::Optimizer& optimizer, TrainerOptions options, nn::LRScheduler* scheduler = nullptr);

  // Resumes (when asked and a checkpoint exists), then trains the remaining epochs. Returns the
  // whole history, resumed epochs included. Throws on a non-finite loss unless skip_nonfinite, on
  // a run folder that cannot be written (before training), and on a resume whose run_config or
  // model/optimizer shapes differ from the saved run.
  std::vector<EpochLog> fit(data::DataLoader& train, const LossFn& loss, const EvalFn& evaluate = {},
                            const EpochFn& on_epoch = {});

  const std::vector<EpochLog>& history() const { return history_; }
  // Paths of the committed checkpoint files ("" before the first commit).
  std::string model_path() const;
  std::string state_path() const;

 private:
  bool try_resume();
  void commit(int64_t epoch);
  void write_metrics() const;

  nn::Module& model_;
  nn::Optimizer& optimizer_;
  nn::LRScheduler* scheduler_;
  TrainerOptions options_;
  std::vector<EpochLog> history_;
};

}  // namespace ember::zoo
