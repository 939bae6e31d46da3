// TensorDataset and DataLoader: batch contents and counts, shuffle determinism as a function of
// (seed, epoch), equality of prefetched and synchronous passes (also for random transforms and
// across thread counts), worker errors rethrown at the right batch, and early exits that must
// neither deadlock nor leak (the sanitized build runs these too).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "data/loader.h"
#include "tests/common/expect_close.h"

namespace ember::data {
namespace {

using test::throws_with;

// n samples: input row i = [i, i + 0.5], target i.
std::shared_ptr<TensorDataset> counting(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.push_back(float(i));
    x.push_back(float(i) + 0.5f);
    y.push_back(i);
  }
  return std::make_shared<TensorDataset>(Tensor::from_vector(x, {n, 2}), Tensor::from_vector(y, {n}, {.dtype = DType::i64}));
}

// n images [1, 4, 4] whose pixels are (i * 16 + k) / 1000, target i.
std::shared_ptr<TensorDataset> images(int64_t n) {
  Tensor x = Tensor::arange(0, double(n * 16)).reshape({n, 1, 4, 4}) / 1000.0;
  return std::make_shared<TensorDataset>(x, Tensor::arange(0, double(n), 1, {.dtype = DType::i64}));
}

// All targets of one pass, batch by batch.
std::vector<std::vector<int64_t>> pass_targets(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (Batch& b : loader) out.push_back(b.target.to_vector<int64_t>());
  return out;
}

TEST(TensorDataset, GatherAndErrors) {
  auto ds = counting(5);
  EXPECT_EQ(ds->size(), 5);
  Batch b = ds->get_batch({3, 0, 3});
  EXPECT_EQ(b.input.shape(), (Shape{3, 2}));
  EXPECT_EQ(b.input.to_vector<float>(), (std::vector<float>{3, 3.5, 0, 0.5, 3, 3.5}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{3, 0, 3}));
  EXPECT_TRUE(throws_with([&] { ds->get_batch({1, 5}); }, {"TensorDataset: index 5 is out of range for 5 samples"}));
  EXPECT_TRUE(throws_with([] { TensorDataset(Tensor::zeros({4, 2}), Tensor::zeros({3})); },
                          {"TensorDataset", "[4,2]", "[3]"}));
  // A non-contiguous input view gathers the logical rows.
  Tensor t = Tensor::arange(0, 6).reshape({2, 3}).t();  // [3,2]: rows (0,3) (1,4) (2,5)
  TensorDataset tds(t, Tensor::zeros({3}));
  EXPECT_EQ(tds.get_batch({2}).input.to_vector<float>(), (std::vector<float>{2, 5}));
}

TEST(DataLoader, SequentialBatchesAndCounts) {
  auto ds = counting(10);
  for (bool prefetch : {true, false}) {
    DataLoader keep(ds, {.batch_size = 3, .prefetch = prefetch});
    EXPECT_EQ(keep.size(), 4);
    auto t = pass_targets(keep);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[0], (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(t[3], (std::vector<int64_t>{9}));
    DataLoader drop(ds, {.batch_size = 3, .drop_last = true, .prefetch = prefetch});
    EXPECT_EQ(drop.size(), 3);
    t = pass_targets(drop);
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[2], (std::vector<int64_t>{6, 7, 8}));
  }
  // Inputs travel with their targets.
  DataLoader loader(ds, {.batch_size = 4});
  auto it = loader.begin();
  EXPECT_EQ(it.index(), 0);
  EXPECT_EQ(it->input.to_vector<float>(), (std::vector<float>{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}));
  // Batch larger than the dataset, drop_last: no batches at all.
  DataLoader none(ds, {.batch_size = 11, .drop_last = true});
  EXPECT_EQ(none.size(), 0);
  EXPECT_TRUE(pass_targets(none).empty());
  EXPECT_TRUE(throws_with([&] { DataLoader(ds, {.batch_size = 0}); }, {"batch_size must be >= 1, got 0"}));
  EXPECT_TRUE(throws_with([] { DataLoader(nullptr); }, {"dataset is null"}));
}

TEST(DataLoader, ShuffleIsAPermutationPerSeedAndEpoch) {
  auto ds = counting(100);
  DataLoader a(ds, {.batch_size = 7, .shuffle = true, .seed = 42});
  auto order0 = a.epoch_order(0), order1 = a.epoch_order(1);
  std::vector<int64_t> sorted = order0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(sorted[size_t(i)], i);
  EXPECT_NE(order0, order1);
  int64_t fixed_points = 0;
  for (int64_t i = 0; i < 100; ++i) fixed_points += order0[size_t(i)] == i;
  EXPECT_LT(fixed_points, 10);  // a shuffle, not the identity (expected about 1)
  DataLoader b(ds, {.batch_size = 5, .shuffle = true, .seed = 42});
  EXPECT_EQ(b.epoch_order(1), order1);  // independent of batch size
  DataLoader c(ds, {.batch_size = 7, .shuffle = true, .seed = 43});
  EXPECT_NE(c.epoch_order(0), order0);

  // The pass visits epoch_order in batches; set_epoch picks the epoch; begin() advances it.
  a.set_epoch(1);
  auto t = pass_targets(a);
  std::vector<int64_t> flat;
  for (auto& v : t) flat.insert(flat.end(), v.begin(), v.end());
  EXPECT_EQ(flat, order1);
  EXPECT_EQ(a.epoch(), 2);
  flat.clear();
  for (auto& v : pass_targets(a)) flat.insert(flat.end(), v.begin(), v.end());
  EXPECT_EQ(flat, a.epoch_order(2));
  a.set_epoch(1);
  EXPECT_EQ(pass_targets(a), t);
}

Transform augment() {
  return Compose{{RandomCrop{.size = 4, .padding = 1}, RandomHorizontalFlip{.p = 0.5},
                  Normalize{.mean = {0.1}, .std = {0.5}}}};
}

TEST(DataLoader, PrefetchThreadsAndBatchSizeDoNotChangeResults) {
  auto ds = images(37);
  auto collect = [&](bool prefetch, int64_t batch_size, int threads) {
    set_num_threads(threads);
    DataLoader loader(ds, {.batch_size = batch_size, .shuffle = true, .seed = 7, .prefetch = prefetch,
                           .transform = augment()});
    loader.set_epoch(3);
    std::map<int64_t, std::vector<float>> per_sample;  // dataset index -> transformed pixels
    for (Batch& b : loader) {
      auto tg = b.target.to_vector<int64_t>();
      for (size_t i = 0; i < tg.size(); ++i) per_sample[tg[i]] = b.input.select(0, int64_t(i)).to_vector<float>();
    }
    return per_sample;
  };
  const int threads = get_num_threads();
  auto ref = collect(false, 5, 1);
  ASSERT_EQ(ref.size(), 37u);
  EXPECT_EQ(collect(true, 5, 2), ref);
  EXPECT_EQ(collect(true, 8, 1), ref);   // per-sample keys: batch boundaries do not matter
  EXPECT_EQ(collect(false, 37, 2), ref);
  set_num_threads(threads);
  // The augmentation did something, and another epoch differs.
  DataLoader plain(ds, {.batch_size = 37});
  Batch raw = *plain.begin();
  int64_t changed = 0;
  Tensor normalized = Normalize{.mean = {0.1}, .std = {0.5}}(raw.input);
  for (auto& [i, px] : ref) changed += px != normalized.select(0, i).to_vector<float>();
  EXPECT_GT(changed, 20);
  DataLoader other(ds, {.batch_size = 37, .shuffle = true, .seed = 7, .transform = augment()});
  other.set_epoch(4);
  Batch b4 = *other.begin();
  int64_t same = 0;
  auto tg = b4.target.to_vector<int64_t>();
  for (size_t i = 0; i < tg.size(); ++i) same += b4.input.select(0, int64_t(i)).to_vector<float>() == ref[tg[i]];
  EXPECT_LT(same, 20);
  // DataLoader::batch builds the same batch on the calling thread.
  DataLoader sync(ds, {.batch_size = 5, .shuffle = true, .seed = 7, .transform = augment()});
  Batch b2 = sync.batch(3, 2);
  auto tg2 = b2.target.to_vector<int64_t>();
  for (size_t i = 0; i < tg2.size(); ++i) EXPECT_EQ(b2.input.select(0, int64_t(i)).to_vector<float>(), ref[tg2[i]]);
}

// Throws on any batch that contains sample `bad`; counts calls.
class FailingDataset : public Dataset {
 public:
  FailingDataset(int64_t n, int64_t bad) : inner_(counting(n)), bad_(bad) {}
  int64_t size() const override { return inner_->size(); }
  Batch get_batch(const std::vector<int64_t>& indices) const override {
    ++calls;
    for (int64_t i : indices) EMBER_CHECK(i != bad_, "FailingDataset: sample {} is unreadable", i);
    return inner_->get_batch(indices);
  }
  mutable std::atomic<int> calls{0};

 private:
  std::shared_ptr<TensorDataset> inner_;
  int64_t bad_;
};

TEST(DataLoader, WorkerErrorsReachTheLoop) {
  for (bool prefetch : {true, false}) {
    for (int64_t bad : {0, 13, 19}) {  // first batch (thrown from begin), middle, last
      auto ds = std::make_shared<FailingDataset>(20, bad);
      DataLoader loader(ds, {.batch_size = 4, .prefetch = prefetch});
      std::vector<int64_t> seen;
      EXPECT_TRUE(throws_with(
          [&] {
            for (Batch& b : loader) seen.push_back(b.target.to_vector<int64_t>()[0]);
          },
          {"FailingDataset: sample " + std::to_string(bad) + " is unreadable"}))
          << "prefetch " << prefetch << " bad " << bad;
      EXPECT_EQ(int64_t(seen.size()), bad / 4);  // every batch before the bad one arrived
      EXPECT_LE(ds->calls.load(), bad / 4 + 1);  // and nothing was built after it
    }
  }
  // Errors from the transform travel the same way.
  DataLoader loader(images(6), {.batch_size = 2, .transform = RandomCrop{.size = 9}});
  EXPECT_TRUE(throws_with([&] { loader.begin(); }, {"RandomCrop: a 9x9 crop does not fit 4x4 images"}));
}

// Sleeps in get_batch so the worker is mid-batch or blocked on a full queue when the loop exits.
class SlowDataset : public Dataset {
 public:
  int64_t size() const override { return 1000; }
  Batch get_batch(const std::vector<int64_t>& indices) const override {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ++built;
    return inner_->get_batch(indices);
  }
  mutable std::atomic<int> built{0};

 private:
  std::shared_ptr<TensorDataset> inner_ = counting(1000);
};

TEST(DataLoader, EarlyExitJoinsTheWorker) {
  auto ds = std::make_shared<SlowDataset>();
  DataLoader loader(ds, {.batch_size = 10});
  for (int rep = 0; rep < 20; ++rep) {
    int n = 0;
    for (Batch& b : loader) {
      (void)b;
      if (++n == 1 + rep % 3) break;
    }
  }
  // The worker never runs far ahead: at most the consumed batches plus the queue plus one in flight.
  EXPECT_LE(ds->built.load(), 20 * (3 + 3));
  // An exception thrown by the loop body also ends the pass cleanly.
  EXPECT_THROW(
      {
        for (Batch& b : loader)
          if (b.target.to_vector<int64_t>()[0] >= 20) throw std::runtime_error("stop");
      },
      std::runtime_error);
  // An iterator destroyed without being advanced, and a moved-from iterator.
  { auto it = loader.begin(); }
  {
    auto it = loader.begin();
    auto moved = std::move(it);
    ++moved;
    EXPECT_EQ(moved.index(), 1);
  }
  // A full pass after all that still yields every batch.
  EXPECT_EQ(pass_targets(loader).size(), 100u);
}

TEST(DataLoader, IteratorMisuseThrows) {
  DataLoader loader(counting(3), {.batch_size = 3});
  auto it = loader.begin();
  ++it;
  EXPECT_TRUE(it == std::default_sentinel);
  EXPECT_TRUE(throws_with([&] { (void)*it; }, {"DataLoader: dereferencing an iterator at the end"}));
  EXPECT_TRUE(throws_with([&] { ++it; }, {"past the end"}));
  EXPECT_TRUE(throws_with([&] { loader.batch(0, 1); }, {"batch 1 is out of range (epoch has 1 batches)"}));
}

}  // namespace
}  // namespace ember::data
