// Names that become directory names in the repository (datasets, models,
// operation ids) must not escape it.
#ifndef V2P_STORE_NAMES_H_
#define V2P_STORE_NAMES_H_

#include <string>

#include "absl/status/status.h"

namespace v2p::store {

// 1-64 characters of [A-Za-z0-9_.-], not starting with '.' or '-';
// INVALID_ARGUMENT naming `what` ("dataset name") otherwise.
absl::Status ValidateName(const std::string& name, const std::string& what);

}  // namespace v2p::store

#endif  // V2P_STORE_NAMES_H_
