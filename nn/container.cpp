#include "nn/container.h"

#include <string>

namespace ember::nn {

Sequential::Sequential(std::initializer_list<ModulePtr> modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(ModulePtr module) {
  add_child(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

const ModulePtr& Sequential::operator[](size_t i) const {
  EMBER_CHECK(i < modules_.size(), "Sequential: index {} out of range for {} modules", i, modules_.size());
  return modules_[i];
}

ModuleList::ModuleList(std::initializer_list<ModulePtr> modules) {
  for (const auto& m : modules) push_back(m);
}

void ModuleList::push_back(ModulePtr module) {
  add_child(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

const ModulePtr& ModuleList::operator[](size_t i) const {
  EMBER_CHECK(i < modules_.size(), "ModuleList: index {} out of range for {} modules", i, modules_.size());
  return modules_[i];
}

}  // namespace ember::nn
