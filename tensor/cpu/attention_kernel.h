// Fused scaled-dot-product attention on CPU (flash style), forward and backward, templated on the
// element type and on a row-exp function. Included by attention.cpp (portable build: f64 and the
// scalar ISA) and attention_avx2.cpp (f32, compiled with AVX2 so the j/d loops vectorize 8-wide
// and exp runs on vec_math_avx2.h).
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
// a [kBq, kBk] tile (vectorized over keys), softmax is online (running max m, sum l, rescaled
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

template <typename T, typename ExpRow>
struct SdpaKernel {
  static constexpr int64_t kBq = 16, kBk = 64;

  // kt [d, s] = k[s, d]^T for one kv head.
  static void transpose(const T* k, int64_t s, int64_t d, T* kt) {
    for (int64_t j = 0; j < s; ++j)
      for (int64_t c = 0; c < d; ++c) kt[c * s + j] = k[j * d + c];
  }

  // sc[r][j - j0] = scale * q[i0 + r] . k[j] for j in [j0, j1), vectorized over j through kt.
  static void scores(const SdpaDims& m, const T* q, const T* kt, int64_t i0, int64_t rows, int64_t j0, int64_t j1,
                     T* sc) {
    const int64_t nk = j1 - j0;
    for (int64_t r = 0; r < rows; ++r) {
      T* row = sc + r * kBk;
      std::fill(row, row + nk, T(0));
      const T* qi = q + (i0 + r) * m.d;
      for (int64_t c = 0; c < m.d; ++c) {
        const T a = qi[c];
        const T* kr = kt + c * m.s + j0;
        for (int64_t j = 0; j < nk; ++j) row[j] += a * kr[j];
      }
      for (int64_t j = 0; j < nk; ++j) row[j] *= T(m.scale);
    }
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
              const int64_t j1 = std::min(j0 + kBk, jend);
              scores(m, qh, kt.data(), i0, rows, j0, j1, sc.data());
              for (int64_t r = 0; r < rows; ++r) {
                const int64_t nk = std::min(j1, m.kept(i0 + r)) - j0;
                if (nk <= 0) continue;
                T* row = sc.data() + r * kBk;
                T bm = mx[r];
                for (int64_t j = 0; j < nk; ++j) bm = std::max(bm, row[j]);
                const T alpha = std::exp(mx[r] - bm);  // 0 on the first block (mx = -inf)
                mx[r] = bm;
                for (int64_t j = 0; j < nk; ++j) row[j] -= bm;
                ExpRow::apply(row, nk);
                T sum = 0;
                for (int64_t j = 0; j < nk; ++j) sum += row[j];
                l[r] = l[r] * alpha + sum;
                T* ar = acc.data() + r * m.dv;
                for (int64_t e = 0; e < m.dv; ++e) ar[e] *= alpha;
                for (int64_t j = 0; j < nk; ++j) {  // acc += p @ V, vectorized over Dv
                  const T p = row[j];
                  const T* vr = vu + (j0 + j) * m.dv;
                  for (int64_t e = 0; e < m.dv; ++e) ar[e] += p * vr[e];
                }
              }
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
              const int64_t j1 = std::min(j0 + kBk, jend);
              scores(m, qh, kt.data(), i0, rows, j0, j1, p.data());
              for (int64_t r = 0; r < rows; ++r) {
                const int64_t i = i0 + r, nk = std::min(j1, m.kept(i)) - j0;
                T* pr = p.data() + r * kBk;
                T* dpr = dp.data() + r * kBk;
                if (nk <= 0) {
                  std::fill(pr, pr + (j1 - j0), T(0));
                  std::fill(dpr, dpr + (j1 - j0), T(0));
                  continue;
                }
                for (int64_t j = 0; j < nk; ++j) pr[j] -= lh[i];
                ExpRow::apply(pr, nk);
                std::fill(pr + nk, pr + (j1 - j0), T(0));
                // dP row = dO_i . V_j over j, vectorized through V^T.
                std::fill(dpr, dpr + (j1 - j0), T(0));
                const T* doi = doh + i * m.dv;
                for (int64_t e = 0; e < m.dv; ++e) {
                  const T a = doi[e];
                  const T* vr = vt.data() + e * m.s + j0;
                  for (int64_t j = 0; j < nk; ++j) dpr[j] += a * vr[j];
                }
                for (int64_t j = 0; j < nk; ++j) dpr[j] = pr[j] * (dpr[j] - di[r]) * T(m.scale);  // scaled dS
                // dQ_i += sum_j dS_ij K_j (vectorized over D)
                T* dqi = dqh + i * m.d;
                for (int64_t j = 0; j < nk; ++j) {
                  const T a = dpr[j];
                  const T* kr = ku + (j0 + j) * m.d;
                  for (int64_t c = 0; c < m.d; ++c) dqi[c] += a * kr[c];
                }
              }
              // dV_j += sum_i P_ij dO_i and dK_j += sum_i dS_ij Q_i, vectorized over Dv / D.
              for (int64_t j = 0; j < j1 - j0; ++j) {
                T* dvj = dvu + (j0 + j) * m.dv;
                T* dkj = dku + (j0 + j) * m.d;
                for (int64_t r = 0; r < rows; ++r) {
                  const T a = p[size_t(r * kBk + j)], b = dp[size_t(r * kBk + j)];
                  if (a == T(0) && b == T(0)) continue;
                  const T* dor = doh + (i0 + r) * m.dv;
                  const T* qr = qh + (i0 + r) * m.d;
                  for (int64_t e = 0; e < m.dv; ++e) dvj[e] += a * dor[e];
                  for (int64_t c = 0; c < m.d; ++c) dkj[c] += b * qr[c];
                }
              }
            }
          }
        }
      }
    });
  }
};

}  // namespace ember::cpu
