// A dataset description (the lab's text proto) as core/'s plain options:
// the proto-to-core step for datasets, shared by the workers (which load
// datasets) and the lab CLI (which bundles a description's files for an
// upload). Links no LibTorch: core's data library, the protos and the
// description rules only.
#ifndef V2P_WORKERS_DATASET_OPTIONS_H_
#define V2P_WORKERS_DATASET_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::worker {

// Checks the description (spec/dataset_rules.h) and converts it; `data_root`
// resolves a relative `file`, source path or mask.
absl::StatusOr<core::DatasetOptions> ToDatasetOptions(
    const voxel2pixel::v1::DatasetDescription& description, const std::string& data_root);

}  // namespace v2p::worker

#endif  // V2P_WORKERS_DATASET_OPTIONS_H_
