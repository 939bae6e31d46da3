// The CPU thread pool: every index covered exactly once, exceptions reach the caller, nesting and
// concurrent submitters run inline instead of deadlocking, and pools come and go cleanly.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tensor/parallel.h"
#include "tensor/threads.h"

namespace ember {
namespace {

struct ThreadCount {  // restores the thread count a test changes
  int saved = get_num_threads();
  ~ThreadCount() { set_num_threads(saved); }
};

TEST(Parallel, ForCoversTheRangeOnceInContiguousChunks) {
  ThreadCount keep;
  for (int threads : {1, 2, 3, 7}) {
    set_num_threads(threads);
    for (int64_t n : {1, 2, 5, 97, 10007}) {
      for (int64_t grain : {1, 10, 1000}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<int> chunks{0};
        parallel_for(n, grain, [&](int64_t b, int64_t e) {
          EXPECT_LT(b, e);
          chunks.fetch_add(1);
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n " << n << " i " << i;
        const int64_t most = std::min<int64_t>(threads, (n + grain - 1) / grain);
        EXPECT_LE(chunks.load(), std::max<int64_t>(most, 1)) << n << " " << grain << " " << threads;
      }
    }
  }
}

TEST(Parallel, TasksRunOnceEachAndUseTheWorkers) {
  ThreadCount keep;
  set_num_threads(2);
  std::vector<std::atomic<int>> hits(1000);
  std::atomic<bool> other_thread{false};
  const auto caller = std::this_thread::get_id();
  parallel_tasks(1000, [&](int64_t t) {
    hits[t].fetch_add(1);
    EXPECT_TRUE(in_parallel_region());
    if (std::this_thread::get_id() != caller) {
      other_thread = true;
      return;
    }
    // The caller holds its task until a worker has taken one (a freshly started worker on a busy
    // machine may need a while to be scheduled); 10 s without one fails below.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!other_thread.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_TRUE(other_thread.load());
  EXPECT_FALSE(in_parallel_region());
}

TEST(Parallel, FirstExceptionReachesTheCallerAfterTheOthersFinish) {
  ThreadCount keep;
  set_num_threads(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(parallel_tasks(64,
                              [&](int64_t t) {
                                ran.fetch_add(1);
                                if (t == 5) throw std::runtime_error("task 5");
                              }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 64);  // the pool claims every task; none is skipped or run twice
  int after = 0;              // and the pool still works
  parallel_tasks(8, [&](int64_t) { __atomic_fetch_add(&after, 1, __ATOMIC_RELAXED); });
  EXPECT_EQ(after, 8);
}

TEST(Parallel, NestedCallsRunInline) {
  ThreadCount keep;
  set_num_threads(2);
  std::atomic<int> inner_chunks{0}, total{0};
  parallel_tasks(4, [&](int64_t) {
    parallel_for(1000, 1, [&](int64_t b, int64_t e) {
      inner_chunks.fetch_add(1);
      total.fetch_add(int(e - b));
    });
  });
  EXPECT_EQ(inner_chunks.load(), 4);
  EXPECT_EQ(total.load(), 4000);
}

TEST(Parallel, TwoSubmittingThreadsBothFinish) {
  ThreadCount keep;
  set_num_threads(2);
  std::atomic<int64_t> sum{0};
  auto submit = [&] {
    for (int rep = 0; rep < 200; ++rep)
      parallel_for(1000, 10, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) sum.fetch_add(i, std::memory_order_relaxed);
      });
  };
  std::thread other(submit);
  submit();
  other.join();
  EXPECT_EQ(sum.load(), 2 * 200 * (999 * 1000 / 2));
}

// Tasks run inline because another thread holds the pool are still tasks: a kernel they call sees
// in_parallel_region() and takes the same path as on the pool, so results do not depend on timing.
TEST(Parallel, TasksRunInlineWhileThePoolIsBusyAreStillTasks) {
  ThreadCount keep;
  set_num_threads(2);
  std::atomic<bool> holding{false}, done{false};
  std::thread holder([&] {
    parallel_tasks(2, [&](int64_t) {  // the caller and the worker both wait inside the job
      holding = true;
      while (!done) std::this_thread::yield();
    });
  });
  while (!holding) std::this_thread::yield();
  std::atomic<int> inside{0}, ran{0};
  parallel_tasks(3, [&](int64_t) {
    ran.fetch_add(1);
    inside.fetch_add(in_parallel_region() ? 1 : 0);
  });
  EXPECT_FALSE(in_parallel_region());  // restored after the inline tasks
  done = true;
  holder.join();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(inside.load(), 3);
  // An exception from an inline task leaves the flag restored too.
  done = false;
  holding = false;
  std::thread holder2([&] {
    parallel_tasks(2, [&](int64_t) {
      holding = true;
      while (!done) std::this_thread::yield();
    });
  });
  while (!holding) std::this_thread::yield();
  EXPECT_THROW(parallel_tasks(2, [](int64_t) { throw Error("task"); }), Error);
  EXPECT_FALSE(in_parallel_region());
  done = true;
  holder2.join();
}

TEST(Parallel, ResizingThePoolRepeatedlyNeitherLosesWorkNorHangs) {
  ThreadCount keep;
  for (int rep = 0; rep < 300; ++rep) {  // fresh workers that may start after their first job
    set_num_threads(1 + rep % 3);
    std::atomic<int> hits{0};
    parallel_tasks(3, [&](int64_t) { hits.fetch_add(1); });
    ASSERT_EQ(hits.load(), 3);
  }
  EXPECT_THROW(set_num_threads(0), Error);
}

// Outside review: --threads 100000 aborted ("terminate called without an active exception")
// when a spawn failed. Now the count is capped and a refused spawn leaves a smaller pool.
TEST(Parallel, HugeCountsAreCappedAndRefusedSpawnsLeaveASmallerPool) {
  ThreadCount keep;
  set_num_threads(100000);
  EXPECT_EQ(get_num_threads(), max_useful_threads());
  for (int allowed : {0, 2}) {
    testing::fail_thread_spawns_after(allowed);
    set_num_threads(8);
    std::vector<std::atomic<int>> hits(1000);
    std::mutex mu;
    std::set<std::thread::id> ids;
    parallel_tasks(1000, [&](int64_t t) {
      hits[size_t(t)].fetch_add(1);
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    testing::fail_thread_spawns_after(-1);
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    EXPECT_LE(ids.size(), size_t(allowed + 1));
    set_num_threads(1);  // drop the small pool while the hook is off
  }
  std::vector<std::thread> started = spawn_threads(3, [](int) {});
  EXPECT_EQ(started.size(), 3u);
  for (auto& t : started) t.join();
}

// A worker that finishes its task long after the caller ran out of work (here it sleeps; on a
// shared machine the OS deschedules it) sends the pool solo: the next jobs run on the caller alone
// until the back-off (10 ms first) has passed, then the workers are used again.
TEST(Parallel, ALateWorkerSendsThePoolSoloForABackOffPeriod) {
  ThreadCount keep;
  set_num_threads(3);
  parallel_tasks(2, [](int64_t) {});  // a fresh pool of 2 below (no back-off history)
  set_num_threads(2);
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> worker_took{false};
  parallel_tasks(2, [&](int64_t) {
    if (std::this_thread::get_id() != caller) {
      worker_took = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!worker_took.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  ASSERT_TRUE(worker_took.load());
  const PoolStats after_late = pool_stats();
  EXPECT_EQ(after_late.late, 1);
  std::atomic<int> off_caller{0};
  parallel_tasks(64, [&](int64_t) { off_caller += std::this_thread::get_id() != caller; });
  EXPECT_EQ(off_caller.load(), 0);
  EXPECT_EQ(pool_stats().solo, after_late.solo + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  parallel_tasks(64, [](int64_t) {});
  EXPECT_EQ(pool_stats().jobs, after_late.jobs + 1);  // the pool ran it again
}

}  // namespace
}  // namespace ember
