// NcclCommunicator on real GPUs: one rank per GPU, ranks as threads of this process (cudaSetDevice
// is per thread), the unique id shared through our TcpStore. Compiled in CUDA builds; skipped
// without a GPU. With one GPU the world has one rank (NCCL refuses two ranks on one device).
#include <gtest/gtest.h>

#ifdef EMBER_DIST_NCCL
#include <cuda_runtime.h>

#include <thread>

#include "dist/init.h"
#include "tests/dist/dist_test_util.h"

namespace ember::dist {
namespace {

TEST(Nccl, CollectivesOnEveryGpu) {
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) GTEST_SKIP() << "no CUDA device";
  const int world = std::min(gpus, 4);
  const int port = testing::free_port();
  std::vector<std::string> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        DistEnv env{.rank = r, .world_size = world, .local_rank = r, .local_world_size = world};
        auto comm = make_nccl_communicator(env, fmt::format("tcp://127.0.0.1:{}", port), std::chrono::seconds(60));
        const int64_t n = 1 << 20;  // 4 MB of f32: x[i] = r + 1
        std::vector<float> host(size_t(n), float(r + 1));
        float* x = nullptr;
        cudaMalloc(&x, n * sizeof(float));
        cudaMemcpy(x, host.data(), n * sizeof(float), cudaMemcpyHostToDevice);
        comm->allreduce(x, n, DType::f32, ReduceOp::sum);
        cudaMemcpy(host.data(), x, n * sizeof(float), cudaMemcpyDeviceToHost);
        if (host[123] != float(world * (world + 1) / 2)) errors[size_t(r)] += fmt::format("sum {} ", host[123]);
        comm->allreduce(x, n, DType::f32, ReduceOp::avg);
        cudaMemcpy(host.data(), x, sizeof(float), cudaMemcpyDeviceToHost);
        if (host[0] != float(world * (world + 1) / 2)) errors[size_t(r)] += fmt::format("avg {} ", host[0]);
        int64_t* b = nullptr;
        cudaMalloc(&b, sizeof(int64_t) * (world + 1));
        const int64_t mine = 100 + r;
        cudaMemcpy(b, &mine, sizeof(int64_t), cudaMemcpyHostToDevice);
        comm->broadcast(b, sizeof(int64_t), world - 1);
        int64_t got = 0;
        cudaMemcpy(&got, b, sizeof(int64_t), cudaMemcpyDeviceToHost);
        if (got != 100 + world - 1) errors[size_t(r)] += fmt::format("broadcast {} ", got);
        comm->allgather(x, b, 0);  // zero bytes: a no-op that must not hang
        comm->barrier();
        EXPECT_DOUBLE_EQ(comm->allreduce(double(r), ReduceOp::sum), world * (world - 1) / 2.0);
        cudaFree(x);
        cudaFree(b);
      } catch (const std::exception& e) {
        errors[size_t(r)] += e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[size_t(r)], "") << "rank " << r;
}

}  // namespace
}  // namespace ember::dist
#else
TEST(Nccl, CollectivesOnEveryGpu) { GTEST_SKIP() << "this build has no NCCL (configure with EMBER_CUDA=ON)"; }
#endif
