// Small file helpers for state that several processes share.
#ifndef V2P_STORE_FILES_H_
#define V2P_STORE_FILES_H_

#include <string>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::store {

// Writes `bytes` to `path` through a temporary file in the same directory
// and rename(2), so readers see the old or the new content, never a mix.
absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes);
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

absl::Status WriteProto(const std::string& path, const google::protobuf::Message& message);
// NOT_FOUND when missing; DATA_LOSS when it does not parse.
absl::Status ReadProto(const std::string& path, google::protobuf::Message* message);

// A random lowercase hex string of 2 * bytes characters.
std::string RandomHex(int bytes);

}  // namespace v2p::store

#endif  // V2P_STORE_FILES_H_
