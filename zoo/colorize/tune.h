// OpenMoji colorization (zoo/colorize) as an hpo::Trainable (`ember tune colorize`): the U-Net's
// lr, width, loss (l1 | l1+ssim) and hints (none | random hint channels) are tuned, epochs are the
// resource; the study sees the validation split's L1 without hints (comparable across the hints
// choice), and the test split's L1 is measured once for the best configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hpo/trainable.h"

namespace ember::zoo::colorize {

struct TuneConfig {
  std::string data_root{};   // "" = default_data_root() (`ember data openmoji`)
  int size = 64;
  int64_t train_limit = 0;   // > 0: the first N training pairs
  int64_t val_limit = 0;     // > 0: the first N validation pairs
  uint64_t seed = 0;
};

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config);

}  // namespace ember::zoo::colorize
