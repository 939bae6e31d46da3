// OpenMoji pairs for the colorizer: building the packed IDX set from the rasters of
// scripts/build_openmoji.sh (dedupe by line raster, drop blank line art), loading it, the seeded
// hash split, colour-hint sampling and model-input batches.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "data/idx.h"
#include "data/image.h"
#include "tensor/generator.h"
#include "zoo/colorize/colorize.h"

namespace ember::zoo::colorize {
namespace fs = std::filesystem;

namespace {

constexpr const char* kLineFile = "line-images-idx3-ubyte";
constexpr const char* kColorFile = "color-images-idx4-ubyte";
constexpr const char* kNamesFile = "names.txt";
constexpr const char* kCredit =
    "Emoji graphics: OpenMoji 17.0.0 (https://openmoji.org), the open-source emoji and icon project. "
    "License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/). These files are rasterised, "
    "deduplicated derivatives of the OpenMoji SVGs and are shared under the same licence.\n";

std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(d >> s));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}


// Row subset of a u8 tensor [N, ...] (any trailing shape) as a new contiguous tensor.
Tensor take_rows(const Tensor& t, const std::vector<int64_t>& rows) {
  Shape shape = t.shape();
  const int64_t row = t.numel() / std::max<int64_t>(1, shape[0]);
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out = Tensor::empty(shape, {.dtype = DType::u8});
  const Tensor dense = t.contiguous();  // keeps a copy alive while we read it
  const uint8_t* src = dense.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  for (size_t i = 0; i < rows.size(); ++i) std::copy_n(src + rows[i] * row, row, dst + int64_t(i) * row);
  return out;
}

// Uniform u32 stream keyed by (seed, key): element i.
uint32_t rand_u32(uint64_t seed, uint64_t key, uint64_t i) { return philox4x32(seed, key, i)[0]; }

// scripts/build_openmoji.sh: in $EMBER_SCRIPTS_DIR, else in the source tree above the running
// binary (build/bin/ember) or above the working directory.
fs::path find_build_script() {
  constexpr const char* kScript = "build_openmoji.sh";
  if (const char* env = std::getenv("EMBER_SCRIPTS_DIR"); env && *env) {
    EMBER_CHECK(fs::exists(fs::path(env) / kScript), "data openmoji: {} not found in EMBER_SCRIPTS_DIR={}", kScript, env);
    return fs::path(env) / kScript;
  }
  std::error_code ec;
  for (fs::path start : {fs::read_symlink("/proc/self/exe", ec).parent_path(), fs::current_path()})
    for (fs::path d = start; !d.empty(); d = d.parent_path()) {
      if (fs::exists(d / "scripts" / kScript)) return d / "scripts" / kScript;
      if (d == d.parent_path()) break;
    }
  EMBER_CHECK(false, "data openmoji: scripts/{} not found above the ember binary or the working directory (set "
              "EMBER_SCRIPTS_DIR to the ember scripts/ folder)", kScript);
  return {};
}

}  // namespace

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "val") return Split::val;
  if (name == "test") return Split::test;
  EMBER_CHECK(false, "colorize: unknown split '{}' (expected train, val or test)", name);
  return Split::test;
}

int split_bucket(const std::string& hexcode) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : hexcode) h = (h ^ c) * 1099511628211ull;
  return static_cast<int>(h % 10);
}

bool in_split(const std::string& hexcode, Split split) {
  const int b = split_bucket(hexcode);
  return split == Split::train ? b < 8 : split == Split::val ? b == 8 : b == 9;
}

std::string default_data_root() {
  if (const char* env = std::getenv("EMBER_DATA_DIR"); env && *env) return (fs::path(env) / "openmoji").string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".cache" / "ember" / "openmoji").string();
}

std::string packed_dir(const std::string& root, int size) { return (fs::path(root) / std::to_string(size)).string(); }

std::vector<int64_t> dedupe(const std::vector<std::string>& names, const std::vector<std::vector<uint8_t>>& lines) {
  EMBER_CHECK(names.size() == lines.size(), "colorize dedupe: {} names but {} rasters", names.size(), lines.size());
  EMBER_CHECK(std::is_sorted(names.begin(), names.end()), "colorize dedupe: names must be sorted");
  std::vector<int64_t> kept;
  std::set<std::vector<uint8_t>> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& l = lines[i];
    if (std::all_of(l.begin(), l.end(), [](uint8_t v) { return v >= 250; })) continue;  // blank line art
    if (seen.insert(l).second) kept.push_back(static_cast<int64_t>(i));
  }
  return kept;
}

int64_t pack_openmoji(const std::string& raw_dir, const std::string& out_dir, int size,
                      const std::string& license_file) {
  const fs::path raw(raw_dir);
  EMBER_CHECK(fs::is_directory(raw / "color") && fs::is_directory(raw / "black"),
              "data openmoji: {} has no color/ and black/ rasters", raw_dir);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(raw / "color"))
    if (e.path().extension() == ".png") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  EMBER_CHECK(!names.empty(), "data openmoji: no PNG files in {}", (raw / "color").string());
  const size_t px = size_t(size) * size_t(size);
  std::vector<std::vector<uint8_t>> lines(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    Tensor l = data::load_image((raw / "black" / (names[i] + ".png")).string(), 1);
    EMBER_CHECK(l.size(0) == size && l.size(1) == size, "data openmoji: {}: expected {}x{}, got {}x{}", names[i],
                size, size, l.size(0), l.size(1));
    lines[i].assign(l.data<uint8_t>(), l.data<uint8_t>() + px);
  }
  const std::vector<int64_t> kept = dedupe(names, lines);
  std::vector<uint8_t> line_bytes, color_bytes;
  std::string name_lines;
  for (int64_t i : kept) {
    Tensor c = data::load_image((raw / "color" / (names[i] + ".png")).string(), 3);
    EMBER_CHECK(c.size(0) == size && c.size(1) == size, "data openmoji: {}: colour raster is not {}x{}", names[i],
                size, size);
    line_bytes.insert(line_bytes.end(), lines[i].begin(), lines[i].end());
    color_bytes.insert(color_bytes.end(), c.data<uint8_t>(), c.data<uint8_t>() + 3 * px);
    name_lines += names[i] + "\n";
  }
  fs::create_directories(out_dir);
  const fs::path out(out_dir);
  const auto n = static_cast<uint32_t>(kept.size()), s = static_cast<uint32_t>(size);
  data::write_file_atomic((out / kLineFile).string(), idx_bytes({n, s, s}, line_bytes));
  data::write_file_atomic((out / kColorFile).string(), idx_bytes({n, s, s, 3}, color_bytes));
  data::write_file_atomic((out / kNamesFile).string(), bytes_of(name_lines));
  data::write_file_atomic((out / "CREDIT.txt").string(), bytes_of(kCredit));
  if (!license_file.empty() && fs::exists(license_file)) fs::copy_file(license_file, out / "LICENSE.txt",
                                                                       fs::copy_options::overwrite_existing);
  return static_cast<int64_t>(kept.size());
}

std::string build_openmoji(const std::string& root, int size, int jobs) {
  EMBER_CHECK(size >= 16 && size <= 512 && size % 8 == 0, "data openmoji: --size must be a multiple of 8 in 16..512, got {}",
              size);
  const fs::path script = find_build_script();
  const std::string cmd = fmt::format("bash '{}' '{}' {} {}", script.string(), root, size, jobs);
  const int rc = std::system(cmd.c_str());
  EMBER_CHECK(rc == 0, "data openmoji: {} failed (exit status {}); see the message above", script.filename().string(),
              WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
  const std::string out = packed_dir(root, size);
  const int64_t n = pack_openmoji((fs::path(root) / fmt::format("raw{}", size)).string(), out, size,
                                  (fs::path(root) / "svg" / "LICENSE.txt").string());
  fmt::print("data openmoji: {} distinct line/colour pairs at {}px in {}\n", n, size, out);
  return out;
}

OpenMoji load_openmoji(const std::string& root_in, int size) {
  const std::string root = root_in.empty() ? default_data_root() : root_in;
  const fs::path dir(packed_dir(root, size));
  for (const char* f : {kLineFile, kColorFile, kNamesFile})
    EMBER_CHECK(fs::exists(dir / f), "colorize: OpenMoji data not found in {} (missing {}); build it with: ember data "
                "openmoji --size {}{}", dir.string(), f, size, root_in.empty() ? "" : " --root " + root);
  OpenMoji d;
  d.line = data::read_idx((dir / kLineFile).string());
  d.color = data::read_idx((dir / kColorFile).string());
  std::ifstream in(dir / kNamesFile);
  for (std::string s; std::getline(in, s);)
    if (!s.empty()) d.names.push_back(s);
  const int64_t n = static_cast<int64_t>(d.names.size());
  EMBER_CHECK(d.line.dim() == 3 && d.line.size(0) == n && d.line.size(1) == size && d.line.size(2) == size &&
                  d.color.dim() == 4 && d.color.size(0) == n && d.color.size(3) == 3,
              "colorize: {} is inconsistent (line {}, colour {}, {} names); rebuild it with: ember data openmoji",
              dir.string(), shape_str(d.line.shape()), shape_str(d.color.shape()), n);
  return d;
}

OpenMoji select_rows(const OpenMoji& all, const std::vector<int64_t>& rows) {
  OpenMoji d{take_rows(all.line, rows), take_rows(all.color, rows), {}};
  for (int64_t r : rows) d.names.push_back(all.names[r]);
  return d;
}

OpenMoji select_split(const OpenMoji& all, Split split) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < all.names.size(); ++i)
    if (in_split(all.names[i], split)) rows.push_back(static_cast<int64_t>(i));
  return select_rows(all, rows);
}

int64_t sample_hint_count(uint64_t seed, uint64_t key) {
  const uint32_t u = rand_u32(seed ^ 0x68696e74ull, key, 0);
  if (u & 1) return 0;
  const double x = double(u >> 1) / double(1u << 31);  // [0, 1)
  return std::min<int64_t>(20, static_cast<int64_t>(std::exp(x * std::log(21.0))));  // 1..20
}

std::vector<Hint> sample_hints(const uint8_t* line, const uint8_t* rgb, int64_t h, int64_t w, int64_t count,
                               uint64_t seed, uint64_t key) {
  std::vector<int64_t> cand;
  for (int64_t i = 0; i < h * w; ++i) {
    const uint8_t* p = rgb + 3 * i;
    if (line[i] > 128 && (p[0] < 235 || p[1] < 235 || p[2] < 235)) cand.push_back(i);
  }
  std::vector<Hint> hints;
  for (int64_t k = 0; k < count; ++k) {
    const uint32_t u = rand_u32(seed, key, uint64_t(k) + 1);
    const int64_t i = cand.empty() ? int64_t(u % uint32_t(h * w)) : cand[u % cand.size()];
    hints.push_back({i / w, i % w, rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]});
  }
  return hints;
}

void paint_hints(const std::vector<Hint>& hints, int64_t h, int64_t w, int64_t radius, float* out) {
  const int64_t plane = h * w;
  for (const Hint& k : hints)
    for (int64_t y = std::max<int64_t>(0, k.y - radius); y <= std::min(h - 1, k.y + radius); ++y)
      for (int64_t x = std::max<int64_t>(0, k.x - radius); x <= std::min(w - 1, k.x + radius); ++x) {
        const int64_t i = y * w + x;
        out[i] = k.r / 255.0f;
        out[plane + i] = k.g / 255.0f;
        out[2 * plane + i] = k.b / 255.0f;
        out[3 * plane + i] = 1.0f;
      }
}

Batch make_batch(const OpenMoji& set, const std::vector<int64_t>& rows, bool with_hint_channels,
                 const std::vector<Augment>& aug, const std::vector<int64_t>& hint_counts, uint64_t hint_seed) {
  const int64_t b = static_cast<int64_t>(rows.size()), h = set.line.size(1), w = set.line.size(2), px = h * w;
  const int64_t cin = with_hint_channels ? 5 : 1;
  Batch out{Tensor::zeros({b, cin, h, w}), Tensor::empty({b, 3, h, w})};
  const uint8_t* line = set.line.data<uint8_t>();
  const uint8_t* color = set.color.data<uint8_t>();
  float* in = out.input.data<float>();
  float* tg = out.target.data<float>();
  std::vector<uint8_t> l(px), c(3 * px);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t r = rows[i];
    const Augment a = aug.empty() ? Augment{} : aug[i];
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y - a.dy, sx0 = x - a.dx, dst = y * w + x;
        if (sy < 0 || sy >= h || sx0 < 0 || sx0 >= w) {
          l[dst] = 255;
          std::fill_n(c.data() + 3 * dst, 3, uint8_t(255));
          continue;
        }
        const int64_t src = r * px + sy * w + (a.flip ? w - 1 - sx0 : sx0);
        l[dst] = line[src];
        std::copy_n(color + 3 * src, 3, c.data() + 3 * dst);
      }
    float* xi = in + i * cin * px;
    float* ti = tg + i * 3 * px;
    for (int64_t p = 0; p < px; ++p) {
      xi[p] = l[p] / 255.0f;
      for (int64_t ch = 0; ch < 3; ++ch) ti[ch * px + p] = c[3 * p + ch] / 255.0f;
    }
    if (with_hint_channels && !hint_counts.empty() && hint_counts[i] > 0)
      paint_hints(sample_hints(l.data(), c.data(), h, w, hint_counts[i], hint_seed, uint64_t(r)), h, w, kHintRadius,
                  xi + px);
  }
  return out;
}

}  // namespace ember::zoo::colorize
