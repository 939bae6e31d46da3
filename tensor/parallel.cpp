// The CPU thread pool: n-1 workers plus the calling thread.
//
// A job is a task count and a function; tasks are claimed with fetch_add on `next`. Workers learn
// of a job through `generation_` (bumped per job): they spin on it for kSpin after their last job,
// then sleep on a futex (waking costs a syscall only while someone sleeps). The job lives on
// the caller's stack, so before returning the caller unpublishes it and waits until no worker is
// still inside it (`inside_`, seq_cst: a worker that saw the job has already counted itself).
//
// Late workers (a shared machine): a worker that the OS deschedules while it holds a task makes
// the caller wait for the rest of the other process's time slice (milliseconds), which made 2
// threads slower than 1 when one other process was busy. The caller times each job: `own` from
// publishing to running out of tasks to claim, `wait` from then until the workers' tasks are done.
// A job is late when wait > max(own, kLateMin): the pool then runs jobs inline (one thread) for a
// back-off period (kSoloFirst, doubling on every late probe up to kSoloMax) and probes again; a
// probe in which the workers finished tasks on time resets the back-off.
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
constexpr auto kLateMin = std::chrono::microseconds(250);   // shorter waits are wake-up latency
constexpr auto kSoloFirst = std::chrono::milliseconds(10);  // first back-off after a late job
constexpr auto kSoloMax = std::chrono::milliseconds(250);   // probes at least this often

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

// Marks this thread as running tasks for a scope (in_parallel_region() true), restoring the outer state.
struct InTaskScope {
  bool was = t_in_task;
  InTaskScope() { t_in_task = true; }
  ~InTaskScope() { t_in_task = was; }
  InTaskScope(const InTaskScope&) = delete;
  InTaskScope& operator=(const InTaskScope&) = delete;
};

struct Job {
  const std::function<void(int64_t)>* f;
  int64_t tasks;
  std::atomic<int64_t> next{0}, done{0}, by_workers{0};
  std::mutex error_mu;
  std::exception_ptr error;

  // Claims and runs tasks until none are left.
  void work(bool worker) {
    InTaskScope in_task;
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      try {
        (*f)(t);
      } catch (...) {
        std::lock_guard lock(error_mu);
        if (!error) error = std::current_exception();
      }
      if (worker) by_workers.fetch_add(1, std::memory_order_relaxed);
      done.fetch_add(1, std::memory_order_release);
    }
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
  // Also false while the pool runs solo after a late job (the caller runs the tasks inline).
  bool run(int64_t tasks, const std::function<void(int64_t)>& f) {
    std::unique_lock lock(submit_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    const auto start = Clock::now();
    if (start < solo_until_) {
      stats_.solo.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    Job job;
    job.f = &f;
    job.tasks = tasks;
    job_.store(&job);
    publish();
    job.work(false);
    const auto own_end = Clock::now();
    for (int spins = 0; job.done.load(std::memory_order_acquire) < tasks; ++spins) wait_step(spins);
    job_.store(nullptr);
    // A worker descheduled after it finished its last task, or after it saw the job but before it
    // claimed a task, holds the caller here just like one descheduled inside a task: both count
    // in the wait that judges the job.
    for (int spins = 0; inside_.load() > 0; ++spins) wait_step(spins);
    const auto wait = Clock::now() - own_end;
    judge(own_end - start, wait, job.by_workers.load(std::memory_order_relaxed) > 0);
    if (job.error) std::rethrow_exception(job.error);
    return true;
  }

  PoolStats stats() const {
    return {stats_.jobs.load(), stats_.late.load(), stats_.solo.load()};
  }

 private:
  // Bumps the generation (seq_cst), then wakes sleepers; a worker counts itself as a sleeper
  // before its last look at the generation, so one of the two always sees the other.
  void publish() {
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) futex_wake_all(generation_);
  }

  // Called with submit_ held: a late job starts (or lengthens) a solo period; a job whose worker
  // tasks finished on time ends the back-off. Jobs the workers took no part in say nothing.
  void judge(Clock::duration own, Clock::duration wait, bool workers_helped) {
    stats_.jobs.fetch_add(1, std::memory_order_relaxed);
    if (wait > std::max<Clock::duration>(own, kLateMin)) {
      stats_.late.fetch_add(1, std::memory_order_relaxed);
      solo_until_ = Clock::now() + backoff_;
      backoff_ = std::min<Clock::duration>(2 * backoff_, kSoloMax);
    } else if (workers_helped) {
      backoff_ = kSoloFirst;
    }
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
      if (Job* job = job_.load()) job->work(true);
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
  Clock::time_point solo_until_{};              // guarded by submit_
  Clock::duration backoff_{kSoloFirst};         // guarded by submit_
  struct {
    std::atomic<int64_t> jobs{0}, late{0}, solo{0};
  } stats_;
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

PoolStats pool_stats() {
  std::shared_ptr<Pool> p;
  {
    std::lock_guard lock(g_pool_mu);
    p = g_pool;
  }
  return p ? p->stats() : PoolStats{};
}

void parallel_tasks(int64_t tasks, const std::function<void(int64_t)>& f) {
  if (tasks <= 0) return;
  // Inline when there is nothing to share or when nested.
  if (tasks == 1 || get_num_threads() == 1 || t_in_task) {
    for (int64_t t = 0; t < tasks; ++t) f(t);
    return;
  }
  if (pool()->run(tasks, f)) return;
  // Inline because another thread holds the pool or it runs solo after a late job: a matter of
  // timing. The tasks still run as tasks (in_parallel_region() true), so the kernels they call
  // choose the same single-threaded paths as on the pool whatever the machine's load. (Today's
  // nested kernels give the same bits on either path, e.g. GEMM's tile split does not change a
  // sum; a kernel that split a reduction by its path would not.)
  InTaskScope in_task;
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
