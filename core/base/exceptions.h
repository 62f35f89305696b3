// Adapters that stop library exceptions at the call: run `fn`, return its
// result, or turn a thrown std::exception (c10::Error and cv::Exception
// derive from it) into absl::Status with `context` prepended.
#ifndef V2P_CORE_BASE_EXCEPTIONS_H_
#define V2P_CORE_BASE_EXCEPTIONS_H_

#include <exception>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace v2p::core {

template <typename Fn>
auto CallGuarded(absl::string_view context, Fn&& fn) -> absl::StatusOr<std::invoke_result_t<Fn>> {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  }
}

template <typename Fn>
absl::Status CallGuardedVoid(absl::string_view context, Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  }
}

// For fn returning absl::Status or absl::StatusOr<T>: its result, or a
// thrown std::exception as INTERNAL with `context` prepended (the worker
// keeps serving; the caller names the model or job).
template <typename Fn>
auto GuardedCall(absl::string_view context, Fn&& fn) -> std::invoke_result_t<Fn> {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  }
}

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_EXCEPTIONS_H_
