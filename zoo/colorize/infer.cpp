// Colouring user images with a trained colorizer: any size and channel count in (alpha composited
// on white, colour converted to luminance), white padding to the U-Net's stride, optional hints
// from a PNG whose non-white pixels are colour dots.
#include <fmt/format.h>

#include "data/image.h"
#include "zoo/colorize/colorize.h"

namespace ember::zoo::colorize {

namespace {

// u8 [H, W, 4] -> luminance in [0, 1] on white (Rec. 601 weights), row-major [H, W].
std::vector<float> luminance_on_white(const Tensor& rgba) {
  const int64_t px = rgba.size(0) * rgba.size(1);
  const uint8_t* p = rgba.data<uint8_t>();
  std::vector<float> out(static_cast<size_t>(px));
  for (int64_t i = 0; i < px; ++i) {
    const float a = p[4 * i + 3] / 255.0f;
    const float y = (0.299f * p[4 * i] + 0.587f * p[4 * i + 1] + 0.114f * p[4 * i + 2]) / 255.0f;
    out[size_t(i)] = a * y + (1 - a);
  }
  return out;
}

}  // namespace

Tensor colorize_image(UNet& model, const std::string& path, const std::string& hints_path, Device device,
                      bool flip_average) {
  const Tensor img = data::load_image(path, 4);
  const int64_t h = img.size(0), w = img.size(1), s = model.stride();
  const int64_t ph = (h + s - 1) / s * s, pw = (w + s - 1) / s * s;
  const int64_t cin = model.in_channels();
  Tensor x = Tensor::zeros({1, cin, ph, pw});
  float* xp = x.data<float>();
  std::fill_n(xp, ph * pw, 1.0f);  // white padding
  const std::vector<float> lum = luminance_on_white(img);
  for (int64_t y = 0; y < h; ++y) std::copy_n(lum.data() + y * w, w, xp + y * pw);
  if (!hints_path.empty()) {
    EMBER_CHECK(model.config.hints, "colorize: this checkpoint was trained without hints (--hints none); drop --hints");
    const Tensor hint = data::load_image(hints_path, 4);
    EMBER_CHECK(hint.size(0) == h && hint.size(1) == w, "colorize: hints image {} is {}x{} but {} is {}x{}", hints_path,
                hint.size(1), hint.size(0), path, w, h);
    const uint8_t* q = hint.data<uint8_t>();
    std::vector<Hint> hints;
    for (int64_t i = 0; i < h * w; ++i) {
      const uint8_t* c = q + 4 * i;
      if (c[3] > 127 && (c[0] < 240 || c[1] < 240 || c[2] < 240)) hints.push_back({i / w, i % w, c[0], c[1], c[2]});
    }
    paint_hints(hints, ph, pw, 0, xp + ph * pw);
  }
  const bool was_training = model.is_training();
  model.eval();
  Tensor y;
  {
    NoGradGuard no_grad;
    y = model.predict(device.is_cpu() ? x : x.to(device), flip_average);
  }
  model.train(was_training);
  return y.to(Device::cpu()).select(0, 0).narrow(1, 0, h).narrow(2, 0, w).contiguous();
}

}  // namespace ember::zoo::colorize
