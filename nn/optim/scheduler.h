// Learning-rate schedulers. Each computes the lr of every parameter group in closed form from the
// step count, so a schedule resumes exactly from its saved step. Like PyTorch's, constructing a
// scheduler applies step 0 to the optimizer; call step() after each optimizer.step() (per batch or
// per epoch, as the schedule is defined). A scheduler keeps a reference to its optimizer, which
// must outlive it.
//
// State (string metadata, fits beside the optimizer's in one safetensors file):
//   "scheduler.type", "scheduler.step", "scheduler.num_groups", "scheduler.base_lr.<g>".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nn/optim/optimizer.h"

namespace ember::nn {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one step and writes the new lrs (and momenta, if cycled) into the optimizer.
  void step();
  // Steps taken since construction (PyTorch's last_epoch); 0 right after construction.
  int64_t last_step() const { return step_; }
  // The lr of each group as last written to the optimizer.
  const std::vector<double>& last_lr() const { return last_lr_; }
  // The lr of each group the schedule is relative to (the optimizer's lrs at construction).
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  // Closed forms: the lr (momentum) of group g after t steps; momentum_at is nullopt when the
  // schedule leaves momentum alone.
  virtual double lr_at(int64_t t, size_t g) const = 0;
  virtual std::optional<double> momentum_at(int64_t /*t*/, size_t /*g*/) const { return std::nullopt; }
  virtual std::string name() const = 0;

  // load_state_dict checks the type and group count, restores step and base lrs, and re-applies
  // that step's lrs to the optimizer. Keys outside "scheduler." are ignored.
  std::map<std::string, std::string> state_dict() const;
  void load_state_dict(const std::map<std::string, std::string>& state);

 protected:
  explicit LRScheduler(Optimizer& opt);
  // Derived constructors call this last: records base lrs and applies step 0.
  void init();

  Optimizer& opt_;
  std::vector<double> base_lrs_;

 private:
  void apply();
  int64_t step_ = 0;
  std::vector<double> last_lr_;
};

// lr = base_lr * gamma^floor(t / step_size).
struct StepLROptions {
  int64_t step_size = 1;
  double gamma = 0.1;
};
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, StepLROptions opts);
  double lr_at(int64_t t, size_t g) const override;
  std::string name() const override { return "StepLR"; }

 private:
  StepLROptions opts_;
};

// Linear warm-up from start_factor * base_lr to base_lr over warmup_steps, then half a cosine from
// base_lr down to min_lr at total_steps; min_lr after that.
//   t < W:        lr = base * (start_factor + (1 - start_factor) * t / W)
//   W <= t <= T:  lr = min_lr + (base - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2
struct CosineWithWarmupOptions {
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // must exceed warmup_steps
  double start_factor = 0;  // in [0, 1]
  double min_lr = 0;        // absolute, the same for every group
};
class CosineWithWarmup : public LRScheduler {
 public:
  CosineWithWarmup(Optimizer& opt, CosineWithWarmupOptions opts);
  double lr_at(int64_t t, size_t g) const override;
  std::string name() const override { return "CosineWithWarmup"; }

 private:
  CosineWithWarmupOptions opts_;
};

// PyTorch's OneCycleLR. With initial = max_lr / div_factor and min = initial / final_div_factor,
// phases end at step pct_start*T - 1 (initial -> max) and T - 1 (max -> min); three_phase uses
// pct_start*T - 1 (initial -> max), 2*pct_start*T - 2 (max -> initial), T - 1 (initial -> min).
// Inside a phase lr = anneal(start, end, (t - phase start) / (phase end - phase start)), with
// cos: end + (start - end) * (1 + cos(pi * pct)) / 2, or linear. cycle_momentum drives the
// optimizer's momentum (SGD momentum, Adam beta1) inversely: max -> base -> max. step() past
// total_steps throws.
struct OneCycleOptions {
  std::vector<double> max_lr;  // one value for every group, or one per group
  int64_t total_steps = 0;
  double pct_start = 0.3;
  bool anneal_cos = true;  // false: linear
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
};
class OneCycle : public LRScheduler {
 public:
  OneCycle(Optimizer& opt, OneCycleOptions opts);
  double lr_at(int64_t t, size_t g) const override;
  std::optional<double> momentum_at(int64_t t, size_t g) const override;
  std::string name() const override { return "OneCycle"; }

 private:
  struct Phase {
    double end_step;
    int lr_from, lr_to;  // 0 initial, 1 max, 2 min
    double momentum_from, momentum_to;
  };
  // Phase containing step t and the fraction of it done.
  std::pair<const Phase*, double> locate(int64_t t) const;
  double anneal(double from, double to, double pct) const;

  OneCycleOptions opts_;
  std::vector<Phase> phases_;
  std::vector<std::vector<double>> lrs_;  // per group: initial, max, min
};

}  // namespace ember::nn
