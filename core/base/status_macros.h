// RETURN_IF_ERROR / ASSIGN_OR_RETURN, which Abseil 20220623 lacks. Defined
// once here for the whole project.
#ifndef V2P_CORE_BASE_STATUS_MACROS_H_
#define V2P_CORE_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define V2P_STATUS_CONCAT_INNER_(x, y) x##y
#define V2P_STATUS_CONCAT_(x, y) V2P_STATUS_CONCAT_INNER_(x, y)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// when it is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    const ::absl::Status v2p_status_ = (expr); \
    if (!v2p_status_.ok()) return v2p_status_; \
  } while (0)

// `lhs` = the value of `rexpr` (an absl::StatusOr<T>), or returns its status.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  V2P_ASSIGN_OR_RETURN_IMPL_(V2P_STATUS_CONCAT_(v2p_statusor_, __LINE__), lhs, rexpr)

#define V2P_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()

#endif  // V2P_CORE_BASE_STATUS_MACROS_H_
