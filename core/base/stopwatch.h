// Monotonic stage timing. Not thread-safe; one per timed region.
#ifndef V2P_CORE_BASE_STOPWATCH_H_
#define V2P_CORE_BASE_STOPWATCH_H_

#include <chrono>

#include "absl/time/time.h"

namespace v2p::core {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}

  // Time since construction or the last Lap().
  absl::Duration Elapsed() const;
  // Returns Elapsed() and restarts the watch.
  absl::Duration Lap();

 private:
  std::chrono::steady_clock::time_point start_;
};

// Per-stage wall-clock durations of one reconstruction (DESIGN §2). A
// stage that did not run stays zero.
struct StageTimings {
  absl::Duration queue;
  absl::Duration preprocess;
  absl::Duration decode;
  absl::Duration generate;
  absl::Duration refine;
  absl::Duration encode;
  absl::Duration total;

  absl::Duration SumOfStages() const {
    return queue + preprocess + decode + generate + refine + encode;
  }
};

}  // namespace v2p::core

#endif  // V2P_CORE_BASE_STOPWATCH_H_
