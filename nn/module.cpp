#include "nn/module.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace ember::nn {
namespace {

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// 421642 -> "421,642"
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Points `dst`'s TensorImpl at `src`'s data and layout, keeping dst's autograd flags.
void rebind(const Tensor& dst, const Tensor& src) {
  TensorImpl* d = dst.impl();
  d->storage = src.impl()->storage;
  d->shape = src.shape();
  d->strides = src.strides();
  d->offset = src.offset();
  d->dtype = src.dtype();
  d->grad.reset();
}

}  // namespace

Tensor Module::forward(const Tensor& x) {
  EMBER_CHECK(false, "{}: this module does not take a single tensor; call its own forward()", type_name());
  return {};
}

void Module::check_new_name(const std::string& name) const {
  EMBER_CHECK(!name.empty() && name.find('.') == std::string::npos,
              "{}: name '{}' must be non-empty and contain no '.'", type_name(), name);
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  EMBER_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), "{}: name '{}' is already registered",
              type_name(), name);
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name);
  check_defined(value, type_name(), name);
  EMBER_CHECK(value.is_leaf(), "{}: parameter '{}' must be a leaf tensor (detach it first)", type_name(), name);
  if (requires_grad) value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  check_defined(value, type_name(), name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, ModulePtr module) {
  check_new_name(name);
  EMBER_CHECK(module != nullptr, "{}: submodule '{}' is null", type_name(), name);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, bool recurse, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : params_) out.emplace_back(join_name(prefix, n), t);
  if (buffers)
    for (const auto& [n, t] : buffers_) out.emplace_back(join_name(prefix, n), t);
  if (recurse)
    for (const auto& [n, m] : children_) m->collect(join_name(prefix, n), params, buffers, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, false, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, true, recurse, out);
  return out;
}

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() const {
  std::vector<std::pair<std::string, ModulePtr>> out;
  for (const auto& [n, m] : children_) {
    out.emplace_back(n, m);
    for (auto& [sub, sm] : m->named_modules()) out.emplace_back(join_name(n, sub), sm);
  }
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [_, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, m] : children_) m->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (auto& [_, p] : named_parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none) {
      p.zero_grad();
    } else {
      Tensor g = p.grad();
      g.zero_();
    }
  }
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, true, out);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : state) {
    EMBER_CHECK(given.emplace(n, &t).second, "load_state_dict: key '{}' appears twice", n);
    check_defined(t, "load_state_dict", n);
  }
  NamedTensors own = state_dict();
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (const auto& [n, t] : own) {
    auto it = given.find(n);
    if (it == given.end()) {
      missing.push_back(n);
      continue;
    }
    used.insert(n);
    const Tensor& src = *it->second;
    EMBER_CHECK(src.shape() == t.shape(), "load_state_dict: '{}' has shape {} in the {} but {} in the state dict", n,
                shape_str(t.shape()), type_name(), shape_str(src.shape()));
  }
  EMBER_CHECK(missing.empty(), "load_state_dict: {} key(s) missing from the state dict, first '{}'", missing.size(),
              missing.empty() ? "" : missing.front());
  if (strict) {
    for (const auto& [n, _] : state)
      EMBER_CHECK(used.count(n), "load_state_dict: unexpected key '{}' (not in the {})", n, type_name());
  }
  NoGradGuard no_grad;
  for (auto& [n, t] : own) {
    Tensor dst = t;
    dst.copy_(*given.at(n));
  }
}

template <class Fn>
void Module::for_each_tensor(Fn&& fn) {
  for (auto& [_, t] : params_) fn(t);
  for (auto& [_, t] : buffers_) fn(t);
  for (auto& [_, m] : children_) m->for_each_tensor(fn);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for_each_tensor([&](Tensor& t) {
    if (t.device() == device) return;
    rebind(t, t.detach().to(device));
  });
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  for_each_tensor([&](Tensor& t) {
    if (t.dtype() == dtype || !is_floating(t.dtype())) return;  // integer buffers keep their type
    rebind(t, t.detach().to(dtype));
  });
}

void Module::summary_lines(const std::string& name, int depth, std::string& out) const {
  std::string label = std::string(static_cast<size_t>(depth) * 2, ' ');
  if (!name.empty()) label += "(" + name + ") ";
  label += type_name();
  if (std::string extra = extra_repr(); !extra.empty()) label += "(" + extra + ")";
  int64_t own = 0;
  for (const auto& [_, t] : params_) own += t.numel();
  const int64_t total = num_parameters();
  out += fmt::format("{:<64} {:>12}\n", label, children_.empty() ? with_commas(own) : with_commas(total));
  for (const auto& [n, m] : children_) m->summary_lines(n, depth + 1, out);
}

std::string Module::summary() const {
  std::string out = fmt::format("{:<64} {:>12}\n", "module", "parameters");
  summary_lines("", 0, out);
  int64_t trainable = 0;
  for (const auto& [_, t] : named_parameters())
    if (t.requires_grad()) trainable += t.numel();
  out += fmt::format("total parameters: {} (trainable {})\n", with_commas(num_parameters()), with_commas(trainable));
  return out;
}

}  // namespace ember::nn
