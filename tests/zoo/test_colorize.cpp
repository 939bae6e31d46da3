// zoo/colorize: the U-Net's shapes and the W3 parameter count, hint sampling, batches and
// augmentation, dedupe and the hash split (on rasters of real OpenMoji SVGs when the package has
// been fetched), SSIM / PSNR against scikit-image, a short overfit of 8 real pairs and a bit-exact
// resume (both need `ember data openmoji`; they skip with the reason otherwise).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "nn/optim/adam.h"
#include "nn/safetensors.h"
#include "tests/common/sanitizer.h"
#include "zoo/colorize/colorize.h"

namespace fs = std::filesystem;
using namespace ember;
using namespace ember::zoo::colorize;

namespace {

#if EMBER_ASAN
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

bool packed_data_present() { return fs::exists(fs::path(packed_dir(default_data_root(), 64)) / "names.txt"); }

TEST(ColorizeUNet, W3ParameterCountAndShapes) {
  UNet w3({.depth = 3, .width = 32, .hints = false});
  EXPECT_EQ(w3.num_parameters(), 1926499);  // WORKLOADS.md W3
  EXPECT_EQ(w3.in_channels(), 1);
  EXPECT_EQ(w3.stride(), 8);
  UNet hinted(UNetConfig{});  // the default: W3 + 4 hint channels (5 * 32 * 9 more weights in the first conv)
  EXPECT_EQ(hinted.num_parameters(), 1926499 + 4 * 32 * 9);
  EXPECT_EQ(hinted.in_channels(), 5);

  manual_seed(1);
  UNet small({.depth = 2, .width = 4, .hints = true});
  Tensor y = small.forward(Tensor::rand({2, 5, 12, 20}));
  EXPECT_EQ(y.shape(), (Shape{2, 3, 12, 20}));
  const auto v = y.to_vector<float>();
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x > 0 && x < 1; }));  // sigmoid
  EXPECT_THROW(small.forward(Tensor::rand({1, 5, 10, 12})), Error);  // 10 is not a multiple of 4
  EXPECT_THROW(small.forward(Tensor::rand({1, 1, 12, 12})), Error);  // hint channels missing
  EXPECT_THROW(UNet({.depth = 0}), Error);
}

// predict(x, true) is the mean of forward(x) and the mirror of forward(mirrored x), computed here
// by hand (pixel by pixel); a mirror-symmetric input gives a mirror-symmetric output.
TEST(ColorizeUNet, FlipAverageIsTheMeanWithTheMirroredPrediction) {
  manual_seed(3);
  UNet net({.depth = 2, .width = 4, .hints = true});
  net.eval();
  NoGradGuard no_grad;
  const int64_t n = 2, h = 8, w = 12;
  const Tensor x = Tensor::rand({n, 5, h, w});
  Tensor xm = Tensor::empty(x.shape());
  const float* xs = x.data<float>();
  float* xd = xm.data<float>();
  for (int64_t r = 0; r < n * 5 * h; ++r)
    for (int64_t q = 0; q < w; ++q) xd[r * w + q] = xs[r * w + (w - 1 - q)];
  const std::vector<float> y = net.forward(x).to_vector<float>(), ym = net.forward(xm).to_vector<float>();
  const std::vector<float> avg = net.predict(x, true).contiguous().to_vector<float>();
  EXPECT_EQ(net.predict(x, false).to_vector<float>(), y);
  for (int64_t r = 0; r < n * 3 * h; ++r)
    for (int64_t q = 0; q < w; ++q)
      ASSERT_NEAR(avg[size_t(r * w + q)], 0.5f * (y[size_t(r * w + q)] + ym[size_t(r * w + w - 1 - q)]), 1e-6f);
  Tensor sym = Tensor::empty(x.shape());  // mirror-symmetric: left half mirrored onto the right
  float* sd = sym.data<float>();
  for (int64_t r = 0; r < n * 5 * h; ++r)
    for (int64_t q = 0; q < w; ++q) sd[r * w + q] = xs[r * w + std::min(q, w - 1 - q)];
  const std::vector<float> ys = net.predict(sym, true).contiguous().to_vector<float>();
  for (int64_t r = 0; r < n * 3 * h; ++r)
    for (int64_t q = 0; q < w; ++q) ASSERT_NEAR(ys[size_t(r * w + q)], ys[size_t(r * w + w - 1 - q)], 1e-6f);
}

TEST(ColorizeHints, CountsAreSeededAndHalfAreZero) {
  int zeros = 0;
  std::set<int64_t> values;
  for (uint64_t k = 0; k < 4000; ++k) {
    const int64_t c = sample_hint_count(7, k);
    EXPECT_EQ(c, sample_hint_count(7, k));
    ASSERT_GE(c, 0);
    ASSERT_LE(c, 20);
    zeros += c == 0;
    values.insert(c);
  }
  EXPECT_NEAR(zeros / 4000.0, 0.5, 0.04);
  EXPECT_EQ(values.size(), 21u);  // every count 0..20 occurs
  int same = 0;
  for (uint64_t k = 0; k < 200; ++k) same += sample_hint_count(7, k) == sample_hint_count(8, k);
  EXPECT_LT(same, 150);  // another seed, another sequence
}

TEST(ColorizeHints, DotsTakeTheTargetColourOnColouredPaper) {
  // 16x16: ink column at x = 3, a red block at rows 8..15, white elsewhere.
  const int64_t h = 16, w = 16;
  std::vector<uint8_t> line(h * w, 255), rgb(h * w * 3, 255);
  for (int64_t y = 0; y < h; ++y) line[y * w + 3] = 0;
  for (int64_t y = 8; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) rgb[3 * (y * w + x) + 1] = rgb[3 * (y * w + x) + 2] = 20;
  const auto hints = sample_hints(line.data(), rgb.data(), h, w, 12, 3, 99);
  ASSERT_EQ(hints.size(), 12u);
  for (const Hint& k : hints) {
    EXPECT_GE(k.y, 8);
    EXPECT_NE(k.x, 3);
    EXPECT_EQ(k.r, 255);
    EXPECT_EQ(k.g, 20);
  }
  const auto again = sample_hints(line.data(), rgb.data(), h, w, 12, 3, 99);
  EXPECT_TRUE(std::equal(hints.begin(), hints.end(), again.begin(),
                         [](const Hint& a, const Hint& b) { return a.y == b.y && a.x == b.x; }));
  std::vector<float> planes(4 * h * w, 0.0f);
  paint_hints({{5, 0, 255, 20, 20}}, h, w, 1, planes.data());
  const float* mask = planes.data() + 3 * h * w;
  EXPECT_EQ(std::accumulate(mask, mask + h * w, 0.0f), 6.0f);  // 3x3 dot clipped at the left edge
  EXPECT_EQ(mask[4 * w + 1], 1.0f);
  EXPECT_FLOAT_EQ(planes[w * 5 + 1 + h * w], 20 / 255.0f);
}

OpenMoji tiny_set() {
  // Two 16x16 pairs: line = gradient, colour = distinct per channel.
  OpenMoji s{Tensor::empty({2, 16, 16}, {.dtype = DType::u8}), Tensor::empty({2, 16, 16, 3}, {.dtype = DType::u8}),
             {"A", "B"}};
  uint8_t* l = s.line.data<uint8_t>();
  uint8_t* c = s.color.data<uint8_t>();
  for (int64_t i = 0; i < 2 * 256; ++i) l[i] = uint8_t(i % 16 * 10 + i / 256);
  for (int64_t i = 0; i < 2 * 256 * 3; ++i) c[i] = uint8_t(i * 7 % 251);
  return s;
}

TEST(ColorizeBatch, FlipShiftAndHintChannels) {
  const OpenMoji s = tiny_set();
  Batch plain = make_batch(s, {1, 0}, false, {}, {}, 0);
  ASSERT_EQ(plain.input.shape(), (Shape{2, 1, 16, 16}));
  EXPECT_FLOAT_EQ(plain.input.data<float>()[0], s.line.data<uint8_t>()[256] / 255.0f);  // row 1 first
  EXPECT_FLOAT_EQ(plain.target.data<float>()[256 + 3], s.color.data<uint8_t>()[3 * 256 + 3 * 3 + 1] / 255.0f);
  Batch flip = make_batch(s, {0}, false, {{.flip = true}}, {}, 0);
  EXPECT_FLOAT_EQ(flip.input.data<float>()[2 * 16 + 0], plain.input.data<float>()[256 + 2 * 16 + 15]);
  Batch shift = make_batch(s, {0}, false, {{.dy = 2, .dx = -3}}, {}, 0);
  const float* x = shift.input.data<float>();
  EXPECT_EQ(x[0], 1.0f);             // row 0 came from outside: white
  EXPECT_EQ(x[5 * 16 + 15], 1.0f);   // column 15 came from x = 18: white
  EXPECT_FLOAT_EQ(x[5 * 16 + 4], plain.input.data<float>()[256 + 3 * 16 + 7]);
  Batch hinted = make_batch(s, {0, 1}, true, {}, {3, 0}, 5);
  ASSERT_EQ(hinted.input.shape(), (Shape{2, 5, 16, 16}));
  const float* hm = hinted.input.data<float>();
  EXPECT_GT(std::accumulate(hm + 4 * 256, hm + 5 * 256, 0.0f), 0.0f);        // sample 0 has hint dots
  EXPECT_EQ(std::accumulate(hm + 9 * 256, hm + 10 * 256, 0.0f), 0.0f);       // sample 1 has none
}

TEST(ColorizeData, DedupeKeepsFirstDistinctNonBlank) {
  const std::vector<uint8_t> blank(16, 255), a(16, 0), b(16, 100);
  std::vector<uint8_t> nearly_blank(16, 252);
  const std::vector<int64_t> kept = dedupe({"1", "2", "3", "4", "5", "6"}, {blank, a, b, a, nearly_blank, b});
  EXPECT_EQ(kept, (std::vector<int64_t>{1, 2}));
  EXPECT_THROW(dedupe({"b", "a"}, {a, b}), Error);  // names must come sorted
}

TEST(ColorizeData, HashSplitIsStable) {
  // FNV-1a 64 of the hexcode, mod 10. Fixed values: the split must never move between builds.
  EXPECT_EQ(split_bucket("1F600"), split_bucket("1F600"));
  std::vector<int> got;
  for (const char* n : {"1F600", "1F44B", "2764", "1F1E9-1F1EA", "E000"}) got.push_back(split_bucket(n));
  EXPECT_EQ(got, (std::vector<int>{8, 2, 6, 0, 2}));
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 5000; ++i) {
    const std::string name = fmt::format("{:X}", 0x1F000 + i);
    const int b = split_bucket(name);
    counts[in_split(name, Split::train) ? 0 : in_split(name, Split::val) ? 1 : 2]++;
    EXPECT_EQ(in_split(name, Split::train) + in_split(name, Split::val) + in_split(name, Split::test), 1) << b;
  }
  EXPECT_NEAR(counts[0] / 5000.0, 0.8, 0.03);
  EXPECT_NEAR(counts[1] / 5000.0, 0.1, 0.02);
}

// Rasterises six real OpenMoji SVGs (skin-tone and flag variants, a blank line layer) at 64 and
// 128 px and packs them: 3 distinct non-blank line rasters remain, the first of each in name order.
TEST(ColorizeData, PackRealSvgFixture) {
  const fs::path svg = fs::path(default_data_root()) / "svg";
  if (!fs::exists(svg / "black" / "1F600.svg")) GTEST_SKIP() << "OpenMoji SVGs not fetched (run: ember data openmoji)";
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0) GTEST_SKIP() << "rsvg-convert missing (librsvg2-bin)";
  const fs::path dir = fs::temp_directory_path() / fmt::format("ember_colorize_fixture_{}", getpid());
  for (int size : {64, 128}) {
    const fs::path raw = dir / fmt::format("raw{}", size);
    for (const char* layer : {"black", "color"}) {
      fs::create_directories(raw / layer);
      for (const char* n : {"1F195", "1F1E9-1F1EA", "1F1EB-1F1F7", "1F44B", "1F44B-1F3FB", "1F600"})
        ASSERT_EQ(std::system(fmt::format("rsvg-convert -w {} -h {} -b white '{}' -o '{}'", size, size,
                                          (svg / layer / (std::string(n) + ".svg")).string(),
                                          (raw / layer / (std::string(n) + ".png")).string())
                                  .c_str()),
                  0);
    }
    EXPECT_EQ(pack_openmoji(raw.string(), packed_dir(dir.string(), size), size), 3);
    const OpenMoji s = load_openmoji(dir.string(), size);
    EXPECT_EQ(s.names, (std::vector<std::string>{"1F1E9-1F1EA", "1F44B", "1F600"}));
    EXPECT_EQ(s.color.shape(), (Shape{3, size, size, 3}));
    EXPECT_TRUE(fs::exists(fs::path(packed_dir(dir.string(), size)) / "CREDIT.txt"));
  }
  fs::remove_all(dir);
}

TEST(ColorizeData, PackedSetHas2047Pairs) {
  if (!packed_data_present()) GTEST_SKIP() << "OpenMoji not built (run: ember data openmoji)";
  const OpenMoji all = load_openmoji("", 64);
  EXPECT_EQ(all.names.size(), 2047u);
  EXPECT_EQ(all.line.shape(), (Shape{2047, 64, 64}));
  const auto train = select_split(all, Split::train), val = select_split(all, Split::val),
             test = select_split(all, Split::test);
  EXPECT_EQ(train.names.size() + val.names.size() + test.names.size(), 2047u);
  EXPECT_NEAR(double(train.names.size()) / 2047, 0.8, 0.03);
  EXPECT_THROW(load_openmoji("/nonexistent/openmoji", 64), Error);
}

// Two fixed 3x20x24 images and a third derived from the first; the expected values are from
// scikit-image 0.19 (Debian python3-skimage) in float64:
//   structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
//                         data_range=1.0, channel_axis=0)
//   peak_signal_noise_ratio(a, b, data_range=1.0)
// with a[c,y,x] = ((x*x + 3y + 17c) % 256) / 255, b = ((5x + 2y*y + 31c + (x^y)) % 256) / 255 and
// b2 = clip(a*0.8 + 0.1 + 0.05 cos(x/3), 0, 1), all built in float32 as here.
TEST(ColorizeMetrics, SsimAndPsnrMatchScikitImage) {
  const int64_t c = 3, h = 20, w = 24, n = c * h * w;
  std::vector<float> a(n), b(n), b2(n);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t i = (ch * h + y) * w + x;
        a[i] = float((x * x + 3 * y + 17 * ch) % 256) / 255.0f;
        b[i] = float((x * 5 + y * y * 2 + 31 * ch + (x ^ y)) % 256) / 255.0f;
        b2[i] = std::clamp(a[i] * 0.8f + 0.1f + float(0.05 * std::cos(double(x) / 3.0)), 0.0f, 1.0f);
      }
  EXPECT_NEAR(ssim(a.data(), b.data(), c, h, w), 0.04646582731464604, 1e-6);
  EXPECT_NEAR(ssim(a.data(), b2.data(), c, h, w), 0.9395515240569204, 1e-6);
  EXPECT_NEAR(ssim(a.data(), a.data(), c, h, w), 1.0, 1e-12);
  Scores s1, s2;
  s1.add(b.data(), a.data(), h, w);
  s1.finish();
  s2.add(b2.data(), a.data(), h, w);
  s2.finish();
  EXPECT_NEAR(s1.psnr_pooled, 8.644712593151361, 1e-5);
  EXPECT_NEAR(s2.psnr_pooled, 22.554964784334967, 1e-5);
  EXPECT_NEAR(s2.psnr_mean, 22.554964784334967, 1e-5);
  // Pooled vs per-image: a perfect image caps at 60 dB and does not make the pooled figure infinite.
  Scores both;
  both.add(a.data(), a.data(), h, w);
  both.add(b2.data(), a.data(), h, w);
  both.finish();
  EXPECT_NEAR(both.psnr_mean, (60.0 + 22.554964784334967) / 2, 1e-5);
  EXPECT_NEAR(both.psnr_pooled, 22.554964784334967 + 10 * std::log10(2.0), 1e-5);
  // The differentiable SSIM of the l1+ssim loss is the same number.
  Tensor ta = Tensor::from_vector(a, {1, c, h, w}), tb = Tensor::from_vector(b2, {1, c, h, w});
  EXPECT_NEAR(ssim_loss_term(ta, tb).item(), 0.9395515240569204, 1e-5);
}

// 8 real pairs (their central 32x32, to stay fast), a small U-Net, 100 steps of AdamW: the
// training L1 must fall from ~0.4 (sigmoid outputs near 0.5) to below 0.04, under the line-as-grey
// baseline on the same crops (~0.13: it gets every white and ink pixel right but no colour), so the
// net has learnt the colours of the pictures it saw: forward, backward and optimizer work together.
TEST(ColorizeTrain, OverfitsEightRealPairs) {
  if (!packed_data_present()) GTEST_SKIP() << "OpenMoji not built (run: ember data openmoji)";
  if (kSanitized) GTEST_SKIP() << "too slow under the sanitizers (-O0)";
  const OpenMoji all = load_openmoji("", 64);
  const OpenMoji eight = select_rows(all, {0, 100, 200, 300, 400, 500, 600, 700});
  manual_seed(0);
  UNet net({.depth = 2, .width = 8, .hints = false});
  nn::AdamW opt(net.parameters(), {.lr = 1e-2, .weight_decay = 0});
  Batch full = make_batch(eight, {0, 1, 2, 3, 4, 5, 6, 7}, false, {}, {}, 0);
  const Tensor x = full.input.narrow(2, 16, 32).narrow(3, 16, 32).contiguous();
  const Tensor t = full.target.narrow(2, 16, 32).narrow(3, 16, 32).contiguous();
  double first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    opt.zero_grad();
    Tensor loss = l1_loss(net.forward(x), t);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  const double grey = l1_loss(x.expand({8, 3, 32, 32}), t).item();
  EXPECT_GT(first, 0.2);
  EXPECT_GT(grey, 0.06);
  EXPECT_LT(last, 0.04) << "first " << first << ", line-as-grey L1 " << grey;
  fmt::print("overfit: L1 {:.4f} -> {:.4f} (line as grey {:.4f})\n", first, last, grey);
}

// Same seed and threads -> the same weights; stop after 1 epoch and resume -> the same weights
// as the uninterrupted 2-epoch run, bit for bit.
TEST(ColorizeTrain, ResumeIsBitExact) {
  if (!packed_data_present()) GTEST_SKIP() << "OpenMoji not built (run: ember data openmoji)";
  if (kSanitized) GTEST_SKIP() << "too slow under the sanitizers (-O0)";
  const fs::path dir = fs::temp_directory_path() / fmt::format("ember_colorize_resume_{}", getpid());
  TrainConfig cfg{.epochs = 2, .batch = 4, .lr = 1e-3, .depth = 1, .width = 4, .seed = 3, .threads = 1,
                  .train_limit = 12, .val_limit = 4, .progress = false, .plots = false};
  cfg.augment = "flip+shift";
  cfg.loss = "l2";  // the l2 loss path (the other tests train with l1)
  cfg.out = (dir / "full").string();
  const TrainResult full = train(cfg);
  cfg.out = (dir / "parts").string();
  cfg.stop_after = 1;
  train(cfg);
  cfg.resume = true;
  cfg.stop_after = 0;
  const TrainResult resumed = train(cfg);
  ASSERT_EQ(full.history.size(), 2u);
  ASSERT_EQ(resumed.history.size(), 2u);
  EXPECT_EQ(full.history[1].train_loss, resumed.history[1].train_loss);
  EXPECT_EQ(full.history[1].val_psnr, resumed.history[1].val_psnr);
  const auto a = nn::load_safetensors(full.checkpoint).tensors, b = nn::load_safetensors(resumed.checkpoint).tensors;
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].second.to_vector<float>(), b[i].second.to_vector<float>()) << a[i].first;
  fs::remove_all(dir);
}

}  // namespace
