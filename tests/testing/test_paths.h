// Where tests find the shared data, the built binaries and scratch space.
#ifndef V2P_TESTS_TESTING_TEST_PATHS_H_
#define V2P_TESTS_TESTING_TEST_PATHS_H_

#include <string>

namespace v2p::testing {

// ../shared/data as configured (V2P_DATA_DIR); env V2P_DATA_DIR overrides.
std::string DataDir();
// The directory holding v2p-server, v2p-worker and v2p; env V2P_BIN_DIR
// overrides (to run the tests against other binaries).
std::string BinDir();
std::string SourceDir();
// A fresh empty directory under TMPDIR, unique per call.
std::string MakeTempDir(const std::string& prefix);

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_TEST_PATHS_H_
