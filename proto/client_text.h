// Text a client sent, made fit to quote in an error message: bounded, so
// that a 2 MB sample id or an 8 KB model name cannot make the answer too
// large for the channel (and turn INVALID_ARGUMENT into RESOURCE_EXHAUSTED
// or tear down a connection other calls share), and printable, so that it
// cannot forge lines in a log.
#ifndef V2P_PROTO_CLIENT_TEXT_H_
#define V2P_PROTO_CLIENT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace v2p {

inline constexpr size_t kMaxQuoted = 64;

// At most `max` bytes of `text` with control and non-ASCII bytes
// C-escaped; when cut, "..." and the full length follow, e.g.
// `aaaa... (2097152 bytes)`.
std::string ClientText(absl::string_view text, size_t max = kMaxQuoted);

}  // namespace v2p

#endif  // V2P_PROTO_CLIENT_TEXT_H_
