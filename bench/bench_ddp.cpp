// DDP step time with the buckets' allreduce overlapped with backward, against the same step with
// every bucket all-reduced after backward, in one process per rank on Fashion-MNIST (W1 MLP, W2
// CNN). Run it under the launcher:
//   ember launch --nproc 2 -- build/bin/bench_ddp [mlp|cnn] [rounds] [steps per block] [on-first|off-first]
// The two modes alternate in blocks (on, off, on, off, ...; or off first) inside the same
// processes, so a load that changes over time hits both alike; rank 0 prints the median and quartiles of the step times
// (forward + backward + sync_gradients + Adam step) of each mode.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/fashion_mnist.h"
#include "dist/ddp.h"
#include "dist/init.h"
#include "nn/optim/adam.h"
#include "zoo/fmnist/fmnist.h"

int main(int argc, char** argv) {
  using namespace ember;
  try {
    const std::string arch = argc > 1 ? argv[1] : "cnn";
    const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 6;
    const int block = argc > 3 ? std::max(2, std::atoi(argv[3])) : 10;
    const bool off_first = argc > 4 && std::string(argv[4]) == "off-first";
    const auto env = dist::env_from_environment();
    EMBER_CHECK(env, "bench_ddp: RANK/WORLD_SIZE are not set (run under `ember launch --nproc N --`)");
    auto comm = dist::init_process_group(*env);
    const int64_t global_batch = arch == "mlp" ? 128 : 64, local = global_batch / comm->world_size();
    data::FashionMnist train(data::Split::train);
    manual_seed(0);
    auto model = zoo::fmnist::make_model(zoo::fmnist::parse_arch(arch));
    nn::Adam opt(model->parameters(), {.lr = 1e-3});
    std::vector<double> times[2];  // [overlap]
    int64_t next = comm->rank() * local;
    for (int r = 0; r < rounds; ++r)
      for (int k : {0, 1}) {
        const int overlap = off_first ? k : 1 - k;
        dist::DistributedDataParallel ddp(model, comm, {.overlap = overlap == 1});
        for (int s = 0; s < block; ++s) {
          std::vector<int64_t> rows(static_cast<size_t>(local));
          for (auto& i : rows) i = next++ % train.size();
          next += (comm->world_size() - 1) * local;
          const data::Batch b = train.get_batch(rows);
          comm->barrier();
          const auto t0 = std::chrono::steady_clock::now();
          opt.zero_grad();
          cross_entropy(model->forward(b.input), b.target).backward();
          ddp.sync_gradients();
          opt.step();
          const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          if (s > 0) times[overlap].push_back(ms);  // the first step of a block builds the buffers
        }
      }
    if (comm->rank() != 0) return 0;
    std::printf("bench_ddp %s: %d ranks (%s), global batch %ld, %d threads per rank, %zu steps per mode\n", arch.c_str(),
                comm->world_size(), comm->backend().c_str(), long(global_batch), get_num_threads(), times[0].size());
    for (int overlap : {1, 0}) {
      auto& t = times[overlap];
      std::sort(t.begin(), t.end());
      std::printf("  overlap %-3s step ms: median %.2f (quartiles %.2f .. %.2f)\n", overlap ? "on" : "off",
                  t[t.size() / 2], t[t.size() / 4], t[3 * t.size() / 4]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ddp: %s\n", e.what());
    return 1;
  }
  return 0;
}
