// Whole-file reads and writes with errors as absl::Status.
#ifndef V2P_CORE_BASE_FILES_H_
#define V2P_CORE_BASE_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

// Writes bytes to `path`, replacing it (not atomic; callers write into a
// temporary directory when they need atomicity).
// The status for a write to `path` that failed with `error` (an errno):
// RESOURCE_EXHAUSTED for a full disk, a quota or a file-size limit
// (ENOSPC, EDQUOT, EFBIG), INTERNAL otherwise; the message names the path
// and the system's reason.
absl::Status WriteError(const std::string& path, int error);

absl::Status WriteFile(const std::string& path, const std::string& bytes);
// NOT_FOUND when the file cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_FILES_H_
