#include "core/pipeline/device.h"

#include <torch/cuda.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace v2p::core {

absl::StatusOr<std::string> PickDevice(const std::string& requested) {
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (requested == "auto") return gpus > 0 ? std::string("cuda:0") : std::string("cpu");
  if (requested == "cpu") return requested;
  int index = -1;
  if (absl::StartsWith(requested, "cuda:") && absl::SimpleAtoi(requested.substr(5), &index) &&
      index >= 0) {
    if (index >= gpus) {
      return absl::FailedPreconditionError(
          absl::StrCat("device ", requested, " requested but LibTorch sees ", gpus, " GPU(s)"));
    }
    return requested;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device '", requested, "': expected auto, cpu or cuda:N"));
}

}  // namespace v2p::core
