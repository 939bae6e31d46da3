// Communicator conformance: every collective on every CPU implementation, with ranks as threads of
// this process. "threads" is the in-process ThreadGroup; "gloo-file" and "gloo-tcp" are real Gloo
// TCP connections on 127.0.0.1 whose rendezvous goes through a FileStore or our TcpStore.
#include <filesystem>
#include <functional>
#include <thread>

#include "dist/gloo.h"
#include "dist/store.h"
#include "dist/threads.h"
#include "tests/dist/dist_test_util.h"

namespace ember::dist {
namespace {

using namespace std::chrono_literals;

// Runs fn(comm) on `world` threads, one per rank, and rethrows the first error.
void run_world(const std::string& kind, int world, std::chrono::milliseconds timeout,
               const std::function<void(Communicator&)>& fn) {
  std::vector<CommunicatorPtr> comms;
  if (kind == "threads") comms = make_thread_group(world, timeout);
  const auto dir = testing::make_temp_dir("ember_comm");
  const int port = testing::free_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        CommunicatorPtr c;
        if (kind == "threads") {
          c = comms[size_t(r)];
        } else {
          const std::string url = kind == "gloo-file" ? "file:" + dir.string() : fmt::format("tcp://127.0.0.1:{}", port);
          c = make_gloo_communicator(r, world, open_store(url, r, timeout), {.timeout = timeout});
        }
        fn(*c);
        c->barrier();  // rank 0's TcpStore server outlives every rank's use of it
      } catch (...) {
        errors[size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  std::filesystem::remove_all(dir);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

class CommunicatorConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(CommunicatorConformance, AllreduceSumAndAvgInRankOrder) {
  for (int world : {1, 2, 3}) {
    run_world(GetParam(), world, 10s, [&](Communicator& c) {
      EXPECT_EQ(c.world_size(), world);
      // rank r holds x[i] = (r+1) * (i+1): the sum is (i+1) * W(W+1)/2, exact in f32.
      Tensor x = mul(Tensor::arange(1, 1001, 1), Tensor::scalar(c.rank() + 1));
      c.allreduce(x, ReduceOp::sum);
      const auto v = x.to_vector<float>();
      for (int i = 0; i < 1000; i += 97) EXPECT_EQ(v[size_t(i)], float((i + 1) * world * (world + 1) / 2));
      Tensor y = Tensor::full({5}, 2.0 * c.rank(), {.dtype = DType::f64});
      c.allreduce(y, ReduceOp::avg);
      EXPECT_DOUBLE_EQ(y.to_vector<double>()[4], double(world - 1));
      EXPECT_DOUBLE_EQ(c.allreduce(double(c.rank()), ReduceOp::sum), world * (world - 1) / 2.0);
    });
  }
}

TEST_P(CommunicatorConformance, BroadcastAllgatherBarrier) {
  run_world(GetParam(), 3, 10s, [](Communicator& c) {
    Tensor t = c.rank() == 1 ? Tensor::from_vector<int64_t>({7, 8, 9}, {3}, {.dtype = DType::i64})
                             : Tensor::zeros({3}, {.dtype = DType::i64});
    c.broadcast(t, 1);
    EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{7, 8, 9}));
    Tensor g = c.allgather(Tensor::full({2}, c.rank() + 0.5));
    EXPECT_EQ(g.shape(), (Shape{3, 2}));
    EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{0.5f, 0.5f, 1.5f, 1.5f, 2.5f, 2.5f}));
    for (int i = 0; i < 3; ++i) c.barrier();
  });
}

TEST_P(CommunicatorConformance, BadTensorsGiveClearErrors) {
  run_world(GetParam(), 1, 10s, [](Communicator& c) {
    Tensor i = Tensor::zeros({4}, {.dtype = DType::i32});
    EXPECT_THROW_MSG(c.allreduce(i), "allreduce: dtype i32 of tensor [4] is not f32 or f64");
    Tensor nc = Tensor::zeros({4, 4}).transpose(0, 1);
    EXPECT_THROW_MSG(c.allreduce(nc), "allreduce: tensor [4,4] must be contiguous");
    Tensor t = Tensor::zeros({2});
    EXPECT_THROW_MSG(c.broadcast(t, 3), "broadcast: root 3 is not a rank of a world of 1");
  });
}

// A rank that never arrives makes the others fail within the timeout with a message naming them.
TEST_P(CommunicatorConformance, MissingRankTimesOut) {
  const auto start = std::chrono::steady_clock::now();
  try {
    run_world(GetParam(), 2, 1500ms, [](Communicator& c) {
      if (c.rank() == 1) throw std::runtime_error("rank 1 leaves");
      Tensor x = Tensor::ones({16});
      c.allreduce(x);
    });
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(msg.find("rank 1 leaves") != std::string::npos || msg.find("rank 0 of 2 failed") != std::string::npos)
        << msg;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

INSTANTIATE_TEST_SUITE_P(Cpu, CommunicatorConformance, ::testing::Values("threads", "gloo-file", "gloo-tcp"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(ThreadGroup, TimeoutMessageNamesTheRankAndTheWait) {
  auto comms = make_thread_group(2, 200ms);
  EXPECT_THROW_MSG(comms[0]->barrier(), "barrier: rank 0 of 2 failed (1 rank(s) did not arrive within 200 ms)");
  EXPECT_THROW_MSG(comms[1]->barrier(), "thread group broke");
}

TEST(Store, BadUrlsAreRejected) {
  EXPECT_THROW_MSG(open_store("redis://x", 0, 1s), "store: unknown rendezvous 'redis://x'");
  EXPECT_THROW_MSG(open_store("tcp://host", 0, 1s), "store: 'tcp://host' has no HOST:PORT");
  EXPECT_THROW_MSG(open_store("tcp://127.0.0.1:1", 1, 300ms), "store: cannot connect to 127.0.0.1:1 within 300 ms");
}

}  // namespace
}  // namespace ember::dist
