// CUDA device discovery. Host-only header: code outside cuda/ includes it without nvcc.
#pragma once

#include <string>

namespace ember::cuda {

// Number of usable CUDA devices; 0 when there is no GPU *or* no driver (cudaGetDeviceCount
// returns an error on GPU-less machines, which is not a failure here).
int device_count();
bool is_available();
// "NVIDIA H200 (sm_90, 139 GiB)" for device i; throws when i is out of range.
std::string device_name(int i);

// out[i] = a[i] + b[i] on device 0 for n floats of host memory (copies in and out), through the
// CUDA backend: the smallest end-to-end path (upload, kernel, download).
void add_f32_host(const float* a, const float* b, float* out, int64_t n);

}  // namespace ember::cuda
