// Image files and grids (see image.h). Decoding and PNG encoding are stb's (stb_impl.cpp), JPEG
// decoding libjpeg-turbo's (jpeg.cpp); here
// live the layout conversions, the atomic file write and the grid composer. Legend: N images,
// C channels, H x W an image, s the upscale factor; grids are composed as RGB planes u8 [3, H, W].
#include "data/image.h"

#include <stb_image.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "data/jpeg.h"
#include "tensor/parallel.h"

namespace ember::data {
namespace {

// Float [..] in [0,1] -> u8, clamped, round to nearest: the inverse of x / 255 on exact values.
template <typename T>
uint8_t to_byte(T v) {
  v = std::clamp(v, T(0), T(1));  // NaN passes through clamp; the cast below maps it to 0
  return static_cast<uint8_t>(std::isnan(v) ? 0 : std::lround(v * T(255)));
}

// Any floating or u8 tensor -> contiguous u8 of the same shape (floats are taken as [0, 1]).
Tensor to_bytes(const Tensor& t, std::string_view op) {
  if (t.dtype() == DType::u8) return t.contiguous();
  Tensor src = t.contiguous();
  Tensor out = Tensor::empty(src.shape(), {.dtype = DType::u8});
  dispatch_float(src.dtype(), op, [&]<typename T>() {
    const T* s = src.data<T>();
    uint8_t* d = out.data<uint8_t>();
    for (int64_t i = 0, n = src.numel(); i < n; ++i) d[i] = to_byte(s[i]);
  });
  return out;
}

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace

namespace {
std::atomic<int64_t> g_max_image_pixels{int64_t(1) << 27};
}

void set_max_image_pixels(int64_t n) {
  EMBER_CHECK(n >= 1, "set_max_image_pixels: expected n >= 1, got {}", n);
  g_max_image_pixels.store(n);
}
int64_t max_image_pixels() { return g_max_image_pixels.load(); }

namespace {

// A PNG's chunks must fit in the file before stb sees it: Debian 12's stb_image passes a chunk
// length of 2^31 or more to stbi__getn as a negative int, and its bounds check then computes an
// overflowing pointer (found by tests/fuzz; tests/data/files/fuzz-stb-png-chunk-length.png).
// Walks length | type | data | CRC up to IEND; a file that simply ends early is left to stb.
void check_png_chunks(const std::vector<uint8_t>& b, const std::string& path) {
  static constexpr uint8_t kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() < 8 || !std::equal(kSig, kSig + 8, b.begin())) return;
  for (size_t i = 8; i + 8 <= b.size();) {
    const uint64_t n = (uint64_t(b[i]) << 24) | (uint64_t(b[i + 1]) << 16) | (uint64_t(b[i + 2]) << 8) | b[i + 3];
    const size_t left = b.size() - i - 8;  // bytes after this chunk's length and type
    EMBER_CHECK(n + 4 <= left, "load_image: {}: corrupt PNG (the chunk at byte {} declares {} bytes, the file has {} "
                "left)", path, i, n, left >= 4 ? left - 4 : 0);
    if (std::equal(b.begin() + i + 4, b.begin() + i + 8, "IEND")) return;
    i += 12 + n;
  }
}

}  // namespace

Tensor load_image(const std::string& path, int channels) {
  EMBER_CHECK(channels >= 0 && channels <= 4, "load_image: {}: channels must be 0 (as stored) or 1..4, got {}", path,
              channels);
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EMBER_CHECK(f != nullptr, "load_image: {}: cannot open ({})", path, std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), f)) > 0;) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool read_ok = !std::ferror(f);
  std::fclose(f);
  EMBER_CHECK(read_ok, "load_image: {}: read error", path);
  EMBER_CHECK(bytes.size() < (size_t(1) << 31), "load_image: {}: file of {} bytes is too large", path, bytes.size());
  if (detail::is_jpeg(bytes.data(), bytes.size()))
    return detail::decode_jpeg(bytes.data(), bytes.size(), channels, max_image_pixels(), path);
  check_png_chunks(bytes, path);
  int w = 0, h = 0, stored = 0;
  // The declared size first (stb reads only the header): a 14-byte GIF claiming 14406x24889
  // pixels must not make the decoder allocate gigabytes.
  const int len = int(bytes.size());
  EMBER_CHECK(
      !stbi_info_from_memory(bytes.data(), len, &w, &h, &stored) || int64_t(w) * int64_t(h) <= max_image_pixels(),
      "load_image: {}: declared size {}x{} ({} pixels) exceeds the limit of {} (set_max_image_pixels)", path, w, h,
      int64_t(w) * int64_t(h), max_image_pixels());
  stbi_uc* pixels = stbi_load_from_memory(bytes.data(), len, &w, &h, &stored, channels);
  EMBER_CHECK(pixels != nullptr, "load_image: {}: cannot decode ({})", path, stbi_failure_reason());
  const int c = channels ? channels : stored;
  Tensor out = Tensor::from_buffer(pixels, {h, w, c}, {.dtype = DType::u8});
  stbi_image_free(pixels);
  return out;
}

Tensor image_to_float(const Tensor& hwc) {
  EMBER_CHECK(hwc.defined() && hwc.dtype() == DType::u8 && hwc.dim() == 3,
              "image_to_float: expected u8 [H,W,C], got {}", hwc.defined() ? shape_str(hwc.shape()) : "undefined");
  Tensor src = hwc.contiguous();
  const int64_t h = src.size(0), w = src.size(1), c = src.size(2);
  Tensor out = Tensor::empty({c, h, w});
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < h * w; ++i) d[k * h * w + i] = float(s[i * c + k]) / 255.0f;
  return out;
}

Tensor image_from_float(const Tensor& chw) {
  EMBER_CHECK(chw.defined() && is_floating(chw.dtype()) && (chw.dim() == 2 || chw.dim() == 3),
              "image_from_float: expected f32/f64 [C,H,W] or [H,W], got {}",
              chw.defined() ? shape_str(chw.shape()) : "undefined");
  Tensor src = to_bytes(chw.dim() == 2 ? chw.unsqueeze(0) : chw, "image_from_float");
  const int64_t c = src.size(0), h = src.size(1), w = src.size(2);
  Tensor out = Tensor::empty({h, w, c}, {.dtype = DType::u8});
  const uint8_t* s = src.data<uint8_t>();
  uint8_t* d = out.data<uint8_t>();
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < h * w; ++i) d[i * c + k] = s[k * h * w + i];
  return out;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  errno = 0;
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  EMBER_CHECK(f != nullptr, "write: {}: cannot create {} ({})", path, tmp, std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (std::fflush(f) == 0) && ok;
  const int saved = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (ok) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    const int err = errno ? errno : saved;
    std::remove(tmp.c_str());
    EMBER_CHECK(false, "write: {}: cannot write ({})", path, std::strerror(err));
  }
}

void save_png(const std::string& path, const Tensor& image) {
  EMBER_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3), "save_png: {}: expected [H,W] or [C,H,W], got {}",
              path, image.defined() ? shape_str(image.shape()) : "an undefined tensor");
  Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
  EMBER_CHECK(c == 1 || c == 3 || c == 4, "save_png: {}: expected 1, 3 or 4 channels, got shape {}", path,
              shape_str(image.shape()));
  EMBER_CHECK(h >= 1 && w >= 1 && h < (1 << 24) && w < (1 << 24), "save_png: {}: bad image size {}", path,
              shape_str(image.shape()));
  EMBER_CHECK(image.dtype() == DType::u8 || is_floating(image.dtype()),
              "save_png: {}: expected u8 or f32/f64 pixels, got {}", path, image.dtype());
  // stb wants interleaved rows: [C,H,W] -> [H,W,C].
  Tensor hwc = to_bytes(chw, "save_png").permute({1, 2, 0}).contiguous();
  std::vector<uint8_t> png;
  const int ok = stbi_write_png_to_func(append_bytes, &png, int(w), int(h), int(c), hwc.raw_data(), int(w * c));
  EMBER_CHECK(ok != 0 && !png.empty(), "save_png: {}: PNG encoding failed", path);
  write_file_atomic(path, png);
}

Tensor make_grid(const Tensor& images, const GridOptions& opts) {
  EMBER_CHECK(images.defined() && images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
              "make_grid: expected images [N,C,H,W] with C = 1 or 3, got {}",
              images.defined() ? shape_str(images.shape()) : "an undefined tensor");
  EMBER_CHECK(images.dtype() == DType::u8 || is_floating(images.dtype()),
              "make_grid: expected u8 or f32/f64 images, got {}", images.dtype());
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  EMBER_CHECK(n >= 1, "make_grid: no images (shape {})", shape_str(images.shape()));
  EMBER_CHECK(opts.nrow >= 1 && opts.padding >= 0 && opts.scale >= 1 && opts.caption_scale >= 1,
              "make_grid: need nrow >= 1, padding >= 0, scale >= 1, caption_scale >= 1 (got {}, {}, {}, {})",
              opts.nrow, opts.padding, opts.scale, opts.caption_scale);
  EMBER_CHECK(opts.captions.empty() || int64_t(opts.captions.size()) == n,
              "make_grid: {} captions for {} images", opts.captions.size(), n);
  EMBER_CHECK(opts.caption_colors.empty() || int64_t(opts.caption_colors.size()) == n,
              "make_grid: {} caption colors for {} images", opts.caption_colors.size(), n);

  const int64_t s = opts.scale, pad = opts.padding * s, cell_w = w * s, cell_h = h * s;
  const int64_t text_h = opts.captions.empty() ? 0 : 12 * opts.caption_scale;
  const int64_t cols = std::min(opts.nrow, n), rows = (n + cols - 1) / cols;
  const int64_t out_w = cols * (cell_w + pad) + pad, out_h = rows * (cell_h + text_h + pad) + pad;
  Tensor grid = Tensor::empty({3, out_h, out_w}, {.dtype = DType::u8});
  uint8_t* g = grid.data<uint8_t>();
  const uint8_t bg[3] = {opts.background.r, opts.background.g, opts.background.b};
  for (int64_t k = 0; k < 3; ++k) std::memset(g + k * out_h * out_w, bg[k], size_t(out_h * out_w));

  Tensor bytes = to_bytes(images, "make_grid");
  const uint8_t* src = bytes.data<uint8_t>();
  parallel_for(n, 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t top = pad + (i / cols) * (cell_h + text_h + pad), left = pad + (i % cols) * (cell_w + pad);
      for (int64_t k = 0; k < 3; ++k) {
        const uint8_t* plane = src + (i * c + (c == 1 ? 0 : k)) * h * w;  // gray fills R, G and B
        uint8_t* dst = g + k * out_h * out_w;
        for (int64_t y = 0; y < cell_h; ++y) {
          const uint8_t* row = plane + (y / s) * w;
          uint8_t* out_row = dst + (top + y) * out_w + left;
          for (int64_t x = 0; x < cell_w; ++x) out_row[x] = row[x / s];
        }
      }
    }
  });
  for (int64_t i = 0; i < int64_t(opts.captions.size()); ++i) {
    const int64_t top = pad + (i / cols) * (cell_h + text_h + pad) + cell_h, left = pad + (i % cols) * (cell_w + pad);
    const Rgb color = opts.caption_colors.empty() ? kWhite : opts.caption_colors[size_t(i)];
    draw_text(grid, opts.captions[size_t(i)], left, top + opts.caption_scale, color, opts.caption_scale, left, top,
              left + cell_w, top + text_h);
  }
  return grid;
}

void save_grid(const std::string& path, const Tensor& images, const GridOptions& opts) {
  save_png(path, make_grid(images, opts));
}

}  // namespace ember::data
