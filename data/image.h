// Images on disk: PNG/BMP/GIF decoding (stb_image), JPEG (libjpeg-turbo), PNG encoding (stb_image_write), layout
// conversion, and labelled image grids with captions drawn in stb_easy_font's bitmap font.
// Layouts: files decode to u8 [H, W, C] (interleaved, as stored); models use f32 [C, H, W] in
// [0, 1]. Every write goes to "<path>.tmp.<pid>" and is renamed over `path` once complete, so a
// crash or full disk never leaves a half-written image. Errors throw ember::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace ember::data {

// Decodes a PNG, JPEG, BMP or GIF file (other formats are refused) into u8 [H, W, C]. channels 0 keeps the file's channel count; 1..4
// converts (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). "load_image: <path>: <the decoder's reason>".
// Files declaring more than max_image_pixels() pixels (width x height, default 2^27 = 134M) are
// refused before decoding: "load_image: <path>: declared size WxH (...) exceeds the limit".
Tensor load_image(const std::string& path, int channels = 0);
void set_max_image_pixels(int64_t n);  // process-wide; n >= 1
int64_t max_image_pixels();

// u8 [H, W, C] -> f32 [C, H, W] in [0, 1] (x / 255).
Tensor image_to_float(const Tensor& hwc_u8);
// f32/f64 [C, H, W] (or [H, W]) -> u8 [H, W, C] (C = 1 for [H, W]): clamps to [0, 1], rounds x * 255.
Tensor image_from_float(const Tensor& chw);

// Writes a PNG. `image` is [H, W] or [C, H, W] with C in {1, 3, 4} (gray, RGB, RGBA): either
// f32/f64 in [0, 1] (clamped) or u8. Channel-first for both dtypes; image_from_float's
// [H, W, C] output is for encoders, not for this function.
void save_png(const std::string& path, const Tensor& image);

struct Rgb {
  uint8_t r = 255, g = 255, b = 255;
};
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kGreen{40, 200, 60};
inline constexpr Rgb kRed{230, 40, 40};

struct GridOptions {
  int64_t nrow = 8;     // images per row
  int64_t padding = 2;  // background pixels between and around cells (before scaling)
  int64_t scale = 1;    // nearest-neighbour upscaling of each image (and of the padding)
  std::vector<std::string> captions{};  // empty, or one per image: drawn under its cell
  std::vector<Rgb> caption_colors{};  // empty (white), or one per image
  int64_t caption_scale = 1;          // font pixel size (stb_easy_font glyphs are ~6x8 units)
  Rgb background{0, 0, 0};
};

// Tiles images [N, C, H, W] (C = 1 or 3; f32/f64 in [0, 1], clamped, or u8) into one RGB
// image u8 [3, rows, cols]: ceil(N / nrow) rows of nrow cells, each cell the scaled image and,
// with captions, a text strip of 12 * caption_scale pixels under it. Text wider than its cell
// is clipped. Characters outside printable ASCII are drawn as '?'.
Tensor make_grid(const Tensor& images, const GridOptions& opts = {});
// save_png(path, make_grid(images, opts)).
void save_grid(const std::string& path, const Tensor& images, const GridOptions& opts = {});

// Writes `bytes` to path through "<path>.tmp.<pid>" and a rename; throws naming the file and errno.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

// Draws `text` in stb_easy_font with its top-left corner at (x, y) into an RGB image u8 [3, H, W],
// each font unit a scale x scale block, clipped to the rectangle [x0, x1) x [y0, y1). (image_text.cpp)
void draw_text(Tensor& rgb, const std::string& text, int64_t x, int64_t y, Rgb color, int64_t scale, int64_t x0,
               int64_t y0, int64_t x1, int64_t y1);

}  // namespace ember::data
