#include "store/names.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proto/client_text.h"

namespace v2p::store {

absl::Status ValidateName(const std::string& name, const std::string& what) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
  });
  if (name.empty() || name.size() > 64 || !ok_chars || name[0] == '.' || name[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " '", ClientText(name),
                     "': expected 1-64 characters of [A-Za-z0-9_.-] not starting with '.' or '-'"));
  }
  return absl::OkStatus();
}

}  // namespace v2p::store
