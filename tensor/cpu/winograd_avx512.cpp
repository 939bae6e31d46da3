// AVX-512 path of the Winograd transforms (winograd.h): winograd_impl.h's input, output and
// weight-gradient transforms built with AVX-512 flags on 16-channel zmm vectors. The 32 zmm
// registers hold most of an F(4x4) tile's 36 intermediate values that the 16 ymm registers of the
// AVX2 path spill, and each instruction moves twice the channels. The products stay on the AVX2
// register tiles (winograd_avx2.cpp), which already run at the FMA rate of a core that executes a
// 512-bit FMA as two 256-bit halves. Channels past the last multiple of 16 take the plain loop.
#include "tensor/cpu/immintrin_avx512.h"

#define WINOGRAD_NS avx512
#include "tensor/cpu/winograd_impl.h"

namespace ember::cpu {

namespace avx512 {
// 16 channels in a zmm register; +, - and scalar * are GCC's vector extensions on __m512.
struct Avx512Vec {
  using V = __m512;
  static constexpr int kWidth = 16;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V splat(float v) { return _mm512_set1_ps(v); }
  static V relu(V v) { return _mm512_max_ps(v, _mm512_setzero_ps()); }
};
}  // namespace avx512

void winograd_input_avx512(const WinogradPlan& p, int64_t t0, int64_t t1) {
  avx512::input_phase<avx512::Avx512Vec>(p, t0, t1);
}

void winograd_output_avx512(const WinogradPlan& p, int64_t t0, int64_t t1) {
  avx512::output_phase<avx512::Avx512Vec>(p, t0, t1);
}

void winograd_grad_output_avx512(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  avx512::grad_output_phase<avx512::Avx512Vec>(p, dy, t0, t1);
}

}  // namespace ember::cpu
