// libFuzzer harness: any bytes as a .npy array (core/data/npy.h). Must
// return a status, never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto array = v2p::core::ParseNpy(bytes);
  if (array.ok()) (void)array->AsMatrix();
  return 0;
}
