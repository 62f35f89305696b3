// Reads the members of a ZIP archive (stored or deflated, no ZIP64, no
// encryption): enough for NumPy's .npz files.
#ifndef V2P_CORE_DATA_ZIP_READER_H_
#define V2P_CORE_DATA_ZIP_READER_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace v2p::core {

// Returns member name -> uncompressed bytes. CRC-32 of each member is
// verified. Errors: NOT_FOUND (no file), DATA_LOSS (corrupt or truncated),
// UNIMPLEMENTED (ZIP64, encryption, other compression methods).
absl::StatusOr<std::map<std::string, std::string>> ReadZipArchive(const std::string& path);

// The same for an archive in memory; `name` is what errors call it. A
// member that declares more bytes than its compressed size can inflate to
// (deflate's limit is 1032:1) is DATA_LOSS before anything is allocated.
absl::StatusOr<std::map<std::string, std::string>> ParseZipArchive(const std::string& data,
                                                                   const std::string& name);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_ZIP_READER_H_
