// The Llama LM (zoo/lm) as an hpo::Trainable (`ember tune lm`): lr, warm-up, width, depth, batch,
// context, tokens (bytes, or a 1024-token BPE learned on the training split) and dropout are tuned; a trial trains max_resource rounds of `steps` optimizer
// steps (AdamW, cosine with warm-up, clip 1.0) on random windows of the training split and reports
// the validation bits per byte after each round (the pruners' resource). The test split's
// bpc is measured once, for the best configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hpo/trainable.h"

namespace ember::zoo::lm {

struct TuneConfig {
  std::string data_file{};      // "": the KJV text (`ember data kjv`)
  int64_t steps = 100;          // optimizer steps per round (one report)
  int64_t val_bytes = 32768;    // validation bytes scored per report (0: the whole split)
  int64_t test_bytes = 0;       // test bytes scored at the end (0: the whole split)
  uint64_t seed = 0;
};

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config);

}  // namespace ember::zoo::lm
