// Waiting on a condition in an end-to-end test, instead of sleeping for a
// guessed time: polls `condition` until it holds or `timeout` passes.
#ifndef V2P_TESTS_TESTING_EVENTUALLY_H_
#define V2P_TESTS_TESTING_EVENTUALLY_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace v2p::testing {

inline bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_EVENTUALLY_H_
