// One thread pool for all CPU kernels. Small ranges stay single-threaded.
//
// The pool is ours (not OpenMP): workers spin for a short while after a job (kernels come in quick
// succession during a training step), then sleep on a futex, so an idle process costs nothing and a
// busy machine is not robbed by spinning threads (libgomp's default active wait made 2-thread runs
// collapse when other processes shared the cores). Work is claimed from an atomic counter, so a
// thread that the OS deschedules does not hold up the others.
//
// On a shared machine a worker can be descheduled while it holds a task; the caller notices the
// wait (parallel.cpp: "late workers") and runs the next jobs on its own for a back-off period, so
// 2 threads are not slower than 1 when another process keeps a core busy.
//
// Thread count: set_num_threads(n), else EMBER_NUM_THREADS, else OMP_NUM_THREADS, else the number of
// CPUs this process may run on; capped at max_useful_threads() (tensor/threads.h: 4x the CPUs, at
// least 16). When the system refuses to start some threads the pool runs with those that started.
#pragma once

#include <cstdint>
#include <functional>

namespace ember {

void set_num_threads(int n);  // n >= 1 (larger than max_useful_threads() is capped)
int get_num_threads();
bool in_parallel_region();  // true inside a task run by parallel_for / parallel_tasks

// Calls f(begin, end) over [0, n) split into contiguous chunks of at least `grain` items, at most
// one chunk per thread; runs inline when n <= grain, when one thread is set, or when nested.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

// Calls f(t) once for every t in [0, tasks), tasks claimed one at a time by whichever thread is
// free (load balance for uneven or many tasks); runs inline when one thread is set or when nested.
// The first exception thrown by a task reaches the caller once the tasks already started are done.
void parallel_tasks(int64_t tasks, const std::function<void(int64_t)>& f);

// Counters of the current pool (benches and tests): jobs run on the pool, jobs judged late (a
// worker finished its tasks long after the caller ran out of work), and jobs run inline because
// the pool was in a solo period after a late job.
struct PoolStats {
  int64_t jobs = 0, late = 0, solo = 0;
};
PoolStats pool_stats();

}  // namespace ember
