// Run-folder checkpoints made of several files that must stay a matching set (weights + training
// state), committed together through a manifest:
//   1. each file is written as "<stem>.e<N><ext>" (temp name, fsync, rename: never half-written);
//   2. "checkpoint.json" ({"generation": N, "files": {...}}) is written the same way and the folder
//      fsynced: this one rename is the commit;
//   3. generations older than N-1 are removed (N-1 stays as a fallback).
// A kill or a full disk at any point leaves the previous committed set intact. Resuming takes the
// manifest's generation, or when its files are missing or do not load, the newest older generation
// whose files all load (docs/reliability.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::zoo {

struct CheckpointFile {
  std::string name;                                  // "model.safetensors"
  std::function<void(const std::string&)> write;     // writes the file at the given path
};

// Test hook: called with "<name>" after each file is written and with "commit" after the manifest;
// a hook that throws leaves the folder as a kill at that point would.
using CheckpointHook = std::function<void(std::string_view)>;

// Writes `files` as generation `generation` of `dir` and commits it (see above).
void commit_checkpoint(const std::filesystem::path& dir, int64_t generation, const std::vector<CheckpointFile>& files,
                       const CheckpointHook& hook = {});

// Paths (by file name) of the newest complete generation: `load` must succeed (not throw) on the
// set. nullopt when the folder holds none. Also accepts a folder of plain "<name>" files written
// before manifests existed.
std::optional<std::map<std::string, std::string>> find_checkpoint(
    const std::filesystem::path& dir, const std::vector<std::string>& names,
    const std::function<void(const std::map<std::string, std::string>&)>& load);

// The committed generation's path of `name` ("dir/model.e3.safetensors"), or dir/name when the
// folder has no manifest.
std::string committed_path(const std::filesystem::path& dir, const std::string& name);

// fsync of a file or folder (errors ignored where the file system cannot sync folders).
void fsync_path(const std::filesystem::path& path);

// Throws "<op>: cannot write to <dir> (...)" now, rather than after the first epoch.
void check_writable(const std::filesystem::path& dir, std::string_view op);

}  // namespace ember::zoo
