// Distributions (validation, unit-interval maps, JSON) and the declarative Space.
#include "hpo/space.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "hpo/trial.h"
#include "tensor/error.h"

namespace ember::hpo {

namespace {

const char* kind_name(ParamKind k) {
  switch (k) {
    case ParamKind::kFloat: return "float";
    case ParamKind::kInt: return "int";
    case ParamKind::kCategorical: return "categorical";
  }
  return "?";
}

// The largest legal value of a stepped distribution: low + floor((high - low) / step) * step.
double stepped_high(const Distribution& d) {
  return d.low + std::floor((d.high - d.low) / d.step + 1e-9) * d.step;
}

}  // namespace

Distribution Distribution::make_float(const std::string& name, double low, double high, FloatOptions opt) {
  EMBER_CHECK(std::isfinite(low) && std::isfinite(high), "suggest_float: '{}' has a non-finite bound ({}, {})", name,
              low, high);
  EMBER_CHECK(low <= high, "suggest_float: '{}' has low > high ({} > {})", name, low, high);
  EMBER_CHECK(!opt.log || low > 0.0, "suggest_float: '{}' is log-scaled but low = {} (must be > 0)", name, low);
  EMBER_CHECK(std::isfinite(opt.step) && opt.step >= 0.0, "suggest_float: '{}' has step {} (must be >= 0)", name,
              opt.step);
  EMBER_CHECK(!(opt.log && opt.step > 0.0), "suggest_float: '{}' cannot have both log and step", name);
  Distribution d;
  d.kind = ParamKind::kFloat;
  d.low = low;
  d.high = high;
  d.log = opt.log;
  d.step = opt.step;
  if (d.step > 0.0) d.high = stepped_high(d);
  return d;
}

Distribution Distribution::make_int(const std::string& name, int64_t low, int64_t high, IntOptions opt) {
  EMBER_CHECK(low <= high, "suggest_int: '{}' has low > high ({} > {})", name, low, high);
  EMBER_CHECK(!opt.log || low >= 1, "suggest_int: '{}' is log-scaled but low = {} (must be >= 1)", name, low);
  EMBER_CHECK(opt.step >= 1, "suggest_int: '{}' has step {} (must be >= 1)", name, opt.step);
  EMBER_CHECK(!(opt.log && opt.step != 1), "suggest_int: '{}' cannot have log with step {} (must be 1)", name,
              opt.step);
  EMBER_CHECK(std::llabs(low) < (1LL << 52) && std::llabs(high) < (1LL << 52),
              "suggest_int: '{}' bounds exceed 2^52 ({}, {})", name, low, high);
  Distribution d;
  d.kind = ParamKind::kInt;
  d.low = static_cast<double>(low);
  d.high = static_cast<double>(high);
  d.log = opt.log;
  d.step = static_cast<double>(opt.step);
  d.high = stepped_high(d);
  return d;
}

Distribution Distribution::make_categorical(const std::string& name, std::vector<std::string> choices) {
  EMBER_CHECK(!choices.empty(), "suggest_categorical: '{}' has no choices", name);
  std::set<std::string> seen;
  for (const auto& c : choices)
    EMBER_CHECK(seen.insert(c).second, "suggest_categorical: '{}' lists choice '{}' twice", name, c);
  Distribution d;
  d.kind = ParamKind::kCategorical;
  d.low = 0.0;
  d.high = static_cast<double>(choices.size() - 1);
  d.choices = std::move(choices);
  return d;
}

bool Distribution::contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (kind == ParamKind::kCategorical) return v == std::floor(v) && v >= 0.0 && v < static_cast<double>(choices.size());
  const double tol = 1e-12 * std::max(1.0, std::max(std::fabs(low), std::fabs(high)));
  if (v < low - tol || v > high + tol) return false;
  if (kind == ParamKind::kInt && v != std::floor(v)) return false;
  if (step > 0.0) {
    const double k = (v - low) / step;
    if (std::fabs(k - std::round(k)) > 1e-8) return false;
  }
  return true;
}

uint64_t Distribution::cardinality() const {
  if (kind == ParamKind::kCategorical) return choices.size();
  if (step > 0.0) return static_cast<uint64_t>(std::llround((high - low) / step)) + 1;
  return low == high ? 1 : 0;
}

double Distribution::to_unit(double v) const {
  if (kind == ParamKind::kCategorical) return (v + 0.5) / static_cast<double>(choices.size());
  double lo = low, hi = high, x = v;
  if (kind == ParamKind::kInt && log) {
    lo = std::log(low - 0.5);
    hi = std::log(high + 0.5);
    x = std::log(v);
  } else if (log) {
    lo = std::log(low);
    hi = std::log(high);
    x = std::log(v);
  } else if (step > 0.0) {
    lo = low - 0.5 * step;
    hi = high + 0.5 * step;
  }
  if (hi <= lo) return 0.5;
  return std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
}

double Distribution::from_unit(double u) const {
  if (!std::isfinite(u)) u = 0.5;
  u = std::clamp(u, 0.0, 1.0);
  if (kind == ParamKind::kCategorical) {
    const double n = static_cast<double>(choices.size());
    return std::min(std::floor(u * n), n - 1.0);
  }
  double x;
  if (kind == ParamKind::kInt && log) {
    const double lo = std::log(low - 0.5), hi = std::log(high + 0.5);
    x = std::exp(lo + u * (hi - lo));
  } else if (log) {
    const double lo = std::log(low), hi = std::log(high);
    x = std::exp(lo + u * (hi - lo));
  } else if (step > 0.0) {
    x = (low - 0.5 * step) + u * (high - low + step);
  } else {
    x = low + u * (high - low);
  }
  if (step > 0.0) x = low + std::round((x - low) / step) * step;
  return std::clamp(x, low, high);
}

ParamValue Distribution::to_param_value(double v) const {
  switch (kind) {
    case ParamKind::kFloat: return v;
    case ParamKind::kInt: return static_cast<int64_t>(std::llround(v));
    case ParamKind::kCategorical: {
      const auto i = static_cast<size_t>(std::clamp(v, 0.0, static_cast<double>(choices.size() - 1)));
      return choices[i];
    }
  }
  return v;
}

double Distribution::from_param_value(const std::string& name, const ParamValue& p) const {
  double v = 0.0;
  if (kind == ParamKind::kCategorical) {
    std::string s;
    if (const auto* str = std::get_if<std::string>(&p)) s = *str;
    else if (const auto* i = std::get_if<int64_t>(&p)) s = std::to_string(*i);
    else s = fmt::format("{}", std::get<double>(p));
    const auto it = std::find(choices.begin(), choices.end(), s);
    EMBER_CHECK(it != choices.end(), "parameter '{}': '{}' is not one of its choices [{}]", name, s,
                fmt::join(choices, ", "));
    return static_cast<double>(it - choices.begin());
  }
  if (const auto* i = std::get_if<int64_t>(&p)) v = static_cast<double>(*i);
  else if (const auto* d = std::get_if<double>(&p)) v = *d;
  else EMBER_CHECK(false, "parameter '{}': expected a number, got '{}'", name, std::get<std::string>(p));
  EMBER_CHECK(contains(v), "parameter '{}': value {} is outside {}", name, v, describe());
  return v;
}

std::string Distribution::format_value(double v) const {
  switch (kind) {
    case ParamKind::kFloat: return fmt::format("{:.6g}", v);
    case ParamKind::kInt: return fmt::format("{}", std::llround(v));
    case ParamKind::kCategorical: return std::get<std::string>(to_param_value(v));
  }
  return "?";
}

std::string Distribution::describe() const {
  if (kind == ParamKind::kCategorical) return fmt::format("categorical{{{}}}", fmt::join(choices, ","));
  std::string s = fmt::format("{}[{:g}, {:g}]", kind_name(kind), low, high);
  if (log) s += " log";
  if (step > 0.0 && !(kind == ParamKind::kInt && step == 1.0)) s += fmt::format(" step {:g}", step);
  return s;
}

std::string Distribution::to_json() const {
  nlohmann::json j;
  j["kind"] = kind_name(kind);
  if (kind == ParamKind::kCategorical) {
    j["choices"] = choices;
  } else {
    j["low"] = low;
    j["high"] = high;
    j["log"] = log;
    j["step"] = step;
  }
  return j.dump();
}

Distribution Distribution::from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EMBER_CHECK(j.is_object() && j.contains("kind"), "distribution: malformed JSON '{}'", text);
  const std::string kind = j["kind"].get<std::string>();
  if (kind == "categorical") return make_categorical("distribution", j.at("choices").get<std::vector<std::string>>());
  EMBER_CHECK(kind == "float" || kind == "int", "distribution: unknown kind '{}'", kind);
  Distribution d;
  d.kind = kind == "float" ? ParamKind::kFloat : ParamKind::kInt;
  d.low = j.at("low").get<double>();
  d.high = j.at("high").get<double>();
  d.log = j.at("log").get<bool>();
  d.step = j.at("step").get<double>();
  return d;
}

// ---- Space ----

Space& Space::add(ParamSpec spec) {
  EMBER_CHECK(find(spec.name) == nullptr, "space: parameter '{}' is declared twice", spec.name);
  if (spec.condition) {
    const ParamSpec* parent = find(spec.condition->parent);
    EMBER_CHECK(parent != nullptr, "space: '{}' depends on '{}', which must be declared before it", spec.name,
                spec.condition->parent);
    EMBER_CHECK(parent->dist.kind != ParamKind::kFloat, "space: '{}' depends on float '{}' (use an int or categorical)",
                spec.name, parent->name);
  }
  params_.push_back(std::move(spec));
  return *this;
}

Space& Space::add_float(const std::string& name, double low, double high, FloatOptions opt,
                        std::optional<Condition> when) {
  return add({name, Distribution::make_float(name, low, high, opt), std::move(when)});
}

Space& Space::add_int(const std::string& name, int64_t low, int64_t high, IntOptions opt,
                      std::optional<Condition> when) {
  return add({name, Distribution::make_int(name, low, high, opt), std::move(when)});
}

Space& Space::add_categorical(const std::string& name, std::vector<std::string> choices,
                              std::optional<Condition> when) {
  return add({name, Distribution::make_categorical(name, std::move(choices)), std::move(when)});
}

const ParamSpec* Space::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

bool Space::is_active(const ParamSpec& spec, const std::map<std::string, double>& values) const {
  if (!spec.condition) return true;
  const ParamSpec* parent = find(spec.condition->parent);
  const auto it = values.find(spec.condition->parent);
  if (parent == nullptr || it == values.end()) return false;
  const std::string v = parent->dist.format_value(it->second);
  return std::find(spec.condition->values.begin(), spec.condition->values.end(), v) != spec.condition->values.end();
}

std::map<std::string, double> Space::suggest_all(Trial& trial) const {
  std::map<std::string, double> values;
  for (const auto& p : params_)
    if (is_active(p, values)) values[p.name] = trial.suggest(p.name, p.dist);
  return values;
}

bool Space::is_flat() const {
  return std::none_of(params_.begin(), params_.end(), [](const ParamSpec& p) { return p.condition.has_value(); });
}

}  // namespace ember::hpo
