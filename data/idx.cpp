// IDX reader (see idx.h). The file is streamed through zlib's gz* API, which inflates .gz files
// and passes plain files through unchanged; the payload is read straight into the tensor's storage,
// so one pass over the file is all the work. Big-endian header fields are decoded byte by byte.
#include "data/idx.h"

#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "tensor/error.h"

namespace ember::data {
namespace {

constexpr int64_t kMaxPayloadBytes = int64_t(1) << 34;  // 16 GiB: beyond this the header is corrupt
constexpr unsigned kChunk = 1u << 30;                   // gzread takes an unsigned length
// Payloads up to this size are read straight into the tensor; a larger header claim is only
// believed as far as the data goes (a 16-byte file must not make us allocate 17 GB).
constexpr int64_t kTrustedBytes = int64_t(64) << 20;

// Owns a gzFile; reads and reports zlib errors with the file name.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    EMBER_CHECK(f_ != nullptr, "idx: {}: cannot open ({})", path, errno ? std::strerror(errno) : "zlib error");
    gzbuffer(f_, 1u << 18);
  }
  ~GzReader() { gzclose(f_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into dst; returns how many arrived (fewer only at end of data).
  int64_t read(void* dst, int64_t n) {
    int64_t got = 0;
    auto* p = static_cast<unsigned char*>(dst);
    while (got < n) {
      unsigned want = static_cast<unsigned>(std::min<int64_t>(n - got, kChunk));
      int r = gzread(f_, p + got, want);
      check_error();
      if (r <= 0) break;
      got += r;
    }
    return got;
  }

  // True when the file is not gzip data (zlib passes it through): its size on disk is the payload's.
  bool plain() { return gzdirect(f_) == 1; }

  // Bytes left until end of data (consumes them).
  int64_t count_rest() {
    std::vector<unsigned char> scratch(1 << 16);
    int64_t extra = 0;
    for (int64_t r; (r = read(scratch.data(), int64_t(scratch.size()))) > 0;) extra += r;
    return extra;
  }

 private:
  // A truncated .gz stream (Z_BUF_ERROR) shows up as a short payload, reported by the caller
  // with the byte counts; any other zlib error (corrupt deflate data, I/O) is reported here.
  void check_error() {
    int code = Z_OK;
    const char* msg = gzerror(f_, &code);
    EMBER_CHECK(code == Z_OK || code == Z_BUF_ERROR, "idx: {}: cannot decompress ({})", path_,
                code == Z_ERRNO ? std::strerror(errno) : msg);
  }

  std::string path_;
  gzFile f_ = nullptr;
};

uint32_t big_endian_u32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

// "60000 images of 28x28", "60000 labels", or "dims [2,3,4,5]".
std::string describe(const Shape& dims, uint32_t magic) {
  if (magic == 0x803 && dims.size() == 3) return fmt::format("{} images of {}x{}", dims[0], dims[1], dims[2]);
  if (magic == 0x801 && dims.size() == 1) return fmt::format("{} labels", dims[0]);
  return fmt::format("dims {}", shape_str(dims));
}

// Reads a u8 IDX file; expected_magic 0 accepts any 0x000008DD with 1 <= DD <= 4.
Tensor read_u8(const std::string& path, uint32_t expected_magic, std::string_view expected_what) {
  GzReader in(path);
  std::array<unsigned char, 4> head{};
  int64_t got = in.read(head.data(), 4);
  EMBER_CHECK(got == 4, "idx: {}: file holds {} bytes, too short for the 4-byte magic number", path, got);
  const uint32_t magic = big_endian_u32(head.data());
  const uint32_t ndim = magic & 0xff;
  if (expected_magic != 0) {
    EMBER_CHECK(magic == expected_magic, "idx: {}: bad magic number 0x{:08x} (expected 0x{:08x} for {})", path, magic,
                expected_magic, expected_what);
  } else {
    EMBER_CHECK((magic >> 8) == 0x08 && ndim >= 1 && ndim <= 4,
                "idx: {}: bad magic number 0x{:08x} (expected 0x000008DD: unsigned bytes with 1 to 4 dims)", path,
                magic);
  }

  std::vector<unsigned char> raw(4 * ndim);
  got = in.read(raw.data(), int64_t(raw.size()));
  EMBER_CHECK(got == int64_t(raw.size()), "idx: {}: header truncated: {} dims need {} bytes of sizes, file has {}",
              path, ndim, raw.size(), got);
  Shape dims(ndim);
  int64_t expected = 1;
  for (uint32_t d = 0; d < ndim; ++d) {
    dims[d] = big_endian_u32(raw.data() + 4 * d);
    // The leading (count) dim may be 0; a 0 anywhere else is a corrupt header.
    EMBER_CHECK(d == 0 || dims[d] > 0, "idx: {}: header says {} (dim {} is 0)", path, describe(dims, magic), d);
    // Checked before multiplying: two u32 dims can overflow int64.
    EMBER_CHECK(dims[d] == 0 || expected <= kMaxPayloadBytes / dims[d],
                "idx: {}: header dims {} ask for more than 16 GiB", path,
                shape_str(Shape(dims.begin(), dims.begin() + d + 1)));
    expected *= dims[d];
  }

  const int64_t header = 4 + 4 * int64_t(ndim);
  std::error_code ec;
  if (in.plain()) {  // a plain file: its size says how much payload there is, before allocating
    const auto size = std::filesystem::file_size(path, ec);
    EMBER_CHECK(ec || int64_t(size) == header + expected,
                "idx: {}: header says {} but payload holds {} bytes (expected {})", path, describe(dims, magic),
                int64_t(size) - header, expected);
  }
  if (expected <= kTrustedBytes) {
    Tensor out = Tensor::empty(dims, {.dtype = DType::u8});
    got = in.read(out.raw_data(), expected);
    if (got == expected) got += in.count_rest();
    EMBER_CHECK(got == expected, "idx: {}: header says {} but payload holds {} bytes (expected {})", path,
                describe(dims, magic), got, expected);
    return out;
  }
  // Compressed and large: inflate in growing steps, so memory follows the real data, not the claim.
  std::vector<unsigned char> buf;
  for (got = 0; got < expected;) {
    buf.resize(size_t(std::min(expected, std::max<int64_t>(2 * got, kTrustedBytes))));
    const int64_t r = in.read(buf.data() + got, int64_t(buf.size()) - got);
    got += r;
    if (got < int64_t(buf.size())) break;  // end of data
  }
  if (got == expected) got += in.count_rest();
  EMBER_CHECK(got == expected, "idx: {}: header says {} but payload holds {} bytes (expected {})", path,
              describe(dims, magic), got, expected);
  return Tensor::from_buffer(buf.data(), dims, {.dtype = DType::u8});
}

}  // namespace

Tensor read_idx(const std::string& path) { return read_u8(path, 0, ""); }

Tensor read_idx_images(const std::string& path) { return read_u8(path, 0x803, "u8 images [N,H,W]"); }

Tensor read_idx_labels(const std::string& path) {
  Tensor bytes = read_u8(path, 0x801, "u8 labels [N]");
  Tensor labels = Tensor::empty(bytes.shape(), {.dtype = DType::i64});
  const uint8_t* src = bytes.data<uint8_t>();
  int64_t* dst = labels.data<int64_t>();
  for (int64_t i = 0, n = bytes.numel(); i < n; ++i) dst[i] = src[i];
  return labels;
}

}  // namespace ember::data
