// Safetensors checkpoints, byte-compatible with the Hugging Face format, so a file written here
// opens in PyTorch/NumPy (safetensors.torch.load_file) and the other way round.
//
// Layout: [u64 little-endian N][N bytes of JSON header, padded with spaces to a multiple of 8]
// [data]. The header maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets":
// [begin, end]} (byte offsets into the data section) and may hold "__metadata__": {str: str}.
// Data is row-major, little-endian, and the tensors tile the data section exactly.
//
// dtypes: F32 F64 I32 I64 U8 map to ember's f32 f64 i32 i64 u8. On load, BOOL becomes u8 (0/1)
// and F16/BF16 are widened exactly to f32 (ember has no 16-bit storage dtype yet); every other
// safetensors dtype (I8, I16, U16, U32, U64, F8_*) is rejected with an ember::Error.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace ember::nn {

// Named tensors in file order plus string metadata: what a safetensors file holds. Also the
// shape of an optimizer's state_dict().
struct TensorDict {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  // The tensor called `name`, or nullptr (linear scan: files hold tens to hundreds of tensors).
  const Tensor* find(const std::string& name) const;
  // Like find but throws "safetensors: no tensor named '<name>'" when absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  std::vector<std::string> names() const;
};

// Writes `tensors` (any device, any strides: each is copied to contiguous CPU memory), listed in
// the header in the given order, with `metadata` as "__metadata__" (omitted when empty). The data
// section holds them by decreasing element size, so each starts aligned to its element size. The file is written to
// "<path>.tmp.<pid>" and renamed over `path`, so readers never see a half-written checkpoint.
// Throws on an empty or duplicate name, the reserved name "__metadata__", an undefined tensor or
// an I/O failure.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Limits on untrusted input (docs/reliability.md). A real header is ~100 bytes per tensor, so
// 16 MiB covers ~150k tensors; parsing a header costs up to ~40x its size in memory.
struct SafetensorsOptions {
  uint64_t max_header_bytes = uint64_t(16) << 20;
};

// Reads a whole file into CPU tensors. The header is validated completely before any data is read:
// file shorter than 8 bytes, header length beyond the file, invalid JSON, a missing or ill-typed
// field, an unknown or unsupported dtype, shape x dtype size != end - begin, offsets outside the
// data section, overlapping or with gaps, trailing bytes. Each failure throws an ember::Error that
// names the file and the offending tensor or field. The header must also stay within
// options.max_header_bytes, nest at most 8 levels and hold no array longer than 64 elements.
TensorDict load_safetensors(const std::string& path, const SafetensorsOptions& options = {});

}  // namespace ember::nn
