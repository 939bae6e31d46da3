// Caption text for image grids: stb_easy_font (libstb-dev) turns a string into axis-aligned quads
// in font units (glyphs about 6 units wide, lines 12 apart); we rasterize each quad ourselves as
// a scale x scale-pixel block per unit into an RGB u8 [3, H, W] image, clipped to a rectangle.
// stb_easy_font is all static functions, so this file is its only user; the functions we do not
// call would warn as unused, hence the pragma around the include.
#include <algorithm>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "data/image.h"

namespace ember::data {

void draw_text(Tensor& rgb, const std::string& text, int64_t x, int64_t y, Rgb color, int64_t scale, int64_t x0,
               int64_t y0, int64_t x1, int64_t y1) {
  EMBER_CHECK(rgb.dtype() == DType::u8 && rgb.dim() == 3 && rgb.size(0) == 3 && rgb.is_contiguous(),
              "draw_text: expected a contiguous u8 [3,H,W] image, got {} {}", rgb.dtype(), shape_str(rgb.shape()));
  EMBER_CHECK(scale >= 1, "draw_text: scale must be >= 1, got {}", scale);
  const int64_t h = rgb.size(1), w = rgb.size(2);
  x0 = std::max<int64_t>(x0, 0), y0 = std::max<int64_t>(y0, 0);
  x1 = std::min(x1, w), y1 = std::min(y1, h);
  if (text.empty() || x0 >= x1 || y0 >= y1) return;

  // The font covers printable ASCII (32..126); its tables index past the end for anything else.
  std::string clean = text;
  for (char& ch : clean)
    if (ch != '\n' && (ch < 32 || ch > 126)) ch = '?';
  // Each segment of a glyph is one quad of 4 vertices x 16 bytes; no glyph has more than 16
  // segments, so 1 KiB per character is ample. float storage keeps the vertex floats aligned.
  std::vector<float> vbuf(clean.size() * 256 + 16);
  const int quads = stb_easy_font_print(0, 0, clean.data(), nullptr, vbuf.data(), int(vbuf.size() * sizeof(float)));

  uint8_t* planes[3];
  for (int c = 0; c < 3; ++c) planes[c] = rgb.data<uint8_t>() + c * h * w;
  const uint8_t value[3] = {color.r, color.g, color.b};
  for (int q = 0; q < quads; ++q) {
    // Vertex 0 is the quad's top-left corner, vertex 2 its bottom-right (4 floats per vertex).
    const float* v = vbuf.data() + q * 16;
    const int64_t qx0 = std::max(x0, x + int64_t(v[0]) * scale), qy0 = std::max(y0, y + int64_t(v[1]) * scale);
    const int64_t qx1 = std::min(x1, x + int64_t(v[8]) * scale), qy1 = std::min(y1, y + int64_t(v[9]) * scale);
    for (int c = 0; c < 3; ++c)
      for (int64_t py = qy0; py < qy1; ++py)
        for (int64_t px = qx0; px < qx1; ++px) planes[c][py * w + px] = value[c];
  }
}

}  // namespace ember::data
