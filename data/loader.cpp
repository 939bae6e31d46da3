// DataLoader (see loader.h). A pass owns the epoch's order and, with prefetch, one worker thread
// that builds batches 0..B-1 in order into a queue of at most kQueueDepth ready batches; the
// consumer pops them. Each queue slot carries either a batch or the exception that building it
// raised; the worker stops after an error. The pass's destructor sets `stop`, wakes the worker
// and joins it, so breaking out of a loop never leaves a thread behind or blocked.
#include "data/loader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "autograd/grad_mode.h"
#include "tensor/generator.h"

namespace ember::data {
namespace {
constexpr size_t kQueueDepth = 2;  // ready batches waiting beside the one being consumed
}  // namespace

// ---- the loader ----------------------------------------------------------------------------

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  EMBER_CHECK(dataset_ != nullptr, "DataLoader: dataset is null");
  EMBER_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got {}", options_.batch_size);
}

int64_t DataLoader::size() const {
  const int64_t n = dataset_->size(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

// Fisher-Yates driven by Philox: step i draws j uniform in [0, i] from counter block i under a
// key hashed from (seed, epoch). 64-bit draws and a multiply-shift keep the bias below 2^-40
// for any realistic dataset size.
std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(size_t(dataset_->size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (!options_.shuffle) return order;
  const uint64_t key = sample_key(options_.seed, epoch, -1);  // index -1: no sample uses it
  for (int64_t i = int64_t(order.size()) - 1; i > 0; --i) {
    auto r = philox4x32(key, uint64_t(i));
    const uint64_t bits = (uint64_t(r[0]) << 32) | r[1];
    const auto j = int64_t((static_cast<unsigned __int128>(bits) * uint64_t(i + 1)) >> 64);
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  return order;
}

namespace {
// Batch `index` given the epoch's order; shared by DataLoader::batch and the pass.
Batch build_batch(const Dataset& dataset, const DataLoaderOptions& opts, const std::vector<int64_t>& order,
                  int64_t epoch, int64_t index) {
  const int64_t n = int64_t(order.size()), begin = index * opts.batch_size;
  const int64_t end = std::min(n, begin + opts.batch_size);
  EMBER_CHECK(begin < end, "DataLoader: batch {} is out of range ({} samples, batch_size {})", index, n,
              opts.batch_size);
  std::vector<int64_t> indices(order.begin() + begin, order.begin() + end);
  NoGradGuard no_grad;  // grad mode is per thread: the worker needs its own guard
  Batch b = dataset.get_batch(indices);
  if (opts.transform) {
    std::vector<uint64_t> keys(indices.size());
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = sample_key(opts.seed, epoch, indices[i]);
    b.input = opts.transform(b.input, keys);
  }
  return b;
}
}  // namespace

Batch DataLoader::batch(int64_t epoch, int64_t index) const {
  EMBER_CHECK(index >= 0 && index < size(), "DataLoader: batch {} is out of range (epoch has {} batches)", index,
              size());
  return build_batch(*dataset_, options_, epoch_order(epoch), epoch, index);
}

// ---- one pass -------------------------------------------------------------------------------

struct DataLoader::Iterator::Pass {
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  std::shared_ptr<const Dataset> dataset;  // kept alive for the worker
  DataLoaderOptions opts;
  std::vector<int64_t> order;
  int64_t epoch = 0, num_batches = 0;
  int64_t current = 0;  // index of `batch`; == num_batches at the end
  Batch batch;

  // Prefetch state, guarded by mu.
  std::mutex mu;
  std::condition_variable ready, space;
  std::deque<Slot> queue;
  bool stop = false;
  std::thread worker;

  Slot make(int64_t index) {
    Slot s;
    try {
      s.batch = build_batch(*dataset, opts, order, epoch, index);
    } catch (...) {
      s.error = std::current_exception();
    }
    return s;
  }

  void work() {
    for (int64_t b = 0; b < num_batches; ++b) {
      {
        std::unique_lock lock(mu);
        space.wait(lock, [&] { return stop || queue.size() < kQueueDepth; });
        if (stop) return;
      }
      Slot s = make(b);
      const bool failed = s.error != nullptr;
      {
        std::lock_guard lock(mu);
        queue.push_back(std::move(s));
      }
      ready.notify_one();
      if (failed) return;
    }
  }

  // Loads batch `index` into `batch` (from the queue with prefetch); rethrows its error.
  void load(int64_t index) {
    Slot s;
    if (opts.prefetch) {
      {
        std::unique_lock lock(mu);
        ready.wait(lock, [&] { return !queue.empty(); });
        s = std::move(queue.front());
        queue.pop_front();
      }
      space.notify_one();
    } else {
      s = make(index);
    }
    if (s.error) {
      current = num_batches;  // the pass is over
      batch = {};
      std::rethrow_exception(s.error);
    }
    batch = std::move(s.batch);
  }

  ~Pass() {
    if (!worker.joinable()) return;
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    space.notify_all();
    worker.join();
  }
};

DataLoader::Iterator DataLoader::begin() {
  auto pass = std::make_unique<Iterator::Pass>();
  pass->dataset = dataset_;
  pass->opts = options_;
  pass->epoch = epoch_++;
  pass->order = epoch_order(pass->epoch);
  pass->num_batches = size();
  if (pass->num_batches > 0) {
    if (pass->opts.prefetch) pass->worker = std::thread([p = pass.get()] { p->work(); });
    pass->load(0);  // on error the pass (and its thread) is cleaned up as the exception leaves
  }
  return Iterator(std::move(pass));
}

// ---- the iterator ---------------------------------------------------------------------------

DataLoader::Iterator::Iterator(std::unique_ptr<Pass> pass) : pass_(std::move(pass)) {}
DataLoader::Iterator::Iterator(Iterator&&) noexcept = default;
DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&&) noexcept = default;
DataLoader::Iterator::~Iterator() = default;

Batch& DataLoader::Iterator::operator*() const {
  EMBER_CHECK(pass_ && pass_->current < pass_->num_batches, "DataLoader: dereferencing an iterator at the end");
  return pass_->batch;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  EMBER_CHECK(pass_ && pass_->current < pass_->num_batches, "DataLoader: advancing an iterator past the end");
  if (++pass_->current < pass_->num_batches) {
    pass_->load(pass_->current);
  } else {
    pass_->batch = {};
  }
  return *this;
}

bool DataLoader::Iterator::operator==(std::default_sentinel_t) const {
  return !pass_ || pass_->current >= pass_->num_batches;
}

int64_t DataLoader::Iterator::index() const { return pass_ ? pass_->current : 0; }

}  // namespace ember::data
