// Batch transforms for image data: x [N, C, H, W] (f32 or f64), applied to whole batches.
//
// Randomness is keyed per sample: keys[i] (one u64 per sample of the batch) fully decides the
// random choices for sample i, through Philox (tensor/generator.h). The DataLoader passes
// keys[i] = sample_key(seed, epoch, dataset index), so an augmented epoch is a pure function of
// (seed, epoch), whatever the batch size, thread count or prefetching. Transforms are plain
// aggregates with a call operator; any of them converts to `Transform`:
//   Transform t = Compose{{RandomCrop{.size = 28, .padding = 2}, RandomHorizontalFlip{.p = 0.5},
//                          Normalize{.mean = {0.286}, .std = {0.353}}}};
// Each returns a new contiguous tensor (the input is never modified) and throws ember::Error
// naming the transform and the shape on bad input.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tensor/tensor.h"

namespace ember::data {

// x [N, C, H, W], keys.size() == N (transforms without randomness accept empty keys).
using Transform = std::function<Tensor(const Tensor& x, std::span<const uint64_t> keys)>;

// The random key of dataset sample `index` in epoch `epoch` (a splitmix64 hash chain).
uint64_t sample_key(uint64_t seed, int64_t epoch, int64_t index);

// (x - mean[c]) / std[c] per channel; mean/std hold C values, or one value for every channel.
// Works on any x [N, C, ...].
struct Normalize {
  std::vector<double> mean{}, std{};
  Tensor operator()(const Tensor& x, std::span<const uint64_t> keys = {}) const;
};

// Zero-pads each side by `padding`, then takes a size x size window at a random offset
// (top, left uniform in [0, H + 2*padding - size]): [N,C,H,W] -> [N,C,size,size].
struct RandomCrop {
  int64_t size = 0;
  int64_t padding = 0;
  Tensor operator()(const Tensor& x, std::span<const uint64_t> keys) const;
};

// Mirrors each sample left-right with probability p.
struct RandomHorizontalFlip {
  double p = 0.5;
  Tensor operator()(const Tensor& x, std::span<const uint64_t> keys) const;
};

// Runs the stages in order; stage j sees keys derived from (keys[i], j), so two random stages
// never share their draws.
struct Compose {
  std::vector<Transform> stages{};
  Tensor operator()(const Tensor& x, std::span<const uint64_t> keys) const;
};

// Applies t to x [N,...] with keys[i] = sample_key(seed, 0, i): for use outside a DataLoader.
Tensor apply_transform(const Transform& t, const Tensor& x, uint64_t seed = 0);

}  // namespace ember::data
