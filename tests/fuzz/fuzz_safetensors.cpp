// libFuzzer target: nn::load_safetensors on arbitrary bytes (header length, JSON header, data).
#include "nn/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = ember::fuzz::scratch_path(".safetensors");
  ember::fuzz::write_file(path, data, size);
  try {
    ember::nn::TensorDict d = ember::nn::load_safetensors(path);
    for (const auto& [name, t] : d.tensors) (void)t.numel();
  } catch (const ember::Error&) {
  }
  return 0;
}
