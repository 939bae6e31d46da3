// libFuzzer target: data::load_image (libjpeg-turbo for JPEG; stb for PNG, BMP, GIF, TGA, PSD, PIC, PNM,
// HDR) on arbitrary bytes, as stored and converted to 1..4 channels. The pixel limit is lowered to 2^22 so a
// valid-looking huge header is refused (the point under test) instead of exhausting the fuzzer's memory.
#include "data/image.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = ember::fuzz::scratch_path(".img");
  static const bool once = (ember::data::set_max_image_pixels(int64_t(1) << 22), true);
  (void)once;
  ember::fuzz::write_file(path, data, size);
  for (int channels : {0, 1, 2, 3, 4}) {
    try {
      ember::Tensor t = ember::data::load_image(path, channels);
      (void)ember::data::image_to_float(t).numel();
    } catch (const ember::Error&) {
    }
  }
  return 0;
}
