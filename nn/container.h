// Containers: Sequential chains one-tensor modules; ModuleList only holds them (its owner writes
// the forward). Children are named by their position, "0", "1", ..., as in PyTorch.
#pragma once

#include <initializer_list>
#include <memory>
#include <type_traits>

#include "nn/module.h"

namespace ember::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> modules);
  // std::make_shared<Sequential>(conv, relu, pool): any shared_ptrs to modules, no list type to spell.
  template <class... M>
    requires(sizeof...(M) > 0 && (std::is_base_of_v<Module, M> && ...))
  explicit Sequential(std::shared_ptr<M>... modules) {
    (push_back(std::move(modules)), ...);
  }
  void push_back(ModulePtr module);
  // x -> m0(x) -> m1(...) -> ...
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return modules_.size(); }
  const ModulePtr& operator[](size_t i) const;

 private:
  std::vector<ModulePtr> modules_;
};

// nn::sequential(std::make_shared<Linear>(784, 10), std::make_shared<ReLU>()) -> shared_ptr<Sequential>.
template <class... M>
std::shared_ptr<Sequential> sequential(std::shared_ptr<M>... modules) {
  return std::make_shared<Sequential>(std::move(modules)...);
}

class ModuleList : public Module {
 public:
  ModuleList() = default;
  ModuleList(std::initializer_list<ModulePtr> modules);
  void push_back(ModulePtr module);
  std::string type_name() const override { return "ModuleList"; }
  size_t size() const { return modules_.size(); }
  const ModulePtr& operator[](size_t i) const;
  // Typed access: list.at<Linear>(2) (throws when the module is of another type).
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    EMBER_CHECK(m != nullptr, "ModuleList: entry {} is a {}, not the requested type", i, (*this)[i]->type_name());
    return m;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<ModulePtr> modules_;
};

}  // namespace ember::nn
