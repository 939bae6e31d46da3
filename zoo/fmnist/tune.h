// Fashion-MNIST as an hpo::Trainable (`ember tune fmnist`): a CNN of one of two families (below;
// every member stays under 1M parameters) trained with AdamW, tuned over the family, lr, weight
// decay, batch, width, dropout, augmentation and the lr schedule, with epochs as the pruners'
// resource. Validation is a fixed 5,000-image split (the last 5,000 training images); the test set
// is read once, for the best configuration: through the best trial's kept model
// (RunResult::measure_test), or by retraining it (RunContext::measure_test).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hpo/trainable.h"
#include "nn/container.h"

namespace ember::zoo::fmnist {

struct TuneConfig {
  std::string data_dir{};      // "" = data::FashionMnist::default_root()
  int64_t train_limit = 0;     // > 0: train on the first N of the 55,000 training images (faster trials)
  int64_t val_size = 5000;     // the last val_size training images
  int64_t test_limit = 0;      // > 0: the first N test images (tests)
  uint64_t seed = 0;           // initialization, shuffling and augmentation (the same for every trial)
};

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config);

// The tuned model, width w (16..48):
//   "w2":  conv3x3(1->w) ReLU pool, conv3x3(w->2w) ReLU pool, dropout, linear 2w*49->4w, ReLU,
//          dropout, linear ->10 (w = 32 is WORKLOADS.md's W2; 0.95M parameters at w = 48);
//   "vgg": [conv3x3 BatchNorm ReLU] x2 at w, pool, [conv3x3 BatchNorm ReLU] x2 at 2w, pool,
//          dropout, linear 2w*49->2w, ReLU, dropout, linear ->10 (0.60M at w = 48).
std::shared_ptr<nn::Sequential> make_tuned_cnn(const std::string& arch, int64_t width, double dropout);

}  // namespace ember::zoo::fmnist
