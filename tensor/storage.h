// Storage: a ref-counted byte buffer on one device, shared by every view of it. Allocation goes
// through the device's caching allocator, so a training step does not call malloc per intermediate.
// The version counter lives here so that every view of a buffer sees in-place writes
// (autograd checks it when a saved tensor is used in backward).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace ember {

// Device allocator interface; CPU's is a caching allocator with 64-byte alignment.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
};

struct AllocatorStats {
  size_t allocated = 0;       // bytes in live blocks handed out
  size_t reserved = 0;        // bytes held from the system (live + cached)
  size_t peak_allocated = 0;  // max of `allocated` since start / reset
  size_t system_allocs = 0;   // calls that went to the system allocator
  size_t requests = 0;        // all allocate() calls
};

Allocator& cpu_allocator();
AllocatorStats cpu_allocator_stats();
void cpu_allocator_reset_peak();
void cpu_allocator_empty_cache();  // returns cached blocks to the system

// Registered by the CUDA backend when it is built and a device exists.
void set_device_allocator(DeviceType type, Allocator* alloc);
Allocator& allocator_for(Device d);

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::atomic<uint32_t> version_{0};
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace ember
