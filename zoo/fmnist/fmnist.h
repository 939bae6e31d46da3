// Fashion-MNIST classifiers: the W1 MLP and the W2 CNN of WORKLOADS.md, their training loop
// (Adam + cosine schedule with warm-up, seeded shuffling and flips, per-epoch evaluation, checkpoints that
// resume exactly) and evaluation of a saved checkpoint. `ember train fmnist` / `ember eval fmnist`
// are thin wrappers over train() and evaluate_checkpoint().
//
// A run folder (--out) holds:
//   model.safetensors        weights (+ metadata: model type, epoch, test accuracy); a link to the
//                            committed model.e<N>.safetensors
//   model.e<N>.safetensors, train_state.e<N>.safetensors
//                            weights and optimizer + scheduler state, epoch, metric history of
//                            epoch N (and N-1 as a fallback), committed together by
//   checkpoint.json          the manifest naming the last complete pair (zoo/common/checkpoint.h)
//   metrics.jsonl            one JSON object per epoch
//   curves.png               train/test loss and test accuracy against epoch (gnuplot)
//   predictions.png          64 test images captioned "predicted / true", green when right
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/fashion_mnist.h"
#include "nn/container.h"

namespace ember::zoo::fmnist {

enum class Arch { mlp, cnn };
Arch parse_arch(const std::string& name);  // "mlp" | "cnn", else a clear error
std::string arch_name(Arch arch);

// W1: Linear(784,256) ReLU Linear(256,256) ReLU Linear(256,10) over flattened images (269,322 params).
// W2: Conv(1,32,3,p1) ReLU MaxPool2 Conv(32,64,3,p1) ReLU MaxPool2 Flatten Linear(3136,128) ReLU
//     Linear(128,10) (421,642 params). Both take [N,1,28,28] in [0,1] and return [N,10] logits.
std::shared_ptr<nn::Sequential> make_model(Arch arch);

struct TrainConfig {
  Arch arch = Arch::cnn;
  // Unset: the model's default (cnn: 5 epochs of batch 64, peak lr 2e-3; mlp: 10 epochs of batch
  // 128, peak lr 1e-3).
  std::optional<int64_t> epochs, batch;
  std::optional<double> lr;
  uint64_t seed = 0;
  // Training-batch augmentation: "none", "flip" (random horizontal flip), "crop" (random 28x28
  // crop of the image padded by 2), "flip+crop". Keyed per sample by (seed, epoch, index).
  std::string augment = "flip";
  std::string out = "runs/fmnist";
  bool resume = false;    // continue from out/ when it holds a checkpoint
  bool overwrite = false;  // start a new run in an out/ that holds one (default: refuse, name --resume)
  int threads = 0;        // 0: all cores
  std::string data_dir;   // "" = data::FashionMnist::default_root()
  int64_t train_limit = 0, test_limit = 0;  // > 0: use only the first N images (smoke tests)
  int64_t stop_after = 0;  // > 0: stop after this many epochs of this run (continue with resume)
  bool progress = true;   // the updating progress line
  bool plots = true;      // curves.png and predictions.png
  bool distributed = false;  // one rank of `ember launch` (DDP over Gloo; rank 0 logs and saves)
  // A step whose loss is NaN/inf: false stops training with an error (the last checkpoint stays),
  // true skips the step (no backward, no update) and counts it.
  bool skip_nonfinite = false;
  std::function<void(std::string_view)> checkpoint_hook;  // tests: see zoo/common/checkpoint.h
  // Another model than W1/W2 (`ember train fmnist --genotype`: a NAS network), trained with the
  // same recipe and arch's defaults: built by model_factory, named model_name in the log, the resume
  // check and the checkpoint metadata (plus model_metadata). `ember eval fmnist` reads W1/W2 only.
  std::function<std::shared_ptr<nn::Sequential>()> model_factory;
  std::string model_name;
  std::map<std::string, std::string> model_metadata;
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, test_loss = 0, test_accuracy = 0;
  double lr = 0;        // at the end of the epoch
  double seconds = 0;   // training time of the epoch
  double examples_per_second = 0;
};

struct TrainResult {
  std::vector<EpochMetrics> history;  // every epoch of the run, including ones before a resume
  std::string checkpoint;             // path of model.safetensors
};

TrainResult train(const TrainConfig& config);

struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t correct = 0, total = 0;
  Tensor predictions;  // i64 [total]
};

// Mean cross-entropy and accuracy over the first `limit` (0 = all) images, in eval mode and
// batches of 1000 (the same batches during training and in `ember eval`, so the accuracy matches
// bit for bit).
EvalResult evaluate(nn::Module& model, const data::FashionMnist& test, int64_t limit = 0);

struct LoadedModel {
  Arch arch;
  std::shared_ptr<nn::Sequential> model;
  int64_t epoch = 0;
  std::optional<double> recorded_accuracy;  // what training measured when it saved the file
};
// Reads model.safetensors (architecture from its metadata); clear errors for other files.
LoadedModel load_checkpoint(const std::string& path);

}  // namespace ember::zoo::fmnist
