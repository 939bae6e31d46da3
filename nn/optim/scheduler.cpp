// Schedulers: the base applies lr_at(step) to the optimizer and saves/restores the step; each
// schedule is a closed form of the step count (formulas in nn/optim/scheduler.h).
#include "nn/optim/scheduler.h"

#include <charconv>
#include <cmath>
#include <numbers>

namespace ember::nn {
namespace {

template <typename T>
T scheduler_number(const std::map<std::string, std::string>& md, const std::string& key) {
  return detail::metadata_number<T>(md, key, "scheduler load_state_dict");
}

}  // namespace

// ---------------------------------------------------------------- base
LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {}

void LRScheduler::init() {
  base_lrs_.clear();
  for (size_t g = 0; g < opt_.num_groups(); ++g) base_lrs_.push_back(opt_.lr(g));
  step_ = 0;
  apply();
}

void LRScheduler::apply() {
  EMBER_CHECK(opt_.num_groups() == base_lrs_.size(), "{}: the optimizer has {} param groups, the scheduler {}", name(),
              opt_.num_groups(), base_lrs_.size());
  std::vector<double> lrs;
  for (size_t g = 0; g < base_lrs_.size(); ++g) lrs.push_back(lr_at(step_, g));
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    opt_.set_lr(g, lrs[g]);
    if (auto m = momentum_at(step_, g); m.has_value()) opt_.set_momentum(g, *m);
  }
  last_lr_ = std::move(lrs);
}

void LRScheduler::step() {
  ++step_;
  try {
    apply();
  } catch (...) {
    --step_;  // a refused step (OneCycle past its end) leaves the schedule where it was
    throw;
  }
}

std::map<std::string, std::string> LRScheduler::state_dict() const {
  std::map<std::string, std::string> md;
  md["scheduler.type"] = name();
  md["scheduler.step"] = std::to_string(step_);
  md["scheduler.num_groups"] = std::to_string(base_lrs_.size());
  for (size_t g = 0; g < base_lrs_.size(); ++g) md[fmt::format("scheduler.base_lr.{}", g)] = fmt::format("{}", base_lrs_[g]);
  return md;
}

void LRScheduler::load_state_dict(const std::map<std::string, std::string>& md) {
  auto type = md.find("scheduler.type");
  EMBER_CHECK(type != md.end(), "{} load_state_dict: metadata lacks 'scheduler.type'", name());
  EMBER_CHECK(type->second == name(), "{} load_state_dict: state is for {}", name(), type->second);
  auto n = scheduler_number<uint64_t>(md, "scheduler.num_groups");
  EMBER_CHECK(n == base_lrs_.size(), "{} load_state_dict: state has {} groups, this scheduler {}", name(), n,
              base_lrs_.size());
  auto step = scheduler_number<int64_t>(md, "scheduler.step");
  EMBER_CHECK(step >= 0, "{} load_state_dict: negative step {}", name(), step);
  std::vector<double> base;
  for (size_t g = 0; g < n; ++g) base.push_back(scheduler_number<double>(md, fmt::format("scheduler.base_lr.{}", g)));
  std::vector<double> old_base = base_lrs_;
  int64_t old_step = step_;
  base_lrs_ = std::move(base);
  step_ = step;
  try {
    apply();
  } catch (...) {
    base_lrs_ = std::move(old_base);
    step_ = old_step;
    throw;
  }
}

// ---------------------------------------------------------------- StepLR
StepLR::StepLR(Optimizer& opt, StepLROptions opts) : LRScheduler(opt), opts_(opts) {
  EMBER_CHECK(opts.step_size > 0, "StepLR: step_size must be > 0, got {}", opts.step_size);
  EMBER_CHECK(std::isfinite(opts.gamma) && opts.gamma >= 0, "StepLR: gamma must be finite and >= 0, got {}", opts.gamma);
  init();
}

double StepLR::lr_at(int64_t t, size_t g) const {
  return base_lrs_[g] * std::pow(opts_.gamma, double(t / opts_.step_size));
}

// ---------------------------------------------------------------- CosineWithWarmup
CosineWithWarmup::CosineWithWarmup(Optimizer& opt, CosineWithWarmupOptions opts) : LRScheduler(opt), opts_(opts) {
  EMBER_CHECK(opts.warmup_steps >= 0 && opts.total_steps > opts.warmup_steps,
              "CosineWithWarmup: need 0 <= warmup_steps < total_steps, got warmup_steps {} and total_steps {}",
              opts.warmup_steps, opts.total_steps);
  EMBER_CHECK(opts.start_factor >= 0 && opts.start_factor <= 1, "CosineWithWarmup: start_factor {} is outside [0, 1]",
              opts.start_factor);
  EMBER_CHECK(std::isfinite(opts.min_lr) && opts.min_lr >= 0, "CosineWithWarmup: min_lr {} must be >= 0",
              opts.min_lr);
  init();
}

double CosineWithWarmup::lr_at(int64_t t, size_t g) const {
  const double base = base_lrs_[g];
  const auto w = opts_.warmup_steps, total = opts_.total_steps;
  if (t < w) return base * (opts_.start_factor + (1 - opts_.start_factor) * double(t) / double(w));
  double progress = std::min(1.0, double(t - w) / double(total - w));
  return opts_.min_lr + (base - opts_.min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
}

// ---------------------------------------------------------------- OneCycle
OneCycle::OneCycle(Optimizer& opt, OneCycleOptions opts) : LRScheduler(opt), opts_(std::move(opts)) {
  const auto& o = opts_;
  const size_t groups = opt.num_groups();
  EMBER_CHECK(o.max_lr.size() == 1 || o.max_lr.size() == groups,
              "OneCycle: max_lr has {} values, expected 1 or one per param group ({})", o.max_lr.size(), groups);
  EMBER_CHECK(o.total_steps > 0, "OneCycle: total_steps must be > 0, got {}", o.total_steps);
  EMBER_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "OneCycle: pct_start {} is outside [0, 1]", o.pct_start);
  EMBER_CHECK(o.div_factor > 0 && o.final_div_factor > 0, "OneCycle: div_factor {} and final_div_factor {} must be > 0",
              o.div_factor, o.final_div_factor);
  EMBER_CHECK(!o.cycle_momentum || opt.has_momentum(),
              "OneCycle: cycle_momentum needs an optimizer with momentum, {} has none", opt.name());

  const double t = double(o.total_steps), mb = o.base_momentum, mm = o.max_momentum;
  if (o.three_phase) {
    phases_ = {{o.pct_start * t - 1, 0, 1, mm, mb}, {2 * o.pct_start * t - 2, 1, 0, mb, mm}, {t - 1, 0, 2, mm, mm}};
  } else {
    phases_ = {{o.pct_start * t - 1, 0, 1, mm, mb}, {t - 1, 1, 2, mb, mm}};
  }
  // A phase of zero length would divide 0 by 0 (PyTorch raises ZeroDivisionError there).
  double start = 0;
  for (const Phase& p : phases_) {
    EMBER_CHECK(p.end_step != start, "OneCycle: a phase has zero length (total_steps {}, pct_start {})", o.total_steps,
                o.pct_start);
    start = p.end_step;
  }
  for (size_t g = 0; g < groups; ++g) {
    double max_lr = o.max_lr.size() == 1 ? o.max_lr[0] : o.max_lr[g];
    EMBER_CHECK(std::isfinite(max_lr) && max_lr >= 0, "OneCycle: max_lr {} of group {} must be >= 0", max_lr, g);
    double initial = max_lr / o.div_factor;
    lrs_.push_back({initial, max_lr, initial / o.final_div_factor});
    opt.set_lr(g, initial);
  }
  init();
}

std::pair<const OneCycle::Phase*, double> OneCycle::locate(int64_t t) const {
  EMBER_CHECK(t <= opts_.total_steps, "OneCycle: tried to step {} times, but total_steps is {}", t, opts_.total_steps);
  double start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    if (double(t) <= p.end_step || i + 1 == phases_.size()) return {&p, (double(t) - start) / (p.end_step - start)};
    start = p.end_step;
  }
  EMBER_ASSERT(false, "OneCycle: no phase for step {}", t);
  __builtin_unreachable();
}

double OneCycle::anneal(double from, double to, double pct) const {
  if (opts_.anneal_cos) return to + (from - to) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
  // step() may be called once past the last phase end (t = total_steps, after the final update):
  // linear extrapolation there would go below `to` (negative for max -> min), so it stops at `to`.
  // (cos needs no clamp: past pct 1 it turns back up, staying between from and to.)
  return pct >= 1.0 ? to : (to - from) * pct + from;
}

double OneCycle::lr_at(int64_t t, size_t g) const {
  auto [phase, pct] = locate(t);
  return anneal(lrs_[g][size_t(phase->lr_from)], lrs_[g][size_t(phase->lr_to)], pct);
}

std::optional<double> OneCycle::momentum_at(int64_t t, size_t g) const {
  if (!opts_.cycle_momentum) return std::nullopt;
  auto [phase, pct] = locate(t);
  return anneal(phase->momentum_from, phase->momentum_to, pct);
}

}  // namespace ember::nn
