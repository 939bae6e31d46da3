// Optimizer: the base of SGD, Adam and AdamW. It owns parameter groups (each with its own
// hyperparameters), per-parameter state (step count and named buffers such as exp_avg), zero_grad,
// and state save/restore through safetensors so that training resumes bit for bit.
//
// A parameter is any floating leaf Tensor; its gradient is p.grad(). step() runs under
// NoGradGuard, skips parameters whose grad is undefined, and updates parameters in place.
//
// State dict layout (TensorDict, round-trips through save_safetensors):
//   tensors   "state.<i>.<buffer>"           i = index of the parameter over all groups in order
//   metadata  "optimizer.type"                "SGD", "Adam" or "AdamW"
//             "optimizer.num_groups"          number of groups
//             "optimizer.group.<g>.num_params"
//             "optimizer.group.<g>.<option>"  lr, weight_decay, momentum, ... (shortest exact decimal)
//             "optimizer.state.<i>.step"      steps taken by parameter i (absent when 0)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nn/safetensors.h"
#include "tensor/tensor.h"

namespace ember::nn {

namespace detail {
// A number stored as text in state-dict metadata (int64_t, uint64_t or double); errors name `who`
// ("load_state_dict", "scheduler load_state_dict") and the key.
template <typename T>
T metadata_number(const std::map<std::string, std::string>& md, const std::string& key, const char* who);
}  // namespace detail

// A set of parameters with per-group overrides of the optimizer's options. An unset option takes
// the optimizer's default. Options an optimizer does not have (beta1 for SGD, dampening for Adam)
// must stay unset; the constructor throws otherwise.
struct ParamGroup {
  std::vector<Tensor> params = {};
  std::optional<double> lr = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
  std::optional<double> momentum = std::nullopt;   // SGD
  std::optional<double> dampening = std::nullopt;  // SGD
  std::optional<double> beta1 = std::nullopt;      // Adam/AdamW
  std::optional<double> beta2 = std::nullopt;      // Adam/AdamW
  std::optional<double> eps = std::nullopt;        // Adam/AdamW
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // "SGD", "Adam", "AdamW": stored in the state dict and checked on load.
  virtual std::string name() const = 0;

  // Zero-fills every existing .grad (PyTorch 1.13's default); with set_to_none, drops them instead.
  void zero_grad(bool set_to_none = false);

  // Appends a group; its unset options take the defaults. Throws when a parameter is already
  // in a group, or is undefined, not floating or not a leaf.
  void add_param_group(ParamGroup group);

  // Groups with every option of this optimizer filled in. Read-only: use the setters to change.
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  size_t num_groups() const { return groups_.size(); }
  // All parameters over all groups, in state-dict index order.
  std::vector<Tensor> params() const;

  double lr(size_t group = 0) const;
  void set_lr(double lr);  // every group
  void set_lr(size_t group, double lr);
  // The momentum a cyclic scheduler (OneCycle) drives: SGD's momentum, Adam's beta1.
  // has_momentum() is false when the optimizer has none (then these two throw).
  bool has_momentum() const { return momentum_field() != nullptr; }
  double momentum(size_t group = 0) const;
  void set_momentum(size_t group, double value);

  // Steps taken by parameter i (index as in params()); 0 before its first update.
  int64_t step_count(size_t param_index) const;

  // Snapshot of options and state, sharing no storage with the optimizer (tensors are cloned to
  // CPU). load_state_dict checks the optimizer type, group and parameter counts, and each buffer's
  // shape and dtype against its parameter, then restores group options, steps and buffers (moved
  // to each parameter's device). Metadata keys outside "optimizer." are ignored, so a checkpoint
  // may carry scheduler state and training progress beside it. Nothing changes when it throws.
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& state);

  // state_dict() to a safetensors file, merged with `extra_metadata` (whose keys must not start
  // with "optimizer."); load() restores it and returns the file's whole metadata.
  void save(const std::string& path, const std::map<std::string, std::string>& extra_metadata = {}) const;
  std::map<std::string, std::string> load(const std::string& path);

 protected:
  // `defaults` holds every option this optimizer has (set) and no other (unset). The derived
  // constructor then calls init_groups (virtual calls do not dispatch inside this constructor).
  explicit Optimizer(ParamGroup defaults) : defaults_(std::move(defaults)) {}
  void init_groups(std::vector<ParamGroup> groups);

  struct ParamState {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;  // e.g. "momentum_buffer", "exp_avg"
  };
  // Buffer names a state dict may hold for this optimizer.
  virtual std::vector<std::string> buffer_names() const = 0;
  // Throws when a resolved group option is out of range (called for new and loaded groups).
  virtual void check_group(const ParamGroup& g) const = 0;
  // The option OneCycle cycles (&ParamGroup::momentum, &ParamGroup::beta1), or nullptr.
  virtual std::optional<double> ParamGroup::*momentum_field() const { return nullptr; }

  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // one per parameter, same order as params()

 private:
  ParamGroup defaults_;
};

// Validation shared by the optimizers' constructors: `what` in [lo, hi] ("SGD: momentum 1.5 is
// outside [0, 1)").
void check_option(std::string_view op, std::string_view what, double value, double lo, double hi,
                  bool hi_open = false);

}  // namespace ember::nn
