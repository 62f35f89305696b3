// Which device a worker's stages run on.
#ifndef V2P_CORE_PIPELINE_DEVICE_H_
#define V2P_CORE_PIPELINE_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"

namespace v2p::core {

// requested: "auto" (cuda:0 when LibTorch sees a GPU, else cpu), "cpu" or
// "cuda:N". INVALID_ARGUMENT for other strings; FAILED_PRECONDITION for a
// CUDA device that LibTorch cannot see. Returns the canonical name.
absl::StatusOr<std::string> PickDevice(const std::string& requested);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_DEVICE_H_
