// Image-quality scores for the colorizer (L1, PSNR pooled and per image, SSIM of Wang et al.
// 2004), the differentiable SSIM term of the l1+ssim loss, and evaluation of a model and the two
// non-learned baselines on a split.
#include <cmath>

#include "zoo/colorize/colorize.h"

namespace ember::zoo::colorize {

namespace {

constexpr int64_t kWin = 11, kRad = 5;
constexpr double kSigma = 1.5, kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;
constexpr int64_t kEvalBatch = 64;
constexpr uint64_t kEvalHintSeed = 0x5eed;

// The normalised 1-D Gaussian (sigma 1.5, truncated at radius 5: scipy's gaussian_filter with
// truncate=3.5, as skimage uses it).
std::array<double, kWin> gaussian_taps() {
  std::array<double, kWin> g{};
  double s = 0;
  for (int64_t i = 0; i < kWin; ++i) s += g[i] = std::exp(-0.5 * double((i - kRad) * (i - kRad)) / (kSigma * kSigma));
  for (auto& v : g) v /= s;
  return g;
}

// Separable valid filtering of one plane [h, w] -> [h - 10, w - 10].
std::vector<double> filter_valid(const std::vector<double>& x, int64_t h, int64_t w) {
  static const auto g = gaussian_taps();
  const int64_t oh = h - 2 * kRad, ow = w - 2 * kRad;
  std::vector<double> rows(size_t(h * ow)), out(size_t(oh * ow));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x0 = 0; x0 < ow; ++x0) {
      double s = 0;
      for (int64_t k = 0; k < kWin; ++k) s += g[k] * x[y * w + x0 + k];
      rows[y * ow + x0] = s;
    }
  for (int64_t y0 = 0; y0 < oh; ++y0)
    for (int64_t x0 = 0; x0 < ow; ++x0) {
      double s = 0;
      for (int64_t k = 0; k < kWin; ++k) s += g[k] * rows[(y0 + k) * ow + x0];
      out[y0 * ow + x0] = s;
    }
  return out;
}

}  // namespace

double ssim(const float* a, const float* b, int64_t c, int64_t h, int64_t w) {
  EMBER_CHECK(h >= kWin && w >= kWin, "ssim: images must be at least {}x{}, got {}x{}", kWin, kWin, h, w);
  const int64_t px = h * w;
  double total = 0;
  for (int64_t ch = 0; ch < c; ++ch) {
    std::vector<double> x(px), y(px), xx(px), yy(px), xy(px);
    for (int64_t i = 0; i < px; ++i) {
      x[i] = a[ch * px + i];
      y[i] = b[ch * px + i];
      xx[i] = x[i] * x[i];
      yy[i] = y[i] * y[i];
      xy[i] = x[i] * y[i];
    }
    const auto mx = filter_valid(x, h, w), my = filter_valid(y, h, w), mxx = filter_valid(xx, h, w),
               myy = filter_valid(yy, h, w), mxy = filter_valid(xy, h, w);
    double s = 0;
    for (size_t i = 0; i < mx.size(); ++i) {
      const double vx = mxx[i] - mx[i] * mx[i], vy = myy[i] - my[i] * my[i], cxy = mxy[i] - mx[i] * my[i];
      s += ((2 * mx[i] * my[i] + kC1) * (2 * cxy + kC2)) / ((mx[i] * mx[i] + my[i] * my[i] + kC1) * (vx + vy + kC2));
    }
    total += s / double(mx.size());
  }
  return total / double(c);
}

Tensor ssim_loss_term(const Tensor& pred, const Tensor& target) {
  const int64_t c = pred.size(1);
  static const auto g = gaussian_taps();
  std::vector<float> taps(g.begin(), g.end());
  const int64_t groups = 5 * c;
  Tensor gx = Tensor::from_vector(taps, {1, 1, 1, kWin}).expand({groups, 1, 1, kWin}).contiguous();
  Tensor gy = gx.reshape({groups, 1, kWin, 1});
  Tensor stacked = cat({pred, target, pred * pred, target * target, pred * target}, 1);
  Tensor f = conv2d(conv2d(stacked, gx, {}, {.groups = groups}), gy, {}, {.groups = groups});
  auto parts = chunk(f, 5, 1);
  const Tensor &mx = parts[0], &my = parts[1];
  Tensor vx = parts[2] - mx * mx, vy = parts[3] - my * my, cxy = parts[4] - mx * my;
  Tensor map = ((2.0 * mx * my + kC1) * (2.0 * cxy + kC2)) / ((mx * mx + my * my + kC1) * (vx + vy + kC2));
  return mean(map);
}

void Scores::add(const float* pred, const float* target, int64_t h, int64_t w) {
  const int64_t n = 3 * h * w;
  double sq = 0, ab = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(pred[i]) - double(target[i]);
    sq += d * d;
    ab += std::abs(d);
  }
  sq_sum_ += sq;
  abs_sum_ += ab;
  values_ += n;
  psnr_sum_ += sq == 0 ? kPsnrCap : std::min(kPsnrCap, 10 * std::log10(double(n) / sq));
  ssim_sum_ += colorize::ssim(pred, target, 3, h, w);
  ++images;
}

void Scores::finish() {
  if (images == 0) return;
  l1 = abs_sum_ / double(values_);
  psnr_pooled = sq_sum_ == 0 ? kPsnrCap : 10 * std::log10(double(values_) / sq_sum_);
  psnr_mean = psnr_sum_ / double(images);
  ssim = ssim_sum_ / double(images);
}

Tensor mean_color(const OpenMoji& set) {
  const int64_t n = set.color.size(0), h = set.color.size(1), w = set.color.size(2), px = h * w;
  std::vector<double> acc(size_t(3 * px), 0.0);
  const uint8_t* c = set.color.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < px; ++p)
      for (int64_t ch = 0; ch < 3; ++ch) acc[ch * px + p] += c[(i * px + p) * 3 + ch];
  std::vector<float> out(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) out[i] = float(acc[i] / (255.0 * double(std::max<int64_t>(1, n))));
  return Tensor::from_vector(out, {3, h, w});
}

EvalResult evaluate(UNet& model, const OpenMoji& set, const Tensor& mean_rgb, int64_t hints, bool baselines,
                    bool flip_average) {
  EMBER_CHECK(hints >= 0, "eval colorize: --hints must be >= 0, got {}", hints);
  EMBER_CHECK(hints == 0 || model.config.hints, "eval colorize: this checkpoint was trained without hints (--hints none)"
              " so it takes no hints, got --hints {}", hints);
  const int64_t n = set.line.size(0), h = set.line.size(1), w = set.line.size(2), px = h * w;
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult r;
  const float* mc = mean_rgb.defined() ? mean_rgb.data<float>() : nullptr;
  std::vector<float> grey(3 * px), flat(3 * px);
  for (int64_t start = 0; start < n; start += kEvalBatch) {
    std::vector<int64_t> rows;
    for (int64_t i = start; i < std::min(n, start + kEvalBatch); ++i) rows.push_back(i);
    Batch b = make_batch(set, rows, model.config.hints, {}, std::vector<int64_t>(rows.size(), hints), kEvalHintSeed);
    Tensor pred = model.predict(b.input, flip_average).contiguous();
    const float* p = pred.data<float>();
    const float* t = b.target.data<float>();
    const float* x = b.input.data<float>();
    const int64_t cin = b.input.size(1);
    for (size_t i = 0; i < rows.size(); ++i) {
      r.model.add(p + i * 3 * px, t + i * 3 * px, h, w);
      if (!baselines) continue;
      const float* line = x + i * cin * px;
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t q = 0; q < px; ++q) {
          grey[ch * px + q] = line[q];
          if (mc) flat[ch * px + q] = mc[ch * px + q] * line[q];
        }
      r.line_grey.add(grey.data(), t + i * 3 * px, h, w);
      if (mc) r.mean_color.add(flat.data(), t + i * 3 * px, h, w);
    }
  }
  model.train(was_training);
  r.model.finish();
  r.line_grey.finish();
  r.mean_color.finish();
  return r;
}

}  // namespace ember::zoo::colorize
