// CUDA runtime plumbing: error reporting, the per-device stream, the caching device allocator and
// the run-time switches (EMBER_GEMM, EMBER_DETERMINISTIC).
//
// Allocator: requests are rounded up (512 B units below 1 MiB, 2 MiB units above) and freed blocks
// wait in a per-(device, size) free list for the next request of that rounded size. Every kernel of
// a device runs on that device's one stream, so a block freed on the host may be handed out again
// at once: later work on the stream is ordered after earlier work that used it. On cudaMalloc
// failure the cache is released and the call retried once; then an ember::Error names the size.
#include <cuda_runtime.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/cuda.h"
#include "tensor/matmul_precision.h"
#include "cuda/device.h"
#include "tensor/error.h"

namespace ember::cuda {

[[noreturn]] void throw_cuda_error(const char* call, int code, const char* what, const char* file, int line) {
  detail::throw_error(fmt::format("cuda: {} failed with {} ({}) at {}:{}", call, code, what, file, line));
}

namespace {

constexpr int kMaxDevices = 16;

struct DeviceState {
  std::once_flag once;
  cudaStream_t stream = nullptr;
  int sms = 0;
};
DeviceState g_devices[kMaxDevices];

int current_device() {
  int d = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

DeviceState& state(int d) {
  DeviceState& s = g_devices[d];
  std::call_once(s.once, [&] {
    EMBER_CUDA_CHECK(cudaSetDevice(d));
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    EMBER_CUDA_CHECK(cudaDeviceGetAttribute(&s.sms, cudaDevAttrMultiProcessorCount, d));
  });
  return s;
}

size_t round_size(size_t n) {
  const size_t unit = n < (size_t(1) << 20) ? 512 : (size_t(2) << 20);
  return (std::max<size_t>(n, 1) + unit - 1) / unit * unit;
}

class CudaCachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    EMBER_CHECK(device_count() > 0, "cuda: no CUDA device available (allocating {} bytes)", nbytes);
    const int dev = current_device();
    state(dev);
    const size_t size = round_size(nbytes);
    std::lock_guard lock(mu_);
    stats_.requests++;
    void* p = nullptr;
    auto& bucket = free_[key(dev, size)];
    if (!bucket.empty()) {
      p = bucket.back();
      bucket.pop_back();
    } else {
      cudaError_t e = cudaMalloc(&p, size);
      if (e != cudaSuccess) {
        cudaGetLastError();
        release_locked();
        e = cudaMalloc(&p, size);
      }
      if (e != cudaSuccess) {
        cudaGetLastError();
        detail::throw_error(fmt::format("cuda allocator: cudaMalloc of {} bytes on device {} failed with {} ({}); "
                                        "{} bytes allocated, {} reserved",
                                        size, dev, int(e), cudaGetErrorString(e), stats_.allocated, stats_.reserved));
      }
      stats_.system_allocs++;
      stats_.reserved += size;
    }
    live_[p] = {dev, size};
    stats_.allocated += size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return p;
  }

  void deallocate(void* ptr, size_t) override {
    if (!ptr) return;
    std::lock_guard lock(mu_);
    auto it = live_.find(ptr);
    EMBER_ASSERT(it != live_.end(), "cuda allocator: freeing unknown pointer {}", ptr);
    const auto [dev, size] = it->second;
    live_.erase(it);
    stats_.allocated -= size;
    free_[key(dev, size)].push_back(ptr);
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
    release_locked();
  }

 private:
  static uint64_t key(int dev, size_t size) { return (uint64_t(dev) << 56) | uint64_t(size); }

  void release_locked() {
    const int cur = current_device();
    for (auto& [k, blocks] : free_) {
      if (blocks.empty()) continue;
      const int dev = int(k >> 56);
      EMBER_CUDA_CHECK(cudaSetDevice(dev));
      EMBER_CUDA_CHECK(cudaDeviceSynchronize());
      for (void* p : blocks) EMBER_CUDA_CHECK(cudaFree(p));
      stats_.reserved -= (k & ((uint64_t(1) << 56) - 1)) * blocks.size();
      blocks.clear();
    }
    EMBER_CUDA_CHECK(cudaSetDevice(cur));
  }

  std::mutex mu_;
  std::unordered_map<uint64_t, std::vector<void*>> free_;
  std::unordered_map<void*, std::pair<int, size_t>> live_;
  AllocatorStats stats_;
};

// EMBER_GEMM, when set, overrides the choice that follows matmul_precision().
std::optional<GemmImpl> gemm_from_env() {
  const char* e = std::getenv("EMBER_GEMM");
  if (!e) return std::nullopt;
  return parse_gemm_impl(e);
}

std::optional<GemmImpl> g_gemm = gemm_from_env();
bool g_deterministic = [] {
  const char* e = std::getenv("EMBER_DETERMINISTIC");
  return e && e[0] == '1';
}();

}  // namespace

Allocator& caching_allocator() {
  static auto* a = new CudaCachingAllocator();  // never destroyed: storages may outlive statics
  return *a;
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) { ptr_ = caching_allocator().allocate(bytes); }
DeviceBuffer::~DeviceBuffer() { caching_allocator().deallocate(ptr_, bytes_); }

cudaStream_t current_stream() { return state(current_device()).stream; }
int sm_count() { return state(current_device()).sms; }

void init(int index) {
  const int n = device_count();
  EMBER_CHECK(n > 0, "cuda: no CUDA device available");
  EMBER_CHECK(index >= 0 && index < n && index < kMaxDevices, "cuda: device {} out of range ({} devices)", index, n);
  EMBER_CUDA_CHECK(cudaSetDevice(index));
  state(index);
}

AllocatorStats memory_stats() { return static_cast<CudaCachingAllocator&>(caching_allocator()).stats(); }
void reset_peak_memory() { static_cast<CudaCachingAllocator&>(caching_allocator()).reset_peak(); }
void empty_cache() {
  if (device_count() > 0) static_cast<CudaCachingAllocator&>(caching_allocator()).empty_cache();
}

void synchronize() {
  EMBER_CHECK(device_count() > 0, "cuda: no CUDA device available");
  EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

GemmImpl gemm_impl() {
  if (g_gemm) return *g_gemm;
  return matmul_precision() == MatmulPrecision::highest ? GemmImpl::own : GemmImpl::tf32;
}
void set_gemm_impl(GemmImpl impl) { g_gemm = impl; }
GemmImpl parse_gemm_impl(const std::string& name) {
  if (name == "own") return GemmImpl::own;
  if (name == "tf32") return GemmImpl::tf32;
  if (name == "cublas") return GemmImpl::cublas;
  if (name == "cublas_tf32") return GemmImpl::cublas_tf32;
  EMBER_CHECK(false, "cuda: EMBER_GEMM={} is not one of own, tf32, cublas, cublas_tf32", name);
  __builtin_unreachable();
}

bool deterministic() { return g_deterministic; }
void set_deterministic(bool on) { g_deterministic = on; }

}  // namespace ember::cuda
