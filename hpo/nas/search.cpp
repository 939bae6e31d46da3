// The DARTS search loop and its indicators (search.h).
#include "hpo/nas/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/sgd.h"

namespace ember::nas {
using json = nlohmann::json;

namespace {

// Endless seeded batches of one split (reshuffled at every pass, the last short batch dropped).
class Batches {
 public:
  Batches(const SplitData& d, int64_t batch, uint64_t seed) : d_(d), batch_(std::min(batch, d.x.size(0))), rng_(seed) {
    order_.resize(size_t(d.x.size(0)));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    pos_ = static_cast<int64_t>(order_.size());
  }
  std::pair<Tensor, Tensor> next() {
    if (pos_ + batch_ > static_cast<int64_t>(order_.size())) {
      std::shuffle(order_.begin(), order_.end(), rng_);
      pos_ = 0;
    }
    const Tensor idx = Tensor::from_vector(std::vector<int64_t>(order_.begin() + pos_, order_.begin() + pos_ + batch_),
                                           {batch_}, {.dtype = DType::i64});
    pos_ += batch_;
    return {index_select(d_.x, 0, idx), index_select(d_.y, 0, idx)};
  }

 private:
  const SplitData& d_;
  int64_t batch_, pos_ = 0;
  std::vector<int64_t> order_;
  std::mt19937_64 rng_;
};

void set_requires_grad(const std::vector<Tensor>& ts, bool on) {
  for (Tensor t : ts) t.requires_grad_(on);
}
void drop_grads(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts) t.zero_grad();
}
std::vector<Tensor> grads_of(const std::vector<Tensor>& ts) {
  std::vector<Tensor> g;
  for (const Tensor& t : ts) g.push_back(t.grad().defined() ? t.grad().detach().clone() : Tensor::zeros(t.shape(), t.options()));
  return g;
}
std::vector<Tensor> clones(const std::vector<Tensor>& ts) {
  std::vector<Tensor> c;
  for (const Tensor& t : ts) c.push_back(t.detach().clone());
  return c;
}
// dst[i] = base[i] + s * dir[i] (in place, no autograd)
void set_to(const std::vector<Tensor>& dst, const std::vector<Tensor>& base, const std::vector<Tensor>& dir, double s) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < dst.size(); ++i) {
    Tensor d = dst[i];
    d.copy_(dir.empty() ? base[i] : add(base[i], mul(dir[i], s)));
  }
}
double norm_of(const std::vector<Tensor>& ts) {
  double s = 0;
  for (const Tensor& t : ts) s += sum(square(t.to(DType::f64))).item();
  return std::sqrt(s);
}

Tensor arch_loss(Supernet& net, const Tensor& x, const Tensor& y, const SearchOptions& o) {
  Tensor loss = cross_entropy(net.forward(x), y);
  if (o.latency && o.latency_weight > 0) loss = add(loss, mul(expected_latency(net, *o.latency), o.latency_weight));
  return loss;
}

// The architecture gradient into arch .grad (first or second order); returns the val loss.
double arch_step(Supernet& net, const std::vector<Tensor>& weights, const std::vector<Tensor>& arch,
                 const std::pair<Tensor, Tensor>& val, const std::pair<Tensor, Tensor>& trn, const SearchOptions& o,
                 double xi) {
  if (!o.second_order) {
    set_requires_grad(weights, false);
    drop_grads(arch);
    Tensor loss = arch_loss(net, val.first, val.second, o);
    loss.backward();
    set_requires_grad(weights, true);
    return loss.item();
  }
  const std::vector<Tensor> w0 = clones(weights);
  // unrolled weights w' = w - xi (grad L_train + wd w)
  set_requires_grad(arch, false);
  drop_grads(weights);
  cross_entropy(net.forward(trn.first), trn.second).backward();
  {
    NoGradGuard no_grad;
    const std::vector<Tensor> g = grads_of(weights);
    for (size_t i = 0; i < weights.size(); ++i) {
      Tensor w = weights[i];
      w.copy_(sub(w0[i], mul(add(g[i], mul(w0[i], o.w_weight_decay)), xi)));
    }
  }
  set_requires_grad(arch, true);
  drop_grads(weights);
  drop_grads(arch);
  Tensor loss = arch_loss(net, val.first, val.second, o);
  loss.backward();
  const std::vector<Tensor> d_alpha = grads_of(arch), d_w = grads_of(weights);
  const double eps = 0.01 / std::max(norm_of(d_w), 1e-12);
  set_requires_grad(weights, false);
  std::vector<Tensor> g_at[2];
  for (int side = 0; side < 2; ++side) {
    set_to(weights, w0, d_w, side == 0 ? eps : -eps);
    drop_grads(arch);
    cross_entropy(net.forward(trn.first), trn.second).backward();
    g_at[side] = grads_of(arch);
  }
  set_to(weights, w0, {}, 0);
  set_requires_grad(weights, true);
  drop_grads(weights);
  for (size_t i = 0; i < arch.size(); ++i)
    arch[i].set_grad(sub(d_alpha[i], mul(sub(g_at[0][i], g_at[1][i]), xi / (2 * eps))).detach());
  return loss.item();
}

std::vector<double> flat(const Tensor& t) { return t.defined() ? t.contiguous().to_vector<double>() : std::vector<double>{}; }

}  // namespace

json SearchEpoch::to_json() const {
  return {{"epoch", epoch},
          {"train_loss", train_loss},
          {"val_loss", val_loss},
          {"val_accuracy", val_accuracy},
          {"hessian_eigenvalue", std::isnan(hessian_eigenvalue) ? json(nullptr) : json(hessian_eigenvalue)},
          {"expected_latency_ms", expected_latency_ms},
          {"aux_skip", aux_skip},
          {"seconds", seconds},
          {"parameter_free_ops", parameter_free_ops},
          {"genotype", genotype.to_json()}};
}

std::pair<double, double> evaluate_supernet(Supernet& net, const SplitData& data) {
  const bool was_training = net.is_training();
  net.eval();
  NoGradGuard no_grad;
  double loss = 0, correct = 0;
  const int64_t n = data.x.size(0);
  for (int64_t s = 0; s < n; s += 500) {
    const int64_t len = std::min<int64_t>(500, n - s);
    const Tensor logits = net.forward(narrow(data.x, 0, s, len)), y = narrow(data.y, 0, s, len);
    loss += cross_entropy(logits, y, {.reduction = Reduction::sum}).item();
    correct += sum(eq(argmax(logits, 1), y)).item();
  }
  net.train(was_training);
  return {n ? loss / double(n) : 0, n ? correct / double(n) : 0};
}

std::vector<Tensor> hessian_vector_product(Supernet& net, const Tensor& x, const Tensor& y, const std::vector<Tensor>& v,
                                          double r) {
  const std::vector<Tensor> arch = net.arch_parameters(), weights = net.parameters(), a0 = clones(arch);
  EMBER_CHECK(v.size() == arch.size(), "nas hessian: {} direction tensors for {} architecture parameters", v.size(),
              arch.size());
  set_requires_grad(weights, false);
  auto grad_at = [&](double s) {
    set_to(arch, a0, v, s);
    drop_grads(arch);
    cross_entropy(net.forward(x), y).backward();
    return grads_of(arch);
  };
  const std::vector<Tensor> gp = grad_at(r), gm = grad_at(-r);
  set_to(arch, a0, {}, 0);
  drop_grads(arch);
  set_requires_grad(weights, true);
  std::vector<Tensor> hv;
  for (size_t i = 0; i < v.size(); ++i) hv.push_back(mul(sub(gp[i], gm[i]), 1.0 / (2 * r)));
  return hv;
}

double hessian_eigenvalue(Supernet& net, const Tensor& x, const Tensor& y, int iters, uint64_t seed, double r) {
  Generator gen(seed);
  std::vector<Tensor> v;
  for (const Tensor& a : net.arch_parameters()) v.push_back(Tensor::randn(a.shape(), a.options(), &gen));
  double lambda = 0;
  for (int it = 0; it < iters; ++it) {
    const double nv = norm_of(v);
    for (Tensor& t : v) t = mul(t, 1.0 / nv);
    const std::vector<Tensor> hv = hessian_vector_product(net, x, y, v, r);
    double dot = 0;
    for (size_t i = 0; i < v.size(); ++i) dot += sum(mul(hv[i], v[i]).to(DType::f64)).item();
    lambda = dot;  // the Rayleigh quotient v.Hv with |v| = 1
    if (norm_of(hv) == 0) break;
    v = hv;
  }
  return lambda;
}

std::vector<SearchEpoch> search(Supernet& net, const SplitData& train, const SplitData& val, const SearchOptions& o,
                                const SearchStepFn& on_step, const SearchEpochFn& on_epoch) {
  EMBER_CHECK(o.epochs >= 1 && o.batch >= 1, "nas search: epochs ({}) and batch ({}) must be >= 1", o.epochs, o.batch);
  EMBER_CHECK(train.x.defined() && val.x.defined() && train.x.size(0) > 0 && val.x.size(0) > 0,
              "nas search: the train and validation splits must not be empty");
  EMBER_CHECK(o.latency_weight == 0 || o.latency, "nas search: a latency weight needs a latency table");
  const std::vector<Tensor> weights = net.parameters(), arch = net.arch_parameters();
  nn::SGD w_opt(weights, {.lr = o.w_lr, .momentum = o.w_momentum, .weight_decay = o.w_weight_decay});
  nn::Adam a_opt(arch, {.lr = o.a_lr, .beta1 = 0.5, .beta2 = 0.999, .weight_decay = o.a_weight_decay});
  Batches trn(train, o.batch, o.seed), vb(val, o.batch, o.seed + 1);
  const std::pair<Tensor, Tensor> probe = {narrow(val.x, 0, 0, std::min<int64_t>(o.batch, val.x.size(0))),
                                           narrow(val.y, 0, 0, std::min<int64_t>(o.batch, val.y.size(0)))};
  const int64_t steps = std::max<int64_t>(1, train.x.size(0) / std::min(o.batch, train.x.size(0)));
  std::vector<SearchEpoch> history;
  net.train();
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = o.w_lr_min + 0.5 * (o.w_lr - o.w_lr_min) * (1 + std::cos(M_PI * double(epoch) / double(o.epochs)));
    w_opt.set_lr(lr);
    double train_sum = 0, val_sum = 0;
    int64_t val_steps = 0;
    for (int64_t step = 0; step < steps; ++step) {
      net.aux_skip = o.aux_skip * std::max(0.0, 1.0 - (double(epoch) + double(step) / double(steps)) / double(o.epochs));
      const auto tb = trn.next();
      if (epoch >= o.warmup_epochs) {
        val_sum += arch_step(net, weights, arch, vb.next(), tb, o, lr);
        ++val_steps;
        a_opt.step();
        drop_grads(arch);
      }
      set_requires_grad(arch, false);
      w_opt.zero_grad();
      Tensor loss = cross_entropy(net.forward(tb.first), tb.second);
      EMBER_CHECK(std::isfinite(loss.item()), "nas search: non-finite training loss at epoch {} step {}", epoch + 1,
                  step + 1);
      loss.backward();
      set_requires_grad(arch, true);
      if (o.grad_clip > 0) nn::clip_grad_norm_(weights, o.grad_clip);
      w_opt.step();
      train_sum += loss.item();
      if (on_step)
        on_step(step + 1, steps,
                fmt::format("train {:.3f} | val {:.3f}", train_sum / double(step + 1),
                            val_steps ? val_sum / double(val_steps) : std::nan("")));
    }
    SearchEpoch r;
    r.epoch = epoch + 1;
    r.train_loss = train_sum / double(steps);
    std::tie(r.val_loss, r.val_accuracy) = evaluate_supernet(net, val);
    r.aux_skip = net.aux_skip;
    r.hessian_eigenvalue = o.hessian_iters > 0 ? hessian_eigenvalue(net, probe.first, probe.second, o.hessian_iters,
                                                                     o.seed + 7 + uint64_t(epoch))
                                               : std::numeric_limits<double>::quiet_NaN();
    if (o.latency) {
      NoGradGuard no_grad;
      r.expected_latency_ms = expected_latency(net, *o.latency).item();
    }
    r.genotype = net.genotype();
    r.parameter_free_ops = parameter_free_ops(r.genotype);
    const CellWeights wn = net.weights(false), wr = net.weights(true);
    r.op_normal = flat(wn.op_weight);
    r.op_reduce = flat(wr.op_weight);
    r.edge_normal = wn.edge_weight.defined() ? flat(wn.edge_weight) : std::vector<double>(size_t(net.num_edges()), 1.0);
    r.edge_reduce = wr.edge_weight.defined() ? flat(wr.edge_weight) : std::vector<double>(size_t(net.num_edges()), 1.0);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    history.push_back(r);
    if (on_epoch) on_epoch(r);
  }
  return history;
}

}  // namespace ember::nas
