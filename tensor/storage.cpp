// CPU caching allocator: freed blocks go to a per-size free list (sizes rounded up to 64 bytes
// below 1 MiB and to 4 KiB above it) and are reused by the next request of that rounded size.
// Cached bytes are capped; past the cap blocks go back to the system.
#include "tensor/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "tensor/error.h"

namespace ember {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kCacheCap = size_t(2) << 30;  // 2 GiB of cached blocks at most

size_t round_size(size_t n) {
  size_t unit = n < (size_t(1) << 20) ? kAlign : 4096;
  return (std::max<size_t>(n, 1) + unit - 1) / unit * unit;
}

class CpuCachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t size = round_size(nbytes);
    std::lock_guard lock(mu_);
    stats_.requests++;
    void* p = nullptr;
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_ -= size;
    } else {
      p = std::aligned_alloc(kAlign, size);
      if (!p) {
        release_cache_locked();
        p = std::aligned_alloc(kAlign, size);
      }
      EMBER_CHECK(p != nullptr, "cpu allocator: out of memory allocating {} bytes", size);
      stats_.system_allocs++;
      stats_.reserved += size;
    }
    stats_.allocated += size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    size_t size = round_size(nbytes);
    std::lock_guard lock(mu_);
    stats_.allocated -= size;
    if (cached_ + size > kCacheCap) {
      std::free(ptr);
      stats_.reserved -= size;
      return;
    }
    free_[size].push_back(ptr);
    cached_ += size;
  }

  AllocatorStats stats() {
    std::lock_guard lock(mu_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard lock(mu_);
    stats_.peak_allocated = stats_.allocated;
  }
  void empty_cache() {
    std::lock_guard lock(mu_);
    release_cache_locked();
  }

 private:
  void release_cache_locked() {
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) std::free(p);
      stats_.reserved -= size * blocks.size();
    }
    free_.clear();
    cached_ = 0;
  }

  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  AllocatorStats stats_;
};

CpuCachingAllocator& cpu_caching() {
  static auto* a = new CpuCachingAllocator();  // never destroyed: storages may outlive statics
  return *a;
}

Allocator* g_cuda_allocator = nullptr;

}  // namespace

Allocator& cpu_allocator() { return cpu_caching(); }
AllocatorStats cpu_allocator_stats() { return cpu_caching().stats(); }
void cpu_allocator_reset_peak() { cpu_caching().reset_peak(); }
void cpu_allocator_empty_cache() { cpu_caching().empty_cache(); }

void set_device_allocator(DeviceType type, Allocator* alloc) {
  EMBER_CHECK(type == DeviceType::cuda, "set_device_allocator: only the cuda allocator can be replaced");
  g_cuda_allocator = alloc;
}

Allocator& allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  EMBER_CHECK(g_cuda_allocator != nullptr, "allocator: device {} is not available in this build", d);
  return *g_cuda_allocator;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = allocator_for(device).allocate(nbytes);
}

Storage::~Storage() { allocator_for(device_).deallocate(data_, nbytes_); }

}  // namespace ember
