// The CUDA runtime as users see it: initialisation, memory statistics of the caching allocator,
// synchronisation, and the run-time choice of GEMM / convolution implementation.
// Linking ember_cuda registers the backend and the allocator for DeviceType::cuda, so
// `to_device(t, Device::cuda())` works without calling anything here first; with no GPU (or no
// driver) every CUDA call throws "cuda: no CUDA device available".
#pragma once

#include <cstdint>
#include <string>

#include "tensor/storage.h"

namespace ember::cuda {

// Makes device `index` current and creates its stream; throws when it does not exist.
void init(int index = 0);

// Caching device allocator: blocks are rounded (512 B below 1 MiB, 2 MiB above) and reused, so a
// steady-state training step calls cudaMalloc zero times. Plain cudaMalloc, never managed memory.
AllocatorStats memory_stats();
void reset_peak_memory();
void empty_cache();  // returns cached blocks with cudaFree (synchronises first)

void synchronize();  // waits for the current device's stream

// GEMM implementation for Backend::gemm (f32): own (our tiled SIMT kernel, exact f32), tf32 (our
// tensor-core kernel, tf32 inputs), cublas, cublas_tf32. By default it follows matmul_precision()
// (tensor/matmul_precision.h: highest -> own, tf32 and bf16 -> tf32); EMBER_GEMM=<impl> or
// set_gemm_impl() override that (benchmarks, baselines).
enum class GemmImpl : uint8_t { own, tf32, cublas, cublas_tf32 };
GemmImpl gemm_impl();
void set_gemm_impl(GemmImpl impl);
GemmImpl parse_gemm_impl(const std::string& name);  // throws on an unknown name

// Deterministic index_add / scatter_add (no atomics; EMBER_DETERMINISTIC=1 turns it on).
bool deterministic();
void set_deterministic(bool on);

}  // namespace ember::cuda
