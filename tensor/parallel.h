// One thread pool for all CPU kernels (OpenMP underneath). Small ranges stay single-threaded.
#pragma once

#include <cstdint>
#include <functional>

namespace ember {

void set_num_threads(int n);  // n >= 1
int get_num_threads();
bool in_parallel_region();

// Calls f(begin, end) over [0, n) split into contiguous chunks of at least `grain` items,
// one per thread; runs inline when n <= grain, when one thread is set, or when nested.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

}  // namespace ember
