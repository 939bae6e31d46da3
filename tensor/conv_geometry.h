// The geometry of 2-D convolution and pooling, one struct each, shared by the op layer
// (autograd/functions/conv.cpp, pool.cpp), the CPU backend and the CUDA kernels (plain C++17 with
// host/device methods, so the .cu files take these structs as kernel arguments).
#pragma once

#include <cstdint>

#include "tensor/numerics.h"  // EMBER_HD

namespace ember {

// x [N, C, H, W] convolved with a weight [M, C/groups, kh, kw] into [N, M, OH, OW].
struct Conv2dGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;      // input
  int64_t kh = 1, kw = 1;                  // kernel
  int64_t sh = 1, sw = 1;                  // stride
  int64_t ph = 0, pw = 0;                  // zero padding
  int64_t dh = 1, dw = 1;                  // dilation
  int64_t groups = 1;                      // channel groups (C and M divisible by it)
  EMBER_HD int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  EMBER_HD int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
  // A 1x1, stride-1, unpadded conv: im2col(x) is x itself.
  EMBER_HD bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

// Pooling and resampling: the window (max/avg pool; ceil_mode false) and the plane shapes of one
// call, in [planes, h, w] -> out [planes, oh, ow] (planes = N*C). The op layer sets the window;
// a backend sets the shapes from its tensors (with_planes) where its kernels want them.
struct Pool2dGeom {
  int64_t kh = 2, kw = 2, sh = 2, sw = 2, ph = 0, pw = 0;
  bool count_include_pad = true;  // avg pool only
  int64_t planes = 0, h = 0, w = 0, oh = 0, ow = 0;
  EMBER_HD int64_t out_h(int64_t in_h) const { return (in_h + 2 * ph - kh) / sh + 1; }
  EMBER_HD int64_t out_w(int64_t in_w) const { return (in_w + 2 * pw - kw) / sw + 1; }
  Pool2dGeom with_planes(int64_t planes_, int64_t h_, int64_t w_, int64_t oh_, int64_t ow_) const {
    Pool2dGeom g = *this;
    g.planes = planes_, g.h = h_, g.w = w_, g.oh = oh_, g.ow = ow_;
    return g;
  }
};

enum class UpsampleMode : uint8_t { nearest, bilinear };

}  // namespace ember
