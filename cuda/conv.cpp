// conv2d_forward: our implicit-GEMM kernel (gemm/sgemm_tiled.cu) or cuDNN's convolution forward
// (algorithm from cudnnGetConvolutionForwardAlgorithm_v7's first result, workspace from the
// caching allocator). One cuDNN handle per device, bound to the device's stream.
#include "cuda/conv.h"

#include <cstdlib>

#include "cuda/backend.h"
#include "cuda/gemm/gemm.h"
#include "cuda/kernels/kernels.h"

#ifdef EMBER_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace ember::cuda {

ConvImpl conv_impl_from_env() {
  const char* e = std::getenv("EMBER_CONV");
  if (!e || std::string(e) == "own") return ConvImpl::own;
  EMBER_CHECK(std::string(e) == "cudnn", "cuda: EMBER_CONV={} is not one of own, cudnn", e);
  return ConvImpl::cudnn;
}

#ifdef EMBER_HAVE_CUDNN
bool have_cudnn() { return true; }

#define EMBER_CUDNN_CHECK(call)                                                                          \
  do {                                                                                                   \
    cudnnStatus_t st_ = (call);                                                                          \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                                     \
      ::ember::detail::throw_error(fmt::format("cudnn: {} failed with {} ({}) at {}:{}", #call, int(st_), \
                                               cudnnGetErrorString(st_), __FILE__, __LINE__));           \
  } while (0)

namespace {
cudnnHandle_t cudnn_handle() {
  static cudnnHandle_t handles[16] = {};
  int dev = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&dev));
  if (!handles[dev]) EMBER_CUDNN_CHECK(cudnnCreate(&handles[dev]));
  EMBER_CUDNN_CHECK(cudnnSetStream(handles[dev], current_stream()));
  return handles[dev];
}

void cudnn_forward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y) {
  cudnnHandle_t h = cudnn_handle();
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
  EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd));
  EMBER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&wd));
  EMBER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(g.n), int(g.c), int(g.h),
                                               int(g.w)));
  EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(w.size(0)), int(g.c),
                                               int(g.kh), int(g.kw)));
  EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd, int(g.ph), int(g.pw), int(g.sh), int(g.sw), int(g.dh),
                                                    int(g.dw), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // Plain f32 FMA math (no TF32 tensor cores), the same arithmetic as our kernel.
  EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(g.n), int(w.size(0)),
                                               int(g.oh()), int(g.ow())));
  cudnnConvolutionFwdAlgoPerf_t perf[4];
  int found = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, xd, wd, cd, yd, 4, &found, perf));
  EMBER_CHECK(found > 0, "cudnn: no forward algorithm for x {}", shape_str(x.shape()));
  size_t ws = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, perf[0].algo, &ws));
  DeviceBuffer work(std::max<size_t>(ws, 1));
  const float alpha = 1.f, beta = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionForward(h, &alpha, xd, x.raw_data(), wd, w.raw_data(), cd, perf[0].algo,
                                            work.get(), ws, &beta, yd, y.raw_data()));
  cudnnDestroyConvolutionDescriptor(cd);
  cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyTensorDescriptor(yd);
  cudnnDestroyTensorDescriptor(xd);
}
}  // namespace
#else
bool have_cudnn() { return false; }
#endif

void conv2d_forward(const Tensor& x, const Tensor& weight, const Conv2dGeom& g, const Tensor& y, ConvImpl impl) {
  EMBER_CHECK(x.dtype() == DType::f32 && weight.dtype() == DType::f32 && y.dtype() == DType::f32,
              "conv2d_forward: f32 only, got x {}", x.dtype());
  EMBER_CHECK(x.device().is_cuda() && weight.is_contiguous() && y.is_contiguous(),
              "conv2d_forward: x {} must be on cuda, weight and y contiguous", shape_str(x.shape()));
  const int64_t cout = weight.size(0);
  EMBER_CHECK(y.shape() == Shape({g.n, cout, g.oh(), g.ow()}), "conv2d_forward: y {} does not match [{},{},{},{}]",
              shape_str(y.shape()), g.n, cout, g.oh(), g.ow());
  use_device(x);
  if (impl == ConvImpl::cudnn) {
#ifdef EMBER_HAVE_CUDNN
    EMBER_CHECK(x.is_contiguous(), "conv2d_forward: cudnn needs a contiguous x, got strides {}", x.strides());
    cudnn_forward(x, weight, g, y);
    return;
#else
    EMBER_CHECK(false, "conv2d_forward: this build has no cuDNN");
#endif
  }
  const ConvGeom cg{g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh(), g.ow()};
  const int64_t xs[4] = {x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
  launch_conv2d_implicit_gemm(static_cast<const float*>(x.raw_data()), xs, static_cast<const float*>(weight.raw_data()),
                              static_cast<float*>(y.raw_data()), cg, cout);
}

}  // namespace ember::cuda
