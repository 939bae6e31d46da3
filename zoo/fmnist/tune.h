// Fashion-MNIST as an hpo::Trainable (`ember tune fmnist`): a CNN of the W2 family (width w: conv
// w and 2w channels, a 4w hidden layer; w = 32 is W2, every width stays under 1M parameters)
// trained with AdamW, tuned over lr, weight decay, batch, width, dropout, augmentation and the lr
// schedule, with epochs as the pruners' resource. Validation is a fixed 5,000-image split (the
// last 5,000 training images); the test set is read only when the tuner measures the best
// configuration once (RunContext::measure_test).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hpo/trainable.h"

namespace ember::zoo::fmnist {

struct TuneConfig {
  std::string data_dir{};      // "" = data::FashionMnist::default_root()
  int64_t train_limit = 0;     // > 0: train on the first N of the 55,000 training images (faster trials)
  int64_t val_size = 5000;     // the last val_size training images
  int64_t test_limit = 0;      // > 0: the first N test images (tests)
  uint64_t seed = 0;           // initialization, shuffling and augmentation (the same for every trial)
};

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config);

}  // namespace ember::zoo::fmnist
