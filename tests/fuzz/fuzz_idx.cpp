// libFuzzer target: the IDX reader on arbitrary bytes, plain or gzip (zlib detects which), through
// all three entry points.
#include "data/idx.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = ember::fuzz::scratch_path(".idx");
  ember::fuzz::write_file(path, data, size);
  for (int mode = 0; mode < 3; ++mode) {
    try {
      ember::Tensor t = mode == 0 ? ember::data::read_idx(path)
                        : mode == 1 ? ember::data::read_idx_images(path)
                                    : ember::data::read_idx_labels(path);
      (void)t.numel();
    } catch (const ember::Error&) {
    }
  }
  return 0;
}
