#include "tests/testing/test_paths.h"

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace v2p::testing {

std::string DataDir() {
  if (const char* env = std::getenv("V2P_DATA_DIR")) return env;
  return V2P_DATA_DIR;
}

std::string BinDir() {
  if (const char* env = std::getenv("V2P_BIN_DIR")) return env;
  return V2P_BIN_DIR;
}
std::string SourceDir() { return V2P_SOURCE_DIR; }

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/v2p-", prefix, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
  return tmpl;
}

}  // namespace v2p::testing
