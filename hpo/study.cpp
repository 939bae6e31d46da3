// Study: ask/tell, the optimize loop (threads, timeout, failure handling) and trial export.
#include "hpo/study.h"

#include <sys/resource.h>

#include "tensor/threads.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "hpo/storage/memory.h"
#include "tensor/error.h"

namespace ember::hpo {

Study::Study(StudyOptions opt)
    : name_(std::move(opt.name)),
      direction_(opt.direction),
      sampler_(std::move(opt.sampler)),
      pruner_(std::move(opt.pruner)),
      storage_(std::move(opt.storage)) {
  EMBER_CHECK(!name_.empty(), "study: the name must not be empty");
  if (!sampler_) sampler_ = make_sampler("random", {});
  if (!storage_) storage_ = std::make_shared<MemoryStorage>();
  auto info = storage_->find_study(name_);
  if (!info) {
    try {
      study_id_ = storage_->create_study(name_, direction_);
    } catch (const Error&) {
      // Another process may have created it between find and create: load that one.
      info = storage_->find_study(name_);
      if (!info) throw;
    }
  }
  if (info) {
    EMBER_CHECK(opt.load_if_exists, "study: '{}' already exists in the storage", name_);
    EMBER_CHECK(info->direction == direction_, "study: '{}' exists with direction {}, asked for {}", name_,
                to_string(info->direction), to_string(direction_));
    study_id_ = info->id;
  }
  sampler_->attach(storage_.get(), study_id_);
}

std::vector<TrialPtr> Study::trials() const { return storage_->get_trials(study_id_); }

History Study::history() const { return History(direction_, trials()); }

std::optional<FrozenTrial> Study::best_trial() const {
  const auto best = history().best();
  if (best == nullptr) return std::nullopt;
  return *best;
}

int64_t Study::count(TrialState state) const {
  int64_t n = 0;
  for (const auto& t : trials()) n += t->state == state;
  return n;
}

void Study::enqueue(const std::map<std::string, ParamValue>& params) {
  storage_->create_trial(study_id_, TrialState::kWaiting, params);
}

Trial Study::ask(std::optional<int64_t> max_total) {
  auto snapshot = std::make_shared<const History>(direction_, trials());
  {
    std::lock_guard lock(sampler_mu_);
    if (sampler_->is_exhausted(*snapshot))
      throw SearchExhausted(fmt::format("study '{}': sampler {} has no points left", name_, sampler_->name()));
  }
  std::optional<FrozenTrial> claimed = storage_->claim_waiting_trial(study_id_);  // enqueued: already counted
  if (!claimed)
    claimed = max_total ? storage_->create_trial_within(study_id_, *max_total)
                        : storage_->create_trial(study_id_, TrialState::kRunning, {});
  if (!claimed)
    throw SearchExhausted(fmt::format("study '{}': holds {} trials, the total asked for", name_, *max_total));
  FrozenTrial record = std::move(*claimed);
  std::map<std::string, double> relative;
  try {
    std::lock_guard lock(sampler_mu_);
    relative = sampler_->sample_relative(*snapshot, record);
  } catch (const SearchExhausted& e) {
    // Another worker took the last point between the check above and now.
    storage_->finish_trial(record.id, TrialState::kFailed, std::nullopt, e.what());
    throw;
  }
  return Trial(this, std::move(record), std::move(snapshot), std::move(relative));
}

double Study::suggest(Trial& trial, const std::string& name, const Distribution& dist) {
  FrozenTrial& rec = trial.record_;
  if (const auto it = rec.params.find(name); it != rec.params.end()) {
    EMBER_CHECK(rec.distributions.at(name) == dist, "trial {}: '{}' suggested again with a different range ({} vs {})",
                rec.number, name, dist.describe(), rec.distributions.at(name).describe());
    return it->second;
  }
  double v;
  if (const auto fixed = rec.fixed_params.find(name); fixed != rec.fixed_params.end()) {
    v = dist.from_param_value(name, fixed->second);
  } else if (const auto rel = trial.relative_.find(name); rel != trial.relative_.end() && dist.contains(rel->second)) {
    v = rel->second;
  } else {
    std::lock_guard lock(sampler_mu_);
    v = sampler_->sample_independent(*trial.history_, rec, name, dist);
  }
  EMBER_ASSERT(dist.contains(v), "sampler {} proposed {} for '{}', outside {}", sampler_->name(), v, name,
               dist.describe());
  rec.params[name] = v;
  rec.distributions[name] = dist;
  storage_->set_param(rec.id, name, dist, v);
  return v;
}

bool Study::should_prune(Trial& trial) {
  if (!pruner_) return false;
  const History h(direction_, trials());
  return pruner_->prune(h, trial.record_);
}

void Study::finish(Trial& trial, TrialState state, std::optional<double> value, const std::string& message) {
  EMBER_CHECK(trial.record_.state == TrialState::kRunning, "study: trial {} was already told ({})",
              trial.record_.number, to_string(trial.record_.state));
  storage_->finish_trial(trial.record_.id, state, value, message);
  trial.record_.state = state;
  trial.record_.value = value;
  trial.record_.message = message;
  const History h(direction_, trials());
  std::lock_guard lock(sampler_mu_);
  sampler_->after_trial(h, trial.record_);
}

void Study::tell(Trial& trial, double value) {
  if (!std::isfinite(value)) {
    finish(trial, TrialState::kFailed, std::nullopt, fmt::format("objective returned {}", value));
    return;
  }
  finish(trial, TrialState::kComplete, value, "");
}

void Study::tell(Trial& trial, TrialState state, const std::string& message) {
  EMBER_CHECK(state == TrialState::kPruned || state == TrialState::kFailed,
              "study: tell(state) takes pruned or failed, got {} (use tell(trial, value))", to_string(state));
  std::optional<double> value;
  if (state == TrialState::kPruned) {
    const auto last = trial.record_.last_intermediate();
    if (last.has_value() && std::isfinite(*last)) value = last;
  }
  finish(trial, state, value, message);
}

void Study::run_one(const Objective& objective, const OptimizeOptions& opt) {
  Trial trial = ask(opt.max_total_trials);
  std::exception_ptr raised;
  try {
    const double v = objective(trial);
    tell(trial, v);
  } catch (const TrialPruned& e) {
    tell(trial, TrialState::kPruned, e.reason());
  } catch (const std::exception& e) {
    tell(trial, TrialState::kFailed, e.what());
    raised = std::current_exception();
  } catch (...) {
    tell(trial, TrialState::kFailed, "objective threw an unknown exception");
    raised = std::current_exception();
  }
  std::lock_guard lock(callback_mu_);
  if (opt.log) {
    const FrozenTrial& t = trial.record();
    const auto best = best_trial();
    const std::string line = fmt::format(
        "[study {}] trial {} {}{}; best {}{}\n", name_, t.number, to_string(t.state),
        t.value ? fmt::format(" with value {:.9g}", *t.value) : "", best ? fmt::format("{:.9g} (trial {})", *best->value, best->number) : "-",
        t.params.empty() ? "" : " | " + t.params_string());
    const std::string msg = t.state == TrialState::kFailed ? fmt::format("{}[study {}] trial {} failed: {}\n", line, name_, t.number, t.message) : line;
    if (opt.logger) opt.logger(msg);
    else std::fputs(msg.c_str(), stderr);
  }
  if (opt.callback) opt.callback(*this, trial.record());
  if (raised && !opt.catch_exceptions) std::rethrow_exception(raised);
}

double process_cpu_seconds() {
  auto seconds = [](const rusage& r) {
    return double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + 1e-6 * double(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
  };
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return seconds(self) + seconds(children);
}

void Study::optimize(const Objective& objective, const OptimizeOptions& opt) {
  EMBER_CHECK(opt.n_jobs >= 1, "optimize: n_jobs must be >= 1 (got {})", opt.n_jobs);
  EMBER_CHECK(!opt.n_trials || *opt.n_trials >= 0, "optimize: n_trials must be >= 0 (got {})", *opt.n_trials);
  EMBER_CHECK(!opt.timeout_s || *opt.timeout_s > 0, "optimize: timeout must be > 0 s (got {})", *opt.timeout_s);
  EMBER_CHECK(!opt.cpu_timeout_s || *opt.cpu_timeout_s > 0, "optimize: CPU timeout must be > 0 s (got {})",
              *opt.cpu_timeout_s);
  stop_requested_ = false;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = opt.cpu_timeout_s ? process_cpu_seconds() : 0.0;
  std::atomic<int64_t> started{0};
  std::mutex err_mu;
  std::exception_ptr error;
  auto worker = [&] {
    while (!stop_requested_) {
      if (opt.n_trials && started.fetch_add(1) >= *opt.n_trials) break;
      if (opt.timeout_s) {
        const std::chrono::duration<double> el = std::chrono::steady_clock::now() - t0;
        if (el.count() >= *opt.timeout_s) break;
      }
      if (opt.cpu_timeout_s && process_cpu_seconds() - cpu0 >= *opt.cpu_timeout_s) break;
      try {
        run_one(objective, opt);
      } catch (const SearchExhausted&) {
        stop_requested_ = true;
      } catch (...) {
        std::lock_guard lock(err_mu);
        if (!error) error = std::current_exception();
        stop_requested_ = true;
      }
    }
  };
  // n_jobs - 1 extra threads (capped, tensor/threads.h) plus this one, so trials run even when
  // the system refuses every spawn; a refused spawn used to abort the process.
  const int extra = std::min(opt.n_jobs, max_useful_threads()) - 1;
  std::vector<std::thread> pool = spawn_threads(extra, [&](int) { worker(); });
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// ---- export ----

namespace {

std::vector<std::string> param_names(const std::vector<TrialPtr>& trials) {
  std::set<std::string> names;
  for (const auto& t : trials)
    for (const auto& [k, v] : t->params) names.insert(k);
  return {names.begin(), names.end()};
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::string trials_to_csv(const std::vector<TrialPtr>& trials) {
  const auto names = param_names(trials);
  std::string out = "number,state,value";
  for (const auto& n : names) out += fmt::format(",params_{}", csv_field(n));
  out += ",duration_s,message\n";
  for (const auto& t : trials) {
    out += fmt::format("{},{},{}", t->number, to_string(t->state), t->value ? fmt::format("{:.17g}", *t->value) : "");
    for (const auto& n : names) out += fmt::format(",{}", csv_field(t->param_string(n)));
    const double dur = t->time_end > 0 ? t->time_end - t->time_start : 0.0;
    out += fmt::format(",{:.6f},{}\n", dur, csv_field(t->message));
  }
  return out;
}

std::string trials_to_json(const std::string& study_name, Direction direction, const std::vector<TrialPtr>& trials) {
  nlohmann::json j;
  j["study"] = study_name;
  j["direction"] = to_string(direction);
  j["trials"] = nlohmann::json::array();
  for (const auto& t : trials) {
    nlohmann::json tj;
    tj["number"] = t->number;
    tj["state"] = to_string(t->state);
    tj["value"] = t->value ? nlohmann::json(*t->value) : nlohmann::json(nullptr);
    nlohmann::json params = nlohmann::json::object();
    for (const auto& kv : t->params) {  // not a structured binding: clang 14 cannot capture one
      const std::string& name = kv.first;
      const auto pv = t->distributions.at(name).to_param_value(kv.second);
      std::visit([&](const auto& x) { params[name] = x; }, pv);
    }
    tj["params"] = params;
    nlohmann::json inter = nlohmann::json::object();
    for (const auto& [step, v] : t->intermediate) inter[std::to_string(step)] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    tj["intermediate"] = inter;
    if (!t->user_attrs.empty()) {
      nlohmann::json attrs = nlohmann::json::object();
      for (const auto& [key, text] : t->user_attrs) attrs[key] = t->user_attr(key);
      tj["user_attrs"] = attrs;
    }
    tj["time_start"] = t->time_start;
    tj["time_end"] = t->time_end;
    if (!t->message.empty()) tj["message"] = t->message;
    j["trials"].push_back(tj);
  }
  return j.dump(2);
}

}  // namespace ember::hpo
