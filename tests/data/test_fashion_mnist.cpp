// FashionMnist: the real splits from the Debian package (skipped with the install hint when it is
// missing; the train split is decoded once for the whole binary), the root override (argument and
// EMBER_FMNIST_DIR), uncompressed files, and the errors for missing or inconsistent files.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "data/fashion_mnist.h"
#include "temp_dir.h"
#include "tests/common/expect_close.h"

namespace ember::data {
namespace {

using test::idx_bytes;
using test::TempDir;
using test::throws_with;
using test::write_bytes;

#define SKIP_WITHOUT_FMNIST(split)                                                                     \
  if (!FashionMnist::available(split))                                                                 \
  GTEST_SKIP() << "Fashion-MNIST not found in " << FashionMnist::default_root()                        \
               << "; install it with: sudo apt-get install dataset-fashion-mnist (or set EMBER_FMNIST_DIR)"

std::vector<int64_t> histogram(const Tensor& labels) {
  std::vector<int64_t> hist(10, 0);
  for (int64_t l : labels.to_vector<int64_t>()) {
    EXPECT_TRUE(l >= 0 && l <= 9) << l;
    if (l >= 0 && l <= 9) ++hist[size_t(l)];
  }
  return hist;
}

// Sets an environment variable for one scope and restores the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(FashionMnist, TestSplit) {
  SKIP_WITHOUT_FMNIST(Split::test);
  FashionMnist ds(Split::test);
  EXPECT_EQ(ds.size(), 10000);
  EXPECT_EQ(ds.split(), Split::test);
  ASSERT_EQ(ds.images().dtype(), DType::f32);
  ASSERT_EQ(ds.images().shape(), (Shape{10000, 1, 28, 28}));
  ASSERT_EQ(ds.labels().shape(), (Shape{10000}));
  for (int64_t count : histogram(ds.labels())) EXPECT_EQ(count, 1000);
  auto lab = ds.labels().to_vector<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(lab.begin(), lab.begin() + 5), (std::vector<int64_t>{9, 2, 1, 1, 6}));
  EXPECT_EQ(FashionMnist::kClassNames[size_t(lab[0])], "Ankle boot");
  // Pixels are byte / 255: image 0 row 14 starts 0,0,0,0,0,0,2,4 (reference: Python gzip).
  const float* px = ds.images().data<float>();
  EXPECT_EQ(px[14 * 28 + 6], 2.0f / 255.0f);
  EXPECT_EQ(px[14 * 28 + 7], 4.0f / 255.0f);
  const int64_t numel = ds.images().numel();
  double total = 0;
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < numel; ++i) {
    total += px[i];
    lo = px[i] < lo ? px[i] : lo;
    hi = px[i] > hi ? px[i] : hi;
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  EXPECT_NEAR(total / double(numel), 73.14656658 / 255.0, 1e-6);  // mean byte from Python
  // get_batch gathers rows in the order asked.
  Batch b = ds.get_batch({4, 0});
  EXPECT_EQ(b.input.shape(), (Shape{2, 1, 28, 28}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{6, 9}));
  EXPECT_TRUE(test::all_close(b.input.select(0, 1), ds.images().select(0, 0), 0, 0));
}

TEST(FashionMnist, TrainSplitOncePerBinary) {
  SKIP_WITHOUT_FMNIST(Split::train);
  auto t0 = std::chrono::steady_clock::now();
  FashionMnist ds(Split::train);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("FashionMnist(train): 60000 images decoded and converted in %.1f ms\n", ms);
  EXPECT_EQ(ds.size(), 60000);
  ASSERT_EQ(ds.images().shape(), (Shape{60000, 1, 28, 28}));
  for (int64_t count : histogram(ds.labels())) EXPECT_EQ(count, 6000);
  auto first = ds.labels().slice(0, 0, 10).to_vector<int64_t>();
  EXPECT_EQ(first, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));  // reference: Python gzip
  EXPECT_EQ(FashionMnist::kClassNames[size_t(first[0])], "Ankle boot");
}

TEST(FashionMnist, MissingFilesSayHowToInstall) {
  TempDir dir;
  EXPECT_FALSE(FashionMnist::available(Split::test, dir.path().string()));
  EXPECT_TRUE(throws_with([&] { FashionMnist(Split::test, dir.path().string()); },
                          {"Fashion-MNIST not found in " + dir.path().string(), "missing t10k-images-idx3-ubyte.gz",
                           "sudo apt-get install dataset-fashion-mnist", "EMBER_FMNIST_DIR"}));
  // Images present, labels missing: the message names the labels file.
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_bytes(0x803, {1, 28, 28}, std::vector<uint8_t>(784)));
  EXPECT_TRUE(throws_with([&] { FashionMnist(Split::train, dir.path().string()); },
                          {"missing train-labels-idx1-ubyte.gz"}));
}

TEST(FashionMnist, SmallUncompressedCopyAndEnvOverride) {
  TempDir dir;
  std::vector<uint8_t> pixels(3 * 784);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i % 256);
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x803, {3, 28, 28}, pixels));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x801, {3}, {7, 0, 9}));
  {
    FashionMnist ds(Split::test, dir.path().string());
    EXPECT_EQ(ds.root(), dir.path().string());
    EXPECT_EQ(ds.labels().to_vector<int64_t>(), (std::vector<int64_t>{7, 0, 9}));
    auto px = ds.images().reshape({-1}).slice(0, 0, 4).to_vector<float>();
    EXPECT_EQ(px, (std::vector<float>{0.0f, 1 / 255.0f, 2 / 255.0f, 3 / 255.0f}));
    EXPECT_EQ(ds.images().data<float>()[255], 1.0f);
  }
  {
    ScopedEnv env("EMBER_FMNIST_DIR", dir.path().string());
    EXPECT_EQ(FashionMnist::default_root(), dir.path().string());
    FashionMnist ds(Split::test);
    EXPECT_EQ(ds.size(), 3);
    EXPECT_EQ(ds.root(), dir.path().string());
    // The argument wins over the environment.
    EXPECT_TRUE(throws_with([] { FashionMnist(Split::test, "/nonexistent/fmnist"); },
                            {"not found in /nonexistent/fmnist"}));
  }
}

TEST(FashionMnist, InconsistentFiles) {
  TempDir dir;
  const std::string root = dir.path().string();
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x803, {2, 28, 28}, std::vector<uint8_t>(2 * 784)));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x801, {3}, {1, 2, 3}));
  EXPECT_TRUE(throws_with([&] { FashionMnist(Split::test, root); }, {"holds 2 images but", "holds 3 labels"}));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x801, {2}, {1, 12}));
  EXPECT_TRUE(throws_with([&] { FashionMnist(Split::test, root); }, {"label 12 at index 1 is not a class in 0..9"}));
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x803, {2, 14, 14}, std::vector<uint8_t>(2 * 196)));
  EXPECT_TRUE(throws_with([&] { FashionMnist(Split::test, root); }, {"images are 14x14, expected 28x28"}));
  // A truncated file surfaces the IDX reader's message.
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x803, {2, 28, 28}, std::vector<uint8_t>(100)));
  EXPECT_TRUE(throws_with([&] { FashionMnist(Split::test, root); },
                          {"header says 2 images of 28x28 but payload holds 100 bytes"}));
}

TEST(FashionMnist, BytesToUnitFloat) {
  Tensor u8 = Tensor::from_vector<uint8_t>({0, 51, 255, 128}, {1, 2, 2}, {.dtype = DType::u8});
  Tensor f = bytes_to_unit_float(u8);
  EXPECT_EQ(f.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{0.0f, 0.2f, 1.0f, 128.0f / 255.0f}));
  EXPECT_TRUE(throws_with([] { bytes_to_unit_float(Tensor::zeros({2, 2})); }, {"bytes_to_unit_float", "[2,2]"}));
}

}  // namespace
}  // namespace ember::data
