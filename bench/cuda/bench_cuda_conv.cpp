// conv2d forward, backward data and backward weight: our implicit-GEMM kernels vs cuDNN (f32, FMA
// math: no TF32 on either side), on the convolution layers of W2 (small CNN), W3 (U-Net colorizer,
// batch 16) and W6 (Connect-Four policy/value net, batch 256). FLOPs = 2 N Cout OH OW C kh kw for
// each of the three passes.
#include "bench/cuda/bench_util.h"
#include "cuda/conv.h"

namespace ember::bench {
namespace {

struct Layer {
  const char* name;
  int64_t n, c, h, w, cout, k, pad;
};

enum Pass { kFwd, kBwdData, kBwdWeight };

void BM_conv(benchmark::State& s, Layer l, Pass pass) {
  if (!have_gpu(s)) return;
  if (!cuda::have_cudnn()) {
    s.SkipWithError("built without cuDNN");
    return;
  }
  Generator g(2);
  const TensorOptions o{.device = Device::cuda()};
  Tensor x = Tensor::rand({l.n, l.c, l.h, l.w}, o, &g), w = Tensor::rand({l.cout, l.c, l.k, l.k}, o, &g);
  Conv2dGeom geom{l.n, l.c, l.h, l.w, l.k, l.k, 1, 1, l.pad, l.pad, 1, 1};
  Tensor y = Tensor::empty({l.n, l.cout, geom.oh(), geom.ow()}, o), yref = Tensor::empty(y.shape(), o);
  Tensor gy = Tensor::rand(y.shape(), o, &g);
  Tensor dx = Tensor::empty(x.shape(), o), dxref = Tensor::empty(x.shape(), o);
  Tensor dw = Tensor::empty(w.shape(), o), dwref = Tensor::empty(w.shape(), o);
  std::function<void()> ours, base;
  Tensor got, ref;
  switch (pass) {
    case kFwd:
      ours = [&] { cuda::conv2d_forward(x, w, geom, y, cuda::ConvImpl::own); };
      base = [&] { cuda::conv2d_forward(x, w, geom, yref, cuda::ConvImpl::cudnn); };
      got = y, ref = yref;
      break;
    case kBwdData:
      ours = [&] { cuda::conv2d_backward_data(gy, w, geom, dx, cuda::ConvImpl::own); };
      base = [&] { cuda::conv2d_backward_data(gy, w, geom, dxref, cuda::ConvImpl::cudnn); };
      got = dx, ref = dxref;
      break;
    case kBwdWeight:
      ours = [&] { cuda::conv2d_backward_weight(x, gy, geom, dw, cuda::ConvImpl::own); };
      base = [&] { cuda::conv2d_backward_weight(x, gy, geom, dwref, cuda::ConvImpl::cudnn); };
      got = dw, ref = dwref;
      break;
  }
  ours();
  base();
  s.counters["rel_err"] = rel_err(got, ref);
  const double flops = 2.0 * double(l.n * l.cout * geom.oh() * geom.ow()) * double(l.c * l.k * l.k);
  run(s, ours, base, false, flops, "TFLOPs", 1e12);
}

void register_all() {
  const Layer layers[] = {
      {"W2_conv1", 64, 1, 28, 28, 32, 3, 1},      {"W2_conv2", 64, 32, 14, 14, 64, 3, 1},
      {"W3_enc1a", 16, 1, 64, 64, 32, 3, 1},      {"W3_enc1b", 16, 32, 64, 64, 32, 3, 1},
      {"W3_enc2", 16, 64, 32, 32, 64, 3, 1},      {"W3_enc3", 16, 128, 16, 16, 128, 3, 1},
      {"W3_bottleneck", 16, 256, 8, 8, 256, 3, 1}, {"W3_dec3", 16, 256, 16, 16, 128, 3, 1},
      {"W3_dec2", 16, 128, 32, 32, 64, 3, 1},     {"W3_dec1", 16, 64, 64, 64, 32, 3, 1},
      {"W3_head", 16, 32, 64, 64, 3, 1, 0},       {"W6_stem", 256, 3, 6, 7, 64, 3, 1},
      {"W6_res", 256, 64, 6, 7, 64, 3, 1},        {"W6_policy", 256, 64, 6, 7, 2, 1, 0}};
  const std::pair<Pass, const char*> passes[] = {{kFwd, "fwd"}, {kBwdData, "bwd_data"}, {kBwdWeight, "bwd_weight"}};
  for (const auto& [pass, pname] : passes)
    for (const Layer& l : layers)
      benchmark::RegisterBenchmark((std::string("conv2d_") + pname + "/" + l.name).c_str(),
                                   [=](benchmark::State& st) { BM_conv(st, l, pass); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace ember::bench

int main(int argc, char** argv) { return ember::bench::run_benchmarks(argc, argv, ember::bench::register_all); }
