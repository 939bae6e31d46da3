// Fused scaled-dot-product attention on CPU (flash style), forward and backward, templated on the
// element type and on Ops (a row exp and a small strided product). Included by attention.cpp
// (portable build: f64 and the scalar ISA) and attention_avx2.cpp (f32: exp from vec_math_avx2.h
// and a 4 x 16 register-blocked product).
//
// Legend: B batch, H query heads, Hkv kv heads, G = H / Hkv, T queries, S keys, D q/k head dim,
// Dv v head dim. q [B,H,T,D], k [B,Hkv,S,D], v [B,Hkv,S,Dv], out [B,H,T,Dv], lse [B,H,T], all
// contiguous. Query head h reads kv head h / G; K/V are never repeated.
// Causal keeps key s for query t when s <= t + (S - T); a query with no kept key gets out = nan
// and lse = -inf (as softmax over an all -inf row).
//
// Work split: one task per (b, kv head); it packs K^T [D, S] (and V^T for backward) once and
// serves its G query heads, so a task owns its dK/dV and its heads' dQ rows (no write sharing).
// Inside, queries go in blocks of kBq rows and keys in blocks of kBk: scores for a block are
// a [kBq, kBk] tile (one small product), softmax is online (running max m, sum l, rescaled
// accumulator), so memory is O(kBq * (kBk + Dv)) per task whatever S is.
// FLOPs: forward 2*B*H*T*S*(D + Dv) (halved by causality), backward about 2.5x that.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/parallel.h"

namespace ember::cpu {

struct SdpaDims {
  int64_t b, h, hkv, t, s, d, dv;
  bool causal;
  double scale;
  // Keys visible to query i: [0, kept(i)).
  int64_t kept(int64_t i) const { return causal ? std::clamp<int64_t>(i + (s - t) + 1, 0, s) : s; }
};

// Portable small product: C[i][e] (=|+=) sum_p A(i, p) B[p][e] with A(i, p) = a[i*ars + p*acs],
// B row-major (row stride ldb), C row stride ldc. The AVX2 build supplies a register-blocked one.
struct SmallGemmPortable {
  template <typename T>
  static void mm(int64_t m, int64_t n, int64_t k, const T* a, int64_t ars, int64_t acs, const T* b, int64_t ldb,
                 T* c, int64_t ldc, bool accumulate) {
    for (int64_t i = 0; i < m; ++i) {
      T* ci = c + i * ldc;
      if (!accumulate) std::fill(ci, ci + n, T(0));
      for (int64_t p = 0; p < k; ++p) {
        const T av = a[i * ars + p * acs];
        const T* bp = b + p * ldb;
        for (int64_t e = 0; e < n; ++e) ci[e] += av * bp[e];
      }
    }
  }
};

// Portable row helpers (FP reductions do not auto-vectorize, so the AVX2 build has its own).
struct RowOpsPortable {
  template <typename T>
  static T row_max(const T* x, int64_t n, T init) {
    for (int64_t i = 0; i < n; ++i) init = std::max(init, x[i]);
    return init;
  }
  // x = exp(x - shift) in place; returns the sum of the new values.
  template <typename T>
  static T exp_sub_sum(T* x, int64_t n, T shift) {
    T sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
    return sum;
  }
};

// Ops supplies row_max, exp_sub_sum (as RowOpsPortable) and mm (as SmallGemmPortable::mm).
template <typename T, typename Ops>
struct SdpaKernel {
  static constexpr int64_t kBq = 16, kBk = 64;

  // kt [d, s] = k[s, d]^T for one kv head.
  static void transpose(const T* k, int64_t s, int64_t d, T* kt) {
    for (int64_t j = 0; j < s; ++j)
      for (int64_t c = 0; c < d; ++c) kt[c * s + j] = k[j * d + c];
  }

  // sc[r][j - j0] = scale * q[i0 + r] . k[j] for j in [j0, j1): Q block @ K^T block.
  static void scores(const SdpaDims& m, const T* q, const T* kt, int64_t i0, int64_t rows, int64_t j0, int64_t j1,
                     T* sc) {
    Ops::mm(rows, j1 - j0, m.d, q + i0 * m.d, m.d, int64_t{1}, kt + j0, m.s, sc, kBk, false);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < j1 - j0; ++j) sc[r * kBk + j] *= T(m.scale);
  }

  static void forward(const SdpaDims& m, const T* q, const T* k, const T* v, T* out, T* lse) {
    const int64_t g = m.h / m.hkv;
    parallel_for(m.b * m.hkv, 1, [&](int64_t u0, int64_t u1) {
      std::vector<T> kt(size_t(m.d * m.s)), sc(size_t(kBq * kBk)), acc(size_t(kBq * m.dv));
      T mx[kBq], l[kBq];
      for (int64_t u = u0; u < u1; ++u) {
        const T* ku = k + u * m.s * m.d;
        const T* vu = v + u * m.s * m.dv;
        transpose(ku, m.s, m.d, kt.data());
        for (int64_t hh = 0; hh < g; ++hh) {
          const int64_t head = u * g + hh;  // (b * Hkv + kv) * G + hh = b * H + h
          const T* qh = q + head * m.t * m.d;
          for (int64_t i0 = 0; i0 < m.t; i0 += kBq) {
            const int64_t rows = std::min(kBq, m.t - i0);
            std::fill(acc.begin(), acc.end(), T(0));
            std::fill(mx, mx + kBq, -std::numeric_limits<T>::infinity());
            std::fill(l, l + kBq, T(0));
            const int64_t jend = m.kept(i0 + rows - 1);
            for (int64_t j0 = 0; j0 < jend; j0 += kBk) {
              const int64_t j1 = std::min(j0 + kBk, jend), nb = j1 - j0;
              scores(m, qh, kt.data(), i0, rows, j0, j1, sc.data());
              for (int64_t r = 0; r < rows; ++r) {  // online softmax, row by row
                const int64_t nk = std::min(j1, m.kept(i0 + r)) - j0;
                T* row = sc.data() + r * kBk;
                if (nk <= 0) {
                  std::fill(row, row + nb, T(0));
                  continue;
                }
                const T bm = Ops::row_max(row, nk, mx[r]);
                const T alpha = std::exp(mx[r] - bm);  // 0 on the first block (mx = -inf)
                mx[r] = bm;
                const T sum = Ops::exp_sub_sum(row, nk, bm);
                std::fill(row + nk, row + nb, T(0));  // masked keys
                l[r] = l[r] * alpha + sum;
                T* ar = acc.data() + r * m.dv;
                for (int64_t e = 0; e < m.dv; ++e) ar[e] *= alpha;
              }
              // acc += P @ V_block
              Ops::mm(rows, m.dv, nb, sc.data(), kBk, int64_t{1}, vu + j0 * m.dv, m.dv, acc.data(), m.dv, true);
            }
            for (int64_t r = 0; r < rows; ++r) {
              T* o = out + (head * m.t + i0 + r) * m.dv;
              const T inv = T(1) / l[r];  // l = 0 (no kept key) gives nan below, as softmax does
              for (int64_t e = 0; e < m.dv; ++e) o[e] = l[r] > 0 ? acc[size_t(r * m.dv + e)] * inv : T(NAN);
              lse[head * m.t + i0 + r] = mx[r] + std::log(l[r]);
            }
          }
        }
      }
    });
  }

  // With P = exp(S - lse) and Di = dO_i . O_i (the softmax-Jacobian term):
  //   dV_j += sum_i P_ij dO_i;  dP_ij = dO_i . V_j;  dS_ij = P_ij (dP_ij - Di)
  //   dQ_i += scale * sum_j dS_ij K_j;  dK_j += scale * sum_i dS_ij Q_i          (all `=` overall)
  // Per (query block, key block) these are five small products (P, dP, dQ, dV, dK).
  static void backward(const SdpaDims& m, const T* q, const T* k, const T* v, const T* out, const T* lse,
                       const T* dout, T* dq, T* dk, T* dv) {
    const int64_t g = m.h / m.hkv;
    parallel_for(m.b * m.hkv, 1, [&](int64_t u0, int64_t u1) {
      std::vector<T> kt(size_t(m.d * m.s)), vt(size_t(m.dv * m.s)), p(size_t(kBq * kBk)), dp(size_t(kBq * kBk));
      T di[kBq];
      for (int64_t u = u0; u < u1; ++u) {
        const T* ku = k + u * m.s * m.d;
        const T* vu = v + u * m.s * m.dv;
        T* dku = dk + u * m.s * m.d;
        T* dvu = dv + u * m.s * m.dv;
        std::fill(dku, dku + m.s * m.d, T(0));
        std::fill(dvu, dvu + m.s * m.dv, T(0));
        transpose(ku, m.s, m.d, kt.data());
        transpose(vu, m.s, m.dv, vt.data());
        for (int64_t hh = 0; hh < g; ++hh) {
          const int64_t head = u * g + hh;
          const T* qh = q + head * m.t * m.d;
          const T* oh = out + head * m.t * m.dv;
          const T* doh = dout + head * m.t * m.dv;
          const T* lh = lse + head * m.t;
          T* dqh = dq + head * m.t * m.d;
          std::fill(dqh, dqh + m.t * m.d, T(0));
          for (int64_t i0 = 0; i0 < m.t; i0 += kBq) {
            const int64_t rows = std::min(kBq, m.t - i0);
            for (int64_t r = 0; r < rows; ++r) {
              T s = 0;
              for (int64_t e = 0; e < m.dv; ++e) s += doh[(i0 + r) * m.dv + e] * oh[(i0 + r) * m.dv + e];
              di[r] = s;
            }
            const int64_t jend = m.kept(i0 + rows - 1);
            for (int64_t j0 = 0; j0 < jend; j0 += kBk) {
              const int64_t j1 = std::min(j0 + kBk, jend), nb = j1 - j0;
              scores(m, qh, kt.data(), i0, rows, j0, j1, p.data());
              // dP block = dO block @ V^T block
              Ops::mm(rows, nb, m.dv, doh + i0 * m.dv, m.dv, int64_t{1}, vt.data() + j0, m.s, dp.data(), kBk, false);
              for (int64_t r = 0; r < rows; ++r) {
                const int64_t i = i0 + r, nk = std::max<int64_t>(0, std::min(j1, m.kept(i)) - j0);
                T* pr = p.data() + r * kBk;
                T* dpr = dp.data() + r * kBk;
                Ops::exp_sub_sum(pr, nk, lh[i]);
                for (int64_t j = 0; j < nk; ++j) dpr[j] = pr[j] * (dpr[j] - di[r]) * T(m.scale);  // scaled dS
                std::fill(pr + nk, pr + nb, T(0));                                               // masked keys
                std::fill(dpr + nk, dpr + nb, T(0));
              }
              // dQ += dS @ K;  dV += P^T @ dO;  dK += dS^T @ Q  (the transposes are strided reads)
              Ops::mm(rows, m.d, nb, dp.data(), kBk, int64_t{1}, ku + j0 * m.d, m.d, dqh + i0 * m.d, m.d, true);
              Ops::mm(nb, m.dv, rows, p.data(), int64_t{1}, kBk, doh + i0 * m.dv, m.dv, dvu + j0 * m.dv, m.dv, true);
              Ops::mm(nb, m.d, rows, dp.data(), int64_t{1}, kBk, qh + i0 * m.d, m.d, dku + j0 * m.d, m.d, true);
            }
          }
        }
      }
    });
  }
};

}  // namespace ember::cpu
