// DataLoader: batches of a Dataset in (optionally shuffled) order, with an optional batch
// transform, prepared one step ahead on a background thread.
//
//   auto train = std::make_shared<data::FashionMnist>(data::Split::train);
//   data::DataLoader loader(train, {.batch_size = 128, .shuffle = true, .seed = 1});
//   for (int64_t e = 0; e < epochs; ++e) {
//     loader.set_epoch(e);
//     for (data::Batch& b : loader) { ... b.input [128,1,28,28], b.target [128] ... }
//   }
//
// Determinism: the order of epoch e is a pure function of (seed, e), and the transform's random
// key of each sample is sample_key(seed, e, dataset index) (transforms.h). So a run is
// reproducible from its seed regardless of prefetching, batch timing or thread count.
// Errors raised while preparing a batch (in the dataset or the transform, on either thread)
// are rethrown to the loop that asks for that batch. Leaving the loop early (break, exception)
// stops and joins the background thread.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace ember::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;  // drop the final short batch
  uint64_t seed = 0;       // shuffle order and transform randomness
  bool prefetch = true;    // prepare the next batch on a background thread
  Transform transform{};   // applied to Batch::input; empty = none
};

class DataLoader {
 public:
  class Iterator;

  // Throws if dataset is null or batch_size < 1.
  explicit DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

  // Batches per epoch: ceil(size / batch_size), or floor with drop_last.
  int64_t size() const;
  // The epoch the next pass (begin()) uses. Each begin() then advances it by one, so a loop
  // that never calls set_epoch still sees epochs 0, 1, 2, ...
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }

  // Dataset indices in the visiting order of `epoch` (0..n-1 when shuffle is off).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Batch `index` of `epoch`, built on the calling thread (the iterator builds the same batches).
  Batch batch(int64_t epoch, int64_t index) const;

  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }

  // One pass over the epoch set_epoch chose; the pass owns its prefetch thread.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
};

// A single-pass input iterator; move-only (it owns the pass and its thread).
class DataLoader::Iterator {
 public:
  using value_type = Batch;
  using difference_type = std::ptrdiff_t;

  Iterator(Iterator&&) noexcept;
  Iterator& operator=(Iterator&&) noexcept;
  ~Iterator();

  Batch& operator*() const;
  Batch* operator->() const { return &**this; }
  Iterator& operator++();  // rethrows an error raised while preparing the next batch
  bool operator==(std::default_sentinel_t) const;
  int64_t index() const;  // number of the current batch within the epoch

 private:
  friend class DataLoader;
  struct Pass;
  explicit Iterator(std::unique_ptr<Pass> pass);
  std::unique_ptr<Pass> pass_;
};

}  // namespace ember::data
