// Safetensors reader and writer (format in nn/safetensors.h). The reader trusts nothing in the
// file: every size and offset is checked against the file length, with overflow-safe arithmetic,
// before a byte of tensor data is read, so a truncated or corrupted file throws ember::Error.
#include "nn/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"

namespace ember::nn {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

using Json = nlohmann::ordered_json;  // keeps the header's order, so tensors come back in file order

// A valid header nests 3 deep ({name: {"shape": [dims]}}); anything deeper is refused while
// parsing, so no later step (error messages, destruction) walks a hostile 100k-level tree.
constexpr int kMaxJsonDepth = 8;
// Longest shape array accepted (ember tensors have far fewer dims); stops arrays of a million numbers.
constexpr size_t kMaxRank = 64;

// Thrown from the parser callback to stop parsing at the first limit hit.
struct HeaderLimit {
  std::string what;
};

// A short, non-recursive rendering of an untrusted JSON value for error messages: scalars in
// full (strings cut at 40 characters), containers only as their type and size.
std::string brief(const Json& v) {
  if (v.is_array()) {
    bool flat = v.size() <= 8 && std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_primitive(); });
    if (!flat) return fmt::format("an array of {} elements", v.size());
    std::vector<std::string> parts;
    for (const Json& x : v) parts.push_back(brief(x));  // primitives: one level only
    return fmt::format("[{}]", fmt::join(parts, ","));
  }
  if (v.is_object()) return fmt::format("an object of {} fields", v.size());
  if (v.is_string() && v.get_ref<const std::string&>().size() > 40)
    return fmt::format("\"{}...\"", v.get_ref<const std::string&>().substr(0, 40));
  return v.dump();  // a scalar: no recursion
}

// How a safetensors dtype is stored in the file and what ember tensor it becomes.
enum class Widen : uint8_t { none, f16, bf16 };
struct FileDType {
  DType dtype;      // ember dtype of the loaded tensor
  size_t bytes;     // element size in the file
  Widen widen;      // conversion applied while loading
};

std::string_view file_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
  }
  return "?";
}

// Fills `out` and returns true for the dtypes ember loads. Otherwise returns false, with `known`
// telling a dtype the format defines but ember cannot hold from a name the format does not have.
bool parse_file_dtype(const std::string& s, FileDType& out, bool& known) {
  known = true;
  if (s == "F32") out = {DType::f32, 4, Widen::none};
  else if (s == "F64") out = {DType::f64, 8, Widen::none};
  else if (s == "I32") out = {DType::i32, 4, Widen::none};
  else if (s == "I64") out = {DType::i64, 8, Widen::none};
  else if (s == "U8" || s == "BOOL") out = {DType::u8, 1, Widen::none};
  else if (s == "F16") out = {DType::f32, 2, Widen::f16};
  else if (s == "BF16") out = {DType::f32, 2, Widen::bf16};
  else {
    static const std::set<std::string> other = {"I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
                                                 "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};
    known = other.count(s) > 0;
    return false;
  }
  return true;
}

// IEEE binary16 -> binary32, exact (every half is representable as a float).
float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal half: value = mant * 2^-24; normalise the mantissa into a float.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// One tensor's validated header entry.
struct Entry {
  std::string name = {};
  FileDType ft = {DType::f32, 4, Widen::none};
  Shape shape = {};
  uint64_t begin = 0, end = 0;
};

class Loader {
 public:
  Loader(std::string path, const SafetensorsOptions& opt) : path_(std::move(path)), opt_(opt) {}

  TensorDict run() {
    open();
    parse_header();
    check_tiling();
    return read_data();
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("load_safetensors: {}: {}", path_, fmt::format(f, std::forward<Args>(args)...)));
  }

  void read_exact(void* dst, uint64_t offset, uint64_t n, std::string_view what) {
    if (n == 0) return;
    if (fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, file_.get()) != n)
      fail("read error in {} ({} bytes at offset {})", what, n, offset);
  }

  void open() {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) fail("no such file");
    if (!std::filesystem::is_regular_file(path_, ec)) fail("not a regular file");
    file_.reset(std::fopen(path_.c_str(), "rb"));
    if (!file_) fail("cannot open ({})", std::strerror(errno));
    if (fseeko(file_.get(), 0, SEEK_END) != 0) fail("cannot seek");
    off_t sz = ftello(file_.get());
    if (sz < 0) fail("cannot tell the file size");
    file_size_ = static_cast<uint64_t>(sz);
    if (file_size_ < 8) fail("file is {} bytes, shorter than the 8-byte header length", file_size_);
  }

  void parse_header() {
    unsigned char len_bytes[8];
    read_exact(len_bytes, 0, 8, "the header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
    if (n > file_size_ - 8) fail("header length {} exceeds the {} bytes after the length field", n, file_size_ - 8);
    if (n > opt_.max_header_bytes)
      fail("header length {} exceeds the limit of {} bytes (SafetensorsOptions::max_header_bytes)", n,
           opt_.max_header_bytes);
    if (n == 0) fail("header is empty");
    header_end_ = 8 + n;
    data_size_ = file_size_ - header_end_;
    std::string text(n, '\0');
    read_exact(text.data(), 8, n, "the header");
    if (text[0] != '{') fail("header does not start with '{{'");

    // A callback spots duplicate top-level keys, which the JSON parser would otherwise merge, and
    // stops the parse at the first container nested deeper than kMaxJsonDepth or array longer than
    // kMaxRank (the parser itself is iterative; only the tree it builds could be hostile).
    std::set<std::string> seen;
    std::string duplicate;
    auto on_event = [&](int depth, Json::parse_event_t ev, Json& parsed) {
      if (ev == Json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
          duplicate.empty())
        duplicate = parsed.get<std::string>();
      if ((ev == Json::parse_event_t::object_start || ev == Json::parse_event_t::array_start) && depth >= kMaxJsonDepth)
        throw HeaderLimit{fmt::format("header nests deeper than {} levels", kMaxJsonDepth)};
      if (ev == Json::parse_event_t::array_end && parsed.size() > kMaxRank)
        throw HeaderLimit{fmt::format("header holds an array of {} elements (limit {})", parsed.size(), kMaxRank)};
      return true;
    };
    Json header;
    try {
      header = Json::parse(text, on_event);
    } catch (const HeaderLimit& e) {
      fail("{}", e.what);
    } catch (const Json::exception& e) {
      fail("header is not valid JSON ({})", e.what());
    }
    if (!header.is_object()) fail("header is a JSON {}, expected an object", header.type_name());
    if (!duplicate.empty()) fail("header names '{}' twice", duplicate);

    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        parse_metadata(value);
        continue;
      }
      entries_.push_back(parse_entry(key, value));
    }
  }

  void parse_metadata(const Json& value) {
    if (!value.is_object()) fail("__metadata__ is a JSON {}, expected an object of strings", value.type_name());
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string()) fail("__metadata__ field '{}' is a JSON {}, expected a string", k, v.type_name());
      metadata_[k] = v.get<std::string>();
    }
  }

  uint64_t get_u64(const Json& v, const std::string& name, std::string_view field) const {
    if (!v.is_number_unsigned()) fail("tensor '{}': {} holds {}, expected a non-negative integer", name, field, brief(v));
    return v.get<uint64_t>();
  }

  Entry parse_entry(const std::string& name, const Json& value) const {
    if (!value.is_object()) fail("tensor '{}': entry is a JSON {}, expected an object", name, value.type_name());
    Entry e{.name = name};
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field)) fail("tensor '{}': missing field '{}'", name, field);

    const Json& dt = value["dtype"];
    if (!dt.is_string()) fail("tensor '{}': dtype is a JSON {}, expected a string", name, dt.type_name());
    bool known = false;
    if (!parse_file_dtype(dt.get<std::string>(), e.ft, known)) {
      if (known) fail("tensor '{}': dtype {} is not supported by ember", name, dt.get<std::string>());
      fail("tensor '{}': unknown dtype {}", name, brief(dt));
    }

    const Json& shape = value["shape"];
    if (!shape.is_array()) fail("tensor '{}': shape is a JSON {}, expected an array", name, shape.type_name());
    uint64_t numel = 1, span = 1;  // span: the product with 0-sized dims taken as 1 (the strides)
    bool overflow = false;
    for (const Json& d : shape) {
      uint64_t s = get_u64(d, name, "shape");
      if (s > uint64_t(std::numeric_limits<int64_t>::max())) fail("tensor '{}': shape dim {} is too large", name, s);
      e.shape.push_back(static_cast<int64_t>(s));
      overflow = overflow || __builtin_mul_overflow(numel, s, &numel) ||
                 __builtin_mul_overflow(span, std::max<uint64_t>(s, 1), &span) ||
                 span > uint64_t(std::numeric_limits<int64_t>::max());
    }
    uint64_t nbytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, uint64_t(e.ft.bytes), &nbytes) ||
               numel > uint64_t(std::numeric_limits<int64_t>::max());
    if (overflow) fail("tensor '{}': shape {} is too large", name, brief(shape));

    const Json& off = value["data_offsets"];
    if (!off.is_array() || off.size() != 2)
      fail("tensor '{}': data_offsets is {}, expected [begin, end]", name, brief(off));
    e.begin = get_u64(off[0], name, "data_offsets");
    e.end = get_u64(off[1], name, "data_offsets");
    if (e.begin > e.end) fail("tensor '{}': data_offsets [{}, {}] has begin > end", name, e.begin, e.end);
    if (e.end > data_size_)
      fail("tensor '{}': data_offsets [{}, {}] extend past the data section of {} bytes", name, e.begin, e.end,
           data_size_);
    if (e.end - e.begin != nbytes)
      fail("tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] span {}", name, shape_str(e.shape),
           dt.get<std::string>(), nbytes, e.begin, e.end, e.end - e.begin);
    return e;
  }

  // The tensors must cover the data section exactly: no overlap, no gap, no trailing bytes.
  void check_tiling() const {
    std::vector<const Entry*> order;
    for (const Entry& e : entries_) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t pos = 0;
    const Entry* prev = nullptr;
    for (const Entry* e : order) {
      if (e->begin < pos)
        fail("tensor '{}': data_offsets [{}, {}] overlap tensor '{}' (which ends at {})", e->name, e->begin, e->end,
             prev->name, pos);
      if (e->begin > pos) fail("tensor '{}': data_offsets start at {}, leaving a gap after byte {}", e->name, e->begin, pos);
      pos = e->end;
      prev = e;
    }
    if (pos != data_size_) fail("{} trailing bytes after the last tensor's data", data_size_ - pos);
  }

  TensorDict read_data() {
    TensorDict out;
    out.metadata = std::move(metadata_);
    for (const Entry& e : entries_) {
      Tensor t = Tensor::empty(e.shape, {.dtype = e.ft.dtype});
      uint64_t nbytes = e.end - e.begin, at = header_end_ + e.begin;
      std::string what = fmt::format("tensor '{}'", e.name);
      if (e.ft.widen == Widen::none) {
        read_exact(t.raw_data(), at, nbytes, what);
      } else {
        std::vector<uint16_t> raw(static_cast<size_t>(t.numel()));
        read_exact(raw.data(), at, nbytes, what);
        float* dst = t.data<float>();
        for (size_t i = 0; i < raw.size(); ++i)
          dst[i] = e.ft.widen == Widen::f16 ? half_to_float(raw[i]) : bf16_to_float(raw[i]);
      }
      out.tensors.emplace_back(e.name, std::move(t));
    }
    return out;
  }

  std::string path_;
  SafetensorsOptions opt_;
  FilePtr file_;
  uint64_t file_size_ = 0, header_end_ = 0, data_size_ = 0;
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace

const Tensor* TensorDict::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& TensorDict::at(const std::string& name) const {
  const Tensor* t = find(name);
  EMBER_CHECK(t != nullptr, "safetensors: no tensor named '{}' (have {})", name, tensors.size());
  return *t;
}

std::vector<std::string> TensorDict::names() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : tensors) out.push_back(n);
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  NoGradGuard no_grad;
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    EMBER_CHECK(!name.empty(), "save_safetensors: {}: tensor names must not be empty", path);
    EMBER_CHECK(name != "__metadata__", "save_safetensors: {}: '__metadata__' is reserved, not a tensor name", path);
    EMBER_CHECK(names.insert(name).second, "save_safetensors: {}: tensor '{}' appears twice", path, name);
    EMBER_CHECK(t.defined(), "save_safetensors: {}: tensor '{}' is undefined", path, name);
    Tensor h = t.detach();
    if (!h.device().is_cpu()) h = h.to(Device::cpu());
    host.push_back(h.contiguous());
  }
  // Data goes in order of decreasing element size, so every tensor starts at a multiple of its
  // element size (readers that view the bytes in place, like PyTorch's, need that); the header
  // keeps the caller's order.
  std::vector<size_t> order(host.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return host[a].element_size() > host[b].element_size(); });
  std::vector<uint64_t> begin(host.size());
  uint64_t offset = 0;
  for (size_t i : order) {
    begin[i] = offset;
    offset += uint64_t(host[i].numel()) * host[i].element_size();
  }
  for (size_t i = 0; i < host.size(); ++i) {
    const Tensor& h = host[i];
    uint64_t end = begin[i] + uint64_t(h.numel()) * h.element_size();
    header[tensors[i].first] = {{"dtype", std::string(file_dtype_name(h.dtype()))},
                                {"shape", h.shape()},
                                {"data_offsets", {begin[i], end}}};
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {
    EMBER_CHECK(false, "save_safetensors: {}: cannot encode the header ({})", path, e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section starts 8-byte aligned

  std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  FilePtr f(std::fopen(tmp.c_str(), "wb"));
  EMBER_CHECK(f != nullptr, "save_safetensors: {}: cannot create {} ({})", path, tmp, std::strerror(errno));
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
  bool ok = std::fwrite(len_bytes, 1, 8, f.get()) == 8 && std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
  for (size_t i : order) {
    const Tensor& h = host[i];
    size_t nbytes = size_t(h.numel()) * h.element_size();
    if (ok && nbytes > 0) ok = std::fwrite(h.raw_data(), 1, nbytes, f.get()) == nbytes;
  }
  ok = std::fflush(f.get()) == 0 && ok;
  ok = ::fsync(::fileno(f.get())) == 0 && ok;  // on disk before the rename makes it visible
  ok = std::fclose(f.release()) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    EMBER_CHECK(false, "save_safetensors: {}: write failed ({})", path, std::strerror(err));
  }
}

TensorDict load_safetensors(const std::string& path, const SafetensorsOptions& options) {
  return Loader(path, options).run();
}

}  // namespace ember::nn
