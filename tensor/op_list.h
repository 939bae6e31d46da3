// The ONE list of backend primitives. The enum, the names and the count are derived from it;
// a backend's supports() answers per entry (the CPU backend supports all of them).
#pragma once

#include <cstddef>
#include <string_view>

#define EMBER_PRIMITIVES(X)                                              \
  X(copy) X(fill)                                                        \
  X(unary) X(unary_backward) X(binary) X(where)                          \
  X(reduce) X(arg_reduce)                                                \
  X(gemm)                                                                \
  X(softmax) X(softmax_backward) X(cross_entropy_fwd) X(cross_entropy_bwd) \
  X(im2col) X(col2im)                                                    \
  X(max_pool2d_fwd) X(max_pool2d_bwd) X(avg_pool2d_fwd) X(avg_pool2d_bwd) \
  X(adaptive_avg_pool2d_fwd) X(adaptive_avg_pool2d_bwd)                  \
  X(upsample2d_fwd) X(upsample2d_bwd)                                    \
  X(layer_norm_fwd) X(layer_norm_bwd) X(rms_norm_fwd) X(rms_norm_bwd)    \
  X(index_select) X(index_add) X(gather) X(scatter_add)                  \
  X(random_uniform) X(random_normal) X(random_int)

namespace ember {

enum class Prim : int {
#define EMBER_X(name) name,
  EMBER_PRIMITIVES(EMBER_X)
#undef EMBER_X
};

inline constexpr std::string_view kPrimNames[] = {
#define EMBER_X(name) #name,
    EMBER_PRIMITIVES(EMBER_X)
#undef EMBER_X
};

inline constexpr size_t kPrimCount = sizeof(kPrimNames) / sizeof(kPrimNames[0]);

constexpr std::string_view prim_name(Prim p) { return kPrimNames[static_cast<int>(p)]; }

}  // namespace ember
