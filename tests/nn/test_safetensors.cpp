// Safetensors: round trips of every dtype, the exact byte layout, one test per validation rule on
// hand-crafted files, a small fuzz (every truncation, byte flips), and interop with an independent
// stdlib-only Python reader/writer (tests/nn/safetensors_check.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nn/safetensors.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {

namespace fs = std::filesystem;
using test::throws_with;

// A per-test, per-process file path (ctest runs test cases in parallel processes).
std::string tmp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (fs::temp_directory_path() / fmt::format("ember_st_{}_{}_{}", ::getpid(), info->name(), name)).string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Removes the old file first: truncating a file in place is slow on ext4 (auto_da_alloc flushes).
void write_bytes(const std::string& path, const std::string& bytes) {
  fs::remove(path);
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

// A file with the given header text (padded to 8 bytes) and raw data section.
std::string craft(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return u64_le(header.size()) + header + data;
}

// Loads a crafted file and expects an ember::Error naming the file and every fragment.
::testing::AssertionResult rejects(const std::string& bytes, std::vector<std::string> fragments) {
  std::string path = tmp_path("bad.safetensors");
  write_bytes(path, bytes);
  fragments.push_back(path);
  auto r = throws_with([&] { load_safetensors(path); }, fragments);
  fs::remove(path);
  return r;
}

template <typename T>
bool same_values(const Tensor& a, const Tensor& b) {
  return a.to_vector<T>() == b.to_vector<T>();
}

std::vector<std::pair<std::string, Tensor>> sample_tensors() {
  Tensor m = Tensor::from_vector<float>({1.5f, -2.25f, 3e-8f, 4e7f, 0.1f, -0.f}, {2, 3});
  return {
      {"f32", m},
      {"f64", Tensor::from_vector<double>({0.1, -1e300, 3.0}, {3}, {.dtype = DType::f64})},
      {"i32", Tensor::from_vector<int32_t>({-2147483647 - 1, 7, 0, 2147483647}, {2, 2}, {.dtype = DType::i32})},
      {"i64", Tensor::from_vector<int64_t>({int64_t(1) << 62}, {1}, {.dtype = DType::i64})},
      {"u8", Tensor::from_vector<uint8_t>({0, 1, 128, 255}, {4}, {.dtype = DType::u8})},
      {"scalar", Tensor::scalar(42.5)},
      {"empty", Tensor::zeros({0, 3})},
      {"transposed", m.t()},  // non-contiguous view: written in its logical row-major order
  };
}

TEST(Safetensors, RoundTripKeepsNamesOrderDtypesShapesAndBits) {
  std::string path = tmp_path("rt.safetensors");
  auto tensors = sample_tensors();
  save_safetensors(path, tensors, {{"format", "pt"}, {"note", "é ünïcode"}});
  TensorDict d = load_safetensors(path);
  ASSERT_EQ(d.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].first;  // plain references: clang 14 cannot capture bindings
    const Tensor& want = tensors[i].second;
    const std::string& got_name = d.tensors[i].first;
    const Tensor& got = d.tensors[i].second;
    EXPECT_EQ(got_name, name);
    EXPECT_EQ(got.dtype(), want.dtype()) << name;
    EXPECT_EQ(got.shape(), want.shape()) << name;
    bool same = dispatch_all(want.dtype(), "test", [&]<typename T>() { return same_values<T>(got, want); });
    EXPECT_TRUE(same) << name;
  }
  EXPECT_EQ(d.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "é ünïcode"}}));
  EXPECT_EQ(d.names().front(), "f32");
  EXPECT_TRUE(d.contains("u8"));
  EXPECT_EQ(d.find("nope"), nullptr);
  EXPECT_EQ(d.at("transposed").shape(), (Shape{3, 2}));
  EXPECT_TRUE(throws_with([&] { d.at("nope"); }, {"no tensor named 'nope'"}));
  fs::remove(path);
}

TEST(Safetensors, ByteLayoutFollowsTheFormat) {
  std::string path = tmp_path("layout.safetensors");
  Tensor a = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor b = Tensor::from_vector<int64_t>({5, 6}, {2}, {.dtype = DType::i64});
  save_safetensors(path, {{"a", a}, {"b", b}});
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[size_t(i)]);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 12 + 16);
  std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);  // omitted when empty
  // Header in the caller's order; data by decreasing element size (the i64 first, 8-byte aligned).
  EXPECT_EQ(header.find(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[16,28]},)"
                        R"("b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})"),
            0u)
      << header;
  float f[3];
  std::memcpy(f, bytes.data() + 8 + n + 16, 12);
  EXPECT_EQ(f[2], 3.0f);
  int64_t i[2];
  std::memcpy(i, bytes.data() + 8 + n, 16);
  EXPECT_EQ(i[1], 6);
  // The temporary file was renamed away.
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path()))
    EXPECT_EQ(e.path().string().find(path + ".tmp"), std::string::npos);
  fs::remove(path);
}

TEST(Safetensors, SaveRejectsBadNamesAndTensors) {
  std::string path = tmp_path("bad_save.safetensors");
  Tensor t = Tensor::ones({2});
  EXPECT_TRUE(throws_with([&] { save_safetensors(path, {{"w", t}, {"w", t}}); }, {"save_safetensors", "'w' appears twice"}));
  EXPECT_TRUE(throws_with([&] { save_safetensors(path, {{"", t}}); }, {"must not be empty"}));
  EXPECT_TRUE(throws_with([&] { save_safetensors(path, {{"__metadata__", t}}); }, {"reserved"}));
  EXPECT_TRUE(throws_with([&] { save_safetensors(path, {{"u", Tensor()}}); }, {"'u' is undefined"}));
  EXPECT_TRUE(throws_with([&] { save_safetensors("/nonexistent_dir_ember/x.safetensors", {{"w", t}}); },
                          {"save_safetensors", "/nonexistent_dir_ember/x.safetensors"}));
  EXPECT_FALSE(fs::exists(path));
}

TEST(Safetensors, EmptyHeaderObjectIsAValidEmptyFile) {
  std::string path = tmp_path("empty.safetensors");
  write_bytes(path, craft("{}", ""));
  TensorDict d = load_safetensors(path);
  EXPECT_TRUE(d.tensors.empty());
  EXPECT_TRUE(d.metadata.empty());
  fs::remove(path);
}

TEST(Safetensors, LoadRejectsStructuralErrors) {
  EXPECT_TRUE(throws_with([] { load_safetensors("/nonexistent_dir_ember/none.safetensors"); }, {"no such file"}));
  EXPECT_TRUE(throws_with([] { load_safetensors(fs::temp_directory_path().string()); }, {"not a regular file"}));
  EXPECT_TRUE(rejects("abcde", {"5 bytes, shorter than the 8-byte header length"}));
  EXPECT_TRUE(rejects(u64_le(100) + "{}      ", {"header length 100 exceeds"}));
  EXPECT_TRUE(rejects(u64_le(uint64_t(1) << 63) + "{}      ", {"exceeds"}));
  EXPECT_TRUE(rejects(u64_le(0), {"header is empty"}));
  EXPECT_TRUE(rejects(craft("[1]", ""), {"does not start with '{'"}));
  EXPECT_TRUE(rejects(craft("{\"a\":", ""), {"not valid JSON"}));
  EXPECT_TRUE(rejects(craft("{} x", ""), {"not valid JSON"}));
  EXPECT_TRUE(rejects(craft(R"({"__metadata__":[1]})", ""), {"__metadata__ is a JSON array"}));
  EXPECT_TRUE(rejects(craft(R"({"__metadata__":{"k":1}})", ""), {"__metadata__ field 'k'", "expected a string"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            std::string(8, '\0')),
                      {"names 'w' twice"}));
}

TEST(Safetensors, LoadRejectsBadTensorEntries) {
  const std::string d4(4, '\0'), d8(8, '\0'), d12(12, '\0');
  EXPECT_TRUE(rejects(craft(R"({"w":3})", ""), {"tensor 'w'", "expected an object"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[1]}})", d4), {"tensor 'w'", "missing field 'data_offsets'"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", d4), {"missing field 'dtype'"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", d4), {"dtype is a JSON number"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})", d4), {"unknown dtype \"F31\""}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})", d4),
                      {"tensor 'w'", "dtype I16 is not supported"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":{},"data_offsets":[0,4]}})", d4), {"shape is a JSON object"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", d4),
                      {"shape holds -1, expected a non-negative integer"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", d4), {"shape holds 1.5"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", d4),
                      {"tensor 'w'", "too large"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", d4),
                      {"data_offsets is [0], expected [begin, end]"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", d4), {"data_offsets holds"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", d4), {"begin > end"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", d4),
                      {"tensor 'w'", "needs 8 bytes but data_offsets [0, 4] span 4"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d4),
                      {"tensor 'w'", "extend past the data section of 4 bytes"}));
  EXPECT_TRUE(rejects(craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            d12),
                      {"tensor 'b'", "overlap tensor 'a'"}));
  EXPECT_TRUE(rejects(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                            d12),
                      {"tensor 'b'", "gap after byte 4"}));
  EXPECT_TRUE(rejects(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8), {"4 trailing bytes"}));
}

// Outside review: a 200 KB header nesting 100k levels crashed the loader (recursive dump in an
// error path); a 20 MB header took 768 MB to parse. Limits: depth, array length, header bytes.
TEST(Safetensors, LoadRejectsHostileHeaders) {
  std::string deep = R"({"w":{"dtype":"F32","shape":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  EXPECT_TRUE(rejects(craft(deep, ""), {"nests deeper than 8 levels"}));
  std::string deep_meta = R"({"__metadata__":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(rejects(craft(deep_meta, ""), {"nests deeper than 8 levels"}));
  std::string dims = "[1";
  for (int i = 0; i < 100; ++i) dims += ",1";
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":)" + dims + R"(],"data_offsets":[0,4]}})", std::string(4, '\0')),
                      {"array of 101 elements (limit 64)"}));
  // An empty tensor whose strides would not fit in int64 (review: [0, 2^63-1, 2^63-1]).
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[0,9223372036854775807,9223372036854775807],)"
                            R"("data_offsets":[0,0]}})", ""),
                      {"tensor 'w'", "too large"}));
  // Error messages show containers by size only (never a dump of untrusted JSON).
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":"F32","shape":[[1,[2]]],"data_offsets":[0,4]}})", std::string(4, '\0')),
                      {"shape holds an array of 2 elements"}));
  EXPECT_TRUE(rejects(craft(R"({"w":{"dtype":")" + std::string(5000, 'x') + R"(","shape":[1],"data_offsets":[0,4]}})",
                            std::string(4, '\0')),
                      {"unknown dtype \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\""}));
  // The header size limit is an option (default 16 MiB).
  std::string path = tmp_path("limit.safetensors");
  write_bytes(path, craft(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')));
  EXPECT_EQ(load_safetensors(path).tensors.size(), 1u);
  EXPECT_TRUE(throws_with([&] { load_safetensors(path, {.max_header_bytes = 16}); },
                          {path, "header length 56 exceeds the limit of 16 bytes"}));
  fs::remove(path);
}

TEST(Safetensors, HalfBfloatAndBoolAreWidened) {
  // F16 bit patterns: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), 3 * 2^-24, +inf, -0.
  const uint16_t f16[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0003, 0x7c00, 0x8000};
  const uint16_t bf16[] = {0x3fc0, 0xc2f7};  // 1.5, -123.5
  std::string data(reinterpret_cast<const char*>(f16), sizeof(f16));
  data.append(reinterpret_cast<const char*>(bf16), sizeof(bf16));
  data += std::string("\x01\x00", 2);
  std::string path = tmp_path("half.safetensors");
  write_bytes(path, craft(R"({"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},)"
                          R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]},)"
                          R"("m":{"dtype":"BOOL","shape":[2],"data_offsets":[18,20]}})",
                          data));
  TensorDict d = load_safetensors(path);
  const float tiny = std::ldexp(1.0f, -24);
  EXPECT_EQ(d.at("h").dtype(), DType::f32);
  EXPECT_EQ(d.at("h").to_vector<float>(),
            (std::vector<float>{1.0f, -2.0f, 65504.0f, tiny, 3 * tiny, INFINITY, -0.0f}));
  EXPECT_TRUE(std::signbit(d.at("h").to_vector<float>()[6]));
  EXPECT_EQ(d.at("b").to_vector<float>(), (std::vector<float>{1.5f, -123.5f}));
  EXPECT_EQ(d.at("m").dtype(), DType::u8);
  EXPECT_EQ(d.at("m").to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  fs::remove(path);
}

// Every truncation of a valid file is rejected; byte flips either load or throw ember::Error.
TEST(Safetensors, FuzzTruncationsAndByteFlipsNeverCrash) {
  std::string path = tmp_path("fuzz.safetensors");
  save_safetensors(path,
                   {{"w", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
                    {"i", Tensor::from_vector<int64_t>({7, 8}, {2}, {.dtype = DType::i64})}},
                   {{"k", "v"}});
  const std::string good = read_bytes(path);
  ASSERT_NO_THROW(load_safetensors(path));
  for (size_t len = 0; len < good.size(); ++len) {
    write_bytes(path, good.substr(0, len));
    EXPECT_THROW(load_safetensors(path), Error) << "truncated to " << len << " of " << good.size();
  }
  write_bytes(path, good + "x");
  EXPECT_THROW(load_safetensors(path), Error);
  int loaded = 0, rejected = 0;
  for (size_t i = 0; i < good.size(); ++i)
    for (unsigned char x : {0x01, 0x20, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = char(uint8_t(bad[i]) ^ x);
      write_bytes(path, bad);
      try {
        load_safetensors(path);
        ++loaded;
      } catch (const Error&) {
        ++rejected;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "byte " << i << " ^ " << int(x) << " threw a non-ember exception: " << e.what();
      }
    }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);  // flips inside the data section still load
  fs::remove(path);
}

// ---------------------------------------------------------------- interop with Python

bool have_python() { return std::system("command -v python3 > /dev/null 2>&1") == 0; }

int run_check(const std::string& mode, const std::string& file, const std::string& json) {
  std::string cmd = fmt::format("python3 '{}' {} '{}' '{}'", EMBER_SAFETENSORS_CHECK_PY, mode, file, json);
  return std::system(cmd.c_str());
}

std::string values_json(const Tensor& t) {
  if (is_floating(t.dtype())) return fmt::format("[{}]", fmt::join(t.to_vector<double>(), ","));
  return fmt::format("[{}]", fmt::join(t.to_vector<int64_t>(), ","));
}

std::string file_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
  }
  return "?";
}

TEST(Safetensors, PythonReadsWhatEmberWrites) {
  if (!have_python()) GTEST_SKIP() << "python3 not on PATH";
  std::string file = tmp_path("to_py.safetensors"), expected = tmp_path("expected.json");
  auto tensors = sample_tensors();
  save_safetensors(file, tensors, {{"format", "pt"}, {"epoch", "3"}});
  std::vector<std::string> entries;
  for (const auto& [name, t] : tensors)
    entries.push_back(fmt::format(R"({{"name":"{}","dtype":"{}","shape":[{}],"values":{}}})", name,
                                  file_dtype(t.dtype()), fmt::join(t.shape(), ","), values_json(t)));
  std::string json = fmt::format(R"({{"metadata":{{"format":"pt","epoch":"3"}},"tensors":[{}]}})", fmt::join(entries, ","));
  write_bytes(expected, json);
  EXPECT_EQ(run_check("read", file, expected), 0);
  // The checker is not a rubber stamp: one changed value makes it fail.
  std::string wrong = json;
  wrong.replace(wrong.find("1.5"), 3, "1.6");
  write_bytes(expected, wrong);
  EXPECT_NE(run_check("read", file, expected), 0);
  fs::remove(file);
  fs::remove(expected);
}

TEST(Safetensors, EmberReadsWhatPythonWrites) {
  if (!have_python()) GTEST_SKIP() << "python3 not on PATH";
  std::string file = tmp_path("from_py.safetensors"), spec = tmp_path("spec.json");
  write_bytes(spec, R"({"metadata":{"source":"python"},"tensors":[
    {"name":"w","dtype":"F32","shape":[2,2],"values":[0.5,-1.25,3.0,1e-3]},
    {"name":"d","dtype":"F64","shape":[2],"values":[0.1,-2.5e-300]},
    {"name":"n","dtype":"I64","shape":[3],"values":[-1,0,9007199254740993]},
    {"name":"k","dtype":"I32","shape":[1],"values":[-7]},
    {"name":"u","dtype":"U8","shape":[2,1],"values":[3,250]},
    {"name":"h","dtype":"F16","shape":[2],"values":[0.333251953125,-65504.0]},
    {"name":"b","dtype":"BF16","shape":[2],"values":[1.5,-0.0078125]},
    {"name":"z","dtype":"BOOL","shape":[3],"values":[true,false,true]},
    {"name":"s","dtype":"F32","shape":[],"values":[2.0]}]})");
  ASSERT_EQ(run_check("write", file, spec), 0);
  TensorDict d = load_safetensors(file);
  EXPECT_EQ(d.names(), (std::vector<std::string>{"w", "d", "n", "k", "u", "h", "b", "z", "s"}));
  EXPECT_EQ(d.metadata.at("source"), "python");
  EXPECT_EQ(d.at("w").shape(), (Shape{2, 2}));
  EXPECT_EQ(d.at("w").to_vector<float>(), (std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f}));
  EXPECT_EQ(d.at("d").to_vector<double>(), (std::vector<double>{0.1, -2.5e-300}));
  EXPECT_EQ(d.at("n").to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 9007199254740993}));
  EXPECT_EQ(d.at("k").to_vector<int32_t>(), (std::vector<int32_t>{-7}));
  EXPECT_EQ(d.at("u").to_vector<uint8_t>(), (std::vector<uint8_t>{3, 250}));
  EXPECT_EQ(d.at("h").to_vector<float>(), (std::vector<float>{0.333251953125f, -65504.0f}));
  EXPECT_EQ(d.at("b").to_vector<float>(), (std::vector<float>{1.5f, -0.0078125f}));
  EXPECT_EQ(d.at("z").to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(d.at("s").dim(), 0);
  EXPECT_EQ(d.at("s").item(), 2.0);
  fs::remove(file);
  fs::remove(spec);
}

}  // namespace
}  // namespace ember::nn
