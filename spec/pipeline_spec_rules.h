// The rules of a pipeline spec, in one place: the gateway checks them in
// CreateTrainingJob before any operation exists, the worker again when it
// builds the method, and the local `v2p train` before it loads anything,
// so an invalid spec gets the same message (prefixed "pipeline spec: ")
// wherever it is sent. Protobuf and the standard library only: no
// LibTorch, no core/.
#ifndef V2P_SPEC_PIPELINE_SPEC_RULES_H_
#define V2P_SPEC_PIPELINE_SPEC_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::spec {

// The spec on its own: which target takes which decoder and generator,
// every number finite and in range, generator kinds and SMR variants that
// exist, the generic `method` form's bounds (method_spec.h).
// INVALID_ARGUMENT saying what is wrong.
absl::Status ValidatePipelineSpec(const voxel2pixel::v1::PipelineSpec& spec);

// What the spec is checked against in the dataset it will train on.
struct DatasetFacts {
  std::string name;
  int64_t num_voxels = 0;
  bool has_unpaired_images = false;
};

// num_voxels, when the spec states it, is the dataset's; a generator
// trained without the training stimuli needs unpaired images.
// INVALID_ARGUMENT.
absl::Status ValidateForDataset(const voxel2pixel::v1::PipelineSpec& spec,
                                const DatasetFacts& dataset);

// The feature network a features or DAND spec names exists in
// <repository_root>/feature_networks (version 0: the latest) and has every
// layer the spec names (read from its network.txt): NOT_FOUND for a
// network or version that is not there, INVALID_ARGUMENT for a layer it
// lacks, listing the layers it has.
absl::Status ValidateStoredParts(const voxel2pixel::v1::PipelineSpec& spec,
                                 const std::string& repository_root);

// All three, in that order.
absl::Status ValidateTrainingSpec(const voxel2pixel::v1::PipelineSpec& spec,
                                  const DatasetFacts& dataset, const std::string& repository_root);

}  // namespace v2p::spec

#endif  // V2P_SPEC_PIPELINE_SPEC_RULES_H_
