// The CPU thread pool: n-1 workers plus the calling thread.
//
// A job is a task count and a function; tasks are claimed with fetch_add on `next`. Workers learn
// of a job through `generation_` (bumped per job): they spin on it for kSpin after their last job,
// then sleep on a futex (waking costs a syscall only while someone sleeps). The job lives on
// the caller's stack, so before returning the caller unpublishes it and waits until no worker is
// still inside it (`inside_`, seq_cst: a worker that saw the job has already counted itself).
#include "tensor/parallel.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tensor/error.h"
#include "tensor/threads.h"

namespace ember {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSpin = std::chrono::microseconds(100);  // busy-wait window after a job

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Raw futex calls: GCC 12's std::atomic::wait/notify can lose a wake-up (seen here as a hang at
// exit), so sleepers are counted by hand and woken only when there are any.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

thread_local bool t_in_task = false;

struct Job {
  const std::function<void(int64_t)>* f;
  int64_t tasks;
  std::atomic<int64_t> next{0}, done{0};
  std::mutex error_mu;
  std::exception_ptr error;

  // Claims and runs tasks until none are left.
  void work() {
    const bool was = t_in_task;
    t_in_task = true;
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      try {
        (*f)(t);
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
      }
      done.fetch_add(1, std::memory_order_release);
    }
    t_in_task = was;
  }
};

class Pool {
 public:
  // Starts threads - 1 workers; when the system refuses some, runs with those that started (and
  // says so once on stderr) instead of aborting.
  explicit Pool(int threads) : requested_(threads) {
    workers_ = spawn_threads(threads - 1, [this](int) { loop(); });
    if (int(workers_.size()) + 1 < threads)
      fmt::print(stderr, "ember: warning: the system started only {} of {} threads; running with {}\n",
                 workers_.size() + 1, threads, workers_.size() + 1);
  }
  ~Pool() {
    stop_.store(true);
    publish();
    for (auto& w : workers_) w.join();
  }
  int threads() const { return int(workers_.size()) + 1; }
  int requested() const { return requested_; }

  // Runs the job on this thread and the workers; false when another thread's job is running
  // (the caller then runs inline rather than queueing behind it).
  bool run(int64_t tasks, const std::function<void(int64_t)>& f) {
    std::unique_lock lock(submit_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    Job job;
    job.f = &f;
    job.tasks = tasks;
    job_.store(&job);
    publish();
    job.work();
    for (int spins = 0; job.done.load(std::memory_order_acquire) < tasks; ++spins) wait_step(spins);
    job_.store(nullptr);
    for (int spins = 0; inside_.load() > 0; ++spins) wait_step(spins);
    if (job.error) std::rethrow_exception(job.error);
    return true;
  }

 private:
  // Bumps the generation (seq_cst), then wakes sleepers; a worker counts itself as a sleeper
  // before its last look at the generation, so one of the two always sees the other.
  void publish() {
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) futex_wake_all(generation_);
  }

  static void wait_step(int spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();  // a worker holding a task was descheduled
  }

  void loop() {
    uint32_t seen = 0;  // the generation at construction, not at thread start: a late starter must
                        // still see the jobs (and the stop) posted before it ran
    for (;;) {
      const auto start = Clock::now();
      for (int i = 0; generation_.load(std::memory_order_acquire) == seen; ++i) {
        if ((i & 63) == 63 && Clock::now() - start > kSpin) {
          sleepers_.fetch_add(1);
          while (generation_.load() == seen) futex_wait(generation_, seen);
          sleepers_.fetch_sub(1);
          break;
        }
        cpu_relax();
      }
      seen = generation_.load();
      if (stop_.load()) return;
      inside_.fetch_add(1);
      if (Job* job = job_.load()) job->work();
      inside_.fetch_sub(1);
    }
  }

  int requested_;
  std::vector<std::thread> workers_;
  std::mutex submit_;
  std::atomic<uint32_t> generation_{0};  // 32-bit: waits on it are plain futex waits
  std::atomic<Job*> job_{nullptr};
  std::atomic<int> inside_{0}, sleepers_{0};
  std::atomic<bool> stop_{false};
};

int default_threads() {
  for (const char* var : {"EMBER_NUM_THREADS", "OMP_NUM_THREADS"})
    if (const char* v = std::getenv(var); v && std::atoi(v) > 0) return std::min(std::atoi(v), max_useful_threads());
  return available_cpus();
}

std::mutex g_pool_mu;  // guards creating / replacing the pool
std::shared_ptr<Pool> g_pool;  // shared: a job still running keeps a replaced pool alive
std::atomic<int> g_threads{0};  // 0: not yet decided

std::shared_ptr<Pool> pool() {
  std::lock_guard lock(g_pool_mu);
  if (!g_pool || g_pool->requested() != get_num_threads()) g_pool = std::make_shared<Pool>(get_num_threads());
  return g_pool;
}

}  // namespace

void set_num_threads(int n) {
  EMBER_CHECK(n >= 1, "set_num_threads: expected n >= 1, got {}", n);
  g_threads.store(std::min(n, max_useful_threads()));
}

int get_num_threads() {
  int n = g_threads.load();
  if (n == 0) {
    int expected = 0;
    g_threads.compare_exchange_strong(expected, default_threads());
    n = g_threads.load();
  }
  return n;
}

bool in_parallel_region() { return t_in_task; }

void parallel_tasks(int64_t tasks, const std::function<void(int64_t)>& f) {
  if (tasks <= 0) return;
  // Inline when there is nothing to share, when nested, or when another thread holds the pool.
  if (tasks == 1 || get_num_threads() == 1 || t_in_task || !pool()->run(tasks, f))
    for (int64_t t = 0; t < tasks; ++t) f(t);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  const int64_t g = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(get_num_threads(), (n + g - 1) / g);
  if (chunks <= 1 || t_in_task) {
    f(0, n);
    return;
  }
  parallel_tasks(chunks, [&](int64_t c) { f(n * c / chunks, n * (c + 1) / chunks); });
}

}  // namespace ember
