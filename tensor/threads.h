// Starting threads without aborting: std::thread's constructor throws std::system_error when the
// system refuses a thread (a container's process limit, RLIMIT_NPROC, memory for the stacks), and
// a vector of joinable threads destroyed during that unwind calls std::terminate. spawn_threads
// starts what it can and returns those threads; callers run with them (the thread pool,
// hpo::Study::optimize). Header-only, so hpo/ (which links no tensor library) uses it too.
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <system_error>
#include <thread>
#include <vector>

namespace ember {

// CPUs this process may run on (its affinity mask; hardware_concurrency as a fallback).
inline int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, int(std::thread::hardware_concurrency()));
}

// The most threads ember starts for one pool or study: 4x the CPUs (at least 16, so tests of
// thread-count independence still run several threads on a 2-core machine). More only adds
// switching and stacks; --threads 100000 used to abort.
inline int max_useful_threads() { return std::max(16, 4 * available_cpus()); }

namespace testing {
// Test hook: thread spawns fail (as if the system refused them) after this many more succeed;
// negative = never. Process-wide.
inline std::atomic<int> g_spawns_left{-1};
inline void fail_thread_spawns_after(int n) { g_spawns_left.store(n); }
}  // namespace testing

// Starts up to n threads running f(i), i = 0..n-1, stopping at the first refused spawn; returns
// the started ones (possibly none) for the caller to join.
inline std::vector<std::thread> spawn_threads(int n, const std::function<void(int)>& f) {
  std::vector<std::thread> out;
  out.reserve(size_t(std::max(n, 0)));
  for (int i = 0; i < n; ++i) {
    if (testing::g_spawns_left.load() == 0) break;
    if (testing::g_spawns_left.load() > 0) testing::g_spawns_left.fetch_sub(1);
    try {
      out.emplace_back([f, i] { f(i); });
    } catch (const std::system_error&) {
      break;
    }
  }
  return out;
}

}  // namespace ember
