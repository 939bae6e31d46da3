// Shared pieces of the whole-step workload benches (WORKLOADS.md W1-W6): the splitmix64 input
// streams, PyTorch-default parameter init, the Fashion-MNIST batches and the step timer. Models are
// written functionally with autograd/ops.h, one line per WORKLOADS.md layer; the optimizer is
// nn::Adam / nn::AdamW (fused backend kernel, or the composite path with --composite-adam).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/optim/adam.h"

namespace ember::bench {

// Element k of the splitmix64 stream with seed s (WORKLOADS.md "Shared definitions").
inline uint64_t splitmix64(uint64_t s, uint64_t k) {
  uint64_t z = s + (k + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
Tensor uniform_stream(uint64_t seed, const Shape& shape);  // f32 in [0, 1)
Tensor bytes_stream(uint64_t seed, const Shape& shape);    // i64 in [0, 256)

// A trainable parameter list with Adam state.
struct Params {
  std::vector<Tensor> list;
  Tensor add(Tensor t);  // marks requires_grad, returns t
  int64_t count() const;
  void zero_grad();  // PyTorch 1.13 default: existing gradients are zero-filled
};

// PyTorch-default inits: weights (kaiming_uniform a=sqrt(5)) and biases both U(-1/sqrt(fan_in), +).
Tensor init_uniform(const Shape& shape, int64_t fan_in, Generator& g);

// Fashion-MNIST training split: the first n images as f32 [n, 1, 28, 28] / 255 and labels i64 [n].
struct Mnist {
  Tensor images, labels;
};
Mnist load_fashion_mnist(int64_t n);  // through data::FashionMnist (its default folder)

// Timing of one workload: per-step wall milliseconds plus allocator figures over the timed steps.
struct StepStats {
  std::vector<double> ms;
  std::vector<double> cpu_ms;  // process CPU time per step (all threads): on a shared machine, the
                               // 1-thread figure is what the step would take with a core to itself
  double peak_mb = 0;  // allocator peak during the timed steps above what was live before them
  double system_allocs_per_step = 0;
  double quantile(double q) const;  // q in [0, 1] over ms, linear interpolation
  double mean() const;
};
// Runs warmup + timed calls of step(i) (i counts from 0 over all calls), timing each timed call.
double quantile_of(std::vector<double> v, double q);
StepStats time_steps(int warmup, int timed, const std::function<void(int)>& step);
// One row: name, ours (median), min/p10/p90/max/mean, reference ms and ratio ref/ours when ref > 0.
void print_row(const std::string& name, const StepStats& s, double ref_ms, const std::string& unit = "ms");
void print_header();

}  // namespace ember::bench
