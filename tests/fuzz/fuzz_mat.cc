// libFuzzer harness: any bytes as a MATLAB file (core/data/mat_file.h),
// every variable read. Must return a status, never crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/data/mat_file.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = WriteFuzzInput(data, size, "input.mat");
  if (path.empty()) return 0;
  auto mat = v2p::core::MatFile::Open(path);
  if (mat.ok()) {
    for (const std::string& name : (*mat)->VariableNames()) (void)(*mat)->ReadMatrix(name);
  }
  return 0;
}
