#include "tensor/parallel.h"

#include <omp.h>

#include <algorithm>
#include <exception>

#include "tensor/error.h"

namespace ember {
namespace {
int g_threads = 0;  // 0: not yet set -> OpenMP's default
}

void set_num_threads(int n) {
  EMBER_CHECK(n >= 1, "set_num_threads: expected n >= 1, got {}", n);
  g_threads = n;
  omp_set_num_threads(n);
}

int get_num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

bool in_parallel_region() { return omp_in_parallel(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  int threads = get_num_threads();
  int64_t chunks = std::min<int64_t>(threads, (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1));
  if (chunks <= 1 || omp_in_parallel()) {
    f(0, n);
    return;
  }
  // Exceptions must not escape an OpenMP region: keep the first and rethrow after the join.
  std::exception_ptr error;
#pragma omp parallel for num_threads(chunks) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    try {
      f(begin, end);
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace ember
