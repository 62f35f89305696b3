// For harnesses whose reader takes a path: the input written to a file of
// this process (replaced at each input), or "" when it cannot be written.
#ifndef V2P_TESTS_FUZZ_INPUT_FILE_H_
#define V2P_TESTS_FUZZ_INPUT_FILE_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

inline std::string WriteFuzzInput(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = "/tmp/v2p-fuzz-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return "";
  const bool written = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && written ? path : "";
}

#endif  // V2P_TESTS_FUZZ_INPUT_FILE_H_
