// Module: the unit models are built from. A module owns named parameters (trainable leaves),
// named buffers (state that is saved but not trained, e.g. BatchNorm running statistics) and named
// submodules, and walks them recursively with dotted names ("features.0.weight").
//
// Modules are plain classes held by std::shared_ptr (no holder/impl indirection): a layer
// registers its tensors in its constructor and keeps handles to them as members; those handles
// and the registry share one TensorImpl, so load_state_dict() and to() update both.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"

namespace ember::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module;
using ModulePtr = std::shared_ptr<Module>;

class Module {
 public:
  virtual ~Module() = default;

  // The one-tensor forward used by Sequential. Modules with other signatures define their own
  // forward overloads; calling this one on them throws.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Type name and constructor arguments, shown by summary() ("Linear", "in=784, out=256").
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }

  // ---- traversal (registration order; own entries first, then each child's) ----
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const { return children_; }
  // Every module below this one (not this one), with dotted names, depth first.
  std::vector<std::pair<std::string, ModulePtr>> named_modules() const;
  int64_t num_parameters() const;

  // ---- mode ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Gradients of every parameter: zero-filled (PyTorch 1.13 default) or dropped.
  void zero_grad(bool set_to_none = false);

  // ---- state ----
  // Parameters and buffers by dotted name (per module: parameters, then buffers, then children).
  // The tensors are the module's own (not copies).
  NamedTensors state_dict() const;
  // Copies values into the existing tensors. Checks everything first and throws, leaving the
  // module untouched, on a missing key, an unexpected key (strict) or a shape mismatch.
  void load_state_dict(const NamedTensors& state, bool strict = true);

  // Moves (or casts) every parameter and buffer in place; handles held by layers stay valid.
  // Gradients are dropped.
  void to(Device device);
  void to(DType dtype);

  // An indented tree with each module's parameter count and the total.
  std::string summary() const;

 protected:
  // Registers a parameter (made a leaf that requires grad) and returns the handle to keep.
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  void add_child(const std::string& name, ModulePtr module);

 private:
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, bool recurse, NamedTensors& out) const;
  void summary_lines(const std::string& name, int depth, std::string& out) const;
  template <class Fn>
  void for_each_tensor(Fn&& fn);

  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  bool training_ = true;
};

}  // namespace ember::nn
