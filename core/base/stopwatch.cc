#include "core/base/stopwatch.h"

namespace v2p::core {

absl::Duration Stopwatch::Elapsed() const {
  return absl::FromChrono(std::chrono::steady_clock::now() - start_);
}

absl::Duration Stopwatch::Lap() {
  const auto now = std::chrono::steady_clock::now();
  const absl::Duration d = absl::FromChrono(now - start_);
  start_ = now;
  return d;
}

}  // namespace v2p::core
