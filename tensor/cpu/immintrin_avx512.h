// <immintrin.h> for the AVX-512 kernel files. GCC 12's unmasked AVX-512 intrinsics pass an
// undefined __Y as the pass-through operand, which -Wmaybe-uninitialized reports once they are
// inlined into a kernel; the value is never read. The warning stays off for the rest of the
// including file (it fires where the intrinsic is inlined, not where it is declared).
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
