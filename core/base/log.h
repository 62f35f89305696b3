// Minimal structured logging to stderr (Abseil 20220623 has no absl/log).
// Thread-safe: each line is written with one call.
#ifndef V2P_CORE_BASE_LOG_H_
#define V2P_CORE_BASE_LOG_H_

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace v2p::core {

enum class LogSeverity { kInfo, kWarning, kError };

// Writes "<time> <I|W|E> <tag>: <message>\n" to stderr.
void LogLine(LogSeverity severity, absl::string_view tag, absl::string_view message);

template <typename... Args>
void LogInfo(absl::string_view tag, const Args&... args) {
  LogLine(LogSeverity::kInfo, tag, absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(absl::string_view tag, const Args&... args) {
  LogLine(LogSeverity::kWarning, tag, absl::StrCat(args...));
}
template <typename... Args>
void LogError(absl::string_view tag, const Args&... args) {
  LogLine(LogSeverity::kError, tag, absl::StrCat(args...));
}

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_LOG_H_
