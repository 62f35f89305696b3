// SHA-256 checksums of a directory's files, in `sha256sum` format:
//   <dir>/checksums.txt   "<64 hex digits>  <path relative to dir>" per file
// Written when a model, feature network or generator version is committed
// (ModelRepository::CommitVersion) and checked before one is loaded, so a
// file damaged on disk or by hand is named instead of misread; an operator
// can check a version with `sha256sum -c checksums.txt` in its directory.
// (store/sha256.h hashes uploads the same way; core cannot depend on store.)
#ifndef V2P_CORE_BASE_CHECKSUMS_H_
#define V2P_CORE_BASE_CHECKSUMS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

inline constexpr char kChecksumsFile[] = "checksums.txt";

// Lowercase hex SHA-256 of a file's bytes; NOT_FOUND when it cannot be read.
absl::StatusOr<std::string> FileSha256(const std::string& path);

// Writes <dir>/checksums.txt over every regular file under `dir`
// (recursively, in sorted order, checksums.txt itself excepted).
absl::Status WriteChecksums(const std::string& dir);

// Checks every file <dir>/checksums.txt lists. FAILED_PRECONDITION naming
// the file (as `shown`/<relative path>) when one is missing or its SHA-256
// differs, or when checksums.txt is malformed; OK when there is no
// checksums.txt (versions committed before checksums were written).
absl::Status VerifyChecksums(const std::string& dir, const std::string& shown);

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_CHECKSUMS_H_
