// CPU pooling and resampling: max/avg pool (fixed window), adaptive avg pool, nearest/bilinear
// upsampling, each forward with its backward.
//
// Legend: N batch, C channels, H/W input height/width, OH/OW output height/width, P = N*C planes.
// Every tensor here is contiguous [N, C, ., .] (the op layer makes it so), so a plane is a dense
// H*W (or OH*OW) block. Work split: one plane per task, over threads above a grain; backward
// kernels scatter into the task's own input plane, so no atomics are needed. Backward outputs are
// overwritten (`=`): each plane is zeroed and then accumulated into.
// Max pool 2x2 / stride 2 / no padding on f32 runs SIMD planes (pool_avx512.cpp, pool_avx2.cpp);
// the generic loops below are their reference (forced with set_isa(scalar) in the tests).
// Semantics follow PyTorch (ceil_mode false, no dilation); formulas are quoted beside each kernel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/parallel.h"

namespace ember::cpu {

// pool_avx512.cpp / pool_avx2.cpp: f32 planes of max pool 2x2 stride 2 without padding.
void max_pool2x2_plane_f32_avx512(const float* in, int64_t w, int64_t oh, int64_t ow, float* out, int64_t* idx);
void max_pool2x2_plane_f32_avx2(const float* in, int64_t w, int64_t oh, int64_t ow, float* out, int64_t* idx);
bool max_pool2x2_bwd_plane_f32_avx512(const float* g, const int64_t* idx, int64_t h, int64_t w, int64_t oh,
                                      int64_t ow, float* gi);
bool max_pool2x2_bwd_plane_f32_avx2(const float* g, const int64_t* idx, int64_t h, int64_t w, int64_t oh,
                                    int64_t ow, float* gi);
// pool_avx2.cpp: stride-1 pools (any window and padding) over a run of outputs of one row whose
// windows lie inside the plane horizontally; the edge columns take the generic loops.
void max_pool_s1_row_f32_avx2(const float* in, int64_t w, int64_t h0, int64_t h1, int64_t c0, int64_t kw,
                              int64_t n, float* out, int64_t* idx);
void avg_pool_s1_row_f32_avx2(const float* in, int64_t w, int64_t h0, int64_t h1, int64_t c0, int64_t kw,
                              int64_t n, float divisor, float* out);

namespace {

struct Planes {
  int64_t p, h, w, oh, ow;  // planes, input size, output size
};
// in [N, C, H, W], out [N, C, OH, OW]
Planes planes_of(const Tensor& in, const Tensor& out, const char* op) {
  EMBER_ASSERT(in.dim() == 4 && out.dim() == 4 && in.is_contiguous() && out.is_contiguous() &&
                   in.size(0) == out.size(0) && in.size(1) == out.size(1),
               "{}: expected contiguous [N,C,H,W] and [N,C,OH,OW], got {} and {}", op, shape_str(in.shape()),
               shape_str(out.shape()));
  return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3)};
}

// Runs f(plane) for every plane, planes split across threads.
template <typename F>
void for_planes(const Planes& s, F&& f) {
  const int64_t work = std::max<int64_t>(1, s.h * s.w + s.oh * s.ow);
  parallel_for(s.p, std::max<int64_t>(1, 32768 / work), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) f(p);
  });
}

// The SIMD planes need AVX2 and int32 plane offsets. AVX-512 takes rows of more than 8 outputs;
// shorter rows (W2's second pool, 7 wide) fill an 8-lane AVX2 vector better than 16 lanes.
bool use_pool2x2(const Planes& s) { return active_isa() != Isa::scalar && s.h * s.w < (int64_t{1} << 31); }
bool is_2x2_stride2(const Pool2dGeom& g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
}
// Stride-1 windows (the DARTS search's 3x3 pools with padding 1) on AVX2+: output columns
// [lo, hi) have windows inside the plane horizontally and run 8 at a time.
bool use_pool_s1(const Planes& s, const Pool2dGeom& g) {
  return active_isa() != Isa::scalar && g.sh == 1 && g.sw == 1 && s.h * s.w < (int64_t{1} << 31);
}
struct ColRange {
  int64_t lo, hi;
};
ColRange inner_cols(const Planes& s, const Pool2dGeom& g) {
  const int64_t lo = std::min(g.pw, s.ow), hi = std::min(s.ow, s.w + g.pw - g.kw + 1);
  return {lo, std::max(lo, hi)};
}
// one(col) for the columns of [0, n) outside r, run(r) once for r's columns (when it has any).
template <typename One, typename Run>
void edges_and_run(int64_t n, ColRange r, One one, Run run) {
  if (r.hi > r.lo) {
    for (int64_t c = 0; c < r.lo; ++c) one(c);
    run(r);
    for (int64_t c = r.hi; c < n; ++c) one(c);
    return;
  }
  for (int64_t c = 0; c < n; ++c) one(c);
}

// ---- max pool: out = max over the window clipped to the image (padding never wins);
// NaN propagates (PyTorch: `val > max || isnan(val)`, so the last NaN); the first max wins ties.
template <typename T>
void max_pool_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out, const Tensor& indices) {
  const Planes s = planes_of(x, out, "max_pool2d_fwd");
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  int64_t* ip = indices.data<int64_t>();
  const bool fast = std::is_same_v<T, float> && use_pool2x2(s) && is_2x2_stride2(g);
  const bool wide = active_isa() == Isa::avx512 && s.ow > 8;
  const bool s1 = std::is_same_v<T, float> && use_pool_s1(s, g);
  const ColRange inner = s1 ? inner_cols(s, g) : ColRange{0, 0};
  for_planes(s, [&](int64_t p) {
    const T* in = xp + p * s.h * s.w;
    if constexpr (std::is_same_v<T, float>) {
      if (fast) {
        auto* plane = wide ? max_pool2x2_plane_f32_avx512 : max_pool2x2_plane_f32_avx2;
        return plane(in, s.w, s.oh, s.ow, op + p * s.oh * s.ow, ip + p * s.oh * s.ow);
      }
    }
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * g.sh - g.ph, 0), h1 = std::min(oh * g.sh - g.ph + g.kh, s.h);
      auto one = [&](int64_t ow) {
        const int64_t w0 = std::max<int64_t>(ow * g.sw - g.pw, 0), w1 = std::min(ow * g.sw - g.pw + g.kw, s.w);
        T best = -std::numeric_limits<T>::infinity();
        int64_t arg = h0 * s.w + w0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {  // branch-free: selects, not jumps (random data)
            const T v = in[ih * s.w + iw];
            const bool take = v > best || v != v;
            best = take ? v : best;
            arg = take ? ih * s.w + iw : arg;
          }
        op[(p * s.oh + oh) * s.ow + ow] = best;
        ip[(p * s.oh + oh) * s.ow + ow] = arg;
      };
      edges_and_run(s.ow, inner, one, [&](ColRange r) {
        if constexpr (std::is_same_v<T, float>) {
          const int64_t at = (p * s.oh + oh) * s.ow + r.lo;
          max_pool_s1_row_f32_avx2(in, s.w, h0, h1, r.lo - g.pw, g.kw, r.hi - r.lo, op + at, ip + at);
        }
      });
    }
  });
}

// grad_in[p, indices[p, o]] += grad_out[p, o]
template <typename T>
void max_pool_bwd(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in) {
  const Planes s = planes_of(grad_in, grad_out, "max_pool2d_bwd");
  const T* gp = grad_out.data<T>();
  const int64_t* ip = indices.data<int64_t>();
  T* gi = grad_in.data<T>();
  // Shapes of a 2x2/2 pool; the kernel itself checks that every index lies in its own block.
  // Rows of under 8 outputs go to the generic scatter, which measured faster there (W2's 7-wide
  // second pool: masked partial stores cost more than memset + scatter).
  const bool fast = std::is_same_v<T, float> && use_pool2x2(s) && s.oh == s.h / 2 && s.ow == s.w / 2 && s.ow >= 8;
  const bool wide = active_isa() == Isa::avx512 && s.ow > 8;
  for_planes(s, [&](int64_t p) {
    T* plane = gi + p * s.h * s.w;
    if constexpr (std::is_same_v<T, float>) {
      if (fast) {
        auto* kernel = wide ? max_pool2x2_bwd_plane_f32_avx512 : max_pool2x2_bwd_plane_f32_avx2;
        if (kernel(gp + p * s.oh * s.ow, ip + p * s.oh * s.ow, s.h, s.w, s.oh, s.ow, plane)) return;
      }
    }
    std::fill(plane, plane + s.h * s.w, T(0));
    for (int64_t o = p * s.oh * s.ow; o < (p + 1) * s.oh * s.ow; ++o) {
      EMBER_ASSERT(ip[o] >= 0 && ip[o] < s.h * s.w, "max_pool2d_bwd: index {} outside a {}x{} plane", ip[o],
                   s.h, s.w);
      plane[ip[o]] += gp[o];
    }
  });
}

// ---- avg pool (PyTorch): window [h0, h0+kh) clipped to the padded image [-ph, H+ph); divisor is
// that clipped size when count_include_pad, else the number of real pixels in the window.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;  // real pixels [h0,h1) x [w0,w1)
};
AvgWindow avg_window(const Pool2dGeom& g, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, h + g.ph), w1 = std::min(w0 + g.kw, w + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, h), w1 = std::min(w1, w);
  const int64_t real = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
  return {h0, h1, w0, w1, std::max<int64_t>(g.count_include_pad ? padded : real, 1)};
}

template <typename T>
void avg_pool_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out) {
  const Planes s = planes_of(x, out, "avg_pool2d_fwd");
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const ColRange inner = std::is_same_v<T, float> && use_pool_s1(s, g) ? inner_cols(s, g) : ColRange{0, 0};
  for_planes(s, [&](int64_t p) {
    const T* in = xp + p * s.h * s.w;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      auto one = [&](int64_t ow) {
        const AvgWindow a = avg_window(g, s.h, s.w, oh, ow);
        T acc = 0;
        for (int64_t ih = a.h0; ih < a.h1; ++ih)
          for (int64_t iw = a.w0; iw < a.w1; ++iw) acc += in[ih * s.w + iw];
        op[(p * s.oh + oh) * s.ow + ow] = acc / static_cast<T>(a.divisor);
      };
      edges_and_run(s.ow, inner, one, [&](ColRange r) {
        if constexpr (std::is_same_v<T, float>) {  // inner columns share the row's window rows and divisor
          const AvgWindow a = avg_window(g, s.h, s.w, oh, r.lo);
          avg_pool_s1_row_f32_avx2(in, s.w, a.h0, a.h1, r.lo - g.pw, g.kw, r.hi - r.lo, static_cast<float>(a.divisor),
                                   op + (p * s.oh + oh) * s.ow + r.lo);
        }
      });
    }
  });
}

// grad_in[window(o)] += grad_out[o] / divisor(o)
template <typename T>
void avg_pool_bwd(const Tensor& grad_out, const Pool2dGeom& g, const Tensor& grad_in) {
  const Planes s = planes_of(grad_in, grad_out, "avg_pool2d_bwd");
  const T* gp = grad_out.data<T>();
  T* gi = grad_in.data<T>();
  // Stride 1 on AVX2+: gathered per input pixel instead of scattered per output. Input pixel
  // (ih, iw) is in the windows of outputs [ih + ph - kh + 1, ih + ph] x [iw + pw - kw + 1, iw + pw]
  // (clipped to the output); summing their v = grad / divisor in output order from 0 is the
  // scatter's sum in the scatter's order, bit for bit. Inner input columns see whole output runs.
  const bool s1 = std::is_same_v<T, float> && use_pool_s1(s, g);
  for_planes(s, [&](int64_t p) {
    T* plane = gi + p * s.h * s.w;
    if constexpr (std::is_same_v<T, float>) {
      if (s1) {
        thread_local std::vector<float> vbuf;  // v for this plane, reused
        vbuf.resize(size_t(s.oh * s.ow));
        for (int64_t oh = 0; oh < s.oh; ++oh)
          for (int64_t ow = 0; ow < s.ow; ++ow)
            vbuf[size_t(oh * s.ow + ow)] =
                gp[(p * s.oh + oh) * s.ow + ow] / static_cast<float>(avg_window(g, s.h, s.w, oh, ow).divisor);
        const int64_t lo = std::clamp<int64_t>(g.kw - 1 - g.pw, 0, s.w);
        const ColRange inner{lo, std::clamp<int64_t>(s.ow - g.pw, lo, s.w)};  // input columns with whole output runs
        for (int64_t ih = 0; ih < s.h; ++ih) {
          const int64_t r0 = std::max<int64_t>(ih + g.ph - g.kh + 1, 0), r1 = std::min(ih + g.ph + 1, s.oh);
          auto one = [&](int64_t iw) {
            const int64_t q0 = std::max<int64_t>(iw + g.pw - g.kw + 1, 0), q1 = std::min(iw + g.pw + 1, s.ow);
            float acc = 0;
            for (int64_t r = r0; r < r1; ++r)
              for (int64_t q = q0; q < q1; ++q) acc += vbuf[size_t(r * s.ow + q)];
            plane[ih * s.w + iw] = acc;
          };
          edges_and_run(s.w, inner, one, [&](ColRange r) {  // a sum: / 1 is exact
            avg_pool_s1_row_f32_avx2(vbuf.data(), s.ow, r0, std::max(r0, r1), r.lo + g.pw - g.kw + 1, g.kw,
                                     r.hi - r.lo, 1.0f, plane + ih * s.w + r.lo);
          });
        }
        return;
      }
    }
    std::fill(plane, plane + s.h * s.w, T(0));
    for (int64_t oh = 0; oh < s.oh; ++oh)
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const AvgWindow a = avg_window(g, s.h, s.w, oh, ow);
        const T v = gp[(p * s.oh + oh) * s.ow + ow] / static_cast<T>(a.divisor);
        for (int64_t ih = a.h0; ih < a.h1; ++ih)
          for (int64_t iw = a.w0; iw < a.w1; ++iw) plane[ih * s.w + iw] += v;
      }
  });
}

// ---- adaptive avg pool (PyTorch bins): output i averages input [floor(i*I/O), ceil((i+1)*I/O)).
int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
void adaptive_fwd(const Tensor& x, const Tensor& out) {
  const Planes s = planes_of(x, out, "adaptive_avg_pool2d_fwd");
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  for_planes(s, [&](int64_t p) {
    const T* in = xp + p * s.h * s.w;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t h0 = bin_start(oh, s.h, s.oh), h1 = bin_end(oh, s.h, s.oh);
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const int64_t w0 = bin_start(ow, s.w, s.ow), w1 = bin_end(ow, s.w, s.ow);
        T acc = 0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) acc += in[ih * s.w + iw];
        op[(p * s.oh + oh) * s.ow + ow] = acc / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
  });
}

// grad_in[bin(o)] += grad_out[o] / |bin(o)|
template <typename T>
void adaptive_bwd(const Tensor& grad_out, const Tensor& grad_in) {
  const Planes s = planes_of(grad_in, grad_out, "adaptive_avg_pool2d_bwd");
  const T* gp = grad_out.data<T>();
  T* gi = grad_in.data<T>();
  for_planes(s, [&](int64_t p) {
    T* plane = gi + p * s.h * s.w;
    std::fill(plane, plane + s.h * s.w, T(0));
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t h0 = bin_start(oh, s.h, s.oh), h1 = bin_end(oh, s.h, s.oh);
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const int64_t w0 = bin_start(ow, s.w, s.ow), w1 = bin_end(ow, s.w, s.ow);
        const T v = gp[(p * s.oh + oh) * s.ow + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) plane[ih * s.w + iw] += v;
      }
    }
  });
}

// ---- upsampling. Both modes reduce to: each output pixel reads (up to) 2x2 input taps with
// separable weights; the backward scatters with the same taps. Per axis (PyTorch, no scale given):
//  nearest:  src = min(floor(dst * float(in/out)), in - 1)       (a single tap, weight 1)
//  bilinear: scale = align_corners ? (out > 1 ? (in-1)/(out-1) : 0) : in/out
//            real  = align_corners ? scale*dst : max(scale*(dst + 0.5) - 0.5, 0)
//            i0 = min(floor(real), in-1), i1 = i0 + (i0 < in-1), l1 = clamp(real - i0, 0, 1), l0 = 1 - l1
template <typename T>
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<T> l0, l1;
};

template <typename T>
Taps<T> axis_taps(int64_t in, int64_t out, UpsampleMode mode, bool align_corners) {
  Taps<T> t{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<T>(out), std::vector<T>(out)};
  for (int64_t d = 0; d < out; ++d) {
    if (mode == UpsampleMode::nearest) {
      // PyTorch's nearest_idx: exact shortcuts, then float arithmetic.
      int64_t src;
      if (out == in) src = d;
      else if (out == 2 * in) src = d >> 1;
      else src = std::min(static_cast<int64_t>(std::floor(static_cast<float>(d) * (static_cast<float>(in) / out))), in - 1);
      t.i0[d] = t.i1[d] = src, t.l0[d] = T(1), t.l1[d] = T(0);
      continue;
    }
    T scale = align_corners ? (out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0))
                            : static_cast<T>(in) / static_cast<T>(out);
    T real = align_corners ? scale * static_cast<T>(d) : scale * (static_cast<T>(d) + T(0.5)) - T(0.5);
    if (real < T(0)) real = T(0);
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(real)), in - 1);
    const T l1 = std::clamp(real - static_cast<T>(i0), T(0), T(1));
    t.i0[d] = i0, t.i1[d] = i0 + (i0 < in - 1 ? 1 : 0), t.l0[d] = T(1) - l1, t.l1[d] = l1;
  }
  return t;
}

template <typename T>
void upsample_fwd(const Tensor& x, UpsampleMode mode, bool align_corners, const Tensor& out) {
  const Planes s = planes_of(x, out, "upsample2d_fwd");
  const Taps<T> th = axis_taps<T>(s.h, s.oh, mode, align_corners), tw = axis_taps<T>(s.w, s.ow, mode, align_corners);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  for_planes(s, [&](int64_t p) {
    const T* in = xp + p * s.h * s.w;
    T* o = op + p * s.oh * s.ow;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const T* r0 = in + th.i0[oh] * s.w;
      const T* r1 = in + th.i1[oh] * s.w;
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const int64_t a = tw.i0[ow], b = tw.i1[ow];
        o[oh * s.ow + ow] = th.l0[oh] * (tw.l0[ow] * r0[a] + tw.l1[ow] * r0[b]) +
                            th.l1[oh] * (tw.l0[ow] * r1[a] + tw.l1[ow] * r1[b]);
      }
    }
  });
}

// grad_in[tap] += weight(tap) * grad_out[o] for the taps of every output pixel o
template <typename T>
void upsample_bwd(const Tensor& grad_out, UpsampleMode mode, bool align_corners, const Tensor& grad_in) {
  const Planes s = planes_of(grad_in, grad_out, "upsample2d_bwd");
  const Taps<T> th = axis_taps<T>(s.h, s.oh, mode, align_corners), tw = axis_taps<T>(s.w, s.ow, mode, align_corners);
  const T* gp = grad_out.data<T>();
  T* gi = grad_in.data<T>();
  for_planes(s, [&](int64_t p) {
    T* plane = gi + p * s.h * s.w;
    std::fill(plane, plane + s.h * s.w, T(0));
    const T* g = gp + p * s.oh * s.ow;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      T* r0 = plane + th.i0[oh] * s.w;
      T* r1 = plane + th.i1[oh] * s.w;
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const T v = g[oh * s.ow + ow];
        const int64_t a = tw.i0[ow], b = tw.i1[ow];
        r0[a] += th.l0[oh] * tw.l0[ow] * v;
        r0[b] += th.l0[oh] * tw.l1[ow] * v;
        r1[a] += th.l1[oh] * tw.l0[ow] * v;
        r1[b] += th.l1[oh] * tw.l1[ow] * v;
      }
    }
  });
}

}  // namespace

void CpuBackend::max_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out, const Tensor& indices) {
  dispatch_float(x.dtype(), "max_pool2d", [&]<typename T>() { max_pool_fwd<T>(x, g, out, indices); });
}
void CpuBackend::max_pool2d_bwd(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in) {
  dispatch_float(grad_out.dtype(), "max_pool2d", [&]<typename T>() { max_pool_bwd<T>(grad_out, indices, grad_in); });
}
void CpuBackend::avg_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out) {
  dispatch_float(x.dtype(), "avg_pool2d", [&]<typename T>() { avg_pool_fwd<T>(x, g, out); });
}
void CpuBackend::avg_pool2d_bwd(const Tensor& grad_out, const Pool2dGeom& g, const Tensor& grad_in) {
  dispatch_float(grad_out.dtype(), "avg_pool2d", [&]<typename T>() { avg_pool_bwd<T>(grad_out, g, grad_in); });
}
void CpuBackend::adaptive_avg_pool2d_fwd(const Tensor& x, const Tensor& out) {
  dispatch_float(x.dtype(), "adaptive_avg_pool2d", [&]<typename T>() { adaptive_fwd<T>(x, out); });
}
void CpuBackend::adaptive_avg_pool2d_bwd(const Tensor& grad_out, const Tensor& grad_in) {
  dispatch_float(grad_out.dtype(), "adaptive_avg_pool2d", [&]<typename T>() { adaptive_bwd<T>(grad_out, grad_in); });
}
void CpuBackend::upsample2d_fwd(const Tensor& x, UpsampleMode mode, bool align_corners, const Tensor& out) {
  dispatch_float(x.dtype(), "upsample", [&]<typename T>() { upsample_fwd<T>(x, mode, align_corners, out); });
}
void CpuBackend::upsample2d_bwd(const Tensor& grad_out, UpsampleMode mode, bool align_corners,
                                const Tensor& grad_in) {
  dispatch_float(grad_out.dtype(), "upsample",
                 [&]<typename T>() { upsample_bwd<T>(grad_out, mode, align_corners, grad_in); });
}

}  // namespace ember::cpu
