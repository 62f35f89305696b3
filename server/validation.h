// Request checks the gateway makes before dispatching, so that bad input
// is refused with a precise message and never reaches a worker.
#ifndef V2P_SERVER_VALIDATION_H_
#define V2P_SERVER_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "voxel2pixel/v1/models.pb.h"
#include "voxel2pixel/v1/reconstruction.pb.h"

namespace v2p::server {

// INVALID_ARGUMENT for a model name that no model can have (the rules of
// store::ValidateName: 1-64 characters of [A-Za-z0-9_.-]) or a negative
// version (0 is the latest).
absl::Status ValidateModelRef(const std::string& model, int64_t version);

// INVALID_ARGUMENT for an empty batch.
absl::Status ValidateNotEmpty(const voxel2pixel::v1::ReconstructRequest& request);

// INVALID_ARGUMENT when the sample's voxel count differs from the model's
// or a beta is NaN/Inf; the message names the sample id, its index in the
// request, what was expected and what came.
absl::Status ValidateSample(const voxel2pixel::v1::Sample& sample, int index,
                            const voxel2pixel::v1::Model& model);

}  // namespace v2p::server

#endif  // V2P_SERVER_VALIDATION_H_
