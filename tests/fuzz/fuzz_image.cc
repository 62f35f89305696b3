// libFuzzer harness: any bytes as a PNG or JPEG stimulus file
// (core/data/image_files.h). Must return a status, never crash, hang, read
// out of bounds or allocate beyond the declared-size bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/data/image_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  v2p::core::ImageLimits limits;
  limits.max_side = 1024;  // keeps each execution fast; the bound is the code under test
  limits.max_pixels = 1 << 18;
  auto image = v2p::core::DecodeImage(bytes, limits);
  if (image.ok() && image->pixels.size() != static_cast<size_t>(image->shape.num_pixels()))
    __builtin_trap();  // a decoded image must hold exactly its declared pixels
  return 0;
}
