// The DARTS search loop: alternate an architecture step (alpha, beta on a validation batch) and a
// weight step (supernet weights on a training batch), with the indicators that show collapse coming.
//
// Architecture step, first order: grad_alpha L_val(w, alpha) (+ latency_weight * E[latency]).
// Second order (DARTS eq. 7-8): the gradient at the unrolled weights w' = w - xi grad_w L_train,
// minus xi times the Hessian-vector product of L_train, by finite differences of alpha-gradients at
// w +- eps grad_w' L_val(w') (eps = 0.01 / |grad_w' L_val|); xi is the current weight lr. The
// unrolled step is plain gradient descent (momentum left out).
// Weights: SGD with momentum, cosine lr from w_lr to w_lr_min over the epochs, gradient clipping.
// Alpha/beta: Adam(a_lr, betas 0.5/0.999, weight decay), as in DARTS.
//
// Indicators per epoch: the number of parameter-free ops in the derived cells, and the dominant
// eigenvalue of the Hessian of L_val w.r.t. the architecture parameters by power iteration on a fixed
// validation batch, each Hessian-vector product a central difference of alpha-gradients (RobustDARTS
// found it grows before the derived cells collapse into skips).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hpo/nas/latency.h"
#include "hpo/nas/supernet.h"

namespace ember::nas {

struct SearchOptions {
  int64_t epochs = 10, batch = 64;
  double w_lr = 0.025, w_lr_min = 0.001, w_momentum = 0.9, w_weight_decay = 3e-4, grad_clip = 5;
  double a_lr = 6e-4, a_weight_decay = 1e-3;
  int64_t warmup_epochs = 0;   // weight steps only, alpha frozen (PC-DARTS warms up)
  bool second_order = false;
  double aux_skip = 0;         // DARTS-: initial auxiliary-skip coefficient, decays linearly to 0 (0: off)
  int hessian_iters = 0;       // power iterations per epoch for the eigenvalue (0: off)
  double latency_weight = 0;   // loss += latency_weight * E[latency in ms] (needs `latency`)
  const LatencyCost* latency = nullptr;
  uint64_t seed = 0;           // batch order
};

struct SearchEpoch {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, val_loss = 0, val_accuracy = 0;
  double hessian_eigenvalue = 0;   // NaN when hessian_iters == 0
  double expected_latency_ms = 0;  // E[latency] under the current alpha (0 without a table)
  double aux_skip = 0, seconds = 0;
  int64_t parameter_free_ops = 0;
  Genotype genotype;
  // softmax(alpha) [E*O] row-major and the edge weights [E] (1 without edge normalisation)
  std::vector<double> op_normal, op_reduce, edge_normal, edge_reduce;
  nlohmann::json to_json() const;
};

struct SplitData {
  Tensor x, y;  // f32 [N, C, H, W], i64 [N]
};

// step(done, total, status) after every step; epoch(record) after every epoch.
using SearchStepFn = std::function<void(int64_t, int64_t, const std::string&)>;
using SearchEpochFn = std::function<void(const SearchEpoch&)>;

std::vector<SearchEpoch> search(Supernet& net, const SplitData& train, const SplitData& val, const SearchOptions& opts,
                                const SearchStepFn& on_step = {}, const SearchEpochFn& on_epoch = {});

// H v for H = d^2 L(x, y) / d arch^2 (v: one tensor per arch parameter), as the central difference
// (grad(arch + r v) - grad(arch - r v)) / 2r of the architecture gradient. Leaves net unchanged.
std::vector<Tensor> hessian_vector_product(Supernet& net, const Tensor& x, const Tensor& y, const std::vector<Tensor>& v,
                                          double r = 1e-3);
// The dominant eigenvalue of d^2 L(x, y) / d arch^2 (architecture parameters), by `iters` power
// iterations with finite-difference Hessian-vector products (step r). Leaves net unchanged.
double hessian_eigenvalue(Supernet& net, const Tensor& x, const Tensor& y, int iters, uint64_t seed, double r = 1e-3);

// Mean cross-entropy and accuracy of net on data (eval mode, batches of 500).
std::pair<double, double> evaluate_supernet(Supernet& net, const SplitData& data);

}  // namespace ember::nas
