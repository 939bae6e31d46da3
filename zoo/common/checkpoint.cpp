// Manifest-committed checkpoints of a run folder (see checkpoint.h for the protocol).
#include "zoo/common/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace ember::zoo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kManifest = "checkpoint.json";

// "model.safetensors", 3 -> "model.e3.safetensors"
std::string generation_name(const std::string& name, int64_t gen) {
  const fs::path p(name);
  return fmt::format("{}.e{}{}", p.stem().string(), gen, p.extension().string());
}

// Generations present for `name` in dir (from the file names), newest first.
std::vector<int64_t> generations_on_disk(const fs::path& dir, const std::string& name) {
  const fs::path p(name);
  const std::string prefix = p.stem().string() + ".e", suffix = p.extension().string();
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() <= prefix.size() + suffix.size() || f.rfind(prefix, 0) != 0 ||
        f.compare(f.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = f.substr(prefix.size(), f.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 15 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    out.push_back(std::stoll(digits));
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

std::optional<int64_t> manifest_generation(const fs::path& dir) {
  std::ifstream f(dir / kManifest);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  const json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("generation") || !j["generation"].is_number_integer()) return std::nullopt;
  return j["generation"].get<int64_t>();
}

void write_synced(const fs::path& path, const std::string& text) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EMBER_CHECK(fd >= 0, "checkpoint: cannot create {} ({})", tmp, std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    EMBER_CHECK(false, "checkpoint: cannot write {} ({})", path.string(), std::strerror(err));
  }
}

}  // namespace

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void check_writable(const fs::path& dir, std::string_view op) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  EMBER_CHECK(!ec, "{}: cannot create the output folder {} ({})", op, dir.string(), ec.message());
  const fs::path probe = dir / (".write_test." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EMBER_CHECK(fd >= 0, "{}: cannot write to the output folder {} ({})", op, dir.string(), std::strerror(errno));
  ::close(fd);
  fs::remove(probe, ec);
}

void commit_checkpoint(const fs::path& dir, int64_t generation, const std::vector<CheckpointFile>& files,
                       const CheckpointHook& hook) {
  json manifest = {{"generation", generation}, {"files", json::object()}};
  for (const CheckpointFile& f : files) {
    const fs::path path = dir / generation_name(f.name, generation);
    f.write(path.string());
    fsync_path(path);
    manifest["files"][f.name] = path.filename().string();
    if (hook) hook(f.name);
  }
  fsync_path(dir);  // the renamed files' entries are durable before the manifest names them
  write_synced(dir / kManifest, manifest.dump(2) + "\n");
  fsync_path(dir);
  if (hook) hook("commit");
  // Older generations (keep one fallback), and plain files a pre-manifest run left behind.
  for (const CheckpointFile& f : files) {
    for (int64_t g : generations_on_disk(dir, f.name))
      if (g < generation - 1) fs::remove(dir / generation_name(f.name, g));
  }
}

std::optional<std::map<std::string, std::string>> find_checkpoint(
    const fs::path& dir, const std::vector<std::string>& names,
    const std::function<void(const std::map<std::string, std::string>&)>& load) {
  std::vector<int64_t> gens;
  if (auto m = manifest_generation(dir)) gens.push_back(*m);
  for (int64_t g : generations_on_disk(dir, names.front()))
    if (std::find(gens.begin(), gens.end(), g) == gens.end()) gens.push_back(g);
  for (int64_t g : gens) {
    std::map<std::string, std::string> paths;
    bool all = true;
    for (const std::string& n : names) {
      const fs::path p = dir / generation_name(n, g);
      all = all && fs::exists(p);
      paths[n] = p.string();
    }
    if (!all) continue;
    try {
      load(paths);
      return paths;
    } catch (const std::exception& e) {
      fmt::print(stderr, "checkpoint: generation {} in {} is incomplete ({}); trying an older one\n", g, dir.string(),
                 e.what());
    }
  }
  // A run folder from before manifests: the plain file names.
  std::map<std::string, std::string> plain;
  for (const std::string& n : names) {
    if (!fs::exists(dir / n)) return std::nullopt;
    plain[n] = (dir / n).string();
  }
  load(plain);  // its errors are the user's to see
  return plain;
}

std::string committed_path(const fs::path& dir, const std::string& name) {
  if (auto g = manifest_generation(dir)) return (dir / generation_name(name, *g)).string();
  return (dir / name).string();
}

}  // namespace ember::zoo
