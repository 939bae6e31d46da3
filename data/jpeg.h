// JPEG decoding through libjpeg-turbo (Debian libjpeg62-turbo-dev), used by load_image for every
// file that starts with a JPEG marker. stb_image decodes the other formats, but not JPEG: the
// Debian 12 snapshot's JPEG decoder overflows a Huffman table and shifts by 33 on corrupt data
// (both found by tests/fuzz/fuzz_image), while libjpeg-turbo is the decoder the field fuzzes
// continuously (OSS-Fuzz). Internal to ember_data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace ember::data::detail {

// True when the bytes start with a JPEG start-of-image marker (0xFF 0xD8).
bool is_jpeg(const uint8_t* data, size_t size);

// Decodes a JPEG into u8 [H, W, C]: channels 0 keeps the file's count (1 for grayscale, 3
// otherwise), 1..4 converts (2 and 4 add an opaque alpha). Refuses, before any pixel buffer is
// allocated, files declaring more than max_pixels pixels. Throws ember::Error
// "load_image: <path>: ..." with libjpeg's message for corrupt or unsupported (CMYK) files.
Tensor decode_jpeg(const uint8_t* data, size_t size, int channels, int64_t max_pixels, const std::string& path);

}  // namespace ember::data::detail
