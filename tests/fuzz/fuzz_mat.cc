// libFuzzer harness: any bytes as a MATLAB file (core/data/mat_file.h),
// every variable read. Must return a status, never crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/data/mat_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/v2p-fuzz-mat-" + std::to_string(getpid()) + ".mat";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto mat = v2p::core::MatFile::Open(path);
  if (mat.ok()) {
    for (const std::string& name : (*mat)->VariableNames()) (void)(*mat)->ReadMatrix(name);
  }
  return 0;
}
