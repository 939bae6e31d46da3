// conv2d forward / backward data / backward weight: the CUDA backend's conv primitives
// (Backend::conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weight, at the end of this file) and the
// explicit calls the conv benches use. Kernels: our implicit-GEMM ones (gemm/sgemm_tiled.cu) or
// cuDNN's (algorithm = the first result of cudnnGet*Algorithm_v7, workspace from the caching
// allocator). One cuDNN handle per device, bound to the device's stream.
// The primitives' policy: f32 with groups == 1 runs implicit GEMM (matmul precision highest) or
// cuDNN (EMBER_CONV=cudnn); everything else (f64, grouped convs, precision tf32/bf16, whose
// tensor-core GEMM the implicit kernels lack) lowers to im2col + Backend::gemm + col2im
// (tensor/conv_lowering.cpp).
#include "cuda/conv.h"

#include <cstdlib>

#include "cuda/backend.h"
#include "cuda/gemm/gemm.h"
#include "cuda/kernels/kernels.h"
#include "tensor/conv_lowering.h"
#include "tensor/matmul_precision.h"

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

// Descriptors of one convolution (f32 NCHW, FMA math: no TF32 tensor cores, like our kernels).
struct CudnnConv {
  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  cudnnFilterDescriptor_t wd = nullptr;
  cudnnConvolutionDescriptor_t cd = nullptr;
  CudnnConv(const Conv2dGeom& g, int64_t cout) {
    EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
    EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd));
    EMBER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&wd));
    EMBER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(g.n), int(g.c), int(g.h),
                                                 int(g.w)));
    EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(cout), int(g.c),
                                                 int(g.kh), int(g.kw)));
    EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd, int(g.ph), int(g.pw), int(g.sh), int(g.sw), int(g.dh),
                                                      int(g.dw), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(g.n), int(cout),
                                                 int(g.oh()), int(g.ow())));
  }
  ~CudnnConv() {
    cudnnDestroyConvolutionDescriptor(cd);
    cudnnDestroyFilterDescriptor(wd);
    cudnnDestroyTensorDescriptor(yd);
    cudnnDestroyTensorDescriptor(xd);
  }
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;
};

void cudnn_forward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y) {
  cudnnHandle_t h = cudnn_handle();
  CudnnConv d(g, w.size(0));
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  int found = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.xd, d.wd, d.cd, d.yd, 8, &found, perf));
  EMBER_CHECK(found > 0, "cudnn: no forward algorithm for x {}", shape_str(x.shape()));
  size_t ws = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, d.xd, d.wd, d.cd, d.yd, perf[0].algo, &ws));
  DeviceBuffer work(std::max<size_t>(ws, 1));
  const float alpha = 1.f, beta = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionForward(h, &alpha, d.xd, x.raw_data(), d.wd, w.raw_data(), d.cd, perf[0].algo,
                                            work.get(), ws, &beta, d.yd, y.raw_data()));
}

void cudnn_backward_data(const Tensor& dy, const Tensor& w, const Conv2dGeom& g, const Tensor& dx) {
  cudnnHandle_t h = cudnn_handle();
  CudnnConv d(g, w.size(0));
  cudnnConvolutionBwdDataAlgoPerf_t perf[8];
  int found = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.wd, d.yd, d.cd, d.xd, 8, &found, perf));
  EMBER_CHECK(found > 0, "cudnn: no backward-data algorithm for dy {}", shape_str(dy.shape()));
  size_t ws = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.wd, d.yd, d.cd, d.xd, perf[0].algo, &ws));
  DeviceBuffer work(std::max<size_t>(ws, 1));
  const float alpha = 1.f, beta = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &alpha, d.wd, w.raw_data(), d.yd, dy.raw_data(), d.cd,
                                                 perf[0].algo, work.get(), ws, &beta, d.xd, dx.raw_data()));
}

void cudnn_backward_weight(const Tensor& x, const Tensor& dy, const Conv2dGeom& g, const Tensor& dw) {
  cudnnHandle_t h = cudnn_handle();
  CudnnConv d(g, dw.size(0));
  cudnnConvolutionBwdFilterAlgoPerf_t perf[8];
  int found = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.xd, d.yd, d.cd, d.wd, 8, &found, perf));
  EMBER_CHECK(found > 0, "cudnn: no backward-filter algorithm for x {}", shape_str(x.shape()));
  size_t ws = 0;
  EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.xd, d.yd, d.cd, d.wd, perf[0].algo, &ws));
  DeviceBuffer work(std::max<size_t>(ws, 1));
  const float alpha = 1.f, beta = 0.f;
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &alpha, d.xd, x.raw_data(), d.yd, dy.raw_data(), d.cd,
                                                   perf[0].algo, work.get(), ws, &beta, d.wd, dw.raw_data()));
}
}  // namespace
#else
bool have_cudnn() { return false; }
#endif

namespace {
void require_cudnn() {
#ifndef EMBER_HAVE_CUDNN
  EMBER_CHECK(false, "conv2d: this build has no cuDNN");
#endif
}
void check_f32_cuda(const Tensor& t, const char* op, const char* name) {
  EMBER_CHECK(t.dtype() == DType::f32 && t.device().is_cuda(), "{}: {} must be an f32 cuda tensor, got {} on {}", op,
              name, t.dtype(), t.device());
}
}  // namespace

void conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Conv2dGeom& g, const Tensor& grad_x,
                          ConvImpl impl) {
  check_f32_cuda(grad_y, "conv2d_backward_data", "grad_y");
  check_f32_cuda(weight, "conv2d_backward_data", "weight");
  check_f32_cuda(grad_x, "conv2d_backward_data", "grad_x");
  const int64_t cout = weight.size(0);
  EMBER_CHECK(grad_y.is_contiguous() && weight.is_contiguous() && grad_x.is_contiguous() &&
                  grad_x.shape() == Shape({g.n, g.c, g.h, g.w}) && grad_y.shape() == Shape({g.n, cout, g.oh(), g.ow()}),
              "conv2d_backward_data: grad_y {} / grad_x {} do not match the geometry (all contiguous)",
              shape_str(grad_y.shape()), shape_str(grad_x.shape()));
  use_device(grad_y);
  if (impl == ConvImpl::cudnn) {
    require_cudnn();
#ifdef EMBER_HAVE_CUDNN
    return cudnn_backward_data(grad_y, weight, g, grad_x);
#endif
  }
  launch_conv2d_bwd_data_implicit_gemm(static_cast<const float*>(grad_y.raw_data()),
                                       static_cast<const float*>(weight.raw_data()),
                                       static_cast<float*>(grad_x.raw_data()), g, cout);
}

void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, const Conv2dGeom& g, const Tensor& grad_weight,
                            ConvImpl impl) {
  check_f32_cuda(x, "conv2d_backward_weight", "x");
  check_f32_cuda(grad_y, "conv2d_backward_weight", "grad_y");
  check_f32_cuda(grad_weight, "conv2d_backward_weight", "grad_weight");
  const int64_t cout = grad_weight.size(0);
  EMBER_CHECK(grad_y.is_contiguous() && grad_weight.is_contiguous() &&
                  grad_weight.shape() == Shape({cout, g.c, g.kh, g.kw}) &&
                  grad_y.shape() == Shape({g.n, cout, g.oh(), g.ow()}),
              "conv2d_backward_weight: grad_y {} / grad_weight {} do not match the geometry (contiguous)",
              shape_str(grad_y.shape()), shape_str(grad_weight.shape()));
  use_device(x);
  if (impl == ConvImpl::cudnn) {
    require_cudnn();
#ifdef EMBER_HAVE_CUDNN
    EMBER_CHECK(x.is_contiguous(), "conv2d_backward_weight: cudnn needs a contiguous x");
    return cudnn_backward_weight(x, grad_y, g, grad_weight);
#endif
  }
  const int64_t xs[4] = {x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
  launch_conv2d_bwd_weight_implicit_gemm(static_cast<const float*>(x.raw_data()), xs,
                                         static_cast<const float*>(grad_y.raw_data()),
                                         static_cast<float*>(grad_weight.raw_data()), g, cout);
}

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
  const int64_t xs[4] = {x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
  launch_conv2d_implicit_gemm(static_cast<const float*>(x.raw_data()), xs, static_cast<const float*>(weight.raw_data()),
                              static_cast<float*>(y.raw_data()), g, cout);
}

// ---- the backend's conv primitives ----
namespace {
// x itself when contiguous, else a contiguous scratch copy (cuDNN takes dense NCHW).
Tensor dense(CudaBackend& be, const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor c = scratch(x.shape(), x.dtype(), x.device());
  be.copy(x, c);
  return c;
}

// The implicit-GEMM kernels (or cuDNN when EMBER_CONV=cudnn) take this call.
bool use_direct(const Tensor& t, const Conv2dGeom& g) {
  return t.dtype() == DType::f32 && g.groups == 1 &&
         (matmul_precision() == MatmulPrecision::highest || conv_impl_from_env() == ConvImpl::cudnn);
}
}  // namespace

void CudaBackend::conv2d_fwd(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y,
                             bool accumulate) {
  if (!use_direct(x, g)) return conv_lowering::forward(*this, x, w, g, y, accumulate);
  const ConvImpl impl = conv_impl_from_env();
  const Tensor xin = impl == ConvImpl::cudnn ? dense(*this, x) : x;
  if (!accumulate) return conv2d_forward(xin, w, g, y, impl);
  Tensor tmp = scratch(y.shape(), y.dtype(), y.device());
  conv2d_forward(xin, w, g, tmp, impl);
  binary(BinaryOp::add, y, tmp, y);
}

void CudaBackend::conv2d_bwd_data(const Tensor& grad_y, const Tensor& w, const Conv2dGeom& g, const Tensor& grad_x) {
  if (!use_direct(grad_y, g)) return conv_lowering::backward_data(*this, grad_y, w, g, grad_x);
  Tensor tmp = scratch(grad_x.shape(), grad_x.dtype(), grad_x.device());  // the kernels write `=`
  conv2d_backward_data(grad_y, w, g, tmp, conv_impl_from_env());
  binary(BinaryOp::add, grad_x, tmp, grad_x);
}

void CudaBackend::conv2d_bwd_weight(const Tensor& grad_y, const Tensor& x, const Conv2dGeom& g,
                                    const Tensor& grad_w) {
  if (!use_direct(x, g)) return conv_lowering::backward_weight(*this, grad_y, x, g, grad_w);
  const ConvImpl impl = conv_impl_from_env();
  conv2d_backward_weight(impl == ConvImpl::cudnn ? dense(*this, x) : x, grad_y, g, grad_w, impl);
}

}  // namespace ember::cuda
