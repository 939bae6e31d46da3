// A consumer's program (tests/package/check.sh). The unused variable is deliberate: with ember's
// -Wall -Werror leaking into this target it would fail to compile.
#include "ember/ember.h"

int main() {
  int unused_on_purpose = 0;
  ember::Tensor x = ember::Tensor::ones({2, 2});
  return x.sum().item<float>() == 4.0f ? 0 : 1;
}
