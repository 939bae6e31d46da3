// Allreduce bandwidth of the Gloo communicator (f32 sum, in place), for 1-64 MB tensors. Run it
// under the launcher, one process per rank:
//   ember launch --nproc 2 -- build/bin/bench_allreduce [reps]
// Rank 0 prints, per size, the median time of `reps` allreduces (after 2 warm-ups), the algorithm
// bandwidth (bytes / time) and the bus bandwidth (algbw * 2(W-1)/W: the bytes each rank sends and
// receives in a ring allreduce, so it is comparable across world sizes, as nccl-tests reports it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dist/init.h"

int main(int argc, char** argv) {
  using namespace ember;
  try {
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
    const auto env = dist::env_from_environment();
    EMBER_CHECK(env, "bench_allreduce: RANK/WORLD_SIZE are not set (run under `ember launch --nproc N --`)");
    auto comm = dist::init_process_group(*env);
    const int w = comm->world_size();
    if (comm->rank() == 0)
      std::printf("allreduce (gloo, f32 sum) across %d processes, median of %d\n%10s %12s %14s %14s\n", w, reps, "MB",
                  "time ms", "algbw GB/s", "busbw GB/s");
    for (int64_t mb : {1, 2, 4, 8, 16, 32, 64}) {
      const int64_t n = mb * (1 << 20) / 4;
      std::vector<float> x(size_t(n), 1.0f);
      std::vector<double> ms;
      for (int r = 0; r < reps + 2; ++r) {
        comm->barrier();
        const auto t0 = std::chrono::steady_clock::now();
        comm->allreduce(x.data(), n, DType::f32, dist::ReduceOp::sum);
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (r >= 2) ms.push_back(t);
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2], bytes = double(n) * 4;
      const double algbw = bytes / (med * 1e-3) / 1e9;
      if (comm->rank() == 0)
        std::printf("%10ld %12.2f %14.2f %14.2f\n", long(mb), med, algbw, algbw * 2.0 * (w - 1) / w);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
    return 1;
  }
  return 0;
}
