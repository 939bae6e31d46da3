// Batch transforms: exact pixels on small hand-built inputs (Normalize, RandomCrop windows,
// flips), determinism per key, Compose stage independence, f64 support and the error messages.
#include <gtest/gtest.h>

#include <set>

#include "data/transforms.h"
#include "tests/common/expect_close.h"

namespace ember::data {
namespace {

using test::all_close;
using test::throws_with;

std::vector<uint64_t> keys_for(int64_t n, uint64_t seed = 0) {
  std::vector<uint64_t> k(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i) k[size_t(i)] = sample_key(seed, 0, i);
  return k;
}

// [n, c, h, w] with pixel values 1, 2, 3, ... (no zeros, so padding is recognisable).
Tensor counting_images(int64_t n, int64_t c, int64_t h, int64_t w) {
  return Tensor::arange(1, double(n * c * h * w + 1)).reshape({n, c, h, w});
}

TEST(Normalize, PerChannelExact) {
  // x [1,2,1,2]: channel 0 = {1, 2}, channel 1 = {3, 5}; mean {0.5, 1}, std {0.5, 2}.
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 5}, {1, 2, 1, 2});
  Tensor y = Normalize{.mean = {0.5, 1}, .std = {0.5, 2}}(x);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 3, 1, 2}));  // (1-.5)/.5, (2-.5)/.5, (3-1)/2, (5-1)/2
  // One value applies to every channel; f64 and 3-D inputs work.
  Tensor z = Normalize{.mean = {1}, .std = {4}}(x.to(DType::f64).reshape({1, 2, 2}));
  EXPECT_EQ(z.dtype(), DType::f64);
  EXPECT_EQ(z.to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 1}));
  // The input is not modified.
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 2, 3, 5}));
  EXPECT_TRUE(throws_with([&] { Normalize{.mean = {0, 0, 0}, .std = {1}}(x); },
                          {"Normalize: mean has 3 values for 2 channels", "[1,2,1,2]"}));
  EXPECT_TRUE(throws_with([&] { Normalize{.mean = {0}, .std = {1, 0}}(x); }, {"Normalize: std[1] = 0 must be > 0"}));
  EXPECT_TRUE(throws_with([] { Normalize{.mean = {0}, .std = {1}}(Tensor::zeros({3}).to(DType::i64)); },
                          {"Normalize: expected x [N,C,...]"}));
}

TEST(RandomCrop, NoPaddingFullSizeIsIdentity) {
  Tensor x = counting_images(3, 2, 5, 4);
  Tensor y = RandomCrop{.size = 4, .padding = 0}(x.slice(2, 0, 4), keys_for(3));  // non-contiguous input
  EXPECT_TRUE(all_close(y, x.slice(2, 0, 4), 0, 0));
}

// Finds the window (top, left) of the zero-padded plane that equals `out`; -1 if none or several.
std::pair<int64_t, int64_t> find_window(const std::vector<float>& plane, int64_t h, int64_t w, int64_t pad,
                                        const std::vector<float>& out, int64_t s) {
  std::pair<int64_t, int64_t> found{-1, -1};
  int matches = 0;
  for (int64_t top = 0; top + s <= h + 2 * pad; ++top)
    for (int64_t left = 0; left + s <= w + 2 * pad; ++left) {
      bool same = true;
      for (int64_t y = 0; y < s && same; ++y)
        for (int64_t x = 0; x < s && same; ++x) {
          const int64_t sy = top + y - pad, sx = left + x - pad;
          const float v = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? plane[size_t(sy * w + sx)] : 0.0f;
          same = out[size_t(y * s + x)] == v;
        }
      if (same) {
        found = {top, left};
        ++matches;
      }
    }
  return matches == 1 ? found : std::pair<int64_t, int64_t>{-1, -1};
}

TEST(RandomCrop, EveryOutputIsOneWindowOfThePaddedImage) {
  // Distinct nonzero pixels, so a window is identified by its contents.
  const int64_t n = 200, c = 2, h = 3, w = 5, pad = 2, s = 4;
  Tensor x = counting_images(n, c, h, w);
  Tensor y = RandomCrop{.size = s, .padding = pad}(x, keys_for(n, 9));
  ASSERT_EQ(y.shape(), (Shape{n, c, s, s}));
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < n; ++i) {
    std::pair<int64_t, int64_t> first;
    for (int64_t k = 0; k < c; ++k) {  // both channels of a sample share the window
      auto win = find_window(x.select(0, i).select(0, k).to_vector<float>(), h, w, pad,
                             y.select(0, i).select(0, k).to_vector<float>(), s);
      ASSERT_GE(win.first, 0) << "sample " << i << " channel " << k;
      if (k == 0) first = win;
      EXPECT_EQ(win, first);
    }
    seen.insert(first);
  }
  EXPECT_EQ(seen.size(), size_t((h + 2 * pad - s + 1) * (w + 2 * pad - s + 1)));  // all 4*6 offsets occur
  // Same keys, same crops; other keys, other crops.
  EXPECT_TRUE(all_close(RandomCrop{.size = s, .padding = pad}(x, keys_for(n, 9)), y, 0, 0));
  EXPECT_FALSE(all_close(RandomCrop{.size = s, .padding = pad}(x, keys_for(n, 10)), y, 0, 0));
}

// 2x2 image [[1,2],[3,4]], padding 1, size 2: the nine windows of the zero-padded 4x4 image.
TEST(RandomCrop, HandCaseAllNineWindows) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}, {.dtype = DType::f64});
  const std::set<std::vector<double>> windows = {
      {0, 0, 0, 1}, {0, 0, 1, 2}, {0, 0, 2, 0}, {0, 1, 0, 3}, {1, 2, 3, 4},
      {2, 0, 4, 0}, {0, 3, 0, 0}, {3, 4, 0, 0}, {4, 0, 0, 0}};  // (top,left) row-major, by hand
  std::set<std::vector<double>> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Tensor y = RandomCrop{.size = 2, .padding = 1}(x, keys_for(1, seed));
    ASSERT_EQ(y.dtype(), DType::f64);
    auto v = y.to_vector<double>();
    ASSERT_TRUE(windows.count(v)) << "unexpected window " << y;
    seen.insert(v);
  }
  EXPECT_EQ(seen, windows);
}

TEST(RandomCrop, Errors) {
  Tensor x = Tensor::zeros({2, 1, 4, 4});
  EXPECT_TRUE(throws_with([&] { RandomCrop{.size = 7, .padding = 1}(x, keys_for(2)); },
                          {"RandomCrop: a 7x7 crop does not fit 4x4 images padded by 1", "[2,1,4,4]"}));
  EXPECT_TRUE(throws_with([&] { RandomCrop{.size = 2}(x, keys_for(3)); },
                          {"RandomCrop: got 3 random keys for a batch of 2"}));
  EXPECT_TRUE(throws_with([&] { RandomCrop{.size = 2}(Tensor::zeros({4, 4}), keys_for(4)); },
                          {"RandomCrop: expected x [N,C,H,W], got [4,4]"}));
  EXPECT_TRUE(throws_with([&] { RandomCrop{.size = 0}(x, keys_for(2)); }, {"size 0 must be >= 1"}));
}

TEST(RandomHorizontalFlip, ExactMirrorOrUnchanged) {
  // p = 1: every row reversed.
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 1, 2, 3});
  Tensor y = RandomHorizontalFlip{.p = 1}(x, keys_for(2));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}));
  EXPECT_TRUE(all_close(RandomHorizontalFlip{.p = 0}(x, keys_for(2)), x, 0, 0));
  // p = 0.5 over 400 samples of 2 channels: each sample is mirrored in both channels or in neither.
  const int64_t n = 400;
  Tensor imgs = counting_images(n, 2, 3, 5);
  Tensor out = RandomHorizontalFlip{.p = 0.5}(imgs, keys_for(n, 3));
  Tensor mirrored = index_select(imgs, 3, Tensor::from_vector<int64_t>({4, 3, 2, 1, 0}, {5}, {.dtype = DType::i64}));
  int64_t flipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool same = all_close(out.select(0, i), imgs.select(0, i), 0, 0);
    const bool mirror = all_close(out.select(0, i), mirrored.select(0, i), 0, 0);
    ASSERT_TRUE(same != mirror) << "sample " << i;
    flipped += mirror;
  }
  EXPECT_GT(flipped, 150);  // Binomial(400, 0.5): mean 200, sd 10
  EXPECT_LT(flipped, 250);
  EXPECT_TRUE(throws_with([&] { RandomHorizontalFlip{.p = 1.5}(x, keys_for(2)); }, {"p = 1.5 must lie in [0, 1]"}));
}

TEST(Compose, RunsStagesInOrderWithIndependentDraws) {
  Tensor x = counting_images(4, 1, 3, 3);
  Transform norm = Normalize{.mean = {1}, .std = {2}};
  Compose crop_then_norm{{RandomCrop{.size = 3, .padding = 0}, norm}};
  EXPECT_TRUE(all_close(crop_then_norm(x, keys_for(4)), (x - 1.0) / 2.0, 1e-6, 0));
  // Two flips with p = 0.5 in a row: with shared draws they would always cancel out. With
  // per-stage keys about half the samples end up mirrored.
  const int64_t n = 200;
  Tensor imgs = counting_images(n, 1, 2, 3);
  Compose twice{{RandomHorizontalFlip{.p = 0.5}, RandomHorizontalFlip{.p = 0.5}}};
  Tensor out = twice(imgs, keys_for(n, 5));
  int64_t changed = 0;
  for (int64_t i = 0; i < n; ++i) changed += !all_close(out.select(0, i), imgs.select(0, i), 0, 0);
  EXPECT_GT(changed, 60);
  EXPECT_LT(changed, 140);
  // apply_transform: keys sample_key(seed, 0, i).
  EXPECT_TRUE(all_close(apply_transform(twice, imgs, 5), out, 0, 0));
  EXPECT_TRUE(throws_with([&] { Compose{{Transform{}}}(x, keys_for(4)); }, {"Compose: stage 0 is empty"}));
}

TEST(SampleKey, DependsOnEveryArgument) {
  const uint64_t k = sample_key(1, 2, 3);
  EXPECT_EQ(k, sample_key(1, 2, 3));
  EXPECT_NE(k, sample_key(0, 2, 3));
  EXPECT_NE(k, sample_key(1, 3, 3));
  EXPECT_NE(k, sample_key(1, 2, 4));
  EXPECT_NE(sample_key(0, 0, 1), sample_key(0, 1, 0));
}

}  // namespace
}  // namespace ember::data
