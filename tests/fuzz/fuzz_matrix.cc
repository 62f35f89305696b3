// libFuzzer harness: any bytes as an uploaded dataset file, stored as the
// server stores it (datasets/<name>/data.mat) and opened as a dataset job
// opens it (core/data/matrix_file.h, by content: MATLAB v5/v7.3, npy,
// npz; BData refused), every variable read. Must return a status, never
// crash or hang. (With BData allowed it found a file on which libhdf5
// spent over 10 s reading variable-length strings: uploads refuse BData.)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/data/matrix_file.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = WriteFuzzInput(data, size, "data.mat");
  if (path.empty()) return 0;
  v2p::core::MatrixFileOptions options;
  options.uploaded = true;  // as a worker opens an upload
  auto file = v2p::core::OpenMatrixFile(path, options);
  if (file.ok()) {
    for (const std::string& name : (*file)->VariableNames()) (void)(*file)->ReadMatrix(name);
  }
  return 0;
}
