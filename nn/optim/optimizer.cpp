// Optimizer base: parameter groups, zero_grad, learning-rate access for schedulers, and the
// state dict (layout documented in nn/optim/optimizer.h).
#include "nn/optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ember::nn {

template <typename T>
T detail::metadata_number(const std::map<std::string, std::string>& md, const std::string& key, const char* who) {
  auto it = md.find(key);
  EMBER_CHECK(it != md.end(), "{}: metadata lacks '{}'", who, key);
  const std::string& s = it->second;
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  EMBER_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty(),
              "{}: metadata '{}' = '{}' is not a number", who, key, s);
  return value;
}
template int64_t detail::metadata_number<int64_t>(const std::map<std::string, std::string>&, const std::string&, const char*);
template uint64_t detail::metadata_number<uint64_t>(const std::map<std::string, std::string>&, const std::string&, const char*);
template double detail::metadata_number<double>(const std::map<std::string, std::string>&, const std::string&, const char*);
namespace {

struct OptionField {
  const char* name;
  std::optional<double> ParamGroup::*field;
};
constexpr OptionField kOptions[] = {
    {"lr", &ParamGroup::lr},           {"weight_decay", &ParamGroup::weight_decay},
    {"momentum", &ParamGroup::momentum}, {"dampening", &ParamGroup::dampening},
    {"beta1", &ParamGroup::beta1},     {"beta2", &ParamGroup::beta2},
    {"eps", &ParamGroup::eps},
};

// A copy on the CPU that shares nothing with `t`.
Tensor host_copy(const Tensor& t) {
  Tensor d = t.detach();
  return d.device().is_cpu() ? d.clone() : d.to(Device::cpu());
}

template <typename T>
T parse_number(const std::map<std::string, std::string>& md, const std::string& key) {
  return detail::metadata_number<T>(md, key, "load_state_dict");
}

std::string group_key(size_t g, std::string_view what) { return fmt::format("optimizer.group.{}.{}", g, what); }
std::string step_key(size_t i) { return fmt::format("optimizer.state.{}.step", i); }

}  // namespace

void check_option(std::string_view op, std::string_view what, double value, double lo, double hi, bool hi_open) {
  bool ok = std::isfinite(value) && value >= lo && (hi_open ? value < hi : value <= hi);
  EMBER_CHECK(ok, "{}: {} {} is outside [{}, {}{}", op, what, value, lo, hi, hi_open ? ")" : "]");
}

void Optimizer::init_groups(std::vector<ParamGroup> groups) {
  size_t n = 0;
  for (const ParamGroup& g : groups) n += g.params.size();
  EMBER_CHECK(n > 0, "{}: got an empty parameter list", name());
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  const std::string op = name();
  std::set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    EMBER_CHECK(p.defined(), "{}: parameter {} of group {} is undefined", op, i, groups_.size());
    EMBER_CHECK(is_floating(p.dtype()), "{}: parameter {} {} of group {} is not floating ({})", op, i,
                shape_str(p.shape()), groups_.size(), p.dtype());
    EMBER_CHECK(p.is_leaf(), "{}: parameter {} {} of group {} is not a leaf tensor", op, i, shape_str(p.shape()),
                groups_.size());
    EMBER_CHECK(seen.insert(p.impl()).second, "{}: parameter {} {} of group {} appears in more than one place", op,
                i, shape_str(p.shape()), groups_.size());
  }
  for (const OptionField& o : kOptions) {
    std::optional<double>& v = group.*o.field;
    const std::optional<double>& d = defaults_.*o.field;
    EMBER_CHECK(!v.has_value() || d.has_value(), "{}: param group {} sets {}, which {} does not use", op,
                groups_.size(), o.name, op);
    if (!v.has_value()) v = d;
  }
  check_group(group);
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none)
        p.zero_grad();
      else
        grad.zero_();
    }
}

std::vector<Tensor> Optimizer::params() const {
  std::vector<Tensor> out;
  for (const ParamGroup& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

double Optimizer::lr(size_t group) const {
  EMBER_CHECK(group < groups_.size(), "{}: group {} out of range ({} groups)", name(), group, groups_.size());
  return *groups_[group].lr;
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

void Optimizer::set_lr(size_t group, double lr) {
  EMBER_CHECK(group < groups_.size(), "{}: group {} out of range ({} groups)", name(), group, groups_.size());
  EMBER_CHECK(std::isfinite(lr) && lr >= 0, "{}: learning rate {} must be finite and >= 0", name(), lr);
  groups_[group].lr = lr;
}

double Optimizer::momentum(size_t group) const {
  EMBER_CHECK(has_momentum(), "{}: optimizer has no momentum to read", name());
  EMBER_CHECK(group < groups_.size(), "{}: group {} out of range ({} groups)", name(), group, groups_.size());
  return *(groups_[group].*momentum_field());
}

void Optimizer::set_momentum(size_t group, double value) {
  EMBER_CHECK(has_momentum(), "{}: optimizer has no momentum to set", name());
  EMBER_CHECK(group < groups_.size(), "{}: group {} out of range ({} groups)", name(), group, groups_.size());
  ParamGroup g = groups_[group];
  g.*momentum_field() = value;
  check_group(g);
  groups_[group] = std::move(g);
}

int64_t Optimizer::step_count(size_t param_index) const {
  EMBER_CHECK(param_index < state_.size(), "{}: parameter {} out of range ({} parameters)", name(), param_index,
              state_.size());
  return state_[param_index].step;
}

TensorDict Optimizer::state_dict() const {
  NoGradGuard no_grad;
  TensorDict sd;
  sd.metadata["optimizer.type"] = name();
  sd.metadata["optimizer.num_groups"] = std::to_string(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    sd.metadata[group_key(g, "num_params")] = std::to_string(groups_[g].params.size());
    for (const OptionField& o : kOptions)
      if (const auto& v = groups_[g].*o.field; v.has_value())
        sd.metadata[group_key(g, o.name)] = fmt::format("{}", *v);  // shortest exact decimal
  }
  for (size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].step > 0) sd.metadata[step_key(i)] = std::to_string(state_[i].step);
    for (const auto& [buf, t] : state_[i].buffers) sd.tensors.emplace_back(fmt::format("state.{}.{}", i, buf), host_copy(t));
  }
  return sd;
}

void Optimizer::load_state_dict(const TensorDict& sd) {
  NoGradGuard no_grad;
  const auto& md = sd.metadata;
  auto type = md.find("optimizer.type");
  EMBER_CHECK(type != md.end(), "load_state_dict: metadata lacks 'optimizer.type' (not an optimizer state?)");
  EMBER_CHECK(type->second == name(), "load_state_dict: state is for {}, this optimizer is {}", type->second, name());
  auto ngroups = parse_number<uint64_t>(md, "optimizer.num_groups");
  EMBER_CHECK(ngroups == groups_.size(), "load_state_dict: state has {} param groups, this {} has {}", ngroups,
              name(), groups_.size());

  // Build the new groups and state aside; commit only when everything checked out.
  std::vector<ParamGroup> groups = groups_;
  for (size_t g = 0; g < groups.size(); ++g) {
    auto n = parse_number<uint64_t>(md, group_key(g, "num_params"));
    EMBER_CHECK(n == groups[g].params.size(), "load_state_dict: group {} has {} parameters in the state, {} here", g,
                n, groups[g].params.size());
    for (const OptionField& o : kOptions)
      if (groups[g].*o.field) groups[g].*o.field = parse_number<double>(md, group_key(g, o.name));
    check_group(groups[g]);
  }
  std::vector<Tensor> ps = params();
  std::vector<ParamState> state(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    if (md.count(step_key(i))) state[i].step = parse_number<int64_t>(md, step_key(i));
    EMBER_CHECK(state[i].step >= 0, "load_state_dict: parameter {} has a negative step count", i);
  }
  std::vector<std::string> bufs = buffer_names();
  for (const auto& [key, t] : sd.tensors) {
    // key = "state.<i>.<buffer>"
    size_t i = 0;
    bool ok = key.rfind("state.", 0) == 0;
    const char* digits = key.c_str() + (ok ? 6 : 0);
    auto [end, ec] = std::from_chars(digits, key.c_str() + key.size(), i);
    ok = ok && ec == std::errc() && end != digits && *end == '.';
    EMBER_CHECK(ok, "load_state_dict: unexpected tensor '{}' (expected state.<index>.<buffer>)", key);
    std::string buf(end + 1);
    EMBER_CHECK(i < ps.size(), "load_state_dict: tensor '{}' refers to parameter {}, but there are {}", key, i,
                ps.size());
    EMBER_CHECK(std::find(bufs.begin(), bufs.end(), buf) != bufs.end(), "load_state_dict: {} has no buffer '{}' ({})",
                name(), buf, key);
    EMBER_CHECK(t.defined() && t.shape() == ps[i].shape() && t.dtype() == ps[i].dtype(),
                "load_state_dict: '{}' is {} {}, parameter {} is {} {}", key, t.defined() ? shape_str(t.shape()) : "undefined",
                t.defined() ? dtype_name(t.dtype()) : "", i, shape_str(ps[i].shape()), ps[i].dtype());
    Tensor d = t.detach();
    Tensor own = d.device() == ps[i].device() ? d.clone() : d.to(ps[i].device());
    state[i].buffers[buf] = own.contiguous();
  }
  for (size_t g = 0; g < groups.size(); ++g) groups_[g] = std::move(groups[g]);
  state_ = std::move(state);
}

void Optimizer::save(const std::string& path, const std::map<std::string, std::string>& extra_metadata) const {
  TensorDict sd = state_dict();
  for (const auto& [k, v] : extra_metadata) {
    EMBER_CHECK(k.rfind("optimizer.", 0) != 0, "{}: save: extra metadata key '{}' uses the reserved prefix 'optimizer.'",
                name(), k);
    sd.metadata[k] = v;
  }
  save_safetensors(path, sd.tensors, sd.metadata);
}

std::map<std::string, std::string> Optimizer::load(const std::string& path) {
  TensorDict sd = load_safetensors(path);
  load_state_dict(sd);
  return std::move(sd.metadata);
}

}  // namespace ember::nn
