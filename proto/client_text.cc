#include "proto/client_text.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace v2p {

std::string ClientText(absl::string_view text, size_t max) {
  const bool cut = text.size() > max;
  std::string out = absl::CHexEscape(text.substr(0, max));
  if (cut) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

}  // namespace v2p
