// Whole-file reads and writes with errors as absl::Status.
#ifndef V2P_CORE_BASE_FILES_H_
#define V2P_CORE_BASE_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

// Writes bytes to `path`, replacing it (not atomic; callers write into a
// temporary directory when they need atomicity).
absl::Status WriteFile(const std::string& path, const std::string& bytes);
// NOT_FOUND when the file cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_FILES_H_
