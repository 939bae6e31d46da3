// Memory-bound row kernels: softmax vs cuDNN's softmax (CUDNN_SOFTMAX_ACCURATE, per row), and
// layer norm / RMS norm forward, whose base is the HBM roofline (4.8 TB/s on an H200): their
// ratio is the fraction of peak bandwidth reached. Bytes = read x + write y = 2 rows D 4 (weights
// negligible). L2 is flushed before every timed run.
#include "bench/cuda/bench_util.h"
#include "cuda/kernels/kernels.h"

#ifdef EMBER_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace ember::bench {
namespace {

constexpr double kHbmBytesPerSec = 4.8e12;

enum Op { kSoftmax, kLayerNorm, kRmsNorm };

void BM_rows(benchmark::State& s, Op op, int64_t rows, int64_t d) {
  if (!have_gpu(s)) return;
  Generator g(4);
  const TensorOptions o{.device = Device::cuda()};
  Tensor x = Tensor::randn({rows, d}, o, &g), y = Tensor::empty({rows, d}, o), yref = Tensor::empty({rows, d}, o);
  Tensor w = Tensor::ones({d}, o), bias = Tensor::zeros({d}, o), mean = Tensor::empty({rows}, o), rstd = Tensor::empty({rows}, o);
  const double bytes = 2.0 * double(rows) * double(d) * 4.0;
  std::function<void()> ours, base;
  if (op == kSoftmax) {
    ours = [&] { cuda::launch_softmax(x.raw_data(), y.raw_data(), rows, d, false, DType::f32); };
#ifdef EMBER_HAVE_CUDNN
    static cudnnHandle_t h = nullptr;
    if (!h) cudnnCreate(&h);
    cudnnSetStream(h, cuda::current_stream());
    cudnnTensorDescriptor_t desc;
    cudnnCreateTensorDescriptor(&desc);
    cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(rows), int(d), 1, 1);
    base = [&, desc] {
      const float one = 1.f, zero = 0.f;
      cudnnSoftmaxForward(h, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE, &one, desc, x.raw_data(), &zero, desc,
                          yref.raw_data());
    };
    ours();
    base();
    s.counters["rel_err"] = rel_err(y, yref);
    run(s, ours, base, true, bytes, "GBps", 1e9);
    cudnnDestroyTensorDescriptor(desc);
    return;
#endif
  } else if (op == kLayerNorm) {
    ours = [&] {
      cuda::launch_layer_norm_fwd(x.raw_data(), w.raw_data(), bias.raw_data(), 1e-5, y.raw_data(), mean.raw_data(),
                                  rstd.raw_data(), rows, d, DType::f32);
    };
  } else {
    ours = [&] {
      cuda::launch_rms_norm_fwd(x.raw_data(), w.raw_data(), 1e-5, y.raw_data(), rstd.raw_data(), rows, d,
                                DType::f32);
    };
  }
  run(s, ours, nullptr, true, bytes, "GBps", 1e9);
  s.counters["base_GBps"] = kHbmBytesPerSec / 1e9;
  s.counters["ratio"] = s.counters["ours_GBps"].value / (kHbmBytesPerSec / 1e9);
}

void register_all() {
  const std::pair<Op, const char*> ops[] = {{kSoftmax, "softmax"}, {kLayerNorm, "layer_norm"}, {kRmsNorm, "rms_norm"}};
  const std::pair<int64_t, int64_t> shapes[] = {{2048, 256}, {16384, 1024}, {4096, 4096}, {1024, 32768}, {65536, 10}};
  for (const auto& [op, name] : ops)
    for (const auto& [rows, d] : shapes)
      benchmark::RegisterBenchmark((std::string(name) + "/" + std::to_string(rows) + "x" + std::to_string(d)).c_str(),
                                   [=](benchmark::State& st) { BM_rows(st, op, rows, d); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) { return ember::bench::run_benchmarks(argc, argv, ember::bench::register_all); }
