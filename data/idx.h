// IDX files (the MNIST / Fashion-MNIST container): a 4-byte magic number 0x0000TTDD (TT the
// element type, 0x08 = unsigned byte; DD the number of dims), DD big-endian u32 dims, then the
// row-major payload. Files may be gzip-compressed (.gz) or plain; zlib reads both.
//
// Every reader validates the magic number, the dims and that the payload holds exactly the bytes
// the header promises (no truncation, no trailing bytes); failures throw ember::Error naming the
// file and the field: "idx: /x/train.gz: header says 60000 images of 28x28 but payload holds 12345 bytes".
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace ember::data {

// Any u8 IDX file (magic 0x000008DD, 1 <= DD <= 4): u8 tensor with the header's dims.
Tensor read_idx(const std::string& path);

// Image file (magic 0x00000803): u8 [N, H, W].
Tensor read_idx_images(const std::string& path);

// Label file (magic 0x00000801): i64 [N].
Tensor read_idx_labels(const std::string& path);

}  // namespace ember::data
