// libFuzzer harness: any bytes as a ZIP archive (core/data/zip_reader.h),
// each member then read as a .npy array, as a .npz file is. Must return a
// status, never crash, hang, read out of bounds or allocate what a member
// merely declares.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/data/npy.h"
#include "core/data/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto members = v2p::core::ParseZipArchive(bytes, "fuzz.npz");
  if (!members.ok()) return 0;
  for (const auto& [name, member] : *members) {
    auto array = v2p::core::ParseNpy(member);
    if (array.ok()) (void)array->AsMatrix();
  }
  return 0;
}
