// libjpeg-turbo decoding for load_image (see jpeg.h). libjpeg reports fatal errors through an
// error_exit callback that must not return; C++ exceptions must not cross libjpeg's C frames, so
// the callback longjmps back into decode_rows(), whose locals are all trivially destructible, and
// the error becomes an ember::Error once we are back in C++ code.
#include "data/jpeg.h"

#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ember::data::detail {
namespace {

struct ErrorManager {
  jpeg_error_mgr mgr;  // first member: libjpeg passes &mgr, we cast back
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void on_message(j_common_ptr, int) {}  // warnings (e.g. premature end of data) are not printed

struct Header {
  int64_t width = 0, height = 0;
  int stored = 0;  // 1 or 3
  bool cmyk = false;
};

// Everything libjpeg touches happens here, between setjmp and the last libjpeg call; no object
// with a destructor lives in this frame. `pixels` is allocated (malloc) only once the header
// has been read and checked against max_pixels. Returns false with e.message set on failure.
bool decode_rows(const uint8_t* data, size_t size, int channels, int64_t max_pixels, Header* header,
                 unsigned char** pixels, ErrorManager* e) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&e->mgr);
  e->mgr.error_exit = on_error;
  e->mgr.emit_message = on_message;
  e->message[0] = '\0';
  unsigned char* volatile out = nullptr;
  if (setjmp(e->jump) != 0) {
    std::free(out);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  header->width = cinfo.image_width;
  header->height = cinfo.image_height;
  header->cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  header->stored = cinfo.num_components == 1 ? 1 : 3;
  if (header->cmyk || header->width * header->height > max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    return true;  // the caller reports it
  }
  const int want = channels == 0 ? header->stored : channels;
  cinfo.out_color_space = want <= 2 ? JCS_GRAYSCALE : want == 3 ? JCS_RGB : JCS_EXT_RGBA;
  jpeg_start_decompress(&cinfo);
  const size_t row = size_t(cinfo.output_width) * size_t(cinfo.output_components);
  out = static_cast<unsigned char*>(std::malloc(row * cinfo.output_height));
  if (out == nullptr) {
    std::snprintf(e->message, sizeof(e->message), "out of memory for %ux%u pixels", cinfo.output_width,
                  cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW dst = out + size_t(cinfo.output_scanline) * row;
    jpeg_read_scanlines(&cinfo, &dst, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  *pixels = out;
  return true;
}

}  // namespace

bool is_jpeg(const uint8_t* data, size_t size) { return size >= 2 && data[0] == 0xFF && data[1] == 0xD8; }

Tensor decode_jpeg(const uint8_t* data, size_t size, int channels, int64_t max_pixels, const std::string& path) {
  ErrorManager e;
  Header h;
  unsigned char* pixels = nullptr;
  const bool ok = decode_rows(data, size, channels, max_pixels, &h, &pixels, &e);
  EMBER_CHECK(ok, "load_image: {}: cannot decode JPEG ({})", path, e.message);
  EMBER_CHECK(!h.cmyk, "load_image: {}: CMYK/YCCK JPEG files are not supported (convert to RGB)", path);
  EMBER_CHECK(h.width * h.height <= max_pixels,
              "load_image: {}: declared size {}x{} ({} pixels) exceeds the limit of {} (set_max_image_pixels)", path,
              h.width, h.height, h.width * h.height, max_pixels);
  const int decoded = channels == 0 ? h.stored : channels <= 2 ? 1 : channels;
  Tensor out = Tensor::from_buffer(pixels, {h.height, h.width, decoded}, {.dtype = DType::u8});
  std::free(pixels);
  if (channels == 2) {  // gray + opaque alpha
    Tensor ga = Tensor::empty({h.height, h.width, 2}, {.dtype = DType::u8});
    const uint8_t* s = out.data<uint8_t>();
    uint8_t* d = ga.data<uint8_t>();
    for (int64_t i = 0, n = h.height * h.width; i < n; ++i) {
      d[2 * i] = s[i];
      d[2 * i + 1] = 255;
    }
    return ga;
  }
  return out;
}

}  // namespace ember::data::detail
