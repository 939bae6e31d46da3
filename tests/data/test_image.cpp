// Images: PNG round trips through real files in a temp dir (u8 and float, gray/RGB/RGBA, [H,W]
// and [C,H,W]), JPEGs written with stb_image_write and decoded back by libjpeg-turbo, layout conversions, atomic
// writes (no temp file left behind), decoder errors, and grids: layout, scaling, caption pixels.
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <stb/stb_image_write.h>

#include <filesystem>

#include "data/image.h"
#include "temp_dir.h"
#include "tests/common/expect_close.h"

namespace ember::data {
namespace {

using test::TempDir;
using test::throws_with;

// u8 [C,H,W] with a distinct-ish value per pixel and channel.
Tensor pattern_u8(int64_t c, int64_t h, int64_t w) {
  std::vector<uint8_t> v(size_t(c * h * w));
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((i * 37 + 11) % 256);
  return Tensor::from_vector(v, {c, h, w}, {.dtype = DType::u8});
}

std::vector<std::string> leftovers(const TempDir& dir) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

TEST(Image, PngRoundTripU8AllChannelCounts) {
  TempDir dir;
  for (int64_t c : {1, 3, 4}) {
    Tensor chw = pattern_u8(c, 5, 7);
    const std::string path = dir.file("img" + std::to_string(c) + ".png");
    save_png(path, chw);
    Tensor hwc = load_image(path);
    ASSERT_EQ(hwc.shape(), (Shape{5, 7, c}));
    EXPECT_EQ(hwc.to_vector<uint8_t>(), chw.permute({1, 2, 0}).contiguous().to_vector<uint8_t>()) << "C " << c;
  }
  // [H,W] is saved as gray; channels = 3 expands gray to RGB on load.
  Tensor hw = pattern_u8(1, 4, 6).squeeze(0);
  save_png(dir.file("gray.png"), hw);
  Tensor rgb = load_image(dir.file("gray.png"), 3);
  ASSERT_EQ(rgb.shape(), (Shape{4, 6, 3}));
  EXPECT_TRUE(test::all_close(rgb.select(2, 1), hw, 0, 0));
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(Image, FloatRoundTripAndClamping) {
  TempDir dir;
  // k / 255 for k = 0..47 survive exactly; out-of-range values clamp.
  Tensor x = Tensor::arange(0, 48).reshape({3, 4, 4}) / 255.0;
  save_png(dir.file("f.png"), x);
  Tensor back = image_to_float(load_image(dir.file("f.png")));
  ASSERT_EQ(back.shape(), (Shape{3, 4, 4}));
  EXPECT_TRUE(test::all_close(back, x, 0, 1e-7));
  Tensor wild = Tensor::from_vector<float>({-1.0f, 0.5f, 2.0f, 1.0f}, {1, 2, 2});
  save_png(dir.file("w.png"), wild);
  EXPECT_EQ(load_image(dir.file("w.png")).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 128, 255, 255}));
  // image_from_float / image_to_float are inverse on byte values.
  Tensor hwc = pattern_u8(3, 2, 5).permute({1, 2, 0}).contiguous();
  EXPECT_EQ(image_from_float(image_to_float(hwc)).to_vector<uint8_t>(), hwc.to_vector<uint8_t>());
  EXPECT_EQ(image_from_float(Tensor::full({2, 3}, 0.2)).shape(), (Shape{2, 3, 1}));
}

TEST(Image, JpegDecodes) {
  TempDir dir;
  // A smooth 16x16 RGB gradient, encoded at quality 95 by stb_image_write (in ember_data).
  std::vector<uint8_t> px(16 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      px[size_t((y * 16 + x) * 3 + 0)] = uint8_t(x * 16);
      px[size_t((y * 16 + x) * 3 + 1)] = uint8_t(y * 16);
      px[size_t((y * 16 + x) * 3 + 2)] = 128;
    }
  const std::string path = dir.file("g.jpg");
  ASSERT_NE(stbi_write_jpg(path.c_str(), 16, 16, 3, px.data(), 95), 0);
  Tensor img = load_image(path);
  ASSERT_EQ(img.shape(), (Shape{16, 16, 3}));
  auto got = img.to_vector<uint8_t>();
  int max_err = 0;
  for (size_t i = 0; i < px.size(); ++i) max_err = std::max(max_err, std::abs(int(got[i]) - int(px[i])));
  EXPECT_LE(max_err, 24);  // lossy: a smooth gradient at quality 95 stays close
  EXPECT_EQ(load_image(path, 1).shape(), (Shape{16, 16, 1}));
}

TEST(Image, ErrorsNameTheFile) {
  TempDir dir;
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("none.png")); },
                          {"load_image: " + dir.file("none.png") + ": cannot open (No such file or directory)"}));
  test::write_bytes(dir.file("text.png"), {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("text.png")); },
                          {"load_image: " + dir.file("text.png") + ": cannot decode (", "image"}));
  // A PNG cut short inside a chunk: refused before stb, naming the chunk.
  save_png(dir.file("ok.png"), pattern_u8(3, 32, 32));
  auto bytes = test::read_bytes(dir.file("ok.png"));
  test::write_bytes(dir.file("cut.png"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(bytes.size() / 2)));
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("cut.png")); }, {dir.file("cut.png"), "corrupt PNG", "declares"}));
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("ok.png"), 5); }, {"channels must be 0 (as stored) or 1..4"}));
  EXPECT_TRUE(throws_with([&] { save_png(dir.file("two.png"), Tensor::zeros({2, 4, 4})); },
                          {"save_png: " + dir.file("two.png"), "expected 1, 3 or 4 channels", "[2,4,4]"}));
  EXPECT_TRUE(throws_with([&] { save_png(dir.file("i64.png"), Tensor::zeros({4, 4}).to(DType::i64)); },
                          {"expected u8 or f32/f64 pixels, got i64"}));
  const std::string nodir = dir.file("missing_dir/x.png");
  EXPECT_TRUE(throws_with([&] { save_png(nodir, Tensor::zeros({4, 4})); }, {nodir, "cannot create"}));
  EXPECT_TRUE(leftovers(dir).empty());
}

// Outside review: a 14-byte GIF declaring 14406x24889 pixels made stb allocate ~3.2 GB before
// failing. The declared size is checked against max_image_pixels() before decoding.
TEST(Image, DeclaredSizeBeyondTheLimitIsRefusedBeforeDecoding) {
  TempDir dir;
  // GIF89a, width 14406 (0x3846), height 24889 (0x6139), flags, background, aspect, 1 more byte.
  test::write_bytes(dir.file("bomb.gif"), {'G', 'I', 'F', '8', '9', 'a', 0x46, 0x38, 0x39, 0x61, 0x80, 0, 0, 0});
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("bomb.gif")); },
                          {dir.file("bomb.gif"), "declared size 14406x24889 (358550934 pixels) exceeds the limit"}));
  // The limit is a setting: a 32x32 PNG passes the default, fails a limit of 1000 pixels.
  save_png(dir.file("ok.png"), pattern_u8(3, 32, 32));
  EXPECT_EQ(load_image(dir.file("ok.png")).shape(), (Shape{32, 32, 3}));
  const int64_t saved = max_image_pixels();
  set_max_image_pixels(1000);
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("ok.png")); }, {"32x32 (1024 pixels) exceeds the limit of 1000"}));
  set_max_image_pixels(saved);
  EXPECT_EQ(load_image(dir.file("ok.png")).shape(), (Shape{32, 32, 3}));
}

// Found by the image fuzzer (clang ASan/UBSan) in Debian 12's stb_image JPEG decoder: a Huffman
// table declaring 4080 codes overflowed a 256-entry table, and corrupt entropy data made the bit
// reader shift by 33. JPEG now goes to libjpeg-turbo, which refuses both with a clear error.
TEST(Image, CorruptJpegGetsAClearErrorFromLibjpeg) {
  TempDir dir;
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x13, 0x00};  // SOI, DHT of 17 bytes, table 0
  for (int i = 0; i < 16; ++i) jpeg.push_back(0xFF);                         // 16 x 255 = 4080 codes
  jpeg.insert(jpeg.end(), {0xFF, 0xD9});
  test::write_bytes(dir.file("huff.jpg"), jpeg);
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("huff.jpg")); }, {dir.file("huff.jpg"), "cannot decode JPEG"}));
  std::vector<uint8_t> cut = {0xFF, 0xD8, 0x12, 0x34, 0xFF, 0xC4, 0x01, 0x00, 0x10, 0xFF, 0xFF};
  test::write_bytes(dir.file("cut.jpg"), cut);
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("cut.jpg")); }, {"cut.jpg", "cannot decode JPEG"}));
  // The fuzzer's input for the shift by 33: decodes or fails cleanly, never undefined behaviour
  // (this test runs under clang's UBSan in CI).
  const std::string shift = std::string(EMBER_TEST_FILES) + "/fuzz-stb-jpeg-shift.jpg";
  try {
    const Tensor img = load_image(shift, 3);
    EXPECT_EQ(img.size(2), 3);
  } catch (const ember::Error& e) {
    EXPECT_NE(std::string(e.what()).find("fuzz-stb-jpeg-shift.jpg"), std::string::npos) << e.what();
  }
}

// A single-component (grayscale) JPEG, written with libjpeg (stb_image_write always writes YCbCr).
std::vector<uint8_t> gray_jpeg(int w, int h) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = 1;
  c.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(w));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) row[size_t(x)] = uint8_t((x + y) * 4);
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// The image fuzzer's fourth finding: a PNG chunk declaring 3,788,773,221 bytes reached stb's
// stbi__getn as a negative int (pointer overflow, UBSan). Chunk lengths are checked against the
// file before stb runs; a valid PNG with ancillary chunks still loads.
TEST(Image, PngChunkLongerThanTheFileIsRefusedBeforeStb) {
  const std::string bad = std::string(EMBER_TEST_FILES) + "/fuzz-stb-png-chunk-length.png";
  EXPECT_TRUE(throws_with([&] { load_image(bad); },
                          {"fuzz-stb-png-chunk-length.png", "corrupt PNG", "byte 45", "declares 3788773221 bytes"}));
  TempDir dir;
  std::vector<uint8_t> px(7 * 3 * 3, 200);
  const std::string good = dir.file("ok.png");
  ASSERT_NE(stbi_write_png(good.c_str(), 7, 3, 3, px.data(), 7 * 3), 0);
  EXPECT_EQ(load_image(good).shape(), (Shape{3, 7, 3}));
  // A file that ends right after a complete chunk (no IEND) is left to stb, which refuses it.
  auto bytes = test::read_bytes(good);
  test::write_bytes(dir.file("noend.png"), std::vector<uint8_t>(bytes.begin(), bytes.end() - 12));
  EXPECT_TRUE(throws_with([&] { load_image(dir.file("noend.png")); }, {"noend.png"}));
}

// The image fuzzer's next finding: stb's PNM header parser overflows a signed int on a long width.
// ember decodes PNG, BMP and GIF with stb and JPEG with libjpeg-turbo; anything else is refused.
TEST(Image, FormatsOutsidePngJpegBmpGifAreRefusedClearly) {
  const std::string pnm = std::string(EMBER_TEST_FILES) + "/fuzz-stb-pnm-overflow.pgm";
  EXPECT_TRUE(throws_with([&] { load_image(pnm); }, {"fuzz-stb-pnm-overflow.pgm", "cannot decode"}));
  TempDir dir;
  std::vector<uint8_t> px(6 * 5 * 3, 77);
  const std::string tga = dir.file("x.tga");
  ASSERT_NE(stbi_write_tga(tga.c_str(), 6, 5, 3, px.data()), 0);
  EXPECT_TRUE(throws_with([&] { load_image(tga); }, {"x.tga", "cannot decode"}));
  const std::string bmp = dir.file("x.bmp");  // BMP stays supported
  ASSERT_NE(stbi_write_bmp(bmp.c_str(), 6, 5, 3, px.data()), 0);
  EXPECT_EQ(load_image(bmp).to_vector<uint8_t>(), px);
}

TEST(Image, JpegChannelConversionsAndSizeLimit) {
  TempDir dir;
  std::vector<uint8_t> gray(24 * 40);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t(i % 40 * 6);
  const std::string g = dir.file("gray.jpg");
  ASSERT_NE(stbi_write_jpg(g.c_str(), 40, 24, 1, gray.data(), 95), 0);
  EXPECT_EQ(load_image(g).shape(), (Shape{24, 40, 3}));  // stb_image_write stores YCbCr even for gray
  const Tensor rgb = load_image(g, 3), ga = load_image(g, 2), rgba = load_image(g, 4);
  ASSERT_EQ(rgb.shape(), (Shape{24, 40, 3}));
  ASSERT_EQ(ga.shape(), (Shape{24, 40, 2}));
  ASSERT_EQ(rgba.shape(), (Shape{24, 40, 4}));
  const auto v3 = rgb.to_vector<uint8_t>(), v2 = ga.to_vector<uint8_t>(), v4 = rgba.to_vector<uint8_t>();
  const auto v1 = load_image(g, 1).to_vector<uint8_t>();
  for (size_t i = 0; i < v1.size(); ++i) {
    ASSERT_LE(std::abs(int(v3[3 * i]) - int(v1[i])), 2);  // neutral chroma: R, G, B close to luma
    ASSERT_LE(std::abs(int(v3[3 * i + 2]) - int(v1[i])), 2);
    ASSERT_EQ(v2[2 * i], v1[i]);
    ASSERT_EQ(v2[2 * i + 1], 255);  // opaque alpha
    ASSERT_EQ(v4[4 * i + 3], 255);
  }
  const int64_t saved = max_image_pixels();
  set_max_image_pixels(24 * 40 - 1);
  EXPECT_TRUE(throws_with([&] { load_image(g); }, {"gray.jpg", "40x24 (960 pixels) exceeds the limit of 959"}));
  set_max_image_pixels(saved);
  test::write_bytes(dir.file("one.jpg"), gray_jpeg(9, 5));  // a true single-component JPEG
  EXPECT_EQ(load_image(dir.file("one.jpg")).shape(), (Shape{5, 9, 1}));
  EXPECT_EQ(load_image(dir.file("one.jpg"), 3).shape(), (Shape{5, 9, 3}));
}

TEST(Image, AtomicWriteReplacesExistingFile) {
  TempDir dir;
  const std::string path = dir.file("x.bin");
  write_file_atomic(path, {1, 2, 3});
  write_file_atomic(path, {4, 5});
  EXPECT_EQ(test::read_bytes(path), (std::vector<uint8_t>{4, 5}));
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(Grid, LayoutAndScaling) {
  // 5 gray 2x3 images, 2 per row, padding 1, scale 2: 3 rows; width 2*(6+2)+2 = 18, height 3*(4+2)+2 = 20.
  Tensor imgs = Tensor::empty({5, 1, 2, 3});
  for (int64_t i = 0; i < 5; ++i) imgs.select(0, i).fill_(double(i + 1) / 10.0);
  Tensor g = make_grid(imgs, {.nrow = 2, .padding = 1, .scale = 2});
  ASSERT_EQ(g.dtype(), DType::u8);
  ASSERT_EQ(g.shape(), (Shape{3, 20, 18}));
  auto at = [&](int64_t c, int64_t y, int64_t x) { return int(g.data<uint8_t>()[(c * 20 + y) * 18 + x]); };
  EXPECT_EQ(at(0, 0, 0), 0);    // background
  EXPECT_EQ(at(0, 2, 2), 26);   // image 0 (0.1 * 255 = 25.5 rounds to 26), top-left of its cell
  EXPECT_EQ(at(2, 5, 7), 26);   // same cell's bottom-right, blue plane too (gray -> RGB)
  EXPECT_EQ(at(1, 2, 10), 51);  // image 1 in the second column
  EXPECT_EQ(at(0, 14, 2), 128);  // image 4, third row
  EXPECT_EQ(at(0, 14, 10), 0);   // the empty sixth cell stays background
  EXPECT_EQ(at(0, 2, 8), 0);     // padding between columns
  // u8 RGB input keeps its colours.
  Tensor rgb = Tensor::zeros({1, 3, 1, 1}, {.dtype = DType::u8});
  rgb.data<uint8_t>()[0] = 200;
  rgb.data<uint8_t>()[2] = 90;
  Tensor g2 = make_grid(rgb, {.padding = 0});
  EXPECT_EQ(g2.to_vector<uint8_t>(), (std::vector<uint8_t>{200, 0, 90}));
  EXPECT_TRUE(throws_with([&] { make_grid(Tensor::zeros({2, 2, 4, 4})); }, {"make_grid", "C = 1 or 3", "[2,2,4,4]"}));
  EXPECT_TRUE(throws_with([&] { make_grid(imgs, {.captions = {"a"}}); }, {"make_grid: 1 captions for 5 images"}));
}

TEST(Grid, CaptionsAreDrawnInTheirColourUnderTheirCell) {
  TempDir dir;
  Tensor imgs = Tensor::full({2, 1, 28, 28}, 0.5);
  GridOptions opts{.nrow = 2, .padding = 2, .scale = 2, .captions = {"Bag", "Coat"}, .caption_colors = {kGreen, kRed}};
  Tensor g = make_grid(imgs, opts);
  const int64_t pad = 4, cell = 56, text_h = 12;
  ASSERT_EQ(g.shape(), (Shape{3, pad + cell + text_h + pad, 2 * (cell + pad) + pad}));
  const int64_t h = g.size(1), w = g.size(2);
  const uint8_t* p = g.data<uint8_t>();
  // Count caption pixels of each colour inside each cell's text strip, and anywhere else.
  auto colour_at = [&](int64_t y, int64_t x) { return Rgb{p[y * w + x], p[(h + y) * w + x], p[(2 * h + y) * w + x]}; };
  auto is = [](Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; };
  int64_t green_in = 0, red_in = 0, coloured_out = 0;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      Rgb c = colour_at(y, x);
      const bool strip = y >= pad + cell && y < pad + cell + text_h;
      const bool left = x >= pad && x < pad + cell, right = x >= 2 * pad + cell && x < 2 * pad + 2 * cell;
      if (is(c, kGreen)) (strip && left ? green_in : coloured_out) += 1;
      if (is(c, kRed)) (strip && right ? red_in : coloured_out) += 1;
    }
  EXPECT_GT(green_in, 15);  // "Bag": three glyphs of several segments each
  EXPECT_GT(red_in, 20);    // "Coat"
  EXPECT_EQ(coloured_out, 0);
  // The image pixels are untouched by the text.
  EXPECT_EQ(int(p[(pad + cell - 1) * w + pad]), 128);
  // Default colour white; the saved file holds the same pixels; odd characters are tolerated.
  opts.caption_colors.clear();
  opts.captions = {"\x01\xff", "a very long caption that gets clipped"};
  Tensor gw = make_grid(imgs, opts);
  save_grid(dir.file("grid.png"), imgs, opts);
  Tensor back = load_image(dir.file("grid.png"));
  EXPECT_EQ(back.to_vector<uint8_t>(), gw.permute({1, 2, 0}).contiguous().to_vector<uint8_t>());
  int64_t white = 0;
  for (int64_t y = pad + cell; y < pad + cell + text_h; ++y)
    for (int64_t x = 0; x < w; ++x) white += is(Rgb{gw.data<uint8_t>()[y * w + x], gw.data<uint8_t>()[(h + y) * w + x],
                                                     gw.data<uint8_t>()[(2 * h + y) * w + x]},
                                                 kWhite);
  EXPECT_GT(white, 30);
  EXPECT_TRUE(leftovers(dir).empty());
}

}  // namespace
}  // namespace ember::data
